"""What the principal that runs Terraform may call, per Terraform type (`data/deploy_permissions.toml`):
the IAM actions the AWS provider calls for the type and the scope (which of the environment's
resources) they act on. Read by the typed-TOML reader; `stacks/deploy_policies.py` resolves the
scopes to one environment's ARNs.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from definitions.paths import DATA_DIR
from definitions.typed_toml import read_file

PERMISSIONS_FILE = DATA_DIR / "deploy_permissions.toml"
READS_FILE = DATA_DIR / "provider_reads.toml"
# Statement ids by scope, in the order the policy lists them.
SCOPE_SIDS = {
    "*": "ActionsWithoutResources", "state": "ReadWriteState", "state_read": "ReadState", "state_lock": "LockState",
    "state_key": "UseStateKey", "buckets": "ManageBuckets",
    "keys": "ManageKeys", "aliases": "ManageKeyAliases", "roles": "ManageRoles", "groups": "ManageGroups",
    "trail": "ManageTrail", "log_group": "ManageLogGroup", "alarms": "ManageAlarms", "topic": "ManageAlarmTopic",
    "workgroup": "ManageWorkgroup", "schedule": "ManageCompactionSchedule", "catalog": "ManageCatalog", "oidc_provider": "ManageGitHubOidcProvider",
    "analyzer": "ManageAccessAnalyzer", "analyzer_role": "CreateAccessAnalyzerServiceRole",
    "event_rules": "ManageAuditPathRules", "dashboard": "ManageDashboard", "boundary": "ManagePermissionsBoundary",
}
# The conditions a grant may carry, each with the ending of its statement's Sid:
# - permissions_boundary: only on roles bounded by the workload permissions boundary (IAM's
#   iam:PermissionsBoundary), so that Terraform cannot create or widen a role beyond it;
# - resource_tags: only on resources tagged with the environment's project and name
#   (aws:ResourceTag), the provider's default tags;
# - request_tags: only when the request tags the new resource so (aws:RequestTag).
CONDITIONS = {"": "", "permissions_boundary": "WithinBoundary", "resource_tags": "Tagged", "request_tags": "WithTags"}
# An IAM action: `service:Operation`, a trailing `*` allowed (`s3:GetBucket*`).
_ACTION = re.compile(r"[a-z0-9-]+:[A-Z][A-Za-z0-9]*\*?", re.ASCII)


@dataclasses.dataclass(frozen=True)
class Grant:
    actions: tuple[str, ...]
    scope: str
    condition: str = ""

    def problems(self) -> Iterator[tuple[str, str]]:
        # An empty list is a type the provider handles without an API call (a policy document).
        if bad := [action for action in self.actions if not _ACTION.fullmatch(action)]:
            yield "actions", f"must be IAM actions such as 's3:GetObject', got {bad!r}"
        if self.scope not in SCOPE_SIDS:
            yield "scope", f"must be one of {', '.join(SCOPE_SIDS)}, got {self.scope!r}"
        if self.condition not in CONDITIONS:
            yield "condition", f"must be one of {', '.join(c for c in CONDITIONS if c)}, got {self.condition!r}"


@dataclasses.dataclass(frozen=True)
class _PermissionsFile:
    provider: dict[str, tuple[Grant, ...]] = dataclasses.field(default_factory=dict)
    backend: dict[str, tuple[Grant, ...]] = dataclasses.field(default_factory=dict)
    resource: dict[str, tuple[Grant, ...]] = dataclasses.field(default_factory=dict)
    data: dict[str, tuple[Grant, ...]] = dataclasses.field(default_factory=dict)


@functools.cache
def permissions(path: Path = PERMISSIONS_FILE) -> Mapping[str, tuple[Grant, ...]]:
    """{"resource.aws_s3_bucket": (Grant(actions, scope), ...), ...}, read once; ConfigError lists every problem."""
    data = read_file(_PermissionsFile, path)
    return {f"{field.name}.{name}": grants for field in dataclasses.fields(data)
            for name, grants in getattr(data, field.name).items()}


@dataclasses.dataclass(frozen=True)
class Reads:
    """The IAM actions of the calls the provider makes to read (refresh) a type."""

    reads: tuple[str, ...]

    def problems(self) -> Iterator[tuple[str, str]]:
        if bad := [action for action in self.reads if not _ACTION.fullmatch(action) or "*" in action]:
            yield "reads", f"must be IAM actions without wildcards such as 's3:GetObject', got {bad!r}"


@dataclasses.dataclass(frozen=True)
class _ReadsFile:
    provider: dict[str, Reads] = dataclasses.field(default_factory=dict)
    backend: dict[str, Reads] = dataclasses.field(default_factory=dict)
    resource: dict[str, Reads] = dataclasses.field(default_factory=dict)
    data: dict[str, Reads] = dataclasses.field(default_factory=dict)


@functools.cache
def provider_reads(path: Path = READS_FILE) -> Mapping[str, tuple[str, ...]]:
    """{"resource.aws_glue_catalog_table": ("glue:GetTable", "glue:GetPartitionIndexes"), ...}: what
    a plan needs for each type, read once; ConfigError lists every problem."""
    data = read_file(_ReadsFile, path)
    return {f"{field.name}.{name}": entry.reads for field in dataclasses.fields(data)
            for name, entry in getattr(data, field.name).items()}
