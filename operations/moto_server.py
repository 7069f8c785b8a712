"""`python -m operations.moto_server -H HOST -p PORT`: moto's server, with one fix to how it reads a
log target's bucket policy.

moto 5.2 checks that an access-log target bucket admits `logging.s3.amazonaws.com` (as S3 does), but
reads each statement's `Principal` as a mapping and its `Resource` as a string: a policy with a
`"Principal": "*"` statement (every bucket's DenyInsecureTransport) makes PutBucketLogging answer
HTTP 500, which the provider retries until its timeout. The fix reads statements as IAM writes them
(a principal may be `"*"`, actions and resources may be strings or lists) and asks the same
question: does an Allow for the log delivery service grant s3:PutObject on the target prefix? It
grants nothing moto would not; it only stops the crash.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from moto.s3 import models
from moto.server import main


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _log_permissions_enabled_policy(target_bucket: Any, target_prefix: str | None) -> bool:
    if not target_bucket.policy:
        return False
    arn = f"arn:{target_bucket.partition}:s3:::{target_bucket.name}"
    accepted = {f"{arn}/{target_prefix or ''}*", f"{arn}/*", arn}
    for statement in _as_list(json.loads(target_bucket.policy.decode())["Statement"]):
        principal = statement.get("Principal", {})
        services = _as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
        if (models.LOGGING_SERVICE_PRINCIPAL in services and statement.get("Effect") == "Allow"
                and "s3:PutObject" in _as_list(statement.get("Action", []))
                and accepted & set(_as_list(statement.get("Resource", [])))):
            return True
    return False


models.FakeBucket._log_permissions_enabled_policy = staticmethod(_log_permissions_enabled_policy)

if __name__ == "__main__":
    sys.exit(main())
