"""The application role and the analysts' group.

`S3DataProcessingRole` is trusted by the configured AWS services and by the account, the latter
only for sessions signed in with MFA. A group cannot be a principal in a trust policy, so the
analysts reach the role through that account trust plus an `sts:AssumeRole` grant in the group's
policy, also conditioned on MFA. The group's policy also denies every action but managing one's
own MFA device to members who signed in without MFA.

The role's other permissions are granted by the resources it uses (see `PlatformStack`).
"""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct

from modules.context import AwsContext
from modules.iam import Group, Role
from modules.policy import Statement

MFA_PRESENT = {"Bool": {"aws:MultiFactorAuthPresent": ["true"]}}
# What a member may still do before signing in with MFA: set up and use an MFA device. The first
# set takes the member's own user and MFA ARNs; the second has no resource-level permissions.
MFA_OWN_USER_ACTIONS = ("iam:ChangePassword", "iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:GetUser",
                        "iam:ListMFADevices", "iam:ResyncMFADevice")
MFA_ACCOUNT_ACTIONS = ("iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices", "sts:GetSessionToken")


class Access(Construct):
    """Inputs:
    - role_name, group_name: IAM names (required).
    - trusted_services: service principals that may assume the role (required).

    Exposes `role` and `group` (a Role and a Group: each with `name`, `arn` and `grantee`); `name`,
    `arn` and `resource` are the role's.
    """

    def __init__(self, scope: Construct, id: str, *, role_name: str, group_name: str,
                 trusted_services: Sequence[str]) -> None:
        super().__init__(scope, id)
        context = AwsContext.of(self)
        trust = [Statement(sid="TrustAccountWithMfa", actions=["sts:AssumeRole"],
                           principals={"AWS": [context.root_arn]}, conditions=MFA_PRESENT)]
        if trusted_services:
            trust.insert(0, Statement(sid="TrustServices", actions=["sts:AssumeRole"],
                                      principals={"Service": list(trusted_services)}))
        self.role = Role(self, "application-role", name=role_name, trust=trust,
                         description="Processes the encrypted data and queries the CloudTrail logs")
        self.group = Group(self, "analysts-group", name=group_name)
        analysts = self.group.grantee
        analysts.allow(f"Assume{self.role.grantee.name}WithMfa", ["sts:AssumeRole"], [self.role.arn], MFA_PRESENT)
        user_arn = context.arn("iam", "user/$${aws:username}")  # an IAM policy variable, not Terraform's
        mfa_arn = context.arn("iam", "mfa/$${aws:username}")
        analysts.allow("ManageOwnMfaDevice", MFA_OWN_USER_ACTIONS, [user_arn, mfa_arn])
        analysts.allow("ListMfaSettings", MFA_ACCOUNT_ACTIONS, ["*"])
        analysts.policy.add(Statement(
            sid="DenyAllWithoutMfa", effect="Deny", actions=MFA_OWN_USER_ACTIONS + MFA_ACCOUNT_ACTIONS, not_actions=True,
            resources=["*"],
            conditions={"BoolIfExists": {"aws:MultiFactorAuthPresent": ["false"]}},
        ))
        self.name, self.arn, self.resource = self.role.name, self.role.arn, self.role.resource
