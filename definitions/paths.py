"""Where things are in the repository: computed here once, imported everywhere else.

`environments_dir()` is the folder of environment files every command reads: `PLATFORM_ENVIRONMENTS`
when set, else `environments/` at the repository root.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "definitions" / "data"
QUERIES_DIR = DATA_DIR / "queries"
ORGANIZATION_QUERIES_DIR = DATA_DIR / "organization_queries"
DEFAULT_ENVIRONMENTS_DIR = ROOT / "environments"
SYNTH_OUT = ROOT / "cdktf.out"
README = ROOT / "README.md"
DOCS_DIR = ROOT / "docs"
# hashicorp/aws 5.100.0 for linux_amd64, written by `make providers-lock`; copied into every
# synthesized stack and exported root, so `terraform init` there installs the tested release.
PROVIDER_LOCK_FILE = ROOT / ".terraform.lock.hcl"
# The product's own source: what a synth reads (the layers, top to bottom, and the entry point).
SOURCE = ("main.py", "cli", "operations", "stacks", "rule_pack", "modules", "environments", "definitions")


def organization_file() -> Path:
    """The organization's topology: PLATFORM_ORGANIZATION, or organization.toml at the root."""
    return Path(os.environ.get("PLATFORM_ORGANIZATION", ROOT / "organization.toml"))


def environments_dir() -> Path:
    """The environment files' folder: PLATFORM_ENVIRONMENTS, or environments/ at the root."""
    return Path(os.environ.get("PLATFORM_ENVIRONMENTS", DEFAULT_ENVIRONMENTS_DIR))


def relative(path: Path) -> str:
    """`path` as error messages name it: relative to the repository root when inside it."""
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return path.as_posix()
