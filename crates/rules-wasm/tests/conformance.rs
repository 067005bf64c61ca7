//! The conformance cases (guests/cases.yaml) against the native Rust version of the two example
//! rules, the committed Rust module, and, when `ASSETWARDEN_GUESTS` names the folder
//! guests/build.sh wrote, the module of every language: all must pass every case and give the
//! native version's exact status and message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use assetwarden_core::check::{Check, CheckMeta, EvalContext, Outcome, ParamSpec};
use assetwarden_core::finding::{CheckKind, Evidence, References, Severity};
use assetwarden_core::resource::Resource;
use assetwarden_rules_wasm::cases::{CaseResult, run_cases};
use assetwarden_rules_wasm::{RuleSpec, Runtime};
use serde_json::Value;

const PAB: &str = "supplementaryConfiguration.PublicAccessBlockConfiguration";
const FLAGS: [&str; 4] = [
    "blockPublicAcls",
    "ignorePublicAcls",
    "blockPublicPolicy",
    "restrictPublicBuckets",
];

/// The title the modules declare (guests/metadata.json), so that messages compare equal.
fn title(id: &str) -> String {
    let text = std::fs::read_to_string(guests().join("metadata.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .and_then(|r| r["title"].as_str())
        .unwrap()
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

fn native() -> Vec<Arc<dyn Check>> {
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

fn guests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("guests")
}

fn cases_text() -> String {
    std::fs::read_to_string(guests().join("cases.yaml")).unwrap()
}

fn run(checks: &[Arc<dyn Check>]) -> Vec<CaseResult> {
    run_cases(checks, &cases_text(), "cases.yaml").unwrap()
}

fn assert_conforms(label: &str, got: &[CaseResult], reference: &[CaseResult]) {
    assert_eq!(got.len(), reference.len());
    for (g, n) in got.iter().zip(reference) {
        assert!(
            g.ok,
            "{label}: case `{}`: expected {}, got {} ({})",
            g.name, g.expected, g.got, g.message
        );
        assert_eq!(
            (&g.got, &g.message),
            (&n.got, &n.message),
            "{label}: case `{}` differs from the native version",
            g.name
        );
    }
}

fn load(path: &Path) -> Vec<Arc<dyn Check>> {
    let rt = Runtime::with_cache(Some(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("wasm-cache"),
    ));
    rt.load(&RuleSpec {
        path: path.to_path_buf(),
        ..Default::default()
    })
    .unwrap()
    .checks()
    .unwrap()
}

#[test]
fn the_native_version_passes_every_case() {
    let r = run(&native());
    assert!(r.len() >= 13);
    for c in &r {
        assert!(
            c.ok,
            "case `{}`: expected {}, got {} ({})",
            c.name, c.expected, c.got, c.message
        );
    }
}

#[test]
fn the_committed_rust_module_conforms() {
    let reference = run(&native());
    let got = run(&load(&guests().join("rust/acme_rules.wasm")));
    assert_conforms("rust fixture", &got, &reference);
}

#[test]
fn a_case_that_does_not_hold_is_reported() {
    let text = cases_text().replacen("expect: pass", "expect: fail", 1);
    let r = run_cases(&native(), &text, "cases.yaml").unwrap();
    assert!(!r[0].ok);
    assert_eq!(r[0].got, "pass");
    let e = run_cases(
        &native(),
        "cases:\n  - name: x\n    expect: [\n",
        "bad.yaml",
    )
    .unwrap_err();
    assert!(e.starts_with("bad.yaml:"), "{e}");
}

/// Every language's module, when the test command built them (`ASSETWARDEN_GUESTS`).
#[test]
fn every_language_conforms() {
    let Some(dir) = std::env::var_os("ASSETWARDEN_GUESTS") else {
        eprintln!("ASSETWARDEN_GUESTS is not set: only the committed Rust module was checked");
        return;
    };
    let reference = run(&native());
    let mut seen = Vec::new();
    for lang in ["rust", "c", "go", "assemblyscript", "js"] {
        let p = Path::new(&dir).join(format!("rules-{lang}.wasm"));
        assert!(p.is_file(), "{} is missing", p.display());
        let got = run(&load(&p));
        assert_conforms(lang, &got, &reference);
        seen.push(lang);
    }
    assert_eq!(seen.len(), 5);
}
