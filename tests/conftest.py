"""Fixtures: every environment's stacks synthesized once per run (in process with the cdktf
Testing helpers, and on disk through main.py), and a Terraform CLI configuration.

`make test` runs the tests in parallel processes (pytest-xdist); the synths are made by the first
process that asks for them and read by the others (`shared`), so each is paid once per run.

Each test is marked by the folder it is in, which says what it costs: `unit` (tests/unit: in
process), `integration` (tests/integration: real tools), `emulator` (tests/emulator: stacks applied
to moto). `make test-fast` runs `-m unit`.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from definitions.paths import ROOT
from operations.terraform import terraform_env, write_cli_config
from tests.support import ENVIRONMENTS, SECURITY, all_features, load_test_organization

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
COST_MARKERS = ("unit", "integration", "emulator")
RUN_ORDER = ("emulator", "unit", "integration")
# The temporary folder of every process a test starts: the jsii runtime's node (each cdktf
# Testing app makes a `cdktf.outdir.*` folder there), Terraform, the synths. Removed when the
# session ends; this process's own temporary files (tempfile, pytest's tmp_path) stay where they were.
SUBPROCESS_TMP = tempfile.mkdtemp(prefix="pytest-subprocesses-")
os.environ["TMPDIR"] = SUBPROCESS_TMP


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(SUBPROCESS_TMP, ignore_errors=True)


def _folder(item: pytest.Item) -> str:
    return Path(item.path).relative_to(ROOT / "tests").parts[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by its folder, and run the emulator files first, then the unit files, then
    the integration files (each file's own order kept). Under `make test` (pytest-xdist, files
    handed out in this order) the long emulator files start at once, each process's second file is
    a short unit one, and the integration files go to whichever process is free."""
    for item in items:
        folder = _folder(item)
        if folder not in COST_MARKERS:
            raise pytest.UsageError(f"{item.nodeid}: a test lives in tests/unit, tests/integration or tests/emulator")
        item.add_marker(getattr(pytest.mark, folder))
    items.sort(key=lambda item: RUN_ORDER.index(_folder(item)))


def shared(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    """The folder `name`, made once per run by `make(folder)`: under pytest-xdist, by the first
    worker that asks (the others wait on a lock, then read it); alone, by this process."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # each worker's base is a folder of the run's
        root = root.parent
    folder, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:  # closing it releases the lock
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed attempt left
            folder.mkdir()
            make(folder)
            done.touch()
    return folder


def _testing_synth(folder: Path) -> None:
    from cdktf import TerraformStack, Testing  # noqa: PLC0415 - the slow import, paid once

    from stacks.app import build_app  # noqa: PLC0415

    app = build_app(ENVIRONMENTS, folder / "app")
    app.synth()
    synthesized = {stack.node.id: Testing.synth(stack, True) for stack in app.node.children
                   if isinstance(stack, TerraformStack)}
    (folder / "stacks.json").write_text(json.dumps(synthesized))


@pytest.fixture(scope="session")
def testing_synth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every stack through `Testing.synth` (with validations): {stack name: Terraform JSON text}.
    The app is synthesized first, which fails on any rule of the rule pack."""
    return json.loads((shared(tmp_path_factory, "testing-synth", _testing_synth) / "stacks.json").read_text())


@pytest.fixture(scope="session")
def stacks(testing_synth: dict[str, str]) -> dict[str, dict]:
    """The same stacks, parsed."""
    return {name: json.loads(text) for name, text in testing_synth.items()}


def _organization_synth(folder: Path) -> None:
    from cdktf import TerraformStack, Testing  # noqa: PLC0415 - the slow import, paid once

    from stacks.app import build_app  # noqa: PLC0415

    app = build_app([], folder / "app", load_test_organization(folder))
    app.synth()
    synthesized = {stack.node.id: Testing.synth(stack, True) for stack in app.node.children if isinstance(stack, TerraformStack)}
    (folder / "stacks.json").write_text(json.dumps(synthesized))


@pytest.fixture(scope="session")
def organization_stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """The organization's stacks for the tests' topology (tests/support.py), parsed:
    {stack name: Terraform JSON}. The app is synthesized first, which fails on any rule."""
    folder = shared(tmp_path_factory, "organization-synth", _organization_synth)
    return {name: json.loads(text) for name, text in json.loads((folder / "stacks.json").read_text()).items()}


def _main_synth(out: Path) -> None:
    subprocess.run([sys.executable, "main.py"], cwd=ROOT, check=True, env={**os.environ, "CDKTF_OUTDIR": str(out)})


@pytest.fixture(scope="session")
def synth_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python main.py` into a fresh folder, as `make synth` and the cdktf CLI run it. Shared: a
    test copies what it changes."""
    return shared(tmp_path_factory, "cdktf.out", _main_synth)


@pytest.fixture(scope="session")
def tf_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for running terraform with a CLI configuration of the tests' own."""
    return terraform_env(write_cli_config(tmp_path_factory.mktemp("terraform") / "terraform.rc"))


def _every_type(folder: Path) -> None:
    from cdktf import Testing  # noqa: PLC0415 - the slow import, paid once

    from stacks.deploy_policies import stack_types  # noqa: PLC0415
    from stacks.environment_stacks import BootstrapStack, PlatformStack  # noqa: PLC0415
    from stacks.organization_stacks import organization_stacks  # noqa: PLC0415

    types: set[str] = set()
    # The organization with a delegated administrator: every type its stacks can hold.
    org = load_test_organization(folder, settings=f'cloudtrail_delegated_admins = ["{SECURITY}"]')
    for stack in organization_stacks(Testing.app(), org):
        types |= stack_types(json.loads(Testing.synth(stack)))
    for env in map(all_features, ENVIRONMENTS):
        app = Testing.app()
        platform = PlatformStack(app, env)
        for stack in (BootstrapStack(app, env, deploys=platform), platform):
            types |= stack_types(json.loads(Testing.synth(stack)))
    (folder / "types.json").write_text(json.dumps(sorted(types)))


@pytest.fixture(scope="session")
def every_type(stacks: dict[str, dict], tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The Terraform types of every synthesized stack, and of each environment with every option
    on: every type the stacks can hold (`resource.aws_s3_bucket`, `provider.aws`, ...)."""
    from stacks.deploy_policies import stack_types  # noqa: PLC0415

    types = set(json.loads((shared(tmp_path_factory, "every-option", _every_type) / "types.json").read_text()))
    for stack in stacks.values():
        types |= stack_types(stack)
    return types
