"""What the tests share: the environments under test and the repository root.

The environments are the folder `main.py` reads (`PLATFORM_ENVIRONMENTS`, default `environments/`),
so every test follows the environment files: a new file is tested like the others, and no test
but those about one file's own content names a file.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from definitions.paths import ROOT, SOURCE, environments_dir
from environments.config import Environment, load_environments
from environments.organization import Organization, load_organization

ENVIRONMENTS_DIR = environments_dir()
ENVIRONMENTS = load_environments(ENVIRONMENTS_DIR)
ENV_NAMES = [env.name for env in ENVIRONMENTS]
ALL_STACKS = [stack for env in ENVIRONMENTS for stack in (env.name, env.bootstrap_stack)]


def environment(name: str) -> Environment:
    return next(env for env in ENVIRONMENTS if env.name == name)


def first_environment(production: bool) -> Environment:
    """The first environment (by file name) that is, or is not, production."""
    found = [env for env in ENVIRONMENTS if env.production is production]
    assert found, f"{ENVIRONMENTS_DIR}: the tests need at least one environment with production = {str(production).lower()}"
    return found[0]


def all_features(env: Environment) -> Environment:
    """The environment with every optional setting on, so that every resource type the stacks can
    hold is synthesized (for tests about types, such as the deploy permissions)."""
    audit = dataclasses.replace(env.audit, access_logs=True, insights=True, object_lock_mode="GOVERNANCE",
                                object_lock_days=min(env.audit.object_lock_days, env.retention.trail_logs_expire_days),
                                request_metrics=True)
    return dataclasses.replace(env, alarm_emails=("security@example.com",), analysts_direct_athena=True,
                               key_admin_arns=(f"arn:{env.partition}:iam::{env.account_id}:role/KeyAdmins",),
                               github=dataclasses.replace(env.github, repository="acme/encrypted-data-platform", oidc_provider_arn=""),
                               audit=audit)


def query_values(env: Environment, data_key_arn: str) -> dict[str, str]:
    """What `env`'s named queries name, by placeholder; written here from the environment, not by
    the product's code."""
    return {
        "account_id": env.account_id, "home_region": env.region, "data_bucket": env.data_bucket, "results_bucket": env.results_bucket,
        "trail_bucket": env.trail_bucket, "trail_name": env.names.trail,
        "trail_arn": f"arn:{env.partition}:cloudtrail:{env.region}:{env.account_id}:trail/{env.names.trail}",
        "data_key_arn": data_key_arn,
        "application_role_arn": f"arn:{env.partition}:iam::{env.account_id}:role/{env.names.role}",
    }


def rendered_query(path: Path, env: Environment, data_key_arn: str) -> str:
    """A `queries/*.sql` file with `env`'s names written into its placeholders, as the deployed
    named query should read."""
    text = path.read_text(encoding="utf-8")
    for placeholder, value in query_values(env, data_key_arn).items():
        text = text.replace("{{" + placeholder + "}}", value)
    return text


def product_copy(tmp_path: Path, *extra: str) -> Path:
    """The product's sources (and `extra` files of the root) in a folder of their own, as a
    user's checkout would hold them, to break one file without touching the repository."""
    copy = tmp_path / "product"
    copy.mkdir()
    for item in (*SOURCE, *extra):
        source = ROOT / item
        if source.is_dir():
            shutil.copytree(source, copy / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, copy / item)
    return copy


# The organization's own accounts in the tests' topology; none is an environment's.
ORGANIZATION_ID = "o-a1b2c3d4e5"
MANAGEMENT, LOG_ARCHIVE, SECURITY = "100000000001", "100000000002", "100000000003"


def organization_toml(simulated_members: int = 0, settings: str = "", envs: Sequence[Environment] = ENVIRONMENTS, *,
                      organization_id: str = ORGANIZATION_ID, management: str = MANAGEMENT) -> str:
    """A topology of `envs` (a member per account, named after its environments) and
    `simulated_members` more, with `settings` added to [organization]."""
    by_account: dict[str, list[str]] = {}
    for env in envs:
        by_account.setdefault(env.account_id, []).append(env.name)
    assert not {management, LOG_ARCHIVE, SECURITY} & set(by_account), "an environment uses an account of the test topology"
    lines = ["[organization]", f'id = "{organization_id}"', f'management_account = "{management}"',
             'home_region = "eu-west-1"', f'log_archive_account = "{LOG_ARCHIVE}"', f'security_account = "{SECURITY}"',
             "accept_duplicate_management_events = true", settings, ""]
    members = [(account, "-".join(names), names) for account, names in sorted(by_account.items())]
    members += [(f"2{index:011d}", f"member-{index}", []) for index in range(simulated_members)]
    for account, name, names in members:
        lines += ["[[member]]", f'id = "{account}"', f'name = "{name}"', f"environments = {json.dumps(names)}", ""]
    return "\n".join(lines)


def load_test_organization(folder: Path, simulated_members: int = 1, settings: str = "") -> Organization:
    """The test topology, written into `folder` and loaded; one simulated member by default, so
    that it has two members whatever the environment files."""
    path = folder / "organization.toml"
    path.write_text(organization_toml(simulated_members, settings), encoding="utf-8")
    org = load_organization(path, ENVIRONMENTS)
    assert org is not None
    return org
