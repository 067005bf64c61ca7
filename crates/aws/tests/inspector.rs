//! CVE findings from recorded Inspector v2 `ListFindings` answers (Cloud Custodian's
//! recordings of a real account, `tests/data/inspector2`), through the same conversion the live
//! path uses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use assetwarden_core::normalize::fix_datetimes;
use assetwarden_core::vuln::{ImageUsers, from_inspector};
use assetwarden_core::{Severity, Status};
use serde_json::Value;

fn recorded(name: &str) -> Vec<Value> {
    let p = format!(
        "{}/tests/data/inspector2/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    fix_datetimes(&v["data"])["findings"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn recorded_ec2_findings_become_one_finding_per_package() {
    let now = chrono::Utc::now();
    let list = recorded("test_inspector2_finding__inspector2.ListFindings_1.json");
    assert_eq!(list.len(), 6);
    let mut all = Vec::new();
    for f in &list {
        all.extend(from_inspector(f, &ImageUsers::new(), now).unwrap());
    }
    // Six Inspector findings, eight vulnerable packages in all.
    let packages: usize = list
        .iter()
        .map(|f| {
            f["packageVulnerabilityDetails"]["vulnerablePackages"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(all.len(), packages);
    let f = all
        .iter()
        .find(|f| f.vulnerability.as_ref().unwrap().id == "CVE-2022-40982")
        .expect("CVE-2022-40982 is in the recording");
    assert_eq!(
        f.resource.arn,
        "arn:aws:ec2:eu-central-1:644160558196:instance/i-07b035550fa86717d"
    );
    assert_eq!(f.resource.resource_type, "AWS::EC2::Instance");
    assert_eq!(f.status, Status::Fail);
    assert_eq!(f.severity, Severity::Medium);
    let v = f.vulnerability.as_ref().unwrap();
    assert_eq!(v.cvss_score, Some(6.5));
    assert_eq!(v.cvss_version.as_deref(), Some("3.1"));
    assert_eq!(v.package, "intel-microcode");
    assert_eq!(
        v.fixed_version.as_deref(),
        Some("0:3.20230808.0ubuntu0.20.04.1")
    );
    assert!(
        f.message
            .contains("CVE-2022-40982 (CVSS 3.1 6.5) in intel-microcode"),
        "{}",
        f.message
    );
    // Stable ids: the same CVE, package and asset give the same id; different packages differ.
    let again = from_inspector(&list[0], &ImageUsers::new(), now).unwrap();
    let first = from_inspector(&list[0], &ImageUsers::new(), now).unwrap();
    assert_eq!(again[0].id, first[0].id);
    assert_ne!(first[0].id, first[1].id);
}

#[test]
fn a_closed_finding_resolves_and_a_broken_one_is_an_error() {
    let now = chrono::Utc::now();
    let mut f =
        recorded("test_inspector2_finding_query_filter__inspector2.ListFindings_1.json")[0].clone();
    f["status"] = Value::String("CLOSED".into());
    let out = from_inspector(&f, &ImageUsers::new(), now).unwrap();
    assert!(out.iter().all(|x| x.status == Status::Pass));
    f["packageVulnerabilityDetails"]["vulnerablePackages"] = Value::Array(vec![]);
    let e = from_inspector(&f, &ImageUsers::new(), now).unwrap_err();
    assert!(
        e.contains("arn:aws:inspector2:") && e.contains("no vulnerable package"),
        "{e}"
    );
}
