"""Issue 27 on real cards' text: unstated metrics, averages, training logs, family READMEs, prose facts.

Every card text here is a real card's (the realcards corpus, or an excerpt of a real card quoted
line for line with its code-index file id), so each rule is tested on what cards really write.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness.card import parse_card, parse_card_text
from harness.evaluate import Z95
from harness.records import RunRecord
from harness.report.claims import check_claims
from harness.report.page import Unit
from harness.report.view import model_info
from harness.report.words import UNSTATED_METRIC_NOTE, WARNING_TEXT

REAL = Path(__file__).parent / "fixtures" / "realcards"
TEXT2VEC = REAL / "093_shibing624__text2vec-base-chinese.md"  # "chinese text matching task" table
TRAINING_LOG = REAL / "097_unknown__roberta-korean-sts-training-log.md"
TWO_MODELS = REAL / "094_unknown__klue-roberta-base-sts-two-models.md"
EXCERPTS = REAL / "excerpts"  # lines of longer real cards, quoted as they are (see MANIFEST.md)

# FlagEmbedding's README as the bge cards share it (code-index file id 3159088877)
FLAG_EMBEDDING = (EXCERPTS / "flagembedding-readme.md").read_text(encoding="utf-8")

# moka-ai/m3e-base's card (code-index file id 10666869526), the lines up to its usage code
M3E_BASE = (EXCERPTS / "m3e-base.md").read_text(encoding="utf-8")

# jinaai/jina-embeddings-v2-base-en's card (code-index file id 28628856665), its model-info lines
JINA = (EXCERPTS / "jina-embeddings-v2-base-en.md").read_text(encoding="utf-8")


def _runs(scores: dict[str, float], half_width: float = 0.01) -> dict[Unit, RunRecord]:
    return {
        Unit(task, "default", "test"): RunRecord(
            split="test",
            subset="default",
            status="ok",
            identity=f"id-{task}",
            scores={"cosine_spearman": v, "cosine_pearson": v - 0.01},
            ci95=[v - half_width, v + half_width],
        )
        for task, v in scores.items()
    }


# --------------------------------------------------------------------------------------------
# a table that names no metric


def test_a_table_that_names_no_metric_gives_unstated_claims_never_spearman():
    spec = parse_card(TEXT2VEC)
    singles = {c.dataset: c for c in spec.claims if not c.aggregate_of}
    assert {d: (c.metric, round(c.value, 4)) for d, c in singles.items()} == {
        "ATEC": ("unstated", 0.3193),
        "BQ": ("unstated", 0.4267),
        "LCQMC": ("unstated", 0.7016),
        "PAWSX": ("unstated", 0.1721),
        "STS-B": ("unstated", 0.793),
    }
    assert all("metric not stated by the card" in c.quote for c in spec.claims)
    claims_json = spec.contract_json()["claims"]
    assert {c["metric"] for c in claims_json} == {"unstated"} and all(c["comparable"] for c in claims_json)


def test_an_unstated_claim_is_compared_with_cosine_spearman_and_says_so():
    text = TEXT2VEC.read_text(encoding="utf-8").replace(
        "license: apache-2.0\n", "license: apache-2.0\nlanguage: zh\n"
    )
    spec = parse_card_text(text, source=str(TEXT2VEC), key="shibing624__text2vec-base-chinese")
    runs = _runs({"ATEC": 0.35, "BQ": 0.45, "LCQMC": 0.70, "PAWSX": 0.20, "STSB": 0.80})
    rows = check_claims(model_info(spec.key, spec, []), "zh", runs, True)
    atec = next(r for r in rows if r.claim.dataset == "ATEC")
    assert atec.metric == "cosine_spearman" and atec.measured == pytest.approx(35.0)
    assert atec.difference == pytest.approx(35.0 - 31.93)
    assert UNSTATED_METRIC_NOTE in atec.dataset_note
    assert atec.claim.metric == "unstated"  # shown as the card wrote it, never as a Spearman claim


# --------------------------------------------------------------------------------------------
# averages


def test_an_average_column_is_an_aggregate_claim_over_its_datasets():
    spec = parse_card(TEXT2VEC)
    (avg,) = [c for c in spec.claims if c.aggregate_of]
    assert avg.aggregate_of == ["ATEC", "BQ", "LCQMC", "PAWSX", "STS-B"]
    assert (avg.metric, round(avg.value, 4), avg.mteb_task) == ("unstated", 0.4825, None)
    assert spec.contract_json()["claims"][-1]["aggregate_of"] == avg.aggregate_of


def test_an_average_that_is_not_the_mean_of_its_columns_is_no_aggregate_claim():
    # 027: "Avg" 51.61 while its seven columns average 51.71: some other average, not checkable
    spec = parse_card(REAL / "027_shibing624__text2vec-base-chinese.md")
    assert not [c for c in spec.claims if c.aggregate_of]
    assert any(w.code == "aggregate-not-mean" for w in spec.warnings)
    assert "aggregate-not-mean" in WARNING_TEXT


def test_an_aggregate_is_compared_with_the_mean_of_our_scores_when_every_dataset_ran():
    text = TEXT2VEC.read_text(encoding="utf-8").replace(
        "license: apache-2.0\n", "license: apache-2.0\nlanguage: zh\n"
    )
    spec = parse_card_text(text, source=str(TEXT2VEC), key="shibing624__text2vec-base-chinese")
    info = model_info(spec.key, spec, [])
    scores = {"ATEC": 0.35, "BQ": 0.45, "LCQMC": 0.70, "PAWSX": 0.20, "STSB": 0.80}
    rows = check_claims(info, "zh", _runs(scores, half_width=0.02), True)
    (avg,) = [r for r in rows if r.claim.aggregate_of]
    assert avg.measured == pytest.approx(100 * sum(scores.values()) / 5)
    # five independent ±2-point intervals: the mean's half-width is sqrt(5 * 2²) / 5 points
    half = (avg.measured_ci[1] - avg.measured_ci[0]) / 2
    assert half == pytest.approx(math.sqrt(5 * 2.0**2) / 5)
    assert avg.unit.label.startswith("mean of ATEC + BQ + LCQMC + PAWSX + STSB")
    assert avg.outside is True  # 48.25 claimed; ours 50.00 ± 1.79
    # one dataset not run: not compared, and the row says which
    del scores["PAWSX"]
    (missing,) = [r for r in check_claims(info, "zh", _runs(scores), True) if r.claim.aggregate_of]
    assert missing.measured is None and "PAWSX: no run" in missing.reason
    assert Z95 > 1.9  # the interval above is the normal one mean_ci uses


# --------------------------------------------------------------------------------------------
# training logs


def test_a_training_log_keeps_earlier_rows_as_history_and_the_last_as_the_claim():
    spec = parse_card(TRAINING_LOG)
    released = [c for c in spec.claims if not c.history]
    assert {(c.metric, c.similarity, round(c.value, 4)) for c in released} == {
        ("pearson", "cosine", 0.879),
        ("spearman", "cosine", 0.878),
    }
    spearman = next(c for c in released if c.metric == "spearman")
    assert "table" in spearman.sources and "model-index" in spearman.sources  # epoch 4.0 row = model-index
    history = sorted((c.checkpoint, round(c.value, 4)) for c in spec.claims if c.history)
    assert history == [
        ("Epoch 1.0, Step 360", 0.8686),
        ("Epoch 2.0, Step 720", 0.8751),
        ("Epoch 2.7778, Step 1000", 0.878),
        ("Epoch 3.0, Step 1080", 0.8776),
    ]
    assert not any(c.comparable for c in spec.claims if c.history)
    rows = check_claims(model_info("k", spec, []), "ko", {}, True)
    assert not any(r.claim.history for r in rows)  # recorded on the card, never compared


# --------------------------------------------------------------------------------------------
# family READMEs and base models


def test_a_family_readme_gives_no_model_id_and_names_the_candidates():
    spec = parse_card_text(FLAG_EMBEDDING, source="bge-small-zh-v1.5/README.md", key="bge-small-zh-v1.5")
    assert spec.model_id.value is None and spec.dimension.value is None
    (warning,) = [w for w in spec.warnings if w.code == "family-card"]
    assert "BAAI/bge-large-zh-v1.5" in warning.message and "BAAI/bge-small-zh-v1.5" in warning.message
    assert "family-card" in WARNING_TEXT
    # the same table beside code that loads a model it does not list: a comparison, the code's id stands
    own = FLAG_EMBEDDING.replace("BAAI/bge-large-zh-v1.5')", "org/own-zh-model')")
    spec = parse_card_text(own, source="own/README.md", key="own")
    assert spec.model_id.value == "org/own-zh-model"
    assert not any(w.code == "family-card" for w in spec.warnings)


def test_a_model_named_by_its_usage_code_gets_its_row_of_a_comparison_table():
    spec = parse_card_text(M3E_BASE, source="m3e-base/README.md", key="m3e-base")
    assert spec.model_id.value == "moka-ai/m3e-base"
    assert (spec.dimension.value, spec.dimension.source) == (768, "table:维度")  # not m3e-small's 512


def test_a_base_model_in_usage_code_is_not_the_models_id_and_two_models_give_no_dimension():
    spec = parse_card(TWO_MODELS)  # models.Transformer("yobi/klue-roberta-base-sts") + a 2_Dense to 256
    assert spec.model_id.value is None and spec.dimension.value is None
    codes = {w.code for w in spec.warnings}
    assert {"base-model-in-usage", "ambiguous-dimension"} <= codes
    plain = parse_card(REAL / "095_unknown__klue-roberta-base-sts-usage-only.md")  # no layer added
    assert plain.model_id.value == "yobi/klue-roberta-base-sts"


def test_a_title_that_names_the_project_yields_to_the_model_its_code_loads():
    spec = parse_card(REAL / "102_shibing624__text2vec-base-chinese.md")  # "# shibing624/text2vec"
    assert spec.model_id.value == "shibing624/text2vec-base-chinese"


# --------------------------------------------------------------------------------------------
# prose facts


def test_supporting_8192_sequence_length_is_the_max_sequence_length():
    spec = parse_card_text(JINA, source="jina/README.md", key="jina-embeddings-v2-base-en")
    assert (spec.max_seq_length.value, spec.max_seq_length.source) == (8192, "prose")


def test_cards_json_keeps_every_claim_key_and_adds_the_new_ones():
    before = {"metric", "value", "dataset", "split", "language", "source", "similarity", "mteb_task"}
    before |= {"comparable", "sources", "quote"}  # the claim keys `cards --json` printed before issue 27
    for claim in parse_card(TRAINING_LOG).contract_json()["claims"]:
        assert set(claim) == before | {"aggregate_of", "history", "checkpoint"}
