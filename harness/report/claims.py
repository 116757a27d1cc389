"""Checking a card's claimed scores against the stored runs.

Matching a card's claim to a task
---------------------------------
A claim is checked against a stored successful run of the same model when

1. its language equals the page language (a claim without a language counts for the
   card's only language, when the card lists exactly one);
2. its split equals the run's split (no split means ``test``; ``dev``/``validation``/
   ``val`` are the same split);
3. its dataset plausibly is the task: the dataset name (or, when the claim names none,
   one of the card's ``datasets``) is normalised to lower-case alphanumerics of its last
   path segment, e.g. ``PhilipMay/stsb_multi_mt`` -> ``stsbmultimt``, ``STS-B`` ->
   ``stsb``. It matches a task when it equals the task's normalised name, or when
   `CLAIM_DATASET_TASKS` maps it (or the name with split words and the page language's
   code/name removed: ``sts-test-de`` -> ``sts``, ``german-STSbenchmark`` ->
   ``stsbenchmark``) to a set containing the task. A generic name (``sts``, ``sts-test-de``)
   means the claim's MTEB task when it names one, else the tasks that the card's ``datasets``
   list names, else every task run for the language (the row says which).

A claim is compared only like with like: the same correlation (Spearman or Pearson) of the
same similarity function. Only a cosine claim, or one that names no similarity (every claim is an
STS claim, and cosine is what STS evaluations report), is compared: with ``cosine_spearman`` /
``cosine_pearson``. A Manhattan, Euclidean, dot-product or ``*_max`` claim (the best of several
similarity functions) is listed with why it was not compared (`not_compared_reason`), never set
against a cosine score; `Claim.comparable` is the one rule, the same one ``cards --json`` shows.
The claim's MTEB task (read from the card) matches a task of that name. The claim is flagged when
it lies outside the run's 95% interval (the stored interval belongs to the main score, cosine
Spearman; Pearson claims show the difference without a flag). Claims that match nothing are
listed as not checked, with why.

A claim whose metric the card does not state (``unstated``) is compared with cosine Spearman,
MTEB's main score, and its row says so (`UNSTATED_METRIC_NOTE`); it is never shown as a Spearman
claim. An average the card claims (``Claim.aggregate_of``: "Avg" over STS12, STS13, ...) is
compared when every dataset it averages ran, each matching one task: with the mean of our scores,
and an interval from theirs (`mean_ci`). A training log's earlier rows (``Claim.history``) are the
card's record of training, not the released model's claim: they are not compared.
"""

from __future__ import annotations

import re

from harness.evaluate import MAIN_METRIC, finite, mean_ci, stored_ci
from harness.languages import language_key, split_key
from harness.records import Claim, ModelSpec, RunRecord
from harness.report.lang import spec_covers, spec_languages
from harness.report.page import ClaimRow, ModelInfo, Unit
from harness.report.words import LANGUAGE_NAMES, UNSTATED_METRIC_NOTE

STSB_FAMILY = frozenset(
    {
        "STSBenchmark",
        "STSBenchmark.v2",
        "STSBenchmarkMultilingualSTS",
        "GermanSTSBenchmark",
        "RuSTSBenchmarkSTS",
        "STSB",
        "STSBenchmark-VN",
        "HUMESTSBenchmark",
    }
)
SICK_FAMILY = frozenset(
    {"SICK-R", "SICKFr", "SICK-R-PL", "SICK-NL-STS", "SICK-BR-STS", "SICK-R-VN", "JSICK", "HUMESICK-R"}
)
STSB_MULTI_MT = frozenset({"STSBenchmarkMultilingualSTS", "STSBenchmark", "STSBenchmark.v2"})

#: normalised claim dataset name -> MTEB task names it can mean; ``None`` = any STS task run
CLAIM_DATASET_TASKS: dict[str, frozenset[str] | None] = {
    "sts": None,
    "semantictextualsimilarity": None,
    "stsb": STSB_FAMILY,
    "stsbenchmark": STSB_FAMILY,
    "stsbmultimt": STSB_MULTI_MT,
    "stsbmultilingual": STSB_MULTI_MT,
    "stsbenchmarkmultilingual": STSB_MULTI_MT,
    "germanstsbenchmark": frozenset({"GermanSTSBenchmark"}),
    "rosts": frozenset({"RonSTS"}),
    "stses": frozenset({"STSES"}),
    "sick": SICK_FAMILY,
    "sickr": SICK_FAMILY,
    "sts12": frozenset({"STS12", "HUMESTS12"}),
    "sts13": frozenset({"STS13"}),
    "sts14": frozenset({"STS14"}),
    "sts15": frozenset({"STS15"}),
    "sts16": frozenset({"STS16"}),
    "sts17": frozenset({"STS17"}),
    "sts22": frozenset({"STS22", "STS22.v2", "HUMESTS22"}),
    "biosses": frozenset({"BIOSSES", "BIOSSES-VN"}),
    "korsts": frozenset({"KorSTS"}),
    "klue": frozenset({"KLUE-STS"}),
    "kluests": frozenset({"KLUE-STS"}),
    "jsts": frozenset({"JSTS"}),
    "assin2": frozenset({"Assin2STS"}),
    "cdscr": frozenset({"CDSC-R"}),
}
_SPLIT_WORDS = frozenset({"test", "dev", "validation", "val", "eval"})
_SPLIT_ALIASES = {"validation": "dev", "val": "dev", "dev": "dev", "eval": "dev"}


def _norm_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _dataset_keys(dataset: str, lang: str) -> list[str]:
    """Normalised keys to try for a claim's dataset name, most specific first."""
    last = dataset.strip().split("/")[-1].lower()
    tokens = [t for t in re.split(r"[^a-z0-9]+", last) if t]
    drop = set(_SPLIT_WORDS)
    for part in lang.split("-"):
        drop.add(part)
        name = LANGUAGE_NAMES.get(part)
        if name:
            drop.add(_norm_key(name))
    drop.update({"deutsch"} if "de" in lang.split("-") else set())
    keys = ["".join(tokens)]
    stripped = "".join(t for t in tokens if t not in drop)
    if stripped and stripped not in keys:
        keys.append(stripped)
    return keys


def claim_dataset_matches(dataset: str, task_name: str, lang: str) -> bool:
    """Whether a claim's dataset name plausibly is `task_name` (see module docstring)."""
    task_key = _norm_key(task_name)
    for key in _dataset_keys(dataset, lang):
        if not key:
            continue
        if key == task_key:
            return True
        if key in CLAIM_DATASET_TASKS:
            tasks = CLAIM_DATASET_TASKS[key]
            return tasks is None or task_name in tasks
    return False


def names_no_particular_dataset(dataset: str, lang: str) -> bool:
    """Whether a claim's dataset name is generic (``sts-test-de``, "STS"): it maps to every task."""
    for key in _dataset_keys(dataset, lang):
        if key in CLAIM_DATASET_TASKS:
            return CLAIM_DATASET_TASKS[key] is None
    return False


def _narrow_generic(
    claim: Claim, spec: ModelSpec, lang: str, matched: list[tuple[Unit, RunRecord]]
) -> tuple[list[tuple[Unit, RunRecord]], str]:
    """The tasks a claim with a generic dataset name means, and a note saying how they were chosen.

    The claim's own MTEB task wins; else the card's datasets list, where it names a particular
    dataset among the tasks run; else every task run for the language, said in the note."""
    if not claim.dataset or len(matched) < 2 or not names_no_particular_dataset(claim.dataset, lang):
        return matched, ""
    own = [(u, r) for u, r in matched if u.task == claim.mteb_task]
    if own:
        return own, ""
    named = [d for d in spec.datasets.value or [] if not names_no_particular_dataset(d, lang)]
    listed = [(u, r) for u, r in matched if any(claim_dataset_matches(d, u.task, lang) for d in named)]
    if listed:
        return listed, f"“{claim.dataset}” names no particular dataset; task from the card's datasets list"
    return matched, f"“{claim.dataset}” names no particular dataset: compared with each task run"


def normalize_split(split: str | None) -> str:
    if split is None or not split.strip():
        return "test"
    s = split.strip().lower()
    return _SPLIT_ALIASES.get(s, s)


def _claim_language(claim: Claim, spec: ModelSpec) -> str | None:
    if claim.language:
        return language_key(split_key(claim.language))
    langs = spec_languages(spec)
    return langs[0] if len(langs) == 1 and not spec.multilingual else None


NOT_COMPARABLE = (
    "not compared: a 'max' score is the best of several similarity functions, "
    "not comparable with our cosine score"
)


def not_compared_reason(claim: Claim) -> str | None:
    """Why a claim is not set against our cosine score; None when it is a cosine claim (or names
    no similarity) and so is compared."""
    if claim.comparable:
        return None
    if claim.similarity == "max":
        return NOT_COMPARABLE
    return f"not compared: {claim.similarity} similarity, not comparable with our cosine score"


def claim_metric(claim: Claim) -> str:
    """The score of ours a claim is compared with: the same correlation of cosine similarities, and
    cosine Spearman (MTEB's main score) for a claim whose metric the card does not state."""
    return MAIN_METRIC if claim.metric == "unstated" else f"cosine_{claim.metric}"


def _notes(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def _check_aggregate(
    info: ModelInfo, claim: Claim, lang: str, ok_cells: dict[Unit, RunRecord], note: str
) -> ClaimRow:
    """An average over named datasets: compared when each ran, as one task, with the mean of ours."""
    claimed, split, metric = claim.value * 100, normalize_split(claim.split), claim_metric(claim)
    runs: list[tuple[Unit, RunRecord]] = []
    for part in claim.aggregate_of:
        matched = [
            (u, r)
            for u, r in sorted(ok_cells.items())
            if normalize_split(u.split) == split and claim_dataset_matches(part, u.task, lang)
        ]
        if len(matched) != 1:
            why = "no run" if not matched else "several tasks run: " + ", ".join(u.label for u, _ in matched)
            reason = f"not checked: the average is over {', '.join(claim.aggregate_of)}; {part}: {why}"
            return ClaimRow(info, claim, claimed, reason=reason, dataset_note=note)
        runs.append(matched[0])
    values = [finite(r.scores.get(metric)) for _, r in runs]
    if any(v is None for v in values):
        return ClaimRow(
            info, claim, claimed, reason=f"not checked: a run stored no {metric}", dataset_note=note
        )
    cis = [stored_ci(r) if metric == MAIN_METRIC else None for _, r in runs]
    mean, ci = mean_ci([v for v in values if v is not None], cis)
    unit = Unit("mean of " + " + ".join(u.label for u, _ in runs), "default", split)
    return ClaimRow(
        info,
        claim,
        claimed,
        unit=unit,
        metric=metric,
        measured=mean * 100,
        measured_ci=None if ci is None else (ci[0] * 100, ci[1] * 100),
        difference=mean * 100 - claimed,
        outside=None if ci is None else not (ci[0] <= claim.value <= ci[1]),
        dataset_note=_notes(note, f"the card's average over {', '.join(claim.aggregate_of)}"),
    )


def check_claims(
    info: ModelInfo, lang: str, ok_cells: dict[Unit, RunRecord], has_results: bool
) -> list[ClaimRow]:
    spec = info.spec
    if spec is None:
        return []
    rows: list[ClaimRow] = []
    for claim in spec.claims:
        if claim.history:
            continue  # an earlier row of a training log: the card's history, not the model's claim
        claimed = claim.value * 100
        unstated = UNSTATED_METRIC_NOTE if claim.metric == "unstated" else ""
        claim_lang = _claim_language(claim, spec)
        unlike = not_compared_reason(claim)
        if claim_lang is None:
            if claim.language is None and (has_results or spec_covers(spec, lang)):
                why = unlike or "not checked: the claim names no language and the card lists several"
                rows.append(ClaimRow(info, claim, claimed, reason=why))
            continue
        if claim_lang != lang:
            continue
        if unlike is not None:
            rows.append(ClaimRow(info, claim, claimed, reason=unlike))
            continue
        if claim.aggregate_of:
            rows.append(_check_aggregate(info, claim, lang, ok_cells, unstated))
            continue
        if claim.dataset:
            datasets, note = [claim.dataset], ""
        else:
            datasets = list(spec.datasets.value or [])
            note = "dataset from the card's datasets list" if datasets else ""
        split = normalize_split(claim.split)
        matched = [
            (unit, run)
            for unit, run in sorted(ok_cells.items())
            if normalize_split(unit.split) == split
            and (
                claim.mteb_task == unit.task
                or any(claim_dataset_matches(d, unit.task, lang) for d in datasets)
            )
        ]
        matched, generic_note = _narrow_generic(claim, spec, lang, matched)
        note = _notes(generic_note or note, unstated)
        if not matched:
            if not ok_cells:
                reason = "not checked: the model has no successful result for this language"
            elif not datasets:
                reason = "not checked: the claim names no dataset"
            else:
                reason = "not checked: no matching task run"
            rows.append(ClaimRow(info, claim, claimed, reason=reason, dataset_note=note))
            continue
        metric = claim_metric(claim)  # the same correlation of the same similarity
        for unit, run in matched:
            value = finite(run.scores.get(metric))
            if value is None:
                why = f"not checked: the run stored no {metric}"
                row = ClaimRow(info, claim, claimed, unit=unit, metric=metric, reason=why, dataset_note=note)
                rows.append(row)
                continue
            ci = stored_ci(run) if metric == MAIN_METRIC else None
            outside = None if ci is None else not (ci[0] <= claim.value <= ci[1])
            rows.append(
                ClaimRow(
                    info,
                    claim,
                    claimed,
                    unit=unit,
                    metric=metric,
                    measured=value * 100,
                    measured_ci=None if ci is None else (ci[0] * 100, ci[1] * 100),
                    difference=value * 100 - claimed,
                    outside=outside,
                    dataset_note=note,
                )
            )
    return rows
