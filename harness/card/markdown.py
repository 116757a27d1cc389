"""A card's Markdown body as data (markdown-it-py): headings, paragraphs, list items, tables, code.

Nothing downstream reads Markdown syntax with regexes: table rows are lists of cells, a cell
knows whether it is bold and where it links, a code block knows its info string, and every
block knows the heading it sits under. HTML comments are removed first (they hold template
hints such as ``<!--- Describe your model here -->``); HTML ``<table>`` blocks become tables too.
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

MAX_BODY_CHARS = 3_000_000

BlockKind = Literal["heading", "paragraph", "item", "code", "html"]


@dataclass(frozen=True)
class Cell:
    text: str  # plain text, Markdown markup removed
    bold: bool = False  # the whole cell is bold (or it holds a bold run)
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    header: tuple[Cell, ...]
    rows: tuple[tuple[Cell, ...], ...]
    line: int  # 0-based first line in the body
    section: str = ""  # the heading the table sits under ("" before any)
    caption: str = ""  # the paragraph or item just before the table

    @property
    def columns(self) -> list[str]:
        return [c.text for c in self.header]


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str  # plain text (lines kept); code: the code itself
    line: int
    section: str = ""
    end: int = 0  # 0-based line after the block
    level: int = 0  # heading level
    info: str = ""  # code fence info string ("python")
    bold: tuple[str, ...] = ()  # the bold runs, in order
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class Document:
    blocks: tuple[Block, ...] = ()
    tables: tuple[Table, ...] = ()
    source_lines: tuple[str, ...] = field(default=(), repr=False)

    @property
    def headings(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "heading"]

    @property
    def code(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "code"]

    @property
    def prose(self) -> list[Block]:
        """Paragraphs, list items and headings: the text a reader reads."""
        return [b for b in self.blocks if b.kind in ("paragraph", "item", "heading")]

    @property
    def title(self) -> Block | None:
        return next((b for b in self.blocks if b.kind == "heading" and b.level == 1), None)

    def prose_lines(self) -> list[str]:
        return [line for b in self.prose for line in b.text.split("\n")]

    def text_before(self, line: int) -> str:
        """The paragraph or list item just before a line: the caption of a table or code block."""
        prev = [b for b in self.blocks if b.line < line and b.kind in ("paragraph", "item")]
        return prev[-1].text if prev else ""

    def source_without_code(self) -> str:
        """The Markdown source with code blocks blanked (line numbers kept)."""
        lines = list(self.source_lines)
        for b in self.code:
            for i in range(b.line, min(b.end, len(lines))):
                lines[i] = ""
        return "\n".join(lines)


def strip_comments(text: str) -> str:
    """HTML comments removed, line breaks kept (so line numbers still match the card)."""
    out, i = [], 0
    while True:
        s = text.find("<!--", i)
        if s < 0:
            out.append(text[i:])
            break
        e = text.find("-->", s + 4)
        if e < 0:
            out.append(text[i:])
            break
        out.append(text[i:s])
        out.append("\n" * text.count("\n", s, e))
        i = e + 3
    return "".join(out)


@functools.lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable("table")


def _inline(token: Token) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(plain text, bold runs, link targets) of an inline token."""
    parts: list[str] = []
    bold: list[str] = []
    links: list[str] = []
    depth = 0
    run: list[str] = []
    for child in token.children or []:
        kind = child.type
        if kind in ("text", "code_inline"):
            parts.append(child.content)
            if depth:
                run.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif kind == "strong_open":
            depth += 1
        elif kind == "strong_close":
            depth = max(0, depth - 1)
            if not depth and "".join(run).strip():
                bold.append("".join(run).strip())
            run = []
        elif kind == "link_open":
            href = child.attrs.get("href")
            if isinstance(href, str):
                links.append(href)
        elif kind == "image":
            parts.append(child.content)
        elif kind == "html_inline":
            tag = child.content.lower()
            if tag.startswith(("<br", "<p")):
                parts.append(" ")
            elif tag in ("<b>", "<strong>"):
                depth += 1
            elif tag in ("</b>", "</strong>"):
                depth = max(0, depth - 1)
                if not depth and "".join(run).strip():
                    bold.append("".join(run).strip())
                run = []
    text = html.unescape("".join(parts))
    return text, tuple(bold), tuple(links)


def _cell(token: Token) -> Cell:
    text, bold, links = _inline(token)
    text = " ".join(text.split())
    return Cell(text=text, bold=bool(bold) and any(b in text for b in bold), links=links)


class _HtmlTables(HTMLParser):
    """Tables in an HTML block: rows of (text, bold, links) cells; the first row is the header."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[Cell]]] = []
        self._row: list[Cell] | None = None
        self._cell: list[str] | None = None
        self._bold = 0
        self._cell_bold = False
        self._links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell, self._cell_bold, self._links = [], tag == "th" and False, []
        elif tag in ("b", "strong"):
            self._bold += 1
        elif tag == "a" and self._cell is not None:
            self._links.extend(v for k, v in attrs if k == "href" and v)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            text = " ".join("".join(self._cell).split())
            self._row.append(Cell(text=text, bold=self._cell_bold, links=tuple(self._links)))
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            if self._row:
                self.tables[-1].append(self._row)
            self._row = None
        elif tag in ("b", "strong"):
            self._bold = max(0, self._bold - 1)

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
            if self._bold and data.strip():
                self._cell_bold = True


def _html_tables(content: str, line: int, section: str, caption: str) -> list[Table]:
    if "<table" not in content.lower():
        return []
    parser = _HtmlTables()
    try:
        parser.feed(content)
        parser.close()
    except Exception:  # a broken HTML block is not a table
        return []
    return [
        Table(
            header=tuple(rows[0]),
            rows=tuple(tuple(r) for r in rows[1:]),
            line=line,
            section=section,
            caption=caption,
        )
        for rows in parser.tables
        if len(rows) >= 2
    ]


_DELIMITER_ROW = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)+\|?\s*$")


def _split_lazy_table(content: str) -> tuple[str, str | None]:
    """(text before, table source) when a paragraph's lines hold a pipe table; (content, None) else."""
    lines = content.split("\n")
    for i in range(1, len(lines)):
        if _DELIMITER_ROW.match(lines[i]) and "|" in lines[i - 1]:
            return "\n".join(lines[: i - 1]), "\n".join(lines[i - 1 :])
    return content, None


def _read_table(tokens: list[Token], i: int) -> tuple[tuple[Cell, ...], tuple[tuple[Cell, ...], ...], int]:
    """(header, rows, index of table_close) of the table that opens at tokens[i]."""
    j = i
    header: list[Cell] = []
    rows: list[tuple[Cell, ...]] = []
    row: list[Cell] = []
    while j < len(tokens) and tokens[j].type != "table_close":
        t = tokens[j]
        if t.type == "inline":
            row.append(_cell(t))
        elif t.type == "tr_close":
            if not header:
                header = row
            else:
                rows.append(tuple(row))
            row = []
        j += 1
    return tuple(header), tuple(rows), j


def parse(body: str) -> Document:
    """The Document of a card body (the text after the front matter)."""
    body = strip_comments(body[:MAX_BODY_CHARS])
    tokens = _parser().parse(body)
    blocks: list[Block] = []
    tables: list[Table] = []
    section = ""
    caption = ""
    in_item = 0
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        line = tok.map[0] if tok.map else 0
        if tok.type == "heading_open":
            text, bold, links = _inline(tokens[i + 1])
            text = " ".join(text.split())
            level = int(tok.tag[1:])
            blocks.append(Block("heading", text, line, section, level=level, bold=bold, links=links))
            section = text
            caption = ""
            i += 3
            continue
        if tok.type == "list_item_open":
            in_item += 1
        elif tok.type == "list_item_close":
            in_item -= 1
        elif tok.type == "inline" and tokens[i - 1].type == "paragraph_open":
            kind: BlockKind = "item" if in_item else "paragraph"
            lead, table_src = _split_lazy_table(tok.content)
            if table_src is None:
                text, bold, links = _inline(tok)
            else:  # a table written straight under a list item ("- On dev" then "| Model |...")
                lead_tok = _parser().parseInline(lead)[0] if lead.strip() else None
                text, bold, links = _inline(lead_tok) if lead_tok else ("", (), ())
            blocks.append(Block(kind, text, line, section, bold=bold, links=links))
            caption = text
            if table_src is not None:
                offset = line + lead.count("\n") + (1 if lead else 0)
                sub = _parser().parse(table_src)
                for k, sub_tok in enumerate(sub):
                    if sub_tok.type == "table_open":
                        header, rows, _ = _read_table(sub, k)
                        tables.append(Table(header, rows, offset, section, caption))
        elif tok.type in ("fence", "code_block"):
            info = tok.info.strip().split(" ", 1)[0].lower() if tok.type == "fence" else ""
            end = tok.map[1] if tok.map else line
            blocks.append(Block("code", tok.content, line, section, end=end, info=info))
        elif tok.type == "html_block":
            blocks.append(Block("html", tok.content, line, section))
            tables.extend(_html_tables(tok.content, line, section, caption))
        elif tok.type == "table_open":
            header, rows, j = _read_table(tokens, i)
            tables.append(Table(header, rows, line, section, caption))
            i = j + 1
            continue
        i += 1
    return Document(tuple(blocks), tuple(tables), tuple(body.split("\n")))


_MD_MARKUP = re.compile(r"[*`_|]+")


def plain(text: str) -> str:
    """Markdown emphasis, code ticks and table bars removed from a line of Markdown source."""
    return _MD_MARKUP.sub(" ", text.replace("<code>", " ").replace("</code>", " ")).strip()
