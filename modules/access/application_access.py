"""The application role and the analysts' group.

`S3DataProcessingRole` is trusted by the configured AWS services and by the account's IAM users
(all of them, or those listed), only for sessions signed in with MFA: the trust keeps the account
as its principal (IAM refuses a trust policy naming a user that does not exist) and narrows it
with `aws:PrincipalArn`, so no other role of the account can chain into it. A group cannot be a
principal in a trust policy, so the analysts reach the role through that trust plus an
`sts:AssumeRole` grant in the group's policy, also conditioned on MFA. The group's policy lets a
member set up an MFA device (AWS's "IAM: Allows IAM users to self-manage an MFA device") and
denies everything else to a member who signed in without MFA.

The role's other permissions are granted by the resources it uses (see `PlatformStack`).
"""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct

from definitions.aws_context import AwsContext
from modules.foundation.bindings import accessanalyzer_analyzer
from modules.foundation.iam import Group, Role
from modules.foundation.policy import Statement

MFA_PRESENT = {"Bool": {"aws:MultiFactorAuthPresent": ["true"]}}
# Before signing in with MFA a member may still: create a virtual MFA device (any name: device
# names are free, so `mfa/*`), enable and use it on their own user, list devices, get an MFA
# session, and change their own password (a first sign-in asks for it).
MFA_CREATE_ACTIONS = ("iam:CreateVirtualMFADevice",)
MFA_OWN_USER_ACTIONS = ("iam:ChangePassword", "iam:EnableMFADevice", "iam:GetMFADevice", "iam:GetUser",
                        "iam:ListMFADevices", "iam:ResyncMFADevice")
MFA_ACCOUNT_ACTIONS = ("iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices", "sts:GetSessionToken")


class Access(Construct):
    """Inputs:
    - role_name, group_name: IAM names (required).
    - trusted_services: service principals that may assume the role (required).
    - user_arns: IAM users who may assume the role with MFA (default: every IAM user of the account).
    - description: the role's (default: the application role's).

    Exposes what it is made of: `role` and `group` (a Role and a Group, each with `name`, `arn`,
    `resource` and `grantee`).
    """

    def __init__(self, scope: Construct, id: str, *, role_name: str, group_name: str,
                 trusted_services: Sequence[str], user_arns: Sequence[str] = (),
                 description: str = "Processes the encrypted data and queries the CloudTrail logs") -> None:
        super().__init__(scope, id)
        context = AwsContext.of(self)
        people = list(user_arns) or [context.arn("iam", "user/*")]
        trust = [Statement(sid="TrustAccountUsersWithMfa", actions=["sts:AssumeRole"], principals={"AWS": [context.root_arn]},
                           conditions={**MFA_PRESENT, "ArnLike": {"aws:PrincipalArn": people}})]
        if trusted_services:
            # No source condition: AWS does not document EC2 or Lambda sending aws:SourceAccount or
            # aws:SourceArn when they assume a role, and a condition they do not send would lock them out.
            trust.insert(0, Statement(sid="TrustServices", actions=["sts:AssumeRole"],
                                      principals={"Service": list(trusted_services)}))
        self.role = Role(self, "application-role", name=role_name, trust=trust, description=description)
        self.group = Group(self, "analysts-group", name=group_name, member_arns=people)
        analysts = self.group.grantee
        analysts.allow(f"Assume{self.role.grantee.name}WithMfa", ["sts:AssumeRole"], [self.role.arn], MFA_PRESENT)
        user_arn = context.arn("iam", "user/$${aws:username}")  # an IAM policy variable, not Terraform's
        analysts.allow("CreateVirtualMfaDevice", MFA_CREATE_ACTIONS, [context.arn("iam", "mfa/*")])
        analysts.allow("ManageOwnMfaDevice", MFA_OWN_USER_ACTIONS, [user_arn])
        analysts.allow("ListMfaSettings", MFA_ACCOUNT_ACTIONS, ["*"])
        analysts.policy.add(Statement(
            sid="DenyAllWithoutMfa", effect="Deny", actions=MFA_CREATE_ACTIONS + MFA_OWN_USER_ACTIONS + MFA_ACCOUNT_ACTIONS,
            not_actions=True, resources=["*"],
            conditions={"BoolIfExists": {"aws:MultiFactorAuthPresent": ["false"]}},
        ))


class AccessAnalyzer(Construct):
    """An IAM Access Analyzer for the account (zone of trust: the account) in the stack's region:
    it reports buckets, keys and roles shared outside the account, for the access review.

    Inputs: name (required). Exposes `name`, `arn` and `resource`."""

    def __init__(self, scope: Construct, id: str, *, name: str) -> None:
        super().__init__(scope, id)
        self.resource = accessanalyzer_analyzer.AccessanalyzerAnalyzer(self, "analyzer", analyzer_name=name, type="ACCOUNT")
        self.name, self.arn = name, self.resource.arn
