"""Result files: how a run record is written, read back, kept within size and moved out of old layouts.

One package, one concept. Its modules, each named after what it does:

- :mod:`~harness.store.results`: what a result file holds; writing (locked, merged, atomic) and loading;
  run identities and the records a file shows in mteb's ``scores``.
- :mod:`~harness.store.io`: the file mechanics: atomic writes, bounded reads, quarantine, the error types.
- :mod:`~harness.store.size`: the size rule (a task file never grows past what its reader accepts).
- :mod:`~harness.store.migration`: result folders of earlier versions, moved into today's layout.
- :mod:`~harness.store.mteb_layout`: the results folder as mteb reads it (names, ``model_meta.json``).
- :mod:`~harness.store.selection`: which stored run stands for a model, task, subset and split (the
  one rule behind mteb's ``scores`` block and every report), and the other versions stored beside it.

Other packages import from here, never from the modules inside.
"""

from harness.records import RunRecord
from harness.store.io import (
    MAX_RESULT_BYTES,
    QUARANTINE_FOLDER,
    InvalidResult,
    StoreError,
    TooLargeResult,
    UnreadableResult,
    atomic_write_json,
    atomic_write_text,
)
from harness.store.migration import MIGRATED_FOLDER, migrate
from harness.store.mteb_layout import (
    LOCAL_TASKS_FOLDER,
    MODEL_META_FILE,
    is_mteb_task,
    model_meta_json,
    model_name,
    name_for,
)
from harness.store.results import (
    EVALUATOR,
    LOCKS_FOLDER,
    NO_REVISION,
    SCHEMA_VERSION,
    VARIANTS_FOLDER,
    StoredResult,
    completed_identities,
    current_names,
    is_variant,
    iter_result_files,
    legacy_location,
    load_file,
    load_results,
    load_variants,
    lock_folder,
    merge_run,
    model_folder,
    model_lock,
    prepare_folder,
    result_path,
    run_identity,
    safe_component,
    shown_runs,
    task_file_name,
    task_path,
    write_model_meta,
    write_run,
)
from harness.store.selection import Other, Selection, how_it_differs, select_run
from harness.store.size import SUPERSEDED_FOLDER

__all__ = [
    "EVALUATOR",
    "LOCAL_TASKS_FOLDER",
    "LOCKS_FOLDER",
    "MAX_RESULT_BYTES",
    "MIGRATED_FOLDER",
    "MODEL_META_FILE",
    "NO_REVISION",
    "QUARANTINE_FOLDER",
    "SCHEMA_VERSION",
    "SUPERSEDED_FOLDER",
    "VARIANTS_FOLDER",
    "InvalidResult",
    "Other",
    "RunRecord",
    "Selection",
    "StoreError",
    "StoredResult",
    "TooLargeResult",
    "UnreadableResult",
    "atomic_write_json",
    "atomic_write_text",
    "completed_identities",
    "current_names",
    "how_it_differs",
    "is_mteb_task",
    "is_variant",
    "iter_result_files",
    "legacy_location",
    "load_file",
    "load_results",
    "load_variants",
    "lock_folder",
    "merge_run",
    "migrate",
    "model_folder",
    "model_lock",
    "model_meta_json",
    "model_name",
    "name_for",
    "prepare_folder",
    "result_path",
    "run_identity",
    "safe_component",
    "select_run",
    "shown_runs",
    "task_file_name",
    "task_path",
    "write_model_meta",
    "write_run",
]
