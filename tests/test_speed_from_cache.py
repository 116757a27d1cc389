"""The speed cells of `report` and `compare` after runs that found every vector in the embedding cache:
real runs of a tiny model, in process, then the pages and the comparison built from what they stored."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness import report as rpt
from harness.registry import load_registry
from harness.registry_add import add_command
from harness.report.compare import compare_command
from harness.report.view import FROM_CACHE, speed_of
from harness.run import RunOptions, run
from harness.store import load_results

SENTENCES = [
    ("A man is playing a guitar.", "A man plays the guitar.", 4.8),
    ("A dog runs in the park.", "A cat sleeps on the sofa.", 0.4),
    ("The sun is bright today.", "It is a sunny day.", 4.0),
    ("She is cooking dinner.", "He is reading a book.", 0.8),
    ("Kids play football outside.", "Children are playing soccer.", 4.5),
    ("The market opens at nine.", "A bird sings in the tree.", 0.2),
]


def _pairs(path: Path) -> Path:
    path.write_text("sentence1\tsentence2\tscore\n" + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in SENTENCES))
    return path


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_bert_dir, tiny_xlmr_dir) -> Path:
    root = tmp_path_factory.mktemp("speed")
    for name, src in (("model-a", tiny_bert_dir), ("model-b", tiny_xlmr_dir)):
        shutil.copytree(src, root / "models" / name)
        assert (
            add_command(
                [str(root / "models" / name)], root / "registry", mteb=False, force=False, languages=["en"]
            )
            == 0
        )
    return root


def _run(project: Path, results: Path, *pairs: Path, force: bool = False) -> None:
    options = RunOptions(
        languages=["en"],
        results_dir=results,
        registry_dir=project / "registry",
        pairs_files=list(pairs),
        cache_dir=results.parent / "cache",  # one embedding cache per test
        device="cpu",
        force=force,
        bootstrap_resamples=100,
    )
    summary = run(options, say=lambda _line: None)
    assert not summary.failed


def _speed_rows(results: Path, project: Path, out: Path) -> dict[str, list[str]]:
    from test_report import table

    rpt.build_reports(results, load_registry(project / "registry"), out, ["en"])
    rows = table((out / "en.html").read_text(encoding="utf-8"), "speed-table").rows
    return {r[1]: r for r in rows}


def test_a_fully_cached_run_says_so_instead_of_zero_speed(project, tmp_path, capsys):
    results = tmp_path / "results"
    a = _pairs(tmp_path / "a.tsv")
    _run(project, results, a)
    first = _speed_rows(results, project, tmp_path / "r1")
    assert all(row[2] not in ("–", "0.0") and row[4] == "cpu" for row in first.values())
    _run(project, results, a, force=True)  # recomputed: every vector comes from the cache
    stored = [r.run.encode for r in load_results(results)]
    assert stored and all(e.n_encoded == 0 and e.device == "none" for e in stored)
    again = _speed_rows(results, project, tmp_path / "r2")
    for row in again.values():
        assert row[2] == "–" and row[3] == "–" and row[4] == FROM_CACHE  # not "0.0", "0 B", "none"
    md = (tmp_path / "r2" / "en.md").read_text(encoding="utf-8")
    assert md.count(FROM_CACHE) == 2 and "| 0.0 |" not in md
    assert compare_command("model-a", "model-b", results, project / "registry", "en", True) == 0
    out = capsys.readouterr().out
    assert f"| device | {FROM_CACHE} | {FROM_CACHE} |" in out
    assert "| sentences/s | – | – |" in out and "none" not in out.split("## Speed")[1].split("##")[0]


def test_the_speed_of_the_run_that_encoded_is_kept(project, tmp_path):
    """Task A encoded in one run, task B (the same sentences) read from the cache in a later one: the
    row's speed is A's, not a median with B's 0; and a row whose runs all read from the cache shows
    the speed of the stored run that encoded with the same settings, saying so."""
    results = tmp_path / "results"
    a, b = _pairs(tmp_path / "a.tsv"), _pairs(tmp_path / "b.tsv")
    _run(project, results, a)
    _run(project, results, b)
    by_task = {(r.model_key, r.task_name): r.run for r in load_results(results) if r.model_key == "model-a"}
    encoded, cached = by_task[("model-a", "custom:a")], by_task[("model-a", "custom:b")]
    assert encoded.encode.n_encoded > 0 and cached.encode.n_encoded == 0
    rows = _speed_rows(results, project, tmp_path / "r")
    rate = encoded.encode.sentences_per_second
    assert rows["model-a"][2] == (f"{rate:,.0f}" if rate >= 100 else f"{rate:.1f}")
    assert rows["model-a"][4] == "cpu"
    kept = speed_of([cached], [cached, encoded])
    assert kept is not None and kept.sentences_per_second == rate
    assert kept.device.startswith("cpu; " + FROM_CACHE) and "that encoded" in kept.device
    other_settings = encoded.model_copy(update={"settings_hash": "0" * 16})
    alone = speed_of([cached], [cached, other_settings])
    assert alone is not None and alone.sentences_per_second is None and alone.device == FROM_CACHE
