"""all-MiniLM-L6-v2 on the MTEB task copies in the generic layout equals MTEB's published scores.

The published scores are read with mteb's own ``TaskResult.from_disk`` from the copy of MTEB's
results repository in ``shared/data/mteb-results`` (nobody here wrote them). The default suite runs
``run --lang en`` on STSBenchmark, STS13, STS16 and STS17 en-en (~8,000 sentences, about a minute
of CPU); every English task at once (STS12, STS14 and STS15 add ~20,000 sentences, about five
minutes of CPU: over the suite's budget) and the other languages' new tasks are `slow` (KorSTS,
KLUE-STS, JSTS, STS17 ar-ar, Assin2STS, STSB). Which tasks `--lang en` selects is checked without
encoding in tests/test_generic_layout.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import run as runner
from harness import store

# The English run encodes ~25,000 sentences: minutes of CPU, more on a shared machine.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]
REPO = Path(__file__).resolve().parent.parent
BASE_KEY = "sentence-transformers__all-minilm-l6-v2"
PUBLISHED_FOLDER = "data/mteb-results/results/sentence-transformers__all-MiniLM-L6-v2"
# the default suite's English tasks: every task the generic layout brings, but the three largest
DEFAULT_ENGLISH = {"STSBenchmark", "STS13", "STS16", "STS17[en-en]"}
ENGLISH = {
    "STSBenchmark",
    "STSBenchmarkMultilingualSTS[en]",
    "STS12",
    "STS13",
    "STS14",
    "STS15",
    "STS16",
    "STS17[en-en]",
}


def published(shared: Path) -> dict[tuple[str, str, str], float]:
    """(task, subset, split) -> MTEB's published main score, for the model's registered revision."""
    from mteb import TaskResult

    [folder] = [p for p in (shared / PUBLISHED_FOLDER).iterdir() if p.is_dir()]
    scores: dict[tuple[str, str, str], float] = {}
    for path in folder.glob("*.json"):
        if path.name == "model_meta.json":
            continue
        result = TaskResult.from_disk(path)
        for split, rows in result.scores.items():
            for row in rows:
                scores[(result.task_name, row["hf_subset"], split)] = row["main_score"]
    return scores


def run_language(
    tmp: Path, minilm_dir: Path, shared: Path, lang: str, tasks: list[str] | None = None
) -> list[store.StoredResult]:
    models = tmp / "models"
    models.mkdir()
    (models / BASE_KEY).symlink_to(minilm_dir, target_is_directory=True)
    options = runner.RunOptions(
        languages=[lang],
        results_dir=tmp / "results",
        registry_dir=REPO / "registry",
        model_names=[BASE_KEY],
        task_names=tasks or [],
        data_dir=shared / "data" / "sts",
        models_dirs=[models],
        cache_dir=tmp / "cache",
        bootstrap_resamples=100,
        allow_hub=False,
    )
    said: list[str] = []
    runner.run(options, say=said.append)
    return [r for r in store.load_results(tmp / "results") if r.model_key == BASE_KEY]


def assert_equal_to_published(results: list[store.StoredResult], shared: Path) -> dict[str, float]:
    scores = published(shared)
    ours: dict[str, float] = {}
    for r in results:
        assert r.run.status == "ok", (r.task_name, r.run.error)
        label = r.task_name if r.run.subset == "default" else f"{r.task_name}[{r.run.subset}]"
        mine = r.run.scores["cosine_spearman"]
        theirs = scores[(r.task_name, r.run.subset, r.run.split)]
        assert mine == pytest.approx(theirs, abs=1e-4), (label, mine, theirs)
        ours[label] = mine
    return ours


def labels_of(results: list[store.StoredResult]) -> set[str]:
    return {r.task_name if r.run.subset == "default" else f"{r.task_name}[{r.run.subset}]" for r in results}


@pytest.fixture(scope="module")
def english(tmp_path_factory: pytest.TempPathFactory, minilm_dir: Path, shared_dir: Path):
    tasks = ["STSBenchmark", "STS13", "STS16", "STS17"]
    return run_language(tmp_path_factory.mktemp("en"), minilm_dir, shared_dir, "en", tasks)


def test_english_scores_equal_mtebs_published(english, shared_dir: Path) -> None:
    assert labels_of(english) == DEFAULT_ENGLISH and all(r.run.split == "test" for r in english)
    assert set(assert_equal_to_published(english, shared_dir)) == DEFAULT_ENGLISH
    sts13 = next(r for r in english if r.task_name == "STS13").run
    assert sts13.n_pairs == 1500 and max(sts13.gold) <= 1.0  # stored gold is mteb's normalised gold


@pytest.mark.slow
def test_run_lang_en_runs_every_english_copy_equal_to_mtebs_published(
    tmp_path: Path, minilm_dir: Path, shared_dir: Path
) -> None:
    results = run_language(tmp_path, minilm_dir, shared_dir, "en")
    assert labels_of(results) == ENGLISH and all(r.run.split == "test" for r in results)
    assert set(assert_equal_to_published(results, shared_dir)) == ENGLISH
    sts12 = next(r for r in results if r.task_name == "STS12").run
    assert sts12.n_pairs == 3108 and max(sts12.gold) <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("lang", "new"),
    [
        ("ko", {"KorSTS", "KLUE-STS"}),
        ("ja", {"JSTS"}),
        ("ar", {"STS17[ar-ar]"}),
        ("pt", {"Assin2STS"}),
        ("zh", {"STSB"}),
    ],
)
def test_other_languages_equal_mtebs_published(
    tmp_path: Path, minilm_dir: Path, shared_dir: Path, lang: str, new: set[str]
) -> None:
    results = run_language(tmp_path, minilm_dir, shared_dir, lang)
    ours = assert_equal_to_published(results, shared_dir)
    assert new <= set(ours)
