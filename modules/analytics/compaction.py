"""The daily compaction of the CloudTrail logs into the compact table: an EventBridge Scheduler
schedule whose universal target calls Athena's StartQueryExecution with the compaction statement
(`definitions/data/compaction.sql`), in a workgroup of its own, as a role of its own. No compute of
ours runs: Athena does the work, with the role's permissions.

- The statement copies the delivery day before the schedule's time, which the schedule passes as
  Athena execution parameters (the context attribute `<aws.scheduler.scheduled-time>`, replaced in
  a universal target's input: EventBridge Scheduler user guide, "Adding context attributes").
  Athena takes execution parameters in INSERT INTO, as `?` in WHERE clauses only, a string one
  quoted in its value (Athena user guide, "Use parameterized queries"): both `?` of the statement
  are in WHERE clauses, and each value is the quoted instant.
- Idempotent: the statement adds nothing for a day already in the compact table, and the request
  token is the scheduled time, so a retried invocation of one run starts one query (Athena API
  reference, StartQueryExecution `ClientRequestToken`).
- A failed run may leave files (Athena does not remove what a failed INSERT wrote) in a partition
  it did not register; docs/investigations.md says how to redo that day.
- The workgroup's own metrics tell the runs apart from investigations: monitoring.py alarms when a
  run fails and when a day passes without a successful one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from constructs import Construct

from definitions import naming
from definitions.aws_context import AwsContext
from definitions.queries import COMPACTION_TIME, load_compaction
from modules.analytics.athena import COMPACT_PREFIX, RESULTS_PREFIX, TABLE_NAME, Analytics, encrypted_workgroup
from modules.foundation.bindings import scheduler_schedule
from modules.foundation.iam import Role
from modules.foundation.input_checks import check_input
from modules.foundation.policy import Statement
from modules.storage.encryption_key import EncryptionKey

SCHEDULE_EXPRESSION = f"cron({COMPACTION_TIME.minute} {COMPACTION_TIME.hour} * * ? *)"  # daily, UTC
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
COMPACTION_RESULTS_PREFIX = f"{RESULTS_PREFIX}compaction/"
# What Athena does with the caller's permissions for an INSERT INTO a Hive table: read both
# tables' definitions and partitions, and register the partitions it writes (Athena user guide,
# "INSERT INTO" and "Fine-grained access to databases and tables": BatchCreatePartition).
CATALOG_ACTIONS = ("glue:GetDatabase", "glue:GetTable", "glue:GetPartition", "glue:GetPartitions")
PARTITION_WRITE_ACTIONS = ("glue:BatchCreatePartition", "glue:CreatePartition")
QUERY_ACTIONS = ("athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetWorkGroup")


class Compaction(Construct):
    """Inputs:
    - analytics: the Analytics whose `cloudtrail` table is read and whose compact table is filled (required).
    - workgroup_name: the compaction's Athena workgroup (required).
    - role_name: the role the schedule runs the statement as (required).
    - schedule_name: the EventBridge Scheduler schedule, in the default group (required).
    - key: the EncryptionKey of the workgroup's results and of the files it writes (required).
    - schedule_expression: when it runs (default daily at 00:05 UTC).
    - bytes_scanned_cutoff: per-run scan limit (default 10 GiB: one day of a busy account's logs).
    - always_admitted: principals besides the role that may change the compact table's files:
      break-glass, to redo a failed day (default none).

    Exposes `workgroup_name`, `workgroup` (the resource), `role` and `schedule`.
    """

    def __init__(self, scope: Construct, id: str, *, analytics: Analytics, workgroup_name: str, role_name: str,
                 schedule_name: str, key: EncryptionKey, schedule_expression: str = SCHEDULE_EXPRESSION,
                 bytes_scanned_cutoff: int = 10 * 1024**3, always_admitted: Sequence[str] = ()) -> None:
        super().__init__(scope, id)
        for what, value, check in (("workgroup_name", workgroup_name, naming.workgroup_name_problem),
                                   ("schedule_name", schedule_name, naming.schedule_name_problem),
                                   ("bytes_scanned_cutoff", bytes_scanned_cutoff, naming.athena_scan_cutoff_problem)):
            check_input(self, what, value, check)
        context = AwsContext.of(self)
        self.workgroup_name = workgroup_name
        results = analytics.results_bucket
        self.workgroup = encrypted_workgroup(
            self, name=workgroup_name, description="The daily compaction of the CloudTrail logs",
            output_location=f"s3://{results.name}/{COMPACTION_RESULTS_PREFIX}", key=key,
            bytes_scanned_cutoff=bytes_scanned_cutoff)
        workgroup_arn = context.arn("athena", f"workgroup/{workgroup_name}")

        # Scheduler's execution role, trusted by the service for this account's schedules only: the
        # key the Scheduler user guide ("Confused deputy prevention") says the service sends; its
        # aws:SourceArn would name a schedule group, never a schedule.
        self.role = Role(self, "role", name=role_name, description="Runs the daily compaction of the CloudTrail logs",
                         trust=[Statement(sid="TrustEventBridgeScheduler", actions=["sts:AssumeRole"],
                                          principals={"Service": [context.service_principal("scheduler")]},
                                          conditions={"StringEquals": {"aws:SourceAccount": [context.account]}})])
        grantee = self.role.grantee
        grantee.allow("StartCompaction", QUERY_ACTIONS, [workgroup_arn])
        compact_table = analytics.table_arn(analytics.compact_name)
        grantee.allow("ReadCatalog", CATALOG_ACTIONS, [analytics.catalog_arn, analytics.database_arn,
                                                       analytics.table_arn(TABLE_NAME), compact_table])
        grantee.allow("RegisterCompactPartitions", PARTITION_WRITE_ACTIONS,
                      [analytics.catalog_arn, analytics.database_arn, compact_table])
        analytics.trail.grant_read_logs(grantee)
        # Append only, the table and the runs' results: the compaction never deletes (redoing a
        # failed day is a person's decision).
        results.grant_append(grantee, [COMPACT_PREFIX, COMPACTION_RESULTS_PREFIX])
        # The long investigations trust the compact copy as they trust the logs: no one else writes
        # or deletes it, an administrator included (Athena writes with the role's own credentials,
        # so the request's aws:PrincipalArn is the role's).
        results.deny_changes("DenyCompactTableChangesButCompaction", COMPACT_PREFIX, [self.role.arn, *always_admitted])

        statement = load_compaction()
        parameters = [f"'{SCHEDULED_TIME}'"] * statement.text.count("?")
        request = {
            "ClientRequestToken": f"cloudtrail-compaction-{SCHEDULED_TIME}",
            "QueryExecutionContext": {"Database": analytics.database_name},
            "QueryString": statement.one_line,
            "WorkGroup": workgroup_name,
            "ExecutionParameters": parameters,
        }
        self.schedule = scheduler_schedule.SchedulerSchedule(
            self, "schedule", name=schedule_name, description=statement.description[:512],
            schedule_expression=schedule_expression, schedule_expression_timezone="UTC", state="ENABLED",
            flexible_time_window=scheduler_schedule.SchedulerScheduleFlexibleTimeWindow(mode="OFF"),
            target=scheduler_schedule.SchedulerScheduleTarget(
                arn=f"arn:{context.partition}:scheduler:::aws-sdk:athena:startQueryExecution",
                role_arn=self.role.arn,
                input=json.dumps(request, sort_keys=True),
                # Retries of the call only (throttling, an unavailable service); a failed query is
                # the alarm's business. Within the day the run is for.
                retry_policy=scheduler_schedule.SchedulerScheduleTargetRetryPolicy(
                    maximum_event_age_in_seconds=6 * 3600, maximum_retry_attempts=10),
            ),
        )

