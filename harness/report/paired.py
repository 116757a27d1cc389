"""Paired tests in bulk, for a page or a comparison: cached beside the results, run on every core.

``PairedTests.run(pairs)`` gives what ``harness.evaluate.paired_test`` gives for each pair of
stored runs, with the same numbers, but

* looks every test up first in the results folder's cache (``harness.paired_cache``: keyed by
  both runs' identities, their similarities, the gold scores and the bootstrap settings), so a
  rebuild recomputes only what changed;
* computes the rest with ``harness.evaluate.paired_bootstrap``, grouped by task so the
  resamples and gold ranks are built once per task (``harness.bootstrap``) and the common
  opponent (the leader) is scored once per task; with many tests, in worker processes over
  the machine's cores.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from harness.bootstrap import N_RESAMPLES, SEED
from harness.evaluate import PairedTest, paired_bootstrap, paired_test, paired_untestable
from harness.paired_cache import PairedCache, paired_key
from harness.records import RunRecord

# Below this many uncached tests one process is faster than starting workers.
PARALLEL_MIN_TESTS = 64

Bootstrap = Callable[..., dict[str, Any]]
Job = tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]


def _compute(job: Job) -> list[dict[str, Any] | str]:
    """paired_bootstrap for each (a, b) on one gold list; an error becomes its message."""
    gold, pairs = job
    out: list[dict[str, Any] | str] = []
    for sims_a, sims_b in pairs:
        try:
            out.append(paired_bootstrap(sims_a, sims_b, gold, n_resamples=N_RESAMPLES, seed=SEED))
        except Exception as exc:  # paired_test words it: "paired bootstrap failed: ..."
            out.append(str(exc) or type(exc).__name__)
    return out


def _replay(result: dict[str, Any] | str) -> Bootstrap:
    """A bootstrap callable that gives (or raises) a result computed earlier."""

    def bootstrap(*_args: Any, **_kwargs: Any) -> dict[str, Any]:
        if isinstance(result, str):
            raise ValueError(result)
        return result

    return bootstrap


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class PairedTests:
    """Paired tests of stored runs (same numbers as ``paired_test``), cached and parallel.

    ``bootstrap`` other than ``paired_bootstrap`` (a test double, a different statistic) is
    called as is, in this process, without the cache.
    """

    def __init__(
        self,
        bootstrap: Bootstrap = paired_bootstrap,
        cache_dir: Path | None = None,
        workers: int | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.cache = (
            PairedCache(cache_dir) if cache_dir is not None and bootstrap is paired_bootstrap else None
        )
        self.workers = workers if workers is not None else _workers()

    def run(self, pairs: Sequence[tuple[RunRecord, RunRecord]]) -> list[PairedTest]:
        if self.bootstrap is not paired_bootstrap:
            return [paired_test(a, b, self.bootstrap) for a, b in pairs]
        keys: dict[int, str] = {}
        for i, (a, b) in enumerate(pairs):
            if paired_untestable(a, b) is None:
                keys[i] = paired_key(
                    a.identity,
                    b.identity,
                    a.cosine_similarities,
                    b.cosine_similarities,
                    a.gold,
                    n_resamples=N_RESAMPLES,
                    seed=SEED,
                )
        done: dict[str, dict[str, Any] | str] = dict(self.cache.get_many(keys.values())) if self.cache else {}
        missing = {key: i for i, key in keys.items() if key not in done}
        fresh = self._compute_missing([pairs[i] for i in missing.values()])
        done.update(zip(missing, fresh, strict=True))
        if self.cache:
            self.cache.put_many({k: v for k, v in zip(missing, fresh, strict=True) if isinstance(v, dict)})
        return [
            paired_test(a, b, _replay(done[keys[i]]) if i in keys else self.bootstrap)
            for i, (a, b) in enumerate(pairs)
        ]

    def _compute_missing(self, pairs: Sequence[tuple[RunRecord, RunRecord]]) -> list[dict[str, Any] | str]:
        """Results in the order of `pairs`, grouped by gold list into jobs, on several cores when it pays."""
        groups: dict[tuple[float, ...], list[int]] = {}
        for i, (a, _) in enumerate(pairs):
            groups.setdefault(tuple(a.gold or ()), []).append(i)
        parallel = self.workers > 1 and len(pairs) >= PARALLEL_MIN_TESTS
        size = -(-len(pairs) // (2 * self.workers)) if parallel else len(pairs) or 1
        jobs: list[Job] = []
        order: list[int] = []
        for gold, members in groups.items():
            g = np.array(gold, dtype=np.float64)
            for start in range(0, len(members), size):
                chunk = members[start : start + size]
                arrays = [
                    (
                        np.array(pairs[i][0].cosine_similarities, dtype=np.float64),
                        np.array(pairs[i][1].cosine_similarities, dtype=np.float64),
                    )
                    for i in chunk
                ]
                jobs.append((g, arrays))
                order.extend(chunk)
        if parallel and len(jobs) > 1:
            context = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
            with ProcessPoolExecutor(max_workers=min(self.workers, len(jobs)), mp_context=context) as pool:
                batches = list(pool.map(_compute, jobs))
        else:
            batches = [_compute(job) for job in jobs]
        out: list[dict[str, Any] | str] = [""] * len(pairs)
        for i, result in zip(order, (r for batch in batches for r in batch), strict=True):
            out[i] = result
        return out

    @property
    def problem(self) -> str | None:
        """Why the cache was off or replaced in this build (one line naming the file), or None."""
        return self.cache.problem if self.cache else None

    def close(self) -> None:
        if self.cache:
            self.cache.close()
