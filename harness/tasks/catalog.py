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

Local data
----------
With a data folder, an MTEB task's file is looked for in the generic layout first
(``mteb/<Task>/<subset>/<split>.jsonl``, :mod:`harness.tasks.layout`), then in its dataset's own
format (:mod:`harness.tasks.readers`), else the task needs the Hub. Either copy runs under mteb's
name only when it equals the statistics mteb ships (:mod:`harness.tasks.verify`); otherwise as
``<Task>-local``. :func:`load_pairs` gives the pairs as mteb's evaluator scores them: gold
normalised with the task's ``min_score``/``max_score``.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harness.errors import DataError, TaskUnavailable
from harness.languages import normalize_language
from harness.records import METRIC_KEYS, StsPairs, StsTask
from harness.tasks import readers
from harness.tasks.hub import offline_reason
from harness.tasks.layout import GENERIC_FORMAT, generic_file, outside_data_folder, stray_files
from harness.tasks.readers import (
    LOCAL_SUFFIX,
    check_scorable,
    local_path,
    local_revision,
    local_source,
    read_file,
    reader_key,
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
    score_range: tuple[float, float] | None = None  # mteb's min_score, max_score: gold is normalised by them


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
        score_range=(task.min_score, task.max_score),
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
            score_range=like.score_range,
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
    unlocks cross-lingual subsets. ``data_dir`` (as :mod:`harness.config` resolved it; never read
    from the environment here) fills ``local_files`` and the local revision where a file exists.
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

    if data_dir is not None:
        for line in stray_files(data_dir, _layout_known(infos)):
            warnings.warn(line, stacklevel=2)  # a command prints it once, as a `harness:` line
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


def _layout_known(infos: dict[str, _TaskInfo]) -> dict[str, dict[str, tuple[str, ...]]]:
    """Task -> subset -> evaluation splits, for the generic layout's stray-file check."""
    return {
        name: {subset: info.eval_splits for subset, _ in info.subsets}
        for name, info in infos.items()
        if info.in_mteb
    }


def _local_file(info: _TaskInfo, subset: str, split: str, data_dir: Path) -> Path | None:
    """The task's local file: the generic layout first (MTEB tasks), then its dataset's own format."""
    if info.in_mteb:
        generic = generic_file(data_dir, info.name, subset, split)
        if generic is not None:
            return generic
    rel = local_path(info.name, subset, split)
    path = Path(data_dir) / rel if rel is not None else None
    if path is None or not os.path.lexists(path):
        return None
    # A FIFO, device, folder or link to nothing where the file goes is that task's file: reading it
    # says what it is (never "no local file", never the Hub's copy instead).
    return path.resolve() if path.is_file() else path


def _make_task(info: _TaskInfo, subset: str, langs: list[str], split: str, data_dir: Path | None) -> StsTask:
    local_files: list[str] = []
    revision = info.revision
    path = _local_file(info, subset, split, data_dir) if data_dir is not None else None
    if path is not None:
        local_files = [str(path)]
        try:
            revision = _content_revision(info.name, path)
        except (DataError, TaskUnavailable):
            revision = None  # loading fails with the same error, naming the file: only this task is left out
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
    description += f" Local file: {local_files[0]} ({_format_description(task)})."
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
    base = _base_name(task)
    key = reader_key(task)
    if key == "custom" or base not in _task_infos() or not _task_infos()[base].in_mteb:
        return None
    source = local_source(task.name)
    note = source.whitespace_note if source is not None and key != GENERIC_FORMAT else None
    path = Path(task.local_files[0])
    return verify_local(base, task.subset, task.split, path, task.revision or "", key, note)


def _base_name(task: StsTask) -> str:
    """The catalogued task a task stands for: itself, the MTEB task a ``<Task>-local`` copy or a
    harness-local mirror (``GermanSTSBenchmark-deepl``) copies."""
    if task.in_mteb:
        return task.name
    like = next((o.like for o in LOCAL_ONLY_TASKS if o.name == task.name), None)
    return like or task.name.removesuffix(LOCAL_SUFFIX)


def _content_revision(name: str, path: Path) -> str:
    """A local file's content revision; a generic-layout link out of the data folder is never read."""
    key = reader_key(StsTask(name=name, subset="default", languages=[], local_files=[str(path)]))
    refused = outside_data_folder(path) if key == GENERIC_FORMAT else None
    if refused:
        raise DataError(f"{path}: {refused}")
    return local_revision(path)


def _format_description(task: StsTask) -> str:
    if reader_key(task) == GENERIC_FORMAT:
        return "MTEB generic layout: JSON Lines of sentence1, sentence2, score"
    source = local_source(task.name)
    return source.fmt.description if source is not None else "user file"


def load_pairs(task: StsTask, *, allow_hub: bool = True) -> StsPairs:
    """The task's pairs as mteb's STS evaluator scores them: read (:func:`readers.load_pairs`),
    then each gold score normalised with the task's ``min_score``/``max_score`` as mteb's
    ``AbsTaskSTS._normalize`` does (Spearman is unchanged; Pearson and the stored gold arrays are
    mteb's). Users' pairs files keep their own scale. DataError / TaskUnavailable as the reader."""
    pairs = readers.load_pairs(task, allow_hub=allow_hub)
    info = _task_infos().get(_base_name(task)) if not task.name.startswith("custom:") else None
    if info is None or info.score_range is None:
        return pairs
    low, high = info.score_range
    return pairs.model_copy(update={"gold": [(x - low) / (high - low) for x in pairs.gold]})


def _mteb_langs(info: _TaskInfo, subset: str) -> list[str]:
    for (name, _), codes in zip(info.subsets, info.mteb_langs, strict=False):
        if name == subset:
            return list(codes)
    return []


Availability = Literal["local", "hub", "unavailable"]
DataSource = Literal["generic", "reader", "hub", "none"]
DATA_SOURCES: dict[DataSource, str] = {
    "generic": "generic local copy",
    "reader": "dataset reader",
    "hub": "Hub",
    "none": "none",
}


def availability(task: StsTask) -> Availability:
    """Where :func:`load_pairs` would take the task's pairs from (the Hub counts only when online)."""
    if task.local_files:
        return "local"
    if task.hf_dataset and not offline_reason():
        return "hub"
    return "unavailable"


def data_source(task: StsTask) -> DataSource:
    """:func:`availability`, with a local copy told apart: the generic layout or a dataset's own format."""
    state = availability(task)
    if state == "local":
        return "generic" if reader_key(task) == GENERIC_FORMAT else "reader"
    return "hub" if state == "hub" else "none"


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
