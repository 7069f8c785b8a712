"""Who can do what, decided by an IAM evaluation engine over the synthesized policies: every request of
definitions/data/access_matrix.toml in every environment it applies to; the calls Terraform makes to
refresh the data bucket; and mutations of the policies that a row must catch."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from definitions.access_matrix import SERVICE_PREFIX, Request, access_matrix
from definitions.deploy_permissions import provider_reads
from environments.config import Environment
from operations.stack_diff import load_stacks
from tests.access.model import ROLE_SERVICES, AccountModel, Decision, decide
from tests.support import ENVIRONMENTS


@pytest.fixture(scope="module")
def stacks(synth_out: Path) -> dict[str, dict]:
    return load_stacks(synth_out / "stacks")


def run_matrix(stacks: Mapping[str, Any], rows: tuple[Request, ...] | Callable[[Environment], tuple[Request, ...]] | None = None,
               ) -> dict[str, list[Decision]]:
    """{environment: the decisions of the rows that apply to it}, in one engine call. `rows` may be
    a function of the environment."""
    rows = access_matrix() if rows is None else rows
    batch, owners = [], []
    for env in ENVIRONMENTS:
        model = AccountModel(env, stacks)
        for row in rows(env) if callable(rows) else rows:
            if row.applies(model.settings):
                batch.append((row, model.request(row)))
                owners.append(env.name)
    decided: dict[str, list[Decision]] = {env.name: [] for env in ENVIRONMENTS}
    for owner, decision in zip(owners, decide(batch), strict=True):
        decided[owner].append(decision)
    return decided


def failures(decided: Mapping[str, list[Decision]]) -> list[str]:
    return [f"{env}: {d.problem}" for env, decisions in decided.items() for d in decisions if d.problem]


@pytest.fixture(scope="module")
def decided(stacks: dict[str, dict]) -> dict[str, list[Decision]]:
    return run_matrix(stacks)


def test_every_request_is_decided_as_the_matrix_says(decided):
    problems = failures(decided)
    assert not problems, "\n".join(problems)
    assert all(len(decisions) >= 40 for decisions in decided.values()), {e: len(d) for e, d in decided.items()}


def test_every_row_is_decided_somewhere(decided):
    """A row that applies to no environment proves nothing: some environment must configure what it is about."""
    seen = {d.request.name for decisions in decided.values() for d in decisions}
    assert [r.name for r in access_matrix() if r.name not in seen] == []


def test_rows_are_decided_by_statements_the_policies_hold(decided):
    """The engine names real statements: the data bucket's object deny stops an administrator."""
    for env, decisions in decided.items():
        admin = next(d for d in decisions if d.request.name == "admin-reads-objects")
        assert admin.decision == "ExplicitlyDenied" and "resource#DenyObjectAccessToOthers" in admin.deciding, (env, admin)


def test_terraform_refreshes_the_data_bucket_as_the_deployers_and_ci_roles(stacks):
    """Every read call provider 5.100 makes to refresh a bucket and its parts (provider_reads.toml),
    for the bucket types each environment holds, on the data bucket, by each principal that runs
    Terraform: allowed, although the bucket denies object access to them."""
    def refreshes(env: Environment) -> tuple[Request, ...]:
        types = {f"resource.{t}" for t in stacks[env.name]["resource"] if t.startswith("aws_s3_bucket")}
        actions = sorted({a for t in types for a in provider_reads()[t] if a.startswith("s3:")})
        assert "s3:ListBucket" in actions and len(actions) > 10
        return tuple(Request(name=f"{who}-refreshes-data-bucket-{action.partition(':')[2].lower()}", who=who, action=action,
                             resource="{data_bucket}", expect="allow", why="Terraform refreshes what it manages",
                             when=("ci",) if who != "deployer" else ())
                     for who in ("deployer", "plan-role", "apply-role") for action in actions)

    decided = run_matrix(stacks, refreshes)
    problems = failures(decided)
    assert not problems, "\n".join(problems)
    assert all(len(d) > 10 for d in decided.values())


def test_each_trusted_service_and_no_other_assumes_the_application_role(stacks):
    def assumptions(env: Environment) -> tuple[Request, ...]:
        services = (*env.trusted_services, *(s for s in ROLE_SERVICES if s not in env.trusted_services))
        return tuple(Request(name=f"{service.split('.')[0]}-assumes-role", who=f"{SERVICE_PREFIX}{service}", action="sts:AssumeRole",
                             resource="{application_role}", expect="allow" if service in env.trusted_services else "deny",
                             why="trusted_services decides which services run the application") for service in services)

    decided = run_matrix(stacks, assumptions)
    problems = failures(decided)
    assert not problems, "\n".join(problems)
    allowed = {d.sent["principal"] for decisions in decided.values() for d in decisions if d.decision == "Allowed"}
    assert allowed == {service for env in ENVIRONMENTS for service in env.trusted_services}
    assert all(len(decisions) >= len(ROLE_SERVICES) for decisions in decided.values())


# --- mutations: a weakened policy must make a row fail ---------------------------------------------

def _documents(stacks: dict[str, Any], suffix: str) -> list[tuple[str, dict]]:
    """(account, document) of the policy data sources whose logical id (without its hash) ends with
    `suffix`, in every stack."""
    return [(stack["provider"]["aws"][0]["allowed_account_ids"][0], document) for stack in stacks.values()
            for name, document in stack.get("data", {}).get("aws_iam_policy_document", {}).items()
            if name.rsplit("_", 1)[0].endswith(suffix)]


def drop_mfa(stacks: dict[str, Any]) -> None:
    """Remove the MFA condition: from the trust and the group's allow, and the group's deny without it."""
    for suffix in ("application-role_trust_document", "analysts-group_permissions_document"):
        for _, document in _documents(stacks, suffix):
            document["statement"] = [s for s in document["statement"] if s.get("effect") != "Deny"]
            for statement in document["statement"]:
                statement["condition"] = [c for c in statement.get("condition", []) if c["variable"] != "aws:MultiFactorAuthPresent"]


def widen_bucket_exemption(stacks: dict[str, Any]) -> None:
    """Let an administrator role of each account past the data bucket's object deny."""
    for account, document in _documents(stacks, "data-bucket_policy_document"):
        for statement in document["statement"]:
            for condition in statement.get("condition", []):
                if statement["sid"] == "DenyObjectAccessToOthers" and condition["variable"] == "aws:PrincipalArn":
                    condition["values"].append(f"arn:aws:iam::{account}:role/AccountAdministrator")


def drop_trail_source_arn(stacks: dict[str, Any]) -> None:
    """Let any trail write into the trail bucket."""
    for _, document in _documents(stacks, "trail-bucket_policy_document"):
        for statement in document["statement"]:
            statement["condition"] = [c for c in statement.get("condition", []) if c["variable"] != "aws:SourceArn"]


def drop_key_use_deny(stacks: dict[str, Any]) -> None:
    """Back to the seed's key policy alone: the root statement lets an IAM policy with kms:* use the key."""
    for _, document in _documents(stacks, "data-key_policy_document"):
        document["statement"] = [s for s in document["statement"] if s["sid"] != "DenyUseButGranteesBreakGlassAndRoot"]


@pytest.mark.parametrize(("mutation", "caught_by"), [
    (drop_key_use_deny, "admin-decrypts-directly"),
    (drop_mfa, "analyst-assumes-role-without-mfa"),
    (widen_bucket_exemption, "admin-reads-objects"),
    (drop_trail_source_arn, "other-trail-writes-logs"),
])
def test_a_weakened_policy_fails_a_row(stacks, mutation: Callable[[dict[str, Any]], None], caught_by: str):
    weakened = copy.deepcopy(stacks)
    mutation(weakened)
    rows = tuple(r for r in access_matrix() if r.name == caught_by)
    problems = failures(run_matrix(weakened, rows))
    assert len(problems) == len(ENVIRONMENTS), problems
    assert all(f"{caught_by}: " in p and "expected deny, engine says Allowed" in p for p in problems), problems


# --- the engine itself --------------------------------------------------------------------------------

def test_a_misspelled_context_key_cannot_decide_a_row(stacks):
    """A typo would drop a condition's key; the row fails instead of passing on a silent default."""
    row = next(r for r in access_matrix() if r.name == "application-reads-object-over-http")
    typo = dataclasses.replace(row, context={"aws:SecureTransprt": "false"})
    [decision] = run_matrix(stacks, (typo,))[ENVIRONMENTS[0].name]
    assert decision.problem and "ignored context keys aws:SecureTransprt" in decision.problem


def test_encryption_context_conditions_are_evaluated(stacks):
    """The unchecked engine (for kms:EncryptionContext keys) still decides on the values: CloudTrail
    encrypting for this trail is allowed, for another trail not, with nothing else changed."""
    row = next(r for r in access_matrix() if r.name == "cloudtrail-encrypts-logs")
    other = dataclasses.replace(row, name="changed", expect="deny", context={
        **row.context, "kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:{region}:{other_account}:trail/x"})
    decisions = run_matrix(stacks, (row, other))
    assert {(d.request.name, d.decision, d.engine) for d in decisions[ENVIRONMENTS[0].name]} == {
        ("cloudtrail-encrypts-logs", "Allowed", "unchecked"), ("changed", "ImplicitlyDenied", "unchecked")}
