"""AWS naming rules and partitions, shared by the environment loader and the constructs.

Imports nothing of cdktf: the loader refuses bad input with these rules before the slow import of
the provider bindings, and the constructs apply the same rules to values given in code. Each
`*_problem` function returns a description of what is wrong with a value, or None.

The regions of each partition are data (`data/regions.toml`), compared with botocore's in a test.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from definitions.paths import DATA_DIR
from definitions.typed_toml import read_file

REGIONS_FILE = DATA_DIR / "regions.toml"

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)
# Athena refuses a per-query scan cutoff below 10 MiB.
ATHENA_MIN_SCAN_CUTOFF = 10 * 1024 * 1024
RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", "--x-s3")
# IAM names: role and user names up to 64 characters, group names up to 128.
IAM_NAME_LENGTH = {"role": 64, "user": 64, "group": 128, "policy": 128}

Check = Callable[[Any], "str | None"]


# --- partitions and regions -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Partition:
    """An AWS partition: the DNS suffix of its endpoints, its regions, those every account has
    without opting in (a multi-region trail writes logs for each), and the region whose logs hold
    the calls to its global services (IAM, STS's global endpoint, console sign-in, Organizations)."""

    dns_suffix: str
    regions: tuple[str, ...]
    enabled_by_default: tuple[str, ...]
    global_region: str

    def problems(self) -> Iterator[tuple[str, str]]:
        if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", self.dns_suffix, re.ASCII):
            yield "dns_suffix", f"must be a DNS suffix such as 'amazonaws.com', got {self.dns_suffix!r}"
        if bad := [r for r in self.regions if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d+", r, re.ASCII)]:
            yield "regions", f"must be region names such as 'eu-west-1', got {', '.join(map(repr, bad))}"
        if outside := [r for r in self.enabled_by_default if r not in self.regions]:
            yield "enabled_by_default", f"names regions not in `regions`: {', '.join(outside)}"
        if self.global_region not in self.enabled_by_default:
            yield "global_region", f"{self.global_region!r} is not a region of `enabled_by_default`"


@dataclasses.dataclass(frozen=True)
class _RegionsFile:
    partitions: dict[str, Partition]

    def problems(self) -> Iterator[tuple[str, str]]:
        seen: dict[str, str] = {}
        for name, partition in self.partitions.items():
            for region in partition.regions:
                if seen.setdefault(region, name) != name:
                    yield f"partitions.{name}.regions", f"{region} is in partition {seen[region]} too"


def partitions(path: Path = REGIONS_FILE) -> Mapping[str, Partition]:
    """{partition name: Partition} from `data/regions.toml`, read once (by the reader); ConfigError lists every problem."""
    return read_file(_RegionsFile, path).partitions


def partition_of(region: str) -> str:
    """The partition a region belongs to; KeyError for a region of none."""
    for name, partition in partitions().items():
        if region in partition.regions:
            return name
    raise KeyError(region)


def dns_suffix(partition: str) -> str:
    return partitions()[partition].dns_suffix


def enabled_regions(partition: str) -> tuple[str, ...]:
    """The regions every account of the partition has without opting in."""
    return partitions()[partition].enabled_by_default


def global_region(partition: str) -> str:
    """Where CloudTrail records the partition's global services' calls."""
    return partitions()[partition].global_region


def all_regions(partition: str) -> tuple[str, ...]:
    """Every region of the partition, the opt-in ones included."""
    return partitions()[partition].regions


def region_problem(region: str) -> str | None:
    try:
        partition_of(region)
        return None
    except KeyError:
        problem = f"must be an AWS region name such as 'eu-west-1', got {region!r}"
        if re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d+", region, re.ASCII):
            problem += f", which no partition has ({', '.join(partitions())}: {REGIONS_FILE.name})"
        return problem


# --- names ------------------------------------------------------------------------------------


def pattern(regex: str, what: str) -> Check:
    """A check that the whole value matches `regex` (ASCII only); `what` says what it must be."""
    compiled = re.compile(regex, re.ASCII)
    return lambda value: None if compiled.fullmatch(value) else f"{what}, got {value!r}"


def bucket_name_problem(name: str) -> str | None:
    """S3's rules for general purpose bucket names."""
    if not 3 <= len(name) <= 63:
        return f"bucket name {name!r} must be 3 to 63 characters long"
    try:
        ipaddress.IPv4Address(name)
        return f"bucket name {name!r} must not look like an IP address"
    except ValueError:
        pass
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", name, re.ASCII):
        return (f"bucket name {name!r} may hold only lowercase letters, digits and hyphens, "
                "and must begin and end with a letter or digit")
    for prefix in RESERVED_BUCKET_PREFIXES:
        if name.startswith(prefix):
            return f"bucket name {name!r} must not start with {prefix!r}"
    for suffix in RESERVED_BUCKET_SUFFIXES:
        if name.endswith(suffix):
            return f"bucket name {name!r} must not end with {suffix!r}"
    return None


def kms_alias_problem(alias: str) -> str | None:
    if not re.fullmatch(r"alias/[a-zA-Z0-9/_-]{1,250}", alias, re.ASCII) or alias.startswith("alias/aws/"):
        return f"must be 'alias/' followed by letters, digits, '/', '_' or '-' (not 'alias/aws/'), got {alias!r}"
    return None


def iam_name_problem(kind: str) -> Check:
    """IAM's rule for the name of a role, user or group."""
    longest = IAM_NAME_LENGTH[kind]
    return pattern(rf"[\w+=,.@-]{{1,{longest}}}", f"must be a valid IAM {kind} name (1-{longest} of letters, digits, +=,.@_-)")


# IAM Identity Center creates its roles under this path, with the region of the Identity Center
# instance as a last part where it has one (IAM Identity Center user guide, "Service-linked roles"
# and "Referencing permission sets in resource policies").
SSO_ROLE_PATH = re.compile(r"aws-reserved/sso\.amazonaws\.com/([a-z]{2}(-[a-z]+)+-\d/)?", re.ASCII)


def sso_role_path_problem(arn: str) -> str | None:
    """An IAM Identity Center role (`AWSReservedSSO_*`) named without its path: `aws:PrincipalArn`
    carries the path, so a condition naming the role without it never matches, and a key policy
    whose deny then catches its own caller is refused by KMS (MalformedPolicyDocumentException)."""
    resource = arn.split(":", 5)[-1]
    if not resource.startswith("role/"):
        return None
    path, _, name = resource.removeprefix("role/").rpartition("/")
    if name.startswith("AWSReservedSSO_") and not SSO_ROLE_PATH.fullmatch(f"{path}/" if path else ""):
        return (f"names IAM Identity Center role {name} outside its path aws-reserved/sso.amazonaws.com/: write "
                f"'{arn.rsplit(':', 1)[0]}:role/aws-reserved/sso.amazonaws.com/<region>/{name}' as IAM shows it "
                f"(aws:PrincipalArn carries the path), got {arn!r}")
    return None


def all_of(*checks: Check) -> Check:
    """A check that runs `checks` in order and reports the first problem."""
    def run(value: Any) -> str | None:
        return next((p for p in (check(value) for check in checks) if p), None)
    return run


principal_arn_problem = all_of(pattern(r"arn:aws(-cn|-us-gov)?:iam::\d{12}:(root|(role|user)/[\w+=,.@/-]+)",
                                       "must be an IAM role, user or root ARN"), sso_role_path_problem)
break_glass_arn_problem = all_of(
    pattern(r"arn:aws(-cn|-us-gov)?:iam::\d{12}:(root|role/[\w+=,.@/-]+)",
            "must be an IAM role ARN or the account root (aws:PrincipalArn names a role, never a session)"),
    sso_role_path_problem)
user_arn_problem = pattern(r"arn:aws(-cn|-us-gov)?:iam::\d{12}:user/[\w+=,.@/-]+", "must be an IAM user ARN")
service_principal_problem = pattern(r"[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com(\.cn)?",
                                    "must be a service principal such as 'lambda.amazonaws.com'")
account_id_problem = pattern(r"\d{12}", "must be 12 digits")
email_problem = pattern(r"[^@\s]+@[^@\s]+\.[^@\s]+", "must be an e-mail address")
trail_name_problem = pattern(r"[A-Za-z0-9][A-Za-z0-9._-]{1,126}[A-Za-z0-9]", "must be 3-128 letters, digits, '.', '_' or '-'")
workgroup_name_problem = pattern(r"[A-Za-z0-9._-]{1,128}", "must be 1-128 letters, digits, '.', '_' or '-'")
glue_database_name_problem = pattern(r"[a-z0-9_]{1,255}", "must be lowercase letters, digits and '_'")
kms_key_arn_problem = pattern(r"arn:aws(-cn|-us-gov)?:kms:[a-z]{2}(-[a-z]+)+-\d+:\d{12}:key/[A-Za-z0-9-]{1,64}",
                              "must be a KMS key's ARN (arn:aws:kms:<region>:<account>:key/<id>)")
log_group_name_problem = pattern(r"[A-Za-z0-9._/#-]{1,512}", "must be 1-512 letters, digits, '.', '_', '-', '/' or '#'")
github_repository_problem = pattern(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}",
                                    "must be a GitHub repository as '<owner>/<name>'")
github_oidc_provider_problem = pattern(r"arn:aws(-cn|-us-gov)?:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com",
                                       "must be the ARN of an IAM OIDC provider for token.actions.githubusercontent.com")
# An EventBridge rule name is at most 64 of [.-_A-Za-z0-9]; the audit-path rule names
# (definitions/data/audit_path_rules.toml) take up to 40 of them after the prefix and a '-'.
event_rule_name_problem = pattern(r"[.A-Za-z0-9_-]{1,64}", "must be 1-64 letters, digits, '.', '_' or '-'")
# EventBridge Scheduler API reference, CreateSchedule: Name.
schedule_name_problem = pattern(r"[0-9a-zA-Z._-]{1,64}", "must be 1-64 letters, digits, '.', '_' or '-'")
event_rule_prefix_problem = pattern(r"[.A-Za-z0-9_-]{1,23}", "must be 1-23 letters, digits, '.', '_' or '-'")
dashboard_name_problem = pattern(r"[A-Za-z0-9_-]{1,255}", "must be 1-255 letters, digits, '_' or '-'")
topic_name_problem = pattern(r"[A-Za-z0-9_-]{1,256}", "must be 1-256 letters, digits, '_' or '-'")


def arn_account(arn: str) -> str:
    """The account id of an IAM ARN (`arn:aws:iam::111111111111:role/x` -> `111111111111`)."""
    return arn.split(":")[4]


def tags_problem(tags: Mapping[str, Any]) -> str | None:
    bad = [repr(k) for k, v in tags.items() if not re.fullmatch(r"[\w .:/=+@-]{1,128}", k, re.ASCII) or not isinstance(v, str)]
    return f"tags must map keys (1-128 characters) to strings; bad: {', '.join(sorted(bad))}" if bad else None


def log_retention_problem(days: int) -> str | None:
    if days in LOG_RETENTION_DAYS:
        return None
    return f"CloudWatch Logs accepts only {', '.join(map(str, LOG_RETENTION_DAYS))} days, got {days}"


def date_problem(value: str) -> str | None:
    try:
        if re.fullmatch(r"\d{4}/\d{2}/\d{2}", value, re.ASCII):
            datetime.datetime.strptime(value, "%Y/%m/%d")
            return None
    except ValueError:
        pass
    return f"must be a date as YYYY/MM/DD, got {value!r}"


def int_range(low: int, high: int | None = None) -> Check:
    def check(value: int) -> str | None:
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            return f"must be {bound}, got {value}"
        return None
    return check


# KMS waits 7 to 30 days before it deletes a key scheduled for deletion.
key_deletion_window_problem = int_range(7, 30)
athena_scan_cutoff_problem = int_range(ATHENA_MIN_SCAN_CUTOFF)


def positive_days(value: int) -> str | None:
    return None if value > 0 else f"must be a positive number of days, got {value}"


def non_empty(what: str) -> Check:
    """A check that a list holds at least one item; `what` says what it must hold."""
    return lambda values: None if values else f"must {what}"


def each(check: Check) -> Check:
    """A check of every item of a list."""
    def run(values: list[Any]) -> str | None:
        return "; ".join(p for p in map(check, values) if p) or None
    return run
