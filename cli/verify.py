"""`make verify ENV=<env> [TARGET=aws|emulator]`: the seed's phase 4 against a deployed environment
(see operations/verify.py). Prints a table; exit status 1 when any check fails, 2 on bad input.

With TARGET=emulator (after `make up`), boto3 is pointed at the environment's emulator and the
checks the emulator cannot make are named as such. With TARGET=aws, the usual AWS credentials.
"""

from __future__ import annotations

import os
import sys

import boto3

from definitions.errors import ConfigError
from definitions.paths import environments_dir
from environments.config import load_environments
from operations.deployment import LocalDeployment
from operations.verify import FAIL, Verifier, summary, table


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2) or (argv[1:] and argv[1] not in ("aws", "emulator")):
        print("usage: make verify ENV=<env> [TARGET=aws|emulator]", file=sys.stderr)
        return 2
    name, target = argv[0], (argv[1:] or ["aws"])[0]
    try:
        env = load_environments(environments_dir(), [name])[0]
    except ConfigError as err:
        print("\n".join(err.problems), file=sys.stderr)
        return 2
    if target == "emulator":
        emulator = LocalDeployment(env).running()
        if emulator is None:
            print(f"verify {name}: no emulator is running for it: run `make up ENV={name}` first", file=sys.stderr)
            return 1
        os.environ.update(LocalDeployment(env).emulator_variables(emulator))
    elif boto3.Session().get_credentials() is None:
        print(f"verify {name}: no AWS credentials (a profile, or AWS_* variables); for the emulator, after "
              f"`make up ENV={name}`: make verify ENV={name} TARGET=emulator", file=sys.stderr)
        return 2
    results = list(Verifier(env, emulator=target == "emulator").run())
    print(table(results))
    print(f"\n{summary(results)}")
    return 1 if any(r.status == FAIL for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
