"""Task audits: what a test set shares with its own training data and with the other tasks.

For every task with local data (`harness tasks --audit`, and every report page):

* test pairs that also occur in the task's own train or dev split, counted in three disjoint
  ways: ``exact`` (the same sentence1 and sentence2), ``swapped`` (sentence1 and sentence2
  exchanged, not exact) and ``normalized`` (equal only after `normalize_text`: Unicode NFKC,
  case folding, punctuation removed, whitespace collapsed; either order);
* ``duplicates_in_test``: test rows whose pair (normalised, either order) an earlier test row has;
* near-copies: tasks of one language and split whose test sets share at least `NEAR_COPY_SHARE`
  of the larger test set's exact pairs (the DeepL GermanSTSBenchmark and stsb_multi_mt de). They
  form one group, and a model's average counts a group once: the MTEB task stands for it;
* how the test set was made (mteb's ``sample_creation``) and its family (harness.tasks.families),
  with what the data itself shows (gold scores equal to STS-B's row by row).

Reading a split that is missing, empty or malformed never stops the audit: the task says why.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.errors import DataError, TaskUnavailable
from harness.records import StsPairs, StsTask
from harness.stderr import say
from harness.tasks.catalog import LOCAL_ONLY_TASKS, catalog
from harness.tasks.families import base_task, family_of, sample_creation
from harness.tasks.readers import LOCAL_SUFFIX, local_path, local_source, read_file

NEAR_COPY_SHARE = 0.5  # two translations by different engines share ~10% (aws vs DeepL); a copy ~98%
TRAIN_SPLITS = ("train", "dev")  # the files' names; mteb's "validation" is the files' "dev"

Pair = tuple[str, str]


def normalize_text(text: str) -> str:
    """NFKC, case-folded, punctuation removed, whitespace collapsed (``A man, eating!``: ``a man eating``)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return re.sub(r"\s+", " ", text).strip()


def _unordered(a: str, b: str) -> Pair:
    return (a, b) if a <= b else (b, a)


@dataclass(frozen=True)
class Overlap:
    exact: int = 0
    swapped: int = 0
    normalized: int = 0

    @property
    def total(self) -> int:
        return self.exact + self.swapped + self.normalized


def overlap(test: StsPairs, other: StsPairs) -> Overlap:
    """How many test pairs occur in `other`: exactly, swapped (not exact), after normalising (neither)."""
    ordered = set(zip(other.sentence1, other.sentence2, strict=True))
    loose = {
        _unordered(normalize_text(a), normalize_text(b))
        for a, b in zip(other.sentence1, other.sentence2, strict=True)
    }
    exact = swapped = normalized = 0
    for a, b in zip(test.sentence1, test.sentence2, strict=True):
        if (a, b) in ordered:
            exact += 1
        elif (b, a) in ordered:
            swapped += 1
        elif _unordered(normalize_text(a), normalize_text(b)) in loose:
            normalized += 1
    return Overlap(exact, swapped, normalized)


def duplicates(test: StsPairs) -> int:
    """Test rows whose pair (normalised, either order) an earlier row already has."""
    seen: set[Pair] = set()
    dup = 0
    for a, b in zip(test.sentence1, test.sentence2, strict=True):
        key = _unordered(normalize_text(a), normalize_text(b))
        dup += key in seen
        seen.add(key)
    return dup


@dataclass(frozen=True)
class PairAudit:
    test_pairs: int
    in_train_exact: int | None  # None: no train split
    in_train_swapped: int | None
    in_train_normalized: int | None
    in_dev_exact: int | None
    in_dev_swapped: int | None
    in_dev_normalized: int | None
    duplicates_in_test: int
    train_pairs: int | None
    dev_pairs: int | None


@dataclass(frozen=True)
class TaskAudit:
    key: str  # the column's label: "GermanSTSBenchmark", "STSBenchmarkMultilingualSTS[de]"
    name: str
    subset: str
    split: str
    languages: tuple[str, ...]
    in_mteb: bool
    sample_creation: str | None
    family: str | None
    family_evidence: str
    data_evidence: str  # what the data shows about the family ("" when nothing was checked)
    group: str | None = None  # the key of the task that stands for its near-copy group
    audit: PairAudit | None = None
    notes: tuple[str, ...] = ()  # why a split was not read


@dataclass(frozen=True)
class NearCopyGroup:
    representative: str  # the MTEB task that stands for the group
    members: tuple[str, ...]  # every task key of the group, the representative first
    reason: str


@dataclass(frozen=True)
class AuditReport:
    tasks: list[TaskAudit]
    groups: list[NearCopyGroup] = field(default_factory=list)

    def by_key(self) -> dict[str, TaskAudit]:
        return {t.key: t for t in self.tasks}

    def to_json(self) -> dict:
        return {"tasks": [asdict(t) for t in self.tasks], "groups": [asdict(g) for g in self.groups]}


def task_key(name: str, subset: str) -> str:
    return name if subset == "default" else f"{name}[{subset}]"


def _split_file(task: StsTask, split: str) -> Path | None:
    """The local file of another split of the task (train/dev), beside its test file."""
    if not task.local_files:
        return None
    rel = local_path(task.name, task.subset, split)
    test_rel = local_path(task.name, task.subset, task.split)
    if rel is None or test_rel is None:
        return None
    test_file = Path(task.local_files[0])
    root = Path(str(test_file)[: -len(test_rel)]) if str(test_file).endswith(test_rel) else None
    return root / rel if root is not None else None


def _read(path: Path, task: StsTask, split: str, notes: list[str]) -> StsPairs | None:
    source = local_source(task.name)
    try:
        if not path.is_file():
            notes.append(f"no {split} split ({path.name} not found)")
            return None
        pairs, _ = read_file(path, source.fmt.key if source else "custom")
    except (DataError, TaskUnavailable) as exc:
        notes.append(f"{split} split not read: {' '.join(str(exc).split())[:200]}")
        return None
    return pairs


def _stsb_gold(data_dir: Path | None) -> list[float] | None:
    """STS-B's test gold scores, from the data folder's copy of STSBenchmark (None without one)."""
    task = unit_task("STSBenchmark", "default", "test", "en", data_dir)
    if not task.local_files:
        return None
    pairs = _read(Path(task.local_files[0]), task, "test", [])
    return list(pairs.gold) if pairs else None


def _data_evidence(task: StsTask, pairs: StsPairs, stsb_gold: list[float] | None) -> str:
    fam = family_of(task.name)
    if fam is None or fam.key != "STS-B" or stsb_gold is None or task.split != "test":
        return ""
    if base_task(task.name) == "STSBenchmark":
        return "STS-B's own test split"
    if list(pairs.gold) == stsb_gold:
        return f"gold scores equal STS-B test's row by row ({len(stsb_gold)} rows)"
    return "gold scores differ from STS-B test's (row order or rows differ)"


def audit_tasks(tasks: Sequence[StsTask], data_dir: Path | None = None) -> AuditReport:
    """Audit every task (see the module docstring); tasks without local data get family and creation
    only. `data_dir` (the data folder) lets the data itself show a task's family (STS-B's gold)."""
    tests: dict[str, StsPairs] = {}
    out: list[TaskAudit] = []
    stsb_gold = _stsb_gold(data_dir)
    for task in tasks:
        key = task_key(task.name, task.subset)
        fam = family_of(task.name)
        notes: list[str] = []
        test = _read(Path(task.local_files[0]), task, task.split, notes) if task.local_files else None
        if not task.local_files:
            notes.append("no local data: not audited")
        audit = None
        evidence = ""
        if test is not None:
            tests[key] = test
            others = {s: _other_split(task, s, notes) for s in TRAIN_SPLITS if s != task.split}
            train, dev = others.get("train"), others.get("dev")
            ov_train = overlap(test, train) if train is not None else None
            ov_dev = overlap(test, dev) if dev is not None else None
            audit = PairAudit(
                test_pairs=len(test),
                in_train_exact=ov_train.exact if ov_train else None,
                in_train_swapped=ov_train.swapped if ov_train else None,
                in_train_normalized=ov_train.normalized if ov_train else None,
                in_dev_exact=ov_dev.exact if ov_dev else None,
                in_dev_swapped=ov_dev.swapped if ov_dev else None,
                in_dev_normalized=ov_dev.normalized if ov_dev else None,
                duplicates_in_test=duplicates(test),
                train_pairs=len(train) if train is not None else None,
                dev_pairs=len(dev) if dev is not None else None,
            )
            evidence = _data_evidence(task, test, stsb_gold)
        out.append(
            TaskAudit(
                key=key,
                name=task.name,
                subset=task.subset,
                split=task.split,
                languages=tuple(task.languages),
                in_mteb=task.in_mteb,
                sample_creation=sample_creation(task.name),
                family=fam.key if fam else None,
                family_evidence=fam.evidence(base_task(task.name)) if fam else "",
                data_evidence=evidence,
                audit=audit,
                notes=tuple(notes),
            )
        )
    groups = near_copy_groups(out, tests)
    rep = {m: g.representative for g in groups for m in g.members}
    out = [t if t.key not in rep else _with_group(t, rep[t.key]) for t in out]
    return AuditReport(out, groups)


def _with_group(task: TaskAudit, representative: str) -> TaskAudit:
    from dataclasses import replace

    return replace(task, group=representative)


def _other_split(task: StsTask, split: str, notes: list[str]) -> StsPairs | None:
    path = _split_file(task, split)
    if path is None:
        return None
    return _read(path, task, split, notes)


def near_copy_groups(audits: Sequence[TaskAudit], tests: dict[str, StsPairs]) -> list[NearCopyGroup]:
    """Tasks of one language and split that share at least NEAR_COPY_SHARE of the larger test set's pairs."""
    keys = [t.key for t in audits if t.key in tests and len(t.languages) == 1]
    info = {t.key: t for t in audits}
    rows = {k: list(zip(tests[k].sentence1, tests[k].sentence2, strict=True)) for k in keys}
    sets = {k: set(v) for k, v in rows.items()}
    parent = {k: k for k in keys}

    def root(k: str) -> str:
        while parent[k] != k:
            k = parent[k]
        return k

    def shared(a: str, b: str) -> int:  # rows of b whose exact pair a's test set has
        return sum(pair in sets[a] for pair in rows[b])

    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            if info[a].languages != info[b].languages or info[a].split != info[b].split:
                continue
            # against the larger set: a task whose pairs are partly drawn from another (STS17 en-en holds
            # 125 of STS-B's 1,379 test pairs) is not a copy of it
            larger = max(len(rows[a]), len(rows[b])) or 1
            if max(shared(a, b), shared(b, a)) / larger >= NEAR_COPY_SHARE:
                parent[root(b)] = root(a)
    members: dict[str, list[str]] = {}
    for k in keys:
        members.setdefault(root(k), []).append(k)
    groups = []
    for group in members.values():
        if len(group) < 2:
            continue
        # the MTEB task stands for the group: an in-MTEB task first, then by name
        ranked = sorted(group, key=lambda k: (not info[k].in_mteb, info[k].name.endswith(LOCAL_SUFFIX), k))
        rep = ranked[0]
        reasons = [
            f"{k} shares {shared(rep, k):,} of {len(rows[k]):,} test pairs with {rep} (same text, same order)"
            for k in ranked[1:]
        ]
        groups.append(NearCopyGroup(rep, tuple(ranked), "; ".join(reasons)))
    return sorted(groups, key=lambda g: g.representative)


def unit_task(name: str, subset: str, split: str, language: str, data_dir: Path | None) -> StsTask:
    """A task for a report column (task, subset, split) with its local file under `data_dir`, if any."""
    rel = local_path(name, subset, split)
    files: list[str] = []
    if data_dir is not None and rel is not None and (Path(data_dir) / rel).is_file():
        files = [str((Path(data_dir) / rel).resolve())]
    local_only = {o.name for o in LOCAL_ONLY_TASKS}
    in_mteb = not (name in local_only or name.endswith(LOCAL_SUFFIX) or name.startswith("custom:"))
    return StsTask(
        name=name, subset=subset, languages=[language], split=split, local_files=files, in_mteb=in_mteb
    )


# ---------------------------------------------------------------- CLI


def _count(value: int | None, total: int | None = None) -> str:
    if value is None:
        return "–"
    return f"{value:,}" if total is None else f"{value:,}/{total:,}"


def audit_command(lang: str | None, data_dir: Path | None, as_json: bool) -> int:
    """``harness tasks --audit [--json]``: the audit of every task of a language with local data."""
    try:
        tasks = catalog([lang] if lang else None, data_dir)
    except (DataError, TaskUnavailable, ValueError) as exc:
        say(str(exc))
        return 2
    if not tasks:
        say(f"no STS tasks for language {lang!r}")
        return 0  # an empty listing is an answer (README "Exit status")
    report = audit_tasks(tasks, data_dir)
    if as_json:
        sys.stdout.write(
            json.dumps({"language": lang, **report.to_json()}, indent=2, ensure_ascii=True) + "\n"
        )
        return 0
    from rich.table import Table

    from harness.console import table_console

    table = Table(title=f"STS task audit{f' for {lang}' if lang else ''}")
    for col in (
        "task",
        "split",
        "made",
        "family",
        "test",
        "in train (exact/swapped/norm.)",
        "in dev",
        "dup.",
        "group",
    ):
        table.add_column(col, overflow="fold")
    for t in report.tasks:
        a = t.audit
        table.add_row(
            t.key,
            t.split,
            t.sample_creation or "–",
            t.family or "–",
            _count(a.test_pairs) if a else "–",
            f"{_count(a.in_train_exact)} / {_count(a.in_train_swapped)} / {_count(a.in_train_normalized)}"
            if a
            else "–",
            f"{_count(a.in_dev_exact)} / {_count(a.in_dev_swapped)} / {_count(a.in_dev_normalized)}"
            if a
            else "–",
            _count(a.duplicates_in_test) if a else "–",
            t.group or "",
        )
    console = table_console()
    console.print(table)
    for g in report.groups:
        console.print(f"near-copy group, counted once as {g.representative}: {g.reason}", markup=False)
    for t in report.tasks:
        for note in (t.data_evidence, *t.notes):
            if note:
                console.print(f"{t.key}: {note}", markup=False)
    return 0
