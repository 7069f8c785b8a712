"""The deploying principal's permissions are derived from the types the stacks hold: every type
is covered, no entry is stale, and the policy names this environment's resources."""

from __future__ import annotations

import dataclasses
import fnmatch
import re

import pytest

from definitions import naming
from definitions.deploy_permissions import SCOPE_SIDS, permissions, provider_reads
from stacks.deploy_policies import deploy_policy, plan_policy, scope_arns, stack_types
from tests.support import ENV_NAMES, environment


def test_every_type_the_stacks_hold_has_permissions(every_type: set[str]):
    missing = every_type - set(permissions())
    assert not missing, f"definitions/data/deploy_permissions.toml has no entry for {sorted(missing)}"


def test_no_entry_is_stale(every_type: set[str]):
    stale = set(permissions()) - every_type
    assert not stale, f"definitions/data/deploy_permissions.toml lists types no stack holds: {sorted(stale)}"


def test_every_grant_is_well_formed():
    """The loader's own checks, restated: a known scope and IAM-shaped actions in every grant."""
    assert permissions()
    for type_name, grants in permissions().items():
        for grant in grants:
            assert grant.scope in SCOPE_SIDS, (type_name, grant)
            for action in grant.actions:
                assert re.fullmatch(r"[a-z0-9-]+:[A-Z][A-Za-z]*\*?", action), (type_name, action)


@pytest.mark.parametrize("name", ENV_NAMES)
def test_the_policy_names_this_environments_resources(name: str, stacks: dict[str, dict]):
    env = environment(name)
    stack = stacks[name]
    statements = {s["Sid"]: s for s in deploy_policy(env, stack_types(stack))["Statement"]}
    partition = env.partition
    buckets = [env.data_bucket, env.results_bucket, env.trail_bucket, env.state.bucket]
    buckets += [env.access_log_bucket] if env.audit.access_logs else []
    assert statements["ManageBuckets"]["Resource"] == [f"arn:{partition}:s3:::{bucket}" for bucket in buckets]
    assert statements["ManageDashboard"]["Resource"] == [f"arn:{partition}:cloudwatch::{env.account_id}:dashboard/{env.names.dashboard}"]
    assert statements["ManageAuditPathRules"]["Resource"] == [
        f"arn:{partition}:events:{env.region}:{env.account_id}:rule/{env.names.audit_path_rules}-*"]
    assert statements["ManageAlarmTopic"]["Resource"] == [
        f"arn:{partition}:sns:{env.region}:{env.account_id}:{topic}{suffix}"
        for topic in (env.names.alarm_topic, env.names.audit_path_topic) for suffix in ("", ":*")]
    assert statements["ManageTrail"]["Resource"] == [f"arn:{partition}:cloudtrail:{env.region}:{env.account_id}:trail/{env.names.trail}"]
    assert f"arn:{partition}:s3:::{env.state.bucket}/{env.state.key}" in statements["ReadWriteState"]["Resource"]
    assert "iam:PassRole" in statements["ManageRoles"]["Action"]  # the trail passes its CloudWatch Logs role
    for sid, statement in statements.items():
        assert (statement["Resource"] == ["*"]) is sid.startswith("ActionsWithoutResources"), sid
        assert not [a for a in statement["Action"] if a == "*" or a.endswith(":*")], sid
    # A wildcard makes the actions it covers redundant: s3:GetBucket* covers s3:GetBucketPolicy.
    assert "s3:GetBucket*" in statements["ManageBuckets"]["Action"]
    assert "s3:GetBucketPolicy" not in statements["ManageBuckets"]["Action"]


def test_scopes_follow_the_state_region():
    env = environment(ENV_NAMES[0])
    other_region = next(r for r in naming.partitions()[env.partition].regions if r != env.region)
    elsewhere = dataclasses.replace(env.state, region=other_region)
    moved = dataclasses.replace(env, state=elsewhere)
    assert scope_arns(moved, "state_key") == [f"arn:{env.partition}:kms:{elsewhere.region}:{env.account_id}:key/*"]
    if env.audit.access_logs:  # the bootstrap's own access-log bucket, in the state's region
        assert scope_arns(moved, "buckets")[-1] == f"arn:{env.partition}:s3:::{moved.state_access_log_bucket}"
    assert len(scope_arns(moved, "keys")) == 2


# --- what a plan reads --------------------------------------------------------------------------


def test_the_read_calls_and_the_grants_list_the_same_types():
    assert set(provider_reads()) == set(permissions())


def _allowed(policy: dict, action: str) -> list[str]:
    """The Sids of the Allow statements whose actions cover `action` (wildcards too)."""
    return [s["Sid"] for s in policy["Statement"]
            if s["Effect"] == "Allow" and any(fnmatch.fnmatchcase(action, pattern) for pattern in s["Action"])]


@pytest.mark.parametrize("name", ENV_NAMES)
@pytest.mark.parametrize("type_name", sorted(permissions()))
def test_each_types_own_grants_cover_every_call_its_refresh_makes(name: str, type_name: str):
    """Type by type, so that no type leans on another's grant: the apply policy and the plan
    policy each allow every read the provider makes for it (glue:GetPartitionIndexes after
    glue:GetTable; a refused read fails every plan)."""
    env = environment(name)
    bootstrap = type_name == "backend.local" or type_name.endswith(("aws_iam_openid_connect_provider", "aws_iam_policy"))
    for policy in (deploy_policy(env, [type_name], bootstrap=bootstrap), plan_policy(env, [type_name])):
        missing = [action for action in provider_reads()[type_name] if not _allowed(policy, action)]
        assert not missing, f"{type_name}: add {missing} to definitions/data/deploy_permissions.toml"


@pytest.mark.parametrize("name", ENV_NAMES)
def test_the_bootstrap_policy_names_only_what_the_bootstrap_creates(name: str):
    """The bootstrap creates the state bucket and the state key: its deployer may manage those, not
    the environment's data, results or trail buckets, nor the keys of the environment's region."""
    env = environment(name)
    state = f"arn:{env.partition}:s3:::{env.state.bucket}"
    access_logs = [f"arn:{env.partition}:s3:::{env.state_access_log_bucket}"] if env.state_access_log_bucket else []
    assert scope_arns(env, "buckets", bootstrap=True) == [state, *access_logs]
    assert scope_arns(env, "keys", bootstrap=True) == [f"arn:{env.partition}:kms:{env.state.region}:{env.account_id}:key/*"]
    aliases = scope_arns(env, "aliases", bootstrap=True)
    assert f"arn:{env.partition}:kms:{env.state.region}:{env.account_id}:{env.names.state_key_alias}" in aliases
    assert not [a for a in aliases if a.endswith((env.names.key_alias, env.names.alerting_key_alias))]
    assert env.data_bucket not in " ".join(scope_arns(env, "buckets", bootstrap=True))
