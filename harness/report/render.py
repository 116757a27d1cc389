"""Rendering: page models -> HTML and Markdown through the Jinja templates, and ``harness report``.

``build_reports`` is pure: it reads result files and the registry's `ModelSpec`s, loads no
model and recomputes no score (the only computation is the paired bootstrap on stored
per-pair similarities, seeded, and arithmetic on stored numbers). The same inputs give
byte-identical files: everything is sorted, the charts are rendered with a fixed SVG hash
salt and no date, and the only dates shown are those stored in the results.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from harness.evaluate import paired_bootstrap
from harness.published import PublishedError, PublishedScores, open_published
from harness.records import ModelSpec
from harness.report.charts import (
    CHART_TOP,
    SPEED_LABELS,
    TASK_MARKS_MAX,
    score_chart,
    size_chart,
    speed_chart,
    throughput_chart,
)
from harness.report.cost import cost_section
from harness.report.filters import NAMED_MAX, filter_choices, filterable, row_facets, zero_shot_choices
from harness.report.json_page import dumps as page_json
from harness.report.lang import report_languages, run_language
from harness.report.page import LanguagePage, ModelInfo, PublishedRow
from harness.report.paired import PairedTests
from harness.report.published_rows import add_published_rows, published_languages
from harness.report.view import build_page, model_info
from harness.report.words import (
    SELECTION_RULE,
    WARNING_TEXT,
    breakable,
    f2,
    human_bytes,
    human_count,
    human_rate,
    interval,
    language_name,
    md_escape,
    other_runs,
    plain,
    signed,
)
from harness.stderr import say
from harness.store import StoredResult, atomic_write_text, load_results, load_variants
from harness.tasks.audit import AuditReport, audit_tasks, unit_task

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"


def template_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(enabled_extensions=("html", "htm", "xml"), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        md=md_escape,
        f2=f2,
        signed=signed,
        interval=interval,
        human_bytes=human_bytes,
        human_rate=human_rate,
        human_count=human_count,
        plain=plain,
        breakable=breakable,
        other_runs=other_runs,
    )
    env.globals.update(
        language_name=language_name,
        warning_text=WARNING_TEXT,
        filterable=filterable,
        filter_choices=filter_choices,
        row_facets=row_facets,
        zero_shot_choices=zero_shot_choices,
        NAMED_MAX=NAMED_MAX,
        CHART_TOP=CHART_TOP,
        SPEED_LABELS=SPEED_LABELS,
        TASK_MARKS_MAX=TASK_MARKS_MAX,
        SELECTION_RULE=SELECTION_RULE,
    )
    return env


_CSP_PLACEHOLDER = "__HARNESS_CSP__"


def _script() -> Markup:
    return Markup((TEMPLATE_DIR / "sort.js").read_text(encoding="utf-8").strip())


def _with_csp(html: str) -> str:
    """Fill the Content-Security-Policy: nothing external, only the page's own inline script."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode() + "'"
        for body in re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    )
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src {hashes or chr(39) + 'none' + chr(39)}; base-uri 'none'; form-action 'none'"
    )
    return html.replace(_CSP_PLACEHOLDER, csp.replace("'", "&#39;"), 1)


def render_language(env: Environment, page: LanguagePage, results_label: str) -> tuple[str, str]:
    ctx = {
        "page": page,
        "results_label": results_label,
        "script": _script(),
        "csp": _CSP_PLACEHOLDER,
        "leader": page.leader,
        "tied": page.tied,
        "commits": page.commits,
    }
    # a large page drops its indentation (a 1,000-model leaderboard is ~40,000 lines)
    html = _with_csp(_tidy(env.get_template("language.html").render(ctx), dedent=filterable(page)))
    md = _tidy(env.get_template("language.md").render(ctx))
    return html, md


def _tidy(text: str, dedent: bool = False) -> str:
    lines = [line.strip() if dedent else line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    return "\n".join(out).strip() + "\n"


def render_index(
    env: Environment,
    pages: Sequence[LanguagePage],
    never_run: Sequence[tuple[ModelInfo, str]],
    load_errors: Sequence[str],
    results_label: str,
) -> str:
    stamps = sorted(t for p in pages if p.date_range for t in p.date_range)
    html = env.get_template("index.html").render(
        pages=pages,
        never_run=never_run,
        load_errors=load_errors,
        results_label=results_label,
        date_range=(stamps[0], stamps[-1]) if stamps else None,
        commits=sorted({c for p in pages for c in p.commits}),
        script=_script(),
        csp=_CSP_PLACEHOLDER,
    )
    return _with_csp(_tidy(html))


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    """Write a report atomically (a full disk leaves the previous page, never half of one)."""
    try:
        unchanged = path.is_file() and path.read_bytes() == text.encode("utf-8")
    except OSError:
        unchanged = False
    if not unchanged:
        atomic_write_text(path, text, what="report")
    return path


def published_rows(
    page: LanguagePage, results: Sequence[StoredResult], scores: PublishedScores
) -> list[PublishedRow]:
    """The "MTEB published" rows of a report page: every leaderboard cell with a published score."""
    by_run = {(r.model_key, r.task_name, r.run.subset, r.run.split, r.run.identity): r for r in results}
    rows: list[PublishedRow] = []
    for row in page.rows:
        for unit, cell in sorted(row.cells.items()):
            stored = by_run.get((row.model.key, unit.task, unit.subset, unit.split, cell.run.identity))
            found = scores.match(stored) if stored is not None else None
            if found is None:
                continue
            ci = None if found.ours_ci is None else (found.ours_ci[0] * 100, found.ours_ci[1] * 100)
            rows.append(
                PublishedRow(
                    row.model,
                    unit,
                    found.ours * 100,
                    ci,
                    found.published.score * 100,
                    found.difference * 100,
                    found.within_ci,
                    found.published.revision,
                    found.revision_note or "",
                )
            )
    return rows


def page_audits(lang: str, results: Sequence[StoredResult], data_dir: Path | None) -> AuditReport:
    """The audit of the tasks a language's results ran (harness.tasks.audit): without a data folder
    only how each test set was made and its family (mteb's metadata), nothing counted."""
    units = sorted(
        {
            (r.task_name, r.run.subset, r.run.split)
            for r in results
            if r.run.status == "ok" and run_language(r.run) == lang
        }
    )
    return audit_tasks(
        [unit_task(name, subset, split, lang, data_dir) for name, subset, split in units], data_dir
    )


def language_page(
    lang: str,
    results: Sequence[StoredResult],
    specs: Sequence[ModelSpec],
    tests: PairedTests | None,
    published: PublishedScores | None = None,
    data_dir: Path | None = None,
    variants: Sequence[StoredResult] = (),
) -> LanguagePage:
    """One language's page model with its published-score rows, its cost section (``variants``:
    the stored variant results, harness.variants) and its charts, ready to render.
    `data_dir`: the data folder, read to audit the page's tasks (near-copies count once).

    With `published`, every model MTEB published a score for on the language's tasks joins the
    leaderboard (`published_rows.add_published_rows`)."""
    page = build_page(lang, results, specs, tests, page_audits(lang, results, data_dir))
    page.cost = cost_section(page, variants)
    if published is not None:
        page.published = published_rows(page, results, published)
        add_published_rows(page, published.load_all(), specs)
    for name, chart in (("scores", score_chart(page)), ("speed", speed_chart(page))):
        if chart is not None:
            page.charts[name] = chart
    if page.cost is not None:
        size = size_chart(page.cost, lang)
        if size is not None:
            page.charts["size"] = size
        for i, group in enumerate(page.cost.speed_groups):
            page.charts[f"throughput-{i}"] = throughput_chart(group, lang, i)
    return page


def build_reports(
    results_dir: Path,
    specs: list[ModelSpec],
    out_dir: Path,
    languages: list[str] | None = None,
    *,
    load_errors: list[str] | None = None,
    published: PublishedScores | None = None,
    warnings: list[str] | None = None,
    data_dir: Path | None = None,
) -> list[Path]:
    """Write ``<lang>.html``, ``<lang>.md`` and ``<lang>.json`` per language and ``index.html``
    (returned last). ``data_dir``: the data folder, whose files audit each page's tasks
    (harness.tasks.audit: train/test overlap, near-copies counted once); without it each task
    still shows its family and how its test set was made, and nothing is counted.

    ``published``: MTEB's published scores (``--mteb-results``), shown beside ours where they
    match; without it the pages say nothing about them.

    Reads `results_dir` and `specs` only; the same inputs give byte-identical files. The one
    write beside the results is the paired-test cache (``.harness-cache/``, safe to delete).
    Unreadable result files are listed on the index page (and appended to `load_errors`); a
    problem with the paired-test cache (it never changes the pages) is appended to `warnings`.
    """
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    errors: list[str] = []
    results = load_results(results_dir, errors)
    variants = load_variants(results_dir, errors)
    if not results and published is None and warnings is not None:  # an empty report: exit 0, one line
        warnings.append(f"no results in {results_dir}: the pages list no scores")
    root_text = str(results_dir)
    errors = sorted(e.replace(root_text, results_dir.name) for e in errors)
    langs = report_languages(results, languages)
    if published is not None:
        index = published.load_all()  # every file read once, its problems counted in one line each
        if not languages:
            langs = sorted(set(langs) | set(published_languages(index)))
    specs = sorted(specs, key=lambda s: s.key)
    env = template_env()
    label = results_dir.name or str(results_dir)

    pages: list[LanguagePage] = []
    written: list[Path] = []
    tests = PairedTests(paired_bootstrap, cache_dir=results_dir)
    for lang in langs:
        try:
            page = language_page(lang, results, specs, tests, published, data_dir, variants)
            html, md = render_language(env, page, label)
        except (ValueError, ArithmeticError, TypeError) as exc:  # one page's data never stops the others
            errors.append(
                f"{lang}: page not written: {type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
            )
            continue
        written.append(_write(out_dir / f"{lang}.html", html))
        written.append(_write(out_dir / f"{lang}.md", md))
        written.append(_write(out_dir / f"{lang}.json", page_json(page)))
        pages.append(page)

    tests.close()
    if tests.problem and warnings is not None:
        warnings.append(tests.problem)
    have_results = {r.model_key for r in results}
    never_run = [
        (model_info(s.key, s, []), s.languages_label or "no language stated")
        for s in specs
        if s.key not in have_results
    ]
    if load_errors is not None:
        load_errors.extend(errors)
    written.append(_write(out_dir / "index.html", render_index(env, pages, never_run, errors, label)))
    return written


def load_specs(registry_dir: Path | None, data_dir: Path | None = None) -> list[ModelSpec]:
    if registry_dir is None or not Path(registry_dir).is_dir():
        return []
    from harness.card.training import with_sample_matches
    from harness.registry import load_registry  # written alongside; imported lazily

    return [with_sample_matches(s, data_dir) for s in load_registry(Path(registry_dir))]


def command_inputs(
    registry_dir: Path | None, mteb_results: Path | None, errors: list[str], data_dir: Path | None = None
) -> tuple[list[ModelSpec], PublishedScores | None] | None:
    """The registry's specs and MTEB's published scores for `report` and `compare`; None (said in one
    line) when either cannot be read. `data_dir`: where cards' training-sample rows are looked up."""
    try:
        specs = load_specs(registry_dir, data_dir)
    except Exception as exc:
        say(f"cannot read the registry {registry_dir}: {exc}")
        return None
    try:
        return specs, open_published(mteb_results, errors)
    except PublishedError as exc:
        say(str(exc))
        return None


def report_command(
    results_dir: Path,
    registry_dir: Path | None,
    out_dir: Path,
    languages: list[str] | None,
    mteb_results: Path | None = None,
    data_dir: Path | None = None,
) -> int:
    """`harness report`: write the reports, print each path (the index last). Returns the exit code."""
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    if not results_dir.is_dir():
        say(f"results folder not found: {results_dir}")
        return 2
    errors: list[str] = []
    inputs = command_inputs(registry_dir, mteb_results, errors, data_dir)
    if inputs is None:
        return 2
    specs, published = inputs
    try:
        paths = build_reports(
            results_dir,
            specs,
            out_dir,
            languages,
            load_errors=errors,
            published=published,
            warnings=errors,
            data_dir=data_dir,
        )
    except ValueError as exc:
        say(str(exc))
        return 2
    for err in errors:
        say(err, warning=True)
    for path in paths:
        print(path)
    return 0
