"""A realistic corpus of CloudTrail log files for one environment, for proving the Athena queries
without an AWS account (tests/test_analytics.py runs every named query over it).

The files are laid out as CloudTrail delivers them (AWS CloudTrail guide, "Finding your CloudTrail
log files"): `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<random>.json.gz`,
each a gzipped `{"Records": [...]}`, a file per region about every five minutes, named and
foldered by the UTC time of its delivery, minutes after the calls it holds: a call just before
midnight lands in the next day's folder. Records carry the fields AWS documents for each kind of
event, with the case AWS writes them in (`ARN` in resources, `MFAUsed`, ...).

What happens, over `days` days up to `today` (only its first hours):
- home region (the data bucket's and the data key's): the application role reading and writing
  objects day and night (a nightly export at 23:58), analysts through the role, denied object
  reads, a cross-account probe; the key used through S3 by those principals, by CloudTrail and by
  CloudWatch Logs (AWS services acting for the account), and denied direct use; the role assumed
  by EC2, by analysts with MFA and, denied, without; the daily Terraform plan reading everything;
- the global-service region (IAM, console sign-in): sign-ins with and without MFA, failed ones,
  federated ones, root's; IAM reads;
- planted investigations (`Scenario`): the history of one object (read, written, deleted, a
  denied read) among keys and a bucket that look alike; bucket policy, encryption and public
  access block changes on this environment's buckets and on a look-alike bucket; key management
  (key policy, rotation, aliases, imported key material, disable and enable, deletion cancelled);
  the trail stopped, restarted, updated, its selectors changed, a denied deletion, another trail
  stopped; root activity, with and without MFA;
- on the last day, leaked credentials: calls from a new address, in a region never used before,
  and in a region outside the table's projection (invisible to every query).

Deterministic: the same spec writes byte-identical files (seeded random, gzip without mtime).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import json
import random
import string
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from environments.config import Environment
from modules import naming

UTC = dt.UTC
DELIVERY_INTERVAL = dt.timedelta(minutes=5)
# Where AWS records the calls to global services (IAM, console sign-in) of each partition.
GLOBAL_SERVICE_REGION = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}
OTHER_ACCOUNT = "444455556666"
TODAY_ENDS_AT = dt.time(15, 0)  # "today" has logs up to the afternoon

# Source addresses (documentation ranges, RFC 5737) and user agents of the actors.
NAT_GATEWAY = "34.250.17.9"  # the application's instances, through the VPC's NAT gateway
OFFICE = "198.51.100.23"
HOME_OFFICE = "198.51.100.87"
CI_RUNNERS = ("20.61.41.130", "20.61.41.131", "20.61.41.132")
LEAKED_KEY_ADDRESS = "203.0.113.77"
SDK_AGENT = "aws-sdk-java/2.25.60 Linux/6.1.109-118.189.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/17.0.12 exec-env/AWS_ECS_EC2"
CLI_AGENT = "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/macos#23.5.0 md/arch#arm64 lang/python#3.11.9 md/prompt#off"
TERRAFORM_AGENT = "APN/1.0 HashiCorp/1.0 Terraform/1.11.4 (+https://www.terraform.io) terraform-provider-aws/5.100.0"
BROWSER_AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
CONSOLE_AGENT = "AWS Internal"
BOTO_AGENT = "Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#5.15.0 md/arch#x86_64 lang/python#3.12.4"

TLS_SUITE = ("TLSv1.3", "TLS_AES_128_GCM_SHA256")


@dataclasses.dataclass(frozen=True)
class Scenario:
    """The planted facts an investigator would look for."""

    investigated_key: str = "reports/2025/q1/revenue.parquet"
    # Look-alikes that must not be taken for the investigated object.
    similar_keys: tuple[str, ...] = ("reports/2025/q1/revenue.parquet.bak", "reports/2025/q1/Revenue.parquet")
    other_trail: str = "org-legacy-trail"
    deployer_role: str = "PlatformAdmin"
    ci_role: str = "terraform-apply"
    sso_role: str = "AWSReservedSSO_ReadOnly_5b2e1f3c9d7a4e60"


@dataclasses.dataclass(frozen=True)
class CorpusSpec:
    """What the corpus is about: the environment's names, and the regions it spreads over."""

    account_id: str
    partition: str
    home_region: str
    global_region: str
    new_region: str
    unprojected_region: str
    data_bucket: str
    results_bucket: str
    trail_bucket: str
    trail_name: str
    data_key_arn: str
    application_role: str
    today: dt.date
    days: int = 35
    seed: int = 20250314
    scenario: Scenario = Scenario()

    @property
    def look_alike_bucket(self) -> str:
        """Another bucket of the account whose name ends like the data bucket's."""
        return self.data_bucket.replace("-encrypted-data", "-archive-encrypted-data")

    def arn(self, service: str, resource: str, region: str = "", account: str | None = None) -> str:
        return f"arn:{self.partition}:{service}:{region}:{self.account_id if account is None else account}:{resource}"

    @property
    def trail_arn(self) -> str:
        return self.arn("cloudtrail", f"trail/{self.trail_name}", self.home_region)

    @property
    def role_arn(self) -> str:
        return self.arn("iam", f"role/{self.application_role}")


def spec_for(env: Environment, data_key_arn: str, today: dt.date, **overrides: Any) -> CorpusSpec:
    """The corpus of `env`'s names, with the data key at `data_key_arn`; `today` must lie inside
    the table's date projection. Regions: the environment's, the one of the global services, a
    projected region no one used, and one outside the projection."""
    projected, home = list(env.athena.projected_regions), env.region
    global_region = GLOBAL_SERVICE_REGION[env.partition]
    if global_region == home:
        global_region = next(r for r in projected if r != home)
    unused = [r for r in projected if r not in (home, global_region)]
    unprojected = [r for r in naming.partitions()[env.partition]["regions"] if r not in projected]
    if not unused or not unprojected:
        raise ValueError(f"{env.name}: the corpus needs a projected region besides {home} and {global_region}, "
                         f"and a region outside athena.projected_regions")
    return CorpusSpec(
        account_id=env.account_id, partition=env.partition, home_region=home, global_region=global_region,
        new_region=unused[-1], unprojected_region=unprojected[0], data_bucket=env.data_bucket,
        results_bucket=env.results_bucket, trail_bucket=env.trail_bucket, trail_name=env.names.trail,
        data_key_arn=data_key_arn, application_role=env.names.role, today=today, **overrides)


@dataclasses.dataclass(frozen=True)
class Event:
    """One record, with the region whose log files receive it."""

    region: str
    time: dt.datetime
    record: dict[str, Any]


class _Actors:
    """The identities of the corpus, with stable principal and access key ids."""

    def __init__(self, spec: CorpusSpec, rng: random.Random) -> None:
        self.spec, self.rng = spec, rng
        self._ids: dict[str, str] = {}

    def _id(self, prefix: str, name: str) -> str:
        if name not in self._ids:
            self._ids[name] = prefix + "".join(self.rng.choice(string.ascii_uppercase + string.digits) for _ in range(17))
        return self._ids[name]

    def access_key(self, prefix: str = "ASIA") -> str:
        return prefix + "".join(self.rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))

    def role_session(self, role: str, session: str, when: dt.datetime, mfa: bool = False, ec2: bool = False) -> dict:
        spec, role_id = self.spec, self._id("AROA", f"role/{role}")
        context: dict[str, Any] = {
            "sessionIssuer": {"type": "Role", "principalId": role_id, "arn": spec.arn("iam", f"role/{role}"),
                              "accountId": spec.account_id, "userName": role},
            "attributes": {"creationDate": _iso(when - dt.timedelta(minutes=self.rng.randint(1, 50))),
                           "mfaAuthenticated": "true" if mfa else "false"},
        }
        if ec2:
            context["ec2RoleDelivery"] = "2.0"
        return {"type": "AssumedRole", "principalId": f"{role_id}:{session}",
                "arn": spec.arn("sts", f"assumed-role/{role}/{session}"), "accountId": spec.account_id,
                "accessKeyId": self.access_key(), "sessionContext": context}

    def user(self, name: str, console: bool = False, mfa: bool = False, when: dt.datetime | None = None) -> dict:
        spec = self.spec
        identity: dict[str, Any] = {"type": "IAMUser", "principalId": self._id("AIDA", f"user/{name}"),
                                    "arn": spec.arn("iam", f"user/{name}"), "accountId": spec.account_id,
                                    "accessKeyId": self.access_key("ASIA" if console else "AKIA"), "userName": name}
        if console and when is not None:
            identity["sessionContext"] = {"sessionIssuer": {}, "webIdFederationData": {}, "attributes": {
                "creationDate": _iso(when - dt.timedelta(minutes=self.rng.randint(1, 120))),
                "mfaAuthenticated": "true" if mfa else "false"}}
        return identity

    def root(self, invoked_by: str | None = None) -> dict:
        spec = self.spec
        identity = {"type": "Root", "principalId": spec.account_id, "arn": spec.arn("iam", "root"),
                    "accountId": spec.account_id, "accessKeyId": self.access_key()}
        if invoked_by:
            identity["invokedBy"] = invoked_by
        return identity

    @staticmethod
    def service(host: str) -> dict:
        return {"type": "AWSService", "invokedBy": host}

    def other_account(self) -> dict:
        return {"type": "AWSAccount", "principalId": self._id("AIDA", "other-account"), "accountId": OTHER_ACCOUNT}


def _iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Recorder:
    """Builds records as CloudTrail writes them."""

    def __init__(self, spec: CorpusSpec, rng: random.Random) -> None:
        self.spec, self.rng = spec, rng
        self.actors = _Actors(spec, rng)
        self.events: list[Event] = []

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _request_id(self, source: str) -> str:
        if source == "s3.amazonaws.com":
            return "".join(self.rng.choice("0123456789ABCDEF") for _ in range(16))
        return self._uuid()

    def add(self, when: dt.datetime, region: str, source: str, name: str, identity: dict, *, address: str, agent: str,
            request: dict | None = None, response: Any = None, additional: dict | None = None,
            error: tuple[str, str] | None = None, resources: Sequence[dict] = (), read_only: bool | None = None,
            data: bool = False, event_type: str = "AwsApiCall", host: str | None = None,
            service_details: dict | None = None) -> dict:
        """One record; `error` is (code, message), the code empty where AWS writes none (a failed
        sign-in); `host` is the endpoint the client called (its TLS details), None for calls AWS
        services make themselves."""
        record: dict[str, Any] = {
            "eventVersion": "1.10" if data else "1.09",
            "userIdentity": identity,
            "eventTime": _iso(when),
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": address,
            "userAgent": agent,
        }
        code, message = error or ("", "")
        if code:
            record["errorCode"] = code
        if message:
            record["errorMessage"] = message
        record["requestParameters"] = request
        record["responseElements"] = None if code else response
        if additional is not None:
            record["additionalEventData"] = additional
        record["requestID"] = self._request_id(source)
        record["eventID"] = self._uuid()
        if read_only is not None:
            record["readOnly"] = read_only
        if resources:
            record["resources"] = list(resources)
        record["eventType"] = event_type
        if service_details is not None:
            record["serviceEventDetails"] = service_details
        record["managementEvent"] = not data
        record["recipientAccountId"] = self.spec.account_id
        if event_type == "AwsConsoleSignIn":
            record.pop("requestID")
        record["eventCategory"] = "Data" if data else "Management"
        if host:
            record["tlsDetails"] = {"tlsVersion": TLS_SUITE[0], "cipherSuite": TLS_SUITE[1], "clientProvidedHostHeader": host}
        if identity.get("type") == "IAMUser" and identity.get("accessKeyId", "").startswith("ASIA") and host:
            record["sessionCredentialFromConsole"] = "true"
        self.events.append(Event(region, when, record))
        return record

    # --- S3 -----------------------------------------------------------------------------------

    def object_call(self, when: dt.datetime, identity: dict, operation: str, key: str | None, *, address: str,
                    agent: str, bucket: str | None = None, error: tuple[str, str] | None = None,
                    region: str | None = None) -> dict:
        """An object-level data event (ListObjects names no key)."""
        spec = self.spec
        bucket = bucket or spec.data_bucket
        region = region or spec.home_region
        host = f"{bucket}.s3.{region}.amazonaws.com"
        request: dict[str, Any] = {"bucketName": bucket, "Host": host}
        if key is None:
            request |= {"list-type": "2", "prefix": "reports/", "encoding-type": "url"}
        else:
            request["key"] = key
        version = "".join(self.rng.choice(string.ascii_letters + string.digits + "._") for _ in range(32))
        response = None
        if operation == "PutObject":
            response = {"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": spec.data_key_arn,
                        "x-amz-server-side-encryption-bucket-key-enabled": "true", "x-amz-version-id": version}
        elif operation == "DeleteObject":
            response = {"x-amz-delete-marker": "true", "x-amz-version-id": version}
        reading = operation in ("GetObject", "HeadObject", "ListObjects")
        transferred = self.rng.randint(2_000, 9_000_000)
        additional = {"SignatureVersion": "SigV4", "CipherSuite": TLS_SUITE[1], "bytesTransferredIn": 0 if reading else transferred,
                      "AuthenticationMethod": "AuthHeader", "x-amz-id-2": self._uuid().replace("-", ""),
                      "bytesTransferredOut": transferred if operation == "GetObject" and not error else 0}
        bucket_arn = f"arn:{spec.partition}:s3:::{bucket}"
        resources = [{"type": "AWS::S3::Bucket", "ARN": bucket_arn, "accountId": spec.account_id}]
        if key is not None:
            resources.insert(0, {"type": "AWS::S3::Object", "ARN": f"{bucket_arn}/{key}"})
        return self.add(when, region, "s3.amazonaws.com", operation, identity, address=address, agent=agent,
                        request=request, response=response, additional=additional, error=error, resources=resources,
                        read_only=reading, data=True, host=host)

    def bucket_call(self, when: dt.datetime, identity: dict, operation: str, bucket: str, *, address: str, agent: str,
                    error: tuple[str, str] | None = None) -> dict:
        """A bucket-level management call (policy, encryption, public access block, reads)."""
        spec = self.spec
        host = f"{bucket}.s3.{spec.home_region}.amazonaws.com"
        request: dict[str, Any] = {"bucketName": bucket, "Host": host}
        if operation == "PutBucketPolicy":
            request["policy"] = {"Version": "2012-10-17", "Statement": [{"Sid": "DenyInsecureTransport", "Effect": "Deny",
                                                                         "Principal": "*", "Action": "s3:*"}]}
        elif operation == "PutBucketEncryption":
            request["ServerSideEncryptionConfiguration"] = {"Rule": {"ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": spec.data_key_arn}, "BucketKeyEnabled": True}}
        elif operation == "PutBucketPublicAccessBlock":
            request["PublicAccessBlockConfiguration"] = {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                                         "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
        else:
            request[operation.removeprefix("Get").removeprefix("Delete").removeprefix("Put").lower()] = ""
        additional = {"SignatureVersion": "SigV4", "CipherSuite": TLS_SUITE[1], "bytesTransferredIn": 0,
                      "AuthenticationMethod": "AuthHeader", "x-amz-id-2": self._uuid().replace("-", ""), "bytesTransferredOut": 0}
        return self.add(when, spec.home_region, "s3.amazonaws.com", operation, identity, address=address, agent=agent,
                        request=request, additional=additional, error=error,
                        resources=[{"type": "AWS::S3::Bucket", "ARN": f"arn:{spec.partition}:s3:::{bucket}", "accountId": spec.account_id}],
                        read_only=operation.startswith("Get"), host=host)

    # --- KMS ----------------------------------------------------------------------------------

    def key_use(self, when: dt.datetime, identity: dict, operation: str, key_arn: str, *, address: str, agent: str,
                context: dict[str, str], error: tuple[str, str] | None = None, region: str | None = None) -> dict:
        """Decrypt or GenerateDataKey; Decrypt names no key (the ciphertext does), the resources do."""
        request: dict[str, Any] = {"encryptionContext": context, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
        if operation == "GenerateDataKey":
            request = {"keyId": key_arn, "encryptionContext": context, "keySpec": "AES_256"}
        invoked_by = identity.get("invokedBy")
        return self.add(when, region or self.spec.home_region, "kms.amazonaws.com", operation, identity, address=address,
                        agent=agent, request=request, error=error, read_only=True,
                        resources=[{"accountId": self.spec.account_id, "type": "AWS::KMS::Key", "ARN": key_arn}],
                        host=None if invoked_by else f"kms.{self.spec.home_region}.amazonaws.com")

    def key_management(self, when: dt.datetime, identity: dict, operation: str, key_arn: str | None, *, address: str,
                       agent: str, request: dict | None = None, error: tuple[str, str] | None = None) -> dict:
        resources = [{"accountId": self.spec.account_id, "type": "AWS::KMS::Key", "ARN": key_arn}] if key_arn else []
        return self.add(when, self.spec.home_region, "kms.amazonaws.com", operation, identity, address=address, agent=agent,
                        request=request if request is not None else {"keyId": key_arn}, error=error,
                        read_only=operation.startswith(("Describe", "Get", "List")), resources=resources,
                        host=f"kms.{self.spec.home_region}.amazonaws.com")

    # --- the others ---------------------------------------------------------------------------

    def api_call(self, when: dt.datetime, region: str, service: str, operation: str, identity: dict, *, address: str,
                 agent: str, request: dict | None = None, response: Any = None, error: tuple[str, str] | None = None,
                 resources: Sequence[dict] = ()) -> dict:
        """A management call to `service` (its endpoint host is `<service>.<region>.amazonaws.com`)."""
        host = f"{service}.amazonaws.com" if service in ("iam", "sts") and region == self.spec.global_region else \
            f"{service}.{region}.amazonaws.com"
        return self.add(when, region, f"{service}.amazonaws.com", operation, identity, address=address, agent=agent,
                        request=request, response=response, error=error, resources=resources,
                        read_only=operation.startswith(("Describe", "Get", "List", "Lookup")), host=host)

    def assume_role(self, when: dt.datetime, identity: dict, session: str, *, address: str, agent: str, mfa: bool = False,
                    error: tuple[str, str] | None = None, role_arn: str | None = None) -> dict:
        spec = self.spec
        request: dict[str, Any] = {"roleArn": role_arn or spec.role_arn, "roleSessionName": session, "durationSeconds": 3600}
        if mfa:
            request["serialNumber"] = spec.arn("iam", f"mfa/{identity.get('userName', session)}")
        response = {"credentials": {"accessKeyId": self.actors.access_key(), "sessionToken": "IQoJb3JpZ2luX2VjE...",
                                    "expiration": when.strftime("%b %d, %Y, %I:%M:%S %p")},
                    "assumedRoleUser": {"assumedRoleId": f"AROA:{session}",
                                        "arn": spec.arn("sts", f"assumed-role/{spec.application_role}/{session}")}}
        service_call = identity.get("type") == "AWSService"
        return self.add(when, spec.home_region, "sts.amazonaws.com", "AssumeRole", identity, address=address, agent=agent,
                        request=request, response=response, error=error, read_only=True,
                        resources=[{"accountId": spec.account_id, "type": "AWS::IAM::Role", "ARN": request["roleArn"]}],
                        host=None if service_call else f"sts.{spec.home_region}.amazonaws.com")

    def console_login(self, when: dt.datetime, identity: dict, *, mfa: bool, success: bool, address: str) -> dict:
        spec = self.spec
        identity = {k: v for k, v in identity.items() if k != "accessKeyId"}  # a sign-in uses no access key yet
        additional = {"LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
                      "MobileVersion": "No", "MFAUsed": "Yes" if mfa else "No"}
        if mfa:
            additional["MFAIdentifier"] = spec.arn("iam", f"mfa/{identity.get('userName', 'root-account-mfa-device')}")
        return self.add(when, spec.global_region, "signin.amazonaws.com", "ConsoleLogin", identity, address=address,
                        agent=BROWSER_AGENT, response={"ConsoleLogin": "Success" if success else "Failure"},
                        additional=additional, error=None if success else ("", "Failed authentication"),
                        read_only=False, event_type="AwsConsoleSignIn", host="signin.aws.amazon.com")

    def trail_call(self, when: dt.datetime, identity: dict, operation: str, trail: str, *, address: str, agent: str,
                   error: tuple[str, str] | None = None, by_arn: bool = False) -> dict:
        spec = self.spec
        named = spec.arn("cloudtrail", f"trail/{trail}", spec.home_region) if by_arn else trail
        if operation == "PutEventSelectors":
            request: dict[str, Any] = {"trailName": named, "advancedEventSelectors": [
                {"name": "Management events", "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]}]}
        else:
            request = {"name": named}
            if operation == "UpdateTrail":
                request |= {"isMultiRegionTrail": True, "enableLogFileValidation": True}
        return self.api_call(when, spec.home_region, "cloudtrail", operation, identity, address=address, agent=agent,
                             request=request, error=error,
                             resources=[{"accountId": spec.account_id, "type": "AWS::CloudTrail::Trail",
                                         "ARN": spec.arn("cloudtrail", f"trail/{trail}", spec.home_region)}])


# --- what happens ---------------------------------------------------------------------------


S3_DENIED = ("AccessDenied", "Access Denied")
DATA_KEYS = tuple(f"{folder}/{name}" for folder in ("raw/orders", "raw/customers", "curated/sales", "exports")
                  for name in ("part-0000.parquet", "part-0001.parquet", "part-0002.parquet", "manifest.json"))


def _at(day: dt.date, hour: int, minute: int, second: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute, second), UTC)


class _Story:
    """Fills a recorder with the days of the corpus."""

    def __init__(self, spec: CorpusSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.out = _Recorder(spec, self.rng)
        self.actors = self.out.actors
        self.days = [spec.today - dt.timedelta(days=n) for n in range(spec.days - 1, -1, -1)]
        self.alerting_key_arn = spec.arn("kms", "key/7d3c9a52-0f4e-4b8e-9c11-2a6f5e8d4b30", spec.home_region)
        self.imported_key_arn = spec.arn("kms", "key/mrk-1f0a6c3e9b2d47a8b5c4e3d2f1a0b9c8", spec.home_region)

    def times(self, day: dt.date, count: int, start: int = 0, end: int = 24) -> list[dt.datetime]:
        """`count` moments of `day` between the hours `start` and `end`, in order; none after the
        end of the corpus."""
        limit = _at(day, TODAY_ENDS_AT.hour, 0) if day == self.spec.today else _at(day, 0, 0) + dt.timedelta(days=1)
        moments = sorted(_at(day, start, 0) + dt.timedelta(seconds=self.rng.randrange((end - start) * 3600)) for _ in range(count))
        return [m for m in moments if m < limit]

    def write(self) -> list[Event]:
        for day in self.days:
            self.application(day)
            self.services(day)
            self.terraform_plan(day)
            self.people(day)
        self.planted()
        return sorted(self.out.events, key=lambda e: (e.time, e.record["eventID"]))

    # --- the steady state -------------------------------------------------------------------

    def app_session(self, when: dt.datetime) -> dict:
        instance = self.rng.choice(("i-0a1b2c3d4e5f60718", "i-0f9e8d7c6b5a49382"))
        return self.actors.role_session(self.spec.application_role, instance, when, ec2=True)

    def application(self, day: dt.date) -> None:
        spec, out, rng = self.spec, self.out, self.rng
        weights = {"GetObject": 50, "HeadObject": 15, "PutObject": 22, "DeleteObject": 4, "ListObjects": 9}
        for when in self.times(day, rng.randint(70, 95)):
            operation = rng.choices(list(weights), list(weights.values()))[0]
            key = None if operation == "ListObjects" else rng.choice(DATA_KEYS)
            identity = self.app_session(when)
            # A read of a key that is gone: a failed call that is not a denial.
            error = ("NoSuchKey", "The specified key does not exist.") if operation == "GetObject" and rng.random() < 0.04 else None
            out.object_call(when, identity, operation, key, address=NAT_GATEWAY, agent=SDK_AGENT, error=error)
            # With an S3 Bucket Key, S3 asks KMS for a bucket key now and then, not per object.
            if operation in ("GetObject", "PutObject") and not error and rng.random() < 0.12:
                kms_call = "Decrypt" if operation == "GetObject" else "GenerateDataKey"
                through_s3 = {**identity, "invokedBy": "s3.amazonaws.com"}
                out.key_use(when + dt.timedelta(milliseconds=40), through_s3, kms_call, spec.data_key_arn,
                            address="s3.amazonaws.com", agent="s3.amazonaws.com",
                            context={"aws:s3:arn": f"arn:{spec.partition}:s3:::{spec.data_bucket}"})
        # The nightly export, written just before midnight: its log file is delivered the next day.
        if day != spec.today:
            when = _at(day, 23, 58, rng.randint(0, 50))
            out.object_call(when, self.app_session(when), "PutObject", f"exports/daily-{day.isoformat()}.csv",
                            address=NAT_GATEWAY, agent=SDK_AGENT)
        # EC2 refreshes the instance profile's credentials.
        for when in self.times(day, 4):
            out.assume_role(when, self.actors.service("ec2.amazonaws.com"), rng.choice(("i-0a1b2c3d4e5f60718", "i-0f9e8d7c6b5a49382")),
                            address="ec2.amazonaws.com", agent="ec2.amazonaws.com")

    def services(self, day: dt.date) -> None:
        """AWS services using the keys for the account: CloudTrail encrypting log files with the
        data key, CloudWatch Logs with the alerting key."""
        spec, out = self.spec, self.out
        for when in self.times(day, 24):
            out.key_use(when, self.actors.service("cloudtrail.amazonaws.com"), "GenerateDataKey", spec.data_key_arn,
                        address="cloudtrail.amazonaws.com", agent="cloudtrail.amazonaws.com",
                        context={"aws:cloudtrail:arn": spec.trail_arn})
        for when in self.times(day, 4):
            out.key_use(when, self.actors.service("logs.amazonaws.com"), "GenerateDataKey", self.alerting_key_arn,
                        address="logs.amazonaws.com", agent="logs.amazonaws.com",
                        context={"aws:logs:arn": spec.arn("logs", "log-group:/aws/cloudtrail/trail", spec.home_region)})

    def terraform_plan(self, day: dt.date) -> None:
        """The daily drift plan of the CI role: reads of every resource, in both regions."""
        spec, out, rng = self.spec, self.out, self.rng
        start = _at(day, 6, rng.randint(0, 20))
        if start.time() > TODAY_ENDS_AT and day == spec.today:
            return
        identity = self.actors.role_session(spec.scenario.ci_role, f"GitHubActions-{rng.randint(10**9, 10**10)}", start)
        address = rng.choice(CI_RUNNERS)
        when = start
        for bucket in (spec.data_bucket, spec.results_bucket, spec.trail_bucket):
            for operation in ("GetBucketPolicy", "GetBucketEncryption", "GetBucketPublicAccessBlock", "GetBucketVersioning"):
                when += dt.timedelta(seconds=rng.randint(1, 3))
                out.bucket_call(when, identity, operation, bucket, address=address, agent=TERRAFORM_AGENT)
        for operation in ("DescribeKey", "GetKeyPolicy", "GetKeyRotationStatus", "ListResourceTags"):
            when += dt.timedelta(seconds=rng.randint(1, 3))
            out.key_management(when, identity, operation, spec.data_key_arn, address=address, agent=TERRAFORM_AGENT)
        for operation in ("GetTrail", "GetTrailStatus", "GetEventSelectors", "ListTags"):
            when += dt.timedelta(seconds=rng.randint(1, 3))
            out.trail_call(when, identity, operation, spec.trail_name, address=address, agent=TERRAFORM_AGENT)
        for operation in ("GetRole", "GetRolePolicy", "GetGroup", "GetGroupPolicy"):
            when += dt.timedelta(seconds=rng.randint(1, 3))
            out.api_call(when, spec.global_region, "iam", operation, identity, address=address, agent=TERRAFORM_AGENT,
                         request={"roleName": spec.application_role})
        when += dt.timedelta(seconds=2)
        out.api_call(when, spec.home_region, "athena", "GetWorkGroup", identity, address=address, agent=TERRAFORM_AGENT,
                     request={"workGroup": "data-analysis-workgroup"})

    def people(self, day: dt.date) -> None:
        spec, out, rng, actors = self.spec, self.out, self.rng, self.actors
        if day.weekday() >= 5:
            return
        # alice: console with MFA, then the application role with MFA from the CLI, reading reports.
        login = _at(day, 8, rng.randint(30, 59))
        out.console_login(login, actors.user("alice"), mfa=True, success=True, address=OFFICE)
        for when in self.times(day, 6, 9, 12):
            out.api_call(when, spec.global_region, "iam", rng.choice(("ListUsers", "ListRoles", "GetAccountSummary")),
                         actors.user("alice", console=True, mfa=True, when=login), address=OFFICE, agent=CONSOLE_AGENT)
        assumed = _at(day, 9, rng.randint(0, 59))
        out.assume_role(assumed, actors.user("alice"), "alice", address=OFFICE, agent=CLI_AGENT, mfa=True)
        for when in self.times(day, rng.randint(3, 8), 10, 12):
            session = actors.role_session(spec.application_role, "alice", when, mfa=True)
            out.object_call(when, session, "GetObject", rng.choice(DATA_KEYS), address=OFFICE, agent=CLI_AGENT)
        # dave: federated through IAM Identity Center (MFA at the identity provider), read-only.
        federated = actors.role_session(spec.scenario.sso_role, "dave@example.com", _at(day, 9, 5))
        out.console_login(_at(day, 9, rng.randint(0, 30)), federated, mfa=False, success=True, address=HOME_OFFICE)
        # bob: his access key, from the office; the data bucket admits only the role.
        if day.weekday() in (1, 3):
            when = _at(day, 14, rng.randint(0, 59))
            out.object_call(when, actors.user("bob"), "GetObject", rng.choice(DATA_KEYS), address=OFFICE, agent=BOTO_AGENT,
                            error=S3_DENIED)
            out.api_call(when + dt.timedelta(seconds=30), spec.home_region, "athena", "StartQueryExecution", actors.user("bob"),
                         address=OFFICE, agent=BOTO_AGENT, request={"workGroup": "data-analysis-workgroup"},
                         error=("AccessDeniedException", "User is not authorized to perform: athena:StartQueryExecution"))

    # --- the planted investigations ---------------------------------------------------------

    def ago(self, days: int, hour: int, minute: int) -> dt.datetime:
        return _at(self.spec.today - dt.timedelta(days=days), hour, minute, self.rng.randint(0, 59))

    def admin_session(self, when: dt.datetime) -> dict:
        """An administrator, through the deployer role with MFA, from the CLI."""
        return self.actors.role_session(self.spec.scenario.deployer_role, "admin", when, mfa=True)

    def apply_session(self, when: dt.datetime) -> dict:
        """The CI apply job."""
        return self.actors.role_session(self.spec.scenario.ci_role, "GitHubActions-apply", when)

    def planted(self) -> None:
        self.object_history()
        self.bucket_changes()
        self.key_management()
        self.trail_changes()
        self.sign_ins_and_root()
        self.leaked_credentials()

    def object_history(self) -> None:
        spec, out, actors = self.spec, self.out, self.actors
        key = spec.scenario.investigated_key
        role = actors.role_session
        history = [
            (25, 10, "PutObject", role(spec.application_role, "i-0a1b2c3d4e5f60718", self.ago(25, 10, 0), ec2=True), NAT_GATEWAY, None),
            (10, 11, "GetObject", role(spec.application_role, "alice", self.ago(10, 11, 0), mfa=True), OFFICE, None),
            (5, 9, "HeadObject", role(spec.application_role, "i-0f9e8d7c6b5a49382", self.ago(5, 9, 0), ec2=True), NAT_GATEWAY, None),
            (5, 9, "GetObject", role(spec.application_role, "i-0f9e8d7c6b5a49382", self.ago(5, 9, 0), ec2=True), NAT_GATEWAY, None),
            (3, 15, "GetObject", actors.user("bob"), OFFICE, S3_DENIED),
            (2, 16, "DeleteObject", role(spec.application_role, "i-0a1b2c3d4e5f60718", self.ago(2, 16, 0), ec2=True), NAT_GATEWAY, None),
            (1, 8, "PutObject", role(spec.application_role, "i-0a1b2c3d4e5f60718", self.ago(1, 8, 0), ec2=True), NAT_GATEWAY, None),
        ]
        for days, hour, operation, identity, address, error in history:
            out.object_call(self.ago(days, hour, self.rng.randint(0, 59)), identity, operation, key, address=address,
                            agent=SDK_AGENT, error=error)
        for look_alike in spec.scenario.similar_keys:
            when = self.ago(4, 13, self.rng.randint(0, 59))
            out.object_call(when, role(spec.application_role, "i-0a1b2c3d4e5f60718", when, ec2=True), "GetObject", look_alike,
                            address=NAT_GATEWAY, agent=SDK_AGENT)
        # The same key in another bucket whose name ends like the data bucket's (recorded when the
        # trail records every bucket's data events).
        when = self.ago(3, 10, 0)
        out.object_call(when, role(spec.application_role, "i-0a1b2c3d4e5f60718", when, ec2=True), "GetObject", key,
                        bucket=spec.look_alike_bucket, address=NAT_GATEWAY, agent=SDK_AGENT)
        out.bucket_call(when + dt.timedelta(minutes=3), self.admin_session(when), "PutBucketPolicy",
                        spec.look_alike_bucket, address=OFFICE, agent=CLI_AGENT)

    def bucket_changes(self) -> None:
        spec, out, actors = self.spec, self.out, self.actors
        changes = [
            (33, spec.data_bucket, "PutBucketPolicy", None),
            (25, spec.results_bucket, "PutBucketEncryption", None),
            (12, spec.data_bucket, "PutBucketPolicy", None),
            (6, spec.data_bucket, "PutBucketPublicAccessBlock", None),
            (6, spec.trail_bucket, "DeleteBucketPublicAccessBlock", S3_DENIED),
            (1, spec.data_bucket, "DeleteBucketPolicy", S3_DENIED),
        ]
        for days, bucket, operation, error in changes:
            when = self.ago(days, 11, self.rng.randint(0, 59))
            identity = actors.user("bob") if error else self.apply_session(when)
            out.bucket_call(when, identity, operation, bucket, address=OFFICE if error else CI_RUNNERS[0],
                            agent=BOTO_AGENT if error else TERRAFORM_AGENT, error=error)

    def key_management(self) -> None:
        spec, out, actors = self.spec, self.out, self.actors
        alias = "alias/s3-encryption-key"
        steps: list[tuple[int, str, str | None, dict | None, tuple[str, str] | None]] = [
            (32, "DisableKey", self.alerting_key_arn, None, None),
            (15, "PutKeyPolicy", spec.data_key_arn, {"keyId": spec.data_key_arn, "policyName": "default",
                                                      "bypassPolicyLockoutSafetyCheck": False}, None),
            (14, "DisableKeyRotation", spec.data_key_arn, None, ("AccessDenied", "not authorized to perform: kms:DisableKeyRotation")),
            (9, "CreateAlias", spec.data_key_arn, {"aliasName": "alias/s3-encryption-key-next", "targetKeyId": spec.data_key_arn}, None),
            (9, "UpdateAlias", spec.data_key_arn, {"aliasName": alias, "targetKeyId": spec.data_key_arn}, None),
            (9, "DeleteAlias", None, {"aliasName": "alias/s3-encryption-key-next"}, None),
            (8, "GetParametersForImport", self.imported_key_arn, {"keyId": self.imported_key_arn, "wrappingAlgorithm": "RSAES_OAEP_SHA_256",
                                                                  "wrappingKeySpec": "RSA_4096"}, None),
            (8, "ImportKeyMaterial", self.imported_key_arn,
             {"keyId": self.imported_key_arn, "expirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}, None),
            (7, "DisableKey", self.alerting_key_arn, None, None),
            (7, "EnableKey", self.alerting_key_arn, None, None),
            (6, "ScheduleKeyDeletion", self.imported_key_arn, {"keyId": self.imported_key_arn, "pendingWindowInDays": 30}, None),
            (6, "CancelKeyDeletion", self.imported_key_arn, None, None),
            (4, "DeleteImportedKeyMaterial", self.imported_key_arn, None, None),
            (3, "CreateGrant", spec.data_key_arn, {"keyId": spec.data_key_arn, "granteePrincipal": spec.role_arn,
                                                   "operations": ["Decrypt"]}, None),
            (3, "RetireGrant", spec.data_key_arn, {"keyId": spec.data_key_arn, "grantId": "0c2a9f1b"}, None),
            (2, "EnableKeyRotation", spec.data_key_arn, {"keyId": spec.data_key_arn, "rotationPeriodInDays": 365}, None),
        ]
        for days, operation, key_arn, request, error in steps:
            when = self.ago(days, 13, self.rng.randint(0, 59))
            identity = actors.user("bob") if error else self.admin_session(when)
            out.key_management(when, identity, operation, key_arn, address=OFFICE, agent=CLI_AGENT, request=request, error=error)
        # Direct use of the data key, outside S3: denied (the key policy grants it only through S3).
        for days in (12, 5):
            when = self.ago(days, 15, 0)
            out.key_use(when, actors.user("alice"), "Decrypt", spec.data_key_arn, address=OFFICE, agent=CLI_AGENT,
                        context={"aws:s3:arn": f"arn:{spec.partition}:s3:::{spec.data_bucket}/exports/x.csv"},
                        error=("AccessDenied", "not authorized to perform: kms:Decrypt"))
        # Another workload's key, in the global region: not the data key.
        out.key_use(self.ago(5, 3, 0), actors.role_session("etl-role", "job", self.ago(5, 3, 0)), "Decrypt",
                    spec.arn("kms", "key/2b8f0e6c-5d1a-4c3b-9e7f-8a6d4c2b1e09", spec.global_region), address=NAT_GATEWAY,
                    agent=SDK_AGENT, context={}, region=spec.global_region)

    def trail_changes(self) -> None:
        spec, out, actors = self.spec, self.out, self.actors
        admin = self.admin_session
        stopped = self.ago(11, 2, 10)
        out.trail_call(stopped, admin(stopped), "StopLogging", spec.trail_name, address=OFFICE, agent=CLI_AGENT, by_arn=True)
        restarted = stopped + dt.timedelta(minutes=14)
        out.trail_call(restarted, admin(restarted), "StartLogging", spec.trail_name, address=OFFICE, agent=CLI_AGENT)
        out.trail_call(restarted + dt.timedelta(minutes=2), admin(restarted), "UpdateTrail", spec.trail_name,
                       address=OFFICE, agent=CLI_AGENT)
        when = self.ago(3, 10, 0)
        out.trail_call(when, self.apply_session(when), "PutEventSelectors", spec.trail_name, address=CI_RUNNERS[1], agent=TERRAFORM_AGENT)
        when = self.ago(1, 17, 0)
        out.trail_call(when, actors.user("bob"), "DeleteTrail", spec.trail_name, address=OFFICE, agent=BOTO_AGENT,
                       by_arn=True, error=("AccessDenied", "not authorized to perform: cloudtrail:DeleteTrail"))
        when = self.ago(8, 12, 0)
        out.trail_call(when, admin(when), "StopLogging", spec.scenario.other_trail, address=OFFICE, agent=CLI_AGENT)

    def sign_ins_and_root(self) -> None:
        spec, out, actors = self.spec, self.out, self.actors
        for days in (20, 13, 6):
            out.console_login(self.ago(days, 18, 5), actors.user("bob"), mfa=False, success=True, address=HOME_OFFICE)
        for days in (16, 16, 2):
            out.console_login(self.ago(days, 7, 40), actors.user("carol"), mfa=False, success=False, address="192.0.2.200")
        # Root: once with MFA (a planned task), once without (which the alarms also catch). Its
        # sign-in first logs the password check, a service event, not root acting.
        for days, mfa in ((19, True), (2, False)):
            login = self.ago(days, 10, 0)
            out.add(login - dt.timedelta(seconds=20), spec.global_region, "signin.amazonaws.com", "CredentialVerification",
                    actors.root(), address=HOME_OFFICE, agent=BROWSER_AGENT, read_only=False, event_type="AwsServiceEvent",
                    service_details={"CredentialType": "PASSWORD"}, additional={"CredentialType": "PASSWORD"})
            out.console_login(login, actors.root(), mfa=mfa, success=True, address=HOME_OFFICE)
            for offset, (service, operation) in enumerate((("iam", "GetAccountSummary"), ("iam", "ListMFADevices"),
                                                           ("iam", "CreateAccessKey" if not mfa else "GetAccountPasswordPolicy"))):
                out.api_call(login + dt.timedelta(minutes=2 + offset), spec.global_region, service, operation, actors.root(),
                             address=HOME_OFFICE, agent=CONSOLE_AGENT)
        # A call AWS made for root: not root acting either.
        out.api_call(self.ago(19, 10, 30), spec.global_region, "support", "DescribeTrustedAdvisorChecks",
                     actors.root("support.amazonaws.com"), address="support.amazonaws.com", agent="support.amazonaws.com")
        # bob tries the application role without MFA: the trust refuses.
        for days in (9, 4):
            out.assume_role(self.ago(days, 14, 0), actors.user("bob"), "bob", address=OFFICE, agent=BOTO_AGENT,
                            error=("AccessDenied", "not authorized to perform: sts:AssumeRole"))

    def leaked_credentials(self) -> None:
        """bob's access key, used today from an address never seen, in a region no one uses, and
        in a region outside the projection."""
        spec, out, actors = self.spec, self.out, self.actors
        start = _at(spec.today, 3, 12)
        out.api_call(start, spec.home_region, "sts", "GetCallerIdentity", actors.user("bob"), address=LEAKED_KEY_ADDRESS,
                     agent=BOTO_AGENT)
        for minute, region in enumerate((spec.new_region, spec.new_region, spec.unprojected_region)):
            when = start + dt.timedelta(minutes=minute + 1)
            out.api_call(when, region, "ec2", "DescribeInstances", actors.user("bob"), address=LEAKED_KEY_ADDRESS, agent=BOTO_AGENT)
            out.api_call(when + dt.timedelta(seconds=20), region, "ec2", "RunInstances", actors.user("bob"),
                         address=LEAKED_KEY_ADDRESS, agent=BOTO_AGENT,
                         request={"instancesSet": {"items": [{"imageId": "ami-0c1d2e3f4a5b6c7d8", "minCount": 20, "maxCount": 20}]},
                                  "instanceType": "p4d.24xlarge"},
                         error=("Client.UnauthorizedOperation", "You are not authorized to perform this operation."))


# --- delivery ---------------------------------------------------------------------------------


def log_key(account: str, region: str, delivered: dt.datetime, unique: str) -> str:
    """The object key CloudTrail gives a log file delivered at `delivered`."""
    return (f"AWSLogs/{account}/CloudTrail/{region}/{delivered:%Y/%m/%d}/"
            f"{account}_CloudTrail_{region}_{delivered:%Y%m%dT%H%MZ}_{unique}.json.gz")


def _deliveries(events: Sequence[Event], rng: random.Random) -> Iterator[tuple[str, dt.datetime, list[dict]]]:
    """(region, delivery time, records) per log file: each region's calls of one five-minute
    window, delivered a few minutes after it ends."""
    files: dict[tuple[str, dt.datetime], list[dict]] = {}
    for event in events:
        window = event.time.replace(second=0, microsecond=0)
        window -= dt.timedelta(minutes=window.minute % 5)
        files.setdefault((event.region, window), []).append(event.record)
    for (region, window), records in sorted(files.items()):
        yield region, window + DELIVERY_INTERVAL + dt.timedelta(minutes=rng.randint(1, 6)), records


def write_corpus(spec: CorpusSpec, root: Path) -> list[Path]:
    """Write the corpus below `root` (the trail bucket's root); return the files, sorted."""
    rng = random.Random(spec.seed + 1)
    written = []
    for region, delivered, records in _deliveries(_Story(spec).write(), rng):
        unique = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(16))
        path = root / log_key(spec.account_id, region, delivered, unique)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(json.dumps({"Records": records}, separators=(",", ":")).encode(), mtime=0))
        written.append(path)
    return sorted(written)
