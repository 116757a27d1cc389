"""Faults during a run: SIGKILL, two runs at once, out of memory, NaN, a full or read-only disk.

Faults inside a model (OOM, NaN) are injected by wrapping ``encode.load_model`` so that the
loaded model's ``forward`` misbehaves; disk faults by patching the file-system calls that
``harness.store`` makes, only for paths under the test's results folder (we run as root, so
``chmod`` would not stop a write). See docs/reliability.md.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from fixtures.workspace import (
    REPO,
    cli_env,
    harness_argv,
    one_torch_thread,
    result_files,
    snapshot,
    stray_temp_files,
    write_entry,
    write_pairs,
)

from harness import cli, encode, store
from harness import run as runner
from harness.store import io as result_io

MODELS = ["org__bert", "org__distil", "org__xlmr"]


@pytest.fixture
def ws(tmp_path: Path, tiny_bert_dir: Path, tiny_distilbert_dir: Path, tiny_xlmr_dir: Path) -> dict:
    registry = tmp_path / "registry"
    write_entry(registry, "org__bert", "org/bert", tiny_bert_dir)
    write_entry(registry, "org__distil", "org/distil", tiny_distilbert_dir)
    write_entry(registry, "org__xlmr", "org/xlmr", tiny_xlmr_dir)
    write_entry(registry, "org__nowhere", "org/nowhere", None)
    return {
        "registry": registry,
        "results": tmp_path / "results",
        "cache": tmp_path / "cache",
        "pairs": [
            write_pairs(tmp_path / "pairs-a.tsv", n=120, seed=1),
            write_pairs(tmp_path / "pairs-b.tsv", n=120, seed=2),
        ],
    }


def options(ws: dict, **overrides: Any) -> runner.RunOptions:
    base: dict[str, Any] = dict(
        languages=[],
        results_dir=ws["results"],
        registry_dir=ws["registry"],
        model_names=["org__bert", "org__distil"],
        pairs_files=ws["pairs"][:1],
        cache_dir=ws["cache"],
        bootstrap_resamples=100,
        allow_hub=False,
    )
    base.update(overrides)
    return runner.RunOptions(**base)


def cli_args(ws: dict, models: list[str], *extra: str) -> list[str]:
    args = ["run", "--registry", str(ws["registry"]), "--results", str(ws["results"])]
    args += ["--cache-dir", str(ws["cache"]), "--bootstrap", "100", *extra]
    for pairs in ws["pairs"]:
        args += ["--pairs", str(pairs)]
    for model in models:
        args += ["--model", model]
    return args


def stored(root: Path) -> dict[tuple[str, str], store.RunRecord]:
    errors: list[str] = []
    out = {(r.model_key, r.task_name): r.run for r in store.load_results(root, errors)}
    assert errors == []
    return out


def fingerprint(root: Path) -> dict[tuple[str, str], tuple]:
    """What must not depend on how the results were reached: identity, scores, interval, data."""
    return {
        key: (run.status, run.identity, run.n_pairs, run.scores, run.ci95, run.cosine_similarities)
        for key, run in stored(root).items()
    }


def assert_readable(root: Path) -> None:
    """Every file a reader would load parses; a temporary file is never one of them."""
    for path in result_files(root):
        json.loads(path.read_text(encoding="utf-8"))
    assert all(p.name.startswith(".") for p in stray_temp_files(root))
    assert not any(p.suffix == ".tmp" for p in result_files(root))


def _flat(text: str) -> str:
    return "".join(text.split())


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    yield from one_torch_thread()


# ------------------------------------------------------------------------------------------
# the process killed, two processes at once


def _popen(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        harness_argv(*args), cwd=REPO, env=cli_env(), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def test_sigkill_mid_run_then_rerun_completes_with_identical_results(ws: dict) -> None:
    total = len(MODELS) * len(ws["pairs"])
    proc = _popen(cli_args(ws, MODELS))
    files_at_kill: list[Path] = []
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            files = result_files(ws["results"])
            assert_readable(ws["results"])  # a reader racing the writer never sees half a file
            if files:  # the first model is stored: the others are still to come
                os.kill(proc.pid, signal.SIGKILL)
                files_at_kill = files
                break
            time.sleep(0.005)
    finally:
        if proc.poll() is None and not files_at_kill:
            proc.kill()
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"the run ended before the kill: {stderr}"
    assert 0 < len(files_at_kill) < total
    assert_readable(ws["results"])

    # re-running completes the work: what was stored is kept, the rest computed
    summary = runner.run(options(ws, model_names=MODELS, pairs_files=ws["pairs"]), say=lambda _: None)
    assert not summary.failed
    assert sum(len(o.already_stored) for o in summary.outcomes) >= 1
    assert (
        sum(len(o.ok) for o in summary.outcomes) + sum(len(o.already_stored) for o in summary.outcomes)
        == total
    )
    assert_readable(ws["results"])

    # ... and equals an uninterrupted run (fresh results and cache folders)
    reference = {
        **ws,
        "results": ws["results"].parent / "reference",
        "cache": ws["cache"].parent / "ref-cache",
    }
    runner.run(options(reference, model_names=MODELS, pairs_files=ws["pairs"]), say=lambda _: None)
    got, want = fingerprint(ws["results"]), fingerprint(reference["results"])
    assert len(want) == total and set(got) == set(want)
    for key in want:
        status, identity, n_pairs, scores, ci95, sims = got[key]
        assert (status, identity, n_pairs) == want[key][:3], key
        assert scores == pytest.approx(want[key][3], abs=1e-9), key
        assert ci95 == pytest.approx(want[key][4], abs=1e-9), key
        assert sims == pytest.approx(want[key][5], abs=1e-6), key


def test_two_runs_at_once_share_results_and_cache_without_corruption_or_double_work(ws: dict) -> None:
    total = len(MODELS) * len(ws["pairs"])
    procs = [_popen(cli_args(ws, MODELS)) for _ in range(2)]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and any(p.poll() is None for p in procs):
        assert_readable(ws["results"])
        time.sleep(0.02)
    outputs = [p.communicate(timeout=60) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    assert_readable(ws["results"])
    runs = stored(ws["results"])
    assert len(runs) == total and all(r.status == "ok" for r in runs.values())
    # each model was computed by exactly one of the runs; the other found it stored
    for model in MODELS:
        computed = [out for out, _ in outputs if any(
            line.startswith(f"{model}: ok custom:pairs-a") for line in out.splitlines())]  # fmt: skip
        assert len(computed) == 1, (model, [o for o, _ in outputs])
        waited = [(out, err) for out, err in outputs if out is not computed[0]]
        assert len(waited) == 1
        out, err = waited[0]
        line = next(line for line in out.splitlines() if line.startswith(f"{model}: "))
        if line == f"{model}: ok":  # planned before the other run stored it, then found it stored
            assert re.search(rf"^harness: {model}: \d task\(s\) stored meanwhile by another run$", err, re.M)
        else:  # planned after the other run had stored it
            assert line.startswith(f"{model}: ok (all 2 task(s) already stored"), line
    # one stored run per (model, task), and the cache is a healthy SQLite file where --cache-dir
    # D puts it (D/embeddings, the same files as HARNESS_CACHE_DIR=D), holding every sentence
    for path in result_files(ws["results"]):
        assert len(json.loads(path.read_text())["harness"]["runs"]) == 1
    texts = {
        text
        for pairs in ws["pairs"]
        for line in pairs.read_text(encoding="utf-8").splitlines()[1:]
        for text in line.split("\t")[:2]
    }
    with encode.EmbeddingCache(encode.default_cache_dir(ws["cache"])) as cache:
        assert len(cache) == len(MODELS) * len(texts)  # each model's vectors once, none lost


# ------------------------------------------------------------------------------------------
# out of memory, NaN


def inject(monkeypatch: pytest.MonkeyPatch, folder: Path, forward: Any) -> None:
    """Models loaded from `folder` get `forward(original, features)` instead of their own."""
    real = encode.load_model

    def load(path_or_id: Any, **kwargs: Any) -> encode.LoadedModel:
        lm = real(path_or_id, **kwargs)
        if Path(str(path_or_id)).resolve() == folder.resolve():
            original = lm.model.forward
            lm.model.forward = lambda features, **kw: forward(original, features, **kw)
        return lm

    monkeypatch.setattr(encode, "load_model", load)


def _oom(kind: str) -> BaseException:
    import torch

    if kind == "torch":
        return torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    return RuntimeError("CUDA error: out of memory")


@pytest.mark.parametrize("kind", ["torch", "runtime"])
def test_out_of_memory_halves_the_batch_and_gives_the_same_results(
    ws: dict, tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    calls: list[int] = []

    def flaky(original: Any, features: dict, **kw: Any) -> Any:
        rows = int(features["input_ids"].shape[0])
        calls.append(rows)
        if rows > 4:
            raise _oom(kind)
        return original(features, **kw)

    reference = {**ws, "results": ws["results"].parent / "reference"}
    runner.run(options(reference, model_names=["org__bert"], batch_size=16, use_cache=False), say=print)
    inject(monkeypatch, tiny_bert_dir, flaky)
    summary = runner.run(options(ws, model_names=["org__bert"], batch_size=16, use_cache=False), say=print)
    assert not summary.failed and max(calls) > 4  # it did run out of memory, and went on
    got = stored(ws["results"])[("org__bert", "custom:pairs-a")]
    want = stored(reference["results"])[("org__bert", "custom:pairs-a")]
    assert got.status == "ok"
    assert (want.encode.batch_size, got.encode.batch_size) == (16, 4)  # the final batch size
    assert got.scores == pytest.approx(want.scores, abs=1e-6)
    assert got.cosine_similarities == pytest.approx(want.cosine_similarities, abs=1e-5)


def test_model_too_big_for_the_device_is_an_out_of_memory_result(
    ws: dict, tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never_fits(original: Any, features: dict, **kw: Any) -> Any:
        raise _oom("torch")

    inject(monkeypatch, tiny_bert_dir, never_fits)
    lines: list[str] = []
    summary = runner.run(options(ws, batch_size=8), say=lines.append)
    runs = stored(ws["results"])
    big = runs[("org__bert", "custom:pairs-a")]
    assert (big.status, big.error_kind) == ("error", "out-of-memory")
    assert "out of memory on cpu even at batch size 1" in big.error and not big.scores
    assert runs[("org__distil", "custom:pairs-a")].status == "ok"  # the next model still ran
    assert summary.failed
    assert any(line.startswith("harness: org__bert: custom:pairs-a: out-of-memory: ") for line in lines)


def test_model_too_big_to_load_is_an_out_of_memory_result(
    ws: dict, tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sentence_transformers
    import torch

    real = sentence_transformers.SentenceTransformer

    def loader(path: str, *args: Any, **kwargs: Any) -> Any:
        if Path(path).resolve() == tiny_bert_dir.resolve():
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", loader)
    runner.run(options(ws), say=lambda _: None)
    runs = stored(ws["results"])
    big = runs[("org__bert", "custom:pairs-a")]
    assert (big.status, big.error_kind) == ("error", "out-of-memory")
    assert "does not fit" in big.error and "80.00 GiB" in big.error
    assert runs[("org__distil", "custom:pairs-a")].status == "ok"


@pytest.mark.parametrize("bad", ["nan", "inf-one-row"])
def test_non_finite_embeddings_are_an_error_result_not_a_score(
    ws: dict, tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    def poisoned(original: Any, features: dict, **kw: Any) -> Any:
        out = original(features, **kw)
        emb = out["sentence_embedding"].clone()
        if bad == "nan":
            emb[:] = float("nan")
        else:
            emb[0, 0] = float("inf")
        out["sentence_embedding"] = emb
        return out

    inject(monkeypatch, tiny_bert_dir, poisoned)
    summary = runner.run(options(ws, pairs_files=ws["pairs"]), say=lambda _: None)
    runs = stored(ws["results"])
    for task in ("custom:pairs-a", "custom:pairs-b"):
        run = runs[("org__bert", task)]
        assert (run.status, run.error_kind) == ("error", "non-finite")
        assert "NaN/inf" in run.error and not run.scores and run.cosine_similarities is None
        assert runs[("org__distil", task)].status == "ok"
    assert summary.failed
    # nothing non-finite went into the cache either: a re-run tries again
    assert ("org__bert", "custom:pairs-a") not in {
        (o.key, t) for o in runner.run(options(ws), say=lambda _: None).outcomes for t in o.already_stored
    }


def test_constant_embeddings_give_an_error_result_not_nan_scores(
    ws: dict, tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def constant(original: Any, features: dict, **kw: Any) -> Any:
        out = original(features, **kw)
        out["sentence_embedding"] = out["sentence_embedding"] * 0 + 1
        return out

    inject(monkeypatch, tiny_bert_dir, constant)
    runner.run(options(ws), say=lambda _: None)
    run = stored(ws["results"])[("org__bert", "custom:pairs-a")]
    assert (run.status, run.error_kind) == ("error", "non-finite")


def test_score_with_constant_embeddings_is_an_error(
    ws: dict, tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    def constant(original: Any, features: dict, **kw: Any) -> Any:
        out = original(features, **kw)
        out["sentence_embedding"] = out["sentence_embedding"] * 0 + 1
        return out

    inject(monkeypatch, tiny_bert_dir, constant)
    rc = cli.main(["score", str(tiny_bert_dir), str(ws["pairs"][0]), "--json", "--no-cache"])
    out, err = capsys.readouterr()
    assert "NaN" not in out  # JSON has no NaN
    assert rc == 1 and len(err.splitlines()) == 1, (out, err)


# ------------------------------------------------------------------------------------------
# a full disk, a read-only results folder, a store that fails


def under(root: Path, path: Any) -> bool:
    try:
        return Path(os.fsdecode(path)).resolve().is_relative_to(root.resolve())
    except (TypeError, ValueError):
        return False


def fill_disk(monkeypatch: pytest.MonkeyPatch, root: Path, where: str) -> None:
    """Make writing a result under `root` fail the way a full disk or a denied folder does."""
    real_replace, real_mkstemp = os.replace, result_io.tempfile.mkstemp

    def replace(src: Any, dst: Any, **kw: Any) -> None:
        if under(root, dst):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fsdecode(dst))
        real_replace(src, dst, **kw)

    def mkstemp(*args: Any, **kw: Any) -> Any:
        if under(root, kw.get("dir", "")):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(kw["dir"]))
        return real_mkstemp(*args, **kw)

    if where == "replace":
        monkeypatch.setattr(result_io.os, "replace", replace)
    else:
        monkeypatch.setattr(result_io.tempfile, "mkstemp", mkstemp)


@pytest.mark.parametrize(("where", "reason"), [("replace", "No space left on device"),
                                               ("mkstemp", "Permission denied")])  # fmt: skip
def test_full_disk_is_a_clear_error_and_nothing_stored_is_lost(
    ws: dict, monkeypatch: pytest.MonkeyPatch, where: str, reason: str
) -> None:
    runner.run(options(ws), say=lambda _: None)
    before = snapshot(ws["results"])
    assert len(before) == 2

    fill_disk(monkeypatch, ws["results"], where)
    lines: list[str] = []
    summary = runner.run(options(ws, force=True), say=lines.append)
    assert summary.failed
    for outcome in summary.outcomes:  # each model: the failure and why, and the run went on
        assert outcome.status == "error" and outcome.failed == ["custom:pairs-a"]
        assert "cannot write result" in outcome.reason and reason in outcome.reason
        assert str(ws["results"]) in outcome.reason
    assert len([line for line in lines if reason in line]) == 2
    assert snapshot(ws["results"]) == before  # byte-identical
    assert stray_temp_files(ws["results"]) == []


def test_full_disk_cli_prints_the_reason_and_exits_1(
    ws: dict, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    runner.run(options(ws), say=lambda _: None)
    before = snapshot(ws["results"])
    fill_disk(monkeypatch, ws["results"], "replace")
    args = cli_args({**ws, "pairs": ws["pairs"][:1]}, ["org__bert", "org__distil"], "--force")
    assert cli.main(args) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err + out
    for key in ("org__bert", "org__distil"):
        path = ws["results"] / key
        assert _flat(f"harness: {path}") in _flat(err)
        assert f"{key}: error (" in out and "No space left on device" in out
    assert _flat(err).count("cannotwriteresult:Nospaceleftondevice") == 2
    assert snapshot(ws["results"]) == before


def test_full_disk_while_recording_an_unavailable_model_goes_on(
    ws: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner.run(options(ws), say=lambda _: None)
    before = snapshot(ws["results"])
    fill_disk(monkeypatch, ws["results"], "replace")
    summary = runner.run(options(ws, model_names=["org__nowhere", "org__bert"], force=True), say=print)
    outcomes = {o.key: o for o in summary.outcomes}
    assert outcomes["org__bert"].status == "error" and "No space left" in outcomes["org__bert"].reason
    assert snapshot(ws["results"]) == before


def test_store_error_mid_run_is_recorded_and_the_run_goes_on(
    ws: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = store.write_run

    def flaky(root: Path, **kwargs: Any) -> Path:
        if kwargs["model_key"] == "org__bert":
            raise store.StoreError(f"{root}/org__bert: cannot write result: Input/output error")
        return real(root, **kwargs)

    monkeypatch.setattr(store, "write_run", flaky)
    lines: list[str] = []
    summary = runner.run(options(ws, pairs_files=ws["pairs"]), say=lines.append)
    outcomes = {o.key: o for o in summary.outcomes}
    assert summary.failed
    assert outcomes["org__bert"].status == "error" and "Input/output error" in outcomes["org__bert"].reason
    assert outcomes["org__bert"].failed == ["custom:pairs-a", "custom:pairs-b"]
    assert outcomes["org__distil"].status == "ok" and len(outcomes["org__distil"].ok) == 2
    assert sorted(stored(ws["results"])) == [
        ("org__distil", "custom:pairs-a"),
        ("org__distil", "custom:pairs-b"),
    ]
    assert sum("Input/output error" in line for line in lines) == 2


def test_read_only_results_folder_is_one_clear_line_and_nothing_is_lost(
    ws: dict, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    runner.run(options(ws), say=lambda _: None)
    before = snapshot(ws["results"])
    root = ws["results"]
    real_open, real_mkdir = os.open, os.mkdir
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def ro_open(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if flags & writing and under(root, path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(path))
        return real_open(path, flags, mode, dir_fd=dir_fd)

    def ro_mkdir(path: Any, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
        if under(root, path):
            raise (FileExistsError if Path(path).exists() else OSError)(
                errno.EEXIST if Path(path).exists() else errno.EROFS,
                "Read-only file system",
                os.fsdecode(path),
            )
        real_mkdir(path, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", ro_open)
    monkeypatch.setattr(os, "mkdir", ro_mkdir)
    args = cli_args({**ws, "pairs": ws["pairs"][:1]}, ["org__bert", "org__distil"], "--force")
    assert cli.main(args) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err + out
    lines = err.splitlines()
    assert len(lines) == 1 and "Read-only file system" in lines[0] and str(root) in lines[0], err
    monkeypatch.undo()
    assert snapshot(root) == before
    assert stray_temp_files(root) == []
