"""Scan synthesized stacks with checkov; fail on any finding not allowlisted, on a stale allowlist
entry, and on a stack of which checkov scanned nothing.

Command line: `python -m cli.security_scan [STACKS_DIR]` (default cdktf.out/stacks).

checkov 3.3.30's terraform_json parser cannot read string-valued `terraform` settings
(`required_version` raises "this method receives only dicts" and the file is skipped as a parsing
error), nor top-level `moved` blocks (the file is likewise skipped), so each stack is scanned as a
copy without them; they carry no security setting and no resource.
checkov's own `resource_count` stays 0 for terraform_json, so what was scanned is counted from the
resources named in its results.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from definitions.paths import ROOT

ALLOWLIST = ROOT / "security" / "checkov_allowlist.toml"
# Every stack must have had these scanned, or the scan did not really look at it.
MUST_SCAN = ("aws_s3_bucket", "aws_kms_key")


@dataclass(frozen=True)
class Finding:
    stack: str
    check: str
    resource: str
    name: str


def load_allowlist(path: Path = ALLOWLIST) -> list[dict]:
    entries = tomllib.loads(path.read_text())["allow"]
    for entry in entries:
        if not entry.get("reason", "").strip() or not entry.get("resources") or not entry.get("check"):
            raise ValueError(f"{path.name}: every entry needs check, resources and a reason: {entry}")
    return entries


def _scan_copy(stacks_dir: Path, work: Path) -> list[str]:
    stacks = sorted(p.name for p in stacks_dir.iterdir() if (p / "cdk.tf.json").is_file())
    for stack in stacks:
        config = json.loads((stacks_dir / stack / "cdk.tf.json").read_text())
        config["terraform"] = {k: v for k, v in config.get("terraform", {}).items() if isinstance(v, dict)}
        config.pop("moved", None)
        (work / stack).mkdir()
        (work / stack / "cdk.tf.json").write_text(json.dumps(config))
    return stacks


def run_checkov(stacks_dir: Path) -> tuple[list[str], dict[str, set[str]], list[Finding]]:
    """(stacks, {stack: resources scanned}, failed findings)."""
    work = Path(tempfile.mkdtemp(prefix="checkov-"))
    try:
        stacks = _scan_copy(stacks_dir, work)
        checkov = shutil.which("checkov", path=str(Path(sys.executable).parent)) or "checkov"
        result = subprocess.run([checkov, "-d", str(work), "--framework", "terraform_json", "--skip-download",
                                 "-o", "json", "--compact"], capture_output=True, text=True)
        if result.returncode not in (0, 1) or not result.stdout.strip():
            raise RuntimeError(f"checkov failed ({result.returncode}): {result.stderr[-2000:]}")
        reports = json.loads(result.stdout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    reports = reports if isinstance(reports, list) else [reports]
    scanned: dict[str, set[str]] = {stack: set() for stack in stacks}
    failed: list[Finding] = []
    for report in reports:
        if report.get("summary", {}).get("parsing_errors"):
            raise RuntimeError(f"checkov could not parse {report['summary']['parsing_errors']} file(s)")
        results = report.get("results", {})
        for outcome in ("passed_checks", "failed_checks"):
            for check in results.get(outcome, []):
                stack = Path(check["file_path"]).parent.name
                scanned.setdefault(stack, set()).add(check["resource"])
                if outcome == "failed_checks":
                    failed.append(Finding(stack, check["check_id"], check["resource"], check["check_name"]))
    return stacks, scanned, failed


def _allowing(finding: Finding, allowlist: list[dict]) -> list[int]:
    """The indexes of the allowlist entries that accept a finding."""
    return [i for i, entry in enumerate(allowlist) if entry["check"] == finding.check
            and any(fnmatch.fnmatchcase(finding.resource, pattern) for pattern in entry["resources"])]


def sarif(stacks_dir: Path, failed: list[Finding], allowlist: list[dict]) -> dict:
    """The findings as SARIF 2.1.0 for code scanning: each located in its synthesized stack file,
    the allowlisted ones marked as suppressed with the allowlist's reason."""
    rules = {f.check: f.name for f in failed}
    base = stacks_dir.resolve()
    location = base.relative_to(ROOT) if base.is_relative_to(ROOT) else base
    results = []
    for finding in failed:
        result = {
            "ruleId": finding.check, "level": "error",
            "message": {"text": f"{finding.resource}: {finding.name}"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": f"{location.as_posix()}/{finding.stack}/cdk.tf.json"}},
                           "logicalLocations": [{"name": finding.resource, "kind": "resource"}]}],
        }
        allowed = _allowing(finding, allowlist)
        if allowed:
            result["suppressions"] = [{"kind": "external", "justification": allowlist[allowed[0]]["reason"]}]
        results.append(result)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "checkov", "informationUri": "https://www.checkov.io",
                                      "rules": [{"id": check, "shortDescription": {"text": name}} for check, name in sorted(rules.items())]}},
                  "results": results}],
    }


def evaluate(stacks: list[str], scanned: dict[str, set[str]], failed: list[Finding],
             allowlist: list[dict]) -> tuple[list[str], int]:
    """(problems, findings allowlisted). Problems: unscanned stacks, findings not allowlisted,
    stale allowlist entries."""
    problems = []
    accepted = 0
    if not stacks:
        problems.append("no stacks to scan")
    for stack in stacks:
        types = {resource.split(".")[0] for resource in scanned.get(stack, set())}
        missing = [rtype for rtype in MUST_SCAN if rtype not in types]
        if missing:
            problems.append(f"{stack}: checkov scanned {len(scanned.get(stack, ()))} resources and none of type {', '.join(missing)}")
    used = set()
    for finding in failed:
        allowed = _allowing(finding, allowlist)
        used.update(allowed)
        accepted += bool(allowed)
        if not allowed:
            problems.append(f"{finding.stack}: {finding.check} {finding.resource}: {finding.name}")
    for i, entry in enumerate(allowlist):
        if i not in used:
            problems.append(f"allowlist: {entry['check']} {entry['resources']} matches no finding (stale)")
    return problems, accepted


def parse_args(argv: list[str]) -> tuple[Path | None, Path]:
    """`[--sarif PATH] [STACKS_DIR]` -> (SARIF path or None, stacks folder); ValueError on bad input."""
    sarif_path = None
    if argv[:1] == ["--sarif"]:
        if len(argv) < 2:
            raise ValueError("--sarif needs a file path")
        sarif_path, argv = Path(argv[1]), argv[2:]
    stacks_dir = Path(argv[0]) if argv else ROOT / "cdktf.out" / "stacks"
    if not stacks_dir.is_dir():
        raise ValueError(f"{stacks_dir}: no such folder (run `make synth` first)")
    return sarif_path, stacks_dir


def main(argv: list[str]) -> int:
    """`[--sarif PATH] [STACKS_DIR]`: the gate; with --sarif, also the findings as SARIF."""
    try:
        sarif_path, stacks_dir = parse_args(argv)
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    stacks, scanned, failed = run_checkov(stacks_dir)
    allowlist = load_allowlist()
    problems, accepted = evaluate(stacks, scanned, failed, allowlist)
    if sarif_path is not None:
        sarif_path.write_text(json.dumps(sarif(stacks_dir, failed, allowlist), indent=2) + "\n")
    for stack in stacks:
        print(f"{stack:<20} {len(scanned.get(stack, ())):>4} resources scanned")
    print(f"{len(failed)} findings, {accepted} allowlisted with a reason (security/checkov_allowlist.toml)")
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    return 1 if problems else 0
