"""Facts a run record carries about where and with what it ran: time, versions, commit, hardware.

Also the fields every record of a (model, task) shares, so the ok records (execute) and the
error records (failures) are built from one list.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

from harness.records import Hardware, ModelSpec, RunSettings, StsTask


@cache
def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for name in [
        "harness",
        "torch",
        "transformers",
        "sentence-transformers",
        "tokenizers",
        "mteb",
        "numpy",
        "scipy",
    ]:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@cache
def git_commit() -> str | None:
    repo = Path(__file__).resolve().parent.parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def hardware_info(device: str) -> Hardware:
    import torch

    gpu = cuda = None
    if device.startswith("cuda") and torch.cuda.is_available():
        gpu, cuda = torch.cuda.get_device_name(device), torch.version.cuda  # cuda:1's name, not GPU 0's
    return Hardware(
        device=device,
        platform=platform.platform(),
        cpu=platform.processor() or platform.machine(),
        cpu_count=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        gpu=gpu,
        cuda=cuda,
    )


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def off_card(spec: ModelSpec, task: StsTask) -> bool:
    """Whether the task's language is one the model's card does not list."""
    return not spec.is_multilingual and any(lang not in spec.language_list for lang in task.languages)


def record_fields(task: StsTask, spec: ModelSpec, identity: str, settings: RunSettings) -> dict[str, Any]:
    """The fields of a run record that say what was measured and with what, whatever the outcome."""
    return {
        "split": task.split,
        "subset": task.subset,
        "identity": identity,
        "languages": task.mteb_languages or task.languages,
        "settings": settings,
        "settings_hash": settings.identity_hash(),
        "data_revision": task.revision,
        "data_source": ", ".join(task.local_files) or task.hf_dataset,
        "off_card_language": off_card(spec, task),
        "versions": library_versions(),
        "git_commit": git_commit(),
    }
