"""The rule pack: invariants checked on every synth, in the manner of cdk-nag.

Each rule has an id, a one-line explanation and a check: a pure function of one construct that
returns what is wrong with it. `RulePack` runs every rule over every construct of a stack as a
cdktf Aspect; a finding becomes an error annotation naming the rule and the construct path, which
makes `app.synth()` fail. Rules only read, so running them twice changes nothing.

A rule can be suppressed for one construct and everything below it with `suppress(construct,
rule_id, reason)`; the reason is required and is part of the code under review. A suppression
that no longer matches any finding fails the synth too, so none outlives its cause.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable, Iterable, Iterator, Sequence

import jsii
from cdktf import Annotations, IAspect, TerraformResource, TerraformStack, Token
from constructs import IConstruct

from modules.foundation.bindings import (
    cloudwatch_log_metric_filter,
    data_aws_iam_policy_document,
    iam_group_policy,
    iam_role,
    iam_role_policy,
    kms_key,
    s3_bucket,
    s3_bucket_policy,
    sns_topic_policy,
)
from modules.foundation.policy import PolicyDocument, Statement
from modules.storage.encryption_key import EncryptionKey
from modules.storage.secure_bucket import SecureBucket

MIN_REASON_LENGTH = 20
_SUPPRESSIONS = "_rule_suppressions"


@dataclasses.dataclass(frozen=True)
class StackFacts:
    """What some rules need to know about the stack being checked."""

    stack: TerraformStack
    production: bool
    protected: Sequence[str]


@dataclasses.dataclass(frozen=True)
class Rule:
    id: str
    explanation: str
    check: Callable[[IConstruct, StackFacts], Iterable[str]]  # details of each finding


# --- the checks -------------------------------------------------------------------------------

# Resource attributes that hold a whole policy document.
POLICY_ATTRIBUTES = {
    kms_key.KmsKey: "policy", s3_bucket_policy.S3BucketPolicy: "policy", iam_role.IamRole: "assume_role_policy",
    iam_role_policy.IamRolePolicy: "policy", iam_group_policy.IamGroupPolicy: "policy",
    sns_topic_policy.SnsTopicPolicy: "policy",
}


def _bucket_is_secure(node: IConstruct, facts: StackFacts) -> Iterator[str]:
    if isinstance(node, s3_bucket.S3Bucket) and not isinstance(node.node.scope, SecureBucket):
        yield "an aws_s3_bucket made outside SecureBucket lacks its encryption, TLS and access block"


def _bucket_uses_kms(node: IConstruct, facts: StackFacts) -> Iterator[str]:
    if isinstance(node, SecureBucket) and node.key is None:
        yield "default encryption is SSE-S3, not SSE-KMS with a customer managed key"


def _policy_is_a_document(node: IConstruct, facts: StackFacts) -> Iterator[str]:
    if isinstance(node, data_aws_iam_policy_document.DataAwsIamPolicyDocument) and \
            not isinstance(node.node.scope, PolicyDocument):
        yield "an aws_iam_policy_document made outside PolicyDocument escapes the statement rules"
    for resource_type, attribute in POLICY_ATTRIBUTES.items():
        if isinstance(node, resource_type):
            value = getattr(node, f"{attribute}_input")  # what was passed in, not the attribute's reference
            if value is not None and not (isinstance(value, str) and Token.is_unresolved(value)):
                yield f"{attribute} is literal JSON, not a PolicyDocument's json"


def _statements(node: IConstruct, effect: str) -> Iterator[Statement]:
    if isinstance(node, PolicyDocument):
        yield from (s for s in node.statements if s.effect == effect)


def _no_unconditioned_wildcard_principal(node: IConstruct, facts: StackFacts) -> Iterator[str]:
    for statement in _statements(node, "Allow"):
        if any("*" in ids for ids in statement.principals.values()) and not statement.conditions:
            yield f"statement {statement.sid} allows principal '*' without a condition"


def _is_key_root_statement(node: IConstruct, statement: Statement) -> bool:
    key = node.node.scope
    return isinstance(key, EncryptionKey) and statement.principals == {"AWS": (key.root_arn,)}


def _no_wildcard_actions(node: IConstruct, facts: StackFacts) -> Iterator[str]:
    for statement in _statements(node, "Allow"):
        if _is_key_root_statement(node, statement):
            continue  # the key policy's account-root statement: AWS's default, kept for recovery
        if statement.not_actions:
            yield f"statement {statement.sid} allows everything but {len(statement.actions)} actions (NotAction)"
        for action in statement.actions:
            if action == "*" or action.endswith(":*"):
                yield f"statement {statement.sid} allows {action!r}"


def _unique_sids(node: IConstruct, facts: StackFacts) -> Iterator[str]:
    if isinstance(node, PolicyDocument):
        sids = [s.sid for s in node.statements]
        for sid in sorted({sid for sid in sids if sids.count(sid) > 1}):
            yield f"{sids.count(sid)} different statements have Sid {sid}"


def _protected_in_production(node: IConstruct, facts: StackFacts) -> Iterator[str]:
    if node is not facts.stack:
        return
    resources = {child.node.path.split("/", 1)[1]: child for child in node.node.find_all()
                 if isinstance(child, TerraformResource)}
    for pattern in facts.protected:
        matched = [path for path in resources if fnmatch.fnmatchcase(path, pattern)]
        if not matched:
            yield f"the protected list names {pattern!r}, which matches no resource of the stack"
        for path in matched if facts.production else ():
            lifecycle = resources[path].lifecycle
            if not (lifecycle and lifecycle.prevent_destroy):
                yield f"{path} is stateful and must carry prevent_destroy in production"


# CloudTrail fields with a value per account, principal or address: a metric dimension on one makes
# a custom metric per value (CloudWatch pricing: $0.30 a metric a month), growing with the
# organization; the CIS filters across 1,000 accounts would be 15,000 metrics.
UNBOUNDED_FIELDS = ("$.recipientAccountId", "$.userIdentity.accountId", "$.userIdentity.arn",
                    "$.userIdentity.principalId", "$.userIdentity.sessionContext.sessionIssuer.accountId",
                    "$.userIdentity.sessionContext.sessionIssuer.arn", "$.sourceIPAddress")


def _bounded_metric_dimensions(node: IConstruct, facts: StackFacts) -> Iterator[str]:
    if not isinstance(node, cloudwatch_log_metric_filter.CloudwatchLogMetricFilter):
        return
    transformation = node.metric_transformation_input
    dimensions = getattr(transformation, "dimensions", None) or {}
    for name, field in sorted(dimensions.items()):
        if field in UNBOUNDED_FIELDS:
            yield f"dimension {name} takes {field}: a custom metric per value, billed each month"


RULES: tuple[Rule, ...] = (
    Rule("SecureBucketsOnly", "Every S3 bucket is a SecureBucket.", _bucket_is_secure),
    Rule("BucketsUseKms", "Every bucket encrypts with a customer managed KMS key (the seed's \"at rest: SSE-KMS\").",
         _bucket_uses_kms),
    Rule("PolicyDocumentsOnly", "Every policy is built by PolicyDocument, so the policy rules see it.",
         _policy_is_a_document),
    Rule("NoOpenPrincipal", "No Allow statement names principal '*' without a condition.",
         _no_unconditioned_wildcard_principal),
    Rule("NoWildcardActions", "No Allow of '*', 'service:*' or NotAction, but a key policy's account-root statement.",
         _no_wildcard_actions),
    Rule("UniqueSids", "Sids are unique within each policy document.", _unique_sids),
    Rule("ProtectedInProduction", "In production, every stateful resource on the stack's protected list carries "
         "prevent_destroy.", _protected_in_production),
    Rule("BoundedMetricDimensions", "No metric filter makes a metric per account, principal or source address.",
         _bounded_metric_dimensions),
)
RULE_IDS = {rule.id for rule in RULES}


# --- suppressions -----------------------------------------------------------------------------


def suppress(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Exempt `construct` and everything below it from one rule, for a written reason."""
    if rule_id not in RULE_IDS:
        raise ValueError(f"{construct.node.path}: no rule {rule_id!r} to suppress (rules: {', '.join(sorted(RULE_IDS))})")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"{construct.node.path}: suppressing {rule_id} needs a reason of at least "
                         f"{MIN_REASON_LENGTH} characters, got {reason!r}")
    suppressions = getattr(construct, _SUPPRESSIONS, None) or {}
    setattr(construct, _SUPPRESSIONS, {**suppressions, rule_id: reason.strip()})


def _suppressor(node: IConstruct, rule_id: str) -> IConstruct | None:
    for scope in reversed(node.node.scopes):
        if rule_id in (getattr(scope, _SUPPRESSIONS, None) or {}):
            return scope
    return None


@jsii.implements(IAspect)
class RulePack:
    """Every rule over every construct of the stack it is added to."""

    def __init__(self, *, production: bool = False, protected: Sequence[str] = (), rules: Sequence[Rule] = RULES) -> None:
        self.production, self.protected, self.rules = production, tuple(protected), tuple(rules)

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, TerraformStack):
            return
        facts = StackFacts(stack=node, production=self.production, protected=self.protected)
        used: set[tuple[str, str]] = set()
        for construct in node.node.find_all():
            for rule in self.rules:
                for detail in rule.check(construct, facts):
                    suppressor = _suppressor(construct, rule.id)
                    if suppressor is not None:
                        used.add((suppressor.node.path, rule.id))
                        continue
                    Annotations.of(construct).add_error(f"[{rule.id}] {detail} (rule: {rule.explanation})")
        for construct in node.node.find_all():
            for rule_id in getattr(construct, _SUPPRESSIONS, None) or {}:
                if (construct.node.path, rule_id) not in used:
                    Annotations.of(construct).add_error(f"[{rule_id}] suppressed here, but nothing here breaks it: "
                                                        "remove the suppression")
