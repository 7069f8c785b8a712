"""Stacks built in a test from constructs alone, outside any environment file, and what their
synth says."""

from __future__ import annotations

from pathlib import Path

from cdktf import App, Aspects, TerraformStack

from definitions.aws_context import AwsContext
from modules.foundation.bindings import provider
from rule_pack.rules import RulePack

ACCOUNT = "111111111111"
REGION = "eu-west-1"


def scratch_stack(outdir: Path, *, production: bool = False, protected: tuple[str, ...] = ()) -> TerraformStack:
    """An empty stack of its own app, with an AwsContext, a provider and the rule pack."""
    stack = TerraformStack(App(outdir=str(outdir), stack_traces=False), "scratch")
    AwsContext(ACCOUNT, REGION).attach(stack)
    provider.AwsProvider(stack, "aws", region=REGION)
    Aspects.of(stack).add(RulePack(production=production, protected=protected))
    return stack


def synth_failure(stack: TerraformStack) -> str:
    """The message with which the stack's app refuses to synthesize; fails the test if it does not."""
    try:
        stack.node.root.synth()
    except RuntimeError as err:
        return str(err)
    raise AssertionError(f"{stack.node.path} synthesized, but was expected to fail")
