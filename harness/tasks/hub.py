"""The Hugging Face Hub: is it usable right now (asked once per process), and loading a task from it.

Libraries retry an unreachable Hub with back-off for tens of seconds per call;
one short connection probe lets every task and model fail fast instead.

Hub fallback
------------
Without a local file, a task is loaded the way mteb's ``AbsTask.load_data`` does:
``datasets.load_dataset(**metadata.dataset)`` for monolingual tasks; for multilingual
ones with ``fast_loading`` the default config filtered on its ``lang`` column, otherwise the
subset as the config name; then the task's own ``dataset_transform`` (column renames such as
``similarity_score`` -> ``score``). With ``HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE`` set, the Hub
is not tried at all and :class:`~harness.errors.TaskUnavailable` is raised at once.
"""

from __future__ import annotations

import functools
import os
import socket
from typing import Any
from urllib.parse import urlparse

from harness.errors import DataError, TaskUnavailable
from harness.records import StsTask

OFFLINE_ENV_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


def offline_reason() -> str | None:
    """Why the Hub cannot be used (an env variable, or unreachable), or None when it can."""
    for var in OFFLINE_ENV_VARS:
        if os.environ.get(var, "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
            return f"{var} is set"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    if not _reachable(endpoint):
        return f"{urlparse(endpoint).hostname} is unreachable"
    return None


@functools.cache
def _reachable(endpoint: str, timeout: float = 3.0) -> bool:
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def load_split(task: StsTask, where: str, no_local: str) -> tuple[str, Any]:
    """``(location, rows)``: the task's split from the Hub, as mteb loads it (``datasets`` rows)."""
    import datasets

    revision = task.revision if task.revision and not task.revision.startswith("local-") else None
    mtask = _fresh_mteb_task(task.name) if task.in_mteb else None
    location = f"hf:{task.hf_dataset}@{(revision or 'main')[:12]}[{task.subset}]/{task.split}"
    try:
        if mtask is None:
            name = None if task.subset == "default" else task.subset
            split_data = datasets.load_dataset(task.hf_dataset, name, revision=revision, split=task.split)
        else:
            split_data = _load_like_mteb(datasets, mtask, task, revision)
    except (DataError, TaskUnavailable):
        raise
    except Exception as exc:
        raise TaskUnavailable(
            f"{where}: {no_local}, and loading {task.hf_dataset} from the Hub failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return location, split_data


def _fresh_mteb_task(name: str) -> Any:
    import mteb

    try:
        return mteb.get_task(name)
    except Exception:
        return None


def _load_like_mteb(datasets: Any, mtask: Any, task: StsTask, revision: str | None) -> Any:
    """Follow mteb's AbsTask.load_data for one subset, then the task's dataset_transform."""
    from mteb.abstasks.abstask import AbsTask

    meta = mtask.metadata
    kwargs = dict(meta.dataset)
    kwargs["path"] = task.hf_dataset
    if revision is not None:
        kwargs["revision"] = revision
    multilingual = meta.is_multilingual
    if multilingual:
        mtask.hf_subsets = [task.subset]
    if type(mtask).load_data is not AbsTask.load_data:
        # The task loads its own way: let it (this path ignores a non-default revision).
        mtask.load_data()
    else:
        if multilingual and getattr(mtask, "fast_loading", False):
            merged = datasets.load_dataset(**kwargs)
            subset_data = datasets.DatasetDict(
                {
                    split: data.filter(lambda lang: lang == task.subset, input_columns="lang").remove_columns(
                        "lang"
                    )
                    for split, data in merged.items()
                }
            )
            mtask.dataset = {task.subset: subset_data}
        elif multilingual:
            mtask.dataset = {task.subset: datasets.load_dataset(**{**kwargs, "name": task.subset})}
        else:
            mtask.dataset = datasets.load_dataset(**kwargs)
        mtask.dataset_transform()
        mtask.data_loaded = True
    data = mtask.dataset[task.subset] if multilingual else mtask.dataset
    if task.split not in data:
        raise TaskUnavailable(
            f"{task.label}: the Hub dataset {task.hf_dataset} has no split {task.split!r} "
            f"(splits: {', '.join(data)})"
        )
    return data[task.split]
