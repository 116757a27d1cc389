"""What a model folder says about itself: modules.json, configs, auto_map, safetensors headers.

One reader for each file, with one set of rules, shared by the card cross-check and the encoder:

* `read_json`: a missing file is ``(None, None)``; an unreadable, oversized or invalid one is
  ``(None, problem)``; the caller decides whether a problem is a warning (cards) or an error (encoder).
* `read_modules`: the Sentence Transformers module chain; paths that leave the folder are refused.
* `remote_code_reason`: why loading the folder would run the folder's own code (a custom module
  class, or an ``auto_map`` in a config), or None.
* `safetensors_shapes`: tensor shapes from a header, read by the `safetensors` library, which also
  checks that the file is exactly as long as its header says.
* `model_file_facts`: the facts a card is checked against (dimension, pooling, max_seq_length, ...).
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from harness.records import Finding

MAX_CONFIG_BYTES = 5 * 1024 * 1024
MAX_FOLDER_ENTRIES = 20_000  # files and folders a model folder may hold (real ones: tens)
MAX_SEQ_LENGTH = 1_048_576
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
_CONFIGS_WITH_CODE = ("config.json", "tokenizer_config.json")

POOL_FLAGS = (  # Sentence Transformers' concatenation order
    ("pooling_mode_cls_token", "cls"),
    ("pooling_mode_max_tokens", "max"),
    ("pooling_mode_mean_tokens", "mean"),
    ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"),
    ("pooling_mode_weightedmean_tokens", "weightedmean"),
    ("pooling_mode_lasttoken", "lasttoken"),
)
POOL_NAMES = {
    "cls": "cls",
    "cls_token": "cls",
    "mean": "mean",
    "mean_tokens": "mean",
    "max": "max",
    "max_tokens": "max",
    "mean_sqrt_len": "mean_sqrt_len",
    "mean_sqrt_len_tokens": "mean_sqrt_len",
    "weightedmean": "weightedmean",
    "weightedmean_tokens": "weightedmean",
    "weighted_mean": "weightedmean",
    "lasttoken": "lasttoken",
    "last_token": "lasttoken",
}


class UnreadableFile(OSError):
    """A path that is not read: not a regular file (FIFO, device, socket, folder, link loop) or too large."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.reason = reason


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path: Path, max_bytes: int | None = None) -> tuple[BinaryIO, int]:
    """(binary file, size) for a regular file (links followed) of at most `max_bytes` bytes.

    The one rule for reading anything in a model folder: FIFOs, devices (a link to /dev/zero),
    sockets, folders and link loops raise `UnreadableFile` (an OSError) with a one-line reason,
    without blocking; so does a file over `max_bytes`. Read at most `size` bytes from it.
    FileNotFoundError passes through unchanged (a missing file is not a problem for every caller).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)  # O_NONBLOCK: opening a FIFO does not wait for a writer
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UnreadableFile(path, f"cannot open it ({exc.strerror or exc})") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile(path, f"{_kind(info.st_mode)}, not a regular file; not read")
        if max_bytes is not None and info.st_size > max_bytes:
            raise UnreadableFile(path, f"{info.st_size} bytes, more than {max_bytes} allowed; not read")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), info.st_size
    except BaseException:
        os.close(fd)
        raise


def folder_files(
    root: Path, skip_dirs: frozenset[str] = frozenset(), skip_prefixes: tuple[str, ...] = ()
) -> tuple[list[Path], list[str]]:
    """(every non-folder entry under `root`, problems), in sorted order per folder.

    Linked folders are entered (a library loading the model reads through them too), each real
    folder once, so a link loop ends; a walk that meets more than `MAX_FOLDER_ENTRIES` entries
    (a link to ``/``) stops with a problem, and so does a folder that cannot be listed.
    Nothing is opened: it never blocks.
    """
    files: list[Path] = []
    problems: list[str] = []
    seen: set[tuple[int, int]] = set()

    def unreadable(exc: OSError) -> None:
        where = os.path.relpath(exc.filename, root) if exc.filename else str(root)
        problems.append(f"{where}: the folder cannot be listed ({exc.strerror or exc})")

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=True):
        try:
            info = os.stat(dirpath)
        except OSError as exc:  # gone since it was listed
            unreadable(exc)
            dirnames[:] = []
            continue
        if (info.st_dev, info.st_ino) in seen:  # reached again through a link: a loop or a duplicate
            dirnames[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        dirnames[:] = sorted(d for d in dirnames if d not in skip_dirs and not d.startswith(skip_prefixes))
        files.extend(Path(dirpath) / name for name in sorted(filenames))
        if len(files) + len(seen) > MAX_FOLDER_ENTRIES:
            problems.append(f"more than {MAX_FOLDER_ENTRIES} entries (a link to a large folder?); not read")
            break
    return files, problems


def irregular_files(root: Path, skip_dirs: frozenset[str] = frozenset()) -> list[str]:
    """Entries under `root` that are neither regular files nor folders once links are followed
    (FIFOs, devices, sockets, link loops, broken links), as ``"<relative path>: <why>"``, plus any
    problem walking the folder (see `folder_files`). Only `os.stat` is used: it never blocks."""
    files, out = folder_files(root, skip_dirs)
    for path in files:
        rel = path.relative_to(root).as_posix()
        try:
            mode = os.stat(path).st_mode
        except OSError as exc:
            why = "a broken link" if isinstance(exc, FileNotFoundError) else (exc.strerror or str(exc))
            out.append(f"{rel}: {why}")
            continue
        if not stat.S_ISREG(mode):
            out.append(f"{rel}: {_kind(mode)}, not a regular file")
    return out


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes` (see `open_regular`)."""
    fh, size = open_regular(path, max_bytes)
    with fh:
        return fh.read(size)


def read_json(path: Path, rel: str | None = None) -> tuple[Any, str | None]:
    """(value, problem): (None, None) when the file does not exist; a FIFO, device, link loop or
    oversized file is a problem, never read."""
    rel = rel or Path(path).name
    try:
        data = read_bytes(path, MAX_CONFIG_BYTES)
    except FileNotFoundError:
        return None, None
    except UnreadableFile as exc:
        return None, f"{rel}: {exc.reason}"
    except OSError as exc:
        return None, f"{rel} cannot be read ({exc.strerror or exc})"
    try:
        return json.loads(data.decode("utf-8")), None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, f"{rel} cannot be read as JSON ({' '.join(str(exc).split())[:80]})"


@dataclass(frozen=True)
class Module:
    kind: str  # class name: Transformer, Pooling, Dense, Normalize, ...
    type: str  # the full class path modules.json gives
    path: str  # folder relative to the model folder ("" = the folder itself)


def module_folder(root: Path, rel: Any) -> Path | None:
    """The folder of a modules.json path, or None when it is not a string or leaves the folder."""
    if not isinstance(rel, str):
        return None
    if rel.startswith(("/", "\\")) or ".." in Path(rel).parts or ":" in rel:
        return None
    return (root / rel) if rel else root


def read_modules(root: Path) -> tuple[list[Module] | None, list[str]]:
    """(modules, problems); modules is None when there is no usable modules.json."""
    data, problem = read_json(root / "modules.json")
    problems = [problem] if problem else []
    if data is None:
        return None, problems
    if not isinstance(data, list):
        return None, [*problems, "modules.json is not a list of modules"]
    modules: list[Module] = []
    for entry in data:
        if not isinstance(entry, dict):
            continue
        full = str(entry.get("type", ""))
        rel = entry.get("path", "")
        if module_folder(root, rel) is None:
            problems.append(f"modules.json names an unsafe path {rel!r}; skipped")
            continue
        modules.append(Module(kind=full.rsplit(".", 1)[-1], type=full, path=rel))
    return modules, problems


def remote_code_reason(root: Path) -> tuple[str | None, list[str]]:
    """(why loading this folder would run the folder's own code, or None; the problems met reading
    modules.json and the configs). The card cross-check warns about problems, the encoder refuses."""
    modules, problems = read_modules(root)
    folders = [("", root)]
    for mod in modules or []:
        if mod.type and not mod.type.startswith("sentence_transformers."):
            return f"modules.json uses the custom module class {mod.type!r}", problems
        if mod.path:
            folders.append((mod.path, root / mod.path))
    for rel, folder in folders:
        for name in _CONFIGS_WITH_CODE:
            where = f"{rel}/{name}" if rel else name
            cfg, problem = read_json(folder / name, where)
            if problem:
                problems.append(problem)
            if isinstance(cfg, dict) and cfg.get("auto_map"):
                return f"{where} has an auto_map pointing at custom code", problems
    return None, problems


def safetensors_shapes(path: Path) -> dict[str, list[int]]:
    """Tensor name -> shape from a safetensors header. Raises ValueError for a corrupt,
    truncated or over-long file (the library checks the data fits the header exactly)."""
    from safetensors import SafetensorError, safe_open

    try:
        open_regular(path)[0].close()  # a FIFO or a device is refused here, never opened by safetensors
        with safe_open(str(path), framework="numpy") as fh:
            return {name: list(fh.get_slice(name).get_shape()) for name in fh.keys()}  # noqa: SIM118
    except (SafetensorError, OSError) as exc:
        why = " ".join(str(exc).split())
        if "not fully covered" in why:  # the library's words for a file cut short or padded
            why = f"the file is {path.stat().st_size} bytes, not the length its header describes ({why})"
        raise ValueError(why) from exc


def pooling_from_config(conf: dict) -> tuple[str | None, int, Any]:
    """(pooling name, number of concatenated modes, per-mode dimension) from a Pooling config."""
    dim = conf.get("word_embedding_dimension", conf.get("embedding_dimension"))
    modes: list[str] = []
    mode = conf.get("pooling_mode")
    if isinstance(mode, str):
        modes = [mode]
    elif isinstance(mode, list):
        modes = [m for m in mode if isinstance(m, str)]
    if modes:
        names = [POOL_NAMES.get(m.strip().lower().removeprefix("pooling_mode_"), "") for m in modes]
        if all(names):
            return "+".join(names), len(names), dim
        return None, 0, dim
    names = [name for flag, name in POOL_FLAGS if conf.get(flag) is True]
    return ("+".join(names) if names else None), len(names), dim


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


def _weight_files(root: Path, folders: list[str], notes: list[Finding]) -> list[tuple[Path, str]]:
    weights: list[tuple[Path, str]] = []
    for rel in folders:
        folder = root / rel if rel else root
        index = folder / "model.safetensors.index.json"
        if index.is_file():
            idx = _json(index, _join(rel, index.name), notes)
            files = sorted(set(idx.get("weight_map", {}).values())) if isinstance(idx, dict) else []
            for f in files:
                if isinstance(f, str) and "/" not in f and "\\" not in f and ".." not in f:
                    weights.append((folder / f, _join(rel, f)))
        elif (folder / "model.safetensors").is_file():
            weights.append((folder / "model.safetensors", _join(rel, "model.safetensors")))
    return weights


def _json(path: Path, rel: str, notes: list[Finding]) -> Any:
    value, problem = read_json(path, rel)
    if problem:
        notes.append(Finding(code="model-files-corrupt", message=problem))
    return value


def _parameters(weights: list[tuple[Path, str]], notes: list[Finding]) -> tuple[int, str] | None:
    total = 0
    for path, rel in weights:
        try:
            total += sum(math.prod(shape) for shape in safetensors_shapes(path).values())
        except ValueError as exc:
            notes.append(
                Finding(
                    code="model-files-corrupt", message=f"{rel}: cannot read the safetensors header ({exc})"
                )
            )
            return None
    if not weights:
        return None
    return total, weights[0][1] if len(weights) == 1 else "*.safetensors"


def model_file_facts(model_dir: Path) -> tuple[dict[str, tuple[Any, str]], list[Finding], dict[str, Any]]:
    """Facts from a model folder: ({field: (value, source)}, warnings, extra info)."""
    root = Path(model_dir)
    notes: list[Finding] = []
    facts: dict[str, tuple[Any, str]] = {}
    extra: dict[str, Any] = {}

    def src(rel: str) -> str:
        return f"model-files:{rel}"

    if not root.is_dir():
        notes.append(
            Finding(code="model-files-missing", message=f"model folder {str(root)!r} does not exist")
        )
        return facts, notes, extra
    modules, problems = read_modules(root)
    notes.extend(Finding(code="model-files-corrupt", message=p) for p in problems)
    transformer_rel, pooling_rel, dense_rels, folders = "", None, [], [""]
    if modules is not None:
        facts["normalize"] = (any(m.kind == "Normalize" for m in modules), src("modules.json"))
        for mod in modules:
            if mod.kind == "Transformer":
                transformer_rel = mod.path
            elif mod.kind == "Pooling":
                pooling_rel = mod.path
            elif mod.kind == "Dense":
                dense_rels.append(mod.path)
            if mod.path and mod.path not in folders:
                folders.append(mod.path)
    elif not problems and not (root / "modules.json").exists():
        notes.append(
            Finding(
                code="model-files-missing",
                message="no modules.json: not a sentence-transformers model folder",
            )
        )

    tdir = root / transformer_rel if transformer_rel else root
    config_rel = _join(transformer_rel, "config.json")
    config = _json(tdir / "config.json", config_rel, notes)
    max_positions = None
    if isinstance(config, dict):
        archs = config.get("architectures")
        if isinstance(archs, list) and archs and isinstance(archs[0], str) and _IDENT_RE.match(archs[0]):
            facts["architecture"] = (archs[0], src(config_rel))
        if isinstance(config.get("max_position_embeddings"), int):
            max_positions = extra["max_position_embeddings"] = config["max_position_embeddings"]
        if isinstance(config.get("hidden_size"), int):
            extra["hidden_size"] = config["hidden_size"]
            facts["dimension"] = (config["hidden_size"], src(config_rel))
    sbert_rel = _join(transformer_rel, "sentence_bert_config.json")
    sbert = _json(tdir / "sentence_bert_config.json", sbert_rel, notes)
    if (
        isinstance(sbert, dict)
        and isinstance(sbert.get("max_seq_length"), int)
        and sbert["max_seq_length"] > 0
    ):
        facts["max_seq_length"] = (sbert["max_seq_length"], src(sbert_rel))
    else:
        tok_rel = _join(transformer_rel, "tokenizer_config.json")
        tok = _json(tdir / "tokenizer_config.json", tok_rel, notes)
        mml = tok.get("model_max_length") if isinstance(tok, dict) else None
        if isinstance(mml, int | float) and 0 < mml <= MAX_SEQ_LENGTH:
            value = int(mml) if not max_positions else min(int(mml), max_positions)
            facts["max_seq_length"] = (value, src(tok_rel))
        elif max_positions and 0 < max_positions <= MAX_SEQ_LENGTH:
            facts["max_seq_length"] = (max_positions, src(config_rel))
    if pooling_rel is not None:
        pool_rel = _join(pooling_rel, "config.json")
        pool = _json(root / pooling_rel / "config.json", pool_rel, notes)
        if isinstance(pool, dict):
            name, n_modes, per_mode = pooling_from_config(pool)
            if name:
                facts["pooling"] = (name, src(pool_rel))
            if isinstance(per_mode, int) and not isinstance(per_mode, bool) and per_mode > 0:
                facts["dimension"] = (per_mode * max(1, n_modes), src(pool_rel))
    for rel in dense_rels:
        dense_rel = _join(rel, "config.json")
        dense = _json(root / rel / "config.json", dense_rel, notes)
        if isinstance(dense, dict) and isinstance(dense.get("out_features"), int):
            facts["dimension"] = (dense["out_features"], src(dense_rel))
    reason, _ = remote_code_reason(root)  # its reading problems are already notes
    if reason:
        notes.append(
            Finding(code="remote-code", message=f"{reason}: loading this model runs code from its repository")
        )
    counted = _parameters(_weight_files(root, folders, notes), notes)
    if counted is not None:
        facts["parameters"] = (counted[0], src(counted[1]))
    return facts, notes, extra
