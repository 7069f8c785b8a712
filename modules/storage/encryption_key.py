"""A customer-managed symmetric KMS key with rotation, an alias, and a key policy assembled from
what other constructs ask for (`grant_through_s3`, `allow_service`).

The base policy has the account root (emergency recovery; it also lets IAM policies in the account
grant use of the key) and the key administrators, who may manage the key but not use it for
cryptography (separation of duties). No statement lets the whole account use the key: S3 uses it
on behalf of each principal a bucket grants (`kms:ViaService`), and the key policy names them.

With break-glass principals, disabling the key or scheduling its deletion is denied to everyone
else, and changing the key policy to everyone but them and the deployers: one administrator can
no longer silence the audit path, while Terraform (a deployer) can still update the policy (KMS
refuses a policy that would lock its own caller out of PutKeyPolicy).

With `use_only_by_grantees`, the root statement no longer lets an IAM policy with `kms:*` use the
key: the cryptographic operations are denied to every IAM principal but the grantees' callers (a
role, a group's members; and to them outside S3), break-glass and the account root (the emergency
recovery the root statement exists for). AWS services keep their own statements and conditions: the deny leaves out calls a service
makes as its service principal (`aws:PrincipalIsAWSService`, present in every signed request;
IAM condition keys reference), and S3 calling KMS for a grantee is the grantee, with
`kms:ViaService`.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktf import TerraformProvider
from constructs import Construct

from definitions.aws_context import AwsContext
from definitions.naming import key_deletion_window_problem, kms_alias_problem
from modules.foundation.bindings import data_aws_kms_key, kms_alias, kms_key
from modules.foundation.input_checks import check_input
from modules.foundation.policy import Conditions, Grantee, PolicyDocument, Statement, sid_part

ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey",
    "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation",
    "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListAliases", "kms:ListGrants",
    "kms:ListKeyPolicies", "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:RevokeGrant",
    "kms:RotateKeyOnDemand", "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource",
    "kms:UpdateAlias", "kms:UpdateKeyDescription",
)
# What S3 calls on the caller's behalf (S3 user guide, "Using server-side encryption with AWS KMS
# keys"): GenerateDataKey to encrypt an upload, Decrypt to read an object and to finish a multipart
# upload. Nothing else, not Encrypt, not ReEncrypt.
S3_WRITE_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
S3_READ_ACTIONS = ("kms:Decrypt",)
# The actions that silence everything encrypted with the key.
KILL_SWITCH_ACTIONS = ("kms:DisableKey", "kms:ScheduleKeyDeletion")
# The cryptographic operations of a symmetric key (KMS developer guide, "Cryptographic operations").
CRYPTO_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")


def through_s3(key: Construct, conditions: Conditions | None) -> dict[str, dict[str, Sequence[str]]]:
    """`conditions` narrowed to calls S3 makes in `key`'s region (`kms:ViaService`), merged by operator."""
    merged: dict[str, dict[str, Sequence[str]]] = {"StringEquals": {"kms:ViaService": [AwsContext.of(key).service_host("s3")]}}
    for operator, by_key in (conditions or {}).items():
        merged[operator] = {**merged.get(operator, {}), **by_key}
    return merged


class EncryptionKey(Construct):
    """Inputs:
    - alias: the alias name, e.g. `alias/s3-encryption-key` (required; checked against KMS's rules).
    - description: the key's description (required).
    - admin_arns: IAM principals that administer the key (default: none; root only).
    - deletion_window_days: 7 to 30 (default 30).
    - prevent_destroy: Terraform refuses to destroy the key (default False).
    - break_glass_arns: roles (or the account root) that alone may disable or schedule deletion of
      the key (default: none, no such restriction).
    - deployer_arns: the principals that run Terraform; with break-glass set, they and break-glass
      alone may change the key policy (default: none).
    - use_only_by_grantees: deny cryptography to every IAM principal but the grantees through S3,
      break-glass and the account root (default False: IAM policies may grant use).

    Exposes `name` (the alias), `arn`, `alias_arn`, `resource` (the `aws_kms_key`) and
    `granted_identities` (the callers granted use of the key, as CloudTrail records them).
    """

    def __init__(self, scope: Construct, id: str, *, alias: str, description: str, admin_arns: Sequence[str] = (),
                 deletion_window_days: int = 30, prevent_destroy: bool = False, break_glass_arns: Sequence[str] = (),
                 deployer_arns: Sequence[str] = (), use_only_by_grantees: bool = False) -> None:
        super().__init__(scope, id)
        context = AwsContext.of(self)
        check_input(self, "alias", alias, kms_alias_problem)
        check_input(self, "deletion_window_days", deletion_window_days, key_deletion_window_problem)
        self.root_arn = context.root_arn
        self.policy = PolicyDocument(self, "policy", [
            Statement(sid="EnableRootAccountAndIamPolicies", actions=["kms:*"], resources=["*"],
                      principals={"AWS": [self.root_arn]}),
        ])
        if admin_arns:
            self.policy.add(Statement(sid="AllowKeyAdministration", actions=ADMIN_ACTIONS, resources=["*"],
                                      principals={"AWS": list(admin_arns)}))
        if break_glass_arns:
            # aws:PrincipalArn is the role's ARN for a role session (IAM condition keys reference),
            # and the account root's for the root user: so break-glass names roles, not sessions.
            self.policy.add(Statement(
                sid="DenyDisablingOrDeletionButBreakGlass", effect="Deny", actions=KILL_SWITCH_ACTIONS, resources=["*"],
                principals={"*": ["*"]}, conditions={"ArnNotEquals": {"aws:PrincipalArn": list(break_glass_arns)}}))
            self.policy.add(Statement(
                sid="DenyKeyPolicyChangesButBreakGlassAndDeployers", effect="Deny", actions=["kms:PutKeyPolicy"],
                resources=["*"], principals={"*": ["*"]},
                conditions={"ArnNotEquals": {"aws:PrincipalArn": [*break_glass_arns, *deployer_arns]}}))
        self._use_only_by_grantees = use_only_by_grantees
        self._always_users = [self.root_arn, *break_glass_arns]
        self._grantee_arns: list[str] = []  # aws:PrincipalArn patterns of the grantees' callers
        self._deny_use_to_others()
        self.resource = kms_key.KmsKey(
            self, "key",
            description=description,
            key_usage="ENCRYPT_DECRYPT",
            customer_master_key_spec="SYMMETRIC_DEFAULT",
            enable_key_rotation=True,  # yearly: the rotation period AWS applies by default is 365 days
            deletion_window_in_days=deletion_window_days,
            policy=self.policy.json,
            lifecycle={"prevent_destroy": True} if prevent_destroy else None,
        )
        # Read once: every read of a resource attribute makes a new token, and equal statements
        # must compare equal for grants to merge.
        self.arn = self.resource.arn
        kms_alias.KmsAlias(self, "alias", name=alias, target_key_id=self.resource.key_id)
        self.name = alias
        self.alias_arn = context.arn("kms", alias)
        self.granted_identities: list[str] = []  # as CloudTrail records the callers granted the key

    def allow(self, statement: Statement) -> Statement:
        """Add a statement to the key policy (resources default to the key itself: "*"); returns it."""
        self.policy.add(statement)
        return statement

    def allow_service(self, sid: str, service: str, actions: Sequence[str], conditions: Conditions | None = None) -> Statement:
        return self.allow(Statement(sid=sid, actions=actions, resources=["*"], principals={"Service": [service]},
                             conditions=conditions or {}))

    def grant_through_s3(self, grantee: Grantee, purpose: str, actions: Sequence[str],
                         conditions: Conditions | None = None) -> list[Statement]:
        """Let S3 use the key for `grantee`, and nothing else: its identity policy, and the key policy
        when it has an ARN (the seed's "S3 service to use the key", named so in the key policy).
        `purpose` names the grant (a bucket); `conditions` narrow it further. Returns the statements added."""
        merged = through_s3(self, conditions)
        added = [grantee.allow(f"Use{sid_part(self.node.id)}Through{purpose}", actions, [self.arn], merged)]
        self.granted_identities += [i for i in grantee.identities if i not in self.granted_identities]
        if new_callers := [arn for arn in grantee.caller_arns if arn not in self._grantee_arns]:
            self._grantee_arns += new_callers
            self._deny_use_to_others()
        if grantee.principal_arn:
            added.append(self.allow(Statement(sid=f"S3ServiceUse{purpose}For{grantee.name}", actions=actions, resources=["*"],
                                              principals={"AWS": [grantee.principal_arn]}, conditions=merged)))
        return added

    def _deny_use_to_others(self) -> None:
        """(Re)write the denies that keep the key's cryptography to its grantees through S3."""
        if not self._use_only_by_grantees:
            return
        self.policy.replace(Statement(
            sid="DenyUseButGranteesBreakGlassAndRoot", effect="Deny", actions=CRYPTO_ACTIONS, resources=["*"],
            principals={"*": ["*"]},
            conditions={"ArnNotLike": {"aws:PrincipalArn": [*self._always_users, *self._grantee_arns]},
                        "BoolIfExists": {"aws:PrincipalIsAWSService": ["false"]}}))
        if self._grantee_arns:
            self.policy.replace(Statement(
                sid="DenyGranteesUseOutsideS3", effect="Deny", actions=CRYPTO_ACTIONS, resources=["*"],
                principals={"*": ["*"]},
                conditions={"ArnLike": {"aws:PrincipalArn": list(self._grantee_arns)},
                            "StringNotEquals": {"kms:ViaService": [AwsContext.of(self).service_host("s3")]}}))


class KeyReference(Construct):
    """A key of another account, looked up by its alias through `provider` (one that assumes a
    read-only role in the key's account; kms:DescribeKey is all it needs), never from that
    account's state. A bucket encrypts with it by its ARN: S3 resolves a bare key id or alias in
    the bucket owner's account, so a key of another account must be named by ARN.

    Inputs: account (the key's; required); alias and provider, to look it up, or arn, when it is
    known (one of them); region (the key's; default the stack's).
    Exposes `name` (the alias), `arn` (looked up) and `alias_arn`. Its key policy is the owner's:
    `grant_through_s3` adds the grantee's side alone, and the owning stack admits the grantee.
    """

    def __init__(self, scope: Construct, id: str, *, account: str, alias: str | None = None,
                 provider: TerraformProvider | None = None, arn: str | None = None, region: str | None = None) -> None:
        super().__init__(scope, id)
        if (arn is None) == (alias is None or provider is None):
            raise ValueError(f"{self.node.path}: give the key's alias and a provider to look it up, or its ARN")
        if arn is not None:
            self.name = self.arn = arn
            return
        check_input(self, "alias", alias, kms_alias_problem)
        context = AwsContext.of(self)
        self.name = alias
        self.alias_arn = context.arn("kms", alias, account=account, region=region)
        self.arn = data_aws_kms_key.DataAwsKmsKey(self, "key", key_id=self.alias_arn, provider=provider).arn

    def grant_through_s3(self, grantee: Grantee, purpose: str, actions: Sequence[str],
                         conditions: Conditions | None = None) -> list[Statement]:
        """The grantee's identity policy lets it use the key through S3; the key's own policy must
        admit it too (in the owner's stack). Returns the statement added."""
        return [grantee.allow(f"Use{sid_part(self.node.id)}Through{purpose}", actions, [self.arn], through_s3(self, conditions))]
