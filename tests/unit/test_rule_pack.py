"""The rule pack: each rule fails the synth of a rogue construct with its id and the construct's
path; suppressions need a reason and must match a finding; main.py reports a broken rule in one
message, exit status 1, and leaves cdktf.out/ alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from modules.foundation.bindings import cloudwatch_log_metric_filter, data_aws_iam_policy_document, s3_bucket, s3_bucket_policy
from modules.foundation.policy import PolicyDocument, Statement
from modules.storage.encryption_key import EncryptionKey
from modules.storage.secure_bucket import SecureBucket
from rule_pack.rules import RULES, suppress
from tests.scratch import scratch_stack, synth_failure

OBJECTS = ["arn:aws:s3:::acme-rogue/*"]


def rule_failure(stack, rule_id: str, path: str) -> str:
    message = synth_failure(stack)
    assert f"[{path}] [{rule_id}]" in message, message
    return message


def test_every_rule_has_an_id_an_explanation_and_a_test():
    tested = {name.split("test_rule_", 1)[1].split("_", 1)[0] for name in globals() if name.startswith("test_rule_")}
    for rule in RULES:
        assert rule.id.isalnum() and rule.explanation.endswith(".")
        assert rule.id in tested, f"no test_rule_{rule.id}_... in this file"


def test_rule_SecureBucketsOnly_refuses_a_plain_bucket(tmp_path: Path):
    stack = scratch_stack(tmp_path)
    s3_bucket.S3Bucket(stack, "plain", bucket="plain-bucket")
    assert "made outside SecureBucket" in rule_failure(stack, "SecureBucketsOnly", "scratch/plain")


def test_rule_BucketsUseKms_refuses_an_sse_s3_bucket_unless_suppressed_with_a_reason(tmp_path: Path):
    stack = scratch_stack(tmp_path / "refused")
    SecureBucket(stack, "logs", name="acme-logs", key=None)
    assert "default encryption is SSE-S3" in rule_failure(stack, "BucketsUseKms", "scratch/logs")
    stack = scratch_stack(tmp_path / "suppressed")
    suppress(SecureBucket(stack, "logs", name="acme-logs", key=None), "BucketsUseKms",
             "S3 server access logs are delivered only to SSE-S3 buckets")
    stack.node.root.synth()


def test_rule_PolicyDocumentsOnly_refuses_a_bare_document_and_literal_json(tmp_path: Path):
    stack = scratch_stack(tmp_path)
    data_aws_iam_policy_document.DataAwsIamPolicyDocument(stack, "bare", statement=[
        data_aws_iam_policy_document.DataAwsIamPolicyDocumentStatement(actions=["s3:GetObject"], resources=OBJECTS)])
    s3_bucket_policy.S3BucketPolicy(stack, "literal", bucket="acme-rogue", policy='{"Version": "2012-10-17", "Statement": []}')
    message = rule_failure(stack, "PolicyDocumentsOnly", "scratch/bare")
    assert "[scratch/literal] [PolicyDocumentsOnly] policy is literal JSON" in message


def test_rule_NoOpenPrincipal_refuses_an_unconditioned_wildcard_principal(tmp_path: Path):
    stack = scratch_stack(tmp_path)
    PolicyDocument(stack, "doc", [Statement(sid="Open", actions=["s3:GetObject"], resources=OBJECTS, principals={"AWS": ["*"]})])
    assert "statement Open allows principal '*'" in rule_failure(stack, "NoOpenPrincipal", "scratch/doc")


def test_rule_NoOpenPrincipal_accepts_a_conditioned_wildcard_principal(tmp_path: Path):
    stack = scratch_stack(tmp_path)
    PolicyDocument(stack, "doc", [Statement(sid="Scoped", actions=["s3:GetObject"], resources=OBJECTS, principals={"AWS": ["*"]},
                                            conditions={"StringEquals": {"aws:PrincipalAccount": ["111111111111"]}})])
    stack.node.root.synth()


@pytest.mark.parametrize("statement", [
    Statement(sid="Star", actions=["*"], resources=["*"]),
    Statement(sid="ServiceStar", actions=["s3:GetObject", "kms:*"], resources=["*"]),
    Statement(sid="NotAction", actions=["iam:*"], resources=["*"], not_actions=True),
], ids=lambda s: s.sid)
def test_rule_NoWildcardActions_refuses_broad_allows(tmp_path: Path, statement: Statement):
    stack = scratch_stack(tmp_path)
    PolicyDocument(stack, "doc", [statement])
    assert f"statement {statement.sid} allows" in rule_failure(stack, "NoWildcardActions", "scratch/doc")


def test_rule_NoWildcardActions_exempts_only_the_key_policy_root_statement(tmp_path: Path):
    stack = scratch_stack(tmp_path)
    key = EncryptionKey(stack, "key", alias="alias/k", description="k")
    stack.node.root.synth()  # kms:* for the account root is AWS's default key policy statement
    key.allow(Statement(sid="AdminsEverything", actions=["kms:*"], resources=["*"],
                        principals={"AWS": ["arn:aws:iam::111111111111:role/Admin"]}))
    assert "statement AdminsEverything allows 'kms:*'" in rule_failure(stack, "NoWildcardActions", "scratch/key/policy")


def test_rule_UniqueSids_refuses_two_statements_under_one_sid(tmp_path: Path):
    stack = scratch_stack(tmp_path)
    document = PolicyDocument(stack, "doc", [Statement(sid="ReadThings", actions=["s3:GetObject"], resources=OBJECTS)])
    document.add(Statement(sid="ReadThings", actions=["s3:PutObject"], resources=OBJECTS))
    assert "2 different statements have Sid ReadThings" in rule_failure(stack, "UniqueSids", "scratch/doc")


def _protected_bucket(tmp_path: Path, *, production: bool, prevent_destroy: bool, protected=("bucket/bucket",)):
    stack = scratch_stack(tmp_path, production=production, protected=protected)
    key = EncryptionKey(stack, "key", alias="alias/k", description="k", prevent_destroy=prevent_destroy)
    SecureBucket(stack, "bucket", name="acme-protected", key=key, prevent_destroy=prevent_destroy)
    return stack


def test_rule_ProtectedInProduction_refuses_an_unprotected_stateful_resource(tmp_path: Path):
    stack = _protected_bucket(tmp_path, production=True, prevent_destroy=False)
    message = rule_failure(stack, "ProtectedInProduction", "scratch")
    assert "bucket/bucket is stateful and must carry prevent_destroy in production" in message


def test_rule_ProtectedInProduction_refuses_a_list_entry_that_matches_nothing(tmp_path: Path):
    stack = _protected_bucket(tmp_path, production=False, prevent_destroy=False, protected=("bucket/bucket", "gone/key"))
    assert "names 'gone/key', which matches no resource" in rule_failure(stack, "ProtectedInProduction", "scratch")


def test_rule_ProtectedInProduction_accepts_protection_and_non_production(tmp_path: Path):
    _protected_bucket(tmp_path / "prod", production=True, prevent_destroy=True).node.root.synth()
    _protected_bucket(tmp_path / "dev", production=False, prevent_destroy=False).node.root.synth()


# --- suppressions -----------------------------------------------------------------------------


def test_a_suppression_with_a_reason_exempts_the_construct(tmp_path: Path):
    stack = scratch_stack(tmp_path)
    document = PolicyDocument(stack, "deployer", [Statement(sid="Everything", actions=["s3:*"], resources=["*"])])
    suppress(document, "NoWildcardActions", "The deployer manages every bucket of the account by design.")
    stack.node.root.synth()


def test_a_suppression_needs_a_reason_and_a_known_rule(tmp_path: Path):
    document = PolicyDocument(scratch_stack(tmp_path), "doc")
    with pytest.raises(ValueError, match="needs a reason of at least 20 characters"):
        suppress(document, "NoWildcardActions", "because")
    with pytest.raises(ValueError, match="no rule 'NoSuchRule'"):
        suppress(document, "NoSuchRule", "a long enough reason for a rule that does not exist")


def test_a_suppression_that_matches_nothing_fails_the_synth(tmp_path: Path):
    stack = scratch_stack(tmp_path)
    document = PolicyDocument(stack, "doc", [Statement(sid="Narrow", actions=["s3:GetObject"], resources=OBJECTS)])
    suppress(document, "NoWildcardActions", "Left over from a statement that has since been narrowed.")
    assert "nothing here breaks it: remove the suppression" in rule_failure(stack, "NoWildcardActions", "scratch/doc")


def _metric_filter(tmp_path: Path, dimensions: dict[str, str]):
    stack = scratch_stack(tmp_path)
    cloudwatch_log_metric_filter.CloudwatchLogMetricFilter(
        stack, "filter", name="f", log_group_name="trail", pattern='{ $.eventName = "StopLogging" }',
        metric_transformation=cloudwatch_log_metric_filter.CloudwatchLogMetricFilterMetricTransformation(
            name="StopLogging", namespace="Test", value="1", dimensions=dimensions))
    return stack


def test_rule_BoundedMetricDimensions_refuses_a_metric_per_account(tmp_path: Path):
    stack = _metric_filter(tmp_path, {"Account": "$.recipientAccountId"})
    message = rule_failure(stack, "BoundedMetricDimensions", "scratch/filter")
    assert "dimension Account takes $.recipientAccountId: a custom metric per value" in message


def test_rule_BoundedMetricDimensions_accepts_a_bounded_dimension(tmp_path: Path):
    stack = _metric_filter(tmp_path, {"Operation": "$.eventName"})
    stack.node.root.synth()  # the rule pack passes
