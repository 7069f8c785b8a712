"""A managed policy used as the permissions boundary of the roles a stack creates.

A role's effective permissions are what both its own policies and its boundary allow (IAM user
guide, "Permissions boundaries for IAM entities"). Whoever may create or change a role only with
this boundary (the condition `iam:PermissionsBoundary`) cannot give it more than the boundary
allows, however it writes the role's policies: the CI apply role, which writes the application
role's policies, cannot make any role an administrator.
"""

from __future__ import annotations

from collections.abc import Iterable

from constructs import Construct

from definitions.naming import iam_name_problem
from modules.foundation.bindings import iam_policy
from modules.foundation.input_checks import check_input
from modules.foundation.policy import PolicyDocument, Statement


class PermissionsBoundary(Construct):
    """Inputs:
    - name: the managed policy's name (required; checked against IAM's rules).
    - actions: every action the bounded roles may ever be granted (required, at least one).
    - description: shown in the console (required).

    Exposes `name`, `arn` and `resource` (the `aws_iam_policy`).
    """

    def __init__(self, scope: Construct, id: str, *, name: str, actions: Iterable[str], description: str) -> None:
        super().__init__(scope, id)
        check_input(self, "name", name, iam_name_problem("policy"))
        allowed = sorted(set(actions))
        if not allowed:
            raise ValueError(f"{self.node.path}: a permissions boundary allowing nothing bounds nothing useful")
        document = PolicyDocument(self, "document", [
            Statement(sid="AllowOnlyWhatTheBoundedRolesUse", actions=allowed, resources=["*"])])
        self.name = name
        self.resource = iam_policy.IamPolicy(self, "policy", name=name, description=description, policy=document.json)
        self.arn = self.resource.arn
