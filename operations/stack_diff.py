"""`make diff BASE=<git ref>`: what a change does to the generated Terraform, without credentials.

The base is synthesized in a temporary git worktree at the ref (its own code and environment
files), the working tree into a temporary folder (cdktf.out/ is left alone); every stack is
compared resource by resource. A removed resource whose twin was added under another address is a
construct-id rename; a changed attribute in `definitions/data/replacement_attributes.toml` forces a
replacement; policy documents are compared statement by statement. The report is Markdown
(operations/review.py), dangerous changes first.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from definitions.paths import ROOT
from definitions.resource_types import replacement_attributes
from operations.review import (
    POLICY_ATTRIBUTES,
    PolicyChange,
    ResourceChange,
    changed_paths,
    from_terraform_document,
    markdown,
)

POLICY_DOCUMENT = "aws_iam_policy_document"
# `${aws_s3_bucket.data-bucket_D46037D5.id}`: a reference, with the logical id that a rename changes.
REFERENCE = re.compile(r"\$\{(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.")


def load_stacks(stacks_dir: Path) -> dict[str, dict]:
    return {path.parent.name: json.loads(path.read_text()) for path in sorted(stacks_dir.glob("*/cdk.tf.json"))}


def _bodies(stack: Mapping[str, Any], kind: str) -> dict[str, Any]:
    return {f"{rtype}.{name}": body for rtype, by_name in stack.get(kind, {}).items() for name, body in by_name.items()}


def _shape(body: Any) -> str:
    """A body with references reduced to their type: equal for a resource and its renamed twin."""
    text = json.dumps({k: v for k, v in body.items() if k != "//"}, sort_keys=True)
    return REFERENCE.sub(lambda m: f"${{{m.group(1) or ''}{m.group(2)}.*.", text)


def _renames(removed: dict[str, Any], added: dict[str, Any]) -> dict[str, str]:
    """{old address: new address} for removed entries with exactly one same-shaped added twin."""
    renames = {}
    for old, body in removed.items():
        twins = [new for new, other in added.items() if new.split(".")[0] == old.split(".")[0] and _shape(other) == _shape(body)]
        if len(twins) == 1 and twins[0] not in renames.values():
            renames[old] = twins[0]
    return renames


def _path(body: Any) -> str:
    return body.get("//", {}).get("metadata", {}).get("path", "") if isinstance(body, Mapping) else ""


def diff_stack(name: str, base: Mapping[str, Any], head: Mapping[str, Any]) -> tuple[list[ResourceChange], list[PolicyChange]]:
    before, after = _bodies(base, "resource"), _bodies(head, "resource")
    removed = {a: b for a, b in before.items() if a not in after}
    added = {a: b for a, b in after.items() if a not in before}
    renames = _renames(removed, added)
    changes = [ResourceChange(name, a, ("delete",), before=b, path=_path(b), moved_to=renames.get(a, "")) for a, b in removed.items()]
    changes += [ResourceChange(name, a, ("create",), after=b, path=_path(b)) for a, b in added.items() if a not in renames.values()]
    forcing = replacement_attributes()
    for address in sorted(before.keys() & after.keys()):
        attributes = changed_paths(before[address], after[address])
        if attributes:
            rtype = address.split(".")[0]
            forced = tuple(a for a in attributes if a.split(".")[0] in forcing.get(rtype, ()))
            changes.append(ResourceChange(name, address, ("delete", "create") if forced else ("update",), before=before[address],
                                          after=after[address], attributes=tuple(attributes), replace_paths=forced,
                                          path=_path(after[address])))
    for block in ("terraform", "provider"):
        attributes = changed_paths(base.get(block, {}), head.get(block, {}))
        if attributes:
            changes.append(ResourceChange(name, block, ("update",), before=base.get(block, {}), after=head.get(block, {}),
                                          attributes=tuple(attributes)))
    return changes, _policy_changes(name, base, head)


def _policy_changes(name: str, base: Mapping[str, Any], head: Mapping[str, Any]) -> list[PolicyChange]:
    before = {a: b for a, b in _bodies(base, "data").items() if a.startswith(f"{POLICY_DOCUMENT}.")}
    after = {a: b for a, b in _bodies(head, "data").items() if a.startswith(f"{POLICY_DOCUMENT}.")}
    renames = _renames({a: b for a, b in before.items() if a not in after}, {a: b for a, b in after.items() if a not in before})
    kinds = {m.group(3): kind for stack in (base, head) for rtype, (attribute, kind) in POLICY_ATTRIBUTES.items()
             for body in stack.get("resource", {}).get(rtype, {}).values() for m in REFERENCE.finditer(str(body.get(attribute, "")))}
    pairs = [(a, a) for a in sorted(before.keys() & after.keys())] + sorted(renames.items())
    pairs += [(a, None) for a in before if a not in after and a not in renames]
    pairs += [(None, a) for a in after if a not in before and a not in renames.values()]
    changes = []
    for old, new in pairs:
        old_doc = from_terraform_document(before[old].get("statement", [])) if old else None
        new_doc = from_terraform_document(after[new].get("statement", [])) if new else None
        if old_doc != new_doc:
            address = f"data.{new or old}"
            changes.append(PolicyChange(name, address, old_doc, new_doc, kind=kinds.get((new or old).split(".", 1)[1], "other")))
    return changes


def diff(base_stacks: Mapping[str, Any], head_stacks: Mapping[str, Any]) -> tuple[list[str], list[ResourceChange], list[PolicyChange]]:
    stacks = sorted(base_stacks.keys() | head_stacks.keys())
    resources, policies = [], []
    for name in stacks:
        changes, policy_changes = diff_stack(name, base_stacks.get(name, {}), head_stacks.get(name, {}))
        # In address order: the report must not follow Python's per-process hash seed.
        resources += sorted(changes, key=lambda c: c.address)
        policies += sorted(policy_changes, key=lambda p: p.address)
    return stacks, resources, policies


# --- synthesizing the two trees ---------------------------------------------------------------


def _git(*args: str, cwd: Path = ROOT) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout.strip()


def default_base() -> str:
    """The merge base of HEAD with main (origin/main when there is one)."""
    for candidate in ("origin/main", "main"):
        if subprocess.run(["git", "rev-parse", "--verify", "--quiet", candidate], cwd=ROOT, capture_output=True).returncode == 0:
            return _git("merge-base", "HEAD", candidate)
    raise RuntimeError("no main branch to compare with: pass BASE=<git ref>")


def _synthesize(tree: Path, outdir: Path) -> Path:
    env = {k: v for k, v in os.environ.items() if k not in ("PLATFORM_ONLY", "PLATFORM_ENVIRONMENTS", "SYNTH_HCL_OUTPUT")}
    result = subprocess.run([sys.executable, "main.py"], cwd=tree, env={**env, "CDKTF_OUTDIR": str(outdir)},
                            capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"synthesizing {tree}: {result.stderr.strip()[-2000:]}")
    return outdir / "stacks"


def synthesize_both(base_ref: str, work: Path) -> tuple[dict, dict]:
    """(base stacks, working-tree stacks)."""
    commit = _git("rev-parse", "--verify", f"{base_ref}^{{commit}}")
    tree = work / "base"
    _git("worktree", "add", "--detach", str(tree), commit)
    try:
        base = load_stacks(_synthesize(tree, work / "base.out"))
    finally:
        _git("worktree", "remove", "--force", str(tree))
    return base, load_stacks(_synthesize(ROOT, work / "head.out"))


def report(base_ref: str) -> str:
    with tempfile.TemporaryDirectory(prefix="diff-") as work:
        base, head = synthesize_both(base_ref, Path(work))
    stacks, resources, policies = diff(base, head)
    short = _git("rev-parse", "--short", f"{base_ref}^{{commit}}")
    return markdown(f"Generated Terraform: `{base_ref}` ({short}) → working tree", stacks, resources, policies)
