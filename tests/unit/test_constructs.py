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

from modules.access.application_access import Access
from modules.access.ci_roles import GitHubDeployRoles
from modules.analytics.athena import Analytics
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


def scratch_trail(stack: Construct, **overrides) -> AuditTrail:
    key, alerting = (EncryptionKey(stack, n, alias=f"alias/{n}", description=n) for n in ("key", "alerting"))
    logs = SecureBucket(stack, "logs", name="acme-trail-logs", key=key)
    settings = {"name": "trail", "bucket": logs, "key": key, "log_group_name": "/trail", "log_group_key": alerting,
                "log_retention_days": 365, "logs_role_name": "TrailLogs", **overrides}
    return AuditTrail(stack, "trail", **settings)


def scratch_analytics(stack: Construct, **overrides) -> Analytics:
    trail = scratch_trail(stack)
    results = SecureBucket(stack, "results", name="acme-results", key=trail.bucket.key, versioned=False)
    data = SecureBucket(stack, "data", name="acme-data", key=trail.bucket.key)
    role = Role(stack, "role", name="App", description="app", trust=TRUST_LAMBDA)
    settings = {"workgroup_name": "wg", "database_name": "logs", "trail": trail, "results_bucket": results, "key": trail.bucket.key,
                "data_bucket": data, "application_role": role, "projection_start": "2025/01/01", "projected_regions": [REGION],
                **overrides}
    return Analytics(stack, "analytics", **settings)


@pytest.mark.parametrize(("build", "line"), [
    (lambda s: EncryptionKey(s, "short-window", alias="alias/k", description="k", deletion_window_days=6),
     "[scratch/short-window] deletion_window_days: must be from 7 to 30, got 6"),
    (lambda s: EncryptionKey(s, "long-window", alias="alias/k", description="k", deletion_window_days=31),
     "[scratch/long-window] deletion_window_days: must be from 7 to 30, got 31"),
    (lambda s: scratch_trail(s, name="my trail"), "[scratch/trail] name: must be 3-128 letters, digits"),
    (lambda s: scratch_trail(s, log_group_name="logs?"), "[scratch/trail] log_group_name: must be 1-512 letters"),
    (lambda s: scratch_trail(s, log_retention_days=366), "[scratch/trail] log_retention_days: CloudWatch Logs accepts only"),
    (lambda s: scratch_analytics(s, workgroup_name="data analysis"), "[scratch/analytics] workgroup_name: must be 1-128 letters"),
    (lambda s: scratch_analytics(s, database_name="CloudTrail-Logs"), "[scratch/analytics] database_name: must be lowercase letters"),
    (lambda s: scratch_analytics(s, bytes_scanned_cutoff=1024), "[scratch/analytics] bytes_scanned_cutoff: must be at least 10485760"),
    (lambda s: scratch_analytics(s, projection_start="2025-01-01"), "[scratch/analytics] projection_start: must be a date as YYYY/MM/DD"),
    (lambda s: scratch_analytics(s, projected_regions=["eu-west-9"]), "[scratch/analytics] projected_regions: must be an AWS region"),
    (lambda s: GitHubDeployRoles(s, "github", repository="acme", environment="dev", plan_role_name="p", apply_role_name="a",
                                 plan_policy={"Statement": []}, apply_policy={"Statement": []}),
     "[scratch/github] repository: must be a GitHub repository as '<owner>/<name>'"),
    (lambda s: GitHubDeployRoles(s, "github", repository="acme/app", environment="dev", plan_role_name="p", apply_role_name="a",
                                 plan_policy={"Statement": []}, apply_policy={"Statement": []},
                                 provider_arn="arn:aws:iam::111111111111:oidc-provider/example.com"),
     "[scratch/github] provider_arn: must be the ARN of an IAM OIDC provider for token.actions.githubusercontent.com"),
], ids=["window-6", "window-31", "trail", "log-group", "retention", "workgroup", "database", "cutoff", "projection-start",
        "projected-regions", "repository", "oidc-provider"])
def test_each_construct_refuses_input_aws_would_refuse(tmp_path: Path, build, line: str):
    stack = scratch_stack(tmp_path)
    build(stack)
    assert line in synth_failure(stack)


def test_the_same_constructs_synthesize_with_valid_input(tmp_path: Path):
    """The checks above refuse only the bad value: the same constructs with valid input synthesize."""
    stack = scratch_stack(tmp_path)
    EncryptionKey(stack, "window", alias="alias/window", description="k", deletion_window_days=7)
    scratch_analytics(stack)
    GitHubDeployRoles(stack, "github", repository="acme/app", environment="dev", plan_role_name="p", apply_role_name="a",
                      plan_policy={"Statement": []}, apply_policy={"Statement": []})
    stack.node.root.synth()
    assert (tmp_path / "stacks" / "scratch" / "cdk.tf.json").is_file()


# --- composites expose their parts; grants say what they added ------------------------------------


def test_composites_expose_their_parts_not_one_members_name(tmp_path: Path):
    stack = scratch_stack(tmp_path)
    access = Access(stack, "access", role_name="App", group_name="Analysts", trusted_services=["lambda.amazonaws.com"])
    roles = GitHubDeployRoles(stack, "github", repository="acme/app", environment="dev", plan_role_name="plan", apply_role_name="apply",
                              plan_policy={"Statement": []}, apply_policy={"Statement": []})
    assert (access.role.name, access.group.name) == ("App", "Analysts")
    assert (roles.plan_role.name, roles.apply_role.name) == ("plan", "apply")
    for composite in (access, roles):
        assert not any(hasattr(composite, attribute) for attribute in ("name", "arn", "resource")), composite.node.path


def test_a_grant_returns_every_statement_it_added(tmp_path: Path):
    stack = scratch_stack(tmp_path)
    analytics = scratch_analytics(stack)
    key = EncryptionKey(stack, "granted-key", alias="alias/granted", description="k")
    bucket = SecureBucket(stack, "bucket", name="acme-granted", key=key)
    role = Role(stack, "granted-role", name="App", description="app", trust=TRUST_LAMBDA)
    added = bucket.grant_read_write(role.grantee)
    identity, key_policy = list(role.permissions.statements), list(key.policy.statements)
    assert {s.sid for s in added} == {"ReadWriteBucketObjects", "ListBucket", "UseGrantedKeyThroughReadWriteBucket",
                                      "S3ServiceUseReadWriteBucketForApp"}
    assert all(s in identity or s in key_policy for s in added)
    assert any(s in key_policy for s in added) and any(s in identity for s in added)
    before = list(role.permissions.statements)
    queried = analytics.grant_query(role.grantee)
    new = [s for s in role.permissions.statements if s not in before]
    assert new and all(s in queried for s in new)
    assert {"RunAthenaQueries", "ReadCloudTrailCatalog"} <= {s.sid for s in queried}
