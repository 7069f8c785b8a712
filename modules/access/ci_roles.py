"""The roles the GitHub workflows assume through OIDC: one to plan, one to apply.

GitHub's token names the workflow's context in its `sub` claim (AWS IAM guide, "Configuring a
role for GitHub OIDC identity provider"; GitHub's "Configuring OpenID Connect in Amazon Web
Services"): `repo:<owner>/<repo>:pull_request` for pull requests, `repo:<owner>/<repo>:ref:
refs/heads/main` for a job on main outside an environment, and `repo:<owner>/<repo>:environment:
<env>` for a job running in a GitHub environment. Both trusts require the `aud` claim AWS's STS
expects (`sts.amazonaws.com`), with StringEquals on both claims (no wildcard):

- plan: pull requests of the repository and main (the drift job); read-only, plus the state and its
  lock file (stacks/deploy_policies.py `plan_policy`);
- apply: only a job in this environment's GitHub environment, so for production only after its
  required reviewers; never a branch; and only the deploy workflow of main (`job_workflow_ref`,
  which STS checks as a condition key of GitHub's provider since January 2026: "AWS STS supports
  validation of identity provider claims"), so that another workflow naming the environment
  cannot assume it. Its permissions are what Terraform needs for the stack it applies
  (`deploy_policy`), derived from the stack's own resource types, with denies on the CI roles.

The OIDC provider is one per account: created here unless `oidc_provider_arn` names one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from constructs import Construct

from definitions.naming import github_oidc_provider_problem, github_repository_problem
from modules.foundation.bindings import iam_openid_connect_provider
from modules.foundation.iam import Role
from modules.foundation.input_checks import check_input
from modules.foundation.policy import Statement

GITHUB_TOKEN_HOST = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
DEPLOY_WORKFLOW = ".github/workflows/deploy.yml@refs/heads/main"


def statements_of(policy: Mapping[str, Any]) -> list[Statement]:
    """An IAM JSON policy's statements (Sid, Effect, Action, Resource, Condition) as Statements."""
    return [Statement(sid=s["Sid"], effect=s["Effect"], actions=s["Action"], resources=s["Resource"],
                      conditions=s.get("Condition", {})) for s in policy["Statement"]]


class GitHubDeployRoles(Construct):
    """Inputs:
    - repository: `<owner>/<repo>` (required).
    - environment: the GitHub environment the apply role is bound to (required).
    - plan_role_name, apply_role_name: IAM names (required).
    - plan_policy, apply_policy: IAM JSON policies of the roles (required; stacks/deploy_policies.py).
    - apply_workflow: the workflow file that alone may apply, as `job_workflow_ref` names it below
      the repository (default `.github/workflows/deploy.yml@refs/heads/main`).
    - provider_arn: an existing GitHub OIDC provider of the account (default: create one).

    Exposes what it is made of: `plan_role` and `apply_role` (Roles, each with `name`, `arn`,
    `resource` and `grantee`) and `provider_arn`.
    """

    def __init__(self, scope: Construct, id: str, *, repository: str, environment: str, plan_role_name: str,
                 apply_role_name: str, plan_policy: Mapping[str, Any], apply_policy: Mapping[str, Any],
                 provider_arn: str = "", apply_workflow: str = DEPLOY_WORKFLOW) -> None:
        super().__init__(scope, id)
        check_input(self, "repository", repository, github_repository_problem)
        if provider_arn:
            check_input(self, "provider_arn", provider_arn, github_oidc_provider_problem)
        if not provider_arn:
            provider = iam_openid_connect_provider.IamOpenidConnectProvider(
                self, "provider", url=f"https://{GITHUB_TOKEN_HOST}", client_id_list=[STS_AUDIENCE])
            provider_arn = provider.arn
        self.provider_arn = provider_arn
        self.plan_role = self._role("plan-role", plan_role_name, [
            f"repo:{repository}:pull_request", f"repo:{repository}:ref:refs/heads/main"], plan_policy,
            f"Plans {environment} from the pull requests and main of {repository}")
        self.apply_role = self._role("apply-role", apply_role_name, [f"repo:{repository}:environment:{environment}"],
                                     apply_policy, f"Applies {environment} from the GitHub environment {environment} of {repository}",
                                     workflow=f"{repository}/{apply_workflow}")

    def _role(self, id: str, name: str, subjects: Iterable[str], policy: Mapping[str, Any], description: str,
              workflow: str | None = None) -> Role:
        claims = {f"{GITHUB_TOKEN_HOST}:aud": [STS_AUDIENCE], f"{GITHUB_TOKEN_HOST}:sub": list(subjects)}
        if workflow:
            claims[f"{GITHUB_TOKEN_HOST}:job_workflow_ref"] = [workflow]
        trust = Statement(sid="TrustGitHubWorkflows", actions=["sts:AssumeRoleWithWebIdentity"],
                          principals={"Federated": [self.provider_arn]}, conditions={"StringEquals": claims})
        role = Role(self, id, name=name, description=description, trust=[trust])
        for statement in statements_of(policy):
            role.permissions.add(statement)
        return role
