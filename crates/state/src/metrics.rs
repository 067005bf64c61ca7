//! Prometheus metrics (text exposition format 0.0.4) from the state store's current state.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rusqlite::Connection;

/// The numbers the metrics expose.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// (type, account, region, classification) → resources.
    pub resources: BTreeMap<(String, String, String, String), i64>,
    /// (severity, check, status) → findings.
    pub findings: BTreeMap<(String, String, String), i64>,
    /// Resources with at least one open failure.
    pub noncompliant_resources: i64,
    /// Resources with an open tag-policy failure.
    pub untagged_resources: i64,
    /// Scans recorded.
    pub scans: i64,
    /// The last scan's duration, seconds.
    pub last_scan_duration: f64,
    /// The last scan's end, Unix seconds.
    pub last_scan_timestamp: f64,
    /// Resources the last scan saw.
    pub last_scan_resources: i64,
    /// (service, region, outcome) → cloud API calls, over every recorded scan.
    pub api_calls: BTreeMap<(String, String, String), i64>,
    /// Tags written to resources, over all time.
    pub tag_changes: i64,
}

pub(crate) fn snapshot(conn: &Connection) -> rusqlite::Result<Snapshot> {
    let mut s = Snapshot::default();
    let mut st = conn.prepare("SELECT resource_type, account_id, region, tags FROM resources")?;
    for row in st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })? {
        let (t, a, r, tags) = row?;
        let tags: BTreeMap<String, String> = serde_json::from_str(&tags).unwrap_or_default();
        let c = tags
            .get("DataClassification")
            .cloned()
            .unwrap_or_else(|| "unset".into());
        *s.resources.entry((t, a, r, c)).or_default() += 1;
    }
    let mut st = conn.prepare("SELECT severity, check_id, status, COUNT(*) FROM findings GROUP BY severity, check_id, status")?;
    for row in st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })? {
        let (sev, check, status, n) = row?;
        s.findings.insert((sev, check, status), n);
    }
    s.noncompliant_resources = conn.query_row(
        "SELECT COUNT(DISTINCT arn) FROM findings WHERE state = 'open'",
        [],
        |r| r.get(0),
    )?;
    s.untagged_resources = conn.query_row("SELECT COUNT(DISTINCT arn) FROM findings WHERE state = 'open' AND check_id LIKE 'tag-policy.%'", [], |r| r.get(0))?;
    s.scans = conn.query_row("SELECT COUNT(*) FROM scans", [], |r| r.get(0))?;
    let last: Option<(String, String, i64)> = conn
        .query_row(
            "SELECT started_at, finished_at, resources FROM scans ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .ok();
    if let Some((a, b, n)) = last {
        let p = |x: &str| chrono::DateTime::parse_from_rfc3339(x).ok();
        if let (Some(a), Some(b)) = (p(&a), p(&b)) {
            s.last_scan_duration = (b - a).num_milliseconds() as f64 / 1000.0;
            s.last_scan_timestamp = b.timestamp_millis() as f64 / 1000.0;
        }
        s.last_scan_resources = n;
    }
    let mut st = conn.prepare(
        "SELECT service, region, outcome, SUM(calls) FROM api_calls GROUP BY service, region, outcome",
    )?;
    for row in st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })? {
        let (svc, region, outcome, n) = row?;
        s.api_calls.insert((svc, region, outcome), n);
    }
    s.tag_changes = conn.query_row("SELECT COUNT(*) FROM tag_changes", [], |r| r.get(0))?;
    Ok(s)
}

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The snapshot in Prometheus' text exposition format.
pub fn render(s: &Snapshot) -> String {
    let mut o = String::new();
    let head = |o: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(o, "# HELP {name} {help}");
        let _ = writeln!(o, "# TYPE {name} {kind}");
    };
    head(
        &mut o,
        "assetwarden_resources",
        "gauge",
        "Resources seen, by CloudFormation type, account, region and DataClassification tag.",
    );
    for ((t, a, r, c), n) in &s.resources {
        let _ = writeln!(
            o,
            "assetwarden_resources{{type=\"{}\",account=\"{}\",region=\"{}\",classification=\"{}\"}} {n}",
            esc(t),
            esc(a),
            esc(r),
            esc(c)
        );
    }
    head(
        &mut o,
        "assetwarden_findings",
        "gauge",
        "Findings by severity, check and current status.",
    );
    for ((sev, check, status), n) in &s.findings {
        let _ = writeln!(
            o,
            "assetwarden_findings{{severity=\"{}\",check=\"{}\",status=\"{}\"}} {n}",
            esc(sev),
            esc(check),
            esc(status)
        );
    }
    head(
        &mut o,
        "assetwarden_noncompliant_resources",
        "gauge",
        "Resources with at least one open failure.",
    );
    let _ = writeln!(
        o,
        "assetwarden_noncompliant_resources {}",
        s.noncompliant_resources
    );
    head(
        &mut o,
        "assetwarden_untagged_resources",
        "gauge",
        "Resources missing a required tag or carrying an invalid one.",
    );
    let _ = writeln!(o, "assetwarden_untagged_resources {}", s.untagged_resources);
    head(
        &mut o,
        "assetwarden_scans_total",
        "counter",
        "Scans recorded in the state store.",
    );
    let _ = writeln!(o, "assetwarden_scans_total {}", s.scans);
    head(
        &mut o,
        "assetwarden_last_scan_duration_seconds",
        "gauge",
        "Duration of the last recorded scan.",
    );
    let _ = writeln!(
        o,
        "assetwarden_last_scan_duration_seconds {}",
        s.last_scan_duration
    );
    head(
        &mut o,
        "assetwarden_last_scan_timestamp_seconds",
        "gauge",
        "End of the last recorded scan, Unix time.",
    );
    let _ = writeln!(
        o,
        "assetwarden_last_scan_timestamp_seconds {}",
        s.last_scan_timestamp
    );
    head(
        &mut o,
        "assetwarden_last_scan_resources",
        "gauge",
        "Resources the last recorded scan saw.",
    );
    let _ = writeln!(
        o,
        "assetwarden_last_scan_resources {}",
        s.last_scan_resources
    );
    head(
        &mut o,
        "assetwarden_aws_api_calls_total",
        "counter",
        "Cloud API calls (HTTP attempts, retries included) made by recorded scans, by service, region and outcome (ok, throttled, client_error, server_error, transport_error).",
    );
    for ((svc, region, outcome), n) in &s.api_calls {
        let _ = writeln!(
            o,
            "assetwarden_aws_api_calls_total{{service=\"{}\",region=\"{}\",outcome=\"{}\"}} {n}",
            esc(svc),
            esc(region),
            esc(outcome)
        );
    }
    head(
        &mut o,
        "assetwarden_tag_changes_total",
        "counter",
        "Tags written to resources (tag apply, event-driven tagging) and recorded in the state store.",
    );
    let _ = writeln!(o, "assetwarden_tag_changes_total {}", s.tag_changes);
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_label_values() {
        let mut s = Snapshot::default();
        s.findings
            .insert(("high".into(), "a\"b\\c\nd".into(), "FAIL".into()), 2);
        let t = render(&s);
        assert!(t.contains(r#"check="a\"b\\c\nd""#), "{t}");
    }
}
