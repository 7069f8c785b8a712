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

from collections.abc import Sequence

from constructs import Construct

from definitions.alarm_definitions import MAX_PATTERN_LENGTH, AlarmDefinition, load_alarm_definitions, load_system_alarms
from definitions.aws_context import AwsContext
from modules.audit.alert_topic import AlertTopic
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


class TrailAlarms(Construct):
    """The CIS alarms on a trail's log group and its heartbeat (`heartbeat()`), for any trail: an
    account's (`Monitoring` adds the system's own alarms) or the organization's.

    Inputs:
    - log_group: the trail's CloudWatch Logs group resource (required).
    - topic: the AlertTopic every alarm notifies; not under the data key (required).
    - audit_path_topic: the AlertTopic that alarms marked `notify_audit_path` and the heartbeat
      also notify; not under the alerting key (default None: the topic alone).
    - alarms: CIS definitions (default: data/security_alarms.toml).

    Exposes `alarms` (alarm resources by name), `alarm_arns` and `log_events` (after `heartbeat()`).
    """

    def __init__(self, scope: Construct, id: str, *, log_group: cloudwatch_log_group.CloudwatchLogGroup, topic: AlertTopic,
                 audit_path_topic: AlertTopic | None = None, alarms: Sequence[AlarmDefinition] | None = None) -> None:
        super().__init__(scope, id)
        self._context = AwsContext.of(self)
        self.log_group, self.topic, self.audit_path_topic = log_group, topic, audit_path_topic
        self._topic_arns = [topic.arn, *([audit_path_topic.arn] if audit_path_topic else [])]
        for notified in (topic, audit_path_topic):
            if notified:
                notified.allow_alarms()
        self.alarms: dict[str, cloudwatch_metric_alarm.CloudwatchMetricAlarm] = {}
        for alarm in load_alarm_definitions() if alarms is None else alarms:
            self._log_alarm(alarm, alarm.pattern)

    def heartbeat(self) -> None:
        """Alarm when the log group receives no events for an hour, to every topic."""
        self.log_events = Metric("AWS/Logs", "IncomingLogEvents", (("LogGroupName", self.log_group.name_input),))
        self._alarm("AuditTrailHeartbeat", "The trail's log group received no events for an hour: a stopped trail, "
                    "a broken delivery role or a disabled alerting key", self.log_events, HEARTBEAT_SECONDS, 1,
                    "LessThanThreshold", missing="breaching", actions=self._topic_arns)

    @property
    def alarm_arns(self) -> list[str]:
        return [self._context.arn("cloudwatch", f"alarm:{name}") for name in self.alarms]

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

    Exposes `alarms` (alarm resources by name), `alarm_arns`, and the metrics a dashboard shows:
    `key_operations` (the data key's calls, with an `Operation` dimension), `log_events`.
    """

    def __init__(self, scope: Construct, id: str, *, log_group: cloudwatch_log_group.CloudwatchLogGroup, topic: AlertTopic,
                 audit_path_topic: AlertTopic, data_key: EncryptionKey,
                 data_bucket_name: str, data_key_calls_per_hour: int, workgroup_name: str, athena_bytes_per_hour: int,
                 compaction_workgroup_name: str | None = None,
                 privileged_role_names: Sequence[str] = (), privileged_user_names: Sequence[str] = (),
                 alarms: Sequence[AlarmDefinition] | None = None,
                 system_alarms: Sequence[AlarmDefinition] | None = None) -> None:
        super().__init__(scope, id, log_group=log_group, topic=topic, audit_path_topic=audit_path_topic, alarms=alarms)
        privileged = [("roleName", name) for name in privileged_role_names] + [("userName", name) for name in privileged_user_names]
        for alarm in load_system_alarms() if system_alarms is None else system_alarms:
            if privileged or "${privileged_principals}" not in alarm.pattern:
                self._system_alarm(alarm, data_bucket_name, data_key, privileged)

        # KMS publishes usage per account, not per key: count this key's calls from the trail.
        key_calls = '{ ($.eventSource = "kms.amazonaws.com") && ($.resources[0].ARN = "%s") }'
        self._metric_filter("DataKeyApiCalls", with_references(key_calls, data_key.arn))
        self._metric_filter("DataKeyApiCallsByOperation", with_references(key_calls, data_key.arn),
                            dimensions={"Operation": "$.eventName"})
        self.key_operations = Metric(NAMESPACE, "DataKeyApiCallsByOperation", (("Operation", "*"),))
        self._alarm("DataKeyUsage", f"The data key was called more than {data_key_calls_per_hour} times in an hour",
                    Metric(NAMESPACE, "DataKeyApiCalls"), USAGE_PERIOD_SECONDS, data_key_calls_per_hour,
                    "GreaterThanThreshold")

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

    def _system_alarm(self, alarm: AlarmDefinition, data_bucket_name: str, data_key: EncryptionKey,
                      privileged: Sequence[tuple[str, str]]) -> None:
        """A system alarm whose pattern is filled in at synth, once every grant of the data key is known."""
        resource = self._log_alarm(alarm, "")
        naming_privileged = " || ".join(f'($.requestParameters.{parameter} = "{name}")' for parameter, name in privileged)

        def fill() -> None:
            unless_granted = "".join(f' && ($.userIdentity.arn != "{identity}")' for identity in data_key.granted_identities)
            template = alarm.filled({"data_bucket": data_bucket_name, "data_key_arn": "%s", "unless_granted": unless_granted,
                                     "privileged_principals": f" && ({naming_privileged})"})
            if len(template.replace("%s", "k" * KEY_ARN_LENGTH)) > MAX_PATTERN_LENGTH:
                raise ValueError(f"{self.node.path}: the pattern of {alarm.name} is longer than CloudWatch Logs "
                                 f"accepts ({MAX_PATTERN_LENGTH} characters)")
            references = [data_key.arn] * template.count("%s")
            resource.pattern = with_references(template, *references) if references else template
        at_synth(resource, fill)

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
