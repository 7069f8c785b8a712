"""`main.py` run for one environment into a folder of one's choosing, as Terraform JSON or as HCL:
for the export, the demo and the tests, which must leave cdktf.out/ alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from definitions.paths import ROOT


def synthesize(env_name: str, outdir: Path, *, environments_dir: Path | None = None, hcl: bool = False) -> Path:
    """Synthesize `env_name` and its bootstrap into `outdir`; return `outdir/stacks`. RuntimeError
    with main.py's messages when it refuses."""
    run_env = {**os.environ, "PLATFORM_ONLY": env_name, "CDKTF_OUTDIR": str(outdir)}
    if environments_dir is not None:
        run_env["PLATFORM_ENVIRONMENTS"] = str(environments_dir)
    run_env.pop("SYNTH_HCL_OUTPUT", None)
    if hcl:
        run_env["SYNTH_HCL_OUTPUT"] = "true"  # read by cdktf when it is imported
    result = subprocess.run([sys.executable, str(ROOT / "main.py")], cwd=ROOT, env=run_env, capture_output=True,
                            text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"synthesizing {env_name} ({'HCL' if hcl else 'JSON'}) failed:\n{result.stderr.strip()}")
    return outdir / "stacks"
