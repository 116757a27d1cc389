"""Plan and run the model x task grid: resume, isolate failures, store results.

One pass per model: the union of unique sentences of every pending task is
embedded once (through the embedding cache), then each task is scored from those
vectors. A model that cannot be found, loaded or encoded becomes error results
for its pending tasks; the run goes on with the next model.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from harness import store
from harness.records import Finding, ModelSpec, RunSettings, Sourced, StsPairs, StsTask


@dataclass(frozen=True)
class RunOptions:
    languages: list[str]
    results_dir: Path
    registry_dir: Path
    model_names: list[str] = field(default_factory=list)
    task_names: list[str] = field(default_factory=list)
    pairs_files: list[Path] = field(default_factory=list)
    data_dir: Path | None = None
    models_dirs: list[Path] = field(default_factory=list)
    cache_dir: Path | None = None
    use_cache: bool = True
    dtype: str = "auto"
    batch_size: int | str = "auto"
    device: str | None = None
    splits: list[str] = field(default_factory=lambda: ["test"])
    force: bool = False
    trust_remote_code: bool = False
    allow_hub: bool | None = None  # None: only when the Hub is not switched off by HF_HUB_OFFLINE
    bootstrap_resamples: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class Weights:
    """Where a model's weights are, and the revision that names them."""

    location: str  # a local folder, or a Hub id
    source: str  # models-dir, registry-path, hf-cache, hub
    revision: str
    local_dir: Path | None


class WeightsUnavailable(Exception):
    pass


@dataclass(frozen=True)
class ModelPlan:
    spec: ModelSpec
    tasks: list[StsTask]
    explicit: bool  # named with --model


@dataclass
class ModelOutcome:
    key: str
    name: str
    ok: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    status: str = "ok"  # ok, unavailable, error
    reason: str | None = None
    scores: dict[str, float] = field(default_factory=dict)


@dataclass
class RunSummary:
    outcomes: list[ModelOutcome] = field(default_factory=list)
    unavailable_tasks: list[str] = field(default_factory=list)
    data_errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.data_errors) or any(o.status == "error" or o.failed for o in self.outcomes)


# ---------------------------------------------------------------- environment facts


def hub_allowed(option: bool | None) -> bool:
    if option is not None:
        return option
    from harness.hub import offline_reason

    return offline_reason() is None


def models_dirs_from(option: Iterable[Path]) -> list[Path]:
    dirs = list(option)
    env = os.environ.get("HARNESS_MODELS_DIR")
    if env:
        dirs.extend(Path(p) for p in env.split(os.pathsep) if p)
    return dirs


@cache
def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for name in [
        "harness",
        "torch",
        "transformers",
        "sentence-transformers",
        "tokenizers",
        "mteb",
        "numpy",
        "scipy",
    ]:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@cache
def git_commit() -> str | None:
    repo = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def hardware_info(device: str) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "device": device,
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
        info["cuda"] = torch.version.cuda
    return info


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# ---------------------------------------------------------------- model selection


def adhoc_spec(name: str) -> ModelSpec | None:
    """A spec for a Hub id that is not in the registry (the user named it explicitly)."""
    from harness.cards import KEY_RE, classify_model_id

    key = name.lower().replace("/", "__")
    if classify_model_id(name)[0] != "ok" or not KEY_RE.match(key) or ".." in key:
        return None
    return ModelSpec(
        key=key,
        source="(command line)",
        model_id=Sourced(value=name, source="command-line"),
        warnings=[Finding(code="not-in-registry", message=f"{name} has no card in the registry")],
    )


def select_models(
    specs: list[ModelSpec], options: RunOptions
) -> tuple[list[tuple[ModelSpec, bool]], list[str]]:
    """Models to run, each with whether it was named explicitly; plus names that matched nothing."""
    from harness.registry import find_model

    if options.model_names:
        chosen: list[tuple[ModelSpec, bool]] = []
        missing: list[str] = []
        for name in options.model_names:
            spec = find_model(specs, name) or adhoc_spec(name)
            if spec is None:
                missing.append(name)
            elif spec.key not in {s.key for s, _ in chosen}:
                chosen.append((spec, True))
        return chosen, missing
    chosen = [
        (spec, False)
        for spec in specs
        if not spec.errors and any(spec.covers(lang) for lang in options.languages)
    ]
    return chosen, []


def select_tasks(options: RunOptions, errors: list[str] | None = None) -> list[StsTask]:
    """Catalog tasks plus --pairs files. A bad pairs file goes to `errors` and the rest still run."""
    from harness import tasks as tasks_mod

    data_dir = tasks_mod.data_dir_from(options.data_dir)
    selected: list[StsTask] = []
    if options.languages or options.task_names:
        selected = tasks_mod.catalog(
            languages=options.languages or None,
            data_dir=data_dir,
            splits=options.splits,
            names=options.task_names or None,
        )
    seen: dict[str, Path] = {}
    for path in options.pairs_files:
        try:
            task = tasks_mod.pairs_task(path, language=options.languages[0] if options.languages else None)
        except tasks_mod.DataError as exc:
            if errors is None:
                raise
            errors.append(str(exc))
            continue
        if task.name in seen:  # both would be stored as one task; refuse rather than overwrite
            message = f"{path}: same task name {task.name!r} as {seen[task.name]}; rename one of the files"
            if errors is None:
                raise tasks_mod.DataError(message)
            errors.append(message)
            continue
        seen[task.name] = path
        selected.append(task)
    return selected


# ---------------------------------------------------------------- weights


def _subfolder(parent: Path, names: list[str]) -> Path | None:
    if not parent.is_dir():
        return None
    wanted = {n.lower() for n in names}
    for child in sorted(parent.iterdir()):
        if child.is_dir() and child.name.lower() in wanted:
            return child
    return None


def locate_weights(spec: ModelSpec, models_dirs: list[Path], allow_hub: bool) -> Weights:
    """Find weights: --models-dir, the registry's local path, the HF cache, then the Hub."""
    from harness.encode import weights_revision

    names = [spec.key]
    model_id = spec.model_id.value
    if model_id:
        names.append(model_id.replace("/", "__"))
    for parent in models_dirs:
        found = _subfolder(parent, names)
        if found is not None:
            return Weights(str(found), "models-dir", weights_revision(found), found)
    if spec.local_path.value:
        local = Path(spec.local_path.value)
        if local.is_dir():
            return Weights(str(local), "registry-path", weights_revision(local), local)
    if model_id:
        cached = _hf_cache_snapshot(model_id, spec.revision.value)
        if cached is not None:
            return Weights(str(cached), "hf-cache", cached.name, cached)
        if allow_hub:
            revision = spec.revision.value or _hub_revision(model_id)
            return Weights(model_id, "hub", revision, None)
    searched = ", ".join(str(p) for p in models_dirs) or "no --models-dir"
    if not model_id:
        raise WeightsUnavailable(f"no weights found (searched {searched}) and the card has no Hub id")
    raise WeightsUnavailable(
        f"no weights found (searched {searched}, the Hugging Face cache) and the Hub is offline"
    )


def _hf_cache_snapshot(model_id: str, revision: str | None) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(model_id, "modules.json", revision=revision)
    except Exception:
        return None
    if isinstance(hit, str):
        return Path(hit).parent
    return None


def _hub_revision(model_id: str) -> str:
    try:
        from huggingface_hub import HfApi

        sha = HfApi().model_info(model_id).sha
    except Exception as exc:
        raise WeightsUnavailable(f"{model_id}: not reachable on the Hub ({type(exc).__name__})") from None
    return sha or "main"


# ---------------------------------------------------------------- settings


def settings_for(
    spec: ModelSpec, dtype: str, trust_remote_code: bool, *, files_checked: bool = True
) -> RunSettings:
    """The settings a model runs with. max_seq_length is applied only when the model's own files
    were read (crosscheck makes them authoritative); a Hub model keeps its own configuration
    rather than a number a card may have wrong, and its revision pins that configuration."""
    return RunSettings(
        dtype=dtype,  # type: ignore[arg-type]
        max_seq_length=spec.max_seq_length.value if files_checked else None,
        pooling=spec.pooling.value,
        normalize=bool(spec.normalize.value),
        trust_remote_code=trust_remote_code,
    )


# ---------------------------------------------------------------- the run


Reporter = Callable[[str], None]


@dataclass(frozen=True)
class ModelJob:
    """One model's pending work: everything a worker (local or remote) needs, nothing it must look up."""

    spec: ModelSpec
    weights: Weights
    settings: RunSettings
    tasks: list[StsTask]
    pairs: dict[str, StsPairs]  # by task id, only this job's tasks
    identities: dict[str, str]  # by task id
    device: str
    batch_size: int | str
    bootstrap_resamples: int
    seed: int
    cache_dir: Path | None  # None: no embedding cache


@dataclass(frozen=True)
class JobResult:
    """What a worker sends back: the run records to store, in task order, and a model-level failure if any."""

    key: str
    records: list[tuple[StsTask, dict]]
    error: tuple[str, str] | None = None  # (kind, message)


def run(
    options: RunOptions, *, say: Reporter = print, progress: Any = None, executor: Any = None
) -> RunSummary:
    """Plan, execute, store. Every outcome ends up in a result file or in the summary.

    `executor` maps a list of ModelJobs to JobResults (see `execute_local`); results
    are always written here, by this one process, so every executor shares the
    same atomic-write and resume rules.
    """
    from harness.encode import pick_device, resolve_dtype
    from harness.registry import load_registry
    from harness.tasks import DataError, TaskUnavailable, load_pairs

    _quiet_libraries()
    summary = RunSummary()
    specs = load_registry(options.registry_dir)
    models, missing = select_models(specs, options)
    for name in missing:
        say(f"harness: --model {name}: not in the registry and not a Hub id (org/name)")
        summary.outcomes.append(ModelOutcome(key=name, name=name, status="error", reason="unknown model"))
    try:
        tasks = select_tasks(options, summary.data_errors)
    except (TaskUnavailable, DataError, ValueError) as exc:
        summary.data_errors.append(str(exc))
        say(f"harness: {exc}")
        return summary
    for line in summary.data_errors:
        say(f"harness: {line}")
    if not tasks:
        wanted = ", ".join(options.languages + options.task_names) or "the selection"
        summary.data_errors.append(f"no STS task matches {wanted}")
        say(f"harness: no STS task matches {wanted}")
        return summary

    allow_hub = hub_allowed(options.allow_hub)
    n_selection_errors = len(summary.data_errors)
    pairs: dict[str, StsPairs] = {}  # each task's pairs are read once for all models
    for task in tasks:
        try:
            # tasks.load_pairs checks the Hub itself, so its message says why it is offline
            pairs[task_id(task)] = load_pairs(task, allow_hub=options.allow_hub is not False)
        except TaskUnavailable as exc:
            summary.unavailable_tasks.append(f"unavailable: {exc}")  # the message names task and split
        except DataError as exc:
            summary.data_errors.append(f"{task.label} ({task.split}): {exc}")
    for line in summary.unavailable_tasks + summary.data_errors[n_selection_errors:]:
        say(f"harness: {line}")
    runnable = [t for t in tasks if task_id(t) in pairs]

    device = options.device or pick_device()
    dtype = resolve_dtype(options.dtype, device)
    models_dirs = models_dirs_from(options.models_dirs)
    jobs: list[ModelJob] = []
    outcomes: dict[str, ModelOutcome] = {}
    for spec, explicit in models:
        outcome = ModelOutcome(key=spec.key, name=spec.display_name)
        outcomes[spec.key] = outcome
        summary.outcomes.append(outcome)
        job = _plan_model(
            spec, explicit, runnable, pairs, outcome, options, device, dtype, models_dirs, allow_hub
        )
        if job is not None:
            jobs.append(job)
        elif outcome.reason:
            say(f"harness: {spec.key}: {outcome.status}: {outcome.reason}")

    execute = executor or execute_local
    for job, result in zip(jobs, execute(jobs, options=options, say=say, progress=progress), strict=True):
        if result.key != job.spec.key:  # an executor must answer in job order
            raise RuntimeError(f"executor returned {result.key} for {job.spec.key}")
        _store_job_result(job, result, outcomes[job.spec.key], options, say)
    return summary


def _quiet_libraries() -> None:
    """Our progress bar and summary say what matters; the libraries' own bars would interleave."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def task_id(task: StsTask) -> str:
    return f"{task.name}|{task.subset}|{task.split}"


def _off_card(spec: ModelSpec, task: StsTask) -> bool:
    return not spec.is_multilingual and any(lang not in spec.language_list for lang in task.languages)


def _plan_model(
    spec: ModelSpec,
    explicit: bool,
    tasks: list[StsTask],
    pairs: dict[str, StsPairs],
    outcome: ModelOutcome,
    options: RunOptions,
    device: str,
    dtype: str,
    models_dirs: list[Path],
    allow_hub: bool,
) -> ModelJob | None:
    """A job for the model's tasks that are not stored yet, or None (unavailable, nothing to do)."""
    from harness.cards import crosscheck

    my_tasks = [t for t in tasks if explicit or not _off_card(spec, t)]
    if not my_tasks:
        outcome.status, outcome.reason = "skipped", "no selected task in its languages"
        return None
    from harness.encode import ModelLoadError

    try:
        weights = locate_weights(spec, models_dirs, allow_hub)
    except (WeightsUnavailable, ModelLoadError) as exc:
        unavailable = isinstance(exc, WeightsUnavailable)
        outcome.status, outcome.reason = ("unavailable" if unavailable else "error"), str(exc)
        settings = settings_for(spec, dtype, options.trust_remote_code)
        for task in my_tasks:
            identity = _identity(store.NO_REVISION, task, settings)
            record = _base_record(
                task,
                spec,
                identity,
                settings,
                status="unavailable" if unavailable else "error",
                error=str(exc),
                error_kind="weights-unavailable" if unavailable else "load-failed",
                started_at=now_iso(),
            )
            try:
                _write(options, spec, store.NO_REVISION, None, task, record)
            except store.StoreError as write_exc:
                outcome.status, outcome.reason = "error", str(write_exc)
                outcome.failed.append(task.label)
            else:
                if not unavailable:
                    outcome.failed.append(task.label)
        return None

    if weights.local_dir is not None:
        spec = crosscheck(spec, weights.local_dir)  # the model's own files are authoritative for the run
    settings = settings_for(
        spec, dtype, options.trust_remote_code, files_checked=weights.local_dir is not None
    )
    identities = {task_id(t): _identity(weights.revision, t, settings) for t in my_tasks}
    done = (
        set()
        if options.force
        else store.completed_identities(options.results_dir, spec.key, weights.revision)
    )
    pending = [t for t in my_tasks if identities[task_id(t)] not in done]
    outcome.skipped = [t.label for t in my_tasks if identities[task_id(t)] in done]
    if not pending:
        outcome.reason = f"all {len(my_tasks)} task(s) already stored (--force recomputes)"
        return None
    return ModelJob(
        spec=spec,
        weights=weights,
        settings=settings,
        tasks=pending,
        pairs={task_id(t): pairs[task_id(t)] for t in pending},
        identities={task_id(t): identities[task_id(t)] for t in pending},
        device=device,
        batch_size=options.batch_size,
        bootstrap_resamples=options.bootstrap_resamples,
        seed=options.seed,
        cache_dir=(options.cache_dir or _default_cache_dir()) if options.use_cache else None,
    )


def _default_cache_dir() -> Path:
    from harness.encode import default_cache_dir

    return default_cache_dir()


def _identity(revision: str, task: StsTask, settings: RunSettings) -> str:
    return store.run_identity(
        revision=revision,
        task_name=task.name,
        subset=task.subset,
        split=task.split,
        data_revision=task.revision,
        settings_hash=settings.identity_hash(),
    )


def _base_record(task: StsTask, spec: ModelSpec, identity: str, settings: RunSettings, **extra: Any) -> dict:
    return {
        "split": task.split,
        "subset": task.subset,
        "identity": identity,
        "languages": task.mteb_languages or task.languages,
        "settings": settings.model_dump(),
        "settings_hash": settings.identity_hash(),
        "data_revision": task.revision,
        "data_source": ", ".join(task.local_files) or task.hf_dataset,
        "off_card_language": _off_card(spec, task),
        "versions": library_versions(),
        "git_commit": git_commit(),
        **extra,
    }


def _write(
    options: RunOptions,
    spec: ModelSpec,
    revision: str,
    weights_source: str | None,
    task: StsTask,
    record: dict,
) -> None:
    store.write_run(
        options.results_dir,
        model_key=spec.key,
        model_id=spec.model_id.value,
        revision=revision,
        task_name=task.name,
        mteb_version=library_versions().get("mteb"),
        dataset_revision=task.mteb_revision or task.revision,
        weights_source=weights_source,
        run=store.RunRecord.model_validate(record),
    )


def _store_job_result(
    job: ModelJob, result: JobResult, outcome: ModelOutcome, options: RunOptions, say: Reporter
) -> None:
    for task, record in result.records:
        try:
            _write(options, job.spec, job.weights.revision, job.weights.source, task, record)
        except store.StoreError as exc:
            outcome.failed.append(task.label)
            outcome.status, outcome.reason = "error", str(exc)
            say(f"harness: {exc}")
            continue
        if record["status"] == "ok":
            outcome.ok.append(task.label)
            outcome.scores[task.label] = record["scores"]["main_score"]
        else:
            outcome.failed.append(task.label)
            say(f"harness: {job.spec.key}: {task.label}: {record['error_kind']}: {record['error']}")
    if result.error is not None:
        outcome.status, outcome.reason = "error", f"{result.error[0]}: {result.error[1]}"


# ---------------------------------------------------------------- executing jobs


def execute_local(
    jobs: list[ModelJob], *, options: RunOptions, say: Reporter, progress: Any
) -> Iterator[JobResult]:
    """Run jobs one after the other in this process, one model in memory at a time.

    A per-model lock keeps two runs sharing a results folder from encoding the
    same model at once; whoever waits re-checks what is stored before working.
    """
    for job in jobs:
        with store.model_lock(options.results_dir, job.spec.key):
            done = (
                set()
                if options.force
                else store.completed_identities(options.results_dir, job.spec.key, job.weights.revision)
            )
            still = [t for t in job.tasks if job.identities[task_id(t)] not in done]
            if len(still) < len(job.tasks):
                stored_meanwhile = len(job.tasks) - len(still)
                say(f"harness: {job.spec.key}: {stored_meanwhile} task(s) stored meanwhile by another run")
            job = replace(job, tasks=still)
            yield compute_job(job, progress=progress)


def compute_job(job: ModelJob, *, progress: Any = None) -> JobResult:
    """Embed the union of the job's sentences once, then score every task. Never raises for model faults."""
    import numpy as np

    from harness import encode, evaluate

    started = now_iso()
    texts: list[str] = []
    for task in job.tasks:
        p = job.pairs[task_id(task)]
        texts.extend(p.sentence1)
        texts.extend(p.sentence2)
    if not texts:
        return JobResult(key=job.spec.key, records=[])
    fingerprint = encode.vector_fingerprint(
        job.spec.model_id.value or job.spec.key, job.weights.revision, job.settings
    )
    loaded: list[Any] = []

    def loader() -> Any:
        if not loaded:
            loaded.append(
                encode.load_model(
                    job.weights.location,
                    device=job.device,
                    dtype=job.settings.dtype,
                    trust_remote_code=job.settings.trust_remote_code,
                    max_seq_length=job.settings.max_seq_length,
                )
            )
        return loaded[0]

    cache = encode.EmbeddingCache(job.cache_dir) if job.cache_dir is not None else None
    bar = progress.add_task(job.spec.key, total=len(set(texts))) if progress is not None else None
    try:
        vectors, stats = encode.embed(
            texts,
            model_loader=loader,
            fingerprint=fingerprint,
            cache=cache,
            batch_size=job.batch_size,
            progress=(lambda n: progress.advance(bar, n)) if progress is not None else None,
        )
    except Exception as exc:  # a model failure becomes error results for its tasks; the run goes on
        kind, message = classify_failure(exc)
        records = [
            (
                task,
                _base_record(
                    task,
                    job.spec,
                    job.identities[task_id(task)],
                    job.settings,
                    status="error",
                    error=message,
                    error_kind=kind,
                    started_at=started,
                    finished_at=now_iso(),
                    hardware=hardware_info(job.device),
                ),
            )
            for task in job.tasks
        ]
        return JobResult(key=job.spec.key, records=records, error=(kind, message))
    finally:
        if cache is not None:
            cache.close()
        if progress is not None and bar is not None:
            progress.remove_task(bar)
        loaded.clear()

    index = {text: i for i, text in enumerate(texts)}
    encode_facts = {
        "device": stats.device,
        "dtype": stats.dtype,
        "n_texts": stats.n_texts,
        "n_unique": stats.n_unique,
        "n_cache_hits": stats.n_cache_hits,
        "n_encoded": stats.n_encoded,
        "encode_seconds": stats.encode_seconds,
        "sentences_per_second": stats.sentences_per_second,
        "peak_memory_bytes": stats.peak_memory_bytes,
        "batch_size": stats.batch_size_final,
        "n_tokens": stats.n_tokens,
        "n_padded_tokens": stats.n_padded_tokens,
        "model_load_seconds": stats.model_load_seconds,
        "tasks_sharing_the_pass": len(job.tasks),
    }
    hardware = hardware_info(stats.device)
    records: list[tuple[StsTask, dict]] = []
    for task in job.tasks:
        t0 = time.perf_counter()
        p = job.pairs[task_id(task)]
        emb1 = vectors[[index[s] for s in p.sentence1]]
        emb2 = vectors[[index[s] for s in p.sentence2]]
        common = {"started_at": started, "hardware": hardware, "encode": encode_facts, "n_pairs": len(p)}
        identity = job.identities[task_id(task)]
        try:
            scores, sims, (lo, hi) = evaluate.score_embeddings(
                emb1, emb2, p.gold, n_resamples=job.bootstrap_resamples, seed=job.seed
            )
        except Exception as exc:
            kind, message = classify_failure(exc)
            records.append(
                (
                    task,
                    _base_record(
                        task,
                        job.spec,
                        identity,
                        job.settings,
                        status="error",
                        error=message,
                        error_kind=kind,
                        finished_at=now_iso(),
                        **common,
                    ),
                )
            )
            continue
        share_of_encode = stats.encode_seconds * len(p) * 2 / max(len(texts), 1)
        record = _base_record(
            task,
            job.spec,
            identity,
            job.settings,
            status="ok",
            scores=scores,
            ci95=[lo, hi],
            bootstrap={"n_resamples": job.bootstrap_resamples, "seed": job.seed, "level": 0.95},
            cosine_similarities=[round(float(x), 7) for x in np.asarray(sims)],
            gold=[float(g) for g in p.gold],
            finished_at=now_iso(),
            evaluation_seconds=round(time.perf_counter() - t0 + share_of_encode, 4),
            **common,
        )
        records.append((task, record))
    return JobResult(key=job.spec.key, records=records)


def classify_failure(exc: BaseException) -> tuple[str, str]:
    from harness import encode, evaluate

    text = str(exc).strip()
    message = text.splitlines()[0] if text else type(exc).__name__
    if isinstance(exc, encode.RemoteCodeRefused):
        return "remote-code-refused", message
    if isinstance(exc, encode.ModelLoadError):
        return "load-failed", message
    if isinstance(exc, evaluate.NonFiniteEmbeddings):
        return "non-finite", message
    if "out of memory" in message.lower():
        return "out-of-memory", message
    return "failed", f"{type(exc).__name__}: {message}"


# ---------------------------------------------------------------- summary


def main_label(outcome: ModelOutcome, sep: str = ", ") -> str:
    return sep.join(f"{k} {v * 100:.2f}" for k, v in outcome.scores.items())


def print_summary(summary: RunSummary, console: Any) -> None:
    from rich.table import Table

    table = Table(title="run summary (cosine Spearman ×100)")
    for col in ["model", "status", "stored", "already stored", "failed", "scores"]:
        table.add_column(col, overflow="fold")
    for o in summary.outcomes:
        counts = (str(len(o.ok)), str(len(o.skipped)), str(len(o.failed)))
        table.add_row(o.key, o.status, *counts, main_label(o, "\n"))
    console.print(table)
    for o in summary.outcomes:  # one plain line per model, for logs and scripts
        line = f"{o.key}: {o.status}" + (f" ({o.reason})" if o.reason else "")
        console.print(
            line + (f" {main_label(o)}" if o.scores else ""), markup=False, highlight=False, soft_wrap=True
        )
