"""The size rule of result files: the store never writes a file its own reader refuses.

A task file holds every record of its task side by side (other identities, each with its per-pair
similarities and gold scores), so repeated runs of a large pairs file can grow it past
``store_io.MAX_RESULT_BYTES``. Then the per-pair arrays of its oldest superseded records are left
out, no more than needed; every record and score stays, and those records are first kept in full
under ``<results>/.superseded/`` (which no reader loads).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from harness.records import RunRecord
from harness.store import io as store_io
from harness.store.io import StoreError, atomic_write_text, text_bytes

SUPERSEDED_FOLDER = ".superseded"  # records in full whose per-pair arrays a task file left out
_RUN_INDENT = 6  # a record's lines sit 3 levels deep in a result file (harness -> runs -> record)


def _without_arrays(run: RunRecord) -> RunRecord:
    return run.model_copy(update={"cosine_similarities": None, "gold": None})


def _array_bytes(run: RunRecord) -> int:
    """The bytes `run`'s per-pair arrays take in its result file (exact: a record's lines there are
    its own dump indented by :data:`_RUN_INDENT` more)."""

    def in_file(record: RunRecord) -> int:
        text = json.dumps(record.model_dump(mode="json"), indent=2, ensure_ascii=False, allow_nan=False)
        return len(text.encode("utf-8")) + _RUN_INDENT * text.count("\n")

    return in_file(run) - in_file(_without_arrays(run))


def fit_to_limit(
    root: Path,
    path: Path,
    runs: list[RunRecord],
    shown_records: list[RunRecord],
    new: RunRecord,
    document: Callable[[list[RunRecord]], str],
    size: int,
    notes: list[str],
) -> str:
    """The text of `path` within :data:`harness.store_io.MAX_RESULT_BYTES` (what the reader accepts).

    The per-pair arrays of the oldest superseded records (neither shown in ``scores`` nor the one
    being written) are left out, no more than needed; every record and score stays. Those records
    are first written in full to ``<root>/.superseded/`` (a result file of their own, which no
    reader loads), and one line in `notes` says so. StoreError (nothing written) when that is not
    enough, or the copy cannot be written.
    """
    shown = {id(r) for r in shown_records}
    candidates = sorted(  # superseded records holding arrays, oldest first
        (
            i
            for i, r in enumerate(runs)
            if id(r) not in shown
            and r.identity != new.identity
            and (r.cosine_similarities is not None or r.gold is not None)
        ),
        key=lambda i: (runs[i].finished_at or "", runs[i].started_at or "", i),
    )
    excess, dropped = size - store_io.MAX_RESULT_BYTES, set()
    for i in candidates:
        if excess <= 0:
            break
        excess -= _array_bytes(runs[i])
        dropped.add(i)
    text = document([_without_arrays(r) if i in dropped else r for i, r in enumerate(runs)])
    new_size = text_bytes(text)
    if not dropped or new_size > store_io.MAX_RESULT_BYTES:
        raise StoreError(
            f"{path}: not stored: with this record the file would have {new_size} bytes, more than the "
            f"{store_io.MAX_RESULT_BYTES} this version reads, even without the per-pair similarities of its "
            f"{len(dropped)} superseded record(s); the file is kept as it is"
        )
    kept = _keep_superseded(root, path, document([runs[i] for i in sorted(dropped)]))
    notes.append(
        f"{path}: with this record the file would have {size} bytes, more than the "
        f"{store_io.MAX_RESULT_BYTES} this version reads: the per-pair similarities and gold scores of "
        f"{len(dropped)} superseded record(s) left out (their scores kept; the records in full are in {kept})"
    )
    return text


def _keep_superseded(root: Path, path: Path, text: str) -> Path:
    """`text` (records in full) written atomically under ``<root>/.superseded/``, named after `path`."""
    rel = path.relative_to(root).as_posix().replace("/", "__").removesuffix(".json")
    stamp = f"{rel}.{time.strftime('%Y%m%dT%H%M%S')}.{os.getpid()}"
    try:
        folder = store_io.inner_folder(root, SUPERSEDED_FOLDER, "superseded records are kept there")
    except StoreError as exc:
        raise StoreError(f"{path}: not stored: the file would be too large to read, and {exc}") from None
    target = folder / f"{stamp}.json"
    for number in range(1, 1000):  # twice in one second: a new name, never over an earlier copy
        if not os.path.lexists(target):
            break
        target = folder / f"{stamp}.{number}.json"
    try:
        atomic_write_text(target, text, what="the superseded records")
    except StoreError as exc:
        raise StoreError(f"{path}: not stored: the file would be too large to read, and {exc}") from None
    return target
