"""Athena over the organization trail's logs, in the security account: a workgroup that enforces
KMS-encrypted results, a Glue database, and two tables over `AWSLogs/<organization id>/` in the
log-archive account's bucket. The trail writes
`AWSLogs/<organization id>/<account>/CloudTrail/<region>/<YYYY/MM/DD>/` (CloudTrail user guide,
"Finding your CloudTrail log files"): the account's folder, then `CloudTrail/`. Both tables have
the `cloudtrail` table's columns:

- `org_cloudtrail`: partitions projected on account (an enum: the topology's accounts), region and
  day. A new account is queryable once it is in organization.toml.
- `account_cloudtrail`: the account is an `injected` projection, so Athena refuses a query without
  an equality on it (Athena user guide, "Injected type"), and reads that account's files alone,
  whether or not the topology lists it.

The organization's investigations (`definitions/queries.py` `load_organization_queries`) are named
queries of the workgroup, rendered with the topology's accounts; so are, for each environment that
leaves its management events to the organization trail, its investigations of management events on
its account (`<environment>_<query>`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from constructs import Construct

from definitions import naming
from definitions.aws_context import AwsContext
from definitions.cloudtrail_tables import load_schema
from definitions.queries import load_organization_queries, load_queries, on_one_account
from modules.analytics.athena import (
    RESULTS_PREFIX,
    Partition,
    cloudtrail_table,
    encrypted_workgroup,
    grant_workgroup_queries,
    named_queries,
)
from modules.foundation.bindings import glue_catalog_database
from modules.foundation.policy import Grantee, Statement
from modules.storage.encryption_key import EncryptionKey
from modules.storage.secure_bucket import SecureBucket

SOURCE_TABLE = "cloudtrail"  # the table of data/cloudtrail_tables.toml whose columns both tables have
ORGANIZATION_TABLE = "org_cloudtrail"
ACCOUNT_TABLE = "account_cloudtrail"
LOG_FOLDER = "CloudTrail/"  # between an account's folder and its regions'


class OrganizationTables(Construct):
    """Inputs:
    - workgroup_name, database_name: Athena workgroup and Glue database (required).
    - logs_location: `s3://<trail bucket>/AWSLogs/<organization id>/` (required).
    - accounts: the topology's accounts: `org_cloudtrail`'s projection, and what the investigations
      call the organization (required).
    - management_account: the management account, whose logs record AWS Organizations' calls (required).
    - regions: the regions of both tables' projections (required).
    - projection_start: first day of the day projection, YYYY/MM/DD (required).
    - results_bucket, key: where results go, and their key (required).
    - bytes_scanned_cutoff: per-query scan limit in bytes (required).
    - environment_queries: {environment name: its query values (athena.query_values)} of the
      environments whose investigations of management events run here (default none).

    Exposes `name` and `arn` (the workgroup's), `tables` (by name), `catalog_arns` (the catalog, the
    database, the tables), `queries` (the rendered SQL, by name).
    """

    def __init__(self, scope: Construct, id: str, *, workgroup_name: str, database_name: str, logs_location: str,
                 accounts: Sequence[str], management_account: str, regions: Sequence[str], projection_start: str, results_bucket: SecureBucket,
                 key: EncryptionKey, bytes_scanned_cutoff: int,
                 environment_queries: Mapping[str, Mapping[str, str]] | None = None) -> None:
        super().__init__(scope, id)
        context = AwsContext.of(self)
        self.results_bucket = results_bucket
        self.name = workgroup_name
        self.arn = context.arn("athena", f"workgroup/{workgroup_name}")
        self.resource = encrypted_workgroup(self, name=workgroup_name, description="Investigations across the organization",
                                            output_location=f"s3://{results_bucket.name}/{RESULTS_PREFIX}", key=key,
                                            bytes_scanned_cutoff=bytes_scanned_cutoff)
        database = glue_catalog_database.GlueCatalogDatabase(
            self, "database", name=database_name, description="The organization trail's logs, queried with Athena")
        schema = load_schema()
        source = schema.table(SOURCE_TABLE)
        region = Partition("region", {"type": "enum", "values": ",".join(regions)})
        topology = ",".join(sorted(accounts))
        shapes = {
            ORGANIZATION_TABLE: ("The organization's CloudTrail logs, projected on account, region and day",
                                 Partition("account", {"type": "enum", "values": topology}, LOG_FOLDER)),
            ACCOUNT_TABLE: ("The CloudTrail logs of one account (a query must name it: account = '...'), by region and day",
                            Partition("account", {"type": "injected"}, LOG_FOLDER)),
        }
        self.tables = {
            name: cloudtrail_table(self, schema, dataclasses.replace(source, name=name, description=description),
                                   database_name=database.name, location=logs_location, partitions=[account, region],
                                   projection_start=projection_start)
            for name, (description, account) in shapes.items()}
        values = {"organization_accounts": topology, "management_account": management_account,
                  "organizations_region": naming.global_region(context.partition)}
        self.queries = named_queries(self, load_organization_queries(), values, database_name=database.name,
                                     workgroup=self.resource)
        for environment, environment_values in sorted((environment_queries or {}).items()):
            account = environment_values["account_id"]
            variants = [on_one_account(template) for template in load_queries() if not template.reads_data_events_only]
            templates = [dataclasses.replace(variant, name=f"{environment}_{variant.name}",
                                             description=f"{variant.description} Environment {environment}, account {account}.")
                         for variant in variants]
            self.queries |= named_queries(self, templates, environment_values, database_name=database.name,
                                          workgroup=self.resource)
        self.catalog_arns = [context.arn("glue", "catalog"), context.arn("glue", f"database/{database_name}"),
                             *(context.arn("glue", f"table/{database_name}/{name}") for name in self.tables)]

    def grant_query(self, grantee: Grantee) -> list[Statement]:
        """Run queries in the workgroup and write their results; reading the logs is granted apart
        (the bucket and the key are in other stacks). Returns the statements added."""
        return [*grant_workgroup_queries(grantee, self.arn, self.catalog_arns),
                *self.results_bucket.grant_read_write(grantee, prefix=RESULTS_PREFIX)]
