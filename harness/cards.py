"""Parse one model card (a Hugging Face Hub README.md) into a `ModelSpec`.

Each fact is read from the place that defines it, in order of authority:

    registry override > architecture block > YAML front matter > "Model Description" list
    > usage snippets > free prose > inference from the card's example sentences

and every value keeps the name of the place it came from (`Sourced.source`). Lower-ranked
evidence that disagrees with the value used becomes a warning (`dimension-mismatch`, ...).
`crosscheck` then compares the card with the model's own files, which are authoritative for a run.

Nothing here raises for bad input: a card that cannot be parsed (no front matter, malformed YAML,
not text) gives a spec with `errors`; everything doubtful gives a `Finding` with a stable code.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import math
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ftfy
import langcodes
import yaml

from harness.records import Claim, Finding, ModelSpec, Sourced

MAX_CARD_BYTES = 5 * 1024 * 1024
MAX_FRONT_MATTER_CHARS = 1_000_000
MAX_DIMENSION = 131_072
MAX_SEQ_LENGTH = 1_048_576
MAX_LINE_CHARS = 20_000
MAX_WARNINGS_PER_CODE = 20
MAX_CLAIMS = 200
MAX_MODEL_INDEX_METRICS = 20_000
OVERRIDE_SOURCE = "override:registry.toml"

# Authority of each kind of evidence (higher wins).
RANK_OVERRIDE = 100
RANK_ARCHITECTURE = 80
RANK_YAML = 70
RANK_DESCRIPTION = 60
RANK_SNIPPET = 50
RANK_SNIPPET_LOW = 45
RANK_PROSE_SECTION = 30
RANK_PROSE = 20
RANK_INFERRED = 10

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*(__[a-z0-9._-]+)?$")
_HUB_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"
HUB_ID_RE = re.compile(rf"^{_HUB_PART}/{_HUB_PART}$")
_BARE_NAME_RE = re.compile(rf"^{_HUB_PART}$")
_REVISION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,99}$")
_SAFE_NAME_RE = re.compile(r"^[A-Za-z0-9][\w.\-/+ ]{0,199}$")
_LICENSE_RE = re.compile(r"^[A-Za-z0-9][\w.\-+]{0,99}$")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")

_PLACEHOLDER_IDS = {
    "model_id",
    "model-id",
    "modelid",
    "model_name",
    "model-name",
    "model_name_or_path",
    "model_path",
    "sentence_transformers_model_id",
    "your_model_id",
    "your-model-id",
    "your_model",
    "your-model",
    "path/to/model",
    "path/to/your/model",
    "username/model_name",
    "your-username/your-model",
    "your_username/your_model",
    "hub_model_id",
    "repo_id",
}

_STOCK_SENTENCES = {
    "this is an example sentence",
    "each sentence is converted",
    "the weather is lovely today",
    "it's so sunny outside",
    "he drove to the stadium",
    "this is a test sentence",
    "this framework generates embeddings for each input sentence",
    "sentences are passed as a list of string",
    "the quick brown fox jumps over the lazy dog",
}

_SPLITS = {"test": "test", "dev": "dev", "validation": "validation", "val": "validation", "train": "train"}

_POOL_FLAGS = (  # Sentence Transformers' concatenation order
    ("pooling_mode_cls_token", "cls"),
    ("pooling_mode_max_tokens", "max"),
    ("pooling_mode_mean_tokens", "mean"),
    ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"),
    ("pooling_mode_weightedmean_tokens", "weightedmean"),
    ("pooling_mode_lasttoken", "lasttoken"),
)
_POOL_NAMES = {
    "cls": "cls",
    "cls_token": "cls",
    "mean": "mean",
    "mean_tokens": "mean",
    "max": "max",
    "max_tokens": "max",
    "mean_sqrt_len": "mean_sqrt_len",
    "mean_sqrt_len_tokens": "mean_sqrt_len",
    "weightedmean": "weightedmean",
    "weightedmean_tokens": "weightedmean",
    "lasttoken": "lasttoken",
}

_MISMATCH_CODE = {
    "model_id": "model-id-mismatch",
    "languages": "language-mismatch",
    "dimension": "dimension-mismatch",
    "pooling": "pooling-mismatch",
    "max_seq_length": "max-seq-length-mismatch",
    "architecture": "architecture-mismatch",
    "base_model": "base-model-mismatch",
    "datasets": "datasets-mismatch",
    "loss": "loss-mismatch",
    "license": "license-mismatch",
    "normalize": "normalize-mismatch",
    "revision": "revision-mismatch",
    "local_path": "local-path-mismatch",
}

_LABEL = {
    "model_id": "model id",
    "languages": "languages",
    "dimension": "output dimension",
    "pooling": "pooling",
    "max_seq_length": "max_seq_length",
    "architecture": "architecture",
    "base_model": "base model",
    "datasets": "datasets",
    "loss": "loss",
    "license": "license",
    "normalize": "normalize",
    "revision": "revision",
    "local_path": "local path",
    "parameters": "parameter count",
}


# --------------------------------------------------------------------------------------------
# working state


@dataclass
class _Cand:
    value: Any
    source: str
    rank: int


class _Work:
    """Mutable scratch state while one card is parsed; frozen into a ModelSpec at the end."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.cands: dict[str, list[_Cand]] = {}
        self.warnings: list[Finding] = []
        self.errors: list[str] = []
        self.claims: list[Claim] = []
        self.name: str | None = None
        self._seen: set[tuple[str, str]] = set()
        self._per_code: dict[str, int] = {}

    def warn(self, code: str, message: str) -> None:
        if (code, message) in self._seen:
            return
        self._seen.add((code, message))
        count = self._per_code[code] = self._per_code.get(code, 0) + 1
        if count <= MAX_WARNINGS_PER_CODE:
            self.warnings.append(Finding(code=code, message=message))

    def findings(self) -> list[Finding]:
        extra = [
            Finding(code=code, message=f"{n - MAX_WARNINGS_PER_CODE} more {code} warnings not shown")
            for code, n in self._per_code.items()
            if n > MAX_WARNINGS_PER_CODE
        ]
        return [*self.warnings, *extra]

    def add(self, field: str, value: Any, source: str, rank: int) -> None:
        if value is None:
            return
        self.cands.setdefault(field, []).append(_Cand(value, source, rank))

    def has(self, field: str, min_rank: int = 0) -> bool:
        return any(c.rank >= min_rank for c in self.cands.get(field, []))

    def resolve(self, field: str) -> Sourced:
        cands = self.cands.get(field) or []
        if not cands:
            return Sourced()
        best = max(cands, key=lambda c: c.rank)  # the first of the highest rank
        reported: set[str] = set()
        for c in cands:
            if c is best or _same(field, c.value, best.value):
                continue
            shown = f"{_fmt(c.value)} ({c.source})"
            if shown in reported:
                continue
            reported.add(shown)
            label = _LABEL.get(field, field)
            if best.source == OVERRIDE_SOURCE:
                self.warn(
                    "override-differs",
                    f"registry.toml sets {label} {_fmt(best.value)} but the card says {shown}; "
                    "using the override",
                )
            else:
                self.warn(
                    _MISMATCH_CODE.get(field, f"{field}-mismatch"),
                    f"the card gives {label} {shown} and {_fmt(best.value)} ({best.source}); "
                    f"using {_fmt(best.value)} from {best.source}",
                )
        return Sourced(value=best.value, source=best.source)


_FMT_BUDGET = 300  # characters of a shown value; YAML aliases can nest lists exponentially deep


def _fmt(value: Any) -> str:
    """A value for a message, at most ~_FMT_BUDGET characters however large or nested it is."""
    parts: list[str] = []
    used = 0

    def emit(text: str) -> None:
        nonlocal used
        parts.append(text)
        used += len(text)

    def walk(v: Any, depth: int) -> None:
        if isinstance(v, list | tuple | dict):
            opening, closing = "{}" if isinstance(v, dict) else "[]"
            if depth >= 8:
                emit(f"{opening}…{closing}")
                return
            emit(opening)
            for i, item in enumerate(v.items() if isinstance(v, dict) else v):
                if used > _FMT_BUDGET:
                    emit("…")
                    break
                if i:
                    emit(", ")
                if isinstance(v, dict):
                    walk(item[0], depth + 1)
                    emit(": ")
                    walk(item[1], depth + 1)
                else:
                    walk(item, depth + 1)
            emit(closing)
        elif isinstance(v, str):
            emit(repr(_clip(v, 80)))
        else:
            emit(_clip(str(v), 80))

    walk(value, 0)
    return _clip("".join(parts), _FMT_BUDGET + 20)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _same(field: str, a: Any, b: Any) -> bool:
    if field in ("languages", "datasets") and isinstance(a, list) and isinstance(b, list):
        return {str(x).lower() for x in a} == {str(x).lower() for x in b}
    if isinstance(a, str) and isinstance(b, str):
        x, y = a.strip().lower(), b.strip().lower()
        if x == y:
            return True
        if field == "base_model":  # 'paraphrase-x' in prose names 'sentence-transformers/paraphrase-x'
            return x.rsplit("/", 1)[-1] == y.rsplit("/", 1)[-1] and ("/" not in x or "/" not in y)
        return False
    return a == b


# --------------------------------------------------------------------------------------------
# public API


def parse_card(
    path: Path,
    *,
    key: str | None = None,
    overrides: dict | None = None,
    model_dir: Path | None = None,
) -> ModelSpec:
    """Parse the card file at `path`; `model_dir` (the model's own files) is cross-checked when given.

    A relative `path` in `overrides` resolves against the card's folder (the registry entry folder).
    """
    path = Path(path)
    source = str(path)
    problem = None
    data = b""
    try:
        if not path.exists():
            problem = "file not found"
        elif path.is_dir():
            problem = "is a folder, not a card file"
        elif not path.is_file():
            problem = "not a regular file"
        else:
            with path.open("rb") as fh:
                data = fh.read(MAX_CARD_BYTES + 1)
            if len(data) > MAX_CARD_BYTES:
                problem = f"card is larger than {MAX_CARD_BYTES // (1024 * 1024)} MB; not parsed"
    except OSError as exc:
        problem = f"cannot read the file: {exc.strerror or exc}"
    if problem:
        return ModelSpec(key=_safe_key(key, None, source)[0], source=source, errors=[problem])
    if isinstance(overrides, dict) and isinstance(overrides.get("path"), str):
        local = Path(overrides["path"]).expanduser()
        if not local.is_absolute():
            local = (path.parent / local).resolve()
        overrides = {**overrides, "path": str(local)}
    spec = parse_card_text(data, source=source, key=key, overrides=overrides)
    if model_dir is not None:
        spec = crosscheck(spec, Path(model_dir))
    return spec


def parse_card_text(
    text_or_bytes: str | bytes,
    *,
    source: str,
    key: str | None = None,
    overrides: dict | None = None,
) -> ModelSpec:
    """Parse a card's text (or raw bytes). Never raises for bad input."""
    work = _Work(source)
    try:
        return _parse(work, text_or_bytes, key, overrides)
    except Exception as exc:  # last guard: a card must never produce a traceback
        return ModelSpec(
            key=_safe_key(key, None, source)[0],
            source=source,
            errors=[f"internal error while parsing the card: {type(exc).__name__}: {_clip(str(exc), 200)}"],
        )


# --------------------------------------------------------------------------------------------
# decoding and repair


def _decode(data: bytes, work: _Work) -> str | None:
    boms = (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    )
    for bom, enc in boms:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(enc)
            except UnicodeDecodeError as exc:
                work.errors.append(f"not valid {enc} text after its byte-order mark (byte {exc.start})")
                return None
            if enc != "utf-8":
                work.warn("non-utf8-encoding", f"the card is {enc.upper()} (byte-order mark); decoded it")
            return text
    if b"\x00" in data:
        half = len(data) // 2
        if len(data) % 2 == 0 and half and data[1::2].count(0) > 0.4 * half and data[0::2].count(0) == 0:
            try:
                text = data.decode("utf-16-le")
                work.warn("non-utf8-encoding", "the card is UTF-16-LE without a byte-order mark; decoded it")
                return text
            except UnicodeDecodeError:
                pass
        work.errors.append("not a text file (contains NUL bytes)")
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = exc.start
    for enc in ("cp1252", "latin-1"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        work.warn(
            "non-utf8-encoding", f"the card is not valid UTF-8 (byte {where}); decoded it as {enc.upper()}"
        )
        return text
    return None  # pragma: no cover - latin-1 decodes any bytes


def _looks_binary(text: str) -> bool:
    sample = text[:100_000]
    controls = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\n\r\f\v") or ch == "\x7f")
    return "\x00" in sample or controls > max(8, len(sample) // 100)


_ENCODING_NAMES = {
    "macroman": "Mac Roman",
    "mac_roman": "Mac Roman",
    "sloppy-windows-1252": "cp1252",
    "windows-1252": "cp1252",
    "cp1252": "cp1252",
    "latin-1": "Latin-1",
    "sloppy-windows-1251": "cp1251",
    "windows-1251": "cp1251",
}
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]{2,}")


def _fallback_fix(line: str) -> tuple[str, list[str]]:
    """Undo UTF-8 read as Mac Roman / cp1252 in runs that ftfy left alone.

    A run of non-ASCII characters is replaced only when it re-encodes to bytes that are valid
    UTF-8 and shorter as text (multi-byte sequences collapse), which legitimate text never does.
    """
    used: list[str] = []

    def fix(match: re.Match[str]) -> str:
        run = match.group(0)
        for enc in ("mac_roman", "cp1252"):
            try:
                fixed = run.encode(enc).decode("utf-8")
            except UnicodeError:
                continue
            if len(fixed) < len(run) and not any(0x80 <= ord(ch) < 0xA0 for ch in fixed):
                used.append(enc)
                return fixed
        return run

    return _NON_ASCII_RUN.sub(fix, line), used


# Characters that UTF-8 bytes turn into when read as cp1252, Mac Roman or Latin-1: a line
# without any of them (plain ASCII, CJK, Cyrillic, ...) cannot hold that kind of mojibake.
_MOJIBAKE_ALPHABET = frozenset(
    bytes(range(0x80, 0x100)).decode("mac_roman")
    + bytes(range(0x80, 0x100)).decode("latin-1")
    + bytes(range(0x80, 0x100)).decode("cp1252", errors="ignore")
)


@functools.lru_cache(maxsize=4096)
def _fix_line(line: str) -> tuple[str, tuple[str, ...]]:
    fixed, explanation = ftfy.fix_encoding_and_explain(line)
    encodings = [
        step[1] for step in explanation or [] if step[0] in ("encode", "decode") and step[1] != "utf-8"
    ]
    fixed, used = _fallback_fix(fixed)
    return fixed, tuple(dict.fromkeys([*encodings, *used]))


def repair_mojibake(text: str) -> tuple[str, list[str], str | None]:
    """Repair mis-encoded lines; return (text, encodings undone, an example of a repaired line)."""
    out: list[str] = []
    encodings: list[str] = []
    example = None
    for line in text.split("\n"):
        if line.isascii() or sum(ch in _MOJIBAKE_ALPHABET for ch in line) < 2:
            out.append(line)
            continue
        fixed, used = _fix_line(line)
        if fixed != line:
            encodings.extend(e for e in used if e not in encodings)
            if example is None:
                example = f"{_clip(line.strip(), 40)!r} → {_clip(fixed.strip(), 40)!r}"
        out.append(fixed)
    return "\n".join(out), encodings, example


# --------------------------------------------------------------------------------------------
# YAML


_BOOL_TAG = "tag:yaml.org,2002:bool"
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CardLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loader that records duplicate keys and reads yes/no/on/off as strings (YAML 1.2 style)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, int]] = []

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                try:
                    k = self.construct_object(key_node, deep=True)
                    hash(k)
                except Exception:
                    continue
                if k in seen:
                    self.duplicates.append((str(k), key_node.start_mark.line + 1))
                seen.add(k)
        return super().construct_mapping(node, deep=deep)


_CardLoader.yaml_implicit_resolvers = {
    k: [r for r in v if r[0] != _BOOL_TAG] for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_CardLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _split_front_matter(text: str) -> tuple[str | None, str, str | None]:
    lines = text.split("\n")
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines) or lines[i].strip() != "---":
        return None, text, "no YAML front matter (the card does not start with a '---' line)"
    for j in range(i + 1, len(lines)):
        if lines[j].strip() == "---":
            return "\n".join(lines[i + 1 : j]), "\n".join(lines[j + 1 :]), None
    return None, "\n".join(lines[i + 1 :]), "YAML front matter is never closed (no second '---' line)"


def _load_yaml(fm: str, work: _Work) -> dict:
    if len(fm) > MAX_FRONT_MATTER_CHARS:
        work.errors.append(f"YAML front matter is larger than {MAX_FRONT_MATTER_CHARS} characters")
        return {}
    loader = _CardLoader(fm)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at front-matter line {mark.line + 1}" if mark else ""
        work.errors.append(f"malformed YAML front matter: {exc.problem or exc.context}{where}")
        return {}
    except Exception as exc:
        work.errors.append(f"malformed YAML front matter: {_clip(str(exc) or type(exc).__name__, 150)}")
        return {}
    finally:
        loader.dispose()
    for k, line in loader.duplicates[:20]:
        work.warn(
            "yaml-duplicate-key",
            f"YAML key {_clip(k, 40)!r} appears more than once (again at front-matter line {line}); "
            "the last one wins",
        )
    if data is None:
        work.warn("empty-front-matter", "the YAML front matter is empty")
        return {}
    if not isinstance(data, dict):
        work.errors.append(f"YAML front matter is a {type(data).__name__}, not a mapping")
        return {}
    return data


def _str_list(value: Any) -> tuple[list[str], list[Any]]:
    """Strings from a str-or-list YAML value, plus the items that were not strings."""
    items = value if isinstance(value, list) else [value]
    good, bad = [], []
    for item in items[:1000]:
        (good if isinstance(item, str) and item.strip() else bad).append(
            item.strip() if isinstance(item, str) else item
        )
    return good, bad


# --------------------------------------------------------------------------------------------
# small parsers


def normalize_language(value: Any) -> str | None:
    """An ISO 639-1 code (or 639-3 when a language has none), 'multilingual', or None."""
    if isinstance(value, bool) or not isinstance(value, str):
        return None
    s = value.strip()
    if not s or len(s) > 40:
        return None
    low = s.lower()
    if low in ("multilingual", "mul", "multi", "multi-lingual"):
        return "multilingual"
    try:
        tag = langcodes.standardize_tag(s.replace("_", "-"))
        lang = langcodes.Language.get(tag)
        if lang.language and lang.is_valid() and lang.language not in ("und", "zxx", "mis"):
            return lang.language
    except Exception:
        pass
    if re.fullmatch(r"[A-Za-z]+", s):  # an English language name, e.g. "German"
        try:
            from lingua import Language

            member = getattr(Language, s.upper(), None)
            if member is not None and member.iso_code_639_1 is not None:
                return member.iso_code_639_1.name.lower()
        except Exception:
            return None
    return None


def classify_model_id(value: str) -> tuple[str, str]:
    """('ok' | 'placeholder' | 'local' | 'unsafe', explanation)."""
    s = value.strip()
    if not s:
        return "placeholder", "an empty string"
    low = s.lower()
    if (
        low in _PLACEHOLDER_IDS
        or re.fullmatch(r"\{\{?\s*[\w .-]+\s*\}?\}", s)
        or re.fullmatch(r"<[\w .-]+>", s)
        or re.fullmatch(r"\$\{?\w+\}?", s)
    ):
        return "placeholder", "a template placeholder"
    if HUB_ID_RE.match(s) and ".." not in s and "--" not in s and not low.endswith(".git"):
        return "ok", ""
    if _BARE_NAME_RE.match(s) and ".." not in s:
        return "local", "a bare name without an owner/ prefix: evidently a local save folder, not a Hub id"
    return "unsafe", "not a valid Hub id (path-like or odd characters)"


def _as_int(
    value: Any, what: str, source: str, work: _Work, lo: int, hi: int, code: str, *, text: bool = False
) -> int | None:
    """A whole number in lo..hi, or None with a warning. `text`: the value is prose, digits are normal."""
    if isinstance(value, bool):
        ok = None
    elif isinstance(value, int):
        ok = value
    elif isinstance(value, float) and value.is_integer():
        ok = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*\d{1,9}\s*", value):
        ok = int(value)
        if not text:
            work.warn(code, f"{what} is given as text {value!r} ({source}); read it as {ok}")
    else:
        ok = None
    if ok is None:
        work.warn(code, f"{what} {_fmt(value)} ({source}) is not a whole number; ignored")
        return None
    if not lo <= ok <= hi:
        work.warn(code, f"{what} {ok} ({source}) is outside {lo}..{hi}; ignored")
        return None
    return ok


def _pooling_from_config(conf: dict) -> tuple[str | None, int, Any]:
    """(pooling name, number of concatenated modes, per-mode dimension) from a Pooling config."""
    dim = conf.get("word_embedding_dimension", conf.get("embedding_dimension"))
    modes: list[str] = []
    mode = conf.get("pooling_mode")
    if isinstance(mode, str):
        modes = [mode]
    elif isinstance(mode, list):
        modes = [m for m in mode if isinstance(m, str)]
    if modes:
        names = [_POOL_NAMES.get(m.strip().lower().removeprefix("pooling_mode_"), "") for m in modes]
        if all(names):
            return "+".join(names), len(names), dim
        return None, 0, dim
    names = [name for flag, name in _POOL_FLAGS if conf.get(flag) is True]
    return ("+".join(names) if names else None), len(names), dim


def _literal_dict(args: str, work: _Work, kind: str) -> dict:
    args = args.strip()
    if not args:
        return {}
    try:
        value = ast.literal_eval(args)
        if isinstance(value, dict):
            return value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    work.warn(
        "architecture-unparsed",
        f"could not read the {kind}(...) settings in the architecture block as a literal; "
        "used a best-effort reading",
    )
    out: dict[str, Any] = {}
    for m in re.finditer(r"'(\w{1,60})':\s*('[^']{0,200}'|[\w.+-]{1,60})", args[:MAX_LINE_CHARS]):
        raw = m.group(2)
        try:
            out[m.group(1)] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            out[m.group(1)] = raw
    return out


# --------------------------------------------------------------------------------------------
# markdown structure


_FENCE_RE = re.compile(r"^\s{0,8}(`{3,}|~{3,})")


def _strip_comments(text: str) -> str:
    out, i = [], 0
    while True:
        s = text.find("<!--", i)
        if s < 0:
            out.append(text[i:])
            break
        e = text.find("-->", s + 4)
        if e < 0:
            out.append(text[i:])
            break
        out.append(text[i:s])
        out.append("\n" * text.count("\n", s, e))
        i = e + 3
    return "".join(out)


def _split_code(body: str) -> tuple[list[str], list[str]]:
    """(prose lines with code blocks blanked, fenced code blocks)."""
    prose: list[str] = []
    blocks: list[str] = []
    fence: str | None = None
    buf: list[str] = []
    for line in body.split("\n"):
        m = _FENCE_RE.match(line)
        if fence is None:
            if m:
                fence = m.group(1)
                buf = []
                prose.append("")
            else:
                prose.append(line)
        else:
            stripped = line.strip()
            if m and stripped.startswith(fence) and not stripped.strip(fence[0]):
                blocks.append("\n".join(buf))
                fence = None
            else:
                buf.append(line)
            prose.append("")
    if fence is not None:
        blocks.append("\n".join(buf))
    return prose, blocks


def _plain(text: str) -> str:
    """Markdown emphasis, code ticks and table bars removed."""
    return re.sub(r"[*`_|]+", " ", text.replace("<code>", " ").replace("</code>", " ")).strip()


# --------------------------------------------------------------------------------------------
# the parse


def _parse(work: _Work, text_or_bytes: str | bytes, key: str | None, overrides: dict | None) -> ModelSpec:
    if isinstance(text_or_bytes, bytes | bytearray):
        data = bytes(text_or_bytes)
        if len(data) > MAX_CARD_BYTES:
            work.errors.append(f"card is larger than {MAX_CARD_BYTES // (1024 * 1024)} MB; not parsed")
            return _finish(work, key, overrides, meta={})
        text = _decode(data, work) if data.strip() else ""
    elif isinstance(text_or_bytes, str):
        text = text_or_bytes
        if len(text) > MAX_CARD_BYTES:
            work.errors.append(f"card is larger than {MAX_CARD_BYTES // (1024 * 1024)} MB; not parsed")
            return _finish(work, key, overrides, meta={})
    else:
        work.errors.append(f"card content is a {type(text_or_bytes).__name__}, not text")
        return _finish(work, key, overrides, meta={})
    if text is None:
        return _finish(work, key, overrides, meta={})
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        work.errors.append("empty file")
        return _finish(work, key, overrides, meta={})
    if _looks_binary(text):
        work.errors.append("not a text file (binary content)")
        return _finish(work, key, overrides, meta={})

    text, encodings, example = repair_mojibake(text)
    if example is not None:
        names = list(dict.fromkeys(_ENCODING_NAMES.get(e, e) for e in encodings))
        how = " / ".join(names) if names else "a legacy encoding"
        work.warn("mojibake-repaired", f"repaired UTF-8 text that had been read as {how}, e.g. {example}")

    fm, body, problem = _split_front_matter(text)
    meta: dict = {}
    if problem:
        work.errors.append(problem)
    elif fm is not None:
        meta = _load_yaml(fm, work)

    body = _strip_comments(body)
    prose, blocks = _split_code(body)
    _read_title(work, prose)
    _read_yaml_fields(work, meta)
    arch_found = _read_architecture(work, blocks)
    _read_description(work, prose)
    _read_snippets(work, body, blocks, arch_found)
    _read_prose(work, prose)
    _read_languages(work, meta, blocks)
    _read_claims(work, meta, prose, blocks)
    return _finish(work, key, overrides, meta)


def _read_title(work: _Work, prose: list[str]) -> None:
    for line in prose:
        m = re.match(r"^#\s+(.+?)\s*#*\s*$", line)
        if not m:
            continue
        title = m.group(1)
        if re.search(r"<[A-Za-z/!][^>]*>", title):
            work.warn(
                "html-in-name", f"the card title contains HTML markup: {_clip(title, 80)!r}; stripped it"
            )
            title = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", "", title)
            title = re.sub(r"<[^>]*>", "", title)
        title = re.sub(r"[\x00-\x1f\x7f]", "", title).strip()
        if re.search(r"\{\{?\s*[A-Z_][A-Z0-9_ ]*\s*\}?\}", title):
            work.warn(
                "unfilled-template",
                f"the card title {_clip(title, 60)!r} is an unfilled template placeholder",
            )
            return
        work.name = _clip(title, 200) or None
        return


def _read_yaml_fields(work: _Work, meta: dict) -> None:
    if "license" in meta:
        lic = meta["license"]
        if isinstance(lic, list) and len(lic) == 1:
            lic = lic[0]
        if isinstance(lic, str) and _LICENSE_RE.match(lic.strip()):
            work.add("license", lic.strip(), "yaml:license", RANK_YAML)
        else:
            work.warn("unsafe-value", f"YAML license {_fmt(lic)} is not a license identifier; ignored")

    if "base_model" in meta:
        names, bad = _str_list(meta["base_model"])
        good = [n for n in names if classify_model_id(n)[0] in ("ok", "local")]
        for n in [*bad, *(n for n in names if n not in good)]:
            work.warn("unsafe-value", f"YAML base_model {_fmt(n)} is not a model id; ignored")
        if len(good) > 1:
            work.warn("multiple-base-models", f"YAML base_model lists {len(good)} models; using the first")
        if good:
            work.add("base_model", good[0], "yaml:base_model", RANK_YAML)

    datasets: list[str] = []
    for yaml_key in ("datasets", "dataset"):
        if yaml_key not in meta:
            continue
        names, bad = _str_list(meta[yaml_key])
        for n in [*bad, *(n for n in names if not _SAFE_NAME_RE.match(n))]:
            work.warn("unsafe-value", f"YAML {yaml_key} entry {_fmt(n)} is not a dataset name; ignored")
        names = [n for n in names if _SAFE_NAME_RE.match(n)]
        if names and yaml_key == "dataset":
            work.warn(
                "nonstandard-yaml-key", "the front matter uses 'dataset:'; the Hub's key is 'datasets:'"
            )
        for n in names:
            if n not in datasets:
                datasets.append(n)
        if names:
            work.add("datasets", list(names), f"yaml:{yaml_key}", RANK_YAML)
    tags, _ = _str_list(meta.get("tags", []))
    losses = []
    for tag in tags:
        if tag.lower().startswith("loss:"):
            name = tag.split(":", 1)[1].strip()
            if _IDENT_RE.match(name) and name not in losses:
                losses.append(name)
    if losses:
        work.add("loss", ", ".join(losses), "yaml:tags", RANK_YAML)


def _read_architecture(work: _Work, blocks: list[str]) -> bool:
    block = next((b for b in blocks if b.lstrip().startswith("SentenceTransformer(")), None)
    if block is None:
        return False
    line_re = re.compile(
        r"^\s*\((\w+)\):\s*([A-Za-z_]\w*)\((.*)\)\s*(?:with Transformer model:\s*([A-Za-z_]\w*))?\s*$"
    )
    dim = dim_src = None
    normalize = False
    for line in block.split("\n")[1:]:
        if len(line) > MAX_LINE_CHARS:
            work.warn("architecture-unparsed", "skipped an over-long line in the architecture block")
            continue
        m = line_re.match(line)
        if not m:
            continue
        _, kind, args, tmodel = m.groups()
        conf = _literal_dict(args, work, kind)
        src = f"architecture:{kind}"
        if kind == "Transformer":
            if "max_seq_length" in conf and conf["max_seq_length"] is not None:
                n = _as_int(
                    conf["max_seq_length"],
                    "max_seq_length",
                    src,
                    work,
                    1,
                    MAX_SEQ_LENGTH,
                    "invalid-max-seq-length",
                )
                work.add("max_seq_length", n, src, RANK_ARCHITECTURE)
            arch = tmodel or conf.get("architecture")
            if isinstance(arch, str) and _IDENT_RE.match(arch):
                work.add("architecture", arch, src, RANK_ARCHITECTURE)
            elif arch is not None:
                work.warn("unsafe-value", f"architecture {_fmt(arch)} ({src}) is not a class name; ignored")
        elif kind == "Pooling":
            name, n_modes, per_mode = _pooling_from_config(conf)
            if name:
                work.add("pooling", name, src, RANK_ARCHITECTURE)
            else:
                work.warn("invalid-pooling", f"the Pooling module names no pooling mode I know ({src})")
            if per_mode is not None:
                d = _as_int(per_mode, "pooling dimension", src, work, 1, MAX_DIMENSION, "invalid-dimension")
                if d is not None:
                    dim, dim_src = d * max(1, n_modes), src
        elif kind == "Dense":
            d = _as_int(
                conf.get("out_features"),
                "Dense out_features",
                src,
                work,
                1,
                MAX_DIMENSION,
                "invalid-dimension",
            )
            if d is not None:
                dim, dim_src = d, src
        elif kind == "StaticEmbedding" and "embedding_dim" in conf:
            d = _as_int(
                conf["embedding_dim"], "embedding_dim", src, work, 1, MAX_DIMENSION, "invalid-dimension"
            )
            if d is not None:
                dim, dim_src = d, src
        elif kind == "Normalize":
            normalize = True
    if dim is not None:
        work.add("dimension", dim, dim_src, RANK_ARCHITECTURE)
    work.add(
        "normalize", normalize, "architecture:Normalize" if normalize else "architecture", RANK_ARCHITECTURE
    )
    return True


def _link_text(value: str) -> str:
    m = re.match(r"^\[([^\]]*)\]\(([^)]*)\)", value.strip())
    return (m.group(1) if m else value).strip()


def _read_description(work: _Work, prose: list[str]) -> None:
    item_re = re.compile(r"^\s*[-*]\s*\*\*([^*:]{1,40}):?\*\*:?\s*(.*?)\s*$")
    for line in prose:
        m = item_re.match(line)
        if not m:
            continue
        field, value = m.group(1).strip().lower(), m.group(2)
        src = f"description:{m.group(1).strip()}"
        if field == "maximum sequence length":
            n = re.match(r"^\s*([^\s]+)", value)
            raw = n.group(1) if n else value
            got = _as_int(
                raw,
                "Maximum Sequence Length",
                src,
                work,
                1,
                MAX_SEQ_LENGTH,
                "invalid-max-seq-length",
                text=True,
            )
            work.add("max_seq_length", got, src, RANK_DESCRIPTION)
        elif field == "output dimensionality":
            n = re.match(r"^\s*([^\s]+)", value)
            raw = n.group(1) if n else value
            got = _as_int(
                raw, "Output Dimensionality", src, work, 1, MAX_DIMENSION, "invalid-dimension", text=True
            )
            work.add("dimension", got, src, RANK_DESCRIPTION)
        elif field == "base model":
            name = _link_text(value)
            if classify_model_id(name)[0] in ("ok", "local"):
                work.add("base_model", name, src, RANK_DESCRIPTION)
        elif field in ("language", "languages"):
            codes = [normalize_language(_link_text(p)) for p in value.split(",")]
            good = [c for c in codes if c]
            if good and len(good) == len(codes):
                work.add("languages", list(dict.fromkeys(good)), src, RANK_DESCRIPTION)
        elif field == "license":
            lic = _link_text(value)
            if _LICENSE_RE.match(lic):
                work.add("license", lic, src, RANK_DESCRIPTION)
        elif field in ("training dataset", "training datasets"):
            names = []
            for part in re.split(r",\s*(?![^\[]*\])", value):
                link = re.match(r"^\s*\[[^\]]*\]\(https?://huggingface\.co/datasets/([^)\s]+)\)", part)
                name = link.group(1) if link else _link_text(part)
                if _SAFE_NAME_RE.match(name):
                    names.append(name)
            if names:
                work.add("datasets", names, src, RANK_DESCRIPTION)


_ST_CALL_RE = re.compile(r"""SentenceTransformer\(\s*(?:model_name_or_path\s*=\s*)?(['"])(.{0,300}?)\1""")
_FP_CALL_RE = re.compile(
    r"""\.from_pretrained\(\s*(?:pretrained_model_name_or_path\s*=\s*)?(['"])(.{0,300}?)\1"""
)


def _read_snippets(work: _Work, body: str, blocks: list[str], arch_found: bool) -> None:
    found: list[tuple[str, str, int]] = []
    for regex, where, rank in (
        (_ST_CALL_RE, "usage:SentenceTransformer()", RANK_SNIPPET),
        (_FP_CALL_RE, "usage:from_pretrained()", RANK_SNIPPET_LOW),
    ):
        for m in regex.finditer(body):
            found.append((m.group(2), where, rank))
    valid = [(v.strip(), w, r) for v, w, r in found if classify_model_id(v)[0] == "ok"]
    seen: set[tuple[str, str]] = set()
    for value, where, rank in valid:
        if (value, where) not in seen:
            seen.add((value, where))
            work.add("model_id", value, where, rank)
    for value, where, _ in found:
        kind, why = classify_model_id(value)
        shown = repr(_clip(value, 60))
        if kind == "unsafe":
            work.warn(
                "unsafe-model-id",
                f"the usage snippet loads {shown} ({where}): {why}; not used as the model id",
            )
        elif kind in ("placeholder", "local") and not valid:
            work.warn(
                "placeholder-model-id", f"the usage snippet loads {shown} ({where}): {why}; model id unknown"
            )

    code = "\n".join(blocks)
    m = re.search(r"def\s+(mean|cls|max)_pooling\s*\(", code)
    if m:
        work.add("pooling", _POOL_NAMES[m.group(1)], "usage:transformers-snippet", RANK_PROSE_SECTION)
    if not arch_found and re.search(r"\b(?:F|functional)\.normalize\(", code):
        work.add("normalize", True, "usage:transformers-snippet", RANK_PROSE_SECTION)


_BASE_RES = (
    re.compile(r"(?i)\bfine-?tuned from \[([^\]\n]{1,200})\]"),
    re.compile(r"(?i)\bfine[- ]?tun(?:e|ed|ing)\s+(?:of|from)\s+\[?`?([A-Za-z0-9][\w./-]{1,150})"),
    re.compile(r"sentence-transformers\]\([^)\n]*\)\s+model\s+\(([A-Za-z0-9][\w./-]{1,150})\)"),
)


def _read_prose(work: _Work, prose: list[str]) -> None:
    text = "\n".join(line for line in prose if len(line) <= MAX_LINE_CHARS)
    for m in re.finditer(r"\b(\d{1,7})[- ]dimensional\b", text):
        d = int(m.group(1))
        if 1 <= d <= MAX_DIMENSION:
            work.add("dimension", d, "prose", RANK_PROSE)
        else:
            work.warn("invalid-dimension", f"the prose gives a {d}-dimensional output; ignored")
    for m in re.finditer(
        r"(?i)longer than (\d{1,9}) (?:word ?pieces|tokens)\s+(?:is|are|will be|gets?) truncated", text
    ):
        n = int(m.group(1))
        if 1 <= n <= MAX_SEQ_LENGTH:
            work.add("max_seq_length", n, "prose", RANK_PROSE)
    for regex in _BASE_RES:
        for m in regex.finditer(text):
            name = _link_text(m.group(1)).rstrip(".,;:")
            if classify_model_id(name)[0] in ("ok", "local"):
                work.add("base_model", name, "prose", RANK_PROSE)
    if work.name:
        m = re.match(r"^SentenceTransformer based on ([A-Za-z0-9][\w./-]{1,150})$", work.name)
        if m and classify_model_id(m.group(1))[0] in ("ok", "local"):
            work.add("base_model", m.group(1), "prose:title", RANK_PROSE)
    losses = []
    for m in re.finditer(
        r"sentence_transformers\.losses\.(?:\w+\.)*?(\w*Loss)\b|Loss:\s*\[?<code>(\w+)</code>", text
    ):
        name = m.group(1) or m.group(2)
        if name and name not in losses:
            losses.append(name)
    if losses:
        work.add("loss", ", ".join(losses), "prose:Loss", RANK_PROSE_SECTION)


def _example_sentences(meta: dict, blocks: list[str]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    widget = meta.get("widget")
    if isinstance(widget, list):
        for item in widget[:200]:
            if isinstance(item, str):
                found.append((item, "widget"))
            elif isinstance(item, dict):
                for k in ("source_sentence", "text", "sentence", "query"):
                    if isinstance(item.get(k), str):
                        found.append((item[k], "widget"))
                if isinstance(item.get("sentences"), list):
                    found.extend((s, "widget") for s in item["sentences"][:50] if isinstance(s, str))
    for block in blocks:
        for m in re.finditer(r"\bsentences\s*=\s*\[(.{0,5000}?)\]", block, re.DOTALL):
            try:
                value = ast.literal_eval("[" + m.group(1) + "]")
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
            found.extend((s, "usage example") for s in value if isinstance(s, str))
    out, seen = [], set()
    for s, where in found:
        norm = s.strip().lower().rstrip(".!?")
        if norm and norm not in _STOCK_SENTENCES and norm not in seen:
            seen.add(norm)
            out.append((s.strip(), where))
    return out


@functools.lru_cache(maxsize=1)
def _detector() -> Any:
    from lingua import LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()


def infer_language(sentences: list[str]) -> tuple[str | None, float, float]:
    """(ISO 639-1 code or None, confidence on all the text, share of sentences that agree).

    A language is returned only when lingua is confident (>= 0.9) on enough text AND it is also
    the language of more than half of the sentences taken one by one: low-accuracy mode can be
    confidently wrong on mixed text (Portuguese + Spanish reads as Welsh), never both ways at once.
    """
    text = "\n".join(sentences)[:5000]
    if sum(ch.isalpha() for ch in text) < 20 or len(text.split()) < 4:
        return None, 0.0, 0.0
    try:
        detector = _detector()
        values = detector.compute_language_confidence_values(text)
        if not values or values[0].language.iso_code_639_1 is None:
            return None, 0.0, 0.0
        top = values[0]
        singles = [detector.detect_language_of(s) for s in sentences[:200]]
    except Exception:
        return None, 0.0, 0.0
    agree = sum(1 for lang in singles if lang == top.language) / max(1, len(singles))
    if top.value < 0.9 or agree <= 0.5:
        return None, float(top.value), agree
    return top.language.iso_code_639_1.name.lower(), float(top.value), agree


def _read_languages(work: _Work, meta: dict, blocks: list[str]) -> None:
    if "language" in meta:
        raw = meta["language"]
        items = raw if isinstance(raw, list) else [raw]
        codes: list[str] = []
        for item in items[:500]:
            code = normalize_language(item)
            if code is None:
                work.warn(
                    "invalid-language",
                    f"YAML language {_fmt(item)} is not a language code; ignored",
                )
            elif code not in codes:
                codes.append(code)
        if codes:
            work.add("languages", codes, "yaml:language", RANK_YAML)
    if work.has("languages"):
        return
    sentences = _example_sentences(meta, blocks)
    code, conf, agree = infer_language([s for s, _ in sentences])
    if code:
        wheres = sorted({w for _, w in sentences})
        work.add(
            "languages", [code], "inferred:" + "+".join(w.replace(" ", "-") for w in wheres), RANK_INFERRED
        )
        work.warn(
            "inferred-language",
            f"the card declares no language; inferred {code!r} (confidence {conf:.2f}; {agree:.0%} of "
            f"the sentences alone agree) from its {len(sentences)} example sentences ({', '.join(wheres)})",
        )


# --------------------------------------------------------------------------------------------
# claims


_NUM_RE = re.compile(r"(?<![\w.\-])(-?\d+\.\d+|-?\d+(?:\.\d+)?\s*%)(?![\w.])")
_METRIC_RE = re.compile(r"(?i)[\w-]*?(spearman|pearson)[\w’'-]*")


def _similarity(text: str) -> str | None:
    """The similarity function a metric name states: spearman_cosine, cos_sim_spearman, dot_pearson, ..."""
    tokens = [t for t in re.split(r"[^a-z]+", text.lower()) if t]
    if "cosine" in tokens or "cos" in tokens:
        return "cosine"
    for name in ("dot", "euclidean", "manhattan"):
        if name in tokens:
            return name
    return None


def _claim_value(raw: Any) -> tuple[float | None, int | None, str | None]:
    """(value on 0-1, decimals of the 0-1 value as written, problem)."""
    if isinstance(raw, bool):
        return None, None, "not a number"
    percent = False
    decimals = None
    if isinstance(raw, str):
        s = raw.strip()
        percent = s.endswith("%")
        s = s.rstrip("%").strip()
        try:
            v = float(s)
        except ValueError:
            return None, None, "not a number"
        decimals = len(s.split(".", 1)[1]) if "." in s else 0
    elif isinstance(raw, int | float):
        v = float(raw)
    else:
        return None, None, "not a number"
    if not math.isfinite(v):
        return None, None, "not a finite number"
    if percent or abs(v) > 1:
        v /= 100
        decimals = decimals + 2 if decimals is not None else None
    if abs(v) > 1:
        return None, None, "outside -1..1 even read as a percentage"
    return v, decimals, None


def _dataset_info(name: str) -> tuple[str | None, str | None, str | None]:
    """('sts', 'test', 'de') from an evaluator name such as 'sts-test-de' or 'STS-B Test'.

    Follows Sentence Transformers' evaluator naming (dataset, split, then language); a language
    is read only after the split, so names like 'stsb_multi_mt' never yield Maltese.
    """
    s = name.strip()
    splits = "|".join(_SPLITS)
    m = re.match(
        rf"^(?P<ds>.*?)(?<![A-Za-z0-9])(?P<split>{splits})(?![A-Za-z0-9])(?:[-_\s]+(?P<lang>[A-Za-z]{{2,3}}))?$",
        s,
        re.IGNORECASE,
    )
    if not m:
        return (s or None), None, None
    code = normalize_language(m.group("lang").lower()) if m.group("lang") else None
    ds = m.group("ds").strip(" -_:") or None
    return ds, _SPLITS[m.group("split").lower()], (None if code == "multilingual" else code)


def _model_index_claims(work: _Work, meta: dict) -> list[Claim]:
    mi = meta.get("model-index")
    if mi is None:
        return []
    if not isinstance(mi, list):
        work.warn("invalid-model-index", "model-index in the front matter is not a list; ignored")
        return []
    claims: list[Claim] = []
    seen = 0  # metrics looked at: YAML aliases can repeat one list of results thousands of times
    for entry in mi[:50]:
        results = entry.get("results") if isinstance(entry, dict) else None
        if not isinstance(results, list):
            work.warn("invalid-model-index", "a model-index entry has no list of results; ignored")
            continue
        for res in results[:1000]:
            if not isinstance(res, dict):
                continue
            ds = res.get("dataset") if isinstance(res.get("dataset"), dict) else {}
            label = next((str(ds[k]) for k in ("type", "name") if isinstance(ds.get(k), str)), "")
            dataset, split, lang = _dataset_info(label) if label else (None, None, None)
            if isinstance(ds.get("split"), str) and ds["split"].strip():
                split = _SPLITS.get(ds["split"].strip().lower(), _clip(ds["split"].strip(), 40))
            config = ds.get("config")
            if isinstance(config, str) and lang is None:
                parts = [normalize_language(p) for p in re.split(r"[-_]", config)]
                if parts and all(p and p != "multilingual" for p in parts):
                    lang = "-".join(p for p in parts if p)
            metrics = res.get("metrics")
            if not isinstance(metrics, list):
                continue
            for metric in metrics[:200]:
                seen += 1
                if seen > MAX_MODEL_INDEX_METRICS or len(claims) > 2 * MAX_CLAIMS:
                    work.warn("too-many-claims", "the model-index lists too many scores; read no further")
                    return claims
                if not isinstance(metric, dict):
                    continue
                raw_type = metric.get("type") or metric.get("name") or ""
                mtype = (raw_type if isinstance(raw_type, str) else _fmt(raw_type))[:80]
                low = mtype.lower()
                kind = "spearman" if "spearman" in low else "pearson" if "pearson" in low else None
                if kind is None:
                    continue
                value, _, problem = _claim_value(metric.get("value"))
                if problem:
                    work.warn(
                        "invalid-claim",
                        f"model-index {mtype} = {_fmt(metric.get('value'))} on {label or 'a dataset'}: "
                        f"{problem}; not a claim",
                    )
                    continue
                if split is None:
                    work.warn("claim-without-split", f"model-index claim {mtype} on {label!r} names no split")
                claims.append(
                    Claim(
                        metric=kind,
                        value=value,
                        dataset=_clip(dataset, 100) if dataset else None,
                        split=split,
                        language=lang,
                        similarity=_similarity(mtype),
                        source="model-index",
                        quote=_clip(f"model-index: {label}: {mtype} = {metric.get('value')}", 300),
                    )
                )
    return claims


_LOAD_DATASET_RE = re.compile(
    r"""load_dataset\(\s*(['"])([\w./-]{1,100})\1(?:\s*,\s*(['"])([\w.-]{1,40})\3)?"""
    r"""(?:[^)]{0,200}?split\s*=\s*(['"])([\w.-]{1,40})\5)?"""
)


def _text_claims(
    work: _Work, meta: dict, prose: list[str], blocks: list[str]
) -> list[tuple[Claim, int | None]]:
    """Claims stated in the prose, each with the number of decimals it was written with."""
    claims: list[tuple[Claim, int | None]] = []
    for i, line in enumerate(prose):
        if len(claims) > 2 * MAX_CLAIMS:
            work.warn("too-many-claims", f"the card states over {2 * MAX_CLAIMS} scores; read no further")
            break
        if len(line) > MAX_LINE_CHARS or not re.search(r"(?i)spearman|pearson", line):
            continue
        plain = _plain(line)
        metrics = list(_METRIC_RE.finditer(plain))
        numbers = list(_NUM_RE.finditer(plain))
        if not numbers:
            continue
        pairs: list[tuple[re.Match, re.Match, int]] = []  # (metric, number, label end)
        used_m: set[int] = set()
        used_n: set[int] = set()
        for mi, m in enumerate(metrics):  # "0.8626 (Spearman)"
            before = plain[: m.start()]
            hit = re.search(r"(-?\d+(?:\.\d+)?\s*%?)\s*\(\s*$", before)
            if hit:
                for ni, n in enumerate(numbers):
                    if n.start() == hit.start(1) and ni not in used_n:
                        pairs.append((m, n, n.start()))
                        used_m.add(mi)
                        used_n.add(ni)
        for mi, m in enumerate(metrics):  # "Spearman: 0.76", "| spearman_cosine | 0.7091 |"
            if mi in used_m:
                continue
            end = metrics[mi + 1].start() if mi + 1 < len(metrics) else len(plain)
            after = [ni for ni, n in enumerate(numbers) if ni not in used_n and m.end() <= n.start() < end]
            if len(after) == 1:
                pairs.append((m, numbers[after[0]], m.start()))
                used_m.add(mi)
                used_n.add(after[0])
            elif len(after) > 1:
                work.warn(
                    "claim-ambiguous",
                    f"cannot tell which number the {m.group(1)} claim is in: {_clip(line.strip(), 100)!r}",
                )
                used_m.add(mi)
        if metrics and not pairs and len(used_m) < len(metrics):
            work.warn(
                "claim-ambiguous",
                f"a line names a correlation but no value I can pair: {_clip(line.strip(), 100)!r}",
            )
        for m, n, label_end in pairs:
            raw = n.group(1)
            value, decimals, problem = _claim_value(raw)
            if problem:
                work.warn(
                    "invalid-claim",
                    f"claimed {m.group(1)} {raw} {problem}; not a claim: {_clip(line.strip(), 100)!r}",
                )
                continue
            claim = _text_claim(work, prose, blocks, i, line, plain, m, raw, value, label_end)
            claims.append((claim, decimals))
    return claims


def _text_claim(
    work: _Work,
    prose: list[str],
    blocks: list[str],
    i: int,
    line: str,
    plain: str,
    m: re.Match,
    raw: str,
    value: float,
    label_end: int,
) -> Claim:
    notes: list[str] = []
    dataset = split = lang = None
    label = plain[:label_end].strip(" :-=([")
    label = re.split(r"[:=]", label)[-1].strip() if label else ""
    if label and len(label) <= 60 and re.search(r"[A-Za-z]", label) and not _METRIC_RE.search(label):
        dataset, split, lang = _dataset_info(label)
        if dataset and dataset.lower() in ("score", "result", "results", "model score", "evaluation"):
            dataset = None
    split_word = re.search(r"(?i)\b(test|dev|validation)\b", plain)
    if split is None and split_word:
        split = _SPLITS[split_word.group(1).lower()]
    if dataset is None:  # a results table under "* Dataset: `sts-test-de`"
        for j in range(i - 1, max(-1, i - 30), -1):
            if prose[j].lstrip().startswith("#"):
                break
            hit = re.search(r"(?i)\bdataset:\s*`?([A-Za-z0-9][\w.\-/ ]{0,100}?)`?\s*$", prose[j])
            if hit:
                ds2, sp2, la2 = _dataset_info(hit.group(1))
                dataset, split, lang = ds2, split or sp2, lang or la2
                notes.append(f"dataset from the line {_clip(prose[j].strip(), 60)!r}")
                break
    digits = raw.rstrip("%").strip()
    for block in blocks:  # the card's own evaluation code that prints this value
        if digits not in block:
            continue
        calls = list(_LOAD_DATASET_RE.finditer(block))
        if len(calls) != 1:
            continue
        call = calls[0]
        cfg_lang = normalize_language(call.group(4)) if call.group(4) else None
        filled = []
        if dataset is None:
            dataset = call.group(2)
            filled.append("dataset")
        if split is None and call.group(6):
            split = _SPLITS.get(call.group(6).lower(), call.group(6))
            filled.append("split")
        if lang is None and cfg_lang and cfg_lang != "multilingual":
            lang = cfg_lang
            filled.append("language")
        if filled:
            notes.append(
                f"{', '.join(filled)} from the card's evaluation code that prints this value: "
                f"{_clip(call.group(0), 80)})"
            )
        break
    if lang is None:
        yaml_langs = [c.value for c in work.cands.get("languages", []) if c.source == "yaml:language"]
        if len(yaml_langs) == 1 and len(yaml_langs[0]) == 1 and yaml_langs[0][0] != "multilingual":
            lang = yaml_langs[0][0]
            notes.append(f"language {lang!r} from the card's only declared language (yaml:language)")
    if split is None:
        work.warn("claim-without-split", f"the claim {_clip(line.strip(), 80)!r} names no split")
    quote = _clip(line.strip(), 240)
    if notes:
        quote += " [" + "; ".join(notes) + "]"
    return Claim(
        metric=m.group(1).lower(),
        value=value,
        dataset=_clip(dataset, 100) if dataset else None,
        split=split,
        language=lang,
        similarity=_similarity(m.group(0)) or _similarity(plain),
        source="text",
        quote=_clip(quote, 400),
    )


def _read_claims(work: _Work, meta: dict, prose: list[str], blocks: list[str]) -> None:
    index_claims = _model_index_claims(work, meta)
    text_claims = _text_claims(work, meta, prose, blocks)
    kept: list[Claim] = list(index_claims)
    for c, decimals in text_claims:
        tol = 0.5 * 10 ** (-decimals) + 1e-12 if decimals is not None else 1e-9
        if any(k.metric == c.metric and abs(k.value - c.value) <= tol for k in index_claims):
            continue  # the same number as a model-index claim, shown again in a table
        if any(
            k.source == "text"
            and k.metric == c.metric
            and abs(k.value - c.value) <= tol
            and k.split == c.split
            for k in kept
        ):
            continue
        kept.append(c)
    if len(kept) > MAX_CLAIMS:
        work.warn("too-many-claims", f"the card makes {len(kept)} claims; kept the first {MAX_CLAIMS}")
    work.claims = kept[:MAX_CLAIMS]


# --------------------------------------------------------------------------------------------
# overrides, key, final spec


def _apply_overrides(work: _Work, overrides: Any) -> None:
    if overrides is None:
        return
    if not isinstance(overrides, dict):
        work.errors.append("registry.toml: overrides are not a table")
        return
    for k, v in overrides.items():
        if k == "model_id":
            if isinstance(v, str) and classify_model_id(v)[0] == "ok":
                work.add("model_id", v.strip(), OVERRIDE_SOURCE, RANK_OVERRIDE)
            else:
                work.warn(
                    "unsafe-model-id", f"registry.toml model_id {_fmt(v)} is not a valid Hub id; ignored"
                )
        elif k == "revision":
            if isinstance(v, str) and _REVISION_RE.match(v.strip()):
                work.add("revision", v.strip(), OVERRIDE_SOURCE, RANK_OVERRIDE)
            else:
                work.warn("unsafe-value", f"registry.toml revision {_fmt(v)} is not a revision; ignored")
        elif k == "languages":
            items = v if isinstance(v, list) else [v]
            codes = [normalize_language(x) for x in items]
            for x, c in zip(items, codes, strict=True):
                if c is None:
                    work.warn(
                        "invalid-language",
                        f"registry.toml language {_fmt(x)} is not a language code; ignored",
                    )
            good = list(dict.fromkeys(c for c in codes if c))
            if good:
                work.add("languages", good, OVERRIDE_SOURCE, RANK_OVERRIDE)
        elif k == "path":
            if isinstance(v, str) and v.strip() and "\x00" not in v:
                work.add("local_path", v.strip(), OVERRIDE_SOURCE, RANK_OVERRIDE)
            else:
                work.warn("unsafe-value", f"registry.toml path {_fmt(v)} is not a folder path; ignored")
        else:
            work.warn(
                "unknown-override", f"registry.toml key {_clip(str(k), 40)!r} is not one I know; ignored"
            )


def _safe_key(key: str | None, model_id: str | None, source: str) -> tuple[str, str | None]:
    """(a path-safe key, an error when the given key was unsafe)."""
    if key is not None:
        if isinstance(key, str) and KEY_RE.match(key) and ".." not in key and len(key) <= 200:
            return key, None
        digest = hashlib.sha256(str(key).encode("utf-8", "replace")).hexdigest()[:8]
        return (
            f"invalid-key-{digest}",
            f"registry key {_clip(str(key), 60)!r} is not a safe name (lowercase a-z0-9._-)",
        )
    if model_id:
        derived = model_id.lower().replace("/", "__")
        if KEY_RE.match(derived) and ".." not in derived:
            return derived, None
    p = Path(source)
    stem = p.parent.name if p.stem.lower() == "readme" else p.stem
    stem = re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-._").replace("..", ".")
    digest = hashlib.sha256(source.encode("utf-8", "replace")).hexdigest()[:8]
    if not stem:
        return f"unnamed-{digest}", None
    return (stem[:80] if stem.startswith("unnamed-") else f"unnamed-{stem[:80]}"), None


def _finish(work: _Work, key: str | None, overrides: Any, meta: dict) -> ModelSpec:
    _apply_overrides(work, overrides)
    fields = {
        f: work.resolve(f)
        for f in (
            "model_id",
            "languages",
            "dimension",
            "pooling",
            "max_seq_length",
            "architecture",
            "base_model",
            "datasets",
            "loss",
            "license",
            "normalize",
            "revision",
            "local_path",
        )
    }
    langs = fields["languages"]
    if langs.source is None:
        language_source = "unknown"
        if not work.errors:
            work.warn("missing-language", "the card declares no language and none could be inferred")
    elif langs.source == OVERRIDE_SOURCE:
        language_source = "override"
    elif langs.source.startswith("inferred"):
        language_source = "inferred"
    else:
        language_source = "card"
    if fields["license"].value is None and not work.errors:
        work.warn("missing-license", "the card states no license")
    safe_key, key_error = _safe_key(key, fields["model_id"].value, work.source)
    errors = [" ".join(e.split()) for e in [*work.errors, *([key_error] if key_error else [])]]
    return ModelSpec(
        key=safe_key,
        source=work.source,
        language_source=language_source,
        name=work.name,
        claims=work.claims,
        warnings=work.findings(),
        errors=errors,
        **fields,
    )


# --------------------------------------------------------------------------------------------
# cross-check with the model's own files


def _read_json(path: Path, rel: str, notes: list[Finding]) -> Any:
    try:
        if not path.is_file():
            return None
        if path.stat().st_size > 5 * 1024 * 1024:
            notes.append(
                Finding(code="model-files-corrupt", message=f"{rel} is too large to be a config; skipped")
            )
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        notes.append(
            Finding(
                code="model-files-corrupt", message=f"{rel} cannot be read as JSON ({_clip(str(exc), 80)})"
            )
        )
        return None


def _safetensors_params(path: Path, rel: str, notes: list[Finding]) -> int | None:
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) != 8:
                raise ValueError("file too short")
            (n,) = struct.unpack("<Q", head)
            if n > 100 * 1024 * 1024:
                raise ValueError("header length is implausible")
            header = json.loads(fh.read(n))
        total = 0
        for name, info in header.items():
            if name == "__metadata__":
                continue
            shape = info["shape"]
            if not all(isinstance(x, int) and x >= 0 for x in shape):
                raise ValueError("bad tensor shape")
            total += math.prod(shape)
        return total
    except (OSError, ValueError, KeyError, TypeError, AttributeError, struct.error) as exc:
        notes.append(
            Finding(code="model-files-corrupt", message=f"{rel}: cannot read the safetensors header ({exc})")
        )
        return None


def _module_dir(root: Path, rel: Any) -> tuple[Path | None, str]:
    if not isinstance(rel, str):
        return None, ""
    if rel.startswith(("/", "\\")) or ".." in Path(rel).parts or ":" in rel:
        return None, rel
    return (root / rel) if rel else root, rel


def model_file_facts(model_dir: Path) -> tuple[dict[str, tuple[Any, str]], list[Finding], dict[str, Any]]:
    """Facts from a model folder: ({field: (value, source)}, warnings, extra info)."""
    root = Path(model_dir)
    notes: list[Finding] = []
    facts: dict[str, tuple[Any, str]] = {}
    extra: dict[str, Any] = {}

    def src(rel: str) -> str:
        return f"model-files:{rel}"

    def join(prefix: str, name: str) -> str:
        return f"{prefix}/{name}" if prefix else name

    if not root.is_dir():
        notes.append(
            Finding(code="model-files-missing", message=f"model folder {str(root)!r} does not exist")
        )
        return facts, notes, extra
    modules = _read_json(root / "modules.json", "modules.json", notes)
    transformer_rel, pooling_rel, dense_rels = "", None, []
    normalize = None
    other_dirs: list[str] = []
    if isinstance(modules, list):
        normalize = False
        for mod in modules:
            if not isinstance(mod, dict):
                continue
            kind = str(mod.get("type", "")).rsplit(".", 1)[-1]
            folder, rel = _module_dir(root, mod.get("path", ""))
            if folder is None:
                notes.append(
                    Finding(
                        code="model-files-corrupt",
                        message=f"modules.json names an unsafe path {rel!r}; skipped",
                    )
                )
                continue
            if kind == "Transformer":
                transformer_rel = rel
            elif kind == "Pooling":
                pooling_rel = rel
            elif kind == "Dense":
                dense_rels.append(rel)
            elif kind == "Normalize":
                normalize = True
            if rel and rel not in other_dirs:
                other_dirs.append(rel)
    elif modules is None and not (root / "modules.json").exists():
        notes.append(
            Finding(
                code="model-files-missing",
                message="no modules.json: not a sentence-transformers model folder",
            )
        )
    if normalize is not None:
        facts["normalize"] = (normalize, src("modules.json"))

    tdir = root / transformer_rel if transformer_rel else root
    config_rel = join(transformer_rel, "config.json")
    config = _read_json(tdir / "config.json", config_rel, notes)
    max_positions = None
    if isinstance(config, dict):
        archs = config.get("architectures")
        if isinstance(archs, list) and archs and isinstance(archs[0], str) and _IDENT_RE.match(archs[0]):
            facts["architecture"] = (archs[0], src(config_rel))
        if isinstance(config.get("max_position_embeddings"), int):
            max_positions = config["max_position_embeddings"]
            extra["max_position_embeddings"] = max_positions
        if isinstance(config.get("hidden_size"), int):
            extra["hidden_size"] = config["hidden_size"]
            facts["dimension"] = (config["hidden_size"], src(config_rel))
        if config.get("auto_map"):
            notes.append(
                Finding(
                    code="remote-code",
                    message=f"{config_rel} has auto_map: loading this model runs code from its repository "
                    "(trust_remote_code)",
                )
            )
    sbert_rel = join(transformer_rel, "sentence_bert_config.json")
    sbert = _read_json(tdir / "sentence_bert_config.json", sbert_rel, notes)
    if (
        isinstance(sbert, dict)
        and isinstance(sbert.get("max_seq_length"), int)
        and sbert["max_seq_length"] > 0
    ):
        facts["max_seq_length"] = (sbert["max_seq_length"], src(sbert_rel))
    else:
        tok_rel = join(transformer_rel, "tokenizer_config.json")
        tok = _read_json(tdir / "tokenizer_config.json", tok_rel, notes)
        mml = tok.get("model_max_length") if isinstance(tok, dict) else None
        if isinstance(mml, int | float) and 0 < mml <= MAX_SEQ_LENGTH:
            value = int(mml)
            if max_positions:
                value = min(value, max_positions)
            facts["max_seq_length"] = (value, src(tok_rel))
        elif max_positions and 0 < max_positions <= MAX_SEQ_LENGTH:
            facts["max_seq_length"] = (max_positions, src(config_rel))
    if pooling_rel is not None:
        pool_rel = join(pooling_rel, "config.json")
        pool = _read_json(root / pooling_rel / "config.json", pool_rel, notes)
        if isinstance(pool, dict):
            name, n_modes, per_mode = _pooling_from_config(pool)
            if name:
                facts["pooling"] = (name, src(pool_rel))
            if isinstance(per_mode, int) and not isinstance(per_mode, bool) and per_mode > 0:
                facts["dimension"] = (per_mode * max(1, n_modes), src(pool_rel))
    for rel in dense_rels:
        dense_rel = join(rel, "config.json")
        dense = _read_json(root / rel / "config.json", dense_rel, notes)
        if isinstance(dense, dict) and isinstance(dense.get("out_features"), int):
            facts["dimension"] = (dense["out_features"], src(dense_rel))

    weights: list[tuple[Path, str]] = []
    for rel in ["", *other_dirs]:
        folder = root / rel if rel else root
        index = folder / "model.safetensors.index.json"
        if index.is_file():
            idx = _read_json(index, join(rel, index.name), notes)
            files = sorted(set(idx.get("weight_map", {}).values())) if isinstance(idx, dict) else []
            for f in files:
                if isinstance(f, str) and "/" not in f and "\\" not in f and ".." not in f:
                    weights.append((folder / f, join(rel, f)))
        elif (folder / "model.safetensors").is_file():
            weights.append((folder / "model.safetensors", join(rel, "model.safetensors")))
    total = 0
    counted: list[str] = []
    for path, rel in weights:
        n = _safetensors_params(path, rel, notes)
        if n is None:
            total = -1
            break
        total += n
        counted.append(rel)
    if counted and total >= 0:
        facts["parameters"] = (total, src(counted[0] if len(counted) == 1 else "*.safetensors"))
    return facts, notes, extra


def crosscheck(spec: ModelSpec, model_dir: Path) -> ModelSpec:
    """A new spec with the model files' facts: they fill unknowns and win over the card, with warnings."""
    try:
        facts, notes, extra = model_file_facts(Path(model_dir))
    except Exception as exc:  # never a traceback for a broken folder
        note = Finding(
            code="model-files-corrupt", message=f"cannot read the model folder: {_clip(str(exc), 100)}"
        )
        return spec.model_copy(update={"warnings": [*spec.warnings, note]})
    warnings = list(spec.warnings)
    seen = {(w.code, w.message) for w in warnings}
    for note in notes:
        if (note.code, note.message) not in seen:
            warnings.append(note)
            seen.add((note.code, note.message))
    update: dict[str, Any] = {}
    for field, (value, source) in facts.items():
        current: Sourced = getattr(spec, field)
        if current.value is None:
            update[field] = Sourced(value=value, source=source)
        elif not _same(field, current.value, value):
            code = _MISMATCH_CODE.get(field, f"{field}-mismatch")
            msg = (
                f"the card gives {_LABEL.get(field, field)} {_fmt(current.value)} ({current.source}) "
                f"but the model files say {_fmt(value)} ({source}); using the files' value"
            )
            if (code, msg) not in seen:
                warnings.append(Finding(code=code, message=msg))
                seen.add((code, msg))
            update[field] = Sourced(value=value, source=source)
    max_seq = update.get("max_seq_length", spec.max_seq_length).value
    positions = extra.get("max_position_embeddings")
    if isinstance(max_seq, int) and isinstance(positions, int) and max_seq > positions:
        warnings.append(
            Finding(
                code="max-seq-length-exceeds-positions",
                message=f"max_seq_length {max_seq} exceeds the model's max_position_embeddings {positions}",
            )
        )
    update["warnings"] = warnings
    return spec.model_copy(update=update)
