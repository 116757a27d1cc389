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

    def _load_model(self, model: str) -> list[Published]:
        from mteb.cache import ResultCache

        from harness.model_files import UnreadableFile, open_regular

        found: list[Published] = []
        cache = ResultCache(cache_path=self.cache_root)
        for path in cache.get_cache_paths(models=[model], require_model_meta=False, include_remote=True):
            try:
                fh, _ = open_regular(path, MAX_PUBLISHED_BYTES)
                fh.close()
                result = _task_result(path)
            except (
                UnreadableFile,
                OSError,
                ValueError,
                RecursionError,
                AttributeError,
                TypeError,
                KeyError,
            ) as exc:
                # mteb's reader assumes a JSON object: null or a list gives AttributeError or TypeError
                reason = exc.reason if isinstance(exc, UnreadableFile) else _reason(exc)
                self.errors.append(f"{path}: published result skipped: {reason}")
                continue
            name, revision = _identity(path)
            for split, entries in result.scores.items():
                for entry in entries:
                    subset = str(entry.get("hf_subset", "default"))
                    score = published_score(entry.get("main_score"))
                    if score is None:  # a percentage by mistake, a string, NaN: never shown as a score
                        self.errors.append(
                            f"{path}: published main_score {_shown(entry.get('main_score'))} "
                            f"({result.task_name} {split}/{subset}) is not a number in -1..1; not used"
                        )
                        continue
                    found.append(Published(name, revision, result.task_name, split, subset, score, str(path)))
        return found

    def for_model(self, model: str) -> list[Published]:
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
