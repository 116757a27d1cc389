"""Which page a result belongs to: language codes of runs, cards and the ``--lang`` option.

Every language goes through the one vocabulary (`harness.languages`), so a page, a card and
``run --lang`` name a language the same way (``cmn``, ``zh-Hant`` and ``Chinese`` are ``zh``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from harness.languages import language_key, normalize_language, split_key
from harness.records import ModelSpec, RunRecord
from harness.store import StoredResult

PAGE_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[a-z]{2,3})*$")


def dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def run_language(run: RunRecord) -> str:
    """The page a run belongs to: its text languages as codes ("de", or "de-en" when cross-lingual);
    ``und`` when they are neither one language nor a pair (a hand-edited record listing 80)."""
    key = language_key(run.languages)
    if len(split_key(key)) > 2:
        return "und"
    if key == "und" and run.subset != "default":
        key = language_key(split_key(run.subset))
    return key


def spec_languages(spec: ModelSpec) -> list[str]:
    """The card's declared languages (without the multilingual flag), in the one vocabulary."""
    return dedupe(c for c in (normalize_language(x) for x in spec.language_list) if c)


def spec_covers(spec: ModelSpec, lang: str) -> bool:
    """The runner's rule, the same function (harness.languages.covers via ModelSpec.covers)."""
    return spec.covers(lang)


def page_language(raw: str, pages: Iterable[str] = ()) -> str:
    """The page a ``--lang`` value names. One language is read as ``run --lang`` reads it (``de-CH``,
    ``zh-CN``, ``deu``, ``German`` -> ``de`` / ``zh``); a pair of languages (``de-en``) names a
    cross-lingual page. ``de-ch`` could be either: it is the pair only when such a page exists.
    Raises ValueError for anything else."""
    text = raw.strip()
    parts = text.split("-")
    is_pair = len(parts) == 2 and all(normalize_language(p) for p in parts)
    pair = language_key(parts) if is_pair else None
    one = normalize_language(text)
    for key in (pair if pair in set(pages) else None, one, pair):
        if key and PAGE_LANGUAGE.match(key):
            return key
    raise ValueError(f"not a language code: {raw!r}")


def report_languages(results: Sequence[StoredResult], languages: Sequence[str] | None) -> list[str]:
    """The pages to write: the languages asked for (`page_language`), else every language with results."""
    pages = sorted({run_language(r.run) for r in results})
    if languages:
        return dedupe(page_language(raw, pages) for raw in languages)
    return pages
