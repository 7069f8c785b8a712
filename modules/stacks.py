"""The two stacks of an environment: the platform itself, and the bootstrap of its remote state.

`PlatformStack` wires the constructs together and derives every permission from the resources:
the application role is granted the data bucket, Athena queries and trail reads by the
constructs that own them, and the key and bucket policies grow accordingly.
"""

from __future__ import annotations

from cdktf import LocalBackend, S3Backend, TerraformDataSource, TerraformOutput, TerraformResource, TerraformStack
from constructs import Construct

from environments.config import Environment
from modules.access import Access, AccessAnalyzer
from modules.analytics import Analytics
from modules.audit_trail import AuditTrail
from modules.aws import provider
from modules.context import AwsContext
from modules.deployer import deploy_policy, plan_policy
from modules.encryption_key import EncryptionKey
from modules.github_oidc import GitHubDeployRoles
from modules.monitoring import Monitoring
from modules.rendering import renders_hcl
from modules.secure_bucket import PROTECTED_PARTS, LifecycleRule, SecureBucket, Transition
from modules.terraform_settings import (
    AWS_PROVIDER_VERSION,
    BOOTSTRAP_STATE_DIR,
    EXPORTED_BOOTSTRAP_STATE,
    TERRAFORM_VERSION,
    s3_backend,
)


class EnvironmentStack(TerraformStack):
    """A stack of one environment in one region: it carries the AwsContext its constructs ask for,
    and the provider pinned to the environment's account, with its tags.

    `protected` lists the construct paths (relative to the stack) of the stateful resources that
    must carry `prevent_destroy` in production; the rule pack checks them on every synth.
    """

    protected: tuple[str, ...] = ()

    def __init__(self, scope: Construct, id: str, env: Environment, region: str) -> None:
        super().__init__(scope, id)
        self.env = env
        self.context = AwsContext(env.account_id, region).attach(self)
        provider.AwsProvider(
            self, "aws", region=region, allowed_account_ids=[env.account_id],
            default_tags=[provider.AwsProviderDefaultTags(tags=env.all_tags)],
        )
        # The bindings write "aws" and their own release: name the provider in full for readers of
        # the exported HCL, and admit the releases the lock file and the tests cover.
        self.add_override("terraform.required_providers.aws", {"source": "hashicorp/aws", "version": AWS_PROVIDER_VERSION})
        self.renders_hcl = renders_hcl(self)
        if not self.renders_hcl:  # cdktf's HCL output cannot render it: the export writes versions.tf
            self.add_override("terraform.required_version", TERRAFORM_VERSION)

    @property
    def deployers(self) -> list[str]:
        """The principals that run Terraform: the environment's, and the CI apply role."""
        env, ci = self.env, [self.context.arn("iam", f"role/{self.env.names.apply_role}")] if self.env.github.repository else []
        return [*env.deployer_arns, *ci]

    @property
    def terraform_readers(self) -> list[str]:
        """Who reads every resource to plan: the deployers, and the CI plan role."""
        env = self.env
        return [*self.deployers, *([self.context.arn("iam", f"role/{env.names.plan_role}")] if env.github.repository else [])]

    def key(self, id: str, alias: str, description: str) -> EncryptionKey:
        """A KMS key with the environment's administrators, deletion window, protection and break-glass."""
        env = self.env
        return EncryptionKey(self, id, alias=alias, description=description, admin_arns=env.key_admin_arns,
                             deletion_window_days=env.key_deletion_window_days, prevent_destroy=env.prevent_destroy,
                             break_glass_arns=env.break_glass_arns, deployer_arns=self.deployers)

    def outputs(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            TerraformOutput(self, name, value=value)

    def terraform_types(self) -> set[str]:
        """The Terraform types this stack holds, as modules/deployer.py keys them."""
        types = {"provider.aws", f"backend.{'local' if isinstance(self, BootstrapStack) else 's3'}"}
        for node in self.node.find_all():
            if isinstance(node, TerraformDataSource):
                types.add(f"data.{node.terraform_resource_type}")
            elif isinstance(node, TerraformResource):
                types.add(f"resource.{node.terraform_resource_type}")
        return types


class BootstrapStack(EnvironmentStack):
    """The environment's state bucket and its key, and, with `github.repository`, the roles the
    workflows assume to plan and apply `deploys` (the environment's stack); its own state stays
    local, applied by an administrator."""

    protected = ("state-key/key", *(f"state-bucket/{part}" for part in PROTECTED_PARTS))

    def __init__(self, scope: Construct, env: Environment, deploys: EnvironmentStack | None = None) -> None:
        super().__init__(scope, env.bootstrap_stack, env, env.state.region)
        LocalBackend(self, path=EXPORTED_BOOTSTRAP_STATE if self.renders_hcl else f"{BOOTSTRAP_STATE_DIR}/{env.name}.tfstate")
        key = self.key("state-key", env.names.state_key_alias, f"Encrypts the Terraform state of environment {env.name}")
        bucket = SecureBucket(
            self, "state-bucket", name=env.state.bucket, key=key, prevent_destroy=env.prevent_destroy,
            incomplete_upload_days=env.retention.incomplete_upload_days,
            lifecycle_rules=[LifecycleRule(id="expire-old-state-versions",
                                           noncurrent_expire_days=env.retention.state_noncurrent_version_days)],
        )
        outputs = {"state_bucket": bucket.name, "state_key_arn": key.arn}
        if env.github.repository and deploys is not None:
            types = deploys.terraform_types()
            roles = GitHubDeployRoles(
                self, "github", repository=env.github.repository, environment=env.name,
                plan_role_name=env.names.plan_role, apply_role_name=env.names.apply_role,
                plan_policy=plan_policy(env, types), apply_policy=deploy_policy(env, types),
                provider_arn=env.github.oidc_provider_arn)
            outputs |= {"plan_role_arn": roles.plan_role.arn, "apply_role_arn": roles.apply_role.arn}
        self.outputs(outputs)


class PlatformStack(EnvironmentStack):
    """Every resource of the environment; state in the bootstrap's bucket."""

    protected = ("data-key/key", "alerting-key/key", "audit-trail/trail", "audit-trail/log-group",
                 *(f"{bucket}/{part}" for bucket in ("data-bucket", "trail-bucket") for part in PROTECTED_PARTS))

    def __init__(self, scope: Construct, env: Environment) -> None:
        super().__init__(scope, env.name, env, env.region)
        names, retention = env.names, env.retention
        settings = s3_backend(env)
        backend = S3Backend(self, **{k: v for k, v in settings.items() if k != "use_lockfile"})
        backend.add_override("use_lockfile", settings["use_lockfile"])  # S3Backend has no argument for it yet
        if self.renders_hcl:  # the export keeps them in backend.hcl: a partial configuration
            for key in settings:
                backend.add_override(key, None)

        data_key = self.key("data-key", names.key_alias,
                            "Encrypts the data, the CloudTrail logs and the Athena query results")
        alerting_key = self.key("alerting-key", names.alerting_key_alias,
                                "Encrypts the audit log group and the security alarm topic")
        access = Access(self, "access", role_name=names.role, group_name=names.group,
                        trusted_services=env.trusted_services, user_arns=env.analyst_user_arns)
        if env.access_analyzer:
            AccessAnalyzer(self, "access-analyzer", name=env.access_analyzer_name)

        bucket_settings = {"key": data_key, "incomplete_upload_days": retention.incomplete_upload_days}
        data_bucket = SecureBucket(
            self, "data-bucket", name=env.data_bucket, restrict_to_grantees=True, prevent_destroy=env.prevent_destroy,
            always_admitted=[*env.break_glass_arns, *self.terraform_readers],
            lifecycle_rules=[LifecycleRule(id="expire-noncurrent-versions",
                                           noncurrent_expire_days=retention.data_noncurrent_version_days)],
            **bucket_settings,
        )
        results_bucket = SecureBucket(
            self, "results-bucket", name=env.results_bucket, versioned=False,
            lifecycle_rules=[LifecycleRule(id="expire-query-results", expire_days=retention.athena_results_days)],
            **bucket_settings,
        )
        trail_bucket = SecureBucket(
            self, "trail-bucket", name=env.trail_bucket, prevent_destroy=env.prevent_destroy,
            kms_enforced_prefix=f"AWSLogs/{self.context.account}/CloudTrail/",
            lifecycle_rules=[LifecycleRule(
                id="age-out-logs", expire_days=retention.trail_logs_expire_days,
                noncurrent_expire_days=retention.trail_noncurrent_version_days,
                transitions=[Transition(retention.trail_logs_infrequent_access_days, "STANDARD_IA"),
                             Transition(retention.trail_logs_glacier_days, "GLACIER")],
            )],
            **bucket_settings,
        )
        if env.break_glass_arns:  # log files and digests: no one but break-glass deletes them
            trail_bucket.deny_deletion(f"AWSLogs/{self.context.account}/", env.break_glass_arns)
        trail = AuditTrail(
            self, "audit-trail", name=names.trail, bucket=trail_bucket, key=data_key, watched_buckets=[data_bucket],
            log_group_name=names.log_group, log_group_key=alerting_key, log_retention_days=retention.log_group_days,
            logs_role_name=names.trail_logs_role, prevent_destroy=env.prevent_destroy,
        )
        analytics = Analytics(
            self, "analytics", workgroup_name=names.workgroup, database_name=names.database, trail=trail,
            results_bucket=results_bucket, key=data_key,
            bytes_scanned_cutoff=env.athena.bytes_scanned_cutoff, projection_start=env.athena.projection_start,
            projected_regions=env.athena.projected_regions,
        )
        monitoring = Monitoring(self, "monitoring", log_group=trail.log_group, topic_name=names.alarm_topic,
                                alerting_key=alerting_key, watched_key=data_key, emails=env.alarm_emails)

        role = access.role.grantee
        data_bucket.grant_read_write(role)
        analytics.grant_query(role)
        trail.grant_read(role)
        if env.analysts_direct_athena:
            analytics.grant_query(access.group.grantee)

        self.outputs({
            "data_key_arn": data_key.arn, "alerting_key_arn": alerting_key.arn,
            "data_bucket": data_bucket.name, "results_bucket": results_bucket.name, "trail_bucket": trail_bucket.name,
            "trail_arn": trail.resource.arn, "workgroup": analytics.resource.name, "application_role_arn": access.role.arn,
            "analysts_group": access.group.resource.name, "alarm_topic_arn": monitoring.arn,
        })
