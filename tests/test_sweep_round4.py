"""Round 4 of the reliability sweep: a task with more pairs than can be scored, U+2028 inside
JSONL/CSV/TSV records, published scores off MTEB's scale, one pairs file given twice.

Each is checked when its file is read, before any model loads (docs/reliability.md).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness import cli
from harness import tasks as T
from harness.records import StsTask
from harness.tasks import DataError, readers
from harness.tasks.readers import load_pairs

ROWS = [("A dog runs.", "A dog is running.", 4.5), ("A cat.", "A car.", 1.0), ("Rain.", "Sun.", 0.0)]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def tsv_with(n: int) -> str:
    return "sentence1\tsentence2\tscore\n" + "".join(f"Row {i}.\tOther {i}.\t{i % 5}\n" for i in range(n))


def no_model_may_load(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the data was checked")

    monkeypatch.setattr("harness.encode.load_model", refuse)
    monkeypatch.setattr("harness.encode.embed", refuse)


# ---------------------------------------------------------------- 1. more pairs than can be scored


def test_max_pairs_is_the_bootstrap_cap():
    from harness.bootstrap import MAX_PAIRS

    assert readers.MAX_PAIRS == MAX_PAIRS == 200_000


@pytest.fixture(scope="module")
def big_tsv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("big") / "big.tsv", tsv_with(200_001))


def test_200001_pairs_refused_when_the_file_is_read(big_tsv):
    with pytest.raises(DataError) as err:
        T.pairs_task(big_tsv)
    assert str(err.value) == (
        f"{big_tsv.resolve()}: 200,001 sentence pairs; at most 200,000 can be scored in one task "
        "(the bootstrap interval's exact sums); split the file"
    )


def test_score_with_too_many_pairs_is_one_data_error_before_any_model(big_tsv, tmp_path, monkeypatch, capsys):
    no_model_may_load(monkeypatch)
    (tmp_path / "model").mkdir()
    rc = cli.main(["score", str(tmp_path / "model"), str(big_tsv), "--no-cache"])
    out, err = capsys.readouterr()
    assert rc == 1 and out == ""
    assert err.splitlines() == [
        f"harness: {big_tsv.resolve()}: 200,001 sentence pairs; at most 200,000 can be scored in one "
        "task (the bootstrap interval's exact sums); split the file"
    ]


def test_run_with_too_many_pairs_stops_before_any_model(big_tsv, tmp_path, monkeypatch, capsys):
    from fixtures.workspace import write_entry

    no_model_may_load(monkeypatch)
    write_entry(tmp_path / "registry", "m", "org/m", tmp_path / "no-weights-here")
    argv = ["run", "--pairs", str(big_tsv), "--model", "m", "--registry", str(tmp_path / "registry")]
    rc = cli.main([*argv, "--results", str(tmp_path / "r")])
    out, err = capsys.readouterr()
    assert rc == 1 and "Traceback" not in err
    flat = "".join((out + err).split())
    assert "".join(f"{big_tsv.resolve()}: 200,001 sentence pairs; at most 200,000".split()) in flat
    assert "no-weights-here" not in out + err and "ValueError" not in out + err
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").rglob("*.json"))


def test_benchmark_file_and_hub_rows_over_the_cap_are_data_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "MAX_PAIRS", 3)
    bench = write(tmp_path / "ro_sts/RO-STS.test.tsv", "".join(f"{i}.0\tA {i}.\tB {i}.\n" for i in range(4)))
    task = StsTask(name="RonSTS", subset="default", languages=["ro"], local_files=[str(bench)])
    with pytest.raises(DataError, match=r"RO-STS\.test\.tsv: 4 sentence pairs; at most 3 can be scored"):
        load_pairs(task)

    class Rows(dict):
        column_names = ("sentence1", "sentence2", "score")

    rows = Rows(sentence1=list("abcd"), sentence2=list("efgh"), score=[1.0, 2.0, 3.0, 4.0])
    monkeypatch.setattr("harness.tasks.readers.offline_reason", lambda: None)
    monkeypatch.setattr("harness.tasks.readers.load_split", lambda task, where, no_local: ("hf:x", rows))
    hub = StsTask(name="RonSTS", subset="default", languages=["ro"], hf_dataset="mteb/RonSTS")
    with pytest.raises(DataError, match=r"^hf:x: 4 sentence pairs; at most 3 can be scored"):
        load_pairs(hub)
    rows = Rows(sentence1=list("abc"), sentence2=list("efg"), score=[1.0, 2.0, 3.0])  # at the cap: fine
    assert len(load_pairs(hub)) == 3


# ---------------------------------------------------------------- 2. U+2028, U+2029, U+0085 in records

SEPARATORS = ["\u2028", "\u2029", "\x85"]


@pytest.mark.parametrize("char", SEPARATORS, ids=["U+2028", "U+2029", "U+0085"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_jsonl_sentences_with_unicode_line_separators(tmp_path, char, newline):
    dicts = [{"sentence1": a, "sentence2": b, "score": s} for a, b, s in ROWS]
    dicts[1]["sentence1"] = f"Line{char}break."
    dicts.append({"sentence1": f"{char}x", "sentence2": f"y{char}", "score": 2})
    text = newline.join(json.dumps(d, ensure_ascii=False) for d in dicts) + newline
    pairs = load_pairs(T.pairs_task(write(tmp_path / "p.jsonl", text)))
    assert pairs.sentence1 == ["A dog runs.", f"Line{char}break.", "Rain.", f"{char}x"]
    assert pairs.sentence2[3] == f"y{char}" and pairs.gold == [4.5, 1.0, 0.0, 2.0]
    # line numbers still count "\n" only: a bad 5th line is named :5
    bad = write(tmp_path / "bad.jsonl", text + '{"sentence1": "a", "sentence2": "b"}' + newline)
    with pytest.raises(DataError, match=r"bad\.jsonl:5: missing score$"):
        T.pairs_task(bad)


@pytest.mark.parametrize("char", SEPARATORS, ids=["U+2028", "U+2029", "U+0085"])
@pytest.mark.parametrize(("suffix", "sep"), [(".csv", ","), (".tsv", "\t")])
def test_csv_and_tsv_fields_with_unicode_line_separators(tmp_path, char, suffix, sep):
    header = sep.join([f"id{char}note", "sentence1", "sentence2", "score"])  # in the header too
    cells = [(str(i), a if i != 1 else f"Line{char}break.", b, str(s)) for i, (a, b, s) in enumerate(ROWS)]
    rows = [sep.join(row) for row in cells]
    path = write(tmp_path / f"p{suffix}", "\r\n".join([header, *rows]) + "\r\n")
    pairs = load_pairs(T.pairs_task(path))
    assert pairs.sentence1 == ["A dog runs.", f"Line{char}break.", "Rain."] and pairs.gold == [4.5, 1.0, 0.0]


# ---------------------------------------------------------------- 3. published scores off MTEB's scale

PUBLISHED = Path(__file__).parent / "fixtures" / "mteb_results"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_REV = "8b3219a92973c328a8e22fadcfa821b5dc75636a"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("60.56173", "60.56173"),
        ('"0.6056173"', "'0.6056173'"),
        ("NaN", "nan"),
        ("-1.5", "-1.5"),
        ("true", "True"),
    ],
)
def test_published_score_off_scale_is_a_warning_and_not_used(tmp_path, raw, shown):
    from harness.published import open_published

    folder = Path(shutil.copytree(PUBLISHED, tmp_path / "pub"))
    result = folder / "results" / MINILM.replace("/", "__") / MINILM_REV / "GermanSTSBenchmark.json"
    result.write_text(result.read_text().replace('"main_score": 0.6056173', f'"main_score": {raw}'))
    errors: list[str] = []
    scores = open_published(folder, errors)
    assert scores.lookup(MINILM, MINILM_REV, "GermanSTSBenchmark", "test", "default") is None
    assert scores.lookup(MINILM, MINILM_REV, "STSBenchmarkMultilingualSTS", "test", "de") is not None
    assert errors == [
        f"{result}: published main_score {shown} (GermanSTSBenchmark test/default) is not a number "
        "in -1..1; not used"
    ]


def _percentage_published(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A copy of the published results with GermanSTSBenchmark's main_score as a percentage, and our
    stored results for two models (minilm at the published revision)."""
    from test_mteb_roundtrip import _stored_minilm

    folder = Path(shutil.copytree(PUBLISHED, tmp_path / "pub"))
    result = folder / "results" / MINILM.replace("/", "__") / MINILM_REV / "GermanSTSBenchmark.json"
    result.write_text(result.read_text().replace('"main_score": 0.6056173', '"main_score": 60.56173'))
    results = tmp_path / "results"
    _stored_minilm(results, MINILM_REV, 0.58, [0.55, 0.60])
    _stored_minilm(results, "local-aaaaaaaaaaaa", 0.40, [0.35, 0.45], key="other")
    return folder, result, results


def test_compare_leaves_out_a_percentage_published_score(tmp_path, capsys):
    from harness.report.compare import compare_command

    folder, _, results = _percentage_published(tmp_path)
    assert compare_command("minilm", "other", results, None, "de", True, folder) == 0
    out = capsys.readouterr().out
    assert "6056" not in out and "5998" not in out  # was: published 6056.17, difference -5998.17
    published = out.split("## MTEB published")[1].split("##")[0] if "## MTEB published" in out else ""
    assert "GermanSTSBenchmark" not in published


def test_compare_warns_once_about_a_published_score_it_leaves_out(tmp_path, capsys):
    from harness.report.compare import compare_command

    folder, result, results = _percentage_published(tmp_path)
    assert compare_command("minilm", "other", results, None, "de", True, folder) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "main_score" in line]
    assert len(warnings) == 1 and str(result) in warnings[0] and "60.56173" in warnings[0]


def test_report_warns_once_about_a_published_score_it_leaves_out(tmp_path, capsys):
    from harness.report import report_command

    folder, result, results = _percentage_published(tmp_path)
    assert report_command(results, None, tmp_path / "reports", ["de"], folder) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "main_score" in line]
    assert len(warnings) == 1, err
    assert str(result) in warnings[0]
    assert "published main_score 60.56173 (GermanSTSBenchmark test/default)" in warnings[0]
    md = (tmp_path / "reports" / "de.md").read_text()
    assert "6056" not in md and "5998" not in md


# ---------------------------------------------------------------- 4. one pairs file given twice


def test_the_same_pairs_file_twice_is_used_once(tmp_path, monkeypatch):
    from harness.run import RunOptions
    from harness.run.plan import select_tasks

    pairs = write(tmp_path / "pairs.tsv", tsv_with(5))
    monkeypatch.chdir(tmp_path)
    errors: list[str] = []
    options = RunOptions(
        languages=[],
        results_dir=tmp_path / "r",
        registry_dir=tmp_path / "reg",
        pairs_files=[Path("pairs.tsv"), Path("./pairs.tsv"), pairs],
    )
    selected = select_tasks(options, errors)
    assert errors == []
    assert [t.local_files for t in selected] == [[str(pairs.resolve())]]
