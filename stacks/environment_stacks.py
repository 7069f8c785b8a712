"""The two stacks of an environment: the platform itself, and the bootstrap of its remote state.

`PlatformStack` wires the constructs together and derives every permission from the resources:
the application role is granted the data bucket, Athena queries and trail reads by the
constructs that own them, and the key and bucket policies grow accordingly.
"""

from __future__ import annotations

from cdktf import LocalBackend, S3Backend, TerraformDataSource, TerraformOutput, TerraformResource, TerraformStack
from constructs import Construct

from definitions.aws_context import AwsContext
from environments.config import Environment
from modules.access.application_access import Access, AccessAnalyzer
from modules.access.ci_roles import GitHubDeployRoles
from modules.access.permissions_boundary import PermissionsBoundary
from modules.analytics.athena import COMPACT_PREFIX, RESULTS_PREFIX, Analytics
from modules.analytics.compaction import Compaction
from modules.audit.alert_topic import AlertTopic
from modules.audit.audit_path import AuditPath
from modules.audit.audit_trail import AuditTrail
from modules.audit.dashboard import Dashboard, Widget
from modules.audit.monitoring import Monitoring
from modules.foundation.bindings import provider
from modules.foundation.iam import Role
from modules.foundation.rendering import renders_hcl
from modules.storage.encryption_key import EncryptionKey
from modules.storage.secure_bucket import PROTECTED_PARTS, LifecycleRule, ObjectLock, SecureBucket, Transition, log_access
from rule_pack.rules import suppress
from stacks.deploy_policies import boundary_arn, deploy_policy, plan_policy
from stacks.ids import ACCESS_LOG_BUCKET_ID
from stacks.terraform_settings import (
    AWS_PROVIDER_VERSION,
    BOOTSTRAP_STATE_DIR,
    EXPORTED_BOOTSTRAP_STATE,
    TERRAFORM_VERSION,
    s3_backend,
)

# Days a deleted or overwritten access log is kept before S3 removes it for good.
NONCURRENT_ACCESS_LOG_DAYS = 30


def add_outputs(stack: TerraformStack, values: dict[str, str]) -> None:
    """A Terraform output per value, named by its key."""
    for name, value in values.items():
        TerraformOutput(stack, name, value=value)


class EnvironmentStack(TerraformStack):
    """A stack of one environment in one region: it carries the AwsContext its constructs ask for,
    and the provider pinned to the environment's account, with its tags.

    `protected` lists the construct paths (relative to the stack) of the stateful resources that
    must carry `prevent_destroy` in production; the rule pack checks them on every synth.
    """

    def __init__(self, scope: Construct, id: str, env: Environment, region: str) -> None:
        super().__init__(scope, id)
        self.env = env
        self.protected: list[str] = []
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

    def privileged_names(self, kind: str) -> list[str]:
        """The names of the roles (`kind` "role") or users ("user") that key policies or bucket
        policies exempt by ARN: break-glass, deployers, the CI roles. Whoever changes one becomes it."""
        arns = [*self.env.break_glass_arns, *self.terraform_readers]
        return sorted({arn.rpartition("/")[2] for arn in arns if arn.split(":", 5)[5].startswith(f"{kind}/")})

    def key(self, id: str, alias: str, description: str, *, use_only_by_grantees: bool = False) -> EncryptionKey:
        """A KMS key with the environment's administrators, deletion window, protection and break-glass."""
        env = self.env
        return EncryptionKey(self, id, alias=alias, description=description, admin_arns=env.key_admin_arns,
                             deletion_window_days=env.key_deletion_window_days, prevent_destroy=env.prevent_destroy,
                             break_glass_arns=env.break_glass_arns, deployer_arns=self.deployers,
                             use_only_by_grantees=use_only_by_grantees)

    def protect_bucket(self, id: str) -> None:
        """Put the bucket made under `id` and its protective parts on the protected list."""
        self.protected += [f"{id}/{part}" for part in PROTECTED_PARTS]

    def access_log_bucket(self, name: str) -> SecureBucket:
        """The bucket S3 server access logs of this account and region go to: SSE-S3, since S3
        delivers access logs to no other kind (S3 user guide, "Enabling Amazon S3 server access
        logging"); private and TLS-only like every bucket; logs expire after retention.access_log_days
        and only break-glass deletes them sooner."""
        env = self.env
        bucket = SecureBucket(
            self, ACCESS_LOG_BUCKET_ID, name=name, key=None, prevent_destroy=env.prevent_destroy,
            incomplete_upload_days=env.retention.incomplete_upload_days,
            lifecycle_rules=[LifecycleRule(id="expire-access-logs", expire_days=env.retention.access_log_days,
                                           noncurrent_expire_days=NONCURRENT_ACCESS_LOG_DAYS)],
        )
        suppress(bucket, "BucketsUseKms", "S3 server access logs are delivered only to a bucket with SSE-S3 "
                 "default encryption; the logs hold request metadata, not the data")
        if env.break_glass_arns:
            bucket.deny_deletion("", env.break_glass_arns)
        self.protect_bucket(ACCESS_LOG_BUCKET_ID)
        return bucket

    def outputs(self, values: dict[str, str]) -> None:
        add_outputs(self, values)

    def roles(self) -> list[Role]:
        """Every IAM role this stack creates."""
        return [node for node in self.node.find_all() if isinstance(node, Role)]

    def terraform_types(self) -> set[str]:
        """The Terraform types this stack holds, as stacks/deploy_policies.py keys them."""
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
    local, applied by an administrator. The state bucket's access logs go to the environment
    stack's access-log bucket, or, when the state lives in another region (S3 delivers access logs
    only within a region), to a bucket of the bootstrap's own."""

    def __init__(self, scope: Construct, env: Environment, deploys: EnvironmentStack | None = None) -> None:
        super().__init__(scope, env.bootstrap_stack, env, env.state.region)
        self.protected += ["state-key/key"]
        self.protect_bucket("state-bucket")
        LocalBackend(self, path=EXPORTED_BOOTSTRAP_STATE if self.renders_hcl else f"{BOOTSTRAP_STATE_DIR}/{env.name}.tfstate")
        key = self.key("state-key", env.names.state_key_alias, f"Encrypts the Terraform state of environment {env.name}")
        bucket = SecureBucket(
            self, "state-bucket", name=env.state.bucket, key=key, prevent_destroy=env.prevent_destroy,
            incomplete_upload_days=env.retention.incomplete_upload_days,
            lifecycle_rules=[LifecycleRule(id="expire-old-state-versions",
                                           noncurrent_expire_days=env.retention.state_noncurrent_version_days)],
        )
        outputs = {"state_bucket": bucket.name, "state_key_arn": key.arn}
        if env.state_access_log_bucket:
            bucket.log_access_to(self.access_log_bucket(env.state_access_log_bucket))
        if deploys is not None:  # the boundary of the roles `deploys` creates, out of its appliers' reach
            boundary = PermissionsBoundary(
                self, "workload-boundary", name=env.names.permissions_boundary,
                actions=[action for role in deploys.roles() for action in role.allowed_actions],
                description=f"Bounds every role the stack of environment {env.name} creates")
            outputs["permissions_boundary_arn"] = boundary.arn
        if env.github.repository and deploys is not None:
            types = deploys.terraform_types()
            roles = GitHubDeployRoles(
                self, "github", repository=env.github.repository, environment=env.name,
                plan_role_name=env.names.plan_role, apply_role_name=env.names.apply_role,
                plan_policy=plan_policy(env, types, state_key_arn=key.arn),
                apply_policy=deploy_policy(env, types, state_key_arn=key.arn),
                provider_arn=env.github.oidc_provider_arn)
            outputs |= {"plan_role_arn": roles.plan_role.arn, "apply_role_arn": roles.apply_role.arn}
        self.outputs(outputs)


class PlatformStack(EnvironmentStack):
    """Every resource of the environment; state in the bootstrap's bucket."""

    def __init__(self, scope: Construct, env: Environment) -> None:
        super().__init__(scope, env.name, env, env.region)
        names, retention, audit = env.names, env.retention, env.audit
        self.protected += ["data-key/key", "alerting-key/key", "audit-trail/trail", "audit-trail/log-group"]
        self.protect_bucket("data-bucket")
        self.protect_bucket("trail-bucket")
        settings = s3_backend(env)
        backend = S3Backend(self, **{k: v for k, v in settings.items() if k != "use_lockfile"})
        backend.add_override("use_lockfile", settings["use_lockfile"])  # S3Backend has no argument for it yet
        if self.renders_hcl:  # the export keeps them in backend.hcl: a partial configuration
            for key in settings:
                backend.add_override(key, None)

        data_key = self.key("data-key", names.key_alias,
                            "Encrypts the data, the CloudTrail logs and the Athena query results", use_only_by_grantees=True)
        # Who may use the data key, as CloudTrail records them: complete at synth. The organization
        # trail's alarms on this account's management events read it (stacks/organization_stacks.py).
        self.data_key_identities = data_key.granted_identities
        alerting_key = self.key("alerting-key", names.alerting_key_alias,
                                "Encrypts the audit log group and the security alarm topic")
        access = Access(self, "access", role_name=names.role, group_name=names.group,
                        trusted_services=env.trusted_services, user_arns=env.analyst_user_arns)
        if env.access_analyzer:
            AccessAnalyzer(self, "access-analyzer", name=env.access_analyzer_name)

        bucket_settings = {"key": data_key, "incomplete_upload_days": retention.incomplete_upload_days}
        data_bucket = SecureBucket(
            self, "data-bucket", name=env.data_bucket, restrict_to_grantees=True, prevent_destroy=env.prevent_destroy,
            always_admitted=env.break_glass_arns, listing_admitted=self.terraform_readers,
            lifecycle_rules=[LifecycleRule(id="expire-noncurrent-versions",
                                           noncurrent_expire_days=retention.data_noncurrent_version_days)],
            **bucket_settings,
        )
        results_bucket = SecureBucket(
            self, "results-bucket", name=env.results_bucket, versioned=False,
            lifecycle_rules=[LifecycleRule(id="expire-query-results", prefix=RESULTS_PREFIX, expire_days=retention.athena_results_days),
                             LifecycleRule(id="expire-compact-table", prefix=COMPACT_PREFIX,
                                           expire_days=retention.compact_table_days)],
            **bucket_settings,
        )
        trail_bucket = SecureBucket(
            self, "trail-bucket", name=env.trail_bucket, prevent_destroy=env.prevent_destroy,
            kms_enforced_prefix=f"AWSLogs/{self.context.account}/CloudTrail/",
            object_lock=ObjectLock(audit.object_lock_mode, audit.object_lock_days) if audit.object_lock_mode else None,
            lifecycle_rules=[LifecycleRule(
                id="age-out-logs", expire_days=retention.trail_logs_expire_days,
                noncurrent_expire_days=retention.trail_noncurrent_version_days,
                transitions=[Transition(retention.trail_logs_infrequent_access_days, "STANDARD_IA"),
                             Transition(retention.trail_logs_glacier_days, "GLACIER")],
            )],
            **bucket_settings,
        )
        if audit.object_lock_mode:
            self.protected.append("trail-bucket/object-lock")
        if env.break_glass_arns:  # log files and digests: no one but break-glass deletes them
            trail_bucket.deny_deletion(f"AWSLogs/{self.context.account}/", env.break_glass_arns)
        access_logs = self.access_log_bucket(env.access_log_bucket) if audit.access_logs else None
        if access_logs:
            for bucket in (data_bucket, results_bucket, trail_bucket):
                bucket.log_access_to(access_logs)
            if env.state_access_log_bucket is None:  # the state bucket is of this region: its logs come here
                log_access(self, "state-bucket-access-logging", source=env.state.bucket,
                           source_name=env.state.bucket, target=access_logs)
        trail = AuditTrail(
            self, "audit-trail", name=names.trail, bucket=trail_bucket, key=data_key, watched_buckets=[data_bucket],
            all_buckets_data_events=audit.all_buckets_data_events, excluded_buckets=[access_logs] if access_logs else [],
            insights=audit.insights, management_events=audit.management_events,
            log_group_name=names.log_group, log_group_key=alerting_key, log_retention_days=retention.log_group_days,
            logs_role_name=names.trail_logs_role, prevent_destroy=env.prevent_destroy,
        )
        analytics = Analytics(
            self, "analytics", workgroup_name=names.workgroup, database_name=names.database, trail=trail,
            results_bucket=results_bucket, key=data_key, data_bucket=data_bucket, application_role=access.role,
            bytes_scanned_cutoff=env.athena.bytes_scanned_cutoff, projection_start=env.athena.projection_start,
            projected_regions=env.athena.projected_regions, management_events=audit.management_events,
        )
        compaction = Compaction(self, "compaction", analytics=analytics, workgroup_name=names.compaction,
                                role_name=names.compaction, schedule_name=names.compaction, key=data_key,
                                always_admitted=env.break_glass_arns)
        # Two topics, each under the key the other does not use: a path per key (docs/security.md, "Paths of an alert").
        alarm_topic = AlertTopic(self, "alarm-topic", name=names.alarm_topic, key=alerting_key, emails=env.alarm_emails,
                                 moved_from="monitoring")
        audit_path_topic = AlertTopic(self, "audit-path-topic", name=names.audit_path_topic, key=data_key,
                                      emails=env.alarm_emails)
        AuditPath(self, "audit-path", rule_prefix=names.audit_path_rules, topic=audit_path_topic,
                  keys=[data_key, alerting_key], trail=(trail.name, trail.arn), trail_bucket=trail.bucket.name)
        monitoring = Monitoring(
            self, "monitoring", log_group=trail.log_group, topic=alarm_topic, audit_path_topic=audit_path_topic,
            data_key=data_key, data_bucket_name=data_bucket.name, data_key_calls_per_hour=audit.data_key_calls_per_hour,
            workgroup_name=names.workgroup, athena_bytes_per_hour=audit.athena_bytes_per_hour,
            compaction_workgroup_name=compaction.workgroup_name,
            privileged_role_names=self.privileged_names("role"), privileged_user_names=self.privileged_names("user"),
            management_events=audit.management_events,
        )
        Dashboard(self, "dashboard", name=names.dashboard, widgets=[
            Widget("Alarms", alarms=monitoring.alarm_arns),
            *([Widget("Data key requests by operation", [monitoring.key_operations])] if monitoring.key_operations else []),
            *([Widget("Data bucket requests and errors", data_bucket.request_metrics())] if audit.request_metrics else []),
            Widget("Athena bytes scanned", monitoring.athena_bytes),
            Widget("Trail events delivered to CloudWatch Logs", [monitoring.log_events]),
        ])

        # Every role of this stack within the boundary the bootstrap creates (stacks/deploy_policies.py):
        # whoever applies this stack may create or change a role only so.
        for bounded in self.roles():
            bounded.bound_by(boundary_arn(env))

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
            "analysts_group": access.group.resource.name, "alarm_topic_arn": alarm_topic.arn,
            "audit_path_topic_arn": audit_path_topic.arn, "dashboard_name": names.dashboard,
        })
