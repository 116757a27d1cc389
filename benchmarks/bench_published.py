"""Published-leaderboard benchmark: `report --mteb-results` over MTEB's whole results repository.

    .venv/bin/python benchmarks/bench_published.py [--mteb-results ../shared/data/mteb-results]
        [--results DIR] [--scale 1,8] [--repeats 2] [--out benchmarks/RESULTS.md]

For each scale, times the whole process ``python -m harness report --mteb-results M`` writing
every language page (no ``--lang``), and ``index_folder`` alone (reading and parsing every
result file once), and prints a Markdown table: wall time, peak RSS (``ru_maxrss`` of the
child), result files, models, pages written, rows of the largest page, the 1-minute load.

``--scale K`` (K > 1) measures a repository K times the size of the given one: a copy whose
model folders are repeated K times under new names (``<org>__<Name>-copyN``; the result files
hard-linked, each copy's ``model_meta.json`` rewritten with its new name), so K = 8 turns the
667 models of the shared copy into 5,336. ``--results`` is our own results folder (default: an
empty one, so every row is a published one). Nothing under ``--mteb-results`` is modified.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Runs a command and prints its peak RSS (KiB) and CPU seconds (user + system) on stderr:
# RUSAGE_CHILDREN of a process whose only child is the measured one.
_RSS_WRAPPER = (
    "import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
    "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr); sys.exit(rc)"
)
_INDEX_ONLY = (
    "import sys, time; from pathlib import Path; t = time.perf_counter(); "
    "from harness.published import index_folder; i = index_folder(Path(sys.argv[1])); "
    "print(f'{time.perf_counter() - t:.3f} {i.files} {i.models} {len(i.entries)}')"
)


def load1() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed there
        shutil.copy2(src, dst)


def scaled_copy(source: Path, factor: int, dest: Path) -> Path:
    """`source` with every model folder repeated `factor` times under new names (hard links where
    possible); each copy's ``model_meta.json`` names the copy, so mteb and the harness see new models."""
    marker = dest / ".complete"
    if marker.is_file() and marker.read_text() == f"{source} x{factor}":
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    for model in sorted((source / "results").iterdir()):
        if not model.is_dir():
            continue
        for n in range(factor):
            target = dest / "results" / (model.name if n == 0 else f"{model.name}-copy{n}")
            shutil.copytree(model, target, copy_function=_link_or_copy, symlinks=True)
            if n == 0:
                continue
            for meta_path in target.glob("*/model_meta.json"):
                try:
                    meta = json.loads(meta_path.read_text(encoding="utf-8"))
                except ValueError:
                    continue
                if isinstance(meta, dict) and isinstance(meta.get("name"), str):
                    meta["name"] = f"{meta['name']}-copy{n}"
                    meta_path.unlink()  # a hard link: never write through it into the source
                    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    marker.write_text(f"{source} x{factor}")
    return dest


def run_report(mteb_results: Path, results: Path, out: Path) -> tuple[float, float, float, int]:
    """(wall s, CPU s, peak RSS MiB, exit code) of one whole `harness report` process."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [
        sys.executable,
        "-c",
        _RSS_WRAPPER,
        sys.executable,
        "-m",
        "harness",
        "report",
        "--results",
        str(results),
        "--out",
        str(out),
        "--mteb-results",
        str(mteb_results),
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    rss_kib, cpu = proc.stderr.strip().splitlines()[-1].split()
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
    return wall, float(cpu), int(rss_kib) / 1024, proc.returncode


def index_only(mteb_results: Path) -> tuple[float, int, int, int]:
    proc = subprocess.run(
        [sys.executable, "-c", _INDEX_ONLY, str(mteb_results)], cwd=REPO, capture_output=True, text=True
    )
    wall, files, models, entries = proc.stdout.split()
    return float(wall), int(files), int(models), int(entries)


def largest_page(out: Path) -> tuple[int, str, int]:
    """(pages, language of the largest page, its rows)."""
    pages = sorted(out.glob("*.json"))
    rows = {p.stem: len(json.loads(p.read_text(encoding="utf-8"))["rows"]) for p in pages}
    lang = max(rows, key=lambda k: (rows[k], k)) if rows else "–"
    return len(pages), lang, rows.get(lang, 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mteb-results", type=Path, default=REPO.parent / "shared" / "data" / "mteb-results")
    parser.add_argument("--results", type=Path, help="our results folder (default: an empty one)")
    parser.add_argument("--scale", default="1", help="comma-separated repetition factors, e.g. 1,8")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "harness-bench-published"
    )
    parser.add_argument("--out", type=Path, help="append the table to this Markdown file")
    args = parser.parse_args()
    source = args.mteb_results.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    results = args.results or args.workdir / "empty-results"
    results.mkdir(parents=True, exist_ok=True)

    lines = [
        "| repository | result files | models with STS scores | index_folder (parse every file) | "
        "`report` all languages: wall (best / all runs) | CPU s (user + sys, best) | peak RSS | pages | "
        "largest page (rows) | load1 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for factor in (int(x) for x in args.scale.split(",")):
        repo = source if factor == 1 else scaled_copy(source, factor, args.workdir / f"x{factor}")
        load = load1()
        idx_wall, files, models, _ = index_only(repo)
        walls, cpus, rss = [], [], []
        for _ in range(args.repeats):
            wall, cpu, peak, rc = run_report(repo, results, args.workdir / "reports")
            if rc != 0:
                print(f"report exited {rc}", file=sys.stderr)
                return 1
            walls.append(wall)
            cpus.append(cpu)
            rss.append(peak)
        pages, lang, rows = largest_page(args.workdir / "reports")
        label = "shared copy" if factor == 1 else f"shared copy ×{factor}"
        lines.append(
            f"| {label} | {files:,} | {models:,} | {idx_wall:.1f} s | **{min(walls):.1f} s** "
            f"({', '.join(f'{w:.1f}' for w in walls)}) | {min(cpus):.1f} s | {max(rss):,.0f} MiB | {pages} | "
            f"{lang} ({rows}) | {load} |"
        )
        print(lines[-1], flush=True)
    header = (
        f"### `report --mteb-results` ({dt.date.today()}; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; load at the end "
        f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())})"
    )
    text = "\n".join([header, "", *lines, ""])
    print()
    print(text)
    if args.out:
        with args.out.open("a", encoding="utf-8") as fh:
            fh.write("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
