"""Who can do what across the organization, decided by an IAM evaluation engine over the
organization stacks' policies and its control policies: every request of
definitions/data/organization_access_matrix.toml, and mutations of the policies a row must catch."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from definitions.access_matrix import organization_access_matrix
from tests.access.model import Decision, decide
from tests.access.organization_model import OrganizationModel
from tests.support import load_test_organization


@pytest.fixture(scope="module")
def organization(tmp_path_factory: pytest.TempPathFactory):
    return load_test_organization(tmp_path_factory.mktemp("organization"))


def run(organization, stacks: dict[str, Any]) -> list[Decision]:
    model = OrganizationModel(organization, stacks)
    return decide([(row, model.request(row)) for row in organization_access_matrix()])


def problems(decisions: list[Decision]) -> list[str]:
    return [d.problem for d in decisions if d.problem]


@pytest.fixture(scope="module")
def decided(organization, organization_stacks) -> list[Decision]:
    return run(organization, organization_stacks)


def test_every_request_is_decided_as_the_matrix_says(decided):
    assert not problems(decided), "\n".join(problems(decided))
    assert len(decided) >= 25


def by_name(decisions: list[Decision]) -> dict[str, Decision]:
    return {d.request.name: d for d in decisions}


def test_the_control_policies_decide_their_rows(decided):
    """The service control policy keeps an archive administrator from the bucket policy, and the
    resource control policy keeps the trail key from outsiders: each row is denied by them."""
    rows = by_name(decided)
    assert "scp#DenyTrailBucketChanges" in rows["archive-admin-changes-bucket-policy"].deciding
    assert "rcp#DenyTrailKeyOutsideOrganization" in rows["outsider-uses-trail-key"].deciding
    assert "rcp#DenyTrailBucketOutsideOrganization" in rows["outsider-reads-logs"].deciding


def _statements(stacks: dict[str, Any], stack: str, sid: str) -> list[dict]:
    found = [statement for document in stacks[stack]["data"]["aws_iam_policy_document"].values()
             for statement in document.get("statement", []) if statement.get("sid") == sid]
    assert found, f"{stack}: no statement {sid}"
    return found


def drop_source_arn(stacks: dict[str, Any]) -> None:
    for statement in _statements(stacks, "org-archive", "AllowCloudTrailWrite"):
        statement["condition"] = [c for c in statement["condition"] if c["variable"] != "aws:SourceArn"]


def drop_organization_deny(stacks: dict[str, Any]) -> None:
    for document in stacks["org-archive"]["data"]["aws_iam_policy_document"].values():
        document["statement"] = [s for s in document.get("statement", []) if s.get("sid") != "DenyCloudTrailWritesOfOtherOrganizations"]


def detach_service_control_policy(stacks: dict[str, Any]) -> None:
    policies = stacks["org-governance"]["resource"]["aws_organizations_policy"]
    for name in [n for n, body in policies.items() if body["type"] == "SERVICE_CONTROL_POLICY"]:
        del policies[name]


def drop_encryption_context(stacks: dict[str, Any]) -> None:
    for statement in _statements(stacks, "org-security", "S3ServiceUseReadTrailLogsForOrganizationInvestigator"):
        statement["condition"] = [c for c in statement["condition"] if not c["variable"].startswith("kms:EncryptionContext")]
    for statement in _statements(stacks, "org-security", "UseTrailKeyThroughReadTrailLogs"):
        statement["condition"] = [c for c in statement["condition"] if not c["variable"].startswith("kms:EncryptionContext")]


@pytest.mark.parametrize(("mutation", "caught_by"), [
    (drop_source_arn, "foreign-trail-writes"),
    (drop_organization_deny, "other-organization-writes"),
    (detach_service_control_policy, "archive-admin-changes-bucket-policy"),
    (drop_encryption_context, "investigator-decrypts-without-context"),
])
def test_a_weakened_policy_fails_a_row(organization, organization_stacks, mutation: Callable[[dict[str, Any]], None],
                                       caught_by: str):
    stacks = copy.deepcopy(organization_stacks)
    mutation(stacks)
    failed = {d.request.name for d in run(organization, stacks) if d.problem}
    assert caught_by in failed, failed
