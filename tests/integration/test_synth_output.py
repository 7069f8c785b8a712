"""The synthesized files as users get them: valid for Terraform, deterministic, and the same
through the cdktf CLI."""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from definitions.paths import PROVIDER_LOCK_FILE, ROOT
from operations.terraform import copy_stack, find_mirror, terraform
from tests.support import ALL_STACKS, first_environment


def test_every_environment_and_its_bootstrap_is_synthesized(synth_out: Path):
    manifest = json.loads((synth_out / "manifest.json").read_text())
    assert sorted(manifest["stacks"]) == sorted(ALL_STACKS)
    for stack in ALL_STACKS:
        assert json.loads((synth_out / "stacks" / stack / "cdk.tf.json").read_text())["resource"]


def test_the_provider_mirror_is_used_when_present():
    # CI runs on machines with the mirror and no registry: validation must not silently depend on a download.
    if os.environ.get("CI"):
        assert find_mirror() is not None, "no hashicorp/aws filesystem mirror found on a CI machine"


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_stack_is_valid_terraform(stack: str, synth_out: Path, tf_env: dict[str, str], tmp_path: Path):
    work = copy_stack(synth_out / "stacks" / stack, tmp_path / stack)
    lock = (work / ".terraform.lock.hcl").read_text()
    terraform(["init", "-backend=false", "-lockfile=readonly"], work, tf_env)  # the lock file pins the release
    assert (work / ".terraform.lock.hcl").read_text() == lock
    result = terraform(["validate", "-json"], work, tf_env, check=False)
    report = json.loads(result.stdout)
    assert report["valid"] is True, report["diagnostics"]
    assert report["error_count"] == 0


def test_two_synths_are_byte_identical(synth_out: Path, tmp_path: Path):
    again = tmp_path / "again"
    subprocess.run([sys.executable, "main.py"], cwd=ROOT, check=True, env={**os.environ, "CDKTF_OUTDIR": str(again)})
    first = sorted(p.relative_to(synth_out) for p in synth_out.rglob("*") if p.is_file())
    second = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert first == second and first
    _, mismatch, errors = filecmp.cmpfiles(synth_out, again, [str(p) for p in first], shallow=False)
    assert mismatch == [] and errors == []
    for path in first:
        text = (synth_out / path).read_text()
        assert str(ROOT) not in text and str(synth_out) not in text, f"{path} holds an absolute path"


def test_make_synth_replaces_cdktf_out_only_when_complete(tmp_path: Path):
    """main.py outside the CLI stages its output and swaps it in whole."""
    repo = tmp_path / "repo"
    # Not the staging folder of a synth running in the repository meanwhile (test_main_refusals.py makes one).
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(".venv", "node_modules", "cdktf.out", ".cdktf.out.*", ".git",
                                                              ".pytest_cache"))
    stale = repo / "cdktf.out" / "stale.txt"
    stale.parent.mkdir()
    stale.write_text("from an earlier synth")
    env = {k: v for k, v in os.environ.items() if k != "CDKTF_OUTDIR"}
    name = first_environment(production=False).name
    subprocess.run([sys.executable, "main.py"], cwd=repo, check=True, env={**env, "PLATFORM_ONLY": name})
    assert not stale.exists()
    assert (repo / "cdktf.out" / "stacks" / name / "cdk.tf.json").is_file()
    assert not list(repo.glob(".cdktf.out.*")), "staging folder left behind"


def test_cdktf_cli_synth_matches_main(synth_out: Path, tmp_path: Path):
    cli = ROOT / "node_modules" / ".bin" / "cdktf"
    assert cli.exists(), "cdktf-cli is installed by `make setup` from package-lock.json"
    out = tmp_path / "cli.out"
    env = {k: v for k, v in os.environ.items() if k != "CDKTF_OUTDIR"}
    result = subprocess.run([str(cli), "synth", "--output", str(out)], cwd=ROOT, capture_output=True, text=True,
                            env={**env, "CHECKPOINT_DISABLE": "1", "CI": "1"}, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for stack in ALL_STACKS:
        assert (out / "stacks" / stack / "cdk.tf.json").read_bytes() == \
            (synth_out / "stacks" / stack / "cdk.tf.json").read_bytes(), stack


def test_the_provider_lock_pins_the_tested_release(synth_out: Path):
    lock = PROVIDER_LOCK_FILE.read_text()
    block = re.search(r'provider "registry.terraform.io/hashicorp/aws" \{(.*?)\n\}', lock, re.S)
    assert block, lock
    assert re.search(r'\n  version\s+= "5\.100\.0"\n', block.group(1)), block.group(1)
    assert re.search(r'"h1:[A-Za-z0-9+/=]+"', block.group(1))
    for stack in ALL_STACKS:  # written beside every synthesized stack, so `terraform init` there is pinned
        assert (synth_out / "stacks" / stack / ".terraform.lock.hcl").read_text() == lock, stack
