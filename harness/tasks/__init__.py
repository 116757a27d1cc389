"""STS tasks: the catalog (MTEB's names and metadata), the readers of their pairs, and the Hub.

- :mod:`harness.tasks.catalog`: which tasks exist per language (from mteb's metadata), user pairs files;
- :mod:`harness.tasks.readers`: local benchmark files, users' files and Hub rows -> ``StsPairs``;
- :mod:`harness.tasks.hub`: whether the Hub is usable, and loading a split from it as mteb does.
"""

from harness.errors import DataError, TaskUnavailable
from harness.tasks.catalog import (
    DEFAULT_SPLIT,
    KEEP_SUPERSEDED,
    LOCAL_ONLY_TASKS,
    Availability,
    availability,
    catalog,
    iso639_1,
    mteb_revision,
    pairs_task,
    tasks_command,
)
from harness.tasks.hub import OFFLINE_ENV_VARS, offline_reason
from harness.tasks.readers import (
    ENV_DATA_DIR,
    LOCAL_SOURCES,
    REQUIRED_COLUMNS,
    data_dir_from,
    load_pairs,
    local_path,
    local_revision,
    read_file,
)

__all__ = [
    "DEFAULT_SPLIT",
    "ENV_DATA_DIR",
    "KEEP_SUPERSEDED",
    "LOCAL_ONLY_TASKS",
    "LOCAL_SOURCES",
    "OFFLINE_ENV_VARS",
    "REQUIRED_COLUMNS",
    "Availability",
    "DataError",
    "TaskUnavailable",
    "availability",
    "catalog",
    "data_dir_from",
    "iso639_1",
    "load_pairs",
    "local_path",
    "local_revision",
    "mteb_revision",
    "offline_reason",
    "pairs_task",
    "read_file",
    "tasks_command",
]
