"""The harness's main score equals mteb 2.x's own `evaluate` on the same model and the same rows.

Tiny random-weight sentence-transformers models (no prompts; a `prompts` config; weights stored
under ids mteb knows) run through `harness run` on the local STS-B English test set; mteb gets the
same rows by filling its task's dataset and marking it loaded (its loader would need the Hub).
Both sides must agree to 1e-6, on both encode paths: the harness's fast path and mteb's own
implementation (`mteb.get_model`) for an id whose mteb loader is not plain sentence-transformers.
The models are centred (`make_centered_copy`): a random model's cosines all sit near 1, where the
rounding of a cosine (float32 in mteb, float64 here) alone reorders pairs.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from fixtures.tiny_models import make_centered_copy, make_prompted_copy, make_tiny_bert
from fixtures.workspace import run_one_task

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


@pytest.fixture(scope="module")
def texts(sts) -> list[str]:
    _, pairs, _ = sts
    return sorted(set(pairs.sentence1) | set(pairs.sentence2))


@pytest.fixture(scope="module")
def centered(tmp_path_factory, tiny_bert_dir: Path, texts: list[str]) -> Path:
    return make_centered_copy(tiny_bert_dir, tmp_path_factory.mktemp("centered") / "m", texts)


def mteb_task_scores(encoder, pairs: StsPairs, task_name: str = TASK, subset: str = SUBSET) -> dict:
    """Every score mteb.evaluate stores for one subset's test split, its dataset filled from the same rows."""
    import datasets
    import mteb

    task = mteb.get_task(task_name, hf_subsets=[subset], eval_splits=["test"])
    rows = {"sentence1": list(pairs.sentence1), "sentence2": list(pairs.sentence2), "score": list(pairs.gold)}
    task.dataset = {subset: datasets.DatasetDict({"test": datasets.Dataset.from_dict(rows)})}
    task.data_loaded = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = mteb.evaluate(encoder, task, cache=None, show_progress_bar=False, co2_tracker=False)
    (scores,) = result.task_results[0].scores["test"]
    assert scores["hf_subset"] == subset
    return scores


def mteb_main_score(encoder, pairs: StsPairs) -> float:
    """mteb.evaluate on the task with its dataset filled from the same rows."""
    return float(mteb_task_scores(encoder, pairs)["main_score"])


def harness_run(tmp: Path, data_dir: Path, key: str, model_id: str, path: Path) -> store.StoredResult:
    summary, said = run_one_task(tmp, data_dir, key, model_id, path, TASK)
    assert not summary.failed, said
    (result,) = [r for r in store.load_results(tmp / "results") if r.model_key == key]
    assert result.run.status == "ok", result.run.error
    (outcome,) = summary.outcomes  # the run says which encode path the model took, and why
    assert outcome.encoding.startswith(f"{result.run.encode_path} path ({result.run.encode_path_reason}); ")
    return result


def st_wrapper(path: Path, **kwargs):
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper
    from sentence_transformers import SentenceTransformer

    return SentenceTransformerEncoderWrapper(
        SentenceTransformer(str(path), device="cpu", local_files_only=True), **kwargs
    )


def mteb_encoder(model_id: str, path: Path):
    """mteb's own loader for `model_id` (its kwargs, its prompts), given the local folder."""
    import mteb

    meta = mteb.get_model_meta(model_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return meta.model_copy(update={"name": str(path), "revision": None}).load_model(device="cpu")


def test_plain_model_equals_mteb(tmp_path: Path, sts, centered: Path) -> None:
    _, pairs, data_dir = sts
    ours = harness_run(tmp_path, data_dir, "plain", "org/plain", centered)
    theirs = mteb_main_score(st_wrapper(centered), pairs)
    assert ours.run.settings.prompt is None and ours.run.encode_path == "sentence-transformers"
    assert ours.run.n_pairs == len(pairs)
    assert ours.run.scores["main_score"] == pytest.approx(theirs, abs=TOLERANCE)


def test_model_with_prompts_config_equals_mteb(
    tmp_path: Path, sts, tiny_bert_dir: Path, centered: Path, texts: list[str]
) -> None:
    _, pairs, data_dir = sts
    prompt = "similar sentences: "
    files = {"query": "query: ", "document": "passage: ", "STS": prompt}
    prompted = make_prompted_copy(tiny_bert_dir, tmp_path / "prompted", files)
    model = make_centered_copy(prompted, tmp_path / "centered", texts, prompt=prompt)
    ours = harness_run(tmp_path, data_dir, "prompted", "org/prompted", model)
    assert ours.run.settings.prompt == prompt
    assert ours.run.prompt_source == "model-files:config_sentence_transformers.json[STS]"
    theirs = mteb_main_score(st_wrapper(model), pairs)
    assert ours.run.scores["main_score"] == pytest.approx(theirs, abs=TOLERANCE)
    # the same weights without the prompts config score differently: the prompt was applied
    unprompted = harness_run(
        tmp_path / "u", data_dir, "unprompted", "org/unprompted", _without_prompts(model)
    )
    assert abs(unprompted.run.scores["main_score"] - theirs) > 1e-4


def _without_prompts(model: Path) -> Path:
    out = model.parent / (model.name + "-no-prompts")
    return make_prompted_copy(model, out, {"query": "", "document": ""})


def test_id_mteb_knows_gets_its_prompt_and_equals_mteb(
    tmp_path: Path, sts, tiny_bert_dir: Path, texts: list[str]
) -> None:
    """Weights stored under an id mteb knows run with the prompt mteb's metadata gives that id."""
    import mteb

    _, pairs, data_dir = sts
    model_id = "ai-forever/FRIDA"  # mteb: plain sentence-transformers loader, model_prompts with STS
    prompt = mteb.get_model_meta(model_id).loader_kwargs["model_prompts"]["STS"]
    assert prompt == "paraphrase: "
    model = make_centered_copy(tiny_bert_dir, tmp_path / "frida", texts, prompt=prompt)
    ours = harness_run(tmp_path, data_dir, "frida", model_id, model)
    assert ours.run.settings.prompt == prompt
    assert ours.run.prompt_source == "mteb:ModelMeta.loader_kwargs.model_prompts[STS]"
    theirs = mteb_main_score(mteb_encoder(model_id, model), pairs)
    assert ours.run.scores["main_score"] == pytest.approx(theirs, abs=TOLERANCE)


def test_e5_id_gets_mteb_prompts_for_sts(tmp_path: Path, sts, centered: Path) -> None:
    """mteb gives e5 `query: `/`passage: ` by prompt type; STS tasks have none, so neither side prompts."""
    _, pairs, data_dir = sts
    model_id = "intfloat/multilingual-e5-small"
    ours = harness_run(tmp_path, data_dir, "e5", model_id, centered)
    assert ours.run.settings.prompt is None
    assert ours.run.prompt_source == "mteb:ModelMeta.loader_kwargs.model_prompts: no STS prompt"
    encoder = mteb_encoder(model_id, centered)
    assert encoder.model_prompts == {"query": "query: ", "document": "passage: "}
    assert mteb_main_score(encoder, pairs) == pytest.approx(ours.run.scores["main_score"], abs=TOLERANCE)


def test_mteb_path_for_an_instruction_model_equals_mteb(tmp_path: Path, sts, texts: list[str]) -> None:
    """An id whose mteb loader is an instruction wrapper runs through mteb's implementation."""
    import mteb

    _, pairs, data_dir = sts
    model_id = "Kingsoft-LLM/QZhou-Embedding"  # mteb: InstructSentenceTransformerModel
    assert mteb.get_model_meta(model_id).loader.__name__ == "InstructSentenceTransformerModel"
    # the instruction is ~50 characters, which the tiny vocabulary spells out letter by letter:
    # room for it and the sentence, or every input would be the truncated instruction alone
    long = make_tiny_bert(tmp_path / "long", max_seq_length=256)
    metadata = mteb.get_task(TASK).metadata
    instruction = mteb_encoder(model_id, long).get_task_instruction(metadata, None)
    assert "Retrieve semantically similar text" in instruction
    model = make_centered_copy(long, tmp_path / "qzhou", texts, prompt=instruction)
    ours = harness_run(tmp_path, data_dir, "qzhou", model_id, model)
    assert ours.run.encode_path == "mteb"
    assert "InstructSentenceTransformerModel" in ours.run.encode_path_reason
    assert ours.run.settings.encoder == "mteb:InstructSentenceTransformerModel"
    assert repr(instruction) in ours.run.prompt_source  # the instruction mteb's wrapper applied
    theirs = mteb_main_score(mteb_encoder(model_id, model), pairs)
    assert ours.run.scores["main_score"] == pytest.approx(theirs, abs=TOLERANCE)
    # the same weights on the fast path (an id mteb does not know) score differently
    plain = harness_run(tmp_path / "plain", data_dir, "plain", "org/plain", model)
    assert plain.run.encode_path == "sentence-transformers"
    assert abs(plain.run.scores["main_score"] - ours.run.scores["main_score"]) > 1e-4
