//! The rule ABI's data: the metadata a module declares, the input the host writes, the output
//! the rule returns. The transport (core module or component) is in `sandbox`.

use std::io::Write as _;

use assetwarden_core::check::EvalContext;
use assetwarden_core::finding::{References, Severity};
use assetwarden_core::path::{AttrPath, Segment};
use assetwarden_core::resource::{Resolved, Resource, Val};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The ABI version this host speaks.
pub const ABI_VERSION: u64 = 1;

/// What a module's `metadata` returns.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleMeta {
    /// Must be [`ABI_VERSION`].
    pub abi: u64,
    /// The rules in the module (at least one).
    pub rules: Vec<RuleMeta>,
}

/// One rule's metadata.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleMeta {
    /// Stable dotted id, e.g. `acme.s3.block-public-access`.
    pub id: String,
    /// One line for people.
    pub title: String,
    /// What it checks and why.
    #[serde(default)]
    pub description: String,
    /// `informational`, `low`, `medium`, `high` or `critical`.
    pub severity: Severity,
    /// CloudFormation types, e.g. `AWS::S3::Bucket`.
    pub resource_types: Vec<String>,
    /// Standards references (`security_hub`, `cis`, `cce`, `aws_config`, `frameworks`).
    #[serde(default)]
    pub references: RefsMeta,
    /// How to fix a failure.
    #[serde(default)]
    pub remediation: String,
    /// The attribute paths the rule reads, in the order the host sends their values.
    pub reads: Vec<String>,
    /// Parameters with defaults.
    #[serde(default)]
    pub params: Vec<ParamMeta>,
}

/// References as a module states them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefsMeta {
    /// The Security Hub control id (`S3.8`).
    #[serde(default)]
    pub security_hub: Option<String>,
    /// CIS AWS Foundations Benchmark items.
    #[serde(default)]
    pub cis: Vec<String>,
    /// CCE ids.
    #[serde(default)]
    pub cce: Vec<String>,
    /// The AWS Config managed rule that checks the same thing.
    #[serde(default)]
    pub aws_config: Option<String>,
    /// Frameworks the rule belongs to.
    #[serde(default)]
    pub frameworks: Vec<String>,
    /// Documentation links.
    #[serde(default)]
    pub urls: Vec<String>,
}

impl RefsMeta {
    /// As the engine's references.
    pub fn to_references(&self) -> References {
        References {
            securityhub: self.security_hub.clone(),
            cis: self.cis.clone(),
            cce: self.cce.clone(),
            config_rule: self.aws_config.clone(),
            frameworks: self.frameworks.clone(),
            urls: self.urls.clone(),
        }
    }
}

/// A declared parameter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamMeta {
    /// Its name.
    pub name: String,
    /// Its default (a JSON scalar or list).
    pub default: Value,
    /// What it means.
    #[serde(default)]
    pub description: String,
}

/// Appends the input of one evaluation call: header, parameters, then each resource with the
/// values of the rule's declared paths.
///
/// ```text
/// AW1 <rule index> <resource count>
/// P <name> <value as JSON>              one line per declared parameter, in declared order
/// R <index> <resourceType> <arn>        then one line per declared path, in declared order:
/// <value as JSON>                       the value, a JSON array when the path has a wildcard,
///                                       or an empty line when the resource has no such value
/// ```
pub fn encode_input(
    out: &mut Vec<u8>,
    rule_index: usize,
    params: &[(String, Value)],
    ctx_params: Option<&Map<String, Value>>,
    reads: &[AttrPath],
    items: &[(&Resource, EvalContext<'_>)],
) {
    // Writing into a Vec cannot fail; values are serialised in place, not copied first.
    let _ = writeln!(out, "AW1 {rule_index} {}", items.len());
    for (name, default) in params {
        let v = ctx_params.and_then(|m| m.get(name)).unwrap_or(default);
        let _ = write!(out, "P {name} ");
        write_json(out, v);
        out.push(b'\n');
    }
    let wildcard: Vec<bool> = reads
        .iter()
        .map(|p| p.segments().iter().any(|s| matches!(s, Segment::Any)))
        .collect();
    for (i, (r, ctx)) in items.iter().enumerate() {
        let _ = write!(out, "R {i} {} ", r.resource_type);
        if r.arn.contains(['\n', '\r']) {
            out.extend_from_slice(r.arn.replace(['\n', '\r'], " ").as_bytes());
        } else {
            out.extend_from_slice(r.arn.as_bytes());
        }
        out.push(b'\n');
        for (p, &any) in reads.iter().zip(&wildcard) {
            match r.resolve_with(p, ctx.tags) {
                Resolved::Values(vals) => {
                    if vals.is_empty() {
                    } else if any {
                        out.push(b'[');
                        for (k, v) in vals.iter().enumerate() {
                            if k > 0 {
                                out.push(b',');
                            }
                            write_val(out, v);
                        }
                        out.push(b']');
                    } else {
                        write_val(out, &vals[0]);
                    }
                }
                // The engine does not call a rule on a resource whose declared paths were not
                // observed; should it happen, the value is absent.
                Resolved::Unobserved(_) => {}
            }
            out.push(b'\n');
        }
    }
}

/// Appends `v` as one line of JSON (`null` if it cannot be serialised, which a `Value` always can).
fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    let at = out.len();
    if serde_json::to_writer(&mut *out, v).is_err() {
        out.truncate(at);
        out.extend_from_slice(b"null");
    }
}

fn write_val(out: &mut Vec<u8>, v: &Val<'_>) {
    match v {
        Val::Json(j) => write_json(out, *j),
        Val::Str(s) => write_json(out, *s),
        Val::Tags(t) => write_json(out, *t),
    }
}

/// One result in a rule's output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResult {
    /// The resource's index in the input.
    pub i: usize,
    /// `pass`, `fail`, `not_applicable` or `error`.
    pub status: String,
    /// Why (required for `fail`, `not_applicable` and `error`).
    #[serde(default)]
    pub reason: Option<String>,
    /// What shows it.
    #[serde(default)]
    pub evidence: Vec<RawEvidence>,
}

/// A piece of evidence in a rule's output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvidence {
    /// The attribute path.
    pub path: String,
    /// Its value.
    #[serde(default)]
    pub value: Value,
}

/// Parses a rule's output for `n` resources: a JSON array with exactly one result per index.
pub fn parse_output(bytes: &[u8], n: usize) -> Result<Vec<RawResult>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "the rule's output is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        )
    })?;
    let results: Vec<RawResult> = serde_json::from_str(text).map_err(|e| {
        format!(
            "the rule's output is not a valid result list: {e} (output starts `{}`)",
            preview(text, 80)
        )
    })?;
    let mut seen = vec![false; n];
    for r in &results {
        let Some(slot) = seen.get_mut(r.i) else {
            return Err(format!(
                "the rule returned a result for resource {} of a batch of {n}",
                r.i
            ));
        };
        if *slot {
            return Err(format!(
                "the rule returned two results for resource {}",
                r.i
            ));
        }
        *slot = true;
        if !matches!(
            r.status.as_str(),
            "pass" | "fail" | "not_applicable" | "error"
        ) {
            return Err(format!(
                "the rule returned the unknown status `{}` for resource {} (pass, fail, not_applicable, error)",
                preview(&r.status, 40),
                r.i
            ));
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(format!(
            "the rule returned no result for resource {missing} ({} of {n} answered)",
            results.len()
        ));
    }
    Ok(results)
}

/// At most `max` characters of `s`, marked when cut.
pub fn preview(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}
