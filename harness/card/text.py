"""A card's bytes as clean text: byte-order marks, UTF-16, legacy encodings, binary, mojibake.

`read_text` is the whole path from bytes (or a str) to the text the other card modules read:
decoded, line endings unified, and lines repaired where UTF-8 had been read as cp1252 or Mac Roman.
Problems that stop the parse go to `Evidence.errors`; repairs become warnings.
"""

from __future__ import annotations

import functools
import re

import ftfy

from harness.card.evidence import Evidence, clip

MAX_CARD_BYTES = 5 * 1024 * 1024

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)

ENCODING_NAMES = {
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
# Characters that UTF-8 bytes turn into when read as cp1252, Mac Roman or Latin-1: a line
# without any of them (plain ASCII, CJK, Cyrillic, ...) cannot hold that kind of mojibake.
_MOJIBAKE_ALPHABET = frozenset(
    bytes(range(0x80, 0x100)).decode("mac_roman")
    + bytes(range(0x80, 0x100)).decode("latin-1")
    + bytes(range(0x80, 0x100)).decode("cp1252", errors="ignore")
)


def too_large() -> str:
    return f"card is larger than {MAX_CARD_BYTES // (1024 * 1024)} MB; not parsed"


def decode(data: bytes, ev: Evidence) -> str | None:
    """Text of a card's bytes, or None (with an error) when it is not text."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(enc)
            except UnicodeDecodeError as exc:
                ev.errors.append(f"not valid {enc} text after its byte-order mark (byte {exc.start})")
                return None
            if enc != "utf-8":
                ev.warn("non-utf8-encoding", f"the card is {enc.upper()} (byte-order mark); decoded it")
            return text
    if b"\x00" in data:
        half = len(data) // 2
        if len(data) % 2 == 0 and half and data[1::2].count(0) > 0.4 * half and data[0::2].count(0) == 0:
            try:
                text = data.decode("utf-16-le")
                ev.warn("non-utf8-encoding", "the card is UTF-16-LE without a byte-order mark; decoded it")
                return text
            except UnicodeDecodeError:
                pass
        ev.errors.append("not a text file (contains NUL bytes)")
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
        ev.warn(
            "non-utf8-encoding", f"the card is not valid UTF-8 (byte {where}); decoded it as {enc.upper()}"
        )
        return text
    return None  # pragma: no cover - latin-1 decodes any bytes


def looks_binary(text: str) -> bool:
    sample = text[:100_000]
    controls = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\n\r\f\v") or ch == "\x7f")
    return "\x00" in sample or controls > max(8, len(sample) // 100)


def fallback_fix(line: str) -> tuple[str, list[str]]:
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


@functools.lru_cache(maxsize=4096)
def _fix_line(line: str) -> tuple[str, tuple[str, ...]]:
    fixed, explanation = ftfy.fix_encoding_and_explain(line)
    encodings = [
        step[1] for step in explanation or [] if step[0] in ("encode", "decode") and step[1] != "utf-8"
    ]
    fixed, used = fallback_fix(fixed)
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
                example = f"{clip(line.strip(), 40)!r} → {clip(fixed.strip(), 40)!r}"
        out.append(fixed)
    return "\n".join(out), encodings, example


def read_text(text_or_bytes: object, ev: Evidence) -> str | None:
    """The card's clean text, or None with an error in `ev` (too large, not text, empty, binary)."""
    if isinstance(text_or_bytes, bytes | bytearray):
        data = bytes(text_or_bytes)
        if len(data) > MAX_CARD_BYTES:
            ev.errors.append(too_large())
            return None
        text = decode(data, ev) if data.strip() else ""
    elif isinstance(text_or_bytes, str):
        text = text_or_bytes
        if len(text) > MAX_CARD_BYTES:
            ev.errors.append(too_large())
            return None
    else:
        ev.errors.append(f"card content is a {type(text_or_bytes).__name__}, not text")
        return None
    if text is None:
        return None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        ev.errors.append("empty file")
        return None
    if looks_binary(text):
        ev.errors.append("not a text file (binary content)")
        return None
    text, encodings, example = repair_mojibake(text)
    if example is not None:
        names = list(dict.fromkeys(ENCODING_NAMES.get(e, e) for e in encodings))
        how = " / ".join(names) if names else "a legacy encoding"
        ev.warn("mojibake-repaired", f"repaired UTF-8 text that had been read as {how}, e.g. {example}")
    return text
