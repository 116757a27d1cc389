"""The generic layout ``<data>/mteb/<Task>/<subset>/<split>.jsonl`` for any MTEB STS task, and
``harness data export``.

Checked against material nobody here wrote: mteb's own task objects (names, subsets, splits,
``_normalize``, ``load_data`` with its ``dataset_transform``), the descriptive statistics mteb
ships, and the verified copies in ``shared/data/sts/mteb`` (see their MANIFEST).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fixtures.workspace import write_entry

from harness import run as runner
from harness import store
from harness import tasks as T
from harness.tasks import DataError, readers
from harness.tasks.catalog import verification
from harness.tasks.export import export, export_command
from harness.tasks.layout import generic_rel, write_jsonl
from harness.tasks.verify import shipped_statistics, split_statistics

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = next(
    (p for p in (REPO.parent / "shared" / "data" / "sts", Path("/work/shared/data/sts")) if p.is_dir()),
    None,
)
needs_real_data = pytest.mark.skipif(
    REAL_DATA is None or not (REAL_DATA / "mteb").is_dir(), reason="shared/data/sts/mteb not present"
)
NEW_COPIES = {  # (task, subset, split) in shared/data/sts/mteb, per its MANIFEST
    ("STS12", "default", "test"): 3108,
    ("STS13", "default", "test"): 1500,
    ("STS14", "default", "test"): 3750,
    ("STS15", "default", "test"): 3000,
    ("STS16", "default", "test"): 1186,
    ("STS17", "en-en", "test"): 250,
    ("STS17", "ar-ar", "test"): 250,
    ("KorSTS", "default", "test"): 1376,
    ("KLUE-STS", "default", "validation"): 519,
    ("JSTS", "default", "validation"): 1457,
    ("Assin2STS", "default", "test"): 2448,
    ("STSB", "default", "validation"): 1458,
    ("STSB", "default", "test"): 1361,
}


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def rows_file(path: Path, rows: list[tuple[str, str, float]]) -> Path:
    write_jsonl(path, rows)
    return path


SMALL = [
    ("A man plays.", "A man is playing.", 4.8),
    ("A cat.", "A dog runs.", 0.4),
    ("Rain.", "It rains.", 3.0),
]


def small_copy(data: Path, name: str, subset: str = "default", split: str = "test") -> Path:
    return rows_file(data / generic_rel(name, subset, split), SMALL)


def one(tasks: list, label: str, split: str = "test"):
    [task] = [t for t in tasks if t.label.removesuffix("-local") == label and t.split == split]
    return task


# ---------------------------------------------------------------- the catalog reads the layout


@needs_real_data
def test_every_new_copy_is_mteb_data_under_mteb_name():
    """Each file in the shared layout is found for its task and split and equals mteb's statistics."""
    names = sorted({name for name, _, _ in NEW_COPIES})
    tasks = T.catalog(data_dir=REAL_DATA, splits=["test", "validation"], names=names)
    found = {(t.name, t.subset, t.split): t for t in tasks if T.data_source(t) == "generic"}
    assert set(found) == set(NEW_COPIES)
    for key, task in found.items():
        check = verification(task)
        assert check.status == "verified", (key, check.differences)
        assert task.in_mteb and task.mteb_revision == T.mteb_revision(task)
        assert task.revision.startswith("local-")
        assert len(T.load_pairs(task)) == NEW_COPIES[key]


@needs_real_data
def test_languages_get_their_new_tasks_on_mtebs_splits():
    """`--lang` picks the new tasks; KLUE-STS and JSTS on validation, the split mteb evaluates."""
    import mteb

    expected = {
        "en": {"STS12", "STS13", "STS14", "STS15", "STS16", "STS17[en-en]"},
        "ko": {"KorSTS", "KLUE-STS"},
        "ja": {"JSTS"},
        "ar": {"STS17[ar-ar]"},
        "pt": {"Assin2STS"},
        "zh": {"STSB"},
    }
    for lang, labels in expected.items():
        tasks = T.catalog([lang], data_dir=REAL_DATA)
        generic = {t.label: t for t in tasks if T.data_source(t) == "generic"}
        assert set(generic) == labels, lang
        for label, task in generic.items():
            splits = mteb.get_task(task.name).metadata.eval_splits  # test when mteb has it, else its own
            assert task.split == ("test" if "test" in splits else splits[0]), label
    en = T.catalog(["en"], data_dir=REAL_DATA)
    assert {t.label for t in en if T.data_source(t) == "reader"} == {
        "STSBenchmark",
        "STSBenchmarkMultilingualSTS[en]",
    }


@needs_real_data
def test_generic_copy_is_read_before_the_dataset_reader(tmp_path):
    """Both a generic copy and the dataset's own file: the generic one is read, and verified."""
    data = tmp_path / "data"
    source = REAL_DATA / "ro_sts" / "RO-STS.test.tsv"
    (data / "ro_sts").mkdir(parents=True)
    shutil.copy(source, data / "ro_sts" / "RO-STS.test.tsv")
    (reader_task,) = T.catalog(names=["RonSTS"], data_dir=data)
    assert T.data_source(reader_task) == "reader"
    raw = readers.load_pairs(reader_task)
    rows_file(
        data / generic_rel("RonSTS", "default", "test"),
        list(zip(raw.sentence1, raw.sentence2, raw.gold, strict=True)),
    )
    (task,) = T.catalog(names=["RonSTS"], data_dir=data)
    assert T.data_source(task) == "generic" and task.local_files[0].endswith("mteb/RonSTS/default/test.jsonl")
    assert verification(task).status == "verified" and task.in_mteb
    assert T.load_pairs(task) == T.load_pairs(reader_task)


@needs_real_data
def test_a_changed_copy_runs_under_a_local_name_with_the_differing_statistics(tmp_path):
    data = tmp_path / "data"
    rel = generic_rel("STS13", "default", "test")
    lines = (REAL_DATA / rel).read_text(encoding="utf-8").splitlines(keepends=True)
    first = json.loads(lines[0])
    lines[0] = json.dumps({**first, "sentence1": first["sentence1"] + "!"}) + "\n"
    (data / rel).parent.mkdir(parents=True)
    (data / rel).write_text("".join(lines), encoding="utf-8")
    (task,) = T.catalog(names=["STS13"], data_dir=data)
    assert (task.name, task.in_mteb, task.mteb_revision) == ("STS13-local", False, None)
    theirs = shipped_statistics("STS13", "default", "test")
    total = theirs["text1_statistics"]["total_text_length"]
    check = verification(task)
    assert check.status == "mismatch"
    assert f"text1.total_text_length {total + 1} vs mteb {total}" in check.differences
    assert "text1.total_text_length" in check.summary()


def test_a_copy_mteb_has_no_statistics_for_is_not_mtebs(tmp_path):
    small_copy(tmp_path, "STS12")
    (task,) = T.catalog(names=["STS12"], data_dir=tmp_path)
    assert task.name == "STS12-local" and not task.in_mteb
    assert "num_samples 3 vs mteb 3108" in verification(task).differences


# ---------------------------------------------------------------- gold as mteb's evaluator sees it


@needs_real_data
@pytest.mark.parametrize("name", ["Assin2STS", "STS12"])
def test_gold_is_normalised_as_mtebs_evaluator_does(name):
    """Assin2STS is on 1..5, STS12 on 0..5: the gold a run scores and stores is mteb's `_normalize`d."""
    import mteb

    (task,) = T.catalog(names=[name], data_dir=REAL_DATA)
    raw = readers.load_pairs(task)
    scored = T.load_pairs(task)
    mtask = mteb.get_task(name)
    assert scored.gold == [mtask._normalize(x) for x in raw.gold]
    assert (scored.sentence1, scored.sentence2) == (raw.sentence1, raw.sentence2)
    assert min(scored.gold) >= 0.0 and max(scored.gold) <= 1.0


def test_users_pairs_files_keep_their_scale(tmp_path):
    path = rows_file(tmp_path / "mine.jsonl", [("a", "b", 10.0), ("c", "d", -2.0), ("e", "f", 3.0)])
    assert T.load_pairs(T.pairs_task(path)).gold == [10.0, -2.0, 3.0]


# ---------------------------------------------------------------- bad input: one line, only that task out


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('["A.", "B.", 1.0]', "expected a JSON object, found list"),
        ('{"sentence1": "A.", "sentence2": "B."}', "missing score"),
        ('{"sentence1": "A.", "sentence2": "B.", "score": "high"}', "score 'high' is not a number"),
        ('{"sentence1": "A.", "sentence2": "B.", "score": null}', "missing score"),
        ('{"sentence1": "A.", "sentence2": "B.", "score": true}', "score True is not a number"),
        ("{not json", "not valid JSON (Expecting property name enclosed in double quotes)"),
    ],
)
def test_bad_jsonl_line_names_file_and_line_and_leaves_other_tasks(tmp_path, line, problem):
    good = small_copy(tmp_path, "STS13")
    bad = tmp_path / generic_rel("STS12", "default", "test")
    bad.parent.mkdir(parents=True)
    bad.write_text(good.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    tasks = T.catalog(names=["STS12", "STS13"], data_dir=tmp_path)
    sts12, sts13 = one(tasks, "STS12"), one(tasks, "STS13")
    with pytest.raises(DataError) as err:
        T.load_pairs(sts12)
    assert str(err.value) == f"{bad}:4: {problem}"
    assert verification(sts12).status == "unreadable" and problem in verification(sts12).summary()
    assert len(T.load_pairs(sts13)) == 3


def test_empty_sentences_are_kept_as_mteb_keeps_them(tmp_path):
    small = [*SMALL, ("", "An empty first sentence.", 1.0)]
    rows_file(tmp_path / generic_rel("STS12", "default", "test"), small)
    (task,) = T.catalog(names=["STS12"], data_dir=tmp_path)
    assert T.load_pairs(task).sentence1[-1] == ""


def test_unknown_subset_split_and_task_folders_are_named_and_not_read(tmp_path):
    import mteb

    small_copy(tmp_path, "STS17", "en-en")
    small_copy(tmp_path, "STS17", "xx-yy")
    small_copy(tmp_path, "STS12", "default", "train")
    small_copy(tmp_path, "NoSuchTask")
    (tmp_path / "mteb" / "STS12" / "default" / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.warns(UserWarning) as caught:
        tasks = T.catalog(names=["STS17", "STS12"], data_dir=tmp_path)
    lines = sorted(str(w.message) for w in caught)
    base = tmp_path
    assert lines == sorted(
        [
            f"{base}/mteb/NoSuchTask: no MTEB STS task is called 'NoSuchTask'; not read",
            f"{base}/mteb/STS12/default/notes.txt: not a .jsonl file; not read",
            f"{base}/mteb/STS12/default/train.jsonl: mteb evaluates STS12 on test, not 'train'; not read",
            f"{base}/mteb/STS17/xx-yy: mteb's STS17 has no subset 'xx-yy' (subsets: "
            + ", ".join(sorted(mteb.get_task("STS17").metadata.eval_langs))
            + "); not read",
        ]
    )
    generic = [t for t in tasks if T.data_source(t) == "generic"]
    assert [(t.label, t.split) for t in generic] == [("STS17-local[en-en]", "test")]  # 3 rows: not mteb's


def test_a_link_out_of_the_data_folder_is_refused_unread(tmp_path):
    outside = rows_file(tmp_path / "elsewhere" / "rows.jsonl", SMALL)
    data = tmp_path / "data"
    link = data / generic_rel("STS12", "default", "test")
    link.parent.mkdir(parents=True)
    link.symlink_to(outside)
    inside = small_copy(data, "STS13")
    (data / "mteb" / "STS14" / "default").mkdir(parents=True)
    (data / generic_rel("STS14", "default", "test")).symlink_to(inside)  # a link inside: fine
    tasks = T.catalog(names=["STS12", "STS13", "STS14"], data_dir=data)
    sts12 = one(tasks, "STS12")
    assert sts12.local_files == [str(data.resolve() / generic_rel("STS12", "default", "test"))]
    with pytest.raises(
        DataError, match=r"STS12/default/test\.jsonl: a link to .*rows\.jsonl, outside the data"
    ):
        T.load_pairs(sts12)
    assert len(T.load_pairs(one(tasks, "STS14"))) == len(T.load_pairs(one(tasks, "STS13"))) == 3


def test_a_two_gigabyte_file_is_refused_unread(tmp_path):
    big = tmp_path / generic_rel("STS12", "default", "test")
    big.parent.mkdir(parents=True)
    with open(big, "wb") as fh:
        fh.truncate(2 * 1024**3)  # sparse: no disk used
    small_copy(tmp_path, "STS13")
    tasks = T.catalog(names=["STS12", "STS13"], data_dir=tmp_path)
    sts12 = one(tasks, "STS12")
    assert sts12.revision is None  # never hashed: that would read it
    with pytest.raises(DataError, match=rf"^{big.resolve()}: .*(large|bytes)"):
        T.load_pairs(sts12)
    assert len(T.load_pairs(one(tasks, "STS13"))) == 3


def test_a_bad_file_leaves_only_its_task_out_of_a_run(tmp_path, tiny_bert_dir):
    data = tmp_path / "data"
    small_copy(data, "STS13")
    bad = data / generic_rel("STS12", "default", "test")
    bad.parent.mkdir(parents=True)
    bad.write_text('{"sentence1": "A.", "sentence2": "B.", "score": "x"}\n', encoding="utf-8")
    registry = tmp_path / "registry"
    write_entry(registry, "org__tiny-bert", "org/tiny-bert", tiny_bert_dir)
    options = runner.RunOptions(
        languages=["en"],
        task_names=["STS12", "STS13"],
        results_dir=tmp_path / "results",
        registry_dir=registry,
        data_dir=data,
        cache_dir=tmp_path / "cache",
        bootstrap_resamples=100,
        allow_hub=False,
    )
    said: list[str] = []
    summary = runner.run(options, say=said.append)
    assert f"STS12 (test): {bad.resolve()}:1: score 'x' is not a number" in summary.data_errors
    results = {r.task_name: r.run for r in store.load_results(tmp_path / "results")}
    assert set(results) == {"STS13-local"} and results["STS13-local"].status == "ok"
    assert results["STS13-local"].gold == [4.8 / 5, 0.4 / 5, 3.0 / 5]  # normalised as mteb


# ---------------------------------------------------------------- counts by source


@needs_real_data
def test_tasks_are_counted_by_source(monkeypatch, capsys):
    en = T.catalog(["en"], data_dir=REAL_DATA)
    counts = T.source_counts(en)
    assert counts == {"generic": 6, "reader": 2, "hub": 0, "none": len(en) - 8}
    assert (
        T.counts_line(counts)
        == f"{len(en)} task(s): 6 generic local copy, 2 dataset reader, 0 Hub, {len(en) - 8} none"
    )
    monkeypatch.setenv("COLUMNS", "250")
    assert T.tasks_command("en", REAL_DATA) == 0
    assert T.counts_line(counts) in capsys.readouterr().out


@needs_real_data
def test_info_counts_tasks_by_source(monkeypatch, capsys):
    from harness import cli

    monkeypatch.setenv("HARNESS_DATA_DIR", str(REAL_DATA))
    assert cli.main(["info", "--json", "--config", "none"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["tasks_by_source"] == T.source_counts(T.catalog(None, REAL_DATA))
    assert (
        info["tasks_by_source"]["generic"] == 12
    )  # the 13 copies less STSB validation (test is the default)
    assert set(info["languages"]["ko"]["local"]) == {"KorSTS", "KLUE-STS"}


# ---------------------------------------------------------------- harness data export


@needs_real_data
def test_export_offline_round_trip(tmp_path):
    """Offline: the verified local copies (generic and dataset reader) are re-written in the layout;
    re-read, they are the same rows, equal to mteb's statistics; unreachable tasks are named."""
    out = tmp_path / "out"
    outcome = export(out, languages=["ko", "pt"], data_dir=REAL_DATA)
    written = {(e.task, e.subset, e.split): e for e in outcome.written}
    assert set(written) == {
        ("KorSTS", "default", "test"),
        ("KLUE-STS", "default", "validation"),
        ("Assin2STS", "default", "test"),
        ("STSBenchmarkMultilingualSTS", "pt", "test"),
        ("STSBenchmarkMultilingualSTS", "pt", "dev"),
    }
    assert all(e.verified for e in written.values())
    assert any(
        line.startswith("STS17[ko-ko] (test): no local copy, and the Hub is not usable")
        for line in outcome.not_reached
    )
    source = {
        (t.name, t.subset, t.split): t
        for t in T.catalog(["ko", "pt"], REAL_DATA, ["test", "dev", "validation"])
    }
    again = {
        (t.name, t.subset, t.split): t for t in T.catalog(["ko", "pt"], out, ["test", "dev", "validation"])
    }
    for key, entry in written.items():
        task = again[key]
        assert T.data_source(task) == "generic" and verification(task).status == "verified", key
        assert T.load_pairs(task) == T.load_pairs(source[key]), key
        assert entry.rows == len(T.load_pairs(task))
        assert entry.mteb_revision == T.mteb_revision(task)
        assert split_statistics(readers.load_pairs(task)) == split_statistics(readers.load_pairs(source[key]))
    # A generic copy is re-written byte for byte.
    rel = generic_rel("KorSTS", "default", "test")
    assert (out / rel).read_bytes() == (REAL_DATA / rel).read_bytes()
    # The MANIFEST has a row per file; a second export merges into it.
    manifest = json.loads((out / "mteb" / "MANIFEST.json").read_text(encoding="utf-8"))["files"]
    assert {(r["task"], r["subset"], r["split"]) for r in manifest} == set(written)
    export(out, names=["JSTS"], data_dir=REAL_DATA)
    manifest = json.loads((out / "mteb" / "MANIFEST.json").read_text(encoding="utf-8"))["files"]
    assert len(manifest) == len(written) + 1
    md = (out / "mteb" / "MANIFEST.md").read_text(encoding="utf-8")
    assert (
        "| JSTS | default | validation | 1457 | " in md
        and md.count("verified: equal to mteb's statistics") == 6
    )


@needs_real_data
def test_export_offline_skips_a_copy_it_cannot_verify(tmp_path, capsys):
    """STS-B's local copy is verified only up to stripped whitespace: not re-written as MTEB's data."""
    outcome = export(tmp_path / "out", names=["STSBenchmark"], data_dir=REAL_DATA)
    assert outcome.written == []
    [line] = outcome.not_reached
    assert line.startswith("STSBenchmark (test): local copy ") and "whitespace-only differences" in line
    assert export_command(tmp_path / "out", None, ["STSBenchmark"], REAL_DATA) == 1
    assert "harness: not exported: STSBenchmark (test)" in capsys.readouterr().err
    assert export_command(tmp_path / "out", None, ["NoSuchTask"], REAL_DATA) == 2


def test_export_online_goes_through_mtebs_loader(tmp_path, monkeypatch):
    """Online: mteb's own load_data (its pinned revision, fast loading, dataset_transform) with
    datasets' loader patched to an in-memory dataset; every evaluation split is written."""
    import datasets
    import mteb

    calls: list[dict] = []
    sts17 = {
        "sentence1": ["A man.", "A dog.", "Un chat.", "Rain."],
        "sentence2": ["A person.", "A cat.", "A cat.", "Snow."],
        "score": [4.2, 1.0, 2.5, 0.5],
        "lang": ["en-en", "en-en", "fr-fr", "en-en"],
    }
    assin2 = {
        "sentence_pair_id": [1, 2, 3],
        "premise": ["Um homem.", "Uma mulher.", "Um gato."],
        "hypothesis": ["Uma pessoa.", "Um homem.", "Um cão."],
        "relatedness_score": [4.5, 2.0, 1.5],
        "entailment_judgment": [0, 1, 1],
    }
    tables = {
        "mteb/sts17-crosslingual-sts": {"test": sts17},
        "nilc-nlp/assin2": {"test": assin2, "train": assin2},
    }

    def load_dataset(*args, **kwargs):
        calls.append(kwargs)
        return datasets.DatasetDict(
            {k: datasets.Dataset.from_dict(v) for k, v in tables[kwargs["path"]].items()}
        )

    monkeypatch.setattr("mteb.abstasks.abstask.load_dataset", load_dataset)
    monkeypatch.setattr("harness.tasks.export.offline_reason", lambda: None)
    out = tmp_path / "out"
    outcome = export(out, names=["STS17[en-en]", "Assin2STS"])
    assert outcome.not_reached == []
    assert [(e.task, e.subset, e.split, e.rows) for e in outcome.written] == [
        ("Assin2STS", "default", "test", 3),
        ("STS17", "en-en", "test", 3),
    ]
    assert {c["path"]: c["revision"] for c in calls} == {
        "nilc-nlp/assin2": mteb.get_task("Assin2STS").metadata.dataset["revision"],
        "mteb/sts17-crosslingual-sts": mteb.get_task("STS17").metadata.dataset["revision"],
    }
    lines = (out / generic_rel("Assin2STS", "default", "test")).read_text(encoding="utf-8").splitlines()
    assert [json.loads(x) for x in lines] == [  # mteb's dataset_transform renamed the columns
        {"sentence1": "Um homem.", "sentence2": "Uma pessoa.", "score": 4.5},
        {"sentence1": "Uma mulher.", "sentence2": "Um homem.", "score": 2.0},
        {"sentence1": "Um gato.", "sentence2": "Um cão.", "score": 1.5},
    ]
    en = readers.read_file(out / generic_rel("STS17", "en-en", "test"), "mteb-jsonl")[0]
    assert en.sentence1 == ["A man.", "A dog.", "Rain."] and en.gold == [4.2, 1.0, 0.5]
    # Not MTEB's rows: the check says which statistics differ, and the copy runs under a local name.
    assert all(
        not e.verified and e.check.startswith("differs: num_samples 3 vs mteb") for e in outcome.written
    )
    assert all(e.source == "mteb loader (Hub)" for e in outcome.written)
    (task,) = T.catalog(names=["Assin2STS"], data_dir=out)
    assert task.name == "Assin2STS-local"


def test_export_online_failure_is_reported_per_task(tmp_path, monkeypatch):
    def load_dataset(*args, **kwargs):
        raise ConnectionError("hub down")

    monkeypatch.setattr("mteb.abstasks.abstask.load_dataset", load_dataset)
    monkeypatch.setattr("harness.tasks.export.offline_reason", lambda: None)
    outcome = export(tmp_path / "out", names=["STS12", "STS13"])
    assert outcome.written == []
    assert outcome.not_reached == [
        "STS12 (test): mteb could not load STS12: ConnectionError: hub down",
        "STS13 (test): mteb could not load STS13: ConnectionError: hub down",
    ]
    assert not (tmp_path / "out" / "mteb" / "MANIFEST.md").exists()
    assert not (tmp_path / "out").exists()  # nothing half-written
