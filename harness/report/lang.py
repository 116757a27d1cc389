"""Which page a result belongs to: language codes of runs, cards and the ``--lang`` option."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from harness.languages import normalize_language
from harness.records import ModelSpec, RunRecord
from harness.store import StoredResult

PAGE_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[a-z]{2,3})*$")


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
    """The card's declared languages (without the multilingual flag), in the one vocabulary."""
    return dedupe(c for c in (normalize_language(x) for x in spec.language_list) if c)


def spec_covers(spec: ModelSpec, lang: str) -> bool:
    """The runner's rule, the same function (harness.languages.covers via ModelSpec.covers)."""
    return spec.covers(lang)


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
