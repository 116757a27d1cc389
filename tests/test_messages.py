"""Exit status and messages (issue 24, tiers 5 and 6).

One exit rule for every command (README "Exit status"): 0 when it did what was asked, an empty
listing included (said in one ``harness:`` line); 1 when something it was asked to produce failed;
2 when it could not start (bad option, a folder or file it needs missing). And every name or path a
message prints is escaped (control characters, ESC, newlines, undecodable bytes), so one hostile
file name can neither drive the terminal nor split a line; special files say what they are.
"""

from __future__ import annotations

import io
import json
import logging
import os
import warnings
from pathlib import Path

import pytest
from fixtures.workspace import write_entry, write_pairs

from harness import cli
from harness.registry import models_command
from harness.stderr import command_stderr, decodable, printable, route_logger
from harness.tasks import DataError, catalog, load_pairs
from harness.tasks.readers import read_file


def harness(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    rc = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def harness_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


@pytest.fixture()
def registry(tmp_path: Path) -> Path:
    """A registry with one English model and nothing else."""
    root = tmp_path / "registry"
    write_entry(root, "only-english", "org/only-english", None, lang="en")
    return root


# ---------------------------------------------------------------- tier 5: one exit rule


def test_an_empty_listing_exits_0_and_says_so_in_one_line(
    tmp_path: Path, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = harness(capsys, "tasks", "--lang", "tlh")  # Klingon: a language with no STS task
    assert (rc, harness_lines(err)) == (0, ["harness: no STS tasks for language 'tlh'"])

    rc, _, err = harness(capsys, "models", "--lang", "fi", "--registry", registry)
    assert (rc, harness_lines(err)) == (0, [f"harness: no model in {registry} covers 'fi'"])

    empty = tmp_path / "empty-registry"
    empty.mkdir()
    rc, _, err = harness(capsys, "cards", "--registry", empty)
    assert (rc, harness_lines(err)) == (0, ["harness: no model cards found"])

    results = tmp_path / "results"
    results.mkdir()
    out_dir = tmp_path / "out"
    rc, out, err = harness(capsys, "report", "--results", results, "--out", out_dir, "--registry", empty)
    assert rc == 0 and out.strip().endswith("index.html")
    assert harness_lines(err) == [f"harness: warning: no results in {results}: the pages list no scores"]


def test_a_command_that_cannot_start_exits_2_with_one_line(
    tmp_path: Path, registry: Path, capsys: pytest.CaptureFixture[str], tiny_bert_dir: Path
) -> None:
    missing = tmp_path / "missing"
    empty = tmp_path / "results"
    empty.mkdir()
    cases = [
        ("tasks", "--lang", "xx-not-a-language"),
        ("models", "--lang", "xx-not-a-language", "--registry", registry),
        ("models", "--registry", missing),  # was: exit 1
        ("cards", "--registry", missing),  # was: exit 1
        ("report", "--results", missing, "--out", tmp_path / "out"),
        ("compare", "a", "b", "--results", empty, "--registry", registry),
        ("score", missing, tmp_path / "pairs.tsv"),
        ("data", "export", "--task", "NoSuchTask", "--out", tmp_path / "export"),
        ("run", "--lang", "xx-not-a-language"),
        ("info", "--config", missing / "harness.toml"),
    ]
    for args in cases:
        rc, _, err = harness(capsys, *args)
        lines = harness_lines(err)
        assert rc == 2, (args, rc, err)
        assert len(lines) == 1 and lines[0].startswith("harness: "), (args, err)


def test_a_command_whose_work_failed_exits_1(
    tmp_path: Path, registry: Path, capsys: pytest.CaptureFixture[str], tiny_bert_dir: Path
) -> None:
    # nothing ran: no model covers the language
    rc, _, err = harness(capsys, "run", "--lang", "tlh", "--registry", registry, "--results", tmp_path / "r")
    assert rc == 1 and "harness: nothing ran: no model in the registry" in err
    # a pairs file that cannot be read is the scored task's failure
    rc, _, err = harness(capsys, "score", tiny_bert_dir, tmp_path / "missing.tsv", "--no-cache")
    assert rc == 1 and harness_lines(err) == [f"harness: {tmp_path / 'missing.tsv'}: file not found"]


# ---------------------------------------------------------------- tier 6: names safe to print


def test_printable_escapes_what_would_drive_or_split_a_terminal_line() -> None:
    name = "a\x1b[2Jb\nc\rd\te\x07f\x9bg\u202eh\udcffi é"
    assert printable(name) == "a\\x1b[2Jb\\nc\\rd\\te\\x07f\\x9bg\\u202eh\\udcffi é"
    printable(name).encode("utf-8")  # valid UTF-8, whatever the name held
    assert decodable({"p": ["x\udcff\n"]}) == {"p": ["x\\udcff\n"]}  # JSON escapes the newline itself


def test_esc_sequences_in_a_pairs_file_name_never_reach_the_terminal_raw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tiny_bert_dir: Path
) -> None:
    pairs = tmp_path / "\x1b[31mred\x1b]0;title\x07.tsv"  # colour, and a window-title sequence
    rc, _, err = harness(capsys, "score", tiny_bert_dir, pairs, "--no-cache")
    assert rc == 1 and "\x1b" not in err and "\x07" not in err
    assert harness_lines(err) == [f"harness: {tmp_path}/\\x1b[31mred\\x1b]0;title\\x07.tsv: file not found"]


def test_esc_in_a_pairs_file_name_is_escaped_in_run_lines_and_its_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tiny_bert_dir: Path
) -> None:
    registry = tmp_path / "registry"
    write_entry(registry, "m", "org/m", tiny_bert_dir)
    pairs = write_pairs(tmp_path / "\x1b[31mred\x1b[0m.tsv", n=12)
    rc, out, err = harness(
        capsys, "run", "--pairs", pairs, "--model", "m", "--registry", registry,
        "--results", tmp_path / "r", "--no-cache", "--bootstrap", "100",
    )  # fmt: skip
    assert rc == 0, err
    assert "\x1b" not in out + err  # was: the summary's task name and its line printed it raw
    assert "custom:\\x1b[31mred\\x1b[0m" in out


def test_library_warnings_and_log_records_are_escaped_too(capsys: pytest.CaptureFixture[str]) -> None:
    with command_stderr():
        warnings.warn("cannot read /tmp/\x1b[2Jx\ny", UserWarning, stacklevel=1)
    assert capsys.readouterr().err == "harness: cannot read /tmp/\\x1b[2Jx y\n"


def test_a_newline_in_a_registry_folder_name_does_not_split_its_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "registry"
    write_entry(root, "good", "org/good", None)
    write_entry(root, "bad\nname\x1b[1m", "org/bad", None)
    rc, _, err = harness(capsys, "models", "--registry", root)
    assert rc == 1
    lines = err.splitlines()
    assert lines and all(line.startswith("harness: ") for line in lines), err
    assert any("bad\\nname\\x1b[1m" in line for line in lines)


def test_a_registry_entry_that_is_a_link_loop_or_dangling_link_is_listed_as_an_error(
    registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (registry / "loop").symlink_to("loop")
    (registry / "gone").symlink_to(registry / "no-such-folder")
    assert models_command(registry, None) == 1  # was: 0, both entries silently left out
    out, err = capsys.readouterr()
    assert "3 model(s)" in out and "loop" in out and "gone" in out
    assert f"harness: {registry / 'loop' / 'README.md'}: a symbolic link loop, not a folder" in err
    missing = repr(str(registry / "no-such-folder"))
    gone = registry / "gone" / "README.md"
    assert f"harness: {gone}: a symbolic link to {missing}, which does not exist" in err


def test_info_json_is_valid_utf8_for_paths_with_undecodable_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b"/data-\xff\xfe"))
    monkeypatch.setenv("HARNESS_DATA_DIR", str(odd))
    rc = cli.main(["info", "--json"])
    out = capsys.readouterr().out
    out.encode("utf-8")  # was: UnicodeEncodeError (or raw 0xff bytes under surrogateescape)
    info = json.loads(out)
    assert rc in (0, 1)
    assert info["config"]["settings"]["data_dir"]["value"] == f"{tmp_path}/data-\\udcff\\udcfe"


# ---------------------------------------------------------------- tier 6: special benchmark files

RONSTS = ("ro_sts", "RO-STS.test.tsv")


def _special(kind: str, path: Path) -> str:
    """Make `path` a special file of `kind`; returns what the error must say."""
    if kind == "fifo":
        os.mkfifo(path)
        return "a FIFO, not a regular file; not read"
    if kind == "device":
        path.symlink_to("/dev/zero")
        return "a character device, not a regular file; not read"
    if kind == "loop":
        path.symlink_to(path.name)
        return "a symbolic link loop, not a regular file; not read"
    path.symlink_to("gone.tsv")
    return "a link to 'gone.tsv', which does not exist; not read"


@pytest.mark.parametrize("kind", ["fifo", "device", "loop", "dangling"])
def test_a_special_file_where_a_benchmark_file_goes_says_what_it_is(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    path = data.joinpath(*RONSTS)
    path.parent.mkdir(parents=True)
    what = _special(kind, path)
    (task,) = [t for t in catalog(["ro"], data) if t.name == "RonSTS"]
    assert task.local_files == [str(path)]  # was: [], then "no local file" / "hub-only"
    with pytest.raises(DataError) as caught:
        load_pairs(task)
    assert str(caught.value) == f"{path}: {what}"
    rc, out, _ = harness(capsys, "tasks", "--lang", "ro", "--data-dir", data)
    assert rc == 0 and "hub-only" not in out and "local:" in out  # the table names the local file


# ---------------------------------------------------------------- tier 6: pairs headers


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_a_pairs_header_with_a_column_twice_is_refused_naming_file_and_column(
    tmp_path: Path, delimiter: str
) -> None:
    header = delimiter.join(["sentence1", "sentence1", "sentence2", "score"])
    rows = [delimiter.join([f"a{i}", f"b{i}", f"c{i}", str(i)]) for i in range(5)]
    path = tmp_path / "pairs.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:  # was: read, the second column silently taken
        read_file(path, "custom")
    assert str(caught.value) == f"{path}:1: the header names column 'sentence1' twice; rename or drop one"
    read_file(write_pairs(tmp_path / "fine.tsv"), "custom")  # a plain header still reads


# ---------------------------------------------------------------- tier 6: Ray's own log lines


def test_ray_log_lines_become_harness_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    ray = pytest.importorskip("ray")
    from harness.run import distributed

    stream = io.StringIO()
    ray_logger = logging.getLogger("ray")
    saved = [(h, h.formatter, list(h.filters)) for h in ray_logger.handlers]
    handlers = ray_logger.handlers or [logging.StreamHandler()]
    if not ray_logger.handlers:
        ray_logger.addHandler(handlers[0])
    # set, not setStream: that flushes the old stream, which an earlier test's capture may have closed
    old_streams = [getattr(h, "stream", None) for h in handlers]
    for handler in handlers:
        handler.stream = stream  # type: ignore[attr-defined]

    def fake_init(address: str | None = None, **kwargs: object) -> None:
        # what Ray's init does with its logging arguments, then a connection warning of its own
        from ray._private.ray_logging import setup_logger

        setup_logger(kwargs["logging_level"], kwargs.get("logging_format"))
        logging.getLogger("ray._private.worker").warning("Failed to connect to GCS at \x1b[31m127.0.0.1:1")

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", fake_init)
    try:
        assert distributed.connect(None) is True
        logging.getLogger("ray.util").warning("node \x1b[2Jlost")  # a line after init
        logging.getLogger("ray.util").warning("node \x1b[2Jlost")  # said once
    finally:
        for handler, old in zip(handlers, old_streams, strict=True):
            handler.stream = old  # type: ignore[attr-defined]
        for handler, formatter, filters in saved:
            handler.setFormatter(formatter)
            handler.filters = filters
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("harness: ray: Failed to connect to GCS at")  # was: "2026-... WARNING ..."
    assert lines[1:] == ["harness: ray: node \\x1b[2Jlost"]


def test_route_logger_formats_a_library_logger_that_does_not_propagate() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("harness-test-library")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    try:
        route_logger("harness-test-library", "lib: ")
        logger.warning("a\nb")
        logger.warning("a\nb")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == "harness: lib: a b\n"
