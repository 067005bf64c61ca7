//! The conformance cases (guests/cases.yaml) against the native Rust version of the two example
//! rules, the committed Rust module, and, when `ASSETWARDEN_GUESTS` names the folder
//! guests/build.sh wrote, the module of every language: all must pass every case and give the
//! native version's exact status and message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use assetwarden_core::check::Check;
use assetwarden_rules_wasm::cases::{CaseResult, run_cases};
use assetwarden_rules_wasm::reference;
use assetwarden_rules_wasm::{RuleSpec, Runtime};

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
    let r = run(&reference::checks());
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
    let reference = run(&reference::checks());
    let got = run(&load(&guests().join("rust/acme_rules.wasm")));
    assert_conforms("rust fixture", &got, &reference);
}

#[test]
fn a_case_that_does_not_hold_is_reported() {
    let text = cases_text().replacen("expect: pass", "expect: fail", 1);
    let r = run_cases(&reference::checks(), &text, "cases.yaml").unwrap();
    assert!(!r[0].ok);
    assert_eq!(r[0].got, "pass");
    let e = run_cases(
        &reference::checks(),
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
    let reference = run(&reference::checks());
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
