"""Result files: MTEB TaskResult layout plus a `harness` block, written atomically.

Layout: ``<results>/<model-key>/<revision>/<TaskName>.json``, one file per model,
revision and task. A file holds every (split, subset) evaluated for that task, so
``--lang de`` and ``--lang es`` runs of STSBenchmarkMultilingualSTS share one file
the way MTEB's own result files do. Each evaluated unit is one *run record* in
``harness.runs``; successful ones also appear in MTEB's ``scores[split]`` list,
so ``mteb.TaskResult.from_disk`` loads the file.

A run's identity is (model revision, task, subset, split, data revision, settings
hash): resume compares identities, never file names. Writes take a file lock,
merge with what is on disk, and replace the file atomically, so two runs sharing
a results folder never lose each other's work and no reader sees half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock
from pydantic import BaseModel, ConfigDict

SCHEMA_VERSION = 1
RunStatus = Literal["ok", "error", "unavailable"]
NO_REVISION = "no-revision"  # folder for models whose weights (and so revision) were never found

_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class StoreError(Exception):
    """A result could not be read or written; the message names the file."""


class RunRecord(BaseModel):
    """One evaluated (task, subset, split) for one model revision, as stored."""

    model_config = ConfigDict(frozen=True, extra="allow")

    split: str
    subset: str
    status: RunStatus
    identity: str
    error: str | None = None
    error_kind: str | None = None  # unavailable-weights, load-failed, oom, non-finite, data-error, ...
    languages: list[str] = []
    settings: dict[str, Any] = {}
    settings_hash: str | None = None
    data_revision: str | None = None
    data_source: str | None = None
    n_pairs: int | None = None
    scores: dict[str, float] = {}
    ci95: list[float] | None = None
    bootstrap: dict[str, Any] | None = None
    cosine_similarities: list[float] | None = None
    gold: list[float] | None = None
    off_card_language: bool = False  # the card does not list the task's language
    encode: dict[str, Any] = {}  # throughput, encode time, peak memory, device, batch size
    hardware: dict[str, Any] = {}
    versions: dict[str, Any] = {}
    git_commit: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    evaluation_seconds: float | None = None


class StoredResult(BaseModel):
    """A run record together with the file-level facts it belongs to (what reports read)."""

    model_config = ConfigDict(frozen=True)

    path: str
    model_key: str
    model_id: str | None
    revision: str
    task_name: str
    mteb_version: str | None
    dataset_revision: str | None
    weights_source: str | None
    run: RunRecord


def safe_component(value: str, what: str) -> str:
    """Return `value` if it is safe as one path component, else raise StoreError.

    Model keys, revisions and task names can come from untrusted cards and
    command lines; nothing they contain may move a path out of the results folder.
    """
    if not _SAFE_COMPONENT.match(value) or value in {".", ".."} or ".." in value:
        raise StoreError(f"unsafe {what} for a result path: {value!r}")
    return value


def task_file_name(task_name: str) -> str:
    # custom tasks are named "custom:<stem>"; ':' is not portable in file names
    cleaned = re.sub(r"\.{2,}", "_", re.sub(r"[^A-Za-z0-9._-]", "_", task_name)).lstrip("._-")
    if cleaned != task_name:  # two names must never clean up to one file
        cleaned = f"{cleaned[:150]}-{hashlib.sha256(task_name.encode()).hexdigest()[:8]}"
    return safe_component(cleaned or "task", "task name") + ".json"


def result_path(root: Path, model_key: str, revision: str, task_name: str) -> Path:
    model_dir = root / safe_component(model_key, "model key")
    path = model_dir / safe_component(revision, "revision") / task_file_name(task_name)
    resolved_root = root.resolve()
    if resolved_root not in path.resolve().parents:
        raise StoreError(f"result path escapes the results folder: {path}")
    return path


def _lock_for(root: Path, path: Path) -> FileLock:
    rel = path.relative_to(root).as_posix().replace("/", "__")
    lock_dir = root / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(lock_dir / f"{rel}.lock"), timeout=600)


def model_lock(root: Path, model_key: str) -> FileLock:
    """A lock held while one process works on a model, so two runs do not encode it twice."""
    lock_dir = root / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(lock_dir / f"{safe_component(model_key, 'model key')}.model.lock"), timeout=-1)


def atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON to a temporary file in the same folder, fsync, then rename over `path`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write result: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False, allow_nan=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except (OSError, ValueError) as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise StoreError(f"{path}: cannot write result: {reason}") from None


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreError(f"{path}: unreadable result file: {exc}") from None
    if not isinstance(data, dict):
        raise StoreError(f"{path}: result file is not a JSON object")
    return data


def _score_entry(run: RunRecord) -> dict[str, Any]:
    """MTEB's ScoresDict for one subset: scores plus hf_subset and languages."""
    return {**run.scores, "hf_subset": run.subset, "languages": run.languages}


def _rebuild_scores(runs: list[RunRecord]) -> dict[str, list[dict[str, Any]]]:
    scores: dict[str, list[dict[str, Any]]] = {}
    for run in sorted(runs, key=lambda r: (r.split, r.subset)):
        if run.status == "ok":
            scores.setdefault(run.split, []).append(_score_entry(run))
    return scores


def write_run(
    root: Path,
    *,
    model_key: str,
    model_id: str | None,
    revision: str,
    task_name: str,
    mteb_version: str | None,
    dataset_revision: str | None,
    weights_source: str | None,
    run: RunRecord,
) -> Path:
    """Merge one run record into its task file (replacing the same split+subset) atomically."""
    path = result_path(root, model_key, revision, task_name)
    with _lock_for(root, path):
        try:
            existing = read_json(path)
        except FileNotFoundError:
            existing = {}
        except StoreError:
            existing = {}  # an unreadable file is replaced; nothing in it could be trusted
        old_runs = [RunRecord.model_validate(r) for r in existing.get("harness", {}).get("runs", [])]
        runs = [r for r in old_runs if (r.split, r.subset) != (run.split, run.subset)] + [run]
        runs.sort(key=lambda r: (r.split, r.subset))
        data = {
            "dataset_revision": dataset_revision or run.data_revision or "unknown",
            "task_name": task_name,
            "mteb_version": mteb_version,
            "scores": _rebuild_scores(runs),
            "evaluation_time": round(sum(r.evaluation_seconds or 0.0 for r in runs), 6),
            "kg_co2_emissions": None,
            "harness": {
                "schema_version": SCHEMA_VERSION,
                "model_key": model_key,
                "model_id": model_id,
                "revision": revision,
                "weights_source": weights_source,
                "runs": [r.model_dump(mode="json") for r in runs],
            },
        }
        atomic_write_json(path, data)
    return path


def iter_result_files(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for path in sorted(root.glob("*/*/*.json")):
        if not path.name.startswith("."):
            yield path


def load_file(path: Path) -> list[StoredResult]:
    data = read_json(path)
    block = data.get("harness")
    if not isinstance(block, dict):
        raise StoreError(f"{path}: not a harness result (no 'harness' block)")
    try:
        runs = [RunRecord.model_validate(r) for r in block.get("runs", [])]
    except Exception as exc:  # pydantic ValidationError: report the file, not a traceback
        raise StoreError(f"{path}: invalid run record: {exc}".splitlines()[0]) from None
    return [
        StoredResult(
            path=str(path),
            model_key=str(block.get("model_key")),
            model_id=block.get("model_id"),
            revision=str(block.get("revision")),
            task_name=str(data.get("task_name")),
            mteb_version=data.get("mteb_version"),
            dataset_revision=data.get("dataset_revision"),
            weights_source=block.get("weights_source"),
            run=run,
        )
        for run in runs
    ]


def load_results(root: Path, errors: list[str] | None = None) -> list[StoredResult]:
    """Every stored run under `root`; unreadable files are reported in `errors`, not raised."""
    results: list[StoredResult] = []
    for path in iter_result_files(root):
        try:
            results.extend(load_file(path))
        except StoreError as exc:
            if errors is not None:
                errors.append(str(exc))
    return results


def completed_identities(root: Path, model_key: str, revision: str) -> set[str]:
    """Identities of successful runs already stored for one model revision (what resume skips)."""
    folder = root / safe_component(model_key, "model key") / safe_component(revision, "revision")
    done: set[str] = set()
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            try:
                for stored in load_file(path):
                    if stored.run.status == "ok":
                        done.add(stored.run.identity)
            except StoreError:
                continue
    return done


def run_identity(
    *, revision: str, task_name: str, subset: str, split: str, data_revision: str | None, settings_hash: str
) -> str:
    """What makes two runs the same measurement; resume skips a run whose identity is stored."""
    blob = "\x00".join([revision, task_name, subset, split, data_revision or "", settings_hash])
    return hashlib.sha256(blob.encode()).hexdigest()[:24]
