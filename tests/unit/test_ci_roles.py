"""The roles the GitHub workflows assume: the plan role reads (and locks the state), the apply role
is reachable only from the environment's GitHub environment, both through GitHub's OIDC provider
with the audience AWS's STS expects. Read from the synthesized trust and permission policies of
every environment with a repository set (`all_features`), whatever its file says."""

from __future__ import annotations

import dataclasses
import json

import pytest
from cdktf import Testing as CdktfTesting

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
        assert set(conditions(statement)) == {("StringEquals", f"{TOKEN}:aud"), ("StringEquals", f"{TOKEN}:sub")}


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
    expected = {s["Sid"]: s for s in deploy_policy(env, types)["Statement"]}
    apply = by_sid(statements(bootstrap, one(bootstrap, "aws_iam_role_policy", "github_apply-role_policy")["policy"]))
    assert {sid: (s["actions"], s["resources"]) for sid, s in apply.items()} == {
        sid: (s["Action"], s["Resource"]) for sid, s in expected.items()}
    plan = by_sid(statements(bootstrap, one(bootstrap, "aws_iam_role_policy", "github_plan-role_policy")["policy"]))
    for sid, statement in plan.items():
        writes = [a for a in statement["actions"] if a.split(":", 1)[1].startswith(WRITE_VERBS)]
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
