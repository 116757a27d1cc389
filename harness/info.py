"""``harness info``: what a run would use and why, on one screen (``--json`` for scripts).

The resolved configuration with each value's source, the device and dtype a run would get,
the registry's models per language, and per language which STS tasks have data here: a local
copy, the Hub (only when it is usable now), or neither; and how many tasks take their data from
each source (generic local copy, dataset reader, Hub, none).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.config import Config, ConfigError
from harness.stderr import decodable, printable

PATH_KEYS_THAT_MUST_EXIST = ("data_dir", "registry")


def gather(cfg: Config) -> dict[str, Any]:
    """Everything `harness info` shows, as plain JSON data."""
    from harness.encode import default_cache_dir, pick_device, resolve_dtype
    from harness.registry import load_registry
    from harness.tasks import availability, catalog, offline_reason, source_counts

    problems: list[str] = []
    folders: dict[str, Path | None] = {}
    for key in PATH_KEYS_THAT_MUST_EXIST:
        try:
            folders[key] = cfg.existing_dir(key)
        except ConfigError as exc:
            problems.append(str(exc))
            folders[key] = None
    notes = [f"models_dirs: {p}: no such folder (yet)" for p in cfg.models_dirs.value if not Path(p).is_dir()]

    device = pick_device()
    offline = offline_reason()
    specs = load_registry(folders["registry"]) if folders["registry"] else []
    tasks = catalog(None, folders["data_dir"])

    languages: dict[str, dict[str, Any]] = {}

    def entry(code: str) -> dict[str, Any]:
        return languages.setdefault(code, {"models": [], "local": [], "hub": [], "none": []})

    for spec in specs:
        for code in spec.language_list:
            if code != "multilingual":
                entry(code)
    for task in tasks:
        where = {"local": "local", "hub": "hub"}.get(availability(task), "none")
        for code in task.languages:
            entry(code)[where].append(task.label)
    for code, row in languages.items():
        row["models"] = [s.key for s in specs if not s.errors and s.covers(code)]

    return {
        "config": cfg.as_json(),
        "run": {
            "device": device,
            "dtype": resolve_dtype(cfg.dtype.value, device),
            "dtype_requested": cfg.dtype.value,
            "batch_size": cfg.batch_size.value,
            "executor": cfg.executor.value,
            "cache": str(default_cache_dir(cfg.cache_dir.value)),
            "hub": "usable" if offline is None else f"not usable: {offline}",
        },
        "registry": {
            "models": len(specs),
            "with_errors": [s.key for s in specs if s.errors],
            "multilingual": [s.key for s in specs if s.is_multilingual],
        },
        "languages": dict(sorted(languages.items())),
        "tasks_by_source": source_counts(tasks),
        "problems": problems,
        "notes": notes,
    }


def render(info: dict[str, Any]) -> None:
    """One screen: configuration, run facts, then a row per language with a model or local data."""
    from rich.table import Table
    from rich.text import Text

    from harness.console import table_console
    from harness.tasks import counts_line

    console = table_console()

    def say(line: str) -> None:
        console.print(printable(line), markup=False, highlight=False, soft_wrap=True)

    def table(*columns: str, **kwargs: Any) -> Table:
        grid = Table(box=None, pad_edge=False, title_justify="left", **kwargs)
        for col in columns:
            grid.add_column(col, overflow="fold")
        return grid

    config = info["config"]
    say(f"configuration: {config['file'] or 'no configuration file'} ({config['file_origin']})")
    settings = table("key", "value", "source", show_header=False)
    for key, s in config["settings"].items():
        value = s["value"]
        shown = ", ".join(value) if isinstance(value, list) else ("-" if value is None else str(value))
        origin = {"default": "built-in default", "file": "file"}.get(
            s["source"], f"{s['source']} {s['origin']}"
        )
        settings.add_row(Text(f"  {key}"), Text(printable(shown) or "-"), Text(printable(origin)))
    console.print(settings)

    run = info["run"]
    say(
        f"a run gets: device {run['device']}, dtype {run['dtype']} (requested {run['dtype_requested']}), "
        f"batch size {run['batch_size']}, executor {run['executor']}"
    )
    say(f"Hub: {run['hub']}; embedding cache: {run['cache']}")
    for note in info["notes"]:
        say(f"note: {note}")
    for problem in info["problems"]:
        say(f"harness: {problem}")

    registry = info["registry"]
    languages = table(
        "lang", "models", "local data", "Hub", "neither",
        title=f"{registry['models']} registry model(s); STS tasks with data here",
    )  # fmt: skip
    quiet: list[str] = []
    for code, row in info["languages"].items():
        if not row["models"] and not row["local"]:
            quiet.append(code)
            continue
        cells = [code, ", ".join(row["models"]), ", ".join(row["local"]), len(row["hub"]), len(row["none"])]
        languages.add_row(*(Text(printable(cell or "-")) for cell in cells))
    console.print(languages)
    say(f"STS tasks by data source: {counts_line(info['tasks_by_source'])}")
    if quiet:
        say(
            f"{len(quiet)} more language(s) with STS tasks but no model and no local data: {', '.join(quiet)}"
        )
    if registry["with_errors"]:
        say(f"not runnable (card errors; see `harness cards`): {', '.join(registry['with_errors'])}")


def info_command(cfg: Config, as_json: bool) -> int:
    """`harness info [--json]`: 0, or 1 when a configured folder is missing."""
    info = gather(cfg)
    if as_json:
        # paths with undecodable bytes (lone surrogates) escaped: the output is valid UTF-8 JSON
        print(json.dumps(decodable(info), indent=2, ensure_ascii=False))
    else:
        render(info)
    return 1 if info["problems"] else 0
