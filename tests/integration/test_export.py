"""The plain-Terraform bundle for ops (`make export`): every exported root validates alone, without
Python or Node; it carries the lock file, versions.tf and the partial backend; the README says
what ops need; and its plan on the emulator equals the JSON stack's."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from definitions.paths import PROVIDER_LOCK_FILE, ROOT
from environments.config import settings
from operations.emulator import running_emulator, write_override
from operations.export import export
from operations.terraform import copy_stack, terraform
from tests.support import ENV_NAMES, ENVIRONMENTS, ENVIRONMENTS_DIR, environment, first_environment

ROOTS = [(env.name, stack) for env in ENVIRONMENTS for stack in (env.bootstrap_stack, env.name)]
# Planned on the emulator: one environment of each kind (production adds prevent_destroy).
PLANNED = [(env.name, stack) for env in (first_environment(production=False), first_environment(production=True))
           for stack in (env.bootstrap_stack, env.name)]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory, tf_env: dict[str, str]) -> Path:
    """Every environment exported, as `make export` does."""
    folder = tmp_path_factory.mktemp("dist")
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda env: export(env, folder, ENVIRONMENTS_DIR, tf_env), ENVIRONMENTS))
    return folder


def alone(root: Path, tmp_path: Path) -> Path:
    """The exported root copied into an empty folder, nothing else beside it."""
    return Path(shutil.copytree(root, tmp_path / root.name))


@pytest.mark.parametrize(("env", "stack"), ROOTS)
def test_each_exported_root_validates_alone(dist: Path, env: str, stack: str, tmp_path: Path, tf_env: dict[str, str]):
    work = alone(dist / env / stack, tmp_path)
    files = {p.name for p in work.iterdir()}
    expected = {"main.tf", "versions.tf", ".terraform.lock.hcl", "deployer-policy.json"}
    assert files == expected | ({"backend.hcl"} if stack == env else set())
    assert not [p for p in work.rglob("*.json") if p.name != "deployer-policy.json"], "the bundle is HCL"
    terraform(["init", "-backend=false", "-lockfile=readonly", "-input=false"], work, tf_env)
    report = json.loads(terraform(["validate", "-json"], work, tf_env, check=False).stdout)
    assert report["valid"] and report["error_count"] == 0 and report["warning_count"] == 0, report["diagnostics"]
    fmt = terraform(["fmt", "-check", "-recursive"], work, tf_env, check=False)
    assert fmt.returncode == 0, fmt.stdout
    assert (work / ".terraform.lock.hcl").read_text() == PROVIDER_LOCK_FILE.read_text()


@pytest.mark.parametrize("name", ENV_NAMES)
def test_versions_and_backend_come_from_the_stacks_settings(dist: Path, synth_out: Path, name: str):
    env = environment(name)
    stack = json.loads((synth_out / "stacks" / name / "cdk.tf.json").read_text())
    bootstrap = json.loads((synth_out / "stacks" / env.bootstrap_stack / "cdk.tf.json").read_text())
    bundle = dist / name
    for root in (name, env.bootstrap_stack):
        assert (bundle / root / "versions.tf").read_text() == (
            f'terraform {{\n  required_version = "{stack["terraform"]["required_version"]}"\n}}\n')
    main_tf = (bundle / name / "main.tf").read_text()
    assert re.search(r'backend "s3" \{\s*\}', main_tf), "the environment's backend is a partial configuration"
    backend = dict(line.split(" = ", 1) for line in (bundle / name / "backend.hcl").read_text().splitlines())
    assert {key: json.loads(value) for key, value in backend.items()} == stack["terraform"]["backend"]["s3"]
    assert bootstrap["terraform"]["backend"]["local"]["path"].startswith("../")  # cdktf.out/ keeps it at the root
    assert re.search(r'backend "local" \{\s*path = "terraform.tfstate"\s*\}', (bundle / env.bootstrap_stack / "main.tf").read_text())


@pytest.mark.parametrize("name", ENV_NAMES)
def test_the_ops_readme_says_what_ops_need(dist: Path, name: str):
    env = environment(name)
    readme = (dist / name / "README.md").read_text()
    for key, _ in settings(env):
        assert f"| `{key}` |" in readme, key
    order = [readme.index(f"cd {env.bootstrap_stack}"), readme.index(f"cd {name}\n")]
    assert order == sorted(order), "the bootstrap comes first"
    assert "terraform init -backend-config=backend.hcl" in readme
    assert "terraform providers lock -platform=" in readme and "terraform init -upgrade" in readme
    assert "archived" in readme
    for root in (env.bootstrap_stack, name):
        for statement in json.loads((dist / name / root / "deployer-policy.json").read_text())["Statement"]:
            assert f"| {statement['Sid']} |" in readme


def test_export_refuses_an_unknown_environment(tmp_path: Path):
    result = subprocess.run([sys.executable, "-m", "cli.export", "nosuch"], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PLATFORM_ENVIRONMENTS": str(ENVIRONMENTS_DIR)}, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().endswith(f"no such environment; have {', '.join(sorted(ENV_NAMES))}")
    usage = subprocess.run([sys.executable, "-m", "cli.export"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert usage.returncode == 2 and "usage: make export ENV=<env>" in usage.stderr


# --- the same plan from HCL and from JSON ------------------------------------------------------


def _planned_changes(folder: Path, tf_env: dict[str, str]) -> dict[str, dict]:
    terraform(["init", "-input=false"], folder, tf_env)
    terraform(["plan", "-input=false", "-out=tfplan"], folder, tf_env)
    plan = json.loads(terraform(["show", "-json", "tfplan"], folder, tf_env).stdout)
    return {change["address"]: {"actions": change["change"]["actions"], "after": change["change"]["after"],
                                "after_unknown": change["change"]["after_unknown"]}
            for change in plan["resource_changes"]}


@pytest.mark.emulator
@pytest.mark.parametrize(("env", "stack"), PLANNED)
def test_the_hcl_bundle_plans_exactly_like_the_json_stack(dist: Path, synth_out: Path, env: str, stack: str,
                                                           tmp_path: Path, tf_env: dict[str, str]):
    with running_emulator(environment(env).account_id) as emulator:
        folders = [copy_stack(synth_out / "stacks" / stack, tmp_path / "json"), copy_stack(dist / env / stack, tmp_path / "hcl")]
        for folder in folders:
            write_override(folder, emulator)
        with ThreadPoolExecutor(max_workers=2) as pool:
            json_plan, hcl_plan = pool.map(lambda folder: _planned_changes(folder, emulator.environment(tf_env)), folders)
    assert sorted(hcl_plan) == sorted(json_plan) and json_plan
    for address, change in json_plan.items():
        assert hcl_plan[address] == change, f"{address} plans differently from HCL"
