"""`make export ENV=<env>`: the plain-Terraform bundle for ops in dist/<env>/ (see operations/export.py).

Usage: python -m cli.export ENV [ENV ...]
Exit status 2 on bad input (an unknown environment, an invalid environment file), 1 when a step
fails; dist/<env>/ is replaced only by a complete bundle.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from definitions.errors import ConfigError
from definitions.paths import ROOT, environments_dir
from environments.config import load_environments
from operations.export import export
from operations.terraform import terraform_env, write_cli_config


def main(argv: list[str]) -> int:
    folder = environments_dir()
    if not argv:
        names = ", ".join(sorted(p.stem for p in folder.glob("*.toml")))
        print(f"usage: make export ENV=<env> (environments: {names})", file=sys.stderr)
        return 2
    try:
        envs = load_environments(folder, argv)
    except ConfigError as err:
        print("\n".join(err.problems), file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as work:
        tf_env = terraform_env(write_cli_config(Path(work) / "terraform.rc"))
        for env in envs:
            try:
                bundle = export(env, ROOT / "dist", folder, tf_env)
            except RuntimeError as err:
                print(f"export {env.name}: {err}", file=sys.stderr)
                return 1
            print(f"{bundle.relative_to(ROOT)}/: {env.bootstrap_stack}/ then {env.name}/ (see {bundle.relative_to(ROOT)}/README.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
