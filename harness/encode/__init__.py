"""The encode stage: load a model, embed unique sentences fast, cache the vectors.

- :mod:`harness.encode.load`: device and dtype resolution (:func:`resolve_dtype`, the one place
  a requested dtype becomes a concrete one), preflight checks, model loading, weights revisions;
- :mod:`harness.encode.batching`: Rust-tokenizer featurizer and length-sorted batch planning;
- :mod:`harness.encode.cache`: the SQLite embedding cache and the vector fingerprint;
- :mod:`harness.encode.embed`: :func:`embed`, which ties them together and returns ``EncodeStats``.

torch and sentence-transformers are imported lazily: importing this package is cheap.
"""

from harness.encode.cache import EmbeddingCache, default_cache_dir, vector_fingerprint
from harness.encode.embed import embed
from harness.encode.load import (
    LoadedModel,
    free_device_memory,
    load_model,
    pick_device,
    resolve_dtype,
    weights_revision,
)
from harness.errors import EncodeError, ModelLoadError, NonFiniteEmbeddings, RemoteCodeRefused
from harness.records import EncodeStats

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
    "free_device_memory",
    "load_model",
    "pick_device",
    "resolve_dtype",
    "vector_fingerprint",
    "weights_revision",
]
