"""The audit-path EventBridge rules (`data/audit_path_rules.toml`): the CloudTrail management
events that blind the audit path, each matched by `modules/audit/audit_path.py`. Typed and validated
without cdktf by the typed-TOML reader.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

from definitions.paths import DATA_DIR
from definitions.typed_toml import read_file, unique_names

AUDIT_PATH_RULES_FILE = DATA_DIR / "audit_path_rules.toml"
# What an audit-path rule may watch, and the request parameters that name it in the event: a rule
# matches an event naming it in any of them. CloudTrail records the trail as `name` for
# StopLogging, UpdateTrail and DeleteTrail, and as `trailName` for PutEventSelectors and
# PutInsightSelectors (CloudTrail API reference, the request syntax of each action).
WATCHED = {"keys": ("keyId",), "trail": ("name", "trailName"), "trail_bucket": ("bucketName",)}


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

    def problems(self) -> Iterator[tuple[str, str]]:
        if not re.fullmatch(r"[a-z0-9-]{1,40}", self.name, re.ASCII):
            yield "name", f"must be 1-40 lowercase letters, digits or '-' (it ends the rule's name), got {self.name!r}"
        if not re.fullmatch(r"aws\.[a-z0-9-]+", self.source, re.ASCII):
            yield "source", f"must be an AWS service's event source such as 'aws.kms', got {self.source!r}"
        if not self.event_names or any(not re.fullmatch(r"[A-Z][A-Za-z0-9]+", e, re.ASCII) for e in self.event_names):
            yield "event_names", f"must be one or more API operation names, got {list(self.event_names)!r}"
        if self.watches not in WATCHED:
            yield "watches", f"must be one of {sorted(WATCHED)}, got {self.watches!r}"


@dataclasses.dataclass(frozen=True)
class _AuditPathRules:
    rule: tuple[AuditPathRule, ...] = ()

    def problems(self) -> Iterator[tuple[str, str]]:
        return unique_names("rule", self.rule)


def load_audit_path_rules(path: Path = AUDIT_PATH_RULES_FILE) -> tuple[AuditPathRule, ...]:
    """The audit-path rules, read once; ConfigError listing every problem."""
    return read_file(_AuditPathRules, path).rule
