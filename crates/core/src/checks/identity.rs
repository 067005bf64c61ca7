//! IAM users and policies.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::*;
use crate::finding::Severity::*;

const USER: &[&str] = &["AWS::IAM::User"];
const POLICY: &[&str] = &["AWS::IAM::Policy"];

/// The default version's document of a managed policy item.
fn default_document(r: &Resource) -> Option<Value> {
    let versions = conf(r, &["policyVersionList"])?.as_array()?.clone();
    let v = versions
        .iter()
        .find(|v| truthy(ci(v, "isDefaultVersion")) == Some(true))
        .or_else(|| versions.first())?;
    policy_doc(ci(v, "document")?)
}

fn actions(stmt: &Value) -> Vec<String> {
    strings(ci(stmt, "Action"))
}

fn resources(stmt: &Value) -> Vec<String> {
    strings(ci(stmt, "Resource"))
}

pub(super) fn register(v: &mut Vec<Builtin>) {
    v.push(
        def("aws.iam.policy-no-admin", High, POLICY, "IAM policies do not grant full administrative access")
            .sh("IAM.1")
            .cis(&["CIS AWS Foundations Benchmark v1.2.0/1.22", "CIS AWS Foundations Benchmark v1.4.0/1.16"])
            .rule("iam-policy-no-statements-with-admin-access")
            .fix("Replace `\"Action\": \"*\"` on `\"Resource\": \"*\"` with the actions the principals need.")
            .reads(&["configuration.policyVersionList"])
            .eval(|r, _| {
                let p = "configuration.policyVersionList[default].document";
                let Some(doc) = default_document(r) else {
                    return Outcome::unknown("the policy's default version document was not collected");
                };
                let admin = statements(&doc).into_iter().find(|s| {
                    is_allow(s) && actions(s).iter().any(|a| a == "*") && resources(s).iter().any(|x| x == "*")
                });
                match admin {
                    Some(s) => Outcome::fail("a statement allows every action on every resource", p, s),
                    None => Outcome::pass(p, json!("no Allow * on *")),
                }
            }),
    );
    v.push(
        def(
            "aws.iam.policy-no-service-wildcard",
            Low,
            POLICY,
            "IAM policies do not allow every action of a service",
        )
        .sh("IAM.21")
        .rule("iam-policy-no-statements-with-full-access")
        .fix("List the service's actions the principals need instead of `service:*`.")
        .reads(&["configuration.policyVersionList"])
        .eval(|r, _| {
            let p = "configuration.policyVersionList[default].document";
            let Some(doc) = default_document(r) else {
                return Outcome::unknown("the policy's default version document was not collected");
            };
            let wild: Vec<String> = statements(&doc)
                .iter()
                .filter(|s| is_allow(s))
                .flat_map(actions)
                .filter(|a| a.ends_with(":*"))
                .collect();
            if wild.is_empty() {
                Outcome::pass(p, json!([]))
            } else {
                Outcome::fail(format!("the policy allows `{}`", wild[0]), p, json!(wild))
            }
        }),
    );
    v.push(
        def(
            "aws.iam.user-no-policies",
            Low,
            USER,
            "IAM users receive permissions only through groups or roles",
        )
        .sh("IAM.2")
        .cis(&["CIS AWS Foundations Benchmark v1.2.0/1.16"])
        .rule("iam-user-no-policies-check")
        .fix("Detach the user's policies and grant permissions through groups or roles.")
        .reads(&[
            "configuration.attachedManagedPolicies",
            "configuration.userPolicyList",
        ])
        .eval(|r, _| {
            let managed = conf(r, &["attachedManagedPolicies"])
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default();
            let inline = conf(r, &["userPolicyList"])
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default();
            let names: Vec<String> = managed
                .iter()
                .chain(inline.iter())
                .filter_map(|p| {
                    ci(p, "policyName")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .collect();
            if names.is_empty() && managed.is_empty() && inline.is_empty() {
                Outcome::pass("configuration.attachedManagedPolicies", json!([]))
            } else {
                Outcome::fail(
                    format!("policies attached to the user: {}", names.join(", ")),
                    "configuration.attachedManagedPolicies",
                    json!(names),
                )
            }
        }),
    );
    v.push(
        def("aws.iam.access-keys-rotated", Medium, USER, "IAM users' active access keys are rotated within 90 days")
            .sh("IAM.3")
            .cis(&["CIS AWS Foundations Benchmark v1.2.0/1.4", "CIS AWS Foundations Benchmark v1.4.0/1.14"])
            .rule("access-keys-rotated")
            .fix("Create a new access key, move the workload to it, and deactivate and delete the old one.")
            .reads(&["supplementaryConfiguration.AccessKeys"])
            .param("maxAccessKeyAge", json!(90), "Most days an active access key may live")
            .eval(|r, ctx| {
                let p = "supplementaryConfiguration.AccessKeys";
                let Some(keys) = supp(r, &["AccessKeys"]).and_then(|v| v.as_array().cloned()) else {
                    return Outcome::unknown("the user's access keys were not collected (iam:ListAccessKeys)");
                };
                let max = ctx.param_f64("maxAccessKeyAge", 90.0) as i64;
                let mut old = Vec::new();
                for k in &keys {
                    let active = ci(k, "status").and_then(Value::as_str).is_some_and(|s| s.eq_ignore_ascii_case("active"));
                    let created = ci(k, "createDate").and_then(Value::as_str).and_then(|s| DateTime::parse_from_rfc3339(s).ok());
                    if let (true, Some(c)) = (active, created) {
                        let age = (ctx.now - c.with_timezone(&Utc)).num_days();
                        if age > max {
                            old.push(json!({"accessKeyId": ci(k, "accessKeyId"), "ageDays": age}));
                        }
                    }
                }
                if old.is_empty() { Outcome::pass(p, json!(keys.len())) } else { Outcome::fail(format!("{} active access key(s) older than {max} days", old.len()), p, Value::Array(old)) }
            }),
    );
    v.push(
        def(
            "aws.iam.user-mfa",
            Medium,
            USER,
            "IAM users have MFA enabled",
        )
        .sh("IAM.19")
        .rule("iam-user-mfa-enabled")
        .fix("Enable a virtual or hardware MFA device for the user.")
        .reads(&["supplementaryConfiguration.MFADevices"])
        .eval(|r, _| {
            let p = "supplementaryConfiguration.MFADevices";
            match supp(r, &["MFADevices"]).and_then(|v| v.as_array().cloned()) {
                None => Outcome::unknown(
                    "the user's MFA devices were not collected (iam:ListMFADevices)",
                ),
                Some(d) if d.is_empty() => {
                    Outcome::fail("the user has no MFA device", p, json!([]))
                }
                Some(d) => Outcome::pass(p, json!(d.len())),
            }
        }),
    );
}
