"""The registry folder, overrides, lookup, and the `cards` / `models` command bodies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.records import ModelSpec
from harness.registry import (
    DEFAULT_REGISTRY,
    card_paths,
    cards_command,
    default_registry,
    find_model,
    load_registry,
    models_command,
)

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "registry"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "cards"
SHARED_MINILM_DE = ROOT.parent / "shared" / "models" / "minilm-l6-stsb-de"

KEYS = [
    "aari1995__gbert-large-sts-v2",
    "blackkakapo__stsb-xlm-r-multilingual-ro",
    "minilm-l6-stsb-de",
    "mrm8488__distiluse-base-multilingual-cased-v2-finetuned-stsb_multi_mt-es",
    "sentence-transformers__all-minilm-l6-v2",
    "unnamed-template-e61c4de0",
    "unnamed-xlmr-vi-4724bae8",
]
CONTRACT_KEYS = set(ModelSpec(key="k", source="s").contract_json())

CARD = """---
language: {lang}
license: mit
---

# {title}

```python
model = SentenceTransformer( '{model_id}' )
```

## Full Model Architecture
```
SentenceTransformer(
  (0): Transformer({{'max_seq_length': 128, 'do_lower_case': False}}) with Transformer model: BertModel
  (1): Pooling({{'word_embedding_dimension': 384, 'pooling_mode_mean_tokens': True}})
)
```
"""


def make_entry(
    root: Path, key: str, *, lang: str = "de", model_id: str = "org/m", toml: str | None = None
) -> Path:
    folder = root / key
    folder.mkdir(parents=True)
    (folder / "README.md").write_text(CARD.format(lang=lang, title=key, model_id=model_id))
    if toml is not None:
        (folder / "registry.toml").write_text(toml)
    return folder


@pytest.fixture(scope="module")
def real_specs() -> list[ModelSpec]:
    return load_registry(REGISTRY)


def test_real_registry_has_seven_clean_entries(real_specs):
    assert [s.key for s in real_specs] == KEYS
    for s in real_specs:
        assert s.errors == [], (s.key, s.errors)
        assert s.source == str(REGISTRY / s.key / "README.md")
    by_key = {s.key: s for s in real_specs}
    assert by_key["aari1995__gbert-large-sts-v2"].dimension.value == 1024
    assert by_key["unnamed-xlmr-vi-4724bae8"].language_list == ["vi"]
    assert by_key["unnamed-template-e61c4de0"].language_source == "unknown"


def test_minilm_de_entry_uses_its_path_override(real_specs):
    spec = find_model(real_specs, "minilm-l6-stsb-de")
    assert spec.model_id.value is None  # no invented Hub id
    assert spec.local_path.source == "override:registry.toml"
    assert Path(spec.local_path.value).is_absolute()
    if not SHARED_MINILM_DE.is_dir():
        assert "local-path-missing" in [w.code for w in spec.warnings]
        pytest.skip("shared/models not beside the checkout")
    assert Path(spec.local_path.value) == SHARED_MINILM_DE.resolve()
    assert spec.parameters.value == 22_713_216 and spec.parameters.source == "model-files:model.safetensors"
    assert not any(w.code.endswith("-mismatch") for w in spec.warnings)


def test_find_model_by_key_or_id_case_insensitive(real_specs):
    assert find_model(real_specs, "AARI1995__GBERT-LARGE-STS-V2").key == "aari1995__gbert-large-sts-v2"
    assert find_model(real_specs, "aari1995/gbert-large-sts-v2").key == "aari1995__gbert-large-sts-v2"
    assert find_model(real_specs, "sentence-transformers/all-MiniLM-L6-v2").model_id.value == (
        "sentence-transformers/all-MiniLM-L6-v2"
    )
    assert find_model(real_specs, "nope/nothing") is None


def test_overrides_from_toml(tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    toml = 'model_id = "org/real"\nrevision = "0123abc"\nlanguages = ["de", "en"]\npath = "../weights"\n'
    make_entry(tmp_path / "reg", "org__m", toml=toml)
    [spec] = load_registry(tmp_path / "reg")
    assert (spec.model_id.value, spec.model_id.source) == ("org/real", "override:registry.toml")
    assert spec.revision.value == "0123abc"
    assert spec.language_list == ["de", "en"] and spec.language_source == "override"
    assert (
        Path(spec.local_path.value) == (tmp_path / "reg" / "weights").resolve()
        or Path(spec.local_path.value) == (tmp_path / "reg" / "org__m" / "../weights").resolve()
    )
    differs = [w.message for w in spec.warnings if w.code == "override-differs"]
    assert any("'org/m'" in m for m in differs) and any("['de']" in m for m in differs)


def test_relative_path_override_resolves_against_entry_and_crosschecks(tmp_path):
    reg = tmp_path / "reg"
    make_entry(reg, "local-model", toml='path = "weights"\n')
    model = reg / "local-model" / "weights"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"architectures": ["RobertaModel"], "hidden_size": 384}))
    [spec] = load_registry(reg)
    assert spec.local_path.value == str(model.resolve())
    assert spec.architecture.value == "RobertaModel"
    assert "architecture-mismatch" in [w.code for w in spec.warnings]


def test_missing_local_path_warns(tmp_path):
    make_entry(tmp_path, "m", toml='path = "/no/such/folder"\n')
    [spec] = load_registry(tmp_path)
    assert "local-path-missing" in [w.code for w in spec.warnings] and spec.errors == []


def test_bad_entries_give_specs_with_errors(tmp_path):
    make_entry(tmp_path, "Bad Name")
    make_entry(tmp_path, "good", toml="model_id = [unclosed\n")
    (tmp_path / "no-card").mkdir()
    (tmp_path / "no-card" / "registry.toml").write_text('model_id = "org/x"\n')
    (tmp_path / "empty-folder").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "loose-file.md").write_text("not an entry")
    # a folder with a card under another name is an entry that cannot run, never skipped
    (tmp_path / "card-misnamed").mkdir()
    (tmp_path / "card-misnamed" / "model_card.md").write_text(
        CARD.format(lang="de", title="x", model_id="o/m")
    )
    specs = {s.source: s for s in load_registry(tmp_path)}
    assert len(specs) == 4
    assert specs[str(tmp_path / "card-misnamed" / "README.md")].errors == ["file not found"]
    bad = specs[str(tmp_path / "Bad Name" / "README.md")]
    assert "not a safe name" in bad.errors[0] and bad.key.startswith("invalid-key-")
    good = specs[str(tmp_path / "good" / "README.md")]
    assert good.key == "good" and "invalid TOML" in good.errors[0]
    assert specs[str(tmp_path / "no-card" / "README.md")].errors == ["file not found"]


def test_folder_named_like_its_hub_id_is_a_normal_entry(tmp_path):
    folder = "BlackKakapo__stsb-XLM-r-Multilingual-ro"
    make_entry(tmp_path, folder, model_id="BlackKakapo/stsb-xlm-r-multilingual-ro")
    [spec] = load_registry(tmp_path)
    assert spec.errors == [] and spec.key == "blackkakapo__stsb-xlm-r-multilingual-ro"
    assert find_model([spec], "BlackKakapo__stsb-XLM-r-Multilingual-ro") is spec


def test_duplicate_model_ids_are_flagged(tmp_path):
    make_entry(tmp_path, "a", model_id="org/same")
    make_entry(tmp_path, "b", model_id="org/same")
    make_entry(tmp_path, "c", model_id="org/other")
    codes = {s.key: [w.code for w in s.warnings] for s in load_registry(tmp_path)}
    assert "duplicate-model-id" in codes["a"] and "duplicate-model-id" in codes["b"]
    assert "duplicate-model-id" not in codes["c"]


def test_missing_registry_is_empty(tmp_path):
    assert load_registry(tmp_path / "nowhere") == []


def test_card_paths_expansion(tmp_path):
    assert card_paths([REGISTRY]) == [REGISTRY / k / "README.md" for k in KEYS]
    assert card_paths([REGISTRY / "minilm-l6-stsb-de"]) == [REGISTRY / "minilm-l6-stsb-de" / "README.md"]
    loose = tmp_path / "cards"
    loose.mkdir()
    for name in ("b.md", "a.txt", "MANIFEST.md", "image.png", ".hidden.md"):
        (loose / name).write_text("x")
    assert card_paths([loose]) == [loose / "a.txt", loose / "b.md"]
    missing = tmp_path / "missing.md"
    assert card_paths([missing, loose / "a.txt", loose / "a.txt"]) == [missing, loose / "a.txt"]


def test_default_registry(monkeypatch, tmp_path):
    assert default_registry() == DEFAULT_REGISTRY == REGISTRY
    # HARNESS_REGISTRY is resolved by harness.config (and passed down), never read here
    monkeypatch.setenv("HARNESS_REGISTRY", str(tmp_path))
    assert default_registry() == REGISTRY


# ------------------------------------------------------------------------------------------
# commands


def test_cards_command_json_default_registry(capsys):
    rc = cards_command([], True, REGISTRY)
    out, err = capsys.readouterr()
    assert rc == 0 and err == ""
    data = json.loads(out)
    assert [Path(d["source"]).parent.name for d in data] == KEYS
    for d in data:
        assert set(d) == CONTRACT_KEYS
    gbert = data[0]
    assert (gbert["model_id"], gbert["dimension"], gbert["languages"]) == (
        "aari1995/gBERT-large-sts-v2",
        1024,
        ["de"],
    )
    [claim] = gbert["claims"]
    assert {k: claim[k] for k in ("metric", "value", "dataset", "split", "language", "source")} == {
        "metric": "spearman",
        "value": 0.8626,
        "dataset": "STS-B",
        "split": "test",
        "language": "de",
        "source": "text",
    }
    # additions: what the claim says about its similarity, the MTEB task, where it was found
    assert (claim["similarity"], claim["mteb_task"], claim["comparable"]) == (
        "unspecified",
        "STSBenchmark",
        True,
    )
    assert claim["sources"] == ["text"] and claim["quote"].startswith("STS-B Test: 0.8626 (Spearman)")


def test_cards_command_reports_errors_but_all_cards(capsys):
    paths = [FIXTURES / "malformed_yaml.md", FIXTURES / "new_format.md", FIXTURES / "missing.md"]
    rc = cards_command(paths, True, REGISTRY)
    out, err = capsys.readouterr()
    assert rc == 1
    data = json.loads(out)
    assert [bool(d["errors"]) for d in data] == [True, False, True]
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"harness: {FIXTURES / 'malformed_yaml.md'}: malformed YAML front matter")
    assert lines[1] == f"harness: {FIXTURES / 'missing.md'}: file not found"
    assert "Traceback" not in err


def test_cards_command_folder_of_card_files_and_table(capsys):
    rc = cards_command([FIXTURES], False, REGISTRY)
    out, err = capsys.readouterr()
    assert rc == 1  # three fixtures are unparseable on purpose
    assert err.count("harness: ") == 3
    for key in ("org__tiny-dense", "org__multi-model", "unnamed-no_front_matter"):
        assert key in out
    assert "dimension-mismatch" in out and "error: no YAML front matter" in out


def test_cards_command_applies_entry_overrides(tmp_path, capsys):
    entry = make_entry(tmp_path, "org__m", toml='model_id = "org/over"\n')
    assert cards_command([entry], True, REGISTRY) == 0
    [d] = json.loads(capsys.readouterr().out)
    assert d["model_id"] == "org/over"
    assert "override-differs" in [w["code"] for w in d["warnings"]]


def test_cards_command_markup_in_cards_is_printed_literally(tmp_path, capsys):
    card = tmp_path / "x.md"
    card.write_text(
        "---\nlanguage: en\nlicense: mit\n---\n# [bold red]Title[/]\nSpearman on test: 0.5 [/bad]\n"
    )
    assert cards_command([card], False, REGISTRY) == 0
    out = capsys.readouterr().out
    assert "unnamed-x" in out


def test_cards_command_missing_registry(tmp_path, capsys):
    assert cards_command([], False, tmp_path / "none") == 2
    assert "registry folder not found" in capsys.readouterr().err


def test_models_command_lists_and_filters(capsys):
    assert models_command(REGISTRY, None) == 0
    out = capsys.readouterr().out
    for key in KEYS:
        assert key[:30] in out
    assert "de (inferred)" in out and "? (unknown)" in out
    assert models_command(REGISTRY, "DE") == 0
    out = capsys.readouterr().out
    assert "aari1995__gbert-large-sts-v2" in out and "minilm-l6-stsb-de" in out
    assert "blackkakapo" not in out and "unnamed-template" not in out
    assert "2 model(s)" in out


def test_models_command_bad_language_and_missing_registry(tmp_path, capsys):
    assert models_command(REGISTRY, "klingon!") == 2
    assert "not a language code" in capsys.readouterr().err
    assert models_command(tmp_path / "none", None) == 2  # a folder it needs is missing


def test_models_command_multilingual_entry_covers_any_language(tmp_path, capsys):
    make_entry(tmp_path, "multi", lang="multilingual")
    make_entry(tmp_path, "only-ro", lang="ro")
    assert models_command(tmp_path, "ja") == 0
    out = capsys.readouterr().out
    assert "multi" in out and "only-ro" not in out


@pytest.mark.skipif(not (ROOT / "harness" / "cli.py").exists(), reason="harness/cli.py is not wired yet")
def test_python_m_harness_cards_json():
    env = {**os.environ, "HARNESS_REGISTRY": str(REGISTRY)}
    done = subprocess.run(
        [sys.executable, "-m", "harness", "cards", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert [set(d) for d in json.loads(done.stdout)] == [CONTRACT_KEYS] * len(KEYS)
    bad = subprocess.run(
        [sys.executable, "-m", "harness", "cards", str(FIXTURES / "list_yaml.md")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert f"harness: {FIXTURES / 'list_yaml.md'}: YAML front matter is a list" in bad.stderr


def test_lang_zh_selects_a_card_that_declares_cmn_and_the_report_agrees(tmp_path):
    from harness.config import check_languages
    from harness.report.lang import spec_covers
    from harness.run.plan import RunOptions, select_models

    make_entry(tmp_path, "org__mandarin", lang="cmn", model_id="org/mandarin")
    make_entry(tmp_path, "org__german", lang="de", model_id="org/german")
    make_entry(tmp_path, "org__multi", lang="multilingual", model_id="org/multi")
    specs = load_registry(tmp_path)
    mandarin = find_model(specs, "org__mandarin")
    assert mandarin.language_list == ["zh"] and not mandarin.multilingual
    multi = find_model(specs, "org__multi")
    assert multi.multilingual and multi.language_list == []
    for asked in ("zh", "cmn", "zh-Hant", "Chinese"):
        [code] = check_languages([asked])
        options = RunOptions(languages=[code], results_dir=tmp_path / "r", registry_dir=tmp_path)
        chosen, _ = select_models(specs, options)
        assert sorted(s.key for s, _ in chosen) == ["org__mandarin", "org__multi"], asked
        # the report covers a language by the same rule
        assert sorted(s.key for s in specs if spec_covers(s, code)) == ["org__mandarin", "org__multi"]
