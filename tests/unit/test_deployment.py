"""`make plan` and friends on a branch that moves the state backend: one line that says why, not
Terraform's error."""

from __future__ import annotations

import json
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


def test_down_stops_the_emulator_even_when_the_destroy_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    deployed = LocalDeployment(ENVIRONMENTS[0], state_dir=tmp_path)
    stopped = []
    monkeypatch.setattr(LocalDeployment, "destroy", lambda self: (_ for _ in ()).throw(RuntimeError("NoSuchBucket")))
    monkeypatch.setattr(LocalDeployment, "discard", lambda self: stopped.append(True) or ["stopped the emulator"])
    with pytest.raises(RuntimeError) as caught:
        deployed.down()
    assert stopped and str(caught.value) == "NoSuchBucket\nstopped the emulator all the same"


def test_down_empties_the_buckets_up_deployed_not_those_of_the_working_tree(tmp_path: Path):
    """`up` keeps the stacks it applied: after a branch switch, their buckets are the ones to empty."""
    env = ENVIRONMENTS[0]
    deployed = LocalDeployment(env, stacks_dir=tmp_path / "synth", state_dir=tmp_path / "state")
    body = {"resource": {"aws_s3_bucket": {
        "data": {"bucket": "old-encrypted-data", "//": {"metadata": {"path": f"{env.name}/data-bucket/bucket"}}},
        "logs": {"bucket": "old-access-logs", "//": {"metadata": {"path": f"{env.name}/access-log-bucket/bucket"}}}}}}
    (deployed.deployed_dir / env.name).mkdir(parents=True)
    (deployed.deployed_dir / env.name / "cdk.tf.json").write_text(json.dumps(body))
    assert deployed._buckets(env.name) == ["old-encrypted-data"]
    assert deployed._access_log_buckets(env.name) == ["old-access-logs"]
    assert deployed._deployed(env.name) == deployed.deployed_dir / env.name
    assert deployed._deployed(env.bootstrap_stack) == tmp_path / "synth" / env.bootstrap_stack  # no copy kept: the synth


def test_apply_applies_the_saved_plan_and_nothing_else(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """With a reviewed plan, apply initializes and applies that file: no new plan is made."""
    env = ENVIRONMENTS[0]
    calls = []
    monkeypatch.setattr(deployment, "terraform", lambda args, cwd, tf_env, **kw: calls.append(args[0]))
    monkeypatch.setattr(LocalDeployment, "plan", lambda *a, **k: pytest.fail("a saved plan must not be planned again"))
    saved = tmp_path / f"{env.name}.tfplan"
    saved.write_bytes(b"plan")
    assert LocalDeployment(env, state_dir=tmp_path).apply("aws", saved) == saved.with_suffix(".md")
    assert calls == ["init", "apply"]
    with pytest.raises(RuntimeError, match="no saved plan at"):
        LocalDeployment(env, state_dir=tmp_path).apply("aws", tmp_path / "missing.tfplan")


def test_up_says_each_step_and_applies_the_slow_lifecycle_rules_beside_the_environment(tmp_path: Path,
                                                                                       monkeypatch: pytest.MonkeyPatch):
    env = ENVIRONMENTS[0]

    class Emulator:
        endpoint = "http://127.0.0.1:5000"

        def boto3_client(self, service, region):
            return type("S3", (), {"delete_bucket_policy": lambda self, Bucket: lifted.append(Bucket)})()

    steps, lifted, calls = [], [], []
    types = ["aws_kms_key", "aws_s3_bucket", "aws_s3_bucket_lifecycle_configuration"]

    def terraform(args, cwd, tf_env, **kw):
        calls.append((cwd.name, args, list(lifted)))
        return type("Result", (), {"stdout": "{}"})()

    monkeypatch.setattr(LocalDeployment, "start", lambda self: (Emulator(), None))
    monkeypatch.setattr(LocalDeployment, "emulator_variables", lambda self, emulator: {})
    monkeypatch.setattr(LocalDeployment, "_targets", lambda self, stack, target: [])
    monkeypatch.setattr(LocalDeployment, "_resource_targets",
                        lambda self, stack, keep: [f"-target={rtype}.x" for rtype in types if keep(rtype)])
    monkeypatch.setattr(deployment, "copy_stack", lambda source, destination: destination)
    monkeypatch.setattr(deployment, "terraform", terraform)
    LocalDeployment(env, state_dir=tmp_path).up(progress=steps.append)
    assert steps == [f"starting the emulator as account {env.account_id}", f"applying {env.bootstrap_stack}, its S3 lifecycle rules last",
                     f"applying {env.name}, with its state in the bootstrap's bucket, while {env.bootstrap_stack}'s lifecycle rules settle"]
    applies = [(stack, [a for a in args if a.startswith("-target")], bool(lifted_then)) for stack, args, lifted_then in calls
               if args[0] == "apply"]
    assert applies[0] == (env.bootstrap_stack, ["-target=aws_kms_key.x", "-target=aws_s3_bucket.x"], False)
    # After the state bucket's policy is lifted, side by side (in either order):
    assert sorted(applies[1:]) == sorted([(env.bootstrap_stack, ["-target=aws_s3_bucket_lifecycle_configuration.x"], True),
                                          (env.name, [], True)])
    assert lifted == [env.state.bucket]
