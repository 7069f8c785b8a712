"""What the organization's audit trail costs a month, from its topology: the lines that grow with
every account, and those that stay the same whatever the number of accounts.

Prices are AWS's list prices in us-east-1 (the CloudTrail, CloudWatch and S3 pricing pages); a GB
is 2^30 bytes, as AWS bills it. The volume of an account is assumed, not measured: `Volume` says
what is assumed, and `make org-cost` takes an account's events a month (EVENTS=) to price yours.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from environments.config import Environment
from environments.organization import Organization

GB = 2**30
SECOND_COPY_PER_100K_EVENTS = 2.00  # CloudTrail: each copy of management events after the first
LOGS_INGESTION_PER_GB = 0.50  # CloudWatch Logs, Standard log class
S3_STANDARD_PER_GB_MONTH = 0.023  # S3 Standard, first 50 TB
METRIC_PER_MONTH = 0.30  # a custom metric (a metric filter's), first 10,000
ALARM_PER_MONTH = 0.10  # a standard-resolution alarm


@dataclasses.dataclass(frozen=True)
class Volume:
    """An account's month, assumed: its management events, and the size of one event as CloudTrail
    delivers it to CloudWatch Logs (JSON) and as it lies in a gzip log file in S3."""

    management_events: int = 1_000_000
    delivered_bytes: int = 1_500
    stored_bytes: int = 150


@dataclasses.dataclass(frozen=True)
class CostLine:
    what: str
    per_account: bool  # grows with every account
    monthly: float  # USD


def monthly_costs(accounts: int, second_copy_accounts: int, cis_alarms: int, volume: Volume = Volume()) -> list[CostLine]:
    """The month of an organization of `accounts` accounts, `second_copy_accounts` of which keep a
    trail of their own that records management events again, with `cis_alarms` CIS alarms (one
    metric filter and one alarm each, on the organization trail's log group)."""
    events = accounts * volume.management_events
    return [
        CostLine("Management events, first copy (the organization trail)", False, 0.0),
        CostLine("A second copy in the environments' own trails (accept_duplicate_management_events)", True,
                 second_copy_accounts * volume.management_events / 100_000 * SECOND_COPY_PER_100K_EVENTS),
        CostLine("Delivery to CloudWatch Logs, where the CIS alarms' filters read", True,
                 events * volume.delivered_bytes / GB * LOGS_INGESTION_PER_GB),
        CostLine("Log files in S3, for each month kept", True, events * volume.stored_bytes / GB * S3_STANDARD_PER_GB_MONTH),
        CostLine("CIS metric filters and alarms (one set for the organization, no dimension per account)", False,
                 cis_alarms * (METRIC_PER_MONTH + ALARM_PER_MONTH)),
    ]


def second_copy_accounts(org: Organization, envs: Sequence[Environment]) -> int:
    """The accounts whose environments keep a management-event trail beside the organization trail."""
    if org.settings.trail != "managed" or not org.settings.accept_duplicate_management_events:
        return 0
    return len({env.account_id for env in envs if env.audit.management_events})


def markdown(columns: Sequence[tuple[str, list[CostLine]]]) -> str:
    """One row per line, one column of monthly USD per (heading, lines)."""
    header = "| | grows with each account | " + " | ".join(heading for heading, _ in columns) + " |"
    rows = [header, "| --- | --- | " + " | ".join("---:" for _ in columns) + " |"]
    for index, line in enumerate(columns[0][1]):
        amounts = " | ".join(f"${lines[index].monthly:,.2f}" for _, lines in columns)
        rows.append(f"| {line.what} | {'yes' if line.per_account else 'no'} | {amounts} |")
    totals = " | ".join(f"**${sum(line.monthly for line in lines):,.2f}**" for _, lines in columns)
    rows.append(f"| **a month** | | {totals} |")
    return "\n".join(rows)


def sized_statement(sizes: Sequence[int], cis_alarms: int, volume: Volume = Volume()) -> str:
    """The month of organizations of `sizes` accounts, each also keeping its own trail (the
    copy `accept_duplicate_management_events` lets them pay for), for docs/organization.md."""
    return markdown([(f"{size:,} accounts", monthly_costs(size, size, cis_alarms, volume)) for size in sizes])
