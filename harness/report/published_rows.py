"""Published leaderboards: every model MTEB published a score for on a language's tasks, beside ours.

With ``report --mteb-results DIR`` a language page ranks, besides the models we measured, every
model with a published main score on the language's tasks (those ``harness tasks --lang`` lists
that are MTEB's, at their current versions: ``STS22.v2`` is a column, ``STS22`` never joins it).
One row per model (the Hub id), marked by source:

* *measured* (ours only), *published* (MTEB's only) or *both*. A *both* row ranks by our scores,
  filled with MTEB's for tasks we did not run, and says whether MTEB's number was reproduced
  (inside our 95% interval on every task we share) or by how much it differs, naming the
  revisions when ours are not the ones MTEB evaluated.
* The published result that stands for a model on a task follows mteb's own rule
  (``BenchmarkResults.join_revisions``): the revision mteb's registry names for the model, else a
  file that records its mteb version, else a real revision (not ``external`` /
  ``no_revision_available``), the newest mteb version first. Those two folder names are used and
  shown as such.
* Published scores come without per-pair similarities, so their 95% interval is **approximate**:
  Fisher's z of Spearman's rho with the Bonett–Wright variance ``(1 + rho²/2) / (n - 3)``, n the
  task's test pairs (mteb's descriptive statistics). Tie marks against a published score compare
  those intervals and say so; two measured rows keep the paired bootstrap.
* Facts of a published row (parameters, dimension, max tokens, license, open weights, release
  date, zero-shot) come from mteb's ``ModelMeta`` when it knows the model, else the result
  folder's ``model_meta.json``, each with its source; the card's facts where we have a card.
  A fact nobody states stays blank.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.evaluate import mean_ci
from harness.published import Published, PublishedIndex, registered_revisions
from harness.records import ModelSpec
from harness.report.page import (
    Cell,
    Fact,
    LanguagePage,
    ModelInfo,
    PublishedFacts,
    PublishedScore,
    Row,
    Unit,
    rank_order,
)
from harness.report.view import interval_tie, stand_ins
from harness.report.words import f2, hub_url, human_count
from harness.report.zeroshot import ZeroShot, zero_shot

APPROX_METHOD = "approximate interval overlap"
NO_REVISION = ("external", "no_revision_available")
Z95 = 1.959963984540054


def approximate_ci(rho: float, n_pairs: int | None) -> tuple[float, float] | None:
    """Approximate 95% interval of a Spearman correlation from n pairs (Fisher z, Bonett–Wright)."""
    if n_pairs is None or n_pairs <= 3 or not -1.0 < rho < 1.0:
        return None
    half = Z95 * math.sqrt((1.0 + rho * rho / 2.0) / (n_pairs - 3))
    z = math.atanh(rho)
    return math.tanh(z - half), math.tanh(z + half)


@functools.cache
def language_units(lang: str) -> tuple[Unit, ...]:
    """MTEB's tasks that `harness tasks` lists for the language, as page columns."""
    from harness.tasks.catalog import catalog

    try:
        tasks = catalog([lang])
    except Exception:  # a code the catalog cannot read has no MTEB task
        return ()
    return tuple(sorted({Unit(t.name, t.subset, t.split) for t in tasks if t.in_mteb}))


@functools.cache
def test_pairs(unit: Unit) -> int | None:
    """The number of pairs of a task split (mteb's descriptive statistics), or None."""
    from harness.tasks.verify import shipped_statistics

    stats = shipped_statistics(unit.task, unit.subset, unit.split)
    n = stats.get("num_samples") if stats else None
    return n if isinstance(n, int) and n > 0 else None


def published_languages(index: PublishedIndex) -> list[str]:
    """Every language with a published score on one of its tasks (the pages `report` writes)."""
    from harness.tasks.catalog import catalog

    have = {(e.task, e.subset, e.split) for e in index.entries}
    return sorted({t.languages[0] for t in catalog() if t.in_mteb and (t.name, t.subset, t.split) in have})


def _version_key(version: str | None) -> Any:
    from packaging.version import InvalidVersion, Version

    try:
        return (1, Version(version or ""))
    except InvalidVersion:
        return (0, Version("0"))


def standing_results(entries: Sequence[Published], model: str) -> dict[str, list[Published]]:
    """Task -> the scores of the one published file that stands for the model (mteb's rule)."""
    main = registered_revisions().get(model)
    files: dict[tuple[str, str], list[Published]] = {}
    for e in entries:
        files.setdefault((e.task, e.path), []).append(e)
    best: dict[str, tuple[Any, list[Published]]] = {}
    for (task, path), scores in files.items():
        e = scores[0]
        key = (
            e.revision == main,
            e.mteb_version is not None,
            e.revision not in NO_REVISION,
            _version_key(e.mteb_version),
            e.revision,
            path,
        )
        if task not in best or key > best[task][0]:
            best[task] = (key, scores)
    return {task: scores for task, (_, scores) in best.items()}


def _published_cells(entries: Sequence[Published], model: str, units: Sequence[Unit]) -> dict[Unit, Cell]:
    wanted = set(units)
    cells: dict[Unit, Cell] = {}
    for scores in standing_results(entries, model).values():
        for e in scores:
            unit = Unit(e.task, e.subset, e.split)
            if unit not in wanted:
                continue
            n = test_pairs(unit)
            ci = approximate_ci(e.score, n)
            cells[unit] = Cell(
                e.score * 100,
                None if ci is None else (ci[0] * 100, ci[1] * 100),
                n,
                None,
                PublishedScore(e.revision, e.path),
            )
    return cells


def _mteb_meta(model: str) -> Any | None:
    from harness.mteb_meta import model_meta

    return model_meta(model)


def published_facts(model: str, cells: dict[Unit, Cell]) -> PublishedFacts:
    """Facts of a published model: mteb's ModelMeta first, else the results' ``model_meta.json``."""
    meta = _mteb_meta(model)
    paths = sorted({c.published.path for c in cells.values() if c.published})
    folder_meta: dict[str, Any] = {}
    for path in paths:
        data = _folder_meta(str(Path(path).parent))
        if data:
            folder_meta = data
            break
    fields = (
        ("parameters", "n_parameters"),
        ("dimension", "embed_dim"),
        ("max tokens", "max_tokens"),
        ("license", "license"),
        ("open weights", "open_weights"),
        ("release date", "release_date"),
    )
    values: dict[str, tuple[Any, str]] = {}
    for label, attr in fields:
        value = getattr(meta, attr, None) if meta is not None else None
        source = "mteb ModelMeta"
        if _blank(value):
            value, source = folder_meta.get(attr), "model_meta.json"
        if not _blank(value):
            values[label] = (value, source)
    facts = tuple(Fact(label, _shown(label, v), src) for label, (v, src) in values.items())
    zero_shot, evidence = _zero_shot(model, sorted({u.task for u in cells}))
    return PublishedFacts(
        facts,
        _int(values.get("parameters", (None, ""))[0]),
        _int(values.get("dimension", (None, ""))[0]),
        str(values["license"][0]) if "license" in values else None,
        zero_shot,
        evidence,
    )


@functools.lru_cache(maxsize=4096)
def _folder_meta(folder: str) -> dict[str, Any]:
    """A revision folder's ``model_meta.json`` (read once per report; {} when absent or unreadable)."""
    from harness.model_files import read_json

    data, _ = read_json(Path(folder) / "model_meta.json")
    return data if isinstance(data, dict) else {}


def _blank(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, list | tuple) and not value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value)


def _shown(label: str, value: Any) -> str:
    if label == "parameters" and _int(value) is not None:
        return human_count(_int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@functools.cache
def _training_sets(model: str) -> frozenset[str] | None:
    """mteb's ``ModelMeta.get_training_datasets`` (similar tasks included), once per model."""
    meta = _mteb_meta(model)
    try:
        found = meta.get_training_datasets() if meta is not None else None
    except Exception:  # a registry entry mteb cannot resolve: unknown
        return None
    return None if found is None else frozenset(found)


def _zero_shot(model: str, tasks: list[str]) -> tuple[bool | None, str]:
    """mteb's rule (``ModelMeta.is_zero_shot_on``: no training set among the tasks) and the evidence."""
    trained = _training_sets(model)
    if trained is None or not tasks:
        return None, "mteb ModelMeta lists no training data" if _mteb_meta(model) is not None else ""
    overlap = sorted(trained & set(tasks))
    if not overlap:
        return True, "mteb ModelMeta: no training set among these tasks"
    return False, "mteb ModelMeta: trained on " + ", ".join(overlap)


def _row_model_id(row: Row) -> str:
    spec = row.model.spec
    if spec is not None and spec.model_id.value:
        return spec.model_id.value
    return row.model.name


def _average(row: Row, stand_in: dict[Unit, Unit]) -> None:
    """The row's average over its columns, a near-copy counted once (as on measured rows)."""
    ordered = sorted(row.cells)
    row.grouped_out = [u for u in ordered if u in stand_in and stand_in[u] in row.cells]
    counted = [u for u in ordered if u not in row.grouped_out]
    row.average, row.average_ci = mean_ci(
        [row.cells[u].score for u in counted], [row.cells[u].ci for u in counted]
    )
    row.n_tasks = len(row.cells)


def _zero_shot_cells(row: Row, model: str) -> None:
    """Zero-shot cells for the columns a published score added: the card's rule where the registry has
    the model, else mteb's (``ModelMeta.is_zero_shot_on`` for that task)."""
    for unit in row.cells:
        if unit in row.zero_shot:
            continue
        if row.model.spec is not None:
            row.zero_shot[unit] = zero_shot(row.model.spec, unit.task)
        else:
            value, evidence = _zero_shot(model, [unit.task])
            row.zero_shot[unit] = ZeroShot(
                value, evidence or "no card in the registry; mteb does not know it"
            )


def _reproduction(row: Row, page: LanguagePage, published: dict[Unit, Cell]) -> tuple[bool | None, str]:
    """Whether MTEB's numbers for a model we measured lie inside our intervals, in words."""
    matches = [p for p in page.published if p.model.key == row.model.key]
    if matches:
        worst = max(matches, key=lambda p: abs(p.difference))
        notes = sorted({p.note for p in matches if p.note})
        suffix = "; " + "; ".join(notes) if notes else ""
        if all(p.within for p in matches):
            return True, "reproduced" + suffix
        return False, (
            f"differs by {abs(worst.difference):.2f} on {worst.unit.label} "
            f"(ours {f2(worst.measured)}, MTEB {f2(worst.published)}){suffix}"
        )
    ours = next((m.revisions for m in page.meta if m.model.key == row.model.key), "")
    theirs = sorted({c.published.revision[:12] for c in published.values() if c.published})
    shared = set(published) & {u for u, c in row.cells.items() if c.run is not None}
    if not shared:
        return None, "not compared: no task measured by both"
    return None, f"not compared: MTEB published revision {', '.join(theirs)}; ours {ours or 'unknown'}"


def add_published_rows(page: LanguagePage, index: PublishedIndex, specs: Sequence[ModelSpec] = ()) -> None:
    """Put every model with a published score on the page's language tasks on the page (in place):
    published-only rows, *both* rows, one ranking, ties against the overall leader."""
    units = language_units(page.lang)
    wanted = {(u.task, u.subset, u.split) for u in units}
    by_model: dict[str, list[Published]] = {}
    for e in index.entries:
        if (e.task, e.subset, e.split) in wanted:
            by_model.setdefault(e.model, []).append(e)
    measured = {_row_model_id(r).lower(): r for r in page.rows}
    by_id = {s.model_id.value.lower(): s for s in specs if s.model_id.value}
    old_leader = page.leader
    stand_in = stand_ins(page.task_audits)
    new_rows: list[Row] = []
    for model in sorted(by_model):
        cells = _published_cells(by_model[model], model, units)
        if not cells:
            continue
        row = measured.get(model.lower())
        if row is not None:
            row.source = "both"
            row.facts = published_facts(model, cells)
            row.reproduced, row.reproduction = _reproduction(row, page, cells)
            for unit, cell in cells.items():
                row.cells.setdefault(unit, cell)
            _average(row, stand_in)
            _zero_shot_cells(row, model)
            continue
        spec = by_id.get(model.lower())
        info = ModelInfo(spec.key if spec else model, model, None, hub_url(model), spec)
        row = Row(
            info, cells, 0.0, None, 0, 0, False, source="published", facts=published_facts(model, cells)
        )
        _average(row, stand_in)
        _zero_shot_cells(row, model)
        new_rows.append(row)
    if not new_rows and not any(r.source == "both" for r in page.rows):
        return
    page.rows.extend(new_rows)
    page.units = sorted(set(page.units) | {u for r in page.rows for u in r.cells})
    for row in page.rows:
        row.n_total = len(page.units)
    page.rows.sort(key=rank_order)
    _rank(page, old_leader)
    n_pub = sum(r.source == "published" for r in page.rows)
    n_both = sum(r.source == "both" for r in page.rows)
    n_published = n_pub + n_both
    page.published_note = (
        f"{n_published} model{'s' if n_published != 1 else ''} with MTEB published scores "
        f"({n_both} also measured here), "
        f"{sum(r.source == 'measured' for r in page.rows)} measured here only"
    )


def _rank(page: LanguagePage, old_leader: Row | None) -> None:
    """Ranks and tie marks against the overall leader; a measured pair keeps its paired test."""
    leader = page.rows[0]
    methods: set[str] = set()
    for i, row in enumerate(page.rows, start=1):
        row.rank = i
        if i == 1:
            row.tie, row.tie_method, row.tie_detail = "leader", "", ""
            continue
        shared = sorted(set(row.cells) & set(leader.cells))
        paired_kept = (
            leader is old_leader
            and row.tie_method
            and not any(row.cells[u].approximate or leader.cells[u].approximate for u in shared)
        )
        if not paired_kept:
            if not shared:
                row.tie, row.tie_method, row.tie_detail = "unknown", "", "no task in common with the leader"
            else:
                approximate = any(row.cells[u].approximate or leader.cells[u].approximate for u in shared)
                method = APPROX_METHOD if approximate else "interval overlap"
                row.tie, row.tie_method, row.tie_detail = interval_tie(row, leader, shared, method)
        if row.tie_method:
            methods.add(row.tie_method)
    page.tie_methods = sorted(methods)
