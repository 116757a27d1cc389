from __future__ import annotations

import contextlib
import csv
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from harness.encode import (
    EmbeddingCache,
    EncodeError,
    LoadedModel,
    ModelLoadError,
    NonFiniteEmbeddings,
    RemoteCodeRefused,
    default_cache_dir,
    embed,
    load_model,
    pick_device,
    resolve_dtype,
    vector_fingerprint,
    weights_revision,
)
from harness.records import RunSettings

REPO_ROOT = Path(__file__).resolve().parents[1]
TOL = 1e-5

TRICKY = [
    "A man is playing a guitar.",
    "A woman is riding a horse on the beach!",
    "Ein Mann spielt Gitarre und eine Frau singt.",
    "",
    "   ",
    "Äöü ß, naïve café — 漢字 😀",
    "the " * 60,  # longer than max_seq_length 32: truncated
    "Two dogs are running in the street with three children.",
    "A man is playing a guitar.",  # duplicate
    "[CLS] [SEP] <s> </s> [MASK]",  # special-token look-alikes
    "x",
    "A group of men play soccer on the beach. " * 5,
]


def _st(path: Path, max_seq_length: int | None = None):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    if max_seq_length is not None:
        model.max_seq_length = max_seq_length
    return model


def _reference(path: Path, texts: list[str], max_seq_length: int | None = None) -> np.ndarray:
    return _st(path, max_seq_length).encode(texts, batch_size=32, convert_to_numpy=True)


def _loader(lm: LoadedModel):
    calls = []

    def load() -> LoadedModel:
        calls.append(1)
        return lm

    load.calls = calls  # type: ignore[attr-defined]
    return load


def _no_load() -> LoadedModel:
    raise AssertionError("the model must not be loaded")


def _real_sentences(lang: str, n: int = 60) -> list[str]:
    data = (
        REPO_ROOT / ".." / "shared" / "data" / "sts" / "stsb_multi_mt" / f"stsb-{lang}-test.csv"
    ).resolve()
    if data.is_file():
        with data.open(encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        sents = [r[0] for r in rows[: n // 2]] + [r[1] for r in rows[: n // 2]]
    else:
        sents = [f"{t} number {i}" for i, t in enumerate(TRICKY * 6)][:n]
    long_text = " ".join(sents[:50])  # > 256 word pieces: truncated by the model
    return [*sents, long_text, long_text + " extra tail", sents[0], ""]


# --------------------------------------------------------------------------- device / dtype


def test_pick_device_and_resolve_dtype_cpu():
    assert pick_device() in {"cpu", "cuda"}
    assert resolve_dtype("auto", "cpu") == "fp32"
    assert resolve_dtype("fp16", "cpu") == "fp32"
    assert resolve_dtype("bf16", "cpu") == "fp32"
    assert resolve_dtype("fp32", "cuda") == "fp32"
    with pytest.raises(ValueError):
        resolve_dtype("int8", "cpu")


def test_resolve_dtype_cuda(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "device", lambda device: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_dtype("auto", "cuda") == "bf16"
    assert resolve_dtype("fp16", "cuda") == "fp16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_dtype("auto", "cuda") == "fp16"
    assert resolve_dtype("bf16", "cuda:0") == "fp16"


# --------------------------------------------------------------------------- equality with ST


@pytest.mark.parametrize(
    "fixture", ["tiny_bert_dir", "tiny_xlmr_dir", "tiny_distilbert_dir", "tiny_bert_normalize_dir"]
)
def test_embed_matches_sentence_transformers(fixture, request):
    path = request.getfixturevalue(fixture)
    lm = load_model(path, device="cpu", dtype="auto")
    emb, stats = embed(TRICKY, model_loader=lambda: lm, fingerprint="fp", cache=None, batch_size=4)
    ref = _reference(path, TRICKY)
    assert emb.dtype == np.float32 and emb.shape == ref.shape == (len(TRICKY), lm.dimension)
    assert np.abs(emb - ref).max() < TOL
    np.testing.assert_array_equal(emb[0], emb[8])  # duplicates share a vector
    assert stats.n_texts == len(TRICKY) and stats.n_unique == len(TRICKY) - 1
    assert stats.n_encoded == stats.n_unique and stats.n_cache_hits == 0
    assert stats.device == "cpu" and stats.dtype == "fp32"
    assert 0 < stats.n_tokens <= stats.n_padded_tokens
    assert stats.sentences_per_second > 0 and stats.peak_memory_bytes > 0


def test_tokenization_identical_to_preprocess(tiny_bert_dir, tiny_xlmr_dir, tiny_distilbert_dir):
    from harness.encode.batching import Featurizer

    for path in (tiny_bert_dir, tiny_xlmr_dir, tiny_distilbert_dir):
        lm = load_model(path, device="cpu", dtype="fp32")
        ids, types = Featurizer(lm).encode(TRICKY)
        ref = lm.model.preprocess(TRICKY)
        for i in range(len(TRICKY)):
            mask = ref["attention_mask"][i].bool()
            assert ids[i].tolist() == ref["input_ids"][i][mask].tolist()
            if "token_type_ids" in ref:
                assert types[i].tolist() == ref["token_type_ids"][i][mask].tolist()
        assert max(len(x) for x in ids) == 32  # truncated to max_seq_length, specials kept


def test_preprocess_fallback_path_matches(tiny_xlmr_dir, monkeypatch):
    from harness.encode import batching

    monkeypatch.setattr(batching, "fast_path_blocker", lambda lm, prompt=None: "forced by the test")
    lm = load_model(tiny_xlmr_dir, device="cpu", dtype="fp32")
    emb, stats = embed(TRICKY, model_loader=lambda: lm, fingerprint="f", cache=None, batch_size=3)
    assert np.abs(emb - _reference(tiny_xlmr_dir, TRICKY)).max() < TOL
    assert 0 < stats.n_tokens <= stats.n_padded_tokens


def test_fast_path_is_used_for_plain_models(tiny_bert_dir, tiny_xlmr_dir, tiny_distilbert_dir):
    from harness.encode.batching import fast_path_blocker

    for path in (tiny_bert_dir, tiny_xlmr_dir, tiny_distilbert_dir):
        assert fast_path_blocker(load_model(path, device="cpu", dtype="fp32")) is None


def test_module_chain_dense_and_normalize(tiny_distilbert_dir, tiny_bert_normalize_dir):
    dense = load_model(tiny_distilbert_dir, device="cpu", dtype="fp32")
    assert dense.dimension == 16 and dense.pooling == "mean" and not dense.normalize
    emb, _ = embed(["a man plays guitar"], model_loader=lambda: dense, fingerprint="d", cache=None)
    assert emb.shape == (1, 16)
    assert np.abs(emb).max() < 1.0  # tanh of the Dense layer was applied

    norm = load_model(tiny_bert_normalize_dir, device="cpu", dtype="fp32")
    assert norm.normalize and norm.pooling == "cls" and norm.dimension == 32
    emb, _ = embed(TRICKY, model_loader=lambda: norm, fingerprint="n", cache=None)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_max_seq_length_override(tiny_bert_dir):
    lm = load_model(tiny_bert_dir, device="cpu", dtype="fp32", max_seq_length=8)
    assert lm.max_seq_length == 8
    emb, stats = embed(TRICKY, model_loader=lambda: lm, fingerprint="m", cache=None)
    assert np.abs(emb - _reference(tiny_bert_dir, TRICKY, max_seq_length=8)).max() < TOL
    assert stats.n_padded_tokens <= 8 * stats.n_unique
    with pytest.raises(ModelLoadError, match="exceeds"):
        load_model(tiny_bert_dir, device="cpu", dtype="fp32", max_seq_length=10_000)


@pytest.mark.integration
def test_real_minilm_matches_sentence_transformers(minilm_dir):
    texts = _real_sentences("en")
    lm = load_model(minilm_dir, device="cpu", dtype="auto")
    assert (lm.dimension, lm.max_seq_length, lm.pooling, lm.normalize) == (384, 256, "mean", True)
    emb, stats = embed(texts, model_loader=lambda: lm, fingerprint="real", cache=None)
    ref = _reference(minilm_dir, texts)
    assert np.abs(emb - ref).max() < TOL
    assert stats.n_unique == len(set(texts)) < len(texts)
    assert stats.n_padded_tokens < 1.5 * stats.n_tokens
    assert stats.n_tokens > 2 * 256  # the two long texts were cut at 256 tokens each


@pytest.mark.integration
def test_real_st6_normalize_model_matches(shared_dir):
    path = shared_dir / "models" / "minilm-l6-stsb-de"
    if not (path / "modules.json").is_file():
        pytest.skip("minilm-l6-stsb-de not in the shared folder")
    texts = _real_sentences("de")
    lm = load_model(path, device="cpu", dtype="fp32")
    assert lm.normalize and lm.dimension == 384
    emb, _ = embed(texts, model_loader=lambda: lm, fingerprint="de", cache=None)
    assert np.abs(emb - _reference(path, texts)).max() < TOL


# --------------------------------------------------------------------------- cache behaviour


def test_cache_hits_skip_the_model(tiny_bert_dir, tmp_path):
    lm = load_model(tiny_bert_dir, device="cpu", dtype="fp32")
    texts = ["a dog", "a cat", "a dog", "the man"]
    with EmbeddingCache(tmp_path) as cache:
        loader = _loader(lm)
        first, s1 = embed(texts, model_loader=loader, fingerprint="fp1", cache=cache)
        assert len(loader.calls) == 1 and s1.n_encoded == 3 and s1.n_cache_hits == 0
        again, s2 = embed(texts, model_loader=_no_load, fingerprint="fp1", cache=cache)
        np.testing.assert_array_equal(first, again)  # float32 bytes round-trip exactly
        assert (s2.n_encoded, s2.n_cache_hits, s2.device, s2.model_load_seconds) == (0, 3, "none", 0.0)
        # a partial hit encodes only the misses
        loader = _loader(lm)
        progress: list[int] = []
        more, s3 = embed(
            ["the man", "a horse", "a cat"],
            model_loader=loader,
            fingerprint="fp1",
            cache=cache,
            progress=progress.append,
        )
        assert (s3.n_cache_hits, s3.n_encoded, sum(progress)) == (2, 1, 3)
        np.testing.assert_array_equal(more[0], first[3])
        # another fingerprint shares nothing
        _, s4 = embed(texts, model_loader=_loader(lm), fingerprint="fp2", cache=cache)
        assert s4.n_cache_hits == 0


def test_embed_empty_and_type_errors():
    emb, stats = embed([], model_loader=_no_load, fingerprint="x", cache=None)
    assert emb.shape[0] == 0 and stats.n_texts == 0
    with pytest.raises(TypeError):
        embed(["ok", None], model_loader=_no_load, fingerprint="x", cache=None)  # type: ignore[list-item]


def test_cache_roundtrip_and_reopen(tmp_path):
    vecs = np.random.default_rng(0).normal(size=(5, 7)).astype(np.float32)
    texts = [f"t{i}" for i in range(5)]
    cache = EmbeddingCache(tmp_path)
    cache.put_many("fp", texts, vecs)
    cache.close()
    cache = EmbeddingCache(tmp_path)
    got = cache.get_many("fp", [*texts, "missing"])
    assert set(got) == set(texts)
    for i, t in enumerate(texts):
        assert got[t].dtype == np.float32
        np.testing.assert_array_equal(got[t], vecs[i])
    assert cache.get_many("other", texts) == {}
    assert len(cache) == 5
    journal = cache._conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert journal.lower() == "wal"
    cache.close()


def test_cache_shared_by_two_connections(tmp_path):
    a, b = EmbeddingCache(tmp_path), EmbeddingCache(tmp_path)
    v = np.ones((3, 4), dtype=np.float32)
    a.put_many("fp", ["x", "y", "z"], v)
    b.put_many("fp", ["x", "y", "z"], v)  # same keys again: idempotent
    assert set(b.get_many("fp", ["x", "y", "z"])) == {"x", "y", "z"}
    assert len(a) == 3
    a.close()
    b.close()


def test_cache_created_by_processes_starting_together(tmp_path):
    """A new cache file opened by several processes at the same instant: each gets a working
    cache (switching the new file to WAL is answered "locked" at once, without a busy wait)."""
    script = textwrap.dedent(
        """
        import os, sys, time, warnings
        warnings.simplefilter("error")  # "cache unusable, running without it" fails the child
        from harness.encode import EmbeddingCache
        root, go = sys.argv[1], sys.argv[2]
        print("ready", flush=True)
        while not os.path.exists(go):
            pass
        cache = EmbeddingCache(root)
        cache.put_many("fp", ["a"], [[1.0, 2.0]])
        assert set(cache.get_many("fp", ["a"])) == {"a"}
        cache.close()
        print("ok")
        """
    )
    for trial in range(4):
        root, go = tmp_path / f"cache{trial}", tmp_path / f"go{trial}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", script, str(root), str(go)],
                cwd=REPO_ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        go.touch()
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            assert out.strip() == "ok"


def test_cache_two_processes_write_same_keys(tmp_path):
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        from harness.encode import EmbeddingCache
        cache = EmbeddingCache(sys.argv[1])
        texts = [f"sentence {i}" for i in range(3000)]
        vecs = np.arange(3000 * 8, dtype=np.float32).reshape(3000, 8)
        for start in range(0, 3000, 250):
            cache.put_many("shared", texts[start:start + 250], vecs[start:start + 250])
            got = cache.get_many("shared", texts[:start + 250])
            assert len(got) >= start + 250, len(got)
        cache.close()
        print("ok")
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.strip() == "ok"
    with EmbeddingCache(tmp_path) as cache:
        got = cache.get_many("shared", ["sentence 0", "sentence 2999"])
        np.testing.assert_array_equal(got["sentence 2999"], np.arange(2999 * 8, 3000 * 8, dtype=np.float32))
        assert len(cache) == 3000


def test_corrupt_cache_is_moved_aside(tmp_path):
    path = tmp_path / EmbeddingCache.FILENAME
    path.write_bytes(b"this is not a sqlite database at all" * 100)
    with pytest.warns(UserWarning, match="corrupt"):
        cache = EmbeddingCache(tmp_path)
    assert list(tmp_path.glob(EmbeddingCache.FILENAME + ".corrupt-*"))
    cache.put_many("fp", ["a"], np.zeros((1, 3), dtype=np.float32))
    assert set(cache.get_many("fp", ["a"])) == {"a"}
    cache.close()


def test_corruption_during_use_never_crashes(tmp_path, tiny_bert_dir):
    import sqlite3

    class MalformedConnection:
        def execute(self, *args, **kwargs):
            raise sqlite3.DatabaseError("database disk image is malformed")

        executemany = execute

        def close(self):
            pass

    cache = EmbeddingCache(tmp_path)
    cache.put_many("fp", ["a"], np.zeros((1, 32), dtype=np.float32))
    cache._conn.close()
    cache._conn = MalformedConnection()  # the file "goes bad" while the run uses it
    lm = load_model(tiny_bert_dir, device="cpu", dtype="fp32")
    with pytest.warns(UserWarning, match="corrupt"):
        emb, stats = embed(["a", "b"], model_loader=lambda: lm, fingerprint="fp", cache=cache)
    assert emb.shape == (2, 32) and stats.n_encoded == 2  # the lookup failed: both encoded
    assert list(tmp_path.glob(EmbeddingCache.FILENAME + ".corrupt-*"))
    assert set(cache.get_many("fp", ["a", "b"])) == {"a", "b"}  # written to the new file
    cache.close()


def test_cached_vector_of_wrong_size_is_re_encoded(tmp_path, tiny_bert_dir):
    lm = load_model(tiny_bert_dir, device="cpu", dtype="fp32")
    with EmbeddingCache(tmp_path) as cache:
        cache.put_many("fp", ["a"], np.zeros((1, 3), dtype=np.float32))  # stale/foreign entry
        emb, stats = embed(["a", "b"], model_loader=lambda: lm, fingerprint="fp", cache=cache)
        assert emb.shape == (2, 32) and stats.n_encoded == 2 and stats.n_cache_hits == 0
        assert cache.get_many("fp", ["a"])["a"].shape == (32,)


def test_unwritable_cache_is_disabled_not_fatal(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.warns(UserWarning, match="unusable"):
        cache = EmbeddingCache(blocker / "sub")  # parent is a file: cannot create
    cache.put_many("fp", ["a"], np.zeros((1, 2), dtype=np.float32))
    assert cache.get_many("fp", ["a"]) == {}


def test_default_cache_dir(monkeypatch, tmp_path):
    assert default_cache_dir(tmp_path) == tmp_path / "embeddings"
    # HARNESS_CACHE_DIR is resolved by harness.config (and passed down), never read here
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() != tmp_path / "embeddings"
    assert default_cache_dir().name == "embeddings"


# --------------------------------------------------------------------------- OOM / NaN


def _patch_forward(lm: LoadedModel, fn):
    original = lm.model.forward
    lm.model.forward = lambda features, **kw: fn(original, features, **kw)


@pytest.mark.parametrize("kind", ["cuda", "runtime"])
def test_oom_halves_batch_and_retries(tiny_bert_dir, kind):
    import torch

    lm = load_model(tiny_bert_dir, device="cpu", dtype="fp32")
    seen: list[int] = []

    def flaky(original, features, **kw):
        ids = features["input_ids"]
        seen.append(ids.numel())
        if ids.numel() > 4 * 32:
            if kind == "cuda":
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            raise RuntimeError("[enforce fail] DefaultCPUAllocator: not enough memory: out of memory")
        return original(features, **kw)

    _patch_forward(lm, flaky)
    texts = [f"a dog and a cat {i}" for i in range(40)]  # same length: one big batch at first
    emb, stats = embed(texts, model_loader=lambda: lm, fingerprint="o", cache=None, batch_size=64)
    assert 1 < stats.batch_size <= 8  # halved from 64 until a batch fit
    assert np.abs(emb - _reference(tiny_bert_dir, texts)).max() < TOL
    assert max(seen) > 4 * 32  # it did fail first


def test_plan_batch_token_budget_and_split():
    from harness.encode.batching import plan_batch

    lengths = np.array([100, 90, 80, 70] + [20] * 1000)
    # GPU style (no row cap): budget 4 * 128 = 512 tokens -> 5 rows of width 100, but the
    # batch ends where rows fall below 75% of its width
    assert plan_batch(lengths, 0, 4, 128, None) == 3
    assert plan_batch(lengths, 3, 4, 128, None) == 1  # 70 alone: next rows are 20
    assert plan_batch(lengths, 4, 4, 128, None) == 512 // 20  # short rows pack beyond 4
    assert plan_batch(lengths, 4, 4, 128, 4) == 4  # CPU: at most batch_size rows
    assert plan_batch(lengths, len(lengths) - 2, 64, 128, None) == 2
    assert plan_batch(np.array([5000]), 0, 1, 512, None) == 1  # never zero rows


def test_oom_at_batch_size_one_gives_up(tiny_bert_dir):
    import torch

    lm = load_model(tiny_bert_dir, device="cpu", dtype="fp32")

    def always(original, features, **kw):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    _patch_forward(lm, always)
    with pytest.raises(EncodeError, match="batch size 1"):
        embed(["a", "b"], model_loader=lambda: lm, fingerprint="o", cache=None, batch_size=8)


def test_other_errors_are_not_swallowed(tiny_bert_dir):
    lm = load_model(tiny_bert_dir, device="cpu", dtype="fp32")

    def broken(original, features, **kw):
        raise RuntimeError("shape mismatch")

    _patch_forward(lm, broken)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        embed(["a"], model_loader=lambda: lm, fingerprint="o", cache=None)


def test_nan_output_raises_and_is_not_cached(tiny_bert_dir, tmp_path):
    import torch

    lm = load_model(tiny_bert_dir, device="cpu", dtype="fp32")

    def nan(original, features, **kw):
        out = original(features, **kw)
        out["sentence_embedding"] = out["sentence_embedding"] * torch.tensor(float("nan"))
        return out

    _patch_forward(lm, nan)
    with EmbeddingCache(tmp_path) as cache:
        with pytest.raises(NonFiniteEmbeddings):
            embed(["a", "b"], model_loader=lambda: lm, fingerprint="nan", cache=cache)
        assert cache.get_many("nan", ["a", "b"]) == {}


# --------------------------------------------------------------------------- loading errors


def test_remote_code_is_refused(tiny_bert_dir, tmp_path):
    from fixtures.tiny_models import make_remote_code_model

    remote = make_remote_code_model(tiny_bert_dir, tmp_path / "remote")
    with pytest.raises(RemoteCodeRefused, match="--trust-remote-code") as info:
        load_model(remote, device="cpu", dtype="fp32")
    assert "auto_map" in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, ModelLoadError)


def test_custom_module_class_is_refused(tiny_bert_dir, tmp_path):
    custom = tmp_path / "custom"
    shutil.copytree(tiny_bert_dir, custom)
    modules = json.loads((custom / "modules.json").read_text())
    modules[1]["type"] = "my_package.pooling.FancyPooling"
    (custom / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(RemoteCodeRefused, match="FancyPooling"):
        load_model(custom, device="cpu", dtype="fp32")


def test_corrupt_safetensors_names_the_file(tiny_bert_dir, tmp_path):
    from fixtures.tiny_models import make_corrupt_copy

    broken = make_corrupt_copy(tiny_bert_dir, tmp_path / "broken")
    with pytest.raises(ModelLoadError, match=re.escape(str(broken / "model.safetensors"))):
        load_model(broken, device="cpu", dtype="fp32")
    # truncated in the data part (header intact)
    data = (tiny_bert_dir / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes(data[: len(data) - 1000])
    with pytest.raises(ModelLoadError, match=r"model\.safetensors"):
        load_model(broken, device="cpu", dtype="fp32")


def test_missing_modules_json(tiny_bert_dir, tmp_path):
    plain = tmp_path / "plain"
    shutil.copytree(tiny_bert_dir, plain)
    for name in ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json"):
        (plain / name).unlink()
    shutil.rmtree(plain / "1_Pooling")
    lm = load_model(plain, device="cpu", dtype="fp32")  # ST's own fallback: transformer + mean pooling
    assert lm.pooling == "mean"
    emb, _ = embed(TRICKY[:4], model_loader=lambda: lm, fingerprint="p", cache=None)
    assert np.abs(emb - _reference(plain, TRICKY[:4])).max() < TOL

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match=r"missing modules\.json"):
        load_model(empty, device="cpu", dtype="fp32")


def test_unknown_model_offline_is_a_load_error(tmp_path):
    with pytest.raises(ModelLoadError):
        load_model("no-such-org/no-such-model-xyz", device="cpu", dtype="fp32")
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(ModelLoadError, match="not a model folder"):
        load_model(f, device="cpu", dtype="fp32")


# --------------------------------------------------------------------------- identity


def test_weights_revision(tiny_distilbert_dir, tmp_path):
    rev = weights_revision(tiny_distilbert_dir)
    assert re.fullmatch(r"local-[0-9a-f]{12}", rev)
    copy = tmp_path / "copy"
    shutil.copytree(tiny_distilbert_dir, copy)
    assert weights_revision(copy) == rev
    (copy / "README.md").write_text("docs do not change vectors")
    assert weights_revision(copy) == rev
    dense = next((copy / "2_Dense").glob("model.safetensors"))
    data = bytearray(dense.read_bytes())
    data[-1] ^= 0xFF
    dense.write_bytes(bytes(data))
    assert weights_revision(copy) != rev
    with pytest.raises(ModelLoadError):
        weights_revision(tmp_path / "nothing-here")


def test_vector_fingerprint_changes_with_everything_that_changes_a_vector():
    base = RunSettings()
    key = vector_fingerprint("org/model", "abc", base)
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    assert vector_fingerprint("org/model", "abc", RunSettings()) == key
    variants = [
        vector_fingerprint("org/other", "abc", base),
        vector_fingerprint("org/model", "abd", base),
        vector_fingerprint("org/model", "abc", base.model_copy(update={"dtype": "fp16"})),
        vector_fingerprint("org/model", "abc", base.model_copy(update={"max_seq_length": 128})),
        vector_fingerprint("org/model", "abc", base.model_copy(update={"pooling": "cls"})),
        vector_fingerprint("org/model", "abc", base.model_copy(update={"normalize": True})),
    ]
    assert len({key, *variants}) == len(variants) + 1
    # scoring-only settings share vectors
    assert vector_fingerprint("org/model", "abc", base.model_copy(update={"evaluator_version": 2})) == key
    assert vector_fingerprint("org/model", "abc", base.model_copy(update={"trust_remote_code": True})) == key
