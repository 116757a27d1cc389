"""This model's row of a comparison table, and the facts such a row states.

Cards compare their model with others in tables of one row per model. The row that is this
model's is found by its id, its name, a link to its page (absolute or relative), "(ours)", or a
bold name among plain ones; a row whose name links to another model's page is that model's.
"""

from __future__ import annotations

import re

from harness.card.evidence import RANK_PROSE, Evidence
from harness.card.markdown import Cell, Document, Table
from harness.model_files import MAX_SEQ_LENGTH
from harness.sts_datasets import normalise

NAME_HEADERS = frozenset(
    {"model", "models", "modelname", "name", "method", "methods", "system", "模型", "模型名称", "checkpoint"}
)
_HUB_PATH = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
_OURS = re.compile(r"(?i)\(?\bours\b|\bthis model\b|\(this\)|\bproposed\b")
_NOT_OURS = re.compile(r"(?i)\bno fine-?tun|\bwithout fine-?tun|\bbase(?:line)?\b|\bw/o\b|\bbefore\b")
# columns that state a structural fact in a comparison table
_FACT_COLUMNS = {
    "dimension": re.compile(
        r"(?i)^(?:embedding |output |vector )?(?:dim|dims|dimension|dimensions|dimensionality)$"
        r"|^(?:向量|嵌入|输出)?维度$"  # "维度": m3e's comparison table
    ),
    "max_seq_length": re.compile(
        r"(?i)^(?:max(?:imum)? ?(?:tokens|length|seq(?:uence)? ?length)|context length)$|^最大(?:长度|输入)$"
    ),
}


def self_keys(names: list[str]) -> set[str]:
    """Normalised names that identify this model: its id, the id's name part, its title."""
    keys = {normalise(n) for n in names} | {normalise(n.rsplit("/", 1)[-1]) for n in names}
    keys.discard("")
    return keys


def row_is_self(cells: tuple[Cell, ...], col: int, keys: set[str]) -> int:
    """How surely a row is this model's: 3 by id/link/name, 2 by "(ours)", 0 not."""
    cell = cells[col] if col < len(cells) else None
    if cell is None:
        return 0
    for href in cell.links:
        target = href.strip().rstrip("/").split("huggingface.co/")[-1].lstrip("/")
        if normalise(target) in keys:
            return 3
        if _HUB_PATH.match(target):
            return 0  # the row links to another model's page
    text = re.sub(r"\(.*?\)", " ", cell.text).strip()
    if normalise(text) in keys or normalise(text.rsplit("/", 1)[-1]) in keys:
        return 3
    if _OURS.search(cell.text) and not _NOT_OURS.search(cell.text):
        return 2
    return 0


def select_rows(table: Table, name_col: int | None, keys: set[str]) -> list[tuple[Cell, ...]]:
    """The rows that are this model's: all of them when the table has no model column."""
    rows = [r for r in table.rows if any(c.text for c in r)]
    if name_col is None:
        return rows
    scores = [row_is_self(r, name_col, keys) for r in rows]
    best = max(scores, default=0)
    if best:
        return [r for r, s in zip(rows, scores, strict=True) if s == best]
    bold = [r for r in rows if name_col < len(r) and r[name_col].bold]
    if len(bold) == 1 and len(rows) > 1:
        return bold
    return []


def read_table_facts(ev: Evidence, doc: Document, names: list[str]) -> None:
    """Dimension and max length from this model's row of a comparison table ("| Model | Dim |")."""
    keys = self_keys(names)
    for table in doc.tables:
        heads = [" ".join(c.text.split()) for c in table.header]
        # a first column of names under a "Model" header, or under none ("|  | 维度 |" in m3e's card)
        names_first = all(r and not re.fullmatch(r"[\d.,%*\s]+", r[0].text) for r in table.rows)
        named = heads and (normalise(heads[0]) in NAME_HEADERS or (not heads[0] and names_first))
        if not named or len(table.rows) < 2:
            continue
        rows = select_rows(table, 0, keys)
        if len(rows) != 1:
            continue
        for field, pattern in _FACT_COLUMNS.items():
            for i, head in enumerate(heads):
                whole = re.fullmatch(r"\**\s*(\d{1,7})\s*\**", rows[0][i].text) if i < len(rows[0]) else None
                value = int(whole.group(1)) if whole and pattern.match(head) else None
                if value and 1 <= value <= MAX_SEQ_LENGTH:
                    ev.add(field, value, f"table:{head}", RANK_PROSE)
