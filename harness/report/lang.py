"""Which page a result belongs to: language codes of runs, cards and the ``--lang`` option."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache

from harness.records import ModelSpec, RunRecord
from harness.store import StoredResult

_ISO = re.compile(r"^[a-z]{2,3}$")
PAGE_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[a-z]{2,3})*$")


@cache
def normalize_language(code: str | None) -> str | None:
    """ISO 639-1 code (or 639-3 when there is none) of an MTEB code like ``deu-Latn`` or ``de``."""
    if not code or not code.strip():
        return None
    import langcodes

    text = code.strip().replace("_", "-")
    try:
        lang = langcodes.Language.get(text).prefer_macrolanguage()
    except (ValueError, LookupError):
        return None
    value = (lang.language or "").lower()
    if not _ISO.match(value) or value == "und":
        return None
    return value


def dedupe(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def run_language(run: RunRecord) -> str:
    """The page a run belongs to: its text languages as ISO codes ("de", or "de-en" when cross-lingual)."""
    codes = dedupe(c for c in (normalize_language(x) for x in run.languages) if c)
    if not codes and run.subset != "default":
        codes = dedupe(c for c in (normalize_language(x) for x in run.subset.split("-")) if c)
    return "-".join(codes) if codes else "und"


def spec_languages(spec: ModelSpec) -> list[str]:
    langs = []
    for raw in spec.language_list:
        if raw.strip().lower() == "multilingual":
            langs.append("multilingual")
        else:
            code = normalize_language(raw)
            if code:
                langs.append(code)
    return dedupe(langs)


def spec_covers(spec: ModelSpec, lang: str) -> bool:
    langs = spec_languages(spec)
    if "multilingual" in langs:
        return True
    return all(part in langs for part in lang.split("-"))


def report_languages(results: Sequence[StoredResult], languages: Sequence[str] | None) -> list[str]:
    if languages:
        out = []
        for raw in languages:
            code = raw.strip().lower() if PAGE_LANGUAGE.match(raw.strip().lower()) else None
            norm = "-".join(filter(None, (normalize_language(p) for p in raw.split("-")))) or code
            if not norm or not PAGE_LANGUAGE.match(norm):
                raise ValueError(f"not a language code: {raw!r}")
            out.append(norm)
        return dedupe(out)
    return sorted({run_language(r.run) for r in results})
