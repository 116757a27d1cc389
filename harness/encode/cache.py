"""The embedding cache: vectors in one SQLite file, keyed by a fingerprint of model and settings plus text.

A warm re-run loads no model at all; no pickle is involved (vectors are stored as float32 bytes).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.records import RunSettings

log = logging.getLogger("harness.encode")

# Bump when the encode path changes what vectors it produces, or how they are stored (2: each vector
# carries a checksum; vectors stored by version 1 are never looked up again).
FINGERPRINT_VERSION = 2
CHECKSUM_BYTES = 8
SAY_WAITING_AFTER_S = 2.0  # a cache locked by another process this long is said, then waited for

# --------------------------------------------------------------------------- fingerprint

# RunSettings fields that never change a vector (everything else does, including fields
# added later: an unknown field costs a cache miss, never a wrong hit).
_NON_VECTOR_SETTINGS = {"trust_remote_code", "evaluator_version", "similarity"}


def vector_fingerprint(model_id: str, revision: str, settings: RunSettings) -> str:
    """Stable hex key prefix for cached vectors: model id, revision and vector-relevant settings.

    Covers dtype, max_seq_length, pooling, normalisation, the prompt and the encoder (the parts
    of ``settings.identity_hash()`` that can change a vector) plus :data:`FINGERPRINT_VERSION`:
    vectors made with one prompt are never served for another.
    ``settings.dtype`` should already be resolved for the device (see :func:`resolve_dtype`).
    """
    parts = {k: v for k, v in settings.hashed_fields().items() if k not in _NON_VECTOR_SETTINGS}
    blob = json.dumps(
        {"v": FINGERPRINT_VERSION, "model_id": str(model_id), "revision": str(revision), "settings": parts},
        sort_keys=True,
    ).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


# --------------------------------------------------------------------------- cache


def default_cache_dir(option: Path | str | None = None) -> Path:
    """Where the vectors live: ``D/embeddings`` for the resolved cache folder D (``--cache-dir D``,
    ``HARNESS_CACHE_DIR=D`` or the file's ``cache_dir``: :mod:`harness.config` picks one; all name the
    same files), else ``platformdirs.user_cache_dir("harness")/embeddings``. No variable is read here."""
    if option:
        return Path(option) / "embeddings"
    import platformdirs

    return Path(platformdirs.user_cache_dir("harness")) / "embeddings"


def _cache_key(fingerprint: str, text: str) -> bytes:
    return hashlib.sha256((fingerprint + "\x00" + text).encode("utf-8", "surrogatepass")).digest()


def _checksum(key: bytes, vector_bytes: bytes) -> bytes:
    """Of the key and the vector together: a damaged vector, or one moved to another row, never matches."""
    return hashlib.blake2b(key + vector_bytes, digest_size=CHECKSUM_BYTES).digest()


class EmbeddingCache:
    """Vectors keyed by sha256(fingerprint + NUL + text) in one SQLite file (WAL mode).

    Each vector is stored as float32 bytes followed by a checksum of key and vector: a vector
    damaged on disk (finite but wrong) is a miss, evicted and re-encoded, never served.

    Safe to share between processes (WAL + busy timeout; writes are idempotent
    ``INSERT OR REPLACE``). A corrupt file is moved aside with a warning and recreated;
    any other SQLite failure is logged and treated as a cache miss, never raised.
    """

    FILENAME = "embeddings.sqlite3"
    _CHUNK = 500

    def __init__(self, root: Path, *, timeout_s: float = 60.0) -> None:
        self.root = Path(root)
        self.path = self.root / self.FILENAME
        self.timeout_s = timeout_s
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._disabled = False
        self.last_evicted = 0  # bad vectors the last get_many found (each a miss, deleted from the file)
        self._said_waiting = False
        with self._lock:
            self._open()

    # -- connection handling
    def _connect(self) -> sqlite3.Connection:
        # Switching a new file to WAL takes an exclusive lock, and SQLite answers "database is
        # locked" at once (no busy wait) when two processes create the cache together: retry.
        start = time.monotonic()
        deadline = start + self.timeout_s
        pause = 0.01
        while True:
            try:
                return self._connect_once()
            except sqlite3.OperationalError as exc:
                if not _is_contention(exc) or time.monotonic() + pause > deadline:
                    raise
            if time.monotonic() - start >= SAY_WAITING_AFTER_S:
                self._say_waiting()
            time.sleep(pause)
            pause = min(pause * 2, 0.5)

    def _say_waiting(self) -> None:
        if not self._said_waiting:
            self._said_waiting = True
            log.warning("waiting for the embedding cache %s (locked by another process)", self.path)

    def _patient(self, fn: Callable[[sqlite3.Connection], Any], conn: sqlite3.Connection) -> Any:
        """`fn` under SQLite's busy wait of :data:`SAY_WAITING_AFTER_S`; when another process still holds
        the lock, say so once and wait the rest of the timeout (was: a silent wait of a minute)."""
        try:
            return fn(conn)
        except sqlite3.OperationalError as exc:
            if not _is_contention(exc) or self.timeout_s <= SAY_WAITING_AFTER_S:
                raise
        self._say_waiting()
        conn.execute(f"PRAGMA busy_timeout = {int((self.timeout_s - SAY_WAITING_AFTER_S) * 1000)}")
        try:
            return fn(conn)
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(min(self.timeout_s, SAY_WAITING_AFTER_S) * 1000)}")

    def _connect_once(self) -> sqlite3.Connection:
        self.root.mkdir(parents=True, exist_ok=True)
        busy_s = min(self.timeout_s, SAY_WAITING_AFTER_S)  # then _patient says why it waits, and waits on
        conn = sqlite3.connect(str(self.path), timeout=busy_s, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_s * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS vectors ("
                " key BLOB PRIMARY KEY, fingerprint TEXT NOT NULL,"
                " dim INTEGER NOT NULL, vec BLOB NOT NULL) WITHOUT ROWID"
            )
            conn.execute("SELECT key FROM vectors LIMIT 1").fetchall()
        except BaseException:
            conn.close()
            raise
        return conn

    def _open(self) -> None:
        try:
            self._conn = self._connect()
        except sqlite3.DatabaseError as exc:
            if _is_corruption(exc):
                self._quarantine(exc)
                try:
                    self._conn = self._connect()
                    return
                except sqlite3.Error as exc2:
                    exc = exc2
            self._disable(exc)
        except OSError as exc:
            self._disable(exc)

    def _disable(self, exc: BaseException) -> None:
        # one warning, not a log record too: on the command line both would print the same line
        warnings.warn(f"embedding cache {self.path} unusable, running without it: {exc}", stacklevel=3)
        self._disabled = True
        self._conn = None

    def _quarantine(self, exc: BaseException) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        moved = self.path.with_name(f"{self.FILENAME}.corrupt-{stamp}-{os.getpid()}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                with contextlib.suppress(OSError):
                    os.replace(src, Path(str(moved) + suffix))
        msg = f"embedding cache {self.path} is corrupt ({exc}); moved it to {moved} and starting a new one"
        warnings.warn(msg, stacklevel=3)

    def _run(self, fn: Callable[[sqlite3.Connection], Any], default: Any) -> Any:
        """Run fn on the connection; recover from corruption once; never raise sqlite errors."""
        with self._lock:
            for attempt in range(2):
                if self._disabled or self._conn is None:
                    return default
                try:
                    return self._patient(fn, self._conn)
                except sqlite3.DatabaseError as exc:
                    if _is_corruption(exc) and attempt == 0:
                        self._quarantine(exc)
                        self._open()
                        continue
                    log.warning("embedding cache %s: %s (continuing without it)", self.path, exc)
                    return default
            return default

    # -- public API
    def get_many(self, fingerprint: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached vectors (float32, 1-D) for those of ``texts`` that are present."""
        by_key: dict[bytes, str] = {_cache_key(fingerprint, t): t for t in texts}
        keys = list(by_key)

        def query(conn: sqlite3.Connection) -> dict[str, np.ndarray]:
            found: dict[str, np.ndarray] = {}
            damaged: list[bytes] = []
            for i in range(0, len(keys), self._CHUNK):
                chunk = keys[i : i + self._CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT key, dim, vec FROM vectors WHERE key IN ({marks})", chunk)
                for key, dim, vec in rows.fetchall():
                    if not isinstance(vec, bytes) or not isinstance(dim, int):  # a row of another type
                        damaged.append(bytes(key))
                        continue
                    body = vec[: 4 * dim] if dim > 0 else b""
                    if (
                        dim <= 0
                        or len(vec) != 4 * dim + CHECKSUM_BYTES
                        or vec[4 * dim :] != _checksum(key, body)
                    ):
                        damaged.append(bytes(key))  # a miss; evicted so it is rewritten
                        continue
                    v = np.frombuffer(body, dtype="<f4").astype(np.float32)
                    if not np.isfinite(v).all():
                        damaged.append(bytes(key))  # NaN/inf never comes back: re-encoded instead
                        continue
                    found[by_key[bytes(key)]] = v
            self.last_evicted = len(damaged)
            if damaged:
                why = "checksum, length or value wrong"
                log.warning(
                    "embedding cache %s: evicting %d bad vector(s) (%s)", self.path, len(damaged), why
                )
                conn.executemany("DELETE FROM vectors WHERE key = ?", [(k,) for k in damaged])
            return found

        return self._run(query, {}) if keys else {}

    def put_many(
        self, fingerprint: str, texts: Sequence[str], vectors: np.ndarray | Sequence[np.ndarray]
    ) -> None:
        """Store one vector per text (overwrites: identical keys mean identical vectors)."""
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
        rows = []
        for text, vec in zip(texts, vectors, strict=True):
            v = np.ascontiguousarray(np.asarray(vec, dtype="<f4").reshape(-1))
            key = _cache_key(fingerprint, text)
            rows.append((key, fingerprint, int(v.shape[0]), v.tobytes() + _checksum(key, v.tobytes())))
        if not rows:
            return

        def write(conn: sqlite3.Connection) -> None:
            for i in range(0, len(rows), self._CHUNK * 2):
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.executemany(
                        "INSERT OR REPLACE INTO vectors (key, fingerprint, dim, vec) VALUES (?, ?, ?, ?)",
                        rows[i : i + self._CHUNK * 2],
                    )
                    conn.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    raise

        self._run(write, None)

    def __len__(self) -> int:
        return int(self._run(lambda c: c.execute("SELECT COUNT(*) FROM vectors").fetchone()[0], 0))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None
            self._disabled = True

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_contention(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _is_corruption(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        # locked / busy / I/O trouble is not corruption; a few corruption messages are Operational
        text = str(exc).lower()
        return "malformed" in text or "not a database" in text
    return isinstance(exc, sqlite3.DatabaseError)
