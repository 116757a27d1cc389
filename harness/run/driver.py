"""The driver of a run: plan, execute (locally or through another executor), store, summarise.

One pass per model: the union of unique sentences of every pending task is embedded once
(through the embedding cache), then each task is scored from those vectors. A model that
cannot be found, loaded or encoded becomes error results for its pending tasks; the run goes
on with the next model. Results are written here, by this one process, whatever the executor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness import store
from harness.mteb_meta import MTEB_PATH
from harness.records import ModelSpec, ModelStatus, RunRecord, Sourced, StsPairs, StsTask
from harness.run.execute import execute_local
from harness.run.facts import library_versions, now_iso
from harness.run.failures import error_record
from harness.run.jobs import JobResult, ModelJob, task_id
from harness.run.plan import (
    ModelPlan,
    RunOptions,
    broken_entries,
    entry_problem,
    hub_allowed,
    identity,
    models_dirs_from,
    nothing_selected,
    plan_model,
    select_models,
    select_tasks,
)
from harness.stderr import printable
from harness.store import migrate, model_meta_json, model_name
from harness.variants import VariantUsageError, variant_label

Reporter = Callable[[str], None]


@dataclass
class ModelOutcome:
    key: str
    name: str
    ok: list[str] = field(default_factory=list)
    already_stored: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    status: ModelStatus = "ok"
    reason: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    encoding: str | None = None  # which encode path the model took and why, and its STS prompt
    degenerate: list[str] = field(default_factory=list)  # "<task>: output looks degenerate: probe gap 0.01"


@dataclass
class RunSummary:
    outcomes: list[ModelOutcome] = field(default_factory=list)
    unavailable_tasks: list[str] = field(default_factory=list)
    data_errors: list[str] = field(default_factory=list)
    nothing_ran: str | None = None  # why, when the selection left nothing to run
    usage_error: str | None = None  # a --dims/--precision a selected model cannot take (exit 2)

    @property
    def failed(self) -> bool:
        return (
            bool(self.data_errors)
            or self.nothing_ran is not None
            or self.usage_error is not None
            or any(o.status == "error" or o.failed for o in self.outcomes)
        )


def _nothing_ran(summary: RunSummary, why: str, say: Reporter) -> RunSummary:
    summary.nothing_ran = why
    say(f"harness: nothing ran: {why}")
    return summary


# ---------------------------------------------------------------- environment facts


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
    for spec in broken_entries(specs, options):  # in the summary and the exit status too: a model not run
        reason = f"not run: {entry_problem(spec)}"
        say(f"harness: {spec.key}: {reason}")
        outcome = ModelOutcome(key=spec.key, name=spec.display_name, status="error", reason=reason)
        summary.outcomes.append(outcome)
    if not models and not missing:
        return _nothing_ran(summary, nothing_selected(specs, options), say)
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
        if options.splits and options.splits != ["test"]:
            wanted += f" on split {', '.join(options.splits)}"
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
    if not runnable:
        why = f"none of the {len(tasks)} selected task(s) has usable data here (see above)"
        return _nothing_ran(summary, why, say)
    notes: list[str] = []  # earlier layouts moved, bad result files quarantined (recomputed below)
    try:
        store.lock_folder(options.results_dir)
    except store.StoreError as exc:
        return _nothing_ran(summary, str(exc), say)
    migrate(options.results_dir, notes)
    store.prepare_folder(options.results_dir, notes)
    for note in notes:
        say(f"harness: {note}")

    device = options.device or pick_device()
    dtype = resolve_dtype(options.dtype, device)
    models_dirs = models_dirs_from(options.models_dirs)
    jobs: list[ModelJob] = []
    outcomes: dict[str, ModelOutcome] = {}
    result_owners: dict[tuple[str, str], str] = {}  # (model folder, revision) -> the entry storing there
    for spec, explicit in models:
        outcome = ModelOutcome(key=spec.key, name=spec.display_name)
        outcomes[spec.key] = outcome
        summary.outcomes.append(outcome)
        if spec.errors:  # named with --model, but its registry entry is broken: say why, not "no weights"
            outcome.status, outcome.reason = "error", entry_problem(spec)
            say(f"harness: {spec.key}: {outcome.reason}")
            continue
        try:
            plan = plan_model(spec, explicit, runnable, pairs, options, device, dtype, models_dirs, allow_hub)
        except VariantUsageError as exc:  # every model is planned before any is encoded: nothing done yet
            summary.usage_error = str(exc)
            say(f"harness: {exc}")
            return summary
        owner = _result_owner(plan, result_owners)
        if owner is not None:
            outcome.status, outcome.reason = "error", _shared_results(spec, plan, owner)
            say(f"harness: {spec.key}: {outcome.reason}")
            continue
        outcome.already_stored = plan.already_stored
        if plan.status != "ok":
            outcome.status = plan.status
        outcome.reason = plan.reason
        if plan.unrunnable is not None:
            _store_unrunnable(plan, outcome, options, say)
        if plan.job is not None:
            jobs.append(plan.job)
            outcome.encoding = _encoding(plan)
        elif outcome.reason:
            say(f"harness: {spec.key}: {outcome.status}: {outcome.reason}")

    execute = executor or execute_local
    for job, result in zip(jobs, execute(jobs, options=options, say=say, progress=progress), strict=True):
        if result.key != job.spec.key:  # an executor must answer in job order
            raise RuntimeError(f"executor returned {result.key} for {job.spec.key}")
        _store_job_result(job, result, outcomes[job.spec.key], options, say)
    if all(o.status == "skipped" for o in summary.outcomes):
        why = "no selected model covers the selected tasks' languages (--model NAME runs a model on any task)"
        return _nothing_ran(summary, why, say)
    return summary


def _result_owner(plan: ModelPlan, owners: dict[tuple[str, str], str]) -> str | None:
    """Another entry whose results go to the same files (same model id and revision), or None; the
    first entry (in key order) owns them."""
    if plan.revision is None:
        return None
    place = (store.model_folder(plan.spec.key, plan.spec.model_id.value).lower(), plan.revision)
    owner = owners.setdefault(place, plan.spec.key)
    return owner if owner != plan.spec.key else None


def _shared_results(spec: ModelSpec, plan: ModelPlan, owner: str) -> str:
    return (
        f"not run: model id {spec.model_id.value!r} at revision {plan.revision} is also entry {owner}'s, and "
        "results are stored per model id and revision (MTEB's layout), so the two would write the same "
        "result files; give this entry a model_id of its own in registry.toml, or remove one"
    )


def _encoding(plan: ModelPlan) -> str:
    """``<path> path (<why>); STS prompt: <prompt> (<source>)``, for the summary."""
    from harness.prompts import prompt_label

    job = plan.job
    assert job is not None
    if job.encode_path == MTEB_PATH:
        prompt = "as mteb's implementation applies it"
    else:
        labels = {prompt_label(plan.spec.sts_prompt)} if not job.prompts else set()
        for task in job.tasks:
            value = job.prompts.get(task_id(task))
            source = job.prompt_sources.get(task_id(task))
            labels.add(prompt_label(Sourced(value=value, source=source)))
        prompt = ", ".join(sorted(labels))
    return f"{job.encode_path} path ({job.encode_path_reason}); STS prompt: {prompt}"


def _quiet_libraries() -> None:
    """Our progress bar and summary say what matters; the libraries' own bars would interleave."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def _store_unrunnable(plan: ModelPlan, outcome: ModelOutcome, options: RunOptions, say: Reporter) -> None:
    """Error results (under ``no-revision``) for every task of a model planning could not run."""
    failure = plan.unrunnable
    assert failure is not None
    record_only = failure.kind == "weights-unavailable"  # not run, not failed
    outcome.status = "unavailable" if record_only else "error"
    outcome.reason = failure.message
    for task in failure.tasks:
        ident = identity(store.NO_REVISION, task, failure.settings)
        record = error_record(
            task, plan.spec, ident, failure.settings, failure.kind, failure.message, started_at=now_iso()
        )
        try:
            _write(options, plan.spec, store.NO_REVISION, None, task, record, say)
        except store.StoreError as write_exc:
            outcome.status, outcome.reason = "error", str(write_exc)
            outcome.failed.append(task.label)
        else:
            if not record_only:
                outcome.failed.append(task.label)


def _write(
    options: RunOptions,
    spec: ModelSpec,
    revision: str,
    weights_source: str | None,
    task: StsTask,
    record: RunRecord,
    say: Reporter,
) -> None:
    """Store one record: MTEB tasks where mteb reads them, the rest under ``harness-local/``."""
    notes: list[str] = []  # a failure that kept a good result, a bad file moved aside
    meta = None if revision == store.NO_REVISION else model_meta_json(model_name(spec), revision, spec)
    store.write_run(
        options.results_dir,
        model_key=spec.key,
        model_id=spec.model_id.value,
        revision=revision,
        task_name=task.name,
        mteb_version=library_versions().get("mteb"),
        dataset_revision=task.mteb_revision or task.revision,
        weights_source=weights_source,
        run=record,
        in_mteb=task.in_mteb,
        model_meta=meta,
        notes=notes,
    )
    for note in notes:
        say(f"harness: {note}")


def _store_job_result(
    job: ModelJob, result: JobResult, outcome: ModelOutcome, options: RunOptions, say: Reporter
) -> None:
    for task, record in result.records:
        label = task.label + variant_label(record.settings)
        try:
            _write(options, job.spec, job.weights.revision, job.weights.source, task, record, say)
        except store.StoreError as exc:
            outcome.failed.append(label)
            outcome.status, outcome.reason = "error", str(exc)
            say(f"harness: {exc}")
            continue
        if record.status == "ok":
            outcome.ok.append(label)
            outcome.scores[label] = record.scores["main_score"]
            if record.degenerate:  # stored and ranked, but never silently
                outcome.degenerate.append(f"{label}: {record.degenerate}")
        else:
            outcome.failed.append(label)
            say(f"harness: {job.spec.key}: {label}: {record.error_kind}: {record.error}")
    if result.error is not None:
        outcome.status, outcome.reason = "error", f"{result.error[0]}: {result.error[1]}"
    elif outcome.failed and not outcome.ok and outcome.status == "ok":  # never "ok" with nothing scored
        outcome.status, outcome.reason = "error", f"all {len(outcome.failed)} task(s) failed (see above)"


# ---------------------------------------------------------------- summary


def main_label(outcome: ModelOutcome, sep: str = ", ") -> str:
    return sep.join(f"{printable(k)} {v * 100:.2f}" for k, v in outcome.scores.items())


def print_summary(summary: RunSummary, console: Any) -> None:
    from rich.table import Table

    table = Table(title="run summary (cosine Spearman ×100)")
    for col in ["model", "status", "stored", "already stored", "failed", "scores"]:
        table.add_column(col, overflow="fold")
    for o in summary.outcomes:
        counts = (str(len(o.ok)), str(len(o.already_stored)), str(len(o.failed)))
        table.add_row(printable(o.key), o.status, *counts, main_label(o, "\n"))
    console.print(table)
    for o in summary.outcomes:  # one plain line per model, for logs and scripts
        line = f"{o.key}: {o.status}" + (f" ({o.reason})" if o.reason else "")
        line += f" {main_label(o)}" if o.scores else ""
        line += "".join(f"; {flag}" for flag in o.degenerate)
        console.print(printable(line), markup=False, highlight=False, soft_wrap=True)
        if o.encoding:
            console.print(f"  encoded on the {o.encoding}", markup=False, highlight=False, soft_wrap=True)
