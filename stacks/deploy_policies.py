"""The IAM permissions of the principal that runs Terraform, derived from what a stack holds.

`definitions/data/deploy_permissions.toml` says, per Terraform type (`resource.aws_s3_bucket`,
`data.aws_iam_policy_document`, `provider.aws`, `backend.s3`, ...), which actions the AWS provider
calls for it and which of the environment's resources they act on (a scope). `deploy_policy`
turns the types of one or more synthesized stacks into a policy document, one statement per
scope, with the scopes resolved to this environment's ARNs: what the ops README lists and what a
deploying role is granted. Imports nothing of cdktf.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

from definitions.aws_context import AwsContext
from definitions.deploy_permissions import SCOPE_SIDS, permissions
from environments.config import Environment


def stack_types(stack: Mapping[str, Any]) -> set[str]:
    """The Terraform types a synthesized stack (Terraform JSON) holds, as `permissions()` keys them."""
    types = {f"resource.{rtype}" for rtype in stack.get("resource", {})}
    types |= {f"data.{dtype}" for dtype in stack.get("data", {})}
    types |= {f"provider.{name}" for name in stack.get("provider", {})}
    types |= {f"backend.{name}" for name in stack.get("terraform", {}).get("backend", {})}
    return types


def scope_arns(env: Environment, scope: str) -> list[str]:
    """The ARNs of the environment's own resources that a scope names."""
    here, state = AwsContext(env.account_id, env.region), AwsContext(env.account_id, env.state.region)
    names = env.names
    buckets = [env.data_bucket, env.results_bucket, env.trail_bucket, env.state.bucket]
    buckets += [env.access_log_bucket] if env.audit.access_logs else []
    access_logs_of_state = [state.arn("s3", env.state_access_log_bucket)] if env.state_access_log_bucket else []
    key_ids = sorted({context.arn("kms", "key/*") for context in (here, state)})
    state_object, lock_object = f"{env.state.bucket}/{env.state.key}", f"{env.state.bucket}/{env.state.key}.tflock"
    scopes = {
        "*": ["*"],
        "state": [state.arn("s3", env.state.bucket), state.arn("s3", state_object), state.arn("s3", lock_object)],
        "state_read": [state.arn("s3", env.state.bucket), state.arn("s3", state_object)],
        "state_lock": [state.arn("s3", lock_object)],
        "state_key": [state.arn("kms", "key/*")],
        "buckets": [here.arn("s3", bucket) for bucket in buckets] + access_logs_of_state,
        "keys": key_ids,
        "aliases": [here.arn("kms", names.key_alias), here.arn("kms", names.alerting_key_alias),
                    state.arn("kms", names.state_key_alias), *key_ids],
        "roles": [here.arn("iam", f"role/{name}") for name in (names.role, names.trail_logs_role,
                                                              *((names.plan_role, names.apply_role) if env.github.repository else ()))],
        "oidc_provider": [here.arn("iam", "oidc-provider/token.actions.githubusercontent.com")],
        "analyzer": [here.arn("access-analyzer", f"analyzer/{env.access_analyzer_name}")],
        "analyzer_role": [here.arn("iam", "role/aws-service-role/access-analyzer.amazonaws.com/AWSServiceRoleForAccessAnalyzer")],
        "groups": [here.arn("iam", f"group/{names.group}")],
        "trail": [here.arn("cloudtrail", f"trail/{names.trail}")],
        "log_group": [here.arn("logs", f"log-group:{names.log_group}"), here.arn("logs", f"log-group:{names.log_group}:*")],
        "alarms": [here.arn("cloudwatch", "alarm:*")],
        "topic": [here.arn("sns", topic) + suffix for topic in (names.alarm_topic, names.audit_path_topic)
                  for suffix in ("", ":*")],
        "event_rules": [here.arn("events", f"rule/{names.audit_path_rules}-*")],
        "dashboard": [here.arn("cloudwatch", f"dashboard/{names.dashboard}", region="")],  # dashboards are global
        "workgroup": [here.arn("athena", f"workgroup/{names.workgroup}")],
        # DeleteDatabase also needs the database's functions (Glue developer guide: resource-level permissions).
        "catalog": [here.arn("glue", "catalog"), here.arn("glue", f"database/{names.database}"),
                    here.arn("glue", f"table/{names.database}/*"), here.arn("glue", f"userDefinedFunction/{names.database}/*")],
    }
    return scopes[scope]


def deploy_policy(env: Environment, types: Iterable[str]) -> dict[str, Any]:
    """An IAM policy document granting what Terraform needs to manage stacks holding `types`.
    KeyError names a type that data/deploy_permissions.toml does not cover."""
    actions: dict[str, set[str]] = {}
    for type_name in sorted(types):
        for grant in permissions()[type_name]:
            actions.setdefault(grant.scope, set()).update(grant.actions)
    statements = [{"Sid": SCOPE_SIDS[scope], "Effect": "Allow", "Action": _without_covered(actions[scope]),
                   "Resource": scope_arns(env, scope)}
                  for scope in SCOPE_SIDS if actions.get(scope)]
    return {"Version": "2012-10-17", "Statement": statements}


# What a plan needs besides reading every resource: the state, and the lock it takes meanwhile.
PLAN_STATE_GRANTS = {"state_read": ["s3:ListBucket", "s3:GetObject"], "state_lock": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]}
READ_VERBS = ("Get", "List", "Describe")


def plan_policy(env: Environment, types: Iterable[str]) -> dict[str, Any]:
    """The read-only part of `deploy_policy` (Get, List, Describe), with the state readable and
    its lock file writable: what `terraform plan` needs, and nothing that changes a resource."""
    statements = []
    for statement in deploy_policy(env, types)["Statement"]:
        if statement["Sid"] == SCOPE_SIDS["state"]:
            statements += [{"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": scope_arns(env, scope)}
                           for scope, actions in PLAN_STATE_GRANTS.items() for sid in [SCOPE_SIDS[scope]]]
            continue
        reads = [a for a in statement["Action"] if a.split(":", 1)[1].startswith(READ_VERBS)]
        if statement["Sid"] == SCOPE_SIDS["state_key"]:
            reads = statement["Action"]  # the lock file is written encrypted with the state key
        if reads:
            statements.append({**statement, "Sid": statement["Sid"].replace("Manage", "Read", 1), "Action": reads})
    return {"Version": "2012-10-17", "Statement": statements}


def _without_covered(actions: set[str]) -> list[str]:
    """The actions, sorted, without those a wildcard among them already grants (s3:GetBucket*)."""
    wildcards = [a for a in actions if "*" in a]
    return sorted(a for a in actions if a in wildcards or not any(fnmatch.fnmatchcase(a, w) for w in wildcards))
