"""A cache of paired-bootstrap results beside the results: ``<results>/.harness-cache/paired.sqlite``.

A paired test of two stored runs is a pure function of both runs' identities, their per-pair
similarities, the gold scores and the bootstrap settings, so `report` and `compare` compute it
once and reuse it on every later build. The key hashes all of these (plus the statistic's
version), so a re-run that changes a model's similarities under the same identity never
reuses a stale number.

The file is small (one row per test), safe to delete at any time (the next build recomputes),
written in SQLite transactions (atomic; two builds may share it), and lives in a dot-folder at
the results root, which neither the harness's nor mteb's result loaders read
(they read ``<model>/<revision>/<task>.json``). Any problem with it (read-only folder, a
damaged file) turns the cache off for that build; it never fails a report.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

CACHE_DIR = ".harness-cache"
CACHE_FILE = "paired.sqlite"
# Bump when the paired statistic changes meaning (the old rows are then simply never read).
STATISTIC_VERSION = "paired-spearman-bootstrap-1"

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


class PairedCache:
    """Get and put paired-bootstrap results by key; a no-op when the file cannot be used."""

    def __init__(self, results_dir: Path | None) -> None:
        self.path = Path(results_dir) / CACHE_DIR / CACHE_FILE if results_dir else None
        self._conn: sqlite3.Connection | None = None
        if self.path is None or not Path(results_dir).is_dir():
            return
        for attempt in range(2):
            try:
                self.path.parent.mkdir(exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30)
                conn.execute(_SCHEMA)
                conn.commit()
                self._conn = conn
                return
            except sqlite3.DatabaseError as exc:
                damaged = not isinstance(exc, sqlite3.OperationalError)  # "file is not a database"
                if not damaged or attempt:
                    return
                with contextlib.suppress(OSError, sqlite3.Error, NameError):
                    conn.close()
                with contextlib.suppress(OSError):
                    self.path.unlink()  # a damaged cache is only a cache: start a new one
            except (OSError, sqlite3.Error):
                return

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
        except sqlite3.Error:
            self.close()
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
        except sqlite3.Error:
            self.close()

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        self._conn = None
