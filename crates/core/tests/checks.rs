//! The built-in check pack against data-driven cases: synthetic configuration items in
//! `cases/builtin/` and real recorded AWS responses in `cases/real/`. Every built-in check must
//! be seen both passing and failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use assetwarden_core::checks::catalog;
use assetwarden_core::finding::Status;
use assetwarden_core::normalize::RawContext;
use assetwarden_core::source::{SourceEvent, expand};
use assetwarden_core::{Engine, Policy, Resource};
use chrono::{TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    resource: Option<Value>,
    #[serde(default)]
    record: Option<Value>,
    #[serde(default)]
    pick: Option<String>,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, Value>,
    expect: BTreeMap<String, String>,
    #[serde(default)]
    message: BTreeMap<String, String>,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn load_cases(sub: &str) -> Vec<(String, Case)> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir().join("cases").join(sub))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let cases: Vec<Case> = assetwarden_core::serde_yaml::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for c in cases {
            out.push((f.file_name().unwrap().to_string_lossy().into_owned(), c));
        }
    }
    out
}

/// Replaces `{file: P}` / `{file: P, key: K}` with the recorded file's content.
fn resolve(v: &Value) -> Value {
    match v {
        Value::Object(m) if m.contains_key("file") => {
            let p = dir().join("data").join(m["file"].as_str().unwrap());
            let text =
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let doc: Value = serde_json::from_str(&text).unwrap();
            match m.get("key").and_then(Value::as_str) {
                Some(k) => doc["data"][k].clone(),
                None => doc,
            }
        }
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), resolve(x))).collect()),
        other => other.clone(),
    }
}

fn engine_for(params: &BTreeMap<String, Value>) -> Engine {
    let settings: Vec<Value> = params
        .iter()
        .map(|(c, p)| json!({"check": c, "params": p}))
        .collect();
    let doc = json!({"version": 1, "checks": {"settings": settings}}).to_string();
    let policy = Policy::from_str_named(&doc, "case", &catalog()).unwrap();
    Engine::builder()
        .policy(policy)
        .now(Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap())
        .build()
        .unwrap()
}

fn resources_of(case: &Case) -> Vec<Resource> {
    let v = match (&case.resource, &case.record) {
        (Some(r), None) => r.clone(),
        (None, Some(r)) => resolve(r),
        _ => panic!(
            "case `{}` needs exactly one of `resource` and `record`",
            case.name
        ),
    };
    let ctx = RawContext {
        account: case.account.clone(),
        region: case.region.clone(),
        partition: None,
    };
    let mut events = Vec::new();
    expand(v, &case.name, &ctx, &mut events);
    let mut out = Vec::new();
    for e in events {
        match e {
            SourceEvent::Resource(r) => out.push(*r),
            SourceEvent::Error { message, .. } if case.pick.is_none() => {
                panic!("case `{}`: {message}", case.name)
            }
            _ => {}
        }
    }
    if let Some(p) = &case.pick {
        out.retain(|r| {
            r.arn.contains(p.as_str()) || r.resource_name.as_deref() == Some(p.as_str())
        });
    }
    assert_eq!(
        out.len(),
        1,
        "case `{}` must pick exactly one resource, got {:?}",
        case.name,
        out.iter().map(|r| &r.arn).collect::<Vec<_>>()
    );
    out
}

fn run(sub: &str) -> (usize, BTreeMap<String, BTreeSet<Status>>) {
    let mut seen: BTreeMap<String, BTreeSet<Status>> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut n = 0;
    for (file, case) in load_cases(sub) {
        n += 1;
        let engine = engine_for(&case.params);
        let r = &resources_of(&case)[0];
        let res = engine.evaluate(r);
        for (check, want) in &case.expect {
            let want: Status = serde_json::from_value(json!(want)).unwrap();
            let Some(f) = res.findings.iter().find(|f| &f.check_id == check) else {
                failures.push(format!("{file}: `{}`: no result for `{check}`", case.name));
                continue;
            };
            seen.entry(check.clone()).or_default().insert(f.status);
            if f.status != want {
                failures.push(format!(
                    "{file}: `{}`: `{check}` is {} ({}), expected {want}",
                    case.name, f.status, f.message
                ));
                continue;
            }
            if matches!(f.status, Status::Pass | Status::Fail) && f.evidence.is_empty() {
                failures.push(format!(
                    "{file}: `{}`: `{check}` gave {} without evidence",
                    case.name, f.status
                ));
            }
            if let Some(m) = case.message.get(check)
                && !f.message.contains(m.as_str())
            {
                failures.push(format!(
                    "{file}: `{}`: `{check}` message `{}` lacks `{m}`",
                    case.name, f.message
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing expectations:\n{}",
        failures.len(),
        failures.join("\n")
    );
    (n, seen)
}

#[test]
fn builtin_cases() {
    let (n, seen) = run("builtin");
    assert!(n > 40, "{n} cases");
    // Every built-in check passes on a compliant case and fails on a non-compliant one.
    let mut missing = Vec::new();
    for m in catalog() {
        let s = seen.get(&m.id).cloned().unwrap_or_default();
        if !s.contains(&Status::Pass) || !s.contains(&Status::Fail) {
            missing.push(format!("{} (seen {:?})", m.id, s));
        }
    }
    assert!(
        missing.is_empty(),
        "checks without both a PASS and a FAIL case:\n{}",
        missing.join("\n")
    );
}

#[test]
fn recorded_cases() {
    let (n, seen) = run("real");
    assert!(n >= 10, "only {n} cases from recorded responses");
    let verdicts: usize = seen.values().map(|s| s.len()).sum();
    assert!(verdicts >= 20, "{verdicts}");
}

/// Parsing with the engine's projection (only the configuration keys its checks read) gives
/// every check the same verdict, message and evidence as parsing everything, on every case.
#[test]
fn projected_parsing_changes_no_verdict() {
    use assetwarden_core::source::InventoryBytes;
    use std::sync::Arc;
    let key = |f: &assetwarden_core::Finding| {
        (
            f.resource.arn.clone(),
            f.check_id.clone(),
            f.status,
            f.message.clone(),
            serde_json::to_string(&f.evidence).unwrap(),
        )
    };
    let (mut compared, mut pruned) = (0, 0);
    for sub in ["builtin", "real"] {
        for (file, case) in load_cases(sub) {
            let engine = engine_for(&case.params);
            // Keys no check reads, one of each case so as not to change the document's shape.
            let mut record = match (&case.resource, &case.record) {
                (Some(r), None) => r.clone(),
                (None, Some(r)) => resolve(r),
                _ => unreachable!(),
            };
            if let Some(Value::Object(c)) = record.get_mut("configuration") {
                c.insert("ZzNotRead".into(), json!({"A": [1, 2, {"b": null}]}));
                c.insert("zzNotRead".into(), json!("x"));
            }
            let full = resources_of(&Case {
                resource: Some(record.clone()),
                record: None,
                name: case.name.clone(),
                pick: case.pick.clone(),
                account: case.account.clone(),
                region: case.region.clone(),
                params: BTreeMap::new(),
                expect: BTreeMap::new(),
                message: BTreeMap::new(),
            });
            let bytes = serde_json::to_vec(&record).unwrap();
            let projected: Vec<Resource> = InventoryBytes::new("case", bytes)
                .raw_context(RawContext {
                    account: case.account.clone(),
                    region: case.region.clone(),
                    partition: None,
                })
                .projection(Some(Arc::new(engine.projection())))
                .events()
                .filter_map(|e| match e {
                    SourceEvent::Resource(r) => Some(*r),
                    _ => None,
                })
                .filter(|r| full.iter().any(|f| f.arn == r.arn))
                .collect();
            assert_eq!(projected.len(), 1, "{file}: `{}`", case.name);
            if projected[0].configuration != full[0].configuration {
                pruned += 1;
            }
            let a: Vec<_> = engine.evaluate(&full[0]).findings.iter().map(key).collect();
            let b: Vec<_> = engine
                .evaluate(&projected[0])
                .findings
                .iter()
                .map(key)
                .collect();
            let diff: Vec<_> = a.iter().zip(&b).filter(|(x, y)| x != y).collect();
            assert!(
                a.len() == b.len() && diff.is_empty(),
                "{file}: `{}`: {diff:?}",
                case.name
            );
            compared += 1;
        }
    }
    assert!(compared > 50, "{compared}");
    // The projection did skip something in most configuration items.
    assert!(
        pruned > 20,
        "only {pruned} of {compared} cases were projected"
    );
}
