"""Executing jobs: one model's pass (embed the union of its sentences once, score every task).

:func:`compute_job` is what every executor runs for a job, locally or on a Ray worker; it never
raises for a model fault: failures come back as error records (:mod:`harness.run.failures`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from harness import store
from harness.errors import ModelLoadError
from harness.mteb_meta import MTEB_PATH
from harness.records import ErrorKind, RunRecord, StsTask
from harness.run.facts import hardware_info, now_iso, record_fields
from harness.run.failures import classify, error_record, job_error
from harness.run.jobs import JobResult, ModelJob, task_id, variant_key
from harness.run.plan import RunOptions

Reporter = Callable[[str], None]


def execute_local(
    jobs: list[ModelJob], *, options: RunOptions, say: Reporter, progress: Any
) -> Iterator[JobResult]:
    """Run jobs one after the other in this process, one model in memory at a time.

    A per-model lock keeps two runs sharing a results folder from encoding the
    same model at once; whoever waits re-checks what is stored before working.
    """
    for job in jobs:
        with _model_lock(options, job.spec.key, say):
            yield compute_job(still_pending(job, options, say), progress=progress)


@contextlib.contextmanager
def _model_lock(options: RunOptions, key: str, say: Reporter) -> Iterator[None]:
    """The model's lock; a run that must wait for another says so once, never waits in silence."""
    from filelock import Timeout

    lock = store.model_lock(options.results_dir, key)
    try:
        lock.acquire(timeout=2)
    except Timeout:
        say(f"harness: {key}: another run holds this model ({lock.lock_file}); waiting for it")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def still_pending(job: ModelJob, options: RunOptions, say: Reporter) -> ModelJob:
    """Drop tasks another run stored since planning (the caller holds the model's lock)."""
    if options.force:
        return job
    stored = store.completed_identities(
        options.results_dir, job.spec.key, job.weights.revision, job.spec.model_id.value
    )
    identities = {k: v for k, v in job.identities.items() if v not in stored}
    variants = {
        tid: left
        for tid, wanted in job.variants.items()
        if (left := [v for v in wanted if job.variant_identities[variant_key(tid, v)] not in stored])
    }
    still = [t for t in job.tasks if task_id(t) in identities or task_id(t) in variants]
    if len(still) < len(job.tasks):
        say(f"harness: {job.spec.key}: {len(job.tasks) - len(still)} task(s) stored meanwhile by another run")
    if identities != job.identities or variants != job.variants:
        kept = {task_id(t) for t in still}
        pairs = {k: v for k, v in job.pairs.items() if k in kept}
        job = replace(job, tasks=still, pairs=pairs, identities=identities, variants=variants)
    return job


def _passes(job: ModelJob) -> list[list[StsTask]]:
    """Tasks that share one encode pass: on the fast path those with the same prompt (usually
    all of them); on mteb's path each task alone (its wrapper may instruct every task differently)."""
    if job.encode_path == MTEB_PATH:
        return [[task] for task in job.tasks]
    groups: dict[str | None, list[StsTask]] = {}
    for task in job.tasks:
        groups.setdefault(job.prompts.get(task_id(task)), []).append(task)
    return list(groups.values())


class _Loader:
    """Loads the job's model once (on the first cache miss) and hands it to every pass; a load
    that failed fails every later pass the same way, without loading again."""

    def __init__(self, job: ModelJob) -> None:
        self.job = job
        self.model: Any = None
        self.failure: BaseException | None = None
        self.prompts: dict[str, str] = {}  # mteb's path: the prompt its wrapper reports, by task id

    def for_task(self, task: StsTask) -> Any:
        from harness import encode
        from harness.encode.mteb_path import load_mteb_model
        from harness.prompts import task_metadata

        if self.failure is not None:
            raise self.failure
        job = self.job
        try:
            if job.encode_path == MTEB_PATH:
                meta = task_metadata(task.name)
                if self.model is None:
                    self.model = load_mteb_model(
                        job.spec.model_id.value or job.spec.key,
                        job.weights.location,
                        device=job.device,
                        task_metadata=meta,
                        dtype=job.settings.dtype,
                        trust_remote_code=job.settings.trust_remote_code,
                    )
                bound = self.model.for_task(meta)
                if bound.prompt:
                    self.prompts[task_id(task)] = bound.prompt
                return bound
            if self.model is None:
                model = encode.load_model(
                    job.weights.location,
                    device=job.device,
                    dtype=job.settings.dtype,
                    trust_remote_code=job.settings.trust_remote_code,
                    max_seq_length=job.settings.max_seq_length,
                    revision=job.weights.revision if job.weights.source == "hub" else None,
                )
                if model.dtype != job.settings.dtype:  # the record and the cache key would lie
                    raise ModelLoadError(
                        f"{job.spec.key} loaded in {model.dtype} on {job.device}, but the run's dtype "
                        f"is {job.settings.dtype} (resolved for another GPU?); pass --dtype {model.dtype}"
                    )
                unplanned = _similarity_not_planned(job, model.model)
                if unplanned:  # pearson/spearman and the identity would say cosine
                    raise ModelLoadError(unplanned)
                self.model = model
            return self.model
        except Exception as exc:
            self.failure = _without_tracebacks(exc)  # its frames would keep a half-loaded model alive
            raise

    def release(self) -> None:
        """Drop the model (and a failure's traceback) so the job's memory can be given back."""
        self.model = self.failure = None


def _similarity_not_planned(job: ModelJob, model: Any) -> str | None:
    """Why the run's settings miss the model's own similarity function (None: they do not miss it).
    Only a model fetched from the Hub can: its files were not at hand when the run was planned."""
    from harness.mteb_meta import non_cosine

    if job.weights.local_dir is not None or (job.spec.mteb is not None and job.spec.mteb.similarity):
        return None  # planned from the files, or mteb's metadata decides
    own = non_cosine(getattr(model, "similarity_fn_name", None))
    if own == job.settings.similarity:
        return None
    return (
        f"{job.spec.key}: config_sentence_transformers.json names the similarity function {own!r}, "
        "unknown when the run was planned (no local files); run again: its files are now in the "
        "Hugging Face cache"
    )


def _without_tracebacks(exc: BaseException) -> BaseException:
    """``exc`` with no traceback on it or on the exceptions it came from (their frames hold the
    loader's locals: a model that ran out of memory while loading would keep its GPU memory)."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        link.__traceback__ = None
        link = link.__cause__ or link.__context__
    return exc


def compute_job(job: ModelJob, *, progress: Any = None) -> JobResult:
    """Embed the job's sentences (a pass per prompt), then score every task. Never raises for model faults."""
    from harness import encode

    started = now_iso()
    passes = [(group, _texts(job, group)) for group in _passes(job)]
    passes = [(group, texts) for group, texts in passes if texts]
    if not passes:
        return JobResult(key=job.spec.key, records=[])
    loader = _Loader(job)
    cache = encode.EmbeddingCache(job.cache_dir) if job.cache_dir is not None else None
    total = sum(len(set(texts)) for _, texts in passes)
    bar = progress.add_task(job.spec.key, total=total) if progress is not None else None
    records: list[tuple[StsTask, RunRecord]] = []
    failures: list[tuple[ErrorKind, str]] = []
    try:
        for group, texts in passes:
            first = group[0]
            model_id = job.spec.model_id.value or job.spec.key
            if job.encode_path == MTEB_PATH:  # vectors depend on the task's instruction
                model_id = f"{model_id} task={first.name}"
            try:
                vectors, stats = encode.embed(
                    texts,
                    model_loader=lambda first=first: loader.for_task(first),
                    fingerprint=encode.vector_fingerprint(
                        model_id, job.weights.revision, job.settings_of(first)
                    ),
                    cache=cache,
                    batch_size=job.batch_size,
                    progress=(lambda n: progress.advance(bar, n)) if progress is not None else None,
                    prompt=job.prompts.get(task_id(first)),
                )
            except Exception as exc:  # a model failure becomes error results for its tasks; the run goes on
                kind, message = classify(exc)
                failures.append((kind, message))
                facts = {
                    "started_at": started,
                    "finished_at": now_iso(),
                    "hardware": hardware_info(job.device),
                }
                records.extend((task, job_error(job, task, kind, message, **facts)) for task in group)
                continue
            records.extend(_score_pass(job, group, texts, vectors, stats, started, loader.prompts))
    finally:
        if cache is not None:
            cache.close()
        if progress is not None and bar is not None:
            progress.remove_task(bar)
        loader.release()
        encode.free_device_memory(job.device)  # the next model starts on an empty GPU
    order = {task_id(t): i for i, t in enumerate(job.tasks)}
    records.sort(key=lambda item: order[task_id(item[0])])
    error = failures[0] if failures and len(failures) == len(passes) else None
    return JobResult(key=job.spec.key, records=records, error=error)


def _texts(job: ModelJob, tasks: list[StsTask]) -> list[str]:
    texts: list[str] = []
    for task in tasks:
        p = job.pairs[task_id(task)]
        texts.extend(p.sentence1)
        texts.extend(p.sentence2)
    return texts


def _score_pass(
    job: ModelJob,
    group: list[StsTask],
    texts: list[str],
    vectors: Any,
    stats: Any,
    started: str,
    applied: dict[str, str],
) -> list[tuple[StsTask, RunRecord]]:
    """Score every task of one encode pass from its vectors."""
    import numpy as np

    from harness import evaluate
    from harness.probe import probe as behaviour_probe

    index = {text: i for i, text in enumerate(texts)}
    dimension = int(vectors.shape[1]) if getattr(vectors, "ndim", 0) == 2 else None
    encode_facts = stats.model_copy(update={"tasks_sharing_the_pass": len(group), "dimension": dimension})
    hardware = hardware_info(stats.device or job.device)
    records: list[tuple[StsTask, RunRecord]] = []
    for task in group:
        t0 = time.perf_counter()
        p = job.pairs[task_id(task)]
        emb1 = vectors[[index[s] for s in p.sentence1]]
        emb2 = vectors[[index[s] for s in p.sentence2]]
        facts = job.task_facts(task)
        if task_id(task) in applied:  # mteb's wrapper said what it puts before each sentence
            facts["prompt_source"] = f"{facts['prompt_source']}: {applied[task_id(task)]!r}"
        common = {"started_at": started, "hardware": hardware, "encode": encode_facts, "n_pairs": len(p)}
        try:
            scores, sims, (lo, hi) = evaluate.score_embeddings(
                emb1,
                emb2,
                p.gold,
                n_resamples=job.bootstrap_resamples,
                seed=job.seed,
                similarity=job.settings.similarity,
            )
        except Exception as exc:
            kind, message = classify(exc)
            if task_id(task) in job.identities:
                records.append((task, job_error(job, task, kind, message, finished_at=now_iso(), **common)))
            continue
        records.extend(score_variants(job, task, (emb1, emb2, sims), {**facts, **common}))
        if task_id(task) not in job.identities:  # stored already: scored again only for its variants
            continue
        withheld = evaluate.interval_withheld(
            sims, p.gold, n_resamples=job.bootstrap_resamples, seed=job.seed
        )
        share_of_encode = (stats.encode_seconds or 0.0) * len(p) * 2 / max(len(texts), 1)
        record = RunRecord(
            **record_fields(task, job.spec, job.identities[task_id(task)], job.settings_of(task)),
            **facts,
            status="ok",
            scores=scores,
            ci95=None if withheld else [lo, hi],
            bootstrap={
                "n_resamples": job.bootstrap_resamples,
                "seed": job.seed,
                "level": 0.95,
                **({"interval_withheld": withheld} if withheld else {}),
            },
            cosine_similarities=[round(float(x), 7) for x in np.asarray(sims)],
            gold=[float(g) for g in p.gold],
            probe=behaviour_probe(p.sentence1, p.sentence2, p.gold, emb1, emb2),
            finished_at=now_iso(),
            evaluation_seconds=round(time.perf_counter() - t0 + share_of_encode, 4),
            **common,
        )
        records.append((task, record))
    return records


def score_variants(
    job: ModelJob, task: StsTask, full: tuple[Any, Any, Any], facts: dict[str, Any]
) -> list[tuple[StsTask, RunRecord]]:
    """One record per pending variant of a task, scored from the vectors already in memory
    (``full``: both sides' vectors and their cosine similarities)."""
    import numpy as np

    from harness.variants import score_variant

    out: list[tuple[StsTask, RunRecord]] = []
    emb1, emb2, full_sims = full
    p = job.pairs[task_id(task)]
    for variant in job.variants.get(task_id(task), []):
        t0 = time.perf_counter()
        ident = job.variant_identities[variant_key(task_id(task), variant)]
        settings = variant.settings(job.settings_of(task))
        try:
            scores, sims, (lo, hi), about = score_variant(
                emb1,
                emb2,
                p.gold,
                variant,
                full_sims,
                n_resamples=job.bootstrap_resamples,
                seed=job.seed,
                similarity=settings.similarity,
            )
        except Exception as exc:
            kind, message = classify(exc)
            out.append((task, error_record(task, job.spec, ident, settings, kind, message, **facts)))
            continue
        record = RunRecord(
            **record_fields(task, job.spec, ident, settings),
            **facts,
            status="ok",
            scores=scores,
            ci95=[lo, hi],
            bootstrap={"n_resamples": job.bootstrap_resamples, "seed": job.seed, "level": 0.95},
            cosine_similarities=[round(float(x), 7) for x in np.asarray(sims)],
            gold=[float(g) for g in p.gold],
            variant=about,
            finished_at=now_iso(),
            evaluation_seconds=round(time.perf_counter() - t0, 4),
        )
        out.append((task, record))
    return out
