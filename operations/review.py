"""What a reviewer must see first in a change to the infrastructure, from either source:

- `make diff`: two synthesized trees compared, no credentials needed (operations/stack_diff.py);
- `make plan`: a saved Terraform plan, `terraform show -json` (operations/plan_summary.py).

Both turn their input into `ResourceChange`s and `PolicyChange`s; `dangers()` finds what must be
read first (a stateful resource destroyed or replaced, a protection turned off, a policy widened)
and `markdown()` renders the report: dangerous changes first, then every change.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

# Resources holding data or history: destroying or replacing one loses it.
STATEFUL_TYPES = ("aws_kms_key", "aws_s3_bucket", "aws_cloudtrail", "aws_cloudwatch_log_group")
# What replacing a bucket means for what it holds: the stacks never force-destroy a bucket.
BUCKET_LEFT_BEHIND = (" (no bucket is force-destroyed: the destroy fails while it holds objects or versions, "
                      "and they do not move to the new bucket)")
# Resources whose removal turns a protection off on what they configure.
PROTECTIVE_TYPES = {
    "aws_s3_bucket_versioning": "versioning",
    "aws_s3_bucket_server_side_encryption_configuration": "default encryption",
    "aws_s3_bucket_public_access_block": "the public access block",
    "aws_s3_bucket_policy": "the bucket policy (TLS only, encryption, access)",
    "aws_s3_bucket_logging": "server access logging",
    "aws_s3_bucket_object_lock_configuration": "Object Lock",
    "aws_cloudwatch_metric_alarm": "an alarm",
    "aws_cloudwatch_event_rule": "an audit-path rule",
    "aws_organizations_policy_attachment": "a service or resource control policy (it is detached)",
}
# (type, attribute path, protective value, what it protects): a change away from the value turns
# the protection off.
PROTECTIONS = (
    ("aws_kms_key", "enable_key_rotation", True, "key rotation"),
    ("aws_s3_bucket_versioning", "versioning_configuration.status", "Enabled", "versioning"),
    ("aws_cloudtrail", "enable_logging", True, "the trail's logging"),
    ("aws_cloudtrail", "enable_log_file_validation", True, "log file validation"),
    ("aws_cloudtrail", "is_multi_region_trail", True, "multi-region recording"),
    ("aws_cloudtrail", "include_global_service_events", True, "global service events"),
    ("aws_cloudtrail", "is_organization_trail", True, "recording every account of the organization"),
    ("aws_s3_bucket_server_side_encryption_configuration", "rule.apply_server_side_encryption_by_default.sse_algorithm",
     "aws:kms", "SSE-KMS default encryption"),
    ("aws_s3_bucket_public_access_block", "block_public_acls", True, "block_public_acls"),
    ("aws_s3_bucket_public_access_block", "block_public_policy", True, "block_public_policy"),
    ("aws_s3_bucket_public_access_block", "ignore_public_acls", True, "ignore_public_acls"),
    ("aws_s3_bucket_public_access_block", "restrict_public_buckets", True, "restrict_public_buckets"),
    ("aws_athena_workgroup", "configuration.enforce_workgroup_configuration", True, "the workgroup's enforced settings"),
    (None, "lifecycle.prevent_destroy", True, "prevent_destroy"),
)
# Condition keys that tie a service principal's access to one resource, account or organization
# (IAM user guide, "The confused deputy problem"): removing one lets the service act for anyone.
CONFUSED_DEPUTY_KEYS = ("aws:sourcearn", "aws:sourceaccount", "aws:sourceorgid", "aws:sourceorgpaths")
# Resource attributes that hold a whole policy, and the policy's kind.
POLICY_ATTRIBUTES = {
    "aws_kms_key": ("policy", "key"), "aws_s3_bucket_policy": ("policy", "other"), "aws_iam_role": ("assume_role_policy", "trust"),
    "aws_iam_role_policy": ("policy", "other"), "aws_iam_group_policy": ("policy", "other"), "aws_iam_policy": ("policy", "other"),
    "aws_sns_topic_policy": ("policy", "other"),
}


@dataclasses.dataclass
class ResourceChange:
    """One resource's change. `actions` as Terraform names them: create, update, delete, and
    delete+create (or create+delete) for a replacement."""

    stack: str
    address: str
    actions: tuple[str, ...]
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    attributes: tuple[str, ...] = ()  # changed attribute paths
    replace_paths: tuple[str, ...] = ()  # the attributes that force a replacement
    path: str = ""  # the construct path, when known
    moved_to: str = ""  # a removal that is a construct-id rename: the new address

    @property
    def type(self) -> str:
        return self.address.split(".")[0]

    @property
    def replaced(self) -> bool:
        return "delete" in self.actions and "create" in self.actions

    @property
    def kind(self) -> str:
        if self.moved_to:
            return "renamed"
        if self.replaced:
            return "replaced"
        return {("create",): "added", ("delete",): "removed", ("update",): "changed"}.get(self.actions, "/".join(self.actions))


@dataclasses.dataclass
class PolicyChange:
    """A policy that changed, as IAM JSON documents before and after (None: none). `kind` is
    "trust" (a role's trust policy), "key" (a KMS key policy) or "other"."""

    stack: str
    address: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    kind: str = "other"


@dataclasses.dataclass(frozen=True)
class Danger:
    stack: str
    address: str
    message: str


# --- values -----------------------------------------------------------------------------------


def value_at(body: Any, path: str) -> Any:
    """The value at a dotted path, looking through single-element lists (Terraform blocks)."""
    for part in path.split("."):
        while isinstance(body, list) and len(body) == 1:
            body = body[0]
        if not isinstance(body, Mapping) or part not in body:
            return None
        body = body[part]
    while isinstance(body, list) and len(body) == 1:
        body = body[0]
    return body


def changed_paths(before: Any, after: Any, prefix: str = "") -> list[str]:
    """The dotted paths whose values differ (blocks of one element are looked through)."""
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after) == 1:
        return changed_paths(before[0], after[0], prefix)
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        paths = []
        for key in sorted(set(before) | set(after)):
            if key != "//":  # cdktf's metadata: the construct path, not configuration
                paths += changed_paths(before.get(key), after.get(key), f"{prefix}{key}.")
        return paths
    return [] if before == after else [prefix.rstrip(".")]


# --- policies ---------------------------------------------------------------------------------


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def normalized_statements(document: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """{Sid (or #index): statement} with every value a sorted list, principals as (type, id)."""
    found = {}
    for index, statement in enumerate(_as_list((document or {}).get("Statement"))):
        principal = statement.get("Principal", {})
        principals = {("*", "*")} if principal == "*" else {
            (kind, ident) for kind, ids in principal.items() for ident in _as_list(ids)}
        found[statement.get("Sid") or f"#{index}"] = {
            "Effect": statement.get("Effect", "Allow"),
            "Action": sorted(_as_list(statement.get("Action"))), "NotAction": sorted(_as_list(statement.get("NotAction"))),
            "Resource": sorted(_as_list(statement.get("Resource"))), "Principal": sorted(principals),
            "Condition": json.loads(json.dumps(statement.get("Condition", {}), sort_keys=True)),
        }
    return found


def from_terraform_document(statements: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """An `aws_iam_policy_document` data source's statements (Terraform JSON) as IAM JSON."""
    converted = []
    for s in statements:
        principals: dict[str, list[str]] | str = {}
        for p in s.get("principals", []):
            if p["type"] == "*":
                principals = "*"
            elif isinstance(principals, dict):
                principals.setdefault(p["type"], []).extend(p["identifiers"])
        condition: dict[str, dict[str, list[str]]] = {}
        for c in s.get("condition", []):
            condition.setdefault(c["test"], {})[c["variable"]] = c["values"]
        converted.append({k: v for k, v in {
            "Sid": s.get("sid"), "Effect": s.get("effect", "Allow"), "Action": s.get("actions"),
            "NotAction": s.get("not_actions"), "Resource": s.get("resources"), "Principal": principals or None,
            "Condition": condition or None}.items() if v})
    return {"Version": "2012-10-17", "Statement": converted}


def _broad(actions: list[str]) -> list[str]:
    return [a for a in actions if a == "*" or a.endswith(":*")]


def _account_root_only(statement: Mapping[str, Any]) -> bool:
    return bool(statement["Principal"]) and all(kind == "AWS" and ident.endswith(":root") for kind, ident in statement["Principal"])


def policy_dangers(change: PolicyChange) -> Iterator[str]:
    before, after = normalized_statements(change.before), normalized_statements(change.after)
    trust = change.kind == "trust" and change.before is not None  # a new role's trust is not a widening
    for sid, statement in after.items():
        old = before.get(sid)
        if statement["Effect"] == "Allow":
            widened = set(_broad(statement["Action"])) - set(_broad(old["Action"]) if old and old["Effect"] == "Allow" else [])
            if change.kind == "key" and _account_root_only(statement):
                widened = set()  # kms:* for the account root: AWS's default key policy statement
            if widened:
                yield f"statement {sid} now allows {', '.join(sorted(widened))}"
            if statement["NotAction"] and (not old or old["NotAction"] != statement["NotAction"]):
                yield f"statement {sid} now allows everything but {len(statement['NotAction'])} actions (NotAction)"
            new_principals = {tuple(p) for p in statement["Principal"]} - (
                {tuple(p) for p in old["Principal"]} if old and old["Effect"] == "Allow" else set())
            if ("*", "*") in new_principals or ("AWS", "*") in new_principals:
                yield f"statement {sid} now admits any principal ('*')"
            elif new_principals and trust:
                who = ", ".join(f"{kind} {ident}" for kind, ident in sorted(new_principals))
                yield f"trust widened: statement {sid} now trusts {who}"
            if trust and old and old["Effect"] == "Allow" and old["Condition"] and old["Condition"] != statement["Condition"]:
                yield f"trust widened: statement {sid}'s conditions changed from {json.dumps(old['Condition'])}"
            if old and old["Effect"] == "Allow":
                kept, checked = _confused_deputy_keys(statement), _confused_deputy_keys(old)
                for key in sorted(checked.keys() - kept.keys()):
                    yield f"statement {sid} no longer checks {checked[key]}: the service it admits may act for others"
    for sid, old in before.items():
        if old["Effect"] == "Deny" and (sid not in after or after[sid]["Effect"] != "Deny"):
            yield f"Deny statement {sid} removed"


def _confused_deputy_keys(statement: Mapping[str, Any]) -> dict[str, str]:
    """The confused-deputy condition keys a statement tests, by their lowercase form (condition
    keys compare without case)."""
    return {variable.lower(): variable for by_variable in statement["Condition"].values() for variable in by_variable
            if variable.lower() in CONFUSED_DEPUTY_KEYS}


def _items(statement: Mapping[str, Any], key: str) -> set[str]:
    """A statement's values under `key` as comparable text: principals `Type id`, conditions `Test variable = values`."""
    if key == "Principal":
        return {f"{kind} {ident}" for kind, ident in statement[key]}
    if key == "Condition":
        return {f"{test} {variable} = {json.dumps(values)}" for test, by_variable in statement[key].items()
                for variable, values in by_variable.items()}
    return {str(value) for value in _as_list(statement[key])}


def policy_summary(change: PolicyChange) -> list[str]:
    """Statement by statement: added, removed, changed, with the actions, resources, principals and
    conditions each change adds (+) and removes (−)."""
    before, after = normalized_statements(change.before), normalized_statements(change.after)
    lines = [f"statement {sid} added ({after[sid]['Effect']})" for sid in after if sid not in before]
    lines += [f"statement {sid} removed ({before[sid]['Effect']})" for sid in before if sid not in after]
    for sid in sorted(after.keys() & before.keys()):
        changes = []
        for key in after[sid]:
            old, new = _items(before[sid], key), _items(after[sid], key)
            if old != new:
                changes.append(f"{key} " + " ".join([*(f"+{v}" for v in sorted(new - old)), *(f"−{v}" for v in sorted(old - new))]))
        if changes:
            lines.append(f"statement {sid} changed: {'; '.join(changes)}")
    return sorted(lines)


# --- resources --------------------------------------------------------------------------------


def backend_danger(change: ResourceChange) -> str | None:
    """A moved state backend: the plan would start from an empty state."""
    moved = [a for a in change.attributes if a.startswith("backend.")]
    if change.address != "terraform" or not moved:
        return None
    values = [f"{path}: {json.dumps(value_at(change.before, path))} → {json.dumps(value_at(change.after, path))}"
              for path in moved]
    return (f"state backend moved ({'; '.join(values)}): the state stays where it was, and Terraform, finding none in "
            "the new place, would plan every resource anew. Move the state first (`terraform init -migrate-state` with "
            "the new backend), or keep the state where it is (`state.bucket` and `state.key` in the environment file)")


def projection_danger(change: ResourceChange) -> str | None:
    """Values dropped from a Glue table's enum partition projection (`projection.<column>.values`):
    Athena no longer reads their folders, so their logs vanish from every query on the table."""
    if change.type != "aws_glue_catalog_table" or change.before is None or change.after is None:
        return None
    before, after = change.before.get("parameters") or {}, change.after.get("parameters") or {}
    dropped = []
    for name, values in sorted(before.items()):
        if name.startswith("projection.") and name.endswith(".values") and isinstance(values, str):
            gone = sorted(set(values.split(",")) - set(str(after.get(name) or "").split(",")))
            if gone:
                dropped.append(f"{name.split('.')[1]} {', '.join(gone)}")
    if not dropped:
        return None
    return f"drops from its partition projection {'; '.join(dropped)}: their logs vanish from every query on the table"


def recorded_categories(trail: Mapping[str, Any] | None) -> set[str]:
    """The event categories a trail's advanced event selectors record (Management, Data, ...)."""
    selectors = (trail or {}).get("advanced_event_selector") or []
    return {category for selector in selectors for fields in [selector.get("field_selector") or []]
            for field in fields if field.get("field") == "eventCategory" for category in field.get("equals") or []}


def resource_dangers(change: ResourceChange) -> Iterator[str]:
    if change.type == "aws_cloudtrail" and change.before is not None and change.after is not None:
        for category in sorted(recorded_categories(change.before) - recorded_categories(change.after)):
            yield (f"the trail stops recording {category.lower()} events: they must be recorded by another trail "
                   "(an environment's management events by the organization trail) or they go unseen")
    if moved := backend_danger(change):
        yield moved
    if dropped := projection_danger(change):
        yield dropped
    if change.type == "aws_cloudtrail_organization_delegated_admin_account" and change.actions != ("create",):
        before, after = (value_at(body, "account_id") if body else None for body in (change.before, change.after))
        yield (f"the CloudTrail delegated administrator changes ({json.dumps(before)} → {json.dumps(after)}): "
               "who may create, change or stop the organization trail")
    if change.type in STATEFUL_TYPES and "delete" in change.actions:
        if change.moved_to:
            yield (f"renamed to `{change.moved_to}`: Terraform would destroy it and create a new, empty one. Keep it: "
                   f"`moved {{ from = {change.address} to = {change.moved_to} }}` in plain Terraform, or "
                   f"`.move_from_id(\"{change.address}\")` on the new resource in cdktf")
        elif change.replaced:
            yield (f"replaced (forced by {', '.join(change.replace_paths) or 'a changed attribute'}): the old one is destroyed"
                   + (BUCKET_LEFT_BEHIND if change.type == "aws_s3_bucket" else ""))
        else:
            yield "destroyed"
    if change.type in PROTECTIVE_TYPES and change.actions == ("delete",) and not change.moved_to:
        yield f"removed: turns off {PROTECTIVE_TYPES[change.type]}"
    if change.before is not None and change.after is not None:
        for rtype, path, protective, what in PROTECTIONS:
            if rtype in (None, change.type) and value_at(change.before, path) == protective \
                    and value_at(change.after, path) != protective:
                yield f"turns off {what} ({path}: {json.dumps(value_at(change.after, path))})"


def dangers(resources: Iterable[ResourceChange], policies: Iterable[PolicyChange]) -> list[Danger]:
    found = [Danger(c.stack, c.address, m) for c in resources for m in resource_dangers(c)]
    found += [Danger(p.stack, p.address, m) for p in policies for m in policy_dangers(p)]
    return sorted(found, key=lambda d: d.address != "terraform")  # a moved state first: every other change depends on it


# --- the report -------------------------------------------------------------------------------


SHOWN_VALUE_LENGTH = 48
CHANGE_KINDS = ("added", "changed", "replaced", "renamed", "removed")  # the order a stack's counts are said in


def shortened(value: Any) -> str:
    """A scalar as JSON, cut in the middle past SHOWN_VALUE_LENGTH characters (names differ at both ends)."""
    text = json.dumps(value)
    if len(text) <= SHOWN_VALUE_LENGTH:
        return text
    half = (SHOWN_VALUE_LENGTH - 1) // 2
    return f"{text[:half]}…{text[-half:]}"


def attribute_change(change: ResourceChange, path: str) -> str:
    """`path`, with old → new when both are scalars (a block or list is named only)."""
    old, new = value_at(change.before, path), value_at(change.after, path)
    scalar = (str, int, float, bool, type(None))
    if change.before is None or change.after is None or not isinstance(old, scalar) or not isinstance(new, scalar):
        return f"`{path}`"
    return f"`{path}`: `{shortened(old)}` → `{shortened(new)}`"


def markdown(title: str, stacks: Iterable[str], resources: list[ResourceChange], policies: list[PolicyChange],
             counts: Mapping[str, Mapping[str, int]] | None = None) -> str:
    """The report: dangerous changes first, then each changed stack, then the unchanged ones."""
    found = dangers(resources, policies)
    lines = [f"## {title}", ""]
    if found:
        lines += ["### Dangerous changes", ""]
        # One cause, many consequences (a new company_prefix replaces every bucket): said once.
        by_cause: dict[tuple[str, str], list[str]] = {}
        for danger in found:
            by_cause.setdefault((danger.stack, danger.message), []).append(danger.address)
        for (stack, message), addresses in by_cause.items():
            named = ", ".join(f"`{a}`" for a in addresses)
            lines.append(f"- **{stack}** {named}: {message}" if len(addresses) == 1
                         else f"- **{stack}** {len(addresses)} resources, {named}: {message}")
        lines.append("")
    unchanged = []
    for stack in stacks:
        mine = [c for c in resources if c.stack == stack]
        my_policies = [p for p in policies if p.stack == stack]
        if not mine and not my_policies:
            unchanged.append(stack)
            continue
        lines += [f"### {stack}", ""]
        if counts and stack in counts:
            lines += [" · ".join(f"{n} to {what}" for what, n in counts[stack].items()), ""]
        else:
            kinds = [c.kind for c in mine]
            tally = [f"{kinds.count(kind)} {kind}" for kind in CHANGE_KINDS if kind in kinds]
            lines += [" · ".join([*tally, *([f"{len(my_policies)} policy documents changed"] if my_policies else [])]), ""]
        lines += ["| change | resource | attributes |", "| --- | --- | --- |"]
        for change in sorted(mine, key=lambda c: (c.kind, c.address)):
            shown = [attribute_change(change, a) for a in change.attributes[:12]]
            detail = ", ".join(shown) + (" …" if len(change.attributes) > 12 else "")
            if change.moved_to:
                detail = f"→ `{change.moved_to}`"
            lines.append(f"| {change.kind} | `{change.address}` | {detail} |")
        for policy in my_policies:
            lines += ["", f"Policy `{policy.address}`:", *[f"- {line}" for line in policy_summary(policy)]]
        moves = [c for c in mine if c.moved_to]
        if moves:
            lines += ["", "To keep the renamed resources instead of replacing them (plain Terraform; in cdktf, "
                      "`.move_from_id(...)` on each new resource):", "", "```hcl",
                      *[f"moved {{\n  from = {c.address}\n  to   = {c.moved_to}\n}}" for c in moves], "```"]
        lines.append("")
    if unchanged:
        lines += [f"No changes: {', '.join(f'`{s}`' for s in unchanged)}", ""]
    return "\n".join(lines)


def fitted(report: str, limit: int, pointer: str) -> str:
    """`report` within `limit` characters for a pull-request comment: whole when it fits; else its
    title, the dangerous changes and each stack's heading and counts, whole, then `pointer` (where
    the full report is). The dangerous section alone past the limit is cut, with the pointer."""
    if len(report) <= limit:
        return report
    title, *sections = report.split("\n### ")
    kept = [title]
    for section in sections:
        lines = section.split("\n")
        if lines[0] == "Dangerous changes":
            kept.append(f"### {section}")
            continue
        kept.append("\n".join([f"### {lines[0]}", *lines[1:3]]) + "\n")  # the heading and its counts
        kept += [f"{line}\n" for line in lines if line.startswith("No changes:")]
    text = "\n".join([*kept, pointer, ""])
    return text if len(text) <= limit else f"{text[:limit - len(pointer) - 4]}…\n\n{pointer}\n"
