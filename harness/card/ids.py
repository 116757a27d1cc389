"""Names a card gives: Hub model ids, registry keys, and which of them are placeholders or unsafe."""

from __future__ import annotations

import re

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*(__[a-z0-9._-]+)?$")
_HUB_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"
HUB_ID_RE = re.compile(rf"^{_HUB_PART}/{_HUB_PART}$")
_BARE_NAME_RE = re.compile(rf"^{_HUB_PART}$")

PLACEHOLDER_IDS = frozenset(
    {
        "model_id",
        "model-id",
        "modelid",
        "model_name",
        "model-name",
        "model_name_or_path",
        "model_path",
        "sentence_transformers_model_id",
        "your_model_id",
        "your-model-id",
        "your_model",
        "your-model",
        "path/to/model",
        "path/to/your/model",
        "username/model_name",
        "your-username/your-model",
        "your_username/your_model",
        "hub_model_id",
        "repo_id",
    }
)


def is_placeholder(value: str) -> bool:
    s = value.strip()
    return (
        not s
        or s.lower() in PLACEHOLDER_IDS
        or bool(re.fullmatch(r"\{\{?\s*[\w .-]+\s*\}?\}", s))
        or bool(re.fullmatch(r"<[\w .-]+>", s))
        or bool(re.fullmatch(r"\$\{?\w+\}?", s))
    )


# Headings that card templates write for every model: sentence-transformers' ("SentenceTransformer",
# "SentenceTransformer based on <base>") and the Hub's ("Model Card for Model ID").
_TEMPLATE_TITLE_RE = re.compile(r"(?i)^(?:SentenceTransformer(?: based on \S+)?|Model Card for Model ID)$")


def is_template_title(title: str) -> bool:
    """Whether a card title is a template's heading, which names no model."""
    return bool(_TEMPLATE_TITLE_RE.match(" ".join(title.split())))


def classify_model_id(value: str) -> tuple[str, str]:
    """('ok' | 'placeholder' | 'local' | 'unsafe', explanation)."""
    s = value.strip()
    if not s:
        return "placeholder", "an empty string"
    if is_placeholder(s):
        return "placeholder", "a template placeholder"
    if HUB_ID_RE.match(s) and ".." not in s and "--" not in s and not s.lower().endswith(".git"):
        return "ok", ""
    if _BARE_NAME_RE.match(s) and ".." not in s:
        return "local", "a bare name without an owner/ prefix: evidently a local save folder, not a Hub id"
    return "unsafe", "not a valid Hub id (path-like or odd characters)"


def valid_key(name: str) -> bool:
    """A registry key: lower-case ``org__name`` or a plain name, safe as a path component."""
    return isinstance(name, str) and bool(KEY_RE.match(name)) and ".." not in name and len(name) <= 200


def key_for_folder(name: str) -> str | None:
    """The registry key of an entry folder: its name, lower-cased when it is a Hub id spelled with
    ``__`` (``Org__Name`` -> ``org__name``); None when the name cannot be a key."""
    if valid_key(name):
        return name
    low = name.lower()
    if "__" in name and valid_key(low) and HUB_ID_RE.match(name.replace("__", "/", 1)):
        return low
    return None
