"""`make up`, `make plan`, `make down`: an environment on the local moto emulator, the real way;
and `make apply`, `make drift` against real AWS, for the workflows (see operations/deployment.py).

Usage: python -m cli.deploy up|plan|down|apply|drift ENV [emulator|aws]
  plan   saves each stack's plan and its Markdown summary in .local/<env>/<target>/<stack>.md
  apply  applies the plan saved at $PLAN when set (the reviewed one), else a plan made now
  drift  writes .local/<env>/<target>/drift.md only when the infrastructure differs from the code
Exit status 2 on bad input, 1 when a step fails (a found drift is not a failure).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from definitions.errors import ConfigError
from definitions.paths import ROOT, environments_dir
from environments.config import load_environments
from operations.deployment import EMULATOR_LIMITS, LocalDeployment

USAGE = "usage: make up|plan|down|apply|drift ENV=<env> [TARGET=emulator|aws]"
COMMANDS = {"up": "emulator", "plan": "emulator", "down": "emulator", "apply": "aws", "drift": "aws"}  # and their default target


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or argv[0] not in COMMANDS:
        print(USAGE, file=sys.stderr)
        return 2
    command, name = argv[0], argv[1]
    target = (argv[2:] or [COMMANDS[command]])[0]
    try:
        env = load_environments(environments_dir(), [name])[0]
    except ConfigError as err:
        print("\n".join(err.problems), file=sys.stderr)
        return 2
    if target not in ("emulator", "aws"):
        print(f"TARGET: must be emulator or aws, got {target!r}", file=sys.stderr)
        return 2
    deployment = LocalDeployment(env)
    try:
        if command == "up":
            outputs = deployment.up(progress=lambda step: print(f"{step}…", flush=True))
            width = max(map(len, outputs))
            print(f"\n{env.name} is up on the emulator ({deployment.running().endpoint}, account {env.account_id}):")
            print("\n".join(f"  {key:<{width}}  {value}" for key, value in outputs.items()))
            print("\nWhat the emulator does not do:\n" + "\n".join(f"  - {limit}" for limit in EMULATOR_LIMITS))
            variables = deployment.emulator_variables(deployment.running())
            exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in variables.items())
            # The CLI configuration `up` wrote: the provider from the local mirror, as `up` installed it.
            cli_config = deployment.state_dir / "terraform.rc"
            print(f"\nTo point the cdktf CLI or the AWS CLI at it: export {exports}"
                  f" TF_DATA_DIR={shlex.quote(str(deployment.state_dir / 'emulator' / env.name))}"
                  f" TF_CLI_CONFIG_FILE={shlex.quote(str(cli_config))}")
        elif command == "plan":
            plans = deployment.plan(target)
            for plan_file, _ in plans.values():
                print(plan_file.with_suffix(".md").read_text())
                print(f"{os.path.relpath(plan_file, ROOT)}: saved, with its summary beside it ({target})")
            if env.bootstrap_stack not in plans:
                print(f"{env.bootstrap_stack}: not planned: its local state is not here (it is applied by an administrator)")
            if target == "emulator" and env.bootstrap_stack in plans:
                print(f"On the emulator, {env.bootstrap_stack} plans to put back the state bucket's policy, which "
                      "`make up` lifted (moto cannot evaluate it).")
        elif command == "apply":
            saved = os.environ.get("PLAN")
            print(deployment.apply(target, Path(saved) if saved else None).read_text())
        elif command == "drift":
            report = deployment.drift(target)
            print(f"drift in {env.name}: see {os.path.relpath(report, ROOT)}" if report else f"no drift in {env.name}")
        else:
            print("\n".join(deployment.down()))
    except RuntimeError as err:
        print(f"{command} {env.name}: {err}", file=sys.stderr)
        if command == "plan":  # where the summary would be: the pull request's comment says why
            summary = deployment.state_dir / target / f"{env.name}.md"
            summary.parent.mkdir(parents=True, exist_ok=True)
            summary.write_text(f"### `{env.name}`: no plan\n\n{str(err).splitlines()[0]}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
