"""The one language vocabulary (harness/languages.py): every way a card, MTEB or a user names a language."""

from __future__ import annotations

import pytest

from harness.languages import (
    Languages,
    covers,
    is_multilingual,
    language_key,
    language_name,
    normalize_language,
    read_languages,
)

TABLE = [
    # ISO 639-1, any case
    ("de", "de"),
    ("DE", "de"),
    ("es", "es"),
    # ISO 639-2/T, 639-2/B and 639-3
    ("deu", "de"),
    ("ger", "de"),
    ("fre", "fr"),
    ("chi", "zh"),
    ("fao", "fo"),
    ("ceb", "ceb"),  # no two-letter code: stays ISO 639-3
    # BCP-47 tags, regions and scripts, underscore too
    ("de-CH", "de"),
    ("de_DE", "de"),
    ("en-US", "en"),
    ("pt_BR", "pt"),
    ("zh-Hant", "zh"),
    ("zh-CN", "zh"),
    ("sr-Latn", "sr"),
    # MTEB's language-script codes
    ("deu-Latn", "de"),
    ("cmn-Hans", "zh"),
    ("kor-Hang", "ko"),
    ("arb-Arab", "ar"),
    # macrolanguages
    ("cmn", "zh"),
    ("arb", "ar"),
    ("pes", "fa"),
    ("swh", "sw"),
    ("zsm", "ms"),
    ("ekk", "et"),
    # deprecated codes
    ("iw", "he"),
    ("in", "id"),
    ("sh", "sr"),
    # Tagalog stays Tagalog
    ("tl", "tl"),
    ("tgl", "tl"),
    ("Tagalog", "tl"),
    ("fil", "fil"),
    # English and native names
    ("German", "de"),
    ("german", "de"),
    ("Deutsch", "de"),
    ("Chinese", "zh"),
    ("Mandarin Chinese", "zh"),
    ("Farsi", "fa"),
    ("Brazilian Portuguese", "pt"),
    ("Latin", "la"),
    # country codes written for a language (none is an ISO 639-1 code)
    ("vn", "vi"),
    ("jp", "ja"),
    ("kr", "ko"),
    ("se", "se"),  # Northern Sami is a language: no alias
    # not one language
    ("multilingual", None),
    ("Multilingual", None),
    ("mul", None),
    ("und", None),
    ("zxx", None),
    ("xx", None),
    ("code", None),
    ("Java", None),  # the programming language, not Javanese
    ("python", None),
    ("", None),
    ("   ", None),
    (42, None),
    (True, None),
    (None, None),
    ("x" * 100, None),
]


@pytest.mark.parametrize(("value", "expected"), TABLE)
def test_normalize_language_table(value, expected):
    assert normalize_language(value) == expected


def test_read_languages_makes_multilingual_a_flag():
    got = read_languages(["multilingual", "de", "deu", "en", "cmn", "zh-Hant", 42, "xx"])
    assert got == Languages(codes=("de", "en", "zh"), multilingual=True, invalid=(42, "xx"))
    assert read_languages("de") == Languages(codes=("de",))
    assert read_languages("mul") == Languages(multilingual=True)
    assert is_multilingual("multi-lingual") and not is_multilingual("de")


@pytest.mark.parametrize(
    ("languages", "multilingual", "key", "expected"),
    [
        (["de"], False, "de", True),
        (["cmn"], False, "zh", True),  # what `run --lang zh` and the zh report both rely on
        (["zh"], False, "cmn", True),
        (["de"], False, "en", False),
        (["de", "en"], False, "de-en", True),  # a cross-lingual pair needs both
        (["de"], False, "de-en", False),
        ([], True, "fr", True),
        ([], True, "de-en", True),
        ([], False, "de", False),
        (["de"], False, "", False),
    ],
)
def test_covers(languages, multilingual, key, expected):
    assert covers(languages, multilingual, key) is expected


def test_language_key_and_name():
    assert language_key(["deu-Latn", "eng-Latn"]) == "de-en"
    assert language_key(["deu-Latn", "deu-Latn"]) == "de"
    assert language_key([]) == "und"
    assert language_name("de") == "German" and language_name("zh") == "Chinese"
