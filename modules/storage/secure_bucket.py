"""An S3 bucket that is private, TLS-only and SSE-KMS encrypted by default, with grants.

Secure defaults, none of which can be turned off: all four public-access-block settings, object
ownership `BucketOwnerEnforced` (ACLs disabled), default encryption SSE-KMS with the given key and
an S3 Bucket Key, a bucket policy denying requests without TLS, and a lifecycle rule aborting
incomplete multipart uploads. Uploads that ask for any encryption other than SSE-KMS with this key
are denied on the whole bucket or, with `kms_enforced_prefix`, below one prefix (CloudTrail writes
its digest files with SSE-S3, so its bucket enforces KMS on the log prefix only).

The one bucket made without a key is the target of S3 server access logs, which S3 delivers only
to a bucket whose default encryption is SSE-S3: the rule pack's BucketsUseKms names it, and the
exception must be suppressed with its reason where such a bucket is made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from constructs import Construct

from definitions.aws_context import AwsContext
from definitions.naming import bucket_name_problem
from modules.foundation.bindings import (
    s3_bucket,
    s3_bucket_logging,
    s3_bucket_metric,
    s3_bucket_object_lock_configuration,
    s3_bucket_ownership_controls,
    s3_bucket_policy,
    s3_bucket_public_access_block,
    s3_bucket_versioning,
)
from modules.foundation.bindings import (
    s3_bucket_lifecycle_configuration as lifecycle,
)
from modules.foundation.bindings import (
    s3_bucket_server_side_encryption_configuration as sse,
)
from modules.foundation.input_checks import check_input
from modules.foundation.metric import Metric
from modules.foundation.policy import Conditions, Grantee, PolicyDocument, Statement, deny_insecure_transport, sid_part
from modules.storage.encryption_key import S3_READ_ACTIONS, S3_WRITE_ACTIONS, EncryptionKey, KeyReference

READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")
WRITE_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
# Deleting an object leaves its versions: no grant deletes a version (history is kept).
DELETE_ACTIONS = ("s3:DeleteObject",)
LIST_ACTIONS = ("s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketLocation")
# What a restricted bucket denies to every principal it does not admit: every object action and
# every listing of versions and uploads, so that no one else reads, writes, tags, restores or lists them.
RESTRICTED_ACTIONS = ("s3:GetObject*", "s3:PutObject*", "s3:DeleteObject*", "s3:ListBucketVersions",
                      "s3:ListBucketMultipartUploads", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload",
                      "s3:RestoreObject", "s3:ReplicateObject", "s3:ReplicateDelete")
# Listing the bucket is denied apart: HeadBucket, which Terraform's refresh of the bucket calls,
# needs it (S3 API reference, HeadBucket), so those who run Terraform are admitted to it alone.
RESTRICTED_LISTING = ("s3:ListBucket",)
# The resources of a bucket that a protected bucket keeps from being destroyed: removing one of
# them silently removes a protection.
PROTECTED_PARTS = ("bucket", "bucket-policy", "versioning", "encryption", "public-access-block")


@dataclasses.dataclass(frozen=True)
class Transition:
    """Move current objects to another storage class after `days`."""

    days: int
    storage_class: str


@dataclasses.dataclass(frozen=True)
class ObjectLock:
    """Default retention of every new object version: `mode` GOVERNANCE (break-glass may bypass it
    with s3:BypassGovernanceRetention) or COMPLIANCE (no one may, not even the account root)."""

    mode: str
    days: int


@dataclasses.dataclass(frozen=True)
class LifecycleRule:
    """A lifecycle rule; days of 0/None mean the action is not taken."""

    id: str
    prefix: str = ""
    expire_days: int | None = None
    noncurrent_expire_days: int | None = None
    transitions: Sequence[Transition] = ()


@dataclasses.dataclass(frozen=True)
class BucketReference:
    """A bucket of another account, by its name and ARN (derived, never read from that account's state)."""

    name: str
    arn: str


class SecureBucket(Construct):
    """Inputs:
    - name: the bucket name (required; checked against S3's naming rules).
    - key: the EncryptionKey of default encryption, or the KeyReference of another account's key
      (required; None means SSE-S3, for the target of S3 server access logs only: the rule
      BucketsUseKms refuses it unless suppressed).
    - versioned: keep every object version (default True).
    - lifecycle_rules: LifecycleRule list (default none; an abort-incomplete-upload rule is always added).
    - incomplete_upload_days: days before incomplete multipart uploads are aborted (default 7).
    - kms_enforced_prefix: deny non-KMS uploads only below this prefix (default "": the whole bucket).
    - restrict_to_grantees: deny object access and listing to every principal not granted it nor
      in `always_admitted` (default False).
    - always_admitted: principals a restricted bucket never denies: break-glass (default none).
    - listing_admitted: principals a restricted bucket lets list (s3:ListBucket) but nothing else:
      those that run Terraform, which reads the bucket with HeadBucket (default none).
    - prevent_destroy: Terraform refuses to destroy the bucket and the resources of
      PROTECTED_PARTS (default False).
    - object_lock: ObjectLock default retention, set through the bucket's Object Lock
      configuration so that turning it on does not replace an existing bucket (default None; needs
      `versioned`).

    Exposes `name`, `arn`, `key`, `policy` (the bucket policy document) and `resource` (the `aws_s3_bucket`).
    """

    def __init__(self, scope: Construct, id: str, *, name: str, key: EncryptionKey | KeyReference | None, versioned: bool = True,
                 lifecycle_rules: Sequence[LifecycleRule] = (), incomplete_upload_days: int = 7,
                 kms_enforced_prefix: str = "", restrict_to_grantees: bool = False, always_admitted: Sequence[str] = (),
                 listing_admitted: Sequence[str] = (), prevent_destroy: bool = False, object_lock: ObjectLock | None = None) -> None:
        super().__init__(scope, id)
        check_input(self, "name", name, bucket_name_problem)
        if object_lock and not versioned:
            raise ValueError(f"{self.node.path}: Object Lock needs a versioned bucket")
        self._context = AwsContext.of(self)
        self.name = name
        self.key = key
        self.arn = self._context.arn("s3", name)
        self._restricted = restrict_to_grantees
        self._authorized: list[str] = list(always_admitted)
        self._listing_admitted = list(listing_admitted)
        protect = {"prevent_destroy": True} if prevent_destroy else None

        self.resource = s3_bucket.S3Bucket(self, "bucket", bucket=name, force_destroy=False, lifecycle=protect)
        bucket_id = self.resource.id
        self.public_access_block = s3_bucket_public_access_block.S3BucketPublicAccessBlock(
            self, "public-access-block", bucket=bucket_id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, lifecycle=protect,
        )
        s3_bucket_ownership_controls.S3BucketOwnershipControls(
            self, "ownership", bucket=bucket_id,
            rule=s3_bucket_ownership_controls.S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
        )
        if versioned:
            versioning = s3_bucket_versioning.S3BucketVersioningA(
                self, "versioning", bucket=bucket_id,
                versioning_configuration=s3_bucket_versioning.S3BucketVersioningVersioningConfiguration(status="Enabled"),
                lifecycle=protect,
            )
            if object_lock:  # after versioning, which S3 requires first: the reference orders them
                lock = s3_bucket_object_lock_configuration
                lock.S3BucketObjectLockConfigurationA(
                    self, "object-lock", bucket=versioning.bucket, object_lock_enabled="Enabled",
                    rule=lock.S3BucketObjectLockConfigurationRuleA(
                        default_retention=lock.S3BucketObjectLockConfigurationRuleDefaultRetentionA(
                            mode=object_lock.mode, days=object_lock.days)),
                    lifecycle=protect,
                )
        default = sse.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA
        sse.S3BucketServerSideEncryptionConfigurationA(
            self, "encryption", bucket=bucket_id,
            rule=[sse.S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default=default(sse_algorithm="aws:kms", kms_master_key_id=key.arn),
                bucket_key_enabled=True,
            ) if key else sse.S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default=default(sse_algorithm="AES256"),
            )],
            lifecycle=protect,
        )
        rules = [LifecycleRule(id="abort-incomplete-uploads"), *lifecycle_rules]
        lifecycle.S3BucketLifecycleConfiguration(
            self, "lifecycle", bucket=bucket_id,
            rule=[self._lifecycle_rule(rule, incomplete_upload_days if i == 0 else None) for i, rule in enumerate(rules)],
        )

        self.policy = PolicyDocument(self, "policy", [
            deny_insecure_transport([self.arn, f"{self.arn}/*"]),
            *self._encryption_denies(f"{self.arn}/{kms_enforced_prefix}*"),
        ])
        # Changing the policy and the public access block at once makes S3 answer OperationAborted:
        # naming the bucket through the access block orders them (a reference, not depends_on,
        # which cdktf's HCL output renders in a deprecated quoted form).
        self.bucket_policy = s3_bucket_policy.S3BucketPolicy(
            self, "bucket-policy", bucket=self.public_access_block.bucket, policy=self.policy.json, lifecycle=protect)
        if self._restricted and (self._authorized or self._listing_admitted):
            self._update_restriction()

    def _encryption_denies(self, objects: str) -> list[Statement]:
        """Deny uploads that ask for an encryption other than the bucket's default. An upload
        without encryption headers gets the default, so each deny holds only when its header is
        sent (`Null ... false`): an `...IfExists` operator would be true without the header and
        deny every plain upload."""
        encryption, key_id = "s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id"

        def deny_upload(sid: str, conditions: Conditions) -> Statement:
            return Statement(sid=sid, effect="Deny", actions=["s3:PutObject"], resources=[objects],
                             principals={"*": ["*"]}, conditions=conditions)

        if self.key is None:
            return [deny_upload("DenyNonS3Encryption", {"StringNotEquals": {encryption: ["AES256"]}, "Null": {encryption: ["false"]}})]
        return [
            deny_upload("DenyNonKmsEncryption", {"StringNotEquals": {encryption: ["aws:kms"]}, "Null": {encryption: ["false"]}}),
            deny_upload("DenyOtherKmsKeys",
                        {"StringNotEquals": {key_id: [self.key.arn, self.key.alias_arn]}, "Null": {key_id: ["false"]}}),
            # `aws:kms` without a key id means the AWS managed key aws/s3, not this one.
            deny_upload("DenyKmsWithoutThisKey", {"StringEquals": {encryption: ["aws:kms"]}, "Null": {key_id: ["true"]}}),
        ]

    @staticmethod
    def _lifecycle_rule(rule: LifecycleRule, abort_days: int | None) -> lifecycle.S3BucketLifecycleConfigurationRule:
        return lifecycle.S3BucketLifecycleConfigurationRule(
            id=rule.id,
            status="Enabled",
            filter=[lifecycle.S3BucketLifecycleConfigurationRuleFilter(prefix=rule.prefix)],
            abort_incomplete_multipart_upload=[lifecycle.S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                days_after_initiation=abort_days)] if abort_days else None,
            expiration=[lifecycle.S3BucketLifecycleConfigurationRuleExpiration(days=rule.expire_days)] if rule.expire_days else None,
            noncurrent_version_expiration=[lifecycle.S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                noncurrent_days=rule.noncurrent_expire_days)] if rule.noncurrent_expire_days else None,
            transition=[lifecycle.S3BucketLifecycleConfigurationRuleTransition(days=t.days, storage_class=t.storage_class)
                        for t in rule.transitions] or None,
        )

    # --- grants -------------------------------------------------------------------------------

    def _grant(self, grantee: Grantee, verb: str, object_actions: Sequence[str], prefix: str | Sequence[str],
               key_actions: Sequence[str], key_conditions: Conditions | None) -> list[Statement]:
        if self._restricted:
            if not grantee.principal_arn:
                raise ValueError(f"{self.node.path}: {grantee.name} has no principal ARN; this bucket admits named principals only")
            if grantee.principal_arn not in self._authorized:
                self._authorized.append(grantee.principal_arn)
                self._update_restriction()
        bucket_sid = sid_part(self.node.id)
        added = _allow_objects_and_listing(grantee, f"{verb}{bucket_sid}", bucket_sid, self.arn, object_actions, prefix)
        # Only through S3: the grant covers the bucket's objects, not direct use of the key.
        if self.key is not None:
            added += self.key.grant_through_s3(grantee, f"{verb}{bucket_sid}", key_actions, key_conditions)
        return added

    def grant_read(self, grantee: Grantee, prefix: str = "", key_conditions: Conditions | None = None) -> list[Statement]:
        """Read objects below `prefix`; `key_conditions` narrow the key grant (an encryption context).
        Returns the statements added: the grantee's, and the key policy's."""
        return self._grant(grantee, "Read", READ_ACTIONS, prefix, S3_READ_ACTIONS, key_conditions)

    def grant_append(self, grantee: Grantee, prefixes: Sequence[str]) -> list[Statement]:
        """Read and write objects below each of `prefixes`, never delete; returns the statements added."""
        return self._grant(grantee, "Append", READ_ACTIONS + WRITE_ACTIONS, prefixes, S3_WRITE_ACTIONS, None)

    def grant_read_write(self, grantee: Grantee, prefix: str = "") -> list[Statement]:
        """Read, write and delete objects below `prefix` (versions are kept); returns the statements added."""
        return self._grant(grantee, "ReadWrite", READ_ACTIONS + WRITE_ACTIONS + DELETE_ACTIONS, prefix, S3_WRITE_ACTIONS, None)

    def admit_reader(self, name: str, principal_arn: str, prefix: str) -> list[Statement]:
        """Let `principal_arn`, of another account, read objects below `prefix` and list the bucket:
        the bucket policy's half of a cross-account read; `grant_read_across_accounts` is the
        reader's half. S3 refuses a bucket policy naming a principal that does not exist, so the
        reader's stack applies first. Returns the statements added."""
        added = [Statement(sid=f"Read{sid_part(self.node.id)}ObjectsFor{name}", actions=READ_ACTIONS,
                           resources=[f"{self.arn}/{prefix}*"], principals={"AWS": [principal_arn]}),
                 Statement(sid=f"List{sid_part(self.node.id)}For{name}", actions=LIST_ACTIONS, resources=[self.arn],
                           principals={"AWS": [principal_arn]})]
        for statement in added:
            self.policy.add(statement)
        return added

    def deny_deletion(self, prefix: str, except_arns: Sequence[str]) -> None:
        """Deny deleting objects and versions below `prefix`, and shortening or bypassing their
        Object Lock retention, to all but `except_arns` (S3's own lifecycle expiry is not subject
        to the bucket policy)."""
        self.policy.add(Statement(
            sid="DenyDeletionButBreakGlass", effect="Deny",
            actions=["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention", "s3:PutObjectRetention"],
            resources=[f"{self.arn}/{prefix}*"], principals={"*": ["*"]},
            conditions={"ArnNotEquals": {"aws:PrincipalArn": list(except_arns)}}))

    def deny_changes(self, sid: str, prefix: str, except_arns: Sequence[str]) -> None:
        """Deny writing and deleting objects below `prefix` to all but `except_arns`: what only
        one writer may change (S3's own lifecycle expiry is not subject to the bucket policy)."""
        self.policy.add(Statement(
            sid=sid, effect="Deny", actions=["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
            resources=[f"{self.arn}/{prefix}*"], principals={"*": ["*"]},
            conditions={"ArnNotEquals": {"aws:PrincipalArn": list(except_arns)}}))

    def log_access_to(self, target: SecureBucket) -> None:
        """Deliver this bucket's S3 server access logs into `target`, below `<this bucket>/`."""
        log_access(self, "access-logging", source=self.resource.id, source_name=self.name, target=target)

    def request_metrics(self) -> list[Metric]:
        """Turn on S3 request metrics for the whole bucket (billed per metric) and return the ones a
        dashboard shows: S3 publishes them only for a bucket with a metrics configuration."""
        filter_id = "EntireBucket"
        s3_bucket_metric.S3BucketMetric(self, "request-metrics", bucket=self.resource.id, name=filter_id)
        dimensions = (("BucketName", self.name), ("FilterId", filter_id))
        return [Metric("AWS/S3", name, dimensions) for name in ("AllRequests", "4xxErrors", "5xxErrors")]

    def admit_access_logs(self, source_name: str) -> None:
        """Let S3's logging service write the access logs of bucket `source_name` (of this account)
        below `<source_name>/`. AWS's S3 user guide ("Enabling Amazon S3 server access logging",
        bucket policy for the logging service principal) conditions the write on aws:SourceArn,
        the source bucket, and aws:SourceAccount, the account that owns it; with object ownership
        BucketOwnerEnforced the ACL-grant alternative does not work."""
        context = AwsContext.of(self)
        self.policy.add(Statement(
            sid=f"AllowAccessLogsOf{sid_part(source_name)}", actions=["s3:PutObject"],
            resources=[f"{self.arn}/{source_name}/*"], principals={"Service": [context.service_principal("logging.s3")]},
            conditions={"StringEquals": {"aws:SourceAccount": [context.account]},
                        "ArnLike": {"aws:SourceArn": [context.arn("s3", source_name)]}}))

    def _update_restriction(self) -> None:
        """Deny every object action to every principal not granted or admitted, and listing to
        every principal not granted, admitted or admitted to list."""
        for sid, actions, resources, except_arns in (
                ("DenyObjectAccessToOthers", RESTRICTED_ACTIONS, [self.arn, f"{self.arn}/*"], self._authorized),
                ("DenyListingToOthers", RESTRICTED_LISTING, [self.arn], [*self._authorized, *self._listing_admitted])):
            self.policy.replace(Statement(
                sid=sid, effect="Deny", actions=actions, resources=resources, principals={"*": ["*"]},
                conditions={"ArnNotEquals": {"aws:PrincipalArn": except_arns}} if except_arns else {}))


def grant_read_across_accounts(grantee: Grantee, bucket: BucketReference, prefix: str) -> list[Statement]:
    """The reader's half of `SecureBucket.admit_reader`: read objects of `bucket`, in another
    account, below `prefix`, and list it. Returns the statements added."""
    bucket_sid = sid_part(bucket.name)
    return _allow_objects_and_listing(grantee, f"Read{bucket_sid}", bucket_sid, bucket.arn, READ_ACTIONS, prefix)


def _allow_objects_and_listing(grantee: Grantee, objects_sid: str, bucket_sid: str, bucket_arn: str,
                               object_actions: Sequence[str], prefix: str | Sequence[str]) -> list[Statement]:
    """The grantee's side of a grant on a bucket: `object_actions` below each prefix, and listing."""
    prefixes = [prefix] if isinstance(prefix, str) else list(prefix)
    return [grantee.allow(f"{objects_sid}Objects", object_actions, [f"{bucket_arn}/{p}*" for p in prefixes]),
            grantee.allow(f"List{bucket_sid}", LIST_ACTIONS, [bucket_arn])]


def log_access(scope: Construct, id: str, *, source: str, source_name: str,
               target: SecureBucket) -> s3_bucket_logging.S3BucketLoggingA:
    """S3 server access logging of bucket `source` (a name or a reference to it; `source_name` is
    its literal name) into `target`, made in `scope`: a bucket of another stack (the state bucket)
    is logged by the stack that owns the target."""
    target.admit_access_logs(source_name)
    # The target through its bucket policy: S3 checks at PutBucketLogging that the target admits it.
    return s3_bucket_logging.S3BucketLoggingA(scope, id, bucket=source, target_bucket=target.bucket_policy.bucket,
                                              target_prefix=f"{source_name}/")
