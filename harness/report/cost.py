"""The cost of a vector: each model's score against the bytes of its vectors and its speed.

A pure function of the page and the stored variant results (harness.variants): per model its
full vectors (float32, all dimensions) and every stored variant (fewer dimensions, int8, binary),
each with its score and 95% interval over the page's tasks and its paired difference from the
same model's full vectors (the paired bootstraps stored with each variant, combined over tasks
as ``harness.evaluate.combine_paired`` does). The summary names the smallest vector whose score
lies within the leader's interval.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.evaluate import PairedTest, combine_paired, finite, mean_ci, stored_ci
from harness.records import RunRecord
from harness.report.lang import run_language
from harness.report.page import CostRow, CostSection, LanguagePage, Row, SpeedGroup, Unit
from harness.report.view import unit_of
from harness.store import StoredResult, select_run
from harness.variants import PRECISIONS, bytes_per_vector

FULL_PRECISION = "float32"


def _full_dims(row: Row) -> int | None:
    for cell in row.cells.values():
        if cell.run.encode is not None and cell.run.encode.dimension:
            return cell.run.encode.dimension
    spec = row.model.spec
    return spec.dimension.value if spec is not None else None


def _full_row(row: Row) -> CostRow:
    dims = _full_dims(row)
    return CostRow(
        model=row.model,
        dims=dims,
        precision=FULL_PRECISION,
        bytes_per_vector=bytes_per_vector(dims, FULL_PRECISION) if dims else None,
        average=row.average,
        ci=row.average_ci,
        scores={u: c.score for u, c in row.cells.items()},
        n_tasks=row.n_tasks,
        n_total=row.n_total,
        full=True,
    )


def _loss(runs: Sequence[RunRecord]) -> PairedTest | None:
    tests = []
    for run in runs:
        v = run.variant
        if v is None or v.delta_vs_full is None or v.delta_ci95 is None or v.p_value is None:
            return None
        ci = (v.delta_ci95[0], v.delta_ci95[1])
        tests.append(PairedTest("ok", "paired bootstrap", v.delta_vs_full, ci, v.p_value, run.n_pairs))
    return combine_paired(tests) if tests else None


def _variant_row(row: Row, cells: dict[Unit, RunRecord]) -> CostRow | None:
    shared = sorted(u for u in cells if u in row.cells)  # the tasks of the model's leaderboard row
    # the main score: cosine Spearman, or the Spearman of minus the Hamming distance for ubinary
    scores = {u: s for u in shared if (s := finite(cells[u].scores.get("main_score"))) is not None}
    if not scores:
        return None
    units = sorted(scores)
    cis = [None if (ci := stored_ci(cells[u])) is None else (ci[0] * 100, ci[1] * 100) for u in units]
    average, ci = mean_ci([scores[u] * 100 for u in units], cis)
    facts = cells[units[0]].variant
    if facts is None:
        return None
    return CostRow(
        model=row.model,
        dims=facts.dims,
        precision=facts.precision,
        bytes_per_vector=facts.bytes_per_vector,
        average=average,
        ci=ci,
        scores={u: scores[u] * 100 for u in units},
        n_tasks=len(units),
        n_total=row.n_total,
        full=False,
        similarity=facts.similarity,
        loss=_loss([cells[u] for u in units]),
    )


def _speed_groups(rows: Sequence[Row]) -> list[SpeedGroup]:
    groups: dict[tuple[str, str], list[tuple[Row, float]]] = {}
    for row in rows:
        rate = row.speed.sentences_per_second if row.speed else None
        if row.speed is None or not rate or rate <= 0 or "," in row.speed.device + row.speed.dtype:
            continue  # not measured (fully cached), or measured on several devices or dtypes
        groups.setdefault((row.speed.device, row.speed.dtype), []).append((row, rate))
    return [SpeedGroup(device, dtype, points) for (device, dtype), points in sorted(groups.items())]


def cost_section(page: LanguagePage, variants: Sequence[StoredResult]) -> CostSection | None:
    """The page's cost section: None until a variant of some model's vectors is stored for the
    language (``run --dims/--precision``, or a card that declares Matryoshka dimensions)."""
    by_model: dict[str, dict[tuple[int | None, str], dict[Unit, list[StoredResult]]]] = {}
    for stored in variants:
        if stored.run.status != "ok" or stored.run.variant is None or run_language(stored.run) != page.lang:
            continue
        shape = (stored.run.variant.dims, stored.run.variant.precision)
        per = by_model.setdefault(stored.model_key, {}).setdefault(shape, {})
        per.setdefault(unit_of(stored), []).append(stored)
    rows: list[CostRow] = []
    for row in page.rows:
        rows.append(_full_row(row))
        shapes = by_model.get(row.model.key, {})
        order = sorted(shapes, key=lambda s: (-(s[0] or 0), PRECISIONS.index(s[1])))
        for shape in order:
            cells = {u: select_run(recs).shown.run for u, recs in shapes[shape].items()}
            variant = _variant_row(row, cells)
            if variant is not None:
                rows.append(variant)
    if all(r.full for r in rows) or not any(r.bytes_per_vector for r in rows):
        return None  # no variant stored for the language: the page is as it was without the feature
    leader = page.leader
    interval = None if leader is None else (leader.average_ci or (leader.average, leader.average))
    within = [
        r for r in rows if interval and r.complete and r.bytes_per_vector and r.average >= interval[0] - 1e-9
    ]
    smallest = min(within, key=lambda r: (r.bytes_per_vector or 0, -r.average), default=None)
    return CostSection(rows, smallest, interval, _speed_groups(page.rows))


def pareto_front(rows: Sequence[CostRow]) -> list[CostRow]:
    """The rows no other row beats on both size and score (smallest first)."""
    front: list[CostRow] = []
    for row in sorted(rows, key=lambda r: (r.bytes_per_vector or 0, -r.average)):
        if not front or row.average > front[-1].average:
            front.append(row)
    return front
