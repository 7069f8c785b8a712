"""`make lint` enforces the layers with import-linter: the project keeps every contract, and a
deliberate crossing breaks the build."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from definitions.paths import ROOT
from tests.support import product_copy

LINT_IMPORTS = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "lint-imports"


def lint(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(shutil.which("lint-imports") or LINT_IMPORTS), "--no-cache", "--config", str(folder / "pyproject.toml")],
                          cwd=folder, env={**os.environ, "PYTHONPATH": str(folder)}, capture_output=True, text=True, timeout=120)


def test_the_project_keeps_every_contract():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert len(contracts) >= 4
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"Contracts: {len(contracts)} kept, 0 broken." in result.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("definitions/crossing.py", "import modules.foundation.policy\n", "Layers: each imports only the layers below it"),
    ("environments/crossing.py", "import cdktf\n", "no cdktf below"),
    ("modules/foundation/crossing.py", "from environments.config import Environment\n", "never the configuration"),
    ("stacks/crossing.py", "import operations.terraform\n", "Layers: each imports only the layers below it"),
    ("operations/crossing.py", "import stacks.app\n", "run without cdktf loaded"),
])
def test_a_deliberate_crossing_fails_the_lint(tmp_path: Path, module: str, line: str, contract: str):
    copy = product_copy(tmp_path, "pyproject.toml")
    assert lint(copy).returncode == 0, "the copy lints clean before the crossing"
    (copy / module).write_text(f'"""A crossing."""\n\n{line}')
    result = lint(copy)
    assert result.returncode != 0, result.stdout[-3000:]
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken.replace("\n", " "), result.stdout[-3000:]
    assert module.removesuffix(".py").replace("/", ".") in broken
