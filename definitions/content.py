"""Every content file, validated at once: what `main.py` runs before the slow cdktf import, so a
broken alarm, rule, table, query, region list, permission table or resource-type table is refused
like a broken environment file (one line per problem, exit status 2, nothing written)."""

from __future__ import annotations

from collections.abc import Callable

from definitions import naming
from definitions.alarm_definitions import load_alarm_definitions, load_system_alarms
from definitions.audit_path_rules import load_audit_path_rules
from definitions.cloudtrail_tables import load_schema
from definitions.deploy_permissions import permissions
from definitions.errors import ConfigError
from definitions.queries import load_organization_queries, load_queries
from definitions.resource_types import emulator_support, replacement_attributes

# One loader per kind of content file; each reads its file once and caches what it read.
LOADERS: tuple[Callable[[], object], ...] = (
    naming.partitions, load_alarm_definitions, load_system_alarms, load_audit_path_rules, load_schema, load_queries,
    load_organization_queries, permissions, replacement_attributes, emulator_support,
)


def validate_content() -> None:
    """Load every content file; ConfigError listing every problem of every file."""
    problems: list[str] = []
    for load in LOADERS:
        try:
            load()
        except ConfigError as err:
            problems += err.problems
    if problems:
        raise ConfigError(problems)
