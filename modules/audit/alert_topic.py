"""An SNS topic that security alerts publish to: KMS-encrypted, TLS-only, with e-mail subscribers,
and a topic policy and key policy that grow with who is allowed to publish (`allow_alarms`,
`allow_event_rules`).

CIS counts an alarm only when its topic has a confirmed subscriber: each e-mail address receives
a confirmation message that someone must follow (docs/security.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from constructs import Construct

from definitions.aws_context import AwsContext
from definitions.naming import topic_name_problem
from modules.foundation.bindings import sns_topic, sns_topic_policy, sns_topic_subscription
from modules.foundation.input_checks import check_input
from modules.foundation.policy import PolicyDocument, Statement
from modules.foundation.rendering import former_logical_id
from modules.storage.encryption_key import EncryptionKey

# What a publishing service needs of the topic's key: SNS encrypts each message with a data key
# generated under it, on the publisher's behalf.
PUBLISH_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")


@dataclasses.dataclass(frozen=True)
class TopicReference:
    """An AlertTopic of another account, by ARN: its own stack admits the publishers
    (`AlertTopic.allow_alarms(accounts=...)`)."""

    arn: str


class AlertTopic(Construct):
    """Inputs:
    - name: the topic name (required; checked against SNS's rules).
    - key: the EncryptionKey of the topic (required).
    - emails: e-mail subscribers (default none).
    - moved_from: the construct path (below the stack) where the topic, its policy and its
      subscriptions were made before: Terraform moves them instead of replacing the topic, whose
      confirmed subscriptions would be lost (default None).

    Exposes `name`, `arn`, `key`, `policy` (the topic policy document) and `resource` (the `aws_sns_topic`).
    """

    def __init__(self, scope: Construct, id: str, *, name: str, key: EncryptionKey, emails: Sequence[str] = (),
                 moved_from: str | None = None) -> None:
        super().__init__(scope, id)
        check_input(self, "name", name, topic_name_problem)
        self.name, self.key = name, key
        self.resource = sns_topic.SnsTopic(self, "topic", name=name, kms_master_key_id=key.arn)
        self.arn = self.resource.arn
        self.policy = PolicyDocument(self, "topic-policy", [
            Statement(sid="DenyInsecureTransport", effect="Deny", actions=["sns:Publish"], resources=[self.arn],
                      principals={"*": ["*"]}, conditions={"Bool": {"aws:SecureTransport": ["false"]}}),
        ])
        resources = [
            self.resource,
            sns_topic_policy.SnsTopicPolicy(self, "topic-policy-attachment", arn=self.arn, policy=self.policy.json),
            *(sns_topic_subscription.SnsTopicSubscription(self, f"email-{index}", topic_arn=self.arn, protocol="email",
                                                          endpoint=email) for index, email in enumerate(emails)),
        ]
        for resource in resources if moved_from else ():
            resource.move_from_id(f"{resource.terraform_resource_type}.{former_logical_id(f'{moved_from}/{resource.node.id}')}")

    def allow_alarms(self, accounts: Sequence[str] = ()) -> None:
        """Let the CloudWatch alarms of `accounts` (default this account) publish. The key statement
        is conditioned on aws:SourceAccount: the SNS developer guide ("Enable compatibility between
        event sources from AWS services and encrypted topics") supports source conditions for
        CloudWatch. An alarm of another account publishes as CloudWatch too, with that account as
        its source (AWS's own Secure Environment Accelerator sends its member accounts' alarms to a
        central account's topics so)."""
        context = AwsContext.of(self)
        cloudwatch = context.service_principal("cloudwatch")
        accounts = list(accounts) or [context.account]
        from_accounts = {"StringEquals": {"aws:SourceAccount": accounts}}
        self.key.allow_service("AllowCloudWatchAlarmsToPublish", cloudwatch, PUBLISH_KEY_ACTIONS, from_accounts)
        self.policy.add(Statement(
            sid="AllowCloudWatchAlarms", actions=["sns:Publish"], resources=[self.arn], principals={"Service": [cloudwatch]},
            conditions={**from_accounts,
                        "ArnLike": {"aws:SourceArn": [context.arn("cloudwatch", "alarm:*", account=a) for a in accounts]}}))

    def allow_event_rules(self, rule_arns: Sequence[str]) -> None:
        """Let these EventBridge rules publish: the topic policy names each rule (aws:SourceArn, as
        the EventBridge user guide's "Amazon SNS permissions" shows). The key statement has no
        source condition: the SNS developer guide ("Enable compatibility between event sources
        from AWS services and encrypted topics") says aws:SourceAccount, aws:SourceArn and
        aws:SourceOrgID are not supported in a key policy for EventBridge to encrypted topics;
        such a condition would silently drop every notification. It is bound instead to this
        topic through the encryption context SNS asks KMS with, `aws:sns:topicArn` (the condition
        AWS's own guides use for a service publishing to an encrypted topic, e.g. GameLift
        FlexMatch's "Set up an SNS topic with server-side encryption"): EventBridge can use the
        key for this topic's messages and nothing else. `make verify` proves delivery on AWS."""
        context = AwsContext.of(self)
        events = context.service_principal("events")
        this_topic = {"StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": [context.arn("sns", self.name)]}}
        self.key.allow_service("AllowEventBridgeRulesToPublish", events, PUBLISH_KEY_ACTIONS, this_topic)
        earlier = next((s for s in self.policy.statements if s.sid == "AllowEventBridgeRules"), None)
        arns = [*(earlier.conditions["ArnEquals"]["aws:SourceArn"] if earlier else ()), *rule_arns]
        self.policy.replace(Statement(
            sid="AllowEventBridgeRules", actions=["sns:Publish"], resources=[self.arn], principals={"Service": [events]},
            conditions={"ArnEquals": {"aws:SourceArn": arns}}))
