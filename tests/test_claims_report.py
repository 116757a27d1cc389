"""The report's "Claimed vs measured" compares only like with like (issue 11), as rendered.

A claim is compared with our measurement only when it is a cosine claim or names no similarity
(`Claim.comparable`, the flag `cards --json` shows); the correlation is the claim's own (Spearman
with cosine_spearman, Pearson with cosine_pearson). Manhattan, Euclidean, dot and max claims are
shown with why they were not compared, even when the run stored a score of that similarity.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from fixtures.results.builder import build_results, build_specs

from harness import report as rpt
from harness.card import parse_card_text
from harness.records import Claim, ModelSpec, RunRecord
from harness.report.claims import (
    NOT_COMPARABLE,
    check_claims,
    names_no_particular_dataset,
    not_compared_reason,
)
from harness.report.page import Unit
from harness.report.view import model_info
from harness.store import load_results, write_run

KEY = "org__claims-model"
MODEL_ID = "org/claims-model"  # what the tables show
TASK, SUBSET = "STSBenchmarkMultilingualSTS", "de"
# other similarities' scores the run stores; a claim equal to one of them is still not compared
OTHER_SCORES = {
    "manhattan_spearman": 0.9001,
    "manhattan_pearson": 0.8802,
    "euclidean_spearman": 0.8903,
    "euclidean_pearson": 0.8704,
    "dot_spearman": 0.8605,
    "dot_pearson": 0.8506,
}
# (metric, similarity, value): what the card claims on stsb_multi_mt de test
CLAIMS = [
    ("spearman", "cosine", 0.8123),
    ("pearson", "unspecified", 0.7988),
    ("spearman", "manhattan", 0.9001),
    ("pearson", "euclidean", 0.8704),
    ("spearman", "dot", 0.8605),
    ("spearman", "max", 0.9001),
]
WHY = {
    "manhattan": "not compared: manhattan similarity, not comparable with our cosine score",
    "euclidean": "not compared: euclidean similarity, not comparable with our cosine score",
    "dot": "not compared: dot similarity, not comparable with our cosine score",
    "max": NOT_COMPARABLE,
}


def claim(metric: str, similarity: str, value: float, language: str | None = "de") -> Claim:
    return Claim(
        metric=metric,
        similarity=similarity,
        value=value,
        dataset="stsb_multi_mt",
        split="test",
        language=language,
        mteb_task=TASK,
        source="table",
        quote=f"{metric}_{similarity} | {value}",
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("claims-report")
    results = build_results(root / "results")
    base = next(
        r
        for r in load_results(results)
        if r.model_key == "gbert-large-sts-v2" and r.task_name == TASK and r.run.subset == SUBSET
    )
    run = base.run.model_copy(update={"scores": {**base.run.scores, **OTHER_SCORES}})
    write_run(
        results,
        model_key=KEY,
        model_id=MODEL_ID,
        revision=base.revision,
        task_name=TASK,
        mteb_version=base.mteb_version,
        dataset_revision=base.dataset_revision,
        weights_source=base.weights_source,
        run=run,
    )
    spec = ModelSpec(
        key=KEY,
        source=f"registry/{KEY}/README.md",
        model_id={"value": MODEL_ID, "source": "prose:usage"},
        languages={"value": ["de"], "source": "yaml:language"},
        claims=[claim(*c) for c in CLAIMS],
    )
    specs = [*build_specs(), spec]
    rpt.build_reports(results, specs, root / "reports", ["de"])
    stored = next(r for r in load_results(results) if r.model_key == KEY).run
    return {
        "md": (root / "reports" / "de.md").read_text(encoding="utf-8"),
        "html": (root / "reports" / "de.html").read_text(encoding="utf-8"),
        "page": rpt.build_page("de", load_results(results), specs, None),
        "scores": stored.scores,
    }


def md_claim_rows(md: str) -> list[list[str]]:
    section = md.split("## Claimed vs measured", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith(f"| [{MODEL_ID}]")]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def html_claim_rows(page: str) -> list[list[str]]:
    table = page.split('id="claims-table"', 1)[1].split("</table>", 1)[0]
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", table, flags=re.S):
        tds = [c.replace("<wbr>", "") for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, flags=re.S)]
        cells = [html.unescape(re.sub(r"<[^>]+>", " ", c)) for c in tds]
        if cells and MODEL_ID in cells[0]:
            rows.append([" ".join(c.split()) for c in cells])
    return rows


def row_for(rows: list[list[str]], metric: str, similarity: str) -> list[str]:
    shown = metric if similarity == "unspecified" else f"{metric} ({similarity})"
    [row] = [r for r in rows if r[2].startswith(shown + ",") or r[2].startswith(shown + " ·")]
    return row


def points(value: float) -> str:
    return f"{value * 100:.2f}"


@pytest.mark.parametrize("render", ["md", "html"])
def test_rendered_claims_compare_only_cosine_or_unspecified_claims(built, render):
    rows = md_claim_rows(built["md"]) if render == "md" else html_claim_rows(built["html"])
    assert len(rows) == len(CLAIMS)
    scores = built["scores"]
    for metric, similarity, value in CLAIMS:
        row = row_for(rows, metric, similarity)
        _, claimed, _, task, measured, difference, check = row
        assert claimed == points(value)
        if similarity in ("cosine", "unspecified"):
            # the same correlation of cosine similarities, with our interval's verdict
            assert measured.startswith(points(scores[f"cosine_{metric}"]))
            assert difference != "–" and "not compared" not in check
            assert TASK in task
        else:
            assert measured in ("–", "") and difference in ("–", "")
            assert check == WHY[similarity]


def test_report_and_cards_json_agree_on_what_is_compared(built):
    rows = [c for c in built["page"].claims if c.model.key == KEY]
    assert len(rows) == len(CLAIMS)
    for row in rows:
        compared = row.measured is not None
        assert compared is row.claim.comparable
        assert (not_compared_reason(row.claim) is None) is compared
        if compared:
            assert row.metric == f"cosine_{row.claim.metric}"
        else:
            assert row.metric is None and row.unit is None and row.difference is None


def test_a_claim_without_language_on_a_multilingual_card_says_its_similarity_first(built):
    spec = ModelSpec(
        key="org__multi-claims",
        source="x",
        languages={"value": ["de", "en"], "source": "yaml:language"},
        claims=[claim("spearman", "manhattan", 0.8, None), claim("spearman", "cosine", 0.8, None)],
    )
    page = rpt.build_page("de", [], [spec], None)
    assert [c.reason for c in page.claims] == [
        WHY["manhattan"],
        "not checked: the claim names no language and the card lists several",
    ]


def test_like_with_like_on_the_fixture_registry_cards(tmp_path: Path):
    """The real seed card with a model-index (cos_sim_spearman, cos_sim_pearson and an invalid
    manhattan_spearman) gives only cosine claims, all comparable."""
    from harness.card import parse_card

    spec = parse_card(Path(__file__).parent / "fixtures" / "cards" / "old_format_dense.md")
    assert [(c.metric, c.similarity, c.comparable) for c in spec.claims] == [
        ("spearman", "cosine", True),
        ("pearson", "cosine", True),
    ]


# --------------------------------------------------------------------------- generic dataset names

GENERIC_CARD = Path(__file__).parent / "fixtures" / "realcards" / "009_dwhouse__nli-only-klue-roberta-base.md"


def _korean_runs() -> dict:
    scores = {"KLUE-STS": 0.84, "KorSTS": 0.79}
    return {
        Unit(task, "default", "validation"): RunRecord(
            split="validation",
            subset="default",
            status="ok",
            identity=f"id-{task}",
            scores={"cosine_spearman": value, "cosine_pearson": value},
        )
        for task, value in scores.items()
    }


def _generic_rows(card_text: str) -> list:
    spec = parse_card_text(card_text, source=str(GENERIC_CARD), key="dwhouse__nli-only-klue-roberta-base")
    return check_claims(model_info(spec.key, spec, []), "ko", _korean_runs(), True)


def test_a_generic_dataset_name_is_compared_with_each_task_and_says_so():
    # a real card whose model-index names its evaluator "sts-dev": no particular Korean dataset
    rows = _generic_rows(GENERIC_CARD.read_text(encoding="utf-8"))
    assert {r.claim.dataset for r in rows} == {"sts"}
    assert sorted((r.claim.metric, r.unit.task) for r in rows) == [
        ("pearson", "KLUE-STS"), ("pearson", "KorSTS"), ("spearman", "KLUE-STS"), ("spearman", "KorSTS"),
    ]  # fmt: skip
    assert {r.dataset_note for r in rows} == {
        "“sts” names no particular dataset: compared with each task run"
    }


def test_a_generic_dataset_name_takes_the_task_the_cards_datasets_list_names():
    # the card's datasets list names KLUE (a particular dataset) and a generic "sts_dev"
    datasets = "datasets:\n- klue\n- CocoRoF/sts_dev\n"
    text = GENERIC_CARD.read_text(encoding="utf-8").replace("pipeline_tag:", datasets + "pipeline_tag:", 1)
    rows = _generic_rows(text)
    pairs = sorted((r.claim.metric, r.unit.task) for r in rows)
    assert pairs == [("pearson", "KLUE-STS"), ("spearman", "KLUE-STS")]
    assert {r.dataset_note for r in rows} == {
        "“sts” names no particular dataset; task from the card's datasets list"
    }
    spearman = next(r for r in rows if r.claim.metric == "spearman")
    assert spearman.measured == pytest.approx(84.0)
    assert spearman.difference == pytest.approx(84.0 - 85.63515697245142)


def test_dataset_name_kinds():
    assert names_no_particular_dataset("sts test de", "de")
    assert names_no_particular_dataset("sts-dev", "ko")
    assert names_no_particular_dataset("CocoRoF/sts_dev", "ko")
    assert not names_no_particular_dataset("stsb_multi_mt", "de")
    assert not names_no_particular_dataset("PhilipMay/stsb_multi_mt", "de")
    assert not names_no_particular_dataset("klue", "ko")
    assert not names_no_particular_dataset("my-own-benchmark", "en")
