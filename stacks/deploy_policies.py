"""The IAM permissions of the principal that runs Terraform, derived from what a stack holds.

`definitions/data/deploy_permissions.toml` says, per Terraform type (`resource.aws_s3_bucket`,
`data.aws_iam_policy_document`, `provider.aws`, `backend.s3`, ...), which actions the AWS provider
calls for it and which of the environment's resources they act on (a scope). `deploy_policy`
turns the types of one or more synthesized stacks into a policy document, one statement per
scope and condition, with the scopes resolved to this environment's ARNs: what the ops README
lists and what a deploying role is granted. The platform stack's policy also carries
`GUARDRAILS`: explicit denies that keep whoever applies it from changing the CI roles, the
permissions boundary, or a role's boundary. Imports nothing of cdktf.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

from definitions.aws_context import AwsContext
from definitions.deploy_permissions import CONDITIONS, SCOPE_SIDS, permissions
from environments.config import Environment


def stack_types(stack: Mapping[str, Any]) -> set[str]:
    """The Terraform types a synthesized stack (Terraform JSON) holds, as `permissions()` keys them."""
    types = {f"resource.{rtype}" for rtype in stack.get("resource", {})}
    types |= {f"data.{dtype}" for dtype in stack.get("data", {})}
    types |= {f"provider.{name}" for name in stack.get("provider", {})}
    types |= {f"backend.{name}" for name in stack.get("terraform", {}).get("backend", {})}
    return types


def scope_arns(env: Environment, scope: str, *, bootstrap: bool = False) -> list[str]:
    """The ARNs of the environment's own resources that a scope names, in the platform stack or,
    with `bootstrap`, in the bootstrap stack (whose roles are the CI roles)."""
    here, state = AwsContext(env.account_id, env.region), AwsContext(env.account_id, env.state.region)
    names = env.names
    # The bootstrap creates the state bucket (and its access-log bucket elsewhere) and the state
    # key: its policy names those alone, not the environment's buckets and keys.
    if bootstrap:
        buckets = [env.state.bucket]
    else:
        buckets = [env.data_bucket, env.results_bucket, env.trail_bucket, env.state.bucket]
        buckets += [env.access_log_bucket] if env.audit.access_logs else []
    access_logs_of_state = [state.arn("s3", env.state_access_log_bucket)] if env.state_access_log_bucket else []
    key_ids = sorted({context.arn("kms", "key/*") for context in ((state,) if bootstrap else (here, state))})
    state_object, lock_object = f"{env.state.bucket}/{env.state.key}", f"{env.state.bucket}/{env.state.key}.tflock"
    scopes = {
        "*": ["*"],
        "state": [state.arn("s3", env.state.bucket), state.arn("s3", state_object), state.arn("s3", lock_object)],
        "state_read": [state.arn("s3", env.state.bucket), state.arn("s3", state_object)],
        "state_lock": [state.arn("s3", lock_object)],
        "state_key": [state.arn("kms", "key/*")],
        "buckets": [here.arn("s3", bucket) for bucket in buckets] + access_logs_of_state,
        "keys": key_ids,
        "aliases": [*([] if bootstrap else [here.arn("kms", names.key_alias), here.arn("kms", names.alerting_key_alias)]),
                    state.arn("kms", names.state_key_alias), *key_ids],
        "roles": [here.arn("iam", f"role/{name}") for name in ((names.plan_role, names.apply_role) if bootstrap
                                                              else (names.role, names.trail_logs_role, names.compaction))],
        "boundary": [boundary_arn(env)],
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
        "workgroup": [here.arn("athena", f"workgroup/{name}") for name in (names.workgroup, names.compaction)],
        "schedule": [here.arn("scheduler", f"schedule/default/{names.compaction}")],
        # DeleteDatabase also needs the database's functions (Glue developer guide: resource-level permissions).
        "catalog": [here.arn("glue", "catalog"), here.arn("glue", f"database/{names.database}"),
                    here.arn("glue", f"table/{names.database}/*"), here.arn("glue", f"userDefinedFunction/{names.database}/*")],
    }
    return scopes[scope]


def boundary_arn(env: Environment) -> str:
    """The workload permissions boundary the bootstrap creates (IAM is global: no region)."""
    return AwsContext(env.account_id, env.region).arn("iam", f"policy/{env.names.permissions_boundary}")


def conditions(env: Environment, condition: str) -> dict[str, Any]:
    """The IAM condition block of a grant's `condition` (definitions/deploy_permissions.py CONDITIONS)."""
    tags = {"project": env.project, "environment": env.name}  # the provider's default tags (Environment.all_tags)
    return {
        "": {},
        "permissions_boundary": {"ArnEquals": {"iam:PermissionsBoundary": [boundary_arn(env)]}},  # an ARN-typed key
        "resource_tags": {"StringEquals": {f"aws:ResourceTag/{k}": [v] for k, v in tags.items()}},
        "request_tags": {"StringEquals": {f"aws:RequestTag/{k}": [v] for k, v in tags.items()}},
    }[condition]


def state_key_conditions(env: Environment) -> dict[str, Any]:
    """The state key, used only through S3 for the state bucket: S3 asks KMS with the bucket's ARN
    as encryption context (an S3 Bucket Key), or the object's without one (S3 user guide, "Using
    server-side encryption with AWS KMS keys", encryption context). No other key, and no direct use."""
    state = AwsContext(env.account_id, env.state.region)
    bucket = state.arn("s3", env.state.bucket)
    return {"StringEquals": {"kms:ViaService": [state.service_host("s3")]},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket, f"{bucket}/*"]}}


def deploy_policy(env: Environment, types: Iterable[str], *, bootstrap: bool = False,
                  state_key_arn: str | None = None) -> dict[str, Any]:
    """An IAM policy document granting what Terraform needs to manage stacks holding `types`: the
    platform stack's, with GUARDRAILS, or with `bootstrap` the bootstrap's (applied by an
    administrator; its roles, the CI roles, have no boundary). `state_key_arn` narrows the use of
    the state key to that key (a reference, in the stack that creates it).
    KeyError names a type that data/deploy_permissions.toml does not cover."""
    actions: dict[tuple[str, str], set[str]] = {}
    for type_name in sorted(types):
        for grant in permissions()[type_name]:
            condition = "" if bootstrap and grant.condition == "permissions_boundary" else grant.condition
            actions.setdefault((grant.scope, condition), set()).update(grant.actions)
    statements = []
    for scope in SCOPE_SIDS:
        for condition, sid_ending in CONDITIONS.items():
            if not actions.get((scope, condition)):
                continue
            statement = {"Sid": SCOPE_SIDS[scope] + sid_ending, "Effect": "Allow",
                         "Action": _without_covered(actions[scope, condition]),
                         "Resource": scope_arns(env, scope, bootstrap=bootstrap)}
            block = conditions(env, condition)
            if scope == "state_key":
                statement["Resource"] = [state_key_arn] if state_key_arn else statement["Resource"]
                block = {**block, **state_key_conditions(env)}
            statements.append({**statement, **({"Condition": block} if block else {})})
    if not bootstrap:
        statements += guardrails(env)
    return {"Version": "2012-10-17", "Statement": statements}


# Every IAM write on a role, and on a managed policy: what the guardrails deny.
ROLE_WRITES = ("iam:AttachRolePolicy", "iam:DeleteRole", "iam:DeleteRolePermissionsBoundary", "iam:DeleteRolePolicy",
               "iam:DetachRolePolicy", "iam:PassRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy",
               "iam:TagRole", "iam:UntagRole", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole", "iam:UpdateRoleDescription")
POLICY_WRITES = ("iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion",
                 "iam:TagPolicy", "iam:UntagPolicy")


def guardrails(env: Environment) -> list[dict[str, Any]]:
    """Explicit denies for whoever applies the platform stack (the CI apply role): the CI roles and
    the permissions boundary belong to the bootstrap, applied by an administrator, so that one
    workflow run can neither widen its own permissions or trust, nor the plan role's, nor lift
    the boundary off a role it creates."""
    here = AwsContext(env.account_id, env.region)
    denies = [{"Sid": "DenyRemovingPermissionsBoundaries", "Effect": "Deny", "Action": ["iam:DeleteRolePermissionsBoundary"],
               "Resource": [here.arn("iam", "role/*")]},
              {"Sid": "DenyChangingThePermissionsBoundary", "Effect": "Deny", "Action": list(POLICY_WRITES),
               "Resource": [boundary_arn(env)]}]
    if env.github.repository:
        denies.append({"Sid": "DenyChangingCiRoles", "Effect": "Deny", "Action": list(ROLE_WRITES),
                       "Resource": scope_arns(env, "roles", bootstrap=True)})
    return denies


# What a plan needs besides reading every resource: the state, and the lock it takes meanwhile.
PLAN_STATE_GRANTS = {"state_read": ["s3:ListBucket", "s3:GetObject"], "state_lock": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]}
READ_VERBS = ("Get", "List", "Describe")


def plan_policy(env: Environment, types: Iterable[str], *, state_key_arn: str | None = None) -> dict[str, Any]:
    """The read-only part of `deploy_policy` (Get, List, Describe), with the state readable and
    its lock file writable: what `terraform plan` needs, and nothing that changes a resource."""
    statements = []
    for statement in deploy_policy(env, types, state_key_arn=state_key_arn)["Statement"]:
        if statement["Effect"] == "Deny":
            statements.append(statement)
            continue
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
