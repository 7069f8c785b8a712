"""Tests of the environment loader (`environments/config.py`) and of main.py's bad-input path.

Every problem is one line `<folder>/<file>: <key>: <problem>`; the fragments asserted below are
copied from the messages in config.py. Environment files are written into `tmp_path/envs`, so
every line starts with `envs/<file>: `.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any

import pytest

from definitions.errors import ConfigError
from definitions.paths import ROOT
from environments.config import Environment, load_environments
from tests.support import ENVIRONMENTS_DIR

MINIMAL = {"company_prefix": "acme", "account_id": "111111111111", "region": "eu-west-1",
           "deployer_arns": ["arn:aws:iam::111111111111:role/Deployer"]}
# What production requires besides `production = true`.
BREAK_GLASS = {"break_glass_arns": ["arn:aws:iam::111111111111:role/BreakGlass"]}
DROP = object()  # value in `config(...)` that removes a key of MINIMAL


# --- helpers ----------------------------------------------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    raise TypeError(f"no TOML for {value!r}")


def to_toml(data: dict[str, Any]) -> str:
    """Top-level scalars first, then one `[section]` per dict value."""
    lines = [f"{json.dumps(k)} = {toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for section, table in data.items():
        if isinstance(table, dict):
            lines.append(f"[{json.dumps(section)}]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def config(**changes: Any) -> dict[str, Any]:
    """MINIMAL with keys replaced, added (dicts become sections) or removed (DROP)."""
    data = {**MINIMAL, **changes}
    account = data.get("account_id")
    if "deployer_arns" not in changes and isinstance(account, str) and re.fullmatch(r"\d{12}", account, re.ASCII):
        data["deployer_arns"] = [f"arn:aws:iam::{account}:role/Deployer"]  # a deployer of that account
    return {k: v for k, v in data.items() if v is not DROP}


def write_envs(tmp_path: Path, files: dict[str, dict[str, Any] | str]) -> Path:
    """Write `{stem: dict or raw TOML text}` as `tmp_path/envs/<stem>.toml`; return the folder."""
    folder = tmp_path / "envs"
    folder.mkdir(exist_ok=True)
    for stem, content in files.items():
        text = content if isinstance(content, str) else to_toml(content)
        (folder / f"{stem}.toml").write_text(text, encoding="utf-8")
    return folder


def load(tmp_path: Path, files: dict[str, dict[str, Any] | str], only: list[str] | None = None) -> dict[str, Environment]:
    return {env.name: env for env in load_environments(write_envs(tmp_path, files), only)}


def problems(tmp_path: Path, files: dict[str, dict[str, Any] | str], only: list[str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_environments(write_envs(tmp_path, files), only)
    found = caught.value.problems
    assert found and all(isinstance(p, str) and "\n" not in p for p in found)
    assert str(caught.value) == "\n".join(found)
    return found


def file_and_key(problem: str) -> tuple[str, str]:
    file, key, _ = problem.split(": ", 2)
    return file, key


def lines_for(found: list[str], file: str, key: str) -> list[str]:
    return [p for p in found if file_and_key(p) == (f"envs/{file}", key)]


# --- one bad value: rejected with a line naming the file and the key --------------------------


@dataclass
class Bad:
    id: str
    content: dict[str, Any] | str
    key: str
    fragment: str
    also: set[str] = field(default_factory=set)  # other keys legitimately reported too


ARABIC_INDIC_ONE = "\u0661"  # '١': a digit to `\d` without re.ASCII, not to AWS
LONG_PREFIX = "a" * 48  # `<prefix>-cloudtrail-logs` is 64 characters; 47 is fine (see ACCEPTED)

BAD = [
    # the file itself
    Bad("toml-syntax", 'company_prefix = "acme\n', "(file)", "invalid TOML"),
    Bad("toml-duplicate-key", to_toml(MINIMAL) + 'region = "eu-west-2"\n', "(file)", "invalid TOML"),
    # unknown and missing keys
    Bad("unknown-top-level", config(colour="blue"), "colour", "unknown key"),
    Bad("unknown-in-names", config(names={"colour": "blue"}), "names.colour", "unknown key"),
    Bad("unknown-in-retention", config(retention={"log_days": 30}), "retention.log_days", "unknown key"),
    Bad("unknown-section", config(extras={"a": "b"}), "extras", "unknown key"),
    Bad("section-not-a-table", config(names="blue"), "names", "must be a table"),
    Bad("missing-company-prefix", config(company_prefix=DROP), "company_prefix", "missing required key"),
    Bad("missing-account-id", config(account_id=DROP), "account_id", "missing required key"),
    Bad("missing-region", config(region=DROP), "region", "missing required key"),
    # types (`true` is not an integer, `1` is not a boolean)
    Bad("str-for-int", config(key_deletion_window_days="30"), "key_deletion_window_days", "must be an integer, got str '30'"),
    Bad("int-for-str", config(names={"role": 5}), "names.role", "must be a string, got int 5"),
    Bad("bool-for-int", config(retention={"log_group_days": True}), "retention.log_group_days", "must be an integer, got bool True"),
    Bad("int-for-bool", config(production=1), "production", "must be true or false, got int 1"),
    Bad("int-in-list", config(trusted_services=[1]), "trusted_services", "must be a list of strings"),
    Bad("str-for-table", config(tags="platform"), "tags", "must be a table, got str 'platform'"),
    # account and region
    Bad("account-11-digits", config(account_id="11111111111"), "account_id", "must be 12 digits, got '11111111111'"),
    Bad("account-13-digits", config(account_id="1111111111111"), "account_id", "must be 12 digits"),
    Bad("account-letters", config(account_id="11111111111a"), "account_id", "must be 12 digits"),
    Bad("account-int", config(account_id=111111111111), "account_id", "must be a string, got int 111111111111"),
    Bad("region-word", config(region="europe"), "region", "must be an AWS region name such as 'eu-west-1', got 'europe'"),
    Bad("region-no-number", config(region="eu-west"), "region", "must be an AWS region name"),
    Bad("state-region", config(state={"region": "eu-west"}), "state.region", "must be an AWS region name"),
    # bucket names made from company_prefix; the default state bucket `<prefix>-terraform-state`
    # is then just as invalid, but the cause is reported once, at company_prefix
    Bad("prefix-uppercase", config(company_prefix="Acme"), "company_prefix",
        "'Acme' cannot begin a bucket name: bucket name 'Acme-encrypted-data' may hold only lowercase letters"),
    Bad("prefix-underscore", config(company_prefix="acme_corp"), "company_prefix", "may hold only lowercase letters"),
    Bad("prefix-too-long", config(company_prefix=LONG_PREFIX), "company_prefix",
        f"'{LONG_PREFIX}-cloudtrail-logs' must be 3 to 63 characters long"),
    Bad("prefix-leading-hyphen", config(company_prefix="-acme"), "company_prefix", "must begin and end with a letter or digit"),
    Bad("prefix-empty", config(company_prefix=""), "company_prefix", "must begin and end with a letter or digit"),
    Bad("prefix-ip-address", config(company_prefix="192.168.1.1"), "company_prefix", "may hold only lowercase letters"),
    Bad("prefix-xn--", config(company_prefix="xn--acme"), "company_prefix", "must not start with 'xn--'"),
    Bad("prefix-sthree-", config(company_prefix="sthree-acme"), "company_prefix",
        "cannot begin a bucket name: bucket name 'sthree-acme-encrypted-data' must not start with 'sthree-'"),
    Bad("prefix-amzn-s3-demo-", config(company_prefix="amzn-s3-demo-acme"), "company_prefix",
        "cannot begin a bucket name: bucket name 'amzn-s3-demo-acme-encrypted-data' must not start with 'amzn-s3-demo-'"),
    # explicit state bucket
    Bad("state-bucket-xn--", config(state={"bucket": "xn--acme-state"}), "state.bucket",
        "bucket name 'xn--acme-state' must not start with 'xn--'"),
    Bad("state-bucket-sthree-", config(state={"bucket": "sthree-acme-state"}), "state.bucket",
        "bucket name 'sthree-acme-state' must not start with 'sthree-'"),
    Bad("state-bucket-amzn-s3-demo-", config(state={"bucket": "amzn-s3-demo-acme-state"}), "state.bucket",
        "bucket name 'amzn-s3-demo-acme-state' must not start with 'amzn-s3-demo-'"),
    Bad("state-bucket-s3alias", config(state={"bucket": "acme-state-s3alias"}), "state.bucket", "must not end with '-s3alias'"),
    Bad("state-bucket--ol-s3", config(state={"bucket": "acme-state--ol-s3"}), "state.bucket",
        "bucket name 'acme-state--ol-s3' must not end with '--ol-s3'"),
    Bad("state-bucket--x-s3", config(state={"bucket": "acme-state--x-s3"}), "state.bucket",
        "bucket name 'acme-state--x-s3' must not end with '--x-s3'"),
    # the IP-address check runs before the character check, so the message says what is wrong
    Bad("state-bucket-ip-address", config(state={"bucket": "192.168.1.1"}), "state.bucket",
        "bucket name '192.168.1.1' must not look like an IP address"),
    Bad("state-bucket-too-short", config(state={"bucket": "ab"}), "state.bucket", "must be 3 to 63 characters long"),
    Bad("state-bucket-trailing-hyphen", config(state={"bucket": "acme-state-"}), "state.bucket", "must begin and end with a letter or digit"),
    # retention
    Bad("retention-zero", config(retention={"data_noncurrent_version_days": 0}),
        "retention.data_noncurrent_version_days", "must be a positive number of days, got 0"),
    Bad("retention-negative", config(retention={"athena_results_days": -1}),
        "retention.athena_results_days", "must be a positive number of days, got -1"),
    Bad("infrequent-access-below-30", config(retention={"trail_logs_infrequent_access_days": 29}),
        "retention.trail_logs_infrequent_access_days", "must be at least 30, got 29"),
    Bad("log-retention-366", config(retention={"log_group_days": 366}), "retention.log_group_days", "CloudWatch Logs accepts only"),
    Bad("log-retention-0", config(retention={"log_group_days": 0}), "retention.log_group_days", "got 0"),
    Bad("transitions-out-of-order", config(retention={"trail_logs_glacier_days": 3000}),
        "retention.trail_logs_glacier_days", "trail log transitions must come in order"),
    # KMS
    Bad("key-deletion-6", config(key_deletion_window_days=6), "key_deletion_window_days", "must be from 7 to 30, got 6"),
    Bad("key-deletion-31", config(key_deletion_window_days=31), "key_deletion_window_days", "must be from 7 to 30, got 31"),
    Bad("key-alias-no-prefix", config(names={"key_alias": "s3-key"}), "names.key_alias", "must be 'alias/' followed by"),
    Bad("key-alias-aws-reserved", config(names={"alerting_key_alias": "alias/aws/s3"}), "names.alerting_key_alias", "(not 'alias/aws/')"),
    # Athena
    Bad("scan-cutoff-below-10MiB", config(athena={"bytes_scanned_cutoff": 10485759}),
        "athena.bytes_scanned_cutoff", "must be at least 10485760, got 10485759"),
    Bad("projection-start-dashes", config(athena={"projection_start": "2025-01-01"}), "athena.projection_start", "must be a date as YYYY/MM/DD"),
    Bad("projection-start-feb-31", config(athena={"projection_start": "2025/02/31"}), "athena.projection_start",
        "must be a date as YYYY/MM/DD, got '2025/02/31'"),
    Bad("projection-start-feb-29-no-leap-year", config(athena={"projection_start": "2023/02/29"}), "athena.projection_start",
        "must be a date as YYYY/MM/DD, got '2023/02/29'"),
    Bad("projection-start-month-13", config(athena={"projection_start": "2025/13/01"}), "athena.projection_start",
        "must be a date as YYYY/MM/DD, got '2025/13/01'"),
    Bad("projection-start-day-00", config(athena={"projection_start": "2025/01/00"}), "athena.projection_start",
        "must be a date as YYYY/MM/DD, got '2025/01/00'"),
    Bad("projected-region", config(athena={"projected_regions": ["eu-west-1", "europe"]}),
        "athena.projected_regions", "must be an AWS region name such as 'eu-west-1', got 'europe'"),
    Bad("region-unknown", config(region="us-east-9"), "region",
        "must be an AWS region name such as 'eu-west-1', got 'us-east-9', which no partition has"),
    Bad("state-region-unknown", config(state={"region": "eu-west-7"}), "state.region", "got 'eu-west-7', which no partition has"),
    # other names and lists
    Bad("role-with-space", config(names={"role": "my role"}), "names.role", "must be a valid IAM role name"),
    Bad("role-too-long", config(names={"role": "r" * 65}), "names.role", "must be a valid IAM role name (1-64 of"),
    Bad("group-too-long", config(names={"group": "g" * 129}), "names.group", "must be a valid IAM group name (1-128 of"),
    Bad("production-without-protection", config(production=True, prevent_destroy=False, **BREAK_GLASS), "prevent_destroy",
        "cannot be false in production"),
    Bad("production-without-break-glass", config(production=True), "break_glass_arns",
        "is required in production: without it any key or IAM administrator can disable the keys"),
    Bad("break-glass-session", config(break_glass_arns=["arn:aws:sts::111111111111:assumed-role/BreakGlass/alice"]),
        "break_glass_arns", "must be an IAM role ARN or the account root (aws:PrincipalArn names a role, never a session)"),
    Bad("break-glass-user", config(break_glass_arns=["arn:aws:iam::111111111111:user/alice"]), "break_glass_arns",
        "must be an IAM role ARN or the account root"),
    Bad("break-glass-malformed", config(break_glass_arns=["BreakGlass"]), "break_glass_arns", "got 'BreakGlass'"),
    Bad("deployers-missing", config(deployer_arns=DROP), "deployer_arns", "missing required key"),
    Bad("deployers-empty", config(deployer_arns=[]), "deployer_arns",
        "must name at least one role or user: without them the data bucket's deny refuses Terraform's refresh"),
    Bad("deployer-sso-role-without-path", config(deployer_arns=["arn:aws:iam::111111111111:role/AWSReservedSSO_Admin_0a1b"]),
        "deployer_arns", "names IAM Identity Center role AWSReservedSSO_Admin_0a1b outside its path "
        "aws-reserved/sso.amazonaws.com/: write 'arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/<region>/"
        "AWSReservedSSO_Admin_0a1b'"),
    Bad("break-glass-sso-role-without-path", config(break_glass_arns=["arn:aws:iam::111111111111:role/AWSReservedSSO_Admin_0a1b"]),
        "break_glass_arns", "names IAM Identity Center role AWSReservedSSO_Admin_0a1b outside its path"),
    Bad("break-glass-other-account", config(break_glass_arns=["arn:aws:iam::999999999999:role/BreakGlass"]), "break_glass_arns",
        "names principals outside account 111111111111: arn:aws:iam::999999999999:role/BreakGlass"),
    Bad("deployer-other-account", config(deployer_arns=["arn:aws:iam::999999999999:role/Deployer"]), "deployer_arns",
        "names principals outside account 111111111111"),
    Bad("key-admin-other-account", config(key_admin_arns=["arn:aws:iam::999999999999:role/KeyAdmin"]), "key_admin_arns",
        "names principals outside account 111111111111"),
    Bad("analyst-not-a-user", config(analyst_user_arns=["arn:aws:iam::111111111111:role/Analyst"]), "analyst_user_arns",
        "must be an IAM user ARN"),
    Bad("analyst-other-account", config(analyst_user_arns=["arn:aws:iam::999999999999:user/alice"]), "analyst_user_arns",
        "names principals outside account 111111111111"),
    Bad("trail-too-short", config(names={"trail": "ab"}), "names.trail", "must be 3-128 letters"),
    Bad("database-uppercase", config(names={"database": "Logs"}), "names.database", "must be lowercase letters, digits and '_'"),
    Bad("admin-arn", config(key_admin_arns=["arn:aws:iam::1234:role/admin"]), "key_admin_arns", "must be an IAM role, user or root ARN"),
    Bad("service", config(trusted_services=["ec2"]), "trusted_services", "must be a service principal"),
    Bad("email", config(alarm_emails=["security"]), "alarm_emails", "must be an e-mail address, got 'security'"),
    Bad("tag-value-int", config(tags={"cost-center": 5}), "tags", "bad: 'cost-center'"),
    Bad("github-repository-no-owner", config(github={"repository": "platform"}), "github.repository",
        "must be a GitHub repository as '<owner>/<name>', got 'platform'"),
    Bad("github-provider-not-github", config(github={"oidc_provider_arn": "arn:aws:iam::111111111111:oidc-provider/example.com"}),
        "github.oidc_provider_arn", "must be the ARN of an IAM OIDC provider for token.actions.githubusercontent.com"),
    Bad("plan-role-too-long", config(names={"plan_role": "p" * 65}), "names.plan_role", "must be a valid IAM role name"),
    # a trailing newline is rejected (whole-value match), and shown escaped by repr
    Bad("account-trailing-newline", config(account_id="111111111111\n"), "account_id", "must be 12 digits, got '111111111111\\n'"),
    Bad("region-trailing-newline", config(region="eu-west-1\n"), "region",
        "must be an AWS region name such as 'eu-west-1', got 'eu-west-1\\n'"),
    Bad("state-region-trailing-newline", config(state={"region": "eu-west-1\n"}), "state.region", "got 'eu-west-1\\n'"),
    Bad("state-bucket-trailing-newline", config(state={"bucket": "acme-state\n"}), "state.bucket",
        "bucket name 'acme-state\\n' may hold only lowercase letters"),
    Bad("key-alias-trailing-newline", config(names={"key_alias": "alias/s3-key\n"}), "names.key_alias", "got 'alias/s3-key\\n'"),
    Bad("role-trailing-newline", config(names={"role": "AppRole\n"}), "names.role",
        "must be a valid IAM role name (1-64 of letters, digits, +=,.@_-), got 'AppRole\\n'"),
    Bad("trail-trailing-newline", config(names={"trail": "audit\n"}), "names.trail", "got 'audit\\n'"),
    Bad("database-trailing-newline", config(names={"database": "logs\n"}), "names.database", "got 'logs\\n'"),
    Bad("projection-start-trailing-newline", config(athena={"projection_start": "2025/01/01\n"}), "athena.projection_start",
        "must be a date as YYYY/MM/DD, got '2025/01/01\\n'"),
    Bad("projected-region-trailing-newline", config(athena={"projected_regions": ["eu-west-1\n"]}), "athena.projected_regions",
        "got 'eu-west-1\\n'"),
    Bad("service-trailing-newline", config(trusted_services=["ec2.amazonaws.com\n"]), "trusted_services", "got 'ec2.amazonaws.com\\n'"),
    Bad("admin-arn-trailing-newline", config(key_admin_arns=["arn:aws:iam::111111111111:role/admin\n"]), "key_admin_arns",
        "got 'arn:aws:iam::111111111111:role/admin\\n'"),
    Bad("email-trailing-newline", config(alarm_emails=["security@example.com\n"]), "alarm_emails", "got 'security@example.com\\n'"),
    Bad("tag-key-trailing-newline", config(tags={"team\n": "platform"}), "tags", "bad: 'team\\n'"),
    # non-ASCII digits and letters are rejected (ASCII-only patterns)
    Bad("account-arabic-indic-digits", config(account_id=ARABIC_INDIC_ONE * 12), "account_id", f"must be 12 digits, got '{ARABIC_INDIC_ONE * 12}'"),
    Bad("region-arabic-indic-digit", config(region=f"eu-west-{ARABIC_INDIC_ONE}"), "region", f"got 'eu-west-{ARABIC_INDIC_ONE}'"),
    Bad("role-non-ascii-letter", config(names={"role": "R\u00f4le"}), "names.role",
        "must be a valid IAM role name (1-64 of letters, digits, +=,.@_-), got 'R\u00f4le'"),
    Bad("group-non-ascii-letter", config(names={"group": "Analystes\u00c9quipe"}), "names.group", "got 'Analystes\u00c9quipe'"),
    Bad("projection-start-fullwidth-digits", config(athena={"projection_start": "\uff12\uff10\uff12\uff15/01/01"}),
        "athena.projection_start", "must be a date as YYYY/MM/DD, got '\uff12\uff10\uff12\uff15/01/01'"),
    Bad("admin-arn-arabic-indic-account", config(key_admin_arns=[f"arn:aws:iam::{ARABIC_INDIC_ONE * 12}:role/admin"]), "key_admin_arns",
        "must be an IAM role, user or root ARN"),
    Bad("tag-key-non-ascii", config(tags={"co\u00fbt": "platform"}), "tags", "bad: 'co\u00fbt'"),
    # the audit settings
    Bad("object-lock-mode-unknown", config(audit={"object_lock_mode": "governance"}), "audit.object_lock_mode",
        "must be one of"),
    Bad("object-lock-days-zero", config(audit={"object_lock_days": 0}), "audit.object_lock_days", "got 0"),
    Bad("locked-logs-expire-first", config(audit={"object_lock_mode": "COMPLIANCE", "object_lock_days": 400},
                                           retention={"trail_logs_expire_days": 399}),
        "retention.trail_logs_expire_days", "must be at least audit.object_lock_days (400)"),
    Bad("state-access-log-bucket-too-long", config(state={"bucket": "s" * 60, "region": "eu-central-1"}), "state.bucket",
        "makes an invalid access-log bucket name for the state region"),
    Bad("usage-threshold-zero", config(audit={"data_key_calls_per_hour": 0}), "audit.data_key_calls_per_hour", "got 0"),
]


def test_an_unknown_key_suggests_the_nearest_known_one(tmp_path: Path) -> None:
    found = problems(tmp_path, {"dev": config(regoin="eu-west-1", retention={"log_group_dayz": 30}, colour="blue")})
    assert sorted(found) == ["envs/dev.toml: colour: unknown key",
                             "envs/dev.toml: regoin: unknown key (did you mean region?)",
                             "envs/dev.toml: retention.log_group_dayz: unknown key (did you mean retention.log_group_days?)"]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in BAD])
def test_bad_value_is_reported_with_file_and_key(tmp_path: Path, case: Bad) -> None:
    found = problems(tmp_path, {"dev": case.content})
    matching = lines_for(found, "dev.toml", case.key)
    assert matching, found
    assert any(case.fragment in line for line in matching), found
    assert {file_and_key(p) for p in found} == {("envs/dev.toml", k) for k in {case.key} | case.also}


# --- boundary values that must be accepted ----------------------------------------------------


ACCEPTED = [
    pytest.param(config(retention={"log_group_days": 365}), "retention.log_group_days", 365, id="log-retention-365"),
    pytest.param(config(retention={"log_group_days": 3653}), "retention.log_group_days", 3653, id="log-retention-3653"),
    pytest.param(config(retention={"log_group_days": 1}), "retention.log_group_days", 1, id="log-retention-1"),
    pytest.param(config(key_deletion_window_days=7), "key_deletion_window_days", 7, id="key-deletion-7"),
    pytest.param(config(key_deletion_window_days=30), "key_deletion_window_days", 30, id="key-deletion-30"),
    pytest.param(config(athena={"bytes_scanned_cutoff": 10485760}), "athena.bytes_scanned_cutoff", 10485760, id="scan-cutoff-10MiB"),
    pytest.param(config(retention={"trail_logs_infrequent_access_days": 30}),
                 "retention.trail_logs_infrequent_access_days", 30, id="infrequent-access-30"),
    pytest.param(config(account_id="000000000001"), "account_id", "000000000001", id="account-leading-zeros"),
    pytest.param(config(region="us-gov-west-1"), "region", "us-gov-west-1", id="region-govcloud"),
    pytest.param(config(region="ap-southeast-2"), "region", "ap-southeast-2", id="region-ap-southeast-2"),
    pytest.param(config(company_prefix="a" * 47), "trail_bucket", "a" * 47 + "-cloudtrail-logs", id="prefix-47-chars"),
    # `acme--encrypted-data`: adjacent hyphens are allowed in bucket names
    pytest.param(config(company_prefix="acme-"), "data_bucket", "acme--encrypted-data", id="prefix-trailing-hyphen"),
    pytest.param(config(state={"bucket": "s" * 63}), "state.bucket", "s" * 63, id="state-bucket-63-chars"),
    pytest.param(config(names={"role": "r" * 64}), "names.role", "r" * 64, id="role-64-chars"),
    pytest.param(config(names={"group": "g" * 128}), "names.group", "g" * 128, id="group-128-chars"),
    pytest.param(config(region="cn-north-1"), "partition", "aws-cn", id="region-china"),
    pytest.param(config(athena={"projection_start": "2024/02/29"}), "athena.projection_start", "2024/02/29", id="projection-start-leap-day"),
    # a lock as long as the logs live; no lock, no limit; the state bucket's access logs stay in its region
    pytest.param(config(audit={"object_lock_mode": "GOVERNANCE", "object_lock_days": 2557}), "audit.object_lock_days", 2557,
                 id="lock-as-long-as-the-logs"),
    pytest.param(config(audit={"object_lock_days": 9999}), "audit.object_lock_mode", "", id="no-lock-no-limit"),
    pytest.param(config(state={"bucket": "s" * 51, "region": "eu-central-1"}), "state_access_log_bucket",
                 "s" * 51 + "-access-logs", id="state-access-logs-63-chars"),
    pytest.param(config(state={"bucket": "s" * 60, "region": "eu-central-1"}, audit={"access_logs": False}),
                 "state_access_log_bucket", None, id="no-access-logs-no-state-log-bucket"),
]


@pytest.mark.parametrize("content, attribute, expected", ACCEPTED)
def test_boundary_value_is_accepted(tmp_path: Path, content: dict[str, Any], attribute: str, expected: Any) -> None:
    env = load(tmp_path, {"dev": content})["dev"]
    assert attrgetter(attribute)(env) == expected


# --- everything is reported at once -----------------------------------------------------------


def test_every_problem_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(tmp_path, {
        "broken": "region = [\n",
        "dev": config(colour="blue", region=DROP, retention={"log_group_days": 366, "athena_results_days": 0}),
        "prod": config(account_id="12345", key_deletion_window_days=True, names={"nmae": "x"}),
        "good": config(company_prefix="acme-good", account_id="999999999999"),
    })
    assert sorted(file_and_key(p) for p in found) == sorted([
        ("envs/broken.toml", "(file)"),
        ("envs/dev.toml", "colour"),
        ("envs/dev.toml", "region"),
        ("envs/dev.toml", "retention.log_group_days"),
        ("envs/dev.toml", "retention.athena_results_days"),
        ("envs/prod.toml", "account_id"),
        ("envs/prod.toml", "key_deletion_window_days"),
        ("envs/prod.toml", "names.nmae"),
    ])


def test_file_problems_and_collisions_are_reported_together(tmp_path: Path) -> None:
    found = problems(tmp_path, {
        "a": config(),
        "b": config(account_id="222222222222"),  # same prefix: same bucket names
        "c": config(company_prefix="acme-c", region="europe"),
    })
    assert lines_for(found, "c.toml", "region")
    assert lines_for(found, "b.toml", "company_prefix")


# --- defaults ---------------------------------------------------------------------------------


def test_minimal_file_gets_seed_names_and_derived_names(tmp_path: Path) -> None:
    env = load(tmp_path, {"dev": config()})["dev"]
    assert (env.name, env.source) == ("dev", "envs/dev.toml")
    assert env.names.key_alias == "alias/s3-encryption-key"
    assert env.names.trail == "s3-data-activity-trail"
    assert env.names.trail_logs_role == "s3-data-activity-trail-cloudwatch-logs"
    assert env.names.workgroup == "data-analysis-workgroup"
    assert env.names.database == "cloudtrail_logs"
    assert env.names.role == "S3DataProcessingRole"
    assert env.names.group == "DataAnalystsGroup"
    assert (env.data_bucket, env.results_bucket, env.trail_bucket) == (
        "acme-encrypted-data", "acme-athena-results", "acme-cloudtrail-logs")
    assert env.state.bucket == "acme-terraform-state"
    assert env.state.key == "dev/terraform.tfstate"
    assert env.state.region == "eu-west-1"
    assert (env.production, env.prevent_destroy, env.key_deletion_window_days) == (False, False, 7)
    assert env.trusted_services == ("ec2.amazonaws.com", "lambda.amazonaws.com")


def test_state_key_follows_the_file_name(tmp_path: Path) -> None:
    env = load(tmp_path, {"qa-eu": config()})["qa-eu"]
    assert env.state.key == "qa-eu/terraform.tfstate"
    assert env.all_tags["environment"] == "qa-eu"


def test_production_turns_on_the_guardrails(tmp_path: Path) -> None:
    env = load(tmp_path, {"prod": config(production=True, **BREAK_GLASS)})["prod"]
    assert (env.prevent_destroy, env.key_deletion_window_days) == (True, 30)


def test_explicit_values_override_defaults(tmp_path: Path) -> None:
    env = load(tmp_path, {"prod": config(
        production=False, prevent_destroy=True, key_deletion_window_days=14,
        state={"bucket": "acme-tfstate", "key": "platform/prod.tfstate", "region": "us-east-1"},
        names={"role": "AppRole", "trail": "audit"},
    )})["prod"]
    assert (env.prevent_destroy, env.key_deletion_window_days) == (True, 14)
    assert env.state == type(env.state)(bucket="acme-tfstate", key="platform/prod.tfstate", region="us-east-1")
    assert (env.names.role, env.names.trail, env.names.trail_logs_role) == ("AppRole", "audit", "audit-cloudwatch-logs")
    assert env.names.group == "DataAnalystsGroup"  # untouched keys of the section keep their defaults


def test_defaults_are_not_shared_between_environments(tmp_path: Path) -> None:
    envs = load(tmp_path, {
        "a": config(company_prefix="acme-a"),
        "b": config(company_prefix="acme-b", account_id="222222222222"),
    })
    a, b = envs["a"], envs["b"]
    assert a.tags == b.tags == {}
    assert a.tags is not b.tags
    a.tags["owner"] = "team-a"  # the dataclass is frozen, its dict is not
    assert b.tags == {}
    assert load(tmp_path, {"a": config(company_prefix="acme-a")}, only=["a"])["a"].tags == {}  # the schema's default is intact


def test_all_tags_adds_the_standard_tags_which_win(tmp_path: Path) -> None:
    env = load(tmp_path, {"dev": config(tags={"cost-center": "platform", "project": "mine"})})["dev"]
    assert env.all_tags == {
        "cost-center": "platform",
        "project": "encrypted-data-platform",
        "environment": "dev",
        "managed-by": "cdktf",
    }
    custom = load(tmp_path, {"dev": config(project="lakehouse")})["dev"]
    assert custom.all_tags == {"project": "lakehouse", "environment": "dev", "managed-by": "cdktf"}


def test_every_environment_file_loads_under_its_own_name() -> None:
    envs = {env.name: env for env in load_environments(ENVIRONMENTS_DIR)}
    assert sorted(envs) == sorted(path.stem for path in ENVIRONMENTS_DIR.glob("*.toml"))
    assert all(env.source == f"{ENVIRONMENTS_DIR.name}/{name}.toml" for name, env in envs.items())
    assert all(env.prevent_destroy for env in envs.values() if env.production)


def test_the_committed_environment_files_say_what_they_are() -> None:
    """About these three files' own content: prod is production, dev and staging are not."""
    envs = {env.name: env for env in load_environments(ROOT / "environments")}
    assert envs["prod"].production and envs["prod"].prevent_destroy
    assert not envs["dev"].prevent_destroy and not envs["staging"].production
    assert len({envs[name].account_id for name in ("dev", "staging", "prod")}) == 3


# --- names that collide across environments ---------------------------------------------------


def test_same_prefix_in_two_accounts_collides_on_every_bucket(tmp_path: Path) -> None:
    found = problems(tmp_path, {"a": config(), "b": config(account_id="222222222222")})
    assert {file_and_key(p) for p in found} == {("envs/b.toml", "company_prefix"), ("envs/b.toml", "state.bucket")}
    bucket_lines = lines_for(found, "b.toml", "company_prefix")
    for bucket in ("acme-encrypted-data", "acme-athena-results", "acme-cloudtrail-logs"):
        assert f"envs/b.toml: company_prefix: S3 bucket name '{bucket}' is also used by envs/a.toml" in bucket_lines
    assert lines_for(found, "b.toml", "state.bucket") == [
        "envs/b.toml: state.bucket: S3 bucket name 'acme-terraform-state' is also used by envs/a.toml"]


def test_one_account_two_regions_collides_on_iam_names(tmp_path: Path) -> None:
    found = problems(tmp_path, {
        "a": config(company_prefix="acme-a"),
        "b": config(company_prefix="acme-b", region="us-east-1"),
    })
    same_account = "is also used by envs/a.toml (same account 111111111111)"
    assert sorted(found) == sorted([
        f"envs/b.toml: names.role: IAM role name 'S3DataProcessingRole' {same_account}",
        f"envs/b.toml: names.trail: IAM role name 's3-data-activity-trail-cloudwatch-logs' {same_account}",
        f"envs/b.toml: names.group: IAM group name 'DataAnalystsGroup' {same_account}",
    ])


def test_one_account_two_regions_same_trail_name_collides_on_the_trail_logs_role(tmp_path: Path) -> None:
    found = problems(tmp_path, {
        "a": config(company_prefix="acme-a", names={"role": "RoleA", "group": "GroupA", "trail": "audit"}),
        "b": config(company_prefix="acme-b", region="us-east-1", names={"role": "RoleB", "group": "GroupB", "trail": "audit"}),
    })
    assert found == [
        "envs/b.toml: names.trail: IAM role name 'audit-cloudwatch-logs' is also used by envs/a.toml (same account 111111111111)"]


def test_trail_logs_role_is_truncated_to_64_characters_before_comparing(tmp_path: Path) -> None:
    stem = "t" * 64  # both trails make the role `tttt…` (64 t's): the suffix is cut off entirely
    found = problems(tmp_path, {
        "a": config(company_prefix="acme-a", names={"role": "RoleA", "group": "GroupA", "trail": stem + "a"}),
        "b": config(company_prefix="acme-b", region="us-east-1", names={"role": "RoleB", "group": "GroupB", "trail": stem + "b"}),
    })
    assert [file_and_key(p) for p in found] == [("envs/b.toml", "names.trail")]
    assert f"IAM role name '{(stem + '-cloudwatch-logs')[:64]}'" in found[0]


def test_one_account_one_region_collides_on_regional_names(tmp_path: Path) -> None:
    found = problems(tmp_path, {
        "a": config(company_prefix="acme-a", names={"role": "RoleA", "group": "GroupA"}),
        "b": config(company_prefix="acme-b", names={"role": "RoleB", "group": "GroupB"}),
    })
    scope = "is also used by envs/a.toml (same account 111111111111, region eu-west-1)"
    for key, what in [
        ("names.key_alias", "KMS alias name 'alias/s3-encryption-key'"),
        ("names.alerting_key_alias", "KMS alias name 'alias/security-alerting-key'"),
        ("names.state_key_alias", "KMS alias name 'alias/terraform-state'"),
        ("names.trail", "CloudTrail trail name 's3-data-activity-trail'"),
        ("names.workgroup", "Athena workgroup name 'data-analysis-workgroup'"),
        ("names.database", "Glue database name 'cloudtrail_logs'"),
        ("names.log_group", "log group name '/aws/cloudtrail/s3-data-activity-trail'"),
        ("names.alarm_topic", "SNS topic name 'security-alarms'"),
        ("names.audit_path_topic", "SNS topic name 'audit-path-alarms'"),
    ]:
        assert f"envs/b.toml: {key}: {what} {scope}" in found
    # the trail name also makes the same IAM role; nothing is blamed on a.toml
    assert lines_for(found, "b.toml", "names.trail")[0].startswith("envs/b.toml: names.trail: IAM role name")
    assert len(found) == 10
    assert all(p.startswith("envs/b.toml: ") for p in found)


def test_same_names_in_different_accounts_are_fine(tmp_path: Path) -> None:
    envs = load(tmp_path, {
        "a": config(company_prefix="acme-a"),
        "b": config(company_prefix="acme-b", account_id="222222222222"),
    })
    # named after the environment
    per_environment = {"compaction", "plan_role", "apply_role", "permissions_boundary", "dashboard", "audit_path_rules"}
    a, b = (dataclasses.asdict(envs[n].names) for n in ("a", "b"))
    assert {k: v for k, v in a.items() if k not in per_environment} == {k: v for k, v in b.items() if k not in per_environment}
    assert envs["a"].region == envs["b"].region


def test_one_account_two_regions_may_share_regional_names(tmp_path: Path) -> None:
    envs = load(tmp_path, {
        "a": config(company_prefix="acme-a", names={"role": "RoleA", "group": "GroupA", "trail": "trail-a"}),
        "b": config(company_prefix="acme-b", region="us-east-1", names={"role": "RoleB", "group": "GroupB", "trail": "trail-b"}),
    })
    a, b = envs["a"].names, envs["b"].names
    assert (a.key_alias, a.workgroup, a.database, a.log_group) == (b.key_alias, b.workgroup, b.database, b.log_group)


def test_state_key_alias_is_scoped_to_the_state_region(tmp_path: Path) -> None:
    """Two regions, but one state region: both bootstrap stacks make the state key alias there."""
    found = problems(tmp_path, {
        "a": config(company_prefix="acme-a", names={"role": "RoleA", "group": "GroupA", "trail": "trail-a"}),
        "b": config(company_prefix="acme-b", region="us-east-1", state={"region": "eu-west-1"},
                    names={"role": "RoleB", "group": "GroupB", "trail": "trail-b"}),
    })
    assert found == ["envs/b.toml: names.state_key_alias: KMS alias name 'alias/terraform-state' "
                     "is also used by envs/a.toml (same account 111111111111, region eu-west-1)"]


@pytest.mark.parametrize("content, line", [
    pytest.param(config(state={"bucket": "acme-encrypted-data"}),
                 "envs/dev.toml: state.bucket: S3 bucket name 'acme-encrypted-data' is also used by company_prefix",
                 id="state-bucket-is-data-bucket"),
    pytest.param(config(names={"alerting_key_alias": "alias/s3-encryption-key"}),
                 "envs/dev.toml: names.alerting_key_alias: KMS alias name 'alias/s3-encryption-key' is also used by "
                 "names.key_alias (same account 111111111111, region eu-west-1)",
                 id="alerting-alias-is-data-alias"),
])
def test_names_colliding_within_one_file(tmp_path: Path, content: dict[str, Any], line: str) -> None:
    assert problems(tmp_path, {"dev": content}) == [line]


# --- directory and `only` ---------------------------------------------------------------------


def test_only_restricts_the_result(tmp_path: Path) -> None:
    envs = load(tmp_path, {"a": config(company_prefix="acme-a"), "b": config(company_prefix="acme-b", account_id="222222222222")},
                only=["b"])
    assert list(envs) == ["b"]


def test_only_still_validates_every_file(tmp_path: Path) -> None:
    found = problems(tmp_path, {"a": config(company_prefix="acme-a"), "b": config(region="europe")}, only=["a"])
    assert [file_and_key(p) for p in found] == [("envs/b.toml", "region")]


def test_only_names_a_missing_environment(tmp_path: Path) -> None:
    found = problems(tmp_path, {"a": config()}, only=["nosuch"])
    assert found == ["envs/nosuch.toml: (file): no such environment; have a"]


def test_empty_directory_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "README.md").write_text("not an environment\n")
    with pytest.raises(ConfigError) as caught:
        load_environments(tmp_path / "envs")
    assert caught.value.problems == ["envs/: (directory): no environment files (*.toml)"]


def test_other_files_in_the_folder_are_ignored(tmp_path: Path) -> None:
    folder = write_envs(tmp_path, {"dev": config()})
    (folder / "notes.txt").write_text("company_prefix = [\n")
    assert [env.name for env in load_environments(folder)] == ["dev"]


# --- the CI roles -----------------------------------------------------------------------------

GITHUB = {"repository": "acme/platform"}
# A second environment in the first one's account: other IAM names, another region.
SAME_ACCOUNT = {"company_prefix": "acme-b", "region": "eu-west-2", "names": {"role": "RoleB", "group": "GroupB", "trail": "trail-b"}}


def test_ci_role_names_follow_the_environment(tmp_path: Path) -> None:
    env = load(tmp_path, {"qa": config(github=GITHUB)})["qa"]
    assert (env.names.plan_role, env.names.apply_role) == ("qa-terraform-plan", "qa-terraform-apply")


def test_two_environments_of_one_account_cannot_both_create_the_github_provider(tmp_path: Path) -> None:
    found = problems(tmp_path, {"a": config(github=GITHUB), "b": config(**SAME_ACCOUNT, github=GITHUB)})
    assert found == ["envs/b.toml: github.oidc_provider_arn: GitHub OIDC provider name 'token.actions.githubusercontent.com' "
                     "is also used by envs/a.toml (same account 111111111111)"]
    existing = {**GITHUB, "oidc_provider_arn": "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"}
    assert sorted(load(tmp_path, {"a": config(github=GITHUB), "b": config(**SAME_ACCOUNT, github=existing)})) == ["a", "b"]


def test_ci_roles_collide_within_an_account(tmp_path: Path) -> None:
    existing = {**GITHUB, "oidc_provider_arn": "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"}
    found = problems(tmp_path, {"a": config(github=GITHUB),
                                "b": config(**{**SAME_ACCOUNT, "names": {**SAME_ACCOUNT["names"], "plan_role": "a-terraform-plan"}},
                                            github=existing)})
    assert found == ["envs/b.toml: names.plan_role: IAM role name 'a-terraform-plan' is also used by envs/a.toml (same account 111111111111)"]


def test_one_access_analyzer_per_account_and_region(tmp_path: Path) -> None:
    other = {**SAME_ACCOUNT, "region": "eu-west-1", "names": {**SAME_ACCOUNT["names"], "key_alias": "alias/b-data",
             "alerting_key_alias": "alias/b-alerting", "state_key_alias": "alias/b-state", "workgroup": "b", "database": "b",
             "log_group": "/b", "alarm_topic": "b", "audit_path_topic": "b-audit-path"}}
    assert sorted(load(tmp_path, {"a": config(access_analyzer=True), "b": config(**other)})) == ["a", "b"]
    found = problems(tmp_path, {"a": config(access_analyzer=True), "b": config(**other, access_analyzer=True)})
    assert found == ["envs/b.toml: access_analyzer: IAM Access Analyzer name 'account analyzer' is also used by envs/a.toml "
                     "(same account 111111111111, region eu-west-1)"]
