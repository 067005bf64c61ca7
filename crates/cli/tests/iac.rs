//! `assetwarden iac check` on Terraform plans.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_assetwarden"))
}

fn plan(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/data/terraform")
        .join(name)
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let o = cmd.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A folder of the test's own, removed when the returned guard drops (even when the test fails).
fn tmp(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("assetwarden-iac-{name}-"))
        .tempdir()
        .unwrap()
}

#[test]
fn table_names_addresses_and_attributes_and_gates() {
    let (code, out, err) = run(bin()
        .args(["iac", "check"])
        .arg(plan("checkov__runner__plan__tfplan.json"))
        .args(["--fail-on", "critical", "--no-pass"]));
    assert_eq!(code, 1, "{err}");
    assert!(
        out.contains("aws_db_instance.default")
            && out.contains("[aws_db_instance.default.publicly_accessible]"),
        "{out}"
    );
    assert!(
        err.contains("failing: findings of severity critical"),
        "{err}"
    );
    let (code, _, err) = run(bin()
        .args(["iac", "check"])
        .arg(plan("trivy__plan.json"))
        .args(["--fail-on", "critical"]));
    assert_eq!(code, 0, "{err}");
}

#[test]
fn sarif_points_at_the_tf_files() {
    let guard = tmp("sarif");
    let d = guard.path();
    std::fs::copy(plan("trivy__plan.json"), d.join("plan.json")).unwrap();
    std::fs::write(d.join("main.tf"), "provider \"aws\" {}\n\nresource \"aws_s3_bucket\" \"planbucket\" {\n  bucket = var.bucket_name\n}\n\nresource \"aws_security_group\" \"sg\" {\n  name = \"sg\"\n}\n").unwrap();
    let summary = d.join("summary.md");
    let (code, _, err) = run(bin()
        .current_dir(d)
        .args([
            "iac",
            "check",
            "plan.json",
            "--format",
            "sarif",
            "--output",
            "out.sarif",
            "--summary",
        ])
        .arg(&summary));
    assert_eq!(code, 0, "{err}");
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("out.sarif")).unwrap()).unwrap();
    let results = log["runs"][0]["results"].as_array().unwrap();
    let bucket = results
        .iter()
        .find(|r| {
            r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
                == "aws_s3_bucket.planbucket"
        })
        .unwrap();
    assert_eq!(
        bucket["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "main.tf"
    );
    assert_eq!(
        bucket["locations"][0]["physicalLocation"]["region"]["startLine"],
        3
    );
    let sg = results
        .iter()
        .find(|r| {
            r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
                == "aws_security_group.sg"
        })
        .unwrap();
    assert_eq!(
        sg["locations"][0]["physicalLocation"]["region"]["startLine"],
        7
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("# Assetwarden scan"), "{md}");
}

#[test]
fn bad_plans_are_refused_clearly() {
    let (code, _, err) = run(bin()
        .args(["iac", "check"])
        .arg(plan("checkov__runner__plan__corrupted-tfplan.json")));
    assert_eq!(code, 2);
    assert!(
        err.contains("this is a state") && err.contains("not a plan"),
        "{err}"
    );
    let guard = tmp("bad");
    let d = guard.path();
    std::fs::write(
        d.join("p.json"),
        "{\"format_version\": \"1.2\", \"resource_changes\": [\n  {\"address\": \n",
    )
    .unwrap();
    let (code, _, err) = run(bin().args(["iac", "check"]).arg(d.join("p.json")));
    assert_eq!(code, 2);
    assert!(err.contains("p.json:3:"), "{err}");
    let (code, out, err) = run(bin()
        .args(["iac", "check"])
        .arg(plan(
            "checkov__parser__plan_encodings__tfplan_win_utf16.json",
        ))
        .args(["--format", "json"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("UTF-16LE"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["coverage"]["resources"], 1);
}

#[test]
fn tag_policy_on_a_plan() {
    let guard = tmp("tags");
    let d = guard.path();
    let p = d.join("policy.yaml");
    std::fs::write(&p, "version: 1\nclassification:\n  tags:\n    - key: Owner\n      default: platform@example.com\nchecks:\n  select: [{ids: [aws.s3.encryption]}]\n").unwrap();
    let (code, out, err) = run(bin()
        .args(["iac", "check"])
        .arg(plan("trivy__plan.json"))
        .arg("--policy")
        .arg(&p)
        .args(["--format", "json"]));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["check_id"] == "tag-policy.Owner" && f["resource"]["arn"] == "aws_security_group.sg"
        })
        .unwrap();
    assert_eq!(f["status"], "FAIL");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("the tag plan gives it `platform@example.com`"),
        "{f}"
    );
    let plans = v["tag_plans"].as_array().unwrap();
    assert!(plans.iter().any(|p| p["arn"] == "aws_security_group.sg"));
}
