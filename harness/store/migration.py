"""Result folders written by earlier versions, moved into today's layout.

Schema version 1 (before mteb's layout) stored ``<results>/<registry key>/<revision>/<Task>.json``
with harness-local tasks beside MTEB's, and named two German tasks the old way. The store reads
such files as they are, with today's task names (:func:`harness.store.results.current_names`).
:func:`migrate`, which the run driver calls before it plans, rewrites every version 1 file of a
results folder into the current layout, once per process: each file is first copied to
``<results>/.migrated/<time>/``, then its records are merged into their new files with the usual
(atomic) write rules, and only then is the original removed. An interrupt (SIGINT, SIGKILL) at any
point leaves the original, the new file, or both, never neither: an original still there is
migrated again by the next run (its records merge by identity, so nothing is stored twice), and
until then readers see the same records in both places, which resume, `report` and `compare`
take as one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

from filelock import FileLock

from harness.store.io import StoreError, atomic_write_json, inner_folder, read_json
from harness.store.mteb_layout import MODEL_META_FILE
from harness.store.results import StoredResult, load_file, lock_folder, task_path, write_run

MIGRATED_FOLDER = ".migrated"
_MIGRATED: set[str] = set()


def _version_1_files(root: Path) -> list[Path]:
    found = []
    for path in sorted(root.glob("*/*/*.json")):
        if path.name.startswith(".") or path.name == MODEL_META_FILE:
            continue
        with contextlib.suppress(StoreError, FileNotFoundError):
            block = read_json(path).get("harness")
            if isinstance(block, dict) and block.get("schema_version", 1) == 1:
                found.append(path)
    return found


def _copy_atomically(source: Path, target: Path) -> None:
    """`source` copied to `target` under a temporary name first, so `target` is never half a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copy2(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _store(root: Path, item: StoredResult, notes: list[str] | None) -> None:
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


def _migrate_file(root: Path, path: Path, copy: Path, notes: list[str] | None) -> None:
    """One version 1 file into today's layout. Every step is atomic and the original goes last, so
    at every moment each record is in the original, in its new file, or in both."""
    stored = load_file(path)
    _copy_atomically(path, copy)
    at = {
        id(item): task_path(root, item.model_key, item.model_id, item.revision, item.task_name)
        for item in stored
    }
    here = [item for item in stored if at[id(item)] == path]  # a registry key that is today's folder
    for item in stored:
        if at[id(item)] != path:
            _store(root, item, notes)
    if not here:
        os.unlink(path)  # only now: its records are all in their new files
        return
    # The file is also today's file for some of its records: it is rewritten in place (atomically),
    # first without the records now stored elsewhere (renamed tasks), so none stays under its old name.
    if len(here) < len(stored):
        data = read_json(path)
        keep = {item.run.identity for item in here}
        runs = [r for r in data["harness"]["runs"] if isinstance(r, dict) and r.get("identity") in keep]
        atomic_write_json(path, {**data, "harness": {**data["harness"], "runs": runs}})
    for item in here:
        _store(root, item, notes)


def migrate(root: Path, notes: list[str] | None = None) -> int:
    """Move every version 1 result file under `root` into today's layout; returns how many moved.

    Runs once per results folder and process. A file that cannot be migrated stays where it is
    (it is still read as it is) and is reported in ``notes``.
    """
    key = str(Path(root).resolve())
    if key in _MIGRATED or not Path(root).is_dir():
        return 0
    _MIGRATED.add(key)
    old = _version_1_files(root)
    if not old:
        return 0
    locks = lock_folder(root)
    try:
        migrated = inner_folder(root, MIGRATED_FOLDER, "originals of migrated files are kept there")
    except StoreError as exc:
        if notes is not None:
            notes.append(f"{root}: result files of an earlier version not migrated: {exc}")
        return 0
    backup = migrated / time.strftime("%Y%m%dT%H%M%S")
    moved = 0
    with FileLock(str(locks / "migrate.lock"), timeout=600):
        for path in old:
            copy = backup / path.relative_to(root)
            try:
                _migrate_file(root, path, copy, notes)
            except FileNotFoundError:  # another process migrated it meanwhile
                continue
            except (StoreError, OSError) as exc:  # the original stays, and is still read as it is
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
