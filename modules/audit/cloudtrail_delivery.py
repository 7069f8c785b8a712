"""What a trail's bucket and key must admit for CloudTrail to deliver to them, declared once for an
account's trail (`AuditTrail`) and for the organization's, whose bucket and key live in other
accounts than the trail (stacks/organization_stacks.py).

Checked against the CloudTrail user guide: "Amazon S3 bucket policy for CloudTrail" and "Create or
update an Amazon S3 bucket to use to store the log files for an organization trail" (the bucket),
"Configure AWS KMS key policies for CloudTrail" (the key). CreateTrail checks both policies before
it creates the trail. For an organization trail, `aws:SourceArn` is the trail's ARN with the
management account's id even when a delegated administrator creates it, and CloudTrail writes
below both `AWSLogs/<management account>/` (CreateTrail checks that prefix) and
`AWSLogs/<organization id>/`.
"""

from __future__ import annotations

from collections.abc import Sequence

from definitions.aws_context import AwsContext
from modules.foundation.policy import Statement

CLOUDTRAIL = "cloudtrail.amazonaws.com"  # one name in every partition (AwsContext.service_principal)


def trail_arn(trail_owner: AwsContext, name: str) -> str:
    """The trail's ARN, in the owner's home region: the management account's for an organization trail."""
    return trail_owner.arn("cloudtrail", f"trail/{name}")


def any_trail_of(trail_owner: AwsContext) -> str:
    """Every trail of the owner's account, in any region: the CloudTrail encryption context's value."""
    return trail_owner.arn("cloudtrail", "trail/*", region="*")


def bucket_statements(bucket_arn: str, trail: str, prefixes: Sequence[str], organization_id: str | None = None) -> list[Statement]:
    """CloudTrail reads the bucket's ACL and writes below each of `prefixes` (`AWSLogs/<id>/`), for
    trail `trail` alone. For an organization, a write whose `aws:SourceOrgID` is sent and names
    another organization is denied: AWS's organization bucket policy conditions on
    `aws:SourceArn` only and does not say CloudTrail sends `aws:SourceOrgID`, so the key is
    required to match only when present, which can never refuse CreateTrail."""
    source_is_trail = {"StringEquals": {"aws:SourceArn": [trail]}}
    objects = [f"{bucket_arn}/{prefix}*" for prefix in prefixes]
    statements = [
        Statement(sid="AllowCloudTrailAclCheck", actions=["s3:GetBucketAcl"], resources=[bucket_arn],
                  principals={"Service": [CLOUDTRAIL]}, conditions=source_is_trail),
        Statement(sid="AllowCloudTrailWrite", actions=["s3:PutObject"], resources=objects, principals={"Service": [CLOUDTRAIL]},
                  conditions={"StringEquals": {"aws:SourceArn": [trail], "s3:x-amz-acl": ["bucket-owner-full-control"]}}),
    ]
    if organization_id:
        statements.append(Statement(
            sid="DenyCloudTrailWritesOfOtherOrganizations", effect="Deny", actions=["s3:PutObject"], resources=objects,
            principals={"Service": [CLOUDTRAIL]},
            conditions={"StringNotEquals": {"aws:SourceOrgID": [organization_id]}, "Null": {"aws:SourceOrgID": ["false"]}}))
    return statements


def key_statements(trail: str, trail_owner: AwsContext) -> list[Statement]:
    """CloudTrail encrypts log files for trail `trail` under the owner's encryption context, and,
    with an S3 Bucket Key on the bucket, describes the key and decrypts the bucket-level key."""
    source_is_trail = {"StringEquals": {"aws:SourceArn": [trail]}}
    return [
        Statement(sid="AllowCloudTrailEncryptLogs", actions=["kms:GenerateDataKey*"], resources=["*"],
                  principals={"Service": [CLOUDTRAIL]},
                  conditions={**source_is_trail, "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": [any_trail_of(trail_owner)]}}),
        Statement(sid="AllowCloudTrailDescribeAndDecrypt", actions=["kms:DescribeKey", "kms:Decrypt"], resources=["*"],
                  principals={"Service": [CLOUDTRAIL]}, conditions=source_is_trail),
    ]


def log_file_conditions(trail_owner: AwsContext) -> dict[str, dict[str, list[str]]]:
    """Decrypting only files CloudTrail encrypted for the owner's trails (CloudTrail user guide,
    "Enable CloudTrail log file decrypt permissions")."""
    return {"StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": [any_trail_of(trail_owner)]}}
