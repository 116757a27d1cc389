"""Task audits (issue 21): test pairs in train/dev, duplicates, near-copies counted once, the JSON page.

The overlap counts are checked against an independent count with pandas on the shared STS data,
and the near-copy figure against the figure the data's own MANIFEST states.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from harness.cli import main
from harness.records import ModelSpec, RunRecord, Sourced, StsPairs
from harness.report import build_reports
from harness.store import run_identity, write_run
from harness.tasks.audit import audit_tasks, duplicates, normalize_text, overlap, unit_task

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "sts"
needs_data = pytest.mark.skipif(not (DATA / "stsb_multi_mt").is_dir(), reason="shared STS data not present")


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, header=None, names=["s1", "s2", "score"], keep_default_na=False, dtype=str)


def _independent(test: pd.DataFrame, train: pd.DataFrame) -> tuple[int, int]:
    """(exact, swapped-only) test rows found in train, by pandas merges."""
    exact = test.merge(train[["s1", "s2"]].drop_duplicates(), on=["s1", "s2"], how="left", indicator=True)
    is_exact = (exact["_merge"] == "both").to_numpy()
    swapped_train = train.rename(columns={"s1": "s2", "s2": "s1"})[["s1", "s2"]].drop_duplicates()
    swapped = test.merge(swapped_train, on=["s1", "s2"], how="left", indicator=True)
    is_swapped = (swapped["_merge"] == "both").to_numpy() & ~is_exact
    return int(is_exact.sum()), int(is_swapped.sum())


def test_normalize_and_count_on_small_pairs():
    assert normalize_text("  A  Man,\tEATING! ") == "a man eating"
    assert normalize_text("ﬁne") == "fine"  # NFKC
    test = StsPairs(
        sentence1=["a b", "c d", "E, f", "x", "x"], sentence2=["1", "2", "3", "y", "Y!"], gold=[1] * 5
    )
    train = StsPairs(sentence1=["a b", "2", "e f"], sentence2=["1", "c d", "3"], gold=[1] * 3)
    assert overlap(test, train).__dict__ == {"exact": 1, "swapped": 1, "normalized": 1}
    assert duplicates(test) == 1  # "x"/"Y!" repeats "x"/"y" once normalised


@needs_data
def test_stsb_test_overlap_with_train_and_dev_matches_an_independent_count():
    report = audit_tasks([unit_task("STSBenchmark", "default", "test", "en", DATA)], DATA)
    (task,) = report.tasks
    a = task.audit
    test = _csv(DATA / "stsb_multi_mt" / "stsb-en-test.csv")
    train = _csv(DATA / "stsb_multi_mt" / "stsb-en-train.csv")
    dev = _csv(DATA / "stsb_multi_mt" / "stsb-en-dev.csv")
    assert a.test_pairs == len(test) == 1379
    assert (a.in_train_exact, a.in_train_swapped) == _independent(test, train)
    assert (a.in_dev_exact, a.in_dev_swapped) == _independent(test, dev)
    assert a.in_train_exact > 0 and a.in_train_swapped > 0  # the known complaint: STS-B leaks
    # duplicates, independently: normalised unordered pairs seen before
    norm = [
        tuple(sorted((re.sub(r"\W+", " ", x.lower()).strip(), re.sub(r"\W+", " ", y.lower()).strip())))
        for x, y in zip(test.s1, test.s2, strict=True)
    ]
    assert a.duplicates_in_test == len(norm) - len(set(norm))
    assert task.sample_creation and task.family == "STS-B"


@needs_data
def test_german_near_copy_group_as_the_manifest_states():
    tasks = [
        unit_task("STSBenchmarkMultilingualSTS", "de", "test", "de", DATA),
        unit_task("GermanSTSBenchmark", "default", "test", "de", DATA),
        unit_task("GermanSTSBenchmark-deepl", "default", "test", "de", DATA),
    ]
    report = audit_tasks(tasks, DATA)
    (group,) = report.groups
    assert group.representative == "STSBenchmarkMultilingualSTS[de]"  # the MTEB task stands for it
    assert group.members == ("STSBenchmarkMultilingualSTS[de]", "GermanSTSBenchmark-deepl")
    # german_stsbenchmark/MANIFEST.md: "1349/1379 in test" identical to stsb_multi_mt de
    assert "1,349 of 1,379" in group.reason
    by = report.by_key()
    assert by["GermanSTSBenchmark"].group is None  # Amazon Translate: a different German text
    assert "row by row" in by["GermanSTSBenchmark"].data_evidence  # the data shows its family


def test_an_empty_train_split_is_said_not_raised(tmp_path):
    folder = tmp_path / "data" / "stsb_multi_mt"
    folder.mkdir(parents=True)
    (folder / "stsb-en-test.csv").write_text("a b,c d,1.0\ne f,g h,2.0\n", encoding="utf-8")
    (folder / "stsb-en-train.csv").write_text("", encoding="utf-8")
    task = unit_task("STSBenchmark", "default", "test", "en", tmp_path / "data")
    (audit,) = audit_tasks([task], tmp_path / "data").tasks
    assert audit.audit.test_pairs == 2 and audit.audit.in_train_exact is None
    assert any(n.startswith("train split not read") for n in audit.notes)
    assert any("dev" in n for n in audit.notes)  # no dev file at all


@needs_data
def test_tasks_audit_cli_json(capsys):
    assert main(["tasks", "--audit", "--json", "--lang", "en", "--data-dir", str(DATA)]) == 0
    out = json.loads(capsys.readouterr().out)
    stsb = next(t for t in out["tasks"] if t["key"] == "STSBenchmark")
    assert stsb["audit"]["in_train_exact"] > 0
    assert any(g["representative"] == "STSBenchmark" for g in out["groups"])
    # STS17 en-en holds 125 of STS-B's 1,379 test pairs (half of its own 250): partly drawn from it, no copy
    assert not any("STS17[en-en]" in g["members"] for g in out["groups"])
    assert main(["tasks", "--json"]) == 2  # --json needs --audit


# ------------------------------------------------------------------ the page


def _spec(key: str, model_id: str, datasets: list[str] | None) -> ModelSpec:
    return ModelSpec(
        key=key,
        source=f"registry/{key}/README.md",
        model_id=Sourced(value=model_id, source="yaml"),
        languages=Sourced(value=["de"], source="yaml:language"),
        language_source="card",
        datasets=Sourced(value=datasets, source="yaml:datasets" if datasets else None),
    )


def _write(root: Path, key: str, model_id: str, task: str, subset: str, score: float) -> None:
    run = RunRecord(
        split="test",
        subset=subset,
        status="ok",
        identity=run_identity(
            revision="r", task_name=task, subset=subset, split="test", data_revision="d", settings_hash="s"
        ),
        languages=["deu-Latn"],
        n_pairs=1379,
        scores={"cosine_spearman": score, "main_score": score},
        ci95=[score - 0.02, score + 0.02],
        finished_at="2026-01-01T00:00:00+00:00",
    )
    write_run(
        root,
        model_key=key,
        model_id=model_id,
        revision="r",
        task_name=task,
        mteb_version="2",
        dataset_revision="d",
        weights_source="local",
        run=run,
        in_mteb=task != "GermanSTSBenchmark-deepl",
    )


@needs_data
def test_page_counts_a_near_copy_once_and_names_the_best_zero_shot(tmp_path):
    results = tmp_path / "results"
    scores = {
        "fine-tune": ("org/fine-tune", ["stsb_multi_mt"], (0.80, 0.70, 0.90)),
        "general": ("org/general", ["s2orc"], (0.75, 0.72, 0.60)),
    }
    for key, (model_id, _, (multi, aws, deepl)) in scores.items():
        _write(results, key, model_id, "STSBenchmarkMultilingualSTS", "de", multi)
        _write(results, key, model_id, "GermanSTSBenchmark", "default", aws)
        _write(results, key, model_id, "GermanSTSBenchmark-deepl", "default", deepl)
    specs = [_spec(k, mid, ds) for k, (mid, ds, _) in scores.items()]
    shutil.rmtree(tmp_path / "reports", ignore_errors=True)
    build_reports(results, specs, tmp_path / "reports", ["de"], data_dir=DATA)
    page = json.loads((tmp_path / "reports" / "de.json").read_text(encoding="utf-8"))
    rows = {r["key"]: r for r in page["rows"]}
    # the DeepL copy is not counted: (0.80 + 0.70) / 2, not (0.80 + 0.70 + 0.90) / 3
    assert rows["fine-tune"]["average"] == pytest.approx(0.75, abs=1e-6)
    assert rows["fine-tune"]["counted"] == ["GermanSTSBenchmark", "STSBenchmarkMultilingualSTS[de]"]
    assert rows["general"]["average"] == pytest.approx(0.735, abs=1e-6)
    assert page["leader"] == "org/fine-tune" and page["best_zero_shot"] == "org/general"
    assert set(rows["fine-tune"]["zero_shot"].values()) == {False}
    assert "stsb_multi_mt" in rows["fine-tune"]["zero_shot_evidence"]["GermanSTSBenchmark"]
    assert set(rows["general"]["zero_shot"].values()) == {True}
    task = next(t for t in page["tasks"] if t["key"] == "GermanSTSBenchmark-deepl")
    assert task["group"] == "STSBenchmarkMultilingualSTS[de]" and task["audit"]["test_pairs"] == 1379
    assert set(task["audit"]) >= {"test_pairs", "in_train_exact", "in_train_swapped", "in_train_normalized"}
    md = (tmp_path / "reports" / "de.md").read_text(encoding="utf-8")
    assert "**Best zero-shot: [org/general]" in md
    assert "but is not zero-shot on" in md and "counted as STSBenchmarkMultilingualSTS\\[de\\]" in md
    html = (tmp_path / "reports" / "de.html").read_text(encoding="utf-8")
    assert 'id="task-germanstsbenchmark-deepl"' in html and 'data-zeroshot="not zero-shot"' in html


@needs_data
def test_demo_german_page_with_the_real_cards(tmp_path):
    """The issue's case: the German fine-tune leads, but only in-domain; all-MiniLM-L6-v2 is zero-shot."""
    from harness.card.training import with_sample_matches
    from harness.registry import load_entry

    registry = ROOT / "registry"
    specs = [
        with_sample_matches(load_entry(registry / key), DATA)
        for key in ("minilm-l6-stsb-de", "sentence-transformers__all-minilm-l6-v2")
    ]
    results = tmp_path / "results"
    scores = {  # the demo's measured scores, 0-1
        "minilm-l6-stsb-de": (0.7091, 0.7115, 0.7096),
        "sentence-transformers__all-minilm-l6-v2": (0.6221, 0.6056, 0.6187),
    }
    for spec in specs:
        multi, aws, deepl = scores[spec.key]
        model_id = spec.model_id.value or spec.key
        _write(results, spec.key, model_id, "STSBenchmarkMultilingualSTS", "de", multi)
        _write(results, spec.key, model_id, "GermanSTSBenchmark", "default", aws)
        _write(results, spec.key, model_id, "GermanSTSBenchmark-deepl", "default", deepl)
    build_reports(results, specs, tmp_path / "reports", ["de"], data_dir=DATA)
    page = json.loads((tmp_path / "reports" / "de.json").read_text(encoding="utf-8"))
    rows = {r["key"]: r for r in page["rows"]}
    tuned, general = rows["minilm-l6-stsb-de"], rows["sentence-transformers__all-minilm-l6-v2"]
    assert page["leader"] == "minilm-l6-stsb-de"
    assert page["best_zero_shot"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert set(tuned["zero_shot"].values()) == {False}
    assert all("3 of 3 sample rows" in e for e in tuned["zero_shot_evidence"].values())
    assert set(general["zero_shot"].values()) == {True}
    evidence = general["zero_shot_evidence"]
    for task in ("GermanSTSBenchmark", "STSBenchmarkMultilingualSTS[de]"):  # mteb judges its own tasks
        assert "mteb's ModelMeta for sentence-transformers/all-MiniLM-L6-v2 agrees" in evidence[task]
    assert "agrees" not in evidence["GermanSTSBenchmark-deepl"]  # a harness-local task: the card alone
    assert tuned["average"] == pytest.approx((0.7091 + 0.7115) / 2, abs=1e-6)  # the DeepL copy once
    md = (tmp_path / "reports" / "de.md").read_text(encoding="utf-8")
    assert "**Best zero-shot: [sentence-transformers/all-MiniLM-L6-v2]" in md
    assert "minilm-l6-stsb-de leads on" in md and "but is not zero-shot on them" in md
