"""MTEB's published scores beside ours (``report`` / ``compare`` ``--mteb-results DIR``).

``DIR`` is a local copy of MTEB's results repository (``DIR/results/<org>__<Name>/<revision>/
<Task>.json``), the repository's ``results/`` folder itself, or an mteb ``ResultCache`` folder
(``DIR/results`` and ``DIR/remote/results``). Files are found with mteb's own
``ResultCache.get_cache_paths`` and read with ``TaskResult.from_disk``; only regular files of
at most :data:`MAX_PUBLISHED_BYTES` are read (a FIFO or a link to a device is reported and
skipped). When ``DIR`` holds no results at all and the Hub is reachable, mteb's
``ResultCache.download_from_remote`` fetches them into it; offline, nothing is downloaded.

Matching: by model name (the Hub id; mteb's folder ``org__Name``), task, split and subset,
and by revision. A result of ours for a Hub revision matches only that revision. A result for
local weights (``local-<hash>``: the Hub revision is unknown) is shown beside the published
score for mteb's registered revision of the model (else the only one published) and says so.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_PUBLISHED_BYTES = 16 * 1024 * 1024
log = logging.getLogger(__name__)


class PublishedError(Exception):
    """The published-results folder cannot be used; the message names it."""


@dataclass(frozen=True)
class Published:
    """One published main score for a model revision, task, split and subset."""

    model: str
    revision: str
    task: str
    split: str
    subset: str
    score: float
    path: str
    mteb_version: str | None = None


@dataclass(frozen=True)
class PublishedMatch:
    """Ours beside MTEB's published score (0-1 scale), the difference, and whether it is in our interval."""

    ours: float
    ours_ci: tuple[float, float] | None
    published: Published
    difference: float  # ours - published
    within_ci: bool | None  # None when we have no interval
    revision_note: str | None  # set when the revisions could not be compared


def _result_roots(folder: Path) -> Path | None:
    """The ResultCache folder for `folder` (see the module doc), or None when it holds no results."""
    if (folder / "results").is_dir() or (folder / "remote" / "results").is_dir():
        return folder
    if folder.name == "results" and folder.is_dir():
        return folder.parent
    return None


class PublishedScores:
    """MTEB's published results under one folder, loaded per model on first use."""

    def __init__(self, cache_root: Path, errors: list[str] | None = None) -> None:
        self.cache_root = cache_root
        self.errors = errors if errors is not None else []
        self._by_model: dict[str, list[Published]] = {}
        self._index: PublishedIndex | None = None

    def _load_model(self, model: str) -> list[Published]:
        from mteb.cache import ResultCache

        found: list[Published] = []
        cache = ResultCache(cache_path=self.cache_root)
        for path in cache.get_cache_paths(models=[model], require_model_meta=False, include_remote=True):
            try:
                entries, off_scale = read_published_file(Path(path))
            except PublishedFileSkipped as exc:
                self.errors.append(f"{path}: published result skipped: {exc}")
                continue
            self.errors.extend(off_scale)
            found.extend(entries)
        return found

    def load_all(self) -> PublishedIndex:
        """Every published result under the folder, each file parsed once (kept for later lookups).

        Problems are counted, never fatal: each kind of problem is one line in `errors` with its
        count and an example (see `PublishedIndex`).
        """
        if self._index is None:
            self._index = index_folder(self.cache_root)
            self.errors.extend(self._index.warnings)
            for entry in self._index.entries:
                self._by_model.setdefault(entry.model, []).append(entry)
        return self._index

    def for_model(self, model: str) -> list[Published]:
        if self._index is not None:
            return self._by_model.get(model, [])
        if model not in self._by_model:
            self._by_model[model] = self._load_model(model)
        return self._by_model[model]

    def lookup(
        self, model: str, revision: str, task: str, split: str, subset: str
    ) -> tuple[Published, str | None] | None:
        """The published score matching ours, with a note when the revisions could not be compared."""
        candidates = [
            p for p in self.for_model(model) if (p.task, p.split, p.subset) == (task, split, subset)
        ]
        exact = [p for p in candidates if p.revision == revision]
        if exact:
            return exact[0], None
        if not candidates or not (revision.startswith("local-") or revision == "no_revision_available"):
            return None
        preferred = _registered_revision(model)
        by_revision = {p.revision: p for p in candidates}
        if preferred in by_revision:
            chosen = by_revision[preferred]
        elif len(by_revision) == 1:
            chosen = candidates[0]
        else:
            return None
        note = f"published for revision {chosen.revision[:12]}; ours are local weights ({revision})"
        return chosen, note

    def match(self, stored: Any) -> PublishedMatch | None:
        """MTEB's published score beside one stored result of ours, or None where there is none."""
        from harness.evaluate import MAIN_METRIC, finite, stored_ci
        from harness.store import name_for

        run = stored.run
        ours = finite(run.scores.get(MAIN_METRIC)) if run.status == "ok" else None
        if ours is None:
            return None
        model = name_for(stored.model_id, stored.model_key)
        hit = self.lookup(model, stored.revision, stored.task_name, run.split, run.subset)
        if hit is None:
            return None
        published, note = hit
        ci = stored_ci(run)
        within = None if ci is None else bool(ci[0] <= published.score <= ci[1])
        return PublishedMatch(ours, ci, published, ours - published.score, within, note)


class PublishedFileSkipped(Exception):
    """A published result file that is not used; the message is the one-line reason."""


def read_published_file(
    path: Path, identities: dict[Path, tuple[str, str]] | None = None
) -> tuple[list[Published], list[str]]:
    """(main scores, problems) of one result file, read with mteb's ``TaskResult.from_disk``.

    Raises PublishedFileSkipped for a file that is not read (not a regular file, too large, not
    JSON, not an mteb result); a main score off MTEB's scale is left out and is one problem line.
    ``identities`` caches each folder's (model, revision) so ``model_meta.json`` is read once.
    """
    from harness.model_files import UnreadableFile, open_regular

    try:
        fh, _ = open_regular(path, MAX_PUBLISHED_BYTES)
        fh.close()
        result = _task_result(path)
    except UnreadableFile as exc:
        raise PublishedFileSkipped(exc.reason) from None
    except Exception as exc:  # files from other tools fail in json, pydantic or mteb's converters
        raise PublishedFileSkipped(_reason(exc) or type(exc).__name__) from None
    if identities is None:
        name, revision = _identity(path)
    elif path.parent in identities:
        name, revision = identities[path.parent]
    else:
        name, revision = identities[path.parent] = _identity(path)
    problems: list[str] = []
    version = result.mteb_version if isinstance(result.mteb_version, str) else None
    values: dict[tuple[str, str], list[float]] = {}
    for split, entries in result.scores.items():
        for entry in entries:
            subset = str(entry.get("hf_subset", "default"))
            score = published_score(entry.get("main_score"))
            if score is None:  # a percentage by mistake, a string, NaN: never shown as a score
                problems.append(
                    f"{path}: published main_score {_shown(entry.get('main_score'))} "
                    f"({result.task_name} {split}/{subset}) is not a number in -1..1; not used"
                )
                continue
            values.setdefault((split, subset), []).append(score)
    # a file listing one subset twice (a few external submissions): mteb's get_score takes the mean
    found = [
        Published(name, revision, result.task_name, split, subset, _mean(scores), str(path), version)
        for (split, subset), scores in values.items()
    ]
    return found, problems


def _mean(scores: list[float]) -> float:
    import numpy as np

    return scores[0] if len(scores) == 1 else float(np.mean(scores))


@dataclass(frozen=True)
class PublishedIndex:
    """Every usable main score under a folder, and one warning line per kind of problem."""

    entries: tuple[Published, ...]
    warnings: tuple[str, ...]
    files: int  # result files found
    models: int  # model names with at least one usable score


# Each kind of problem: (wording of the count, for more than one).
_PROBLEM_KINDS = {
    "skipped": "published result files skipped (not a regular file, too large, not JSON, not mteb's)",
    "off-scale": "published main scores left out (NaN, a percentage, a string, outside -1..1)",
    "unknown-task": "published result files for tasks mteb does not know; not used",
    "empty": "published model folders hold no result file",
    "case": "published model folders differ only in case from another; not used",
}


class _Problems:
    """Counts problems by kind and keeps the first of each as the example."""

    def __init__(self) -> None:
        self.lines: dict[str, list[str]] = {}

    def add(self, kind: str, line: str) -> None:
        self.lines.setdefault(kind, []).append(line)

    def summary(self) -> list[str]:
        out = []
        for kind, wording in _PROBLEM_KINDS.items():
            lines = self.lines.get(kind, [])
            if len(lines) == 1:
                out.append(lines[0])
            elif lines:
                out.append(f"{len(lines)} {wording}; e.g. {lines[0]}")
        return out


def index_folder(cache_root: Path) -> PublishedIndex:
    """Read every result file under an mteb ``ResultCache`` folder once (see `PublishedScores.load_all`).

    Model folders whose names differ only in case (``BAAI__bge-m3`` and ``baai__bge-m3``) are one
    model on the Hub: the spelling mteb's registry knows is kept, else the one with more files.
    """
    from mteb.cache import ResultCache

    problems = _Problems()
    paths = [
        Path(p)
        for p in ResultCache(cache_path=cache_root).get_cache_paths(
            require_model_meta=False, include_remote=True
        )
    ]
    by_folder: dict[Path, list[Path]] = {}
    for path in paths:
        by_folder.setdefault(path.parent.parent, []).append(path)
    for results in (cache_root / "results", cache_root / "remote" / "results"):
        with contextlib.suppress(OSError):
            for folder in sorted(results.iterdir()):
                if folder.is_dir() and not folder.name.startswith(".") and folder not in by_folder:
                    problems.add("empty", f"{folder}: published model folder holds no result file")
    kept = _case_duplicates(by_folder, problems)
    identities: dict[Path, tuple[str, str]] = {}
    entries: list[Published] = []
    for path in sorted(p for folder in kept for p in by_folder[folder]):
        try:
            found, off_scale = read_published_file(path, identities)
        except PublishedFileSkipped as exc:
            problems.add("skipped", f"{path}: published result skipped: {exc}")
            continue
        for line in off_scale:
            problems.add("off-scale", line)
        if found and not _known_task(found[0].task):
            problems.add("unknown-task", f"{path}: task {found[0].task!r} is not an mteb task; not used")
            continue
        entries.extend(found)
    return PublishedIndex(
        tuple(entries), tuple(problems.summary()), len(paths), len({e.model for e in entries})
    )


def _case_duplicates(by_folder: dict[Path, list[Path]], problems: _Problems) -> list[Path]:
    spellings: dict[str, list[Path]] = {}
    for folder in by_folder:
        spellings.setdefault(folder.name.lower(), []).append(folder)
    registered = _registered_names()
    kept = []
    for folders in spellings.values():
        names = {f.name for f in folders}
        if len(names) == 1:
            kept.extend(folders)
            continue
        best = max(
            folders,
            key=lambda f: (f.name.replace("__", "/", 1) in registered, len(by_folder[f]), f.name),
        )
        kept.extend(f for f in folders if f.name == best.name)
        for other in sorted({f for f in folders if f.name != best.name}):
            problems.add("case", f"{other}: differs only in case from {best.name}; not used")
    return kept


@functools.cache
def _known_task(name: str) -> bool:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mteb

        try:
            mteb.get_task(name)
        except Exception:  # unknown name, or a task mteb has removed
            return False
    return True


@functools.cache
def registered_revisions() -> dict[str, str | None]:
    """Model name -> the revision mteb's registry names for it (``get_model_metas``, offline)."""
    import warnings

    with warnings.catch_warnings(), contextlib.suppress(Exception):
        warnings.simplefilter("ignore")
        import mteb

        return {m.name: m.revision for m in mteb.get_model_metas() if m.name}
    return {}


def _registered_names() -> set[str]:
    return set(registered_revisions())


def published_score(value: Any) -> float | None:
    """A published main score as a float when it is a finite number in -1..1 (MTEB's scale for a
    correlation), else None: ``62.39712`` (a percentage) or ``"0.62"`` (a string) is not a score."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        score = float(value)
    except OverflowError:  # an integer beyond float's range
        return None
    return score if math.isfinite(score) and -1.0 <= score <= 1.0 else None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, AttributeError | TypeError | KeyError):
        return f"not an MTEB result file ({type(exc).__name__}: {' '.join(str(exc).split())[:80]})"
    return " ".join(str(exc).split())[:120]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _task_result(path: Path) -> Any:
    from mteb.results import TaskResult

    return TaskResult.from_disk(path)


def _identity(path: Path) -> tuple[str, str]:
    """(model name, revision) of a result file: its ``model_meta.json``, else its folders."""
    from harness.model_files import read_json

    meta, _ = read_json(path.parent / "model_meta.json")
    if isinstance(meta, dict) and isinstance(meta.get("name"), str) and isinstance(meta.get("revision"), str):
        return meta["name"], meta["revision"]
    return path.parent.parent.name.replace("__", "/"), path.parent.name


def _registered_revision(model: str) -> str | None:
    import warnings

    with warnings.catch_warnings(), contextlib.suppress(Exception):
        warnings.simplefilter("ignore")
        import mteb

        return mteb.get_model_meta(model).revision
    return None


def open_published(folder: Path | None, errors: list[str] | None = None) -> PublishedScores | None:
    """The published scores under `folder` (None: none given, nothing is shown).

    Raises PublishedError when the folder holds no results and they cannot be downloaded.
    """
    if folder is None:
        return None
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise PublishedError(f"{folder}: --mteb-results is not a folder")
    root = _result_roots(folder) if folder.is_dir() else None
    if root is None:
        root = _download(folder)
    return PublishedScores(root, errors)


def _download(folder: Path) -> Path:
    from harness.tasks.hub import offline_reason

    why = offline_reason()
    expected = f"expected {folder}/results/<org>__<model>/<revision>/<Task>.json"
    if why:
        raise PublishedError(f"{folder}: no MTEB results here ({expected}); not downloaded: {why}")
    from mteb.cache import ResultCache

    try:
        ResultCache(cache_path=folder).download_from_remote()
    except Exception as exc:  # git missing, network down, ...: one line, no traceback
        raise PublishedError(f"{folder}: downloading MTEB's results failed: {exc}") from None
    return folder
