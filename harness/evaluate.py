"""STS scoring and statistics: the same numbers MTEB computes, bootstrap intervals, paired tests.

Definitions follow MTEB 2.x (``mteb/_evaluators/any_sts_evaluator.py`` and
``mteb/abstasks/sts.py``):

- cosine similarity  = ``1 - sklearn.paired_cosine_distances(e1, e2)``; sklearn normalises
  each row first and leaves an all-zero row at zero, so we do the same;
- manhattan / euclidean similarity = the paired distance, negated;
- each with ``scipy.stats.pearsonr`` and ``scipy.stats.spearmanr`` against the gold scores.

MTEB 2.x no longer reports dot-product scores; we add ``dot_pearson``/``dot_spearman``
(the plain row-wise dot product) as extras. ``pearson``/``spearman`` are MTEB's
"model similarity" scores: computed with the model's own similarity function (its
``similarity_fn_name``, as mteb's evaluator calls ``similarity_pairwise``), cosine unless the
model names another; the run passes it from its settings (``RunSettings.similarity``).
Everything is computed in float64 and returned as plain Python floats on a 0-1 scale.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
from scipy.stats import pearsonr, spearmanr

from harness import bootstrap as bs
from harness.errors import NonFiniteEmbeddings
from harness.records import METRIC_KEYS, RunRecord

# ok, or why no test was run: the pairs differ, there are none, or a record lacks its similarities.
PairedStatus = Literal["ok", "pairs-differ", "no-pairs", "unavailable"]

__all__ = [
    "MAIN_METRIC",
    "METRIC_KEYS",
    "NonFiniteEmbeddings",
    "PairedTest",
    "SimilarityName",
    "bootstrap_ci",
    "combine_paired",
    "correlations",
    "cosine_similarities",
    "finite",
    "interval_withheld",
    "mean_ci",
    "paired_bootstrap",
    "paired_similarities",
    "paired_test",
    "paired_untestable",
    "score_embeddings",
    "stored_ci",
    "sts_scores",
]

SimilarityName = Literal["cosine", "dot", "euclidean", "manhattan"]


def _as_pair_arrays(emb1: np.ndarray, emb2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(emb1, dtype=np.float64)
    b = np.asarray(emb2, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"embeddings must be 2-D arrays, got shapes {a.shape} and {b.shape}")
    if a.shape != b.shape:
        raise ValueError(f"embedding shapes differ: {a.shape} vs {b.shape}")
    for name, arr in (("emb1", a), ("emb2", b)):
        if not np.isfinite(arr).all():
            bad = int((~np.isfinite(arr)).any(axis=1).sum())
            raise NonFiniteEmbeddings(f"{name} has {bad} row(s) with NaN or infinite values")
    return a, b


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Row-normalise like ``sklearn.preprocessing.normalize``: zero rows stay zero."""
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    norms[norms == 0.0] = 1.0
    return x / norms[:, None]


def cosine_similarities(emb1: np.ndarray, emb2: np.ndarray) -> np.ndarray:
    """Per-pair cosine similarity (float64), exactly ``1 - paired_cosine_distances``."""
    a, b = _as_pair_arrays(emb1, emb2)
    return _cosine(a, b)


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    diff = _unit_rows(a) - _unit_rows(b)
    return 1.0 - 0.5 * np.einsum("ij,ij->i", diff, diff)


def paired_similarities(emb1: np.ndarray, emb2: np.ndarray) -> dict[str, np.ndarray]:
    """Per-pair similarities under the four functions (distances negated), float64."""
    a, b = _as_pair_arrays(emb1, emb2)
    diff = a - b
    return {
        "cosine": _cosine(a, b),
        "manhattan": -np.abs(diff).sum(axis=1),
        "euclidean": -np.sqrt(np.einsum("ij,ij->i", diff, diff)),
        "dot": np.einsum("ij,ij->i", a, b),
    }


def _corr(pred: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
    with warnings.catch_warnings():
        # a constant input gives NaN (and a warning); the NaN is the honest answer
        warnings.simplefilter("ignore")
        return float(pearsonr(pred, gold)[0]), float(spearmanr(pred, gold)[0])


def correlations(pred: Sequence[float], gold: Sequence[float]) -> tuple[float, float]:
    """``(pearson, spearman)`` of per-pair similarities against gold scores (NaN when constant)."""
    return _corr(np.asarray(pred, dtype=np.float64), np.asarray(gold, dtype=np.float64))


def sts_scores(
    emb1: np.ndarray,
    emb2: np.ndarray,
    gold: Sequence[float],
    *,
    similarity: SimilarityName = "cosine",
) -> dict[str, float]:
    """MTEB's STS metrics for paired embeddings against gold scores (any scale).

    ``similarity`` picks the model's own similarity function, which MTEB reports as
    ``pearson``/``spearman``; ``main_score`` is always ``cosine_spearman`` (MTEB's main
    score for STS tasks).
    """
    sims = paired_similarities(emb1, emb2)
    g = np.asarray(gold, dtype=np.float64)
    if g.ndim != 1 or g.shape[0] != sims["cosine"].shape[0]:
        raise ValueError(f"gold has {g.shape} scores for {sims['cosine'].shape[0]} pairs")
    if g.shape[0] < 2:
        raise ValueError("need at least two pairs to compute a correlation")
    if not np.isfinite(g).all():
        raise ValueError("gold scores contain NaN or infinite values")
    if similarity not in sims:
        raise ValueError(f"unknown similarity {similarity!r}; expected one of {sorted(sims)}")

    out: dict[str, float] = {}
    for name in ("cosine", "manhattan", "euclidean", "dot"):
        pred = sims[name]
        if not np.isfinite(pred).all():  # e.g. a dot product overflowing float64
            raise NonFiniteEmbeddings(f"{name} similarities are not finite")
        out[f"{name}_pearson"], out[f"{name}_spearman"] = _corr(pred, g)
    out["pearson"] = out[f"{similarity}_pearson"]
    out["spearman"] = out[f"{similarity}_spearman"]
    out["main_score"] = out["cosine_spearman"]
    return {key: out[key] for key in METRIC_KEYS}


# --------------------------------------------------------------------------- bootstrap


def _check_pred_gold(pred: Sequence[float], gold: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64)
    g = np.asarray(gold, dtype=np.float64)
    if p.ndim != 1 or p.shape != g.shape:
        raise ValueError(f"pred and gold must be 1-D of equal length, got {p.shape} and {g.shape}")
    if p.shape[0] < 3:
        raise ValueError("need at least three pairs to bootstrap a correlation")
    if not (np.isfinite(p).all() and np.isfinite(g).all()):
        raise NonFiniteEmbeddings("predictions or gold scores contain NaN or infinite values")
    return p, g


def _spearman(p: np.ndarray, g: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(spearmanr(p, g)[0])


def bootstrap_ci(
    pred: Sequence[float],
    gold: Sequence[float],
    *,
    n_resamples: int = bs.N_RESAMPLES,
    seed: int = bs.SEED,
    level: float = 0.95,
) -> tuple[float, float]:
    """Seeded percentile-bootstrap CI of Spearman(pred, gold), resampling pairs.

    Resamples where a side is constant (Spearman undefined) are dropped. Computed by
    ``harness.bootstrap`` (no sort per resample; the resamples and gold ranks of a task are
    shared by every model scored on it), equal to ranking every resample.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_resamples < 1:
        raise ValueError("n_resamples must be positive")
    p, g = _check_pred_gold(pred, gold)
    return bs.percentile_ci(bs.gold_ranks(g, n_resamples, seed).spearmans(p), level)


# Below this many pairs, or with more of the resamples degenerate than this share (a side constant:
# Spearman undefined), a percentile interval says nothing (3 pairs scored 1, 1, 2 gave [0.87, 1.00]).
MIN_INTERVAL_PAIRS = 10
MAX_DEGENERATE_SHARE = 0.05


def interval_withheld(
    pred: Sequence[float], gold: Sequence[float], *, n_resamples: int = 1000, seed: int = 0
) -> str | None:
    """Why :func:`bootstrap_ci` of these pairs is no interval to show (None: it is one)."""
    p, g = _check_pred_gold(pred, gold)
    if g.shape[0] < MIN_INTERVAL_PAIRS:
        return f"{g.shape[0]} pairs, fewer than the {MIN_INTERVAL_PAIRS} a bootstrap interval needs"
    stats = bs.gold_ranks(g, n_resamples, seed).spearmans(p)
    degenerate = float(np.mean(~np.isfinite(stats)))
    if degenerate > MAX_DEGENERATE_SHARE:
        return (
            f"{degenerate:.0%} of the {n_resamples} resamples are degenerate (constant gold scores or "
            "similarities), more than the 5% a bootstrap interval allows"
        )
    return None


def paired_bootstrap(
    pred_a: Sequence[float],
    pred_b: Sequence[float],
    gold: Sequence[float],
    *,
    n_resamples: int = bs.N_RESAMPLES,
    seed: int = bs.SEED,
) -> dict[str, float | int | tuple[float, float]]:
    """Paired bootstrap of the Spearman difference between two models on the same pairs.

    Both models are scored on the same resampled pair indices. Returns ``delta``
    (spearman_a - spearman_b on all pairs), ``ci95`` (2.5/97.5 percentiles of the
    resampled deltas), ``p_value`` (two-sided: twice the share of resampled deltas on the
    other side of zero from ``delta``, ties with zero counted against, capped at 1; 1.0
    when ``delta`` is 0) and ``n_pairs``.
    """
    if n_resamples < 1:
        raise ValueError("n_resamples must be positive")
    a, g = _check_pred_gold(pred_a, gold)
    b, _ = _check_pred_gold(pred_b, gold)
    delta = _spearman(a, g) - _spearman(b, g)
    ranks = bs.gold_ranks(g, n_resamples, seed)
    return bs.paired_summary(delta, ranks.spearmans(a), ranks.spearmans(b), g.shape[0])


def require_finite(scores: dict[str, float]) -> dict[str, float]:
    """Return `scores`, or raise NonFiniteEmbeddings when a correlation is NaN or infinite.

    Constant similarities (e.g. a model that maps every sentence to the same vector) make
    every correlation undefined: that is an error result, never a score.
    """
    bad = sorted(k for k, v in scores.items() if not np.isfinite(v))
    if bad:
        raise NonFiniteEmbeddings(
            f"scores are not finite ({', '.join(bad[:3])}{'…' if len(bad) > 3 else ''}): "
            "the similarities are constant or the embeddings degenerate"
        )
    return scores


def score_embeddings(
    emb1: np.ndarray,
    emb2: np.ndarray,
    gold: Sequence[float],
    *,
    n_resamples: int = bs.N_RESAMPLES,
    seed: int = bs.SEED,
    similarity: str | None = None,
) -> tuple[dict[str, float], np.ndarray, tuple[float, float]]:
    """Everything a stored STS result needs: finite scores, per-pair cosine similarities, 95% CI.

    ``similarity`` is the model's own function (None: cosine), for ``pearson``/``spearman``; the
    main score, the similarities and the interval are cosine's whatever it is."""
    scores = require_finite(
        sts_scores(emb1, emb2, gold, similarity=cast(SimilarityName, similarity or "cosine"))
    )
    sims = cosine_similarities(emb1, emb2)
    return scores, sims, bootstrap_ci(sims, gold, n_resamples=n_resamples, seed=seed)


# --------------------------------------------------------------------------- stored numbers

MAIN_METRIC = "cosine_spearman"  # MTEB's main score for STS tasks
ALPHA = 0.05  # significance level of the paired tests
Z95 = 1.959963984540054


def finite(x: Any) -> float | None:
    """``x`` as a float when it is a finite number, else None."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def stored_ci(run: RunRecord) -> tuple[float, float] | None:
    """The run's 95% interval of the main score, as fractions (a ×100 interval is rescaled)."""
    if not run.ci95 or len(run.ci95) != 2:
        return None
    lo, hi = finite(run.ci95[0]), finite(run.ci95[1])
    if lo is None or hi is None:
        return None
    if max(abs(lo), abs(hi)) > 1.5:  # stored in points, not fractions
        lo, hi = lo / 100, hi / 100
    return (min(lo, hi), max(lo, hi))


def mean_ci(
    values: Sequence[float], cis: Sequence[tuple[float, float] | None]
) -> tuple[float, tuple[float, float] | None]:
    """Mean of task scores; its 95% interval treats task errors as independent and normal."""
    mean = sum(values) / len(values)
    if any(ci is None for ci in cis):
        return mean, None
    if len(values) == 1:
        return mean, cis[0]
    se = math.sqrt(sum(((ci[1] - ci[0]) / (2 * Z95)) ** 2 for ci in cis if ci is not None)) / len(values)
    return mean, (mean - Z95 * se, mean + Z95 * se)


@dataclass(frozen=True)
class PairedTest:
    """Outcome of a paired comparison of A against B on the same pairs (delta = A - B, fractions)."""

    status: PairedStatus
    message: str
    delta: float | None = None
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    n_pairs: int | None = None

    @property
    def significant(self) -> bool:
        if self.status != "ok" or self.p_value is None or self.ci is None:
            return False
        return self.p_value < ALPHA and (self.ci[0] > 0 or self.ci[1] < 0)


def paired_untestable(a: RunRecord, b: RunRecord) -> PairedTest | None:
    """Why A and B cannot be paired (no similarities stored, different pairs), or None when they can."""
    sims_a, sims_b = a.cosine_similarities, b.cosine_similarities
    if not sims_a or not sims_b or not a.gold or not b.gold:
        return PairedTest("no-pairs", "no per-pair similarities stored")
    if a.gold != b.gold or len(sims_a) != len(a.gold) or len(sims_b) != len(b.gold):
        return PairedTest("pairs-differ", "the pairs differ: the two runs scored different gold lists")
    return None


def paired_test(
    a: RunRecord, b: RunRecord, bootstrap: Callable[..., dict[str, Any]] | None = paired_bootstrap
) -> PairedTest:
    """Paired bootstrap of A vs B on one task, from the stored per-pair similarities.

    ``bootstrap`` None skips the test (status ``unavailable``): the caller compares intervals instead.
    """
    untestable = paired_untestable(a, b)
    if untestable is not None:
        return untestable
    sims_a, sims_b = a.cosine_similarities, b.cosine_similarities
    if bootstrap is None:
        return PairedTest("unavailable", "paired bootstrap unavailable (no bootstrap given)")
    try:
        out = bootstrap(list(sims_a), list(sims_b), list(a.gold), n_resamples=bs.N_RESAMPLES, seed=bs.SEED)
    except Exception as exc:
        return PairedTest("unavailable", f"paired bootstrap failed: {exc}")
    delta, p = finite(out.get("delta")), finite(out.get("p_value"))
    ci_raw = out.get("ci95") or []
    ci = (finite(ci_raw[0]), finite(ci_raw[1])) if len(ci_raw) == 2 else (None, None)
    if delta is None or p is None or ci[0] is None or ci[1] is None:
        return PairedTest("unavailable", "paired bootstrap returned no usable numbers")
    n = out.get("n_pairs")
    return PairedTest(
        "ok", "paired bootstrap", delta, (ci[0], ci[1]), p, int(n) if n is not None else len(a.gold)
    )


def combine_paired(tests: Sequence[PairedTest]) -> PairedTest:
    """One test from per-task paired tests: mean difference, independent normal errors."""
    if len(tests) == 1:
        return tests[0]
    k = len(tests)
    delta = sum(t.delta for t in tests if t.delta is not None) / k
    se = math.sqrt(sum(((t.ci[1] - t.ci[0]) / (2 * Z95)) ** 2 for t in tests if t.ci)) / k
    p = (0.0 if delta != 0 else 1.0) if se <= 0 else math.erfc(abs(delta) / se / math.sqrt(2))
    return PairedTest(
        "ok",
        f"paired bootstrap over {k} tasks",
        delta,
        (delta - Z95 * se, delta + Z95 * se),
        p,
        sum(t.n_pairs or 0 for t in tests),
    )
