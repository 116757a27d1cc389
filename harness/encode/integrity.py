"""Whether a model that loaded is the model: what its own files and weights can tell.

A folder can load without an error and still not be the model it names, and then it gives a score,
a wrong one: a tokenizer cut short or built for another vocabulary, an uncased vocabulary behind a
tokenizer that no longer lowercases, special tokens around each sentence that tokenizer.json does not
put there (edited in tokenizer_config.json only), an embedding table or a norm's scale that is all
zeros (a preallocated download never written), a ``max_seq_length`` of 3. Each check here compares
parts of the folder that must agree (tokenizer against config, tokenizer against vocabulary, weights
against what trained weights look like) and names the first disagreement;
:func:`harness.encode.load.check_loaded` makes it a load error, so such a model is an error result
and never ranked.

What stays undetectable from the files (docs/reliability.md, "Round five"): edits that keep every
tensor shape and every file consistent with the others, such as ``num_attention_heads``,
``hidden_act`` or ``layer_norm_eps`` in ``config.json``, or a vocabulary shuffled in every
tokenizer file alike with the special tokens kept in place. Only the model's behaviour shows those.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# A tokenizer may cover fewer rows than the embedding table (tables are padded to a multiple of 64
# or 128, or keep rows for tokens added later), but only a few: Qwen2 151,665 of 151,936, T5 32,100
# of 32,128. More missing than this is another tokenizer (16,000 of BERT's 30,522 was run and scored).
_TOKEN_SHORTFALL = (1024, 0.02)
# Shorter than this many tokens, a sentence is cut before it says anything (a max_seq_length of 3).
MIN_SEQ_LENGTH = 16
# A vocabulary with (almost) no upper-case tokens is an uncased model's; judged on this many or more.
_MIN_WORD_TOKENS = 1000
_UNCASED_SHARE = 0.002


# Modules that never turn token embeddings into one sentence embedding: with a Transformer and only
# these, sentence-transformers fails at the first sentence (KeyError: 'sentence_embedding').
_NOT_POOLING = frozenset({"Transformer", "Dense", "Normalize", "LayerNorm", "Dropout"})


def file_problem(model_dir: Path) -> str | None:
    """What a sentence-transformers folder's own files say wrong before it loads (None: nothing), in one
    line naming the file and key: a pipeline without a pooling module, ``prompts`` that are not names
    mapped to texts, or a prompt that is not text (a lone surrogate, which no result file can hold)."""
    from harness.model_files import read_json, read_modules

    modules, _ = read_modules(model_dir)
    kinds = {m.kind for m in modules or []}
    if "Transformer" in kinds and kinds <= _NOT_POOLING:
        found = ", ".join(sorted(kinds))
        return (
            f"{model_dir}/modules.json: no Pooling module after the Transformer ({found}): its token "
            "embeddings never become a sentence embedding"
        )
    config, _ = read_json(model_dir / "config_sentence_transformers.json")
    if not isinstance(config, dict) or "prompts" not in config:
        return None
    where = f"{model_dir}/config_sentence_transformers.json: prompts"
    prompts = config["prompts"]
    if not isinstance(prompts, dict) or not all(isinstance(v, str) for v in prompts.values()):
        json_types = {str: "a string", list: "a list", type(None): "null", bool: "a boolean"}
        shown = json_types.get(
            type(prompts), "a number" if isinstance(prompts, int | float) else "a mapping of non-texts"
        )
        return f"{where}: must map prompt names to texts, not {shown}"
    for name, text in prompts.items():
        try:
            f"{name}{text}".encode()
        except UnicodeEncodeError:
            shown = text.encode("utf-8", "backslashreplace").decode()
            return f"{where}[{name!r}]: holds a lone surrogate ({shown!r}), not text"
    return None


def integrity_problem(model: Any) -> str | None:
    """Why the loaded sentence-transformers `model` cannot be the model its folder names, or None."""
    tok = getattr(model, "tokenizer", None)
    hf = getattr(model, "transformers_model", None)
    config = getattr(hf, "config", None)
    checks = (
        lambda: _token_shortfall(tok, config),
        lambda: _special_token_ids(tok, config),
        lambda: _added_special_tokens(tok),
        lambda: _vocabulary_files(tok),
        lambda: _casing(tok),
        lambda: _constant_weights(model),
        lambda: _sequence_length(model),
    )
    for check in checks:
        problem = check()
        if problem:
            return problem
    return None


def token_counts(tok: Any, config: Any) -> tuple[int, int] | None:
    """(tokens in the tokenizer, rows of the embedding table per config.json), when both are known."""
    vocab = getattr(config, "vocab_size", None)
    if tok is None or not isinstance(vocab, int) or vocab <= 0:
        return None
    try:
        return len(tok), vocab
    except TypeError:
        return None


def _token_shortfall(tok: Any, config: Any) -> str | None:
    counts = token_counts(tok, config)
    if counts is None:
        return None
    n, vocab = counts
    floor, share = _TOKEN_SHORTFALL
    if n < vocab - max(floor, int(vocab * share)):
        return (
            f"the tokenizer has {n:,} tokens for the model's {vocab:,}-row embedding table (config.json "
            f"vocab_size): {vocab - n:,} rows without a token; not this model's tokenizer"
        )
    return None


def _special_token_ids(tok: Any, config: Any) -> str | None:
    """config.json's pad_token_id against the tokenizer's: a vocabulary reordered moves the pad."""
    said = getattr(config, "pad_token_id", None)
    has = getattr(tok, "pad_token_id", None)
    if isinstance(said, int) and isinstance(has, int) and said != has:
        token = getattr(tok, "pad_token", None)
        return (
            f"config.json says pad_token_id {said}, but the tokenizer's pad token {token!r} has id {has}: "
            "the tokenizer's vocabulary is not in the model's order"
        )
    return None


def _template_ends(processor: Any) -> tuple[list[int], list[int]] | None:
    """(ids before, ids after) one sentence as tokenizer.json's post-processor adds them, or None."""
    if not isinstance(processor, dict):
        return None
    kind = processor.get("type")
    if kind == "Sequence":
        found = [_template_ends(p) for p in processor.get("processors") or []]
        return next((ends for ends in found if ends is not None), None)
    if kind in ("BertProcessing", "RobertaProcessing"):
        cls, sep = processor.get("cls"), processor.get("sep")
        if isinstance(cls, list) and isinstance(sep, list) and len(cls) == len(sep) == 2:
            return [cls[1]], [sep[1]]
        return None
    if kind != "TemplateProcessing" or not isinstance(processor.get("single"), list):
        return None
    specials = processor.get("special_tokens") or {}
    before: list[int] = []
    after: list[int] = []
    seen_sequence = False
    for piece in processor["single"]:
        if not isinstance(piece, dict):
            return None
        if "Sequence" in piece:
            seen_sequence = True
            continue
        name = (piece.get("SpecialToken") or {}).get("id")
        ids = (specials.get(name) or {}).get("ids") if isinstance(specials, dict) else None
        if not isinstance(ids, list):
            return None
        (after if seen_sequence else before).extend(ids)
    return before, after


def _added_special_tokens(tok: Any) -> str | None:
    """The tokens the loaded tokenizer adds around a sentence against those tokenizer.json's post-processor
    adds: transformers builds them from the special tokens in tokenizer_config.json and
    special_tokens_map.json, so a ``cls_token`` edited there alone gives the model inputs it never saw."""
    folder = getattr(tok, "name_or_path", None)
    if not folder or not callable(tok):
        return None
    from harness.model_files import read_json

    data, _ = read_json(Path(folder) / "tokenizer.json")
    expected = _template_ends(data.get("post_processor")) if isinstance(data, dict) else None
    if expected is None:
        return None
    try:
        text = "the same words"
        full = list(tok(text)["input_ids"])
        plain = list(tok(text, add_special_tokens=False)["input_ids"])
    except Exception:  # a tokenizer that cannot say: nothing to compare
        return None
    start = next((i for i in range(len(full) - len(plain) + 1) if full[i : i + len(plain)] == plain), None)
    if not plain or start is None:
        return None
    added = (full[:start], full[start + len(plain) :])
    if added == expected:
        return None

    def shown(ids: list[int]) -> str:
        return " ".join(f"{tok.convert_ids_to_tokens(i)}({i})" for i in ids) or "nothing"

    return (
        f"tokenizer.json puts {shown(expected[0])} before and {shown(expected[1])} after each sentence, but "
        f"the tokenizer as loaded puts {shown(added[0])} and {shown(added[1])} (special tokens in "
        "tokenizer_config.json / special_tokens_map.json): inputs the model never saw"
    )


def _vocabulary_files(tok: Any) -> str | None:
    """The tokenizer as loaded (tokenizer.json) against the folder's vocab.txt: one vocabulary, one order."""
    folder = getattr(tok, "name_or_path", None)
    if not folder or not hasattr(tok, "get_vocab"):
        return None
    from pathlib import Path

    from harness.model_files import UnreadableFile, read_bytes

    path = Path(folder) / "vocab.txt"
    if not path.is_file() or not (Path(folder) / "tokenizer.json").is_file():
        return None
    try:
        lines = read_bytes(path, 64 * 2**20).decode("utf-8").split("\n")
        loaded = tok.get_vocab()
    except (UnreadableFile, OSError, UnicodeDecodeError, TypeError):
        return None
    lines = [line.rstrip("\r") for line in lines if line.strip()]
    moved = sum(loaded.get(token) != i for i, token in enumerate(lines))
    if lines and moved > 0.01 * len(lines):
        return (
            f"tokenizer.json and vocab.txt disagree: {moved:,} of {len(lines):,} tokens have another id; "
            "the tokenizer's vocabulary is not in the model's order"
        )
    return None


def _casing(tok: Any) -> str | None:
    """An uncased vocabulary (no upper-case tokens) behind a tokenizer that does not lowercase."""
    if tok is None or not hasattr(tok, "get_vocab") or not hasattr(tok, "tokenize"):
        return None
    try:
        words = [t for t in tok.get_vocab() if any(c.isalpha() for c in t)]
        if len(words) < _MIN_WORD_TOKENS:
            return None
        upper = sum(any(c.isupper() for c in t) for t in words)
        if upper > _UNCASED_SHARE * len(words):
            return None
        lowers = tok.tokenize("Paris House Water") == tok.tokenize("paris house water")
    except Exception:  # a tokenizer that cannot say: nothing to compare
        return None
    if lowers:
        return None
    return (
        f"the vocabulary is uncased ({upper} of {len(words):,} word tokens have capitals) but the tokenizer "
        "does not lowercase (do_lower_case / lowercase in the tokenizer files): capitalised words would be "
        "unknown tokens"
    )


def _constant_weights(model: Any) -> str | None:
    """A weight matrix whose every value is the same (all zeros: a file preallocated, never written)."""
    named = getattr(model, "named_parameters", None)
    if named is None:
        return None
    import torch

    with torch.no_grad():
        for name, param in named():
            if param.is_meta or param.numel() < 16:
                continue
            if param.dim() == 1:  # a scale of 0 (a norm's weight) erases what passes through it
                if name.endswith("weight") and not bool(param.any()):
                    return (
                        f"weight {name} ({param.shape[0]}) is 0 everywhere: every vector through it is "
                        "erased; not trained weights"
                    )
                continue
            if param.dim() != 2 or param.numel() < 64:
                continue
            if bool(param.amax() == param.amin()):
                value = float(param.flatten()[0])
                return (
                    f"weight {name} ({'x'.join(map(str, param.shape))}) is {value:g} everywhere: not trained "
                    "weights (a file preallocated but never written?)"
                )
    return None


def _sequence_length(model: Any) -> str | None:
    length = getattr(model, "max_seq_length", None)
    if isinstance(length, int) and 0 < length < MIN_SEQ_LENGTH:
        return (
            f"max_seq_length {length} (sentence_bert_config.json): every sentence would be cut to "
            f"{length} tokens; fewer than {MIN_SEQ_LENGTH} is no sentence embedding"
        )
    return None
