"""parliament over every policy the stacks produce, read as AWS will store it.

Each `aws_iam_policy_document` of every synthesized stack is rendered the way Terraform renders
the data source: single values as strings, the anonymous principal `*` as the bare string "*",
`$${aws:username}` as the policy variable `${aws:username}`, and each Terraform reference replaced
by the ARN it will hold (built from the referenced resource's own configuration). parliament's
findings must all be listed in `security/parliament_ignores.toml`, each with its reason; an entry
that matches nothing fails too, like the checkov allowlist.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import re
import sys
import tomllib
import uuid
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from definitions.paths import ROOT
from operations.review import from_terraform_document

IGNORES = ROOT / "security" / "parliament_ignores.toml"
REFERENCE = re.compile(r"\$\{(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_]+)\}")
# A key's id is known only after it exists: each key stands in with an id derived from its logical
# id, so that two keys of a stack never share an ARN in what the policies are checked against.
KEY_ID_NAMESPACE = uuid.UUID("00000000-0000-0000-0000-000000000000")


@dataclasses.dataclass(frozen=True)
class PolicyFinding:
    stack: str
    document: str  # the data source's logical id
    issue: str
    detail: str


def arn_of(stack: Mapping[str, Any], rtype: str, name: str, attribute: str) -> str:
    """The value a reference will hold once applied, from the referenced resource's configuration."""
    provider = stack["provider"]["aws"][0]
    region, account = provider["region"], provider["allowed_account_ids"][0]
    partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    body = stack["resource"][rtype][name]
    arns = {
        "aws_kms_key": f"arn:{partition}:kms:{region}:{account}:key/{uuid.uuid5(KEY_ID_NAMESPACE, name)}",
        "aws_iam_role": f"arn:{partition}:iam::{account}:role/{body.get('name')}",
        "aws_sns_topic": f"arn:{partition}:sns:{region}:{account}:{body.get('name')}",
        "aws_s3_bucket": f"arn:{partition}:s3:::{body.get('bucket')}",
        "aws_cloudwatch_log_group": f"arn:{partition}:logs:{region}:{account}:log-group:{body.get('name')}",
        "aws_iam_openid_connect_provider": f"arn:{partition}:iam::{account}:oidc-provider/{str(body.get('url', '')).removeprefix('https://')}",
    }
    if attribute != "arn" or rtype not in arns:
        raise KeyError(f"no rule to render ${{{rtype}.{name}.{attribute}}}: add one to operations/policy_lint.py")
    return arns[rtype]


def _single(value: Any) -> Any:
    """Terraform renders a one-element list as the element itself."""
    if isinstance(value, list):
        return value[0] if len(value) == 1 else value
    if isinstance(value, dict):
        return {k: _single(v) for k, v in value.items()}
    return value


def rendered(stack: Mapping[str, Any], document: Mapping[str, Any]) -> str:
    """The document's JSON as Terraform will hand it to AWS."""
    policy = from_terraform_document(document.get("statement", []))
    for statement in policy["Statement"]:
        for key in ("Action", "NotAction", "Resource"):
            if key in statement:
                statement[key] = _single(statement[key])
        if isinstance(statement.get("Principal"), dict):
            statement["Principal"] = _single(statement["Principal"])
        if "Condition" in statement:
            statement["Condition"] = _single(statement["Condition"])
    text = json.dumps(policy)
    text = REFERENCE.sub(lambda m: arn_of(stack, m.group(2), m.group(3), m.group(4)) if not m.group(1) else m.group(0), text)
    return text.replace("$${", "${")  # Terraform JSON's escape for a literal ${: an IAM policy variable


# AWS's size limits, in characters of the minified JSON: a service or resource control policy
# 5,120 (AWS Organizations quotas), a bucket policy 20 KB (S3 user guide, "Bucket policies"), a key
# policy 32 KB (KMS quotas). By the resource type that takes the policy, and its argument.
SIZE_LIMITS = {("aws_organizations_policy", "content"): 5120, ("aws_s3_bucket_policy", "policy"): 20 * 1024,
               ("aws_kms_key", "policy"): 32 * 1024}


def policy_sizes(stacks: Mapping[str, Mapping[str, Any]]) -> tuple[int, list[str]]:
    """(policies measured, one line per policy over its SIZE_LIMITS limit)."""
    measured, oversized = 0, []
    for stack_name, stack in sorted(stacks.items()):
        for (rtype, argument), limit in SIZE_LIMITS.items():
            for name, body in sorted(stack.get("resource", {}).get(rtype, {}).items()):
                document = stack["data"]["aws_iam_policy_document"][body[argument].split(".")[2]]
                size = len(json.dumps(json.loads(rendered(stack, document)), separators=(",", ":")))
                measured += 1
                if size > limit:
                    oversized.append(f"{stack_name}: {rtype}.{name}: {size} characters, over AWS's {limit}")
    return measured, oversized


def documents(stacks: Mapping[str, Mapping[str, Any]]) -> Iterator[tuple[str, str, str]]:
    """(stack, document logical id, rendered JSON) of every policy document."""
    for stack_name, stack in sorted(stacks.items()):
        for name, document in sorted(stack.get("data", {}).get("aws_iam_policy_document", {}).items()):
            yield stack_name, name, rendered(stack, document)


def findings(stacks: Mapping[str, Mapping[str, Any]]) -> tuple[int, list[PolicyFinding]]:
    """(documents analysed, parliament's findings)."""
    with warnings.catch_warnings():
        # parliament 1.6 imports setuptools' pkg_resources, which warns that it is deprecated: its
        # problem, not one the reader of `make scan` can act on.
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        from parliament import analyze_policy_string  # noqa: PLC0415 - slow to import; only the policy gate needs it

    found, count = [], 0
    for stack, name, text in documents(stacks):
        count += 1
        for finding in analyze_policy_string(text, ignore_private_auditors=True).findings:
            found.append(PolicyFinding(stack, name, finding.issue, json.dumps(finding.detail, sort_keys=True, default=str)))
    return count, found


def load_ignores(path: Path = IGNORES) -> list[dict[str, Any]]:
    entries = tomllib.loads(path.read_text())["ignore"]
    for entry in entries:
        if not entry.get("issue") or not entry.get("documents") or len(entry.get("reason", "").strip()) < 20:
            raise ValueError(f"{path.name}: every entry needs an issue, documents and a reason of 20 characters or more: {entry}")
    return entries


def evaluate(found: list[PolicyFinding], ignores: list[dict[str, Any]]) -> list[str]:
    """Problems: findings no entry ignores, and entries that ignore nothing (stale)."""
    problems, used = [], set()
    for finding in found:
        matching = [i for i, entry in enumerate(ignores) if entry["issue"] == finding.issue
                    and any(fnmatch.fnmatchcase(finding.document, pattern) for pattern in entry["documents"])
                    and entry.get("detail", "") in finding.detail]
        used.update(matching)
        if not matching:
            problems.append(f"{finding.stack}: {finding.document}: {finding.issue} {finding.detail}")
    problems += [f"{IGNORES.name}: {entry['issue']} {entry['documents']} ignores nothing (stale)"
                 for i, entry in enumerate(ignores) if i not in used]
    return problems


def main(stacks_dir: Path) -> int:
    """The policy gate over a synthesized tree: 0 when parliament finds nothing beyond the ignores."""
    from operations.stack_diff import load_stacks  # noqa: PLC0415 - keeps this module free of the diff's imports

    count, found = findings(load_stacks(stacks_dir))
    problems = evaluate(found, load_ignores())
    if count == 0:
        problems.append(f"{stacks_dir}: no policy document to analyse")
    print(f"parliament: {count} policy documents, {len(found)} findings, {len(found) - len(problems)} ignored with a reason "
          f"({IGNORES.relative_to(ROOT)})")
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    return 1 if problems else 0
