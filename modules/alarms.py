"""Alarm and audit-path rule definitions (`data/*.toml`), typed and validated without cdktf.

- `security_alarms.toml`: the CIS alarms, each a metric filter on the trail's log group with the
  exact pattern Security Hub checks, and an alarm on its metric (`modules/monitoring.py`).
- `system_alarms.toml`: alarms particular to this system, in the same form; their patterns name
  the system's resources through placeholders (`${data_bucket}`, ...) filled in by the stack.
- `audit_path_rules.toml`: EventBridge rules on the management events that blind the audit path
  (`modules/audit_path.py`).

`main.py` loads them before the slow import, so a bad entry is refused like a bad environment
file: one line per problem naming the file, the entry and the key, exit status 2, nothing written.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import tomllib
import typing
from collections.abc import Iterator
from pathlib import Path

from environments.config import ConfigError

DATA = Path(__file__).parent / "data"
ALARMS_FILE = DATA / "security_alarms.toml"
SYSTEM_ALARMS_FILE = DATA / "system_alarms.toml"
AUDIT_PATH_RULES_FILE = DATA / "audit_path_rules.toml"
# CloudWatch accepts periods of 10, 30 or any multiple of 60 seconds; an alarm looks at most one
# day back (period times evaluation periods).
ALARM_WINDOW_SECONDS = 86_400
# CloudWatch Logs refuses a filter pattern longer than this.
MAX_PATTERN_LENGTH = 1024
PLACEHOLDER = re.compile(r"\$\{([a-z_]+)\}")
# What a system alarm's pattern may name, filled in by modules/monitoring.py.
SYSTEM_PLACEHOLDERS = {
    "data_bucket": "the data bucket's name",
    "data_key_arn": "the data key's ARN",
    "unless_granted": "` && ($.userIdentity.arn != \"...\")` for each identity the data key is granted to",
}
# What an audit-path rule may watch, and the request parameter that names it in the event.
WATCHED = {"keys": "keyId", "trail": "name", "trail_bucket": "bucketName"}


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

    def problems(self, placeholders: typing.Collection[str] = ()) -> Iterator[tuple[str, str]]:
        """(field, problem) for each value CloudWatch would refuse."""
        if not re.fullmatch(r"[A-Za-z0-9]{1,255}", self.name, re.ASCII):
            yield "name", f"must be 1-255 letters or digits (it names the metric and the alarm), got {self.name!r}"
        if not (self.pattern.startswith("{") and self.pattern.endswith("}")):
            yield "pattern", "must be a JSON metric filter pattern: '{ ... }'"
        if unknown := sorted(set(PLACEHOLDER.findall(self.pattern)) - set(placeholders)):
            yield "pattern", f"names unknown placeholders {unknown} (known: {sorted(placeholders) or 'none'})"
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


@dataclasses.dataclass(frozen=True)
class AuditPathRule:
    """One EventBridge rule: the CloudTrail management events `event_names` of service `source`
    (`aws.kms`) that act on what `watches` names (a key of WATCHED)."""

    name: str
    description: str
    source: str
    event_names: tuple[str, ...]
    watches: str

    @property
    def event_source(self) -> str:
        """The event's `eventSource`: `aws.kms` -> `kms.amazonaws.com`."""
        return f"{self.source.removeprefix('aws.')}.amazonaws.com"

    def problems(self, placeholders: typing.Collection[str] = ()) -> Iterator[tuple[str, str]]:
        if not re.fullmatch(r"[a-z0-9-]{1,40}", self.name, re.ASCII):
            yield "name", f"must be 1-40 lowercase letters, digits or '-' (it ends the rule's name), got {self.name!r}"
        if not re.fullmatch(r"aws\.[a-z0-9-]+", self.source, re.ASCII):
            yield "source", f"must be an AWS service's event source such as 'aws.kms', got {self.source!r}"
        if not self.event_names or any(not re.fullmatch(r"[A-Z][A-Za-z0-9]+", e, re.ASCII) for e in self.event_names):
            yield "event_names", f"must be one or more API operation names, got {list(self.event_names)!r}"
        if self.watches not in WATCHED:
            yield "watches", f"must be one of {sorted(WATCHED)}, got {self.watches!r}"


Definition = typing.TypeVar("Definition", AlarmDefinition, AuditPathRule)


def _type_problem(value: object, expected: object) -> str | None:
    if typing.get_origin(expected) is tuple:
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return None
        return f"must be a list of strings, got {value!r}"
    return None if type(value) is expected else f"must be {expected.__name__}, got {value!r}"


def _parse(cls: type[Definition], entry: object, label: str, where: str,
           placeholders: typing.Collection[str]) -> tuple[Definition | None, list[str]]:
    if not isinstance(entry, dict):
        return None, [f"{where}: {label}: must be a table"]
    if isinstance(entry.get("name"), str):
        label = entry["name"]
    types = typing.get_type_hints(cls)
    problems = [f"{where}: {label}.{key}: unknown key" for key in sorted(set(entry) - set(types))]
    for field in dataclasses.fields(cls):
        if field.name not in entry:
            if field.default is dataclasses.MISSING:
                problems.append(f"{where}: {label}.{field.name}: missing required key")
        elif problem := _type_problem(entry[field.name], types[field.name]):
            problems.append(f"{where}: {label}.{field.name}: {problem}")
    if problems:
        return None, problems
    definition = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()})
    return definition, [f"{where}: {label}.{key}: {problem}" for key, problem in definition.problems(placeholders)]


@functools.cache
def _load(path: Path, cls: type[Definition], table: str, placeholders: frozenset[str]) -> tuple[Definition, ...]:
    where = f"{path.parent.parent.name}/{path.parent.name}/{path.name}"
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get(table, [])
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError([f"{where}: (file): {err}"]) from err
    definitions, problems = [], []
    for index, entry in enumerate(entries):
        definition, found = _parse(cls, entry, f"{table}[{index}]", where, placeholders)
        problems += found
        if definition is not None and not found:
            definitions.append(definition)
    names = [d.name for d in definitions]
    problems += [f"{where}: {name}.name: defined more than once" for name in sorted({n for n in names if names.count(n) > 1})]
    if not entries:
        problems.append(f"{where}: {table}: none defined")
    if problems:
        raise ConfigError(problems)
    return tuple(definitions)


def load_alarm_definitions(path: Path | None = None) -> tuple[AlarmDefinition, ...]:
    """The CIS alarms (default ALARMS_FILE), read once; ConfigError listing every problem."""
    return _load(path or ALARMS_FILE, AlarmDefinition, "alarm", frozenset())


def load_system_alarms(path: Path | None = None) -> tuple[AlarmDefinition, ...]:
    """The system's own alarms (default SYSTEM_ALARMS_FILE), whose patterns may name SYSTEM_PLACEHOLDERS."""
    return _load(path or SYSTEM_ALARMS_FILE, AlarmDefinition, "alarm", frozenset(SYSTEM_PLACEHOLDERS))


def load_audit_path_rules(path: Path | None = None) -> tuple[AuditPathRule, ...]:
    """The audit-path EventBridge rules (default AUDIT_PATH_RULES_FILE)."""
    return _load(path or AUDIT_PATH_RULES_FILE, AuditPathRule, "rule", frozenset())


def load_all_definitions() -> None:
    """Validate every definition file (main.py does, before the slow import)."""
    problems: list[str] = []
    for load in (load_alarm_definitions, load_system_alarms, load_audit_path_rules):
        try:
            load()
        except ConfigError as err:
            problems += err.problems
    if problems:
        raise ConfigError(problems)
