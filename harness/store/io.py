"""Result files on disk: written atomically, read within a size bound, moved aside when bad.

The mechanics under :mod:`harness.store.results` (which decides what a result file holds): a write goes to
a temporary file in the same folder, is fsynced and renamed over the old one, so a reader never
sees half a file and a failed write leaves the old file as it was; a read opens only a regular
file of at most :data:`MAX_RESULT_BYTES` (a FIFO or a link to /dev/zero is reported, never read);
a bad file is moved to ``<results>/.quarantine/``, never deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.model_files import UnreadableFile, read_bytes

MAX_RESULT_BYTES = 64 * 1024 * 1024
QUARANTINE_FOLDER = ".quarantine"


class StoreError(Exception):
    """A result could not be read or written; the message names the file."""


class UnreadableResult(StoreError):
    """Not read at all: not a regular file, too large, or not readable (reported and skipped)."""


class TooLargeResult(UnreadableResult):
    """A regular file over :data:`MAX_RESULT_BYTES`: maybe a good result, never moved or overwritten."""

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


class NewerResult(UnreadableResult):
    """Written by a newer harness (a higher ``schema_version``): skipped, never moved or written over."""


class InvalidResult(StoreError):
    """Read, but not a result this version can use (quarantined by ``run``)."""


def _file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_text(path: Path, text: str, what: str = "result") -> None:
    """Write text to a temporary file in the same folder, fsync, then rename over `path`.

    The file gets the mode a plain ``open()`` would give it (0644 under the usual umask). A
    failure leaves `path` as it was and no temporary file behind; StoreError names the file.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write {what}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), _file_mode())
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except (OSError, ValueError) as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise StoreError(f"{path}: cannot write {what}: {reason}") from None


def json_text(path: Path, data: Any) -> str:
    try:
        return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    except ValueError as exc:
        raise StoreError(f"{path}: cannot write result: {exc}") from None


def atomic_write_json(path: Path, data: Any) -> None:
    """`atomic_write_text` of JSON (no NaN: a record with one is refused, the old file stays)."""
    atomic_write_text(path, json_text(path, data))


def text_bytes(text: str) -> int:
    """The bytes `text` takes in a file (UTF-8); encoded only when it might be near the limit."""
    return len(text) if len(text) * 4 <= MAX_RESULT_BYTES else len(text.encode("utf-8"))


def read_json(path: Path) -> dict[str, Any]:
    """A result file's JSON object. FileNotFoundError passes through; see the module doc for the rest."""
    try:
        data = read_bytes(path, MAX_RESULT_BYTES)
    except FileNotFoundError:
        raise
    except UnreadableFile as exc:
        with contextlib.suppress(OSError):
            info = os.stat(path)
            if stat.S_ISREG(info.st_mode) and info.st_size > MAX_RESULT_BYTES:
                raise TooLargeResult(f"{path}: {exc.reason}", info.st_size) from None
        raise UnreadableResult(f"{path}: {exc.reason}") from None
    except OSError as exc:
        raise UnreadableResult(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        value = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise InvalidResult(f"{path}: not a result file (JSON nested too deeply)") from None
    except (UnicodeDecodeError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:120]
        raise InvalidResult(f"{path}: not a result file (unreadable JSON: {reason})") from None
    if not isinstance(value, dict):
        raise InvalidResult(f"{path}: not a result file (not a JSON object)")
    return value


def inner_folder(root: Path, name: str, why: str) -> Path:
    """``<root>/<name>``, created: a real folder of the results folder's own. A link there (to a folder
    elsewhere), or a file, is a StoreError naming it, so nothing is ever moved, locked or written
    outside the results folder through it. `why` says what the folder is for."""
    folder = root / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        info = os.lstat(folder)
    except OSError as exc:
        if not isinstance(exc, FileExistsError | NotADirectoryError):
            raise StoreError(f"{folder}: cannot be created: {exc.strerror or exc}") from None
        info = None
    if info is None or not stat.S_ISDIR(info.st_mode):
        if info is not None and stat.S_ISLNK(info.st_mode):
            why = f"a link, not a folder of its own ({why}); nothing is written through it"
            raise StoreError(f"{folder}: {why}; move it aside")
        raise StoreError(f"{folder}: not a folder ({why}); move it aside")
    return folder


def quarantine(root: Path, path: Path) -> str:
    """Move a bad result file aside, under ``<root>/.quarantine/`` (kept, never deleted); says where."""
    rel = path.relative_to(root).as_posix().replace("/", "__")
    try:
        folder = inner_folder(root, QUARANTINE_FOLDER, "bad result files are moved there")
    except StoreError as exc:
        return f"could not be moved aside ({exc})"
    target = folder / f"{rel}.{time.strftime('%Y%m%dT%H%M%S')}.{os.getpid()}"
    try:
        os.replace(path, target)
    except OSError as exc:  # a read-only folder, or another run moved it first
        return f"could not be moved aside ({exc.strerror or exc})"
    return f"moved to {target}"
