"""One cdktf App for every environment: the import cost is paid once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cdktf import App, Aspects

from environments.config import Environment
from modules.guardrails import RulePack
from modules.stacks import BootstrapStack, PlatformStack


def build_app(envs: Sequence[Environment], outdir: Path | None = None) -> App:
    # No stack traces in the output: they hold absolute paths, and two synths must be identical.
    app = App(outdir=str(outdir) if outdir else None, stack_traces=False)
    for env in envs:
        for stack in (BootstrapStack(app, env), PlatformStack(app, env)):
            Aspects.of(stack).add(RulePack(production=env.production, protected=stack.protected))
    return app


def synthesize(envs: Sequence[Environment], outdir: Path) -> None:
    build_app(envs, outdir).synth()
