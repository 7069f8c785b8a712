"""The moto server AWS emulator on loopback, and the override that points a stack copy at it.

The product's synthesized JSON is applied unchanged: a Terraform override file next to a copy of
the stack adds the emulator endpoints, fake credentials, path-style S3 and a local backend.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from definitions.paths import ROOT
from definitions.resource_types import emulator_support
from operations.terraform import copy_stack, terraform

HOST = "127.0.0.1"
# Services the stacks use; each is sent to the emulator.
SERVICES = ("accessanalyzer", "athena", "cloudtrail", "cloudwatch", "events", "glue", "iam", "kms", "logs", "s3", "sns", "sts")
OVERRIDE_FILE = "emulator_override.tf.json"

# Resource types the emulator cannot create (left out on the emulator only, by `-target`ing
# everything else, never faked), and those it creates but cannot delete (`destroy_stack` drops them
# from the copy's state first): each with its reason, from definitions/data/emulator_support.toml.
def _types_handled(support: str) -> dict[str, str]:
    return {rtype: entry.reason for rtype, entry in emulator_support().items() if entry.support == support}


UNSUPPORTED_BY_EMULATOR = _types_handled("unsupported")
UNDELETABLE_BY_EMULATOR = _types_handled("undeletable")


# The account an emulator of several accounts acts in for credentials that assumed no role.
DEFAULT_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Emulator:
    """A running moto server. `account_id` is the account it answers as; None when each request
    acts in the account of its credentials (several accounts, see `start_emulator`)."""

    endpoint: str
    account_id: str | None

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        """`base` with every AWS endpoint pointed at the emulator (AWS_ENDPOINT_URL, which the
        provider, the S3 backend and boto3 honour) and placeholder credentials: a service missing
        from an override's endpoint list still never leaves loopback."""
        keep = {k: v for k, v in base.items() if not k.startswith("AWS_")}
        return {**keep, "AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_EC2_METADATA_DISABLED": "true"}

    def boto3_client(self, service: str, region: str, *, account: str | None = None):
        """A client of the emulator; with `account` (an emulator of several accounts), as a session of
        that account's OrganizationAccountAccessRole, which moto lets anyone assume."""
        import boto3  # noqa: PLC0415 - only tests and the demo need it

        credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
        if account is not None:
            sts = boto3.client("sts", region_name=region, endpoint_url=self.endpoint, **credentials)
            assumed = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                                      RoleSessionName="emulator")["Credentials"]
            credentials = {"aws_access_key_id": assumed["AccessKeyId"], "aws_secret_access_key": assumed["SecretAccessKey"],
                           "aws_session_token": assumed["SessionToken"]}
        return boto3.client(service, region_name=region, endpoint_url=self.endpoint, **credentials)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _answers(endpoint: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
        return True
    return False


def _wait_until_up(endpoint: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with status {process.returncode}")
        if _answers(endpoint):
            return
        time.sleep(0.2)
    raise RuntimeError(f"moto_server did not answer on {endpoint} within {timeout:.0f} s")


def start_emulator(account_id: str | None, log_path: Path | None = None, *,
                   detached: bool = False) -> tuple[Emulator, subprocess.Popen]:
    """Start moto_server on a free loopback port, answering as `account_id`; with None, as the
    account of each request's credentials: a role assumed in an account (STS AssumeRole) acts in
    that account, as Terraform's `assume_role` providers do (moto's MOTO_ACCOUNT_ID would outrank
    the credentials, so it is left unset), and plain credentials act in DEFAULT_ACCOUNT. A detached
    emulator outlives this process (`make up` starts it, `make down` stops it)."""
    port = free_port()
    endpoint = f"http://{HOST}:{port}"
    # moto's server with one fix (operations/moto_server.py), run from the project root so that it imports.
    env = {k: v for k, v in os.environ.items() if k != "MOTO_ACCOUNT_ID"}
    if account_id is not None:
        env["MOTO_ACCOUNT_ID"] = account_id
    with open(log_path or os.devnull, "w") as log:  # the child keeps its own handle
        process = subprocess.Popen([sys.executable, "-m", "operations.moto_server", "-H", HOST, "-p", str(port)], cwd=ROOT,
                                   stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=detached)
    try:
        _wait_until_up(endpoint, process)
    except RuntimeError:
        stop_emulator(process.pid)
        raise
    return Emulator(endpoint=endpoint, account_id=account_id), process


def stop_emulator(pid: int) -> None:
    """Stop a moto_server by process id (terminate, then kill after 10 s); a gone one is fine."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG) != (0, 0):
                    return
            os.kill(pid, 0)  # ProcessLookupError once it is gone
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)


def emulator_answers(emulator: Emulator) -> bool:
    return _answers(emulator.endpoint)


@contextlib.contextmanager
def running_emulator(account_id: str | None, log_path: Path | None = None) -> Iterator[Emulator]:
    """Start moto_server on a free loopback port as `account_id` (None: every account, see
    `start_emulator`); stop it on exit."""
    emulator, process = start_emulator(account_id, log_path)
    try:
        yield emulator
    finally:
        stop_emulator(process.pid)


def write_override(stack_copy: Path, emulator: Emulator) -> Path:
    """Point the stack copy at the emulator: endpoints, fake credentials, local state, for each
    AWS provider configuration of the stack (an override names an aliased one by its alias); what
    the stack's own blocks say, `assume_role` included, stays."""
    stack = stack_json(stack_copy) if (stack_copy / "cdk.tf.json").is_file() else {}  # an HCL root: its one provider
    aliases = [configuration.get("alias") for configuration in stack.get("provider", {}).get("aws", [{}])]
    pointed = {"access_key": "test", "secret_key": "test", "skip_credentials_validation": True,
               "skip_metadata_api_check": True, "s3_use_path_style": True,
               "endpoints": [dict.fromkeys(SERVICES, emulator.endpoint)]}
    override = {
        "terraform": {"backend": {"local": {"path": "terraform.tfstate"}}},
        "provider": {"aws": [{**pointed, **({"alias": alias} if alias else {})} for alias in aliases]},
    }
    path = stack_copy / OVERRIDE_FILE
    path.write_text(json.dumps(override, indent=2, sort_keys=True))
    return path


def target_args(stack_json: dict) -> list[str]:
    """`-target` arguments for every resource the emulator supports, when the stack holds some it
    does not (none otherwise: a plain run)."""
    if not set(stack_json.get("resource", {})) & set(UNSUPPORTED_BY_EMULATOR):
        return []
    return [f"-target={rtype}.{name}" for rtype, by_name in stack_json.get("resource", {}).items()
            for name in by_name if rtype not in UNSUPPORTED_BY_EMULATOR]


def empty_bucket(s3, bucket: str) -> int:
    """Delete every object version and delete marker; return how many were deleted."""
    deleted = 0
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                  for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if doomed:
            errors = s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True}).get("Errors", [])
            if errors:  # DeleteObjects answers 200 and lists the objects it refused
                first = errors[0]
                raise RuntimeError(f"emptying {bucket}: {len(errors)} of {len(doomed)} deletions refused, "
                                   f"e.g. {first.get('Key')}: {first.get('Code')} {first.get('Message')}")
            deleted += len(doomed)
    return deleted


@contextlib.contextmanager
def bucket_policy_lifted(s3, bucket: str) -> Iterator[None]:
    """Take the bucket policy off for the duration of the block, then put the same text back.

    An emulator workaround, not a product setting: moto applies bucket policies to object requests
    but implements only the StringEquals condition operator and counts every other condition as
    met, so each conditional Deny of the stacks (DenyInsecureTransport on s3:*, the KMS denies, the
    data bucket's DenyObjectAccessToOthers) refuses every object request, even DeleteObjects.
    Policy semantics cannot be proven on the emulator; what runs inside the block can be
    (default encryption, versioning).
    """
    from botocore.exceptions import ClientError  # noqa: PLC0415 - only tests and the demo need it

    try:
        policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "NoSuchBucketPolicy":
            raise
        policy = None
    if policy is not None:
        s3.delete_bucket_policy(Bucket=bucket)
    try:
        yield
    finally:
        if policy is not None:
            s3.put_bucket_policy(Bucket=bucket, Policy=policy)


def empty_versioned_bucket(s3, bucket: str) -> int:
    """`empty_bucket` with the bucket policy lifted: moto would refuse DeleteObjects under the
    stacks' conditional denies (see `bucket_policy_lifted`)."""
    with bucket_policy_lifted(s3, bucket):
        return empty_bucket(s3, bucket)


def _construct_id(body: dict) -> str:
    """The id of the construct directly under the stack that made a resource ("" when the
    configuration was not synthesized by cdktf)."""
    path = body.get("//", {}).get("metadata", {}).get("path", "")
    return path.split("/")[1] if path.count("/") else ""


def stack_json(stack_copy: Path) -> dict:
    return json.loads((stack_copy / "cdk.tf.json").read_text())


def stack_outputs(stack_copy: Path, tf_env: dict[str, str]) -> dict:
    """The copy's Terraform outputs: {name: value}."""
    result = terraform(["output", "-json"], stack_copy, tf_env)
    return {name: output["value"] for name, output in json.loads(result.stdout).items()}


def deploy_stack(stack_dir: Path, stack_copy: Path, emulator: Emulator, tf_env: dict[str, str]) -> dict:
    """Copy a synthesized stack to `stack_copy`, point it at the emulator, `terraform init` and
    `apply` it; return its outputs. Raises with Terraform's output when a command fails."""
    copy_stack(stack_dir, stack_copy)
    write_override(stack_copy, emulator)
    tf_env = emulator.environment(tf_env)
    terraform(["init", "-input=false"], stack_copy, tf_env)
    terraform(["apply", "-auto-approve", "-input=false", *target_args(stack_json(stack_copy))], stack_copy, tf_env)
    return stack_outputs(stack_copy, tf_env)


def destroy_stack(stack_copy: Path, tf_env: dict[str, str], *, last: Sequence[str] = (),
                  before_last: Callable[[], object] | None = None) -> list[str]:
    """`terraform destroy` a deployed copy. Resources of UNDELETABLE_BY_EMULATOR are first dropped
    from its state (`terraform state rm`); returns their addresses. Versioned buckets must have
    been emptied (`empty_versioned_bucket`): the stacks never force-destroy a bucket.

    `last` names constructs (by id, directly under the stack) destroyed in a second run, after
    `before_last`: an access-log bucket receives the logs of the first run's bucket deletions, so
    it is emptied (by `before_last`) once the buckets that log into it are gone. A stack without
    any of them is destroyed in one run."""
    listed = terraform(["state", "list"], stack_copy, tf_env).stdout.split()
    dropped = [address for address in listed if address.split(".")[0] in UNDELETABLE_BY_EMULATOR]
    if dropped:
        terraform(["state", "rm", *dropped], stack_copy, tf_env)
    config = stack_json(stack_copy)
    resources = [(rtype, name, _construct_id(body)) for rtype, by_name in config.get("resource", {}).items()
                 for name, body in by_name.items() if rtype not in UNSUPPORTED_BY_EMULATOR]
    if any(construct in last for _, _, construct in resources):  # else one run destroys everything
        first = [f"-target={rtype}.{name}" for rtype, name, construct in resources if construct not in last]
        terraform(["destroy", "-auto-approve", "-input=false", *first], stack_copy, tf_env)
        if before_last:
            before_last()
    terraform(["destroy", "-auto-approve", "-input=false", *target_args(config)], stack_copy, tf_env)
    return dropped
