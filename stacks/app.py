"""One cdktf App for every environment: the import cost is paid once."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from cdktf import App, Aspects, TerraformStack

from definitions.paths import PROVIDER_LOCK_FILE
from environments.config import Environment
from environments.organization import Organization
from rule_pack.rules import RulePack
from stacks.environment_stacks import BootstrapStack, PlatformStack
from stacks.organization_stacks import organization_stacks


def build_app(envs: Sequence[Environment], outdir: Path | None = None, org: Organization | None = None) -> App:
    # No stack traces in the output: they hold absolute paths, and two synths must be identical.
    app = App(outdir=str(outdir) if outdir else None, stack_traces=False)
    platforms = []
    for env in envs:
        platform = PlatformStack(app, env)
        platforms.append(platform)
        for stack in (BootstrapStack(app, env, deploys=platform), platform):
            Aspects.of(stack).add(RulePack(production=env.production, protected=stack.protected))
    for stack in organization_stacks(app, org, platforms) if org else ():
        Aspects.of(stack).add(RulePack(production=org.settings.prevent_destroy, protected=stack.protected))
    return app


def synthesize(envs: Sequence[Environment], outdir: Path, org: Organization | None = None) -> None:
    """Synthesize every stack into `outdir`/stacks/<stack>/, each with the provider lock file, so
    that `terraform init` there installs the release the tests ran against."""
    app = build_app(envs, outdir, org)
    app.synth()
    for stack in app.node.children:
        if isinstance(stack, TerraformStack):
            shutil.copyfile(PROVIDER_LOCK_FILE, outdir / "stacks" / stack.node.id / PROVIDER_LOCK_FILE.name)
