"""Typed, frozen records shared by every module.

Records are validated where data enters the program (a card, a data file, a
result file) and are plain values afterwards: functions take them and return
new ones, nothing mutates them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Sourced(Frozen, Generic[T]):
    """A value plus where it came from.

    `source` names the place that defined the value, e.g. ``yaml:language``,
    ``architecture:Pooling``, ``prose``, ``model-files:1_Pooling/config.json``,
    ``override:registry.toml``, ``inferred:widget``. ``None`` value means unknown.
    """

    value: T | None = None
    source: str | None = None

    @property
    def known(self) -> bool:
        return self.value is not None


class Finding(Frozen):
    """A warning about a card: a stable machine code plus a sentence for people."""

    code: str
    message: str


ClaimMetric = Literal["spearman", "pearson"]
ClaimSource = Literal["model-index", "text"]


class Claim(Frozen):
    """A score the card's author claims, on a 0-1 scale."""

    metric: ClaimMetric
    value: float = Field(ge=-1.0, le=1.0)
    dataset: str | None = None
    split: str | None = None
    language: str | None = None
    similarity: str | None = None  # cosine, dot, ... when the claim says so
    source: ClaimSource
    quote: str


LanguageSource = Literal["card", "inferred", "override", "unknown"]


class ModelSpec(Frozen):
    """Everything the registry knows about one model, each fact with its origin."""

    key: str  # registry folder name; safe as a path component
    source: str  # path of the card file that was parsed
    model_id: Sourced[str] = Sourced()
    languages: Sourced[list[str]] = Sourced()
    language_source: LanguageSource = "unknown"
    dimension: Sourced[int] = Sourced()
    pooling: Sourced[str] = Sourced()
    max_seq_length: Sourced[int] = Sourced()
    architecture: Sourced[str] = Sourced()
    base_model: Sourced[str] = Sourced()
    datasets: Sourced[list[str]] = Sourced()
    loss: Sourced[str] = Sourced()
    license: Sourced[str] = Sourced()
    parameters: Sourced[int] = Sourced()  # from the model's own files when available
    normalize: Sourced[bool] = Sourced()  # a Normalize module in the pipeline
    revision: Sourced[str] = Sourced()  # Hub revision (override) when pinned
    local_path: Sourced[str] = Sourced()  # a folder with the weights (override)
    name: str | None = None  # the card's title, for display only (untrusted)
    claims: list[Claim] = []
    warnings: list[Finding] = []
    errors: list[str] = []

    @property
    def display_name(self) -> str:
        return self.model_id.value or self.key

    @property
    def language_list(self) -> list[str]:
        return list(self.languages.value or [])

    @property
    def is_multilingual(self) -> bool:
        # Only the card's own "multilingual" tag: a card listing de and en does not claim French.
        return "multilingual" in self.language_list

    def covers(self, language: str) -> bool:
        return language in self.language_list or self.is_multilingual

    def contract_json(self) -> dict[str, Any]:
        """The exact object `harness cards --json` prints (a contract other tools read)."""
        return {
            "source": self.source,
            "model_id": self.model_id.value,
            "languages": self.language_list,
            "language_source": self.language_source,
            "dimension": self.dimension.value,
            "pooling": self.pooling.value,
            "max_seq_length": self.max_seq_length.value,
            "architecture": self.architecture.value,
            "base_model": self.base_model.value,
            "datasets": list(self.datasets.value or []),
            "claims": [
                {
                    "metric": c.metric,
                    "value": c.value,
                    "dataset": c.dataset,
                    "split": c.split,
                    "language": c.language,
                    "source": c.source,
                }
                for c in self.claims
            ],
            "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
            "errors": list(self.errors),
        }


class StsPairs(Frozen):
    """Loaded sentence pairs with gold scores (any scale; correlations ignore it)."""

    sentence1: list[str]
    sentence2: list[str]
    gold: list[float]

    def __len__(self) -> int:
        return len(self.gold)


class StsTask(Frozen):
    """One evaluable unit: an MTEB task name, one language subset, one split."""

    name: str  # MTEB's task name, or "custom:<file stem>" for --pairs
    subset: str  # MTEB hf_subset ("default" for monolingual tasks)
    languages: list[str]  # ISO 639-1 codes of the text, e.g. ["de"]
    split: str = "test"
    main_score: str = "cosine_spearman"
    revision: str | None = None  # dataset revision (MTEB's, or a hash of local files)
    mteb_revision: str | None = None  # MTEB's dataset revision, even when the data is read locally
    mteb_languages: list[str] = []  # MTEB's language-script codes for this subset, e.g. ["deu-Latn"]
    hf_dataset: str | None = None  # Hub dataset path, for the online loader
    local_files: list[str] = []  # resolved local files, when available locally
    description: str = ""
    in_mteb: bool = True

    @property
    def label(self) -> str:
        return self.name if self.subset == "default" else f"{self.name}[{self.subset}]"


DType = Literal["fp32", "fp16", "bf16"]


class RunSettings(Frozen):
    """Everything that can change an embedding or a score. Its hash is part of a result's identity."""

    dtype: DType = "fp32"
    max_seq_length: int | None = None
    pooling: str | None = None
    normalize: bool = False
    trust_remote_code: bool = False
    evaluator_version: int = 1  # bump when scoring code changes what it computes

    def identity_hash(self) -> str:
        blob = json.dumps(self.model_dump(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
