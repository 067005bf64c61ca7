//! Security Hub export: `BatchImportFindings` in ASFF, within Security Hub's limits (at most
//! 100 findings and 6 MB a call, 240 KB a finding, 10 calls a second), `FailedFindings` handled
//! finding by finding, and findings that became compliant archived — only this tool's own.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use assetwarden_core::finding::{Finding, Status};
use assetwarden_core::output::{AsffOptions, asff_finding};
use aws_sdk_securityhub::types as sh;
use serde_json::Value;

use crate::inventory::regional;
use crate::util::{ApiFailure, Backoff, backoff_from_env, failure, is_throttle, is_transient};

/// Security Hub's documented limits.
pub const MAX_FINDINGS_PER_CALL: usize = 100;
/// Bytes a call may carry.
pub const MAX_BATCH_BYTES: usize = 6 * 1024 * 1024;
/// Bytes a finding may have.
pub const MAX_FINDING_BYTES: usize = 240 * 1024;
/// Calls a second (account and region).
pub const CALLS_PER_SECOND: u32 = 10;

/// What an export did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ExportReport {
    /// Findings imported as active.
    pub imported: usize,
    /// Findings archived (compliant now).
    pub archived: usize,
    /// Findings refused before any call, with why (too large, not convertible).
    pub refused: Vec<(String, String)>,
    /// Findings Security Hub refused, with its error code and message.
    pub failed: Vec<(String, String, String)>,
    /// Calls made.
    pub calls: usize,
}

impl ExportReport {
    /// Whether every finding got where it should.
    pub fn complete(&self) -> bool {
        self.refused.is_empty() && self.failed.is_empty()
    }
}

/// Exports findings to Security Hub.
#[derive(Debug, Clone)]
pub struct SecurityHubExporter {
    client: aws_sdk_securityhub::Client,
    opts: AsffOptions,
    backoff: Backoff,
    min_interval: Duration,
}

impl SecurityHubExporter {
    /// An exporter importing into `account`'s Security Hub in `region` (the product ARN's).
    pub fn new(sdk: &aws_config::SdkConfig, account: &str, region: &str) -> SecurityHubExporter {
        SecurityHubExporter {
            client: aws_sdk_securityhub::Client::new(&regional(sdk, region)),
            opts: AsffOptions {
                product_account: Some(account.to_string()),
                product_region: Some(region.to_string()),
            },
            backoff: backoff_from_env(),
            min_interval: Duration::from_millis(1000 / u64::from(CALLS_PER_SECOND)),
        }
    }
    /// Sets the backoff for throttled findings.
    pub fn backoff(mut self, b: Backoff) -> Self {
        self.backoff = b;
        self
    }

    /// This tool's product ARN.
    pub fn product_arn(&self) -> String {
        let acct = self.opts.product_account.clone().unwrap_or_default();
        let region = self.opts.product_region.clone().unwrap_or_default();
        let partition = crate::util::partition_of(&region);
        format!("arn:{partition}:securityhub:{region}:{acct}:product/{acct}/default")
    }

    /// The ids of this tool's active findings in Security Hub, with their `CreatedAt`. Filtered
    /// by product ARN and generator on the server, and again here (some implementations ignore
    /// filters), so no other product's finding is ever touched.
    pub async fn active_own(&self) -> Result<HashMap<String, String>, ApiFailure> {
        let product = self.product_arn();
        let filters = sh::AwsSecurityFindingFilters::builder()
            .product_arn(
                sh::StringFilter::builder()
                    .value(&product)
                    .comparison(sh::StringFilterComparison::Equals)
                    .build(),
            )
            .generator_id(
                sh::StringFilter::builder()
                    .value("assetwarden/")
                    .comparison(sh::StringFilterComparison::Prefix)
                    .build(),
            )
            .record_state(
                sh::StringFilter::builder()
                    .value("ACTIVE")
                    .comparison(sh::StringFilterComparison::Equals)
                    .build(),
            )
            .build();
        let mut out = HashMap::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .get_findings()
                .filters(filters.clone())
                .max_results(100)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| failure("securityhub:GetFindings", &e))?;
            for f in page.findings() {
                let own = f.product_arn() == Some(product.as_str())
                    && f.generator_id()
                        .is_some_and(|g| g.starts_with("assetwarden/"))
                    && f.id().is_some_and(|i| i.starts_with("assetwarden/"))
                    && f.record_state()
                        .is_none_or(|s| *s == sh::RecordState::Active);
                if let (true, Some(id)) = (own, f.id()) {
                    out.insert(
                        id.to_string(),
                        f.created_at().unwrap_or_default().to_string(),
                    );
                }
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Exports a scan's findings: FAIL, UNKNOWN and ERROR as active findings; PASS findings
    /// whose id is active in Security Hub as PASSED and ARCHIVED (with a newer `UpdatedAt`).
    /// NOT_APPLICABLE and SUPPRESSED findings are not sent.
    pub async fn export(&self, findings: &[Finding]) -> Result<ExportReport, ApiFailure> {
        let active = self.active_own().await?;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut report = ExportReport::default();
        let mut items: Vec<(String, Value, bool)> = Vec::new();
        for f in findings {
            let archive = match f.status {
                Status::Fail | Status::Unknown | Status::Error => false,
                Status::Pass => {
                    if !active.contains_key(&format!("assetwarden/{}", f.id)) {
                        continue;
                    }
                    true
                }
                _ => continue,
            };
            match asff_finding(f, &self.opts) {
                Ok(mut v) => {
                    let id = v["Id"].as_str().unwrap_or_default().to_string();
                    if archive {
                        v["RecordState"] = Value::String("ARCHIVED".into());
                        v["UpdatedAt"] = Value::String(now.clone());
                        if let Some(c) = active.get(&id).filter(|c| !c.is_empty()) {
                            v["CreatedAt"] = Value::String(c.clone());
                        }
                    }
                    items.push((id, v, archive));
                }
                Err(e) => report.refused.push((f.id.clone(), e)),
            }
        }
        self.import(items, &mut report).await;
        Ok(report)
    }

    /// Imports prepared ASFF documents (id, document, archived?).
    pub async fn import(&self, items: Vec<(String, Value, bool)>, report: &mut ExportReport) {
        let (batches, refused) = plan_batches(items);
        report.refused.extend(refused);
        let mut last_call: Option<Instant> = None;
        for batch in batches {
            let mut pending: BTreeMap<String, (Value, bool)> =
                batch.into_iter().map(|(id, v, a)| (id, (v, a))).collect();
            let mut attempt = 0;
            while !pending.is_empty() {
                attempt += 1;
                if let Some(t) = last_call {
                    let since = t.elapsed();
                    if since < self.min_interval {
                        tokio::time::sleep(self.min_interval - since).await;
                    }
                }
                last_call = Some(Instant::now());
                report.calls += 1;
                let docs: Vec<sh::AwsSecurityFinding> =
                    pending.values().map(|(v, _)| to_sdk(v)).collect();
                let res = self
                    .client
                    .batch_import_findings()
                    .set_findings(Some(docs))
                    .send()
                    .await;
                let mut retry = BTreeMap::new();
                match res {
                    Ok(o) => {
                        let failed: HashMap<&str, (&str, &str)> = o
                            .failed_findings()
                            .iter()
                            .filter_map(|e| {
                                Some((
                                    e.id()?,
                                    (
                                        e.error_code().unwrap_or("unknown"),
                                        e.error_message().unwrap_or(""),
                                    ),
                                ))
                            })
                            .collect();
                        for (id, (v, archived)) in std::mem::take(&mut pending) {
                            match failed.get(id.as_str()) {
                                None => {
                                    if archived {
                                        report.archived += 1;
                                    } else {
                                        report.imported += 1;
                                    }
                                }
                                Some((code, msg)) => {
                                    let retryable = is_throttle(code)
                                        || is_transient(code)
                                        || *code == "InternalError";
                                    if retryable && attempt < self.backoff.max_attempts {
                                        retry.insert(id, (v, archived));
                                    } else {
                                        report.failed.push((id, code.to_string(), msg.to_string()));
                                    }
                                }
                            }
                        }
                    }
                    Err(e) => {
                        let f = failure("securityhub:BatchImportFindings", &e);
                        if f.retryable && attempt < self.backoff.max_attempts {
                            retry = std::mem::take(&mut pending);
                        } else {
                            for (id, _) in std::mem::take(&mut pending) {
                                report.failed.push((id, f.code.clone(), f.to_string()));
                            }
                        }
                    }
                }
                if !retry.is_empty() {
                    tokio::time::sleep(self.backoff.delay(attempt)).await;
                }
                pending = retry;
            }
        }
    }
}

/// One batch: (id, ASFF document, archived?).
pub type Batch = Vec<(String, Value, bool)>;

/// Splits findings into calls within Security Hub's limits: at most 100 findings and 6 MB a
/// call; a finding over 240 KB is refused (with its id and size), never sent.
pub fn plan_batches(items: Vec<(String, Value, bool)>) -> (Vec<Batch>, Vec<(String, String)>) {
    let mut refused = Vec::new();
    let mut batches: Vec<Batch> = Vec::new();
    let mut cur: Batch = Vec::new();
    let mut cur_bytes = 0usize;
    // The request's own framing (`{"Findings":[...]}` and commas) stays well under this.
    const FRAMING: usize = 1024;
    for (id, v, archived) in items {
        let bytes = serde_json::to_vec(&v)
            .map(|b| b.len())
            .unwrap_or(usize::MAX);
        if bytes > MAX_FINDING_BYTES {
            refused.push((
                id,
                format!(
                    "{bytes} bytes, over Security Hub's {MAX_FINDING_BYTES}-byte limit for one finding"
                ),
            ));
            continue;
        }
        if !cur.is_empty()
            && (cur.len() == MAX_FINDINGS_PER_CALL
                || cur_bytes + bytes + cur.len() > MAX_BATCH_BYTES - FRAMING)
        {
            batches.push(std::mem::take(&mut cur));
            cur_bytes = 0;
        }
        cur_bytes += bytes;
        cur.push((id, v, archived));
    }
    if !cur.is_empty() {
        batches.push(cur);
    }
    (batches, refused)
}

fn st(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

/// An ASFF document (as the core writes it) in the SDK's types.
pub fn to_sdk(v: &Value) -> sh::AwsSecurityFinding {
    let mut b = sh::AwsSecurityFinding::builder()
        .set_schema_version(st(v, "SchemaVersion"))
        .set_id(st(v, "Id"))
        .set_product_arn(st(v, "ProductArn"))
        .set_product_name(st(v, "ProductName"))
        .set_company_name(st(v, "CompanyName"))
        .set_generator_id(st(v, "GeneratorId"))
        .set_aws_account_id(st(v, "AwsAccountId"))
        .set_created_at(st(v, "CreatedAt"))
        .set_updated_at(st(v, "UpdatedAt"))
        .set_first_observed_at(st(v, "FirstObservedAt"))
        .set_last_observed_at(st(v, "LastObservedAt"))
        .set_title(st(v, "Title"))
        .set_description(st(v, "Description"));
    for t in v["Types"].as_array().into_iter().flatten() {
        if let Some(t) = t.as_str() {
            b = b.types(t);
        }
    }
    let sev = &v["Severity"];
    b = b.severity(
        sh::Severity::builder()
            .set_label(st(sev, "Label").map(|l| sh::SeverityLabel::from(l.as_str())))
            .set_original(st(sev, "Original"))
            .build(),
    );
    for r in v["Resources"].as_array().into_iter().flatten() {
        let mut rb = sh::Resource::builder()
            .set_type(st(r, "Type"))
            .set_id(st(r, "Id"))
            .set_partition(st(r, "Partition").map(|p| sh::Partition::from(p.as_str())))
            .set_region(st(r, "Region"));
        for (k, val) in r["Tags"].as_object().into_iter().flatten() {
            rb = rb.tags(k, val.as_str().unwrap_or_default());
        }
        b = b.resources(rb.build());
    }
    let c = &v["Compliance"];
    if c.is_object() {
        let mut cb = sh::Compliance::builder()
            .set_status(st(c, "Status").map(|s| sh::ComplianceStatus::from(s.as_str())))
            .set_security_control_id(st(c, "SecurityControlId"));
        for r in c["RelatedRequirements"].as_array().into_iter().flatten() {
            if let Some(r) = r.as_str() {
                cb = cb.related_requirements(r);
            }
        }
        for r in c["StatusReasons"].as_array().into_iter().flatten() {
            cb = cb.status_reasons(
                sh::StatusReason::builder()
                    .set_reason_code(st(r, "ReasonCode"))
                    .set_description(st(r, "Description"))
                    .build(),
            );
        }
        b = b.compliance(cb.build());
    }
    if let Some(rs) = st(v, "RecordState") {
        b = b.record_state(sh::RecordState::from(rs.as_str()));
    }
    for (k, val) in v["ProductFields"].as_object().into_iter().flatten() {
        let s = match val {
            Value::String(s) => s.clone(),
            Value::Null => continue,
            other => other.to_string(),
        };
        b = b.product_fields(k, s);
    }
    let rec = &v["Remediation"]["Recommendation"];
    if rec.is_object() {
        b = b.remediation(
            sh::Remediation::builder()
                .recommendation(
                    sh::Recommendation::builder()
                        .set_text(st(rec, "Text"))
                        .set_url(st(rec, "Url"))
                        .build(),
                )
                .build(),
        );
    }
    for vuln in v["Vulnerabilities"].as_array().into_iter().flatten() {
        if let Some(x) = vulnerability(vuln) {
            b = b.vulnerabilities(x);
        }
    }
    b.build()
}

fn vulnerability(v: &Value) -> Option<sh::Vulnerability> {
    let mut vb = sh::Vulnerability::builder().set_id(st(v, "Id"));
    for c in v["Cvss"].as_array().into_iter().flatten() {
        vb = vb.cvss(
            sh::Cvss::builder()
                .set_version(st(c, "Version"))
                .set_base_score(c["BaseScore"].as_f64())
                .set_base_vector(st(c, "BaseVector"))
                .build(),
        );
    }
    for p in v["VulnerablePackages"].as_array().into_iter().flatten() {
        vb = vb.vulnerable_packages(
            sh::SoftwarePackage::builder()
                .set_name(st(p, "Name"))
                .set_version(st(p, "Version"))
                .set_fixed_in_version(st(p, "FixedInVersion"))
                .set_package_manager(st(p, "PackageManager"))
                .build(),
        );
    }
    if let Some(fa) = st(v, "FixAvailable") {
        vb = vb.fix_available(sh::VulnerabilityFixAvailable::from(fa.as_str()));
    }
    for u in v["ReferenceUrls"].as_array().into_iter().flatten() {
        if let Some(u) = u.as_str() {
            vb = vb.reference_urls(u);
        }
    }
    Some(vb.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: usize, pad: usize) -> (String, Value, bool) {
        (
            format!("f{id}"),
            serde_json::json!({"Id": format!("f{id}"), "Description": "x".repeat(pad)}),
            false,
        )
    }

    #[test]
    fn batches_respect_count_size_and_the_per_finding_limit() {
        // 250 small findings: 100 + 100 + 50.
        let (b, r) = plan_batches((0..250).map(|i| doc(i, 10)).collect());
        assert_eq!(
            b.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![100, 100, 50]
        );
        assert!(r.is_empty());
        // 60 findings of ~200 KB: the 6 MB cap cuts before 100.
        let (b, r) = plan_batches((0..60).map(|i| doc(i, 200 * 1024)).collect());
        assert!(r.is_empty());
        for batch in &b {
            let total: usize = batch
                .iter()
                .map(|(_, v, _)| serde_json::to_vec(v).unwrap().len())
                .sum();
            assert!(total <= MAX_BATCH_BYTES, "{total}");
        }
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 60);
        assert!(b.len() >= 2);
        // One finding over 240 KB is refused by id, the others go.
        let mut items: Vec<_> = (0..3).map(|i| doc(i, 100)).collect();
        items.push(doc(99, 241 * 1024));
        let (b, r) = plan_batches(items);
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 3);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].0, "f99");
        assert!(
            r[0].1.contains("over Security Hub's 245760-byte limit"),
            "{}",
            r[0].1
        );
    }
}
