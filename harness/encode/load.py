"""Loading a model: device and dtype resolution, preflight checks of a folder, the weights' revision.

torch and sentence-transformers are imported lazily: importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.encode.integrity import file_problem, integrity_problem, token_counts
from harness.errors import EncodeError, ModelLoadError, RemoteCodeRefused
from harness.model_files import (
    folder_files,
    irregular_files,
    open_regular,
    read_modules,
    remote_code_reason,
    safetensors_shapes,
)
from harness.records import DType

log = logging.getLogger("harness.encode")

MAX_SIDE_FILE_BYTES = 256 * 1024 * 1024  # configs and tokenizers (real ones: under 50 MB)
LARGE_INTEGER = int(1e20)  # transformers' "no model_max_length" sentinel is ~1e30
_DEFAULT_MAX_LEN = 512
TORCH_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


# --------------------------------------------------------------------------- device / dtype


def pick_device() -> str:
    """``"cuda"`` when a CUDA GPU is usable, else ``"cpu"`` (MPS is deliberately ignored)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def visible_cuda(device: str) -> Any:
    """The ``torch.device`` (with its index) of a CUDA ``device`` this process can use, else None.

    None on a machine that cannot see that GPU: a Ray driver on a head node without one, whose
    workers have it. ``"cuda"`` without an index names the current device."""
    import torch

    dev = torch.device(device)
    if dev.type != "cuda" or not torch.cuda.is_available():
        return None
    index = torch.cuda.current_device() if dev.index is None else dev.index
    return torch.device("cuda", index) if index < torch.cuda.device_count() else None


def resolve_dtype(requested: str, device: str) -> DType:
    """Turn a requested dtype (``auto``/``fp32``/``fp16``/``bf16``) into the one used on ``device``.

    ``auto`` is bf16 on CUDA when the GPU supports it, else fp16. On CPU everything is fp32
    (half precision on CPU is slow and not what the reference numbers use). bf16 becomes fp16 only
    where this process can see the GPU and asks *that* GPU (``cuda:1``, not the current one); a
    GPU it cannot see (a Ray driver without one) keeps the dtype asked for, which the cluster
    probe resolved where the GPU is (``auto`` there: fp16, which every CUDA GPU runs).
    """
    req = requested.lower()
    if req not in ("auto", *TORCH_DTYPES):
        raise ValueError(f"unknown dtype {requested!r}; expected auto, fp32, fp16 or bf16")
    if not str(device).startswith("cuda"):
        if req in ("fp16", "bf16"):
            log.warning("dtype %s requested on %s: using fp32 (half precision is GPU-only here)", req, device)
        return "fp32"
    if req == "fp32":
        return "fp32"
    gpu = visible_cuda(device)
    if gpu is None:
        return "fp16" if req == "auto" else req  # type: ignore[return-value]
    import torch

    with torch.cuda.device(gpu):  # is_bf16_supported asks the current device
        bf16_ok = bool(torch.cuda.is_bf16_supported())
    if req == "auto":
        return "bf16" if bf16_ok else "fp16"
    if req == "bf16" and not bf16_ok:
        log.warning("bf16 is not supported on %s: using fp16", device)
        return "fp16"
    return req  # type: ignore[return-value]


def free_device_memory(device: str) -> None:
    """Collect garbage (a model in a reference cycle) and hand the CUDA cache back, after a job."""
    import gc

    import torch

    gc.collect()
    if str(device).startswith("cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class LoadedModel:
    model: Any  # sentence_transformers.SentenceTransformer
    device: str
    dtype: str
    max_seq_length: int
    pooling: str | None
    normalize: bool
    dimension: int
    tokenizer: Any  # transformers fast tokenizer (None for tokenizer-less modules)


_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
# Files besides the weights whose bytes change a vector (tokenization, pooling, module chain).
_VECTOR_CONFIG_FILES = {
    "modules.json",
    "config.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
    "spiece.model",
    "tokenizer.model",
}
_SKIP_DIRS = {".git", ".cache", "onnx", "openvino", "__pycache__", ".ipynb_checkpoints"}


def _model_files(model_dir: Path) -> list[Path]:
    """The files that decide a vector, linked sub-folders included (the loader reads through them)."""
    found, problems = folder_files(model_dir, frozenset(_SKIP_DIRS), ("checkpoint-",))
    if problems:
        raise ModelLoadError(f"{model_dir}: {problems[0]}")
    return [f for f in found if f.name.endswith(_WEIGHT_SUFFIXES) or f.name in _VECTOR_CONFIG_FILES]


def weights_revision(model_dir: Path) -> str:
    """A revision for a local folder: ``"local-"`` + 12 hex of sha256 over its weight files.

    Hashes, in sorted path order, every weight file (``model.safetensors``,
    ``pytorch_model.bin``, module weights such as ``2_Dense/model.safetensors``) plus the
    small files that decide tokenization and the module chain (``modules.json``,
    ``config.json``, ``tokenizer.json``, ``1_Pooling/config.json`` ...). README and other
    files do not count. Files are streamed in 1 MiB chunks.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelLoadError(f"{model_dir} is not a folder")
    files = _model_files(model_dir)
    if not any(f.name.endswith(_WEIGHT_SUFFIXES) for f in files):
        raise ModelLoadError(f"{model_dir} has no weight files (model.safetensors / pytorch_model.bin)")
    h = hashlib.sha256()
    try:
        for f in files:
            # only regular files, and only as many bytes as they had when opened: a FIFO, a link to
            # /dev/zero or a link loop is a load failure of this model, never a hang
            fh, size = open_regular(f)
            with fh:
                rel = f.relative_to(model_dir).as_posix()
                h.update(rel.encode() + b"\x00" + str(size).encode() + b"\x00")
                left = size
                while left > 0 and (chunk := fh.read(min(1 << 20, left))):
                    h.update(chunk)
                    left -= len(chunk)
    except OSError as exc:
        raise ModelLoadError(" ".join(str(exc).split())) from exc
    return "local-" + h.hexdigest()[:12]


def _check_safetensors(path: Path) -> None:
    """The header parses, the file is as long as it says, and it holds tensors."""
    try:
        shapes = safetensors_shapes(path)
    except ValueError as exc:
        raise ModelLoadError(f"corrupt or truncated weights file {path}: {exc}") from exc
    if not shapes:
        raise ModelLoadError(f"weights file {path} holds no tensors: the model would run on random weights")


# Files a tokenizer is built from; a Transformer module without any gets a made-up tokenizer
# (a handful of special tokens: every word becomes [UNK]) and a meaningless score.
TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "sentencepiece.bpe.model",
    "spiece.model",
    "tokenizer.model",
    "sentencepiece.model",
)


def _tokenizer_folder(model_dir: Path) -> Path:
    modules, _ = read_modules(model_dir)
    for mod in modules or []:
        if mod.kind == "Transformer":
            return model_dir / mod.path if mod.path else model_dir
    return model_dir


def preflight(model_dir: Path, trust_remote_code: bool) -> None:
    """Refuse a local folder that cannot give this model's own vectors, before any library reads it:
    special files (FIFOs, devices, link loops), remote code not allowed, corrupt or empty safetensors,
    a Transformer without tokenizer files. Raises `ModelLoadError` / `RemoteCodeRefused` (one line)."""
    irregular = irregular_files(model_dir, frozenset(_SKIP_DIRS))
    if irregular:
        more = f" (and {len(irregular) - 1} more)" if len(irregular) > 1 else ""
        raise ModelLoadError(f"{model_dir}: {irregular[0]}{more}; not read")
    reason, problems = remote_code_reason(model_dir)  # the one modules.json / auto_map reader
    if problems:
        raise ModelLoadError(f"{model_dir}: {problems[0]}")
    if reason and not trust_remote_code:
        raise RemoteCodeRefused(
            f"{model_dir} wants to run its own code ({reason}); pass --trust-remote-code to allow it"
        )
    if not (model_dir / "modules.json").is_file():
        if not (model_dir / "config.json").is_file():
            raise ModelLoadError(
                f"{model_dir} is missing modules.json (and config.json): not a sentence-transformers "
                "or transformers model folder"
            )
        log.warning(
            "%s has no modules.json: loading the transformers model + mean pooling (as ST does)",
            model_dir,
        )
    for f in _model_files(model_dir):
        if f.suffix == ".safetensors":
            _check_safetensors(f)
        elif not f.name.endswith(_WEIGHT_SUFFIXES) and (size := f.stat().st_size) > MAX_SIDE_FILE_BYTES:
            # the libraries read these whole, unbounded: a (sparse) 100 GB tokenizer.json never ends
            raise ModelLoadError(
                f"{f}: {size} bytes, more than {MAX_SIDE_FILE_BYTES} for a configuration "
                "or tokenizer file; not read"
            )
    wrong_files = file_problem(model_dir)
    if wrong_files:
        raise ModelLoadError(wrong_files)
    tok_dir = _tokenizer_folder(model_dir)
    if (tok_dir / "config.json").is_file() and not any((tok_dir / n).is_file() for n in TOKENIZER_FILES):
        rel = tok_dir.relative_to(model_dir).as_posix()
        where = model_dir if rel == "." else f"{model_dir}/{rel}"
        raise ModelLoadError(
            f"{where} has no tokenizer files ({', '.join(TOKENIZER_FILES[:3])}, ...): "
            "the model would get a made-up tokenizer"
        )


class LoadReport(logging.Handler):
    """transformers' LOAD REPORT rows (weights MISSING from the checkpoint, UNEXPECTED, MISMATCH)."""

    STATUSES = ("MISSING", "UNEXPECTED", "MISMATCH")

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.rows: dict[str, list[str]] = {s: [] for s in self.STATUSES}

    def emit(self, record: logging.LogRecord) -> None:
        text = _ANSI_RE.sub("", record.getMessage())
        if "LOAD REPORT" not in text:
            return
        for line in text.splitlines():
            cells = [c.strip() for c in line.split("|")]
            if len(cells) >= 2 and cells[1] in self.rows:
                self.rows[cells[1]].append(cells[0])

    def problem(self) -> str | None:
        parts = [
            f"{len(keys)} {status.lower()} ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})"
            for status, keys in self.rows.items()
            if keys
        ]
        return "; ".join(parts) if parts else None


_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


@contextlib.contextmanager
def weights_report() -> Iterator[LoadReport]:
    """Collect transformers' report of weights it did not load, whatever its log verbosity."""
    logger = logging.getLogger("transformers.modeling_utils")
    handler = LoadReport()
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False  # the report becomes the error message; it is not printed as well
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def check_loaded(report: LoadReport, model: Any, location: str) -> None:
    """Raise ModelLoadError when weights were left out or the tokenizer does not fit the model: such a
    model would give a score, and a wrong one (random weights, every word unknown)."""
    not_loaded = report.problem()
    if not_loaded:
        raise ModelLoadError(
            f"{location}: weights not all loaded from the checkpoint: {not_loaded}; "
            "the model would run with random weights"
        )
    wrong_tokenizer = tokenizer_problem(model)
    if wrong_tokenizer:
        raise ModelLoadError(f"{location}: {wrong_tokenizer}: not this model's tokenizer")
    not_the_model = integrity_problem(model) if model is not None else None
    if not_the_model:
        raise ModelLoadError(f"{location}: {not_the_model}")


def tokenizer_problem(model: Any) -> str | None:
    """Why the loaded tokenizer cannot be the model's own (its size against the embedding table)."""
    cfg = getattr(getattr(model, "transformers_model", None), "config", None)
    counts = token_counts(getattr(model, "tokenizer", None), cfg)
    if counts is None:
        return None
    n, vocab = counts
    if n > vocab:
        return f"the tokenizer has {n} tokens but the model's embedding table only {vocab} rows"
    if n < vocab // 2:
        return f"the tokenizer has only {n} tokens for the model's {vocab}-row embedding table"
    return None


def _one_line(exc: BaseException) -> str:
    """``Type: message`` on one line, at most 300 characters of message."""
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_ROBERTA_LIKE = {
    "roberta",
    "xlm-roberta",
    "xlm-roberta-xl",
    "camembert",
    "mpnet",
    "data2vec-text",
    "longformer",
}


def _position_limit(model: Any) -> int | None:
    """Longest input the transformer's position table allows, if known."""
    cfg = getattr(getattr(model, "transformers_model", None), "config", None)
    mpe = getattr(cfg, "max_position_embeddings", None)
    if not isinstance(mpe, int) or mpe <= 0:
        return None
    if getattr(cfg, "model_type", None) in _ROBERTA_LIKE:
        return mpe - (int(getattr(cfg, "pad_token_id", 1) or 1) + 1)
    return mpe


def _describe_pooling(model: Any) -> str | None:
    from sentence_transformers.sentence_transformer.modules import Pooling

    for module in model.children():
        if isinstance(module, Pooling):
            mode = module.pooling_mode
            return mode if isinstance(mode, str) else "+".join(mode)
    return None


def _has_normalize(model: Any) -> bool:
    from sentence_transformers.base.modules.normalize import Normalize

    return any(isinstance(m, Normalize) for m in model.children())


def load_model(
    path_or_id: str | Path,
    *,
    device: str,
    dtype: str,
    trust_remote_code: bool = False,
    max_seq_length: int | None = None,
    revision: str | None = None,
) -> LoadedModel:
    """Load a sentence-transformers model (a local folder, or a Hub id when online, at `revision`).

    ``dtype`` is resolved with :func:`resolve_dtype` (so fp16/bf16 only happen on CUDA).
    Raises :class:`RemoteCodeRefused` before anything is imported from the folder when it
    asks for custom code and ``trust_remote_code`` is False, :class:`EncodeError` when the
    model does not fit in the device's memory, and :class:`ModelLoadError` (one line) for any
    other failure.
    """
    import torch

    path = Path(path_or_id)
    is_local = path.is_dir()
    if not is_local and path.exists():
        raise ModelLoadError(f"{path} is a file, not a model folder")
    if is_local:
        preflight(path, trust_remote_code)
    resolved = resolve_dtype(dtype, device)
    torch_dtype = getattr(torch, TORCH_DTYPES[resolved])
    gpu = visible_cuda(device)
    if gpu is not None:  # pinned memory, the CUDA cache and library defaults follow the current device
        torch.cuda.set_device(gpu)

    try:
        from sentence_transformers import SentenceTransformer

        with warnings.catch_warnings(), weights_report() as report:
            warnings.simplefilter("ignore", FutureWarning)
            model = SentenceTransformer(
                str(path) if is_local else str(path_or_id),
                device=device,
                trust_remote_code=trust_remote_code,
                local_files_only=is_local,
                revision=None if is_local else revision,  # a pinned commit (registry.toml) is what runs
                model_kwargs={"dtype": torch_dtype},
            )
    except ModelLoadError:
        raise
    except Exception as exc:
        if is_oom(exc):  # too big for the device: an out-of-memory failure, not a broken model
            raise EncodeError(
                f"out of memory on {device} while loading {path_or_id} ({resolved}); "
                f"the model does not fit: {_one_line(exc)}"
            ) from exc
        msg = str(exc)
        if "trust_remote_code" in msg and not trust_remote_code:
            raise RemoteCodeRefused(
                f"{path_or_id} wants to run its own code; pass --trust-remote-code to allow it"
            ) from exc
        if "safetensors" in msg.lower() or "deserializ" in msg.lower():
            raise ModelLoadError(f"corrupt weights in {path_or_id}: {_one_line(exc)}") from exc
        raise ModelLoadError(f"cannot load {path_or_id}: {_one_line(exc)}") from exc

    check_loaded(report, model, path_or_id)

    _match_dtype(model, torch_dtype)

    if max_seq_length is not None:
        if max_seq_length < 1:
            raise ModelLoadError(f"max_seq_length must be positive, got {max_seq_length}")
        limit = _position_limit(model)
        if limit is not None and max_seq_length > limit:
            raise ModelLoadError(
                f"max_seq_length {max_seq_length} exceeds what {path_or_id} supports ({limit} positions)"
            )
        model.max_seq_length = max_seq_length
    model.eval()

    dim = model.get_embedding_dimension()
    if dim is None:
        with torch.inference_mode():
            dim = int(model.encode(["dimension probe"], convert_to_numpy=True).shape[1])
    seq = model.max_seq_length
    if seq is None or seq > LARGE_INTEGER:
        seq = _position_limit(model) or _DEFAULT_MAX_LEN
    return LoadedModel(
        model=model,
        device=str(device),
        dtype=resolved,
        max_seq_length=int(seq),
        pooling=_describe_pooling(model),
        normalize=_has_normalize(model),
        dimension=int(dim),
        tokenizer=getattr(model, "tokenizer", None),
    )


def _match_dtype(model: Any, torch_dtype: Any) -> None:
    """Put the modules in ``torch_dtype`` without undoing what transformers keeps in fp32.

    transformers loads the Transformer module in the requested dtype but keeps some parts in fp32
    (RoPE ``inv_freq`` buffers of ModernBERT and Qwen, T5's ``wo`` under fp16): casting the whole
    model would drop them to half precision. So the transformers model is cast only to upcast (a
    half-precision checkpoint run in fp32); the modules after it (Dense ...) take the dtype."""
    import torch
    from sentence_transformers.base.modules.transformer import Transformer

    for module in model.children():
        floats = [p.dtype for p in module.parameters() if p.is_floating_point()]
        if isinstance(module, Transformer):
            if torch_dtype == torch.float32 and any(d != torch.float32 for d in floats):
                module.to(torch_dtype)
        elif any(d != torch_dtype for d in floats):
            module.to(torch_dtype)


def is_oom(exc: BaseException) -> bool:
    """Whether an exception is an out-of-memory failure (torch's, or a RuntimeError saying so)."""
    import torch

    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
