"""Typed, frozen records shared by every module.

Records are validated where data enters the program (a card, a data file, a
result file) and are plain values afterwards: functions take them and return
new ones, nothing mutates them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.languages import covers, is_multilingual

T = TypeVar("T")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# The source of a fact set by the entry's registry.toml (the card parser and the prompt rule both use it).
OVERRIDE_SOURCE = "override:registry.toml"


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


ClaimMetric = Literal["spearman", "pearson", "unstated"]  # unstated: the card names no correlation
ClaimSimilarity = Literal["cosine", "manhattan", "euclidean", "dot", "max", "unspecified"]
ClaimSource = Literal["model-index", "table", "text", "csv"]


class Claim(Frozen):
    """An STS score the card's author claims for this model, on a 0-1 scale.

    It says exactly what it claims: the correlation (`metric`), between gold scores and which
    similarity of the embeddings (`similarity`; "unspecified" when the card does not say), on
    which dataset (as written) and the MTEB task that is (`mteb_task`, None when unknown), which
    language subset and split. `source` is where it was read first, `sources` every place the
    same claim was found (equal claims merge), `quote` the card's words.
    """

    metric: ClaimMetric
    value: float = Field(ge=-1.0, le=1.0)
    dataset: str | None = None
    split: str | None = None
    language: str | None = None  # the language subset: "de", or "de-en" for a cross-lingual pair
    similarity: ClaimSimilarity = "unspecified"
    mteb_task: str | None = None
    source: ClaimSource
    sources: list[ClaimSource] = []
    quote: str
    # an average over several datasets ("Avg"), with the datasets it averages as the card names them
    aggregate_of: list[str] = []
    # an earlier row of a training log (the released model's claim is the last row), and which row
    history: bool = False
    checkpoint: str | None = None

    @field_validator("similarity", mode="before")
    @classmethod
    def _unspecified(cls, value: Any) -> Any:
        return "unspecified" if value is None else value

    @property
    def comparable(self) -> bool:
        """Whether our cosine measurement can check it: a cosine claim, or one that names no
        similarity (every claim is an STS claim, and cosine is what STS evaluations report).
        A training log's earlier rows are history, not the released model's claim."""
        return self.similarity in ("cosine", "unspecified") and not self.history


LanguageSource = Literal["card", "inferred", "override", "unknown"]


class TrainingDataset(Frozen):
    """One dataset a model was trained on, and where that fact came from (harness.card.training).

    `name` as the source wrote it (or the local split its sample rows were found in), `source` the
    place (``yaml:datasets``, ``prose``, ``card:training-dataset``, ``base_model:<id>``,
    ``mteb:ModelMeta.training_datasets``), `evidence` the words or the count that show it,
    `mteb_tasks` the MTEB tasks of the same family (harness.tasks.families; empty: none known).
    `samples` keeps up to a few (sentence1, sentence2) rows of a generated "Training Dataset"
    section, matched later against the local train/dev splits.
    """

    name: str
    source: str
    evidence: str
    mteb_tasks: tuple[str, ...] = ()
    samples: tuple[tuple[str, str], ...] = ()


class MtebFacts(Frozen):
    """What mteb's model registry (`mteb.get_model_meta`) says about a model id."""

    name: str
    revision: str | None = None
    loader: str | None = None  # the loader's class or function name
    loader_kwargs: list[str] = []  # the names of the keyword arguments mteb's loader gets
    model_prompts: dict[str, str] | None = None  # loader_kwargs["model_prompts"]
    trust_remote_code: bool = False
    dimension: int | list[int] | None = None
    max_tokens: int | None = None
    parameters: int | None = None
    languages: list[str] = []  # harness language codes
    license: str | None = None
    release_date: str | None = None
    similarity: str | None = None
    use_instructions: bool | None = None
    # mteb's `ModelMeta.get_training_datasets()` (its `training_datasets`, the `adapted_from` model's,
    # and their similar tasks), sorted; None when mteb does not say what the model was trained on
    training_tasks: list[str] | None = None


class ModelSpec(Frozen):
    """Everything the registry knows about one model, each fact with its origin."""

    key: str  # registry folder name; safe as a path component
    source: str  # path of the card file that was parsed
    model_id: Sourced[str] = Sourced()
    languages: Sourced[list[str]] = Sourced()  # declared languages (harness.languages codes)
    multilingual: bool = False  # the card says "multilingual": a flag, not a language
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
    prompts: Sourced[dict[str, str]] = Sourced()  # the prompts mteb's rule selects from (harness.prompts)
    default_prompt: Sourced[str] = Sourced()  # sentence-transformers' default_prompt_name
    sts_prompt: Sourced[str] = Sourced()  # what STS tasks get (value None: no prompt; source: why)
    matryoshka_dims: Sourced[list[int]] = Sourced()  # dimensions the card says it was trained to be cut to
    mteb: MtebFacts | None = None  # mteb's metadata, when mteb knows the model id
    name: str | None = None  # the card's title, for display only (untrusted)
    claims: list[Claim] = []
    training_datasets: tuple[TrainingDataset, ...] = ()  # what it was trained on (harness.card.training)
    warnings: list[Finding] = []
    errors: list[str] = []

    @property
    def display_name(self) -> str:
        return self.model_id.value or self.key

    @model_validator(mode="before")
    @classmethod
    def _multilingual_flag(cls, data: Any) -> Any:
        """ "multilingual" in a languages list (older records, hand-made specs) becomes the flag."""
        if isinstance(data, dict):
            langs = data.get("languages")
            value = langs.get("value") if isinstance(langs, dict) else getattr(langs, "value", None)
            if isinstance(value, list) and any(is_multilingual(x) for x in value):
                kept = [x for x in value if not is_multilingual(x)]
                source = langs.get("source") if isinstance(langs, dict) else langs.source
                data = {
                    **data,
                    "languages": {"value": kept or None, "source": source if kept else None},
                    "multilingual": True,
                }
        return data

    @property
    def language_list(self) -> list[str]:
        return list(self.languages.value or [])

    @property
    def languages_label(self) -> str:
        """The languages for people: "de, en", "multilingual", "" when none is stated."""
        return ", ".join([*self.language_list, *(["multilingual"] if self.multilingual else [])])

    @property
    def is_multilingual(self) -> bool:
        # Only the card's own "multilingual" tag: a card listing de and en does not claim French.
        return self.multilingual

    def covers(self, language: str) -> bool:
        """Whether the model covers a language key ("de", or "de-en" for a cross-lingual pair):
        the one rule the runner and the report share (harness.languages.covers)."""
        return covers(self.language_list, self.multilingual, language)

    def contract_json(self) -> dict[str, Any]:
        """The exact object `harness cards --json` prints (a contract other tools read)."""
        return {
            "source": self.source,
            "model_id": self.model_id.value,
            "languages": self.language_list,
            "multilingual": self.multilingual,
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
                    "similarity": c.similarity,
                    "mteb_task": c.mteb_task,
                    "comparable": c.comparable,
                    "sources": list(c.sources or [c.source]),
                    "quote": c.quote,
                    "aggregate_of": list(c.aggregate_of),
                    "history": c.history,
                    "checkpoint": c.checkpoint,
                }
                for c in self.claims
            ],
            "training_datasets": [
                {"name": t.name, "source": t.source, "evidence": t.evidence, "mteb_tasks": list(t.mteb_tasks)}
                for t in self.training_datasets
            ],
            "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
            "errors": list(self.errors),
            "sources": self.fact_sources(),
            "prompt": {
                "sts": self.sts_prompt.value,
                "source": self.sts_prompt.source,
                "prompts": self.prompts.value,
                "prompts_source": self.prompts.source,
                "default_prompt_name": self.default_prompt.value,
            },
            "license": self.license.value,
            "parameters": self.parameters.value,
            "mteb": self.mteb.model_dump() if self.mteb is not None else None,
            "matryoshka_dims": list(self.matryoshka_dims.value or []),
        }

    def fact_sources(self) -> dict[str, str | None]:
        """Where each known fact came from: ``yaml:…``/``prose`` (card), ``model-files:…``,
        ``override:registry.toml``, ``mteb:ModelMeta…``."""
        return {
            name: getattr(self, name).source
            for name in (
                "model_id",
                "languages",
                "dimension",
                "pooling",
                "max_seq_length",
                "architecture",
                "base_model",
                "datasets",
                "loss",
                "license",
                "parameters",
                "normalize",
                "revision",
                "local_path",
                "prompts",
                "sts_prompt",
                "matryoshka_dims",
            )
            if getattr(self, name).value is not None or name == "sts_prompt"
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


# The correlations an STS evaluation computes, in the order results list them (MTEB's keys
# plus the dot-product extras); harness.evaluate computes them, the task catalog keeps the
# tasks whose main score is one of them.
METRIC_KEYS: tuple[str, ...] = (
    "cosine_pearson",
    "cosine_spearman",
    "manhattan_pearson",
    "manhattan_spearman",
    "euclidean_pearson",
    "euclidean_spearman",
    "dot_pearson",
    "dot_spearman",
    "pearson",
    "spearman",
    "main_score",
)

DType = Literal["fp32", "fp16", "bf16"]


class RunSettings(Frozen):
    """Everything that can change an embedding or a score. Its hash is part of a result's identity."""

    dtype: DType = "fp32"
    max_seq_length: int | None = None
    pooling: str | None = None
    normalize: bool = False
    trust_remote_code: bool = False
    evaluator_version: int = 1  # bump when scoring code changes what it computes
    prompt: str | None = None  # prepended to every sentence (harness.prompts); None: no prompt
    encoder: str | None = None  # None: the sentence-transformers fast path; "mteb:<loader>": mteb's
    # A variant of the model's vectors (harness.variants), scored from the same vectors: the first
    # `dims` dimensions (None: all) in `precision` (None: float32, as the model outputs them).
    dims: int | None = None
    precision: str | None = None
    # The model's own similarity function, when it is not cosine ("dot", "euclidean", "manhattan"):
    # what mteb's STS evaluator scores `pearson`/`spearman` with (harness.mteb_meta.model_similarity).
    similarity: str | None = None

    def hashed_fields(self) -> dict[str, Any]:
        """The fields a hash covers: fields added later count only when set, so a result stored
        before they existed keeps its identity (and its cached vectors)."""
        data = self.model_dump()
        for name in _ADDED_LATER:
            if data.get(name) is None:
                data.pop(name, None)
        return data

    def identity_hash(self) -> str:
        blob = json.dumps(self.hashed_fields(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


_ADDED_LATER = ("prompt", "encoder", "dims", "precision", "similarity")


class EncodeStats(Frozen):
    """What one encode pass did; every task that shared the pass stores it in its run record.

    Fields are optional so that every stored shape loads (error records store none).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")  # a newer harness's fields are read past

    n_texts: int | None = None  # texts passed in (duplicates included)
    n_unique: int | None = None
    n_cache_hits: int | None = None  # unique texts served from the cache
    n_cache_evicted: int | None = None  # cached vectors found damaged (checksum): misses, re-encoded
    n_encoded: int | None = None  # unique texts run through the model
    encode_seconds: float | None = None  # tokenize + forward of the misses (model loading excluded)
    sentences_per_second: float | None = None  # n_encoded / encode_seconds (0 when nothing was encoded)
    peak_memory_bytes: int | None = None  # CUDA: torch max_memory_allocated; CPU: process peak RSS
    device: str | None = None  # "none" when the model was not loaded (everything cached)
    # The loaded model's dtype (None when nothing was loaded). Never written: a run's dtype is
    # recorded once, in its settings; older files that stored it here still load.
    dtype: str | None = Field(default=None, exclude=True)
    batch_size: int | None = None  # batch size (rows at full length) after any OOM halving
    n_tokens: int | None = None  # real tokens fed to the model (special tokens included)
    n_padded_tokens: int | None = None  # token positions processed incl. padding (>= n_tokens)
    model_load_seconds: float | None = None
    tasks_sharing_the_pass: int | None = None  # set by the runner: tasks scored from this pass
    dimension: int | None = None  # the length of the model's output vectors (set by the runner)


class Hardware(Frozen):
    """Where a run ran: the device asked for, the machine, and the GPU when there was one."""

    model_config = ConfigDict(frozen=True, extra="ignore")  # a newer harness's fields are read past

    device: str | None = None
    platform: str | None = None
    cpu: str | None = None
    cpu_count: int | None = None
    torch_threads: int | None = None
    gpu: str | None = None
    cuda: str | None = None


class VariantFacts(Frozen):
    """What a variant result scored (harness.variants): its vectors, its similarity, and its
    paired bootstrap against the same model's full vectors on the same pairs (fractions)."""

    dims: int  # dimensions scored (the model's full dimension when not cut)
    full_dims: int
    precision: Literal["float32", "int8", "ubinary"]
    bytes_per_vector: int
    similarity: str  # "cosine", or "negative Hamming distance" for ubinary
    calibration: str | None = None  # int8: where the quantisation ranges came from
    delta_vs_full: float | None = None  # variant - full, cosine Spearman
    delta_ci95: list[float] | None = None
    p_value: float | None = None


ProbeVerdict = Literal["ok", "degenerate", "too-few-pairs"]


class ProbeResult(Frozen):
    """The behaviour probe of one scored task (harness.probe): mean cosine of its paraphrase pairs
    minus that of unrelated pairs. Near 0 (collapsed output) is flagged, never ranked silently."""

    model_config = ConfigDict(frozen=True, extra="ignore")  # a newer harness's fields are read past

    verdict: ProbeVerdict
    gap: float | None = None  # paraphrase_mean - unrelated_mean; None: too few pairs to say
    paraphrase_mean: float | None = None
    unrelated_mean: float | None = None
    n_paraphrase: int = 0
    n_unrelated: int = 0
    threshold: float | None = None  # a gap below it is degenerate

    @property
    def gap_text(self) -> str:
        """``probe gap 0.01``, or why the probe gave no verdict."""
        if self.gap is None:
            return f"probe not judged: {self.n_paraphrase} paraphrase pairs"
        return f"probe gap {self.gap:.2f}"

    @property
    def message(self) -> str:
        """``output looks degenerate: probe gap 0.01``, or what else the probe found."""
        if self.gap is None:
            return self.gap_text
        flag = "output looks degenerate: " if self.verdict == "degenerate" else ""
        return f"{flag}{self.gap_text}"


RunStatus = Literal["ok", "error", "unavailable"]
# A model in a run's summary: a run status, or "skipped" (no selected task in its languages; tasks that
# were already stored are a list of their own, `already_stored`).
ModelStatus = Literal["ok", "error", "unavailable", "skipped"]
# How a model is encoded: the harness's own sentence-transformers path, or mteb's implementation.
EncodePath = Literal["sentence-transformers", "mteb"]

# Why a run has no score. The single list of kinds: run.failures writes them, the report words
# them (report.words.ERROR_KIND_TEXT has exactly these keys), and a stored record with any
# other kind does not validate.
ErrorKind = Literal[
    "weights-unavailable",  # planning: no weights anywhere (status "unavailable")
    "load-failed",  # the weights exist but do not load (corrupt, not a model folder, ...)
    "remote-code-refused",  # the model needs trust_remote_code, which was not given
    "out-of-memory",  # even batch size 1 (or the model itself) does not fit
    "non-finite",  # NaN/inf embeddings or undefined correlations
    "worker-failed",  # a Ray worker died or raised for good (infrastructure, not the model)
    "failed",  # anything else, with the exception type in the message
]


class RunRecord(Frozen):
    """One evaluated (task, subset, split) for one model revision, as stored in a result file.

    Fields it does not know (a newer harness added them in the same schema version) are read past,
    not fatal: the record is kept, never quarantined and recomputed.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    split: str
    subset: str
    status: RunStatus
    identity: str
    error: str | None = None
    error_kind: ErrorKind | None = None
    languages: list[str] = []
    settings: RunSettings = RunSettings()
    settings_hash: str | None = None
    data_revision: str | None = None
    data_source: str | None = None
    n_pairs: int | None = None
    scores: dict[str, float] = {}
    ci95: list[float] | None = None
    bootstrap: dict[str, Any] | None = None
    cosine_similarities: list[float] | None = None
    gold: list[float] | None = None
    off_card_language: bool = False  # the card does not list the task's language
    prompt_source: str | None = None  # where settings.prompt came from (harness.prompts), or why none
    encode_path: EncodePath | None = None  # the fast path, or mteb.get_model
    encode_path_reason: str | None = None
    encode: EncodeStats | None = None  # throughput, encode time, peak memory, device, batch size
    variant: VariantFacts | None = None  # set on a variant's result only (settings.dims/precision)
    probe: ProbeResult | None = None  # the behaviour probe (harness.probe); None: an older record
    hardware: Hardware | None = None
    versions: dict[str, str] = {}
    git_commit: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    evaluation_seconds: float | None = None

    @property
    def degenerate(self) -> str | None:
        """``output looks degenerate: probe gap 0.01`` when the probe flagged this result, else None."""
        return self.probe.message if self.probe is not None and self.probe.verdict == "degenerate" else None

    @field_validator("encode", "hardware", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == {} else value  # error records of version 1 stored {}
