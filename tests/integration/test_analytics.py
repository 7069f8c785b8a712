"""The Athena investigations, proven without an AWS account: every named query, taken as the stack
synthesizes it, runs over a realistic corpus of CloudTrail log files (tests/fixtures/cloudtrail_corpus.py)
served by DuckDB the way Athena serves the Glue tables, and returns exactly the rows that plain
Python computes from the same records.

The stand-in for Athena is tests/athena_stand_in.py: the stack's Glue tables served by DuckDB,
partitions pruned as projection prunes them. Here `current_date` is the corpus's today and the data
key's ARN, a Terraform reference in the stack, is a fixed ARN.

What this cannot prove: Athena's own engine (the DuckDB transpilation stands in for Trino), its
SerDe's exact text for JSON fields, and S3 permissions at query time (`make verify` runs a query on
a real account; here the grants are checked on the synthesized policies).
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import datetime as dt
import fnmatch
import gzip
import json
import math
import random
import re
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from cli.update_docs import section
from definitions import naming
from definitions.cloudtrail_tables import SCHEMA_FILE, HiveType, Schema, load_schema
from definitions.errors import ConfigError
from definitions.naming import dns_suffix
from definitions.paths import DOCS_DIR
from definitions.queries import (
    ACCOUNT_PLACEHOLDER,
    ACCOUNT_TABLE,
    OBJECT_KEY_PLACEHOLDER,
    PLACEHOLDERS,
    QUERIES_DIR,
    for_one_account,
    load_compaction,
    load_queries,
    on_one_account,
)
from environments.config import Environment, Retention
from tests.athena_stand_in import AthenaStandIn, Run, sqlglot_type, trino_semantics
from tests.fixtures.cloudtrail_corpus import CorpusSpec, log_key, spec_for, write_corpus
from tests.stack_queries import one, ref, resources, statements
from tests.support import ENV_NAMES, environment, query_values

SCHEMA = load_schema()
QUERY_NAMES = [template.name for template in load_queries()]
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"  # the data key's id, standing for the reference
EARLIEST_TODAY = dt.date(2025, 3, 14)


def fixed_key_arn(env: Environment) -> str:
    return f"arn:{env.partition}:kms:{env.region}:{env.account_id}:key/{KEY_ID}"


def corpus_today(env: Environment, days: int) -> dt.date:
    """The corpus's today: its first day lies inside the table's date projection."""
    start = dt.datetime.strptime(env.athena.projection_start, "%Y/%m/%d").date()
    return max(EARLIEST_TODAY, start + dt.timedelta(days=days))


def deployed_queries(stack: dict, key_arn: str) -> dict[str, tuple[str, str]]:
    """{name: (description, SQL)} of the stack's named queries, the key's reference replaced."""
    key_reference = ref(stack, "aws_kms_key", "data-key", "arn")
    found = {}
    for query in resources(stack, "aws_athena_named_query").values():
        sql = query["query"].replace(key_reference, key_arn)
        assert "${" not in sql, f"{query['name']} holds a reference besides the data key's"
        found[query["name"]] = (query["description"], sql)
    return found


# --- the corpus, read back as plain records -------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LogRecord:
    """A record with the partition its file is in, read from the delivery layout."""

    region: str
    day: dt.date
    record: dict[str, Any]


# The regions each table shows: the design, stated here apart from the code that builds the tables.
TABLE_REGIONS: dict[str, Callable[[Environment], tuple[str, ...]]] = {
    "cloudtrail": lambda env: tuple(env.athena.projected_regions),
    "home_region_events": lambda env: (env.region,),
}


@dataclasses.dataclass
class Investigation:
    env: Environment
    stack: dict
    spec: CorpusSpec
    files: list[Path]
    records: list[LogRecord]
    athena: AthenaStandIn
    queries: dict[str, tuple[str, str]]
    _runs: dict[str, Run] = dataclasses.field(default_factory=dict)

    @property
    def today(self) -> dt.date:
        return self.spec.today

    def since(self, days: int, table: str = "cloudtrail", until: int = 0) -> list[dict]:
        """The records `table` shows in the day partitions from `days` days ago to `until` days ago."""
        start = dt.datetime.strptime(self.env.athena.projection_start, "%Y/%m/%d").date()
        regions = TABLE_REGIONS[table](self.env)
        first, last = max(start, self.today - dt.timedelta(days=days)), self.today - dt.timedelta(days=until)
        return [r.record for r in self.records if r.region in regions and first <= r.day <= last]

    def sql(self, name: str) -> str:
        sql = self.queries[name][1]
        # The investigator's edit: the object to investigate.
        return sql.replace(OBJECT_KEY_PLACEHOLDER, self.spec.scenario.investigated_key)

    def run(self, name: str) -> Run:
        if name not in self._runs:
            self._runs[name] = self.athena.run(self.sql(name))
        return self._runs[name]


def read_records(root: Path, files: list[Path]) -> list[LogRecord]:
    found = []
    for path in files:
        _, _, _, region, year, month, day, _ = path.relative_to(root).parts
        partition_day = dt.date(int(year), int(month), int(day))
        found += [LogRecord(region, partition_day, record) for record in json.loads(gzip.decompress(path.read_bytes()))["Records"]]
    return found


@pytest.fixture(scope="module", params=ENV_NAMES)
def investigation(request: pytest.FixtureRequest, stacks: dict[str, dict],
                  tmp_path_factory: pytest.TempPathFactory) -> Investigation:
    env, stack = environment(request.param), stacks[request.param]
    spec = spec_for(env, fixed_key_arn(env), corpus_today(env, CorpusSpec.days))
    root = tmp_path_factory.mktemp(f"{env.name}-trail-bucket")
    files = write_corpus(spec, root)
    athena = AthenaStandIn(stack, root, spec.today, tmp_path_factory.mktemp(f"{env.name}-duckdb"))
    # The schedule ran on every day of the corpus but the first, the last time today.
    for day in sorted({partition_from_layout(path)[1] for path in files})[1:]:
        athena.compact(*scheduled_compaction(stack, dt.datetime.strptime(day, "%Y/%m/%d").date()))
    return Investigation(env=env, stack=stack, spec=spec, files=files, records=read_records(root, files),
                         athena=athena, queries=deployed_queries(stack, fixed_key_arn(env)))


def scheduled_compaction(stack: dict, day: dt.date) -> tuple[str, list[str]]:
    """The statement and execution parameters the stack's schedule sends Athena on `day`."""
    schedule = one(stack, "aws_scheduler_schedule", "compaction_schedule")
    hour, minute = (int(part) for part in schedule["schedule_expression"].removeprefix("cron(").split()[1::-1])
    scheduled = dt.datetime.combine(day, dt.time(hour, minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
    request = json.loads(schedule["target"]["input"])
    return request["QueryString"], [p.replace("<aws.scheduler.scheduled-time>", scheduled) for p in request["ExecutionParameters"]]


# --- what each query must return, from the records ------------------------------------------


def coalesce(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def identity(record: dict, *path: str) -> Any:
    value: Any = record.get("userIdentity")
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    return value


def principal(record: dict) -> str | None:
    return coalesce(identity(record, "arn"), identity(record, "invokedBy"), identity(record, "principalId"))


def role_or_principal(record: dict) -> str | None:
    """A role session counts as its role."""
    return coalesce(identity(record, "sessionContext", "sessionIssuer", "arn"), identity(record, "arn"),
                    identity(record, "principalId"))


def field(record: dict, column: str, name: str) -> str | None:
    """A scalar of a JSON object field (what json_extract_scalar reads)."""
    value = record.get(column)
    found = value.get(name) if isinstance(value, dict) else None
    return found if isinstance(found, str) else None


def nulls_last(value: Any) -> tuple[bool, Any]:
    return value is None, value if value is not None else ""


def newest_first(records: Iterable[dict]) -> list[dict]:
    return sorted(sorted(records, key=lambda r: r["eventID"]), key=lambda r: r["eventTime"], reverse=True)


def oldest_first(records: Iterable[dict]) -> list[dict]:
    return sorted(records, key=lambda r: (r["eventTime"], r["eventID"]))


def day_string(day: dt.date, separator: str) -> str:
    return day.strftime(f"%Y{separator}%m{separator}%d")


def expected_access_denied_by_principal(i: Investigation) -> list[dict]:
    denied = [r for r in i.since(7) if (code := r.get("errorCode")) and (code.endswith("UnauthorizedOperation") or code.startswith("AccessDenied"))]
    counts = collections.Counter((principal(r), r["eventSource"], r["eventName"]) for r in denied)
    totals = collections.Counter(principal(r) for r in denied)
    top = sorted(totals, key=lambda p: (-totals[p], nulls_last(p)))[:50]
    return [{"principal": p, "principal_denied_calls": totals[p], "operations": sum(1 for (q, _, _) in counts if q == p),
             "eventsource": s, "eventname": n, "denied_calls": c}
            for p in top
            for (_, s, n), c in sorted(((k, c) for k, c in counts.items() if k[0] == p), key=lambda kc: (-kc[1], kc[0][1], kc[0][2]))]


# Every KMS call that changes a key, from KMS's API reference.
KEY_MANAGEMENT = {"CreateKey", "EnableKey", "DisableKey", "ScheduleKeyDeletion", "CancelKeyDeletion", "PutKeyPolicy",
                  "EnableKeyRotation", "DisableKeyRotation", "RotateKeyOnDemand", "CreateGrant", "RevokeGrant", "RetireGrant",
                  "CreateAlias", "UpdateAlias", "DeleteAlias", "GetParametersForImport", "ImportKeyMaterial",
                  "DeleteImportedKeyMaterial", "UpdateKeyDescription", "TagResource", "UntagResource", "ReplicateKey",
                  "UpdatePrimaryRegion"}


def expected_kms_key_management_events(i: Investigation) -> list[dict]:
    found = [r for r in i.since(30) if r["eventSource"] == "kms.amazonaws.com" and r["eventName"] in KEY_MANAGEMENT]
    return [{"eventtime": r["eventTime"], "principal": principal(r), "eventname": r["eventName"],
             "key_id": coalesce(field(r, "requestParameters", "keyId"), field(r, "requestParameters", "targetKeyId"),
                                (r.get("resources") or [{}])[0].get("ARN")),
             "alias_name": field(r, "requestParameters", "aliasName"), "awsregion": r["awsRegion"], "errorcode": r.get("errorCode")}
            for r in newest_first(found)]


def data_bucket_events(i: Investigation, days: int) -> list[dict]:
    return [r for r in i.since(days, "home_region_events") if r["eventSource"] == "s3.amazonaws.com"
            and r["eventCategory"] == "Data" and field(r, "requestParameters", "bucketName") == i.env.data_bucket]


def expected_recent_data_bucket_activity(i: Investigation) -> list[dict]:
    found = [r for r in data_bucket_events(i, 7) if field(r, "requestParameters", "key") is not None]
    return [{"eventtime": r["eventTime"], "principal": principal(r), "eventname": r["eventName"],
             "object_key": field(r, "requestParameters", "key"), "sourceipaddress": r["sourceIPAddress"], "errorcode": r.get("errorCode")}
            for r in newest_first(found)[:500]]


OBJECT_ACCESS = {
    **dict.fromkeys(("GetObject", "HeadObject", "GetObjectAttributes", "GetObjectTagging", "GetObjectAcl", "GetObjectRetention",
                     "GetObjectLegalHold", "GetObjectTorrent", "SelectObjectContent"), "read"),
    **dict.fromkeys(("PutObject", "CopyObject", "CreateMultipartUpload", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload",
                     "AbortMultipartUpload", "RestoreObject"), "write"),
    **dict.fromkeys(("PutObjectTagging", "DeleteObjectTagging", "PutObjectAcl", "PutObjectRetention", "PutObjectLegalHold"), "metadata"),
    "DeleteObject": "delete", "DeleteObjects": "batch delete (keys not recorded)",
}


def expected_object_access_history(i: Investigation, key: str | None = None) -> list[dict]:
    key = i.spec.scenario.investigated_key if key is None else key
    found = [r for r in data_bucket_events(i, 30) if field(r, "requestParameters", "key") == key or r["eventName"] == "DeleteObjects"]
    return [{"eventtime": r["eventTime"], "principal": principal(r), "access": OBJECT_ACCESS.get(r["eventName"], "other"),
             "eventname": r["eventName"], "version_id": field(r, "requestParameters", "versionId"),
             "sourceipaddress": r["sourceIPAddress"], "errorcode": r.get("errorCode")} for r in oldest_first(found)]


def expected_data_key_use_by_principal(i: Investigation) -> list[dict]:
    key_arn = fixed_key_arn(i.env)
    used = [r for r in i.since(90, "home_region_events") if r["eventSource"] == "kms.amazonaws.com"
            and r["eventName"] in ("Decrypt", "GenerateDataKey") and identity(r, "type") not in (None, "AWSService")
            and any(resource.get("ARN") == key_arn for resource in r.get("resources", []))]
    groups: dict[tuple, list[dict]] = collections.defaultdict(list)
    for r in used:
        groups[(role_or_principal(r), r["eventName"])].append(r)
    return [{"principal": p, "eventname": n, "calls": len(rs),
             "through_s3": sum(identity(r, "invokedBy") == "s3.amazonaws.com" for r in rs),
             "failed_calls": sum("errorCode" in r for r in rs),
             "identities": len({identity(r, "arn") for r in rs} - {None}),
             "first_call": min(r["eventTime"] for r in rs), "last_call": max(r["eventTime"] for r in rs)}
            for (p, n), rs in sorted(groups.items(), key=lambda item: tuple(nulls_last(v) for v in item[0]))]


def expected_console_signins_without_mfa(i: Investigation) -> list[dict]:
    found = [r for r in i.since(30) if r["eventSource"] == "signin.amazonaws.com" and r["eventName"] == "ConsoleLogin"
             and identity(r, "type") in ("IAMUser", "Root") and field(r, "responseElements", "ConsoleLogin") == "Success"
             and field(r, "additionalEventData", "MFAUsed") == "No"]
    return [{"eventtime": r["eventTime"], "identity_type": identity(r, "type"), "principal": identity(r, "arn"),
             "sourceipaddress": r["sourceIPAddress"], "useragent": r["userAgent"]} for r in newest_first(found)]


def expected_root_activity(i: Investigation) -> list[dict]:
    found = [r for r in i.since(90) if r.get("eventCategory", "Management") == "Management"
             and identity(r, "type") == "Root" and identity(r, "accountId") == i.env.account_id
             and identity(r, "invokedBy") is None and r["eventType"] != "AwsServiceEvent"]
    return [{"eventtime": r["eventTime"], "eventsource": r["eventSource"], "eventname": r["eventName"], "awsregion": r["awsRegion"],
             "sourceipaddress": r["sourceIPAddress"], "useragent": r["userAgent"], "errorcode": r.get("errorCode")}
            for r in newest_first(found)]


BUCKET_SECURITY = {"PutBucketPolicy", "DeleteBucketPolicy", "PutBucketEncryption", "DeleteBucketEncryption",
                   "PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock"}


def expected_bucket_security_changes(i: Investigation) -> list[dict]:
    buckets = {i.env.data_bucket, i.env.results_bucket, i.env.trail_bucket}
    found = [r for r in i.since(90) if r["eventSource"] == "s3.amazonaws.com" and r["eventName"] in BUCKET_SECURITY
             and field(r, "requestParameters", "bucketName") in buckets]
    return [{"eventtime": r["eventTime"], "principal": principal(r), "eventname": r["eventName"],
             "bucket": field(r, "requestParameters", "bucketName"), "sourceipaddress": r["sourceIPAddress"],
             "errorcode": r.get("errorCode")} for r in newest_first(found)]


def expected_top_api_callers(i: Investigation) -> list[dict]:
    groups: dict[str | None, list[dict]] = collections.defaultdict(list)
    for r in i.since(0):
        groups[coalesce(identity(r, "sessionContext", "sessionIssuer", "arn"), principal(r))].append(r)
    ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), nulls_last(item[0])))[:25]
    return [{"principal": p, "calls": len(rs), "failed_calls": sum("errorCode" in r for r in rs),
             "operations": len({r["eventName"] for r in rs}), "source_addresses": len({r["sourceIPAddress"] for r in rs})}
            for p, rs in ranked]


def expected_data_events_per_day(i: Investigation) -> list[dict]:
    first_day = day_string(i.today - dt.timedelta(days=30), "-")
    groups: dict[tuple[str, str], list[dict]] = collections.defaultdict(list)
    for r in data_bucket_events(i, 30):
        if r["eventTime"] >= first_day:
            groups[(r["eventTime"][:10], r["eventName"])].append(r)
    return [{"event_day": day, "eventname": name, "calls": len(rs), "failed_calls": sum("errorCode" in r for r in rs),
             "principals": len({principal(r) for r in rs} - {None})} for (day, name), rs in sorted(groups.items())]


def expected_trail_changes(i: Investigation) -> list[dict]:
    env = i.env
    trail = {env.names.trail, f"arn:{env.partition}:cloudtrail:{env.region}:{env.account_id}:trail/{env.names.trail}"}
    found = [r for r in i.since(90) if r["eventSource"] == "cloudtrail.amazonaws.com"
             and r["eventName"] in ("StopLogging", "StartLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors")
             and coalesce(field(r, "requestParameters", "name"), field(r, "requestParameters", "trailName")) in trail]
    return [{"eventtime": r["eventTime"], "principal": principal(r), "eventname": r["eventName"], "awsregion": r["awsRegion"],
             "sourceipaddress": r["sourceIPAddress"], "errorcode": r.get("errorCode")} for r in newest_first(found)]


def expected_new_regions_and_source_addresses(i: Investigation) -> list[dict]:
    def by_people(records: list[dict]) -> list[dict]:
        return [r for r in records if identity(r, "type") not in (None, "AWSService")
                and not r["sourceIPAddress"].endswith(".amazonaws.com") and r["sourceIPAddress"] != "AWS Internal"]

    today, before = by_people(i.since(0)), by_people(i.since(30, until=1))
    rows = []
    for novelty, column in (("region", "awsRegion"), ("source address", "sourceIPAddress")):
        seen = {r[column] for r in before}
        groups: dict[tuple[str, str], list[dict]] = collections.defaultdict(list)
        for r in today:
            if r[column] not in seen:
                groups[(r[column], coalesce(identity(r, "arn"), identity(r, "principalId")))].append(r)
        rows += [{"novelty": novelty, "seen": value, "principal": p, "calls": len(rs), "first_call": min(r["eventTime"] for r in rs)}
                 for (value, p), rs in groups.items()]
    return sorted(rows, key=lambda row: (row["novelty"], row["seen"], nulls_last(row["principal"])))


def expected_application_role_sessions(i: Investigation) -> list[dict]:
    env = i.env
    role_arn = f"arn:{env.partition}:iam::{env.account_id}:role/{env.names.role}"
    groups: dict[str | None, list[dict]] = collections.defaultdict(list)
    for r in i.since(90):
        if r["eventSource"] == "sts.amazonaws.com" and r["eventName"] == "AssumeRole" and field(r, "requestParameters", "roleArn") == role_arn:
            groups[principal(r)].append(r)
    return [{"caller": caller, "calls": len(rs), "failed_calls": sum("errorCode" in r for r in rs),
             "with_mfa": sum(field(r, "requestParameters", "serialNumber") is not None
                             or identity(r, "sessionContext", "attributes", "mfaAuthenticated") == "true" for r in rs),
             "first_call": min(r["eventTime"] for r in rs), "last_call": max(r["eventTime"] for r in rs)}
            for caller, rs in sorted(groups.items(), key=lambda item: nulls_last(item[0]))]


@dataclasses.dataclass(frozen=True)
class Expectation:
    """What a query reads (its table, and how many days back from today) and returns."""

    table: str
    days: int
    rows: Callable[[Investigation], list[dict]]
    # The categories it reads from the compact table for the days before today; empty: it reads
    # the logs only.
    compacted: tuple[str, ...] = ()
    # When set, the query orders by these columns only: rows equal in them may come in any order.
    ordered_by: tuple[str, ...] = ()


MANAGEMENT = ("Management",)
DATA = ("Data",)
EVERY_CATEGORY = ("Management", "Data", "Insight", "NetworkActivity")
EXPECTATIONS = {
    "access_denied_by_principal": Expectation("cloudtrail", 7, expected_access_denied_by_principal),
    "application_role_sessions": Expectation("cloudtrail", 90, expected_application_role_sessions, MANAGEMENT),
    "bucket_security_changes": Expectation("cloudtrail", 90, expected_bucket_security_changes, MANAGEMENT, ordered_by=("eventtime",)),
    "console_signins_without_mfa": Expectation("cloudtrail", 30, expected_console_signins_without_mfa, MANAGEMENT, ordered_by=("eventtime",)),
    "data_events_per_day": Expectation("home_region_events", 30, expected_data_events_per_day, DATA),
    "data_key_use_by_principal": Expectation("home_region_events", 90, expected_data_key_use_by_principal, MANAGEMENT),
    "kms_key_management_events": Expectation("cloudtrail", 30, expected_kms_key_management_events, MANAGEMENT, ordered_by=("eventtime",)),
    "new_regions_and_source_addresses": Expectation("cloudtrail", 30, expected_new_regions_and_source_addresses, EVERY_CATEGORY),
    "object_access_history": Expectation("home_region_events", 30, expected_object_access_history, DATA, ordered_by=("eventtime",)),
    "recent_data_bucket_activity": Expectation("home_region_events", 7, expected_recent_data_bucket_activity),
    "root_activity": Expectation("cloudtrail", 90, expected_root_activity, MANAGEMENT, ordered_by=("eventtime",)),
    "top_api_callers": Expectation("cloudtrail", 0, expected_top_api_callers),
    "trail_changes": Expectation("cloudtrail", 90, expected_trail_changes, MANAGEMENT, ordered_by=("eventtime",)),
}


# --- the queries, as SQL --------------------------------------------------------------------


def column_problems(sql: str, schema: Schema = SCHEMA) -> list[str]:
    """What the query reads that the definition does not have: tables, columns, struct fields."""
    tree = sqlglot.parse_one(sql, read="trino")
    types = {table.name: {name: HiveType.parse(t) for name, t in (*table.columns, *schema.partition_keys)} for table in schema.tables}
    types[schema.compact.name] = {name: HiveType.parse(t) for name, t in (*schema.compact.columns, *schema.compact.partition_keys)}
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    if unknown := sorted({t.name for t in tree.find_all(exp.Table)} - set(types) - ctes):
        return [f"unknown tables: {', '.join(unknown)}"]
    mapping = MappingSchema({name: {c: sqlglot_type(t) for c, t in columns.items()} for name, columns in types.items()}, dialect="trino")
    try:
        tree = qualify(tree, schema=mapping, dialect="trino", validate_qualify_columns=True)
    except sqlglot.errors.OptimizeError as error:
        return [str(error)]
    sources = {t.alias_or_name: t.name for t in tree.find_all(exp.Table) if t.name in types}
    # A CTE's column that is a table's column, by (CTE, name): its type, for the lambdas over it.
    cte_columns: dict[tuple[str, str], HiveType | None] = {}
    for cte in tree.find_all(exp.CTE):
        first = cte.this if isinstance(cte.this, exp.Select) else next(cte.this.find_all(exp.Select))
        for projection in first.expressions:
            inner = projection.unalias()
            if isinstance(inner, exp.Column) and inner.table in sources:
                cte_columns[(cte.alias, projection.alias_or_name)] = types[sources[inner.table]].get(inner.name)
    problems = []

    def follow(node: exp.Expression, hive: HiveType | None, path: list[str]) -> None:
        """Check the struct fields read below `node` (a column, or a lambda variable)."""
        while isinstance(node.parent, exp.Dot) and node.parent.this is node:
            node = node.parent
            path.append(node.expression.name)
            hive = hive.field(node.expression.name) if hive else None
            if hive is None:
                problems.append(f"{'.'.join(path)}: no such field")
                return

    for column in tree.find_all(exp.Column):
        if column.table in sources:
            follow(column, types[sources[column.table]][column.name], [column.name])
    for function in tree.find_all(exp.Lambda):
        array = function.parent.this if function.parent else None
        if not isinstance(array, exp.Column):
            continue
        hive = types[sources[array.table]].get(array.name) if array.table in sources else cte_columns.get((array.table, array.name))
        variables = {variable.name for variable in function.expressions}
        for dot in function.this.find_all(exp.Dot):
            if isinstance(dot.this, exp.Identifier) and dot.this.name in variables:
                follow(dot.this, hive.element if hive else None, [dot.this.name])
    return problems


@pytest.mark.parametrize("name", ENV_NAMES)
def test_every_query_parses_as_trino_and_reads_only_defined_columns(name: str, stacks: dict[str, dict]):
    env = environment(name)
    queries = deployed_queries(stacks[name], fixed_key_arn(env))
    assert sorted(queries) == QUERY_NAMES and len(queries) >= 11
    for query, (_, sql) in queries.items():
        assert len(sqlglot.parse(sql, read="trino")) == 1, query
        assert column_problems(sql) == [], query


def test_the_column_check_finds_a_wrong_column_and_a_wrong_field(stacks: dict[str, dict]):
    env = environment(ENV_NAMES[0])
    _, sql = deployed_queries(stacks[env.name], fixed_key_arn(env))["data_key_use_by_principal"]
    renamed = {"eventname": "event_name", "sessionissuer": "session_issuer"}
    for old, new in renamed.items():
        broken = sqlglot.parse_one(sql, read="trino").transform(
            lambda node, old=old, new=new: exp.to_identifier(new) if isinstance(node, exp.Identifier) and node.name == old else node)
        assert column_problems(broken.sql(dialect="trino")), f"{old} renamed {new} went unnoticed"
    lambda_field = sqlglot.parse_one(sql, read="trino").transform(
        lambda node: exp.to_identifier("keyarn") if isinstance(node, exp.Identifier) and node.name == "arn"
        and isinstance(node.parent, exp.Dot) and node.find_ancestor(exp.Lambda) else node)
    assert column_problems(lambda_field.sql(dialect="trino")) == ["r.keyarn: no such field"]


def test_the_query_files_are_checked_when_loaded(tmp_path: Path):
    """A double quote, an unknown placeholder, a missing description: each refused, naming the file."""
    source = QUERIES_DIR / "recent_data_bucket_activity.sql"
    text = source.read_text()
    broken = {
        "a double quote": text.replace("'{{data_bucket}}'", '"{{data_bucket}}"'),
        "an unknown placeholder": text.replace("{{data_bucket}}", "{{data_bucket_name}}"),
        "no description": text.split("\n", 1)[1],
    }
    assert load_queries(QUERIES_DIR) and all(variant != text for variant in broken.values())
    for problem, variant in broken.items():
        folder = tmp_path / problem.replace(" ", "-")
        folder.mkdir()
        (folder / source.name).write_text(variant)
        with pytest.raises(ConfigError) as caught:
            load_queries(folder)
        (line,) = caught.value.problems
        assert line.startswith(f"{folder / source.name}: "), line


def test_each_placeholder_is_known_and_used():
    used = set().union(*(template.placeholders for template in load_queries()))
    assert used == set(PLACEHOLDERS)


def test_the_window_is_said_in_the_description():
    """A query reading N days back says "since N days ago"; one reading today alone says "today"."""
    for template in load_queries():
        windows = set(re.findall(r"INTERVAL '(\d+)' DAY", template.text))
        assert len(windows) <= 1, f"{template.name} reads windows of {sorted(windows)} days"
        said = f"since {windows.pop()} days ago" if windows else "today"
        assert said in template.description.lower(), f"{template.name}: the description does not say {said!r}"


def test_a_limit_is_said_in_the_description():
    """Every LIMIT, of the query or of a part of it, is in the description."""
    limited = 0
    for template in load_queries():
        for limit in sqlglot.parse_one(template.text, read="trino").find_all(exp.Limit):
            limited += 1
            assert limit.expression.name in template.description, f"{template.name} cuts at {limit.expression.name} silently"
    assert limited >= 3


def test_the_schema_definition_refuses_what_glue_would_not_read(tmp_path: Path):
    good = SCHEMA_FILE.read_text()
    variants = {
        "unknown column": (good.replace('"eventtime", "eventsource"', '"eventtime", "eventsauce"'),
                           "home_region_events.columns: names unknown columns: eventsauce"),
        "unreadable type": (good.replace('["eventtime", "string"]', '["eventtime", "struct<a:string"]'), "columns: column eventtime: "),
        "region scope": (good.replace('regions = "home"', 'regions = "eu"'), "home_region_events.regions: must be one of projected, home"),
    }
    for problem, (text, message) in variants.items():
        assert text != good, problem
        path = tmp_path / f"{problem.replace(' ', '-')}.toml"
        path.write_text(text)
        with pytest.raises(ConfigError) as caught:
            load_schema(path)
        (line,) = caught.value.problems
        assert line.startswith(f"{path}: ") and message in line, line
    assert HiveType.parse("array<struct<arn:string>>").element.field("ARN") == HiveType("primitive", name="string")


# --- the queries, run -----------------------------------------------------------------------


@pytest.mark.parametrize("query", QUERY_NAMES)
def test_each_query_returns_exactly_the_expected_rows(investigation: Investigation, query: str):
    assert sorted(EXPECTATIONS) == QUERY_NAMES, "every named query has its expectation"
    expected = EXPECTATIONS[query].rows(investigation)
    assert expected, f"the corpus holds nothing {query} looks for"
    assert_rows(investigation.run(query), query, expected)


def assert_rows(run: Run, query: str, expected: list[dict]) -> None:
    """The run's rows are the expected ones: in order, or, where the order leaves ties, in the
    order of the columns it sorts by."""
    assert run.columns == list(expected[0])
    if ordered_by := EXPECTATIONS[query].ordered_by:
        def key(row: dict) -> list:
            return [row[column] for column in ordered_by]
        assert [key(row) for row in run.rows] == [key(row) for row in expected]
        assert sorted(run.rows, key=repr) == sorted(expected, key=repr)
    else:
        assert run.rows == expected


@pytest.mark.parametrize("query", QUERY_NAMES)
def test_each_query_reads_only_the_days_and_regions_it_needs(investigation: Investigation, query: str):
    """The logs of the days it looks at (only yesterday's and today's when it reads the compact
    table), and the compact table's partitions of the days before, in the categories it needs."""
    expectation, run = EXPECTATIONS[query], investigation.run(query)
    projection = investigation.athena.projections[expectation.table]
    raw_days = 0 if expectation.compacted else expectation.days
    days = {day_string(investigation.today - dt.timedelta(days=n), "/") for n in range(raw_days + 1)}
    wanted = {(region, day) for region in TABLE_REGIONS[expectation.table](investigation.env) for day in days if day in projection.days}
    expected = {expectation.table: wanted}
    if expectation.compacted:
        past = {day_string(investigation.today - dt.timedelta(days=n), "-") for n in range(1, expectation.days + 1)}
        expected[SCHEMA.compact.name] = {(day, category) for day, category in investigation.athena.compact_partitions
                                         if day in past and category in expectation.compacted}
        assert expected[SCHEMA.compact.name], f"{query}: the compact table holds none of its days"
    assert run.partitions == expected
    raw_files = {path for path in investigation.files if partition_from_layout(path) in wanted}
    assert {path for path in run.files if path.suffix == ".gz"} == raw_files


def partition_from_layout(path: Path) -> tuple[str, str]:
    region, year, month, day = path.parts[-5:-1]
    return region, f"{year}/{month}/{day}"


def test_a_one_day_query_reads_only_that_days_files(investigation: Investigation):
    run = investigation.run("top_api_callers")
    today = day_string(investigation.today, "/")
    todays = {path for path in investigation.files if partition_from_layout(path)[1] == today
              and partition_from_layout(path)[0] in investigation.env.athena.projected_regions}
    assert run.files == todays and 0 < len(todays) < len(investigation.files) / 10


def test_an_opt_in_region_is_seen_unless_the_projection_leaves_it_out(investigation: Investigation, tmp_path: Path):
    """The leaked key's calls in an opt-in region: every query reads them with every region
    projected (the default), none with a narrowed `athena.projected_regions`."""
    opt_in, sql = investigation.spec.opt_in_region, investigation.queries["new_regions_and_source_addresses"][1]
    opt_in_files = {path for path in investigation.files if partition_from_layout(path)[0] == opt_in}
    assert opt_in_files, "the corpus has logs in an opt-in region"

    def projecting(regions: list[str]) -> AthenaStandIn:
        stack = copy.deepcopy(investigation.stack)
        for table in resources(stack, "aws_glue_catalog_table").values():
            if table["name"] == "cloudtrail":
                table["parameters"]["projection.region.values"] = ",".join(regions)
        return AthenaStandIn(stack, investigation.athena.root, investigation.today, tmp_path)

    every_region = naming.all_regions(investigation.env.partition)
    for athena, seen in ((projecting(list(every_region)), True),
                         (projecting([r for r in every_region if r != opt_in]), False)):
        run = athena.run(sql)
        assert bool(run.files & opt_in_files) is seen
        assert (("region", opt_in) in {(row["novelty"], row["seen"]) for row in run.rows}) is seen
        assert ("region", investigation.spec.new_region) in {(row["novelty"], row["seen"]) for row in run.rows}


def test_the_object_query_is_a_placeholder_until_edited(investigation: Investigation):
    description, sql = investigation.queries["object_access_history"]
    body = sql.split("\n", 1)[1]  # after the description line
    assert body.count(OBJECT_KEY_PLACEHOLDER) == 1 and OBJECT_KEY_PLACEHOLDER in description
    batch_deletes = investigation.athena.run(sql).rows
    assert batch_deletes and {row["eventname"] for row in batch_deletes} == {"DeleteObjects"}
    assert batch_deletes == expected_object_access_history(investigation, key=OBJECT_KEY_PLACEHOLDER)
    accesses = {(row["access"], row["eventname"], row["errorcode"]) for row in investigation.run("object_access_history").rows}
    # DeleteObjectTagging changes the object's tags; it does not delete the object.
    assert {("read", "GetObject", None), ("write", "PutObject", None), ("delete", "DeleteObject", None),
            ("read", "GetObject", "AccessDenied"), ("metadata", "DeleteObjectTagging", None), ("metadata", "PutObjectTagging", None),
            ("batch delete (keys not recorded)", "DeleteObjects", None)} <= accesses


@pytest.mark.parametrize(("trino", "answer"), [
    # count_if over rows whose condition is always NULL: 0 in Trino.
    ("SELECT count_if(x > 1) FROM (VALUES (CAST(NULL AS INTEGER)), (NULL)) AS t(x)", 0),
    # json_extract_scalar of an object or an array: NULL in Trino; of a string or a number, its value.
    ("""SELECT json_extract_scalar('{"a": {"b": 1}}', '$.a')""", None),
    ("""SELECT json_extract_scalar('{"a": [1, 2]}', '$.a')""", None),
    ("""SELECT json_extract_scalar('{"a": "x"}', '$.a')""", "x"),
    ("""SELECT json_extract_scalar('{"a": 7}', '$.a')""", "7"),
])
def test_the_stand_in_answers_as_trino_where_duckdb_differs(trino: str, answer: Any):
    tree = sqlglot.parse_one(trino, read="trino")
    [(found,)] = duckdb.sql(trino_semantics(tree).sql(dialect="duckdb")).fetchall()
    assert found == answer
    if answer in (0, None):  # DuckDB alone answers otherwise: the translation is what makes it right
        [(plain,)] = duckdb.sql(tree.sql(dialect="duckdb")).fetchall()
        assert plain != answer


def test_the_corpus_holds_what_the_queries_must_tell_apart(investigation: Investigation):
    """The look-alikes and the cases each fixed query once got wrong are in the corpus, and the
    results leave them out."""
    i, env = investigation, investigation.env
    week = data_bucket_events(i, 7)
    assert len([r for r in week if field(r, "requestParameters", "key")]) > 500, "a busy week: the LIMIT cuts"
    bucket_calls = {r["eventName"] for r in i.since(7) if r["eventCategory"] == "Management"
                    and field(r, "requestParameters", "bucketName") == env.data_bucket}
    assert {"PutBucketPublicAccessBlock", "GetBucketPolicy"} <= bucket_calls
    look_alike = i.spec.look_alike_bucket
    assert look_alike.endswith("-encrypted-data") and [r for r in i.since(7, "home_region_events") if look_alike in json.dumps(r)]
    activity = i.run("recent_data_bucket_activity").rows
    assert len(activity) == 500 and all(row["object_key"] for row in activity)
    changed = {row["bucket"] for row in i.run("bucket_security_changes").rows}
    assert changed == {env.data_bucket, env.results_bucket, env.trail_bucket}
    key_management = i.run("kms_key_management_events").rows
    assert {"EnableKey", "UpdateAlias", "DeleteAlias", "GetParametersForImport", "ImportKeyMaterial", "DeleteImportedKeyMaterial",
            "RotateKeyOnDemand", "TagResource"} <= {row["eventname"] for row in key_management}
    # Calls whose parameters do not name the key: it is taken from the record's resources.
    unnamed = [r for r in i.since(30) if r["eventName"] in ("RetireGrant", "DeleteAlias")
               and not (field(r, "requestParameters", "keyId") or field(r, "requestParameters", "targetKeyId"))]
    assert {r["eventName"] for r in unnamed} == {"RetireGrant", "DeleteAlias"}
    assert all(row["key_id"] for row in key_management if row["eventname"] in ("RetireGrant", "DeleteAlias"))
    services = [r for r in i.since(90, "home_region_events") if identity(r, "type") == "AWSService" and r["eventSource"] == "kms.amazonaws.com"]
    assert services and all(row["principal"] for row in i.run("data_key_use_by_principal").rows)
    assert any(row["through_s3"] for row in i.run("data_key_use_by_principal").rows)
    assert {row["identity_type"] for row in i.run("console_signins_without_mfa").rows} == {"IAMUser", "Root"}
    trail_calls = {row["eventname"] for row in i.run("trail_changes").rows}
    assert {"StopLogging", "StartLogging", "UpdateTrail", "PutEventSelectors", "DeleteTrail"} <= trail_calls
    # A prober of many operations, twice each, among 52 instances denied one call three times each:
    # the old top 50 (principal, operation) rows were all the fleet's.
    carol = next(r["userIdentity"]["arn"] for r in i.since(7) if r["userIdentity"].get("arn", "").endswith(":user/carol"))
    pairs = collections.Counter((principal(r), r["eventName"]) for r in i.since(7) if r.get("errorCode"))
    assert sum(1 for (p, _), c in pairs.items() if p != carol and c > max(c for (q, _), c in pairs.items() if q == carol)) >= 50
    denied_rows = i.run("access_denied_by_principal").rows
    assert denied_rows[0]["principal"] == carol and denied_rows[0]["operations"] >= 18
    assert len({row["principal"] for row in denied_rows}) == 50 < len(denied_rows)
    # AWS Config describes the region no person uses every day; the leaked key's calls there are new.
    assert any(r["awsRegion"] == i.spec.new_region and r["sourceIPAddress"] == "config.amazonaws.com" for r in i.since(30, until=1))
    assert ("region", i.spec.new_region) in {(row["novelty"], row["seen"]) for row in i.run("new_regions_and_source_addresses").rows}
    # A call just before midnight sits in the next day's folder.
    assert any(r.record["eventTime"][:10] != r.day.isoformat() for r in i.records)


# --- the same investigations, run by the organization on one account ------------------------------


ACCOUNT_VARIANTS = [template.name for template in load_queries() if for_one_account(template)]
# Those an environment whose trail records data events only leaves to the organization's workgroup.
MANAGEMENT_EVENT_QUERIES = [template.name for template in load_queries() if not template.reads_data_events_only]


@pytest.fixture(scope="module")
def organization_athena(investigation: Investigation, organization_stacks: dict[str, dict],
                        tmp_path_factory: pytest.TempPathFactory) -> tuple[AthenaStandIn, dict[str, str]]:
    """The organization's security stack over this environment's corpus, laid out as the
    organization trail delivers it (`AWSLogs/<organization id>/<account>/CloudTrail/...`), with the
    environment's days and regions projected: the stand-in, and the deployed queries by name."""
    stack = copy.deepcopy(organization_stacks["org-security"])
    tables = {t["name"]: t for t in resources(stack, "aws_glue_catalog_table").values()}
    parameters = tables[ACCOUNT_TABLE]["parameters"]
    parameters["projection.region.values"] = ",".join(TABLE_REGIONS["cloudtrail"](investigation.env))
    parameters["projection.timestamp.range"] = f"{investigation.env.athena.projection_start},NOW"
    prefix = parameters["storage.location.template"].removeprefix("s3://").split("/", 1)[1].split("$", 1)[0]
    root = tmp_path_factory.mktemp(f"{investigation.env.name}-organization-bucket")
    for path in investigation.files:
        relative_key = path.relative_to(investigation.athena.root).as_posix().removeprefix("AWSLogs/")
        target = root / prefix / relative_key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    queries = {q["name"]: q["query"] for q in resources(stack, "aws_athena_named_query").values()}
    return AthenaStandIn(stack, root, investigation.today, tmp_path_factory.mktemp("organization-duckdb")), queries


@pytest.mark.parametrize("query", ACCOUNT_VARIANTS)
def test_the_organization_runs_the_investigation_on_one_account_as_the_environment_does(
        investigation: Investigation, organization_athena: tuple[AthenaStandIn, dict[str, str]], query: str):
    """Taken from the environment's query, pinned to the environment's account through
    account_cloudtrail, it returns the rows the environment's does, reading that account's files alone."""
    assert {"root_activity", "top_api_callers", "console_signins_without_mfa"} <= set(ACCOUNT_VARIANTS)
    athena, queries = organization_athena
    account = investigation.env.account_id
    expected = EXPECTATIONS[query].rows(investigation)
    assert expected, f"the corpus holds nothing {query} looks for"
    run = athena.run(queries[query].replace(ACCOUNT_PLACEHOLDER, account))
    assert_rows(run, query, expected)
    assert run.files and {partition[0] for partition in run.partitions[ACCOUNT_TABLE]} == {account}
    # As deployed, before the investigator names the account: Athena reads no file.
    assert not athena.run(queries[query]).files


@pytest.mark.parametrize("query", MANAGEMENT_EVENT_QUERIES)
def test_the_organization_runs_the_environments_investigation_on_its_account_as_the_environment_does(
        investigation: Investigation, organization_athena: tuple[AthenaStandIn, dict[str, str]], query: str):
    """Each investigation of management events, with the environment's names, as the organization's
    workgroup runs it for an environment whose trail records data events only: the rows the
    environment's own returns, from the environment's account's files alone."""
    assert {"data_key_use_by_principal", "trail_changes", "root_activity"} <= set(MANAGEMENT_EVENT_QUERIES)
    athena, _ = organization_athena
    template = next(t for t in load_queries() if t.name == query)
    sql = on_one_account(template).render(query_values(investigation.env, fixed_key_arn(investigation.env)))
    run = athena.run(sql)
    assert_rows(run, query, EXPECTATIONS[query].rows(investigation))
    assert {partition[0] for partition in run.partitions[ACCOUNT_TABLE]} == {investigation.env.account_id}


def test_the_corpus_is_laid_out_as_cloudtrail_delivers(investigation: Investigation):
    spec, root = investigation.spec, investigation.athena.root
    name = re.compile(rf"AWSLogs/{spec.account_id}/CloudTrail/(?P<region>[a-z0-9-]+)/(?P<day>\d{{4}}/\d{{2}}/\d{{2}})/"
                      rf"{spec.account_id}_CloudTrail_(?P=region)_(?P<stamp>\d{{8}}T\d{{4}}Z)_[A-Za-z0-9]{{16}}\.json\.gz")
    for path in investigation.files:
        match = name.fullmatch(path.relative_to(root).as_posix())
        assert match, path
        assert match["stamp"][:8] == match["day"].replace("/", "")  # the folder is the delivery day
        assert list(json.loads(gzip.decompress(path.read_bytes()))) == ["Records"]
    documented = {"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress",
                  "userAgent", "requestParameters", "responseElements", "eventID", "eventType", "managementEvent",
                  "recipientAccountId", "eventCategory"}
    records = [r.record for r in investigation.records]
    assert all(documented <= set(record) for record in records)
    seen = set().union(*map(set, records))
    assert {"errorCode", "errorMessage", "additionalEventData", "requestID", "readOnly", "resources", "tlsDetails",
            "serviceEventDetails"} <= seen
    assert {r.region for r in investigation.records} >= {spec.home_region, spec.global_region}
    assert {record["eventCategory"] for record in records} == {"Data", "Management"}
    assert len({r.day for r in investigation.records}) >= spec.days
    sessions = [record for record in records if identity(record, "sessionContext", "sessionIssuer", "arn")]
    assert sessions and any(identity(record, "invokedBy") for record in records)


def test_the_corpus_is_the_same_every_time(tmp_path: Path):
    env = environment(ENV_NAMES[0])
    spec = spec_for(env, fixed_key_arn(env), corpus_today(env, CorpusSpec.days))
    first, second = write_corpus(spec, tmp_path / "a"), write_corpus(spec, tmp_path / "b")
    assert [p.relative_to(tmp_path / "a") for p in first] == [p.relative_to(tmp_path / "b") for p in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))


# --- what querying needs, granted -----------------------------------------------------------


def allowing(statement_list: list[dict], action: str, resource: str) -> list[dict]:
    return [s for s in statement_list if s["effect"] == "Allow" and any(fnmatch.fnmatchcase(action, a) for a in s.get("actions", []))
            and any(fnmatch.fnmatchcase(resource, r) for r in s.get("resources", []))]


def condition_values(statement: dict, variable: str) -> list[str]:
    return [value for c in statement.get("condition", []) if c["variable"] == variable for value in c["values"]]


@pytest.mark.parametrize("name", ENV_NAMES)
def test_the_application_role_holds_every_grant_a_query_needs(name: str, stacks: dict[str, dict]):
    """Athena acts with the caller's permissions: the workgroup, the catalog down to every table,
    the log files below every table's location, the results location, and the key through S3 for
    both (the log files and the results are encrypted with the data key)."""
    env, stack = environment(name), stacks[name]
    arn = f"arn:{env.partition}"
    policy = statements(stack, one(stack, "aws_iam_role_policy", "access_application-role_policy")["policy"])
    workgroup = one(stack, "aws_athena_workgroup", "analytics_workgroup")
    workgroup_arn = f"{arn}:athena:{env.region}:{env.account_id}:workgroup/{workgroup['name']}"
    for action in ("StartQueryExecution", "GetQueryExecution", "GetQueryResults", "StopQueryExecution", "GetNamedQuery",
                   "ListNamedQueries", "GetWorkGroup"):
        assert allowing(policy, f"athena:{action}", workgroup_arn), action

    database = one(stack, "aws_glue_catalog_database", "analytics_database")["name"]
    tables = list(resources(stack, "aws_glue_catalog_table").values())
    assert len(tables) >= 2
    catalog = [f"{arn}:glue:{env.region}:{env.account_id}:catalog", f"{arn}:glue:{env.region}:{env.account_id}:database/{database}",
               *(f"{arn}:glue:{env.region}:{env.account_id}:table/{database}/{table['name']}" for table in tables)]
    for resource in catalog:
        for action in ("glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"):
            assert allowing(policy, action, resource), (action, resource)

    key = ref(stack, "aws_kms_key", "data-key", "arn")
    assert one(stack, "aws_cloudtrail", "audit-trail")["kms_key_id"] == key  # the log files' key
    via_s3 = f"s3.{env.region}.{dns_suffix(env.partition)}"
    for table in tables:
        bucket, prefix = table["storage_descriptor"]["location"].removeprefix("s3://").split("/", 1)
        log_file = f"{arn}:s3:::{bucket}/{prefix}{env.region}/2025/03/14/{env.account_id}_CloudTrail_{env.region}_20250314T0000Z_x.json.gz"
        assert allowing(policy, "s3:GetObject", log_file) and allowing(policy, "s3:ListBucket", f"{arn}:s3:::{bucket}"), table["name"]
    decrypt_logs = [s for s in allowing(policy, "kms:Decrypt", key) if condition_values(s, "kms:EncryptionContext:aws:cloudtrail:arn")]
    assert decrypt_logs and all(condition_values(s, "kms:ViaService") == [via_s3] for s in decrypt_logs)

    results = workgroup["configuration"]["result_configuration"]
    assert results["encryption_configuration"]["kms_key_arn"] == key
    results_bucket, results_prefix = results["output_location"].removeprefix("s3://").split("/", 1)
    for action in ("s3:PutObject", "s3:GetObject"):
        assert allowing(policy, action, f"{arn}:s3:::{results_bucket}/{results_prefix}0b6e-query.csv"), action
    assert allowing(policy, "s3:ListBucket", f"{arn}:s3:::{results_bucket}")
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        through_s3 = allowing(policy, action, key)
        assert through_s3 and all(condition_values(s, "kms:ViaService") == [via_s3] for s in through_s3), action

    # The key policy admits the role too, for each bucket, only through S3.
    role = ref(stack, "aws_iam_role", "access_application-role", "arn")
    key_policy = statements(stack, one(stack, "aws_kms_key", "data-key")["policy"])
    for_role = [s for s in key_policy if any(role in p["identifiers"] for p in s.get("principals", []))]
    for action in ("kms:Decrypt", "kms:GenerateDataKey"):
        assert allowing(for_role, action, "*") and all(condition_values(s, "kms:ViaService") == [via_s3] for s in for_role), action


# --- the compaction: equivalence, idempotence, cost at scale -----------------------------------


def compact_rows(athena: AthenaStandIn, day: str) -> list[tuple[str, str]]:
    """(eventid, category) of every row the compact table holds for `day` (YYYY-MM-DD)."""
    connection = duckdb.connect()
    rows = []
    for (partition_day, category), paths in athena.compact_partitions.items():
        if partition_day == day:
            for path in paths:
                rows += [(eventid, category) for (eventid,) in connection.execute(
                    f"SELECT eventid FROM read_parquet('{path}', hive_partitioning = false)").fetchall()]
    return sorted(rows)


def test_the_compact_table_holds_each_past_day_once_every_record_in_its_category(investigation: Investigation):
    """Every day before today: exactly the records the `cloudtrail` table shows in that day's
    folders, once each, under the record's category; today is not compacted yet."""
    regions = TABLE_REGIONS["cloudtrail"](investigation.env)
    days = sorted({r.day for r in investigation.records})
    for day in days[1:-1]:
        expected = sorted((r.record["eventID"], r.record.get("eventCategory", "Management"))
                          for r in investigation.records if r.day == day and r.region in regions)
        assert compact_rows(investigation.athena, day_string(day, "-")) == expected, day
    assert compact_rows(investigation.athena, day_string(investigation.today, "-")) == []
    assert {category for _, category in investigation.athena.compact_partitions} >= {"Management", "Data"}


def test_a_second_run_for_a_day_adds_nothing(investigation: Investigation, tmp_path: Path):
    """Idempotent: the schedule's retry, or a person starting the statement again, for a day that
    is already compacted writes no file and registers no partition."""
    athena = AthenaStandIn(investigation.stack, investigation.athena.root, investigation.today, tmp_path)
    yesterday = investigation.today - dt.timedelta(days=1)
    first = athena.compact(*scheduled_compaction(investigation.stack, investigation.today))
    partitions = {p: list(paths) for p, paths in athena.compact_partitions.items()}
    assert first.rows[0]["rows"] > 0 and {day for day, _ in partitions} == {day_string(yesterday, "-")}
    again = athena.compact(*scheduled_compaction(investigation.stack, investigation.today))
    assert again.rows == [{"rows": 0}] and athena.compact_partitions == partitions
    # The guard is the day's presence: the next day is still compacted.
    athena.compact(*scheduled_compaction(investigation.stack, investigation.today + dt.timedelta(days=1)))
    assert day_string(investigation.today, "-") in {day for day, _ in athena.compact_partitions}


def test_a_long_investigation_misses_a_day_the_compaction_did_not_copy(investigation: Investigation, tmp_path: Path):
    """The queries do read the compact table: with the day of the root's console sign-in left out
    of it, root_activity no longer returns that call."""
    expected = EXPECTATIONS["root_activity"].rows(investigation)
    old = [row for row in expected if row["eventtime"] < day_string(investigation.today, "-")]
    assert old, "the corpus has root calls before yesterday"
    skipped = dt.date.fromisoformat(old[0]["eventtime"][:10])
    athena = AthenaStandIn(investigation.stack, investigation.athena.root, investigation.today, tmp_path)
    for day in sorted({r.day for r in investigation.records})[1:]:
        if day != skipped + dt.timedelta(days=1):  # the run copying `skipped` is missing
            athena.compact(*scheduled_compaction(investigation.stack, day))
    rows = athena.run(investigation.sql("root_activity")).rows
    missing = [row for row in expected if row not in rows]
    assert missing and all(row["eventtime"].startswith(skipped.isoformat()) or row["eventtime"][:10] < skipped.isoformat()
                           for row in missing), missing


# The volume the cost is stated for, and the files CloudTrail delivers for it: a file per region
# and five minutes, so a busy region's files each hold a day's events / 288.
BUSY_EVENTS_PER_DAY = 1_000_000
STATED_EVENTS_PER_DAY = (100_000, BUSY_EVENTS_PER_DAY)
SAMPLE_EVENTS = 30_000
DELIVERIES_PER_DAY = 24 * 60 // 5
CUTOFF = 1024**3
MAX_SHARE_OF_LOGS = {90: 0.05, 30: 0.10}  # by window: what a compacted investigation may read of its logs


@dataclasses.dataclass(frozen=True)
class DayCost:
    """The bytes one day of a busy account costs, per event: its log files (all of them, and those
    each table of the logs projects), what each investigation reads of a compact day, and the
    compact day's files."""

    raw_per_event: float
    table_per_event: dict[str, float]  # `cloudtrail`, `home_region_events`: a day of their files
    compact_per_event: float
    query_per_event: dict[str, float]  # the compact column chunks an investigation reads of a day

    def scan(self, query: str, events_per_day: int) -> tuple[float, float]:
        """(bytes it reads, bytes the same window of logs holds) in a run of `query` over its
        days: the compact table for the days before today, when it reads it, and today's logs
        (counted whole: the most today's folders hold)."""
        expectation = EXPECTATIONS[query]
        logs_a_day = self.table_per_event[expectation.table]
        logs = events_per_day * (expectation.days + 1) * logs_a_day
        if not expectation.compacted:
            return logs, logs
        return events_per_day * (expectation.days * self.query_per_event[query] + logs_a_day), logs


def busy_day(investigation: Investigation, root: Path, events: int) -> dt.date:
    """One past day of the corpus, its traffic repeated (new event and request ids, the times
    spread over the day) to `events` records, delivered as CloudTrail delivers that volume."""
    day = investigation.today - dt.timedelta(days=3)
    sample = [r for r in investigation.records if r.day == day]
    rng = random.Random(7)
    by_region: dict[str, list[dict]] = {}
    for n in range(events):
        source = sample[n % len(sample)]
        record = copy.deepcopy(source.record)
        record["eventID"], record["requestID"] = str(uuid_of(rng)), str(uuid_of(rng)).replace("-", "").upper()[:16]
        moment = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=rng.randrange(86400))
        record["eventTime"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        by_region.setdefault(source.region, []).append(record)
    per_file = BUSY_EVENTS_PER_DAY // DELIVERIES_PER_DAY
    for region, records in sorted(by_region.items()):
        records.sort(key=lambda r: r["eventTime"])
        for index in range(0, len(records), per_file):
            key = log_key(investigation.env.account_id, region, dt.datetime.combine(day, dt.time(12)), f"{index:016d}")
            path = root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            body = json.dumps({"Records": records[index:index + per_file]}, separators=(",", ":")).encode()
            path.write_bytes(gzip.compress(body, mtime=0))
    return day


def uuid_of(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


@pytest.fixture(scope="module")
def day_cost(investigation: Investigation, tmp_path_factory: pytest.TempPathFactory) -> DayCost:
    root = tmp_path_factory.mktemp(f"{investigation.env.name}-busy-bucket")
    day = busy_day(investigation, root, SAMPLE_EVENTS)
    athena = AthenaStandIn(investigation.stack, root, day + dt.timedelta(days=1), tmp_path_factory.mktemp("busy-duckdb"))
    assert athena.compact(*scheduled_compaction(investigation.stack, day + dt.timedelta(days=1))).rows == [{"rows": SAMPLE_EVENTS}]
    raw = sum(path.stat().st_size for path in athena.files)
    tables = {name: sum(path.stat().st_size for path in athena.files if projection.partition_of(athena.key(path)))
              for name, projection in athena.projections.items()}
    compact = sum(path.stat().st_size for paths in athena.compact_partitions.values() for path in paths)
    per_query = {}
    for query, expectation in EXPECTATIONS.items():
        if expectation.compacted:
            run = athena.run(investigation.sql(query))
            assert run.scanned.get(SCHEMA.compact.name), f"{query} read nothing of the compact day"
            per_query[query] = run.scanned[SCHEMA.compact.name] / SAMPLE_EVENTS
    return DayCost(raw / SAMPLE_EVENTS, {name: size / SAMPLE_EVENTS for name, size in tables.items()},
                   compact / SAMPLE_EVENTS, per_query)


def test_every_investigation_stays_under_the_cutoff_and_a_long_one_reads_a_fraction_of_the_logs(day_cost: DayCost):
    """At a million events a day, each investigation over 30 days or more reads the compact table
    and less than the workgroup's 1 GiB cutoff: a 90-day one at most 5% of what the same query would
    read of the log files alone, a 30-day one at most 10% (today's logs are a 31st of its window);
    the shorter ones read the logs and stay under the cutoff too."""
    long = [query for query, expectation in EXPECTATIONS.items() if expectation.days >= 30]
    assert sorted(day_cost.query_per_event) == sorted(long)
    for query, expectation in EXPECTATIONS.items():
        with_compact, logs = day_cost.scan(query, BUSY_EVENTS_PER_DAY)
        assert with_compact < CUTOFF, (query, with_compact)
        if query in long:
            assert logs > CUTOFF, f"{query}: the logs alone would pass the cutoff: the proof needs a busier day"
            assert with_compact <= MAX_SHARE_OF_LOGS[expectation.days] * logs, (query, with_compact / logs)


def megabytes(value: float) -> str:
    return f"{value / 1e6:,.0f} MB" if value >= 1e7 else f"{value / 1e6:,.1f} MB"


def dollars(value: float) -> str:
    """Two significant digits, never in exponent notation."""
    return f"${value:.{max(2, 1 - math.floor(math.log10(value)))}f}"


# List prices (us-east-1): Athena bills scanned bytes, S3 Standard stores by the GB-month.
ATHENA_PER_BYTE = 5 / 1e12
ATHENA_MINIMUM = 10 * 1e6  # bytes billed at least, per query
STORAGE_PER_GB_MONTH = 0.023
KEPT_DAYS = next(f for f in dataclasses.fields(Retention) if f.name == "compact_table_days").metadata["default"]


def cost_table(cost: DayCost) -> str:
    """The cost table of docs/investigations.md, from one day's measured bytes per event."""
    volumes = " | ".join(f"{n:,} events a day" for n in STATED_EVENTS_PER_DAY)
    lines = [f"| | {volumes} |", "| --- |" + " --- |" * len(STATED_EVENTS_PER_DAY)]
    lines.append("| log files, a day | " + " | ".join(megabytes(n * cost.raw_per_event) for n in STATED_EVENTS_PER_DAY) + " |")
    lines.append("| compaction, a day (reads one day of logs) | "
                 + " | ".join(f"{megabytes(n * cost.raw_per_event)}, "
                              f"{dollars(max(n * cost.raw_per_event, ATHENA_MINIMUM) * ATHENA_PER_BYTE)}"
                              for n in STATED_EVENTS_PER_DAY) + " |")
    lines.append("| compact table, written a day | "
                 + " | ".join(megabytes(n * cost.compact_per_event) for n in STATED_EVENTS_PER_DAY) + " |")
    lines.append(f"| compact table, {KEPT_DAYS} days kept, a month | "
                 + " | ".join(dollars(n * cost.compact_per_event * KEPT_DAYS / 1e9 * STORAGE_PER_GB_MONTH)
                              for n in STATED_EVENTS_PER_DAY) + " |")
    for query in sorted(EXPECTATIONS, key=lambda q: (-EXPECTATIONS[q].days, q)):
        cells = []
        for n in STATED_EVENTS_PER_DAY:
            reads, logs = cost.scan(query, n)
            share = f" ({reads / logs:.1%} of {megabytes(logs)})" if reads < logs else ""
            cells.append(f"{megabytes(reads)}, {dollars(max(reads, ATHENA_MINIMUM) * ATHENA_PER_BYTE)}{share}")
        days = EXPECTATIONS[query].days
        window = f"{days} days" if days else "today"
        lines.append(f"| `{query}`, {window} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_the_cost_table_of_the_document_is_what_the_corpus_measures(day_cost: DayCost):
    """docs/investigations.md states the cost at 100k and 1M events a day; each figure is within
    10% of what this environment's busy day measures (the failure prints the measured table)."""
    measured = cost_table(day_cost)
    documented = section((DOCS_DIR / "investigations.md").read_text(), "investigation-cost")
    number = re.compile(r"\d[\d,]*(?:\.\d+)?")

    def figures(table: str) -> list[float]:
        return [float(n.replace(",", "")) for line in table.splitlines()[2:] for n in number.findall(line.split("|", 2)[2])]
    assert documented.count("\n") == measured.count("\n") and len(figures(documented)) == len(figures(measured)), measured
    for doc, now in zip(figures(documented), figures(measured), strict=True):
        assert abs(doc - now) <= 0.1 * abs(now), f"documented {doc}, measured {now}:\n{measured}"


def test_the_compaction_statement_is_what_athena_accepts_with_execution_parameters():
    """Athena takes execution parameters in INSERT INTO, as `?` in WHERE clauses only, and writes
    the SELECT's columns into the table's by position: the statement's columns are the compact
    table's, in its order, partition columns last."""
    tree = sqlglot.parse_one(load_compaction().text, read="trino")
    placeholders = list(tree.find_all(exp.Placeholder))
    assert len(placeholders) == 2 and all(p.find_ancestor(exp.Where) for p in placeholders)
    assert isinstance(tree, exp.Insert) and tree.this.name == SCHEMA.compact.name
    names = [projection.alias_or_name for projection in tree.expression.expressions]
    assert names == [n for n, _ in (*SCHEMA.compact.columns, *SCHEMA.compact.partition_keys)]
