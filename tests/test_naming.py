"""The shared AWS naming rules and the stack context: the region data matches botocore's, and
ARNs and service hosts come out right in every partition."""

from __future__ import annotations

import ast

import botocore.loaders
import pytest

from modules import naming
from modules.context import AwsContext


def botocore_regions() -> dict[str, set[str]]:
    partitions = botocore.loaders.Loader().load_data("endpoints")["partitions"]
    return {p["partition"]: set(p["regions"]) for p in partitions}


def test_region_data_matches_botocore():
    shipped = botocore_regions()
    for partition, data in naming.partitions().items():
        assert set(data["regions"]) == shipped[partition], f"{naming.REGIONS_FILE.name}: {partition} differs from botocore"
        assert set(data["enabled_by_default"]) <= set(data["regions"])
        assert data["dns_suffix"] == next(p["dnsSuffix"] for p in botocore.loaders.Loader().load_data("endpoints")["partitions"]
                                          if p["partition"] == partition)


@pytest.mark.parametrize(("region", "problem"), [
    ("eu-west-1", None), ("us-gov-west-1", None), ("cn-northwest-1", None),
    ("us-east-9", "which no partition has"), ("europe", "must be an AWS region name"), ("EU-WEST-1", "must be"),
])
def test_region_problem(region, problem):
    found = naming.region_problem(region)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize(("kind", "longest"), [("role", 64), ("user", 64), ("group", 128)])
def test_iam_name_lengths(kind, longest):
    check = naming.iam_name_problem(kind)
    assert check("a" * longest) is None
    assert "must be a valid IAM" in check("a" * (longest + 1))


CONTEXTS = [
    (AwsContext("111111111111", "eu-west-1"), "aws", "amazonaws.com"),
    (AwsContext("222222222222", "cn-north-1"), "aws-cn", "amazonaws.com.cn"),
    (AwsContext("333333333333", "us-gov-west-1"), "aws-us-gov", "amazonaws.com"),
]


@pytest.mark.parametrize(("context", "partition", "suffix"), CONTEXTS)
def test_arns_and_hosts_follow_the_partition(context, partition, suffix):
    account, region = context.account, context.region
    assert context.partition == partition
    assert context.root_arn == f"arn:{partition}:iam::{account}:root"
    assert context.arn("s3", "bucket-name") == f"arn:{partition}:s3:::bucket-name"
    assert context.arn("kms", "alias/k") == f"arn:{partition}:kms:{region}:{account}:alias/k"
    assert context.arn("cloudtrail", "trail/*", region="*") == f"arn:{partition}:cloudtrail:*:{account}:trail/*"
    assert context.arn("logs", "log-group:/x") == f"arn:{partition}:logs:{region}:{account}:log-group:/x"
    assert context.service_host("s3") == f"s3.{region}.{suffix}"
    assert context.in_region("eu-central-1" if partition == "aws" else region).account == account


def test_modules_hold_at_most_three_literal_arns():
    """ARNs come from AwsContext.arn; outside it, modules/ formats at most three by hand (the
    patterns that check ARNs given as input are not ARNs)."""
    from tests.support import ROOT  # noqa: PLC0415 - only this test reads the sources

    literal = []
    for path in (ROOT / "modules").glob("*.py"):
        if path.name == "context.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            first = node.values[0] if isinstance(node, ast.JoinedStr) and node.values else node
            text = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else ""
            if text.startswith("arn:") and not any(c in text for c in "()\\[]"):
                literal.append((path.name, node.lineno, text))
    assert len(literal) <= 3, literal
