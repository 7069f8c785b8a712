"""The dev stack, applied unchanged by the real Terraform to the moto emulator, read back with boto3;
and prod's destroy guardrail, on a second emulator that answers as prod's account.

One module-scoped fixture starts both emulators and applies dev and prod in parallel (each apply
takes about a minute: the provider waits for S3 lifecycle rules to settle). The dev tests
then run in this file's order: `terraform plan` right after the apply, the resources one area at a
time, and last the teardown (empty the buckets, destroy, nothing left). A failing test names its
area; a failed deployment fails every test of its stack with Terraform's output.

What the emulator cannot show is said where it matters, and never worked around by asserting on
the Python that built the stack:
- moto implements only the StringEquals condition operator and counts every other condition as met,
  so the buckets' conditional Deny statements refuse every object request there. Object requests
  run with the bucket policy lifted and put back verbatim (`bucket_policy_lifted`); the policies
  themselves are checked as documents, their effect on requests is not proven here.
- moto has no Athena DeleteNamedQuery: `destroy_stack` drops the named queries from the state first.
- moto keys trails by name and ignores DeleteTrail given the ARN, which is what the provider sends;
  the trail's deletion is shown by the request the emulator recorded, not by its absence.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import re
import shutil
import time
import tomllib
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from moto.events.models import EventPattern

from definitions.alarm_definitions import PLACEHOLDER, load_alarm_definitions, load_system_alarms
from definitions.audit_path_rules import load_audit_path_rules
from definitions.cloudtrail_tables import SCHEMA_FILE
from definitions.paths import QUERIES_DIR
from definitions.resource_types import replacement_attributes
from environments.config import Environment
from operations import plan_summary
from operations.emulator import (
    Emulator,
    bucket_policy_lifted,
    deploy_stack,
    destroy_stack,
    empty_versioned_bucket,
    running_emulator,
    stack_json,
    target_args,
)
from operations.review import STATEFUL_TYPES
from operations.terraform import terraform
from stacks.ids import ACCESS_LOG_BUCKET_ID
from tests.fixtures.management_events import api_call_event
from tests.support import environment, first_environment, rendered_query

ALARMS, SYSTEM_ALARMS = load_alarm_definitions(), load_system_alarms()
AUDIT_PATH_RULES = load_audit_path_rules()
# Not from a filter definition.
OTHER_ALARMS = {"DataKeyUsage", "AuditTrailHeartbeat", "AthenaBytesScanned", "CompactionFailed", "CompactionMissing"}
QUERY_FILES = sorted(QUERIES_DIR.glob("*.sql"))
CLOUDTRAIL = "cloudtrail.amazonaws.com"


# --- the deployments --------------------------------------------------------------------------


@dataclasses.dataclass
class Deployment:
    """A stack applied to an emulator: its configuration, the emulator, the working copy and the
    Terraform outputs."""

    env: Environment
    emulator: Emulator
    workdir: Path
    outputs: dict[str, Any]
    tf_env: dict[str, str]
    recording: Path | None = None  # the emulator's request recording, when started with one
    destroyed: bool = False

    def client(self, service: str):
        return self.emulator.boto3_client(service, self.env.region)

    def terraform(self, *args: str, check: bool = True):
        return terraform(list(args), self.workdir, self.tf_env, check=check)

    @property
    def targets(self) -> list[str]:
        return target_args(stack_json(self.workdir))

    def moto_api(self, path: str) -> None:
        request = urllib.request.Request(f"{self.emulator.endpoint}/moto-api/{path}", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass


# The environments applied: the first non-production one (by file name) end to end, and the first
# production one for its destroy guardrail.
DEV, PROD = first_environment(production=False), first_environment(production=True)


@pytest.fixture(scope="module")
def deployments(synth_out: Path, tf_env: dict[str, str],
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Deployment | Exception]]:
    """DEV and PROD, each applied to an emulator of its own account; a failed deployment is kept
    as its exception, for the tests of that stack to report."""
    root = tmp_path_factory.mktemp("emulator")
    recording = root / "dev-requests.jsonl"
    with contextlib.ExitStack() as stack:
        emulators = {}
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MOTO_RECORDER_FILEPATH", str(recording))  # where moto writes what it is asked to record
            emulators[DEV.name] = stack.enter_context(running_emulator(DEV.account_id, log_path=root / "dev-moto.log"))
        emulators[PROD.name] = stack.enter_context(running_emulator(PROD.account_id, log_path=root / "prod-moto.log"))
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {name: pool.submit(deploy_environment, synth_out, name, root, emulator, tf_env)
                       for name, emulator in emulators.items()}
        results: dict[str, Deployment | Exception] = {}
        for name, future in futures.items():
            error = future.exception()
            results[name] = error if error is not None else Deployment(
                env=environment(name), emulator=emulators[name], workdir=root / name, outputs=future.result(),
                tf_env=emulators[name].environment(tf_env), recording=recording if name == DEV.name else None)
        yield results


def deploy_environment(synth_out: Path, name: str, root: Path, emulator: Emulator, tf_env: dict[str, str]) -> dict:
    """The bootstrap and the environment stack. The environment needs of the bootstrap only its
    state bucket (it logs the bucket's access): its apply starts once the bootstrap has created
    the bucket, and runs alongside the rest of the bootstrap's (about a minute, the provider
    waiting for S3 lifecycle rules to settle). Returns the environment stack's outputs."""
    env = environment(name)
    with ThreadPoolExecutor(max_workers=1) as pool:
        bootstrap = pool.submit(deploy_stack, synth_out / "stacks" / env.bootstrap_stack, root / env.bootstrap_stack,
                                emulator, tf_env)
        s3 = emulator.boto3_client("s3", env.state.region)
        while not _bucket_exists(s3, env.state.bucket):
            if bootstrap.done():  # failed (its error is raised), or done without the bucket
                bootstrap.result()
                raise RuntimeError(f"{env.bootstrap_stack} applied, but bucket {env.state.bucket} does not exist")
            time.sleep(0.5)
        outputs = deploy_stack(synth_out / "stacks" / name, root / name, emulator, tf_env)
        bootstrap.result()
    return outputs


def _bucket_exists(s3, bucket: str) -> bool:
    return any(b["Name"] == bucket for b in s3.list_buckets()["Buckets"])


def _deployment(deployments: dict[str, Deployment | Exception], name: str) -> Deployment:
    result = deployments[name]
    if isinstance(result, Exception):
        pytest.fail(f"deploying {name} to the emulator failed: {result}", pytrace=False)
    return result


@pytest.fixture(scope="module")
def dev(deployments: dict[str, Deployment | Exception]) -> Deployment:
    """The first non-production environment, deployed."""
    return _deployment(deployments, DEV.name)


@pytest.fixture(scope="module")
def prod(deployments: dict[str, Deployment | Exception]) -> Deployment:
    """The first production environment, deployed."""
    return _deployment(deployments, PROD.name)


# --- reading policies back --------------------------------------------------------------------


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def as_document(policy: str | dict) -> dict:
    """A policy as the API returns it: a dict (boto3 decodes some), JSON, or URL-encoded JSON."""
    if isinstance(policy, dict):
        return policy
    try:
        return json.loads(policy)
    except json.JSONDecodeError:
        return json.loads(unquote(policy))


def statements_by_sid(policy: str | dict) -> dict[str, dict]:
    statements = as_list(as_document(policy)["Statement"])
    return {statement.get("Sid", ""): statement for statement in statements}


def condition(statement: dict, operator: str, key: str) -> list[str]:
    """The values a statement's condition tests `key` against with `operator` ([] when absent)."""
    return [str(v).lower() if isinstance(v, bool) else v
            for v in as_list(statement.get("Condition", {}).get(operator, {}).get(key, []))]


def principals(statement: dict, kind: str) -> list[str]:
    principal = statement.get("Principal", {})
    if principal == "*":
        return ["*"] if kind == "*" else []
    return as_list(principal.get(kind, []))


def allows(statement: dict, action: str, resource: str) -> bool:
    return (statement.get("Effect") == "Allow" and action in as_list(statement.get("Action", []))
            and resource in as_list(statement.get("Resource", [])))


# --- right after the apply --------------------------------------------------------------------


def test_plan_right_after_apply_shows_no_changes(dev: Deployment) -> None:
    result = dev.terraform("plan", "-detailed-exitcode", "-input=false", *dev.targets, check=False)
    assert result.returncode == 0, (f"terraform plan -detailed-exitcode exited {result.returncode} "
                                    f"(2 = changes, 1 = error) right after apply:\n{result.stdout[-6000:]}\n{result.stderr}")


# --- S3 ---------------------------------------------------------------------------------------


def test_object_without_encryption_headers_is_kms_encrypted_and_versioned(dev: Deployment) -> None:
    s3, bucket, key = dev.client("s3"), dev.env.data_bucket, "evidence/no-encryption-headers.txt"
    policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    with bucket_policy_lifted(s3, bucket):  # see the module docstring: moto's policy conditions
        s3.put_object(Bucket=bucket, Key=key, Body=b"first version")  # no encryption headers at all
        s3.put_object(Bucket=bucket, Key=key, Body=b"second version")
        head = s3.head_object(Bucket=bucket, Key=key)
        versions = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == policy, "the bucket policy was not put back"
    assert head.get("ServerSideEncryption") == "aws:kms"
    assert head.get("SSEKMSKeyId") == dev.outputs["data_key_arn"]
    assert head.get("BucketKeyEnabled") is True
    assert len(versions) == 2, f"expected 2 versions of {key} after an overwrite, got {versions}"
    assert len({v["VersionId"] for v in versions}) == 2


BUCKETS = {
    # bucket -> (lifecycle rule ids, versioned)
    "data": ({"abort-incomplete-uploads", "expire-noncurrent-versions"}, True),
    "results": ({"abort-incomplete-uploads", "expire-query-results", "expire-compact-table"}, False),
    "trail": ({"abort-incomplete-uploads", "age-out-logs"}, True),
}


def bucket_name(env: Environment, which: str) -> str:
    return {"data": env.data_bucket, "results": env.results_bucket, "trail": env.trail_bucket}[which]


@pytest.mark.parametrize("which", BUCKETS)
def test_bucket_is_private_owner_enforced_and_versioned_as_configured(dev: Deployment, which: str) -> None:
    s3, bucket = dev.client("s3"), bucket_name(dev.env, which)
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                     "RestrictPublicBuckets": True}
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert [rule["ObjectOwnership"] for rule in rules] == ["BucketOwnerEnforced"]
    status = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    assert status == ("Enabled" if BUCKETS[which][1] else None)


@pytest.mark.parametrize("which", BUCKETS)
def test_bucket_default_encryption_is_the_data_key_with_bucket_key(dev: Deployment, which: str) -> None:
    rules = dev.client("s3").get_bucket_encryption(
        Bucket=bucket_name(dev.env, which))["ServerSideEncryptionConfiguration"]["Rules"]
    assert len(rules) == 1
    assert rules[0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms",
                                                             "KMSMasterKeyID": dev.outputs["data_key_arn"]}
    assert rules[0].get("BucketKeyEnabled") is True


@pytest.mark.parametrize("which", BUCKETS)
def test_bucket_policy_denies_plain_http_and_other_encryption(dev: Deployment, which: str) -> None:
    bucket = bucket_name(dev.env, which)
    arn = f"arn:{dev.env.partition}:s3:::{bucket}"
    policy = statements_by_sid(dev.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])

    tls = policy.get("DenyInsecureTransport")
    assert tls is not None, f"no DenyInsecureTransport statement; Sids: {sorted(policy)}"
    assert tls["Effect"] == "Deny" and principals(tls, "*") == ["*"]
    assert as_list(tls["Action"]) == ["s3:*"]
    assert set(as_list(tls["Resource"])) == {arn, f"{arn}/*"}
    assert condition(tls, "Bool", "aws:SecureTransport") == ["false"]

    # On the trail bucket, only CloudTrail's log prefix: its digest files are SSE-S3.
    objects = f"{arn}/AWSLogs/{dev.env.account_id}/CloudTrail/*" if which == "trail" else f"{arn}/*"
    encryption, key_id = "s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id"
    for sid in ("DenyNonKmsEncryption", "DenyOtherKmsKeys", "DenyKmsWithoutThisKey"):
        statement = policy.get(sid)
        assert statement is not None, f"no {sid} statement; Sids: {sorted(policy)}"
        assert statement["Effect"] == "Deny" and principals(statement, "*") == ["*"], sid
        assert as_list(statement["Action"]) == ["s3:PutObject"], sid
        assert as_list(statement["Resource"]) == [objects], sid
    # Each deny holds only when its header is sent, so a plain upload takes the default encryption.
    non_kms, other_key, default_key = (policy[sid] for sid in ("DenyNonKmsEncryption", "DenyOtherKmsKeys",
                                                               "DenyKmsWithoutThisKey"))
    assert condition(non_kms, "StringNotEquals", encryption) == ["aws:kms"]
    assert condition(non_kms, "Null", encryption) == ["false"]
    assert dev.outputs["data_key_arn"] in condition(other_key, "StringNotEquals", key_id)
    assert condition(other_key, "Null", key_id) == ["false"]
    assert condition(default_key, "StringEquals", encryption) == ["aws:kms"]
    assert condition(default_key, "Null", key_id) == ["true"]


def test_lifecycle_rules(dev: Deployment) -> None:
    s3, retention = dev.client("s3"), dev.env.retention
    rules = {which: {rule["ID"]: rule for rule in s3.get_bucket_lifecycle_configuration(
        Bucket=bucket_name(dev.env, which))["Rules"]} for which in BUCKETS}
    for which, (ids, _) in BUCKETS.items():
        assert set(rules[which]) == ids, which
        assert all(rule["Status"] == "Enabled" for rule in rules[which].values()), which
        abort = rules[which]["abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"]
        assert abort == {"DaysAfterInitiation": retention.incomplete_upload_days}, which
    assert rules["data"]["expire-noncurrent-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == \
        retention.data_noncurrent_version_days
    assert rules["results"]["expire-query-results"]["Expiration"] == {"Days": retention.athena_results_days}
    assert rules["results"]["expire-compact-table"]["Expiration"] == {"Days": retention.compact_table_days}
    logs = rules["trail"]["age-out-logs"]
    assert logs["Expiration"] == {"Days": retention.trail_logs_expire_days}
    assert logs["NoncurrentVersionExpiration"]["NoncurrentDays"] == retention.trail_noncurrent_version_days
    assert {(t["Days"], t["StorageClass"]) for t in logs["Transitions"]} == {
        (retention.trail_logs_infrequent_access_days, "STANDARD_IA"), (retention.trail_logs_glacier_days, "GLACIER")}


def _access_log_layout(env: Environment) -> dict[str, tuple[str, list[str]]]:
    """{access-log bucket: (its region, the buckets logging into it)}: the environment's own, and
    the bootstrap's when the state bucket lives in another region (S3 delivers within a region)."""
    layout = {env.access_log_bucket: (env.region, [env.data_bucket, env.results_bucket, env.trail_bucket])}
    if env.state_access_log_bucket:
        layout[env.state_access_log_bucket] = (env.state.region, [env.state.bucket])
    else:
        layout[env.access_log_bucket][1].append(env.state.bucket)
    return layout


def test_every_bucket_logs_its_access(dev: Deployment) -> None:
    """The data, results, trail and state buckets log into an access-log bucket of their region,
    under their own name; that bucket is SSE-S3 (log delivery cannot use SSE-KMS) and admits only
    S3's log delivery for this account's source buckets. Without access logs, no bucket logs."""
    env = dev.env
    if not env.audit.access_logs:
        for bucket in (env.data_bucket, env.results_bucket, env.trail_bucket, env.state.bucket):
            assert "LoggingEnabled" not in dev.client("s3").get_bucket_logging(Bucket=bucket), bucket
        return
    for target, (region, sources) in _access_log_layout(env).items():
        s3 = dev.emulator.boto3_client("s3", region)
        for bucket in sources:
            enabled = s3.get_bucket_logging(Bucket=bucket).get("LoggingEnabled")
            assert enabled == {"TargetBucket": target, "TargetPrefix": f"{bucket}/"}, (bucket, enabled)
        assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=target), "an access-log bucket must not log into itself"
        rules = s3.get_bucket_encryption(Bucket=target)["ServerSideEncryptionConfiguration"]["Rules"]
        assert [r["ApplyServerSideEncryptionByDefault"] for r in rules] == [{"SSEAlgorithm": "AES256"}]
        policy = statements_by_sid(s3.get_bucket_policy(Bucket=target)["Policy"])
        admitted = {s["Resource"]: s for sid, s in policy.items() if sid.startswith("AllowAccessLogsOf")}
        arn = f"arn:{env.partition}:s3:::{target}"
        assert set(admitted) == {f"{arn}/{b}/*" for b in sources}
        for resource, statement in admitted.items():
            assert principals(statement, "Service") == ["logging.s3.amazonaws.com"], resource
            assert condition(statement, "StringEquals", "aws:SourceAccount") == [env.account_id], resource
            source = resource.removeprefix(f"{arn}/").removesuffix("/*")
            assert condition(statement, "ArnLike", "aws:SourceArn") == [f"arn:{env.partition}:s3:::{source}"], resource
        assert "DenyInsecureTransport" in policy
        # The emulator delivers a log object per request, at once (S3 takes minutes to hours): the
        # requests of the tests and plans so far arrived under each source's prefix.
        with bucket_policy_lifted(s3, target):  # moto counts the TLS deny's condition as met
            delivered = {o["Key"].split("/", 1)[0] for o in s3.list_objects_v2(Bucket=target).get("Contents", [])}
        assert delivered == set(sources), delivered


# --- KMS --------------------------------------------------------------------------------------


def test_data_key_rotates_has_its_alias_and_admits_cloudtrail_and_the_role(dev: Deployment) -> None:
    kms, key_arn = dev.client("kms"), dev.outputs["data_key_arn"]
    metadata = kms.describe_key(KeyId=key_arn)["KeyMetadata"]
    assert (metadata["KeyState"], metadata["KeyManager"], metadata["KeySpec"]) == \
        ("Enabled", "CUSTOMER", "SYMMETRIC_DEFAULT")
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert aliases.get(dev.env.names.key_alias) == metadata["KeyId"]

    policy = statements_by_sid(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    trail_arn = dev.outputs["trail_arn"]
    for sid, action in (("AllowCloudTrailEncryptLogs", "kms:GenerateDataKey*"),
                        ("AllowCloudTrailDescribeAndDecrypt", "kms:Decrypt")):
        statement = policy.get(sid)
        assert statement is not None, f"no {sid} in the data key policy; Sids: {sorted(policy)}"
        assert statement["Effect"] == "Allow" and principals(statement, "Service") == [CLOUDTRAIL], sid
        assert action in as_list(statement["Action"]), sid
        assert condition(statement, "StringEquals", "aws:SourceArn") == [trail_arn], sid
    # No statement for every principal of the account: S3 uses the key for the principals named.
    assert not [sid for sid, s in policy.items() if s["Effect"] == "Allow" and "*" in principals(s, "AWS")]
    role_arn = dev.outputs["application_role_arn"]
    for_role = [s for s in policy.values() if role_arn in principals(s, "AWS") and s["Effect"] == "Allow"]
    assert for_role, f"no statement of the data key policy names {role_arn}"
    assert any("kms:GenerateDataKey" in as_list(s["Action"]) for s in for_role)
    via_s3 = f"s3.{dev.env.region}.amazonaws.com"
    assert all(condition(s, "StringEquals", "kms:ViaService") == [via_s3] for s in for_role)


def test_alerting_key_is_a_separate_rotating_key_with_its_own_alias(dev: Deployment) -> None:
    kms, key_arn = dev.client("kms"), dev.outputs["alerting_key_arn"]
    metadata = kms.describe_key(KeyId=key_arn)["KeyMetadata"]
    data_key_id = kms.describe_key(KeyId=dev.outputs["data_key_arn"])["KeyMetadata"]["KeyId"]
    assert metadata["KeyState"] == "Enabled"
    assert metadata["KeyId"] != data_key_id
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert aliases.get(dev.env.names.alerting_key_alias) == metadata["KeyId"]


# --- CloudTrail -------------------------------------------------------------------------------


def test_trail_is_multi_region_validated_encrypted_logging_and_watches_the_data_bucket(dev: Deployment) -> None:
    cloudtrail, name = dev.client("cloudtrail"), dev.env.names.trail
    trail = cloudtrail.get_trail(Name=name)["Trail"]
    assert trail["TrailARN"] == dev.outputs["trail_arn"]
    assert trail["IsMultiRegionTrail"] is True
    assert trail["LogFileValidationEnabled"] is True
    assert trail["KmsKeyId"] == dev.outputs["data_key_arn"]
    assert trail["S3BucketName"] == dev.env.trail_bucket
    group = dev.client("logs").describe_log_groups(logGroupNamePrefix=dev.env.names.log_group)["logGroups"]
    assert [g["logGroupName"] for g in group] == [dev.env.names.log_group]
    assert trail.get("CloudWatchLogsLogGroupArn", "").removesuffix(":*") == group[0]["logGroupArn"]
    logs_role = dev.client("iam").get_role(RoleName=dev.env.names.trail_logs_role)["Role"]
    assert trail.get("CloudWatchLogsRoleArn") == logs_role["Arn"]

    selectors = cloudtrail.get_event_selectors(TrailName=name)
    assert not selectors.get("EventSelectors"), "basic and advanced selectors exclude each other"
    fields = [{f["Field"]: f for f in selector["FieldSelectors"]} for selector in selectors["AdvancedEventSelectors"]]
    assert [f["eventCategory"]["Equals"] for f in fields] == [["Management"], ["Data"]]
    assert set(fields[0]) == {"eventCategory"}, "every management event, read and write"
    objects = fields[1]
    assert objects["resources.type"]["Equals"] == ["AWS::S3::Object"]
    watched = objects["resources.ARN"].get("StartsWith", [])
    assert f"arn:{dev.env.partition}:s3:::{dev.env.data_bucket}/" in watched
    assert not [arn for arn in watched if dev.env.trail_bucket in arn or dev.env.access_log_bucket in arn], watched
    assert cloudtrail.get_trail_status(Name=name)["IsLogging"] is True


def test_prod_trail_has_insights_and_its_bucket_object_lock(prod: Deployment) -> None:
    insights = prod.client("cloudtrail").get_insight_selectors(TrailName=prod.env.names.trail)["InsightSelectors"]
    assert {s["InsightType"] for s in insights} == ({"ApiCallRateInsight", "ApiErrorRateInsight"}
                                                    if prod.env.audit.insights else set())
    s3 = prod.client("s3")
    if not prod.env.audit.object_lock_mode:
        with pytest.raises(s3.exceptions.ClientError, match="ObjectLockConfigurationNotFound"):
            s3.get_object_lock_configuration(Bucket=prod.env.trail_bucket)
        return
    lock = s3.get_object_lock_configuration(Bucket=prod.env.trail_bucket)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    retention = lock["Rule"]["DefaultRetention"]  # moto adds "Years": 0 beside the days
    assert (retention["Mode"], retention["Days"], retention.get("Years", 0)) == \
        (prod.env.audit.object_lock_mode, prod.env.audit.object_lock_days, 0)


def test_prod_plan_right_after_apply_shows_no_changes(prod: Deployment) -> None:
    result = prod.terraform("plan", "-detailed-exitcode", "-input=false", *prod.targets, check=False)
    assert result.returncode == 0, (f"terraform plan -detailed-exitcode exited {result.returncode} "
                                    f"(2 = changes, 1 = error) right after apply:\n{result.stdout[-6000:]}\n{result.stderr}")


# --- Athena and Glue --------------------------------------------------------------------------


def test_workgroup_enforces_kms_encrypted_results_in_the_results_bucket(dev: Deployment) -> None:
    workgroup = dev.client("athena").get_work_group(WorkGroup=dev.outputs["workgroup"])["WorkGroup"]
    configuration = workgroup["Configuration"]
    assert workgroup["State"] == "ENABLED"
    assert configuration["EnforceWorkGroupConfiguration"] is True
    results = configuration["ResultConfiguration"]
    assert results["EncryptionConfiguration"] == {"EncryptionOption": "SSE_KMS",
                                                  "KmsKey": dev.outputs["data_key_arn"]}
    assert results["OutputLocation"].startswith(f"s3://{dev.env.results_bucket}/")
    assert configuration["BytesScannedCutoffPerQuery"] == dev.env.athena.bytes_scanned_cutoff


def test_the_compaction_schedule_role_workgroup_and_table_are_applied(dev: Deployment) -> None:
    """The schedule (its target: StartQueryExecution as the compaction role), the role's trust,
    the compaction's workgroup and the compact table, read back from the emulator. The emulator
    runs no schedule and no query: the statement's effect is proven in tests/integration/test_analytics.py."""
    env = dev.env
    schedule = dev.client("scheduler").get_schedule(Name=env.names.compaction)
    assert schedule["State"] == "ENABLED" and schedule["ScheduleExpressionTimezone"] == "UTC"
    target = schedule["Target"]
    assert target["Arn"] == f"arn:{env.partition}:scheduler:::aws-sdk:athena:startQueryExecution"
    role = dev.client("iam").get_role(RoleName=env.names.compaction)["Role"]
    assert target["RoleArn"] == role["Arn"]
    assert json.loads(target["Input"])["WorkGroup"] == env.names.compaction
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(urllib.parse.unquote(trust)) if isinstance(trust, str) else trust
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "scheduler.amazonaws.com"}]
    workgroup = dev.client("athena").get_work_group(WorkGroup=env.names.compaction)["WorkGroup"]
    assert workgroup["Configuration"]["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    table = dev.client("glue").get_table(DatabaseName=env.names.database, Name="cloudtrail_compact")["Table"]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["day", "category"]
    assert table["StorageDescriptor"]["Location"] == f"s3://{env.results_bucket}/compact/cloudtrail_compact/"


def test_cloudtrail_table_uses_partition_projection(dev: Deployment) -> None:
    """Every table of the definition, projected on the day and on its regions (the `home` one on
    the stack's region alone), over the trail's logs."""
    glue, definition = dev.client("glue"), tomllib.loads(SCHEMA_FILE.read_text())
    regions = {"projected": list(dev.env.athena.projected_regions), "home": [dev.env.region]}
    listed = {t["Name"] for t in glue.get_tables(DatabaseName=dev.env.names.database)["TableList"]}
    assert listed == {spec["name"] for spec in definition["table"]} | {definition["compact"]["name"]}
    for spec in definition["table"]:
        table = glue.get_table(DatabaseName=dev.env.names.database, Name=spec["name"])["Table"]
        parameters = table["Parameters"]
        assert parameters.get("projection.enabled") == "true", spec["name"]
        template = parameters.get("storage.location.template", "")
        assert template == f"s3://{dev.env.trail_bucket}/AWSLogs/{dev.env.account_id}/CloudTrail/${{region}}/${{timestamp}}"
        assert [key["Name"] for key in table["PartitionKeys"]] == ["region", "timestamp"]
        assert parameters.get("projection.region.values", "").split(",") == regions[spec["regions"]], spec["name"]
        names = [n for n, _ in definition["columns"]] if spec["columns"] == "all" else spec["columns"]
        assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == names, spec["name"]


def test_named_queries_are_the_sql_files(dev: Deployment) -> None:
    """Each query as its file with this environment's names written in, the data key's real ARN
    among them (a reference until apply)."""
    env, athena = dev.env, dev.client("athena")
    ids = athena.list_named_queries(WorkGroup=dev.outputs["workgroup"])["NamedQueryIds"]
    queries = {q["Name"]: q for q in (athena.get_named_query(NamedQueryId=i)["NamedQuery"] for i in ids)}
    assert set(queries) == {path.stem for path in QUERY_FILES}
    for path in QUERY_FILES:
        text = rendered_query(path, env, dev.outputs["data_key_arn"])
        assert "{{" not in text and dev.outputs["data_key_arn"].startswith("arn:"), path.name
        assert queries[path.stem]["QueryString"] == text, path.name
        assert queries[path.stem]["Description"] == text.splitlines()[0].removeprefix("-- "), path.name
        assert queries[path.stem]["Database"] == env.names.database, path.name


# --- IAM --------------------------------------------------------------------------------------


def test_application_role_trusts_services_and_the_account_only_with_mfa(dev: Deployment) -> None:
    iam, name = dev.client("iam"), dev.env.names.role
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Arn"] == dev.outputs["application_role_arn"]
    trust = list(statements_by_sid(role["AssumeRolePolicyDocument"]).values())
    assert all(s["Effect"] == "Allow" and "sts:AssumeRole" in as_list(s["Action"]) for s in trust)
    services = {service for s in trust for service in principals(s, "Service")}
    assert {"ec2.amazonaws.com", "lambda.amazonaws.com"} <= services
    account = [s for s in trust if principals(s, "AWS")]
    assert account, "nothing in the account may assume the role"
    for statement in account:
        assert principals(statement, "AWS") == [f"arn:{dev.env.partition}:iam::{dev.env.account_id}:root"]
        assert condition(statement, "Bool", "aws:MultiFactorAuthPresent") == ["true"], statement
        users = list(dev.env.analyst_user_arns) or [f"arn:{dev.env.partition}:iam::{dev.env.account_id}:user/*"]
        assert condition(statement, "ArnLike", "aws:PrincipalArn") == users, statement

    policies = iam.list_role_policies(RoleName=name)["PolicyNames"]
    assert len(policies) == 1
    permissions = statements_by_sid(iam.get_role_policy(RoleName=name, PolicyName=policies[0])["PolicyDocument"])
    statements = list(permissions.values())
    data_objects = f"arn:{dev.env.partition}:s3:::{dev.env.data_bucket}/*"
    assert any(allows(s, "s3:PutObject", data_objects) for s in statements)
    assert any(allows(s, "s3:GetObject", data_objects) for s in statements)
    workgroup_arn = f"arn:{dev.env.partition}:athena:{dev.env.region}:{dev.env.account_id}:workgroup/{dev.outputs['workgroup']}"
    assert any(allows(s, "athena:StartQueryExecution", workgroup_arn) for s in statements)


def test_analysts_group_may_assume_the_role_with_mfa(dev: Deployment) -> None:
    iam, name = dev.client("iam"), dev.env.names.group
    assert iam.get_group(GroupName=name)["Group"]["GroupName"] == dev.outputs["analysts_group"]
    policies = iam.list_group_policies(GroupName=name)["PolicyNames"]
    assert len(policies) == 1
    statements = statements_by_sid(iam.get_group_policy(GroupName=name, PolicyName=policies[0])["PolicyDocument"])
    assume = [s for s in statements.values() if allows(s, "sts:AssumeRole", dev.outputs["application_role_arn"])]
    assert assume, f"no statement allows sts:AssumeRole on the role; Sids: {sorted(statements)}"
    assert all(condition(s, "Bool", "aws:MultiFactorAuthPresent") == ["true"] for s in assume)


# --- CloudWatch and SNS -----------------------------------------------------------------------


def test_log_group_keeps_a_year_and_uses_the_alerting_key(dev: Deployment) -> None:
    groups = dev.client("logs").describe_log_groups(logGroupNamePrefix=dev.env.names.log_group)["logGroups"]
    assert len(groups) == 1
    assert groups[0].get("retentionInDays") == dev.env.retention.log_group_days
    assert groups[0].get("kmsKeyId") == dev.outputs["alerting_key_arn"]


def test_metric_filters_have_the_exact_patterns(dev: Deployment) -> None:
    """The CIS patterns verbatim; the system's with this environment's bucket and the data key's
    real ARN written in; the key's calls counted in total and by operation."""
    filters = {f["filterName"]: f for f in dev.client("logs").describe_metric_filters(
        logGroupName=dev.env.names.log_group)["metricFilters"]}
    key_calls = {"DataKeyApiCalls", "DataKeyApiCallsByOperation"}
    assert set(filters) == {alarm.name for alarm in ALARMS + SYSTEM_ALARMS} | key_calls
    for alarm in ALARMS:
        assert filters[alarm.name]["filterPattern"] == alarm.pattern, alarm.name
    key_arn = dev.outputs["data_key_arn"]
    apply_role = dev.env.names.apply_role if dev.env.github.repository else None
    filled_with = {"data_bucket": dev.env.data_bucket, "data_key_arn": key_arn,
                   "privileged_principals": f'($.requestParameters.roleName = "{apply_role}")' if apply_role else None}
    for alarm in SYSTEM_ALARMS:
        pattern = filters[alarm.name]["filterPattern"]
        assert "${" not in pattern, (alarm.name, pattern)
        named = [filled_with[p] for p in PLACEHOLDER.findall(alarm.pattern) if filled_with.get(p)]
        assert all(value in pattern for value in named), (alarm.name, pattern)
        assert named or pattern == alarm.pattern, (alarm.name, pattern)
    for name in key_calls:
        usage = filters[name]["filterPattern"]
        assert usage == f'{{ ($.eventSource = "kms.amazonaws.com") && ($.resources[0].ARN = "{key_arn}") }}', usage
    for name, metric_filter in filters.items():
        transformations = metric_filter["metricTransformations"]
        assert [(t["metricName"], t["metricValue"]) for t in transformations] == [(name, "1")], name
    by_operation = filters["DataKeyApiCallsByOperation"]["metricTransformations"][0]
    assert by_operation.get("dimensions") == {"Operation": "$.eventName"}


def _alarms(deployment: Deployment) -> dict[str, dict]:
    return {a["AlarmName"]: a for page in deployment.client("cloudwatch").get_paginator("describe_alarms").paginate()
            for a in page["MetricAlarms"]}


def test_every_alarm_watches_its_filter_metric_and_notifies_the_topic(dev: Deployment) -> None:
    alarms = _alarms(dev)
    filters = {f["filterName"]: f["metricTransformations"][0] for f in dev.client("logs").describe_metric_filters(
        logGroupName=dev.env.names.log_group)["metricFilters"]}
    assert set(alarms) == {alarm.name for alarm in ALARMS + SYSTEM_ALARMS} | OTHER_ALARMS
    for definition in ALARMS + SYSTEM_ALARMS:
        alarm, name = alarms[definition.name], definition.name
        topics = ["alarm_topic_arn", "audit_path_topic_arn"] if definition.notify_audit_path else ["alarm_topic_arn"]
        assert sorted(alarm["AlarmActions"]) == sorted(dev.outputs[t] for t in topics), name
        assert (alarm["MetricName"], alarm["Namespace"]) == \
            (filters[name]["metricName"], filters[name]["metricNamespace"]), name
        expected = (definition.period, definition.evaluation_periods, float(definition.threshold))
        assert (alarm["Statistic"], alarm["ComparisonOperator"]) == ("Sum", "GreaterThanOrEqualToThreshold"), name
        assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["Threshold"]) == expected, name
        assert definition.control in alarm.get("AlarmDescription", ""), name


def test_the_heartbeat_breaches_on_silence_and_notifies_both_topics(dev: Deployment) -> None:
    heartbeat = _alarms(dev)["AuditTrailHeartbeat"]
    both = {dev.outputs["alarm_topic_arn"], dev.outputs["audit_path_topic_arn"]}
    assert (heartbeat["Namespace"], heartbeat["MetricName"]) == ("AWS/Logs", "IncomingLogEvents")
    assert heartbeat["Dimensions"] == [{"Name": "LogGroupName", "Value": dev.env.names.log_group}]
    assert (heartbeat["Period"], heartbeat["ComparisonOperator"], heartbeat["TreatMissingData"]) == \
        (3600, "LessThanThreshold", "breaching")
    assert set(heartbeat["AlarmActions"]) == both and set(heartbeat["OKActions"]) == both


def test_usage_alarms_use_the_environments_thresholds(dev: Deployment) -> None:
    alarms, audit = _alarms(dev), dev.env.audit
    usage = alarms["DataKeyUsage"]
    assert (usage["Namespace"], usage["MetricName"], usage["Threshold"]) == \
        ("SecurityAudit", "DataKeyApiCalls", float(audit.data_key_calls_per_hour))
    scanned = alarms["AthenaBytesScanned"]
    assert scanned["Threshold"] == float(audit.athena_bytes_per_hour)
    queries = {q["Id"]: q for q in scanned["Metrics"]}
    assert queries["total"]["Expression"] == "SUM(METRICS())"
    workgroups = {d["Value"] for q in queries.values() if "MetricStat" in q
                  for d in q["MetricStat"]["Metric"]["Dimensions"] if d["Name"] == "WorkGroup"}
    assert workgroups == {dev.outputs["workgroup"]}


def test_the_compaction_alarms_watch_its_workgroup(dev: Deployment) -> None:
    """A failed or cancelled run alarms; so does a day without a successful run (missing data breaches)."""
    alarms, workgroup = _alarms(dev), dev.env.names.compaction
    missing = alarms["CompactionMissing"]
    assert (missing["Namespace"], missing["MetricName"], missing["Statistic"]) == ("AWS/Athena", "TotalExecutionTime", "SampleCount")
    assert {d["Name"]: d["Value"] for d in missing["Dimensions"]} == {"QueryState": "SUCCEEDED", "QueryType": "DML",
                                                                       "WorkGroup": workgroup}
    assert (missing["Period"], missing["TreatMissingData"], missing["Threshold"]) == (86400, "breaching", 1.0)
    failed = alarms["CompactionFailed"]
    states = {d["Value"] for q in failed["Metrics"] if "MetricStat" in q
              for d in q["MetricStat"]["Metric"]["Dimensions"] if d["Name"] == "QueryState"}
    assert states == {"FAILED", "CANCELED"} and failed["AlarmActions"] == [dev.outputs["alarm_topic_arn"]]


@pytest.mark.parametrize(("topic", "name", "key"), [("alarm_topic_arn", "alarm_topic", "alerting_key_arn"),
                                                    ("audit_path_topic_arn", "audit_path_topic", "data_key_arn")])
def test_each_topic_is_encrypted_with_its_own_key(dev: Deployment, topic: str, name: str, key: str) -> None:
    sns, topic_arn = dev.client("sns"), dev.outputs[topic]
    assert topic_arn.endswith(f":{getattr(dev.env.names, name)}")
    assert topic_arn in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"].get("KmsMasterKeyId") == dev.outputs[key]


def test_the_audit_path_rules_watch_the_real_keys_trail_and_bucket(dev: Deployment) -> None:
    """Each rule of the definitions, as deployed, matches each call it lists when CloudTrail's record
    names the deployed keys (by id or ARN), the trail (by name or ARN) or the trail bucket, and
    targets the audit-path topic."""
    events, kms = dev.client("events"), dev.client("kms")
    rules = {r["Name"]: r for r in events.list_rules(NamePrefix=f"{dev.env.names.audit_path_rules}-")["Rules"]}
    assert set(rules) == {f"{dev.env.names.audit_path_rules}-{rule.name}" for rule in AUDIT_PATH_RULES}
    keys = [kms.describe_key(KeyId=dev.outputs[k])["KeyMetadata"] for k in ("data_key_arn", "alerting_key_arn")]
    watched = {"keys": [v for key in keys for v in (key["KeyId"], key["Arn"])],
               "trail": [dev.env.names.trail, dev.outputs["trail_arn"]], "trail_bucket": [dev.env.trail_bucket]}
    for definition in AUDIT_PATH_RULES:
        name = f"{dev.env.names.audit_path_rules}-{definition.name}"
        assert rules[name]["State"] == "ENABLED", name
        pattern = EventPattern.load(rules[name]["EventPattern"])
        for event_name in definition.event_names:
            for target in watched[definition.watches]:
                event = api_call_event(definition.source, event_name, target, account=dev.env.account_id, region=dev.env.region)
                assert pattern.matches_event(event), (name, event_name, target)
        targets = events.list_targets_by_rule(Rule=name)["Targets"]
        assert [t["Arn"] for t in targets] == [dev.outputs["audit_path_topic_arn"]], name


def test_the_dashboard_shows_metrics_and_alarms_that_exist(dev: Deployment) -> None:
    body = json.loads(dev.client("cloudwatch").get_dashboard(DashboardName=dev.outputs["dashboard_name"])["DashboardBody"])
    widgets = body["widgets"]
    assert widgets, "an empty dashboard"
    alarm_arns = {a["AlarmArn"] for a in _alarms(dev).values()}
    shown = {arn for w in widgets for arn in w["properties"].get("alarms", [])}
    assert shown == alarm_arns, shown ^ alarm_arns
    # A metric line is [namespace, name, dimension, value, ...]; a search is an expression.
    lines = [m for w in widgets for m in w["properties"].get("metrics", [])]
    shown_metrics = {tuple(m[:2]) for m in lines if isinstance(m[0], str)}
    assert ("AWS/Logs", "IncomingLogEvents") in shown_metrics and ("AWS/Athena", "ProcessedBytes") in shown_metrics
    assert any("DataKeyApiCallsByOperation" in m[0].get("expression", "") for m in lines if isinstance(m[0], dict))
    workgroups = {m[m.index("WorkGroup") + 1] for m in lines if "WorkGroup" in m}
    assert workgroups == {dev.outputs["workgroup"]}


# --- teardown: these run last, in this order --------------------------------------------------


# --- plans for review: real plan JSON, the summary, the replacement table --------------------


def _plan_json(dev: Deployment, folder: Path, mutate=None, *, with_state: bool = True, destroy: bool = False) -> dict:
    """Plan a copy of the deployed stack (its state too, unless `with_state` is false), with its
    configuration changed by `mutate`; return `terraform show -json` of the plan. Without a refresh:
    the state is what the apply just read back, and the plan right after the apply proves that a
    refresh finds nothing else."""
    shutil.copytree(dev.workdir, folder, ignore=shutil.ignore_patterns(".terraform", *([] if with_state else ["*.tfstate*"])))
    config = stack_json(folder)
    if mutate:
        mutate(config)
        (folder / "cdk.tf.json").write_text(json.dumps(config))
    terraform(["init", "-input=false"], folder, dev.tf_env)
    terraform(["plan", "-input=false", "-refresh=false", "-out=tfplan", *(["-destroy"] if destroy else [])], folder, dev.tf_env)
    return json.loads(terraform(["show", "-json", "tfplan"], folder, dev.tf_env).stdout)


def _named(config: dict, rtype: str, prefix: str) -> dict:
    (body,) = [b for n, b in config["resource"][rtype].items() if n.rsplit("_", 1)[0] == prefix]
    return body


def _document(config: dict, prefix: str) -> list:
    (body,) = [b for n, b in config["data"]["aws_iam_policy_document"].items() if n.rsplit("_", 1)[0] == prefix]
    return body["statement"]


# Attributes of the replacement table that the stacks set, each changed to a value Terraform accepts.
FORCED = {
    ("aws_s3_bucket", "data-bucket", "bucket"): lambda v: v + "-renamed",
    ("aws_cloudwatch_log_group", "audit-trail_log-group", "name"): lambda v: v + "-renamed",
    ("aws_cloudtrail", "audit-trail", "name"): lambda v: v + "-renamed",
    ("aws_athena_workgroup", "analytics_workgroup", "name"): lambda v: v + "-renamed",
    ("aws_kms_alias", "data-key_alias", "name"): lambda v: v + "-renamed",
    ("aws_iam_role", "access_application-role", "name"): lambda v: v + "Renamed",
    ("aws_sns_topic", "alarm-topic", "name"): lambda v: v + "-renamed",
    ("aws_glue_catalog_database", "analytics_database", "name"): lambda v: v + "_renamed",
    ("aws_kms_key", "alerting-key", "customer_master_key_spec"): lambda v: "RSA_2048",
}
# And some the table does not list: Terraform updates them in place.
IN_PLACE = {
    ("aws_kms_key", "data-key", "description"): lambda v: v + " (changed)",
    ("aws_cloudwatch_log_group", "audit-trail_log-group", "retention_in_days"): lambda v: 731,
    ("aws_iam_role", "access_application-role", "description"): lambda v: v + " (changed)",
    ("aws_athena_workgroup", "analytics_workgroup", "description"): lambda v: v + " (changed)",
}


@pytest.fixture(scope="module")
def review_plans(dev: Deployment, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Real plans of the deployed stack, side by side: from empty, with changes in place and
    replacements, with a widened policy and trust, a destroy, and the same environment with Object
    Lock turned on (off, when it is on)."""
    root = tmp_path_factory.mktemp("review-plans")

    def change(config: dict) -> None:
        for table in (FORCED, IN_PLACE):
            for (rtype, prefix, attribute), new in table.items():
                body = _named(config, rtype, prefix)
                body[attribute] = new(body[attribute])
        trust = _document(config, "access_application-role_trust_document")
        trust[0]["principals"][0]["identifiers"].append("ecs-tasks.amazonaws.com")

    def widen(config: dict) -> None:  # alone: a plan reads no policy that depends on a changing resource
        _document(config, "access_application-role_permissions_document").append(
            {"sid": "Everything", "effect": "Allow", "actions": ["s3:*"], "resources": ["*"]})

    plans = {"empty": {"with_state": False}, "changed": {"mutate": change}, "widened": {"mutate": widen},
             "destroy": {"destroy": True}}
    with ThreadPoolExecutor(max_workers=len(plans) + 1) as pool:  # each plans its own copy
        futures = {name: pool.submit(_plan_json, dev, root / name, **options) for name, options in plans.items()}
        toggled = object_lock_toggled(dev.env, root / "object-lock-synth")  # synthesized meanwhile

        def toggle(config: dict) -> None:
            config.clear()
            config.update(toggled)
        futures["object_lock_toggled"] = pool.submit(_plan_json, dev, root / "object-lock", toggle)
    return {name: future.result() for name, future in futures.items()}


def object_lock_toggled(env: Environment, outdir: Path) -> dict:
    """`env`'s stack with Object Lock turned on (off, when it is on)."""
    from cdktf import Testing  # noqa: PLC0415 - the slow import

    from stacks.app import build_app  # noqa: PLC0415

    mode = "" if env.audit.object_lock_mode else "GOVERNANCE"
    app = build_app([dataclasses.replace(env, audit=dataclasses.replace(env.audit, object_lock_mode=mode))], outdir)
    app.synth()
    (stack,) = [child for child in app.node.children if child.node.id == env.name]
    return json.loads(Testing.synth(stack, True))


def test_turning_object_lock_on_or_off_leaves_the_trail_bucket_in_place(dev: Deployment, review_plans) -> None:
    """dev as deployed, planned with the same environment but Object Lock turned on (off, when it
    is on): only the lock is added (removed); the trail bucket stays (AWS enables Object Lock on a
    versioned bucket)."""
    turned_on = not dev.env.audit.object_lock_mode
    changes = _changes(review_plans["object_lock_toggled"])
    changed = {address: change["actions"] for address, change in changes.items() if change["actions"] != ["no-op"]}
    (lock,) = [a for a in changed if a.startswith("aws_s3_bucket_object_lock_configuration.")]
    assert changed[lock] == (["create"] if turned_on else ["delete"])
    assert not [a for a, actions in changed.items() if "delete" in actions and a != lock], changed
    trail_bucket = [a for a in changes if a.startswith("aws_s3_bucket.trail-bucket")]
    assert trail_bucket and changes[trail_bucket[0]]["actions"] == ["no-op"], changed


def _changes(plan: dict) -> dict[str, dict]:
    return {c["address"]: c["change"] for c in plan["resource_changes"] if c["mode"] == "managed"}


def test_the_replacement_table_matches_terraforms_plans(review_plans) -> None:
    changes = _changes(review_plans["changed"])
    table = replacement_attributes()
    for expected_replace, entries in ((True, FORCED), (False, IN_PLACE)):
        for rtype, prefix, attribute in entries:
            (address,) = [a for a in changes if a.startswith(f"{rtype}.") and a.split(".", 1)[1].rsplit("_", 1)[0] == prefix]
            replace_paths = [".".join(map(str, p)) for p in changes[address].get("replace_paths") or []]
            assert (attribute in replace_paths) is expected_replace, (address, attribute, replace_paths)
            assert (attribute in table[rtype]) is expected_replace, f"{rtype}.{attribute}: fix definitions/data/replacement_attributes.toml"


def test_the_summary_of_a_plan_from_empty_counts_every_resource(review_plans) -> None:
    plan = review_plans["empty"]
    report = plan_summary.summary("dev", plan)
    creates = sum(1 for c in _changes(plan).values() if c["actions"] == ["create"])
    assert creates == len(_changes(plan)) > 50
    assert f"{creates} to add · 0 to change · 0 to replace · 0 to destroy" in report
    # Nothing is destroyed or turned off; what a new policy grants to any principal is still said.
    open_statements = sorted(
        (address, statement.get("Sid")) for address, change in _changes(plan).items()
        if isinstance((change["after"] or {}).get("policy"), str)
        for statement in json.loads(change["after"]["policy"])["Statement"]
        if statement["Effect"] == "Allow" and statement.get("Principal") in ("*", {"AWS": "*"}, {"AWS": ["*"]}))
    dangers = [line for line in report.split("\n### dev", 1)[0].splitlines() if line.startswith("- **dev**")]
    assert sorted((d.split("`")[1], d.split("statement ", 1)[1].split(" ", 1)[0]) for d in dangers) == open_statements


def test_the_summary_of_changes_puts_the_dangerous_ones_first(review_plans) -> None:
    report = plan_summary.summary("dev", review_plans["changed"])
    dangerous, rest = report.split("### Dangerous changes", 1)[1].split("\n### dev", 1)
    bucket = [a for a in _changes(review_plans["changed"]) if a.startswith("aws_s3_bucket.data-bucket")][0]
    assert f"`{bucket}`: replaced (forced by bucket)" in dangerous
    assert "trust widened: statement TrustServices now trusts Service ecs-tasks.amazonaws.com" in dangerous
    # Policies that name a resource being replaced are read at apply: the summary says so.
    assert "`policy (known after apply)`" in rest
    log_group_retention = [a for a in _changes(review_plans["changed"]) if a.startswith("aws_cloudwatch_log_metric_filter")]
    assert log_group_retention, "dependent resources appear in the table too"
    assert "| replaced | `" + bucket + "` |" in rest
    assert "| changed | `" in rest and "`description`" in rest


def test_the_summary_of_a_widened_policy(review_plans) -> None:
    plan = review_plans["widened"]
    report = plan_summary.summary("dev", plan)
    assert "0 to add · 1 to change · 0 to replace · 0 to destroy" in report
    dangerous = report.split("### Dangerous changes", 1)[1].split("\n### ", 1)[0]
    permissions = [a for a in _changes(plan) if a.startswith("aws_iam_role_policy.access_application-role")][0]
    assert dangerous.strip() == f"- **dev** `{permissions}`: statement Everything now allows s3:*"
    assert "- statement Everything added (Allow)" in report


def test_the_summary_of_a_destroy_lists_every_stateful_resource_as_dangerous(review_plans) -> None:
    plan = review_plans["destroy"]
    report = plan_summary.summary("dev", plan)
    stateful = [a for a, c in _changes(plan).items() if a.split(".")[0] in STATEFUL_TYPES]
    assert len(stateful) >= 6  # two keys, three buckets, the trail, the log group
    dangerous = report.split("### Dangerous changes", 1)[1].split("\n### ", 1)[0]
    # One cause, many consequences: the destroyed resources share one line.
    (destroyed,) = [line for line in dangerous.splitlines() if line.endswith(": destroyed")]
    for address in stateful:
        assert f"`{address}`" in destroyed
    assert f"0 to add · 0 to change · 0 to replace · {len(_changes(plan))} to destroy" in report


def recorded_requests(recording: Path, operation: str) -> list[dict]:
    """Bodies of the JSON-protocol requests for `operation` that the emulator recorded."""
    bodies = []
    for line in recording.read_text().splitlines() if recording.exists() else []:
        entry = json.loads(line)
        target = {k.lower(): v for k, v in entry["headers"].items()}.get("x-amz-target", "")
        if target.endswith(f".{operation}"):
            body = base64.b64decode(entry["body"]) if entry.get("body_encoded") else entry["body"]
            bodies.append(json.loads(body or "{}"))
    return bodies


def test_destroy_after_emptying_the_versioned_buckets(dev: Deployment) -> None:
    s3 = dev.client("s3")
    for bucket in (dev.env.data_bucket, dev.env.trail_bucket, dev.env.results_bucket):
        empty_versioned_bucket(s3, bucket)
        listing = s3.list_object_versions(Bucket=bucket)
        assert not listing.get("Versions") and not listing.get("DeleteMarkers"), f"{bucket} is not empty"
    dev.moto_api("recorder/start-recording")
    try:  # the access-log bucket last, emptied once the buckets that log into it are gone
        destroy_stack(dev.workdir, dev.tf_env, last=[ACCESS_LOG_BUCKET_ID],
                      before_last=lambda: dev.env.audit.access_logs and empty_versioned_bucket(s3, dev.env.access_log_bucket))
    finally:
        dev.moto_api("recorder/stop-recording")
    left = dev.terraform("state", "list").stdout.split()
    assert left == [], f"terraform state still lists {left}"
    dev.destroyed = True


def _require_destroyed(dev: Deployment) -> None:
    if not dev.destroyed:
        pytest.fail("terraform destroy did not complete (test_destroy_after_emptying_the_versioned_buckets)",
                    pytrace=False)


def test_nothing_is_left_after_destroy(dev: Deployment) -> None:
    _require_destroyed(dev)
    names, outputs = dev.env.names, dev.outputs
    buckets = {b["Name"] for b in dev.client("s3").list_buckets()["Buckets"]}
    assert not buckets & {dev.env.data_bucket, dev.env.results_bucket, dev.env.trail_bucket, dev.env.access_log_bucket}, buckets
    assert "LoggingEnabled" not in dev.client("s3").get_bucket_logging(Bucket=dev.env.state.bucket)
    iam = dev.client("iam")
    assert not {r["RoleName"] for r in iam.list_roles()["Roles"]} & {names.role, names.trail_logs_role}
    assert names.group not in {g["GroupName"] for g in iam.list_groups()["Groups"]}
    assert names.workgroup not in {w["Name"] for w in dev.client("athena").list_work_groups()["WorkGroups"]}
    assert names.database not in {d["Name"] for d in dev.client("glue").get_databases()["DatabaseList"]}
    assert dev.client("logs").describe_log_groups(logGroupNamePrefix=names.log_group)["logGroups"] == []
    topics = {t["TopicArn"] for t in dev.client("sns").list_topics()["Topics"]}
    assert not topics & {outputs["alarm_topic_arn"], outputs["audit_path_topic_arn"]}
    assert not {a["AlarmName"] for a in dev.client("cloudwatch").describe_alarms()["MetricAlarms"]} & \
        ({alarm.name for alarm in ALARMS + SYSTEM_ALARMS} | OTHER_ALARMS)
    assert dev.client("events").list_rules(NamePrefix=f"{names.audit_path_rules}-")["Rules"] == []
    assert dev.client("cloudwatch").list_dashboards(DashboardNamePrefix=names.dashboard)["DashboardEntries"] == []

    # The trail: moto 5.2 ignores DeleteTrail given an ARN (it looks trails up by name), and the
    # provider deletes by ARN, so the emulator keeps listing it. The proof is the request it got.
    deletions = recorded_requests(dev.recording, "DeleteTrail")
    assert {"Name": outputs["trail_arn"]} in deletions, f"no DeleteTrail for {outputs['trail_arn']}: {deletions}"
    trails = {t["TrailARN"] for t in dev.client("cloudtrail").list_trails()["Trails"]}
    assert trails <= {outputs["trail_arn"]}, trails


def test_both_keys_are_pending_deletion_after_destroy(dev: Deployment) -> None:
    _require_destroyed(dev)
    kms = dev.client("kms")
    for output in ("data_key_arn", "alerting_key_arn"):
        assert kms.describe_key(KeyId=dev.outputs[output])["KeyMetadata"]["KeyState"] == "PendingDeletion", output
    aliases = {a["AliasName"] for a in kms.list_aliases()["Aliases"]}
    assert not aliases & {dev.env.names.key_alias, dev.env.names.alerting_key_alias}, aliases


# --- prod's guardrail -------------------------------------------------------------------------


def test_prod_refuses_to_plan_destroying_its_protected_resources(prod: Deployment) -> None:
    resources = stack_json(prod.workdir)["resource"]
    protected = {f"{rtype}.{name}": body for rtype, by_name in resources.items() for name, body in by_name.items()
                 if body.get("lifecycle", {}).get("prevent_destroy") is True}
    # What prod protects: every KMS key, the trail and its log group, and the data, trail and
    # access-log buckets with what keeps them safe (policy, versioning, encryption, public access
    # block, the trail bucket's Object Lock); not the results bucket.
    kept = {prod.env.data_bucket, prod.env.trail_bucket} | ({prod.env.access_log_bucket} if prod.env.audit.access_logs else set())
    assert {a for a in protected if a.startswith("aws_kms_key.")} == {f"aws_kms_key.{n}" for n in resources["aws_kms_key"]}
    assert {body["bucket"] for a, body in protected.items() if a.startswith("aws_s3_bucket.")} == kept
    assert {a.split(".")[0] for a in protected} == {
        "aws_kms_key", "aws_s3_bucket", "aws_cloudtrail", "aws_cloudwatch_log_group", "aws_s3_bucket_policy",
        "aws_s3_bucket_versioning", "aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_public_access_block",
        *(["aws_s3_bucket_object_lock_configuration"] if prod.env.audit.object_lock_mode else [])}
    assert sum(a.startswith("aws_s3_bucket_policy.") for a in protected) == len(kept)
    # The stack really is deployed: the refusal below is not about an empty state.
    assert kept <= {b["Name"] for b in prod.client("s3").list_buckets()["Buckets"]}

    result = prod.terraform("plan", "-destroy", "-input=false", *prod.targets, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 1, f"terraform plan -destroy exited {result.returncode} on prod:\n{output[-4000:]}"
    # Terraform stops walking the graph at the first refusals (dependents are destroyed first), so
    # it names some of the protected resources, and never another one.
    named = set(re.findall(r"Resource\s+(\S+)\s+has\s+lifecycle\.prevent_destroy", output))
    assert named and named <= set(protected), (named - set(protected), output[-4000:])
    assert output.count("Instance cannot be destroyed") == len(named), output[-4000:]
