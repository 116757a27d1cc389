"""Result folders written by earlier versions, moved into today's layout.

Schema version 1 (before mteb's layout) stored ``<results>/<registry key>/<revision>/<Task>.json``
with harness-local tasks beside MTEB's, and named two German tasks the old way. The store reads
such files as they are, with today's task names (:func:`harness.store.current_names`).
:func:`migrate`, which the run driver calls before it plans, rewrites every version 1 file of a
results folder into the current layout, once per process: each file is first copied to
``<results>/.migrated/<time>/`` (nothing is lost), then its records are merged into their new
files with the usual write rules.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

from filelock import FileLock

from harness.mteb_layout import MODEL_META_FILE
from harness.store import StoreError, load_file, read_json, write_run

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
