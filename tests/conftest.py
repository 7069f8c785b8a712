"""Fixtures: every environment's stacks synthesized once per session (in process with the cdktf
Testing helpers, and on disk through main.py), and a Terraform CLI configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ENVIRONMENTS, ROOT
from tooling.terraform import terraform_env, write_cli_config

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@pytest.fixture(scope="session")
def testing_synth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every stack through `Testing.synth` (with validations): {stack name: Terraform JSON text}.
    The app is synthesized first, which fails on any rule of the rule pack."""
    from cdktf import TerraformStack, Testing  # noqa: PLC0415 - the slow import, paid once

    from modules.app import build_app  # noqa: PLC0415

    app = build_app(ENVIRONMENTS, tmp_path_factory.mktemp("app"))
    app.synth()
    return {stack.node.id: Testing.synth(stack, True) for stack in app.node.children
            if isinstance(stack, TerraformStack)}


@pytest.fixture(scope="session")
def stacks(testing_synth: dict[str, str]) -> dict[str, dict]:
    """The same stacks, parsed."""
    return {name: json.loads(text) for name, text in testing_synth.items()}


@pytest.fixture(scope="session")
def synth_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python main.py` into a fresh folder, as `make synth` and the cdktf CLI run it."""
    out = tmp_path_factory.mktemp("cdktf.out")
    subprocess.run([sys.executable, "main.py"], cwd=ROOT, check=True, env={**os.environ, "CDKTF_OUTDIR": str(out)})
    return out


@pytest.fixture(scope="session")
def tf_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for running terraform with a CLI configuration of the tests' own."""
    return terraform_env(write_cli_config(tmp_path_factory.mktemp("terraform") / "terraform.rc"))
