"""`harness info`: the resolved configuration with sources, device and dtype, models and data per language."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.project import MODEL_KEY, TASK, make_project

from harness import cli


@pytest.fixture
def project(tmp_path: Path, tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("HARNESS_CONFIG")
    monkeypatch.delenv("HARNESS_CACHE_DIR")
    root = make_project(tmp_path / "proj", tiny_bert_dir)
    monkeypatch.chdir(root / "sub")
    return root


def info_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    rc = cli.main(["info", "--json", *args])
    return rc, json.loads(capsys.readouterr().out)


def test_info_json_reports_values_sources_device_models_and_data(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_DTYPE", "fp16")
    rc, info = info_json(capsys)
    assert rc == 0
    config = info["config"]
    assert config["file"] == str(project / "harness.toml")
    assert config["file_origin"] == f"found from {project / 'sub'}"
    settings = config["settings"]
    assert settings["data_dir"] == {
        "value": str(project / "data"),
        "source": "file",
        "origin": str(project / "harness.toml"),
    }
    assert settings["models_dirs"]["value"] == [str(project / "models"), str(project / "more-models")]
    assert settings["batch_size"]["value"] == 16
    assert settings["dtype"] == {"value": "fp16", "source": "env", "origin": "HARNESS_DTYPE"}
    assert settings["executor"] == {"value": "local", "source": "default", "origin": "built-in"}
    assert settings["cache_dir"]["value"] is None

    run = info["run"]
    assert run["device"] == "cpu"  # the test machine; fp16 is GPU-only, so a run would use fp32
    assert (run["dtype"], run["dtype_requested"]) == ("fp32", "fp16")
    assert run["hub"] == "not usable: HF_HUB_OFFLINE is set"
    assert run["cache"].endswith("embeddings")

    german = info["languages"]["de"]
    assert german["models"] == [MODEL_KEY]
    # the one file in the project's data folder (not MTEB's copy, so the task is named as local)
    assert len(german["local"]) == 1 and german["local"][0].startswith(TASK)
    assert german["hub"] == []  # offline: nothing comes from the Hub
    assert german["none"] and not any(label.startswith(TASK) for label in german["none"])
    assert info["languages"]["en"]["models"] == ["org__tiny-en"]
    assert info["languages"]["en"]["local"] == []
    assert info["registry"] == {"models": 2, "with_errors": [], "multilingual": []}
    # a configured models folder that does not exist yet is a note, not a failure
    assert info["notes"] == [f"models_dirs: {project / 'more-models'}: no such folder (yet)"]
    assert info["problems"] == []


def test_info_options_override_and_missing_data_folder_is_a_problem(
    project: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "elsewhere"))
    other = tmp_path / "other.toml"
    other.write_text('executor = "ray"\n', encoding="utf-8")
    rc, info = info_json(capsys, "--config", str(other))
    assert rc == 1
    settings = info["config"]["settings"]
    assert settings["executor"]["source"] == "file" and settings["executor"]["value"] == "ray"
    assert settings["models_dirs"]["source"] == "default"  # the project file is not read
    assert info["problems"] == [f"HARNESS_DATA_DIR: {tmp_path / 'elsewhere'}: no such folder"]
    # without a data folder every task is listed, none of them local
    assert info["languages"]["de"]["local"] == []


def test_info_text_fits_one_screen(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"configuration: {project / 'harness.toml'}" in out
    assert "a run gets: device cpu, dtype fp32 (requested auto)" in out
    assert MODEL_KEY in out and "more language(s) with STS tasks" in out
    assert len(out.splitlines()) <= 40
