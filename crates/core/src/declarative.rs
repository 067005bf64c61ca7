//! Declarative rules from the policy document, running through the same `Check` trait.

use crate::check::{Check, CheckMeta, EvalContext, Outcome};
use crate::resource::Resource;
use crate::rules::{Condition, Truth};

/// A compiled declarative rule.
#[derive(Debug)]
pub struct DeclarativeRule {
    /// Metadata.
    pub meta: CheckMeta,
    /// Applicability.
    pub when: Option<Condition>,
    /// The assertion.
    pub assert: Condition,
    /// Failure message.
    pub message: Option<String>,
}

impl Check for DeclarativeRule {
    fn meta(&self) -> &CheckMeta {
        &self.meta
    }

    fn evaluate(&self, r: &Resource, ctx: &EvalContext<'_>) -> Outcome {
        if let Some(w) = &self.when {
            match w.eval(r, ctx.tags) {
                Truth::True => {}
                Truth::False => return Outcome::na("the rule's `when` condition does not hold"),
                Truth::Unknown => {
                    return Outcome::unknown(
                        "the rule's `when` condition reads data the source could not see",
                    );
                }
            }
        }
        match self.assert.eval(r, ctx.tags) {
            Truth::True => Outcome::Pass {
                evidence: self.assert.evidence(r, ctx.tags),
            },
            Truth::False => Outcome::Fail {
                reason: self
                    .message
                    .clone()
                    .unwrap_or_else(|| self.meta.title.clone()),
                evidence: self.assert.evidence(r, ctx.tags),
            },
            Truth::Unknown => {
                let unseen: Vec<String> = r
                    .unobserved
                    .iter()
                    .map(|u| format!("`{}` ({})", u.path, u.reason))
                    .collect();
                Outcome::unknown(format!("not observed: {}", unseen.join(", ")))
            }
        }
    }
}
