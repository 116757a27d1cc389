"""Prompts resolved the way mteb resolves them (issue 13): sources, selection, override, warnings, cache.

Sources, strongest first: registry.toml ``prompts``, mteb's ModelMeta for a known id, the model's
config_sentence_transformers.json; mteb's own ``get_prompt_name`` picks per STS task; the default
prompt name applies when it picks none. The prompt is part of the settings, so of the identity
and the cache key.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fixtures.tiny_models import make_prompted_copy
from fixtures.workspace import CARD, run_cli, write_entry, write_pairs

from harness import encode, prompts, store
from harness import run as runner
from harness.records import RunSettings
from harness.registry import load_entry

TEXTS = ["a man plays the guitar", "the dog runs in the park", "ein hund spielt", "two people eat food"]


def entry(registry: Path, key: str, model_id: str, path: Path, toml: str = "", card: str | None = None):
    folder = write_entry(registry, key, model_id, path, card=card)
    if toml:
        with (folder / "registry.toml").open("a", encoding="utf-8") as fh:
            fh.write(toml)
    return load_entry(folder)


def codes(spec) -> list[str]:
    return [w.code for w in spec.warnings]


def st_model(path: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


# ---------------------------------------------------------------- selection (mteb's rule)


def test_model_file_prompts_select_by_task_name_then_task_type(tmp_path: Path, tiny_bert_dir: Path) -> None:
    import mteb
    from mteb.models.abs_encoder import get_prompt_name
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper

    files = {"query": "q: ", "document": "", "STS": "sts: ", "STSBenchmarkMultilingualSTS": "stsb: "}
    model = make_prompted_copy(tiny_bert_dir, tmp_path / "m", files)
    spec = entry(tmp_path / "reg", "org__m", "org/m", model)
    assert spec.prompts.source == prompts.FILES_SOURCE and spec.prompts.value == files
    assert spec.sts_prompt.value == "sts: " and spec.sts_prompt.source == f"{prompts.FILES_SOURCE}[STS]"
    assert prompts.prompt_for(spec, "STSBenchmarkMultilingualSTS").value == "stsb: "  # task name wins
    assert prompts.prompt_for(spec, "GermanSTSBenchmark").value == "sts: "  # then the task type
    assert prompts.prompt_for(spec, "custom:pairs").value == "sts: "  # a pairs file is an STS task too
    # what mteb's own wrapper selects from the same folder
    wrapper = SentenceTransformerEncoderWrapper(st_model(model))
    for task in ("STSBenchmarkMultilingualSTS", "GermanSTSBenchmark", "STS22"):
        name = get_prompt_name(wrapper.model_prompts, mteb.get_task(task).metadata, None)
        assert prompts.prompt_for(spec, task).value == wrapper.model_prompts[name], task
    # the file also mentions 'q: ', which STS tasks do not get
    assert any(w.code == "prompt-not-applied" and "'q: '" in w.message for w in spec.warnings)


def test_query_and_document_prompts_give_sts_no_prompt(tmp_path: Path, tiny_bert_dir: Path) -> None:
    model = make_prompted_copy(tiny_bert_dir, tmp_path / "m", {"query": "query: ", "document": "passage: "})
    spec = entry(tmp_path / "reg", "org__m", "org/m", model)
    assert spec.sts_prompt.value is None  # STS tasks encode with no prompt type in mteb
    (warning,) = [w for w in spec.warnings if w.code == "prompt-not-applied"]
    assert "config_sentence_transformers.json" in warning.message
    assert "'query: '" in warning.message and "'passage: '" in warning.message


def test_default_prompt_name_applies_when_the_rule_finds_none(tmp_path: Path, tiny_bert_dir: Path) -> None:
    # "classify" is no mteb key (mteb drops it from selection), but sentence-transformers applies
    # the default prompt inside mteb's wrapper when the rule finds nothing
    files = {"query": "", "document": "", "classify": "c: "}
    model = make_prompted_copy(tiny_bert_dir, tmp_path / "m", files, default_prompt_name="classify")
    spec = entry(tmp_path / "reg", "org__m", "org/m", model)
    assert spec.sts_prompt.value == "c: "
    assert spec.sts_prompt.source == f"{prompts.FILES_SOURCE}.default_prompt_name[classify]"
    st = st_model(model)
    np.testing.assert_allclose(st.encode(TEXTS), st.encode(TEXTS, prompt="c: "), atol=1e-6)
    # and the harness's encode path gives the same vectors with that prompt
    lm = encode.load_model(model, device="cpu", dtype="fp32")
    ours, _ = encode.embed(TEXTS, model_loader=lambda: lm, fingerprint="t", cache=None, prompt="c: ")
    np.testing.assert_allclose(ours, st.encode(TEXTS), atol=1e-5)


def test_prompt_left_out_of_pooling_matches_st(tmp_path: Path, tiny_bert_dir: Path) -> None:
    model = tmp_path / "m"
    shutil.copytree(tiny_bert_dir, model)
    pooling = model / "1_Pooling" / "config.json"
    pooling.write_text(json.dumps({**json.loads(pooling.read_text()), "include_prompt": False}))
    st = st_model(model)
    lm = encode.load_model(model, device="cpu", dtype="fp32")
    ours, _ = encode.embed(TEXTS, model_loader=lambda: lm, fingerprint="t", cache=None, prompt="query: ")
    np.testing.assert_allclose(ours, st.encode(TEXTS, prompt="query: "), atol=1e-5)
    assert not np.allclose(ours, st.encode(TEXTS), atol=1e-3)  # the prompt still changed the vectors


# ---------------------------------------------------------------- sources: override, mteb, card


def test_registry_override_wins_over_mteb_and_files(tmp_path: Path, tiny_bert_dir: Path) -> None:
    model = make_prompted_copy(tiny_bert_dir, tmp_path / "m", {"STS": "files: "})
    toml = 'prompts = { STS = "over: ", NotATaskName = "x" }\n'
    spec = entry(tmp_path / "reg", "e5", "intfloat/multilingual-e5-small", model, toml)
    assert spec.sts_prompt.value == "over: "
    assert spec.sts_prompt.source == f"{prompts.OVERRIDE_SOURCE}[STS]"
    assert "unknown-override" not in codes(spec)
    (bad,) = [w for w in spec.warnings if w.code == "invalid-prompt"]
    assert "NotATaskName" in bad.message
    out = run_cli("models", "--registry", tmp_path / "reg")
    assert out.returncode == 0, out.stderr
    assert "'over: ' (registry.toml)" in out.stdout
    # a prompts value that is not a table is reported, not applied
    bad_spec = entry(tmp_path / "reg2", "m", "org/m", model, 'prompts = "over: "\n')
    assert bad_spec.sts_prompt.value == "files: " and "invalid-prompt" in codes(bad_spec)


def test_models_table_says_where_each_prompt_comes_from(tmp_path: Path, tiny_bert_dir: Path) -> None:
    reg = tmp_path / "reg"
    model = make_prompted_copy(tiny_bert_dir, tmp_path / "m", {"STS": "files: "})
    specs = {
        "files": entry(reg, "files", "org/files", model),
        "plain": entry(reg, "plain", "org/plain", tiny_bert_dir),
        "frida": entry(reg, "frida", "ai-forever/FRIDA", tiny_bert_dir),
        "qzhou": entry(reg, "qzhou", "Kingsoft-LLM/QZhou-Embedding", model, 'prompts = { STS = "x: " }\n'),
        "unread": entry(reg, "unread", "org/unread", None),
    }
    labels = {key: prompts.prompt_label(spec.sts_prompt) for key, spec in specs.items()}
    assert labels == {
        "files": "'files: ' (model files)",
        "plain": "none (model files)",
        "frida": "'paraphrase: ' (mteb)",
        "qzhou": "by mteb's InstructSentenceTransformerModel",
        "unread": "none known (model files not read)",
    }
    # mteb's implementation instructs QZhou itself: the override is not applied, and says so
    (note,) = [w for w in specs["qzhou"].warnings if w.code == "prompt-not-applied"]
    assert "registry.toml prompts are not applied" in note.message
    assert specs["qzhou"].sts_prompt.source.startswith("mteb:InstructSentenceTransformerModel: ")
    out = run_cli("models", "--registry", reg)
    assert out.returncode == 0, out.stderr
    for label in labels.values():
        assert label in out.stdout, (label, out.stdout)


def test_known_ids_get_mteb_prompts_and_cross_checks(tmp_path: Path, tiny_bert_dir: Path) -> None:
    import mteb
    from mteb.models.abs_encoder import get_prompt_name

    # FRIDA: mteb's plain sentence-transformers loader with an STS prompt
    meta = mteb.get_model_meta("ai-forever/FRIDA")
    theirs = meta.loader_kwargs["model_prompts"]
    expected = theirs[get_prompt_name(theirs, mteb.get_task("STSBenchmarkMultilingualSTS").metadata, None)]
    frida = entry(tmp_path / "reg", "frida", "ai-forever/FRIDA", tiny_bert_dir)
    assert frida.prompts.source == prompts.MTEB_SOURCE and frida.prompts.value == theirs
    assert frida.sts_prompt.value == expected == "paraphrase: "
    # e5: mteb's prompts are query/document only, so STS gets none; mteb's facts are cross-checked
    e5_id = "intfloat/multilingual-e5-small"
    card = CARD.format(lang="en", title="e5", model_id=e5_id).replace("license: mit", "license: apache-2.0")
    e5 = entry(tmp_path / "reg", "e5", e5_id, tiny_bert_dir, card=card)
    assert e5.mteb is not None and e5.mteb.name == "intfloat/multilingual-e5-small"
    assert e5.prompts.value == {"query": "query: ", "document": "passage: "}
    assert e5.sts_prompt.value is None and e5.sts_prompt.source.startswith(prompts.MTEB_SOURCE)
    assert any(w.code == "prompt-not-applied" and "'query: '" in w.message for w in e5.warnings)
    for code in ("mteb-dimension-mismatch", "mteb-max-tokens-mismatch", "mteb-parameters-mismatch"):
        assert code in codes(e5), code
    (license_note,) = [w for w in e5.warnings if w.code == "mteb-license-mismatch"]
    assert "apache-2.0" in license_note.message and "says mit" in license_note.message
    assert "mteb-languages-mismatch" in codes(e5)  # the card lists en, mteb's metadata 90+ languages
    data = e5.contract_json()
    assert data["mteb"]["dimension"] == 384 and data["prompt"]["prompts_source"] == prompts.MTEB_SOURCE
    assert data["sources"]["dimension"].startswith("model-files:")
    assert data["sources"]["sts_prompt"].startswith(prompts.MTEB_SOURCE)


def test_card_mentions_are_found_and_unapplied_ones_warned(tmp_path: Path, tiny_bert_dir: Path) -> None:
    text = (
        "input_texts = ['query: how much protein should a female eat', \"passage: As a general guideline\"]\n"
        'emb = model.encode(q, prompt_name="search")\n'
        "instruction = 'Represent this sentence for searching relevant passages: '\n"
        'model.encode(x, prompt="Instruct: find\\nQuery: ")\n'
    )
    found = prompts.card_prompt_mentions(text, {"search": "search_query: "})
    assert found[:1] == ["search_query: "]
    for p in ("query: ", "passage: ", "Represent this sentence for searching relevant passages: "):
        assert p in found
    card = CARD.format(lang="en", title="m", model_id="org/m") + "\nUse `'query: '` before every sentence.\n"
    spec = entry(tmp_path / "reg", "m", "org/m", tiny_bert_dir, card=card)
    assert spec.sts_prompt.value is None
    assert any(w.code == "prompt-not-applied" and w.message.startswith("the card") for w in spec.warnings)


# ---------------------------------------------------------------- settings, identity, cache


def test_settings_hash_is_unchanged_for_models_without_prompts() -> None:
    before = {  # RunSettings as it was before prompts: results stored then keep their identity
        "dtype": "fp32",
        "max_seq_length": 128,
        "pooling": "mean",
        "normalize": True,
        "trust_remote_code": False,
        "evaluator_version": 1,
    }
    old_hash = hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()[:16]
    plain = RunSettings(**before)
    assert plain.identity_hash() == old_hash
    prompted = plain.model_copy(update={"prompt": "query: "})
    assert prompted.identity_hash() != old_hash
    fps = {
        encode.vector_fingerprint("org/m", "r1", s)
        for s in (plain, prompted, plain.model_copy(update={"prompt": "passage: "}))
    }
    assert len(fps) == 3
    assert encode.vector_fingerprint("org/m", "r1", plain) == encode.vector_fingerprint(
        "org/m", "r1", RunSettings(**before, prompt=None)
    )


def _run(reg: Path, tmp: Path, key: str, *, force: bool = False) -> str | None:
    """Run one model on the pairs file; what the run says about how it encoded the model."""
    opts = runner.RunOptions(
        languages=[],
        results_dir=tmp / "results",
        registry_dir=reg,
        model_names=[key],
        pairs_files=[tmp / "pairs.tsv"],
        cache_dir=tmp / "cache",
        bootstrap_resamples=50,
        allow_hub=False,
        device="cpu",
        force=force,
    )
    summary = runner.run(opts, say=lambda _: None)
    assert not summary.failed, summary
    (outcome,) = summary.outcomes
    return outcome.encoding


def _stored(tmp: Path, key: str, prompt: str | None) -> store.StoredResult:
    found = [
        r
        for r in store.load_results(tmp / "results")
        if r.model_key == key and r.run.settings.prompt == prompt
    ]
    assert len(found) == 1, [r.run.settings for r in found]
    return found[0]


def test_cached_vectors_of_one_prompt_never_serve_another(tmp_path: Path, tiny_bert_dir: Path) -> None:
    write_pairs(tmp_path / "pairs.tsv", n=30)
    reg = tmp_path / "reg"

    def set_prompt(value: str | None) -> None:
        toml = f"path = {json.dumps(str(tiny_bert_dir))}\n"
        if value is not None:
            toml += f"prompts = {{ STS = {json.dumps(value)} }}\n"
        (reg / "m" / "registry.toml").write_text(toml)

    write_entry(reg, "m", "org/m", tiny_bert_dir)
    said = _run(reg, tmp_path, "m")
    assert said == (
        "sentence-transformers path (not in mteb's model registry: a sentence-transformers model); "
        "STS prompt: none (model files)"
    )
    plain = _stored(tmp_path, "m", None)
    assert plain.run.encode.n_encoded > 0 and plain.run.prompt_source.endswith("no STS prompt")
    set_prompt("alpha: ")
    assert _run(reg, tmp_path, "m").endswith("STS prompt: 'alpha: ' (registry.toml)")
    alpha = _stored(tmp_path, "m", "alpha: ")
    assert alpha.run.encode.n_cache_hits == 0 and alpha.run.encode.n_encoded == plain.run.encode.n_encoded
    assert alpha.run.identity != plain.run.identity
    assert alpha.run.scores["main_score"] != plain.run.scores["main_score"]
    assert alpha.run.prompt_source == f"{prompts.OVERRIDE_SOURCE}[STS]"
    assert alpha.run.encode_path == "sentence-transformers"
    set_prompt("beta: ")
    _run(reg, tmp_path, "m")
    beta = _stored(tmp_path, "m", "beta: ")
    assert beta.run.encode.n_cache_hits == 0
    set_prompt("alpha: ")  # back to alpha, recomputed: every vector comes from the cache, same score
    _run(reg, tmp_path, "m", force=True)
    again = _stored(tmp_path, "m", "alpha: ")
    assert again.run.encode.n_encoded == 0 and again.run.encode.n_cache_hits == alpha.run.encode.n_encoded
    assert again.run.scores["main_score"] == pytest.approx(alpha.run.scores["main_score"], abs=1e-12)


def test_mteb_lookup_of_an_unknown_id_is_cheap_and_renamed_ids_still_resolve() -> None:
    import importlib
    import time

    from harness.mteb_meta import model_meta

    assert model_meta("intfloat/multilingual-e5-small").name == "intfloat/multilingual-e5-small"
    start = time.perf_counter()
    assert all(model_meta(f"org/not-in-mteb-{i}") is None for i in range(50))
    assert time.perf_counter() - start < 0.5  # mteb's own miss fuzzy-matches ~1,000 names (20-30 ms each)
    renames = getattr(importlib.import_module("mteb.models.get_model_meta"), "_MODEL_RENAMES", {})
    for old, new in list(renames.items())[:3]:
        assert model_meta(old).name == new


def test_prompt_source_is_a_record_whose_text_reads_back():
    """Where a prompt came from is a record; its text is what results store, and parses back to it.
    mteb's metadata source also starts with "mteb:", yet is never read as mteb's loader."""
    from harness.prompts import DEFAULT_SOURCE, FILES_SOURCE, MTEB_SOURCE, OVERRIDE_SOURCE, PromptSource

    for record in [
        PromptSource(OVERRIDE_SOURCE, "STS"),
        PromptSource(MTEB_SOURCE, "STSBenchmarkMultilingualSTS"),
        PromptSource(MTEB_SOURCE),
        PromptSource(FILES_SOURCE, "sts"),
        PromptSource(DEFAULT_SOURCE, "query"),
        PromptSource(None, loader="InstructSentenceTransformerModel"),
        PromptSource(None),
    ]:
        assert PromptSource.parse(record.text) == record
    assert PromptSource(MTEB_SOURCE, "STS").text == "mteb:ModelMeta.loader_kwargs.model_prompts[STS]"
    assert PromptSource.parse("mteb:ModelMeta.loader_kwargs.model_prompts[STS]").loader is None
    # the runner appends what mteb's wrapper applied; the loader still reads back
    applied = PromptSource(None, loader="NomicWrapper").text + "; applied 'search_query: '"
    assert PromptSource.parse(applied).loader == "NomicWrapper"
    assert PromptSource.parse("something a newer version wrote") == PromptSource(None)
    # a place may carry a field after the known source (the registry's `prompts` table)
    from harness.prompts import prompt_label
    from harness.records import Sourced

    stored = PromptSource.parse("override:registry.toml.prompts[STS]")
    assert stored == PromptSource("override:registry.toml.prompts", "STS")
    label = prompt_label(Sourced(value="alpha: ", source=stored.text))
    assert label == "'alpha: ' (registry.toml)"
