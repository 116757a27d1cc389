"""Every local split of every known task (train, dev and test), as one index of sentence pairs.

A model card's sample rows (harness.card.training) are looked up here: which local splits hold
them. Pairs are compared normalised and unordered (`harness.tasks.audit.normalize_text`), so a
card that lower-cased or swapped its rows still matches. Files that cannot be read are skipped
(the audit of their task says why); the index is built once per data folder and process.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from harness.errors import DataError, TaskUnavailable
from harness.tasks.audit import normalize_text
from harness.tasks.readers import LOCAL_SOURCES, read_file

FILE_SPLITS = ("train", "dev", "test")


@dataclass(frozen=True, order=True)
class SplitLocation:
    task: str
    subset: str
    split: str  # as the files name it: train, dev, test
    file: str  # relative to the data folder

    @property
    def label(self) -> str:
        name = self.task if self.subset == "default" else f"{self.task}[{self.subset}]"
        return f"{name} {self.split} ({self.file})"


def _key(a: str, b: str) -> tuple[str, str]:
    x, y = normalize_text(a), normalize_text(b)
    return (x, y) if x <= y else (y, x)


def local_splits(data_dir: Path) -> list[tuple[SplitLocation, Path]]:
    """Every local split file under the data folder that a known task's layout names."""
    out: list[tuple[SplitLocation, Path]] = []
    root = Path(data_dir)
    for task, source in sorted(LOCAL_SOURCES.items()):
        for split in FILE_SPLITS:
            pattern = source.pattern.replace("{split}", split)
            if "{subset}" not in pattern:
                path = root / pattern
                if path.is_file():
                    out.append((SplitLocation(task, "default", split, pattern), path))
                continue
            regex = re.compile(re.escape(pattern).replace(re.escape("{subset}"), r"([A-Za-z0-9_-]+)"))
            for path in sorted(root.glob(pattern.replace("{subset}", "*"))):
                rel = path.relative_to(root).as_posix()
                match = regex.fullmatch(rel)
                if match and path.is_file():
                    out.append((SplitLocation(task, match.group(1), split, rel), path))
    return out


@functools.cache
def _index(data_dir: str) -> dict[tuple[str, str], frozenset[SplitLocation]]:
    index: dict[tuple[str, str], set[SplitLocation]] = {}
    for location, path in local_splits(Path(data_dir)):
        source = LOCAL_SOURCES[location.task]
        try:
            pairs, _ = read_file(path, source.fmt.key)
        except (DataError, TaskUnavailable):
            continue
        for a, b in zip(pairs.sentence1, pairs.sentence2, strict=True):
            index.setdefault(_key(a, b), set()).add(location)
    return {k: frozenset(v) for k, v in index.items()}


def find_pairs(samples: tuple[tuple[str, str], ...], data_dir: Path) -> list[tuple[SplitLocation, int]]:
    """(split, how many of the samples it holds) for every local split holding at least one, most first."""
    index = _index(str(Path(data_dir).resolve()))
    counts: dict[SplitLocation, int] = {}
    for a, b in samples:
        for location in index.get(_key(a, b), ()):
            counts[location] = counts.get(location, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
