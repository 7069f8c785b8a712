"""The emulator's one fix: moto reads a log target's bucket policy as IAM writes it."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from operations.moto_server import _log_permissions_enabled_policy

TARGET = "acme-access-logs"
ARN = f"arn:aws:s3:::{TARGET}"
DENY_HTTP = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [ARN, f"{ARN}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def bucket(*statements: dict) -> SimpleNamespace:
    policy = json.dumps({"Version": "2012-10-17", "Statement": list(statements)}).encode()
    return SimpleNamespace(policy=policy, partition="aws", name=TARGET)


def allow_logs(resource: str | list[str], effect: str = "Allow", service: str = "logging.s3.amazonaws.com") -> dict:
    return {"Effect": effect, "Principal": {"Service": service}, "Action": "s3:PutObject", "Resource": resource}


@pytest.mark.parametrize("statements, admitted", [
    ((DENY_HTTP, allow_logs(f"{ARN}/acme-data/*")), True),  # a "*" principal before the grant: moto 5.2 crashed here
    ((allow_logs([f"{ARN}/acme-data/*"]), DENY_HTTP), True),  # resources as a list
    ((DENY_HTTP, allow_logs(f"{ARN}/acme-other/*")), False),  # another source's prefix
    ((DENY_HTTP, allow_logs(f"{ARN}/acme-data/*", effect="Deny")), False),
    ((DENY_HTTP, allow_logs(f"{ARN}/acme-data/*", service="cloudtrail.amazonaws.com")), False),
    ((DENY_HTTP,), False),
])
def test_a_log_target_admits_exactly_what_its_policy_grants(statements: tuple[dict, ...], admitted: bool):
    assert _log_permissions_enabled_policy(bucket(*statements), "acme-data/") is admitted


def test_a_bucket_without_a_policy_admits_nothing():
    assert _log_permissions_enabled_policy(SimpleNamespace(policy=None, partition="aws", name=TARGET), "x/") is False
