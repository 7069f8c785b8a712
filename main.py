#!/usr/bin/env python3
"""Synthesize one Terraform stack per environment, plus its state bootstrap stack.

Every `environments/*.toml` is validated before anything of cdktf is imported: bad input ends with
one line per problem on stderr, exit status 2, and nothing written. When run outside the cdktf CLI,
the stacks are synthesized into a staging folder that replaces `cdktf.out/` only once complete.

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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from environments.config import ConfigError, load_environments  # noqa: E402


def main() -> int:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    only = [n.strip() for n in os.environ.get("PLATFORM_ONLY", "").split(",") if n.strip()]
    try:
        envs = load_environments(Path(os.environ.get("PLATFORM_ENVIRONMENTS", HERE / "environments")), only)
    except ConfigError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        return 2

    from modules.app import synthesize  # slow: loads the jsii runtime and the AWS bindings

    if "CDKTF_OUTDIR" in os.environ:  # the cdktf CLI owns the output folder
        synthesize(envs, Path(os.environ["CDKTF_OUTDIR"]))
        return 0
    final = HERE / "cdktf.out"
    staging = Path(tempfile.mkdtemp(prefix=".cdktf.out.", dir=HERE))
    try:
        synthesize(envs, staging)
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
