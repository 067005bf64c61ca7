//! The built-in check pack: configuration checks on AWS resources in AWS Config's shape.
//!
//! Every check carries its AWS Security Hub control id, its CIS AWS Foundations control where
//! one exists, and the AWS Config managed rule that checks the same thing. CCE identifiers are
//! published (by ComplianceAsCode) only for EKS/ECR *cluster* settings, none of which these
//! checks cover, so `cce` stays empty rather than invented.
//!
//! Keys are read case-insensitively: AWS Config writes older types in lower camel case
//! (`storageEncrypted`) and types recorded through the CloudFormation registry in Pascal case
//! (`ImageScanningConfiguration`).

use std::sync::Arc;

use serde_json::Value;

use crate::check::{Check, CheckMeta, EvalContext, Outcome, ParamSpec};
use crate::finding::{CheckKind, References, Severity};
use crate::resource::Resource;

mod compute;
mod data;
mod identity;
mod network;
mod storage;

type EvalFn = fn(&Resource, &EvalContext<'_>) -> Outcome;

/// A built-in check: metadata and a function.
pub struct Builtin {
    meta: CheckMeta,
    eval: EvalFn,
}

impl std::fmt::Debug for Builtin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builtin")
            .field("id", &self.meta.id)
            .finish()
    }
}

impl Check for Builtin {
    fn meta(&self) -> &CheckMeta {
        &self.meta
    }
    fn evaluate(&self, r: &Resource, ctx: &EvalContext<'_>) -> Outcome {
        (self.eval)(r, ctx)
    }
}

pub(crate) struct Def(CheckMeta);

pub(crate) fn def(id: &str, severity: Severity, types: &[&str], title: &str) -> Def {
    Def(CheckMeta {
        id: id.to_string(),
        title: title.to_string(),
        description: title.to_string(),
        severity,
        resource_types: types.iter().map(|s| s.to_string()).collect(),
        references: References::default(),
        remediation: String::new(),
        reads: Vec::new(),
        params: Vec::new(),
        kind: CheckKind::Builtin,
    })
}

impl Def {
    pub(crate) fn sh(mut self, control: &str) -> Def {
        self.0.references.securityhub = Some(control.to_string());
        self.0.references.urls.push(format!(
            "https://docs.aws.amazon.com/securityhub/latest/userguide/{}-controls.html#{}",
            control.split('.').next().unwrap_or("").to_lowercase(),
            control.to_lowercase().replace('.', "-")
        ));
        self
    }
    pub(crate) fn cis(mut self, controls: &[&str]) -> Def {
        self.0.references.cis = controls.iter().map(|s| s.to_string()).collect();
        self
    }
    pub(crate) fn rule(mut self, r: &str) -> Def {
        self.0.references.config_rule = Some(r.to_string());
        self
    }
    pub(crate) fn desc(mut self, d: &str) -> Def {
        self.0.description = d.to_string();
        self
    }
    pub(crate) fn fix(mut self, r: &str) -> Def {
        self.0.remediation = r.to_string();
        self
    }
    pub(crate) fn reads(mut self, paths: &[&str]) -> Def {
        self.0.reads = paths.iter().map(|s| s.to_string()).collect();
        self
    }
    pub(crate) fn param(mut self, name: &str, default: Value, description: &str) -> Def {
        self.0.params.push(ParamSpec {
            name: name.to_string(),
            default,
            description: description.to_string(),
        });
        self
    }
    pub(crate) fn eval(mut self, f: EvalFn) -> Builtin {
        let refs = &mut self.0.references;
        if refs.securityhub.is_some() {
            refs.frameworks.push("securityhub-fsbp".into());
        }
        if !refs.cis.is_empty() {
            refs.frameworks.push("cis-aws".into());
        }
        if refs.frameworks.is_empty() {
            refs.frameworks.push("assetwarden".into());
        }
        Builtin {
            meta: self.0,
            eval: f,
        }
    }
}

/// Every built-in check.
pub fn builtin_checks() -> Vec<Arc<dyn Check>> {
    let mut v: Vec<Builtin> = Vec::new();
    storage::register(&mut v);
    network::register(&mut v);
    compute::register(&mut v);
    data::register(&mut v);
    identity::register(&mut v);
    v.into_iter()
        .map(|b| Arc::new(b) as Arc<dyn Check>)
        .collect()
}

/// The metadata of every built-in check.
pub fn catalog() -> Vec<CheckMeta> {
    builtin_checks().iter().map(|c| c.meta().clone()).collect()
}

// ---- helpers shared by the checks ----

/// Case-insensitive object lookup (exact match first).
pub(crate) fn ci<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let m = v.as_object()?;
    if let Some(x) = m.get(key) {
        return Some(x);
    }
    m.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, x)| x)
}

/// Case-insensitive path lookup; JSON held in strings along the way is parsed. Walks by
/// reference and clones only what it returns.
pub(crate) fn cpath(v: &Value, keys: &[&str]) -> Option<Value> {
    let Some((k, rest)) = keys.split_first() else {
        return Some(v.clone());
    };
    match v {
        Value::String(s) => {
            let parsed: Value = serde_json::from_str(s).ok()?;
            if parsed.is_string() {
                return None;
            }
            cpath(&parsed, keys)
        }
        _ => cpath(ci(v, k)?, rest),
    }
}

/// [`cpath`] without a copy where none is needed: borrowed unless JSON held in a string had to
/// be parsed on the way.
pub(crate) fn cpath_cow<'a>(v: &'a Value, keys: &[&str]) -> Option<std::borrow::Cow<'a, Value>> {
    let Some((k, rest)) = keys.split_first() else {
        return Some(std::borrow::Cow::Borrowed(v));
    };
    match v {
        Value::String(_) => cpath(v, keys).map(std::borrow::Cow::Owned),
        _ => cpath_cow(ci(v, k)?, rest),
    }
}

/// A configuration value (case-insensitive keys).
pub(crate) fn conf(r: &Resource, keys: &[&str]) -> Option<Value> {
    cpath(&r.configuration, keys).filter(|v| !v.is_null())
}

/// A supplementary configuration value (case-insensitive keys, JSON strings parsed).
pub(crate) fn supp(r: &Resource, keys: &[&str]) -> Option<Value> {
    supp_cow(r, keys).map(std::borrow::Cow::into_owned)
}

/// [`supp`] without a copy where none is needed: borrowed unless JSON held in a string had to
/// be parsed on the way.
pub(crate) fn supp_cow<'a>(r: &'a Resource, keys: &[&str]) -> Option<std::borrow::Cow<'a, Value>> {
    let (first, rest) = keys.split_first()?;
    let top = match r.supplementary_configuration.get(*first) {
        Some(v) => v,
        None => r
            .supplementary_configuration
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(first))
            .map(|(_, v)| v)?,
    };
    let out = match (rest.is_empty(), top) {
        (true, Value::String(_)) => std::borrow::Cow::Owned(parse_embedded(top)),
        (true, _) => std::borrow::Cow::Borrowed(top),
        (false, _) => cpath_cow(top, rest)?,
    };
    (!out.is_null()).then_some(out)
}

/// Parses JSON held in a string (AWS Config nests documents as strings, sometimes twice).
pub(crate) fn parse_embedded(v: &Value) -> Value {
    let mut cur = v.clone();
    for _ in 0..3 {
        match &cur {
            Value::String(s) => {
                let t = s.trim_start();
                if t.starts_with('{') || t.starts_with('[') || t.starts_with('"') {
                    match serde_json::from_str::<Value>(s) {
                        Ok(x) => cur = x,
                        Err(_) => break,
                    }
                } else {
                    break;
                }
            }
            _ => break,
        }
    }
    cur
}

/// A boolean, also when written as a string.
pub(crate) fn truthy(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A number, also when written as a string.
pub(crate) fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A string or a list of strings, as a list.
pub(crate) fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Decodes `%XX` escapes (IAM policy documents in AWS Config are URL-encoded).
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(n) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(n);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A policy document from a value that may be an object, a JSON string or a URL-encoded one.
pub(crate) fn policy_doc(v: &Value) -> Option<Value> {
    match v {
        Value::Object(_) => Some(v.clone()),
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() {
                return None;
            }
            serde_json::from_str(t)
                .ok()
                .or_else(|| serde_json::from_str(&percent_decode(t)).ok())
                .map(|v: Value| parse_embedded(&v))
        }
        _ => None,
    }
}

/// The statements of a policy document.
pub(crate) fn statements(doc: &Value) -> Vec<Value> {
    match ci(doc, "Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(o @ Value::Object(_)) => vec![o.clone()],
        _ => Vec::new(),
    }
}

/// Whether a statement's principal is everyone.
pub(crate) fn principal_is_public(stmt: &Value) -> bool {
    match ci(stmt, "Principal") {
        Some(Value::String(s)) => s == "*",
        Some(p @ Value::Object(_)) => ["AWS", "CanonicalUser"]
            .iter()
            .any(|k| strings(ci(p, k)).iter().any(|s| s == "*")),
        _ => false,
    }
}

/// Whether a statement is limited by a condition that pins the caller (source account/ARN/org/VPC/IP).
pub(crate) fn has_restricting_condition(stmt: &Value) -> bool {
    let Some(Value::Object(cond)) = ci(stmt, "Condition") else {
        return false;
    };
    const KEYS: &[&str] = &[
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:principalorgid",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:sourcevpce",
        "aws:sourcevpc",
        "aws:sourceip",
        "aws:userid",
        "aws:principalorgpaths",
        "lambda:functionarn",
    ];
    cond.values().any(|ops| {
        ops.as_object().is_some_and(|m| {
            m.keys()
                .any(|k| KEYS.contains(&k.to_ascii_lowercase().as_str()))
        })
    })
}

pub(crate) fn is_allow(stmt: &Value) -> bool {
    ci(stmt, "Effect")
        .and_then(Value::as_str)
        .is_some_and(|e| e.eq_ignore_ascii_case("allow"))
}

/// Outcome for an attribute that must hold a non-empty string (a key id, a log group, ...).
pub(crate) fn expect_nonempty(v: Option<Value>, path: &str, fail_reason: &str) -> Outcome {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Outcome::pass(path, s),
        other => Outcome::fail(fail_reason, path, other.unwrap_or(Value::Null)),
    }
}

/// Outcome for a required boolean attribute that must be `want`.
pub(crate) fn expect_bool(
    v: Option<Value>,
    path: &str,
    want: bool,
    fail_reason: &str,
    absent_means: Option<bool>,
) -> Outcome {
    let got = truthy(v.as_ref()).or(absent_means);
    match got {
        Some(b) if b == want => Outcome::pass(path, v.unwrap_or(Value::Bool(b))),
        Some(_) => Outcome::fail(fail_reason, path, v.unwrap_or(Value::Null)),
        None => match v {
            Some(other) => Outcome::Error {
                reason: format!("`{path}` holds `{other}`, expected true or false"),
            },
            None => Outcome::fail(fail_reason, path, Value::Null),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn pack_is_well_formed() {
        let cat = catalog();
        assert!(cat.len() >= 40, "{} checks", cat.len());
        let mut ids = BTreeSet::new();
        for m in &cat {
            assert!(ids.insert(m.id.clone()), "duplicate {}", m.id);
            assert!(crate::policy::valid_check_id(&m.id), "{}", m.id);
            assert!(!m.resource_types.is_empty(), "{}", m.id);
            for t in &m.resource_types {
                assert!(crate::resource_type::is_cfn_type_name(t), "{}: {t}", m.id);
            }
            assert!(!m.remediation.is_empty(), "{} has no remediation", m.id);
            assert!(!m.reads.is_empty(), "{} declares no reads", m.id);
            for p in &m.reads {
                crate::path::AttrPath::parse(p).unwrap_or_else(|e| panic!("{}: {e}", m.id));
            }
        }
        let with_sh = cat
            .iter()
            .filter(|m| m.references.securityhub.is_some())
            .count();
        assert!(
            with_sh >= 40,
            "{with_sh} checks with a Security Hub control"
        );
        assert!(cat.iter().any(|m| !m.references.cis.is_empty()));
    }

    /// The built-in SSH check and a security group with no configuration yet.
    fn ssh_check_and_group() -> (Arc<dyn Check>, Resource) {
        let ssh = builtin_checks()
            .into_iter()
            .find(|c| c.meta().id == "aws.ec2.sg-no-ssh-from-internet")
            .unwrap();
        let r = Resource::new(
            "arn:aws:ec2:us-east-1:111122223333:security-group/sg-1",
            "AWS::EC2::SecurityGroup",
        );
        (ssh, r)
    }

    #[test]
    fn a_pass_nobody_keeps_has_the_same_verdict_without_its_costly_evidence() {
        let (ssh, mut r) = ssh_check_and_group();
        let open = |from: i64| {
            serde_json::json!({"ipProtocol": "tcp", "fromPort": from, "toPort": from,
                "ipRanges": [{"cidrIp": "0.0.0.0/0"}]})
        };
        let (params, tags) = (serde_json::Map::new(), crate::tags::Tags::new());
        let ctx = |explain_pass| EvalContext {
            params: &params,
            now: chrono::Utc::now(),
            tags: &tags,
            explain_pass,
        };
        // Open on 443 only: a pass, explained with the open rule when the pass is kept.
        r.configuration = serde_json::json!({"ipPermissions": [open(443)]});
        let Outcome::Pass { evidence } = ssh.evaluate(&r, &ctx(true)) else {
            panic!("not a pass")
        };
        assert_eq!(evidence[0].value[0]["fromPort"], 443);
        let Outcome::Pass { evidence } = ssh.evaluate(&r, &ctx(false)) else {
            panic!("not a pass")
        };
        assert!(evidence[0].value.is_null());
        // Open on 22: a failure either way, with its evidence.
        r.configuration = serde_json::json!({"ipPermissions": [open(22)]});
        for explain in [true, false] {
            let Outcome::Fail { evidence, .. } = ssh.evaluate(&r, &ctx(explain)) else {
                panic!("not a failure")
            };
            assert_eq!(evidence[0].value[0]["fromPort"], 22);
        }
    }

    #[test]
    fn open_ranges_are_found_under_every_spelling_of_the_range_lists() {
        let (ssh, mut r) = ssh_check_and_group();
        let (params, tags) = (serde_json::Map::new(), crate::tags::Tags::new());
        let ctx = EvalContext {
            params: &params,
            now: chrono::Utc::now(),
            tags: &tags,
            explain_pass: false,
        };
        let cases = [
            (
                serde_json::json!({"IpRanges": [{"CidrIp": "0.0.0.0/0"}]}),
                "0.0.0.0/0",
            ),
            (
                serde_json::json!({"ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}]}),
                "0.0.0.0/0",
            ),
            (
                serde_json::json!({"Ipv6Ranges": [{"CidrIpv6": "::/0"}]}),
                "::/0",
            ),
            (serde_json::json!({"ipRanges": ["0.0.0.0/0"]}), "0.0.0.0/0"),
            // Not a range list: nothing open.
            (
                serde_json::json!({"prefixListIds": [{"cidrIp": "0.0.0.0/0"}]}),
                "",
            ),
            (
                serde_json::json!({"ipRanges": [{"cidrIp": "10.0.0.0/8"}]}),
                "",
            ),
        ];
        for (ranges, open) in cases {
            let mut perm = serde_json::json!({"IpProtocol": 6, "FromPort": 22, "ToPort": 22});
            perm.as_object_mut()
                .unwrap()
                .extend(ranges.as_object().unwrap().clone());
            r.configuration = serde_json::json!({"ipPermissions": [perm]});
            match ssh.evaluate(&r, &ctx) {
                Outcome::Fail { evidence, .. } => {
                    assert_eq!(evidence[0].value[0]["cidr"], open, "{ranges}");
                    assert_eq!(evidence[0].value[0]["ipProtocol"], "6", "{ranges}");
                }
                Outcome::Pass { .. } => assert!(open.is_empty(), "{ranges} passed"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_list_parameter_holds_what_its_strings_hold() {
        let mut params = serde_json::Map::new();
        params.insert(
            "a".into(),
            serde_json::json!(["python3.8", 22, true, "go1.x"]),
        );
        params.insert("s".into(), serde_json::json!(" python3.8, ,go1.x "));
        params.insert("n".into(), serde_json::json!(7));
        let tags = crate::tags::Tags::new();
        let ctx = EvalContext {
            params: &params,
            now: chrono::Utc::now(),
            tags: &tags,
            explain_pass: false,
        };
        for name in ["a", "s", "n", "missing"] {
            let list = ctx.param_strings(name);
            for probe in [
                "python3.8",
                "go1.x",
                "22",
                "true",
                "",
                " python3.8",
                "python3",
                "7",
            ] {
                assert_eq!(
                    ctx.param_has(name, probe),
                    list.iter().any(|x| x == probe),
                    "{name} {probe:?}"
                );
            }
        }
        assert!(ctx.param_has("a", "22") && ctx.param_has("s", "go1.x"));
        assert!(!ctx.param_has("a", "true") && !ctx.param_has("s", ""));
    }

    #[test]
    fn decodes_url_encoded_policies() {
        let d = policy_doc(&Value::String(
            "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D".into(),
        ))
        .unwrap();
        assert_eq!(statements(&d).len(), 1);
    }
}
