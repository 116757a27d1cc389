"""Failures are values: the one classifier of exceptions into error kinds, and the one error-record builder.

Every error record a run stores (a model without weights, a model that does not load or encode,
a task whose scores are not finite, a Ray worker that died for good) is built here, so the
error kinds written are exactly :data:`harness.records.ErrorKind`, which the report words.
"""

from __future__ import annotations

from typing import Any

from harness.errors import ModelLoadError, NonFiniteEmbeddings, RemoteCodeRefused, WeightsUnavailable
from harness.records import ErrorKind, ModelSpec, RunRecord, RunSettings, RunStatus, StsTask
from harness.run.facts import record_fields
from harness.run.jobs import JobResult, ModelJob, task_id, variant_key

WORKER_FAILED: ErrorKind = "worker-failed"  # the Ray executor's kind for a job no worker could finish


def classify(exc: BaseException) -> tuple[ErrorKind, str]:
    """``(kind, one-line message)`` for an exception raised while planning, loading, encoding or scoring."""
    text = str(exc).strip()
    message = text.splitlines()[0] if text else type(exc).__name__
    if isinstance(exc, WeightsUnavailable):
        return "weights-unavailable", message
    if isinstance(exc, RemoteCodeRefused):
        return "remote-code-refused", message
    if isinstance(exc, ModelLoadError):
        return "load-failed", message
    if isinstance(exc, NonFiniteEmbeddings):
        return "non-finite", message
    if "out of memory" in message.lower():
        return "out-of-memory", message
    return "failed", f"{type(exc).__name__}: {message}"


def status_of(kind: ErrorKind) -> RunStatus:
    """A model without weights is unavailable (not run); every other failure is an error."""
    return "unavailable" if kind == "weights-unavailable" else "error"


def error_record(
    task: StsTask,
    spec: ModelSpec,
    identity: str,
    settings: RunSettings,
    kind: ErrorKind,
    message: str,
    **facts: Any,
) -> RunRecord:
    """The run record of a (model, task) without a score; ``facts``: times, hardware, encode, n_pairs."""
    return RunRecord(
        **record_fields(task, spec, identity, settings),
        status=status_of(kind),
        error=message,
        error_kind=kind,
        **facts,
    )


def job_error(job: ModelJob, task: StsTask, kind: ErrorKind, message: str, **facts: Any) -> RunRecord:
    """The error record of one task of a job, with the job's identity, settings and task facts."""
    tid, settings = task_id(task), job.settings_of(task)
    ident = job.identities.get(tid)
    if ident is None:  # only its variants were pending (its full result is stored): the first one's
        variant = job.variants[tid][0]
        ident, settings = job.variant_identities[variant_key(tid, variant)], variant.settings(settings)
    return error_record(
        task,
        job.spec,
        ident,
        settings,
        kind,
        message,
        **job.task_facts(task),
        **facts,
    )


def failed_job(job: ModelJob, kind: ErrorKind, message: str, **facts: Any) -> JobResult:
    """Error records for every task of a job that failed as a whole (the model, or the worker)."""
    records = [(task, job_error(job, task, kind, message, **facts)) for task in job.tasks]
    return JobResult(key=job.spec.key, records=records, error=(kind, message))
