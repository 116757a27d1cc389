"""Cheaper vectors from the same model: the first k dimensions (Matryoshka), int8 and binary.

A variant is scored from the vectors the model already produced (the embedding cache holds
them): it costs a re-scoring, never a re-encoding. The definitions are sentence-transformers':

- a cut keeps the first ``dims`` dimensions of the model's output (what ``truncate_dim`` does),
  then cosine similarity;
- ``int8`` is ``sentence_transformers.quantization.quantize_embeddings(..., precision="int8")``
  with the calibration ranges taken from all of the task's own embeddings (both sides), then the
  cosine similarity of the int8 vectors;
- ``ubinary`` packs the sign bits (``precision="ubinary"``); the similarity is minus the Hamming
  distance.

Combinations are cut first, then quantised. The main score is the Spearman correlation of the
variant's similarity with the gold scores (cosine Spearman for float32 and int8).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

from harness.records import ModelSpec, RunSettings, VariantFacts

if TYPE_CHECKING:  # numpy, scipy and sentence-transformers load when a variant is scored
    import numpy as np

Precision = Literal["float32", "int8", "ubinary"]
PRECISIONS: tuple[str, ...] = ("float32", "int8", "ubinary")
QUANTISED: tuple[str, ...] = ("int8", "ubinary")  # what --precision accepts
SIMILARITY = {"float32": "cosine", "int8": "cosine", "ubinary": "negative Hamming distance"}
INT8_CALIBRATION = "the task's own embeddings, both sides (sentence-transformers quantize_embeddings)"


class VariantUsageError(ValueError):
    """A --dims or --precision value that cannot be scored: a usage error, said before any work."""


@dataclass(frozen=True)
class Variant:
    """A cut (``dims`` None: the full vector) in a precision."""

    dims: int | None
    precision: Precision = "float32"

    @property
    def label(self) -> str:
        return f"{self.dims or 'full'}/{self.precision}"

    def settings(self, base: RunSettings) -> RunSettings:
        """The variant's settings: the model's, plus what makes this variant its own result."""
        precision = None if self.precision == "float32" else self.precision
        return base.model_copy(update={"dims": self.dims, "precision": precision})


def variant_label(settings: RunSettings) -> str:
    """`` @128/int8`` for a variant's settings, "" for the full model's (summary lines)."""
    if settings.dims is None and settings.precision is None:
        return ""
    return f" @{settings.dims or 'full'}/{settings.precision or 'float32'}"


def bytes_per_vector(dims: int, precision: str) -> int:
    """The bytes one stored vector takes: 4 per float32, 1 per int8, 1 per 8 sign bits."""
    if precision == "ubinary":
        return math.ceil(dims / 8)
    return dims * (1 if precision == "int8" else 4)


# ---------------------------------------------------------------- options


def parse_dims(values: Iterable[str]) -> list[int]:
    """``--dims 64,128`` (repeatable): positive integers, in order, each once."""
    out: list[int] = []
    for value in values:
        for part in str(value).split(","):
            text = part.strip()
            if not text.isdigit() or int(text) <= 0:
                raise VariantUsageError(f"--dims: {text!r} is not a positive number of dimensions")
            if int(text) not in out:
                out.append(int(text))
    return out


def parse_precisions(values: Iterable[str]) -> list[str]:
    """``--precision int8,ubinary`` (repeatable): the quantisations sentence-transformers defines."""
    out: list[str] = []
    for value in values:
        for part in str(value).split(","):
            text = part.strip().lower()
            if text not in QUANTISED:
                raise VariantUsageError(
                    f"--precision: {part.strip()!r} is not one of {', '.join(QUANTISED)} "
                    "(float32 is the full model's result)"
                )
            if text not in out:
                out.append(text)
    return out


def plain_vector_problem(spec: ModelSpec, encoder: str | None) -> str | None:
    """Why a model's output cannot be cut (None: it is one plain vector of known length)."""
    if encoder is not None:
        return f"it runs on mteb's own implementation ({encoder}), whose output the harness does not shape"
    if spec.dimension.value is None:
        return "its output dimension is unknown (neither its card nor its files state one)"
    return None


def variants_for(
    spec: ModelSpec, dims: Sequence[int], precisions: Sequence[str], encoder: str | None = None
) -> list[Variant]:
    """The variants a model is scored at besides its full vectors.

    The dimensions are ``dims`` when given, else those the card declares (``matryoshka_dims``),
    else none; the model's full dimension among them means "not cut". Each is scored in float32
    and in every precision asked for. Raises VariantUsageError for a dimension above the model's
    and for dimensions asked of a model whose output is not a plain vector.
    """
    full = spec.dimension.value
    asked = list(dims)
    if asked:
        problem = plain_vector_problem(spec, encoder)
        if problem is not None:
            raise VariantUsageError(f"--dims on {spec.display_name}: {problem}")
        too_big = [d for d in asked if full is not None and d > full]
        if too_big:
            raise VariantUsageError(
                f"--dims {','.join(map(str, too_big))}: above {spec.display_name}'s {full} dimensions"
            )
    elif spec.matryoshka_dims.value and plain_vector_problem(spec, encoder) is None:
        asked = [d for d in spec.matryoshka_dims.value if full is None or d <= full]
    cuts: list[int | None] = [None if d == full else d for d in asked] or [None]
    chosen = {
        Variant(cut, precision)  # type: ignore[arg-type]
        for cut in cuts
        for precision in ("float32", *precisions)
        if cut is not None or precision != "float32"
    }
    return sorted(chosen, key=lambda v: (-(v.dims or 10**9), PRECISIONS.index(v.precision)))


# ---------------------------------------------------------------- vectors and similarities


def cut(vectors: np.ndarray, dims: int | None) -> np.ndarray:
    """The first `dims` dimensions of each vector (sentence-transformers' ``truncate_dim``)."""
    if dims is not None and dims > vectors.shape[1]:  # a card's dimension the model's output contradicts
        raise ValueError(f"cannot cut {vectors.shape[1]}-dimensional vectors to {dims} dimensions")
    return vectors if dims is None else vectors[:, :dims]


def quantised(vectors: np.ndarray, precision: str, calibration: np.ndarray) -> np.ndarray:
    """`vectors` in `precision` by sentence-transformers' ``quantize_embeddings``."""
    if precision == "float32":
        return vectors
    from sentence_transformers.quantization import quantize_embeddings

    if precision == "int8":
        return quantize_embeddings(vectors, precision="int8", calibration_embeddings=calibration)
    return quantize_embeddings(vectors, precision="ubinary")


def negative_hamming(packed1: np.ndarray, packed2: np.ndarray) -> np.ndarray:
    """Minus the number of differing bits of each pair of packed (uint8) sign vectors."""
    import numpy as np

    return -np.unpackbits(np.bitwise_xor(packed1, packed2), axis=1).sum(axis=1).astype(np.float64)


def variant_similarities(
    emb1: np.ndarray, emb2: np.ndarray, variant: Variant
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(similarities, vectors1, vectors2)`` of one variant on paired embeddings."""
    import numpy as np

    from harness import evaluate

    a, b = cut(np.asarray(emb1), variant.dims), cut(np.asarray(emb2), variant.dims)
    calibration = np.concatenate([a, b])  # int8 ranges from the task's own embeddings, both sides
    qa = quantised(a, variant.precision, calibration)
    qb = quantised(b, variant.precision, calibration)
    if variant.precision == "ubinary":
        return negative_hamming(qa, qb), qa, qb
    return evaluate.cosine_similarities(qa, qb), qa, qb


def score_variant(
    emb1: np.ndarray,
    emb2: np.ndarray,
    gold: Sequence[float],
    variant: Variant,
    full_similarities: Sequence[float],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    similarity: str | None = None,
) -> tuple[dict[str, float], np.ndarray, tuple[float, float], VariantFacts]:
    """Scores, per-pair similarities, 95% interval and facts (with the paired test against
    `full_similarities`, the full vectors' cosine similarities on the same pairs). `similarity`
    is the model's own function (None: cosine) for `pearson`/`spearman`, as in the full result."""
    import numpy as np

    from harness import evaluate

    sims, qa, qb = variant_similarities(emb1, emb2, variant)
    if variant.precision == "ubinary":  # no vector space to take cosines in: the similarity's own
        pearson, spearman = evaluate.correlations(sims, gold)
        scores = evaluate.require_finite({"pearson": pearson, "spearman": spearman, "main_score": spearman})
    else:
        own = cast("evaluate.SimilarityName", similarity or "cosine")
        scores = evaluate.require_finite(evaluate.sts_scores(qa, qb, gold, similarity=own))
    ci = evaluate.bootstrap_ci(sims, gold, n_resamples=n_resamples, seed=seed)
    paired: dict[str, Any] = evaluate.paired_bootstrap(
        sims, full_similarities, gold, n_resamples=n_resamples, seed=seed
    )
    full_dims = int(np.asarray(emb1).shape[1])
    dims = variant.dims or full_dims
    facts = VariantFacts(
        dims=dims,
        full_dims=full_dims,
        precision=variant.precision,
        bytes_per_vector=bytes_per_vector(dims, variant.precision),
        similarity=SIMILARITY[variant.precision],
        calibration=INT8_CALIBRATION if variant.precision == "int8" else None,
        delta_vs_full=evaluate.finite(paired["delta"]),
        delta_ci95=ci95 if None not in (ci95 := [evaluate.finite(x) for x in paired["ci95"]]) else None,
        p_value=evaluate.finite(paired["p_value"]),
    )
    return scores, sims, ci, facts
