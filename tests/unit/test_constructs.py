"""Construct behaviour the environment files do not exercise: optional settings, the grant and
policy mechanics that keep policies consistent as the stack grows, and each construct refusing
input AWS would refuse."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from cdktf import Testing as CdktfTesting
from constructs import Construct

from modules.audit.audit_trail import AuditTrail
from modules.foundation.bindings import sns_topic
from modules.foundation.iam import Group, Role
from modules.foundation.policy import PolicyDocument, Statement
from modules.foundation.rendering import former_logical_id
from modules.storage.encryption_key import EncryptionKey
from modules.storage.secure_bucket import ObjectLock, SecureBucket
from stacks.environment_stacks import PlatformStack
from tests.scratch import ACCOUNT, REGION, scratch_stack, synth_failure
from tests.stack_queries import address, by_sid, conditions, one, principals, ref, statements
from tests.support import first_environment

ADMIN = f"arn:aws:iam::{ACCOUNT}:role/KeyAdmins"
ENV = first_environment(production=False)
TRUST_LAMBDA = [Statement(sid="TrustLambda", actions=["sts:AssumeRole"], principals={"Service": ["lambda.amazonaws.com"]})]


@pytest.fixture(scope="module")
def variant() -> dict:
    env = dataclasses.replace(ENV, analysts_direct_athena=True, key_admin_arns=(ADMIN,), alarm_emails=("a@example.com",))
    return json.loads(CdktfTesting.synth(PlatformStack(CdktfTesting.app(), env), True))


def test_analysts_may_query_athena_directly_when_enabled(variant):
    found = by_sid(statements(variant, one(variant, "aws_iam_group_policy", "access_analysts-group_policy")["policy"]))
    assert "athena:StartQueryExecution" in found["RunAthenaQueries"]["actions"]
    assert found["ReadWriteResultsBucketObjects"]["resources"] == [
        f"arn:{ENV.partition}:s3:::{ENV.results_bucket}/query-results/*"]
    # Humans act as themselves there, not as the role; of the grantees the data bucket admits the role only.
    deny = by_sid(statements(variant, one(variant, "aws_s3_bucket_policy", "data-bucket_bucket-policy")["policy"]))
    admitted = conditions(deny["DenyObjectAccessToOthers"])[("ArnNotEquals", "aws:PrincipalArn")]
    assert [a for a in admitted if a.startswith("${")] == [ref(variant, "aws_iam_role", "access_application-role", "arn")]


def test_key_administrators_are_separated_from_key_users(variant):
    for key in ("data-key", "alerting-key"):
        found = by_sid(statements(variant, one(variant, "aws_kms_key", key)["policy"]))
        admin = found["AllowKeyAdministration"]
        assert principals(admin) == {"AWS": [ADMIN]}
        assert "kms:ScheduleKeyDeletion" in admin["actions"] and "kms:PutKeyPolicy" in admin["actions"]
        assert not [a for a in admin["actions"] if a in ("kms:Decrypt", "kms:Encrypt", "kms:*") or a.startswith("kms:GenerateDataKey")]


def test_alarm_emails_subscribe_to_both_topics(variant):
    subscriptions = list(variant["resource"]["aws_sns_topic_subscription"].values())
    assert sorted((s["topic_arn"], s["protocol"], s["endpoint"]) for s in subscriptions) == sorted(
        (ref(variant, "aws_sns_topic", topic, "arn"), "email", "a@example.com") for topic in ("alarm-topic", "audit-path-topic"))


def test_the_decrypt_alarm_spares_every_identity_granted_the_data_key(variant):
    """With analysts querying directly, the group's members (every IAM user here) are granted the
    results through S3: their decrypts are not "by others"."""
    pattern = next(f["pattern"] for f in variant["resource"]["aws_cloudwatch_log_metric_filter"].values()
                   if f["name"] == "DataKeyDecryptByOthers")
    for identity in (f"arn:aws:sts::{ACCOUNT}:assumed-role/{ENV.names.role}/*", f"arn:aws:iam::{ACCOUNT}:user/*"):
        assert f'($.userIdentity.arn != \\"{identity}\\")' in pattern


def test_the_alarm_topic_moves_rather_than_being_replaced(variant):
    """Before the two alert topics, the alarm topic, its policy and its subscriptions lived under
    `monitoring/`: `moved` blocks keep them (a new topic would lose the confirmed subscriptions)."""
    moved = {(m["from"], m["to"]) for m in variant["moved"]}
    for rtype, old, new in (("aws_sns_topic", "monitoring/topic", "alarm-topic"),
                            ("aws_sns_topic_policy", "monitoring/topic-policy-attachment", "alarm-topic_topic-policy-attachment"),
                            ("aws_sns_topic_subscription", "monitoring/email-0", "alarm-topic_email-0")):
        assert (f"{rtype}.{former_logical_id(old)}", address(variant, rtype, new)) in moved
    assert len(moved) == 3


def test_former_logical_ids_are_the_ones_cdktf_allocates(tmp_path: Path):
    stack = scratch_stack(tmp_path)
    parent = Construct(stack, "monitoring")
    sns_topic.SnsTopic(parent, "topic-policy-attachment", name="t")
    synthesized = json.loads(CdktfTesting.synth(stack))
    assert list(synthesized["resource"]["aws_sns_topic"]) == [former_logical_id("monitoring/topic-policy-attachment")]


def test_identical_statements_merge(tmp_path: Path):
    document = PolicyDocument(scratch_stack(tmp_path), "doc")
    statement = Statement(sid="ReadThings", actions=["s3:GetObject"], resources=["arn:aws:s3:::b/*"])
    document.add(statement)
    document.add(Statement(sid="ReadThings", actions=("s3:GetObject",), resources=("arn:aws:s3:::b/*",)))
    assert document.statements == (statement,)


def test_statement_rejects_bad_effect_and_sid():
    with pytest.raises(ValueError, match="effect"):
        Statement(sid="X", actions=["s3:GetObject"], effect="Maybe")
    with pytest.raises(ValueError, match="alphanumeric"):
        Statement(sid="not-alnum", actions=["s3:GetObject"])


def test_a_restricted_bucket_refuses_grantees_without_a_principal_arn(tmp_path: Path):
    stack = scratch_stack(tmp_path)
    key = EncryptionKey(stack, "key", alias="alias/k", description="k")
    bucket = SecureBucket(stack, "bucket", name="acme-restricted", key=key, restrict_to_grantees=True)
    group = Group(stack, "group", name="Humans")
    with pytest.raises(ValueError, match="admits named principals only"):
        bucket.grant_read(group.grantee)


def test_a_grant_reaches_the_identity_policy_the_key_policy_and_the_bucket_policy(tmp_path: Path):
    stack = scratch_stack(tmp_path)
    key = EncryptionKey(stack, "key", alias="alias/k", description="k")
    bucket = SecureBucket(stack, "bucket", name="acme-granted", key=key, restrict_to_grantees=True)
    role = Role(stack, "reader", name="Reader", description="reads", trust=TRUST_LAMBDA)
    bucket.grant_read(role.grantee)
    synthesized = json.loads(CdktfTesting.synth(stack, True))
    identity = by_sid(statements(synthesized, one(synthesized, "aws_iam_role_policy", "reader_policy")["policy"]))
    assert identity["ReadBucketObjects"]["resources"] == ["arn:aws:s3:::acme-granted/*"]
    assert identity["UseKeyThroughReadBucket"]["actions"] == ["kms:Decrypt"]
    key_policy = by_sid(statements(synthesized, one(synthesized, "aws_kms_key", "key")["policy"]))
    assert conditions(key_policy["S3ServiceUseReadBucketForReader"]) == {
        ("StringEquals", "kms:ViaService"): [f"s3.{REGION}.amazonaws.com"]}
    bucket_policy = by_sid(statements(synthesized, one(synthesized, "aws_s3_bucket_policy", "bucket_bucket-policy")["policy"]))
    assert "DenyObjectAccessToOthers" in bucket_policy


def test_constructs_take_account_region_and_partition_from_their_stack(tmp_path: Path):
    stack = scratch_stack(tmp_path)
    key = EncryptionKey(stack, "key", alias="alias/k", description="k")
    assert key.alias_arn == f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/k"
    assert key.root_arn == f"arn:aws:iam::{ACCOUNT}:root"
    assert SecureBucket(stack, "bucket", name="acme-context", key=key).arn == "arn:aws:s3:::acme-context"


# --- each construct refuses what AWS would refuse, with its path ---------------------------------


def test_secure_bucket_refuses_an_invalid_bucket_name(tmp_path: Path):
    stack = scratch_stack(tmp_path)
    SecureBucket(stack, "bucket", name="Acme_Bucket", key=EncryptionKey(stack, "key", alias="alias/k", description="k"))
    message = synth_failure(stack)
    assert "[scratch/bucket] name: bucket name 'Acme_Bucket' may hold only lowercase letters" in message


def test_encryption_key_refuses_an_invalid_alias(tmp_path: Path):
    stack = scratch_stack(tmp_path)
    EncryptionKey(stack, "key", alias="alias/aws/s3", description="k")
    assert "[scratch/key] alias: must be 'alias/' followed by" in synth_failure(stack)


def test_role_refuses_an_invalid_iam_name(tmp_path: Path):
    stack = scratch_stack(tmp_path)
    Role(stack, "role", name="r" * 65, description="too long", trust=TRUST_LAMBDA)
    assert "[scratch/role] name: must be a valid IAM role name (1-64" in synth_failure(stack)


def test_group_refuses_an_invalid_iam_name(tmp_path: Path):
    stack = scratch_stack(tmp_path)
    Group(stack, "group", name="analysts team")
    assert "[scratch/group] name: must be a valid IAM group name" in synth_failure(stack)


def test_object_lock_needs_a_versioned_bucket(tmp_path: Path):
    stack = scratch_stack(tmp_path)
    key = EncryptionKey(stack, "key", alias="alias/k", description="k")
    with pytest.raises(ValueError, match="scratch/unversioned: Object Lock needs a versioned bucket"):
        SecureBucket(stack, "unversioned", name="acme-unversioned", key=key, versioned=False,
                     object_lock=ObjectLock(mode="GOVERNANCE", days=1))
    SecureBucket(stack, "versioned", name="acme-versioned", key=key, object_lock=ObjectLock(mode="GOVERNANCE", days=1))


@pytest.mark.parametrize("loop", ["trail bucket", "excluded bucket"])
def test_a_trail_refuses_to_record_the_buckets_it_writes_to(tmp_path: Path, loop: str):
    stack = scratch_stack(tmp_path)
    key, alerting = (EncryptionKey(stack, n, alias=f"alias/{n}", description=n) for n in ("key", "alerting"))
    logs = SecureBucket(stack, "logs", name="acme-trail-logs", key=key)
    access_logs = SecureBucket(stack, "access-logs", name="acme-access-logs", key=None)
    watched = logs if loop == "trail bucket" else access_logs
    with pytest.raises(ValueError, match=f"scratch/trail: data events of {watched.name} would be written where they happen"):
        AuditTrail(stack, "trail", name="t", bucket=logs, key=key, log_group_name="g", log_group_key=alerting,
                   log_retention_days=365, logs_role_name="TrailLogs", watched_buckets=[watched],
                   excluded_buckets=[access_logs])


def test_valid_input_synthesizes(tmp_path: Path):
    stack = scratch_stack(tmp_path)
    key = EncryptionKey(stack, "key", alias="alias/k", description="k")
    SecureBucket(stack, "bucket", name="acme-valid", key=key)
    Role(stack, "role", name="r" * 64, description="longest name", trust=TRUST_LAMBDA)
    Group(stack, "group", name="g" * 128)
    stack.node.root.synth()
    assert (tmp_path / "stacks" / "scratch" / "cdk.tf.json").is_file()
