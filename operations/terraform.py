"""Running the real Terraform on synthesized stacks, from tests, the demo and the benchmark.

Terraform gets a CLI configuration of its own: where a filesystem mirror of the AWS provider exists
on the machine (no registry access), it installs from there; elsewhere it downloads as usual.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import threading
from pathlib import Path

# A mirror's layout is <mirror>/<registry host>/hashicorp/aws/<version>/<platform>/.
PROVIDER_GLOB = "*/hashicorp/aws"
# Where provider mirrors usually live; TF_PROVIDER_MIRROR names another.
MIRROR_GLOBS = ("/opt/*", "/usr/share/terraform/plugins", "/usr/local/share/terraform/plugins",
                "~/.terraform.d/plugins", "~/.local/share/terraform/plugins")


def find_mirror() -> Path | None:
    """The folder holding `<registry host>/hashicorp/aws/<version>/`, if any."""
    candidates = [os.environ["TF_PROVIDER_MIRROR"]] if os.environ.get("TF_PROVIDER_MIRROR") else []
    for pattern in MIRROR_GLOBS:
        candidates += glob.glob(os.path.expanduser(pattern))
    for candidate in candidates:
        if any(path.is_dir() for path in Path(candidate).glob(PROVIDER_GLOB)):
            return Path(candidate)
    return None


def write_cli_config(path: Path) -> Path:
    """A Terraform CLI configuration that uses the mirror when there is one."""
    mirror = find_mirror()
    text = ""
    if mirror:
        text = f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n'
    # Written whole, then renamed into place: a Terraform started meanwhile reads the old file or the
    # new one, never a half-written one.
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    partial.write_text(text)
    partial.replace(path)
    return path


def terraform_env(cli_config: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(cli_config), "TF_IN_AUTOMATION": "1", "TF_INPUT": "0",
           "CHECKPOINT_DISABLE": "1", **extra}
    return env


def terraform(args: list[str], cwd: Path, env: dict[str, str], check: bool = True,
              timeout: int = 900) -> subprocess.CompletedProcess[str]:
    """Run terraform; on an unexpected exit status, raise with its output."""
    binary = shutil.which("terraform")
    if binary is None:
        raise RuntimeError("terraform is not on PATH")
    result = subprocess.run([binary, *args, "-no-color"], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"terraform {' '.join(args)} exited {result.returncode} in {cwd}:\n"
                           f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def copy_stack(stack_dir: Path, destination: Path) -> Path:
    """A working copy of a synthesized stack: its configuration and provider lock file, never
    .terraform or state."""
    destination.mkdir(parents=True, exist_ok=True)
    for item in [*stack_dir.glob("*.tf.json"), *stack_dir.glob("*.tf"), *stack_dir.glob(".terraform.lock.hcl")]:
        shutil.copy2(item, destination / item.name)
    return destination
