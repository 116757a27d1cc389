"""Result files: MTEB layout, merging, atomic writes, path safety, resume identities."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness import store


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


def test_subsets_merge_into_one_task_file_and_replace_same_subset(tmp_path: Path) -> None:
    _write(tmp_path, _run("de", score=0.60))
    _write(tmp_path, _run("es", score=0.70, identity="id-es"))
    path = _write(tmp_path, _run("de", score=0.65, identity="id-de-2"))
    data = json.loads(path.read_text())
    subsets = {e["hf_subset"]: e["main_score"] for e in data["scores"]["test"]}
    assert subsets == {"de": 0.65, "es": 0.70}
    assert [r["subset"] for r in data["harness"]["runs"]] == ["de", "es"]


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

    def broken_dump(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.json, "dump", broken_dump)
    with pytest.raises(store.StoreError, match="No space left on device"):
        _write(tmp_path, _run("es", score=0.7, identity="x"))
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


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
