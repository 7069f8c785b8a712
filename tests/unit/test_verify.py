"""`make verify`'s digest check, against digest files signed the way AWS documents it (the data
signing string of the CloudTrail guide, SHA256withRSA, the key as PKCS#1 DER)."""

from __future__ import annotations

import contextlib
import datetime
import gzip
import hashlib
import json

import boto3
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from cli import verify as verify_cli
from definitions.audit_path_rules import load_audit_path_rules
from operations.verify import FAIL, NOT_APPLICABLE, NOT_ON_EMULATOR, PASS, CheckFailed, Result, Verifier, summary, verify_digest
from tests.support import ENVIRONMENTS

BUCKET, KEY = "acme-cloudtrail-logs", "AWSLogs/111111111111/CloudTrail-Digest/eu-west-1/2026/11/29/digest.json.gz"


def signed_digest(private_key: rsa.RSAPrivateKey, previous: str | None = "ab12") -> tuple[bytes, str]:
    """A gzipped digest file and its hex signature, computed independently of operations.verify."""
    digest = {"digestEndTime": "2026-11-29T10:00:00Z", "digestS3Bucket": BUCKET, "digestS3Object": KEY,
              "previousDigestSignature": previous, "digestPublicKeyFingerprint": "f" * 32, "logFiles": []}
    inflated = json.dumps(digest).encode()
    string_to_sign = "\n".join([digest["digestEndTime"], f"{BUCKET}/{KEY}", hashlib.sha256(inflated).hexdigest(),
                                previous if previous is not None else "null"]).encode()
    signature = private_key.sign(string_to_sign, padding.PKCS1v15(), hashes.SHA256())
    return gzip.compress(inflated), signature.hex()


@pytest.fixture(scope="module")
def key_pair() -> tuple[rsa.RSAPrivateKey, bytes]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return private, private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


@pytest.mark.parametrize("previous", ["ab12", None], ids=["chained", "first-digest"])
def test_a_correctly_signed_digest_verifies(key_pair, previous):
    private, public_der = key_pair
    body, signature = signed_digest(private, previous)
    assert verify_digest(body, signature, public_der)["digestS3Object"] == KEY


def test_a_tampered_digest_does_not_verify(key_pair):
    private, public_der = key_pair
    body, signature = signed_digest(private)
    tampered = gzip.compress(gzip.decompress(body).replace(b'"logFiles": []', b'"logFiles": [ ]'))
    with pytest.raises(CheckFailed, match="does not verify"):
        verify_digest(tampered, signature, public_der)


def test_a_digest_signed_by_another_key_does_not_verify(key_pair):
    _, public_der = key_pair
    body, signature = signed_digest(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with pytest.raises(CheckFailed):
        verify_digest(body, signature, public_der)


# --- the audit path's delivery, against EventBridge's metrics (moto, in process) ---------------


@contextlib.contextmanager
def in_process_account(env):
    """A boto3 session on moto in this process, for the checks that read what moto can hold."""
    from moto import mock_aws  # noqa: PLC0415 - only these tests use the in-process emulator

    with mock_aws():
        yield boto3.Session(region_name=env.region, aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def audit_path_account():
    env = ENVIRONMENTS[0]
    with in_process_account(env) as session:
        s3 = session.client("s3", region_name=env.region)
        s3.create_bucket(Bucket=env.trail_bucket, CreateBucketConfiguration={"LocationConstraint": env.region})
        s3.put_bucket_policy(Bucket=env.trail_bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": f"arn:aws:s3:::{env.trail_bucket}", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))
        yield env, session


def _rule_metric(session, env, metric: str, value: float) -> None:
    """A data point of the rule that watches the trail bucket's policy (EventBridge publishes per rule name)."""
    (rule,) = [r for r in load_audit_path_rules() if r.watches == "trail_bucket" and "PutBucketPolicy" in r.event_names]
    session.client("cloudwatch", region_name=env.region).put_metric_data(Namespace="AWS/Events", MetricData=[
        {"MetricName": metric, "Dimensions": [{"Name": "RuleName", "Value": f"{env.names.audit_path_rules}-{rule.name}"}],
         "Value": value, "Timestamp": datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=20)}])


def test_the_audit_path_check_fails_on_a_failed_invocation(audit_path_account):
    env, session = audit_path_account
    _rule_metric(session, env, "Invocations", 1)
    _rule_metric(session, env, "FailedInvocations", 1)
    with pytest.raises(CheckFailed, match="1 failed invocations since the test event: the topic's policy or its key's policy"):
        Verifier(env, session=session).audit_path_delivers(wait=datetime.timedelta(0), poll_seconds=0)


def test_the_audit_path_check_passes_on_a_clean_invocation_and_fails_on_none(audit_path_account):
    env, session = audit_path_account
    verifier = Verifier(env, session=session)
    with pytest.raises(CheckFailed, match="no invocation within"):
        verifier.audit_path_delivers(wait=datetime.timedelta(0), poll_seconds=0)
    _rule_metric(session, env, "Invocations", 1)
    assert verifier.audit_path_delivers(wait=datetime.timedelta(0), poll_seconds=0).endswith("1 invocations since the test event, none failed")


# --- the daily compaction, against the Glue catalog (moto, in process) -------------------------


@pytest.fixture
def compact_catalog():
    env = ENVIRONMENTS[0]
    with in_process_account(env) as session:
        glue = session.client("glue", region_name=env.region)
        glue.create_database(DatabaseInput={"Name": env.names.database})
        glue.create_table(DatabaseName=env.names.database, TableInput={
            "Name": "cloudtrail_compact", "PartitionKeys": [{"Name": "day", "Type": "string"}, {"Name": "category", "Type": "string"}]})
        yield env, session, glue


def test_the_compaction_check_fails_without_yesterdays_partition_and_passes_with_it(compact_catalog, monkeypatch):
    env, session, glue = compact_catalog
    verifier = Verifier(env, session=session)
    # The table was made before today's run: a day later, yesterday's partition must be there.
    monkeypatch.setattr("operations.verify._now", lambda: datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1))
    yesterday = (datetime.datetime.now(datetime.UTC)).date().isoformat()
    with pytest.raises(CheckFailed, match=f"no partition day={yesterday}/category=Management: see the runs of workgroup"):
        verifier.compaction_ran()
    glue.create_partition(DatabaseName=env.names.database, TableName="cloudtrail_compact",
                          PartitionInput={"Values": [yesterday, "Management"]})
    assert verifier.compaction_ran() == f"cloudtrail_compact holds day={yesterday}"


def test_the_compaction_check_waits_a_day_for_a_new_table(compact_catalog, monkeypatch):
    env, session, _ = compact_catalog
    monkeypatch.setattr("operations.verify._now", lambda: datetime.datetime.combine(
        datetime.datetime.now(datetime.UTC).date(), datetime.time(0, 0), datetime.UTC))
    assert Verifier(env, session=session).compaction_ran().startswith("n/a: cloudtrail_compact was created after today's run")


def test_the_summary_counts_each_outcome():
    results = [Result("a", PASS, ""), Result("b", PASS, ""), Result("c", FAIL, "x"), Result("d", NOT_ON_EMULATOR, "moto"),
               Result("e", NOT_APPLICABLE, "none")]
    assert summary(results) == "5 checks: 2 passed, 1 FAILED, 1 not checkable on the emulator, 1 not applicable"
    assert summary(results[:2]) == "2 checks: 2 passed"


def test_verify_without_credentials_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance metadata: loopback only
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    name = ENVIRONMENTS[0].name
    assert verify_cli.main([name]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"verify {name}: no AWS credentials") and f"make verify ENV={name} TARGET=emulator" in line
