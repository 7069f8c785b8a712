"""What import-linter cannot see: the bottom layers use the standard library alone, and main.py
only wires the environments to the stacks."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from definitions.paths import ROOT


def imported(path: Path) -> set[str]:
    """The top-level names of every module `path` imports at run time (not under `if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            node.body = []
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", ["definitions", "environments"])
def test_the_bottom_layers_import_only_the_standard_library(layer: str):
    """So that they run before set-up (CI reads the environment names with a bare python3) and
    validate input before the slow import."""
    allowed = set(sys.stdlib_module_names) | {"definitions"} | ({"environments"} if layer == "environments" else set())
    files = sorted((ROOT / layer).rglob("*.py"))
    assert files
    outside = {f"{path.relative_to(ROOT)}: {name}" for path in files for name in imported(path) - allowed}
    assert not outside, sorted(outside)


def test_main_imports_only_the_configuration_content_and_stacks():
    assert imported(ROOT / "main.py") - set(sys.stdlib_module_names) == {"definitions", "environments", "stacks"}


def test_the_walk_sees_imports():
    assert imported(ROOT / "stacks" / "app.py") >= {"cdktf", "stacks", "environments"}
