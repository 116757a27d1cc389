"""Synthetic leaderboards at MTEB scale: N models x T German STS tasks, written like `run` writes them.

`build(root, n_models, n_tasks)` makes ``root/results`` (one result file per model and task,
through ``harness.store.write_run``, the runner's writer) and ``root/registry`` (one entry per
model: a card plus the model files the card parser reads facts from, with a sparse
``model.safetensors`` so parameter counts are real numbers without any weights on disk).

Similarities are realistic rather than random: each task's gold scores are real STS-B
German scores (the test set for STSBenchmarkMultilingualSTS, slices of train/dev for the
others); each model has its own quality, a share of errors common to all models (models
agree with each other the way real encoders do) and its own noise; cosines are squashed
into (0.1, 1), identical sentence pairs score 1.0, and values are stored at the runner's
7 decimals. Qualities cluster near the top, so a page has a long run of statistically tied
models, as a real leaderboard does. The same arguments give the same files.
"""

from __future__ import annotations

import csv
import hashlib
import json
import struct
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

from harness import bootstrap as bs
from harness.store import RunRecord, StoredResult, run_identity, write_run

STSB = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "sts" / "stsb_multi_mt"
SETTINGS_HASH = "5ca1ab1e5ca1ab1e"
LICENSES = ["apache-2.0", "mit", "cc-by-4.0", "cc-by-nc-4.0", None]
SIZES = [  # (architecture, hidden, parameters)
    ("BertModel", 384, 22_713_216),
    ("BertModel", 384, 33_360_000),
    ("XLMRobertaModel", 768, 278_043_648),
    ("BertModel", 768, 109_482_240),
    ("BertModel", 1024, 335_141_888),
    ("XLMRobertaModel", 1024, 559_890_432),
    ("MistralModel", 4096, 7_110_660_096),
]
HARDWARE = {"device": "cuda:0", "platform": "Linux-6.8.0-x86_64", "cpu": "x86_64", "cpu_count": 16}
VERSIONS = {"harness": "0.1.0", "mteb": "2.26.24", "sentence-transformers": "5.1.0", "torch": "2.13.0"}


def read_split(split: str, stsb_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(gold, same-sentence mask) of one stsb_multi_mt German split."""
    path = stsb_dir / f"stsb-de-{split}.csv"
    if not path.is_file():
        raise SystemExit(f"bench: {path}: STS-B German file not found (--stsb-dir)")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return np.array([float(r[2]) for r in rows]), np.array([r[0] == r[1] for r in rows])


def tasks(n_tasks: int, stsb_dir: Path = STSB) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(task name, subset, gold, same-sentence mask) for T German tasks with real gold scores."""
    test, dev, train = (read_split(s, stsb_dir) for s in ("test", "dev", "train"))
    out = [("STSBenchmarkMultilingualSTS", "de", *test)]
    if n_tasks > 1:
        out.append(("GermanSTSBenchmark", "default", *dev))
    rng = np.random.default_rng(20250601)
    for i in range(2, n_tasks):
        size = int(rng.integers(900, 1600))
        start = int(rng.integers(0, train[0].shape[0] - size))
        out.append((f"SyntheticGermanSTS{i:02d}", "default", *(a[start : start + size] for a in train)))
    return out[:n_tasks]


def model_key(i: int) -> str:
    return f"synth-{i:04d}"


def qualities(n_models: int, seed: int) -> np.ndarray:
    """Per-model noise levels: a few clear leaders, then a dense crowd just behind them."""
    rng = np.random.default_rng(seed)
    u = rng.uniform(0.0, 1.0, n_models)
    return 0.55 + 1.6 * u**2


def similarities(gold: np.ndarray, same: np.ndarray, noise: float, shared: np.ndarray, rng) -> np.ndarray:
    z = (gold - 2.5) / 1.4 + 0.8 * shared + rng.normal(0.0, noise, gold.shape[0])
    sims = 0.1 + 0.9 / (1.0 + np.exp(-1.3 * z))
    sims[same] = 1.0
    return np.round(sims.astype(np.float32).astype(np.float64), 7)


def _card(key: str, lang: list[str], license_: str | None, dim: int, claim: float | None) -> str:
    meta = ["---", "language:", *[f"- {code}" for code in lang]]
    if license_:
        meta.append(f"license: {license_}")
    meta += ["pipeline_tag: sentence-similarity", "tags:", "- sentence-transformers"]
    if claim is not None:
        meta += [
            "model-index:",
            f"- name: {key}",
            "  results:",
            "  - task: {type: STS}",
            "    dataset: {type: mteb/stsb_multi_mt, name: MTEB STSBenchmarkMultilingualSTS (de), "
            "config: de, split: test}",
            "    metrics:",
            f"    - {{type: cos_sim_spearman, value: {claim * 100:.2f}}}",
        ]
    meta.append("---")
    body = [
        f"# {key}",
        "",
        f"This is a sentence-transformers model: it maps sentences to a {dim} dimensional dense "
        "vector space. Synthetic entry for the scale benchmark.",
        "",
        "```python",
        "from sentence_transformers import SentenceTransformer",
        f"model = SentenceTransformer('synthetic/{key}')",
        "```",
    ]
    return "\n".join(meta + body) + "\n"


def _model_files(folder: Path, arch: str, hidden: int, params: int) -> None:
    """The files the card parser reads facts from. ``model.safetensors`` is a valid file of
    one-byte tensors whose data is a hole (a sparse file: no disk space on ext4, xfs, tmpfs)."""
    (folder / "1_Pooling").mkdir(parents=True, exist_ok=True)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    config = {"architectures": [arch], "hidden_size": hidden, "max_position_embeddings": 512}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 512}))
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": hidden, "pooling_mode_mean_tokens": True})
    )
    embed = hidden * 1000
    header = {
        "embeddings": {"dtype": "U8", "shape": [1000, hidden], "data_offsets": [0, embed]},
        "encoder": {"dtype": "U8", "shape": [params - embed], "data_offsets": [embed, params]},
    }
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    with (folder / "model.safetensors").open("wb") as fh:
        fh.write(struct.pack("<Q", len(blob)) + blob)
        fh.truncate(8 + len(blob) + params)  # a hole: one byte per parameter, no disk blocks


def _encode_facts(revision: str, params: int) -> dict:
    """Throughput and memory of an H100 run that scale with the model's size (seeded by revision)."""
    rng = np.random.default_rng(int(revision[:8], 16))
    rate = 4.0e11 / params * float(np.exp(rng.normal(0.0, 0.25)))
    memory = 2 * params + int(rng.integers(300, 900)) * 2**20
    return {
        "sentences_per_second": round(rate, 1),
        "encode_seconds": round(2758 / rate, 3),
        "peak_memory_bytes": memory,
        "device": "cuda:0",
        "batch_size": 128,
    }


def _record(
    task: str,
    subset: str,
    revision: str,
    gold,
    sims,
    scores: tuple[float, float, tuple],
    started: str,
    params: int,
) -> RunRecord:
    identity = run_identity(
        revision=revision,
        task_name=task,
        subset=subset,
        split="test",
        data_revision="synthetic",
        settings_hash=SETTINGS_HASH,
    )
    spear, pear, ci = scores
    return RunRecord(
        split="test",
        subset=subset,
        status="ok",
        identity=identity,
        languages=["deu-Latn"],
        settings={"dtype": "fp16", "normalize": False},
        settings_hash=SETTINGS_HASH,
        data_revision="synthetic",
        data_source="local",
        n_pairs=int(gold.shape[0]),
        scores={"cosine_spearman": spear, "cosine_pearson": pear, "main_score": spear},
        ci95=list(ci),
        bootstrap={"n_resamples": 1000, "seed": 0, "level": 0.95},
        cosine_similarities=[float(x) for x in sims],
        gold=[float(g) for g in gold],
        encode=_encode_facts(revision, params),
        hardware=HARDWARE,
        versions=VERSIONS,
        started_at=started,
        finished_at=started,
        evaluation_seconds=1.0,
    )


def task_records(job: tuple):
    """(model key, revision, RunRecord) of every model on one task, scored all at once.

    Spearman and Pearson for all models together (ranks once, row-wise correlations); the
    bootstrap intervals share the task's resamples and gold ranks (``harness.bootstrap``).
    """
    t, task, subset, gold, same, noise, seed, params = job
    shared = np.random.default_rng(seed + 100 + t).normal(0.0, 1.0, gold.shape[0])
    sims = np.stack(
        [
            similarities(gold, same, noise[i], shared, np.random.default_rng([seed, t, i]))
            for i in range(len(noise))
        ]
    )
    golds = np.broadcast_to(gold, sims.shape)
    spear = bs.rowwise_pearson(rankdata(sims, axis=1), np.broadcast_to(rankdata(gold), sims.shape))
    pear = bs.rowwise_pearson(sims, golds)
    ranks = bs.gold_ranks(gold, 1000, 0)
    stats = np.stack([ranks.spearmans(row) for row in sims])  # finite: no constant resample here
    cis = np.percentile(stats, [2.5, 97.5], axis=1).T
    started = f"2025-06-01T{t % 24:02d}:00:00+00:00"
    for i in range(len(noise)):
        key = model_key(i)
        revision = hashlib.sha1(key.encode()).hexdigest()
        scores = (float(spear[i]), float(pear[i]), (float(cis[i, 0]), float(cis[i, 1])))
        yield key, revision, _record(task, subset, revision, gold, sims[i], scores, started, params[i])


def _write_task(job: tuple) -> None:
    """Every model's result file for one task."""
    results, *task_job = job
    task = task_job[1]
    for key, revision, record in task_records(tuple(task_job)):
        write_run(
            results,
            model_key=key,
            model_id=f"synthetic/{key}",
            revision=revision,
            task_name=task,
            mteb_version="2.26.24",
            dataset_revision="synthetic",
            weights_source="hub",
            run=record,
        )


def _profiles(n_models: int, seed: int) -> list[tuple[tuple[str, int, int], str | None, list[str]]]:
    """Per model: (architecture, hidden size, parameters), license, card languages (seeded)."""
    rng = np.random.default_rng(seed + 1)
    return [
        (
            SIZES[int(rng.integers(0, len(SIZES)))],
            LICENSES[int(rng.integers(0, len(LICENSES)))],
            [["de"], ["multilingual"], ["de", "en"], ["en", "de", "fr", "es"]][int(rng.integers(0, 4))],
        )
        for _ in range(n_models)
    ]


def write_registry(registry: Path, n_models: int, seed: int = 0) -> Path:
    """One registry entry per model: its card and the model files the card parser reads."""
    noise = qualities(n_models, seed)
    for i, ((arch, hidden, params), license_, lang) in enumerate(_profiles(n_models, seed)):
        folder = registry / model_key(i)
        folder.mkdir(parents=True, exist_ok=True)
        claim = round(0.9 - 0.1 * noise[i], 4) if i % 7 == 0 else None
        (folder / "README.md").write_text(_card(model_key(i), lang, license_, hidden, claim))
        _model_files(folder, arch, hidden, params)
    return registry


def _task_jobs(n_models: int, n_tasks: int, seed: int, stsb_dir: Path, max_pairs: int | None) -> list[tuple]:
    noise = qualities(n_models, seed)
    params = [p[0][2] for p in _profiles(n_models, seed)]
    return [
        (t, task, subset, gold[:max_pairs], same[:max_pairs], noise, seed, params)
        for t, (task, subset, gold, same) in enumerate(tasks(n_tasks, stsb_dir))
    ]


def stored_results(
    n_models: int, n_tasks: int, *, seed: int = 0, stsb_dir: Path = STSB, max_pairs: int | None = None
) -> list[StoredResult]:
    """The results `build` would write, in memory (as ``harness.store.load_results`` returns them)."""
    out = []
    for job in _task_jobs(n_models, n_tasks, seed, stsb_dir, max_pairs):
        for key, revision, record in task_records(job):
            out.append(
                StoredResult(
                    path=f"synthetic__{key}/{revision}/{job[1]}.json",
                    model_key=key,
                    model_id=f"synthetic/{key}",
                    revision=revision,
                    task_name=job[1],
                    mteb_version="2.26.24",
                    dataset_revision="synthetic",
                    weights_source="hub",
                    run=record,
                )
            )
    return out


def build(
    root: Path,
    n_models: int,
    n_tasks: int,
    *,
    seed: int = 0,
    stsb_dir: Path = STSB,
    max_pairs: int | None = None,
    workers: int = 1,
) -> Path:
    """Write root/results and root/registry for n_models x n_tasks (skipped when already complete).

    ``max_pairs`` keeps only the first pairs of each task (small folders for tests); ``workers``
    processes write tasks in parallel.
    """
    root = Path(root)
    stamp = root / f".complete-{n_models}x{n_tasks}-{seed}-{max_pairs}"
    if stamp.exists():
        return root
    write_registry(root / "registry", n_models, seed)
    jobs = [(root / "results", *job) for job in _task_jobs(n_models, n_tasks, seed, stsb_dir, max_pairs)]
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            list(pool.map(_write_task, jobs))
    else:
        for job in jobs:
            _write_task(job)
    stamp.write_text("")
    return root
