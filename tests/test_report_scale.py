"""Reports at leaderboard scale: summaries that count, filterable tables, bounded charts, cached tests.

Pages are built from synthetic result folders (``benchmarks/synthetic.py``: real STS-B German
gold scores, per-model similarities written by ``harness.store.write_run``), cut to 200 pairs
per task so the tests stay fast. Timings at full size are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from harness.evaluate import paired_test
from harness.paired_cache import CACHE_DIR, CACHE_FILE
from harness.report import build_page, build_reports, load_specs
from harness.report import paired as paired_mod
from harness.report.charts import CHART_TOP, score_chart
from harness.report.filters import NAMED_MAX, SIZE_CLASSES, row_facets
from harness.report.paired import PairedTests
from harness.store import iter_result_files, load_results

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import synthetic  # noqa: E402

N_PAIRS = 200


def _folder(root: Path, n_models: int) -> Path:
    if not (synthetic.STSB / "stsb-de-test.csv").is_file():
        pytest.skip("STS-B German files not available")
    return synthetic.build(root / f"{n_models}x2", n_models, 2, max_pairs=N_PAIRS)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    root = _folder(tmp_path_factory.mktemp("scale"), 60)
    out = root / "reports"
    specs = load_specs(root / "registry")
    build_reports(root / "results", specs, out, ["de"])
    page = build_page("de", load_results(root / "results"), specs, None)
    return {"root": root, "out": out, "specs": specs, "html": (out / "de.html").read_text(), "page": page}


def _summary(html: str) -> str:
    return html[html.index('<section class="card summary"') : html.index('<section class="card" id="leaderboard"')]


def test_summary_names_the_leader_and_counts_the_tied(big):
    html, md = big["html"], (big["out"] / "de.md").read_text()
    names = re.findall(r'data-model="([^"]+)"', html)
    tied = re.findall(r'<tr class="tied" data-model="([^"]+)"', html)
    assert len(names) == 60 and len(tied) > NAMED_MAX  # a crowd ties with the leader
    summary = _summary(html)
    leader = names[0]
    assert f"synthetic/{leader}" in summary
    assert f"statistically tied with {len(tied)} others: see" in summary and 'href="#leaderboard"' in summary
    assert not any(f"synthetic/{key}" in summary for key in tied)  # no list of 30 names
    first_paragraph = md.split("\n\n")[1]
    assert f"statistically tied with {len(tied)} others: see the table." in first_paragraph
    assert not any(key in first_paragraph for key in tied)
    index = (big["out"] / "index.html").read_text()
    assert f"{len(tied)} models (" in index and not any(f"{key}," in index for key in tied)


def test_leaderboard_is_filterable_by_card_facts(big):
    html, page = big["html"], big["page"]
    bar = html[html.index('<div class="filters"') : html.index("</div>", html.index('<div class="filters"'))]
    assert 'type="search"' in bar
    for facet in ("size", "dim", "license", "langs"):
        assert f'data-filter="{facet}"' in bar
    by_key = {s.key: s for s in big["specs"]}
    for row in page.rows:
        facets = row_facets(row, "de")
        spec = by_key[row.model.key]
        assert facets["dim"] == str(spec.dimension.value)
        assert facets["license"] == (spec.license.value or "unknown")
        bound = next(b for b, label in SIZE_CLASSES if label == facets["size"])
        assert spec.parameters.value < bound
        attrs = "".join(f' data-{k}="{v}"' for k, v in facets.items())
        assert f'data-model="{row.model.key}"{attrs}>' in html
        assert f"<option>{facets['license']}</option>" in bar and f"<option>{facets['langs']}</option>" in bar
    assert {row_facets(r, "de")["langs"] for r in page.rows} >= {"German only", "multilingual", "several languages"}
    # self-contained: the filter script is inline, nothing is fetched
    assert "querySelectorAll(\".filters[data-table]\")" in html
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|@import", html)


def test_small_pages_keep_the_plain_table(tmp_path):
    root = _folder(tmp_path, 3)
    specs = load_specs(root / "registry")
    build_reports(root / "results", specs, tmp_path / "out", ["de"])
    html = (tmp_path / "out" / "de.html").read_text()
    assert '<div class="filters"' not in html and "data-size=" not in html
    page = build_page("de", load_results(root / "results"), specs, None)
    for row in page.tied:  # a few ties are still named
        assert row.model.name in _summary(html)


def test_charts_stay_bounded_as_the_page_grows(big, tmp_path):
    html = big["html"]
    assert f"The top {CHART_TOP} of 60 models" in html
    small_root = _folder(tmp_path, 40)
    small = build_page("de", load_results(small_root / "results"), load_specs(small_root / "registry"), None)
    chart_40, chart_60 = len(score_chart(small)), len(score_chart(big["page"]))
    assert abs(chart_60 - chart_40) < 0.1 * chart_40  # 20 more models, the same chart size
    assert len(html.encode()) < 2**20


def test_paired_tests_are_cached_beside_the_results(big, tmp_path, monkeypatch):
    results = big["root"] / "results"
    cache = results / CACHE_DIR / CACHE_FILE
    assert cache.is_file()
    assert all(CACHE_DIR not in p.parts for p in iter_result_files(results))  # loaders skip it

    def refuse(job):
        raise AssertionError("a cached paired test was recomputed")

    monkeypatch.setattr(paired_mod, "_compute", refuse)
    build_reports(results, big["specs"], tmp_path / "warm", ["de"])
    assert (tmp_path / "warm" / "de.html").read_bytes() == big["html"].encode()
    monkeypatch.undo()
    cache.write_bytes(b"not a database")  # damaged: ignored, never fatal, same page
    build_reports(results, big["specs"], tmp_path / "damaged", ["de"])
    assert (tmp_path / "damaged" / "de.html").read_bytes() == big["html"].encode()
    cache.unlink()  # safe to delete
    build_reports(results, big["specs"], tmp_path / "cold", ["de"])
    assert (tmp_path / "cold" / "de.html").read_bytes() == big["html"].encode()


def test_parallel_tests_equal_one_by_one(big, monkeypatch):
    page = big["page"]
    leader = page.rows[0]
    pairs = [(r.cells[u].run, leader.cells[u].run) for r in page.rows[1:13] for u in page.units]
    monkeypatch.setattr(paired_mod, "PARALLEL_MIN_TESTS", 1)
    parallel = PairedTests(workers=2).run(pairs)
    assert parallel == [paired_test(a, b) for a, b in pairs]
    assert all(t.status == "ok" for t in parallel)
