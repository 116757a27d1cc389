"""Who the card is about: its title, its Hub id, its languages.

The model id is the id the card names for *itself*. Candidates come from usage code
(``SentenceTransformer("org/name")``, ``from_pretrained``, ``MODEL_NAME = "org/name"``), a title
that is a Hub id, and links to a Hub model page (absolute or relative). The card's own names
(its title, the model-index name) decide between them: a candidate whose name is the title wins;
a usage snippet that loads a *sibling* (a different model of the same family, named like the title
but not the title) gives no id and a warning, and so does a card that never names itself, a family
README that lists several models without saying which one it is, and a ``models.Transformer(base)``
that the card builds on with more layers (`harness.card.family`).

Languages are the ones the card declares (YAML ``language:``, a "Language:" description item),
read through the one vocabulary in `harness.languages`; "multilingual" is a flag. With none
declared they are inferred from the card's example sentences, when the inference is sure.
"""

from __future__ import annotations

import ast
import functools
import re
from typing import Any

from harness import languages as vocab
from harness.card.evidence import (
    RANK_DESCRIPTION,
    RANK_INFERRED,
    RANK_PROSE,
    RANK_SNIPPET,
    RANK_SNIPPET_LOW,
    RANK_YAML,
    Evidence,
    clip,
    fmt,
)
from harness.card.family import builds_on_base, listed_models
from harness.card.fields import description_items
from harness.card.frontmatter import str_list
from harness.card.ids import classify_model_id
from harness.card.markdown import Document

_STOCK_SENTENCES = {
    "this is an example sentence",
    "each sentence is converted",
    "the weather is lovely today",
    "it's so sunny outside",
    "he drove to the stadium",
    "this is a test sentence",
    "this framework generates embeddings for each input sentence",
    "sentences are passed as a list of string",
    "the quick brown fox jumps over the lazy dog",
}
_Q = r"""(['"])(.{0,300}?)\1"""


def _call(callee: str, keyword: str) -> re.Pattern[str]:
    """A call whose first argument is a quoted string, given plainly or as `keyword=`."""
    return re.compile(rf"{callee}\(\s*(?:{keyword}\s*=\s*)?{_Q}")


_SNIPPETS = (
    (_call("SentenceTransformer", "model_name_or_path"), "usage:SentenceTransformer()", RANK_SNIPPET),
    (
        _call(r"\.from_pretrained", "pretrained_model_name_or_path"),
        "usage:from_pretrained()",
        RANK_SNIPPET_LOW,
    ),
    (_call(r"\bmodels\.Transformer", "model_name_or_path"), "usage:models.Transformer()", RANK_SNIPPET_LOW),
    (
        re.compile(rf"(?i)\b(?:\w*model_name\w*|\w*model_id|model_path|repo_id|model)\s*=\s*{_Q}"),
        "usage:model name",
        RANK_SNIPPET_LOW,
    ),
)
_HUB_LINK = re.compile(
    r"^(?:https?://huggingface\.co)?/?([A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95})/?(?:#.*)?$"
)
_TITLE_ID = re.compile(r"(?i)^(?:model card (?:for|of)\s+)?`?([A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)`?\s*$")
_NOT_MODEL_PAGES = {"datasets", "spaces", "docs", "blog", "papers", "models", "collections", "organizations"}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def read_title(ev: Evidence, doc: Document) -> None:
    title_block = doc.title
    if title_block is None:
        return
    title = title_block.text
    raw = doc.source_lines[title_block.line] if title_block.line < len(doc.source_lines) else title
    if re.search(r"<[A-Za-z/!][^>]*>", raw):
        ev.warn(
            "html-in-name",
            f"the card title contains HTML markup: {clip(raw.lstrip('# '), 80)!r}; stripped it",
        )
        title = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", "", raw.lstrip("# "))
        title = re.sub(r"<[^>]*>", "", title)
    title = re.sub(r"[\x00-\x1f\x7f]", "", title).strip().strip("#").strip()
    if re.search(r"\{\{?\s*[A-Z_][A-Z0-9_ ]*\s*\}?\}", title):
        ev.warn(
            "unfilled-template", f"the card title {clip(title, 60)!r} is an unfilled template placeholder"
        )
        return
    ev.name = clip(title, 200) or None


def self_names(ev: Evidence, meta: dict) -> list[str]:
    """The names the card gives itself: its title and its model-index names."""
    names = []
    if ev.name:
        names.append(ev.name)
    index = meta.get("model-index")
    if isinstance(index, list):
        for entry in index[:5]:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                names.append(entry["name"])
    if isinstance(meta.get("model_name"), str):
        names.append(meta["model_name"])
    return [n.strip() for n in names if n.strip()]


def _relation(self_key: str, candidate: str) -> str:
    """'self' when a name is the candidate's, 'family' when the candidate extends it, else 'other'."""
    cand = _key(candidate.rsplit("/", 1)[-1])
    full = _key(candidate)
    if not self_key or not cand:
        return "other"
    if self_key in (cand, full):
        return "self"
    if cand.startswith(self_key):
        return "family"
    return "other"


def _model_like(name: str) -> bool:
    """A title that is a model name (``sbert-base-ja-v2``), not a phrase."""
    return bool(re.fullmatch(r"[\w.\-/]{3,100}", name)) and bool(re.search(r"[\d\-_]", name))


def _owned_ids(body: str, name: str) -> list[str]:
    """The distinct Hub ids ``owner/<name>`` the card's text writes for a bare name."""
    pattern = re.compile(rf"(?<![\w./-])([A-Za-z0-9][\w.-]{{0,94}}/{re.escape(name)})(?![\w.-]*[\w-])")
    ids = {m.group(1) for m in pattern.finditer(body)}
    return sorted(i for i in ids if classify_model_id(i)[0] == "ok")


def _checkpoint_of(
    named: tuple[str, str, int], snippet_ids: list[tuple[str, str, int]]
) -> tuple[str, str, int]:
    """A title that names a project ("# shibing624/text2vec") while the usage code loads one model of
    it and never the title ("shibing624/text2vec-base-chinese"): that model is the card's."""
    value, where, rank = named
    owner, _, name = value.lower().partition("/")
    loaded = {v for v, _, _ in snippet_ids}
    longer = {v for v in loaded if v.lower().startswith(f"{owner}/{name}-")}
    if where == "title" and len(longer) == 1 and value not in loaded:
        return (longer.pop(), "usage+title", rank)
    return named


def read_model_id(ev: Evidence, doc: Document, meta: dict, body: str) -> None:
    found: list[tuple[str, str, int]] = []
    for regex, where, rank in _SNIPPETS:
        scope = body if where == "usage:SentenceTransformer()" else "\n".join(b.text for b in doc.code)
        found.extend((m.group(2).strip(), where, rank) for m in regex.finditer(scope))
    if builds_on_base(doc):
        bases = sorted({v for v, w, _ in found if w == "usage:models.Transformer()"})
        if bases:
            shown = ", ".join(repr(clip(v, 60)) for v in bases)
            ev.warn(
                "base-model-in-usage",
                f"the usage code builds on {shown} with models.Transformer() and the card adds a Dense "
                "layer: that is the base model, not this model's id",
            )
        found = [f for f in found if f[1] != "usage:models.Transformer()"]
    snippet_ids = [(v, w, r) for v, w, r in found if classify_model_id(v)[0] == "ok"]
    names = self_names(ev, meta)
    keys = [_key(n) for n in names if classify_model_id(n)[0] != "placeholder"]
    others: list[tuple[str, str, int]] = []
    named: list[tuple[str, str, int]] = []  # ids the card's own names spell out: "# Model card for org/name"
    for name in names:
        m = _TITLE_ID.match(name)
        if m and classify_model_id(m.group(1))[0] == "ok":
            named.append((m.group(1), "title" if name == ev.name else "yaml:model-index", RANK_YAML))
    named = [_checkpoint_of(n, snippet_ids) for n in named]
    for block in doc.blocks:
        for href in block.links:
            m = _HUB_LINK.match(href.strip())
            if (
                m
                and m.group(1).split("/", 1)[0].lower() not in _NOT_MODEL_PAGES
                and "." not in m.group(1)[-6:]
            ):
                others.append((m.group(1), "link", RANK_PROSE))
    candidates = [*snippet_ids, *others]

    def related(value: str, kinds: tuple[str, ...]) -> bool:
        return any(_relation(k, value) in kinds for k in keys)

    chosen = named + [c for c in candidates if related(c[0], ("self",))]
    family = listed_models(doc) if not chosen else []
    loaded = {v.lower() for v, _, _ in snippet_ids}
    if family and loaded & {f.lower() for f in family}:  # its code loads one of the models it lists
        shown = ", ".join(family[:6]) + (f" and {len(family) - 6} more" if len(family) > 6 else "")
        ev.warn(
            "family-card",
            f"the card lists {len(family)} models ({shown}) and does not say which one it is; model id "
            "unknown",
        )
        return
    if not chosen and snippet_ids:
        chosen = [c for c in snippet_ids if related(c[0], ("family",))]
        siblings = ev.name is not None and _model_like(ev.name) and not chosen
        if siblings and all(_key(v.rsplit("/", 1)[-1])[:4] == _key(ev.name)[:4] for v, _, _ in snippet_ids):
            shown = ", ".join(sorted({repr(clip(v, 60)) for v, _, _ in snippet_ids}))
            ev.warn(
                "sibling-model-id",
                f"the usage code loads {shown} but the card is titled {clip(ev.name, 60)!r}: another model "
                "of the family; model id unknown",
            )
            return
        chosen = chosen or snippet_ids
    placeholders = any(classify_model_id(v)[0] == "placeholder" for v, _, _ in found)
    if not chosen and not placeholders:  # named only by a bare name: its title or model-index name
        bare = [n for n in names if classify_model_id(n)[0] == "local" and _model_like(n)]
        owned = _owned_ids(body, bare[0]) if bare else []
        if len(owned) == 1:  # the card spells it out once as owner/name ("| **Org/Name** | 0.749 |")
            chosen = [(owned[0], "text", RANK_PROSE)]
        else:
            chosen = [(n, "title" if n == ev.name else "yaml:model-index", RANK_PROSE) for n in bare[:1]]
    seen: set[tuple[str, str]] = set()
    for value, where, rank in chosen:
        if (value, where) not in seen:
            seen.add((value, where))
            ev.add("model_id", value, where, rank)
    for value, where, _ in found:
        kind, why = classify_model_id(value)
        shown = repr(clip(value, 60))
        if kind == "unsafe":
            ev.warn(
                "unsafe-model-id",
                f"the usage snippet loads {shown} ({where}): {why}; not used as the model id",
            )
        elif kind in ("placeholder", "local") and not snippet_ids and where != "usage:model name":
            ev.warn(
                "placeholder-model-id", f"the usage snippet loads {shown} ({where}): {why}; model id unknown"
            )
    loads = re.compile(r"(?:SentenceTransformer|from_pretrained)\(\s*[^\s()]")
    named_others = others or any(loads.search(b.text) for b in doc.code)
    if not chosen and named_others and not any(w.code.endswith("model-id") for w in ev.warnings):
        ev.warn("unnamed-card", "the card never names its own Hub id; model id unknown")


# --------------------------------------------------------------------------------------------
# languages


def _example_sentences(meta: dict, doc: Document) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    widget = meta.get("widget")
    if isinstance(widget, list):
        for item in widget[:200]:
            if isinstance(item, str):
                found.append((item, "widget"))
            elif isinstance(item, dict):
                for k in ("source_sentence", "text", "sentence", "query"):
                    if isinstance(item.get(k), str):
                        found.append((item[k], "widget"))
                if isinstance(item.get("sentences"), list):
                    found.extend((s, "widget") for s in item["sentences"][:50] if isinstance(s, str))
    for block in doc.code:
        for m in re.finditer(r"\bsentences\s*=\s*\[(.{0,5000}?)\]", block.text, re.DOTALL):
            try:
                value = ast.literal_eval("[" + m.group(1) + "]")
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
            found.extend((s, "usage example") for s in value if isinstance(s, str))
    out, seen = [], set()
    for s, where in found:
        norm = s.strip().lower().rstrip(".!?")
        if norm and norm not in _STOCK_SENTENCES and norm not in seen:
            seen.add(norm)
            out.append((s.strip(), where))
    return out


@functools.lru_cache(maxsize=1)
def _detector() -> Any:
    from lingua import LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()


def infer_language(sentences: list[str]) -> tuple[str | None, float, float]:
    """(ISO 639-1 code or None, confidence on all the text, share of sentences that agree).

    A language is returned only when lingua is confident (>= 0.9) on enough text AND it is also
    the language of more than half of the sentences taken one by one: low-accuracy mode can be
    confidently wrong on mixed text (Portuguese + Spanish reads as Welsh), never both ways at once.
    """
    text = "\n".join(sentences)[:5000]
    if sum(ch.isalpha() for ch in text) < 20 or len(text.split()) < 4:
        return None, 0.0, 0.0
    try:
        detector = _detector()
        values = detector.compute_language_confidence_values(text)
        if not values or values[0].language.iso_code_639_1 is None:
            return None, 0.0, 0.0
        top = values[0]
        singles = [detector.detect_language_of(s) for s in sentences[:200]]
    except Exception:
        return None, 0.0, 0.0
    agree = sum(1 for lang in singles if lang == top.language) / max(1, len(singles))
    if top.value < 0.9 or agree <= 0.5:
        return None, float(top.value), agree
    return top.language.iso_code_639_1.name.lower(), float(top.value), agree


def read_languages(ev: Evidence, meta: dict, doc: Document) -> None:
    if "language" in meta or "language_bcp47" in meta:  # the Hub's two keys: ISO codes, BCP-47 tags
        values = [meta.get("language") or [], meta.get("language_bcp47") or []]
        got = vocab.read_languages([x for v in values for x in (v if isinstance(v, list) else [v])])
        for item in got.invalid:
            ev.warn("invalid-language", f"YAML language {fmt(item)} is not a language code; ignored")
        if got.codes:
            ev.add("languages", list(got.codes), "yaml:language", RANK_YAML)
        if got.multilingual:
            ev.multilingual = "yaml:language"
    tags, _ = str_list(meta.get("tags", []))
    if ev.multilingual is None and any(vocab.is_multilingual(t) for t in tags):
        ev.multilingual = "yaml:tags"
    for field, value, _ in description_items(doc):
        if field.lower() in ("language", "languages"):
            got = vocab.read_languages([p.strip() for p in value.split(",")])
            if got.codes and not got.invalid:
                ev.add("languages", list(got.codes), f"description:{field}", RANK_DESCRIPTION)
            if got.multilingual and ev.multilingual is None:
                ev.multilingual = f"description:{field}"
    if not ev.has("languages"):  # no language key: a tag that is a language's name ("chinese")
        codes: list[str] = []
        for tag in tags:  # names only: a short tag such as "nli" or "sts" is also some language's code
            code = vocab.normalize_language(tag) if re.fullmatch(r"[A-Za-z]{4,}", tag) else None
            if code and code != tag.lower() and code not in codes:
                codes.append(code)
        if codes:
            ev.add("languages", codes, "yaml:tags", RANK_DESCRIPTION)
    if ev.has("languages") or ev.multilingual:
        return
    sentences = _example_sentences(meta, doc)
    code, conf, agree = infer_language([s for s, _ in sentences])
    if code:
        wheres = sorted({w for _, w in sentences})
        ev.add(
            "languages", [code], "inferred:" + "+".join(w.replace(" ", "-") for w in wheres), RANK_INFERRED
        )
        ev.warn(
            "inferred-language",
            f"the card declares no language; inferred {code!r} (confidence {conf:.2f}; {agree:.0%} of "
            f"the sentences alone agree) from its {len(sentences)} example sentences ({', '.join(wheres)})",
        )
