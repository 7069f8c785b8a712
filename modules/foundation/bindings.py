"""The prebuilt AWS provider bindings, imported fast.

`import cdktf_cdktf_provider_aws.<anything>` runs the package `__init__`, which imports all
~2,200 resource submodules (about 9 s of a 13 s synth). The submodules need only the package's
`_jsii` module (the jsii assembly), so the package is registered here as a bare module carrying
just its `__path__`, and only the submodules listed below are imported. The output is identical.

Every construct imports its resource classes from here; a new resource type means one more
name in `_SUBMODULES`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

_PACKAGE = "cdktf_cdktf_provider_aws"

_SUBMODULES = (
    "accessanalyzer_analyzer", "athena_named_query", "athena_workgroup", "cloudtrail", "cloudwatch_log_group",
    "cloudwatch_dashboard", "cloudwatch_event_rule", "cloudwatch_event_target", "cloudwatch_log_metric_filter",
    "cloudwatch_metric_alarm", "cloudtrail_organization_delegated_admin_account", "data_aws_iam_policy_document",
    "data_aws_cloudwatch_log_group", "data_aws_kms_key", "data_aws_organizations_organization", "organizations_policy",
    "organizations_policy_attachment",
    "glue_catalog_database", "glue_catalog_table", "iam_group", "iam_group_policy", "iam_openid_connect_provider", "iam_policy", "iam_role",
    "iam_role_policy", "kms_alias", "kms_key", "provider", "s3_bucket",
    "s3_bucket_lifecycle_configuration", "s3_bucket_logging", "s3_bucket_metric", "s3_bucket_object_lock_configuration",
    "s3_bucket_ownership_controls", "s3_bucket_policy",
    "s3_bucket_public_access_block", "s3_bucket_server_side_encryption_configuration",
    "s3_bucket_versioning", "scheduler_schedule", "sns_topic", "sns_topic_policy", "sns_topic_subscription",
)


def _register_bare_package() -> None:
    if _PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"{_PACKAGE} is not installed")
    package = types.ModuleType(_PACKAGE)
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    package.__file__ = spec.origin
    sys.modules[_PACKAGE] = package


_register_bare_package()
# Each submodule becomes an attribute of this module: `from modules.foundation.bindings import kms_key`.
globals().update({name: importlib.import_module(f"{_PACKAGE}.{name}") for name in _SUBMODULES})
__all__ = list(_SUBMODULES)
