from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from harness.evaluate import (
    METRIC_KEYS,
    NonFiniteEmbeddings,
    bootstrap_ci,
    cosine_similarities,
    paired_bootstrap,
    paired_similarities,
    sts_scores,
)


def _data(n: int = 200, dim: int = 24, seed: int = 0, noise: float = 1.0):
    rng = np.random.default_rng(seed)
    e1 = rng.normal(size=(n, dim)).astype(np.float32)
    e2 = (e1 + noise * rng.normal(size=(n, dim))).astype(np.float32)
    manual_cos = (e1.astype(np.float64) * e2).sum(1) / (
        np.linalg.norm(e1.astype(np.float64), axis=1) * np.linalg.norm(e2.astype(np.float64), axis=1)
    )
    gold = np.round(np.clip(2.5 + 2.5 * manual_cos + rng.normal(0, 0.6, n), 0, 5), 1)  # ties, like STS
    return e1, e2, gold


def test_scores_match_manual_formulas_and_scipy():
    e1, e2, gold = _data()
    a, b = e1.astype(np.float64), e2.astype(np.float64)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    expected_preds = {
        "cosine": cos,
        "manhattan": -np.abs(a - b).sum(1),
        "euclidean": -np.sqrt(((a - b) ** 2).sum(1)),
        "dot": (a * b).sum(1),
    }
    scores = sts_scores(e1, e2, gold.tolist())
    assert list(scores) == list(METRIC_KEYS)
    assert all(type(v) is float for v in scores.values())
    for name, pred in expected_preds.items():
        assert scores[f"{name}_pearson"] == pytest.approx(pearsonr(pred, gold)[0], abs=1e-12)
        assert scores[f"{name}_spearman"] == pytest.approx(spearmanr(pred, gold)[0], abs=1e-12)
    assert scores["pearson"] == scores["cosine_pearson"]
    assert scores["spearman"] == scores["cosine_spearman"]
    assert scores["main_score"] == scores["cosine_spearman"]
    assert 0.3 < scores["cosine_spearman"] < 1.0  # a fraction, not x100

    # manual Spearman: Pearson of average ranks
    from scipy.stats import rankdata

    manual = np.corrcoef(rankdata(cos), rankdata(gold))[0, 1]
    assert scores["cosine_spearman"] == pytest.approx(manual, abs=1e-12)

    np.testing.assert_allclose(cosine_similarities(e1, e2), cos, atol=1e-12)
    sims = paired_similarities(e1, e2)
    for name, pred in expected_preds.items():
        np.testing.assert_allclose(sims[name], pred, rtol=1e-12, atol=1e-12)


def test_model_similarity_choice():
    e1, e2, gold = _data(seed=3)
    scores = sts_scores(e1, e2, gold, similarity="dot")
    assert scores["spearman"] == scores["dot_spearman"]
    assert scores["main_score"] == scores["cosine_spearman"]
    with pytest.raises(ValueError):
        sts_scores(e1, e2, gold, similarity="jaccard")  # type: ignore[arg-type]


def test_gold_scale_does_not_matter():
    e1, e2, gold = _data(seed=5)
    a = sts_scores(e1, e2, gold)
    b = sts_scores(e1, e2, gold / 5.0)  # MTEB normalises gold to 0-1 first
    for k in METRIC_KEYS:
        assert a[k] == pytest.approx(b[k], abs=1e-12)


def test_zero_vector_cosine_like_sklearn():
    e1 = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    e2 = np.array([[1.0, 2.0], [0.0, 1.0], [2.0, 2.0]])
    cos = cosine_similarities(e1, e2)
    np.testing.assert_allclose(cos, [0.5, 0.0, 1.0], atol=1e-12)
    sk = pytest.importorskip("sklearn.metrics.pairwise")
    np.testing.assert_allclose(cos, 1 - sk.paired_cosine_distances(e1, e2), atol=1e-12)


def test_matches_sklearn_paired_distances():
    sk = pytest.importorskip("sklearn.metrics.pairwise")
    e1, e2, _ = _data(n=50, seed=9)
    a, b = e1.astype(np.float64), e2.astype(np.float64)
    sims = paired_similarities(e1, e2)
    np.testing.assert_allclose(sims["cosine"], 1 - sk.paired_cosine_distances(a, b), atol=1e-12)
    np.testing.assert_allclose(sims["manhattan"], -sk.paired_manhattan_distances(a, b), atol=1e-9)
    np.testing.assert_allclose(sims["euclidean"], -sk.paired_euclidean_distances(a, b), atol=1e-9)


def test_matches_mteb_evaluator():
    """Run MTEB's own STS evaluator + score calculation with a fake encoder."""
    pytest.importorskip("mteb")
    datasets = pytest.importorskip("datasets")
    import mteb
    from mteb._evaluators.any_sts_evaluator import AnySTSEvaluator
    from mteb.abstasks.sts import AbsTaskSTS
    from mteb.timing import TimingStack

    e1, e2, gold = _data(n=120, seed=11)
    s1 = [f"first {i}" for i in range(len(gold))]
    s2 = [f"second {i}" for i in range(len(gold))]
    table = dict(zip(s1 + s2, list(e1) + list(e2), strict=True))

    class FakeEncoder:
        def encode(self, inputs, **kwargs):
            return np.stack([table[t] for batch in inputs for t in batch["text"]])

    ds = datasets.Dataset.from_dict({"sentence1": s1, "sentence2": s2, "score": gold.tolist()})
    evaluator = AnySTSEvaluator(
        ds,
        ("sentence1", "sentence2"),
        task_metadata=mteb.get_task("STSBenchmark").metadata,
        hf_split="test",
        hf_subset="default",
        input1_prompt_type=None,
        input2_prompt_type=None,
        timer=TimingStack(),
    )
    raw = evaluator(FakeEncoder(), encode_kwargs={"batch_size": 32})
    normalized = [g / 5.0 for g in gold]  # what AbsTaskSTS._normalize does for 0-5 scores
    theirs = AbsTaskSTS._calculate_scores(None, raw, normalized)
    ours = sts_scores(e1, e2, gold)
    for key, value in theirs.items():
        # MTEB computes distances in float32; we use float64
        assert ours[key] == pytest.approx(value, abs=1e-6), key


def test_non_finite_and_bad_shapes_raise():
    e1, e2, gold = _data(n=20)
    bad = e1.copy()
    bad[3, 1] = np.nan
    with pytest.raises(NonFiniteEmbeddings):
        sts_scores(bad, e2, gold)
    bad[3, 1] = np.inf
    with pytest.raises(NonFiniteEmbeddings):
        sts_scores(e1, bad, gold)
    with pytest.raises(NonFiniteEmbeddings):
        cosine_similarities(bad, e2)
    with pytest.raises(ValueError):
        sts_scores(e1, e2[:-1], gold)
    with pytest.raises(ValueError):
        sts_scores(e1, e2, gold[:-1])
    assert issubclass(NonFiniteEmbeddings, ValueError)


def _pred_gold(n: int, noise: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    gold = np.round(rng.uniform(0, 5, n), 1)
    pred = gold + rng.normal(0, noise, n)
    return pred, gold


def test_bootstrap_ci_contains_estimate_and_is_seeded():
    pred, gold = _pred_gold(300, 1.5)
    point = spearmanr(pred, gold)[0]
    lo, hi = bootstrap_ci(pred, gold, n_resamples=500, seed=7)
    assert lo < point < hi
    assert 0 < hi - lo < 0.3
    assert bootstrap_ci(pred, gold, n_resamples=500, seed=7) == (lo, hi)
    assert bootstrap_ci(pred, gold, n_resamples=500, seed=8) != (lo, hi)
    lo90, hi90 = bootstrap_ci(pred, gold, n_resamples=500, seed=7, level=0.90)
    assert lo <= lo90 < hi90 <= hi


def test_bootstrap_ci_narrows_with_n():
    small = bootstrap_ci(*_pred_gold(100, 1.5, seed=1), n_resamples=400)
    large = bootstrap_ci(*_pred_gold(1600, 1.5, seed=1), n_resamples=400)
    assert (large[1] - large[0]) < 0.5 * (small[1] - small[0])


def test_bootstrap_is_fast_enough():
    pred, gold = _pred_gold(1379, 1.0)
    t0 = time.perf_counter()
    bootstrap_ci(pred, gold, n_resamples=1000)
    # well under a second on an idle core; generous bound for a shared CI machine
    assert time.perf_counter() - t0 < 5.0


def test_paired_bootstrap_finds_real_difference():
    rng = np.random.default_rng(2)
    gold = np.round(rng.uniform(0, 5, 800), 1)
    good = gold + rng.normal(0, 0.8, gold.size)
    bad = gold + rng.normal(0, 3.0, gold.size)
    res = paired_bootstrap(good, bad, gold, n_resamples=500, seed=0)
    assert res["n_pairs"] == 800
    assert res["delta"] == pytest.approx(spearmanr(good, gold)[0] - spearmanr(bad, gold)[0], abs=1e-12)
    assert res["delta"] > 0.1
    lo, hi = res["ci95"]
    assert 0 < lo < res["delta"] < hi
    assert res["p_value"] < 0.01
    # symmetric when the models are swapped
    swapped = paired_bootstrap(bad, good, gold, n_resamples=500, seed=0)
    assert swapped["delta"] == pytest.approx(-res["delta"], abs=1e-12)
    assert swapped["p_value"] == res["p_value"]
    assert paired_bootstrap(good, bad, gold, n_resamples=500, seed=0) == res


def test_paired_bootstrap_no_difference():
    pred, gold = _pred_gold(300, 1.0)
    res = paired_bootstrap(pred, pred.copy(), gold, n_resamples=200)
    assert res["delta"] == 0.0
    assert res["ci95"] == (0.0, 0.0)
    assert res["p_value"] == 1.0

    # two equally noisy models: no significant difference
    rng = np.random.default_rng(4)
    a = gold + rng.normal(0, 1.0, gold.size)
    b = gold + rng.normal(0, 1.0, gold.size)
    res = paired_bootstrap(a, b, gold, n_resamples=500)
    assert res["ci95"][0] < 0 < res["ci95"][1]
    assert res["p_value"] > 0.05


def test_bootstrap_rejects_non_finite():
    pred, gold = _pred_gold(50, 1.0)
    pred[0] = np.nan
    with pytest.raises(NonFiniteEmbeddings):
        bootstrap_ci(pred, gold)
    with pytest.raises(NonFiniteEmbeddings):
        paired_bootstrap(pred, gold, gold)
