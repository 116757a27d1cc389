"""The dimensions a card says its model was trained to be cut to (Matryoshka representation learning).

Cards that sentence-transformers generates print each loss's parameters as a JSON block; a
MatryoshkaLoss block lists them::

    * Loss: [<code>MatryoshkaLoss</code>](...) with these parameters:
      ```json
      {"loss": "MultipleNegativesRankingLoss", "matryoshka_dims": [1024, 512, 256, 128, 64, 32], ...}
      ```

Other cards say it in a sentence ("Matryoshka embeddings: 768, 512, 256, 128 and 64 dimensions").
The block is the authority (source ``card:MatryoshkaLoss``); a sentence that names Matryoshka and
lists two or more dimensions is read too (source ``prose``).
"""

from __future__ import annotations

import json
import re

from harness.card.evidence import RANK_PROSE, RANK_SNIPPET, Evidence
from harness.card.markdown import Document

FIELD = "matryoshka_dims"
BLOCK_SOURCE = "card:MatryoshkaLoss"
MAX_DIMS = 65536  # no embedding model outputs more; a bigger number is something else

_LIST = re.compile(r'"matryoshka_dims"\s*:\s*\[([^\]]{0,400})\]')
_WORD = re.compile(r"matryoshka", re.I)
# "768, 512, 256, 128 and 64" / "64/128/256": two or more numbers joined by , / and or
_PROSE_LIST = re.compile(r"\b\d{1,5}(?:\s*(?:,|/|\band\b|\bor\b|,\s*and|,\s*or)\s*\d{1,5}\b)+")


def _dims(numbers: list[object]) -> list[int] | None:
    """The numbers as dimensions (largest first, each once), or None when one is not a dimension."""
    if not numbers or not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
        return None
    if not all(0 < n <= MAX_DIMS for n in numbers):  # type: ignore[operator]
        return None
    return sorted({int(n) for n in numbers}, reverse=True)  # type: ignore[call-overload]


def _from_block(text: str) -> list[int] | None:
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and FIELD in data:
        value = data[FIELD]
        return _dims(value) if isinstance(value, list) else None
    m = _LIST.search(text)  # a block that is not strict JSON (comments, trailing commas)
    if m is None:
        return None
    parts = [p.strip() for p in m.group(1).split(",") if p.strip()]
    return _dims([int(p) for p in parts]) if all(p.isdigit() for p in parts) else None


def read_matryoshka(ev: Evidence, doc: Document) -> None:
    """Add the card's Matryoshka dimensions (MatryoshkaLoss blocks, then prose) to the evidence."""
    for block in doc.code:
        if FIELD in block.text:
            dims = _from_block(block.text)
            if dims:
                ev.add(FIELD, dims, BLOCK_SOURCE, RANK_SNIPPET)
    if ev.has(FIELD):
        return
    for block in doc.prose:
        if not _WORD.search(block.text):
            continue
        for sentence in re.split(r"(?<=[.!?])\s+|\n", block.text):
            if not _WORD.search(sentence):
                continue
            for m in _PROSE_LIST.finditer(sentence):
                dims = _dims([int(x) for x in re.findall(r"\d+", m.group(0))])
                if dims and len(dims) >= 2 and min(dims) >= 8:
                    ev.add(FIELD, dims, "prose", RANK_PROSE)
                    return
