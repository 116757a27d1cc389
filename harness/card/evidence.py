"""Evidence gathered while one card is read: candidate values with their source and rank, warnings.

Each fact may be stated several times (architecture block, YAML, description list, prose, ...).
Every statement becomes a `Candidate`; `Evidence.resolve` keeps the highest-ranked one and turns
each disagreeing statement into a mismatch warning. Nothing here knows about Markdown or YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.records import OVERRIDE_SOURCE, Claim, Finding, Sourced

MAX_WARNINGS_PER_CODE = 20

# Authority of each kind of evidence (higher wins).
RANK_OVERRIDE = 100
RANK_ARCHITECTURE = 80
RANK_YAML = 70
RANK_DESCRIPTION = 60
RANK_SNIPPET = 50
RANK_SNIPPET_LOW = 45
RANK_PROSE_SECTION = 30
RANK_PROSE = 20
RANK_INFERRED = 10

MISMATCH_CODE = {
    "model_id": "model-id-mismatch",
    "languages": "language-mismatch",
    "dimension": "dimension-mismatch",
    "pooling": "pooling-mismatch",
    "max_seq_length": "max-seq-length-mismatch",
    "architecture": "architecture-mismatch",
    "base_model": "base-model-mismatch",
    "datasets": "datasets-mismatch",
    "loss": "loss-mismatch",
    "license": "license-mismatch",
    "normalize": "normalize-mismatch",
    "revision": "revision-mismatch",
    "local_path": "local-path-mismatch",
}

LABEL = {
    "model_id": "model id",
    "languages": "languages",
    "dimension": "output dimension",
    "pooling": "pooling",
    "max_seq_length": "max_seq_length",
    "architecture": "architecture",
    "base_model": "base model",
    "datasets": "datasets",
    "loss": "loss",
    "license": "license",
    "normalize": "normalize",
    "revision": "revision",
    "local_path": "local path",
    "parameters": "parameter count",
}


@dataclass
class Candidate:
    value: Any
    source: str
    rank: int


class Evidence:
    """Mutable scratch state while one card is parsed; frozen into a ModelSpec at the end."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.cands: dict[str, list[Candidate]] = {}
        self.warnings: list[Finding] = []
        self.errors: list[str] = []
        self.claims: list[Claim] = []
        self.name: str | None = None
        self.multilingual: str | None = None  # where the card says "multilingual", if it does
        self._seen: set[tuple[str, str]] = set()
        self._per_code: dict[str, int] = {}

    def warn(self, code: str, message: str) -> None:
        if (code, message) in self._seen:
            return
        self._seen.add((code, message))
        count = self._per_code[code] = self._per_code.get(code, 0) + 1
        if count <= MAX_WARNINGS_PER_CODE:
            self.warnings.append(Finding(code=code, message=message))

    def findings(self) -> list[Finding]:
        extra = [
            Finding(code=code, message=f"{n - MAX_WARNINGS_PER_CODE} more {code} warnings not shown")
            for code, n in self._per_code.items()
            if n > MAX_WARNINGS_PER_CODE
        ]
        return [*self.warnings, *extra]

    def add(self, field: str, value: Any, source: str, rank: int) -> None:
        if value is None:
            return
        self.cands.setdefault(field, []).append(Candidate(value, source, rank))

    def has(self, field: str, min_rank: int = 0) -> bool:
        return any(c.rank >= min_rank for c in self.cands.get(field, []))

    def values(self, field: str, source: str | None = None) -> list[Any]:
        """Every value stated for a field (from one source when given), in the order stated."""
        return [c.value for c in self.cands.get(field, []) if source is None or c.source == source]

    def resolve(self, field: str) -> Sourced:
        cands = self.cands.get(field) or []
        if not cands:
            return Sourced()
        best = max(cands, key=lambda c: c.rank)  # the first of the highest rank
        reported: set[str] = set()
        for c in cands:
            if c is best or same(field, c.value, best.value):
                continue
            shown = f"{fmt(c.value)} ({c.source})"
            if shown in reported:
                continue
            reported.add(shown)
            label = LABEL.get(field, field)
            if best.source == OVERRIDE_SOURCE:
                self.warn(
                    "override-differs",
                    f"registry.toml sets {label} {fmt(best.value)} but the card says {shown}; "
                    "using the override",
                )
            else:
                self.warn(
                    MISMATCH_CODE.get(field, f"{field}-mismatch"),
                    f"the card gives {label} {shown} and {fmt(best.value)} ({best.source}); "
                    f"using {fmt(best.value)} from {best.source}",
                )
        return Sourced(value=best.value, source=best.source)


_FMT_BUDGET = 300  # characters of a shown value; YAML aliases can nest lists exponentially deep


def fmt(value: Any) -> str:
    """A value for a message, at most ~_FMT_BUDGET characters however large or nested it is."""
    parts: list[str] = []
    used = 0

    def emit(text: str) -> None:
        nonlocal used
        parts.append(text)
        used += len(text)

    def walk(v: Any, depth: int) -> None:
        if isinstance(v, list | tuple | dict):
            opening, closing = "{}" if isinstance(v, dict) else "[]"
            if depth >= 8:
                emit(f"{opening}…{closing}")
                return
            emit(opening)
            for i, item in enumerate(v.items() if isinstance(v, dict) else v):
                if used > _FMT_BUDGET:
                    emit("…")
                    break
                if i:
                    emit(", ")
                if isinstance(v, dict):
                    walk(item[0], depth + 1)
                    emit(": ")
                    walk(item[1], depth + 1)
                else:
                    walk(item, depth + 1)
            emit(closing)
        elif isinstance(v, str):
            emit(repr(clip(v, 80)))
        else:
            emit(clip(str(v), 80))

    walk(value, 0)
    return clip("".join(parts), _FMT_BUDGET + 20)


def clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def same(field: str, a: Any, b: Any) -> bool:
    """Whether two values of a field say the same thing (case-insensitive; lists as sets)."""
    if field in ("languages", "datasets") and isinstance(a, list) and isinstance(b, list):
        return {str(x).lower() for x in a} == {str(x).lower() for x in b}
    if isinstance(a, str) and isinstance(b, str):
        x, y = a.strip().lower(), b.strip().lower()
        if x == y:
            return True
        if field == "base_model":  # 'paraphrase-x' in prose names 'sentence-transformers/paraphrase-x'
            return x.rsplit("/", 1)[-1] == y.rsplit("/", 1)[-1] and ("/" not in x or "/" not in y)
        return False
    return a == b
