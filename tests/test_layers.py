"""The import graph of `harness/`: one way down the stages, no cycles, no private names across modules.

Every module has a stage (lowest first): the shared vocabulary (languages, STS dataset names, errors,
records, config, stderr and console) < what a model's files and mteb's registry say < tasks < cards,
prompts and the registry < encode < evaluate < store (and MTEB's published results) < run < report
(and `info`) < the command line. A module may import its own stage or lower ones, never a later
stage (lazy imports inside functions count too). See docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parent.parent / "harness"
STAGES = [
    (
        "harness.languages",
        "harness.sts_datasets",
        "harness.errors",
        "harness.records",
        "harness.config",
        "harness.stderr",
        "harness.console",
    ),
    ("harness.model_files", "harness.mteb_meta"),
    ("harness.tasks",),
    ("harness.card", "harness.prompts", "harness.registry", "harness.hub_files", "harness.registry_add"),
    ("harness.encode",),
    ("harness.bootstrap", "harness.evaluate", "harness.paired_cache", "harness.probe", "harness.variants"),
    ("harness.store", "harness.published"),
    ("harness.run", "harness.scoring"),
    ("harness.report", "harness.info"),
    ("harness.cli", "harness.__main__", "harness"),
]
SHARED = ("harness.errors", "harness.records")  # import only each other and the language vocabulary
SHARED_MAY_IMPORT = {*SHARED, "harness.languages"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(HARNESS.rglob("*.py")):
        name = ".".join(path.relative_to(HARNESS.parent).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _imports(name: str) -> list[tuple[str, str]]:
    """(imported module, imported name or "") for every harness import of a module, lazy ones included."""
    out: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "harness":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                out.append((sub, "") if sub in MODULES else (node.module, alias.name))
        elif isinstance(node, ast.Import):
            out.extend((a.name, "") for a in node.names if a.name.split(".")[0] == "harness")
    return out


def _stage(module: str) -> int | None:
    for i, prefixes in enumerate(STAGES):
        for prefix in prefixes:
            if module == prefix or (prefix != "harness" and module.startswith(prefix + ".")):
                return i
    return None


def test_every_module_has_a_stage():
    assert [name for name in MODULES if _stage(name) is None] == []


def test_no_stage_imports_a_later_stage():
    upward = []
    for name in MODULES:
        mine = _stage(name)
        for target, _ in _imports(name):
            theirs = _stage(target)
            if mine is not None and theirs is not None and theirs > mine:
                upward.append(f"{name} -> {target}")
            if name in SHARED and target not in SHARED_MAY_IMPORT:
                upward.append(f"{name} -> {target} (shared types import no stage)")
    assert upward == []


def test_no_import_cycles():
    graph = {name: {t for t, _ in _imports(name) if t in MODULES and t != name} for name in MODULES}
    cycles = []
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_private_name_from_another_module(name):
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    private = [f"{t}.{a}" for t, a in _imports(name) if a.startswith("_") and not a.startswith("__")]
    modules_here = {
        (alias.asname or alias.name.split(".")[-1])
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom | ast.Import)
        for alias in node.names
        if (f"{node.module}.{alias.name}" if isinstance(node, ast.ImportFrom) else alias.name) in MODULES
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules_here
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            private.append(f"{node.value.id}.{node.attr}")
    assert private == []
