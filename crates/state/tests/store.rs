//! The state store over real scans: transitions, history, concurrency, migrations, report, metrics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use assetwarden_core::source::InventoryBytes;
use assetwarden_core::{Engine, Policy, ScanReport};
use assetwarden_state::{Store, metrics, report};
use chrono::{TimeZone, Utc};
use serde_json::json;

const POLICY: &str = "version: 1\nchecks:\n  select: [{ids: [aws.ec2.ebs-encrypted, aws.rds.public-access]}]\nexceptions:\n  - id: legacy\n    checks: [aws.rds.public-access]\n    resources: ['arn:aws:rds:*:*:db:legacy']\n    reason: r\n    owner: o\n    expires: 2099-01-01\n";

fn vol(id: &str, encrypted: serde_json::Value) -> serde_json::Value {
    json!({"resourceType": "AWS::EC2::Volume", "arn": format!("arn:aws:ec2:eu-west-1:111111111111:volume/{id}"), "accountId": "111111111111", "awsRegion": "eu-west-1",
           "tags": {"DataClassification": "internal", "Owner": "ops"}, "supplementaryConfiguration": {}, "configuration": {"encrypted": encrypted}})
}

fn scan(items: &[serde_json::Value]) -> ScanReport {
    let p = Policy::from_str_named(POLICY, "p.yaml", &assetwarden_core::checks::catalog()).unwrap();
    let e = Engine::builder()
        .policy(p)
        .now(Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap())
        .build()
        .unwrap();
    let text: String = items.iter().map(|i| i.to_string() + "\n").collect();
    let mut b = e.report_builder(true);
    e.scan_iter(InventoryBytes::new("t", text.into_bytes()).events(), &mut b);
    e.finish(b)
}

/// A folder of the test's own, removed when the returned guard drops (even when the test fails).
fn tmp(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("aw-state-{name}-"))
        .tempdir()
        .unwrap()
}

#[test]
fn transitions_over_runs() {
    let guard = tmp("transitions");
    let mut s = Store::open(guard.path().join("state.db")).unwrap();
    let (_, t) = s
        .record(
            &scan(&[vol("a", json!(false)), vol("b", json!(true))]),
            "run 1",
        )
        .unwrap();
    assert_eq!((t.new, t.still_open, t.resolved), (1, 0, 0));
    let (_, t) = s
        .record(
            &scan(&[vol("a", json!(false)), vol("b", json!(false))]),
            "run 2",
        )
        .unwrap();
    assert_eq!((t.new, t.still_open, t.regressed), (1, 1, 0));
    let (_, t) = s
        .record(
            &scan(&[vol("a", json!(true)), vol("b", json!(false))]),
            "run 3",
        )
        .unwrap();
    assert_eq!((t.resolved, t.still_open), (1, 1));
    let (_, t) = s.record(&scan(&[vol("a", json!(false))]), "run 4").unwrap();
    assert_eq!(t.regressed, 1, "{t:?}");
    // b was not in run 4: a partial scan resolves nothing.
    let (from, to, changes) = s.history(Some(2), None).unwrap();
    assert_eq!((from, to), (2, 4));
    let kinds: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| (c.kind.as_str(), c.arn.rsplit('/').next().unwrap()))
        .collect();
    assert_eq!(kinds, vec![("resolved", "a"), ("regressed", "a")]);
    assert_eq!(s.scans(10).unwrap().len(), 4);
}

#[test]
fn unknown_never_resolves_and_suppression_is_a_transition() {
    let guard = tmp("unknown");
    let mut s = Store::open(guard.path().join("state.db")).unwrap();
    s.record(&scan(&[vol("a", json!(false))]), "1").unwrap();
    let mut unseen = vol("a", json!(true));
    unseen["unobserved"] = json!([{"path": "configuration.encrypted", "reason": "AccessDenied"}]);
    let (_, t) = s.record(&scan(&[unseen]), "2").unwrap();
    assert_eq!(
        t,
        Default::default(),
        "an UNKNOWN result must not resolve an open failure"
    );
    let snap = s.snapshot().unwrap();
    assert_eq!(snap.noncompliant_resources, 1);
    let db = json!({"resourceType": "AWS::RDS::DBInstance", "arn": "arn:aws:rds:eu-west-1:111111111111:db:legacy", "tags": {}, "supplementaryConfiguration": {}, "configuration": {"publiclyAccessible": true}});
    let (_, t) = s.record(&scan(&[db]), "3").unwrap();
    assert_eq!(t.suppressed, 1);
}

#[test]
fn two_writers_at_once_do_not_corrupt_it() {
    let guard = tmp("concurrent");
    let path = guard.path().join("state.db");
    Store::open(&path).unwrap();
    let items: Vec<serde_json::Value> = (0..300)
        .map(|i| vol(&format!("v{i}"), json!(i % 2 == 0)))
        .collect();
    let report = scan(&items);
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let path = path.clone();
            let report = report.clone();
            std::thread::spawn(move || {
                let mut s = Store::open(&path).unwrap();
                for _ in 0..5 {
                    s.record(&report, "parallel").unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(s.scans(100).unwrap().len(), 10);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let open: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM findings WHERE state = 'open'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(open, 150);
}

#[test]
fn migrations_are_versioned_and_a_newer_schema_is_refused() {
    let guard = tmp("migrations");
    let path = guard.path().join("state.db");
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), Store::SCHEMA_VERSION);
    drop(s);
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), Store::SCHEMA_VERSION);
    drop(s);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO schema_migrations (version, applied_at) VALUES (99, 'x')",
        [],
    )
    .unwrap();
    drop(conn);
    let e = Store::open(&path).unwrap_err();
    assert!(e.to_string().contains("schema version 99, newer"), "{e}");
}

#[test]
fn report_and_metrics_show_the_period() {
    let guard = tmp("report");
    let mut s = Store::open(guard.path().join("state.db")).unwrap();
    s.record(
        &scan(&[vol("a", json!(false)), vol("b", json!(false))]),
        "1",
    )
    .unwrap();
    s.record(&scan(&[vol("a", json!(true)), vol("b", json!(false))]), "2")
        .unwrap();
    let p = s.period(Utc::now() - chrono::Duration::hours(24)).unwrap();
    assert_eq!(p.scans, 2);
    assert_eq!(p.changes.get("new"), Some(&2));
    assert_eq!(p.changes.get("resolved"), Some(&1));
    assert_eq!(p.by_class.get("internal"), Some(&2));
    assert_eq!(p.top.len(), 1);
    let html = report::html(&p, "Daily <report>");
    assert!(
        html.contains("<svg")
            && html.contains("id=\"trend\"")
            && html.contains("Daily &lt;report&gt;")
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "self-contained"
    );
    let md = report::markdown(&p, "Daily");
    assert!(md.contains("| 2 | 1 | 0 | 0 |"), "{md}");
    let m = metrics::render(&s.snapshot().unwrap());
    assert!(m.contains("assetwarden_noncompliant_resources 1"), "{m}");
    assert!(m.contains("assetwarden_scans_total 2"), "{m}");
    assert!(m.contains(r#"assetwarden_findings{severity="medium",check="aws.ec2.ebs-encrypted",status="FAIL"} 1"#), "{m}");
}

#[test]
fn budgets_api_calls_and_tag_changes_reach_report_and_metrics() {
    use assetwarden_core::report::ApiCallCount;
    use assetwarden_core::vuln::{BudgetFigures, BudgetsDoc, budget_finding};
    let guard = tmp("budgets");
    let mut s = Store::open(guard.path().join("state.db")).unwrap();
    let doc = BudgetsDoc::default();
    let now = Utc::now();
    let figures = |name: &str, actual: f64| BudgetFigures {
        name: name.into(),
        account: "111111111111".into(),
        limit: 200.0,
        unit: "USD".into(),
        actual: Some(actual),
        forecast: Some(actual * 1.5),
    };
    let calls = |outcome: &str, n: u64| ApiCallCount {
        service: "ec2".into(),
        region: "eu-west-1".into(),
        outcome: outcome.into(),
        calls: n,
    };
    let mut r1 = scan(&[vol("a", json!(true))]);
    r1.findings
        .push(budget_finding(&figures("team-a", 50.0), &doc, now));
    r1.api_calls = vec![calls("ok", 10), calls("throttled", 2)];
    s.record(&r1, "1").unwrap();
    // The second scan reads the budget again, higher: the report shows the latest figures.
    let mut r2 = scan(&[vol("a", json!(true))]);
    r2.findings
        .push(budget_finding(&figures("team-a", 210.0), &doc, now));
    r2.findings
        .push(budget_finding(&figures("team-b", 10.0), &doc, now));
    r2.api_calls = vec![calls("ok", 5)];
    s.record(&r2, "2").unwrap();
    s.record_tag_changes(&[assetwarden_state::TagChangeRow {
        arn: "arn:aws:s3:::b|x".into(),
        key: "owner".into(),
        old_value: Some("<old>".into()),
        new_value: "web".into(),
        applied_at: Utc::now().to_rfc3339(),
        applied_by: "assetwarden tag apply".into(),
    }])
    .unwrap();

    let p = s.period(Utc::now() - chrono::Duration::hours(24)).unwrap();
    let b: Vec<_> = p
        .budgets
        .iter()
        .map(|b| (b.name.as_str(), b.actual, b.status.as_str()))
        .collect();
    assert_eq!(
        b,
        vec![
            ("team-a", Some(210.0), "FAIL"),
            ("team-b", Some(10.0), "PASS")
        ]
    );
    assert_eq!(p.budgets[0].unit, "USD");
    assert_eq!(p.tag_changes_total, 1);
    let html = report::html(&p, "Daily");
    assert!(html.contains("id=\"budget-chart\""), "{html}");
    assert!(html.contains("210.00 USD (105%)"), "{html}");
    assert!(html.contains("&lt;old&gt;"), "tag values are escaped");
    assert_eq!(html.matches("class=\"budget-actual\"").count(), 2);
    let md = report::markdown(&p, "Daily");
    assert!(
        md.contains(
            "| team-a | 111111111111 | 200.00 USD | 210.00 USD (105%) | 315.00 USD (158%) | FAIL |"
        ),
        "{md}"
    );
    assert!(
        md.contains("| arn:aws:s3:::b\\|x | owner | <old> | web |"),
        "{md}"
    );

    let m = metrics::render(&s.snapshot().unwrap());
    assert!(
        m.contains(
            r#"assetwarden_aws_api_calls_total{service="ec2",region="eu-west-1",outcome="ok"} 15"#
        ),
        "{m}"
    );
    assert!(
        m.contains(r#"assetwarden_aws_api_calls_total{service="ec2",region="eu-west-1",outcome="throttled"} 2"#),
        "{m}"
    );
    assert!(m.contains("assetwarden_tag_changes_total 1"), "{m}");
}
