"""Round 5 of the reliability sweep (issue 24): never a silently wrong score, never a write outside the
results folder, one bad input never stops the rest, never a stall without a word.

One section per class; docs/reliability.md ("Round five") lists each case with its test.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from harness import cli, store
from harness.records import EncodeStats, RunRecord

PUBLISHED = Path(__file__).parent / "fixtures" / "mteb_results"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_REV = "8b3219a92973c328a8e22fadcfa821b5dc75636a"


def stored_run(root: Path, key: str, score: float, ci: list[float], **extra: Any) -> Path:
    """One ok record of GermanSTSBenchmark for model ``org/<key>`` (local weights)."""
    return store.write_run(
        root,
        model_key=key,
        model_id=f"org/{key}",
        revision=f"local-{key[:1] * 12}",
        task_name="GermanSTSBenchmark",
        mteb_version=None,
        dataset_revision=None,
        weights_source="models-dir",
        run=RunRecord(
            split="test",
            subset="default",
            status="ok",
            identity=f"{key}-identity",
            languages=["deu-Latn"],
            scores={"main_score": score, "cosine_spearman": score},
            ci95=ci,
            cosine_similarities=[0.1, 0.5, 0.9],
            gold=[1.0, 2.0, 3.0],
            finished_at="2025-01-01T00:00:00Z",
            **extra,
        ),
    )


def edit_run(path: Path, **changes: Any) -> None:
    """Hand-edit the first run record of a result file (what a user, or another tool, might do)."""
    data = json.loads(path.read_text())
    run = data["harness"]["runs"][0]
    for name, value in changes.items():
        if name == "main_score":
            run["scores"]["main_score"] = value
        else:
            run[name] = value
    path.write_text(json.dumps(data))


def run_cli(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    rc = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


# ---------------------------------------------------------------- tier 1: scores are strict numbers


@pytest.mark.parametrize("value", [True, "0.99", [0.5], None], ids=["true", "string", "list", "null"])
def test_a_score_that_is_not_a_json_number_is_never_ranked(tmp_path, capsys, value):
    results = tmp_path / "results"
    bad = stored_run(results, "bad", 0.40, [0.35, 0.45])
    stored_run(results, "good", 0.60, [0.55, 0.65])
    edit_run(bad, main_score=value)
    errors: list[str] = []
    loaded = store.load_results(results, errors)
    assert [s.model_key for s in loaded] == ["good"]  # was: "bad" ranked leader at 100.00
    assert len(errors) == 1 and str(bad) in errors[0] and "not a number" in errors[0]
    rc, _, _ = run_cli(capsys, "report", "--results", results, "--out", tmp_path / "out", "--lang", "de")
    assert rc == 0 and "100.00" not in (tmp_path / "out" / "de.md").read_text()
    assert "org/bad" not in (tmp_path / "out" / "de.md").read_text().split("## ")[1]


@pytest.mark.parametrize(
    ("field", "value"),
    [("ci95", [0.35, "0.45"]), ("n_pairs", True), ("gold", [1.0, "2", 3.0]), ("evaluation_seconds", "1")],
)
def test_intervals_counts_and_arrays_are_strict_numbers_too(tmp_path, field, value):
    results = tmp_path / "results"
    bad = stored_run(results, "bad", 0.40, [0.35, 0.45])
    edit_run(bad, **{field: value})
    errors: list[str] = []
    assert store.load_results(results, errors) == []
    assert len(errors) == 1 and f"{field} holds" in errors[0]


def test_strict_numbers_still_read_integers(tmp_path):
    results = tmp_path / "results"
    path = stored_run(results, "ints", 0.40, [0.35, 0.45])
    edit_run(path, scores={"main_score": 1, "cosine_spearman": 1}, ci95=[0, 1], n_pairs=3)
    [loaded] = store.load_results(results)
    assert loaded.run.scores["main_score"] == 1.0 and loaded.run.n_pairs == 3


# ---------------------------------------------------------------- tier 2: writes outside the results folder


def invalid_file(results: Path) -> Path:
    path = stored_run(results, "bad", 0.40, [0.35, 0.45])
    path.write_text('{"harness": []}')
    return path


@pytest.mark.parametrize("folder", [store.QUARANTINE_FOLDER, store.LOCKS_FOLDER])
def test_a_linked_inner_folder_is_never_written_through(tmp_path, folder):
    results, outside = tmp_path / "results", tmp_path / "outside"
    outside.mkdir()
    bad = invalid_file(results)
    shutil.rmtree(results / folder, ignore_errors=True)  # the write made its lock folder
    (results / folder).symlink_to(outside, target_is_directory=True)
    notes: list[str] = []
    if folder == store.LOCKS_FOLDER:
        with pytest.raises(store.StoreError, match=r"\.locks: a link, not a folder of its own"):
            store.lock_folder(results)
    else:
        store.prepare_folder(results, notes)
        assert bad.exists()  # was: moved into the linked folder, outside the results folder
        assert len(notes) == 1 and "could not be moved aside" in notes[0] and "a link" in notes[0]
    assert list(outside.iterdir()) == []


def test_a_file_that_could_not_be_moved_aside_is_never_written_over(tmp_path):
    results, outside = tmp_path / "results", tmp_path / "outside"
    outside.mkdir()
    bad = invalid_file(results)
    shutil.rmtree(results / store.QUARANTINE_FOLDER, ignore_errors=True)
    (results / store.QUARANTINE_FOLDER).symlink_to(outside, target_is_directory=True)
    with pytest.raises(store.StoreError, match=r"could not be moved aside.*not stored over it"):
        stored_run(results, "bad", 0.5, [0.4, 0.6])
    assert bad.read_text() == '{"harness": []}' and list(outside.iterdir()) == []


def test_a_run_with_a_linked_lock_folder_stops_before_any_model(tmp_path, capsys, tiny_bert_dir):
    from fixtures.workspace import write_entry, write_pairs

    results, outside = tmp_path / "results", tmp_path / "outside"
    results.mkdir()
    outside.mkdir()
    (results / store.LOCKS_FOLDER).symlink_to(outside, target_is_directory=True)
    write_entry(tmp_path / "registry", "m", "org/m", tiny_bert_dir)
    pairs = write_pairs(tmp_path / "pairs.tsv")
    argv = [
        "run",
        "--pairs",
        pairs,
        "--model",
        "m",
        "--registry",
        tmp_path / "registry",
        "--results",
        results,
    ]
    rc, out, err = run_cli(capsys, *argv, "--no-cache")
    assert rc == 1 and "a link, not a folder of its own" in out + err
    assert list(outside.iterdir()) == []


def test_superseded_and_migrated_folders_are_checked_too(tmp_path):
    from harness.store.io import inner_folder

    outside = tmp_path / "outside"
    outside.mkdir()
    for name in (store.SUPERSEDED_FOLDER, store.MIGRATED_FOLDER):
        (tmp_path / name).symlink_to(outside, target_is_directory=True)
        with pytest.raises(store.StoreError, match="a link, not a folder of its own"):
            inner_folder(tmp_path, name, "test")
    (tmp_path / "plain").write_text("x")
    with pytest.raises(store.StoreError, match="plain: not a folder"):
        inner_folder(tmp_path, "plain", "test")
    assert inner_folder(tmp_path, "new", "test").is_dir()


# ---------------------------------------------------------------- tier 4: one bad record never stops a report


def report_of(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: Any) -> tuple[int, str, str]:
    out = tmp_path / "out"
    return run_cli(capsys, "report", "--results", tmp_path / "results", "--out", out, "--lang", "de", *extra)


def test_a_score_outside_its_own_interval_does_not_stop_the_report(tmp_path, capsys):
    results = tmp_path / "results"
    stored_run(results, "bad", 0.90, [0.10, 0.20])  # legal in a percentile bootstrap; drawn clipped
    stored_run(results, "good", 0.50, [0.40, 0.60])
    rc, _, err = report_of(tmp_path, capsys)
    assert rc == 0, err  # was: exit 2, "'xerr' must not contain negative values", no page at all
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"de.html", "de.md", "de.json", "index.html"}
    assert "org/bad" in (tmp_path / "out" / "de.md").read_text()


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"encode": {"sentences_per_second": 1e308, "n_encoded": 3}}, "a throughput of 1e+308"),
        ({"encode": {"sentences_per_second": -5.0}}, "not finite non-negative"),
        ({"ci95": [0.6, 0.4]}, "not an interval"),
    ],
    ids=["throughput-1e308", "negative-throughput", "reversed-interval"],
)
def test_a_record_with_impossible_figures_is_skipped_naming_its_file(tmp_path, capsys, changes, says):
    results = tmp_path / "results"
    bad = stored_run(results, "bad", 0.90, [0.85, 0.95])
    stored_run(results, "good", 0.50, [0.40, 0.60])
    edit_run(bad, **changes)
    rc, _, err = report_of(tmp_path, capsys)
    assert rc == 0  # was: exit 2 with "Axis limits cannot be NaN or Inf", naming no file
    lines = [line for line in err.splitlines() if says in line]
    assert len(lines) == 1 and lines[0].startswith("harness: warning: ") and bad.name in lines[0]
    assert "org__bad" in lines[0]
    md = (tmp_path / "out" / "de.md").read_text()
    assert "org/good" in md and (tmp_path / "out" / "index.html").is_file()


def test_an_encode_figure_that_cannot_be_stored_is_refused_at_write(tmp_path):
    with pytest.raises(store.StoreError, match="no measurement"):
        stored_run(tmp_path / "r", "bad", 0.5, [0.4, 0.6], encode=EncodeStats(sentences_per_second=1e300))


def published_copy(tmp_path: Path, content: str) -> tuple[Path, Path]:
    folder = Path(shutil.copytree(PUBLISHED, tmp_path / "pub"))
    bad = folder / "results" / MINILM.replace("/", "__") / MINILM_REV / "GermanSTSBenchmark.json"
    bad.write_text(content)
    return folder, bad


@pytest.mark.parametrize("content", ["null", "[1, 2]", '"text"', "3"])
def test_a_published_file_that_is_not_an_object_is_skipped_with_a_warning(tmp_path, content):
    from harness.published import open_published

    folder, bad = published_copy(tmp_path, content)
    errors: list[str] = []
    scores = open_published(folder, errors)
    assert scores.lookup(MINILM, MINILM_REV, "GermanSTSBenchmark", "test", "default") is None
    assert scores.lookup(MINILM, MINILM_REV, "STSBenchmarkMultilingualSTS", "test", "de") is not None
    assert len(errors) == 1 and errors[0].startswith(f"{bad}: published result skipped: ")


def test_report_and_compare_go_on_past_a_null_published_file(tmp_path, capsys):
    from test_mteb_roundtrip import _stored_minilm

    folder, bad = published_copy(tmp_path, "null")
    results = tmp_path / "results"
    _stored_minilm(results, MINILM_REV, 0.58, [0.55, 0.60])
    _stored_minilm(results, "local-aaaaaaaaaaaa", 0.40, [0.35, 0.45], key="other")
    rc, _, err = report_of(tmp_path, capsys, "--mteb-results", folder)
    assert rc == 0 and "AttributeError" not in err.replace("(AttributeError", "")  # was: the report stopped
    assert sum(str(bad) in line for line in err.splitlines()) == 1
    rc, out, err = run_cli(
        capsys, "compare", "minilm", "other", "--results", results, "--lang", "de", "--mteb-results", folder
    )
    assert rc == 0 and "A = " in out
    assert sum(str(bad) in line for line in err.splitlines()) == 1


# ---------------------------------------------------------------- tier 1: damaged cached vectors


def test_a_damaged_but_finite_cached_vector_is_a_miss(tmp_path):
    import sqlite3

    import numpy as np

    from harness.encode import EmbeddingCache

    cache = EmbeddingCache(tmp_path)
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4) + 1
    cache.put_many("fp", ["a", "b", "c"], vectors)
    with sqlite3.connect(cache.path) as conn:
        rows = conn.execute("SELECT key, vec FROM vectors").fetchall()
        for key, vec in rows[:2]:  # one vector scaled (finite), one swapped with another row's
            damaged = (np.frombuffer(vec[:16], dtype="<f4") * 0.1).tobytes() + vec[16:]
            conn.execute("UPDATE vectors SET vec = ? WHERE key = ?", (damaged, key))
    found = cache.get_many("fp", ["a", "b", "c"])
    assert len(found) == 1 and cache.last_evicted == 2  # was: both served as hits
    [(text, vector)] = found.items()
    assert vector.tolist() == vectors[["a", "b", "c"].index(text)].tolist()
    assert len(cache) == 1  # the damaged rows are gone, to be written again
    cache.close()


def test_damaged_cached_vectors_never_replace_a_good_result_with_force(tmp_path, tiny_bert_dir, caplog):
    import sqlite3

    import numpy as np
    from fixtures.workspace import write_entry, write_pairs

    from harness import encode
    from harness import run as runner

    write_entry(tmp_path / "registry", "m", "org/m", tiny_bert_dir)
    options = runner.RunOptions(
        languages=[],
        results_dir=tmp_path / "results",
        registry_dir=tmp_path / "registry",
        model_names=["m"],
        pairs_files=[write_pairs(tmp_path / "pairs.tsv", n=20)],
        cache_dir=tmp_path / "cache",
        bootstrap_resamples=20,
        allow_hub=False,
        device="cpu",
        force=True,
    )

    def run_once() -> RunRecord:
        assert not runner.run(options, say=lambda _: None).failed
        (stored,) = store.load_results(tmp_path / "results")
        return stored.run

    first = run_once()
    database = tmp_path / "cache" / "embeddings" / encode.EmbeddingCache.FILENAME
    rng = np.random.default_rng(0)
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT key, dim, vec FROM vectors").fetchall()
        for key, dim, vec in rows:  # finite noise, the right length: only the checksum can tell
            noise = rng.normal(size=dim).astype("<f4").tobytes()
            conn.execute("UPDATE vectors SET vec = ? WHERE key = ?", (noise + vec[4 * dim :], key))
    second = run_once()
    assert second.scores["main_score"] == pytest.approx(first.scores["main_score"], abs=1e-9)
    assert second.encode.n_cache_hits == 0 and second.encode.n_cache_evicted == len(rows)
    assert any(f"evicting {len(rows)} bad vector(s)" in r.getMessage() for r in caplog.records)


# ------------------------------------------------ tier 1: a models folder matching only by case


def tiny_copies(models: Path, source: Path, *names: str) -> None:
    models.mkdir(parents=True, exist_ok=True)
    for name in names:
        (models / name).symlink_to(source, target_is_directory=True)


def test_the_exact_models_folder_wins_over_one_matching_by_case(tmp_path, tiny_bert_dir, tiny_xlmr_dir):
    from harness.records import ModelSpec, Sourced
    from harness.run import locate_weights

    models = tmp_path / "models"
    tiny_copies(models, tiny_xlmr_dir, "Org__Tiny-De")  # sorts first; was chosen over the exact match
    tiny_copies(models, tiny_bert_dir, "org__tiny-de")
    spec = ModelSpec(
        key="org__tiny-de", source="card.md", model_id=Sourced(value="org/tiny-de", source="yaml")
    )
    assert Path(locate_weights(spec, [models], False).local_dir).name == "org__tiny-de"
    only_by_case = ModelSpec(key="org__tiny-de", source="card.md")
    (models / "org__tiny-de").unlink()
    assert Path(locate_weights(only_by_case, [models], False).local_dir).name == "Org__Tiny-De"


def test_two_models_folders_differing_only_in_case_are_an_error_naming_both(tmp_path, tiny_bert_dir):
    from harness.errors import ModelLoadError
    from harness.records import ModelSpec
    from harness.run import locate_weights

    models = tmp_path / "models"
    tiny_copies(models, tiny_bert_dir, "ORG__TINY-DE", "Org__Tiny-De")
    with pytest.raises(ModelLoadError) as err:
        locate_weights(ModelSpec(key="org__tiny-de", source="card.md"), [models], False)
    assert str(models / "ORG__TINY-DE") in str(err.value) and str(models / "Org__Tiny-De") in str(err.value)
    assert "differ only in case" in str(err.value)


# ---------------------------------------------------------------- tier 1: intervals from degenerate resamples


def test_an_interval_from_too_few_or_degenerate_resamples_is_withheld_with_the_reason():
    from harness.evaluate import bootstrap_ci, interval_withheld

    assert interval_withheld([0.2, 0.5, 0.9], [1, 1, 2]) == (
        "3 pairs, fewer than the 10 a bootstrap interval needs"
    )  # was: shown as [0.87, 1.00]
    sims, gold = [i / 12 for i in range(12)], [1.0] * 11 + [2.0]  # most resamples: constant gold
    reason = interval_withheld(sims, gold)
    assert reason is not None and "of the 1000 resamples are degenerate" in reason
    lo, hi = bootstrap_ci(sims, gold)  # what used to be stored
    assert hi - lo >= 0
    varied = [float(i % 5) for i in range(40)]
    assert interval_withheld([v + (i % 3) for i, v in enumerate(varied)], varied) is None


def test_score_and_run_withhold_the_interval_of_three_pairs(tmp_path, tiny_bert_dir, capsys):
    from fixtures.workspace import write_entry

    pairs = tmp_path / "three.tsv"
    pairs.write_text("sentence1\tsentence2\tscore\nA dog.\tA cat.\t1\nRain.\tSun.\t1\nA car.\tA bus.\t2\n")
    rc, out, _ = run_cli(capsys, "score", tiny_bert_dir, pairs, "--json", "--no-cache")
    data = json.loads(out)
    assert rc == 0 and data["ci95"] is None and "3 pairs" in data["interval_withheld"]
    rc, out, _ = run_cli(capsys, "score", tiny_bert_dir, pairs, "--no-cache")
    assert "no 95% CI: 3 pairs, fewer than the 10" in out
    write_entry(tmp_path / "registry", "m", "org/m", tiny_bert_dir)
    argv = ["run", "--pairs", pairs, "--model", "m", "--registry", tmp_path / "registry"]
    rc, _, err = run_cli(capsys, *argv, "--results", tmp_path / "results", "--no-cache", "--bootstrap", "100")
    assert rc == 0, err
    [stored] = store.load_results(tmp_path / "results")
    assert stored.run.status == "ok" and stored.run.ci95 is None
    assert stored.run.bootstrap["interval_withheld"].startswith("3 pairs")


# ---------------------------------------------------------------- tier 3: a wait is said


def test_a_cache_locked_by_another_process_is_said_after_two_seconds(tmp_path, caplog):
    import sqlite3
    import threading
    import time

    import numpy as np

    from harness.encode import EmbeddingCache

    cache = EmbeddingCache(tmp_path, timeout_s=20)
    other = sqlite3.connect(cache.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN EXCLUSIVE")  # another process writing for a while
    threading.Timer(3.0, lambda: other.execute("COMMIT")).start()
    started = time.monotonic()
    with caplog.at_level("WARNING", logger="harness.encode"):
        cache.put_many("fp", ["a"], np.ones((1, 4), dtype=np.float32))
    waited = time.monotonic() - started
    said = [r.getMessage() for r in caplog.records if "waiting for the embedding cache" in r.getMessage()]
    assert said == [
        f"waiting for the embedding cache {cache.path} (locked by another process)"
    ]  # was: silent
    assert 2.5 < waited < 15 and len(cache) == 1  # it waited for the lock, then wrote
    other.close()
    cache.close()


# ------------------------------------------------ tier 1: folders that load but are not the model


def model_copy(source: Path, target: Path) -> Path:
    """`source` with its weights linked and every other file copied (so it can be edited)."""
    target.mkdir(parents=True)
    for item in source.iterdir():
        if item.name.endswith((".safetensors", ".bin")):
            (target / item.name).symlink_to(item)
        elif item.is_dir():
            shutil.copytree(item, target / item.name)
        else:
            shutil.copy(item, target / item.name)
    return target


def edit_json(path: Path, edit: Any) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def refused(folder: Path) -> str:
    from harness.encode import ModelLoadError, load_model

    with pytest.raises(ModelLoadError) as err:
        load_model(folder, device="cpu", dtype="fp32")
    return str(err.value)


def test_the_real_model_passes_every_check(minilm_dir):
    from harness.encode import load_model
    from harness.encode.integrity import integrity_problem

    assert integrity_problem(load_model(minilm_dir, device="cpu", dtype="fp32").model) is None


def test_a_tokenizer_cut_to_16000_tokens_is_refused(minilm_dir, tmp_path):
    folder = model_copy(minilm_dir, tmp_path / "cut")

    def cut(data: dict) -> None:
        data["model"]["vocab"] = {t: i for t, i in data["model"]["vocab"].items() if i < 16000}

    edit_json(folder / "tokenizer.json", cut)
    (folder / "vocab.txt").write_text(
        "\n".join((minilm_dir / "vocab.txt").read_text().split("\n")[:16000]) + "\n"
    )
    message = refused(folder)  # was: loaded (16,000 is more than half of 30,522) and scored
    assert "the tokenizer has 16,000 tokens for the model's 30,522-row embedding table" in message


def test_a_shuffled_vocabulary_of_the_same_size_is_refused(minilm_dir, tmp_path):
    import random

    folder = model_copy(minilm_dir, tmp_path / "shuffled")

    def shuffle(data: dict) -> None:
        tokens = list(data["model"]["vocab"])
        ids = list(range(len(tokens)))
        random.Random(0).shuffle(ids)
        data["model"]["vocab"] = dict(zip(tokens, ids, strict=True))

    edit_json(folder / "tokenizer.json", shuffle)
    message = refused(folder)  # was: scored 0.24 where the model scores 0.93
    assert "not in the model's order" in message


def test_a_shuffle_in_every_tokenizer_file_still_moves_the_pad_token(minilm_dir, tmp_path):
    import random

    folder = model_copy(minilm_dir, tmp_path / "shuffled-both")
    order = (minilm_dir / "vocab.txt").read_text().split("\n")[:-1]
    random.Random(1).shuffle(order)
    (folder / "vocab.txt").write_text("\n".join(order) + "\n")
    edit_json(
        folder / "tokenizer.json", lambda d: d["model"].update(vocab={t: i for i, t in enumerate(order)})
    )
    assert "config.json says pad_token_id 0, but the tokenizer's pad token '[PAD]'" in refused(folder)


def test_an_uncased_model_whose_tokenizer_no_longer_lowercases_is_refused(minilm_dir, tmp_path):
    folder = model_copy(minilm_dir, tmp_path / "cased")
    edit_json(folder / "tokenizer.json", lambda d: d["normalizer"].update(lowercase=False))
    edit_json(folder / "tokenizer_config.json", lambda d: d.update(do_lower_case=False))
    assert "the vocabulary is uncased" in refused(folder)


def test_a_weight_matrix_of_zeros_is_refused(tiny_bert_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "zeros"
    shutil.copytree(tiny_bert_dir, folder, symlinks=False)
    tensors = load_file(folder / "model.safetensors")
    name = next(n for n in tensors if n.endswith("word_embeddings.weight"))
    tensors[name] = tensors[name] * 0  # header and length valid, the bytes never written
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    message = refused(folder)
    assert "word_embeddings.weight" in message and "is 0 everywhere" in message


def test_a_max_seq_length_of_3_is_refused(tiny_bert_dir, tmp_path):
    folder = tmp_path / "short"
    shutil.copytree(tiny_bert_dir, folder, symlinks=False)
    edit_json(folder / "sentence_bert_config.json", lambda d: d.update(max_seq_length=3))
    assert "max_seq_length 3 (sentence_bert_config.json)" in refused(folder)


def test_a_folder_that_is_not_the_model_is_an_error_result_and_the_good_one_is_stored(
    tmp_path, tiny_bert_dir, capsys
):
    from fixtures.workspace import write_entry, write_pairs

    short = tmp_path / "short"
    shutil.copytree(tiny_bert_dir, short, symlinks=False)
    edit_json(short / "sentence_bert_config.json", lambda d: d.update(max_seq_length=3))
    write_entry(tmp_path / "registry", "a-short", "org/short", short)
    write_entry(tmp_path / "registry", "b-good", "org/good", tiny_bert_dir)
    argv = ["run", "--pairs", write_pairs(tmp_path / "p.tsv"), "--registry", tmp_path / "registry"]
    rc, _, _ = run_cli(
        capsys,
        *argv,
        "--model",
        "a-short",
        "--model",
        "b-good",
        "--results",
        tmp_path / "r",
        "--no-cache",
        "--bootstrap",
        "100",
    )
    assert rc == 1
    runs = {s.model_key: s.run for s in store.load_results(tmp_path / "r")}
    assert runs["b-good"].status == "ok"
    assert runs["a-short"].status == "error" and runs["a-short"].error_kind == "load-failed"
    assert "max_seq_length 3" in runs["a-short"].error


def test_a_ray_address_where_nothing_answers_is_one_line_at_once(tmp_path, capsys, monkeypatch):
    import time

    pytest.importorskip("ray")
    from fixtures.workspace import write_entry, write_pairs

    from harness.run import distributed

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("ray.init was called: it retries for ever while nothing answers")

    monkeypatch.setattr("ray.init", never)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    write_entry(tmp_path / "registry", "m", "org/m", tmp_path / "nowhere")
    argv = [
        "run",
        "--pairs",
        write_pairs(tmp_path / "p.tsv"),
        "--model",
        "m",
        "--registry",
        tmp_path / "registry",
    ]
    started = time.monotonic()
    rc, _, err = run_cli(capsys, *argv, "--executor", "ray", "--ray-address", "127.0.0.1:1")
    assert time.monotonic() - started < distributed.CONNECT_DEADLINE_S + 5
    assert rc != 0 and err.splitlines() == [
        "harness: --ray-address 127.0.0.1:1: no Ray cluster answers there within 10 s (Connection refused); "
        "start one there (ray start --head) or leave --ray-address out for a local Ray"
    ]
    distributed.check_reachable(None)  # a local Ray, and "auto", are Ray's own to find
    distributed.check_reachable("auto")


# ---------------------------------------------------------------- tier 7: results of a newer harness


def test_unknown_fields_of_a_newer_harness_are_read_not_quarantined(tmp_path):
    results = tmp_path / "results"
    path = stored_run(results, "newer", 0.5, [0.4, 0.6], encode=EncodeStats(n_texts=6))
    edit_run(path, a_field_added_later={"x": 1}, encode={"n_texts": 6, "joules": 3.5})
    notes: list[str] = []
    store.prepare_folder(results, notes)  # what `run` does first
    assert notes == [] and path.exists()  # was: moved to .quarantine/ and recomputed
    [loaded] = store.load_results(results)
    assert loaded.run.scores["main_score"] == 0.5 and loaded.run.encode.n_texts == 6


def test_a_file_of_a_newer_schema_is_left_alone_with_one_line(tmp_path):
    results = tmp_path / "results"
    path = stored_run(results, "newer", 0.5, [0.4, 0.6])
    data = json.loads(path.read_text())
    data["harness"]["schema_version"] = store.SCHEMA_VERSION + 1
    path.write_text(json.dumps(data))
    before = path.read_text()
    notes: list[str] = []
    store.prepare_folder(results, notes)
    assert path.read_text() == before and not (results / store.QUARANTINE_FOLDER).exists()
    assert notes == [
        f"{path}: written by a newer harness (schema_version 3; this one reads up to 2); left as it is"
    ]
    with pytest.raises(store.StoreError, match="left as it is, not stored over it"):
        stored_run(results, "newer", 0.6, [0.5, 0.7])
    assert path.read_text() == before


# ------------------------------------------------ tier 5: configuration files named, never skipped


@pytest.fixture
def in_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """cwd two folders below tmp_path, whose harness.toml sets a results folder; no HARNESS_CONFIG."""
    (tmp_path / "harness.toml").write_text('results = "parent-results"\n')
    work = tmp_path / "project" / "sub"
    work.mkdir(parents=True)
    monkeypatch.delenv("HARNESS_CONFIG", raising=False)
    monkeypatch.chdir(work)
    return tmp_path / "project"


@pytest.mark.parametrize("kind", ["dangling-link", "fifo", "dev-zero", "loop", "folder"])
def test_an_unreadable_harness_toml_stops_the_command_instead_of_a_parents(in_project, capsys, kind):
    target = in_project / "harness.toml"
    if kind == "dangling-link":
        target.symlink_to(in_project / "gone.toml")
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "dev-zero":
        target.symlink_to("/dev/zero")
    elif kind == "loop":
        target.symlink_to(target)
    else:
        target.mkdir()
    from harness import config

    with pytest.raises(config.ConfigError) as err:  # was: skipped, and the parent's harness.toml used
        config.resolve({})
    assert str(err.value).startswith(f"{target}: ") and "not read" in str(err.value)
    rc, out, err_text = run_cli(capsys, "models")
    assert rc == 2 and out == "" and err_text == f"harness: {err.value}\n"


def test_a_pyproject_whose_tool_is_not_a_table_is_not_ours(in_project, capsys):
    from harness import config

    (in_project / "pyproject.toml").write_text('tool = "x"\n')
    assert config.resolve({}).file == in_project.parent / "harness.toml"  # was: AttributeError, every command
    _, _, err = run_cli(capsys, "models")
    assert "AttributeError" not in err and "Traceback" not in err


def test_a_home_folder_of_no_user_is_one_line_naming_file_and_key(in_project, capsys, monkeypatch):
    (in_project / "harness.toml").write_text('data_dir = "~nosuchuser-h24/x"\n')
    rc, _, err = run_cli(capsys, "models")
    assert rc == 2 and err.splitlines() == [
        f"harness: {in_project / 'harness.toml'}: data_dir: '~nosuchuser-h24/x': ~nosuchuser-h24 names no "
        "user with a home folder here"
    ]  # was: RuntimeError: Could not determine home directory
    monkeypatch.setenv("HARNESS_RESULTS_DIR", "~nosuchuser-h24/r")
    (in_project / "harness.toml").write_text("")
    rc, _, err = run_cli(capsys, "models")
    assert rc == 2 and err.startswith("harness: HARNESS_RESULTS_DIR: '~nosuchuser-h24/r': ")


# ---------------------------------------- tier 1: a task copy with its gold scores shuffled

SHARED_STS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sts"


@pytest.mark.skipif(not (SHARED_STS / "ro_sts" / "RO-STS.test.tsv").is_file(), reason="shared data missing")
def test_a_copy_with_its_gold_scores_shuffled_runs_under_a_local_name(tmp_path):
    import random

    from harness import tasks as T
    from harness.tasks.catalog import verification

    lines = (SHARED_STS / "ro_sts" / "RO-STS.test.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
    scores = [line.split("\t", 1)[0] for line in lines]
    random.Random(0).shuffle(scores)  # every score figure, count and length stays as it was
    data = tmp_path / "data"
    copy = data / "ro_sts" / "RO-STS.test.tsv"
    copy.parent.mkdir(parents=True)
    copy.write_text(
        "".join(f"{s}\t{line.split(chr(9), 1)[1]}" for s, line in zip(scores, lines, strict=True))
    )
    (task,) = T.catalog(names=["RonSTS"], data_dir=data)
    assert (task.name, task.in_mteb, task.mteb_revision) == ("RonSTS-local", False, None)  # was: RonSTS
    check = verification(task)
    assert check.status == "mismatch" and len(check.differences) == 1
    assert "vs the verified copy's 406d3530c559" in check.differences[0]
    assert "gold scores moved between rows?" in check.summary()
    copy.write_text("".join(lines))  # the copy as verified: MTEB's task again
    (task,) = T.catalog(names=["RonSTS"], data_dir=data)
    assert task.name == "RonSTS" and task.in_mteb


def test_a_split_without_a_known_fingerprint_is_not_taken_for_mteb_s():
    from harness.records import StsPairs
    from harness.tasks.fingerprints import order_problem

    pairs = StsPairs(sentence1=["a", "b"], sentence2=["c", "d"], gold=[1.0, 2.0])
    assert "no verified copy of this split is known" in order_problem("BIOSSES", "default", "test", pairs)


# ---------------------------------------- tier 5: model files sentence-transformers rejects, named


def no_pooling(folder: Path) -> None:
    modules = json.loads((folder / "modules.json").read_text())
    (folder / "modules.json").write_text(json.dumps([m for m in modules if "Pooling" not in m["type"]]))


def prompts_of(value: Any) -> Any:
    def edit(folder: Path) -> None:
        path = folder / "config_sentence_transformers.json"
        data = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps({**data, "prompts": value}))

    return edit


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (no_pooling, "modules.json: no Pooling module after the Transformer (Transformer)"),
        (
            prompts_of("query: "),
            "config_sentence_transformers.json: prompts: must map prompt names to texts, not a string",
        ),
        (
            prompts_of(["query: "]),
            "config_sentence_transformers.json: prompts: must map prompt names to texts, not a list",
        ),
        (
            prompts_of(None),
            "config_sentence_transformers.json: prompts: must map prompt names to texts, not null",
        ),
        (
            prompts_of({"query": "q\ud800: "}),
            "config_sentence_transformers.json: prompts['query']: holds a lone surrogate",
        ),
    ],
    ids=["no-pooling", "prompts-string", "prompts-list", "prompts-null", "lone-surrogate"],
)
def test_model_files_sentence_transformers_rejects_are_one_line_naming_file_and_key(
    tmp_path, tiny_bert_dir, capsys, edit, says
):
    from fixtures.workspace import write_entry, write_pairs

    folder = tmp_path / "model"
    shutil.copytree(tiny_bert_dir, folder, symlinks=False)
    edit(folder)
    message = refused(folder)
    assert message.startswith(f"{folder}/") and says in message
    write_entry(tmp_path / "registry", "m", "org/m", folder)
    argv = [
        "run",
        "--pairs",
        write_pairs(tmp_path / "p.tsv"),
        "--model",
        "m",
        "--registry",
        tmp_path / "registry",
    ]
    rc, _, _ = run_cli(capsys, *argv, "--results", tmp_path / "r", "--no-cache", "--bootstrap", "100")
    [stored] = store.load_results(tmp_path / "r")  # the error record is always stored
    assert rc == 1 and stored.run.status == "error" and stored.run.error_kind == "load-failed"
    assert says in stored.run.error  # was: KeyError: 'sentence_embedding' / AttributeError: 'str' object ...


def test_the_run_summary_never_says_ok_for_a_model_whose_every_task_failed(
    tmp_path, tiny_bert_dir, capsys, monkeypatch
):
    from fixtures.workspace import write_entry, write_pairs

    from harness import encode

    real = encode.load_model

    def constant(*args: Any, **kwargs: Any) -> Any:  # every vector the same: each task's score undefined
        loaded = real(*args, **kwargs)
        forward = loaded.model.forward

        def same(features: dict, **kw: Any) -> Any:
            out = forward(features, **kw)
            out["sentence_embedding"] = out["sentence_embedding"] * 0 + 1
            return out

        loaded.model.forward = same
        return loaded

    monkeypatch.setattr(encode, "load_model", constant)
    write_entry(tmp_path / "registry", "m", "org/m", tiny_bert_dir)
    pairs = [write_pairs(tmp_path / "a.tsv"), write_pairs(tmp_path / "b.tsv", seed=2)]
    argv = [
        "run",
        "--pairs",
        pairs[0],
        "--pairs",
        pairs[1],
        "--model",
        "m",
        "--registry",
        tmp_path / "registry",
    ]
    rc, out, _ = run_cli(capsys, *argv, "--results", tmp_path / "r", "--no-cache", "--bootstrap", "100")
    assert rc == 1
    assert "m: error (all 2 task(s) failed (see above))" in out  # was: "m: ok"
