"""The one language vocabulary: every part of the harness names languages through this module.

A language is an ISO 639-1 code where the language has one, else its ISO 639-3 code, always
the macrolanguage (``cmn`` -> ``zh``, ``arb`` -> ``ar``, ``pes`` -> ``fa``). Read the same way:

* ISO 639-1 / 639-2 / 639-3 codes, bibliographic ones too: ``de``, ``deu``, ``ger`` -> ``de``;
* BCP-47 tags with scripts and regions, ``_`` or ``-``: ``de-CH``, ``de_DE``, ``zh-Hant``,
  ``cmn-Hans`` (MTEB's ``deu-Latn`` style) -> the language alone;
* deprecated codes: ``iw`` -> ``he``, ``in`` -> ``id``, ``sh`` -> ``sr``;
* English (and native) names: ``German``, ``Deutsch``, ``Mandarin Chinese`` -> ``zh``.

``tl`` stays ``tl`` (langcodes would say ``fil``; cards and MTEB say Tagalog ``tl``).
"multilingual" is not a language: `read_languages` turns it into a flag, `normalize_language`
returns None for it. A model covers a language key (``de``, or ``de-en`` for a cross-lingual pair)
when it declares every language of the key or is multilingual: `covers`, the one rule the
runner and the report share.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import langcodes

_MULTILINGUAL_WORDS = frozenset(
    {"multilingual", "multi-lingual", "multi_lingual", "multi", "mul", "multilang", "multilanguage"}
)
# Special ISO codes that name no language: undetermined, no linguistic content, missing,
# sign languages as a family, private use.
_NOT_A_LANGUAGE = frozenset({"und", "zxx", "mis", "mul", "sgn"})
# Words that appear in `language:` lists and that langcodes' name search would take for a
# language ("Java" -> Javanese): programming languages and the like.
_NOT_LANGUAGE_WORDS = frozenset(
    {"code", "java", "javascript", "python", "go", "sql", "c", "rust", "php", "ruby", "shell", "bash"}
)
# Country codes often written for a language; none is a valid ISO 639-1 code, so reading them
# can never shadow a real language ("se" is Northern Sami and stays so).
_COUNTRY_ALIASES = {
    "vn": "vi",
    "jp": "ja",
    "kr": "ko",
    "cn": "zh",
    "gr": "el",
    "dk": "da",
    "cz": "cs",
    "ua": "uk",
}
_TAG_RE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
_NAME_RE = re.compile(r"^[^\W\d_]+(?:[ '\-][^\W\d_]+){0,3}$")
_TAGALOG = frozenset({"tl", "tgl"})


def is_multilingual(value: Any) -> bool:
    """Whether a tag says "multilingual" (``multilingual``, ``mul``, ``multi``)."""
    return isinstance(value, str) and value.strip().lower().replace(" ", "-") in _MULTILINGUAL_WORDS


@functools.lru_cache(maxsize=4096)
def _from_tag(tag: str) -> str | None:
    try:
        lang = langcodes.Language.get(tag)
        if not lang.is_valid() or not lang.language:
            return None
        base = lang.language.lower()
        if tag.split("-", 1)[0].lower() in _TAGALOG:
            return "tl"
        macro = langcodes.Language.get(langcodes.standardize_tag(base, macro=True)).language
    except (ValueError, LookupError):
        return None
    code = (macro or base).lower()
    if code in _NOT_A_LANGUAGE or "qaa" <= code <= "qtz":
        return None
    return code


@functools.lru_cache(maxsize=1)
def _names() -> tuple[Any, Any]:
    """(the name -> language trie of every language's name in every language, its reader)."""
    from language_data import names

    return names.load_trie(names.data_filename("trie/und/name_to_language.marisa")), names


@functools.lru_cache(maxsize=4096)
def _from_name(name: str) -> str | None:
    """The language a name exactly names ("German", "Deutsch", "Farsi"); langcodes' own `find`
    also accepts prefixes ("Semantic" -> Sema), which prose is full of."""
    if name.lower() in _NOT_LANGUAGE_WORDS:
        return None
    try:
        trie, names = _names()
        key = names.normalize_name(name)
        if key not in trie:
            return None
        tag = str(names.get_trie_value(trie, key))
    except (LookupError, ValueError, ImportError, OSError):
        return None
    return _from_tag(tag)


def normalize_language(value: Any) -> str | None:
    """The language a code, tag or name denotes (see the module docstring), or None.

    None for anything that is not one language: "multilingual", ``und``, numbers, ``xx``.
    """
    if isinstance(value, bool) or not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 40 or is_multilingual(text):
        return None
    tag = text.replace("_", "-")
    tag = _COUNTRY_ALIASES.get(tag.split("-", 1)[0].lower(), tag) if "-" not in tag else tag
    if _TAG_RE.match(tag):
        code = _from_tag(tag)
        if code is not None:
            return code
    if _NAME_RE.match(text) and len(text) > 3:
        return _from_name(text)
    return None


def language_name(code: str) -> str:
    """English name of a language code (``de`` -> ``German``); the code itself when unknown."""
    try:
        lang = langcodes.Language.get(code)
        return lang.display_name() if lang.is_valid() else code
    except (ValueError, LookupError):
        return code


def mteb_language(code: str) -> str | None:
    """A language as mteb writes it, ISO 639-3 and script: ``de`` -> ``deu-Latn``, ``tl`` ->
    ``tgl-Latn`` (not langcodes' ``fil``), so that `normalize_language` reads it back as ``code``.
    None when `code` is not a language."""
    lang = normalize_language(code)
    if lang is None:
        return None
    try:
        alpha3 = "tgl" if lang == "tl" else langcodes.Language.get(lang).to_alpha3()
        script = langcodes.Language.get(lang).maximize().script
    except (ValueError, LookupError):
        return None
    return f"{alpha3}-{script}" if script else None


@dataclass(frozen=True)
class Languages:
    """Languages read from a list of tags: codes in order, the multilingual flag, what was not read."""

    codes: tuple[str, ...] = ()
    multilingual: bool = False
    invalid: tuple[Any, ...] = field(default=())


def read_languages(values: Any) -> Languages:
    """Read a str-or-list of tags (YAML ``language:``, registry overrides, a description line)."""
    items = values if isinstance(values, list | tuple) else [values]
    codes: list[str] = []
    invalid: list[Any] = []
    multilingual = False
    for item in list(items)[:1000]:
        if is_multilingual(item):
            multilingual = True
            continue
        code = normalize_language(item)
        if code is None:
            invalid.append(item)
        elif code not in codes:
            codes.append(code)
    return Languages(tuple(codes), multilingual, tuple(invalid))


def language_key(parts: Iterable[str]) -> str:
    """The key of a language or a cross-lingual pair: ``de``, ``de-en``; ``und`` when none is known."""
    codes = list(dict.fromkeys(c for c in (normalize_language(p) for p in parts) if c))
    return "-".join(codes) if codes else "und"


def split_key(key: str) -> list[str]:
    """The languages of a key made by `language_key` (``de-en`` -> ``["de", "en"]``)."""
    return [p for p in key.split("-") if p]


def covers(languages: Iterable[str], multilingual: bool, key: str) -> bool:
    """Whether a model declaring `languages` (and the multilingual flag) covers a language key.

    A multilingual model covers every language; otherwise every language of the key
    (both of a cross-lingual pair) must be declared. Codes are compared normalised.
    """
    if multilingual:
        return True
    declared = {normalize_language(x) or str(x).lower() for x in languages}
    wanted = [normalize_language(p) or p.lower() for p in split_key(key)]
    return bool(wanted) and all(w in declared for w in wanted)
