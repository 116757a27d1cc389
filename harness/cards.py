"""Moved: the card code is the `harness.card` package (this name stays until every import moves)."""

from harness.card import (
    KEY_RE,
    MAX_CARD_BYTES,
    classify_model_id,
    crosscheck,
    infer_language,
    normalize_language,
    parse_card,
    parse_card_text,
    repair_mojibake,
)

__all__ = [
    "KEY_RE",
    "MAX_CARD_BYTES",
    "classify_model_id",
    "crosscheck",
    "infer_language",
    "normalize_language",
    "parse_card",
    "parse_card_text",
    "repair_mojibake",
]
