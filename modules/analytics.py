"""Athena over the CloudTrail logs: a workgroup that enforces KMS-encrypted results, a Glue
database and CloudTrail table with partition projection, and named queries from `queries/*.sql`.

Athena runs queries with the caller's own permissions, so `grant_query` gives the grantee
everything a query needs: the workgroup, the Glue catalog objects, reading the trail bucket,
writing the results bucket, and the keys through S3.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path

from constructs import Construct

from modules.audit_trail import AuditTrail
from modules.aws import athena_named_query, athena_workgroup, glue_catalog_database, glue_catalog_table
from modules.context import AwsContext
from modules.encryption_key import EncryptionKey
from modules.policy import Grantee
from modules.rendering import multiline
from modules.secure_bucket import SecureBucket

TABLE_FILE = Path(__file__).parent / "data" / "cloudtrail_table.toml"
QUERIES_DIR = Path(__file__).resolve().parent.parent / "queries"
TABLE_NAME = "cloudtrail"
RESULTS_PREFIX = "query-results/"

QUERY_ACTIONS = (
    "athena:BatchGetNamedQuery", "athena:BatchGetQueryExecution", "athena:GetNamedQuery", "athena:GetQueryExecution",
    "athena:GetQueryResults", "athena:GetQueryResultsStream", "athena:GetWorkGroup", "athena:ListNamedQueries",
    "athena:ListQueryExecutions", "athena:StartQueryExecution", "athena:StopQueryExecution",
)
CATALOG_READ_ACTIONS = ("glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables",
                        "glue:GetPartition", "glue:GetPartitions")


def named_queries(directory: Path = QUERIES_DIR) -> list[tuple[str, str, str]]:
    """(name, description, sql) per `.sql` file; the description is the file's first comment line."""
    queries = []
    for path in sorted(directory.glob("*.sql")):
        sql = path.read_text(encoding="utf-8")
        first = sql.splitlines()[0] if sql else ""
        if not first.startswith("-- "):
            raise ValueError(f"{path.name}: the first line must be a '-- description' comment")
        queries.append((path.stem, first[3:].strip(), sql))
    return queries


class Analytics(Construct):
    """Inputs:
    - workgroup_name, database_name: Athena workgroup and Glue database (required).
    - trail: the AuditTrail whose logs the table reads (required).
    - results_bucket: the SecureBucket of the query results (required).
    - key: the EncryptionKey of the query results (required).
    - bytes_scanned_cutoff: per-query scan limit in bytes (default 1 GiB).
    - projection_start: first day of the date projection, YYYY/MM/DD (required).
    - projected_regions: regions of the region projection (required).

    Exposes `name`, `arn` and `resource` (the workgroup's), `database` and `table`.
    """

    def __init__(self, scope: Construct, id: str, *, workgroup_name: str, database_name: str, trail: AuditTrail,
                 results_bucket: SecureBucket, key: EncryptionKey,
                 projection_start: str, projected_regions: Sequence[str], bytes_scanned_cutoff: int = 1024**3) -> None:
        super().__init__(scope, id)
        context = AwsContext.of(self)
        self.trail, self.results_bucket = trail, results_bucket
        self.name = workgroup_name
        self.arn = context.arn("athena", f"workgroup/{workgroup_name}")
        self.catalog_arn = context.arn("glue", "catalog")
        self.database_arn = context.arn("glue", f"database/{database_name}")
        self.table_arn = context.arn("glue", f"table/{database_name}/{TABLE_NAME}")

        self.resource = athena_workgroup.AthenaWorkgroup(
            self, "workgroup", name=workgroup_name, description="Queries over the CloudTrail logs",
            state="ENABLED", force_destroy=False,
            configuration=athena_workgroup.AthenaWorkgroupConfiguration(
                enforce_workgroup_configuration=True,
                publish_cloudwatch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=bytes_scanned_cutoff,
                result_configuration=athena_workgroup.AthenaWorkgroupConfigurationResultConfiguration(
                    output_location=f"s3://{results_bucket.name}/{RESULTS_PREFIX}",
                    encryption_configuration=athena_workgroup.AthenaWorkgroupConfigurationResultConfigurationEncryptionConfiguration(
                        encryption_option="SSE_KMS", kms_key_arn=key.arn),
                ),
            ),
        )
        self.database = glue_catalog_database.GlueCatalogDatabase(
            self, "database", name=database_name, description="CloudTrail logs, queried with Athena")
        self.table = self._cloudtrail_table(projection_start, projected_regions)
        for name, description, sql in named_queries():
            athena_named_query.AthenaNamedQuery(self, f"query-{name}", name=name, description=description,
                                                database=self.database.name, workgroup=self.resource.id,
                                                query=multiline(self, sql))

    def _cloudtrail_table(self, projection_start: str,
                          projected_regions: Sequence[str]) -> glue_catalog_table.GlueCatalogTable:
        with TABLE_FILE.open("rb") as handle:
            spec = tomllib.load(handle)
        # `$${...}` is a literal `${...}` for Terraform: Athena fills in the projected values.
        location = f"s3://{self.trail.bucket.name}/{self.trail.log_prefix}"
        return glue_catalog_table.GlueCatalogTable(
            self, "cloudtrail-table", name=TABLE_NAME, database_name=self.database.name,
            description="CloudTrail logs with partition projection on region and day",
            table_type="EXTERNAL_TABLE",
            parameters={
                "classification": "cloudtrail",
                "EXTERNAL": "TRUE",
                "projection.enabled": "true",
                "projection.region.type": "enum",
                "projection.region.values": ",".join(projected_regions),
                "projection.timestamp.type": "date",
                "projection.timestamp.format": "yyyy/MM/dd",
                "projection.timestamp.interval": "1",
                "projection.timestamp.interval.unit": "DAYS",
                "projection.timestamp.range": f"{projection_start},NOW",
                "storage.location.template": f"{location}$${{region}}/$${{timestamp}}",
            },
            partition_keys=[glue_catalog_table.GlueCatalogTablePartitionKeys(name=n, type=t) for n, t in spec["partition_keys"]],
            storage_descriptor=glue_catalog_table.GlueCatalogTableStorageDescriptor(
                location=location,
                input_format=spec["input_format"],
                output_format=spec["output_format"],
                ser_de_info=glue_catalog_table.GlueCatalogTableStorageDescriptorSerDeInfo(
                    name="cloudtrail", serialization_library=spec["serde"]),
                columns=[glue_catalog_table.GlueCatalogTableStorageDescriptorColumns(name=n, type=t) for n, t in spec["columns"]],
            ),
        )

    def grant_query(self, grantee: Grantee) -> None:
        """Run queries in the workgroup: everything Athena does with the caller's permissions."""
        grantee.allow("RunAthenaQueries", QUERY_ACTIONS, [self.arn])
        grantee.allow("ReadCloudTrailCatalog", CATALOG_READ_ACTIONS, [self.catalog_arn, self.database_arn, self.table_arn])
        self.trail.grant_read_logs(grantee)
        self.results_bucket.grant_read_write(grantee, prefix=RESULTS_PREFIX)
