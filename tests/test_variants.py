"""Variants of a model's vectors (harness.variants): Matryoshka cuts, int8 and binary, and their cost.

- all-MiniLM-L6-v2 with ``--dims 128 --precision int8,ubinary`` on a slice of the English STS-B test
  set stores three variant results whose scores equal sentence-transformers' own computation
  (``truncate_dim``, ``quantize_embeddings``, ``pairwise_cos_sim``; the sign bits for Hamming) and
  scipy to 1e-6, and encodes every sentence once (the model's forward passes are counted);
- a card whose MatryoshkaLoss block lists ``matryoshka_dims`` (a real sentence-transformers card)
  gets those dimensions scored without options;
- bad --dims/--precision values are one usage error each, before any work;
- variants never appear in mteb's ``scores`` or among the full model's results; the report's cost
  section, its Markdown table and ``reports/<lang>.json`` show them.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from harness import run as runner
from harness import store
from harness.card import parse_card, parse_card_text
from harness.cli import main
from harness.records import ModelSpec, Sourced
from harness.variants import (
    Variant,
    VariantUsageError,
    bytes_per_vector,
    parse_dims,
    parse_precisions,
    variants_for,
)

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REAL_MRL_CARD = FIXTURES / "cards" / "static-similarity-mrl-multilingual-v1.md"
BASE_KEY = "sentence-transformers__all-minilm-l6-v2"
SLICE = 100


def _count_forward(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sentences through SentenceTransformer.forward, one entry per batch."""
    from sentence_transformers import SentenceTransformer

    seen: list[int] = []
    original = SentenceTransformer.forward

    def counting(self, features, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(int(features["input_ids"].shape[0]))
        return original(self, features, *args, **kwargs)

    monkeypatch.setattr(SentenceTransformer, "forward", counting)
    return seen


def _english_slice(shared_dir: Path, path: Path) -> tuple[list[str], list[str], list[float]]:
    with (shared_dir / "data/sts/stsb_multi_mt/stsb-en-test.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[:SLICE]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
        writer.writerow(["sentence1", "sentence2", "score"])
        writer.writerows(rows)
    return [r[0] for r in rows], [r[1] for r in rows], [float(r[2]) for r in rows]


def _independent(minilm_dir: Path, s1: list[str], s2: list[str], gold: list[float]) -> dict[str, float]:
    """Spearman of each variant's similarity, by sentence-transformers' own functions and scipy."""
    import torch
    from scipy.stats import spearmanr
    from sentence_transformers import SentenceTransformer, util
    from sentence_transformers.quantization import quantize_embeddings

    model = SentenceTransformer(str(minilm_dir), device="cpu", truncate_dim=128)
    e1 = model.encode(s1, convert_to_numpy=True)
    e2 = model.encode(s2, convert_to_numpy=True)
    both = np.concatenate([e1, e2])

    def cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return util.pairwise_cos_sim(
            torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
        )

    q = quantize_embeddings(both, precision="int8", calibration_embeddings=both)
    hamming = ((e1 > 0) != (e2 > 0)).sum(axis=1)  # the sign bits ubinary packs, compared unpacked
    return {
        "128/float32": float(spearmanr(cos(e1, e2).numpy(), gold)[0]),
        "128/int8": float(spearmanr(cos(q[: len(s1)], q[len(s1) :]).numpy(), gold)[0]),
        "128/ubinary": float(spearmanr(-hamming, gold)[0]),
    }


@pytest.mark.integration
def test_minilm_variants_equal_sentence_transformers_and_encode_once(
    tmp_path: Path, minilm_dir: Path, shared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s1, s2, gold = _english_slice(shared_dir, tmp_path / "stsb-en-slice.tsv")
    models = tmp_path / "models"
    models.mkdir()
    (models / BASE_KEY).symlink_to(minilm_dir, target_is_directory=True)
    (tmp_path / "no-data").mkdir()
    base = dict(
        languages=["en"],
        results_dir=tmp_path / "results",
        registry_dir=REPO / "registry",
        model_names=[BASE_KEY],
        pairs_files=[tmp_path / "stsb-en-slice.tsv"],
        data_dir=tmp_path / "no-data",  # only the slice has data here: the catalog's tasks are skipped
        models_dirs=[models],
        cache_dir=tmp_path / "cache",
        allow_hub=False,
        bootstrap_resamples=200,
    )
    forward = _count_forward(monkeypatch)
    summary = runner.run(
        runner.RunOptions(**base, dims=[128], precisions=["int8", "ubinary"]), say=lambda _: None
    )
    assert not summary.failed
    unique = len(set(s1) | set(s2))
    assert sum(forward) == unique  # every sentence through the model once, for the model and its variants

    full = [r for r in store.load_results(tmp_path / "results") if r.run.status == "ok"]
    assert len(full) == 1 and full[0].run.settings.dims is None and full[0].run.encode.n_encoded == unique
    variants = {
        f"{r.run.settings.dims}/{r.run.variant.precision}": r
        for r in store.load_variants(tmp_path / "results")
    }
    assert sorted(variants) == ["128/float32", "128/int8", "128/ubinary"]
    expected = _independent(minilm_dir, s1, s2, gold)
    for name, stored in variants.items():
        run = stored.run
        assert run.status == "ok" and run.identity != full[0].run.identity
        assert abs(run.scores["main_score"] - expected[name]) < 1e-6, name
        assert run.variant.dims == 128 and run.variant.full_dims == 384
        lo, hi = run.ci95
        assert lo <= run.scores["main_score"] <= hi
        assert run.variant.delta_vs_full == pytest.approx(
            run.scores["main_score"] - full[0].run.scores["cosine_spearman"], abs=1e-6
        )
    assert variants["128/ubinary"].run.variant.similarity == "negative Hamming distance"
    assert variants["128/ubinary"].run.variant.bytes_per_vector == 16
    assert variants["128/int8"].run.variant.bytes_per_vector == 128

    # mteb's `scores` block of the full model's file holds only the full model's score
    data = json.loads(Path(full[0].path).read_text(encoding="utf-8"))
    assert [e["main_score"] for e in data["scores"]["test"]] == [full[0].run.scores["main_score"]]
    assert all(store.VARIANTS_FOLDER in Path(v.path).parts for v in variants.values())

    # another cut later: re-scored from the embedding cache, no forward pass, the full result untouched
    before = Path(full[0].path).read_bytes()
    forward.clear()
    runner.run(runner.RunOptions(**base, dims=[64]), say=lambda _: None)
    assert sum(forward) == 0
    assert Path(full[0].path).read_bytes() == before
    shapes = sorted(
        f"{r.run.settings.dims}/{r.run.variant.precision}" for r in store.load_variants(tmp_path / "results")
    )
    assert shapes == ["128/float32", "128/int8", "128/ubinary", "64/float32"]

    # the page names the smallest vector whose average lies within the leader's interval
    from harness.report import build_reports, load_specs

    out = tmp_path / "reports"
    build_reports(tmp_path / "results", load_specs(REPO / "registry"), out)
    page = json.loads((out / "en.json").read_text(encoding="utf-8"))
    leader = page["rows"][0]
    assert page["leader"] == leader["model"] and not leader["degenerate"]
    lo = leader["average_ci"][0]
    within = [v for v in page["variants"] if v["average"] >= lo - 1e-4]
    within.append({"dims": 384, "precision": "float32", "bytes_per_vector": 1536})  # the full vectors
    smallest = min(within, key=lambda v: v["bytes_per_vector"])
    assert smallest["bytes_per_vector"] < 1536  # a cut or a quantised vector is as good as the full one here
    label = f"{smallest['dims']}d {smallest['precision']}"
    line = f"Smallest vector within the leader's interval: {leader['model']}, {label}"
    md = (out / "en.md").read_text(encoding="utf-8")
    assert line in md and "Smallest vector within the leader's interval" in (out / "en.html").read_text(
        encoding="utf-8"
    )


# ---------------------------------------------------------------- cards


def test_real_card_matryoshka_block() -> None:
    spec = parse_card(REAL_MRL_CARD)
    assert spec.matryoshka_dims.value == [1024, 512, 256, 128, 64, 32]
    assert spec.matryoshka_dims.source == "card:MatryoshkaLoss"
    assert spec.contract_json()["matryoshka_dims"] == [1024, 512, 256, 128, 64, 32]


def test_cards_command_shows_matryoshka_dims(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cards", str(REAL_MRL_CARD), "--json"]) == 0
    [card] = json.loads(capsys.readouterr().out)
    assert card["matryoshka_dims"] == [1024, 512, 256, 128, 64, 32]
    assert card["sources"]["matryoshka_dims"] == "card:MatryoshkaLoss"
    assert main(["cards", str(REAL_MRL_CARD)]) == 0
    assert (
        "Matryoshka dimensions 1024, 512, 256, 128, 64, 32 (card:MatryoshkaLoss)" in capsys.readouterr().out
    )


def test_matryoshka_in_prose_and_cards_without() -> None:
    prose = parse_card_text(
        "---\nlanguage: en\n---\n# M\n\nMatryoshka embeddings: cut to 768, 512, 256, 128 or 64 dimensions.\n",
        source="prose.md",
    )
    assert prose.matryoshka_dims.value == [768, 512, 256, 128, 64] and prose.matryoshka_dims.source == "prose"
    plain = parse_card_text(
        "---\nlanguage: en\n---\n# M\n\nTrained on 1,000,000 pairs, 768 dimensions.\n", source="x.md"
    )
    assert plain.matryoshka_dims.value is None
    assert parse_card(FIXTURES / "cards" / "new_format.md").matryoshka_dims.value is None


MRL_CARD = """---
language:
- en
tags:
- sentence-transformers
- loss:MatryoshkaLoss
---

# tiny-mrl

```python
model = SentenceTransformer('org/tiny-mrl')
```

* Loss: [<code>MatryoshkaLoss</code>](https://sbert.net/docs/package_reference/) with these parameters:
  ```json
  {
      "loss": "CoSENTLoss",
      "matryoshka_dims": [
          32,
          16,
          8
      ],
      "matryoshka_weights": [1, 1, 1],
      "n_dims_per_step": -1
  }
  ```
"""


@pytest.fixture
def mrl_workspace(tmp_path: Path, tiny_bert_dir: Path) -> dict:
    from test_runner import write_pairs

    entry = tmp_path / "registry" / "org__tiny-mrl"
    entry.mkdir(parents=True)
    (entry / "README.md").write_text(MRL_CARD, encoding="utf-8")
    (entry / "registry.toml").write_text(f'path = "{tiny_bert_dir}"\n', encoding="utf-8")
    (tmp_path / "no-data").mkdir()
    return {
        "tmp": tmp_path,
        "registry": tmp_path / "registry",
        "results": tmp_path / "results",
        "pairs": write_pairs(tmp_path / "pairs.tsv"),
    }


def _mrl_options(ws: dict, **kw) -> runner.RunOptions:
    return runner.RunOptions(
        languages=["en"],
        results_dir=ws["results"],
        registry_dir=ws["registry"],
        pairs_files=[ws["pairs"]],
        data_dir=ws["tmp"] / "no-data",
        cache_dir=ws["tmp"] / "cache",
        allow_hub=False,
        bootstrap_resamples=200,
        **kw,
    )


def test_card_matryoshka_dims_scored_without_options(mrl_workspace: dict) -> None:
    summary = runner.run(_mrl_options(mrl_workspace), say=lambda _: None)
    assert not summary.failed
    variants = store.load_variants(mrl_workspace["results"])
    # 32 is the model's own dimension: that is the full result, not a variant
    assert sorted((r.run.settings.dims, r.run.variant.precision) for r in variants) == [
        (8, "float32"),
        (16, "float32"),
    ]
    assert all(r.run.variant.full_dims == 32 and r.run.status == "ok" for r in variants)
    [full] = store.load_results(mrl_workspace["results"])
    assert full.run.settings.dims is None and full.run.variant is None

    # the report: the cost section, its Markdown table, the variants in reports/en.json
    from harness.report import build_reports, load_specs

    out = mrl_workspace["tmp"] / "reports"
    written = build_reports(mrl_workspace["results"], load_specs(mrl_workspace["registry"]), out)
    assert out / "en.json" in written
    html = (out / "en.html").read_text(encoding="utf-8")
    md = (out / "en.md").read_text(encoding="utf-8")
    assert 'id="cost"' in html and 'id="cost-table"' in html and 'id="size-en-' in html
    assert "## The cost of a vector" in md
    assert (
        "| 16 | float32 | 64 |" in md
        and "| 8 | float32 | 32 |" in md
        and "| 32 | float32 (full) | 128 |" in md
    )
    page = json.loads((out / "en.json").read_text(encoding="utf-8"))
    assert page["language"] == "en"
    assert sorted((v["dims"], v["precision"], v["bytes_per_vector"]) for v in page["variants"]) == [
        (8, "float32", 32),
        (16, "float32", 64),
    ]
    # a random-weight model's output is degenerate (the behaviour probe): no leader, so no "smallest vector
    # within the leader's interval" (the real MiniLM's page names one, in the test above)
    assert page["leader"] is None and page["rows"][0]["degenerate"]
    assert "Smallest vector within the leader's interval" not in md + html
    by_dims = {v["dims"]: v for v in page["variants"]}
    stored = {r.run.settings.dims: r.run.scores["main_score"] for r in variants}  # the JSON is 0-1
    for dims, v in by_dims.items():
        assert list(v["scores"].values()) == [pytest.approx(stored[dims], abs=1e-6)]
        assert v["average"] == pytest.approx(stored[dims], abs=1e-6)


def test_variants_resume_and_precision_combinations(mrl_workspace: dict) -> None:
    runner.run(_mrl_options(mrl_workspace), say=lambda _: None)
    summary = runner.run(
        _mrl_options(mrl_workspace, dims=[16], precisions=["int8", "ubinary"]), say=lambda _: None
    )
    outcome = summary.outcomes[0]
    assert sorted(outcome.ok) == [
        "custom:pairs @16/int8",
        "custom:pairs @16/ubinary",
    ]  # 16/float32 was stored
    again = runner.run(
        _mrl_options(mrl_workspace, dims=[16], precisions=["int8", "ubinary"]), say=lambda _: None
    )
    assert (
        again.outcomes[0].ok == []
        and again.outcomes[0].reason
        and "already stored" in again.outcomes[0].reason
    )


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dims", "0"], "--dims: '0' is not a positive number of dimensions"),
        (["--dims", "64,abc"], "--dims: 'abc' is not a positive number of dimensions"),
        (["--precision", "fp8"], "--precision: 'fp8' is not one of int8, ubinary"),
        (["--dims", "1000"], "--dims 1000: above org/tiny-mrl's 32 dimensions"),
    ],
)
def test_bad_variant_options_are_usage_errors_before_any_work(
    mrl_workspace: dict, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args, message
) -> None:
    forward = _count_forward(monkeypatch)
    ws = mrl_workspace
    rc = main(
        [
            "run",
            "--lang",
            "en",
            "--registry",
            str(ws["registry"]),
            "--results",
            str(ws["results"]),
            "--pairs",
            str(ws["pairs"]),
            "--data-dir",
            str(ws["tmp"] / "no-data"),
            "--cache-dir",
            str(ws["tmp"] / "cache"),
            "--config",
            "none",
            *args,
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2
    assert f"harness: {message}" in err
    assert forward == []
    assert list(store.iter_result_files(ws["results"])) == []


def test_dims_on_a_model_without_a_plain_vector() -> None:
    spec = ModelSpec(key="m", source="x", model_id=Sourced(value="org/m"), dimension=Sourced(value=768))
    with pytest.raises(VariantUsageError, match="mteb's own implementation"):
        variants_for(spec, [64], [], encoder="mteb:InstructSentenceTransformerModel")
    unknown = ModelSpec(key="m", source="x", model_id=Sourced(value="org/m"))
    with pytest.raises(VariantUsageError, match="output dimension is unknown"):
        variants_for(unknown, [64], [])
    # precision alone needs no cut: allowed on any model
    assert variants_for(unknown, [], ["int8"]) == [Variant(None, "int8")]


def test_variant_arithmetic() -> None:
    assert parse_dims(["64,128", "128", " 256 "]) == [64, 128, 256]
    assert parse_precisions(["ubinary,INT8"]) == ["ubinary", "int8"]
    assert (
        bytes_per_vector(384, "float32"),
        bytes_per_vector(384, "int8"),
        bytes_per_vector(100, "ubinary"),
    ) == (
        1536,
        384,
        13,
    )
    spec = ModelSpec(key="m", source="x", dimension=Sourced(value=384))
    got = variants_for(spec, [128, 384], ["int8", "ubinary"])
    assert [v.label for v in got] == [
        "full/int8",
        "full/ubinary",
        "128/float32",
        "128/int8",
        "128/ubinary",
    ]
