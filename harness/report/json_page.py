"""``reports/<lang>.json``: a language page's numbers for scripts (the page model as plain JSON).

Scores are points (cosine Spearman ×100, as the pages show them), keyed by the task's label.
``variants`` lists every stored variant of a model's vectors (harness.variants): ``dims`` is the
number of dimensions scored (the model's full dimension when not cut), ``precision`` float32,
int8 or ubinary.
"""

from __future__ import annotations

from typing import Any

from harness.report.page import LanguagePage


def _points(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def language_json(page: LanguagePage) -> dict[str, Any]:
    """The page as one JSON object: language, tasks, rows, leader, best_zero_shot, variants."""
    rows = [
        {
            "model": row.model.name,
            "rank": row.rank,
            "average": _points(row.average),
            "ci95": None if row.average_ci is None else [_points(x) for x in row.average_ci],
            "scores": {u.label: _points(c.score) for u, c in sorted(row.cells.items())},
        }
        for row in page.rows
    ]
    variants = [
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
    return {
        "language": page.lang,
        "tasks": [u.label for u in page.units],
        "rows": rows,
        "leader": page.leader.model.name if page.leader is not None else None,
        "best_zero_shot": None,
        "variants": variants,
    }
