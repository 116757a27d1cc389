"""Planning a run, without writing anything: which models, which tasks, which of them are pending.

Planning reads the registry, the task catalog and data, where each model's weights are (and
their revision), and which results are already stored; it writes nothing. A model that cannot
run (no weights, unreadable weights) comes back as an :class:`Unrunnable` value, which the
driver turns into error results.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from harness import store
from harness.bootstrap import N_RESAMPLES, SEED
from harness.errors import ModelLoadError, WeightsUnavailable
from harness.records import DType, ErrorKind, Finding, ModelSpec, RunSettings, Sourced, StsPairs, StsTask
from harness.run.facts import off_card
from harness.run.failures import classify
from harness.run.jobs import ModelJob, Weights, task_id, variant_key
from harness.variants import variants_for


@dataclass(frozen=True)
class RunOptions:
    """One run's settings, as :func:`harness.config.resolve` resolved them (the command line passes
    its ``Config`` values down; planning and the workers read no environment variable for them).
    ``data_dir`` None: no local data; ``cache_dir`` None: the user cache folder."""

    languages: list[str]
    results_dir: Path
    registry_dir: Path
    model_names: list[str] = field(default_factory=list)
    task_names: list[str] = field(default_factory=list)
    pairs_files: list[Path] = field(default_factory=list)
    data_dir: Path | None = None
    models_dirs: list[Path] = field(default_factory=list)
    cache_dir: Path | None = None
    use_cache: bool = True
    dtype: str = "auto"
    batch_size: int | str = "auto"
    device: str | None = None
    splits: list[str] | None = None  # None: each task's own (test where mteb evaluates one)
    force: bool = False
    trust_remote_code: bool = False
    allow_hub: bool | None = None  # None: only when the Hub is not switched off by HF_HUB_OFFLINE
    bootstrap_resamples: int = N_RESAMPLES
    seed: int = SEED
    dims: list[int] = field(default_factory=list)  # --dims: cuts scored besides the full vectors
    precisions: list[str] = field(default_factory=list)  # --precision: int8, ubinary (harness.variants)


@dataclass(frozen=True)
class Unrunnable:
    """A model planning could make no job for: each of its tasks becomes an error result."""

    kind: ErrorKind
    message: str
    settings: RunSettings
    tasks: list[StsTask]


@dataclass(frozen=True)
class ModelPlan:
    """What planning decided for one model: a job, an unrunnable model, or nothing to do (and why)."""

    spec: ModelSpec
    job: ModelJob | None = None
    unrunnable: Unrunnable | None = None
    already_stored: list[str] = field(default_factory=list)  # labels of tasks already stored
    status: Literal["ok", "skipped"] = "ok"  # skipped: no selected task in its languages
    reason: str | None = None
    revision: str | None = None  # the weights' revision, when they were found


# ---------------------------------------------------------------- environment facts


def hub_allowed(option: bool | None) -> bool:
    if option is not None:
        return option
    from harness.tasks.hub import offline_reason

    return offline_reason() is None


def models_dirs_from(option: Iterable[Path]) -> list[Path]:
    """The folders to search for weights, in order, each once. The command line resolves them
    (option, else HARNESS_MODELS_DIR, else the configuration file: see harness.config)."""
    return list(dict.fromkeys(Path(p) for p in option))


# ---------------------------------------------------------------- model and task selection


def adhoc_spec(name: str) -> ModelSpec | None:
    """A spec for a Hub id that is not in the registry (the user named it explicitly)."""
    from harness.card import KEY_RE, classify_model_id

    key = name.lower().replace("/", "__")
    if classify_model_id(name)[0] != "ok" or not KEY_RE.match(key) or ".." in key:
        return None
    return ModelSpec(
        key=key,
        source="(command line)",
        model_id=Sourced(value=name, source="command-line"),
        warnings=[Finding(code="not-in-registry", message=f"{name} has no card in the registry")],
    )


def select_models(
    specs: list[ModelSpec], options: RunOptions
) -> tuple[list[tuple[ModelSpec, bool]], list[str]]:
    """Models to run, each with whether it was named explicitly; plus names that matched nothing."""
    from harness.registry import find_model

    if options.model_names:
        chosen: list[tuple[ModelSpec, bool]] = []
        missing: list[str] = []
        for name in options.model_names:
            spec = find_model(specs, name) or adhoc_spec(name)
            if spec is None:
                missing.append(name)
            elif spec.key not in {s.key for s, _ in chosen}:
                chosen.append((spec, True))
        return chosen, missing
    chosen = [
        (spec, False)
        for spec in specs
        if not spec.errors and any(spec.covers(lang) for lang in options.languages)
    ]
    return chosen, []


def entry_problem(spec: ModelSpec) -> str:
    """Why a registry entry cannot run, naming its folder (``<entry>: registry.toml: invalid TOML ...``)."""
    folder = Path(spec.source)
    if folder.suffix:
        folder = folder.parent
    return f"{folder}: {'; '.join(spec.errors)}"


def broken_entries(specs: list[ModelSpec], options: RunOptions) -> list[ModelSpec]:
    """Registry entries with errors that a --lang selection would otherwise have run, and those whose
    languages are unknown because their card could not be read: none is silently left out."""
    if options.model_names:
        return []
    return [
        s
        for s in specs
        if s.errors
        and (
            any(s.covers(lang) for lang in options.languages) or (not s.language_list and not s.multilingual)
        )
    ]


def nothing_selected(specs: list[ModelSpec], options: RunOptions) -> str:
    """Why no model was selected, and what would select one."""
    if not options.languages:
        return "no model selected: name models with --model NAME, or a language with --lang LANG"
    covered = sorted({lang for s in specs if not s.errors for lang in s.language_list})
    there = f"its models cover {', '.join(covered)}" if covered else "it has no runnable model"
    return (
        f"no model in the registry {options.registry_dir} covers {', '.join(options.languages)} ({there}); "
        "name one with --model NAME to run it off its card"
    )


def select_tasks(options: RunOptions, errors: list[str] | None = None) -> list[StsTask]:
    """Catalog tasks plus --pairs files. A bad pairs file goes to `errors` and the rest still run."""
    from harness import tasks as tasks_mod

    data_dir = options.data_dir
    selected: list[StsTask] = []
    if options.languages or options.task_names:
        selected = tasks_mod.catalog(
            languages=options.languages or None,
            data_dir=data_dir,
            splits=options.splits,
            names=options.task_names or None,
        )
    seen: dict[str, Path] = {}
    taken: set[str] = set()  # the files already read: the same file named twice is one task
    for path in options.pairs_files:
        try:
            task = tasks_mod.pairs_task(path, language=options.languages[0] if options.languages else None)
        except tasks_mod.DataError as exc:
            if errors is None:
                raise
            errors.append(str(exc))
            continue
        if task.local_files[0] in taken:
            continue
        taken.add(task.local_files[0])
        if task.name in seen:  # both would be stored as one task; refuse rather than overwrite
            message = f"{path}: same task name {task.name!r} as {seen[task.name]}; rename one of the files"
            if errors is None:
                raise tasks_mod.DataError(message)
            errors.append(message)
            continue
        seen[task.name] = path
        selected.append(task)
    return selected


# ---------------------------------------------------------------- weights


def _subfolder(parent: Path, names: list[str]) -> Path | None:
    """The folder of `parent` named by one of `names`: an exact match first (in the order of `names`),
    else the one folder whose name matches only by case; two of those are a ModelLoadError naming both
    (never one picked without a word)."""
    if not parent.is_dir():
        return None
    children = [child for child in sorted(parent.iterdir()) if child.is_dir()]
    for name in names:
        exact = [child for child in children if child.name == name]
        if exact:
            return exact[0]
    wanted = {n.lower() for n in names}
    by_case = [child for child in children if child.name.lower() in wanted]
    if len(by_case) > 1:
        both = " and ".join(str(child) for child in by_case)
        raise ModelLoadError(
            f"{both} differ only in case and neither is named exactly {names[0]!r}; rename one"
        )
    return by_case[0] if by_case else None


def locate_weights(spec: ModelSpec, models_dirs: list[Path], allow_hub: bool) -> Weights:
    """Find weights: --models-dir, the registry's local path, the HF cache, then the Hub."""
    from harness.encode import weights_revision

    names = [spec.key]
    model_id = spec.model_id.value
    if model_id:
        names.append(model_id.replace("/", "__"))
    for parent in models_dirs:
        found = _subfolder(parent, names)
        if found is not None:
            return Weights(str(found), "models-dir", weights_revision(found), found)
    if spec.local_path.value:
        local = Path(spec.local_path.value)
        if local.is_dir():
            return Weights(str(local), "registry-path", weights_revision(local), local)
    if model_id:
        cached = _hf_cache_snapshot(model_id, spec.revision.value)
        if cached is not None:
            return Weights(str(cached), "hf-cache", cached.name, cached)
        if allow_hub:
            revision = spec.revision.value or _hub_revision(model_id)
            return Weights(model_id, "hub", revision, None)
    searched = ", ".join(str(p) for p in models_dirs) or "no --models-dir"
    if spec.local_path.value:
        searched = f"registry.toml path {spec.local_path.value!r} is not a folder; also searched {searched}"
    if not model_id:
        raise WeightsUnavailable(f"no weights found (searched {searched}) and the card has no Hub id")
    raise WeightsUnavailable(
        f"no weights found (searched {searched}, the Hugging Face cache) and the Hub is offline"
    )


def _hf_cache_snapshot(model_id: str, revision: str | None) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(model_id, "modules.json", revision=revision)
    except Exception:
        return None
    if isinstance(hit, str):
        return Path(hit).parent
    return None


def _hub_revision(model_id: str) -> str:
    try:
        from huggingface_hub import HfApi

        sha = HfApi().model_info(model_id).sha
    except Exception as exc:
        raise WeightsUnavailable(f"{model_id}: not reachable on the Hub ({type(exc).__name__})") from None
    return sha or "main"


# ---------------------------------------------------------------- settings and identities


def settings_for(
    spec: ModelSpec,
    dtype: DType,
    trust_remote_code: bool,
    *,
    files_checked: bool = True,
    encoder: str | None = None,
    similarity: str | None = None,
) -> RunSettings:
    """The settings a model runs with. max_seq_length is applied only when the model's own files
    were read (crosscheck makes them authoritative); a Hub model keeps its own configuration
    rather than a number a card may have wrong, and its revision pins that configuration.
    `encoder` names mteb's implementation when the model runs through it (None: the fast path);
    `similarity` the model's own similarity function when not cosine (`mteb_meta.model_similarity`);
    each task's prompt is added by `ModelJob.settings_of`."""
    return RunSettings(
        dtype=dtype,
        max_seq_length=spec.max_seq_length.value if files_checked else None,
        pooling=spec.pooling.value,
        normalize=bool(spec.normalize.value),
        trust_remote_code=trust_remote_code,
        encoder=encoder,
        similarity=similarity,
    )


@dataclass(frozen=True)
class EncodePlan:
    """How a model's sentences are encoded: the path, why, and each task's prompt with its source."""

    path: str
    reason: str
    encoder: str | None  # RunSettings.encoder: None on the fast path
    prompts: dict[str, str | None]  # by task id
    sources: dict[str, str | None]  # by task id


def encode_plan(spec: ModelSpec, tasks: list[StsTask]) -> EncodePlan:
    """The fast path with mteb's prompt per task, or mteb's own implementation (which prompts itself)."""
    from harness.encode.mteb_path import encoder_name
    from harness.mteb_meta import FAST_PATH, encode_path
    from harness.prompts import loader_source, prompt_for

    path, reason = encode_path(spec.mteb)
    if path == FAST_PATH:
        chosen = {task_id(t): prompt_for(spec, t.name) for t in tasks}
        return EncodePlan(
            path,
            reason,
            None,
            {k: v.value for k, v in chosen.items()},
            {k: v.source for k, v in chosen.items()},
        )
    loader = spec.mteb.loader if spec.mteb is not None else None
    note = loader_source(loader)  # execute adds what the wrapper applied
    return EncodePlan(path, reason, encoder_name(loader), {}, {task_id(t): note for t in tasks})


def identity(revision: str, task: StsTask, settings: RunSettings) -> str:
    return store.run_identity(
        revision=revision,
        task_name=task.name,
        subset=task.subset,
        split=task.split,
        data_revision=task.revision,
        settings_hash=settings.identity_hash(),
    )


def plan_model(
    spec: ModelSpec,
    explicit: bool,
    tasks: list[StsTask],
    pairs: dict[str, StsPairs],
    options: RunOptions,
    device: str,
    dtype: DType,
    models_dirs: list[Path],
    allow_hub: bool,
) -> ModelPlan:
    """A job for the model's tasks that are not stored yet; or why there is none."""
    from harness.card import crosscheck
    from harness.mteb_meta import model_similarity
    from harness.prompts import with_sources

    my_tasks = [t for t in tasks if explicit or not off_card(spec, t)]
    if not my_tasks:
        return ModelPlan(spec, status="skipped", reason="no selected task in its languages")
    try:
        weights = locate_weights(spec, models_dirs, allow_hub)
    except (WeightsUnavailable, ModelLoadError) as exc:
        kind, message = classify(exc)
        settings = settings_for(spec, dtype, options.trust_remote_code)
        return ModelPlan(spec, unrunnable=Unrunnable(kind, message, settings, my_tasks))

    if weights.local_dir is not None:
        spec = crosscheck(spec, weights.local_dir)  # the model's own files are authoritative for the run
    spec = with_sources(spec, weights.local_dir)  # mteb's metadata, and the prompts from the files at hand
    how = encode_plan(spec, my_tasks)
    files_checked = weights.local_dir is not None
    settings = settings_for(
        spec,
        dtype,
        options.trust_remote_code,
        files_checked=files_checked,
        encoder=how.encoder,
        similarity=model_similarity(spec.mteb, weights.local_dir),
    )
    variants = variants_for(spec, options.dims, options.precisions, how.encoder)  # VariantUsageError
    task_settings = {
        task_id(t): settings.model_copy(update={"prompt": how.prompts.get(task_id(t))}) for t in my_tasks
    }
    identities = {
        tid: identity(weights.revision, t, task_settings[tid]) for t in my_tasks if (tid := task_id(t))
    }
    variant_ids = {
        variant_key(tid, v): identity(weights.revision, t, v.settings(task_settings[tid]))
        for t in my_tasks
        if (tid := task_id(t))
        for v in variants
    }
    done = (
        set()
        if options.force
        else store.completed_identities(options.results_dir, spec.key, weights.revision, spec.model_id.value)
    )
    pending_variants = {
        tid: [v for v in variants if variant_ids[variant_key(tid, v)] not in done]
        for t in my_tasks
        if (tid := task_id(t))
    }
    pending = [t for t in my_tasks if identities[task_id(t)] not in done or pending_variants[task_id(t)]]
    already_stored = [t.label for t in my_tasks if identities[task_id(t)] in done]
    if not pending:
        reason = f"all {len(my_tasks)} task(s) already stored (--force recomputes)"
        return ModelPlan(spec, already_stored=already_stored, reason=reason, revision=weights.revision)
    job = ModelJob(
        spec=spec,
        weights=weights,
        settings=settings,
        tasks=pending,
        pairs={task_id(t): pairs[task_id(t)] for t in pending},
        identities={
            task_id(t): identities[task_id(t)] for t in pending if identities[task_id(t)] not in done
        },
        variants={task_id(t): pending_variants[task_id(t)] for t in pending if pending_variants[task_id(t)]},
        variant_identities={k: v for k, v in variant_ids.items() if v not in done},
        device=device,
        batch_size=options.batch_size,
        bootstrap_resamples=options.bootstrap_resamples,
        seed=options.seed,
        cache_dir=_cache_dir(options.cache_dir) if options.use_cache else None,
        prompts={k: v for k, v in how.prompts.items() if k in {task_id(t) for t in pending}},
        prompt_sources=how.sources,
        encode_path=how.path,
        encode_path_reason=how.reason,
    )
    return ModelPlan(spec, job=job, already_stored=already_stored, revision=weights.revision)


def _cache_dir(option: Path | None) -> Path:
    """The resolved cache folder D (``--cache-dir D`` or ``HARNESS_CACHE_DIR=D``): D/embeddings."""
    from harness.encode import default_cache_dir

    return default_cache_dir(option)
