//! The scan report: findings, tag plans, errors and the coverage ledger.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::classify::TagPlan;
use crate::engine::{Keep, ResourceResult};
use crate::finding::{Finding, Severity, Status};
use crate::resource::Resource;
use crate::source::{CoverageGap, SourceEvent};

/// An error met during a scan, attributed to where it happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanError {
    /// `input`, `source` or `check`.
    pub kind: String,
    /// Where: a file location, a source's name, a check id with the resource's ARN.
    pub location: String,
    /// What went wrong.
    pub message: String,
}

/// Per-check tallies.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CheckCoverage {
    /// Resources evaluated.
    pub evaluated: u64,
    /// Results by status.
    pub by_status: BTreeMap<Status, u64>,
}

/// What the scan saw and did not see.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Coverage {
    /// Resources seen, by type.
    pub resources_by_type: BTreeMap<String, u64>,
    /// Resources seen.
    pub resources: u64,
    /// Records skipped on purpose (deleted resources).
    pub skipped: u64,
    /// Records that could not be read.
    pub unreadable: u64,
    /// Per check.
    pub checks: BTreeMap<String, CheckCoverage>,
    /// UNKNOWN results by reason.
    pub unknown_reasons: BTreeMap<String, u64>,
    /// Types seen that no selected check covers.
    pub types_without_checks: BTreeMap<String, u64>,
    /// What the sources could not see at all.
    pub gaps: Vec<CoverageGap>,
}

/// An exception that has expired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpiredException {
    /// Its id.
    pub id: String,
    /// Its owner.
    pub owner: String,
    /// The day it expired.
    pub expires: String,
    /// Where it is in the policy file.
    pub location: Option<String>,
    /// Failures it would have suppressed in this scan.
    pub would_suppress: u64,
}

/// Counts of findings.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// By status.
    pub by_status: BTreeMap<Status, u64>,
    /// Failures by severity.
    pub failures_by_severity: BTreeMap<Severity, u64>,
    /// Resources with at least one failure.
    pub failing_resources: u64,
    /// Resources whose tag plan changes something.
    pub resources_to_tag: u64,
}

/// The result of a scan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanReport {
    /// The policy's name.
    pub policy: String,
    /// Where the policy was read from: a file, or `ssm:NAME@VERSION` for Parameter Store
    /// (the parameter version in use).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub policy_source: String,
    /// When the scan started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// Counts.
    pub summary: Summary,
    /// Findings kept (all statuses but NOT_APPLICABLE unless asked).
    pub findings: Vec<Finding>,
    /// Tag plans that change something.
    pub tag_plans: Vec<TagPlan>,
    /// Classification: for each governed tag, resources by value (after the plan).
    pub classification: BTreeMap<String, BTreeMap<String, u64>>,
    /// Errors by place.
    pub errors: Vec<ScanError>,
    /// The coverage ledger.
    pub coverage: Coverage,
    /// Expired exceptions.
    pub expired_exceptions: Vec<ExpiredException>,
    /// Calls the scan made to a cloud API, by service, region and outcome (empty for files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_calls: Vec<ApiCallCount>,
}

/// How many calls a scan made to one service in one region, with one outcome.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ApiCallCount {
    /// The service as it signs requests: `ec2`, `s3`, `tagging`, `config`.
    pub service: String,
    /// The region the call was signed for.
    pub region: String,
    /// `ok`, `throttled`, `client_error`, `server_error` or `transport_error`.
    pub outcome: String,
    /// HTTP attempts, retries included.
    pub calls: u64,
}

/// Receives a scan's results as they are produced. Implementations decide what to keep: the
/// engine itself keeps nothing, so memory is bounded by its batch.
pub trait ScanSink {
    /// One resource's results.
    fn on_result(&mut self, resource: &Resource, result: &ResourceResult);
    /// A batch's results, in the order of its resources. The default hands each to
    /// [`ScanSink::on_result`]; a sink with work it can spread over every core (rendering output
    /// lines, see [`crate::output::ndjson_batch`]) does it here.
    fn on_batch(&mut self, resources: &[Resource], results: &[ResourceResult]) {
        for (r, res) in resources.iter().zip(results) {
            self.on_result(r, res);
        }
    }
    /// A source event other than a resource (errors, gaps, skipped records).
    fn on_event(&mut self, _event: &SourceEvent) {}
    /// Findings not tied to one resource (UNKNOWN results for what a source could not see).
    fn on_findings(&mut self, _findings: &[Finding]) {}
    /// Progress: resources done so far.
    fn on_progress(&mut self, _done: u64) {}
    /// Whether the sink needs a full [`Finding`] for a PASS or NOT_APPLICABLE verdict. When it
    /// does not, the engine skips building one and only counts the verdict
    /// ([`ResourceResult::tallied`]): most verdicts of a large scan pass. Default: it does.
    fn keeps(&self, _status: Status) -> bool {
        true
    }
}

/// Builds a [`ScanReport`] from a scan.
pub struct ReportBuilder {
    report: ScanReport,
    keep_findings: bool,
    /// Which PASS / NOT_APPLICABLE findings the report holds (when it holds findings at all).
    keep: Keep,
    governed: Vec<String>,
}

impl ReportBuilder {
    /// A builder. `keep_findings: false` keeps only counts (for streaming outputs).
    pub fn new(policy: &str, started_at: DateTime<Utc>, keep_findings: bool) -> ReportBuilder {
        ReportBuilder {
            report: ScanReport {
                policy: policy.to_string(),
                policy_source: String::new(),
                started_at,
                finished_at: started_at,
                summary: Summary::default(),
                findings: Vec::new(),
                tag_plans: Vec::new(),
                classification: BTreeMap::new(),
                errors: Vec::new(),
                coverage: Coverage::default(),
                expired_exceptions: Vec::new(),
                api_calls: Vec::new(),
            },
            keep_findings,
            keep: Keep {
                pass: true,
                not_applicable: false,
            },
            governed: Vec::new(),
        }
    }
    /// Records where the policy came from.
    pub fn policy_source(mut self, s: &str) -> Self {
        self.report.policy_source = s.to_string();
        self
    }
    /// Keep NOT_APPLICABLE findings too.
    pub fn keep_not_applicable(mut self, yes: bool) -> Self {
        self.keep.not_applicable = yes;
        self
    }
    /// Keep PASS findings (default true).
    pub fn keep_pass(mut self, yes: bool) -> Self {
        self.keep.pass = yes;
        self
    }
    /// The tag keys to summarise in the classification table.
    pub fn classification_keys(mut self, keys: Vec<String>) -> Self {
        self.governed = keys;
        self
    }

    /// Whether the report holds findings of this status.
    fn stores(&self, status: Status) -> bool {
        self.keep_findings && self.keep.keeps(status)
    }

    /// Counts one verdict, whether it was built into a finding or only tallied.
    fn count(&mut self, check_id: &str, status: Status) {
        *self.report.summary.by_status.entry(status).or_default() += 1;
        bump(&mut self.report.coverage.checks, check_id, |c| {
            c.evaluated += 1;
            *c.by_status.entry(status).or_default() += 1;
        });
    }

    fn tally(&mut self, f: &Finding) {
        self.count(&f.check_id, f.status);
        if f.status == Status::Fail {
            *self
                .report
                .summary
                .failures_by_severity
                .entry(f.severity)
                .or_default() += 1;
        }
        if f.status == Status::Unknown {
            *self
                .report
                .coverage
                .unknown_reasons
                .entry(f.message.clone())
                .or_default() += 1;
        }
        if f.status == Status::Error {
            self.report.errors.push(ScanError {
                kind: "check".into(),
                location: format!("check `{}` on `{}`", f.check_id, f.resource.arn),
                message: f.message.clone(),
            });
        }
        if self.stores(f.status) {
            self.report.findings.push(f.clone());
        }
    }

    /// Records the expired exceptions and finishes.
    pub fn finish(mut self, expired: Vec<ExpiredException>) -> ScanReport {
        self.report.finished_at = Utc::now();
        self.report.expired_exceptions = expired;
        self.report.findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.status.cmp(&b.status))
                .then(a.check_id.cmp(&b.check_id))
                .then(a.resource.arn.cmp(&b.resource.arn))
        });
        self.report
    }
}

/// Applies `f` to the entry for `key`, made (and the key copied) only the first time: tallies run
/// once per finding, and almost every key is already there.
fn bump<V: Default>(m: &mut BTreeMap<String, V>, key: &str, f: impl FnOnce(&mut V)) {
    match m.get_mut(key) {
        Some(v) => f(v),
        None => f(m.entry(key.to_string()).or_default()),
    }
}

impl ScanSink for ReportBuilder {
    fn on_result(&mut self, r: &Resource, res: &ResourceResult) {
        let cov = &mut self.report.coverage;
        cov.resources += 1;
        bump(&mut cov.resources_by_type, &r.resource_type, |n| *n += 1);
        if !res.had_checks {
            bump(&mut cov.types_without_checks, &r.resource_type, |n| *n += 1);
        }
        if let Some(c) = &res.classification {
            for k in &self.governed {
                let value = c
                    .effective_tags(&r.tags)
                    .get(k)
                    .map_or("(unset)", String::as_str);
                bump(&mut self.report.classification, k, |m| {
                    bump(m, value, |n| *n += 1)
                });
            }
            if !c.plan.changes.is_empty() || !c.plan.refused.is_empty() {
                self.report.summary.resources_to_tag += u64::from(!c.plan.changes.is_empty());
                if self.keep_findings {
                    self.report.tag_plans.push(c.plan.clone());
                }
            }
        }
        if res.findings.iter().any(|f| f.status == Status::Fail) {
            self.report.summary.failing_resources += 1;
        }
        for f in &res.findings {
            self.tally(f);
        }
        for t in &res.tallied {
            self.count(&t.check_id, t.status);
        }
    }

    fn keeps(&self, status: Status) -> bool {
        match status {
            Status::Pass | Status::NotApplicable => self.stores(status),
            // Counted from the finding (messages of UNKNOWN and ERROR verdicts are reported).
            _ => true,
        }
    }

    fn on_event(&mut self, e: &SourceEvent) {
        match e {
            SourceEvent::Error { location, message } => {
                self.report.coverage.unreadable += 1;
                self.report.errors.push(ScanError {
                    kind: "input".into(),
                    location: location.clone(),
                    message: message.clone(),
                });
            }
            SourceEvent::Gap(g) => {
                self.report.errors.push(ScanError {
                    kind: "source".into(),
                    location: format!(
                        "source `{}`{}{}",
                        g.source,
                        g.account
                            .as_deref()
                            .map(|a| format!(" account {a}"))
                            .unwrap_or_default(),
                        g.region
                            .as_deref()
                            .map(|r| format!(" region {r}"))
                            .unwrap_or_default()
                    ),
                    message: format!(
                        "could not see {}: {}",
                        g.resource_types.join(", "),
                        g.reason
                    ),
                });
                self.report.coverage.gaps.push(g.clone());
            }
            SourceEvent::Skipped { .. } => self.report.coverage.skipped += 1,
            SourceEvent::Resource(_) => {}
        }
    }

    fn on_findings(&mut self, fs: &[Finding]) {
        for f in fs {
            self.tally(f);
        }
    }
}
