"""Issue 14, second round: adversarial cases of our own, one section per class of fault.

Each case asserts what the user sees (exit status, the one ``harness:`` line, what is stored).
Cases whose fix lives in a module this sweep does not own are ``xfail(strict=True)`` and name the
fix, so they fail loudly (to be un-marked) once it lands. See docs/reliability.md.
"""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from fixtures.project import MODEL_KEY, TASK, make_project
from fixtures.workspace import write_entry, write_pairs
from test_cli_validation import no_model_load  # noqa: F401  (a fixture: any model load fails the test)

from harness import cli, config, encode, store, tasks
from harness.errors import DataError
from harness.records import RunRecord, StsTask
from harness.store import io as result_io

OTHER_KEY = "org__tiny-en"  # the project's second entry; given the tiny model too, for compare


@pytest.fixture
def project(tmp_path: Path, tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A configured project (harness.toml) whose German model is the tiny BERT; cwd below it."""
    root = make_project(tmp_path / "proj", tiny_bert_dir)
    (root / "models" / OTHER_KEY).symlink_to(tiny_bert_dir, target_is_directory=True)
    monkeypatch.setenv("HARNESS_CONFIG", str(root / "harness.toml"))
    monkeypatch.chdir(root / "sub")
    return root


def run_cli(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    rc = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def stored(root: Path) -> list[store.StoredResult]:
    errors: list[str] = []
    out = store.load_results(root / "results", errors)
    assert errors == []
    return out


def german(capsys: pytest.CaptureFixture[str], *extra: Any) -> tuple[int, str, str]:
    return run_cli(capsys, "run", "--lang", "de", "--bootstrap", "100", *extra)


# ---------------------------------------------------------------- (2) a good result is never lost


def poison(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every model loaded from now on returns NaN embeddings."""
    real = encode.load_model

    def load(*args: Any, **kwargs: Any) -> Any:
        lm = real(*args, **kwargs)
        original = lm.model.forward

        def forward(features: dict, **kw: Any) -> Any:
            out = original(features, **kw)
            out["sentence_embedding"] = out["sentence_embedding"] * float("nan")
            return out

        lm.model.forward = forward
        return lm

    monkeypatch.setattr(encode, "load_model", load)


def test_force_with_a_model_that_now_fails_keeps_the_good_result(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert german(capsys)[0] == 0
    (good,) = stored(project)
    poison(monkeypatch)
    rc, _, err = german(capsys, "--force", "--no-cache")
    assert rc == 1  # the attempt failed, and the user is told ...
    finished = re.escape(good.run.finished_at or "")
    failure = rf"^harness: {MODEL_KEY}: {TASK}\S* test/de: error \(non-finite\)"
    kept = rf"{failure} not stored over the good result of {finished} in "
    assert re.search(kept, err, re.M), err
    (after,) = stored(project)  # ... and the good result is still the one stored, unchanged
    assert after.run == good.run


def test_two_pairs_files_of_one_name_in_later_runs_live_side_by_side(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write_pairs(tmp_path / "a" / "mine.tsv", n=20, seed=1)
    second = write_pairs(tmp_path / "b" / "mine.tsv", n=20, seed=2)  # same name, other data
    for pairs in (first, second, first):
        rc, out, _ = run_cli(capsys, "run", "--pairs", pairs, "--model", MODEL_KEY, "--bootstrap", "100")
        assert rc == 0
    assert f"{MODEL_KEY}: ok (all 1 task(s) already stored" in out  # the third run found the first
    results = stored(project)
    assert [r.task_name for r in results] == ["custom:mine", "custom:mine"]
    assert {r.run.data_revision for r in results} == {
        tasks.pairs_task(first).revision,
        tasks.pairs_task(second).revision,
    }
    assert all(r.run.status == "ok" for r in results)
    assert results[0].run.scores != results[1].run.scores


def test_a_later_failure_of_another_identity_never_hides_the_good_record() -> None:
    def record(identity: str, status: str, finished: str) -> RunRecord:
        scores = {"main_score": 0.5} if status == "ok" else {}
        return RunRecord(split="test", subset="de", status=status, identity=identity, scores=scores,
                         finished_at=finished, error=None if status == "ok" else "boom")  # fmt: skip

    good = record("a", "ok", "2024-01-01T00:00:00")
    later_failure = record("b", "error", "2025-01-01T00:00:00")
    later_good = record("c", "ok", "2024-06-01T00:00:00")
    assert store.shown_runs([good, later_failure]) == [good]
    assert store.shown_runs([later_failure, good, later_good]) == [later_good]


# ---------------------------------------------------------------- (4) a bad result file


def _good_result(root: Path) -> Path:
    return next(p for p in store.iter_result_files(root / "results"))


def _nested(depth: int) -> str:
    return '{"harness": {"runs": ' + "[" * depth + "]" * depth + "}}"


def _with(path: Path, change: Any) -> str:
    data = json.loads(path.read_text())
    change(data["harness"]["runs"][0])
    return json.dumps(data)


BAD_RESULTS = {  # name -> text of a result file, from the good one (None: made in the test)
    "score NaN": lambda p: _with(p, lambda r: r["scores"].update(main_score=float("nan"))),
    "score 7.5": lambda p: _with(p, lambda r: r["scores"].update(main_score=7.5)),
    "ok without a main score": lambda p: _with(p, lambda r: r.update(scores={})),
    "interval with Infinity": lambda p: _with(p, lambda r: r.update(ci95=[0.1, float("inf")])),
    "runs is an object": lambda p: '{"harness": {"runs": {"0": {}}}}',
    "JSON null": lambda p: "null",
    "a JSON list": lambda p: "[]",
    "binary": lambda p: b"\x89PNG\r\n\x1a\n\x00\x00",
    "empty": lambda p: "",
    "UTF-16": lambda p: p.read_text().encode("utf-16"),
    "nested 100,000 deep": lambda p: _nested(100_000),
}


@pytest.mark.parametrize("name", sorted(BAD_RESULTS))
def test_a_bad_result_file_is_reported_kept_aside_and_never_loaded(tmp_path: Path, name: str) -> None:
    from fixtures.results.builder import build_results

    root = build_results(tmp_path / "results")
    good = {(r.model_key, r.task_name, r.run.identity) for r in store.load_results(root)}
    victim = next(p for p in store.iter_result_files(root) if store.load_file(p)[0].run.status == "ok")
    lost = {(r.model_key, r.task_name, r.run.identity) for r in store.load_file(victim)}
    content = BAD_RESULTS[name](victim)
    victim.write_bytes(content if isinstance(content, bytes) else content.encode())
    errors: list[str] = []
    loaded = store.load_results(root, errors)
    assert {(r.model_key, r.task_name, r.run.identity) for r in loaded} == good - lost
    assert len(errors) == 1 and errors[0].startswith(f"{victim}: ")
    notes: list[str] = []
    store.prepare_folder(root, notes)  # what `run` does before it plans
    (kept,) = (root / result_io.QUARANTINE_FOLDER).iterdir()
    assert kept.read_bytes() == (content if isinstance(content, bytes) else content.encode())
    assert notes == [f"{errors[0]}; moved to {kept}, its results will be recomputed"]
    assert not victim.exists()


def test_a_huge_result_file_is_skipped_unread(tmp_path: Path) -> None:
    root = tmp_path / "results"
    huge = root / "org__m" / "rev" / "Task.json"
    huge.parent.mkdir(parents=True)
    with huge.open("wb") as fh:  # sparse: 65 MB on paper, nothing on disk
        fh.truncate(result_io.MAX_RESULT_BYTES + 1)
    errors: list[str] = []
    assert store.load_results(root, errors, quarantine_bad=True) == []
    limit = result_io.MAX_RESULT_BYTES
    assert errors == [f"{huge}: {limit + 1} bytes, more than {limit} allowed; not read"]
    assert huge.exists()  # not a bad result, only one this version does not read: left alone


def test_a_score_that_is_no_correlation_is_never_written(tmp_path: Path) -> None:
    run = RunRecord(split="test", subset="de", status="ok", identity="x", scores={"main_score": 7.5})
    with pytest.raises(
        store.StoreError, match=r"not stored: status ok with scores that are not correlations"
    ):
        store.write_run(tmp_path, model_key="m", model_id="org/m", revision="r", task_name="custom:t",
                        mteb_version=None, dataset_revision=None, weights_source=None, run=run)  # fmt: skip
    assert not list(tmp_path.rglob("*.json"))


def test_run_recomputes_a_result_whose_score_was_nan_and_report_and_compare_go_on(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert german(capsys, "--model", MODEL_KEY, "--model", OTHER_KEY)[0] == 0
    before = {r.model_key: r.run for r in stored(project)}
    victim = next(
        p for p in store.iter_result_files(project / "results") if MODEL_KEY.split("__")[1] in str(p)
    )
    victim.write_text(BAD_RESULTS["score NaN"](victim))
    extra = victim.parent / "Broken.json"
    extra.write_text(_nested(100_000))
    out_dir = project / "reports"
    rc, out, err = run_cli(capsys, "report", "--out", out_dir)
    assert rc == 0 and (out_dir / "de.html").is_file() and (out_dir / "de.md").is_file()
    for bad in (victim, extra):  # each named (relative to the working folder's project)
        assert str(bad.relative_to(project)) in err
    assert "Traceback" not in err
    rc, out, err = run_cli(capsys, "compare", MODEL_KEY, OTHER_KEY, "--lang", "de")
    assert rc == 1 and "Traceback" not in out + err  # the only shared task is the broken one
    rc, out, err = german(capsys, "--model", MODEL_KEY, "--model", OTHER_KEY)
    assert rc == 0, err
    assert f"{victim}: invalid run record: runs[0]: status ok with scores that are not correlations" in err
    after = {r.model_key: r.run for r in stored(project)}
    assert after[MODEL_KEY].identity == before[MODEL_KEY].identity
    assert after[MODEL_KEY].scores == pytest.approx(before[MODEL_KEY].scores)
    assert after[OTHER_KEY] == before[OTHER_KEY]  # the other model was left as it was
    assert len(list((project / "results" / result_io.QUARANTINE_FOLDER).iterdir())) == 2
    rc, out, err = run_cli(capsys, "compare", MODEL_KEY, OTHER_KEY, "--lang", "de")
    assert rc == 0, err


# ---------------------------------------------------------------- (5, 9) one bad sentence, pairs files


def _pairs_file(
    tmp_path: Path, name: str, rows: list[str], header: str = "sentence1\tsentence2\tscore"
) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8", errors="surrogatepass")
    return path


GOOD_ROWS = [f"a{i} b\tc{i} d\t{i}" for i in range(4)]


def _jsonl(*objects: dict[str, Any]) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


GOOD_OBJECTS = [{"sentence1": f"a{i}", "sentence2": f"b{i}", "score": i} for i in range(4)]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("underscore.tsv", None, r":6: score '1_5' is not a number$"),  # float() would read 15
        ("digits.tsv", None, r":6: score '١٢' is not a number$"),  # float() would read 12
        ("hex.csv", None, r":6: score '0x10' is not a number$"),
        (
            "huge.jsonl",
            _jsonl(*GOOD_OBJECTS, {"sentence1": "x", "sentence2": "y" * 1_000_000, "score": 1}),
            r":5: sentence2 is 1,000,000 characters long: not a sentence \(at most 131,072\)$",
        ),
        (
            "nul.jsonl",
            _jsonl(*GOOD_OBJECTS, {"sentence1": "a\x00b", "sentence2": "y", "score": 1}),
            r":5: sentence1 has a NUL character at character 2$",
        ),
        (
            "surrogate.jsonl",
            _jsonl(*GOOD_OBJECTS)[:-1] + '\n{"sentence1": "x", "sentence2": "\\udfff", "score": 1}\n',
            r":5: sentence2 has a lone surrogate \(U\+DFFF\) at character 1$",
        ),
        (
            "float-key.jsonl",
            _jsonl(*GOOD_OBJECTS, {"sentence1": "x", "sentence2": "y", "score": [1]}),
            r":5: score \[1\] is not a number$",
        ),
        (
            "deep-score.jsonl",
            _jsonl(*GOOD_OBJECTS)
            + '{"sentence1": "x", "sentence2": "y", "score": '
            + "[" * 50_000
            + "]" * 50_000
            + "}\n",
            r":5: not usable JSON \(nested too deeply\)$",
        ),
        ("big-int-string.tsv", None, r":6: score '9{36}\.\.\. is not a finite number$"),
    ],
)
def test_a_bad_row_is_caught_when_the_file_is_read(
    tmp_path: Path, name: str, text: str | None, message: str
) -> None:
    if text is None:
        score = {"underscore": "1_5", "digits": "١٢", "hex": "0x10", "big-int-string": "9" * 5000}[
            name.split(".")[0]
        ]
        sep = "," if name.endswith(".csv") else "\t"
        rows = [r.replace("\t", sep) for r in GOOD_ROWS] + [f"x{sep}y{sep}{score}"]
        path = _pairs_file(tmp_path, name, rows, header=sep.join(["sentence1", "sentence2", "score"]))
    else:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as info:
        tasks.pairs_task(path)
    assert str(info.value).startswith(f"{path.resolve()}:")
    assert re.search(message, str(info.value)), str(info.value)


def test_a_fifo_as_a_benchmark_file_is_never_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "ro_sts" / "RO-STS.test.tsv"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    task = StsTask(name="RonSTS", subset="default", languages=["ro"], local_files=[str(fifo)])
    with pytest.raises(DataError, match=r"RO-STS\.test\.tsv: a FIFO, not a regular file; not read$"):
        tasks.load_pairs(task)


def test_one_bad_sentence_fails_only_its_own_file(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_pairs(tmp_path / "good.tsv", n=20)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(_jsonl(*GOOD_OBJECTS)[:-1] + '\n{"sentence1": "\\ud800x", "sentence2": "y", "score": 1}\n')
    rc, _, err = german(capsys, "--pairs", good, "--pairs", bad)
    assert rc == 1
    assert f"harness: {bad}:5: sentence1 has a lone surrogate (U+D800) at character 1" in err
    assert {(r.task_name, r.run.status) for r in stored(project)} == {
        ("custom:good", "ok"),
        (f"{TASK}-local", "ok"),
    }


# ---------------------------------------------------------------- (6) runs that select nothing


def test_more_spellings_of_german_are_german_and_a_neighbouring_language_is_not() -> None:
    spellings = ["de-AT", "Deutsch", "deu-Latn", "GER", "de_CH", "  de", "de-1996"]
    assert config.check_languages(spellings) == ["de"]
    assert config.check_languages(["gsw"]) == ["gsw"]  # Swiss German is a language of its own
    with pytest.raises(config.ConfigError, match="not a language"):
        config.check_languages(["x-klingon"])


@pytest.mark.usefixtures("no_model_load")
def test_a_neighbouring_language_no_model_covers_exits_1(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run_cli(capsys, "run", "--lang", "gsw")
    assert rc == 1
    assert err.strip().splitlines() == [
        f"harness: nothing ran: no model in the registry {project / 'registry'} covers gsw "
        "(its models cover de, en); name one with --model NAME to run it off its card"
    ]


@pytest.mark.usefixtures("no_model_load")
def test_a_split_no_task_has_says_which_split(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = german(capsys, "--split", "nonsense")
    assert rc == 1
    assert err.strip().splitlines() == ["harness: no STS task matches de on split nonsense"]
    assert not (project / "results").exists()


@pytest.mark.usefixtures("no_model_load")
def test_an_unknown_task_with_a_model_exits_1(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(capsys, "run", "--task", "NoSuchTask", "--model", MODEL_KEY)
    assert rc == 1 and err.startswith("harness: ") and "nosuchtask" in err.lower()


# ---------------------------------------------------------------- (8) every option before any work

EMPTY_LANG = ["--lang", ""]


@pytest.mark.usefixtures("no_model_load")
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "--lang", "de", "--results", "{file}"], "--results: {file}: not a folder"),
        (["run", "--lang", "de", "--results", "{file}/sub"], "--results: {file}/sub: {file} is not a folder"),
        (["run", "--lang", "de", "--cache-dir", "{file}"], "--cache-dir: {file}: not a folder"),
        (["report", "--out", "{file}"], "--out: {file}: not a folder"),
        (["score", "M", "P", "--cache-dir", "{file}"], "--cache-dir: {file}: not a folder"),
        (["run", "--lang", "de", "--model", ""], "--model: an empty value names nothing"),
        (["run", "--lang", "de", "--task", "  "], "--task: an empty value names nothing"),
        (["run", "--lang", "de", "--split", ""], "--split: an empty value names nothing"),
        (["score", "M", "P", "--dtype", "fp64"], "--dtype: must be auto, fp32, fp16 or bf16, not 'fp64'"),
        # an empty --lang meant "every language" for models, tasks and compare (run and report refused it)
        *[
            (argv, "--lang '': not a language (use a code such as de, a tag such as de-CH, or a name)")
            for argv in (["models", *EMPTY_LANG], ["tasks", *EMPTY_LANG], ["compare", "a", "b", *EMPTY_LANG])
        ],
    ],
)
def test_more_bad_options_are_usage_errors_before_any_work(
    project: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    blocker = project / "a-file"
    blocker.write_text("not a folder")
    rc, _, err = run_cli(capsys, *[a.format(file=blocker) for a in argv])
    assert rc == 2
    assert err.strip().splitlines() == [f"harness: {expected.format(file=blocker)}"]
    assert not (project / "results").exists() and not (project / "reports").exists()


@pytest.mark.usefixtures("no_model_load")
@pytest.mark.parametrize(
    ("variable", "value", "argv", "expected"),
    [
        (
            "HARNESS_RESULTS_DIR",
            "{file}",
            ["run", "--lang", "de"],
            "HARNESS_RESULTS_DIR: {file}: not a folder",
        ),
        ("HARNESS_DTYPE", "fp64", ["score", "M", "P"], "HARNESS_DTYPE: must be auto, fp32, fp16 or bf16"),
        (
            "HARNESS_REPORTS_DIR",
            "{file}/x",
            ["report"],
            "HARNESS_REPORTS_DIR: {file}/x: {file} is not a folder",
        ),
    ],
)
def test_bad_environment_values_are_usage_errors_too(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    argv: list[str],
    expected: str,
) -> None:
    blocker = project / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(variable, value.format(file=blocker))
    rc, _, err = run_cli(capsys, *argv)
    assert rc == 2
    (line,) = err.strip().splitlines()
    assert line.startswith(f"harness: {expected.format(file=blocker)}")


# ---------------------------------------------------------------- (7) reports


def test_hostile_timestamps_never_reach_a_page_as_markup(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert german(capsys)[0] == 0
    path = _good_result(project)
    data = json.loads(path.read_text())
    data["harness"]["runs"][0]["started_at"] = "<script>alert(1)</script>|**x**"
    data["harness"]["runs"][0]["finished_at"] = "<img src=x onerror=alert(2)>|`y`"
    path.write_text(json.dumps(data))
    rc, _, err = run_cli(capsys, "report", "--out", project / "reports")
    assert rc == 0, err
    for page in ("de.md", "de.html", "index.html"):
        text = (project / "reports" / page).read_text(encoding="utf-8")
        assert "<script>alert" not in text and "<img src=x" not in text, page


def test_a_report_write_that_fails_leaves_the_old_page_whole(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert german(capsys)[0] == 0
    out_dir = project / "reports"
    assert run_cli(capsys, "report", "--out", out_dir)[0] == 0
    before = {p.name: p.read_bytes() for p in out_dir.iterdir()}
    assert german(capsys, "--model", OTHER_KEY)[0] == 0  # a new result: the pages must change
    real_replace = os.replace

    def full_disk(src: Any, dst: Any) -> None:
        if Path(dst).parent == out_dir:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", full_disk)
    rc, _, err = run_cli(capsys, "report", "--out", out_dir)
    assert rc != 0 and "No space left on device" in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in out_dir.iterdir()} == before  # whole, and no temp files


# ---------------------------------------------------------------- (11) registry entries


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("path = 5\n", "path must be a string"),
        (
            'pathh = "/somewhere"\n',
            "unknown key 'pathh' (known: model_id, revision, languages, path, prompts; did you mean path?)",
        ),
        ('prompts = "query: "\n', "prompts must be a table"),
        (None, "not a regular file"),
    ],
)
def test_a_registry_toml_that_is_wrong_but_valid_toml_is_reported(
    project: Path, capsys: pytest.CaptureFixture[str], content: str | None, words: str
) -> None:
    toml = project / "registry" / MODEL_KEY / "registry.toml"
    if content is None:
        toml.mkdir()
    else:
        toml.write_text(content)
    rc, _, err = german(capsys, "--model", MODEL_KEY)
    assert rc == 1
    assert f"harness: {MODEL_KEY}: " in err and "registry.toml" in err and words in err


# ---------------------------------------------------------------- (12) smaller


@pytest.mark.parametrize("number", ["-5", "\u2212384"])
def test_a_negative_dimension_in_the_prose_is_no_dimension(tmp_path: Path, number: str) -> None:
    from harness.registry import load_entry

    entry = write_entry(tmp_path, "org__neg", "org/neg", None, lang="de")
    card = entry / "README.md"
    card.write_text(card.read_text() + f"\nIt maps sentences to a {number} dimensional dense vector space.\n")
    spec = load_entry(entry)
    assert spec.dimension.value is None
    assert any(w.code == "invalid-dimension" for w in spec.warnings)


def test_every_error_line_of_report_and_compare_starts_with_harness(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert german(capsys)[0] == 0
    (_good_result(project).parent / "Broken.json").write_text("{")
    _, _, report_err = run_cli(capsys, "report", "--out", project / "reports")
    _, _, compare_err = run_cli(capsys, "compare", MODEL_KEY, MODEL_KEY)
    lines = (report_err + compare_err).strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("harness: ") for line in lines), lines


def test_an_unusable_cache_is_said_once(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    (encode.default_cache_dir(cache) / encode.EmbeddingCache.FILENAME).mkdir(parents=True)  # not a file
    rc, _, err = german(capsys, "--cache-dir", cache)
    assert rc == 0, err
    lines = [line for line in err.splitlines() if "embedding cache" in line]
    assert len(lines) == 1 and lines[0].startswith("harness: embedding cache ") and "unusable" in lines[0]
    assert all(line.startswith("harness: ") for line in err.splitlines())


def test_a_registry_toml_path_that_is_no_folder_is_named_in_the_run(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = write_entry(project / "registry", "org__elsewhere", "org/elsewhere", None, lang="de")
    (entry / "registry.toml").write_text('path = "/nonexistent/model"\n')
    rc, out, err = german(capsys, "--model", "org__elsewhere")
    assert rc == 0, err  # unavailable weights are no failure without --strict; the reason names the path
    assert "registry.toml path '/nonexistent/model' is not a folder; also searched" in out + err


# ---------------------------------------------------------------- round four: entries sharing results


def test_two_entries_with_one_model_id_and_revision_never_share_result_files(
    project: Path, tiny_bert_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A copy of an entry with another prompt: both would write <org__tiny-de>/<revision>/<task>.json,
    and each run handed the file's owner to the other (the report then listed one as not run)."""
    card = (project / "registry" / MODEL_KEY / "README.md").read_text(encoding="utf-8")
    twin = write_entry(project / "registry", "tiny-de-query", "org/tiny-de", None, card=card)
    (twin / "registry.toml").write_text(
        f'path = "{tiny_bert_dir}"\nprompts = {{ STS = "query: " }}\n', encoding="utf-8"
    )
    for _ in range(2):  # the same answer every time: the first entry in key order owns the files
        rc, out, err = german(capsys)
        assert rc == 1, out + err
        line = next(line for line in err.splitlines() if line.startswith("harness: tiny-de-query: "))
        assert "model id 'org/tiny-de' at revision local-" in line and f"also entry {MODEL_KEY}'s" in line
        (result,) = stored(project)
        assert result.model_key == MODEL_KEY and result.run.settings.prompt is None


def test_two_folders_whose_keys_differ_only_in_case_are_reported(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_entry(project / "registry", "Org__Tiny-De", "org/other-de", None, lang="de")
    rc, _, err = german(capsys)
    assert rc == 1, err  # the first folder runs; the second is named with why it cannot, and fails the run
    said = r"^harness: org__tiny-de: not run: .*registry key 'org__tiny-de' is also the key of "
    assert re.search(said, err, re.M)
    (result,) = stored(project)
    assert result.model_key == MODEL_KEY


def test_pairs_with_two_languages_is_a_usage_error(
    project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_model_load: None,  # noqa: F811
) -> None:
    """The file's task took the first --lang only, and the other language's models were skipped silently."""
    pairs = write_pairs(tmp_path / "mine.tsv", n=20)
    rc, _, err = run_cli(capsys, "run", "--lang", "de", "--lang", "en", "--pairs", pairs)
    assert rc == 2
    assert err.strip() == (
        "harness: --pairs: give the files' language with one --lang, not 2 (de, en); "
        "run once per language, or name models with --model"
    )


def test_pairs_with_two_spellings_of_one_language_runs(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs = write_pairs(tmp_path / "mine.tsv", n=20)
    rc, out, err = german(capsys, "--lang", "deu", "--pairs", pairs)
    assert rc == 0, err
    assert f"{MODEL_KEY}: ok" in out and "custom:mine" in out


def test_a_run_that_waits_for_another_runs_model_lock_says_so(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds the model's lock (a suspended run): the run said nothing while it waited."""
    import subprocess
    import sys
    import threading

    from filelock import Timeout

    lock = store.model_lock(project / "results", MODEL_KEY).lock_file
    release = tmp_path / "release"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import os, sys, time, filelock\nwith filelock.FileLock(sys.argv[1]):\n"
         "    print('held', flush=True)\n    while not os.path.exists(sys.argv[2]): time.sleep(0.05)\n",
         lock, release],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    waiting = threading.Event()
    real_model_lock = store.model_lock

    class Watched:  # the real lock; tells the test once the run found it taken
        def __init__(self, root: Path, key: str) -> None:
            self.inner = real_model_lock(root, key)
            self.lock_file = self.inner.lock_file

        def acquire(self, timeout: float = -1) -> None:
            try:
                self.inner.acquire(timeout=timeout)
            except Timeout:
                waiting.set()
                raise

        def release(self) -> None:
            self.inner.release()

    monkeypatch.setattr(store, "model_lock", Watched)
    threading.Thread(target=lambda: waiting.wait(120) and release.touch(), daemon=True).start()
    rc, _, err = german(capsys)
    holder.wait(timeout=60)
    assert rc == 0, err
    assert f"harness: {MODEL_KEY}: another run holds this model ({lock}); waiting for it" in err.splitlines()
    (result,) = stored(project)
    assert result.run.status == "ok"


def test_a_file_where_the_lock_folder_goes_is_one_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "results").mkdir()
    (project / "results" / ".locks").write_text("not a folder")
    rc, _, err = german(capsys)
    assert rc == 1
    locks = project / "results" / ".locks"
    why = "not a folder (runs keep their lock files there); move it aside"
    assert f"harness: nothing ran: {locks}: {why}" in err
    assert "Error" not in err  # was: harness: error: FileExistsError
