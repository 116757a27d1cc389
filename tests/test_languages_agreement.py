"""One language vocabulary, every consumer: cards, the task catalog, `run --lang` and the report
read each way of naming a language alike, and the runner and the report agree on which models of
one registry cover a language (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_languages import TABLE
from test_registry import make_entry

from harness.card import parse_card_text
from harness.config import ConfigError, check_languages
from harness.registry import find_model, load_registry
from harness.report import build_page
from harness.report.lang import page_language, report_languages
from harness.run.driver import run
from harness.run.plan import RunOptions, broken_entries, select_models
from harness.store import load_results
from harness.tasks.catalog import iso639_1

LANGUAGES = [(v, code) for v, code in TABLE if isinstance(v, str) and code is not None]
NOT_LANGUAGES = ["multilingual", "mul", "und", "xx", "Java"]


def card_languages(value: str) -> tuple[list[str], bool]:
    spec = parse_card_text(f'---\nlanguage: ["{value}"]\n---\n# Model\n', source="card.md")
    return spec.language_list, spec.multilingual


@pytest.mark.parametrize(("value", "code"), LANGUAGES)
def test_every_consumer_reads_a_language_alike(value, code):
    assert card_languages(value) == ([code], False)  # the card parser
    assert iso639_1(value) == code  # the task catalog
    assert check_languages([value]) == [code]  # run --lang (and report/models/tasks --lang)
    assert page_language(value) == code  # the report's pages


@pytest.mark.parametrize("value", NOT_LANGUAGES)
def test_no_consumer_takes_a_non_language_for_a_language(value):
    langs, multilingual = card_languages(value)
    assert langs == [] and multilingual is (value in ("multilingual", "mul"))
    with pytest.raises(ConfigError):
        check_languages([value])
    with pytest.raises(ValueError):
        page_language(value)


def test_report_pages_read_regions_as_run_does_and_pairs_as_pages():
    # "de-CH" and "zh-CN" are one language, as `run --lang` reads them (not "de"+Chamorro, "zh-zh")
    assert report_languages([], ["de-CH", "zh-CN", "zh-Hant", "deu", "cmn"]) == ["de", "zh"]
    assert page_language("de-en") == "de-en"  # a cross-lingual page ("EN" is no region)
    # "en-de" (DE is Germany) and "de-ch" (CH is Switzerland, ch is Chamorro) name one language
    # unless the results hold such a cross-lingual page
    assert page_language("en-de") == "en" and page_language("en-de", pages=["de", "en-de"]) == "en-de"
    assert page_language("de-ch") == "de" and page_language("de-ch", pages=["de-ch"]) == "de-ch"


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    root = tmp_path / "registry"
    # a folder named like its Hub id, mixed case
    make_entry(root, "Org__Mandarin-Model", lang="cmn", model_id="Org/Mandarin-Model")
    make_entry(root, "org__traditional", lang="zh-Hant", model_id="org/traditional")
    make_entry(root, "org__german", lang="[de, de_DE]", model_id="org/german")
    make_entry(root, "org__multi", lang="[multilingual, en]", model_id="org/multi")
    make_entry(root, "org__tagalog", lang="tl", model_id="org/tagalog")
    make_entry(root, "org__broken-zh", lang="zh", model_id="org/broken-zh", toml="path = [[[\n")
    return root


def page_keys(page) -> set[str]:
    """Every model a language page lists: ranked, failed or unavailable, or not run."""
    return (
        {r.model.key for r in page.rows}
        | {f.model.key for f in page.failures}
        | {info.key for info, _ in page.not_run}
    )


@pytest.mark.parametrize("lang", ["zh", "de", "tl", "en", "fr"])
def test_runner_and_report_cover_the_same_models(registry, tmp_path, lang):
    specs = load_registry(registry)
    options = RunOptions(languages=[lang], results_dir=tmp_path / "results", registry_dir=registry)
    chosen, _ = select_models(specs, options)
    runner = {s.key for s, _ in chosen} | {s.key for s in broken_entries(specs, options)}
    report = page_keys(build_page(lang, [], specs, None))
    assert runner == report
    expected = {
        "zh": {"org__mandarin-model", "org__traditional", "org__multi", "org__broken-zh"},
        "de": {"org__german", "org__multi"},
        "tl": {"org__tagalog", "org__multi"},
        "en": {"org__multi"},
        "fr": {"org__multi"},
    }[lang]
    assert runner == expected


def test_run_lang_zh_runs_the_cmn_card_and_its_report_page_lists_the_same_models(registry, tmp_path):
    """`run --lang zh` end to end (planner, weights lookup, store): the card that declares ``cmn``
    and the one in a folder named like its Hub id are selected; the broken entry is named with its
    reason; the zh report page then lists exactly those models."""
    pairs = tmp_path / "zh-pairs.tsv"
    rows = [f"句子{i}\t另一个句子{i}\t{i % 5}" for i in range(12)]
    pairs.write_text("sentence1\tsentence2\tscore\n" + "\n".join(rows) + "\n", encoding="utf-8")
    [code] = check_languages(["cmn"])
    (tmp_path / "data").mkdir()  # no STS data here and no Hub: only the pairs file runs
    options = RunOptions(
        languages=[code],
        results_dir=tmp_path / "results",
        registry_dir=registry,
        pairs_files=[pairs],
        data_dir=tmp_path / "data",
        allow_hub=False,
    )
    said: list[str] = []
    summary = run(options, say=said.append)
    outcomes = {o.key: o for o in summary.outcomes}
    broken = outcomes.pop("org__broken-zh")  # in the summary too, as a model not run (and exit 1)
    assert broken.status == "error" and broken.reason.startswith("not run: ")
    assert set(outcomes) == {"org__mandarin-model", "org__traditional", "org__multi"}
    assert all(o.status == "unavailable" and "weights" in o.reason for o in outcomes.values())
    assert any(line.startswith("harness: org__broken-zh: not run: ") for line in said), said
    assert not any("org__german" in line or "org__tagalog" in line for line in said)

    specs = load_registry(registry)
    page = build_page("zh", load_results(options.results_dir), specs, None)
    assert page_keys(page) == set(outcomes) | {"org__broken-zh"}
    assert find_model(specs, "Org__Mandarin-Model").errors == []
