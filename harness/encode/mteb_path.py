"""The second encode path: mteb's own implementation of a model (`mteb.get_model`).

For a model whose mteb loader is not a plain sentence-transformers one (an instruction wrapper,
a custom class: see `harness.mteb_meta.encode_path`), the harness asks mteb to build the model
the way the leaderboard ran it and lets it encode. Everything around it stays the harness's:
the same task data, embedding cache, scoring and result files. `load_mteb_model` returns an
object `harness.encode.embed` drives through its ``encode_misses`` method.

Local weights are loaded by giving mteb's loader the folder instead of the Hub id, checked first
as the fast path checks a folder (`harness.encode.load.preflight`: regular files only, weights
that hold tensors, tokenizer files, no remote code unless allowed); after loading, weights missing
from the checkpoint or a tokenizer that does not fit the model are load errors, never a score.
Vectors depend on the task (mteb's wrappers pick an instruction per task), so the runner encodes
each task on its own with the task name in the fingerprint.

The run's dtype is applied, not only recorded: a loader that builds a SentenceTransformer gets it
as ``model_kwargs["dtype"]`` (replacing the dtype mteb's metadata pins); any loader's result is
then checked, and a model whose weights are in another dtype is a load error naming both, never
a result recorded under a dtype it did not run in.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from harness.encode.load import (
    TORCH_DTYPES,
    check_loaded,
    free_device_memory,
    is_oom,
    preflight,
    weights_report,
)
from harness.errors import EncodeError, ModelLoadError, NonFiniteEmbeddings, RemoteCodeRefused
from harness.records import DType

__all__ = ["MtebLoaded", "encoder_name", "load_mteb_model", "loaded_dtype"]

log = logging.getLogger("harness.encode")

_HF_SPLIT = "test"
_HF_SUBSET = "default"


def encoder_name(loader: str | None) -> str:
    """The `RunSettings.encoder` value of the mteb path for a loader name."""
    return f"mteb:{loader or 'unknown'}"


@dataclass
class MtebLoaded:
    """An mteb encoder bound to one task; `embed` calls `encode_misses` for the texts not cached."""

    encoder: Any  # an mteb EncoderProtocol
    task_metadata: Any
    device: str
    dtype: str | None  # the loaded weights' dtype (None: no torch weights)
    loader: str
    dimension: int | None = None
    prompt: str | None = None  # the instruction the wrapper says it applies, when it says

    def for_task(self, task_metadata: Any) -> MtebLoaded:
        """The same loaded model, bound to another task (and the instruction it gets)."""
        return replace(self, task_metadata=task_metadata, prompt=_instruction(self.encoder, task_metadata))

    def encode_misses(
        self, texts: list[str], batch_size: int, progress: Callable[[int], None] | None
    ) -> tuple[np.ndarray, dict[str, int]]:
        """Embeddings (float32, ``texts`` order) as mteb's STS evaluator gets them; counters.

        On out-of-memory the batch halves and the texts are encoded again, as on the fast path;
        at batch size 1 it is an `EncodeError`."""
        while True:
            try:
                out = self._encode(texts, batch_size)
            except Exception as exc:
                if not is_oom(exc):
                    raise
                if batch_size <= 1:
                    raise EncodeError(
                        f"out of memory on {self.device} in mteb's {self.loader} even at batch size 1"
                    ) from exc
            else:
                break
            # outside the except block, so the traceback (and the activations it pins) is gone
            free_device_memory(self.device)
            batch_size = max(1, batch_size // 2)
            log.warning(
                "encode (mteb's %s): out of memory, retrying with batch size %d", self.loader, batch_size
            )
        vectors = _as_float32(out)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise EncodeError(f"mteb's {self.loader} returned shape {vectors.shape} for {len(texts)} texts")
        if not np.isfinite(vectors).all():
            raise NonFiniteEmbeddings(f"mteb's {self.loader} produced NaN/inf embeddings")
        self.dimension = int(vectors.shape[1])
        if progress is not None:
            progress(len(texts))
        return vectors, {"n_tokens": 0, "n_padded_tokens": 0, "batch_size_final": int(batch_size)}

    def _encode(self, texts: list[str], batch_size: int) -> Any:
        import datasets
        from torch.utils.data import DataLoader

        loader = DataLoader(datasets.Dataset.from_dict({"text": list(texts)}), batch_size=batch_size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.encoder.encode(
                loader,
                task_metadata=self.task_metadata,
                hf_split=_HF_SPLIT,
                hf_subset=_HF_SUBSET,
                prompt_type=None,  # what mteb's STS evaluator passes
                batch_size=batch_size,
                show_progress_bar=False,
            )


def _as_float32(out: Any) -> np.ndarray:
    if hasattr(out, "detach"):  # a torch tensor
        out = out.detach().float().cpu().numpy()
    return np.asarray(out, dtype=np.float32)


def _instruction(encoder: Any, task_metadata: Any) -> str | None:
    """The text the wrapper puts before an STS sentence, when it tells: an instruction wrapper's
    task instruction, else the prompt its ``model_prompts`` select (by mteb's rule)."""
    from mteb.models.abs_encoder import get_prompt_name

    try:
        method = getattr(encoder, "get_task_instruction", None)
        if callable(method):
            value = method(task_metadata, None)
        else:
            prompts = getattr(encoder, "model_prompts", None)
            name = get_prompt_name(prompts, task_metadata, None) if isinstance(prompts, dict) else None
            value = prompts.get(name) if name else None
    except Exception:  # a wrapper that cannot say: the result records no prompt text
        return None
    return value if isinstance(value, str) and value else None


# mteb loaders that build a SentenceTransformer and hand it their extra keyword arguments, so
# ``model_kwargs`` reaches transformers' ``from_pretrained`` (a loader whose metadata already passes
# ``model_kwargs`` takes them too).
_ST_LOADERS = frozenset(
    {
        "SentenceTransformerEncoderWrapper",
        "SentenceTransformerMultimodalEncoderWrapper",
        "sentence_transformers_loader",
        "InstructSentenceTransformerModel",
    }
)


def _with_dtype(meta: Any, loader: str, dtype: DType) -> Any:
    """``meta`` whose loader is asked for ``dtype``, where it takes one; other loaders keep theirs
    (what they load is checked afterwards)."""
    import torch

    kwargs = dict(meta.loader_kwargs or {})
    if loader not in _ST_LOADERS and not isinstance(kwargs.get("model_kwargs"), dict):
        return meta
    pinned = {
        k: v for k, v in dict(kwargs.get("model_kwargs") or {}).items() if k not in ("dtype", "torch_dtype")
    }
    kwargs["model_kwargs"] = {**pinned, "dtype": getattr(torch, TORCH_DTYPES[dtype])}
    return meta.model_copy(update={"loader_kwargs": kwargs})


def loaded_dtype(encoder: Any) -> str | None:
    """The dtype most of the encoder's torch weights are in (by element count: transformers keeps a
    few modules in fp32 under half precision); None when it has no torch weights."""
    import torch

    names = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}
    params = getattr(getattr(encoder, "model", None), "parameters", None)
    if not callable(params):
        return None
    counts: dict[Any, int] = {}
    for p in params():
        if p.is_floating_point():
            counts[p.dtype] = counts.get(p.dtype, 0) + p.numel()
    if not counts:
        return None
    most = max(counts, key=lambda d: counts[d])
    return names.get(most, str(most).removeprefix("torch."))


def load_mteb_model(
    model_id: str,
    location: str | Path,
    *,
    device: str,
    task_metadata: Any,
    dtype: DType = "fp32",
    trust_remote_code: bool = False,
) -> MtebLoaded:
    """mteb's implementation of `model_id`, with the weights at `location` (a folder or the Hub id),
    in `dtype` (already resolved for the device: the run's settings record it).

    Raises `RemoteCodeRefused` when mteb's loader needs remote code and it was not allowed,
    `ModelLoadError` (one line) for anything else that stops the load, and also when the
    loader's transformers model did not get all its weights from the checkpoint, or its weights
    are not in `dtype` (a loader that takes no dtype from the harness).
    """
    from harness.mteb_meta import model_meta

    meta = model_meta(model_id)
    if meta is None or meta.loader is None:
        raise ModelLoadError(f"mteb has no implementation of {model_id}")
    loader = getattr(meta.loader, "__name__", type(meta.loader).__name__)
    if (meta.loader_kwargs or {}).get("trust_remote_code") and not trust_remote_code:
        raise RemoteCodeRefused(
            f"mteb's {loader} runs {model_id}'s own code; pass --trust-remote-code to allow it"
        )
    path = Path(location)
    if path.is_dir():  # the same checks as the fast path: special files, empty weights, no tokenizer
        preflight(path, trust_remote_code)
        meta = meta.model_copy(update={"name": str(path)})
    meta = _with_dtype(meta, loader, dtype)
    try:
        with warnings.catch_warnings(), weights_report() as report:
            warnings.simplefilter("ignore")
            encoder = meta.load_model(device=device)
    except (ModelLoadError, EncodeError):
        raise
    except Exception as exc:
        if is_oom(exc):
            raise EncodeError(
                f"out of memory on {device} while loading {model_id} with mteb's {loader}"
            ) from exc
        text = " ".join(str(exc).split())[:300]
        raise ModelLoadError(f"mteb's {loader} cannot load {location}: {type(exc).__name__}: {text}") from exc
    check_loaded(report, getattr(encoder, "model", None), location)
    loaded = loaded_dtype(encoder)
    if loaded is not None and loaded != dtype:  # the settings, the identity and the cache key would lie
        raise ModelLoadError(
            f"mteb's {loader} loaded {location} in {loaded}, but the run's dtype is {dtype} "
            f"({loader} did not apply it); pass --dtype {loaded}"
        )
    return MtebLoaded(
        encoder=encoder,
        task_metadata=task_metadata,
        device=str(device),
        dtype=loaded,
        loader=loader,
        prompt=_instruction(encoder, task_metadata),
    )
