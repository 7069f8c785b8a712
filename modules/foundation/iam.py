"""IAM roles and groups whose permissions are granted to them by the resources they use.

Each carries one inline permissions policy (a `PolicyDocument` that grants add to) and exposes a
`Grantee`. The permissions are a separate `aws_iam_*_policy` resource, so resources that name the
role in their own policies (a key policy, a bucket policy) can be created between the role and
its permissions without a dependency cycle.
"""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct

from definitions.aws_context import AwsContext
from definitions.naming import iam_name_problem
from modules.foundation.bindings import iam_group, iam_group_policy, iam_role, iam_role_policy
from modules.foundation.input_checks import check_input
from modules.foundation.policy import Grantee, PolicyDocument, Statement, sid_part


class Role(Construct):
    """Inputs:
    - name: the role name (required; checked against IAM's rules).
    - description: shown in the console (required).
    - trust: statements of the trust policy (required).
    - max_session_seconds: longest session (default 3600).
    - permissions_boundary: the ARN of a managed policy bounding the role's permissions (default
      none; `bound_by` sets it later, for a stack that bounds every role it holds).

    Exposes `name`, `arn`, `grantee`, `permissions` (the policy document grants add to), `policy`
    (the permissions policy resource) and `resource` (the `aws_iam_role`).
    """

    def __init__(self, scope: Construct, id: str, *, name: str, description: str, trust: Sequence[Statement],
                 max_session_seconds: int = 3600, permissions_boundary: str | None = None) -> None:
        super().__init__(scope, id)
        check_input(self, "name", name, iam_name_problem("role"))
        self.name = name
        self.trust = PolicyDocument(self, "trust", trust)
        self.resource = iam_role.IamRole(self, "role", name=name, description=description,
                                         assume_role_policy=self.trust.json, max_session_duration=max_session_seconds,
                                         permissions_boundary=permissions_boundary)
        self.permissions = PolicyDocument(self, "permissions")
        self.policy = iam_role_policy.IamRolePolicy(self, "policy", name=f"{name}-permissions", role=self.resource.id,
                                                    policy=self.permissions.json)
        self.arn = self.resource.arn
        self.permissions_boundary = permissions_boundary
        sessions = AwsContext.of(self).arn("sts", f"assumed-role/{name}/*")  # a role's calls are its sessions'
        self.grantee = Grantee(name=sid_part(name), policy=self.permissions, principal_arn=self.arn, caller_arns=[self.arn],
                               identities=[sessions])


    def bound_by(self, policy_arn: str) -> None:
        """Bound the role's permissions by the managed policy `policy_arn`."""
        self.permissions_boundary = policy_arn
        self.resource.permissions_boundary = policy_arn

    @property
    def allowed_actions(self) -> set[str]:
        """Every action the role's own permissions allow: what a boundary over it must allow."""
        return {a for s in self.permissions.statements if s.effect == "Allow" and not s.not_actions for a in s.actions}


class Group(Construct):
    """Inputs:
    - name: the group name (required; checked against IAM's rules).
    - member_arns: the users (or `user/*` patterns) who are members, as CloudTrail records their
      calls (default none).

    Exposes `name`, `arn`, `grantee` and `resource` (the `aws_iam_group`). A group cannot be
    named in a resource policy, so its grantee has no principal ARN.
    """

    def __init__(self, scope: Construct, id: str, *, name: str, member_arns: Sequence[str] = ()) -> None:
        super().__init__(scope, id)
        check_input(self, "name", name, iam_name_problem("group"))
        self.name = name
        self.resource = iam_group.IamGroup(self, "group", name=name)
        self.arn = self.resource.arn
        self.permissions = PolicyDocument(self, "permissions")
        iam_group_policy.IamGroupPolicy(self, "policy", name=f"{name}-permissions", group=self.resource.name,
                                        policy=self.permissions.json)
        self.grantee = Grantee(name=sid_part(name), policy=self.permissions, caller_arns=member_arns, identities=member_arns)
