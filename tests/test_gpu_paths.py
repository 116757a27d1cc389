"""What a first GPU run would get wrong, checked on CPU (issue 28).

- dtype: a driver that cannot see the GPU trusts the cluster probe or the explicit dtype
  instead of downgrading bf16 to fp16; ``--device cuda:0`` takes the probe's answer too;
- Ray: GPU jobs and the probe get a fresh worker process each (``max_calls=1``);
- half precision: loading with ``dtype=`` keeps what transformers keeps in fp32 (RoPE
  ``inv_freq`` of ModernBERT, T5's ``wo`` under fp16), modules after the transformer follow;
- ``--device cuda:1``: every CUDA call names GPU 1 (``torch.cuda`` patched: two fake GPUs);
- mteb's path halves the batch on out-of-memory; a model that ran out of memory while loading
  is freed with its job;
- bf16 end to end on the real all-MiniLM-L6-v2 (a slice of stsb_multi_mt en): within 0.001 of
  fp32, vectors never shared across dtypes, the recorded dtype is the one the model ran in.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from harness import encode, store
from harness import run as runner
from harness.encode import load as load_module
from harness.encode.mteb_path import MtebLoaded
from harness.errors import EncodeError
from harness.run import distributed
from harness.run.facts import hardware_info

REPO = Path(__file__).resolve().parent.parent
TEXTS = ["the man is playing the guitar", "a dog runs in the park", "two children eat food", "the cat"]


# ---------------------------------------------------------------- fakes


class FakeCuda:
    """Two fake GPUs: 0 is a V100 (no bf16), 1 an H100. Records the device every call names."""

    NAMES = ("Tesla V100-SXM2-16GB", "NVIDIA H100 80GB HBM3")

    def __init__(self) -> None:
        self.current = 0
        self.calls: list[tuple[str, Any]] = []

    @staticmethod
    def index(device: Any) -> int:
        import torch

        dev = torch.device(device) if not isinstance(device, int) else torch.device("cuda", device)
        return 0 if dev.index is None else dev.index

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import torch

        fake = self

        @contextlib.contextmanager
        def device(dev: Any) -> Iterator[None]:
            before, fake.current = fake.current, fake.index(dev)
            try:
                yield
            finally:
                fake.current = before

        def set_device(dev: Any) -> None:
            fake.calls.append(("set_device", fake.index(dev)))
            fake.current = fake.index(dev)

        def named(name: str, result: Any) -> Any:
            def call(dev: Any = None) -> Any:
                idx = fake.current if dev is None else fake.index(dev)
                fake.calls.append((name, idx))
                return result(idx) if callable(result) else result

            return call

        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
        monkeypatch.setattr(torch.cuda, "current_device", lambda: fake.current)
        monkeypatch.setattr(torch.cuda, "device", device)
        monkeypatch.setattr(torch.cuda, "set_device", set_device)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: fake.current == 1)
        monkeypatch.setattr(torch.cuda, "get_device_name", named("get_device_name", lambda i: self.NAMES[i]))
        monkeypatch.setattr(torch.cuda, "max_memory_allocated", named("max_memory_allocated", 123))
        monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", named("reset_peak_memory_stats", None))
        monkeypatch.setattr(torch.cuda, "empty_cache", lambda: fake.calls.append(("empty_cache", None)))

    def devices(self, name: str) -> list[Any]:
        return [dev for call, dev in self.calls if call == name]


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> FakeCuda:
    cuda = FakeCuda()
    cuda.install(monkeypatch)
    return cuda


@pytest.fixture
def half_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the device check: fp16/bf16 run on CPU as asked (auto: bf16, the GPU default)."""

    def resolve(requested: str, device: str) -> str:
        return {"auto": "bf16"}.get(requested.lower(), requested.lower())

    monkeypatch.setattr(load_module, "resolve_dtype", resolve)
    monkeypatch.setattr(encode, "resolve_dtype", resolve)


# ---------------------------------------------------------------- dtype where the GPU is not visible


def test_driver_without_gpu_keeps_the_dtype_it_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    # the probe said bf16 (or the user asked for it): no "bf16 is not supported" downgrade here
    assert encode.resolve_dtype("bf16", "cuda") == "bf16"
    assert encode.resolve_dtype("bf16", "cuda:3") == "bf16"
    assert encode.resolve_dtype("fp16", "cuda") == "fp16"
    assert encode.resolve_dtype("auto", "cuda") == "fp16"  # unresolved auto: what every GPU runs
    assert encode.resolve_dtype("bf16", "cpu") == "fp32"


def test_bf16_support_is_asked_of_the_named_gpu(fake_cuda: FakeCuda) -> None:
    assert encode.resolve_dtype("auto", "cuda:1") == "bf16"
    assert encode.resolve_dtype("bf16", "cuda:1") == "bf16"
    assert encode.resolve_dtype("auto", "cuda:0") == "fp16"
    assert encode.resolve_dtype("bf16", "cuda:0") == "fp16"  # GPU 0 really is there and lacks it
    assert fake_cuda.current == 0  # asked without moving the process to another GPU


@pytest.mark.parametrize(("device", "asked"), [("cuda:0", "auto"), ("cuda", "auto"), ("cuda:0", "bf16")])
def test_ray_run_takes_the_probes_dtype(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, device: str, asked: str
) -> None:
    from typer.testing import CliRunner

    from harness.cli import app

    probed: list[str] = []
    seen: list[Any] = []

    def probe(address: str | None = None, dtype: str = "auto") -> dict[str, str]:
        probed.append(dtype)
        return {"device": "cuda", "dtype": "bf16"}

    monkeypatch.setattr(distributed, "probe_cluster", probe)
    monkeypatch.setattr(runner, "run", lambda options, **kw: seen.append(options) or runner.RunSummary())
    for name in ("registry", "data", "results"):
        (tmp_path / name).mkdir()
    args = ["run", "--executor", "ray", "--device", device, "--dtype", asked, "--lang", "en", "--no-cache"]
    args += ["--registry", str(tmp_path / "registry"), "--data-dir", str(tmp_path / "data")]
    args += ["--results", str(tmp_path / "results")]
    result = CliRunner().invoke(app, args)
    assert seen, result.output
    assert probed == [asked]  # the workers resolve what was asked
    assert seen[0].dtype == "bf16" and seen[0].device == device


# ---------------------------------------------------------------- Ray task options


def _task() -> int:
    return 1


def test_gpu_ray_tasks_get_a_fresh_worker_each() -> None:
    ray = pytest.importorskip("ray")
    gpu = distributed.remote_function(ray, _task, gpus=2, max_retries=3)
    options = gpu._default_options  # what Ray schedules the task with
    assert options["num_gpus"] == 1 and options["max_calls"] == 1
    assert options["max_retries"] == 3 and options["retry_exceptions"] is False
    assert "env_vars" in options["runtime_env"]
    cpu = distributed.remote_function(ray, _task, gpus=0, max_retries=-1)._default_options
    assert cpu["num_cpus"] == 1 and "num_gpus" not in cpu and "max_calls" not in cpu
    assert cpu["max_retries"] == 0


def test_cluster_probe_runs_in_a_fresh_gpu_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    ray = pytest.importorskip("ray")
    asked: list[dict[str, Any]] = []

    def remote(**options: Any) -> Any:
        asked.append(options)
        built = ray.remote(**options)  # Ray accepts these options for a function
        return lambda fn: SimpleNamespace(remote=lambda *args: (built(fn), fn(*args)))

    fake = SimpleNamespace(remote=remote, get=lambda ref: ref[1])
    monkeypatch.setattr(distributed, "require_ray", lambda: fake)
    monkeypatch.setattr(distributed, "connect", lambda address=None: False)
    monkeypatch.setattr(distributed, "cluster_gpus", lambda: 8.0)
    answer = distributed.probe_cluster(None, "fp16")
    assert asked and asked[0]["num_gpus"] == 1 and asked[0]["max_calls"] == 1
    assert answer == {"device": "cpu", "dtype": "fp32"}  # this CPU machine, asked for fp16


# ---------------------------------------------------------------- half precision: transformers' fp32 parts


def _tiny_vocab() -> dict[str, int]:
    from fixtures.tiny_models import WORDS

    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"abcdefghijklmnopqrstuvwxyz", *WORDS]
    return {t: i for i, t in enumerate(dict.fromkeys(tokens))}


def _tiny_st(kind: str, out: Path) -> Path:
    """A tiny random ModernBERT (RoPE) or T5 encoder -> mean Pooling -> Dense, as ST saves it."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Pooling, Transformer
    from transformers import BertTokenizer, ModernBertConfig, ModernBertModel, T5Config, T5EncoderModel

    vocab = _tiny_vocab()
    torch.manual_seed(7)
    if kind == "modernbert":
        config = ModernBertConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=64,
            pad_token_id=0,
            cls_token_id=2,
            sep_token_id=3,
            bos_token_id=2,
            eos_token_id=3,
        )
        hf_model = ModernBertModel(config)
    else:
        config = T5Config(
            vocab_size=len(vocab), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, pad_token_id=0
        )
        hf_model = T5EncoderModel(config)
    with tempfile.TemporaryDirectory() as tmp:
        hf_model.save_pretrained(tmp)
        BertTokenizer(vocab=vocab, do_lower_case=True, model_max_length=64).save_pretrained(tmp)
        transformer = Transformer(tmp, max_seq_length=32)
        dim = transformer.get_embedding_dimension()
        torch.manual_seed(8)
        modules = [transformer, Pooling(dim, pooling_mode="mean"), Dense(dim, 16)]
        SentenceTransformer(modules=modules, device="cpu").save(str(out), create_model_card=False)
    return out


@pytest.fixture(scope="module")
def tiny_modernbert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_st("modernbert", tmp_path_factory.mktemp("tiny-modernbert") / "model")


@pytest.fixture(scope="module")
def tiny_t5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_st("t5", tmp_path_factory.mktemp("tiny-t5") / "model")


def _fp32_parts(model: Any) -> list[str]:
    import torch

    transformer = model[0].auto_model
    named = [*transformer.named_buffers(), *transformer.named_parameters()]
    return sorted(n for n, t in named if t.is_floating_point() and t.dtype == torch.float32)


@pytest.mark.parametrize(
    ("fixture", "dtype", "kept"),
    [
        ("tiny_modernbert_dir", "bf16", "inv_freq"),
        ("tiny_modernbert_dir", "fp16", "inv_freq"),
        ("tiny_t5_dir", "fp16", ".wo."),
    ],
)
def test_half_precision_keeps_what_transformers_keeps_in_fp32(
    request: pytest.FixtureRequest, half_on_cpu: None, fixture: str, dtype: str, kept: str
) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    path = request.getfixturevalue(fixture)
    torch_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    # transformers itself keeps these in fp32 when loaded with dtype= (the reference)
    reference = SentenceTransformer(str(path), device="cpu", model_kwargs={"dtype": torch_dtype})
    expected = _fp32_parts(reference)
    assert expected and all(kept in name for name in expected), expected

    lm = encode.load_model(path, device="cpu", dtype=dtype)
    assert lm.dtype == dtype
    assert _fp32_parts(lm.model) == expected  # not cast down by the harness
    rest = [p for n, p in lm.model[0].auto_model.named_parameters() if kept not in n]
    assert rest and all(p.dtype == torch_dtype for p in rest)
    assert all(p.dtype == torch_dtype for p in lm.model[2].parameters())  # Dense follows the dtype
    vectors, stats = encode.embed(TEXTS, model_loader=lambda: lm, fingerprint="f", cache=None)
    assert stats.dtype == dtype and np.isfinite(vectors).all()
    expected_vectors = reference.encode(TEXTS, convert_to_numpy=True)
    np.testing.assert_allclose(vectors, expected_vectors, atol=1e-2)


def test_fp32_run_of_a_half_checkpoint_is_upcast(tiny_t5_dir: Path, tmp_path: Path) -> None:
    import shutil

    import torch
    from sentence_transformers import SentenceTransformer

    half = tmp_path / "half"
    shutil.copytree(tiny_t5_dir, half)
    model = SentenceTransformer(str(half), device="cpu")
    model.half()
    model.save(str(half), create_model_card=False)
    lm = encode.load_model(half, device="cpu", dtype="fp32")
    assert lm.dtype == "fp32"
    assert all(p.dtype == torch.float32 for p in lm.model.parameters())


# ---------------------------------------------------------------- cuda:1 means GPU 1


def test_cuda_1_calls_name_gpu_1(fake_cuda: FakeCuda) -> None:
    assert hardware_info("cuda:1").gpu == FakeCuda.NAMES[1]
    assert fake_cuda.devices("get_device_name") == [1]

    model = SimpleNamespace(
        device="cuda:1",
        dtype="bf16",
        dimension=2,
        encode_misses=lambda texts, bs, progress: (np.ones((len(texts), 2), np.float32), _counters(bs)),
    )
    _, stats = encode.embed(TEXTS, model_loader=lambda: model, fingerprint="f", cache=None)
    assert stats.peak_memory_bytes == 123 and stats.device == "cuda:1"
    assert fake_cuda.devices("reset_peak_memory_stats") == [1]
    assert fake_cuda.devices("max_memory_allocated") == [1]


def _counters(batch_size: int) -> dict[str, int]:
    return {"n_tokens": 0, "n_padded_tokens": 0, "batch_size_final": batch_size}


# ---------------------------------------------------------------- out of memory


class _OomEncoder:
    """An mteb encoder that runs out of memory above a batch size, and says which it got."""

    def __init__(self, fits: int) -> None:
        self.fits = fits
        self.batch_sizes: list[int] = []

    def encode(self, loader: Any, *, batch_size: int, **kwargs: Any) -> np.ndarray:
        import torch

        self.batch_sizes.append(batch_size)
        if batch_size > self.fits:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        texts = [t for batch in loader for t in batch["text"]]
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


def _mteb_loaded(encoder: Any) -> MtebLoaded:
    return MtebLoaded(encoder=encoder, task_metadata=None, device="cpu", dtype="fp32", loader="fake_loader")


def test_mteb_path_halves_the_batch_on_out_of_memory() -> None:
    encoder = _OomEncoder(fits=100)
    vectors, stats = encode.embed(
        TEXTS, model_loader=lambda: _mteb_loaded(encoder), fingerprint="f", cache=None, batch_size=512
    )
    assert encoder.batch_sizes == [512, 256, 128, 64]
    assert stats.batch_size == 64
    assert vectors[:, 0].tolist() == [float(len(t)) for t in TEXTS]


def test_mteb_path_gives_up_at_batch_size_one() -> None:
    encoder = _OomEncoder(fits=0)
    with pytest.raises(EncodeError, match="out of memory on cpu in mteb's fake_loader even at batch size 1"):
        encode.embed(
            TEXTS, model_loader=lambda: _mteb_loaded(encoder), fingerprint="f", cache=None, batch_size=4
        )
    assert encoder.batch_sizes == [4, 2, 1]


def _registry(tmp_path: Path, model_dir: Path, key: str = "tiny") -> Path:
    from fixtures.workspace import write_entry

    registry = tmp_path / "registry"
    write_entry(registry, key, f"org/{key}", model_dir)
    return registry


def test_model_out_of_memory_while_loading_is_freed_with_its_job(
    tmp_path: Path, tiny_bert_dir: Path, fake_cuda: FakeCuda, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sentence_transformers
    import torch
    from fixtures.workspace import write_pairs

    half_loaded: list[weakref.ref] = []

    class Weights:
        pass

    def loads_then_runs_out(*args: Any, **kwargs: Any) -> Any:
        weights = Weights()  # what a half-loaded model holds on the GPU
        half_loaded.append(weakref.ref(weights))
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", loads_then_runs_out)
    pairs = write_pairs(tmp_path / "pairs.tsv", n=12)
    options = runner.RunOptions(
        languages=["en"],
        results_dir=tmp_path / "results",
        registry_dir=_registry(tmp_path, tiny_bert_dir),
        model_names=["tiny"],
        pairs_files=[pairs, write_pairs(tmp_path / "pairs2.tsv", n=12, seed=2)],
        use_cache=False,
        device="cuda:1",
        bootstrap_resamples=100,
    )
    gc.disable()  # only what the harness frees itself counts
    try:
        summary = runner.run(options, say=lambda _: None)
        alive = [ref() is not None for ref in half_loaded]
    finally:
        gc.enable()
    assert len(half_loaded) == 1  # one load for the job's tasks
    assert alive == [False]
    assert summary.outcomes[0].status == "error" and "out of memory on cuda:1" in summary.outcomes[0].reason
    assert fake_cuda.devices("set_device") == [1]  # loaded with GPU 1 current
    assert fake_cuda.calls[-1] == ("empty_cache", None)  # the cache handed back after the job
    stored = [r.run for r in store.load_results(tmp_path / "results")]
    assert len(stored) == 2 and {r.error_kind for r in stored} == {"out-of-memory"}
    assert {r.hardware.gpu for r in stored} == {FakeCuda.NAMES[1]}


def test_a_model_loaded_in_another_dtype_than_the_runs_is_an_error(
    tmp_path: Path, tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker whose GPU resolves the dtype otherwise than the run (a V100 node in a cluster probed
    on an H100) must not store fp16 scores, or cache fp16 vectors, as bf16 ones."""
    import dataclasses

    from fixtures.workspace import write_pairs

    real_load = encode.load_model
    monkeypatch.setattr(
        encode, "load_model", lambda *a, **k: dataclasses.replace(real_load(*a, **k), dtype="fp16")
    )
    options = runner.RunOptions(
        languages=["en"],
        results_dir=tmp_path / "results",
        registry_dir=_registry(tmp_path, tiny_bert_dir),
        model_names=["tiny"],
        pairs_files=[write_pairs(tmp_path / "pairs.tsv", n=12)],
        cache_dir=tmp_path / "cache",
        device="cpu",
        bootstrap_resamples=100,
    )
    summary = runner.run(options, say=lambda _: None)
    assert summary.outcomes[0].status == "error"
    (stored,) = store.load_results(tmp_path / "results")
    assert stored.run.status == "error" and stored.run.error_kind == "load-failed"
    assert stored.run.error == (
        "tiny loaded in fp16 on cpu, but the run's dtype is fp32 (resolved for another GPU?); "
        "pass --dtype fp16"
    )
    with encode.EmbeddingCache(tmp_path / "cache") as cache:
        assert len(cache) == 0  # no vector cached under the run's fp32 fingerprint


# ---------------------------------------------------------------- bf16 end to end on the real MiniLM


BASE_KEY = "sentence-transformers__all-minilm-l6-v2"


@pytest.mark.integration
def test_bf16_end_to_end_on_real_minilm(
    tmp_path: Path, minilm_dir: Path, shared_dir: Path, half_on_cpu: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    rows = list(csv.reader((shared_dir / "data/sts/stsb_multi_mt/stsb-en-test.csv").open(encoding="utf-8")))
    pairs = tmp_path / "stsb-en-slice.tsv"
    with pairs.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\", quotechar=None)
        writer.writerow(["sentence1", "sentence2", "score"])
        writer.writerows(rows[:200])
    models = tmp_path / "models"
    models.mkdir()
    (models / BASE_KEY).symlink_to(minilm_dir, target_is_directory=True)

    used: list[set[Any]] = []
    real_load = encode.load_model

    def spy(*args: Any, **kwargs: Any) -> Any:
        lm = real_load(*args, **kwargs)
        used.append({p.dtype for p in lm.model.parameters()})
        return lm

    monkeypatch.setattr(encode, "load_model", spy)

    def run(dtype: str, results: str) -> Any:
        options = runner.RunOptions(
            languages=["en"],
            results_dir=tmp_path / results,
            registry_dir=REPO / "registry",
            model_names=[BASE_KEY],
            pairs_files=[pairs],
            models_dirs=[models],
            cache_dir=tmp_path / "cache",  # one cache for every run
            allow_hub=False,
            dtype=dtype,
            device="cpu",
            bootstrap_resamples=100,
        )
        summary = runner.run(options, say=lambda _: None)
        assert not summary.failed, summary
        (stored,) = store.load_results(tmp_path / results)
        return stored.run

    fp32 = run("fp32", "fp32")
    bf16 = run("auto", "bf16")  # auto is the GPU default: bf16
    again = run("bf16", "bf16-again")
    assert used == [{torch.float32}, {torch.bfloat16}]  # the third run: every vector from the cache
    # recorded (once, in the settings the identity hashes) = the dtype the model ran in
    assert (fp32.settings.dtype, bf16.settings.dtype, again.settings.dtype) == ("fp32", "bf16", "bf16")
    assert bf16.encode.n_cache_hits == 0 and bf16.encode.n_encoded == bf16.encode.n_unique > 350
    assert again.encode.n_cache_hits == again.encode.n_unique and again.scores == bf16.scores
    assert fp32.identity != bf16.identity
    assert bf16.cosine_similarities != fp32.cosine_similarities  # really another precision
    delta = abs(bf16.scores["cosine_spearman"] - fp32.scores["cosine_spearman"])
    print(f"cosine Spearman: fp32 {fp32.scores['cosine_spearman']:.5f}, bf16 delta {delta:.5f}")
    assert delta <= 0.001, delta
