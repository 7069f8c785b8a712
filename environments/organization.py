"""The AWS Organization the environments belong to: the optional `organization.toml` at the
repository root (`PLATFORM_ORGANIZATION` names another file). Without it nothing changes.

Read with the environment files' rules (`environments/config.py`): keys declared once with their
type, default and check; every problem reported at once, one line each (`FILE: KEY: PROBLEM`),
exit status 2 from every command, nothing written. Besides each key's own check, the file must
agree with itself and with the environment files:

- no account twice among the members, and no member that is the management account;
- the log-archive account and every CloudTrail delegated administrator differ from the management
  account; at most three delegated administrators (CloudTrail's limit); `trail_deployer =
  "delegated_admin"` needs one;
- every environment's account is in the topology, and a member's `environments` name environment
  files whose account is that member;
- with `trail = "managed"` the organization trail records every account's management events, and an
  environment's own trail records them too: a second copy, billed at $2 per 100,000 events, refused
  unless `accept_duplicate_management_events = true`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from definitions import naming
from definitions.errors import ConfigError
from definitions.paths import relative
from definitions.typed_toml import load_toml
from environments import config
from environments.config import Environment, build_typed, read_keys, setting

TRAIL_OWNERS = ("managed", "existing")
TRAIL_DEPLOYERS = ("management", "delegated_admin")
MAX_DELEGATED_ADMINS = 3  # CloudTrail user guide, "Organization delegated administrator"
EXISTING_TRAIL_KEYS = ("existing_trail_name", "existing_trail_bucket", "existing_trail_key_arn", "existing_log_group")
REQUIRED_FOR_EXISTING = ("existing_trail_name", "existing_trail_bucket", "existing_log_group")

organization_id_problem = naming.pattern(r"o-[a-z0-9]{10,32}", "must be o- and 10 to 32 lowercase letters or digits")


def _one_of(choices: Sequence[str]) -> Any:
    return lambda value: None if value in choices else f"must be one of {', '.join(choices)}, got {value!r}"


@dataclasses.dataclass(frozen=True)
class OrganizationSettings:
    id: str = setting("The organization's id (`o-` and 10 to 32 lowercase letters or digits).",
                      check=organization_id_problem)
    management_account: str = setting("The management account (12 digits).", check=naming.account_id_problem)
    home_region: str = setting("The organization's home region (its trail's).",
                               check=naming.region_problem)
    trail: str = setting("`managed`: the organization trail is managed with this project; `existing`: another system "
                         "owns it (its trail, bucket, key and control policies), and this project adds the investigations "
                         "and the alarms on it (the `existing_*` keys name it).", "managed", check=_one_of(TRAIL_OWNERS))
    existing_trail_name: str = setting("With `trail = \"existing\"`: the organization trail's name (its ARN carries the "
                                       "management account and the home region).", "",
                                       check=lambda v: v and naming.trail_name_problem(v))
    existing_trail_bucket: str = setting("With `trail = \"existing\"`: the bucket its logs are delivered to "
                                         "(`AWSLogs/<organization id>/`).", "", check=lambda v: v and naming.bucket_name_problem(v))
    existing_trail_key_arn: str = setting("With `trail = \"existing\"`: the KMS key its log files are encrypted with; "
                                          "empty when they are not (SSE-S3).", "",
                                          check=lambda v: v and naming.kms_key_arn_problem(v))
    existing_log_group: str = setting("With `trail = \"existing\"`: the CloudWatch Logs group it delivers to, in the "
                                      "account that created it; the CIS alarms watch it.", "",
                                      check=lambda v: v and naming.log_group_name_problem(v))
    trail_deployer: str = setting("Who creates the organization trail: the management account, or a CloudTrail "
                                  "delegated administrator.", "management", check=_one_of(TRAIL_DEPLOYERS))
    cloudtrail_delegated_admins: tuple[str, ...] = setting(
        "Accounts registered as CloudTrail delegated administrators (at most 3, never the management account).", (),
        check=naming.each(naming.account_id_problem))
    log_archive_account: str = setting("The log-archive account (the organization trail's bucket).",
                                       check=naming.account_id_problem)
    security_account: str = setting("The security-tooling account.", check=naming.account_id_problem)
    accept_duplicate_management_events: bool = setting(
        "Let environments keep their own trail of management events beside the organization trail (a paid "
        "second copy).", False)
    deploy_role: str = setting("The role, in every account of the topology, that the organization stacks' providers "
                               "assume to apply.", "OrganizationAccountAccessRole", check=naming.iam_name_problem("role"))
    lookup_role: str = setting("The role that stacks assume to look up a key of another account (kms:DescribeKey is all "
                               "they need): the trail key in the security account, and the data key of each environment "
                               "that leaves its management events to the organization trail.", "OrganizationAccountAccessRole",
                               check=naming.iam_name_problem("role"))
    break_glass_role: str = setting("The role, in each account, that alone may delete trail logs or change the "
                                    "protected trail resources.", "break-glass", check=naming.iam_name_problem("role"))
    prevent_destroy: bool = setting("Terraform refuses to destroy the trail, its bucket and its keys.", True)
    object_lock_mode: str = setting("Default Object Lock retention of the trail bucket: GOVERNANCE or COMPLIANCE.",
                                    "GOVERNANCE", check=_one_of(("GOVERNANCE", "COMPLIANCE")))
    object_lock_days: int = setting("Days each log file version is locked.", 365, check=naming.positive_days)
    log_retention_days: int = setting("Days the trail's log group keeps events.", 365, check=naming.log_retention_problem)
    projection_start: str = setting("First day the organization tables' date projection covers (YYYY/MM/DD).",
                                    "2026/01/01", check=naming.date_problem)
    bytes_scanned_cutoff: int = setting("Per-query scan limit of the investigations' workgroup, in bytes.", 10 * 1024**3,
                                        check=naming.athena_scan_cutoff_problem)
    alarm_emails: tuple[str, ...] = setting("E-mail addresses subscribed to the organization's alarm topic.", (),
                                            check=naming.each(naming.email_problem))
    investigator_user_arns: tuple[str, ...] = setting(
        "IAM users of the security account who may assume the investigator role with MFA (default: every user "
        "of that account).", (), check=naming.each(naming.user_arn_problem))


@dataclasses.dataclass(frozen=True)
class Member:
    id: str = setting("The member account (12 digits).", check=naming.account_id_problem)
    name: str = setting("A name for people (`payments-prod`).", check=naming.pattern(r"[a-z0-9][a-z0-9-]{0,62}",
                                                                                   "must be lowercase letters, digits or '-'"))
    environments: tuple[str, ...] = setting("Environment files whose account this is.", ())


@dataclasses.dataclass(frozen=True)
class OrganizationNames:
    """The names of the organization's resources, derived from the topology: bucket names carry
    the organization and the owning account, since S3 names are global."""

    trail: str
    trail_bucket: str
    access_log_bucket: str
    results_bucket: str
    state_bucket: str
    trail_key_alias: str = "alias/organization-trail"
    results_key_alias: str = "alias/organization-investigations"
    alerting_key_alias: str = "alias/organization-alerting"  # the trail's log group
    alarm_topic_key_alias: str = "alias/organization-alarm-topic"
    state_key_alias: str = "alias/organization-terraform-state"
    log_group: str = "/aws/cloudtrail/organization-trail"  # a managed trail's
    logs_role: str = "organization-trail-logs"
    workgroup: str = "organization-investigations"
    database: str = "organization_cloudtrail"
    investigator_role: str = "organization-investigator"
    investigators_group: str = "organization-investigators"
    alarm_topic: str = "organization-security-alarms"
    # The audit path of each account that holds part of the trail: EventBridge rules and a topic
    # under a key other than the alerting key.
    audit_path: str = "organization-audit-path"
    audit_path_key_alias: str = "alias/organization-audit-path"
    service_control_policy: str = "protect-organization-trail"
    resource_control_policy: str = "organization-trail-perimeter"


@dataclasses.dataclass(frozen=True)
class Organization:
    settings: OrganizationSettings
    members: tuple[Member, ...]
    source: str
    # The environments whose trails record data events only: the organization trail's log group
    # runs their alarms on management events.
    data_event_environments: tuple[str, ...] = ()

    @property
    def trail_account(self) -> str:
        """The account that creates the organization trail."""
        s = self.settings
        return s.cloudtrail_delegated_admins[0] if s.trail_deployer == "delegated_admin" else s.management_account

    @property
    def managed(self) -> bool:
        """Whether this project manages the organization trail (else it only queries and watches it)."""
        return self.settings.trail == "managed"

    @property
    def names(self) -> OrganizationNames:
        s = self.settings
        existing = not self.managed
        return OrganizationNames(
            trail=s.existing_trail_name if existing else "organization-trail",
            trail_bucket=s.existing_trail_bucket if existing else f"{s.id}-cloudtrail-{s.log_archive_account}",
            access_log_bucket=f"{s.id}-access-logs-{s.log_archive_account}",
            results_bucket=f"{s.id}-athena-results-{s.security_account}",
            state_bucket=f"{s.id}-terraform-state-{s.management_account}")

    @property
    def accounts(self) -> set[str]:
        """Every account the topology names."""
        s = self.settings
        return {s.management_account, s.log_archive_account, s.security_account, *s.cloudtrail_delegated_admins,
                *(member.id for member in self.members)}


def _topology_problems(settings: dict[str, Any], members: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    management = settings.get("management_account")
    admins = settings.get("cloudtrail_delegated_admins", ())
    if management and settings.get("log_archive_account") == management:
        yield "organization.log_archive_account", "must not be the management account"
    if management in admins:
        yield "organization.cloudtrail_delegated_admins", "must not name the management account"
    if len(admins) > MAX_DELEGATED_ADMINS:
        yield "organization.cloudtrail_delegated_admins", f"at most {MAX_DELEGATED_ADMINS}, got {len(admins)}"
    if settings.get("trail_deployer") == "delegated_admin" and not admins:
        yield "organization.trail_deployer", "is delegated_admin, but cloudtrail_delegated_admins is empty"
    existing = settings.get("trail") == "existing"
    for key in EXISTING_TRAIL_KEYS:
        if existing and not settings.get(key) and key in REQUIRED_FOR_EXISTING:
            yield f"organization.{key}", 'missing: trail = "existing" needs it'
        elif not existing and settings.get(key):
            yield f"organization.{key}", 'only with trail = "existing": this project names the trail it manages'
    if existing and admins:
        yield "organization.cloudtrail_delegated_admins", "with trail = \"existing\", the trail's owner registers them"
    seen: dict[str, str] = {}
    for index, member in enumerate(members):
        account = member.get("id")
        if account is None:
            continue
        if account == management:
            yield f"member[{index}].id", f"{account} is the management account"
        elif account in seen:
            yield f"member[{index}].id", f"{account} is also {seen[account]}"
        seen.setdefault(account, f"member[{index}]")


def _environment_problems(org: Organization, envs: Sequence[Environment]) -> Iterator[tuple[str, str]]:
    by_name = {env.name: env for env in envs}
    for index, member in enumerate(org.members):
        for name in member.environments:
            env = by_name.get(name)
            if env is None:
                yield f"member[{index}].environments", f"no environment file {name}.toml; have {', '.join(sorted(by_name))}"
            elif env.account_id != member.id:
                yield f"member[{index}].environments", f"{env.source} is account {env.account_id}, not {member.id}"
    for env in envs:
        if env.account_id not in org.accounts:
            yield "member", f"{env.source}: account {env.account_id} is not in the topology"
    managed = org.settings.trail == "managed"
    own_copies = sorted(env.name for env in envs if env.audit.management_events)
    if managed and not org.settings.accept_duplicate_management_events and own_copies:
        yield "organization.accept_duplicate_management_events", (
            f"the organization trail records every account's management events, and the trails of "
            f"{', '.join(own_copies)} record them again ($2 per 100,000 events): set audit.management_events = false "
            f"in their files, or set this to true to pay for the copy")
    for env in envs:
        if not managed and not env.audit.management_events:
            yield "organization.trail", (f"{env.source}: audit.management_events is false, but the organization trail "
                                         "is not managed here: the account's management events would be recorded by no trail "
                                         "this project keeps")


def standalone_problems(envs: Sequence[Environment]) -> list[str]:
    """Without an organization: every environment whose trail leaves management events to one."""
    return [f"{env.source}: audit.management_events: false needs an organization trail that records them "
            "(organization.toml with trail = \"managed\")" for env in envs if not env.audit.management_events]


def markdown_table() -> str:
    """The keys of organization.toml, for docs/configuration.md."""
    return config.markdown_table((OrganizationSettings, "organization."), (Member, "member."))


def load_organization(path: Path, envs: Sequence[Environment]) -> Organization | None:
    """The topology of `path`, checked against every environment; None when there is no such file.
    ConfigError lists every problem."""
    if not path.exists():
        return None
    where = relative(path)
    raw = load_toml(path, where)
    problems: list[str] = []
    for unknown in sorted(set(raw) - {"organization", "member"}):
        problems.append(f"{where}: {unknown}: unknown key")
    table = raw.get("organization")
    if not isinstance(table, dict):
        problems.append(f"{where}: organization: missing required table")
        table = {}
    settings = read_keys(OrganizationSettings, table, "organization", where, "organization.", {}, problems)
    entries = raw.get("member", [])
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        problems.append(f"{where}: member: must be an array of tables ([[member]])")
        entries = []
    members = [read_keys(Member, entry, "member", where, f"member[{index}].", {}, problems) for index, entry in enumerate(entries)]
    problems += [f"{where}: {key}: {problem}" for key, problem in _topology_problems(settings, members)]
    if problems:
        raise ConfigError(problems)
    org = Organization(build_typed(OrganizationSettings, settings), tuple(build_typed(Member, m) for m in members), where)
    if found := [f"{where}: {key}: {problem}" for key, problem in _environment_problems(org, envs)]:
        raise ConfigError(found)
    return dataclasses.replace(org, data_event_environments=tuple(sorted(e.name for e in envs if not e.audit.management_events)))
