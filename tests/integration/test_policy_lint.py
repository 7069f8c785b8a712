"""parliament over every policy the stacks produce, rendered as Terraform renders them: nothing
beyond the written ignores, and no ignore that matches nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from operations.policy_lint import PolicyFinding, documents, evaluate, findings, load_ignores, rendered
from operations.stack_diff import load_stacks
from tests.support import ALL_STACKS


@pytest.fixture(scope="module")
def stacks(synth_out: Path) -> dict[str, dict]:
    return load_stacks(synth_out / "stacks")


def test_every_policy_passes_parliament_but_the_written_ignores(stacks):
    count, found = findings(stacks)
    expected = sum(len(stacks[s].get("data", {}).get("aws_iam_policy_document", {})) for s in ALL_STACKS)
    assert count == expected > 10, "parliament must have read every policy document"
    assert evaluate(found, load_ignores()) == []


def test_documents_are_rendered_as_aws_will_store_them(stacks):
    texts = {name.rsplit("_", 1)[0]: json.loads(text) for stack, name, text in documents(stacks) if stack == ALL_STACKS[0]}
    group = {s["Sid"]: s for s in texts["access_analysts-group_permissions_document"]["Statement"]}
    assert group["ManageOwnMfaDevice"]["Resource"].endswith(":user/${aws:username}")  # a policy variable, not Terraform's
    assert isinstance(group["CreateVirtualMfaDevice"]["Action"], str)  # one value: a string, as Terraform writes it
    role_trust = texts["access_application-role_trust_document"]["Statement"]
    assert all("${" not in json.dumps(s) for s in role_trust)
    bucket = {s["Sid"]: s for s in texts["data-bucket_policy_document"]["Statement"]}
    assert bucket["DenyInsecureTransport"]["Principal"] == "*"


def test_an_unknown_reference_fails_loudly():
    stack = {"provider": {"aws": [{"region": "eu-west-1", "allowed_account_ids": ["111111111111"]}]},
             "resource": {"aws_lambda_function": {"f": {"function_name": "f"}}}}
    document = {"statement": [{"effect": "Allow", "actions": ["lambda:InvokeFunction"], "resources": ["${aws_lambda_function.f.arn}"]}]}
    with pytest.raises(KeyError, match="no rule to render"):
        rendered(stack, document)


def test_a_new_finding_and_a_stale_ignore_both_fail():
    ignores = [{"issue": "RESOURCE_STAR", "documents": ["data-key_policy_document_*"], "reason": "r" * 20},
               {"issue": "NEVER_SEEN", "documents": ["x_*"], "reason": "r" * 20}]
    found = [PolicyFinding("dev", "data-key_policy_document_1", "RESOURCE_STAR", "[]"),
             PolicyFinding("dev", "data-bucket_policy_document_1", "RESOURCE_STAR", "[]")]
    problems = evaluate(found, ignores)
    assert problems == ["dev: data-bucket_policy_document_1: RESOURCE_STAR []",
                        "parliament_ignores.toml: NEVER_SEEN ['x_*'] ignores nothing (stale)"]
