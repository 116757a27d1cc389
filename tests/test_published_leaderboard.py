"""Published leaderboards (issue 22): every model MTEB published for a language, ours beside them.

Checked against mteb's own reader (``ResultCache``, ``TaskResult.from_disk``,
``BenchmarkResults.join_revisions``) on the shared copy of MTEB's results repository.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_mteb_roundtrip import MINILM, MINILM_REV, PUBLISHED, _stored_minilm

from harness.published import Published, index_folder, open_published
from harness.report import build_reports, report_command
from harness.report.published_rows import approximate_ci, language_units, standing_results

REPO = Path(__file__).resolve().parent.parent
SHARED_RESULTS = (REPO / ".." / "shared" / "data" / "mteb-results").resolve()
# Our real run of all-MiniLM-L6-v2 on GermanSTSBenchmark (harness run, 1,379 pairs, bootstrap seed 0).
OURS_DE = 0.6056169915801828
OURS_DE_CI = [0.56562194, 0.64153599]


@pytest.fixture(scope="module")
def shared_results() -> Path:
    if not (SHARED_RESULTS / "results").is_dir():
        pytest.skip(f"{SHARED_RESULTS} not found")
    return SHARED_RESULTS


@pytest.fixture(scope="module")
def german(shared_results: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The German page over the whole shared copy, with our MiniLM result on GermanSTSBenchmark."""
    root = tmp_path_factory.mktemp("german")
    _stored_minilm(root / "results", "local-8e719ca57718", OURS_DE, OURS_DE_CI)
    errors: list[str] = []
    published = open_published(shared_results, errors)
    build_reports(root / "results", [], root / "out", ["de"], published=published, warnings=errors)
    return {
        "json": json.loads((root / "out" / "de.json").read_text(encoding="utf-8")),
        "md": (root / "out" / "de.md").read_text(encoding="utf-8"),
        "html": (root / "out" / "de.html").read_text(encoding="utf-8"),
        "errors": errors,
        "index": published.load_all(),
    }


def _mteb_german_scores(shared_results: Path) -> dict[str, float]:
    """Model -> GermanSTSBenchmark test main score, as mteb's own reader chooses and reads it."""
    import mteb

    results = mteb.ResultCache(cache_path=shared_results).load_results(
        tasks=["GermanSTSBenchmark"], require_model_meta=False, include_remote=True
    )
    scores: dict[str, float] = {}
    for model in results.join_revisions():
        for task in model.task_results:
            if "test" in task.scores and (value := task.get_score(splits=["test"])) == value:  # not NaN
                scores[model.model_name] = float(value)
    return scores


def test_german_page_lists_every_model_with_a_published_german_sts_benchmark_score(german, shared_results):
    expected = _mteb_german_scores(shared_results)
    assert len(expected) >= 190  # 193 in the copy of 2026-08-20
    rows = german["json"]["rows"]
    on_page = {
        r["model"]: (r["scores"]["GermanSTSBenchmark"], r["score_source"]["GermanSTSBenchmark"])
        for r in rows
        if "GermanSTSBenchmark" in r["scores"]
    }
    assert set(on_page) == set(expected)
    for model, (score, source) in on_page.items():
        if model == MINILM:
            assert source == "measured" and score == pytest.approx(OURS_DE, abs=1e-6)
            continue
        # mteb's number (the JSON page keeps 6 decimals on the 0-1 scale)
        assert source == "published" and score == pytest.approx(expected[model], abs=5e-7), model
    assert len({r["model"] for r in rows}) == len(rows)  # one row per model


def test_published_scores_are_mteb_task_result_main_scores_exactly(german, shared_results):
    from mteb.results import TaskResult

    entries = [e for e in german["index"].entries if e.task == "GermanSTSBenchmark" and e.split == "test"]
    assert len(entries) >= 190
    for entry in entries:  # one subset: mteb's score for the split is the file's main score
        assert entry.score == TaskResult.from_disk(Path(entry.path)).get_score(splits=["test"]), entry.path


def test_minilm_is_both_and_reproduced(german):
    (row,) = [r for r in german["json"]["rows"] if r["model"] == MINILM]
    assert row["source"] == "both" and row["reproduced"] is True
    assert row["reproduction"].startswith("reproduced")
    assert "published for revision 8b3219a92973; ours are local weights" in row["reproduction"]
    assert row["published_score"]["GermanSTSBenchmark"] == pytest.approx(0.6056173, abs=1e-6)
    assert german["json"]["best_measured"] == MINILM
    assert german["json"]["leader"] == german["json"]["rows"][0]["model"] != MINILM
    # the measured task ranks with our score; the others are MTEB's, marked approximate
    assert row["score_source"]["GermanSTSBenchmark"] == "measured"
    assert row["score_source"]["STS22.v2[de]"] == "published"
    assert "STS22.v2[de]" in row["approximate_ci"] and "GermanSTSBenchmark" not in row["approximate_ci"]


def test_superseded_task_versions_never_share_a_column(german):
    labels = [t["key"] for t in german["json"]["tasks"]]
    assert "STS22.v2[de]" in labels and not any(label.startswith("STS22[") for label in labels)
    assert labels == [u.label for u in language_units("de")]


def test_nan_scores_are_one_warning_line(german):
    lines = [e for e in german["errors"] if "main_score" in e or "main scores" in e]
    assert len(lines) == 1
    assert lines[0].startswith("12 published main scores left out") and "AFQMC" in lines[0]


def test_page_shows_sources_filters_and_the_approximate_legend(german):
    html, md = german["html"], german["md"]
    assert '<select data-filter="source">' in html and 'data-filter="size"' in html
    assert 'data-source="published"' in html and 'data-source="both"' in html
    assert "approximate 95% interval" in html and "Bonett–Wright" in html
    assert "Best model we measured" in html and MINILM in html and 'id="approximate-legend"' in html
    assert "≈[" in html
    # results folders named external / no_revision_available are used, and labelled
    assert "external results</span>" in html
    assert "; external results |" in md
    assert "| both: reproduced" in md and "Bonett–Wright" in md


def test_approximate_interval_is_fisher_z_with_bonett_wright_variance():
    from scipy.stats import norm

    rho, n = 0.6056173, 1379
    lo, hi = approximate_ci(rho, n)
    se = math.sqrt((1 + rho**2 / 2) / (n - 3))
    z = norm.ppf(0.975)
    assert (lo, hi) == pytest.approx(
        (math.tanh(math.atanh(rho) - z * se), math.tanh(math.atanh(rho) + z * se))
    )
    # close to our bootstrap interval of the same score on the same 1,379 pairs
    assert lo == pytest.approx(OURS_DE_CI[0], abs=0.005) and hi == pytest.approx(OURS_DE_CI[1], abs=0.005)
    assert approximate_ci(0.5, 3) is None and approximate_ci(1.0, 100) is None


def test_approximate_interval_covers_simulated_spearman_spread():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    n, r = 500, 0.6
    cov = [[1, r], [r, 1]]
    stats = [spearmanr(*rng.multivariate_normal([0, 0], cov, n).T).statistic for _ in range(400)]
    center = float(np.median(stats))
    lo, hi = approximate_ci(center, n)
    emp_lo, emp_hi = np.percentile(stats, [2.5, 97.5])
    assert (hi - lo) == pytest.approx(emp_hi - emp_lo, rel=0.15)


def _entry(revision: str, version: str | None, score: float, path: str) -> Published:
    return Published(MINILM, revision, "GermanSTSBenchmark", "test", "default", score, path, version)


def test_the_standing_result_follows_mteb_s_rule():
    main = _entry(MINILM_REV, "1.0.0", 0.1, "a")
    newer = _entry("f" * 40, "2.0.0", 0.2, "b")
    external = _entry("external", "2.5.0", 0.3, "c")
    no_version = _entry("e" * 40, None, 0.4, "d")
    pick = standing_results
    assert pick([main, newer, external, no_version], MINILM)["GermanSTSBenchmark"] == [main]  # registry's
    assert pick([newer, external, no_version], MINILM)["GermanSTSBenchmark"] == [newer]  # real revision
    assert pick([external, no_version], MINILM)["GermanSTSBenchmark"] == [external]  # has a version
    assert pick([no_version], MINILM)["GermanSTSBenchmark"] == [no_version]


def test_standing_results_agree_with_mteb_join_revisions(german, shared_results):
    import mteb

    results = mteb.ResultCache(cache_path=shared_results).load_results(
        tasks=["GermanSTSBenchmark"], require_model_meta=False, include_remote=True
    )
    chosen = {m.model_name: m.model_revision for m in results.join_revisions()}
    by_model: dict[str, list[Published]] = {}
    for e in german["index"].entries:
        if e.task == "GermanSTSBenchmark":
            by_model.setdefault(e.model, []).append(e)
    differ = [
        m
        for m, entries in by_model.items()
        if m in chosen and standing_results(entries, m)["GermanSTSBenchmark"][0].revision != chosen[m]
    ]
    assert differ == []


# ---------------------------------------------------------------- bad input in DIR


def _tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        h.update(str(path.relative_to(folder)).encode())
        st = path.lstat()
        h.update(f"{st.st_mode}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def test_bad_published_files_are_counted_skipped_and_nothing_is_modified(tmp_path, capsys):
    folder = Path(shutil.copytree(PUBLISHED, tmp_path / "pub"))
    res = folder / "results"
    rev = res / MINILM.replace("/", "__") / MINILM_REV
    good = json.loads((rev / "GermanSTSBenchmark.json").read_text())
    (rev / "STS22.v2.json").write_text('{"scores": {"test": [{"main_score"')  # truncated
    (rev / "SICK-R.json").write_text("null")  # JSON, not a result
    (rev / "STS12.json").write_text("[1, 2]")
    (rev / "STSBenchmark.json").write_text(json.dumps({"tool": "another", "value": 1}))  # another tool's
    with (rev / "STS13.json").open("wb") as fh:  # 1 GB, sparse
        fh.truncate(1024**3)
    (res / "org__no-results" / "rev").mkdir(parents=True)  # a model folder with no results
    gone = res / "org__gone-task" / "rev"
    gone.mkdir(parents=True)
    (gone / "RemovedTask.json").write_text(json.dumps({**good, "task_name": "RemovedTask"}))
    upper = res / "Sentence-Transformers__all-MiniLM-L6-v2" / MINILM_REV  # differs only in case
    upper.mkdir(parents=True)
    (upper / "GermanSTSBenchmark.json").write_text(json.dumps(good))
    before = _tree_digest(folder)

    index = index_folder(folder)
    kinds = "\n".join(index.warnings)
    assert len(index.warnings) == 4, kinds
    assert "5 published result files skipped" in kinds and "13.json: published result skipped" not in kinds
    assert "org__no-results: published model folder holds no result file" in kinds
    assert "task 'RemovedTask' is not an mteb task" in kinds
    assert "Sentence-Transformers__all-MiniLM-L6-v2: differs only in case" in kinds
    assert {e.model for e in index.entries} == {MINILM}

    results = tmp_path / "results"
    _stored_minilm(results, "local-8e719ca57718", OURS_DE, OURS_DE_CI)
    assert report_command(results, None, tmp_path / "reports", ["de"], folder) == 0
    err = capsys.readouterr().err
    assert sum("published" in line for line in err.splitlines()) == 4, err
    page = json.loads((tmp_path / "reports" / "de.json").read_text())
    assert [r["source"] for r in page["rows"]] == ["both"]
    assert _tree_digest(folder) == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_the_whole_folder_is_one_counted_line(tmp_path):
    folder = Path(shutil.copytree(PUBLISHED, tmp_path / "pub"))
    os.mkfifo(folder / "results" / MINILM.replace("/", "__") / MINILM_REV / "STS22.v2.json")
    index = index_folder(folder)
    assert len(index.warnings) == 1 and "a FIFO, not a regular file" in index.warnings[0]
    assert any(e.task == "GermanSTSBenchmark" for e in index.entries)


def test_every_language_page_is_written_when_no_language_is_asked(tmp_path):
    results = tmp_path / "results"
    _stored_minilm(results, "local-8e719ca57718", OURS_DE, OURS_DE_CI)
    written = build_reports(results, [], tmp_path / "out", published=open_published(PUBLISHED))
    names = sorted(p.name for p in written)
    # the fixture publishes MiniLM on German tasks only; no page for a language without scores
    assert names == ["de.html", "de.json", "de.md", "index.html"]


def test_mteb_results_comes_from_harness_toml(tmp_path, monkeypatch):
    from harness import config

    (tmp_path / "harness.toml").write_text(f'mteb_results = "{PUBLISHED}"\n')
    cfg = config.resolve({}, cwd=tmp_path, environ={})
    assert cfg.mteb_results.value == PUBLISHED and cfg.mteb_results.source == "file"
    cfg = config.resolve({"mteb_results": tmp_path}, cwd=tmp_path, environ={})
    assert cfg.mteb_results.value == tmp_path and cfg.mteb_results.source == "option"


@pytest.mark.integration
def test_real_minilm_run_is_both_and_reproduced_on_the_german_page(
    tmp_path, minilm_dir, shared_dir, shared_results
):
    """Done-when of issue 22: our own run of all-MiniLM-L6-v2 sits on the published German page as
    *both*, reproduced, ranked by our score."""
    from fixtures.workspace import write_entry

    from harness import run as runner

    registry = tmp_path / "registry"
    write_entry(registry, "sentence-transformers__all-minilm-l6-v2", MINILM, minilm_dir, lang="en")
    options = runner.RunOptions(
        languages=["de"],
        task_names=["GermanSTSBenchmark"],
        data_dir=shared_dir / "data" / "sts",
        results_dir=tmp_path / "results",
        registry_dir=registry,
        model_names=["sentence-transformers__all-minilm-l6-v2"],
        cache_dir=tmp_path / "emb",
        allow_hub=False,
    )
    assert not runner.run(options, say=lambda _: None).failed
    assert report_command(tmp_path / "results", registry, tmp_path / "out", ["de"], shared_results) == 0
    page = json.loads((tmp_path / "out" / "de.json").read_text())
    (row,) = [r for r in page["rows"] if r["model"] == MINILM]
    assert row["source"] == "both" and row["reproduced"] is True
    assert row["reproduction"].startswith("reproduced")
    assert row["score_source"]["GermanSTSBenchmark"] == "measured"
    assert row["published_score"]["GermanSTSBenchmark"] == round(0.6056173489848747, 6)
    assert sum(r["source"] == "published" for r in page["rows"]) >= 190
