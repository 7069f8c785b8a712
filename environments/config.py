"""Environment configuration: `environments/<name>.toml`, validated once, typed after that.

This module imports nothing of cdktf, so bad input is refused before the slow import of the
provider bindings. `load_environments` reads every file, collects every problem of every file
(syntax, unknown or missing keys, types, values, names that collide across environments) and
raises one `ConfigError` listing them all, one line each: `FILE: KEY: PROBLEM`.

The schema below is the single source of truth for keys, types and defaults; the README's
key table is generated from it (`python -m environments.config --markdown`).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import ipaddress
import re
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)
# Athena refuses a per-query scan cutoff below 10 MiB.
ATHENA_MIN_SCAN_CUTOFF = 10 * 1024 * 1024
# The regions enabled by default in every commercial account: a multi-region trail writes logs
# for each of them, so the Athena table projects them all unless told otherwise.
DEFAULT_PROJECTED_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-central-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-north-1", "ap-northeast-1", "ap-northeast-2",
    "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ap-south-1", "sa-east-1",
)

REGION_RE = re.compile(r"(us|eu|ap|sa|ca|me|af|il|mx|cn|us-gov)-[a-z]+(-[a-z]+)?-\d", re.ASCII)
BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", re.ASCII)
IAM_NAME_RE = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
PRINCIPAL_ARN_RE = re.compile(r"arn:aws(-cn|-us-gov)?:iam::\d{12}:(root|(role|user)/[\w+=,.@/-]+)", re.ASCII)
SERVICE_RE = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com(\.cn)?", re.ASCII)
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
TAG_KEY_RE = re.compile(r"[\w .:/=+@-]{1,128}", re.ASCII)


class ConfigError(Exception):
    """Every problem found in the environment files, one line each."""

    def __init__(self, problems: list[str]):
        # One line per problem, whatever a key or value held.
        self.problems = [p.replace("\r", "\\r").replace("\n", "\\n") for p in problems]
        super().__init__("\n".join(self.problems))


# --- value checks: each returns a problem description, or None -------------------------------


RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", "--x-s3")


def _bucket_problem(name: str) -> str | None:
    if not 3 <= len(name) <= 63:
        return f"bucket name {name!r} must be 3 to 63 characters long"
    try:
        ipaddress.IPv4Address(name)
        return f"bucket name {name!r} must not look like an IP address"
    except ValueError:
        pass
    if not BUCKET_RE.fullmatch(name):
        return (f"bucket name {name!r} may hold only lowercase letters, digits and hyphens, "
                "and must begin and end with a letter or digit")
    for prefix in RESERVED_BUCKET_PREFIXES:
        if name.startswith(prefix):
            return f"bucket name {name!r} must not start with {prefix!r}"
    for suffix in RESERVED_BUCKET_SUFFIXES:
        if name.endswith(suffix):
            return f"bucket name {name!r} must not end with {suffix!r}"
    return None


def _pattern(regex: re.Pattern[str], what: str) -> Callable[[Any], str | None]:
    return lambda v: None if regex.fullmatch(v) else f"{what}, got {v!r}"


def _each(check: Callable[[Any], str | None]) -> Callable[[list[Any]], str | None]:
    def run(values: list[Any]) -> str | None:
        problems = [p for p in map(check, values) if p]
        return "; ".join(problems) or None
    return run


def _int_range(low: int, high: int | None = None) -> Callable[[int], str | None]:
    def run(v: int) -> str | None:
        if v < low or (high is not None and v > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            return f"must be {bound}, got {v}"
        return None
    return run


def _positive(v: int) -> str | None:
    return None if v > 0 else f"must be a positive number of days, got {v}"


def _log_retention(v: int) -> str | None:
    if v in LOG_RETENTION_DAYS:
        return None
    return f"CloudWatch Logs accepts only {', '.join(map(str, LOG_RETENTION_DAYS))} days, got {v}"


def _alias(v: str) -> str | None:
    if not re.fullmatch(r"alias/[a-zA-Z0-9/_-]{1,250}", v, re.ASCII) or v.startswith("alias/aws/"):
        return f"must be 'alias/' followed by letters, digits, '/', '_' or '-' (not 'alias/aws/'), got {v!r}"
    return None


def _tags(v: dict[str, Any]) -> str | None:
    bad = [repr(k) for k, val in v.items() if not TAG_KEY_RE.fullmatch(k) or not isinstance(val, str)]
    return f"tags must map keys (1-128 characters) to strings; bad: {', '.join(sorted(bad))}" if bad else None


def _date(v: str) -> str | None:
    try:
        if re.fullmatch(r"\d{4}/\d{2}/\d{2}", v, re.ASCII):
            datetime.datetime.strptime(v, "%Y/%m/%d")
            return None
    except ValueError:
        pass
    return f"must be a date as YYYY/MM/DD, got {v!r}"


# --- the schema -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Key:
    """One configuration key: its type, its default (a value, a function of the environment
    name and the values read so far, or REQUIRED), a check, and its documentation."""

    name: str
    type: type
    default: Any
    doc: str
    check: Callable[[Any], str | None] | None = None
    default_doc: str | None = None


REQUIRED = object()

SCHEMA: dict[str, list[Key]] = {
    "": [
        Key("company_prefix", str, REQUIRED, "Prefix of every bucket name: `<company_prefix>-encrypted-data` and so on."),
        Key("account_id", str, REQUIRED, "The AWS account (12 digits, a string); the provider refuses any other.",
            _pattern(re.compile(r"\d{12}", re.ASCII), "must be 12 digits")),
        Key("region", str, REQUIRED, "AWS region of the stack.", _pattern(REGION_RE, "must be an AWS region name such as 'eu-west-1'")),
        Key("production", bool, False, "Production guardrails: the defaults of `prevent_destroy` and `key_deletion_window_days` follow it."),
        Key("prevent_destroy", bool, lambda env, v: v["production"], "`prevent_destroy` on the keys, the data bucket and the trail bucket.",
            default_doc="`production`"),
        Key("key_deletion_window_days", int, lambda env, v: 30 if v["production"] else 7,
            "Waiting period before a deleted KMS key is gone (7 to 30).", _int_range(7, 30),
            default_doc="30 in production, else 7"),
        Key("project", str, "encrypted-data-platform", "Value of the `project` tag."),
        Key("tags", dict, {}, "Extra tags on every taggable resource (provider `default_tags`).", _tags),
        Key("key_admin_arns", list, [], "IAM roles or users that administer (but cannot use) the KMS keys.",
            _each(_pattern(PRINCIPAL_ARN_RE, "must be an IAM role, user or root ARN"))),
        Key("trusted_services", list, ["ec2.amazonaws.com", "lambda.amazonaws.com"],
            "AWS services that may assume the application role.", _each(_pattern(SERVICE_RE, "must be a service principal such as 'lambda.amazonaws.com'"))),
        Key("analysts_direct_athena", bool, False, "Whether `DataAnalystsGroup` may also query Athena directly, besides assuming the role."),
        Key("alarm_emails", list, [], "E-mail addresses subscribed to the security alarm topic.",
            _each(_pattern(EMAIL_RE, "must be an e-mail address"))),
    ],
    "state": [
        Key("bucket", str, lambda env, v: f"{v['company_prefix']}-terraform-state", "Remote state bucket (made by the bootstrap stack).",
            default_doc="`<company_prefix>-terraform-state`"),
        Key("key", str, lambda env, v: f"{env}/terraform.tfstate", "Object key of the state file.", default_doc="`<env>/terraform.tfstate`"),
        Key("region", str, lambda env, v: v["region"], "Region of the state bucket.",
            _pattern(REGION_RE, "must be an AWS region name such as 'eu-west-1'"), default_doc="`region`"),
    ],
    "names": [
        Key("key_alias", str, "alias/s3-encryption-key", "Alias of the data key.", _alias),
        Key("alerting_key_alias", str, "alias/security-alerting-key", "Alias of the separate key for the trail's log group and the alarm topic.", _alias),
        Key("state_key_alias", str, "alias/terraform-state", "Alias of the state bucket's key (bootstrap stack).", _alias),
        Key("trail", str, "s3-data-activity-trail", "CloudTrail trail name.",
            _pattern(re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,126}[A-Za-z0-9]", re.ASCII), "must be 3-128 letters, digits, '.', '_' or '-'")),
        Key("workgroup", str, "data-analysis-workgroup", "Athena workgroup name.",
            _pattern(re.compile(r"[A-Za-z0-9._-]{1,128}", re.ASCII), "must be 1-128 letters, digits, '.', '_' or '-'")),
        Key("database", str, "cloudtrail_logs", "Glue/Athena database name.",
            _pattern(re.compile(r"[a-z0-9_]{1,255}", re.ASCII), "must be lowercase letters, digits and '_'")),
        Key("role", str, "S3DataProcessingRole", "Application IAM role name.", _pattern(IAM_NAME_RE, "must be a valid IAM name (1-64 of letters, digits, +=,.@_-)")),
        Key("group", str, "DataAnalystsGroup", "Analysts' IAM group name.", _pattern(IAM_NAME_RE, "must be a valid IAM name (1-64 of letters, digits, +=,.@_-)")),
        Key("log_group", str, "/aws/cloudtrail/s3-data-activity-trail", "CloudWatch Logs group that receives the trail.",
            _pattern(re.compile(r"[A-Za-z0-9._/#-]{1,512}", re.ASCII), "must be 1-512 letters, digits, '.', '_', '-', '/' or '#'")),
        Key("alarm_topic", str, "security-alarms", "SNS topic the alarms notify.",
            _pattern(re.compile(r"[A-Za-z0-9_-]{1,256}", re.ASCII), "must be 1-256 letters, digits, '_' or '-'")),
    ],
    "retention": [
        Key("data_noncurrent_version_days", int, 90, "Days before a superseded data object version is deleted.", _positive),
        Key("trail_noncurrent_version_days", int, 90, "Days before a superseded trail log version is deleted.", _positive),
        Key("state_noncurrent_version_days", int, 90, "Days before a superseded state file version is deleted.", _positive),
        Key("incomplete_upload_days", int, 7, "Days before an incomplete multipart upload is aborted (every bucket).", _positive),
        Key("athena_results_days", int, 30, "Days before an Athena query result expires.", _positive),
        Key("trail_logs_infrequent_access_days", int, 90, "Days before trail logs move to STANDARD_IA (S3 requires at least 30).",
            _int_range(30)),
        Key("trail_logs_glacier_days", int, 365, "Days before trail logs move to GLACIER.", _positive),
        Key("trail_logs_expire_days", int, 2557, "Days before trail logs expire (7 years by default).", _positive),
        Key("log_group_days", int, 365, "CloudWatch Logs retention of the trail's log group (a value AWS accepts).", _log_retention),
    ],
    "athena": [
        Key("bytes_scanned_cutoff", int, 1024**3, "Per-query scan limit of the workgroup, in bytes (at least 10 MiB).",
            _int_range(ATHENA_MIN_SCAN_CUTOFF)),
        Key("projection_start", str, "2025/01/01", "First day the CloudTrail table's date projection covers (YYYY/MM/DD).", _date),
        Key("projected_regions", list, list(DEFAULT_PROJECTED_REGIONS), "Regions the CloudTrail table's region projection covers.",
            _each(_pattern(REGION_RE, "must be an AWS region name"))),
    ],
}


# --- typed configuration ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StateConfig:
    bucket: str
    key: str
    region: str


@dataclasses.dataclass(frozen=True)
class Names:
    key_alias: str
    alerting_key_alias: str
    state_key_alias: str
    trail: str
    workgroup: str
    database: str
    role: str
    group: str
    log_group: str
    alarm_topic: str

    @property
    def trail_logs_role(self) -> str:
        """IAM role through which CloudTrail writes to CloudWatch Logs."""
        return f"{self.trail}-cloudwatch-logs"[:64]


@dataclasses.dataclass(frozen=True)
class Retention:
    data_noncurrent_version_days: int
    trail_noncurrent_version_days: int
    state_noncurrent_version_days: int
    incomplete_upload_days: int
    athena_results_days: int
    trail_logs_infrequent_access_days: int
    trail_logs_glacier_days: int
    trail_logs_expire_days: int
    log_group_days: int


@dataclasses.dataclass(frozen=True)
class AthenaConfig:
    bytes_scanned_cutoff: int
    projection_start: str
    projected_regions: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Environment:
    name: str
    source: str
    company_prefix: str
    account_id: str
    region: str
    production: bool
    prevent_destroy: bool
    key_deletion_window_days: int
    project: str
    tags: dict[str, str]
    key_admin_arns: tuple[str, ...]
    trusted_services: tuple[str, ...]
    analysts_direct_athena: bool
    alarm_emails: tuple[str, ...]
    state: StateConfig
    names: Names
    retention: Retention
    athena: AthenaConfig

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    @property
    def data_bucket(self) -> str:
        return f"{self.company_prefix}-encrypted-data"

    @property
    def results_bucket(self) -> str:
        return f"{self.company_prefix}-athena-results"

    @property
    def trail_bucket(self) -> str:
        return f"{self.company_prefix}-cloudtrail-logs"

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
            (("S3 bucket",), self.state.bucket, "state.bucket"),
            (("IAM role", acct), self.names.role, "names.role"),
            (("IAM role", acct), self.names.trail_logs_role, "names.trail"),
            (("IAM group", acct), self.names.group, "names.group"),
            (("KMS alias", acct, region), self.names.key_alias, "names.key_alias"),
            (("KMS alias", acct, region), self.names.alerting_key_alias, "names.alerting_key_alias"),
            (("KMS alias", acct, self.state.region), self.names.state_key_alias, "names.state_key_alias"),
            (("CloudTrail trail", acct, region), self.names.trail, "names.trail"),
            (("Athena workgroup", acct, region), self.names.workgroup, "names.workgroup"),
            (("Glue database", acct, region), self.names.database, "names.database"),
            (("log group", acct, region), self.names.log_group, "names.log_group"),
            (("SNS topic", acct, region), self.names.alarm_topic, "names.alarm_topic"),
        ]


# --- loading ----------------------------------------------------------------------------------

_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", list: "a list of strings", dict: "a table"}


def _type_ok(value: Any, expected: type) -> bool:
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is list:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, expected)


def _read_section(raw: dict[str, Any], section: str, env: str, where: str,
                  values: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """Type-check and default one section's keys; record problems; return the section's values."""
    table = raw if not section else raw.get(section, {})
    label = (lambda k: f"{section}.{k}") if section else (lambda k: k)
    if not isinstance(table, dict):
        problems.append(f"{where}: {section}: must be a table")
        table = {}
    known = {key.name for key in SCHEMA[section]} | ({s for s in SCHEMA if s} if not section else set())
    for unknown in sorted(set(table) - known):
        problems.append(f"{where}: {label(unknown)}: unknown key")
    out: dict[str, Any] = {}
    for key in SCHEMA[section]:
        if key.name in table:
            value = table[key.name]
            if not _type_ok(value, key.type):
                problems.append(f"{where}: {label(key.name)}: must be {_TYPE_NAMES[key.type]}, got {type(value).__name__} {value!r}")
                continue
            problem = key.check(value) if key.check else None
            if problem:
                problems.append(f"{where}: {label(key.name)}: {problem}")
                continue
            out[key.name] = value
        elif key.default is REQUIRED:
            problems.append(f"{where}: {label(key.name)}: missing required key")
        elif callable(key.default):
            scope = {**values, **out}
            try:
                out[key.name] = key.default(env, scope)
            except KeyError:
                pass  # depends on a key that is already reported as missing or wrong
        else:
            out[key.name] = copy.deepcopy(key.default)  # never share the schema's own list or table
    return out


def _parse(path: Path, where: str) -> tuple[Environment | None, list[str]]:
    problems: list[str] = []
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        return None, [f"{where}: (file): invalid TOML: {err}"]
    except (OSError, UnicodeDecodeError) as err:
        return None, [f"{where}: (file): cannot be read: {err}"]
    env = path.stem
    top = _read_section(raw, "", env, where, {}, problems)
    sections = {s: _read_section(raw, s, env, where, top, problems) for s in SCHEMA if s}
    if "company_prefix" in top:
        for bucket in (f"{top['company_prefix']}-{suffix}" for suffix in ("encrypted-data", "athena-results", "cloudtrail-logs")):
            if (problem := _bucket_problem(bucket)):
                problems.append(f"{where}: company_prefix: makes an invalid {problem}")
                break
    if "bucket" in sections["state"] and (problem := _bucket_problem(sections["state"]["bucket"])):
        problems.append(f"{where}: state.bucket: {problem}")
    ret = sections["retention"]
    order = ["trail_logs_infrequent_access_days", "trail_logs_glacier_days", "trail_logs_expire_days"]
    if all(k in ret for k in order) and not ret[order[0]] < ret[order[1]] < ret[order[2]]:
        problems.append(f"{where}: retention.trail_logs_glacier_days: trail log transitions must come in order "
                        f"(infrequent access {ret[order[0]]} < glacier {ret[order[1]]} < expiry {ret[order[2]]} days)")
    if problems:
        return None, problems
    return Environment(
        name=env, source=where,
        **{k: tuple(v) if isinstance(v, list) else v for k, v in top.items()},
        state=StateConfig(**sections["state"]),
        names=Names(**sections["names"]),
        retention=Retention(**sections["retention"]),
        athena=AthenaConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in sections["athena"].items()}),
    ), []


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
    where_of = {path: f"{directory.name}/{path.name}" for path in files}
    if not files:
        raise ConfigError([f"{directory.name}/: (directory): no environment files (*.toml)"])
    envs: list[Environment] = []
    problems: list[str] = []
    for path in files:
        env, found = _parse(path, where_of[path])
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


def markdown_table() -> str:
    """The README's table of keys, generated from SCHEMA."""
    rows = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for section, keys in SCHEMA.items():
        for key in keys:
            if key.default is REQUIRED:
                default = "**required**"
            elif key.default_doc:
                default = key.default_doc
            else:
                default = "`" + (repr(key.default).replace("'", '"').replace("True", "true").replace("False", "false")) + "`"
                if isinstance(key.default, list) and len(key.default) > 4:
                    default = f"the {len(key.default)} regions enabled by default"
            name = f"{section}.{key.name}" if section else key.name
            rows.append(f"| `{name}` | {key.type.__name__} | {default} | {key.doc} |")
    return "\n".join(rows)


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown"]:
        print(markdown_table())
    else:
        sys.exit("usage: python -m environments.config --markdown")
