"""Leaderboards at scale: which pages get filters, what each row is filtered by, the choices offered.

Summaries name a few models (``NAMED_MAX``) and count the rest ("tied with 212 others").

A page with many models (``FILTER_MIN_ROWS`` or more) gets a search box and filters by size,
embedding dimension, license and language coverage above its leaderboard; the inline script
(``templates/sort.js``) hides the rows that do not match. Every facet comes from the registry's
card facts (``ModelSpec``); a model without them is filtered as "unknown". Such a page is also
written compactly (no indentation; task cells without classes or ``data-sort``, the script sorts
them by their first number), which keeps 1,000 models x 30 tasks under 4 MiB. Smaller pages
keep the plain sortable table.
"""

from __future__ import annotations

from harness.report.page import LanguagePage, Row
from harness.report.words import language_name

FILTER_MIN_ROWS = 20
# A summary names at most this many models (tied with the leader, run off-card, ...); more are counted.
NAMED_MAX = 5
UNKNOWN = "unknown"
# Upper bounds (parameters) of the size classes, smallest first.
SIZE_CLASSES: tuple[tuple[float, str], ...] = (
    (100e6, "under 100M"),
    (1e9, "100M–1B"),
    (float("inf"), "1B and more"),
)


def filterable(page: LanguagePage) -> bool:
    return len(page.rows) >= FILTER_MIN_ROWS


def size_class(parameters: int | None) -> str:
    if not parameters or parameters <= 0:
        return UNKNOWN
    return next(label for bound, label in SIZE_CLASSES if parameters < bound)


def coverage(row: Row, lang: str) -> str:
    """How the card covers the page's language: only it, among others, multilingual, or not at all."""
    spec = row.model.spec
    if row.off_card:
        return "not on the card"
    if spec is None:
        return UNKNOWN
    if spec.is_multilingual:
        return "multilingual"
    langs = spec.language_list
    if langs == [lang]:
        return f"{language_name(lang)} only"
    return "several languages" if langs else UNKNOWN


def row_facets(row: Row, lang: str, published_page: bool = False) -> dict[str, str]:
    """The values a row is filtered by (``data-<name>`` attributes), as shown in the choices; a page
    with MTEB's published rows also filters by source (measured, published, both)."""
    spec = row.model.spec
    facts = row.facts  # a published row: mteb's facts where no card states them
    dim = (spec.dimension.value if spec else None) or (facts.dimension if facts else None)
    lic = (spec.license.value if spec else None) or (facts.license if facts else None)
    params = (spec.parameters.value if spec else None) or (facts.parameters if facts else None)
    out = {
        "size": size_class(params),
        "dim": str(dim) if dim else UNKNOWN,
        "license": str(lic) if lic else UNKNOWN,
        "langs": coverage(row, lang),
        "zeroshot": zero_shot_facet(row),
    }
    if published_page:
        out["source"] = row.source
    return out


def zero_shot_facet(row: Row) -> str:
    """``zero-shot`` on every task it ran, ``not zero-shot`` on some, else ``unknown``."""
    return {True: "zero-shot", False: "not zero-shot", None: UNKNOWN}[row.zero_shot_all]


def _order(values: set[str], key=None) -> list[str]:
    known = sorted((v for v in values if v != UNKNOWN), key=key)
    return [*known, UNKNOWN] if UNKNOWN in values else known


def filter_choices(page: LanguagePage) -> list[tuple[str, str, list[str]]]:
    """(facet, label, choices) for the page's filter bar: only the values its rows have."""
    published = page.has_published_rows
    facets = [row_facets(r, page.lang, published) for r in page.rows]
    sizes = [label for _, label in SIZE_CLASSES]
    sources = [("source", "Source", _order({f["source"] for f in facets}))] if published else []
    return [
        *sources,
        ("size", "Size", _order({f["size"] for f in facets}, key=sizes.index)),
        ("dim", "Dimension", _order({f["dim"] for f in facets}, key=int)),
        ("license", "License", _order({f["license"] for f in facets})),
        ("langs", "Languages", _order({f["langs"] for f in facets})),
        ("zeroshot", "Zero-shot", zero_shot_choices(page)),
    ]


def zero_shot_choices(page: LanguagePage) -> list[str]:
    """The zero-shot filter's choices (every page has this filter; larger pages have the others too)."""
    return _order({zero_shot_facet(r) for r in page.rows})
