"""Words for readers: what warnings, error kinds and languages are called, and how numbers are written.

``ERROR_KIND_TEXT`` has exactly the keys of :data:`harness.records.ErrorKind` (a test checks it),
so every error kind a run writes is worded and no wording waits for a kind nothing writes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

from harness.evaluate import MAIN_METRIC, PairedTest, finite
from harness.records import ErrorKind
from harness.store import Other, StoredResult

#: how a claim whose metric the card does not state is compared (issue 27)
UNSTATED_METRIC_NOTE = "metric not stated by the card; compared with cosine Spearman, MTEB's main score"

WARNING_TEXT: dict[str, str] = {
    # identity
    "placeholder-model-id": "The card's model id is a template placeholder, so the card does not say "
    "which weights it describes.",
    "unsafe-model-id": "The card's model id is not a valid Hugging Face id and is not used or linked.",
    "duplicate-model-id": "Another registry entry uses the same model id.",
    "unnamed-card": "The card never names its own Hugging Face id, so it does not say which weights "
    "it describes.",
    "sibling-model-id": "The card's usage code loads another model of the same family, not the one the card "
    "is about; its id is not used.",
    "unfilled-template": "The card is an unfilled template: its name and description are placeholders.",
    "html-in-name": "The card's title contained HTML markup; it was removed.",
    "family-card": "The card describes several models and does not say which one it is; no model id "
    "is taken from it.",
    "base-model-in-usage": "The card's usage code builds the model on top of another model; that base "
    "model's id is not this model's.",
    "no-card": "No model card: the entry's facts come from mteb's model registry (`harness add --mteb`).",
    "generated-card": "The model has no card of its own; `harness add` generated one from its "
    "configuration files.",
    # language
    "inferred-language": "The card does not declare a language; the language was inferred from its "
    "example text.",
    "missing-language": "The card does not say which language the model is for.",
    "invalid-language": "The card lists a language code that is not valid; it was ignored.",
    # model configuration
    "max-seq-length-exceeds-positions": "The maximum sequence length is longer than the model's position "
    "embeddings allow.",
    "invalid-dimension": "The card states an embedding size that is not a plausible number; it was ignored.",
    "ambiguous-dimension": "The card states more than one embedding size (it describes more than one "
    "model); none was taken.",
    "invalid-max-seq-length": "The card states a maximum sequence length that is not plausible; it was "
    "ignored.",
    "invalid-pooling": "The card names a pooling mode that is not known; it was ignored.",
    "architecture-unparsed": "The card's architecture block could not be read.",
    "multiple-base-models": "The card names more than one base model.",
    "remote-code": "Loading the model runs code from its repository (trust_remote_code).",
    "model-files-missing": "The model's own files were not found, so the card could not be checked "
    "against them.",
    "model-files-corrupt": "Some of the model's files could not be read.",
    "local-path-missing": "The local weights folder named by the registry does not exist.",
    # the card text itself
    "mojibake-repaired": "Parts of the card were mis-encoded (mojibake) and were repaired before reading.",
    "non-utf8-encoding": "The card is not UTF-8 text; it was decoded with a guessed encoding.",
    "missing-license": "The card states no license.",
    "empty-front-matter": "The card's metadata block is empty.",
    "nonstandard-yaml-key": "The card's metadata uses a non-standard key; it was read anyway.",
    "yaml-duplicate-key": "The card's metadata repeats a key; the last value was used.",
    "unsafe-value": "A value in the card is not valid for its field (e.g. a license that is not a license "
    "identifier) and was ignored.",
    # claims
    "claim-without-split": "A claimed score does not say which split it was measured on (test is assumed).",
    "claim-ambiguous": "A claimed score is ambiguous about what it measures.",
    "invalid-claim": "A claimed score could not be read as a correlation between -1 and 1.",
    "aggregate-not-mean": "An average the card claims is not the mean of the scores beside it, so it "
    "is not compared.",
    "invalid-model-index": "The card's model-index metadata is malformed.",
    "too-many-claims": "The card makes more claims than the registry keeps.",
    # registry overrides
    "override-differs": "The registry overrides a value that the card states differently.",
    "unknown-override": "The registry override file has a key the registry does not know.",
}

_MISMATCH_FIELDS = {
    "model-id": "model id",
    "language": "language",
    "dimension": "embedding size",
    "pooling": "pooling",
    "max-seq-length": "maximum sequence length",
    "base-model": "base model",
    "datasets": "training datasets",
    "loss": "training loss",
    "license": "license",
    "normalize": "normalisation of embeddings",
    "revision": "weights revision",
    "local-path": "local weights folder",
}
for _field, _words in _MISMATCH_FIELDS.items():
    WARNING_TEXT[f"{_field}-mismatch"] = (
        f"The card and the model's files (or two parts of the card) state different values for the "
        f"{_words}; the most authoritative one is used."
    )

ERROR_KIND_TEXT: dict[ErrorKind, str] = {
    "weights-unavailable": "weights unavailable",
    "load-failed": "failed to load",
    "remote-code-refused": "needs trust_remote_code, which was not allowed",
    "out-of-memory": "out of memory",
    "non-finite": "non-finite embeddings or scores (NaN/inf)",
    "worker-failed": "the worker running it failed",
    "failed": "failed",
}

LANGUAGE_NAMES: dict[str, str] = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "bg": "Bulgarian", "bn": "Bengali",
    "ca": "Catalan", "cs": "Czech", "cy": "Welsh", "da": "Danish", "de": "German", "el": "Greek",
    "en": "English", "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian",
    "fi": "Finnish", "fo": "Faroese", "fr": "French", "ga": "Irish", "gl": "Galician",
    "gu": "Gujarati", "ha": "Hausa", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian",
    "hu": "Hungarian", "hy": "Armenian", "id": "Indonesian", "is": "Icelandic", "it": "Italian",
    "ja": "Japanese", "ka": "Georgian", "kk": "Kazakh", "kn": "Kannada", "ko": "Korean",
    "lt": "Lithuanian", "lv": "Latvian", "mk": "Macedonian", "ml": "Malayalam", "mr": "Marathi",
    "ms": "Malay", "mt": "Maltese", "nb": "Norwegian Bokmål", "nl": "Dutch", "no": "Norwegian",
    "pa": "Punjabi", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian",
    "sk": "Slovak", "sl": "Slovenian", "sq": "Albanian", "sr": "Serbian", "sv": "Swedish",
    "sw": "Swahili", "ta": "Tamil", "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish",
    "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese", "zh": "Chinese", "und": "undetermined language",
}  # fmt: skip


def language_name(code: str) -> str:
    return "–".join(LANGUAGE_NAMES.get(part, part) for part in code.split("-"))


_HUB_ID = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?/[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$"
)
NO_LINK_WARNINGS = frozenset({"placeholder-model-id", "unsafe-model-id", "unfilled-template"})


def hub_url(model_id: str | None) -> str | None:
    """``https://huggingface.co/<org>/<name>`` for a valid Hub id, else None."""
    if not model_id or not _HUB_ID.match(model_id) or ".." in model_id or "--" in model_id:
        return None
    return f"https://huggingface.co/{model_id}"


def md_escape(text: Any) -> str:
    """Escape text for a GitHub-flavoured Markdown table cell (no HTML, links or code spans)."""
    s = "" if text is None else str(text)
    s = re.sub(r"[\x00-\x1f\x7f]+", " ", s)
    s = s.replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for ch in "|`[]*":
        s = s.replace(ch, "\\" + ch)
    return s.strip()


def breakable(text: Any) -> Markup:
    """HTML-escaped text with break opportunities after "/" (long model ids wrap cleanly)."""
    html = str(escape("" if text is None else str(text)))
    return Markup(html.replace("/", "/<wbr>").replace("[", "<wbr>["))


def plain(text: Any) -> str:
    """Text without control characters (for terminals)."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f]+", " ", "" if text is None else str(text)).strip()


# --------------------------------------------------------------------------------------
# Number formatting
# --------------------------------------------------------------------------------------


def f2(value: float | None) -> str:
    if value is None:
        return "–"
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text


def signed(value: float | None) -> str:
    if value is None:
        return "–"
    text = f"{value:+.2f}"
    return "0.00" if text in {"+0.00", "-0.00"} else text


def p_text(p: float | None) -> str:
    if p is None:
        return "p = –"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def interval(ci: tuple[float, float] | None) -> str:
    return "" if ci is None else f"[{f2(ci[0])}, {f2(ci[1])}]"


def human_count(n: int | float | None) -> str:
    if n is None:
        return "–"
    n = float(n)
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{n:.0f}"


def human_bytes(n: int | float | None) -> str:
    if n is None:
        return "–"
    n = float(n)
    for div, suffix in ((1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB")):
        if n >= div:
            return f"{n / div:.2f} {suffix}"
    return f"{n:.0f} B"


def human_rate(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def paired_detail(test: PairedTest, with_n: bool = False) -> str:
    """``Δ +1.23 [0.40, 2.10], p = 0.004`` in points (×100); "–" when there was no test."""
    if test.status != "ok" or test.delta is None or test.ci is None:
        return "–"
    ci = interval((test.ci[0] * 100, test.ci[1] * 100))
    text = f"Δ {signed(test.delta * 100)} {ci}, {p_text(test.p_value)}"
    return f"{text}, n = {test.n_pairs}" if with_n else text


# --------------------------------------------------------------------------------------
# Other versions stored beside the run shown (harness.store.select_run)
# --------------------------------------------------------------------------------------

#: the selection rule, for the pages' notes (harness.store.selection)
SELECTION_RULE = (
    "the newest successful run stands; a run in fp16 or bf16 never replaces an fp32 run of the same "
    "model revision"
)


def other_runs(others: Sequence[Other[StoredResult]]) -> str:
    """The other versions stored beside a shown run: ``fp16: 66.10 (2026-12-07)``, ``...: failed``."""
    parts = []
    for other in others:
        run = other.item.run
        score = finite(run.scores.get(MAIN_METRIC)) if run.status == "ok" else None
        failed = ERROR_KIND_TEXT[run.error_kind] if run.error_kind else run.status
        what = f2(score * 100) if score is not None else failed
        when = (run.finished_at or run.started_at or "")[:10]
        parts.append(f"{other.differs}: {what}" + (f" ({when})" if when else ""))
    return "; ".join(parts)
