"""The behaviour probe: does a model that loaded and scored behave like a sentence encoder at all?

Some folders load, pass every file check (harness.encode.integrity) and still are not the model:
``hidden_act`` or ``layer_norm_eps`` edited in ``config.json`` keep every tensor shape, and the
output can collapse (every sentence's vector nearly the same) while the correlation stays well
above zero. The probe needs no extra encoding and no fixed English sentences (a good German or
Korean model must pass): it reads the task's own vectors. Paraphrase pairs are the task's top-gold
rows (gold in the top fifth of the task's range) whose two sentences differ; unrelated pairs are
sentence1 of row i against sentence2 of row j != i (a seeded derangement). The gap is the mean
cosine of the first minus that of the second.

Measured (benchmarks/probe_gaps.py, 300-400 pairs per task): the real all-MiniLM-L6-v2 and its
German fine-tune gap 0.20 (Arabic STS17, a language neither was trained on) to 0.80 (STSB);
copies with ``hidden_act`` tanh or sigmoid or ``layer_norm_eps`` 1 or 100 gap 0.000 to 0.010.
The threshold sits at a tenth of the smallest gap of a working model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.evaluate import cosine_similarities
from harness.records import ProbeResult

# A gap below this is degenerate output: working models measured 0.20 and more, collapsed copies 0.010
# and less (module docstring). Conservative on purpose: a weak but working model is never flagged.
DEGENERATE_GAP = 0.02
# Gold in the top fifth of the task's own range counts as a paraphrase (0-5 scales: 4 and above).
PARAPHRASE_SHARE = 0.8
# Fewer paraphrase pairs than this give no verdict (a mean of so few says little).
MIN_PARAPHRASE_PAIRS = 10
SEED = 0


def _same_text(a: str, b: str) -> bool:
    # Identical sentences are similar under any deterministic model, a collapsed one too.
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def derangement(n: int, seed: int = SEED) -> np.ndarray:
    """A seeded permutation of range(n) that moves every index (a cycle through a shuffled order)."""
    order = np.random.default_rng(seed).permutation(n)
    partner = np.empty(n, dtype=np.int64)
    partner[order] = np.roll(order, 1)
    return partner


def probe(
    sentence1: Sequence[str],
    sentence2: Sequence[str],
    gold: Sequence[float],
    emb1: np.ndarray,
    emb2: np.ndarray,
    *,
    seed: int = SEED,
) -> ProbeResult:
    """The probe of one task from its already encoded pairs (``emb1[i]`` is ``sentence1[i]``'s vector)."""
    g = np.asarray(gold, dtype=np.float64)
    emb1, emb2 = np.asarray(emb1), np.asarray(emb2)
    n = g.shape[0]
    low, high = (float(g.min()), float(g.max())) if n else (0.0, 0.0)
    if n < 2 or high <= low:
        return ProbeResult(verdict="too-few-pairs")
    top = (g - low) / (high - low) >= PARAPHRASE_SHARE
    paraphrase = [i for i in range(n) if top[i] and not _same_text(sentence1[i], sentence2[i])]
    partner = derangement(n, seed)
    unrelated = [i for i in range(n) if not _same_text(sentence1[i], sentence2[partner[i]])]
    counts = {"n_paraphrase": len(paraphrase), "n_unrelated": len(unrelated)}
    if len(paraphrase) < MIN_PARAPHRASE_PAIRS or not unrelated:
        return ProbeResult(verdict="too-few-pairs", **counts)
    para_mean = float(cosine_similarities(emb1[paraphrase], emb2[paraphrase]).mean())
    unrel_mean = float(cosine_similarities(emb1[unrelated], emb2[partner[unrelated]]).mean())
    gap = para_mean - unrel_mean
    return ProbeResult(
        verdict="degenerate" if gap < DEGENERATE_GAP else "ok",
        gap=round(gap, 6),
        paraphrase_mean=round(para_mean, 6),
        unrelated_mean=round(unrel_mean, 6),
        threshold=DEGENERATE_GAP,
        **counts,
    )
