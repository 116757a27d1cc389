"""Which stored run stands for a model, task, subset and split: one rule, for mteb and the report.

A task's runs live side by side when their identities differ: another model revision, another
data revision, other settings (``--dtype fp16``, a card that now says another prompt or
max_seq_length, mteb's encoder, a newer evaluator). :func:`select_run` says which one stands:

1. A successful run stands before any failure (a failure stands only where nothing succeeded).
2. A reduced-precision run (fp16, bf16) never replaces a full-precision (fp32) run of the same
   model revision: it approximates that measurement, it does not supersede it.
3. Otherwise the newest stands (finished, then started; then path and identity, so the choice is
   stable): a new revision of the model, a card corrected since, a newer evaluator.

Every other *version* stored (another revision, data revision or settings) is named beside the
run that stands, with how it differs, so a page never swaps one for another without a word. The
task file's ``scores`` block (what mteb reads) and every report use this function; variants
(``harness-variants/``) are stored and shown apart and never compete with the model's own runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from harness.prompts import prompt_text
from harness.records import RunRecord

FULL_PRECISION = "fp32"


class Stored(Protocol):
    """A run with the model revision it belongs to (a store.StoredResult)."""

    @property
    def run(self) -> RunRecord: ...

    @property
    def revision(self) -> str: ...

    @property
    def path(self) -> str: ...


Item = TypeVar("Item", RunRecord, Stored)


@dataclass(frozen=True)
class Other(Generic[Item]):
    """A stored run of another version, and how it differs from the run that stands."""

    item: Item
    differs: str  # "fp16", "revision local-1a2b3c4d5e6f", "max_seq_length 128", ...


@dataclass(frozen=True)
class Selection(Generic[Item]):
    """The run that stands, why, and the run that stands within every other version stored (newest
    first); `label` says the shown run's side of the difference (``fp32`` against an ``fp16`` other)."""

    shown: Item
    reason: str
    others: tuple[Other[Item], ...] = ()
    label: str = ""


def _run(item: RunRecord | Stored) -> RunRecord:
    return item if isinstance(item, RunRecord) else item.run


def _revision(item: RunRecord | Stored) -> str | None:
    """None for a bare record: the records of one task file share its revision."""
    return None if isinstance(item, RunRecord) else item.revision


def _newest(item: RunRecord | Stored) -> tuple[str, str, str, str]:
    run = _run(item)
    path = "" if isinstance(item, RunRecord) else item.path
    return (run.finished_at or "", run.started_at or "", path, run.identity)


def _settings_hash(run: RunRecord) -> str:
    return run.settings_hash or run.settings.identity_hash()


def _version(item: RunRecord | Stored) -> tuple[str | None, str | None, str]:
    """What tells one measurement from another beside the task itself: revision, data, settings."""
    run = _run(item)
    return (_revision(item), run.data_revision, _settings_hash(run))


def _standing(items: Sequence[Item]) -> Item:
    ok = [i for i in items if _run(i).status == "ok"]
    if not ok:
        return max(items, key=_newest)
    full = {_revision(i) for i in ok if _run(i).settings.dtype == FULL_PRECISION}
    kept = [i for i in ok if _run(i).settings.dtype == FULL_PRECISION or _revision(i) not in full]
    return max(kept, key=_newest)


def select_run(items: Sequence[Item]) -> Selection[Item]:
    """The run that stands among the stored runs of one model, task, subset and split (see the
    module doc for the rule), and the run that stands within every other version stored beside it."""
    if not items:
        raise ValueError("select_run needs at least one run")
    shown = _standing(items)
    by_version: dict[tuple[str | None, str | None, str], list[Item]] = {}
    for item in items:
        if _version(item) != _version(shown):
            by_version.setdefault(_version(item), []).append(item)
    others = sorted((_standing(group) for group in by_version.values()), key=_newest, reverse=True)
    label = how_it_differs(shown, others[0]) if others else ""
    named = tuple(Other(o, how_it_differs(o, shown)) for o in others)
    return Selection(shown, _reason(shown, items), named, label)


def _reason(shown: RunRecord | Stored, items: Sequence[RunRecord | Stored]) -> str:
    run = _run(shown)
    if run.status != "ok":
        return "no run succeeded: the newest failure"
    newer = [
        _run(i).settings.dtype
        for i in items
        if _run(i).status == "ok" and _newest(i) > _newest(shown) and _revision(i) == _revision(shown)
    ]
    if newer:
        dtypes = ", ".join(sorted(set(newer)))
        return f"a newer {dtypes} run of the same revision does not replace the {FULL_PRECISION} run"
    return "the newest successful run"


def how_it_differs(item: Item, shown: Item) -> str:
    """How a stored run differs from the run shown, in words: ``fp16``, ``revision local-1a2b…``,
    ``max_seq_length 128``, ``prompt `query: ` ``..."""
    parts: list[str] = []
    if _revision(item) != _revision(shown):
        parts.append(f"revision {(_revision(item) or 'unknown')[:20]}")
    run = _run(item)
    if run.data_revision != _run(shown).data_revision:
        parts.append(f"data {(run.data_revision or 'unknown')[:20]}")
    a, b = run.settings, _run(shown).settings
    if a.dtype != b.dtype:
        parts.append(a.dtype)
    if a.max_seq_length != b.max_seq_length:
        parts.append(f"max_seq_length {a.max_seq_length or 'the model’s own'}")
    if a.pooling != b.pooling:
        parts.append(f"pooling {a.pooling or 'the model’s own'}")
    if a.normalize != b.normalize:
        parts.append("normalized" if a.normalize else "not normalized")
    if a.trust_remote_code != b.trust_remote_code:
        parts.append("remote code trusted" if a.trust_remote_code else "remote code not trusted")
    if a.prompt != b.prompt:
        parts.append(f"prompt {prompt_text(a.prompt[:40])}" if a.prompt else "no prompt")
    if a.encoder != b.encoder:
        parts.append(f"encoder {a.encoder}" if a.encoder else "the sentence-transformers encoder")
    if a.evaluator_version != b.evaluator_version:
        parts.append(f"evaluator version {a.evaluator_version}")
    if a.similarity != b.similarity:
        parts.append(f"similarity {a.similarity or 'cosine'}")
    if (a.dims, a.precision) != (b.dims, b.precision):
        parts.append(f"vectors {a.dims or 'all'} dims, {a.precision or 'float32'}")
    return ", ".join(parts) or f"settings {_settings_hash(run)}"
