"""Command line: `python -m harness COMMAND`.

Each command is a thin shell over one module; heavy imports happen inside the
command so `--help` and `cards` start fast.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Benchmark sentence-embedding models on STS per language, driven by their model cards.",
)

RegistryOpt = Annotated[
    Path | None,
    typer.Option(
        "--registry", help="Registry folder (env HARNESS_REGISTRY; default: the project's registry/)."
    ),
]
ResultsOpt = Annotated[
    Path | None, typer.Option("--results", help="Results folder (env HARNESS_RESULTS_DIR; default results/).")
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Local STS data folder laid out as shared/data/sts (env HARNESS_DATA_DIR)."
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Configuration file (env HARNESS_CONFIG; default: the nearest harness.toml or "
        "pyproject.toml [tool.harness]; 'none': no file).",
    ),
]
LangOpt = Annotated[str | None, typer.Option("--lang", help="Only this language (de, deu, de-CH, German).")]


def _config(config_file: Path | None, **options: object) -> Any:
    """The resolved configuration (harness.config.Config); a problem is a usage error (exit 2)."""
    from harness import config

    try:
        return config.resolve(options, config_file=config_file)
    except config.ConfigError as exc:
        _fail(str(exc))


def _checked(check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A harness.config check's result; its ConfigError is a usage error (exit 2)."""
    from harness.config import ConfigError

    try:
        return check(*args, **kwargs)
    except ConfigError as exc:
        _fail(str(exc))


def _data_dir(cfg: Any) -> Path | None:
    """The configured data folder when it exists (training-sample lookups and task audits), else None."""
    value = cfg.data_dir.value
    return Path(value) if value is not None and Path(value).is_dir() else None


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
    config: ConfigOpt = None,
) -> None:
    """Parse model cards into specs and audit them."""
    from harness.registry import cards_command

    cfg = _config(config, registry=registry)
    raise typer.Exit(cards_command(list(paths or []), as_json, cfg.registry.value, _data_dir(cfg)))


@app.command()
def add(
    targets: Annotated[
        list[str],
        typer.Argument(help="ORG/NAME[@REVISION] (a Hub id), or a local sentence-transformers folder."),
    ],
    mteb: Annotated[
        bool, typer.Option("--mteb", help="No card: take the facts from mteb's model registry (ModelMeta).")
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace an existing entry (its card is kept as README.previous.md)."),
    ] = False,
    lang: Annotated[
        list[str] | None,
        typer.Option("--lang", help="The model's languages, for a card that names none (registry.toml)."),
    ] = None,
    registry: RegistryOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Add models to the registry: a Hub card pinned to a commit, a local folder, or mteb's facts."""
    from harness.config import check_languages
    from harness.registry_add import add_command

    codes = _checked(check_languages, lang)
    cfg = _config(config, registry=registry)
    raise typer.Exit(add_command(list(targets), cfg.registry.value, mteb=mteb, force=force, languages=codes))


@app.command()
def models(
    lang: LangOpt = None,
    registry: RegistryOpt = None,
    config: ConfigOpt = None,
) -> None:
    """List the registry's models with their key facts."""
    from harness.config import check_languages
    from harness.registry import models_command

    codes = _checked(check_languages, [lang] if lang is not None else None)
    cfg = _config(config, registry=registry)
    raise typer.Exit(models_command(cfg.registry.value, codes[0] if codes else None))


@app.command()
def tasks(
    lang: LangOpt = None,
    data_dir: DataDirOpt = None,
    audit: Annotated[
        bool,
        typer.Option(
            "--audit",
            help="Audit the tasks with local data: test pairs also in train/dev, duplicates, near-copies, "
            "families, how each test set was made.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --audit: print one JSON object.")] = False,
    config: ConfigOpt = None,
) -> None:
    """List the STS tasks (MTEB names) and whether their data is available locally."""
    from harness.config import check_languages
    from harness.tasks import tasks_command

    codes = _checked(check_languages, [lang] if lang is not None else None)
    if as_json and not audit:
        _fail("--json needs --audit (the task list itself is a table)")
    cfg = _config(config, data_dir=data_dir)
    folder = _checked(cfg.existing_dir, "data_dir")
    if audit:
        from harness.tasks.audit import audit_command

        raise typer.Exit(audit_command(codes[0] if codes else None, folder, as_json))
    raise typer.Exit(tasks_command(codes[0] if codes else None, folder))


data_app = typer.Typer(no_args_is_help=True, help="STS data: export MTEB's tasks in the generic layout.")
app.add_typer(data_app, name="data")


@data_app.command("export")
def data_export(
    lang: Annotated[list[str] | None, typer.Option("--lang", help="Only these languages' tasks.")] = None,
    task: Annotated[list[str] | None, typer.Option("--task", help="Only these MTEB task names.")] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write <out>/mteb/<Task>/<subset>/<split>.jsonl in.")
    ] = Path("sts-data"),
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write MTEB's STS evaluation splits in the generic layout (mteb's loader online; offline, the
    local copies that match mteb's statistics), with a MANIFEST; copy the folder to an offline machine."""
    from harness.config import check_languages
    from harness.tasks.export import export_command

    codes = _checked(check_languages, lang) or None
    cfg = _config(config, data_dir=data_dir)
    raise typer.Exit(export_command(out, codes, task or None, _checked(cfg.existing_dir, "data_dir")))


@app.command()
def run(
    lang: Annotated[
        list[str] | None, typer.Option("--lang", help="Language(s) to evaluate: de, deu, de-CH, German.")
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
    results: ResultsOpt = None,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="Embedding cache (env HARNESS_CACHE_DIR).")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not read or write the embedding cache.")
    ] = False,
    dtype: Annotated[
        str | None,
        typer.Option(
            "--dtype", help="auto|fp32|fp16|bf16 (auto: bf16/fp16 on GPU, fp32 on CPU; env HARNESS_DTYPE)."
        ),
    ] = None,
    batch_size: Annotated[
        str | None,
        typer.Option(
            "--batch-size", help="auto (halves on out-of-memory) or a number (env HARNESS_BATCH_SIZE)."
        ),
    ] = None,
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
        int, typer.Option("--bootstrap", help="Bootstrap resamples for the 95% interval (100 to 1000000).")
    ] = 1000,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 also when a model's weights are unavailable.")
    ] = False,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            help="local (default), or ray: one Ray task per model, one GPU each (env HARNESS_EXECUTOR).",
        ),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address", help="Ray cluster: auto, HOST:PORT or ray://HOST:10001 (default: a local Ray)."
        ),
    ] = None,
    dims: Annotated[
        list[str] | None,
        typer.Option(
            "--dims",
            help="Also score the vectors cut to these dimensions, e.g. 64,128,256 (Matryoshka; "
            "default: the dimensions the card declares).",
        ),
    ] = None,
    precision: Annotated[
        list[str] | None,
        typer.Option("--precision", help="Also score the vectors quantised: int8, ubinary (or both)."),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Run every registered model that covers a language on that language's STS tasks."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from harness import run as runner
    from harness.config import check_bootstrap, check_device, check_languages
    from harness.console import table_console
    from harness.stderr import printable
    from harness.variants import VariantUsageError, parse_dims, parse_precisions

    # Every option is checked here, before any data is read or any model loads.
    languages = _checked(check_languages, lang)
    cfg = _config(
        config,
        registry=registry,
        data_dir=data_dir,
        models_dirs=models_dir,
        results=results,
        cache_dir=cache_dir,
        dtype=dtype,
        batch_size=batch_size,
        executor=executor,
    )
    _checked(check_bootstrap, bootstrap)
    try:
        cuts, precisions = parse_dims(dims or []), parse_precisions(precision or [])
    except VariantUsageError as exc:
        _fail(str(exc))
    executor = cfg.executor.value
    dtype = cfg.dtype.value
    device = _checked(check_device, device, local=executor == "local")
    for flag, values in (("--model", model), ("--task", task), ("--split", split)):
        if any(not value.strip() for value in values or []):
            _fail(f"{flag}: an empty value names nothing")
    if not languages and not task and not pairs:
        _fail("say what to run: --lang LANG, --task NAME or --pairs FILE")
    if pairs and not languages and not model:
        _fail(
            "--pairs: say which models to score on it: --model NAME (repeatable), "
            "or --lang LANG for the registry's models of that language"
        )
    if pairs and len(set(languages)) > 1:  # a pairs file is in one language; its task would take only one
        _fail(
            f"--pairs: give the files' language with one --lang, not {len(set(languages))} "
            f"({', '.join(dict.fromkeys(languages))}); run once per language, or name models with --model"
        )
    if ray_address and executor != "ray":
        _fail("--ray-address needs --executor ray")
    registry_dir = _checked(cfg.existing_dir, "registry")
    data_folder = _checked(cfg.existing_dir, "data_dir")
    _checked(cfg.output_dir, "results")  # a file where the folder should be stops nothing later
    if not no_cache:
        _checked(cfg.output_dir, "cache_dir")
    run_executor = None
    if executor == "ray":
        from harness.run import distributed

        try:
            # the workers' GPU decides what --dtype means (auto; bf16 on a GPU without it)
            probe = distributed.probe_cluster(ray_address, dtype)
        except distributed.RayUnavailable as exc:
            _fail(str(exc))
        if device is None:
            device = probe["device"]
        if device.partition(":")[0] == probe["device"]:  # cuda:0 runs as cuda on a worker
            dtype = probe["dtype"]
        run_executor = functools.partial(distributed.execute_ray, address=ray_address)
    options = runner.RunOptions(
        languages=languages,
        results_dir=cfg.results.value,
        registry_dir=registry_dir,
        model_names=list(model or []),
        task_names=list(task or []),
        pairs_files=list(pairs or []),
        data_dir=data_folder,
        models_dirs=list(cfg.models_dirs.value),
        cache_dir=cfg.cache_dir.value,
        use_cache=not no_cache,
        dtype=dtype,
        batch_size=cfg.batch_size.value,
        device=device,
        splits=list(split) if split else None,
        force=force,
        trust_remote_code=trust_remote_code,
        bootstrap_resamples=bootstrap,
        dims=cuts,
        precisions=precisions,
    )
    console = Console(stderr=True)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    try:
        with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
            summary = runner.run(
                options,
                say=lambda line: console.print(
                    printable(line), markup=False, highlight=False, soft_wrap=True
                ),
                progress=progress,
                executor=run_executor,
            )
    finally:
        if executor == "ray":
            distributed.disconnect()
    if summary.outcomes:
        runner.print_summary(summary, table_console())
    if summary.usage_error is not None:  # a --dims a selected model cannot take: said before any work
        raise typer.Exit(2)
    failed = summary.failed or (strict and any(o.status == "unavailable" for o in summary.outcomes))
    raise typer.Exit(1 if failed else 0)


@app.command()
def score(
    model_path: Annotated[Path, typer.Argument(help="A local sentence-transformers model folder.")],
    pairs_file: Annotated[Path, typer.Argument(help="CSV, TSV or JSONL with sentence1, sentence2, score.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    dtype: Annotated[
        str | None, typer.Option("--dtype", help="auto|fp32|fp16|bf16 (env HARNESS_DTYPE).")
    ] = None,
    trust_remote_code: Annotated[bool, typer.Option("--trust-remote-code")] = False,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="Embedding cache (env HARNESS_CACHE_DIR).")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache")] = False,
    config: ConfigOpt = None,
) -> None:
    """Score one local model folder on one pairs file."""
    cfg = _config(config, cache_dir=cache_dir, dtype=dtype)  # the same cache and dtype as `run`
    if not no_cache:
        _checked(cfg.output_dir, "cache_dir")
    from harness.scoring import score_command  # after the checks: a usage error loads nothing

    dtype, cache = cfg.dtype.value, cfg.cache_dir.value
    rc = score_command(model_path, pairs_file, as_json, dtype, trust_remote_code, not no_cache, cache)
    raise typer.Exit(rc)


MtebResultsOpt = Annotated[
    Path | None,
    typer.Option(
        "--mteb-results",
        help="MTEB's published results (a copy of the results repository, or mteb's ResultCache "
        "folder): every published model joins the leaderboards, ours beside them; downloaded there "
        "through mteb when empty and the Hub is reachable (env HARNESS_MTEB_RESULTS; harness.toml "
        "mteb_results).",
    ),
]


@app.command()
def report(
    results: ResultsOpt = None,
    registry: RegistryOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (env HARNESS_REPORTS_DIR; default reports/).")
    ] = None,
    lang: Annotated[list[str] | None, typer.Option("--lang", help="Only these languages.")] = None,
    mteb_results: MtebResultsOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Render leaderboards (HTML + Markdown) from stored results. Loads no model."""
    from harness.config import check_languages

    languages = _checked(check_languages, lang)
    cfg = _config(config, results=results, registry=registry, reports=out, mteb_results=mteb_results)
    _checked(cfg.output_dir, "reports")
    from harness.report import report_command  # after the checks: a usage error loads nothing

    raise typer.Exit(
        report_command(
            cfg.results.value,
            cfg.registry.value,
            cfg.reports.value,
            languages or None,
            cfg.mteb_results.value,
            _data_dir(cfg),
        )
    )


@app.command()
def compare(
    model_a: Annotated[str, typer.Argument(help="Registry key or model id.")],
    model_b: Annotated[str, typer.Argument(help="Registry key or model id.")],
    lang: LangOpt = None,
    md: Annotated[bool, typer.Option("--md", help="Markdown output.")] = False,
    results: ResultsOpt = None,
    registry: RegistryOpt = None,
    mteb_results: MtebResultsOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Side-by-side review of two models with a paired bootstrap test."""
    from harness.config import check_languages

    codes = _checked(check_languages, [lang] if lang is not None else None)
    cfg = _config(config, results=results, registry=registry, mteb_results=mteb_results)
    from harness.report.compare import compare_command  # after the checks: a usage error loads nothing

    raise typer.Exit(
        compare_command(
            model_a,
            model_b,
            cfg.results.value,
            cfg.registry.value,
            codes[0] if codes else None,
            md,
            cfg.mteb_results.value,
            _data_dir(cfg),
        )
    )


@app.command()
def info(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    config: ConfigOpt = None,
) -> None:
    """What a run would use and why: configuration and sources, device, models and data per language."""
    from harness.info import info_command

    raise typer.Exit(info_command(_config(config), as_json))


def _fail(message: str) -> None:
    from harness.stderr import say

    say(message)
    raise typer.Exit(2)


def main(argv: list[str] | None = None) -> int:
    from harness.stderr import command_stderr

    with command_stderr():
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    from harness.stderr import say

    try:
        rc = app(args=argv, prog_name="harness", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except KeyboardInterrupt:
        print("harness: interrupted; results stored so far are kept", file=sys.stderr)
        return 130
    except typer.TyperException as exc:  # usage errors: one line (a bare `harness` prints the help)
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()
        else:
            say(" ".join(exc.format_message().split()))
        return exc.exit_code
    except Exception as exc:  # anything unforeseen: one line, no traceback
        from harness.config import show_tracebacks

        if show_tracebacks():
            raise
        say(f"error: {type(exc).__name__}: {exc}".splitlines()[0])
        return 1
    return rc if isinstance(rc, int) else 0
