"""Command-line checks before any work: every option, the language vocabulary, empty runs.

Each bad value is a usage error (exit 2) with one line on stderr that starts with ``harness:``,
and no model is loaded and nothing is stored. Runs that select nothing, or whose every task has
no data, say what was selected and why nothing ran, and exit non-zero.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.project import MODEL_KEY, make_project
from fixtures.workspace import cli_env, write_entry, write_pairs

from harness import cli, store


@pytest.fixture
def project(tmp_path: Path, tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A configured project (harness.toml at its root) whose German model is the tiny BERT."""
    root = make_project(tmp_path / "proj", tiny_bert_dir)
    monkeypatch.setenv("HARNESS_CONFIG", str(root / "harness.toml"))
    monkeypatch.chdir(root / "sub")
    return root


@pytest.fixture
def no_model_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to load a model fails the test: the checks come first."""
    from harness import encode

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was loaded before the options were checked")

    monkeypatch.setattr(encode, "load_model", refuse)


def usage_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    rc = cli.main(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert rc == 2, (argv, captured.err)
    assert len(lines) == 1, lines
    assert lines[0].startswith("harness: ")
    return lines[0]


# ---------------------------------------------------------------- options, before any work


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--bootstrap", "0"], "--bootstrap: must be from 100 to 1000000"),
        (["--bootstrap", "-5"], "not -5"),
        (["--bootstrap", "99"], "not 99"),
        (["--bootstrap", "10000001"], "not 10000001"),
        (["--bootstrap", "abc"], "'--bootstrap'"),
        (["--bootstrap", "1e3"], "'--bootstrap'"),
        (["--device", "nonsense"], "--device: must be cpu, cuda or cuda:N, not 'nonsense'"),
        (["--device", "cuda:x"], "not 'cuda:x'"),
        (["--device", "cuda:99"], "--device cuda:99: this machine has"),
        (["--batch-size", "²"], "--batch-size: must be auto or a positive whole number, not '²'"),
        (["--batch-size", "0"], "not '0'"),
        (["--batch-size", "-1"], "not '-1'"),
        (["--batch-size", "3.5"], "not '3.5'"),
        (["--batch-size", "١٦"], "not '١٦'"),  # Arabic-Indic digits are not a batch size here
        (["--dtype", "nonsense"], "--dtype: must be auto, fp32, fp16 or bf16, not 'nonsense'"),
        (["--dtype", "float32"], "not 'float32'"),
        (["--executor", "dask"], "--executor: must be local or ray, not 'dask'"),
        (["--ray-address", "auto"], "--ray-address needs --executor ray"),
        (["--nonsense-option"], "No such option: --nonsense-option"),
        (["--config", "missing.toml"], "missing.toml: config file not found (--config)"),
    ],
)
def test_bad_run_option_is_a_usage_error_before_any_work(
    project: Path, capsys: pytest.CaptureFixture[str], no_model_load: None, args: list[str], expected: str
) -> None:
    line = usage_error(capsys, ["run", "--lang", "de", *args])
    assert expected in line
    assert not (project / "results").exists()  # nothing stored, nothing even planned


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["score", "MODEL", "PAIRS", "--dtype", "nonsense"], "--dtype: must be auto, fp32, fp16 or bf16"),
        (["score", "MODEL", "PAIRS", "--dtype", "fp8"], "not 'fp8'"),
        (["report", "--lang", "xx"], "--lang 'xx': not a language"),
        (["report", "--lang", "de", "--lang", "123"], "--lang '123': not a language"),
        (["compare", "a", "b", "--lang", "multilingual"], "--lang 'multilingual': not a language"),
        (["tasks", "--lang", "qq"], "--lang 'qq': not a language"),
        (["models", "--lang", "und"], "--lang 'und': not a language"),
        (["run", "--lang", "xx"], "--lang 'xx': not a language"),
        (["run", "--lang", "de", "--lang", "klingonese-ish"], "not a language"),
    ],
)
def test_bad_values_of_other_commands(
    project: Path, capsys: pytest.CaptureFixture[str], no_model_load: None, argv: list[str], expected: str
) -> None:
    assert expected in usage_error(capsys, argv)
    assert not (project / "reports").exists()  # report --lang xx writes no page


def test_env_values_are_checked_like_options(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_model_load: None
) -> None:
    monkeypatch.setenv("HARNESS_BATCH_SIZE", "many")
    assert "HARNESS_BATCH_SIZE: must be auto" in usage_error(capsys, ["run", "--lang", "de"])
    # an option overrides a bad variable only if the variable is still valid: both are checked
    monkeypatch.setenv("HARNESS_BATCH_SIZE", "8")
    monkeypatch.setenv("HARNESS_EXECUTOR", "spark")
    assert "HARNESS_EXECUTOR: must be local or ray" in usage_error(capsys, ["run", "--lang", "de"])


def test_pairs_without_a_model_or_language_is_a_usage_error(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_model_load: None
) -> None:
    pairs = write_pairs(tmp_path / "mine.tsv")
    line = usage_error(capsys, ["run", "--pairs", str(pairs)])
    assert "--pairs: say which models to score on it: --model NAME" in line
    assert not (project / "results").exists()


def test_nothing_to_run_at_all(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "say what to run" in usage_error(capsys, ["run"])


# ---------------------------------------------------------------- the language vocabulary, empty runs


def stored_results(root: Path) -> list[store.StoredResult]:
    return list(store.load_results(root / "results"))


def test_every_spelling_of_german_selects_the_german_model(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", "--lang", "deu", "--bootstrap", "100"]) == 0
    first = capsys.readouterr()
    assert f"{MODEL_KEY}: ok" in first.out
    (result,) = stored_results(project)
    assert (result.model_key, result.run.status) == (MODEL_KEY, "ok")
    for spelling in ["de-CH", "de_DE", "ger", "German", "DE", "de-Latn-DE"]:
        assert cli.main(["run", "--lang", spelling, "--bootstrap", "100"]) == 0, spelling
        out = capsys.readouterr().out
        assert f"{MODEL_KEY}: ok (all 1 task(s) already stored" in out, (spelling, out)
    assert len(stored_results(project)) == 1  # the same task each time, stored once


def test_a_language_no_model_covers_says_so_and_exits_1(
    project: Path, capsys: pytest.CaptureFixture[str], no_model_load: None
) -> None:
    assert cli.main(["run", "--lang", "fi"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"harness: nothing ran: no model in the registry {project / 'registry'} covers fi "
        "(its models cover de, en); name one with --model NAME to run it off its card"
    ]
    assert not stored_results(project)


def test_a_task_without_language_or_model_selects_no_model(
    project: Path, capsys: pytest.CaptureFixture[str], no_model_load: None
) -> None:
    assert cli.main(["run", "--task", "STSBenchmarkMultilingualSTS"]) == 1
    assert "harness: nothing ran: no model selected: name models with --model NAME" in capsys.readouterr().err


def test_every_task_unavailable_says_so_and_exits_1(
    project: Path, capsys: pytest.CaptureFixture[str], no_model_load: None
) -> None:
    # English has tasks in the catalog, but the project holds no English data and the Hub is off
    assert cli.main(["run", "--lang", "en"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert all(line.startswith("harness: unavailable: ") for line in err[:-1])
    assert len(err) > 1
    assert err[-1].startswith(f"harness: nothing ran: none of the {len(err) - 1} selected task(s)")
    assert not stored_results(project)


def test_invalid_registry_toml_with_model_reports_the_toml_error(
    project: Path, capsys: pytest.CaptureFixture[str], no_model_load: None
) -> None:
    entry = project / "registry" / MODEL_KEY
    (entry / "registry.toml").write_text('path = "unterminated\n', encoding="utf-8")
    assert cli.main(["run", "--lang", "de", "--model", MODEL_KEY]) == 1
    captured = capsys.readouterr()
    (line,) = [line for line in captured.err.splitlines() if MODEL_KEY in line]
    assert line.startswith(f"harness: {MODEL_KEY}: {entry}: registry.toml: invalid TOML")
    assert "line 1" in line
    assert "no weights found" not in captured.err + captured.out
    assert f"{MODEL_KEY}: error" in captured.out


def test_invalid_registry_toml_under_a_language_is_named_and_the_rest_runs(
    project: Path, tmp_path: Path, tiny_bert_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = write_entry(project / "registry", "org__broken-de", "org/broken-de", tiny_bert_dir, lang="de")
    (broken / "registry.toml").write_text("path = [[[\n", encoding="utf-8")
    # exit 1: a model the run should have run did not (as with --model); was 0 with the line alone
    assert cli.main(["run", "--lang", "de", "--bootstrap", "100"]) == 1
    captured = capsys.readouterr()
    assert f"harness: org__broken-de: not run: {broken}: registry.toml: invalid TOML" in captured.err
    assert f"{MODEL_KEY}: ok" in captured.out
    assert f"org__broken-de: error (not run: {broken}: registry.toml: invalid TOML" in captured.out  # summary


def test_stderr_off_a_terminal_has_only_harness_lines_no_bars_no_repeats(
    project: Path, tmp_path: Path
) -> None:
    pairs_de = write_pairs(tmp_path / "more.tsv", n=30, seed=5)
    argv = [
        "run",
        "--lang",
        "de",
        "--pairs",
        pairs_de,
        "--dtype",
        "fp16",
        "--device",
        "cpu",
        "--bootstrap",
        "100",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "harness", *map(str, argv)],
        cwd=project / "sub",
        env=cli_env(HARNESS_CONFIG=str(project / "harness.toml"), HARNESS_CACHE_DIR=str(tmp_path / "c")),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines, "expected at least the fp16-on-CPU note"
    assert all(line.startswith("harness: ") for line in lines), lines
    assert len(lines) == len(set(lines)), lines  # each message once
    assert "\r" not in proc.stderr and "it/s" not in proc.stderr and "%|" not in proc.stderr
    assert any("fp16 requested on cpu" in line for line in lines)
    assert f"{MODEL_KEY}: ok" in proc.stdout
