"""mteb's model registry as the third source of model facts, next to the card and the model files.

`lookup(model_id)` gives mteb's `ModelMeta` for a model id as an `MtebFacts` record (offline: the
registry ships with mteb), or None when mteb does not know the id. `with_mteb(spec)` adds those
facts to a spec: it fills facts the card and files left unknown (license, parameters), and for
every fact both sides state (dimension, max tokens, parameters, languages, license) that disagrees
it adds one ``mteb-*-mismatch`` warning, like the card-vs-files checks. `encode_path(facts)` says
whether the harness's own sentence-transformers path reproduces mteb's loader for the model, or
whether the model must go through mteb's implementation (`mteb.get_model`).
"""

from __future__ import annotations

import functools
import logging
import warnings
from pathlib import Path
from typing import Any

from harness.languages import is_multilingual, normalize_language
from harness.model_files import read_json
from harness.records import EncodePath, Finding, ModelSpec, MtebFacts, Sourced

__all__ = [
    "FAST_PATH",
    "MTEB_PATH",
    "MtebFacts",
    "encode_path",
    "facts_from_meta",
    "lookup",
    "model_meta",
    "model_similarity",
    "mteb_warnings",
    "non_cosine",
    "with_mteb",
]

log = logging.getLogger(__name__)

FAST_PATH: EncodePath = "sentence-transformers"
MTEB_PATH: EncodePath = "mteb"
# mteb loaders that are a plain SentenceTransformer plus prompts: the fast path reproduces them.
_PLAIN_LOADERS = frozenset(
    {
        "SentenceTransformerEncoderWrapper",
        "SentenceTransformerMultimodalEncoderWrapper",
        "sentence_transformers_loader",
    }
)
# loader_kwargs the fast path applies itself (prompts) or that do not change a vector.
_FAST_KWARGS = frozenset({"model_prompts", "trust_remote_code", "device"})
# similarity functions other than cosine that the STS scores have a column for (harness.evaluate)
NON_COSINE = frozenset({"dot", "euclidean", "manhattan"})
PARAMETER_TOLERANCE = 0.05  # mteb rounds parameter counts (118_000_000); files count exactly
SOURCE = "mteb:ModelMeta"


@functools.cache
def _known_ids() -> frozenset[str]:
    """Every id mteb's registry answers for: its models' names and the old names it renames."""
    import importlib

    import mteb

    lookup = importlib.import_module("mteb.models.get_model_meta")
    renamed = getattr(lookup, "_MODEL_RENAMES", {})  # mteb's table of old ids; empty if it moves
    return frozenset({m.name for m in mteb.get_model_metas()} | set(renamed))


@functools.lru_cache(maxsize=1024)
def model_meta(model_id: str) -> Any | None:
    """mteb's `ModelMeta` for `model_id` (offline, from mteb's registry), or None when mteb lacks it."""
    if not model_id or not isinstance(model_id, str):
        return None
    try:
        import mteb
    except ImportError:  # mteb is a dependency; a broken install only loses this source
        return None
    if model_id not in _known_ids():  # mteb words a miss by fuzzy-matching ~1,000 names: 20-30 ms each
        return None
    # mteb warns about renamed ids through `warnings`; the harness reports its own findings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return mteb.get_model_meta(model_id)
        except (KeyError, ValueError):
            return None


def _loader_name(loader: Any) -> str | None:
    if loader is None:
        return None
    return getattr(loader, "__name__", None) or type(loader).__name__


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number == number and number not in (float("inf"), float("-inf")) else None


def facts_from_meta(meta: Any) -> MtebFacts:
    """The facts of one mteb `ModelMeta` as a plain record (languages as harness codes)."""
    kwargs = dict(getattr(meta, "loader_kwargs", None) or {})
    prompts = kwargs.get("model_prompts")
    prompts = {str(k): str(v) for k, v in prompts.items()} if isinstance(prompts, dict) else None
    dims = meta.embed_dim
    if isinstance(dims, list | tuple):
        dimension = [d for d in (_int_or_none(x) for x in dims) if d is not None]
    else:
        dimension = _int_or_none(dims)
    languages: list[str] = []
    for tag in meta.languages or []:
        code = normalize_language(tag)
        if code and code not in languages:
            languages.append(code)
    license_ = meta.license if isinstance(meta.license, str) and meta.license.strip() else None
    loader = _loader_name(meta.loader)
    return MtebFacts(
        name=str(meta.name),
        revision=meta.revision if isinstance(meta.revision, str) else None,
        loader=loader,
        loader_kwargs=sorted(str(k) for k in kwargs),
        model_prompts=prompts,
        trust_remote_code=bool(kwargs.get("trust_remote_code", False)),
        dimension=dimension,
        max_tokens=_int_or_none(meta.max_tokens),
        parameters=_int_or_none(meta.n_parameters),
        languages=languages,
        license=license_.strip() if license_ else None,
        release_date=str(meta.release_date) if meta.release_date else None,
        similarity=str(getattr(meta.similarity_fn_name, "value", meta.similarity_fn_name) or "") or None,
        use_instructions=meta.use_instructions if isinstance(meta.use_instructions, bool) else None,
        training_tasks=_training_tasks(meta),
    )


def _training_tasks(meta: Any) -> list[str] | None:
    """mteb's `get_training_datasets()` (its own, the adapted_from model's, similar tasks), sorted."""
    try:
        found = meta.get_training_datasets()
    except Exception:  # an mteb without it, or a broken adapted_from: mteb says nothing
        return None
    return None if found is None else sorted(str(x) for x in found)


def lookup(model_id: str | None) -> MtebFacts | None:
    """mteb's facts about `model_id`, or None when mteb does not know it."""
    meta = model_meta(model_id) if model_id else None
    return facts_from_meta(meta) if meta is not None else None


def encode_path(facts: MtebFacts | None) -> tuple[str, str]:
    """(path, why): ``sentence-transformers`` (the harness's fast path) or ``mteb`` (`mteb.get_model`)."""
    if facts is None:
        return FAST_PATH, "not in mteb's model registry: a sentence-transformers model"
    if facts.loader is None:
        return FAST_PATH, f"mteb knows {facts.name} but has no loader for it: a sentence-transformers model"
    if facts.loader not in _PLAIN_LOADERS:
        return MTEB_PATH, f"mteb loads {facts.name} with its own {facts.loader}"
    extra = [k for k in facts.loader_kwargs if k not in _FAST_KWARGS]
    if extra:
        return MTEB_PATH, f"mteb loads {facts.name} with {facts.loader} and {', '.join(extra)}"
    return FAST_PATH, f"mteb loads {facts.name} with {facts.loader} (a plain sentence-transformers model)"


def model_similarity(facts: MtebFacts | None, model_dir: Path | None) -> str | None:
    """The model's own similarity function when it is not cosine (None: cosine), by mteb's rule:
    mteb's STS evaluator scores ``pearson``/``spearman`` with ``ModelMeta.similarity_fn_name`` when
    mteb's metadata names one, else with the sentence-transformers model's own (its
    ``config_sentence_transformers.json``; cosine when it names none). A function the STS scores
    have no column for (mteb's ``MaxSim``) stays cosine."""
    named = facts.similarity if facts is not None else None
    if named is None and model_dir is not None:
        data, _problem = read_json(Path(model_dir) / "config_sentence_transformers.json")
        named = data.get("similarity_fn_name") if isinstance(data, dict) else None
    return non_cosine(named)


def non_cosine(name: object) -> str | None:
    """`name` when it is a similarity function other than cosine that the STS scores have a column
    for, else None (cosine: what a run records as no similarity at all)."""
    return name if isinstance(name, str) and name in NON_COSINE else None


# ------------------------------------------------------------------ cross-checks


def _fmt_list(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _dimension_agrees(ours: int, theirs: int | list[int]) -> bool:
    return ours in theirs if isinstance(theirs, list) else ours == theirs


def mteb_warnings(spec: ModelSpec, facts: MtebFacts) -> list[Finding]:
    """One warning per fact where the spec (card or files) and mteb's metadata disagree."""
    out: list[Finding] = []

    def differ(code: str, what: str, ours: Sourced, theirs: str) -> None:
        out.append(
            Finding(
                code=code,
                message=f"{what}: {ours.value} ({ours.source}) but mteb's metadata for "
                f"{facts.name} says {theirs}",
            )
        )

    dim = spec.dimension
    known = facts.dimension not in (None, [])
    if isinstance(dim.value, int) and known and not _dimension_agrees(dim.value, facts.dimension):
        differ("mteb-dimension-mismatch", "dimension", dim, str(facts.dimension))
    seq = spec.max_seq_length
    if isinstance(seq.value, int) and facts.max_tokens is not None and seq.value != facts.max_tokens:
        differ("mteb-max-tokens-mismatch", "max tokens", seq, str(facts.max_tokens))
    params = spec.parameters
    if (
        isinstance(params.value, int)
        and params.value > 0
        and facts.parameters
        and abs(params.value - facts.parameters) > PARAMETER_TOLERANCE * facts.parameters
        and not (params.source or "").startswith("mteb:")
    ):
        differ("mteb-parameters-mismatch", "parameters", params, f"{facts.parameters:,}")
    ours_langs = [x for x in spec.language_list if not is_multilingual(x)]
    if ours_langs and facts.languages and spec.language_source in ("card", "override"):
        missing = [x for x in ours_langs if x not in facts.languages]
        extra = [] if spec.is_multilingual else [x for x in facts.languages if x not in ours_langs]
        if missing or extra:
            parts = [f"does not list {_fmt_list(missing)}"] if missing else []
            parts += [f"also lists {_fmt_list(extra)}"] if extra else []
            differ(
                "mteb-languages-mismatch",
                "languages",
                Sourced(value=", ".join(ours_langs), source=spec.languages.source),
                f"{len(facts.languages)} language(s) and {' and '.join(parts)}",
            )
    lic = spec.license
    if (
        isinstance(lic.value, str)
        and facts.license
        and lic.value.strip().lower() != facts.license.lower()
        and not (lic.source or "").startswith("mteb:")
    ):
        differ("mteb-license-mismatch", "license", lic, facts.license)
    return out


def with_mteb(spec: ModelSpec, facts: MtebFacts | None = None) -> ModelSpec:
    """The spec with mteb's facts attached, unknown license/parameters filled, disagreements warned.

    `facts` defaults to `lookup(spec.model_id)`; a spec whose id mteb does not know is returned
    unchanged (``mteb`` stays None). Calling it again replaces the earlier mteb warnings, so a
    spec cross-checked before and after its model files were read carries each warning once.
    """
    if facts is None:
        facts = lookup(spec.model_id.value)
    if facts is None:
        return spec
    update: dict[str, Any] = {"mteb": facts}
    if spec.license.value is None and facts.license:
        update["license"] = Sourced(value=facts.license, source=f"{SOURCE}.license")
    if spec.parameters.value is None and facts.parameters:
        update["parameters"] = Sourced(value=facts.parameters, source=f"{SOURCE}.n_parameters")
    merged = spec.model_copy(update=update)
    kept = [w for w in spec.warnings if not w.code.startswith("mteb-")]
    update["warnings"] = kept + mteb_warnings(merged, facts)
    return spec.model_copy(update=update)
