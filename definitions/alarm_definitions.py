"""Alarm definitions (`data/security_alarms.toml`, `data/system_alarms.toml`), typed and validated
without cdktf.

- `security_alarms.toml`: the CIS alarms, each a metric filter on the trail's log group with the
  exact pattern Security Hub checks, and an alarm on its metric (`modules/audit/monitoring.py`).
- `system_alarms.toml`: alarms particular to this system, in the same form; their patterns name
  the system's resources through placeholders (`${data_bucket}`, ...) filled in by the stack.

Read by the typed-TOML reader; `main.py` loads them before the slow import (`definitions/content.py`).
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from definitions.paths import DATA_DIR
from definitions.typed_toml import read_file, unique_names

ALARMS_FILE = DATA_DIR / "security_alarms.toml"
SYSTEM_ALARMS_FILE = DATA_DIR / "system_alarms.toml"
# CloudWatch accepts periods of 10, 30 or any multiple of 60 seconds; an alarm looks at most one
# day back (period times evaluation periods).
ALARM_WINDOW_SECONDS = 86_400
# CloudWatch Logs refuses a filter pattern longer than this.
MAX_PATTERN_LENGTH = 1024
PLACEHOLDER = re.compile(r"\$\{([a-z_]+)\}")
# What a system alarm's pattern may name, filled in by modules/audit/monitoring.py.
SYSTEM_PLACEHOLDERS = {
    "data_bucket": "the data bucket's name",
    "data_key_arn": "the data key's ARN",
    "unless_granted": "` && ($.userIdentity.arn != \"...\")` for each identity the data key is granted to",
    "privileged_principals": "` && (($.requestParameters.roleName = \"...\") || ($.requestParameters.userName = \"...\"))` "
                             "naming the break-glass, deployer and CI roles and users",
}


@dataclasses.dataclass(frozen=True)
class AlarmDefinition:
    """One alarm: its metric filter pattern and when it fires (Sum over `period` seconds at least
    `threshold`, in `evaluation_periods` consecutive periods)."""

    # The placeholders a pattern may name (none: the CIS patterns are exact).
    placeholders: ClassVar[frozenset[str]] = frozenset()

    name: str
    control: str
    description: str
    pattern: str
    threshold: int = 1
    period: int = 300
    evaluation_periods: int = 1
    # Also notify the audit-path topic (under the data key), as the heartbeat does.
    notify_audit_path: bool = False

    def problems(self) -> Iterator[tuple[str, str]]:
        """(field, problem) for each value CloudWatch would refuse."""
        if not re.fullmatch(r"[A-Za-z0-9]{1,255}", self.name, re.ASCII):
            yield "name", f"must be 1-255 letters or digits (it names the metric and the alarm), got {self.name!r}"
        if not (self.pattern.startswith("{") and self.pattern.endswith("}")):
            yield "pattern", "must be a JSON metric filter pattern: '{ ... }'"
        if unknown := sorted(set(PLACEHOLDER.findall(self.pattern)) - self.placeholders):
            yield "pattern", f"names unknown placeholders {unknown} (known: {sorted(self.placeholders) or 'none'})"
        if len(self.pattern) > MAX_PATTERN_LENGTH:
            yield "pattern", f"must be at most {MAX_PATTERN_LENGTH} characters, got {len(self.pattern)}"
        if self.period not in (10, 30) and (self.period <= 0 or self.period % 60):
            yield "period", f"must be 10, 30 or a multiple of 60 seconds, got {self.period}"
        if self.evaluation_periods < 1 or self.period * self.evaluation_periods > ALARM_WINDOW_SECONDS:
            yield "evaluation_periods", f"must be at least 1 and cover at most a day, got {self.evaluation_periods}"
        if self.threshold < 1:
            yield "threshold", f"must be at least 1 event, got {self.threshold}"

    def filled(self, values: typing.Mapping[str, str]) -> str:
        """The pattern with each placeholder replaced by its value."""
        return PLACEHOLDER.sub(lambda match: values[match.group(1)], self.pattern)


EVENT_CATEGORIES = ("management", "data")


@dataclasses.dataclass(frozen=True)
class SystemAlarmDefinition(AlarmDefinition):
    """An alarm of this system, whose pattern may name SYSTEM_PLACEHOLDERS. `events`: the
    CloudTrail event categories its pattern matches, so that it runs where they are recorded (an
    environment whose trail records data events only leaves its management events to the
    organization trail's log group)."""

    placeholders: ClassVar[frozenset[str]] = frozenset(SYSTEM_PLACEHOLDERS)
    events: tuple[str, ...] = ("management",)

    def problems(self) -> Iterator[tuple[str, str]]:
        yield from super().problems()
        if not self.events or not set(self.events) <= set(EVENT_CATEGORIES):
            yield "events", f"must be one or more of {list(EVENT_CATEGORIES)}, got {list(self.events)!r}"


@dataclasses.dataclass(frozen=True)
class _SecurityAlarms:
    alarm: tuple[AlarmDefinition, ...] = ()

    def problems(self) -> Iterator[tuple[str, str]]:
        return unique_names("alarm", self.alarm)


@dataclasses.dataclass(frozen=True)
class _SystemAlarms:
    alarm: tuple[SystemAlarmDefinition, ...] = ()

    def problems(self) -> Iterator[tuple[str, str]]:
        return unique_names("alarm", self.alarm)


def load_alarm_definitions(path: Path = ALARMS_FILE) -> tuple[AlarmDefinition, ...]:
    """The CIS alarms, read once; ConfigError listing every problem."""
    return read_file(_SecurityAlarms, path).alarm


def load_system_alarms(path: Path = SYSTEM_ALARMS_FILE) -> tuple[SystemAlarmDefinition, ...]:
    """The system's own alarms, whose patterns may name SYSTEM_PLACEHOLDERS."""
    return read_file(_SystemAlarms, path).alarm
