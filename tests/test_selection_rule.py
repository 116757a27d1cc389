"""Issue 24, tier 7: one rule, in the store, says which stored run stands for a model, task, subset and split.

The rule (harness.store.selection): the newest successful run stands, except that a run in fp16 or
bf16 never replaces an fp32 run of the same model revision. mteb's ``scores`` block (what
``mteb.TaskResult.from_disk`` and ``mteb.ResultCache`` read back), the language pages, ``compare``
and the cost section all use ``store.select_run``; the other versions stored beside the run shown
(another revision, data or settings) are named on the page and in ``reports/<lang>.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mteb
import pytest
from fixtures.project import MODEL_KEY, TASK, make_project

from harness import cli, encode, store
from harness.encode import load as encode_load
from harness.records import RunRecord, RunSettings
from harness.report import compare, cost, view
from harness.report.words import other_runs
from harness.store import selection

SHARED_STS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sts"
MTEB_TASK = "GermanSTSBenchmark"  # a local copy mteb's statistics verify: stored under MTEB's name
UNIT = MTEB_TASK


@pytest.fixture
def project(tmp_path: Path, tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A configured project (harness.toml) whose German model is the tiny BERT; cwd below it.

    Half precision is GPU-only in ``encode.resolve_dtype`` (on a CPU ``--dtype fp16`` runs and is
    stored as fp32); here the requested dtype is honoured on the CPU, so that a real ``run --dtype
    fp16`` stores what it does on a GPU: a record whose settings say fp16, beside the fp32 one.
    """
    if not SHARED_STS.is_dir():
        pytest.skip("shared/data/sts not present")
    root = make_project(tmp_path / "proj", tiny_bert_dir)
    monkeypatch.setenv("HARNESS_CONFIG", str(root / "harness.toml"))
    monkeypatch.chdir(root / "sub")
    real = encode_load.resolve_dtype

    def as_asked(requested: str, device: str) -> Any:
        return requested if requested in ("fp16", "bf16") else real(requested, device)

    monkeypatch.setattr(encode, "resolve_dtype", as_asked)
    monkeypatch.setattr(encode_load, "resolve_dtype", as_asked)
    return root


def run_cli(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    rc = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def german(capsys: pytest.CaptureFixture[str], *extra: Any) -> None:
    argv = ["run", "--lang", "de", "--task", MTEB_TASK, "--model", MODEL_KEY, "--data-dir", SHARED_STS]
    rc, _, err = run_cli(capsys, *argv, "--bootstrap", "100", *extra)
    assert rc == 0, err


def report(project: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], str, str]:
    """(the German row of reports/de.json, de.md, de.html) after ``harness report``."""
    out = project / "reports"
    rc, _, err = run_cli(capsys, "report", "--out", out)
    assert rc == 0, err
    page = json.loads((out / "de.json").read_text(encoding="utf-8"))
    (row,) = [r for r in page["rows"] if r["key"] == MODEL_KEY]
    return row, (out / "de.md").read_text(encoding="utf-8"), (out / "de.html").read_text(encoding="utf-8")


def ours(project: Path) -> list[store.StoredResult]:
    errors: list[str] = []
    found = [s for s in store.load_results(project / "results", errors) if s.task_name == MTEB_TASK]
    assert errors == []
    return found


def mteb_main_score(path: str, subset: str = "default") -> float:
    """The task's test score as mteb reads the file back (its own reader and validation)."""
    result = mteb.TaskResult.from_disk(Path(path)).validate_and_filter_scores()
    (entry,) = [e for e in result.scores["test"] if e["hf_subset"] == subset]
    return float(entry["main_score"])


# ---------------------------------------------------------------- real runs: fp32, then --dtype fp16


def test_an_fp16_rerun_never_replaces_the_fp32_score(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    german(capsys, "--dtype", "fp32")
    german(capsys, "--dtype", "fp16")
    stored = {s.run.settings.dtype: s for s in ours(project)}
    assert set(stored) == {"fp32", "fp16"}  # side by side, in one task file
    fp32, fp16 = stored["fp32"], stored["fp16"]
    assert fp32.path == fp16.path and fp16.run.finished_at > fp32.run.finished_at

    # mteb's scores block keeps the fp32 score ...
    assert mteb_main_score(fp32.path) == pytest.approx(fp32.run.scores["main_score"], abs=1e-12)
    # ... and so does the page, which names the fp16 run beside it
    row, md, html = report(project, capsys)
    assert row["scores"][UNIT] == round(fp32.run.scores["main_score"], 6)
    shown = row["settings"][UNIT]
    assert shown["settings"]["dtype"] == "fp32" and shown["revision"] == fp32.revision
    assert shown["settings_hash"] == fp32.run.settings_hash
    assert shown["reason"] == "a newer fp16 run of the same revision does not replace the fp32 run"
    (other,) = row["other_runs"][UNIT]
    assert (other["differs"], other["status"], other["settings"]["dtype"]) == ("fp16", "ok", "fp16")
    assert other["score"] == round(fp16.run.scores["main_score"], 6)
    assert other["settings_hash"] == fp16.run.settings_hash
    assert f"{UNIT}: shown fp32 (a newer fp16 run of the same revision" in md and "also stored fp16: " in md
    assert "(also stored: 1 other run)" in md  # the leaderboard cell says it too
    assert "also stored: fp16: " in html


def test_a_new_model_revision_stands_and_the_old_one_is_named(
    project: Path, capsys: pytest.CaptureFixture[str], tiny_bert_normalize_dir: Path
) -> None:
    german(capsys)
    link = project / "models" / MODEL_KEY
    link.unlink()
    link.symlink_to(tiny_bert_normalize_dir, target_is_directory=True)  # other weights: a new revision
    german(capsys)
    old, new = sorted(ours(project), key=lambda s: s.run.finished_at or "")
    assert old.revision != new.revision and old.path != new.path
    row, md, _ = report(project, capsys)
    assert row["settings"][UNIT]["revision"] == new.revision
    assert row["scores"][UNIT] == round(new.run.scores["main_score"], 6)
    (other,) = row["other_runs"][UNIT]
    assert other["revision"] == old.revision and other["differs"].startswith(f"revision {old.revision[:20]}")
    assert f"also stored revision {old.revision[:20]}" in md
    # mteb reads each revision folder on its own: each file's scores block is its own revision's run,
    # and the page's score is the one in the newest revision's file
    assert mteb_main_score(new.path) == pytest.approx(row["scores"][UNIT], abs=1e-6)
    assert mteb_main_score(old.path) == pytest.approx(old.run.scores["main_score"], abs=1e-12)
    loaded = mteb.ResultCache(cache_path=project).load_results()  # it reads <cache_path>/results
    revisions = {m.model_revision for m in loaded if m.model_name == "org/tiny-de"}
    assert revisions == {old.revision, new.revision}


# ---------------------------------------------------------------- the rule, through the store's writes

REV_A, REV_B = "local-aaaaaaaaaaaa", "local-bbbbbbbbbbbb"


def record(dtype: str, score: float, finished: str, *, status: str = "ok", **settings: Any) -> RunRecord:
    run_settings = RunSettings(dtype=dtype, **settings)  # type: ignore[arg-type]
    ok = status == "ok"
    return RunRecord(
        split="test",
        subset="de",
        status=status,  # type: ignore[arg-type]
        identity=f"{dtype}-{finished}-{run_settings.identity_hash()}",
        languages=["deu-Latn"],
        settings=run_settings,
        settings_hash=run_settings.identity_hash(),
        data_revision="local-data",
        n_pairs=30,
        scores={"main_score": score, "cosine_spearman": score} if ok else {},
        ci95=[score - 0.05, score + 0.05] if ok else None,
        error=None if ok else "out of memory at batch size 1",
        error_kind=None if ok else "out-of-memory",
        started_at=finished,
        finished_at=finished,
    )


def write(root: Path, run: RunRecord, revision: str = REV_A, model_key: str = MODEL_KEY) -> Path:
    return store.write_run(
        root,
        model_key=model_key,
        model_id=f"org/{model_key.split('__')[1]}",
        revision=revision,
        task_name=TASK,
        mteb_version=mteb.__version__,
        dataset_revision=None,
        weights_source="models-dir",
        run=run,
    )


def scores_block(path: Path) -> float:
    return mteb_main_score(str(path), "de")


def page_cell(root: Path) -> tuple[float, store.Selection[store.StoredResult]]:
    page = view.build_page("de", store.load_results(root), [], None)
    (row,) = [r for r in page.rows if r.model.key == MODEL_KEY]
    (cell,) = row.cells.values()
    assert cell.selection is not None
    return cell.score / 100, cell.selection


@pytest.mark.parametrize(
    ("order", "shown"),
    [
        ([("fp32", 0.61), ("fp16", 0.55)], 0.61),
        ([("fp16", 0.55), ("fp32", 0.61)], 0.61),
        ([("bf16", 0.58), ("fp32", 0.61), ("fp16", 0.55)], 0.61),
        ([("bf16", 0.58), ("fp16", 0.55)], 0.55),  # no fp32 stored: the newest
        ([("fp16", 0.55), ("bf16", 0.58)], 0.58),
    ],
)
def test_reduced_precision_never_replaces_fp32_of_the_same_revision(
    tmp_path: Path, order: list[tuple[str, float]], shown: float
) -> None:
    for i, (dtype, score) in enumerate(order):
        path = write(tmp_path, record(dtype, score, f"2026-01-0{i + 1}T00:00:00"))
    score, chosen = page_cell(tmp_path)
    assert score == pytest.approx(shown) == scores_block(path)
    assert len(chosen.others) == len(order) - 1
    assert {o.differs for o in chosen.others} == {d for d, s in order if s != shown}


def test_a_new_revision_stands_over_an_older_one_re_run_in_fp16(tmp_path: Path) -> None:
    write(tmp_path, record("fp32", 0.61, "2026-01-01T00:00:00"), REV_A)
    path_b = write(tmp_path, record("fp32", 0.70, "2026-01-02T00:00:00"), REV_B)
    path_a = write(tmp_path, record("fp16", 0.55, "2026-01-03T00:00:00"), REV_A)  # newest, older weights
    score, chosen = page_cell(tmp_path)
    assert score == pytest.approx(0.70) == scores_block(path_b)
    assert chosen.shown.revision == REV_B and chosen.label == f"revision {REV_B}, fp32"
    # revision A's own file shows its fp32 run; the page names both of its versions, newest first
    assert scores_block(path_a) == pytest.approx(0.61)
    assert [(o.item.revision, o.item.run.settings.dtype, o.differs) for o in chosen.others] == [
        (REV_A, "fp16", f"revision {REV_A}, fp16"),
        (REV_A, "fp32", f"revision {REV_A}"),
    ]


def test_a_failure_of_other_settings_is_named_not_shown(tmp_path: Path) -> None:
    write(tmp_path, record("fp32", 0.61, "2026-01-01T00:00:00"))
    path = write(tmp_path, record("fp32", 0.0, "2026-01-02T00:00:00", status="error", prompt="query: "))
    score, chosen = page_cell(tmp_path)
    assert score == pytest.approx(0.61) == scores_block(path)
    (other,) = chosen.others
    assert other.differs == "prompt `query: `" and other.item.run.status == "error"
    assert other_runs(chosen.others) == "prompt `query: `: out of memory (2026-01-02)"


def test_settings_that_differ_are_said_in_words() -> None:
    base = record("fp32", 0.6, "2026-01-01T00:00:00", max_seq_length=256)
    other = record("fp32", 0.6, "2026-01-02T00:00:00", max_seq_length=128, encoder="mteb:loader")
    assert store.how_it_differs(other, base) == "max_seq_length 128, encoder mteb:loader"
    assert store.how_it_differs(base, other) == "max_seq_length 256, the sentence-transformers encoder"
    dot = record("fp32", 0.6, "2026-01-03T00:00:00", max_seq_length=256, similarity="dot")
    assert store.how_it_differs(dot, base) == "similarity dot"  # was: "settings <hash>"
    assert store.how_it_differs(base, dot) == "similarity cosine"


# ---------------------------------------------------------------- one function, used by every reader


def test_the_rule_is_one_function_every_reader_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not hasattr(view, "pick_record")  # the report's own rule is gone
    for module in (view, compare, cost):
        assert module.select_run is store.select_run is selection.select_run
    other = "org__tiny-en"
    for key in (MODEL_KEY, other):
        write(tmp_path, record("fp32", 0.61, "2026-01-01T00:00:00"), model_key=key)
        write(tmp_path, record("fp16", 0.55, "2026-01-02T00:00:00"), model_key=key)
    cmp = compare.compare_models(MODEL_KEY, other, store.load_results(tmp_path), [], "de", None)
    assert [(t.a, t.b) for t in cmp.tasks] == [(pytest.approx(61.0), pytest.approx(61.0))]
    # Change the rule in its one place: every reader follows (fp16 now counts as the full precision).
    monkeypatch.setattr(selection, "FULL_PRECISION", "fp16")
    paths = [
        write(tmp_path, record("bf16", 0.58, "2026-01-03T00:00:00"), model_key=k) for k in (MODEL_KEY, other)
    ]
    assert [scores_block(p) for p in paths] == [pytest.approx(0.55)] * 2  # mteb's scores blocks
    score, _ = page_cell(tmp_path)
    assert score == pytest.approx(0.55)  # the page
    cmp = compare.compare_models(MODEL_KEY, other, store.load_results(tmp_path), [], "de", None)
    assert [(t.a, t.b) for t in cmp.tasks] == [(pytest.approx(55.0), pytest.approx(55.0))]  # compare
