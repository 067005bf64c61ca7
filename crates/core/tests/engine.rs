//! The engine with a policy: classification, scope, escalation, exceptions, coverage gaps,
//! streaming scans.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use assetwarden_core::checks::catalog;
use assetwarden_core::finding::{Severity, Status};
use assetwarden_core::report::ScanSink;
use assetwarden_core::source::{CoverageGap, InventoryBytes, SourceEvent};
use assetwarden_core::{Engine, Policy, Resource, ResourceResult};
use chrono::{TimeZone, Utc};
use serde_json::json;

const POLICY: &str = r#"
version: 1
name: test policy
classification:
  tags:
    - key: Environment
      allowed: [prod, dev]
      derive:
        - from: account
          map: {"111111111111": prod}
    - key: DataClassification
      allowed: [public, internal, confidential, restricted]
      default: internal
checks:
  select:
    - ids: ["aws.rds.*", "aws.s3.public-access-block", "aws.ec2.sg-no-ssh-from-internet"]
  settings:
    - check: aws.rds.cmk-encryption
      scope: {path: tags.DataClassification, in: [confidential, restricted]}
    - check: aws.s3.public-access-block
      escalate:
        - when: {path: tags.DataClassification, eq: restricted}
          severity: critical
rules:
  - id: company.rds.engine
    title: Databases run PostgreSQL
    severity: low
    resource_types: [AWS::RDS::DBInstance]
    assert: {path: configuration.engine, eq: postgres}
exceptions:
  - id: legacy-db
    checks: [aws.rds.public-access]
    resources: ["arn:aws:rds:*:111111111111:db:legacy*"]
    reason: migration in progress
    owner: dba@example.com
    expires: 2027-01-31
  - id: old-ssh
    checks: [aws.ec2.sg-no-ssh-from-internet]
    accounts: ["111111111111"]
    reason: bastion
    owner: ops@example.com
    expires: 2026-10-01
"#;

fn engine() -> Engine {
    let p = Policy::from_str_named(POLICY, "policy.yaml", &catalog()).unwrap();
    Engine::builder()
        .policy(p)
        .now(Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap())
        .build()
        .unwrap()
}

fn db(name: &str, account: &str, tags: &[(&str, &str)]) -> Resource {
    let mut r = Resource::new(
        format!("arn:aws:rds:eu-west-1:{account}:db:{name}"),
        "AWS::RDS::DBInstance",
    );
    r.configuration = json!({"engine": "mysql", "publiclyAccessible": true, "storageEncrypted": true, "kmsKeyId": "arn:aws:kms:eu-west-1:111111111111:alias/aws/rds"});
    for (k, v) in tags {
        r.tags.insert(k.to_string(), v.to_string());
    }
    r
}

fn status(res: &ResourceResult, id: &str) -> Status {
    res.findings
        .iter()
        .find(|f| f.check_id == id)
        .unwrap_or_else(|| panic!("no {id}"))
        .status
}

#[test]
fn selection_is_what_the_policy_says() {
    let e = engine();
    let ids: Vec<&str> = e.checks().iter().map(|m| m.id.as_str()).collect();
    assert!(ids.contains(&"aws.rds.public-access"));
    assert!(ids.contains(&"company.rds.engine"));
    assert!(!ids.contains(&"aws.s3.versioning"));
}

#[test]
fn scope_follows_the_classification_after_the_plan() {
    let e = engine();
    // Internal by default: the CMK rule is out of scope.
    let r = e.evaluate(&db("a", "222222222222", &[]));
    assert_eq!(status(&r, "aws.rds.cmk-encryption"), Status::NotApplicable);
    // Confidential: in scope, and the AWS-managed key fails it.
    let r = e.evaluate(&db(
        "b",
        "222222222222",
        &[("DataClassification", "confidential")],
    ));
    assert_eq!(status(&r, "aws.rds.cmk-encryption"), Status::Fail);
    // The declarative rule runs through the same path.
    assert_eq!(status(&r, "company.rds.engine"), Status::Fail);
}

#[test]
fn tag_policy_findings_and_plan() {
    let e = engine();
    let r = e.evaluate(&db("c", "111111111111", &[("Environment", "Production")]));
    let c = r.classification.as_ref().unwrap();
    // A person's invalid value is not overwritten, and reported.
    assert!(c.plan.changes.iter().all(|ch| ch.key != "Environment"));
    assert_eq!(status(&r, "tag-policy.Environment"), Status::Fail);
    // The default is planned, and the finding says so.
    let f = r
        .findings
        .iter()
        .find(|f| f.check_id == "tag-policy.DataClassification")
        .unwrap();
    assert_eq!(f.status, Status::Fail);
    assert!(
        f.message.contains("the tag plan gives it `internal`"),
        "{}",
        f.message
    );
    let ok = e.evaluate(&db(
        "d",
        "111111111111",
        &[("Environment", "prod"), ("DataClassification", "public")],
    ));
    assert_eq!(status(&ok, "tag-policy.Environment"), Status::Pass);
    assert!(ok.classification.unwrap().plan.is_empty());
}

#[test]
fn escalation_raises_severity() {
    let e = engine();
    let mut b = Resource::new("arn:aws:s3:::secret", "AWS::S3::Bucket");
    b.tags
        .insert("DataClassification".into(), "restricted".into());
    let r = e.evaluate(&b);
    let f = r
        .findings
        .iter()
        .find(|f| f.check_id == "aws.s3.public-access-block")
        .unwrap();
    assert_eq!(f.status, Status::Fail);
    assert_eq!(f.severity, Severity::Critical);
    b.tags
        .insert("DataClassification".into(), "internal".into());
    let r = e.evaluate(&b);
    let f = r
        .findings
        .iter()
        .find(|f| f.check_id == "aws.s3.public-access-block")
        .unwrap();
    assert_eq!(f.severity, Severity::High);
}

#[test]
fn exceptions_suppress_until_they_expire() {
    let e = engine();
    let r = e.evaluate(&db("legacy-1", "111111111111", &[]));
    let f = r
        .findings
        .iter()
        .find(|f| f.check_id == "aws.rds.public-access")
        .unwrap();
    assert_eq!(f.status, Status::Suppressed);
    assert_eq!(f.suppression.as_ref().unwrap().exception_id, "legacy-db");
    // Same check elsewhere: not covered.
    let r = e.evaluate(&db("other", "111111111111", &[]));
    assert_eq!(status(&r, "aws.rds.public-access"), Status::Fail);
    // Expired exception: the failure stands and says why.
    let mut sg = Resource::new(
        "arn:aws:ec2:eu-west-1:111111111111:security-group/sg-1",
        "AWS::EC2::SecurityGroup",
    );
    sg.account_id = "111111111111".into();
    sg.configuration = json!({"groupName": "bastion", "ipPermissions": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": ["0.0.0.0/0"]}]});
    let r = e.evaluate(&sg);
    let f = r
        .findings
        .iter()
        .find(|f| f.check_id == "aws.ec2.sg-no-ssh-from-internet")
        .unwrap();
    assert_eq!(f.status, Status::Fail);
    assert!(
        f.message
            .contains("exception `old-ssh` expired on 2026-10-01"),
        "{}",
        f.message
    );
}

#[test]
fn finding_ids_are_stable_across_runs_and_engines() {
    let a = engine().evaluate(&db("x", "111111111111", &[]));
    let b = engine().evaluate(&db("x", "111111111111", &[]));
    for (fa, fb) in a.findings.iter().zip(&b.findings) {
        assert_eq!(fa.id, fb.id);
    }
    let c = engine().evaluate(&db("y", "111111111111", &[]));
    assert_ne!(a.findings[0].id, c.findings[0].id);
}

fn inventory() -> Vec<u8> {
    let mut s = String::new();
    for i in 0..37 {
        s.push_str(&json!({"resourceType": "AWS::RDS::DBInstance", "arn": format!("arn:aws:rds:eu-west-1:111111111111:db:db{i}"), "accountId": "111111111111", "awsRegion": "eu-west-1", "configuration": {"engine": "postgres", "publiclyAccessible": i % 3 == 0}}).to_string());
        s.push('\n');
        if i == 20 {
            s.push_str("{not json\n");
        }
    }
    s.into_bytes()
}

#[tokio::test]
async fn streaming_scan_is_independent_of_batch_size() {
    let p = || Policy::from_str_named(POLICY, "policy.yaml", &catalog()).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
    let small = Engine::builder()
        .policy(p())
        .now(now)
        .batch_size(4)
        .build()
        .unwrap();
    let big = Engine::builder()
        .policy(p())
        .now(now)
        .batch_size(10_000)
        .build()
        .unwrap();
    let src = InventoryBytes::new("inv.ndjson", inventory());
    let a = small.scan(&src).await.unwrap();
    let b = big.scan(&src).await.unwrap();
    assert_eq!(a.coverage.resources, 37);
    assert_eq!(a.findings.len(), b.findings.len());
    assert_eq!(a.summary, b.summary);
    // The bad line is reported with its line number, and the rest was scanned.
    assert_eq!(a.errors.iter().filter(|e| e.kind == "input").count(), 1);
    assert!(
        a.errors[0].location.starts_with("inv.ndjson:22"),
        "{:?}",
        a.errors
    );
    let public = a
        .findings
        .iter()
        .filter(|f| f.check_id == "aws.rds.public-access" && f.status == Status::Fail)
        .count();
    assert_eq!(public, 13);
}

#[test]
fn a_gap_makes_checks_unknown_never_pass() {
    let e = engine();
    let mut b = e.report_builder(true);
    let gap = CoverageGap {
        source: "aws".into(),
        resource_types: vec!["AWS::RDS::DBInstance".into()],
        account: Some("111111111111".into()),
        region: Some("eu-west-1".into()),
        reason: "AccessDenied from `rds:DescribeDBInstances`".into(),
    };
    e.scan_iter(vec![SourceEvent::Gap(gap)].into_iter(), &mut b);
    let report = e.finish(b);
    assert!(!report.findings.is_empty());
    assert!(report.findings.iter().all(|f| f.status == Status::Unknown));
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.check_id == "aws.rds.public-access")
    );
    assert_eq!(report.coverage.gaps.len(), 1);
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.message.contains("AccessDenied"))
    );
}

#[test]
fn expired_exceptions_are_reported() {
    let e = engine();
    let mut b = e.report_builder(true);
    let text = json!({"resourceType": "AWS::EC2::SecurityGroup", "arn": "arn:aws:ec2:eu-west-1:111111111111:security-group/sg-9", "accountId": "111111111111", "awsRegion": "eu-west-1",
        "configuration": {"groupName": "x", "ipPermissions": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": ["0.0.0.0/0"]}]}}).to_string();
    e.scan_iter(InventoryBytes::new("i", text.into_bytes()).events(), &mut b);
    let report = e.finish(b);
    assert_eq!(report.expired_exceptions.len(), 1);
    let x = &report.expired_exceptions[0];
    assert_eq!(x.id, "old-ssh");
    assert_eq!(x.would_suppress, 1);
    assert!(
        x.location.as_deref().unwrap().starts_with("policy.yaml:"),
        "{x:?}"
    );
}

struct Count(u64, u64);
impl ScanSink for Count {
    fn on_result(&mut self, _r: &Resource, res: &ResourceResult) {
        self.0 += 1;
        self.1 += res.findings.len() as u64;
    }
}

#[test]
fn a_sink_sees_every_resource_once() {
    let e = engine();
    let mut c = Count(0, 0);
    let n = e.scan_iter(InventoryBytes::new("i", inventory()).events(), &mut c);
    assert_eq!((n, c.0), (37, 37));
    assert!(c.1 > 37);
}

#[test]
fn unknown_root_type_is_covered_in_the_ledger() {
    let e = engine();
    let mut b = e.report_builder(true);
    let text = json!({"resourceType": "AWS::SNS::Topic", "arn": "arn:aws:sns:eu-west-1:111111111111:t", "configuration": {}}).to_string();
    e.scan_iter(InventoryBytes::new("i", text.into_bytes()).events(), &mut b);
    let r = e.finish(b);
    assert_eq!(
        r.coverage.types_without_checks.get("AWS::SNS::Topic"),
        Some(&1)
    );
}

/// Databases with their tags observed: every status occurs (the confidential ones are in the
/// CMK check's scope, the others not; some are public).
fn tagged_inventory() -> Vec<u8> {
    let mut s = String::new();
    for i in 0..40 {
        let class = ["confidential", "internal", "public", "bogus"][i % 4];
        s.push_str(&json!({"resourceType": "AWS::RDS::DBInstance", "arn": format!("arn:aws:rds:eu-west-1:111111111111:db:db{i}"), "accountId": "111111111111", "awsRegion": "eu-west-1", "tags": {"DataClassification": class}, "configuration": {"engine": "postgres", "publiclyAccessible": i % 3 == 0, "storageEncrypted": i % 5 != 0}}).to_string());
        s.push('\n');
    }
    s.into_bytes()
}

/// A sink that wants full findings only for verdicts that do not pass.
#[derive(Default)]
struct FailuresOnly {
    tallied_pass: u64,
    tallied_na: u64,
    passing_findings: u64,
    findings: u64,
}
impl ScanSink for FailuresOnly {
    fn on_result(&mut self, _r: &Resource, res: &ResourceResult) {
        self.findings += res.findings.len() as u64;
        self.passing_findings += res
            .findings
            .iter()
            .filter(|f| matches!(f.status, Status::Pass | Status::NotApplicable))
            .count() as u64;
        for t in &res.tallied {
            match t.status {
                Status::Pass => self.tallied_pass += 1,
                Status::NotApplicable => self.tallied_na += 1,
                other => panic!("{other:?} was tallied for {}", t.check_id),
            }
        }
    }
    fn keeps(&self, status: Status) -> bool {
        !matches!(status, Status::Pass | Status::NotApplicable)
    }
}

#[test]
fn verdicts_a_sink_does_not_keep_are_counted_not_built() {
    let e = engine();
    let scan = |b: assetwarden_core::report::ReportBuilder| {
        let mut b = b;
        e.scan_iter(
            InventoryBytes::new("i", tagged_inventory()).events(),
            &mut b,
        );
        e.finish(b)
    };
    let full = scan(e.report_builder(true).keep_not_applicable(true));
    let lean = scan(e.report_builder(true).keep_pass(false));
    let passes = full.summary.by_status.get(&Status::Pass).copied().unwrap();
    let nas = full
        .summary
        .by_status
        .get(&Status::NotApplicable)
        .copied()
        .unwrap();
    assert!(passes > 0 && nas > 0, "{:?}", full.summary);
    // The same counts, per status and per check ...
    assert_eq!(full.summary, lean.summary);
    assert_eq!(full.coverage, lean.coverage);
    assert_eq!(full.classification, lean.classification);
    // Classification that only counts passing verdicts plans the same changes, named.
    assert!(!full.tag_plans.is_empty());
    assert_eq!(full.tag_plans, lean.tag_plans);
    // ... and the same findings, but for the verdicts left out.
    let kept: Vec<_> = full
        .findings
        .iter()
        .filter(|f| !matches!(f.status, Status::Pass | Status::NotApplicable))
        .cloned()
        .collect();
    assert!(!kept.is_empty());
    assert_eq!(lean.findings, kept);

    let mut sink = FailuresOnly::default();
    e.scan_iter(
        InventoryBytes::new("i", tagged_inventory()).events(),
        &mut sink,
    );
    assert_eq!(sink.passing_findings, 0);
    assert_eq!((sink.tallied_pass, sink.tallied_na), (passes, nas));
    assert_eq!(sink.findings, kept.len() as u64);
}

/// The batch renderer writes what one `ndjson_line` per kept finding writes, in order, over
/// several of its parallel chunks.
#[test]
fn ndjson_batches_are_the_lines_in_order() {
    let e = engine();
    let rs: Vec<Resource> = InventoryBytes::new("i", tagged_inventory())
        .events()
        .filter_map(|ev| match ev {
            SourceEvent::Resource(r) => Some(*r),
            _ => None,
        })
        .collect();
    let mut results = Vec::new();
    while results.len() < 1000 {
        results.extend(e.evaluate_batch_keeping(&rs, assetwarden_core::Keep::ALL));
    }
    let keep = |f: &assetwarden_core::Finding| f.status != Status::Pass;
    let mut want = String::new();
    for f in results.iter().flat_map(|r| &r.findings).filter(|f| keep(f)) {
        want.push_str(&assetwarden_core::output::ndjson_line(f));
        want.push('\n');
    }
    let got = assetwarden_core::output::ndjson_batch(&results, &keep);
    assert!(want.lines().count() > 1000, "{}", want.lines().count());
    assert_eq!(String::from_utf8(got).unwrap(), want);
}
