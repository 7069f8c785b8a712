"""After a deploy: the seed's phase 4 as checks against a running environment (`make verify`).

Each check reads or exercises the deployed environment with boto3 and reports pass, FAIL, n/a
(the environment does not configure it), or "not on emulator": on the moto emulator
(`emulator=True`) the checks that depend on what moto does not do (evaluate bucket policy
conditions, deliver CloudTrail logs, run Athena queries, send e-mail) are named, not faked.

Object checks on the data bucket run as the application role: the bucket admits no one else.
"""

from __future__ import annotations

import dataclasses
import datetime
import gzip
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from definitions.audit_path_rules import load_audit_path_rules
from definitions.aws_context import AwsContext
from definitions.cloudtrail_tables import load_schema
from definitions.queries import COMPACTION_TIME
from environments.config import Environment
from operations.emulator import bucket_policy_lifted

PASS, FAIL, NOT_APPLICABLE, NOT_ON_EMULATOR = "pass", "FAIL", "n/a", "not on emulator"
RECENT = datetime.timedelta(hours=2)  # CloudTrail delivers about every 5 minutes, digests hourly
VERIFY_PREFIX = "verify/"
# CloudTrail hands a management event to EventBridge within minutes; EventBridge's metrics follow.
AUDIT_PATH_WAIT = datetime.timedelta(minutes=15)
AUDIT_PATH_POLL_SECONDS = 30
SAMPLE_QUERY = "SELECT count(*) AS events FROM {table} WHERE timestamp >= '{day}'"


@dataclasses.dataclass(frozen=True)
class Result:
    check: str
    status: str
    detail: str


class CheckFailed(Exception):
    """A check found the environment wrong; the message says what it saw."""


def verify_digest(digest_gz: bytes, signature_hex: str, public_key_der: bytes) -> dict[str, Any]:
    """Check a CloudTrail digest file's signature (SHA256withRSA over the data signing string AWS
    documents: end time, S3 path, SHA-256 of the inflated digest, previous signature); return
    the digest's content. CheckFailed when the signature does not verify."""
    inflated = gzip.decompress(digest_gz)
    digest = json.loads(inflated)
    previous = digest.get("previousDigestSignature") or "null"
    to_sign = (f"{digest['digestEndTime']}\n{digest['digestS3Bucket']}/{digest['digestS3Object']}\n"
               f"{hashlib.sha256(inflated).hexdigest()}\n{previous}").encode()
    key = serialization.load_der_public_key(public_key_der)
    try:
        key.verify(bytes.fromhex(signature_hex), to_sign, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as err:
        raise CheckFailed(f"digest {digest['digestS3Object']}: the signature does not verify") from err
    return digest


class Verifier:
    """The checks of one environment; `run()` yields one Result per check."""

    def __init__(self, env: Environment, *, emulator: bool = False, session: boto3.Session | None = None) -> None:
        self.env, self.emulator = env, emulator
        self.session = session or boto3.Session(region_name=env.region)
        self.context = AwsContext(env.account_id, env.region)
        self.role_arn = self.context.arn("iam", f"role/{env.names.role}")

    def client(self, service: str, session: boto3.Session | None = None, **kwargs: Any):
        return (session or self.session).client(service, region_name=self.env.region, **kwargs)

    def checks(self) -> list[tuple[str, Callable[[], str], bool]]:
        """(name, check, possible on the emulator)."""
        return [
            ("upload without encryption headers is stored SSE-KMS with the data key", self.default_encryption, True),
            ("upload asking for other encryption is refused", self.other_encryption_refused, False),
            ("plain-HTTP request is refused", self.plain_http_refused, False),
            ("trail is logging", self.trail_logging, True),
            ("trail delivered logs recently, without errors", self.trail_delivery, False),
            ("latest digest file has a valid signature", self.digest_valid, False),
            ("trail's log group receives events", self.log_group_events, False),
            ("sample Athena query succeeds; its result is SSE-KMS with the data key", self.athena_query, False),
            ("the daily compaction copied yesterday into the compact table", self.compaction_ran, False),
            ("alert topic subscriptions are confirmed", self.subscriptions_confirmed, False),
            ("audit-path rule delivers a test event to its topic", self.audit_path_delivers, False),
        ]

    def run(self) -> Iterator[Result]:
        for name, check, on_emulator in self.checks():
            if self.emulator and not on_emulator:
                yield Result(name, NOT_ON_EMULATOR, _WHY_NOT_ON_EMULATOR[check.__name__])
                continue
            try:
                detail = check()
                status = NOT_APPLICABLE if detail.startswith("n/a: ") else PASS
                yield Result(name, status, detail.removeprefix("n/a: "))
            except CheckFailed as err:
                yield Result(name, FAIL, str(err))
            except ClientError as err:
                yield Result(name, FAIL, f"{err.response['Error'].get('Code')}: {err.response['Error'].get('Message')}")

    # --- helpers ------------------------------------------------------------------------------

    def data_key_arn(self) -> str:
        return self.client("kms").describe_key(KeyId=self.env.names.key_alias)["KeyMetadata"]["Arn"]

    def as_application_role(self) -> boto3.Session:
        """A session as the application role (the data bucket admits no one else)."""
        identity = self.client("sts").get_caller_identity()["Arn"]
        if f":assumed-role/{self.env.names.role}/" in identity:
            return self.session
        try:
            credentials = self.client("sts").assume_role(RoleArn=self.role_arn, RoleSessionName="platform-verify")["Credentials"]
        except ClientError as err:
            raise CheckFailed(f"cannot assume {self.role_arn} as {identity} ({err.response['Error'].get('Code')}): run as a "
                              "principal the role trusts (people: a session with MFA)") from err
        return boto3.Session(aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
                             aws_session_token=credentials["SessionToken"], region_name=self.env.region)

    def _put(self, s3: Any, **extra: Any) -> str:
        key = f"{VERIFY_PREFIX}{uuid.uuid4()}.txt"
        s3.put_object(Bucket=self.env.data_bucket, Key=key, Body=b"written by make verify\n", **extra)
        return key

    # --- the checks ---------------------------------------------------------------------------

    def default_encryption(self) -> str:
        s3, bucket = self.client("s3", self.as_application_role()), self.env.data_bucket
        if self.emulator:  # moto counts every condition but StringEquals as met: the policy's denies refuse all
            with bucket_policy_lifted(self.client("s3"), bucket):
                head = s3.head_object(Bucket=bucket, Key=self._put(s3))
        else:
            head = s3.head_object(Bucket=bucket, Key=self._put(s3))
        key_arn = self.data_key_arn()
        if head.get("ServerSideEncryption") != "aws:kms" or head.get("SSEKMSKeyId") != key_arn:
            raise CheckFailed(f"stored as {head.get('ServerSideEncryption')} with {head.get('SSEKMSKeyId')}, not aws:kms with {key_arn}")
        note = " (bucket policy lifted around the upload: the emulator cannot evaluate it)" if self.emulator else ""
        return f"aws:kms with {key_arn}, bucket key {head.get('BucketKeyEnabled', False)}{note}"

    def other_encryption_refused(self) -> str:
        s3 = self.client("s3", self.as_application_role())
        try:
            key = self._put(s3, ServerSideEncryption="AES256")
        except ClientError as err:
            if err.response["Error"].get("Code") == "AccessDenied":
                return "SSE-S3 upload refused with AccessDenied"
            raise
        raise CheckFailed(f"an SSE-S3 upload was accepted: s3://{self.env.data_bucket}/{key}")

    def plain_http_refused(self) -> str:
        host = self.context.service_host("s3")
        s3 = self.client("s3", self.as_application_role(), endpoint_url=f"http://{host}", use_ssl=False,
                         config=Config(s3={"addressing_style": "virtual"}, retries={"max_attempts": 1}))
        try:
            s3.list_objects_v2(Bucket=self.env.data_bucket, MaxKeys=1)
        except ClientError as err:
            if err.response["Error"].get("Code") == "AccessDenied":
                return f"http://{self.env.data_bucket}.{host} answered AccessDenied"
            raise
        raise CheckFailed(f"a ListObjectsV2 over plain HTTP to {host} succeeded")

    def trail_logging(self) -> str:
        status = self.client("cloudtrail").get_trail_status(Name=self.env.names.trail)
        if not status.get("IsLogging"):
            raise CheckFailed(f"trail {self.env.names.trail} is not logging")
        return f"trail {self.env.names.trail} is logging"

    def trail_delivery(self) -> str:
        status = self.client("cloudtrail").get_trail_status(Name=self.env.names.trail)
        for error_key in ("LatestDeliveryError", "LatestDigestDeliveryError", "LatestCloudWatchLogsDeliveryError"):
            if status.get(error_key):
                raise CheckFailed(f"{error_key}: {status[error_key]}")
        delivered = status.get("LatestDeliveryTime")
        if not delivered or _now() - delivered > RECENT:
            raise CheckFailed(f"last log delivery {delivered or 'never'}, more than {RECENT} ago")
        return f"last delivery {delivered:%Y-%m-%d %H:%M} UTC"

    def digest_valid(self) -> str:
        s3, bucket = self.client("s3"), self.env.trail_bucket
        prefix = f"AWSLogs/{self.env.account_id}/CloudTrail-Digest/{self.env.region}/"
        newest = None
        for day in (_now(), _now() - datetime.timedelta(days=1)):
            listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}{day:%Y/%m/%d}/").get("Contents", [])
            if listed:
                newest = max(listed, key=lambda item: item["LastModified"])
                break
        if newest is None:
            raise CheckFailed(f"no digest file under s3://{bucket}/{prefix} for today or yesterday")
        obj = s3.get_object(Bucket=bucket, Key=newest["Key"])
        body, signature = obj["Body"].read(), obj["Metadata"].get("signature", "")
        digest = json.loads(gzip.decompress(body))
        if (digest.get("digestS3Bucket"), digest.get("digestS3Object")) != (bucket, newest["Key"]):
            raise CheckFailed(f"digest {newest['Key']} names another location: it was moved")
        end = datetime.datetime.fromisoformat(digest["digestEndTime"].replace("Z", "+00:00"))
        keys = self.client("cloudtrail").list_public_keys(StartTime=end - datetime.timedelta(hours=1), EndTime=end)["PublicKeyList"]
        key = next((k["Value"] for k in keys if k["Fingerprint"] == digest["digestPublicKeyFingerprint"]), None)
        if key is None:
            raise CheckFailed(f"no CloudTrail public key with fingerprint {digest['digestPublicKeyFingerprint']}")
        verify_digest(body, signature, key)
        return f"{newest['Key'].rsplit('/', 1)[-1]} verifies ({len(digest.get('logFiles', []))} log files)"

    def log_group_events(self) -> str:
        streams = self.client("logs").describe_log_streams(logGroupName=self.env.names.log_group, orderBy="LastEventTime",
                                                           descending=True, limit=1)["logStreams"]
        last = streams[0].get("lastIngestionTime") if streams else None
        if not last:
            raise CheckFailed(f"{self.env.names.log_group} has no events")
        ingested = datetime.datetime.fromtimestamp(last / 1000, datetime.UTC)
        if _now() - ingested > RECENT:
            raise CheckFailed(f"{self.env.names.log_group}: last event ingested {ingested:%Y-%m-%d %H:%M} UTC")
        return f"last event ingested {ingested:%Y-%m-%d %H:%M} UTC"

    def athena_query(self) -> str:
        athena = self.client("athena", self.as_application_role())
        query = SAMPLE_QUERY.format(table="cloudtrail", day=f"{_now():%Y/%m/%d}")
        started = athena.start_query_execution(QueryString=query, WorkGroup=self.env.names.workgroup,
                                               QueryExecutionContext={"Database": self.env.names.database})
        execution_id, deadline = started["QueryExecutionId"], time.monotonic() + 300
        while True:
            execution = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
            state = execution["Status"]["State"]
            if state not in ("QUEUED", "RUNNING") or time.monotonic() > deadline:
                break
            time.sleep(2)
        if state != "SUCCEEDED":
            raise CheckFailed(f"query {execution_id} ended {state}: {execution['Status'].get('StateChangeReason', '')}")
        location = execution["ResultConfiguration"]["OutputLocation"].removeprefix("s3://")
        bucket, key = location.split("/", 1)
        head = self.client("s3", self.as_application_role()).head_object(Bucket=bucket, Key=key)
        if head.get("ServerSideEncryption") != "aws:kms" or head.get("SSEKMSKeyId") != self.data_key_arn():
            raise CheckFailed(f"result {location} stored as {head.get('ServerSideEncryption')} with {head.get('SSEKMSKeyId')}")
        return f"{execution_id} succeeded; s3://{location} is aws:kms with the data key"

    def compaction_ran(self) -> str:
        """Yesterday's management partition in the compact table: the schedule's run after midnight
        registered it (every account's trail logs management events every day)."""
        glue, database = self.client("glue"), self.env.names.database
        table = load_schema().compact.name
        yesterday = (_now() - datetime.timedelta(days=1)).date()
        created = glue.get_table(DatabaseName=database, Name=table)["Table"]["CreateTime"]
        first_run = datetime.datetime.combine(_now().date(), COMPACTION_TIME, datetime.UTC)
        if created > first_run:
            return f"n/a: {table} was created after today's run ({first_run:%H:%M} UTC): check again tomorrow"
        try:
            glue.get_partition(DatabaseName=database, TableName=table, PartitionValues=[yesterday.isoformat(), "Management"])
        except ClientError as err:
            if err.response["Error"].get("Code") != "EntityNotFoundException":
                raise
            raise CheckFailed(f"{table} has no partition day={yesterday}/category=Management: see the runs of workgroup "
                              f"{self.env.names.compaction} and the alarms CompactionFailed, CompactionMissing") from err
        return f"{table} holds day={yesterday}"

    def subscriptions_confirmed(self) -> str:
        """Both topics (the alarm topic and the audit-path topic): CIS counts an alarm only when its
        topic has a confirmed subscriber."""
        confirmed = []
        for name in (self.env.names.alarm_topic, self.env.names.audit_path_topic):
            topic = self.context.arn("sns", name)
            subscriptions = self.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
            pending = [s["Endpoint"] for s in subscriptions if s["SubscriptionArn"] in ("PendingConfirmation", "Deleted")]
            if pending:
                raise CheckFailed(f"{name}: not confirmed: {', '.join(sorted(pending))} (each must follow the link in AWS's e-mail)")
            if not subscriptions:
                if not self.env.alarm_emails:
                    return "n/a: no alarm_emails configured: the alarms reach nobody"
                raise CheckFailed(f"{topic} has no subscriptions, though alarm_emails lists {len(self.env.alarm_emails)}")
            confirmed.append(f"{name}: {len(subscriptions)}")
        return "confirmed: " + ", ".join(confirmed)


    def audit_path_delivers(self, wait: datetime.timedelta = AUDIT_PATH_WAIT, poll_seconds: float = AUDIT_PATH_POLL_SECONDS) -> str:
        """A test event on the audit path, then EventBridge's own account of it: the trail bucket's
        policy is put back unchanged (a call the trail-bucket rule watches; its subscribers get the
        notification), and the rule must show an invocation and no failed one. A key policy or
        topic policy that refuses EventBridge shows nowhere else: EventBridge counts the refused
        delivery in FailedInvocations (namespace AWS/Events, dimension RuleName) and drops it."""
        rule = next(r for r in load_audit_path_rules() if r.watches == "trail_bucket" and "PutBucketPolicy" in r.event_names)
        rule_name = f"{self.env.names.audit_path_rules}-{rule.name}"
        s3, cloudwatch = self.client("s3"), self.client("cloudwatch")
        started = _now().replace(second=0, microsecond=0)
        s3.put_bucket_policy(Bucket=self.env.trail_bucket, Policy=s3.get_bucket_policy(Bucket=self.env.trail_bucket)["Policy"])
        deadline = _now() + wait
        while True:
            counts = {metric: self._rule_metric(cloudwatch, rule_name, metric, started)
                      for metric in ("Invocations", "FailedInvocations")}
            if counts["FailedInvocations"]:
                raise CheckFailed(f"{rule_name}: {counts['FailedInvocations']:.0f} failed invocations since the test event: "
                                  "the topic's policy or its key's policy refuses EventBridge")
            if counts["Invocations"]:
                return f"{rule_name}: {counts['Invocations']:.0f} invocations since the test event, none failed"
            if _now() >= deadline:
                raise CheckFailed(f"{rule_name}: no invocation within {wait} of putting back the trail bucket's policy "
                                  "(is the trail logging management events?)")
            time.sleep(poll_seconds)

    def _rule_metric(self, cloudwatch: Any, rule_name: str, metric: str, since: datetime.datetime) -> float:
        """The sum of an EventBridge rule metric since `since` (EventBridge publishes none while it is zero)."""
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/Events", MetricName=metric, Dimensions=[{"Name": "RuleName", "Value": rule_name}],
            StartTime=since, EndTime=_now() + datetime.timedelta(minutes=1), Period=60, Statistics=["Sum"])["Datapoints"]
        return sum(point["Sum"] for point in points)


_WHY_NOT_ON_EMULATOR = {
    "other_encryption_refused": "moto does not evaluate the bucket policy's conditions",
    "plain_http_refused": "moto does not evaluate aws:SecureTransport, and the emulator speaks plain HTTP",
    "trail_delivery": "moto delivers no CloudTrail logs",
    "digest_valid": "moto delivers no digest files",
    "log_group_events": "moto delivers no CloudTrail events to CloudWatch Logs",
    "athena_query": "moto reports Athena queries as succeeded without running them",
    "subscriptions_confirmed": "moto confirms every subscription itself",
    "compaction_ran": "moto runs no schedule and no query",
    "audit_path_delivers": "moto hands no CloudTrail event to EventBridge and publishes no EventBridge metrics",
}


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def summary(results: list[Result]) -> str:
    """One line: how many checks passed, failed, were not checkable here, or do not apply."""
    counts = {status: sum(r.status == status for r in results) for status in (PASS, FAIL, NOT_ON_EMULATOR, NOT_APPLICABLE)}
    words = {PASS: "passed", FAIL: "FAILED", NOT_ON_EMULATOR: "not checkable on the emulator",
             NOT_APPLICABLE: "not applicable"}
    return f"{len(results)} checks: " + ", ".join(f"{n} {words[status]}" for status, n in counts.items() if n)


def table(results: list[Result]) -> str:
    width = max(len(r.check) for r in results)
    status_width = max(len(r.status) for r in results)
    return "\n".join(f"{r.check:<{width}}  {r.status:<{status_width}}  {r.detail}" for r in results)
