"""Claims stated in words: prose sentences, list items, and ``key: value`` output in code blocks.

Each line that names a correlation is paired up with its numbers: "Spearman: 0.76",
"0.8626 (Spearman)", "a cosine Spearman correlation of 85", "Pearson 0.8312 and Spearman 0.8247"
(two claims), "0.80 Pearson and 0.79 Spearman" and "achieves \\(0.791\\) Spearman" (numbers
first), "Cosine-Similarity : Pearson: 0.7451 Spearman: 0.7364" (cosine for both). The dataset,
split and language come from the line, else the paragraph before it, else the heading it sits
under, else the card's own evaluation code (``load_dataset('stsb_multi_mt', 'es')``), else the
card's only declared language. Scores shown for the model *before* fine-tuning are not claims.
"""

from __future__ import annotations

import re

from harness.card.claim_words import (
    MAX_CLAIMS,
    SPLITS,
    UNSTATED,
    Found,
    Metric,
    dataset_info,
    dataset_line,
    make_claim,
    read_value,
    similarity_in,
    split_in,
)
from harness.card.evidence import Evidence, clip
from harness.card.markdown import Block, Document
from harness.languages import normalize_language
from harness.sts_datasets import dataset_mentions, names_other_benchmark, sts_dataset

MAX_LINE_CHARS = 20_000
_METRIC_TOKEN = re.compile(r"(?i)[\w-]*?(spearman|pearson)[\w’'-]*")
_NUMBER = re.compile(r"(?<![\w.\-/])(-?(?:\d+\.\d+|\.\d+|\d+))\s*(%?)(?![\w]|\.\d)")
_LOAD_DATASET_RE = re.compile(
    r"""load_dataset\(\s*(['"])([\w./-]{1,100})\1(?:\s*,\s*(['"])([\w.-]{1,40})\3)?"""
    r"""(?:[^)]{0,200}?split\s*=\s*(['"])([\w.-]{1,40})\5)?"""
)
_BASELINE = re.compile(
    r"(?i)\b(?:before (?:training|fine-?tuning)|without fine-?tuning|no fine-?tuning|untrained|baseline)\b"
)
_NOT_A_DATASET = {"score", "result", "results", "model score", "evaluation", "model", "metric", "metrics"}


def _number_ok(match: re.Match, text_between: str) -> bool:
    """Decimals and percentages are scores; a whole number is one only when it follows the metric
    closely ("Spearman correlation of 85") and lies in 10..100."""
    raw = match.group(1)
    if "." in raw or match.group(2):
        return True
    return 10 <= int(raw) <= 100 and len(text_between) <= 40 and not re.search(r"\d", text_between)


class _Context:
    """Where a line sits: its block, the paragraph before it, its heading, the card's code."""

    def __init__(self, doc: Document, only_language: str | None) -> None:
        self.doc = doc
        self.only_language = only_language
        self.code = [b.text for b in doc.code]

    def before(self, block: Block) -> str:
        return self.doc.text_before(block.line)


# a number right before a metric word: "0.791 Spearman", "85.2% Spearman", "\\(0.791\\) Spearman"
# (LaTeX), "0.82 cosine Spearman"
_LEADING_NUMBER = re.compile(
    r"(-?(?:\d+\.\d+|\.\d+|\d+)\s*%?)[\s\\)\]*$_]*(?:(?:cosine|cos|manhattan|euclidean|dot)[\s_-]*)?$", re.I
)
# a number right after a metric word: "Spearman 0.76", "Spearman: 0.76", "Spearman correlation of 85"
_TRAILING_NUMBER = re.compile(
    r"^[\s*:=|]*(?:(?:rank\s+)?correlation\s*)?(?:(?:of|is|=)\s*)?[\\($]*-?\.?\d", re.I
)


def _numbers_lead(plain: str, first: re.Match) -> bool:
    """Whether a line writes its numbers before the metric words ("achieves 0.791 Spearman"): its
    first metric word has a number right before it and none right after."""
    return bool(_LEADING_NUMBER.search(plain[: first.start()])) and not _TRAILING_NUMBER.match(
        plain[first.end() :]
    )


def _pairs(plain: str) -> tuple[list[tuple[re.Match, re.Match, int]], list[re.Match]]:
    """(metric, number, end of the label before it) pairs in a line, and metrics left unpaired."""
    metrics = list(_METRIC_TOKEN.finditer(plain))
    numbers = list(_NUMBER.finditer(plain))
    pairs: list[tuple[re.Match, re.Match, int]] = []
    used_n: set[int] = set()
    unpaired: list[re.Match] = []
    for m in metrics:  # "0.8626 (Spearman)"
        hit = re.search(r"(-?\d+(?:\.\d+)?\s*%?)\s*\(\s*[\w\s-]*$", plain[: m.start()])
        if hit:
            for ni, n in enumerate(numbers):
                if n.start() == hit.start(1) and ni not in used_n and _number_ok(n, ""):
                    pairs.append((m, n, n.start()))
                    used_n.add(ni)
                    break
    if metrics and _numbers_lead(plain, metrics[0]):  # "0.80 Pearson and 0.79 Spearman"
        done = {id(p[0]) for p in pairs}
        for m in metrics:
            hit = _LEADING_NUMBER.search(plain[: m.start()])
            if id(m) in done or not hit:
                continue
            for ni, n in enumerate(numbers):
                if n.start() == hit.start(1) and ni not in used_n and _number_ok(n, ""):
                    pairs.append((m, n, n.start()))
                    used_n.add(ni)
                    break
    paired = {id(p[0]) for p in pairs}
    for mi, m in enumerate(metrics):  # "Spearman: 0.76", "| spearman_cosine | 0.7091 |"
        if id(m) in paired:
            continue
        end = metrics[mi + 1].start() if mi + 1 < len(metrics) else len(plain)
        after = [
            ni
            for ni, n in enumerate(numbers)
            if ni not in used_n and m.end() <= n.start() < end and _number_ok(n, plain[m.end() : n.start()])
        ]
        if len(after) == 1:
            pairs.append((m, numbers[after[0]], m.start()))
            used_n.add(after[0])
        else:
            unpaired.append(m)
    return pairs, unpaired


def _label_dataset(plain: str, label_end: int) -> tuple[str | None, str | None, str | None]:
    label = plain[:label_end].strip(" :-=([*")
    label = re.split(r"[:=]", label)[-1].strip() if label else ""
    if label and len(label) <= 60 and re.search(r"[A-Za-z]", label) and not _METRIC_TOKEN.search(label):
        dataset, split, lang = dataset_info(label)
        if dataset and (dataset.lower() in _NOT_A_DATASET or sts_dataset(dataset).is_sts is not True):
            dataset = None
        return dataset, split, lang
    return None, None, None


def _from_code(ctx: _Context, raw: str, notes: list[str]) -> tuple[str | None, str | None, str | None]:
    """Dataset, split, language from the card's evaluation code that prints this value."""
    digits = raw.rstrip("%").strip()
    for code in ctx.code:
        if digits not in code:
            continue
        calls = list(_LOAD_DATASET_RE.finditer(code))
        if len(calls) != 1:
            continue
        call = calls[0]
        lang = normalize_language(call.group(4)) if call.group(4) else None
        split = SPLITS.get(call.group(6).lower(), call.group(6)) if call.group(6) else None
        notes.append(f"from the card's evaluation code that prints this value: {clip(call.group(0), 80)})")
        return call.group(2), split, lang
    return None, None, None


def _line_claims(ev: Evidence, ctx: _Context, block: Block, line: str, out: list[Found]) -> None:
    plain = " ".join(line.replace("\t", " ").split())
    pairs, unpaired = _pairs(plain)
    if unpaired and not pairs and _NUMBER.search(plain):
        ev.warn(
            "claim-ambiguous",
            f"a line names a correlation but no value I can pair: {clip(line.strip(), 100)!r}",
        )
    elif unpaired and pairs:
        ev.warn("claim-ambiguous", f"cannot tell which number a claim is in: {clip(line.strip(), 100)!r}")
    if not pairs:
        return
    # the paragraph before a list item or a code block introduces it; before a paragraph it is
    # another statement, and only the heading is shared
    before = ctx.before(block) if block.kind in ("item", "code") else ""
    context = f"{before}\n{block.section}"
    if names_other_benchmark(plain) or (not dataset_mentions(plain) and names_other_benchmark(context)):
        return
    line_similarity = similarity_in(re.sub(r"(?i)spearman|pearson|correlation", " ", plain))
    for m, n, label_end in pairs:
        raw = n.group(1) + n.group(2)
        value, decimals, problem = read_value(raw)
        if problem or value is None:
            ev.warn(
                "invalid-claim",
                f"claimed {m.group(1)} {raw} {problem}; not a claim: {clip(line.strip(), 100)!r}",
            )
            continue
        start = max(0, min(m.start(), n.start()) - 40)
        similarity = similarity_in(m.group(0)) or similarity_in(plain[start : m.start()]) or line_similarity
        notes: list[str] = []
        dataset, split, lang = _label_dataset(plain, label_end)
        mentions = dataset_mentions(plain) or dataset_mentions(before) or dataset_mentions(block.section)
        if dataset is None and mentions:
            dataset = mentions[0]
        split = split or split_in(plain) or split_in(before) or split_in(block.section)
        if dataset is None:  # "* Dataset: `sts-test-de`" above the line
            above = "\n".join(
                b.text for b in ctx.doc.blocks if b.line < block.line and b.section == block.section
            )
            line_info = dataset_line(above)
            if line_info:
                dataset, split, lang = line_info[0], split or line_info[1], lang or line_info[2]
                notes.append("dataset from the card's 'Dataset:' line")
        if dataset is None or split is None or lang is None:
            ds3, sp3, la3 = _from_code(ctx, raw, notes)
            dataset, split, lang = dataset or ds3, split or sp3, lang or la3
        if lang is None and ctx.only_language:
            lang = ctx.only_language
            notes.append(f"language {lang!r} from the card's only declared language (yaml:language)")
        if split is None:
            ev.warn("claim-without-split", f"the claim {clip(line.strip(), 80)!r} names no split")
        quote = clip(line.strip(), 240) + (" [" + "; ".join(notes) + "]" if notes else "")
        metric = Metric(m.group(1).lower(), similarity or "unspecified")
        claim = make_claim(
            metric, value, dataset=dataset, split=split, language=lang, source="text", quote=quote
        )
        out.append(Found(claim, decimals))


_STS_WORD = re.compile(r"(?i)\bSTS[\w-]*\b|semantic textual similarity")
_OTHER_METRIC = re.compile(
    r"(?i)\b(?:accuracy|acc|f1|precision|recall|map|ndcg|mrr|auc|loss|bleu|rouge|epochs?|lr|learning rate|"
    r"batch|warmup|params?|parameters|faster|speed|smaller|larger|improve\w*|better|gain)\b"
)
_SCORE = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d+)?\s*%|0?\.\d{2,})(?![\w.])")


def _unnamed_metric_claim(ev: Evidence, ctx: _Context, block: Block, line: str, out: list[Found]) -> None:
    """ "This model scores 76.9% on STS test (french)", or "87.9%" under "## STS dev (german)": an STS
    score that names no correlation; its metric is "unstated" (the card does not say which)."""
    text = " ".join(line.split())
    heading = block.section if text and _SCORE.fullmatch(text) else ""
    where = f"{text} {heading}"
    if not _STS_WORD.search(where) or _OTHER_METRIC.search(where) or names_other_benchmark(where):
        return
    scores = _SCORE.findall(text)
    if len(scores) != 1:
        return
    value, decimals, problem = read_value(scores[0].replace(" ", ""))
    if problem or value is None or value <= 0:
        return
    mentions = dataset_mentions(where)
    subset = _parenthesised_language(where) or ctx.only_language
    quote = f"{heading}: {text}" if heading else text
    claim = make_claim(
        UNSTATED,
        value,
        dataset=mentions[0] if mentions else None,
        split=split_in(where),
        language=subset,
        source="text",
        quote=quote + " [metric not stated by the card]",
    )
    out.append(Found(claim, decimals))


def _parenthesised_language(text: str) -> str | None:
    for word in re.findall(r"\(([A-Za-z]{4,})\)", text):
        code = normalize_language(word.capitalize())
        if code:
            return code
    return None


def text_claims(ev: Evidence, doc: Document, only_language: str | None) -> list[Found]:
    """Claims in prose, list items and code-block output lines."""
    ctx = _Context(doc, only_language)
    out: list[Found] = []
    for block in doc.blocks:
        if block.kind not in ("paragraph", "item", "heading", "code"):
            continue
        if block.kind == "code" and (
            _BASELINE.search(ctx.before(block)) or "," in block.text.split("\n", 1)[0]
        ):
            continue  # the model before training; CSV blocks are read as tables
        for line in block.text.split("\n"):
            if len(out) > 2 * MAX_CLAIMS:
                ev.warn("too-many-claims", f"the card states over {2 * MAX_CLAIMS} scores; read no further")
                return out
            if len(line) > MAX_LINE_CHARS:
                continue
            if not re.search(r"(?i)spearman|pearson", line):
                if block.kind in ("paragraph", "item"):
                    _unnamed_metric_claim(ev, ctx, block, line, out)
                continue
            if block.kind == "code" and re.search(
                r"""(?:\w\(|^\s*(?:import|from|def|for|if|print)\b)""", line
            ):
                continue  # code, not output
            _line_claims(ev, ctx, block, line, out)
    return out
