"""Benchmark: the cdktf.json app command, start to exit, against importing the AWS bindings whole.

Runs each command several times, alternating, and prints the median wall times and their ratio
(target: at most 0.35). Both are measured in the same run on the same machine, so the ratio holds
across machines where the seconds do not. Not a test: it prints, it does not judge.

Usage: python cli/bench.py [RUNS]   (default 5)
"""

from __future__ import annotations

import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

from definitions.paths import ROOT

TARGET = 0.35


def wall_time(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    runs = int(argv[0]) if argv else 5
    app_command = shlex.split(json.loads((ROOT / "cdktf.json").read_text())["app"])
    baseline_command = [sys.executable, "-c", "import cdktf_cdktf_provider_aws"]
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    app_times, baseline_times = [], []
    with tempfile.TemporaryDirectory() as out:
        env_app = {**env, "CDKTF_OUTDIR": out}  # as the cdktf CLI runs it
        wall_time(app_command, env_app)  # warm the caches once, unmeasured
        wall_time(baseline_command, env)
        for run in range(1, runs + 1):
            app_times.append(wall_time(app_command, env_app))
            baseline_times.append(wall_time(baseline_command, env))
            print(f"run {run}/{runs}: app {app_times[-1]:.2f} s, import {baseline_times[-1]:.2f} s", flush=True)
    app, baseline = statistics.median(app_times), statistics.median(baseline_times)
    ratio = app / baseline
    print(f"app command:      {' '.join(app_command)}")
    print(f"median app:       {app:.2f} s (all environments, {runs} runs)")
    print(f"median baseline:  {baseline:.2f} s (python -c 'import cdktf_cdktf_provider_aws')")
    print(f"ratio:            {ratio:.2f} (target <= {TARGET}: {'met' if ratio <= TARGET else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
