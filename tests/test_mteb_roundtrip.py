"""mteb's own tools read a results folder written by ``run`` as a results folder.

A run of two tiny models on MTEB tasks (local copies verified against mteb's statistics), a
harness-local task and a user's pairs file; then mteb's ``ResultCache``, ``TaskResult.from_disk``,
``validate_and_filter_scores`` and a ``Benchmark`` table of the run's tasks read it, and the
model names, revisions, task names, splits, subsets, languages and main scores come through
unchanged. Harness-local tasks never reach mteb's loaders, and the harness still reads them.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import mteb
import pytest
from fixtures.workspace import write_entry, write_pairs

from harness import run as runner
from harness import store
from harness.store import model_meta_json

MTEB_TASKS = {"GermanSTSBenchmark", "STSBenchmarkMultilingualSTS"}
LOCAL_TASKS = {"GermanSTSBenchmark-deepl", "custom:pairs"}
# Tiny random weights under ids mteb's model registry knows (mteb's leaderboard table keeps only
# registered models), plus one it does not know (its model_meta.json is built from the card).
# The test is about the layout and the numbers passing through unchanged, not about the scores.
KNOWN = (
    "sentence-transformers/all-MiniLM-L6-v2",
    "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
)
UNKNOWN = "harness-tests/Tiny-Distil"


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory, tiny_bert_dir, tiny_xlmr_dir, tiny_distilbert_dir) -> Path:
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sts"
    if not shared.is_dir():
        pytest.skip("shared/data/sts not present")
    tmp = tmp_path_factory.mktemp("roundtrip")
    registry = tmp / "registry"
    write_entry(registry, "tiny-bert", KNOWN[0], tiny_bert_dir, lang="de")
    write_entry(registry, "tiny-xlmr", KNOWN[1], tiny_xlmr_dir, lang="de")
    write_entry(registry, "tiny-distil", UNKNOWN, tiny_distilbert_dir, lang="de")
    options = runner.RunOptions(
        languages=["de"],
        task_names=[*sorted(MTEB_TASKS), "GermanSTSBenchmark-deepl"],
        pairs_files=[write_pairs(tmp / "pairs.tsv")],
        data_dir=shared,
        results_dir=tmp / "cache" / "results",  # mteb's ResultCache reads <cache>/results
        registry_dir=registry,
        model_names=["tiny-bert", "tiny-xlmr", "tiny-distil"],
        cache_dir=tmp / "emb",
        bootstrap_resamples=100,
        allow_hub=False,
    )
    old = os.umask(0o022)
    try:
        summary = runner.run(options, say=lambda _: None)
    finally:
        os.umask(old)
    assert not summary.failed, [(o.key, o.reason) for o in summary.outcomes]
    return tmp / "cache"


def ours(cache: Path) -> dict[tuple[str, str, str, str, str], store.StoredResult]:
    """(model name, revision, task, split, subset) -> what the harness stored."""
    return {
        (r.model_id, r.revision, r.task_name, r.run.split, r.run.subset): r
        for r in store.load_results(cache / "results")
    }


def test_layout_model_meta_and_file_modes(run_folder):
    root = run_folder / "results"
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == [
        "harness-tests__Tiny-Distil",  # the Hub's spelling, not the registry key
        "sentence-transformers__all-MiniLM-L6-v2",
        "sentence-transformers__paraphrase-multilingual-MiniLM-L12-v2",
    ]
    stored = ours(run_folder)
    for (name, revision, task, _, _), result in stored.items():
        folder = root / name.replace("/", "__") / revision
        path = Path(result.path)
        expected = folder / ("harness-local" if task in LOCAL_TASKS else "") / path.name
        assert path == expected
        assert path.stat().st_mode & 0o777 == 0o644
        meta = json.loads((folder / "model_meta.json").read_text())
        assert (meta["name"], meta["revision"]) == (name, revision)
        if name in KNOWN:  # mteb's own ModelMeta, with the revision we evaluated
            assert meta["languages"] == mteb.get_model_meta(name).languages
            assert meta["loader"] == "SentenceTransformerEncoderWrapper"
        else:  # built from the card and the model's files (Dense 32 -> 16)
            assert (meta["languages"], meta["loader"], meta["embed_dim"]) == (["deu-Latn"], None, 16)
        data = json.loads(path.read_text())
        assert data["mteb_version"] == mteb.__version__  # what mteb parses; the harness block says who scored
        assert data["harness"]["evaluator"]["name"] == "harness.evaluate"
        if task == "GermanSTSBenchmark":  # a verified local copy carries MTEB's Hub revision
            assert data["dataset_revision"] == mteb.get_task(task).metadata.revision
            assert result.run.data_revision.startswith("local-")
    assert {k[2] for k in stored} == MTEB_TASKS | LOCAL_TASKS


def test_result_cache_task_result_and_validation(run_folder):
    stored = ours(run_folder)
    cache = mteb.ResultCache(cache_path=run_folder)
    loaded = cache.load_results()
    seen = {}
    for model in loaded:
        for result in model.task_results:
            assert result.task_name in MTEB_TASKS
            for split, entries in result.scores.items():
                for entry in entries:
                    key = (
                        model.model_name,
                        model.model_revision,
                        result.task_name,
                        split,
                        entry["hf_subset"],
                    )
                    seen[key] = entry
    expected = {k: v for k, v in stored.items() if k[2] in MTEB_TASKS}
    assert set(seen) == set(expected) and len(seen) == 6  # 3 models x (GermanSTSBenchmark, [de])
    for key, entry in seen.items():
        mine = expected[key]
        assert entry["main_score"] == pytest.approx(mine.run.scores["main_score"], abs=1e-12)
        assert entry["languages"] == mine.run.languages == ["deu-Latn"]
    # Each file, as mteb loads one and validates it against the task (no KeyError, nothing dropped).
    for key, mine in expected.items():
        result = mteb.TaskResult.from_disk(Path(mine.path)).validate_and_filter_scores()
        split, subset = key[3], key[4]
        (entry,) = [e for e in result.scores[split] if e["hf_subset"] == subset]
        assert entry["main_score"] == pytest.approx(mine.run.scores["main_score"], abs=1e-12)
    validated = cache.load_results(validate_and_filter=True)
    assert {m.model_name for m in validated} == {*KNOWN, UNKNOWN}
    assert set(validated.get_aggregated_scores()) == {*KNOWN, UNKNOWN}


def test_benchmark_table_has_one_row_per_model(run_folder):
    """A Benchmark of the run's tasks (the subset and split run): one row per model mteb knows."""
    stored = ours(run_folder)
    tasks = mteb.get_tasks(
        tasks=sorted(MTEB_TASKS), languages=["deu"], eval_splits=["test"], exclusive_language_filter=True
    )
    benchmark = mteb.Benchmark(name="harness round trip", tasks=tasks)
    results = mteb.ResultCache(cache_path=run_folder).load_results(tasks=benchmark)
    table = results.get_benchmark_result()
    assert sorted(table["Model"]) == sorted(KNOWN)  # mteb's table joins on its model registry
    for _, row in table.iterrows():
        mine = [
            r.run.scores["main_score"]
            for k, r in stored.items()
            if k[0] == row["Model"] and k[2] in MTEB_TASKS
        ]
        assert len(mine) == 2 and row["Mean (Task)"] == pytest.approx(sum(mine) / 2, abs=1e-9)


def test_harness_local_tasks_are_still_reported(run_folder):
    stored = ours(run_folder)
    local = {k[2] for k, r in stored.items() if r.run.status == "ok"} & LOCAL_TASKS
    assert local == LOCAL_TASKS
    paths = mteb.ResultCache(cache_path=run_folder).get_cache_paths(require_model_meta=False)
    assert all("harness-local" not in p.parts for p in paths)


def test_model_meta_is_mteb_s_own_where_mteb_knows_the_model():
    known = mteb.get_model_meta("sentence-transformers/all-MiniLM-L6-v2")
    meta = model_meta_json("sentence-transformers/all-MiniLM-L6-v2", "local-0123456789ab")
    assert meta["revision"] == "local-0123456789ab"
    assert {k: v for k, v in meta.items() if k != "revision"} == {
        k: v for k, v in json.loads(json.dumps(known.to_dict(), default=str)).items() if k != "revision"
    }
    bare = model_meta_json("harness-local/my-model", "local-0123456789ab")
    assert (bare["name"], bare["loader"], bare["open_weights"]) == ("harness-local/my-model", None, True)


# ---------------------------------------------------------------- MTEB's published scores beside ours

PUBLISHED = Path(__file__).parent / "fixtures" / "mteb_results"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_REV = "8b3219a92973c328a8e22fadcfa821b5dc75636a"


def _stored_minilm(root: Path, revision: str, score: float, ci: list[float], key: str = "minilm") -> None:
    from harness.records import RunRecord

    store.write_run(
        root,
        model_key=key,
        model_id=MINILM if key == "minilm" else f"org/{key}",
        revision=revision,
        task_name="GermanSTSBenchmark",
        mteb_version=mteb.__version__,
        dataset_revision=mteb.get_task("GermanSTSBenchmark").metadata.revision,
        weights_source="models-dir",
        run=RunRecord(
            split="test",
            subset="default",
            status="ok",
            identity=f"{key}-{revision}",
            languages=["deu-Latn"],
            scores={"main_score": score, "cosine_spearman": score},
            ci95=ci,
            cosine_similarities=[0.1, 0.5, 0.9],
            gold=[1.0, 2.0, 3.0],
            finished_at="2025-01-01T00:00:00Z",
        ),
    )


@pytest.mark.parametrize("where", ["repository", "results-folder", "result-cache"])
def test_published_scores_are_found_in_every_layout(tmp_path, where):
    from harness.published import open_published

    if where == "repository":
        folder = PUBLISHED
    elif where == "results-folder":
        folder = PUBLISHED / "results"
    else:  # mteb's ResultCache keeps a clone of the repository under remote/
        folder = tmp_path / "cache"
        shutil.copytree(PUBLISHED, folder / "remote")
    scores = open_published(folder)
    hit = scores.lookup(MINILM, MINILM_REV, "GermanSTSBenchmark", "test", "default")
    assert hit is not None and hit[1] is None
    assert hit[0].score == 0.6056173 and hit[0].revision == MINILM_REV
    assert scores.lookup(MINILM, MINILM_REV, "GermanSTSBenchmark", "validation", "default") is None
    assert scores.lookup(MINILM, "0" * 40, "GermanSTSBenchmark", "test", "default") is None  # other revision
    assert scores.lookup("org/other", MINILM_REV, "GermanSTSBenchmark", "test", "default") is None
    # Local weights (Hub revision unknown): matched with mteb's registered revision, and said so.
    local = scores.lookup(MINILM, "local-8e719ca57718", "STSBenchmarkMultilingualSTS", "test", "de")
    assert local is not None and local[0].score == 0.6239712
    assert local[1] == "published for revision 8b3219a92973; ours are local weights (local-8e719ca57718)"


def test_published_folder_errors_are_one_line(tmp_path, monkeypatch):
    from harness.published import PublishedError, open_published

    assert open_published(None) is None
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        PublishedError, match=r"no MTEB results here .* not downloaded: HF_HUB_OFFLINE is set"
    ):
        open_published(tmp_path / "empty")
    (tmp_path / "file").write_text("x")
    with pytest.raises(PublishedError, match="is not a folder"):
        open_published(tmp_path / "file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_among_published_results_is_skipped(tmp_path):
    from harness.published import open_published

    folder = Path(shutil.copytree(PUBLISHED, tmp_path / "pub"))
    rev_dir = folder / "results" / "sentence-transformers__all-MiniLM-L6-v2" / MINILM_REV
    os.mkfifo(rev_dir / "STS22.v2.json")
    errors: list[str] = []
    scores = open_published(folder, errors)
    assert scores.lookup(MINILM, MINILM_REV, "GermanSTSBenchmark", "test", "default") is not None
    assert errors == [
        f"{rev_dir / 'STS22.v2.json'}: published result skipped: a FIFO, not a regular file; not read"
    ]


def test_report_shows_mteb_published_only_when_given(tmp_path):
    from harness.published import open_published
    from harness.report import build_reports

    results = tmp_path / "results"
    _stored_minilm(results, "local-8e719ca57718", 0.6056173489848747, [0.5656, 0.6415])
    _stored_minilm(results, "local-aaaaaaaaaaaa", 0.40, [0.35, 0.45], key="other")  # nothing published
    build_reports(results, [], tmp_path / "plain", ["de"])
    plain_md = (tmp_path / "plain" / "de.md").read_text()
    plain_html = (tmp_path / "plain" / "de.html").read_text()
    assert "MTEB published" not in plain_md and "MTEB published" not in plain_html

    build_reports(results, [], tmp_path / "pub", ["de"], published=open_published(PUBLISHED))
    md = (tmp_path / "pub" / "de.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("| ") and "GermanSTSBenchmark" in line]
    (row,) = [r for r in rows if "revision 8b3219a92973" in r]
    assert "| 60.56 [56.56, 64.15] | 60.56 (revision 8b3219a92973) | 0.00 | within our 95% interval" in row
    assert "ours are local weights (local-8e719ca57718)" in row
    assert "## MTEB published" in md and "org/other" not in md.split("## MTEB published")[1].split("##")[0]
    html = (tmp_path / "pub" / "de.html").read_text()
    assert 'id="published"' in html and "within our 95% interval" in html


def test_compare_shows_mteb_published(tmp_path, capsys):
    from harness.report.compare import compare_command

    results = tmp_path / "results"
    _stored_minilm(results, MINILM_REV, 0.58, [0.55, 0.60])  # outside: published 0.6056
    _stored_minilm(results, "local-aaaaaaaaaaaa", 0.40, [0.35, 0.45], key="other")
    assert compare_command("minilm", "other", results, None, "de", True, PUBLISHED) == 0
    out = capsys.readouterr().out
    section = out.split("## MTEB published")[1].split("##")[0]
    assert (
        "| GermanSTSBenchmark | A | 58.00 [55.00, 60.00] | 60.56 | -2.56 | outside our 95% interval |"
        in section
    )
    assert "| B |" not in section
    assert compare_command("minilm", "other", results, None, "de", True, None) == 0
    assert "MTEB published" not in capsys.readouterr().out


@pytest.mark.integration
def test_real_minilm_reproduces_mteb_on_german_sts_benchmark(tmp_path, minilm_dir, shared_dir):
    """Done-when of issue 12: GermanSTSBenchmark test 0.6056 (published 0.6056173) for all-MiniLM-L6-v2."""
    from harness.published import open_published

    registry = tmp_path / "registry"
    write_entry(registry, "sentence-transformers__all-minilm-l6-v2", MINILM, minilm_dir, lang="en")
    options = runner.RunOptions(
        languages=["de"],
        task_names=["GermanSTSBenchmark"],
        data_dir=shared_dir / "data" / "sts",
        results_dir=tmp_path / "results",
        registry_dir=registry,
        model_names=["sentence-transformers__all-minilm-l6-v2"],
        cache_dir=tmp_path / "emb",
        allow_hub=False,
    )
    summary = runner.run(options, say=lambda _: None)
    assert not summary.failed
    (stored,) = store.load_results(tmp_path / "results")
    assert (stored.task_name, stored.run.split, stored.dataset_revision) == (
        "GermanSTSBenchmark",
        "test",
        mteb.get_task("GermanSTSBenchmark").metadata.revision,
    )
    assert stored.run.scores["main_score"] == pytest.approx(0.6056173, abs=1e-4)
    found = open_published(PUBLISHED).match(stored)
    assert found is not None and abs(found.difference) < 1e-6 and found.within_ci


def test_model_meta_from_a_card_keeps_tagalog_as_tagalog() -> None:
    """langcodes writes tl as fil (Filipino); mteb's tag for Tagalog is tgl, which reads back as tl."""
    from harness.languages import normalize_language
    from harness.records import ModelSpec, Sourced

    spec = ModelSpec(key="org__tl", source="card", languages=Sourced(value=["tl", "de"], source="yaml"))
    languages = model_meta_json("org/tl-model", "abc", spec)["languages"]
    assert languages == ["tgl-Latn", "deu-Latn"]
    assert [normalize_language(tag) for tag in languages] == ["tl", "de"]
