"""The organization's stacks (stacks/organization_stacks.py): one account each, never another's
state, and nothing that grows with the members but the account projection."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import cdktf
import pytest
from moto.events.models import EventPattern

from definitions.alarm_definitions import load_alarm_definitions, load_system_alarms
from definitions.audit_path_rules import load_audit_path_rules
from definitions.queries import load_queries, on_one_account
from environments.config import Environment
from environments.organization import Organization, load_organization
from operations.policy_lint import policy_sizes, rendered
from stacks.ids import ORGANIZATION_STACKS
from stacks.organization_stacks import organization_stacks
from tests.fixtures.management_events import api_call_event
from tests.stack_queries import event_pattern, resources
from tests.support import ENVIRONMENTS, LOG_ARCHIVE, MANAGEMENT, SECURITY, load_test_organization, organization_toml, query_values


def synth(org: Organization) -> dict[str, dict[str, Any]]:
    return {stack.node.id: json.loads(cdktf.Testing.synth(stack)) for stack in organization_stacks(cdktf.Testing.app(), org)}


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Organization:
    return load_test_organization(tmp_path_factory.mktemp("org"))


def test_each_stack_is_pinned_to_its_account_and_assumes_the_deploy_role_outside_management(organization_stacks, org):
    expected = {"org-bootstrap": MANAGEMENT, "org-security": SECURITY, "org-archive": LOG_ARCHIVE,
                "org-trail": MANAGEMENT, "org-governance": MANAGEMENT}
    assert list(organization_stacks) == list(ORGANIZATION_STACKS)
    for name, stack in organization_stacks.items():
        main = next(p for p in stack["provider"]["aws"] if "alias" not in p)
        assert main["allowed_account_ids"] == [expected[name]], name
        roles = [r["role_arn"] for r in main.get("assume_role", [])]
        assert roles == ([] if expected[name] == MANAGEMENT else
                         [f"arn:aws:iam::{expected[name]}:role/{org.settings.deploy_role}"]), name
        for lookup in (p for p in stack["provider"]["aws"] if "alias" in p):  # read-only, into the security account
            assert lookup["allowed_account_ids"] == [SECURITY]
            assert lookup["assume_role"][0]["role_arn"] == f"arn:aws:iam::{SECURITY}:role/{org.settings.lookup_role}"
            assert all(body["provider"] == f"aws.{lookup['alias']}" for body in stack["data"]["aws_kms_key"].values())


def test_each_stack_keeps_its_own_state_and_reads_no_other(organization_stacks, org):
    keys = []
    for name, stack in organization_stacks.items():
        assert "terraform_remote_state" not in stack.get("data", {}), name
        backend = stack["terraform"]["backend"]
        if name == ORGANIZATION_STACKS[0]:
            assert list(backend) == ["local"]
        else:
            assert backend["s3"]["bucket"] == org.names.state_bucket and backend["s3"]["use_lockfile"] is True
            keys.append(backend["s3"]["key"])
    assert len(set(keys)) == len(ORGANIZATION_STACKS) - 1


def test_the_trail_is_the_organizations_and_carries_the_management_account(tmp_path: Path):
    org = load_test_organization(tmp_path, settings=f'cloudtrail_delegated_admins = ["{SECURITY}"]\ntrail_deployer = "delegated_admin"')
    stacks = synth(org)
    trail_stack = stacks["org-trail"]
    assert trail_stack["provider"]["aws"][0]["allowed_account_ids"] == [SECURITY]  # the delegated administrator creates it
    trail = next(iter(trail_stack["resource"]["aws_cloudtrail"].values()))
    assert trail["is_organization_trail"] and trail["is_multi_region_trail"] and trail["enable_log_file_validation"]
    assert trail["s3_bucket_name"] == org.names.trail_bucket
    assert trail["kms_key_id"].startswith("${data.aws_kms_key.")
    admins = stacks["org-governance"]["resource"]["aws_cloudtrail_organization_delegated_admin_account"]
    assert [a["account_id"] for a in admins.values()] == [SECURITY]
    archive = json.dumps(stacks["org-archive"]["data"]["aws_iam_policy_document"])
    assert f"arn:aws:cloudtrail:eu-west-1:{MANAGEMENT}:trail/organization-trail" in archive
    assert f":{SECURITY}:trail/" not in archive


def _documents(stack: dict[str, Any]) -> dict[str, str]:
    return {name: rendered(stack, body) for name, body in stack.get("data", {}).get("aws_iam_policy_document", {}).items()}


def _topology(stack: dict[str, Any]) -> str | None:
    """The account list of `stack`'s account projection, if it has one."""
    tables = stack.get("resource", {}).get("aws_glue_catalog_table", {}).values()
    return next((t["parameters"]["projection.account.values"] for t in tables if "projection.account.values" in t["parameters"]), None)


def _without_topology(stack: dict[str, Any]) -> tuple[str, int]:
    """The stack's JSON with its account list cut out, and how many times the list was in it."""
    text, topology = json.dumps(stack), _topology(stack)
    return (text.replace(topology, "<accounts>"), text.count(topology)) if topology else (text, 0)


def test_a_member_adds_nothing_but_its_account_to_the_account_list(tmp_path: Path):
    """The organization with 1 and with 1,000 simulated members: the same resources, byte-identical
    policies, and stacks that differ only in the topology's account list: the account projection's
    values and the investigations that name the organization's accounts."""
    sizes = {}
    for members in (1, 1000):
        (tmp_path / str(members)).mkdir()
        sizes[members] = synth(load_test_organization(tmp_path / str(members), simulated_members=members))
    small, large = sizes[1], sizes[1000]
    for name in ORGANIZATION_STACKS:
        assert _documents(small[name]) == _documents(large[name]), name
        assert _without_topology(small[name]) == _without_topology(large[name]), name
    assert len(_topology(large["org-security"]).split(",")) >= 1000
    queries = large["org-security"]["resource"]["aws_athena_named_query"].values()
    naming_the_list = [q["name"] for q in queries if _topology(large["org-security"]) in q["query"]]
    assert _without_topology(large["org-security"])[1] == 1 + len(naming_the_list) >= 3, naming_the_list


def test_policies_are_within_aws_size_limits(organization_stacks):
    measured, oversized = policy_sizes(organization_stacks)
    assert not oversized, oversized
    assert measured >= 2 + 4 + 4, "the control policies, the bucket policies and the key policies were measured"


# Which rules each account holding part of the trail runs (data/audit_path_rules.toml's `watches`),
# and what they must match it by.
AUDIT_PATHS = {"org-trail": ("trail", "keys"), "org-archive": ("trail_bucket",), "org-security": ("keys",)}


def test_each_account_holding_part_of_the_trail_watches_it_on_its_own_bus(organization_stacks, org):
    """EventBridge sees an account's own calls only: each account's rules match every listed call
    on what it holds, and nothing else, and notify a topic of that account that the alerting key
    does not encrypt."""
    names, s = org.names, org.settings
    trail_arn = f"arn:aws:cloudtrail:{s.home_region}:{s.management_account}:trail/{names.trail}"
    for stack_name, kinds in AUDIT_PATHS.items():
        stack = organization_stacks[stack_name]
        rules = {r["name"].removeprefix(f"{names.audit_path}-"): r for r in resources(stack, "aws_cloudwatch_event_rule").values()}
        assert sorted(rules) == sorted(rule.name for rule in load_audit_path_rules() if rule.watches in kinds), stack_name
        (topic_name, topic), = ((n, t) for n, t in resources(stack, "aws_sns_topic").items() if t["name"] == names.audit_path)
        topic_key = topic["kms_master_key_id"].split(".")[1]
        # Every other key of the account: the topic's own key's changes reach a person through the
        # CIS alarms on the trail's log group instead.
        keys = {f"aws_kms_key.{name}" for name in resources(stack, "aws_kms_key") if name != topic_key}
        watched = {"trail": [names.trail, trail_arn], "trail_bucket": [names.trail_bucket]}
        for rule in load_audit_path_rules():
            if rule.watches not in kinds:
                continue
            pattern = EventPattern.load(json.dumps(event_pattern(rules[rule.name])))
            targets = watched.get(rule.watches) or [f"{key}.{attribute}" for key in keys for attribute in ("key_id", "arn")]
            assert targets and all(pattern.matches_event(api_call_event(rule.source, rule.event_names[0], t)) for t in targets)
            assert not pattern.matches_event(api_call_event(rule.source, rule.event_names[0], "something-else"))
        assert {t["arn"] for t in resources(stack, "aws_cloudwatch_event_target").values()} == {f"${{aws_sns_topic.{topic_name}.arn}}"}
        key = resources(stack, "aws_kms_key")[topic_key]
        assert "alerting" not in key["description"] and "log files" not in key["description"], stack_name
    heartbeat = next(a for a in resources(organization_stacks["org-trail"], "aws_cloudwatch_metric_alarm").values()
                     if "heartbeat" in a["alarm_name"].lower())
    assert len(heartbeat["alarm_actions"]) == 2, "the heartbeat notifies the alarm topic and the audit path"


@pytest.fixture(scope="module")
def data_events_only(tmp_path_factory: pytest.TempPathFactory) -> tuple[Environment, dict[str, dict[str, Any]]]:
    """The first environment with a trail of data events only, and the organization: every stack."""
    from stacks.app import build_app  # noqa: PLC0415

    env = ENVIRONMENTS[0]
    variant = dataclasses.replace(env, audit=dataclasses.replace(env.audit, management_events=False, insights=False))
    folder = tmp_path_factory.mktemp("data-events-only")
    (folder / "organization.toml").write_text(organization_toml(1, envs=[variant]), encoding="utf-8")
    org = load_organization(folder / "organization.toml", [variant])
    assert org is not None and org.data_event_environments == (variant.name,)
    app = build_app([variant], folder / "out", org)
    return variant, {stack.node.id: json.loads(cdktf.Testing.synth(stack, True)) for stack in app.node.children
                     if isinstance(stack, cdktf.TerraformStack)}


def _patterns(stack: dict[str, Any]) -> dict[str, str]:
    """Each metric filter's pattern by metric name; one naming the data key's ARN (a reference, so
    `${format("...%s...", <key>.arn)}`) as its template, the key written %s."""
    def template(pattern: str) -> str:
        found = re.fullmatch(r'\$\{format\("(.*)", [^()]*\)\}', pattern)
        return json.loads(f'"{found.group(1)}"') if found else pattern
    return {f["metric_transformation"]["name"]: template(f["pattern"]) for f in resources(stack, "aws_cloudwatch_log_metric_filter").values()}


def test_an_environment_without_management_events_keeps_its_data_event_alarms_and_queries(data_events_only, stacks):
    env, synthesized = data_events_only
    stack, full = synthesized[env.name], stacks[env.name]
    trail = next(iter(resources(stack, "aws_cloudtrail").values()))
    assert [s["name"] for s in trail["advanced_event_selector"]] == ["S3 objects of the watched buckets"]
    assert not trail.get("insight_selector")
    alarms = {a["alarm_name"] for a in resources(stack, "aws_cloudwatch_metric_alarm").values()}
    full_alarms = {a["alarm_name"] for a in resources(full, "aws_cloudwatch_metric_alarm").values()}
    moved = {a.name for a in load_alarm_definitions()} | {a.name for a in load_system_alarms() if "data" not in a.events} | {
        "DataKeyUsage", "AuditTrailHeartbeat"}
    assert alarms == full_alarms - moved and "DataBucketAccessDeniedSpike" in alarms
    queries = {q["name"] for q in resources(stack, "aws_athena_named_query").values()}
    assert queries == {t.name for t in load_queries() if t.reads_data_events_only} and len(queries) >= 3


def test_the_organization_trail_runs_its_alarms_on_management_events_for_its_account(data_events_only, stacks):
    env, synthesized = data_events_only
    trail_stack = synthesized["org-trail"]
    found, own = _patterns(trail_stack), _patterns(stacks[env.name])
    prefix = env.name.capitalize()
    narrowed = f'{{ ($.recipientAccountId = "{env.account_id}") && '
    relocated = [a.name for a in load_system_alarms() if "management" in a.events] + ["DataKeyApiCalls", "DataKeyApiCallsByOperation"]
    for name in relocated:
        assert found[f"{prefix}{name}"] == narrowed + own[name].removeprefix("{ "), name
    alarms = {a["alarm_name"] for a in resources(trail_stack, "aws_cloudwatch_metric_alarm").values()}
    assert {f"{prefix}{a.name}" for a in load_system_alarms() if "management" in a.events} | {f"{prefix}DataKeyUsage"} <= alarms
    # The data key is looked up by its alias in the environment's account and region.
    (lookup,) = [d for d in trail_stack["data"]["aws_kms_key"].values() if env.names.key_alias in d["key_id"]]
    assert lookup["key_id"] == f"arn:aws:kms:{env.region}:{env.account_id}:{env.names.key_alias}"
    provider = next(p for p in trail_stack["provider"]["aws"] if f"aws.{p.get('alias')}" == lookup["provider"])
    assert provider["allowed_account_ids"] == [env.account_id] and provider["region"] == env.region


def test_the_organization_runs_the_environments_investigations_of_management_events_on_its_account(data_events_only):
    env, synthesized = data_events_only
    security = synthesized["org-security"]
    (lookup_name, lookup), = [(n, d) for n, d in security["data"]["aws_kms_key"].items() if env.names.key_alias in d["key_id"]]
    assert lookup["key_id"] == f"arn:aws:kms:{env.region}:{env.account_id}:{env.names.key_alias}"
    deployed = {q["name"]: q for q in resources(security, "aws_athena_named_query").values()}
    expected = [t for t in load_queries() if not t.reads_data_events_only]
    assert {f"{env.name}_{t.name}" for t in expected} <= set(deployed) and len(expected) >= 10
    for template in expected:
        query = deployed[f"{env.name}_{template.name}"]
        assert query["query"] == on_one_account(template).render(query_values(env, f"${{data.aws_kms_key.{lookup_name}.arn}}"))
        assert f"Environment {env.name}, account {env.account_id}." in query["description"]


EXISTING_KEY = "arn:aws:kms:eu-west-1:100000000002:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_another_systems_trail_gets_the_investigations_and_the_alarms_alone(tmp_path: Path):
    settings = ('trail = "existing"\nexisting_trail_name = "aws-controltower-BaselineCloudTrail"\n'
                'existing_trail_bucket = "aws-controltower-logs-100000000002-eu-west-1"\n'
                f'existing_trail_key_arn = "{EXISTING_KEY}"\nexisting_log_group = "aws-controltower/CloudTrailLogs"')
    org = load_test_organization(tmp_path, settings=settings)
    stacks = synth(org)
    # Its owner keeps the trail, the bucket and the control policies.
    assert list(stacks) == ["org-bootstrap", "org-security", "org-trail"]
    assert not any(resources(stack, "aws_cloudtrail") for stack in stacks.values())
    security, trail = stacks["org-security"], stacks["org-trail"]
    assert not [k for k in resources(security, "aws_kms_key").values() if "log files" in k["description"]]
    locations = {t["storage_descriptor"]["location"] for t in resources(security, "aws_glue_catalog_table").values()}
    assert locations == {f"s3://aws-controltower-logs-100000000002-eu-west-1/AWSLogs/{org.settings.id}/"}
    investigator = json.dumps(security["data"]["aws_iam_policy_document"])
    assert EXISTING_KEY in investigator and "aws-controltower-logs-100000000002-eu-west-1" in investigator
    # The CIS alarms and the heartbeat watch its log group, which is read, not managed.
    (log_group_name, log_group), = trail["data"]["aws_cloudwatch_log_group"].items()
    assert log_group["name"] == "aws-controltower/CloudTrailLogs" and not resources(trail, "aws_cloudwatch_log_group")
    filters = resources(trail, "aws_cloudwatch_log_metric_filter").values()
    assert filters and {f["log_group_name"] for f in filters} == {f"${{data.aws_cloudwatch_log_group.{log_group_name}.name}}"}
    assert len(resources(trail, "aws_cloudwatch_metric_alarm")) == len(load_alarm_definitions()) + 1
    # Its audit path watches the trail by name and by ARN.
    trail_arn = f"arn:aws:cloudtrail:{org.settings.home_region}:{MANAGEMENT}:trail/aws-controltower-BaselineCloudTrail"
    watching = [event_pattern(r) for r in resources(trail, "aws_cloudwatch_event_rule").values() if "trail" in r["name"]]
    assert any(trail_arn in json.dumps(p) and "aws-controltower-BaselineCloudTrail" in json.dumps(p) for p in watching)
    assert trail["output"]["trail_arn"]["value"] == trail_arn
