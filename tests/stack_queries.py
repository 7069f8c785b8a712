"""Reading synthesized Terraform JSON: resources by construct path, policies behind references."""

from __future__ import annotations

import json
import re

REF = re.compile(r"^\$\{(data\.)?([a-z0-9_]+)\.([^.}]+)\.([a-z_]+)\}$")
REFERENCE = re.compile(r"\b((?:data\.)?aws_[a-z0-9_]+\.[A-Za-z0-9_-]+)\.[a-z_]+")


def resources(stack: dict, rtype: str) -> dict[str, dict]:
    return stack.get("resource", {}).get(rtype, {})


def _named(stack: dict, rtype: str, prefix: str) -> list[str]:
    # cdktf names a resource `<construct path joined by _>_<hash>`, dropping a last path part
    # that repeats the one before it (`data-key/key` becomes `data-key`).
    return [name for name in resources(stack, rtype) if name.rsplit("_", 1)[0] == prefix]


def one(stack: dict, rtype: str, prefix: str) -> dict:
    """The single resource of `rtype` whose logical id is `prefix` plus the hash."""
    found = [resources(stack, rtype)[name] for name in _named(stack, rtype, prefix)]
    assert len(found) == 1, f"expected one {rtype} under {prefix}, found {len(found)}: {sorted(resources(stack, rtype))}"
    return found[0]


def address(stack: dict, rtype: str, prefix: str) -> str:
    names = _named(stack, rtype, prefix)
    assert len(names) == 1, (rtype, prefix, names)
    return f"{rtype}.{names[0]}"


def ref(stack: dict, rtype: str, prefix: str, attribute: str) -> str:
    """The Terraform reference expression to an attribute of one resource."""
    return "${" + address(stack, rtype, prefix) + "." + attribute + "}"


def statements(stack: dict, policy_reference: str) -> list[dict]:
    """The statements of the aws_iam_policy_document that `${data.aws_iam_policy_document.X.json}` names."""
    match = REF.match(policy_reference)
    assert match and match.group(1) and match.group(2) == "aws_iam_policy_document", policy_reference
    return stack["data"]["aws_iam_policy_document"][match.group(3)]["statement"]


def by_sid(statement_list: list[dict]) -> dict[str, dict]:
    return {s["sid"]: s for s in statement_list}


def conditions(statement: dict) -> dict[tuple[str, str], list[str]]:
    """{(test, variable): values} of a statement."""
    return {(c["test"], c["variable"]): c["values"] for c in statement.get("condition", [])}


def principals(statement: dict) -> dict[str, list[str]]:
    return {p["type"]: p["identifiers"] for p in statement.get("principals", [])}


def referenced(value: object) -> set[str]:
    """The resource addresses a value refers to (`${aws_kms_key.data-key_X.arn}` -> `aws_kms_key.data-key_X`)."""
    return set(REFERENCE.findall(json.dumps(value)))


def event_pattern(rule: dict) -> dict:
    """A rule's `event_pattern`, `${jsonencode({...})}` in Terraform JSON, as data: references become strings."""
    text = rule["event_pattern"]
    assert text.startswith("${jsonencode(") and text.endswith(")}"), text
    body = REFERENCE.sub(lambda m: f'"{m.group(0)}"', text[len("${jsonencode("):-len(")}")])
    return json.loads(body.replace('" = ', '": '))
