"""The behaviour probe's gap (harness.probe) for working models and damaged copies, on real STS data.

    python benchmarks/probe_gaps.py [--pairs 400] [--out DIR]

Makes damaged copies of all-MiniLM-L6-v2 and its German fine-tune (weights linked, ``config.json``
edited: ``hidden_act``, ``num_attention_heads``, ``layer_norm_eps``; or the vocabulary reordered
alike in ``tokenizer.json`` and ``vocab.txt`` with the special tokens kept), encodes a seeded slice of
each task and prints one JSON line per model and task: the probe (verdict, gap, both means, counts)
and the cosine Spearman. Numbers from one run are in docs/reliability.md ("Round five").
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's harness, not an installed one
SHARED = REPO.parent / "shared"
STS = SHARED / "data" / "sts"


def _csv(path: Path) -> list[tuple[str, str, float]]:
    return [(a, b, float(s)) for a, b, s in csv.reader(path.open(encoding="utf-8", newline=""))]


def _jsonl(path: Path) -> list[tuple[str, str, float]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [(r["sentence1"], r["sentence2"], float(r["score"])) for r in rows]


def _ro(path: Path) -> list[tuple[str, str, float]]:
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]
    return [(r[1], r[2], float(r[0])) for r in rows]


TASKS = {
    "stsb-en": lambda: _csv(STS / "stsb_multi_mt/stsb-en-test.csv"),
    "stsb-de": lambda: _csv(STS / "stsb_multi_mt/stsb-de-test.csv"),
    "ro-sts": lambda: _ro(STS / "ro_sts/RO-STS.test.tsv"),
    "korsts": lambda: _jsonl(next((STS / "mteb/KorSTS").rglob("*.jsonl"))),
    "jsts": lambda: _jsonl(next((STS / "mteb/JSTS").rglob("*.jsonl"))),
    "sts17-ar": lambda: _jsonl(STS / "mteb/STS17/ar-ar/test.jsonl"),
}


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for item in src.iterdir():
        if item.name.startswith("."):
            continue
        if item.is_dir():
            shutil.copytree(item, dst / item.name)
        elif item.suffix in (".safetensors", ".bin"):
            os.symlink(item.resolve(), dst / item.name)
        else:
            shutil.copy(item, dst / item.name)
    return dst


def _edit_config(folder: Path, **edit: object) -> None:
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    (folder / "config.json").write_text(json.dumps({**config, **edit}), encoding="utf-8")


def _reorder_vocab(folder: Path, seed: int = 0) -> None:
    """Shuffle the ids of every non-special token, alike in tokenizer.json and vocab.txt."""
    data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    vocab: dict[str, int] = data["model"]["vocab"]
    special = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
    movable = [t for t in sorted(vocab, key=vocab.get) if t not in special]
    ids = [vocab[t] for t in movable]
    random.Random(seed).shuffle(ids)
    new = {**{t: vocab[t] for t in special if t in vocab}, **dict(zip(movable, ids, strict=True))}
    data["model"]["vocab"] = dict(sorted(new.items(), key=lambda kv: kv[1]))
    (folder / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    if (folder / "vocab.txt").exists():
        (folder / "vocab.txt").write_text("\n".join(sorted(new, key=new.get)) + "\n", encoding="utf-8")


DAMAGE = {
    "hidden_act=relu": lambda f: _edit_config(f, hidden_act="relu"),
    "hidden_act=tanh": lambda f: _edit_config(f, hidden_act="tanh"),
    "hidden_act=sigmoid": lambda f: _edit_config(f, hidden_act="sigmoid"),
    "num_attention_heads=6": lambda f: _edit_config(f, num_attention_heads=6),
    "num_attention_heads=1": lambda f: _edit_config(f, num_attention_heads=1),
    "layer_norm_eps=1e-5": lambda f: _edit_config(f, layer_norm_eps=1e-5),
    "layer_norm_eps=1": lambda f: _edit_config(f, layer_norm_eps=1.0),
    "vocabulary reordered": _reorder_vocab,
}


def main() -> None:
    import numpy as np
    from scipy.stats import spearmanr
    from sentence_transformers import SentenceTransformer

    from harness.evaluate import cosine_similarities
    from harness.probe import probe

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=400, help="pairs per task (a seeded slice)")
    parser.add_argument("--tasks", default=",".join(TASKS))
    args = parser.parse_args()
    tasks = {}
    for name in args.tasks.split(","):
        rows = TASKS[name]()
        random.Random(0).shuffle(rows)
        tasks[name] = rows[: args.pairs]
    bases = {
        "all-MiniLM-L6-v2": REPO / ".models" / "sentence-transformers__all-minilm-l6-v2",
        "minilm-l6-stsb-de": SHARED / "models" / "minilm-l6-stsb-de",
    }
    with tempfile.TemporaryDirectory() as tmp:
        models = dict(bases)
        for base, folder in bases.items():
            for damage, apply in DAMAGE.items():
                copy = _copy(folder, Path(tmp) / f"{base}-{len(models)}")
                apply(copy)
                models[f"{base} {damage}"] = copy
        for name, folder in models.items():
            encoder = SentenceTransformer(str(folder), device="cpu")
            for task, rows in tasks.items():
                s1, s2, gold = (list(x) for x in zip(*rows, strict=True))
                e1, e2 = encoder.encode(s1), encoder.encode(s2)
                result = probe(s1, s2, gold, e1, e2)
                rho = float(spearmanr(cosine_similarities(e1, e2), np.asarray(gold))[0])
                print(
                    json.dumps(
                        {"model": name, "task": task, "spearman": round(rho, 3), **result.model_dump()}
                    )
                )


if __name__ == "__main__":
    main()
