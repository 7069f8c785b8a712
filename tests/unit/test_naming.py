"""The shared AWS naming rules and the stack context: the region data matches botocore's, and
ARNs and service hosts come out right in every partition."""

from __future__ import annotations

import ast
import json

import botocore
import botocore.loaders
import pytest

from definitions import naming
from definitions.aws_context import AwsContext
from definitions.paths import ROOT


def botocore_regions() -> dict[str, set[str]]:
    partitions = botocore.loaders.Loader().load_data("endpoints")["partitions"]
    return {p["partition"]: set(p["regions"]) for p in partitions}


def test_region_data_matches_the_locked_botocore():
    """Compared with the botocore that Pipfile.lock pins, not whatever is newest: a botocore update
    that adds a region is a reason to refresh regions.toml in the same change as the lock."""
    locked = json.loads((ROOT / "Pipfile.lock").read_text())["develop"]["botocore"]["version"].removeprefix("==")
    assert botocore.__version__ == locked, f"botocore {botocore.__version__} is installed, Pipfile.lock pins {locked}: run make setup"
    shipped = botocore_regions()
    for name, partition in naming.partitions().items():
        assert set(partition.regions) == shipped[name], \
            f"{naming.REGIONS_FILE.name}: {name} differs from botocore {locked} (Pipfile.lock): refresh the region list"
        assert set(partition.enabled_by_default) <= set(partition.regions)
        assert partition.dns_suffix == next(p["dnsSuffix"] for p in botocore.loaders.Loader().load_data("endpoints")["partitions"]
                                            if p["partition"] == name)


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


def test_the_product_holds_at_most_three_literal_arns():
    """ARNs come from AwsContext.arn; outside it, the constructs, stacks and definitions format at
    most three by hand (the patterns that check ARNs given as input are not ARNs)."""
    sources = [path for layer in ("definitions", "modules", "rule_pack", "stacks") for path in (ROOT / layer).rglob("*.py")
               if path.name != "aws_context.py"]
    assert len(sources) > 20, "the walk found the sources"
    literal = []
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            first = node.values[0] if isinstance(node, ast.JoinedStr) and node.values else node
            text = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else ""
            if text.startswith("arn:") and not any(c in text for c in "()\\[]"):
                literal.append((path.name, node.lineno, text))
    assert len(literal) <= 3, literal
