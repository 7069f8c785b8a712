"""The environment's CloudWatch alarms: the CIS alarms and the system's own, each a metric filter on
the trail's log group; a heartbeat on the log group itself; the data key's usage; and the bytes
Athena scans.

The definitions are data (`data/security_alarms.toml`, `data/system_alarms.toml`): their patterns,
thresholds, periods and evaluation periods come from there. The alarms notify the alarm topic,
encrypted with the alerting key, never the data key: disabling the data key is itself one of the
alarms. The heartbeat also notifies the audit-path topic (encrypted with the data key): when the
alerting key is disabled, the log group receives nothing and the alarm topic cannot publish, and
the heartbeat's second action is what still reaches someone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from constructs import Construct

from definitions.alarm_definitions import (
    MAX_PATTERN_LENGTH,
    AlarmDefinition,
    SystemAlarmDefinition,
    load_alarm_definitions,
    load_system_alarms,
)
from definitions.aws_context import AwsContext
from modules.audit.alert_topic import AlertTopic, TopicReference
from modules.foundation.bindings import cloudwatch_log_group, cloudwatch_metric_alarm
from modules.foundation.bindings import cloudwatch_log_metric_filter as metric_filter
from modules.foundation.metric import Metric
from modules.foundation.rendering import at_synth, with_references
from modules.storage.encryption_key import EncryptionKey

NAMESPACE = "SecurityAudit"
# A trail delivers to CloudWatch Logs within minutes and always has management events to deliver:
# an hour without any is a stopped trail, a broken delivery role or a disabled alerting key.
HEARTBEAT_SECONDS = 3600
USAGE_PERIOD_SECONDS = 3600
# The longest KMS key ARN (`arn:aws-us-gov:kms:us-gov-west-1:<account>:key/<uuid>`), for the length
# of a pattern that names the key through a reference.
KEY_ARN_LENGTH = 90
# The dimensions Athena publishes ProcessedBytes under, besides WorkGroup (Athena user guide,
# "Monitoring Athena queries with CloudWatch metrics"): an alarm sums every combination.
ATHENA_QUERY_STATES = ("SUCCEEDED", "FAILED", "CANCELED")
ATHENA_QUERY_TYPES = ("DML", "DDL", "UTILITY")
COMPACTION_ALARM_SECONDS = 86400


def _for_account(pattern: str, account: str | None) -> str:
    """A `{ ... }` metric filter pattern narrowed to the events of `account` (its recipientAccountId)."""
    if account is None:
        return pattern
    narrowed = f'($.recipientAccountId = "{account}") && '
    return "{ " + narrowed + pattern.removeprefix("{").lstrip()


class TrailAlarms(Construct):
    """The CIS alarms on a trail's log group and its heartbeat (`heartbeat()`), for any trail: an
    account's (`Monitoring` adds the system's own alarms) or the organization's.

    Inputs:
    - log_group: the trail's CloudWatch Logs group resource (required).
    - topic: the AlertTopic every alarm notifies, or the TopicReference of one in another account;
      not under the data key nor the log group's key (required).
    - audit_path_topic: the AlertTopic that alarms marked `notify_audit_path` and the heartbeat
      also notify; not under the alerting key (default None: the topic alone).
    - alarms: CIS definitions (default: data/security_alarms.toml).

    Exposes `alarms` (alarm resources by name), `alarm_arns` and `log_events` (the events the log group receives).
    """

    def __init__(self, scope: Construct, id: str, *, log_group: cloudwatch_log_group.CloudwatchLogGroup,
                 topic: AlertTopic | TopicReference, audit_path_topic: AlertTopic | None = None,
                 alarms: Sequence[AlarmDefinition] | None = None) -> None:
        super().__init__(scope, id)
        self._context = AwsContext.of(self)
        self.log_group, self.topic, self.audit_path_topic = log_group, topic, audit_path_topic
        self._topic_arns = [topic.arn, *([audit_path_topic.arn] if audit_path_topic else [])]
        for notified in (topic, audit_path_topic):
            if isinstance(notified, AlertTopic):  # a TopicReference's own stack admits these alarms
                notified.allow_alarms()
        self.alarms: dict[str, cloudwatch_metric_alarm.CloudwatchMetricAlarm] = {}
        self.log_events = Metric("AWS/Logs", "IncomingLogEvents", (("LogGroupName", self.log_group.name_input),))
        for alarm in load_alarm_definitions() if alarms is None else alarms:
            self._log_alarm(alarm, alarm.pattern)

    def heartbeat(self) -> None:
        """Alarm when the log group receives no events for an hour, to every topic."""
        self._alarm("AuditTrailHeartbeat", "The trail's log group received no events for an hour: a stopped trail, "
                    "a broken delivery role or a disabled alerting key", self.log_events, HEARTBEAT_SECONDS, 1,
                    "LessThanThreshold", missing="breaching", actions=self._topic_arns)

    @property
    def alarm_arns(self) -> list[str]:
        return [self._context.arn("cloudwatch", f"alarm:{name}") for name in self.alarms]

    def system_alarms(self, *, recorded: Sequence[str], data_bucket_name: str, data_key_arn: str,
                      granted_identities: Sequence[str], privileged_role_names: Sequence[str] = (),
                      privileged_user_names: Sequence[str] = (), account: str | None = None, prefix: str = "",
                      definitions: Sequence[SystemAlarmDefinition] | None = None) -> None:
        """The system's alarms (data/system_alarms.toml) that match events of the `recorded`
        categories: those this log group receives. `granted_identities` is read at synth, once every
        grant of the data key is known. `account` narrows each pattern to that account's events (a
        log group of the organization trail); `prefix` begins each metric's and alarm's name. An
        alarm naming the privileged principals is left out without any."""
        privileged = [("roleName", name) for name in privileged_role_names] + [("userName", name) for name in privileged_user_names]
        for alarm in load_system_alarms() if definitions is None else definitions:
            if set(alarm.events) & set(recorded) and (privileged or "${privileged_principals}" not in alarm.pattern):
                self._system_alarm(alarm, data_bucket_name, data_key_arn, granted_identities, privileged, account, prefix)

    def data_key_usage(self, *, data_key_arn: str, calls_per_hour: int, account: str | None = None, prefix: str = "") -> Metric:
        """Count the data key's calls from the trail (KMS publishes usage per account, not per key),
        with a per-operation metric; alarm above `calls_per_hour`. Returns the per-operation metric."""
        key_calls = _for_account('{ ($.eventSource = "kms.amazonaws.com") && ($.resources[0].ARN = "%s") }', account)
        self._metric_filter(f"{prefix}DataKeyApiCalls", with_references(key_calls, data_key_arn))
        self._metric_filter(f"{prefix}DataKeyApiCallsByOperation", with_references(key_calls, data_key_arn),
                            dimensions={"Operation": "$.eventName"})
        self._alarm(f"{prefix}DataKeyUsage", f"The data key was called more than {calls_per_hour} times in an hour",
                    Metric(NAMESPACE, f"{prefix}DataKeyApiCalls"), USAGE_PERIOD_SECONDS, calls_per_hour, "GreaterThanThreshold")
        return Metric(NAMESPACE, f"{prefix}DataKeyApiCallsByOperation", (("Operation", "*"),))

    def _system_alarm(self, alarm: SystemAlarmDefinition, data_bucket_name: str, data_key_arn: str,
                      granted_identities: Sequence[str], privileged: Sequence[tuple[str, str]], account: str | None,
                      prefix: str) -> None:
        """A system alarm whose pattern is filled in at synth, once every grant of the data key is known."""
        resource = self._log_alarm(dataclasses.replace(alarm, name=f"{prefix}{alarm.name}"), "")
        naming_privileged = " || ".join(f'($.requestParameters.{parameter} = "{name}")' for parameter, name in privileged)

        def fill() -> None:
            unless_granted = "".join(f' && ($.userIdentity.arn != "{identity}")' for identity in granted_identities)
            template = _for_account(alarm.filled({"data_bucket": data_bucket_name, "data_key_arn": "%s",
                                                  "unless_granted": unless_granted,
                                                  "privileged_principals": f" && ({naming_privileged})"}), account)
            if len(template.replace("%s", "k" * KEY_ARN_LENGTH)) > MAX_PATTERN_LENGTH:
                raise ValueError(f"{self.node.path}: the pattern of {alarm.name} is longer than CloudWatch Logs "
                                 f"accepts ({MAX_PATTERN_LENGTH} characters)")
            references = [data_key_arn] * template.count("%s")
            resource.pattern = with_references(template, *references) if references else template
        at_synth(resource, fill)

    def _log_alarm(self, alarm: AlarmDefinition, pattern: str) -> metric_filter.CloudwatchLogMetricFilter:
        resource = self._metric_filter(alarm.name, pattern)
        actions = self._topic_arns if alarm.notify_audit_path else None
        self._alarm(alarm.name, f"{alarm.description} ({alarm.control})", Metric(NAMESPACE, alarm.name), alarm.period,
                    alarm.threshold, "GreaterThanOrEqualToThreshold", evaluation_periods=alarm.evaluation_periods,
                    actions=actions)
        return resource

    def _metric_filter(self, name: str, pattern: str,
                       dimensions: dict[str, str] | None = None) -> metric_filter.CloudwatchLogMetricFilter:
        return metric_filter.CloudwatchLogMetricFilter(
            self, f"filter-{name}", name=name, log_group_name=self.log_group.name, pattern=pattern,
            metric_transformation=metric_filter.CloudwatchLogMetricFilterMetricTransformation(
                name=name, namespace=NAMESPACE, value="1", dimensions=dimensions),
        )

    def _alarm(self, name: str, description: str, metric: Metric, period: int, threshold: int, comparison: str, *,
               evaluation_periods: int = 1, missing: str = "notBreaching", actions: Sequence[str] | None = None) -> None:
        actions = list(actions or [self.topic.arn])
        self.alarms[name] = cloudwatch_metric_alarm.CloudwatchMetricAlarm(
            self, f"alarm-{name}", alarm_name=name, alarm_description=description,
            namespace=metric.namespace, metric_name=metric.name, dimensions=dict(metric.dimensions) or None,
            statistic=metric.stat, period=period, evaluation_periods=evaluation_periods, threshold=threshold,
            comparison_operator=comparison, treat_missing_data=missing, alarm_actions=actions,
            ok_actions=actions if missing == "breaching" else None,
        )


class Monitoring(TrailAlarms):
    """Inputs:
    - log_group: the trail's CloudWatch Logs group resource (required).
    - topic: the AlertTopic every alarm notifies; not under the data key (required).
    - audit_path_topic: the AlertTopic the heartbeat also notifies; not under the alerting key (required).
    - data_key: the data EncryptionKey whose calls are counted and whose decrypts by others alarm (required).
    - data_bucket_name: the bucket the system alarms watch (required).
    - privileged_role_names, privileged_user_names: the IAM roles and users whose changes the
      PrivilegedPrincipalChanged alarm watches: break-glass, deployers, CI roles (default none:
      a system alarm naming them is left out).
    - data_key_calls_per_hour: alarm when the data key is called more often in an hour (required).
    - workgroup_name, athena_bytes_per_hour: alarm when the workgroup's queries scan more bytes in
      an hour (required).
    - compaction_workgroup_name: the daily compaction's workgroup; alarms when a run fails and when
      a day passes without a successful one (default none: no compaction alarms).
    - alarms: CIS definitions (default: data/security_alarms.toml).
    - system_alarms: the system's definitions (default: data/system_alarms.toml).
    - management_events: whether the trail records the account's management events (default
      True); without them, only the system alarms on data events and the Athena alarms are here.

    Exposes `alarms` (alarm resources by name), `alarm_arns`, and the metrics a dashboard shows:
    `key_operations` (the data key's calls, with an `Operation` dimension; None without management
    events) and `log_events`.
    """

    def __init__(self, scope: Construct, id: str, *, log_group: cloudwatch_log_group.CloudwatchLogGroup, topic: AlertTopic,
                 audit_path_topic: AlertTopic, data_key: EncryptionKey,
                 data_bucket_name: str, data_key_calls_per_hour: int, workgroup_name: str, athena_bytes_per_hour: int,
                 compaction_workgroup_name: str | None = None,
                 privileged_role_names: Sequence[str] = (), privileged_user_names: Sequence[str] = (),
                 alarms: Sequence[AlarmDefinition] | None = None,
                 system_alarms: Sequence[SystemAlarmDefinition] | None = None, management_events: bool = True) -> None:
        # Without the account's management events, the CIS alarms, the heartbeat and the system's
        # alarms on management events are the organization trail's (stacks/organization_stacks.py).
        super().__init__(scope, id, log_group=log_group, topic=topic, audit_path_topic=audit_path_topic,
                         alarms=alarms if management_events else ())
        self.system_alarms(recorded=("management", "data") if management_events else ("data",),
                           data_bucket_name=data_bucket_name, data_key_arn=data_key.arn,
                           granted_identities=data_key.granted_identities, privileged_role_names=privileged_role_names,
                           privileged_user_names=privileged_user_names, definitions=system_alarms)
        self.key_operations = None
        if management_events:
            self.key_operations = self.data_key_usage(data_key_arn=data_key.arn, calls_per_hour=data_key_calls_per_hour)
            self.heartbeat()

        self.athena_bytes = [Metric("AWS/Athena", "ProcessedBytes", (("QueryState", state), ("QueryType", kind),
                                                                      ("WorkGroup", workgroup_name)))
                             for state in ATHENA_QUERY_STATES for kind in ATHENA_QUERY_TYPES]
        self._sum_alarm("AthenaBytesScanned", f"Queries of workgroup {workgroup_name} scanned more than "
                        f"{athena_bytes_per_hour} bytes in an hour", self.athena_bytes, USAGE_PERIOD_SECONDS,
                        athena_bytes_per_hour)

        if compaction_workgroup_name:
            self._compaction_alarms(compaction_workgroup_name)

    def _compaction_alarms(self, workgroup_name: str) -> None:
        # Athena counts each query under its final state (the query execution metrics above); the
        # compaction is the workgroup's only DML.
        def runs(state: str) -> Metric:
            return Metric("AWS/Athena", "TotalExecutionTime", (("QueryState", state), ("QueryType", "DML"),
                                                               ("WorkGroup", workgroup_name)), stat="SampleCount")
        self._sum_alarm("CompactionFailed", f"A run of the daily compaction (workgroup {workgroup_name}) failed or was "
                        "cancelled: the long investigations miss that day until it is redone (docs/investigations.md)",
                        [runs("FAILED"), runs("CANCELED")], COMPACTION_ALARM_SECONDS, 0, label="Failed runs")
        # A day is CloudWatch's longest alarm period; no successful run in it is a missed day.
        self._alarm("CompactionMissing", f"No run of the daily compaction (workgroup {workgroup_name}) succeeded in a "
                    "day: the schedule, its role or Athena is broken", runs("SUCCEEDED"), COMPACTION_ALARM_SECONDS, 1,
                    "LessThanThreshold", missing="breaching")

    def _sum_alarm(self, name: str, description: str, metrics: Sequence[Metric], period: int, threshold: int,
                   label: str = "Bytes scanned") -> None:
        """An alarm on the sum of several metrics (metric math): one series per dimension combination."""
        query = cloudwatch_metric_alarm.CloudwatchMetricAlarmMetricQuery
        queries = [query(id=f"m{index}", return_data=False, metric=cloudwatch_metric_alarm.CloudwatchMetricAlarmMetricQueryMetric(
            namespace=m.namespace, metric_name=m.name, dimensions=dict(m.dimensions), stat=m.stat, period=period))
            for index, m in enumerate(metrics)]
        self.alarms[name] = cloudwatch_metric_alarm.CloudwatchMetricAlarm(
            self, f"alarm-{name}", alarm_name=name, alarm_description=description, evaluation_periods=1,
            threshold=threshold, comparison_operator="GreaterThanThreshold", treat_missing_data="notBreaching",
            alarm_actions=[self.topic.arn],
            metric_query=[query(id="total", expression="SUM(METRICS())", label=label, return_data=True), *queries],
        )
