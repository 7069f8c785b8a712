"""Where a construct lives: the account, region and partition of its stack, and the ARNs and
service host names built from them.

In the manner of AWS CDK's `Stack.of(this)` and `formatArn`: a stack carries one `AwsContext`
(`AwsContext(...).attach(stack)`), any construct below it asks for it (`AwsContext.of(self)`), and
every ARN comes from `arn()`. Constructs never take an account or region argument, and never
format an ARN themselves.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from definitions import naming

if TYPE_CHECKING:  # the context itself is plain data: no jsii runtime to load
    from constructs import IConstruct

# Services whose ARNs have no region (IAM) or neither region nor account (S3 buckets).
_GLOBAL_ARNS = {"iam": ("", None), "sts": ("", None), "s3": ("", "")}
_ATTRIBUTE = "_aws_context"


@dataclasses.dataclass(frozen=True)
class AwsContext:
    account: str
    region: str

    @property
    def partition(self) -> str:
        return naming.partition_of(self.region)

    @staticmethod
    def of(construct: IConstruct) -> AwsContext:
        """The context of the nearest scope that carries one (normally the stack)."""
        for scope in reversed(construct.node.scopes):
            context = getattr(scope, _ATTRIBUTE, None)
            if context is not None:
                return context
        raise LookupError(f"{construct.node.path}: no AwsContext above this construct (attach one to its stack)")

    def attach(self, scope: IConstruct) -> AwsContext:
        setattr(scope, _ATTRIBUTE, self)
        return self

    def arn(self, service: str, resource: str, *, region: str | None = None, account: str | None = None) -> str:
        """`arn:<partition>:<service>:<region>:<account>:<resource>`; region and account default to the
        context's, or to empty where the service's ARNs have none (IAM, S3). Pass "*" for a wildcard."""
        global_region, global_account = _GLOBAL_ARNS.get(service, (None, None))
        region = next(v for v in (region, global_region, self.region) if v is not None)
        account = next(v for v in (account, global_account, self.account) if v is not None)
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"

    @property
    def root_arn(self) -> str:
        """The account as a principal (the account root)."""
        return self.arn("iam", "root")

    def service_host(self, service: str) -> str:
        """A service's regional endpoint host, as `kms:ViaService` and regional service principals
        name it: `s3.eu-west-1.amazonaws.com` (`.amazonaws.com.cn` in China)."""
        return f"{service}.{self.region}.{naming.dns_suffix(self.partition)}"

    def service_principal(self, service: str) -> str:
        """A global service principal such as `cloudtrail.amazonaws.com`. CloudTrail and CloudWatch
        keep this name in every partition; some others (EC2 in China) do not: check a new one."""
        return f"{service}.amazonaws.com"
