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
``2 * C_g + W_g - n``, is an integer, so everything is integer arithmetic (counts as uint8,
running counts as int32, sums in int64, all below ``n**3 < 2**53`` for n up to
``MAX_PAIRS``) and the correlation comes out bit-for-bit the same as the sorting
implementation (kept as :func:`reference_spearmans`, the definition the tests and
``benchmarks/bench_scale.py`` check against). Per prediction the work is one gather of the
counts, one running sum and one dot product over (pairs x resamples); the sum of squared
ranks needs no pass at all: with tie groups of sizes t it is ``(n**3 - n - sum(t**3 - t)) / 3``
(doubled ranks), where only the prediction's own runs of equal values need a correction.

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

# Largest task the exact integer arithmetic allows: every sum is below n**3 < 2**53.
MAX_PAIRS = 200_000
# The resamples every interval and paired test uses: one count and one seed, so results are reproducible.
N_RESAMPLES = 1000
SEED = 0
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

    def __init__(self, n: int, seed: int = SEED, n_boot: int = N_RESAMPLES) -> None:
        if n < 1 or n_boot < 1:
            raise ValueError(f"need n >= 1 and n_boot >= 1, got n={n}, n_boot={n_boot}")
        if n > MAX_PAIRS:
            raise ValueError(f"at most {MAX_PAIRS:,} pairs (exact integer sums), got {n:,}")
        self.n = int(n)
        self.seed = int(seed)
        self.n_boot = int(n_boot)

    @cached_property
    def counts(self) -> np.ndarray:
        """(n, n_boot) multiplicities, pairs by rows, in the smallest unsigned integer type that
        holds them (uint8 in practice: a pair drawn 256 times is beyond any real draw); each
        column sums to n. Computed once."""
        n = self.n
        out = np.empty((n, self.n_boot), dtype=np.int64)
        col = 0
        for idx in resample_indices(n, self.n_boot, self.seed):
            m = idx.shape[0]
            idx += (np.arange(m, dtype=idx.dtype) * n)[:, None]  # row r's draws -> bins r*n .. r*n+n-1
            out[:, col : col + m] = np.bincount(idx.ravel(), minlength=m * n).reshape(m, n).T
            col += m
        out = out.astype(np.min_scalar_type(int(out.max())))
        out.flags.writeable = False
        return out

    @cached_property
    def untied_var(self) -> np.ndarray:
        """Per resample, the sum of squared twice-centred ranks when only copies of one pair tie.

        For average ranks with tie groups of sizes t, the sum of squared centred ranks is
        ``(n**3 - n - sum(t**3 - t)) / 12``; doubled ranks make it four times that.
        """
        c = self.counts.astype(np.int64)
        n = np.int64(self.n)
        return (n**3 - n - (c**3 - c).sum(axis=0)) // 3


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


def _running_counts(sorted_counts: np.ndarray) -> np.ndarray:
    """``S[j + 1]``, the counts of the first j + 1 sorted pairs, per resample (int32: S <= n).

    Row by row (one vector add over all resamples per pair): faster than ``np.cumsum(axis=0)``.
    """
    total = sorted_counts.astype(np.int32)
    for i in range(1, total.shape[0]):
        np.add(total[i], total[i - 1], out=total[i])
    return total


def _before(running: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``S[k]`` for each k in `positions` (int64 rows; ``S[0] = 0``)."""
    out = running[np.maximum(positions - 1, 0)].astype(np.int64)
    out[positions == 0] = 0
    return out


def _integer_dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Column sums of x * y, exact (int64 accumulation)."""
    return np.einsum("ij,ij->j", x, y, dtype=np.int64)


class _Ranked:
    """One side of a resampled Spearman: the order of its values and, per resample, the running
    counts in that order and the sum of its squared twice-centred ranks.

    Twice a centred average rank is ``S[s] + S[e] - n`` for a pair in a run of ties [s, e) of
    the sorted values: ``2 * S[j + 1] - c_j - n`` when the pair is alone. Every quantity is an
    integer and every sum is exact.
    """

    def __init__(self, values: np.ndarray, resamples: Resamples) -> None:
        self.n = resamples.n
        self.order, runs = _tie_runs(values)
        self.counts = resamples.counts[self.order]
        self.running = _running_counts(self.counts)
        self.var = resamples.untied_var
        # pairs in a run of ties: where their run starts and ends (sorted positions)
        self.tied = self.tied_start = self.tied_end = np.empty(0, dtype=np.intp)
        if runs is not None:
            starts, ends = runs
            self.tied = np.flatnonzero(ends - starts > 1)
            self.tied_start, self.tied_end = starts[self.tied], ends[self.tied]
            self.var = self.var + self._tie_var_correction()

    def _tie_var_correction(self) -> np.ndarray:
        """A run of ties is one tie group: add back its pairs' own terms, take off the run's."""
        c = self.counts[self.tied].astype(np.int64)
        firsts = np.flatnonzero(self.tied_start == self.tied)  # one position per run
        size = _before(self.running, self.tied_end[firsts]) - _before(self.running, self.tied_start[firsts])
        return ((c**3 - c).sum(axis=0) - (size**3 - size).sum(axis=0)) // 3

    def twice_centred(self) -> np.ndarray:
        """Twice the centred average rank of every sorted pair in every resample (int32 or int64)."""
        dev = 2 * self.running - self.counts - np.int32(self.n)
        if self.tied.size:
            tied = _before(self.running, self.tied_start) + _before(self.running, self.tied_end) - self.n
            dev[self.tied] = tied
        return dev

    def dot(self, weighted: np.ndarray, weighted_counts: np.ndarray) -> np.ndarray:
        """Sum over pairs of ``weighted * twice-centred rank`` per resample, exactly.

        ``weighted`` (in this order) must sum to zero per resample (it is the other side's
        counts times twice-centred ranks) and ``weighted_counts`` is the order-free
        ``sum(counts * weighted)``; then the untied ranks ``2 S - c - n`` give
        ``2 * sum(weighted * S) - weighted_counts``, and tied pairs are corrected one by one.
        """
        out = 2 * _integer_dot(weighted, self.running) - weighted_counts
        if self.tied.size:
            w = weighted[self.tied].astype(np.int64)
            untied = 2 * self.running[self.tied].astype(np.int64) - self.counts[self.tied] - self.n
            tied = _before(self.running, self.tied_start) + _before(self.running, self.tied_end) - self.n
            out += _integer_dot(w, tied - untied)
        return out


class GoldRanks:
    """The gold side of every resample on one task: shared by all models scored on it."""

    def __init__(self, gold: np.ndarray, resamples: Resamples) -> None:
        g = np.asarray(gold, dtype=np.float64)
        if g.ndim != 1 or g.shape[0] != resamples.n:
            raise ValueError(f"gold has shape {g.shape}, resamples are over {resamples.n} pairs")
        self.resamples = resamples
        ranked = _Ranked(g, resamples)
        self._var = ranked.var
        original = np.empty_like(ranked.order)
        original[ranked.order] = np.arange(ranked.order.shape[0])
        # counts times the gold's twice-centred rank, per original pair and resample (|x| <= n**2)
        wide = np.int32 if resamples.n**2 < 2**31 else np.int64
        self._weighted_dev = (resamples.counts * ranked.twice_centred()[original]).astype(wide)
        self._weighted_counts = _integer_dot(resamples.counts, self._weighted_dev)
        self.nbytes = self._weighted_dev.nbytes + resamples.counts.nbytes
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
        ranked = _Ranked(p, self.resamples)
        num = ranked.dot(self._weighted_dev[ranked.order], self._weighted_counts)
        with np.errstate(invalid="ignore", divide="ignore"):
            # integers below 2**53 (n <= MAX_PAIRS): the same floats the sorting bootstrap gets
            out = num.astype(np.float64) / np.sqrt(
                ranked.var.astype(np.float64) * self._var.astype(np.float64)
            )
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
        _trim(_resamples_cache, lambda r: r.n * r.n_boot)
    return hit


def gold_ranks(gold: np.ndarray, n_resamples: int = N_RESAMPLES, seed: int = SEED) -> GoldRanks:
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
