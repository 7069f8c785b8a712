"""The organization's stacks, one account each (organization.toml; docs/organization.md):

- `org-bootstrap` (management, local state): the bucket and key of the other stacks' state.
- `org-security` (security tooling): the trail key, the investigations (Athena workgroup, Glue
  database and tables, named queries, results bucket and key), the investigator role and its
  MFA group, and the alarm topic every alarm of the organization notifies, under a key of its own.
- `org-archive` (log archive): the trail bucket, Object Lock, the break-glass deletion deny, and
  its access-log bucket.
- `org-trail` (management, or the CloudTrail delegated administrator): the organization trail,
  its log group, logs role and its key (the alerting key), the CIS alarms and the heartbeat, and
  the alarms on management events of the environments that leave those events to this trail.
- `org-governance` (management): the CloudTrail delegated administrators, and the service and
  resource control policies that protect the trail, its bucket and its key.

With `trail = "existing"`, another system owns the trail, its bucket and its control policies:
only `org-bootstrap`, `org-security` and `org-trail` (alarms on the existing log group) are made.

The three accounts that hold part of the trail (its key, its bucket, the trail itself) each have
an audit path: EventBridge rules on the calls that would blind it, notifying a topic of that
account that the alerting key does not encrypt (`OrganizationStack.audit_path`). EventBridge
delivers an account's CloudTrail events to that account's own bus, so each account watches what
it holds.

Each stack's provider is pinned to its account (`allowed_account_ids`) and, outside the management
account, assumes `deploy_role` there (AWS Organizations creates OrganizationAccountAccessRole in
member accounts only; the management account's stacks run with the caller's own credentials).
Values crossing stacks are derived from the topology (names, the trail's ARN, the organization
id), or looked up through a provider that assumes `lookup_role` (the trail key's ARN, an
environment's data key's ARN); no stack reads another's state. Applied in ORGANIZATION_STACKS
order: a policy that names a principal or a key of another stack needs it to exist.

Nothing here grows with the members but the topology's account list: `org_cloudtrail`'s account
projection, and the investigations that name the organization's accounts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cdktf import LocalBackend, S3Backend, TerraformStack
from constructs import Construct

from definitions import naming
from definitions.aws_context import AwsContext
from environments.config import Environment
from environments.organization import Organization
from modules.access.application_access import Access
from modules.analytics.athena import query_values
from modules.analytics.organization_tables import OrganizationTables
from modules.audit import cloudtrail_delivery as delivery
from modules.audit.alert_topic import AlertTopic, TopicReference
from modules.audit.audit_path import AuditPath
from modules.audit.audit_trail import AuditTrail, OrganizationTrail
from modules.audit.monitoring import TrailAlarms
from modules.foundation.bindings import (
    cloudtrail_organization_delegated_admin_account,
    data_aws_cloudwatch_log_group,
    data_aws_organizations_organization,
    organizations_policy,
    organizations_policy_attachment,
    provider,
)
from modules.foundation.policy import PolicyDocument, Statement
from modules.storage.encryption_key import S3_READ_ACTIONS, EncryptionKey, KeyReference
from modules.storage.secure_bucket import (
    PROTECTED_PARTS,
    BucketReference,
    LifecycleRule,
    ObjectLock,
    SecureBucket,
    grant_read_across_accounts,
)
from rule_pack.rules import suppress
from stacks.environment_stacks import PlatformStack, add_outputs
from stacks.ids import ACCESS_LOG_BUCKET_ID, ORGANIZATION_STACKS
from stacks.terraform_settings import AWS_PROVIDER_VERSION, BOOTSTRAP_STATE_DIR, TERRAFORM_VERSION

ANALYSIS_RESULTS_DAYS = 30
NONCURRENT_ACCESS_LOG_DAYS = 30
ACCESS_LOG_DAYS = 365
STATE_NONCURRENT_DAYS = 90
# What the service control policy keeps from everyone but break-glass and the deployers (CloudTrail,
# S3 and KMS service authorization references for the action names).
TRAIL_CHANGES = ("cloudtrail:DeleteTrail", "cloudtrail:PutEventSelectors", "cloudtrail:PutInsightSelectors",
                 "cloudtrail:StopLogging", "cloudtrail:UpdateTrail")
BUCKET_CHANGES = ("s3:DeleteBucket", "s3:DeleteBucketPolicy", "s3:PutBucketObjectLockConfiguration", "s3:PutBucketPolicy",
                  "s3:PutBucketVersioning", "s3:PutEncryptionConfiguration", "s3:PutLifecycleConfiguration")
# The alias too: the key is matched by it (kms:ResourceAliases), so removing or moving it first
# would take the key out of the deny.
KEY_CHANGES = ("kms:DeleteAlias", "kms:DisableKey", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:UpdateAlias")


class OrganizationStack(TerraformStack):
    """A stack of one account of the organization, in its home region; state in the bootstrap's
    bucket (`org-bootstrap` keeps its own locally)."""

    def __init__(self, scope: Construct, id: str, org: Organization, account: str) -> None:
        super().__init__(scope, id)
        self.org, self.account = org, account
        s = org.settings
        self.names = org.names
        self.protected: list[str] = []
        self.context = AwsContext(account, s.home_region).attach(self)
        self.management = AwsContext(s.management_account, s.home_region)
        self.security = AwsContext(s.security_account, s.home_region)
        self.trail_arn = delivery.trail_arn(self.management, self.names.trail)
        self.trail_bucket = BucketReference(self.names.trail_bucket, self.context.arn("s3", self.names.trail_bucket))
        tags = [provider.AwsProviderDefaultTags(tags={"organization": s.id, "stack": id, "managed-by": "cdktf"})]
        provider.AwsProvider(self, "aws", region=s.home_region, allowed_account_ids=[account], default_tags=tags,
                             assume_role=self._assume(account, s.deploy_role, id))
        self.add_override("terraform.required_providers.aws", {"source": "hashicorp/aws", "version": AWS_PROVIDER_VERSION})
        self.add_override("terraform.required_version", TERRAFORM_VERSION)
        if id == ORGANIZATION_STACKS[0]:
            LocalBackend(self, path=f"{BOOTSTRAP_STATE_DIR}/{id}.tfstate")
        else:
            backend = S3Backend(self, bucket=self.names.state_bucket, key=f"{id}/terraform.tfstate", region=s.home_region,
                                encrypt=True, kms_key_id=self.management.arn("kms", self.names.state_key_alias))
            backend.add_override("use_lockfile", True)  # S3Backend has no argument for it yet

    def _assume(self, account: str, role: str, session: str) -> list[provider.AwsProviderAssumeRole] | None:
        if account == self.org.settings.management_account:
            return None
        return [provider.AwsProviderAssumeRole(role_arn=self.context.arn("iam", f"role/{role}", account=account),
                                               session_name=f"terraform-{session}")]

    @property
    def deployers(self) -> list[str]:
        """Who runs Terraform here: the deploy role, outside the management account (where the
        caller's own credentials apply and no name can be given)."""
        if self.account == self.org.settings.management_account:
            return []
        return [self.context.arn("iam", f"role/{self.org.settings.deploy_role}")]

    @property
    def break_glass(self) -> list[str]:
        return [self.context.arn("iam", f"role/{self.org.settings.break_glass_role}")]

    def key(self, id: str, alias: str, description: str, *, use_only_by_grantees: bool = False) -> EncryptionKey:
        """A key whose disabling, deletion and policy are kept to break-glass (and the deployers):
        outside the management account only, since KMS refuses a policy that would lock out the
        caller of PutKeyPolicy, and there the caller has no name."""
        guarded = bool(self.deployers)
        self.protected.append(f"{id}/key")
        return EncryptionKey(self, id, alias=alias, description=description, prevent_destroy=self.org.settings.prevent_destroy,
                             break_glass_arns=self.break_glass if guarded else (), deployer_arns=self.deployers,
                             use_only_by_grantees=use_only_by_grantees)

    def bucket(self, id: str, **settings) -> SecureBucket:
        self.protected += [f"{id}/{part}" for part in PROTECTED_PARTS if settings.get("versioned", True) or part != "versioning"]
        return SecureBucket(self, id, prevent_destroy=self.org.settings.prevent_destroy, **settings)

    def lookup_provider(self, account: str, region: str | None = None) -> provider.AwsProvider:
        """A provider assuming `lookup_role` in `account`, in `region` (default the home region),
        for data sources alone; one per account and region."""
        s = self.org.settings
        region = region or s.home_region
        suffix = account if region == s.home_region else f"{account}-{region}"
        if found := self.node.try_find_child(f"lookup-{suffix}"):
            return found
        return provider.AwsProvider(self, f"lookup-{suffix}", alias=f"lookup_{suffix.replace('-', '_')}", region=region,
                                    allowed_account_ids=[account], assume_role=self._assume(account, s.lookup_role, f"{self.node.id}-lookup"))

    def trail_key(self) -> KeyReference:
        """The security account's trail key, looked up by its alias."""
        return KeyReference(self, "trail-key", alias=self.names.trail_key_alias, account=self.security.account,
                            provider=self.lookup_provider(self.security.account))

    def audit_path(self, key: EncryptionKey | None = None, **watched) -> AlertTopic:
        """This account's audit path: EventBridge rules on the CloudTrail events that act on what it
        holds of the trail (`watched`: AuditPath's keys, trail, trail_bucket), notifying a topic under
        `key`, a key made for it when None: never the alerting key, so that disabling that key
        (which silences the trail's log group and its alarms) still reaches someone. Returns the topic."""
        names, s = self.names, self.org.settings
        if key is None:
            key = self.key("audit-path-key", names.audit_path_key_alias, "Encrypts this account's audit-path topic")
        topic = AlertTopic(self, "audit-path-topic", name=names.audit_path, key=key, emails=s.alarm_emails)
        AuditPath(self, "audit-path", rule_prefix=names.audit_path, topic=topic, **watched)
        return topic

    def environment_data_key(self, env: Environment) -> KeyReference:
        """An environment's data key, looked up by its alias in its account and region."""
        return KeyReference(self, f"{env.name}-data-key", alias=env.names.key_alias, account=env.account_id,
                            region=env.region, provider=self.lookup_provider(env.account_id, env.region))

    @property
    def investigator_arn(self) -> str:
        return self.security.arn("iam", f"role/{self.names.investigator_role}")

    def outputs(self, values: dict[str, str]) -> None:
        add_outputs(self, values)


class OrganizationBootstrapStack(OrganizationStack):
    def __init__(self, scope: Construct, org: Organization) -> None:
        super().__init__(scope, ORGANIZATION_STACKS[0], org, org.settings.management_account)
        key = self.key("state-key", self.names.state_key_alias, "Encrypts the Terraform state of the organization's stacks")
        bucket = self.bucket("state-bucket", name=self.names.state_bucket, key=key, lifecycle_rules=[
            LifecycleRule(id="expire-old-state-versions", noncurrent_expire_days=STATE_NONCURRENT_DAYS)])
        self.outputs({"state_bucket": bucket.name, "state_key_arn": key.arn})


class OrganizationSecurityStack(OrganizationStack):
    """With `environments`: the environments' stacks; the investigations of management events of
    those that leave them to the organization trail run here, on their accounts."""

    def __init__(self, scope: Construct, org: Organization, environments: Sequence[PlatformStack] = ()) -> None:
        s = org.settings
        super().__init__(scope, "org-security", org, s.security_account)
        names = self.names
        trail_key: EncryptionKey | KeyReference | None = None
        if org.managed:
            trail_key = self.key("trail-key", names.trail_key_alias, "Encrypts the organization trail's log files",
                                 use_only_by_grantees=True)
            for statement in delivery.key_statements(self.trail_arn, self.management):
                trail_key.allow(statement)
        elif s.existing_trail_key_arn:  # its owner's key policy must admit the investigator role too
            trail_key = KeyReference(self, "trail-key", account=naming.arn_account(s.existing_trail_key_arn),
                                     arn=s.existing_trail_key_arn)
        results_key = self.key("results-key", names.results_key_alias, "Encrypts the organization's query results")
        results_bucket = self.bucket("results-bucket", name=names.results_bucket, key=results_key, versioned=False,
                                     lifecycle_rules=[LifecycleRule(id="expire-query-results", expire_days=ANALYSIS_RESULTS_DAYS)])
        tables = OrganizationTables(
            self, "investigations", workgroup_name=names.workgroup, database_name=names.database,
            logs_location=f"s3://{names.trail_bucket}/AWSLogs/{s.id}/", accounts=sorted(org.accounts),
            management_account=s.management_account,
            # Every region, the opt-in ones included: an account that enables one is logged there too, and
            # an attacker may work where no one looks.
            regions=naming.all_regions(self.context.partition), projection_start=s.projection_start,
            results_bucket=results_bucket, key=results_key, bytes_scanned_cutoff=s.bytes_scanned_cutoff,
            environment_queries={p.env.name: self._environment_query_values(p.env) for p in environments
                                 if not p.env.audit.management_events})
        investigators = Access(self, "investigators", role_name=names.investigator_role, group_name=names.investigators_group,
                               trusted_services=[], user_arns=s.investigator_user_arns,
                               description="Investigates the organization trail's logs, with MFA")
        grantee = investigators.role.grantee
        tables.grant_query(grantee)
        # An existing trail's bucket policy is its owner's: it must admit the investigator role too.
        grant_read_across_accounts(grantee, self.trail_bucket, f"AWSLogs/{s.id}/")
        if trail_key:
            trail_key.grant_through_s3(grantee, "ReadTrailLogs", S3_READ_ACTIONS, delivery.log_file_conditions(self.management))
        # Every alarm of the organization notifies this topic, under a key of its own: disabling the
        # trail's log group key or the trail key leaves it working.
        alarm_topic_key = self.key("alarm-topic-key", names.alarm_topic_key_alias, "Encrypts the organization's alarm topic")
        AlertTopic(self, "alarm-topic", name=names.alarm_topic, key=alarm_topic_key,
                   emails=s.alarm_emails).allow_alarms(accounts=[org.trail_account])
        # The results key encrypts the audit path's topic: the watched keys' own changes must not silence it.
        self.audit_path(results_key, keys=[*([trail_key] if isinstance(trail_key, EncryptionKey) else []), alarm_topic_key])
        self.outputs({"workgroup": tables.name, "investigator_role_arn": investigators.role.arn,
                      **({"trail_key_arn": trail_key.arn} if trail_key else {})})

    def _environment_query_values(self, env: Environment) -> dict[str, str]:
        """What an environment's investigations name, from its file; its data key's ARN looked up by
        alias in its account and region."""
        where = AwsContext(env.account_id, env.region)
        return query_values(account=env.account_id, region=env.region, data_bucket=env.data_bucket,
                            results_bucket=env.results_bucket, trail_bucket=env.trail_bucket, trail_name=env.names.trail,
                            trail_arn=delivery.trail_arn(where, env.names.trail),
                            data_key_arn=self.environment_data_key(env).arn,
                            application_role_arn=where.arn("iam", f"role/{env.names.role}"))


class OrganizationArchiveStack(OrganizationStack):
    def __init__(self, scope: Construct, org: Organization) -> None:
        s = org.settings
        super().__init__(scope, "org-archive", org, s.log_archive_account)
        names = self.names
        access_logs = self.bucket(ACCESS_LOG_BUCKET_ID, name=names.access_log_bucket, key=None, lifecycle_rules=[
            LifecycleRule(id="expire-access-logs", expire_days=ACCESS_LOG_DAYS, noncurrent_expire_days=NONCURRENT_ACCESS_LOG_DAYS)])
        suppress(access_logs, "BucketsUseKms", "S3 server access logs are delivered only to a bucket with SSE-S3 "
                 "default encryption; the logs hold request metadata, not the data")
        access_logs.deny_deletion("", self.break_glass)
        # KMS enforced on log files alone: CloudTrail writes its digest files with SSE-S3, beside them.
        bucket = self.bucket("trail-bucket", name=names.trail_bucket, key=self.trail_key(),
                             kms_enforced_prefix=f"AWSLogs/{s.id}/*/CloudTrail/",
                             object_lock=ObjectLock(s.object_lock_mode, s.object_lock_days))
        self.protected.append("trail-bucket/object-lock")
        for statement in delivery.bucket_statements(bucket.arn, self.trail_arn,
                                                    [f"AWSLogs/{s.management_account}/", f"AWSLogs/{s.id}/"], s.id):
            bucket.policy.add(statement)
        bucket.deny_deletion("AWSLogs/", self.break_glass)
        bucket.admit_reader("Investigators", self.investigator_arn, f"AWSLogs/{s.id}/")
        bucket.log_access_to(access_logs)
        self.audit_path(trail_bucket=bucket.name)
        self.outputs({"trail_bucket": bucket.name, "access_log_bucket": access_logs.name})


class OrganizationTrailStack(OrganizationStack):
    """With `environments`: the environments' stacks, whose system alarms on management events run
    here for those that leave their management events to this trail (`audit.management_events =
    false`): this log group receives them."""

    def __init__(self, scope: Construct, org: Organization, environments: Sequence[PlatformStack] = ()) -> None:
        s = org.settings
        super().__init__(scope, "org-trail", org, org.trail_account)
        names = self.names
        # The alarm topic is the security account's (its stack admits these alarms).
        topic = TopicReference(self.security.arn("sns", names.alarm_topic))
        watched_keys = []
        if org.managed:
            alerting_key = self.key("alerting-key", names.alerting_key_alias, "Encrypts the organization trail's log group")
            watched_keys.append(alerting_key)
            trail = AuditTrail(self, "audit-trail", name=names.trail, bucket=self.trail_bucket, key=self.trail_key(),
                               log_group_name=names.log_group, log_group_key=alerting_key,
                               log_retention_days=s.log_retention_days, logs_role_name=names.logs_role,
                               prevent_destroy=s.prevent_destroy, organization=OrganizationTrail(s.id, s.management_account))
            self.protected += ["audit-trail/trail", "audit-trail/log-group"]
            log_group = trail.log_group
        else:  # another system's trail: its log group is read, never managed
            log_group = data_aws_cloudwatch_log_group.DataAwsCloudwatchLogGroup(self, "log-group", name=s.existing_log_group)
        audit_path_topic = self.audit_path(keys=watched_keys, trail=(names.trail, self.trail_arn))
        alarms = TrailAlarms(self, "alarms", log_group=log_group, topic=topic, audit_path_topic=audit_path_topic)
        alarms.heartbeat()
        for platform in environments:
            if not platform.env.audit.management_events:
                self._environment_alarms(alarms, platform)
        self.outputs({"trail_arn": self.trail_arn, "alarm_topic_arn": topic.arn})

    def _environment_alarms(self, alarms: TrailAlarms, platform: PlatformStack) -> None:
        """An environment's system alarms on management events, narrowed to its account, and its
        data key's usage. The key's ARN is looked up by its alias in the environment's account and
        region; each metric and alarm name begins with the environment's name."""
        env = platform.env
        key = self.environment_data_key(env)
        prefix = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", env.name))
        alarms.system_alarms(recorded=("management",), data_bucket_name=env.data_bucket, data_key_arn=key.arn,
                             granted_identities=platform.data_key_identities,
                             privileged_role_names=platform.privileged_names("role"),
                             privileged_user_names=platform.privileged_names("user"), account=env.account_id, prefix=prefix)
        alarms.data_key_usage(data_key_arn=key.arn, calls_per_hour=env.audit.data_key_calls_per_hour, account=env.account_id,
                              prefix=prefix)


class OrganizationGovernanceStack(OrganizationStack):
    def __init__(self, scope: Construct, org: Organization) -> None:
        s = org.settings
        super().__init__(scope, "org-governance", org, s.management_account)
        names = self.names
        # Read, never managed: trusted access for CloudTrail and both policy types on the root are
        # preconditions a plan checks, with the command that enables each.
        organization = data_aws_organizations_organization.DataAwsOrganizationsOrganization(self, "organization")
        organization.add_override("lifecycle.postcondition", [
            {"condition": f'${{contains(self.aws_service_access_principals, "{delivery.CLOUDTRAIL}")}}',
             "error_message": "Trusted access for CloudTrail is off: aws organizations enable-aws-service-access "
                              f"--service-principal {delivery.CLOUDTRAIL}"},
            *({"condition": f'${{contains([for t in self.roots[0].policy_types : t.type if t.status == "ENABLED"], "{kind}")}}',
               "error_message": f"{kind} is not enabled on the root: aws organizations enable-policy-type "
                                f"--root-id <root> --policy-type {kind}"}
              for kind in ("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY")),
            {"condition": f'${{self.id == "{s.id}"}}', "error_message": f"This is not organization {s.id}"},
        ])
        for admin in s.cloudtrail_delegated_admins:
            cloudtrail_organization_delegated_admin_account.CloudtrailOrganizationDelegatedAdminAccount(
                self, f"cloudtrail-delegated-admin-{admin}", account_id=admin)
        root = organization.roots.get(0).id
        for id, name, kind, description, document in (
                ("service-control-policy", names.service_control_policy, "SERVICE_CONTROL_POLICY",
                 "Keeps the organization trail, its bucket and its key from all but break-glass and the deployers",
                 self._service_control_policy()),
                ("resource-control-policy", names.resource_control_policy, "RESOURCE_CONTROL_POLICY",
                 "Keeps the trail bucket and key to principals of the organization and AWS services",
                 self._resource_control_policy())):
            policy = organizations_policy.OrganizationsPolicy(self, id, name=name, type=kind, description=description,
                                                              content=document.json)
            organizations_policy_attachment.OrganizationsPolicyAttachment(self, f"{id}-attachment", policy_id=policy.id,
                                                                         target_id=root)
        self.outputs({"organization_root": root})

    def _service_control_policy(self) -> PolicyDocument:
        """Denies, outside break-glass and the deployers (in any account), the changes that would
        stop, narrow or hide the trail. SCPs bind member accounts alone, never the management
        account (AWS Organizations user guide, "Service control policies"): there, the trail
        stands on who holds the management account's credentials."""
        s = self.org.settings
        exempt = {"ArnNotLike": {"aws:PrincipalArn": [self.context.arn("iam", f"role/{role}", account="*")
                                                      for role in (s.break_glass_role, s.deploy_role)]}}
        key_arns = [self.security.arn("kms", "key/*", region="*")]
        return PolicyDocument(self, "service-control-policy-document", [
            Statement(sid="DenyTrailChanges", effect="Deny", actions=TRAIL_CHANGES, resources=[self.trail_arn], conditions=exempt),
            Statement(sid="DenyTrailBucketChanges", effect="Deny", actions=BUCKET_CHANGES, resources=[self.trail_bucket.arn],
                      conditions=exempt),
            # kms:ResourceAliases names the key by its alias (KMS developer guide, "kms:ResourceAliases").
            Statement(sid="DenyTrailKeyChanges", effect="Deny", actions=KEY_CHANGES, resources=key_arns,
                      conditions={**exempt, "ForAnyValue:StringEquals": {"kms:ResourceAliases": [self.names.trail_key_alias]}}),
        ])

    def _resource_control_policy(self) -> PolicyDocument:
        """The data perimeter of AWS's resource control policy examples: the trail bucket and key
        answer principals of the organization and AWS services acting for it (CloudTrail), no one
        else, whatever a bucket or key policy says."""
        outside = {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": [self.org.settings.id]},
                   "BoolIfExists": {"aws:PrincipalIsAWSService": ["false"]}}
        return PolicyDocument(self, "resource-control-policy-document", [
            Statement(sid="DenyTrailBucketOutsideOrganization", effect="Deny", actions=["s3:*"], principals={"*": ["*"]},
                      resources=[self.trail_bucket.arn, f"{self.trail_bucket.arn}/*"], conditions=outside),
            Statement(sid="DenyTrailKeyOutsideOrganization", effect="Deny", actions=["kms:*"], principals={"*": ["*"]},
                      resources=[self.security.arn("kms", "key/*", region="*")], conditions=outside),
        ])


STACK_CLASSES = (OrganizationBootstrapStack, OrganizationSecurityStack, OrganizationArchiveStack, OrganizationTrailStack,
                 OrganizationGovernanceStack)


def organization_stacks(scope: Construct, org: Organization, environments: Sequence[PlatformStack] = ()) -> list[OrganizationStack]:
    """Every stack of the organization, in the order they are applied. `environments`: the
    environments' stacks; each whose trail leaves management events to the organization trail
    must be among them."""
    synthesized = {platform.env.name for platform in environments}
    if missing := [name for name in org.data_event_environments if name not in synthesized]:
        raise ValueError(f"the organization trail's alarms on management events need the stacks of {', '.join(missing)}")
    # Another system's trail comes with its bucket and its control policies: no archive, no governance.
    classes = STACK_CLASSES if org.managed else (OrganizationBootstrapStack, OrganizationSecurityStack, OrganizationTrailStack)
    return [make(scope, org, environments) if make in (OrganizationSecurityStack, OrganizationTrailStack) else make(scope, org)
            for make in classes]
