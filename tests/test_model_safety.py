"""Issue 14 (model folders, cache): never a silently wrong score, never a hang, never a lost run.

* A model folder whose tokenizer or weights are not what its files describe fails to load with
  the reason, and its result is an error, never a score (1).
* FIFOs, links to /dev/zero and link loops anywhere in a model folder are reported and the model
  fails; nothing blocks, and the other models of the run still run (3, 4).
* A NaN vector in the embedding cache is evicted and re-encoded; ``--cache-dir D`` and
  ``HARNESS_CACHE_DIR=D`` use the same files (10).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest
from fixtures.tiny_models import WORDS, make_corrupt_copy
from fixtures.workspace import error_lines, run_cli, write_entry, write_pairs

from harness import encode, store
from harness.errors import ModelLoadError
from harness.model_files import MAX_FOLDER_ENTRIES, irregular_files, model_file_facts, read_json

TEXTS = ["a man plays the guitar", "the dog runs", "ein hund spielt"]


def copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def load(path: Path):
    return encode.load_model(path, device="cpu", dtype="fp32")


def rewrite_weights(folder: Path, keep) -> Path:
    from safetensors.numpy import load_file, save_file

    tensors = load_file(folder / "model.safetensors")
    save_file({k: v for k, v in tensors.items() if keep(k)}, folder / "model.safetensors")
    return folder


def small_tokenizer(folder: Path, words: list[str]) -> Path:
    """Replace the folder's tokenizer with one whose vocabulary is `words` plus the specials."""
    from transformers import BertTokenizer

    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        (folder / name).unlink(missing_ok=True)
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}
    BertTokenizer(vocab=vocab, do_lower_case=True).save_pretrained(folder)
    return folder


# ---------------------------------------------------------------- (1) never a silently wrong score


def broken_models(root: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """name -> (model folder, words the load error must contain)."""
    no_tok = copy(good, root / "no-tokenizer")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        (no_tok / name).unlink(missing_ok=True)
    bigger = copy(good, root / "foreign-tokenizer")
    small_tokenizer(bigger, [*WORDS, *(f"tok{i}" for i in range(300))])  # more ids than the model has
    return {
        "no-tokenizer": (no_tok, "no tokenizer files"),
        "tiny-tokenizer": (
            small_tokenizer(copy(good, root / "tiny-tokenizer"), ["the", "a"]),
            "only 7 tokens",
        ),
        "foreign-tokenizer": (bigger, "embedding table only"),
        "no-tensors": (rewrite_weights(copy(good, root / "no-tensors"), lambda k: False), "holds no tensors"),
        "missing-layer": (
            rewrite_weights(copy(good, root / "missing-layer"), lambda k: "layer.1." not in k),
            "missing (encoder.layer.1.",
        ),
        "no-embeddings": (
            rewrite_weights(copy(good, root / "no-embeddings"), lambda k: "word_embeddings" not in k),
            "1 missing (embeddings.word_embeddings.weight)",
        ),
    }


def assert_load_errors(cases: dict[str, tuple[Path, str]], loader=None) -> None:
    """Every folder fails to load with a one-line error containing its words."""
    for name, (folder, words) in cases.items():
        with pytest.raises(ModelLoadError) as err:
            (loader or load)(folder)
        assert words in str(err.value), (name, str(err.value))
        assert "\n" not in str(err.value), name


def test_broken_model_folders_fail_to_load_with_the_reason(tmp_path: Path, tiny_bert_dir: Path) -> None:
    assert_load_errors(broken_models(tmp_path, tiny_bert_dir))
    extra = copy(tiny_bert_dir, tmp_path / "extra-tensor")
    from safetensors.numpy import load_file, save_file

    tensors = load_file(extra / "model.safetensors")
    save_file(
        {**tensors, "encoder.layer.7.extra.weight": np.zeros((2, 2), "float32")}, extra / "model.safetensors"
    )
    with pytest.raises(ModelLoadError, match=r"1 unexpected \(encoder.layer.7.extra.weight\)"):
        load(extra)
    assert load(tiny_bert_dir).dimension == 32  # the intact folder still loads


def test_a_run_stores_errors_for_broken_models_and_scores_the_good_one(
    tmp_path: Path, tiny_bert_dir: Path
) -> None:
    registry = tmp_path / "registry"
    models = broken_models(tmp_path / "models", tiny_bert_dir)
    for name, (folder, _) in models.items():
        write_entry(registry, name, f"org/{name}", folder)
    write_entry(registry, "good", "org/good", tiny_bert_dir)
    pairs = write_pairs(tmp_path / "pairs.tsv", n=20)
    names = [*models, "good"]
    proc = run_cli(
        "run", "--registry", registry, "--results", tmp_path / "results", "--pairs", pairs,
        *[arg for n in names for arg in ("--model", n)], "--no-cache",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    stored = {r.model_key: r.run for r in store.load_results(tmp_path / "results")}
    assert stored["good"].status == "ok" and stored["good"].scores
    for name, (_, words) in models.items():
        run = stored[name]
        assert run.status == "error" and not run.scores, name
        assert run.error_kind == "load-failed" and words in run.error, (name, run.error)


def distilbert_cases(root: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """More folders that would give a wrong score if they loaded (DistilBERT -> Pooling -> Dense)."""
    from safetensors.numpy import load_file, save_file

    def dense(name: str, rename) -> Path:
        folder = copy(good, root / name)
        tensors = load_file(folder / "2_Dense" / "model.safetensors")
        kept = {rename(k): v for k, v in tensors.items() if rename(k)}
        save_file(kept, folder / "2_Dense" / "model.safetensors")
        return folder

    sharded = copy(good, root / "missing-shard")
    tensors = load_file(sharded / "model.safetensors")
    (sharded / "model.safetensors").unlink()
    names = sorted(tensors)
    first, second = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
    save_file({k: tensors[k] for k in names[::2]}, sharded / first)  # the second shard is never written
    weight_map = {k: (first if i % 2 == 0 else second) for i, k in enumerate(names)}
    index = {"metadata": {}, "weight_map": weight_map}
    (sharded / "model.safetensors.index.json").write_text(json.dumps(index))
    pickled = copy(good, root / "bin-missing-layer")
    import torch

    tensors = load_file(pickled / "model.safetensors")
    (pickled / "model.safetensors").unlink()
    kept = {k: torch.from_numpy(v) for k, v in tensors.items() if "layer.1." not in k}
    torch.save(kept, pickled / "pytorch_model.bin")
    garbled = copy(good, root / "garbled-tokenizer")
    (garbled / "tokenizer.json").write_text("{not json")
    return {
        "dense-without-bias": (
            dense("dense-without-bias", lambda k: None if "bias" in k else k),
            "linear.bias",
        ),
        "dense-renamed": (dense("dense-renamed", lambda k: k.replace("linear", "lin")), "linear.weight"),
        "missing-shard": (sharded, "model-00002-of-00002.safetensors"),
        "bin-missing-layer": (pickled, "missing (transformer.layer.1."),
        "garbled-tokenizer": (garbled, "cannot load"),
        "truncated-weights": (
            make_corrupt_copy(good, root / "truncated-weights", keep_bytes=4000),
            "corrupt or truncated weights file",
        ),
    }


def test_module_weights_shards_and_pickles_are_checked_too(tmp_path: Path, tiny_distilbert_dir: Path) -> None:
    assert_load_errors(distilbert_cases(tmp_path, tiny_distilbert_dir))
    assert load(tiny_distilbert_dir).dimension == 16


def test_mteb_path_refuses_the_same_broken_folders(tmp_path: Path, tiny_bert_dir: Path) -> None:
    """mteb's own implementation gets the fast path's checks: no score from a folder that would
    run on random weights or a made-up tokenizer."""
    import mteb

    from harness.encode.mteb_path import load_mteb_model

    model_id = "Kingsoft-LLM/QZhou-Embedding"  # mteb loads it with its InstructSentenceTransformerModel
    metadata = mteb.get_task("STSBenchmark").metadata
    assert_load_errors(
        broken_models(tmp_path, tiny_bert_dir),
        lambda folder: load_mteb_model(model_id, folder, device="cpu", task_metadata=metadata),
    )
    fifo = copy(tiny_bert_dir, tmp_path / "fifo")
    os.mkfifo(fifo / "notes.txt")
    with pytest.raises(ModelLoadError, match=r"notes\.txt: a FIFO"):
        load_mteb_model(model_id, fifo, device="cpu", task_metadata=metadata)
    loaded = load_mteb_model(model_id, tiny_bert_dir, device="cpu", task_metadata=metadata)
    assert loaded.loader == "InstructSentenceTransformerModel" and loaded.prompt


# ---------------------------------------------------------------- (3, 4) special files never hang


def special_models(root: Path, good: Path) -> dict[str, tuple[Path, str]]:
    fifo_weights = copy(good, root / "fifo-weights")
    (fifo_weights / "model.safetensors").unlink()
    os.mkfifo(fifo_weights / "model.safetensors")
    zero_config = copy(good, root / "zero-config")
    (zero_config / "config.json").unlink()
    os.symlink("/dev/zero", zero_config / "config.json")
    loop = copy(good, root / "loop-weights")
    (loop / "model.safetensors").unlink()
    os.symlink(loop / "model.safetensors", loop / "model.safetensors")
    fifo_other = copy(good, root / "fifo-readme")
    os.mkfifo(fifo_other / "README.md")
    zero_tok = copy(good, root / "zero-tokenizer")
    (zero_tok / "tokenizer.json").unlink()
    os.symlink("/dev/zero", zero_tok / "tokenizer.json")
    fifo_prompts = copy(good, root / "fifo-st-config")
    (fifo_prompts / "config_sentence_transformers.json").unlink()
    os.mkfifo(fifo_prompts / "config_sentence_transformers.json")
    return {
        "fifo-weights": (fifo_weights, "model.safetensors: a FIFO, not a regular file"),
        "zero-config": (zero_config, "config.json: a character device, not a regular file"),
        "loop-weights": (loop, "Too many levels of symbolic links"),
        "fifo-readme": (fifo_other, "README.md: a FIFO, not a regular file"),
        "zero-tokenizer": (zero_tok, "tokenizer.json: a character device"),
        "fifo-st-config": (fifo_prompts, "config_sentence_transformers.json: a FIFO"),
    }


def test_special_files_are_reported_not_read(tmp_path: Path, tiny_bert_dir: Path) -> None:
    t0 = time.monotonic()
    for name, (folder, words) in special_models(tmp_path, tiny_bert_dir).items():
        with pytest.raises(ModelLoadError) as err:
            load(folder)
        assert words in str(err.value), (name, str(err.value))
        assert any(words.split(":")[0] in p or "symbolic" in p for p in irregular_files(folder)), name
        facts, notes, _ = model_file_facts(folder)  # the card cross-check reads the folder too
        assert isinstance(facts, dict) and isinstance(notes, list)
    # weights_revision is where planning hashes a folder: a special weights file fails that model
    for name in ("fifo-weights", "zero-config", "loop-weights"):
        with pytest.raises(ModelLoadError):
            encode.weights_revision(tmp_path / name)
    value, problem = read_json(tmp_path / "zero-config" / "config.json")
    assert value is None and "character device" in problem
    assert time.monotonic() - t0 < 60  # nothing waited on a FIFO or read /dev/zero to the end


def test_one_special_folder_does_not_stop_the_run(tmp_path: Path, tiny_bert_dir: Path) -> None:
    registry = tmp_path / "registry"
    models = special_models(tmp_path / "models", tiny_bert_dir)
    write_entry(registry, "a-good", "org/a-good", tiny_bert_dir)  # runs before the broken ones
    for name, (folder, _) in models.items():
        write_entry(registry, name, f"org/{name}", folder)
    write_entry(registry, "z-good", "org/z-good", tiny_bert_dir)
    pairs = write_pairs(tmp_path / "pairs.tsv", n=20)
    names = ["a-good", *models, "z-good"]
    proc = run_cli(
        "run", "--registry", registry, "--results", tmp_path / "results", "--pairs", pairs,
        *[arg for n in names for arg in ("--model", n)], "--no-cache", timeout=240,
    )  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    stored = {r.model_key: r.run for r in store.load_results(tmp_path / "results")}
    assert stored["a-good"].status == "ok" and stored["z-good"].status == "ok"
    for name, (_, words) in models.items():
        assert stored[name].status == "error" and words in stored[name].error, (name, stored[name].error)
    lines = error_lines(proc.stderr)
    assert all(line.startswith("harness: ") for line in lines) and len(lines) >= len(models)
    cards = run_cli("models", "--registry", registry, timeout=120)  # the registry reads these folders too
    assert "Traceback" not in cards.stderr and "fifo-weights" in cards.stdout


@pytest.mark.timeout(180)
def test_special_files_behind_linked_folders_never_hang(tmp_path: Path, tiny_distilbert_dir: Path) -> None:
    """A linked module folder is read by the loader, so it is checked like any other folder."""
    outside = tmp_path / "outside"
    dense = copy(tiny_distilbert_dir, tmp_path / "linked-dense")
    shutil.move(dense / "2_Dense", outside / "dense")
    (outside / "dense" / "model.safetensors").unlink()
    os.mkfifo(outside / "dense" / "model.safetensors")  # sentence-transformers would block reading it
    os.symlink(outside / "dense", dense / "2_Dense")
    pool = copy(tiny_distilbert_dir, tmp_path / "linked-pooling")
    shutil.move(pool / "1_Pooling", outside / "pooling")
    (outside / "pooling" / "config.json").unlink()
    os.symlink("/dev/zero", outside / "pooling" / "config.json")
    os.symlink(outside / "pooling", pool / "1_Pooling")
    huge = copy(tiny_distilbert_dir, tmp_path / "link-to-a-large-folder")
    large = tmp_path / "large"
    large.mkdir()
    for i in range(MAX_FOLDER_ENTRIES + 1):  # a link to / or a home folder: the walk stops, unread
        (large / f"f{i}").touch()
    os.symlink(large, huge / "everything")
    cases = {
        "linked-dense": (dense, "2_Dense/model.safetensors: a FIFO"),
        "linked-pooling": (pool, "1_Pooling/config.json: a character device"),
        "link-to-a-large-folder": (huge, f"more than {MAX_FOLDER_ENTRIES} entries"),
    }
    assert_load_errors(cases)
    assert_load_errors({name: (folder, "") for name, (folder, _) in cases.items()}, encode.weights_revision)
    # a sparse 300 MB tokenizer.json: regular, but the tokenizer library would read it whole
    sparse = copy(tiny_distilbert_dir, tmp_path / "sparse-tokenizer")
    with (sparse / "tokenizer.json").open("r+b") as fh:
        fh.truncate(300 * 1024 * 1024)
    assert_load_errors({"sparse-tokenizer": (sparse, "tokenizer.json: 314572800 bytes, more than")})
    # a folder linked to itself (or to a folder already seen) is walked once; the model loads
    looped = copy(tiny_distilbert_dir, tmp_path / "self-link")
    os.symlink(".", looped / "again")
    os.symlink(looped / "2_Dense", looped / "dense-again")
    assert irregular_files(looped) == []
    assert encode.weights_revision(looped) == encode.weights_revision(tiny_distilbert_dir)
    assert load(looped).dimension == 16


# ---------------------------------------------------------------- (10) cache


def test_nan_vector_in_the_cache_is_evicted_and_recomputed(tmp_path: Path, tiny_bert_dir: Path) -> None:
    lm = load(tiny_bert_dir)
    cache = encode.EmbeddingCache(tmp_path / "cache")
    first, stats = encode.embed(TEXTS, model_loader=lambda: lm, fingerprint="fp", cache=cache)
    assert stats.n_encoded == 3 and len(cache) == 3
    cache.put_many("fp", [TEXTS[1]], [np.full(first.shape[1], np.nan, dtype=np.float32)])
    assert set(cache.get_many("fp", TEXTS)) == {TEXTS[0], TEXTS[2]}  # the NaN vector is a miss ...
    assert len(cache) == 2  # ... and gone from the file
    again, stats = encode.embed(TEXTS, model_loader=lambda: lm, fingerprint="fp", cache=cache)
    assert stats.n_cache_hits == 2 and stats.n_encoded == 1
    np.testing.assert_allclose(again, first, atol=1e-6)
    cache.close()
    with sqlite3.connect(tmp_path / "cache" / encode.EmbeddingCache.FILENAME) as conn:  # a damaged row too
        conn.execute("UPDATE vectors SET vec = x'00' WHERE key IN (SELECT key FROM vectors LIMIT 1)")
    cache = encode.EmbeddingCache(tmp_path / "cache")
    assert len(cache.get_many("fp", TEXTS)) == 2 and len(cache) == 2
    cache.close()


def test_a_run_recovers_from_non_finite_vectors_in_its_cache(tmp_path: Path, tiny_bert_dir: Path) -> None:
    """Poisoned cache rows (NaN, inf) are re-encoded by the next run: no error, no --no-cache needed."""
    from harness import run as runner

    registry = tmp_path / "registry"
    write_entry(registry, "m", "org/m", tiny_bert_dir)
    options = runner.RunOptions(
        languages=[],
        results_dir=tmp_path / "results",
        registry_dir=registry,
        model_names=["m"],
        pairs_files=[write_pairs(tmp_path / "pairs.tsv", n=20)],
        cache_dir=tmp_path / "cache",
        bootstrap_resamples=20,
        allow_hub=False,
        device="cpu",
        force=True,
    )

    def run_once():
        summary = runner.run(options, say=lambda _: None)
        assert not summary.failed
        (stored,) = store.load_results(tmp_path / "results")
        assert stored.run.status == "ok", stored.run.error
        return stored.run

    first = run_once()
    n = first.encode.n_encoded
    database = tmp_path / "cache" / "embeddings" / encode.EmbeddingCache.FILENAME
    with sqlite3.connect(database) as conn:
        keys = [row[0] for row in conn.execute("SELECT key FROM vectors ORDER BY key")]
        assert len(keys) == n
        for i, key in enumerate(keys[::2]):  # every other vector: NaN or inf, same length
            bad = np.full(32, np.nan if i % 2 else np.inf, dtype="<f4")
            conn.execute("UPDATE vectors SET vec = ? WHERE key = ?", (bad.tobytes(), key))
    second = run_once()
    assert second.encode.n_encoded == len(keys[::2]) and second.encode.n_cache_hits == n - len(keys[::2])
    assert second.scores["main_score"] == pytest.approx(first.scores["main_score"], abs=1e-9)
    third = run_once()  # the re-encoded vectors were stored again
    assert third.encode.n_encoded == 0 and third.encode.n_cache_hits == n


def test_cache_dir_option_and_environment_use_the_same_files(tmp_path: Path, tiny_bert_dir: Path) -> None:
    registry = tmp_path / "registry"
    write_entry(registry, "m", "org/m", tiny_bert_dir)
    pairs = write_pairs(tmp_path / "pairs.tsv", n=20)
    shared = tmp_path / "shared-cache"
    common = ("run", "--registry", registry, "--pairs", pairs, "--model", "m")
    first = run_cli(*common, "--results", tmp_path / "r1", "--cache-dir", shared)
    assert first.returncode == 0, first.stderr
    assert (shared / "embeddings" / encode.EmbeddingCache.FILENAME).is_file()
    second = run_cli(*common, "--results", tmp_path / "r2", HARNESS_CACHE_DIR=str(shared))
    assert second.returncode == 0, second.stderr
    (one,) = store.load_results(tmp_path / "r1")
    (two,) = store.load_results(tmp_path / "r2")
    assert one.run.encode.n_encoded > 0
    assert two.run.encode.n_encoded == 0 and two.run.encode.n_cache_hits == one.run.encode.n_encoded
    assert two.run.scores["main_score"] == pytest.approx(one.run.scores["main_score"], abs=1e-12)
    assert encode.default_cache_dir(shared) == shared / "embeddings"
    # `score` takes the same folder (its own fingerprint: a local folder, not a registry id)
    from harness.scoring import score_pairs

    with encode.EmbeddingCache(shared / "embeddings") as cache:
        before = len(cache)
    score_pairs(tiny_bert_dir, pairs, dtype="fp32", cache_dir=shared)
    with encode.EmbeddingCache(shared / "embeddings") as cache:
        assert len(cache) > before
