"""Pairs files and benchmark files: problems are found when the file is read, named by file:line.

Bad text (a NUL, a lone surrogate), too few pairs, fields far over any sentence's length, huge
numbers and deeply nested JSON lines: each is one ``DataError`` line before any model is loaded.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness import tasks as T
from harness.records import StsPairs, StsTask
from harness.tasks import DataError
from harness.tasks.readers import load_pairs


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


GOOD_ROWS = [("A dog runs.", "A dog is running.", 4.5), ("A cat.", "A car.", 1.0), ("Rain.", "Sun.", 0.0)]


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def good_dicts() -> list[dict]:
    return [{"sentence1": a, "sentence2": b, "score": s} for a, b, s in GOOD_ROWS]


# ---------------------------------------------------------------- bad text


@pytest.mark.parametrize(
    ("raw_value", "what"),
    [
        ("\\ud800 broken", "a lone surrogate (U+D800) at character 1"),
        ("ok \\udfff", "a lone surrogate (U+DFFF) at character 4"),
        ("nul\\u0000byte", "a NUL character at character 4"),
    ],
)
def test_jsonl_bad_text_is_caught_with_file_and_line(tmp_path, raw_value, what):
    lines = [json.dumps(d) for d in good_dicts()]
    lines.insert(1, '{"sentence1": "fine", "sentence2": "' + raw_value + '", "score": 2}')
    path = write(tmp_path / "pairs.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        T.pairs_task(path)
    assert str(err.value) == f"{path.resolve()}:2: sentence2 has {what}"


def test_nul_in_a_tsv_and_in_a_benchmark_file(tmp_path):
    tsv = write(tmp_path / "p.tsv", "sentence1\tsentence2\tscore\nA.\tB.\t1\nC\x00D.\tE.\t2\nF.\tG.\t3\n")
    with pytest.raises(DataError, match=r"p\.tsv:3: sentence1 has a NUL character at character 2$"):
        T.pairs_task(tsv)
    bench = write(tmp_path / "ro_sts/RO-STS.test.tsv", "1.0\tA.\tB.\n2.0\tC.\tD\x00.\n")
    task = StsTask(name="RonSTS", subset="default", languages=["ro"], local_files=[str(bench)])
    with pytest.raises(DataError, match=r"RO-STS\.test\.tsv:2: sentence2 has a NUL character"):
        load_pairs(task)


def test_hub_rows_with_bad_text_name_the_row(monkeypatch):
    class Rows(dict):
        column_names = ("sentence1", "sentence2", "score")

    rows = Rows(sentence1=["a", "b\ud83d"], sentence2=["c", "d"], score=[1.0, 2.0])
    monkeypatch.setattr("harness.tasks.readers.offline_reason", lambda: None)
    monkeypatch.setattr("harness.tasks.readers.load_split", lambda task, where, no_local: ("hf:x", rows))
    task = StsTask(name="RonSTS", subset="default", languages=["ro"], hf_dataset="mteb/RonSTS")
    with pytest.raises(
        DataError, match=r"^hf:x:2: sentence1 has a lone surrogate \(U\+D83D\) at character 2$"
    ):
        load_pairs(task)


# ---------------------------------------------------------------- size and shape


@pytest.mark.parametrize("n", [0, 1, 2])
def test_too_few_pairs_refused_before_any_model(tmp_path, n):
    path = write(tmp_path / "few.jsonl", jsonl(good_dicts()[:n]) if n else "\n")
    with pytest.raises(DataError) as err:
        T.pairs_task(path)
    message = str(err.value)
    assert message.startswith(str(path.resolve()))
    if n:
        assert f"{n} sentence pair{'s' if n != 1 else ''}; at least 3 are needed" in message
    else:
        assert "no sentence pairs" in message


def test_three_pairs_are_enough(tmp_path):
    task = T.pairs_task(write(tmp_path / "three.jsonl", jsonl(good_dicts())))
    assert len(load_pairs(task)) == 3


@pytest.mark.parametrize(("suffix", "sep"), [(".csv", ","), (".tsv", "\t")])
def test_million_character_field_has_a_clear_message(tmp_path, suffix, sep):
    rows = [f"sentence1{sep}sentence2{sep}score", f"A.{sep}B.{sep}1", f"{'x' * 1_000_000}{sep}C.{sep}2"]
    path = write(tmp_path / f"long{suffix}", "\n".join(rows) + "\n")
    with pytest.raises(DataError) as err:
        T.pairs_task(path)
    message = str(err.value)
    assert message.startswith(
        f"{path.resolve()}:3: a field is longer than 131,072 characters: not a sentence"
    )
    assert "\n" not in message and len(message) < 300


def test_unclosed_quote_swallowing_the_file_says_so(tmp_path):
    body = "\n".join(f"Row {i}.,Other {i}.,{i % 5}" for i in range(8000))
    path = write(tmp_path / "q.csv", 'sentence1,sentence2,score\n"Opened,B.,1\n' + body + "\n")
    with pytest.raises(DataError, match=r"q\.csv:2: a field is longer .*quote opened and never closed"):
        T.pairs_task(path)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            '{"sentence1": "a", "sentence2": "b", "score": ' + "9" * 5000 + "}",
            "not usable JSON (Exceeds the limit",
        ),
        (
            '{"sentence1": "a", "sentence2": "b", "score": ' + "[" * 100_000 + "]" * 100_000 + "}",
            "not usable JSON (nested too deeply)",
        ),
        ('{"sentence1": "a", "sentence2": "b", "score": 1e999}', "score inf is not a finite number"),
        ('{"sentence1": "a", "sentence2": "b", "score": "' + "9" * 400 + '"}', "is not a finite number"),
    ],
)
def test_huge_numbers_and_deep_json_are_one_line_errors(tmp_path, line, problem):
    path = write(tmp_path / "p.jsonl", jsonl(good_dicts()) + line + "\n")
    with pytest.raises(DataError) as err:
        T.pairs_task(path)
    message = str(err.value)
    assert message.startswith(f"{path.resolve()}:4: ")
    assert problem in message
    assert "\n" not in message and len(message) < 300


def test_a_400_digit_integer_score(tmp_path):
    line = '{"sentence1": "a", "sentence2": "b", "score": 1' + "0" * 399 + "}"
    path = write(tmp_path / "p.jsonl", jsonl(good_dicts()) + line + "\n")
    with pytest.raises(DataError) as err:
        T.pairs_task(path)
    assert str(err.value) == f"{path.resolve()}:4: score is a 400-digit number, too large for a float"


def test_run_with_a_two_pair_file_stops_before_loading_a_model(tmp_path):
    """The CLI: one line naming the file, non-zero exit, no model is looked for."""
    from fixtures.workspace import cli_env, harness_argv, write_entry

    pairs = write(tmp_path / "two.jsonl", jsonl(good_dicts()[:2]))
    write_entry(tmp_path / "registry", "m", "org/m", tmp_path / "no-weights-here")
    proc = subprocess.run(
        harness_argv(
            "run", "--pairs", pairs, "--model", "m", "--results", tmp_path / "r",
            "--registry", tmp_path / "registry",
        ),
        capture_output=True, text=True, env=cli_env(), timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode != 0
    assert f"{pairs.resolve()}: 2 sentence pairs; at least 3 are needed" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr and "no-weights-here" not in proc.stderr + proc.stdout
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").rglob("*.json"))


def test_pairs_objects_still_carry_good_text(tmp_path):
    task = T.pairs_task(write(tmp_path / "ok.jsonl", jsonl(good_dicts())))
    pairs = load_pairs(task)
    assert isinstance(pairs, StsPairs)
    assert pairs.sentence1 == [r[0] for r in GOOD_ROWS] and pairs.gold == [r[2] for r in GOOD_ROWS]
