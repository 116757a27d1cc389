"""Cards that are not about one model: a family README and usage code that builds on a base.

A family README (FlagEmbedding's, shared by the bge models' cards) lists several models of one
owner in a table and shows usage code for one of them: the id that code loads is an example, not
the card's own id, unless the card's title or model-index names it. (Code that loads a model the
table does not list is the card's own: the table then compares it with others.) Usage code that builds a
model from a base (``models.Transformer("org/base")``) and adds layers the card describes
(``models.Dense``, a "2_Dense" module) names the base, not the model the card is about.
"""

from __future__ import annotations

import re

from harness.card.ids import classify_model_id
from harness.card.markdown import Document
from harness.card.rows import NAME_HEADERS
from harness.sts_datasets import normalise

FAMILY_MIN_MODELS = 3
_HUB_ID = re.compile(r"^(?:https?://huggingface\.co/)?([A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95})/?$")
_DENSE = re.compile(r"models\.Dense\(|\b\d+_Dense\b|\bDense\(\{")


def _row_id(cells: tuple) -> str | None:
    cell = cells[0] if cells else None
    if cell is None:
        return None
    for href in cell.links:
        m = _HUB_ID.match(href.strip())
        if m and classify_model_id(m.group(1))[0] == "ok":
            return m.group(1)
    m = _HUB_ID.match(cell.text.strip().strip("`*"))
    return m.group(1) if m and classify_model_id(m.group(1))[0] == "ok" else None


def listed_models(doc: Document) -> list[str]:
    """The Hub ids a model-list table names: a table whose first column ("Model") gives, row by row,
    at least three ids of one owner; [] when the card has no such table."""
    for table in doc.tables:
        if not table.header or normalise(table.header[0].text) not in NAME_HEADERS:
            continue
        ids = list(dict.fromkeys(i for i in (_row_id(r) for r in table.rows) if i))
        owners = {i.split("/", 1)[0].lower() for i in ids}
        if len(ids) >= FAMILY_MIN_MODELS and len(owners) == 1:
            return ids
    return []


def builds_on_base(doc: Document) -> bool:
    """Whether the card adds a Dense layer to what its usage code loads: then a
    ``models.Transformer("org/base")`` in that code names the base, not this model."""
    return any(_DENSE.search(b.text) for b in doc.code) or any(
        _DENSE.search(b.text) for b in doc.blocks if b.kind in ("heading", "paragraph", "item")
    )
