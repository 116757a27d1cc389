"""What a score means: training data from cards and mteb, families, zero-shot cells (issue 21).

The cards are real ones (the registry's, copied byte for byte from the Hub) or small cards in the
shapes real cards use; mteb's own `ModelMeta.is_zero_shot_on` is the cross-check.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.card import parse_card_text
from harness.card.training import MAX_OTHER, with_mteb_training, with_sample_matches
from harness.mteb_meta import model_meta, with_mteb
from harness.registry import cards_command, load_entry
from harness.report.zeroshot import zero_shot
from harness.tasks.families import dataset_tasks, family_of, sample_creation

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "registry"
DATA = ROOT.parent / "shared" / "data" / "sts"
needs_data = pytest.mark.skipif(not (DATA / "stsb_multi_mt").is_dir(), reason="shared STS data not present")
GERMAN = ("STSBenchmarkMultilingualSTS", "GermanSTSBenchmark", "GermanSTSBenchmark-deepl")


def spec_of(text: str, data_dir: Path | None = None):
    """A card's spec as the registry builds it: card, mteb's facts, mteb's training data, sample rows."""
    spec = parse_card_text(text, source="test-card.md")
    return with_sample_matches(with_mteb_training(with_mteb(spec)), data_dir)


def card(front: str, body: str = "# A model\n") -> str:
    return f"---\n{front}\n---\n\n{body}"


# ------------------------------------------------------------------ families


def test_families_join_mteb_links_and_the_translations_mteb_does_not_link():
    stsb = family_of("STSBenchmark")
    assert stsb is not None and stsb.key == "STS-B"
    # mteb's own links (adapted_from / superseded_by) ...
    assert {"STSBenchmark.v2", "HUMESTSBenchmark", "STSBenchmark-VN"} <= set(stsb.tasks)
    assert "adapted_from" in stsb.evidence("STSBenchmark-VN")
    # ... and the translations it does not link, each with its reason
    assert {"STSBenchmarkMultilingualSTS", "GermanSTSBenchmark", "KorSTS", "RonSTS"} <= set(stsb.tasks)
    assert family_of("GermanSTSBenchmark-deepl") is stsb and family_of("STSBenchmark-local") is stsb
    assert family_of("SICK-R") is not stsb and family_of("STS12") is None


@pytest.mark.parametrize(
    "name",
    [
        "stsb_multi_mt",
        "sentence-transformers/stsb",
        "mteb/stsbenchmark-sts",
        "STS-B",
        "PhilipMay/stsb_multi_mt",
    ],
)
def test_dataset_names_cards_write_map_to_the_stsb_family(name):
    assert "GermanSTSBenchmark" in dataset_tasks(name) and "STSBenchmark" in dataset_tasks(name)


@pytest.mark.parametrize("name", ["glue", "ms_marco", "snli", "s2orc", "", "x" * 500])
def test_other_datasets_name_no_sts_task(name):
    assert dataset_tasks(name) == ()


def test_sample_creation_is_mteb_metadata():
    import mteb

    assert sample_creation("GermanSTSBenchmark") == str(
        mteb.get_task("GermanSTSBenchmark").metadata.sample_creation
    )
    assert sample_creation("SICK-R") == "created"
    assert sample_creation("custom:mine") is None


# ------------------------------------------------------------------ evidence of each kind


def test_datasets_key_of_a_real_card():
    spec = load_entry(REGISTRY / "aari1995__gbert-large-sts-v2")
    (item,) = [t for t in spec.training_datasets if t.name == "stsb_multi_mt"]
    assert item.source.startswith("yaml:")
    assert "GermanSTSBenchmark" in item.mteb_tasks
    cell = zero_shot(spec, "GermanSTSBenchmark")
    assert cell.value is False and "stsb_multi_mt" in cell.evidence


def test_prose_names_the_training_data():
    spec = spec_of(
        card("language: de\nlicense: mit", "# M\n\nThis model was fine-tuned on the STS-B dataset.\n")
    )
    (item,) = spec.training_datasets
    assert item.source == "prose" and "fine-tuned on the STS-B" in item.evidence
    assert zero_shot(spec, "STSBenchmark").value is False
    assert zero_shot(spec, "STS12").value is True  # it names training data, none of STS12's


def test_base_models_training_data_from_mteb():
    base = "NovaSearch/stella_en_400M_v5"
    assert model_meta(base) is not None and not model_meta(base).is_zero_shot_on(["STSBenchmark"])
    spec = spec_of(card(f"language: en\nlicense: mit\nbase_model: {base}"))
    (item,) = [t for t in spec.training_datasets if t.source.startswith("base_model:")]
    assert item.source == f"base_model:{base}" and "STSBenchmark" in item.mteb_tasks
    cell = zero_shot(spec, "STSBenchmark")
    assert cell.value is False and base in cell.evidence


@needs_data
def test_sample_rows_find_the_split_even_when_the_dataset_is_unnamed():
    spec = with_sample_matches(load_entry(REGISTRY / "minilm-l6-stsb-de"), DATA)
    (item,) = spec.training_datasets
    assert item.source == "card:training-dataset"
    assert "5,749 training samples" in item.evidence and "3 of 3 sample rows" in item.evidence
    assert item.name == "STSBenchmarkMultilingualSTS[de] train (by its sample rows)"
    for task in GERMAN:
        cell = zero_shot(spec, task)
        assert cell.value is False, task
        assert "sample rows" in cell.evidence
    # the rows are in the local file, checked independently of the harness's readers
    import pandas as pd

    train = pd.read_csv(
        DATA / "stsb_multi_mt" / "stsb-de-train.csv", header=None, names=["s1", "s2", "score"]
    )
    pairs = set(zip(train.s1, train.s2, strict=True))
    assert ("Ein Mann spielt eine große Flöte.", "Ein Mann spielt eine Flöte.") in pairs


def test_without_the_data_folder_unnamed_rows_prove_nothing():
    spec = load_entry(REGISTRY / "minilm-l6-stsb-de")
    cell = zero_shot(spec, "GermanSTSBenchmark")
    assert cell.value is None and "unnamed" in cell.evidence  # an unnamed dataset is no evidence either way


def test_mteb_only():
    spec = spec_of(
        card(
            "language: en\nlicense: apache-2.0",
            "# all-MiniLM-L6-v2\n\n```python\n"
            "SentenceTransformer('sentence-transformers/all-MiniLM-L6-v2')\n```\n",
        )
    )
    assert spec.model_id.value == "sentence-transformers/all-MiniLM-L6-v2"
    meta = model_meta("sentence-transformers/all-MiniLM-L6-v2")
    for task in ("STSBenchmark", "GermanSTSBenchmark", "MSMARCO"):
        cell = zero_shot(spec, task)
        assert cell.mteb == meta.is_zero_shot_on([task])  # mteb's own answer
        assert cell.value == meta.is_zero_shot_on([task])
    assert "mteb" in zero_shot(spec, "STSBenchmark").evidence


def test_nothing_known_is_null():
    spec = spec_of(card("language: de\nlicense: mit"))
    assert spec.training_datasets == ()
    cell = zero_shot(spec, "GermanSTSBenchmark")
    assert cell.value is None and "unknown" in cell.evidence
    assert zero_shot(None, "GermanSTSBenchmark").value is None


def test_card_and_mteb_disagree():
    text = card(
        "language: en\nlicense: apache-2.0\ndatasets:\n- stsb_multi_mt",
        "# M\n\n```python\nSentenceTransformer('sentence-transformers/all-MiniLM-L6-v2')\n```\n",
    )
    spec = spec_of(text)
    cell = zero_shot(spec, "STSBenchmark")
    assert cell.value is False and cell.mteb is True
    assert "mteb" in cell.disagreement and "trained on it" in cell.disagreement
    # a local-only task mteb does not know: no cross-check, no disagreement
    assert zero_shot(spec, "GermanSTSBenchmark-deepl").disagreement == ""
    # the other way round: the card names training data outside STS-B's family, mteb knows better
    base = "NovaSearch/stella_en_400M_v5"
    usage = f"# M\n\n```python\nSentenceTransformer('{base}')\n```\n"
    other = spec_of(card("language: en\nlicense: mit\ndatasets:\n- ms_marco", usage))
    assert other.model_id.value == base
    cell = zero_shot(other, "STSBenchmark")
    assert cell.value is False and cell.mteb is False and "not trained on it" in cell.disagreement


def test_card_and_mteb_agree():
    spec = load_entry(REGISTRY / "sentence-transformers__all-minilm-l6-v2")
    cell = zero_shot(spec, "STSBenchmark")
    assert cell.value is True and cell.disagreement == ""
    assert "mteb's ModelMeta for sentence-transformers/all-MiniLM-L6-v2 agrees (zero-shot)" in cell.evidence


def test_cards_json_shows_training_datasets(capsys):
    assert cards_command([REGISTRY / "aari1995__gbert-large-sts-v2" / "README.md"], True, REGISTRY) == 0
    (out,) = json.loads(capsys.readouterr().out)
    assert out["training_datasets"][0]["name"] == "stsb_multi_mt"
    assert set(out["training_datasets"][0]) == {"name", "source", "evidence", "mteb_tasks"}
    capsys.readouterr()
    cards_command([REGISTRY / "unnamed-template-e61c4de0" / "README.md"], True, REGISTRY)
    (out,) = json.loads(capsys.readouterr().out)
    assert out["training_datasets"] == []


# ------------------------------------------------------------------ bad input


def test_a_card_listing_500_datasets():
    names = [f"org/dataset-{i}" for i in range(500)] + ["stsb_multi_mt"]
    spec = spec_of(card("language: de\nlicense: mit\ndatasets:\n" + "".join(f"- {n}\n" for n in names)))
    kept = [t.name for t in spec.training_datasets]
    assert "stsb_multi_mt" in kept  # the one with a family is always kept
    assert len(kept) == MAX_OTHER + 1
    assert zero_shot(spec, "GermanSTSBenchmark").value is False


def test_sample_table_with_html_and_mojibake():
    body = """# M

## Training Details

### Training Dataset

#### Unnamed Dataset

* Size: 3 training samples
* Samples:
  | sentence1 | sentence2 | score |
  |:---|:---|:---|
  | <code>Ein Mann spielt eine groÃŸe FlÃ¶te.</code> | <code>Ein Mann spielt eine FlÃ¶te.</code> | 0.76 |
  | <code><script>alert(1)</script>\x01</code> | <b>x</b> | 1 |
  | | | |
"""
    spec = spec_of(card("language: de\nlicense: mit", body), DATA if DATA.is_dir() else None)
    (item,) = spec.training_datasets
    texts = [t for pair in item.samples for t in pair]
    assert len(item.samples) == 2  # the empty row is no sample
    assert not any("<code>" in t or "\x01" in t for t in texts)
    assert texts[0] == "Ein Mann spielt eine große Flöte."  # the card's mojibake is repaired first
    if DATA.is_dir():  # one of two rows is in stsb_multi_mt de train: a minority proves nothing
        assert "only 1 of 2 sample rows found" in item.evidence
        assert zero_shot(spec, "GermanSTSBenchmark").value is None
