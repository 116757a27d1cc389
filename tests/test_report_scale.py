"""Reports at leaderboard scale: summaries that count, filterable tables, bounded charts, cached tests.

Pages are built from synthetic result folders (``benchmarks/synthetic.py``: real STS-B German
gold scores, per-model similarities written by ``harness.store.write_run``), cut to 200 pairs
per task so the tests stay fast. Timings at full size are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from harness import paired_cache as paired_cache_mod
from harness.evaluate import paired_test
from harness.paired_cache import CACHE_DIR, CACHE_FILE
from harness.report import build_page, build_reports, load_specs, report_command
from harness.report import paired as paired_mod
from harness.report.charts import CHART_TOP, score_chart
from harness.report.filters import NAMED_MAX, SIZE_CLASSES, row_facets
from harness.report.paired import PairedTests
from harness.report.render import language_page, render_language, template_env
from harness.store import iter_result_files, load_results

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import synthetic

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
    return html[
        html.index('<section class="card summary"') : html.index('<section class="card" id="leaderboard"')
    ]


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
    assert {row_facets(r, "de")["langs"] for r in page.rows} >= {
        "German only",
        "multilingual",
        "several languages",
    }
    # self-contained: the filter script is inline, nothing is fetched
    assert 'querySelectorAll(".filters[data-table]")' in html
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|@import", html)


def test_small_pages_keep_the_plain_table(tmp_path):
    root = _folder(tmp_path, 3)
    specs = load_specs(root / "registry")
    build_reports(root / "results", specs, tmp_path / "out", ["de"])
    html = (tmp_path / "out" / "de.html").read_text()
    assert '<div class="filters"' not in html and "data-size=" not in html
    assert 'data-filter="zeroshot"' in html  # only the zero-shot filter, on every page (issue 21)
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


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """8 models x 2 tasks and their German page, built with a working cache (no warning)."""
    root = _folder(tmp_path_factory.mktemp("cache"), 8)
    warnings: list[str] = []
    build_reports(root / "results", load_specs(root / "registry"), root / "ref", ["de"], warnings=warnings)
    assert warnings == [] and (root / "results" / CACHE_DIR / CACHE_FILE).is_file()
    return {"root": root, "page": (root / "ref" / "de.html").read_bytes()}


def _spoil(kind: str, results: Path, outside: Path, monkeypatch) -> sqlite3.Connection | None:
    """Put an unusable cache in place; returns the connection holding the lock for "locked"."""
    folder = results / CACHE_DIR
    shutil.rmtree(folder, ignore_errors=True)
    if kind == "folder-is-a-file":
        folder.write_text("not a folder")
        return None
    if kind == "folder-is-a-link":
        outside.mkdir()
        folder.symlink_to(outside, target_is_directory=True)
        return None
    if kind == "read-only-results":
        results.chmod(0o555)
        if os.geteuid() == 0:  # root writes anyway: refuse the way a read-only folder does
            real_mkdir = Path.mkdir

            def mkdir(self, *args, **kwargs):
                if self == folder:
                    raise PermissionError(errno.EACCES, "Permission denied", str(self))
                return real_mkdir(self, *args, **kwargs)

            monkeypatch.setattr(Path, "mkdir", mkdir)
        return None
    folder.mkdir()
    cache = folder / CACHE_FILE
    if kind == "fifo":
        os.mkfifo(cache)  # opening it for reading would wait for a writer forever
    elif kind == "file-is-a-link":
        outside.write_bytes(b"")
        cache.symlink_to(outside)
    elif kind == "locked":
        monkeypatch.setattr(paired_cache_mod, "LOCK_TIMEOUT_S", 0.2)
        holder = sqlite3.connect(cache, isolation_level=None, check_same_thread=False)
        holder.execute("CREATE TABLE held (x)")
        holder.execute("BEGIN EXCLUSIVE")  # another build in the middle of a long write
        return holder
    return None


@pytest.mark.parametrize(
    "kind",
    ["fifo", "file-is-a-link", "folder-is-a-link", "folder-is-a-file", "locked", "read-only-results"],
)
def test_an_unusable_cache_costs_a_warning_never_the_report(small, tmp_path, capsys, monkeypatch, kind):
    results = small["root"] / "results"
    outside = tmp_path / "outside"
    holder = _spoil(kind, results, outside, monkeypatch)
    out = tmp_path / "out"
    codes: list[int] = []
    worker = threading.Thread(
        target=lambda: codes.append(report_command(results, small["root"] / "registry", out, ["de"])),
        daemon=True,
    )
    try:
        worker.start()
        worker.join(120)
        assert not worker.is_alive(), "report stalled on the cache"
    finally:
        results.chmod(0o755)
        if holder is not None:
            holder.close()
        monkeypatch.undo()
        shutil.rmtree(results / CACHE_DIR, ignore_errors=True)
        if (results / CACHE_DIR).is_symlink() or (results / CACHE_DIR).is_file():
            (results / CACHE_DIR).unlink()
    err = capsys.readouterr().err
    assert codes == [0] and "Traceback" not in err
    warned = [line for line in err.splitlines() if "paired-test cache" in line]
    assert (
        len(warned) == 1
        and warned[0].startswith("harness: warning: ")
        and str(results / CACHE_DIR) in warned[0]
    )
    assert "computing the paired tests without it" in warned[0]
    assert (out / "de.html").read_bytes() == small["page"]  # every test computed, same page
    if outside.is_file():
        assert outside.read_bytes() == b""  # nothing written through the link
    elif outside.is_dir():
        assert list(outside.iterdir()) == []


def test_a_damaged_cache_is_replaced_with_a_warning(small, tmp_path, capsys):
    results = small["root"] / "results"
    cache = results / CACHE_DIR / CACHE_FILE
    cache.parent.mkdir(exist_ok=True)
    cache.write_bytes(b"not a database, just bytes" * 100)
    assert report_command(results, small["root"] / "registry", tmp_path / "out", ["de"]) == 0
    err = capsys.readouterr().err
    warned = [line for line in err.splitlines() if "paired-test cache" in line]
    assert len(warned) == 1 and str(cache) in warned[0] and "started a new one" in warned[0]
    assert (tmp_path / "out" / "de.html").read_bytes() == small["page"]
    assert paired_cache_mod.PairedCache(results).get_many([]) == {}  # a working database again
    with sqlite3.connect(cache) as conn:
        assert conn.execute("SELECT COUNT(*) FROM paired").fetchone()[0] > 0


def test_a_page_of_1000_models_and_30_tasks_stays_a_few_mib_and_names_only_the_leader(tmp_path):
    """The issue's target size, in memory: 1,000 models x 30 tasks (12 pairs each: the pairs
    are not on the page), ties by interval overlap (paired tests at this size are timed in
    benchmarks/bench_scale.py, whose report run writes the same page from files)."""
    if not (synthetic.STSB / "stsb-de-test.csv").is_file():
        pytest.skip("STS-B German files not available")
    specs = load_specs(synthetic.write_registry(tmp_path / "registry", 1000))
    page = language_page("de", synthetic.stored_results(1000, 30, max_pairs=12), specs, None)
    html, md = render_language(template_env(), page, "results")
    assert len(page.rows) == 1000 and len(page.units) == 30 and len(page.tied) > 100
    assert len(html.encode()) < 4 * 2**20 and len(md.encode()) < 2 * 2**20
    summary = _summary(html)
    leader = page.rows[0].model.key
    assert f"<strong>synthetic/{leader}</strong>" in summary
    assert f"statistically tied with {len(page.tied)} others: see" in summary
    assert len(re.findall(r"synth-\d{4}", summary)) == 1  # the leader only
    assert f"statistically tied with {len(page.tied)} others: see the table." in md.split("\n\n")[1]
    # every model is in the filterable table, the charts show the top and summarise the rest
    assert len(re.findall(r'<tr class="[a-z]*" data-model="synth-\d{4}" data-size=', html)) == 1000
    assert '<div class="filters" data-table="leaderboard-table"' in html
    assert f"The top {CHART_TOP} of 1000 models" in html and "Task scores are in the table (30 tasks" in html
    assert html.count("<svg") == 2


FILTER_PROBE = """<script>
var shown = function () {
  return Array.prototype.filter.call(document.querySelectorAll("#leaderboard-table tbody tr"),
    function (r) { return !r.hidden; }).map(function (r) { return r.getAttribute("data-model"); }).join(",");
};
var th = document.querySelectorAll("#leaderboard-table thead th")[2];
th.click();
document.body.setAttribute("data-asc", shown());
th.click();
document.body.setAttribute("data-desc", shown());
var license = document.querySelector('.filters select[data-filter="license"]');
license.value = "mit";
license.dispatchEvent(new Event("change"));
document.body.setAttribute("data-mit", shown());
var q = document.querySelector('.filters input[data-filter="q"]');
q.value = "SYNTH-001";
q.dispatchEvent(new Event("input"));
document.body.setAttribute("data-mit-q", shown());
document.body.setAttribute("data-count", document.querySelector(".filter-count").textContent);
</script>"""


def test_large_table_sorts_and_filters_in_chromium(big, tmp_path):
    """The compact leaderboard (task cells without data-sort) sorts by a task column, and the
    license filter and the search box narrow it, in a real browser."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Chromium is not installed")
    from render_screenshot import FLAGS

    html, page = big["html"], big["page"]
    first = page.units[0]
    score = {r.model.key: round(r.cells[first].score, 2) for r in page.rows if first in r.cells}
    ranked = [r.model.key for r in page.rows]
    asc = sorted(ranked, key=lambda k: (k not in score, score.get(k, 0)))  # stable; missing last
    desc = sorted(asc, key=lambda k: (k not in score, -score.get(k, 0)))
    mit = [
        k
        for k in desc
        if row_facets(next(r for r in page.rows if r.model.key == k), "de")["license"] == "mit"
    ]
    mit_q = [k for k in mit if "synth-001" in k]
    assert mit and mit_q and len(mit_q) < len(mit) < len(desc)
    probe = tmp_path / "probe.html"
    unsafe = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)  # let the probe run
    probe.write_text(unsafe.replace("</body>", FILTER_PROBE + "</body>"), encoding="utf-8")
    cmd = [browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", probe.as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False).stdout
    assert f'data-asc="{",".join(asc)}"' in dom
    assert f'data-desc="{",".join(desc)}"' in dom
    assert f'data-mit="{",".join(mit)}"' in dom
    assert f'data-mit-q="{",".join(mit_q)}"' in dom
    assert f'data-count="showing {len(mit_q)} of 60 models"' in dom
