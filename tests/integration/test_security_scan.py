"""The checkov gate: clean on the real stacks, failing on a weakened one, on a stale allowlist
entry, and on a scan that looked at nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from operations import checkov_gate as security_scan
from tests.support import ALL_STACKS, ENV_NAMES


def test_every_stack_is_scanned_and_clean(synth_out: Path, capsys):
    stacks, scanned, failed = security_scan.run_checkov(synth_out / "stacks")
    assert stacks == sorted(ALL_STACKS)
    for stack in stacks:
        types = {resource.split(".")[0] for resource in scanned[stack]}
        expected = {"aws_s3_bucket", "aws_kms_key"} | (set() if stack.endswith("-bootstrap") else {"aws_cloudtrail"})
        assert expected <= types, stack
        assert len(scanned[stack]) >= 10, stack
    problems, accepted = security_scan.evaluate(stacks, scanned, failed, security_scan.load_allowlist())
    assert problems == []
    assert accepted == len(failed)
    assert security_scan.main([str(synth_out / "stacks")]) == 0
    printed = capsys.readouterr().out
    assert all(f"{stack} " in printed for stack in ALL_STACKS), printed


def test_a_public_bucket_fails_the_scan(synth_out: Path, tmp_path: Path):
    stacks = tmp_path / "stacks"
    name = ENV_NAMES[0]
    shutil.copytree(synth_out / "stacks" / name, stacks / name)
    path = stacks / name / "cdk.tf.json"
    config = json.loads(path.read_text())
    for block in config["resource"]["aws_s3_bucket_public_access_block"].values():
        block["block_public_acls"] = False
    path.write_text(json.dumps(config))
    stacks_found, scanned, failed = security_scan.run_checkov(stacks)
    problems, _ = security_scan.evaluate(stacks_found, scanned, failed, security_scan.load_allowlist())
    assert any("CKV_AWS_53" in problem and "public-access-block" in problem for problem in problems), problems
    assert security_scan.main([str(stacks)]) == 1


def test_a_scan_of_nothing_fails(tmp_path: Path):
    (tmp_path / "stacks").mkdir()
    assert security_scan.main([str(tmp_path / "stacks")]) == 1
    stacks, scanned, failed = security_scan.run_checkov(tmp_path / "stacks")
    problems, _ = security_scan.evaluate(stacks, scanned, failed, [])
    assert problems == ["no stacks to scan"]


def test_a_stack_without_scannable_resources_fails():
    problems, _ = security_scan.evaluate(["dev"], {"dev": {"aws_sns_topic.x"}}, [], [])
    assert problems == ["dev: checkov scanned 1 resources and none of type aws_s3_bucket, aws_kms_key"]


def test_a_stale_allowlist_entry_fails():
    finding = security_scan.Finding("dev", "CKV_AWS_18", "aws_s3_bucket.data-bucket_1", "logging")
    allowlist = [{"check": "CKV_AWS_18", "resources": ["aws_s3_bucket.*"], "reason": "r"},
                 {"check": "CKV_AWS_999", "resources": ["aws_s3_bucket.*"], "reason": "r"}]
    problems, accepted = security_scan.evaluate(["dev"], {"dev": {"aws_s3_bucket.a", "aws_kms_key.b"}}, [finding], allowlist)
    assert accepted == 1
    assert problems == ["allowlist: CKV_AWS_999 ['aws_s3_bucket.*'] matches no finding (stale)"]


def test_every_allowlist_entry_has_a_reason():
    for entry in security_scan.load_allowlist():
        assert len(entry["reason"]) > 20 and entry["resources"]


def test_no_allowlist_entry_is_a_catch_all():
    """Each pattern names one construct: only the logical id's hash is left open."""
    for entry in security_scan.load_allowlist():
        for pattern in entry["resources"]:
            kind, _, logical_id = pattern.partition(".")
            assert kind and logical_id.endswith("_*") and "*" not in logical_id[:-2], (entry["check"], pattern)


def test_the_key_policy_entries_hold_only_while_root_is_the_only_kms_star_statement(synth_out: Path):
    """CKV_AWS_109/111/356 are accepted for the key policies because their only kms:* statement is
    AWS's default account-root statement: a second one must be scanned again."""
    for stack in ALL_STACKS:
        config = json.loads((synth_out / "stacks" / stack / "cdk.tf.json").read_text())
        for name, document in config["data"]["aws_iam_policy_document"].items():
            if "-key_policy_document_" not in name:
                continue
            broad = [s["sid"] for s in document["statement"] if s["effect"] == "Allow" and "kms:*" in s.get("actions", [])]
            assert broad == ["EnableRootAccountAndIamPolicies"], (stack, name, broad)
