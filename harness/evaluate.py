"""STS scoring: the same numbers MTEB computes, plus bootstrap confidence intervals.

Definitions follow MTEB 2.x (``mteb/_evaluators/any_sts_evaluator.py`` and
``mteb/abstasks/sts.py``):

- cosine similarity  = ``1 - sklearn.paired_cosine_distances(e1, e2)``; sklearn normalises
  each row first and leaves an all-zero row at zero, so we do the same;
- manhattan / euclidean similarity = the paired distance, negated;
- each with ``scipy.stats.pearsonr`` and ``scipy.stats.spearmanr`` against the gold scores.

MTEB 2.x no longer reports dot-product scores; we add ``dot_pearson``/``dot_spearman``
(the plain row-wise dot product) as extras. ``pearson``/``spearman`` are MTEB's
"model similarity" scores: cosine unless another similarity function is named.
Everything is computed in float64 and returned as plain Python floats on a 0-1 scale.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy.stats import pearsonr, rankdata, spearmanr

__all__ = [
    "METRIC_KEYS",
    "NonFiniteEmbeddings",
    "bootstrap_ci",
    "cosine_similarities",
    "paired_bootstrap",
    "paired_similarities",
    "sts_scores",
]

SimilarityName = Literal["cosine", "dot", "euclidean", "manhattan"]

METRIC_KEYS: tuple[str, ...] = (
    "cosine_pearson",
    "cosine_spearman",
    "manhattan_pearson",
    "manhattan_spearman",
    "euclidean_pearson",
    "euclidean_spearman",
    "dot_pearson",
    "dot_spearman",
    "pearson",
    "spearman",
    "main_score",
)

# Upper bound on the number of float64 cells one bootstrap chunk may hold (per matrix).
_BOOTSTRAP_CHUNK_CELLS = 2_000_000


class NonFiniteEmbeddings(ValueError):
    """An embedding (or a similarity derived from one) is NaN or infinite."""


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


def _rowwise_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of x with the same row of y (NaN for a constant row)."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    num = np.einsum("ij,ij->i", xc, yc)
    den = np.sqrt(np.einsum("ij,ij->i", xc, xc) * np.einsum("ij,ij->i", yc, yc))
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def _resample_chunks(n: int, n_resamples: int, seed: int):
    """Yield index matrices (chunk, n) drawn from one seeded generator; same seed -> same draws."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_resamples, _BOOTSTRAP_CHUNK_CELLS // n))
    done = 0
    while done < n_resamples:
        m = min(chunk, n_resamples - done)
        yield rng.integers(0, n, size=(m, n))
        done += m


def _bootstrap_spearmans(preds: Sequence[np.ndarray], gold: np.ndarray, n_resamples: int, seed: int):
    """Spearman of each prediction vector with gold on the same bootstrap resamples."""
    out: list[list[np.ndarray]] = [[] for _ in preds]
    for idx in _resample_chunks(gold.shape[0], n_resamples, seed):
        gold_ranks = rankdata(gold[idx], axis=1)
        for k, p in enumerate(preds):
            out[k].append(_rowwise_pearson(rankdata(p[idx], axis=1), gold_ranks))
    return [np.concatenate(parts) for parts in out]


def _spearman(p: np.ndarray, g: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(spearmanr(p, g)[0])


def bootstrap_ci(
    pred: Sequence[float],
    gold: Sequence[float],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Seeded percentile-bootstrap CI of Spearman(pred, gold), resampling pairs.

    Resamples where a side is constant (Spearman undefined) are dropped.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_resamples < 1:
        raise ValueError("n_resamples must be positive")
    p, g = _check_pred_gold(pred, gold)
    (stats,) = _bootstrap_spearmans([p], g, n_resamples, seed)
    stats = stats[np.isfinite(stats)]
    if stats.size == 0:
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    lo, hi = np.percentile(stats, [100.0 * alpha, 100.0 * (1.0 - alpha)])
    return float(lo), float(hi)


def paired_bootstrap(
    pred_a: Sequence[float],
    pred_b: Sequence[float],
    gold: Sequence[float],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
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
    sa, sb = _bootstrap_spearmans([a, b], g, n_resamples, seed)
    deltas = sa - sb
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
    return {"delta": float(delta), "ci95": ci, "p_value": p_value, "n_pairs": int(g.shape[0])}


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
    emb1: np.ndarray, emb2: np.ndarray, gold: Sequence[float], *, n_resamples: int = 1000, seed: int = 0
) -> tuple[dict[str, float], np.ndarray, tuple[float, float]]:
    """Everything a stored STS result needs: finite scores, per-pair cosine similarities, 95% CI."""
    scores = require_finite(sts_scores(emb1, emb2, gold))
    sims = cosine_similarities(emb1, emb2)
    return scores, sims, bootstrap_ci(sims, gold, n_resamples=n_resamples, seed=seed)
