"""The behaviour probe (issue 24): a folder that loads but is not the model, where only behaviour can tell.

Config edits that keep every tensor shape pass every file check (harness.encode.integrity). Those that
collapse the output (``hidden_act`` tanh or sigmoid, ``layer_norm_eps`` 1) still correlate with the
gold scores (0.25 to 0.6 on STSB), so without the probe they were stored ``ok`` and ranked. The
probe (harness.probe) reads the task's own vectors: paraphrase pairs against unrelated pairs. Here:
the real all-MiniLM-L6-v2 and its German fine-tune pass on real data in four languages; each damaged
copy is flagged in its stored record, in ``harness run``'s summary line, on the language page and in
``reports/<lang>.json``, and is never "Best for"; an older record without the probe reads unflagged.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from fixtures.workspace import write_entry

from harness import run as runner
from harness import store
from harness.probe import DEGENERATE_GAP, MIN_PARAPHRASE_PAIRS, derangement, probe
from harness.records import ProbeResult, RunRecord, StsTask

REPO = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- the probe on vectors


def _pairs(n: int = 60) -> tuple[list[str], list[str], list[float]]:
    s1 = [f"sentence {i} a" for i in range(n)]
    s2 = [f"sentence {i} b" for i in range(n)]
    return s1, s2, [float(i % 6) for i in range(n)]  # 0..5: a third are 4 or 5


def test_derangement_moves_every_index_and_is_seeded() -> None:
    for n in (2, 3, 10, 101):
        partner = derangement(n)
        assert sorted(partner) == list(range(n)) and not np.any(partner == np.arange(n))
    assert derangement(50, 1).tolist() == derangement(50, 1).tolist() != derangement(50, 2).tolist()


def test_separated_vectors_pass_and_collapsed_vectors_are_degenerate() -> None:
    s1, s2, gold = _pairs()
    rng = np.random.default_rng(0)
    base = rng.normal(size=(60, 16))
    noise = rng.normal(size=(60, 16))
    paraphrase = np.array(gold)[:, None] / 5  # the higher the gold, the closer the two vectors
    good = probe(s1, s2, gold, base, paraphrase * base + (1 - paraphrase) * noise)
    assert good.verdict == "ok" and good.gap > 0.5 and good.n_paraphrase == 20 and good.n_unrelated == 60
    # every vector one shared direction plus a little of its own: the gold order survives, the gap does not
    shared = rng.normal(size=16) * 50
    collapsed = probe(s1, s2, gold, shared + base, shared + paraphrase * base + (1 - paraphrase) * noise)
    assert collapsed.verdict == "degenerate" and 0 <= collapsed.gap < DEGENERATE_GAP
    assert collapsed.message == f"output looks degenerate: probe gap {collapsed.gap:.2f}"


def test_identical_sentences_and_few_paraphrases_give_no_verdict() -> None:
    s1, s2, gold = _pairs(20)
    same = [s1[i] if g >= 4 else s2[i] for i, g in enumerate(gold)]  # every paraphrase a copy
    vectors = np.ones((20, 4))
    result = probe(s1, [f"  {s.upper()} " if s in s1 else s for s in same], gold, vectors, vectors)
    assert result.verdict == "too-few-pairs" and result.n_paraphrase == 0 and result.gap is None
    few = probe(*_pairs(3 * (MIN_PARAPHRASE_PAIRS - 1)), np.eye(27, 8), np.eye(27, 8))
    assert few.verdict == "too-few-pairs" and 0 < few.n_paraphrase < MIN_PARAPHRASE_PAIRS
    assert probe(["a", "b"], ["c", "d"], [1.0, 1.0], np.eye(2), np.eye(2)).verdict == "too-few-pairs"


# ---------------------------------------------------------------- real models on real data


def _rows(path: Path, n: int) -> list[tuple[str, str, float]]:
    if path.suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        return [(r["sentence1"], r["sentence2"], float(r["score"])) for r in rows][:n]
    return [(a, b, float(s)) for a, b, s in csv.reader(io.StringIO(path.read_text(encoding="utf-8")))][:n]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("model", "data"),
    [
        ("minilm", "stsb_multi_mt/stsb-en-test.csv"),
        ("minilm", "mteb/STS17/ar-ar/test.jsonl"),  # a language it never learnt: the smallest gap, 0.20
        ("minilm", "mteb/KorSTS/default/test.jsonl"),
        ("minilm-l6-stsb-de", "stsb_multi_mt/stsb-de-test.csv"),
    ],
)
def test_working_models_pass_on_real_data(minilm_dir: Path, shared_dir: Path, model: str, data: str) -> None:
    from sentence_transformers import SentenceTransformer

    path = shared_dir / "data/sts" / data
    if not path.is_file():
        pytest.skip(f"{path} missing")
    folder = minilm_dir if model == "minilm" else shared_dir / "models" / model
    rows = _rows(path, 250)
    encoder = SentenceTransformer(str(folder), device="cpu")
    s1, s2, gold = zip(*rows, strict=True)
    result = probe(s1, s2, gold, encoder.encode(list(s1)), encoder.encode(list(s2)))
    assert result.verdict == "ok", result
    assert result.gap > 5 * DEGENERATE_GAP  # far from the line, not just over it


# ---------------------------------------------------------------- damaged copies, end to end


def _damaged_copy(src: Path, dst: Path, **config: object) -> Path:
    """The model folder with its weights linked and ``config.json`` edited (every tensor shape kept)."""
    dst.mkdir(parents=True)
    for item in src.iterdir():
        if item.name.startswith("."):
            continue
        if item.is_dir():
            shutil.copytree(item, dst / item.name)
        elif item.suffix == ".safetensors":
            os.symlink(item.resolve(), dst / item.name)
        else:
            shutil.copy(item, dst / item.name)
    data = json.loads((dst / "config.json").read_text(encoding="utf-8"))
    (dst / "config.json").write_text(json.dumps({**data, **config}), encoding="utf-8")
    return dst


DAMAGE = {
    "org__act-sigmoid": {"hidden_act": "sigmoid"},
    "org__act-tanh": {"hidden_act": "tanh"},
    "org__eps-1": {"layer_norm_eps": 1.0},
}


@pytest.fixture(scope="module")
def damaged_run(tmp_path_factory: pytest.TempPathFactory, minilm_dir: Path, shared_dir: Path) -> dict:
    from harness.report.render import build_reports, load_specs

    root = tmp_path_factory.mktemp("probe")
    rows = _rows(shared_dir / "data/sts/stsb_multi_mt/stsb-en-test.csv", 200)
    pairs = root / "stsb-en-slice.tsv"
    pairs.write_text(
        "sentence1\tsentence2\tscore\n" + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in rows), encoding="utf-8"
    )
    registry = root / "registry"
    write_entry(registry, "org__minilm", "org/minilm", minilm_dir)
    for key, edit in DAMAGE.items():
        write_entry(registry, key, key.replace("__", "/"), _damaged_copy(minilm_dir, root / key, **edit))
    options = runner.RunOptions(
        languages=["en"],
        results_dir=root / "results",
        registry_dir=registry,
        model_names=["org__minilm", *DAMAGE],
        pairs_files=[pairs],
        cache_dir=root / "cache",
        bootstrap_resamples=100,
        allow_hub=False,
    )
    summary = runner.run(options, say=lambda _: None)
    from rich.console import Console

    console = Console(file=io.StringIO(), width=300)
    runner.print_summary(summary, console)
    build_reports(root / "results", load_specs(registry), root / "reports", ["en"])
    return {"root": root, "summary": summary, "printed": console.file.getvalue()}


@pytest.mark.integration
def test_damaged_copies_are_flagged_in_the_stored_record(damaged_run: dict) -> None:
    errors: list[str] = []
    runs = {r.model_key: r.run for r in store.load_results(damaged_run["root"] / "results", errors)}
    assert errors == [] and set(runs) == {"org__minilm", *DAMAGE}
    assert all(run.status == "ok" for run in runs.values())  # they load and score: only behaviour tells
    good = runs["org__minilm"].probe
    assert good is not None and good.verdict == "ok" and good.gap > 0.5, good
    for key in DAMAGE:
        flagged = runs[key].probe
        assert flagged is not None and flagged.verdict == "degenerate", (key, flagged)
        assert flagged.gap < DEGENERATE_GAP and flagged.n_paraphrase >= MIN_PARAPHRASE_PAIRS
        assert runs[key].scores["main_score"] > 0.1  # a score that, unflagged, would be ranked


@pytest.mark.integration
def test_run_summary_line_says_degenerate(damaged_run: dict) -> None:
    lines = damaged_run["printed"].splitlines()
    for key in DAMAGE:
        line = next(line for line in lines if line.startswith(f"{key}: "))
        assert "output looks degenerate: probe gap 0.0" in line, line
    assert "degenerate" not in next(line for line in lines if line.startswith("org__minilm: "))


@pytest.mark.integration
def test_report_flags_them_and_never_makes_one_the_headline(damaged_run: dict) -> None:
    reports = damaged_run["root"] / "reports"
    page = json.loads((reports / "en.json").read_text(encoding="utf-8"))
    rows = {r["key"]: r for r in page["rows"]}
    assert page["leader"] == "org/minilm" and rows["org__minilm"]["degenerate"] == []
    assert rows["org__minilm"]["probe"]["custom:stsb-en-slice"]["verdict"] == "ok"
    for key in DAMAGE:
        gap = rows[key]["probe"]["custom:stsb-en-slice"]["gap"]
        assert rows[key]["degenerate"] == [
            f"custom:stsb-en-slice: output looks degenerate: probe gap {gap:.2f}"
        ]
        assert rows[key]["rank"] > rows["org__minilm"]["rank"]
    markdown = (reports / "en.md").read_text(encoding="utf-8")
    assert "**Best for English: [org/minilm](" in markdown
    assert markdown.count("output looks degenerate: probe gap 0.0") == len(DAMAGE)
    html = (reports / "en.html").read_text(encoding="utf-8")
    assert html.count(">output looks degenerate</span>") == len(DAMAGE)
    assert "Best for English: <strong>org/minilm</strong>" in html


def test_a_page_of_only_degenerate_rows_has_no_best_model(tmp_path: Path) -> None:
    from harness.report.json_page import language_json
    from harness.report.view import build_page

    flagged = ProbeResult(verdict="degenerate", gap=0.004, n_paraphrase=30, n_unrelated=90, threshold=0.02)
    page = build_page("en", [_stored(tmp_path, probe=flagged)], [], None)
    assert page.rows and page.leader is None and page.best_measured is None and page.best_zero_shot is None
    data = language_json(page)
    assert data["leader"] is None and data["rows"][0]["degenerate"] == [
        "T: output looks degenerate: probe gap 0.00"
    ]


def test_an_older_record_without_the_probe_reads_unflagged(tmp_path: Path) -> None:
    from harness.report.view import build_page

    loaded = _stored(tmp_path, probe=None)
    assert loaded.run.status == "ok" and loaded.run.probe is None
    page = build_page("en", [loaded], [], None)
    assert page.leader is not None and page.leader.probe_flags == [] and page.degenerate_rows == []


@pytest.mark.parametrize("field, value", [("gap", "0.5"), ("gap", True), ("n_paraphrase", "57")])
def test_probe_figures_are_strict_numbers_when_read_back(tmp_path: Path, field: str, value: object) -> None:
    """A hand-edited probe figure that is not a JSON number makes the record invalid, as a score's does."""
    sound = ProbeResult(verdict="ok", gap=0.5, paraphrase_mean=0.8, unrelated_mean=0.3, n_paraphrase=57)
    path = Path(_stored(tmp_path, sound).path)
    data = json.loads(path.read_text(encoding="utf-8"))
    runs = [run for block in data.values() if isinstance(block, dict) for run in block.get("runs", [])]
    assert runs and all("probe" in run for run in runs)
    for run in runs:
        run["probe"][field] = value
    path.write_text(json.dumps(data), encoding="utf-8")
    errors: list[str] = []
    assert store.load_results(tmp_path / "results", errors) == []
    assert len(errors) == 1 and str(path) in errors[0] and f"probe holds {json.dumps(value)}" in errors[0]


def _stored(tmp_path: Path, probe: ProbeResult | None) -> store.StoredResult:
    """One ok record written and read back as the store does (``probe`` None: a file without the field,
    as every harness before the probe wrote it)."""
    task = StsTask(name="T", subset="default", languages=["en"], in_mteb=False)
    record = RunRecord(
        split="test",
        subset="default",
        status="ok",
        identity="x" * 16,
        languages=["en"],
        scores=dict.fromkeys(("cosine_spearman", "main_score"), 0.5),
        ci95=[0.4, 0.6],
        n_pairs=30,
        probe=probe,
    )
    path = store.write_run(
        tmp_path / "results",
        model_key="org__m",
        model_id="org/m",
        revision="rev",
        task_name=task.name,
        mteb_version=None,
        dataset_revision=None,
        weights_source="local",
        run=record,
        in_mteb=False,
    )
    if probe is None:
        data = json.loads(path.read_text(encoding="utf-8"))
        for block in data.values():
            for run in block.get("runs", []) if isinstance(block, dict) else []:
                run.pop("probe", None)
        path.write_text(json.dumps(data), encoding="utf-8")
        assert '"probe"' not in path.read_text(encoding="utf-8")
    (loaded,) = store.load_results(tmp_path / "results")
    return loaded


@pytest.mark.integration
def test_compare_says_a_sides_output_looks_degenerate(damaged_run: dict) -> None:
    from harness.report.compare import compare_models

    results = store.load_results(damaged_run["root"] / "results")
    verdict = compare_models("org__minilm", "org__act-tanh", results, [], "en", None).overall()
    assert (
        "But B's output looks degenerate (probe gap 0.0" in verdict and "on custom:stsb-en-slice)" in verdict
    )
    assert "A's output" not in verdict


@pytest.mark.integration
def test_score_command_prints_the_probe(damaged_run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.scoring import score_command

    root = damaged_run["root"]
    assert score_command(root / "org__eps-1", root / "stsb-en-slice.tsv", False, "fp32", False, False) == 0
    assert "  behaviour probe: output looks degenerate: probe gap 0.00" in capsys.readouterr().out
