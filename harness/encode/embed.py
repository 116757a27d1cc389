"""Embedding unique sentences: cache lookups first, the model only for misses, OOM-safe batches.

`embed` gives the same vectors as ``SentenceTransformer.encode`` (same tokenizer ids,
same module chain: Transformer -> Pooling -> Dense -> Normalize ...), but

- deduplicates texts and looks them up in a SQLite cache first (a fully cached call never
  loads the model);
- tokenizes all misses once with the Rust tokenizer (same truncation and special tokens
  as sentence-transformers), then sorts them by token count and packs batches by a token
  budget, so short sentences share big batches and padding stays small;
- halves the batch on out-of-memory (CUDA or "out of memory" RuntimeError) and retries;
- refuses NaN/inf output.
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.encode import batching
from harness.encode.cache import EmbeddingCache
from harness.encode.load import LoadedModel, is_oom
from harness.errors import EncodeError, NonFiniteEmbeddings
from harness.records import EncodeStats

if TYPE_CHECKING:
    import torch

log = logging.getLogger("harness.encode")

CPU_START_BATCH = 64
CUDA_START_BATCH = 512
_CUDA_FLUSH_ROWS = 65_536  # move finished embeddings off the GPU every this many rows


def _peak_memory(device: str) -> int:
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.max_memory_allocated(device))  # this device's, not the current one's
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _encode_misses(
    lm: LoadedModel,
    texts: list[str],
    batch_size: int,
    progress: Callable[[int], None] | None,
    prompt: str | None = None,
) -> tuple[np.ndarray, dict[str, int]]:
    """Embeddings (float32, in ``texts`` order) plus counters; halves the batch on OOM.

    ``prompt`` is prepended to every text before tokenisation (as sentence-transformers'
    ``encode(prompt=...)`` does)."""
    import torch

    model = lm.model
    device = torch.device(lm.device)
    cuda = device.type == "cuda"
    blocker = batching.fast_path_blocker(lm, prompt)
    featurizer = None if blocker else batching.Featurizer(lm)
    if blocker:
        log.info("encode: using model.preprocess per batch (%s)", blocker)

    n = len(texts)
    if featurizer is not None:
        ids, types = featurizer.encode([prompt + t for t in texts] if prompt else texts)
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
                rows = batching.plan_batch(
                    sorted_lengths,
                    pos,
                    bs,
                    max_len,
                    None if cuda else bs,
                    batching.SPLIT_RATIO_CUDA if cuda else batching.SPLIT_RATIO_CPU,
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
                    features = model.preprocess([texts[i] for i in batch_idx], prompt=prompt or None)
                    features = {
                        k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in features.items()
                    }
                    width = int(features["input_ids"].shape[1]) if "input_ids" in features else 0
                emb = model(features)["sentence_embedding"]
                if truncate_dim is not None:
                    emb = emb[..., :truncate_dim]
                emb = emb.detach()
            except Exception as exc:
                if not is_oom(exc):
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
    prompt: str | None = None,
) -> tuple[np.ndarray, EncodeStats]:
    """Embeddings (float32, one row per input text, input order) and statistics.

    ``prompt`` is prepended to every text before tokenisation; it must be part of
    ``fingerprint`` (see `vector_fingerprint`), so vectors of one prompt never serve another.
    A loaded model with an ``encode_misses(texts, batch_size, progress)`` method (mteb's
    implementation, `harness.encode.mteb_path`) encodes the misses itself, prompts included.

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
    device, dtype = "none", None
    bs_final = 0
    counters = {"n_tokens": 0, "n_padded_tokens": 0}
    new_vectors: np.ndarray | None = None
    peak = 0
    if misses:
        t0 = time.perf_counter()
        lm = model_loader()
        load_s = time.perf_counter() - t0
        device, dtype = lm.device, lm.dtype
        if hits and lm.dimension and next(iter(hits.values())).shape[0] != lm.dimension:
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

            torch.cuda.reset_peak_memory_stats(device)
        t1 = time.perf_counter()
        encode_misses = getattr(lm, "encode_misses", None)
        if encode_misses is not None:
            new_vectors, counters = encode_misses(misses, start_bs, progress)
        else:
            new_vectors, counters = _encode_misses(lm, misses, start_bs, progress, prompt)
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
        n_cache_evicted=cache.last_evicted if cache is not None and unique else None,
        n_encoded=len(misses),
        encode_seconds=encode_s,
        sentences_per_second=(len(misses) / encode_s) if encode_s > 0 else 0.0,
        peak_memory_bytes=peak,
        device=device,
        dtype=dtype,
        batch_size=bs_final,
        n_tokens=counters["n_tokens"],
        n_padded_tokens=counters["n_padded_tokens"],
        model_load_seconds=load_s,
    )
    log.debug("embed: %s in %.2fs", stats, time.perf_counter() - t_all)
    return result, stats
