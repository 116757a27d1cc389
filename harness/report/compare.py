"""`harness compare A B`: a side-by-side review of two models on every task both ran.

For each (task, subset, split) with a successful stored result for both models, it shows
both scores (cosine Spearman ×100 with their 95% intervals), the difference A − B and a
paired bootstrap test on the same sentence pairs, from the per-pair similarities stored in
the results (``harness.evaluate.paired_bootstrap``, seed 0). The test runs only when both
runs stored similarities for identical gold lists; otherwise it says why it was skipped.
"A is better" on a task means p < 0.05 *and* the 95% interval of the difference excludes 0.
Like the report, it loads no model and recomputes no score.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.evaluate import MAIN_METRIC, PairedTest, finite, paired_bootstrap, paired_test, stored_ci
from harness.published import PublishedMatch, PublishedScores
from harness.records import ModelSpec
from harness.report.lang import report_languages, run_language
from harness.report.page import CardAudit, ModelInfo, Speed, Unit
from harness.report.paired import PairedTests
from harness.report.render import command_inputs
from harness.report.view import card_audit, model_info, speed_of, unit_of
from harness.report.words import (
    f2,
    human_bytes,
    human_rate,
    interval,
    language_name,
    md_escape,
    paired_detail,
    plain,
    signed,
)
from harness.report.zeroshot import ZeroShot, zero_shot
from harness.stderr import say
from harness.store import StoredResult, load_results, select_run


class CompareError(Exception):
    """A problem with the request (unknown or ambiguous model); exit code 2."""


@dataclass(frozen=True)
class TaskComparison:
    unit: Unit
    lang: str
    a: float  # points
    a_ci: tuple[float, float] | None
    b: float
    b_ci: tuple[float, float] | None
    test: PairedTest
    # harness.report.zeroshot: was each model trained on this task's data (or its family's)?
    a_zero: ZeroShot = field(default_factory=lambda: ZeroShot(None, ""))
    b_zero: ZeroShot = field(default_factory=lambda: ZeroShot(None, ""))
    # harness.probe: "probe gap 0.01" when a side's output looked degenerate on this task, else ""
    a_degenerate: str = ""
    b_degenerate: str = ""

    @property
    def difference(self) -> float:
        return self.a - self.b

    @property
    def overlap(self) -> bool | None:
        if self.a_ci is None or self.b_ci is None:
            return None
        return self.a_ci[1] >= self.b_ci[0] and self.a_ci[0] <= self.b_ci[1]

    @property
    def winner(self) -> str | None:
        """ "a", "b" or None (no significant difference, or not tested)."""
        if not self.test.significant or self.test.delta is None:
            return None
        return "a" if self.test.delta > 0 else "b"

    def verdict(self) -> str:
        if self.test.status != "ok":
            hint = {True: "intervals overlap", False: "intervals do not overlap", None: "no intervals"}[
                self.overlap
            ]
            return f"not tested ({self.test.message}); {hint}"
        if self.winner in ("a", "b"):
            side = self.winner.upper()
            zero = self.a_zero if self.winner == "a" else self.b_zero
            return f"{side} is better" + (f" ({side} is not zero-shot on it)" if zero.value is False else "")
        return "no significant difference"

    def test_text(self) -> str:
        return paired_detail(self.test, with_n=True)


@dataclass(frozen=True)
class Side:
    info: ModelInfo
    speed: Speed | None
    audit: CardAudit | None


@dataclass(frozen=True)
class Comparison:
    a: Side
    b: Side
    lang: str | None
    tasks: list[TaskComparison]
    published: list[tuple[str, Unit, PublishedMatch]] = field(default_factory=list)  # ("A"/"B", task, match)

    def overall(self) -> str:
        """The verdict, and when the better model was trained on the tasks it wins, that too."""
        return " ".join(x for x in (self._overall(), self.zero_shot_caveat(), self.degenerate_caveat()) if x)

    def degenerate_caveat(self) -> str:
        """ "But A's output looks degenerate (probe gap 0.00 on T) ..." for each side its probe flagged."""
        out = []
        for side in ("a", "b"):
            flagged = [
                f"{gap} on {t.unit.label}" for t in self.tasks if (gap := getattr(t, f"{side}_degenerate"))
            ]
            if flagged:
                out.append(
                    f"But {side.upper()}'s output looks degenerate ({'; '.join(flagged)}): "
                    "its scores are not a working encoder's."
                )
        return " ".join(out)

    def zero_shot_caveat(self) -> str:
        """ "But A is not zero-shot on any of them: trained on …" for each side that wins tasks it
        (or its family) was trained on: its lead there may be in-domain training."""
        out = []
        for side in ("a", "b"):
            won = [t for t in self.tasks if t.test.status == "ok" and t.winner == side]
            trained = [t for t in won if (t.a_zero if side == "a" else t.b_zero).value is False]
            if not trained:
                continue
            zero = trained[0].a_zero if side == "a" else trained[0].b_zero
            which = (
                "any of them"
                if len(trained) == len(won) and len(won) > 1
                else ("it" if len(won) == 1 else f"{len(trained)} of the {len(won)} tasks it wins")
            )
            out.append(f"But {side.upper()} is not zero-shot on {which}: trained on {zero.trained_on}.")
        return " ".join(out)

    def _overall(self) -> str:
        n = len(self.tasks)
        tested = [t for t in self.tasks if t.test.status == "ok"]
        a_wins = sum(1 for t in tested if t.winner == "a")
        b_wins = sum(1 for t in tested if t.winner == "b")
        mean_diff = sum(t.difference for t in self.tasks) / n
        avg = f"average difference {signed(mean_diff)} points"
        tasks = f"{n} shared task{'s' if n != 1 else ''}"
        if not tested:
            return (
                f"Cannot tell: no shared task could be tested on the same pairs ({avg}). "
                "See each task's note for why."
            )
        untested = n - len(tested)
        tail = f"; {untested} task{'s' if untested != 1 else ''} not tested" if untested else ""
        if a_wins == n:
            every = "the one shared task" if n == 1 else f"every one of the {tasks}"
            return (
                f"Yes: A is better than B on {every} (p < 0.05 and the 95% interval "
                f"of the difference excludes 0; {avg})."
            )
        if a_wins and not b_wins:
            return f"Partly: A is significantly better on {a_wins} of {n} tasks and B on none ({avg}{tail})."
        if b_wins and not a_wins:
            return (
                f"No: B is better. B is significantly better on {b_wins} of {n} tasks and A on none "
                f"({avg}{tail})."
            )
        if a_wins and b_wins:
            return f"Mixed: A is better on {a_wins} task(s), B on {b_wins} ({avg}{tail})."
        return (
            f"No: the difference is not statistically significant on any of the {len(tested)} tested "
            f"task{'s' if len(tested) != 1 else ''} ({avg}{tail})."
        )


# --------------------------------------------------------------------------------------


def resolve_model(name: str, specs: Sequence[ModelSpec], results: Sequence[StoredResult]) -> str:
    """The model key for a registry key or model id (case-insensitive)."""
    wanted = name.strip().lower()
    keys = {s.key for s in specs} | {r.model_key for r in results}
    matches = {k for k in keys if k.lower() == wanted}
    if not matches:
        matches = {s.key for s in specs if (s.model_id.value or "").lower() == wanted} | {
            r.model_key for r in results if (r.model_id or "").lower() == wanted
        }
    if len(matches) > 1:
        raise CompareError(f"ambiguous model {name!r}: it names {', '.join(sorted(matches))}")
    if not matches:
        raise CompareError(f"unknown model {name!r}: not a registry key or model id with results")
    return matches.pop()


def _ok_records(key: str, results: Sequence[StoredResult], lang: str | None) -> dict[Unit, StoredResult]:
    grouped: dict[Unit, list[StoredResult]] = {}
    for r in results:
        if r.model_key != key or (lang is not None and run_language(r.run) != lang):
            continue
        grouped.setdefault(unit_of(r), []).append(r)
    chosen = {u: select_run(recs).shown for u, recs in grouped.items()}
    return {
        u: s
        for u, s in chosen.items()
        if s.run.status == "ok" and finite(s.run.scores.get(MAIN_METRIC)) is not None
    }


def _points(ci: tuple[float, float] | None) -> tuple[float, float] | None:
    return None if ci is None else (ci[0] * 100, ci[1] * 100)


def compare_models(
    key_a: str,
    key_b: str,
    results: Sequence[StoredResult],
    specs: Sequence[ModelSpec],
    lang: str | None,
    bootstrap: Callable[..., dict[str, Any]] | PairedTests | None,
    published: PublishedScores | None = None,
) -> Comparison:
    by_key = {s.key: s for s in specs}
    recs_a = _ok_records(key_a, results, lang)
    recs_b = _ok_records(key_b, results, lang)
    units = sorted(set(recs_a) & set(recs_b))
    pairs = [(recs_a[u].run, recs_b[u].run) for u in units]
    if bootstrap is None:
        tests = [paired_test(ra, rb, None) for ra, rb in pairs]
    else:
        tests = (bootstrap if isinstance(bootstrap, PairedTests) else PairedTests(bootstrap)).run(pairs)
    tasks = []
    for unit, (ra, rb), test in zip(units, pairs, tests, strict=True):
        tasks.append(
            TaskComparison(
                unit,
                run_language(ra),
                float(ra.scores[MAIN_METRIC]) * 100,
                _points(stored_ci(ra)),
                float(rb.scores[MAIN_METRIC]) * 100,
                _points(stored_ci(rb)),
                test,
                zero_shot(by_key.get(key_a), unit.task),
                zero_shot(by_key.get(key_b), unit.task),
                *(r.probe.gap_text if r.degenerate and r.probe else "" for r in (ra, rb)),
            )
        )

    def side(key: str, recs: dict[Unit, StoredResult]) -> Side:
        all_recs = [r for r in results if r.model_key == key]
        info = model_info(key, by_key.get(key), all_recs)
        shared = [recs[t.unit].run for t in tasks] or [s.run for s in recs.values()]
        return Side(info, speed_of(shared, [r.run for r in all_recs]), card_audit(info, shared))

    matches: list[tuple[str, Unit, PublishedMatch]] = []
    if published is not None:
        for t in tasks:
            for label, recs in (("A", recs_a), ("B", recs_b)):
                found = published.match(recs[t.unit])
                if found is not None:
                    matches.append((label, t.unit, found))
    return Comparison(side(key_a, recs_a), side(key_b, recs_b), lang, tasks, matches)


def _published_rows(cmp: Comparison) -> list[tuple[str, ...]]:
    """(task, model, measured, MTEB published, difference, check) per published match, as text."""
    rows = []
    for label, unit, m in cmp.published:
        ci = None if m.ours_ci is None else (m.ours_ci[0] * 100, m.ours_ci[1] * 100)
        check = {True: "within our 95% interval", False: "outside our 95% interval"}.get(
            m.within_ci, "no interval"
        )
        if m.revision_note:
            check += f"; {m.revision_note}"
        rows.append(
            (
                unit.label,
                label,
                f"{f2(m.ours * 100)} {interval(ci)}",
                f2(m.published.score * 100),
                signed(m.difference * 100),
                check,
            )
        )
    return rows


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def _card_rows(cmp: Comparison) -> list[tuple[str, str, str]]:
    def facts(side: Side) -> dict[str, str]:
        spec = side.info.spec
        out = {"model id": side.info.name}
        if spec is None:
            out["card"] = "no registry entry"
            return out
        out["languages"] = side.audit.languages if side.audit else "–"
        for f in side.audit.facts if side.audit else []:
            out[f.label] = f.value
        out["card warnings"] = ", ".join(code for code, _ in side.audit.warnings) if side.audit else ""
        out["card warnings"] = out["card warnings"] or "none"
        out["claims"] = str(len(spec.claims))
        return out

    fa, fb = facts(cmp.a), facts(cmp.b)
    labels = list(dict.fromkeys([*fa, *fb]))
    return [(label, fa.get(label, "–"), fb.get(label, "–")) for label in labels]


def _speed_rows(cmp: Comparison) -> list[tuple[str, str, str]]:
    def cols(s: Speed | None) -> dict[str, str]:
        if s is None:
            return {"sentences/s": "–", "peak memory": "–", "device": "–", "dtype": "–"}
        return {
            "sentences/s": human_rate(s.sentences_per_second),
            "peak memory": human_bytes(s.peak_memory_bytes),
            "device": s.device,
            "dtype": s.dtype,
        }

    a, b = cols(cmp.a.speed), cols(cmp.b.speed)
    return [(k, a[k], b[k]) for k in a]


def render_markdown(cmp: Comparison) -> str:
    md = md_escape

    def name(side: Side) -> str:
        return f"[{md(side.info.name)}]({side.info.url})" if side.info.url else md(side.info.name)

    scope = f" ({language_name(cmp.lang)})" if cmp.lang else ""
    lines = [
        f"# {md(cmp.a.info.name)} vs {md(cmp.b.info.name)}{scope}",
        "",
        f"- **A**: {name(cmp.a)}",
        f"- **B**: {name(cmp.b)}",
        "",
        f"**Is A really better than B?** {md(cmp.overall())}",
        "",
        "| Task | Language | A | B | A − B | Paired bootstrap | Verdict |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for t in cmp.tasks:
        lines.append(
            f"| {md(t.unit.label)} | {t.lang} | {f2(t.a)} {interval(t.a_ci)} | "
            f"{f2(t.b)} {interval(t.b_ci)} | {signed(t.difference)} | {md(t.test_text())} | "
            f"{md(t.verdict())} |"
        )
    lines += [
        "",
        "Scores are cosine Spearman ×100 with 95% intervals. A task verdict needs p < 0.05 and a 95% "
        "interval of the difference that excludes 0 (paired bootstrap on the same pairs, 1000 resamples).",
        "",
        *_published_markdown(cmp),
        "## Speed",
        "",
        "| | A | B |",
        "|---|---|---|",
        *[f"| {k} | {md(a)} | {md(b)} |" for k, a, b in _speed_rows(cmp)],
        "",
        "## Card facts",
        "",
        "| | A | B |",
        "|---|---|---|",
        *[f"| {md(k)} | {md(a)} | {md(b)} |" for k, a, b in _card_rows(cmp)],
    ]
    return "\n".join(lines) + "\n"


def _published_markdown(cmp: Comparison) -> list[str]:
    if not cmp.published:
        return []
    return [
        "## MTEB published",
        "",
        "| Task | Model | Measured | MTEB published | Difference | Check |",
        "|---|---|---:|---:|---:|---|",
        *[
            f"| {md_escape(task)} | {who} | {ours} | {theirs} | {diff} | {md_escape(check)} |"
            for task, who, ours, theirs, diff, check in _published_rows(cmp)
        ],
        "",
    ]


def render_text(cmp: Comparison, file: Any = None) -> None:
    from rich.table import Table
    from rich.text import Text

    from harness.console import table_console

    console = table_console(file, highlight=False, markup=False, emoji=False)
    p = plain
    scope = f" ({language_name(cmp.lang)})" if cmp.lang else ""
    console.print(Text(f"A = {p(cmp.a.info.name)}", style="bold"))
    console.print(Text(f"B = {p(cmp.b.info.name)}", style="bold"))
    table = Table(title=Text(f"A vs B{scope}: cosine Spearman ×100 with 95% intervals"), show_lines=False)
    for col, justify in (
        ("Task", "left"),
        ("Lang", "left"),
        ("A", "right"),
        ("B", "right"),
        ("A − B", "right"),
        ("Paired bootstrap", "left"),
        ("Verdict", "left"),
    ):
        table.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for t in cmp.tasks:
        table.add_row(
            Text(p(t.unit.label)),
            Text(t.lang),
            Text(f"{f2(t.a)} {interval(t.a_ci)}"),
            Text(f"{f2(t.b)} {interval(t.b_ci)}"),
            Text(signed(t.difference)),
            Text(p(t.test_text())),
            Text(p(t.verdict())),
        )
    console.print(table)
    console.print(Text("Is A really better than B? ", style="bold") + Text(p(cmp.overall())))
    console.print()
    if cmp.published:
        pub = Table(title=Text("MTEB published (×100); difference = measured − published"))
        for col in ("Task", "Model", "Measured", "MTEB published", "Difference", "Check"):
            pub.add_column(col, overflow="fold")
        for row in _published_rows(cmp):
            pub.add_row(*(Text(p(c)) for c in row))
        console.print(pub)
    for title, rows in (("Speed", _speed_rows(cmp)), ("Card facts", _card_rows(cmp))):
        side_table = Table(title=Text(title))
        side_table.add_column("")
        side_table.add_column("A")
        side_table.add_column("B")
        for k, a, b in rows:
            side_table.add_row(Text(p(k)), Text(p(a)), Text(p(b)))
        console.print(side_table)


def compare_command(
    model_a: str,
    model_b: str,
    results_dir: Path,
    registry_dir: Path | None,
    lang: str | None,
    as_markdown: bool,
    mteb_results: Path | None = None,
    data_dir: Path | None = None,
) -> int:
    """`harness compare`: 0 on success, 1 when the models share no task, 2 on a bad request.
    `data_dir`: where the cards' training-sample rows are looked up (zero-shot evidence)."""
    errors: list[str] = []
    results = load_results(Path(results_dir), errors)
    inputs = command_inputs(registry_dir, mteb_results, errors, data_dir)
    if inputs is None:
        return 2
    specs, published = inputs
    page_lang = None
    if lang:
        try:
            page_lang = report_languages([], [lang])[0]
        except ValueError as exc:
            say(str(exc))
            return 2
    try:
        key_a = resolve_model(model_a, specs, results)
        key_b = resolve_model(model_b, specs, results)
    except CompareError as exc:
        say(str(exc))
        return 2
    if key_a == key_b:
        say(f"{model_a!r} and {model_b!r} are the same model ({key_a})")
        return 2
    tests = PairedTests(paired_bootstrap, cache_dir=results_dir)
    cmp = compare_models(key_a, key_b, results, specs, page_lang, tests, published)
    tests.close()
    for err in errors:  # after the comparison: reading MTEB's published scores (lazily) adds to them
        say(err, warning=True)
    if tests.problem:
        say(tests.problem, warning=True)
    if not cmp.tasks:
        where = f" in {language_name(page_lang)}" if page_lang else ""
        say(
            f"{plain(cmp.a.info.name)} and {plain(cmp.b.info.name)} share no task with "
            f"successful results{where}; nothing to compare"
        )
        return 1
    if as_markdown:
        sys.stdout.write(render_markdown(cmp))
    else:
        render_text(cmp)
    return 0
