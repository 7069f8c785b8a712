"""Security alarms on the trail's CloudWatch Logs group, an encrypted SNS topic they notify, and a
per-key usage metric.

The alarms are data (`data/security_alarms.toml`): a metric filter and an alarm each. The topic is
encrypted with the alerting key, which must not be the data key: disabling the data key is itself
one of the alarms, and it must still be able to reach someone.
"""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct

from modules.alarms import AlarmDefinition, load_alarm_definitions
from modules.aws import cloudwatch_log_group, cloudwatch_metric_alarm, sns_topic, sns_topic_policy, sns_topic_subscription
from modules.aws import cloudwatch_log_metric_filter as metric_filter
from modules.context import AwsContext
from modules.encryption_key import EncryptionKey
from modules.policy import PolicyDocument, Statement
from modules.rendering import with_references

NAMESPACE = "SecurityAudit"


class Monitoring(Construct):
    """Inputs:
    - log_group: the trail's CloudWatch Logs group resource (required).
    - topic_name: the SNS topic the alarms notify (required).
    - alerting_key: the EncryptionKey of the topic, not the data key (required).
    - watched_key: the data EncryptionKey whose API calls are counted (required).
    - emails: e-mail subscribers of the topic (default none).
    - alarms: alarm definitions (default: data/security_alarms.toml).

    Exposes `name`, `arn` and `resource` (the topic's) and `alarms` (by name).
    """

    def __init__(self, scope: Construct, id: str, *, log_group: cloudwatch_log_group.CloudwatchLogGroup, topic_name: str,
                 alerting_key: EncryptionKey, watched_key: EncryptionKey, emails: Sequence[str] = (),
                 alarms: Sequence[AlarmDefinition] | None = None) -> None:
        super().__init__(scope, id)
        context = AwsContext.of(self)
        cloudwatch = context.service_principal("cloudwatch")
        self.log_group = log_group
        alarms_of_account = {"StringEquals": {"aws:SourceAccount": [context.account]},
                             "ArnLike": {"aws:SourceArn": [context.arn("cloudwatch", "alarm:*")]}}
        alerting_key.allow_service("AllowCloudWatchAlarmsToPublish", cloudwatch, ["kms:Decrypt", "kms:GenerateDataKey*"],
                                   {"StringEquals": {"aws:SourceAccount": [context.account]}})
        self.resource = sns_topic.SnsTopic(self, "topic", name=topic_name, kms_master_key_id=alerting_key.arn)
        self.name, self.arn = topic_name, self.resource.arn
        self.topic_policy = PolicyDocument(self, "topic-policy", [
            Statement(sid="AllowCloudWatchAlarms", actions=["sns:Publish"], resources=[self.arn],
                      principals={"Service": [cloudwatch]}, conditions=alarms_of_account),
            Statement(sid="DenyInsecureTransport", effect="Deny", actions=["sns:Publish"], resources=[self.arn],
                      principals={"*": ["*"]}, conditions={"Bool": {"aws:SecureTransport": ["false"]}}),
        ])
        sns_topic_policy.SnsTopicPolicy(self, "topic-policy-attachment", arn=self.arn, policy=self.topic_policy.json)
        for index, email in enumerate(emails):
            sns_topic_subscription.SnsTopicSubscription(self, f"email-{index}", topic_arn=self.arn,
                                                        protocol="email", endpoint=email)

        self.alarms = {}
        for alarm in load_alarm_definitions() if alarms is None else alarms:
            self._metric_filter(alarm.name, alarm.pattern)
            self.alarms[alarm.name] = cloudwatch_metric_alarm.CloudwatchMetricAlarm(
                self, f"alarm-{alarm.name}",
                alarm_name=alarm.name,
                alarm_description=f"{alarm.description} ({alarm.control})",
                namespace=NAMESPACE, metric_name=alarm.name, statistic="Sum", period=alarm.period,
                evaluation_periods=alarm.evaluation_periods, threshold=alarm.threshold,
                comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="notBreaching",
                alarm_actions=[self.arn],
            )
        # KMS publishes usage per account, not per key: count this key's calls from the trail.
        self._metric_filter("DataKeyApiCalls", with_references(
            '{ ($.eventSource = "kms.amazonaws.com") && ($.resources[0].ARN = "%s") }', watched_key.arn))

    def _metric_filter(self, name: str, pattern: str) -> None:
        metric_filter.CloudwatchLogMetricFilter(
            self, f"filter-{name}", name=name, log_group_name=self.log_group.name, pattern=pattern,
            metric_transformation=metric_filter.CloudwatchLogMetricFilterMetricTransformation(
                name=name, namespace=NAMESPACE, value="1"),
        )
