"""Bad input: hostile model cards, broken data files, broken model folders.

Each bad input gets a clear one-line error naming the file and the problem, never a
traceback, and the rest of the work goes on. The card corpus lives in
``tests/fixtures/bad_cards/`` (small text cards, byte-exact: see its .gitattributes); the big,
binary and UTF-16 cards are generated here in a tmp folder. See docs/reliability.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fixtures.tiny_models import make_corrupt_copy, make_remote_code_model
from fixtures.workspace import (
    REPO,
    cli_env,
    error_lines,
    harness_argv,
    one_torch_thread,
    result_files,
    run_cli,
    write_entry,
    write_pairs,
)

from harness import cli, store
from harness import run as runner

BAD_CARDS = Path(__file__).resolve().parent / "fixtures" / "bad_cards"
GOOD_CARD = "good.md"


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    yield from one_torch_thread()


# ------------------------------------------------------------------------------------------
# the card corpus


@dataclass(frozen=True)
class Expect:
    """What `harness cards --json` must say about one card."""

    error: str | None = None  # a substring of the one error, or None: the card parses
    warning: tuple[str, str] | None = None  # (code, substring of its message)
    fields: dict[str, Any] = field(default_factory=dict)  # contract fields and their values


EXPECTED: dict[str, Expect] = {
    # committed text cards
    "no_front_matter.md": Expect(error="no YAML front matter"),
    "malformed_yaml.md": Expect(error="malformed YAML front matter"),
    "yaml_list.md": Expect(error="YAML front matter is a list, not a mapping"),
    "yaml_scalar.md": Expect(error="YAML front matter is a str, not a mapping"),
    "empty.md": Expect(error="empty file"),
    "unclosed_front_matter.md": Expect(error="never closed"),
    "yaml_python_tag.md": Expect(error="could not determine a constructor for the tag"),
    "utf8_bom.md": Expect(fields={"languages": ["de"], "warnings": []}),
    "crlf.md": Expect(fields={"languages": ["de"], "model_id": "org/crlf-model", "warnings": []}),
    "language_number.md": Expect(warning=("invalid-language", "42"), fields={"languages": []}),
    "dimension_text.md": Expect(
        warning=("invalid-dimension", "'three hundred'"), fields={"dimension": None, "max_seq_length": 128}
    ),
    "max_seq_length_negative.md": Expect(
        warning=("invalid-max-seq-length", "-5"), fields={"max_seq_length": None, "dimension": 384}
    ),
    "max_seq_length_absurd.md": Expect(
        warning=("invalid-max-seq-length", "999999999999"), fields={"max_seq_length": None}
    ),
    "claim_above_100.md": Expect(warning=("invalid-claim", "123.4"), fields={"claims": []}),
    "duplicated_keys.md": Expect(warning=("yaml-duplicate-key", "'language'"), fields={"languages": ["fr"]}),
    "html_script_name.md": Expect(
        warning=("html-in-name", "<script>alert(1)</script>"), fields={"model_id": "org/evil-model"}
    ),
    "model_id_traversal.md": Expect(warning=("unsafe-model-id", "'../../etc/x'"), fields={"model_id": None}),
    "model_id_absolute.md": Expect(warning=("unsafe-model-id", "'/etc/passwd'"), fields={"model_id": None}),
    "yaml_alias_bomb.md": Expect(
        warning=("invalid-language", "is not a language code"), fields={"languages": [], "datasets": []}
    ),
    "model_index_not_list.md": Expect(warning=("invalid-model-index", "not a list"), fields={"claims": []}),
    # generated below (big, binary or not UTF-8)
    "binary_nul.bin.md": Expect(error="not a text file (contains NUL bytes)"),
    "binary_controls.md": Expect(error="not a text file (binary content)"),
    "utf16_bom.md": Expect(warning=("non-utf8-encoding", "UTF-16"), fields={"languages": ["de"]}),
    "utf16le_no_bom.md": Expect(
        warning=("non-utf8-encoding", "without a byte-order mark"), fields={"languages": ["de"]}
    ),
    "cp1252.md": Expect(warning=("non-utf8-encoding", "CP1252"), fields={"languages": ["de"]}),
    "huge_20mb.md": Expect(error="card is larger than 5 MB; not parsed"),
    "long_line.md": Expect(fields={"languages": ["en"], "claims": []}),
    "long_yaml_value.md": Expect(warning=("unsafe-value", "not a license identifier")),
    "model_index_bomb.md": Expect(warning=("too-many-claims", "read no further")),
}
ERROR_CARDS = sorted(name for name, e in EXPECTED.items() if e.error)


def _generate(folder: Path) -> None:
    """The cards too big, binary or oddly encoded to commit."""
    card = "---\nlanguage: de\nlicense: mit\n---\n\n# Ein Modell für Größe\n"
    (folder / "binary_nul.bin.md").write_bytes(bytes(range(256)) * 64)
    (folder / "binary_controls.md").write_bytes(b"---\nlanguage: en\n---\n" + bytes(range(1, 9)) * 500)
    (folder / "utf16_bom.md").write_bytes(card.encode("utf-16"))
    (folder / "utf16le_no_bom.md").write_bytes(card.encode("utf-16-le"))
    (folder / "cp1252.md").write_bytes(card.encode("cp1252"))
    with (folder / "huge_20mb.md").open("wb") as fh:
        fh.write(b"---\nlanguage: en\nlicense: mit\n---\n\n# Huge\n\n")
        line = b"spearman 0.5 on test " * 50 + b"\n"
        for _ in range(20 * 1024 * 1024 // len(line) + 1):
            fh.write(line)
    (folder / "long_line.md").write_text(
        "---\nlanguage: en\nlicense: mit\n---\n\n# Long line\n\n" + "cosine spearman 0.5 " * 150_000 + "\n"
    )
    (folder / "long_yaml_value.md").write_text(
        "---\nlanguage: en\nlicense: " + "x" * 900_000 + "\n---\n\n# Long YAML value\n"
    )
    metrics = ", ".join(["*m"] * 150)
    results = ", ".join(["*r"] * 500)
    entries = ", ".join(["*e"] * 50)
    (folder / "model_index_bomb.md").write_text(
        "---\nlanguage: en\nlicense: mit\n"
        "m: &m {type: cos_sim_spearman, value: 0.5}\n"
        f"r: &r {{dataset: {{type: mteb/stsbenchmark-sts, split: test}}, metrics: [{metrics}]}}\n"
        f"e: &e {{name: x, results: [{results}]}}\n"
        f"model-index: [{entries}]\n---\n\n# 3.75 million claims through YAML aliases\n"
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bad-cards")
    for path in BAD_CARDS.iterdir():
        if not path.name.startswith("."):
            shutil.copyfile(path, folder / path.name)
    _generate(folder)
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([*EXPECTED, GOOD_CARD]), "the corpus and EXPECTED must list the same cards"
    return folder


def _cards(*paths: Path) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    proc = subprocess.run(
        harness_argv("cards", *map(str, paths), "--json"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=cli_env(),
    )
    return proc, time.perf_counter() - start


@pytest.fixture(scope="module")
def per_card(corpus: Path) -> dict[str, tuple[subprocess.CompletedProcess, float]]:
    """`harness cards BAD good.md --json` for every card with an error (run a few at a time), and one
    `harness cards W1 W2 ... good.md --json` for all the cards that only warn."""
    warn_only = [corpus / name for name in sorted(EXPECTED) if name not in ERROR_CARDS]
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(_cards, corpus / name, corpus / GOOD_CARD) for name in ERROR_CARDS}
        futures["(warnings only)"] = pool.submit(_cards, *warn_only, corpus / GOOD_CARD)
        return {name: f.result() for name, f in futures.items()}


@pytest.fixture(scope="module")
def whole_folder(corpus: Path) -> subprocess.CompletedProcess:
    return _cards(corpus)[0]


def _check_card(obj: dict, expect: Expect) -> None:
    if expect.error:
        assert len(obj["errors"]) == 1 and expect.error in obj["errors"][0], obj["errors"]
    else:
        assert obj["errors"] == []
    if expect.warning:
        code, text = expect.warning
        messages = [w["message"] for w in obj["warnings"] if w["code"] == code]
        assert any(text in m for m in messages), (code, obj["warnings"])
    for key, value in expect.fields.items():
        assert obj[key] == value, key
    assert all("\n" not in m for m in obj["errors"] + [w["message"] for w in obj["warnings"]])


def _check_good(obj: dict) -> None:
    assert Path(obj["source"]).name == GOOD_CARD
    assert obj["errors"] == [] and obj["model_id"] == "org/good-model" and obj["languages"] == ["de"]


@pytest.mark.parametrize("name", ERROR_CARDS)
def test_bad_card_cli_one_line_error_and_the_other_card_still_reported(
    name: str, corpus: Path, per_card: dict
) -> None:
    proc, seconds = per_card[name]
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()  # exactly one line, naming the file; nothing else
    assert len(lines) == 1 and lines[0].startswith(f"harness: {corpus / name}: ")
    assert EXPECTED[name].error in lines[0]
    data = json.loads(proc.stdout)
    assert [Path(obj["source"]).name for obj in data] == [name, GOOD_CARD]
    _check_card(data[0], EXPECTED[name])
    _check_good(data[1])
    assert seconds < 30, f"{name} took {seconds:.1f}s"
    if name == "yaml_python_tag.md":  # a safe loader never runs the tag's os.system
        assert "harness-yaml-tag-was-executed" not in proc.stdout + proc.stderr


def test_cards_that_only_warn_exit_0_with_the_warnings_in_the_json(corpus: Path, per_card: dict) -> None:
    proc, seconds = per_card["(warnings only)"]
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and "Traceback" not in proc.stdout
    data = json.loads(proc.stdout)
    names = [Path(obj["source"]).name for obj in data]
    assert names == [*sorted(n for n in EXPECTED if n not in ERROR_CARDS), GOOD_CARD]
    for name, obj in zip(names, data, strict=True):
        if name != GOOD_CARD:
            _check_card(obj, EXPECTED[name])
    _check_good(data[-1])
    assert seconds < 60


def test_bad_card_folder_reports_every_card(corpus: Path, whole_folder: subprocess.CompletedProcess) -> None:
    proc = whole_folder
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    data = json.loads(proc.stdout)
    by_name = {Path(obj["source"]).name: obj for obj in data}
    assert sorted(by_name) == sorted([*EXPECTED, GOOD_CARD])  # every card reported, bad or not
    for name, expect in EXPECTED.items():
        _check_card(by_name[name], expect)
    assert by_name[GOOD_CARD]["errors"] == []
    lines = proc.stderr.splitlines()
    assert len(lines) == len(ERROR_CARDS)  # one line per card with an error, nothing else
    for name, line in zip(ERROR_CARDS, sorted(lines), strict=True):
        assert line.startswith(f"harness: {corpus / name}: ")


# ------------------------------------------------------------------------------------------
# bad data files

BAD_PAIRS: dict[str, tuple[str | bytes, str]] = {
    # file name: (content, what the message says after the file name)
    "missing_column.tsv": ("sentence1\tsentence2\nhello\tworld\n", ": missing required columns"),
    "missing_score.tsv": (
        "sentence1\tsentence2\tscore\nhello there\tworld\t\na\tb\t1\n",
        ":2: missing score",
    ),
    "non_numeric_score.tsv": (
        "sentence1\tsentence2\tscore\nhello\tworld\t1\nhi\tyou\thigh\n",
        ":3: score 'high' is not a number",
    ),
    "nan_score.tsv": (
        "sentence1\tsentence2\tscore\nhello\tworld\t1\nhi\tyou\tnan\n",
        ":3: score 'nan' is not a finite number",
    ),
    "infinite_score.csv": (
        "sentence1,sentence2,score\na b,c d,1\ne f,g h,1e999\n",
        ":3: score '1e999' is not a finite number",
    ),
    "empty_sentence.tsv": ("sentence1\tsentence2\tscore\nhello\t\t1\nhi\tyou\t2\n", ":2: empty sentence2"),
    "wrong_delimiter.tsv": (
        "sentence1|sentence2|score\nhello|world|1\n",
        ": missing required columns sentence1, sentence2, score",
    ),
    "mixed_delimiter.csv": (
        "sentence1,sentence2,score\nhello,world,1\nhi;you;2\n",
        ":3: expected 3 comma-separated fields, found 1 (the line looks semicolon-separated)",
    ),
    "extra_field.tsv": (
        "sentence1\tsentence2\tscore\nhello\tworld\t1\nhi\tyou\t2\textra\n",
        ":3: expected 3 TAB-separated fields, found 4",
    ),
    "missing_key.jsonl": (
        '{"sentence1": "a", "sentence2": "b", "score": 1}\n{"sentence1": "a"}\n',
        ":2: missing sentence2, score",
    ),
    "not_utf8.tsv": (
        "sentence1\tsentence2\tscore\nGröße\tgroß\t1\n".encode("latin-1"),
        ":2: not UTF-8",
    ),
    "empty.tsv": ("", ": empty file"),
    "constant_scores.tsv": (
        "sentence1\tsentence2\tscore\na b\tc d\t3\ne f\tg h\t3\ni j\tk l\t3\n",
        ": all 3 scores are 3; a correlation with constant scores is undefined",
    ),
}


def _write_bad(folder: Path, name: str) -> Path:
    content = BAD_PAIRS[name][0]
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.fixture
def workspace(tmp_path: Path, tiny_bert_dir: Path) -> dict[str, Path]:
    registry = tmp_path / "registry"
    write_entry(registry, "org__bert", "org/bert", tiny_bert_dir)
    return {
        "registry": registry,
        "results": tmp_path / "results",
        "cache": tmp_path / "cache",
        "good": write_pairs(tmp_path / "good.tsv"),
        "bad": tmp_path / "bad",
    }


def _flat(text: str) -> str:
    """Text without whitespace: undoes the wraps a narrow console adds (test_run_messages_are_one_line)."""
    return "".join(text.split())


@pytest.mark.parametrize("name", sorted(BAD_PAIRS))
def test_bad_pairs_file_score_gives_one_line_naming_file_and_line(
    name: str, tmp_path: Path, tiny_bert_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = _write_bad(tmp_path, name)
    rc = cli.main(["score", str(tiny_bert_dir), str(bad), "--no-cache"])
    out, err = capsys.readouterr()
    assert rc == 1 and out == "" and "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"harness: {bad.resolve()}{BAD_PAIRS[name][1]}"), err


@pytest.mark.parametrize("name", sorted(BAD_PAIRS))
def test_bad_pairs_file_run_gives_an_error_naming_file_and_line(
    name: str, workspace: dict, capsys: pytest.CaptureFixture
) -> None:
    workspace["bad"].mkdir()
    bad = _write_bad(workspace["bad"], name)
    argv = ["run", "--pairs", str(bad), "--registry", str(workspace["registry"])]
    argv += ["--results", str(workspace["results"]), "--model", "org__bert"]
    rc = cli.main(argv)
    _, err = capsys.readouterr()
    assert rc == 1 and "Traceback" not in err
    assert _flat(f"{bad.resolve()}{BAD_PAIRS[name][1]}") in _flat(err)
    assert not result_files(workspace["results"])


def test_bad_pairs_file_cli_subprocess(workspace: dict, tiny_bert_dir: Path) -> None:
    workspace["bad"].mkdir()
    bad = _write_bad(workspace["bad"], "non_numeric_score.tsv")
    scored = run_cli("score", tiny_bert_dir, bad)
    assert scored.returncode == 1 and "Traceback" not in scored.stderr
    assert error_lines(scored.stderr) == [f"harness: {bad}:3: score 'high' is not a number"]
    ran = run_cli("run", "--pairs", bad, "--registry", workspace["registry"],
                  "--results", workspace["results"], "--model", "org__bert")  # fmt: skip
    assert ran.returncode == 1 and "Traceback" not in ran.stderr
    assert _flat(f"{bad}:3: score 'high' is not a number") in _flat(ran.stderr)


def test_bad_pairs_file_beside_a_good_one_still_stores_the_good_one(workspace: dict) -> None:
    workspace["bad"].mkdir()
    bad = _write_bad(workspace["bad"], "non_numeric_score.tsv")
    lines: list[str] = []
    summary = runner.run(
        runner.RunOptions(
            languages=[], results_dir=workspace["results"], registry_dir=workspace["registry"],
            model_names=["org__bert"], pairs_files=[bad, workspace["good"]],
            cache_dir=workspace["cache"], bootstrap_resamples=50, allow_hub=False,
        ),
        say=lines.append,
    )  # fmt: skip
    assert summary.failed and any(f"{bad.name}:3" in e for e in summary.data_errors)
    stored = store.load_results(workspace["results"])
    assert [(r.task_name, r.run.status) for r in stored] == [("custom:good", "ok")]


def test_run_messages_are_one_line(
    workspace: dict, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    workspace["bad"].mkdir()
    bad = _write_bad(workspace["bad"], "non_numeric_score.tsv")
    argv = ["run", "--pairs", str(bad), "--registry", str(workspace["registry"])]
    argv += ["--results", str(workspace["results"]), "--model", "org__bert"]
    assert cli.main(argv) == 1
    _, err = capsys.readouterr()
    assert f"harness: {bad.resolve()}:3: score 'high' is not a number" in err.splitlines()


def test_out_of_range_score_in_a_benchmark_file_and_a_good_task_alongside(
    workspace: dict, shared_dir: Path
) -> None:
    data = workspace["results"].parent / "data"
    rows = (shared_dir / "data/sts/ro_sts/RO-STS.test.tsv").read_text(encoding="utf-8").splitlines()[:20]
    (data / "ro_sts").mkdir(parents=True)
    (data / "ro_sts/RO-STS.test.tsv").write_text("\n".join([*rows, "7.5\tO fată.\tUn băiat."]) + "\n")
    en = (shared_dir / "data/sts/stsb_multi_mt/stsb-en-test.csv").read_bytes().splitlines(keepends=True)
    (data / "stsb_multi_mt").mkdir()
    (data / "stsb_multi_mt/stsb-en-test.csv").write_bytes(b"".join(en[:30]))
    lines: list[str] = []
    summary = runner.run(
        runner.RunOptions(
            languages=[], task_names=["RonSTS", "STSBenchmark"], data_dir=data,
            results_dir=workspace["results"], registry_dir=workspace["registry"], model_names=["org__bert"],
            cache_dir=workspace["cache"], bootstrap_resamples=50, allow_hub=False,
        ),
        say=lines.append,
    )  # fmt: skip
    assert summary.failed
    assert summary.data_errors == [f"RonSTS (test): {data}/ro_sts/RO-STS.test.tsv:21: score 7.5 outside 0..5"]
    assert any("RO-STS.test.tsv:21: score 7.5 outside 0..5" in line for line in lines)
    stored = store.load_results(workspace["results"])
    # 30 of 1379 rows are not MTEB's STSBenchmark: they run (and are stored) under a local name
    assert [(r.task_name, r.run.status, r.run.n_pairs) for r in stored] == [("STSBenchmark-local", "ok", 30)]


# ------------------------------------------------------------------------------------------
# bad model folders


def _bad_model_folders(src: Path, root: Path) -> dict[str, tuple[Path, str, str]]:
    """key: (folder, expected error_kind, a substring of the stored reason)."""
    out: dict[str, tuple[Path, str, str]] = {}

    def copy(name: str) -> Path:
        return Path(shutil.copytree(src, root / name))

    bare = copy("no-modules-no-config")
    (bare / "modules.json").unlink()
    (bare / "config.json").unlink()
    out["org__no-modules-no-config"] = (bare, "load-failed", "is missing modules.json (and config.json)")

    broken = copy("broken-modules-json")
    (broken / "modules.json").write_text("{not json")
    out["org__broken-modules-json"] = (broken, "load-failed", "modules.json")

    truncated = make_corrupt_copy(src, root / "truncated-head", keep_bytes=100)
    out["org__truncated-head"] = (truncated, "load-failed", "corrupt or truncated weights file")

    tail = copy("truncated-tail")
    weights = (tail / "model.safetensors").read_bytes()
    (tail / "model.safetensors").write_bytes(weights[:-1000])
    out["org__truncated-tail"] = (tail, "load-failed", "header describes")

    garbage = copy("garbage-weights")
    (garbage / "model.safetensors").write_bytes(bytes(range(256)) * 20)
    out["org__garbage-weights"] = (garbage, "load-failed", "corrupt or truncated weights file")

    remote = make_remote_code_model(src, root / "remote-code")
    out["org__remote-code"] = (remote, "remote-code-refused", "pass --trust-remote-code to allow it")

    custom = copy("custom-module")
    modules = json.loads((custom / "modules.json").read_text())
    modules[1]["type"] = "custom_pooling.Pooling"
    (custom / "modules.json").write_text(json.dumps(modules))
    (custom / "custom_pooling.py").write_text("raise RuntimeError('remote code must never be executed')\n")
    out["org__custom-module"] = (
        custom,
        "remote-code-refused",
        "custom module class 'custom_pooling.Pooling'",
    )
    return out


def test_bad_model_folders_are_error_results_and_the_good_model_is_stored(
    workspace: dict, tmp_path: Path, tiny_bert_dir: Path
) -> None:
    bad = _bad_model_folders(tiny_bert_dir, tmp_path / "models")
    for key, (folder, _, _) in bad.items():
        write_entry(workspace["registry"], key, key.replace("__", "/"), folder)
    # no modules.json but a config.json: loaded like sentence-transformers does (transformer + mean pooling)
    plain = Path(shutil.copytree(tiny_bert_dir, tmp_path / "models" / "no-modules-json"))
    (plain / "modules.json").unlink()
    write_entry(workspace["registry"], "org__no-modules-json", "org/no-modules-json", plain)
    lines: list[str] = []
    summary = runner.run(
        runner.RunOptions(
            languages=[], results_dir=workspace["results"], registry_dir=workspace["registry"],
            model_names=[*bad, "org__no-modules-json", "org__bert"], pairs_files=[workspace["good"]],
            cache_dir=workspace["cache"], bootstrap_resamples=50, allow_hub=False,
        ),
        say=lines.append,
    )  # fmt: skip
    stored = {r.model_key: r for r in store.load_results(workspace["results"])}
    assert set(stored) == {*bad, "org__no-modules-json", "org__bert"}
    assert stored["org__bert"].run.status == "ok"
    # the tiny BERT pools by mean, so the ST fallback gives the same vectors
    plain_run = stored["org__no-modules-json"].run
    assert plain_run.status == "ok"
    assert plain_run.scores["main_score"] == pytest.approx(stored["org__bert"].run.scores["main_score"])
    for key, (_, kind, reason) in bad.items():
        run = stored[key].run
        assert (run.status, run.error_kind) == ("error", kind), key
        assert reason in run.error and "\n" not in run.error, (key, run.error)
        assert any(line.startswith(f"harness: {key}: custom:good: {kind}: ") for line in lines), key
    outcomes = {o.key: o for o in summary.outcomes}
    assert summary.failed and all(outcomes[k].status == "error" for k in bad)
    assert outcomes["org__bert"].status == "ok"
    assert "custom_pooling" not in __import__("sys").modules  # the custom module was never imported


def test_model_folder_without_weights_is_an_error_result(
    workspace: dict, tmp_path: Path, tiny_bert_dir: Path
) -> None:
    empty = Path(shutil.copytree(tiny_bert_dir, tmp_path / "no-weights"))
    (empty / "model.safetensors").unlink()
    write_entry(workspace["registry"], "org__no-weights", "org/no-weights", empty)
    summary = runner.run(
        runner.RunOptions(
            languages=[], results_dir=workspace["results"], registry_dir=workspace["registry"],
            model_names=["org__no-weights", "org__bert"], pairs_files=[workspace["good"]],
            cache_dir=workspace["cache"], bootstrap_resamples=50, allow_hub=False,
        ),
        say=lambda _: None,
    )  # fmt: skip
    stored = {r.model_key: r.run for r in store.load_results(workspace["results"])}
    assert stored["org__bert"].status == "ok"
    assert (stored["org__no-weights"].status, stored["org__no-weights"].error_kind) == (
        "error",
        "load-failed",
    )
    assert "no weight files" in stored["org__no-weights"].error
    assert summary.failed
