"""Every STS score a card claims for its own model, as `Claim` records.

Sources, read in this order: the YAML ``model-index`` (only results whose task is STS: MTEB's
SummEval, retrieval or classification results are not STS claims), Markdown and HTML tables
(`claim_tables`), then prose, lists, code-block output and CSV lines (`claim_text`). Equal claims
merge into one with several `sources`: the same number in the model-index and in a table, or an
unspecified-similarity claim equal to a cosine one. Claims on different similarity functions stay
apart (``spearman_max`` equal to ``spearman_cosine`` is its own claim, never compared), and so do
an average and a training log's earlier rows (`Claim.aggregate_of`, `Claim.history`). The earlier
rows of a training log come after the claims, and are capped apart from them.
"""

from __future__ import annotations

from harness.card.claim_tables import table_claims
from harness.card.claim_text import text_claims
from harness.card.claim_words import (
    MAX_CLAIMS,
    SPLITS,
    Found,
    Metric,
    dataset_info,
    make_claim,
    metric_of,
    read_value,
    subset_of,
)
from harness.card.evidence import Evidence, clip, fmt
from harness.card.markdown import Document
from harness.records import Claim
from harness.sts_datasets import normalise, sts_dataset

MAX_MODEL_INDEX_METRICS = 20_000
_STS_TASK_TYPES = {"sts", "semanticsimilarity", "semantictextualsimilarity", "sentencesimilarity"}


def _is_sts_task(task: object, label: str) -> bool:
    kind = task.get("type") if isinstance(task, dict) else None
    if isinstance(kind, str) and kind.strip():
        return normalise(kind) in _STS_TASK_TYPES
    return sts_dataset(label).is_sts is not False


def _index_metric(metric: dict, mteb_sts: bool) -> tuple[Metric | None, str]:
    raw_type = metric.get("type") or metric.get("name") or ""
    mtype = (raw_type if isinstance(raw_type, str) else fmt(raw_type))[:80]
    if mtype.strip().lower() == "main_score" and mteb_sts:
        return Metric("spearman", "cosine"), mtype  # MTEB's main score of an STS task
    found = metric_of(mtype)
    if found is None and isinstance(metric.get("name"), str):
        found = metric_of(metric["name"])
    return found, mtype


def _is_mteb(name: str) -> bool:
    return name.strip().upper().startswith("MTEB ")


def _mteb_in_percent(index: list) -> bool:
    """Whether the card's MTEB results are on MTEB's 0-100 scale: then a 0.03 among them is 0.03%."""
    seen = 0
    for entry in index[:50]:
        for res in (entry.get("results") if isinstance(entry, dict) else None) or []:
            ds = res.get("dataset") if isinstance(res, dict) else None
            if not isinstance(ds, dict) or not _is_mteb(str(ds.get("name", ""))):
                continue
            for metric in res.get("metrics") or []:
                seen += 1
                value = metric.get("value") if isinstance(metric, dict) else None
                if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) > 1:
                    return True
                if seen > MAX_MODEL_INDEX_METRICS:
                    return False
    return False


def model_index_claims(ev: Evidence, meta: dict) -> list[Found]:
    mi = meta.get("model-index")
    if mi is None:
        return []
    if not isinstance(mi, list):
        ev.warn("invalid-model-index", "model-index in the front matter is not a list; ignored")
        return []
    out: list[Found] = []
    seen = 0  # metrics looked at: YAML aliases can repeat one list of results thousands of times
    mteb_percent = _mteb_in_percent(mi)
    for entry in mi[:50]:
        results = entry.get("results") if isinstance(entry, dict) else None
        if not isinstance(results, list):
            ev.warn("invalid-model-index", "a model-index entry has no list of results; ignored")
            continue
        for res in results[:1000]:
            if not isinstance(res, dict):
                continue
            ds = res.get("dataset") if isinstance(res.get("dataset"), dict) else {}
            # the name as the card shows it ("MTEB STS22.v2 (ar)": task, version and subset), else the
            # Hub id, which names no version ("mteb/sts22-crosslingual-sts" is STS22 and STS22.v2)
            label = next((str(ds[k]) for k in ("name", "type") if isinstance(ds.get(k), str)), "")
            task = res.get("task")
            if not _is_sts_task(task, label):
                continue
            mteb_sts = isinstance(task, dict) and normalise(str(task.get("type", ""))) == "sts"
            dataset, split, lang = dataset_info(label) if label else (None, None, None)
            if isinstance(ds.get("split"), str) and ds["split"].strip():
                split = SPLITS.get(ds["split"].strip().lower(), clip(ds["split"].strip(), 40))
            config = ds.get("config")
            lang = lang or subset_of(config if isinstance(config, str) else None)
            if lang is None:
                lang = subset_of(sts_dataset(label).subset)
            metrics = res.get("metrics")
            if not isinstance(metrics, list):
                continue
            numbers = [m.get("value") for m in metrics[:200] if isinstance(m, dict)]
            percent = any(
                isinstance(v, int | float) and not isinstance(v, bool) and abs(v) > 1 for v in numbers
            )
            percent = percent or (mteb_percent and _is_mteb(label))
            for metric in metrics[:200]:
                seen += 1
                if seen > MAX_MODEL_INDEX_METRICS or len(out) > 2 * MAX_CLAIMS:
                    ev.warn("too-many-claims", "the model-index lists too many scores; read no further")
                    return out
                if not isinstance(metric, dict):
                    continue
                kind, mtype = _index_metric(metric, mteb_sts)
                if kind is None:
                    continue
                value, decimals, problem = read_value(metric.get("value"), percent=percent)
                if problem or value is None:
                    ev.warn(
                        "invalid-claim",
                        f"model-index {mtype} = {fmt(metric.get('value'))} on {label or 'a dataset'}: "
                        f"{problem}; not a claim",
                    )
                    continue
                if split is None:
                    ev.warn("claim-without-split", f"model-index claim {mtype} on {label!r} names no split")
                claim = make_claim(
                    kind,
                    value,
                    dataset=dataset,
                    split=split,
                    language=lang,
                    source="model-index",
                    quote=f"model-index: {label}: {mtype} = {metric.get('value')}",
                )
                out.append(Found(claim, decimals))
    return out


# --------------------------------------------------------------------------------------------
# merging equal claims


def _same_split(a: str | None, b: str | None) -> bool:
    dev = {"dev", "validation"}
    return a is None or b is None or a == b or (a in dev and b in dev)


def same_dataset(a: str | None, b: str | None) -> bool:
    """Whether two dataset names can be the same dataset (unknown matches anything)."""
    if not a or not b:
        return True
    x, y = normalise(a), normalise(b)
    if x == y or (x and y and (x in y or y in x)):
        return True
    ta, tb = sts_dataset(a).mteb_task, sts_dataset(b).mteb_task
    return ta is not None and ta == tb


def _tolerance(found: Found) -> float:
    return 0.5 * 10 ** (-found.decimals) + 1e-9 if found.decimals is not None else 1e-9


def _equal(a: Found, b: Found, *, metric: bool = True) -> bool:
    x, y = a.claim, b.claim
    sims = {x.similarity, y.similarity}
    return (
        (x.metric == y.metric or not metric)
        and (x.history, x.checkpoint, x.aggregate_of) == (y.history, y.checkpoint, y.aggregate_of)
        and (len(sims) == 1 or sims == {"unspecified", "cosine"})  # never an unnamed one into euclidean
        and abs(x.value - y.value) <= max(_tolerance(a), _tolerance(b))
        and _same_split(x.split, y.split)
        and (x.language is None or y.language is None or x.language == y.language)
        and same_dataset(x.dataset, y.dataset)
    )


def _merged(kept: Claim, other: Claim) -> Claim:
    update: dict = {"sources": list(dict.fromkeys([*kept.sources, *other.sources]))}
    if kept.similarity == "unspecified" and other.similarity != "unspecified":
        update["similarity"] = other.similarity
    for field in ("dataset", "split", "language", "mteb_task"):
        if getattr(kept, field) is None and getattr(other, field) is not None:
            update[field] = getattr(other, field)
    return kept.model_copy(update=update)


def merge(found: list[Found]) -> list[Claim]:
    """One claim per distinct claim, in the order first found; equal ones merge their sources. A
    number whose metric the card does not state there ("| STS17 | 83 |") is the same claim as an
    equal one read before whose metric is stated (the model-index's cosine_spearman 0.8312), when
    only one metric's claims equal it."""
    kept: list[Found] = []
    for f in found:
        hit = next((i for i, k in enumerate(kept) if _equal(k, f)), None)
        if hit is None and f.claim.metric == "unstated":
            same = [i for i, k in enumerate(kept) if _equal(k, f, metric=False)]
            if len({kept[i].claim.metric for i in same}) == 1:
                hit = same[0]
        if hit is None:
            kept.append(f)
        else:
            kept[hit] = Found(_merged(kept[hit].claim, f.claim), kept[hit].decimals)
    return [k.claim for k in kept]


def read_claims(ev: Evidence, meta: dict, doc: Document, self_names: list[str]) -> None:
    """All the card's STS claims for its own model, merged, into `ev.claims`."""
    langs = ev.values("languages", "yaml:language") + ev.values("languages", "description:Language")
    only = langs[0][0] if langs and len(langs[0]) == 1 and not ev.multilingual else None
    found = model_index_claims(ev, meta)
    found += table_claims(ev, doc, self_names, only)
    found += text_claims(ev, doc, only)
    merged = merge(found)
    claims = [c for c in merged if not c.history]
    history = [c for c in merged if c.history]  # a long training log never crowds out the claims
    if len(claims) > MAX_CLAIMS:
        ev.warn("too-many-claims", f"the card makes {len(claims)} claims; kept the first {MAX_CLAIMS}")
    ev.claims = claims[:MAX_CLAIMS] + history[:MAX_CLAIMS]
