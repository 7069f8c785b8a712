"""Policies as `aws_iam_policy_document` data sources, assembled from what constructs ask for.

Every policy of the stack (key policies, bucket policies, trust and identity policies, the topic
policy) is a `PolicyDocument`: statements are added by the constructs that need them (a bucket's
`grant_read`, the trail's bucket and key statements, ...) and rendered as one data source whose
`json` attribute the resource takes. Data sources (rather than serialized JSON strings) render
correctly in cdktf's HCL output and can be read back by policy tests and linters.

Grants follow AWS CDK: a `Grantee` has an identity policy document and, when it can be named in a
resource policy, a principal ARN.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

from constructs import Construct

from modules.foundation.bindings import data_aws_iam_policy_document as doc
from modules.foundation.rendering import at_synth

# Condition operator -> context key -> accepted values.
Conditions = Mapping[str, Mapping[str, Sequence[str]]]


def sid_part(text: str) -> str:
    """A name as a Sid fragment: 'data-key' -> 'DataKey' (Sids are alphanumeric)."""
    return "".join(word[:1].upper() + word[1:] for word in re.split(r"[^A-Za-z0-9]+", text))


@dataclasses.dataclass(frozen=True)
class Statement:
    """One policy statement. `principals` maps a principal type ("AWS", "Service", "*") to
    identifiers; leave it empty in identity policies."""

    sid: str
    actions: Sequence[str]
    resources: Sequence[str] = ()
    effect: str = "Allow"
    principals: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    conditions: Conditions = dataclasses.field(default_factory=dict)
    not_actions: bool = False  # actions are NotAction: everything except those listed

    def __post_init__(self) -> None:
        # Normalized to tuples so that equal statements compare equal whatever was passed in.
        object.__setattr__(self, "actions", tuple(self.actions))
        object.__setattr__(self, "resources", tuple(self.resources))
        object.__setattr__(self, "principals", {k: tuple(v) for k, v in self.principals.items()})
        object.__setattr__(self, "conditions", {t: {k: tuple(v) for k, v in c.items()} for t, c in self.conditions.items()})
        if self.effect not in ("Allow", "Deny"):
            raise ValueError(f"statement {self.sid}: effect must be Allow or Deny")
        if not self.sid.isalnum():
            raise ValueError(f"statement {self.sid!r}: Sid must be alphanumeric")

    def to_struct(self) -> doc.DataAwsIamPolicyDocumentStatement:
        return doc.DataAwsIamPolicyDocumentStatement(
            sid=self.sid,
            effect=self.effect,
            actions=None if self.not_actions else list(self.actions),
            not_actions=list(self.actions) if self.not_actions else None,
            resources=list(self.resources) or None,
            principals=[
                doc.DataAwsIamPolicyDocumentStatementPrincipals(type=kind, identifiers=list(ids))
                for kind, ids in self.principals.items()
            ] or None,
            condition=[
                doc.DataAwsIamPolicyDocumentStatementCondition(test=test, variable=variable, values=list(values))
                for test, by_key in self.conditions.items()
                for variable, values in by_key.items()
            ] or None,
        )


class PolicyDocument(Construct):
    """A policy document that grows as statements are added; `json` is its rendered text."""

    def __init__(self, scope: Construct, id: str, statements: Sequence[Statement] = ()) -> None:
        super().__init__(scope, id)
        self._statements: list[Statement] = []
        self._data = doc.DataAwsIamPolicyDocument(self, "document")
        # Rendered once, at synth, after every grant: one call into the jsii runtime per document
        # instead of one per statement added.
        at_synth(self, self.render)
        for statement in statements:
            self.add(statement)

    def add(self, statement: Statement) -> None:
        """Add a statement; adding an identical one again is a no-op (two grants may ask for the
        same permission). Two different statements under one Sid fail the synth (rule UniqueSids)."""
        if statement not in self._statements:
            self._statements.append(statement)

    def render(self) -> None:
        """Give the data source every statement (the block list is replaced whole; running again changes nothing)."""
        self._data.put_statement([s.to_struct() for s in self._statements])

    def replace(self, statement: Statement) -> None:
        """Add a statement, or replace the one with the same Sid (for statements that grow)."""
        self._statements = [s for s in self._statements if s.sid != statement.sid]
        self.add(statement)

    @property
    def statements(self) -> tuple[Statement, ...]:
        return tuple(self._statements)

    @property
    def json(self) -> str:
        return self._data.json


@dataclasses.dataclass(frozen=True)
class Grantee:
    """Something permissions can be granted to: an identity policy, and a principal ARN when the
    grantee can be named in resource policies (a role can; an IAM group cannot)."""

    name: str
    policy: PolicyDocument
    principal_arn: str | None = None
    # The `aws:PrincipalArn` of its callers (ArnLike patterns): a role's own ARN (its sessions carry
    # it), a group's members. A key that keeps its use to its grantees exempts these.
    caller_arns: Sequence[str] = ()
    # How CloudTrail records this grantee's calls, as `userIdentity.arn` values (`*` wildcards as
    # in metric filter patterns): alarms on a key tell the granted callers from the others.
    identities: Sequence[str] = ()

    def allow(self, sid: str, actions: Sequence[str], resources: Sequence[str],
              conditions: Conditions | None = None) -> Statement:
        """Add an Allow to the identity policy; returns it."""
        statement = Statement(sid=sid, actions=actions, resources=resources, conditions=conditions or {})
        self.policy.add(statement)
        return statement


def deny_insecure_transport(resources: Sequence[str]) -> Statement:
    """The TLS-only statement every bucket policy carries."""
    return Statement(
        sid="DenyInsecureTransport", effect="Deny", actions=["s3:*"], resources=resources,
        principals={"*": ["*"]}, conditions={"Bool": {"aws:SecureTransport": ["false"]}},
    )
