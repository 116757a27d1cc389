"""Claims in tables: Markdown and HTML tables, and CSV printed in code blocks.

Three shapes, told apart by the header cells:

* metric rows (``| Metric | Value |`` / ``| Metric | sts-dev | sts-test |``): a row per correlation;
* metric columns (``cosine_pearson | cosine_spearman``, ``Pearson correlation``, ``Spearman German``),
  one row per model, or one row per similarity (``| Cosine Similarity | 0.8275 | 0.8245 |``);
* dataset columns (``| Model | STSB | STS12 | ... | Mean |``): the metric is the one the table's
  caption, heading or the text right after it names ("**Spearman score**"), one table per metric.

A table with a model column has one row per model: the row read is this model's, found by its id,
its name, a link to its page (absolute or relative), "(ours)", or a bold name among plain ones;
other rows belong to other models. A table with an epoch or step column is a training log: the
last row with a value in each column and split (or the bold row) is the released model's claim,
earlier rows are kept as history (`Claim.history`, with the row as `checkpoint`). A table that
names no correlation anywhere gives claims with metric "unstated". An average column ("Avg",
"Mean", "Overall") over dataset columns is an aggregate claim over those datasets, kept
when it equals their mean as the card rounds it. Percentages are read as 0-1.
"""

from __future__ import annotations

import re
from typing import Any

from harness.card.claim_words import (
    UNSTATED,
    Found,
    Metric,
    cell_number,
    dataset_info,
    dataset_line,
    make_claim,
    metric_of,
    read_value,
    similarity_in,
    split_in,
    subset_of,
)
from harness.card.evidence import Evidence, clip
from harness.card.markdown import Cell, Document, Table
from harness.card.rows import NAME_HEADERS, select_rows, self_keys
from harness.languages import normalize_language
from harness.sts_datasets import (
    dataset_mentions,
    is_aggregate,
    is_average,
    names_other_benchmark,
    normalise,
    sts_dataset,
)

_EPOCH_HEADERS = {"epoch", "epochs", "step", "steps", "globalstep"}
_SPLIT_HEADERS = {"split", "set", "evalset", "evaluation"}
_TASK_HEADERS = {"dataset", "datasets", "task", "tasks", "data", "benchmark", "language", "languages", "lang"}


def _header(cell: Cell) -> str:
    return " ".join(cell.text.replace("[", " ").replace("]", " ").split())


def languages_named(text: str) -> list[str]:
    """Languages a caption or header names: "German", "English", "EN-DE", "German-English"."""
    found: list[str] = []
    for word in re.findall(r"\b[A-Z][a-z]{3,}\b|\b[A-Z]{2}(?=-[A-Z]{2}\b)|(?<=[A-Z]{2}-)[A-Z]{2}\b", text):
        code = normalize_language(word)
        if code and code not in found:
            found.append(code)
    return found


def _subset(codes: list[str]) -> str | None:
    return "-".join(codes) if 1 <= len(codes) <= 2 else None


# --------------------------------------------------------------------------------------------
# which rows are this model's


Row = tuple[Cell, ...]


def _log_roles(
    rows: list[Row], col: int, epoch_cols: list[int], key_cols: list[int], heads: list[str]
) -> dict[int, str | None]:
    """A training log's rows with a value in column `col`: row index -> None for the released
    model's row (the bold row, else the last row of each split/dataset group), else the checkpoint
    ("Epoch 1.0, Step 360") of an earlier row, which is history."""
    valued = [i for i, r in enumerate(rows) if col < len(r) and cell_number(r[col].text) is not None]
    bold = [i for i in valued if any(c.bold for c in rows[i])]
    final: set[int] = set()
    if len(bold) == 1 and not key_cols:
        final = set(bold)
    else:
        last: dict[tuple[str, ...], int] = {}
        for i in valued:
            last[tuple(rows[i][k].text.lower() for k in key_cols if k < len(rows[i]))] = i
        final = set(last.values())
    return {
        i: None
        if i in final
        else ", ".join(f"{heads[k]} {rows[i][k].text}" for k in epoch_cols if k < len(rows[i]))
        for i in valued
    }


# --------------------------------------------------------------------------------------------
# context: what the caption, heading and following text say


def _context(doc: Document, table: Table) -> tuple[str, str]:
    """(text before the table since the previous table of its section, with the heading;
    the paragraph right after it in the same section, with the list it introduces ("Notes:"))."""
    start = max(
        (t.line for t in doc.tables if t.section == table.section and t.line < table.line), default=-1
    )
    before = [
        b.text
        for b in doc.blocks
        if start < b.line < table.line and b.section == table.section and b.kind in ("paragraph", "item")
    ]
    after: list[str] = []
    next_table = min((t.line for t in doc.tables if t.line > table.line), default=None)
    for b in doc.blocks:
        if b.line <= table.line or (next_table is not None and b.line > next_table):
            continue
        if b.section != table.section or b.kind not in ("paragraph", "item"):
            if after:
                break
            continue
        if after and not (b.kind == "item" and after[0].rstrip().endswith((":", "："))):
            break
        after.append(b.text)
        if b.kind == "paragraph" and len(after) == 1 and not b.text.rstrip().endswith((":", "：")):
            break
    return "\n".join([*before, table.section]), "\n".join(after)


def _context_metric(before: str, after: str) -> Metric | None:
    for text in (before, after):
        words = {w.lower() for w in re.findall(r"(?i)spearman|pearson", text)}
        if len(words) == 1:
            return Metric(words.pop(), similarity_in(text) or "unspecified")
    return None


# --------------------------------------------------------------------------------------------
# the three shapes


def _claim(metric: Metric, raw: str, **fields: Any) -> Found | None:
    """The claim a table cell's number makes; ``fields`` are :func:`make_claim`'s (dataset, split, ...)."""
    value, decimals, problem = read_value(raw)
    if problem or value is None:
        return None
    claim = make_claim(metric, value, **fields)
    return Found(claim, decimals)


def _row_quote(table: Table, row: tuple[Cell, ...]) -> str:
    return clip(" | ".join(c.text for c in table.header) + " / " + " | ".join(c.text for c in row), 300)


def _metric_rows(table: Table, ctx: dict, source: str) -> list[Found]:
    """| Metric | Value |  or  | Metric | sts-dev | sts-test |"""
    out: list[Found] = []
    for row in table.rows:
        metric = metric_of(row[0].text) if row else None
        if metric is None:
            continue
        for i, cell in enumerate(row[1:], start=1):
            raw = cell_number(cell.text)
            if raw is None or i >= len(table.header):
                continue
            head = _header(table.header[i])
            ds, split, lang = (
                dataset_info(head) if head.lower() not in ("value", "score", "") else (None, None, None)
            )
            found = _claim(
                metric,
                raw,
                dataset=ds or ctx["dataset"],
                split=split or ctx["split"],
                language=lang or ctx["language"],
                source=source,
                quote=_row_quote(table, row) + ctx["note"],
            )
            if found:
                out.append(found)
    return out


def _row_dataset(row: tuple[Cell, ...], task_cols: list[int]) -> tuple[str | None, str | None]:
    """(dataset, language subset) a row names in its dataset/task/language column."""
    for i in task_cols:
        if i >= len(row) or not row[i].text:
            continue
        text = row[i].text
        subset = subset_of(text) or _subset(languages_named(text))
        info = sts_dataset(text)
        return (text if info.is_sts or not subset else None), subset or subset_of(info.subset)
    return None, None


def table_claims_of(
    ev: Evidence, doc: Document, table: Table, self_keys: set[str], only: str | None, source: str = "table"
) -> list[Found]:
    heads = [_header(c) for c in table.header]
    before, after = _context(doc, table)
    if names_other_benchmark(before):
        return []
    mentions = dataset_mentions(before)
    line = dataset_line(before)
    ctx = {
        "note": f" [Dataset: {line[0] or ''}{'-' + line[1] if line[1] else ''}]" if line else "",
        "dataset": line[0] if line else mentions[0] if mentions else None,
        "split": (line[1] if line else None) or split_in(before),
        "language": (line[2] if line else None) or _subset(languages_named(before)) or only,
    }
    if (heads and normalise(heads[0]) in ("metric", "metrics")) or (
        len(heads) >= 2
        and sum(1 for r in table.rows if r and metric_of(r[0].text)) >= max(1, len(table.rows) // 2)
    ):
        return _metric_rows(table, ctx, source)
    kinds: list[str] = []
    for h in heads:
        key = normalise(h)
        if key in NAME_HEADERS:
            kinds.append("name")
        elif key in _EPOCH_HEADERS:
            kinds.append("epoch")
        elif key in _SPLIT_HEADERS:
            kinds.append("split")
        elif key in _TASK_HEADERS or key.endswith("task"):
            kinds.append("task")
        elif is_aggregate(h):
            kinds.append("aggregate")
        elif metric_of(h):
            kinds.append("metric")
        elif sts_dataset(h).is_sts or key == "all":  # "all": the union of the card's test sets
            kinds.append("dataset")
        else:
            kinds.append("other")
    name_col = kinds.index("name") if "name" in kinds else None
    names_first = all(cell_number(r[0].text) is None for r in table.rows if r)
    # | | Pearson | Spearman | with a row per similarity ("Cosine Similarity", "Manhattan Distance"):
    # the sentence-transformers evaluator's table of one model, each row its own similarity
    by_similarity = (
        "metric" in kinds
        and kinds[0] == "other"
        and names_first
        and sum(1 for r in table.rows if r and similarity_in(r[0].text)) > len(table.rows) // 2
    )
    if name_col is None and kinds and kinds[0] == "other" and len(table.rows) > 1 and names_first:
        name_col = 0  # a first column of names, whatever its header says
    rows = list(table.rows) if by_similarity else select_rows(table, name_col, self_keys)
    epoch_cols = [i for i, k in enumerate(kinds) if k == "epoch"]
    key_cols = [i for i, k in enumerate(kinds) if k in ("split", "task")]
    task_cols = [i for i, k in enumerate(kinds) if k == "task"]
    split_cols = [i for i, k in enumerate(kinds) if k == "split"]
    out: list[Found] = []
    columns: list[
        tuple[int, Metric, str | None, str | None, str | None]
    ] = []  # (col, metric, ds, split, lang)
    context_similarity = similarity_in(re.sub(r"(?i)spearman|pearson|correlation", " ", before))
    note = ctx["note"]
    if "metric" in kinds:
        for i, k in enumerate(kinds):
            if k != "metric":
                continue
            metric = metric_of(heads[i])
            if metric is not None and metric.similarity == "unspecified" and context_similarity:
                metric = Metric(metric.metric, context_similarity)
            ds, split, lang = dataset_info(re.sub(r"(?i)[\w-]*(spearman|pearson)[\w-]*", " ", heads[i]))
            ds = ds if ds and sts_dataset(ds).is_sts else None
            lang = lang or _subset(languages_named(heads[i])) or subset_of(_cross(heads[i]))
            columns.append((i, metric, ds, split or split_in(heads[i]), lang))
    else:
        datasets = [i for i, k in enumerate(kinds) if k == "dataset"]
        if not datasets:
            return []
        metric = _context_metric(before, after)
        if metric is None:  # scores on STS datasets that name no correlation: the card does not say
            metric = UNSTATED
            note += " [metric not stated by the card]"
        for i in datasets:
            info = sts_dataset(heads[i])
            columns.append((i, metric, heads[i], split_in(heads[i]), subset_of(info.subset)))
    roles_by_col = (
        {c: _log_roles(rows, c, epoch_cols, key_cols, heads) for c, *_ in columns} if epoch_cols else {}
    )
    for i, row in enumerate(rows):
        row_ds, row_lang = _row_dataset(row, task_cols)
        row_split = next((split_in(row[i].text) for i in split_cols if i < len(row)), None)
        row_split = row_split or next((split_in(row[i].text) for i in task_cols if i < len(row)), None)
        row_similarity = similarity_in(row[0].text) if by_similarity and row else None
        for col, metric, ds, split, lang in columns:
            if col >= len(row) or (by_similarity and row_similarity is None):
                continue
            if row_similarity is not None and metric.similarity == "unspecified":
                metric = Metric(metric.metric, row_similarity)
            raw = cell_number(row[col].text)
            roles = roles_by_col[col] if epoch_cols else {i: None}
            if raw is None or i not in roles:
                continue
            found = _claim(
                metric,
                raw,
                dataset=ds or row_ds or ctx["dataset"],
                split=split or row_split or ctx["split"] or split_in(heads[col]),
                language=lang or row_lang or ctx["language"],
                source=source,
                quote=_row_quote(table, row) + note,
                checkpoint=roles[i],
            )
            if found:
                out.append(found)
        if "metric" not in kinds and not epoch_cols:
            out.extend(_averages(ev, table, row, heads, kinds, columns, ctx, source, note))
    return out


def _averages(
    ev: Evidence,
    table: Table,
    row: Row,
    heads: list[str],
    kinds: list[str],
    columns: list[tuple[int, Metric, str | None, str | None, str | None]],
    ctx: dict,
    source: str,
    note: str,
) -> list[Found]:
    """The row's average columns as aggregate claims over the dataset columns before them."""
    out: list[Found] = []
    for col, kind in enumerate(kinds):
        raw = cell_number(row[col].text) if kind == "aggregate" and col < len(row) else None
        if raw is None or not is_average(heads[col]):
            continue
        parts = [(heads[c], cell_number(row[c].text)) for c, *_ in columns if c < col and c < len(row)]
        values = [read_value(v) for _, v in parts if v is not None]
        if len(parts) < 2 or len(values) != len(parts) or any(v[0] is None for v in values):
            continue
        found = _claim(
            columns[0][1],
            raw,
            dataset=heads[col],
            split=ctx["split"],
            language=ctx["language"],
            source=source,
            quote=_row_quote(table, row) + note,
            aggregate_of=[name for name, _ in parts],
        )
        if found is None:
            continue
        mean = sum(v[0] for v in values) / len(values)  # type: ignore[misc]
        if abs(mean - found.claim.value) > 0.5 * 10 ** -(found.decimals or 4) + 0.5e-4:
            ev.warn(
                "aggregate-not-mean",
                f"the card's {heads[col]!r} {raw} is not the mean of {', '.join(n for n, _ in parts)} "
                f"({mean * 100:.2f}); not an aggregate claim",
            )
            continue
        out.append(found)
    return out


def _cross(header: str) -> str | None:
    m = re.search(r"\b([A-Za-z]{2})-([A-Za-z]{2})\b", header)
    return f"{m.group(1)}-{m.group(2)}" if m else None


# --------------------------------------------------------------------------------------------
# CSV in code blocks


def csv_tables(doc: Document) -> list[Table]:
    """Tables printed as CSV in code blocks (``epoch,steps,cosine_pearson,...``)."""
    out = []
    for block in doc.code:
        lines = [ln.strip() for ln in block.text.strip().split("\n") if ln.strip()]
        if len(lines) < 2 or "," not in lines[0] or not re.search(r"(?i)spearman|pearson", lines[0]):
            continue
        header = tuple(Cell(h.strip()) for h in lines[0].split(","))
        rows = tuple(
            tuple(Cell(c.strip()) for c in ln.split(","))
            for ln in lines[1:]
            if ln.count(",") == len(header) - 1
        )
        if rows:
            out.append(Table(header, rows, block.line, block.section, doc.text_before(block.line)))
    return out


def table_claims(ev: Evidence, doc: Document, self_names: list[str], only: str | None) -> list[Found]:
    keys = self_keys(self_names)
    out: list[Found] = []
    for table in doc.tables:
        out.extend(table_claims_of(ev, doc, table, keys, only))
    for table in csv_tables(doc):
        out.extend(table_claims_of(ev, doc, table, keys, only, source="csv"))
    return out
