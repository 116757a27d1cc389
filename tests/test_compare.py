"""`harness compare A B`: shared tasks, paired test on the same pairs, verdicts, errors."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
from fixtures.results.builder import build_results, build_specs

from harness import report as rpt
from harness.report import compare as cmp
from harness.store import load_results, write_run


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_results(tmp_path_factory.mktemp("compare") / "results")


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A registry folder whose `load_registry` returns the fixture specs."""
    fake = types.ModuleType("harness.registry")
    fake.load_registry = lambda root: build_specs()
    monkeypatch.setitem(sys.modules, "harness.registry", fake)
    (tmp_path / "registry").mkdir()
    return tmp_path / "registry"


def run(capsys, *args, **kwargs) -> tuple[int, str, str]:
    code = cmp.compare_command(*args, **kwargs)
    out, err = capsys.readouterr()
    return code, out, err


def md_rows(out: str) -> dict[str, list[str]]:
    rows = {}
    for line in out.splitlines():
        if line.startswith("| ") and not line.startswith("| Task") and "---" not in line:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows[cells[0]] = cells
    return rows


def test_markdown_side_by_side_with_paired_test(capsys, results_dir, registry):
    code, out, err = run(
        capsys, "GBERT-large-sts-v2", "sentence-transformers/paraphrase-multilingual-mpnet-base-v2",
        results_dir, registry, "de", True,
    )  # fmt: skip
    assert code == 0, err
    first = out.splitlines()[0]
    mpnet = "sentence-transformers/paraphrase-multilingual-mpnet-base-v2"
    assert first == f"# aari1995/gBERT-large-sts-v2 vs {mpnet} (German)"
    rows = md_rows(out)
    stored = {
        (r.model_key, r.task_name): r.run
        for r in load_results(results_dir)
        if rpt.run_language(r.run) == "de"
    }
    for label, task in (
        ("GermanSTSBenchmark", "GermanSTSBenchmark"),
        ("STSBenchmarkMultilingualSTS\\[de\\]", "STSBenchmarkMultilingualSTS"),
    ):
        row = rows[label]
        a = stored[("gbert-large-sts-v2", task)].scores["cosine_spearman"] * 100
        b = stored[("multilingual-mpnet", task)].scores["cosine_spearman"] * 100
        assert row[1] == "de"
        assert row[2].startswith(f"{a:.2f} [") and row[3].startswith(f"{b:.2f} [")
        assert row[4] == f"{a - b:+.2f}"
        assert re.match(r"Δ [+-]\d+\.\d\d \\\[-?\d+\.\d\d, -?\d+\.\d\d\\\], p = 0\.\d{3}, n = 200", row[5])
        assert row[6] == "no significant difference"
    assert "**Is A really better than B?** No: the difference is not statistically significant" in out
    assert "| sentences/s | 118 | 432 |" in out
    assert "| dimension | 1024 | 768 |" in out and "| claims | 1 | 0 |" in out


def test_significant_difference_says_yes_and_escapes_names(capsys, results_dir, registry):
    code, out, _ = run(capsys, "gbert-large-sts-v2", "evil-card", results_dir, registry, None, True)
    assert code == 0
    assert "**Is A really better than B?** Yes: A is better than B on the one shared task" in out
    # but gBERT's card lists stsb_multi_mt: the verdict carries it (issue 21)
    assert "But A is not zero-shot on it: trained on stsb_multi_mt." in out
    assert md_rows(out)["STSBenchmarkMultilingualSTS\\[de\\]"][6] == "A is better (A is not zero-shot on it)"
    assert "<script>" not in out and "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    code, out, _ = run(capsys, "evil-card", "gbert-large-sts-v2", results_dir, registry, "de", True)
    assert (
        "No: B is better." in out
        and md_rows(out)["STSBenchmarkMultilingualSTS\\[de\\]"][6] == "B is better (B is not zero-shot on it)"
        and "But B is not zero-shot on it" in out
    )


def test_no_pairs_stored_skips_the_test(capsys, results_dir, registry):
    code, out, _ = run(capsys, "distiluse-stsb-es", "multilingual-mpnet", results_dir, registry, "spa", True)
    assert code == 0
    rows = md_rows(out)
    assert set(rows) >= {"STSBenchmarkMultilingualSTS\\[es\\]", "STSES"}
    assert rows["STSES"][5] == "–"
    assert rows["STSES"][6].startswith("not tested (no per-pair similarities stored); intervals")
    assert "Cannot tell: no shared task could be tested on the same pairs" in out


def test_different_pairs_are_not_tested(capsys, tmp_path, registry):
    results = build_results(tmp_path / "results")
    stored = next(s for s in load_results(results) if s.model_key == "evil-card")
    gold = list(stored.run.gold)
    gold[0] += 0.5
    write_run(
        results,
        model_key=stored.model_key,
        model_id=stored.model_id,
        revision=stored.revision,
        task_name=stored.task_name,
        mteb_version=stored.mteb_version,
        dataset_revision=stored.dataset_revision,
        weights_source=stored.weights_source,
        run=stored.run.model_copy(update={"gold": gold}),
    )
    code, out, _ = run(capsys, "gbert-large-sts-v2", "evil-card", results, registry, "de", True)
    assert code == 0
    verdict = md_rows(out)["STSBenchmarkMultilingualSTS\\[de\\]"][6]
    assert verdict.startswith("not tested (the pairs differ")


def test_plain_text_output(capsys, results_dir, registry):
    code, out, _ = run(capsys, "gbert-large-sts-v2", "multilingual-mpnet", results_dir, registry, "de", False)
    assert code == 0
    assert "A = aari1995/gBERT-large-sts-v2" in out
    assert "B = sentence-transformers/paraphrase-multilingual-mpnet-base-v2" in out
    assert "GermanSTSBenchmark" in out and "no significant difference" in out
    assert "Is A really better than B?" in out and "Card facts" in out and "Speed" in out
    assert "\x1b[" not in out  # no colour codes when not a terminal


def test_unknown_model_is_one_line_exit_2(capsys, results_dir, registry):
    code, out, err = run(capsys, "no-such-model", "evil-card", results_dir, registry, None, False)
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "unknown model 'no-such-model'" in err
    code, _, err = run(capsys, "evil-card", "EVIL-CARD", results_dir, registry, None, False)
    assert code == 2 and "same model" in err


def test_no_shared_task_exit_1(capsys, results_dir, registry):
    code, out, err = run(capsys, "distiluse-stsb-es", "evil-card", results_dir, registry, None, False)
    assert code == 1 and out == "" and err.startswith("harness: ") and "share no task" in err
    # gbert-oom only failed: nothing successful to compare
    code, out, _ = run(capsys, "gbert-oom", "gbert-large-sts-v2", results_dir, registry, None, True)
    assert code == 1
    code, out, err = run(
        capsys, "gbert-large-sts-v2", "multilingual-mpnet", results_dir, registry, "fr", True
    )
    assert code == 1 and "in French" in err


def test_resolve_by_key_or_model_id(results_dir):
    specs = build_specs()
    results = load_results(results_dir)
    assert cmp.resolve_model("aari1995/gbert-large-sts-v2", specs, results) == "gbert-large-sts-v2"
    assert cmp.resolve_model("Multilingual-MPNet", specs, results) == "multilingual-mpnet"
    assert cmp.resolve_model("cross-en-de", specs, results) == "cross-en-de"  # registry only
    with pytest.raises(cmp.CompareError):
        cmp.resolve_model("unknown/model", specs, results)


def test_a_fifo_in_place_of_the_cache_costs_one_warning(capsys, tmp_path, registry):
    """compare writes nothing but the paired-test cache; a FIFO there is never opened (it would block)."""
    import os
    import shutil

    from harness.paired_cache import CACHE_DIR, CACHE_FILE

    results = build_results(tmp_path / "results")
    args = ("GBERT-large-sts-v2", "sentence-transformers/paraphrase-multilingual-mpnet-base-v2")
    code, expected, err = run(capsys, *args, results, registry, "de", True)
    assert code == 0 and "paired-test cache" not in err and (results / CACHE_DIR / CACHE_FILE).is_file()
    shutil.rmtree(results / CACHE_DIR)
    (results / CACHE_DIR).mkdir()
    os.mkfifo(results / CACHE_DIR / CACHE_FILE)
    code, out, err = run(capsys, *args, results, registry, "de", True)
    assert code == 0 and out == expected  # the same tests, computed without the cache
    (line,) = [x for x in err.splitlines() if "paired-test cache" in x]
    assert line.startswith(
        f"harness: warning: {results / CACHE_DIR / CACHE_FILE}: paired-test cache is not a regular file"
    )
