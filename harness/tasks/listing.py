"""``harness tasks``: the catalog as a table, each task's data source, and counts by source.

A task's data comes from a generic local copy (``mteb/<Task>/<subset>/<split>.jsonl``), a
dataset reader (a dataset's own published files), the Hub (only when it is usable now), or
nowhere (:func:`harness.tasks.catalog.data_source`).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path

from harness.config import KEYS
from harness.errors import DataError, TaskUnavailable
from harness.records import StsTask
from harness.stderr import say
from harness.tasks.catalog import DATA_SOURCES, DataSource, catalog, data_source, verification
from harness.tasks.hub import offline_reason


def source_counts(tasks: list[StsTask]) -> dict[DataSource, int]:
    """How many tasks take their data from each source (every source named, zeros included)."""
    found = Counter(data_source(task) for task in tasks)
    return {source: found.get(source, 0) for source in DATA_SOURCES}


def counts_line(counts: dict[DataSource, int]) -> str:
    """``17 task(s): 8 generic local copy, 2 dataset reader, 0 Hub, 7 none``."""
    shown = ", ".join(f"{n} {DATA_SOURCES[source]}" for source, n in counts.items())
    return f"{sum(counts.values())} task(s): {shown}"


def _check_cell(task: StsTask, source: DataSource) -> str:
    if source not in ("generic", "reader"):
        return "-"
    check = verification(task)
    if check is None:
        return "user data, nothing to check"
    return check.summary()


def tasks_command(lang: str | None, data_dir: Path | None) -> int:
    """``harness tasks``: print the catalog as a rich table.

    Returns 0 on success (also when no task matches: one line says so), 2 on bad input (unknown language,
    missing data dir).
    """
    from rich.table import Table

    from harness.console import table_console

    console = table_console()
    try:
        tasks = catalog([lang] if lang else None, data_dir)
    except (DataError, TaskUnavailable, ValueError) as exc:
        say(str(exc))
        return 2
    if not tasks:
        say(f"no STS tasks for language {lang!r}")
        return 0  # an empty listing is an answer (README "Exit status")
    offline = offline_reason()
    title = f"STS tasks{f' for {lang}' if lang else ''}"
    caption = (
        f"data dir: {data_dir}"
        if data_dir
        else f"no data dir (pass {KEYS['data_dir'].option} or set {KEYS['data_dir'].env}); "
        "cross-lingual subsets are listed only by task name"
    )
    table = Table(title=title, caption=f"{caption}\n{counts_line(source_counts(tasks))}")
    table.add_column("task", overflow="fold")
    table.add_column("subset", overflow="fold")
    table.add_column("languages")
    table.add_column("split")
    table.add_column("main score")
    table.add_column("MTEB")
    table.add_column("data", overflow="fold")
    table.add_column("local copy vs mteb's statistics", overflow="fold")
    for task in tasks:
        source = data_source(task)
        if source in ("generic", "reader"):
            shown = Path(task.local_files[0])
            if data_dir is not None:
                with contextlib.suppress(ValueError):
                    shown = shown.relative_to(Path(data_dir).resolve())
            data = f"local: {shown}"  # the path tells the layout (mteb/...) from a dataset's files
        elif task.hf_dataset:
            data = f"hub-only (offline: {offline})" if offline else "hub-only"
        else:
            data = "unavailable"
        table.add_row(
            task.name,
            task.subset,
            ", ".join(task.languages),
            task.split,
            task.main_score,
            "yes" if task.in_mteb else "no (harness-local)",
            data,
            _check_cell(task, source),
        )
    console.print(table)
    return 0
