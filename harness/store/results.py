"""Result files: MTEB's results layout plus a `harness` block, written atomically, read defensively.

Layout (mteb's, see :mod:`harness.store.mteb_layout`): ``<results>/<org>__<Name>/<revision>/<Task>.json``
with a ``model_meta.json`` per revision folder; tasks that are not MTEB's live in
``<revision>/harness-local/``. A file holds every (split, subset) evaluated for a task, as MTEB's
do: one *run record* each in ``harness.runs``, the successful ones also in MTEB's
``scores[split]``, so mteb's ``TaskResult``, ``ResultCache`` and ``Benchmark`` read the folder.

A run's identity is (model revision, task, subset, split, data revision, settings hash): resume
compares identities, never file names. Different identities live side by side (another pairs
file under the same name, other settings); ``scores`` shows, per split and subset, the one that
stands by :func:`harness.store.selection.select_run` (the rule every report uses too). A failure
never replaces a successful record of the same identity (``--force`` included): the good result
stays and the caller is told. Writes lock, merge with what is on
disk and replace the file atomically (mode 0644 unless the umask says otherwise).

Reading: only regular files of at most ``store_io.MAX_RESULT_BYTES`` (the file mechanics, atomic
writes, bounded reads and quarantine, are :mod:`harness.store.io`). The writer never writes a
file its reader refuses: when a task file would grow past the limit (records of other identities
side by side, each with its per-pair similarities), the per-pair arrays of its oldest superseded
records are left out, every record and score stays, and those records are kept in full under
``<results>/.superseded/``. A file found too large is a good file this version does not read:
reported, never moved, never written over. A file that disappears between listing and reading
(moved by a concurrent ``run``) is skipped. A file that is not a result this version can use
(``{"harness": []}``, a record with a missing field or a NaN score, JSON nested 100,000 deep) is
an :class:`InvalidResult`: ``run`` moves it to ``<results>/.quarantine/`` (nothing is deleted)
and recomputes what it held. Version 1 files (folders named by registry key) are read as they are.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock
from pydantic import BaseModel, ConfigDict, ValidationError

from harness.records import EncodeStats, ProbeResult, RunRecord
from harness.store import io as store_io
from harness.store import mteb_layout
from harness.store.io import (
    InvalidResult,
    NewerResult,
    StoreError,
    TooLargeResult,
    atomic_write_json,
    atomic_write_text,
    json_text,
    quarantine,
    read_json,
    text_bytes,
)
from harness.store.mteb_layout import LOCAL_TASKS_FOLDER, MODEL_META_FILE
from harness.store.selection import select_run
from harness.store.size import fit_to_limit
from harness.store.variant_files import VARIANTS_FOLDER, is_variant, iter_variant_files

SCHEMA_VERSION = 2
NO_REVISION = "no-revision"  # folder for models whose weights (and so revision) were never found
# Who computed the scores: harness.evaluate reproduces mteb's AnySTSEvaluator (tests/test_evaluate.py).
EVALUATOR = {
    "name": "harness.evaluate",
    "equals": "mteb AnySTSEvaluator (same correlations; checked against mteb's evaluator in the tests)",
}

_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


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


def model_folder(model_key: str, model_id: str | None) -> str:
    """The model's folder: mteb's ``org__Name`` for its Hub id (``harness-local__<key>`` without one)."""
    return mteb_layout.folder_name(mteb_layout.name_for(model_id, model_key))


def result_path(
    root: Path,
    model_dir: str,
    revision: str,
    task_name: str,
    *,
    harness_local: bool = False,
    variant: bool = False,
) -> Path:
    folder = root / safe_component(model_dir, "model folder") / safe_component(revision, "revision")
    if variant:
        folder = folder / VARIANTS_FOLDER
    path = (folder / LOCAL_TASKS_FOLDER if harness_local else folder) / task_file_name(task_name)
    resolved_root = root.resolve()
    if resolved_root not in path.resolve().parents:
        raise StoreError(f"result path escapes the results folder: {path}")
    return path


def task_path(
    root: Path,
    model_key: str,
    model_id: str | None,
    revision: str,
    task_name: str,
    *,
    in_mteb: bool | None = None,
    variant: bool = False,
) -> Path:
    """The file :func:`write_run` stores a task's records in (``in_mteb`` as there; a variant's
    records in ``harness-variants/``)."""
    local = not (mteb_layout.is_mteb_task(task_name) if in_mteb is None else in_mteb)
    folder = model_folder(model_key, model_id)
    return result_path(root, folder, revision, task_name, harness_local=local, variant=variant)


LOCKS_FOLDER = ".locks"


def lock_folder(root: Path) -> Path:
    """``<root>/.locks``, created; StoreError (naming it) when a file or a link has that name."""
    return store_io.inner_folder(root, LOCKS_FOLDER, "runs keep their lock files there")


def _lock(root: Path, name: str, timeout: float) -> FileLock:
    folder = lock_folder(root)
    if len(name.encode()) > 200:  # file names end at 255 bytes: a long model id and task name would not fit
        name = f"{name[:100]}-{hashlib.sha256(name.encode()).hexdigest()[:16]}.lock"
    return FileLock(str(folder / name), timeout=timeout)


def _lock_for(root: Path, path: Path) -> FileLock:
    return _lock(root, path.relative_to(root).as_posix().replace("/", "__") + ".lock", 600)


def model_lock(root: Path, model_key: str) -> FileLock:
    """A lock held while one process works on a model, so two runs do not encode it twice."""
    return _lock(root, f"{safe_component(model_key, 'model key')}.model.lock", -1)


def shown_runs(runs: list[RunRecord]) -> list[RunRecord]:
    """Per (split, subset) the record that stands (:func:`harness.store.selection.select_run`)."""
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for run in runs:
        groups.setdefault((run.split, run.subset), []).append(run)
    return [select_run(groups[key]).shown for key in sorted(groups)]


def _rebuild_scores(runs: list[RunRecord]) -> dict[str, list[dict[str, Any]]]:
    scores: dict[str, list[dict[str, Any]]] = {}
    for run in shown_runs([r for r in runs if not is_variant(r)]):
        if run.status == "ok":  # MTEB's ScoresDict: scores plus hf_subset and languages
            entry = {**run.scores, "hf_subset": run.subset, "languages": run.languages}
            scores.setdefault(run.split, []).append(entry)
    return scores


def merge_run(runs: list[RunRecord], run: RunRecord) -> tuple[list[RunRecord], RunRecord | None]:
    """``(runs, kept)``: `run` merged in by identity; `kept` is the good record a failure did not replace."""
    if run.status != "ok":
        good = next((r for r in runs if r.identity == run.identity and r.status == "ok"), None)
        if good is not None:
            return runs, good
    merged = [r for r in runs if r.identity != run.identity] + [run]
    return sorted(merged, key=lambda r: (r.split, r.subset, r.finished_at or "")), None


def _existing_runs(root: Path, path: Path, notes: list[str]) -> list[RunRecord]:
    """The records already in `path`; a file this version cannot read is moved aside first, except
    one that is only too large: it may hold good results, so nothing is written over it."""
    try:
        return _runs_of(path, read_json(path))
    except FileNotFoundError:
        return []
    except NewerResult as exc:
        raise StoreError(f"{exc}, not stored over it") from None
    except TooLargeResult as exc:
        raise StoreError(
            f"{path}: not stored: the file there has {exc.size} bytes, more than the "
            f"{store_io.MAX_RESULT_BYTES} this version reads; kept as it is (move it aside to store new "
            "results there)"
        ) from None
    except StoreError as exc:
        moved = quarantine(root, path)
        if path.exists():  # not moved aside: never written over (it may be a newer version's file)
            raise StoreError(f"{exc}; {moved}; not stored over it") from None
        notes.append(f"{exc}; {moved}")
        return []


def _runs_of(path: Path, data: dict[str, Any]) -> list[RunRecord]:
    block = data.get("harness")
    if not isinstance(block, dict) or not isinstance(block.get("runs", []), list):
        raise InvalidResult(f"{path}: not a harness result (no valid 'harness' block)")
    version = block.get("schema_version", 1)
    if _is_number(version) and version > SCHEMA_VERSION:
        raise NewerResult(
            f"{path}: written by a newer harness (schema_version {version}; this one reads up to "
            f"{SCHEMA_VERSION}); left as it is"
        )
    runs = []
    for number, raw in enumerate(block.get("runs", [])):
        try:
            _strict_numbers(raw)
            runs.append(_checked_run(RunRecord.model_validate(raw)))
        except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
            if isinstance(exc, ValidationError):
                error = exc.errors()[0]
                field = "".join(f".{part}" for part in error["loc"])
                detail = f"runs[{number}]{field}: {error['msg']}"
            else:
                detail = f"runs[{number}]: {exc}"
            raise InvalidResult(f"{path}: invalid run record: {detail[:200]}") from None
    return runs


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _strict_numbers(raw: Any) -> None:
    """The numbers of a stored record are JSON numbers: a ``true`` or a ``"0.99"`` that a lax parse
    would turn into 1.0 or 0.99 (and rank as a leader) makes the record invalid."""
    if not isinstance(raw, dict):
        return
    groups = {
        "scores": list((raw.get("scores") or {}).values()) if isinstance(raw.get("scores"), dict) else [],
        **{name: raw.get(name) or [] for name in ("ci95", "cosine_similarities", "gold")},
        **{name: [raw[name]] for name in ("n_pairs", "evaluation_seconds") if raw.get(name) is not None},
    }
    for block, record_type, words in (
        ("encode", EncodeStats, {"device", "dtype"}),
        ("probe", ProbeResult, {"verdict"}),
    ):
        given = raw.get(block)
        if isinstance(given, dict):
            numbers = set(record_type.model_fields) - words  # fields added later are read past
            groups[block] = [v for k, v in given.items() if k in numbers and v is not None]
    for name, values in groups.items():
        if isinstance(values, list) and not all(map(_is_number, values)):
            bad = next(v for v in values if not _is_number(v))
            raise ValueError(f"{name} holds {str(json.dumps(bad))[:40]}, not a number")


# A throughput above this is no measurement (a hand edit, a clock that went backwards).
MAX_SENTENCES_PER_SECOND = 1e9


def _checked_run(run: RunRecord) -> RunRecord:
    """`run` if it says what it is: an ``ok`` record holds a main score, and correlations are finite
    and within -1..1 (a NaN or a 7.5 is no score; such a file is quarantined and recomputed)."""
    if run.encode is not None:
        numbers = [v for v in run.encode.model_dump().values() if _is_number(v)]
        if not all(math.isfinite(v) and v >= 0 for v in numbers):
            raise ValueError("encode figures that are not finite non-negative numbers")
        if (run.encode.sentences_per_second or 0) > MAX_SENTENCES_PER_SECOND:
            raise ValueError(
                f"a throughput of {run.encode.sentences_per_second:g} sentences/s is no measurement"
            )
    if run.status != "ok":
        return run
    if "main_score" not in run.scores:
        raise ValueError("status ok without a main_score")
    for name, values in (("scores", run.scores.values()), ("ci95", run.ci95 or [])):
        if not all(math.isfinite(v) and abs(v) <= 1 + 1e-6 for v in values):
            raise ValueError(f"status ok with {name} that are not correlations (not finite or outside -1..1)")
    if run.ci95 is not None and (len(run.ci95) != 2 or run.ci95[0] > run.ci95[1]):
        raise ValueError(f"status ok with ci95 {run.ci95} that is not an interval (low, high)")
    for name, values in (("cosine_similarities", run.cosine_similarities), ("gold", run.gold)):
        if values is not None and not all(map(math.isfinite, values)):
            raise ValueError(f"status ok with {name} that are not finite")
    _consistent(run)
    return run


def _consistent(run: RunRecord) -> None:
    """One record, one score: mteb reads ``main_score``, the report ``cosine_spearman`` (MTEB's main
    score for STS), so a record where they differ (a hand edit, a JSON key given twice) would show two
    numbers; and its counts agree with its per-pair arrays."""
    main, cosine = run.scores["main_score"], run.scores.get("cosine_spearman")
    if cosine is not None and abs(main - cosine) > 1e-9:
        raise ValueError(f"status ok with main_score {main:g} but cosine_spearman {cosine:g}: two scores")
    if run.n_pairs is not None and run.n_pairs < 0:
        raise ValueError(f"status ok with n_pairs {run.n_pairs}, below 0")
    lengths = {
        name: len(values)
        for name, values in (("cosine_similarities", run.cosine_similarities), ("gold", run.gold))
        if values
    }
    if run.n_pairs is not None and lengths:
        lengths["n_pairs"] = run.n_pairs
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} {n}" for name, n in lengths.items())
        raise ValueError(f"status ok with counts that disagree ({shown})")


def write_model_meta(folder: Path, meta: dict[str, Any]) -> None:
    """``model_meta.json`` in a revision folder, rewritten only when it says something else."""
    path = folder / MODEL_META_FILE
    with contextlib.suppress(StoreError, FileNotFoundError):
        if read_json(path) == meta:
            return
    atomic_write_json(path, meta)


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
    in_mteb: bool | None = None,
    model_meta: dict[str, Any] | None = None,
    notes: list[str] | None = None,
) -> Path:
    """Merge one run record into its task file atomically (see the module doc for the rules).

    ``in_mteb`` False stores the task under ``harness-local/`` (default: whether mteb knows the
    task name). ``model_meta`` is the revision's ``model_meta.json`` (default: mteb's, else a
    minimal one). One line per event worth telling (a failure that kept a good result, a bad
    file moved aside) goes to ``notes``.
    """
    notes = [] if notes is None else notes
    folder = model_folder(model_key, model_id)
    path = task_path(root, model_key, model_id, revision, task_name, in_mteb=in_mteb, variant=is_variant(run))
    try:
        _checked_run(run)
    except ValueError as exc:
        raise StoreError(f"{path}: not stored: {exc}") from None
    with _lock_for(root, path):
        runs, kept = merge_run(_existing_runs(root, path, notes), run)
        if kept is not None:
            what = f"{model_key}: {task_name} {run.split}/{run.subset}: {run.status} ({run.error_kind})"
            notes.append(f"{what} not stored over the good result of {kept.finished_at or 'then'} in {path}")
            return path

        def document(runs: list[RunRecord]) -> str:
            return json_text(
                path,
                {
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
                        "evaluator": EVALUATOR,
                        "runs": [r.model_dump(mode="json") for r in runs],
                    },
                },
            )

        text = document(runs)
        size = text_bytes(text)
        if size > store_io.MAX_RESULT_BYTES:  # never a file the reader refuses
            text = fit_to_limit(root, path, runs, shown_runs(runs), run, document, size, notes)
        atomic_write_text(path, text)
        if revision != NO_REVISION:
            name = mteb_layout.name_for(model_id, model_key)
            meta = model_meta or mteb_layout.model_meta_json(name, revision)
            write_model_meta(root / folder / revision, meta)
    return path


# ---------------------------------------------------------------- version 1 files, read as they are
# Schema version 1 stored ``<results>/<registry key>/<revision>/<Task>.json`` and named two German
# tasks the old way: ``GermanSTSBenchmark`` read the DeepL files (``GermanSTSBenchmark-deepl``
# today); ``GermanSTSBenchmark-aws`` read the Amazon Translate files, MTEB's ``GermanSTSBenchmark``.
_RENAMED = {"GermanSTSBenchmark-aws": "GermanSTSBenchmark"}


def legacy_location(root: Path, model_key: str) -> Path:
    """Where version 1 kept a model's results: the folder named by its registry key."""
    return root / safe_component(model_key, "model key")


def _today_name(task_name: str, run: RunRecord) -> str:
    if task_name in _RENAMED:
        return _RENAMED[task_name]
    source = (run.data_source or "").replace("\\", "/")
    if task_name == "GermanSTSBenchmark" and "/deepl/" in source:
        return "GermanSTSBenchmark-deepl"
    return task_name


def current_names(data: dict[str, Any], runs: list[RunRecord]) -> list[tuple[str, str | None, RunRecord]]:
    """``(task name, dataset revision, record)`` per record of a result file, with today's names.

    A record renamed from a version 1 file gets the identity today's runner computes for it, so
    resume recognises it.
    """
    task_name = str(data.get("task_name"))
    dataset_revision = data.get("dataset_revision")
    block = data.get("harness") or {}
    if block.get("schema_version", 1) != 1:
        return [(task_name, dataset_revision, run) for run in runs]
    out: list[tuple[str, str | None, RunRecord]] = []
    for run in runs:
        name = _today_name(task_name, run)
        if name == task_name:
            out.append((task_name, dataset_revision, run))
            continue
        identity = run_identity(
            revision=str(block.get("revision")),
            task_name=name,
            subset=run.subset,
            split=run.split,
            data_revision=run.data_revision,
            settings_hash=run.settings_hash or run.settings.identity_hash(),
        )
        renamed = run.model_copy(update={"identity": identity})
        out.append((name, mteb_layout.mteb_dataset_revision(name) or run.data_revision, renamed))
    return out


def iter_result_files(root: Path) -> Iterator[Path]:
    """Every result file: ``*/*/*.json`` (not model_meta.json) and ``*/*/harness-local/*.json``."""
    if not root.is_dir():
        return
    found = [*root.glob("*/*/*.json"), *root.glob(f"*/*/{LOCAL_TASKS_FOLDER}/*.json")]
    for path in sorted(found):
        if not path.name.startswith(".") and path.name != MODEL_META_FILE:
            yield path


def load_variants(root: Path, errors: list[str] | None = None) -> list[StoredResult]:
    """Every stored variant result under `root` (a file that fails is reported in `errors`)."""
    loaded = _load_each(root, iter_variant_files(root), errors, quarantine_bad=False)
    return [result for results in loaded for result in results if is_variant(result.run)]


def load_file(path: Path) -> list[StoredResult]:
    """Every record of one result file (version 1 files with today's names: :func:`current_names`)."""
    data = read_json(path)
    runs = _runs_of(path, data)
    block = data["harness"]
    try:
        named = current_names(data, runs)
        return [
            StoredResult(
                path=str(path),
                model_key=str(block.get("model_key")),
                model_id=block.get("model_id"),
                revision=str(block.get("revision")),
                task_name=task,
                mteb_version=data.get("mteb_version"),
                dataset_revision=dataset_revision,
                weights_source=block.get("weights_source"),
                run=run,
            )
            for task, dataset_revision, run in named
        ]
    except (ValidationError, ValueError, TypeError) as exc:
        raise InvalidResult(f"{path}: invalid result file: {' '.join(str(exc).split())[:200]}") from None


def _load_each(
    root: Path, paths: Iterator[Path] | list[Path], problems: list[str] | None, *, quarantine_bad: bool
) -> Iterator[list[StoredResult]]:
    """:func:`load_file` of each path; a file that fails is reported in `problems`, never raised
    (with ``quarantine_bad``, an invalid one is moved aside so that what it held is recomputed).
    A file gone since it was listed (a concurrent ``run`` moved it) is skipped without a word."""
    for path in paths:
        try:
            yield load_file(path)
        except FileNotFoundError:  # gone since it was listed: moved by a concurrent run (migration)
            if path.is_symlink() and problems is not None:  # a link to nothing is said, never left out
                problems.append(f"{path}: a link to nothing (dangling, or a loop); not read")
            continue
        except StoreError as exc:
            message = str(exc)
            if quarantine_bad and isinstance(exc, InvalidResult):
                message += f"; {quarantine(root, path)}, its results will be recomputed"
            if problems is not None:
                problems.append(message)


def load_results(
    root: Path, errors: list[str] | None = None, *, quarantine_bad: bool = False
) -> list[StoredResult]:
    """Every stored run under `root`; a file that fails is reported in `errors` (see `_load_each`)."""
    loaded = _load_each(root, iter_result_files(root), errors, quarantine_bad=quarantine_bad)
    return [result for results in loaded for result in results]


def prepare_folder(root: Path, notes: list[str]) -> None:
    """Before ``run`` plans (after :func:`harness.store.migration.migrate`): invalid files quarantined."""
    load_results(root, notes, quarantine_bad=True)


def completed_identities(
    root: Path,
    model_key: str,
    revision: str,
    model_id: str | None = None,
    *,
    notes: list[str] | None = None,
) -> set[str]:
    """Identities of successful runs already stored for one model revision (what resume skips).

    Looks in the model's folder (and the version 1 folder named by its key). A file this version
    cannot read is moved aside (reported in ``notes``) so that what it held is computed again.
    """
    paths: list[Path] = []
    for base in sorted({root / model_folder(model_key, model_id), legacy_location(root, model_key)}):
        rev = base / safe_component(revision, "revision")
        found = sorted(
            f
            for folder in (rev, rev / VARIANTS_FOLDER)
            for f in [*folder.glob("*.json"), *folder.glob(f"{LOCAL_TASKS_FOLDER}/*.json")]
        )
        paths += [p for p in found if p.name != MODEL_META_FILE and not p.name.startswith(".")]
    done: set[str] = set()
    for stored in _load_each(root, paths, notes, quarantine_bad=True):
        done.update(s.run.identity for s in stored if s.run.status == "ok" and s.model_key == model_key)
    return done


def run_identity(
    *, revision: str, task_name: str, subset: str, split: str, data_revision: str | None, settings_hash: str
) -> str:
    """What makes two runs the same measurement; resume skips a run whose identity is stored."""
    blob = "\x00".join([revision, task_name, subset, split, data_revision or "", settings_hash])
    return hashlib.sha256(blob.encode()).hexdigest()[:24]
