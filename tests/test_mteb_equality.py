"""The harness's main score equals mteb 2.x's own `evaluate` on the same model and the same rows.

Tiny random-weight sentence-transformers models (no prompts; a `prompts` config; weights stored
under ids mteb knows) run through `harness run` on the local STS-B English test set; mteb gets the
same rows by filling its task's dataset and marking it loaded (its loader would need the Hub).
Both sides must agree to 1e-6, on both encode paths: the harness's fast path and mteb's own
implementation (`mteb.get_model`) for an id whose mteb loader is not plain sentence-transformers.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from fixtures.tiny_models import make_prompted_copy
from fixtures.workspace import write_entry

from harness import run as runner
from harness import store
from harness.records import StsPairs, StsTask

TASK = "STSBenchmarkMultilingualSTS"
SUBSET = "en"
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def sts(shared_dir: Path) -> tuple[StsTask, StsPairs, Path]:
    from harness import tasks

    data_dir = shared_dir / "data" / "sts"
    (task,) = [
        t for t in tasks.catalog(languages=["en"], data_dir=data_dir, names=[TASK]) if t.subset == SUBSET
    ]
    if not task.local_files:
        pytest.skip(f"{TASK}[{SUBSET}] is not local under {data_dir}")
    return task, tasks.load_pairs(task, allow_hub=False), data_dir


def mteb_main_score(encoder, pairs: StsPairs) -> float:
    """mteb.evaluate on the task with its dataset filled from the same rows."""
    import datasets
    import mteb

    task = mteb.get_task(TASK, hf_subsets=[SUBSET], eval_splits=["test"])
    rows = {"sentence1": list(pairs.sentence1), "sentence2": list(pairs.sentence2), "score": list(pairs.gold)}
    task.dataset = {SUBSET: datasets.DatasetDict({"test": datasets.Dataset.from_dict(rows)})}
    task.data_loaded = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = mteb.evaluate(encoder, task, cache=None, show_progress_bar=False, co2_tracker=False)
    (scores,) = result.task_results[0].scores["test"]
    assert scores["hf_subset"] == SUBSET
    return float(scores["main_score"])


def harness_run(tmp: Path, data_dir: Path, key: str, model_id: str, path: Path) -> store.StoredResult:
    registry = tmp / "registry"
    write_entry(registry, key, model_id, path)
    options = runner.RunOptions(
        languages=["en"],
        task_names=[TASK],
        results_dir=tmp / "results",
        registry_dir=registry,
        model_names=[key],
        data_dir=data_dir,
        cache_dir=tmp / "cache",
        bootstrap_resamples=10,
        allow_hub=False,
        device="cpu",
    )
    summary = runner.run(options, say=lambda _: None)
    assert not summary.failed, summary
    (result,) = [r for r in store.load_results(tmp / "results") if r.model_key == key]
    assert result.run.status == "ok", result.run.error
    return result


def st_wrapper(path: Path, **kwargs):
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper
    from sentence_transformers import SentenceTransformer

    return SentenceTransformerEncoderWrapper(
        SentenceTransformer(str(path), device="cpu", local_files_only=True), **kwargs
    )


def test_plain_model_equals_mteb(tmp_path: Path, sts, tiny_bert_dir: Path) -> None:
    _, pairs, data_dir = sts
    ours = harness_run(tmp_path, data_dir, "plain", "org/plain", tiny_bert_dir)
    theirs = mteb_main_score(st_wrapper(tiny_bert_dir), pairs)
    assert ours.run.settings.prompt is None and ours.run.encode_path == "sentence-transformers"
    assert ours.run.n_pairs == len(pairs)
    assert ours.run.scores["main_score"] == pytest.approx(theirs, abs=TOLERANCE)


def test_model_with_prompts_config_equals_mteb(tmp_path: Path, sts, tiny_bert_dir: Path) -> None:
    _, pairs, data_dir = sts
    files = {"query": "query: ", "document": "passage: ", "STS": "similar sentences: "}
    model = make_prompted_copy(tiny_bert_dir, tmp_path / "prompted", files)
    ours = harness_run(tmp_path, data_dir, "prompted", "org/prompted", model)
    assert ours.run.settings.prompt == "similar sentences: "
    theirs = mteb_main_score(st_wrapper(model), pairs)
    assert ours.run.scores["main_score"] == pytest.approx(theirs, abs=TOLERANCE)
    unprompted = mteb_main_score(st_wrapper(tiny_bert_dir), pairs)
    assert abs(theirs - unprompted) > 1e-4  # the prompt changes the score: equality is not by accident


def test_id_mteb_knows_gets_its_prompt_and_equals_mteb(tmp_path: Path, sts, tiny_bert_dir: Path) -> None:
    """Weights stored under an id mteb knows run with the prompt mteb's metadata gives that id."""
    import mteb

    _, pairs, data_dir = sts
    model_id = "ai-forever/FRIDA"  # mteb: plain sentence-transformers loader, model_prompts with STS
    ours = harness_run(tmp_path, data_dir, "frida", model_id, tiny_bert_dir)
    meta = mteb.get_model_meta(model_id)
    assert ours.run.settings.prompt == meta.loader_kwargs["model_prompts"]["STS"] == "paraphrase: "
    assert ours.run.prompt_source.startswith("mteb:")
    encoder = meta.model_copy(update={"name": str(tiny_bert_dir), "revision": None}).load_model(device="cpu")
    assert mteb_main_score(encoder, pairs) == pytest.approx(ours.run.scores["main_score"], abs=TOLERANCE)


def test_e5_id_gets_mteb_prompts_for_sts(tmp_path: Path, sts, tiny_bert_dir: Path) -> None:
    """mteb gives e5 `query: `/`passage: ` by prompt type; STS tasks have none, so neither side prompts."""
    import mteb

    _, pairs, data_dir = sts
    model_id = "intfloat/multilingual-e5-small"
    ours = harness_run(tmp_path, data_dir, "e5", model_id, tiny_bert_dir)
    assert ours.run.settings.prompt is None and ours.run.prompt_source.startswith("mteb:")
    meta = mteb.get_model_meta(model_id)
    encoder = meta.model_copy(update={"name": str(tiny_bert_dir), "revision": None}).load_model(device="cpu")
    assert encoder.model_prompts == {"query": "query: ", "document": "passage: "}
    assert mteb_main_score(encoder, pairs) == pytest.approx(ours.run.scores["main_score"], abs=TOLERANCE)


def test_mteb_path_for_an_instruction_model_equals_mteb(tmp_path: Path, sts, tiny_bert_dir: Path) -> None:
    """An id whose mteb loader is an instruction wrapper runs through mteb's implementation."""
    import mteb

    _, pairs, data_dir = sts
    model_id = "Kingsoft-LLM/QZhou-Embedding"  # mteb: InstructSentenceTransformerModel
    meta = mteb.get_model_meta(model_id)
    assert meta.loader.__name__ == "InstructSentenceTransformerModel"
    ours = harness_run(tmp_path, data_dir, "qzhou", model_id, tiny_bert_dir)
    assert (
        ours.run.encode_path == "mteb" and "InstructSentenceTransformerModel" in ours.run.encode_path_reason
    )
    assert ours.run.settings.encoder == "mteb:InstructSentenceTransformerModel"
    assert "Retrieve semantically similar text" in (ours.run.prompt_source or "")  # the instruction it used
    encoder = meta.model_copy(update={"name": str(tiny_bert_dir)}).load_model(device="cpu")
    assert mteb_main_score(encoder, pairs) == pytest.approx(ours.run.scores["main_score"], abs=TOLERANCE)
    # and it differs from the same weights on the fast path: the instruction was applied
    plain = harness_run(tmp_path / "plain", data_dir, "plain", "org/plain", tiny_bert_dir)
    assert abs(plain.run.scores["main_score"] - ours.run.scores["main_score"]) > 1e-4
