"""Results -> page model: one language page's leaderboard, claims, audits, failures, speed and metadata.

``build_page`` is pure: stored results and the registry's `ModelSpec`s in, a page model out
(no model, no score recomputed; the only computation is the seeded paired bootstrap on stored
per-pair similarities, and the only I/O the paired-test cache of a ``PairedTests`` passed in).

What a language page shows
--------------------------
* A leaderboard, one row per model: the cosine Spearman correlation ×100 of every task the
  language was evaluated on (task, subset, split) with its stored 95% bootstrap interval,
  the average over the tasks the model has (marked incomplete when it lacks some), and
  whether the model is statistically tied with the leader. Models evaluated on every task
  are ranked before models that lack tasks; within each group by average, then name.
* The tie test compares a model with the leader on the tasks both have. Where both stored
  per-pair similarities for identical gold lists, it is a paired bootstrap
  (``harness.evaluate.paired_bootstrap``, seed 0); a model is tied unless p < 0.05 *and*
  the 95% interval of the difference excludes 0. Otherwise (or when no bootstrap is given)
  two models are tied when their 95% intervals overlap. Averages over several
  tasks combine the per-task intervals as independent normal errors.
* Claimed vs measured (see `CLAIM_DATASET_TASKS`), card facts and audit warnings in words,
  speed, models that failed or were not run, run metadata, and two inline SVG charts.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from harness.card import is_template_title
from harness.evaluate import (
    MAIN_METRIC,
    PairedTest,
    combine_paired,
    finite,
    mean_ci,
    paired_test,
    stored_ci,
)
from harness.prompts import prompt_label, prompt_text
from harness.records import Hardware, ModelSpec, RunRecord, Sourced
from harness.report.claims import check_claims
from harness.report.lang import run_language, spec_covers
from harness.report.page import (
    CardAudit,
    Cell,
    ClaimRow,
    Fact,
    Failure,
    LanguagePage,
    MetaRow,
    ModelInfo,
    Row,
    Speed,
    TieState,
    Unit,
    rank_order,
)
from harness.report.paired import PairedTests
from harness.report.words import (
    ERROR_KIND_TEXT,
    NO_LINK_WARNINGS,
    WARNING_TEXT,
    hub_url,
    human_count,
    language_name,
    paired_detail,
)
from harness.report.zeroshot import zero_shot
from harness.store import Selection, StoredResult, select_run
from harness.tasks.audit import AuditReport, TaskAudit, task_key


def unit_of(stored: StoredResult, by_data: frozenset[str] = frozenset()) -> Unit:
    """The column a record belongs to; a task named in `by_data` gets a column per data revision."""
    name = stored.task_name
    if name in by_data and stored.run.data_revision:
        name = f"{name} (data {stored.run.data_revision})"
    return Unit(name, stored.run.subset, stored.run.split)


def tasks_by_data(records: Sequence[StoredResult]) -> frozenset[str]:
    """Users' own tasks (``custom:<file name>``) whose successful runs read different data (a file
    edited between runs, two files of one name): one column each, never ranked as one task."""
    revisions: dict[str, set[str | None]] = {}
    for r in records:
        if r.task_name.startswith("custom:") and r.run.status == "ok":
            revisions.setdefault(r.task_name, set()).add(r.run.data_revision)
    return frozenset(name for name, revs in revisions.items() if len(revs) > 1)


def model_info(key: str, spec: ModelSpec | None, records: Sequence[StoredResult]) -> ModelInfo:
    if spec is not None:
        model_id = spec.model_id.value
        name = spec.display_name
        codes = {w.code for w in spec.warnings}
        url = None if codes & NO_LINK_WARNINGS else hub_url(model_id)
        title = (spec.name or "").strip() or None
        named = re.sub(r"(?i)^model card (?:for|of)\s+", "", title or "")
        if title and (named.lower() in name.lower() or is_template_title(title)):
            title = None  # the title says nothing the name does not, or is a template's heading
        return ModelInfo(key, name, title, url, spec)
    ids = sorted({r.model_id for r in records if r.model_id})
    name = ids[0] if len(ids) == 1 else key
    return ModelInfo(key, name, None, hub_url(name) if len(ids) == 1 else None, None)


FROM_CACHE = "from cache (not encoded in this run)"


def _encoded(run: RunRecord) -> bool:
    """Whether the run put sentences through the model (a run that found every vector in the
    embedding cache loaded no model: its 0 sentences/s on device "none" measure nothing)."""
    e = run.encode
    return e is not None and (e.n_encoded is None or e.n_encoded > 0) and e.device != "none"


def speed_of(runs: Sequence[RunRecord], stored: Sequence[RunRecord] = ()) -> Speed | None:
    """The speed of the runs that encoded. When every run read its vectors from the cache: the
    speed of the stored runs (`stored`: the model's others) that encoded with the same settings,
    said as such in the device cell; else "from cache (not encoded in this run)" there."""
    timed = [r for r in runs if _encoded(r)]
    cached = [r for r in runs if r.encode is not None and not _encoded(r)]
    kept = not timed and bool(cached)  # the speed shown is an earlier run's
    if kept:
        same = {r.settings_hash for r in cached}
        timed = [r for r in stored if _encoded(r) and r.settings_hash in same]
        if not timed:
            return Speed(None, None, FROM_CACHE, ", ".join(_dtypes(cached)) or "–", "–")
    encodes = [r.encode for r in timed if r.encode is not None]
    rates = [v for v in (finite(e.sentences_per_second) for e in encodes) if v is not None]
    mems = [v for v in (finite(e.peak_memory_bytes) for e in encodes) if v is not None]
    devices = sorted({d for d in (_device_text(r) for r in timed or runs) if d})
    dtypes = _dtypes(timed or runs)
    batches = sorted({str(e.batch_size) for e in encodes if e.batch_size is not None})
    if not rates and not mems and not devices:
        return None
    device = ", ".join(devices) or "–"
    if kept:
        when = max((r.finished_at or r.started_at or "")[:10] for r in timed)
        device += f"; {FROM_CACHE}: the speed of the run{f' of {when}' if when else ''} that encoded"
    return Speed(
        statistics.median(rates) if rates else None,
        max(mems) if mems else None,
        device,
        ", ".join(dtypes) or "–",
        ", ".join(batches) or "–",
    )


def _dtypes(runs: Sequence[RunRecord]) -> list[str]:
    """The dtypes runs ran in: each run's settings, where the dtype is recorded once."""
    return sorted({r.settings.dtype for r in runs})


def _kv(d: dict[str, Any]) -> str:
    parts = []
    for k in sorted(d):
        v = d[k]
        if v is None or v == "" or isinstance(v, dict | list):
            continue
        parts.append(f"{k} {v}")
    return ", ".join(parts)


def hardware_text(hw: Hardware) -> str:
    """``NVIDIA H100 80GB HBM3 (CUDA 12.8); x86_64 CPU, 16 cores; Linux-...`` from a run's hardware."""
    parts = []
    if hw.gpu:
        parts.append(f"{hw.gpu}" + (f" (CUDA {hw.cuda})" if hw.cuda else ""))
    cpu = " ".join(str(x) for x in (hw.cpu, "CPU") if x)
    if hw.cpu_count:
        cpu += f", {hw.cpu_count} cores"
    parts.append(cpu)
    if hw.platform:
        parts.append(hw.platform)
    return "; ".join(parts)


def _device_text(run: RunRecord) -> str | None:
    device = (run.encode.device if run.encode else None) or (run.hardware.device if run.hardware else None)
    if not device:
        return None
    gpu = run.hardware.gpu if run.hardware else None
    text = str(device)
    if gpu and str(device).startswith("cuda") and str(gpu) not in text:
        text += f" ({gpu})"
    return text


def _sourced_text(value: Any, fmt: Callable[[Any], str] = str) -> str:
    return "–" if value is None else fmt(value)


def _sts_prompt(spec: ModelSpec, runs: Sequence[RunRecord]) -> tuple[str, str]:
    """(cell, where from): the prompt the stored runs applied when they agree (what the scores
    rest on, read from each run's own record), else the prompt the card and files predict."""
    used = {(r.settings.prompt, r.prompt_source) for r in runs if r.status == "ok" and r.prompt_source}
    if len(used) == 1:
        value, source = next(iter(used))
        return prompt_label(Sourced(value=value, source=source)), f"as run: {source}"
    return prompt_label(spec.sts_prompt), spec.sts_prompt.source or ""


def card_audit(info: ModelInfo, runs: Sequence[RunRecord] = ()) -> CardAudit | None:
    spec = info.spec
    if spec is None:
        return None
    facts = [
        Fact("dimension", _sourced_text(spec.dimension.value), spec.dimension.source or ""),
        Fact("pooling", _sourced_text(spec.pooling.value), spec.pooling.source or ""),
        Fact("max_seq_length", _sourced_text(spec.max_seq_length.value), spec.max_seq_length.source or ""),
        Fact("architecture", _sourced_text(spec.architecture.value), spec.architecture.source or ""),
        Fact("parameters", human_count(spec.parameters.value), spec.parameters.source or ""),
        Fact("license", _sourced_text(spec.license.value), spec.license.source or ""),
        Fact("STS prompt", *_sts_prompt(spec, runs)),
        Fact("base model", _sourced_text(spec.base_model.value), spec.base_model.source or ""),
    ]
    warnings_ = sorted(
        {(w.code, WARNING_TEXT.get(w.code, w.message)) for w in spec.warnings},
    )
    langs = spec.languages_label or "none stated"
    if spec.language_source not in {"card", "unknown"}:
        langs += f" ({spec.language_source})"
    return CardAudit(info, langs, facts, warnings_, sorted(spec.errors), len(spec.claims))


def _shared_units(row: Row, leader: Row) -> list[Unit]:
    return sorted(set(row.cells) & set(leader.cells))


def _tie(row: Row, leader: Row, tests: Sequence[PairedTest]) -> tuple[TieState, str, str]:
    """(state, method, detail) for a row against the leader, on the tasks both have (`tests`: one each)."""
    shared = _shared_units(row, leader)
    if not shared:
        return "unknown", "", "no task in common with the leader"
    if all(t.status == "ok" for t in tests):
        test = combine_paired(tests)
        method = "paired bootstrap"
        if not test.significant:
            return "tied", method, paired_detail(test)
        return ("ahead" if (test.delta or 0) > 0 else "behind"), method, paired_detail(test)
    return interval_tie(row, leader, shared)


def interval_tie(
    row: Row, leader: Row, shared: Sequence[Unit], method: str = "interval overlap"
) -> tuple[str, str, str]:
    """(state, method, detail): do the 95% intervals of the averages over `shared` overlap?"""
    a_mean, a_ci = mean_ci([row.cells[u].score for u in shared], [row.cells[u].ci for u in shared])
    b_mean, b_ci = mean_ci([leader.cells[u].score for u in shared], [leader.cells[u].ci for u in shared])
    if a_ci is None or b_ci is None:
        return "unknown", "", "no interval to compare with the leader"
    if a_ci[1] >= b_ci[0] and a_ci[0] <= b_ci[1]:
        return "tied", method, "95% intervals overlap"
    return ("ahead" if a_mean > b_mean else "behind"), method, "95% intervals do not overlap"


def _data_revision(stored: StoredResult) -> str:
    """The data a run read: its content hash, and MTEB's dataset revision when the local copy was
    stored under it (it matched mteb's descriptive statistics for the task)."""
    local, mteb_rev = stored.run.data_revision, stored.dataset_revision
    if local and mteb_rev and mteb_rev != local and mteb_rev != "unknown":
        return f"{local} (MTEB revision {mteb_rev[:12]})"
    return local or mteb_rev or "unknown"


def _meta_row(info: ModelInfo, records: Sequence[StoredResult]) -> MetaRow:
    runs = [r.run for r in records]
    started = sorted(r.started_at for r in runs if r.started_at)
    finished = sorted(r.finished_at for r in runs if r.finished_at)
    devices = sorted({d for d in (_device_text(r) for r in runs) if d})
    dtypes = _dtypes(runs)
    hardware = sorted({hardware_text(r.hardware) for r in runs if r.hardware})
    versions = sorted({_kv(r.versions) for r in runs if r.versions})
    commits = sorted({r.git_commit for r in runs if r.git_commit})
    settings = sorted(
        {
            r.settings_hash + (f" (prompt: {prompt_text(r.settings.prompt)})" if r.settings.prompt else "")
            for r in runs
            if r.settings_hash
        }
    )
    data_revs = sorted({(unit_of(s).label, _data_revision(s)) for s in records if s.run.status == "ok"})
    return MetaRow(
        info,
        ", ".join(sorted({r.revision for r in records})),
        ", ".join(sorted({r.weights_source for r in records if r.weights_source})) or "–",
        started[0] if started else "–",
        finished[-1] if finished else "–",
        ", ".join(devices) or "–",
        ", ".join(dtypes) or "–",
        " | ".join(hardware) or "–",
        " | ".join(versions) or "–",
        ", ".join(c[:12] for c in commits) or "–",
        ", ".join(settings) or "–",
        data_revs,
    )


def task_audits(units: Sequence[Unit], audits: AuditReport | None) -> dict[Unit, TaskAudit]:
    """The audit of each column's task (harness.tasks.audit), where there is one."""
    found = audits.by_key() if audits is not None else {}
    return {u: found[task_key(u.task, u.subset)] for u in units if task_key(u.task, u.subset) in found}


def stand_ins(audited: dict[Unit, TaskAudit]) -> dict[Unit, Unit]:
    """Column -> the column that stands for its near-copy group (for every grouped-out column)."""
    by_key = {(task_key(u.task, u.subset), u.split): u for u in audited}
    out: dict[Unit, Unit] = {}
    for unit, audit in audited.items():
        if audit.group and audit.group != audit.key and (audit.group, unit.split) in by_key:
            out[unit] = by_key[(audit.group, unit.split)]
    return out


def build_page(
    lang: str,
    results: Sequence[StoredResult],
    specs: Sequence[ModelSpec],
    bootstrap: Callable[..., dict[str, Any]] | PairedTests | None,
    task_report: AuditReport | None = None,
) -> LanguagePage:
    """The view model of one language page (no rendering; I/O only through a PairedTests cache).

    ``bootstrap``: the paired bootstrap (a callable like ``paired_bootstrap``, or a
    ``PairedTests`` that caches and parallelises it), or None to compare intervals only.
    ``task_report``: the audit of the page's tasks (harness.tasks.audit); a near-copy group counts
    once in an average, as the task that stands for it.
    """
    by_key: dict[str, ModelSpec] = {s.key: s for s in specs}
    mine = [r for r in results if run_language(r.run) == lang]
    by_data = tasks_by_data(mine)
    grouped: dict[str, dict[Unit, list[StoredResult]]] = {}
    for r in mine:
        grouped.setdefault(r.model_key, {}).setdefault(unit_of(r, by_data), []).append(r)
    selections: dict[str, dict[Unit, Selection[StoredResult]]] = {
        key: {u: select_run(recs) for u, recs in units.items()} for key, units in grouped.items()
    }
    chosen = {key: {u: s.shown for u, s in per.items()} for key, per in selections.items()}
    infos = {
        key: model_info(key, by_key.get(key), [r for rs in grouped[key].values() for r in rs])
        for key in grouped
    }
    units = sorted({u for per in chosen.values() for u, s in per.items() if s.run.status == "ok"})
    audited = task_audits(units, task_report)
    stand_in = stand_ins(audited)
    zero_warnings: set[str] = set()

    rows: list[Row] = []
    failures: list[Failure] = []
    for key in sorted(chosen):
        per = chosen[key]
        info = infos[key]
        cells: dict[Unit, Cell] = {}
        for unit, stored in sorted(per.items()):
            run = stored.run
            score = finite(run.scores.get(MAIN_METRIC)) if run.status == "ok" else None
            if score is None:
                kind = run.error_kind or ("missing-score" if run.status == "ok" else run.status)
                failures.append(
                    Failure(
                        info,
                        unit,
                        run.status,
                        ERROR_KIND_TEXT.get(kind, kind.replace("-", " ")),
                        run.error or ("no cosine_spearman stored" if run.status == "ok" else ""),
                        run.finished_at or run.started_at or "",
                    )
                )
                continue
            ci = stored_ci(run)
            cells[unit] = Cell(
                score * 100,
                None if ci is None else (ci[0] * 100, ci[1] * 100),
                run.n_pairs,
                run,
                selection=selections[key][unit],
            )
        if not cells:
            continue
        ordered = sorted(cells)
        grouped_out = [u for u in ordered if u in stand_in and stand_in[u] in cells]
        counted = [u for u in ordered if u not in grouped_out]
        avg, avg_ci = mean_ci([cells[u].score for u in counted], [cells[u].ci for u in counted])
        runs = [cells[u].run for u in ordered]
        zero = {u: zero_shot(info.spec, u.task) for u in units}
        zero_warnings.update(
            f"{info.name}, {u.label}: {z.disagreement}"
            for u, z in zero.items()
            if z.disagreement and u in cells
        )
        rows.append(
            Row(
                info,
                cells,
                avg,
                avg_ci,
                len(cells),
                len(units),
                any(r.off_card_language for r in runs),
                speed=speed_of(runs, [r.run for rs in grouped[key].values() for r in rs]),
                zero_shot=zero,
                grouped_out=grouped_out,
            )
        )
    rows.sort(key=rank_order)
    methods: set[str] = set()
    pairs = [
        (row.cells[u].run, rows[0].cells[u].run) for row in rows[1:] for u in _shared_units(row, rows[0])
    ]
    if isinstance(bootstrap, PairedTests):
        tests = iter(bootstrap.run(pairs))
    elif bootstrap is not None:
        tests = iter(PairedTests(bootstrap).run(pairs))
    else:
        tests = iter([paired_test(a, b, None) for a, b in pairs])
    for i, row in enumerate(rows, start=1):
        row.rank = i
        if i == 1:
            row.tie = "leader"
            continue
        row_tests = [next(tests) for _ in _shared_units(row, rows[0])]
        row.tie, row.tie_method, row.tie_detail = _tie(row, rows[0], row_tests)
        if row.tie_method:
            methods.add(row.tie_method)

    claims: list[ClaimRow] = []
    page_keys = set(chosen) | {s.key for s in specs if spec_covers(s, lang)}
    for key in sorted(page_keys):
        info = infos.get(key) or model_info(key, by_key.get(key), [])
        row = next((r for r in rows if r.model.key == key), None)
        ok_runs = {u: c.run for u, c in row.cells.items()} if row else {}
        claims.extend(check_claims(info, lang, ok_runs, key in chosen))

    not_run: list[tuple[ModelInfo, str]] = []
    for spec in sorted(specs, key=lambda s: s.key):
        if spec.key in chosen or not spec_covers(spec, lang):
            continue
        info = model_info(spec.key, spec, [])
        infos.setdefault(spec.key, info)
        reason = f"no result stored for {language_name(lang)}"
        if spec.errors:
            reason += "; the card has errors: " + "; ".join(sorted(spec.errors))
        not_run.append((info, reason))

    audits = [
        a
        for a in (
            card_audit(infos[k], [r.run for rs in grouped.get(k, {}).values() for r in rs])
            for k in sorted(infos, key=lambda k: (infos[k].name.lower(), k))
        )
        if a
    ]
    meta = [
        _meta_row(infos[k], [r for rs in grouped[k].values() for r in rs])
        for k in sorted(grouped, key=lambda k: (infos[k].name.lower(), k))
    ]
    stamps = sorted(
        t for r in mine for t in (r.run.started_at, r.run.finished_at) if t
    )  # dates stored in results
    commits = sorted({r.run.git_commit for r in mine if r.run.git_commit})
    return LanguagePage(
        lang=lang,
        name=language_name(lang),
        units=units,
        rows=rows,
        claims=claims,
        audits=audits,
        failures=sorted(
            failures, key=lambda f: (f.model.name.lower(), f.model.key, f.unit or Unit("", "", ""))
        ),
        not_run=not_run,
        meta=meta,
        date_range=(stamps[0], stamps[-1]) if stamps else None,
        commits=commits,
        tie_methods=sorted(methods),
        task_audits=audited,
        groups=[
            g
            for g in (task_report.groups if task_report else [])
            if any(a.group == g.representative for a in audited.values() if a.key != g.representative)
        ],
        zero_shot_warnings=sorted(zero_warnings),
    )
