"""The fast bootstrap (harness.bootstrap) against the sorting definition it replaces.

Same seed, same resamples: every resampled Spearman, interval and p-value must equal what
ranking each resample with scipy gives, to 1e-12 (the arithmetic is exact, so in practice
bit for bit). Speed is not asserted here; benchmarks/bench_scale.py measures it.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from harness import bootstrap as bs
from harness import evaluate

STSB_DE_TEST = Path("/work/shared/data/sts/stsb_multi_mt/stsb-de-test.csv")
TOL = 1e-12


def _stsb_de_rows() -> list[list[str]]:
    if not STSB_DE_TEST.is_file():
        pytest.skip(f"{STSB_DE_TEST} not available")
    with STSB_DE_TEST.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _stsb_de_gold() -> np.ndarray:
    return np.array([float(row[2]) for row in _stsb_de_rows()])


def _minilm_like(gold: np.ndarray, seed: int) -> np.ndarray:
    """Cosine similarities shaped like a small encoder's on STS-B de test: squashed, noisy,
    float32-rounded, and exactly 1.0 for the pairs whose two sentences are identical (ties)."""
    rng = np.random.default_rng(seed)
    z = (gold - 2.5) / 1.5 + rng.normal(0.0, 0.9, gold.shape[0])
    sims = (0.35 + 0.6 / (1.0 + np.exp(-z))).astype(np.float32).astype(np.float64)
    same = np.array([row[0] == row[1] for row in _stsb_de_rows()])
    sims[same] = 1.0
    return sims


def _old_ci(pred, gold, n_resamples=1000, seed=0, level=0.95):
    """bootstrap_ci as it was: rank every resample, drop undefined ones, percentile interval."""
    (stats,) = bs.reference_spearmans([pred], gold, n_resamples, seed)
    stats = stats[np.isfinite(stats)]
    alpha = (1.0 - level) / 2.0
    lo, hi = np.percentile(stats, [100.0 * alpha, 100.0 * (1.0 - alpha)])
    return float(lo), float(hi)


def _old_paired(a, b, gold, n_resamples=1000, seed=0):
    """paired_bootstrap's interval and p-value as they were, from ranked resamples."""
    from scipy.stats import spearmanr

    delta = float(spearmanr(a, gold)[0]) - float(spearmanr(b, gold)[0])
    sa, sb = bs.reference_spearmans([a, b], gold, n_resamples, seed)
    deltas = sa - sb
    deltas = deltas[np.isfinite(deltas)]
    lo, hi = np.percentile(deltas, [2.5, 97.5])
    if delta > 0:
        opposite = np.count_nonzero(deltas <= 0)
    elif delta < 0:
        opposite = np.count_nonzero(deltas >= 0)
    else:
        opposite = deltas.size
    return delta, (float(lo), float(hi)), float(min(1.0, 2.0 * opposite / deltas.size))


def _assert_same_stats(fast: np.ndarray, ref: np.ndarray) -> None:
    assert fast.shape == ref.shape
    assert np.array_equal(np.isnan(fast), np.isnan(ref))
    ok = np.isfinite(ref)
    assert np.max(np.abs(fast[ok] - ref[ok]), initial=0.0) <= TOL


def test_resample_counts_are_the_drawn_indices():
    n, n_boot, seed = 2500, 1000, 3  # 2 chunks of draws (CHUNK_CELLS // 2500 = 800)
    counts = bs.Resamples(n, seed, n_boot).counts
    idx = np.concatenate(list(bs.resample_indices(n, n_boot, seed)))
    assert idx.shape == (n_boot, n)
    assert counts.shape == (n, n_boot)
    assert np.all(counts.sum(axis=0) == n)
    for r in (0, 799, 800, 999):  # both sides of the chunk boundary
        assert np.array_equal(counts[:, r], np.bincount(idx[r], minlength=n))


def test_stsb_de_gold_synthetic_and_minilm_like_predictions():
    gold = _stsb_de_gold()
    assert gold.shape == (1379,)
    rng = np.random.default_rng(11)
    preds = {
        "synthetic": gold + rng.normal(0.0, 1.4, gold.shape[0]),
        "minilm-like": _minilm_like(gold, 5),
        "weak": _minilm_like(gold, 6) + rng.normal(0.0, 0.3, gold.shape[0]),
    }
    assert len(np.unique(preds["minilm-like"])) < gold.shape[0]  # identical sentences tie at 1.0
    ranks = bs.GoldRanks(gold, bs.Resamples(gold.shape[0], 0, 1000))
    refs = bs.reference_spearmans(list(preds.values()), gold, 1000, 0)
    for pred, ref in zip(preds.values(), refs, strict=True):
        _assert_same_stats(ranks.spearmans(pred), ref)
    # the public functions (run and report use these) against the old computation
    for pred in preds.values():
        lo, hi = evaluate.bootstrap_ci(pred, gold)
        old_lo, old_hi = _old_ci(pred, gold)
        assert abs(lo - old_lo) <= TOL and abs(hi - old_hi) <= TOL
    for a, b in (("minilm-like", "weak"), ("weak", "synthetic"), ("synthetic", "minilm-like")):
        res = evaluate.paired_bootstrap(preds[a], preds[b], gold)
        delta, ci, p = _old_paired(preds[a], preds[b], gold)
        assert abs(res["delta"] - delta) <= TOL
        assert abs(res["ci95"][0] - ci[0]) <= TOL and abs(res["ci95"][1] - ci[1]) <= TOL
        assert res["p_value"] == p and res["n_pairs"] == 1379


@pytest.mark.parametrize(
    ("n", "n_boot", "seed", "levels"),
    [(5, 300, 0, 2), (12, 1000, 7, 3), (200, 500, 1, 6), (2500, 1000, 2, 11)],
)
def test_heavily_tied_data(n, n_boot, seed, levels):
    rng = np.random.default_rng(seed + 100)
    gold = rng.integers(0, levels, n).astype(np.float64)
    pred = np.round(gold + rng.normal(0.0, 1.0, n))  # integer-valued: long tie runs
    other = rng.integers(0, 3, n).astype(np.float64)
    ranks = bs.GoldRanks(gold, bs.Resamples(n, seed, n_boot))
    ref_pred, ref_other = bs.reference_spearmans([pred, other], gold, n_boot, seed)
    fast_pred, fast_other = ranks.spearmans(pred), ranks.spearmans(other)
    _assert_same_stats(fast_pred, ref_pred)
    _assert_same_stats(fast_other, ref_other)
    if n <= 5:  # tiny n: some resamples are constant on one side (undefined, NaN)
        assert np.isnan(ref_pred).any() or np.isnan(ref_other).any()
    assert bs.percentile_ci(fast_pred) == pytest.approx(
        tuple(np.percentile(ref_pred[np.isfinite(ref_pred)], [2.5, 97.5])), abs=TOL
    )


def test_identical_and_monotone_predictions_tie_exactly():
    gold = _stsb_de_gold()
    pred = _minilm_like(gold, 1)
    res = evaluate.paired_bootstrap(pred, pred.copy(), gold)
    assert res["delta"] == 0.0 and res["p_value"] == 1.0 and res["ci95"] == (0.0, 0.0)
    ranks = bs.gold_ranks(gold)
    # a monotone transform has the same ranks, so the same resampled Spearmans, exactly
    assert np.array_equal(ranks.spearmans(pred), ranks.spearmans(np.exp(3 * pred)))


def test_gold_ranks_are_shared_per_task_and_seed():
    gold = _stsb_de_gold()
    first = bs.gold_ranks(gold, 1000, 0)
    assert bs.gold_ranks(gold.copy(), 1000, 0) is first  # same task: computed once
    assert bs.gold_ranks(gold, 1000, 1) is not first
    assert bs.gold_ranks(gold, 1000, 0).resamples is first.resamples
    pred = _minilm_like(gold, 2)
    stats = first.spearmans(pred)
    assert first.spearmans(pred.copy()) is stats  # remembered (a leader scored once per page)
    assert not stats.flags.writeable


def test_shape_mismatch_is_refused():
    ranks = bs.GoldRanks(np.arange(10.0), bs.Resamples(10, 0, 20))
    with pytest.raises(ValueError, match="10 pairs"):
        ranks.spearmans(np.arange(9.0))
    with pytest.raises(ValueError, match="10 pairs"):
        bs.GoldRanks(np.arange(11.0), bs.Resamples(10, 0, 20))


# ------------------------------------------------------------------------------------------
# against the old code itself, on real STS files

OLD_REV = "1115bd3"  # the last commit whose evaluate.py ranked every resample with scipy
DATA = Path("/work/shared/data/sts")
REAL_FILES = [
    ("stsb_multi_mt/stsb-de-test.csv", "stsb-csv"),
    ("stsb_multi_mt/stsb-en-test.csv", "stsb-csv"),
    ("german_stsbenchmark/deepl/stsb_de_test.csv", "score-first-tsv"),
    ("ro_sts/RO-STS.test.tsv", "score-first-tsv"),
]


@pytest.fixture(scope="module")
def old_evaluate() -> types.ModuleType:
    """harness/evaluate.py as it was at OLD_REV (sorting bootstrap), loaded from git history."""
    repo = Path(__file__).resolve().parent.parent
    try:
        proc = subprocess.run(
            ["git", "show", f"{OLD_REV}:harness/evaluate.py"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"git history not available: {exc}")
    if proc.returncode != 0:
        pytest.skip(f"commit {OLD_REV} not in this checkout's history")
    assert "rankdata(gold[idx], axis=1)" in proc.stdout  # it is the sorting implementation
    module = types.ModuleType("evaluate_at_" + OLD_REV)
    exec(compile(proc.stdout, f"{OLD_REV}:harness/evaluate.py", "exec"), module.__dict__)
    return module


def _real_task(relative: str, reader: str):
    from harness.tasks.readers import read_file

    path = DATA / relative
    if not path.is_file():
        pytest.skip(f"{path} not available")
    pairs, _ = read_file(path, reader)
    return pairs


def _char_ngram_embeddings(s1: list[str], s2: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Real (if simple) sentence vectors: TF-IDF of character n-grams, dense float32."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), max_features=512).fit(s1 + s2)
    return (
        vec.transform(s1).toarray().astype(np.float32),
        vec.transform(s2).toarray().astype(np.float32),
    )


def _word_jaccard(s1: list[str], s2: list[str]) -> np.ndarray:
    """Word-overlap similarity: a real baseline with long runs of ties (0, 1/2, 1, ...)."""
    out = []
    for a, b in zip(s1, s2, strict=True):
        x, y = set(a.lower().split()), set(b.lower().split())
        out.append(len(x & y) / max(1, len(x | y)))
    return np.array(out)


@pytest.mark.parametrize(("relative", "reader"), REAL_FILES, ids=[f for f, _ in REAL_FILES])
def test_run_report_and_compare_equal_the_old_code_on_real_files(old_evaluate, relative, reader):
    from harness.records import RunRecord
    from harness.report.paired import PairedTests

    pairs = _real_task(relative, reader)
    gold = np.array(pairs.gold)
    emb1, emb2 = _char_ngram_embeddings(pairs.sentence1, pairs.sentence2)
    jaccard = _word_jaccard(pairs.sentence1, pairs.sentence2)
    assert len(np.unique(jaccard)) < gold.shape[0] // 4  # heavily tied, as real baselines are

    # `run`: score_embeddings (scores, similarities, task interval) against the old one
    scores, sims, ci = evaluate.score_embeddings(emb1, emb2, pairs.gold)
    old_scores, old_sims, old_ci = old_evaluate.score_embeddings(emb1, emb2, pairs.gold)
    assert scores == old_scores and np.array_equal(sims, old_sims)
    assert abs(ci[0] - old_ci[0]) <= TOL and abs(ci[1] - old_ci[1]) <= TOL
    for seed in (0, 7):
        new = evaluate.bootstrap_ci(jaccard, gold, seed=seed)
        old = old_evaluate.bootstrap_ci(jaccard, gold, seed=seed)
        assert abs(new[0] - old[0]) <= TOL and abs(new[1] - old[1]) <= TOL

    # `report` and `compare`: paired tests through PairedTests (both commands use it)
    record = {"split": "test", "subset": "x", "status": "ok", "gold": list(pairs.gold)}
    a = RunRecord(identity="a", cosine_similarities=[float(x) for x in sims], **record)
    b = RunRecord(identity="b", cosine_similarities=[float(x) for x in jaccard], **record)
    for (x, y), test in zip([(a, b), (b, a)], PairedTests(workers=1).run([(a, b), (b, a)]), strict=True):
        old = old_evaluate.paired_bootstrap(x.cosine_similarities, y.cosine_similarities, pairs.gold)
        assert test.status == "ok" and test.n_pairs == old["n_pairs"] == gold.shape[0]
        assert abs(test.delta - old["delta"]) <= TOL
        assert abs(test.ci[0] - old["ci95"][0]) <= TOL and abs(test.ci[1] - old["ci95"][1]) <= TOL
        assert test.p_value == old["p_value"]


def test_the_benchmarks_old_side_is_the_old_code(old_evaluate):
    """benchmarks/bench_scale.py times its "old" functions: they must give what OLD_REV gave, exactly."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import bench_scale

    gold = _stsb_de_gold()
    a = _minilm_like(gold, 8)
    b = np.round(gold + np.random.default_rng(1).normal(0.0, 1.0, gold.shape[0]))  # ties
    assert bench_scale.old_ci(a, gold) == old_evaluate.bootstrap_ci(a, gold)
    assert bench_scale.old_ci(b, gold) == old_evaluate.bootstrap_ci(b, gold)
    assert bench_scale.old_paired(a, b, gold) == old_evaluate.paired_bootstrap(a, b, gold)


def test_counts_are_small_integers_and_the_exact_range_is_enforced():
    counts = bs.Resamples(1379, 0, 1000).counts
    assert counts.dtype == np.uint8 and not counts.flags.writeable
    with pytest.raises(ValueError, match="at most 200,000 pairs"):
        bs.Resamples(bs.MAX_PAIRS + 1, 0, 10)
