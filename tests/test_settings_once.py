"""Issue 24, tier 7: every setting is resolved once (option > environment > file > default) and passed down.

Each command test builds three complete, conflicting "worlds" (a data folder, registry, models
folder, results, cache, reports and published-results folder, a dtype, a batch size and an
executor): one named by the options, one by ``HARNESS_*`` variables and one by a harness.toml. It
runs the real command and checks that everything used came from the documented winner and nothing
from the others (a loser's model folders are broken, its executor is ``ray`` and its published
results folder is a file, so using any of them fails the command). The last tests pin the rule
itself: no module but harness/config.py reads a ``HARNESS_*`` variable, and the library functions
that used to read them again no longer do.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from fixtures.project import write_german_csv
from fixtures.workspace import write_entry, write_pairs

from harness import cli, store
from harness.encode import EmbeddingCache, default_cache_dir
from harness.registry import default_registry
from harness.run import distributed
from harness.run.plan import RunOptions, select_tasks
from harness.tasks import local_revision

HARNESS = Path(__file__).resolve().parent.parent / "harness"
WORLDS = ("option", "env", "file")
DTYPES = {"option": "fp32", "env": "fp16", "file": "bf16"}  # each a different request
BATCH = {"option": 5, "env": 7, "file": 3}
GERMAN_FILE = Path("stsb_multi_mt/stsb-de-test.csv")
FILE_KEYS = {
    "data_dir": "data",
    "registry": "registry",
    "models_dirs": "models",
    "results": "results",
    "cache_dir": "cache",
    "reports": "reports",
    "mteb_results": "mteb",
}
ENV_VARS = {
    "data_dir": "HARNESS_DATA_DIR",
    "registry": "HARNESS_REGISTRY",
    "models_dirs": "HARNESS_MODELS_DIR",
    "results": "HARNESS_RESULTS_DIR",
    "cache_dir": "HARNESS_CACHE_DIR",
    "reports": "HARNESS_REPORTS_DIR",
    "mteb_results": "HARNESS_MTEB_RESULTS",
}
OPTIONS = {
    "data_dir": "--data-dir",
    "registry": "--registry",
    "models_dirs": "--models-dir",
    "results": "--results",
    "cache_dir": "--cache-dir",
    "reports": "--out",
    "mteb_results": "--mteb-results",
}


def key_of(world: str) -> str:
    return f"org__{world}-de"


def build_world(root: Path, world: str, winner: str, model_dir: Path) -> Path:
    """One complete set of folders; only the winner's can be used without failing."""
    base = root / world
    write_german_csv(base / "data" / GERMAN_FILE, seed=WORLDS.index(world) + 10)  # its own revision
    write_entry(base / "registry", key_of(world), f"org/{world}-de", None, lang="de")
    for other in WORLDS:  # the model of every world's key; the right one only under its own world
        folder = base / "models" / key_of(other)
        if other == world:
            folder.parent.mkdir(parents=True, exist_ok=True)
            folder.symlink_to(model_dir, target_is_directory=True)
        else:
            folder.mkdir(parents=True)
            (folder / "config.json").write_text("{}", encoding="utf-8")  # not a model
    if world == winner:
        (base / "mteb" / "results").mkdir(parents=True)  # a published-results folder (empty)
    else:
        (base / "mteb").write_text("a file, not a folder", encoding="utf-8")
    return base


@pytest.fixture
def worlds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_bert_dir: Path, request: Any) -> Any:
    """(winner, {world: folder}, argv of the winner's options). The winner is the test's parameter;
    every world above it in the order is left unset."""
    winner = request.param
    present = WORLDS[WORLDS.index(winner) :]
    bases = {world: build_world(tmp_path, world, winner, tiny_bert_dir) for world in present}
    for var in (*ENV_VARS.values(), "HARNESS_DTYPE", "HARNESS_BATCH_SIZE", "HARNESS_EXECUTOR"):
        monkeypatch.delenv(var, raising=False)
    executor = {world: "local" if world == winner else "ray" for world in present}
    toml = tmp_path / "file" / "harness.toml"
    lines = [f'{key} = "{folder}"' for key, folder in FILE_KEYS.items()]
    lines += [
        f'dtype = "{DTYPES["file"]}"',
        f"batch_size = {BATCH['file']}",
        f'executor = "{executor["file"]}"',
    ]
    toml.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("HARNESS_CONFIG", str(toml))
    if "env" in bases:
        for key, var in ENV_VARS.items():
            monkeypatch.setenv(var, str(bases["env"] / FILE_KEYS[key]))
        monkeypatch.setenv("HARNESS_DTYPE", DTYPES["env"])
        monkeypatch.setenv("HARNESS_BATCH_SIZE", str(BATCH["env"]))
        monkeypatch.setenv("HARNESS_EXECUTOR", executor["env"])
    options: dict[str, list[str]] = {}
    if winner == "option":
        options = {key: [flag, str(bases["option"] / FILE_KEYS[key])] for key, flag in OPTIONS.items()}
        options["dtype"] = ["--dtype", DTYPES["option"]]
        options["batch_size"] = ["--batch-size", str(BATCH["option"])]
        options["executor"] = ["--executor", "local"]

    def never_ray(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a losing executor setting (ray) was used")

    monkeypatch.setattr(distributed, "probe_cluster", never_ray)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "250")
    return winner, bases, options


def argv(options: dict[str, list[str]], *keys: str) -> list[str]:
    return [part for key in keys for part in options.get(key, [])]


def losers(winner: str, bases: dict[str, Path]) -> list[Path]:
    return [base for world, base in bases.items() if world != winner]


@pytest.mark.parametrize("worlds", WORLDS, indirect=True)
def test_run_uses_the_winners_data_registry_models_results_cache_dtype_batch_size_and_executor(
    worlds: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    winner, bases, options = worlds
    keys = ("data_dir", "registry", "models_dirs", "results", "cache_dir", "dtype", "batch_size", "executor")
    rc = cli.main(["run", "--lang", "de", "--bootstrap", "100", *argv(options, *keys)])
    err = capsys.readouterr().err
    assert rc == 0, err
    home = bases[winner]
    results = store.load_results(home / "results")
    assert [(r.model_key, r.run.status) for r in results] == [(key_of(winner), "ok")]  # its registry, models
    record = results[0].run
    assert record.data_revision == local_revision(home / "data" / GERMAN_FILE)  # its data
    assert record.encode is not None and record.encode.batch_size == BATCH[winner]
    requested = {dtype for dtype in ("fp16", "bf16") if f"dtype {dtype} requested on cpu" in caplog.text}
    assert requested == ({DTYPES[winner]} - {"fp32"})  # its dtype (half precision falls back on a CPU)
    with EmbeddingCache(default_cache_dir(home / "cache")) as cache:  # its cache holds the vectors
        assert cache.path.is_file()
    for base in losers(winner, bases):
        assert not (base / "results").exists() and not (base / "cache").exists()


@pytest.fixture(scope="module")
def stored_results(tmp_path_factory: pytest.TempPathFactory, tiny_bert_dir: Path) -> Path:
    """A results folder holding one model's result (a pairs-file run), for the report tests."""
    from harness import run as runner

    root = tmp_path_factory.mktemp("stored")
    write_entry(root / "registry", "org__stored", "org/stored", tiny_bert_dir, lang="en")
    options = RunOptions(
        languages=["en"],
        results_dir=root / "results",
        registry_dir=root / "registry",
        pairs_files=[write_pairs(root / "pairs.tsv")],
        cache_dir=root / "cache",
        bootstrap_resamples=100,
        allow_hub=False,
    )
    assert not runner.run(options, say=lambda line: None).failed
    return root / "results"


@pytest.mark.parametrize("worlds", WORLDS, indirect=True)
def test_report_reads_the_winners_results_and_published_scores_and_writes_its_reports(
    worlds: Any, stored_results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    winner, bases, options = worlds
    shutil.copytree(stored_results, bases[winner] / "results")
    rc = cli.main(["report", *argv(options, "results", "reports", "mteb_results")])
    err = capsys.readouterr().err
    assert rc == 0, err
    # the winner's results (the language page: the index names a best model only, and a tiny random
    # model's output is degenerate, so it names none)
    page = (bases[winner] / "reports" / "en.md").read_text(encoding="utf-8")
    assert "org/stored" in page
    for base in losers(winner, bases):
        assert not (base / "reports").exists()


@pytest.mark.parametrize("worlds", WORLDS, indirect=True)
def test_tasks_lists_the_winners_data_folder(worlds: Any, capsys: pytest.CaptureFixture[str]) -> None:
    winner, bases, options = worlds
    assert cli.main(["tasks", "--lang", "de", *argv(options, "data_dir")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"data dir: {bases[winner] / 'data'}" in out
    for base in losers(winner, bases):
        assert str(base / "data") not in out


@pytest.mark.parametrize("worlds", WORLDS, indirect=True)
def test_models_lists_the_winners_registry(worlds: Any, capsys: pytest.CaptureFixture[str]) -> None:
    winner, bases, options = worlds
    assert cli.main(["models", "--lang", "de", *argv(options, "registry")]) == 0
    out = capsys.readouterr().out
    assert key_of(winner) in out
    assert [world for world in bases if world != winner and key_of(world) in out] == []


# ---------------------------------------------------------------- nothing below the command line re-reads


def test_a_run_given_no_data_folder_reads_none_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    write_german_csv(data / GERMAN_FILE)
    monkeypatch.setenv("HARNESS_DATA_DIR", str(data))  # the command line would have resolved it
    options = RunOptions(languages=["de"], results_dir=tmp_path / "r", registry_dir=tmp_path, data_dir=None)
    assert [t.local_files for t in select_tasks(options) if t.local_files] == []
    given = RunOptions(languages=["de"], results_dir=tmp_path / "r", registry_dir=tmp_path, data_dir=data)
    assert [t.local_files for t in select_tasks(given) if t.local_files] == [[str(data / GERMAN_FILE)]]


def test_cache_and_registry_defaults_read_no_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "env-cache"))
    monkeypatch.setenv("HARNESS_REGISTRY", str(tmp_path / "env-registry"))
    assert default_cache_dir(tmp_path / "mine") == tmp_path / "mine" / "embeddings"
    assert not default_cache_dir(None).is_relative_to(tmp_path / "env-cache")
    assert default_registry() == HARNESS.parent / "registry"


def test_ray_workers_get_the_resolved_settings_not_the_variables() -> None:
    env = {"HARNESS_DATA_DIR": "/d", "HARNESS_DTYPE": "fp16", "HARNESS_CACHE_DIR": "/c", "HF_HOME": "/h"}
    assert distributed.worker_env(env) == {"HF_HOME": "/h", "TQDM_DISABLE": "1"}


# ---------------------------------------------------------------- the rule, in the code


def harness_variable(node: ast.AST) -> str | None:
    """A string constant that is (or starts the name of) a HARNESS_* variable."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if re.fullmatch(r"HARNESS_[A-Z0-9_]*", node.value) else None
    return None


def reads_environment(node: ast.AST) -> bool:
    """``os.environ``, ``os.getenv``, ``os.environb`` or a bare ``environ``/``getenv`` name."""
    if isinstance(node, ast.Attribute) and node.attr in {"environ", "environb", "getenv"}:
        return True
    return isinstance(node, ast.Name) and node.id in {"environ", "getenv"}


# Modules that read the environment for variables that are not the harness's settings.
LIBRARY_VARIABLES = {
    "harness/config.py": "the HARNESS_* settings themselves, resolved once",
    "harness/tasks/hub.py": "the Hub library's own HF_HUB_OFFLINE / HF_DATASETS_OFFLINE / HF_ENDPOINT",
    "harness/run/distributed.py": "Ray's RAY_ADDRESS, and the libraries' variables forwarded to workers",
    "harness/stderr.py": "switches off the libraries' progress bars through their own variables",
}


def test_no_module_but_config_reads_a_harness_variable() -> None:
    names, readers = [], []
    for path in sorted(HARNESS.rglob("*.py")):
        rel = path.relative_to(HARNESS.parent).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if rel != "harness/config.py" and (name := harness_variable(node)):
                names.append(f"{rel}:{node.lineno}: {name}")
            if reads_environment(node) and rel not in LIBRARY_VARIABLES:
                readers.append(f"{rel}:{node.lineno}")
    assert names == [], "a HARNESS_* variable named outside harness/config.py (resolve it there)"
    assert readers == [], "a module reads the environment (settings come from harness/config.py)"


def test_the_check_finds_a_variable_read_again() -> None:
    tree = ast.parse('import os\nroot = os.environ.get("HARNESS_CACHE_DIR") or os.getenv("HARNESS_")\n')
    assert sorted(n.value for n in ast.walk(tree) if harness_variable(n)) == ["HARNESS_", "HARNESS_CACHE_DIR"]
    assert sum(reads_environment(n) for n in ast.walk(tree)) == 2
    assert harness_variable(ast.Constant("__HARNESS_CSP__")) is None
    assert harness_variable(ast.Constant("Results folder (env HARNESS_RESULTS_DIR).")) is None


# ---------------------------------------------------------------- ``~`` in an option: expanded once


def test_a_home_folder_in_an_option_is_expanded_once_so_the_folder_checked_is_the_folder_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_bert_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    write_german_csv(home / "data" / GERMAN_FILE)
    work.mkdir()
    (work / "~").write_text("a file named ~ in the working folder", encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    # no shell expands ~ after "=": the option arrives as "~/data"
    assert cli.main(["tasks", "--lang", "de", "--data-dir=~/data"]) == 0
    assert f"data dir: {home / 'data'}" in " ".join(capsys.readouterr().out.split())
    pairs = write_pairs(tmp_path / "pairs.tsv")
    rc = cli.main(["score", str(tiny_bert_dir), str(pairs), "--json", "--cache-dir=~/cache"])
    assert rc == 0, capsys.readouterr().err
    assert (home / "cache" / "embeddings" / EmbeddingCache.FILENAME).is_file()
    rc = cli.main(["tasks", "--data-dir=~nosuchuser-r5/x"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("harness: --data-dir: '~nosuchuser-r5/x': ~nosuchuser-r5 names no user")
