"""Where variant results live: ``<revision>/harness-variants/``.

A variant of a model's vectors (cut to fewer dimensions, int8, binary: :mod:`harness.variants`) is
its own result, never the model's: mteb's loaders (``*/*/*.json``) never see the folder, and
neither does anything that reads the full model's results (``load_results``); ``load_variants``
reads them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from harness.records import RunRecord
from harness.store.mteb_layout import LOCAL_TASKS_FOLDER

VARIANTS_FOLDER = "harness-variants"


def is_variant(run: RunRecord) -> bool:
    """Whether a record scores a variant of the model's vectors (never shown as the model's score)."""
    return run.settings.dims is not None or run.settings.precision is not None


def iter_variant_files(root: Path) -> Iterator[Path]:
    """Every variant result file: ``*/*/harness-variants/*.json`` (and its ``harness-local/``)."""
    if not root.is_dir():
        return
    folder = f"*/*/{VARIANTS_FOLDER}"
    found = [*root.glob(f"{folder}/*.json"), *root.glob(f"{folder}/{LOCAL_TASKS_FOLDER}/*.json")]
    yield from (p for p in sorted(found) if not p.name.startswith("."))
