"""Inline SVG charts of a language page (matplotlib, deterministic: fixed hash salt, no dates)."""

from __future__ import annotations

import io
import math
import re
import warnings
from typing import Any

from markupsafe import Markup

from harness.report.page import CostSection, LanguagePage, Row, SpeedGroup
from harness.report.words import f2

_COLORS = {"leader": "#1a7f5a", "tied": "#3c9ab2", "other": "#7b8794", "task": "#c2410c"}
# Models drawn one by one (and labelled); the rest of a large page is summarised.
CHART_TOP = 30
SPEED_LABELS = 12  # models labelled in the speed chart (the others are dots)
# Up to this many tasks the score chart also marks each task's score (more are a blur; the table has them).
TASK_MARKS_MAX = 8


def _svg(fig: Any, prefix: str) -> Markup:
    buf = io.StringIO()
    fig.savefig(
        buf,
        format="svg",
        bbox_inches="tight",
        pad_inches=0.08,
        metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
    )
    text = buf.getvalue()
    text = re.sub(r"<\?xml[^>]*\?>\s*", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>\s*", "", text)
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)  # comments repeat (untrusted) label text
    text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", text)
    text = re.sub(r"\n\s*\n", "\n", text)
    return Markup(text.strip())


def _short(text: str, n: int = 48) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _chart_context() -> Any:
    import matplotlib

    return matplotlib.rc_context(
        {
            "svg.hashsalt": "harness-report",
            "svg.fonttype": "path",
            "text.parse_math": False,
            "axes.formatter.use_mathtext": False,
            "font.family": "DejaVu Sans",
            "font.size": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.edgecolor": "#9aa5b1",
            "axes.labelcolor": "#1f2933",
            "axes.labelsize": 10,
            "xtick.color": "#3e4c59",
            "ytick.color": "#3e4c59",
            "xtick.labelsize": 9.5,
            "ytick.labelsize": 9.5,
            "path.simplify": False,
        }
    )


def _color(row: Row) -> str:
    return _COLORS["leader"] if row.tie == "leader" else _COLORS.get(row.tie, _COLORS["other"])


def score_chart(page: LanguagePage) -> Markup | None:
    """Average score with its 95% interval per model (and each task's score, from 2 to
    ``TASK_MARKS_MAX`` tasks).

    A page with more than ``CHART_TOP`` models shows its top ones this way and, below them, how
    the averages of all its models are distributed.
    """
    if not page.rows:
        return None
    from matplotlib.figure import Figure

    rows = page.rows[:CHART_TOP]
    rest = len(page.rows) > CHART_TOP
    multi = 1 < len(page.units) <= TASK_MARKS_MAX
    with _chart_context(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = Figure(figsize=(9.0, 1.0 + 0.45 * len(rows) + (2.2 if rest else 0.0)))
        if rest:
            ax, dist = fig.subplots(
                2, 1, gridspec_kw={"height_ratios": [0.45 * len(rows), 1.6], "hspace": 0.12}
            )
        else:
            ax = fig.add_subplot()
        ys = list(range(len(rows)))[::-1]
        markers = "sD^v<>ph"
        for y, row in zip(ys, rows, strict=True):
            color = _color(row)
            if row.average_ci:
                lo, hi = row.average_ci
                ax.errorbar(
                    [row.average],
                    [y],
                    xerr=[[max(0.0, row.average - lo)], [max(0.0, hi - row.average)]],  # never negative
                    fmt="o",
                    color=color,
                    ecolor=color,
                    elinewidth=2.2,
                    capsize=4,
                    markersize=8,
                    zorder=3,
                )
            else:
                ax.plot([row.average], [y], "o", color=color, markersize=8, zorder=3)
            ax.annotate(
                f2(row.average),
                (row.average, y),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize=8.5,
                color="#1f2933",
            )
        if multi:
            for j, unit in enumerate(page.units):
                pts = [(r.cells[unit].score, y) for y, r in zip(ys, rows, strict=True) if unit in r.cells]
                ax.plot(
                    [p[0] for p in pts],
                    [p[1] for p in pts],
                    markers[j % len(markers)],
                    linestyle="none",
                    color=_COLORS["task"],
                    markersize=4.5,
                    alpha=0.75,
                    zorder=2,
                    label=_short(unit.label, 60),
                )
        leader = rows[0]
        if leader.average_ci:
            ax.axvspan(*leader.average_ci, color=_COLORS["leader"], alpha=0.08, lw=0)
        ax.set_yticks(ys, [_short(f"{r.rank}. {r.model.name}") for r in rows])
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_xlabel("average cosine Spearman ×100, with 95% interval")
        if rest:
            _distribution(dist, page)
        ax.grid(axis="x", color="#e4e7eb", lw=0.8)
        ax.set_axisbelow(True)
        if multi:
            ax.legend(
                loc="lower left",
                bbox_to_anchor=(0.0, 1.01),
                ncol=min(3, len(page.units)),
                fontsize=8.5,
                frameon=False,
                handletextpad=0.3,
                columnspacing=1.2,
            )
        return _svg(fig, f"score-{page.lang}")


def _distribution(ax: Any, page: LanguagePage) -> None:
    """Histogram of every model's average, stacked by tie state, with the charted top marked."""
    groups = [("leader", "leader"), ("tied", "tied with the leader"), ("other", "the others")]
    values = [
        [r.average for r in page.rows if (r.tie if r.tie in ("leader", "tied") else "other") == g]
        for g, _ in groups
    ]
    averages = [r.average for r in page.rows]
    bins = list(_bins(min(averages), max(averages)))
    kept = [(v, _COLORS[g], label) for v, (g, label) in zip(values, groups, strict=True) if v]
    ax.hist(
        [v for v, _, _ in kept],
        bins=bins,
        stacked=True,
        color=[c for _, c, _ in kept],
        label=[f"{lbl} ({len(v)})" for v, _, lbl in kept],
    )
    cut = page.rows[CHART_TOP - 1].average
    ax.axvline(cut, color="#1f2933", lw=1, ls="--")
    ax.annotate(
        f"top {CHART_TOP} →",
        (cut, 1),
        xycoords=("data", "axes fraction"),
        xytext=(-4, -12),
        textcoords="offset points",
        ha="right",
        fontsize=8.5,
    )
    ax.set_xlabel(f"average cosine Spearman ×100 of all {len(page.rows)} models")
    ax.set_ylabel("models")
    ax.legend(fontsize=8.5, frameon=False, loc="upper left")
    ax.grid(axis="y", color="#e4e7eb", lw=0.8)
    ax.set_axisbelow(True)


def _bins(lo: float, hi: float, width: float = 0.5) -> list[float]:
    """Bin edges every `width` points covering [lo, hi]."""
    start = width * (lo // width)
    return [start + width * i for i in range(int((hi - start) // width) + 2)]


def speed_chart(page: LanguagePage) -> Markup | None:
    """Average score against sentences per second (log scale).

    On a page with more than ``CHART_TOP`` models only the top ``SPEED_LABELS`` are labelled;
    the others are dots.
    """
    points = [
        (r, r.speed.sentences_per_second)
        for r in page.rows
        if r.speed and r.speed.sentences_per_second and 0 < r.speed.sentences_per_second < math.inf
    ]
    if not points:
        return None
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    with _chart_context(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = Figure(figsize=(11.0, 4.4))
        ax = fig.add_subplot()
        labelled = SPEED_LABELS if len(page.rows) > CHART_TOP else CHART_TOP
        top = [p for p in points if p[0].rank <= labelled]
        rest = [p for p in points if p[0].rank > labelled]
        if rest:
            ax.plot(
                [p[1] for p in rest],
                [p[0].average for p in rest],
                "o",
                color=_COLORS["other"],
                alpha=0.35,
                markersize=4,
                zorder=1,
                label=f"{len(rest)} more models",
            )
            ax.legend(fontsize=8.5, frameon=False, loc="lower left")
        ordered = sorted(top, key=lambda p: (p[1], p[0].rank))
        below = {id(row) for i, (row, _) in enumerate(ordered) if i % 2 == 1}
        for row, rate in top:
            color = _color(row)
            if row.average_ci:
                ax.plot([rate, rate], list(row.average_ci), color=color, lw=2, alpha=0.45, zorder=2)
            ax.plot([rate], [row.average], "o", color=color, markersize=9, zorder=3)
            ax.annotate(
                _short(f"{row.rank}. {row.model.name}", 48),
                (rate, row.average),
                textcoords="offset points",
                xytext=(8, -13 if id(row) in below else 5),
                fontsize=8.5,
                color="#1f2933",
            )
        ax.set_xscale("log")
        rates = [p[1] for p in points]
        ax.set_xlim(min(rates) / 2, max(rates) * 5)
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("sentences per second (log scale; see the speed table for devices)")
        ax.set_ylabel("average cosine Spearman ×100")
        ax.grid(color="#e4e7eb", lw=0.8)
        ax.set_axisbelow(True)
        return _svg(fig, f"speed-{page.lang}")


# ---------------------------------------------------------------- the cost section (harness.report.cost)

_PRECISION_MARKERS = {"float32": "o", "int8": "s", "ubinary": "D"}


def size_chart(section: CostSection, lang: str) -> Markup | None:
    """Score against bytes per vector (log scale), every model and variant, the Pareto front drawn."""
    from harness.report.cost import pareto_front

    rows = section.charted
    if not rows:
        return None
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    names = list(dict.fromkeys(r.model.name for r in rows))
    palette = ["#1a7f5a", "#3c9ab2", "#c2410c", "#7c3aed", "#b45309", "#0f766e", "#be185d", "#4b5563"]
    color = {name: palette[i % len(palette)] for i, name in enumerate(names)}
    with _chart_context(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = Figure(figsize=(11.0, 4.8))
        ax = fig.add_subplot()
        if section.leader_interval:
            ax.axhspan(*section.leader_interval, color=_COLORS["leader"], alpha=0.08, lw=0)
        front = pareto_front(rows)
        ax.step(
            [r.bytes_per_vector for r in front],
            [r.average for r in front],
            where="post",
            color="#1f2933",
            lw=1.2,
            ls="--",
            zorder=1,
            label="Pareto front",
        )
        for row in rows:
            c = color[row.model.name]
            if row.ci:
                ax.plot([row.bytes_per_vector] * 2, list(row.ci), color=c, lw=1.6, alpha=0.4, zorder=2)
            marker = _PRECISION_MARKERS.get(row.precision, "o")
            ax.plot([row.bytes_per_vector], [row.average], marker, color=c, markersize=7, zorder=3)
        for i, row in enumerate(front):  # the front's points, named by size (the colour names the model)
            ax.annotate(
                row.label,
                (row.bytes_per_vector, row.average),
                textcoords="offset points",
                xytext=(5, 6 if i % 2 == 0 else -12),
                fontsize=8,
                color="#1f2933",
            )
        for name in names[:CHART_TOP]:
            ax.plot([], [], "o", color=color[name], label=_short(name, 40))
        for precision, marker in _PRECISION_MARKERS.items():
            ax.plot([], [], marker, color="#7b8794", label=precision, linestyle="none")
        sizes = [r.bytes_per_vector or 1 for r in rows]
        ax.set_xscale("log", base=2)
        ax.set_xlim(min(sizes) / 1.6, max(sizes) * 2.5)
        ax.xaxis.set_major_locator(LogLocator(base=2))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("bytes per vector (log scale)")
        ax.set_ylabel("average Spearman ×100, with 95% interval")
        ax.legend(fontsize=8, frameon=False, loc="center left", bbox_to_anchor=(1.01, 0.5))
        ax.grid(color="#e4e7eb", lw=0.8)
        ax.set_axisbelow(True)
        return _svg(fig, f"size-{lang}")


def throughput_chart(group: SpeedGroup, lang: str, number: int) -> Markup:
    """Score against measured encode throughput for the models of one device and dtype."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    with _chart_context(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = Figure(figsize=(11.0, 3.8))
        ax = fig.add_subplot()
        for row, rate in group.points:
            c = _color(row)
            if row.average_ci:
                ax.plot([rate, rate], list(row.average_ci), color=c, lw=2, alpha=0.45, zorder=2)
            ax.plot([rate], [row.average], "o", color=c, markersize=8, zorder=3)
            ax.annotate(
                _short(row.model.name, 40),
                (rate, row.average),
                textcoords="offset points",
                xytext=(7, 4),
                fontsize=8.5,
            )
        rates = [rate for _, rate in group.points]
        ax.set_xscale("log")
        ax.set_xlim(min(rates) / 2, max(rates) * 5)
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(f"sentences per second on {group.device}, {group.dtype} (log scale)")
        ax.set_ylabel("average cosine Spearman ×100")
        ax.grid(color="#e4e7eb", lw=0.8)
        ax.set_axisbelow(True)
        return _svg(fig, f"throughput-{lang}-{number}")
