"""A multi-region CloudTrail trail with log file validation, KMS-encrypted logs in its own bucket,
S3 data events through advanced event selectors, optional Insights, and delivery into CloudWatch
Logs.

Data events are never recorded for the trail's own bucket nor for the buckets it is told to
exclude (the access-log bucket): each write there would be an event that is itself written
there, a delivery loop billed per event.

CreateTrail checks that the bucket policy and the key policy already admit CloudTrail, while both
policies must name the trail. The trail's ARN is therefore built from its known parts rather than
taken from the trail resource, and the trail refers to the bucket through its bucket policy, to
the key (whose policy is part of it), and to its CloudWatch Logs role through the role's
permissions: references order the creation without `depends_on`, which cdktf's HCL output
renders in a deprecated quoted form.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from constructs import Construct

from definitions import naming
from definitions.aws_context import AwsContext
from modules.audit import cloudtrail_delivery as delivery
from modules.foundation.bindings import cloudtrail, cloudwatch_log_group
from modules.foundation.iam import Role
from modules.foundation.input_checks import check_input
from modules.foundation.policy import Grantee, Statement
from modules.storage.encryption_key import EncryptionKey, KeyReference
from modules.storage.secure_bucket import BucketReference, SecureBucket


@dataclasses.dataclass(frozen=True)
class OrganizationTrail:
    """Make the trail the organization's: it records every member account, and its ARN, its log
    prefix and the encryption context of its files carry the management account and the organization."""

    id: str
    management_account: str


class AuditTrail(Construct):
    """Inputs:
    - name: trail name (required).
    - bucket: the SecureBucket that receives the logs, or the BucketReference of one in another
      account, whose stack admits the trail with `cloudtrail_delivery.bucket_statements` (required).
    - key: the EncryptionKey of the log files, or the KeyReference of one in another account,
      whose stack admits the trail with `cloudtrail_delivery.key_statements` (required).
    - watched_buckets: SecureBuckets whose object-level calls are recorded as data events (default none).
    - all_buckets_data_events: record object-level calls on every bucket of the account instead,
      but `bucket` and `excluded_buckets` (CIS 3.8, 3.9; default False).
    - excluded_buckets: SecureBuckets never recorded, like `bucket` (default none).
    - management_events: record the account's management events (default True). False: data events
      only, for an account whose management events an organization trail records; it then needs
      watched buckets, and no Insights.
    - insights: CloudTrail Insights on the API call rate and the API error rate (default False).
    - log_group_name, log_group_key, log_retention_days: the CloudWatch Logs group the trail also
      delivers to, its key (keep it apart from `key`, so that disabling one key cannot silence the
      alarm about it), and its retention (required).
    - logs_role_name: the IAM role CloudTrail assumes to write to the log group (required).
    - prevent_destroy: Terraform refuses to destroy the trail and its log group (default False).
    - organization: OrganizationTrail, to record the whole organization (default None: this account).

    Exposes `name`, `arn`, `log_prefix`, `log_group` and `resource` (the `aws_cloudtrail`).
    """

    def __init__(self, scope: Construct, id: str, *, name: str, bucket: SecureBucket | BucketReference,
                 key: EncryptionKey | KeyReference, log_group_name: str, log_group_key: EncryptionKey,
                 log_retention_days: int, logs_role_name: str, watched_buckets: Sequence[SecureBucket] = (),
                 all_buckets_data_events: bool = False, excluded_buckets: Sequence[SecureBucket] = (),
                 insights: bool = False, prevent_destroy: bool = False, organization: OrganizationTrail | None = None,
                 management_events: bool = True) -> None:
        super().__init__(scope, id)
        never_recorded = [bucket, *excluded_buckets]
        if not management_events and (insights or not (watched_buckets or all_buckets_data_events)):
            raise ValueError(f"{self.node.path}: a trail without management events records data events of watched "
                             "buckets, and cannot run Insights (which analyses management events)")
        if looped := [b.name for b in watched_buckets if any(b is n for n in never_recorded)]:
            raise ValueError(f"{self.node.path}: data events of {', '.join(looped)} would be written where they happen")
        check_input(self, "name", name, naming.trail_name_problem)
        check_input(self, "log_group_name", log_group_name, naming.log_group_name_problem)
        check_input(self, "log_retention_days", log_retention_days, naming.log_retention_problem)
        context = AwsContext.of(self)
        cloudtrail_principal = context.service_principal("cloudtrail")
        # An organization trail's ARN carries the management account's id whoever creates it.
        owner = AwsContext(organization.management_account, context.region) if organization else context
        self.name = name
        self.arn = delivery.trail_arn(owner, name)
        self.log_prefix = f"AWSLogs/{organization.id}/" if organization else f"AWSLogs/{context.account}/CloudTrail/"
        self.bucket = bucket
        protect = {"prevent_destroy": True} if prevent_destroy else None
        # Readers decrypt log files through S3 with the CloudTrail encryption context: `grant_read_logs`.
        self._log_files = delivery.log_file_conditions(owner)
        # A bucket or key of another account admits the trail in its own stack, from the same declarations.
        if isinstance(bucket, SecureBucket):
            for statement in delivery.bucket_statements(bucket.arn, self.arn, [f"AWSLogs/{context.account}/"]):
                bucket.policy.add(statement)
        if isinstance(key, EncryptionKey):
            for statement in delivery.key_statements(self.arn, owner):
                key.allow(statement)

        log_group_arn = context.arn("logs", f"log-group:{log_group_name}")
        log_group_key.allow_service(
            "AllowCloudWatchLogs", context.service_host("logs"),
            ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": [log_group_arn]}},
        )
        self.log_group = cloudwatch_log_group.CloudwatchLogGroup(
            self, "log-group", name=log_group_name, retention_in_days=log_retention_days, kms_key_id=log_group_key.arn,
            lifecycle=protect,
        )
        # No condition on the trust: AWS documents this role (CloudTrail guide, "Sending events to
        # CloudWatch Logs") without one and does not document CloudTrail sending aws:SourceArn when
        # it assumes it; CreateTrail's check of the role must not fail on that. A role cannot be
        # passed across accounts, so only this account's trails can use it.
        self.logs_role = Role(self, "logs-role", name=logs_role_name,
                              description=f"Lets CloudTrail trail {name} write to CloudWatch Logs",
                              trust=[Statement(sid="TrustCloudTrail", actions=["sts:AssumeRole"],
                                               principals={"Service": [cloudtrail_principal]})])
        self.logs_role.grantee.allow("WriteTrailLogStreams", ["logs:CreateLogStream", "logs:PutLogEvents"],
                                     [f"{log_group_arn}:log-stream:*"])

        self.resource = cloudtrail.Cloudtrail(
            self, "trail",
            name=name,
            s3_bucket_name=bucket.bucket_policy.bucket if isinstance(bucket, SecureBucket) else bucket.name,
            is_organization_trail=True if organization else None,
            kms_key_id=key.arn,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            enable_logging=True,
            cloud_watch_logs_group_arn=f"{self.log_group.arn}:*",
            cloud_watch_logs_role_arn=context.arn("iam", f"role/{self.logs_role.policy.role}"),
            advanced_event_selector=self._selectors(watched_buckets, all_buckets_data_events, never_recorded, management_events),
            insight_selector=[cloudtrail.CloudtrailInsightSelector(insight_type=kind)
                              for kind in ("ApiCallRateInsight", "ApiErrorRateInsight")] if insights else None,
            lifecycle=protect,
        )

    @staticmethod
    def _selectors(watched: Sequence[SecureBucket], all_buckets: bool, never_recorded: Sequence[SecureBucket],
                   management_events: bool) -> list[cloudtrail.CloudtrailAdvancedEventSelector]:
        """Every management event (read and write: Insights on the error rate needs both), unless
        left to an organization trail; S3 object events of the watched buckets, or of every bucket
        but those never recorded."""
        field = cloudtrail.CloudtrailAdvancedEventSelectorFieldSelector
        selectors = [cloudtrail.CloudtrailAdvancedEventSelector(
            name="Management events", field_selector=[field(field="eventCategory", equal_to=["Management"])])
            ] if management_events else []
        objects = [field(field="eventCategory", equal_to=["Data"]), field(field="resources.type", equal_to=["AWS::S3::Object"])]
        if all_buckets:
            selectors.append(cloudtrail.CloudtrailAdvancedEventSelector(
                name="S3 objects of every bucket but the log buckets",
                field_selector=[*objects, field(field="resources.ARN", not_starts_with=[f"{b.arn}/" for b in never_recorded])]))
        elif watched:
            selectors.append(cloudtrail.CloudtrailAdvancedEventSelector(
                name="S3 objects of the watched buckets",
                field_selector=[*objects, field(field="resources.ARN", starts_with=[f"{b.arn}/" for b in watched])]))
        return selectors

    def grant_read_logs(self, grantee: Grantee) -> list[Statement]:
        """Read the log files: the bucket below the log prefix, and the key through S3 for files
        CloudTrail encrypted (kms:Decrypt only, bound to the CloudTrail encryption context).
        Returns the statements added."""
        return self.bucket.grant_read(grantee, prefix=self.log_prefix, key_conditions=self._log_files)

    def grant_read(self, grantee: Grantee) -> list[Statement]:
        """Look up events, and describe this trail. CloudTrail has no resource-level permission for
        LookupEvents: whoever may call it reads the whole account's event history. Returns the statements added."""
        return [grantee.allow("LookupCloudTrailEvents", ["cloudtrail:LookupEvents", "cloudtrail:DescribeTrails"], ["*"]),
                grantee.allow("ReadTrail", ["cloudtrail:GetTrail", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors",
                                            "cloudtrail:ListTags"], [self.arn])]
