"""Unit tests run in process: no subprocess, and no fixture that runs one (`synth_out`, `tf_env`).
A test that needs a real tool belongs in tests/integration.

The jsii runtime (one Node.js process for the whole session) is started here, at collection, so
that no test body is the first to load cdktf.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import cdktf  # noqa: F401 - starts the jsii runtime before any test runs
import pytest

import modules.foundation.bindings  # noqa: F401 - loads the provider bindings once, outside any test

SUBPROCESS_FIXTURES = ("synth_out", "tf_env")


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("a unit test ran a subprocess: move it to tests/integration")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    used = [name for name in SUBPROCESS_FIXTURES if name in getattr(item, "fixturenames", ())]
    assert not used, f"{item.nodeid}: a unit test uses {used}, which run subprocesses: move it to tests/integration"
    original = subprocess.Popen._execute_child
    subprocess.Popen._execute_child = _refuse
    try:
        return (yield)
    finally:
        subprocess.Popen._execute_child = original
