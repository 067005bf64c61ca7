//! Findings: the result of one check on one resource.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::tags::Tags;

/// How bad a failed check is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
    Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For information only.
    #[serde(alias = "INFORMATIONAL", alias = "Informational", alias = "info")]
    Informational,
    /// Low.
    #[serde(alias = "LOW", alias = "Low")]
    Low,
    /// Medium.
    #[default]
    #[serde(alias = "MEDIUM", alias = "Medium")]
    Medium,
    /// High.
    #[serde(alias = "HIGH", alias = "High")]
    High,
    /// Critical.
    #[serde(alias = "CRITICAL", alias = "Critical")]
    Critical,
}

impl Severity {
    /// All severities, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Informational,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    /// Lowercase name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
    /// ASFF's label (`INFORMATIONAL`, `LOW`, ...).
    pub fn asff_label(&self) -> &'static str {
        match self {
            Severity::Informational => "INFORMATIONAL",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "informational" | "info" => Severity::Informational,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => {
                return Err(format!(
                    "unknown severity `{s}` (expected informational, low, medium, high or critical)"
                ));
            }
        })
    }
}

/// The verdict of a finding.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// The resource complies.
    Pass,
    /// The resource does not comply.
    Fail,
    /// The check could not see what it needs; never a pass.
    Unknown,
    /// The check does not apply to this resource.
    NotApplicable,
    /// It failed, but an exception in the policy covers it.
    Suppressed,
    /// The check itself failed on this resource.
    Error,
}

impl Status {
    /// All statuses.
    pub const ALL: [Status; 6] = [
        Status::Pass,
        Status::Fail,
        Status::Unknown,
        Status::NotApplicable,
        Status::Suppressed,
        Status::Error,
    ];
    /// `PASS`, `FAIL`, ...
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Unknown => "UNKNOWN",
            Status::NotApplicable => "NOT_APPLICABLE",
            Status::Suppressed => "SUPPRESSED",
            Status::Error => "ERROR",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What decided a verdict: an attribute path and the value found there (`null` when absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    /// The attribute path, e.g. `configuration.storageEncrypted`.
    pub path: String,
    /// The value found, or `null` when the attribute is absent.
    pub value: Value,
    /// Where the attribute is in the source document, when the source says (e.g. the Terraform
    /// attribute `aws_db_instance.main.storage_encrypted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Evidence {
    /// Evidence from a path and a value.
    pub fn new(path: impl Into<String>, value: impl Into<Value>) -> Evidence {
        Evidence {
            path: path.into(),
            value: value.into(),
            source: None,
        }
    }
    /// Evidence that an attribute is absent.
    pub fn absent(path: impl Into<String>) -> Evidence {
        Evidence {
            path: path.into(),
            value: Value::Null,
            source: None,
        }
    }
}

/// What a check maps to in the standards.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct References {
    /// AWS Security Hub control id, e.g. `S3.8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub securityhub: Option<String>,
    /// CIS AWS Foundations Benchmark controls, e.g. `CIS AWS Foundations Benchmark v1.4.0/2.1.5`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cis: Vec<String>,
    /// CCE identifiers, where one exists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cce: Vec<String>,
    /// The AWS Config managed rule that checks the same thing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_rule: Option<String>,
    /// Frameworks the check belongs to: `securityhub-fsbp`, `cis-aws`, or a company's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frameworks: Vec<String>,
    /// Documentation links.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
}

/// The resource a finding is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceRef {
    /// Its ARN.
    pub arn: String,
    /// Its CloudFormation type.
    pub resource_type: String,
    /// Its account (may be empty).
    pub account_id: String,
    /// Its region (`global` for global resources).
    pub region: String,
    /// A name for people.
    pub name: String,
    /// Its tags (after the tag plan, as the policy sees them).
    pub tags: Tags,
}

/// The exception that suppressed a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suppression {
    /// The exception's id in the policy.
    pub exception_id: String,
    /// Why the exception exists.
    pub reason: String,
    /// Who owns it.
    pub owner: String,
    /// When it stops suppressing (`YYYY-MM-DD`).
    pub expires: String,
}

/// Where a check comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    /// The built-in check pack.
    Builtin,
    /// A declarative rule in the policy.
    Declarative,
    /// A WebAssembly rule.
    Wasm,
    /// The classification scheme (tag policy).
    TagPolicy,
    /// Another source of findings (vulnerability scanners, budgets, ...).
    External,
}

/// One check's verdict on one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id: the same check on the same resource has the same id across runs.
    pub id: String,
    /// The check's id.
    pub check_id: String,
    /// The check's title.
    pub title: String,
    /// Where the check comes from.
    pub kind: CheckKind,
    /// The verdict.
    pub status: Status,
    /// Severity (after the policy's overrides and escalations).
    pub severity: Severity,
    /// The resource (shared by all the findings on it).
    pub resource: std::sync::Arc<ResourceRef>,
    /// What was found, for people.
    pub message: String,
    /// The attribute paths and values that decided.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// Standards references.
    pub references: std::sync::Arc<References>,
    /// How to fix it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    /// The exception that suppressed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppression: Option<Suppression>,
    /// When this finding was first seen (this scan's time unless a state store says otherwise).
    pub first_seen: DateTime<Utc>,
    /// When this finding was last seen.
    pub last_seen: DateTime<Utc>,
    /// For a known-vulnerability finding: the CVE, its score, the package and versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerability: Option<Box<crate::vuln::Vulnerability>>,
}

/// The stable id of the finding of `check_id` on the resource `arn`: 32 hex digits of the
/// XXH3-128 hash of both (a specified, platform-independent hash, so ids stay the same across
/// runs, machines and versions).
pub fn finding_id(check_id: &str, arn: &str) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(check_id.as_bytes());
    h.update(&[0u8]);
    h.update(arn.as_bytes());
    let d = h.digest128();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(32);
    for i in (0..32).rev() {
        s.push(HEX[((d >> (i * 4)) & 0xF) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn severity_parses_any_case() {
        assert_eq!("HIGH".parse::<Severity>(), Ok(Severity::High));
        assert!(Severity::Critical > Severity::High);
        assert!(
            "urgent"
                .parse::<Severity>()
                .unwrap_err()
                .contains("`urgent`")
        );
    }

    proptest! {
        #[test]
        fn ids_are_stable_and_distinct(c in "[a-z.]{1,20}", a in "\\PC{1,40}", b in "\\PC{1,40}") {
            prop_assert_eq!(finding_id(&c, &a), finding_id(&c, &a));
            prop_assert_eq!(finding_id(&c, &a).len(), 32);
            if a != b {
                prop_assert_ne!(finding_id(&c, &a), finding_id(&c, &b));
            }
        }
    }

    #[test]
    fn id_does_not_depend_on_concatenation() {
        assert_ne!(finding_id("a.b", "c"), finding_id("a", ".bc"));
    }
}
