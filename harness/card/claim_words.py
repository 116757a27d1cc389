"""The words of a claim: which correlation and similarity a label names, a value, a split, a dataset.

``spearman_cosine``, ``cos_sim_spearman``, ``Cosine Spearman``, ``Spearman (cosine)`` and
``cosine_spearman`` all name Spearman's correlation of cosine similarities; ``pearson_manhattan``
names Pearson's of Manhattan distances; ``spearman_max`` the best of several similarity
functions (kept apart: it is not a cosine score); a bare ``Spearman`` names no similarity.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from harness.card.evidence import clip
from harness.languages import normalize_language
from harness.records import Claim
from harness.sts_datasets import sts_dataset

MAX_CLAIMS = 200

SPLITS = {
    "test": "test",
    "dev": "dev",
    "validation": "validation",
    "val": "validation",
    "train": "train",
}
_SIMILARITY_WORDS = {
    "cosine": "cosine",
    "cos": "cosine",
    "cossim": "cosine",
    "dot": "dot",
    "dotproduct": "dot",
    "euclidean": "euclidean",
    "euclid": "euclidean",
    "manhattan": "manhattan",
    "max": "max",
}
METRIC_RE = re.compile(r"(?i)(spearman|pearson)")
# a number: 0.8247, 85.60, 85, 88.2%, .85
NUMBER_RE = re.compile(r"(?<![\w.\-/])(-?(?:\d{1,3}(?:\.\d+)?|\.\d+))\s*(%?)(?![\w.]|\.\d)")


@dataclass(frozen=True)
class Found:
    """A claim as found, with the decimals its value was written with (for merging equal claims)."""

    claim: Claim
    decimals: int | None


@dataclass(frozen=True)
class Metric:
    metric: str  # spearman | pearson | unstated (the card names no correlation)
    similarity: str  # cosine | ... | unspecified


UNSTATED = Metric("unstated", "unspecified")


def similarity_in(text: str) -> str | None:
    """The similarity function a label names (``cos_sim`` -> cosine), or None."""
    low = text.lower().replace("cos_sim", "cossim").replace("dot_product", "dotproduct")
    found = [_SIMILARITY_WORDS[t] for t in re.split(r"[^a-z]+", low) if t in _SIMILARITY_WORDS]
    found = list(dict.fromkeys(found))
    return found[0] if len(found) == 1 else None


def metric_of(label: str) -> Metric | None:
    """The correlation (and similarity) a label names, or None when it names no correlation."""
    m = METRIC_RE.search(label)
    if not m:
        return None
    others = METRIC_RE.findall(label)
    if len({o.lower() for o in others}) > 1:
        return None  # "pearson / spearman": names two
    return Metric(m.group(1).lower(), similarity_in(label) or "unspecified")


def read_value(raw: Any, *, percent: bool = False) -> tuple[float | None, int | None, str | None]:
    """(value on 0-1, decimals of the 0-1 value as written, problem). `percent`: the value is on
    a 0-100 scale even when it is below 1 (an MTEB result block whose other scores exceed 1)."""
    if isinstance(raw, bool):
        return None, None, "not a number"
    decimals = None
    if isinstance(raw, str):
        s = raw.strip()
        percent = percent or s.endswith("%")
        s = s.rstrip("%").strip()
        try:
            v = float(s)
        except ValueError:
            return None, None, "not a number"
        decimals = len(s.split(".", 1)[1]) if "." in s else 0
    elif isinstance(raw, int | float):
        v = float(raw)
    else:
        return None, None, "not a number"
    if not math.isfinite(v):
        return None, None, "not a finite number"
    if percent or abs(v) > 1:
        v /= 100
        decimals = decimals + 2 if decimals is not None else None
    if abs(v) > 1:
        return None, None, "outside -1..1 even read as a percentage"
    return v, decimals, None


def cell_number(text: str) -> str | None:
    """The number a table cell states ("**84.87**", "0.8672 🏆", "85.2 ± 0.3"), or None."""
    s = text.strip().strip("*_ ")
    m = NUMBER_RE.match(s)
    if not m:
        return None
    rest = s[m.end() :].strip()
    if rest and not re.match(r"^(?:±|\+/-|\(|\[|🏆|†|‡|\*|$)", rest) and rest[0].isalnum():
        return None
    return m.group(1) + m.group(2)


def dataset_info(name: str) -> tuple[str | None, str | None, str | None]:
    """('sts', 'test', 'de') from an evaluator name such as 'sts-test-de' or 'STS-B Test'.

    Follows Sentence Transformers' evaluator naming (dataset, split, then language); a language
    is read only after the split, so names like 'stsb_multi_mt' never yield Maltese.
    """
    s = name.strip()
    splits = "|".join(SPLITS)
    m = re.match(
        rf"^(?P<ds>.*?)(?<![A-Za-z0-9])(?P<split>{splits})(?![A-Za-z0-9])(?:[-_\s]+(?P<lang>[A-Za-z]{{2,3}}))?$",
        s,
        re.IGNORECASE,
    )
    if not m:
        return (s or None), None, None
    code = normalize_language(m.group("lang").lower()) if m.group("lang") else None
    ds = m.group("ds").strip(" -_:") or None
    return ds, SPLITS[m.group("split").lower()], code


def dataset_line(text: str) -> tuple[str | None, str | None, str | None] | None:
    """(dataset, split, language) from a "Dataset: `sts-test-de`" line (the card template's), or None."""
    # [ \t]*, not \s*: "... on the sts-test dataset:" ending a line names no dataset on the next
    hits = re.findall(r"(?im)\bdataset:[ \t]*`?([A-Za-z0-9][\w.\-/ ]{0,100}?)`?[ \t]*$", text)
    return dataset_info(hits[-1]) if hits else None


def split_in(text: str) -> str | None:
    """The split a phrase names ("on the test set", "dev"), when it names exactly one."""
    # letters and digits around, not \b: "csts_dev" names the dev split, "devset" none
    words = re.findall(r"(?i)(?<![a-z0-9])(test|dev|validation|val)(?![a-z0-9])", text)
    found = {SPLITS[w.lower()] for w in words}
    return found.pop() if len(found) == 1 else None


def subset_of(value: str | None) -> str | None:
    """A language subset written as a config, in parentheses or as a pair: "de", "de-en", "en;de",
    "zh-CN;zh-CN" (-> "zh"), "ar-ar" (-> "ar"); None when it is not languages."""
    if not value or len(value) > 40:
        return None
    tags = []
    for tag in re.split(r"\s*[;,/&]\s*|\s+", value.strip()):
        # "de-fr" is a pair of languages; "de-CH", "zh-Hant" are one language with a region or script
        tags.extend(tag.split("-") if re.fullmatch(r"[a-z]{2,3}-[a-z]{2,3}", tag) else [tag] if tag else [])
    codes = [normalize_language(tag) for tag in tags]
    if not all(codes):
        codes = [normalize_language(p) for p in re.split(r"[-_;,/&\s]+", value.strip()) if p]
    if not codes or not all(codes) or len(codes) > 2:
        return None
    return "-".join(dict.fromkeys(c for c in codes if c))


def make_claim(
    metric: Metric,
    value: float,
    *,
    dataset: str | None,
    split: str | None,
    language: str | None,
    source: str,
    quote: str,
    aggregate_of: list[str] | None = None,
    checkpoint: str | None = None,
) -> Claim:
    """A claim; `aggregate_of`: the datasets an average is over; `checkpoint`: the training-log row
    of a claim that is history (an earlier row than the released model's)."""
    info = sts_dataset(dataset)
    return Claim(
        aggregate_of=[clip(d, 100) for d in aggregate_of or []],
        history=checkpoint is not None,
        checkpoint=clip(checkpoint, 80) if checkpoint else None,
        metric=metric.metric,
        similarity=metric.similarity,
        value=value,
        dataset=clip(dataset, 100) if dataset else None,
        split=split,
        language=language,
        mteb_task=info.mteb_task,
        source=source,
        sources=[source],
        quote=clip(" ".join(quote.split()), 400),
    )
