"""`make verify`'s digest check, against digest files signed the way AWS documents it (the data
signing string of the CloudTrail guide, SHA256withRSA, the key as PKCS#1 DER)."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from operations.verify import CheckFailed, verify_digest

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
