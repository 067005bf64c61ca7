//! The `assetwarden` binary as a user runs it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_assetwarden"))
}

/// A folder of the test's own, removed when the returned guard drops (even when the test fails).
fn tmp(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("assetwarden-cli-{name}-"))
        .tempdir()
        .unwrap()
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn demo(dir: &Path) -> (PathBuf, PathBuf) {
    let (code, out, err) = run(bin().args(["demo", "--out"]).arg(dir));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("== Classification"), "{out}");
    assert!(out.contains("== Tag plan"), "{out}");
    assert!(
        out.contains("== Configuration findings by severity"),
        "{out}"
    );
    (dir.join("inventory.ndjson"), dir.join("policy.yaml"))
}

#[test]
fn demo_writes_every_report() {
    let guard = tmp("demo");
    let d = guard.path();
    demo(d);
    for f in [
        "report.json",
        "summary.md",
        "findings.sarif",
        "findings.asff.json",
        "findings.ndjson",
        "tag-plan.json",
    ] {
        let p = d.join(f);
        let len = std::fs::metadata(&p)
            .unwrap_or_else(|_| panic!("{f} missing"))
            .len();
        assert!(len > 100, "{f} is {len} bytes");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("report.json")).unwrap()).unwrap();
    assert!(report["coverage"]["resources"].as_u64().unwrap() > 200);
    assert!(report["summary"]["by_status"]["FAIL"].as_u64().unwrap() > 0);
    assert!(
        report["summary"]["by_status"]["UNKNOWN"].as_u64().unwrap() > 0,
        "the demo shows what it could not see"
    );
    assert!(
        report["summary"]["by_status"]["SUPPRESSED"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(!report["expired_exceptions"].as_array().unwrap().is_empty());
}

#[test]
fn scan_formats_and_fail_on() {
    let guard = tmp("formats");
    let d = guard.path();
    let (inv, pol) = demo(d);
    for fmt in ["table", "json", "ndjson", "asff", "sarif", "markdown"] {
        let (code, out, err) = run(bin()
            .args(["scan", "--inventory"])
            .arg(&inv)
            .arg("--policy")
            .arg(&pol)
            .args(["--format", fmt]));
        assert_eq!(code, 0, "{fmt}: {err}");
        assert!(!out.is_empty(), "{fmt}");
        match fmt {
            "json" | "sarif" | "asff" => {
                serde_json::from_str::<serde_json::Value>(&out)
                    .unwrap_or_else(|e| panic!("{fmt}: {e}"));
            }
            "ndjson" => {
                for l in out.lines() {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    assert!(v["id"].as_str().unwrap().len() == 32);
                }
            }
            "table" => assert!(
                out.contains("SEVERITY") && out.contains("critical"),
                "{out}"
            ),
            "markdown" => assert!(out.starts_with("# Assetwarden scan"), "{out}"),
            _ => {}
        }
    }
    let (code, _, err) = run(bin()
        .args(["scan", "-i"])
        .arg(&inv)
        .arg("-p")
        .arg(&pol)
        .args(["--format", "json", "--fail-on", "critical"]));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("failing: findings of severity critical"),
        "{err}"
    );
    // A clean inventory passes the gate.
    let clean = d.join("clean.ndjson");
    std::fs::write(&clean, r#"{"resourceType":"AWS::EC2::Volume","arn":"arn:aws:ec2:eu-west-1:111111111111:volume/vol-1","accountId":"111111111111","awsRegion":"eu-west-1","configuration":{"encrypted":true},"tags":{"Owner":"web-team@example.com","Environment":"prod","Service":"web","DataClassification":"internal","Confidentiality":"2","Integrity":"3","Availability":"3","AssetGrade":"A"}}"#).unwrap();
    let (code, out, err) = run(bin()
        .args(["scan", "-i"])
        .arg(&clean)
        .arg("-p")
        .arg(&pol)
        .args(["--fail-on", "low"]));
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn bad_lines_are_reported_and_the_rest_scanned() {
    let guard = tmp("badlines");
    let d = guard.path();
    let inv = d.join("inv.ndjson");
    std::fs::write(
        &inv,
        concat!(
            r#"{"resourceType":"AWS::EC2::Volume","arn":"arn:aws:ec2:eu-west-1:111111111111:volume/vol-1","configuration":{"encrypted":false}}"#, "\n",
            r#"{"resourceType":"AWS::EC2::Volume","arn":"#, "\n",
            r#"{"arn":"not an arn"}"#, "\n",
            r#"{"resourceType":"AWS::EC2::Volume","arn":"arn:aws:ec2:eu-west-1:111111111111:volume/vol-2","configuration":{"encrypted":true}}"#, "\n",
        ),
    )
    .unwrap();
    let (code, out, err) = run(bin()
        .args(["scan", "-i"])
        .arg(&inv)
        .args(["--format", "json"]));
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains(&format!("error: {}:2:", inv.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!("error: {}:3:", inv.display())),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["coverage"]["resources"], 2);
    assert_eq!(v["coverage"]["unreadable"], 2);
}

#[test]
fn broken_policies_are_refused_with_locations() {
    let guard = tmp("badpolicy");
    let d = guard.path();
    let p = d.join("p.yaml");
    std::fs::write(&p, "version: 1\nchecks:\n  settings:\n    - check: aws.s3.nope\n      severity: high\nexceptions:\n  - id: x\n    checks: [aws.s3.versioning]\n    reason: r\n    owner: o\n    expires: soon\n").unwrap();
    let (code, out, err) = run(bin().args(["policy", "check"]).arg(&p));
    assert_eq!(code, 2, "{out}");
    assert!(
        err.starts_with("error: invalid policy (2 problems)"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "unknown check `aws.s3.nope` (see `assetwarden checks list`) in {}:4:14",
            p.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "`soon` is not a date of the form YYYY-MM-DD in {}:11:14",
            p.display()
        )),
        "{err}"
    );
    std::fs::write(&p, "version: 1\nchecks: [\n").unwrap();
    let (code, _, err) = run(bin().args(["policy", "check"]).arg(&p));
    assert_eq!(code, 2);
    assert!(err.contains(&format!("{}:", p.display())), "{err}");
    // The shipped example is valid.
    let (code, out, err) = run(bin().args(["demo", "--out"]).arg(d));
    assert_eq!(code, 0, "{err}");
    drop(out);
    let (code, out, err) = run(bin().args(["policy", "check"]).arg(d.join("policy.yaml")));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("valid"), "{out}");
}

#[test]
fn checks_list_and_schema() {
    let (code, out, _) = run(bin().args(["checks", "list"]));
    assert_eq!(code, 0);
    assert!(
        out.contains("aws.s3.public-access-block") && out.contains("S3.8"),
        "{out}"
    );
    let (code, out, _) = run(bin().args([
        "checks",
        "list",
        "--format",
        "json",
        "--framework",
        "cis-aws",
    ]));
    assert_eq!(code, 0);
    let v: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert!(!v.is_empty());
    assert!(
        v.iter()
            .all(|c| !c["references"]["cis"].as_array().unwrap().is_empty())
    );
    let (code, out, _) = run(bin().args(["policy", "schema"]));
    assert_eq!(code, 0);
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(s["properties"]["classification"].is_object(), "{s}");
}

#[test]
fn tag_plan_lists_changes_without_writing() {
    let guard = tmp("plan");
    let d = guard.path();
    let (inv, pol) = demo(d);
    let before = std::fs::read(&inv).unwrap();
    let (code, out, err) = run(bin()
        .args(["tag", "plan", "-i"])
        .arg(&inv)
        .arg("-p")
        .arg(&pol)
        .args(["--format", "json"]));
    assert_eq!(code, 0, "{err}");
    let plans: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert!(plans.len() > 50);
    assert!(
        plans
            .iter()
            .all(|p| p["arn"].as_str().unwrap().starts_with("arn:aws:"))
    );
    assert_eq!(before, std::fs::read(&inv).unwrap());
}

#[test]
fn help_on_every_command() {
    for args in [
        &["--help"][..],
        &["demo", "--help"],
        &["scan", "--help"],
        &["tag", "plan", "--help"],
        &["policy", "check", "--help"],
        &["policy", "schema", "--help"],
        &["checks", "list", "--help"],
    ] {
        let (code, out, _) = run(bin().args(args));
        assert_eq!(code, 0, "{args:?}");
        assert!(out.contains("Usage:"), "{args:?}");
    }
}

#[test]
fn raw_api_responses_need_a_region_or_say_so() {
    let guard = tmp("raw");
    let d = guard.path();
    let inv = d.join("volumes.json");
    std::fs::write(
        &inv,
        r#"{"Volumes": [{"VolumeId": "vol-0abc", "Encrypted": false}]}"#,
    )
    .unwrap();
    let (code, _, err) = run(bin()
        .args(["scan", "-i"])
        .arg(&inv)
        .args(["--format", "json"]));
    assert_eq!(code, 3);
    assert!(err.contains("--region"), "{err}");
    let (code, out, err) = run(bin().args(["scan", "-i"]).arg(&inv).args([
        "--format",
        "json",
        "--region",
        "eu-west-1",
        "--account",
        "111111111111",
    ]));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check_id"] == "aws.ec2.ebs-encrypted")
        .unwrap();
    assert_eq!(f["status"], "FAIL");
    assert_eq!(
        f["resource"]["arn"],
        "arn:aws:ec2:eu-west-1:111111111111:volume/vol-0abc"
    );
}
