"""`make export ENV=<env>`: the plain-Terraform bundle for ops in dist/<env>/ (see tooling/export.py).

Usage: python -m scripts.export ENV [ENV ...]
Exit status 2 on bad input (an unknown environment, an invalid environment file), 1 when a step
fails; dist/<env>/ is replaced only by a complete bundle.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from environments.config import ConfigError, load_environments
from tooling.export import export
from tooling.terraform import terraform_env, write_cli_config

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    environments_dir = Path(os.environ.get("PLATFORM_ENVIRONMENTS", ROOT / "environments"))
    if not argv:
        names = ", ".join(sorted(p.stem for p in environments_dir.glob("*.toml")))
        print(f"usage: make export ENV=<env> (environments: {names})", file=sys.stderr)
        return 2
    try:
        envs = load_environments(environments_dir, argv)
    except ConfigError as err:
        print("\n".join(err.problems), file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as work:
        tf_env = terraform_env(write_cli_config(Path(work) / "terraform.rc"))
        for env in envs:
            try:
                bundle = export(env, ROOT / "dist", environments_dir, tf_env)
            except RuntimeError as err:
                print(f"export {env.name}: {err}", file=sys.stderr)
                return 1
            print(f"{bundle.relative_to(ROOT)}/: {env.bootstrap_stack}/ then {env.name}/ (see {bundle.name}/README.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
