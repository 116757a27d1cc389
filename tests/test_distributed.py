"""`--executor ray`: same results as the local executor, crashed workers retried, clean errors.

The Ray tests start one local Ray for the module (2 CPUs, no dashboard) and skip
cleanly when Ray is not installed. Worker-side test functions travel by value
(cloudpickle), so the workers need not import this file.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harness import run as runner
from harness import store
from harness.run import distributed

CARD = """---
language:
- en
library_name: sentence-transformers
pipeline_tag: sentence-similarity
tags:
- sentence-transformers
---

# {key}

A tiny random-weight sentence-transformers model for tests.
"""

PAIRS = [
    ("a man is playing the guitar", "a man plays the guitar", 4.8),
    ("a woman is eating food", "a woman is eating", 4.2),
    ("two dogs are running on the beach", "a dog is running on the street", 2.9),
    ("the girl is riding a horse", "a boy is riding a horse", 3.1),
    ("a cat is playing with a ball", "the man is playing piano", 0.4),
    ("children are playing in the street", "a group of children play", 3.6),
    ("three men are running", "the woman is eating food", 0.2),
    ("a man is riding a horse on the beach", "a horse on the beach", 3.3),
    ("the dog is eating", "a dog eats food", 4.4),
    ("people are playing guitar and piano", "a group of people play", 2.5),
    ("a boy plays with the cat", "the girl is running", 0.8),
    ("a woman is playing the piano", "a woman plays piano", 4.9),
]


# ---------------------------------------------------------------- helpers


def _registry(root: Path, models: dict[str, Path]) -> Path:
    reg = root / "registry"
    for key, path in models.items():
        folder = reg / key
        folder.mkdir(parents=True)
        (folder / "README.md").write_text(CARD.format(key=key), encoding="utf-8")
        (folder / "registry.toml").write_text(f"path = {json.dumps(str(path))}\n", encoding="utf-8")
    return reg


def _pairs_file(root: Path) -> Path:
    path = root / "tiny_pairs.csv"
    lines = ["sentence1,sentence2,score"] + [f"{a},{b},{s}" for a, b, s in PAIRS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _options(root: Path, registry: Path, pairs: Path, name: str, keys: list[str]) -> runner.RunOptions:
    return runner.RunOptions(
        languages=[],  # the pairs file is the only task; no MTEB catalog (slow, and data-dependent)
        results_dir=root / f"results-{name}",
        registry_dir=registry,
        model_names=keys,
        pairs_files=[pairs],
        cache_dir=root / f"cache-{name}",
        dtype="fp32",
        device="cpu",
        allow_hub=False,
        bootstrap_resamples=200,
        seed=0,
    )


def _stored(results: Path) -> dict[str, list[store.StoredResult]]:
    return {
        path.relative_to(results).as_posix(): store.load_file(path)
        for path in store.iter_result_files(results)
    }


def _recording(executor: Any, seen: list[tuple[str, str]]) -> Any:
    def run_jobs(jobs: list[runner.ModelJob], **kwargs: Any) -> Any:
        for job, result in zip(jobs, executor(jobs, **kwargs), strict=True):
            seen.append((job.spec.key, result.key))
            yield result

    return run_jobs


def _lines() -> tuple[list[str], Any]:
    lines: list[str] = []
    return lines, lines.append


# Worker-side stand-ins for runner.compute_job (pickled by value).


def _flaky_compute(job: runner.ModelJob, *, marker_dir: str, keys: tuple[str, ...], how: str) -> Any:
    from harness import run as worker_runner

    marker = Path(marker_dir) / f"{job.spec.key}.failed-once"
    if job.spec.key in keys and not marker.exists():
        marker.write_text(str(os.getpid()), encoding="utf-8")
        if how == "exit":
            os._exit(17)  # the worker process dies: a system failure
        raise RuntimeError("flaky infrastructure")  # a RayTaskError that is not a model fault
    return worker_runner.compute_job(job)


def _broken_compute(job: runner.ModelJob) -> Any:
    raise RuntimeError("this node is broken")


def _slow_first_compute(job: runner.ModelJob, *, slow_key: str) -> Any:
    from harness import run as worker_runner

    if job.spec.key == slow_key:
        time.sleep(2.0)
    return worker_runner.JobResult(key=job.spec.key, records=[])


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def ray_local() -> Any:
    ray = pytest.importorskip("ray")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="warning",
    )
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture
def grid(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tiny_bert_dir: Path,
    tiny_distilbert_dir: Path,
    tiny_xlmr_dir: Path,
) -> dict[str, Any]:
    # Options name the cache folder; a per-test HARNESS_CACHE_DIR would only give every
    # test its own runtime_env, so its own (slow-starting) Ray workers.
    monkeypatch.delenv("HARNESS_CACHE_DIR", raising=False)
    models = {"tiny-bert": tiny_bert_dir, "tiny-distilbert": tiny_distilbert_dir, "tiny-xlmr": tiny_xlmr_dir}
    return {
        "root": tmp_path,
        "registry": _registry(tmp_path, models),
        "pairs": _pairs_file(tmp_path),
        "keys": list(models),
    }


# ---------------------------------------------------------------- without Ray


def test_missing_ray_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    options = runner.RunOptions(languages=[], results_dir=tmp_path, registry_dir=tmp_path)
    with pytest.raises(distributed.RayUnavailable) as info:
        distributed.execute_ray([], options=options, say=print)  # raises at the call, not on iteration
    assert str(info.value) == "--executor ray needs Ray: pip install '.[distributed]'"


def test_worker_env_takes_the_libraries_variables_not_the_harness_settings() -> None:
    env = {
        "HF_HUB_OFFLINE": "1",
        "HARNESS_MODELS_DIR": "/m",  # resolved by the driver and carried in each job instead
        "HOME": "/root",
        "PATH": "/bin",
        "TQDM_DISABLE": "0",
    }
    assert distributed.worker_env(env) == {
        "HF_HUB_OFFLINE": "1",
        "TQDM_DISABLE": "0",
    }
    assert distributed.worker_env({})["TQDM_DISABLE"] == "1"


# ---------------------------------------------------------------- on a local Ray


def test_ray_results_match_local(ray_local: Any, grid: dict[str, Any]) -> None:
    root, reg, pairs, keys = grid["root"], grid["registry"], grid["pairs"], grid["keys"]
    local_opts = _options(root, reg, pairs, "local", keys)
    ray_opts = _options(root, reg, pairs, "ray", keys)

    local_summary = runner.run(local_opts, say=lambda _: None)
    order: list[tuple[str, str]] = []
    lines, say = _lines()
    ray_summary = runner.run(ray_opts, say=say, executor=_recording(distributed.execute_ray, order))

    assert [job for job, _ in order] == keys and all(job == res for job, res in order)  # job order
    assert sum("ray [" in line for line in lines) == len(keys)  # one progress line per finished job

    local_files, ray_files = _stored(local_opts.results_dir), _stored(ray_opts.results_dir)
    assert sorted(ray_files) == sorted(local_files) and len(local_files) == len(keys)
    for name, local_runs in local_files.items():
        ray_runs = ray_files[name]
        assert len(ray_runs) == len(local_runs) == 1
        a, b = local_runs[0], ray_runs[0]
        assert (b.model_key, b.revision, b.task_name, b.weights_source) == (
            a.model_key,
            a.revision,
            a.task_name,
            a.weights_source,
        )
        assert a.run.status == b.run.status == "ok"
        assert b.run.identity == a.run.identity and b.run.settings_hash == a.run.settings_hash
        assert b.run.n_pairs == a.run.n_pairs == len(PAIRS)
        assert b.run.scores.keys() == a.run.scores.keys()
        for metric, value in a.run.scores.items():
            assert b.run.scores[metric] == pytest.approx(value, abs=1e-6), metric
        assert b.run.cosine_similarities == pytest.approx(a.run.cosine_similarities, abs=1e-6)
        assert b.run.ci95 == pytest.approx(a.run.ci95, abs=1e-6)
        assert b.run.gold == a.run.gold

    def summary(s: runner.RunSummary) -> list[tuple]:
        return [(o.key, o.status, o.reason, o.ok, o.already_stored, o.failed) for o in s.outcomes]

    assert summary(ray_summary) == summary(local_summary) and not ray_summary.failed
    for a, b in zip(local_summary.outcomes, ray_summary.outcomes, strict=True):
        assert b.scores == pytest.approx(a.scores, abs=1e-6)

    # resume: a second Ray run finds everything stored and submits nothing
    again = runner.run(ray_opts, say=lambda _: None, executor=distributed.execute_ray)
    assert all(o.ok == [] and len(o.already_stored) == 1 for o in again.outcomes)


def test_probe_on_a_cpu_cluster(ray_local: Any) -> None:
    assert distributed.probe_cluster() == {"device": "cpu", "dtype": "fp32"}


@pytest.mark.parametrize("how", ["exit", "raise"])
def test_failed_worker_is_retried_and_run_completes(ray_local: Any, grid: dict[str, Any], how: str) -> None:
    """`exit`: the worker process dies (Ray's max_retries); `raise`: a RayTaskError (our retry)."""
    root, reg, pairs, keys = grid["root"], grid["registry"], grid["pairs"], grid["keys"][:2]
    marker_dir = root / "markers"
    marker_dir.mkdir()
    flaky = functools.partial(_flaky_compute, marker_dir=str(marker_dir), keys=(keys[0],), how=how)
    lines, say = _lines()
    executor = functools.partial(distributed.execute_ray, compute=flaky)
    summary = runner.run(_options(root, reg, pairs, "ray", keys), say=say, executor=executor)

    assert (marker_dir / f"{keys[0]}.failed-once").exists()  # the first attempt did fail
    assert not summary.failed
    assert [(o.key, o.status, len(o.ok)) for o in summary.outcomes] == [(k, "ok", 1) for k in keys]
    retried_by_us = [line for line in lines if "retrying" in line]
    if how == "raise":
        assert len(retried_by_us) == 1 and "flaky infrastructure" in retried_by_us[0]
    else:
        assert retried_by_us == []  # Ray itself re-ran the task (max_retries)
    stored = _stored(root / "results-ray")
    assert len(stored) == len(keys) and all(runs[0].run.status == "ok" for runs in stored.values())


def test_worker_that_keeps_failing_becomes_error_results(ray_local: Any, grid: dict[str, Any]) -> None:
    root, reg, pairs, keys = grid["root"], grid["registry"], grid["pairs"], grid["keys"][:1]
    lines, say = _lines()
    executor = functools.partial(distributed.execute_ray, compute=_broken_compute, retries=1)
    options = _options(root, reg, pairs, "ray", keys)
    summary = runner.run(options, say=say, executor=executor)

    assert summary.failed
    (outcome,) = summary.outcomes
    assert outcome.status == "error" and "worker-failed" in (outcome.reason or "")
    assert sum("retrying" in line for line in lines) == 1
    ((_, runs),) = _stored(options.results_dir).items()  # errors are values: a file, not a gap
    assert runs[0].run.status == "error" and runs[0].run.error_kind == "worker-failed"
    assert "this node is broken" in (runs[0].run.error or "")


def test_results_come_back_in_job_order(ray_local: Any, grid: dict[str, Any]) -> None:
    root, reg, pairs, keys = grid["root"], grid["registry"], grid["pairs"], grid["keys"]
    order: list[tuple[str, str]] = []
    lines, say = _lines()
    slow = functools.partial(_slow_first_compute, slow_key=keys[0])
    executor = _recording(functools.partial(distributed.execute_ray, compute=slow), order)
    runner.run(_options(root, reg, pairs, "ray", keys), say=say, executor=executor)

    assert order == [(k, k) for k in keys]
    finished = [line.split("] ")[1].split(":")[0] for line in lines if "ray [" in line]
    assert finished[0] != keys[0]  # another job finished first, yet the slow one was handed back first


def test_waits_for_a_model_another_run_holds(ray_local: Any, grid: dict[str, Any]) -> None:
    root, reg, pairs, keys = grid["root"], grid["registry"], grid["pairs"], grid["keys"]
    options = _options(root, reg, pairs, "ray", keys)
    holding = threading.Event()

    def other_run() -> None:  # holds the first model's lock for a while, as another run would
        with store.model_lock(options.results_dir, keys[0]):
            holding.set()
            time.sleep(1.5)

    holder = threading.Thread(target=other_run)
    holder.start()
    assert holding.wait(10)
    order: list[tuple[str, str]] = []
    lines, say = _lines()
    slow = functools.partial(_slow_first_compute, slow_key="")
    try:
        runner.run(
            options,
            say=say,
            executor=_recording(functools.partial(distributed.execute_ray, compute=slow), order),
        )
    finally:
        holder.join()
    assert any(f"{keys[0]}: another run holds this model" in line for line in lines)
    assert order == [(k, k) for k in keys]
