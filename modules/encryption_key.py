"""A customer-managed symmetric KMS key with rotation, an alias, and a key policy assembled from
what other constructs ask for (`grant_*`, `allow_service`).

The base policy has two statements: the account root (emergency recovery; it also lets IAM
policies in the account grant use of the key) and the key administrators, who may manage the key
but not use it for cryptography (separation of duties).
"""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct

from modules.aws import kms_alias, kms_key
from modules.context import AwsContext
from modules.naming import kms_alias_problem
from modules.policy import Conditions, Grantee, PolicyDocument, Statement, sid_part
from modules.validation import check_input

ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey",
    "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation",
    "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListAliases", "kms:ListGrants",
    "kms:ListKeyPolicies", "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:RevokeGrant",
    "kms:RotateKeyOnDemand", "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource",
    "kms:UpdateAlias", "kms:UpdateKeyDescription",
)
ENCRYPT_DECRYPT_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")
DECRYPT_ACTIONS = ("kms:Decrypt", "kms:DescribeKey")


class EncryptionKey(Construct):
    """Inputs:
    - alias: the alias name, e.g. `alias/s3-encryption-key` (required; checked against KMS's rules).
    - description: the key's description (required).
    - admin_arns: IAM principals that administer the key (default: none; root only).
    - deletion_window_days: 7 to 30 (default 30).
    - prevent_destroy: Terraform refuses to destroy the key (default False).

    Exposes `name` (the alias), `arn`, `alias_arn` and `resource` (the `aws_kms_key`).
    """

    def __init__(self, scope: Construct, id: str, *, alias: str, description: str, admin_arns: Sequence[str] = (),
                 deletion_window_days: int = 30, prevent_destroy: bool = False) -> None:
        super().__init__(scope, id)
        context = AwsContext.of(self)
        check_input(self, "alias", alias, kms_alias_problem)
        self.root_arn = context.root_arn
        self.policy = PolicyDocument(self, "policy", [
            Statement(sid="EnableRootAccountAndIamPolicies", actions=["kms:*"], resources=["*"],
                      principals={"AWS": [self.root_arn]}),
        ])
        if admin_arns:
            self.policy.add(Statement(sid="AllowKeyAdministration", actions=ADMIN_ACTIONS, resources=["*"],
                                      principals={"AWS": list(admin_arns)}))
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

    def allow(self, statement: Statement) -> None:
        """Add a statement to the key policy (resources default to the key itself: "*")."""
        self.policy.add(statement)

    def allow_service(self, sid: str, service: str, actions: Sequence[str], conditions: Conditions | None = None) -> None:
        self.allow(Statement(sid=sid, actions=actions, resources=["*"], principals={"Service": [service]},
                             conditions=conditions or {}))

    def grant(self, grantee: Grantee, sid: str, actions: Sequence[str], conditions: Conditions | None = None) -> None:
        """Let `grantee` use the key: its identity policy, and the key policy when it has an ARN."""
        grantee.allow(f"{sid}{sid_part(self.node.id)}", actions, [self.arn], conditions)
        if grantee.principal_arn:
            self.allow(Statement(sid=f"{sid}{grantee.name}", actions=actions, resources=["*"],
                                 principals={"AWS": [grantee.principal_arn]}, conditions=conditions or {}))

    def grant_encrypt_decrypt(self, grantee: Grantee, conditions: Conditions | None = None) -> None:
        self.grant(grantee, "EncryptDecrypt", ENCRYPT_DECRYPT_ACTIONS, conditions)

    def grant_decrypt(self, grantee: Grantee, conditions: Conditions | None = None) -> None:
        self.grant(grantee, "Decrypt", DECRYPT_ACTIONS, conditions)
