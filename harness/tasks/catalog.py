"""The STS task catalog: every task per language, named as MTEB names it.

The catalog takes every fact it can from mteb's own task metadata (task name, language
subsets, evaluation splits, main score, Hub dataset path and revision); nothing of that is
copied by hand. mteb is imported lazily, once, and its lookups are cached in-process.

Language selection
------------------
mteb's ISO 639-3 codes are converted to ISO 639-1 with ``langcodes`` (``deu-Latn`` -> ``de``,
``cmn-Hans`` -> ``zh`` through its macrolanguage; codes without a two-letter form, such as
``arq``, stay three-letter). A task subset belongs to language L when *all* its languages
are L, so ``--lang de`` lists ``STS22.v2[de]`` but not ``STS22.v2[de-en]``. Cross-lingual
subsets (``STS17[en-de]``, ``IndicCrosslingualSTS[en-hi]``, ...) are listed only when the task
is asked for by name (``names=["STS17"]``, or one subset with ``names=["STS17[en-de]"]``);
a named task combined with languages keeps the subsets that contain any of those languages.
STS-typed mteb tasks whose main score is not an STS correlation (``StakeholderGrounding``,
main score ``alpha_auc``) are left out: the harness computes correlations only.

Splits
------
By default each task is evaluated on ``test`` (what leaderboards report); a task that mteb
evaluates without a test split (JSTS, KLUE-STS, AFQMC, FaroeseSTS, ...) gets mteb's own
evaluation splits instead. ``splits=[...]`` asks for others among mteb's evaluation splits;
``dev`` and ``validation`` are the same split (mteb says ``validation`` for most tasks and
``dev`` for STSBenchmarkMultilingualSTS, the local files always say ``dev``). A task's
``split`` keeps mteb's spelling so results line up with MTEB's.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harness.errors import DataError, TaskUnavailable
from harness.languages import normalize_language
from harness.records import METRIC_KEYS, StsTask
from harness.tasks.hub import offline_reason
from harness.tasks.readers import (
    ENV_DATA_DIR,
    LOCAL_SUFFIX,
    check_scorable,
    data_dir_from,
    local_path,
    local_revision,
    local_source,
    read_file,
)
from harness.tasks.verify import Verification, verify_local

DEFAULT_SPLIT = "test"

# Superseded mteb tasks that are still listed: the local STS-B files are exactly this one's
# data, and model cards report it far more often than STSBenchmark.v2.
KEEP_SUPERSEDED = ("STSBenchmark",)

# mteb's spellings of one split, in the order they are tried.
_SPLIT_ALIASES = {"dev": ("dev", "validation"), "validation": ("validation", "dev")}


@dataclass(frozen=True)
class _LocalOnly:
    """A harness-local task: same splits and score as an MTEB task, different data."""

    name: str
    like: str
    languages: tuple[str, ...]
    description: str


LOCAL_ONLY_TASKS = (
    _LocalOnly(
        name="GermanSTSBenchmark-deepl",
        like="GermanSTSBenchmark",
        languages=("de",),
        description=(
            "Harness-local task, NOT an MTEB task: the DeepL German translation of STS-B from "
            "t-systems-on-site-services-gmbh/german-STSbenchmark (data/deepl). Same pairs and scores as "
            "GermanSTSBenchmark (MTEB's is the Amazon Translate version), different German text; "
            "local data only."
        ),
    ),
)


# ---------------------------------------------------------------- task metadata (from mteb)


@dataclass(frozen=True)
class _TaskInfo:
    name: str
    hf_dataset: str | None
    revision: str | None
    eval_splits: tuple[str, ...]
    main_score: str
    subsets: tuple[tuple[str, tuple[str, ...]], ...]  # (hf subset, ISO 639-1 languages)
    description: str
    in_mteb: bool = True
    mteb_langs: tuple[tuple[str, ...], ...] = ()  # MTEB's language-script codes, per subset (same order)


def iso639_1(code: str) -> str:
    """ISO 639-1 code of a language tag (``deu-Latn`` -> ``de``, ``cmn-Hans`` -> ``zh``), read by the
    one vocabulary (harness.languages). Codes without a two-letter form stay three-letter (``arq``);
    a well-formed code the vocabulary does not know (``xx``) stays as it is and matches no task.
    Raises ValueError for a string that is not a language code."""
    found = normalize_language(code)
    if found is None and re.fullmatch(r"[A-Za-z]{2,3}", code.strip()):
        found = code.strip().lower()
    if found is None:
        raise ValueError(f"not a language code: {code!r}")
    return found


def _dedup(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    match = re.match(r"(.+?\.)(\s|$)", text)
    return match.group(1) if match else text


def _info_from_mteb(task: Any) -> _TaskInfo:
    meta = task.metadata
    eval_langs = meta.eval_langs
    raw = list(eval_langs.items()) if isinstance(eval_langs, dict) else [("default", list(eval_langs))]
    subsets = tuple((subset, _dedup([iso639_1(code) for code in codes])) for subset, codes in raw)
    return _TaskInfo(
        name=meta.name,
        hf_dataset=meta.dataset.get("path"),
        revision=meta.dataset.get("revision"),
        eval_splits=tuple(meta.eval_splits),
        main_score=meta.main_score,
        subsets=subsets,
        mteb_langs=tuple(tuple(codes) for _, codes in raw),
        description=_first_sentence(meta.description or ""),
    )


@functools.cache
def _task_infos() -> dict[str, _TaskInfo]:
    """Every STS text task mteb knows (plus the harness-local ones), by name. Imports mteb."""
    import mteb

    found = list(mteb.get_tasks(task_types=["STS"], modalities=["text"], exclusive_modality_filter=True))
    names = {t.metadata.name for t in found}
    found += [
        t
        for t in mteb.get_tasks(tasks=list(KEEP_SUPERSEDED), exclude_superseded=False)
        if t.metadata.name not in names
    ]
    infos: dict[str, _TaskInfo] = {}
    for task in found:
        if task.metadata.main_score not in {"pearson", "spearman", *METRIC_KEYS}:
            continue
        info = _info_from_mteb(task)
        infos[info.name] = info
    for local in LOCAL_ONLY_TASKS:
        like = infos.get(local.like)
        if like is None:  # mteb dropped the task it mirrors
            continue
        infos[local.name] = _TaskInfo(
            name=local.name,
            hf_dataset=None,
            revision=None,
            eval_splits=like.eval_splits,
            main_score=like.main_score,
            subsets=(("default", local.languages),),
            description=local.description,
            in_mteb=False,
            mteb_langs=like.mteb_langs[:1],
        )
    return dict(sorted(infos.items(), key=lambda kv: kv[0].lower()))


def mteb_revision(task: StsTask) -> str | None:
    """MTEB's dataset revision for a catalogued task (also when its data is local)."""
    if not task.in_mteb:
        return None
    info = _task_infos().get(task.name)
    return info.revision if info else None


def _resolve_splits(eval_splits: tuple[str, ...], splits: list[str] | None) -> list[str]:
    if splits is None:
        return [DEFAULT_SPLIT] if DEFAULT_SPLIT in eval_splits else list(eval_splits)
    out: list[str] = []
    for split in splits:
        for candidate in _SPLIT_ALIASES.get(split, (split,)):
            if candidate in eval_splits:
                if candidate not in out:
                    out.append(candidate)
                break
    return out


def _parse_names(names: list[str]) -> dict[str, set[str] | None]:
    """``["STS17", "sts22.v2[de-en]"]`` -> {lower name: wanted subsets or None for all}."""
    wanted: dict[str, set[str] | None] = {}
    for raw in names:
        match = re.fullmatch(r"\s*([^\[\]]+?)\s*(?:\[([^\[\]]+)\])?\s*", raw)
        if not match:
            raise TaskUnavailable(f"not a task name: {raw!r}")
        key, subset = match.group(1).lower().removesuffix(LOCAL_SUFFIX.lower()), match.group(2)
        if subset is None:
            wanted[key] = None
        elif key not in wanted or wanted[key] is not None:
            wanted.setdefault(key, set()).add(subset.strip())  # type: ignore[union-attr]
    return wanted


# ---------------------------------------------------------------- catalog


def catalog(
    languages: list[str] | None = None,
    data_dir: Path | None = None,
    splits: list[str] | None = None,
    names: list[str] | None = None,
) -> list[StsTask]:
    """The STS tasks for some languages (ISO 639-1, or any tag langcodes reads), one per subset and split.

    ``names`` filters by task name (case-insensitive; ``Name[subset]`` picks one subset) and
    unlocks cross-lingual subsets. ``data_dir`` (not read from the environment here; see
    :func:`data_dir_from`) fills ``local_files`` and the local revision where a file exists.
    Harness-local tasks are listed only when their file exists or they are named.
    Raises TaskUnavailable for an unknown task name and DataError for a missing data dir.
    """
    if data_dir is not None and not Path(data_dir).is_dir():
        raise DataError(f"{data_dir}: data directory not found")
    wanted_langs = {iso639_1(lang) for lang in languages} if languages else None
    infos = _task_infos()
    by_lower = {name.lower(): name for name in infos}
    wanted_names = _parse_names(names) if names else None
    if wanted_names:
        unknown = [n for n in wanted_names if n not in by_lower]
        if unknown:
            hints = [m for n in unknown for m in difflib.get_close_matches(n, list(by_lower), n=3)]
            hint = f"; did you mean {', '.join(by_lower[h] for h in hints)}?" if hints else ""
            raise TaskUnavailable(f"unknown STS task(s): {', '.join(unknown)}{hint}")

    tasks: list[StsTask] = []
    for name, info in infos.items():
        named = wanted_names is not None and name.lower() in wanted_names
        if wanted_names is not None and not named:
            continue
        subset_filter = wanted_names.get(name.lower()) if wanted_names else None
        if subset_filter:
            known = {s for s, _ in info.subsets}
            missing = sorted(subset_filter - known)
            if missing:
                raise TaskUnavailable(
                    f"{name} has no subset {', '.join(missing)}; subsets: {', '.join(sorted(known))}"
                )
        for subset, langs in info.subsets:
            if subset_filter and subset not in subset_filter:
                continue
            if named:
                if wanted_langs is not None and not wanted_langs & set(langs):
                    continue
            elif len(langs) != 1 or (wanted_langs is not None and langs[0] not in wanted_langs):
                continue
            for split in _resolve_splits(info.eval_splits, splits):
                task = _make_task(info, subset, list(langs), split, data_dir)
                if not info.in_mteb and not task.local_files and not named:
                    continue
                tasks.append(task)
    return tasks


def _make_task(info: _TaskInfo, subset: str, langs: list[str], split: str, data_dir: Path | None) -> StsTask:
    local_files: list[str] = []
    revision = info.revision
    rel = local_path(info.name, subset, split)
    if data_dir is not None and rel is not None:
        path = Path(data_dir) / rel
        if path.is_file():
            path = path.resolve()
            local_files = [str(path)]
            revision = local_revision(path)
    if info.in_mteb:
        description = f"{info.description} MTEB dataset: {info.hf_dataset} revision {info.revision}."
    else:
        description = info.description
    task = StsTask(
        name=info.name,
        subset=subset,
        languages=langs,
        split=split,
        main_score=info.main_score,
        revision=revision,
        hf_dataset=info.hf_dataset,
        local_files=local_files,
        description=description,
        in_mteb=info.in_mteb,
        mteb_revision=info.revision if info.in_mteb else None,
        mteb_languages=_mteb_langs(info, subset),
    )
    if not local_files:
        return task
    source = local_source(info.name)
    description += f" Local file: {local_files[0]} ({source.fmt.description})."  # type: ignore[union-attr]
    check = verification(task)
    if not info.in_mteb or check is None or check.ok or check.status == "unreadable":
        # An unreadable file fails to load with the same error: nothing is scored under MTEB's name.
        note = f" {check.summary()}." if check is not None else ""
        return task.model_copy(update={"description": description + note})
    return task.model_copy(
        update={
            "name": info.name + LOCAL_SUFFIX,
            "in_mteb": False,
            "hf_dataset": None,
            "mteb_revision": None,
            "description": (
                f"Harness-local copy of {info.name}, NOT MTEB's data: {check.summary()}. {description}"
            ),
        }
    )


def verification(task: StsTask) -> Verification | None:
    """How the task's local file compares with mteb's statistics for the MTEB task it copies.

    For a harness-local task that mirrors an MTEB task (``GermanSTSBenchmark-deepl``, or a
    ``<Task>-local`` copy) the comparison is with that task. None without a local file or an
    MTEB task to compare with (users' pairs files).
    """
    if len(task.local_files) != 1:
        return None
    like = next((o.like for o in LOCAL_ONLY_TASKS if o.name == task.name), None)
    base = task.name if task.in_mteb else (like or task.name.removesuffix(LOCAL_SUFFIX))
    source = local_source(task.name)
    if source is None or base not in _task_infos() or not _task_infos()[base].in_mteb:
        return None
    return verify_local(
        base,
        task.subset,
        task.split,
        Path(task.local_files[0]),
        task.revision or "",
        source.fmt.key,
        source.whitespace_note,
    )


def _mteb_langs(info: _TaskInfo, subset: str) -> list[str]:
    for (name, _), codes in zip(info.subsets, info.mteb_langs, strict=False):
        if name == subset:
            return list(codes)
    return []


Availability = Literal["local", "hub", "unavailable"]


def availability(task: StsTask) -> Availability:
    """Where :func:`load_pairs` would take the task's pairs from (the Hub counts only when online)."""
    if task.local_files:
        return "local"
    if task.hf_dataset and not offline_reason():
        return "hub"
    return "unavailable"


# ---------------------------------------------------------------- user pairs files


def pairs_task(path: Path, language: str | None = None) -> StsTask:
    """A task for a user's own pairs file (CSV/TSV with a header, or JSONL).

    The file is read and validated now (DataError on a bad row); the task's revision is
    the file's content hash.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        if path.exists():  # a folder, FIFO or device: never opened (a FIFO would block the read)
            raise DataError(f"{path}: not a regular file (a folder, FIFO or device); not read")
        raise DataError(f"{path}: file not found")
    path = path.resolve()
    try:
        pairs, digest = read_file(path, "custom")
    except TaskUnavailable as exc:
        raise DataError(f"{path}: {exc}") from None
    check_scorable(path, pairs)
    languages = [iso639_1(language)] if language else []
    return StsTask(
        name=f"custom:{path.stem}",
        subset="default",
        languages=languages,
        split=DEFAULT_SPLIT,
        main_score="cosine_spearman",
        revision="local-" + digest,
        hf_dataset=None,
        local_files=[str(path)],
        description=f"User pairs file {path} ({len(pairs)} pairs); not an MTEB task.",
        in_mteb=False,
    )


# ---------------------------------------------------------------- CLI


def _check_cell(task: StsTask, state: Availability) -> str:
    if state != "local":
        return "-"
    check = verification(task)
    if check is None:
        return "user data, nothing to check"
    return check.summary()


def tasks_command(lang: str | None, data_dir: Path | None) -> int:
    """``harness tasks``: print the catalog as a rich table.

    Returns 0 on success, 1 when no task matches, 2 on bad input (unknown language, missing data dir).
    """
    from rich.console import Console
    from rich.table import Table

    from harness.console import table_console

    console = table_console()
    err = Console(stderr=True)
    folder = data_dir_from(data_dir)
    try:
        tasks = catalog([lang] if lang else None, folder)
    except (DataError, TaskUnavailable, ValueError) as exc:
        err.print(f"harness: {exc}", markup=False, highlight=False)
        return 2
    if not tasks:
        err.print(f"harness: no STS tasks for language {lang!r}", markup=False, highlight=False)
        return 1
    offline = offline_reason()
    title = f"STS tasks{f' for {lang}' if lang else ''}"
    caption = (
        f"data dir: {folder}"
        if folder
        else f"no data dir (pass --data-dir or set {ENV_DATA_DIR}); "
        "cross-lingual subsets are listed only by task name"
    )
    table = Table(title=title, caption=caption)
    table.add_column("task", overflow="fold")
    table.add_column("subset", overflow="fold")
    table.add_column("languages")
    table.add_column("split")
    table.add_column("main score")
    table.add_column("MTEB")
    table.add_column("data", overflow="fold")
    table.add_column("local copy vs mteb's statistics", overflow="fold")
    for task in tasks:
        state = availability(task)
        if state == "local":
            shown = Path(task.local_files[0])
            if folder is not None:
                with contextlib.suppress(ValueError):
                    shown = shown.relative_to(Path(folder).resolve())
            data = f"local: {shown}"
        elif task.hf_dataset:
            data = f"hub-only (offline: {offline})" if offline else "hub-only"
        else:
            data = "unavailable"
        table.add_row(
            task.name,
            task.subset,
            ", ".join(task.languages),
            task.split,
            task.main_score,
            "yes" if task.in_mteb else "no (harness-local)",
            data,
            _check_cell(task, state),
        )
    console.print(table)
    return 0
