"""Issue 24, tier 7: the mteb path runs in the dtype it records, and `pearson`/`spearman` use the
model's own similarity function, as mteb's STS evaluator does.

- dtype: `load_mteb_model` gets the run's dtype and applies it (a SentenceTransformer-based mteb
  loader gets it as ``model_kwargs``, over the dtype mteb's metadata pins); a loader that takes
  none and loads another dtype is a load error. The real all-MiniLM-L6-v2 is loaded through
  mteb's own loaders in fp32 and bf16 on the CPU; a run whose resolved dtype is bf16 (as on a
  GPU) records bf16 and its weights are bf16.
- similarity: a sentence-transformers model whose ``config_sentence_transformers.json`` says
  ``similarity_fn_name: "dot"`` (unnormalised, so dot differs from cosine), and a model id mteb's
  registry scores with dot, run through `harness run` and through mteb's own `evaluate` on the
  same rows: every score mteb stores equals the harness's to 1e-6. A cosine model is unchanged.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fixtures.tiny_models import make_tiny_bert
from fixtures.workspace import run_one_task
from test_mteb_equality import mteb_encoder, mteb_task_scores, st_wrapper

from harness.errors import ModelLoadError
from harness.records import RunSettings, StsPairs

TOLERANCE = 1e-6
MTEB_SCORE_KEYS = (
    "pearson",
    "spearman",
    "cosine_pearson",
    "cosine_spearman",
    "manhattan_pearson",
    "manhattan_spearman",
    "euclidean_pearson",
    "euclidean_spearman",
    "main_score",
)
INSTRUCT_ID = "Kingsoft-LLM/QZhou-Embedding"  # mteb: InstructSentenceTransformerModel, no dtype pinned
PINNED_ID = "intfloat/multilingual-e5-large-instruct"  # mteb pins model_kwargs dtype float16
DOT_ID = "sentence-transformers/multi-qa-mpnet-base-dot-v1"  # mteb: similarity_fn_name dot, plain loader


def _params_dtypes(encoder) -> set[str]:
    return {str(p.dtype).removeprefix("torch.") for p in encoder.model.parameters() if p.is_floating_point()}


def _sts_metadata():
    import mteb

    return mteb.get_task("STSBenchmark").metadata


# ---------------------------------------------------------------------------------------- dtype


@pytest.mark.parametrize(("dtype", "torch_name"), [("fp32", "float32"), ("bf16", "bfloat16")])
def test_mteb_path_loads_the_dtype_it_is_given(minilm_dir: Path, dtype: str, torch_name: str) -> None:
    from harness.encode.mteb_path import load_mteb_model

    loaded = load_mteb_model(
        INSTRUCT_ID, minilm_dir, device="cpu", task_metadata=_sts_metadata(), dtype=dtype
    )
    assert loaded.loader == "InstructSentenceTransformerModel"
    assert loaded.dtype == dtype
    assert _params_dtypes(loaded.encoder) == {torch_name}
    vectors, _ = loaded.encode_misses(["A man is playing a guitar.", "A cat sleeps."], 2, None)
    assert vectors.shape == (2, 384)


def test_mteb_path_overrides_the_dtype_mteb_pins(minilm_dir: Path) -> None:
    """mteb's metadata for e5-large-instruct asks for float16: before, a CPU run recorded fp32 and
    ran fp16. The run's dtype wins, and the weights are in it."""
    import mteb

    from harness.encode.mteb_path import load_mteb_model

    pinned = mteb.get_model_meta(PINNED_ID).loader_kwargs["model_kwargs"]
    assert str(getattr(pinned.get("dtype"), "value", pinned.get("dtype"))) == "float16"
    loaded = load_mteb_model(PINNED_ID, minilm_dir, device="cpu", task_metadata=_sts_metadata(), dtype="fp32")
    assert loaded.dtype == "fp32" and _params_dtypes(loaded.encoder) == {"float32"}


def _fixed_bf16_loader(model_name: str, revision: str | None = None, device: str | None = None, **kwargs):
    """An mteb loader that takes no dtype from its caller: always bfloat16."""
    import torch
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_name, device="cpu", model_kwargs={"dtype": torch.bfloat16})
    return SentenceTransformerEncoderWrapper(model)


def test_a_loader_that_takes_no_dtype_is_checked(minilm_dir: Path, monkeypatch) -> None:
    """Where the dtype cannot be applied, a result under a dtype it did not run in is never stored."""
    import mteb

    import harness.mteb_meta
    from harness.encode.mteb_path import load_mteb_model

    meta = mteb.get_model_meta(INSTRUCT_ID).model_copy(
        update={"loader": _fixed_bf16_loader, "loader_kwargs": {}}
    )
    monkeypatch.setattr(harness.mteb_meta, "model_meta", lambda model_id: meta)
    with pytest.raises(
        ModelLoadError, match=r"loaded .* in bf16, but the run's dtype is fp32 .*--dtype bf16"
    ):
        load_mteb_model(INSTRUCT_ID, minilm_dir, device="cpu", task_metadata=_sts_metadata(), dtype="fp32")
    loaded = load_mteb_model(
        INSTRUCT_ID, minilm_dir, device="cpu", task_metadata=_sts_metadata(), dtype="bf16"
    )
    assert loaded.dtype == "bf16" and _params_dtypes(loaded.encoder) == {"bfloat16"}


@pytest.mark.parametrize("resolved", ["fp32", "bf16"])
def test_run_records_the_dtype_its_weights_are_in(tmp_path: Path, sts17, monkeypatch, resolved: str) -> None:
    """A run whose dtype resolves to bf16 (as on a GPU) through mteb's path: the settings (and so
    the identity and the cache key) say bf16, and the weights mteb's loader built are bf16."""
    import harness.encode
    import harness.encode.mteb_path as mteb_path

    _, data_dir = sts17
    monkeypatch.setattr(harness.encode, "resolve_dtype", lambda requested, device: resolved)
    seen: list[set[str]] = []
    real = mteb_path.load_mteb_model

    def spy(*args, **kwargs):
        loaded = real(*args, **kwargs)
        seen.append(_params_dtypes(loaded.encoder))
        return loaded

    monkeypatch.setattr(mteb_path, "load_mteb_model", spy)
    # room for mteb's instruction and the sentence (the tiny vocabulary spells words letter by letter)
    model = make_tiny_bert(tmp_path / "long", max_seq_length=256)
    run = sim_run(tmp_path, data_dir, "e5-instruct", PINNED_ID, model)
    assert run.encode_path == "mteb"
    torch_name = {"fp32": "float32", "bf16": "bfloat16"}[resolved]
    assert run.settings.dtype == resolved and seen == [{torch_name}]


# ----------------------------------------------------------------------------------- similarity

SIM_TASK, SIM_SUBSET = "STS17", "en-en"  # 250 pairs: the real MiniLM encodes them in seconds


@pytest.fixture(scope="module")
def sts17(shared_dir: Path) -> tuple[StsPairs, Path]:
    from harness import tasks

    data_dir = shared_dir / "data" / "sts"
    found = [
        t
        for t in tasks.catalog(languages=["en"], data_dir=data_dir, names=[SIM_TASK])
        if t.subset == SIM_SUBSET
    ]
    if not found or not found[0].local_files:
        pytest.skip(f"{SIM_TASK}[{SIM_SUBSET}] is not local under {data_dir}")
    return tasks.load_pairs(found[0], allow_hub=False), data_dir


def sim_run(tmp: Path, data_dir: Path, key: str, model_id: str, path: Path, *, ok: bool = True):
    """`harness run` of one model on STS17 en-en; its one stored result (ok, unless told)."""
    from harness import store

    summary, said = run_one_task(tmp, data_dir, key, model_id, path, SIM_TASK)
    assert bool(summary.failed) != ok, said
    (result,) = [
        r for r in store.load_results(tmp / "results") if r.model_key == key and r.run.subset == SIM_SUBSET
    ]
    assert (result.run.status == "ok") == ok, result.run.error
    return result.run


def mteb_scores(encoder, pairs: StsPairs) -> dict[str, float]:
    """Every score mteb.evaluate stores for the task, its dataset filled from the same rows."""
    scores = mteb_task_scores(encoder, pairs, SIM_TASK, SIM_SUBSET)
    return {key: float(scores[key]) for key in MTEB_SCORE_KEYS}


@pytest.fixture(scope="module")
def unnormalised(tmp_path_factory, minilm_dir: Path) -> Path:
    """all-MiniLM-L6-v2 without its Normalize module: vectors of norm ~5-6, so dot is not cosine."""
    out = tmp_path_factory.mktemp("minilm") / "unnormalised"
    shutil.copytree(minilm_dir, out)
    modules = json.loads((out / "modules.json").read_text())
    kept = [m for m in modules if not m["type"].endswith("Normalize")]
    assert len(kept) == len(modules) - 1
    (out / "modules.json").write_text(json.dumps(kept), encoding="utf-8")
    return out


def _with_similarity(src: Path, out: Path, name: str) -> Path:
    """A copy of a model whose sentence-transformers config names its similarity function (as
    sentence-transformers itself writes it)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(src), device="cpu", local_files_only=True)
    model.similarity_fn_name = name
    model.save(str(out), create_model_card=False)
    assert json.loads((out / "config_sentence_transformers.json").read_text())["similarity_fn_name"] == name
    return out


def _assert_equal_to_mteb(ours: dict[str, float], theirs: dict[str, float]) -> None:
    differ = {k: ours[k] - theirs[k] for k in MTEB_SCORE_KEYS if not abs(ours[k] - theirs[k]) <= TOLERANCE}
    assert differ == {}


def test_dot_model_scores_pearson_and_spearman_with_dot_like_mteb(
    tmp_path: Path, sts17, unnormalised: Path
) -> None:
    pairs, data_dir = sts17
    model = _with_similarity(unnormalised, tmp_path / "dot-model", "dot")
    run = sim_run(tmp_path, data_dir, "dot", "org/dot-model", model)
    assert run.settings.similarity == "dot"
    scores = run.scores
    assert scores["pearson"] == scores["dot_pearson"] and scores["spearman"] == scores["dot_spearman"]
    assert abs(scores["pearson"] - scores["cosine_pearson"]) > 1e-3  # dot is not cosine here
    assert scores["main_score"] == scores["cosine_spearman"]  # the main score stays cosine's
    _assert_equal_to_mteb(scores, mteb_scores(st_wrapper(model), pairs))


def test_mteb_registry_similarity_wins_over_the_files(tmp_path: Path, sts17, unnormalised: Path) -> None:
    """An id mteb scores with dot (its ModelMeta), weights whose config names none: mteb's dot."""
    pairs, data_dir = sts17
    run = sim_run(tmp_path, data_dir, "dot-id", DOT_ID, unnormalised)
    assert run.encode_path == "sentence-transformers" and run.settings.similarity == "dot"
    theirs = mteb_scores(mteb_encoder(DOT_ID, unnormalised), pairs)
    assert abs(theirs["pearson"] - theirs["cosine_pearson"]) > 1e-3
    _assert_equal_to_mteb(run.scores, theirs)


def test_cosine_model_is_unchanged(tmp_path: Path, sts17, minilm_dir: Path) -> None:
    """No similarity named: pearson/spearman are cosine's, and the result's identity is the one
    it had before the setting existed (nothing stored is recomputed)."""
    pairs, data_dir = sts17
    run = sim_run(tmp_path, data_dir, "cos", "org/cos-model", minilm_dir)
    assert run.settings.similarity is None and "similarity" not in run.settings.hashed_fields()
    scores = run.scores
    assert scores["pearson"] == scores["cosine_pearson"] and scores["spearman"] == scores["cosine_spearman"]
    _assert_equal_to_mteb(scores, mteb_scores(st_wrapper(minilm_dir), pairs))


def test_model_similarity_follows_mteb_rule(tmp_path: Path, minilm_dir: Path) -> None:
    from harness.mteb_meta import lookup, model_similarity

    assert model_similarity(None, minilm_dir) is None  # its config names none: cosine
    dot = _with_similarity(minilm_dir, tmp_path / "dot", "dot")
    euclid = _with_similarity(minilm_dir, tmp_path / "euclid", "euclidean")
    assert model_similarity(None, _with_similarity(minilm_dir, tmp_path / "cos", "cosine")) is None
    assert model_similarity(None, dot) == "dot" and model_similarity(None, euclid) == "euclidean"
    cosine_facts = lookup("sentence-transformers/all-MiniLM-L6-v2")
    assert cosine_facts is not None and cosine_facts.similarity == "cosine"
    assert model_similarity(cosine_facts, dot) is None  # mteb's metadata names cosine: cosine
    assert model_similarity(lookup(DOT_ID), None) == "dot"
    maxsim = cosine_facts.model_copy(update={"similarity": "MaxSim"})
    assert model_similarity(maxsim, dot) is None  # no STS column for it
    assert RunSettings(similarity="dot").identity_hash() != RunSettings().identity_hash()


def test_hub_model_whose_similarity_was_not_read_is_not_scored_as_cosine(
    tmp_path: Path, sts17, unnormalised: Path, monkeypatch
) -> None:
    """Weights fetched from the Hub at load time: the plan had no files to read the similarity
    from, so the load says so (an error record naming the file) instead of storing cosine's
    pearson/spearman under a cosine identity; with the files at hand the next run scores dot."""
    import harness.run.plan as plan
    from harness.run.jobs import Weights

    _, data_dir = sts17
    model = _with_similarity(unnormalised, tmp_path / "dot-hub", "dot")
    real = plan.locate_weights
    monkeypatch.setattr(
        plan, "locate_weights", lambda spec, dirs, allow_hub: Weights(str(model), "hub", "0" * 40, None)
    )
    failed = sim_run(tmp_path, data_dir, "dot-hub", "org/dot-hub", model, ok=False)
    assert failed.error is not None and "config_sentence_transformers.json" in failed.error
    assert "'dot'" in failed.error and failed.settings.similarity is None
    monkeypatch.setattr(plan, "locate_weights", real)
    again = sim_run(tmp_path / "again", data_dir, "dot-hub", "org/dot-hub", model)
    assert again.settings.similarity == "dot" and again.scores["pearson"] == again.scores["dot_pearson"]


def test_variants_use_the_model_similarity_too() -> None:
    """A cut or int8 variant of a dot model: its pearson/spearman are dot's, like the full result's;
    its main score stays cosine's."""
    import numpy as np

    from harness import evaluate
    from harness.variants import Variant, score_variant

    rng = np.random.default_rng(7)
    e1 = rng.normal(size=(60, 16)).astype(np.float32) * rng.uniform(0.2, 5.0, size=(60, 1)).astype(np.float32)
    e2 = (e1 + rng.normal(size=(60, 16))).astype(np.float32)
    gold = rng.uniform(0, 5, size=60).tolist()
    full = evaluate.cosine_similarities(e1, e2)
    for variant in (Variant(dims=8), Variant(dims=None, precision="int8")):
        scores, *_ = score_variant(e1, e2, gold, variant, full, n_resamples=10, similarity="dot")
        assert scores["pearson"] == scores["dot_pearson"] != scores["cosine_pearson"]
        assert scores["main_score"] == scores["cosine_spearman"]
        cosine, *_ = score_variant(e1, e2, gold, variant, full, n_resamples=10)
        assert cosine["pearson"] == cosine["cosine_pearson"]
