"""Security: no remote code unless asked, no pickle, nothing escapes the results and reports
folders, everything in HTML escaped. See docs/reliability.md."""

from __future__ import annotations

import ast
import inspect
import os
import pickle
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from fixtures.tiny_models import make_remote_code_model
from fixtures.workspace import one_torch_thread, write_entry, write_pairs

from harness import cli, store
from harness import run as runner
from harness.registry import load_registry

HARNESS = Path(__file__).resolve().parent.parent / "harness"
SAFE_PART = re.compile(r"^[A-Za-z0-9._-]+$")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    yield from one_torch_thread()


@pytest.fixture
def ws(tmp_path: Path, tiny_bert_dir: Path) -> dict:
    registry = tmp_path / "registry"
    write_entry(registry, "org__bert", "org/bert", tiny_bert_dir)
    return {
        "root": tmp_path,
        "registry": registry,
        "results": tmp_path / "results",
        "reports": tmp_path / "reports",
        "cache": tmp_path / "cache",
        "pairs": write_pairs(tmp_path / "pairs" / "good.tsv"),
    }


def options(ws: dict, **overrides: Any) -> runner.RunOptions:
    base: dict[str, Any] = dict(
        languages=[],
        results_dir=ws["results"],
        registry_dir=ws["registry"],
        model_names=["org__bert"],
        pairs_files=[ws["pairs"]],
        cache_dir=ws["cache"],
        bootstrap_resamples=50,
        allow_hub=False,
    )
    base.update(overrides)
    return runner.RunOptions(**base)


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


# ------------------------------------------------------------------------------------------
# remote code, pickle


def test_remote_code_is_off_by_default_everywhere() -> None:
    assert (
        runner.RunOptions(languages=[], results_dir=Path("r"), registry_dir=Path("g")).trust_remote_code
        is False
    )
    for command in (cli.run, cli.score):
        assert inspect.signature(command).parameters["trust_remote_code"].default is False


def test_a_model_that_needs_remote_code_is_refused_and_its_code_never_runs(
    ws: dict, tiny_bert_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    remote = make_remote_code_model(tiny_bert_dir, ws["root"] / "remote")  # modeling_custom.py raises if run
    write_entry(ws["registry"], "org__remote", "org/remote", remote)
    assert [s.key for s in load_registry(ws["registry"])] == [
        "org__bert",
        "org__remote",
    ]  # cards read: no code

    summary = runner.run(options(ws, model_names=["org__remote", "org__bert"]), say=lambda _: None)
    runs = {r.model_key: r.run for r in store.load_results(ws["results"])}
    assert runs["org__bert"].status == "ok"
    refused = runs["org__remote"]
    assert (refused.status, refused.error_kind) == ("error", "remote-code-refused")
    assert "pass --trust-remote-code to allow it" in refused.error
    assert refused.settings.trust_remote_code is False
    assert {o.key: o.status for o in summary.outcomes}["org__remote"] == "error"

    rc = cli.main(["score", str(remote), str(ws["pairs"]), "--no-cache"])
    out, err = capsys.readouterr()
    assert rc == 1 and out == ""
    assert len(err.splitlines()) == 1 and "pass --trust-remote-code to allow it" in err
    assert "modeling_custom" not in sys.modules


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_pickled_weights_file_never_runs_its_payload(ws: dict, tiny_bert_dir: Path, tmp_path: Path) -> None:
    import shutil

    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self) -> tuple:
            return (os.mkdir, (str(marker),))

    evil = Path(shutil.copytree(tiny_bert_dir, tmp_path / "evil-bin"))
    (evil / "model.safetensors").unlink()
    (evil / "pytorch_model.bin").write_bytes(pickle.dumps({"weight": Payload()}))
    write_entry(ws["registry"], "org__evil-bin", "org/evil-bin", evil)
    runner.run(options(ws, model_names=["org__evil-bin", "org__bert"]), say=lambda _: None)
    runs = {r.model_key: r.run for r in store.load_results(ws["results"])}
    assert (runs["org__evil-bin"].status, runs["org__evil-bin"].error_kind) == ("error", "load-failed")
    assert runs["org__bert"].status == "ok"
    assert not marker.exists()


_PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}
_SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def unsafe_deserialisation(source: str) -> list[str]:
    """Calls and imports that could unpickle data, found in Python source (comments and text ignored)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            found += [
                f"line {node.lineno}: import {n}" for n in names if n and n.split(".")[0] in _PICKLE_MODULES
            ]
            if isinstance(node, ast.ImportFrom) and node.module == "torch" and "load" in names:
                found.append(f"line {node.lineno}: from torch import load")
        elif isinstance(node, ast.Attribute) and node.attr in {"read_pickle", "to_pickle"}:
            found.append(f"line {node.lineno}: {node.attr}")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            last = name.rsplit(".", 1)[-1]
            if name.split(".")[0] in _PICKLE_MODULES:
                found.append(f"line {node.lineno}: {name}(")
            elif name.endswith("torch.load"):
                weights_only = _keyword(node, "weights_only")
                if not (isinstance(weights_only, ast.Constant) and weights_only.value is True):
                    found.append(f"line {node.lineno}: {name}( without weights_only=True")
            elif name in {"np.load", "numpy.load"}:
                allow = _keyword(node, "allow_pickle")
                if allow is not None and not (isinstance(allow, ast.Constant) and allow.value is False):
                    found.append(f"line {node.lineno}: {name}( with allow_pickle")
            elif name.startswith("yaml.") and last in {"load", "load_all", "unsafe_load", "full_load"}:
                loader = _keyword(node, "Loader")
                if (
                    last in {"unsafe_load", "full_load"}
                    or _dotted(loader or ast.Name("")).rsplit(".", 1)[-1] not in _SAFE_YAML_LOADERS
                ):
                    found.append(f"line {node.lineno}: {name}( with an unsafe loader")
    return found


def test_the_checker_finds_what_it_looks_for() -> None:
    bad = (
        "import pickle\nfrom joblib import load\nfrom torch import load\nimport torch, numpy as np, yaml\n"
        "torch.load(f)\ntorch.load(f, weights_only=False)\nnp.load(f, allow_pickle=True)\n"
        "yaml.load(s)\nyaml.load(s, Loader=yaml.Loader)\nyaml.unsafe_load(s)\npickle.loads(b)\n"
    )
    assert len(unsafe_deserialisation(bad)) == 10
    good = (
        "import torch, numpy as np, yaml\n# pickle is never used\nx = 'pickle'\n"
        "torch.load(f, weights_only=True)\nnp.load(f)\nnp.load(f, allow_pickle=False)\n"
        "yaml.load(s, Loader=yaml.SafeLoader)\nyaml.safe_load(s)\n"
    )
    assert unsafe_deserialisation(good) == []


def test_no_pickle_anywhere_data_is_read_back() -> None:
    problems = []
    for path in sorted(HARNESS.rglob("*.py")):
        problems += [
            f"{path.relative_to(HARNESS.parent)}: {p}" for p in unsafe_deserialisation(path.read_text())
        ]
    assert problems == []
    # and no pickled file ships with the package
    assert [
        p for p in HARNESS.rglob("*") if p.suffix in {".pkl", ".pickle", ".pt", ".pth", ".npy", ".npz"}
    ] == []


# ------------------------------------------------------------------------------------------
# untrusted ids and names never leave the results and reports folders


HOSTILE_CARD = """---
language:
- en
license: mit
---

# {title}

```python
model = SentenceTransformer('{model_id}')
```
"""


def test_untrusted_ids_keys_and_names_stay_inside_the_results_folder(ws: dict, tiny_bert_dir: Path) -> None:
    reg = ws["registry"]
    write_entry(reg, "org__traversal", "", None, card=HOSTILE_CARD.format(title="t", model_id="../../etc/x"))
    write_entry(reg, "org__absolute", "", None, card=HOSTILE_CARD.format(title="a", model_id="/etc/passwd"))
    override = write_entry(reg, "org__override", "org/override", None)
    (override / "registry.toml").write_text('model_id = "../../../escaped"\nrevision = "../../rev"\n')
    write_entry(reg, "a..b", "org/dots", tiny_bert_dir)  # an unsafe registry folder name
    odd = ws["root"] / "pairs"
    names = ["..<script>alert(1)<|script> x;y.tsv", "...tsv", "line\nbreak.tsv", "-rf ü.tsv"]
    pairs = [write_pairs(odd / name, seed=i) for i, name in enumerate(names)]
    before = files_under(ws["root"])

    lines: list[str] = []
    models = ["org__bert", "org__traversal", "org__absolute", "org__override", "a..b",
              "../../x", "/etc/passwd", "..", "org/../../x"]  # fmt: skip
    summary = runner.run(options(ws, model_names=models, pairs_files=pairs), say=lines.append)
    outcomes = {o.key: o for o in summary.outcomes}
    for name in ("a..b", "../../x", "/etc/passwd", "..", "org/../../x"):
        assert outcomes[name].status == "error" and outcomes[name].reason == "unknown model"
    assert outcomes["org__bert"].status == "ok" and len(outcomes["org__bert"].ok) == len(names)
    for key in ("org__traversal", "org__absolute", "org__override"):
        assert outcomes[key].status == "unavailable"  # the hostile id was ignored, not followed

    created = files_under(ws["root"]) - before
    assert created and all(p.is_relative_to(ws["results"]) or p.is_relative_to(ws["cache"]) for p in created)
    for path in files_under(ws["results"]):
        assert all(SAFE_PART.match(part) for part in path.relative_to(ws["results"]).parts), path
    tasks = {r.task_name for r in store.load_results(ws["results"]) if r.model_key == "org__bert"}
    assert tasks == {f"custom:{Path(n).stem}" for n in names}


def test_an_unsafe_hub_like_model_name_never_escapes(ws: dict) -> None:
    before = files_under(ws["root"])
    summary = runner.run(options(ws, model_names=["a..b/c", "x/..y"]), say=lambda _: None)
    assert summary.failed and {o.reason for o in summary.outcomes} == {"unknown model"}
    created = files_under(ws["root"]) - before
    assert all(p.is_relative_to(ws["results"]) for p in created)


def test_an_unsafe_hub_like_model_name_is_reported_and_the_run_goes_on(ws: dict) -> None:
    summary = runner.run(options(ws, model_names=["a..b/c", "org__bert"]), say=lambda _: None)
    outcomes = {o.key: o for o in summary.outcomes}
    assert outcomes["a..b/c"].status == "error"
    assert outcomes["org__bert"].status == "ok"


def test_two_task_names_never_share_a_result_file(ws: dict) -> None:
    first = write_pairs(ws["root"] / "pairs" / "a b.tsv", seed=1)
    other = write_pairs(ws["root"] / "pairs" / "a_b.tsv", seed=2)
    runner.run(options(ws, pairs_files=[first, other]), say=lambda _: None)
    again = runner.run(options(ws, pairs_files=[first, other]), say=lambda _: None)
    assert {r.task_name for r in store.load_results(ws["results"])} == {"custom:a b", "custom:a_b"}
    assert not again.outcomes[0].ok  # both were stored the first time


def test_two_pairs_files_with_one_name_are_refused(ws: dict) -> None:
    first = write_pairs(ws["root"] / "pairs" / "a b.tsv", seed=1)
    other = write_pairs(ws["root"] / "pairs" / "other" / "a b.tsv", seed=2)
    summary = runner.run(options(ws, pairs_files=[first, other]), say=lambda _: None)
    assert summary.failed and any(str(other) in e for e in summary.data_errors)


def test_report_escapes_hostile_names_and_stays_in_its_folder(
    ws: dict, tiny_bert_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    reg = ws["registry"]
    write_entry(reg, "org__evil", "org/evil", tiny_bert_dir, title="<script>alert(1)</script>Evil")
    write_entry(reg, "org__evil-gone", "org/evil-gone", None, title="<img src=x onerror=alert(2)>")
    odd = write_pairs(ws["root"] / "pairs" / "<img src=x onerror=alert(3)>.tsv")
    runner.run(options(ws, model_names=["org__evil", "org__evil-gone", "org__bert"], pairs_files=[odd]),
               say=lambda _: None)  # fmt: skip
    before = files_under(ws["root"])
    dirs_before = {p for p in ws["root"].rglob("*") if p.is_dir()}
    argv = ["report", "--results", str(ws["results"]), "--registry", str(reg), "--out", str(ws["reports"])]
    assert cli.main(argv) == 0
    _, err = capsys.readouterr()
    assert "Traceback" not in err
    created = files_under(ws["root"]) - before
    # the reports folder, plus exactly one file beside the results: the paired-test cache
    # (issue 18: "a small cache beside the results, safe to delete"); nothing else anywhere
    cache = ws["results"] / ".harness-cache" / "paired.sqlite"
    pages_written = {p for p in created if p.is_relative_to(ws["reports"])}
    assert pages_written and created - pages_written <= {cache}
    new_dirs = {p for p in ws["root"].rglob("*") if p.is_dir()} - dirs_before
    assert all(d.is_relative_to(ws["reports"]) or d == cache.parent for d in new_dirs)
    pages = {p.name: p.read_text(encoding="utf-8") for p in pages_written}
    assert "und.html" in pages and "index.html" in pages and "und.md" in pages
    html = "\n".join(t for n, t in pages.items() if n.endswith(".html"))
    assert "alert(3)" in html and "org__evil" in html  # the hostile things are shown ...
    for raw in ("<script>alert", "<img", "onerror=alert(2)>", "</script>Evil"):
        assert raw not in html  # ... but never as markup
    assert "&lt;img src=x onerror=alert(3)&gt;" in html
    for name, text in pages.items():
        scripts = re.findall(r"<script\b[^>]*>", text)
        assert all(s == "<script>" for s in scripts) and len(scripts) <= 1, name  # only the page's own
    md = pages["und.md"]
    assert "<img" not in md and "<script" not in md
