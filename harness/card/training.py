"""What a model was trained on, from its card and mteb, each fact with its evidence.

Read from, in order:

* the card's ``datasets`` (YAML front matter, or the "Training Dataset" line of the description list);
* prose: a sentence that says "trained on" / "fine-tuned on" and names an STS dataset;
* sentence-transformers' generated "Training Dataset" section: each dataset's heading (its name,
  or "Unnamed Dataset"), its size and its **sample rows**. The rows are matched later against the
  local train/dev splits of every known task (`with_sample_matches`): three of three rows found in
  stsb_multi_mt de train is strong evidence even when the dataset has no name;
* the base model's training data where mteb knows the base model (`base_model:<id>`);
* mteb's `ModelMeta.get_training_datasets()` where mteb knows the model itself.

Each dataset becomes a `TrainingDataset` with the MTEB tasks of its family
(`harness.tasks.families`): a model trained on any of them is not zero-shot on them. A card that
lists hundreds of datasets keeps every one with a family and the first `MAX_OTHER` others.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.card.evidence import clip
from harness.card.markdown import Document
from harness.records import ModelSpec, TrainingDataset
from harness.sts_datasets import dataset_mentions

MAX_OTHER = 30  # datasets without an STS family kept per card (a card may list hundreds)
MAX_SAMPLES = 10  # sample rows kept per dataset
MAX_SAMPLE_CHARS = 1000
_TRAINED_ON = re.compile(r"(?i)\b(?:fine[- ]?tuned|trained|finetuned|tuned)\b[^.\n]{0,80}?\bon\b")
_SIZE = re.compile(r"(?i)size:\s*([\d,]+)\s+training samples")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _tasks(name: str) -> tuple[str, ...]:
    from harness.tasks.families import dataset_tasks

    return dataset_tasks(name)


def _clean(text: str) -> str:
    return clip(" ".join(_CONTROL.sub(" ", text).split()), MAX_SAMPLE_CHARS)


def from_datasets(spec: ModelSpec) -> list[TrainingDataset]:
    names = [n for n in (spec.datasets.value or []) if isinstance(n, str) and n.strip()]
    source = spec.datasets.source or "yaml:datasets"
    out = [
        TrainingDataset(
            name=clip(n, 200), source=source, evidence=f"the card lists {clip(n, 200)}", mteb_tasks=_tasks(n)
        )
        for n in names
    ]
    return out


def from_prose(doc: Document) -> list[TrainingDataset]:
    out: list[TrainingDataset] = []
    for block in doc.prose:
        for sentence in re.split(r"(?<=[.!?])\s+", block.text):
            match = _TRAINED_ON.search(sentence)
            if not match:
                continue
            for name in dataset_mentions(sentence[match.start() :]):
                out.append(
                    TrainingDataset(
                        name=clip(name, 200),
                        source="prose",
                        evidence=f'"{clip(sentence.strip(), 200)}"',
                        mteb_tasks=_tasks(name),
                    )
                )
    return out


def from_training_section(doc: Document) -> list[TrainingDataset]:
    """sentence-transformers' "Training Dataset(s)" section: one dataset per level-4 heading."""
    out: list[TrainingDataset] = []
    for head in doc.headings:
        if head.section.strip().lower() not in ("training dataset", "training datasets") or head.level < 4:
            continue
        name = clip(head.text.strip(), 200) or "Unnamed Dataset"
        items = [b.text for b in doc.blocks if b.kind == "item" and b.section == head.text]
        size = next((m.group(1) for m in (_SIZE.search(t) for t in items) if m), None)
        samples: list[tuple[str, str]] = []
        for table in doc.tables:
            caption = table.caption.lower()
            if (
                table.section != head.text
                or "sample" not in caption
                or "statistic" in caption
                or len(table.header) < 2
            ):
                continue
            for row in table.rows[:MAX_SAMPLES]:
                if len(row) >= 2 and row[0].text.strip() and row[1].text.strip():
                    samples.append((_clean(row[0].text), _clean(row[1].text)))
        words = f"{size} training samples" if size else "size not stated"
        out.append(
            TrainingDataset(
                name=name,
                source="card:training-dataset",
                evidence=f"the card's Training Dataset section: {name}, {words}, {len(samples)} sample rows",
                mteb_tasks=() if name.lower().startswith("unnamed") else _tasks(name),
                samples=tuple(samples),
            )
        )
    return out


def read_training(spec: ModelSpec, doc: Document) -> tuple[TrainingDataset, ...]:
    """Every training dataset the card names (datasets key, prose, generated section), merged by name."""
    found = [*from_datasets(spec), *from_training_section(doc), *from_prose(doc)]
    merged: dict[str, TrainingDataset] = {}
    for item in found:
        key = item.name.lower()
        if key in merged:
            first = merged[key]
            merged[key] = first.model_copy(
                update={
                    "evidence": first.evidence
                    if item.evidence in first.evidence
                    else f"{first.evidence}; {item.evidence}",
                    "samples": first.samples or item.samples,
                    "mteb_tasks": first.mteb_tasks or item.mteb_tasks,
                }
            )
        else:
            merged[key] = item
    with_family = [t for t in merged.values() if t.mteb_tasks or t.samples]
    others = [t for t in merged.values() if not (t.mteb_tasks or t.samples)]
    return tuple(with_family + others[:MAX_OTHER])


def with_card_training(spec: ModelSpec, doc: Document) -> ModelSpec:
    """The spec with the training datasets its card names."""
    return spec.model_copy(update={"training_datasets": read_training(spec, doc)})


def with_mteb_training(spec: ModelSpec) -> ModelSpec:
    """Add what mteb knows: the model's own training data, and its base model's (`base_model`)."""
    from harness.mteb_meta import lookup

    added: list[TrainingDataset] = []
    facts = spec.mteb
    if facts is not None and facts.training_tasks:
        added.append(_mteb_record(facts.name, facts.training_tasks, "mteb:ModelMeta.training_datasets"))
    base = spec.base_model.value
    base_facts = lookup(base) if isinstance(base, str) and base else None
    if base_facts is not None and base_facts.training_tasks:
        added.append(_mteb_record(base_facts.name, base_facts.training_tasks, f"base_model:{base}"))
    if not added:
        return spec
    kept = [t for t in spec.training_datasets if not t.source.startswith(("mteb:", "base_model:"))]
    return spec.model_copy(update={"training_datasets": tuple(kept + added)})


def _mteb_record(name: str, tasks: list[str], source: str) -> TrainingDataset:
    from harness.tasks.families import dataset_tasks

    family = sorted({t for task in tasks for t in (dataset_tasks(task) or (task,))} | set(tasks))
    shown = ", ".join(tasks[:8]) + (f" and {len(tasks) - 8} more" if len(tasks) > 8 else "")
    whose = "its" if source.startswith("mteb:") else f"the base model {name}'s"
    return TrainingDataset(
        name=f"{name} training data (mteb)",
        source=source,
        evidence=f"mteb's ModelMeta.get_training_datasets() for {whose} training: {shown}",
        mteb_tasks=tuple(family),
    )


def with_sample_matches(spec: ModelSpec, data_dir: Path | None) -> ModelSpec:
    """Match each dataset's sample rows against the local train/dev splits (see harness.tasks.splits)."""
    if data_dir is None or not any(t.samples for t in spec.training_datasets):
        return spec
    from harness.tasks.catalog import LOCAL_ONLY_TASKS
    from harness.tasks.families import family_tasks
    from harness.tasks.splits import find_pairs

    local_only = {o.name for o in LOCAL_ONLY_TASKS}
    out = []
    for item in spec.training_datasets:
        if not item.samples:
            out.append(item)
            continue
        found = find_pairs(item.samples, data_dir)
        if not found:
            out.append(
                item.model_copy(
                    update={"evidence": f"{item.evidence}; none found in the local train/dev splits"}
                )
            )
            continue
        best = max(n for _, n in found)
        where = [loc for loc, n in found if n == best]
        if best * 2 <= len(item.samples):  # a minority of the rows: not evidence
            note = f"only {best} of {len(item.samples)} sample rows found in {where[0].label}"
            out.append(item.model_copy(update={"evidence": f"{item.evidence}; {note}"}))
            continue
        tasks = sorted({t for loc in where for t in family_tasks(loc.task)})
        note = f"{best} of {len(item.samples)} sample rows are in " + ", ".join(loc.label for loc in where)
        update = {
            "evidence": f"{item.evidence}; {note}",
            "mteb_tasks": tuple(sorted(set(item.mteb_tasks) | set(tasks))),
        }
        if item.name.lower().startswith("unnamed"):  # the rows name it: an MTEB task's split first
            first = min(where, key=lambda w: (w.task in local_only, w))
            update["name"] = f"{first.label.split(' (')[0]} (by its sample rows)"
        out.append(item.model_copy(update=update))
    return spec.model_copy(update={"training_datasets": tuple(out)})
