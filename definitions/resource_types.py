"""What the tooling must know of each Terraform resource type the stacks use, besides the
construct that makes it: which attributes force a replacement (`data/replacement_attributes.toml`,
for `make diff`) and how the emulator handles it (`data/emulator_support.toml`). Read by the
typed-TOML reader; a test fails when a stack holds a type missing from either.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from definitions.errors import ConfigError
from definitions.paths import DATA_DIR, relative
from definitions.typed_toml import read_named_tables

REPLACEMENT_FILE = DATA_DIR / "replacement_attributes.toml"
EMULATOR_SUPPORT_FILE = DATA_DIR / "emulator_support.toml"
EMULATOR_SUPPORT = ("applied", "unsupported", "undeletable")
RESOURCE_TYPE = re.compile(r"aws_[a-z0-9_]+", re.ASCII)


@dataclasses.dataclass(frozen=True)
class Replacement:
    attributes: tuple[str, ...]


@functools.cache
def replacement_attributes(path: Path = REPLACEMENT_FILE) -> Mapping[str, tuple[str, ...]]:
    """{resource type: top-level attributes whose change makes Terraform replace the resource}
    (the provider schema does not say; the emulator tests check the table against real plans)."""
    return {rtype: entry.attributes for rtype, entry in _read_types(Replacement, path).items()}


@dataclasses.dataclass(frozen=True)
class EmulatorSupport:
    support: str
    reason: str = ""

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.support not in EMULATOR_SUPPORT:
            yield "support", f"must be one of {', '.join(EMULATOR_SUPPORT)}, got {self.support!r}"
        elif (self.support != "applied") != bool(self.reason.strip()):
            yield "reason", "is required for a type the emulator does not fully handle, and only then"


@functools.cache
def emulator_support(path: Path = EMULATOR_SUPPORT_FILE) -> Mapping[str, EmulatorSupport]:
    """{resource type: how the emulator handles it}."""
    return _read_types(EmulatorSupport, path)


def _read_types(entry: type, path: Path) -> dict:
    """A file whose top-level tables are resource types, each an `entry`."""
    tables = read_named_tables(entry, path)
    if bad := sorted(name for name in tables if not RESOURCE_TYPE.fullmatch(name)):
        raise ConfigError([f"{relative(path)}: {name}: must be a resource type such as 'aws_s3_bucket'" for name in bad])
    return tables
