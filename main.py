#!/usr/bin/env python3
"""Synthesize one Terraform stack per environment, plus its state bootstrap stack.

Every `environments/*.toml` and the alarm and rule definitions are validated before anything of cdktf is
imported: bad input ends with one line per problem on stderr, exit status 2, and nothing written.
A construct that refuses its input or breaks a rule of the rule pack (`modules/guardrails.py`)
ends the synth with the construct's path and the rule's id, exit status 1, nothing written. When
run outside the cdktf CLI, the stacks are synthesized into a staging folder that replaces
`cdktf.out/` only once complete.

Environment variables:
  PLATFORM_ENVIRONMENTS  folder of environment files (default: environments/ beside this file)
  PLATFORM_ONLY          comma-separated environment names to synthesize (default: all)
  CDKTF_OUTDIR           set by the cdktf CLI; otherwise cdktf.out/ beside this file
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from environments.config import ConfigError, load_environments
from modules.alarms import load_all_definitions

HERE = Path(__file__).resolve().parent
# What cdktf says when a rule or a construct's own check fails the synth.
SYNTH_REFUSALS = ("Encountered Annotations", "Validation failed")


def main() -> int:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    only = [n.strip() for n in os.environ.get("PLATFORM_ONLY", "").split(",") if n.strip()]
    try:
        envs = load_environments(Path(os.environ.get("PLATFORM_ENVIRONMENTS", HERE / "environments")), only)
        load_all_definitions()
    except ConfigError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        return 2

    from modules.app import synthesize  # noqa: PLC0415 - slow (the jsii runtime and the AWS bindings): after validation

    outdir = Path(os.environ["CDKTF_OUTDIR"]) if "CDKTF_OUTDIR" in os.environ else None  # the cdktf CLI's folder
    staging = Path(tempfile.mkdtemp(prefix=".cdktf.out.", dir=HERE)) if outdir is None else outdir
    try:
        synthesize(envs, staging)
        if outdir is None:
            shutil.rmtree(HERE / "cdktf.out", ignore_errors=True)
            staging.rename(HERE / "cdktf.out")
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
