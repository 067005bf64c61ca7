//! The native Rust version of the two example rules (crates/rules-wasm/guests): the reference
//! every language's module is held to (tests/conformance.rs) and measured against (benches).

use std::sync::Arc;

use assetwarden_core::check::{Check, CheckMeta, EvalContext, Outcome, ParamSpec};
use assetwarden_core::finding::{CheckKind, Evidence, References, Severity};
use assetwarden_core::resource::Resource;
use serde_json::Value;

/// The examples' metadata, as the modules declare it.
pub const METADATA: &str = include_str!("../guests/metadata.json");

/// Where S3 Block Public Access settings live.
const PAB: &str = "supplementaryConfiguration.PublicAccessBlockConfiguration";
const FLAGS: [&str; 4] = [
    "blockPublicAcls",
    "ignorePublicAcls",
    "blockPublicPolicy",
    "restrictPublicBuckets",
];

/// The title the modules declare, so that messages compare equal.
fn title(id: &str) -> String {
    let v: Value = serde_json::from_str(METADATA).unwrap_or(Value::Null);
    v["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["id"] == id)
        .and_then(|r| r["title"].as_str())
        .unwrap_or(id)
        .to_string()
}

fn meta(id: &str, types: &[&str], reads: &[&str], params: Vec<ParamSpec>) -> CheckMeta {
    CheckMeta {
        id: id.into(),
        title: title(id),
        description: String::new(),
        severity: Severity::High,
        resource_types: types.iter().map(|s| s.to_string()).collect(),
        references: References::default(),
        remediation: String::new(),
        reads: reads.iter().map(|s| s.to_string()).collect(),
        params,
        kind: CheckKind::Builtin,
    }
}

struct NativeS3(CheckMeta);
impl Check for NativeS3 {
    fn meta(&self) -> &CheckMeta {
        &self.0
    }
    fn evaluate(&self, r: &Resource, _: &EvalContext<'_>) -> Outcome {
        let pab = r.supplementary(&["PublicAccessBlockConfiguration"]);
        let vals: Vec<Option<&Value>> = FLAGS.iter().map(|f| pab.and_then(|p| p.get(*f))).collect();
        if vals.iter().all(Option::is_none) {
            return Outcome::fail("the bucket has no public access block", PAB, Value::Null);
        }
        let ev = |i: usize| {
            Evidence::new(
                format!("{PAB}.{}", FLAGS[i]),
                vals[i].cloned().unwrap_or(Value::Null),
            )
        };
        let off: Vec<usize> = (0..4)
            .filter(|&i| vals[i] != Some(&Value::Bool(true)))
            .collect();
        if off.is_empty() {
            return Outcome::Pass {
                evidence: (0..4).map(ev).collect(),
            };
        }
        Outcome::Fail {
            reason: format!(
                "public access is not fully blocked: {} not on",
                off.iter().map(|&i| FLAGS[i]).collect::<Vec<_>>().join(", ")
            ),
            evidence: off.iter().map(|&i| ev(i)).collect(),
        }
    }
}

struct NativeRds(CheckMeta);
impl Check for NativeRds {
    fn meta(&self) -> &CheckMeta {
        &self.0
    }
    fn evaluate(&self, r: &Resource, ctx: &EvalContext<'_>) -> Outcome {
        let Some(class) = ctx.tags.get("DataClassification") else {
            return Outcome::na("the instance has no DataClassification tag");
        };
        let levels = ctx.param_strings("levels");
        if !levels.iter().any(|l| l.eq_ignore_ascii_case(class.trim())) {
            return Outcome::na(format!("the instance holds {class} data"));
        }
        let enc = r.config(&["storageEncrypted"]);
        if enc != Some(&Value::Bool(true)) {
            return Outcome::fail(
                "the instance's storage is not encrypted",
                "configuration.storageEncrypted",
                enc.cloned().unwrap_or(Value::Null),
            );
        }
        let Some(key) = r.config(&["kmsKeyId"]).and_then(Value::as_str) else {
            return Outcome::fail(
                "the instance names no KMS key",
                "configuration.kmsKeyId",
                Value::Null,
            );
        };
        let manager = r
            .supplementary(&["KmsKeyManager"])
            .and_then(Value::as_str)
            .unwrap_or("");
        if manager.eq_ignore_ascii_case("AWS") || key.contains("alias/aws/") {
            return Outcome::fail(
                "the instance is encrypted with an AWS-managed key",
                "configuration.kmsKeyId",
                key,
            );
        }
        Outcome::pass("configuration.kmsKeyId", key)
    }
}

/// The two rules, natively.
pub fn checks() -> Vec<Arc<dyn Check>> {
    vec![
        Arc::new(NativeS3(meta(
            "acme.s3.block-public-access",
            &["AWS::S3::Bucket"],
            &[PAB],
            vec![],
        ))),
        Arc::new(NativeRds(meta(
            "acme.rds.confidential-cmk",
            &["AWS::RDS::DBInstance"],
            &[
                "tags.DataClassification",
                "configuration",
                "supplementaryConfiguration.KmsKeyManager",
            ],
            vec![ParamSpec {
                name: "levels".into(),
                default: Value::String("confidential,restricted".into()),
                description: String::new(),
            }],
        ))),
    ]
}
