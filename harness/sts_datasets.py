"""Which dataset a claim names, and whether it is an STS dataset.

A claim's dataset is written many ways: ``STS-B``, ``stsb_multi_mt``, ``mteb/stsbenchmark-sts``,
``MTEB STS22 (de)``, ``sts-test-de``, ``KorSTS``, ``[STS12]``. `sts_dataset` reads such a name into
the MTEB task it is (``STSBenchmark``, ``STS22``, ...) when it is one, or says it is an STS
dataset MTEB does not have (``Priya22``, a generic ``sts-dev``), or not an STS dataset at all
(``SummEval``, ``XNLI``). The report uses the same table to match claims to the tasks it ran.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.languages import normalize_language

# normalised name (lower-case alphanumerics) -> MTEB task name
MTEB_TASK_KEYS: dict[str, str] = {
    "stsb": "STSBenchmark",
    "stsbenchmark": "STSBenchmark",
    "stsbenchmarksts": "STSBenchmark",
    "stsbenchmarkv2": "STSBenchmark.v2",
    "stsbmultimt": "STSBenchmarkMultilingualSTS",
    "stsbmultilingual": "STSBenchmarkMultilingualSTS",
    "stsbenchmarkmultilingual": "STSBenchmarkMultilingualSTS",
    "stsbenchmarkmultilingualsts": "STSBenchmarkMultilingualSTS",
    "germanstsbenchmark": "GermanSTSBenchmark",
    "sick": "SICK-R",
    "sickr": "SICK-R",
    "sickfr": "SICKFr",
    "sickrpl": "SICK-R-PL",
    "sicknl": "SICK-NL-STS",
    "sicknlsts": "SICK-NL-STS",
    "sickbr": "SICK-BR-STS",
    "sickbrsts": "SICK-BR-STS",
    "jsick": "JSICK",
    "sts12": "STS12",
    "sts13": "STS13",
    "sts14": "STS14",
    "sts15": "STS15",
    "sts16": "STS16",
    "sts17": "STS17",
    "sts17crosslingual": "STS17",
    "sts22": "STS22",
    "sts22crosslingual": "STS22",
    "sts22v2": "STS22.v2",
    "biosses": "BIOSSES",
    "korsts": "KorSTS",
    "kluests": "KLUE-STS",
    "klue": "KLUE-STS",
    "jsts": "JSTS",
    "assin2": "Assin2STS",
    "assin2sts": "Assin2STS",
    "rosts": "RonSTS",
    "ronsts": "RonSTS",
    "stses": "STSES",
    "cdscr": "CDSC-R",
    "afqmc": "AFQMC",
    "atec": "ATEC",
    "bq": "BQ",
    "bqcorpus": "BQ",  # the BQ Corpus (C-MTEB's BQ)
    "lcqmc": "LCQMC",
    "pawsx": "PAWSX",
    "qbqtc": "QBQTC",
    "faroesests": "FaroeseSTS",
    "finparasts": "FinParaSTS",
    "indiccrosslingualsts": "IndicCrosslingualSTS",
    "semrel24sts": "SemRel24STS",
    "rustsbenchmarksts": "RuSTSBenchmarkSTS",
    "ruparaphrasersts": "RUParaPhraserSTS",
    "slovaksts": "SlovakSTS",
    "farsick": "Farsick",
    "synpersts": "SynPerSTS",
}
# STS datasets MTEB has no task for, and generic names for "an STS set"
OTHER_STS_KEYS = frozenset(
    {
        "sts",
        "semantictextualsimilarity",
        "stsbenchmarkvn",
        "vistsbenchmark",
        "vists",
        "priya22",
        "arsts",
        "stsbmt",
        "stsbtr",
        "stsbmtturkish",
        "mstsb",
        "ststest",
        "stsdev",
        "sohudd",
        "sohudc",
    }
)
# Benchmarks that report Pearson/Spearman but do not score sentence-pair similarity
NOT_STS_KEYS = frozenset({"summeval", "summevalfr", "xnli", "snli", "mnli", "nli", "jsnli"})
AGGREGATE_KEYS = frozenset({"avg", "average", "mean", "overall", "total"})
_SPLIT_WORDS = frozenset({"test", "dev", "validation", "val", "train", "eval"})


_FILLER_WORDS = frozenset(
    {
        "sts",
        "mt",
        "data",
        "dataset",
        "datasets",
        "set",
        "benchmark",
        "task",
        "translated",
        "crosslingual",
        "multilingual",
        "human",
        "results",
        "eval",
        "evaluation",
        "split",
    }
)


def _filler(token: str) -> bool:
    """A word that may stand beside a dataset's name: a split, a language, a version, "dataset"."""
    return (
        token in _SPLIT_WORDS
        or token in _FILLER_WORDS
        or re.fullmatch(r"v?\d{1,4}", token) is not None
        or (len(token) <= 3 and normalize_language(token) is not None)
        or (len(token) > 3 and normalize_language(token.capitalize()) is not None)
    )


@dataclass(frozen=True)
class Dataset:
    is_sts: bool | None  # None: nothing known about the name
    mteb_task: str | None = None
    subset: str | None = None  # a language subset written in the name: "MTEB STS22 (de)"


def normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _tokens(name: str) -> list[str]:
    last = name.strip().split("/")[-1].lower()
    return [t for t in re.split(r"[^a-z0-9]+", last) if t]


def sts_dataset(name: str | None) -> Dataset:
    """What a dataset name says (see the module docstring)."""
    if not name or not name.strip():
        return Dataset(None)
    text = name.strip()
    subset = None
    m = re.match(r"^(?:MTEB\s+)?(.+?)\s*\(([^()]{1,40})\)\s*$", text)
    if m:
        text, subset = m.group(1), m.group(2).strip()
    text = re.sub(r"(?i)^MTEB\s+", "", text)
    whole = normalise(text)
    tokens = _tokens(text)
    # the longest run of tokens that names a dataset; the other tokens may only be words such as
    # a split, a language or "dataset" ("vi-stsbenchmark", "sts-test-de"), else it is some other
    # name that merely starts like one ("mstsb-paraphrase-multilingual-mpnet-base-v2", a model)
    for start in range(min(3, len(tokens))):
        for end in range(len(tokens), start, -1):
            key = "".join(tokens[start:end])
            known = key in NOT_STS_KEYS or key in MTEB_TASK_KEYS or key in OTHER_STS_KEYS
            if not known:
                continue
            if not all(_filler(t) for t in tokens[:start] + tokens[end:]):
                return Dataset(None, None, subset)
            if key in NOT_STS_KEYS:
                return Dataset(False, None, subset)
            return Dataset(True, MTEB_TASK_KEYS.get(key), subset)
    if whole in AGGREGATE_KEYS:
        return Dataset(None, None, subset)
    semantic = "similarity" in tokens and ("semantic" in tokens or "textual" in tokens)
    if "sts" in tokens or any(t.startswith("sts") or t.endswith("sts") for t in tokens) or semantic:
        return Dataset(True, None, subset)
    return Dataset(None, None, subset)


GENERIC_KEYS = frozenset({"sts", "semantictextualsimilarity", "sts avg", "stsavg", "stsaverage"})


def is_aggregate(name: str) -> bool:
    """A score over several datasets (Mean, Avg, "Average Spearman", an MTEB "STS" category column):
    it names no one task, so it is no claim."""
    key = normalise(name)
    words = set(re.findall(r"[a-z]+", name.lower()))
    return key in AGGREGATE_KEYS or key in GENERIC_KEYS or bool(words & {"avg", "average", "mean", "overall"})


def is_average(name: str) -> bool:
    """An average column a card can be checked on ("Avg", "Mean", "Overall"): the mean of the datasets
    beside it, unlike an MTEB category column ("STS") whose datasets the card does not name. ("all"
    is not one: cards use it for the union of their test sets, whose score is no mean.)"""
    words = set(re.findall(r"[a-z]+", name.lower()))
    return bool(words & {"avg", "average", "mean", "overall"})


def dataset_mentions(text: str) -> list[str]:
    """STS dataset names written in a piece of text, in order ("KorSTS", "STS-B", "stsb_multi_mt")."""
    out = []
    for token in re.findall(r"[A-Za-z][\w./-]*\w", text):
        key = normalise(token)
        if key in ("sts", "similarity") or key in AGGREGATE_KEYS:
            continue
        info = sts_dataset(token)
        if info.is_sts and (info.mteb_task or key in OTHER_STS_KEYS or "sts" in key):
            out.append(token)
    return out


def names_other_benchmark(text: str) -> bool:
    """Whether text names a non-STS benchmark (SummEval, XNLI) and no STS dataset."""
    tokens = re.findall(r"[A-Za-z][\w./-]*\w", text)
    return any(sts_dataset(t).is_sts is False for t in tokens) and not dataset_mentions(text)
