"""The run engine with tiny random models: results, resume, cache, isolation, unavailability."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.tiny_models import make_corrupt_copy, make_remote_code_model

from harness import encode, store
from harness import run as runner

REPO = Path(__file__).resolve().parent.parent

CARD = """---
language:
- {lang}
tags:
- sentence-transformers
---

# {name}

```python
model = SentenceTransformer('{model_id}')
```
"""

WORDS = [
    "the",
    "a",
    "man",
    "woman",
    "dog",
    "cat",
    "plays",
    "eats",
    "runs",
    "sleeps",
    "guitar",
    "food",
    "fast",
    "slowly",
    "in",
    "park",
    "house",
]


def write_entry(registry: Path, key: str, model_id: str, lang: str, path: Path | None) -> None:
    entry = registry / key
    entry.mkdir(parents=True)
    (entry / "README.md").write_text(CARD.format(lang=lang, name=key, model_id=model_id))
    if path is not None:
        (entry / "registry.toml").write_text(f'path = "{path}"\n')


def write_pairs(path: Path, n: int = 40, seed: int = 1) -> Path:
    rng = random.Random(seed)
    lines = ["sentence1\tsentence2\tscore"]
    for i in range(n):
        s1 = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))
        s2 = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))
        lines.append(f"{s1}\t{s2}\t{(i * 7) % 6}")
    lines.append(f"{lines[1].split(chr(9))[0]}\t{lines[1].split(chr(9))[0]}\t5")  # a repeated sentence
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def workspace(tmp_path: Path, tiny_bert_dir: Path, tiny_distilbert_dir: Path) -> dict:
    registry = tmp_path / "registry"
    write_entry(registry, "org__tiny-bert", "org/tiny-bert", "en", tiny_bert_dir)
    write_entry(registry, "org__tiny-distil", "org/tiny-distil", "en", tiny_distilbert_dir)
    write_entry(registry, "org__nowhere", "org/nowhere", "en", None)
    return {
        "registry": registry,
        "results": tmp_path / "results",
        "cache": tmp_path / "cache",
        "pairs": write_pairs(tmp_path / "pairs.tsv"),
    }


def options(ws: dict, **overrides) -> runner.RunOptions:
    base = dict(
        languages=[],
        results_dir=ws["results"],
        registry_dir=ws["registry"],
        model_names=["org__tiny-bert", "org__tiny-distil", "org__nowhere"],
        pairs_files=[ws["pairs"]],
        cache_dir=ws["cache"],
        bootstrap_resamples=200,
        allow_hub=False,
    )
    base.update(overrides)
    return runner.RunOptions(**base)


def stored(ws: dict) -> dict[str, store.StoredResult]:
    return {r.model_key: r for r in store.load_results(ws["results"])}


def test_run_stores_one_result_per_model_and_task(workspace: dict) -> None:
    summary = runner.run(options(workspace), say=lambda _: None)
    results = stored(workspace)
    assert set(results) == {"org__tiny-bert", "org__tiny-distil", "org__nowhere"}
    bert = results["org__tiny-bert"]
    assert bert.run.status == "ok"
    assert bert.revision.startswith("local-")
    assert bert.run.n_pairs == 41
    assert -1 <= bert.run.scores["cosine_spearman"] <= 1
    lo, hi = bert.run.ci95
    assert lo <= bert.run.scores["cosine_spearman"] <= hi
    assert len(bert.run.cosine_similarities) == 41 and len(bert.run.gold) == 41
    assert bert.run.settings.dtype == "fp32"
    assert bert.run.encode.n_unique < bert.run.encode.n_texts  # duplicates encoded once
    assert bert.run.versions["torch"] and bert.run.hardware.device == "cpu"
    # unavailable weights: recorded, with the reason, and not a failure of the run
    nowhere = results["org__nowhere"]
    assert nowhere.run.status == "unavailable" and nowhere.revision == store.NO_REVISION
    assert "no weights found" in nowhere.run.error
    assert not summary.failed
    assert {o.key: o.status for o in summary.outcomes}["org__nowhere"] == "unavailable"


def test_scores_match_an_independent_computation(workspace: dict, tiny_distilbert_dir: Path) -> None:
    from scipy.stats import spearmanr
    from sentence_transformers import SentenceTransformer

    from harness.tasks import load_pairs, pairs_task

    runner.run(options(workspace, model_names=["org__tiny-distil"]), say=lambda _: None)
    ours = stored(workspace)["org__tiny-distil"].run.scores["cosine_spearman"]
    pairs = load_pairs(pairs_task(workspace["pairs"]))
    model = SentenceTransformer(str(tiny_distilbert_dir), device="cpu")
    e1 = model.encode(pairs.sentence1, batch_size=32, convert_to_numpy=True)
    e2 = model.encode(pairs.sentence2, batch_size=32, convert_to_numpy=True)
    cos = (e1 * e2).sum(1) / ((e1**2).sum(1) ** 0.5 * (e2**2).sum(1) ** 0.5)
    assert ours == pytest.approx(spearmanr(cos, pairs.gold).statistic, abs=1e-3)


def test_resume_skips_stored_results_and_force_recomputes(workspace: dict) -> None:
    runner.run(options(workspace, model_names=["org__tiny-bert"]), say=lambda _: None)
    path = next(p for p in store.iter_result_files(workspace["results"]) if "tiny-bert" in str(p))
    first = path.read_bytes()

    again = runner.run(options(workspace, model_names=["org__tiny-bert"]), say=lambda _: None)
    assert path.read_bytes() == first
    assert again.outcomes[0].already_stored and not again.outcomes[0].ok

    forced = runner.run(options(workspace, model_names=["org__tiny-bert"], force=True), say=lambda _: None)
    assert forced.outcomes[0].ok
    data = json.loads(path.read_text())
    assert data["harness"]["runs"][0]["finished_at"] >= json.loads(first)["harness"]["runs"][0]["finished_at"]


def test_other_settings_are_a_different_result(workspace: dict) -> None:
    from harness.records import RunSettings

    a = RunSettings(dtype="fp32", max_seq_length=32)
    b = RunSettings(dtype="fp32", max_seq_length=16)
    assert a.identity_hash() != b.identity_hash()


def test_warm_cache_loads_no_model(workspace: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    runner.run(options(workspace, model_names=["org__tiny-bert"]), say=lambda _: None)
    first = stored(workspace)["org__tiny-bert"].run
    # empty results folder, warm cache: the model must not even be loaded
    workspace["results"] = workspace["results"].parent / "results-2"

    def no_loading(*args, **kwargs):
        raise AssertionError("model loaded although every vector was cached")

    monkeypatch.setattr(encode, "load_model", no_loading)
    runner.run(options(workspace, model_names=["org__tiny-bert"]), say=lambda _: None)
    second = stored(workspace)["org__tiny-bert"].run
    assert second.status == "ok"
    assert second.encode.n_cache_hits == second.encode.n_unique
    assert second.scores == first.scores


def test_a_failing_model_does_not_stop_the_others(
    workspace: dict, tmp_path: Path, tiny_bert_dir: Path
) -> None:
    write_entry(workspace["registry"], "org__corrupt", "org/corrupt", "en",
                make_corrupt_copy(tiny_bert_dir, tmp_path / "corrupt"))  # fmt: skip
    write_entry(workspace["registry"], "org__remote", "org/remote", "en",
                make_remote_code_model(tiny_bert_dir, tmp_path / "remote"))  # fmt: skip
    summary = runner.run(
        options(workspace, model_names=["org__corrupt", "org__remote", "org__tiny-bert"]), say=lambda _: None
    )
    results = stored(workspace)
    assert results["org__tiny-bert"].run.status == "ok"
    assert results["org__corrupt"].run.status == "error"
    assert results["org__corrupt"].run.error_kind == "load-failed"
    assert "model.safetensors" in results["org__corrupt"].run.error
    assert results["org__remote"].run.error_kind == "remote-code-refused"
    assert "--trust-remote-code" in results["org__remote"].run.error
    assert summary.failed


def test_errors_are_retried_on_the_next_run(workspace: dict, tmp_path: Path, tiny_bert_dir: Path) -> None:
    broken = make_corrupt_copy(tiny_bert_dir, tmp_path / "flaky")
    write_entry(workspace["registry"], "org__flaky", "org/flaky", "en", broken)
    runner.run(options(workspace, model_names=["org__flaky"]), say=lambda _: None)
    assert stored(workspace)["org__flaky"].run.status == "error"
    (broken / "model.safetensors").write_bytes((tiny_bert_dir / "model.safetensors").read_bytes())
    runner.run(options(workspace, model_names=["org__flaky"]), say=lambda _: None)
    ok = [
        r
        for r in store.load_results(workspace["results"])
        if r.model_key == "org__flaky" and r.run.status == "ok"
    ]
    assert len(ok) == 1


def test_language_selection_and_off_card_flag(workspace: dict, tiny_bert_dir: Path) -> None:
    write_entry(workspace["registry"], "org__german", "org/german", "de", tiny_bert_dir)
    specs = __import__("harness.registry", fromlist=["load_registry"]).load_registry(workspace["registry"])
    chosen, _ = runner.select_models(specs, options(workspace, languages=["de"], model_names=[]))
    assert [s.key for s, _ in chosen] == ["org__german"]
    # named explicitly, a German model runs on an English pairs file, and the result says so
    runner.run(options(workspace, languages=["en"], model_names=["org__german"]), say=lambda _: None)
    assert stored(workspace)["org__german"].run.off_card_language is True


def test_unknown_model_name_is_reported(workspace: dict) -> None:
    lines: list[str] = []
    summary = runner.run(options(workspace, model_names=["../../etc/passwd"]), say=lines.append)
    assert summary.failed
    assert any("not in the registry" in line for line in lines)
    assert not workspace["results"].exists() or not any(workspace["results"].rglob("*.json"))


def test_real_data_task_runs_end_to_end(workspace: dict, shared_dir: Path) -> None:
    """A catalog task read from the shared data folder (tiny model, so it stays fast)."""
    opts = options(
        workspace,
        languages=["ro"],
        model_names=["org__tiny-bert"],
        pairs_files=[],
        task_names=["RonSTS"],
        data_dir=shared_dir / "data" / "sts",
    )
    summary = runner.run(opts, say=lambda _: None)
    assert not summary.failed
    result = stored(workspace)["org__tiny-bert"]
    assert result.task_name == "RonSTS" and result.run.n_pairs == 1379
    assert result.run.data_revision.startswith("local-")
    assert (
        result.dataset_revision == result.run.data_revision or result.dataset_revision
    )  # MTEB's, when known
    assert result.run.off_card_language is True


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_cli_run_summary_and_exit_status(workspace: dict) -> None:
    proc = run_cli(
        "run", "--pairs", str(workspace["pairs"]), "--registry", str(workspace["registry"]),
        "--results", str(workspace["results"]), "--cache-dir", str(workspace["cache"]),
        "--model", "org__tiny-bert", "--model", "org__nowhere", "--bootstrap", "100",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "org__tiny-bert: ok" in proc.stdout
    assert "org__nowhere: unavailable" in proc.stdout
    assert "Traceback" not in proc.stderr
    strict = run_cli(
        "run", "--pairs", str(workspace["pairs"]), "--registry", str(workspace["registry"]),
        "--results", str(workspace["results"]), "--model", "org__nowhere", "--strict",
    )  # fmt: skip
    assert strict.returncode == 1


def test_cli_score_json_contract(workspace: dict, tiny_bert_dir: Path) -> None:
    proc = run_cli("score", str(tiny_bert_dir), str(workspace["pairs"]), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) == {
        "n_pairs", "main_score", "cosine_spearman", "cosine_pearson", "manhattan_spearman",
        "euclidean_spearman", "dot_spearman", "ci95", "probe",
    }  # fmt: skip
    assert data["n_pairs"] == 41 and data["main_score"] == data["cosine_spearman"]
    assert data["probe"]["verdict"] in ("ok", "degenerate", "too-few-pairs")  # harness.probe (issue 24)
    assert data["ci95"][0] <= data["main_score"] <= data["ci95"][1]


def test_cli_bad_input_is_one_line(tmp_path: Path, tiny_bert_dir: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("sentence1,sentence2,score\nhello,world,not-a-number\n")
    proc = run_cli("score", str(tiny_bert_dir), str(bad))
    assert proc.returncode == 1
    assert "bad.csv:2" in proc.stderr and "Traceback" not in proc.stderr
    usage = run_cli("run", "--dtype", "fp64", "--lang", "de")
    assert usage.returncode == 2 and "--dtype" in usage.stderr


def test_a_language_without_tasks_is_a_failure(workspace: dict) -> None:
    lines: list[str] = []
    summary = runner.run(options(workspace, languages=["xx"], pairs_files=[]), say=lines.append)
    assert summary.failed
    assert lines == ["harness: no STS task matches xx"]


def test_an_entry_whose_card_cannot_be_read_is_named_under_any_language(workspace: dict) -> None:
    """A card with malformed YAML declares no language, so no --lang would select it; `run` still
    names it (with its error) instead of leaving it out silently."""
    from harness.card import parse_card
    from harness.run.plan import broken_entries

    broken = parse_card(Path(__file__).parent / "fixtures" / "cards" / "malformed_yaml.md")
    assert broken.errors and not broken.language_list and not broken.multilingual
    good = parse_card(Path(__file__).parent / "fixtures" / "cards" / "new_format.md")
    for lang in (["de"], ["zh"]):
        chosen = broken_entries([broken, good], options(workspace, languages=lang, model_names=[]))
        assert chosen == [broken]
    assert broken_entries([broken], options(workspace, languages=["de"])) == []  # --model names its own


def test_a_language_gets_tasks_that_mteb_evaluates_without_a_test_split(workspace: dict) -> None:
    """`run --lang ja` without --split: JSTS (validation only in mteb) is selected beside JSICK (test);
    `--split test` asks for test and leaves JSTS out, as asked."""
    from harness.run.plan import select_tasks

    default = options(workspace, languages=["ja"], model_names=[], pairs_files=[])
    chosen = {(t.name, t.split) for t in select_tasks(default)}
    assert {("JSTS", "validation"), ("JSICK", "test")} <= chosen
    only_test = options(workspace, languages=["ja"], model_names=[], pairs_files=[], splits=["test"])
    assert all(t.split == "test" for t in select_tasks(only_test))
