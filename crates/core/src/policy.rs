//! The policy document: one YAML (or JSON) file holding the classification scheme, the checks to
//! run, declarative rules and exceptions.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;
use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::check::{Check, CheckMeta};
use crate::classify::{ClassificationScheme, CompiledDerive, CompiledTagRule, DeriveSource};
use crate::error::{Location, PolicyDiagnostic, PolicyError};
use crate::finding::{CheckKind, References, Severity};
use crate::location::LocationIndex;
use crate::path::AttrPath;
use crate::resource_type::is_cfn_type_name;
use crate::rules::{Condition, ConditionDoc, glob_to_regex};

/// The policy document, as written.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Assetwarden policy")]
pub struct PolicyDoc {
    /// The document format's version; `1`.
    pub version: u32,
    /// A name for reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the policy is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The asset-classification scheme: which tags resources must carry and how to derive them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<ClassificationDoc>,
    /// Which built-in checks run, with what parameters, severity and scope.
    #[serde(default)]
    pub checks: ChecksDoc,
    /// Declarative rules written in the condition language.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleDoc>,
    /// Suppressions, each with a reason, an owner and an expiry date.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<ExceptionDoc>,
    /// Where findings are announced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<NotificationsDoc>,
    /// When AWS Budgets raise findings (thresholds in percent of the budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budgets: Option<crate::vuln::BudgetsDoc>,
    /// Remediation: which fixes may run, unattended or after approval, what is never touched,
    /// and the limits of one run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<crate::remediate::RemediationDoc>,
    /// Custom rules as WebAssembly modules, each pinned by its sha256.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wasm_rules: Vec<WasmRuleDoc>,
}

/// A WebAssembly rule module the policy loads.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WasmRuleDoc {
    /// The `.wasm` file, relative to the policy file's folder.
    pub path: String,
    /// Its sha256 in hex (`sha256sum`, or `assetwarden rules info`); any other content is refused.
    pub sha256: String,
    /// Values for the parameters its rules declare (loaded with the module).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub params: Map<String, Value>,
    /// Sandbox limits instead of the defaults: `fuel` (per resource), `init_fuel`, `memory_mib`,
    /// `table_elements`, `stack_kib`, `module_mib`, `output_kib` (per resource), `log_kib`,
    /// `batch`. Each must be a positive number: nothing is ever unlimited.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub limits: Map<String, Value>,
}

/// Notification routes.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationsDoc {
    /// The routes; a finding goes to every route that matches it.
    pub routes: Vec<RouteDoc>,
}

/// The kind of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RouteKind {
    /// A Slack incoming webhook (Block Kit).
    Slack,
    /// E-mail over SMTP.
    Email,
    /// A JSON webhook signed with HMAC-SHA256.
    Webhook,
}

/// Quiet hours (UTC): findings below `critical` wait in the outbox until they end.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursDoc {
    /// Start, `HH:MM`.
    pub start: String,
    /// End, `HH:MM` (may be earlier than the start: the hours span midnight).
    pub end: String,
}

/// How to reach an SMTP server. Credentials come from the environment.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmtpDoc {
    /// Host name.
    pub host: String,
    /// Port (default 587).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `starttls` (default), `tls` or `none` (tests only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<String>,
    /// Environment variable holding the user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_env: Option<String>,
    /// Environment variable holding the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// A PEM file of CA certificates to trust besides the system's (a relay with a private
    /// CA); relative to the working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
}

/// One notification route.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteDoc {
    /// A unique name.
    pub name: String,
    /// Slack, e-mail or webhook.
    pub kind: RouteKind,
    /// Environment variable holding the webhook URL (Slack and webhook routes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_env: Option<String>,
    /// Environment variable holding the HMAC key (webhook routes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// SMTP server (e-mail routes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpDoc>,
    /// Sender (e-mail routes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Recipients (e-mail routes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    /// Only findings of at least this severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
    /// Only these checks (ids or globs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// Only checks of these frameworks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frameworks: Vec<String>,
    /// Send each owner a digest of their own assets: the tag holding the owner's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_by_owner: Option<String>,
    /// Quiet hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHoursDoc>,
}

/// The classification scheme.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassificationDoc {
    /// The tag rules, applied in order (a derived tag may read tags derived before it).
    pub tags: Vec<TagRuleDoc>,
}

fn yes() -> bool {
    true
}

/// One tag the scheme governs.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagRuleDoc {
    /// The tag key.
    pub key: String,
    /// What the tag means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether every resource in scope must carry it.
    #[serde(default = "yes")]
    pub required: bool,
    /// CloudFormation types (globs such as `AWS::EC2::*`) it applies to; empty: every type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_types: Vec<String>,
    /// The allowed values; empty: any value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
    /// A regular expression the whole value must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Derivation rules, tried in order; the first that yields a value wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub derive: Vec<DeriveDoc>,
    /// The value to add when nothing can be derived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Replace a value a person set when the derived value differs (default: never).
    #[serde(default)]
    pub overwrite: bool,
    /// Severity of the finding for a missing or invalid tag (default: medium).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

/// Where a derivation reads its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum DeriveFrom {
    /// The account id.
    #[serde(rename = "account")]
    Account,
    /// The region.
    #[serde(rename = "region")]
    Region,
    /// The resource's name.
    #[serde(rename = "name")]
    Name,
    /// The CloudFormation type.
    #[serde(rename = "type")]
    Type,
    /// The resource id.
    #[serde(rename = "id")]
    Id,
    /// The ARN.
    #[serde(rename = "arn")]
    Arn,
    /// The creating identity's ARN (from the creation event).
    #[serde(rename = "event.creator")]
    EventCreator,
    /// The creating identity's short name: user name, role session name, SSO user.
    #[serde(rename = "event.creator-name")]
    EventCreatorName,
    /// The kind of creating identity: `IAMUser`, `AssumedRole`, `FederatedUser`, `Root`, `AWSService`.
    #[serde(rename = "event.creator-type")]
    EventCreatorType,
    /// The creation time (RFC 3339).
    #[serde(rename = "event.time")]
    EventTime,
    /// The creation date (`YYYY-MM-DD`).
    #[serde(rename = "event.date")]
    EventDate,
}

/// A case transformation applied to a derived value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Transform {
    /// Lower case.
    Lower,
    /// Upper case.
    Upper,
}

/// One derivation rule. Give at most one source (`from`, `from_tag`, `from_path`, `max_of`);
/// with none, `value` is a literal.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeriveDoc {
    /// An attribute of the resource or of its creation event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DeriveFrom>,
    /// Another tag's value (as planned so far).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_tag: Option<String>,
    /// An attribute path into the resource document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_path: Option<String>,
    /// The highest numeric value among these tags (all must be present), e.g. C/I/A ratings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_of: Option<Vec<String>>,
    /// Apply only when this condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<ConditionDoc>,
    /// A regular expression applied to the source; no match: the rule yields nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Looks the source value up; a missing entry yields nothing unless the map has `"*"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<BTreeMap<String, String>>,
    /// The value: a literal, or with `regex` a template using `$1` / `${name}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Case transformation of the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<Transform>,
}

/// Which checks run.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChecksDoc {
    /// Selectors; a check runs when any selector matches it. Empty: every built-in check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub select: Vec<SelectorDoc>,
    /// Check ids (globs) never to run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Per-check severity, parameters, scope and escalations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<CheckSettingDoc>,
}

/// Selects checks; every criterion given must match.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectorDoc {
    /// Check ids or globs (`aws.s3.*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    /// Frameworks: `cis-aws`, `securityhub-fsbp`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frameworks: Vec<String>,
    /// Only checks of at least this default severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
    /// Only checks on these CloudFormation types (globs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_types: Vec<String>,
}

/// Settings for the checks matching `check`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckSettingDoc {
    /// A check id or glob.
    pub check: String,
    /// Severity to use instead of the check's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Parameter values.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub params: Map<String, Value>,
    /// Apply the check only where this holds (e.g. on confidential assets); elsewhere NOT_APPLICABLE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ConditionDoc>,
    /// Raise the severity where a condition holds (the highest matching wins).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalate: Vec<EscalateDoc>,
}

/// A severity escalation.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateDoc {
    /// Where it applies.
    pub when: ConditionDoc,
    /// The severity there.
    pub severity: Severity,
}

/// A declarative rule.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleDoc {
    /// Stable dotted id (must not clash with a built-in check).
    pub id: String,
    /// One line for people.
    pub title: String,
    /// What it checks and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Severity of a failure.
    pub severity: Severity,
    /// CloudFormation types it applies to.
    pub resource_types: Vec<String>,
    /// Applies only where this holds; elsewhere NOT_APPLICABLE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<ConditionDoc>,
    /// What a compliant resource satisfies.
    pub assert: ConditionDoc,
    /// The message of a failure (default: the title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How to fix a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    /// Standards references.
    #[serde(default)]
    pub references: References,
}

/// A suppression.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExceptionDoc {
    /// A unique id.
    pub id: String,
    /// Check ids or globs it covers.
    pub checks: Vec<String>,
    /// Resource ARN globs (empty: any resource).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// Accounts (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// Regions (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// Tags the resource must carry (values are globs).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Why the risk is accepted.
    pub reason: String,
    /// Who accepted it.
    pub owner: String,
    /// Last day it suppresses (`YYYY-MM-DD`).
    pub expires: String,
}

/// A compiled selector.
#[derive(Debug, Clone)]
struct Selector {
    ids: Vec<Regex>,
    frameworks: Vec<String>,
    min_severity: Option<Severity>,
    types: Vec<Regex>,
}

/// Compiled per-check settings.
#[derive(Debug, Clone)]
pub struct CheckSetting {
    /// Which checks.
    pub pattern: Regex,
    /// The pattern as written.
    pub check: String,
    /// Severity override.
    pub severity: Option<Severity>,
    /// Parameter values.
    pub params: Map<String, Value>,
    /// Scope.
    pub scope: Option<Condition>,
    /// Escalations.
    pub escalate: Vec<(Condition, Severity)>,
}

/// A compiled exception.
#[derive(Debug, Clone)]
pub struct Exception {
    /// Its id.
    pub id: String,
    /// Check id patterns.
    pub checks: Vec<Regex>,
    /// ARN patterns.
    pub resources: Vec<Regex>,
    /// Accounts.
    pub accounts: Vec<String>,
    /// Regions.
    pub regions: Vec<String>,
    /// Required tags (value patterns).
    pub tags: Vec<(String, Regex)>,
    /// Why.
    pub reason: String,
    /// Who.
    pub owner: String,
    /// Last day.
    pub expires: NaiveDate,
    /// Where it is in the policy file.
    pub location: Option<Location>,
}

impl Exception {
    /// Whether it covers `check_id` on a resource.
    pub fn matches(
        &self,
        check_id: &str,
        arn: &str,
        account: &str,
        region: &str,
        tags: &crate::tags::Tags,
    ) -> bool {
        self.checks.iter().any(|r| r.is_match(check_id))
            && (self.resources.is_empty() || self.resources.iter().any(|r| r.is_match(arn)))
            && (self.accounts.is_empty() || self.accounts.iter().any(|a| a == account))
            && (self.regions.is_empty() || self.regions.iter().any(|r| r == region))
            && self
                .tags
                .iter()
                .all(|(k, re)| tags.get(k).is_some_and(|v| re.is_match(v)))
    }

    /// Whether it has expired on `today` (it suppresses through its expiry day).
    pub fn expired_on(&self, today: NaiveDate) -> bool {
        today > self.expires
    }
}

/// A validated, compiled policy.
#[derive(Clone)]
pub struct Policy {
    /// The document as written.
    pub doc: PolicyDoc,
    /// The file name (or label) it was read from.
    pub source_name: String,
    /// The classification scheme, if any.
    pub classification: Option<Arc<ClassificationScheme>>,
    selectors: Vec<Selector>,
    exclude: Vec<Regex>,
    /// Per-check settings, in document order (later settings win).
    pub settings: Vec<CheckSetting>,
    /// Declarative rules.
    pub rules: Vec<Arc<dyn Check>>,
    /// Exceptions.
    pub exceptions: Vec<Exception>,
    /// Set by the program that loaded the document's `wasm_rules` and added their checks to
    /// `rules`; an engine refuses a policy naming WebAssembly rules nobody loaded.
    pub wasm_rules_loaded: bool,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("source_name", &self.source_name)
            .field("rules", &self.rules.len())
            .field("exceptions", &self.exceptions.len())
            .finish()
    }
}

/// The example policy shipped with Assetwarden (used by `assetwarden demo`).
pub const EXAMPLE_POLICY: &str = include_str!("../policies/example.yaml");

struct Diags<'a> {
    file: &'a str,
    index: &'a LocationIndex,
    out: Vec<PolicyDiagnostic>,
}

impl Diags<'_> {
    fn push(&mut self, path: &str, message: impl Into<String>) {
        let loc = self.index.find(path).map(|(line, column)| Location {
            file: self.file.to_string(),
            line,
            column,
        });
        self.out.push(PolicyDiagnostic {
            location: loc,
            path: path.to_string(),
            message: message.into(),
        });
    }
    fn location(&self, path: &str) -> Option<Location> {
        self.index.find(path).map(|(line, column)| Location {
            file: self.file.to_string(),
            line,
            column,
        })
    }
}

fn looks_like_json(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// Parses the document text (YAML, or JSON), with located syntax and type errors.
pub fn parse_doc(text: &str, file: &str) -> Result<PolicyDoc, PolicyError> {
    let one = |line: usize, column: usize, message: String| PolicyError {
        diagnostics: vec![PolicyDiagnostic {
            location: Some(Location {
                file: file.to_string(),
                line,
                column,
            }),
            path: String::new(),
            message,
        }],
    };
    if text.trim().is_empty() {
        return Err(PolicyError {
            diagnostics: vec![PolicyDiagnostic {
                location: None,
                path: String::new(),
                message: format!("`{file}` is empty"),
            }],
        });
    }
    if looks_like_json(text) {
        serde_json::from_str::<PolicyDoc>(text).map_err(|e| {
            let msg = clean_serde_message(&e.to_string());
            one(e.line(), e.column(), msg)
        })
    } else {
        serde_yaml::from_str::<PolicyDoc>(text).map_err(|e| {
            let msg = clean_serde_message(&e.to_string());
            match e.location() {
                Some(l) => one(l.line(), l.column(), msg),
                None => PolicyError {
                    diagnostics: vec![PolicyDiagnostic {
                        location: None,
                        path: String::new(),
                        message: msg,
                    }],
                },
            }
        })
    }
}

/// Strips the location serde appends (we print our own) and Rust-isms from serde messages.
fn clean_serde_message(m: &str) -> String {
    let re_at = Regex::new(r" at line \d+ column \d+$").ok();
    let mut s = m.to_string();
    if let Some(re) = re_at {
        s = re.replace(&s, "").into_owned();
    }
    if let Some(i) = s.find(" at line ") {
        s.truncate(i);
    }
    if let Some(i) = s.find("expected one of ") {
        let (head, list) = s.split_at(i + "expected one of ".len());
        let mut seen: Vec<String> = Vec::new();
        for item in list.split(", ") {
            let l = item.to_lowercase();
            if !seen.contains(&l) {
                seen.push(l);
            }
        }
        s = format!("{head}{}", seen.join(", "));
    }
    // Never a Rust type name in a message.
    if let Ok(re) = Regex::new(r"struct [A-Za-z]+") {
        s = re.replace_all(&s, "a mapping").into_owned();
    }
    if let Ok(re) = Regex::new(r"(a )?(sequence|map) of [A-Za-z]+") {
        s = re.replace_all(&s, "a $2").into_owned();
    }
    if let Ok(re) = Regex::new(r"enum [A-Za-z]+") {
        s = re.replace_all(&s, "one of the allowed values").into_owned();
    }
    s = s.replace("invalid type: ", "wrong type: ");
    s = s.replace("unknown variant", "unknown value");
    s = s.replace("unknown field", "unknown key");
    s = s.replace("missing field", "missing key");
    s
}

fn compile_globs(d: &mut Diags<'_>, path: &str, globs: &[String]) -> Vec<Regex> {
    let mut out = Vec::new();
    for (i, g) in globs.iter().enumerate() {
        match glob_to_regex(g) {
            Ok(r) => out.push(r),
            Err(e) => d.push(
                &format!("{path}[{i}]"),
                format!("invalid pattern `{g}`: {e}"),
            ),
        }
    }
    out
}

fn compile_cond(d: &mut Diags<'_>, doc: &ConditionDoc, at: &str) -> Option<Condition> {
    match Condition::compile(doc, at) {
        Ok(c) => Some(c),
        Err(errs) => {
            for (p, m) in errs {
                d.push(&p, m);
            }
            None
        }
    }
}

impl Policy {
    /// Reads a policy file.
    pub fn from_file(
        path: &std::path::Path,
        catalog: &[CheckMeta],
    ) -> crate::error::Result<Policy> {
        let text = std::fs::read_to_string(path).map_err(|source| crate::error::Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Policy::from_str_named(
            &text,
            &path.display().to_string(),
            catalog,
        )?)
    }

    /// Parses and validates a policy; `catalog` lists the checks it may select and configure
    /// (the built-in pack, plus any others the caller registers).
    pub fn from_str_named(
        text: &str,
        file: &str,
        catalog: &[CheckMeta],
    ) -> Result<Policy, PolicyError> {
        let doc = parse_doc(text, file)?;
        let index = LocationIndex::build(text);
        Policy::compile(doc, file, &index, catalog)
    }

    /// Validates and compiles a parsed document.
    pub fn compile(
        doc: PolicyDoc,
        file: &str,
        index: &LocationIndex,
        catalog: &[CheckMeta],
    ) -> Result<Policy, PolicyError> {
        let mut d = Diags {
            file,
            index,
            out: Vec::new(),
        };
        if doc.version != 1 {
            d.push(
                "version",
                format!(
                    "unsupported version `{}` (this Assetwarden reads version 1)",
                    doc.version
                ),
            );
        }
        let classification = doc
            .classification
            .as_ref()
            .map(|c| compile_classification(&mut d, c))
            .map(Arc::new);

        // Declarative rules.
        let builtin_ids: BTreeSet<&str> = catalog.iter().map(|m| m.id.as_str()).collect();
        let mut rule_ids = BTreeSet::new();
        let mut rules: Vec<Arc<dyn Check>> = Vec::new();
        for (i, r) in doc.rules.iter().enumerate() {
            let at = format!("rules[{i}]");
            if !valid_check_id(&r.id) {
                d.push(&format!("{at}.id"), format!("invalid rule id `{}` (use lowercase words, digits, `-` and `_`, separated by `.`)", r.id));
            }
            if builtin_ids.contains(r.id.as_str()) {
                d.push(
                    &format!("{at}.id"),
                    format!("rule id `{}` is the id of a built-in check", r.id),
                );
            }
            if !rule_ids.insert(r.id.clone()) {
                d.push(&format!("{at}.id"), format!("duplicate rule id `{}`", r.id));
            }
            if r.resource_types.is_empty() {
                d.push(
                    &format!("{at}.resource_types"),
                    "a rule needs at least one resource type",
                );
            }
            for (j, t) in r.resource_types.iter().enumerate() {
                if !is_cfn_type_name(t) {
                    d.push(
                        &format!("{at}.resource_types[{j}]"),
                        format!(
                            "`{t}` is not a CloudFormation type name such as `AWS::S3::Bucket`"
                        ),
                    );
                }
            }
            let when = r
                .when
                .as_ref()
                .and_then(|w| compile_cond(&mut d, w, &format!("{at}.when")));
            let assert = compile_cond(&mut d, &r.assert, &format!("{at}.assert"));
            if let Some(assert) = assert {
                let mut reads = Vec::new();
                assert.paths(&mut reads);
                if let Some(w) = &when {
                    w.paths(&mut reads);
                }
                let mut references = r.references.clone();
                if references.frameworks.is_empty() {
                    references.frameworks.push("custom".into());
                }
                let meta = CheckMeta {
                    id: r.id.clone(),
                    title: r.title.clone(),
                    description: r.description.clone().unwrap_or_else(|| r.title.clone()),
                    severity: r.severity,
                    resource_types: r.resource_types.clone(),
                    references,
                    remediation: r.remediation.clone().unwrap_or_default(),
                    reads: reads.iter().map(|p| p.as_str().to_string()).collect(),
                    params: Vec::new(),
                    kind: CheckKind::Declarative,
                };
                rules.push(Arc::new(crate::declarative::DeclarativeRule {
                    meta,
                    when,
                    assert,
                    message: r.message.clone(),
                }));
            }
        }
        let mut known: Vec<&CheckMeta> = catalog.iter().collect();
        for r in &rules {
            known.push(r.meta());
        }

        for (i, w) in doc.wasm_rules.iter().enumerate() {
            let at = format!("wasm_rules[{i}]");
            if w.sha256.len() != 64 || !w.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                d.push(
                    &format!("{at}.sha256"),
                    format!(
                        "`{}` is not a sha256 (64 hex digits; `assetwarden rules info {}` prints it)",
                        w.sha256, w.path
                    ),
                );
            }
            if w.path.trim().is_empty() {
                d.push(&format!("{at}.path"), "empty module path");
            }
        }

        // Selection.
        let mut selectors = Vec::new();
        for (i, s) in doc.checks.select.iter().enumerate() {
            let at = format!("checks.select[{i}]");
            if s.ids.is_empty()
                && s.frameworks.is_empty()
                && s.min_severity.is_none()
                && s.resource_types.is_empty()
            {
                d.push(&at, "a selector needs at least one of `ids`, `frameworks`, `min_severity`, `resource_types`");
            }
            let ids = compile_globs(&mut d, &format!("{at}.ids"), &s.ids);
            for (j, (g, re)) in s.ids.iter().zip(&ids).enumerate() {
                if !known.iter().any(|m| re.is_match(&m.id)) {
                    d.push(
                        &format!("{at}.ids[{j}]"),
                        format!("`{g}` matches no check (see `assetwarden checks list`)"),
                    );
                }
            }
            let all_frameworks: BTreeSet<&str> = known
                .iter()
                .flat_map(|m| m.references.frameworks.iter().map(String::as_str))
                .collect();
            for (j, f) in s.frameworks.iter().enumerate() {
                if !all_frameworks.contains(f.as_str()) {
                    d.push(
                        &format!("{at}.frameworks[{j}]"),
                        format!(
                            "unknown framework `{f}` (known: {})",
                            all_frameworks
                                .iter()
                                .copied()
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
            }
            let types = compile_globs(&mut d, &format!("{at}.resource_types"), &s.resource_types);
            selectors.push(Selector {
                ids,
                frameworks: s.frameworks.clone(),
                min_severity: s.min_severity,
                types,
            });
        }
        let exclude = compile_globs(&mut d, "checks.exclude", &doc.checks.exclude);
        for (j, (g, re)) in doc.checks.exclude.iter().zip(&exclude).enumerate() {
            if !known.iter().any(|m| re.is_match(&m.id)) {
                d.push(
                    &format!("checks.exclude[{j}]"),
                    format!("`{g}` matches no check"),
                );
            }
        }

        // Settings.
        let mut settings = Vec::new();
        for (i, s) in doc.checks.settings.iter().enumerate() {
            let at = format!("checks.settings[{i}]");
            let Ok(pattern) = glob_to_regex(&s.check) else {
                d.push(
                    &format!("{at}.check"),
                    format!("invalid pattern `{}`", s.check),
                );
                continue;
            };
            let matched: Vec<&&CheckMeta> =
                known.iter().filter(|m| pattern.is_match(&m.id)).collect();
            if matched.is_empty() {
                d.push(
                    &format!("{at}.check"),
                    format!(
                        "unknown check `{}` (see `assetwarden checks list`)",
                        s.check
                    ),
                );
            }
            for (name, value) in &s.params {
                for m in &matched {
                    match m.params.iter().find(|p| &p.name == name) {
                        None => d.push(
                            &format!("{at}.params.{name}"),
                            format!(
                                "check `{}` has no parameter `{name}`{}",
                                m.id,
                                if m.params.is_empty() {
                                    String::new()
                                } else {
                                    format!(
                                        " (it has: {})",
                                        m.params
                                            .iter()
                                            .map(|p| p.name.as_str())
                                            .collect::<Vec<_>>()
                                            .join(", ")
                                    )
                                }
                            ),
                        ),
                        Some(p) if !same_kind(&p.default, value) => d.push(
                            &format!("{at}.params.{name}"),
                            format!(
                                "parameter `{name}` of `{}` takes {}, not `{value}`",
                                m.id,
                                kind_name(&p.default)
                            ),
                        ),
                        Some(_) => {}
                    }
                }
            }
            let scope = s
                .scope
                .as_ref()
                .and_then(|c| compile_cond(&mut d, c, &format!("{at}.scope")));
            let mut escalate = Vec::new();
            for (j, e) in s.escalate.iter().enumerate() {
                if let Some(c) = compile_cond(&mut d, &e.when, &format!("{at}.escalate[{j}].when"))
                {
                    escalate.push((c, e.severity));
                }
            }
            settings.push(CheckSetting {
                pattern,
                check: s.check.clone(),
                severity: s.severity,
                params: s.params.clone(),
                scope,
                escalate,
            });
        }

        // Exceptions.
        let mut exceptions = Vec::new();
        let mut ex_ids = BTreeSet::new();
        for (i, e) in doc.exceptions.iter().enumerate() {
            let at = format!("exceptions[{i}]");
            if !ex_ids.insert(e.id.clone()) {
                d.push(
                    &format!("{at}.id"),
                    format!("duplicate exception id `{}`", e.id),
                );
            }
            if e.reason.trim().is_empty() {
                d.push(&format!("{at}.reason"), "an exception needs a reason");
            }
            if e.owner.trim().is_empty() {
                d.push(&format!("{at}.owner"), "an exception needs an owner");
            }
            if e.checks.is_empty() {
                d.push(
                    &format!("{at}.checks"),
                    "an exception needs at least one check id or pattern",
                );
            }
            let checks = compile_globs(&mut d, &format!("{at}.checks"), &e.checks);
            for (j, (g, re)) in e.checks.iter().zip(&checks).enumerate() {
                let tag_check = g.starts_with("tag-policy.");
                if !tag_check && !known.iter().any(|m| re.is_match(&m.id)) {
                    d.push(
                        &format!("{at}.checks[{j}]"),
                        format!("`{g}` matches no check"),
                    );
                }
            }
            let resources = compile_globs(&mut d, &format!("{at}.resources"), &e.resources);
            let mut tags = Vec::new();
            for (k, v) in &e.tags {
                match glob_to_regex(v) {
                    Ok(r) => tags.push((k.clone(), r)),
                    Err(err) => d.push(
                        &format!("{at}.tags.{k}"),
                        format!("invalid pattern `{v}`: {err}"),
                    ),
                }
            }
            for (j, a) in e.accounts.iter().enumerate() {
                if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
                    d.push(
                        &format!("{at}.accounts[{j}]"),
                        format!("`{a}` is not a 12-digit account id"),
                    );
                }
            }
            let expires = match NaiveDate::parse_from_str(&e.expires, "%Y-%m-%d") {
                Ok(x) => x,
                Err(_) => {
                    d.push(
                        &format!("{at}.expires"),
                        format!("`{}` is not a date of the form YYYY-MM-DD", e.expires),
                    );
                    NaiveDate::MIN
                }
            };
            exceptions.push(Exception {
                id: e.id.clone(),
                checks,
                resources,
                accounts: e.accounts.clone(),
                regions: e.regions.clone(),
                tags,
                reason: e.reason.clone(),
                owner: e.owner.clone(),
                expires,
                location: d.location(&at),
            });
        }

        // Remediation.
        if let Some(r) = &doc.remediation {
            for (at, id) in r.unknown_ids() {
                d.push(
                    &at,
                    format!("unknown remediation `{id}` (see `assetwarden remediate list`)"),
                );
            }
        }

        // Notification routes.
        if let Some(n) = &doc.notifications {
            let mut names = BTreeSet::new();
            let env_ok = |v: &str| {
                !v.is_empty()
                    && v.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            };
            for (i, r) in n.routes.iter().enumerate() {
                let at = format!("notifications.routes[{i}]");
                if !names.insert(r.name.clone()) {
                    d.push(
                        &format!("{at}.name"),
                        format!("duplicate route name `{}`", r.name),
                    );
                }
                for (field, v) in [("url_env", &r.url_env), ("secret_env", &r.secret_env)] {
                    if let Some(v) = v
                        && !env_ok(v)
                    {
                        d.push(
                            &format!("{at}.{field}"),
                            format!("`{v}` is not an environment variable name (A-Z, 0-9, _)"),
                        );
                    }
                }
                match r.kind {
                    RouteKind::Slack | RouteKind::Webhook if r.url_env.is_none() => {
                        d.push(&at, format!("route `{}` needs `url_env`: the webhook URL is a secret and comes from the environment", r.name));
                    }
                    RouteKind::Email => {
                        if r.smtp.is_none() {
                            d.push(&at, format!("route `{}` needs `smtp`", r.name));
                        }
                        if r.from.is_none() {
                            d.push(&at, format!("route `{}` needs `from`", r.name));
                        }
                        if r.to.is_empty() && r.digest_by_owner.is_none() {
                            d.push(
                                &at,
                                format!("route `{}` needs `to` or `digest_by_owner`", r.name),
                            );
                        }
                        for (j, a) in r.from.iter().chain(r.to.iter()).enumerate() {
                            if a.contains(['\r', '\n']) || !a.contains('@') {
                                d.push(
                                    &format!("{at}.to[{j}]"),
                                    format!("`{}` is not an e-mail address", a.escape_debug()),
                                );
                            }
                        }
                        if let Some(t) = r.smtp.as_ref().and_then(|s| s.tls.as_deref())
                            && !matches!(t, "starttls" | "tls" | "none")
                        {
                            d.push(
                                &format!("{at}.smtp.tls"),
                                format!("unknown TLS mode `{t}` (starttls, tls or none)"),
                            );
                        }
                    }
                    _ => {}
                }
                if let Some(q) = &r.quiet_hours {
                    for (field, v) in [("start", &q.start), ("end", &q.end)] {
                        if chrono::NaiveTime::parse_from_str(v, "%H:%M").is_err() {
                            d.push(
                                &format!("{at}.quiet_hours.{field}"),
                                format!("`{v}` is not a time of the form HH:MM"),
                            );
                        }
                    }
                }
                let _ = compile_globs(&mut d, &format!("{at}.checks"), &r.checks);
            }
        }

        if !d.out.is_empty() {
            return Err(PolicyError { diagnostics: d.out });
        }
        Ok(Policy {
            source_name: file.to_string(),
            doc,
            classification,
            selectors,
            exclude,
            settings,
            rules,
            exceptions,
            wasm_rules_loaded: false,
        })
    }

    /// Whether the policy selects the check described by `meta`.
    pub fn selects(&self, meta: &CheckMeta) -> bool {
        if self.exclude.iter().any(|r| r.is_match(&meta.id)) {
            return false;
        }
        // Rules the document brings itself (declarative or WebAssembly) run unless excluded.
        if matches!(meta.kind, CheckKind::Declarative | CheckKind::Wasm) {
            return true;
        }
        if self.selectors.is_empty() {
            return true;
        }
        self.selectors.iter().any(|s| {
            (s.ids.is_empty() || s.ids.iter().any(|r| r.is_match(&meta.id)))
                && (s.frameworks.is_empty()
                    || s.frameworks
                        .iter()
                        .any(|f| meta.references.frameworks.contains(f)))
                && s.min_severity.is_none_or(|min| meta.severity >= min)
                && (s.types.is_empty()
                    || meta
                        .resource_types
                        .iter()
                        .any(|t| s.types.iter().any(|r| r.is_match(t))))
        })
    }

    /// The settings that apply to a check id, in document order.
    pub fn settings_for<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a CheckSetting> + 'a {
        self.settings.iter().filter(move |s| s.pattern.is_match(id))
    }
}

/// Whether `id` is a well-formed dotted check id.
pub fn valid_check_id(id: &str) -> bool {
    !id.is_empty()
        && id.split('.').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        })
}

fn same_kind(a: &Value, b: &Value) -> bool {
    matches!(
        (a, b),
        (Value::Null, _)
            | (Value::Bool(_), Value::Bool(_))
            | (Value::Number(_), Value::Number(_))
            | (Value::String(_), Value::String(_))
            | (Value::Array(_), Value::Array(_))
            | (Value::Array(_), Value::String(_))
            | (Value::Object(_), Value::Object(_))
    )
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "any value",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn compile_classification(d: &mut Diags<'_>, c: &ClassificationDoc) -> ClassificationScheme {
    let mut rules = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, t) in c.tags.iter().enumerate() {
        let at = format!("classification.tags[{i}]");
        if !seen.insert(t.key.clone()) {
            d.push(
                &format!("{at}.key"),
                format!("tag `{}` is governed twice", t.key),
            );
        }
        for v in crate::tags::validate_tag(&t.key, "") {
            d.push(&format!("{at}.key"), v.to_string());
        }
        let types = compile_globs(d, &format!("{at}.resource_types"), &t.resource_types);
        let pattern = t
            .pattern
            .as_ref()
            .and_then(|p| match Regex::new(&format!("^(?:{p})$")) {
                Ok(r) => Some(r),
                Err(e) => {
                    d.push(
                        &format!("{at}.pattern"),
                        format!(
                            "invalid regex `{p}`: {}",
                            e.to_string().lines().last().unwrap_or("")
                        ),
                    );
                    None
                }
            });
        let allowed_ok = |v: &str| {
            (t.allowed.is_empty() || t.allowed.iter().any(|a| a == v))
                && pattern.as_ref().is_none_or(|r| r.is_match(v))
        };
        if let Some(def) = &t.default {
            if !allowed_ok(def) {
                d.push(
                    &format!("{at}.default"),
                    format!("default `{def}` is not an allowed value of `{}`", t.key),
                );
            }
            for v in crate::tags::validate_tag("k", def) {
                d.push(
                    &format!("{at}.default"),
                    format!("value `{def}` of tag `{}`: {}", t.key, v.reason),
                );
            }
        }
        for (j, a) in t.allowed.iter().enumerate() {
            for v in crate::tags::validate_tag("k", a) {
                d.push(
                    &format!("{at}.allowed[{j}]"),
                    format!("value `{a}` of tag `{}`: {}", t.key, v.reason),
                );
            }
        }
        let mut derive = Vec::new();
        for (j, dr) in t.derive.iter().enumerate() {
            let dat = format!("{at}.derive[{j}]");
            let nsrc = dr.from.is_some() as usize
                + dr.from_tag.is_some() as usize
                + dr.from_path.is_some() as usize
                + dr.max_of.is_some() as usize;
            if nsrc > 1 {
                d.push(
                    &dat,
                    "give at most one of `from`, `from_tag`, `from_path`, `max_of`",
                );
                continue;
            }
            let source = if let Some(f) = dr.from {
                DeriveSource::Attr(f)
            } else if let Some(k) = &dr.from_tag {
                if !c.tags[..i].iter().any(|t| &t.key == k) && k != &t.key {
                    // Reading a tag the scheme does not govern is allowed (a person may set it),
                    // but reading one governed *later* is a mistake: it has not been planned yet.
                    if c.tags[i..].iter().any(|t| &t.key == k) {
                        d.push(
                            &format!("{dat}.from_tag"),
                            format!(
                                "tag `{k}` is governed after `{}`; move its rule before this one",
                                t.key
                            ),
                        );
                    }
                }
                DeriveSource::Tag(k.clone())
            } else if let Some(p) = &dr.from_path {
                match AttrPath::parse(p) {
                    Ok(p) => DeriveSource::Path(p),
                    Err(e) => {
                        d.push(&format!("{dat}.from_path"), e);
                        continue;
                    }
                }
            } else if let Some(keys) = &dr.max_of {
                if keys.is_empty() {
                    d.push(
                        &format!("{dat}.max_of"),
                        "`max_of` needs at least one tag key",
                    );
                }
                DeriveSource::MaxOf(keys.clone())
            } else {
                if dr.value.is_none() {
                    d.push(&dat, "a derivation needs a source (`from`, `from_tag`, `from_path`, `max_of`) or a literal `value`");
                    continue;
                }
                DeriveSource::Literal
            };
            let when = dr
                .when
                .as_ref()
                .and_then(|w| compile_cond(d, w, &format!("{dat}.when")));
            let regex = match &dr.regex {
                Some(r) => match Regex::new(r) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        d.push(
                            &format!("{dat}.regex"),
                            format!(
                                "invalid regex `{r}`: {}",
                                e.to_string().lines().last().unwrap_or("")
                            ),
                        );
                        continue;
                    }
                },
                None => None,
            };
            if let Some(map) = &dr.map {
                for (k, v) in map {
                    if !allowed_ok(v) {
                        d.push(
                            &format!("{dat}.map.{k}"),
                            format!("`{v}` is not an allowed value of `{}`", t.key),
                        );
                    }
                }
            }
            if dr.map.is_none()
                && dr.regex.is_none()
                && let (DeriveSource::Literal, Some(v)) = (&source, &dr.value)
                && !allowed_ok(v)
            {
                d.push(
                    &format!("{dat}.value"),
                    format!("`{v}` is not an allowed value of `{}`", t.key),
                );
            }
            derive.push(CompiledDerive {
                source,
                when,
                regex,
                map: dr.map.clone(),
                value: dr.value.clone(),
                transform: dr.transform,
            });
        }
        rules.push(CompiledTagRule {
            key: t.key.clone(),
            required: t.required,
            types,
            allowed: t.allowed.clone(),
            pattern,
            derive,
            default: t.default.clone(),
            overwrite: t.overwrite,
            severity: t.severity.unwrap_or(Severity::Medium),
        });
    }
    ClassificationScheme { rules }
}

/// The JSON Schema of the policy document, generated from its Rust types.
pub fn json_schema() -> Value {
    let schema = schemars::schema_for!(PolicyDoc);
    serde_json::to_value(schema).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(y: &str) -> Result<Policy, PolicyError> {
        Policy::from_str_named(y, "p.yaml", &crate::checks::catalog())
    }

    #[test]
    fn example_policy_loads() {
        let p = load(EXAMPLE_POLICY).unwrap();
        assert!(p.classification.is_some());
        assert!(!p.rules.is_empty());
    }

    #[test]
    fn syntax_and_type_errors_are_located() {
        let e = load("version: 1\nchecks:\n  select:\n    - ids: [a\n").unwrap_err();
        let l = e.diagnostics[0].location.clone().unwrap();
        assert_eq!(l.file, "p.yaml");
        assert!(l.line >= 4, "{e}");
        let e = load("version: 1\nchecks:\n  settings:\n    - check: aws.s3.versioning\n      severity: urgent\n").unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("unknown value `urgent`, expected one of `informational`, `info`, `low`"),
            "{s}"
        );
        assert!(s.contains("p.yaml:5:"), "{s}");
        let e = load("- version: 1\n").unwrap_err();
        assert!(e.to_string().contains("expected a mapping"), "{e}");
        assert!(!e.to_string().contains("PolicyDoc"), "{e}");
        let e = load("version: 1\nchekcs: {}\n").unwrap_err();
        assert!(e.to_string().contains("unknown key `chekcs`"), "{e}");
        assert!(e.to_string().contains("p.yaml:2:1"), "{e}");
    }

    #[test]
    fn semantic_errors_are_located() {
        let y = "version: 1\nchecks:\n  settings:\n    - check: aws.s3.nope\n    - check: aws.rds.backup-enabled\n      params:\n        minimumRetention: 7\n        bogus: 1\nrules:\n  - id: x.y\n    title: t\n    severity: high\n    resource_types: [AWS::S3::Buckett, bucket]\n    assert: {path: configuration.a, regex: '('}\nexceptions:\n  - id: e\n    checks: [aws.s3.*]\n    reason: r\n    owner: o\n    expires: 2025-13-01\n";
        let e = load(y).unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains(
                "unknown check `aws.s3.nope` (see `assetwarden checks list`) in p.yaml:4:14"
            ),
            "{s}"
        );
        assert!(s.contains("has no parameter `bogus`"), "{s}");
        assert!(s.contains("p.yaml:8:16"), "{s}");
        assert!(
            s.contains("`bucket` is not a CloudFormation type name"),
            "{s}"
        );
        assert!(s.contains("invalid regex `(`"), "{s}");
        assert!(s.contains("`2025-13-01` is not a date"), "{s}");
        assert!(s.contains("p.yaml:20:14"), "{s}");
    }

    #[test]
    fn json_is_accepted() {
        let p =
            load("{\"version\": 1, \"checks\": {\"select\": [{\"frameworks\": [\"cis-aws\"]}]}}")
                .unwrap();
        let cat = crate::checks::catalog();
        let n = cat.iter().filter(|m| p.selects(m)).count();
        assert!(n > 0 && n < cat.len());
        let e =
            load("{\"version\": 1,\n \"checks\": {\"select\": [{\"frameworks\": [\"nope\"]}]}}")
                .unwrap_err();
        assert!(e.to_string().contains("unknown framework `nope`"), "{e}");
        assert!(e.to_string().contains("in p.yaml:2:"), "{e}");
    }
}
