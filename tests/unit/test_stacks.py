"""What every environment's stacks synthesize to, asserted on the synthesized JSON (cdktf
Testing helpers), never on the Python that built it."""

from __future__ import annotations

import fnmatch
import json
import tomllib

import pytest
from cdktf import Testing as CdktfTesting

from definitions.naming import dns_suffix
from definitions.paths import QUERIES_DIR, ROOT
from modules.foundation.policy import sid_part
from tests.stack_queries import address, by_sid, conditions, one, principals, ref, resources, statements
from tests.support import ENV_NAMES, environment, rendered_query

BUCKETS = ("data-bucket", "results-bucket", "trail-bucket")
ALARMS = tomllib.loads((ROOT / "definitions/data/security_alarms.toml").read_text())["alarm"]

pytestmark = pytest.mark.parametrize("name", ENV_NAMES)


def has(testing_synth: dict[str, str], stack: str, rtype: str, properties: dict) -> None:
    assert CdktfTesting.to_have_resource_with_properties(testing_synth[stack], rtype, properties), (rtype, properties)


def bucket_names(name: str) -> dict[str, str]:
    env = environment(name)
    return {"data-bucket": env.data_bucket, "results-bucket": env.results_bucket, "trail-bucket": env.trail_bucket}


# --- KMS ---------------------------------------------------------------------------------------


def test_keys_are_symmetric_rotated_and_aliased(name, testing_synth, stacks):
    env, stack = environment(name), stacks[name]
    for key, alias in (("data-key", env.names.key_alias), ("alerting-key", env.names.alerting_key_alias)):
        has(testing_synth, name, "aws_kms_key", {
            "enable_key_rotation": True, "key_usage": "ENCRYPT_DECRYPT", "customer_master_key_spec": "SYMMETRIC_DEFAULT",
            "deletion_window_in_days": env.key_deletion_window_days,
        })
        assert one(stack, "aws_kms_key", key)["enable_key_rotation"] is True
        assert one(stack, "aws_kms_alias", f"{key}_alias") == {
            "name": alias, "target_key_id": ref(stack, "aws_kms_key", key, "key_id")}
    assert len(resources(stack, "aws_kms_key")) == 2


def role_arn_ref(stack: dict) -> str:
    return ref(stack, "aws_iam_role", "access_application-role", "arn")


def test_data_key_policy_admits_root_s3_cloudtrail_and_the_role(name, stacks):
    env, stack = environment(name), stacks[name]
    policy = by_sid(statements(stack, one(stack, "aws_kms_key", "data-key")["policy"]))
    root = f"arn:{env.partition}:iam::{env.account_id}:root"
    assert principals(policy["EnableRootAccountAndIamPolicies"]) == {"AWS": [root]}
    trail_arn = f"arn:{env.partition}:cloudtrail:{env.region}:{env.account_id}:trail/{env.names.trail}"
    any_trail = f"arn:{env.partition}:cloudtrail:*:{env.account_id}:trail/*"
    encrypt = policy["AllowCloudTrailEncryptLogs"]
    assert principals(encrypt) == {"Service": ["cloudtrail.amazonaws.com"]}
    assert encrypt["actions"] == ["kms:GenerateDataKey*"]
    assert conditions(encrypt) == {
        ("StringEquals", "aws:SourceArn"): [trail_arn],
        ("StringLike", "kms:EncryptionContext:aws:cloudtrail:arn"): [any_trail],
    }
    assert set(policy["AllowCloudTrailDescribeAndDecrypt"]["actions"]) == {"kms:DescribeKey", "kms:Decrypt"}
    # The seed's "S3 service to use the key": named so, for the principals the buckets grant, only through S3.
    via_s3 = f"s3.{env.region}.{dns_suffix(env.partition)}"
    role_statements = {sid: s for sid, s in policy.items() if principals(s).get("AWS") == [role_arn_ref(stack)]}
    role = sid_part(env.names.role)
    assert set(role_statements) == {f"S3ServiceUseReadWriteDataBucketFor{role}", f"S3ServiceUseReadWriteResultsBucketFor{role}",
                                    f"S3ServiceUseReadResultsBucketFor{role}", f"S3ServiceUseReadTrailBucketFor{role}"}
    for sid, statement in role_statements.items():
        assert conditions(statement)[("StringEquals", "kms:ViaService")] == [via_s3], sid
        assert set(statement["actions"]) <= {"kms:Decrypt", "kms:GenerateDataKey"}, sid  # what S3 calls, nothing more
    logs = role_statements[f"S3ServiceUseReadTrailBucketFor{role}"]
    assert logs["actions"] == ["kms:Decrypt"]
    assert conditions(logs)[("StringLike", "kms:EncryptionContext:aws:cloudtrail:arn")] == [any_trail]


def test_data_key_cryptography_is_denied_to_all_but_its_grantees_through_s3(name, stacks):
    """The root statement delegates kms:* to IAM; the denies keep cryptography to the role the key
    grants (through S3 only), break-glass and the root, and leave AWS services to their own statements."""
    env, stack = environment(name), stacks[name]
    policy = by_sid(statements(stack, one(stack, "aws_kms_key", "data-key")["policy"]))
    crypto = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
    others, outside_s3 = policy["DenyUseButGranteesBreakGlassAndRoot"], policy["DenyGranteesUseOutsideS3"]
    for deny in (others, outside_s3):
        assert (deny["effect"], deny["actions"], principals(deny)) == ("Deny", crypto, {"*": ["*"]})
    root = f"arn:{env.partition}:iam::{env.account_id}:root"
    # With direct Athena, the analysts' group reads the trail logs through S3: its members are callers.
    analysts = (list(env.analyst_user_arns) or [f"arn:{env.partition}:iam::{env.account_id}:user/*"]) if env.analysts_direct_athena else []
    # The compaction's role reads the logs and writes the compact table through S3.
    grantees = [ref(stack, "aws_iam_role", "compaction_role", "arn"), role_arn_ref(stack), *analysts]
    assert conditions(others) == {("ArnNotLike", "aws:PrincipalArn"): [root, *env.break_glass_arns, *grantees],
                                  ("BoolIfExists", "aws:PrincipalIsAWSService"): ["false"]}
    assert conditions(outside_s3) == {("ArnLike", "aws:PrincipalArn"): grantees,
                                      ("StringNotEquals", "kms:ViaService"): [f"s3.{env.region}.{dns_suffix(env.partition)}"]}
    alerting = by_sid(statements(stack, one(stack, "aws_kms_key", "alerting-key")["policy"]))
    assert "DenyUseButGranteesBreakGlassAndRoot" not in alerting  # CloudWatch Logs and alarms use it as services


@pytest.mark.parametrize("key", ["data-key", "alerting-key", "state-key"])
def test_no_key_policy_lets_any_principal_use_a_key(name, key, stacks):
    env = environment(name)
    stack = stacks[env.bootstrap_stack if key == "state-key" else name]
    for statement in statements(stack, one(stack, "aws_kms_key", key)["policy"]):
        if statement["effect"] == "Allow":
            assert "*" not in principals(statement).get("AWS", []) and "*" not in principals(statement), statement["sid"]
            if statement["sid"] != "EnableRootAccountAndIamPolicies":
                assert "kms:*" not in statement["actions"], statement["sid"]
            if "AWS" in principals(statement) and statement["sid"] != "EnableRootAccountAndIamPolicies":
                # Principals use the key through S3, which calls GenerateDataKey and Decrypt only.
                assert set(statement["actions"]) <= {"kms:Decrypt", "kms:GenerateDataKey"} or \
                    statement["sid"] == "AllowKeyAdministration", statement["sid"]


@pytest.mark.parametrize("key", ["data-key", "alerting-key", "state-key"])
def test_break_glass_alone_may_disable_or_delete_a_key(name, key, stacks):
    env = environment(name)
    stack = stacks[env.bootstrap_stack if key == "state-key" else name]
    found = by_sid(statements(stack, one(stack, "aws_kms_key", key)["policy"]))
    kill, rewrite = found.get("DenyDisablingOrDeletionButBreakGlass"), found.get("DenyKeyPolicyChangesButBreakGlassAndDeployers")
    if not env.break_glass_arns:
        assert kill is None and rewrite is None
        return
    assert (kill["effect"], sorted(kill["actions"]), principals(kill)) == ("Deny", ["kms:DisableKey", "kms:ScheduleKeyDeletion"],
                                                                          {"*": ["*"]})
    assert conditions(kill) == {("ArnNotEquals", "aws:PrincipalArn"): list(env.break_glass_arns)}
    apply_role = [f"arn:{env.partition}:iam::{env.account_id}:role/{env.names.apply_role}"] if env.github.repository else []
    assert (rewrite["effect"], rewrite["actions"]) == ("Deny", ["kms:PutKeyPolicy"])
    assert conditions(rewrite) == {("ArnNotEquals", "aws:PrincipalArn"): [*env.break_glass_arns, *env.deployer_arns, *apply_role]}


def test_key_administrators_manage_but_cannot_use_the_key(name, stacks):
    env, stack = environment(name), stacks[name]
    policy = by_sid(statements(stack, one(stack, "aws_kms_key", "data-key")["policy"]))
    if not env.key_admin_arns:
        assert "AllowKeyAdministration" not in policy
        return
    admin = policy["AllowKeyAdministration"]
    assert principals(admin) == {"AWS": list(env.key_admin_arns)}
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:*"} & set(admin["actions"])


# --- S3 ----------------------------------------------------------------------------------------


def test_buckets_are_named_from_the_prefix(name, testing_synth, stacks):
    for bucket, bucket_name in bucket_names(name).items():
        has(testing_synth, name, "aws_s3_bucket", {"bucket": bucket_name})
        assert one(stacks[name], "aws_s3_bucket", bucket)["bucket"] == bucket_name
    assert bucket_names(name)["data-bucket"] == f"{environment(name).company_prefix}-encrypted-data"


def test_buckets_default_to_sse_kms_with_the_data_key_and_bucket_keys(name, testing_synth, stacks):
    stack = stacks[name]
    key_arn = ref(stack, "aws_kms_key", "data-key", "arn")
    for bucket in BUCKETS:
        config = one(stack, "aws_s3_bucket_server_side_encryption_configuration", f"{bucket}_encryption")
        assert config["bucket"] == ref(stack, "aws_s3_bucket", bucket, "id")
        assert config["rule"] == [{"apply_server_side_encryption_by_default": {
            "sse_algorithm": "aws:kms", "kms_master_key_id": key_arn}, "bucket_key_enabled": True}]
    has(testing_synth, name, "aws_s3_bucket_server_side_encryption_configuration", {
        "rule": [{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key_arn},
                  "bucket_key_enabled": True}]})


def test_versioning_on_data_and_trail_buckets_only(name, stacks):
    stack = stacks[name]
    for bucket in ("data-bucket", "trail-bucket"):
        versioning = one(stack, "aws_s3_bucket_versioning", f"{bucket}_versioning")
        assert versioning["versioning_configuration"] == {"status": "Enabled"}
    assert not [n for n in resources(stack, "aws_s3_bucket_versioning") if n.startswith("results-bucket")]


def test_public_access_blocked_and_acls_disabled(name, testing_synth, stacks):
    stack = stacks[name]
    block = {"block_public_acls": True, "block_public_policy": True, "ignore_public_acls": True,
             "restrict_public_buckets": True}
    has(testing_synth, name, "aws_s3_bucket_public_access_block", block)
    for bucket in BUCKETS:
        assert one(stack, "aws_s3_bucket_public_access_block", f"{bucket}_public-access-block").items() >= block.items()
        assert one(stack, "aws_s3_bucket_ownership_controls", f"{bucket}_ownership")["rule"] == {
            "object_ownership": "BucketOwnerEnforced"}


def test_lifecycle_rules_follow_the_retention_settings(name, stacks):
    env, stack = environment(name), stacks[name]
    retention = env.retention

    def rules(bucket: str) -> dict[str, dict]:
        return {r["id"]: r for r in one(stack, "aws_s3_bucket_lifecycle_configuration", f"{bucket}_lifecycle")["rule"]}

    for bucket in BUCKETS:
        abort = rules(bucket)["abort-incomplete-uploads"]
        assert abort["abort_incomplete_multipart_upload"] == [{"days_after_initiation": retention.incomplete_upload_days}]
        assert abort["status"] == "Enabled"
    assert rules("data-bucket")["expire-noncurrent-versions"]["noncurrent_version_expiration"] == [
        {"noncurrent_days": retention.data_noncurrent_version_days}]
    assert rules("results-bucket")["expire-query-results"]["expiration"] == [{"days": retention.athena_results_days}]
    logs = rules("trail-bucket")["age-out-logs"]
    assert logs["transition"] == [
        {"days": retention.trail_logs_infrequent_access_days, "storage_class": "STANDARD_IA"},
        {"days": retention.trail_logs_glacier_days, "storage_class": "GLACIER"}]
    assert logs["expiration"] == [{"days": retention.trail_logs_expire_days}]
    assert logs["noncurrent_version_expiration"] == [{"noncurrent_days": retention.trail_noncurrent_version_days}]


def test_bucket_policies_deny_plain_http_and_foreign_encryption(name, stacks):
    env, stack = environment(name), stacks[name]
    for bucket, bucket_name in bucket_names(name).items():
        policy = one(stack, "aws_s3_bucket_policy", f"{bucket}_bucket-policy")
        # Named through the access block: S3 refuses a policy change while the block changes.
        assert policy["bucket"] == ref(stack, "aws_s3_bucket_public_access_block", f"{bucket}_public-access-block", "bucket")
        found = by_sid(statements(stack, policy["policy"]))
        arn = f"arn:{env.partition}:s3:::{bucket_name}"
        tls = found["DenyInsecureTransport"]
        assert (tls["effect"], tls["actions"], tls["resources"]) == ("Deny", ["s3:*"], [arn, f"{arn}/*"])
        assert conditions(tls) == {("Bool", "aws:SecureTransport"): ["false"]}
        objects = f"{arn}/AWSLogs/{env.account_id}/CloudTrail/*" if bucket == "trail-bucket" else f"{arn}/*"
        non_kms, other_key, default_key = (found[sid] for sid in ("DenyNonKmsEncryption", "DenyOtherKmsKeys", "DenyKmsWithoutThisKey"))
        assert non_kms["resources"] == other_key["resources"] == default_key["resources"] == [objects]
        assert non_kms["actions"] == other_key["actions"] == default_key["actions"] == ["s3:PutObject"]
        sse, sse_key = "s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id"
        # Each deny needs its header present: a plain upload takes the default encryption.
        assert conditions(non_kms) == {("StringNotEquals", sse): ["aws:kms"], ("Null", sse): ["false"]}
        assert conditions(other_key) == {
            ("StringNotEquals", sse_key): [ref(stack, "aws_kms_key", "data-key", "arn"),
                                           f"arn:{env.partition}:kms:{env.region}:{env.account_id}:{env.names.key_alias}"],
            ("Null", sse_key): ["false"]}
        assert conditions(default_key) == {("StringEquals", sse): ["aws:kms"], ("Null", sse_key): ["true"]}


def test_data_bucket_admits_to_objects_only_granted_principals_and_break_glass(name, stacks):
    env, stack = environment(name), stacks[name]
    found = by_sid(statements(stack, one(stack, "aws_s3_bucket_policy", "data-bucket_bucket-policy")["policy"]))
    objects, listing = found["DenyObjectAccessToOthers"], found["DenyListingToOthers"]
    arn = f"arn:{env.partition}:s3:::{env.data_bucket}"
    assert objects["effect"] == listing["effect"] == "Deny"
    assert objects["resources"] == [arn, f"{arn}/*"] and listing["resources"] == [arn]
    # Every object action and every listing: reading, writing, tagging, attributes, restoring.
    for action in ("s3:GetObject", "s3:GetObjectAttributes", "s3:GetObjectTagging", "s3:PutObjectTagging", "s3:RestoreObject",
                   "s3:ListBucketVersions", "s3:ListBucketMultipartUploads", "s3:DeleteObjectVersion"):
        assert any(fnmatch.fnmatchcase(action, pattern) for pattern in objects["actions"]), action
    assert listing["actions"] == ["s3:ListBucket"]
    ci = [f"arn:{env.partition}:iam::{env.account_id}:role/{role}" for role in (env.names.apply_role, env.names.plan_role)
          ] if env.github.repository else []
    # A deployer (an administrator, often) reads no object: only the application role and break-glass do.
    assert conditions(objects) == {("ArnNotEquals", "aws:PrincipalArn"): [*env.break_glass_arns, role_arn_ref(stack)]}
    # Terraform reads the bucket with HeadBucket (s3:ListBucket): those who run it may list, nothing more.
    assert conditions(listing) == {("ArnNotEquals", "aws:PrincipalArn"): [
        *env.break_glass_arns, role_arn_ref(stack), *env.deployer_arns, *ci]}


@pytest.mark.parametrize(("bucket", "prefix"), [("trail-bucket", "AWSLogs/{account}/"), ("access-log-bucket", "")])
def test_with_break_glass_no_one_else_deletes_logs_or_their_lock(name, bucket, prefix, stacks):
    env, stack = environment(name), stacks[name]
    if bucket == "access-log-bucket" and not env.audit.access_logs:
        return
    policy = one(stack, "aws_s3_bucket_policy", f"{bucket}_bucket-policy")
    deny = by_sid(statements(stack, policy["policy"])).get("DenyDeletionButBreakGlass")
    if not env.break_glass_arns:
        assert deny is None
        return
    assert deny["actions"] == ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention", "s3:PutObjectRetention"]
    arn = f"arn:{env.partition}:s3:::{one(stack, 'aws_s3_bucket', bucket)['bucket']}"
    assert deny["resources"] == [f"{arn}/{prefix.format(account=env.account_id)}*"]
    assert conditions(deny) == {("ArnNotEquals", "aws:PrincipalArn"): list(env.break_glass_arns)}


# --- CloudTrail --------------------------------------------------------------------------------


def test_trail_records_everything_into_its_bucket(name, testing_synth, stacks):
    env, stack = environment(name), stacks[name]
    has(testing_synth, name, "aws_cloudtrail", {
        "name": env.names.trail, "is_multi_region_trail": True, "include_global_service_events": True,
        "enable_log_file_validation": True, "enable_logging": True})
    trail = one(stack, "aws_cloudtrail", "audit-trail")
    assert trail["kms_key_id"] == ref(stack, "aws_kms_key", "data-key", "arn")
    assert trail["cloud_watch_logs_group_arn"] == ref(stack, "aws_cloudwatch_log_group", "audit-trail_log-group", "arn") + ":*"


def test_trail_comes_after_the_policies_that_admit_it(name, stacks):
    env, stack = environment(name), stacks[name]
    trail = one(stack, "aws_cloudtrail", "audit-trail")
    assert "depends_on" not in trail  # references order it; cdktf renders depends_on badly in HCL
    assert trail["s3_bucket_name"] == ref(stack, "aws_s3_bucket_policy", "trail-bucket_bucket-policy", "bucket")
    assert trail["kms_key_id"] == ref(stack, "aws_kms_key", "data-key", "arn")
    role = ref(stack, "aws_iam_role_policy", "audit-trail_logs-role_policy", "role")
    assert trail["cloud_watch_logs_role_arn"] == f"arn:{env.partition}:iam::{env.account_id}:role/{role}"


def test_trail_bucket_policy_admits_cloudtrail_for_this_trail_only(name, stacks):
    env, stack = environment(name), stacks[name]
    trail_arn = f"arn:{env.partition}:cloudtrail:{env.region}:{env.account_id}:trail/{env.names.trail}"
    found = by_sid(statements(stack, one(stack, "aws_s3_bucket_policy", "trail-bucket_bucket-policy")["policy"]))
    bucket_arn = f"arn:{env.partition}:s3:::{env.trail_bucket}"
    acl = found["AllowCloudTrailAclCheck"]
    assert (acl["actions"], acl["resources"]) == (["s3:GetBucketAcl"], [bucket_arn])
    assert conditions(acl) == {("StringEquals", "aws:SourceArn"): [trail_arn]}
    write = found["AllowCloudTrailWrite"]
    assert write["resources"] == [f"{bucket_arn}/AWSLogs/{env.account_id}/*"]
    assert conditions(write) == {("StringEquals", "aws:SourceArn"): [trail_arn],
                                 ("StringEquals", "s3:x-amz-acl"): ["bucket-owner-full-control"]}
    assert principals(write) == {"Service": ["cloudtrail.amazonaws.com"]}


def test_trail_delivers_to_an_encrypted_log_group_with_its_own_key(name, stacks):
    env, stack = environment(name), stacks[name]
    group = one(stack, "aws_cloudwatch_log_group", "audit-trail_log-group")
    assert {k: v for k, v in group.items() if k != "lifecycle"} == {
        "name": env.names.log_group, "retention_in_days": env.retention.log_group_days,
        "kms_key_id": ref(stack, "aws_kms_key", "alerting-key", "arn")}
    alerting = by_sid(statements(stack, one(stack, "aws_kms_key", "alerting-key")["policy"]))
    logs = alerting["AllowCloudWatchLogs"]
    assert principals(logs) == {"Service": [f"logs.{env.region}.{dns_suffix(env.partition)}"]}
    assert conditions(logs) == {("ArnEquals", "kms:EncryptionContext:aws:logs:arn"): [
        f"arn:{env.partition}:logs:{env.region}:{env.account_id}:log-group:{env.names.log_group}"]}


# --- Athena ------------------------------------------------------------------------------------


def test_workgroup_enforces_kms_encrypted_results(name, testing_synth, stacks):
    env, stack = environment(name), stacks[name]
    key_arn = ref(stack, "aws_kms_key", "data-key", "arn")
    has(testing_synth, name, "aws_athena_workgroup", {"name": env.names.workgroup, "configuration": {
        "enforce_workgroup_configuration": True,
        "bytes_scanned_cutoff_per_query": env.athena.bytes_scanned_cutoff,
        # The queries are written in engine 3's dialect: pinned, not left to Athena's automatic upgrades.
        "engine_version": {"selected_engine_version": "Athena engine version 3"},
        "result_configuration": {"output_location": f"s3://{env.results_bucket}/query-results/",
                                 "encryption_configuration": {"encryption_option": "SSE_KMS", "kms_key_arn": key_arn}}}})


def test_cloudtrail_table_uses_partition_projection(name, stacks):
    """Every table of the one definition, with its columns, over the trail's logs, projected on the
    day and on the regions of its scope (`cloudtrail`: the projected regions; `home`: the stack's)."""
    env, stack = environment(name), stacks[name]
    definition = tomllib.loads((ROOT / "definitions/data/cloudtrail_tables.toml").read_text())
    assert one(stack, "aws_glue_catalog_database", "analytics_database")["name"] == env.names.database
    regions = {"projected": list(env.athena.projected_regions), "home": [env.region]}
    types = dict(definition["columns"])
    tables = {t["name"]: t for t in resources(stack, "aws_glue_catalog_table").values()}
    assert sorted(tables) == sorted([*(t["name"] for t in definition["table"]), definition["compact"]["name"]])
    assert "cloudtrail" in tables
    location = f"s3://{env.trail_bucket}/AWSLogs/{env.account_id}/CloudTrail/"
    for spec in definition["table"]:
        table = tables[spec["name"]]
        params = table["parameters"]
        # `$${` is Terraform JSON for a literal `${`: Athena, not Terraform, fills these in.
        assert params["storage.location.template"] == location + "$${region}/$${timestamp}"
        assert params["projection.enabled"] == "true"
        assert params["projection.timestamp.range"] == f"{env.athena.projection_start},NOW"
        assert params["projection.region.values"].split(",") == regions[spec["regions"]]
        assert [k["name"] for k in table["partition_keys"]] == ["region", "timestamp"]
        names = [n for n, _ in definition["columns"]] if spec["columns"] == "all" else spec["columns"]
        assert table["storage_descriptor"]["columns"] == [{"name": n, "type": types[n]} for n in names]
        assert table["storage_descriptor"]["location"] == location
        assert table["storage_descriptor"]["ser_de_info"]["serialization_library"] == "org.apache.hive.hcatalog.data.JsonSerDe"
    columns = [c["name"] for c in tables["cloudtrail"]["storage_descriptor"]["columns"]]
    assert {"eventtime", "eventsource", "eventname", "useridentity", "resources", "tlsdetails"} <= set(columns)


def test_compact_table_is_parquet_in_the_results_bucket_partitioned_by_day_and_category(name, stacks):
    """The compact table: the record's columns and the raw table's region, Parquet under the results
    bucket's compact/ prefix, partitioned by day and category, registered by INSERT (no projection);
    the results bucket keeps query results and compact days for their own times."""
    env, stack = environment(name), stacks[name]
    definition = tomllib.loads((ROOT / "definitions/data/cloudtrail_tables.toml").read_text())
    compact = definition["compact"]
    table = next(t for t in resources(stack, "aws_glue_catalog_table").values() if t["name"] == compact["name"])
    columns = [*definition["columns"], *compact["extra_columns"]]
    assert table["storage_descriptor"]["columns"] == [{"name": n, "type": t} for n, t in columns]
    assert [k["name"] for k in table["partition_keys"]] == ["day", "category"]
    assert table["storage_descriptor"]["location"] == f"s3://{env.results_bucket}/compact/{compact['name']}/"
    assert table["storage_descriptor"]["ser_de_info"]["serialization_library"].endswith("ParquetHiveSerDe")
    assert "projection.enabled" not in table["parameters"]
    assert table["parameters"]["parquet.compression"] == compact["compression"]
    rules = {r["id"]: r for r in one(stack, "aws_s3_bucket_lifecycle_configuration", "results-bucket_lifecycle")["rule"]}
    assert rules["expire-query-results"]["filter"][0]["prefix"] == "query-results/"
    assert rules["expire-query-results"]["expiration"][0]["days"] == env.retention.athena_results_days
    assert rules["expire-compact-table"]["filter"][0]["prefix"] == "compact/"
    assert rules["expire-compact-table"]["expiration"][0]["days"] == env.retention.compact_table_days >= 91


def test_compaction_runs_daily_as_its_own_role_in_its_own_workgroup(name, stacks):
    """The schedule calls StartQueryExecution with the compaction statement, the scheduled time as
    its parameters and as the request token; the role is the scheduler's, of this account only,
    and may append to the compact table but delete nothing; two alarms watch the runs."""
    env, stack = environment(name), stacks[name]
    schedule = one(stack, "aws_scheduler_schedule", "compaction_schedule")
    assert schedule["name"] == env.names.compaction
    assert schedule["schedule_expression"].startswith("cron(") and schedule["schedule_expression_timezone"] == "UTC"
    target = schedule["target"]
    assert target["arn"] == f"arn:{env.partition}:scheduler:::aws-sdk:athena:startQueryExecution"
    assert target["role_arn"] == ref(stack, "aws_iam_role", "compaction_role", "arn")
    assert "\\" not in target["input"], "no JSON escape: cdktf's HCL output would drop its backslash"
    request = json.loads(target["input"])
    sql = (ROOT / "definitions/data/compaction.sql").read_text()
    code = [line.strip() for line in sql.splitlines() if line.strip() and not line.strip().startswith("--")]
    assert request["QueryString"] == " ".join(code) and request["WorkGroup"] == env.names.compaction
    assert request["QueryExecutionContext"] == {"Database": env.names.database}
    assert request["ExecutionParameters"] == ["'<aws.scheduler.scheduled-time>'"] * sql.count("?") and sql.count("?") == 2
    # Athena API reference, StartQueryExecution: ClientRequestToken is 32 to 128 characters.
    token = request["ClientRequestToken"].replace("<aws.scheduler.scheduled-time>", "2026-12-04T00:05:00Z")
    assert token != request["ClientRequestToken"] and 32 <= len(token) <= 128
    workgroup = next(w for w in resources(stack, "aws_athena_workgroup").values() if w["name"] == env.names.compaction)
    configuration = workgroup["configuration"]
    assert configuration["enforce_workgroup_configuration"] and configuration["publish_cloudwatch_metrics_enabled"]
    assert configuration["result_configuration"]["encryption_configuration"]["encryption_option"] == "SSE_KMS"

    trust = statements(stack, one(stack, "aws_iam_role", "compaction_role")["assume_role_policy"])
    assert [principals(s) for s in trust] == [{"Service": ["scheduler.amazonaws.com"]}]
    assert conditions(trust[0]) == {("StringEquals", "aws:SourceAccount"): [env.account_id]}
    allowed = {a for s in statements(stack, one(stack, "aws_iam_role_policy", "compaction_role_policy")["policy"]) for a in s["actions"]}
    assert {"athena:StartQueryExecution", "glue:BatchCreatePartition", "s3:PutObject", "s3:GetObject"} <= allowed
    assert not {a for a in allowed if "Delete" in a}, "the compaction deletes nothing"

    bucket_policy = by_sid(statements(stack, one(stack, "aws_s3_bucket_policy", "results-bucket_bucket-policy")["policy"]))
    guard = bucket_policy["DenyCompactTableChangesButCompaction"]
    assert (guard["effect"], guard["resources"]) == ("Deny", [f"arn:{env.partition}:s3:::{env.results_bucket}/compact/*"])
    assert {"s3:PutObject", "s3:DeleteObject"} <= set(guard["actions"])
    assert conditions(guard) == {("ArnNotEquals", "aws:PrincipalArn"): [ref(stack, "aws_iam_role", "compaction_role", "arn"),
                                                                        *env.break_glass_arns]}

    alarms = {a["alarm_name"]: a for a in resources(stack, "aws_cloudwatch_metric_alarm").values()}
    missing = alarms["CompactionMissing"]
    assert (missing["period"], missing["treat_missing_data"], missing["comparison_operator"]) == (86400, "breaching", "LessThanThreshold")
    assert dict(missing["dimensions"]) == {"QueryState": "SUCCEEDED", "QueryType": "DML", "WorkGroup": env.names.compaction}
    failed = alarms["CompactionFailed"]
    states = {q["metric"]["dimensions"]["QueryState"] for q in failed["metric_query"] if q.get("metric")}
    assert states == {"FAILED", "CANCELED"} and failed["threshold"] == 0


def test_named_queries_come_from_the_sql_files(name, stacks):
    """Each query is its file with this environment's names written in (the data key's ARN as a
    reference, known at apply), its first line the description."""
    env, stack = environment(name), stacks[name]
    files = sorted(QUERIES_DIR.glob("*.sql"))
    assert len(files) >= 11
    queries = {q["name"]: q for q in resources(stack, "aws_athena_named_query").values()}
    assert sorted(queries) == [f.stem for f in files]
    for path in files:
        text = rendered_query(path, env, ref(stack, "aws_kms_key", "data-key", "arn"))
        assert "{{" not in text, path.name
        query = queries[path.stem]
        assert query["query"] == text
        assert query["description"] == text.splitlines()[0].removeprefix("-- ")
        assert query["workgroup"] == ref(stack, "aws_athena_workgroup", "analytics_workgroup", "id")
        assert query["database"] == ref(stack, "aws_glue_catalog_database", "analytics_database", "name")


# --- IAM ---------------------------------------------------------------------------------------


def test_application_role_trusts_services_and_mfa_sessions_of_users(name, stacks):
    env, stack = environment(name), stacks[name]
    role = one(stack, "aws_iam_role", "access_application-role")
    assert role["name"] == env.names.role
    trust = by_sid(statements(stack, role["assume_role_policy"]))
    assert principals(trust["TrustServices"]) == {"Service": list(env.trusted_services)}
    assert "condition" not in trust["TrustServices"]  # EC2 and Lambda send no source keys when they assume a role
    people = trust["TrustAccountUsersWithMfa"]
    assert principals(people) == {"AWS": [f"arn:{env.partition}:iam::{env.account_id}:root"]}
    # The account stays the principal; only its IAM users (or those listed), never another role, may chain in.
    users = list(env.analyst_user_arns) or [f"arn:{env.partition}:iam::{env.account_id}:user/*"]
    assert conditions(people) == {("Bool", "aws:MultiFactorAuthPresent"): ["true"], ("ArnLike", "aws:PrincipalArn"): users}


def test_the_trails_logs_role_trusts_cloudtrail_without_a_condition(name, stacks):
    stack = stacks[name]
    trust = by_sid(statements(stack, one(stack, "aws_iam_role", "audit-trail_logs-role")["assume_role_policy"]))
    assert principals(trust["TrustCloudTrail"]) == {"Service": ["cloudtrail.amazonaws.com"]}
    assert "condition" not in trust["TrustCloudTrail"]


def test_an_access_analyzer_when_asked(name, stacks):
    env, stack = environment(name), stacks[name]
    analyzers = list(resources(stack, "aws_accessanalyzer_analyzer").values())
    assert analyzers == ([{"analyzer_name": f"{name}-access-analyzer", "type": "ACCOUNT"}] if env.access_analyzer else [])


def test_application_role_is_least_privilege(name, stacks):
    env, stack = environment(name), stacks[name]
    permissions = by_sid(statements(stack, one(stack, "aws_iam_role_policy", "access_application-role_policy")["policy"]))
    assert permissions["ReadWriteDataBucketObjects"]["resources"] == [f"arn:{env.partition}:s3:::{env.data_bucket}/*"]
    assert permissions["RunAthenaQueries"]["resources"] == [
        f"arn:{env.partition}:athena:{env.region}:{env.account_id}:workgroup/{env.names.workgroup}"]
    assert permissions["ReadTrailBucketObjects"]["resources"] == [
        f"arn:{env.partition}:s3:::{env.trail_bucket}/AWSLogs/{env.account_id}/CloudTrail/*"]
    assert set(permissions["ReadTrailBucketObjects"]["actions"]) == {"s3:GetObject", "s3:GetObjectVersion"}
    assert permissions["ReadWriteResultsBucketObjects"]["resources"] == [f"arn:{env.partition}:s3:::{env.results_bucket}/query-results/*"]
    assert "cloudtrail:LookupEvents" in permissions["LookupCloudTrailEvents"]["actions"]
    assert permissions["ReadTrail"]["resources"] == [
        f"arn:{env.partition}:cloudtrail:{env.region}:{env.account_id}:trail/{env.names.trail}"]
    key_statements = [st for st in permissions.values() if any(a.startswith("kms:") for a in st["actions"])]
    assert key_statements and all(st["resources"] == [ref(stack, "aws_kms_key", "data-key", "arn")] for st in key_statements)
    assert all(("StringEquals", "kms:ViaService") in conditions(st) for st in key_statements)  # never decrypt on all keys
    data_actions = permissions["ReadWriteDataBucketObjects"]["actions"]
    assert "s3:DeleteObject" in data_actions and "s3:DeleteObjectVersion" not in data_actions  # history is kept
    for statement in permissions.values():
        assert statement["effect"] == "Allow"
        assert not any(action.endswith(":*") or action == "*" for action in statement["actions"]), statement["sid"]
        if statement["resources"] == ["*"]:
            assert statement["sid"] == "LookupCloudTrailEvents"  # LookupEvents and DescribeTrails take no resource


def test_analysts_assume_the_role_only_with_mfa(name, stacks):
    env, stack = environment(name), stacks[name]
    assert one(stack, "aws_iam_group", "access_analysts-group") == {"name": env.names.group}
    found = by_sid(statements(stack, one(stack, "aws_iam_group_policy", "access_analysts-group_policy")["policy"]))
    assume = found[f"Assume{sid_part(env.names.role)}WithMfa"]
    assert assume["resources"] == [ref(stack, "aws_iam_role", "access_application-role", "arn")]
    assert conditions(assume) == {("Bool", "aws:MultiFactorAuthPresent"): ["true"]}
    deny = found["DenyAllWithoutMfa"]
    assert deny["effect"] == "Deny" and "not_actions" in deny and "actions" not in deny
    assert conditions(deny) == {("BoolIfExists", "aws:MultiFactorAuthPresent"): ["false"]}
    # `$${aws:username}` is Terraform JSON for the IAM policy variable `${aws:username}`.
    assert f"arn:{env.partition}:iam::{env.account_id}:user/$${{aws:username}}" in found["ManageOwnMfaDevice"]["resources"]
    assert ("RunAthenaQueries" in found) is env.analysts_direct_athena


# --- monitoring --------------------------------------------------------------------------------


def test_security_alarms_notify_an_encrypted_topic(name, stacks):
    env, stack = environment(name), stacks[name]
    topic = one(stack, "aws_sns_topic", "alarm-topic")
    assert topic == {"name": env.names.alarm_topic, "kms_master_key_id": ref(stack, "aws_kms_key", "alerting-key", "arn")}
    filters = {f["name"]: f for f in resources(stack, "aws_cloudwatch_log_metric_filter").values()}
    alarms = {a["alarm_name"]: a for a in resources(stack, "aws_cloudwatch_metric_alarm").values()}
    assert len(ALARMS) == 15 and {a["name"] for a in ALARMS} <= set(alarms)
    topic_arn = ref(stack, "aws_sns_topic", "alarm-topic", "arn")
    log_group = ref(stack, "aws_cloudwatch_log_group", "audit-trail_log-group", "name")
    for alarm in ALARMS:
        assert filters[alarm["name"]]["pattern"] == alarm["pattern"]
        assert filters[alarm["name"]]["log_group_name"] == log_group
        assert alarms[alarm["name"]].items() >= {
            "statistic": "Sum", "period": 300, "evaluation_periods": 1, "threshold": 1,
            "comparison_operator": "GreaterThanOrEqualToThreshold", "alarm_actions": [topic_arn]}.items()
    # Terraform's format() over the pattern keeps its quotes intact in HCL too (see modules/foundation/rendering.py).
    template = '{ ($.eventSource = "kms.amazonaws.com") && ($.resources[0].ARN = "%s") }'
    key = address(stack, "aws_kms_key", "data-key")
    assert filters["DataKeyApiCalls"]["pattern"] == f"${{format({json.dumps(template)}, {key}.arn)}}"
    subscriptions = [s for s in resources(stack, "aws_sns_topic_subscription").values() if s["topic_arn"] == topic_arn]
    assert sorted(s["endpoint"] for s in subscriptions) == sorted(env.alarm_emails)


def test_the_alarm_path_does_not_depend_on_the_data_key(name, stacks):
    stack = stacks[name]
    data_key = address(stack, "aws_kms_key", "data-key")
    for rtype, prefix in (("aws_sns_topic", "alarm-topic"), ("aws_cloudwatch_log_group", "audit-trail_log-group")):
        assert data_key not in str(one(stack, rtype, prefix))
    alerting = by_sid(statements(stack, one(stack, "aws_kms_key", "alerting-key")["policy"]))
    assert principals(alerting["AllowCloudWatchAlarmsToPublish"]) == {"Service": ["cloudwatch.amazonaws.com"]}
    topic_policy = by_sid(statements(stack, one(stack, "aws_sns_topic_policy", "alarm-topic_topic-policy-attachment")["policy"]))
    assert conditions(topic_policy["AllowCloudWatchAlarms"])[("StringEquals", "aws:SourceAccount")] == [
        environment(name).account_id]


# --- provider, state, guardrails ---------------------------------------------------------------


def test_provider_pins_account_tags_and_versions(name, stacks):
    env = environment(name)
    for stack_name in (name, env.bootstrap_stack):
        stack = stacks[stack_name]
        aws = stack["provider"]["aws"][0]
        assert aws["allowed_account_ids"] == [env.account_id]
        assert aws["default_tags"] == [{"tags": env.all_tags}]
        assert {"project", "environment", "managed-by"} <= set(env.all_tags) and env.all_tags["environment"] == name
        assert stack["terraform"]["required_providers"]["aws"]["version"] == ">= 5.100, < 7.0"
        assert stack["terraform"]["required_version"] == ">= 1.10"


def test_remote_state_is_encrypted_and_locked(name, stacks):
    env = environment(name)
    assert stacks[name]["terraform"]["backend"] == {"s3": {
        "bucket": env.state.bucket, "key": env.state.key, "region": env.state.region, "encrypt": True,
        "use_lockfile": True,
        "kms_key_id": f"arn:{env.partition}:kms:{env.state.region}:{env.account_id}:{env.names.state_key_alias}"}}


def test_bootstrap_creates_the_state_bucket_and_key_with_local_state(name, stacks):
    env = environment(name)
    stack = stacks[env.bootstrap_stack]
    assert stack["terraform"]["backend"] == {"local": {"path": f"../../../.bootstrap-state/{name}.tfstate"}}
    assert one(stack, "aws_s3_bucket", "state-bucket")["bucket"] == env.state.bucket
    assert one(stack, "aws_kms_key", "state-key")["enable_key_rotation"] is True
    assert one(stack, "aws_kms_alias", "state-key_alias")["name"] == env.names.state_key_alias
    assert one(stack, "aws_s3_bucket_versioning", "state-bucket_versioning")["versioning_configuration"] == {"status": "Enabled"}
    assert one(stack, "aws_s3_bucket_server_side_encryption_configuration", "state-bucket_encryption")["rule"][0][
        "apply_server_side_encryption_by_default"]["kms_master_key_id"] == ref(stack, "aws_kms_key", "state-key", "arn")
    found = by_sid(statements(stack, one(stack, "aws_s3_bucket_policy", "state-bucket_bucket-policy")["policy"]))
    assert conditions(found["DenyInsecureTransport"]) == {("Bool", "aws:SecureTransport"): ["false"]}
    # The environment's backend names the key by alias ARN; the bucket policy must accept it.
    accepted = conditions(found["DenyOtherKmsKeys"])[("StringNotEquals", "s3:x-amz-server-side-encryption-aws-kms-key-id")]
    assert stacks[name]["terraform"]["backend"]["s3"]["kms_key_id"] in accepted


PROTECTED_BUCKET_PARTS = [("aws_s3_bucket", ""), ("aws_s3_bucket_policy", "_bucket-policy"), ("aws_s3_bucket_versioning", "_versioning"),
                          ("aws_s3_bucket_server_side_encryption_configuration", "_encryption"),
                          ("aws_s3_bucket_public_access_block", "_public-access-block")]


def test_guardrails_follow_production(name, stacks):
    env = environment(name)
    protected = {
        name: [("aws_kms_key", "data-key"), ("aws_kms_key", "alerting-key"), ("aws_cloudtrail", "audit-trail"),
               ("aws_cloudwatch_log_group", "audit-trail_log-group"),
               *[(rtype, f"{bucket}{suffix}") for bucket in ("data-bucket", "trail-bucket") for rtype, suffix in PROTECTED_BUCKET_PARTS],
               *[(rtype, f"access-log-bucket{suffix}") for rtype, suffix in PROTECTED_BUCKET_PARTS if env.audit.access_logs],
               *([("aws_s3_bucket_object_lock_configuration", "trail-bucket_object-lock")] if env.audit.object_lock_mode else [])],
        env.bootstrap_stack: [("aws_kms_key", "state-key"),
                              *[(rtype, f"state-bucket{suffix}") for rtype, suffix in PROTECTED_BUCKET_PARTS]],
    }
    assert env.prevent_destroy is env.production
    assert env.key_deletion_window_days == (30 if env.production else 7)
    for stack_name, items in protected.items():
        for rtype, prefix in items:
            lifecycle = one(stacks[stack_name], rtype, prefix).get("lifecycle", {})
            assert lifecycle.get("prevent_destroy", False) is env.production, (stack_name, rtype, prefix)
    assert "lifecycle" not in one(stacks[name], "aws_s3_bucket", "results-bucket")
