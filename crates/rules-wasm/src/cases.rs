//! Test cases for rules, in YAML, so rule authors can test without writing Rust:
//!
//! ```yaml
//! cases:
//!   - name: all four settings on
//!     rule: acme.s3.block-public-access   # optional when the module has one rule
//!     resource: { resourceType: AWS::S3::Bucket, arn: ..., supplementaryConfiguration: ... }
//!     expect: pass                        # pass, fail, not_applicable, unknown, error
//!     reason: substring of the message    # optional
//! ```
//!
//! Each resource is normalised like an inventory file's item and evaluated by the real engine,
//! so scopes, UNKNOWN on unobserved data and the batch path are exercised as in a scan.

use std::sync::Arc;

use assetwarden_core::check::Check;
use assetwarden_core::finding::Status;
use assetwarden_core::normalize::{Normalised, config_item};
use assetwarden_core::serde_yaml;
use assetwarden_core::{Engine, Resource};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CasesDoc {
    cases: Vec<CaseDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseDoc {
    name: String,
    #[serde(default)]
    rule: Option<String>,
    resource: Value,
    expect: String,
    #[serde(default)]
    reason: Option<String>,
}

/// One case's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// The rule it tests.
    pub rule: String,
    /// What the case expects.
    pub expected: String,
    /// What the rule said.
    pub got: String,
    /// The finding's message.
    pub message: String,
    /// Whether it matched.
    pub ok: bool,
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Unknown => "unknown",
        Status::NotApplicable => "not_applicable",
        Status::Suppressed => "suppressed",
        Status::Error => "error",
    }
}

/// Runs the cases in `text` (from `file`, for messages) against `checks`. A malformed file is an
/// error naming the line and column; a case that does not hold is a result with `ok: false`.
pub fn run_cases(
    checks: &[Arc<dyn Check>],
    text: &str,
    file: &str,
) -> Result<Vec<CaseResult>, String> {
    let doc: CasesDoc = serde_yaml::from_str(text).map_err(|e| match e.location() {
        Some(l) => format!("{file}:{}:{}: {e}", l.line(), l.column()),
        None => format!("{file}: {e}"),
    })?;
    let mut b = Engine::builder().builtins(false);
    for c in checks {
        b = b.check(c.clone());
    }
    let engine = b.build().map_err(|e| format!("{file}: {e}"))?;
    let mut prepared: Vec<(usize, String, Resource)> = Vec::new();
    for (i, c) in doc.cases.iter().enumerate() {
        let at = format!("{file}: case {} (`{}`)", i + 1, c.name);
        let rule = match (&c.rule, checks) {
            (Some(r), _) => r.clone(),
            (None, [only]) => only.meta().id.clone(),
            (None, _) => {
                return Err(format!(
                    "{at}: says no `rule`, and there are {} rules",
                    checks.len()
                ));
            }
        };
        if !checks.iter().any(|c| c.meta().id == rule) {
            return Err(format!("{at}: no rule `{rule}` is loaded"));
        }
        if ![
            "pass",
            "fail",
            "not_applicable",
            "unknown",
            "error",
            "suppressed",
        ]
        .contains(&c.expect.as_str())
        {
            return Err(format!(
                "{at}: `expect: {}` is not one of pass, fail, not_applicable, unknown, error",
                c.expect
            ));
        }
        let r = match config_item(&c.resource) {
            Ok(Normalised::Resources(mut rs)) if rs.len() == 1 => rs.remove(0),
            Ok(_) => return Err(format!("{at}: `resource` must be one resource")),
            Err(e) => return Err(format!("{at}: `resource`: {e}")),
        };
        prepared.push((i, rule, r));
    }
    // All cases in one batch: the path a scan takes.
    let batch: Vec<Resource> = prepared.iter().map(|(_, _, r)| r.clone()).collect();
    let results = engine.evaluate_batch(&batch);
    let mut out = Vec::new();
    for ((i, rule, _), res) in prepared.iter().zip(results) {
        let c = &doc.cases[*i];
        let (got, message) = match res.findings.iter().find(|f| &f.check_id == rule) {
            Some(f) => (status_name(f.status).to_string(), f.message.clone()),
            None => (
                "not_applicable".to_string(),
                "the rule does not apply to this resource type".to_string(),
            ),
        };
        let ok = got == c.expect
            && c.reason
                .as_ref()
                .is_none_or(|want| message.contains(want.as_str()));
        out.push(CaseResult {
            name: c.name.clone(),
            rule: rule.clone(),
            expected: match &c.reason {
                Some(r) => format!("{} ({r})", c.expect),
                None => c.expect.clone(),
            },
            got,
            message,
            ok,
        });
    }
    Ok(out)
}
