"""harness.config: finding the file, precedence, relative paths, and one-line errors."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pydantic
import pytest

from harness import cli, config
from harness.config import ConfigError, resolve

NO_ENV: dict[str, str] = {}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- finding the file


def test_harness_toml_in_a_parent_folder_is_found(tmp_path: Path) -> None:
    file = write(tmp_path / "harness.toml", 'data_dir = "data"\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    cfg = resolve(cwd=sub, environ=NO_ENV)
    assert cfg.file == file
    assert cfg.data_dir.value == tmp_path / "data"  # relative to the file, not to the working folder
    assert (cfg.data_dir.source, cfg.data_dir.origin) == ("file", str(file))


def test_pyproject_counts_only_with_a_tool_harness_table(tmp_path: Path) -> None:
    outer = write(tmp_path / "pyproject.toml", '[tool.harness]\nresults = "out"\n')
    inner = tmp_path / "pkg"
    write(inner / "pyproject.toml", '[project]\nname = "other"\n[tool.ruff]\nline-length = 100\n')
    cfg = resolve(cwd=inner, environ=NO_ENV)
    assert cfg.file == outer  # the nearer pyproject has no [tool.harness]: the search goes on
    assert cfg.results.value == tmp_path / "out"


def test_harness_toml_wins_over_pyproject_in_the_same_folder_and_nearest_wins(tmp_path: Path) -> None:
    write(tmp_path / "harness.toml", 'dtype = "fp16"\n')
    near = write(tmp_path / "sub" / "pyproject.toml", '[tool.harness]\ndtype = "bf16"\n')
    near_toml = write(tmp_path / "sub" / "harness.toml", 'dtype = "fp32"\n')
    assert resolve(cwd=tmp_path / "sub", environ=NO_ENV).file == near_toml
    near_toml.unlink()
    cfg = resolve(cwd=tmp_path / "sub", environ=NO_ENV)
    assert (cfg.file, cfg.dtype.value) == (near, "bf16")


def test_no_file_means_built_in_defaults(tmp_path: Path) -> None:
    cfg = resolve(cwd=tmp_path, environ=NO_ENV, config_file="none")
    assert cfg.file is None
    assert {k: s.source for k, s in cfg.settings().items()} == dict.fromkeys(config.KEYS, "default")
    assert cfg.results.value == Path("results") and cfg.dtype.value == "auto"
    assert cfg.registry.value == Path(config.__file__).resolve().parent.parent / "registry"


def test_config_option_and_env_name_the_file_and_none_switches_it_off(tmp_path: Path) -> None:
    write(tmp_path / "harness.toml", "batch_size = 8\n")
    other = write(tmp_path / "conf" / "other.toml", "batch_size = 16\n")
    by_option = resolve(cwd=tmp_path, environ=NO_ENV, config_file=Path("conf/other.toml"))
    assert (by_option.file, by_option.file_origin, by_option.batch_size.value) == (other, "--config", 16)
    by_env = resolve(cwd=tmp_path, environ={"HARNESS_CONFIG": str(other)})
    assert (by_env.file_origin, by_env.batch_size.value) == ("HARNESS_CONFIG", 16)
    off = resolve(cwd=tmp_path, environ={"HARNESS_CONFIG": "NONE"})
    assert off.file is None and off.batch_size.source == "default"
    # the option wins over the variable
    assert resolve(cwd=tmp_path, environ={"HARNESS_CONFIG": "none"}, config_file=other).file == other


def test_config_option_can_name_a_pyproject(tmp_path: Path) -> None:
    py = write(tmp_path / "x" / "pyproject.toml", '[tool.harness]\nmodels_dirs = "m"\n')
    cfg = resolve(cwd=tmp_path, environ=NO_ENV, config_file=py)
    assert cfg.models_dirs.value == (tmp_path / "x" / "m",)  # one path is a list of one


# ---------------------------------------------------------------- precedence


ENV_VALUES = {
    "data_dir": ("HARNESS_DATA_DIR", "/env/data", Path("/env/data")),
    "models_dirs": ("HARNESS_MODELS_DIR", f"/env/m1{os.pathsep}/env/m2", (Path("/env/m1"), Path("/env/m2"))),
    "registry": ("HARNESS_REGISTRY", "/env/reg", Path("/env/reg")),
    "results": ("HARNESS_RESULTS_DIR", "/env/res", Path("/env/res")),
    "reports": ("HARNESS_REPORTS_DIR", "/env/rep", Path("/env/rep")),
    "cache_dir": ("HARNESS_CACHE_DIR", "/env/cache", Path("/env/cache")),
    "dtype": ("HARNESS_DTYPE", "FP16", "fp16"),
    "batch_size": ("HARNESS_BATCH_SIZE", " 64 ", 64),
    "executor": ("HARNESS_EXECUTOR", "ray", "ray"),
    "mteb_results": ("HARNESS_MTEB_RESULTS", "/env/mteb", Path("/env/mteb")),
}
FILE_TEXT = """
data_dir = "fdata"
models_dirs = ["fm"]
registry = "freg"
results = "fres"
reports = "frep"
cache_dir = "fcache"
dtype = "bf16"
batch_size = 32
executor = "local"
mteb_results = "fmteb"
"""
OPTIONS = {
    "data_dir": (Path("/opt/data"), Path("/opt/data")),
    "models_dirs": ([Path("/opt/m")], (Path("/opt/m"),)),
    "registry": (Path("/opt/reg"), Path("/opt/reg")),
    "results": (Path("/opt/res"), Path("/opt/res")),
    "reports": (Path("/opt/rep"), Path("/opt/rep")),
    "cache_dir": (Path("/opt/cache"), Path("/opt/cache")),
    "dtype": ("fp32", "fp32"),
    "batch_size": ("7", 7),
    "executor": ("ray", "ray"),
    "mteb_results": (Path("/opt/mteb"), Path("/opt/mteb")),
}


@pytest.mark.parametrize("key", list(config.KEYS))
def test_option_beats_env_beats_file_beats_default(tmp_path: Path, key: str) -> None:
    file = write(tmp_path / "harness.toml", FILE_TEXT)
    var, env_text, env_value = ENV_VALUES[key]
    option, option_value = OPTIONS[key]
    assert var == config.KEYS[key].env

    from_file = getattr(resolve(cwd=tmp_path, environ=NO_ENV), key)
    assert from_file.source == "file" and from_file.origin == str(file)
    file_value = from_file.value
    if config.KEYS[key].is_path:  # relative to the file's folder
        paths = file_value if isinstance(file_value, tuple) else (file_value,)
        assert all(p.parent == tmp_path for p in paths)

    from_env = getattr(resolve(cwd=tmp_path, environ={var: env_text}), key)
    assert (from_env.value, from_env.source, from_env.origin) == (env_value, "env", var)

    from_option = getattr(resolve({key: option}, cwd=tmp_path, environ={var: env_text}), key)
    assert (from_option.value, from_option.source) == (option_value, "option")
    assert from_option.origin == config.KEYS[key].option

    file.unlink()
    assert getattr(resolve(cwd=tmp_path, environ=NO_ENV), key).source == "default"


def test_empty_option_or_variable_does_not_override(tmp_path: Path) -> None:
    write(tmp_path / "harness.toml", 'models_dirs = ["a", "b"]\ndata_dir = "d"\n')
    cfg = resolve({"models_dirs": [], "data_dir": None}, cwd=tmp_path, environ={"HARNESS_DATA_DIR": "  "})
    assert cfg.models_dirs.value == (tmp_path / "a", tmp_path / "b")
    assert cfg.data_dir.source == "file"


def test_relative_paths_in_env_and_options_stay_relative_to_the_working_folder(tmp_path: Path) -> None:
    write(tmp_path / "harness.toml", 'results = "r"\n')
    sub = tmp_path / "sub"
    sub.mkdir()
    cfg = resolve({"reports": Path("rep")}, cwd=sub, environ={"HARNESS_RESULTS_DIR": "res"})
    assert cfg.results.value == Path("res") and cfg.reports.value == Path("rep")


def test_file_paths_expand_home_and_normalise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write(tmp_path / "proj" / "harness.toml", 'data_dir = "~/sts"\nresults = "../shared/../out"\n')
    cfg = resolve(cwd=tmp_path / "proj", environ=NO_ENV)
    assert cfg.data_dir.value == tmp_path / "home" / "sts"
    assert cfg.results.value == tmp_path / "out"


def test_config_is_frozen(tmp_path: Path) -> None:
    cfg = resolve(cwd=tmp_path, environ=NO_ENV, config_file="none")
    with pytest.raises(pydantic.ValidationError):
        cfg.dtype = cfg.batch_size  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        cfg.dtype.value = "fp16"  # type: ignore[misc]


# ---------------------------------------------------------------- errors: one line, file and key


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("data_dir = ../data\n", "data_dir", "invalid TOML at line 1"),
        ('results = "a"\nresults = "b"\n', "results", "invalid TOML at line 2"),
        ('datadir = "x"\n', "datadir", "unknown key; did you mean data_dir?"),
        ("colour = 3\n", "colour", "unknown key; known keys: data_dir"),
        ("batch_size = 0\n", "batch_size", "must be auto or a positive whole number, not 0"),
        ("batch_size = true\n", "batch_size", "not True"),
        ('batch_size = "²"\n', "batch_size", "not '²'"),
        ("batch_size = 2.5\n", "batch_size", "not 2.5"),
        ('dtype = "float16"\n', "dtype", "must be auto, fp32, fp16 or bf16, not 'float16'"),
        ('executor = "dask"\n', "executor", "must be local or ray"),
        ("models_dirs = [1, 2]\n", "models_dirs", "must be a path or a list of paths"),
        ("registry = 5\n", "registry", "must be a path, not 5"),
        ('cache_dir = ""\n', "cache_dir", "must be a path, not ''"),
        ("[data_dir]\nx = 1\n", "data_dir", "must be a path"),
    ],
)
def test_malformed_file_is_one_line_naming_file_and_key(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    file = write(tmp_path / "harness.toml", text)
    with pytest.raises(ConfigError) as err:
        resolve(cwd=tmp_path, environ=NO_ENV)
    message = str(err.value)
    assert message.startswith(f"{file}: {key}: ")
    assert problem in message
    assert "\n" not in message


def test_unreadable_config_files(tmp_path: Path) -> None:
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * config.MAX_CONFIG_BYTES + b"\n")
    latin = tmp_path / "latin.toml"
    latin.write_bytes('results = "d\xe9j\xe0"\n'.encode("latin-1"))
    no_table = write(tmp_path / "p" / "pyproject.toml", "[tool.ruff]\n")
    for path, problem in [
        (folder, "not a regular file"),
        (big, "larger than"),
        (latin, "not UTF-8"),
        (no_table, "tool.harness: no [tool.harness] table"),
        (tmp_path / "missing.toml", "config file not found (--config)"),
    ]:
        with pytest.raises(ConfigError, match="^" + re.escape(str(path))) as err:
            resolve(cwd=tmp_path, environ=NO_ENV, config_file=path)
        assert problem in str(err.value)


def test_bad_environment_and_option_values_name_the_variable_and_option(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^HARNESS_BATCH_SIZE: must be auto or a positive whole number"):
        resolve(cwd=tmp_path, environ={"HARNESS_BATCH_SIZE": "-3"}, config_file="none")
    with pytest.raises(ConfigError, match=r"^--executor: must be local or ray, not 'Ray!'"):
        resolve({"executor": "Ray!"}, cwd=tmp_path, environ=NO_ENV, config_file="none")
    # the user's own typing is reported first, even when the file is broken too
    write(tmp_path / "harness.toml", "[[[\n")
    with pytest.raises(ConfigError, match=r"^--dtype: "):
        resolve({"dtype": "half"}, cwd=tmp_path, environ=NO_ENV)


def test_a_configured_folder_that_is_missing_names_file_and_key(tmp_path: Path) -> None:
    file = write(tmp_path / "harness.toml", 'data_dir = "nowhere"\n')
    cfg = resolve(cwd=tmp_path, environ=NO_ENV)
    with pytest.raises(ConfigError) as err:
        cfg.existing_dir("data_dir")
    assert str(err.value) == f"{file}: data_dir: {tmp_path / 'nowhere'}: no such folder"
    by_env = resolve(cwd=tmp_path, environ={"HARNESS_DATA_DIR": str(tmp_path / "gone")})
    with pytest.raises(ConfigError, match=r"^HARNESS_DATA_DIR: "):
        by_env.existing_dir("data_dir")
    assert cfg.existing_dir("cache_dir") is None  # unset is not an error


# ---------------------------------------------------------------- through the command line


@pytest.mark.parametrize("command", [["run", "--lang", "de"], ["report"], ["info"], ["models"], ["tasks"]])
def test_cli_reports_a_malformed_file_in_one_line_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    monkeypatch.delenv("HARNESS_CONFIG")
    file = write(tmp_path / "harness.toml", 'results = "r"\nbatch_size = "lots"\n')
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert cli.main(command) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"harness: {file}: batch_size: must be auto or a positive whole number, not 'lots'"


def test_cli_config_option_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.toml"
    assert cli.main(["report", "--config", str(missing)]) == 2
    assert capsys.readouterr().err.strip() == f"harness: {missing}: config file not found (--config)"


# ---------------------------------------------------------------- a configured checkout, end to end


def test_configured_project_runs_as_written_from_a_subfolder(
    tmp_path: Path, tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `make demo` leaves: `run --lang de` and `report` with no folder options at all."""
    from fixtures.project import MODEL_KEY, make_project

    from harness import store

    monkeypatch.delenv("HARNESS_CONFIG")
    root = make_project(tmp_path / "proj", tiny_bert_dir)
    monkeypatch.chdir(root / "sub")
    assert cli.main(["run", "--lang", "de", "--bootstrap", "100"]) == 0
    assert f"{MODEL_KEY}: ok" in capsys.readouterr().out
    (result,) = store.load_results(root / "results")  # the file's results folder, not ./results
    assert result.run.status == "ok" and result.run.settings.dtype == "fp32"
    assert not (root / "sub" / "results").exists()

    # again: everything is stored, so nothing is recomputed and the run succeeds
    assert cli.main(["run", "--lang", "de", "--bootstrap", "100"]) == 0
    assert f"{MODEL_KEY}: ok (all 1 task(s) already stored" in capsys.readouterr().out

    assert cli.main(["report"]) == 0
    assert (root / "reports" / "de.html").is_file() and (root / "reports" / "index.html").is_file()


def test_a_byte_order_mark_is_not_toml(tmp_path: Path) -> None:
    """Windows editors start a UTF-8 file with a BOM: it read as `Invalid statement (at line 1)`."""
    file = tmp_path / "harness.toml"
    file.write_bytes(b"\xef\xbb\xbfbatch_size = 8\n")
    cfg = resolve(cwd=tmp_path, environ=NO_ENV)
    assert cfg.batch_size.value == 8 and (cfg.batch_size.source, cfg.batch_size.origin) == ("file", str(file))


def test_a_nul_character_in_a_configured_path_is_one_line(tmp_path: Path) -> None:
    """`cache_dir = "a\\u0000b"` ended in `harness: error: ValueError: embedded null byte`."""
    file = tmp_path / "harness.toml"
    file.write_text('cache_dir = "a\\u0000b"\nmodels_dirs = ["m\\u0000"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        resolve(cwd=tmp_path, environ=NO_ENV)
    assert str(caught.value).startswith(f"{file}: ") and "must be a path" in str(caught.value)
