"""Environment configuration: `environments/<name>.toml`, validated once, typed after that.

This module imports nothing of cdktf, so bad input is refused before the slow import of the
provider bindings. `load_environments` reads every file, collects every problem of every file
(syntax, unknown or missing keys, types, values, names that collide across environments) and
raises one `ConfigError` listing them all, one line each: `FILE: KEY: PROBLEM`.

Each key is declared once, as a field of the dataclasses below: `setting(...)` carries its meaning,
its default and its check, and the field's type annotation is the type the loader enforces. A
field whose type is a dataclass is a `[section]`. The key table of docs/configuration.md is generated from the
same fields (`python -m environments.config --markdown`). The AWS naming rules themselves live in
`definitions/naming.py`, which the constructs use too.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import difflib
import functools
import sys
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from definitions import naming
from definitions.errors import ConfigError
from definitions.typed_toml import load_toml, type_problem

REQUIRED = object()
# What each bucket of an environment is called after `company_prefix`.
BUCKET_SUFFIXES = {"data": "encrypted-data", "results": "athena-results", "trail": "cloudtrail-logs", "access_logs": "access-logs"}
OBJECT_LOCK_MODES = ("", "GOVERNANCE", "COMPLIANCE")


def bucket_name(company_prefix: str, role: str) -> str:
    """`<company_prefix>-<suffix>`: the name of the environment's bucket for `role` (BUCKET_SUFFIXES)."""
    return f"{company_prefix}-{BUCKET_SUFFIXES[role]}"


def setting(doc: str, default: Any = REQUIRED, *, check: Callable[[Any], str | None] | None = None,
            derive: Callable[[str, dict[str, Any]], Any] | None = None, default_doc: str | None = None) -> Any:
    """Declare a configuration key as a dataclass field.

    `default` is the value when the key is absent (REQUIRED: it must be given); `derive` instead
    computes it from the environment's name and the top-level values read so far, and
    `default_doc` says in docs/configuration.md what it derives. `check` returns a problem, or None.
    """
    return dataclasses.field(metadata={"doc": doc, "default": default, "check": check, "derive": derive,
                                       "default_doc": default_doc})


def internal() -> Any:
    """A field the loader fills in itself, not a key of the file."""
    return dataclasses.field(metadata={"internal": True})


# --- the keys ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StateConfig:
    bucket: str = setting("Remote state bucket (made by the bootstrap stack).",
                          derive=lambda env, v: f"{v['company_prefix']}-terraform-state",
                          default_doc="`<company_prefix>-terraform-state`")
    key: str = setting("Object key of the state file.", derive=lambda env, v: f"{env}/terraform.tfstate",
                       default_doc="`<env>/terraform.tfstate`")
    region: str = setting("Region of the state bucket.", check=naming.region_problem,
                          derive=lambda env, v: v["region"], default_doc="`region`")


@dataclasses.dataclass(frozen=True)
class Names:
    key_alias: str = setting("Alias of the data key.", "alias/s3-encryption-key", check=naming.kms_alias_problem)
    alerting_key_alias: str = setting("Alias of the separate key for the trail's log group and the alarm topic.",
                                      "alias/security-alerting-key", check=naming.kms_alias_problem)
    state_key_alias: str = setting("Alias of the state bucket's key (bootstrap stack).", "alias/terraform-state",
                                   check=naming.kms_alias_problem)
    trail: str = setting("CloudTrail trail name.", "s3-data-activity-trail", check=naming.trail_name_problem)
    workgroup: str = setting("Athena workgroup name.", "data-analysis-workgroup", check=naming.workgroup_name_problem)
    database: str = setting("Glue/Athena database name.", "cloudtrail_logs", check=naming.glue_database_name_problem)
    role: str = setting("Application IAM role name.", "S3DataProcessingRole", check=naming.iam_name_problem("role"))
    group: str = setting("Analysts' IAM group name.", "DataAnalystsGroup", check=naming.iam_name_problem("group"))
    log_group: str = setting("CloudWatch Logs group that receives the trail.", "/aws/cloudtrail/s3-data-activity-trail",
                             check=naming.log_group_name_problem)
    alarm_topic: str = setting("SNS topic the alarms notify.", "security-alarms", check=naming.topic_name_problem)
    audit_path_topic: str = setting("SNS topic, encrypted with the data key, that hears when the audit path is blinded.",
                                    "audit-path-alarms", check=naming.topic_name_problem)
    audit_path_rules: str = setting("Prefix of the EventBridge rules that watch the audit path (`<prefix>-<rule>`).",
                                    check=naming.event_rule_prefix_problem, derive=lambda env, v: f"{env}-audit-path",
                                    default_doc="`<env>-audit-path`")
    dashboard: str = setting("CloudWatch dashboard of the environment.", check=naming.dashboard_name_problem,
                             derive=lambda env, v: f"{env}-audit", default_doc="`<env>-audit`")
    compaction: str = setting("Name of the daily compaction's schedule, Athena workgroup and IAM role.",
                              check=naming.schedule_name_problem, derive=lambda env, v: f"{env}-cloudtrail-compaction",
                              default_doc="`<env>-cloudtrail-compaction`")
    plan_role: str = setting("Role the CI plan jobs assume (made by the bootstrap when `github.repository` is set).",
                             check=naming.iam_name_problem("role"), derive=lambda env, v: f"{env}-terraform-plan",
                             default_doc="`<env>-terraform-plan`")
    apply_role: str = setting("Role the CI apply job of this environment assumes (made by the bootstrap likewise).",
                              check=naming.iam_name_problem("role"), derive=lambda env, v: f"{env}-terraform-apply",
                              default_doc="`<env>-terraform-apply`")
    permissions_boundary: str = setting("Managed policy, made by the bootstrap, that bounds every role the environment "
                                        "stack creates: Terraform may create or change a role only within it.",
                                        check=naming.iam_name_problem("policy"),
                                        derive=lambda env, v: f"{env}-workload-boundary",
                                        default_doc="`<env>-workload-boundary`")

    @property
    def trail_logs_role(self) -> str:
        """IAM role through which CloudTrail writes to CloudWatch Logs."""
        return f"{self.trail}-cloudwatch-logs"[:naming.IAM_NAME_LENGTH["role"]]


@dataclasses.dataclass(frozen=True)
class Retention:
    data_noncurrent_version_days: int = setting("Days before a superseded data object version is deleted.", 90,
                                                check=naming.positive_days)
    trail_noncurrent_version_days: int = setting("Days before a superseded trail log version is deleted.", 90,
                                                 check=naming.positive_days)
    state_noncurrent_version_days: int = setting("Days before a superseded state file version is deleted.", 90,
                                                 check=naming.positive_days)
    incomplete_upload_days: int = setting("Days before an incomplete multipart upload is aborted (every bucket).", 7,
                                          check=naming.positive_days)
    athena_results_days: int = setting("Days before an Athena query result expires.", 30, check=naming.positive_days)
    compact_table_days: int = setting("Days before a day of the compact table expires (at least 91: the long "
                                      "investigations look 90 days back).", 400, check=naming.int_range(91))
    trail_logs_infrequent_access_days: int = setting(
        "Days before trail logs move to STANDARD_IA (S3 requires at least 30).", 90, check=naming.int_range(30))
    trail_logs_glacier_days: int = setting("Days before trail logs move to GLACIER.", 365, check=naming.positive_days)
    trail_logs_expire_days: int = setting("Days before trail logs expire (7 years by default).", 2557,
                                          check=naming.positive_days)
    log_group_days: int = setting("CloudWatch Logs retention of the trail's log group (a value AWS accepts).", 365,
                                  check=naming.log_retention_problem)
    access_log_days: int = setting("Days before an S3 server access log expires.", 365, check=naming.positive_days)


@dataclasses.dataclass(frozen=True)
class AthenaConfig:
    bytes_scanned_cutoff: int = setting("Per-query scan limit of the workgroup, in bytes (at least 10 MiB).", 1024**3,
                                        check=naming.athena_scan_cutoff_problem)
    projection_start: str = setting("First day the CloudTrail table's date projection covers (YYYY/MM/DD).",
                                    "2025/01/01", check=naming.date_problem)
    projected_regions: tuple[str, ...] = setting(
        "Regions the CloudTrail table's region projection covers; logs of a region left out are in the bucket "
        "but in no query.", check=naming.each(naming.region_problem),
        derive=lambda env, v: naming.all_regions(naming.partition_of(v["region"])),
        default_doc="every region of the region's partition, opt-in regions included")


@dataclasses.dataclass(frozen=True)
class AuditConfig:
    access_logs: bool = setting("S3 server access logging of every bucket into an access-log bucket of the account and "
                                "region (CIS 3.4, CloudTrail.7, S3.9).", True)
    all_buckets_data_events: bool = setting("Object-level data events for every bucket of the account, not only the data "
                                            "bucket (CIS 3.8, 3.9; billed per event); never the trail and access-log buckets.",
                                            False)
    management_events: bool = setting(
        "This environment's trail records the account's management events. false: the organization trail records "
        "them (organization.toml with trail = \"managed\"), and this trail records data events only; the CIS alarms, "
        "the heartbeat and the alarms on management events are then the organization trail's.", True)
    insights: bool = setting("CloudTrail Insights on API call and error rates (billed per event analysed).",
                             derive=lambda env, v: v["production"], default_doc="`production`")
    object_lock_mode: str = setting("Object Lock on the trail bucket: GOVERNANCE, COMPLIANCE, or empty for none.",
                                    check=lambda v: None if v in OBJECT_LOCK_MODES else f"must be one of {OBJECT_LOCK_MODES}, got {v!r}",
                                    derive=lambda env, v: "GOVERNANCE" if v["production"] else "",
                                    default_doc="`\"GOVERNANCE\"` in production, else none")
    object_lock_days: int = setting("Days each trail log version is locked (with `object_lock_mode`).", 365,
                                    check=naming.positive_days)
    request_metrics: bool = setting("S3 request metrics of the data bucket for the dashboard (billed per metric).",
                                    derive=lambda env, v: v["production"], default_doc="`production`")
    data_key_calls_per_hour: int = setting("Alarm when the data key is called more often than this in an hour.", 1000,
                                           check=naming.int_range(1))
    athena_bytes_per_hour: int = setting("Alarm when the workgroup's queries scan more bytes than this in an hour.",
                                         10 * 1024**3, check=naming.int_range(1))


@dataclasses.dataclass(frozen=True)
class GitHubConfig:
    repository: str = setting("GitHub repository whose workflows plan and apply this environment (`<owner>/<name>`); "
                              "empty: no CI roles.", "", check=naming.github_repository_problem)
    oidc_provider_arn: str = setting("An existing IAM OIDC provider for GitHub in the account; empty: the bootstrap "
                                     "creates it (one per account).", "", check=naming.github_oidc_provider_problem)


@dataclasses.dataclass(frozen=True)
class Environment:
    name: str = internal()
    source: str = internal()
    company_prefix: str = setting("Prefix of every bucket name: `<company_prefix>-encrypted-data` and so on.")
    account_id: str = setting("The AWS account (12 digits, a string); the provider refuses any other.",
                              check=naming.account_id_problem)
    region: str = setting("AWS region of the stack.", check=naming.region_problem)
    production: bool = setting("Production guardrails: the defaults of `prevent_destroy` and `key_deletion_window_days` "
                               "follow it.", False)
    prevent_destroy: bool = setting("`prevent_destroy` on the keys, the data bucket and the trail bucket "
                                    "(cannot be turned off in production).",
                                    derive=lambda env, v: v["production"], default_doc="`production`")
    key_deletion_window_days: int = setting("Waiting period before a deleted KMS key is gone (7 to 30).",
                                            check=naming.key_deletion_window_problem,
                                            derive=lambda env, v: 30 if v["production"] else 7,
                                            default_doc="30 in production, else 7")
    project: str = setting("Value of the `project` tag.", "encrypted-data-platform")
    tags: dict[str, str] = setting("Extra tags on every taggable resource (provider `default_tags`).", {},
                                   check=naming.tags_problem)
    key_admin_arns: tuple[str, ...] = setting("IAM roles or users that administer (but cannot use) the KMS keys.", (),
                                              check=naming.each(naming.principal_arn_problem))
    break_glass_arns: tuple[str, ...] = setting(
        "Roles (or the account root) that alone may disable or schedule deletion of the keys, and delete trail logs; "
        "required in production.", (), check=naming.each(naming.break_glass_arn_problem))
    deployer_arns: tuple[str, ...] = setting(
        "The principals that run Terraform: whoever applies the bootstrap, runs `cdktf deploy` or `make plan TARGET=aws` "
        "(the CI roles join them). With break-glass set, they and break-glass alone may change key policies; the data "
        "bucket lets them list (HeadBucket, which every refresh calls) and nothing more.",
        check=naming.all_of(naming.non_empty("name at least one role or user: without them the data bucket's deny "
                                             "refuses Terraform's refresh after the first apply"),
                            naming.each(naming.principal_arn_problem)))
    analyst_user_arns: tuple[str, ...] = setting("IAM users who may assume the application role with MFA (empty: every IAM "
                                                 "user of the account).", (), check=naming.each(naming.user_arn_problem))
    access_analyzer: bool = setting("An IAM Access Analyzer for the account and region (one per account and region).",
                                    False)
    trusted_services: tuple[str, ...] = setting("AWS services that may assume the application role.",
                                                ("ec2.amazonaws.com", "lambda.amazonaws.com"),
                                                check=naming.each(naming.service_principal_problem))
    analysts_direct_athena: bool = setting("Whether `DataAnalystsGroup` may also query Athena directly, besides "
                                           "assuming the role.", False)
    alarm_emails: tuple[str, ...] = setting("E-mail addresses subscribed to the security alarm topic.", (),
                                            check=naming.each(naming.email_problem))
    state: StateConfig
    names: Names
    retention: Retention
    athena: AthenaConfig
    audit: AuditConfig
    github: GitHubConfig

    @property
    def partition(self) -> str:
        return naming.partition_of(self.region)

    data_bucket = property(lambda self: bucket_name(self.company_prefix, "data"))
    results_bucket = property(lambda self: bucket_name(self.company_prefix, "results"))
    trail_bucket = property(lambda self: bucket_name(self.company_prefix, "trail"))
    access_log_bucket = property(lambda self: bucket_name(self.company_prefix, "access_logs"))

    @property
    def state_access_log_bucket(self) -> str | None:
        """The bootstrap's own access-log bucket, when the state bucket lives in another region
        (S3 delivers access logs only to a bucket of the same region)."""
        if not self.audit.access_logs or self.state.region == self.region:
            return None
        return f"{self.state.bucket}-access-logs"

    @property
    def access_analyzer_name(self) -> str:
        return f"{self.name}-access-analyzer"

    @property
    def bootstrap_stack(self) -> str:
        return f"{self.name}-bootstrap"

    @property
    def all_tags(self) -> dict[str, str]:
        """Tags on every taggable resource; the three standard ones win over `tags`."""
        return {**self.tags, "project": self.project, "environment": self.name, "managed-by": "cdktf"}

    def claims(self) -> list[tuple[tuple[str, ...], str, str]]:
        """Names that must be unique, each with its namespace: (namespace, name, key)."""
        acct, region = self.account_id, self.region
        return [
            *[(("S3 bucket",), bucket, "company_prefix") for bucket in (self.data_bucket, self.results_bucket, self.trail_bucket)],
            *([(("S3 bucket",), self.access_log_bucket, "company_prefix")] if self.audit.access_logs else []),
            *([(("S3 bucket",), self.state_access_log_bucket, "state.bucket")] if self.state_access_log_bucket else []),
            (("S3 bucket",), self.state.bucket, "state.bucket"),
            (("IAM role", acct), self.names.role, "names.role"),
            (("IAM role", acct), self.names.trail_logs_role, "names.trail"),
            (("IAM role", acct), self.names.compaction, "names.compaction"),
            (("IAM group", acct), self.names.group, "names.group"),
            (("IAM policy", acct), self.names.permissions_boundary, "names.permissions_boundary"),
            *([(("IAM role", acct), self.names.plan_role, "names.plan_role"),
               (("IAM role", acct), self.names.apply_role, "names.apply_role")] if self.github.repository else []),
            *([(("IAM Access Analyzer", acct, region), "account analyzer", "access_analyzer")] if self.access_analyzer else []),
            # IAM holds one OIDC provider per URL and account: only one environment may create it.
            *([(("GitHub OIDC provider", acct), "token.actions.githubusercontent.com", "github.oidc_provider_arn")]
              if self.github.repository and not self.github.oidc_provider_arn else []),
            (("KMS alias", acct, region), self.names.key_alias, "names.key_alias"),
            (("KMS alias", acct, region), self.names.alerting_key_alias, "names.alerting_key_alias"),
            (("KMS alias", acct, self.state.region), self.names.state_key_alias, "names.state_key_alias"),
            (("CloudTrail trail", acct, region), self.names.trail, "names.trail"),
            (("Athena workgroup", acct, region), self.names.workgroup, "names.workgroup"),
            (("Athena workgroup", acct, region), self.names.compaction, "names.compaction"),
            (("EventBridge schedule", acct, region), self.names.compaction, "names.compaction"),
            (("Glue database", acct, region), self.names.database, "names.database"),
            (("log group", acct, region), self.names.log_group, "names.log_group"),
            (("SNS topic", acct, region), self.names.alarm_topic, "names.alarm_topic"),
            (("SNS topic", acct, region), self.names.audit_path_topic, "names.audit_path_topic"),
            (("CloudWatch dashboard", acct), self.names.dashboard, "names.dashboard"),
            (("EventBridge rule prefix", acct, region), self.names.audit_path_rules, "names.audit_path_rules"),
        ]


# --- checks across keys -----------------------------------------------------------------------
# Each takes the values read from one file ({key: value}, sections as nested dicts; a key whose
# own check failed is absent) and yields (key, problem).


def _derived_from_a_bad_prefix(values: dict[str, Any]) -> bool:
    """Whether the state bucket is the default one of a company_prefix S3 refuses: the prefix is
    the cause, reported once, at its own key."""
    prefix = values.get("company_prefix")
    return (prefix is not None and values["state"].get("bucket") == f"{prefix}-terraform-state"
            and any(naming.bucket_name_problem(bucket_name(prefix, role)) for role in BUCKET_SUFFIXES))


def _bucket_names_are_valid(values: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if "company_prefix" in values:
        for role in BUCKET_SUFFIXES:
            if problem := naming.bucket_name_problem(bucket_name(values["company_prefix"], role)):
                yield "company_prefix", f"{values['company_prefix']!r} cannot begin a bucket name: {problem}"
                break
    if "bucket" in values["state"] and not _derived_from_a_bad_prefix(values) \
            and (problem := naming.bucket_name_problem(values["state"]["bucket"])):
        yield "state.bucket", problem


def _trail_log_transitions_in_order(values: dict[str, Any]) -> Iterator[tuple[str, str]]:
    ret = values["retention"]
    order = ["trail_logs_infrequent_access_days", "trail_logs_glacier_days", "trail_logs_expire_days"]
    if all(k in ret for k in order) and not ret[order[0]] < ret[order[1]] < ret[order[2]]:
        yield ("retention.trail_logs_glacier_days", "trail log transitions must come in order "
               f"(infrequent access {ret[order[0]]} < glacier {ret[order[1]]} < expiry {ret[order[2]]} days)")


def _production_keeps_its_protection(values: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if values.get("production") and values.get("prevent_destroy") is False:
        yield "prevent_destroy", "cannot be false in production (production = true)"
    if values.get("production") and values.get("break_glass_arns") == ():
        yield "break_glass_arns", "is required in production: without it any key or IAM administrator can disable the keys"


def _principals_in_the_account(values: dict[str, Any]) -> Iterator[tuple[str, str]]:
    account = values.get("account_id")
    if not isinstance(account, str) or naming.account_id_problem(account):
        return  # the account itself is reported
    for key in ("key_admin_arns", "break_glass_arns", "deployer_arns", "analyst_user_arns"):
        outside = [arn for arn in values.get(key, ()) if account and naming.arn_account(arn) != account]
        if outside:
            yield key, f"names principals outside account {account}: {', '.join(outside)}"


def _logs_outlive_their_lock(values: dict[str, Any]) -> Iterator[tuple[str, str]]:
    audit, retention = values["audit"], values["retention"]
    if audit.get("object_lock_mode") and "object_lock_days" in audit and "trail_logs_expire_days" in retention \
            and retention["trail_logs_expire_days"] < audit["object_lock_days"]:
        yield ("retention.trail_logs_expire_days", f"must be at least audit.object_lock_days ({audit['object_lock_days']}): "
               "a locked log version cannot expire before its lock does")


def _insights_need_management_events(values: dict[str, Any]) -> Iterator[tuple[str, str]]:
    audit = values["audit"]
    if audit.get("insights") and audit.get("management_events") is False:
        yield "audit.insights", ("CloudTrail Insights analyses the management events this trail would not record "
                                 "(audit.management_events = false): set it to false")


def _state_access_log_bucket_is_valid(values: dict[str, Any]) -> Iterator[tuple[str, str]]:
    state = values["state"]
    elsewhere = values["audit"].get("access_logs") and "bucket" in state and state.get("region") not in (None, values.get("region"))
    if elsewhere and not _derived_from_a_bad_prefix(values) \
            and (problem := naming.bucket_name_problem(f"{state['bucket']}-access-logs")):
        yield "state.bucket", f"makes an invalid access-log bucket name for the state region: {problem}"


CROSS_CHECKS = (_bucket_names_are_valid, _trail_log_transitions_in_order, _production_keeps_its_protection,
                _principals_in_the_account, _logs_outlive_their_lock,
                _state_access_log_bucket_is_valid, _insights_need_management_events)


# --- loading ----------------------------------------------------------------------------------


@functools.cache
def _keys(cls: type) -> tuple[tuple[dataclasses.Field, Any], ...]:
    """(field, type) of each key of a dataclass; the type is a class or a section's dataclass."""
    hints = typing.get_type_hints(cls)
    return tuple((f, typing.get_origin(hints[f.name]) or hints[f.name]) for f in dataclasses.fields(cls)
                 if not f.metadata.get("internal"))


# Every list the files hold is a list of strings; a table's values are checked by its own rule (tags).
_CHECKED_AS = {tuple: tuple[str, ...]}


def read_keys(cls: type, table: dict[str, Any], env: str, where: str, prefix: str, top: dict[str, Any],
          problems: list[str]) -> dict[str, Any]:
    """Type-check, check and default the keys of `cls` in `table`; record problems; return the
    values read ({key: value}, sections as nested dicts). `top` holds the top-level values read
    so far, for derived defaults."""
    keys = _keys(cls)
    known = [f.name for f, _ in keys]
    for unknown in sorted(set(table) - set(known)):
        guess = difflib.get_close_matches(unknown, known, n=1)
        problems.append(f"{where}: {prefix}{unknown}: unknown key" + (f" (did you mean {prefix}{guess[0]}?)" if guess else ""))
    out: dict[str, Any] = {}
    scope = out if not prefix else top
    for field, kind in keys:
        label, meta = f"{prefix}{field.name}", field.metadata
        if dataclasses.is_dataclass(kind):
            section = table.get(field.name, {})
            if not isinstance(section, dict):
                problems.append(f"{where}: {label}: must be a table")
                section = {}
            out[field.name] = read_keys(kind, section, env, where, f"{label}.", out, problems)
        elif field.name in table:
            value = table[field.name]
            if (problem := type_problem(value, _CHECKED_AS.get(kind, kind))) or meta["check"] and (problem := meta["check"](value)):
                problems.append(f"{where}: {label}: {problem}")
            else:
                out[field.name] = tuple(value) if kind is tuple else value
        elif meta["derive"]:
            with contextlib.suppress(KeyError):  # depends on a key already reported as missing or wrong
                out[field.name] = meta["derive"](env, scope)
        elif meta["default"] is REQUIRED:
            problems.append(f"{where}: {label}: missing required key")
        else:
            out[field.name] = copy.deepcopy(meta["default"])  # never share the declaration's own table
    return out


def build_typed(cls: type, values: dict[str, Any], **internal_values: Any) -> Any:
    return cls(**internal_values, **{field.name: build_typed(kind, values[field.name]) if dataclasses.is_dataclass(kind)
                                     else values[field.name] for field, kind in _keys(cls)})


def _parse(path: Path, where: str) -> tuple[Environment | None, list[str]]:
    problems: list[str] = []
    try:
        raw = load_toml(path, where)
    except ConfigError as err:
        return None, err.problems
    values = read_keys(Environment, raw, path.stem, where, "", {}, problems)
    for cross_check in CROSS_CHECKS:
        problems += [f"{where}: {key}: {problem}" for key, problem in cross_check(values)]
    if problems:
        return None, problems
    return build_typed(Environment, values, name=path.stem, source=where), []


def _collisions(envs: list[Environment]) -> list[str]:
    """Names claimed twice in one namespace, within an environment or across environments."""
    problems = []
    first: dict[tuple[tuple[str, ...], str], tuple[Environment, str]] = {}
    for env in envs:
        for namespace, name, key in env.claims():
            owner, owner_key = first.setdefault((namespace, name), (env, key))
            if owner is env and owner_key == key:
                continue
            scope = ""
            if len(namespace) > 1:
                scope = f" (same account {namespace[1]}" + (f", region {namespace[2]})" if len(namespace) > 2 else ")")
            used_by = owner.source if owner is not env else owner_key
            problems.append(f"{env.source}: {key}: {namespace[0]} name '{name}' is also used by {used_by}{scope}")
    return problems


def load_environments(directory: Path, only: list[str] | None = None) -> list[Environment]:
    """Read and validate every `*.toml` in `directory`; raise ConfigError listing every problem.

    `only` restricts the result to the named environments; all files are still validated, since a
    collision with another environment is a problem whichever one is being synthesized.
    """
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise ConfigError([f"{directory.name}/: (directory): no environment files (*.toml)"])
    envs: list[Environment] = []
    problems: list[str] = []
    for path in files:
        env, found = _parse(path, f"{directory.name}/{path.name}")
        problems += found
        if env is not None:
            envs.append(env)
    problems += _collisions(envs)
    names = {env.name for env in envs} | {p.stem for p in files}
    for wanted in only or []:
        if wanted not in names:
            problems.append(f"{directory.name}/{wanted}.toml: (file): no such environment; have {', '.join(sorted(names))}")
    if problems:
        raise ConfigError(problems)
    return [env for env in envs if not only or env.name in only]


def settings(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(key, value) of every setting of an environment (or a section), as its file would spell them."""
    for field, kind in _keys(type(value)):
        item = getattr(value, field.name)
        if dataclasses.is_dataclass(kind):
            yield from settings(item, f"{prefix}{field.name}.")
        else:
            yield f"{prefix}{field.name}", item


# --- documentation ----------------------------------------------------------------------------


def toml_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(map(toml_literal, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_literal(v)}" for k, v in value.items()) + "}"
    return str(value)


def _rows(cls: type, prefix: str = "") -> Iterator[str]:
    for field, kind in _keys(cls):
        meta = field.metadata
        if dataclasses.is_dataclass(kind):
            yield from _rows(kind, f"{prefix}{field.name}.")
            continue
        if meta["derive"]:
            default = meta["default_doc"]
        elif meta["default"] is REQUIRED:
            default = "**required**"
        else:
            default = f"`{toml_literal(meta['default'])}`"
        type_name = {tuple: "list"}.get(kind, kind.__name__)
        yield f"| `{prefix}{field.name}` | {type_name} | {default} | {meta['doc']} |"


def markdown_table(*sections: tuple[type, str]) -> str:
    """The table of keys in docs/configuration.md, generated from the declarations above: those of
    an environment file, or of `sections` ((dataclass, key prefix) each)."""
    rows = [row for cls, prefix in sections or ((Environment, ""),) for row in _rows(cls, prefix)]
    return "\n".join(["| key | type | default | meaning |", "| --- | --- | --- | --- |", *rows])


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown"]:
        print(markdown_table())
    else:
        sys.exit("usage: python -m environments.config --markdown")
