"""The compliance matrix names tests that exist, and every alarm control the stacks deploy."""

from __future__ import annotations

import re

from definitions.access_matrix import access_matrix
from definitions.alarm_definitions import load_alarm_definitions
from definitions.paths import ROOT

MATRIX = (ROOT / "docs" / "compliance.md").read_text()


def test_every_test_named_in_the_matrix_exists():
    named = set(re.findall(r"`(tests/(?:unit|integration|emulator)/test_\w+\.py)::(test_\w+)`", MATRIX))
    assert len(named) > 20
    for path, name in sorted(named):
        source = (ROOT / path).read_text()
        assert re.search(rf"^def {name}\(", source, re.M), f"docs/compliance.md names {path}::{name}, which does not exist"


def test_every_alarm_control_is_in_the_matrix():
    alarms = load_alarm_definitions()
    assert alarms
    for alarm in alarms:
        control = alarm.control
        assert f"| {control} |" in MATRIX or control.replace("CIS ", "") in MATRIX, control


def test_every_access_matrix_row_named_exists():
    named = set(re.findall(r"`matrix:([a-z0-9-]+)`", MATRIX))
    assert len(named) > 10
    assert sorted(named - {row.name for row in access_matrix()}) == []
