//! The `Check` trait: a synchronous, pure evaluation of one resource.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::finding::{CheckKind, Evidence, References, Severity};
use crate::resource::Resource;
use crate::tags::Tags;

/// A parameter a check accepts, with its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ParamSpec {
    /// The parameter's name.
    pub name: String,
    /// Its default value.
    pub default: Value,
    /// What it means.
    pub description: String,
}

/// What a check is: id, title, severity, the types it applies to, its references.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckMeta {
    /// Stable dotted id, e.g. `aws.s3.public-access-block`.
    pub id: String,
    /// One line for people.
    pub title: String,
    /// What it checks and why.
    pub description: String,
    /// Default severity.
    pub severity: Severity,
    /// CloudFormation types it applies to.
    pub resource_types: Vec<String>,
    /// Standards references.
    pub references: References,
    /// How to fix a failure.
    pub remediation: String,
    /// The attribute paths it reads (a source that could not see one makes the result UNKNOWN).
    pub reads: Vec<String>,
    /// Parameters, with defaults.
    pub params: Vec<ParamSpec>,
    /// Where the check comes from.
    pub kind: CheckKind,
}

impl CheckMeta {
    /// The parameters' defaults as a map.
    pub fn default_params(&self) -> Map<String, Value> {
        self.params
            .iter()
            .map(|p| (p.name.clone(), p.default.clone()))
            .collect()
    }
}

/// What a check is given besides the resource.
#[derive(Debug, Clone)]
pub struct EvalContext<'a> {
    /// Parameters: the check's defaults overlaid with the policy's values.
    pub params: &'a Map<String, Value>,
    /// The evaluation time (fixed for a whole scan).
    pub now: DateTime<Utc>,
    /// The tags the resource will carry once its tag plan is applied.
    pub tags: &'a Tags,
    /// Whether a passing outcome's message and evidence are kept. A scan that only counts
    /// passing verdicts says `false`: a check may then leave out pass evidence that is costly
    /// to build (its verdict must not change).
    pub explain_pass: bool,
}

impl EvalContext<'_> {
    /// A parameter.
    pub fn param(&self, name: &str) -> Option<&Value> {
        self.params.get(name)
    }
    /// A numeric parameter, or `default`.
    pub fn param_f64(&self, name: &str, default: f64) -> f64 {
        self.params
            .get(name)
            .and_then(Value::as_f64)
            .unwrap_or(default)
    }
    /// Whether the list parameter `name` holds `value`: [`EvalContext::param_strings`]
    /// followed by a search, without copying the list (checks ask this per resource).
    pub fn param_has(&self, name: &str, value: &str) -> bool {
        match self.params.get(name) {
            Some(Value::Array(a)) => a.iter().any(|v| match v {
                Value::String(s) => s == value,
                Value::Number(n) => n.to_string() == value,
                _ => false,
            }),
            Some(Value::String(s)) => s
                .split(',')
                .map(str::trim)
                .any(|s| !s.is_empty() && s == value),
            _ => false,
        }
    }
    /// A parameter holding a list of strings (a comma-separated string is accepted too).
    pub fn param_strings(&self, name: &str) -> Vec<String> {
        match self.params.get(name) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect(),
            Some(Value::String(s)) => s
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// A check's verdict on one resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Complies.
    Pass {
        /// What shows it.
        evidence: Vec<Evidence>,
    },
    /// Does not comply.
    Fail {
        /// Why, for people.
        reason: String,
        /// What shows it.
        evidence: Vec<Evidence>,
    },
    /// The check does not apply.
    NotApplicable {
        /// Why not.
        reason: String,
    },
    /// The check could not see what it needs.
    Unknown {
        /// What it could not see, and why.
        reason: String,
    },
    /// The check failed.
    Error {
        /// What went wrong.
        reason: String,
    },
}

impl Outcome {
    /// A pass with one piece of evidence.
    pub fn pass(path: &str, value: impl Into<Value>) -> Outcome {
        Outcome::Pass {
            evidence: vec![Evidence::new(path, value)],
        }
    }
    /// A failure with one piece of evidence.
    pub fn fail(reason: impl Into<String>, path: &str, value: impl Into<Value>) -> Outcome {
        Outcome::Fail {
            reason: reason.into(),
            evidence: vec![Evidence::new(path, value)],
        }
    }
    /// Not applicable.
    pub fn na(reason: impl Into<String>) -> Outcome {
        Outcome::NotApplicable {
            reason: reason.into(),
        }
    }
    /// Unknown.
    pub fn unknown(reason: impl Into<String>) -> Outcome {
        Outcome::Unknown {
            reason: reason.into(),
        }
    }
}

/// A compliance check. Built-in, declarative and WebAssembly checks all implement it, and the
/// engine treats them alike. Evaluation is synchronous and pure: no I/O, no clock (the time is in
/// the context), so it runs the same in the CLI, in Python and inside a Lambda.
pub trait Check: Send + Sync {
    /// The check's metadata.
    fn meta(&self) -> &CheckMeta;
    /// Evaluates one resource of one of [`CheckMeta::resource_types`].
    fn evaluate(&self, resource: &Resource, ctx: &EvalContext<'_>) -> Outcome;

    /// How many resources this check prefers to evaluate in one [`Check::evaluate_many`] call;
    /// `None` (the default) when a call per resource costs nothing extra. A check whose calls
    /// carry a fixed cost (a WebAssembly instance, an interpreter) says how many to amortise it
    /// over, and the engine then hands it whole batches, in parallel across cores.
    fn batch_hint(&self) -> Option<usize> {
        None
    }

    /// Evaluates several resources, one outcome per item, in order. The default calls
    /// [`Check::evaluate`] for each.
    fn evaluate_many(&self, items: &[(&Resource, EvalContext<'_>)]) -> Vec<Outcome> {
        items.iter().map(|(r, ctx)| self.evaluate(r, ctx)).collect()
    }
}
