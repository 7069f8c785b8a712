"""`make diff`'s comparison on real synthesized stacks changed the ways a pull request changes
them: a construct-id rename, a forced replacement, protections turned off, policies widened. And
`make diff` itself, end to end, in a clone of this repository."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from definitions.paths import ROOT, SOURCE
from operations.review import fitted, markdown
from operations.stack_diff import diff, load_stacks
from tests.support import first_environment

ENV = first_environment(production=False)


@pytest.fixture(scope="module")
def base(synth_out: Path) -> dict[str, dict]:
    return load_stacks(synth_out / "stacks")


def one_name(stack: dict, rtype: str, prefix: str) -> str:
    (name,) = [n for n in stack["resource"][rtype] if n.rsplit("_", 1)[0] == prefix]
    return name


def changed(base: dict[str, dict], mutate) -> tuple[str, list, list]:
    head = copy.deepcopy(base)
    mutate(head[ENV.name])
    stacks, resources, policies = diff(base, head)
    return markdown("test", stacks, resources, policies), resources, policies


def dangerous_section(report: str) -> str:
    return report.split("### Dangerous changes", 1)[1].split("\n### ", 1)[0] if "### Dangerous changes" in report else ""


def test_no_change_names_every_stack_once(base):
    report, resources, policies = changed(base, lambda stack: None)
    assert not resources and not policies and "Dangerous" not in report
    assert report.count("No changes:") == 1 and all(f"`{name}`" in report for name in base)


def test_a_construct_id_rename_of_a_bucket_is_dangerous_and_says_how_to_keep_it(base):
    def rename(stack):
        buckets = stack["resource"]["aws_s3_bucket"]
        old = one_name(stack, "aws_s3_bucket", "data-bucket")
        buckets["primary-bucket_0000AAAA"] = buckets.pop(old)
    report, resources, _ = changed(base, rename)
    old = one_name(base[ENV.name], "aws_s3_bucket", "data-bucket")
    section = dangerous_section(report)
    assert f"`aws_s3_bucket.{old}`: renamed to `aws_s3_bucket.primary-bucket_0000AAAA`" in section
    assert f"moved {{\n  from = aws_s3_bucket.{old}\n  to   = aws_s3_bucket.primary-bucket_0000AAAA\n}}" in report
    assert [r.kind for r in resources] == ["renamed"]


def test_a_new_company_prefix_replaces_every_bucket(base):
    def rename_buckets(stack):
        for body in stack["resource"]["aws_s3_bucket"].values():
            body["bucket"] = body["bucket"].replace(ENV.company_prefix, "other")
    report, resources, _ = changed(base, rename_buckets)
    replaced = sorted(r.address for r in resources if r.replaced and r.type == "aws_s3_bucket")
    assert len(replaced) == len(base[ENV.name]["resource"]["aws_s3_bucket"]) > 1
    # One cause, said once: every bucket on one line, with what happens to what they hold.
    (line,) = [line for line in dangerous_section(report).splitlines() if "replaced (forced by bucket)" in line]
    assert line.startswith(f"- **{ENV.name}** {len(replaced)} resources, " + ", ".join(f"`{a}`" for a in replaced))
    assert "no bucket is force-destroyed" in line and "they do not move to the new bucket" in line


def test_an_in_place_change_is_not_dangerous(base):
    def retention(stack):
        for body in stack["resource"]["aws_cloudwatch_log_group"].values():
            body["retention_in_days"] = 731
    report, resources, _ = changed(base, retention)
    assert [(r.kind, r.attributes) for r in resources] == [("changed", ("retention_in_days",))]
    assert "Dangerous" not in report


@pytest.mark.parametrize(("rtype", "path", "value", "message"), [
    ("aws_kms_key", ["enable_key_rotation"], False, "turns off key rotation"),
    ("aws_s3_bucket_public_access_block", ["block_public_policy"], False, "turns off block_public_policy"),
    ("aws_s3_bucket_versioning", ["versioning_configuration", "status"], "Suspended", "turns off versioning"),
    ("aws_cloudtrail", ["enable_log_file_validation"], False, "turns off log file validation"),
    ("aws_s3_bucket_server_side_encryption_configuration", ["rule", 0, "apply_server_side_encryption_by_default", "sse_algorithm"],
     "AES256", "turns off SSE-KMS default encryption"),
])
def test_a_protection_turned_off_is_dangerous(base, rtype, path, value, message):
    def turn_off(stack):
        body = next(b for n, b in stack["resource"][rtype].items() if not n.startswith("access-log-bucket"))  # not SSE-S3 by design
        for part in path[:-1]:
            body = body[part]
        body[path[-1]] = value
    report, _, _ = changed(base, turn_off)
    assert message in dangerous_section(report), report


def test_removing_a_protective_resource_is_dangerous(base):
    report, _, _ = changed(base, lambda stack: stack["resource"]["aws_s3_bucket_public_access_block"].popitem())
    assert "removed: turns off the public access block" in dangerous_section(report)


def test_prevent_destroy_removed_is_dangerous(synth_out: Path):
    prod = first_environment(production=True)
    stacks = load_stacks(synth_out / "stacks")
    head = copy.deepcopy(stacks)
    for body in head[prod.name]["resource"]["aws_kms_key"].values():
        body.pop("lifecycle")
    _, resources, policies = diff(stacks, head)
    assert "turns off prevent_destroy" in dangerous_section(markdown("t", sorted(stacks), resources, policies))


def _statements(stack: dict, prefix: str) -> list:
    (document,) = [d for n, d in stack["data"]["aws_iam_policy_document"].items() if n.rsplit("_", 1)[0] == prefix]
    return document["statement"]


def test_a_policy_widened_is_dangerous_statement_by_statement(base):
    def widen(stack):
        _statements(stack, "access_application-role_permissions_document").append(
            {"sid": "Everything", "effect": "Allow", "actions": ["s3:*"], "resources": ["*"]})
        trust = _statements(stack, "access_application-role_trust_document")
        trust[0]["principals"][0]["identifiers"].append("ecs-tasks.amazonaws.com")
        bucket_policy = _statements(stack, "data-bucket_policy_document")
        bucket_policy[:] = [s for s in bucket_policy if s["sid"] != "DenyInsecureTransport"]
    report, _, policies = changed(base, widen)
    section = dangerous_section(report)
    assert "statement Everything now allows s3:*" in section
    assert "trust widened: statement TrustServices now trusts Service ecs-tasks.amazonaws.com" in section
    assert "Deny statement DenyInsecureTransport removed" in section
    assert "- statement Everything added (Allow)" in report and "- statement DenyInsecureTransport removed (Deny)" in report


def test_make_diff_against_a_commit_in_a_clone(tmp_path: Path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True)
    for item in SOURCE:  # the working tree as it is now
        source, target = ROOT / item, clone / item
        if source.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    subprocess.run(["git", "add", "-A"], cwd=clone, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "--allow-empty", "-m", "base"],
                   cwd=clone, check=True)
    stacks = clone / "stacks" / "environment_stacks.py"
    stacks.write_text(stacks.read_text().replace('"results-bucket", name=env.results_bucket',
                                                 '"query-results-bucket", name=env.results_bucket'))
    env = {k: v for k, v in os.environ.items() if k not in ("CDKTF_OUTDIR", "PLATFORM_ENVIRONMENTS")}
    result = subprocess.run([sys.executable, "-m", "cli.diff", "HEAD"], cwd=clone, env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    report = result.stdout
    assert report.startswith("## Generated Terraform: `HEAD`")
    section = dangerous_section(report)
    assert section.count("renamed to `aws_s3_bucket.query-results-bucket_") == len(json.loads(
        subprocess.run([sys.executable, "-m", "cli.environments"], cwd=clone, capture_output=True, text=True).stdout))
    assert "No changes:" in report and "-bootstrap`" in report.split("No changes:", 1)[1]


REPORT_PROBE = """
import copy, json, sys
from operations.review import fitted, markdown
from operations.stack_diff import diff, load_stacks
base = load_stacks(__import__('pathlib').Path(sys.argv[1]))
head = copy.deepcopy(base)
stack = head[sys.argv[2]]
for body in stack['resource']['aws_s3_bucket'].values():
    body['bucket'] = body['bucket'].replace(sys.argv[3], 'other')
for document in stack['data']['aws_iam_policy_document'].values():
    for statement in document.get('statement', []):
        statement['actions'] = [*statement.get('actions', []), 'sns:Subscribe', 's3:*']
print(markdown('test', *diff(base, head)))
"""


def test_the_report_is_the_same_whatever_the_hash_seed(synth_out: Path):
    """Python orders sets by a per-process hash seed: a report updated in place on every push must not reshuffle."""
    reports = []
    for seed in ("1", "2", "3"):
        result = subprocess.run([sys.executable, "-c", REPORT_PROBE, str(synth_out / "stacks"), ENV.name, ENV.company_prefix],
                                cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True, check=True)
        reports.append(result.stdout)
    assert "Dangerous" in reports[0] and reports[0] == reports[1] == reports[2]


def test_a_moved_state_backend_is_the_first_danger(base):
    """A new company_prefix moves the state bucket too: said first, with the old and new bucket and how to migrate."""
    old_bucket = base[ENV.name]["terraform"]["backend"]["s3"]["bucket"]

    def rename_everything(stack):
        stack["terraform"]["backend"]["s3"]["bucket"] = old_bucket.replace(ENV.company_prefix, "other")
        for body in stack["resource"]["aws_s3_bucket"].values():
            body["bucket"] = body["bucket"].replace(ENV.company_prefix, "other")
    report, _, _ = changed(base, rename_everything)
    first = dangerous_section(report).strip().splitlines()[0]
    new_bucket = old_bucket.replace(ENV.company_prefix, "other")
    assert first.startswith(f"- **{ENV.name}** `terraform`: state backend moved (backend.s3.bucket: "
                            f"\"{old_bucket}\" → \"{new_bucket}\")"), first
    assert "terraform init -migrate-state" in first


def test_changed_values_and_statements_are_shown(base):
    """A reviewer sees the old and new value of a changed attribute, and what a changed statement
    gains and loses, not only which field changed."""
    def change(stack):
        group = next(body for body in stack["resource"]["aws_cloudwatch_log_group"].values())
        group["retention_in_days"] = 30
        statement = _statements(stack, "access_application-role_permissions_document")[0]
        statement["actions"] = [*statement["actions"][1:], "sns:Subscribe"]
    report, _, _ = changed(base, change)
    group = next(body for body in base[ENV.name]["resource"]["aws_cloudwatch_log_group"].values())
    assert f"`retention_in_days`: `{group['retention_in_days']}` → `30`" in report
    first = _statements(base[ENV.name], "access_application-role_permissions_document")[0]
    assert f"statement {first['sid']} changed: Action +sns:Subscribe −{first['actions'][0]}" in report


def test_a_long_value_is_shortened_in_the_middle():
    from operations.review import shortened  # noqa: PLC0415

    name = "acme-development-encrypted-data-of-the-payments-team-eu-west-1"
    short = shortened(name)
    assert len(short) < len(name) and short.startswith('"acme-dev') and short.endswith('west-1"') and "…" in short
    assert shortened("acme-dev") == '"acme-dev"'


def test_each_changed_stack_leads_with_its_counts(base):
    def change(stack):
        for body in stack["resource"]["aws_s3_bucket"].values():
            body["bucket"] = body["bucket"].replace(ENV.company_prefix, "other")
        group = next(body for body in stack["resource"]["aws_cloudwatch_log_group"].values())
        group["retention_in_days"] = 30
    report, resources, _ = changed(base, change)
    buckets = len(base[ENV.name]["resource"]["aws_s3_bucket"])
    section = report.split(f"### {ENV.name}\n\n", 1)[1]
    assert section.startswith(f"1 changed · {buckets} replaced"), section[:200]


def test_a_report_past_the_comment_limit_keeps_the_dangers_and_the_counts_whole(base):
    def rename_buckets(stack):
        for body in stack["resource"]["aws_s3_bucket"].values():
            body["bucket"] = body["bucket"].replace(ENV.company_prefix, "other")
        for body in stack["resource"].get("aws_cloudwatch_metric_alarm", {}).values():
            body["alarm_description"] = "changed " * 40
    report, _, _ = changed(base, rename_buckets)
    pointer = "_The whole report is in the run's summary._"
    assert fitted(report, len(report), pointer) == report
    short = fitted(report, len(report) // 2, pointer)
    assert len(short) <= len(report) // 2 and short.rstrip().endswith(pointer)
    assert dangerous_section(report) == dangerous_section(short)
    counts = report.split(f"### {ENV.name}\n\n", 1)[1].splitlines()[0]
    assert f"### {ENV.name}\n\n{counts}\n" in short and "| change | resource |" not in short


def test_a_confused_deputy_check_removed_is_dangerous(base):
    def unscope(stack):
        for statement in _statements(stack, "trail-bucket_policy_document"):
            statement["condition"] = [c for c in statement.get("condition", []) if c["variable"] != "aws:SourceArn"]
    report, _, _ = changed(base, unscope)
    section = dangerous_section(report)
    assert "statement AllowCloudTrailWrite no longer checks aws:SourceArn" in section, report
    assert "statement AllowCloudTrailAclCheck no longer checks aws:SourceArn" in section


def test_a_value_dropped_from_a_partition_projection_is_dangerous(base):
    table = one_name(base[ENV.name], "aws_glue_catalog_table", "analytics_cloudtrail-table")
    projected = base[ENV.name]["resource"]["aws_glue_catalog_table"][table]["parameters"]["projection.region.values"].split(",")
    dropped = projected[:2]

    def narrow(stack):
        parameters = stack["resource"]["aws_glue_catalog_table"][table]["parameters"]
        parameters["projection.region.values"] = ",".join(projected[2:])
    report, _, _ = changed(base, narrow)
    assert (f"`aws_glue_catalog_table.{table}`: drops from its partition projection region {', '.join(sorted(dropped))}: "
            "their logs vanish from every query on the table") in dangerous_section(report), report


def test_an_organization_trail_turned_off_is_dangerous(base):
    before = copy.deepcopy(base)
    for body in before[ENV.name]["resource"]["aws_cloudtrail"].values():
        body["is_organization_trail"] = True
    stacks, resources, policies = diff(before, base)
    assert "turns off recording every account of the organization (is_organization_trail: null)" in \
        dangerous_section(markdown("t", stacks, resources, policies))
