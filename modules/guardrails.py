"""Rules checked on every synth, as cdktf Aspects (in the manner of cdk-nag).

A rule that finds a problem adds an error annotation, which makes `app.synth()` fail: a stack that
breaks a rule cannot be synthesized. Rules only read, so they are idempotent.
"""

from __future__ import annotations

import jsii
from cdktf import Annotations, IAspect
from constructs import IConstruct

from modules.aws import s3_bucket
from modules.secure_bucket import SecureBucket


@jsii.implements(IAspect)
class BucketsAreSecure:
    """Every S3 bucket is made by SecureBucket, so none lacks encryption, TLS or the access block."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, s3_bucket.S3Bucket) and not isinstance(node.node.scope, SecureBucket):
            Annotations.of(node).add_error(f"{node.node.path}: S3 buckets must be made with SecureBucket")


GUARDRAILS = (BucketsAreSecure,)
