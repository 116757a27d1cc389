"""Scale benchmark: the statistics and `report` at leaderboard size, old vs new, in one run.

    .venv/bin/python benchmarks/bench_scale.py [--sizes 300x3,1000x30] [--out benchmarks/RESULTS.md]

Prints Markdown tables (``--out`` appends them under a header with the machine and versions):

1. one bootstrap interval at 1,379 pairs x 1,000 resamples (STS-B de test gold, a
   MiniLM-like prediction): the sorting bootstrap (old: ``scipy.stats.rankdata`` on every
   resample) vs the fast one (``harness.bootstrap``), both from nothing (no shared state);
2. `run`'s scoring per task (``evaluate.score_embeddings`` on 1,379 pairs of 384-d
   embeddings): old vs new, for the first model on a task and for each further one (the
   resample counts and gold ranks are shared across models);
3. the paired tests of a whole page (every model against the leader on every task) at
   each size: new measured on the whole page, old measured on ``--old-sample`` models and
   scaled to the page (its cost per test does not depend on the page);
4. ``python -m harness report`` on generated result folders (``synthetic.build``): wall time
   and peak RSS of the whole process, cold (no paired-test cache) and warm (cache filled by
   the cold build). ``--old-report REV`` also times the report of commit REV (for example the
   commit before the fast bootstrap) on the smallest size, from ``git archive``.

Every old/new pair is also checked for equality (max |difference| of intervals and p-values).
Generated folders live under ``--workdir`` (default: a ``harness-bench-scale`` folder in the
temp dir) and are reused when complete. CPU-heavy: run it when the machine is otherwise idle.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from harness import bootstrap as bs  # noqa: E402
from harness import evaluate  # noqa: E402
from harness.paired_cache import CACHE_DIR  # noqa: E402

# Runs a command and prints its peak RSS (KiB): RUSAGE_CHILDREN of a process whose only child
# is the measured one (ru_maxrss is the largest single process among the waited-for descendants).
_RSS_WRAPPER = (
    "import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(rc)"
)


def timed(fn: Callable[[], object], repeats: int) -> tuple[list[float], object]:
    """Wall times of `repeats` calls and the last result."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def load1() -> str:
    """The 1-minute load average now (the machine may be shared)."""
    return f"{os.getloadavg()[0]:.1f}"


def fmt_s(seconds: float) -> str:
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"


def old_ci(pred: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
    """The interval as the sorting bootstrap computed it (old `bootstrap_ci`)."""
    (stats,) = bs.reference_spearmans([pred], gold, 1000, 0)
    return bs.percentile_ci(stats)


def old_paired(a: np.ndarray, b: np.ndarray, gold: np.ndarray) -> dict:
    delta = float(spearmanr(a, gold)[0]) - float(spearmanr(b, gold)[0])
    sa, sb = bs.reference_spearmans([a, b], gold, 1000, 0)
    return bs.paired_summary(delta, sa, sb, gold.shape[0])


def old_score(emb1: np.ndarray, emb2: np.ndarray, gold: np.ndarray):
    scores = evaluate.require_finite(evaluate.sts_scores(emb1, emb2, gold))
    sims = evaluate.cosine_similarities(emb1, emb2)
    return scores, sims, old_ci(sims, gold)


def section_single(gold: np.ndarray, same: np.ndarray, repeats: int) -> list[str]:
    pred = synthetic.similarities(gold, same, 0.8, np.zeros_like(gold), np.random.default_rng(3))

    def new() -> tuple[float, float]:
        bs.clear_caches()
        ranks = bs.GoldRanks(gold, bs.Resamples(gold.shape[0], 0, 1000))
        return bs.percentile_ci(ranks.spearmans(pred))

    load = load1()
    t_old, ci_old = timed(lambda: old_ci(pred, gold), repeats)
    t_new, ci_new = timed(new, repeats)
    diff = max(abs(x - y) for x, y in zip(ci_old, ci_new, strict=True))
    best = min(t_old) / min(t_new)
    return [
        "### One bootstrap interval (1,379 pairs x 1,000 resamples, cold)",
        "",
        "| | old (rankdata per resample) | new (harness.bootstrap) | speed-up | "
        "max \\|Δ interval\\| | load1 |",
        "|---|---|---|---|---|---|",
        f"| best of {repeats} | {fmt_s(min(t_old))} | {fmt_s(min(t_new))} | **{best:.1f}×** | "
        f"{diff:.1e} | {load} |",
        f"| median | {fmt_s(statistics.median(t_old))} | {fmt_s(statistics.median(t_new))} | "
        f"{statistics.median(t_old) / statistics.median(t_new):.1f}× | | |",
        "",
    ]


def section_run(gold: np.ndarray, same: np.ndarray, models: int) -> list[str]:
    rng = np.random.default_rng(5)
    embs = []
    for _ in range(models):
        e1 = rng.normal(size=(gold.shape[0], 384)).astype(np.float32)
        mix = np.clip(gold / 5.0 + rng.normal(0.0, 0.25, gold.shape[0]), 0.0, 1.0)[:, None]
        e2 = (mix * e1 + (1.0 - mix) * rng.normal(size=e1.shape)).astype(np.float32)
        embs.append((e1, e2))
    old_t, new_t, diffs = [], [], []
    load = load1()
    for e1, e2 in embs:
        t0 = time.perf_counter()
        old_score(e1, e2, gold)
        old_t.append(time.perf_counter() - t0)
    bs.clear_caches()
    for (e1, e2), _ in zip(embs, old_t, strict=True):
        t0 = time.perf_counter()
        _, _, ci_n = evaluate.score_embeddings(e1, e2, gold)
        new_t.append(time.perf_counter() - t0)
        diffs.append(max(abs(x - y) for x, y in zip(old_score(e1, e2, gold)[2], ci_n, strict=True)))
    old_each, new_first, new_each = statistics.median(old_t), new_t[0], statistics.median(new_t[1:])
    return [
        f"### `run`: scoring one task (score_embeddings, 1,379 pairs, {models} models on the task)",
        "",
        "| | old | new | speed-up | max \\|Δ interval\\| | load1 |",
        "|---|---|---|---|---|---|",
        f"| first model on the task | {fmt_s(old_t[0])} | {fmt_s(new_first)} | "
        f"{old_t[0] / new_first:.1f}× | {max(diffs):.1e} | {load} |",
        f"| each further model (median) | {fmt_s(old_each)} | {fmt_s(new_each)} | "
        f"**{old_each / new_each:.1f}×** | | |",
        f"| 1,000 models × 30 tasks (scaled) | {fmt_s(old_each * 30_000)} | "
        f"{fmt_s(new_each * 30_000)} | | | |",
        "",
    ]


def page_predictions(n_models: int, n_tasks: int):
    """Per task: (gold, [similarities of every model]) as synthetic.build makes them, in memory."""
    noise = synthetic.qualities(n_models, 0)
    out = []
    for t, (_, _, gold, same) in enumerate(synthetic.tasks(n_tasks)):
        shared = np.random.default_rng(100 + t).normal(0.0, 1.0, gold.shape[0])
        sims = [
            synthetic.similarities(gold, same, noise[i], shared, np.random.default_rng([0, t, i]))
            for i in range(n_models)
        ]
        out.append((gold, sims))
    return out, int(np.argmin(noise))


def section_paired(sizes: list[tuple[int, int]], sample: int) -> list[str]:
    lines = [
        "### Paired tests of a whole page (every model vs the leader, every task; one process)",
        "",
        "| page | tests | old (scaled from a sample) | new (whole page, cold) | speed-up | "
        "max \\|Δ\\| interval / p (sample) | load1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for n_models, n_tasks in sizes:
        page, leader = page_predictions(n_models, n_tasks)
        tests = [(t, i) for t in range(n_tasks) for i in range(n_models) if i != leader]
        load = load1()
        bs.clear_caches()
        t0 = time.perf_counter()
        new = {
            (t, i): evaluate.paired_bootstrap(page[t][1][i], page[t][1][leader], page[t][0]) for t, i in tests
        }
        t_new = time.perf_counter() - t0
        picked = tests[:: max(1, len(tests) // sample)][:sample]  # spread over models and tasks
        t0 = time.perf_counter()
        old = {(t, i): old_paired(page[t][1][i], page[t][1][leader], page[t][0]) for t, i in picked}
        t_old = (time.perf_counter() - t0) / len(old) * len(new)
        d_ci = max(abs(x - y) for k, o in old.items() for x, y in zip(o["ci95"], new[k]["ci95"], strict=True))
        d_p = max(abs(o["p_value"] - new[k]["p_value"]) for k, o in old.items())
        lines.append(
            f"| {n_models} × {n_tasks} | {len(new):,} | {fmt_s(t_old)} ({len(old)} measured) | "
            f"{fmt_s(t_new)} | **{t_old / t_new:.1f}×** | {d_ci:.1e} / {d_p:.1e} | {load} |"
        )
        print(lines[-1], file=sys.stderr)
    return [*lines, ""]


def old_layout(results: Path, dest: Path) -> Path:
    """The results as the old revision's loader expects them: a task without an mteb name is
    stored today under ``<revision>/harness-local/``, then beside the mteb tasks. Hard links."""
    if (dest / ".complete").exists():
        return dest
    for path in results.rglob("*.json"):
        rel = path.relative_to(results)
        if CACHE_DIR in rel.parts:
            continue
        if rel.parent.name == "harness-local":
            rel = rel.parent.parent / rel.name
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        if not (dest / rel).exists():
            try:
                os.link(path, dest / rel)
            except OSError:
                shutil.copyfile(path, dest / rel)
    (dest / ".complete").write_text("")
    return dest


def run_report(src: Path, folder: Path, out: Path, results: Path | None = None) -> tuple[float, int, int]:
    """(wall seconds, peak RSS KiB, exit code) of `python -m harness report` run from `src`."""
    cmd = [sys.executable, "-c", _RSS_WRAPPER, sys.executable, "-m", "harness", "report"]
    cmd += ["--results", str(results or folder / "results"), "--registry", str(folder / "registry")]
    cmd += ["--out", str(out), "--lang", "de"]
    env = {**os.environ, "PYTHONPATH": str(src)}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=src, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
    return wall, int(proc.stderr.strip().splitlines()[-1]), proc.returncode


def section_report(sizes: list[tuple[int, int]], workdir: Path, old_rev: str | None) -> list[str]:
    lines = [
        "### `python -m harness report --lang de` (whole process)",
        "",
        "| models × tasks | result files | version | cache | wall | peak RSS | de.html | load1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for k, (n_models, n_tasks) in enumerate(sizes):
        folder = workdir / f"{n_models}x{n_tasks}"
        t0 = time.perf_counter()
        synthetic.build(folder, n_models, n_tasks, workers=2)
        print(f"bench: {folder} ready ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        shutil.rmtree(folder / "results" / CACHE_DIR, ignore_errors=True)
        runs = [("new", REPO, "cold", None), ("new", REPO, "warm", None)]
        if old_rev and k == 0:
            old_src = workdir / f"harness-{old_rev}"
            if not old_src.is_dir():
                old_src.mkdir(parents=True)
                archive = subprocess.run(
                    ["git", "archive", old_rev, "harness"], cwd=REPO, capture_output=True, check=True
                )
                subprocess.run(["tar", "-x", "-C", str(old_src)], input=archive.stdout, check=True)
            view = old_layout(folder / "results", workdir / f"{n_models}x{n_tasks}-old-layout")
            runs.insert(0, (f"old ({old_rev})", old_src, "none", view))
        for label, src, cache, results in runs:
            out = folder / f"reports-{label.split()[0]}"
            load = load1()
            wall, rss, rc = run_report(src, folder, out, results)
            size = (out / "de.html").stat().st_size if (out / "de.html").exists() else 0
            status = "" if rc == 0 else f" (exit {rc})"
            lines.append(
                f"| {n_models:,} × {n_tasks} | {n_models * n_tasks:,} | {label}{status} | {cache} | "
                f"**{fmt_s(wall)}** | {rss / 1024:,.0f} MiB | {size / 2**20:.2f} MiB | {load} |"
            )
            print(lines[-1], file=sys.stderr)
    return [*lines, ""]


def screenshot(workdir: Path, out: Path, n_models: int, n_tasks: int) -> Path:
    """Headless Chromium screenshot of the German page of a generated folder (flags as for the README's)."""
    sys.path.insert(0, str(REPO / "tests"))
    from render_screenshot import FLAGS

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        raise SystemExit("bench: Chromium is not installed (apt-get install -y chromium)")
    folder = synthetic.build(workdir / f"{n_models}x{n_tasks}", n_models, n_tasks, workers=2)
    reports = folder / "reports-new"
    run_report(REPO, folder, reports)
    with tempfile.TemporaryDirectory() as profile:
        cmd = [browser, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={out.resolve()}"]
        cmd += ["--window-size=1280,1900", (reports / "de.html").as_uri()]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return out


def header() -> list[str]:
    import numpy
    import scipy

    mem = ""
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal"):
                mem = f", {int(line.split()[1]) / 2**20:.0f} GiB"
    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return [
        f"## Scale: statistics and report at leaderboard size ({dt.date.today().isoformat()})",
        "",
        f"Produced by `benchmarks/bench_scale.py`. Machine: {os.cpu_count()} vCPUs ({cpu}){mem}; "
        f"Python {platform.python_version()}, numpy {numpy.__version__}, scipy {scipy.__version__}; "
        f"load average at start {load}.",
        "",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="300x3,1000x30", help="models x tasks, comma-separated")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "harness-bench-scale")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--run-models", type=int, default=6, help="models scored on one task (section 2)")
    parser.add_argument("--old-sample", type=int, default=60, help="old paired tests timed per size")
    parser.add_argument("--old-report", metavar="REV", help="also time the report of this git revision")
    parser.add_argument("--skip", default="", help="sections to skip: single,run,paired,report")
    parser.add_argument("--out", type=Path, help="append the tables to this Markdown file")
    parser.add_argument("--screenshot", type=Path, help="only screenshot the first size's German page")
    args = parser.parse_args()
    sizes = [tuple(int(x) for x in s.lower().split("x")) for s in args.sizes.split(",") if s]
    skip = set(args.skip.split(","))
    if args.screenshot:
        print(screenshot(args.workdir, args.screenshot, *sizes[0]))
        return 0
    gold, same = synthetic.read_split("test", synthetic.STSB)
    lines = header()
    if "single" not in skip:
        lines += section_single(gold, same, args.repeats)
    if "run" not in skip:
        lines += section_run(gold, same, args.run_models)
    if "paired" not in skip:
        lines += section_paired(sizes, args.old_sample)
    if "report" not in skip:
        lines += section_report(sizes, args.workdir, args.old_report)
    text = "\n".join(lines)
    print(text)
    if args.out:
        with args.out.open("a", encoding="utf-8") as fh:
            fh.write("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
