"""Athena over the CloudTrail logs: a workgroup on engine version 3 that enforces KMS-encrypted
results, a Glue database, the tables of `data/cloudtrail_tables.toml` with partition projection,
the compact table the daily compaction fills (compaction.py), and the named queries of
`queries/*.sql`, rendered for this environment (`definitions/queries.py`).

Athena runs queries with the caller's own permissions, so `grant_query` gives the grantee
everything a query needs: the workgroup, the Glue catalog objects (every table), reading the
trail bucket and the compact table's files, writing the results bucket, and the keys through S3.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from constructs import Construct

from definitions import naming
from definitions.aws_context import AwsContext
from definitions.cloudtrail_tables import CompactTable, Schema, Table, load_schema
from definitions.queries import QueryTemplate, load_queries
from modules.audit.audit_trail import AuditTrail
from modules.foundation.bindings import athena_named_query, athena_workgroup, glue_catalog_database, glue_catalog_table
from modules.foundation.iam import Role
from modules.foundation.input_checks import check_input
from modules.foundation.policy import Grantee, Statement
from modules.foundation.rendering import multiline
from modules.storage.encryption_key import EncryptionKey
from modules.storage.secure_bucket import SecureBucket

TABLE_NAME = "cloudtrail"  # the table of every record; the others are in data/cloudtrail_tables.toml
RESULTS_PREFIX = "query-results/"
# The compact table's files, in the results bucket beside the results: encrypted with the same key,
# and deletable (the trail bucket's Object Lock would keep a failed run's files; see compaction.py).
COMPACT_PREFIX = "compact/"
# The partition every CloudTrail table ends with: the day, projected as a date.
DAY = "timestamp"
# The queries use engine 3's dialect (Trino); pinned, so that Athena's automatic upgrades cannot change it.
ENGINE_VERSION = "Athena engine version 3"

QUERY_ACTIONS = (
    "athena:BatchGetNamedQuery", "athena:BatchGetQueryExecution", "athena:GetNamedQuery", "athena:GetQueryExecution",
    "athena:GetQueryResults", "athena:GetQueryResultsStream", "athena:GetWorkGroup", "athena:ListNamedQueries",
    "athena:ListQueryExecutions", "athena:StartQueryExecution", "athena:StopQueryExecution",
)
CATALOG_READ_ACTIONS = ("glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables",
                        "glue:GetPartition", "glue:GetPartitions")


def encrypted_workgroup(scope: Construct, *, name: str, description: str, output_location: str, key: EncryptionKey,
                        bytes_scanned_cutoff: int) -> athena_workgroup.AthenaWorkgroup:
    """A workgroup (construct id `workgroup`) on the pinned engine, publishing its metrics, whose
    enforced configuration writes results to `output_location` encrypted SSE-KMS with `key`; the
    same encryption applies to the files an INSERT writes (Athena user guide, "INSERT INTO")."""
    configuration = athena_workgroup.AthenaWorkgroupConfiguration(
        enforce_workgroup_configuration=True,
        publish_cloudwatch_metrics_enabled=True,
        bytes_scanned_cutoff_per_query=bytes_scanned_cutoff,
        engine_version=athena_workgroup.AthenaWorkgroupConfigurationEngineVersion(selected_engine_version=ENGINE_VERSION),
        result_configuration=athena_workgroup.AthenaWorkgroupConfigurationResultConfiguration(
            output_location=output_location,
            encryption_configuration=athena_workgroup.AthenaWorkgroupConfigurationResultConfigurationEncryptionConfiguration(
                encryption_option="SSE_KMS", kms_key_arn=key.arn),
        ),
    )
    return athena_workgroup.AthenaWorkgroup(scope, "workgroup", name=name, description=description, state="ENABLED",
                                            force_destroy=False, configuration=configuration)


def grant_workgroup_queries(grantee: Grantee, workgroup_arn: str, catalog_arns: Sequence[str]) -> list[Statement]:
    """Run queries in a workgroup and read the Glue catalog objects they name; the data and the
    results are granted apart. Returns the statements added."""
    return [grantee.allow("RunAthenaQueries", QUERY_ACTIONS, [workgroup_arn]),
            grantee.allow("ReadCloudTrailCatalog", CATALOG_READ_ACTIONS, list(catalog_arns))]


def query_values(*, account: str, region: str, data_bucket: str, results_bucket: str, trail_bucket: str, trail_name: str,
                 trail_arn: str, data_key_arn: str, application_role_arn: str) -> dict[str, str]:
    """What an environment's named queries name (definitions/queries.py PLACEHOLDERS), by placeholder."""
    return {"account_id": account, "home_region": region, "data_bucket": data_bucket, "results_bucket": results_bucket,
            "trail_bucket": trail_bucket, "trail_name": trail_name, "trail_arn": trail_arn, "data_key_arn": data_key_arn,
            "application_role_arn": application_role_arn}


def named_queries(scope: Construct, templates: Sequence[QueryTemplate], values: Mapping[str, str], *, database_name: str,
                  workgroup: athena_workgroup.AthenaWorkgroup) -> dict[str, str]:
    """A named query in `workgroup` per template, rendered with `values`; returns the SQL by name."""
    rendered = {}
    for template in templates:
        rendered[template.name] = template.render(values)
        athena_named_query.AthenaNamedQuery(
            scope, f"query-{template.name}", name=template.name, description=template.description,
            database=database_name, workgroup=workgroup.id, query=multiline(scope, rendered[template.name]))
    return rendered


@dataclasses.dataclass(frozen=True)
class Partition:
    """A projected partition column before the day, with its `projection.<name>.*` parameters, and
    the fixed folders, if any, between its folder and the next (`CloudTrail/` after an
    organization trail's account)."""

    name: str
    projection: Mapping[str, str]
    folders_after: str = ""


def cloudtrail_table(scope: Construct, schema: Schema, table: Table, *, database_name: str, location: str,
                     partitions: Sequence[Partition], projection_start: str) -> glue_catalog_table.GlueCatalogTable:
    """A Glue table over CloudTrail's JSON log files below `location`: `partitions` (one folder
    level each, in order), then the day, all projected (Athena computes the partitions, Glue stores none)."""
    # `$${...}` is a literal `${...}` for Terraform: Athena fills in the projected values.
    folders = "".join(f"$${{{partition.name}}}/{partition.folders_after}" for partition in partitions)
    projections = {f"projection.{p.name}.{key}": value for p in partitions for key, value in p.projection.items()}
    return glue_catalog_table.GlueCatalogTable(
        scope, f"{table.name.replace('_', '-')}-table", name=table.name, database_name=database_name,
        description=table.description,
        table_type="EXTERNAL_TABLE",
        parameters={
            "classification": "cloudtrail",
            "EXTERNAL": "TRUE",
            "projection.enabled": "true",
            **projections,
            f"projection.{DAY}.type": "date",
            f"projection.{DAY}.format": "yyyy/MM/dd",
            f"projection.{DAY}.interval": "1",
            f"projection.{DAY}.interval.unit": "DAYS",
            f"projection.{DAY}.range": f"{projection_start},NOW",
            "storage.location.template": f"{location}{folders}$${{{DAY}}}",
        },
        partition_keys=[glue_catalog_table.GlueCatalogTablePartitionKeys(name=p.name, type="string") for p in partitions]
        + [glue_catalog_table.GlueCatalogTablePartitionKeys(name=n, type=t) for n, t in schema.partition_keys if n == DAY],
        storage_descriptor=glue_catalog_table.GlueCatalogTableStorageDescriptor(
            location=location,
            input_format=schema.input_format,
            output_format=schema.output_format,
            ser_de_info=glue_catalog_table.GlueCatalogTableStorageDescriptorSerDeInfo(
                name="cloudtrail", serialization_library=schema.serde),
            columns=[glue_catalog_table.GlueCatalogTableStorageDescriptorColumns(name=n, type=t) for n, t in table.columns],
        ),
    )


class Analytics(Construct):
    """Inputs:
    - workgroup_name, database_name: Athena workgroup and Glue database (required).
    - trail: the AuditTrail whose logs the tables read (required).
    - results_bucket: the SecureBucket of the query results (required).
    - key: the EncryptionKey of the query results (required).
    - data_bucket: the SecureBucket the queries investigate; its key is the one whose use they report (required).
    - application_role: the Role whose sessions the queries report (required).
    - bytes_scanned_cutoff: per-query scan limit in bytes (default 1 GiB).
    - projection_start: first day of the date projection, YYYY/MM/DD (required).
    - projected_regions: regions of the `cloudtrail` table's region projection (required).
    - management_events: whether the trail records the account's management events (default True);
      without them, only the named queries about data events are deployed: the others would find
      nothing (the organization's workgroup runs those it can on one account).

    Exposes `name`, `arn` and `resource` (the workgroup's), `database`, `table` (the `cloudtrail`
    table), `tables` (every Glue table, by name, the compact table included), `compact_table`,
    `compact_name`, `compact_location` and `queries` (the rendered SQL, by name).
    """

    def __init__(self, scope: Construct, id: str, *, workgroup_name: str, database_name: str, trail: AuditTrail,
                 results_bucket: SecureBucket, key: EncryptionKey, data_bucket: SecureBucket, application_role: Role,
                 projection_start: str, projected_regions: Sequence[str], bytes_scanned_cutoff: int = 1024**3,
                 management_events: bool = True) -> None:
        super().__init__(scope, id)
        for what, value, check in (("workgroup_name", workgroup_name, naming.workgroup_name_problem),
                                   ("database_name", database_name, naming.glue_database_name_problem),
                                   ("bytes_scanned_cutoff", bytes_scanned_cutoff, naming.athena_scan_cutoff_problem),
                                   ("projection_start", projection_start, naming.date_problem),
                                   ("projected_regions", list(projected_regions), naming.each(naming.region_problem))):
            check_input(self, what, value, check)
        context = AwsContext.of(self)
        self.trail, self.results_bucket = trail, results_bucket
        self.name = workgroup_name
        self.arn = context.arn("athena", f"workgroup/{workgroup_name}")
        self.database_name = database_name
        self.catalog_arn = context.arn("glue", "catalog")
        self.database_arn = context.arn("glue", f"database/{database_name}")

        self.resource = encrypted_workgroup(self, name=workgroup_name, description="Queries over the CloudTrail logs",
                                            output_location=f"s3://{results_bucket.name}/{RESULTS_PREFIX}", key=key,
                                            bytes_scanned_cutoff=bytes_scanned_cutoff)
        self.database = glue_catalog_database.GlueCatalogDatabase(
            self, "database", name=database_name, description="CloudTrail logs, queried with Athena")
        schema = load_schema()
        regions = {"projected": list(projected_regions), "home": [context.region]}
        self.tables = {table.name: self._table(schema, table, projection_start, regions[table.regions])
                       for table in schema.tables}
        self.table = self.tables[TABLE_NAME]
        self.compact_location = f"s3://{results_bucket.name}/{COMPACT_PREFIX}{schema.compact.name}/"
        self.compact_name = schema.compact.name
        self.compact_table = self._compact_table(schema.compact)
        self.tables[schema.compact.name] = self.compact_table
        self.table_arns = [self.table_arn(name) for name in self.tables]

        # Names known at synth are written as text; the key's ARN is a reference, known at apply.
        values = query_values(account=context.account, region=context.region, data_bucket=data_bucket.name,
                              results_bucket=results_bucket.name, trail_bucket=trail.bucket.name, trail_name=trail.name,
                              trail_arn=trail.arn, data_key_arn=data_bucket.key.arn,
                              application_role_arn=context.arn("iam", f"role/{application_role.name}"))
        templates = [t for t in load_queries() if management_events or t.reads_data_events_only]
        self.queries = named_queries(self, templates, values, database_name=self.database.name, workgroup=self.resource)

    def _table(self, schema: Schema, table: Table, projection_start: str,
               regions: Sequence[str]) -> glue_catalog_table.GlueCatalogTable:
        location = f"s3://{self.trail.bucket.name}/{self.trail.log_prefix}"
        return cloudtrail_table(self, schema, table, database_name=self.database.name, location=location,
                                partitions=[Partition("region", {"type": "enum", "values": ",".join(regions)})],
                                projection_start=projection_start)

    def _compact_table(self, compact: CompactTable) -> glue_catalog_table.GlueCatalogTable:
        # No projection: Athena's INSERT INTO registers each partition it writes.
        return glue_catalog_table.GlueCatalogTable(
            self, f"{compact.name.replace('_', '-')}-table", name=compact.name, database_name=self.database.name,
            description=compact.description, table_type="EXTERNAL_TABLE",
            parameters={"classification": "parquet", "EXTERNAL": "TRUE", "parquet.compression": compact.compression},
            partition_keys=[glue_catalog_table.GlueCatalogTablePartitionKeys(name=n, type=t) for n, t in compact.partition_keys],
            storage_descriptor=glue_catalog_table.GlueCatalogTableStorageDescriptor(
                location=self.compact_location, input_format=compact.input_format, output_format=compact.output_format,
                ser_de_info=glue_catalog_table.GlueCatalogTableStorageDescriptorSerDeInfo(
                    name="parquet", serialization_library=compact.serde),
                columns=[glue_catalog_table.GlueCatalogTableStorageDescriptorColumns(name=n, type=t) for n, t in compact.columns],
            ),
        )

    def table_arn(self, name: str) -> str:
        return AwsContext.of(self).arn("glue", f"table/{self.database_name}/{name}")

    def grant_query(self, grantee: Grantee) -> list[Statement]:
        """Run queries in the workgroup: everything Athena does with the caller's permissions.
        Returns the statements added (identity, key and bucket policies)."""
        return [*grant_workgroup_queries(grantee, self.arn, [self.catalog_arn, self.database_arn, *self.table_arns]),
                *self.trail.grant_read_logs(grantee),
                *self.results_bucket.grant_read(grantee, prefix=COMPACT_PREFIX),
                *self.results_bucket.grant_read_write(grantee, prefix=RESULTS_PREFIX)]
