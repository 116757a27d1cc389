"""Zero-shot per model and task: was the model trained on this task's data, or its family's?

MTEB's definition: a model is not zero-shot on a task when it was trained on any split of the
task's dataset or of a dataset in the same family (harness.tasks.families). The card's evidence
(`ModelSpec.training_datasets`: datasets key, prose, the generated training section and its sample
rows, the base model's data) decides first; mteb's `ModelMeta.get_training_datasets()` (kept in
`MtebFacts.training_tasks`, the set `is_zero_shot_on` tests) decides where the card says nothing.
Each cell is True, False (with the evidence) or None: unknown, the card names no training data
and mteb does not know the model. Where both the card and mteb judge an MTEB task and disagree,
the cell carries the disagreement, and the page warns.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from harness.card.training import from_datasets
from harness.records import ModelSpec, TrainingDataset
from harness.tasks.catalog import LOCAL_ONLY_TASKS
from harness.tasks.families import base_task, family_of

MTEB_SOURCES = ("mteb:", "base_model:")


@dataclass(frozen=True)
class ZeroShot:
    value: bool | None
    evidence: str
    mteb: bool | None = None  # mteb's own answer (is_zero_shot_on) where it applies
    disagreement: str = ""
    trained_on: str = ""  # the dataset that makes it not zero-shot, in a few words

    @property
    def label(self) -> str:
        return {True: "zero-shot", False: "not zero-shot", None: "unknown"}[self.value]


def _names(items: list[TrainingDataset], limit: int = 4) -> str:
    names = [t.name for t in items]
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def zero_shot(spec: ModelSpec | None, task: str) -> ZeroShot:
    """The zero-shot cell of one model (its spec) on one task (a page column's task name)."""
    if spec is None:
        return ZeroShot(None, "no card in the registry")
    name = base_task(task.split(" (data ")[0])
    family = family_of(name)
    what = f"{name}'s family ({family.key})" if family else name
    # a spec made before training records existed (or by hand) still has its card's datasets
    records = spec.training_datasets or tuple(from_datasets(spec))
    card = [t for t in records if not t.source.startswith(MTEB_SOURCES)]
    inherited = [t for t in records if t.source.startswith("base_model:")]
    facts = spec.mteb
    if name.startswith("custom:"):
        return ZeroShot(None, "a user's pairs file: where its sentences come from is unknown")
    mteb_value = None
    if (
        facts is not None
        and facts.training_tasks is not None
        and name not in {o.name for o in LOCAL_ONLY_TASKS}
    ):
        mteb_value = name not in facts.training_tasks  # mteb judges only its own tasks
    # an unnamed dataset whose sample rows were not found says nothing about what it was
    named = [t for t in card if t.mteb_tasks or not t.name.lower().startswith("unnamed")]
    hits = [t for t in card + inherited if name in t.mteb_tasks]
    mteb_hits = [t for t in records if t.source.startswith("mteb:") and name in t.mteb_tasks]
    if hits:
        first = hits[0]
        cell = ZeroShot(
            False,
            f"trained on {first.name} ({first.source}): {first.evidence}",
            mteb_value,
            trained_on=first.name,
        )
    elif mteb_hits:
        cell = ZeroShot(False, f"mteb: {mteb_hits[0].evidence}", mteb_value, trained_on=mteb_hits[0].name)
    elif named:
        cell = ZeroShot(
            True, f"the card names its training data ({_names(named)}): none is {what}", mteb_value
        )
    elif facts is not None and facts.training_tasks is not None:
        cell = ZeroShot(
            True,
            f"mteb's ModelMeta lists {len(facts.training_tasks)} training datasets for {facts.name}: "
            f"none is {what}",
            mteb_value,
        )
    elif card:
        return ZeroShot(None, f"unknown: the card's training data is unnamed ({card[0].evidence})")
    else:
        return ZeroShot(None, "unknown: the card names no training data and mteb does not know the model")
    card_value = False if hits else (True if named else None)  # what the card alone says
    if facts is None or mteb_value is None or card_value is None:
        return cell
    if card_value == mteb_value:
        agrees = "zero-shot" if mteb_value else "not zero-shot"
        return replace(cell, evidence=f"{cell.evidence}; mteb's ModelMeta for {facts.name} agrees ({agrees})")
    card_says = "not trained on it" if card_value else "trained on it"
    mteb_says = "zero-shot" if mteb_value else "not zero-shot"
    return replace(
        cell,
        disagreement=f"the card says {card_says} ({what}) "
        f"but mteb's ModelMeta for {facts.name} says {mteb_says}",
    )
