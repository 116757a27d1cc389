"""Per-language STS reports (HTML and Markdown) built from stored results and model cards.

``build_reports`` is pure: it reads result files and the registry's `ModelSpec`s, loads no
model and recomputes no score (the only computation is the optional paired bootstrap on
stored per-pair similarities, seeded, and arithmetic on stored numbers). The same inputs
give byte-identical files: everything is sorted, the charts are rendered with a fixed SVG
hash salt and no date, and the only dates shown are those stored in the results.

What a language page shows
--------------------------
* A leaderboard, one row per model: the cosine Spearman correlation ×100 of every task the
  language was evaluated on (task, subset, split) with its stored 95% bootstrap interval,
  the average over the tasks the model has (marked incomplete when it lacks some), and
  whether the model is statistically tied with the leader. Models evaluated on every task
  are ranked before models that lack tasks; within each group by average, then name.
* The tie test compares a model with the leader on the tasks both have. Where both stored
  per-pair similarities for identical gold lists, it is a paired bootstrap
  (``harness.evaluate.paired_bootstrap``, seed 0); a model is tied unless p < 0.05 *and*
  the 95% interval of the difference excludes 0. Otherwise (or when ``harness.evaluate``
  is absent) two models are tied when their 95% intervals overlap. Averages over several
  tasks combine the per-task intervals as independent normal errors.
* Claimed vs measured (see `CLAIM_DATASET_TASKS`), card facts and audit warnings in words,
  speed, models that failed or were not run, run metadata, and two inline SVG charts.

Matching a card's claim to a task
---------------------------------
A claim is checked against a stored successful run of the same model when

1. its language equals the page language (a claim without a language counts for the
   card's only language, when the card lists exactly one);
2. its split equals the run's split (no split means ``test``; ``dev``/``validation``/
   ``val`` are the same split);
3. its dataset plausibly is the task: the dataset name (or, when the claim names none,
   one of the card's ``datasets``) is normalised to lower-case alphanumerics of its last
   path segment, e.g. ``PhilipMay/stsb_multi_mt`` -> ``stsbmultimt``, ``STS-B`` ->
   ``stsb``. It matches a task when it equals the task's normalised name, or when
   `CLAIM_DATASET_TASKS` maps it (or the name with split words and the page language's
   code/name removed: ``sts-test-de`` -> ``sts``, ``german-STSbenchmark`` ->
   ``stsbenchmark``) to a set containing the task. A generic name (``sts``) maps to every
   task run for the language.

The metric is ``cosine_spearman`` for a Spearman claim and ``cosine_pearson`` for a
Pearson claim (``<similarity>_<metric>`` when the claim names another similarity and
the run stored it). The claim is flagged when it lies outside the run's 95% interval
(the stored interval belongs to the main score, cosine Spearman; Pearson claims show the
difference without a flag). Claims that match nothing are listed as not checked, with why.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import re
import statistics
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from harness.records import Claim, ModelSpec
from harness.store import RunRecord, StoredResult, load_results

TEMPLATE_DIR = Path(__file__).parent / "templates"
MAIN_METRIC = "cosine_spearman"
ALPHA = 0.05
Z95 = 1.959963984540054

# --------------------------------------------------------------------------------------
# Words for readers
# --------------------------------------------------------------------------------------

WARNING_TEXT: dict[str, str] = {
    # identity
    "placeholder-model-id": "The card's model id is a template placeholder, so the card does not say "
    "which weights it describes.",
    "unsafe-model-id": "The card's model id is not a valid Hugging Face id and is not used or linked.",
    "duplicate-model-id": "Another registry entry uses the same model id.",
    "unfilled-template": "The card is an unfilled template: its name and description are placeholders.",
    "html-in-name": "The card's title contained HTML markup; it was removed.",
    # language
    "inferred-language": "The card does not declare a language; the language was inferred from its "
    "example text.",
    "missing-language": "The card does not say which language the model is for.",
    "invalid-language": "The card lists a language code that is not valid; it was ignored.",
    # model configuration
    "max-seq-length-exceeds-positions": "The maximum sequence length is longer than the model's position "
    "embeddings allow.",
    "invalid-dimension": "The card states an embedding size that is not a plausible number; it was ignored.",
    "invalid-max-seq-length": "The card states a maximum sequence length that is not plausible; it was "
    "ignored.",
    "invalid-pooling": "The card names a pooling mode that is not known; it was ignored.",
    "architecture-unparsed": "The card's architecture block could not be read.",
    "multiple-base-models": "The card names more than one base model.",
    "remote-code": "Loading the model runs code from its repository (trust_remote_code).",
    "model-files-missing": "The model's own files were not found, so the card could not be checked "
    "against them.",
    "model-files-corrupt": "Some of the model's files could not be read.",
    "local-path-missing": "The local weights folder named by the registry does not exist.",
    # the card text itself
    "mojibake-repaired": "Parts of the card were mis-encoded (mojibake) and were repaired before reading.",
    "non-utf8-encoding": "The card is not UTF-8 text; it was decoded with a guessed encoding.",
    "missing-license": "The card states no license.",
    "empty-front-matter": "The card's metadata block is empty.",
    "nonstandard-yaml-key": "The card's metadata uses a non-standard key; it was read anyway.",
    "yaml-duplicate-key": "The card's metadata repeats a key; the last value was used.",
    "unsafe-value": "A value in the card is not valid for its field (e.g. a license that is not a license "
    "identifier) and was ignored.",
    # claims
    "claim-without-split": "A claimed score does not say which split it was measured on (test is assumed).",
    "claim-ambiguous": "A claimed score is ambiguous about what it measures.",
    "invalid-claim": "A claimed score could not be read as a correlation between -1 and 1.",
    "invalid-model-index": "The card's model-index metadata is malformed.",
    "too-many-claims": "The card makes more claims than the registry keeps.",
    # registry overrides
    "override-differs": "The registry overrides a value that the card states differently.",
    "unknown-override": "The registry override file has a key the registry does not know.",
}

_MISMATCH_FIELDS = {
    "model-id": "model id",
    "language": "language",
    "dimension": "embedding size",
    "pooling": "pooling",
    "max-seq-length": "maximum sequence length",
    "base-model": "base model",
    "datasets": "training datasets",
    "loss": "training loss",
    "license": "license",
    "normalize": "normalisation of embeddings",
    "revision": "weights revision",
    "local-path": "local weights folder",
}
for _field, _words in _MISMATCH_FIELDS.items():
    WARNING_TEXT[f"{_field}-mismatch"] = (
        f"The card and the model's files (or two parts of the card) state different values for the "
        f"{_words}; the most authoritative one is used."
    )

ERROR_KIND_TEXT: dict[str, str] = {
    "weights-unavailable": "weights unavailable",
    "unavailable-weights": "weights unavailable",
    "remote-code-refused": "needs trust_remote_code, which was not allowed",
    "failed": "failed",
    "unavailable": "weights unavailable",
    "load-failed": "failed to load",
    "oom": "out of memory",
    "out-of-memory": "out of memory",
    "non-finite": "non-finite embeddings or scores (NaN/inf)",
    "data-error": "task data could not be read",
    "encode-failed": "encoding failed",
    "timeout": "timed out",
}

LANGUAGE_NAMES: dict[str, str] = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "bg": "Bulgarian", "bn": "Bengali",
    "ca": "Catalan", "cs": "Czech", "cy": "Welsh", "da": "Danish", "de": "German", "el": "Greek",
    "en": "English", "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian",
    "fi": "Finnish", "fo": "Faroese", "fr": "French", "ga": "Irish", "gl": "Galician",
    "gu": "Gujarati", "ha": "Hausa", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian",
    "hu": "Hungarian", "hy": "Armenian", "id": "Indonesian", "is": "Icelandic", "it": "Italian",
    "ja": "Japanese", "ka": "Georgian", "kk": "Kazakh", "kn": "Kannada", "ko": "Korean",
    "lt": "Lithuanian", "lv": "Latvian", "mk": "Macedonian", "ml": "Malayalam", "mr": "Marathi",
    "ms": "Malay", "mt": "Maltese", "nb": "Norwegian Bokmål", "nl": "Dutch", "no": "Norwegian",
    "pa": "Punjabi", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian",
    "sk": "Slovak", "sl": "Slovenian", "sq": "Albanian", "sr": "Serbian", "sv": "Swedish",
    "sw": "Swahili", "ta": "Tamil", "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish",
    "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese", "zh": "Chinese", "und": "undetermined language",
}  # fmt: skip

# --------------------------------------------------------------------------------------
# Claim dataset matching table (documented in the module docstring)
# --------------------------------------------------------------------------------------

STSB_FAMILY = frozenset(
    {
        "STSBenchmark",
        "STSBenchmark.v2",
        "STSBenchmarkMultilingualSTS",
        "GermanSTSBenchmark",
        "RuSTSBenchmarkSTS",
        "STSB",
        "STSBenchmark-VN",
        "HUMESTSBenchmark",
    }
)
SICK_FAMILY = frozenset(
    {"SICK-R", "SICKFr", "SICK-R-PL", "SICK-NL-STS", "SICK-BR-STS", "SICK-R-VN", "JSICK", "HUMESICK-R"}
)
STSB_MULTI_MT = frozenset({"STSBenchmarkMultilingualSTS", "STSBenchmark", "STSBenchmark.v2"})

#: normalised claim dataset name -> MTEB task names it can mean; ``None`` = any STS task run
CLAIM_DATASET_TASKS: dict[str, frozenset[str] | None] = {
    "sts": None,
    "semantictextualsimilarity": None,
    "stsb": STSB_FAMILY,
    "stsbenchmark": STSB_FAMILY,
    "stsbmultimt": STSB_MULTI_MT,
    "stsbmultilingual": STSB_MULTI_MT,
    "stsbenchmarkmultilingual": STSB_MULTI_MT,
    "germanstsbenchmark": frozenset({"GermanSTSBenchmark"}),
    "rosts": frozenset({"RonSTS"}),
    "stses": frozenset({"STSES"}),
    "sick": SICK_FAMILY,
    "sickr": SICK_FAMILY,
    "sts12": frozenset({"STS12", "HUMESTS12"}),
    "sts13": frozenset({"STS13"}),
    "sts14": frozenset({"STS14"}),
    "sts15": frozenset({"STS15"}),
    "sts16": frozenset({"STS16"}),
    "sts17": frozenset({"STS17"}),
    "sts22": frozenset({"STS22", "STS22.v2", "HUMESTS22"}),
    "biosses": frozenset({"BIOSSES", "BIOSSES-VN"}),
    "korsts": frozenset({"KorSTS"}),
    "klue": frozenset({"KLUE-STS"}),
    "kluests": frozenset({"KLUE-STS"}),
    "jsts": frozenset({"JSTS"}),
    "assin2": frozenset({"Assin2STS"}),
    "cdscr": frozenset({"CDSC-R"}),
}
_SPLIT_WORDS = frozenset({"test", "dev", "validation", "val", "eval"})
_SPLIT_ALIASES = {"validation": "dev", "val": "dev", "dev": "dev", "eval": "dev"}


def _norm_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _dataset_keys(dataset: str, lang: str) -> list[str]:
    """Normalised keys to try for a claim's dataset name, most specific first."""
    last = dataset.strip().split("/")[-1].lower()
    tokens = [t for t in re.split(r"[^a-z0-9]+", last) if t]
    drop = set(_SPLIT_WORDS)
    for part in lang.split("-"):
        drop.add(part)
        name = LANGUAGE_NAMES.get(part)
        if name:
            drop.add(_norm_key(name))
    drop.update({"deutsch"} if "de" in lang.split("-") else set())
    keys = ["".join(tokens)]
    stripped = "".join(t for t in tokens if t not in drop)
    if stripped and stripped not in keys:
        keys.append(stripped)
    return keys


def claim_dataset_matches(dataset: str, task_name: str, lang: str) -> bool:
    """Whether a claim's dataset name plausibly is `task_name` (see module docstring)."""
    task_key = _norm_key(task_name)
    for key in _dataset_keys(dataset, lang):
        if not key:
            continue
        if key == task_key:
            return True
        if key in CLAIM_DATASET_TASKS:
            tasks = CLAIM_DATASET_TASKS[key]
            return tasks is None or task_name in tasks
    return False


def normalize_split(split: str | None) -> str:
    if split is None or not split.strip():
        return "test"
    s = split.strip().lower()
    return _SPLIT_ALIASES.get(s, s)


# --------------------------------------------------------------------------------------
# Languages
# --------------------------------------------------------------------------------------

_ISO = re.compile(r"^[a-z]{2,3}$")
PAGE_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[a-z]{2,3})*$")


@cache
def normalize_language(code: str | None) -> str | None:
    """ISO 639-1 code (or 639-3 when there is none) of an MTEB code like ``deu-Latn`` or ``de``."""
    if not code or not code.strip():
        return None
    import langcodes

    text = code.strip().replace("_", "-")
    try:
        lang = langcodes.Language.get(text).prefer_macrolanguage()
    except (ValueError, LookupError):
        return None
    value = (lang.language or "").lower()
    if not _ISO.match(value) or value == "und":
        return None
    return value


def language_name(code: str) -> str:
    return "–".join(LANGUAGE_NAMES.get(part, part) for part in code.split("-"))


def _dedupe(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def run_language(run: RunRecord) -> str:
    """The page a run belongs to: its text languages as ISO codes ("de", or "de-en" when cross-lingual)."""
    codes = _dedupe(c for c in (normalize_language(x) for x in run.languages) if c)
    if not codes and run.subset != "default":
        codes = _dedupe(c for c in (normalize_language(x) for x in run.subset.split("-")) if c)
    return "-".join(codes) if codes else "und"


def spec_languages(spec: ModelSpec) -> list[str]:
    langs = []
    for raw in spec.language_list:
        if raw.strip().lower() == "multilingual":
            langs.append("multilingual")
        else:
            code = normalize_language(raw)
            if code:
                langs.append(code)
    return _dedupe(langs)


def spec_covers(spec: ModelSpec, lang: str) -> bool:
    langs = spec_languages(spec)
    if "multilingual" in langs:
        return True
    return all(part in langs for part in lang.split("-"))


# --------------------------------------------------------------------------------------
# Safe links and text
# --------------------------------------------------------------------------------------

_HUB_ID = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?/[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$"
)
_NO_LINK_WARNINGS = frozenset({"placeholder-model-id", "unsafe-model-id", "unfilled-template"})


def hub_url(model_id: str | None) -> str | None:
    """``https://huggingface.co/<org>/<name>`` for a valid Hub id, else None."""
    if not model_id or not _HUB_ID.match(model_id) or ".." in model_id or "--" in model_id:
        return None
    return f"https://huggingface.co/{model_id}"


def md_escape(text: Any) -> str:
    """Escape text for a GitHub-flavoured Markdown table cell (no HTML, links or code spans)."""
    s = "" if text is None else str(text)
    s = re.sub(r"[\x00-\x1f\x7f]+", " ", s)
    s = s.replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for ch in "|`[]*":
        s = s.replace(ch, "\\" + ch)
    return s.strip()


def breakable(text: Any) -> Markup:
    """HTML-escaped text with break opportunities after "/" (long model ids wrap cleanly)."""
    html = str(escape("" if text is None else str(text)))
    return Markup(html.replace("/", "/<wbr>").replace("[", "<wbr>["))


def plain(text: Any) -> str:
    """Text without control characters (for terminals)."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f]+", " ", "" if text is None else str(text)).strip()


# --------------------------------------------------------------------------------------
# Number formatting
# --------------------------------------------------------------------------------------


def f2(value: float | None) -> str:
    if value is None:
        return "–"
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text


def signed(value: float | None) -> str:
    if value is None:
        return "–"
    text = f"{value:+.2f}"
    return "0.00" if text in {"+0.00", "-0.00"} else text


def p_text(p: float | None) -> str:
    if p is None:
        return "p = –"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def interval(ci: tuple[float, float] | None) -> str:
    return "" if ci is None else f"[{f2(ci[0])}, {f2(ci[1])}]"


def human_count(n: int | float | None) -> str:
    if n is None:
        return "–"
    n = float(n)
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{n:.0f}"


def human_bytes(n: int | float | None) -> str:
    if n is None:
        return "–"
    n = float(n)
    for div, suffix in ((1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB")):
        if n >= div:
            return f"{n / div:.2f} {suffix}"
    return f"{n:.0f} B"


def human_rate(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


# --------------------------------------------------------------------------------------
# Statistics on stored numbers
# --------------------------------------------------------------------------------------


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def stored_ci(run: RunRecord) -> tuple[float, float] | None:
    """The run's 95% interval of the main score, as fractions (a ×100 interval is rescaled)."""
    if not run.ci95 or len(run.ci95) != 2:
        return None
    lo, hi = _finite(run.ci95[0]), _finite(run.ci95[1])
    if lo is None or hi is None:
        return None
    if max(abs(lo), abs(hi)) > 1.5:  # stored in points, not fractions
        lo, hi = lo / 100, hi / 100
    return (min(lo, hi), max(lo, hi))


def mean_ci(
    values: Sequence[float], cis: Sequence[tuple[float, float] | None]
) -> tuple[float, tuple[float, float] | None]:
    """Mean of task scores; its 95% interval treats task errors as independent and normal."""
    mean = sum(values) / len(values)
    if any(ci is None for ci in cis):
        return mean, None
    if len(values) == 1:
        return mean, cis[0]
    se = math.sqrt(sum(((ci[1] - ci[0]) / (2 * Z95)) ** 2 for ci in cis if ci is not None)) / len(values)
    return mean, (mean - Z95 * se, mean + Z95 * se)


@dataclass(frozen=True)
class PairedTest:
    """Outcome of a paired comparison of A against B on the same pairs (delta = A - B, fractions)."""

    status: str  # ok | pairs-differ | no-pairs | unavailable
    message: str
    delta: float | None = None
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    n_pairs: int | None = None

    @property
    def significant(self) -> bool:
        if self.status != "ok" or self.p_value is None or self.ci is None:
            return False
        return self.p_value < ALPHA and (self.ci[0] > 0 or self.ci[1] < 0)


def load_paired_bootstrap() -> Callable[..., dict[str, Any]] | None:
    """`harness.evaluate.paired_bootstrap` when that module is importable, else None."""
    try:
        from harness.evaluate import paired_bootstrap
    except Exception:  # absent, or failing to import: fall back to interval overlap
        return None
    return paired_bootstrap


def paired_test(a: RunRecord, b: RunRecord, bootstrap: Callable[..., dict[str, Any]] | None) -> PairedTest:
    """Paired bootstrap of A vs B on one task, from the stored per-pair similarities."""
    sims_a, sims_b = a.cosine_similarities, b.cosine_similarities
    if not sims_a or not sims_b or not a.gold or not b.gold:
        return PairedTest("no-pairs", "no per-pair similarities stored")
    if a.gold != b.gold or len(sims_a) != len(a.gold) or len(sims_b) != len(b.gold):
        return PairedTest("pairs-differ", "the pairs differ: the two runs scored different gold lists")
    if bootstrap is None:
        return PairedTest("unavailable", "paired bootstrap unavailable (harness.evaluate missing)")
    try:
        out = bootstrap(list(sims_a), list(sims_b), list(a.gold), n_resamples=1000, seed=0)
    except Exception as exc:
        return PairedTest("unavailable", f"paired bootstrap failed: {exc}")
    delta, p = _finite(out.get("delta")), _finite(out.get("p_value"))
    ci_raw = out.get("ci95") or []
    ci = (_finite(ci_raw[0]), _finite(ci_raw[1])) if len(ci_raw) == 2 else (None, None)
    if delta is None or p is None or ci[0] is None or ci[1] is None:
        return PairedTest("unavailable", "paired bootstrap returned no usable numbers")
    n = out.get("n_pairs")
    return PairedTest(
        "ok", "paired bootstrap", delta, (ci[0], ci[1]), p, int(n) if n is not None else len(a.gold)
    )


def paired_detail(test: PairedTest, with_n: bool = False) -> str:
    """``Δ +1.23 [0.40, 2.10], p = 0.004`` in points (×100); "–" when there was no test."""
    if test.status != "ok" or test.delta is None or test.ci is None:
        return "–"
    ci = interval((test.ci[0] * 100, test.ci[1] * 100))
    text = f"Δ {signed(test.delta * 100)} {ci}, {p_text(test.p_value)}"
    return f"{text}, n = {test.n_pairs}" if with_n else text


def combine_paired(tests: Sequence[PairedTest]) -> PairedTest:
    """One test from per-task paired tests: mean difference, independent normal errors."""
    if len(tests) == 1:
        return tests[0]
    k = len(tests)
    delta = sum(t.delta for t in tests if t.delta is not None) / k
    se = math.sqrt(sum(((t.ci[1] - t.ci[0]) / (2 * Z95)) ** 2 for t in tests if t.ci)) / k
    p = (0.0 if delta != 0 else 1.0) if se <= 0 else math.erfc(abs(delta) / se / math.sqrt(2))
    return PairedTest(
        "ok",
        f"paired bootstrap over {k} tasks",
        delta,
        (delta - Z95 * se, delta + Z95 * se),
        p,
        sum(t.n_pairs or 0 for t in tests),
    )


# --------------------------------------------------------------------------------------
# View model
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Unit:
    """One evaluated task column: task, language subset, split."""

    task: str
    subset: str
    split: str

    @property
    def label(self) -> str:
        base = self.task if self.subset == "default" else f"{self.task}[{self.subset}]"
        return base if self.split == "test" else f"{base} ({self.split})"

    @property
    def anchor(self) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "-", self.label).strip("-").lower()


@dataclass(frozen=True)
class Cell:
    score: float  # points (×100)
    ci: tuple[float, float] | None  # points
    n_pairs: int | None
    run: RunRecord


@dataclass
class ModelInfo:
    key: str
    name: str  # model id or key: what the tables show (untrusted; escaped when rendered)
    title: str | None  # card title, when it says something else
    url: str | None
    spec: ModelSpec | None


@dataclass
class Row:
    model: ModelInfo
    cells: dict[Unit, Cell]
    average: float
    average_ci: tuple[float, float] | None
    n_tasks: int
    n_total: int
    off_card: bool
    rank: int = 0
    tie: str = ""  # leader | tied | behind | ahead | unknown
    tie_method: str = ""  # paired bootstrap | interval overlap
    tie_detail: str = ""
    speed: Speed | None = None

    @property
    def complete(self) -> bool:
        return self.n_tasks == self.n_total


@dataclass(frozen=True)
class Speed:
    sentences_per_second: float | None
    peak_memory_bytes: float | None
    device: str
    dtype: str
    batch_size: str


@dataclass(frozen=True)
class ClaimRow:
    model: ModelInfo
    claim: Claim
    claimed: float  # points
    unit: Unit | None = None
    metric: str | None = None
    measured: float | None = None
    measured_ci: tuple[float, float] | None = None
    difference: float | None = None  # measured - claimed, points
    outside: bool | None = None  # None: no interval to check against
    reason: str = ""  # why it was not checked
    dataset_note: str = ""


@dataclass(frozen=True)
class Failure:
    model: ModelInfo
    unit: Unit | None
    status: str
    kind: str
    error: str
    when: str


@dataclass(frozen=True)
class Fact:
    label: str
    value: str
    source: str


@dataclass(frozen=True)
class CardAudit:
    model: ModelInfo
    languages: str
    facts: list[Fact]
    warnings: list[tuple[str, str]]  # (code, sentence)
    errors: list[str]
    claims: int


@dataclass(frozen=True)
class MetaRow:
    model: ModelInfo
    revisions: str
    weights_source: str
    started: str
    finished: str
    device: str
    dtype: str
    hardware: str
    versions: str
    git_commit: str
    settings: str
    data_revisions: list[tuple[str, str]]


@dataclass
class LanguagePage:
    lang: str
    name: str
    units: list[Unit]
    rows: list[Row]
    claims: list[ClaimRow]
    audits: list[CardAudit]
    failures: list[Failure]
    not_run: list[tuple[ModelInfo, str]]
    meta: list[MetaRow]
    date_range: tuple[str, str] | None
    commits: list[str]
    charts: dict[str, Markup] = field(default_factory=dict)
    tie_methods: list[str] = field(default_factory=list)

    @property
    def leader(self) -> Row | None:
        return self.rows[0] if self.rows else None

    @property
    def tied(self) -> list[Row]:
        return [r for r in self.rows if r.tie == "tied"]

    @property
    def off_card_rows(self) -> list[Row]:
        return [r for r in self.rows if r.off_card]

    @property
    def incomplete_rows(self) -> list[Row]:
        return [r for r in self.rows if not r.complete]

    @property
    def flagged_claims(self) -> list[ClaimRow]:
        return [c for c in self.claims if c.outside]

    @property
    def version_groups(self) -> list[tuple[str, list[str]]]:
        """Distinct library-version sets and the models run with each."""
        groups: dict[str, list[str]] = {}
        for m in self.meta:
            groups.setdefault(m.versions, []).append(m.model.name)
        return sorted(groups.items())

    @property
    def data_revisions(self) -> list[tuple[str, str, list[str]]]:
        """(task label, data revision, models) for every task revision used on this page."""
        groups: dict[tuple[str, str], list[str]] = {}
        for m in self.meta:
            for label, rev in m.data_revisions:
                groups.setdefault((label, rev), []).append(m.model.name)
        return [(label, rev, names) for (label, rev), names in sorted(groups.items())]


# --------------------------------------------------------------------------------------
# Building the view model
# --------------------------------------------------------------------------------------


def unit_of(stored: StoredResult) -> Unit:
    return Unit(stored.task_name, stored.run.subset, stored.run.split)


def pick_record(records: Sequence[StoredResult]) -> StoredResult:
    """One record per model and unit: a successful one first, then the most recent, then by path."""
    return max(
        records,
        key=lambda r: (
            r.run.status == "ok",
            r.run.finished_at or "",
            r.run.started_at or "",
            r.path,
            r.run.identity,
        ),
    )


def model_info(key: str, spec: ModelSpec | None, records: Sequence[StoredResult]) -> ModelInfo:
    if spec is not None:
        model_id = spec.model_id.value
        name = spec.display_name
        codes = {w.code for w in spec.warnings}
        url = None if codes & _NO_LINK_WARNINGS else hub_url(model_id)
        title = (spec.name or "").strip() or None
        if title and title.lower() in name.lower():
            title = None  # the title says nothing the name does not
        return ModelInfo(key, name, title, url, spec)
    ids = sorted({r.model_id for r in records if r.model_id})
    name = ids[0] if len(ids) == 1 else key
    return ModelInfo(key, name, None, hub_url(name) if len(ids) == 1 else None, None)


def _speed(runs: Sequence[RunRecord]) -> Speed | None:
    rates = [v for v in (_finite(r.encode.get("sentences_per_second")) for r in runs) if v is not None]
    mems = [v for v in (_finite(r.encode.get("peak_memory_bytes")) for r in runs) if v is not None]
    devices = sorted({d for d in (_device_text(r) for r in runs) if d})
    dtypes = sorted(
        {str(r.encode.get("dtype") or r.settings.get("dtype")) for r in runs} - {"None"}  # neither stored
    )
    batches = sorted({str(r.encode["batch_size"]) for r in runs if r.encode.get("batch_size") is not None})
    if not rates and not mems and not devices:
        return None
    return Speed(
        statistics.median(rates) if rates else None,
        max(mems) if mems else None,
        ", ".join(devices) or "–",
        ", ".join(dtypes) or "–",
        ", ".join(batches) or "–",
    )


def _kv(d: dict[str, Any]) -> str:
    parts = []
    for k in sorted(d):
        v = d[k]
        if v is None or v == "" or isinstance(v, dict | list):
            continue
        parts.append(f"{k} {v}")
    return ", ".join(parts)


def hardware_text(hw: dict[str, Any]) -> str:
    """``NVIDIA H100 80GB HBM3 (CUDA 12.8); x86_64 CPU, 16 cores; Linux-...`` from a run's hardware dict."""
    if not hw:
        return ""
    parts = []
    if hw.get("gpu"):
        parts.append(f"{hw['gpu']}" + (f" (CUDA {hw['cuda']})" if hw.get("cuda") else ""))
    cpu = " ".join(str(x) for x in (hw.get("cpu"), "CPU") if x)
    if hw.get("cpu_count"):
        cpu += f", {hw['cpu_count']} cores"
    parts.append(cpu)
    if hw.get("platform"):
        parts.append(str(hw["platform"]))
    known = {"gpu", "cuda", "cpu", "cpu_count", "platform", "device", "torch_threads"}
    rest = _kv({k: v for k, v in hw.items() if k not in known})
    if rest:
        parts.append(rest)
    return "; ".join(parts)


def _device_text(run: RunRecord) -> str | None:
    device = run.encode.get("device") or run.hardware.get("device")
    if not device:
        return None
    gpu = run.hardware.get("gpu")
    text = str(device)
    if gpu and str(device).startswith("cuda") and str(gpu) not in text:
        text += f" ({gpu})"
    return text


def _sourced_text(value: Any, fmt: Callable[[Any], str] = str) -> str:
    return "–" if value is None else fmt(value)


def card_audit(info: ModelInfo) -> CardAudit | None:
    spec = info.spec
    if spec is None:
        return None
    facts = [
        Fact("dimension", _sourced_text(spec.dimension.value), spec.dimension.source or ""),
        Fact("pooling", _sourced_text(spec.pooling.value), spec.pooling.source or ""),
        Fact("max_seq_length", _sourced_text(spec.max_seq_length.value), spec.max_seq_length.source or ""),
        Fact("architecture", _sourced_text(spec.architecture.value), spec.architecture.source or ""),
        Fact("parameters", human_count(spec.parameters.value), spec.parameters.source or ""),
        Fact("license", _sourced_text(spec.license.value), spec.license.source or ""),
        Fact("base model", _sourced_text(spec.base_model.value), spec.base_model.source or ""),
    ]
    warnings_ = sorted(
        {(w.code, WARNING_TEXT.get(w.code, w.message)) for w in spec.warnings},
    )
    langs = ", ".join(spec.language_list) or "none stated"
    if spec.language_source not in {"card", "unknown"}:
        langs += f" ({spec.language_source})"
    return CardAudit(info, langs, facts, warnings_, sorted(spec.errors), len(spec.claims))


def _claim_language(claim: Claim, spec: ModelSpec) -> str | None:
    if claim.language:
        return normalize_language(claim.language)
    langs = [x for x in spec_languages(spec) if x != "multilingual"]
    return langs[0] if len(langs) == 1 and "multilingual" not in spec_languages(spec) else None


def _metric_key(claim: Claim, run: RunRecord) -> str:
    sim = (claim.similarity or "cosine").strip().lower()
    key = f"{sim}_{claim.metric}"
    if key in run.scores:
        return key
    return f"cosine_{claim.metric}"


def check_claims(
    info: ModelInfo, lang: str, ok_cells: dict[Unit, RunRecord], has_results: bool
) -> list[ClaimRow]:
    spec = info.spec
    if spec is None:
        return []
    rows: list[ClaimRow] = []
    for claim in spec.claims:
        claimed = claim.value * 100
        claim_lang = _claim_language(claim, spec)
        if claim_lang is None:
            if claim.language is None and (has_results or spec_covers(spec, lang)):
                rows.append(
                    ClaimRow(
                        info,
                        claim,
                        claimed,
                        reason="not checked: the claim names no language and the card lists several",
                    )
                )
            continue
        if claim_lang != lang:
            continue
        if claim.dataset:
            datasets, note = [claim.dataset], ""
        else:
            datasets = list(spec.datasets.value or [])
            note = "dataset from the card's datasets list" if datasets else ""
        split = normalize_split(claim.split)
        matched = [
            (unit, run)
            for unit, run in sorted(ok_cells.items())
            if normalize_split(unit.split) == split
            and any(claim_dataset_matches(ds, unit.task, lang) for ds in datasets)
        ]
        if not matched:
            if not ok_cells:
                reason = "not checked: the model has no successful result for this language"
            elif not datasets:
                reason = "not checked: the claim names no dataset"
            else:
                reason = "not checked: no matching task run"
            rows.append(ClaimRow(info, claim, claimed, reason=reason, dataset_note=note))
            continue
        for unit, run in matched:
            metric = _metric_key(claim, run)
            value = _finite(run.scores.get(metric))
            if value is None:
                rows.append(
                    ClaimRow(
                        info,
                        claim,
                        claimed,
                        unit=unit,
                        metric=metric,
                        reason=f"not checked: the run stored no {metric}",
                        dataset_note=note,
                    )
                )
                continue
            ci = stored_ci(run) if metric == MAIN_METRIC else None
            outside = None if ci is None else not (ci[0] <= claim.value <= ci[1])
            rows.append(
                ClaimRow(
                    info,
                    claim,
                    claimed,
                    unit=unit,
                    metric=metric,
                    measured=value * 100,
                    measured_ci=None if ci is None else (ci[0] * 100, ci[1] * 100),
                    difference=value * 100 - claimed,
                    outside=outside,
                    dataset_note=note,
                )
            )
    return rows


def _tie(row: Row, leader: Row, bootstrap: Callable[..., dict[str, Any]] | None) -> tuple[str, str, str]:
    """(state, method, detail) for a row against the leader, on the tasks both have."""
    shared = sorted(set(row.cells) & set(leader.cells))
    if not shared:
        return "unknown", "", "no task in common with the leader"
    tests = [paired_test(row.cells[u].run, leader.cells[u].run, bootstrap) for u in shared]
    if all(t.status == "ok" for t in tests):
        test = combine_paired(tests)
        method = "paired bootstrap"
        if not test.significant:
            return "tied", method, paired_detail(test)
        return ("ahead" if (test.delta or 0) > 0 else "behind"), method, paired_detail(test)
    a_mean, a_ci = mean_ci([row.cells[u].score for u in shared], [row.cells[u].ci for u in shared])
    b_mean, b_ci = mean_ci([leader.cells[u].score for u in shared], [leader.cells[u].ci for u in shared])
    if a_ci is None or b_ci is None:
        return "unknown", "", "no interval to compare with the leader"
    method = "interval overlap"
    if a_ci[1] >= b_ci[0] and a_ci[0] <= b_ci[1]:
        return "tied", method, "95% intervals overlap"
    return ("ahead" if a_mean > b_mean else "behind"), method, "95% intervals do not overlap"


def _meta_row(info: ModelInfo, records: Sequence[StoredResult]) -> MetaRow:
    runs = [r.run for r in records]
    started = sorted(r.started_at for r in runs if r.started_at)
    finished = sorted(r.finished_at for r in runs if r.finished_at)
    devices = sorted({d for d in (_device_text(r) for r in runs) if d})
    dtypes = sorted({str(r.settings.get("dtype") or r.encode.get("dtype")) for r in runs} - {"None"})
    hardware = sorted({hardware_text(r.hardware) for r in runs if r.hardware})
    versions = sorted({_kv(r.versions) for r in runs if r.versions})
    commits = sorted({r.git_commit for r in runs if r.git_commit})
    settings = sorted({r.settings_hash for r in runs if r.settings_hash})
    data_revs = sorted(
        {
            (unit_of(s).label, s.run.data_revision or s.dataset_revision or "unknown")
            for s in records
            if s.run.status == "ok"
        }
    )
    return MetaRow(
        info,
        ", ".join(sorted({r.revision for r in records})),
        ", ".join(sorted({r.weights_source for r in records if r.weights_source})) or "–",
        started[0] if started else "–",
        finished[-1] if finished else "–",
        ", ".join(devices) or "–",
        ", ".join(dtypes) or "–",
        " | ".join(hardware) or "–",
        " | ".join(versions) or "–",
        ", ".join(c[:12] for c in commits) or "–",
        ", ".join(settings) or "–",
        data_revs,
    )


def build_page(
    lang: str,
    results: Sequence[StoredResult],
    specs: Sequence[ModelSpec],
    bootstrap: Callable[..., dict[str, Any]] | None,
) -> LanguagePage:
    """The view model of one language page (no rendering, no I/O)."""
    by_key: dict[str, ModelSpec] = {s.key: s for s in specs}
    mine = [r for r in results if run_language(r.run) == lang]
    grouped: dict[str, dict[Unit, list[StoredResult]]] = {}
    for r in mine:
        grouped.setdefault(r.model_key, {}).setdefault(unit_of(r), []).append(r)
    chosen: dict[str, dict[Unit, StoredResult]] = {
        key: {u: pick_record(recs) for u, recs in units.items()} for key, units in grouped.items()
    }
    infos = {
        key: model_info(key, by_key.get(key), [r for rs in grouped[key].values() for r in rs])
        for key in grouped
    }
    units = sorted({u for per in chosen.values() for u, s in per.items() if s.run.status == "ok"})

    rows: list[Row] = []
    failures: list[Failure] = []
    for key in sorted(chosen):
        per = chosen[key]
        info = infos[key]
        cells: dict[Unit, Cell] = {}
        for unit, stored in sorted(per.items()):
            run = stored.run
            score = _finite(run.scores.get(MAIN_METRIC)) if run.status == "ok" else None
            if score is None:
                kind = run.error_kind or ("missing-score" if run.status == "ok" else run.status)
                failures.append(
                    Failure(
                        info,
                        unit,
                        run.status,
                        ERROR_KIND_TEXT.get(kind, kind.replace("-", " ")),
                        run.error or ("no cosine_spearman stored" if run.status == "ok" else ""),
                        run.finished_at or run.started_at or "",
                    )
                )
                continue
            ci = stored_ci(run)
            cells[unit] = Cell(
                score * 100, None if ci is None else (ci[0] * 100, ci[1] * 100), run.n_pairs, run
            )
        if not cells:
            continue
        ordered = sorted(cells)
        avg, avg_ci = mean_ci([cells[u].score for u in ordered], [cells[u].ci for u in ordered])
        runs = [cells[u].run for u in ordered]
        rows.append(
            Row(
                info,
                cells,
                avg,
                avg_ci,
                len(cells),
                len(units),
                any(r.off_card_language for r in runs),
                speed=_speed(runs),
            )
        )
    rows.sort(key=lambda r: (not r.complete, -r.average, r.model.name.lower(), r.model.key))
    methods: set[str] = set()
    for i, row in enumerate(rows, start=1):
        row.rank = i
        if i == 1:
            row.tie = "leader"
            continue
        row.tie, row.tie_method, row.tie_detail = _tie(row, rows[0], bootstrap)
        if row.tie_method:
            methods.add(row.tie_method)

    claims: list[ClaimRow] = []
    page_keys = set(chosen) | {s.key for s in specs if spec_covers(s, lang)}
    for key in sorted(page_keys):
        info = infos.get(key) or model_info(key, by_key.get(key), [])
        row = next((r for r in rows if r.model.key == key), None)
        ok_runs = {u: c.run for u, c in row.cells.items()} if row else {}
        claims.extend(check_claims(info, lang, ok_runs, key in chosen))

    not_run: list[tuple[ModelInfo, str]] = []
    for spec in sorted(specs, key=lambda s: s.key):
        if spec.key in chosen or not spec_covers(spec, lang):
            continue
        info = model_info(spec.key, spec, [])
        infos.setdefault(spec.key, info)
        reason = f"no result stored for {language_name(lang)}"
        if spec.errors:
            reason += "; the card has errors: " + "; ".join(sorted(spec.errors))
        not_run.append((info, reason))

    audits = [
        a
        for a in (card_audit(infos[k]) for k in sorted(infos, key=lambda k: (infos[k].name.lower(), k)))
        if a
    ]
    meta = [
        _meta_row(infos[k], [r for rs in grouped[k].values() for r in rs])
        for k in sorted(grouped, key=lambda k: (infos[k].name.lower(), k))
    ]
    stamps = sorted(
        t for r in mine for t in (r.run.started_at, r.run.finished_at) if t
    )  # dates stored in results
    commits = sorted({r.run.git_commit for r in mine if r.run.git_commit})
    return LanguagePage(
        lang=lang,
        name=language_name(lang),
        units=units,
        rows=rows,
        claims=claims,
        audits=audits,
        failures=sorted(
            failures, key=lambda f: (f.model.name.lower(), f.model.key, f.unit or Unit("", "", ""))
        ),
        not_run=not_run,
        meta=meta,
        date_range=(stamps[0], stamps[-1]) if stamps else None,
        commits=commits,
        tie_methods=sorted(methods),
    )


# --------------------------------------------------------------------------------------
# Charts (inline SVG, deterministic)
# --------------------------------------------------------------------------------------

_COLORS = {"leader": "#1a7f5a", "tied": "#3c9ab2", "other": "#7b8794", "task": "#c2410c"}


def _svg(fig: Any, prefix: str) -> Markup:
    buf = io.StringIO()
    fig.savefig(
        buf,
        format="svg",
        bbox_inches="tight",
        pad_inches=0.08,
        metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
    )
    text = buf.getvalue()
    text = re.sub(r"<\?xml[^>]*\?>\s*", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>\s*", "", text)
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)  # comments repeat (untrusted) label text
    text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", text)
    text = re.sub(r"\n\s*\n", "\n", text)
    return Markup(text.strip())


def _short(text: str, n: int = 48) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _chart_context() -> Any:
    import matplotlib

    return matplotlib.rc_context(
        {
            "svg.hashsalt": "harness-report",
            "svg.fonttype": "path",
            "text.parse_math": False,
            "axes.formatter.use_mathtext": False,
            "font.family": "DejaVu Sans",
            "font.size": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.edgecolor": "#9aa5b1",
            "axes.labelcolor": "#1f2933",
            "axes.labelsize": 10,
            "xtick.color": "#3e4c59",
            "ytick.color": "#3e4c59",
            "xtick.labelsize": 9.5,
            "ytick.labelsize": 9.5,
            "path.simplify": False,
        }
    )


def _color(row: Row) -> str:
    return _COLORS["leader"] if row.tie == "leader" else _COLORS.get(row.tie, _COLORS["other"])


def score_chart(page: LanguagePage) -> Markup | None:
    """Average score with its 95% interval per model (and single-task marks when there are several)."""
    if not page.rows:
        return None
    from matplotlib.figure import Figure

    rows = page.rows
    multi = len(page.units) > 1
    with _chart_context(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = Figure(figsize=(9.0, 1.0 + 0.45 * len(rows)))
        ax = fig.add_subplot()
        ys = list(range(len(rows)))[::-1]
        markers = "sD^v<>ph"
        for y, row in zip(ys, rows, strict=True):
            color = _color(row)
            if row.average_ci:
                lo, hi = row.average_ci
                ax.errorbar(
                    [row.average],
                    [y],
                    xerr=[[row.average - lo], [hi - row.average]],
                    fmt="o",
                    color=color,
                    ecolor=color,
                    elinewidth=2.2,
                    capsize=4,
                    markersize=8,
                    zorder=3,
                )
            else:
                ax.plot([row.average], [y], "o", color=color, markersize=8, zorder=3)
            ax.annotate(
                f2(row.average),
                (row.average, y),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize=8.5,
                color="#1f2933",
            )
        if multi:
            for j, unit in enumerate(page.units):
                pts = [(r.cells[unit].score, y) for y, r in zip(ys, rows, strict=True) if unit in r.cells]
                ax.plot(
                    [p[0] for p in pts],
                    [p[1] for p in pts],
                    markers[j % len(markers)],
                    linestyle="none",
                    color=_COLORS["task"],
                    markersize=4.5,
                    alpha=0.75,
                    zorder=2,
                    label=_short(unit.label, 60),
                )
        leader = rows[0]
        if leader.average_ci:
            ax.axvspan(*leader.average_ci, color=_COLORS["leader"], alpha=0.08, lw=0)
        ax.set_yticks(ys, [_short(f"{r.rank}. {r.model.name}") for r in rows])
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_xlabel("average cosine Spearman ×100, with 95% interval")
        ax.grid(axis="x", color="#e4e7eb", lw=0.8)
        ax.set_axisbelow(True)
        if multi:
            ax.legend(
                loc="lower left",
                bbox_to_anchor=(0.0, 1.01),
                ncol=min(3, len(page.units)),
                fontsize=8.5,
                frameon=False,
                handletextpad=0.3,
                columnspacing=1.2,
            )
        return _svg(fig, f"score-{page.lang}")


def speed_chart(page: LanguagePage) -> Markup | None:
    """Average score against sentences per second (log scale)."""
    points = [
        (r, r.speed.sentences_per_second)
        for r in page.rows
        if r.speed and r.speed.sentences_per_second and r.speed.sentences_per_second > 0
    ]
    if not points:
        return None
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    with _chart_context(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = Figure(figsize=(11.0, 4.4))
        ax = fig.add_subplot()
        ordered = sorted(points, key=lambda p: (p[1], p[0].rank))
        below = {id(row) for i, (row, _) in enumerate(ordered) if i % 2 == 1}
        for row, rate in points:
            color = _color(row)
            if row.average_ci:
                ax.plot([rate, rate], list(row.average_ci), color=color, lw=2, alpha=0.45, zorder=2)
            ax.plot([rate], [row.average], "o", color=color, markersize=9, zorder=3)
            ax.annotate(
                _short(f"{row.rank}. {row.model.name}", 48),
                (rate, row.average),
                textcoords="offset points",
                xytext=(8, -13 if id(row) in below else 5),
                fontsize=8.5,
                color="#1f2933",
            )
        ax.set_xscale("log")
        rates = [p[1] for p in points]
        ax.set_xlim(min(rates) / 2, max(rates) * 5)
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("sentences per second (log scale; see the speed table for devices)")
        ax.set_ylabel("average cosine Spearman ×100")
        ax.grid(color="#e4e7eb", lw=0.8)
        ax.set_axisbelow(True)
        return _svg(fig, f"speed-{page.lang}")


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def template_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(enabled_extensions=("html", "htm", "xml"), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        md=md_escape,
        f2=f2,
        signed=signed,
        interval=interval,
        human_bytes=human_bytes,
        human_rate=human_rate,
        human_count=human_count,
        plain=plain,
        breakable=breakable,
    )
    env.globals.update(language_name=language_name, warning_text=WARNING_TEXT)
    return env


_CSP_PLACEHOLDER = "__HARNESS_CSP__"


def _script() -> Markup:
    return Markup((TEMPLATE_DIR / "sort.js").read_text(encoding="utf-8").strip())


def _with_csp(html: str) -> str:
    """Fill the Content-Security-Policy: nothing external, only the page's own inline script."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode() + "'"
        for body in re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    )
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src {hashes or chr(39) + 'none' + chr(39)}; base-uri 'none'; form-action 'none'"
    )
    return html.replace(_CSP_PLACEHOLDER, csp.replace("'", "&#39;"), 1)


def render_language(env: Environment, page: LanguagePage, results_label: str) -> tuple[str, str]:
    ctx = {
        "page": page,
        "results_label": results_label,
        "script": _script(),
        "csp": _CSP_PLACEHOLDER,
        "leader": page.leader,
        "tied": page.tied,
    }
    html = _with_csp(_tidy(env.get_template("language.html").render(ctx)))
    md = _tidy(env.get_template("language.md").render(ctx))
    return html, md


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    return "\n".join(out).strip() + "\n"


def render_index(
    env: Environment,
    pages: Sequence[LanguagePage],
    never_run: Sequence[tuple[ModelInfo, str]],
    load_errors: Sequence[str],
    results_label: str,
) -> str:
    stamps = sorted(t for p in pages if p.date_range for t in p.date_range)
    html = env.get_template("index.html").render(
        pages=pages,
        never_run=never_run,
        load_errors=load_errors,
        results_label=results_label,
        date_range=(stamps[0], stamps[-1]) if stamps else None,
        commits=sorted({c for p in pages for c in p.commits}),
        script=_script(),
        csp=_CSP_PLACEHOLDER,
    )
    return _with_csp(_tidy(html))


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
    return path


def report_languages(results: Sequence[StoredResult], languages: Sequence[str] | None) -> list[str]:
    if languages:
        out = []
        for raw in languages:
            code = raw.strip().lower() if PAGE_LANGUAGE.match(raw.strip().lower()) else None
            norm = "-".join(filter(None, (normalize_language(p) for p in raw.split("-")))) or code
            if not norm or not PAGE_LANGUAGE.match(norm):
                raise ValueError(f"not a language code: {raw!r}")
            out.append(norm)
        return _dedupe(out)
    return sorted({run_language(r.run) for r in results})


def build_reports(
    results_dir: Path,
    specs: list[ModelSpec],
    out_dir: Path,
    languages: list[str] | None = None,
    *,
    load_errors: list[str] | None = None,
) -> list[Path]:
    """Write ``<lang>.html`` and ``<lang>.md`` per language and ``index.html`` (returned last).

    Pure: reads `results_dir` and `specs` only; the same inputs give byte-identical files.
    Unreadable result files are listed on the index page (and appended to `load_errors`).
    """
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    errors: list[str] = []
    results = load_results(results_dir, errors)
    root_text = str(results_dir)
    errors = sorted(e.replace(root_text, results_dir.name) for e in errors)
    if load_errors is not None:
        load_errors.extend(errors)
    langs = report_languages(results, languages)
    bootstrap = load_paired_bootstrap()
    specs = sorted(specs, key=lambda s: s.key)
    env = template_env()
    label = results_dir.name or str(results_dir)

    pages: list[LanguagePage] = []
    written: list[Path] = []
    for lang in langs:
        page = build_page(lang, results, specs, bootstrap)
        for name, chart in (("scores", score_chart(page)), ("speed", speed_chart(page))):
            if chart is not None:
                page.charts[name] = chart
        html, md = render_language(env, page, label)
        written.append(_write(out_dir / f"{lang}.html", html))
        written.append(_write(out_dir / f"{lang}.md", md))
        pages.append(page)

    have_results = {r.model_key for r in results}
    never_run = [
        (model_info(s.key, s, []), ", ".join(s.language_list) or "no language stated")
        for s in specs
        if s.key not in have_results
    ]
    written.append(_write(out_dir / "index.html", render_index(env, pages, never_run, errors, label)))
    return written


def _spec_list(loaded: Any) -> list[ModelSpec]:
    """Accept what `load_registry` returns: a list of specs, a mapping, or an object with `.specs`."""
    if isinstance(loaded, tuple) and loaded and not isinstance(loaded[0], ModelSpec):
        loaded = loaded[0]
    if hasattr(loaded, "specs"):
        loaded = loaded.specs
    if isinstance(loaded, dict):
        loaded = list(loaded.values())
    return [s for s in loaded if isinstance(s, ModelSpec)]


def load_specs(registry_dir: Path | None) -> list[ModelSpec]:
    if registry_dir is None or not Path(registry_dir).is_dir():
        return []
    from harness.registry import load_registry  # written alongside; imported lazily

    return _spec_list(load_registry(Path(registry_dir)))


def report_command(
    results_dir: Path, registry_dir: Path | None, out_dir: Path, languages: list[str] | None
) -> int:
    """`harness report`: write the reports, print each path (the index last). Returns the exit code."""
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    if not results_dir.is_dir():
        print(f"error: results folder not found: {results_dir}", file=sys.stderr)
        return 2
    try:
        specs = load_specs(registry_dir)
    except Exception as exc:
        print(f"error: cannot read the registry {registry_dir}: {exc}", file=sys.stderr)
        return 2
    errors: list[str] = []
    try:
        paths = build_reports(results_dir, specs, out_dir, languages, load_errors=errors)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for err in errors:
        print(f"warning: {err}", file=sys.stderr)
    for path in paths:
        print(path)
    return 0
