"""`harness score MODEL_PATH PAIRS_FILE`: one local model on one pairs file, no registry, no results."""

from __future__ import annotations

import json
from pathlib import Path

from harness.records import ProbeResult, RunSettings
from harness.stderr import say

SCORE_KEYS = [
    "cosine_spearman",
    "cosine_pearson",
    "manhattan_spearman",
    "euclidean_spearman",
    "dot_spearman",
]


def folder_prompt(model_path: Path, task_name: str) -> str | None:
    """The prompt a bare model folder's own config gives an STS task (mteb's rule; no registry here)."""
    from harness.prompts import prompt_for, with_prompts
    from harness.records import ModelSpec

    spec = with_prompts(ModelSpec(key="score", source=""), model_path)
    return prompt_for(spec, task_name).value


def score_pairs(
    model_path: Path,
    pairs_file: Path,
    dtype: str = "auto",
    trust_remote_code: bool = False,
    use_cache: bool = True,
    cache_dir: Path | None = None,
) -> dict:
    """Encode both sides of every pair with the harness's encode path and score them.

    `cache_dir` is the run's cache folder (``--cache-dir`` / ``HARNESS_CACHE_DIR`` / the config
    file's ``cache_dir``): ``score`` and ``run`` share one embedding cache file."""
    from harness import encode, evaluate, tasks
    from harness.probe import probe

    task = tasks.pairs_task(pairs_file)
    pairs = tasks.load_pairs(task, allow_hub=False)
    device = encode.pick_device()
    resolved = encode.resolve_dtype(dtype, device)
    prompt = folder_prompt(model_path, task.name)
    settings = RunSettings(dtype=resolved, trust_remote_code=trust_remote_code, prompt=prompt)  # type: ignore[arg-type]
    revision = encode.weights_revision(model_path)
    fingerprint = encode.vector_fingerprint(str(model_path.resolve()), revision, settings)
    cache = encode.EmbeddingCache(encode.default_cache_dir(cache_dir)) if use_cache else None

    def loader() -> encode.LoadedModel:
        return encode.load_model(
            model_path, device=device, dtype=resolved, trust_remote_code=trust_remote_code
        )

    try:
        texts = list(pairs.sentence1) + list(pairs.sentence2)
        vectors, _stats = encode.embed(
            texts, model_loader=loader, fingerprint=fingerprint, cache=cache, prompt=prompt
        )
    finally:
        if cache is not None:
            cache.close()
    n = len(pairs)
    emb1, emb2 = vectors[:n], vectors[n:]
    scores, sims, (lo, hi) = evaluate.score_embeddings(emb1, emb2, pairs.gold)
    withheld = evaluate.interval_withheld(sims, pairs.gold)
    return {
        "n_pairs": n,
        "main_score": scores["main_score"],
        **{key: scores[key] for key in SCORE_KEYS},
        "ci95": None if withheld else [lo, hi],
        **({"interval_withheld": withheld} if withheld else {}),
        "probe": probe(pairs.sentence1, pairs.sentence2, pairs.gold, emb1, emb2).model_dump(),
    }


def score_command(
    model_path: Path,
    pairs_file: Path,
    as_json: bool,
    dtype: str,
    trust_remote_code: bool,
    use_cache: bool,
    cache_dir: Path | None = None,
) -> int:
    from harness import encode, evaluate, tasks

    if not model_path.is_dir():
        say(f"{model_path}: not a model folder")
        return 2
    try:
        result = score_pairs(model_path, pairs_file, dtype, trust_remote_code, use_cache, cache_dir)
    except (
        tasks.DataError,
        tasks.TaskUnavailable,
        encode.ModelLoadError,
        evaluate.NonFiniteEmbeddings,
    ) as exc:
        say(str(exc))
        return 1
    if as_json:
        print(json.dumps(result))
        return 0
    print(f"{pairs_file}: {result['n_pairs']} pairs, model {model_path}")
    for key in SCORE_KEYS:
        print(f"  {key:<20} {result[key]:.4f}")
    if result["ci95"] is None:
        interval = f"no 95% CI: {result['interval_withheld']}"
    else:
        interval = "95% CI [{:.4f}, {:.4f}]".format(*result["ci95"])
    print(f"  main score (cosine Spearman) {result['main_score']:.4f}  {interval}")
    print(f"  behaviour probe: {ProbeResult(**result['probe']).message}")
    return 0
