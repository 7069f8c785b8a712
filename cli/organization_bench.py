"""Benchmark: the organization's stacks synthesized with 1, 10, 100 and 1,000 simulated members.

For each size: the stacks' resource count, whether every policy document is byte-identical to the
one-member organization's and within AWS's size limits, and the median synth time (in process,
after the bindings are loaded). Prints a table and the ratio of the 1,000-member time to the
1-member time (target: at most 1.2); exits 1 when a count, a policy or the ratio misses its target.

The topology is organization.toml (`PLATFORM_ORGANIZATION`), or examples/organization.toml
without one; the simulated members are added to it, with accounts that are no environment's.

Usage: python -m cli.organization_bench [RUNS]   (default 3)
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from definitions.paths import ROOT, environments_dir, organization_file
from environments.config import load_environments
from environments.organization import Organization, load_organization
from operations.policy_lint import policy_sizes

SIZES = (1, 10, 100, 1000)
TARGET = 1.2


def topology(base: str, members: int, folder: Path) -> Organization:
    path = folder / f"organization-{members}.toml"
    simulated = "".join(f'\n[[member]]\nid = "9{index:011d}"\nname = "simulated-{index}"\n' for index in range(members))
    path.write_text(base + simulated, encoding="utf-8")
    org = load_organization(path, load_environments(environments_dir()))
    assert org is not None
    return org


def synthesized(org: Organization) -> tuple[float, dict[str, dict]]:
    from cdktf import Testing  # noqa: PLC0415 - the slow import, after the topology is read

    from stacks.organization_stacks import organization_stacks  # noqa: PLC0415

    start = time.perf_counter()
    stacks = {stack.node.id: json.loads(Testing.synth(stack)) for stack in organization_stacks(Testing.app(), org)}
    return time.perf_counter() - start, stacks


def policies(stacks: dict[str, dict]) -> dict[str, str]:
    return {f"{name}/{doc}": json.dumps(body, sort_keys=True) for name, stack in stacks.items()
            for doc, body in stack.get("data", {}).get("aws_iam_policy_document", {}).items()}


def main(argv: list[str]) -> int:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    runs = int(argv[0]) if argv else 3
    source = organization_file() if organization_file().exists() else ROOT / "examples" / "organization.toml"
    base = source.read_text(encoding="utf-8")
    failures: list[str] = []
    rows, medians, reference = [], {}, None
    with tempfile.TemporaryDirectory() as folder:
        synthesized(topology(base, 1, Path(folder)))  # load the bindings once, unmeasured
        for members in SIZES:
            org = topology(base, members, Path(folder))
            times, stacks = [], {}
            for _ in range(runs):
                seconds, stacks = synthesized(org)
                times.append(seconds)
            medians[members] = statistics.median(times)
            count = sum(len(v) for stack in stacks.values() for v in stack.get("resource", {}).values())
            reference = reference or (count, policies(stacks))
            identical = policies(stacks) == reference[1]
            failures += [f"{members} members: {problem}" for problem in policy_sizes(stacks)[1]]
            if count != reference[0] or not identical:
                failures.append(f"{members} members: {count} resources, policies identical: {identical}")
            rows.append(f"| {members} | {count} | {'yes' if identical else 'no'} | {medians[members]:.2f} s |")
    ratio = medians[SIZES[-1]] / medians[SIZES[0]]
    print("| members | resources | policies identical to 1 member | synth (median) |\n| --- | --- | --- | --- |")
    print("\n".join(rows))
    print(f"\nsynth at {SIZES[-1]} members / at {SIZES[0]}: {ratio:.2f} (target: at most {TARGET})")
    if ratio > TARGET:
        failures.append(f"the ratio {ratio:.2f} is over {TARGET}")
    print("\n".join(failures), file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
