"""`make providers-lock`: rewrite .terraform.lock.hcl for the provider constraint of the stacks.

From a filesystem mirror of the provider when the machine has one (it holds linux_amd64 only,
so only that platform's checksum is recorded); otherwise from the registry, for the platforms
people run Terraform on. Then run the tests: they validate against the locked release.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from definitions.paths import PROVIDER_LOCK_FILE
from operations.terraform import find_mirror, terraform, terraform_env, write_cli_config
from stacks.terraform_settings import AWS_PROVIDER_VERSION

REGISTRY_PLATFORMS = ("linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64", "windows_amd64")


def main() -> int:
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        config = {"terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": AWS_PROVIDER_VERSION}}}}
        (folder / "versions.tf.json").write_text(json.dumps(config))
        mirror = find_mirror()
        if mirror:
            args = [f"-fs-mirror={mirror}", "-platform=linux_amd64"]
        else:
            args = [f"-platform={platform}" for platform in REGISTRY_PLATFORMS]
        tf_env = terraform_env(write_cli_config(folder / "terraform.rc"))
        terraform(["providers", "lock", *args, "hashicorp/aws"], folder, tf_env)
        shutil.copyfile(folder / ".terraform.lock.hcl", PROVIDER_LOCK_FILE)
    print(f"{PROVIDER_LOCK_FILE.name}: written from {'the mirror ' + str(mirror) if mirror else 'the registry'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
