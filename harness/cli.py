"""Command line: `python -m harness COMMAND`.

Each command is a thin shell over one module; heavy imports happen inside the
command so `--help` and `cards` start fast.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Benchmark sentence-embedding models on STS per language, driven by their model cards.",
)

RegistryOpt = Annotated[
    Path | None, typer.Option("--registry", help="Registry folder (default: the project's registry/).")
]
ResultsOpt = Annotated[Path, typer.Option("--results", envvar="HARNESS_RESULTS_DIR", help="Results folder.")]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Local STS data folder laid out as shared/data/sts (env HARNESS_DATA_DIR)."
    ),
]


def _registry(option: Path | None) -> Path:
    from harness.registry import DEFAULT_REGISTRY

    return option or DEFAULT_REGISTRY


@app.command("audit", help="Audit model cards: what each says, where, what looks wrong (as `cards`).")
@app.command()
def cards(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Card files or folders (default: the registry).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON array, one object per card.")
    ] = False,
    registry: RegistryOpt = None,
) -> None:
    """Parse model cards into specs and audit them."""
    from harness.registry import cards_command

    raise typer.Exit(cards_command(list(paths or []), as_json, _registry(registry)))


@app.command()
def models(
    lang: Annotated[str | None, typer.Option("--lang", help="Only models covering this language.")] = None,
    registry: RegistryOpt = None,
) -> None:
    """List the registry's models with their key facts."""
    from harness.registry import models_command

    raise typer.Exit(models_command(_registry(registry), lang))


@app.command()
def tasks(
    lang: Annotated[str | None, typer.Option("--lang", help="ISO 639-1 language code, e.g. de.")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """List the STS tasks (MTEB names) and whether their data is available locally."""
    from harness.tasks import tasks_command

    raise typer.Exit(tasks_command(lang, data_dir))


@app.command()
def run(
    lang: Annotated[
        list[str] | None, typer.Option("--lang", help="Language(s) to evaluate, e.g. de.")
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", help="Only these models (registry key or model id); runs them even off-card."
        ),
    ] = None,
    task: Annotated[list[str] | None, typer.Option("--task", help="Only these MTEB task names.")] = None,
    pairs: Annotated[
        list[Path] | None, typer.Option("--pairs", help="Your own CSV/TSV/JSONL pairs file as a custom task.")
    ] = None,
    split: Annotated[
        list[str] | None, typer.Option("--split", help="Splits to evaluate (default test).")
    ] = None,
    registry: RegistryOpt = None,
    data_dir: DataDirOpt = None,
    models_dir: Annotated[
        list[Path] | None,
        typer.Option(
            "--models-dir",
            help="Folder of local model folders named by key or org__name (env HARNESS_MODELS_DIR).",
        ),
    ] = None,
    results: ResultsOpt = Path("results"),
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="Embedding cache (env HARNESS_CACHE_DIR).")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not read or write the embedding cache.")
    ] = False,
    dtype: Annotated[
        str, typer.Option("--dtype", help="auto|fp32|fp16|bf16 (auto: bf16/fp16 on GPU, fp32 on CPU).")
    ] = "auto",
    batch_size: Annotated[
        str, typer.Option("--batch-size", help="auto (halves on out-of-memory) or a number.")
    ] = "auto",
    device: Annotated[
        str | None, typer.Option("--device", help="cpu, cuda, cuda:1 (default: cuda when available).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Recompute results that are already stored.")
    ] = False,
    trust_remote_code: Annotated[
        bool,
        typer.Option("--trust-remote-code", help="Allow models that run their own code (off by default)."),
    ] = False,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples for the 95% interval.")
    ] = 1000,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 also when a model's weights are unavailable.")
    ] = False,
    executor: Annotated[
        str, typer.Option("--executor", help="local (default), or ray: one Ray task per model, one GPU each.")
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address", help="Ray cluster: auto, HOST:PORT or ray://HOST:10001 (default: a local Ray)."
        ),
    ] = None,
) -> None:
    """Run every registered model that covers a language on that language's STS tasks."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from harness import runner

    if dtype not in {"auto", "fp32", "fp16", "bf16"}:
        _fail(f"--dtype must be auto, fp32, fp16 or bf16, not {dtype!r}")
    if batch_size != "auto" and not (batch_size.isdigit() and int(batch_size) > 0):
        _fail(f"--batch-size must be auto or a positive number, not {batch_size!r}")
    if not lang and not task and not pairs:
        _fail("say what to run: --lang LANG, --task NAME or --pairs FILE")
    if executor not in {"local", "ray"}:
        _fail(f"--executor must be local or ray, not {executor!r}")
    if ray_address and executor != "ray":
        _fail("--ray-address needs --executor ray")
    run_executor = None
    if executor == "ray":
        from harness import distributed

        try:
            probe = distributed.probe_cluster(
                ray_address
            )  # the workers' device decides what --dtype auto means
        except distributed.RayUnavailable as exc:
            _fail(str(exc))
        if device is None:
            device = probe["device"]
        if dtype == "auto" and device == probe["device"]:
            dtype = probe["dtype"]
        run_executor = functools.partial(distributed.execute_ray, address=ray_address)
    options = runner.RunOptions(
        languages=[code.lower() for code in (lang or [])],
        results_dir=results,
        registry_dir=_registry(registry),
        model_names=list(model or []),
        task_names=list(task or []),
        pairs_files=list(pairs or []),
        data_dir=data_dir,
        models_dirs=list(models_dir or []),
        cache_dir=cache_dir,
        use_cache=not no_cache,
        dtype=dtype,
        batch_size=int(batch_size) if batch_size.isdigit() else "auto",
        device=device,
        splits=list(split or ["test"]),
        force=force,
        trust_remote_code=trust_remote_code,
        bootstrap_resamples=bootstrap,
    )
    console = Console(stderr=True)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    try:
        with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
            summary = runner.run(
                options,
                say=lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True),
                progress=progress,
                executor=run_executor,
            )
    finally:
        if executor == "ray":
            distributed.disconnect()
    runner.print_summary(summary, Console())
    failed = summary.failed or (strict and any(o.status == "unavailable" for o in summary.outcomes))
    raise typer.Exit(1 if failed else 0)


@app.command()
def score(
    model_path: Annotated[Path, typer.Argument(help="A local sentence-transformers model folder.")],
    pairs_file: Annotated[Path, typer.Argument(help="CSV, TSV or JSONL with sentence1, sentence2, score.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    dtype: Annotated[str, typer.Option("--dtype")] = "auto",
    trust_remote_code: Annotated[bool, typer.Option("--trust-remote-code")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache")] = False,
) -> None:
    """Score one local model folder on one pairs file."""
    from harness.scoring import score_command

    raise typer.Exit(score_command(model_path, pairs_file, as_json, dtype, trust_remote_code, not no_cache))


@app.command()
def report(
    results: ResultsOpt = Path("results"),
    registry: RegistryOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("reports"),
    lang: Annotated[list[str] | None, typer.Option("--lang", help="Only these languages.")] = None,
) -> None:
    """Render leaderboards (HTML + Markdown) from stored results. Loads no model."""
    from harness.report import report_command

    raise typer.Exit(report_command(results, _registry(registry), out, list(lang or []) or None))


@app.command()
def compare(
    model_a: Annotated[str, typer.Argument(help="Registry key or model id.")],
    model_b: Annotated[str, typer.Argument(help="Registry key or model id.")],
    lang: Annotated[str | None, typer.Option("--lang")] = None,
    md: Annotated[bool, typer.Option("--md", help="Markdown output.")] = False,
    results: ResultsOpt = Path("results"),
    registry: RegistryOpt = None,
) -> None:
    """Side-by-side review of two models with a paired bootstrap test."""
    from harness.compare import compare_command

    raise typer.Exit(compare_command(model_a, model_b, results, _registry(registry), lang, md))


def _fail(message: str) -> None:
    print(f"harness: {message}", file=sys.stderr)
    raise typer.Exit(2)


def main(argv: list[str] | None = None) -> int:
    # Quiet the libraries' own chatter; our output says what matters.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        rc = app(args=argv, prog_name="harness", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except KeyboardInterrupt:
        print("harness: interrupted; results stored so far are kept", file=sys.stderr)
        return 130
    except Exception as exc:  # click usage errors and anything unforeseen: one line, no traceback
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        if os.environ.get("HARNESS_DEBUG"):
            raise
        print(f"harness: error: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    return rc if isinstance(rc, int) else 0
