"""The model registry: one folder per model under ``registry/``.

Each entry folder is named by a stable, path-safe key (``org__name``; a folder named like the Hub id,
``Org__Name``, is the same entry, its key lower-cased) and holds the model's card
``README.md`` byte-for-byte as published, plus an optional ``registry.toml`` of maintainer
overrides (``model_id``, ``revision``, ``languages``, ``path``). Overrides never hide the card:
where they differ from it the spec carries an ``override-differs`` warning.

Also the bodies of the ``harness cards`` and ``harness models`` commands.
"""

from __future__ import annotations

import difflib
import errno
import json
import os
import re
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

from rich.table import Table
from rich.text import Text

from harness.card import OVERRIDE_TYPES, crosscheck, key_for_folder, parse_card
from harness.card.training import with_mteb_training, with_sample_matches
from harness.config import project_registry
from harness.console import table_console
from harness.languages import normalize_language
from harness.model_files import open_regular
from harness.prompts import prompt_label, with_sources
from harness.records import Finding, ModelSpec
from harness.stderr import printable, say

CARD_FILE = "README.md"
OVERRIDES_FILE = "registry.toml"
CARD_SUFFIXES = {".md", ".txt", ".markdown"}
_NOT_CARDS = {"manifest.md", "license.md", "license.txt", "changelog.md", "notice.md", "notice.txt"}
MAX_OVERRIDES_BYTES = 1_000_000
# A card `harness add` wrote itself carries this comment: "(no card)" from mteb's ModelMeta,
# "(generated)" from a folder's configuration files. Its entry gets a finding saying so.
GENERATED_MARK = "<!-- harness add: generated card"
_GENERATED_RE = re.compile(re.escape(GENERATED_MARK) + r" \((no card|generated)\)")
_GENERATED_FINDINGS = {
    "no card": Finding(
        code="no-card",
        message="no model card: the entry's facts come from mteb's ModelMeta (harness add --mteb)",
    ),
    "generated": Finding(
        code="generated-card",
        message="the model has no card of its own: `harness add` generated this one from its config files",
    ),
}


def default_registry() -> Path:
    """The project's own ``registry/`` (``--registry`` / ``HARNESS_REGISTRY`` / the file's ``registry``
    are resolved by :mod:`harness.config`, which passes the chosen folder down)."""
    return project_registry()


DEFAULT_REGISTRY: Path = default_registry()


def read_overrides(path: Path) -> tuple[dict | None, str | None]:
    """(overrides, problem) from a registry.toml; (None, None) when there is none."""
    path = Path(path)
    if not path.is_file():
        if path.exists():  # a folder or FIFO named registry.toml: never opened, but never ignored either
            return None, f"{OVERRIDES_FILE}: not a regular file (a folder, FIFO or device); not read"
        return None, None
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_OVERRIDES_BYTES + 1)
    except OSError as exc:
        return None, f"{OVERRIDES_FILE}: cannot read it ({exc.strerror or exc})"
    if len(data) > MAX_OVERRIDES_BYTES:
        return None, f"{OVERRIDES_FILE}: larger than {MAX_OVERRIDES_BYTES} bytes; not read"
    try:
        overrides = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        return None, f"{OVERRIDES_FILE}: not UTF-8 text"
    except tomllib.TOMLDecodeError as exc:
        return None, f"{OVERRIDES_FILE}: invalid TOML ({' '.join(str(exc).split())})"
    return overrides, _schema_problem(overrides)


TOML_TYPE_NAMES = {str: "a string", list: "a list", dict: "a table"}


def _schema_problem(overrides: dict) -> str | None:
    """A maintainer's typo must not pass as "no weights found": unknown keys and wrong types are errors.
    What the values mean (a valid Hub id, a known language) the card parser checks and warns about."""
    for key, value in overrides.items():
        if key not in OVERRIDE_TYPES:
            close = difflib.get_close_matches(key, OVERRIDE_TYPES, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            return f"{OVERRIDES_FILE}: unknown key {key[:40]!r} (known: {', '.join(OVERRIDE_TYPES)}{hint})"
        if not isinstance(value, OVERRIDE_TYPES[key]):
            wanted = " or ".join(TOML_TYPE_NAMES[t] for t in OVERRIDE_TYPES[key])
            return f"{OVERRIDES_FILE}: {key} must be {wanted}, not {str(value)[:40]!r}"
    return None


def _is_model_dir(folder: Path) -> bool:
    return (folder / "modules.json").is_file() or (folder / "config.json").is_file()


def load_entry(folder: Path, *, strict_key: bool = True) -> ModelSpec:
    """The spec of one entry folder (README.md + optional registry.toml); never raises.

    A folder named like its Hub id (``Org__Name``, mixed case) is a normal entry: its key is the name
    lower-cased. With `strict_key` any other folder name must be a valid key (else the spec gets an
    error); without it an unusable folder name just falls back to a key derived from the card.
    """
    folder = Path(folder)
    key = key_for_folder(folder.name) or (folder.name if strict_key else None)
    link_problem = broken_link(folder)
    if link_problem is not None:  # its card cannot be read: say why, not "file not found"
        return parse_card(folder / CARD_FILE, key=key).model_copy(update={"errors": [link_problem]})
    overrides, problem = read_overrides(folder / OVERRIDES_FILE)
    model_dir = folder if _is_model_dir(folder) else None
    spec = parse_card(folder / CARD_FILE, key=key, overrides=overrides, model_dir=model_dir)
    if problem:
        spec = spec.model_copy(update={"errors": [*spec.errors, problem]})
    generated = _generated_finding(folder / CARD_FILE)
    if generated is not None:
        spec = spec.model_copy(update={"warnings": [generated, *spec.warnings]})
    local = spec.local_path.value
    if local and model_dir is None:
        if Path(local).is_dir():
            model_dir = Path(local)
            spec = crosscheck(spec, model_dir)
        else:
            note = Finding(
                code="local-path-missing",
                message=f"registry.toml path {local!r} is not a folder here; "
                "the weights must come from elsewhere",
            )
            spec = spec.model_copy(update={"warnings": [*spec.warnings, note]})
    spec = with_sources(spec, model_dir, overrides=overrides)  # mteb's metadata and the prompts
    return with_mteb_training(spec)


def _generated_finding(card: Path) -> Finding | None:
    """The finding for a card `harness add` generated (its marker comment is near the top), else None."""
    try:  # never a plain open(): a FIFO there would wait for a writer for ever
        fh, _ = open_regular(card)
        with fh:
            head = fh.read(4096).decode("utf-8", "replace")
    except OSError:
        return None
    found = _GENERATED_RE.search(head)
    return _GENERATED_FINDINGS[found.group(1)] if found else None


def _holds_anything(folder: Path) -> bool:
    try:
        return any(not p.name.startswith(".") for p in folder.iterdir())
    except OSError:
        return True  # an unreadable folder is an entry; reading its card says why it fails


def entry_folders(root: Path) -> list[Path]:
    """The registry's entry folders, sorted: every sub-folder that is not hidden and not empty. One
    without a README.md (a card named otherwise, weights alone) is an entry too, and its spec says
    "file not found", so that no entry is silently left out."""
    root = Path(root)
    try:
        children = sorted(root.iterdir(), key=lambda p: p.name) if root.is_dir() else []
    except OSError:
        return []
    return [
        c
        for c in children
        if not c.name.startswith(".") and (broken_link(c) or (c.is_dir() and _holds_anything(c)))
    ]


def broken_link(path: Path) -> str | None:
    """What is wrong with `path` when it is a symbolic link that leads to nothing (a loop, or a
    target that does not exist), else None. Such an entry is listed with this error, not dropped."""
    if not path.is_symlink():
        return None
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop, not a folder"
        return f"a symbolic link to {os.readlink(path)!r}, which does not exist"
    return None


def load_registry(root: Path) -> list[ModelSpec]:
    """One spec per entry folder (`entry_folders`), sorted by key."""
    specs = [load_entry(folder) for folder in entry_folders(root)]
    return _flag_duplicates(sorted(specs, key=lambda s: s.key))


def _flag_duplicates(specs: list[ModelSpec]) -> list[ModelSpec]:
    """Warn on entries sharing a model id (the run refuses the second where their results would meet);
    an entry whose key another folder already has (``Org__Name`` beside ``org__name``) is an error."""
    first_source: dict[str, str] = {}
    for i, s in enumerate(specs):
        owner = first_source.setdefault(s.key, s.source)
        if owner != s.source:
            problem = (
                f"registry key {s.key!r} is also the key of {Path(owner).parent} (keys are folder names "
                "lower-cased); rename one of the folders"
            )
            specs[i] = s.model_copy(update={"errors": [*s.errors, problem]})
    by_id: dict[str, list[str]] = {}
    for s in specs:
        if s.model_id.value:
            by_id.setdefault(s.model_id.value.lower(), []).append(s.key)
    out = []
    for s in specs:
        keys = by_id.get((s.model_id.value or "").lower(), [])
        if len(keys) > 1:
            others = ", ".join(k for k in keys if k != s.key)
            note = Finding(
                code="duplicate-model-id", message=f"model id {s.model_id.value!r} is also used by {others}"
            )
            s = s.model_copy(update={"warnings": [*s.warnings, note]})
        out.append(s)
    return out


def find_model(specs: list[ModelSpec], name: str) -> ModelSpec | None:
    """The spec whose registry key or model id is `name` (case-insensitive); keys win."""
    wanted = name.strip().lower()
    for s in specs:
        if s.key.lower() == wanted:
            return s
    for s in specs:
        if s.model_id.value and s.model_id.value.lower() == wanted:
            return s
    return None


def card_paths(paths: Iterable[Path]) -> list[Path]:
    """Card files named by `paths`: a file is itself; a folder with a README.md is that card; any other
    folder gives its entry sub-folders' README.md files and its own .md/.txt card files, sorted.
    A path that does not exist is kept, so that it is reported as an error."""
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.is_dir():
            out.append(p)
            continue
        if (p / CARD_FILE).is_file():
            out.append(p / CARD_FILE)
            continue
        try:
            children = sorted(p.iterdir(), key=lambda c: c.name)
        except OSError:
            out.append(p)
            continue
        for child in children:
            if child.name.startswith("."):
                continue
            if child.is_dir():
                if (child / CARD_FILE).exists() or (child / OVERRIDES_FILE).exists():
                    out.append(child / CARD_FILE)
            elif child.suffix.lower() in CARD_SUFFIXES and child.name.lower() not in _NOT_CARDS:
                out.append(child)
    return list(dict.fromkeys(out))


def load_card(path: Path) -> ModelSpec:
    """The spec of one card file; a README.md brings its folder's registry.toml and model files."""
    path = Path(path)
    if path.name == CARD_FILE:
        return load_entry(path.parent, strict_key=False)
    return with_mteb_training(with_sources(parse_card(path)))


# --------------------------------------------------------------------------------------------
# commands


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _report_errors(specs: list[ModelSpec]) -> None:
    for s in specs:
        for err in s.errors:
            say(f"{s.source}: {_one_line(err)}")


def _cell(value: object) -> Text:
    return Text("—" if value is None or value == "" else printable(value))


def _languages_cell(spec: ModelSpec) -> Text:
    langs = spec.languages_label or "?"
    return Text(f"{langs} ({spec.language_source})")


def cards_command(paths: list[Path], as_json: bool, registry_dir: Path, data_dir: Path | None = None) -> int:
    """`harness cards [PATH ...] [--json]`: parse cards and print them; 1 when any card had errors.
    `data_dir`: where training-sample rows are looked up (harness.card.training)."""
    paths = [Path(p) for p in paths or []]
    if not paths and not Path(registry_dir).is_dir():
        say(f"{registry_dir}: registry folder not found")
        return 2
    targets = card_paths(paths) if paths else [f / CARD_FILE for f in entry_folders(registry_dir)]
    specs = [with_sample_matches(load_card(p), data_dir) for p in targets]
    _report_errors(specs)
    if as_json:
        sys.stdout.write(json.dumps([s.contract_json() for s in specs], ensure_ascii=True, indent=2) + "\n")
    else:
        console = table_console(highlight=False)
        table = Table(title=f"{len(specs)} model card(s)", title_justify="left")
        for col in ("key", "model id", "languages", "dim", "pooling", "max seq", "architecture", "claims"):
            table.add_column(col, overflow="fold")
        table.add_column("warnings", justify="right")
        table.add_column("errors", justify="right")
        for s in specs:
            claims = "; ".join(
                f"{c.metric}{'' if c.similarity == 'unspecified' else f' ({c.similarity})'} {c.value:.4f}"
                + (f" {c.split}" if c.split else "")
                + (f" {c.language}" if c.language else "")
                for c in s.claims
                if not c.history  # a training log's earlier rows: in --json, not in the table
            )
            table.add_row(
                *_fact_cells(s),
                _cell(claims),
                _cell(len(s.warnings)),
                _cell(len(s.errors)),
            )
        console.print(table)
        for s in specs:  # what `run` also scores each such model at (harness.variants)
            if s.matryoshka_dims.value:
                dims = ", ".join(map(str, s.matryoshka_dims.value))
                console.print(Text(f"{s.key}: Matryoshka dimensions {dims} ({s.matryoshka_dims.source})"))
        for s in specs:
            if not s.warnings and not s.errors:
                continue
            console.print(Text(f"{s.key}  ({s.source})", style="bold"))
            for err in s.errors:
                console.print(Text(f"  error: {_one_line(err)}", style="red"))
            for w in s.warnings:
                console.print(Text(f"  {w.code}: {_one_line(w.message)}"))
    if not specs:  # an empty listing is an answer (README "Exit status")
        say("no model cards found")
    return 1 if any(s.errors for s in specs) else 0


def _fact_cells(s: ModelSpec) -> list[str]:
    """The key facts both tables show: key, model id, languages, dim, pooling, max seq, architecture."""
    return [
        _cell(s.key),
        _cell(s.model_id.value),
        _languages_cell(s),
        _cell(s.dimension.value),
        _cell(s.pooling.value),
        _cell(s.max_seq_length.value),
        _cell(s.architecture.value),
    ]


def models_command(registry_dir: Path, lang: str | None) -> int:
    """`harness models [--lang xx]`: list the registry's models with their key facts."""
    root = Path(registry_dir)
    if not root.is_dir():
        say(f"{root}: registry folder not found")
        return 2
    specs = load_registry(root)
    title = f"{len(specs)} model(s) in {root}"
    if lang is not None:
        code = normalize_language(lang)
        if code is None:
            say(f"--lang {lang!r} is not a language code")
            return 2
        specs = [s for s in specs if s.covers(code)]
        title = f"{len(specs)} model(s) in {root} covering {code!r}"
    _report_errors(specs)
    table = Table(title=title, title_justify="left")
    for col in ("key", "model id", "languages", "dim", "pooling", "max seq", "architecture", "STS prompt"):
        table.add_column(col, overflow="fold")
    for col in ("claims", "warnings"):
        table.add_column(col, justify="right")
    for s in specs:
        table.add_row(
            *_fact_cells(s),
            _cell(prompt_label(s.sts_prompt)),
            _cell(len(s.claims)),
            _cell(len(s.warnings) + len(s.errors)),
        )
    table_console(highlight=False).print(table)
    if not specs:  # an empty listing is an answer (README "Exit status"), said in one line
        covering = f" covers {lang!r}" if lang is not None else " is registered"
        say(f"no model in {root}{covering}")
    return 1 if any(s.errors for s in specs) else 0
