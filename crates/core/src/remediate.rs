//! Safe remediation: plan, approve, apply, verify and roll back the fixes for the findings
//! that have a safe, well-defined one.
//!
//! A [`Remediator`] reads the current value of the one thing it changes and writes a value;
//! the same `write` undoes a change by writing the value read before it. Around it, this module
//! is the part that decides: [`plan`] turns failing findings into reviewed changes (before →
//! after), skipping protected resources; [`apply`] runs a saved plan within the policy's limits,
//! refuses a change whose resource moved since the plan, stops a remediator at its first failure,
//! verifies every write by reading it back and re-checks the finding; [`rollback`] restores the
//! previous values unless someone changed the resource since.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::finding::{Finding, Status};

/// What a remediation does, for review: the checks it fixes, the exact API calls, the IAM
/// actions it needs, and how it is undone.
#[derive(Debug, Clone, Serialize)]
pub struct RemediationSpec {
    /// Its id, e.g. `aws.s3.block-public-access`.
    pub id: &'static str,
    /// What it does.
    pub title: &'static str,
    /// The checks whose failures it fixes.
    pub fixes: &'static [&'static str],
    /// What it changes: one resource, or a setting of the account in a region.
    pub scope: Scope,
    /// The API calls it makes (reads and writes).
    pub api_calls: &'static [&'static str],
    /// The IAM actions it needs.
    pub iam_actions: &'static [&'static str],
    /// How it is undone.
    pub undo: &'static str,
    /// What it deliberately does not do.
    pub limits: &'static str,
}

/// What one remediation changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The resource the finding is about.
    Resource,
    /// A setting of the resource's account in its region.
    Account,
}

/// The remediations Assetwarden knows, whatever implements them.
pub fn catalog() -> &'static [RemediationSpec] {
    CATALOG
}

/// The remediation that fixes a check, if any.
pub fn for_check(check_id: &str) -> Option<&'static RemediationSpec> {
    CATALOG.iter().find(|s| s.fixes.contains(&check_id))
}

const CATALOG: &[RemediationSpec] = &[
    RemediationSpec {
        id: "aws.s3.block-public-access",
        title: "Turn on all four S3 Block Public Access settings of the bucket",
        fixes: &["aws.s3.public-access-block"],
        scope: Scope::Resource,
        api_calls: &[
            "s3:GetPublicAccessBlock",
            "s3:PutPublicAccessBlock",
            "s3:DeletePublicAccessBlock (undo)",
        ],
        iam_actions: &[
            "s3:GetBucketPublicAccessBlock",
            "s3:PutBucketPublicAccessBlock",
        ],
        undo: "PutPublicAccessBlock with the previous four settings, or DeletePublicAccessBlock if the bucket had none",
        limits: "Bucket policies and ACLs are left as they are; the block makes AWS ignore their public grants",
    },
    RemediationSpec {
        id: "aws.s3.default-encryption",
        title: "Turn on default encryption (SSE-S3, AES256) for the bucket",
        fixes: &["aws.s3.encryption"],
        scope: Scope::Resource,
        api_calls: &[
            "s3:GetBucketEncryption",
            "s3:PutBucketEncryption",
            "s3:DeleteBucketEncryption (undo)",
        ],
        iam_actions: &[
            "s3:GetEncryptionConfiguration",
            "s3:PutEncryptionConfiguration",
        ],
        undo: "PutBucketEncryption with the previous configuration, or DeleteBucketEncryption if there was none",
        limits: "Objects already stored are not re-encrypted; a KMS key is not chosen for you",
    },
    RemediationSpec {
        id: "aws.ec2.revoke-admin-ports-from-internet",
        title: "Revoke security-group ingress from 0.0.0.0/0 or ::/0 to SSH (22) or RDP (3389)",
        fixes: &[
            "aws.ec2.sg-no-ssh-from-internet",
            "aws.ec2.sg-no-rdp-from-internet",
        ],
        scope: Scope::Resource,
        api_calls: &[
            "ec2:DescribeSecurityGroups",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:AuthorizeSecurityGroupIngress (undo)",
        ],
        iam_actions: &[
            "ec2:DescribeSecurityGroups",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:AuthorizeSecurityGroupIngress",
        ],
        undo: "AuthorizeSecurityGroupIngress with the revoked rules",
        limits: "Only rules for exactly port 22 or 3389 from the whole internet are revoked; a wider range (e.g. 0-65535 or all traffic) is left for a person, since revoking it would close other ports",
    },
    RemediationSpec {
        id: "aws.ec2.ebs-default-encryption",
        title: "Turn on EBS encryption by default for the account in the region",
        fixes: &["aws.ec2.ebs-encrypted"],
        scope: Scope::Account,
        api_calls: &[
            "ec2:GetEbsEncryptionByDefault",
            "ec2:EnableEbsEncryptionByDefault",
            "ec2:DisableEbsEncryptionByDefault (undo)",
        ],
        iam_actions: &[
            "ec2:GetEbsEncryptionByDefault",
            "ec2:EnableEbsEncryptionByDefault",
            "ec2:DisableEbsEncryptionByDefault",
        ],
        undo: "DisableEbsEncryptionByDefault",
        limits: "New volumes are encrypted from now on; an existing unencrypted volume stays so (it needs a snapshot copy), so its finding stays open",
    },
    RemediationSpec {
        id: "aws.rds.disable-public-access",
        title: "Set the RDS instance's PubliclyAccessible to false",
        fixes: &["aws.rds.public-access"],
        scope: Scope::Resource,
        api_calls: &[
            "rds:DescribeDBInstances",
            "rds:ModifyDBInstance (PubliclyAccessible, ApplyImmediately)",
        ],
        iam_actions: &["rds:DescribeDBInstances", "rds:ModifyDBInstance"],
        undo: "ModifyDBInstance with PubliclyAccessible true",
        limits: "Subnets and security groups are not changed",
    },
    RemediationSpec {
        id: "aws.kms.enable-rotation",
        title: "Turn on automatic rotation of the customer-managed KMS key",
        fixes: &["aws.kms.key-rotation"],
        scope: Scope::Resource,
        api_calls: &[
            "kms:GetKeyRotationStatus",
            "kms:EnableKeyRotation",
            "kms:DisableKeyRotation (undo)",
            "kms:DescribeKey (re-check)",
        ],
        iam_actions: &[
            "kms:GetKeyRotationStatus",
            "kms:EnableKeyRotation",
            "kms:DisableKeyRotation",
            "kms:DescribeKey",
        ],
        undo: "DisableKeyRotation",
        limits: "The rotation period is AWS's default (365 days)",
    },
    RemediationSpec {
        id: "aws.cloudtrail.enable-log-validation",
        title: "Turn on log file validation for the CloudTrail trail",
        fixes: &["aws.cloudtrail.log-validation"],
        scope: Scope::Resource,
        api_calls: &[
            "cloudtrail:GetTrail",
            "cloudtrail:UpdateTrail (EnableLogFileValidation)",
        ],
        iam_actions: &["cloudtrail:GetTrail", "cloudtrail:UpdateTrail"],
        undo: "UpdateTrail with EnableLogFileValidation false",
        limits: "Logs delivered before are not validated",
    },
    RemediationSpec {
        id: "aws.ecr.enable-scan-on-push",
        title: "Turn on image scanning on push for the ECR repository",
        fixes: &["aws.ecr.image-scanning"],
        scope: Scope::Resource,
        api_calls: &[
            "ecr:DescribeRepositories",
            "ecr:PutImageScanningConfiguration",
        ],
        iam_actions: &[
            "ecr:DescribeRepositories",
            "ecr:PutImageScanningConfiguration",
        ],
        undo: "PutImageScanningConfiguration with scanOnPush false",
        limits: "Images already pushed are not scanned by this change",
    },
    RemediationSpec {
        id: "aws.iam.deactivate-old-access-keys",
        title: "Deactivate the user's active access keys older than the policy's limit (never delete them)",
        fixes: &["aws.iam.access-keys-rotated"],
        scope: Scope::Resource,
        api_calls: &[
            "iam:ListAccessKeys",
            "iam:UpdateAccessKey (Status Inactive)",
            "iam:GetUser (re-check)",
        ],
        iam_actions: &["iam:ListAccessKeys", "iam:UpdateAccessKey", "iam:GetUser"],
        undo: "UpdateAccessKey with Status Active",
        limits: "Keys are deactivated, never deleted; the workload using them must move to a new key",
    },
];

/// What a remediation acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The resource's ARN, or for an account setting `arn:aws:ec2:REGION:ACCOUNT:account`.
    pub arn: String,
    /// Its type.
    pub resource_type: String,
    /// Its account.
    pub account_id: String,
    /// Its region.
    pub region: String,
    /// Its name or id.
    pub name: String,
}

/// A remediator's failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct RemediationError {
    /// The API's error code, or `invalid`, `unsupported`.
    pub code: String,
    /// What happened, naming the resource.
    pub message: String,
}

impl RemediationError {
    /// An error from a code and a message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        RemediationError {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// One remediation's implementation: it reads the current value of the one thing it changes,
/// computes the value it should have, and writes a value. Rollback writes the value read before.
#[async_trait]
pub trait Remediator: Send + Sync {
    /// What it is.
    fn spec(&self) -> &'static RemediationSpec;
    /// The target a finding leads to (for an account setting, the account in the region).
    fn target(&self, f: &Finding) -> Target {
        let r = &f.resource;
        Target {
            arn: r.arn.clone(),
            resource_type: r.resource_type.clone(),
            account_id: r.account_id.clone(),
            region: r.region.clone(),
            name: r.name.clone(),
        }
    }
    /// The current value.
    async fn read(&self, target: &Target) -> Result<Value, RemediationError>;
    /// The value it should have, given the current one and the findings; `Ok(None)`: nothing to
    /// change; `Err`: a case this remediation leaves to a person, with why.
    fn desired(&self, current: &Value, findings: &[&Finding]) -> Result<Option<Value>, String>;
    /// Writes a value: the desired one on apply, the previous one on rollback.
    async fn write(&self, target: &Target, value: &Value) -> Result<(), RemediationError>;
}

/// The policy's `remediation` section.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemediationDoc {
    /// Remediations that may run at all (ids from `assetwarden remediate list`); default: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<Vec<String>>,
    /// Remediations that may run unattended (on a schedule, from the Lambda, with
    /// `remediate apply --unattended`); the others need approval. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unattended: Vec<String>,
    /// Resources never touched.
    #[serde(default)]
    pub never: NeverDoc,
    /// The most changes one run makes (default 25).
    #[serde(default = "default_max_run")]
    pub max_changes_per_run: usize,
    /// The most changes one run makes in one account (default 10).
    #[serde(default = "default_max_account")]
    pub max_changes_per_account: usize,
    /// The most changes in one account over the last 24 hours, across runs (counted from the
    /// state store's records; without a store, from this run only). Default: no such limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_changes_per_account_per_day: Option<usize>,
    /// Remediations run through an AWS Systems Manager Automation runbook instead of direct
    /// API calls, by remediation id. The result is still read back and re-checked directly.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub runbooks: BTreeMap<String, RunbookDoc>,
}

/// A Systems Manager Automation runbook standing in for a remediation's write.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunbookDoc {
    /// The document, e.g. `AWS-DisableS3BucketPublicReadWrite`.
    pub document: String,
    /// Its parameters; `{name}`, `{arn}`, `{account}` and `{region}` stand for the target's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    /// How long to wait for the execution to finish (default 300 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
}

impl RunbookDoc {
    /// The parameters with the target's values in place of the placeholders.
    pub fn parameters_for(&self, t: &Target) -> BTreeMap<String, String> {
        self.parameters
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.replace("{name}", &t.name)
                        .replace("{arn}", &t.arn)
                        .replace("{account}", &t.account_id)
                        .replace("{region}", &t.region),
                )
            })
            .collect()
    }
}

/// How a runbook execution ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookRun {
    /// The document.
    pub document: String,
    /// The execution's id.
    pub execution_id: String,
    /// Its final status (`Success`, `Failed`, `TimedOut`, `Cancelled`, …, or `Waiting` when it
    /// had not finished in time).
    pub status: String,
}

/// Starts runbooks and waits for them.
#[async_trait]
pub trait RunbookRunner: Send + Sync {
    /// Runs the runbook on the target and waits (within its timeout) for the end.
    async fn run(
        &self,
        target: &Target,
        runbook: &RunbookDoc,
    ) -> Result<RunbookRun, RemediationError>;
}

fn default_max_run() -> usize {
    25
}
fn default_max_account() -> usize {
    10
}

impl Default for RemediationDoc {
    fn default() -> Self {
        RemediationDoc {
            enabled: None,
            unattended: Vec::new(),
            never: NeverDoc::default(),
            max_changes_per_run: default_max_run(),
            max_changes_per_account: default_max_account(),
            max_changes_per_account_per_day: None,
            runbooks: BTreeMap::new(),
        }
    }
}

/// Resources no remediation touches. The tag `assetwarden:remediation=off` always protects.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NeverDoc {
    /// Tags (key → value) that protect a resource.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Accounts never touched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// Classifications never touched (values of `classification_tag`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classifications: Vec<String>,
    /// The tag holding the classification (default `DataClassification`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification_tag: Option<String>,
}

/// The tag that always keeps remediation off a resource.
pub const OFF_TAG: (&str, &str) = ("assetwarden:remediation", "off");

impl RemediationDoc {
    /// Unknown remediation ids, with where they are.
    pub fn unknown_ids(&self) -> Vec<(String, String)> {
        let known: BTreeSet<&str> = CATALOG.iter().map(|s| s.id).collect();
        let mut out = Vec::new();
        for (field, ids) in [
            ("enabled", self.enabled.clone().unwrap_or_default()),
            ("unattended", self.unattended.clone()),
        ] {
            for (i, id) in ids.iter().enumerate() {
                if !known.contains(id.as_str()) {
                    out.push((format!("remediation.{field}[{i}]"), id.clone()));
                }
            }
        }
        for id in self.runbooks.keys() {
            if !known.contains(id.as_str()) {
                out.push((format!("remediation.runbooks.{id}"), id.clone()));
            }
        }
        out
    }

    fn enabled(&self, id: &str) -> bool {
        self.enabled
            .as_ref()
            .is_none_or(|v| v.iter().any(|x| x == id))
    }

    /// Why a finding's resource is protected, if it is.
    pub fn protected(&self, f: &Finding) -> Option<String> {
        let r = &f.resource;
        if r.tags.get(OFF_TAG.0).is_some_and(|v| v == OFF_TAG.1) {
            return Some(format!(
                "protected by the tag `{}={}`",
                OFF_TAG.0, OFF_TAG.1
            ));
        }
        for (k, v) in &self.never.tags {
            if r.tags.get(k).is_some_and(|x| x == v) {
                return Some(format!(
                    "protected by the tag `{k}={v}` (policy `remediation.never.tags`)"
                ));
            }
        }
        if self.never.accounts.contains(&r.account_id) {
            return Some(format!(
                "account {} is never touched (policy `remediation.never.accounts`)",
                r.account_id
            ));
        }
        let key = self
            .never
            .classification_tag
            .as_deref()
            .unwrap_or("DataClassification");
        if let Some(c) = r.tags.get(key)
            && self.never.classifications.contains(c)
        {
            return Some(format!(
                "classified `{c}` (`{key}`), never touched (policy `remediation.never.classifications`)"
            ));
        }
        None
    }
}

/// Whether a change may run unattended or needs a person's approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// The policy lets it run unattended.
    Unattended,
    /// It runs only when approved (`remediate apply --approve`).
    Required,
}

/// One planned change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedChange {
    /// Its id in the plan (`c1`, `c2`, …).
    pub id: String,
    /// The remediation.
    pub remediation: String,
    /// The checks whose failures it fixes here.
    pub checks: Vec<String>,
    /// The findings it fixes.
    pub findings: Vec<String>,
    /// What it acts on.
    pub target: Target,
    /// The value now.
    pub before: Value,
    /// The value after.
    pub after: Value,
    /// Unattended or approval.
    pub approval: Approval,
    /// The API calls it makes.
    pub api_calls: Vec<String>,
    /// How it is undone.
    pub undo: String,
    /// The Systems Manager Automation runbook that makes the change instead of the direct
    /// calls, when the policy says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
}

/// A failing finding the plan does not fix, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The finding.
    pub finding: String,
    /// Its check.
    pub check_id: String,
    /// Its resource.
    pub arn: String,
    /// Why not.
    pub reason: String,
}

/// A remediation plan: what would change, reviewed before it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// `rp-` and a digest of the plan's content: an edited plan no longer matches its id.
    pub id: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// The policy's name.
    pub policy: String,
    /// The changes.
    pub changes: Vec<PlannedChange>,
    /// Failing findings with a remediation that the plan leaves alone, and why.
    pub skipped: Vec<Skipped>,
    /// Failing findings no remediation fixes.
    pub without_remediation: usize,
}

impl Plan {
    /// The digest the id carries.
    pub fn digest(&self) -> String {
        let body = serde_json::json!({
            "created_at": self.created_at, "policy": self.policy, "changes": self.changes,
        });
        let h = Sha256::digest(body.to_string().as_bytes());
        format!(
            "rp-{}",
            h.iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    }

    /// Whether the plan is as it was made (its id matches its content).
    pub fn intact(&self) -> bool {
        self.id == self.digest()
    }
}

/// Plans the fixes for the failing findings.
pub async fn plan(
    findings: &[Finding],
    remediators: &[Arc<dyn Remediator>],
    doc: &RemediationDoc,
    policy: &str,
    now: DateTime<Utc>,
) -> Plan {
    let by_id: HashMap<&str, &Arc<dyn Remediator>> =
        remediators.iter().map(|r| (r.spec().id, r)).collect();
    let mut skipped = Vec::new();
    let mut without = 0;
    // (remediation, target arn) → (target, findings), in the order first met.
    let mut groups: Vec<(&Arc<dyn Remediator>, Target, Vec<&Finding>)> = Vec::new();
    for f in findings
        .iter()
        .filter(|f| f.status == Status::Fail && f.suppression.is_none())
    {
        let skip = |reason: String| Skipped {
            finding: f.id.clone(),
            check_id: f.check_id.clone(),
            arn: f.resource.arn.clone(),
            reason,
        };
        let Some(spec) = for_check(&f.check_id) else {
            without += 1;
            continue;
        };
        if !doc.enabled(spec.id) {
            skipped.push(skip(format!(
                "remediation `{}` is not enabled in the policy",
                spec.id
            )));
            continue;
        }
        let Some(rem) = by_id.get(spec.id) else {
            skipped.push(skip(format!(
                "remediation `{}` has no implementation here",
                spec.id
            )));
            continue;
        };
        if let Some(why) = doc.protected(f) {
            skipped.push(skip(why));
            continue;
        }
        let t = rem.target(f);
        match groups
            .iter_mut()
            .find(|(r, gt, _)| r.spec().id == spec.id && gt.arn == t.arn)
        {
            Some(g) => g.2.push(f),
            None => groups.push((rem, t, vec![f])),
        }
    }
    let mut changes = Vec::new();
    for (rem, target, fs) in groups {
        let spec = rem.spec();
        let skip_all = |skipped: &mut Vec<Skipped>, reason: String| {
            for f in &fs {
                skipped.push(Skipped {
                    finding: f.id.clone(),
                    check_id: f.check_id.clone(),
                    arn: f.resource.arn.clone(),
                    reason: reason.clone(),
                });
            }
        };
        let before = match rem.read(&target).await {
            Ok(v) => v,
            Err(e) => {
                skip_all(
                    &mut skipped,
                    format!("the current state could not be read: {e}"),
                );
                continue;
            }
        };
        let after = match rem.desired(&before, &fs) {
            Ok(Some(v)) => v,
            Ok(None) => {
                skip_all(&mut skipped, "already fixed: nothing to change now".into());
                continue;
            }
            Err(why) => {
                skip_all(&mut skipped, format!("left to a person: {why}"));
                continue;
            }
        };
        let mut checks: Vec<String> = fs.iter().map(|f| f.check_id.clone()).collect();
        checks.sort();
        checks.dedup();
        changes.push(PlannedChange {
            id: format!("c{}", changes.len() + 1),
            remediation: spec.id.to_string(),
            checks,
            findings: fs.iter().map(|f| f.id.clone()).collect(),
            target,
            before,
            after,
            approval: if doc.unattended.iter().any(|u| u == spec.id) {
                Approval::Unattended
            } else {
                Approval::Required
            },
            api_calls: match doc.runbooks.get(spec.id) {
                Some(rb) => vec![
                    format!("ssm:StartAutomationExecution ({})", rb.document),
                    "ssm:GetAutomationExecution".into(),
                ],
                None => spec.api_calls.iter().map(|s| s.to_string()).collect(),
            },
            undo: spec.undo.to_string(),
            runbook: doc.runbooks.get(spec.id).map(|rb| rb.document.clone()),
        });
    }
    let mut p = Plan {
        id: String::new(),
        created_at: now,
        policy: policy.to_string(),
        changes,
        skipped,
        without_remediation: without,
    };
    p.id = p.digest();
    p
}

/// Which changes of a plan may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approvals {
    /// Only those the policy lets run unattended.
    UnattendedOnly,
    /// Those, and these change ids.
    Ids(BTreeSet<String>),
    /// Every change (a person approved the whole plan).
    All,
}

/// What happened to one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Written and read back as planned.
    Applied,
    /// Not run: approval missing, a limit reached, the remediator stopped, the policy changed.
    Skipped,
    /// Not run: the resource changed since the plan was made.
    Refused,
    /// The write failed, or did not read back as planned.
    Failed,
    /// Restored to the value before.
    RolledBack,
}

/// The record of one change: what was done, to what, when, why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRecord {
    /// The plan.
    pub plan_id: String,
    /// The change's id in the plan.
    pub change_id: String,
    /// The remediation.
    pub remediation: String,
    /// The checks.
    pub checks: Vec<String>,
    /// The findings.
    pub findings: Vec<String>,
    /// What it acted on.
    pub target: Target,
    /// The value before.
    pub before: Value,
    /// The value after (as planned).
    pub after: Value,
    /// What happened.
    pub outcome: Outcome,
    /// Why, for anything but a plain success.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The checks' status on the resource after the change (re-read and re-evaluated), when the
    /// resource could be read again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub recheck: BTreeMap<String, Status>,
    /// The runbook execution that made the change, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<RunbookRun>,
    /// Who or what ran it (`cli:alice`, `lambda:schedule`).
    pub triggered_by: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl ChangeRecord {
    /// Whether the finding is fixed: applied, and every check it fixes passes again.
    pub fn resolved(&self) -> bool {
        self.outcome == Outcome::Applied
            && !self.checks.is_empty()
            && self
                .checks
                .iter()
                .all(|c| self.recheck.get(c) == Some(&Status::Pass))
    }
}

/// Re-evaluates checks on a resource after a change.
#[async_trait]
pub trait Recheck: Send + Sync {
    /// The status of each check on the target as it now is; absent when it could not be read.
    async fn recheck(&self, target: &Target, checks: &[String]) -> BTreeMap<String, Status>;
}

/// How a run goes.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Which changes may run.
    pub approvals: Approvals,
    /// The most changes in this run.
    pub max_changes: usize,
    /// The most changes in one account in this run.
    pub max_per_account: usize,
    /// The most changes in one account over 24 hours, with the changes already made in the
    /// last 24 hours by account.
    pub max_per_account_per_day: Option<(usize, HashMap<String, usize>)>,
    /// Who or what runs it.
    pub triggered_by: String,
}

impl ApplyOptions {
    /// Options from the policy's limits.
    pub fn from_doc(doc: &RemediationDoc, approvals: Approvals, triggered_by: &str) -> Self {
        ApplyOptions {
            approvals,
            max_changes: doc.max_changes_per_run,
            max_per_account: doc.max_changes_per_account,
            max_per_account_per_day: doc
                .max_changes_per_account_per_day
                .map(|m| (m, HashMap::new())),
            triggered_by: triggered_by.to_string(),
        }
    }

    /// Counts the changes made in the last 24 hours (by account) against the daily limit.
    pub fn recent(mut self, by_account: HashMap<String, usize>) -> Self {
        if let Some((_, r)) = &mut self.max_per_account_per_day {
            *r = by_account;
        }
        self
    }
}

/// Applies a saved plan. Every change is re-read first (refused if the resource moved since the
/// plan), written, read back (failed unless it reads as planned) and re-checked. A remediator
/// that fails once is stopped for the rest of the run; limits are never exceeded.
pub async fn apply(
    plan: &Plan,
    remediators: &[Arc<dyn Remediator>],
    doc: &RemediationDoc,
    opts: &ApplyOptions,
    recheck: &dyn Recheck,
    runner: Option<&dyn RunbookRunner>,
    now: impl Fn() -> DateTime<Utc>,
) -> Vec<ChangeRecord> {
    let by_id: HashMap<&str, &Arc<dyn Remediator>> =
        remediators.iter().map(|r| (r.spec().id, r)).collect();
    let mut out = Vec::new();
    let mut stopped: HashMap<String, String> = HashMap::new();
    let mut done = 0usize;
    let mut per_account: HashMap<String, usize> = HashMap::new();
    for c in &plan.changes {
        let rec = |outcome: Outcome, message: String| ChangeRecord {
            plan_id: plan.id.clone(),
            change_id: c.id.clone(),
            remediation: c.remediation.clone(),
            checks: c.checks.clone(),
            findings: c.findings.clone(),
            target: c.target.clone(),
            before: c.before.clone(),
            after: c.after.clone(),
            outcome,
            message,
            recheck: BTreeMap::new(),
            runbook: None,
            triggered_by: opts.triggered_by.clone(),
            at: now(),
        };
        let approved = match (&opts.approvals, c.approval) {
            (_, Approval::Unattended) if doc.unattended.contains(&c.remediation) => true,
            (Approvals::All, _) => true,
            (Approvals::Ids(ids), _) => ids.contains(&c.id),
            _ => false,
        };
        if !approved {
            out.push(rec(
                Outcome::Skipped,
                if c.approval == Approval::Unattended {
                    "the policy no longer lets this remediation run unattended: approve it".into()
                } else {
                    "awaiting approval (`remediate apply --approve`)".into()
                },
            ));
            continue;
        }
        if !doc.enabled(&c.remediation) {
            out.push(rec(
                Outcome::Skipped,
                format!(
                    "remediation `{}` is no longer enabled in the policy",
                    c.remediation
                ),
            ));
            continue;
        }
        let Some(rem) = by_id.get(c.remediation.as_str()) else {
            out.push(rec(
                Outcome::Skipped,
                format!("remediation `{}` has no implementation here", c.remediation),
            ));
            continue;
        };
        if let Some(why) = stopped.get(&c.remediation) {
            out.push(rec(
                Outcome::Skipped,
                format!(
                    "`{}` stopped for this run after a failure: {why}",
                    c.remediation
                ),
            ));
            continue;
        }
        if done >= opts.max_changes {
            out.push(rec(
                Outcome::Skipped,
                format!("the run's limit of {} changes is reached", opts.max_changes),
            ));
            continue;
        }
        let n = per_account.entry(c.target.account_id.clone()).or_default();
        if let Some((max, recent)) = &opts.max_per_account_per_day {
            let before = recent.get(&c.target.account_id).copied().unwrap_or(0);
            if before + *n >= *max {
                out.push(rec(
                    Outcome::Skipped,
                    format!(
                        "the limit of {max} changes a day in account {} is reached ({} in the last 24 hours before this run, {} in it)",
                        c.target.account_id, before, n
                    ),
                ));
                continue;
            }
        }
        if *n >= opts.max_per_account {
            out.push(rec(
                Outcome::Skipped,
                format!(
                    "the limit of {} changes in account {} is reached",
                    opts.max_per_account, c.target.account_id
                ),
            ));
            continue;
        }
        let current = match rem.read(&c.target).await {
            Ok(v) => v,
            Err(e) => {
                stopped.insert(c.remediation.clone(), format!("{} on {}", e, c.target.arn));
                out.push(rec(
                    Outcome::Failed,
                    format!("the current state could not be read: {e}"),
                ));
                continue;
            }
        };
        if current != c.before {
            out.push(rec(
                Outcome::Refused,
                format!(
                    "the resource changed since the plan was made: now {current}, planned from {}",
                    c.before
                ),
            ));
            continue;
        }
        *n += 1;
        done += 1;
        let mut run = None;
        if let Some(doc_name) = &c.runbook {
            let (Some(rb), Some(runner)) = (doc.runbooks.get(&c.remediation), runner) else {
                out.push(rec(
                    Outcome::Skipped,
                    format!("planned through the runbook `{doc_name}`, which the policy no longer names (or no runner here)"),
                ));
                continue;
            };
            match runner.run(&c.target, rb).await {
                Ok(r) if r.status == "Success" => run = Some(r),
                Ok(r) => {
                    stopped.insert(
                        c.remediation.clone(),
                        format!("runbook {} ended {}", r.execution_id, r.status),
                    );
                    let mut x = rec(
                        Outcome::Failed,
                        format!(
                            "the runbook `{}` (execution {}) ended `{}`",
                            r.document, r.execution_id, r.status
                        ),
                    );
                    x.runbook = Some(r);
                    out.push(x);
                    continue;
                }
                Err(e) => {
                    stopped.insert(c.remediation.clone(), format!("{} on {}", e, c.target.arn));
                    out.push(rec(
                        Outcome::Failed,
                        format!("the runbook could not run: {e}"),
                    ));
                    continue;
                }
            }
        } else if let Err(e) = rem.write(&c.target, &c.after).await {
            stopped.insert(c.remediation.clone(), format!("{} on {}", e, c.target.arn));
            out.push(rec(Outcome::Failed, format!("the change failed: {e}")));
            continue;
        }
        match rem.read(&c.target).await {
            Ok(v) if v == c.after => {
                let mut r = rec(Outcome::Applied, String::new());
                r.runbook = run;
                r.recheck = recheck.recheck(&c.target, &c.checks).await;
                if !r.resolved() && rem.spec().scope == Scope::Account {
                    r.message = format!("applied; {}", rem.spec().limits);
                } else if !r.resolved() {
                    r.message = format!(
                        "applied; the finding stays open: {}",
                        c.checks
                            .iter()
                            .map(|ch| format!(
                                "{ch} is {}",
                                r.recheck
                                    .get(ch)
                                    .map(|s| s.as_str())
                                    .unwrap_or("not re-read")
                            ))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
                out.push(r);
            }
            Ok(v) => {
                stopped.insert(
                    c.remediation.clone(),
                    format!("{} did not read back as planned", c.target.arn),
                );
                let mut x = rec(
                    Outcome::Failed,
                    format!("written, but it reads {v}, not the planned {}", c.after),
                );
                x.runbook = run;
                out.push(x);
            }
            Err(e) => {
                stopped.insert(c.remediation.clone(), format!("{} on {}", e, c.target.arn));
                out.push(rec(
                    Outcome::Failed,
                    format!("written, but it could not be read back: {e}"),
                ));
            }
        }
    }
    out
}

/// Rolls back applied changes (in reverse order): each is restored to its value before, unless
/// the resource changed since it was applied (then it is refused: someone else's change wins).
pub async fn rollback(
    records: &[ChangeRecord],
    remediators: &[Arc<dyn Remediator>],
    triggered_by: &str,
    now: impl Fn() -> DateTime<Utc>,
) -> Vec<ChangeRecord> {
    let by_id: HashMap<&str, &Arc<dyn Remediator>> =
        remediators.iter().map(|r| (r.spec().id, r)).collect();
    let mut out = Vec::new();
    for r in records
        .iter()
        .rev()
        .filter(|r| r.outcome == Outcome::Applied)
    {
        let mut rec = r.clone();
        rec.triggered_by = triggered_by.to_string();
        rec.recheck.clear();
        rec.at = now();
        let Some(rem) = by_id.get(r.remediation.as_str()) else {
            rec.outcome = Outcome::Failed;
            rec.message = format!("remediation `{}` has no implementation here", r.remediation);
            out.push(rec);
            continue;
        };
        match rem.read(&r.target).await {
            Ok(v) if v == r.after => {}
            Ok(v) => {
                rec.outcome = Outcome::Refused;
                rec.message = format!(
                    "the resource changed since the remediation: now {v}, not {}; left as it is",
                    r.after
                );
                out.push(rec);
                continue;
            }
            Err(e) => {
                rec.outcome = Outcome::Failed;
                rec.message = format!("the current state could not be read: {e}");
                out.push(rec);
                continue;
            }
        }
        match rem.write(&r.target, &r.before).await {
            Ok(()) => match rem.read(&r.target).await {
                Ok(v) if v == r.before => {
                    rec.outcome = Outcome::RolledBack;
                    rec.message = String::new();
                }
                Ok(v) => {
                    rec.outcome = Outcome::Failed;
                    rec.message = format!("restored, but it reads {v}, not {}", r.before);
                }
                Err(e) => {
                    rec.outcome = Outcome::Failed;
                    rec.message = format!("restored, but it could not be read back: {e}");
                }
            },
            Err(e) => {
                rec.outcome = Outcome::Failed;
                rec.message = format!("the rollback failed: {e}");
            }
        }
        out.push(rec);
    }
    out
}

impl ChangeRecord {
    /// The change as a finding, for the notifiers: PASS when it fixed what it was for, FAIL
    /// when it failed or was refused, otherwise the informational record of a change.
    pub fn to_finding(&self) -> Finding {
        use crate::finding::{CheckKind, References, ResourceRef, Severity};
        let spec = catalog().iter().find(|s| s.id == self.remediation);
        let (status, severity) = match self.outcome {
            Outcome::Failed | Outcome::Refused => (Status::Fail, Severity::High),
            Outcome::Applied if self.resolved() => (Status::Pass, Severity::Medium),
            _ => (Status::Pass, Severity::Informational),
        };
        let outcome = serde_json::to_value(self.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let t = &self.target;
        Finding {
            id: crate::finding::finding_id(
                &format!("remediation.{}", self.remediation),
                &format!("{}/{}/{}", t.arn, self.plan_id, self.change_id),
            ),
            check_id: format!("remediation.{}", self.remediation),
            title: format!(
                "Remediation {outcome}: {}",
                spec.map(|s| s.title).unwrap_or(self.remediation.as_str())
            ),
            kind: CheckKind::External,
            status,
            severity,
            resource: Arc::new(ResourceRef {
                arn: t.arn.clone(),
                resource_type: t.resource_type.clone(),
                account_id: t.account_id.clone(),
                region: t.region.clone(),
                name: t.name.clone(),
                tags: Default::default(),
            }),
            message: format!(
                "{outcome}: {} → {} (plan {} change {}, by {}){}",
                self.before,
                self.after,
                self.plan_id,
                self.change_id,
                self.triggered_by,
                if self.message.is_empty() {
                    String::new()
                } else {
                    format!("; {}", self.message)
                }
            ),
            evidence: Vec::new(),
            references: std::sync::Arc::new(References {
                frameworks: vec!["assetwarden".into()],
                ..Default::default()
            }),
            remediation: spec.map(|s| format!("Undo: {}", s.undo)),
            suppression: None,
            first_seen: self.at,
            last_seen: self.at,
            vulnerability: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_with(changes: Vec<PlannedChange>) -> Plan {
        let mut p = Plan {
            id: String::new(),
            created_at: DateTime::parse_from_rfc3339("2026-11-27T00:00:00Z")
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_default(),
            policy: "p".into(),
            changes,
            skipped: Vec::new(),
            without_remediation: 0,
        };
        p.id = p.digest();
        p
    }

    #[test]
    fn an_edited_plan_no_longer_matches_its_id() {
        let change = PlannedChange {
            id: "c1".into(),
            remediation: "aws.rds.disable-public-access".into(),
            checks: vec!["aws.rds.public-access".into()],
            findings: vec!["f".into()],
            target: Target {
                arn: "arn:aws:rds:us-east-1:1:db:orders".into(),
                resource_type: "AWS::RDS::DBInstance".into(),
                account_id: "1".into(),
                region: "us-east-1".into(),
                name: "orders".into(),
            },
            before: serde_json::json!({"PubliclyAccessible": true}),
            after: serde_json::json!({"PubliclyAccessible": false}),
            approval: Approval::Required,
            api_calls: vec![],
            undo: String::new(),
            runbook: None,
        };
        let p = plan_with(vec![change]);
        assert!(p.intact() && p.id.starts_with("rp-"));
        let mut edited = p.clone();
        edited.changes[0].after = serde_json::json!({"PubliclyAccessible": true});
        assert!(!edited.intact());
        let mut unattended = p.clone();
        unattended.changes[0].approval = Approval::Unattended;
        assert!(
            !unattended.intact(),
            "approval is part of what was reviewed"
        );
    }

    #[test]
    fn unknown_remediation_ids_are_named() {
        let doc = RemediationDoc {
            unattended: vec!["aws.s3.block-public-access".into(), "aws.nope".into()],
            ..Default::default()
        };
        assert_eq!(
            doc.unknown_ids(),
            vec![(
                "remediation.unattended[1]".to_string(),
                "aws.nope".to_string()
            )]
        );
    }

    #[test]
    fn every_fixed_check_exists() {
        let cat = crate::checks::catalog();
        for s in catalog() {
            for c in s.fixes {
                assert!(
                    cat.iter().any(|m| m.id == *c),
                    "{} fixes unknown check {c}",
                    s.id
                );
            }
        }
    }
}
