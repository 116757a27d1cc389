"""The vocabulary written the way mteb writes languages (``deu-Latn``) reads back as itself."""

from __future__ import annotations

import pytest

from harness.languages import mteb_language, normalize_language


@pytest.mark.parametrize(
    ("code", "mteb"),
    [
        ("de", "deu-Latn"),
        ("en", "eng-Latn"),
        ("zh", "zho-Hans"),
        ("ar", "ara-Arab"),
        ("tl", "tgl-Latn"),  # Tagalog stays Tagalog: not langcodes' fil
        ("fil", "fil-Latn"),
        ("sr", "srp-Cyrl"),
        ("ceb", "ceb-Latn"),
    ],
)
def test_mteb_language_round_trips(code, mteb):
    from mteb.languages import check_language_code

    assert mteb_language(code) == mteb
    check_language_code(mteb)  # a code mteb accepts in ModelMeta.languages
    assert normalize_language(mteb) == code


@pytest.mark.parametrize("value", ["multilingual", "xx", "", "und"])
def test_mteb_language_of_a_non_language_is_none(value):
    assert mteb_language(value) is None
