"""The results folder never loses a good result, never hangs a reader, and survives bad files.

- a failed attempt never replaces a successful record of the same identity (``--force`` included);
- records with different identities (data revision, settings) live side by side;
- only regular files of bounded size are read: a FIFO, a link to /dev/zero, a folder, a link
  loop or a huge file named ``*.json`` is reported in one line and skipped, without blocking;
- a file that is JSON but not a valid result (wrong shape, bad record, 100,000-deep nesting)
  is moved to ``.quarantine/`` (never deleted) when ``run`` reads it, and its results recomputed;
- result files are readable like any output file (the umask decides).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from harness import store
from harness.records import RunRecord
from harness.store import io as result_io
from harness.store import size as result_size

REV = "abc123"


def record(identity: str = "id-1", status: str = "ok", score: float = 0.5, **extra) -> RunRecord:
    ok = status == "ok"
    return RunRecord(
        split="test",
        subset=extra.pop("subset", "de"),
        status=status,
        identity=identity,
        languages=["deu-Latn"],
        scores={"main_score": score, "cosine_spearman": score} if ok else {},
        error=None if ok else "CUDA requested but not available",
        error_kind=extra.pop("error_kind", None if ok else "failed"),
        **extra,
    )


def write(root: Path, run: RunRecord, task: str = "STSBenchmarkMultilingualSTS", notes=None) -> Path:
    return store.write_run(
        root,
        model_key="org__model",
        model_id="org/model",
        revision=REV,
        task_name=task,
        mteb_version="2.26.24",
        dataset_revision="29afa2569dcedaaa2fe6a3dcfebab33d28b82e8c",
        weights_source="models-dir",
        run=run,
        notes=notes,
    )


def runs_in(path: Path) -> list[tuple[str, str, float | None]]:
    data = json.loads(path.read_text())
    return [(r["identity"], r["status"], r["scores"].get("main_score")) for r in data["harness"]["runs"]]


# ---------------------------------------------------------------- a good result is never lost


def test_failure_never_replaces_a_good_result_of_the_same_identity(tmp_path):
    path = write(tmp_path, record(score=0.61, finished_at="2024-05-01T10:00:00Z"))
    before = path.read_bytes()
    notes: list[str] = []
    for kind in ("out-of-memory", "failed", "non-finite"):
        failed = record(status="error", error_kind=kind, finished_at="2024-05-02T10:00:00Z")
        assert write(tmp_path, failed, notes=notes) == path
    assert path.read_bytes() == before  # not even rewritten
    assert len(notes) == 3
    assert notes[0].startswith("org__model: STSBenchmarkMultilingualSTS test/de: error (out-of-memory)")
    assert "not stored over the good result of 2024-05-01T10:00:00Z" in notes[0] and str(path) in notes[0]
    assert store.completed_identities(tmp_path, "org__model", REV, "org/model") == {"id-1"}


def test_a_new_success_of_the_same_identity_replaces_the_old_one(tmp_path):
    write(tmp_path, record(score=0.61))
    path = write(tmp_path, record(score=0.62))  # --force recomputed it
    assert runs_in(path) == [("id-1", "ok", 0.62)]


def test_different_identities_live_side_by_side(tmp_path):
    """Another data revision (a different pairs file, same name) or other settings: both are kept."""
    write(
        tmp_path, record("data-A", score=0.40, data_revision="local-aaa", finished_at="2024-01-01T00:00:00Z")
    )
    path = write(
        tmp_path, record("data-B", score=0.70, data_revision="local-bbb", finished_at="2024-02-01T00:00:00Z")
    )
    write(
        tmp_path,
        record("fp16", status="error", error_kind="out-of-memory", finished_at="2024-03-01T00:00:00Z"),
    )
    assert runs_in(path) == [("data-A", "ok", 0.40), ("data-B", "ok", 0.70), ("fp16", "error", None)]
    data = json.loads(path.read_text())
    # MTEB's list has one entry per subset: the good result that finished last, not the later failure.
    assert [(e["hf_subset"], e["main_score"]) for e in data["scores"]["test"]] == [("de", 0.70)]
    assert store.completed_identities(tmp_path, "org__model", REV, "org/model") == {"data-A", "data-B"}
    shown = store.shown_runs([s.run for s in store.load_results(tmp_path)])
    assert [(r.identity, r.status) for r in shown] == [("data-B", "ok")]


def test_a_failure_is_stored_where_there_was_nothing_good(tmp_path):
    path = write(tmp_path, record(status="error", error_kind="failed"))
    assert runs_in(path) == [("id-1", "error", None)]
    write(tmp_path, record(score=0.5))
    assert runs_in(path) == [("id-1", "ok", 0.5)]


# ---------------------------------------------------------------- nothing hangs a reader


def _in_thread(fn, timeout: float = 20.0):
    out: dict = {}

    def target():
        out["value"] = fn()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "reading the results folder blocked"
    return out["value"]


def _odd_files(folder: Path) -> dict[str, str]:
    """Not-regular or oversized files named *.json, and the reason each is skipped."""
    folder.mkdir(parents=True, exist_ok=True)
    os.mkfifo(folder / "Fifo.json")
    (folder / "Zero.json").symlink_to("/dev/zero")
    (folder / "Loop.json").symlink_to(folder / "Loop.json")
    (folder / "Folder.json").mkdir()
    limit = result_io.MAX_RESULT_BYTES
    with (folder / "Huge.json").open("wb") as fh:
        fh.truncate(limit + 1)  # sparse: costs no disk
    return {
        "Fifo.json": "a FIFO, not a regular file; not read",
        "Zero.json": "a character device, not a regular file; not read",
        "Loop.json": "cannot open it (Too many levels of symbolic links)",
        "Folder.json": "a folder, not a regular file; not read",
        "Huge.json": f"{limit + 1} bytes, more than {limit} allowed; not read",
    }


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_dev_zero_loops_folders_and_huge_files_are_skipped_without_blocking(tmp_path):
    good = write(tmp_path, record())
    expected = _odd_files(good.parent)
    errors: list[str] = []
    results = _in_thread(lambda: store.load_results(tmp_path, errors, quarantine_bad=True))
    assert [r.run.identity for r in results] == ["id-1"]
    assert sorted(errors) == sorted(f"{good.parent / name}: {why}" for name, why in expected.items())
    assert all("\n" not in e for e in errors)
    # Skipped, never moved: they are not results this version wrote, and moving is not reading.
    assert not (tmp_path / result_io.QUARANTINE_FOLDER).exists()
    notes: list[str] = []
    done = _in_thread(
        lambda: store.completed_identities(tmp_path, "org__model", REV, "org/model", notes=notes)
    )
    assert done == {"id-1"} and len(notes) == len(expected)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_writing_over_a_fifo_does_not_block_and_keeps_it_aside(tmp_path):
    target = store.result_path(tmp_path, "org__model", REV, "GermanSTSBenchmark")
    target.parent.mkdir(parents=True)
    os.mkfifo(target)
    notes: list[str] = []
    path = _in_thread(lambda: write(tmp_path, record(), task="GermanSTSBenchmark", notes=notes))
    assert path == target and runs_in(path) == [("id-1", "ok", 0.5)]
    (kept,) = (tmp_path / result_io.QUARANTINE_FOLDER).iterdir()
    assert kept.is_fifo() and len(notes) == 1 and str(kept) in notes[0]


# ---------------------------------------------------------------- bad files are quarantined


BAD_FILES = {
    "harness-list": ('{"task_name": "T", "harness": []}', "no valid 'harness' block"),
    "runs-not-list": ('{"harness": {"runs": {"a": 1}}}', "no valid 'harness' block"),
    "missing-fields": ('{"harness": {"runs": [{"split": "test"}]}}', "invalid run record"),
    "wrong-status": (
        '{"harness": {"runs": [{"split": "test", "subset": "de", "status": "great", "identity": "x"}]}}',
        "invalid run record",
    ),
    "deep": ("[" * 100_000 + "]" * 100_000, "JSON nested too deeply"),
    "deep-object": ('{"harness": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}", "JSON nested too deeply"),
    "array": ("[1, 2, 3]", "not a JSON object"),
    "truncated": ('{"harness": {"runs": [', "unreadable JSON"),
    "not-utf8": (b'{"task_name": "\xff\xfe"}', "unreadable JSON"),
    "text-score": (
        '{"harness": {"runs": [{"split": "test", "subset": "de", "status": "ok", "identity": "x", '
        '"scores": {"main_score": "high"}}]}}',
        "invalid run record",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_invalid_result_files_are_quarantined_by_run_and_only_reported_by_report(tmp_path, name):
    good = write(tmp_path, record())
    content, reason = BAD_FILES[name]
    bad = good.parent / f"{name}.json"
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    # report / compare: reported in one line, the file left where it is
    errors: list[str] = []
    assert [r.run.identity for r in _in_thread(lambda: store.load_results(tmp_path, errors))] == ["id-1"]
    assert len(errors) == 1 and errors[0].startswith(f"{bad}: ") and reason in errors[0]
    assert "\n" not in errors[0] and len(errors[0]) < 400 and bad.exists()
    # run: moved aside (kept byte for byte) and reported; the good result still counts
    notes: list[str] = []
    done = store.completed_identities(tmp_path, "org__model", REV, "org/model", notes=notes)
    assert done == {"id-1"} and not bad.exists()
    (kept,) = (tmp_path / result_io.QUARANTINE_FOLDER).iterdir()
    assert kept.read_bytes() == (content if isinstance(content, bytes) else content.encode())
    assert len(notes) == 1 and str(bad) in notes[0] and f"moved to {kept}" in notes[0]
    assert "recomputed" in notes[0]


def test_a_bad_file_at_the_write_path_is_kept_aside_and_replaced(tmp_path):
    path = write(tmp_path, record())
    path.write_text('{"harness": {"runs": [{"split": "test"}]}}')
    notes: list[str] = []
    write(tmp_path, record("id-2", score=0.7, subset="es"), notes=notes)
    assert runs_in(path) == [("id-2", "ok", 0.7)]
    (kept,) = (tmp_path / result_io.QUARANTINE_FOLDER).iterdir()
    assert kept.read_text() == '{"harness": {"runs": [{"split": "test"}]}}'
    assert len(notes) == 1 and "invalid run record" in notes[0]


def test_one_bad_model_folder_does_not_stop_the_others(tmp_path):
    write(tmp_path, record())
    other = store.result_path(tmp_path, "org__other", REV, "STSBenchmarkMultilingualSTS")
    other.parent.mkdir(parents=True)
    other.write_text('{"harness": []}')
    errors: list[str] = []
    assert len(store.load_results(tmp_path, errors)) == 1 and len(errors) == 1


# ---------------------------------------------------------------- file modes


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_result_files_are_readable_like_any_output(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = write(tmp_path, record())
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode
    assert (path.parent / "model_meta.json").stat().st_mode & 0o777 == mode


def test_atomic_text_write_failure_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "de.html"
    result_io.atomic_write_text(target, "<html>old</html>", what="report")

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(result_io.os, "fsync", full_disk)
    with pytest.raises(store.StoreError, match=r"de\.html: cannot write report: No space left on device"):
        result_io.atomic_write_text(target, "<html>new and longer</html>", what="report")
    assert target.read_text() == "<html>old</html>"
    assert [p.name for p in tmp_path.iterdir()] == ["de.html"]


# ---------------------------------------------------------------- through the runner


def test_run_quarantines_a_bad_result_file_recomputes_it_and_runs_the_other_models(tmp_path, tiny_bert_dir):
    from fixtures.workspace import write_entry, write_pairs

    from harness import run as runner

    registry = tmp_path / "registry"
    write_entry(registry, "first", "org/first", tiny_bert_dir)
    write_entry(registry, "second", "org/second", tiny_bert_dir)
    results = tmp_path / "results"

    def run_all() -> list[str]:
        lines: list[str] = []
        options = runner.RunOptions(
            languages=[],
            pairs_files=[write_pairs(tmp_path / "pairs.tsv")],
            results_dir=results,
            registry_dir=registry,
            model_names=["first", "second"],
            cache_dir=tmp_path / "emb",
            bootstrap_resamples=100,
            allow_hub=False,
        )
        assert not runner.run(options, say=lines.append).failed
        return lines

    run_all()
    first = next(p for p in store.iter_result_files(results) if "org__first" in str(p))
    good = first.read_bytes()
    first.write_text('{"harness": {"runs": [{"split": "test", "status": "great"}]}}')
    lines = run_all()
    (kept,) = (results / result_io.QUARANTINE_FOLDER).iterdir()
    (moved,) = [line for line in lines if "moved to" in line]
    assert moved.startswith(f"harness: {first}: invalid run record: ")
    assert moved.endswith(f"; moved to {kept}, its results will be recomputed")
    # recomputed: same identity and score as before; the second model was left as it was
    before, after = (
        json.loads(good)["harness"]["runs"][0],
        json.loads(first.read_text())["harness"]["runs"][0],
    )
    assert (after["identity"], after["scores"]) == (before["identity"], before["scores"])
    assert {r.model_key for r in store.load_results(results)} == {"first", "second"}


# ---------------------------------------------------------------- files that move while read


def test_a_result_file_that_vanishes_while_loading_is_skipped_without_a_word(tmp_path, monkeypatch):
    write(tmp_path, record("id-1"))
    gone = write(tmp_path, record("id-2", subset="es"), task="GermanSTSBenchmark")
    real = result_io.read_bytes

    def moved_meanwhile(path, limit):  # a concurrent run migrates the file after it was listed
        if Path(path) == gone:
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return real(path, limit)

    monkeypatch.setattr(result_io, "read_bytes", moved_meanwhile)
    errors: list[str] = []
    assert [r.run.identity for r in store.load_results(tmp_path, errors)] == ["id-1"]
    assert errors == []
    notes: list[str] = []
    done = store.completed_identities(tmp_path, "org__model", REV, "org/model", notes=notes)
    assert done == {"id-1"} and notes == [] and gone.exists()
    assert not (tmp_path / result_io.QUARANTINE_FOLDER).exists()


# ---------------------------------------------------------------- never a file the reader refuses


def with_pairs(identity: str, day: int, n: int = 400, **extra) -> RunRecord:
    sims = [round(((i * 7919 + day) % 1000) / 1000 - 0.5, 7) for i in range(n)]
    gold = [round(((i * 104729 + day) % 500) / 100, 2) for i in range(n)]
    when = f"2024-05-{day:02d}T10:00:00Z"
    return record(
        identity, score=0.5 + day / 100, finished_at=when, cosine_similarities=sims, gold=gold, **extra
    )


def test_a_too_large_file_at_the_write_path_is_kept_and_never_written_over(tmp_path, monkeypatch):
    path = write(tmp_path, with_pairs("id-1", 1))
    before = path.read_bytes()
    # a good file this version does not read
    monkeypatch.setattr(result_io, "MAX_RESULT_BYTES", len(before) - 1)
    with pytest.raises(store.StoreError) as caught:
        write(tmp_path, with_pairs("id-2", 2))
    message = str(caught.value)
    assert message == (
        f"{path}: not stored: the file there has {len(before)} bytes, more than the {len(before) - 1} "
        "this version reads; kept as it is (move it aside to store new results there)"
    )
    assert path.read_bytes() == before
    # run's loaders report it and leave it where it is
    notes: list[str] = []
    store.prepare_folder(tmp_path, notes)
    assert store.completed_identities(tmp_path, "org__model", REV, "org/model", notes=notes) == set()
    assert notes == [f"{path}: {len(before)} bytes, more than {len(before) - 1} allowed; not read"] * 2
    assert path.read_bytes() == before and not (tmp_path / result_io.QUARANTINE_FOLDER).exists()


def test_the_store_never_writes_a_file_its_own_reader_refuses(tmp_path, monkeypatch):
    # One task file, eight runs of other data (eight identities), each with its per-pair arrays.
    one = len(write(tmp_path / "probe", with_pairs("id-0", 1)).read_bytes())
    limit = int(one * 2.6)
    monkeypatch.setattr(result_io, "MAX_RESULT_BYTES", limit)
    written: dict[str, RunRecord] = {}
    lines: list[str] = []
    for day in range(1, 9):
        run = with_pairs(f"id-{day}", day)
        written[run.identity] = run
        notes: list[str] = []
        path = write(tmp_path, run, task="custom:big", notes=notes)
        lines += notes
        assert path.stat().st_size <= limit
        errors: list[str] = []
        loaded = {s.run.identity: s.run for s in store.load_results(tmp_path, errors)}
        assert errors == []
        # no good record lost: every identity is there with its scores, resume skips them all
        assert {i: r.scores for i, r in loaded.items()} == {i: r.scores for i, r in written.items()}
        assert store.completed_identities(tmp_path, "org__model", REV, "org/model") == set(written)
        # the newest (shown) record keeps its arrays; only superseded ones may lose theirs
        assert loaded[run.identity].cosine_similarities == run.cosine_similarities
        assert loaded[run.identity].gold == run.gold
    assert len(lines) >= 3 and all("\n" not in line for line in lines)
    assert lines[0].startswith(f"{path}: with this record the file would have ")
    assert f"more than the {limit} this version reads: the per-pair similarities and gold scores" in lines[0]
    assert "superseded record(s) left out (their scores kept; the records in full are in " in lines[0]
    # Nothing computed is lost: each left-out record is kept in full under .superseded/ (no reader
    # loads it there).
    kept = sorted((tmp_path / result_size.SUPERSEDED_FOLDER).iterdir())
    assert sorted(str(k) for k in kept) == sorted(line.rsplit(" ", 1)[1].rstrip(")") for line in lines)
    final = {r["identity"]: r for r in json.loads(path.read_text())["harness"]["runs"]}
    stripped = {i for i, r in final.items() if r["cosine_similarities"] is None}
    assert stripped and "id-8" not in stripped and "id-7" not in stripped
    copies = [RunRecord.model_validate(r) for k in kept for r in json.loads(k.read_text())["harness"]["runs"]]
    assert sorted(r.identity for r in copies) == sorted(stripped)
    assert all(r == written[r.identity] for r in copies)
    assert [s.run.identity for s in store.load_results(tmp_path)] == [f"id-{d}" for d in range(1, 9)]
    # the oldest lose theirs first, and no more than needed
    assert stripped == {f"id-{d}" for d in range(1, 1 + len(stripped))}
    assert len(final) - len(stripped) >= 2


def test_a_record_too_large_for_any_file_is_refused_and_the_file_kept(tmp_path, monkeypatch):
    path = write(tmp_path, with_pairs("id-1", 1, n=10))
    before = path.read_bytes()
    monkeypatch.setattr(result_io, "MAX_RESULT_BYTES", len(before) + 1000)
    with pytest.raises(store.StoreError) as caught:
        write(tmp_path, with_pairs("id-2", 2, n=400))
    assert str(caught.value).startswith(f"{path}: not stored: with this record the file would have ")
    assert "even without the per-pair similarities of its 1 superseded record(s); the file is kept" in str(
        caught.value
    )
    assert path.read_bytes() == before and not (tmp_path / result_size.SUPERSEDED_FOLDER).exists()


def test_a_long_model_id_and_task_name_fit_in_file_names(tmp_path: Path) -> None:
    """A 90+95-character Hub id with a 240-character pairs file name: the lock file's name (built from
    the whole result path) was over 255 bytes, `OSError: File name too long`, and the run stopped."""
    model_id = "o" * 90 + "/" + "m" * 95
    task = "custom:" + "p" * 240
    path = store.write_run(
        tmp_path, model_key="long", model_id=model_id, revision=REV, task_name=task,
        mteb_version="2.26.24", dataset_revision=None, weights_source="models-dir",
        run=record(subset="default"),
    )  # fmt: skip
    assert path.is_file() and all(len(part.encode()) <= 255 for part in path.parts)
    (loaded,) = store.load_results(tmp_path)
    assert loaded.task_name == task and loaded.model_id == model_id
    locks = list((tmp_path / ".locks").iterdir())
    assert locks and all(len(p.name.encode()) <= 255 for p in locks)
    with store.model_lock(tmp_path, "k" * 200):  # the model's own lock, for the longest key
        pass
