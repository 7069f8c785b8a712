"""An environment that leaves its management events to the organization trail
(`audit.management_events = false`), applied with the organization's stacks on one emulator
answering as several accounts: the environment in its own account, the organization's stacks in
theirs, each through its own provider. What it proves beyond the synthesized stacks: the
organization looks the environment's data key up in the environment's account, its alarms on the
environment's management events are made on the organization trail's log group and notify the
security account's topic, the security account's workgroup holds the environment's
investigations with that key's ARN, and a second plan of each stack has no changes.

moto evaluates no policy and delivers no log: the access matrix proves who may publish and read.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from definitions.paths import ROOT
from environments.config import Environment, load_environments
from environments.organization import load_organization
from operations.emulator import DEFAULT_ACCOUNT, deploy_stack, running_emulator
from operations.terraform import terraform
from stacks.ids import ORGANIZATION_STACKS
from tests.emulator.test_emulator_organization import REGION, SIDE, Deployed, prepare_organization
from tests.support import ENVIRONMENTS_DIR, first_environment, organization_toml
from tests.unit.test_environments import to_toml


def in_account(stack_dir: Path, destination: Path, account: str) -> Path:
    """A copy of an environment's synthesized stack whose provider assumes the role the emulator
    lets anyone assume in `account`: its credentials then act there, as on AWS."""
    shutil.copytree(stack_dir, destination)
    config = json.loads((destination / "cdk.tf.json").read_text())
    for provider in config["provider"]["aws"]:
        provider["assume_role"] = [{"role_arn": f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                                    "session_name": "terraform"}]
    (destination / "cdk.tf.json").write_text(json.dumps(config, indent=2))
    return destination


class WithEnvironment(Deployed):
    def __init__(self, env: Environment, *args) -> None:
        super().__init__(*args)
        self.env = env

    def env_client(self, service: str):
        """A client of the environment's account, in its region."""
        return self.emulator.boto3_client(service, self.env.region, account=self.env.account_id)


@pytest.fixture(scope="module")
def deployed(tf_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[WithEnvironment]:
    root = tmp_path_factory.mktemp("organization-environment")
    with running_emulator(None, log_path=root / "moto.log") as emulator:
        envs_dir = root / "envs"
        envs_dir.mkdir()
        # The first non-production environment, its trail leaving management events to the organization.
        name = first_environment(production=False).name
        data = tomllib.loads((ENVIRONMENTS_DIR / f"{name}.toml").read_text(encoding="utf-8"))
        data["audit"] = {**data.get("audit", {}), "management_events": False, "insights": False}
        (envs_dir / f"{name}.toml").write_text(to_toml(data), encoding="utf-8")
        (env,) = load_environments(envs_dir)
        topology = root / "organization.toml"
        topology.write_text(organization_toml(settings="prevent_destroy = false", envs=[env],
                                              organization_id=prepare_organization(emulator), management=DEFAULT_ACCOUNT),
                            encoding="utf-8")
        org = load_organization(topology, [env])
        assert org is not None and org.data_event_environments == (env.name,)
        out = root / "synth"
        subprocess.run([sys.executable, "main.py"], cwd=ROOT, check=True,
                       env={**os.environ, "CDKTF_OUTDIR": str(out), "PLATFORM_ORGANIZATION": str(topology),
                            "PLATFORM_ENVIRONMENTS": str(envs_dir)})
        outputs: dict[str, dict] = {}
        # The environment first: the organization looks its data key up.
        for name in (env.bootstrap_stack, env.name):
            source = in_account(out / "stacks" / name, root / "sources" / name, env.account_id)
            outputs[name] = deploy_stack(source, root / name, emulator, tf_env)

        def deploy(names: tuple[str, ...]) -> dict[str, dict]:
            return {name: deploy_stack(out / "stacks" / name, root / name, emulator, tf_env) for name in names}
        chains = [tuple(n for n in ORGANIZATION_STACKS if n in SIDE), tuple(n for n in ORGANIZATION_STACKS if n not in SIDE)]
        with ThreadPoolExecutor(max_workers=len(chains)) as pool:
            outputs |= {name: value for chain in pool.map(deploy, chains) for name, value in chain.items()}
        yield WithEnvironment(env, emulator, org, root, emulator.environment(tf_env), outputs)


def test_the_environments_trail_records_data_events_only(deployed: WithEnvironment):
    cloudtrail = deployed.env_client("cloudtrail")
    (trail,) = cloudtrail.describe_trails()["trailList"]
    selectors = cloudtrail.get_event_selectors(TrailName=trail["TrailARN"])["AdvancedEventSelectors"]
    assert [s["Name"] for s in selectors] == ["S3 objects of the watched buckets"]
    alarms = {a["AlarmName"] for a in deployed.env_client("cloudwatch").describe_alarms()["MetricAlarms"]}
    assert "DataBucketAccessDeniedSpike" in alarms and "AuditTrailHeartbeat" not in alarms and "RootAccountUsage" not in alarms


def test_the_organization_trail_watches_the_environments_management_events(deployed: WithEnvironment):
    env, names, s = deployed.env, deployed.org.names, deployed.org.settings
    key_arn = deployed.env_client("kms").describe_key(KeyId=env.names.key_alias)["KeyMetadata"]["Arn"]
    logs = deployed.client("logs", s.management_account)
    filters = {f["filterName"]: f["filterPattern"] for f in logs.describe_metric_filters(logGroupName=names.log_group)["metricFilters"]}
    prefix = env.name.capitalize()
    decrypts = filters[f"{prefix}DataKeyDecryptByOthers"]
    assert decrypts.startswith(f'{{ ($.recipientAccountId = "{env.account_id}") && ') and key_arn in decrypts
    assert key_arn in filters[f"{prefix}DataKeyApiCalls"]
    alarms = deployed.client("cloudwatch", s.management_account).describe_alarms()["MetricAlarms"]
    topic = f"arn:aws:sns:{REGION}:{s.security_account}:{names.alarm_topic}"
    relocated = [a for a in alarms if a["AlarmName"].startswith(prefix)]
    assert relocated and all(topic in a["AlarmActions"] for a in relocated)
    assert {t["TopicArn"] for t in deployed.client("sns", s.security_account).list_topics()["Topics"]} >= {topic}


def test_the_security_account_holds_the_environments_investigations(deployed: WithEnvironment):
    env, s = deployed.env, deployed.org.settings
    key_arn = deployed.env_client("kms").describe_key(KeyId=env.names.key_alias)["KeyMetadata"]["Arn"]
    athena = deployed.client("athena", s.security_account)
    ids = athena.list_named_queries(WorkGroup=deployed.org.names.workgroup)["NamedQueryIds"]
    # One at a time: moto's BatchGetNamedQuery answers HTTP 500.
    queries = {q["Name"]: q["QueryString"] for q in (athena.get_named_query(NamedQueryId=i)["NamedQuery"] for i in ids)}
    assert key_arn in queries[f"{env.name}_data_key_use_by_principal"]
    assert f"account = '{env.account_id}'" in queries[f"{env.name}_root_activity"]


def test_a_plan_right_after_the_apply_has_no_changes(deployed: WithEnvironment):
    names = (deployed.env.bootstrap_stack, deployed.env.name, *ORGANIZATION_STACKS)

    def plan(name: str) -> tuple[str, subprocess.CompletedProcess]:
        return name, terraform(["plan", "-input=false", "-detailed-exitcode", "-refresh=true"], deployed.root / name,
                               deployed.tf_env, check=False)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(pool.map(plan, names))
    changed = {name: r.stdout[-2000:] + r.stderr[-2000:] for name, r in results.items() if r.returncode != 0}
    assert not changed, changed
