"""A cache of paired-bootstrap results beside the results: ``<results>/.harness-cache/paired.sqlite``.

A paired test of two stored runs is a pure function of both runs' identities, their per-pair
similarities, the gold scores and the bootstrap settings, so `report` and `compare` compute it
once and reuse it on every later build. The key hashes all of these (plus the statistic's
version), so a re-run that changes a model's similarities under the same identity never
reuses a stale number.

The file is small (one row per test), safe to delete at any time (the next build recomputes),
written in SQLite transactions (atomic; two builds may share it), and lives in a dot-folder at
the results root, which neither the harness's nor mteb's result loaders read
(they read ``<model>/<revision>/<task>.json``). Any problem with it (a read-only folder, a
locked, unreadable or unwritable file, a link or a FIFO in its place) turns the cache off for
that build with a one-line warning (``PairedCache.problem``); a damaged file is replaced. It
never fails or stalls a report.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import sqlite3
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

CACHE_DIR = ".harness-cache"
CACHE_FILE = "paired.sqlite"
# Bump when the paired statistic changes meaning (the old rows are then simply never read).
STATISTIC_VERSION = "paired-spearman-bootstrap-1"
# Longest wait for another build's write lock before the cache is turned off.
LOCK_TIMEOUT_S = 5.0

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS paired (key TEXT PRIMARY KEY, delta REAL, ci_lo REAL, "
    "ci_hi REAL, p_value REAL, n_pairs INTEGER)"
)


def _digest(values: Sequence[float] | np.ndarray) -> str:
    data = np.ascontiguousarray(values, dtype=np.float64).tobytes()
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def paired_key(
    identity_a: str,
    identity_b: str,
    sims_a: Sequence[float],
    sims_b: Sequence[float],
    gold: Sequence[float],
    *,
    n_resamples: int,
    seed: int,
) -> str:
    """The cache key of paired_bootstrap(A, B, gold): both identities, the data and the settings."""
    parts = [
        STATISTIC_VERSION,
        identity_a,
        identity_b,
        _digest(sims_a),
        _digest(sims_b),
        _digest(gold),
        str(int(n_resamples)),
        str(int(seed)),
    ]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _nan_to_none(x: Any) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _none_to_nan(x: float | None) -> float:
    return float("nan") if x is None else float(x)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _unusable_place(path: Path) -> str | None:
    """Why the cache folder or file may not be used (a link, not a folder, not a regular file,
    cannot be created), or None. Checked without following links."""
    folder = path.parent
    try:
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            return f"folder {folder.name} is not a plain folder"
        folder.mkdir(exist_ok=True)
        mode = path.lstat().st_mode if path.exists() or path.is_symlink() else None
    except OSError as exc:
        return f"cannot be created ({_reason(exc)})"
    if mode is not None and not stat.S_ISREG(mode):
        return "is not a regular file"
    return None


class PairedCache:
    """Get and put paired-bootstrap results by key; a no-op when the file cannot be used.

    ``problem``: one line naming the file that says why the cache was off (or replaced) in this
    build, or None. The cache follows no link, opens nothing but a regular file (a FIFO would
    block) and waits at most ``LOCK_TIMEOUT_S`` for another build's lock.
    """

    def __init__(self, results_dir: Path | None) -> None:
        self.path = Path(results_dir) / CACHE_DIR / CACHE_FILE if results_dir else None
        self.problem: str | None = None
        self._conn: sqlite3.Connection | None = None
        if self.path is None or not Path(results_dir).is_dir():
            return
        why = _unusable_place(self.path)
        if why is None:
            why = self._connect()
        if why is not None:
            self._off(why)

    def _connect(self) -> str | None:
        """Open (or create) the file and its table, replacing a damaged file once; why not, or None."""
        assert self.path is not None
        for attempt in range(2):
            try:
                conn = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_S)
            except (OSError, sqlite3.Error) as exc:
                return f"cannot be opened ({_reason(exc)})"
            try:
                conn.execute(_SCHEMA)
                conn.commit()
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
                damaged = not isinstance(exc, sqlite3.OperationalError)  # "file is not a database"
                if not damaged or attempt:
                    return f"cannot be used ({_reason(exc)})"
                try:
                    self.path.unlink()  # a damaged cache is only a cache: start a new one
                except OSError as unlink_exc:
                    return f"is damaged ({_reason(exc)}) and cannot be replaced ({_reason(unlink_exc)})"
                self.problem = (
                    f"{self.path}: paired-test cache was damaged ({_reason(exc)}); started a new one"
                )
                continue
            self._conn = conn
            return None
        return None  # not reached: the second attempt returns

    def _off(self, why: str) -> None:
        """Turn the cache off for the rest of this build and say why (the first reason is kept)."""
        was_on = self._conn is not None
        self.close()
        if self.problem is None or was_on:
            self.problem = f"{self.path}: paired-test cache {why}; computing the paired tests without it"

    @property
    def enabled(self) -> bool:
        return self._conn is not None

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The cached results among `keys` (missing keys are absent)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        if self._conn is None:
            return found
        try:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT key, delta, ci_lo, ci_hi, p_value, n_pairs FROM paired WHERE key IN ({marks})",
                    chunk,
                )
                for key, delta, lo, hi, p, n in rows:
                    found[key] = {
                        "delta": _none_to_nan(delta),
                        "ci95": (_none_to_nan(lo), _none_to_nan(hi)),
                        "p_value": _none_to_nan(p),
                        "n_pairs": int(n),
                    }
        except (sqlite3.Error, TypeError, ValueError) as exc:  # a damaged or foreign row
            self._off(f"cannot be read ({_reason(exc)})")
            return {}
        return found

    def put_many(self, items: dict[str, dict[str, Any]]) -> None:
        """Store results (one transaction); errors only turn the cache off."""
        if self._conn is None or not items:
            return
        rows = [
            (
                key,
                _nan_to_none(r["delta"]),
                _nan_to_none(r["ci95"][0]),
                _nan_to_none(r["ci95"][1]),
                _nan_to_none(r["p_value"]),
                int(r["n_pairs"]),
            )
            for key, r in items.items()
        ]
        try:
            with self._conn:
                self._conn.executemany("INSERT OR REPLACE INTO paired VALUES (?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.Error as exc:
            self._off(f"cannot be written ({_reason(exc)})")

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        self._conn = None
