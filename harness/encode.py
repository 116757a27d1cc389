"""The encode path: load a model, embed unique sentences fast, cache the vectors.

`embed` gives the same vectors as ``SentenceTransformer.encode`` (same tokenizer ids,
same module chain: Transformer -> Pooling -> Dense -> Normalize ...), but

- deduplicates texts and looks them up in a SQLite cache first (a fully cached call never
  loads the model);
- tokenizes all misses once with the Rust tokenizer (same truncation and special tokens
  as sentence-transformers), then sorts them by token count and packs batches by a token
  budget, so short sentences share big batches and padding stays small;
- halves the batch on out-of-memory (CUDA or "out of memory" RuntimeError) and retries;
- refuses NaN/inf output.

torch and sentence-transformers are imported lazily: importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import resource
import sqlite3
import struct
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.evaluate import NonFiniteEmbeddings
from harness.records import RunSettings

if TYPE_CHECKING:
    import torch

__all__ = [
    "EmbeddingCache",
    "EncodeError",
    "EncodeStats",
    "LoadedModel",
    "ModelLoadError",
    "NonFiniteEmbeddings",
    "RemoteCodeRefused",
    "default_cache_dir",
    "embed",
    "load_model",
    "pick_device",
    "resolve_dtype",
    "vector_fingerprint",
    "weights_revision",
]

log = logging.getLogger(__name__)

FINGERPRINT_VERSION = 1  # bump when the encode path changes what vectors it produces
CPU_START_BATCH = 64
CUDA_START_BATCH = 512
_LARGE_INTEGER = int(1e20)  # transformers' "no model_max_length" sentinel is ~1e30
_DEFAULT_MAX_LEN = 512
_CUDA_FLUSH_ROWS = 65_536  # move finished embeddings off the GPU every this many rows
_BUDGET_LEN_CAP = 512  # token budget = batch_size * min(max_len, this)
# A batch ends where rows get shorter than this share of its width. CPU: tight batches
# (measured: 0.9 beats 0.75 by ~8% per CPU-second on STS-B); CUDA: fewer, bigger batches.
_SPLIT_RATIO_CPU = 0.9
_SPLIT_RATIO_CUDA = 0.75
_TORCH_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


# --------------------------------------------------------------------------- errors


class ModelLoadError(Exception):
    """A model could not be loaded; the message is a one-line reason."""


class RemoteCodeRefused(ModelLoadError):
    """The model wants to run its own Python code and trust_remote_code is off."""


class EncodeError(RuntimeError):
    """Encoding failed (e.g. out of memory even at batch size 1)."""


# --------------------------------------------------------------------------- device / dtype


def pick_device() -> str:
    """``"cuda"`` when a CUDA GPU is usable, else ``"cpu"`` (MPS is deliberately ignored)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(requested: str, device: str) -> str:
    """Turn a requested dtype (``auto``/``fp32``/``fp16``/``bf16``) into the one used on ``device``.

    ``auto`` is bf16 on CUDA when the GPU supports it, else fp16. On CPU everything is fp32
    (half precision on CPU is slow and not what the reference numbers use).
    """
    req = requested.lower()
    if req not in ("auto", *_TORCH_DTYPES):
        raise ValueError(f"unknown dtype {requested!r}; expected auto, fp32, fp16 or bf16")
    if not str(device).startswith("cuda"):
        if req in ("fp16", "bf16"):
            log.warning("dtype %s requested on %s: using fp32 (half precision is GPU-only here)", req, device)
        return "fp32"
    if req == "fp32":
        return "fp32"
    import torch

    bf16_ok = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if req == "auto":
        return "bf16" if bf16_ok else "fp16"
    if req == "bf16" and not bf16_ok:
        log.warning("bf16 is not supported on this GPU: using fp16")
        return "fp16"
    return req


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
    files: list[Path] = []
    for root, dirs, names in os.walk(model_dir):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("checkpoint-"))
        for name in sorted(names):
            if name.endswith(_WEIGHT_SUFFIXES) or name in _VECTOR_CONFIG_FILES:
                files.append(Path(root) / name)
    return files


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
    for f in files:
        rel = f.relative_to(model_dir).as_posix()
        h.update(rel.encode() + b"\x00" + str(f.stat().st_size).encode() + b"\x00")
        with f.open("rb") as fh:
            for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                h.update(chunk)
    return "local-" + h.hexdigest()[:12]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"cannot read {path}: {exc}") from exc


def _remote_code_reason(model_dir: Path) -> str | None:
    """Why loading this folder would run the folder's own code, or None."""
    modules = _read_json(model_dir / "modules.json")
    module_dirs = [model_dir]
    if isinstance(modules, list):
        for entry in modules:
            if not isinstance(entry, dict):
                continue
            kind = str(entry.get("type", ""))
            if kind and not kind.startswith("sentence_transformers."):
                return f"modules.json uses the custom module class {kind!r}"
            if entry.get("path"):
                module_dirs.append(model_dir / str(entry["path"]))
    for d in module_dirs:
        for name in ("config.json", "tokenizer_config.json"):
            cfg = _read_json(d / name)
            if isinstance(cfg, dict) and cfg.get("auto_map"):
                rel = (d / name).relative_to(model_dir).as_posix()
                return f"{rel} has an auto_map pointing at custom code"
    return None


def _check_safetensors(path: Path) -> None:
    """Cheap structural check: header parses and the file is as long as the header says."""
    size = path.stat().st_size
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise ValueError(f"only {size} bytes")
            (n,) = struct.unpack("<Q", head)
            if n > size - 8 or n > 100 * (1 << 20):
                raise ValueError(f"header length {n} exceeds the file size {size}")
            header = json.loads(fh.read(n))
        end = 0
        for key, info in header.items():
            if key == "__metadata__":
                continue
            end = max(end, int(info["data_offsets"][1]))
        if 8 + n + end != size:
            raise ValueError(f"file is {size} bytes, header describes {8 + n + end}")
    except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"corrupt or truncated weights file {path}: {exc}") from exc


def _preflight(model_dir: Path, trust_remote_code: bool) -> None:
    if not trust_remote_code:
        reason = _remote_code_reason(model_dir)
        if reason:
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


def _one_line(exc: BaseException) -> str:
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
) -> LoadedModel:
    """Load a sentence-transformers model (a local folder, or a Hub id when online).

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
        _preflight(path, trust_remote_code)
    resolved = resolve_dtype(dtype, device)
    torch_dtype = getattr(torch, _TORCH_DTYPES[resolved])

    try:
        from sentence_transformers import SentenceTransformer

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            model = SentenceTransformer(
                str(path) if is_local else str(path_or_id),
                device=device,
                trust_remote_code=trust_remote_code,
                local_files_only=is_local,
                model_kwargs={"dtype": torch_dtype},
            )
    except ModelLoadError:
        raise
    except Exception as exc:
        if _is_oom(exc):  # too big for the device: an out-of-memory failure, not a broken model
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

    # every module (Dense included) in the requested dtype; a no-op for fp32 models
    if resolved != "fp32" or any(p.dtype != torch.float32 for p in model.parameters()):
        model.to(torch_dtype)

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
    if seq is None or seq > _LARGE_INTEGER:
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


# --------------------------------------------------------------------------- fingerprint

# RunSettings fields that never change a vector (everything else does, including fields
# added later: an unknown field costs a cache miss, never a wrong hit).
_NON_VECTOR_SETTINGS = {"trust_remote_code", "evaluator_version"}


def vector_fingerprint(model_id: str, revision: str, settings: RunSettings) -> str:
    """Stable hex key prefix for cached vectors: model id, revision and vector-relevant settings.

    Covers dtype, max_seq_length, pooling and normalisation (the parts of
    ``settings.identity_hash()`` that can change a vector) plus :data:`FINGERPRINT_VERSION`.
    ``settings.dtype`` should already be resolved for the device (see :func:`resolve_dtype`).
    """
    parts = {k: v for k, v in settings.model_dump().items() if k not in _NON_VECTOR_SETTINGS}
    blob = json.dumps(
        {"v": FINGERPRINT_VERSION, "model_id": str(model_id), "revision": str(revision), "settings": parts},
        sort_keys=True,
    ).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


# --------------------------------------------------------------------------- cache


def default_cache_dir() -> Path:
    """``$HARNESS_CACHE_DIR/embeddings``, else ``platformdirs.user_cache_dir("harness")/embeddings``."""
    env = os.environ.get("HARNESS_CACHE_DIR")
    if env:
        return Path(env).expanduser() / "embeddings"
    import platformdirs

    return Path(platformdirs.user_cache_dir("harness")) / "embeddings"


def _cache_key(fingerprint: str, text: str) -> bytes:
    return hashlib.sha256((fingerprint + "\x00" + text).encode("utf-8", "surrogatepass")).digest()


class EmbeddingCache:
    """Vectors keyed by sha256(fingerprint + NUL + text) in one SQLite file (WAL mode).

    Safe to share between processes (WAL + busy timeout; writes are idempotent
    ``INSERT OR REPLACE``). A corrupt file is moved aside with a warning and recreated;
    any other SQLite failure is logged and treated as a cache miss, never raised.
    """

    FILENAME = "embeddings.sqlite3"
    _CHUNK = 500

    def __init__(self, root: Path, *, timeout_s: float = 60.0) -> None:
        self.root = Path(root)
        self.path = self.root / self.FILENAME
        self.timeout_s = timeout_s
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._disabled = False
        with self._lock:
            self._open()

    # -- connection handling
    def _connect(self) -> sqlite3.Connection:
        self.root.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            str(self.path), timeout=self.timeout_s, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS vectors ("
                " key BLOB PRIMARY KEY, fingerprint TEXT NOT NULL,"
                " dim INTEGER NOT NULL, vec BLOB NOT NULL) WITHOUT ROWID"
            )
            conn.execute("SELECT key FROM vectors LIMIT 1").fetchall()
        except BaseException:
            conn.close()
            raise
        return conn

    def _open(self) -> None:
        try:
            self._conn = self._connect()
        except sqlite3.DatabaseError as exc:
            if _is_corruption(exc):
                self._quarantine(exc)
                try:
                    self._conn = self._connect()
                    return
                except sqlite3.Error as exc2:
                    exc = exc2
            self._disable(exc)
        except OSError as exc:
            self._disable(exc)

    def _disable(self, exc: BaseException) -> None:
        warnings.warn(f"embedding cache {self.path} unusable, running without it: {exc}", stacklevel=3)
        log.warning("embedding cache %s unusable, running without it: %s", self.path, exc)
        self._disabled = True
        self._conn = None

    def _quarantine(self, exc: BaseException) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        moved = self.path.with_name(f"{self.FILENAME}.corrupt-{stamp}-{os.getpid()}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                with contextlib.suppress(OSError):
                    os.replace(src, Path(str(moved) + suffix))
        msg = f"embedding cache {self.path} is corrupt ({exc}); moved it to {moved} and starting a new one"
        warnings.warn(msg, stacklevel=3)
        log.warning(msg)

    def _run(self, fn: Callable[[sqlite3.Connection], Any], default: Any) -> Any:
        """Run fn on the connection; recover from corruption once; never raise sqlite errors."""
        with self._lock:
            for attempt in range(2):
                if self._disabled or self._conn is None:
                    return default
                try:
                    return fn(self._conn)
                except sqlite3.DatabaseError as exc:
                    if _is_corruption(exc) and attempt == 0:
                        self._quarantine(exc)
                        self._open()
                        continue
                    log.warning("embedding cache %s: %s (continuing without it)", self.path, exc)
                    return default
            return default

    # -- public API
    def get_many(self, fingerprint: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached vectors (float32, 1-D) for those of ``texts`` that are present."""
        by_key: dict[bytes, str] = {_cache_key(fingerprint, t): t for t in texts}
        keys = list(by_key)

        def query(conn: sqlite3.Connection) -> dict[str, np.ndarray]:
            found: dict[str, np.ndarray] = {}
            for i in range(0, len(keys), self._CHUNK):
                chunk = keys[i : i + self._CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT key, dim, vec FROM vectors WHERE key IN ({marks})", chunk)
                for key, dim, vec in rows:
                    if dim <= 0 or len(vec) != 4 * dim:
                        continue  # damaged row: treat as a miss, it is rewritten later
                    found[by_key[bytes(key)]] = np.frombuffer(vec, dtype="<f4").astype(np.float32)
            return found

        return self._run(query, {}) if keys else {}

    def put_many(
        self, fingerprint: str, texts: Sequence[str], vectors: np.ndarray | Sequence[np.ndarray]
    ) -> None:
        """Store one vector per text (overwrites: identical keys mean identical vectors)."""
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
        rows = []
        for text, vec in zip(texts, vectors, strict=True):
            v = np.ascontiguousarray(np.asarray(vec, dtype="<f4").reshape(-1))
            rows.append((_cache_key(fingerprint, text), fingerprint, int(v.shape[0]), v.tobytes()))
        if not rows:
            return

        def write(conn: sqlite3.Connection) -> None:
            for i in range(0, len(rows), self._CHUNK * 2):
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.executemany(
                        "INSERT OR REPLACE INTO vectors (key, fingerprint, dim, vec) VALUES (?, ?, ?, ?)",
                        rows[i : i + self._CHUNK * 2],
                    )
                    conn.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    raise

        self._run(write, None)

    def __len__(self) -> int:
        return int(self._run(lambda c: c.execute("SELECT COUNT(*) FROM vectors").fetchone()[0], 0))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None
            self._disabled = True

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_corruption(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        # locked / busy / I/O trouble is not corruption; a few corruption messages are Operational
        text = str(exc).lower()
        return "malformed" in text or "not a database" in text
    return isinstance(exc, sqlite3.DatabaseError)


# --------------------------------------------------------------------------- embed


@dataclass(frozen=True)
class EncodeStats:
    n_texts: int  # texts passed in (duplicates included)
    n_unique: int
    n_cache_hits: int  # unique texts served from the cache
    n_encoded: int  # unique texts run through the model
    encode_seconds: float  # tokenize + forward of the misses (model loading excluded)
    sentences_per_second: float  # n_encoded / encode_seconds (0 when nothing was encoded)
    peak_memory_bytes: int  # CUDA: torch max_memory_allocated; CPU: process peak RSS
    device: str  # "none" when the model was not loaded (everything cached)
    dtype: str
    batch_size_final: int  # batch size (rows at full length) after any OOM halving
    n_tokens: int  # real tokens fed to the model (special tokens included)
    n_padded_tokens: int  # token positions processed incl. padding (>= n_tokens)
    model_load_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_oom(exc: BaseException) -> bool:
    import torch

    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


class _Featurizer:
    """Tokenizes exactly like the model's Transformer.preprocess, via the Rust tokenizer."""

    def __init__(self, lm: LoadedModel) -> None:
        from tokenizers import Tokenizer

        hf_tok = lm.tokenizer
        self.tok = Tokenizer.from_str(hf_tok._tokenizer.to_str())
        self.tok.no_padding()
        max_len = hf_tok.model_max_length
        if max_len is None or max_len > _LARGE_INTEGER:
            self.tok.no_truncation()  # what transformers does for an unbounded model_max_length
            self.max_len = None
        else:
            self.tok.enable_truncation(
                int(max_len), stride=0, strategy="longest_first", direction=hf_tok.truncation_side
            )
            self.max_len = int(max_len)
        self.tok.encode_special_tokens = bool(getattr(hf_tok, "split_special_tokens", False))
        self.input_names = list(hf_tok.model_input_names)
        pad = hf_tok.pad_token_id
        self.pad_id = int(pad) if pad is not None else 0
        self.pad_type_id = int(getattr(hf_tok, "pad_token_type_id", 0) or 0)
        self.left = hf_tok.padding_side == "left"

    def encode(self, texts: list[str]) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
        encs = self.tok.encode_batch(texts, add_special_tokens=True)
        ids = [np.asarray(e.ids, dtype=np.int64) for e in encs]
        types = (
            [np.asarray(e.type_ids, dtype=np.int64) for e in encs]
            if "token_type_ids" in self.input_names
            else None
        )
        return ids, types

    def pad(self, ids: list[np.ndarray], types: list[np.ndarray] | None) -> dict[str, np.ndarray]:
        rows, width = len(ids), max(len(x) for x in ids)
        input_ids = np.full((rows, width), self.pad_id, dtype=np.int64)
        mask = np.zeros((rows, width), dtype=np.int64)
        type_ids = np.full((rows, width), self.pad_type_id, dtype=np.int64) if types is not None else None
        for r, x in enumerate(ids):
            sl = slice(width - len(x), width) if self.left else slice(0, len(x))
            input_ids[r, sl] = x
            mask[r, sl] = 1
            if type_ids is not None:
                type_ids[r, sl] = types[r]
        out = {"input_ids": input_ids}
        if type_ids is not None:
            out["token_type_ids"] = type_ids
        if "attention_mask" in self.input_names:
            out["attention_mask"] = mask
        return out


def _fast_path_blocker(lm: LoadedModel) -> str | None:
    """Why the Rust-tokenizer path cannot reproduce model.preprocess for this model (None: it can)."""
    from sentence_transformers.base.modules.transformer import Transformer

    model = lm.model
    first = model[0]
    if not isinstance(first, Transformer):
        return f"first module is {type(first).__name__}"
    if getattr(first, "transformer_task", "feature-extraction") != "feature-extraction":
        return f"transformer task {first.transformer_task}"
    if set(getattr(first, "modality_config", {"text": None})) != {"text"}:
        return "model takes more than plain text"
    if getattr(first, "can_flatten_inputs", False):
        return "flash-attention input flattening"
    if getattr(first, "processing_kwargs", None):
        return "custom processing_kwargs"
    tok = lm.tokenizer
    if tok is None or not hasattr(tok, "_tokenizer") or not hasattr(tok._tokenizer, "encode_batch"):
        return "tokenizer is not a Rust (fast) tokenizer"
    resolve = getattr(model, "_resolve_prompt", None)
    if resolve is not None and resolve(None, None):
        return "model has a default prompt"
    if "input_ids" not in tok.model_input_names:
        return "tokenizer does not produce input_ids"
    return None


def _plan_batch(
    lengths: np.ndarray,
    start: int,
    batch_size: int,
    max_len: int,
    row_cap: int | None,
    split_ratio: float = _SPLIT_RATIO_CUDA,
) -> int:
    """Rows for the batch starting at ``start`` of the length-sorted (descending) list.

    Token budget: ``batch_size * min(max_len, 512)`` padded tokens (every row padded to the
    batch's first, longest row), so short rows pack into bigger batches; ``row_cap`` bounds
    the rows (used on CPU, where big batches do not pay). A batch also ends where rows drop
    below ``split_ratio`` of its width, so a few long texts do not pad many short ones;
    that costs at most a handful of extra batches (log of the length range).
    """
    budget = batch_size * min(max_len, _BUDGET_LEN_CAP)
    width = max(int(lengths[start]), 1)
    rows = max(1, budget // width)
    if row_cap is not None:
        rows = min(rows, row_cap)
    rows = int(min(rows, len(lengths) - start))
    window = lengths[start : start + rows]
    short = np.flatnonzero(window < split_ratio * width)
    if short.size:
        rows = max(1, int(short[0]))
    return rows


def _peak_memory(device: str) -> int:
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.max_memory_allocated())
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _encode_misses(
    lm: LoadedModel,
    texts: list[str],
    batch_size: int,
    progress: Callable[[int], None] | None,
) -> tuple[np.ndarray, dict[str, int]]:
    """Embeddings (float32, in ``texts`` order) plus counters; halves the batch on OOM."""
    import torch

    model = lm.model
    device = torch.device(lm.device)
    cuda = device.type == "cuda"
    blocker = _fast_path_blocker(lm)
    featurizer = None if blocker else _Featurizer(lm)
    if blocker:
        log.info("encode: using model.preprocess per batch (%s)", blocker)

    n = len(texts)
    if featurizer is not None:
        ids, types = featurizer.encode(texts)
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=n)
        max_len = featurizer.max_len or max(int(lengths.max()), 1)
    else:
        ids = types = None
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
        max_len = None
    unit = "tokens" if featurizer is not None else "characters"
    order = np.argsort(-lengths, kind="stable")
    sorted_lengths = lengths[order]

    truncate_dim = getattr(model, "truncate_dim", None)
    out = np.empty((n, lm.dimension), dtype=np.float32)
    pending: list[tuple[np.ndarray, torch.Tensor]] = []
    pending_rows = 0
    counters = {"n_tokens": 0, "n_padded_tokens": 0}

    def flush() -> None:
        nonlocal pending, pending_rows
        if not pending:
            return
        idx = np.concatenate([p[0] for p in pending])
        emb = torch.cat([p[1] for p in pending]).float().cpu().numpy()
        if not np.isfinite(emb).all():
            bad = [texts[i] for i in idx[~np.isfinite(emb).all(axis=1)]][:3]
            raise NonFiniteEmbeddings(
                f"model produced NaN/inf embeddings (dtype {lm.dtype}), e.g. for {bad!r}"
            )
        if emb.shape[1] != out.shape[1]:
            raise EncodeError(f"model produced {emb.shape[1]}-d vectors, expected {out.shape[1]}")
        out[idx] = emb
        pending, pending_rows = [], 0

    pos = 0
    bs = int(batch_size)
    with torch.inference_mode():
        while pos < n:
            if featurizer is not None:
                rows = _plan_batch(
                    sorted_lengths,
                    pos,
                    bs,
                    max_len,
                    None if cuda else bs,
                    _SPLIT_RATIO_CUDA if cuda else _SPLIT_RATIO_CPU,
                )
            else:
                rows = min(bs, n - pos)
            batch_idx = order[pos : pos + rows]
            try:
                if featurizer is not None:
                    arrays = featurizer.pad(
                        [ids[i] for i in batch_idx], None if types is None else [types[i] for i in batch_idx]
                    )
                    features: dict[str, Any] = {}
                    for name, arr in arrays.items():
                        t = torch.from_numpy(arr)
                        if cuda:
                            t = t.pin_memory().to(device, non_blocking=True)
                        features[name] = t
                    features["modality"] = "text"
                    width = arrays["input_ids"].shape[1]
                else:
                    features = model.preprocess([texts[i] for i in batch_idx])
                    features = {
                        k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in features.items()
                    }
                    width = int(features["input_ids"].shape[1]) if "input_ids" in features else 0
                emb = model(features)["sentence_embedding"]
                if truncate_dim is not None:
                    emb = emb[..., :truncate_dim]
                emb = emb.detach()
            except Exception as exc:
                if not _is_oom(exc):
                    raise
                if bs <= 1:
                    raise EncodeError(
                        f"out of memory on {lm.device} even at batch size 1 "
                        f"(longest input {int(sorted_lengths[pos])} {unit}, dtype {lm.dtype})"
                    ) from exc
                oom = True
            else:
                oom = False
            if oom:
                # outside the except block, so the traceback (and the activations it pins) is gone
                features = emb = None
                if cuda:
                    torch.cuda.empty_cache()
                bs = max(1, bs // 2)
                log.warning("encode: out of memory, retrying with batch size %d", bs)
                continue
            if featurizer is not None:
                counters["n_tokens"] += int(lengths[batch_idx].sum())
                counters["n_padded_tokens"] += int(rows * width)
            else:
                if "attention_mask" in features:
                    counters["n_tokens"] += int(features["attention_mask"].sum().item())
                counters["n_padded_tokens"] += int(rows * width)
            pending.append((batch_idx, emb))
            pending_rows += rows
            if not cuda or pending_rows >= _CUDA_FLUSH_ROWS:
                flush()
            pos += rows
            if progress is not None:
                progress(rows)
        flush()
    counters["batch_size_final"] = bs
    return out, counters


def embed(
    texts: Sequence[str],
    *,
    model_loader: Callable[[], LoadedModel],
    fingerprint: str,
    cache: EmbeddingCache | None,
    batch_size: int | str = "auto",
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, EncodeStats]:
    """Embeddings (float32, one row per input text, input order) and statistics.

    Texts are deduplicated (duplicates share a row's vector) and looked up in ``cache``
    under ``fingerprint``; only misses are encoded, and ``model_loader`` is called only when
    there are misses. ``batch_size``: ``"auto"`` starts at 512 on CUDA / 64 on CPU; an int
    starts there. On CUDA a batch holds up to ``batch_size * min(max_seq_length, 512)``
    padded tokens (short rows pack many per batch); on CPU also at most ``batch_size`` rows.
    It halves on out-of-memory (down to 1, then :class:`EncodeError`).
    ``progress`` receives increments of unique texts done (cache hits in one step first).
    """
    t_all = time.perf_counter()
    if batch_size != "auto" and not (
        isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size > 0
    ):
        raise ValueError(f"batch_size must be 'auto' or a positive int, got {batch_size!r}")
    items = list(texts)
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] is {type(t).__name__}, expected str")
    unique = list(dict.fromkeys(items))
    hits = cache.get_many(fingerprint, unique) if cache is not None and unique else {}
    if hits:
        dims = [v.shape[0] for v in hits.values()]
        common = max(set(dims), key=dims.count)
        hits = {t: v for t, v in hits.items() if v.shape[0] == common}  # odd sizes: re-encode
    misses = [t for t in unique if t not in hits]

    load_s = encode_s = 0.0
    device = dtype = "none"
    bs_final = 0
    counters = {"n_tokens": 0, "n_padded_tokens": 0}
    new_vectors: np.ndarray | None = None
    peak = 0
    if misses:
        t0 = time.perf_counter()
        lm = model_loader()
        load_s = time.perf_counter() - t0
        device, dtype = lm.device, lm.dtype
        if hits and next(iter(hits.values())).shape[0] != lm.dimension:
            misses = unique  # cached under this fingerprint but not this model's size: redo all
            hits = {}
        if progress is not None and hits:
            progress(len(hits))
        if batch_size == "auto":
            start_bs = CUDA_START_BATCH if device.startswith("cuda") else CPU_START_BATCH
        else:
            start_bs = int(batch_size)
        if device.startswith("cuda"):
            import torch

            torch.cuda.reset_peak_memory_stats()
        t1 = time.perf_counter()
        new_vectors, counters = _encode_misses(lm, misses, start_bs, progress)
        encode_s = time.perf_counter() - t1
        bs_final = counters.pop("batch_size_final")
        peak = _peak_memory(device)
        if cache is not None:
            cache.put_many(fingerprint, misses, new_vectors)
    elif progress is not None and hits:
        progress(len(hits))

    # assemble in input order
    dim = new_vectors.shape[1] if new_vectors is not None else (len(next(iter(hits.values()))) if hits else 0)
    row_of: dict[str, np.ndarray] = dict(hits)
    if new_vectors is not None:
        row_of.update(zip(misses, new_vectors, strict=True))
    result = np.empty((len(items), dim), dtype=np.float32)
    for i, t in enumerate(items):
        v = row_of[t]
        if v.shape[0] != dim:
            raise EncodeError(f"cached vector for {t[:40]!r} has {v.shape[0]} dims, expected {dim}")
        result[i] = v
    if not np.isfinite(result).all():
        raise NonFiniteEmbeddings("embeddings contain NaN or infinite values (cache or model)")

    stats = EncodeStats(
        n_texts=len(items),
        n_unique=len(unique),
        n_cache_hits=len(hits),
        n_encoded=len(misses),
        encode_seconds=encode_s,
        sentences_per_second=(len(misses) / encode_s) if encode_s > 0 else 0.0,
        peak_memory_bytes=peak,
        device=device,
        dtype=dtype,
        batch_size_final=bs_final,
        n_tokens=counters["n_tokens"],
        n_padded_tokens=counters["n_padded_tokens"],
        model_load_seconds=load_s,
    )
    log.debug("embed: %s in %.2fs", stats, time.perf_counter() - t_all)
    return result, stats
