"""The generic layout of local STS data: any MTEB STS task, one JSON Lines file per subset and split.

``<data_dir>/mteb/<TaskName>/<subset>/<split>.jsonl``: ``TaskName`` and ``subset`` as mteb
names them (``default`` for a task without subsets), ``split`` as mteb spells its evaluation
split (``test``, ``validation``, ``dev``, ``train``). One ``{"sentence1": str, "sentence2": str,
"score": number}`` object per line, UTF-8, LF; scores on the task's own scale (mteb normalises
them with the task's ``min_score``/``max_score`` when it scores; so does the harness). This is
what ``harness data export`` writes from mteb's own loader, and what the catalog looks for
first, before the dataset-specific readers and the Hub.

This module knows paths only: where a file of the layout is, whether a file is one, whether it
stays inside its data folder, and which files in the folder fit no task (:func:`stray_files`).
Parsing is :mod:`harness.tasks.readers`' (the ``mteb-jsonl`` format).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TextIO

GENERIC_FOLDER = "mteb"
GENERIC_SUFFIX = ".jsonl"
GENERIC_FORMAT = "mteb-jsonl"  # the reader key of a generic-layout file


def generic_rel(name: str, subset: str, split: str) -> str:
    """The file of one task subset and split, relative to the data folder."""
    return f"{GENERIC_FOLDER}/{name}/{subset}/{split}{GENERIC_SUFFIX}"


def generic_file(data_dir: Path, name: str, subset: str, split: str) -> Path | None:
    """The task's generic-layout file under ``data_dir`` (not resolved: a link stays a link, so
    that reading it can refuse a target outside the folder), or None when there is none."""
    for part in (name, subset, split):
        if not part or part in {".", ".."} or "/" in part or "\\" in part:
            return None  # names come from mteb, but never let one climb out of the folder
    path = Path(data_dir).resolve() / generic_rel(name, subset, split)
    return path if os.path.lexists(path) else None


def is_generic(path: Path) -> bool:
    """Whether a file sits where the generic layout puts one (``mteb/<task>/<subset>/<split>.jsonl``)."""
    parts = Path(path).parts
    return len(parts) >= 5 and parts[-4] == GENERIC_FOLDER and Path(path).suffix == GENERIC_SUFFIX


def outside_data_folder(path: Path) -> str | None:
    """Why a generic-layout file must not be read (a link whose target is outside its data folder),
    or None when it may. The data folder is the one above ``mteb/``."""
    root = Path(path).parents[3]
    try:
        target = Path(path).resolve()
    except (OSError, RuntimeError):  # a link loop
        return "a link that cannot be resolved (a loop?); not read"
    if not target.is_relative_to(root.resolve()):
        return f"a link to {target}, outside the data folder {root}; not read"
    return None


def stray_files(data_dir: Path, known: Mapping[str, Mapping[str, Iterable[str]]]) -> list[str]:
    """One line per entry under ``<data_dir>/mteb`` that fits no task: an unknown task folder, a
    subset folder mteb does not know for the task, a split the task does not evaluate, a file
    that is not ``.jsonl``. ``known``: task name -> subset -> evaluation splits (mteb's)."""
    root = Path(data_dir) / GENERIC_FOLDER
    if not root.is_dir():
        return []
    expected = generic_rel("<Task>", "<subset>", "<split>")
    lines: list[str] = []
    for task_dir in sorted(root.iterdir()):
        subsets = known.get(task_dir.name)
        if not task_dir.is_dir():
            if task_dir.suffix != ".md" and task_dir.name not in LAYOUT_NOTES:
                lines.append(f"{task_dir}: not a task folder (expected {expected}); not read")
        elif subsets is None:
            lines.append(f"{task_dir}: no MTEB STS task is called {task_dir.name!r}; not read")
        else:
            lines += _stray_in_task(task_dir, subsets)
    return lines


LAYOUT_NOTES = frozenset({"SHA256SUMS", "MANIFEST.json"})  # files beside the task folders


def _stray_in_task(task_dir: Path, subsets: Mapping[str, Iterable[str]]) -> list[str]:
    lines: list[str] = []
    for subset_dir in sorted(task_dir.iterdir()):
        splits = list(subsets.get(subset_dir.name, ()))
        if not subset_dir.is_dir() or not splits:
            known = ", ".join(sorted(subsets))
            what = f"subset {subset_dir.name!r}" if subset_dir.is_dir() else "subset folder here"
            lines.append(f"{subset_dir}: mteb's {task_dir.name} has no {what} (subsets: {known}); not read")
            continue
        for file in sorted(subset_dir.iterdir()):
            split = file.name.removesuffix(GENERIC_SUFFIX)
            if file.suffix != GENERIC_SUFFIX:
                lines.append(f"{file}: not a {GENERIC_SUFFIX} file; not read")
            elif split not in splits:
                evaluated = ", ".join(splits)
                lines.append(
                    f"{file}: mteb evaluates {task_dir.name} on {evaluated}, not {split!r}; not read"
                )
    return lines


def write_jsonl(path: Path, rows: Iterable[tuple[str, str, float]]) -> int:
    """Write (sentence1, sentence2, score) rows as the layout's JSON Lines, atomically; returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0

    def write(fh: TextIO) -> None:
        nonlocal count
        for s1, s2, score in rows:
            record = {"sentence1": s1, "sentence2": s2, "score": float(score)}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1

    write_atomic(path, write)
    return count


def write_atomic(path: Path, write: Callable[[TextIO], None]) -> None:
    """Write a text file through a temporary file in the same folder, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
