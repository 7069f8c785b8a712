#!/usr/bin/env python3
"""`make demo`: the dev stack, end to end, on the moto emulator (loopback only, nothing leaves the
machine), the way `make up` deploys it.

Synthesizes dev into a temporary folder (cdktf.out/ is left alone), starts the emulator as dev's
account, applies the bootstrap and then the stack with its S3 backend (operations/deployment.py),
uploads an object without any encryption header, prints what the emulator reports, then empties
the buckets, destroys both stacks and stops the emulator. The emulator is stopped whatever
happens, Ctrl-C included.

Exit status 0 on success; otherwise 1 (130 on Ctrl-C) with one line on stderr saying which step
failed. The full output of a failed step is kept in the temporary folder, named on that line.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from definitions.paths import ROOT
from environments.config import Environment, load_environments
from operations import emulator as moto
from operations.deployment import LocalDeployment
from operations.synth import synthesize

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ENV_NAME = "dev"
STEPS = 6
SAMPLE_KEY = "demo/sample.csv"
SAMPLE_BODY = b"id,value\n1,uploaded without any encryption header\n"

T = TypeVar("T")


class StepFailed(Exception):
    """A step failed; the message is one line, the details are in `log`."""

    def __init__(self, step: str, reason: str, log: Path) -> None:
        super().__init__(f"{step} failed: {reason} (full output: {log})")


def step(number: int, title: str, action: Callable[[], T], log: Path) -> T:
    """Run one step between a progress line and its elapsed time."""
    print(f"[{number}/{STEPS}] {title}…", end="", flush=True)
    started = time.monotonic()
    try:
        result = action()
    except Exception as err:
        print(" failed", flush=True)
        log.write_text(f"{title}\n\n{err}\n")
        first_line = next((line for line in str(err).splitlines() if line.strip()), type(err).__name__)
        raise StepFailed(f"step {number}/{STEPS} ({title})", first_line, log) from err
    print(f" done in {time.monotonic() - started:.1f} s", flush=True)
    return result


def upload_sample(emulator: moto.Emulator, env: Environment) -> dict:
    """Put an object without encryption headers; return what S3 then reports for it.

    The bucket policy is lifted around the request: moto counts every policy condition but
    StringEquals as met, so the policy's conditional denies would refuse any object request
    (see `moto.bucket_policy_lifted`).
    """
    s3 = emulator.boto3_client("s3", env.region)
    with moto.bucket_policy_lifted(s3, env.data_bucket):
        s3.put_object(Bucket=env.data_bucket, Key=SAMPLE_KEY, Body=SAMPLE_BODY)
        return s3.head_object(Bucket=env.data_bucket, Key=SAMPLE_KEY)


def evidence(emulator: moto.Emulator, env: Environment, outputs: dict, head: dict) -> list[tuple[str, str, str]]:
    """(area, setting, value) rows, every value read back from the emulator."""
    def client(service: str):
        return emulator.boto3_client(service, env.region)

    def yes(flag: object) -> str:
        return "yes" if flag is True else f"NO ({flag!r})"

    kms = client("kms")
    key_id = head.get("SSEKMSKeyId", "")
    target = kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] if key_id else None
    aliases = sorted(a["AliasName"] for a in kms.list_aliases()["Aliases"] if target and a.get("TargetKeyId") == target)
    s3 = client("s3")
    versions = len(s3.list_object_versions(Bucket=env.data_bucket, Prefix=SAMPLE_KEY).get("Versions", []))

    cloudtrail = client("cloudtrail")
    trail = cloudtrail.get_trail(Name=env.names.trail)["Trail"]
    logging = cloudtrail.get_trail_status(Name=env.names.trail)["IsLogging"]
    workgroup = client("athena").get_work_group(WorkGroup=outputs["workgroup"])["WorkGroup"]["Configuration"]
    results = workgroup["ResultConfiguration"]
    alarms = [a for page in client("cloudwatch").get_paginator("describe_alarms").paginate() for a in page["MetricAlarms"]]
    topics = sorted({action for a in alarms for action in a["AlarmActions"]})
    topic_key = client("sns").get_topic_attributes(TopicArn=outputs["alarm_topic_arn"])["Attributes"].get("KmsMasterKeyId")
    topic_key_aliases = sorted(a["AliasName"] for a in kms.list_aliases()["Aliases"]
                               if topic_key and a.get("TargetKeyId") == topic_key.rsplit("/", 1)[-1])

    return [
        ("object", "location", f"s3://{env.data_bucket}/{SAMPLE_KEY} (sent without encryption headers)"),
        ("object", "server-side encryption", head.get("ServerSideEncryption", "none")),
        ("object", "KMS key", f"{', '.join(aliases) or 'no alias'} ({key_id or 'none'})"),
        ("object", "S3 Bucket Key", yes(head.get("BucketKeyEnabled"))),
        ("versioning", "data bucket", s3.get_bucket_versioning(Bucket=env.data_bucket).get("Status", "off")),
        ("versioning", "trail bucket", s3.get_bucket_versioning(Bucket=env.trail_bucket).get("Status", "off")),
        ("versioning", "sample object versions", str(versions)),
        ("trail", "name", trail["Name"]),
        ("trail", "multi-region", yes(trail.get("IsMultiRegionTrail"))),
        ("trail", "log file validation", yes(trail.get("LogFileValidationEnabled"))),
        ("trail", "logging", yes(logging)),
        ("workgroup", "name", outputs["workgroup"]),
        ("workgroup", "configuration enforced", yes(workgroup.get("EnforceWorkGroupConfiguration"))),
        ("workgroup", "result encryption", results.get("EncryptionConfiguration", {}).get("EncryptionOption", "none")),
        ("workgroup", "output location", results.get("OutputLocation", "none")),
        ("alarms", "count", str(len(alarms))),
        ("alarms", "notify", ", ".join(topics) or "nothing"),
        ("alarms", "topic encryption", f"{', '.join(topic_key_aliases) or 'no alias'} ({topic_key or 'none'})"),
    ]


def table(rows: list[tuple[str, str, str]]) -> str:
    header = ("AREA", "SETTING", "VALUE")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(2)]
    lines, previous = [], None
    for area, setting, value in [header, *rows]:
        shown = area if area != previous else ""
        lines.append(f"  {shown:<{widths[0]}}  {setting:<{widths[1]}}  {value}")
        previous = area
    lines.insert(1, "  " + "-" * min(100, widths[0] + widths[1] + 4 + max(len(r[2]) for r in [header, *rows])))
    return "\n".join(lines)


def run(work: Path) -> None:
    env = load_environments(ROOT / "environments", [ENV_NAME])[0]
    stacks_dir = step(1, f"synthesizing {ENV_NAME}", lambda: synthesize(ENV_NAME, work / "cdktf.out"), work / "synth.log")
    deployment = LocalDeployment(env, stacks_dir=stacks_dir, state_dir=work / "local" / ENV_NAME)
    try:
        emulator, _ = step(2, f"starting the emulator as account {env.account_id}", deployment.start, work / "emulator.log")
        outputs = step(3, f"deploying {ENV_NAME}-bootstrap, then {ENV_NAME} with its S3 backend, to {emulator.endpoint} "
                          "(about two minutes)", deployment.up, work / "deploy.log")
        head = step(4, "uploading a sample object without encryption headers",
                    lambda: upload_sample(emulator, env), work / "upload.log")
        rows = evidence(emulator, env, outputs, head)
        print(f"\nWhat the emulator reports for {ENV_NAME} (account {env.account_id}, {env.region}):\n")
        print(table(rows), end="\n\n", flush=True)
        step(5, "emptying the buckets and destroying both stacks", deployment.destroy, work / "destroy.log")
    finally:
        step(6, "stopping the emulator", deployment.discard, work / "stop.log")


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="demo-"))
    keep = False
    try:
        run(work)
        print("demo complete: deployed, verified and destroyed on the emulator")
        return 0
    except KeyboardInterrupt:
        print("\ndemo: interrupted; the emulator was stopped", file=sys.stderr)
        return 130
    except StepFailed as err:
        keep = True
        print(f"demo: {err}", file=sys.stderr)
        return 1
    except Exception as err:
        first_line = next((line for line in str(err).splitlines() if line.strip()), type(err).__name__)
        print(f"demo: failed: {type(err).__name__}: {first_line}", file=sys.stderr)
        return 1
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
