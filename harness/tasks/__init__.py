"""STS tasks: the catalog (MTEB's names and metadata), the readers of their pairs, and the Hub.

- :mod:`harness.tasks.catalog`: which tasks exist per language (from mteb's metadata), user pairs
  files, and a task's pairs as mteb scores them (gold normalised);
- :mod:`harness.tasks.layout`: the generic layout ``mteb/<Task>/<subset>/<split>.jsonl``;
- :mod:`harness.tasks.readers`: local benchmark files, users' files and Hub rows -> ``StsPairs``;
- :mod:`harness.tasks.hub`: whether the Hub is usable, and loading a split from it as mteb does;
- :mod:`harness.tasks.listing`: ``harness tasks``; :mod:`harness.tasks.export`: ``harness data export``.
"""

from harness.errors import DataError, TaskUnavailable
from harness.tasks.catalog import (
    DATA_SOURCES,
    DEFAULT_SPLIT,
    KEEP_SUPERSEDED,
    LOCAL_ONLY_TASKS,
    Availability,
    DataSource,
    availability,
    catalog,
    data_source,
    iso639_1,
    load_pairs,
    mteb_revision,
    pairs_task,
)
from harness.tasks.hub import OFFLINE_ENV_VARS, offline_reason
from harness.tasks.listing import counts_line, source_counts, tasks_command
from harness.tasks.readers import (
    LOCAL_SOURCES,
    REQUIRED_COLUMNS,
    local_path,
    local_revision,
    read_file,
)

__all__ = [
    "DATA_SOURCES",
    "DEFAULT_SPLIT",
    "KEEP_SUPERSEDED",
    "LOCAL_ONLY_TASKS",
    "LOCAL_SOURCES",
    "OFFLINE_ENV_VARS",
    "REQUIRED_COLUMNS",
    "Availability",
    "DataError",
    "DataSource",
    "TaskUnavailable",
    "availability",
    "catalog",
    "counts_line",
    "data_source",
    "iso639_1",
    "load_pairs",
    "local_path",
    "local_revision",
    "mteb_revision",
    "offline_reason",
    "pairs_task",
    "read_file",
    "source_counts",
    "tasks_command",
]
