"""Round 6 of the reliability sweep (issue 24's "Done when": the same classes, new variants).

Each test failed before its fix; the rows for docs/reliability.md ("Round five") list every case tried.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading

import numpy as np
import pytest
from test_sweep_round5 import edit_json, edit_run, model_copy, refused, report_of, stored_run

from harness import store

# ------------------------------------------------ tier 1: folders that load but are not the model


@pytest.mark.parametrize(
    ("tokens", "says"),
    [
        ({"cls_token": "[SEP]", "sep_token": "[CLS]"}, "puts [SEP](102) and [CLS](101)"),
        ({"cls_token": "[unused5]"}, "puts [unused5](6) and [SEP](102)"),
    ],
    ids=["cls-sep-swapped", "cls-another-token"],
)
def test_special_tokens_edited_outside_tokenizer_json_are_refused(minilm_dir, tmp_path, tokens, says):
    folder = model_copy(minilm_dir, tmp_path / "edited")
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        edit_json(folder / name, lambda d: d.update(tokens))
    message = refused(folder)  # was: "[SEP] ... [CLS]" around each sentence, scored
    assert "tokenizer.json puts [CLS](101) before and [SEP](102) after each sentence" in message
    assert says in message


def test_a_norm_weight_of_zeros_is_refused(tiny_bert_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "zero-norm"
    import shutil

    shutil.copytree(tiny_bert_dir, folder, symlinks=False)
    tensors = load_file(folder / "model.safetensors")
    name = next(n for n in tensors if n.endswith("embeddings.LayerNorm.weight"))
    tensors[name] = tensors[name] * 0  # every hidden state becomes the bias: MiniLM scored -0.23, ranked
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    message = refused(folder)
    assert "embeddings.LayerNorm.weight (32) is 0 everywhere" in message


# ---------------------------------------------------------------- tier 1: a record that contradicts itself


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        (
            {"scores": {"main_score": 0.99, "cosine_spearman": 0.40}},
            "main_score 0.99 but cosine_spearman 0.4",
        ),
        ({"n_pairs": -5}, "n_pairs -5, below 0"),
        ({"gold": [1.0, 2.0]}, "counts that disagree (cosine_similarities 3, gold 2)"),
    ],
    ids=["two-scores", "negative-count", "arrays-of-two-lengths"],
)
def test_a_record_that_contradicts_itself_is_never_ranked(tmp_path, capsys, changes, says):
    results = tmp_path / "results"
    bad = stored_run(results, "bad", 0.40, [0.35, 0.45])
    stored_run(results, "good", 0.50, [0.40, 0.60])
    edit_run(bad, **changes)
    rc, _, err = report_of(tmp_path, capsys)
    assert rc == 0 and f"{bad.name}" in err and says in err  # was: ranked (mteb reading 0.99, the page 0.40)
    assert "org/bad" not in (tmp_path / "out" / "de.md").read_text().split("## ")[1]


def test_a_json_key_given_twice_is_two_scores_not_the_last_one(tmp_path):
    results = tmp_path / "results"
    path = stored_run(results, "dup", 0.40, [0.35, 0.45])
    text = path.read_text()
    assert text.count('"main_score": 0.4') == 2  # mteb's scores block and the harness record
    path.write_text(text.replace('"main_score": 0.4', '"main_score": 0.4, "main_score": 0.99'))
    errors: list[str] = []
    assert store.load_results(results, errors) == [] and "two scores" in errors[0]


# ---------------------------------------------------------------- tier 1: a cache row of another type


def test_a_cache_row_of_another_type_is_a_miss(tmp_path):
    from harness.encode import EmbeddingCache

    cache = EmbeddingCache(tmp_path)
    cache.put_many("fp", ["a", "b"], np.ones((2, 4), dtype=np.float32))
    with sqlite3.connect(cache.path) as conn:
        key = conn.execute("SELECT key FROM vectors").fetchone()[0]
        conn.execute("UPDATE vectors SET vec = 'text', dim = 1 WHERE key = ?", (key,))
    found = cache.get_many("fp", ["a", "b"])  # was: TypeError, and the task failed
    assert len(found) == 1 and cache.last_evicted == 1 and len(cache) == 1
    cache.close()


# ---------------------------------------------------------------- tier 3: a FIFO card never blocks


def test_a_fifo_card_is_one_line_not_a_hang(tmp_path):
    from harness.registry import load_registry

    entry = tmp_path / "registry" / "m"
    entry.mkdir(parents=True)
    os.mkfifo(entry / "README.md")
    specs: list = []
    reader = threading.Thread(target=lambda: specs.extend(load_registry(tmp_path / "registry")), daemon=True)
    reader.start()
    reader.join(timeout=60)
    assert not reader.is_alive()  # was: `models` and `run` waited for a writer for ever
    [spec] = specs
    assert spec.errors == ["not a regular file"]


# ---------------------------------------------------------------- tier 4: a result never silently left out


def test_a_result_that_is_a_dangling_link_is_named_not_left_out(tmp_path, capsys):
    results = tmp_path / "results"
    gone = stored_run(results, "gone", 0.40, [0.35, 0.45])
    stored_run(results, "good", 0.50, [0.40, 0.60])
    gone.unlink()
    gone.symlink_to(tmp_path / "elsewhere.json")
    errors: list[str] = []
    assert [s.model_key for s in store.load_results(results, errors)] == ["good"]
    assert errors == [f"{gone}: a link to nothing (dangling, or a loop); not read"]  # was: no word
    rc, _, err = report_of(tmp_path, capsys)
    assert rc == 0 and sum(gone.name in line and "link to nothing" in line for line in err.splitlines()) == 1
    json.loads((tmp_path / "out" / "de.json").read_text())
