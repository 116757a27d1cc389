"""``harness data export``: MTEB's STS evaluation splits written in the generic layout, with a MANIFEST.

Online (the Hub usable), each task is loaded through mteb's own loader: ``mteb.get_task(name,
hf_subsets=...)``, ``task.load_data()`` (``datasets.load_dataset`` at mteb's pinned dataset
revision, then the task's ``dataset_transform``), and every evaluation split of every selected
subset is written to ``<out>/mteb/<Task>/<subset>/<split>.jsonl`` with the scores as mteb holds
them. Copying ``<out>`` to a machine without the Hub and passing it as ``--data-dir`` is how an
air-gapped machine gets MTEB's data.

Offline, the local copies under the data folder whose statistics equal mteb's (the generic
layout or a dataset reader's files; a copy verified only up to documented whitespace, such as
STS-B's, is not: the layout holds exact copies) are re-written in the generic layout, which
normalises a folder; every other task is reported as not reached, with the reason.

Each written file is read back with the generic reader and checked against the statistics mteb
ships (:mod:`harness.tasks.verify`); the MANIFEST (``MANIFEST.md`` for people, ``MANIFEST.json``
for the next export, which merges into it) records task, subset, split, rows, mteb's dataset
revision, where the rows came from, the check and the file's sha256.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.errors import DataError, TaskUnavailable
from harness.model_files import UnreadableFile, read_bytes
from harness.records import StsPairs, StsTask
from harness.tasks import readers
from harness.tasks.catalog import LOCAL_ONLY_TASKS, catalog, mteb_revision, verification
from harness.tasks.hub import offline_reason
from harness.tasks.layout import GENERIC_FOLDER, GENERIC_FORMAT, generic_rel, write_atomic, write_jsonl
from harness.tasks.readers import LOCAL_SUFFIX
from harness.tasks.verify import compare_statistics, shipped_statistics, split_statistics

ALL_SPLITS = ["test", "validation", "dev", "train"]  # every evaluation split mteb names
MANIFEST_JSON = "MANIFEST.json"
MANIFEST_MD = "MANIFEST.md"
MAX_MANIFEST_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Exported:
    """One written file, as its MANIFEST row records it."""

    task: str
    subset: str
    split: str
    rows: int
    mteb_revision: str | None
    source: str  # "mteb loader (Hub)" or the local file it was re-written from
    check: str  # the statistics check of the written file, one line
    verified: bool
    sha256: str


@dataclass(frozen=True)
class ExportOutcome:
    written: list[Exported]
    not_reached: list[str]  # one line per task split: which and why
    problems: list[str]  # the MANIFEST could not be merged, ...


def export(
    out: Path,
    *,
    languages: list[str] | None = None,
    names: list[str] | None = None,
    data_dir: Path | None = None,
) -> ExportOutcome:
    """Write the selected tasks' evaluation splits under ``out`` (see the module doc).

    Raises TaskUnavailable for an unknown task name and DataError for a missing data folder
    (the catalog's errors); a task that fails is reported in ``not_reached`` and the rest go on.
    """
    harness_local = {o.name for o in LOCAL_ONLY_TASKS}  # not MTEB's data: nothing to export
    tasks = [t for t in catalog(languages, data_dir, ALL_SPLITS, names) if t.name not in harness_local]
    offline = offline_reason()
    written: list[Exported] = []
    not_reached: list[str] = []
    loaded: dict[str, Any] = {}  # mteb task objects by name: each loaded once for all its subsets
    for task in tasks:
        where = f"{task.label} ({task.split})"
        mteb_task = task.model_copy(update={"name": task.name.removesuffix(LOCAL_SUFFIX), "in_mteb": True})
        try:
            if offline is None:
                pairs, source = _from_mteb(mteb_task, tasks, loaded), "mteb loader (Hub)"
            else:
                pairs, source = _from_local(task, offline)
            written.append(_write(out, mteb_task, pairs, source))
        except (DataError, TaskUnavailable, OSError) as exc:
            not_reached.append(f"{where}: {exc}")
    problems = _write_manifest(out / GENERIC_FOLDER, written) if written else []
    return ExportOutcome(written, not_reached, problems)


def _from_local(task: StsTask, offline: str) -> tuple[StsPairs, str]:
    if not task.local_files:
        raise TaskUnavailable(f"no local copy, and the Hub is not usable ({offline})")
    check = verification(task)
    if check is None or check.status != "verified":  # the layout holds exact copies only
        why = check.summary() if check is not None else "nothing to check it against"
        raise TaskUnavailable(f"local copy {task.local_files[0]} not re-written: {why}")
    return readers.load_pairs(task, allow_hub=False), task.local_files[0]


def _from_mteb(task: StsTask, tasks: list[StsTask], loaded: dict[str, Any]) -> StsPairs:
    """The split as mteb's own loader gives it (``load_data``, ``dataset_transform`` applied)."""
    if task.name not in loaded:
        import mteb

        subsets = sorted({t.subset for t in tasks if t.name.removesuffix(LOCAL_SUFFIX) == task.name})
        multilingual = mteb.get_task(task.name).metadata.is_multilingual
        mtask = mteb.get_task(task.name, hf_subsets=subsets if multilingual else None)
        try:
            mtask.load_data()
        except Exception as exc:  # the Hub, datasets or the task's transform: reported, never a traceback
            loaded[task.name] = exc
        else:
            loaded[task.name] = mtask
    mtask = loaded[task.name]
    if isinstance(mtask, Exception):
        raise TaskUnavailable(f"mteb could not load {task.name}: {type(mtask).__name__}: {mtask}")
    data = mtask.dataset[task.subset] if mtask.metadata.is_multilingual else mtask.dataset
    if task.split not in data:
        raise TaskUnavailable(f"mteb's {task.name} data has no split {task.split!r} ({', '.join(data)})")
    location = f"mteb:{task.name}@{(mteb_revision(task) or 'main')[:12]}[{task.subset}]/{task.split}"
    return readers.pairs_from_rows(location, data[task.split])


def _write(out: Path, task: StsTask, pairs: StsPairs, source: str) -> Exported:
    name = task.name
    path = out / generic_rel(name, task.subset, task.split)
    rows = zip(pairs.sentence1, pairs.sentence2, pairs.gold, strict=True)
    write_jsonl(path, rows)
    back, _ = readers.read_file(path, GENERIC_FORMAT)  # the round trip: what a run will read
    if (back.sentence1, back.sentence2, back.gold) != (pairs.sentence1, pairs.sentence2, pairs.gold):
        raise DataError(f"{path}: reads back different from what was written")
    theirs = shipped_statistics(name, task.subset, task.split)
    if theirs is None:
        check, ok = "not verified: mteb ships no statistics for this split", False
    else:
        status, diffs = compare_statistics(split_statistics(back), theirs)
        ok = status == "verified"
        check = "verified: equal to mteb's statistics" if ok else f"differs: {'; '.join(diffs[:3])}"
    digest = hashlib.sha256(read_bytes(path, readers.MAX_FILE_BYTES)).hexdigest()
    return Exported(name, task.subset, task.split, len(back), mteb_revision(task), source, check, ok, digest)


# ---------------------------------------------------------------- the MANIFEST


def _earlier_rows(folder: Path) -> tuple[list[dict[str, Any]], list[str]]:
    path = folder / MANIFEST_JSON
    try:
        data = json.loads(read_bytes(path, MAX_MANIFEST_BYTES).decode("utf-8"))
    except FileNotFoundError:
        return [], []
    except (UnreadableFile, OSError, ValueError, UnicodeDecodeError) as exc:
        return [], [f"{path}: not readable ({exc}); its earlier rows are not kept"]
    rows = data.get("files") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        return [], [f"{path}: no 'files' list; its earlier rows are not kept"]
    return rows, []


def _write_manifest(folder: Path, written: list[Exported]) -> list[str]:
    """Merge this export's rows into the folder's MANIFEST (by task, subset and split)."""
    rows, problems = _earlier_rows(folder)
    fresh = {(e.task, e.subset, e.split): asdict(e) for e in written}
    merged = {(r.get("task"), r.get("subset"), r.get("split")): r for r in rows}
    merged.update(fresh)
    ordered = [merged[key] for key in sorted(merged, key=lambda k: tuple(str(x) for x in k))]
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / MANIFEST_JSON, lambda fh: fh.write(json.dumps({"files": ordered}, indent=1) + "\n"))
    write_atomic(folder / MANIFEST_MD, lambda fh: fh.write(_markdown(ordered)))
    return problems


def _cell(value: Any) -> str:
    return str(value if value is not None else "-").replace("|", "\\|").replace("\n", " ")


def _markdown(rows: list[dict[str, Any]]) -> str:
    head = (
        "# MTEB STS evaluation splits in the generic layout\n\n"
        "Written by `harness data export`. Files: `<TaskName>/<subset>/<split>.jsonl`, one "
        '`{"sentence1", "sentence2", "score"}` object per line, scores on the task\'s own scale '
        "(mteb normalises them with the task's min_score/max_score when it scores). Pass the folder "
        "above this one as `--data-dir` (or `HARNESS_DATA_DIR`).\n\n"
        "| task | subset | split | rows | mteb dataset revision | source | statistics check | sha256 |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    keys = ("task", "subset", "split", "rows", "mteb_revision", "source", "check", "sha256")
    return head + "".join("| " + " | ".join(_cell(r.get(k)) for k in keys) + " |\n" for r in rows)


# ---------------------------------------------------------------- CLI


def export_command(
    out: Path, languages: list[str] | None, names: list[str] | None, data_dir: Path | None
) -> int:
    """``harness data export``: 0 when every selected split was written, 1 when some could not be
    (each named on stderr), 2 on bad input (unknown task or language, missing data folder)."""
    from harness.stderr import say

    try:
        outcome = export(out, languages=languages, names=names, data_dir=data_dir)
    except (DataError, TaskUnavailable, ValueError) as exc:
        say(str(exc))
        return 2
    for row in outcome.written:
        label = row.task if row.subset == "default" else f"{row.task}[{row.subset}]"
        print(f"{label} {row.split}: {row.rows} pairs from {row.source}; {row.check}")
    for line in outcome.not_reached:
        say(f"not exported: {line}")
    for line in outcome.problems:
        say(line, warning=True)
    if outcome.written:
        folder = out / GENERIC_FOLDER
        print(f"{len(outcome.written)} file(s) under {folder}; MANIFEST: {folder / MANIFEST_MD}")
        print(f"use it with: harness run --data-dir {out} (or HARNESS_DATA_DIR={out})")
    elif not outcome.not_reached:
        say("no STS task matches the selection")
    return 1 if outcome.not_reached or not outcome.written else 0
