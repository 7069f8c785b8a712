"""The roles the GitHub workflows assume: the plan role reads (and locks the state), the apply role
is reachable only from the environment's GitHub environment, both through GitHub's OIDC provider
with the audience AWS's STS expects. Read from the synthesized trust and permission policies of
every environment with a repository set (`all_features`), whatever its file says."""

from __future__ import annotations

import dataclasses
import json

import pytest
from cdktf import Testing as CdktfTesting

from definitions.paths import ROOT
from stacks.deploy_policies import deploy_policy
from stacks.environment_stacks import BootstrapStack, PlatformStack
from tests.stack_queries import by_sid, conditions, one, principals, ref, resources, statements
from tests.support import ENV_NAMES, ENVIRONMENTS, all_features, environment

TOKEN = "token.actions.githubusercontent.com"
WRITE_VERBS = ("Create", "Put", "Delete", "Update", "Tag", "Untag", "Attach", "Detach", "Pass", "Add", "Remove", "Schedule",
               "Enable", "Disable", "Start", "Stop", "Set", "Subscribe", "Unsubscribe")


def trust(stack: dict, role: str) -> dict:
    found = by_sid(statements(stack, one(stack, "aws_iam_role", f"github_{role}")["assume_role_policy"]))
    assert list(found) == ["TrustGitHubWorkflows"], found
    return found["TrustGitHubWorkflows"]


@pytest.fixture(scope="module")
def ci_stacks() -> dict[str, dict]:
    """Each environment with a repository, synthesized: {stack name: Terraform JSON}."""
    found = {}
    for env in map(all_features, ENVIRONMENTS):
        app = CdktfTesting.app()
        platform = PlatformStack(app, env)
        for stack in (BootstrapStack(app, env, deploys=platform), platform):
            found[stack.node.id] = json.loads(CdktfTesting.synth(stack))
    return found


@pytest.fixture(params=ENV_NAMES)
def name(request) -> str:
    return request.param


def test_the_committed_environments_set_a_repository():
    """About the committed files: each names the repository its workflows run in."""
    assert all(environment(name).github.repository == "acme/encrypted-data-platform" for name in ("dev", "staging", "prod"))


def test_both_roles_trust_githubs_provider_with_the_sts_audience(name, ci_stacks):
    stack = ci_stacks[environment(name).bootstrap_stack]
    provider = one(stack, "aws_iam_openid_connect_provider", "github_provider")
    assert provider == {"url": f"https://{TOKEN}", "client_id_list": ["sts.amazonaws.com"]}
    for role in ("plan-role", "apply-role"):
        statement = trust(stack, role)
        assert statement["actions"] == ["sts:AssumeRoleWithWebIdentity"] and statement["effect"] == "Allow"
        assert principals(statement) == {"Federated": [ref(stack, "aws_iam_openid_connect_provider", "github_provider", "arn")]}
        assert conditions(statement)[("StringEquals", f"{TOKEN}:aud")] == ["sts.amazonaws.com"]
        pinned = {("StringEquals", f"{TOKEN}:job_workflow_ref")} if role == "apply-role" else set()
        assert set(conditions(statement)) == {("StringEquals", f"{TOKEN}:aud"), ("StringEquals", f"{TOKEN}:sub")} | pinned


def test_only_the_deploy_workflow_of_main_may_apply(name, ci_stacks):
    """Any workflow of the repository may name the environment; the apply role admits only the
    deploy workflow as it is on main, which the environment's reviewers protect."""
    env, stack = all_features(environment(name)), ci_stacks[environment(name).bootstrap_stack]
    workflows = conditions(trust(stack, "apply-role"))[("StringEquals", f"{TOKEN}:job_workflow_ref")]
    assert workflows == [f"{env.github.repository}/.github/workflows/deploy.yml@refs/heads/main"]
    workflow = ROOT / workflows[0].removeprefix(f"{env.github.repository}/").split("@")[0]
    assert "role-to-assume: ${{ vars.APPLY_ROLE_ARN }}" in workflow.read_text(), "the pinned workflow is the one that applies"


def test_the_apply_role_is_reachable_only_from_its_github_environment(name, ci_stacks):
    env, stack = all_features(environment(name)), ci_stacks[environment(name).bootstrap_stack]
    subjects = conditions(trust(stack, "apply-role"))[("StringEquals", f"{TOKEN}:sub")]
    assert subjects == [f"repo:{env.github.repository}:environment:{env.name}"]
    assert not [s for s in subjects if ":ref:" in s or ":pull_request" in s or "*" in s]


def test_the_plan_role_serves_pull_requests_and_main(name, ci_stacks):
    env, stack = all_features(environment(name)), ci_stacks[environment(name).bootstrap_stack]
    subjects = conditions(trust(stack, "plan-role"))[("StringEquals", f"{TOKEN}:sub")]
    assert sorted(subjects) == sorted([f"repo:{env.github.repository}:pull_request", f"repo:{env.github.repository}:ref:refs/heads/main"])


def test_the_apply_role_may_do_what_the_stack_needs_and_the_plan_role_only_read(name, ci_stacks):
    env = all_features(environment(name))
    bootstrap, platform = ci_stacks[env.bootstrap_stack], ci_stacks[env.name]
    types = {f"resource.{t}" for t in platform["resource"]} | {f"data.{t}" for t in platform["data"]} | {"provider.aws", "backend.s3"}
    state_key = ref(bootstrap, "aws_kms_key", "state-key", "arn")
    expected = {s["Sid"]: s for s in deploy_policy(env, types, state_key_arn=state_key)["Statement"]}
    apply = by_sid(statements(bootstrap, one(bootstrap, "aws_iam_role_policy", "github_apply-role_policy")["policy"]))
    assert {sid: (s["effect"], s["actions"], s["resources"]) for sid, s in apply.items()} == {
        sid: (s["Effect"], s["Action"], s["Resource"]) for sid, s in expected.items()}
    plan = by_sid(statements(bootstrap, one(bootstrap, "aws_iam_role_policy", "github_plan-role_policy")["policy"]))
    for sid, statement in plan.items():
        writes = [a for a in statement["actions"] if a.split(":", 1)[1].startswith(WRITE_VERBS)]
        if statement["effect"] == "Deny":
            continue
        if sid == "LockState":  # the plan takes the state lock: its .tflock object only
            assert statement["resources"] == [f"arn:{env.partition}:s3:::{env.state.bucket}/{env.state.key}.tflock"]
        elif sid != "UseStateKey":
            assert not writes, (sid, writes)


def test_an_existing_provider_is_referenced_not_created():
    env = ENVIRONMENTS[0]
    existing = f"arn:{env.partition}:iam::{env.account_id}:oidc-provider/{TOKEN}"
    variant = dataclasses.replace(env, github=dataclasses.replace(env.github, repository="acme/platform", oidc_provider_arn=existing))
    app = CdktfTesting.app()
    stack = json.loads(CdktfTesting.synth(BootstrapStack(app, variant, deploys=PlatformStack(app, variant))))
    assert not resources(stack, "aws_iam_openid_connect_provider")
    assert principals(trust(stack, "apply-role")) == {"Federated": [existing]}


def test_no_repository_no_roles():
    env = dataclasses.replace(ENVIRONMENTS[0], github=dataclasses.replace(ENVIRONMENTS[0].github, repository=""))
    app = CdktfTesting.app()
    stack = json.loads(CdktfTesting.synth(BootstrapStack(app, env, deploys=PlatformStack(app, env))))
    assert not resources(stack, "aws_iam_role") and not resources(stack, "aws_iam_openid_connect_provider")


# --- what one workflow run can do to IAM and KMS ---------------------------------------------


def role_policies(env, ci_stacks) -> dict[str, dict]:
    bootstrap = ci_stacks[env.bootstrap_stack]
    return {role: by_sid(statements(bootstrap, one(bootstrap, "aws_iam_role_policy", f"github_{role}_policy")["policy"]))
            for role in ("apply-role", "plan-role")}


def test_neither_ci_role_may_change_a_ci_role_or_lift_a_boundary(name, ci_stacks):
    env = all_features(environment(name))
    ci_roles = [f"arn:{env.partition}:iam::{env.account_id}:role/{r}" for r in (env.names.plan_role, env.names.apply_role)]
    boundary = f"arn:{env.partition}:iam::{env.account_id}:policy/{env.names.permissions_boundary}"
    for role, found in role_policies(env, ci_stacks).items():
        allowed = [s for s in found.values() if s["effect"] == "Allow"]
        assert not [s["sid"] for s in allowed if set(s["resources"]) & set(ci_roles)], role
        deny = found["DenyChangingCiRoles"]
        assert deny["effect"] == "Deny" and deny["resources"] == ci_roles
        assert {"iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PassRole"} <= set(deny["actions"])
        assert found["DenyRemovingPermissionsBoundaries"]["actions"] == ["iam:DeleteRolePermissionsBoundary"]
        assert found["DenyChangingThePermissionsBoundary"]["resources"] == [boundary]
        assert not [s for s in allowed if "iam:DeleteRolePermissionsBoundary" in s["actions"]]


def test_the_apply_role_creates_and_writes_roles_only_within_the_boundary(name, ci_stacks):
    env = all_features(environment(name))
    boundary = f"arn:{env.partition}:iam::{env.account_id}:policy/{env.names.permissions_boundary}"
    apply = role_policies(env, ci_stacks)["apply-role"]
    writes = {"iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary", "iam:DeleteRolePolicy"}
    for sid, statement in apply.items():
        if writes & set(statement["actions"]) and statement["effect"] == "Allow":
            assert sid == "ManageRolesWithinBoundary", sid
            assert conditions(statement) == {("ArnEquals", "iam:PermissionsBoundary"): [boundary]}
    assert writes <= set(apply["ManageRolesWithinBoundary"]["actions"])
    platform = ci_stacks[env.name]
    roles = resources(platform, "aws_iam_role")
    assert len(roles) >= 2 and all(r["permissions_boundary"] == boundary for r in roles.values())


def test_the_boundary_allows_what_the_platforms_roles_use_and_nothing_of_iam_or_key_management(name, ci_stacks):
    env = all_features(environment(name))
    bootstrap, platform = ci_stacks[env.bootstrap_stack], ci_stacks[env.name]
    policy = one(bootstrap, "aws_iam_policy", "workload-boundary_policy")
    assert policy["name"] == env.names.permissions_boundary
    (statement,) = statements(bootstrap, policy["policy"])
    role_actions = {a for p in resources(platform, "aws_iam_role_policy").values()
                    for s in statements(platform, p["policy"]) if s["effect"] == "Allow" for a in s["actions"]}
    assert statement["effect"] == "Allow" and set(statement["actions"]) == role_actions
    assert "s3:GetObject" in role_actions and "logs:PutLogEvents" in role_actions
    assert not [a for a in statement["actions"] if "*" in a or a.startswith("iam:") or a in ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion")]


def test_the_ci_roles_use_only_the_state_key_and_only_through_s3(name, ci_stacks):
    env = all_features(environment(name))
    bootstrap = ci_stacks[env.bootstrap_stack]
    bucket = f"arn:{env.partition}:s3:::{env.state.bucket}"
    for role, found in role_policies(env, ci_stacks).items():
        use = found["UseStateKey"]
        assert use["resources"] == [ref(bootstrap, "aws_kms_key", "state-key", "arn")], role
        assert conditions(use) == {("StringEquals", "kms:ViaService"): [f"s3.{env.state.region}.amazonaws.com"],
                                   ("StringLike", "kms:EncryptionContext:aws:s3:arn"): [bucket, f"{bucket}/*"]}
        crypto = [s["sid"] for s in found.values() if s["effect"] == "Allow" and s["sid"] != "UseStateKey"
                  and {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"} & set(s["actions"])]
        assert not crypto, (role, crypto)


def test_the_apply_role_manages_only_keys_tagged_as_this_environments(name, ci_stacks):
    env = all_features(environment(name))
    apply = role_policies(env, ci_stacks)["apply-role"]
    tags = {"project": env.project, "environment": env.name}
    managing = {"kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKeyRotation", "kms:UntagResource"}
    for sid, statement in apply.items():
        if managing & set(statement["actions"]):
            assert sid == "ManageKeysTagged"
            assert conditions(statement) == {("StringEquals", f"aws:ResourceTag/{k}"): [v] for k, v in tags.items()}
    creating = apply["ActionsWithoutResourcesWithTags"]
    assert creating["actions"] == ["kms:CreateKey", "kms:TagResource"]
    assert conditions(creating) == {("StringEquals", f"aws:RequestTag/{k}"): [v] for k, v in tags.items()}
