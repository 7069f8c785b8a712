"""The month of the organization's audit trail (operations/organization_cost.py, `make org-cost`):
the figures worked out by hand, what grows with each account and what does not, and the accounts
that pay for a second copy of management events."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from cli import organization_cost as command
from definitions.alarm_definitions import load_alarm_definitions
from environments.organization import load_organization
from operations.organization_cost import Volume, monthly_costs, second_copy_accounts
from tests.unit.test_organization import EXISTING, ORGANIZATION, envs, write  # noqa: F401 - envs is a fixture

CIS_ALARMS = len(load_alarm_definitions())


def by_line(lines) -> dict[str, float]:
    return {line.what.split(" (")[0].split(",")[0]: line.monthly for line in lines}


def test_the_month_of_100_accounts_worked_out_by_hand():
    costs = by_line(monthly_costs(100, 100, 15, Volume(management_events=1_000_000, delivered_bytes=1_500, stored_bytes=150)))
    # 10^8 events: $2 per 100,000 for the second copy; 1.5 * 10^11 bytes delivered, 1.5 * 10^10 stored.
    assert costs["A second copy in the environments' own trails"] == pytest.approx(2_000.00)
    assert costs["Delivery to CloudWatch Logs"] == pytest.approx(150_000_000_000 / 1_073_741_824 * 0.50)  # 69.85
    assert costs["Log files in S3"] == pytest.approx(15_000_000_000 / 1_073_741_824 * 0.023)  # 0.32
    assert costs["CIS metric filters and alarms"] == pytest.approx(15 * (0.30 + 0.10))
    assert costs["Management events"] == 0


def test_only_the_per_account_lines_grow_and_they_grow_in_proportion():
    one, thousand = monthly_costs(1, 1, CIS_ALARMS), monthly_costs(1_000, 1_000, CIS_ALARMS)
    for small, large in zip(one, thousand, strict=True):
        if small.per_account:
            assert large.monthly == pytest.approx(1_000 * small.monthly), small.what
        else:
            assert large.monthly == small.monthly, small.what
    assert [line.what for line in one if not line.per_account and line.monthly] == [
        "CIS metric filters and alarms (one set for the organization, no dimension per account)"]


def test_only_an_accepted_second_copy_is_paid_for(tmp_path: Path, envs):  # noqa: F811 - the fixture
    accepted = load_organization(write(tmp_path, ORGANIZATION.format(extra="accept_duplicate_management_events = true\n")), envs)
    assert second_copy_accounts(accepted, envs) == len({env.account_id for env in envs}) == 2
    existing = load_organization(write(tmp_path, ORGANIZATION.format(extra=EXISTING)), envs)
    assert second_copy_accounts(existing, envs) == 0
    # An environment whose trail records data events only pays for no copy.
    data_only = [dataclasses.replace(envs[0], audit=dataclasses.replace(envs[0].audit, management_events=False)), *envs[1:]]
    assert second_copy_accounts(accepted, data_only) == 1


def test_the_command_prices_the_topology_and_refuses_what_it_cannot(tmp_path: Path, envs, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setattr(command, "load_environments", lambda folder: envs)
    monkeypatch.setattr(command, "organization_file", lambda: tmp_path / "organization.toml")
    assert command.main([]) == 2
    assert capsys.readouterr().err.strip().endswith("organization.toml: no such file: describe the organization first "
                                                    "(docs/configuration.md)")
    write(tmp_path, ORGANIZATION.format(extra="accept_duplicate_management_events = true\n"))
    assert command.main(["2000000"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2,000,000 management events per account a month")
    # 2 of the 5 accounts keep their own trail: 4 * 10^6 events at $2 per 100,000.
    assert "| A second copy in the environments' own trails (accept_duplicate_management_events) | yes | $80.00 |" in out
    assert command.main(["many"]) == 2
    assert "EVENTS: must be a whole number" in capsys.readouterr().err
