"""main.py refuses bad input, an environment file or a content file, before the slow cdktf import:
one line per problem, exit status 2, nothing written; and a construct or rule that refuses the
synth ends it with status 1, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from definitions.paths import ROOT
from tests.support import ENV_NAMES, ENVIRONMENTS_DIR, product_copy
from tests.unit.test_environments import config, file_and_key, problems, to_toml, write_envs

# --- main.py: bad input ends early, writes nothing, never imports cdktf -----------------------


def run_main(env_dir: Path, out_dir: Path, only: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PLATFORM_ONLY", "CDKTF_OUTDIR")}
    env.update(PLATFORM_ENVIRONMENTS=str(env_dir), CDKTF_OUTDIR=str(out_dir), PYTHONDONTWRITEBYTECODE="1")
    if only is not None:
        env["PLATFORM_ONLY"] = only
    return subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def run_main_function(env_dir: Path, out_dir: Path, only: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Call main.main() in a subprocess; stdout is `<status> <cdktf-side modules imported>`."""
    probe = (
        "import sys, main\n"
        "status = main.main()\n"
        "slow = sorted(m for m in sys.modules if m.split('.')[0] in ('cdktf', 'cdktf_cdktf_provider_aws', 'jsii', 'constructs'))\n"
        "print(status, slow)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PLATFORM_ONLY"}
    env.update(PLATFORM_ENVIRONMENTS=str(env_dir), CDKTF_OUTDIR=str(out_dir), PYTHONDONTWRITEBYTECODE="1")
    if only is not None:
        env["PLATFORM_ONLY"] = only
    return subprocess.run([sys.executable, "-c", probe], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def copy_real_environments(tmp_path: Path) -> Path:
    env_dir = tmp_path / "envs"
    env_dir.mkdir()
    for path in ENVIRONMENTS_DIR.glob("*.toml"):
        (env_dir / path.name).write_bytes(path.read_bytes())
    return env_dir


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>" for p in sorted(folder.rglob("*"))}


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    out = tmp_path / "cdktf.out"
    (out / "stacks").mkdir(parents=True)
    (out / "sentinel.txt").write_bytes(b"left by a previous synth\n")
    return out


BAD_FILES: dict[str, dict[str, Any] | str] = {
    "broken": "company_prefix = \n",
    "dev": config(account_id="12345", retention={"log_group_days": 366}, colour="blue"),
    "prod": config(account_id="222222222222", region="europe"),
}


def test_main_reports_every_problem_and_writes_nothing(tmp_path: Path, out_dir: Path) -> None:
    env_dir = write_envs(tmp_path, BAD_FILES)
    expected = problems(tmp_path, BAD_FILES)
    before = snapshot(out_dir)
    result = run_main(env_dir, out_dir)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == expected
    assert len(expected) == 5
    assert all(line.startswith(("envs/broken.toml: ", "envs/dev.toml: ", "envs/prod.toml: ")) for line in expected)
    assert snapshot(out_dir) == before
    assert (out_dir / "sentinel.txt").read_bytes() == b"left by a previous synth\n"


def test_main_with_only_naming_a_missing_environment(tmp_path: Path, out_dir: Path) -> None:
    env_dir = copy_real_environments(tmp_path)
    before = snapshot(out_dir)
    result = run_main(env_dir, out_dir, only="nosuch")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [f"envs/nosuch.toml: (file): no such environment; have {', '.join(sorted(ENV_NAMES))}"]
    assert snapshot(out_dir) == before


def test_main_refuses_bad_input_without_importing_cdktf(tmp_path: Path, out_dir: Path) -> None:
    result = run_main_function(write_envs(tmp_path, BAD_FILES), out_dir)
    assert result.stdout.strip() == "2 []", result.stderr


# Values holding newlines: each problem must still be exactly one line of stderr.
NEWLINE_FILES: dict[str, dict[str, Any] | str] = {
    "dev": config(
        account_id="1111\n11111111",
        production="yes\nno",
        names={"key_alias": "alias/s3\nkey", "role": "App\nRole"},
        state={"bucket": "acme\nstate"},
        athena={"projection_start": "2025/01/01\n", "projected_regions": ["eu-west-1", "eu-\nwest-2"]},
        alarm_emails=["security@example.com\nx"],
        tags={"team\nlead": "platform"},
    ),
}


def test_main_prints_one_line_per_problem_when_values_hold_newlines(tmp_path: Path, out_dir: Path) -> None:
    env_dir = write_envs(tmp_path, NEWLINE_FILES)
    expected = problems(tmp_path, NEWLINE_FILES)  # also asserts that no problem contains a newline
    assert sorted(file_and_key(p) for p in expected) == sorted(("envs/dev.toml", key) for key in [
        "account_id", "production", "names.key_alias", "names.role", "state.bucket",
        "athena.projection_start", "athena.projected_regions", "alarm_emails", "tags",
    ])
    assert "envs/dev.toml: account_id: must be 12 digits, got '1111\\n11111111'" in expected
    assert "envs/dev.toml: production: must be true or false, got str 'yes\\nno'" in expected
    before = snapshot(out_dir)
    result = run_main(env_dir, out_dir)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == expected
    assert result.stderr.count("\n") == len(expected) == 9
    assert snapshot(out_dir) == before


@pytest.mark.parametrize("only", ["dev, nosuch", " dev ,nosuch ", "dev,, nosuch,"])
def test_platform_only_ignores_spaces_around_names(tmp_path: Path, out_dir: Path, only: str) -> None:
    """Valid files, so only the unknown name can fail: `dev` (spaces stripped) must be accepted."""
    before = snapshot(out_dir)
    result = run_main_function(copy_real_environments(tmp_path), out_dir, only=only)
    assert result.stdout.strip() == "2 []", result.stderr
    assert result.stderr.splitlines() == [f"envs/nosuch.toml: (file): no such environment; have {', '.join(sorted(ENV_NAMES))}"]
    assert snapshot(out_dir) == before


# --- content files: each kind refused like an environment file ---------------------------------

# (file under definitions/data, text replaced, its replacement, a line main.py must print)
BROKEN_CONTENT = [
    ("security_alarms.toml", 'control = "CloudWatch.1"', 'control = 1',
     "definitions/data/security_alarms.toml: RootAccountUsage.control: must be a string, got int 1"),
    ("system_alarms.toml", "\"${data_bucket}\"", "\"${data_bucket_name}\"",
     "definitions/data/system_alarms.toml: DataBucketConfigChanges.pattern: names unknown placeholders ['data_bucket_name']"),
    ("audit_path_rules.toml", 'watches = "keys"', 'watches = "the-keys"',
     "definitions/data/audit_path_rules.toml: key-disabled-deleted-or-policy-changed.watches: must be one of"),
    ("cloudtrail_tables.toml", 'regions = "home"', 'regions = "eu"',
     "definitions/data/cloudtrail_tables.toml: home_region_events.regions: must be one of projected, home, got 'eu'"),
    ("queries/root_activity.sql", "'Root'", '"Root"',
     "definitions/data/queries/root_activity.sql: line "),
    ("regions.toml", 'dns_suffix = "amazonaws.com.cn"', 'dns_suffix = "amazonaws"',
     "definitions/data/regions.toml: partitions.aws-cn.dns_suffix: must be a DNS suffix"),
    ("deploy_permissions.toml", 'scope = "catalog"', 'scope = "catalogue"',
     "definitions/data/deploy_permissions.toml: resource.aws_glue_catalog_database[0].scope: must be one of"),
    ("replacement_attributes.toml", 'attributes = ["bucket"]', 'attributes = "bucket"',
     "definitions/data/replacement_attributes.toml: aws_s3_bucket_public_access_block.attributes: must be a list of strings, got str"),
    ("emulator_support.toml", 'support = "unsupported"', 'support = "maybe"',
     "definitions/data/emulator_support.toml: aws_accessanalyzer_analyzer.support: must be one of applied, unsupported, undeletable"),
]


@pytest.mark.parametrize(("name", "old", "new", "line"), BROKEN_CONTENT, ids=[case[0] for case in BROKEN_CONTENT])
def test_main_refuses_a_broken_content_file_before_importing_cdktf(tmp_path: Path, out_dir: Path, name: str, old: str, new: str,
                                                                    line: str) -> None:
    copy = product_copy(tmp_path)
    path = copy / "definitions" / "data" / name
    text = path.read_text()
    assert old in text, f"{name} no longer holds {old!r}: update the case"
    path.write_text(text.replace(old, new, 1))
    before = snapshot(out_dir)
    result = run_main_function(copy / "environments", out_dir, cwd=copy)
    assert result.stdout.strip() == "2 []", result.stderr
    lines = result.stderr.splitlines()
    assert lines and all(problem.startswith(f"definitions/data/{name}: ") for problem in lines), lines
    assert any(problem.startswith(line) for problem in lines), lines
    assert snapshot(out_dir) == before


# --- a rule of the rule pack refuses the synth ----------------------------------------------------------------------------------

ROGUE_APP = """
import sys
import main
from stacks import app
from modules.foundation.bindings import s3_bucket

build_app = app.build_app

def rogue_build_app(envs, outdir=None, org=None):
    built = build_app(envs, outdir, org)
    s3_bucket.S3Bucket(built.node.children[-1], "rogue", bucket="rogue-bucket")
    return built

app.build_app = rogue_build_app
sys.exit(main.main())
"""


def test_main_reports_a_broken_rule_and_writes_nothing(tmp_path: Path):
    repo_out = ROOT / "cdktf.out"
    before = sorted(p.name for p in repo_out.iterdir()) if repo_out.is_dir() else None
    env = {k: v for k, v in os.environ.items() if k != "CDKTF_OUTDIR"}
    result = subprocess.run([sys.executable, "-c", ROGUE_APP], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "[SecureBucketsOnly]" in result.stderr and "/rogue]" in result.stderr
    assert (sorted(p.name for p in repo_out.iterdir()) if repo_out.is_dir() else None) == before
    assert not list(ROOT.glob(".cdktf.out.*")), "staging folder left behind"


def test_main_refuses_an_organization_the_environments_are_not_in(tmp_path: Path, out_dir: Path, monkeypatch) -> None:
    """The topology is read with the environments: an account outside it ends the synth like a bad key."""
    env_dir = copy_real_environments(tmp_path)
    organization = tmp_path / "organization.toml"
    organization.write_text('[organization]\nid = "o-a1b2c3d4e5"\nmanagement_account = "999999999991"\n'
                            'home_region = "eu-west-1"\nlog_archive_account = "999999999992"\n'
                            'security_account = "999999999993"\ntrail = "existing"\n'
                            'existing_trail_name = "baseline"\nexisting_trail_bucket = "baseline-logs-999999999992"\n'
                            'existing_log_group = "baseline/CloudTrailLogs"\n')
    monkeypatch.setenv("PLATFORM_ORGANIZATION", str(organization))
    before = snapshot(out_dir)
    result = run_main(env_dir, out_dir)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == len(ENV_NAMES) and "Traceback" not in result.stderr
    assert all(line.startswith(f"{organization}: member: envs/") and line.endswith("is not in the topology") for line in lines), lines
    assert snapshot(out_dir) == before


def test_main_refuses_a_trail_without_management_events_when_no_organization_records_them(tmp_path: Path, out_dir: Path,
                                                                                          monkeypatch) -> None:
    env_dir = tmp_path / "envs"
    env_dir.mkdir()
    (env_dir / "solo.toml").write_text(to_toml(config(audit={"management_events": False, "insights": False})), encoding="utf-8")
    monkeypatch.setenv("PLATFORM_ORGANIZATION", str(tmp_path / "no-organization.toml"))
    before = snapshot(out_dir)
    result = run_main(env_dir, out_dir)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == ["envs/solo.toml: audit.management_events: false needs an organization trail "
                                          'that records them (organization.toml with trail = "managed")']
    assert snapshot(out_dir) == before
