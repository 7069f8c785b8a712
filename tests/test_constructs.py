"""Construct behaviour the committed environments do not exercise: optional settings, and the
grant and policy mechanics that keep policies consistent as the stack grows."""

from __future__ import annotations

import dataclasses
import json

import pytest
from cdktf import Testing as CdktfTesting
from cdktf import TerraformStack

from conftest import environment
from modules.aws import provider
from modules.encryption_key import EncryptionKey
from modules.iam import Group, Role
from modules.policy import PolicyDocument, Statement
from modules.secure_bucket import SecureBucket
from modules.stacks import PlatformStack
from stack_queries import by_sid, conditions, one, principals, statements

ADMIN = "arn:aws:iam::111111111111:role/KeyAdmins"


def synth_platform(**changes) -> dict:
    env = dataclasses.replace(environment("dev"), **changes)
    return json.loads(CdktfTesting.synth(PlatformStack(CdktfTesting.app(), env), True))


@pytest.fixture(scope="module")
def variant() -> dict:
    return synth_platform(analysts_direct_athena=True, key_admin_arns=(ADMIN,), alarm_emails=("a@example.com",))


def test_analysts_may_query_athena_directly_when_enabled(variant):
    found = by_sid(statements(variant, one(variant, "aws_iam_group_policy", "access_analysts-group_policy")["policy"]))
    assert "athena:StartQueryExecution" in found["RunAthenaQueries"]["actions"]
    assert found["ReadWriteResultsBucketObjects"]["resources"] == ["arn:aws:s3:::acme-dev-athena-results/query-results/*"]
    # Humans act as themselves there, not as the role; the data bucket still admits the role only.
    deny = by_sid(statements(variant, one(variant, "aws_s3_bucket_policy", "data-bucket_bucket-policy")["policy"]))
    assert len(conditions(deny["DenyObjectAccessToOthers"])[("ArnNotEquals", "aws:PrincipalArn")]) == 1


def test_key_administrators_are_separated_from_key_users(variant):
    for key in ("data-key", "alerting-key"):
        found = by_sid(statements(variant, one(variant, "aws_kms_key", key)["policy"]))
        admin = found["AllowKeyAdministration"]
        assert principals(admin) == {"AWS": [ADMIN]}
        assert "kms:ScheduleKeyDeletion" in admin["actions"] and "kms:PutKeyPolicy" in admin["actions"]
        assert not [a for a in admin["actions"] if a in ("kms:Decrypt", "kms:Encrypt", "kms:*") or a.startswith("kms:GenerateDataKey")]


def test_alarm_emails_subscribe_to_the_topic(variant):
    subscriptions = list(variant["resource"]["aws_sns_topic_subscription"].values())
    assert [(s["protocol"], s["endpoint"]) for s in subscriptions] == [("email", "a@example.com")]


def _scratch_stack() -> TerraformStack:
    stack = TerraformStack(CdktfTesting.app(), "scratch")
    provider.AwsProvider(stack, "aws", region="eu-west-1")
    return stack


def test_identical_statements_merge_and_conflicting_ones_fail():
    stack = _scratch_stack()
    document = PolicyDocument(stack, "doc")
    statement = Statement(sid="ReadThings", actions=["s3:GetObject"], resources=["arn:aws:s3:::b/*"])
    document.add(statement)
    document.add(Statement(sid="ReadThings", actions=("s3:GetObject",), resources=("arn:aws:s3:::b/*",)))
    assert document.statements == (statement,)
    with pytest.raises(ValueError, match="two different statements with Sid ReadThings"):
        document.add(Statement(sid="ReadThings", actions=["s3:PutObject"], resources=["arn:aws:s3:::b/*"]))


def test_statement_rejects_bad_effect_and_sid():
    with pytest.raises(ValueError, match="effect"):
        Statement(sid="X", actions=["s3:GetObject"], effect="Maybe")
    with pytest.raises(ValueError, match="alphanumeric"):
        Statement(sid="not-alnum", actions=["s3:GetObject"])


def test_a_restricted_bucket_refuses_grantees_without_a_principal_arn():
    stack = _scratch_stack()
    key = EncryptionKey(stack, "key", alias="alias/k", description="k", account_id="111111111111", region="eu-west-1")
    bucket = SecureBucket(stack, "bucket", name="acme-restricted", key=key, restrict_to_grantees=True)
    group = Group(stack, "group", name="Humans")
    with pytest.raises(ValueError, match="admits named principals only"):
        bucket.grant_read(group.grantee)


def test_a_grant_reaches_the_identity_policy_the_key_policy_and_the_bucket_policy():
    stack = _scratch_stack()
    key = EncryptionKey(stack, "key", alias="alias/k", description="k", account_id="111111111111", region="eu-west-1")
    bucket = SecureBucket(stack, "bucket", name="acme-granted", key=key, restrict_to_grantees=True)
    role = Role(stack, "reader", name="Reader", description="reads",
                trust=[Statement(sid="TrustLambda", actions=["sts:AssumeRole"], principals={"Service": ["lambda.amazonaws.com"]})])
    bucket.grant_read(role.grantee)
    synthesized = json.loads(CdktfTesting.synth(stack, True))
    identity = by_sid(statements(synthesized, one(synthesized, "aws_iam_role_policy", "reader_policy")["policy"]))
    assert identity["ReadBucketObjects"]["resources"] == ["arn:aws:s3:::acme-granted/*"]
    assert identity["DecryptKey"]["actions"] == ["kms:Decrypt", "kms:DescribeKey"]
    key_policy = by_sid(statements(synthesized, one(synthesized, "aws_kms_key", "key")["policy"]))
    assert conditions(key_policy["DecryptReader"]) == {("StringEquals", "kms:ViaService"): ["s3.eu-west-1.amazonaws.com"]}
    bucket_policy = by_sid(statements(synthesized, one(synthesized, "aws_s3_bucket_policy", "bucket_bucket-policy")["policy"]))
    assert "DenyObjectAccessToOthers" in bucket_policy
