"""Dataset families: STS tasks that share their source sentences, and how each test set was made.

MTEB counts a model as not zero-shot on a task when it was trained on that task's dataset or on
one "similar" to it: a translation, a re-annotation or a new version of the same sentences. mteb
knows a family through its task metadata (`adapted_from`, `superseded_by`); several translations
of STS-B and SICK that mteb does not link (stsb_multi_mt, GermanSTSBenchmark, KorSTS, RO-STS, ...)
are added here by hand, each with the sentence that says why. `FAMILY_SEEDS` is that one small
table; `families()` joins it with mteb's links, and `family_of` / `dataset_tasks` answer for a
task name or a dataset name as a card writes it (``stsb_multi_mt``, ``sentence-transformers/stsb``).

The data shows some of it too: where the local files of a family member have gold scores equal
row by row to STS-B's (a translation keeps the rows), `data_evidence` says so (``tasks --audit``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from harness.sts_datasets import normalise, sts_dataset

LOCAL_SUFFIX = "-local"  # a local copy that differs from mteb's data (harness.tasks.readers)


@dataclass(frozen=True)
class Member:
    task: str  # MTEB task name (or a harness-local task)
    evidence: str  # why it belongs to the family


@dataclass(frozen=True)
class Family:
    key: str  # the source dataset: "STS-B", "SICK", ...
    members: tuple[Member, ...]

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(m.task for m in self.members)

    def evidence(self, task: str) -> str:
        return next((m.evidence for m in self.members if m.task == task), "")


# (family, root task, [(member, why)]): the links mteb's metadata does not make.
FAMILY_SEEDS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "STS-B",
        "STSBenchmark",
        (
            ("STSBenchmark", "the STS Benchmark itself (Cer et al., 2017)"),
            (
                "STSBenchmarkMultilingualSTS",
                "stsb_multi_mt: DeepL translations of STS-B; row i of every language is row i of STS-B",
            ),
            ("GermanSTSBenchmark", "German STS-B (T-Systems): an Amazon Translate translation of STS-B"),
            ("GermanSTSBenchmark-deepl", "German STS-B (T-Systems): a DeepL translation of STS-B"),
            ("RonSTS", "RO-STS: a corrected Google translation of STS-B, same rows as STS-B"),
            ("KorSTS", "KorSTS (Ham et al., 2020): a machine translation of STS-B, localised"),
            ("STSB", "C-MTEB's STSB: the Chinese translation of STS-B (CNSD)"),
            ("RuSTSBenchmarkSTS", "ru-stsbenchmark-sts: a Russian translation of STS-B"),
        ),
    ),
    (
        "SICK",
        "SICK-R",
        (
            ("SICK-R", "SICK (Marelli et al., 2014), its relatedness scores"),
            ("SICKFr", "SICK translated into French"),
            ("SICK-R-PL", "SICK translated into Polish"),
            ("SICK-NL-STS", "SICK translated into Dutch"),
            ("SICK-BR-STS", "SICK translated into Brazilian Portuguese"),
            ("JSICK", "JSICK: SICK translated into Japanese"),
        ),
    ),
)

# Dataset names cards use for a family's data that no MTEB task name reads as (Hub ids, repositories).
# Only names that mean the STS data itself: "glue" (STS-B is one of its nine tasks) is not one.
DATASET_ALIASES: dict[str, str] = {
    "sentencetransformersstsb": "STSBenchmark",
    "philipmaystsbmultimt": "STSBenchmarkMultilingualSTS",
    "stsbmultimt": "STSBenchmarkMultilingualSTS",
    "tsystemsonsiteservicesgmbhgermanstsbenchmark": "GermanSTSBenchmark",
    "dumitrescustefanrosts": "RonSTS",
    "rosts": "RonSTS",
    "kakaobrainkornludatasets": "KorSTS",
    "sick": "SICK-R",
    "sentencetransformerssick": "SICK-R",
}


@functools.cache
def _mteb_links() -> tuple[tuple[str, str, str], ...]:
    """(task, adapted from / superseded task, why) for every STS task mteb links; () without mteb."""
    try:
        import mteb
    except ImportError:  # mteb is a dependency; a broken install only loses its links
        return ()
    links: list[tuple[str, str, str]] = []
    for task in mteb.get_tasks(task_types=["STS"], exclude_superseded=False):
        meta = task.metadata
        for parent in meta.adapted_from or ():
            links.append((meta.name, parent, f"mteb: {meta.name} is adapted_from {parent}"))
        if getattr(meta, "superseded_by", None):
            links.append(
                (meta.superseded_by, meta.name, f"mteb: {meta.name} is superseded_by {meta.superseded_by}")
            )
    return tuple(sorted(links))


@functools.cache
def families() -> tuple[Family, ...]:
    """Every family: the seeds plus each task mteb links to a member (transitively)."""
    out: list[Family] = []
    links = _mteb_links()
    for key, _root, seeds in FAMILY_SEEDS:
        members = dict(seeds)
        grew = True
        while grew:
            grew = False
            for child, parent, why in links:
                for a, b in ((child, parent), (parent, child)):
                    if b in members and a not in members:
                        members[a] = why
                        grew = True
        out.append(Family(key, tuple(Member(t, why) for t, why in members.items())))
    return tuple(out)


def base_task(name: str) -> str:
    """``STSBenchmark-local`` -> ``STSBenchmark``: a local copy belongs where its task does."""
    return name.removesuffix(LOCAL_SUFFIX)


def family_of(task: str) -> Family | None:
    """The family a task belongs to, or None (a task of its own)."""
    name = base_task(task)
    return next((f for f in families() if name in f.tasks), None)


def same_family(a: str, b: str) -> bool:
    fa = family_of(a)
    return base_task(a) == base_task(b) or (fa is not None and fa is family_of(b))


def family_tasks(task: str) -> tuple[str, ...]:
    """The tasks a model trained on `task`'s data is not zero-shot on: its family's, or itself."""
    family = family_of(task)
    return family.tasks if family is not None else (base_task(task),)


def dataset_task(name: str) -> str | None:
    """The MTEB task a dataset name as a card writes it stands for (``stsb_multi_mt``,
    ``sentence-transformers/stsb``, ``mteb/stsbenchmark-sts``, ``STS-B``), or None."""
    if not name or not name.strip():
        return None
    text = name.strip()[:200]
    key = normalise(text)
    if key in DATASET_ALIASES:
        return DATASET_ALIASES[key]
    tail = normalise(text.split("/")[-1])
    if tail in DATASET_ALIASES:
        return DATASET_ALIASES[tail]
    found = _mteb_dataset_paths().get(text.lower())
    if found:
        return found
    return sts_dataset(text).mteb_task


def dataset_tasks(name: str) -> tuple[str, ...]:
    """Every task a model trained on `name` is not zero-shot on: the family of its task, or the task."""
    task = dataset_task(name)
    return () if task is None else family_tasks(task)


@functools.cache
def _mteb_dataset_paths() -> dict[str, str]:
    """Hub dataset path (lower-case) -> mteb STS task name."""
    try:
        import mteb
    except ImportError:
        return {}
    out: dict[str, str] = {}
    for task in mteb.get_tasks(task_types=["STS"], exclude_superseded=False):
        path = (task.metadata.dataset or {}).get("path")
        if isinstance(path, str):
            out.setdefault(path.lower(), task.metadata.name)
    return out


@functools.cache
def sample_creation(task: str) -> str | None:
    """How the test set was made, as mteb says (``machine-translated``, ``created``, ``found``, ...);
    a harness-local task says what the MTEB task it mirrors says, plus its own translator."""
    name = base_task(task)
    if name == "GermanSTSBenchmark-deepl":
        return "machine-translated"  # DeepL, as GermanSTSBenchmark is Amazon Translate
    try:
        import mteb

        meta = mteb.get_task(name).metadata
    except Exception:  # unknown to mteb (a user's file): nothing known
        return None
    value = getattr(meta, "sample_creation", None)
    return str(value) if value else None
