"""The organization's topology (`organization.toml`): read with the environment files' rules, and
checked against itself and against the environment files."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from definitions.errors import ConfigError
from definitions.paths import ROOT
from environments.organization import load_organization, standalone_problems
from tests.support import ENVIRONMENTS
from tests.unit.test_environments import config, load, problems

ORGANIZATION = """\
[organization]
id = "o-a1b2c3d4e5"
management_account = "111111111111"
home_region = "eu-west-1"
log_archive_account = "333333333333"
security_account = "222222222222"
{extra}
[[member]]
id = "444444444444"
name = "payments-prod"
environments = ["prod"]

[[member]]
id = "555555555555"
name = "payments-dev"
environments = ["dev"]
"""


# Another system's trail, as organization.toml names it.
EXISTING = ('trail = "existing"\nexisting_trail_name = "aws-controltower-BaselineCloudTrail"\n'
            'existing_trail_bucket = "aws-controltower-logs-333333333333-eu-west-1"\n'
            'existing_log_group = "aws-controltower/CloudTrailLogs"\n')


@pytest.fixture
def envs(tmp_path: Path):
    return list(load(tmp_path, {"prod": config(company_prefix="acme-prod", account_id="444444444444"),
                                "dev": config(company_prefix="acme-dev", account_id="555555555555")}).values())


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "organization.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refusals(tmp_path: Path, text: str, envs) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_organization(write(tmp_path, text), envs)
    return caught.value.problems


def test_without_the_file_there_is_no_organization(tmp_path: Path, envs):
    assert load_organization(tmp_path / "organization.toml", envs) is None


def test_a_good_topology_loads_typed_with_its_defaults(tmp_path: Path, envs):
    org = load_organization(write(tmp_path, ORGANIZATION.format(extra="accept_duplicate_management_events = true\n")), envs)
    assert (org.settings.trail, org.settings.trail_deployer, org.settings.cloudtrail_delegated_admins) == ("managed", "management", ())
    assert [(m.name, m.environments) for m in org.members] == [("payments-prod", ("prod",)), ("payments-dev", ("dev",))]
    assert org.accounts == {"111111111111", "222222222222", "333333333333", "444444444444", "555555555555"}


@pytest.mark.parametrize(("extra", "problem"), [
    ('id = "o-short"', "organization.id: must be o- and 10 to 32"),
    ('trail = "mine"', "organization.trail: must be one of managed, existing, got 'mine'"),
    ('cloudtrail_delegated_admins = ["111111111111"]', "organization.cloudtrail_delegated_admins: must not name the management account"),
    ('cloudtrail_delegated_admins = ["666666666661", "666666666662", "666666666663", "666666666664"]',
     "organization.cloudtrail_delegated_admins: at most 3, got 4"),
    ('trail_deployer = "delegated_admin"', "organization.trail_deployer: is delegated_admin, but cloudtrail_delegated_admins is empty"),
    ('colour = "blue"', "organization.colour: unknown key"),
    ('accept_duplicate_management_events = "yes"', "organization.accept_duplicate_management_events: must be"),
])
def test_a_bad_setting_names_the_file_and_the_key(tmp_path: Path, envs, extra: str, problem: str):
    text = ORGANIZATION.format(extra="accept_duplicate_management_events = true\n").replace("[organization]\n", f"[organization]\n{extra}\n", 1)
    if extra.startswith(("id =", "accept_duplicate")):
        key = extra.split(" =")[0]
        text = "\n".join(line for line in text.splitlines() if not line.startswith(f"{key} = ") or line == extra) + "\n"
    found = refusals(tmp_path, text, envs)
    assert any(line.startswith(f"{tmp_path / 'organization.toml'}: {problem}") for line in found), found


def test_every_problem_of_the_topology_is_reported_at_once(tmp_path: Path, envs):
    text = ORGANIZATION.format(extra='trail = "mine"\n').replace('log_archive_account = "333333333333"',
                                                                 'log_archive_account = "111111111111"')
    text = text.replace('id = "555555555555"', 'id = "444444444444"')
    found = refusals(tmp_path, text, envs)
    assert [line.split(": ", 2)[1] for line in found] == ["organization.trail", "organization.log_archive_account", "member[1].id"]
    assert "444444444444 is also member[0]" in found[-1]


def test_an_environment_outside_the_topology_is_refused(tmp_path: Path, envs):
    text = ORGANIZATION.format(extra="accept_duplicate_management_events = true\n").replace(
        'id = "555555555555"\nname = "payments-dev"\nenvironments = ["dev"]', 'id = "666666666666"\nname = "other"')
    (line,) = refusals(tmp_path, text, envs)
    assert line.endswith("dev.toml: account 555555555555 is not in the topology")


def test_a_member_naming_another_accounts_environment_is_refused(tmp_path: Path, envs):
    text = ORGANIZATION.format(extra="accept_duplicate_management_events = true\n").replace('environments = ["dev"]',
                                                                                           'environments = ["prod", "qa"]')
    found = refusals(tmp_path, text, envs)
    assert any("member[1].environments: envs/prod.toml is account 444444444444, not 555555555555" in line for line in found), found
    assert any("member[1].environments: no environment file qa.toml; have dev, prod" in line for line in found), found


def test_a_managed_trail_refuses_a_second_copy_of_management_events_unless_accepted(tmp_path: Path, envs):
    (line,) = refusals(tmp_path, ORGANIZATION.format(extra=""), envs)
    assert "organization.accept_duplicate_management_events: the organization trail records" in line
    assert "dev, prod record them again ($2 per 100,000 events)" in line
    existing = ORGANIZATION.format(extra=EXISTING)
    assert load_organization(write(tmp_path, existing), envs).settings.trail == "existing"


def _data_events_only(tmp_path: Path, **audit) -> list:
    """The topology's environments, dev's trail recording data events only."""
    return list(load(tmp_path, {
        "prod": config(company_prefix="acme-prod", account_id="444444444444"),
        "dev": config(company_prefix="acme-dev", account_id="555555555555", audit={"management_events": False, **audit}),
    }).values())


def test_an_environment_may_leave_its_management_events_to_the_managed_organization_trail(tmp_path: Path):
    envs = _data_events_only(tmp_path)
    (line,) = refusals(tmp_path, ORGANIZATION.format(extra=""), envs)
    # Only prod keeps a second copy now; the way out is named.
    assert "the trails of prod record them again" in line and "audit.management_events = false" in line
    org = load_organization(write(tmp_path, ORGANIZATION.format(extra="accept_duplicate_management_events = true\n")), envs)
    assert org.data_event_environments == ("dev",)
    # A trail another system owns is not one this project keeps alarms on.
    (line,) = refusals(tmp_path, ORGANIZATION.format(extra=EXISTING + "accept_duplicate_management_events = true\n"), envs)
    assert "organization.trail: envs/dev.toml: audit.management_events is false" in line


def test_without_an_organization_every_trail_records_management_events(tmp_path: Path):
    envs = _data_events_only(tmp_path)
    assert standalone_problems(envs) == [
        'envs/dev.toml: audit.management_events: false needs an organization trail that records them '
        '(organization.toml with trail = "managed")']


def test_insights_need_the_management_events(tmp_path: Path):
    found = problems(tmp_path, {"dev": config(audit={"management_events": False, "insights": True})})
    assert found == ["envs/dev.toml: audit.insights: CloudTrail Insights analyses the management events this trail would "
                     "not record (audit.management_events = false): set it to false"]


def test_another_systems_trail_is_named_by_its_keys_and_only_then(tmp_path: Path, envs):
    found = refusals(tmp_path, ORGANIZATION.format(extra='trail = "existing"\n'), envs)
    assert [line.split(": ", 2)[1] for line in found] == [
        "organization.existing_trail_name", "organization.existing_trail_bucket", "organization.existing_log_group"]
    assert all(line.endswith('missing: trail = "existing" needs it') for line in found)
    managed = ORGANIZATION.format(extra='accept_duplicate_management_events = true\nexisting_log_group = "x"\n')
    (line,) = refusals(tmp_path, managed, envs)
    assert 'organization.existing_log_group: only with trail = "existing"' in line
    bad_key = ORGANIZATION.format(extra=EXISTING + 'existing_trail_key_arn = "alias/x"\n')
    (line,) = refusals(tmp_path, bad_key, envs)
    assert "organization.existing_trail_key_arn: must be a KMS key's ARN" in line
    org = load_organization(write(tmp_path, ORGANIZATION.format(extra=EXISTING)), envs)
    assert not org.managed and org.names.trail == "aws-controltower-BaselineCloudTrail"
    assert org.names.trail_bucket == "aws-controltower-logs-333333333333-eu-west-1"


def test_the_example_topology_loads_with_the_environments_it_names():
    example = ROOT / "examples" / "organization.toml"
    listed = {name for member in tomllib.loads(example.read_text())["member"] for name in member.get("environments", [])}
    org = load_organization(example, [env for env in ENVIRONMENTS if env.name in listed])
    assert org is not None and org.managed and len(org.members) >= 1
