"""The organization's access matrix requests, built from its synthesized stacks, for the IAM
evaluation engine (`simulate.mjs`): the trail bucket's policy (log-archive account), the trail
key's policy and the investigator's identity policy (security account), and the service and
resource control policies attached to the root (management account), and the topic and key
policies of each account's audit path.

AWS applies the control policies so (AWS Organizations user guide, "Service control policies" and
"Resource control policies"): an SCP binds the IAM principals of member accounts, never the
management account's nor AWS service principals; an RCP binds the resources of member accounts,
never the management account's. Each SCP level needs an Allow: the root carries AWS's default
`FullAWSAccess` beside the organization's own. An RCP holds denies only (AWS's `RCPFullAWSAccess`
allows everything, and the engine counts it without being given it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from definitions.access_matrix import SERVICE_PREFIX, Request
from definitions.aws_context import AwsContext
from environments.organization import Organization
from operations.policy_lint import arn_of
from tests.access.model import ADMINISTRATOR, OTHER_ACCOUNT, Principal, document_text

OTHER_ORGANIZATION = "o-zzzzzzzzzz"
ROOT = "r-root"
FULL_AWS_ACCESS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
_LOOKED_UP_KEY = re.compile(r"\$\{data\.aws_kms_key\.[A-Za-z0-9_-]+\.arn\}")


class OrganizationModel:
    """What the organization's stacks put in its accounts, as an evaluation engine needs it."""

    def __init__(self, org: Organization, stacks: Mapping[str, Mapping[str, Any]]) -> None:
        s = self.settings = org.settings
        names = org.names
        self.org = org
        self.stacks = stacks
        self.management = AwsContext(s.management_account, s.home_region)
        self.archive = AwsContext(s.log_archive_account, s.home_region)
        self.security = AwsContext(s.security_account, s.home_region)
        security = stacks["org-security"]
        trail_key = next(name for name, body in security["resource"]["aws_kms_key"].items()
                         if "log files" in body["description"])
        self.trail_key = arn_of(security, "aws_kms_key", trail_key, "arn")
        self.resource_policies: dict[str, dict] = {}
        for stack in stacks.values():
            for body in stack.get("resource", {}).get("aws_s3_bucket_policy", {}).values():
                bucket = stack["resource"]["aws_s3_bucket_public_access_block"][body["bucket"].split(".")[1]]["bucket"]
                bucket_name = stack["resource"]["aws_s3_bucket"][bucket.split(".")[1]]["bucket"]
                self.resource_policies[self.archive.arn("s3", bucket_name)] = self.document(stack, body["policy"])
            for name, body in stack.get("resource", {}).get("aws_kms_key", {}).items():
                self.resource_policies[arn_of(stack, "aws_kms_key", name, "arn")] = self.document(stack, body["policy"])
            for body in stack.get("resource", {}).get("aws_sns_topic_policy", {}).values():
                topic = body["arn"].split(".")[1]
                self.resource_policies[arn_of(stack, "aws_sns_topic", topic, "arn")] = self.document(stack, body["policy"])
        self.investigator_identity = [(body["name"], self.document(security, body["policy"]))
                                      for body in security["resource"]["aws_iam_role_policy"].values()
                                      if body["name"] == f"{names.investigator_role}-permissions"]
        assert self.investigator_identity, "the investigator role's policy was found"
        governance = stacks["org-governance"]
        self.control_policies = {body["type"]: self.document(governance, body["content"])
                                 for body in governance["resource"]["aws_organizations_policy"].values()}
        members = [member.id for member in org.members]
        self.values = {
            "partition": self.management.partition, "region": s.home_region, "organization": s.id,
            "other_organization": OTHER_ORGANIZATION, "management": s.management_account, "member": members[0],
            "other_member": members[1], "other_account": OTHER_ACCOUNT, "s3_host": self.security.service_host("s3"),
            "trail": self.management.arn("cloudtrail", f"trail/{names.trail}"),
            "foreign_trail": self.management.arn("cloudtrail", f"trail/{names.trail}", account=OTHER_ACCOUNT),
            "trail_bucket": self.archive.arn("s3", names.trail_bucket), "trail_key": self.trail_key,
            "investigator_role": self.security.arn("iam", f"role/{names.investigator_role}"),
            "workgroup": self.security.arn("athena", f"workgroup/{names.workgroup}"),
            "log_archive": s.log_archive_account, "security": s.security_account, "trail_account": org.trail_account,
        }
        trail_account = AwsContext(org.trail_account, s.home_region)
        audit_paths = {"archive": (self.archive, "org-archive", "trail-bucket-protection-changed"),
                       "security": (self.security, "org-security", "key-disabled-deleted-or-policy-changed"),
                       "trail": (trail_account, "org-trail", "trail-stopped-or-changed")}
        for prefix, (context, stack_name, rule) in audit_paths.items():
            self.values[f"{prefix}_audit_topic"] = context.arn("sns", names.audit_path)
            self.values[f"{prefix}_audit_rule"] = context.arn("events", f"rule/{names.audit_path}-{rule}")
            stack = stacks[stack_name]
            topic = next(body for body in stack["resource"]["aws_sns_topic"].values() if body["name"] == names.audit_path)
            key = topic["kms_master_key_id"].split(".")[1]
            self.values["results_key" if prefix == "security" else f"{prefix}_audit_key"] = arn_of(stack, "aws_kms_key", key, "arn")
        alarm_topic = next(body for body in security["resource"]["aws_sns_topic"].values() if body["name"] == names.alarm_topic)
        self.values["alarm_topic"] = self.security.arn("sns", names.alarm_topic)
        self.values["alarm_topic_key"] = arn_of(security, "aws_kms_key", alarm_topic["kms_master_key_id"].split(".")[1], "arn")

    def document(self, stack: Mapping[str, Any], value: str) -> dict:
        """A policy document as Terraform hands it to AWS, the looked-up trail key's ARN included."""
        return json.loads(_LOOKED_UP_KEY.sub(lambda _: self.trail_key, document_text(stack, value)))

    def principal(self, who: str) -> tuple[Principal, str | None]:
        """The principal and its account (None for a service)."""
        s = self.settings
        if who.startswith(SERVICE_PREFIX):
            return Principal(caller=who.removeprefix(SERVICE_PREFIX), principal_arn=None), None
        if who == "investigator":
            role = self.org.names.investigator_role
            return Principal(caller=self.security.arn("sts", f"assumed-role/{role}/access-matrix"),
                             principal_arn=self.security.arn("iam", f"role/{role}"),
                             identity=tuple(self.investigator_identity)), s.security_account
        accounts = {"security": s.security_account, "archive": s.log_archive_account, "member": self.values["member"],
                    "outsider": OTHER_ACCOUNT}
        roles = {"admin": "AccountAdministrator", "deployer": s.deploy_role, "break-glass": s.break_glass_role}
        where, _, kind = who.partition("-")
        account, role = accounts[where], roles[kind or "admin"]
        return Principal(caller=self.management.arn("sts", f"assumed-role/{role}/access-matrix", account=account),
                         principal_arn=self.management.arn("iam", f"role/{role}", account=account),
                         identity=(("identity", ADMINISTRATOR),)), account

    def request(self, row: Request) -> dict[str, Any]:
        principal, account = self.principal(row.who)
        resource = row.resource.format(**self.values)
        owner = resource.split(":")[4] or self.settings.log_archive_account  # a bucket's ARN names no account
        context = {"aws:SecureTransport": "true", "aws:PrincipalIsAWSService": "false" if account else "true"}
        if account:
            context |= {"aws:PrincipalArn": principal.principal_arn, "aws:PrincipalAccount": account,
                        "aws:PrincipalOrgID": OTHER_ORGANIZATION if account == OTHER_ACCOUNT else self.settings.id}
        context |= {key: value.format(**self.values) for key, value in row.context.items()}
        in_organization = account not in (None, OTHER_ACCOUNT)
        binds_principal = in_organization and account != self.settings.management_account
        return {
            "principal": principal.caller, "action": row.action, "resource": resource, "account": owner,
            "context": context, "identity": [{"name": n, "policy": d} for n, d in principal.identity],
            "resourcePolicy": self.resource_policies.get(resource.split("/", 1)[0] if ":s3:::" in resource else resource),
            "serviceControlPolicies": [self._level("SERVICE_CONTROL_POLICY", {"FullAWSAccess": FULL_AWS_ACCESS})]
            if binds_principal else [],
            "resourceControlPolicies": [self._level("RESOURCE_CONTROL_POLICY", {})]
            if owner != self.settings.management_account else [],
        }

    def _level(self, kind: str, defaults: dict[str, dict]) -> dict:
        """The root's policies of `kind`: AWS's defaults, and the organization's when attached."""
        policies = [{"name": name, "policy": policy} for name, policy in defaults.items()]
        if kind in self.control_policies:
            policies.append({"name": kind, "policy": self.control_policies[kind]})
        return {"orgIdentifier": ROOT, "policies": policies}
