"""Who can do what (`data/access_matrix.toml`): one request per entry (a principal, an action, a
resource, the request's context) with the decision AWS must reach and why.

tests/integration/test_access_matrix.py decides every request of every environment with an IAM
evaluation engine over the policies the stacks synthesize; docs/security.md shows the file as a
table (`make docs`). Resources and context values name the environment's parts as placeholders
(`{data_bucket}`, `{account}`, ...: PLACEHOLDERS), so that one row holds for every environment.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import string
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import ClassVar

from definitions.paths import DATA_DIR
from definitions.typed_toml import read_file, unique_names

MATRIX_FILE = DATA_DIR / "access_matrix.toml"

# Who makes a request, and what the test gives them. "Administrator" identity: `*` on `*`.
PRINCIPALS = {
    "application-role": "the application role (S3DataProcessingRole), its own policy and the permissions boundary",
    "analyst": "an IAM user of the analysts group (the first of `analyst_user_arns` when set)",
    "unlisted-user": "an IAM user of the analysts group not in `analyst_user_arns`",
    "other-role": "another role of the account, allowed sts:AssumeRole on everything",
    "account-admin": "a role of the account with an administrator identity policy",
    "deployer": "the first of `deployer_arns`, with an administrator identity policy",
    "break-glass": "the first of `break_glass_arns`, with an administrator identity policy",
    "plan-role": "the CI plan role, its own policy",
    "apply-role": "the CI apply role, its own policy",
    "compaction-role": "the daily compaction's role (`names.compaction`), its own policy and the permissions boundary",
    "github": "a GitHub Actions job, through the account's OIDC provider",
    "trusted-service": "the first service of `trusted_services`",
    "untrusted-service": "an AWS service that assumes roles but is not in `trusted_services`",
}
SERVICE_PREFIX = "service:"  # `service:cloudtrail.amazonaws.com`: an AWS service principal
# The environments a row applies to, by what they configure.
WHEN = {
    "break_glass": "`break_glass_arns` is set",
    "no_break_glass": "`break_glass_arns` is empty",
    "ci": "`github.repository` is set",
    "analyst_users": "`analyst_user_arns` is set",
    "access_logs": "`audit.access_logs` is on",
    "trusted_services": "`trusted_services` is not empty",
    "analysts_direct_athena": "`analysts_direct_athena` is on",
}
# What the placeholders of `resource` and `context` stand for in each environment.
PLACEHOLDERS = {
    "partition": "the environment's partition (`aws`, ...)",
    "account": "the environment's account id", "other_account": "an account that is not the environment's",
    "region": "the environment's region", "env": "the environment's name",
    "s3_host": "S3's regional endpoint host, as kms:ViaService names it (`s3.<region>.amazonaws.com`)",
    "data_bucket": "the data bucket's ARN", "results_bucket": "the Athena results bucket's ARN",
    "trail_bucket": "the trail bucket's ARN", "access_log_bucket": "the access-log bucket's ARN",
    "data_bucket_name": "the data bucket's name",
    "data_key": "the data key's ARN", "alerting_key": "the alerting key's ARN",
    "application_role": "the application role's ARN", "plan_role": "the CI plan role's ARN",
    "apply_role": "the CI apply role's ARN", "permissions_boundary": "the workload permissions boundary's ARN",
    "trail": "the trail's ARN", "log_group": "the trail's log group ARN",
    "alarm_topic": "the alarm topic's ARN", "audit_path_topic": "the audit-path topic's ARN",
    "audit_path_rule": "the ARN of one of the audit-path EventBridge rules",
    "workgroup": "the Athena workgroup's ARN", "trail_table": "the CloudTrail Glue table's ARN",
    "compaction_role": "the compaction role's ARN", "compaction_workgroup": "the compaction's Athena workgroup ARN",
    "compact_table": "the compact table's Glue ARN",
    "compact_object": "the ARN of a file of the compact table (a day's management partition)",
    "repository": "the GitHub repository (`github.repository`)",
}
# The organization's matrix (`data/organization_access_matrix.toml`): its principals and placeholders.
ORGANIZATION_MATRIX_FILE = DATA_DIR / "organization_access_matrix.toml"
ORGANIZATION_PRINCIPALS = {
    "investigator": "a session of the investigator role (security account), its own policy",
    "security-admin": "a role of the security account with an administrator identity policy",
    "security-deployer": "the deploy role of the security account, with an administrator identity policy",
    "archive-admin": "a role of the log-archive account with an administrator identity policy",
    "archive-deployer": "the deploy role of the log-archive account, with an administrator identity policy",
    "archive-break-glass": "the break-glass role of the log-archive account, with an administrator identity policy",
    "member-admin": "a role of a member account with an administrator identity policy",
    "outsider": "a role of an account outside the organization with an administrator identity policy",
}
ORGANIZATION_PLACEHOLDERS = {
    "partition": "the organization's partition", "region": "the home region",
    "organization": "the organization's id", "other_organization": "another organization's id",
    "management": "the management account", "member": "a member account", "other_member": "another member account",
    "other_account": "an account outside the organization", "s3_host": "S3's regional endpoint host",
    "trail": "the organization trail's ARN (the management account's)",
    "foreign_trail": "a trail of the same name in an account outside the organization",
    "trail_bucket": "the trail bucket's ARN", "trail_key": "the trail key's ARN",
    "investigator_role": "the investigator role's ARN", "workgroup": "the investigations' workgroup ARN",
    "log_archive": "the log-archive account", "security": "the security account",
    "trail_account": "the account that holds the trail (management, or the delegated administrator)",
    "archive_audit_topic": "the log-archive account's audit-path topic's ARN",
    "archive_audit_rule": "the log-archive account's audit-path rule on the trail bucket",
    "archive_audit_key": "the key of the log-archive account's audit-path topic",
    "security_audit_topic": "the security account's audit-path topic's ARN",
    "security_audit_rule": "the security account's audit-path rule on the trail key",
    "results_key": "the security account's results key, which encrypts its audit-path topic",
    "trail_audit_topic": "the trail account's audit-path topic's ARN",
    "trail_audit_rule": "the trail account's audit-path rule on the trail",
    "trail_audit_key": "the key of the trail account's audit-path topic",
    "alarm_topic": "the organization's alarm topic (security account)", "alarm_topic_key": "the alarm topic's key",
}
DECISIONS = ("allow", "deny")
_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_ACTION = re.compile(r"[a-z0-9-]+:[A-Z][A-Za-z0-9]*")


def placeholders_in(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


@dataclasses.dataclass(frozen=True)
class Request:
    known_principals: ClassVar[Mapping[str, str]] = PRINCIPALS
    known_placeholders: ClassVar[Mapping[str, str]] = PLACEHOLDERS
    name: str
    who: str
    action: str
    resource: str
    expect: str
    why: str
    context: dict[str, str] = dataclasses.field(default_factory=dict)
    when: tuple[str, ...] = ()

    def problems(self) -> Iterator[tuple[str, str]]:
        if not _NAME.fullmatch(self.name):
            yield "name", f"must be lowercase words joined by '-', got {self.name!r}"
        if self.who not in self.known_principals and not (self.who.startswith(SERVICE_PREFIX) and self.who.endswith(".amazonaws.com")):
            yield "who", f"must be one of {', '.join(self.known_principals)} or '{SERVICE_PREFIX}<service>.amazonaws.com', got {self.who!r}"
        if not _ACTION.fullmatch(self.action):
            yield "action", f"must be one IAM action such as 's3:GetObject', got {self.action!r}"
        if self.expect not in DECISIONS:
            yield "expect", f"must be one of {', '.join(DECISIONS)}, got {self.expect!r}"
        if len(self.why.strip()) < 10:
            yield "why", "must say why, in 10 characters or more"
        if bad := sorted(set(self.when) - set(WHEN)):
            yield "when", f"must be among {', '.join(WHEN)}, got {bad!r}"
        for key, text in [("resource", self.resource), *((f"context.{k}", v) for k, v in self.context.items())]:
            try:
                unknown = sorted(placeholders_in(text) - set(self.known_placeholders))
            except ValueError as err:
                yield key, f"is not a valid template: {err}"
                continue
            if unknown:
                yield key, f"names unknown placeholders {unknown!r}; known: {', '.join(self.known_placeholders)}"

    def applies(self, settings: Mapping[str, bool]) -> bool:
        """Whether the row holds in an environment whose `WHEN` conditions are `settings`."""
        return all(settings[condition] for condition in self.when)


@dataclasses.dataclass(frozen=True)
class _MatrixFile:
    request: tuple[Request, ...]

    def problems(self) -> Iterator[tuple[str, str]]:
        yield from unique_names("request", self.request)


@dataclasses.dataclass(frozen=True)
class OrganizationRequest(Request):
    known_principals: ClassVar[Mapping[str, str]] = ORGANIZATION_PRINCIPALS
    known_placeholders: ClassVar[Mapping[str, str]] = ORGANIZATION_PLACEHOLDERS


@dataclasses.dataclass(frozen=True)
class _OrganizationMatrixFile(_MatrixFile):
    request: tuple[OrganizationRequest, ...]


@functools.cache
def access_matrix(path: Path = MATRIX_FILE) -> tuple[Request, ...]:
    """Every request of the matrix, read once; ConfigError lists every problem."""
    return read_file(_MatrixFile, path).request


@functools.cache
def organization_access_matrix(path: Path = ORGANIZATION_MATRIX_FILE) -> tuple[Request, ...]:
    """Every request of the organization's matrix; ConfigError lists every problem."""
    return read_file(_OrganizationMatrixFile, path).request


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(path: Path = MATRIX_FILE) -> str:
    """The matrix as docs/security.md shows it: one row per request."""
    rows = []
    for r in access_matrix(path):
        context = ", ".join(f"`{k}`=`{v}`" for k, v in r.context.items())
        where = ", ".join(WHEN[w] for w in r.when) or "every environment"
        rows.append(f"| `{r.name}` | {r.who} | `{r.action}` | `{_cell(r.resource)}` | {_cell(context)} | "
                    f"**{r.expect}** | {where} | {_cell(r.why)} |")
    return "\n".join(["| row | who | action | resource | context | decision | where | why |",
                      "| --- | --- | --- | --- | --- | --- | --- | --- |", *rows])
