"""The organization's five stacks applied on one emulator answering as several accounts: each
through its own provider (the management account's credentials, or the deploy role assumed in
its account), in ORGANIZATION_STACKS order, then proven with boto3 account by account, planned
again with no changes, and destroyed.

The emulator stands in for what AWS Organizations would already hold: an organization, trusted
access for CloudTrail and both control policy types enabled on the root (the governance stack's
preconditions). It cannot register a CloudTrail delegated administrator (HTTP 500), so the topology
here has none, nor evaluate a policy or deliver a log: the organization's access matrix proves the
policies (tests/integration/test_organization_access.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from definitions.paths import ROOT
from environments.organization import Organization, load_organization
from operations.emulator import DEFAULT_ACCOUNT, Emulator, deploy_stack, destroy_stack, empty_versioned_bucket, running_emulator
from operations.terraform import terraform
from stacks.ids import ACCESS_LOG_BUCKET_ID, ORGANIZATION_STACKS
from tests.support import ENVIRONMENTS, LOG_ARCHIVE, SECURITY, organization_toml

REGION = "eu-west-1"
CONTROL_POLICY_TYPES = ("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY")
SIDE = ("org-bootstrap", "org-governance")  # stacks no other stack's policy names


def prepare_organization(emulator: Emulator) -> str:
    """The organization as AWS Organizations would hold it before the stacks run; returns its id."""
    orgs = emulator.boto3_client("organizations", "us-east-1")
    organization = orgs.create_organization(FeatureSet="ALL")["Organization"]
    orgs.enable_aws_service_access(ServicePrincipal="cloudtrail.amazonaws.com")
    root = orgs.list_roots()["Roots"][0]["Id"]
    for kind in CONTROL_POLICY_TYPES:
        orgs.enable_policy_type(RootId=root, PolicyType=kind)
    return organization["Id"]


class Deployed:
    def __init__(self, emulator: Emulator, org: Organization, root: Path, tf_env: dict[str, str], outputs: dict[str, dict]):
        self.emulator, self.org, self.root, self.tf_env, self.outputs = emulator, org, root, tf_env, outputs

    def client(self, service: str, account: str):
        return self.emulator.boto3_client(service, REGION, account=None if account == DEFAULT_ACCOUNT else account)


@pytest.fixture(scope="module")
def deployed(tf_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    root = tmp_path_factory.mktemp("organization")
    with running_emulator(None, log_path=root / "moto.log") as emulator:
        topology = root / "organization.toml"
        topology.write_text(organization_toml(settings="prevent_destroy = false", organization_id=prepare_organization(emulator),
                                              management=DEFAULT_ACCOUNT), encoding="utf-8")
        org = load_organization(topology, ENVIRONMENTS)
        assert org is not None
        out = root / "synth"
        subprocess.run([sys.executable, "main.py"], cwd=ROOT, check=True,
                       env={**os.environ, "CDKTF_OUTDIR": str(out), "PLATFORM_ORGANIZATION": str(topology)})
        # The security, archive and trail stacks in order (each policy names what the one before
        # made); the bootstrap and the governance stack beside them, as they depend on none.
        def deploy(names: tuple[str, ...]) -> dict[str, dict]:
            return {name: deploy_stack(out / "stacks" / name, root / name, emulator, tf_env) for name in names}
        chains = [tuple(n for n in ORGANIZATION_STACKS if n in SIDE), tuple(n for n in ORGANIZATION_STACKS if n not in SIDE)]
        with ThreadPoolExecutor(max_workers=len(chains)) as pool:
            outputs = {name: value for chain in pool.map(deploy, chains) for name, value in chain.items()}
        yield Deployed(emulator, org, root, emulator.environment(tf_env), outputs)


def test_each_account_holds_its_stacks_resources(deployed: Deployed):
    names, s = deployed.org.names, deployed.org.settings
    management_s3 = {b["Name"] for b in deployed.client("s3", DEFAULT_ACCOUNT).list_buckets()["Buckets"]}
    archive_s3 = {b["Name"] for b in deployed.client("s3", LOG_ARCHIVE).list_buckets()["Buckets"]}
    security_s3 = {b["Name"] for b in deployed.client("s3", SECURITY).list_buckets()["Buckets"]}
    assert management_s3 == {names.state_bucket}
    assert archive_s3 == {names.trail_bucket, names.access_log_bucket}
    assert security_s3 == {names.results_bucket}
    aliases = {a["AliasName"] for a in deployed.client("kms", SECURITY).list_aliases()["Aliases"]}
    assert {names.trail_key_alias, names.results_key_alias} <= aliases
    assert deployed.client("iam", SECURITY).get_role(RoleName=names.investigator_role)["Role"]["RoleName"] == names.investigator_role
    (trail,) = deployed.client("cloudtrail", DEFAULT_ACCOUNT).describe_trails()["trailList"]
    assert trail["IsOrganizationTrail"] and trail["IsMultiRegionTrail"] and trail["LogFileValidationEnabled"]
    assert trail["TrailARN"] == f"arn:aws:cloudtrail:{REGION}:{s.management_account}:trail/{names.trail}"
    assert trail["S3BucketName"] == names.trail_bucket


def test_the_archive_encrypts_with_the_security_accounts_key_looked_up_by_alias(deployed: Deployed):
    names = deployed.org.names
    trail_key = deployed.outputs["org-security"]["trail_key_arn"]
    assert trail_key.split(":")[4] == SECURITY
    rule = deployed.client("s3", LOG_ARCHIVE).get_bucket_encryption(Bucket=names.trail_bucket)[
        "ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": trail_key}
    (trail,) = deployed.client("cloudtrail", DEFAULT_ACCOUNT).describe_trails()["trailList"]
    assert trail["KmsKeyId"] == trail_key


def test_the_control_policies_are_attached_to_the_root(deployed: Deployed):
    orgs = deployed.emulator.boto3_client("organizations", "us-east-1")
    root = orgs.list_roots()["Roots"][0]["Id"]
    assert deployed.outputs["org-governance"]["organization_root"] == root
    names = deployed.org.names
    attached = {kind: {p["Name"] for p in orgs.list_policies_for_target(TargetId=root, Filter=kind)["Policies"]}
                for kind in CONTROL_POLICY_TYPES}
    assert names.service_control_policy in attached["SERVICE_CONTROL_POLICY"]
    assert names.resource_control_policy in attached["RESOURCE_CONTROL_POLICY"]


def test_a_plan_right_after_the_apply_has_no_changes(deployed: Deployed):
    def plan(name: str) -> tuple[str, subprocess.CompletedProcess]:
        return name, terraform(["plan", "-input=false", "-detailed-exitcode", "-refresh=true"], deployed.root / name,
                               deployed.tf_env, check=False)
    with ThreadPoolExecutor(max_workers=len(ORGANIZATION_STACKS)) as pool:
        results = dict(pool.map(plan, ORGANIZATION_STACKS))
    changed = {name: r.stdout[-2000:] + r.stderr[-2000:] for name, r in results.items() if r.returncode != 0}
    assert not changed, changed


def test_destroy_leaves_no_state_and_no_bucket_in_any_account(deployed: Deployed):
    names = deployed.org.names
    for name in reversed(ORGANIZATION_STACKS):
        if name == "org-archive":
            s3 = deployed.client("s3", LOG_ARCHIVE)
            destroy_stack(deployed.root / name, deployed.tf_env, last=[ACCESS_LOG_BUCKET_ID],
                          before_last=lambda s3=s3: empty_versioned_bucket(s3, names.access_log_bucket))
        else:
            destroy_stack(deployed.root / name, deployed.tf_env)
    for name in ORGANIZATION_STACKS:
        assert terraform(["state", "list"], deployed.root / name, deployed.tf_env).stdout.split() == [], name
    for account in (DEFAULT_ACCOUNT, LOG_ARCHIVE, SECURITY):
        assert deployed.client("s3", account).list_buckets()["Buckets"] == [], account
    roles = {r["RoleName"] for r in deployed.client("iam", SECURITY).list_roles()["Roles"]}
    assert names.investigator_role not in roles
    # The trail is not checked here: moto 5.2's DeleteTrail by ARN (the provider's call) answers
    # success and keeps the trail listed.
