"""Audit and alerting at CIS grade, read from the synthesized stacks: server access logs, the
trail's selectors, Insights and Object Lock, a path to a person for every key, the alarms built
from their definitions, and a dashboard whose every metric exists."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from moto.events.models import EventPattern

from definitions.alarm_definitions import load_system_alarms
from definitions.audit_path_rules import load_audit_path_rules
from modules.audit.monitoring import ATHENA_QUERY_STATES, ATHENA_QUERY_TYPES, HEARTBEAT_SECONDS, NAMESPACE
from tests.fixtures.management_events import api_call_event
from tests.stack_queries import (
    address,
    by_sid,
    conditions,
    event_pattern,
    one,
    principals,
    ref,
    referenced,
    resources,
    statements,
)
from tests.support import ENV_NAMES, ENVIRONMENTS, environment

SOURCE_BUCKETS = ("data-bucket", "results-bucket", "trail-bucket")
KILL_SWITCHES = ("DisableKey", "ScheduleKeyDeletion")
EVENT_NAME_TEST = re.compile(r'\$\.eventName\s*=\s*"?(\w+)"?\s*\)')  # `($.eventName = "X")`, `($.eventName=X)`


# --- variants of an environment, synthesized together ------------------------------------------


def _variant(name: str, **audit) -> object:
    env = ENVIRONMENTS[0]
    state = dataclasses.replace(env.state, region=audit.pop("state_region", env.state.region))
    return dataclasses.replace(env, name=name, state=state, audit=dataclasses.replace(env.audit, **audit))


VARIANTS = {
    "no-access-logs": {"access_logs": False, "object_lock_mode": "", "request_metrics": False, "insights": False},
    "state-elsewhere": {"access_logs": True, "state_region": "eu-central-1"},
    "everything": {"access_logs": True, "all_buckets_data_events": True, "insights": True, "object_lock_mode": "COMPLIANCE",
                   "object_lock_days": 30, "request_metrics": True},
}


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """{stack name: Terraform JSON} of the first environment under each of VARIANTS."""
    from cdktf import TerraformStack, Testing  # noqa: PLC0415 - the slow import

    from stacks.app import build_app  # noqa: PLC0415

    app = build_app([_variant(name, **dict(audit)) for name, audit in VARIANTS.items()], tmp_path_factory.mktemp("variants"))
    app.synth()
    return {stack.node.id: json.loads(Testing.synth(stack, True)) for stack in app.node.children
            if isinstance(stack, TerraformStack)}


# --- S3 server access logs ---------------------------------------------------------------------


def _logging(stack: dict) -> dict[str, dict]:
    """Each aws_s3_bucket_logging by the bucket it logs (a reference, or a literal name)."""
    return {entry["bucket"]: entry for entry in resources(stack, "aws_s3_bucket_logging").values()}


def _assert_access_logs(stack: dict, env, sources: dict[str, str]) -> None:
    """`sources` ({bucket reference or name: bucket name}) log into the stack's access-log bucket, which
    admits exactly them, is SSE-S3, private, TLS-only, expires its logs, and logs nothing of its own."""
    logging = _logging(stack)
    target = ref(stack, "aws_s3_bucket_policy", "access-log-bucket_bucket-policy", "bucket")
    assert set(logging) == set(sources)
    for bucket, name in sources.items():
        assert logging[bucket]["target_bucket"] == target
        assert logging[bucket]["target_prefix"] == f"{name}/"
    bucket = one(stack, "aws_s3_bucket", "access-log-bucket")
    encryption = one(stack, "aws_s3_bucket_server_side_encryption_configuration", "access-log-bucket_encryption")
    assert encryption["rule"] == [{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}]
    block = one(stack, "aws_s3_bucket_public_access_block", "access-log-bucket_public-access-block")
    assert all(block[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"))
    policy = by_sid(statements(stack, one(stack, "aws_s3_bucket_policy", "access-log-bucket_bucket-policy")["policy"]))
    assert policy["DenyInsecureTransport"]["effect"] == "Deny"
    admitted = {s["sid"]: s for s in policy.values() if s["sid"].startswith("AllowAccessLogsOf")}
    assert len(admitted) == len(sources)
    arn = f"arn:{env.partition}:s3:::{bucket['bucket']}"
    for name in sources.values():
        statement = next(s for s in admitted.values() if s["resources"] == [f"{arn}/{name}/*"])
        assert statement["actions"] == ["s3:PutObject"]
        assert principals(statement) == {"Service": ["logging.s3.amazonaws.com"]}
        assert conditions(statement) == {("StringEquals", "aws:SourceAccount"): [env.account_id],
                                         ("ArnLike", "aws:SourceArn"): [f"arn:{env.partition}:s3:::{name}"]}
    rules = {r["id"]: r for r in one(stack, "aws_s3_bucket_lifecycle_configuration", "access-log-bucket_lifecycle")["rule"]}
    assert rules["expire-access-logs"]["expiration"] == [{"days": env.retention.access_log_days}]
    assert ref(stack, "aws_s3_bucket", "access-log-bucket", "id") not in logging


def test_the_access_log_bucket_has_the_construct_id_the_teardown_destroys_last(stacks):
    """The deployment's teardown names the access-log bucket by stacks/ids.py, without loading cdktf."""
    from stacks.ids import ACCESS_LOG_BUCKET_ID  # noqa: PLC0415

    logged = [(name, environment(name)) for name in ENV_NAMES if environment(name).audit.access_logs]
    assert logged, "no environment logs its buckets' access"
    for name, env in logged:
        # `one` finds a resource by its logical id, which starts with its construct path below the stack.
        assert one(stacks[name], "aws_s3_bucket", ACCESS_LOG_BUCKET_ID)["bucket"] == env.access_log_bucket


@pytest.mark.parametrize("name", ENV_NAMES)
def test_every_bucket_logs_its_access_when_asked(name, stacks):
    env, stack = environment(name), stacks[name]
    if not env.audit.access_logs:
        assert not resources(stack, "aws_s3_bucket_logging")
        return
    sources = {ref(stack, "aws_s3_bucket", bucket, "id"): getattr(env, f"{bucket.split('-')[0]}_bucket") for bucket in SOURCE_BUCKETS}
    if env.state_access_log_bucket is None:
        sources[env.state.bucket] = env.state.bucket  # the bootstrap's bucket, logged by the stack that owns the target
    _assert_access_logs(stack, env, sources)
    assert one(stack, "aws_s3_bucket", "access-log-bucket")["bucket"] == env.access_log_bucket


def test_a_state_bucket_in_another_region_logs_into_the_bootstraps_own_bucket(variants):
    env = _variant("state-elsewhere", **dict(VARIANTS["state-elsewhere"]))
    bootstrap, platform = variants[env.bootstrap_stack], variants[env.name]
    assert env.state_access_log_bucket == f"{env.state.bucket}-access-logs"
    _assert_access_logs(bootstrap, env, {ref(bootstrap, "aws_s3_bucket", "state-bucket", "id"): env.state.bucket})
    assert env.state.bucket not in _logging(platform)
    assert len(_logging(platform)) == len(SOURCE_BUCKETS)


def test_without_access_logs_there_is_no_access_log_bucket(variants):
    stack = variants["no-access-logs"]
    assert not resources(stack, "aws_s3_bucket_logging")
    assert all(not name.startswith("access-log-bucket") for name in resources(stack, "aws_s3_bucket"))


# --- the trail ---------------------------------------------------------------------------------


def _selectors(stack: dict) -> dict[str, list[dict]]:
    trail = one(stack, "aws_cloudtrail", "audit-trail")
    assert "event_selector" not in trail  # advanced selectors only: the two kinds exclude each other
    return {s["name"]: s["field_selector"] for s in trail["advanced_event_selector"]}


@pytest.mark.parametrize("name", ENV_NAMES)
def test_trail_records_management_events_and_the_data_buckets_objects_only(name, stacks):
    env, stack = environment(name), stacks[name]
    selectors = _selectors(stack)
    assert selectors["Management events"] == [{"field": "eventCategory", "equals": ["Management"]}]
    objects = selectors["S3 objects of the watched buckets"]
    assert objects[:2] == [{"field": "eventCategory", "equals": ["Data"]}, {"field": "resources.type", "equals": ["AWS::S3::Object"]}]
    assert objects[2] == {"field": "resources.ARN", "starts_with": [f"arn:{env.partition}:s3:::{env.data_bucket}/"]}
    insights = one(stack, "aws_cloudtrail", "audit-trail").get("insight_selector", [])
    assert sorted(i["insight_type"] for i in insights) == (["ApiCallRateInsight", "ApiErrorRateInsight"] if env.audit.insights else [])


def test_all_buckets_data_events_exclude_the_trail_and_access_log_buckets(variants):
    env = _variant("everything")
    selector = _selectors(variants["everything"])["S3 objects of every bucket but the log buckets"]
    assert selector[2] == {"field": "resources.ARN", "not_starts_with": [
        f"arn:{env.partition}:s3:::{env.trail_bucket}/", f"arn:{env.partition}:s3:::{env.access_log_bucket}/"]}


@pytest.mark.parametrize("name", ["everything", *ENV_NAMES])
def test_object_lock_follows_the_setting_without_touching_the_bucket(name, stacks, variants):
    env, stack = (_variant(name, **dict(VARIANTS[name])), variants[name]) if name in VARIANTS else (environment(name), stacks[name])
    locks = list(resources(stack, "aws_s3_bucket_object_lock_configuration").values())
    # Set through its own resource: `object_lock_enabled` on the bucket would replace an existing one.
    assert "object_lock_enabled" not in one(stack, "aws_s3_bucket", "trail-bucket")
    if not env.audit.object_lock_mode:
        assert locks == []
        return
    (lock,) = locks
    assert lock["bucket"] == ref(stack, "aws_s3_bucket_versioning", "trail-bucket_versioning", "bucket")  # versioning first
    assert lock["rule"] == {"default_retention": {"mode": env.audit.object_lock_mode, "days": env.audit.object_lock_days}}
    assert env.retention.trail_logs_expire_days >= env.audit.object_lock_days


# --- a path to a person for every key ----------------------------------------------------------


def _topics_without(stack: dict, key: str, env) -> set[str]:
    """Topics not encrypted with `key` that reach a person (an e-mail subscriber, when the
    environment names any)."""
    subscribed = {address for s in resources(stack, "aws_sns_topic_subscription").values() for address in referenced(s["topic_arn"])}
    return {f"aws_sns_topic.{name}" for name, topic in resources(stack, "aws_sns_topic").items()
            if key not in referenced(topic["kms_master_key_id"])
            and (not env.alarm_emails or f"aws_sns_topic.{name}" in subscribed)}


def paths_to_a_person(stack: dict, key: str, action: str, env) -> list[str]:
    """Every way `action` on `key` reaches a person without needing `key`: through the trail's log
    group (not under the key) and a metric filter alarm, or through an EventBridge rule."""
    reachable, paths = _topics_without(stack, key, env), []
    trail = one(stack, "aws_cloudtrail", "audit-trail")
    (group,) = referenced(trail["cloud_watch_logs_group_arn"])
    group_body = resources(stack, "aws_cloudwatch_log_group")[group.split(".", 1)[1]]
    if key not in referenced(group_body["kms_key_id"]):
        for metric_filter in resources(stack, "aws_cloudwatch_log_metric_filter").values():
            pattern = metric_filter["pattern"]
            if group in referenced(metric_filter["log_group_name"]) and "kms.amazonaws.com" in pattern and action in pattern:
                metric = metric_filter["metric_transformation"]
                for alarm in resources(stack, "aws_cloudwatch_metric_alarm").values():
                    if (alarm.get("namespace"), alarm.get("metric_name")) == (metric["namespace"], metric["name"]):
                        paths += [f"log group -> {alarm['alarm_name']} -> {t}" for t in referenced(alarm["alarm_actions"]) & reachable]
    for rule_name, rule in resources(stack, "aws_cloudwatch_event_rule").items():
        detail = event_pattern(rule)["detail"]
        if action in detail["eventName"] and key in referenced(detail.get("requestParameters", {}).get("keyId", [])):
            for target in resources(stack, "aws_cloudwatch_event_target").values():
                if f"aws_cloudwatch_event_rule.{rule_name}" in referenced(target["rule"]):
                    paths += [f"EventBridge {rule['name']} -> {t}" for t in referenced(target["arn"]) & reachable]
    return paths


@pytest.mark.parametrize("name", ENV_NAMES)
def test_disabling_or_deleting_any_key_reaches_a_person_without_that_key(name, stacks):
    env, stack = environment(name), stacks[name]
    keys = [f"aws_kms_key.{k}" for k in resources(stack, "aws_kms_key")]
    assert len(keys) == 2
    for key in keys:
        for action in KILL_SWITCHES:
            assert paths_to_a_person(stack, key, action, env), f"{action} on {key} reaches no one"


def test_the_walk_finds_no_path_when_both_topics_share_the_key(stacks):
    """The walk can fail: with the audit-path topic under the alerting key, disabling the alerting
    key reaches no one."""
    env = ENVIRONMENTS[0]
    stack = json.loads(json.dumps(stacks[env.name]))
    alerting = ref(stack, "aws_kms_key", "alerting-key", "arn")
    one(stack, "aws_sns_topic", "audit-path-topic")["kms_master_key_id"] = alerting
    assert paths_to_a_person(stack, address(stack, "aws_kms_key", "data-key"), "DisableKey", env)
    assert paths_to_a_person(stack, address(stack, "aws_kms_key", "alerting-key"), "DisableKey", env) == []


@pytest.mark.parametrize("name", ENV_NAMES)
def test_the_heartbeat_notifies_both_topics_when_the_log_group_goes_quiet(name, stacks):
    env, stack = environment(name), stacks[name]
    alarm = one(stack, "aws_cloudwatch_metric_alarm", "monitoring_alarm-AuditTrailHeartbeat")
    topics = {ref(stack, "aws_sns_topic", t, "arn") for t in ("alarm-topic", "audit-path-topic")}
    assert alarm.items() >= {"namespace": "AWS/Logs", "metric_name": "IncomingLogEvents", "statistic": "Sum",
                             "dimensions": {"LogGroupName": env.names.log_group}, "period": HEARTBEAT_SECONDS,
                             "evaluation_periods": 1, "threshold": 1, "comparison_operator": "LessThanThreshold",
                             "treat_missing_data": "breaching"}.items()
    assert set(alarm["alarm_actions"]) == topics == set(alarm["ok_actions"])


@pytest.mark.parametrize("name", ENV_NAMES)
def test_the_audit_path_topic_is_under_the_data_key_and_admits_its_rules(name, stacks):
    env, stack = environment(name), stacks[name]
    topic = one(stack, "aws_sns_topic", "audit-path-topic")
    assert topic == {"name": env.names.audit_path_topic, "kms_master_key_id": ref(stack, "aws_kms_key", "data-key", "arn")}
    policy = by_sid(statements(stack, one(stack, "aws_sns_topic_policy", "audit-path-topic_topic-policy-attachment")["policy"]))
    rule_arns = [f"arn:{env.partition}:events:{env.region}:{env.account_id}:rule/{env.names.audit_path_rules}-{rule.name}"
                 for rule in load_audit_path_rules()]
    assert conditions(policy["AllowEventBridgeRules"]) == {("ArnEquals", "aws:SourceArn"): rule_arns}
    assert principals(policy["AllowEventBridgeRules"]) == {"Service": ["events.amazonaws.com"]}
    key_policy = by_sid(statements(stack, one(stack, "aws_kms_key", "data-key")["policy"]))
    events = key_policy["AllowEventBridgeRulesToPublish"]
    # No source condition (unsupported for EventBridge to encrypted topics); bound to the topic by encryption context.
    assert events["actions"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert conditions(events) == {("StringEquals", "kms:EncryptionContext:aws:sns:topicArn"): [
        f"arn:{env.partition}:sns:{env.region}:{env.account_id}:{env.names.audit_path_topic}"]}
    assert sorted(s["endpoint"] for s in resources(stack, "aws_sns_topic_subscription").values()) == \
        sorted(env.alarm_emails * 2)  # every address on both topics


@pytest.mark.parametrize("name", ENV_NAMES)
def test_each_rule_matches_every_event_it_lists_as_cloudtrail_records_it(name, stacks):
    """Each rule, as synthesized, against EventBridge's own matcher (moto's) and events shaped as
    CloudTrail records each call: every listed call on every name of what it watches matches; the
    same call on something else, or another call on it, does not."""
    env, stack = environment(name), stacks[name]
    rules = {r["name"]: r for r in resources(stack, "aws_cloudwatch_event_rule").values()}
    keys = [f"{address(stack, 'aws_kms_key', k)}.{attribute}" for k in ("data-key", "alerting-key")
            for attribute in ("key_id", "arn")]
    trail_arn = f"arn:{env.partition}:cloudtrail:{env.region}:{env.account_id}:trail/{env.names.trail}"
    watched = {"keys": keys, "trail": [env.names.trail, trail_arn], "trail_bucket": [env.trail_bucket]}
    for rule in load_audit_path_rules():
        pattern = EventPattern.load(json.dumps(event_pattern(rules.pop(f"{env.names.audit_path_rules}-{rule.name}"))))
        for event_name in rule.event_names:
            for target in watched[rule.watches]:
                assert pattern.matches_event(api_call_event(rule.source, event_name, target)), (rule.name, event_name, target)
            assert not pattern.matches_event(api_call_event(rule.source, event_name, "something-else")), (rule.name, event_name)
        read = api_call_event(rule.source, rule.event_names[0], watched[rule.watches][0])
        read["detail"]["eventName"] = "ListTags"
        assert not pattern.matches_event(read), rule.name
    assert rules == {}


# --- the alarms --------------------------------------------------------------------------------


def _alarms(stack: dict) -> dict[str, dict]:
    return {a["alarm_name"]: a for a in resources(stack, "aws_cloudwatch_metric_alarm").values()}


@pytest.mark.parametrize("name", ENV_NAMES)
def test_system_alarms_fill_their_patterns_and_keep_their_settings(name, stacks):
    env, stack = environment(name), stacks[name]
    filters = {f["name"]: f["pattern"] for f in resources(stack, "aws_cloudwatch_log_metric_filter").values()}
    alarms = _alarms(stack)
    key = address(stack, "aws_kms_key", "data-key")
    role_sessions = f"arn:{env.partition}:sts::{env.account_id}:assumed-role/{env.names.role}/*"
    for definition in load_system_alarms():
        pattern = filters[definition.name]
        assert "${data_bucket}" not in pattern and "${unless_granted}" not in pattern
        if "${data_bucket}" in definition.pattern:
            assert f'\\"{env.data_bucket}\\"' in json.dumps(pattern)
        if "${data_key_arn}" in definition.pattern:
            assert pattern.endswith(f", {key}.arn)}}") and pattern.startswith("${format(")
        if "${unless_granted}" in definition.pattern:
            assert f'($.userIdentity.arn != \\"{role_sessions}\\")' in pattern
        topics = ["alarm-topic", "audit-path-topic"] if definition.notify_audit_path else ["alarm-topic"]
        assert alarms[definition.name].items() >= {
            "threshold": definition.threshold, "period": definition.period, "evaluation_periods": definition.evaluation_periods,
            "alarm_actions": [ref(stack, "aws_sns_topic", topic, "arn") for topic in topics],
        }.items()


@pytest.mark.parametrize("name", ENV_NAMES)
def test_changing_a_privileged_role_alarms_on_both_topics(name, stacks):
    """Whoever rewrites the trust or policies of a role the key and bucket policies exempt by ARN
    becomes that role: a change to any of them is alarmed from the log group to both topics."""
    env, stack = environment(name), stacks[name]
    ci = [env.names.plan_role, env.names.apply_role] if env.github.repository else []
    roles = {arn.rpartition("/")[2] for arn in (*env.break_glass_arns, *env.deployer_arns) if ":role/" in arn} | set(ci)
    assert roles, "no privileged role in this environment"
    pattern = one(stack, "aws_cloudwatch_log_metric_filter", "monitoring_filter-PrivilegedPrincipalChanged")["pattern"]
    assert pattern.startswith('{ ($.eventSource = "iam.amazonaws.com") && ($.readOnly IS FALSE) && (')
    assert set(re.findall(r'\$\.requestParameters\.roleName = "([^"]+)"', pattern)) == roles
    assert _alarms(stack)["PrivilegedPrincipalChanged"]["alarm_actions"] == [
        ref(stack, "aws_sns_topic", topic, "arn") for topic in ("alarm-topic", "audit-path-topic")]


@pytest.mark.parametrize("name", ENV_NAMES)
def test_data_key_usage_and_athena_bytes_alarm_at_the_environments_thresholds(name, stacks):
    env, stack = environment(name), stacks[name]
    alarms = _alarms(stack)
    assert alarms["DataKeyUsage"].items() >= {"namespace": NAMESPACE, "metric_name": "DataKeyApiCalls", "period": 3600,
                                               "threshold": env.audit.data_key_calls_per_hour}.items()
    athena = alarms["AthenaBytesScanned"]
    assert athena["threshold"] == env.audit.athena_bytes_per_hour
    total, *metrics = athena["metric_query"]
    assert (total["expression"], total["return_data"]) == ("SUM(METRICS())", True)
    assert sorted((m["metric"]["dimensions"]["QueryState"], m["metric"]["dimensions"]["QueryType"]) for m in metrics) == \
        sorted((s, t) for s in ATHENA_QUERY_STATES for t in ATHENA_QUERY_TYPES)
    assert {(m["metric"]["namespace"], m["metric"]["metric_name"], m["metric"]["dimensions"]["WorkGroup"]) for m in metrics} == \
        {("AWS/Athena", "ProcessedBytes", env.names.workgroup)}


# --- the dashboard -----------------------------------------------------------------------------

SEARCH = re.compile(r"SEARCH\('\{(?P<keys>[^}]+)\} MetricName=(?P<name>\w+)[^']*'")


def _published_metrics(stack: dict) -> set[tuple]:
    """(namespace, metric name, dimension names) of every metric the stack's resources publish, and
    the dimension values the AWS services publish theirs under."""
    published = set()
    for f in resources(stack, "aws_cloudwatch_log_metric_filter").values():
        m = f["metric_transformation"]
        published.add((m["namespace"], m["name"], tuple(sorted(m.get("dimensions", {})))))
    for group in resources(stack, "aws_cloudwatch_log_group").values():
        published.add(("AWS/Logs", "IncomingLogEvents", (("LogGroupName", group["name"]),)))
    for workgroup in resources(stack, "aws_athena_workgroup").values():
        published |= {("AWS/Athena", "ProcessedBytes", (("QueryState", s), ("QueryType", t), ("WorkGroup", workgroup["name"])))
                      for s in ATHENA_QUERY_STATES for t in ATHENA_QUERY_TYPES}
    buckets = {f"${{aws_s3_bucket.{n}.id}}": b["bucket"] for n, b in resources(stack, "aws_s3_bucket").items()}
    for config in resources(stack, "aws_s3_bucket_metric").values():
        published |= {("AWS/S3", name, (("BucketName", buckets[config["bucket"]]), ("FilterId", config["name"])))
                      for name in ("AllRequests", "4xxErrors", "5xxErrors")}
    return published


def dashboard_metrics(body: dict) -> list[tuple]:
    found = []
    for widget in body["widgets"]:
        for entry in widget["properties"].get("metrics", []):
            if "expression" in entry[0]:
                match = SEARCH.search(entry[0]["expression"])
                namespace, *keys = match["keys"].split(",")
                found.append((namespace, match["name"], tuple(sorted(keys))))
            else:
                namespace, name, *rest = [part for part in entry if not isinstance(part, dict)]
                found.append((namespace, name, tuple(zip(rest[::2], rest[1::2], strict=True))))
    return found


@pytest.mark.parametrize("name", ["everything", *ENV_NAMES])
def test_every_dashboard_metric_and_alarm_exists_in_the_stack(name, stacks, variants):
    env, stack = (_variant(name, **dict(VARIANTS[name])), variants[name]) if name in VARIANTS else (environment(name), stacks[name])
    dashboard = one(stack, "aws_cloudwatch_dashboard", "dashboard")
    assert dashboard["dashboard_name"] == env.names.dashboard
    body = json.loads(dashboard["dashboard_body"])
    metrics = dashboard_metrics(body)
    assert metrics and not set(metrics) - _published_metrics(stack), set(metrics) - _published_metrics(stack)
    assert any(m[0] == "AWS/S3" for m in metrics) is env.audit.request_metrics
    (alarm_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    prefix = f"arn:{env.partition}:cloudwatch:{env.region}:{env.account_id}:alarm:"
    assert sorted(arn.removeprefix(prefix) for arn in alarm_widget["properties"]["alarms"]) == sorted(_alarms(stack))


def test_the_dashboard_check_can_fail(stacks):
    env = ENVIRONMENTS[0]
    body = json.loads(one(stacks[env.name], "aws_cloudwatch_dashboard", "dashboard")["dashboard_body"])
    body["widgets"][1]["properties"]["metrics"].append(["AWS/Logs", "IncomingLogEvents", "LogGroupName", "/not/here", {}])
    assert ("AWS/Logs", "IncomingLogEvents", (("LogGroupName", "/not/here"),)) in \
        set(dashboard_metrics(body)) - _published_metrics(stacks[env.name])


@pytest.mark.parametrize("name", ENV_NAMES)
@pytest.mark.parametrize("call", ["StopLogging", "PutEventSelectors", "PutInsightSelectors"])
def test_blinding_the_trail_is_alarmed_from_its_log_group_too(name, call, stacks):
    """Besides the audit-path rule, a metric filter on the trail's log group counts the call and an
    alarm on it notifies someone: EventBridge sees only the calls of its own region."""
    stack = stacks[name]
    (group,) = referenced(one(stack, "aws_cloudtrail", "audit-trail")["cloud_watch_logs_group_arn"])
    counted = {f["metric_transformation"]["name"] for f in resources(stack, "aws_cloudwatch_log_metric_filter").values()
               if group in referenced(f["log_group_name"]) and call in EVENT_NAME_TEST.findall(f["pattern"])}
    alarmed = {a.get("metric_name") for a in _alarms(stack).values() if a.get("alarm_actions")}
    assert counted & alarmed, f"no alarmed metric filter counts {call}"


# The calls that blind the trail or unprotect its logs (AWS CloudTrail and S3 API references):
# what the audit-path rules must watch, whatever else they watch.
BLINDING_CALLS = {
    "trail": {"StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors", "PutInsightSelectors"},
    "trail_bucket": {"PutBucketPolicy", "DeleteBucketPolicy", "PutBucketLifecycle", "DeleteBucketLifecycle",
                     "PutBucketVersioning", "PutBucketEncryption", "DeleteBucketEncryption", "PutObjectLockConfiguration"},
    "keys": {"DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy"},
}


@pytest.mark.parametrize("watched", sorted(BLINDING_CALLS))
def test_the_audit_path_watches_every_call_that_blinds_the_trail_or_unprotects_its_logs(watched):
    """A lifecycle expiry deletes logs past the bucket policy's deny; selectors stop recording
    while the trail logs: each is as blinding as StopLogging."""
    listed = {name for rule in load_audit_path_rules() if rule.watches == watched for name in rule.event_names}
    assert BLINDING_CALLS[watched] <= listed, sorted(BLINDING_CALLS[watched] - listed)
