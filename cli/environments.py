"""The environment names as a JSON list, for a CI matrix: `python3 -m cli.environments`.

Needs nothing but the standard library (the loader imports no third-party package), so a CI job
can run it before any set-up. Exit status 2, one line per problem, on invalid environment files.
"""

from __future__ import annotations

import json
import sys

from definitions.errors import ConfigError
from definitions.paths import environments_dir
from environments.config import load_environments


def main() -> int:
    try:
        envs = load_environments(environments_dir())
    except ConfigError as err:
        print("\n".join(err.problems), file=sys.stderr)
        return 2
    print(json.dumps([env.name for env in envs]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
