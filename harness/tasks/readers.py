"""Reading sentence pairs: the local benchmark files, users' pairs files and Hub rows.

Local data
----------
A data folder (``--data-dir DIR`` or ``HARNESS_DATA_DIR``, resolved by :mod:`harness.config`) laid out
like ``shared/data/sts``. Any MTEB STS task may sit there in the generic layout
(``mteb/<TaskName>/<subset>/<split>.jsonl``, :mod:`harness.tasks.layout`; format key
``mteb-jsonl``: JSON Lines, empty sentences kept as mteb keeps them), which the catalog looks for
first. The dataset-specific readers below stay because these files are the datasets' own
published formats, the ones users download (the generic layout made the others unnecessary).
``<s>`` is the split as the files spell it (train/dev/test):

=================================  =============================================  ==========================
task (subset)                      file under the data dir                        format
=================================  =============================================  ==========================
STSBenchmarkMultilingualSTS[lang]  ``stsb_multi_mt/stsb-<lang>-<s>.csv``          comma CSV, RFC-4180, CRLF
STSBenchmark (en)                  ``stsb_multi_mt/stsb-en-<s>.csv``              comma CSV, RFC-4180, CRLF
GermanSTSBenchmark                 ``german_stsbenchmark/aws/stsb_de_<s>.csv``    TAB, unquoted, score first
GermanSTSBenchmark-deepl (local)   ``german_stsbenchmark/deepl/stsb_de_<s>.csv``  TAB, unquoted, score first
RonSTS                             ``ro_sts/RO-STS.<s>.tsv``                      TAB, unquoted, score first
=================================  =============================================  ==========================

Why each file is that task's data:

- STSBenchmarkMultilingualSTS and STSBenchmark: PhilipMay/stsb-multi-mt, mteb's reference, with
  the same rows and scores in every language (also ``ja``, which mteb has no subset for); the en
  files equal STS-B once whitespace is stripped (STSBenchmark.v2 drops pairs: not these rows).
- GermanSTSBenchmark: MTEB's task is the Amazon Translate version (``data/aws``) of
  t-systems-on-site-services-gmbh/german-STSbenchmark: its files equal the statistics mteb ships
  on every figure, and all-MiniLM-L6-v2 scores 0.6056173 on them, MTEB's published figure. The
  DeepL files (``data/deepl``) match none: they are ``GermanSTSBenchmark-deepl``, not an MTEB
  task (``in_mteb=False``), with results of their own.
- RonSTS: RO-STS (LiRo), from its repository dumitrescustefan/RO-STS.

Formats are fixed per dataset and checked against the content: three fields, a score in 0..5
and two non-empty sentences per row, else :class:`DataError` names the file and the line. The
unquoted TAB files are read with ``csv.QUOTE_NONE`` (with default quoting a field that starts
with ``"`` swallows the following lines). UTF-8 (a BOM is dropped), LF or CRLF; a header row
(``score``/``similarity_score`` in the score column) is tolerated. Only regular files of at
most :data:`MAX_FILE_BYTES` are read (a FIFO is reported, never waited on).

Every local copy of an MTEB task is checked against the statistics mteb ships for it
(:mod:`harness.tasks.verify`) before it runs under MTEB's name; a copy that differs runs as
``<Task>-local`` (``LOCAL_SUFFIX``), with the whitespace differences a manifest documents
(``whitespace_note``) reported. A local task's ``revision`` is ``local-`` plus the first 12 hex
digits of the file's sha256 (MTEB's own stays in ``description`` and :func:`mteb_revision`), so
different data never shares results; a file changed since it was catalogued is refused.

User pairs files
----------------
:func:`pairs_task` wraps a CSV, TSV or JSONL file with ``sentence1``, ``sentence2`` and ``score``
columns (a header row for CSV/TSV; extra columns ignored). A first line starting with ``{`` is
JSONL; the delimiter is read from the header (the extension's first, then TAB, comma,
semicolon); comma/semicolon files use RFC-4180 quoting, TAB files none; JSONL records end at a
newline only (U+2028 and the like are text). Any finite score is accepted, but not a file whose
scores are all equal (no correlation can be computed on it), nor more than :data:`MAX_PAIRS`
pairs in any task (the bootstrap's cap: refused when read, not after the encoding).
"""

from __future__ import annotations

import csv
import errno
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
from typing import Any

from harness.config import KEYS
from harness.errors import DataError, TaskUnavailable
from harness.model_files import UnreadableFile, read_bytes
from harness.records import StsPairs, StsTask
from harness.tasks.hub import load_split, offline_reason
from harness.tasks.layout import GENERIC_FORMAT, generic_rel, is_generic, outside_data_folder

REQUIRED_COLUMNS = ("sentence1", "sentence2", "score")
MAX_FILE_BYTES = 1 << 30  # 1 GiB: STS-B's largest split is 1.4 MB
# The most pairs one task may have: harness.bootstrap.MAX_PAIRS (its interval's exact integer
# sums), repeated here so that reading a file never imports numpy/scipy; a test keeps them equal.
MAX_PAIRS = 200_000


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
    whitespace_note: str | None = None  # the manifest documents stripped whitespace (see verify)


LOCAL_SOURCES: dict[str, _LocalSource] = {
    "STSBenchmarkMultilingualSTS": _LocalSource("stsb_multi_mt/stsb-{subset}-{split}.csv", _STSB_CSV),
    "STSBenchmark": _LocalSource(
        "stsb_multi_mt/stsb-en-{split}.csv",
        _STSB_CSV,
        whitespace_note=(
            "stsb_multi_mt/MANIFEST.md: leading/trailing whitespace stripped from the original "
            "STS-B (11 test rows)"
        ),
    ),
    "GermanSTSBenchmark": _LocalSource("german_stsbenchmark/aws/stsb_de_{split}.csv", _SCORE_FIRST_TSV),
    "GermanSTSBenchmark-deepl": _LocalSource(
        "german_stsbenchmark/deepl/stsb_de_{split}.csv", _SCORE_FIRST_TSV
    ),
    "RonSTS": _LocalSource("ro_sts/RO-STS.{split}.tsv", _SCORE_FIRST_TSV),
}

# A local copy that does not match mteb's statistics runs as "<Task>-local" (see harness.tasks.verify).
LOCAL_SUFFIX = "-local"


def local_source(name: str) -> _LocalSource | None:
    """The local source of a task name, also for ``<Task>-local`` (a copy that failed verification)."""
    source = LOCAL_SOURCES.get(name)
    if source is None and name.endswith(LOCAL_SUFFIX):
        source = LOCAL_SOURCES.get(name.removesuffix(LOCAL_SUFFIX))
    return source


_FILE_SPLIT = {"validation": "dev"}  # mteb's split names -> the files' split names


# ---------------------------------------------------------------- where local files are


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def _read_regular(path: Path) -> bytes:
    """A data file's bytes: a regular file of at most MAX_FILE_BYTES (a FIFO is never waited on)."""
    try:
        return read_bytes(path, MAX_FILE_BYTES)
    except FileNotFoundError:
        if path.is_symlink():
            target = os.readlink(path)
            raise DataError(f"{path}: a link to {target!r}, which does not exist; not read") from None
        raise TaskUnavailable(f"local file {path} not found") from None
    except UnreadableFile as exc:
        if isinstance(exc.__cause__, OSError) and exc.__cause__.errno == errno.ELOOP:
            raise DataError(f"{path}: a symbolic link loop, not a regular file; not read") from None
        raise DataError(f"{path}: {exc.reason}") from None
    except OSError as exc:
        raise TaskUnavailable(f"local file {path} cannot be read: {exc.strerror or exc}") from None


@functools.lru_cache(maxsize=256)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    return _digest(_read_regular(Path(path)))


def local_revision(path: Path) -> str:
    """``local-`` plus the first 12 hex digits of the file's sha256."""
    try:
        st = path.stat()  # one stat: mtime and size of the same file state key the digest cache
    except OSError:  # a link loop or a link to nothing: reading it raises what it is
        return "local-" + _digest(_read_regular(path))
    return "local-" + _file_digest(str(path), st.st_mtime_ns, st.st_size)


def local_path(name: str, subset: str, split: str) -> str | None:
    """Where a task's file lives under a data dir (relative) in its dataset's own format, when the
    harness reads one (the generic layout's path is :func:`harness.tasks.layout.generic_rel`)."""
    source = local_source(name)
    return source.pattern.format(subset=subset, split=_FILE_SPLIT.get(split, split)) if source else None


def reader_key(task: StsTask) -> str:
    """The format a task's local file is read in: the generic layout's, its dataset's, or a user file's."""
    if task.local_files and is_generic(Path(task.local_files[0])) and not task.name.startswith("custom:"):
        return GENERIC_FORMAT
    source = local_source(task.name)
    return source.fmt.key if source is not None else "custom"


# ---------------------------------------------------------------- reading files


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{path}:{line}: not UTF-8 ({exc.reason} at byte {exc.start})") from None


# A score as written in a data file: ASCII decimal digits (float() also takes "1_5" and "١٢").
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:nan|inf|infinity)", re.I)


def _parse_score(path: Path | str, line: int, raw: Any, score_range: tuple[float, float] | None) -> float:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise DataError(f"{path}:{line}: missing score")
    shown = repr(raw) if len(repr(raw)) <= 40 else repr(raw)[:37] + "..."
    text = raw.strip() if isinstance(raw, str) else None
    numeric = bool(_NUMBER.fullmatch(text)) if text is not None else isinstance(raw, int | float)
    if isinstance(raw, bool) or not numeric:
        raise DataError(f"{path}:{line}: score {shown} is not a number")
    try:
        value = float(raw if text is None else text)
    except OverflowError:  # an integer beyond float's range
        digits = len(str(raw))
        raise DataError(f"{path}:{line}: score is a {digits}-digit number, too large for a float") from None
    if not math.isfinite(value):
        raise DataError(f"{path}:{line}: score {shown} is not a finite number")
    if score_range is not None and not score_range[0] <= value <= score_range[1]:
        raise DataError(f"{path}:{line}: score {value:g} outside {score_range[0]:g}..{score_range[1]:g}")
    return value


# Text no tokenizer takes: NUL, and UTF-16 surrogates (a JSON "\\ud800" decodes to one; it cannot
# be encoded as UTF-8, so one such sentence would fail the whole encode pass of every task).
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def check_text(where: Path | str, line: int, column: str, value: str) -> str:
    """`value` unless it holds text no tokenizer takes (NUL, a lone surrogate): DataError naming file:line."""
    bad = _BAD_TEXT.search(value)
    if bad is not None:
        char = bad.group()
        what = "a NUL character" if char == "\x00" else f"a lone surrogate (U+{ord(char):04X})"
        raise DataError(f"{where}:{line}: {column} has {what} at character {bad.start() + 1}")
    return value


def _check_sentence(where: Path | str, line: int, column: str, value: Any, *, keep_empty: bool) -> str:
    if value is None:
        raise DataError(f"{where}:{line}: missing {column}")
    if not isinstance(value, str):
        raise DataError(f"{where}:{line}: {column} is not a string ({type(value).__name__})")
    if not keep_empty and not value.strip():
        raise DataError(f"{where}:{line}: empty {column}")
    if len(value) > csv.field_size_limit():  # as long in every format: CSV's field limit
        long = f"{len(value):,} characters long: not a sentence (at most {csv.field_size_limit():,})"
        raise DataError(f"{where}:{line}: {column} is {long}")
    return check_text(where, line, column, value)


Rows = Iterator[tuple[int, dict[str, Any]]]  # (line or row number, column -> value) per pair


def _pairs(
    where: Path | str,
    rows: Rows,
    known: _Format | None = None,
    *,
    empty: str = "no sentence pairs",
    keep_empty: bool = False,
) -> StsPairs:
    """The one row loop of every reader (benchmark files, users' files, Hub rows): score and both
    sentences checked per row, DataError naming ``where:line``.

    ``known``: a benchmark file's format (its score range; its column order is named when a score
    is not a number); ``keep_empty``: empty sentences stay, as mteb keeps them on the Hub.
    """
    s1: list[str] = []
    s2: list[str] = []
    gold: list[float] = []
    for line, row in rows:
        try:
            score = _parse_score(where, line, row["score"], known.score_range if known else None)
        except DataError as exc:
            if known and "not a number" in str(exc):
                raise DataError(f"{exc} (expected columns: {', '.join(known.columns)})") from None
            raise
        s1.append(_check_sentence(where, line, "sentence1", row["sentence1"], keep_empty=keep_empty))
        s2.append(_check_sentence(where, line, "sentence2", row["sentence2"], keep_empty=keep_empty))
        gold.append(score)
    if not gold:
        raise DataError(f"{where}: {empty}")
    check_size(where, len(gold))
    return StsPairs(sentence1=s1, sentence2=s2, gold=gold)


_DELIMITER_NAMES = {"\t": "TAB", ",": "comma", ";": "semicolon"}


def check_size(where: Path | str, n: int) -> None:
    """Refuse, when the data is read (before any model loads), more pairs than can be scored: the
    bootstrap interval takes at most MAX_PAIRS, and would only fail after all the encoding."""
    if n > MAX_PAIRS:
        raise DataError(
            f"{where}: {n:,} sentence pairs; at most {MAX_PAIRS:,} can be scored in one task "
            "(the bootstrap interval's exact sums); split the file"
        )


def _lines(text: str) -> Iterator[str]:
    """Physical lines as files end them (LF, CRLF or CR), lazily; ``str.splitlines`` would also
    break at U+2028, U+2029, U+0085 and other characters that are legitimate inside a sentence."""
    return iter(io.StringIO(text, newline=""))


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
            if "field larger than field limit" in str(exc):
                limit = csv.field_size_limit()
                raise DataError(
                    f"{path}:{start}: a field is longer than {limit:,} characters: not a sentence"
                    + (" (or a quote opened and never closed)" if quoting != csv.QUOTE_NONE else "")
                ) from None
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


def _delimited_rows(
    path: Path, records: Iterator[tuple[int, int, list[str]]], fmt: _Format, *, known_format: bool
) -> Rows:
    """Rows of a delimited file: the field count checked per record. ``known_format`` (a benchmark
    file): a record sits on one line, and a first row whose score column says ``score`` is a header."""
    pos = {column: fmt.columns.index(column) for column in REQUIRED_COLUMNS}
    first = known_format
    for start, end, fields in records:
        if known_format and end != start:
            raise DataError(f"{path}:{start}: record runs over lines {start}-{end} (unbalanced quote?)")
        if len(fields) != len(fmt.columns):
            raise _field_count_error(path, start, fields, len(fmt.columns), fmt.delimiter)
        row = {column: fields[i] for column, i in pos.items()}
        if first and row["score"].strip().lower() in {"score", "similarity_score"}:
            first = False
            continue  # a header row
        first = False
        yield start, row


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


def _delimited_custom_rows(path: Path, text: str) -> Rows:
    """A user's CSV/TSV file: a header row names the columns (extra ones are ignored)."""
    first_line = next((ln.rstrip("\r\n") for ln in _lines(text) if ln.strip()), None)
    if first_line is None:
        raise DataError(f"{path}: empty file")
    delimiter = _sniff_delimiter(path, first_line)
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    records = _records(path, text, delimiter, quoting)
    _, _, header = next(records)
    columns = tuple(field.strip().strip('"').lower() for field in header)
    twice = sorted({c for c in columns if c and columns.count(c) > 1})
    if twice:  # which of the two would be read is a guess: refuse it
        named = ", ".join(repr(c) for c in twice)
        raise DataError(f"{path}:1: the header names column {named} twice; rename or drop one")
    fmt = _Format("custom", delimiter, quoting, columns, None, "user file")
    yield from _delimited_rows(path, records, fmt, known_format=False)


def _jsonl_rows(path: Path, text: str) -> Rows:
    """JSON Lines: records end at ``\\n`` only (a trailing ``\\r`` is dropped); U+2028, U+2029 and
    U+0085 are text inside a record, not line ends (``str.splitlines`` would break the record there)."""
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        except ValueError as exc:  # an integer over Python's digit limit
            raise DataError(f"{path}:{number}: not usable JSON ({str(exc).split(':')[0]})") from None
        except RecursionError:
            raise DataError(f"{path}:{number}: not usable JSON (nested too deeply)") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{number}: expected a JSON object, found {type(obj).__name__}")
        missing = [c for c in REQUIRED_COLUMNS if c not in obj]
        if missing:
            raise DataError(f"{path}:{number}: missing {', '.join(missing)}")
        yield number, obj


_PARSED: dict[tuple[str, str, str], StsPairs] = {}  # parsed files by (path, content hash, reader)
MIN_PAIRS = 3  # a correlation needs two pairs, its bootstrap interval three


def check_scorable(path: Path, pairs: StsPairs) -> None:
    """Refuse, before any model loads, data no correlation can be computed on: it would only fail
    after encoding (too few pairs, or gold scores that are all equal)."""
    n = len(pairs)
    if n < MIN_PAIRS:
        needed = f"at least {MIN_PAIRS} are needed to score a correlation and its 95% interval"
        raise DataError(f"{path}: {n} sentence pair{'s' if n != 1 else ''}; {needed}")
    if min(pairs.gold) == max(pairs.gold):
        undefined = "a correlation with constant scores is undefined"
        raise DataError(f"{path}: all {n} scores are {pairs.gold[0]:g}; {undefined}")


def read_file(path: Path, reader_key: str) -> tuple[StsPairs, str]:
    """Parse a local file (cached by path, content hash and reader); returns pairs and digest.

    ``reader_key`` is a benchmark format's key (``stsb-csv``, ``score-first-tsv``), the generic
    layout's (``mteb-jsonl``: a link out of its data folder is refused) or ``custom``.
    """
    if reader_key == GENERIC_FORMAT:
        refused = outside_data_folder(path)
        if refused:
            raise DataError(f"{path}: {refused}")
    data = _read_regular(path)
    digest = _digest(data)
    key = (str(path), digest, reader_key)
    if key not in _PARSED:
        text = _decode(path, data)
        fmt = next((s.fmt for s in LOCAL_SOURCES.values() if s.fmt.key == reader_key), None)
        if reader_key == GENERIC_FORMAT:  # mteb's rows as exported: empty sentences kept, as mteb does
            pairs = _pairs(path, _jsonl_rows(path, text), keep_empty=True)
        elif fmt is not None:  # a benchmark file in its known format: no header, score in range
            records = _records(path, text, fmt.delimiter, fmt.quoting)
            pairs = _pairs(path, _delimited_rows(path, records, fmt, known_format=True), fmt)
        elif path.suffix.lower() in {".jsonl", ".ndjson"} or text.lstrip().startswith("{"):
            pairs = _pairs(path, _jsonl_rows(path, text))
        else:
            pairs = _pairs(
                path, _delimited_custom_rows(path, text), empty="no sentence pairs after the header"
            )
        if len(_PARSED) >= 64:  # a bound, not an LRU: runs read a handful of files
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
    rels = [generic_rel(task.name, task.subset, task.split)] if task.in_mteb else []
    rels += [rel] if (rel := local_path(task.name, task.subset, task.split)) else []
    no_local = (
        f"no local file (expected {' or '.join(rels)} under the data dir; "
        f"pass {KEYS['data_dir'].option} or set {KEYS['data_dir'].env})"
        if rels
        else "no local copy of this task is known"
    )
    if not task.hf_dataset:
        raise TaskUnavailable(f"{where}: {no_local}, and it is not on the Hub")
    if not allow_hub:
        raise TaskUnavailable(f"{where}: {no_local}, and Hub loading is disabled")
    offline = offline_reason()
    if offline:
        raise TaskUnavailable(f"{where}: {no_local}, and the Hub is offline ({offline})")
    return pairs_from_rows(*load_split(task, where, no_local))


def _load_local(task: StsTask) -> StsPairs:
    key = reader_key(task)
    parts: list[StsPairs] = []
    digests: list[str] = []
    for name in task.local_files:
        pairs, digest = read_file(Path(name), key)
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


def pairs_from_rows(location: str, data: Any) -> StsPairs:
    """Hub rows as mteb evaluates them: sentence1, sentence2, score (empty sentences kept, as mteb does)."""
    columns = list(getattr(data, "column_names", None) or [])
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise DataError(
            f"{location}: missing required columns {', '.join(missing)} (has {', '.join(columns)})"
        )
    values = zip(data["sentence1"], data["sentence2"], data["score"], strict=True)
    rows = ((n, dict(zip(REQUIRED_COLUMNS, row, strict=True))) for n, row in enumerate(values, start=1))
    return _pairs(location, rows, keep_empty=True)
