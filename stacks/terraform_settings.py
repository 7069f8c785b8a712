"""What every Terraform root of the project declares besides its resources: the Terraform and
provider versions, the provider lock file, and where state lives.

Imports nothing of cdktf: the stacks (`stacks/environment_stacks.py`) and the plain-Terraform export
(`operations/export.py`) read the same values here, so the JSON stacks and the HCL bundle cannot
disagree.
"""

from __future__ import annotations

import json

from definitions.aws_context import AwsContext
from environments.config import Environment

# The provider bindings are built from hashicorp/aws 6.x; every attribute used also exists in
# 5.100 (terraform validate proves it against that release), so both majors are admitted. The
# lock file pins the release the tests ran against.
AWS_PROVIDER_VERSION = ">= 5.100, < 7.0"
# S3 native state locking (`use_lockfile`) arrived in Terraform 1.10.
TERRAFORM_VERSION = ">= 1.10"
# Where each bootstrap stack keeps its local state: relative to its folder in cdktf.out/stacks/,
# `.bootstrap-state/` at the repository root (git-ignored); in an exported root, beside it.
BOOTSTRAP_STATE_DIR = "../../../.bootstrap-state"
EXPORTED_BOOTSTRAP_STATE = "terraform.tfstate"


def s3_backend(env: Environment) -> dict[str, str | bool]:
    """The environment stack's S3 backend settings (state in the bootstrap's bucket and key)."""
    state_key_arn = AwsContext(env.account_id, env.state.region).arn("kms", env.names.state_key_alias)
    return {"bucket": env.state.bucket, "key": env.state.key, "region": env.state.region, "encrypt": True,
            "kms_key_id": state_key_arn, "use_lockfile": True}


def versions_tf() -> str:
    """The `required_version` setting as HCL (cdktf 0.21's HCL output cannot render it)."""
    return f"terraform {{\n  required_version = {json.dumps(TERRAFORM_VERSION)}\n}}\n"


def backend_hcl(env: Environment) -> str:
    """The S3 backend settings as a partial configuration file (`terraform init -backend-config=`)."""
    return "".join(f"{key} = {json.dumps(value)}\n" for key, value in s3_backend(env).items())
