"""The prompt each STS task gets, resolved the way mteb resolves it, with where it came from.

Sources, strongest first (as mteb's ``SentenceTransformerEncoderWrapper`` merges them):

1. ``registry.toml``: ``prompts = {STS = "…"}`` (a maintainer's override; it replaces the rest);
2. mteb's ``ModelMeta`` for a model id mteb knows: ``loader_kwargs["model_prompts"]``;
3. the model's own ``config_sentence_transformers.json``: ``prompts`` (and ``default_prompt_name``).

For one task, mteb's own ``mteb.models.abs_encoder.get_prompt_name`` picks the key (task name +
prompt type, task name, task type + prompt type, task type, prompt type; STS tasks encode with
no prompt type), over the prompts whose keys mteb accepts. When it picks none, sentence-transformers
applies the model's ``default_prompt_name`` prompt, as ``model.encode(prompt=None)`` does inside mteb.

A prompt the card, the model files or mteb mention but the harness does not apply to STS gets a
``prompt-not-applied`` warning.
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.model_files import read_bytes, read_json
from harness.records import OVERRIDE_SOURCE, Finding, ModelSpec, Sourced

__all__ = [
    "DEFAULT_SOURCE",
    "FILES_SOURCE",
    "MTEB_SOURCE",
    "OVERRIDE_SOURCE",
    "PromptSource",
    "card_prompt_mentions",
    "loader_source",
    "mteb_loader_of",
    "override_prompts",
    "prompt_for",
    "prompt_label",
    "prompt_text",
    "read_file_prompts",
    "task_metadata",
    "with_prompts",
    "with_sources",
]

MTEB_SOURCE = "mteb:ModelMeta.loader_kwargs.model_prompts"
FILES_SOURCE = "model-files:config_sentence_transformers.json"
MTEB_LOADER_SOURCE = "mteb:"  # + the loader's name: a model that runs through mteb's implementation
MTEB_LOADER_RULE = "mteb's implementation sets each task's prompt or instruction"
DEFAULT_SOURCE = f"{FILES_SOURCE}.default_prompt_name"
NONE_KNOWN = "no prompts known (no override, not in mteb, model files not read)"
ST_CONFIG = "config_sentence_transformers.json"
MAX_CARD_BYTES = 2 * 1024 * 1024
MAX_PROMPT_CHARS = 2000
STS_TYPE = "STS"


# ------------------------------------------------------------------ reading the sources


def read_file_prompts(model_dir: Path | None) -> tuple[dict[str, str], str | None, list[Finding]]:
    """(prompts, default_prompt_name, problems) from a model folder's ``config_sentence_transformers.json``.

    The prompts are what sentence-transformers loads (its ``query``/``document`` defaults are empty
    strings); a missing file gives those defaults and no default name.
    """
    prompts: dict[str, str] = {"query": "", "document": ""}
    if model_dir is None:
        return prompts, None, []
    data, problem = read_json(Path(model_dir) / ST_CONFIG)
    if problem:
        return prompts, None, [Finding(code="invalid-prompt", message=f"{ST_CONFIG}: {problem}")]
    if not isinstance(data, dict):
        return prompts, None, []
    problems: list[Finding] = []
    raw = data.get("prompts")
    if isinstance(raw, dict):
        for name, text in raw.items():
            if isinstance(name, str) and (text is None or isinstance(text, str)):
                prompts[name] = text or ""
            else:
                problems.append(
                    Finding(
                        code="invalid-prompt", message=f"{ST_CONFIG}: prompt {name!r} is not text; ignored"
                    )
                )
    elif raw is not None:
        problems.append(
            Finding(code="invalid-prompt", message=f"{ST_CONFIG}: prompts is not a table; ignored")
        )
    default = data.get("default_prompt_name")
    if default is not None and not (isinstance(default, str) and default in prompts):
        problems.append(
            Finding(
                code="invalid-prompt",
                message=f"{ST_CONFIG}: default_prompt_name {default!r} names no prompt; "
                "sentence-transformers refuses to load such a model",
            )
        )
        default = None
    return prompts, default, problems


def override_prompts(overrides: Any) -> tuple[dict[str, str] | None, list[Finding]]:
    """The ``prompts`` table of a registry.toml (None when it has none) and problems with it."""
    if not isinstance(overrides, dict) or "prompts" not in overrides:
        return None, []
    raw = overrides["prompts"]
    if not isinstance(raw, dict):
        return None, [
            Finding(
                code="invalid-prompt", message='registry.toml prompts must be a table: prompts = {STS = "…"}'
            )
        ]
    good: dict[str, str] = {}
    problems: list[Finding] = []
    for key, text in raw.items():
        if isinstance(text, str) and len(text) <= MAX_PROMPT_CHARS and "\x00" not in text:
            good[str(key)] = text
        else:
            problems.append(
                Finding(
                    code="invalid-prompt",
                    message=f"registry.toml prompt {str(key)[:40]!r} is not text; ignored",
                )
            )
    return good, problems


# Prompts as cards show them: prompt_name="query", prompt="query: ", or a quoted prefix such as
# 'query: …', "search_query: …", "Represent this sentence for searching relevant passages: ".
_PROMPT_NAME_RE = re.compile(r"""prompt_name\s*=\s*["']([\w.-]{1,60})["']""")
_PROMPT_ARG_RE = re.compile(r"""\bprompt\s*=\s*(["'])([^"'\n]{1,200})\1""")
_PREFIX_RE = re.compile(
    r"""["'](?:(query|passage|document|search_query|search_document|classification|clustering)\s*:\s"""
    r"""|(Represent this [^"'\n]{1,150}?:\s?)|(Instruct:\s))"""
)


def card_prompt_mentions(text: str, named: dict[str, str] | None = None) -> list[str]:
    """Prompt texts a card mentions, in order of first mention (names resolved through `named`)."""
    found: list[str] = []
    for m in _PROMPT_NAME_RE.finditer(text):
        value = (named or {}).get(m.group(1))
        found.append(value if value else f"prompt_name={m.group(1)!r}")
    found.extend(m.group(2) for m in _PROMPT_ARG_RE.finditer(text))
    for m in _PREFIX_RE.finditer(text):
        if m.group(1):
            found.append(f"{m.group(1)}: ")
        else:
            found.append(m.group(2) or m.group(3))
    return [p for p in dict.fromkeys(found) if p.strip()]


def _card_text(path: str) -> str:
    try:
        return read_bytes(Path(path), MAX_CARD_BYTES).decode("utf-8", errors="replace")
    except OSError:  # the card parser reports an unreadable card; here it only mentions nothing
        return ""


# ------------------------------------------------------------------ mteb's selection rule


@functools.lru_cache(maxsize=256)
def task_metadata(task_name: str | None) -> Any:
    """mteb's metadata for an STS task it knows; a bare STS metadata (name, type) otherwise."""
    import mteb
    from mteb.abstasks.task_metadata import TaskMetadata

    if task_name:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return mteb.get_task(task_name).metadata
            except (KeyError, ValueError):
                pass
    # get_prompt_name reads only .name and .type; a custom pairs file is an STS task under its own name
    return TaskMetadata.model_construct(name=task_name or "", type=STS_TYPE)


@functools.lru_cache(maxsize=256)
def _valid_keys(keys: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(keys mteb accepts, keys it drops): task names, task types, prompt types, and their combinations."""
    from mteb.models.abs_encoder import AbsEncoder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        valid, _problems = AbsEncoder.validate_task_to_prompt_name(
            dict.fromkeys(keys, ""), raise_for_invalid_keys=False
        )
    kept = tuple(valid or {})
    return kept, tuple(k for k in keys if k not in kept)


def prompt_for(spec: ModelSpec, task_name: str | None = None) -> Sourced[str]:
    """The prompt the STS task `task_name` gets (None: every STS task), and where it came from.

    ``value`` None means no prompt; ``source`` still says why (the rule that found nothing).
    """
    from mteb.models.abs_encoder import get_prompt_name

    if spec.prompts.value is None:
        return Sourced(value=None, source=PromptSource(None).text)
    prompts = dict(spec.prompts.value)
    source = spec.prompts.source or FILES_SOURCE
    kept, _dropped = _valid_keys(tuple(prompts))
    selectable = {k: prompts[k] for k in kept}
    name = get_prompt_name(selectable or None, task_metadata(task_name), None) if selectable else None
    if name is not None:
        return Sourced(value=prompts[name] or None, source=PromptSource(source, name).text)
    default = spec.default_prompt.value
    if default and default in prompts:
        place = spec.default_prompt.source or DEFAULT_SOURCE
        return Sourced(value=prompts[default] or None, source=PromptSource(place, default).text)
    return Sourced(value=None, source=PromptSource(source).text)


# ------------------------------------------------------------------ the spec


def _mentions(
    card_path: str, file_prompts: dict[str, str], mteb_prompts: dict[str, str] | None, named: dict[str, str]
) -> dict[str, list[str]]:
    """Prompt texts each source mentions: the model files, mteb's metadata, the card."""
    out: dict[str, list[str]] = {}
    if texts := [t for t in file_prompts.values() if t]:
        out[ST_CONFIG] = texts
    if texts := [t for t in (mteb_prompts or {}).values() if t]:
        out["mteb's metadata"] = texts
    if card_path and (texts := card_prompt_mentions(_card_text(card_path), named)):
        out["the card"] = texts
    return out


def with_prompts(spec: ModelSpec, model_dir: Path | None = None, *, overrides: Any = None) -> ModelSpec:
    """The spec with its prompts resolved (override, mteb, model files) and unapplied prompts warned.

    `overrides` is the entry's registry.toml table; when None, a prompt override the spec already
    carries is kept. `model_dir` is the model folder, when its files are at hand.
    """
    notes: list[Finding] = []
    file_prompts, default_name, problems = read_file_prompts(model_dir)
    notes.extend(problems)
    override, problems = override_prompts(overrides)
    notes.extend(problems)
    if override is None and spec.prompts.source == OVERRIDE_SOURCE:
        override = dict(spec.prompts.value or {})
    mteb_prompts = spec.mteb.model_prompts if spec.mteb is not None else None
    if override:  # an explicit model_prompts replaces the model's own (mteb's _resolve_model_prompts)
        prompts = Sourced(value=override, source=OVERRIDE_SOURCE)
    elif mteb_prompts:
        prompts = Sourced(value=dict(mteb_prompts), source=MTEB_SOURCE)
    elif model_dir is not None:
        prompts = Sourced(value=file_prompts, source=FILES_SOURCE)
    else:  # nothing read yet: the runner resolves again once it has the model's files
        prompts = Sourced()
    default = Sourced(value=default_name, source=DEFAULT_SOURCE if default_name else None)
    resolved = spec.model_copy(update={"prompts": prompts, "default_prompt": default})
    _kept, dropped = _valid_keys(tuple(prompts.value or {}))
    if dropped and prompts.source == OVERRIDE_SOURCE:
        notes.append(
            Finding(
                code="invalid-prompt",
                message=f"registry.toml prompt key(s) {', '.join(map(repr, dropped))} are not an mteb task "
                "name, task type or prompt type; ignored",
            )
        )
    sts = prompt_for(resolved, None)
    loader = _mteb_loader(spec)
    if loader is not None:  # mteb's own implementation prompts (or instructs) each task itself
        sts = Sourced(value=None, source=loader_source(loader))
        if override:
            notes.append(
                Finding(
                    code="prompt-not-applied",
                    message=f"registry.toml prompts are not applied: mteb's {loader} runs this model "
                    "with its own prompts and instructions",
                )
            )
    named = {**file_prompts, **(prompts.value or {})}
    mentioned = _mentions(spec.source, file_prompts, mteb_prompts, named) if loader is None else {}
    for where, texts in mentioned.items():
        unapplied = [t for t in dict.fromkeys(texts) if t != sts.value]
        if unapplied:
            shown = ", ".join(repr(t[:80]) for t in unapplied[:4])
            got = f"{sts.value!r}" if sts.value else "no prompt"
            notes.append(
                Finding(
                    code="prompt-not-applied",
                    message=f"{where} mention(s) the prompt(s) {shown}; STS tasks get {got} ({sts.source})",
                )
            )
    kept_notes = [w for w in spec.warnings if w.code not in {"prompt-not-applied", "invalid-prompt"}]
    return resolved.model_copy(update={"sts_prompt": sts, "warnings": kept_notes + notes})


def _mteb_loader(spec: ModelSpec) -> str | None:
    """The loader's name when the model runs through mteb's own implementation, else None."""
    from harness.mteb_meta import MTEB_PATH, encode_path

    path, _why = encode_path(spec.mteb)
    return (spec.mteb.loader or "its loader") if path == MTEB_PATH and spec.mteb is not None else None


def with_sources(spec: ModelSpec, model_dir: Path | None = None, *, overrides: Any = None) -> ModelSpec:
    """The spec with its third source, mteb's metadata (`harness.mteb_meta.with_mteb`), then its prompts."""
    from harness.mteb_meta import with_mteb

    return with_prompts(with_mteb(spec), model_dir, overrides=overrides)


@dataclass(frozen=True)
class PromptSource:
    """Where an STS prompt came from, as a record. Settings and stored results keep its text
    (``RunSettings.prompt_source``, unchanged from earlier versions); :meth:`parse` reads that back.

    ``place``: the source of the prompts (:data:`OVERRIDE_SOURCE`, :data:`MTEB_SOURCE`,
    :data:`FILES_SOURCE`, :data:`DEFAULT_SOURCE`), None when no prompts are known; ``key``: the prompt
    name chosen there, None when that place has no STS prompt; ``loader``: mteb's implementation
    prompts the model itself (the loader's name)."""

    place: str | None
    key: str | None = None
    loader: str | None = None

    @property
    def text(self) -> str:
        if self.loader is not None:
            return f"{MTEB_LOADER_SOURCE}{self.loader}: {MTEB_LOADER_RULE}"
        if self.place is None:
            return NONE_KNOWN
        return f"{self.place}[{self.key}]" if self.key is not None else f"{self.place}: no STS prompt"

    @classmethod
    def parse(cls, text: str | None) -> PromptSource:
        found = _LOADER_TEXT.match(text or "")
        if found:  # the runner may append what mteb's wrapper applied
            return cls(None, loader=found["loader"])
        found = _PLACE_TEXT.match(text or "")
        if found:
            return cls(found["place"], found["key"])
        return cls(None)


_LOADER_TEXT = re.compile(
    rf"^{re.escape(MTEB_LOADER_SOURCE)}(?P<loader>[^:]+): {re.escape(MTEB_LOADER_RULE)}"
)
_PLACE_TEXT = re.compile(r"^(?P<place>.+?)(?:\[(?P<key>[^\]]*)\]|: no STS prompt)$")
# How each place is named in a table cell.
_PLACE_LABELS = {
    OVERRIDE_SOURCE: "registry.toml",
    MTEB_SOURCE: "mteb",
    DEFAULT_SOURCE: "default_prompt_name",
    FILES_SOURCE: "model files",
}


def loader_source(loader: str | None) -> str:
    """The prompt source of a model that mteb's implementation prompts (:class:`PromptSource`)."""
    return PromptSource(None, loader=loader or "its loader").text


def mteb_loader_of(source: str | None) -> str | None:
    """The loader a prompt source names when mteb's implementation sets the prompt, else None."""
    return PromptSource.parse(source).loader


def prompt_label(prompt: Sourced[str]) -> str:
    """A short cell for tables, always with where it came from: ``'query: ' (mteb)``,
    ``none (model files)``, ``by mteb's NomicWrapper``, ``none known (model files not read)``."""
    origin = PromptSource.parse(prompt.source)
    if origin.loader is not None:
        return f"{prompt.value!r} (mteb's {origin.loader})" if prompt.value else f"by mteb's {origin.loader}"
    # a place may be a known one plus a field (registry.toml's `prompts` table: "...registry.toml.prompts")
    place = origin.place or ""
    where = next(
        (_PLACE_LABELS[k] for k in sorted(_PLACE_LABELS, key=len, reverse=True) if place.startswith(k)), None
    )
    if not prompt.value:
        return f"none ({where})" if where else "none known (model files not read)"
    shown = prompt.value if len(prompt.value) <= 60 else prompt.value[:57] + "..."
    return f"{shown!r}" + (f" ({where})" if where else "")


def prompt_text(prompt: str | None) -> str:
    """A prompt as the report shows it: ```query: ``` in backquotes (spaces visible), or ``none``."""
    return f"`{prompt}`" if prompt else "none"
