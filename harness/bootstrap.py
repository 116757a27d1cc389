"""Fast seeded bootstrap of Spearman correlations: no sorting per resample.

A bootstrap resample of ``n`` pairs is a multiplicity vector ``k`` over the original pairs
(pair ``i`` drawn ``k[i]`` times). Order the pairs once by value, ties grouped: in a
resample every member of tie group ``g`` gets the average rank
``C_g + (W_g + 1) / 2``, where ``W_g`` is the group's total count and ``C_g`` the counts of
all groups before it. Spearman on the resample is then a Pearson correlation over the
original pairs weighted by ``k``. That is O(n) per resample instead of O(n log n), and it
runs for all resamples at once as a few array passes.

The draws are the ones ``scipy.stats.rankdata`` on ``x[idx]`` used before (same seeded
generator, same chunks), and the arithmetic is exact: twice a centred average rank,
``2 * C_g + W_g - n``, is an integer, so every sum is an integer that float64 holds exactly
(for n below about 200,000) and the correlation comes out bit-for-bit the same as the
sorting implementation (kept as :func:`reference_spearmans`, the definition the tests and
``benchmarks/bench_scale.py`` check against).

The counts depend only on ``(n, seed, n_resamples)`` and the gold ranks only on the task,
so :func:`gold_ranks` caches them (a few per process) and every model scored on a task
reuses them; :meth:`GoldRanks.spearmans` also remembers the last predictions it saw, so a
page of paired tests against one leader scores the leader once.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from typing import Any

import numpy as np
from scipy.stats import rankdata

__all__ = [
    "GoldRanks",
    "Resamples",
    "clear_caches",
    "gold_ranks",
    "paired_summary",
    "percentile_ci",
    "reference_spearmans",
    "resample_indices",
    "rowwise_pearson",
]

# Upper bound on the number of cells one chunk of drawn indices may hold. Part of the
# definition of the draws: the generator is called once per chunk, so changing this
# changes the resamples.
CHUNK_CELLS = 2_000_000

# Memory the cached gold ranks and resamples may hold together (the latest task always stays).
_CACHE_BYTES = 384 * 2**20
# Prediction vectors whose resampled Spearmans a GoldRanks remembers.
_PRED_CACHE_SIZE = 32


def resample_indices(n: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Yield index matrices (chunk, n) drawn from one seeded generator; same seed -> same draws."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_resamples, CHUNK_CELLS // n))
    done = 0
    while done < n_resamples:
        m = min(chunk, n_resamples - done)
        yield rng.integers(0, n, size=(m, n))
        done += m


def rowwise_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of x with the same row of y (NaN for a constant row)."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    num = np.einsum("ij,ij->i", xc, yc)
    den = np.sqrt(np.einsum("ij,ij->i", xc, xc) * np.einsum("ij,ij->i", yc, yc))
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def reference_spearmans(
    preds: Sequence[np.ndarray], gold: np.ndarray, n_resamples: int, seed: int
) -> list[np.ndarray]:
    """Spearman of each prediction vector with gold on each resample, by ranking every resample.

    The definition (and the implementation before the fast path): O(n log n) per resample.
    """
    out: list[list[np.ndarray]] = [[] for _ in preds]
    for idx in resample_indices(gold.shape[0], n_resamples, seed):
        gold_ranks = rankdata(gold[idx], axis=1)
        for k, p in enumerate(preds):
            out[k].append(rowwise_pearson(rankdata(p[idx], axis=1), gold_ranks))
    return [np.concatenate(parts) for parts in out]


class Resamples:
    """The draws for ``n`` pairs as multiplicities: pair i is ``counts[i, r]`` times in resample r."""

    def __init__(self, n: int, seed: int = 0, n_boot: int = 1000) -> None:
        if n < 1 or n_boot < 1:
            raise ValueError(f"need n >= 1 and n_boot >= 1, got n={n}, n_boot={n_boot}")
        self.n = int(n)
        self.seed = int(seed)
        self.n_boot = int(n_boot)

    @cached_property
    def counts(self) -> np.ndarray:
        """(n, n_boot) float64 multiplicities, pairs by rows; each column sums to n. Computed once."""
        n = self.n
        out = np.empty((n, self.n_boot), dtype=np.float64)
        col = 0
        for idx in resample_indices(n, self.n_boot, self.seed):
            m = idx.shape[0]
            idx += (np.arange(m, dtype=idx.dtype) * n)[:, None]  # row r's draws -> bins r*n .. r*n+n-1
            out[:, col : col + m] = np.bincount(idx.ravel(), minlength=m * n).reshape(m, n).T
            col += m
        out.flags.writeable = False
        return out


def _tie_runs(values: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """(order, runs): a stable sort order and, per sorted position, where its run of equal
    values starts and ends (exclusive); runs is None when all values differ."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    if new.all():
        return order, None
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], values.shape[0])
    run = np.cumsum(new) - 1
    return order, (starts[run], ends[run])


def _twice_centred_ranks(
    sorted_counts: np.ndarray, runs: tuple[np.ndarray, np.ndarray] | None, n: int
) -> np.ndarray:
    """2 * (average rank - (n + 1) / 2) per pair (sorted order) and resample.

    With ``S[j]`` the counts of the first j sorted pairs, a run of ties spanning [s, e) has
    average rank ``S[s] + (S[e] - S[s] + 1) / 2``, so twice its centred rank is
    ``S[s] + S[e] - n``: an integer. The running sum goes row by row (one vector add over all
    resamples per pair), faster than ``np.cumsum(axis=0)`` here, and exact.
    """
    total = sorted_counts.copy()  # total[j] = S[j + 1]
    for i in range(1, total.shape[0]):
        np.add(total[i], total[i - 1], out=total[i])
    if runs is None:  # S[j] + S[j + 1] = 2 * S[j + 1] - counts[j]
        total *= 2.0
        total -= sorted_counts
    else:
        starts, ends = runs
        before = total[np.maximum(starts - 1, 0)]  # S[s]
        before[starts == 0] = 0.0
        before += total[ends - 1]  # S[e]
        total = before
    total -= n
    return total


def _column_dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->j", x, y)


class GoldRanks:
    """The gold side of every resample on one task: shared by all models scored on it."""

    def __init__(self, gold: np.ndarray, resamples: Resamples) -> None:
        g = np.asarray(gold, dtype=np.float64)
        if g.ndim != 1 or g.shape[0] != resamples.n:
            raise ValueError(f"gold has shape {g.shape}, resamples are over {resamples.n} pairs")
        self.resamples = resamples
        counts = resamples.counts
        order, runs = _tie_runs(g)
        sorted_counts = counts[order]
        dev = _twice_centred_ranks(sorted_counts, runs, resamples.n)
        self._var = _column_dot(sorted_counts, dev * dev)
        original = np.empty_like(order)
        original[order] = np.arange(order.shape[0])
        # counts times the gold's twice-centred rank, per original pair and resample
        self._weighted_dev = counts * dev[original]
        self.nbytes = self._weighted_dev.nbytes + counts.nbytes
        self._memo: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def spearmans(self, pred: np.ndarray) -> np.ndarray:
        """Spearman(pred, gold) on every resample (NaN where a side is constant); read-only."""
        p = np.ascontiguousarray(pred, dtype=np.float64)
        if p.shape != (self.resamples.n,):
            raise ValueError(f"pred has shape {p.shape}, resamples are over {self.resamples.n} pairs")
        key = hashlib.blake2b(p.tobytes(), digest_size=16).digest()
        with self._lock:
            hit = self._memo.get(key)
            if hit is not None:
                self._memo.move_to_end(key)
                return hit
        order, runs = _tie_runs(p)
        weights = self.resamples.counts[order]
        dev = _twice_centred_ranks(weights, runs, self.resamples.n)
        num = _column_dot(self._weighted_dev[order], dev)
        dev *= dev
        var = _column_dot(weights, dev)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = num / np.sqrt(var * self._var)
        out.flags.writeable = False
        with self._lock:
            self._memo[key] = out
            while len(self._memo) > _PRED_CACHE_SIZE:
                self._memo.popitem(last=False)
        return out


_gold_cache: OrderedDict[tuple[bytes, int, int], GoldRanks] = OrderedDict()
_resamples_cache: OrderedDict[tuple[int, int, int], Resamples] = OrderedDict()
_cache_lock = threading.Lock()


def _trim(cache: OrderedDict, size: Callable[[Any], int]) -> None:
    """Drop the least recently used entries beyond the memory budget (keeping the newest)."""
    while len(cache) > 1 and sum(size(v) for v in cache.values()) > _CACHE_BYTES // 2:
        cache.popitem(last=False)


def _resamples(n: int, seed: int, n_boot: int) -> Resamples:
    key = (n, seed, n_boot)
    with _cache_lock:
        hit = _resamples_cache.get(key)
        if hit is None:
            hit = _resamples_cache[key] = Resamples(n, seed, n_boot)
        _resamples_cache.move_to_end(key)
        _trim(_resamples_cache, lambda r: 8 * r.n * r.n_boot)
    return hit


def gold_ranks(gold: np.ndarray, n_resamples: int = 1000, seed: int = 0) -> GoldRanks:
    """The (cached) GoldRanks of `gold` under the seeded resamples: computed once per task."""
    g = np.ascontiguousarray(gold, dtype=np.float64)
    key = (hashlib.blake2b(g.tobytes(), digest_size=16).digest(), int(n_resamples), int(seed))
    with _cache_lock:
        hit = _gold_cache.get(key)
        if hit is not None:
            _gold_cache.move_to_end(key)
            return hit
    built = GoldRanks(g, _resamples(g.shape[0], int(seed), int(n_resamples)))
    with _cache_lock:
        hit = _gold_cache.setdefault(key, built)
        _gold_cache.move_to_end(key)
        _trim(_gold_cache, lambda r: r.nbytes)
    return hit


def clear_caches() -> None:
    """Forget every cached Resamples and GoldRanks (frees their memory; the next call recomputes)."""
    with _cache_lock:
        _gold_cache.clear()
        _resamples_cache.clear()


def percentile_ci(stats: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the finite resampled statistics (NaN, NaN when there are none)."""
    finite = stats[np.isfinite(stats)]
    if finite.size == 0:
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    lo, hi = np.percentile(finite, [100.0 * alpha, 100.0 * (1.0 - alpha)])
    return float(lo), float(hi)


def paired_summary(
    delta: float, stats_a: np.ndarray, stats_b: np.ndarray, n_pairs: int
) -> dict[str, float | int | tuple[float, float]]:
    """Paired-bootstrap result from both models' resampled Spearmans (same resamples).

    ``ci95``: 2.5/97.5 percentiles of the resampled differences; ``p_value``: two-sided,
    twice the share of resampled differences on the other side of zero from ``delta`` (ties
    with zero counted against), capped at 1; 1.0 when ``delta`` is 0.
    """
    deltas = stats_a - stats_b
    deltas = deltas[np.isfinite(deltas)]
    if deltas.size == 0 or not np.isfinite(delta):
        ci = (float("nan"), float("nan"))
        p_value = float("nan")
    else:
        lo, hi = np.percentile(deltas, [2.5, 97.5])
        ci = (float(lo), float(hi))
        if delta > 0:
            opposite = np.count_nonzero(deltas <= 0)
        elif delta < 0:
            opposite = np.count_nonzero(deltas >= 0)
        else:
            opposite = deltas.size
        p_value = float(min(1.0, 2.0 * opposite / deltas.size))
    return {"delta": float(delta), "ci95": ci, "p_value": p_value, "n_pairs": int(n_pairs)}
