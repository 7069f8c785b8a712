"""Constructs check their own input with the loader's rules (`definitions/naming.py`), so that a
construct used from code, not from an environment file, is protected too.

A check runs at synth (`node.add_validation`, as in AWS CDK) and fails it with the construct's
path; a value only known at apply time (a Terraform reference) is left to AWS.
"""

from __future__ import annotations

from typing import Any

import jsii
from cdktf import Token
from constructs import IConstruct, IValidation

from definitions.naming import Check


@jsii.implements(IValidation)
class _InputRule:
    def __init__(self, what: str, value: Any, check: Check) -> None:
        self._what, self._value, self._check = what, value, check

    def validate(self) -> list[str]:
        if isinstance(self._value, str) and Token.is_unresolved(self._value):
            return []
        problem = self._check(self._value)
        return [f"{self._what}: {problem}"] if problem else []


def check_input(construct: IConstruct, what: str, value: Any, check: Check) -> None:
    """Fail the synth when `check(value)` finds a problem; `what` names the input."""
    construct.node.add_validation(_InputRule(what, value, check))
