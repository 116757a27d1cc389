"""Run the model x task grid on a Ray cluster (``harness run --executor ray``).

The driver (the process running ``harness run``) plans exactly as for a local run:
it reads the registry, loads every task's pairs once, skips what is stored and
builds one :class:`~harness.run.jobs.ModelJob` per model. This module turns those
jobs into Ray tasks, each asking for one GPU and a fresh worker process when the
cluster has GPUs (one CPU otherwise), and hands back one :class:`~harness.run.jobs.JobResult`
per job *in job order*. The driver alone writes result files (``harness.run.driver.run`` calls
``store.write_run``), so atomic writes, merging and resume are the same as in a
local run, and the results are the same too: a worker runs the very
``harness.run.execute.compute_job`` a local run runs.

What a worker needs and where it comes from:

- the pairs: loaded by the driver, put in Ray's object store once per task and
  shared by every job that needs them (no worker reads the data folder or the Hub);
- the weights: ``job.weights.location``, made absolute by the driver. A local
  folder (``--models-dir``, a registry ``path``, the driver's HF cache) must exist
  at the same path on every node (a shared file system); a Hub id is fetched by
  the worker (its own HF cache, or the Hub when online);
- the embedding cache: ``job.cache_dir`` (absolute). Each model gets its own
  SQLite file under ``<cache-dir>/by-model/<key>/``, so no two nodes ever write
  one SQLite file at the same time (SQLite's WAL mode is not safe across hosts);
- the settings: the job carries every value the driver's :mod:`harness.config` resolved (dtype,
  batch size, device, the paths above). ``HARNESS_*`` variables are not forwarded: a worker
  resolves nothing again, so a variable set on a node can never override the driver's choice;
- the environment: the driver's ``HF_*``, ``TRANSFORMERS_*``, ``SENTENCE_TRANSFORMERS_*`` and
  ``TOKENIZERS_*`` variables (the libraries' own settings) travel in the task's ``runtime_env``
  (so ``HF_HUB_OFFLINE=1`` holds on the workers too).

Failures: a worker process that dies (``os._exit``, a segfault, the OOM killer, a
lost node) is re-run by Ray up to ``max_retries`` times; a task that still fails,
or raises (``RayTaskError``: ``compute_job`` never raises for model faults, so this
is an infrastructure fault), is resubmitted by us up to ``retries`` more times.
After that its tasks become error results (``error_kind`` ``worker-failed``), like
any other failure, and the run goes on.

Ray is optional (``pip install '.[distributed]'``) and imported lazily.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness import store
from harness.run.execute import compute_job, still_pending
from harness.run.facts import now_iso
from harness.run.failures import WORKER_FAILED, failed_job
from harness.run.jobs import JobResult, ModelJob
from harness.run.plan import RunOptions
from harness.stderr import route_logger

RAY_MISSING = "--executor ray needs Ray: pip install '.[distributed]'"
# The libraries' own variables; the harness's settings travel resolved, in each job.
ENV_PREFIXES = ("HF_", "TRANSFORMERS_", "SENTENCE_TRANSFORMERS_", "TOKENIZERS_")
MAX_RETRIES = 3  # Ray re-runs a task whose worker process died this many times
RETRIES = 2  # we resubmit a task that still failed (or raised) this many more times
MAX_IN_FLIGHT = 256  # jobs submitted at once; each holds a model lock (an open file) in the driver
POLL_S = 1.0  # how often to look again at models another run holds the lock of

ComputeFn = Callable[[ModelJob], JobResult]
Reporter = Callable[[str], None]


class RayUnavailable(RuntimeError):
    """Ray is not installed (or not importable); the message says how to install it."""


def require_ray() -> Any:
    """Import and return the ``ray`` module, or raise RayUnavailable with a one-line hint."""
    try:
        import ray
    except ImportError:
        raise RayUnavailable(RAY_MISSING) from None
    return ray


def worker_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The driver's variables that workers must see (Hub mode, the libraries' caches and settings)."""
    env = os.environ if environ is None else environ
    chosen = {k: v for k, v in sorted(env.items()) if k.startswith(ENV_PREFIXES)}
    chosen.setdefault("TQDM_DISABLE", env.get("TQDM_DISABLE", "1"))  # no worker progress bars in the log
    return chosen


def connect(address: str | None = None) -> bool:
    """Connect to Ray unless already connected; True when this call did connect.

    ``address`` None starts a local Ray (or joins ``$RAY_ADDRESS`` when set);
    ``auto`` joins the cluster this node belongs to; ``ray://host:10001`` uses Ray Client.
    """
    import logging

    ray = require_ray()
    if ray.is_initialized():
        return False
    # No job-wide runtime_env here: every task carries its own (merged by Ray with the job's,
    # e.g. one given to `ray job submit --runtime-env-json`).
    check_reachable(address or os.environ.get("RAY_ADDRESS"))
    # Ray's "ray" logger prints through its own handler (not propagated): its lines become harness:
    # lines, before init (what init itself says) and after (init resets the handler's format).
    kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "logging_format": "harness: ray: %(message)s"}
    if address is None and not os.environ.get("RAY_ADDRESS"):
        kwargs["include_dashboard"] = False  # a throw-away local cluster needs no dashboard
    route_logger("ray", "ray: ")
    ray.init(address=address, **kwargs)
    route_logger("ray", "ray: ")
    return True


CONNECT_DEADLINE_S = 10.0


def check_reachable(address: str | None, deadline_s: float = CONNECT_DEADLINE_S) -> None:
    """RayUnavailable (one line) when nothing answers at a ``host:port`` or ``ray://host:port`` address
    within `deadline_s`: Ray itself would retry for ever, printing its own connection errors. ``None``
    (a local Ray) and ``auto`` (the node's own cluster) are Ray's to find."""
    import socket

    if not address or address in ("auto", "local"):
        return
    hostport = address.removeprefix("ray://").rsplit("/", 1)[0]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        return  # not host:port: Ray says what it makes of it
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=deadline_s):
            return
    except OSError as exc:
        why = exc.strerror or type(exc).__name__.replace("Error", " error").lower()
        raise RayUnavailable(
            f"--ray-address {address}: no Ray cluster answers there within {deadline_s:g} s ({why}); "
            "start one there (ray start --head) or leave --ray-address out for a local Ray"
        ) from None


def disconnect() -> None:
    """Leave Ray (stopping a local Ray this process started); a no-op when not connected."""
    import sys

    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


def cluster_gpus() -> float:
    return float(require_ray().cluster_resources().get("GPU", 0))


def probe_cluster(address: str | None = None, dtype: str = "auto") -> dict[str, str]:
    """The device of the cluster's workers and what the requested ``dtype`` means there (connects
    if needed).

    The driver may have no GPU while the workers do; a run's identity includes its
    dtype, so ``auto`` (and a bf16 the GPU may not support) must be resolved where the
    work happens. On a cluster with GPUs this runs one tiny task on a GPU worker and asks it.
    """
    ray = require_ray()
    connect(address)
    if cluster_gpus() <= 0:
        return {"device": "cpu", "dtype": "fp32"}
    probe = remote_function(ray, _probe_worker, gpus=1, max_retries=MAX_RETRIES)
    return ray.get(probe.remote(dtype))


def remote_function(ray: Any, fn: Callable[..., Any], *, gpus: float, max_retries: int) -> Any:
    """``fn`` as a Ray task on one GPU (one CPU on a cluster without GPUs), in the driver's environment.

    A GPU task gets a fresh worker process (``max_calls=1``): a reused one would stay on the GPU
    it first initialised and keep the previous model's memory (``.options()`` does not set it)."""
    resources: dict[str, Any] = {"num_gpus": 1, "max_calls": 1} if gpus > 0 else {"num_cpus": 1}
    return ray.remote(
        max_retries=max(0, max_retries),
        retry_exceptions=False,
        runtime_env={"env_vars": worker_env()},
        **resources,
    )(fn)


def _probe_worker(dtype: str = "auto") -> dict[str, str]:
    from harness.encode import pick_device, resolve_dtype

    device = pick_device()
    return {"device": device, "dtype": resolve_dtype(dtype, device)}


# ---------------------------------------------------------------- the executor


def execute_ray(
    jobs: list[ModelJob],
    *,
    options: RunOptions,
    say: Reporter,
    progress: Any = None,
    address: str | None = None,
    max_retries: int = MAX_RETRIES,
    retries: int = RETRIES,
    max_in_flight: int = MAX_IN_FLIGHT,
    compute: ComputeFn | None = None,
) -> Iterator[JobResult]:
    """Run jobs as Ray tasks; yield one JobResult per job, in job order.

    Every job is submitted up front (at most ``max_in_flight`` at a time); results
    are buffered and handed back in order, and each finished job is reported
    through ``say`` as it finishes. A Ray connection this call opens is closed at
    the end. ``compute`` replaces ``compute_job`` (tests); it must be
    picklable and importable on the workers.
    """
    ray = require_ray()  # fail before the caller starts iterating
    return _execute(
        ray,
        list(jobs),
        options=options,
        say=say,
        progress=progress,
        address=address,
        max_retries=max_retries,
        retries=retries,
        max_in_flight=max(1, max_in_flight),
        compute=compute,
    )


def _execute(
    ray: Any,
    jobs: list[ModelJob],
    *,
    options: RunOptions,
    say: Reporter,
    progress: Any,
    address: str | None,
    max_retries: int,
    retries: int,
    max_in_flight: int,
    compute: ComputeFn | None,
) -> Iterator[JobResult]:
    if not jobs:
        return
    started_here = connect(address)
    bar = None
    locks: dict[int, Any] = {}
    refs: dict[Any, int] = {}
    try:
        gpus = cluster_gpus()
        _warn_device_mismatch(jobs, gpus, say)
        remote = remote_function(ray, _run_job, gpus=gpus, max_retries=max_retries)
        where = f"{gpus:g} GPU(s)" if gpus > 0 else f"{ray.cluster_resources().get('CPU', 0):g} CPU(s)"
        say(f"harness: ray: {len(jobs)} model job(s) on a cluster with {where}, one {_unit(gpus)} each")
        if progress is not None:
            bar = progress.add_task("ray: models", total=len(jobs))

        pairs_refs: dict[str, Any] = {}  # each task's pairs go into the object store once
        shipped: dict[int, ModelJob] = {}
        attempts = [0] * len(jobs)
        submitted_at = [0.0] * len(jobs)
        done: dict[int, JobResult] = {}
        waiting = deque(range(len(jobs)))  # not yet submitted, in job order
        told_contended: set[int] = set()
        finished = 0
        next_out = 0

        def submit(idx: int) -> None:
            job = shipped[idx]
            needed = {tid: pairs_refs[tid] for tid in job.pairs}
            attempts[idx] += 1
            submitted_at[idx] = time.perf_counter()
            refs[remote.remote(replace(job, pairs={}), needed, compute)] = idx

        while next_out < len(jobs):
            contended: deque[int] = deque()
            while waiting and len(refs) < max_in_flight:
                idx = waiting.popleft()
                lock = store.model_lock(options.results_dir, jobs[idx].spec.key)
                if not _try_acquire(lock):
                    contended.append(idx)  # another run is on this model: look again later
                    if idx not in told_contended:
                        told_contended.add(idx)
                        say(f"harness: {jobs[idx].spec.key}: another run holds this model; waiting for it")
                    continue
                locks[idx] = lock
                job = still_pending(jobs[idx], options, say)
                if not job.tasks:
                    done[idx] = JobResult(key=job.spec.key, records=[])
                    finished += 1
                    if bar is not None:
                        progress.advance(bar, 1)
                    continue
                shipped[idx] = _for_workers(job, gpus > 0)
                for tid, pairs in job.pairs.items():
                    if tid not in pairs_refs:
                        pairs_refs[tid] = ray.put(pairs)
                submit(idx)
            waiting.extendleft(reversed(contended))

            while next_out in done:  # hand back, in job order, whatever is ready
                result = done.pop(next_out)
                yield result  # the driver stores it before we go on
                _release(locks.pop(next_out, None))
                next_out += 1
            if next_out >= len(jobs):
                break

            if not refs:
                time.sleep(POLL_S)  # only models held by another run are left
                continue
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=POLL_S if waiting else None)
            for ref in ready:
                idx = refs.pop(ref)
                job = shipped[idx]
                try:
                    result = ray.get(ref)
                except ray.exceptions.TaskCancelledError:
                    raise
                except ray.exceptions.RayError as exc:
                    kind, message = describe_failure(exc)
                    if attempts[idx] <= retries:
                        say(
                            f"harness: {job.spec.key}: {kind} ({message}); "
                            f"retrying (attempt {attempts[idx] + 1} of {retries + 1})"
                        )
                        submit(idx)
                        continue
                    now = now_iso()
                    result = failed_job(
                        job, WORKER_FAILED, f"{kind}: {message}", started_at=now, finished_at=now
                    )
                done[idx] = result
                finished += 1
                seconds = time.perf_counter() - submitted_at[idx]
                say(f"harness: ray [{finished}/{len(jobs)}] {job.spec.key}: {_result_line(result, seconds)}")
                if bar is not None:
                    progress.advance(bar, 1)
    finally:
        for ref in refs:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        for lock in locks.values():
            _release(lock)
        if bar is not None:
            progress.remove_task(bar)
        if started_here:
            ray.shutdown()


def _run_job(job: ModelJob, pairs_refs: dict[str, Any], compute: ComputeFn | None) -> JobResult:
    """The Ray task body: fetch the shared pairs, then compute exactly as a local run does."""
    import ray

    tids = list(pairs_refs)
    values = ray.get([pairs_refs[t] for t in tids]) if tids else []
    job = replace(job, pairs=dict(zip(tids, values, strict=True)))
    return (compute or compute_job)(job)


# ---------------------------------------------------------------- helpers


def _unit(gpus: float) -> str:
    return "GPU" if gpus > 0 else "CPU"


def _try_acquire(lock: Any) -> bool:
    from filelock import Timeout

    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    return True


def _release(lock: Any) -> None:
    if lock is not None:
        with contextlib.suppress(Exception):
            lock.release()


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path.expanduser()))


def _for_workers(job: ModelJob, gpu: bool) -> ModelJob:
    """Make the job mean the same on any node: absolute paths, the task's own GPU, a per-model cache."""
    weights = job.weights
    if weights.local_dir is not None:
        local = _absolute(weights.local_dir)
        weights = replace(weights, location=str(local), local_dir=local)
    cache_dir = job.cache_dir
    if cache_dir is not None:
        cache_dir = _absolute(cache_dir) / "by-model" / _cache_folder(job.spec.key)
    device = job.device
    if gpu and device.startswith("cuda:"):
        device = "cuda"  # Ray makes the task's one GPU the only visible one
    return replace(job, weights=weights, cache_dir=cache_dir, device=device)


def _cache_folder(key: str) -> str:
    try:
        return store.safe_component(key, "model key")
    except store.StoreError:
        return "key-" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _warn_device_mismatch(jobs: list[ModelJob], gpus: float, say: Reporter) -> None:
    devices = {job.device.split(":")[0] for job in jobs}
    if gpus > 0 and devices == {"cpu"}:
        say("harness: ray: the cluster has GPUs but the run's device is cpu (pass --device cuda)")
    elif gpus <= 0 and "cuda" in devices:
        say("harness: ray: the run's device is cuda but the cluster has no GPU; the jobs will fail")


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """(kind, one-line message) for an exception that came out of ray.get."""
    import ray

    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = exc.cause if isinstance(exc.cause, BaseException) else None
        if cause is not None and not isinstance(cause, ray.exceptions.RayError):
            text = str(cause).strip().splitlines()
            return "task-raised", f"{type(cause).__name__}: {text[0]}" if text else type(cause).__name__
    text = str(exc).strip().splitlines()
    first = next((line.strip() for line in text if line.strip()), "")
    name = type(exc).__name__
    kind = {
        "WorkerCrashedError": "worker-crashed",
        "NodeDiedError": "node-died",
        "OutOfMemoryError": "out-of-memory",
        "ObjectLostError": "object-lost",
        "OwnerDiedError": "object-lost",
    }.get(name, "ray-error")
    return kind, f"{name}: {first}" if first else name


def _result_line(result: JobResult, seconds: float) -> str:
    ok = sum(1 for _, record in result.records if record.status == "ok")
    line = f"{ok}/{len(result.records)} task(s) ok in {seconds:.1f} s"
    if result.error is not None:
        line += f" ({result.error[0]}: {result.error[1]})"
    return line
