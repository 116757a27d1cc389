"""The results folder as mteb reads it: model folder names and ``model_meta.json``.

mteb's ``ResultCache`` reads ``<cache>/results/<org>__<Name>/<revision>/<Task>.json`` and takes the
model's name and revision from ``model_meta.json`` in the revision folder (it skips folders
without one by default). The harness writes the same layout:

- the model folder is the model's Hub id as the Hub spells it, ``/`` -> ``__`` (mteb's
  ``ModelMeta.model_name_as_path``), so our results and MTEB's published ones join on the name;
  a model without a Hub id is ``harness-local/<registry key>`` (mteb requires ``org/name``);
- ``model_meta.json`` is mteb's own ``ModelMeta`` for the model when mteb knows it, with the
  revision the harness evaluated; otherwise one built from the card's facts and validated by
  mteb's ``ModelMeta`` (a fact mteb's schema refuses, such as a license outside its list, is
  left out);
- tasks that are not MTEB tasks (``GermanSTSBenchmark-deepl``, a ``<Task>-local`` copy, a user's
  pairs file) live in ``<revision>/harness-local/``: mteb's loaders glob ``*/*/*.json`` and
  ``*/*/experiments/*/*.json``, so they never see them, while the harness reads both.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from typing import Any

from harness.languages import mteb_language
from harness.records import ModelSpec

LOCAL_TASKS_FOLDER = "harness-local"
MODEL_META_FILE = "model_meta.json"
LOCAL_ORG = "harness-local"  # org of a model without a Hub id


_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


def name_for(model_id: str | None, model_key: str) -> str:
    """The model's name as mteb spells it: its Hub id, else ``harness-local/<registry key>``."""
    if isinstance(model_id, str) and _HUB_ID.match(model_id) and ".." not in model_id:
        return model_id
    return f"{LOCAL_ORG}/{model_key}"


def model_name(spec: ModelSpec) -> str:
    """:func:`name_for` a registry entry."""
    return name_for(spec.model_id.value, spec.key)


def folder_name(name: str) -> str:
    """mteb's ``ModelMeta.model_name_as_path``: ``org/Name`` -> ``org__Name``."""
    return name.replace("/", "__").replace(" ", "_")


@functools.cache
def mteb_dataset_revision(task_name: str) -> str | None:
    """MTEB's Hub dataset revision of a task, or None when mteb has no task by that name."""
    import warnings

    if not task_name or ":" in task_name:
        return None
    try:
        import mteb

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            task = mteb.get_task(task_name)
    except Exception:  # KeyError for an unknown name, whatever else a broken install raises
        return None
    if task.metadata.name != task_name:
        return None
    revision = task.metadata.dataset.get("revision")
    return revision if isinstance(revision, str) else None


def is_mteb_task(task_name: str) -> bool:
    """Whether mteb knows a task by this name (a harness-local name is not one)."""
    return mteb_dataset_revision(task_name) is not None


def _language_scripts(codes: list[str]) -> list[str]:
    """ISO 639-1 codes -> mteb's ``xxx-Scrp`` (``de`` -> ``deu-Latn``); unknown ones are dropped."""
    from mteb.languages import check_language_code

    out: list[str] = []
    for code in codes:
        tag = mteb_language(code)  # the one vocabulary: tl stays tgl, not langcodes' fil
        if tag is None:
            continue
        with contextlib.suppress(ValueError, LookupError, AttributeError):
            check_language_code(tag)
            if tag not in out:
                out.append(tag)
    return out


def _from_card(spec: ModelSpec | None, name: str, revision: str) -> Any:
    from mteb.models.model_meta import ModelMeta
    from pydantic import ValidationError

    facts: dict[str, Any] = {
        "loader": None,
        "name": name,
        "revision": revision,
        "release_date": None,
        "languages": None,
        "n_parameters": None,
        "memory_usage_mb": None,
        "max_tokens": None,
        "embed_dim": None,
        "license": None,
        "open_weights": True,
        "public_training_code": None,
        "public_training_data": None,
        "framework": ["Sentence Transformers"],
        "similarity_fn_name": "cosine",
        "use_instructions": False,
        "training_datasets": None,
    }
    if spec is not None:
        facts.update(
            languages=_language_scripts(spec.language_list) or None,
            n_parameters=spec.parameters.value,
            max_tokens=spec.max_seq_length.value,
            embed_dim=spec.dimension.value,
            license=spec.license.value,
            adapted_from=spec.base_model.value,
            reference=f"https://huggingface.co/{name}" if spec.model_id.value == name else None,
        )
    for _ in range(len(facts)):
        try:
            return ModelMeta(**facts)
        except ValidationError as exc:
            refused = {str(err["loc"][0]) for err in exc.errors() if err.get("loc")}
            if not refused or refused & {"name", "revision", "loader"}:
                raise
            for field in refused:
                facts[field] = None
    return ModelMeta(**facts)


def model_meta_json(name: str, revision: str, spec: ModelSpec | None = None) -> dict[str, Any]:
    """``model_meta.json`` for one model revision, as mteb's ``ResultCache.save_to_cache`` writes it.

    mteb's own ``ModelMeta`` for `name` when mteb knows it (with `revision`), else one built from
    the card of `spec` (or from the name and revision alone when there is no card).
    """
    from harness.mteb_meta import model_meta

    known = model_meta(name) if not name.startswith(f"{LOCAL_ORG}/") else None
    if known is not None and known.name == name:
        meta = known.model_copy(update={"revision": revision})
    else:
        meta = _from_card(spec, name, revision)
    return json.loads(json.dumps(meta.to_dict(), default=str))
