"""What planning hands to execution and what execution hands back: one job per model.

A job carries everything a worker (local or remote) needs and nothing it must look up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.mteb_meta import FAST_PATH
from harness.records import EncodePath, ErrorKind, ModelSpec, RunRecord, RunSettings, StsPairs, StsTask
from harness.variants import Variant


@dataclass(frozen=True)
class Weights:
    """Where a model's weights are, and the revision that names them."""

    location: str  # a local folder, or a Hub id
    source: str  # models-dir, registry-path, hf-cache, hub
    revision: str
    local_dir: Path | None


def task_id(task: StsTask) -> str:
    return f"{task.name}|{task.subset}|{task.split}"


def variant_key(tid: str, variant: Variant) -> str:
    """A variant's result of one task: ``<task id>|<dims>/<precision>``."""
    return f"{tid}|{variant.label}"


@dataclass(frozen=True)
class ModelJob:
    """One model's pending work: everything a worker (local or remote) needs, nothing it must look up."""

    spec: ModelSpec
    weights: Weights
    settings: RunSettings
    tasks: list[StsTask]
    pairs: dict[str, StsPairs]  # by task id, only this job's tasks
    identities: dict[str, str]  # by task id: the tasks whose full result is pending
    device: str
    batch_size: int | str
    bootstrap_resamples: int
    seed: int
    cache_dir: Path | None  # None: no embedding cache
    # The prompt each task gets (by task id; harness.prompts); absent: none. Part of its settings.
    prompts: dict[str, str | None] = field(default_factory=dict)
    prompt_sources: dict[str, str | None] = field(default_factory=dict)
    encode_path: EncodePath = FAST_PATH  # or MTEB_PATH: mteb's own implementation (mteb.get_model)
    encode_path_reason: str | None = None
    # Variants of the vectors still to score (harness.variants), by task id, and their identities
    # (by variant_key). A task whose full result is stored is here only for its variants.
    variants: dict[str, list[Variant]] = field(default_factory=dict)
    variant_identities: dict[str, str] = field(default_factory=dict)

    def settings_of(self, task: StsTask) -> RunSettings:
        """The settings of one task: the model's, plus the prompt that task gets."""
        return self.settings.model_copy(update={"prompt": self.prompts.get(task_id(task))})

    def task_facts(self, task: StsTask) -> dict[str, str | None]:
        """The run-record fields that say how the task's sentences were encoded."""
        return {
            "prompt_source": self.prompt_sources.get(task_id(task)),
            "encode_path": self.encode_path,
            "encode_path_reason": self.encode_path_reason,
        }


@dataclass(frozen=True)
class JobResult:
    """What a worker sends back: the run records to store, in task order, and a model-level failure if any."""

    key: str
    records: list[tuple[StsTask, RunRecord]]
    error: tuple[ErrorKind, str] | None = None  # (kind, message)
