"""The card parser on real model cards, against labels written by reading each card (issue 11).

tests/fixtures/realcards/ holds real sentence-embedding model cards byte-for-byte and labels.json:

    {"NNN_owner__name.md": {
        "model_id": "Org/Name" | null,       # the id the card names for itself (null: never names itself)
        "languages": ["de", "en"] | null,    # declared languages, one vocabulary (harness.languages)
        "multilingual": true | false,        # the card says "multilingual" (reported, not a target)
        "dimension": 768 | null, "pooling": "mean" | ... | null, "max_seq_length": 512 | null,
        "architecture": "BertModel" | null,
        "sts_claims": [{"metric": "spearman" | "pearson" | "unstated",  # unstated: the card names none
                        "similarity": "cosine" | "manhattan" | "euclidean" | "dot" | "max" | "unspecified",
                        "value": 0.8247, "dataset": "as written" | null, "subset": "de" | null,
                        "split": "test" | "validation" | "dev" | null}],
        "aggregate_claims": [{"metric": ..., "similarity": ..., "value": 0.4825, "split": null,
                              "aggregate_of": ["ATEC", "BQ", ...]}],  # optional: averages ("Avg")
        "history_claims": 4,                 # optional: earlier rows of a training log
        "notes": "..."}}

STS claims are the card's claims for the released model on one dataset: a parsed claim that is an
average (`Claim.aggregate_of`) or a training log's earlier row (`Claim.history`) is scored apart,
on the cards whose label has the key ("aggregate_claims", "history_claims").

A parsed claim matches a label when metric, similarity and value (within 0.00051) agree and dataset,
subset and split are compatible (unknown on either side is compatible; dev = validation; dataset names
match when one contains the other or both name the same MTEB task). The test prints per-field accuracy
and claim recall/precision, and fails below the targets. Run it as a script for every mismatch.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.card import parse_card
from harness.languages import normalize_language
from harness.records import Claim, ModelSpec
from harness.sts_datasets import sts_dataset

FOLDER = Path(__file__).resolve().parent / "fixtures" / "realcards"
FIELDS = ("model_id", "languages", "dimension", "pooling", "max_seq_length", "architecture")
FIELD_TARGET = 0.95
RECALL_TARGET = 0.95
PRECISION_TARGET = 1.0
VALUE_TOLERANCE = 0.00051


def _labels() -> dict[str, dict]:
    return json.loads((FOLDER / "labels.json").read_text(encoding="utf-8"))


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _dataset_ok(label: str | None, parsed: str | None) -> bool:
    if not label or not parsed:
        return True
    a, b = _norm(label).removeprefix("mteb"), _norm(parsed).removeprefix("mteb")
    if a and b and (a in b or b in a):
        return True
    ta, tb = sts_dataset(label).mteb_task, sts_dataset(parsed).mteb_task
    return ta is not None and ta == tb


def _subset_ok(label: str | None, parsed: str | None) -> bool:
    if not label or not parsed:
        return True

    def parts(s: str) -> set[str]:  # "en;en" = "en", "de-en" = "en-de", "zh-CN" = "zh"
        tags = []
        for tag in re.split(r"[;,/&\s]+", s):
            tags.extend(tag.split("-") if re.fullmatch(r"[a-z]{2,3}-[a-z]{2,3}", tag) else [tag])
        return {normalize_language(t) or t.lower() for t in tags if t}

    return parts(label) == parts(parsed)


def _split_ok(label: str | None, parsed: str | None) -> bool:
    dev = {"dev", "validation", "val"}
    return not label or not parsed or label == parsed or (label in dev and parsed in dev)


def claim_matches(label: dict, claim: Claim) -> bool:
    return (
        label["metric"] == claim.metric
        and label["similarity"] == claim.similarity
        and abs(label["value"] - claim.value) <= VALUE_TOLERANCE
        and _dataset_ok(label.get("dataset"), claim.dataset)
        and _subset_ok(label.get("subset"), claim.language)
        and _split_ok(label.get("split"), claim.split)
    )


def aggregate_matches(label: dict, claim: Claim) -> bool:
    return (
        label["metric"] == claim.metric
        and label["similarity"] == claim.similarity
        and abs(label["value"] - claim.value) <= VALUE_TOLERANCE
        and sorted(map(_norm, label["aggregate_of"])) == sorted(map(_norm, claim.aggregate_of))
        and _split_ok(label.get("split"), claim.split)
    )


def field_value(spec: ModelSpec, name: str, label: object) -> object:
    """The parsed value of a field, in the label's terms."""
    if name == "languages":
        langs = [x for x in spec.language_list if x != "multilingual"]
        if spec.language_source == "inferred" and label is None:
            return None  # an inference is not a declaration; a null label does not count it
        return sorted(langs) or None
    value = getattr(spec, name).value
    if name == "model_id" and isinstance(value, str):
        return value.lower()
    return value


def label_value(name: str, label: object) -> object:
    if name == "languages":
        return sorted(label) if label else None
    if name == "model_id" and isinstance(label, str):
        return label.lower()
    return label


@dataclass
class Score:
    fields: dict[str, list[tuple[str, object, object]]] = field(default_factory=dict)  # misses
    right: dict[str, int] = field(default_factory=dict)
    cards: int = 0
    labelled_claims: int = 0
    found_claims: int = 0
    matched_labels: int = 0
    matched_found: int = 0
    missed: list[tuple[str, dict]] = field(default_factory=list)
    extra: list[tuple[str, Claim]] = field(default_factory=list)
    raised: list[str] = field(default_factory=list)
    aggregate_cards: int = 0
    labelled_aggregates: int = 0
    found_aggregates: int = 0
    matched_aggregates: int = 0
    history: list[tuple[str, int, int]] = field(default_factory=list)  # (card, labelled, found)


def _score_aggregates(s: Score, name: str, labels: list[dict], found: list[Claim]) -> None:
    s.aggregate_cards += 1
    s.labelled_aggregates += len(labels)
    s.found_aggregates += len(found)
    used: set[int] = set()
    for lab in labels:
        hit = next((i for i, c in enumerate(found) if i not in used and aggregate_matches(lab, c)), None)
        if hit is None:
            s.missed.append((name, lab))
        else:
            used.add(hit)
            s.matched_aggregates += 1
    s.extra.extend((name, c) for i, c in enumerate(found) if i not in used)


def score(specs: dict[str, ModelSpec], labels: dict[str, dict]) -> Score:
    s = Score()
    for name, label in labels.items():
        spec = specs[name]
        s.cards += 1
        for f in FIELDS:
            want, got = label_value(f, label.get(f)), field_value(spec, f, label.get(f))
            if want == got:
                s.right[f] = s.right.get(f, 0) + 1
            else:
                s.fields.setdefault(f, []).append((name, want, got))
        claims = [c for c in spec.claims if not c.history and not c.aggregate_of]
        averages = [c for c in spec.claims if c.aggregate_of]
        if "aggregate_claims" in label or averages:  # an average found on a card not labelled for them: extra
            _score_aggregates(s, name, label.get("aggregate_claims", []), averages)
        if "history_claims" in label:
            s.history.append((name, label["history_claims"], sum(1 for c in spec.claims if c.history)))
        used: set[int] = set()
        for lab in label["sts_claims"]:
            hit = next((i for i, c in enumerate(claims) if i not in used and claim_matches(lab, c)), None)
            if hit is None:
                s.missed.append((name, lab))
            else:
                used.add(hit)
        s.labelled_claims += len(label["sts_claims"])
        s.matched_labels += len(label["sts_claims"]) - sum(
            1 for n, lab in s.missed if n == name and "aggregate_of" not in lab
        )
        s.found_claims += len(claims)
        for i, c in enumerate(claims):
            if i in used or any(claim_matches(lab, c) for lab in label["sts_claims"]):
                s.matched_found += 1  # a duplicate of a matched claim is still a right claim
            else:
                s.extra.append((name, c))
    return s


def report(s: Score) -> str:
    lines = [f"real cards: {s.cards}"]
    for f in FIELDS:
        n = s.right.get(f, 0)
        lines.append(f"  {f:<15} {n:>3}/{s.cards}  {n / s.cards:6.1%}")
    recall = s.matched_labels / max(1, s.labelled_claims)
    precision = s.matched_found / max(1, s.found_claims)
    lines.append(
        f"  STS claims: recall {s.matched_labels}/{s.labelled_claims} {recall:6.1%}, "
        f"precision {s.matched_found}/{s.found_claims} {precision:6.1%}"
    )
    lines.append(
        f"  aggregate claims ({s.aggregate_cards} cards labelled for them): "
        f"recall {s.matched_aggregates}/{s.labelled_aggregates}, "
        f"precision {s.matched_aggregates}/{s.found_aggregates}"
    )
    right = sum(1 for _, want, got in s.history if want == got)
    lines.append(f"  training-log history: right count on {right}/{len(s.history)} cards labelled for it")
    return "\n".join(lines)


def details(s: Score) -> str:
    out = []
    for f, misses in s.fields.items():
        for name, want, got in misses:
            out.append(f"{f}: {name}: label {want!r}, parsed {got!r}")
    for name, lab in s.missed:
        out.append(f"missed: {name}: {lab}")
    for name, c in s.extra:
        out.append(
            f"extra: {name}: {c.metric}/{c.similarity} {c.value:.4f} ds={c.dataset!r} sub={c.language!r} "
            f"split={c.split!r} of={c.aggregate_of} ({c.source}) {c.quote[:90]!r}"
        )
    for name, want, got in s.history:
        if want != got:
            out.append(f"history: {name}: label {want} earlier training-log rows, parsed {got}")
    return "\n".join(out)


@pytest.fixture(scope="module")
def parsed() -> dict[str, ModelSpec]:
    return {p.name: parse_card(p) for p in sorted(FOLDER.glob("[0-9]*.md"))}


def test_every_labelled_card_is_there_and_parses(parsed):
    labels = _labels()
    assert set(labels) <= set(parsed), sorted(set(labels) - set(parsed))
    internal = [n for n, s in parsed.items() if any("internal error" in e for e in s.errors)]
    assert internal == []


def test_accuracy_on_real_cards(parsed):
    labels = _labels()
    s = score(parsed, labels)
    summary = report(s)
    print("\n" + summary)
    below = [f for f in FIELDS if s.right.get(f, 0) / s.cards < FIELD_TARGET]
    recall = s.matched_labels / max(1, s.labelled_claims)
    precision = s.matched_found / max(1, s.found_claims)
    assert not below and recall >= RECALL_TARGET and precision >= PRECISION_TARGET, (
        summary + "\n" + details(s)
    )
    # an average is compared only when it is one: every one found is a labelled one
    assert s.matched_aggregates == s.found_aggregates, summary + "\n" + details(s)
    assert all(want == got for _, want, got in s.history), summary + "\n" + details(s)


if __name__ == "__main__":  # python tests/test_realcards.py [NAME-PREFIX]: every mismatch
    prefix = sys.argv[1] if len(sys.argv) > 1 else ""
    labels = {k: v for k, v in _labels().items() if k.startswith(prefix)}
    specs = {k: parse_card(FOLDER / k) for k in labels}
    result = score(specs, labels)
    print(report(result))
    print(details(result))
