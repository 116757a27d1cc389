"""``reports/<lang>.json``: a language page for scripts (the same page model the HTML and Markdown show).

Scores are on the 0–1 scale (the pages show ×100). The keys below are a contract; fields may be
added, none renamed (README.md, "reports/<lang>.json"):

    {"language", "name",
     "tasks": [{"key", "name", "subset", "split", "sample_creation", "family", "group",
                "audit": {"test_pairs", "in_train_exact", "in_train_swapped", "in_train_normalized",
                          "in_dev_exact", "in_dev_swapped", "in_dev_normalized",
                          "duplicates_in_test"} | null}],
     "groups": [{"representative", "members", "reason"}],
     "rows": [{"model", "key", "rank", "average", "average_ci", "complete", "counted",
               "scores": {task_key: score}, "ci": {task_key: [low, high] | null},
               "zero_shot": {task_key: true | false | null}, "zero_shot_evidence": {task_key: "..."},
               "source": "measured" | "published" | "both",
               "score_source": {task_key: "measured" | "published"}, "approximate_ci": [task_key, ...],
               "settings": {task_key: {"revision", "data_revision", "settings_hash", "settings": {...},
                                       "reason"}},
               "other_runs": {task_key: [{"revision", "data_revision", "settings_hash", "settings",
                                          "differs", "status", "score", "finished_at"}]},
               "degenerate": ["<task_key>: output looks degenerate: probe gap 0.01", ...] (empty: sound),
               "probe": {task_key: {"verdict", "gap", "paraphrase_mean", "unrelated_mean",
                                    "n_paraphrase", "n_unrelated", "threshold"}} (none stored: absent),
               both only: "published_score": {task_key: score}, "reproduced": true | false | null,
               "reproduction": "reproduced" | "differs by ...";
               published and both: "facts": {label: {value, source}}}],
     "leader" (never a degenerate row), "best_measured", "best_zero_shot", "zero_shot_warnings",
     "variants": [{"model", "dims", "precision", "bytes_per_vector", "scores": {task_key: score},
                   "average", "ci95", "similarity"}]}

With ``--mteb-results``, every model MTEB published a score for on the language's tasks is a row:
``source`` says whose numbers it has; a published score's interval is approximate (from the number of
pairs, see `harness.report.published_rows`) and its task is listed in ``approximate_ci``.

``settings`` says, per measured score, what the run shown was measured with and why it stands
(harness.store.select_run: the newest successful run, except that an fp16 or bf16 run never replaces
an fp32 run of the same model revision); ``other_runs`` lists, where there are any, the other
versions stored for the same task (another revision, data or settings), each with how it differs.

``task_key`` is a column's label (``STSBenchmarkMultilingualSTS[de]``, ``GermanSTSBenchmark``; a
split other than test is added: ``JSTS (validation)``).

``variants`` lists every stored variant of a model's vectors (harness.variants): ``dims`` is the
number of dimensions scored (the model's full dimension when not cut), ``precision`` float32, int8 or
ubinary; ``similarity`` the one its scores use (cosine, or minus the Hamming distance).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from harness.evaluate import MAIN_METRIC, finite
from harness.report.page import LanguagePage, Row, Unit
from harness.store import Other, StoredResult
from harness.tasks.families import family_of, sample_creation

AUDIT_KEYS = (
    "test_pairs",
    "in_train_exact",
    "in_train_swapped",
    "in_train_normalized",
    "in_dev_exact",
    "in_dev_swapped",
    "in_dev_normalized",
    "duplicates_in_test",
)


def _points(value: float | None) -> float | None:
    return None if value is None else round(value / 100, 6)


def _task(page: LanguagePage, unit: Unit) -> dict[str, Any]:
    audit = page.task_audits.get(unit)
    family = family_of(unit.task)
    counts = asdict(audit.audit) if audit is not None and audit.audit is not None else None
    return {
        "key": unit.label,
        "name": unit.task,
        "subset": unit.subset,
        "split": unit.split,
        "sample_creation": audit.sample_creation if audit is not None else sample_creation(unit.task),
        "family": family.key if family else None,
        "group": audit.group if audit is not None else None,
        "audit": {k: counts[k] for k in AUDIT_KEYS} if counts is not None else None,
    }


def _version(stored: StoredResult) -> dict[str, Any]:
    """What a stored run was measured with: model revision, data revision and settings."""
    run = stored.run
    return {
        "revision": stored.revision,
        "data_revision": run.data_revision,
        "settings_hash": run.settings_hash or run.settings.identity_hash(),
        "settings": run.settings.hashed_fields(),
    }


def _other(other: Other[StoredResult]) -> dict[str, Any]:
    run = other.item.run
    score = finite(run.scores.get(MAIN_METRIC)) if run.status == "ok" else None
    return {
        **_version(other.item),
        "differs": other.differs,
        "status": run.status,
        "score": None if score is None else round(score, 6),
        "finished_at": run.finished_at,
    }


def _row(page: LanguagePage, row: Row) -> dict[str, Any]:
    cells = sorted(row.cells.items())
    selected = [(u, c.selection) for u, c in cells if c.selection is not None]
    out = {
        "model": row.model.name,
        "key": row.model.key,
        "rank": row.rank,
        "average": _points(row.average),
        "average_ci": [_points(x) for x in row.average_ci] if row.average_ci else None,
        "complete": row.complete,
        "counted": [u.label for u, _ in cells if u not in row.grouped_out],
        "scores": {u.label: _points(c.score) for u, c in cells},
        "ci": {u.label: [_points(x) for x in c.ci] if c.ci else None for u, c in cells},
        "zero_shot": {u.label: z.value for u, z in sorted(row.zero_shot.items())},
        "zero_shot_evidence": {u.label: z.evidence for u, z in sorted(row.zero_shot.items())},
        "source": row.source,
        "score_source": {u.label: "published" if c.published else "measured" for u, c in cells},
        "approximate_ci": [u.label for u, c in cells if c.approximate],
        "settings": {u.label: {**_version(s.shown), "reason": s.reason} for u, s in selected},
        "other_runs": {u.label: [_other(o) for o in s.others] for u, s in selected if s.others},
        "degenerate": list(row.probe_flags),
        "probe": {u.label: c.run.probe.model_dump() for u, c in cells if c.run and c.run.probe},
    }
    if row.source == "both":
        out["published_score"] = {
            p.unit.label: _points(p.published) for p in page.published if p.model.key == row.model.key
        }
        out["reproduced"] = row.reproduced
        out["reproduction"] = row.reproduction
    if row.facts:
        out["facts"] = {f.label: {"value": f.value, "source": f.source} for f in row.facts.facts}
    return out


def _variants(page: LanguagePage) -> list[dict[str, Any]]:
    return [
        {
            "model": r.model.name,
            "dims": r.dims,
            "precision": r.precision,
            "bytes_per_vector": r.bytes_per_vector,
            "scores": {u.label: _points(s) for u, s in sorted(r.scores.items())},
            "average": _points(r.average),
            "ci95": None if r.ci is None else [_points(x) for x in r.ci],
            "similarity": r.similarity,
        }
        for r in (page.cost.rows if page.cost is not None else [])
        if not r.full
    ]


def language_json(page: LanguagePage) -> dict[str, Any]:
    """The page as one JSON-ready dict (see the module docstring for the keys)."""
    leader, best = page.leader, page.best_zero_shot
    return {
        "language": page.lang,
        "name": page.name,
        "tasks": [_task(page, u) for u in page.units],
        "groups": [asdict(g) for g in page.groups],
        "rows": [_row(page, r) for r in page.rows],
        "leader": leader.model.name if leader else None,
        "best_measured": page.best_measured.model.name if page.best_measured else None,
        "best_zero_shot": best.model.name if best else None,
        "zero_shot_warnings": list(page.zero_shot_warnings),
        "variants": _variants(page),
    }


def dumps(page: LanguagePage) -> str:
    """The file's text: sorted keys would reorder the contract, so insertion order, indented."""
    return json.dumps(language_json(page), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
