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
# Statement ids by scope, in the order the policy lists them.
SCOPE_SIDS = {
    "*": "ActionsWithoutResources", "state": "ReadWriteState", "state_read": "ReadState", "state_lock": "LockState",
    "state_key": "UseStateKey", "buckets": "ManageBuckets",
    "keys": "ManageKeys", "aliases": "ManageKeyAliases", "roles": "ManageRoles", "groups": "ManageGroups",
    "trail": "ManageTrail", "log_group": "ManageLogGroup", "alarms": "ManageAlarms", "topic": "ManageAlarmTopic",
    "workgroup": "ManageWorkgroup", "catalog": "ManageCatalog", "oidc_provider": "ManageGitHubOidcProvider",
    "analyzer": "ManageAccessAnalyzer", "analyzer_role": "CreateAccessAnalyzerServiceRole",
    "event_rules": "ManageAuditPathRules", "dashboard": "ManageDashboard",
}
# An IAM action: `service:Operation`, a trailing `*` allowed (`s3:GetBucket*`).
_ACTION = re.compile(r"[a-z0-9-]+:[A-Z][A-Za-z0-9]*\*?", re.ASCII)


@dataclasses.dataclass(frozen=True)
class Grant:
    actions: tuple[str, ...]
    scope: str

    def problems(self) -> Iterator[tuple[str, str]]:
        # An empty list is a type the provider handles without an API call (a policy document).
        if bad := [action for action in self.actions if not _ACTION.fullmatch(action)]:
            yield "actions", f"must be IAM actions such as 's3:GetObject', got {bad!r}"
        if self.scope not in SCOPE_SIDS:
            yield "scope", f"must be one of {', '.join(SCOPE_SIDS)}, got {self.scope!r}"


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
