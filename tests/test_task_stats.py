"""Local copies of MTEB tasks are checked against the descriptive statistics mteb ships.

A copy that matches runs under MTEB's task name and revision; one that does not runs as
``<Task>-local`` with its own content hash. The shared data is checked file by file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mteb.abstasks._statistics_calculation import calculate_score_statistics, calculate_text_statistics

from harness import tasks as T
from harness.records import StsPairs
from harness.tasks.catalog import verification
from harness.tasks.verify import compare_statistics, shipped_statistics, split_statistics

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = next(
    (p for p in (REPO.parent / "shared" / "data" / "sts", Path("/work/shared/data/sts")) if p.is_dir()),
    None,
)
needs_real_data = pytest.mark.skipif(REAL_DATA is None, reason="shared/data/sts not present")


def test_split_statistics_are_mteb_figures():
    pairs = StsPairs(
        sentence1=["A dog runs.", "A cat.", "A dog runs.", "Zebra"],
        sentence2=["A cat.", "A dog runs.", "A cat.", "Zebra!"],
        gold=[1.0, 2.5, 1.0, 5.0],
    )
    stats = split_statistics(pairs)
    assert stats["text1_statistics"] == dict(calculate_text_statistics(pairs.sentence1))
    assert stats["text2_statistics"] == dict(calculate_text_statistics(pairs.sentence2))
    assert stats["label_statistics"] == dict(calculate_score_statistics(pairs.gold))
    assert stats["num_samples"] == 4
    assert stats["number_of_characters"] == sum(map(len, pairs.sentence1 + pairs.sentence2))
    assert stats["unique_pairs"] == 3  # ordered pairs; the swapped pair counts apart
    assert stats["unique_pairs_symmetric"] == 2


def _stats(s1: list[str], s2: list[str], gold: list[float]) -> dict:
    return split_statistics(StsPairs(sentence1=s1, sentence2=s2, gold=gold))


def test_compare_statistics_outcomes():
    theirs = _stats([" One. ", "Two."], ["Three.", "Four. "], [0.0, 5.0])
    stripped = _stats(["One.", "Two."], ["Three.", "Four."], [0.0, 5.0])
    assert compare_statistics(theirs, theirs) == ("verified", ())
    # Shorter texts, every count and score equal: whitespace-only, but only where a manifest says so.
    status, diffs = compare_statistics(stripped, theirs, whitespace_note="MANIFEST: stripped")
    assert status == "whitespace"
    assert "number_of_characters 19 vs mteb 22" in diffs
    assert compare_statistics(stripped, theirs)[0] == "mismatch"
    # Longer texts are never explained by stripped whitespace.
    assert compare_statistics(theirs, stripped, whitespace_note="MANIFEST: stripped")[0] == "mismatch"
    # A different score or count is a mismatch whatever the note says.
    other_scores = _stats([" One. ", "Two."], ["Three.", "Four. "], [0.0, 4.0])
    status, diffs = compare_statistics(other_scores, theirs, whitespace_note="x")
    assert status == "mismatch" and diffs == ("label.avg_score 2 vs mteb 2.5", "label.max_score 4 vs mteb 5")
    # mteb's older statistics count ordered pairs, newer code symmetric ones: both are accepted.
    swapped = _stats(["A.", "B."], ["B.", "A."], [1.0, 2.0])
    symmetric = dict(swapped, unique_pairs=1)
    assert compare_statistics(swapped, symmetric)[0] == "verified"


def test_shipped_statistics_lookup():
    assert shipped_statistics("GermanSTSBenchmark", "default", "test")["num_samples"] == 1379
    assert shipped_statistics("STSBenchmarkMultilingualSTS", "de", "dev")["num_samples"] == 1500
    assert shipped_statistics("STSBenchmarkMultilingualSTS", "ja", "test") is None
    assert shipped_statistics("GermanSTSBenchmark", "default", "train") is None
    assert shipped_statistics("NoSuchTask", "default", "test") is None


def _write_copy(data: Path, src: Path, rel: str, edit=None) -> Path:
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    if edit is not None:
        lines = edit(lines)
    out = data / rel
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(lines), encoding="utf-8")
    return out


@needs_real_data
def test_one_changed_sentence_moves_the_copy_off_mteb(tmp_path):
    """One edited word in 1379 pairs is enough: the copy runs as GermanSTSBenchmark-local."""
    src = REAL_DATA / "german_stsbenchmark/aws/stsb_de_test.csv"
    data = tmp_path / "data"
    rel = "german_stsbenchmark/aws/stsb_de_test.csv"
    _write_copy(data, src, rel, lambda ls: [ls[0].replace("Mädchen", "Maedchen", 1), *ls[1:]])
    (task,) = T.catalog(names=["GermanSTSBenchmark"], data_dir=data)
    assert (task.name, task.in_mteb, task.mteb_revision) == ("GermanSTSBenchmark-local", False, None)
    check = verification(task)
    assert check.status == "mismatch"
    assert "text1.total_text_length 84375 vs mteb 84374" in check.differences
    # The untouched copy is MTEB's task, with MTEB's revision beside the local content hash.
    _write_copy(data, src, rel)
    (task,) = T.catalog(names=["GermanSTSBenchmark"], data_dir=data)
    assert task.name == "GermanSTSBenchmark" and task.in_mteb
    assert task.mteb_revision == T.mteb_revision(task) and task.revision.startswith("local-")


@needs_real_data
def test_every_local_task_against_mteb_statistics():
    """Every local file the harness maps to a task, on every split mteb evaluates."""
    tasks = T.catalog(data_dir=REAL_DATA, splits=["test", "dev", "validation"], names=[*T.LOCAL_SOURCES])
    local = [t for t in tasks if t.local_files]
    outcome = {(t.name, t.subset, t.split): verification(t) for t in local}
    # The mapping covers every local source and every stsb_multi_mt language mteb has.
    assert {name for name, _, _ in outcome} == {
        "STSBenchmarkMultilingualSTS",
        "STSBenchmark",
        "GermanSTSBenchmark",
        "GermanSTSBenchmark-deepl",
        "RonSTS",
    }
    multi = {(s, sp) for n, s, sp in outcome if n == "STSBenchmarkMultilingualSTS"}
    assert len(multi) == 20  # 10 languages x (dev, test)
    assert Path(next(t for t in local if t.name == "GermanSTSBenchmark").local_files[0]).parent.name == "aws"
    for (name, subset, split), check in outcome.items():
        where = f"{name}[{subset}] {split}"
        if name == "GermanSTSBenchmark-deepl":  # DeepL is not MTEB's text: differs on lengths
            assert check.status == "mismatch", where
            assert check.task == "GermanSTSBenchmark"
            assert any(d.startswith("text1.total_text_length") for d in check.differences), where
        elif name == "STSBenchmark":  # the manifest documents the stripped whitespace: reported
            assert check.status == "whitespace", where
            assert check.differences == (
                "number_of_characters 147873 vs mteb 147886",
                "text1.total_text_length 74100 vs mteb 74107",
                "text1.average_text_length 53.7346 vs mteb 53.7397",
                "text2.total_text_length 73773 vs mteb 73779",
                "text2.average_text_length 53.4975 vs mteb 53.5018",
            )
            assert "MANIFEST.md" in check.summary()
        else:
            assert check.status == "verified", (where, check.differences)
    for task in local:
        assert task.in_mteb == (task.name != "GermanSTSBenchmark-deepl")
