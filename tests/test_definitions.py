"""The alarm definitions file is validated like an environment file: every problem at once, one
line each naming the file, the alarm and the key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from environments.config import ConfigError
from modules.alarms import ALARMS_FILE, AlarmDefinition, load_alarm_definitions
from tests.support import ROOT

GOOD = '''[[alarm]]
name = "RootAccountUsage"
control = "CloudWatch.1"
description = "Root account used"
pattern = '{$.userIdentity.type="Root"}'
'''


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "modules" / "data" / "security_alarms.toml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_alarm_definitions(path)
    return caught.value.problems


def test_the_shipped_definitions_load_with_their_defaults():
    alarms = load_alarm_definitions()
    assert alarms and all(isinstance(a, AlarmDefinition) for a in alarms)
    assert load_alarm_definitions(ALARMS_FILE) is alarms  # read once


def test_a_good_file_gives_typed_definitions(tmp_path: Path):
    text = GOOD + 'threshold = 5\nperiod = 3600\nevaluation_periods = 24\n'
    (alarm,) = load_alarm_definitions(write(tmp_path, text))
    assert (alarm.name, alarm.threshold, alarm.period, alarm.evaluation_periods) == ("RootAccountUsage", 5, 3600, 24)


@pytest.mark.parametrize(("extra", "line"), [
    ("period = 90\n", "RootAccountUsage.period: must be 10, 30 or a multiple of 60 seconds, got 90"),
    ("period = 3600\nevaluation_periods = 25\n", "RootAccountUsage.evaluation_periods: must be at least 1 and cover at most a day, got 25"),
    ("threshold = 0\n", "RootAccountUsage.threshold: must be at least 1 event, got 0"),
    ("threshold = '1'\n", "RootAccountUsage.threshold: must be int, got '1'"),
    ("colour = 'red'\n", "RootAccountUsage.colour: unknown key"),
])
def test_a_bad_entry_names_the_file_the_alarm_and_the_key(tmp_path: Path, extra: str, line: str):
    assert problems(write(tmp_path, GOOD + extra)) == [f"modules/data/security_alarms.toml: {line}"]


def test_every_problem_is_reported_at_once(tmp_path: Path):
    text = GOOD + GOOD.replace('pattern = ', 'pattern = "no braces"\n#') + '[[alarm]]\nname = "Bad Name"\n'
    found = problems(write(tmp_path, text))
    assert sorted(found) == [
        "modules/data/security_alarms.toml: Bad Name.control: missing required key",
        "modules/data/security_alarms.toml: Bad Name.description: missing required key",
        "modules/data/security_alarms.toml: Bad Name.pattern: missing required key",
        "modules/data/security_alarms.toml: RootAccountUsage.pattern: must be a JSON metric filter pattern: '{ ... }'",
    ]


def test_a_name_defined_twice_is_refused(tmp_path: Path):
    assert problems(write(tmp_path, GOOD + GOOD)) == [
        "modules/data/security_alarms.toml: RootAccountUsage.name: defined more than once"]


def test_main_refuses_a_bad_definitions_file_before_importing_cdktf(tmp_path: Path):
    bad = write(tmp_path, GOOD + "period = 7\n")
    probe = ("import sys, main, modules.alarms\n"
             f"modules.alarms.ALARMS_FILE = __import__('pathlib').Path({str(bad)!r})\n"
             "status = main.main()\n"
             "print(status, sorted(m for m in sys.modules if m.split('.')[0] in ('cdktf', 'jsii', 'constructs')))\n")
    env = {**os.environ, "CDKTF_OUTDIR": str(tmp_path / "out")}
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "2 []", result.stderr
    assert result.stderr.splitlines() == ["modules/data/security_alarms.toml: RootAccountUsage.period: must be 10, 30 or a multiple "
                                          "of 60 seconds, got 7"]
    assert not (tmp_path / "out").exists()
