"""The machine-readable language page (``reports/<lang>.json``): the leaderboard as plain JSON.

Scores are on the page's scale (cosine Spearman ×100). Every row says where its numbers come
from: ``"source"`` is ``"measured"`` (ours only), ``"published"`` (MTEB's only, ``--mteb-results``)
or ``"both"`` (ours rank; ``"published_score"`` holds MTEB's score per task, ×100, and
``"reproduced"`` whether each lies inside our 95% interval). A published score's interval is
approximate (``"approximate": true``; see `harness.report.published_rows`).
"""

from __future__ import annotations

from typing import Any

from harness.report.page import Cell, LanguagePage, Row


def _cell(cell: Cell) -> dict[str, Any]:
    out: dict[str, Any] = {
        "score": round(cell.score, 6),
        "ci95": None if cell.ci is None else [round(cell.ci[0], 6), round(cell.ci[1], 6)],
        "n_pairs": cell.n_pairs,
        "source": "published" if cell.published else "measured",
    }
    if cell.published:
        out["approximate"] = True
        out["revision"] = cell.published.revision
    return out


def _row(page: LanguagePage, row: Row) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": row.model.name,
        "key": row.model.key,
        "rank": row.rank,
        "average": round(row.average, 6),
        "average_ci95": None if row.average_ci is None else [round(x, 6) for x in row.average_ci],
        "complete": row.complete,
        "tie": row.tie,
        "tie_method": row.tie_method,
        "source": row.source,
        "scores": {u.label: _cell(row.cells[u]) for u in page.units if u in row.cells},
        "zero_shot": row.facts.zero_shot if row.facts else None,
        "zero_shot_evidence": row.facts.zero_shot_evidence if row.facts else "",
    }
    if row.source == "both":
        out["published_score"] = {
            p.unit.label: round(p.published, 6) for p in page.published if p.model.key == row.model.key
        }
        out["reproduced"] = row.reproduced
        out["reproduction"] = row.reproduction
    if row.facts:
        out["facts"] = {f.label: {"value": f.value, "source": f.source} for f in row.facts.facts}
    return out


def language_json(page: LanguagePage) -> dict[str, Any]:
    """The page as a JSON-ready dict: language, tasks, rows (ranked), leader and best measured model."""
    best = page.best_measured
    return {
        "language": page.lang,
        "tasks": [
            {"task": u.task, "subset": u.subset, "split": u.split, "label": u.label} for u in page.units
        ],
        "rows": [_row(page, r) for r in page.rows],
        "leader": page.leader.model.name if page.leader else None,
        "best_measured": best.model.name if best else None,
    }
