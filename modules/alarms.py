"""Security alarm definitions (`data/security_alarms.toml`), typed and validated without cdktf.

Each definition becomes a CloudWatch Logs metric filter on the trail's log group and an alarm on
its metric (`modules/monitoring.py`). `main.py` loads them before the slow import, so a bad entry
is refused like a bad environment file: one line per problem naming the file and the alarm, exit
status 2, nothing written.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import tomllib
import typing
from pathlib import Path

from environments.config import ConfigError

ALARMS_FILE = Path(__file__).parent / "data" / "security_alarms.toml"
# CloudWatch accepts periods of 10, 30 or any multiple of 60 seconds; an alarm looks at most one
# day back (period times evaluation periods).
ALARM_WINDOW_SECONDS = 86_400


@dataclasses.dataclass(frozen=True)
class AlarmDefinition:
    """One alarm: its metric filter pattern and when it fires (Sum over `period` seconds at least
    `threshold`, in `evaluation_periods` consecutive periods)."""

    name: str
    control: str
    description: str
    pattern: str
    threshold: int = 1
    period: int = 300
    evaluation_periods: int = 1

    def problems(self) -> list[tuple[str, str]]:
        """(field, problem) for each value CloudWatch would refuse."""
        found = []
        if not re.fullmatch(r"[A-Za-z0-9]{1,255}", self.name, re.ASCII):
            found.append(("name", f"must be 1-255 letters or digits (it names the metric and the alarm), got {self.name!r}"))
        if not (self.pattern.startswith("{") and self.pattern.endswith("}")):
            found.append(("pattern", "must be a JSON metric filter pattern: '{ ... }'"))
        if self.period not in (10, 30) and (self.period <= 0 or self.period % 60):
            found.append(("period", f"must be 10, 30 or a multiple of 60 seconds, got {self.period}"))
        if self.evaluation_periods < 1 or self.period * self.evaluation_periods > ALARM_WINDOW_SECONDS:
            found.append(("evaluation_periods", f"must be at least 1 and cover at most a day, got {self.evaluation_periods}"))
        if self.threshold < 1:
            found.append(("threshold", f"must be at least 1 event, got {self.threshold}"))
        return found


_TYPES = typing.get_type_hints(AlarmDefinition)


def _parse(entry: object, index: int, where: str) -> tuple[AlarmDefinition | None, list[str]]:
    label = f"alarm[{index}]"
    if not isinstance(entry, dict):
        return None, [f"{where}: {label}: must be a table"]
    if isinstance(entry.get("name"), str):
        label = entry["name"]
    problems = [f"{where}: {label}.{key}: unknown key" for key in sorted(set(entry) - set(_TYPES))]
    for field in dataclasses.fields(AlarmDefinition):
        if field.name not in entry:
            if field.default is dataclasses.MISSING:
                problems.append(f"{where}: {label}.{field.name}: missing required key")
        elif type(entry[field.name]) is not _TYPES[field.name]:
            problems.append(f"{where}: {label}.{field.name}: must be {_TYPES[field.name].__name__}, got {entry[field.name]!r}")
    if problems:
        return None, problems
    alarm = AlarmDefinition(**entry)
    return alarm, [f"{where}: {label}.{key}: {problem}" for key, problem in alarm.problems()]


def load_alarm_definitions(path: Path | None = None) -> tuple[AlarmDefinition, ...]:
    """Every definition of the file (default ALARMS_FILE), read once; ConfigError listing every problem."""
    return _load(path or ALARMS_FILE)


@functools.cache
def _load(path: Path) -> tuple[AlarmDefinition, ...]:
    where = f"{path.parent.parent.name}/{path.parent.name}/{path.name}"
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("alarm", [])
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError([f"{where}: (file): {err}"]) from err
    alarms, problems = [], []
    for index, entry in enumerate(entries):
        alarm, found = _parse(entry, index, where)
        problems += found
        if alarm is not None and not found:
            alarms.append(alarm)
    names = [alarm.name for alarm in alarms]
    problems += [f"{where}: {name}.name: defined more than once" for name in sorted({n for n in names if names.count(n) > 1})]
    if not entries:
        problems.append(f"{where}: alarm: no alarms defined")
    if problems:
        raise ConfigError(problems)
    return tuple(alarms)
