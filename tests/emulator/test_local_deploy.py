"""The real deploy path on the emulator (`make up`, `make plan`, `make down`, `make verify`): the
bootstrap applied, the environment stack with its S3 backend in the bootstrap's bucket, a change
planned as exactly that change, everything destroyed; the synthesized stacks untouched."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from definitions.paths import ROOT
from operations.deployment import LocalDeployment
from operations.emulator import Emulator, emulator_answers
from operations.synth import synthesize
from operations.verify import FAIL, NOT_ON_EMULATOR, PASS, Verifier
from tests.stack_queries import address
from tests.support import ENVIRONMENTS_DIR, first_environment

DEV = first_environment(production=False)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def changed_environments(tmp_path: Path) -> tuple[Path, bool]:
    """A copy of the environments in which DEV toggles analysts_direct_athena: the analysts' group
    policy changes, and with it who the data key is granted to."""
    folder = Path(shutil.copytree(ENVIRONMENTS_DIR, tmp_path / "environments"))
    path = folder / f"{DEV.name}.toml"
    toggled = not DEV.analysts_direct_athena
    text = re.sub(r"(?m)^analysts_direct_athena\s*=.*\n", "", path.read_text())
    path.write_text(f"analysts_direct_athena = {str(toggled).lower()}\n{text}")
    return folder, toggled


@pytest.fixture(scope="module")
def deployed(synth_out: Path, tmp_path_factory: pytest.TempPathFactory):
    state_dir = tmp_path_factory.mktemp("local") / DEV.name
    deployment = LocalDeployment(DEV, stacks_dir=synth_out / "stacks", state_dir=state_dir)
    before = snapshot(synth_out / "stacks")
    try:
        outputs = deployment.up()
        yield deployment, outputs, before
    finally:
        deployment.discard()


def test_up_applies_the_bootstrap_then_the_stack_with_its_s3_backend(deployed, synth_out: Path):
    deployment, outputs, before = deployed
    assert outputs["data_bucket"] == DEV.data_bucket and outputs["workgroup"] == DEV.names.workgroup
    emulator = deployment.running()
    state = emulator.boto3_client("s3", DEV.state.region).head_object(Bucket=DEV.state.bucket, Key=DEV.state.key)
    key = emulator.boto3_client("kms", DEV.state.region).describe_key(KeyId=DEV.names.state_key_alias)["KeyMetadata"]["Arn"]
    alias = f"arn:{DEV.partition}:kms:{DEV.state.region}:{DEV.account_id}:{DEV.names.state_key_alias}"
    assert state["ServerSideEncryption"] == "aws:kms", "the state is in the bootstrap's bucket"
    assert state["SSEKMSKeyId"] in (key, alias)  # moto echoes the alias ARN the backend sends; S3 answers the key ARN
    assert (deployment.state_dir / "bootstrap.tfstate").is_file()
    assert snapshot(synth_out / "stacks") == before, "nothing emulator-specific lands in the synthesized stacks"


def test_verify_on_the_emulator_says_what_it_cannot_check(deployed):
    deployment, _, _ = deployed
    env_before = dict(os.environ)
    os.environ.update(deployment.emulator_variables(deployment.running()))
    try:
        results = {r.check: r for r in Verifier(DEV, emulator=True).run()}
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    assert results["upload without encryption headers is stored SSE-KMS with the data key"].status == PASS
    assert results["trail is logging"].status == PASS
    assert {r.status for r in results.values()} == {PASS, NOT_ON_EMULATOR}
    assert all(r.detail.startswith("moto ") for r in results.values() if r.status == NOT_ON_EMULATOR)


def test_verify_fails_when_the_trail_stops_logging(deployed):
    deployment, _, _ = deployed
    emulator = deployment.running()
    cloudtrail = emulator.boto3_client("cloudtrail", DEV.region)
    cloudtrail.stop_logging(Name=DEV.names.trail)
    try:
        result = verify_command(deployment)
    finally:
        cloudtrail.start_logging(Name=DEV.names.trail)
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(rf"trail is logging\s+{FAIL}\s+trail {DEV.names.trail} is not logging", result.stdout), result.stdout


def verify_command(deployment: LocalDeployment) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PLATFORM_LOCAL_DIR": str(deployment.state_dir.parent), "PLATFORM_ENVIRONMENTS": str(ENVIRONMENTS_DIR)}
    return subprocess.run([sys.executable, "-m", "cli.verify", DEV.name, "emulator"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_verify_passes_through_the_command(deployed):
    result = verify_command(deployed[0])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 FAILED" not in result.stdout and "FAIL" not in result.stdout


def test_the_same_variables_point_cdktf_diff_at_the_emulator(deployed, tmp_path: Path):
    """`make up` prints these variables; with them the pinned cdktf CLI diffs against the emulator."""
    deployment, _, _ = deployed
    cli = ROOT / "node_modules" / ".bin" / "cdktf"
    variables = deployment.emulator_variables(deployment.running())
    env = {k: v for k, v in os.environ.items() if k != "CDKTF_OUTDIR" and not k.startswith("AWS_")}
    env.update(variables, TF_DATA_DIR=str(deployment.state_dir / "emulator" / DEV.name), CHECKPOINT_DISABLE="1",
               CDKTF_DISABLE_PLUGIN_CACHE_ENV="1", TF_CLI_CONFIG_FILE=str(deployment.state_dir / "terraform.rc"),
               PLATFORM_ONLY=DEV.name)  # main.py synthesizes the one environment diffed
    result = subprocess.run([str(cli), "diff", DEV.name, "--output", str(tmp_path / "cdktf.out")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "no changes are needed" in result.stdout, result.stdout[-3000:]


def test_a_change_plans_as_exactly_that_change(deployed, tmp_path: Path):
    deployment, _, _ = deployed
    environments, _ = changed_environments(tmp_path)
    stacks_dir = synthesize(DEV.name, tmp_path / "out", environments_dir=environments)
    changed = LocalDeployment(DEV, stacks_dir=stacks_dir, state_dir=deployment.state_dir)
    changes = {}
    for plan_file, _ in changed.plan("emulator").values():
        assert plan_file.with_suffix(".md").is_file(), "each plan is saved with its summary"
        plan = changed.show(plan_file)
        changes[plan_file.stem] = sorted((c["address"].rsplit("_", 1)[0], c["change"]["actions"]) for c in plan["resource_changes"]
                                         if c["change"]["actions"] != ["no-op"])
    # The bootstrap's one change is the emulator's: `up` lifted the state bucket's policy (EMULATOR_LIMITS).
    # The environment's: the group's policy, the alarm on decrypts by others and the data key's
    # policy, which both spare whoever the key is granted to (the analysts too, once they query
    # directly). Terraform defers reading a policy document that names a resource with changes
    # pending: each document naming the data key is read at apply, and its resource shows an update.
    stack = json.loads((stacks_dir / DEV.name / "cdk.tf.json").read_text())
    data_key = address(stack, "aws_kms_key", "data-key")
    naming_key = {name for name, doc in stack["data"]["aws_iam_policy_document"].items() if f"{data_key}." in json.dumps(doc)}
    using = {f"{rtype}.{name}" for rtype, by_name in stack["resource"].items() for name, body in by_name.items()
             if any(f"data.aws_iam_policy_document.{doc}.json" in json.dumps(body) for doc in naming_key)}
    deferred = {(f"data.aws_iam_policy_document.{doc}".rsplit("_", 1)[0], ("read",)) for doc in naming_key}
    deferred |= {(address.rsplit("_", 1)[0], ("update",)) for address in using}
    assert naming_key and using
    assert changes[DEV.bootstrap_stack] == [("aws_s3_bucket_policy.state-bucket_bucket-policy", ["create"])]
    assert {(address, tuple(actions)) for address, actions in changes[DEV.name]} == {
        ("aws_cloudwatch_log_metric_filter.monitoring_filter-DataKeyDecryptByOthers", ("update",)),
        ("aws_iam_group_policy.access_analysts-group_policy", ("update",)), ("aws_kms_key.data-key", ("update",)),
        ("data.aws_iam_policy_document.access_analysts-group_permissions_document", ("read",)), *deferred}


def test_drift_is_reported_and_an_apply_puts_it_right(deployed):
    deployment, _, _ = deployed
    logs = deployment.running().boto3_client("logs", DEV.region)
    logs.put_retention_policy(logGroupName=DEV.names.log_group, retentionInDays=1)  # changed behind Terraform's back
    report = deployment.drift("emulator")
    assert report is not None and "aws_cloudwatch_log_group.audit-trail_log-group" in report.read_text()
    summary = deployment.apply("emulator")
    assert "| changed | `aws_cloudwatch_log_group.audit-trail_log-group" in summary.read_text()
    assert logs.describe_log_groups(logGroupNamePrefix=DEV.names.log_group)["logGroups"][0]["retentionInDays"] == \
        DEV.retention.log_group_days


def test_down_destroys_stops_the_emulator_and_forgets(deployed):
    deployment, _, _ = deployed
    emulator: Emulator = deployment.running()
    s3 = emulator.boto3_client("s3", DEV.region)
    assert "destroyed " + DEV.name in "\n".join(deployment.destroy())
    left = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert not left & {DEV.data_bucket, DEV.results_bucket, DEV.trail_bucket, DEV.state.bucket}, left
    assert "stopped the emulator" in deployment.discard()
    assert not emulator_answers(emulator)
    assert not deployment.state_dir.exists()
