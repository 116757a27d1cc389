"""STS tasks: a per-language catalog named as MTEB names them, and loaders for their pairs.

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
A data folder (``--data-dir DIR`` or ``HARNESS_DATA_DIR``, see :func:`data_dir_from`) laid out
like ``shared/data/sts``. ``<s>`` is the split as the files spell it (train/dev/test):

=================================  =============================================  ==========================
task (subset)                      file under the data dir                        format
=================================  =============================================  ==========================
STSBenchmarkMultilingualSTS[lang]  ``stsb_multi_mt/stsb-<lang>-<s>.csv``          comma CSV, RFC-4180, CRLF
STSBenchmark (en)                  ``stsb_multi_mt/stsb-en-<s>.csv``              comma CSV, RFC-4180, CRLF
GermanSTSBenchmark                 ``german_stsbenchmark/deepl/stsb_de_<s>.csv``  TAB, unquoted, score first
GermanSTSBenchmark-aws (local)     ``german_stsbenchmark/aws/stsb_de_<s>.csv``    TAB, unquoted, score first
RonSTS                             ``ro_sts/RO-STS.<s>.tsv``                      TAB, unquoted, score first
=================================  =============================================  ==========================

Why each file is that task's data:

- STSBenchmarkMultilingualSTS: mteb's ``mteb/stsb_multi_mt`` is PhilipMay/stsb-multi-mt (mteb's
  reference), the repository the files were copied from; row order and scores are the same
  in every language. The local folder also has ``ja``, which mteb's task has no subset for.
- STSBenchmark: the manifest checked the en files against the original STS-B files: same
  pairs once whitespace is stripped, identical scores. Not used for STSBenchmark.v2, which
  drops duplicate pairs (different rows).
- GermanSTSBenchmark: mteb's description and reference credit
  t-systems-on-site-services-gmbh/german-STSbenchmark; its primary translation is DeepL
  (``data/deepl``), assumed to be what mteb published. ASSUMPTION, not verified row by row
  against ``mteb/GermanSTSBenchmark`` (the Hub is unreachable here). Its Hub card lists the
  same split sizes (5749/1500/1379) and columns sentence1, sentence2, score; older mteb
  versions loaded ``jinaai/german-STSbenchmark``, also credited to T-Systems.
- GermanSTSBenchmark-aws: NOT an MTEB task (``in_mteb=False``). The same repository's Amazon
  Translate version (``data/aws``); a different German text (only ~10% of rows identical),
  so it has its own name and never shares MTEB's results. Same splits as GermanSTSBenchmark.
- RonSTS: mteb's task is RO-STS (LiRo, "high-quality Romanian translation of STSBenchmark");
  the files come from its repository, dumitrescustefan/RO-STS.

Formats are fixed per dataset (the table above) and checked against the content: every row
must have exactly three fields, a numeric score in 0..5 and two non-empty sentences, else
:class:`DataError` names the file and the line. The unquoted TAB files are read with
``csv.QUOTE_NONE``: with default quoting a field that starts with ``"`` swallows the following
lines. Files are decoded as UTF-8 (a BOM is dropped) and may use LF or CRLF. A header row
(``score``/``similarity_score`` in the score column) is tolerated.

A local task's ``revision`` is ``local-`` plus the first 12 hex digits of the file's sha256,
so different data never shares results; MTEB's own revision stays in ``description`` and
:func:`mteb_revision`. Loading re-hashes the file and refuses one that changed since it
was catalogued.

Hub fallback
------------
Without a local file, :func:`load_pairs` loads the task the way mteb's ``AbsTask.load_data``
does: ``datasets.load_dataset(**metadata.dataset)`` for monolingual tasks; for multilingual
ones with ``fast_loading`` the default config filtered on its ``lang`` column, otherwise the
subset as the config name; then the task's own ``dataset_transform`` (column renames such as
``similarity_score`` -> ``score``). With ``HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE`` set, the Hub
is not tried at all and :class:`TaskUnavailable` is raised at once.

User pairs files
----------------
:func:`pairs_task` wraps a CSV, TSV or JSONL file with ``sentence1``, ``sentence2`` and ``score``
columns (header required for CSV/TSV; extra columns ignored). The kind is chosen from the
content (a first line starting with ``{`` is JSONL) and the delimiter from the header
(the extension's delimiter first, then TAB, comma, semicolon). Comma/semicolon files use
RFC-4180 quoting; TAB files are read unquoted like the benchmark TSVs. Any finite score is
accepted, but not a file whose scores are all equal (no correlation can be computed on it).
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import functools
import hashlib
import io
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harness.hub import OFFLINE_ENV_VARS as OFFLINE_ENV_VARS  # tests switch these off
from harness.records import StsPairs, StsTask

ENV_DATA_DIR = "HARNESS_DATA_DIR"
DEFAULT_SPLIT = "test"

# Superseded mteb tasks that are still listed: the local STS-B files are exactly this one's
# data, and model cards report it far more often than STSBenchmark.v2.
KEEP_SUPERSEDED = ("STSBenchmark",)

REQUIRED_COLUMNS = ("sentence1", "sentence2", "score")


class DataError(Exception):
    """A data file (or Hub split) that cannot be used; the message is ``"<file>:<line>: <problem>"``."""


class TaskUnavailable(Exception):
    """A task whose data cannot be had here; the message says why."""


# ---------------------------------------------------------------- formats and the local mapping


@dataclass(frozen=True)
class _Format:
    key: str
    delimiter: str
    quoting: int
    columns: tuple[str, ...]  # the field order, a permutation of REQUIRED_COLUMNS
    score_range: tuple[float, float] | None
    description: str


_STSB_CSV = _Format(
    key="stsb-csv",
    delimiter=",",
    quoting=csv.QUOTE_MINIMAL,
    columns=("sentence1", "sentence2", "score"),
    score_range=(0.0, 5.0),
    description="comma-separated, RFC-4180 quoted: sentence1, sentence2, score",
)
_SCORE_FIRST_TSV = _Format(
    key="score-first-tsv",
    delimiter="\t",
    quoting=csv.QUOTE_NONE,
    columns=("score", "sentence1", "sentence2"),
    score_range=(0.0, 5.0),
    description="TAB-separated, unquoted: score, sentence1, sentence2",
)


@dataclass(frozen=True)
class _LocalSource:
    pattern: str  # relative to the data dir; {subset} and {split} (the files' split name)
    fmt: _Format


LOCAL_SOURCES: dict[str, _LocalSource] = {
    "STSBenchmarkMultilingualSTS": _LocalSource("stsb_multi_mt/stsb-{subset}-{split}.csv", _STSB_CSV),
    "STSBenchmark": _LocalSource("stsb_multi_mt/stsb-en-{split}.csv", _STSB_CSV),
    "GermanSTSBenchmark": _LocalSource("german_stsbenchmark/deepl/stsb_de_{split}.csv", _SCORE_FIRST_TSV),
    "GermanSTSBenchmark-aws": _LocalSource("german_stsbenchmark/aws/stsb_de_{split}.csv", _SCORE_FIRST_TSV),
    "RonSTS": _LocalSource("ro_sts/RO-STS.{split}.tsv", _SCORE_FIRST_TSV),
}

# mteb's split names -> the files' split names.
_FILE_SPLIT = {"validation": "dev"}
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
        name="GermanSTSBenchmark-aws",
        like="GermanSTSBenchmark",
        languages=("de",),
        description=(
            "Harness-local task, NOT an MTEB task: the Amazon Translate (AWS) German translation of "
            "STS-B from t-systems-on-site-services-gmbh/german-STSbenchmark (data/aws). Same pairs and "
            "scores as GermanSTSBenchmark, different German text; local data only."
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


@functools.cache
def iso639_1(code: str) -> str:
    """ISO 639-1 code of a language tag (``deu-Latn`` -> ``de``, ``cmn-Hans`` -> ``zh``).

    Codes without a two-letter form stay as they are (``arq``). Raises ValueError for a
    string that is not a language tag.
    """
    import langcodes

    try:
        lang = langcodes.Language.get(code.strip().replace("_", "-"))
    except (ValueError, LookupError) as exc:
        raise ValueError(f"not a language code: {code!r}") from exc
    found = lang.prefer_macrolanguage().language
    if not found:
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
    from harness.evaluate import METRIC_KEYS  # the correlations an STS evaluation computes

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


# ---------------------------------------------------------------- helpers


def data_dir_from(option: Path | None) -> Path | None:
    """The data folder: the option, else ``$HARNESS_DATA_DIR``, else None."""
    if option is not None:
        return Path(option).expanduser()
    env = os.environ.get(ENV_DATA_DIR, "").strip()
    return Path(env).expanduser() if env else None


def hub_offline() -> str | None:
    """Why the Hub cannot be used (an env variable is set, or it is unreachable), or None."""
    from harness.hub import offline_reason

    return offline_reason()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


@functools.lru_cache(maxsize=256)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    return _digest(Path(path).read_bytes())


def local_revision(path: Path) -> str:
    """``local-`` plus the first 12 hex digits of the file's sha256."""
    st = path.stat()
    return "local-" + _file_digest(str(path), st.st_mtime_ns, st.st_size)


def _file_split(split: str) -> str:
    return _FILE_SPLIT.get(split, split)


def local_path(name: str, subset: str, split: str) -> str | None:
    """Where a task's file lives under a data dir (relative), when the harness knows one."""
    source = LOCAL_SOURCES.get(name)
    if source is None:
        return None
    return source.pattern.format(subset=subset, split=_file_split(split))


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
        key, subset = match.group(1).lower(), match.group(2)
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
    if local_files:
        description += f" Local file: {local_files[0]} ({LOCAL_SOURCES[info.name].fmt.description})."
    return StsTask(
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
    if task.hf_dataset and not hub_offline():
        return "hub"
    return "unavailable"


# ---------------------------------------------------------------- reading files


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{path}:{line}: not UTF-8 ({exc.reason} at byte {exc.start})") from None


def _parse_score(path: Path | str, line: int, raw: Any, score_range: tuple[float, float] | None) -> float:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise DataError(f"{path}:{line}: missing score")
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise DataError(f"{path}:{line}: score {raw!r} is not a number")
    try:
        value = float(raw.strip()) if isinstance(raw, str) else float(raw)
    except ValueError:
        shown = raw if len(raw) <= 40 else raw[:37] + "..."
        raise DataError(f"{path}:{line}: score {shown!r} is not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{path}:{line}: score {raw!r} is not a finite number")
    if score_range is not None and not score_range[0] <= value <= score_range[1]:
        raise DataError(f"{path}:{line}: score {value:g} outside {score_range[0]:g}..{score_range[1]:g}")
    return value


def _check_sentence(path: Path, line: int, column: str, value: Any) -> str:
    if value is None:
        raise DataError(f"{path}:{line}: missing {column}")
    if not isinstance(value, str):
        raise DataError(f"{path}:{line}: {column} is not a string ({type(value).__name__})")
    if not value.strip():
        raise DataError(f"{path}:{line}: empty {column}")
    return value


_DELIMITER_NAMES = {"\t": "TAB", ",": "comma", ";": "semicolon"}


def _records(path: Path, text: str, delimiter: str, quoting: int) -> Iterator[tuple[int, int, list[str]]]:
    """(first line, last line, fields) of each non-blank record; csv errors become DataError."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting, strict=True)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            hint = " (unbalanced quote?)" if quoting != csv.QUOTE_NONE else ""
            raise DataError(
                f"{path}:{start}: malformed {_DELIMITER_NAMES.get(delimiter, delimiter)}-separated "
                f"record: {exc}{hint}"
            ) from None
        end = reader.line_num
        if len(row) > 1 or (row and row[0].strip()):
            yield start, end, row
        start = end + 1


def _field_count_error(path: Path, line: int, row: list[str], expected: int, delimiter: str) -> DataError:
    hint = ""
    if len(row) == 1:
        others = [name for d, name in _DELIMITER_NAMES.items() if d != delimiter and d in row[0]]
        if others:
            hint = f" (the line looks {others[0]}-separated)"
    return DataError(
        f"{path}:{line}: expected {expected} {_DELIMITER_NAMES.get(delimiter, repr(delimiter))}-separated "
        f"fields, found {len(row)}{hint}"
    )


def _read_fixed(path: Path, text: str, fmt: _Format) -> StsPairs:
    """A benchmark file in its known format (no header, three fields, score in range)."""
    s1: list[str] = []
    s2: list[str] = []
    gold: list[float] = []
    pos = {column: i for i, column in enumerate(fmt.columns)}
    first = True
    for start, end, row in _records(path, text, fmt.delimiter, fmt.quoting):
        if end != start:
            raise DataError(f"{path}:{start}: record runs over lines {start}-{end} (unbalanced quote?)")
        if len(row) != len(fmt.columns):
            raise _field_count_error(path, start, row, len(fmt.columns), fmt.delimiter)
        if first and row[pos["score"]].strip().lower() in {"score", "similarity_score"}:
            first = False
            continue  # a header row
        first = False
        raw_score = row[pos["score"]]
        try:
            score = _parse_score(path, start, raw_score, fmt.score_range)
        except DataError as exc:
            if "not a number" in str(exc):
                raise DataError(f"{exc} (expected columns: {', '.join(fmt.columns)})") from None
            raise
        s1.append(_check_sentence(path, start, "sentence1", row[pos["sentence1"]]))
        s2.append(_check_sentence(path, start, "sentence2", row[pos["sentence2"]]))
        gold.append(score)
    if not gold:
        raise DataError(f"{path}: no sentence pairs")
    return StsPairs(sentence1=s1, sentence2=s2, gold=gold)


def _sniff_delimiter(path: Path, header_line: str) -> str:
    ext = path.suffix.lower()
    order = {".tsv": "\t", ".tab": "\t", ".csv": ",", ".psv": "|"}.get(ext)
    candidates = [d for d in (order, "\t", ",", ";") if d]
    for delimiter in dict.fromkeys(candidates):
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        fields = next(csv.reader([header_line], delimiter=delimiter, quoting=quoting), [])
        columns = {field.strip().strip('"').lower() for field in fields}
        if set(REQUIRED_COLUMNS) <= columns:
            return delimiter
    shown = header_line if len(header_line) <= 80 else header_line[:77] + "..."
    raise DataError(
        f"{path}: missing required columns {', '.join(REQUIRED_COLUMNS)} "
        f"(a header row is required; first line is {shown!r})"
    )


def _read_delimited(path: Path, text: str) -> StsPairs:
    first_line = next((ln for ln in text.splitlines() if ln.strip()), None)
    if first_line is None:
        raise DataError(f"{path}: empty file")
    delimiter = _sniff_delimiter(path, first_line)
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    records = _records(path, text, delimiter, quoting)
    _, _, header = next(records)
    columns = [field.strip().strip('"').lower() for field in header]
    pos = {column: columns.index(column) for column in REQUIRED_COLUMNS}
    s1: list[str] = []
    s2: list[str] = []
    gold: list[float] = []
    for start, _end, row in records:
        if len(row) != len(columns):
            raise _field_count_error(path, start, row, len(columns), delimiter)
        score = _parse_score(path, start, row[pos["score"]], None)
        s1.append(_check_sentence(path, start, "sentence1", row[pos["sentence1"]]))
        s2.append(_check_sentence(path, start, "sentence2", row[pos["sentence2"]]))
        gold.append(score)
    if not gold:
        raise DataError(f"{path}: no sentence pairs after the header")
    return StsPairs(sentence1=s1, sentence2=s2, gold=gold)


def _read_jsonl(path: Path, text: str) -> StsPairs:
    s1: list[str] = []
    s2: list[str] = []
    gold: list[float] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{number}: expected a JSON object, found {type(obj).__name__}")
        missing = [c for c in REQUIRED_COLUMNS if c not in obj]
        if missing:
            raise DataError(f"{path}:{number}: missing {', '.join(missing)}")
        score = _parse_score(path, number, obj["score"], None)
        s1.append(_check_sentence(path, number, "sentence1", obj["sentence1"]))
        s2.append(_check_sentence(path, number, "sentence2", obj["sentence2"]))
        gold.append(score)
    if not gold:
        raise DataError(f"{path}: no sentence pairs")
    return StsPairs(sentence1=s1, sentence2=s2, gold=gold)


def _read_custom(path: Path, text: str) -> StsPairs:
    first = text.lstrip()
    if path.suffix.lower() in {".jsonl", ".ndjson"} or first.startswith("{"):
        return _read_jsonl(path, text)
    return _read_delimited(path, text)


_PARSED: dict[tuple[str, str, str], StsPairs] = {}


def _check_scorable(path: Path, pairs: StsPairs) -> None:
    """Refuse gold scores no correlation can be computed on (they would surface later as NaN scores)."""
    if min(pairs.gold) == max(pairs.gold):
        raise DataError(
            f"{path}: all {len(pairs)} scores are {pairs.gold[0]:g}; a correlation with constant "
            "scores is undefined"
        )


def _read_file(path: Path, reader_key: str) -> tuple[StsPairs, str]:
    """Parse a local file (cached by path, content hash and reader); returns pairs and digest."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TaskUnavailable(f"local file {path} not found") from None
    except OSError as exc:
        raise TaskUnavailable(f"local file {path} cannot be read: {exc}") from None
    digest = _digest(data)
    key = (str(path), digest, reader_key)
    if key not in _PARSED:
        text = _decode(path, data)
        fmt = next((s.fmt for s in LOCAL_SOURCES.values() if s.fmt.key == reader_key), None)
        pairs = _read_fixed(path, text, fmt) if fmt is not None else _read_custom(path, text)
        if len(_PARSED) >= 64:
            _PARSED.clear()
        _PARSED[key] = pairs
    return _PARSED[key], digest


# ---------------------------------------------------------------- loading


def load_pairs(task: StsTask, *, allow_hub: bool = True) -> StsPairs:
    """The task's sentence pairs: from its local file when it has one, else from the Hub.

    Raises DataError for unusable data and TaskUnavailable when no data can be had.
    """
    if task.local_files:
        return _load_local(task)
    where = f"{task.label} ({task.split})"
    rel = local_path(task.name, task.subset, task.split)
    no_local = (
        f"no local file (expected {rel} under the data dir; pass --data-dir or set {ENV_DATA_DIR})"
        if rel
        else "no local copy of this task is known"
    )
    if not task.hf_dataset:
        raise TaskUnavailable(f"{where}: {no_local}, and it is not on the Hub")
    if not allow_hub:
        raise TaskUnavailable(f"{where}: {no_local}, and Hub loading is disabled")
    offline = hub_offline()
    if offline:
        raise TaskUnavailable(f"{where}: {no_local}, and the Hub is offline ({offline})")
    return _load_hub(task, where, no_local)


def _load_local(task: StsTask) -> StsPairs:
    source = LOCAL_SOURCES.get(task.name)
    reader_key = source.fmt.key if source is not None else "custom"
    parts: list[StsPairs] = []
    digests: list[str] = []
    for name in task.local_files:
        pairs, digest = _read_file(Path(name), reader_key)
        parts.append(pairs)
        digests.append(digest)
    if task.revision and task.revision.startswith("local-"):
        now = "local-" + (digests[0] if len(digests) == 1 else _digest("".join(digests).encode()))
        if now != task.revision:
            raise DataError(
                f"{task.local_files[0]}: file changed since the task was listed "
                f"(revision {task.revision}, now {now}); list the tasks again"
            )
    if len(parts) == 1:
        return parts[0]
    return StsPairs(
        sentence1=[s for p in parts for s in p.sentence1],
        sentence2=[s for p in parts for s in p.sentence2],
        gold=[g for p in parts for g in p.gold],
    )


def _load_hub(task: StsTask, where: str, no_local: str) -> StsPairs:
    import datasets

    revision = task.revision if task.revision and not task.revision.startswith("local-") else None
    mtask = _fresh_mteb_task(task.name) if task.in_mteb else None
    location = f"hf:{task.hf_dataset}@{(revision or 'main')[:12]}[{task.subset}]/{task.split}"
    try:
        if mtask is None:
            name = None if task.subset == "default" else task.subset
            split_data = datasets.load_dataset(task.hf_dataset, name, revision=revision, split=task.split)
        else:
            split_data = _load_like_mteb(datasets, mtask, task, revision)
    except (DataError, TaskUnavailable):
        raise
    except Exception as exc:
        raise TaskUnavailable(
            f"{where}: {no_local}, and loading {task.hf_dataset} from the Hub failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return _pairs_from_rows(location, split_data)


def _fresh_mteb_task(name: str) -> Any:
    import mteb

    try:
        return mteb.get_task(name)
    except Exception:
        return None


def _load_like_mteb(datasets: Any, mtask: Any, task: StsTask, revision: str | None) -> Any:
    """Follow mteb's AbsTask.load_data for one subset, then the task's dataset_transform."""
    from mteb.abstasks.abstask import AbsTask

    meta = mtask.metadata
    kwargs = dict(meta.dataset)
    kwargs["path"] = task.hf_dataset
    if revision is not None:
        kwargs["revision"] = revision
    multilingual = meta.is_multilingual
    if multilingual:
        mtask.hf_subsets = [task.subset]
    if type(mtask).load_data is not AbsTask.load_data:
        # The task loads its own way: let it (this path ignores a non-default revision).
        mtask.load_data()
    else:
        if multilingual and getattr(mtask, "fast_loading", False):
            merged = datasets.load_dataset(**kwargs)
            subset_data = datasets.DatasetDict(
                {
                    split: data.filter(lambda lang: lang == task.subset, input_columns="lang").remove_columns(
                        "lang"
                    )
                    for split, data in merged.items()
                }
            )
            mtask.dataset = {task.subset: subset_data}
        elif multilingual:
            mtask.dataset = {task.subset: datasets.load_dataset(**{**kwargs, "name": task.subset})}
        else:
            mtask.dataset = datasets.load_dataset(**kwargs)
        mtask.dataset_transform()
        mtask.data_loaded = True
    data = mtask.dataset[task.subset] if multilingual else mtask.dataset
    if task.split not in data:
        raise TaskUnavailable(
            f"{task.label}: the Hub dataset {task.hf_dataset} has no split {task.split!r} "
            f"(splits: {', '.join(data)})"
        )
    return data[task.split]


def _pairs_from_rows(location: str, data: Any) -> StsPairs:
    """Hub rows as mteb evaluates them: sentence1, sentence2, score (empty sentences kept, as mteb does)."""
    columns = list(getattr(data, "column_names", None) or [])
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise DataError(
            f"{location}: missing required columns {', '.join(missing)} (has {', '.join(columns)})"
        )
    s1 = list(data["sentence1"])
    s2 = list(data["sentence2"])
    raw_scores = list(data["score"])
    gold: list[float] = []
    for row, (a, b, raw) in enumerate(zip(s1, s2, raw_scores, strict=True), start=1):
        for column, value in (("sentence1", a), ("sentence2", b)):
            if not isinstance(value, str):
                raise DataError(f"{location}:{row}: {column} is not a string ({type(value).__name__})")
        gold.append(_parse_score(location, row, raw, None))
    if not gold:
        raise DataError(f"{location}: no sentence pairs")
    return StsPairs(sentence1=s1, sentence2=s2, gold=gold)


# ---------------------------------------------------------------- user pairs files


def pairs_task(path: Path, language: str | None = None) -> StsTask:
    """A task for a user's own pairs file (CSV/TSV with a header, or JSONL).

    The file is read and validated now (DataError on a bad row); the task's revision is
    the file's content hash.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    path = path.resolve()
    try:
        pairs, digest = _read_file(path, "custom")
    except TaskUnavailable as exc:
        raise DataError(f"{path}: {exc}") from None
    _check_scorable(path, pairs)
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


def tasks_command(lang: str | None, data_dir: Path | None) -> int:
    """``harness tasks``: print the catalog as a rich table.

    Returns 0 on success, 1 when no task matches, 2 on bad input (unknown language, missing data dir).
    """
    from rich.console import Console
    from rich.table import Table

    console = Console()
    err = Console(stderr=True)
    folder = data_dir_from(data_dir)
    try:
        tasks = catalog([lang] if lang else None, folder)
    except (DataError, TaskUnavailable, ValueError) as exc:
        err.print(f"harness tasks: {exc}", markup=False, highlight=False)
        return 2
    if not tasks:
        err.print(f"harness tasks: no STS tasks for language {lang!r}", markup=False, highlight=False)
        return 1
    offline = hub_offline()
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
        )
    console.print(table)
    return 0
