#!/usr/bin/env python3
"""Synthesize one Terraform stack per environment, plus its state bootstrap stack.

Every `environments/*.toml` and every content file (`definitions/data/`: alarms, rules, tables,
queries, regions, permissions) is validated before anything of cdktf is imported: bad input ends
with one line per problem on stderr, exit status 2, and nothing written. A construct that refuses
its input or breaks a rule of the rule pack (`rule_pack/rules.py`)
ends the synth with the construct's path and the rule's id, exit status 1, nothing written. When
run outside the cdktf CLI, the stacks are synthesized into a staging folder that replaces
`cdktf.out/` only once complete.

Environment variables:
  PLATFORM_ENVIRONMENTS  folder of environment files (default: environments/ beside this file)
  PLATFORM_ONLY          comma-separated environment names to synthesize (default: all, and the
                         organization's stacks)
  PLATFORM_ORGANIZATION  the organization's topology (default: organization.toml beside this file; optional)
  CDKTF_OUTDIR           set by the cdktf CLI; otherwise cdktf.out/ beside this file
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from definitions.content import validate_content
from definitions.errors import ConfigError
from definitions.paths import ROOT, SYNTH_OUT, environments_dir, organization_file
from environments.config import load_environments
from environments.organization import load_organization, standalone_problems

# What cdktf says when a rule or a construct's own check fails the synth.
SYNTH_REFUSALS = ("Encountered Annotations", "Validation failed")


def main() -> int:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    only = [n.strip() for n in os.environ.get("PLATFORM_ONLY", "").split(",") if n.strip()]
    problems: list[str] = []
    org = None
    try:
        validate_content()
    except ConfigError as err:
        problems += err.problems
    try:
        envs = load_environments(environments_dir(), only)
        if organization_file().exists():  # checked against every environment file, not only those synthesized
            org = load_organization(organization_file(), load_environments(environments_dir()))
        else:
            problems += standalone_problems(envs)
    except ConfigError as err:
        problems += [p for p in err.problems if p not in problems]  # a broken region list shows in both
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2

    from stacks.app import synthesize  # noqa: PLC0415 - slow (the jsii runtime and the AWS bindings): after validation

    outdir = Path(os.environ["CDKTF_OUTDIR"]) if "CDKTF_OUTDIR" in os.environ else None  # the cdktf CLI's folder
    staging = Path(tempfile.mkdtemp(prefix=".cdktf.out.", dir=ROOT)) if outdir is None else outdir
    try:
        synthesize(envs, staging, None if only else org)
        if outdir is None:
            shutil.rmtree(SYNTH_OUT, ignore_errors=True)
            staging.rename(SYNTH_OUT)
    except RuntimeError as err:
        if not any(refusal in str(err) for refusal in SYNTH_REFUSALS):
            raise
        print(str(err).strip(), file=sys.stderr)
        return 1
    finally:
        if outdir is None:
            shutil.rmtree(staging, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
