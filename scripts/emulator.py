"""The moto server AWS emulator on loopback, and the override that points a stack copy at it.

The product's synthesized JSON is applied unchanged: a Terraform override file next to a copy of
the stack adds the emulator endpoints, fake credentials, path-style S3 and a local backend.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
# Services the stacks use; each is sent to the emulator.
SERVICES = ("athena", "cloudtrail", "cloudwatch", "glue", "iam", "kms", "logs", "s3", "sns", "sts")
OVERRIDE_FILE = "emulator_override.tf.json"

# Resources of the stacks that the emulator cannot create, each with the reason; they are left out
# of the emulator copy only (by `-target`ing everything else), never faked. Empty: moto 5.2
# accepts every resource type the stacks use.
UNSUPPORTED_BY_EMULATOR: dict[str, str] = {}


@dataclass(frozen=True)
class Emulator:
    endpoint: str
    account_id: str

    def boto3_client(self, service: str, region: str):  # noqa: ANN201 - boto3 is a test dependency
        import boto3  # noqa: PLC0415 - only tests and the demo need it

        return boto3.client(service, region_name=region, endpoint_url=self.endpoint, aws_access_key_id="test",
                            aws_secret_access_key="test")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _wait_until_up(endpoint: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with status {process.returncode}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                return
        time.sleep(0.2)
    raise RuntimeError(f"moto_server did not answer on {endpoint} within {timeout:.0f} s")


@contextlib.contextmanager
def running_emulator(account_id: str, log_path: Path | None = None) -> Iterator[Emulator]:
    """Start moto_server on a free loopback port as `account_id`; stop it on exit."""
    port = free_port()
    endpoint = f"http://{HOST}:{port}"
    moto = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    if moto is None:
        raise RuntimeError("moto_server is not installed (pipenv sync --dev installs it)")
    log = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    env = {**os.environ, "MOTO_ACCOUNT_ID": account_id}
    process = subprocess.Popen([moto, "-H", HOST, "-p", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_until_up(endpoint, process)
        yield Emulator(endpoint=endpoint, account_id=account_id)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        if log_path:
            log.close()


def write_override(stack_copy: Path, emulator: Emulator) -> Path:
    """Point the stack copy at the emulator: endpoints, fake credentials, local state."""
    override = {
        "terraform": {"backend": {"local": {"path": "terraform.tfstate"}}},
        "provider": {"aws": [{
            "access_key": "test", "secret_key": "test",
            "skip_credentials_validation": True, "skip_metadata_api_check": True,
            "s3_use_path_style": True,
            "endpoints": [{service: emulator.endpoint for service in SERVICES}],
        }]},
    }
    path = stack_copy / OVERRIDE_FILE
    path.write_text(json.dumps(override, indent=2, sort_keys=True))
    return path


def target_args(stack_json: dict) -> list[str]:
    """`-target` arguments for every resource the emulator supports, when some are unsupported."""
    if not UNSUPPORTED_BY_EMULATOR:
        return []
    return [f"-target={rtype}.{name}" for rtype, by_name in stack_json.get("resource", {}).items()
            for name in by_name if rtype not in UNSUPPORTED_BY_EMULATOR]


def empty_bucket(s3, bucket: str) -> int:  # noqa: ANN001 - a boto3 S3 client
    """Delete every object version and delete marker; return how many were deleted."""
    deleted = 0
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                  for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if doomed:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})
            deleted += len(doomed)
    return deleted
