"""Model cards: read a card (a Hub README.md) into a `ModelSpec`, and check it against the model files.

The package by concept:

    text.py          bytes -> clean text (encodings, byte-order marks, mojibake)
    frontmatter.py   the YAML front matter
    markdown.py      the Markdown body as data (headings, paragraphs, list items, tables, code)
    ids.py           Hub ids, registry keys, placeholders
    identity.py      who the card is about: title, model id, languages
    fields.py        structural facts: dimension, pooling, max_seq_length, architecture, ...
    claims.py        STS claims (model-index) and merging; claim_tables.py, claim_text.py and
                     claim_words.py read the rest (dataset names: `harness.sts_datasets`)
    rows.py          this model's row of a comparison table (and the facts it states)
    spec.py          assembles the `ModelSpec` (and applies registry overrides)
    crosscheck.py    the spec against the model's own files (`harness.model_files`)
"""

from harness.card.crosscheck import crosscheck
from harness.card.identity import infer_language
from harness.card.ids import KEY_RE, classify_model_id, is_template_title, key_for_folder, valid_key
from harness.card.spec import OVERRIDE_TYPES, parse_card, parse_card_text
from harness.card.text import MAX_CARD_BYTES, repair_mojibake
from harness.languages import normalize_language

__all__ = [
    "KEY_RE",
    "MAX_CARD_BYTES",
    "OVERRIDE_TYPES",
    "classify_model_id",
    "crosscheck",
    "infer_language",
    "is_template_title",
    "key_for_folder",
    "normalize_language",
    "parse_card",
    "parse_card_text",
    "repair_mojibake",
    "valid_key",
]
