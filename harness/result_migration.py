"""Result folders written by earlier versions: read as they are, and moved into today's layout.

Schema version 1 (before mteb's layout) stored ``<results>/<registry key>/<revision>/<Task>.json``
with harness-local tasks beside MTEB's, and named two German tasks the old way:

- ``GermanSTSBenchmark`` read the DeepL files (``german_stsbenchmark/deepl``); MTEB's task is the
  Amazon Translate version, so those records are ``GermanSTSBenchmark-deepl`` today;
- ``GermanSTSBenchmark-aws`` read the Amazon Translate files, which equal MTEB's statistics: those
  records are ``GermanSTSBenchmark`` (dataset revision: MTEB's Hub revision).

:func:`current_names` applies this when a version 1 file is read (a renamed record gets the
identity today's runner computes for it, so resume recognises it). :func:`migrate` rewrites
every version 1 file of a results folder into the current layout, once per process: each file
is first copied to ``<results>/.migrated/<time>/`` (nothing is lost), then its records are
merged into their new files with the usual write rules.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import time
from pathlib import Path
from typing import Any

from filelock import FileLock

from harness.records import RunRecord

MIGRATED_FOLDER = ".migrated"
_RENAMED = {"GermanSTSBenchmark-aws": "GermanSTSBenchmark"}
_MIGRATED: set[str] = set()


@functools.cache
def mteb_dataset_revision(task_name: str) -> str | None:
    """MTEB's Hub dataset revision of a task, or None when mteb has no task by that name."""
    import warnings

    if not task_name or ":" in task_name:
        return None
    try:
        import mteb

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            task = mteb.get_task(task_name)
    except Exception:  # KeyError for an unknown name, whatever else a broken install raises
        return None
    if task.metadata.name != task_name:
        return None
    revision = task.metadata.dataset.get("revision")
    return revision if isinstance(revision, str) else None


def legacy_location(root: Path, model_key: str) -> Path:
    """Where version 1 kept a model's results: the folder named by its registry key."""
    from harness.store import safe_component

    return root / safe_component(model_key, "model key")


def _today_name(task_name: str, run: RunRecord) -> str:
    if task_name in _RENAMED:
        return _RENAMED[task_name]
    source = (run.data_source or "").replace("\\", "/")
    if task_name == "GermanSTSBenchmark" and "/deepl/" in source:
        return "GermanSTSBenchmark-deepl"
    return task_name


def current_names(data: dict[str, Any], runs: list[RunRecord]) -> list[tuple[str, str | None, RunRecord]]:
    """``(task name, dataset revision, record)`` per record of a result file, with today's names."""
    from harness.store import run_identity

    task_name = str(data.get("task_name"))
    dataset_revision = data.get("dataset_revision")
    block = data.get("harness") or {}
    if block.get("schema_version", 1) != 1:
        return [(task_name, dataset_revision, run) for run in runs]
    out: list[tuple[str, str | None, RunRecord]] = []
    for run in runs:
        name = _today_name(task_name, run)
        if name == task_name:
            out.append((task_name, dataset_revision, run))
            continue
        identity = run_identity(
            revision=str(block.get("revision")),
            task_name=name,
            subset=run.subset,
            split=run.split,
            data_revision=run.data_revision,
            settings_hash=run.settings_hash or run.settings.identity_hash(),
        )
        renamed = run.model_copy(update={"identity": identity})
        out.append((name, mteb_dataset_revision(name) or run.data_revision, renamed))
    return out


def _version_1_files(root: Path) -> list[Path]:
    from harness.store import StoreError, read_json

    found = []
    for path in sorted(root.glob("*/*/*.json")):
        if path.name.startswith(".") or path.name == "model_meta.json":
            continue
        with contextlib.suppress(StoreError, FileNotFoundError):
            block = read_json(path).get("harness")
            if isinstance(block, dict) and block.get("schema_version", 1) == 1:
                found.append(path)
    return found


def migrate(root: Path, notes: list[str] | None = None) -> int:
    """Move every version 1 result file under `root` into today's layout; returns how many moved.

    Runs once per results folder and process. A file that cannot be migrated stays where it is
    (it is still read as it is) and is reported in ``notes``.
    """
    from harness.store import StoreError, load_file, write_run

    key = str(Path(root).resolve())
    if key in _MIGRATED or not Path(root).is_dir():
        return 0
    _MIGRATED.add(key)
    old = _version_1_files(root)
    if not old:
        return 0
    (root / ".locks").mkdir(exist_ok=True)
    backup = root / MIGRATED_FOLDER / time.strftime("%Y%m%dT%H%M%S")
    moved = 0
    with FileLock(str(root / ".locks" / "migrate.lock"), timeout=600):
        for path in old:
            if not path.exists():  # another process migrated it meanwhile
                continue
            copy = backup / path.relative_to(root)
            try:
                stored = load_file(path)
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, copy)
                os.unlink(path)
                for item in stored:
                    write_run(
                        root,
                        model_key=item.model_key,
                        model_id=item.model_id,
                        revision=item.revision,
                        task_name=item.task_name,
                        mteb_version=item.mteb_version,
                        dataset_revision=item.dataset_revision,
                        weights_source=item.weights_source,
                        run=item.run,
                        notes=notes,
                    )
            except (StoreError, OSError) as exc:
                if not path.exists() and copy.exists():  # put it back: it is still read as it is
                    with contextlib.suppress(OSError):
                        shutil.copy2(copy, path)
                if notes is not None:
                    notes.append(f"{path}: not migrated to the current layout: {exc}")
                continue
            moved += 1
    if moved and notes is not None:
        notes.append(
            f"{root}: {moved} result file(s) of an earlier version moved to the current "
            f"layout; originals kept in {backup}"
        )
    return moved
