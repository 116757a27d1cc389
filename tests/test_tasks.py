"""harness.tasks: the STS catalog (from mteb's metadata), local formats, validation, Hub fallback.

Everything runs offline: the Hub path is exercised by monkeypatching ``datasets.load_dataset``.
Tests that read the real shared data skip when it is absent.
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import pytest

from harness import tasks as T
from harness.records import StsTask
from harness.tasks import DataError, TaskUnavailable, readers

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = next(
    (p for p in (REPO.parent / "shared" / "data" / "sts", Path("/work/shared/data/sts")) if p.is_dir()),
    None,
)
needs_real_data = pytest.mark.skipif(REAL_DATA is None, reason="shared/data/sts not present")


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def local_task(name: str, path: Path, **kw) -> StsTask:
    return StsTask(
        name=name, subset=kw.pop("subset", "default"), languages=["de"], local_files=[str(path)], **kw
    )


@pytest.fixture(autouse=True)
def _online(monkeypatch):
    """Tests start with the Hub 'online' (each offline test sets the variables itself)."""
    for var in T.OFFLINE_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("harness.tasks.hub._reachable", lambda endpoint, timeout=3.0: True)


# ---------------------------------------------------------------- benchmark formats


def test_score_first_tab_csv_keeps_leading_quote(tmp_path):
    # A German-STSbenchmark-style ".csv": TAB-separated, score first, literal quotes.
    text = (
        '2.5\t"Zitat: Hallo\tEin Satz.\n'
        '3.6\tZweiter Satz.\tEnde des Zitats."\n'
        '1.0\tEr sagt "ja".\tSie sagt „nein“.\n'
    )
    path = write(tmp_path / "german_stsbenchmark/deepl/stsb_de_test.csv", text)
    pairs = readers.load_pairs(  # the file's own scores
        local_task("GermanSTSBenchmark", path)
    )
    assert len(pairs) == 3
    assert pairs.sentence1 == ['"Zitat: Hallo', "Zweiter Satz.", 'Er sagt "ja".']
    assert pairs.sentence2 == ["Ein Satz.", 'Ende des Zitats."', "Sie sagt „nein“."]
    assert pairs.gold == [2.5, 3.6, 1.0]
    # The quirk being guarded against: default quoting merges the first two lines.
    merged = list(csv.reader(io.StringIO(text), delimiter="\t"))
    assert len(merged) == 2


def test_rfc4180_comma_csv_with_doubled_quotes_and_crlf(tmp_path):
    text = (
        '"He said ""hi"", then left.",Er sagte hallo.,2.5\r\n'
        '"A girl, smiling.","Ein Mädchen, lächelnd.",3.6\r\n'
        "Plain one.,Plain two.,0\r\n"
    )
    path = write(tmp_path / "stsb_multi_mt/stsb-de-test.csv", text)
    pairs = readers.load_pairs(  # the file's own scores
        local_task("STSBenchmarkMultilingualSTS", path, subset="de")
    )
    assert pairs.sentence1 == ['He said "hi", then left.', "A girl, smiling.", "Plain one."]
    assert pairs.sentence2 == ["Er sagte hallo.", "Ein Mädchen, lächelnd.", "Plain two."]
    assert pairs.gold == [2.5, 3.6, 0.0]
    assert not any("\r" in s for s in pairs.sentence1 + pairs.sentence2)


def test_romanian_tsv_with_typographic_and_leading_quotes(tmp_path):
    text = '4.2\t„Bună ziua”, a spus el.\t"Salut", a zis.\n0.8\tO fată.\tUn băiat.\n'
    path = write(tmp_path / "ro_sts/RO-STS.test.tsv", text)
    pairs = readers.load_pairs(  # the file's own scores
        local_task("RonSTS", path)
    )
    assert pairs.sentence1 == ["„Bună ziua”, a spus el.", "O fată."]
    assert pairs.sentence2 == ['"Salut", a zis.', "Un băiat."]
    assert pairs.gold == [4.2, 0.8]


def test_bom_is_dropped(tmp_path):
    path = write(tmp_path / "stsb-en-test.csv", "\ufeffA girl.,A boy.,1.5\r\n".encode())
    pairs = T.load_pairs(local_task("STSBenchmark", path))
    assert pairs.sentence1 == ["A girl."]


def test_header_row_is_tolerated(tmp_path):
    path = write(tmp_path / "RO-STS.test.tsv", "score\tsentence1\tsentence2\n1.0\tA.\tB.\n")
    assert len(T.load_pairs(local_task("RonSTS", path))) == 1


@pytest.mark.parametrize(
    ("name", "content", "line", "problem"),
    [
        ("RonSTS", "1.0\tA.\tB.\n\tC.\tD.\n", 2, "missing score"),
        ("RonSTS", "1.0\tA.\tB.\nabc\tC.\tD.\n", 2, "score 'abc' is not a number"),
        ("RonSTS", "1.0\tA.\tB.\n2.0\tC.\tD.\n5.5\tE.\tF.\n", 3, "score 5.5 outside 0..5"),
        ("RonSTS", "-0.5\tA.\tB.\n", 1, "outside 0..5"),
        ("RonSTS", "nan\tA.\tB.\n", 1, "not a finite number"),
        ("RonSTS", "1.0\tA.\t  \n", 1, "empty sentence2"),
        (
            "RonSTS",
            "1.0,A.,B.\n",
            1,
            "expected 3 TAB-separated fields, found 1 (the line looks comma-separated)",
        ),
        ("RonSTS", "1.0\tA.\tB.\tC.\n", 1, "expected 3 TAB-separated fields, found 4"),
        ("STSBenchmark", "A.,B.,1.0\r\nA.\tB.\t1.0\r\n", 2, "found 1 (the line looks TAB-separated)"),
        ("STSBenchmark", "A.,B.,\r\n", 1, "missing score"),
        ("STSBenchmark", ",B.,1.0\r\n", 1, "empty sentence1"),
        ("STSBenchmark", 'A.,"B.,1.0\r\nC.,D.,2.0\r\n', 1, "unbalanced quote"),
        ("STSBenchmark", "1.0,A.,B.\r\n", 1, "expected columns: sentence1, sentence2, score"),
    ],
)
def test_bad_benchmark_rows_name_file_and_line(tmp_path, name, content, line, problem):
    path = write(tmp_path / "data.file", content)
    with pytest.raises(DataError) as info:
        T.load_pairs(local_task(name, path))
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert problem in message


def test_non_utf8_names_line(tmp_path):
    path = write(tmp_path / "x.tsv", b"1.0\tA.\tB.\n2.0\t\xff\tC.\n")
    with pytest.raises(DataError, match=r"x\.tsv:2: not UTF-8"):
        T.load_pairs(local_task("RonSTS", path))


def test_missing_local_file_is_unavailable(tmp_path):
    task = local_task("RonSTS", tmp_path / "gone.tsv")
    with pytest.raises(TaskUnavailable, match=r"gone\.tsv not found"):
        T.load_pairs(task)


def test_changed_file_is_refused(tmp_path):
    path = write(tmp_path / "RO-STS.test.tsv", "1.0\tA.\tB.\n")
    task = local_task("RonSTS", path, revision=T.local_revision(path))
    assert len(T.load_pairs(task)) == 1
    write(path, "1.0\tA.\tB.\n2.0\tC.\tD.\n")
    with pytest.raises(DataError, match="changed since the task was listed"):
        T.load_pairs(task)


# ---------------------------------------------------------------- user pairs files


def test_pairs_task_csv_with_bom_crlf_and_extra_columns(tmp_path):
    text = (
        '\ufeffid,sentence1,sentence2,score\r\n1,"Hi, there.",Hello.,4.5\r\n2,"Say ""x"".",Other.,-3\r\n'
        "3,Third.,Pair.,0\r\n"
    )
    path = write(tmp_path / "mine.csv", text)
    task = T.pairs_task(path, language="deu")
    assert task.name == "custom:mine"
    assert task.subset == "default"
    assert task.languages == ["de"]
    assert task.in_mteb is False
    assert task.local_files == [str(path.resolve())]
    assert task.revision == "local-" + hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    pairs = T.load_pairs(task)
    assert pairs.sentence1 == ["Hi, there.", 'Say "x".', "Third."]
    assert pairs.gold == [4.5, -3.0, 0.0]  # any finite score for custom files


def test_pairs_task_tsv_sniffed_from_content_and_unquoted(tmp_path):
    # TAB content behind a .csv extension; a leading quote stays literal.
    text = 'score\tsentence1\tsentence2\n10\t"Quoted\tB.\n0.5\tC.\tD."\n1\tE.\tF.\n'
    path = write(tmp_path / "pairs.csv", text)
    task = T.pairs_task(path)
    assert task.languages == []
    pairs = T.load_pairs(task)
    assert pairs.sentence1 == ['"Quoted', "C.", "E."]
    assert pairs.sentence2 == ["B.", 'D."', "F."]
    assert pairs.gold == [10.0, 0.5, 1.0]


def test_pairs_task_jsonl(tmp_path):
    lines = [
        '{"sentence1": "Ein Hund.", "sentence2": "Eine Katze.", "score": 1.5}',
        "",
        '{"sentence1": "„Ja“", "sentence2": "Nein", "score": "2", "extra": 1}',
        '{"sentence1": "Drei.", "sentence2": "Paare.", "score": 0}',
    ]
    path = write(tmp_path / "p.jsonl", "\r\n".join(lines) + "\r\n")
    pairs = T.load_pairs(T.pairs_task(path, language="de"))
    assert pairs.sentence1 == ["Ein Hund.", "„Ja“", "Drei."]
    assert pairs.gold == [1.5, 2.0, 0.0]


@pytest.mark.parametrize(
    ("filename", "content", "expected"),
    [
        (
            "a.csv",
            "sentence1,sentence2,score\nA.,B.,1\nC.,D.\n",
            "a.csv:3: expected 3 comma-separated fields, found 2",
        ),
        ("a.csv", "sentence1,sentence2,score\nA.,B.,high\n", "a.csv:2: score 'high' is not a number"),
        ("a.csv", "sentence1,sentence2,score\nA.,B.,inf\n", "a.csv:2: score 'inf' is not a finite number"),
        ("a.csv", "sentence1,sentence2,score\nA.,B.,NaN\n", "a.csv:2: score 'NaN' is not a finite number"),
        ("a.csv", "sentence1,sentence2,score\r\nA.,B.,1\r\n,B.,1\r\n", "a.csv:3: empty sentence1"),
        ("a.tsv", "sentence1\tsentence2\tscore\nA.\tB.\t\n", "a.tsv:2: missing score"),
        (
            "a.tsv",
            "sentence1\tsentence2\tscore\nA.,B.,1\n",
            "a.tsv:2: expected 3 TAB-separated fields, found 1",
        ),
        ("a.csv", "s1,s2,score\nA.,B.,1\n", "a.csv: missing required columns sentence1, sentence2, score"),
        ("a.csv", "A.,B.,1\n", "a.csv: missing required columns"),
        ("a.jsonl", '{"sentence1": "A", "sentence2": "B"}\n', "a.jsonl:1: missing score"),
        ("a.jsonl", '{"sentence1": "A", "sentence2": "B", "score": 1}\n{oops\n', "a.jsonl:2: not valid JSON"),
        ("a.jsonl", '{"sentence1": "A", "sentence2": "B", "score": null}\n', "a.jsonl:1: missing score"),
        ("a.jsonl", '{"sentence1": "A", "sentence2": "", "score": 1}\n', "a.jsonl:1: empty sentence2"),
    ],
)
def test_bad_pairs_files(tmp_path, filename, content, expected):
    path = write(tmp_path / filename, content)
    with pytest.raises(DataError) as info:
        T.pairs_task(path)
    assert str(info.value).startswith(str(path.resolve())), str(info.value)
    assert expected in str(info.value)


def test_pairs_task_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        T.pairs_task(tmp_path / "nope.csv")


# ---------------------------------------------------------------- availability without data


def test_no_local_file_and_hub_disabled(monkeypatch):
    task = StsTask(name="RonSTS", subset="default", languages=["ro"], hf_dataset="mteb/RonSTS", revision="r1")
    expected = (
        r"expected mteb/RonSTS/default/test\.jsonl or ro_sts/RO-STS\.test\.tsv"
        r".*Hub loading is disabled"
    )
    with pytest.raises(TaskUnavailable, match=expected):
        T.load_pairs(task, allow_hub=False)


@pytest.mark.parametrize("var", ["HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"])
def test_offline_hub_fails_fast(monkeypatch, var):
    import datasets

    def boom(*a, **k):
        raise AssertionError("the Hub must not be tried offline")

    monkeypatch.setattr(datasets, "load_dataset", boom)
    monkeypatch.setenv(var, "1")
    task = StsTask(name="RonSTS", subset="default", languages=["ro"], hf_dataset="mteb/RonSTS", revision="r1")
    with pytest.raises(TaskUnavailable, match=f"Hub is offline \\({var} is set\\)"):
        T.load_pairs(task)
    assert T.availability(task) == "unavailable"


def test_local_only_task_without_file_is_unavailable():
    task = StsTask(name="GermanSTSBenchmark-deepl", subset="default", languages=["de"], in_mteb=False)
    with pytest.raises(TaskUnavailable, match="not on the Hub"):
        T.load_pairs(task)


def test_iso639_1():
    assert T.iso639_1("deu-Latn") == "de"
    assert T.iso639_1("cmn-Hans") == "zh"
    assert T.iso639_1("arb-Arab") == "ar"
    assert T.iso639_1("ron-Latn") == "ro"
    assert T.iso639_1("de-DE") == "de"
    assert T.iso639_1("German") == "de"  # one vocabulary (harness.languages): names read too
    assert T.iso639_1("cmn") == "zh"
    with pytest.raises(ValueError):
        T.iso639_1("xx!")


# ---------------------------------------------------------------- catalog (mteb metadata)


@pytest.fixture(scope="module")
def mteb_tasks():
    import mteb

    return {
        name: mteb.get_task(name)
        for name in (
            "STSBenchmarkMultilingualSTS",
            "STSBenchmark",
            "GermanSTSBenchmark",
            "RonSTS",
            "STS22.v2",
        )
    }


def labels(tasks):
    return {t.label for t in tasks}


def test_catalog_de(mteb_tasks):
    tasks = T.catalog(["de"])
    assert labels(tasks) == {"STSBenchmarkMultilingualSTS[de]", "GermanSTSBenchmark", "STS22.v2[de]"}
    for task in tasks:
        meta = mteb_tasks[task.name].metadata
        assert task.split == "test"
        assert task.languages == ["de"]
        assert task.main_score == "cosine_spearman" == meta.main_score
        assert task.revision == meta.dataset["revision"]
        assert task.hf_dataset == meta.dataset["path"]
        assert task.in_mteb and task.local_files == []
        assert meta.dataset["revision"] in task.description
        assert T.mteb_revision(task) == meta.dataset["revision"]


def test_catalog_en_ro_es():
    en = labels(T.catalog(["en"]))
    assert {"STSBenchmark", "STSBenchmarkMultilingualSTS[en]", "STS17[en-en]", "SICK-R", "STS22.v2[en]"} <= en
    assert not any("-de" in label or "en-ar" in label for label in en)  # no cross-lingual subsets
    assert labels(T.catalog(["ron"])) == {"RonSTS"}
    es = labels(T.catalog(["es"]))
    assert {"STSBenchmarkMultilingualSTS[es]", "STSES", "STS17[es-es]", "STS22.v2[es]"} <= es
    assert "STS17[es-en]" not in es
    zh = T.catalog(["zh"])
    assert "STSBenchmarkMultilingualSTS[zh]" in labels(zh)
    assert all(t.languages == ["zh"] for t in zh)
    # A task mteb evaluates without a test split keeps its own split.
    assert {(t.label, t.split) for t in zh if t.name == "AFQMC"} == {("AFQMC", "validation")}


def test_catalog_names_unlock_cross_lingual():
    assert labels(T.catalog(names=["sts17"])) >= {"STS17[en-de]", "STS17[en-en]", "STS17[ko-ko]"}
    de = T.catalog(["de"], names=["STS17", "STS22.v2"])
    assert labels(de) == {
        "STS17[en-de]",
        "STS22.v2[de]",
        "STS22.v2[de-en]",
        "STS22.v2[de-fr]",
        "STS22.v2[de-pl]",
    }
    assert next(t for t in de if t.subset == "en-de").languages == ["en", "de"]
    assert labels(T.catalog(names=["STS22.v2[de-en]"])) == {"STS22.v2[de-en]"}
    with pytest.raises(TaskUnavailable, match=r"unknown STS task.*did you mean STS17"):
        T.catalog(names=["STS71"])
    with pytest.raises(TaskUnavailable, match="no subset xx"):
        T.catalog(names=["STS17[xx]"])


def test_catalog_splits_map_dev_and_validation():
    for ask in (["dev"], ["validation"]):
        got = {(t.label, t.split) for t in T.catalog(["de"], splits=ask)}
        assert got == {("STSBenchmarkMultilingualSTS[de]", "dev"), ("GermanSTSBenchmark", "validation")}
    both = T.catalog(["de"], splits=["test", "dev"], names=["GermanSTSBenchmark"])
    assert [t.split for t in both] == ["test", "validation"]  # in the order asked


def test_catalog_local_files_and_revisions(tmp_path, mteb_tasks):
    # Tiny files are not MTEB's data: they fail the statistics check and run under local names.
    data = tmp_path / "data"
    write(data / "stsb_multi_mt/stsb-de-test.csv", "A.,B.,1.0\r\n")
    write(data / "stsb_multi_mt/stsb-de-dev.csv", "A.,B.,2.0\r\n")
    aws = write(data / "german_stsbenchmark/aws/stsb_de_test.csv", "1.0\tA.\tB.\n")
    write(data / "german_stsbenchmark/deepl/stsb_de_test.csv", "1.0\tA.\tC.\n")
    tasks = {t.label: t for t in T.catalog(["de"], data_dir=data)}
    assert set(tasks) == {
        "STSBenchmarkMultilingualSTS-local[de]",
        "GermanSTSBenchmark-local",
        "GermanSTSBenchmark-deepl",
        "STS22.v2[de]",
    }
    german = tasks["GermanSTSBenchmark-local"]
    assert german.local_files == [str(aws.resolve())]
    assert german.revision == "local-" + hashlib.sha256(aws.read_bytes()).hexdigest()[:12]
    assert german.in_mteb is False and german.mteb_revision is None and german.hf_dataset is None
    assert "NOT MTEB's data: differs from mteb's GermanSTSBenchmark test: num_samples 1 vs mteb 1379" in (
        german.description
    )
    assert T.mteb_revision(german) is None
    assert T.load_pairs(german).sentence2 == ["B."]
    deepl = tasks["GermanSTSBenchmark-deepl"]
    assert deepl.in_mteb is False and deepl.hf_dataset is None and deepl.revision.startswith("local-")
    assert "NOT an MTEB task" in deepl.description
    assert deepl.revision != german.revision
    assert tasks["STS22.v2[de]"].local_files == []
    assert T.load_pairs(deepl).sentence2 == ["C."]
    # A "-local" name selects its task.
    named = T.catalog(names=["GermanSTSBenchmark-local"], data_dir=data)
    assert labels(named) == {"GermanSTSBenchmark-local"}
    # Without its file, the harness-local task is listed only when named.
    assert "GermanSTSBenchmark-deepl" not in labels(T.catalog(["de"]))
    assert labels(T.catalog(names=["GermanSTSBenchmark-deepl"])) == {"GermanSTSBenchmark-deepl"}
    with pytest.raises(DataError, match="data directory not found"):
        T.catalog(["de"], data_dir=tmp_path / "missing")


# ---------------------------------------------------------------- Hub fallback (monkeypatched)


@pytest.fixture
def fake_hub(monkeypatch):
    import datasets

    calls: list[dict] = []
    tables: dict[str, datasets.DatasetDict] = {}

    def load_dataset(*args, **kwargs):
        assert not args, "mteb-style calls pass keywords only"
        calls.append(kwargs)
        key = kwargs["path"] + (f"/{kwargs['name']}" if kwargs.get("name") else "")
        if key not in tables:
            raise ConnectionError(f"cannot reach the Hub for {key}")
        return tables[key]

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls, tables


def hub_task(name: str, subset: str = "default", split: str = "test") -> StsTask:
    [task] = [
        t for t in T.catalog(names=[f"{name}[{subset}]" if subset != "default" else name]) if t.split == split
    ]
    return task


def test_hub_fast_loading_filters_lang_and_renames(fake_hub, mteb_tasks):
    import datasets

    calls, tables = fake_hub
    rows = {
        "sentence1": ["A girl.", "Ein Mädchen.", "Un chico."],
        "sentence2": ["A boy.", "Ein Junge.", "Una chica."],
        "similarity_score": [1.0, 1.5, 2.0],
        "lang": ["en", "de", "es"],
    }
    tables["mteb/stsb_multi_mt"] = datasets.DatasetDict(
        {"test": datasets.Dataset.from_dict(rows), "dev": datasets.Dataset.from_dict(rows)}
    )
    pairs = T.load_pairs(hub_task("STSBenchmarkMultilingualSTS", "de"))
    assert pairs.sentence1 == ["Ein Mädchen."] and pairs.sentence2 == ["Ein Junge."]
    assert pairs.gold == [mteb_tasks["STSBenchmarkMultilingualSTS"]._normalize(1.5)]  # as mteb scores it
    meta = mteb_tasks["STSBenchmarkMultilingualSTS"].metadata
    assert calls == [{"path": meta.dataset["path"], "revision": meta.dataset["revision"]}]


def test_hub_monolingual_and_transform(fake_hub, mteb_tasks):
    import datasets

    calls, tables = fake_hub
    tables["mteb/RonSTS"] = datasets.DatasetDict(
        {
            "test": datasets.Dataset.from_dict(
                {"sentence1": ["O fată."], "sentence2": ["Un băiat."], "score": [0.5]}
            )
        }
    )
    assert T.load_pairs(hub_task("RonSTS")).gold == [0.1]  # 0.5 normalised by mteb's 0..5
    assert calls[-1] == {"path": "mteb/RonSTS", "revision": mteb_tasks["RonSTS"].metadata.dataset["revision"]}
    # SICKFr renames its columns in dataset_transform, as mteb does.
    tables["Lajavaness/SICK-fr"] = datasets.DatasetDict(
        {
            "test": datasets.Dataset.from_dict(
                {"Unnamed: 0": [0], "sentence_A": ["Un"], "sentence_B": ["Deux"], "relatedness_score": [4.0]}
            )
        }
    )
    pairs = T.load_pairs(hub_task("SICKFr"))
    assert (pairs.sentence1, pairs.sentence2, pairs.gold) == (["Un"], ["Deux"], [0.8])  # 4.0 on SICKFr's 0..5


def test_hub_multilingual_subset_is_config_name(fake_hub):
    import datasets

    calls, tables = fake_hub
    tables["mteb/SemRel24STS/afr"] = datasets.DatasetDict(
        {"test": datasets.Dataset.from_dict({"sentence1": ["Een"], "sentence2": ["Twee"], "score": [0.25]})}
    )
    assert T.load_pairs(hub_task("SemRel24STS", "afr")).gold == [0.25]
    assert calls[-1]["name"] == "afr"


def test_hub_failure_and_bad_hub_data(fake_hub):
    import datasets

    _calls, tables = fake_hub
    with pytest.raises(
        TaskUnavailable, match=r"no local file .*loading mteb/RonSTS from the Hub failed: ConnectionError"
    ):
        T.load_pairs(hub_task("RonSTS"))
    tables["mteb/RonSTS"] = datasets.DatasetDict(
        {"train": datasets.Dataset.from_dict({"sentence1": ["a"], "sentence2": ["b"], "score": [1.0]})}
    )
    with pytest.raises(TaskUnavailable, match="has no split 'test'"):
        T.load_pairs(hub_task("RonSTS"))
    tables["mteb/RonSTS"] = datasets.DatasetDict(
        {
            "test": datasets.Dataset.from_dict(
                {"sentence1": ["a", "c"], "sentence2": ["b", "d"], "score": [1.0, None]}
            )
        }
    )
    with pytest.raises(DataError, match=r"hf:mteb/RonSTS@\w+\[default\]/test:2: missing score"):
        T.load_pairs(hub_task("RonSTS"))


# ---------------------------------------------------------------- CLI


def test_tasks_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "200")
    data = tmp_path / "data"
    write(data / "ro_sts/RO-STS.test.tsv", "1.0\tA.\tB.\n")
    assert T.tasks_command("ro", data) == 0
    out = capsys.readouterr().out
    assert "RonSTS" in out and "cosine_spearman" in out and "local: ro_sts/RO-STS.test.tsv" in out
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert T.tasks_command("de", None) == 0
    out = capsys.readouterr().out
    assert "GermanSTSBenchmark" in out and "hub-only (offline: HF_HUB_OFFLINE is set)" in out
    assert T.tasks_command("xx", None) == 0  # an empty listing; the CLI refuses "xx" first (exit 2)
    assert T.tasks_command("de", tmp_path / "nowhere") == 2


# ---------------------------------------------------------------- the real shared data


@needs_real_data
def test_real_data_catalog_and_rows():
    tasks = {t.label: t for t in T.catalog(["de", "ro"], data_dir=REAL_DATA)}
    stsb = T.load_pairs(tasks["STSBenchmarkMultilingualSTS[de]"])
    assert len(stsb) == 1379
    assert tasks["GermanSTSBenchmark"].in_mteb  # MTEB's GermanSTSBenchmark is the AWS translation
    deepl = readers.load_pairs(tasks["GermanSTSBenchmark-deepl"])  # the files' own scores
    assert len(deepl) == 1379
    assert (deepl.gold[0], deepl.sentence1[0], deepl.sentence2[0]) == (
        2.5,
        "Ein Mädchen frisiert ihr Haar.",
        "Ein Mädchen bürstet sich die Haare.",
    )
    assert (deepl.gold[1], deepl.sentence1[1], deepl.sentence2[1]) == (
        3.6,
        "Eine Gruppe von Männern spielt am Strand Fußball.",
        "Eine Gruppe von Jungen spielt am Strand Fußball.",
    )
    aws = readers.load_pairs(tasks["GermanSTSBenchmark"])
    assert (aws.gold[0], aws.sentence1[0], aws.sentence2[0]) == (
        2.5,
        "Ein Mädchen stylt ihr Haar.",
        "Ein Mädchen putzt sich die Haare.",
    )
    ro = T.load_pairs(tasks["RonSTS"])
    assert len(ro) == 1379
    assert (ro.sentence1[0], ro.sentence2[0]) == ("O fată își aranjează părul.", "O fată se piaptănă.")
    assert stsb.gold == ro.gold == [g / 5 for g in deepl.gold]  # same rows and scores, normalised
    # Unquoted reading keeps the fields that start with a quote (9 in RO-STS test).
    assert sum(s.startswith('"') for s in ro.sentence1 + ro.sentence2) == 9


@needs_real_data
@pytest.mark.parametrize(
    ("pattern", "fmt"),
    [
        ("stsb_multi_mt/stsb-*-*.csv", "stsb-csv"),
        ("german_stsbenchmark/*/stsb_de_*.csv", "score-first-tsv"),
        ("ro_sts/RO-STS.*.tsv", "score-first-tsv"),
    ],
)
def test_real_data_every_file_parses(pattern, fmt):
    expected = {"train": 5749, "dev": 1500, "test": 1379}
    files = sorted(REAL_DATA.glob(pattern))
    assert files
    for path in files:
        split = next(s for s in expected if s in path.name)
        pairs, _ = T.read_file(path, fmt)
        assert len(pairs) == expected[split], path


def test_pairs_path_that_is_a_folder_or_fifo_is_named_as_such(tmp_path):
    import os

    fifo = tmp_path / "pairs.tsv"
    os.mkfifo(fifo)
    for path in (tmp_path, fifo):
        with pytest.raises(T.DataError, match=r"not a regular file \(a folder, FIFO or device\); not read$"):
            T.pairs_task(path)
    with pytest.raises(T.DataError, match=r"file not found$"):
        T.pairs_task(tmp_path / "missing.tsv")


def test_tasks_for_a_language_without_sts_tasks_is_one_harness_line(capsys: pytest.CaptureFixture[str]):
    from harness import cli

    assert cli.main(["tasks", "--lang", "tlh"]) == 0  # Klingon: a language, no STS task (an empty list)
    # was "harness tasks: ..."
    assert capsys.readouterr().err.strip() == "harness: no STS tasks for language 'tlh'"
