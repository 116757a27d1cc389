"""`harness report`: content, safety, determinism, golden Markdown and a headless-browser check.

Regenerate the golden Markdown with ``HARNESS_UPDATE_GOLDEN=1 pytest tests/test_report.py``.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import types
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fixtures.results.builder import build_results, build_specs

from harness import report as rpt
from harness.card import parse_card
from harness.prompts import with_sources
from harness.records import Claim, ModelSpec, RunRecord, RunSettings
from harness.report.claims import NOT_COMPARABLE
from harness.report.view import card_audit, model_info
from harness.store import load_results, write_run

GOLDEN = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("HARNESS_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("report")
    results = build_results(root / "results")
    specs = build_specs()
    paths = rpt.build_reports(results, specs, root / "reports")
    return {
        "root": root,
        "results": results,
        "specs": specs,
        "paths": paths,
        "de_html": (root / "reports" / "de.html").read_text(encoding="utf-8"),
        "es_html": (root / "reports" / "es.html").read_text(encoding="utf-8"),
        "de_md": (root / "reports" / "de.md").read_text(encoding="utf-8"),
        "es_md": (root / "reports" / "es.md").read_text(encoding="utf-8"),
        "index": (root / "reports" / "index.html").read_text(encoding="utf-8"),
    }


class _Table(HTMLParser):
    """Rows of one table (by id) as lists of cell texts, plus each row's attributes."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.depth, self.in_body = table_id, 0, False
        self.rows: list[list[str]] = []
        self.row_attrs: list[dict[str, str | None]] = []
        self.headers: list[str] = []
        self._cell: list[str] | None = None
        self._in_head = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            if self.depth or a.get("id") == self.table_id:
                self.depth += 1
            return
        if not self.depth:
            return
        if tag == "thead":
            self._in_head = True
        elif tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.rows.append([])
            self.row_attrs.append(a)
        elif tag in ("td", "th"):
            self._cell = []
        elif tag in ("span", "br", "li") and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if not self.depth:
            return
        if tag == "table":
            self.depth -= 1
        elif tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None:
            text = re.sub(r"\s+", " ", "".join(self._cell)).strip()
            if self._in_head:
                self.headers.append(text)
            elif self.rows:
                self.rows[-1].append(text)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table(page: str, table_id: str) -> _Table:
    parser = _Table(table_id)
    parser.feed(page)
    return parser


def stored_score(results: Path, key: str, task: str, subset: str) -> tuple[str, str]:
    """(score, interval) ×100 with two decimals, straight from the stored result."""
    for r in load_results(results):
        if r.model_key == key and r.task_name == task and r.run.subset == subset:
            lo, hi = r.run.ci95
            return f"{r.run.scores['cosine_spearman'] * 100:.2f}", f"[{lo * 100:.2f}, {hi * 100:.2f}]"
    raise AssertionError(f"no result for {key} {task} {subset}")


# ---------------------------------------------------------------------------------------------


def test_writes_each_language_and_index_last(built):
    names = [p.name for p in built["paths"]]
    assert names == ["de.html", "de.md", "de.json", "es.html", "es.md", "es.json", "index.html"]
    idx = table(built["index"], "languages-table")
    assert [row[0] for row in idx.rows] == ["German (de)", "Spanish (es)"]
    assert 'href="de.html"' in built["index"] and 'href="es.md"' in built["index"]
    de_row = idx.rows[0]
    assert "aari1995/gBERT-large-sts-v2" in de_row[1]
    assert "sentence-transformers/paraphrase-multilingual-mpnet-base-v2" in de_row[3]  # tied


def test_leaderboard_ranks_scores_and_ties(built):
    t = table(built["de_html"], "leaderboard-table")
    assert t.headers[:5] == [
        "Rank",
        "Model",
        "GermanSTSBenchmark",
        "STSBenchmarkMultilingualSTS[de]",
        "Average",
    ]
    keys = [a["data-model"] for a in t.row_attrs]
    assert keys == ["gbert-large-sts-v2", "multilingual-mpnet", "evil-card"]
    assert [row[0] for row in t.rows] == ["1", "2", "3"]
    # every task cell shows the stored score ×100 with two decimals and its interval
    for row, key in zip(t.rows, keys, strict=True):
        for col, (task, subset) in (
            (2, ("GermanSTSBenchmark", "default")),
            (3, ("STSBenchmarkMultilingualSTS", "de")),
        ):
            if key == "evil-card" and task == "GermanSTSBenchmark":
                assert row[col] == "–"
                continue
            score, ci = stored_score(built["results"], key, task, subset)
            assert row[col] == f"{score} {ci}"
    gbert = t.rows[0]
    raw = [
        r.run.scores["cosine_spearman"]
        for r in load_results(built["results"])
        if r.model_key == "gbert-large-sts-v2" and rpt.run_language(r.run) == "de"
    ]
    assert len(raw) == 2 and gbert[4].startswith(f"{sum(raw) / 2 * 100:.2f} [")
    assert re.fullmatch(r"\d+\.\d{2} \[\d+\.\d{2}, \d+\.\d{2}\]", gbert[4])
    assert "leader" in gbert[5]
    assert "tied with leader" in t.rows[1][5] and "paired bootstrap" in t.rows[1][5]
    assert "below leader" in t.rows[2][5] and "p < 0.001" in t.rows[2][5]
    assert "over 1 of 2 tasks" in t.rows[2][4] and "incomplete" in t.rows[2][1]
    assert "Best for German:" in built["de_html"]
    summary = re.search(r'<p class="headline">(.*?)</p>', built["de_html"], re.S).group(1)
    assert "gBERT-large-sts-v2" in summary and "statistically tied with" in summary
    assert "paraphrase-multilingual-mpnet-base-v2" in summary


def test_spanish_page_off_card_overlap_and_incomplete(built):
    t = table(built["es_html"], "leaderboard-table")
    keys = [a["data-model"] for a in t.row_attrs]
    assert keys == ["distiluse-stsb-es", "multilingual-mpnet", "gbert-large-sts-v2"]
    assert "interval overlap" in t.rows[1][5] and "tied with leader" in t.rows[1][5]
    assert "off-card language" in t.rows[2][1] and "incomplete" in t.rows[2][1]
    assert "off-card language" not in t.rows[0][1]
    assert "Run on a language their card does not list: aari1995/gBERT-large-sts-v2." in built["es_md"]


def test_claims_checked_flagged_and_unmatched(built):
    de = table(built["de_html"], "claims-table")
    by_task = {row[3].split(" ")[0]: row for row in de.rows}
    multi = by_task["STSBenchmarkMultilingualSTS[de]"]
    assert multi[1] == "86.26" and "outside our 95% interval" in multi[6]
    score, _ = stored_score(built["results"], "gbert-large-sts-v2", "STSBenchmarkMultilingualSTS", "de")
    assert multi[5] == f"{float(score) - 86.26:+.2f}"
    assert "within our 95% interval" in by_task["GermanSTSBenchmark"][6]
    es = table(built["es_html"], "claims-table")
    checks = [row[6] for row in es.rows]
    assert checks == ["within our 95% interval", "not checked: no matching task run"]
    assert "dataset from the card's datasets list" in es.rows[0][2]
    assert "| **outside our 95% interval** |" in built["de_md"]
    assert "| not checked: no matching task run |" in built["es_md"]


def test_failures_and_not_run_are_listed_with_reasons(built):
    f = table(built["de_html"], "failures-table")
    reasons = {row[0]: (row[2], row[3], row[4]) for row in f.rows}
    assert reasons["deepset/gbert-large"][:2] == ("error", "out of memory")
    assert "CUDA out of memory" in reasons["deepset/gbert-large"][2]
    roberta = "T-Systems-onsite/german-roberta-sentence-transformer-v2"
    assert reasons[roberta][:2] == ("unavailable", "weights unavailable")
    assert (
        "T-Systems-onsite/cross-en-de-roberta-sentence-transformer"
        in built["de_html"].split('id="not-run"')[1]
    )
    assert "no result stored for German" in built["de_html"]
    assert "| not run | no result stored for German |" in built["de_md"]
    es = table(built["es_html"], "failures-table")
    assert es.rows[0][0] == "someone/broken-sts-es" and "non-finite" in es.rows[0][3]


def test_card_facts_and_audit_words(built):
    t = table(built["de_html"], "cards-table")
    rows = {row[0]: row for row in t.rows}
    gbert = rows["aari1995/gBERT-large-sts-v2"]
    assert gbert[1:9] == [
        "de",
        "1024",
        "mean",
        "512",
        "BertModel",
        "335.7M",
        "–",
        "none known (model files not read)",
    ]  # 8: STS prompt, where from
    evil = next(row for name, row in rows.items() if name.startswith("<script>"))
    assert rpt.WARNING_TEXT["pooling-mismatch"] in evil[9]
    assert rpt.WARNING_TEXT["unsafe-model-id"] in evil[9]
    assert "A finding the report has no words for." in evil[9]  # unknown code: the finding's message
    assert 'title="source: model-files:config.json"' in built["de_html"]
    es = table(built["es_html"], "cards-table")
    broken = next(row for row in es.rows if row[0] == "someone/broken-sts-es")
    assert broken[1] == "es (inferred)" and rpt.WARNING_TEXT["inferred-language"] in broken[9]


def test_speed_and_run_metadata(built):
    t = table(built["de_html"], "speed-table")
    assert t.rows[0][:6] == [
        "1",
        "aari1995/gBERT-large-sts-v2",
        "118",
        "2.53 GiB",
        "cuda:0 (NVIDIA H100 80GB HBM3)",
        "fp16",
    ]
    assert t.rows[2][2:5] == ["1,893", "384.00 MiB", "cpu"]
    meta = built["de_html"].split('id="metadata"')[1]
    for expected in (
        "2025-06-02T09:14:05+00:00",
        "NVIDIA H100 80GB HBM3",
        "torch 2.13.0",
        "mteb 2.26.24",
        "e36907544d44c3a247898ed81540310442329e20",
        "4f3c2b1a0e9d",
        "no-revision",
    ):
        assert expected in meta
    assert "results from 2025-06-02T09:14:05+00:00 to 2025-06-02T10:25:59+00:00" in built["de_md"]


def test_untrusted_names_are_escaped_everywhere(built):
    page = built["de_html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for page in (built["de_html"], built["es_html"], built["index"]):
        assert "<script>alert(1)" not in page
        assert page.count("<script") == 1  # only the page's own sorting script
        assert "http://evil.example" not in re.findall(r'href="([^"]*)"', page)
    assert 'href="https://huggingface.co/aari1995/gBERT-large-sts-v2"' in built["de_html"]
    md = built["de_md"]
    assert "<script>" not in md and "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert "huggingface.co/<" not in md and "huggingface.co/&lt;" not in md  # no link for it
    # escaped pipes and backticks keep every table row at its header's column count
    board = md.split("## Leaderboard")[1].split("##")[0]
    rows = [line for line in board.splitlines() if line.startswith("|")]
    counts = {len(re.findall(r"(?<!\\)\|", line)) for line in rows}
    assert len(counts) == 1, rows
    assert "`" not in md.replace("\\`", "").replace("`harness report`", "").replace(
        "`brand-new-code`", ""
    ).replace("`pooling-mismatch`", "").replace("`unsafe-model-id`", "")


class _Loads(HTMLParser):
    """Every URL-valued attribute, with its tag."""

    URL_ATTRS = frozenset(
        {
            "src",
            "href",
            "xlink:href",
            "data",
            "poster",
            "srcset",
            "action",
            "formaction",
            "background",
        }
    )

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name in self.URL_ATTRS and value:
                self.urls.append((tag, name, value))


def test_html_is_self_contained(built):
    for page in (built["de_html"], built["es_html"], built["index"]):
        parser = _Loads()
        parser.feed(page)
        assert "link" not in parser.tags and "iframe" not in parser.tags and "img" not in parser.tags
        for tag, name, value in parser.urls:
            if "://" in value or value.startswith("//"):
                assert (tag, name) == ("a", "href"), (tag, name, value)
                assert re.fullmatch(r"https://huggingface\.co/[A-Za-z0-9._-]+/[A-Za-z0-9._-]+", value)
        assert "@import" not in page and not re.search(r"url\(\s*['\"]?(https?:)?//", page)
        assert '<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;' in page
        assert "<script>" in page and "<script src" not in page


def test_charts_are_inline_svg(built):
    page = built["de_html"]
    svgs = re.findall(r"<svg\b.*?</svg>", page, re.S)
    assert len(svgs) == 2
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page and "<metadata>" not in page
    assert all("<!--" not in svg for svg in svgs)
    ids = re.findall(r'\bid="([^"]+)"', "".join(svgs))
    assert len(ids) == len(set(ids)) and all(i.startswith(("score-de-", "speed-de-")) for i in ids)


def test_second_build_is_byte_identical(built, tmp_path):
    again = rpt.build_reports(built["results"], build_specs(), tmp_path / "again")
    assert [p.name for p in again] == [p.name for p in built["paths"]]
    for first, second in zip(built["paths"], again, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name


@pytest.mark.parametrize("lang", ["de", "es"])
def test_markdown_matches_golden(built, lang):
    golden = GOLDEN / f"report_{lang}.md"
    text = built[f"{lang}_md"]
    if UPDATE_GOLDEN or not golden.exists():
        if not UPDATE_GOLDEN and os.environ.get("CI"):
            pytest.fail(f"{golden} missing; regenerate with HARNESS_UPDATE_GOLDEN=1")
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), (
        f"{lang}.md differs from {golden}; if the change is intended, rerun with HARNESS_UPDATE_GOLDEN=1"
    )


# --- units ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [("deu-Latn", "de"), ("de", "de"), ("spa", "es"), ("ron-Latn", "ro"), ("cmn-Hans", "zh"), ("xx!", None)],
)
def test_normalize_language(code, expected):
    assert rpt.normalize_language(code) == expected


@pytest.mark.parametrize(
    ("dataset", "task", "lang", "expected"),
    [
        ("STS-B", "GermanSTSBenchmark", "de", True),
        ("STS-B", "STSBenchmarkMultilingualSTS", "de", True),
        ("stsb_multi_mt", "STSBenchmarkMultilingualSTS", "es", True),
        ("PhilipMay/stsb_multi_mt", "STSBenchmarkMultilingualSTS", "de", True),
        ("stsb_multi_mt", "GermanSTSBenchmark", "de", False),
        ("sts-test-de", "GermanSTSBenchmark", "de", True),
        ("german-STSbenchmark", "GermanSTSBenchmark", "de", True),
        ("ro_sts", "RonSTS", "ro", True),
        ("RO-STS", "RonSTS", "ro", True),
        ("sts", "RonSTS", "ro", True),
        ("mteb/STSES", "STSES", "es", True),
        ("sick-r", "STSBenchmarkMultilingualSTS", "de", False),
        ("stsb_multi_mt", "RonSTS", "ro", False),
    ],
)
def test_claim_dataset_matching_table(dataset, task, lang, expected):
    assert rpt.claim_dataset_matches(dataset, task, lang) is expected


def test_md_escape_and_hub_links():
    assert rpt.md_escape("a|b `c` <i>[x](y)\n") == "a\\|b \\`c\\` &lt;i&gt;\\[x\\](y)"
    assert rpt.hub_url("aari1995/gBERT-large-sts-v2") == "https://huggingface.co/aari1995/gBERT-large-sts-v2"
    for bad in (
        "<script>alert(1)</script>",
        "{MODEL_NAME}",
        "a/b/c",
        "../etc",
        "org/na..me",
        "noslash",
        None,
    ):
        assert rpt.hub_url(bad) is None


def test_run_language_accepts_mteb_and_iso_codes(built):
    langs = {(r.task_name, r.run.subset): rpt.run_language(r.run) for r in load_results(built["results"])}
    assert langs[("GermanSTSBenchmark", "default")] == "de"  # stored as deu-Latn
    assert langs[("STSBenchmarkMultilingualSTS", "es")] == "es"  # stored as es
    assert langs[("STSES", "default")] == "es"  # stored as spa-Latn


def test_overlap_fallback_without_a_paired_bootstrap(built):
    results = load_results(built["results"])
    page = rpt.build_page("de", results, built["specs"], None)
    assert [r.tie for r in page.rows] == ["leader", "tied", "behind"]
    assert page.rows[1].tie_method == "interval overlap"


def test_claim_without_language_on_multilingual_card_is_listed_unchecked(built):
    spec = ModelSpec(
        key="multilingual-mpnet",
        source="x",
        languages={"value": ["multilingual"], "source": "yaml:language"},
        claims=[Claim(metric="spearman", value=0.8, dataset="stsb", source="text", quote="0.80 on STSb")],
    )
    results = load_results(built["results"])
    page = rpt.build_page("de", results, [spec], None)
    assert [c.reason for c in page.claims] == [
        "not checked: the claim names no language and the card lists several"
    ]


def test_claims_compared_only_like_with_like(built):
    """A claim meets only the same correlation of the same similarity: a Manhattan claim never
    (only cosine or unspecified claims are compared), a max claim never, an unspecified one cosine."""
    claims = [
        Claim(
            metric="spearman",
            similarity=sim,
            value=0.86,
            dataset="stsb_multi_mt",
            split="test",
            language="de",
            mteb_task="STSBenchmarkMultilingualSTS",
            source="model-index",
            quote="card",
        )
        for sim in ("manhattan", "max", "unspecified")
    ]
    langs = {"value": ["de"], "source": "y"}
    spec = ModelSpec(key="gbert-large-sts-v2", source="x", languages=langs, claims=claims)
    page = rpt.build_page("de", load_results(built["results"]), [spec], None)
    rows = {c.claim.similarity: c for c in page.claims}
    manhattan, top, plain = rows["manhattan"], rows["max"], rows["unspecified"]
    assert manhattan.metric is None and manhattan.measured is None and manhattan.unit is None
    assert manhattan.reason == "not compared: manhattan similarity, not comparable with our cosine score"
    assert top.reason == NOT_COMPARABLE and top.unit is None
    assert plain.metric == "cosine_spearman" and plain.measured is not None and not plain.reason


def test_language_filter_and_empty_language(built, tmp_path):
    paths = rpt.build_reports(built["results"], built["specs"], tmp_path, ["deu-Latn", "fr"])
    assert [p.name for p in paths] == [
        "de.html",
        "de.md",
        "de.json",
        "fr.html",
        "fr.md",
        "fr.json",
        "index.html",
    ]
    fr = (tmp_path / "fr.md").read_text(encoding="utf-8")
    assert "**No model has a successful result for French yet.**" in fr
    with pytest.raises(ValueError):
        rpt.build_reports(built["results"], built["specs"], tmp_path, ["../etc"])


def test_report_command_prints_paths_index_last(built, tmp_path, capsys, monkeypatch):
    fake = types.ModuleType("harness.registry")
    fake.load_registry = lambda root: list(built["specs"])
    monkeypatch.setitem(sys.modules, "harness.registry", fake)
    (tmp_path / "registry").mkdir()
    bad = built["results"] / "broken-model" / "rev" / "Task.json"
    try:
        bad.parent.mkdir(parents=True)
        bad.write_text("{not json", encoding="utf-8")
        code = rpt.report_command(built["results"], tmp_path / "registry", tmp_path / "out", None)
    finally:
        shutil.rmtree(bad.parent.parent)
    out, err = capsys.readouterr()
    assert code == 0
    lines = out.splitlines()
    assert lines[-1] == str(tmp_path / "out" / "index.html") and len(lines) == 7
    assert "Task.json: not a result file (unreadable JSON" in err
    index = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "Result files that could not be read" in index and str(built["results"]) not in index
    assert "broken-model/rev/Task.json" in index
    languages, never_run = index.split('id="never-run"')
    assert "cross-en-de-roberta-sentence-transformer" not in languages
    assert "cross-en-de-roberta-sentence-transformer" in never_run
    assert rpt.report_command(tmp_path / "missing", None, tmp_path / "o2", None) == 2


# --- the page in a real browser ------------------------------------------------------------------


def _chromium() -> str:
    """The headless browser; skipped where there is none, but a failure under CI (``CI=true``).

    ``.ci/run`` installs Chromium from Debian's packages when it is missing, so CI never skips.
    """
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
        if found:
            return found
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        pytest.fail("Chromium is not installed; CI must run the browser tests (.ci/run installs it)")
    pytest.skip("Chromium is not installed")


from render_screenshot import FLAGS as CHROMIUM_FLAGS  # noqa: E402  (one list of Chromium flags)


def test_renders_in_headless_chromium(built, tmp_path):
    browser = _chromium()
    page = (built["root"] / "reports" / "de.html").resolve()
    base = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=60, check=False
    ).stdout
    rendered = table(dom, "leaderboard-table")
    assert [a["data-model"] for a in rendered.row_attrs] == [
        "gbert-large-sts-v2",
        "multilingual-mpnet",
        "evil-card",
    ]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom and "<script>alert(1)" not in dom
    # the sorting script ran (the CSP hash allowed it): headers became sortable buttons
    assert 'class="num sortable"' in dom or 'class="sortable"' in dom
    shot = tmp_path / "de.png"
    subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri()],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert shot.is_file() and shot.stat().st_size > 20_000
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size == (1280, 2000)
        colors = im.convert("RGB").resize((64, 100)).getcolors(64 * 100)
    assert colors is not None and len(colors) > 50  # not a blank page
    # unescape sanity: the DOM text of the hostile row is the literal name
    assert html.unescape("&lt;script&gt;alert(1)&lt;/script&gt;") in rendered.rows[2][1]


SORT_PROBE = """<script>
var rows = function () {
  return Array.prototype.map.call(document.querySelectorAll("#leaderboard-table tbody tr"),
    function (r) { return r.getAttribute("data-model"); }).join(",");
};
var th = Array.prototype.filter.call(document.querySelectorAll("#leaderboard-table thead th"),
  function (t) { return t.textContent.trim().indexOf("Average") === 0; })[0];
th.click();
document.body.setAttribute("data-asc", rows());
th.click();
document.body.setAttribute("data-desc", rows());
</script>"""


def test_columns_sort_on_header_click_in_chromium(built, tmp_path):
    browser = _chromium()
    page = built["de_html"]
    # a copy with a probe script that clicks the Average header (the CSP would block the probe)
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", SORT_PROBE + "</body>"), encoding="utf-8")
    dom = subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", probe.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout
    assert 'data-asc="evil-card,multilingual-mpnet,gbert-large-sts-v2"' in dom
    assert 'data-desc="gbert-large-sts-v2,multilingual-mpnet,evil-card"' in dom


def test_dtype_agrees_in_speed_and_metadata_for_a_fully_cached_run(tmp_path):
    """A run served entirely from the cache loads no model: its encode block says dtype "none"
    (version-1 files) but the run's dtype is its settings' one, in both tables."""
    legacy = Path(__file__).parent / "fixtures" / "results" / "legacy-v1"
    page = rpt.build_page("en", load_results(legacy), [], None)
    (row,) = page.rows
    assert row.speed is not None and row.speed.dtype == "fp32"
    assert [m.dtype for m in page.meta] == ["fp32", "fp32", "fp32"]
    rpt.build_reports(legacy, [], tmp_path, ["en"])
    speed = table((tmp_path / "en.html").read_text(encoding="utf-8"), "speed-table")
    assert speed.rows[0][5] == "fp32"


def test_every_error_kind_written_is_worded_and_every_worded_kind_is_written():
    """Both directions: ErrorKind is the one list; failures writes each kind, words words each kind."""
    from typing import get_args

    from harness.errors import (
        EncodeError,
        ModelLoadError,
        NonFiniteEmbeddings,
        RemoteCodeRefused,
        WeightsUnavailable,
    )
    from harness.records import ErrorKind, RunRecord
    from harness.run import distributed, failures

    raised = [
        WeightsUnavailable("no weights found"),
        ModelLoadError("corrupt weights"),
        RemoteCodeRefused("wants to run its own code"),
        NonFiniteEmbeddings("NaN"),
        EncodeError("out of memory on cuda even at batch size 1"),
        ValueError("anything else"),
    ]
    written = {failures.classify(exc)[0] for exc in raised} | {distributed.WORKER_FAILED}
    assert written == set(get_args(ErrorKind)) == set(rpt.ERROR_KIND_TEXT)
    # a record cannot carry a kind outside the list, so nothing unworded reaches a result file
    with pytest.raises(ValueError, match="error_kind"):
        RunRecord(split="test", subset="default", status="error", identity="x", error_kind="oom")


def test_run_metadata_names_the_mteb_revision_a_verified_local_copy_was_stored_under(tmp_path: Path):
    """A local copy that matched mteb's statistics is stored under MTEB's dataset revision; the
    page shows both: the content hash the run read and the MTEB revision it stands for."""
    results = build_results(tmp_path / "results")
    stored = load_results(results)
    base = next(r for r in stored if r.task_name == "GermanSTSBenchmark" and r.run.status == "ok")
    mteb_revision = base.dataset_revision
    local = base.run.model_copy(update={"data_revision": "local-fc59fc513095", "identity": "local-copy-run"})
    write_run(
        results,
        model_key="org__local-reader",
        model_id="org/local-reader",
        revision=base.revision,
        task_name=base.task_name,
        mteb_version=base.mteb_version,
        dataset_revision=mteb_revision,
        weights_source=base.weights_source,
        run=local,
    )
    rpt.build_reports(results, build_specs(), tmp_path / "reports", ["de"])
    md = (tmp_path / "reports" / "de.md").read_text(encoding="utf-8")
    page = (tmp_path / "reports" / "de.html").read_text(encoding="utf-8")
    shown = f"local-fc59fc513095 (MTEB revision {mteb_revision[:12]})"
    assert f"- Data revision of GermanSTSBenchmark: {shown} (org/local-reader)" in md
    assert shown in page
    # the runs that read the Hub's data show its revision alone, as before
    assert f"- Data revision of GermanSTSBenchmark: {mteb_revision} (" in md


@pytest.mark.parametrize(
    ("card", "title"),
    [
        ("009_dwhouse__nli-only-klue-roberta-base.md", None),  # "SentenceTransformer based on klue/..."
        ("002_PM-AI__sts_paraphrase_xlm-roberta-base_de-en.md", None),  # "Model card for <its own id>"
        ("003_colorfulscoop__sbert-base-ja.md", "Sentence BERT base Japanese model"),
        ("012_T-Systems-onsite__cross-en-de-roberta-sentence-transformer.md",
         "Cross English & German RoBERTa for Sentence Embeddings"),
    ],
)  # fmt: skip
def test_the_card_title_is_shown_only_when_it_says_something(card: str, title: str | None):
    spec = parse_card(Path(__file__).parent / "fixtures" / "realcards" / card)
    assert model_info(spec.key, spec, []).title == title


def test_the_sts_prompt_fact_is_what_the_stored_runs_applied():
    """A registry entry whose weights were found at run time (no path, so the registry read no model
    files) shows the prompt its runs applied, from their records; runs that disagree show the card's."""
    card = Path(__file__).parent / "fixtures" / "realcards" / "003_colorfulscoop__sbert-base-ja.md"
    spec = with_sources(parse_card(card))  # as the registry gives it: no model folder read
    info = model_info(spec.key, spec, [])

    def run(prompt: str | None, source: str, status: str = "ok") -> RunRecord:
        return RunRecord(
            split="test", subset="default", status=status, identity=f"{prompt}{source}",
            settings=RunSettings(prompt=prompt), prompt_source=source,
        )  # fmt: skip

    def prompt_fact(runs: list[RunRecord]) -> tuple[str, str]:
        audit = card_audit(info, runs)
        fact = next(f for f in audit.facts if f.label == "STS prompt")
        return fact.value, fact.source

    assert prompt_fact([]) == ("none known (model files not read)", spec.sts_prompt.source)
    files = "model-files:config_sentence_transformers.json: no STS prompt"
    assert prompt_fact([run(None, files), run(None, files)]) == ("none (model files)", f"as run: {files}")
    override = "override:registry.toml.prompts[STS]"
    assert prompt_fact([run("alpha: ", override)]) == ("'alpha: ' (registry.toml)", f"as run: {override}")
    assert prompt_fact([run("alpha: ", override), run(None, files)])[0] == "none known (model files not read)"
    assert prompt_fact([run(None, files, status="error")])[0] == "none known (model files not read)"


def test_a_record_listing_many_languages_goes_to_the_und_page_and_the_report_goes_on(tmp_path: Path):
    """A hand-edited record with 80 languages made a page name of 80 codes (`File name too long`),
    and the whole report stopped."""
    results = build_results(tmp_path / "results")
    base = next(r for r in load_results(results) if r.run.status == "ok")
    codes = ["ar", "bg", "cs", "da", "de", "el", "en", "es", "fi", "fr", "he", "hi", "hu", "id", "it"]
    codes += ["ja", "ko", "nl", "no", "pl", "pt", "ro", "ru", "sk", "sv", "th", "tr", "uk", "vi", "zh"]
    many = base.run.model_copy(update={"languages": codes, "identity": "many-languages"})
    write_run(
        results, model_key="org__polyglot", model_id="org/polyglot", revision=base.revision,
        task_name=base.task_name, mteb_version=base.mteb_version, dataset_revision=base.dataset_revision,
        weights_source=base.weights_source, run=many,
    )  # fmt: skip
    written = rpt.build_reports(results, build_specs(), tmp_path / "reports", None)
    names = {p.name for p in written}
    assert "und.html" in names and "de.html" in names and "index.html" in names
    assert "org/polyglot" in (tmp_path / "reports" / "und.md").read_text(encoding="utf-8")


def test_one_pairs_file_name_with_different_data_is_never_ranked_as_one_task(tmp_path: Path):
    """Model A scored pairs.tsv, the file was edited, model B scored it: one `custom:pairs` column
    ranked them as if on the same data."""
    results = build_results(tmp_path / "results")
    base = next(r for r in load_results(results) if r.run.status == "ok")
    data = {"org__a": ("local-aaaaaaaaaaaa", 0.61), "org__b": ("local-bbbbbbbbbbbb", 0.72)}
    for key, (revision, score) in data.items():
        scores = {**base.run.scores, "main_score": score, "cosine_spearman": score}
        update = {"data_revision": revision, "identity": f"id-{key}", "subset": "default", "scores": scores}
        write_run(
            results, model_key=key, model_id=f"org/{key[5:]}", revision=base.revision,
            task_name="custom:pairs", mteb_version=base.mteb_version, dataset_revision=None,
            weights_source=None, run=base.run.model_copy(update={**update, "languages": ["de"]}),
        )  # fmt: skip
    page = rpt.build_page("de", load_results(results), build_specs(), None)
    labels = {u.label for u in page.units}
    columns = {f"custom:pairs (data {revision})" for revision, _ in data.values()}
    assert columns <= labels and "custom:pairs" not in labels
    cells = {row.model.key: {u.task for u in row.cells} for row in page.rows if row.model.key in data}
    assert cells == {key: {f"custom:pairs (data {revision})"} for key, (revision, _) in data.items()}
