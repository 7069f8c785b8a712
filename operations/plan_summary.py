"""A saved plan, for review: `terraform show -json <plan>` turned into the Markdown of
operations/review.py: counts to add, change, replace and destroy; the dangerous changes first, with
the same rules as `make diff`; then every resource and its action. `make plan` writes one summary
per stack beside its plan file.

Terraform's own answer is used where it has one: `replace_paths` says which attributes force a
replacement. Policies are compared as the provider will send them, once their text is known at
plan time; a policy known only after apply is said to be so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from operations.review import POLICY_ATTRIBUTES, PolicyChange, ResourceChange, changed_paths, markdown

# Attributes that name a resource: a destroy and a create of one type and one name are a rename.
NAME_ATTRIBUTES = ("bucket", "name", "alarm_name", "alias")
COUNTED = {"create": "add", "update": "change", "replace": "replace", "delete": "destroy"}


def _policy(text: Any) -> dict | None:
    return json.loads(text) if isinstance(text, str) and text else None


def _name(values: Mapping[str, Any] | None) -> Any:
    return next((values[a] for a in NAME_ATTRIBUTES if values and values.get(a)), None)


def from_plan(stack: str, plan: Mapping[str, Any]) -> tuple[list[ResourceChange], list[PolicyChange], dict[str, int]]:
    """(resource changes, policy changes, counts by action) of one stack's plan."""
    resources, policies = [], []
    counts = dict.fromkeys(COUNTED.values(), 0)
    for entry in plan.get("resource_changes", []):
        if entry.get("mode") != "managed":
            continue
        change = entry["change"]
        actions = tuple(change["actions"])
        if actions in (("no-op",), ("read",)):
            continue
        before, after = change.get("before"), change.get("after")
        unknown = change.get("after_unknown") or {}
        attributes = []
        if actions == ("update",) or len(actions) == 2:
            attributes = [f"{path} (known after apply)" if unknown.get(path.split(".")[0]) is True else path
                          for path in changed_paths(before or {}, after or {})]
        resource = ResourceChange(stack, entry["address"], actions, before=before, after=after, attributes=tuple(attributes),
                                  replace_paths=tuple(".".join(map(str, p)) for p in change.get("replace_paths") or []))
        resources.append(resource)
        counts[COUNTED["replace" if resource.replaced else actions[0]]] += 1
        if resource.type in POLICY_ATTRIBUTES:
            attribute, kind = POLICY_ATTRIBUTES[resource.type]
            old, new = _policy((before or {}).get(attribute)), _policy((after or {}).get(attribute))
            if old != new and unknown.get(attribute) is not True:
                policies.append(PolicyChange(stack, entry["address"], old, new, kind=kind))
    _mark_renames(resources)
    return resources, policies, counts


def _mark_renames(resources: list[ResourceChange]) -> None:
    """A destroy and a create of the same type and name: the construct id changed, not the thing."""
    created = {(r.type, _name(r.after)): r for r in resources if r.actions == ("create",) and _name(r.after)}
    for removal in (r for r in resources if r.actions == ("delete",)):
        twin = created.get((removal.type, _name(removal.before)))
        if twin is not None:
            removal.moved_to = twin.address


def summary(stack: str, plan: Mapping[str, Any], title: str | None = None) -> str:
    resources, policies, counts = from_plan(stack, plan)
    return markdown(title or f"Terraform plan: `{stack}`", [stack], resources, policies, counts={stack: counts})
