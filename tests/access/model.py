"""The access matrix's requests, built from an environment's synthesized stacks, and decided by the
IAM evaluation engine (`simulate.mjs`, @cloud-copilot/iam-simulate) in one Node call per batch.

The policies are the stacks' own, rendered as Terraform hands them to AWS (operations/policy_lint):
which identity policies a role or group has, the trust of each role, the policy of each bucket, key
and topic, and the permissions boundary of the roles, all found through the resources that attach
them. Only the identities that exist outside the stacks (an administrator, a deployer, break-glass)
get an identity policy of the test's: administrator access, the most they could hold.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from collections.abc import Iterable, Mapping
from typing import Any

from definitions.access_matrix import SERVICE_PREFIX, Request
from definitions.aws_context import AwsContext
from definitions.cloudtrail_tables import load_schema
from definitions.paths import ROOT
from environments.config import Environment
from operations.policy_lint import REFERENCE, arn_of, rendered
from tests.stack_queries import address

ENGINE = ROOT / "tests" / "access" / "simulate.mjs"
OTHER_ACCOUNT = "999999999999"
ADMINISTRATOR = {"Version": "2012-10-17",
                 "Statement": [{"Sid": "AdministratorAccess", "Effect": "Allow", "Action": "*", "Resource": "*"}]}
ASSUME_ANY_ROLE = {"Version": "2012-10-17",
                   "Statement": [{"Sid": "AssumeAnyRole", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
# Services that assume roles: an environment trusts some, never all of them.
ROLE_SERVICES = ("glue.amazonaws.com", "ecs-tasks.amazonaws.com", "states.amazonaws.com", "sagemaker.amazonaws.com")
_DOCUMENT = re.compile(r"^\$\{data\.aws_iam_policy_document\.([A-Za-z0-9_-]+)\.json\}$")


def document_text(stack: Mapping[str, Any], value: str) -> str:
    """The policy a resource's `${data.aws_iam_policy_document.<name>.json}` names, as Terraform hands it to AWS."""
    match = _DOCUMENT.match(value)
    assert match, f"not a policy document reference: {value}"
    return rendered(stack, stack["data"]["aws_iam_policy_document"][match.group(1)])


@dataclasses.dataclass(frozen=True)
class Principal:
    caller: str  # the request's principal: a session, a user, a service, an OIDC provider
    principal_arn: str | None  # aws:PrincipalArn (the role for a session); None for services and web identities
    identity: tuple[tuple[str, dict], ...] = ()
    boundary: tuple[str, dict] | None = None


@dataclasses.dataclass(frozen=True)
class Decision:
    request: Request
    sent: dict[str, Any]
    decision: str  # Allowed, ExplicitlyDenied, ImplicitlyDenied, Error
    deciding: tuple[str, ...]
    ignored_context_keys: tuple[str, ...]
    errors: str
    engine: str

    @property
    def problem(self) -> str | None:
        """Why the row fails, in one line, or None."""
        r = self.request
        where = f"{r.name}: {r.who} {r.action} {self.sent['resource']} {json.dumps(self.sent['context'], sort_keys=True)}"
        if self.decision == "Error" or self.ignored_context_keys:
            return f"{where}: the engine could not decide it ({self.errors or 'ignored context keys ' + ', '.join(self.ignored_context_keys)})"
        actual = "allow" if self.decision == "Allowed" else "deny"
        if actual != r.expect:
            return (f"{where}: expected {r.expect}, engine says {self.decision} "
                    f"(deciding: {', '.join(self.deciding) or 'no statement'}; {self.engine} engine)")
        return None


class AccountModel:
    """What an environment's stacks put in its account, as an evaluation engine needs it."""

    def __init__(self, env: Environment, stacks: Mapping[str, Mapping[str, Any]]) -> None:
        self.env = env
        self.stack = stacks[env.name]
        self.bootstrap = stacks.get(env.bootstrap_stack, {})
        self.context = context = AwsContext(env.account_id, env.region)
        self.account = env.account_id
        self.resource_policies: dict[str, dict] = {}  # bucket, key, topic or role ARN -> its policy
        self.role_identity: dict[str, list[tuple[str, dict]]] = {}  # role name -> its inline policies
        self.role_boundary: dict[str, str] = {}  # role name -> boundary ARN
        self.group_identity: dict[str, list[tuple[str, dict]]] = {}
        self.managed_policies: dict[str, dict] = {}  # ARN -> document
        for stack in (self.stack, self.bootstrap):
            self._read(stack)
        names, arn = env.names, context.arn
        self.values = {
            "partition": context.partition, "account": self.account, "other_account": OTHER_ACCOUNT, "region": env.region,
            "env": env.name, "s3_host": context.service_host("s3"),
            "data_bucket": arn("s3", env.data_bucket), "results_bucket": arn("s3", env.results_bucket),
            "trail_bucket": arn("s3", env.trail_bucket), "access_log_bucket": arn("s3", env.access_log_bucket),
            "data_bucket_name": env.data_bucket,
            "data_key": self.key_arn("data-key"), "alerting_key": self.key_arn("alerting-key"),
            "application_role": self.role_arn(names.role), "plan_role": self.role_arn(names.plan_role),
            "apply_role": self.role_arn(names.apply_role),
            "permissions_boundary": arn("iam", f"policy/{names.permissions_boundary}"),
            "trail": arn("cloudtrail", f"trail/{names.trail}"),
            "log_group": arn("logs", f"log-group:{names.log_group}"),
            "alarm_topic": arn("sns", names.alarm_topic), "audit_path_topic": arn("sns", names.audit_path_topic),
            "audit_path_rule": arn("events", f"rule/{names.audit_path_rules}-trail-stopped-or-changed"),
            "workgroup": arn("athena", f"workgroup/{names.workgroup}"),
            "trail_table": arn("glue", f"table/{names.database}/cloudtrail"),
            "compaction_role": self.role_arn(names.compaction),
            "compaction_workgroup": arn("athena", f"workgroup/{names.compaction}"),
            "compact_table": arn("glue", f"table/{names.database}/{load_schema().compact.name}"),
            "compact_object": arn("s3", f"{env.results_bucket}/compact/{load_schema().compact.name}/day=2026-12-03/"
                                        "category=Management/20261204_000512_00034_abcde_0.zstd.parquet"),
            "repository": env.github.repository,
        }
        self.settings = {
            "break_glass": bool(env.break_glass_arns), "no_break_glass": not env.break_glass_arns,
            "ci": bool(env.github.repository), "analyst_users": bool(env.analyst_user_arns),
            "access_logs": env.audit.access_logs, "trusted_services": bool(env.trusted_services),
            "analysts_direct_athena": env.analysts_direct_athena,
        }

    # --- reading the stacks ------------------------------------------------------------------------

    def _value(self, stack: Mapping[str, Any], value: Any) -> Any:
        """A reference's value as it will be applied: names followed through to the literal, ARNs rendered."""
        match = REFERENCE.fullmatch(value) if isinstance(value, str) else None
        if not match or match.group(1):
            return value
        rtype, name, attribute = match.group(2), match.group(3), match.group(4)
        if attribute == "arn":
            return arn_of(stack, rtype, name, attribute)
        body = stack["resource"][rtype][name]
        for key in (attribute, "bucket", "name"):
            if key in body:
                return self._value(stack, body[key])
        raise KeyError(f"no value for {value}")

    def _document(self, stack: Mapping[str, Any], value: str) -> dict:
        return json.loads(document_text(stack, value))

    def _read(self, stack: Mapping[str, Any]) -> None:
        resources = stack.get("resource", {})
        for body in resources.get("aws_s3_bucket_policy", {}).values():
            self.resource_policies[self.context.arn("s3", self._value(stack, body["bucket"]))] = self._document(stack, body["policy"])
        for name, body in resources.get("aws_kms_key", {}).items():
            self.resource_policies[arn_of(stack, "aws_kms_key", name, "arn")] = self._document(stack, body["policy"])
        for body in resources.get("aws_sns_topic_policy", {}).values():
            self.resource_policies[self._value(stack, body["arn"])] = self._document(stack, body["policy"])
        for name, body in resources.get("aws_iam_role", {}).items():
            self.resource_policies[arn_of(stack, "aws_iam_role", name, "arn")] = self._document(stack, body["assume_role_policy"])
            if "permissions_boundary" in body:
                self.role_boundary[body["name"]] = body["permissions_boundary"]
        for body in resources.get("aws_iam_role_policy", {}).values():
            self.role_identity.setdefault(self._value(stack, body["role"]), []).append((body["name"], self._document(stack, body["policy"])))
        for body in resources.get("aws_iam_group_policy", {}).values():
            self.group_identity.setdefault(self._value(stack, body["group"]), []).append((body["name"], self._document(stack, body["policy"])))
        for body in resources.get("aws_iam_policy", {}).values():
            self.managed_policies[self.context.arn("iam", f"policy/{body['name']}")] = self._document(stack, body["policy"])
        for rtype in resources:
            assert rtype not in ("aws_iam_role_policy_attachment", "aws_iam_group_policy_attachment", "aws_iam_user_policy"), (
                f"{rtype}: attach it in tests/access/model.py so that the matrix sees it")

    def key_arn(self, construct: str) -> str:
        rtype, name = address(self.stack, "aws_kms_key", construct).split(".")
        return arn_of(self.stack, rtype, name, "arn")

    def role_arn(self, name: str) -> str:
        return self.context.arn("iam", f"role/{name}")

    def session_arn(self, role_name: str) -> str:
        """A session of the role, as a request's principal (a role's path is not in it)."""
        return self.context.arn("sts", f"assumed-role/{role_name.rpartition('/')[2]}/access-matrix")

    # --- principals and requests -------------------------------------------------------------------

    def _role(self, name: str) -> Principal:
        boundary = self.role_boundary.get(name)
        return Principal(
            caller=self.session_arn(name),
            principal_arn=self.role_arn(name),
            identity=tuple(self.role_identity.get(name, ())),
            boundary=(boundary, self.managed_policies[boundary]) if boundary else None)

    def _outside(self, arn: str, policy: dict) -> Principal:
        """An identity the stacks do not create: its ARN, with `policy` as its identity policy."""
        kind, _, name = arn.split(":", 5)[5].partition("/")
        caller = self.session_arn(name) if kind == "role" else arn
        return Principal(caller=caller, principal_arn=arn, identity=(("identity", policy),))

    def principal(self, who: str) -> Principal:
        env, arn = self.env, self.context.arn
        group = tuple(self.group_identity[env.names.group])
        if who.startswith(SERVICE_PREFIX):
            return Principal(caller=who.removeprefix(SERVICE_PREFIX).format(**self.values), principal_arn=None)
        if who == "application-role":
            return self._role(env.names.role)
        if who == "compaction-role":
            return self._role(env.names.compaction)
        if who in ("plan-role", "apply-role"):
            return self._role(env.names.plan_role if who == "plan-role" else env.names.apply_role)
        if who in ("analyst", "unlisted-user"):
            user = env.analyst_user_arns[0] if who == "analyst" and env.analyst_user_arns else arn("iam", f"user/{who}")
            return Principal(caller=user, principal_arn=user, identity=group)
        if who == "other-role":
            return self._outside(arn("iam", "role/OtherWorkload"), ASSUME_ANY_ROLE)
        if who == "account-admin":
            return self._outside(arn("iam", "role/AccountAdministrator"), ADMINISTRATOR)
        if who == "deployer":
            return self._outside(env.deployer_arns[0], ADMINISTRATOR)
        if who == "break-glass":
            return self._outside(env.break_glass_arns[0], ADMINISTRATOR)
        if who == "trusted-service":
            return Principal(caller=env.trusted_services[0], principal_arn=None)
        if who == "untrusted-service":
            return Principal(caller=next(s for s in ROLE_SERVICES if s not in env.trusted_services), principal_arn=None)
        if who == "github":
            provider = env.github.oidc_provider_arn or arn("iam", f"oidc-provider/{GITHUB_OIDC_HOST}")
            return Principal(caller=provider, principal_arn=None)
        raise KeyError(f"no principal {who!r} in tests/access/model.py")

    def resource_policy(self, action: str, resource: str) -> dict | None:
        """The policy of the resource a request acts on: a role's trust (for sts calls only), a
        key's or topic's policy, a bucket's for itself and its objects."""
        if ":iam::" in resource and ":role/" in resource and not action.startswith("sts:"):
            return None
        if ":s3:::" in resource:
            return self.resource_policies.get(resource.split("/", 1)[0])
        return self.resource_policies.get(resource)

    def request(self, row: Request) -> dict[str, Any]:
        """The engine's input for `row` in this environment."""
        principal = self.principal(row.who)
        resource = row.resource.format(**self.values)
        context: dict[str, str] = {}
        if row.who != "github":  # a web identity: no AWS principal signs the request
            context = {"aws:SecureTransport": "true", "aws:PrincipalIsAWSService": "false" if principal.principal_arn else "true"}
        if principal.principal_arn:
            context |= {"aws:PrincipalArn": principal.principal_arn, "aws:PrincipalAccount": self.account}
        context |= {key: value.format(**self.values) for key, value in row.context.items()}
        account = resource.split(":")[4] or self.account if resource.startswith("arn:") else self.account
        return {
            "principal": principal.caller, "action": row.action, "resource": resource, "account": account,
            "context": context, "identity": [{"name": n, "policy": d} for n, d in principal.identity],
            "resourcePolicy": self.resource_policy(row.action, resource),
            "boundary": {"name": principal.boundary[0], "policy": principal.boundary[1]} if principal.boundary else None,
        }


def decide(batch: Iterable[tuple[Request, dict[str, Any]]]) -> list[Decision]:
    """Each request decided by the engine, in one Node process."""
    pairs = list(batch)
    done = subprocess.run(["node", str(ENGINE)], input=json.dumps([sent for _, sent in pairs]), capture_output=True,
                          text=True, check=False, cwd=ROOT, timeout=600)
    assert done.returncode == 0, f"{ENGINE.name} failed: {done.stderr}"
    answers = json.loads(done.stdout)
    assert len(answers) == len(pairs), (len(answers), len(pairs))
    return [Decision(row, sent, a["decision"], tuple(a["deciding"]), tuple(a["ignoredContextKeys"]), a.get("errors", ""), a["engine"])
            for (row, sent), a in zip(pairs, answers, strict=True)]
