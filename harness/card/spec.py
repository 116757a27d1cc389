"""One card (a Hugging Face Hub README.md) into a `ModelSpec`.

Each fact is read from the place that defines it, in order of authority:

    registry override > architecture printout > YAML front matter > "Model Description" list
    > usage snippets > free prose > inference from the card's example sentences

and every value keeps the name of the place it came from (`Sourced.source`). Lower-ranked
evidence that disagrees with the value used becomes a warning (`dimension-mismatch`, ...).
`crosscheck` then compares the card with the model's own files, which are authoritative for a run.

Nothing here raises for bad input: a card that cannot be parsed (no front matter, malformed YAML,
not text) gives a spec with `errors`; everything doubtful gives a `Finding` with a stable code.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from harness.card import claims, fields, identity, markdown, matryoshka, rows, training
from harness.card.crosscheck import crosscheck
from harness.card.evidence import RANK_OVERRIDE, Evidence, clip, fmt
from harness.card.frontmatter import load_yaml, split_front_matter
from harness.card.ids import KEY_RE, classify_model_id, valid_key
from harness.card.text import MAX_CARD_BYTES, read_text, too_large
from harness.languages import read_languages
from harness.records import OVERRIDE_SOURCE, ModelSpec, Sourced

_REVISION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,99}$")
# every sourced fact of a spec; those no card states (parameters, prompts) resolve to unknown here
FIELDS = tuple(name for name, info in ModelSpec.model_fields.items() if isinstance(info.default, Sourced))


def parse_card(
    path: Path,
    *,
    key: str | None = None,
    overrides: dict | None = None,
    model_dir: Path | None = None,
) -> ModelSpec:
    """Parse the card file at `path`; `model_dir` (the model's own files) is cross-checked when given.

    A relative `path` in `overrides` resolves against the card's folder (the registry entry folder).
    """
    path = Path(path)
    source = str(path)
    problem = None
    data = b""
    try:
        if not path.exists():
            problem = "file not found"
        elif path.is_dir():
            problem = "is a folder, not a card file"
        elif not path.is_file():
            problem = "not a regular file"
        else:
            with path.open("rb") as fh:
                data = fh.read(MAX_CARD_BYTES + 1)
            if len(data) > MAX_CARD_BYTES:
                problem = too_large()
    except OSError as exc:
        problem = f"cannot read the file: {exc.strerror or exc}"
    if problem:
        return ModelSpec(key=safe_key(key, None, source)[0], source=source, errors=[problem])
    if isinstance(overrides, dict) and isinstance(overrides.get("path"), str):
        local = Path(overrides["path"]).expanduser()
        if not local.is_absolute():
            local = (path.parent / local).resolve()
        overrides = {**overrides, "path": str(local)}
    spec = parse_card_text(data, source=source, key=key, overrides=overrides)
    if model_dir is not None:
        spec = crosscheck(spec, Path(model_dir))
    return spec


def parse_card_text(
    text_or_bytes: str | bytes,
    *,
    source: str,
    key: str | None = None,
    overrides: dict | None = None,
) -> ModelSpec:
    """Parse a card's text (or raw bytes). Never raises for bad input."""
    ev = Evidence(source)
    try:
        return _parse(ev, text_or_bytes, key, overrides)
    except Exception as exc:  # last guard: a card must never produce a traceback
        return ModelSpec(
            key=safe_key(key, None, source)[0],
            source=source,
            errors=[f"internal error while parsing the card: {type(exc).__name__}: {clip(str(exc), 200)}"],
        )


def _parse(ev: Evidence, text_or_bytes: Any, key: str | None, overrides: dict | None) -> ModelSpec:
    text = read_text(text_or_bytes, ev)
    if text is None:
        return _finish(ev, key, overrides)
    fm, body, problem = split_front_matter(text)
    meta: dict = {}
    if problem:
        ev.errors.append(problem)
    elif fm is not None:
        meta = load_yaml(fm, ev)
    doc = markdown.parse(body)
    identity.read_title(ev, doc)
    fields.read_yaml_fields(ev, meta)
    arch_found = fields.read_architecture(ev, doc)
    fields.read_description(ev, doc)
    identity.read_model_id(ev, doc, meta, markdown.strip_comments(body))
    fields.read_code(ev, doc, arch_found)
    fields.read_prose(ev, doc)
    matryoshka.read_matryoshka(ev, doc)
    identity.read_languages(ev, meta, doc)
    names = _self_names(ev, meta)
    rows.read_table_facts(ev, doc, names)
    claims.read_claims(ev, meta, doc, names)
    return training.with_card_training(_finish(ev, key, overrides), doc)


def _self_names(ev: Evidence, meta: dict) -> list[str]:
    """The names that identify this model in tables: its best model id, then its own names."""
    ids = sorted(ev.cands.get("model_id", []), key=lambda c: -c.rank)
    return [c.value for c in ids[:1]] + identity.self_names(ev, meta)


# --------------------------------------------------------------------------------------------
# overrides, key, final spec


# The keys a registry.toml may set and the TOML type of each (the registry refuses others).
OVERRIDE_TYPES: dict[str, tuple[type, ...]] = {
    "model_id": (str,),
    "revision": (str,),
    "languages": (str, list),
    "path": (str,),
    "prompts": (dict,),
}


def _apply_overrides(ev: Evidence, overrides: Any) -> None:
    if overrides is None:
        return
    if not isinstance(overrides, dict):
        ev.errors.append("registry.toml: overrides are not a table")
        return
    for k, v in overrides.items():
        if k == "model_id":
            if isinstance(v, str) and classify_model_id(v)[0] == "ok":
                ev.add("model_id", v.strip(), OVERRIDE_SOURCE, RANK_OVERRIDE)
            else:
                ev.warn("unsafe-model-id", f"registry.toml model_id {fmt(v)} is not a valid Hub id; ignored")
        elif k == "revision":
            if isinstance(v, str) and _REVISION_RE.match(v.strip()):
                ev.add("revision", v.strip(), OVERRIDE_SOURCE, RANK_OVERRIDE)
            else:
                ev.warn("unsafe-value", f"registry.toml revision {fmt(v)} is not a revision; ignored")
        elif k == "languages":
            got = read_languages(v)
            for x in got.invalid:
                ev.warn(
                    "invalid-language", f"registry.toml language {fmt(x)} is not a language code; ignored"
                )
            if got.codes:
                ev.add("languages", list(got.codes), OVERRIDE_SOURCE, RANK_OVERRIDE)
            if got.multilingual:
                ev.multilingual = OVERRIDE_SOURCE
        elif k == "path":
            if isinstance(v, str) and v.strip() and "\x00" not in v:
                ev.add("local_path", v.strip(), OVERRIDE_SOURCE, RANK_OVERRIDE)
            else:
                ev.warn("unsafe-value", f"registry.toml path {fmt(v)} is not a folder path; ignored")
        elif k == "prompts":
            continue  # read by harness.prompts (with_prompts), which checks it against mteb's rules
        else:
            ev.warn("unknown-override", f"registry.toml key {clip(str(k), 40)!r} is not one I know; ignored")


def safe_key(key: str | None, model_id: str | None, source: str) -> tuple[str, str | None]:
    """(a path-safe key, an error when the given key was unsafe)."""
    if key is not None:
        if valid_key(key):
            return key, None
        digest = hashlib.sha256(str(key).encode("utf-8", "replace")).hexdigest()[:8]
        return (
            f"invalid-key-{digest}",
            f"registry key {clip(str(key), 60)!r} is not a safe name (lowercase a-z0-9._-)",
        )
    if model_id:
        derived = model_id.lower().replace("/", "__")
        if KEY_RE.match(derived) and ".." not in derived:
            return derived, None
    p = Path(source)
    stem = p.parent.name if p.stem.lower() == "readme" else p.stem
    stem = re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-._").replace("..", ".")
    digest = hashlib.sha256(source.encode("utf-8", "replace")).hexdigest()[:8]
    if not stem:
        return f"unnamed-{digest}", None
    return (stem[:80] if stem.startswith("unnamed-") else f"unnamed-{stem[:80]}"), None


def _finish(ev: Evidence, key: str | None, overrides: Any) -> ModelSpec:
    _apply_overrides(ev, overrides)
    resolved = {f: ev.resolve(f) for f in FIELDS}
    langs = resolved["languages"]
    if langs.source is None and ev.multilingual is None:
        language_source = "unknown"
        if not ev.errors:
            ev.warn("missing-language", "the card declares no language and none could be inferred")
    elif (langs.source or ev.multilingual) == OVERRIDE_SOURCE:
        language_source = "override"
    elif (langs.source or "").startswith("inferred"):
        language_source = "inferred"
    else:
        language_source = "card"
    if resolved["license"].value is None and not ev.errors:
        ev.warn("missing-license", "the card states no license")
    key_value, key_error = safe_key(key, resolved["model_id"].value, ev.source)
    errors = [" ".join(e.split()) for e in [*ev.errors, *([key_error] if key_error else [])]]
    return ModelSpec(
        key=key_value,
        source=ev.source,
        language_source=language_source,
        multilingual=ev.multilingual is not None,
        name=ev.name,
        claims=ev.claims,
        warnings=ev.findings(),
        errors=errors,
        **resolved,
    )
