"""Is a local copy MTEB's data? Checked against the descriptive statistics mteb ships per task.

mteb ships, for every task and evaluation split (and per ``hf_subset`` for multilingual
tasks), the statistics of the data it evaluates: number of pairs, unique pairs, per side the
total / min / average / max text length and number of unique texts, and the min / average /
max gold score (``mteb/descriptive_stats/<type>/<task>.json``, read through
``task.metadata.descriptive_stats``; what ``AbsTask.calculate_descriptive_statistics``
computes). Before a local file runs under an MTEB task name and that task's
``dataset_revision``, :func:`verify_local` computes the same figures on the local pairs and
compares them:

- ``verified``: every figure equal (counts exactly, averages to 1e-9);
- ``whitespace``: the data manifest documents that the local copy has leading/trailing
  whitespace stripped, every count and score figure is equal and only text lengths differ,
  each one *shorter* locally. Reported (the differing figures are listed), and the copy
  still runs as the MTEB task;
- ``mismatch``: anything else. The catalog then runs the file under a local name
  (``<Task>-local``) with its own content hash as revision, never under MTEB's;
- ``no-statistics``: mteb ships nothing for that task / split / subset, so nothing can be
  checked; treated like a mismatch;
- ``unreadable``: the file could not be parsed (its error is kept; loading it fails the same way).

Unique pairs: the statistics shipped with mteb 2.x count ordered pairs
``(sentence1, sentence2)``; mteb's newer code counts a pair and its swap once. Either count
is accepted.

Scores: some Hub datasets store scores as float32 (JSTS), so mteb's average is that of the
float32-rounded scores; a copy written from the source's decimal text (``2.4``) matches that
average only once its scores are rounded the same way. Both averages are accepted.
"""

from __future__ import annotations

import functools
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harness.errors import DataError, TaskUnavailable
from harness.records import StsPairs
from harness.tasks.fingerprints import order_problem

VerificationStatus = Literal["verified", "whitespace", "mismatch", "no-statistics", "unreadable"]

_SIDES = ("text1_statistics", "text2_statistics")
_LENGTH_KEYS = ("total_text_length", "min_text_length", "average_text_length", "max_text_length")
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Verification:
    """The outcome of checking one local file against mteb's statistics for one task split."""

    status: VerificationStatus
    task: str
    subset: str
    split: str
    differences: tuple[str, ...] = ()
    note: str | None = None  # the manifest's whitespace note, or why the file is unreadable

    @property
    def ok(self) -> bool:
        """The copy may run under the MTEB task name and revision."""
        return self.status in ("verified", "whitespace")

    def summary(self) -> str:
        """One line for ``harness tasks`` and task descriptions."""
        label = self.task if self.subset == "default" else f"{self.task}[{self.subset}]"
        shown = "; ".join(self.differences[:3]) + ("; ..." if len(self.differences) > 3 else "")
        if self.status == "verified":
            return f"verified: equal to mteb's statistics for {label} {self.split}"
        if self.status == "whitespace":
            return f"verified, whitespace-only differences ({self.note}): {shown}"
        if self.status == "no-statistics":
            return f"not verified: mteb ships no statistics for {label} {self.split}"
        if self.status == "unreadable":
            return f"not verified: {self.note}"
        return f"differs from mteb's {label} {self.split}: {shown}"


def split_statistics(pairs: StsPairs) -> dict[str, Any]:
    """mteb's descriptive statistics of one STS split (text columns only), for these pairs."""

    def side(texts: list[str]) -> dict[str, Any]:
        lengths = [len(text) for text in texts]
        return {
            "total_text_length": sum(lengths),
            "min_text_length": min(lengths),
            "average_text_length": sum(lengths) / len(lengths),
            "max_text_length": max(lengths),
            "unique_texts": len(set(texts)),
        }

    text1, text2 = side(pairs.sentence1), side(pairs.sentence2)
    ordered = set(zip(pairs.sentence1, pairs.sentence2, strict=True))
    as_float32 = [_float32(x) for x in pairs.gold]
    return {
        "num_samples": len(pairs),
        "number_of_characters": text1["total_text_length"] + text2["total_text_length"],
        "unique_pairs": len(ordered),
        "unique_pairs_symmetric": len({(a, b) if a <= b else (b, a) for a, b in ordered}),
        "text1_statistics": text1,
        "text2_statistics": text2,
        "label_statistics": {
            "min_score": min(pairs.gold),
            "avg_score": sum(pairs.gold) / len(pairs.gold),
            "max_score": max(pairs.gold),
        },
        "label_statistics_float32": {"avg_score": sum(as_float32) / len(as_float32)},
    }


def _float32(x: float) -> float:
    """``x`` rounded to the nearest float32 (as a Hub dataset with a float32 column stores it)."""
    try:
        return struct.unpack("f", struct.pack("f", x))[0]
    except OverflowError:  # beyond float32's range: no float32 column holds it
        return x


@functools.cache
def _shipped(task_name: str) -> dict[str, Any] | None:
    import mteb

    try:
        task = mteb.get_task(task_name)
    except Exception:  # not an mteb task (any more)
        return None
    stats = task.metadata.descriptive_stats
    return stats if isinstance(stats, dict) else None


def shipped_statistics(task_name: str, subset: str, split: str) -> dict[str, Any] | None:
    """The statistics mteb ships for one task, split (mteb's spelling) and subset, or None."""
    stats = _shipped(task_name)
    if not stats or not isinstance(stats.get(split), dict):
        return None
    split_stats = stats[split]
    per_subset = split_stats.get("hf_subset_descriptive_stats")
    if isinstance(per_subset, dict) and subset in per_subset:
        return per_subset[subset]
    return split_stats if subset == "default" else None


def _differs(ours: Any, theirs: Any) -> bool:
    if isinstance(theirs, bool) or not isinstance(theirs, (int, float)):
        return ours != theirs
    if not isinstance(ours, (int, float)):
        return True
    return not math.isclose(ours, theirs, rel_tol=_TOLERANCE, abs_tol=_TOLERANCE)


def compare_statistics(
    ours: dict[str, Any], theirs: dict[str, Any], whitespace_note: str | None = None
) -> tuple[VerificationStatus, tuple[str, ...]]:
    """``(status, differing figures)`` of local statistics against mteb's (see the module doc)."""
    diffs: list[str] = []
    length_only = True
    shorter = True
    for key in ("num_samples", "number_of_characters", "unique_pairs"):
        if key not in theirs:
            continue
        mine = ours[key]
        if key == "unique_pairs" and not _differs(ours["unique_pairs_symmetric"], theirs[key]):
            mine = ours["unique_pairs_symmetric"]
        if _differs(mine, theirs[key]):
            diffs.append(f"{key} {mine} vs mteb {theirs[key]}")
            if key == "number_of_characters":
                shorter = shorter and mine < theirs[key]
            else:
                length_only = False
    for group in (*_SIDES, "label_statistics"):
        expected = theirs.get(group)
        if not isinstance(expected, dict):
            continue
        for key, value in expected.items():
            mine = ours[group].get(key)
            rounded = ours.get(f"{group}_float32", {}).get(key)
            if not _differs(mine, value) or (rounded is not None and not _differs(rounded, value)):
                continue
            diffs.append(f"{group.removesuffix('_statistics')}.{key} {mine:g} vs mteb {value:g}")
            if key in _LENGTH_KEYS and group in _SIDES:
                shorter = shorter and mine <= value
            else:
                length_only = False
    if not diffs:
        return "verified", ()
    if whitespace_note and length_only and shorter:
        return "whitespace", tuple(diffs)
    return "mismatch", tuple(diffs)


@functools.lru_cache(maxsize=256)
def _verify_cached(
    task_name: str,
    subset: str,
    split: str,
    path: str,
    digest: str,
    reader_key: str,
    whitespace_note: str | None,
) -> Verification:
    from harness.tasks.readers import read_file

    theirs = shipped_statistics(task_name, subset, split)
    if theirs is None:
        return Verification("no-statistics", task_name, subset, split)
    try:
        pairs, _ = read_file(Path(path), reader_key)
    except (DataError, TaskUnavailable) as exc:
        return Verification("unreadable", task_name, subset, split, note=str(exc))
    status, diffs = compare_statistics(split_statistics(pairs), theirs, whitespace_note)
    order = order_problem(task_name, subset, split, pairs) if status in ("verified", "whitespace") else None
    if order is not None:  # the statistics ignore row order; the rows fingerprint does not
        status, diffs = "mismatch", (order, *diffs)
    note = whitespace_note if status == "whitespace" else None
    return Verification(status, task_name, subset, split, diffs, note)


def verify_local(
    task_name: str,
    subset: str,
    split: str,
    path: Path,
    revision: str,
    reader_key: str,
    whitespace_note: str | None = None,
) -> Verification:
    """Check the local file of one MTEB task split against mteb's shipped statistics.

    ``revision`` is the file's content revision (``local-<sha256>``): the result is cached per
    content, and loading refuses a file whose content changed since it was checked.
    """
    return _verify_cached(task_name, subset, split, str(path), revision, reader_key, whitespace_note)
