"""Structural facts a card states: dimension, pooling, max_seq_length, architecture, base model,
datasets, loss, license, normalisation.

Read from, in order of authority: the architecture printout (``SentenceTransformer(...)``, the
same printout wrapped in another class such as ``CoSENT(...)``, or shown in a ``>>> model``
session), the YAML front matter, the "Model Description" list of the current card template,
usage code (``def mean_pooling``, ``last_hidden_state[:, 0]``, ``model.max_seq_length = 512``,
``BertModel.from_pretrained``), then prose and lists ("mean-pooling", "last-token pooling",
"embedding dimension 1024", "max length 8192").
"""

from __future__ import annotations

import ast
import re
from typing import Any

from harness.card.evidence import (
    RANK_ARCHITECTURE,
    RANK_DESCRIPTION,
    RANK_PROSE,
    RANK_PROSE_SECTION,
    RANK_SNIPPET,
    RANK_YAML,
    Evidence,
    fmt,
)
from harness.card.frontmatter import str_list
from harness.card.ids import classify_model_id
from harness.card.markdown import Block, Document
from harness.model_files import MAX_SEQ_LENGTH, POOL_FLAGS, POOL_NAMES, pooling_from_config

MAX_DIMENSION = 131_072
MAX_LINE_CHARS = 20_000
LICENSE_RE = re.compile(r"^[A-Za-z0-9][\w.\-+]{0,99}$")
SAFE_NAME_RE = re.compile(r"^[A-Za-z0-9][\w.\-/+ ]{0,199}$")
IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")

# "(1): Pooling({...})" lines of a Sentence Transformers printout, whatever wraps them
_MODULE_LINE = re.compile(
    r"^\s*(?:>>>\s*|\.\.\.\s*)?\((\w+)\):\s*([A-Za-z_]\w*)\((.*)\)\s*"
    r"(?:with Transformer model:\s*([A-Za-z_]\w*))?\s*$"
)
_MODULE_KINDS = {"Transformer", "Pooling", "Dense", "Normalize", "StaticEmbedding", "WordEmbeddings"}


def as_int(
    value: Any, what: str, source: str, ev: Evidence, lo: int, hi: int, code: str, *, text: bool = False
) -> int | None:
    """A whole number in lo..hi, or None with a warning. `text`: the value is prose, digits are normal."""
    if isinstance(value, bool):
        ok = None
    elif isinstance(value, int):
        ok = value
    elif isinstance(value, float) and value.is_integer():
        ok = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*\d{1,9}\s*", value):
        ok = int(value)
        if not text:
            ev.warn(code, f"{what} is given as text {value!r} ({source}); read it as {ok}")
    else:
        ok = None
    if ok is None:
        ev.warn(code, f"{what} {fmt(value)} ({source}) is not a whole number; ignored")
        return None
    if not lo <= ok <= hi:
        ev.warn(code, f"{what} {ok} ({source}) is outside {lo}..{hi}; ignored")
        return None
    return ok


def _literal_dict(args: str, ev: Evidence, kind: str) -> dict:
    args = args.strip()
    if not args:
        return {}
    try:
        value = ast.literal_eval(args)
        if isinstance(value, dict):
            return value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    ev.warn(
        "architecture-unparsed",
        f"could not read the {kind}(...) settings in the architecture block as a literal; "
        "used a best-effort reading",
    )
    out: dict[str, Any] = {}
    for m in re.finditer(r"'(\w{1,60})':\s*('[^']{0,200}'|[\w.+-]{1,60})", args[:MAX_LINE_CHARS]):
        raw = m.group(2)
        try:
            out[m.group(1)] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            out[m.group(1)] = raw
    return out


# --------------------------------------------------------------------------------------------
# YAML


def read_yaml_fields(ev: Evidence, meta: dict) -> None:
    if "license" in meta:
        lic = meta["license"]
        if isinstance(lic, list) and len(lic) == 1:
            lic = lic[0]
        if isinstance(lic, str) and LICENSE_RE.match(lic.strip()):
            ev.add("license", lic.strip(), "yaml:license", RANK_YAML)
        else:
            ev.warn("unsafe-value", f"YAML license {fmt(lic)} is not a license identifier; ignored")
    if "base_model" in meta:
        names, bad = str_list(meta["base_model"])
        good = [n for n in names if classify_model_id(n)[0] in ("ok", "local")]
        for n in [*bad, *(n for n in names if n not in good)]:
            ev.warn("unsafe-value", f"YAML base_model {fmt(n)} is not a model id; ignored")
        if len(good) > 1:
            ev.warn("multiple-base-models", f"YAML base_model lists {len(good)} models; using the first")
        if good:
            ev.add("base_model", good[0], "yaml:base_model", RANK_YAML)
    for yaml_key in ("datasets", "dataset"):
        if yaml_key not in meta:
            continue
        names, bad = str_list(meta[yaml_key])
        for n in [*bad, *(n for n in names if not SAFE_NAME_RE.match(n))]:
            ev.warn("unsafe-value", f"YAML {yaml_key} entry {fmt(n)} is not a dataset name; ignored")
        names = [n for n in names if SAFE_NAME_RE.match(n)]
        if names and yaml_key == "dataset":
            ev.warn("nonstandard-yaml-key", "the front matter uses 'dataset:'; the Hub's key is 'datasets:'")
        if names:
            ev.add("datasets", list(dict.fromkeys(names)), f"yaml:{yaml_key}", RANK_YAML)
    tags, _ = str_list(meta.get("tags", []))
    losses = [t.split(":", 1)[1].strip() for t in tags if t.lower().startswith("loss:")]
    losses = list(dict.fromkeys(n for n in losses if IDENT_RE.match(n)))
    if losses:
        ev.add("loss", ", ".join(losses), "yaml:tags", RANK_YAML)


# --------------------------------------------------------------------------------------------
# the architecture printout


def _printout(doc: Document) -> Block | None:
    """The first code block that prints a Sentence Transformers module chain."""
    for block in doc.code:
        for line in block.text.split("\n"):
            m = _MODULE_LINE.match(line) if len(line) <= MAX_LINE_CHARS else None
            if m and m.group(2) in _MODULE_KINDS:
                return block
    return None


def read_architecture(ev: Evidence, doc: Document) -> bool:
    """Facts from the architecture printout; False when the card has none."""
    block = _printout(doc)
    if block is None:
        return False
    dim = dim_src = None
    normalize = False
    for line in block.text.split("\n"):
        if len(line) > MAX_LINE_CHARS:
            ev.warn("architecture-unparsed", "skipped an over-long line in the architecture block")
            continue
        m = _MODULE_LINE.match(line)
        if not m:
            continue
        _, kind, args, tmodel = m.groups()
        conf = _literal_dict(args, ev, kind)
        src = f"architecture:{kind}"
        if kind == "Transformer":
            if conf.get("max_seq_length") is not None:
                n = as_int(
                    conf["max_seq_length"],
                    "max_seq_length",
                    src,
                    ev,
                    1,
                    MAX_SEQ_LENGTH,
                    "invalid-max-seq-length",
                )
                ev.add("max_seq_length", n, src, RANK_ARCHITECTURE)
            arch = tmodel or conf.get("architecture")
            if isinstance(arch, str) and IDENT_RE.match(arch):
                ev.add("architecture", arch, src, RANK_ARCHITECTURE)
            elif arch is not None:
                ev.warn("unsafe-value", f"architecture {fmt(arch)} ({src}) is not a class name; ignored")
        elif kind == "Pooling":
            name, n_modes, per_mode = pooling_from_config(conf)
            if name:
                ev.add("pooling", name, src, RANK_ARCHITECTURE)
            else:
                ev.warn("invalid-pooling", f"the Pooling module names no pooling mode I know ({src})")
            if per_mode is not None:
                d = as_int(per_mode, "pooling dimension", src, ev, 1, MAX_DIMENSION, "invalid-dimension")
                if d is not None:
                    dim, dim_src = d * max(1, n_modes), src
        elif kind == "Dense":
            d = as_int(
                conf.get("out_features"), "Dense out_features", src, ev, 1, MAX_DIMENSION, "invalid-dimension"
            )
            if d is not None:
                dim, dim_src = d, src
        elif kind == "StaticEmbedding" and "embedding_dim" in conf:
            d = as_int(conf["embedding_dim"], "embedding_dim", src, ev, 1, MAX_DIMENSION, "invalid-dimension")
            if d is not None:
                dim, dim_src = d, src
        elif kind == "Normalize":
            normalize = True
    if dim is not None:
        ev.add("dimension", dim, dim_src, RANK_ARCHITECTURE)
    ev.add(
        "normalize", normalize, "architecture:Normalize" if normalize else "architecture", RANK_ARCHITECTURE
    )
    return True


# --------------------------------------------------------------------------------------------
# the "Model Description" list: "- **Maximum Sequence Length:** 256 tokens"


def description_items(doc: Document) -> list[tuple[str, str, Block]]:
    """(field name, value text, item) for list items that start with a bold field name."""
    out = []
    for item in doc.blocks:
        if item.kind != "item" or not item.bold:
            continue
        name = item.bold[0]
        text = item.text.strip()
        if not text.startswith(name) or len(name) > 41:
            continue
        field = name.strip().rstrip(":").strip()
        if not field or ":" in field:
            continue
        value = text[len(name) :].strip().lstrip(":").strip()
        out.append((field, value, item))
    return out


def _first_number(value: str) -> str:
    m = re.match(r"^\s*([^\s]+)", value)
    return m.group(1) if m else value


def _hub_dataset(url: str) -> str | None:
    m = re.match(r"^https?://huggingface\.co/datasets/([^)\s?#]+)", url)
    return m.group(1) if m else None


# the template's numeric description items: item -> (fact, largest sensible value, warning code)
_DESCRIPTION_NUMBERS = {
    "maximum sequence length": ("max_seq_length", MAX_SEQ_LENGTH, "invalid-max-seq-length"),
    "output dimensionality": ("dimension", MAX_DIMENSION, "invalid-dimension"),
}


def read_description(ev: Evidence, doc: Document) -> None:
    for field, value, item in description_items(doc):
        low = field.lower()
        src = f"description:{field}"
        if low in _DESCRIPTION_NUMBERS:
            fact, most, code = _DESCRIPTION_NUMBERS[low]
            got = as_int(_first_number(value), field, src, ev, 1, most, code, text=True)
            ev.add(fact, got, src, RANK_DESCRIPTION)
        elif low == "base model":
            name = value.split(" ", 1)[0] if value else ""
            if classify_model_id(name)[0] in ("ok", "local"):
                ev.add("base_model", name, src, RANK_DESCRIPTION)
        elif low == "license":
            if LICENSE_RE.match(value):
                ev.add("license", value, src, RANK_DESCRIPTION)
        elif low in ("training dataset", "training datasets"):
            hub = [d for d in (_hub_dataset(u) for u in item.links) if d]
            names = hub or [p.strip() for p in value.split(",")]
            names = [n for n in names if SAFE_NAME_RE.match(n)]
            if names:
                ev.add("datasets", names, src, RANK_DESCRIPTION)
        elif low == "similarity function":
            ev.add("similarity_function", value, src, RANK_DESCRIPTION)


# --------------------------------------------------------------------------------------------
# usage code


_POOL_WORDS = {
    "mean": "mean",
    "average": "mean",
    "avg": "mean",
    "cls": "cls",
    "max": "max",
    "last_token": "lasttoken",
    "lasttoken": "lasttoken",
    "last": "lasttoken",
    "eos": "lasttoken",
    "weighted_mean": "weightedmean",
    "weightedmean": "weightedmean",
}
_POOL_DEF = re.compile(
    r"def\s+_?(mean|average|avg|cls|max|last_token|lasttoken|last|eos|weighted_?mean)_?pool\w*\s*\("
)
_POOL_CALL = re.compile(r"\b(?:embed\w*|encode\w*|get\w*)_(cls|mean|last_token)\s*\(")
_CLS_INDEX = re.compile(
    r"(?:last_hidden_state|hidden_states?|model_output\[0\]|outputs?\[0\]|\[0\])\s*\[\s*:\s*,\s*0\s*(?:,\s*:\s*)?\]"
)
_POOLING_ARG = re.compile(r"""pooling_mode\s*=\s*['"](\w+)['"]""")
_MAX_LEN_SET = re.compile(r"\.max_seq_length\s*=\s*(\d{1,7})\b|\bmax_seq_length\s*=\s*(\d{1,7})\b")
_CLASS_LOAD = re.compile(r"\b([A-Z][A-Za-z0-9]*Model)\.from_pretrained\(")
_SHAPE_COMMENT = re.compile(
    r"\.shape\)?\s*\n\s*#\s*(?:torch\.Size\()?\[?\(?\s*(?:\d+\s*,\s*)?(\d{2,6})\s*,?\s*\)?\]?\)?"
)


def _code_pooling(code: str) -> str | None:
    """The pooling the usage code applies: the pooling function it calls most (a card may define
    ``mean_pooling`` and use ``cls_pooling``), a ``Pooling(..., pooling_mode_x=True)`` it builds,
    or the first token it takes (``last_hidden_state[:, 0]``, ``outputs[i][0]``)."""
    defs = [(m.group(0).split()[1].split("(")[0], m.group(1)) for m in _POOL_DEF.finditer(code)]
    if defs:
        used = [(code.count(name + "(") - 1, -i, word) for i, (name, word) in enumerate(defs)]
        return _POOL_WORDS[max(used)[2].lower().replace("-", "_")]
    for m in _POOL_CALL.finditer(code):
        return _POOL_WORDS[m.group(1).lower()]
    flags = [name for flag, name in POOL_FLAGS if re.search(rf"\b{flag}\s*=\s*True\b", code)]
    if flags:
        return "+".join(flags)
    for m in _POOLING_ARG.finditer(code):
        if m.group(1).lower() in POOL_NAMES:
            return POOL_NAMES[m.group(1).lower()]
    outputs = set(re.findall(r"\b(\w+)\s*(?:,\s*\w+\s*)?=\s*\w*model\w*\(", code))
    if _CLS_INDEX.search(code) or any(
        re.search(rf"\b{re.escape(v)}\[\s*\w+\s*\]\[\s*0\s*\]", code) for v in outputs
    ):
        return "cls"
    return None


def read_code(ev: Evidence, doc: Document, arch_found: bool) -> None:
    """Facts shown by the usage code: pooling, normalisation, max_seq_length, the model class."""
    code = "\n".join(b.text for b in doc.code if len(b.text) <= 200_000)
    src = "usage:transformers-snippet"
    ev.add("pooling", _code_pooling(code), src, RANK_PROSE_SECTION)
    if ".pooler_output" in code:  # the model's own pooler: BERT's is the CLS token; a card's words win
        ev.add("pooling", "cls", src, RANK_PROSE - 1)
    if not arch_found and re.search(r"\b(?:F|functional)\.normalize\(", code):
        ev.add("normalize", True, src, RANK_PROSE_SECTION)
    for m in _MAX_LEN_SET.finditer(code):
        n = int(m.group(1) or m.group(2))
        if 1 <= n <= MAX_SEQ_LENGTH:
            ev.add("max_seq_length", n, "usage:max_seq_length", RANK_SNIPPET)
            break
    classes = list(dict.fromkeys(m.group(1) for m in _CLASS_LOAD.finditer(code)))
    classes = [
        c for c in classes if not c.startswith("Auto") and c not in ("PeftModel", "SentenceTransformerModel")
    ]
    if len(classes) == 1:
        ev.add("architecture", classes[0], "usage:from_pretrained()", RANK_PROSE_SECTION)
    m = _SHAPE_COMMENT.search(code)
    if m:
        d = int(m.group(1))
        if 1 <= d <= MAX_DIMENSION:
            ev.add("dimension", d, "usage:shape", RANK_PROSE_SECTION)


# --------------------------------------------------------------------------------------------
# prose and lists


_BASE_RES = (
    re.compile(r"(?i)\bfine-?tuned from \[([^\]\n]{1,200})\]"),
    re.compile(r"(?i)\bfine[- ]?tun(?:e|ed|ing)\s+(?:of|from)\s+\[?`?([A-Za-z0-9][\w./-]{1,150})"),
    re.compile(r"sentence-transformers(?:\]\([^)\n]*\))?\s+model\s+\(([A-Za-z0-9][\w./-]{1,150})\)"),
)
_NUM = r"(\d{1,3}(?:,\d{3})+|\d{1,7})"
_DIM_RES = (
    re.compile(rf"\b{_NUM}[- ]dim(?:ensional|ension|\.)?\b", re.IGNORECASE),
    re.compile(
        r"(?i)\b(?:embedding|output|vector|hidden|sentence embedding)s?[ _-]?"
        r"(?:dimension(?:ality|s)?|dims?|size)"
        rf"\s*(?:is|of|:|=|->|→)?\s*(?:\*\*)?{_NUM}\b(?![-.]\d)"
    ),
    re.compile(rf"(?i)\bdimension(?:ality|s)?\s*(?:is|of|:|=)\s*{_NUM}\b(?![-.]\d)"),
    re.compile(rf"(?i)\b{_NUM}\s+dimensions\b"),
    re.compile(rf"(?i)\b{_NUM}-hidden\b"),
)
_MAXLEN_RES = (
    re.compile(r"(?i)longer than (\d{1,9}) (?:word ?pieces|tokens)\s+(?:is|are|will be|gets?) truncated"),
    re.compile(
        r"(?i)\b(?:max(?:imum)?|context|input|sequence)[ _-]?(?:sequence[ _-]?|input[ _-]?|token[ _-]?)?"
        r"(?:length|len|window|size)s?\s*(?:is|of|:|=|up to)?\s*(?:\*\*)?(\d{1,3}(?:,\d{3})+|\d{2,7})[kK]?\b"
    ),
    re.compile(r"(?i)\bup to (\d{1,3}(?:,\d{3})+|\d{2,7}) tokens\b"),
    # "Maximum token count: 512", "max number of tokens is 8192"
    re.compile(
        r"(?i)\bmax(?:imum)?[ _-]?(?:number[ _-]of[ _-])?(?:input[ _-])?tokens?(?:[ _-]?(?:count|number))?"
        r"\s*(?:is|of|:|=)\s*(?:\*\*)?(\d{1,3}(?:,\d{3})+|\d{2,7})\b"
    ),
    re.compile(r"(?i)\bsupported sequences?\s*:?\s*(\d{2,7})\b"),
    # "supporting 8192 sequence length", "supports **8192 sequence length**"
    re.compile(
        r"(?i)\bsupport(?:s|ing)?\s+(?:\*\*)?(\d{1,3}(?:,\d{3})+|\d{2,7})\s+(?:sequence|context|token)\s+length"
    ),
    re.compile(r"(?:上下文|窗口|序列|最大|输入)[^\d\n]{0,8}长度[^\d\n]{0,6}(\d{2,7})"),
)
_POOL_PROSE = re.compile(
    r"(?i)\b(mean|average|cls|\[cls\]|max|last[- ]token|eos[- ]token|weighted[- ]mean)"
    r"(?:[- ]token)?[- ]pool(?:ing|ed)?\b"
    # "Pooling: mean", "the correct pooler (`mean`)", "pooling = cls"
    r"|\bpool(?:ing|er)\s*(?:[:=(]|is)\s*`?\s*(mean|cls|max|last[_-]?token|weighted[_-]?mean)\b"
)


def _to_int(text: str) -> int:
    return int(text.replace(",", ""))


def _prose_blocks(doc: Document) -> list[Block]:
    return [b for b in doc.prose if len(b.text) <= MAX_LINE_CHARS]


def _signed(text: str, start: int) -> bool:
    """Whether the number at `start` carries a minus sign (a hyphen or U+2212 after a space or the start)."""
    return start > 0 and text[start - 1] in "-\u2212" and (start == 1 or not text[start - 2].isalnum())


def read_prose(ev: Evidence, doc: Document) -> None:
    blocks = _prose_blocks(doc)
    text = "\n".join(b.text for b in blocks)
    dims: list[tuple[int, int]] = []
    for regex in _DIM_RES:
        for m in regex.finditer(text):
            d = _to_int(m.group(1))
            if _signed(text, m.start(1)):  # "a -5 dimensional space": a minus sign, not "1024-dim"
                d = -d
            if not 1 <= d <= MAX_DIMENSION:
                ev.warn("invalid-dimension", f"the prose gives a {d}-dimensional output; ignored")
            else:
                dims.append((m.start(), d))
    sizes = sorted({_to_int(m.group(1)) for m in _DIM_RES[1].finditer(text)})
    if len(sizes) > 1:  # "embedding_size=768" ... "embedding_size=256": a card about two models
        ev.warn(
            "ambiguous-dimension",
            f"the prose states embedding sizes {', '.join(map(str, sizes))} (more than one model?); "
            "dimension not taken from the prose",
        )
    elif dims:
        ev.add("dimension", min(dims)[1], "prose", RANK_PROSE)
    for regex in _MAXLEN_RES:
        m = regex.search(text)
        if m:
            n = _to_int(m.group(1)) * (1024 if m.group(0).rstrip().endswith(("k", "K")) else 1)
            if 1 <= n <= MAX_SEQ_LENGTH:
                ev.add("max_seq_length", n, "prose", RANK_PROSE)
                break
    m = _POOL_PROSE.search(text)
    if m:
        word = (m.group(1) or m.group(2)).lower().strip("[]").replace(" ", "_").replace("-", "_")
        name = _POOL_WORDS.get(word) or _POOL_WORDS.get(word.split("_")[0])
        if name:
            ev.add("pooling", name, "prose", RANK_PROSE)
    raw = doc.source_without_code()
    for regex in _BASE_RES:
        for m in regex.finditer(raw):
            name = re.sub(r"^\[([^\]]*)\].*$", r"\1", m.group(1).strip()).rstrip(".,;:")
            if classify_model_id(name)[0] in ("ok", "local"):
                ev.add("base_model", name, "prose", RANK_PROSE)
    if ev.name:
        m = re.match(r"^SentenceTransformer based on ([A-Za-z0-9][\w./-]{1,150})$", ev.name)
        if m and classify_model_id(m.group(1))[0] in ("ok", "local"):
            ev.add("base_model", m.group(1), "prose:title", RANK_PROSE)
    losses = []
    for m in re.finditer(
        r"sentence_transformers\.losses\.(?:\w+\.)*?(\w*Loss)\b|Loss:\s*\[?<code>(\w+)</code>", raw
    ):
        name = m.group(1) or m.group(2)
        if name and name not in losses:
            losses.append(name)
    if losses:
        ev.add("loss", ", ".join(losses), "prose:Loss", RANK_PROSE_SECTION)
