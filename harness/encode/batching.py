"""Batching: tokenize once with the Rust tokenizer, sort by length, pack batches by a token budget.

Short sentences share big batches and padding stays small; the token ids are exactly those
sentence-transformers' ``Transformer.preprocess`` produces (same truncation, same special tokens).
"""

from __future__ import annotations

import numpy as np

from harness.encode.load import LARGE_INTEGER, LoadedModel

BUDGET_LEN_CAP = 512  # token budget = batch_size * min(max_len, this)
# A batch ends where rows get shorter than this share of its width. CPU: tight batches
# (measured: 0.9 beats 0.75 by ~8% per CPU-second on STS-B); CUDA: fewer, bigger batches.
SPLIT_RATIO_CPU = 0.9
SPLIT_RATIO_CUDA = 0.75


class Featurizer:
    """Tokenizes exactly like the model's Transformer.preprocess, via the Rust tokenizer."""

    def __init__(self, lm: LoadedModel) -> None:
        from tokenizers import Tokenizer

        hf_tok = lm.tokenizer
        self.tok = Tokenizer.from_str(hf_tok._tokenizer.to_str())
        self.tok.no_padding()
        max_len = hf_tok.model_max_length
        if max_len is None or max_len > LARGE_INTEGER:
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


def fast_path_blocker(lm: LoadedModel, prompt: str | None = None) -> str | None:
    """Why the Rust-tokenizer path cannot reproduce model.preprocess for this model (None: it can).

    A prompt is prepended to the text before tokenisation, as sentence-transformers does; a
    Pooling that leaves the prompt's tokens out needs their count, which only preprocess gives.
    """
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
    if prompt and any(getattr(m, "include_prompt", True) is False for m in model.children()):
        return "pooling leaves the prompt's tokens out"
    if "input_ids" not in tok.model_input_names:
        return "tokenizer does not produce input_ids"
    return None


def plan_batch(
    lengths: np.ndarray,
    start: int,
    batch_size: int,
    max_len: int,
    row_cap: int | None,
    split_ratio: float = SPLIT_RATIO_CUDA,
) -> int:
    """Rows for the batch starting at ``start`` of the length-sorted (descending) list.

    Token budget: ``batch_size * min(max_len, 512)`` padded tokens (every row padded to the
    batch's first, longest row), so short rows pack into bigger batches; ``row_cap`` bounds
    the rows (used on CPU, where big batches do not pay). A batch also ends where rows drop
    below ``split_ratio`` of its width, so a few long texts do not pad many short ones;
    that costs at most a handful of extra batches (log of the length range).
    """
    budget = batch_size * min(max_len, BUDGET_LEN_CAP)
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
