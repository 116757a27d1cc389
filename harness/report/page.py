"""The page model: what a language page shows, as plain values (built by ``view``, rendered by ``render``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from markupsafe import Markup

from harness.evaluate import PairedTest
from harness.records import Claim, ModelSpec, RunRecord
from harness.report.zeroshot import ZeroShot
from harness.store import Other, Selection, StoredResult
from harness.tasks.audit import NearCopyGroup, TaskAudit

# A row against the leader ("" until compared).
TieState = Literal["", "leader", "tied", "behind", "ahead", "unknown"]


@dataclass(frozen=True, order=True)
class Unit:
    """One evaluated task column: task, language subset, split."""

    task: str
    subset: str
    split: str

    @property
    def label(self) -> str:
        base = self.task if self.subset == "default" else f"{self.task}[{self.subset}]"
        return base if self.split == "test" else f"{base} ({self.split})"

    @property
    def anchor(self) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "-", self.label).strip("-").lower()


@dataclass(frozen=True)
class Cell:
    score: float  # points (×100)
    ci: tuple[float, float] | None  # points
    n_pairs: int | None
    run: RunRecord | None  # None: a score MTEB published (`published` says which)
    published: PublishedScore | None = None
    # the stored run shown, why it stands, and the other versions stored beside it (store.select_run)
    selection: Selection[StoredResult] | None = None

    @property
    def others(self) -> tuple[Other[StoredResult], ...]:
        return self.selection.others if self.selection is not None else ()

    @property
    def approximate(self) -> bool:
        """The interval is approximated from the number of pairs (a published score)."""
        return self.published is not None


@dataclass(frozen=True)
class PublishedScore:
    """Where a published cell comes from: the revision folder and file of MTEB's results."""

    revision: str
    path: str


@dataclass(frozen=True)
class PublishedFacts:
    """What mteb says about a model on a published row, each fact with its source (missing: absent)."""

    facts: tuple[Fact, ...]
    parameters: int | None
    dimension: int | None
    license: str | None
    zero_shot: bool | None  # mteb's ModelMeta.is_zero_shot_on the row's tasks; None: unknown
    zero_shot_evidence: str


@dataclass
class ModelInfo:
    key: str
    name: str  # model id or key: what the tables show (untrusted; escaped when rendered)
    title: str | None  # card title, when it says something else
    url: str | None
    spec: ModelSpec | None


@dataclass
class Row:
    model: ModelInfo
    cells: dict[Unit, Cell]
    average: float
    average_ci: tuple[float, float] | None
    n_tasks: int
    n_total: int
    off_card: bool
    rank: int = 0
    tie: TieState = ""
    tie_method: str = ""  # paired bootstrap | interval overlap
    tie_detail: str = ""
    speed: Speed | None = None
    zero_shot: dict[Unit, ZeroShot] = field(default_factory=dict)  # every column of the page
    grouped_out: list[Unit] = field(default_factory=list)  # near-copies its average does not count
    source: str = "measured"  # measured | published | both (`--mteb-results`)
    reproduced: bool | None = None  # both: MTEB's score inside our 95% interval on every task
    reproduction: str = ""  # both: "reproduced", "differs by ..." or why it was not compared
    facts: PublishedFacts | None = None  # published and both rows

    @property
    def complete(self) -> bool:
        return self.n_tasks == self.n_total

    @property
    def probe_flags(self) -> list[str]:
        """``<task>: output looks degenerate: probe gap 0.01`` for each task its probe flagged."""
        return [
            f"{u.label}: {c.run.degenerate}"
            for u, c in sorted(self.cells.items())
            if c.run and c.run.degenerate
        ]

    @property
    def degenerate(self) -> bool:
        """A task's output looked degenerate: ranked after every sound row, never the headline."""
        return bool(self.probe_flags)

    @property
    def zero_shot_all(self) -> bool | None:
        """Zero-shot on every task it has a score for (None: unknown on some, never not zero-shot)."""
        values = [self.zero_shot[u].value for u in self.cells if u in self.zero_shot]
        if any(v is False for v in values):
            return False
        return True if values and all(values) else None

    @property
    def not_zero_shot(self) -> list[Unit]:
        return [u for u in sorted(self.cells) if u in self.zero_shot and self.zero_shot[u].value is False]

    @property
    def approximate(self) -> bool:
        """The average includes a published score, whose interval is approximate."""
        return any(c.approximate for c in self.cells.values())


def rank_order(row: Row) -> tuple[bool, bool, float, str, str]:
    """The leaderboard's order: sound output before degenerate, every task before some, then average."""
    return (row.degenerate, not row.complete, -row.average, row.model.name.lower(), row.model.key)


@dataclass(frozen=True)
class Speed:
    sentences_per_second: float | None
    peak_memory_bytes: float | None
    device: str
    dtype: str
    batch_size: str


@dataclass(frozen=True)
class ClaimRow:
    model: ModelInfo
    claim: Claim
    claimed: float  # points
    unit: Unit | None = None
    metric: str | None = None
    measured: float | None = None
    measured_ci: tuple[float, float] | None = None
    difference: float | None = None  # measured - claimed, points
    outside: bool | None = None  # None: no interval to check against
    reason: str = ""  # why it was not checked
    dataset_note: str = ""


@dataclass(frozen=True)
class Failure:
    model: ModelInfo
    unit: Unit | None
    status: str
    kind: str
    error: str
    when: str


@dataclass(frozen=True)
class Fact:
    label: str
    value: str
    source: str


@dataclass(frozen=True)
class CardAudit:
    model: ModelInfo
    languages: str
    facts: list[Fact]
    warnings: list[tuple[str, str]]  # (code, sentence)
    errors: list[str]
    claims: int


@dataclass(frozen=True)
class MetaRow:
    model: ModelInfo
    revisions: str
    weights_source: str
    started: str
    finished: str
    device: str
    dtype: str
    hardware: str
    versions: str
    git_commit: str
    settings: str
    data_revisions: list[tuple[str, str]]


@dataclass(frozen=True)
class PublishedRow:
    """One "MTEB published" row: ours beside MTEB's published score (points, ×100; `--mteb-results`)."""

    model: ModelInfo
    unit: Unit
    measured: float
    measured_ci: tuple[float, float] | None
    published: float
    difference: float
    within: bool | None
    revision: str
    note: str


@dataclass
class LanguagePage:
    lang: str
    name: str
    units: list[Unit]
    rows: list[Row]
    claims: list[ClaimRow]
    audits: list[CardAudit]
    failures: list[Failure]
    not_run: list[tuple[ModelInfo, str]]
    meta: list[MetaRow]
    date_range: tuple[str, str] | None
    commits: list[str]
    charts: dict[str, Markup] = field(default_factory=dict)
    tie_methods: list[str] = field(default_factory=list)
    published: list[PublishedRow] = field(default_factory=list)  # --mteb-results
    task_audits: dict[Unit, TaskAudit] = field(default_factory=dict)  # harness.tasks.audit, per column
    groups: list[NearCopyGroup] = field(default_factory=list)  # near-copies counted once
    zero_shot_warnings: list[str] = field(default_factory=list)  # card and mteb disagree
    published_note: str = ""  # the field's counts, when published rows are on the page
    cost: CostSection | None = None  # score against vector size and speed (harness.report.cost)

    @property
    def leader(self) -> Row | None:
        """The first row, unless its output looked degenerate (then no model is the headline)."""
        return self.rows[0] if self.rows and not self.rows[0].degenerate else None

    @property
    def degenerate_rows(self) -> list[Row]:
        return [r for r in self.rows if r.degenerate]

    def leads(self, row: Row) -> list[Unit]:
        """The columns where `row` has the best score."""
        return [
            u
            for u in self.units
            if u in row.cells
            and all(u not in r.cells or r.cells[u].score <= row.cells[u].score for r in self.rows)
        ]

    @property
    def leader_not_zero_shot(self) -> list[Unit]:
        """The columns the leader leads and is not zero-shot on (its lead may be in-domain training)."""
        leader = self.leader
        if leader is None:
            return []
        return [u for u in self.leads(leader) if u in leader.zero_shot and leader.zero_shot[u].value is False]

    @property
    def best_zero_shot(self) -> Row | None:
        """The best-ranked model that is zero-shot on every task it has."""
        return next((r for r in self.rows if r.zero_shot_all and not r.degenerate), None)

    @property
    def has_published_rows(self) -> bool:
        return any(r.source != "measured" for r in self.rows)

    @property
    def best_measured(self) -> Row | None:
        """The best row with our own measurement (the leader when we measured it)."""
        return next((r for r in self.rows if r.source != "published" and not r.degenerate), None)

    @property
    def tied(self) -> list[Row]:
        return [r for r in self.rows if r.tie == "tied" and not r.degenerate]

    @property
    def off_card_rows(self) -> list[Row]:
        return [r for r in self.rows if r.off_card]

    @property
    def incomplete_rows(self) -> list[Row]:
        return [r for r in self.rows if not r.complete]

    @property
    def mixed(self) -> list[tuple[Row, Unit, Cell]]:
        """The cells whose model has other versions stored for the task (revision, data or settings)."""
        return [(r, u, c) for r in self.rows for u, c in sorted(r.cells.items()) if c.others]

    @property
    def flagged_claims(self) -> list[ClaimRow]:
        return [c for c in self.claims if c.outside]

    @property
    def version_groups(self) -> list[tuple[str, list[str]]]:
        """Distinct library-version sets and the models run with each."""
        groups: dict[str, list[str]] = {}
        for m in self.meta:
            groups.setdefault(m.versions, []).append(m.model.name)
        return sorted(groups.items())

    @property
    def data_revisions(self) -> list[tuple[str, str, list[str]]]:
        """(task label, data revision, models) for every task revision used on this page."""
        groups: dict[tuple[str, str], list[str]] = {}
        for m in self.meta:
            for label, rev in m.data_revisions:
                groups.setdefault((label, rev), []).append(m.model.name)
        return [(label, rev, names) for (label, rev), names in sorted(groups.items())]


# ---------------------------------------------------------------- the cost section


@dataclass(frozen=True)
class CostRow:
    """One model at one dimension and precision (the full vectors too), scores in points (×100)."""

    model: ModelInfo
    dims: int | None  # dimensions scored; None: unknown (an older result of the full model)
    precision: str
    bytes_per_vector: int | None
    average: float
    ci: tuple[float, float] | None
    scores: dict[Unit, float]
    n_tasks: int
    n_total: int
    full: bool  # the model's own vectors (its leaderboard row)
    similarity: str = "cosine"
    loss: PairedTest | None = None  # variant - full, fractions; None for the full row

    @property
    def complete(self) -> bool:
        return self.n_tasks == self.n_total

    @property
    def label(self) -> str:
        return f"{self.dims if self.dims is not None else '?'}d {self.precision}"

    @property
    def loss_text(self) -> str:
        """``-1.2 points, p < 0.001``, ``no detectable loss``, or "" for the full vectors."""
        test = self.loss
        if self.full or test is None or test.delta is None:
            return ""
        if not test.significant:
            return "no detectable loss" if test.delta <= 0 else "no detectable difference"
        p = test.p_value or 0.0
        p_text = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
        return f"{test.delta * 100:+.1f} points, {p_text}".replace("-", "\u2212")


@dataclass(frozen=True)
class SpeedGroup:
    """Full-model rows measured on one device in one dtype: the only ones drawn together."""

    device: str
    dtype: str
    points: list[tuple[Row, float]]  # (row, sentences per second)


@dataclass
class CostSection:
    rows: list[CostRow]  # per model (leaderboard order): its full vectors, then its variants
    smallest: CostRow | None  # the smallest vector within the leader's interval
    leader_interval: tuple[float, float] | None
    speed_groups: list[SpeedGroup] = field(default_factory=list)

    @property
    def models(self) -> list[tuple[ModelInfo, list[CostRow]]]:
        """The table, one block per model with variants."""
        grouped: dict[str, tuple[ModelInfo, list[CostRow]]] = {}
        for row in self.rows:
            grouped.setdefault(row.model.key, (row.model, []))[1].append(row)
        return [(info, rows) for info, rows in grouped.values() if any(not r.full for r in rows)]

    @property
    def charted(self) -> list[CostRow]:
        """Rows the size chart can place: known bytes, every task of the page."""
        return [r for r in self.rows if r.bytes_per_vector and r.complete]
