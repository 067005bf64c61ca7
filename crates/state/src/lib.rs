//! Assetwarden's state store: an embedded SQLite database of scan history, resources seen,
//! findings with their first/last seen and status transitions (new, still open, resolved,
//! regressed, suppressed), tag changes applied and notifications sent; and what is built on it:
//! the history between runs, the daily report and the Prometheus metrics.
//!
//! Two processes may write at once: the database runs in WAL mode, waits for a busy writer,
//! and records each scan in one `BEGIN IMMEDIATE` transaction.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use assetwarden_core::finding::Status;
use assetwarden_core::remediate::ChangeRecord;
use assetwarden_core::report::ScanReport;
use assetwarden_core::vuln::BUDGET_CHECK;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, TransactionBehavior, params};
use serde::Serialize;

pub mod metrics;
pub mod report;

/// The state store's error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite failed.
    #[error("state store `{path}`: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer Assetwarden.
    #[error(
        "state store `{path}` has schema version {found}, newer than this Assetwarden's {supported}"
    )]
    TooNew {
        /// The database file.
        path: String,
        /// Its version.
        found: i64,
        /// Ours.
        supported: i64,
    },
}

impl Error {
    /// Whether trying again may succeed (the database was busy).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Sqlite { source: rusqlite::Error::SqliteFailure(e, _), .. } if e.code == rusqlite::ErrorCode::DatabaseBusy)
    }
}

/// The store's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The migrations, in order; the schema version is their count.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE scans (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        policy TEXT NOT NULL,
        label TEXT NOT NULL,
        resources INTEGER NOT NULL,
        summary TEXT NOT NULL
     );
     CREATE TABLE resources (
        arn TEXT PRIMARY KEY,
        resource_type TEXT NOT NULL,
        account_id TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        tags TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        last_scan INTEGER NOT NULL
     );
     CREATE TABLE findings (
        id TEXT PRIMARY KEY,
        check_id TEXT NOT NULL,
        arn TEXT NOT NULL,
        title TEXT NOT NULL,
        severity TEXT NOT NULL,
        status TEXT NOT NULL,
        state TEXT NOT NULL,
        message TEXT NOT NULL,
        frameworks TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        last_scan INTEGER NOT NULL
     );
     CREATE INDEX findings_state ON findings(state, severity);
     CREATE INDEX findings_arn ON findings(arn);
     CREATE TABLE transitions (
        scan_id INTEGER NOT NULL,
        finding_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        at TEXT NOT NULL,
        check_id TEXT NOT NULL,
        arn TEXT NOT NULL,
        severity TEXT NOT NULL
     );
     CREATE INDEX transitions_scan ON transitions(scan_id, kind);
     CREATE TABLE scan_counts (
        scan_id INTEGER NOT NULL,
        severity TEXT NOT NULL,
        open INTEGER NOT NULL,
        PRIMARY KEY (scan_id, severity)
     );
     CREATE TABLE tag_changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        arn TEXT NOT NULL,
        key TEXT NOT NULL,
        old_value TEXT,
        new_value TEXT NOT NULL,
        applied_at TEXT NOT NULL,
        applied_by TEXT NOT NULL
     );
     CREATE TABLE notifications (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        finding_id TEXT NOT NULL,
        route TEXT NOT NULL,
        state_key TEXT NOT NULL,
        sent_at TEXT,
        status TEXT NOT NULL
     );
     CREATE INDEX notifications_finding ON notifications(finding_id, route);",
    // 2: budget figures per scan, API calls per scan, tag changes by time.
    "CREATE TABLE budgets (
        scan_id INTEGER NOT NULL,
        arn TEXT NOT NULL,
        name TEXT NOT NULL,
        account_id TEXT NOT NULL,
        limit_amount REAL,
        actual REAL,
        forecast REAL,
        unit TEXT NOT NULL,
        status TEXT NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (scan_id, arn)
     );
     CREATE TABLE api_calls (
        scan_id INTEGER NOT NULL,
        service TEXT NOT NULL,
        region TEXT NOT NULL,
        outcome TEXT NOT NULL,
        calls INTEGER NOT NULL,
        PRIMARY KEY (scan_id, service, region, outcome)
     );
     CREATE INDEX tag_changes_at ON tag_changes(applied_at);",
    // 3: remediations applied and rolled back.
    "CREATE TABLE remediations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        plan_id TEXT NOT NULL,
        change_id TEXT NOT NULL,
        remediation TEXT NOT NULL,
        arn TEXT NOT NULL,
        account_id TEXT NOT NULL,
        outcome TEXT NOT NULL,
        at TEXT NOT NULL,
        triggered_by TEXT NOT NULL,
        record TEXT NOT NULL
     );
     CREATE INDEX remediations_plan ON remediations(plan_id);
     CREATE INDEX remediations_at ON remediations(at);",
];

/// `c12` → (12, "c12"): change ids in plan order.
fn natural(id: &str) -> (u64, String) {
    (
        id.trim_start_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .unwrap_or(u64::MAX),
        id.to_string(),
    )
}

/// One tag written to a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagChangeRow {
    /// The resource.
    pub arn: String,
    /// The tag key.
    pub key: String,
    /// The value before, if the tag was there.
    pub old_value: Option<String>,
    /// The value written.
    pub new_value: String,
    /// When (RFC 3339).
    pub applied_at: String,
    /// Who or what wrote it: `assetwarden tag apply`, `event CreateBucket <id> by <principal>`.
    pub applied_by: String,
}

/// A budget's figures as last read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetRow {
    /// The budget's ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// Its account.
    pub account_id: String,
    /// The limit.
    pub limit: Option<f64>,
    /// Spent so far.
    pub actual: Option<f64>,
    /// Forecast for the period.
    pub forecast: Option<f64>,
    /// The currency.
    pub unit: String,
    /// The finding's status: PASS, FAIL, UNKNOWN.
    pub status: String,
    /// The finding's message.
    pub message: String,
    /// When it was read (the scan's end).
    pub at: String,
}

/// What changed for findings in one recorded scan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Transitions {
    /// Failures seen for the first time.
    pub new: u64,
    /// Failures still open from before.
    pub still_open: u64,
    /// Open failures that now pass (or no longer apply).
    pub resolved: u64,
    /// Resolved failures that fail again (an expired exception included).
    pub regressed: u64,
    /// Failures now covered by an exception.
    pub suppressed: u64,
}

/// A recorded scan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanRow {
    /// Its id.
    pub id: i64,
    /// When it started.
    pub started_at: String,
    /// When it finished.
    pub finished_at: String,
    /// The policy's name.
    pub policy: String,
    /// What was scanned.
    pub label: String,
    /// Resources seen.
    pub resources: i64,
}

/// One finding's change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The scan that saw it.
    pub scan_id: i64,
    /// `new`, `resolved`, `regressed` or `suppressed`.
    pub kind: String,
    /// The finding.
    pub finding_id: String,
    /// Its check.
    pub check_id: String,
    /// Its resource.
    pub arn: String,
    /// Its severity.
    pub severity: String,
}

/// The SQLite state store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn state_of(status: Status) -> Option<&'static str> {
    match status {
        Status::Fail => Some("open"),
        Status::Suppressed => Some("suppressed"),
        Status::Pass | Status::NotApplicable => Some("passing"),
        // What could not be seen changes nothing: never a resolution.
        Status::Unknown | Status::Error => None,
    }
}

impl Store {
    /// Opens (creating and migrating) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        let label = path.display().to_string();
        let err = |source| Error::Sqlite {
            path: label.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(60)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        let mut store = Store { conn, path };
        store.migrate()?;
        Ok(store)
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        |source| Error::Sqlite {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// The schema version this Assetwarden writes.
    pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

    fn migrate(&mut self) -> Result<()> {
        let path = self.path.display().to_string();
        let err = |source| Error::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)").map_err(err)?;
        let current: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        if current > Self::SCHEMA_VERSION {
            return Err(Error::TooNew {
                path,
                found: current,
                supported: Self::SCHEMA_VERSION,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            tx.execute_batch(sql).map_err(err)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![i as i64 + 1, Utc::now().to_rfc3339()],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
                r.get(0)
            })
            .map_err(self.err())
    }

    /// Records a scan: its summary, the resources seen, every finding's state and transition.
    /// Findings a scan did not evaluate keep their state (a partial scan resolves nothing).
    pub fn record(&mut self, report: &ScanReport, label: &str) -> Result<(i64, Transitions)> {
        let path = self.path.display().to_string();
        let err = |source| Error::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let now = report.finished_at.to_rfc3339();
        tx.execute(
            "INSERT INTO scans (started_at, finished_at, policy, label, resources, summary) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![report.started_at.to_rfc3339(), now, report.policy, label, report.coverage.resources as i64, serde_json::to_string(&report.summary).unwrap_or_default()],
        )
        .map_err(err)?;
        let scan_id = tx.last_insert_rowid();
        let mut t = Transitions::default();
        {
            // What the store holds, read once: only what changed is written.
            let mut known: HashMap<String, (String, String, String)> = HashMap::new();
            {
                let mut st = tx
                    .prepare("SELECT id, state, status, severity FROM findings")
                    .map_err(err)?;
                let rows = st
                    .query_map([], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            (
                                r.get::<_, String>(1)?,
                                r.get::<_, String>(2)?,
                                r.get::<_, String>(3)?,
                            ),
                        ))
                    })
                    .map_err(err)?;
                for row in rows {
                    let (id, v) = row.map_err(err)?;
                    known.insert(id, v);
                }
            }
            let mut known_res: HashMap<String, String> = HashMap::new();
            {
                let mut st = tx.prepare("SELECT arn, tags FROM resources").map_err(err)?;
                let rows = st
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                    .map_err(err)?;
                for row in rows {
                    let (a, tags) = row.map_err(err)?;
                    known_res.insert(a, tags);
                }
            }
            let mut insert_res = tx
                .prepare_cached(
                    "INSERT INTO resources (arn, resource_type, account_id, region, name, tags, first_seen, last_seen, last_scan)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)
                     ON CONFLICT(arn) DO UPDATE SET resource_type = ?2, account_id = ?3, region = ?4, name = ?5, tags = ?6, last_seen = ?7, last_scan = ?8",
                )
                .map_err(err)?;
            let mut touch_res = tx
                .prepare_cached(
                    "UPDATE resources SET last_seen = ?2, last_scan = ?3 WHERE arn = ?1",
                )
                .map_err(err)?;
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO findings (id, check_id, arn, title, severity, status, state, message, frameworks, first_seen, last_seen, last_scan)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)
                     ON CONFLICT(id) DO UPDATE SET severity = ?5, status = ?6, state = ?7, message = ?8, last_seen = ?10, last_scan = ?11",
                )
                .map_err(err)?;
            let mut touch = tx
                .prepare_cached("UPDATE findings SET last_seen = ?2, last_scan = ?3 WHERE id = ?1")
                .map_err(err)?;
            let mut touch_status = tx
                .prepare_cached(
                    "UPDATE findings SET status = ?2, last_seen = ?3, last_scan = ?4 WHERE id = ?1",
                )
                .map_err(err)?;
            let mut trans = tx
                .prepare_cached("INSERT INTO transitions (scan_id, finding_id, kind, at, check_id, arn, severity) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                .map_err(err)?;
            let mut seen_res: std::collections::HashSet<&str> = std::collections::HashSet::new();
            for f in &report.findings {
                let r = &f.resource;
                if seen_res.insert(r.arn.as_str()) {
                    let tags = serde_json::to_string(&r.tags).unwrap_or_default();
                    if known_res.get(&r.arn) == Some(&tags) {
                        touch_res
                            .execute(params![r.arn, now, scan_id])
                            .map_err(err)?;
                    } else {
                        insert_res
                            .execute(params![
                                r.arn,
                                r.resource_type,
                                r.account_id,
                                r.region,
                                r.name,
                                tags,
                                now,
                                scan_id
                            ])
                            .map_err(err)?;
                    }
                }
                let prev = known.get(&f.id);
                let Some(state) = state_of(f.status) else {
                    if prev.is_some() {
                        touch_status
                            .execute(params![f.id, f.status.as_str(), now, scan_id])
                            .map_err(err)?;
                    }
                    continue;
                };
                let prev_state = prev.map(|p| p.0.as_str());
                let kind = match (prev_state, state) {
                    (None, "open") => Some("new"),
                    (Some("open"), "open") => {
                        t.still_open += 1;
                        None
                    }
                    // Failing for the first time after passing: new; failing again after a
                    // resolution: a regression.
                    (Some("passing"), "open") => Some("new"),
                    (Some("resolved"), "open") => Some("regressed"),
                    (Some("suppressed"), "open") => Some("regressed"),
                    (Some("open"), "passing") => Some("resolved"),
                    (Some("suppressed"), "passing") => Some("resolved"),
                    (Some("open") | None | Some("passing" | "resolved"), "suppressed") => {
                        Some("suppressed")
                    }
                    _ => None,
                };
                let stored_state = if state == "passing"
                    && (kind == Some("resolved") || prev_state == Some("resolved"))
                {
                    "resolved"
                } else {
                    state
                };
                match kind {
                    Some("new") => t.new += 1,
                    Some("regressed") => t.regressed += 1,
                    Some("resolved") => t.resolved += 1,
                    Some("suppressed") => t.suppressed += 1,
                    _ => {}
                }
                if let Some(k) = kind {
                    trans
                        .execute(params![
                            scan_id,
                            f.id,
                            k,
                            now,
                            f.check_id,
                            r.arn,
                            f.severity.as_str()
                        ])
                        .map_err(err)?;
                }
                let unchanged = prev.is_some_and(|(st, status, sev)| {
                    st == stored_state && status == f.status.as_str() && sev == f.severity.as_str()
                });
                if unchanged {
                    // Passing findings that stay passing are not rewritten; open ones are seen again.
                    if stored_state == "open" || stored_state == "suppressed" {
                        touch.execute(params![f.id, now, scan_id]).map_err(err)?;
                    }
                    continue;
                }
                upsert
                    .execute(params![
                        f.id,
                        f.check_id,
                        r.arn,
                        f.title,
                        f.severity.as_str(),
                        f.status.as_str(),
                        stored_state,
                        f.message,
                        f.references.frameworks.join(","),
                        now,
                        scan_id
                    ])
                    .map_err(err)?;
            }
        }
        {
            let mut budget = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO budgets (scan_id, arn, name, account_id, limit_amount, actual, forecast, unit, status, message)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(err)?;
            for f in report
                .findings
                .iter()
                .filter(|f| f.check_id == BUDGET_CHECK)
            {
                let ev = |k: &str| {
                    f.evidence
                        .iter()
                        .find(|e| e.path == format!("budget.{k}"))
                        .map(|e| e.value.clone())
                };
                let num = |k: &str| ev(k).and_then(|v| v.as_f64());
                let unit = ev("unit")
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                budget
                    .execute(params![
                        scan_id,
                        f.resource.arn,
                        f.resource.name,
                        f.resource.account_id,
                        num("limit"),
                        num("actual"),
                        num("forecast"),
                        unit,
                        f.status.as_str(),
                        f.message
                    ])
                    .map_err(err)?;
            }
            let mut calls = tx
                .prepare_cached(
                    "INSERT INTO api_calls (scan_id, service, region, outcome, calls) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(scan_id, service, region, outcome) DO UPDATE SET calls = calls + ?5",
                )
                .map_err(err)?;
            for c in &report.api_calls {
                calls
                    .execute(params![
                        scan_id,
                        c.service,
                        c.region,
                        c.outcome,
                        c.calls as i64
                    ])
                    .map_err(err)?;
            }
        }
        tx.execute(
            "INSERT INTO scan_counts (scan_id, severity, open) SELECT ?1, severity, COUNT(*) FROM findings WHERE state = 'open' GROUP BY severity",
            params![scan_id],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok((scan_id, t))
    }

    /// Records tags written to resources, in one transaction.
    pub fn record_tag_changes(&mut self, changes: &[TagChangeRow]) -> Result<()> {
        let path = self.path.display().to_string();
        let err = |source| Error::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO tag_changes (arn, key, old_value, new_value, applied_at, applied_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(err)?;
            for c in changes {
                st.execute(params![
                    c.arn,
                    c.key,
                    c.old_value,
                    c.new_value,
                    c.applied_at,
                    c.applied_by
                ])
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Records remediation results (applied, refused, failed, skipped, rolled back). A finding
    /// whose every check passed again after its change moves to `resolved` (a transition of the
    /// last recorded scan); no other finding moves.
    pub fn record_remediations(&mut self, records: &[ChangeRecord]) -> Result<usize> {
        let path = self.path.display().to_string();
        let err = |source| Error::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let mut resolved = 0;
        {
            let last_scan: i64 = tx
                .query_row("SELECT COALESCE(MAX(id), 0) FROM scans", [], |r| r.get(0))
                .map_err(err)?;
            let mut ins = tx
                .prepare_cached(
                    "INSERT INTO remediations (plan_id, change_id, remediation, arn, account_id, outcome, at, triggered_by, record)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(err)?;
            let mut resolve = tx
                .prepare_cached(
                    "UPDATE findings SET state = 'resolved', status = 'PASS', last_seen = ?2 WHERE id = ?1 AND state = 'open'",
                )
                .map_err(err)?;
            let mut trans = tx
                .prepare_cached(
                    "INSERT INTO transitions (scan_id, finding_id, kind, at, check_id, arn, severity)
                     SELECT ?1, id, 'resolved', ?2, check_id, arn, severity FROM findings WHERE id = ?3",
                )
                .map_err(err)?;
            for r in records {
                let outcome = serde_json::to_value(r.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                ins.execute(params![
                    r.plan_id,
                    r.change_id,
                    r.remediation,
                    r.target.arn,
                    r.target.account_id,
                    outcome,
                    r.at.to_rfc3339(),
                    r.triggered_by,
                    serde_json::to_string(r).unwrap_or_default()
                ])
                .map_err(err)?;
                if r.resolved() {
                    for f in &r.findings {
                        if resolve
                            .execute(params![f, r.at.to_rfc3339()])
                            .map_err(err)?
                            > 0
                        {
                            resolved += 1;
                            if last_scan > 0 {
                                trans
                                    .execute(params![last_scan, r.at.to_rfc3339(), f])
                                    .map_err(err)?;
                            }
                        }
                    }
                }
            }
        }
        tx.commit().map_err(err)?;
        Ok(resolved)
    }

    /// The last record of each change of a plan, in plan order.
    pub fn remediation_records(&self, plan_id: &str) -> Result<Vec<ChangeRecord>> {
        let e = self.err();
        let mut st = self
            .conn
            .prepare("SELECT change_id, record FROM remediations WHERE plan_id = ?1 ORDER BY id")
            .map_err(&e)?;
        let rows: Vec<(String, String)> = st
            .query_map(params![plan_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(&e)?;
        let mut last: Vec<ChangeRecord> = Vec::new();
        for (id, text) in rows {
            let Ok(rec) = serde_json::from_str::<ChangeRecord>(&text) else {
                continue;
            };
            match last.iter_mut().find(|r| r.change_id == id) {
                Some(slot) => *slot = rec,
                None => last.push(rec),
            }
        }
        last.sort_by_key(|r| natural(&r.change_id));
        Ok(last)
    }

    /// Changes applied since `since`, by account (for the daily limit).
    pub fn applied_by_account(&self, since: DateTime<Utc>) -> Result<HashMap<String, usize>> {
        let e = self.err();
        let mut st = self
            .conn
            .prepare("SELECT account_id, COUNT(*) FROM remediations WHERE outcome = 'applied' AND at >= ?1 GROUP BY account_id")
            .map_err(&e)?;
        st.query_map(params![since.to_rfc3339()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize))
        })
        .map_err(&e)?
        .collect::<Result<HashMap<_, _>, _>>()
        .map_err(&e)
    }

    /// Remediation records since `since`, newest first (at most `limit`).
    pub fn remediations_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ChangeRecord>> {
        let e = self.err();
        let mut st = self
            .conn
            .prepare("SELECT record FROM remediations WHERE at >= ?1 AND outcome IN ('applied', 'failed', 'refused', 'rolled_back') ORDER BY id DESC LIMIT ?2")
            .map_err(&e)?;
        let rows: Vec<String> = st
            .query_map(params![since.to_rfc3339(), limit as i64], |r| r.get(0))
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(&e)?;
        Ok(rows
            .iter()
            .filter_map(|t| serde_json::from_str(t).ok())
            .collect())
    }

    /// Tag changes applied since `since`, newest first: how many in all, and the first `limit`.
    pub fn tag_changes(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<(i64, Vec<TagChangeRow>)> {
        let e = self.err();
        let since = since.to_rfc3339();
        let total = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM tag_changes WHERE applied_at >= ?1",
                params![since],
                |r| r.get(0),
            )
            .map_err(&e)?;
        let mut st = self
            .conn
            .prepare(
                "SELECT arn, key, old_value, new_value, applied_at, applied_by FROM tag_changes
                 WHERE applied_at >= ?1 ORDER BY applied_at DESC, id DESC LIMIT ?2",
            )
            .map_err(&e)?;
        let rows = st
            .query_map(params![since, limit as i64], |r| {
                Ok(TagChangeRow {
                    arn: r.get(0)?,
                    key: r.get(1)?,
                    old_value: r.get(2)?,
                    new_value: r.get(3)?,
                    applied_at: r.get(4)?,
                    applied_by: r.get(5)?,
                })
            })
            .map_err(&e)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&e)?;
        Ok((total, rows))
    }

    /// Each budget's figures from the last scan that read it.
    pub fn budgets(&self) -> Result<Vec<BudgetRow>> {
        let e = self.err();
        let mut st = self
            .conn
            .prepare(
                "SELECT b.arn, b.name, b.account_id, b.limit_amount, b.actual, b.forecast, b.unit, b.status, b.message, s.finished_at
                 FROM budgets b JOIN scans s ON s.id = b.scan_id
                 WHERE b.scan_id = (SELECT MAX(scan_id) FROM budgets b2 WHERE b2.arn = b.arn)
                 ORDER BY b.name, b.arn",
            )
            .map_err(&e)?;
        st.query_map([], |r| {
            Ok(BudgetRow {
                arn: r.get(0)?,
                name: r.get(1)?,
                account_id: r.get(2)?,
                limit: r.get(3)?,
                actual: r.get(4)?,
                forecast: r.get(5)?,
                unit: r.get(6)?,
                status: r.get(7)?,
                message: r.get(8)?,
                at: r.get(9)?,
            })
        })
        .map_err(&e)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(&e)
    }

    /// The findings that became new or regressed in scan `scan_id`.
    pub fn announcements(&self, scan_id: i64) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare("SELECT finding_id FROM transitions WHERE scan_id = ?1 AND kind IN ('new', 'regressed')")
            .map_err(self.err())?;
        let rows = st
            .query_map(params![scan_id], |r| r.get(0))
            .map_err(self.err())?;
        rows.collect::<Result<Vec<String>, _>>().map_err(self.err())
    }

    /// Notifications waiting in the outbox (deferred or failed with a retryable error), as
    /// (finding id, route) pairs, for findings still open.
    pub fn outbox(&self) -> Result<Vec<(String, String)>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT DISTINCT n.finding_id, n.route FROM notifications n JOIN findings f ON f.id = n.finding_id
                 WHERE n.status = 'pending' AND f.state = 'open'",
            )
            .map_err(self.err())?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// Records a delivery: `sent`, `pending` (kept in the outbox) or `failed` (permanent).
    pub fn record_notification(
        &mut self,
        finding_ids: &[String],
        route: &str,
        status: &str,
    ) -> Result<()> {
        let path = self.path.display().to_string();
        let err = |source| Error::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        {
            let mut clear = tx.prepare_cached("UPDATE notifications SET status = 'superseded' WHERE finding_id = ?1 AND route = ?2 AND status = 'pending'").map_err(err)?;
            let mut ins = tx
                .prepare_cached("INSERT INTO notifications (finding_id, route, state_key, sent_at, status) VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(err)?;
            let now = Utc::now().to_rfc3339();
            for id in finding_ids {
                clear.execute(params![id, route]).map_err(err)?;
                ins.execute(params![
                    id,
                    route,
                    "open",
                    if status == "sent" {
                        Some(now.clone())
                    } else {
                        None
                    },
                    status
                ])
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// The recorded scans, newest first.
    pub fn scans(&self, limit: usize) -> Result<Vec<ScanRow>> {
        let mut st = self
            .conn
            .prepare("SELECT id, started_at, finished_at, policy, label, resources FROM scans ORDER BY id DESC LIMIT ?1")
            .map_err(self.err())?;
        let rows = st
            .query_map(params![limit as i64], |r| {
                Ok(ScanRow {
                    id: r.get(0)?,
                    started_at: r.get(1)?,
                    finished_at: r.get(2)?,
                    policy: r.get(3)?,
                    label: r.get(4)?,
                    resources: r.get(5)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// What changed in the scans after `from` up to and including `to` (default: the last scan
    /// against the one before it).
    pub fn history(&self, from: Option<i64>, to: Option<i64>) -> Result<(i64, i64, Vec<Change>)> {
        let last: i64 = self
            .conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM scans", [], |r| r.get(0))
            .map_err(self.err())?;
        let to = to.unwrap_or(last);
        let from = from.unwrap_or(to - 1);
        let mut st = self
            .conn
            .prepare("SELECT scan_id, kind, finding_id, check_id, arn, severity FROM transitions WHERE scan_id > ?1 AND scan_id <= ?2 ORDER BY scan_id, kind, severity, check_id, arn")
            .map_err(self.err())?;
        let rows = st
            .query_map(params![from, to], |r| {
                Ok(Change {
                    scan_id: r.get(0)?,
                    kind: r.get(1)?,
                    finding_id: r.get(2)?,
                    check_id: r.get(3)?,
                    arn: r.get(4)?,
                    severity: r.get(5)?,
                })
            })
            .map_err(self.err())?;
        Ok((
            from,
            to,
            rows.collect::<Result<Vec<_>, _>>().map_err(self.err())?,
        ))
    }

    /// Everything the daily report shows, for the scans since `since`.
    pub fn period(&self, since: DateTime<Utc>) -> Result<report::Period> {
        let e = self.err();
        let since_s = since.to_rfc3339();
        let mut st = self
            .conn
            .prepare("SELECT id, finished_at FROM scans WHERE finished_at >= ?1 ORDER BY id")
            .map_err(&e)?;
        let scans: Vec<(i64, String)> = st
            .query_map(params![since_s], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(&e)?;
        let mut trend = Vec::new();
        for (id, at) in &scans {
            let mut st = self
                .conn
                .prepare_cached("SELECT severity, open FROM scan_counts WHERE scan_id = ?1")
                .map_err(&e)?;
            let counts: BTreeMap<String, i64> = st
                .query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(&e)?
                .collect::<Result<_, _>>()
                .map_err(&e)?;
            trend.push((at.clone(), counts));
        }
        let first = scans.first().map(|s| s.0 - 1).unwrap_or(i64::MAX);
        let mut changes: BTreeMap<String, i64> = BTreeMap::new();
        let mut st = self
            .conn
            .prepare("SELECT kind, COUNT(*) FROM transitions WHERE scan_id > ?1 GROUP BY kind")
            .map_err(&e)?;
        for row in st
            .query_map(params![first], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(&e)?
        {
            let (k, n) = row.map_err(&e)?;
            changes.insert(k, n);
        }
        let mut by_check: BTreeMap<String, (String, i64, i64)> = BTreeMap::new();
        let mut by_framework: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        let mut st = self.conn.prepare("SELECT check_id, title, frameworks, state, COUNT(*) FROM findings GROUP BY check_id, state").map_err(&e)?;
        for row in st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .map_err(&e)?
        {
            let (check, title, fw, state, n) = row.map_err(&e)?;
            let (pass, fail) = match state.as_str() {
                "open" => (0, n),
                "passing" | "resolved" | "suppressed" => (n, 0),
                _ => (0, 0),
            };
            let c = by_check.entry(check).or_insert((title, 0, 0));
            c.1 += pass;
            c.2 += fail;
            for f in fw.split(',').filter(|f| !f.is_empty()) {
                let x = by_framework.entry(f.to_string()).or_insert((0, 0));
                x.0 += pass;
                x.1 += fail;
            }
        }
        let mut by_type: BTreeMap<String, i64> = BTreeMap::new();
        let mut by_class: BTreeMap<String, i64> = BTreeMap::new();
        let mut by_owner: BTreeMap<String, i64> = BTreeMap::new();
        let mut st = self
            .conn
            .prepare("SELECT resource_type, tags FROM resources")
            .map_err(&e)?;
        for row in st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(&e)?
        {
            let (t, tags) = row.map_err(&e)?;
            *by_type.entry(t).or_default() += 1;
            let tags: HashMap<String, String> = serde_json::from_str(&tags).unwrap_or_default();
            *by_class
                .entry(
                    tags.get("DataClassification")
                        .cloned()
                        .unwrap_or_else(|| "(unset)".into()),
                )
                .or_default() += 1;
            *by_owner
                .entry(
                    tags.get("Owner")
                        .cloned()
                        .unwrap_or_else(|| "(unset)".into()),
                )
                .or_default() += 1;
        }
        let mut st = self
            .conn
            .prepare(
                "SELECT f.arn, COALESCE(r.name, f.arn),
                        SUM(CASE f.severity WHEN 'critical' THEN 10 WHEN 'high' THEN 5 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END) AS risk,
                        COUNT(*)
                 FROM findings f LEFT JOIN resources r ON r.arn = f.arn
                 WHERE f.state = 'open' GROUP BY f.arn ORDER BY risk DESC, f.arn LIMIT 10",
            )
            .map_err(&e)?;
        let top: Vec<(String, String, i64, i64)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(&e)?;
        let (tag_changes_total, tag_changes) = self.tag_changes(since, 50)?;
        let budgets = self.budgets()?;
        let remediations = self.remediations_since(since, 50)?;
        Ok(report::Period {
            since,
            remediations,
            budgets,
            tag_changes,
            tag_changes_total,
            scans: scans.len(),
            trend,
            changes,
            by_check,
            by_framework,
            by_type,
            by_class,
            by_owner,
            top,
        })
    }

    /// The current state for the metrics: open findings by severity/check, resources by
    /// type/account/region/classification, non-compliant and untagged resources.
    pub fn snapshot(&self) -> Result<metrics::Snapshot> {
        metrics::snapshot(&self.conn).map_err(self.err())
    }
}
