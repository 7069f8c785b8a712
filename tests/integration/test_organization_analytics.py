"""The organization's investigations, proven without an AWS account: each named query of the
security account's stack, as synthesized, runs over a corpus of organization trail log files
(tests/fixtures/organization_corpus.py: the topology's accounts, one more created but not yet
listed, three regions, ten days) served by the stand-in for Athena (tests/athena_stand_in.py), and
returns exactly the rows plain Python computes from the same records. Each reads only the
partitions (account, region, day) it needs; a query pinned to one account through
`account_cloudtrail` reads that account's files alone, listed or not, and one without an equality on
the account is refused.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import gzip
import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from definitions import naming
from definitions.paths import ORGANIZATION_QUERIES_DIR
from definitions.queries import ORGANIZATION_PLACEHOLDERS, load_organization_queries, load_queries
from environments.organization import Organization
from tests.athena_stand_in import AthenaStandIn, QueryRefused, Run
from tests.fixtures.organization_corpus import OrganizationCorpusSpec, write_organization_corpus
from tests.stack_queries import resources
from tests.support import load_test_organization

# The organization's own investigations; those it runs on one account, taken from an environment's,
# are proven on the environment's corpus (tests/integration/test_analytics.py).
QUERY_NAMES = [template.name for template in load_queries(ORGANIZATION_QUERIES_DIR)]
EARLIEST_TODAY = dt.date(2026, 11, 20)
ORGANIZATION_TABLE, ACCOUNT_TABLE = "org_cloudtrail", "account_cloudtrail"


@dataclasses.dataclass(frozen=True)
class LogRecord:
    account: str
    region: str
    day: dt.date
    record: dict[str, Any]
    path: Path


@dataclasses.dataclass
class OrganizationInvestigation:
    org: Organization
    stack: dict
    spec: OrganizationCorpusSpec
    files: list[Path]
    records: list[LogRecord]
    athena: AthenaStandIn
    queries: dict[str, str]
    _runs: dict[str, Run] = dataclasses.field(default_factory=dict)

    @property
    def today(self) -> dt.date:
        return self.spec.today

    def days(self, back: int) -> set[dt.date]:
        return {self.today - dt.timedelta(days=n) for n in range(back + 1)}

    def in_table(self, back: int) -> list[LogRecord]:
        """What org_cloudtrail shows of the days from `back` days ago to today: the topology's accounts."""
        days = self.days(back)
        return [r for r in self.records if r.account in self.spec.listed and r.day in days]

    def run(self, name: str) -> Run:
        if name not in self._runs:
            self._runs[name] = self.athena.run(self.queries[name])
        return self._runs[name]


def _synth_security_stack(folder: Path, org: Organization) -> dict:
    from cdktf import Testing  # noqa: PLC0415 - the slow import

    from stacks.organization_stacks import organization_stacks  # noqa: PLC0415

    stack = next(s for s in organization_stacks(Testing.app(), org) if s.node.id == "org-security")
    return json.loads(Testing.synth(stack))


def _read_records(root: Path, files: list[Path]) -> list[LogRecord]:
    found = []
    for path in files:
        _, _, account, _, region, year, month, day, _ = path.relative_to(root).parts
        records = json.loads(gzip.decompress(path.read_bytes()))["Records"]
        found += [LogRecord(account, region, dt.date(int(year), int(month), int(day)), record, path) for record in records]
    return found


@pytest.fixture(scope="module")
def investigation(tmp_path_factory: pytest.TempPathFactory) -> OrganizationInvestigation:
    # Three simulated members besides the environments' accounts: the corpus gives four members
    # roles of their own.
    org = load_test_organization(tmp_path_factory.mktemp("organization"), simulated_members=3)
    stack = _synth_security_stack(tmp_path_factory.mktemp("synth"), org)
    s = org.settings
    start = dt.datetime.strptime(s.projection_start, "%Y/%m/%d").date()
    spec = OrganizationCorpusSpec(
        organization_id=s.id, management=s.management_account, log_archive=s.log_archive_account,
        security=s.security_account, members=tuple(sorted(m.id for m in org.members)), partition="aws",
        home_region=s.home_region, today=max(EARLIEST_TODAY, start + dt.timedelta(days=40)), deploy_role=s.deploy_role)
    root = tmp_path_factory.mktemp("organization-trail-bucket")
    files = write_organization_corpus(spec, root)
    athena = AthenaStandIn(stack, root, spec.today, tmp_path_factory.mktemp("organization-duckdb"))
    queries = {q["name"]: q["query"] for q in resources(stack, "aws_athena_named_query").values()}
    return OrganizationInvestigation(org, stack, spec, files, _read_records(root, files), athena, queries)


# --- what each query must return, from the records ------------------------------------------


def coalesce(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def issuer(record: dict, key: str) -> str | None:
    return ((record["userIdentity"].get("sessionContext") or {}).get("sessionIssuer") or {}).get(key)


def field(record: dict, *path: str) -> Any:
    value: Any = record
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def expected_principals_outside_organization(i: OrganizationInvestigation) -> list[dict]:
    calls: dict[tuple, list[dict]] = collections.defaultdict(list)
    for r in i.in_table(7):
        identity = r.record["userIdentity"]
        if identity.get("type") == "AWSService":
            continue
        caller = coalesce(identity.get("accountId"), issuer(r.record, "accountId"))
        if caller is None or caller in i.spec.listed:
            continue
        calls[(r.account, caller, coalesce(issuer(r.record, "arn"), identity.get("arn"), identity.get("principalId")))].append(r.record)
    return [{"account": account, "caller_account": caller, "principal": principal, "calls": len(records),
             "failed_calls": sum(1 for x in records if x.get("errorCode") is not None),
             "operations": len({(x["eventSource"], x["eventName"]) for x in records}),
             "first_call": min(x["eventTime"] for x in records), "last_call": max(x["eventTime"] for x in records)}
            for (account, caller, principal), records in sorted(calls.items())]


def expected_silent_accounts_today(i: OrganizationInvestigation) -> list[dict]:
    per_day = collections.Counter((r.account, r.day) for r in i.in_table(1))
    yesterday = i.today - dt.timedelta(days=1)
    return [{"account": account, "records_yesterday": per_day[(account, yesterday)]}
            for account in sorted(i.spec.listed) if per_day[(account, i.today)] == 0]


def expected_cross_account_role_chains(i: OrganizationInvestigation) -> list[dict]:
    crossing = []
    for r in i.in_table(7):
        x = r.record
        if x["eventSource"] != "sts.amazonaws.com" or x["eventName"] != "AssumeRole" or x.get("errorCode"):
            continue
        role_arn, caller_account = x["requestParameters"]["roleArn"], x["userIdentity"].get("accountId")
        if naming.arn_account(role_arn) == r.account and caller_account is not None and caller_account != r.account:
            crossing.append({"role_account": r.account, "role_arn": role_arn, "caller_account": caller_account,
                             "caller": coalesce(issuer(x, "arn"), x["userIdentity"].get("arn")),
                             "caller_session": x["userIdentity"].get("arn"),
                             "session": field(x, "responseElements", "assumedRoleUser", "arn"), "eventtime": x["eventTime"]})
    sessions = {(c["session"], c["caller"], c["caller_account"]) for c in crossing}
    grouped: dict[tuple, list[str]] = collections.defaultdict(list)
    for c in crossing:
        previous = [(account, caller) for session, caller, account in sessions if session == c["caller_session"]] or [(None, None)]
        for account, caller in previous:
            grouped[(c["role_account"], c["role_arn"], c["caller_account"], c["caller"], account, caller)].append(c["eventtime"])
    rows = [{"role_account": k[0], "role_arn": k[1], "caller_account": k[2], "caller": k[3], "previous_caller_account": k[4],
             "previous_caller": k[5], "assumptions": len(times), "first_assumed": min(times)} for k, times in grouped.items()]
    return sorted(rows, key=lambda row: (row["role_account"], row["role_arn"], row["caller"],
                                         row["previous_caller_account"] is not None, row["previous_caller_account"] or "",
                                         row["previous_caller"] is not None, row["previous_caller"] or ""))


def expected_accounts_missing_from_topology(i: OrganizationInvestigation) -> list[dict]:
    rows = []
    for r in i.in_table(30):
        x = r.record
        if r.account != i.spec.management or r.region != naming.global_region("aws") or x.get("errorCode") \
                or x["eventSource"] != "organizations.amazonaws.com":
            continue
        created = x["eventName"] == "CreateAccountResult" and field(x, "serviceEventDetails", "createAccountStatus", "state") == "SUCCEEDED"
        invited = x["eventName"] == "InviteAccountToOrganization" and field(x, "requestParameters", "target", "type") == "ACCOUNT"
        account = coalesce(field(x, "serviceEventDetails", "createAccountStatus", "accountId"), field(x, "requestParameters", "target", "id"))
        if (created or invited) and account not in i.spec.listed:
            rows.append({"missing_account": account, "eventname": x["eventName"], "eventtime": x["eventTime"],
                         "principal": coalesce(x["userIdentity"].get("arn"), x["userIdentity"].get("invokedBy"))})
    return sorted(rows, key=lambda row: (row["eventtime"], row["missing_account"], row["eventname"]))


@dataclasses.dataclass(frozen=True)
class Expectation:
    rows: Callable[[OrganizationInvestigation], list[dict]]
    days: int  # how many days back it reads, today included
    accounts: Callable[[OrganizationCorpusSpec], set[str]] = lambda spec: set(spec.listed)
    regions: Callable[[OrganizationCorpusSpec], set[str]] | None = None  # None: every projected region


EXPECTATIONS = {
    "principals_outside_organization": Expectation(expected_principals_outside_organization, 7),
    "silent_accounts_today": Expectation(expected_silent_accounts_today, 1),
    "cross_account_role_chains": Expectation(expected_cross_account_role_chains, 7),
    "accounts_missing_from_topology": Expectation(expected_accounts_missing_from_topology, 30,
                                                  lambda spec: {spec.management}, lambda spec: {naming.global_region("aws")}),
}


# --- the queries, run -----------------------------------------------------------------------


@pytest.mark.parametrize("query", QUERY_NAMES)
def test_each_query_returns_exactly_the_expected_rows(investigation: OrganizationInvestigation, query: str):
    assert sorted(EXPECTATIONS) == sorted(QUERY_NAMES), "every query has its expectation"
    expected = EXPECTATIONS[query].rows(investigation)
    assert expected, f"the corpus holds nothing {query} looks for"
    run = investigation.run(query)
    assert run.columns == list(expected[0])
    assert run.rows == expected


@pytest.mark.parametrize("query", QUERY_NAMES)
def test_each_query_reads_only_the_accounts_regions_and_days_it_needs(investigation: OrganizationInvestigation, query: str):
    expectation, i = EXPECTATIONS[query], investigation
    projection = i.athena.projections[ORGANIZATION_TABLE]
    regions = expectation.regions(i.spec) if expectation.regions else set(projection.regions)
    days = {day.strftime("%Y/%m/%d") for day in i.days(expectation.days)} & set(projection.days)
    wanted = set(itertools.product(expectation.accounts(i.spec), regions, days))
    run = i.run(query)
    assert run.partitions == {ORGANIZATION_TABLE: wanted}
    assert run.files == {r.path for r in i.records if r.account in expectation.accounts(i.spec) and r.region in regions
                         and r.day.strftime("%Y/%m/%d") in days}


def test_the_organization_table_leaves_out_an_account_the_topology_does_not_list(investigation: OrganizationInvestigation):
    i = investigation
    run = i.athena.run(f"SELECT account, count(*) AS records FROM {ORGANIZATION_TABLE} "
                       "WHERE timestamp >= '0000' GROUP BY account ORDER BY account")
    counts = collections.Counter(r.account for r in i.records)
    assert run.rows == [{"account": a, "records": counts[a]} for a in sorted(i.spec.listed) if counts[a]]
    assert counts[i.spec.unlisted_member] and not {r.path for r in i.records if r.account == i.spec.unlisted_member} & run.files


def test_the_organization_table_reads_an_opt_in_region(investigation: OrganizationInvestigation):
    i, region = investigation, investigation.spec.opt_in_region
    assert region in i.athena.projections[ORGANIZATION_TABLE].regions
    run = i.athena.run(f"SELECT count(*) AS records FROM {ORGANIZATION_TABLE} WHERE region = '{region}' AND timestamp >= '0000'")
    there = [r for r in i.records if r.region == region]
    assert there and run.rows == [{"records": len(there)}] and run.files == {r.path for r in there}


@pytest.mark.parametrize("whose", ["listed", "unlisted"])
def test_a_query_pinned_to_one_account_reads_only_that_accounts_files(investigation: OrganizationInvestigation, whose: str):
    i = investigation
    account = i.spec.members[0] if whose == "listed" else i.spec.unlisted_member
    since = (i.today - dt.timedelta(days=3)).strftime("%Y/%m/%d")
    run = i.athena.run(f"SELECT count(*) AS records FROM {ACCOUNT_TABLE} WHERE account = '{account}' AND timestamp >= '{since}'")
    mine = [r for r in i.records if r.account == account and r.day.strftime("%Y/%m/%d") >= since]
    assert mine and run.rows == [{"records": len(mine)}]
    assert run.files == {r.path for r in mine}
    assert {partition[0] for partition in run.partitions[ACCOUNT_TABLE]} == {account}


def test_the_account_table_refuses_a_query_without_the_account(investigation: OrganizationInvestigation):
    tables = {t["name"]: t for t in resources(investigation.stack, "aws_glue_catalog_table").values()}
    assert tables[ACCOUNT_TABLE]["parameters"]["projection.account.type"] == "injected"
    assert tables[ORGANIZATION_TABLE]["parameters"]["projection.account.type"] == "enum"
    with pytest.raises(QueryRefused, match="injected"):
        investigation.athena.run(f"SELECT count(*) FROM {ACCOUNT_TABLE} WHERE timestamp >= '0000'")
    with pytest.raises(QueryRefused, match="injected"):  # a range is not an equality
        investigation.athena.run(f"SELECT count(*) FROM {ACCOUNT_TABLE} WHERE account > '0' AND timestamp >= '0000'")


def test_the_corpus_holds_what_the_queries_must_tell_apart(investigation: OrganizationInvestigation):
    i, spec = investigation, investigation.spec
    assert len(spec.listed) >= 5 and len(spec.regions) == 3 and spec.days >= 10
    spread = {(r.account, r.region, r.day) for r in i.records}
    assert {(a, region) for a, region, _ in spread} >= set(itertools.product(spec.listed, spec.regions))
    assert len({day for _, _, day in spread}) == spec.days
    # A cross-account assumption is in the logs of both accounts the trail delivers for, with one
    # sharedEventID: the role's account and, unless outside the organization, the caller's.
    shared: dict[str, set[str]] = collections.defaultdict(set)
    delivered_for = {r.account for r in i.records}
    for r in i.records:
        if "sharedEventID" in r.record:
            shared[r.record["sharedEventID"]].add(r.account)
            caller, role = r.record["userIdentity"]["accountId"], naming.arn_account(r.record["requestParameters"]["roleArn"])
            assert shared[r.record["sharedEventID"]] <= {caller, role} and role in delivered_for
    assert sum(1 for accounts in shared.values() if len(accounts) == 2) >= 4
    assert any(len(accounts) == 1 for accounts in shared.values())
    chains = i.run("cross_account_role_chains").rows
    assert [row for row in chains if row["previous_caller"]], "a chain of two hops"
    assert any(row["caller_account"] == spec.outside_account for row in chains), "a hop from outside the organization"
    outside = {row["caller_account"] for row in i.run("principals_outside_organization").rows}
    assert outside == {spec.outside_account, spec.unlisted_member}
    # A service's assumption and a denied one are in the logs, and in no chain.
    assumptions = [r.record for r in i.in_table(7) if r.record["eventName"] == "AssumeRole"]
    assert any(x["userIdentity"]["type"] == "AWSService" for x in assumptions)
    assert any(x.get("errorCode") == "AccessDenied" and x["userIdentity"]["accountId"] != naming.arn_account(
        x["requestParameters"]["roleArn"]) for x in assumptions)
    silent = {row["account"]: row["records_yesterday"] for row in i.run("silent_accounts_today").rows}
    assert silent[spec.silent_today] > 0 and silent[spec.silent_for_days] == 0
    missing = {row["missing_account"] for row in i.run("accounts_missing_from_topology").rows}
    assert missing == {spec.unlisted_member, spec.invited_account}
    created = [r.record for r in i.records if r.record["eventName"] == "CreateAccountResult"]
    assert {field(x, "serviceEventDetails", "createAccountStatus", "state") for x in created} == {"SUCCEEDED", "FAILED"}
    assert any(field(x, "serviceEventDetails", "createAccountStatus", "accountId") in spec.listed for x in created)


def test_the_corpus_is_laid_out_as_an_organization_trail_delivers(investigation: OrganizationInvestigation):
    spec, root = investigation.spec, investigation.athena.root
    name = re.compile(rf"AWSLogs/{spec.organization_id}/(?P<account>\d{{12}})/CloudTrail/(?P<region>[a-z0-9-]+)/"
                      rf"(?P<day>\d{{4}}/\d{{2}}/\d{{2}})/(?P=account)_CloudTrail_(?P=region)_(?P<stamp>\d{{8}}T\d{{4}}Z)_"
                      rf"[A-Za-z0-9]{{16}}\.json\.gz")
    for path in investigation.files:
        match = name.fullmatch(path.relative_to(root).as_posix())
        assert match, path
        assert match["stamp"][:8] == match["day"].replace("/", "")
    assert all(r.record["recipientAccountId"] == r.account for r in investigation.records)


# --- the queries, as SQL --------------------------------------------------------------------


def test_each_placeholder_is_known_and_used():
    used = set().union(*(template.placeholders for template in load_organization_queries()))
    assert used == set(ORGANIZATION_PLACEHOLDERS)


def test_the_window_is_said_in_the_description():
    for template in load_organization_queries():
        windows = set(re.findall(r"INTERVAL '(\d+)' DAY", template.text))
        assert len(windows) <= 1, f"{template.name} reads windows of {sorted(windows)} days"
        days = windows.pop() if windows else None
        said = f"since {days} day{'' if days == '1' else 's'} ago" if days else "today"
        assert said in template.description.lower(), f"{template.name}: the description does not say {said!r}"


def test_the_stack_deploys_each_query_rendered_for_the_topology(investigation: OrganizationInvestigation):
    i = investigation
    topology = ",".join(sorted(i.org.accounts))
    assert sorted(i.queries) == sorted(t.name for t in load_organization_queries())
    assert set(QUERY_NAMES) < set(i.queries), "its own, and an environment's on one account"
    for template in load_organization_queries():
        deployed = i.queries[template.name]
        assert "{{" not in deployed
        if "organization_accounts" in template.placeholders:
            assert f"'{topology}'" in deployed
