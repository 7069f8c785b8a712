"""`make plan` and friends on a branch that moves the state backend: one line that says why, not
Terraform's error."""

from __future__ import annotations

from pathlib import Path

import pytest

from operations import deployment
from operations.deployment import LocalDeployment
from tests.support import ENVIRONMENTS


def failing_init(message: str):
    def terraform(args, cwd, env, **kwargs):
        raise RuntimeError(f"terraform {' '.join(args)} exited 1 in {cwd}:\n\n{message}")
    return terraform


def test_a_missing_state_bucket_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    env = ENVIRONMENTS[0]
    monkeypatch.setattr(deployment, "terraform", failing_init(
        f'Error: Failed to get existing workspaces: S3 bucket "{env.state.bucket}" does not exist.'))
    with pytest.raises(RuntimeError) as caught:
        LocalDeployment(env, state_dir=tmp_path)._init(env.name, "aws", {})
    (line,) = str(caught.value).splitlines()
    assert line.startswith(f"the state bucket {env.state.bucket} does not exist: if this change moves the state backend")
    assert "terraform init -migrate-state" in line


def test_any_other_init_failure_is_terraforms_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    env = ENVIRONMENTS[0]
    monkeypatch.setattr(deployment, "terraform", failing_init("Error: Failed to query available provider packages"))
    with pytest.raises(RuntimeError, match="Failed to query available provider packages"):
        LocalDeployment(env, state_dir=tmp_path)._init(env.name, "aws", {})


def test_a_failed_plan_leaves_its_reason_where_the_pull_request_reads_the_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from cli import deploy  # noqa: PLC0415

    env = ENVIRONMENTS[0]
    monkeypatch.setattr(deploy, "LocalDeployment", lambda e: LocalDeployment(e, state_dir=tmp_path))
    monkeypatch.setattr(LocalDeployment, "plan", lambda self, target: (_ for _ in ()).throw(
        RuntimeError(f"the state bucket {env.state.bucket} does not exist: move the state")))
    assert deploy.main(["plan", env.name, "aws"]) == 1
    summary = (tmp_path / "aws" / f"{env.name}.md").read_text()
    assert summary == f"### `{env.name}`: no plan\n\nthe state bucket {env.state.bucket} does not exist: move the state\n"
