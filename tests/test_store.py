"""Result files: MTEB layout, merging, atomic writes, path safety, resume identities."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from harness import store
from harness.store import io as result_io
from harness.store import migration as result_migration


def _run(
    subset: str = "de", status: str = "ok", score: float = 0.5, identity: str = "id-de", **extra
) -> store.RunRecord:
    scores = (
        {"main_score": score, "cosine_spearman": score, "cosine_pearson": score + 0.01}
        if status == "ok"
        else {}
    )
    return store.RunRecord(
        split="test",
        subset=subset,
        status=status,
        identity=identity,
        languages=[{"de": "deu-Latn", "es": "spa-Latn"}.get(subset, "eng-Latn")],
        scores=scores,
        ci95=[score - 0.02, score + 0.02] if status == "ok" else None,
        error=None if status == "ok" else "boom",
        **extra,
    )


def _write(
    root: Path, run: store.RunRecord, task: str = "STSBenchmarkMultilingualSTS", revision: str = "abc123"
) -> Path:
    return store.write_run(
        root,
        model_key="org__model",
        model_id="org/model",
        revision=revision,
        task_name=task,
        mteb_version="2.26.24",
        dataset_revision="29afa2569dcedaaa2fe6a3dcfebab33d28b82e8c",
        weights_source="models-dir",
        run=run,
    )


def test_layout_and_mteb_taskresult_loads_it(tmp_path: Path) -> None:
    path = _write(tmp_path, _run("de", score=0.6240))
    assert path == tmp_path / "org__model" / "abc123" / "STSBenchmarkMultilingualSTS.json"
    data = json.loads(path.read_text())
    assert data["scores"]["test"][0]["hf_subset"] == "de"
    assert data["scores"]["test"][0]["cosine_spearman"] == pytest.approx(0.6240)
    assert data["harness"]["runs"][0]["ci95"] == pytest.approx([0.604, 0.644])

    mteb = pytest.importorskip("mteb")
    loaded = mteb.TaskResult.from_disk(path)
    assert loaded.task_name == "STSBenchmarkMultilingualSTS"
    assert loaded.get_score() == pytest.approx(0.6240)


def test_subsets_merge_into_one_task_file_and_identities_live_side_by_side(tmp_path: Path) -> None:
    _write(tmp_path, _run("de", score=0.60, finished_at="2024-01-01T00:00:00Z"))
    _write(tmp_path, _run("es", score=0.70, identity="id-es"))
    path = _write(tmp_path, _run("de", score=0.65, identity="id-de-2", finished_at="2024-01-02T00:00:00Z"))
    data = json.loads(path.read_text())
    subsets = {e["hf_subset"]: e["main_score"] for e in data["scores"]["test"]}
    assert subsets == {"de": 0.65, "es": 0.70}  # MTEB's list shows the latest good record
    runs = [(r["subset"], r["identity"]) for r in data["harness"]["runs"]]
    assert runs == [("de", "id-de"), ("de", "id-de-2"), ("es", "id-es")]
    # The same identity again replaces its record.
    path = _write(tmp_path, _run("de", score=0.66, identity="id-de", finished_at="2024-01-03T00:00:00Z"))
    data = json.loads(path.read_text())
    de_runs = [r for r in data["harness"]["runs"] if r["subset"] == "de"]
    assert [(r["identity"], r["scores"]["main_score"]) for r in de_runs] == [
        ("id-de-2", 0.65),
        ("id-de", 0.66),
    ]
    assert {e["hf_subset"]: e["main_score"] for e in data["scores"]["test"]}["de"] == 0.66


def test_error_runs_are_kept_but_not_scored(tmp_path: Path) -> None:
    path = _write(tmp_path, _run("de", status="error", error_kind="out-of-memory"))
    data = json.loads(path.read_text())
    assert data["scores"] == {}
    assert data["harness"]["runs"][0]["error"] == "boom"
    loaded = store.load_results(tmp_path)
    assert [(r.run.status, r.run.error_kind) for r in loaded] == [("error", "out-of-memory")]


def test_completed_identities_only_counts_successes(tmp_path: Path) -> None:
    _write(tmp_path, _run("de", identity="ok-1"))
    _write(tmp_path, _run("es", status="error", identity="bad-1"))
    assert store.completed_identities(tmp_path, "org__model", "abc123") == {"ok-1"}
    assert store.completed_identities(tmp_path, "org__model", "other") == set()


def test_run_identity_changes_with_each_part() -> None:
    base = dict(revision="r", task_name="T", subset="de", split="test", data_revision="d", settings_hash="s")
    ids = {store.run_identity(**base)}
    for key in base:
        ids.add(store.run_identity(**{**base, key: base[key] + "x"}))
    assert len(ids) == len(base) + 1


@pytest.mark.parametrize("bad", ["../etc", "..", "a/b", "/abs", "x\x00y", "", "a" * 300, "..hidden"])
def test_untrusted_names_never_escape_the_results_folder(tmp_path: Path, bad: str) -> None:
    with pytest.raises(store.StoreError):
        store.result_path(tmp_path, bad, "rev", "Task")
    with pytest.raises(store.StoreError):
        store.result_path(tmp_path, "key", bad, "Task")


def test_custom_task_names_become_safe_file_names(tmp_path: Path) -> None:
    path = store.result_path(tmp_path, "key", "rev", "custom:my pairs/../x")
    assert path.parent == tmp_path / "key" / "rev"
    assert path.name.startswith("custom_my_pairs___x-") and path.name.endswith(".json")


def test_failed_write_leaves_previous_file_intact_and_no_temp_files(tmp_path: Path, monkeypatch) -> None:
    path = _write(tmp_path, _run("de", score=0.61))
    before = path.read_bytes()

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(result_io.os, "fsync", full_disk)
    with pytest.raises(store.StoreError, match="No space left on device"):
        _write(tmp_path, _run("es", score=0.7, identity="x"))
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, "model_meta.json"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_results_folder_gives_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path, _run("de"))
    path.parent.chmod(0o555)
    try:
        with pytest.raises(store.StoreError, match="cannot write result"):
            _write(tmp_path, _run("es", identity="y"))
    finally:
        path.parent.chmod(0o755)


def test_unreadable_result_files_are_reported_not_raised(tmp_path: Path) -> None:
    _write(tmp_path, _run("de"))
    bad = tmp_path / "org__model" / "abc123" / "Broken.json"
    bad.write_text("{not json")
    errors: list[str] = []
    results = store.load_results(tmp_path, errors)
    assert len(results) == 1
    assert len(errors) == 1 and "Broken.json" in errors[0]


LEGACY = Path(__file__).parent / "fixtures" / "results" / "legacy-v1"  # written before records were typed


def test_result_files_of_version_1_still_load(tmp_path: Path) -> None:
    errors: list[str] = []
    loaded = {r.model_key: r.run for r in store.load_results(LEGACY, errors)}
    assert errors == []
    assert {key: (run.status, run.error_kind) for key, run in loaded.items()} == {
        "tiny-bert": ("ok", None),
        "broken-bert": ("error", "load-failed"),
        "missing-bert": ("unavailable", "weights-unavailable"),
    }
    ok = loaded["tiny-bert"]
    assert (ok.settings.dtype, ok.settings.max_seq_length, ok.settings.pooling) == ("fp32", 32, "mean")
    assert ok.encode.n_cache_hits == ok.encode.n_unique == 60 and ok.encode.device == "none"
    assert ok.hardware.cpu_count == 2 and ok.scores["main_score"] == ok.scores["cosine_spearman"]
    assert loaded["missing-bert"].encode is None and loaded["missing-bert"].hardware is None

    # Before a run plans, the migration moves a version-1 folder's files into today's layout
    # (originals kept); a record written afterwards merges with the moved ones.
    root = Path(shutil.copytree(LEGACY, tmp_path / "results"))
    path = next((root / "tiny-bert").glob("*/*.json"))
    original = path.read_bytes()
    assert json.loads(original)["harness"]["runs"][0]["encode"]["dtype"] == "none"
    notes: list[str] = []
    assert result_migration.migrate(root, notes) == 3
    new_path = store.write_run(
        root,
        model_key="tiny-bert",
        model_id="example/tiny-bert",
        revision=path.parent.name,
        task_name="custom:pairs",
        mteb_version="2.26.24",
        dataset_revision=None,
        weights_source="registry-path",
        run=_run("de"),
        notes=notes,
    )
    assert new_path == root / "example__tiny-bert" / path.parent.name / "harness-local" / path.name
    assert not path.exists()
    backups = list((root / ".migrated").glob(f"*/tiny-bert/{path.parent.name}/{path.name}"))
    assert len(backups) == 1 and backups[0].read_bytes() == original
    assert any("3 result file(s) of an earlier version moved" in n for n in notes)
    runs = json.loads(new_path.read_text())["harness"]["runs"]
    assert [(r["subset"], r["status"]) for r in runs] == [("de", "ok"), ("default", "ok")]
    assert runs[1]["identity"] == ok.identity and runs[1]["settings"]["dtype"] == "fp32"
    assert "dtype" not in runs[1]["encode"]
    # Nothing was lost: every record of the old folder loads from the new one.
    assert {(r.model_key, r.run.status) for r in store.load_results(root)} == {
        ("tiny-bert", "ok"),
        ("broken-bert", "error"),
        ("missing-bert", "unavailable"),
    } and len(store.load_results(root)) == 4
    meta = json.loads((new_path.parent.parent / "model_meta.json").read_text())
    assert (meta["name"], meta["revision"]) == ("example/tiny-bert", path.parent.name)
    assert (root / "example__missing-bert" / "no-revision").is_dir()
    assert not (root / "example__missing-bert" / "no-revision" / "model_meta.json").exists()


def test_unknown_error_kind_does_not_validate() -> None:
    with pytest.raises(ValueError, match="error_kind"):
        _run("de", status="error", error_kind="oom")


# ---------------------------------------------------------------- migration survives an interrupt


class Crash(BaseException):
    """Stands for SIGINT or SIGKILL: nothing in the harness catches it."""


def _legacy_tree(root: Path, n: int) -> None:
    """`n` version 1 files (one model each), plus one already in today's folder (registry key
    ``org__m``, model id ``org/m``) whose GermanSTSBenchmark file holds a record that is renamed."""
    source = json.loads(next((LEGACY / "tiny-bert").glob("*/*.json")).read_text())
    for i in range(n):
        data = json.loads(json.dumps(source))
        data["harness"].update(model_key=f"k{i:04d}", model_id=f"org/k{i:04d}", revision="rev1")
        path = root / f"k{i:04d}" / "rev1" / "custom_pairs-d65353be.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(data))
    data = json.loads(json.dumps(source))
    data["task_name"] = "GermanSTSBenchmark"
    data["harness"].update(model_key="org__m", model_id="org/m", revision="rev1")
    aws, deepl = (dict(data["harness"]["runs"][0]) for _ in range(2))
    aws.update(identity="aws-1", data_source="/data/aws/test.tsv")
    deepl.update(identity="deepl-1", data_source="/data/deepl/test.tsv")
    data["harness"]["runs"] = [aws, deepl]
    path = root / "org__m" / "rev1" / "GermanSTSBenchmark.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))


def _held(root: Path) -> list[tuple[str, str, str, str, float | None]]:
    errors: list[str] = []
    loaded = store.load_results(root, errors)
    assert errors == []
    return sorted(
        (r.model_key, r.task_name, r.run.identity, r.run.status, r.run.scores.get("main_score"))
        for r in loaded
    )


def _version_1_left(root: Path) -> list[Path]:
    return [
        p
        for p in store.iter_result_files(root)
        if json.loads(p.read_text())["harness"].get("schema_version", 1) == 1
    ]


@pytest.mark.parametrize(
    ("step", "nth"),
    [("copy", 1), ("copy", 4), ("write", 1), ("write", 3), ("rewrite", 1), ("unlink", 1), ("unlink", 5)],
)
def test_an_interrupted_migration_loses_nothing_and_a_rerun_completes_it(
    tmp_path: Path, monkeypatch, step: str, nth: int
) -> None:
    root = tmp_path / "results"
    _legacy_tree(root, 8)
    expected = _held(root)  # version 1 files are read as they are, with today's names
    assert len(expected) == 10 and ("org__m", "GermanSTSBenchmark-deepl") in {e[:2] for e in expected}
    calls = {"n": 0}

    def crashing(real):
        def call(*args, **kwargs):
            first = str(args[0])
            if step != "unlink" or (first.endswith(".json") and not Path(first).name.startswith(".")):
                calls["n"] += 1
                if calls["n"] == nth:
                    raise Crash
            return real(*args, **kwargs)

        return call

    target = {
        "copy": (result_migration.shutil, "copy2"),
        "write": (result_migration, "write_run"),
        "rewrite": (result_migration, "atomic_write_json"),
        "unlink": (result_migration.os, "unlink"),
    }[step]
    monkeypatch.setattr(result_migration, "_MIGRATED", set())
    with monkeypatch.context() as patch:
        patch.setattr(*target, crashing(getattr(*target)))
        with pytest.raises(Crash):
            result_migration.migrate(root, [])
    # At the moment of the crash every record is still there (some maybe twice: old and new file).
    assert sorted(set(_held(root))) == expected
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp") and ".migrated" not in p.parts]

    result_migration._MIGRATED.clear()  # the next run
    notes: list[str] = []
    result_migration.migrate(root, notes)
    assert _held(root) == expected  # each record once, nothing lost
    assert _version_1_left(root) == []
    assert not any("not migrated" in note for note in notes)
    # The renamed record lives only under its new name; the file in today's folder kept the other.
    german = json.loads((root / "org__m" / "rev1" / "GermanSTSBenchmark.json").read_text())
    assert [r["identity"] for r in german["harness"]["runs"]] == ["aws-1"]


def test_migration_writes_the_new_file_before_the_original_goes(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "results"
    _legacy_tree(root, 2)
    seen: list[tuple[str, bool]] = []
    real_unlink = result_migration.os.unlink

    def unlink(path, *args, **kwargs):
        if str(path).endswith(".json") and not Path(path).name.startswith("."):
            model_key = Path(path).parent.parent.name
            new = root / f"org__{model_key}" / "rev1" / "harness-local" / Path(path).name
            seen.append((model_key, new.exists()))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(result_migration, "_MIGRATED", set())
    monkeypatch.setattr(result_migration.os, "unlink", unlink)
    assert result_migration.migrate(root, []) == 3
    assert seen == [("k0000", True), ("k0001", True)]  # org__m's file was rewritten in place
