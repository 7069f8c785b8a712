"""EventBridge rules on the management events that blind the audit path, notifying a topic that
does not depend on the alerting key.

The CIS alarms live on the trail's log group, encrypted with the alerting key. Disabling that key
(or scheduling its deletion) silences the log group and the alarm topic at once, so the alarm
about it can never be sent. These rules match the CloudTrail events on the default event bus
instead, which needs neither the log group nor the alerting key, and publish to the audit-path
topic, encrypted with the data key. Which events are watched is data
(`data/audit_path_rules.toml`).

Limits, stated in docs/security.md ("Paths of an alert"): EventBridge receives "AWS API Call via CloudTrail"
events only while a trail of the account is logging, and only in the region of the call.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktf import Fn
from constructs import Construct

from definitions.audit_path_rules import WATCHED, AuditPathRule, load_audit_path_rules
from definitions.aws_context import AwsContext
from definitions.naming import event_rule_name_problem
from modules.audit.alert_topic import AlertTopic
from modules.foundation.bindings import cloudwatch_event_rule, cloudwatch_event_target
from modules.foundation.input_checks import check_input
from modules.storage.encryption_key import EncryptionKey


class AuditPath(Construct):
    """Inputs:
    - rule_prefix: each rule is named `<rule_prefix>-<rule name>` (required).
    - topic: the AlertTopic the rules notify; not under the alerting key (required).
    - keys: the EncryptionKeys of the audit path in this account (default none).
    - trail: the trail of this account, as (name, ARN) (default none).
    - trail_bucket: the name of the trail's bucket, when it is in this account (default none).
    - rules: rule definitions (default: data/audit_path_rules.toml); a rule watching what this
      account does not hold (no keys, no trail, no bucket) is left out.

    Exposes `rules` (the `aws_cloudwatch_event_rule` resources by definition name) and `patterns`
    (their event patterns as Python data, for tests and docs).
    """

    def __init__(self, scope: Construct, id: str, *, rule_prefix: str, topic: AlertTopic, keys: Sequence[EncryptionKey] = (),
                 trail: tuple[str, str] | None = None, trail_bucket: str | None = None,
                 rules: Sequence[AuditPathRule] | None = None) -> None:
        super().__init__(scope, id)
        context = AwsContext.of(self)
        watched = {
            "keys": [value for key in keys for value in (key.resource.key_id, key.arn)],  # callers name a key either way
            "trail": list(trail or ()),
            "trail_bucket": [trail_bucket] if trail_bucket else [],
        }
        self.rules: dict[str, cloudwatch_event_rule.CloudwatchEventRule] = {}
        self.patterns: dict[str, dict] = {}
        rule_arns = []
        for rule in load_audit_path_rules() if rules is None else rules:
            if not watched[rule.watches]:
                continue
            name = f"{rule_prefix}-{rule.name}"
            check_input(self, f"rule {rule.name}", name, event_rule_name_problem)
            self.patterns[rule.name] = {
                "source": [rule.source],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {"eventSource": [rule.event_source], "eventName": list(rule.event_names),
                           **naming_any_of(WATCHED[rule.watches], watched[rule.watches])},
            }
            resource = cloudwatch_event_rule.CloudwatchEventRule(
                self, f"rule-{rule.name}", name=name, description=rule.description,
                event_pattern=Fn.jsonencode(self.patterns[rule.name]))
            cloudwatch_event_target.CloudwatchEventTarget(self, f"target-{rule.name}", rule=resource.name,
                                                          target_id="audit-path-topic", arn=topic.arn)
            self.rules[rule.name] = resource
            rule_arns.append(context.arn("events", f"rule/{name}"))
        if not rule_arns:
            raise ValueError(f"{self.node.path}: watches nothing: give it keys, a trail or a trail bucket")
        topic.allow_event_rules(rule_arns)


def naming_any_of(parameters: Sequence[str], values: list) -> dict:
    """The part of an event pattern's `detail` that matches a request naming one of `values` in
    any of `parameters` (EventBridge's `$or` when there are several)."""
    alternatives = [{"requestParameters": {parameter: values}} for parameter in parameters]
    return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}
