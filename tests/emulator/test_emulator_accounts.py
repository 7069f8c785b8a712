"""One emulator answering as several accounts (`running_emulator(None)`), as stacks that each deploy
into their own account need: a provider assumes a role in its account (`assume_role`), refuses
any other (`allowed_account_ids`), and what it creates lands in that account alone.

The configuration is the test's own, the way an organization's stacks declare their providers:
two aliased providers, an S3 bucket and an SNS topic in each account.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from definitions.paths import PROVIDER_LOCK_FILE
from operations.emulator import (
    DEFAULT_ACCOUNT,
    Emulator,
    deploy_stack,
    destroy_stack,
    running_emulator,
    write_override,
)
from operations.terraform import terraform
from stacks.terraform_settings import AWS_PROVIDER_VERSION

ACCOUNTS = ("444444444444", "555555555555")
REGION = "eu-west-1"


def bucket_name(account: str) -> str:
    return f"accounts-probe-{account}"


def two_accounts() -> dict:
    """Terraform JSON: a provider per account, assuming the role the emulator lets anyone assume."""
    providers, buckets, topics = [], {}, {}
    for account in ACCOUNTS:
        alias = f"account-{account}"
        providers.append({"alias": alias, "region": REGION, "allowed_account_ids": [account],
                          "assume_role": [{"role_arn": f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                                           "session_name": "terraform"}]})
        buckets[alias] = {"provider": f"aws.{alias}", "bucket": bucket_name(account)}
        topics[alias] = {"provider": f"aws.{alias}", "name": "accounts-probe"}
    return {"terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": AWS_PROVIDER_VERSION}}},
            "provider": {"aws": providers}, "resource": {"aws_s3_bucket": buckets, "aws_sns_topic": topics}}


def write_stack(folder: Path, config: dict) -> Path:
    folder.mkdir(parents=True)
    (folder / "cdk.tf.json").write_text(json.dumps(config, indent=2))
    shutil.copyfile(PROVIDER_LOCK_FILE, folder / PROVIDER_LOCK_FILE.name)
    return folder


@pytest.fixture(scope="module")
def deployed(tf_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, Path, dict]]:
    root = tmp_path_factory.mktemp("accounts")
    with running_emulator(None, log_path=root / "moto.log") as emulator:
        source = write_stack(root / "source", two_accounts())
        deploy_stack(source, root / "copy", emulator, tf_env)
        yield emulator, root / "copy", emulator.environment(tf_env)


def test_each_provider_creates_in_its_own_account(deployed):
    emulator, _, _ = deployed
    for account in ACCOUNTS:
        buckets = {b["Name"] for b in emulator.boto3_client("s3", REGION, account=account).list_buckets()["Buckets"]}
        assert buckets == {bucket_name(account)}, account
        (topic,) = emulator.boto3_client("sns", REGION, account=account).list_topics()["Topics"]
        assert topic["TopicArn"] == f"arn:aws:sns:{REGION}:{account}:accounts-probe"
    assert emulator.boto3_client("s3", REGION).list_buckets()["Buckets"] == [], f"nothing in {DEFAULT_ACCOUNT}"


def test_a_plan_right_after_the_apply_has_no_changes(deployed):
    _, folder, tf_env = deployed
    result = terraform(["plan", "-input=false", "-detailed-exitcode"], folder, tf_env, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_a_provider_refuses_an_account_it_does_not_allow(deployed, tmp_path: Path):
    emulator, _, tf_env = deployed
    config = copy.deepcopy(two_accounts())
    config["provider"]["aws"][0]["allowed_account_ids"] = [ACCOUNTS[1]]  # assumes a role in ACCOUNTS[0]
    folder = write_stack(tmp_path / "source", config)
    write_override(folder, emulator)
    terraform(["init", "-input=false"], folder, tf_env)
    result = terraform(["plan", "-input=false"], folder, tf_env, check=False)
    assert result.returncode == 1
    assert f"AWS account ID not allowed: {ACCOUNTS[0]}" in result.stderr, result.stderr[-2000:]


def test_destroy_leaves_no_account_anything(deployed):
    emulator, folder, tf_env = deployed
    destroy_stack(folder, tf_env)
    for account in ACCOUNTS:
        assert emulator.boto3_client("s3", REGION, account=account).list_buckets()["Buckets"] == [], account
        assert emulator.boto3_client("sns", REGION, account=account).list_topics()["Topics"] == [], account
