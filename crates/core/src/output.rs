//! Renderings of a scan report: a table for people, JSON, NDJSON, ASFF for Security Hub,
//! SARIF 2.1.0 for code-scanning tools, and a Markdown summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::arn::Arn;
use crate::finding::{Finding, Severity, Status};
use crate::report::ScanReport;

/// The version written into SARIF and ASFF.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The findings people act on: everything but PASS and NOT_APPLICABLE.
pub fn actionable(f: &Finding) -> bool {
    !matches!(f.status, Status::Pass | Status::NotApplicable)
}

fn trunc(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// A plain-text table of the actionable findings, most severe first.
pub fn table(report: &ScanReport, width: usize) -> String {
    let rows: Vec<&Finding> = report.findings.iter().filter(|f| actionable(f)).collect();
    let mut out = String::new();
    if rows.is_empty() {
        out.push_str("no findings to act on\n");
    } else {
        let w_check = rows
            .iter()
            .map(|f| f.check_id.chars().count())
            .max()
            .unwrap_or(5)
            .clamp(5, 40);
        let w_res = rows
            .iter()
            .map(|f| f.resource.name.chars().count())
            .max()
            .unwrap_or(8)
            .clamp(8, 40);
        let fixed = 9 + 11 + w_check + w_res + 8;
        let w_msg = width.saturating_sub(fixed).max(30);
        let w_res = if width > 10_000 {
            rows.iter()
                .map(|f| f.resource.name.chars().count())
                .max()
                .unwrap_or(8)
        } else {
            w_res
        };
        let _ = writeln!(
            out,
            "{:<9} {:<11} {:<w_check$} {:<w_res$} MESSAGE",
            "SEVERITY", "STATUS", "CHECK", "RESOURCE"
        );
        for f in rows {
            let _ = writeln!(
                out,
                "{:<9} {:<11} {:<w_check$} {:<w_res$} {}",
                f.severity.as_str(),
                f.status.as_str(),
                trunc(&f.check_id, w_check),
                trunc(&f.resource.name, w_res),
                trunc(&with_source(f), w_msg)
            );
        }
    }
    let _ = writeln!(out, "\n{}", summary_line(report));
    out
}

/// The message, and where in the source the deciding attribute is (Terraform plans).
pub fn with_source(f: &Finding) -> String {
    match f.evidence.iter().find_map(|e| e.source.as_deref()) {
        Some(src)
            if matches!(
                f.status,
                Status::Fail | Status::Unknown | Status::Suppressed
            ) =>
        {
            format!("{} [{src}]", f.message)
        }
        _ => f.message.clone(),
    }
}

/// One line of counts.
pub fn summary_line(report: &ScanReport) -> String {
    let s = &report.summary;
    let n = |st: Status| s.by_status.get(&st).copied().unwrap_or(0);
    format!(
        "{} resources, {} checks: {} failed, {} passed, {} unknown, {} suppressed, {} errors; {} input errors",
        report.coverage.resources,
        report.coverage.checks.len(),
        n(Status::Fail),
        n(Status::Pass),
        n(Status::Unknown),
        n(Status::Suppressed),
        n(Status::Error),
        report.errors.iter().filter(|e| e.kind != "check").count()
    )
}

/// The whole report as pretty JSON.
pub fn json(report: &ScanReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// One finding per line.
pub fn ndjson_line(f: &Finding) -> String {
    let mut out = Vec::with_capacity(1024);
    finding_json(f, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Writes `s` as a JSON string. Most strings need no escape: that is checked in one pass the
/// compiler vectorises, and the text copied as it is; the others are written by serde_json.
fn json_str(out: &mut Vec<u8>, s: &str) {
    let plain = s
        .bytes()
        .fold(true, |ok, b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'));
    if plain {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// `"key":` after the first field. Keys are this module's own names (letters and `_`), which
/// JSON writes as they are: they are not scanned for characters to escape.
fn json_key(out: &mut Vec<u8>, key: &'static str) {
    debug_assert!(key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// `,"key":"value"`.
fn json_field(out: &mut Vec<u8>, key: &'static str, value: &str) {
    json_key(out, key);
    json_str(out, value);
}

fn json_strs(out: &mut Vec<u8>, key: &'static str, v: &[String]) {
    if v.is_empty() {
        return;
    }
    json_key(out, key);
    out.push(b'[');
    for (i, s) in v.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(out, s);
    }
    out.push(b']');
}

/// Anything else, as serde_json writes it.
fn json_value<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    let _ = serde_json::to_writer(&mut *out, v);
}

/// A time as serde_json writes it. A scan's findings carry the same few times (the scan's own,
/// mostly): each thread keeps the last one written, so chrono formats it once, not twice per
/// finding (formatting was a third of the cost of writing a finding).
fn json_time(out: &mut Vec<u8>, t: &chrono::DateTime<chrono::Utc>) {
    thread_local! {
        static LAST: std::cell::RefCell<(Option<chrono::DateTime<chrono::Utc>>, Vec<u8>)> =
            const { std::cell::RefCell::new((None, Vec::new())) };
    }
    LAST.with_borrow_mut(|(last, text)| {
        if *last != Some(*t) {
            text.clear();
            json_value(text, t);
            *last = Some(*t);
        }
        out.extend_from_slice(text);
    });
}

/// A finding as JSON, byte for byte what `serde_json::to_writer` writes for it (see the test
/// `the_finding_writer_writes_what_serde_writes`), without serde_json's byte-by-byte escaping
/// of strings that need none: rendering findings was a tenth of a large scan's instructions.
pub fn finding_json(f: &Finding, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"id\":");
    json_str(out, &f.id);
    json_field(out, "check_id", &f.check_id);
    json_field(out, "title", &f.title);
    json_key(out, "kind");
    json_value(out, &f.kind);
    json_field(out, "status", f.status.as_str());
    json_field(out, "severity", f.severity.as_str());
    let r = &f.resource;
    out.extend_from_slice(b",\"resource\":{\"arn\":");
    json_str(out, &r.arn);
    json_field(out, "resource_type", &r.resource_type);
    json_field(out, "account_id", &r.account_id);
    json_field(out, "region", &r.region);
    json_field(out, "name", &r.name);
    out.extend_from_slice(b",\"tags\":{");
    for (i, (k, v)) in r.tags.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(out, k);
        out.push(b':');
        json_str(out, v);
    }
    out.extend_from_slice(b"}}");
    json_field(out, "message", &f.message);
    if !f.evidence.is_empty() {
        out.extend_from_slice(b",\"evidence\":[");
        for (i, e) in f.evidence.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"path\":");
            json_str(out, &e.path);
            json_key(out, "value");
            json_value(out, &e.value);
            if let Some(src) = &e.source {
                json_field(out, "source", src);
            }
            out.push(b'}');
        }
        out.push(b']');
    }
    let refs = &f.references;
    out.extend_from_slice(b",\"references\":{");
    let start = out.len();
    if let Some(s) = &refs.securityhub {
        json_field(out, "securityhub", s);
    }
    json_strs(out, "cis", &refs.cis);
    json_strs(out, "cce", &refs.cce);
    if let Some(s) = &refs.config_rule {
        json_field(out, "config_rule", s);
    }
    json_strs(out, "frameworks", &refs.frameworks);
    json_strs(out, "urls", &refs.urls);
    // The first member written has no comma before it.
    if out.len() > start {
        out.remove(start);
    }
    out.push(b'}');
    if let Some(s) = &f.remediation {
        json_field(out, "remediation", s);
    }
    if let Some(s) = &f.suppression {
        json_key(out, "suppression");
        json_value(out, s);
    }
    json_key(out, "first_seen");
    json_time(out, &f.first_seen);
    json_key(out, "last_seen");
    json_time(out, &f.last_seen);
    if let Some(v) = &f.vulnerability {
        json_key(out, "vulnerability");
        json_value(out, v);
    }
    out.push(b'}');
}

/// The NDJSON lines of a batch's findings that `keep` selects, in order, rendered on every core
/// (a large scan writes tens of thousands of lines: one thread would hold the scan back).
pub fn ndjson_batch(
    results: &[crate::engine::ResourceResult],
    keep: &(dyn Fn(&Finding) -> bool + Sync),
) -> Vec<u8> {
    use rayon::prelude::*;
    let parts: Vec<Vec<u8>> = results
        .par_chunks(256)
        .map(|chunk| {
            let mut out = Vec::new();
            for f in chunk.iter().flat_map(|r| &r.findings).filter(|f| keep(f)) {
                finding_json(f, &mut out);
                out.push(b'\n');
            }
            out
        })
        .collect();
    parts.concat()
}

/// Options for ASFF.
#[derive(Debug, Clone, Default)]
pub struct AsffOptions {
    /// The account that imports (for `ProductArn`); default: each finding's own account.
    pub product_account: Option<String>,
    /// The region that imports (for `ProductArn` and global resources); default `us-east-1`.
    pub product_region: Option<String>,
}

/// The ASFF resource type for a CloudFormation type.
pub fn asff_resource_type(cfn: &str) -> &'static str {
    match cfn {
        "AWS::S3::Bucket" => "AwsS3Bucket",
        "AWS::EC2::Instance" => "AwsEc2Instance",
        "AWS::EC2::SecurityGroup" => "AwsEc2SecurityGroup",
        "AWS::EC2::Volume" => "AwsEc2Volume",
        "AWS::EC2::Subnet" => "AwsEc2Subnet",
        "AWS::EC2::VPC" => "AwsEc2Vpc",
        "AWS::EC2::NetworkInterface" => "AwsEc2NetworkInterface",
        "AWS::RDS::DBInstance" => "AwsRdsDbInstance",
        "AWS::RDS::DBCluster" => "AwsRdsDbCluster",
        "AWS::ElasticLoadBalancingV2::LoadBalancer" => "AwsElbv2LoadBalancer",
        "AWS::ElasticLoadBalancing::LoadBalancer" => "AwsElbLoadBalancer",
        "AWS::ECR::Repository" => "AwsEcrRepository",
        "AWS::ECS::Cluster" => "AwsEcsCluster",
        "AWS::ECS::Service" => "AwsEcsService",
        "AWS::ECS::TaskDefinition" => "AwsEcsTaskDefinition",
        "AWS::IAM::User" => "AwsIamUser",
        "AWS::IAM::Policy" => "AwsIamPolicy",
        "AWS::IAM::Role" => "AwsIamRole",
        "AWS::Lambda::Function" => "AwsLambdaFunction",
        "AWS::CloudTrail::Trail" => "AwsCloudTrailTrail",
        "AWS::KMS::Key" => "AwsKmsKey",
        "AWS::DynamoDB::Table" => "AwsDynamoDbTable",
        "AWS::Route53::HostedZone" => "AwsRoute53HostedZone",
        _ => "Other",
    }
}

fn iso(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One finding in the AWS Security Finding Format (`SchemaVersion` 2018-10-08), or why it
/// cannot be one. NOT_APPLICABLE findings are not exported.
pub fn asff_finding(f: &Finding, opts: &AsffOptions) -> Result<Value, String> {
    if f.status == Status::NotApplicable {
        return Err(format!(
            "finding `{}` is NOT_APPLICABLE and is not exported",
            f.id
        ));
    }
    let account = if f.resource.account_id.len() == 12 {
        f.resource.account_id.clone()
    } else if let Some(a) = &opts.product_account {
        a.clone()
    } else {
        return Err(format!(
            "finding `{}` on `{}` has no account id",
            f.id, f.resource.arn
        ));
    };
    let product_account = opts
        .product_account
        .clone()
        .unwrap_or_else(|| account.clone());
    let product_region = opts
        .product_region
        .clone()
        .unwrap_or_else(|| "us-east-1".into());
    let partition = Arn::parse(&f.resource.arn)
        .map(|a| a.partition().to_string())
        .unwrap_or_else(|_| "aws".into());
    let region = if f.resource.region.is_empty() || f.resource.region == "global" {
        product_region.clone()
    } else {
        f.resource.region.clone()
    };
    let compliance = match f.status {
        Status::Pass => "PASSED",
        Status::Fail | Status::Suppressed => "FAILED",
        _ => "NOT_AVAILABLE",
    };
    let workflow = match f.status {
        Status::Suppressed => "SUPPRESSED",
        Status::Pass => "RESOLVED",
        _ => "NEW",
    };
    let mut types =
        vec!["Software and Configuration Checks/AWS Security Best Practices".to_string()];
    if !f.references.cis.is_empty() {
        types.push("Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark".into());
    }
    let mut related: Vec<String> = f.references.cis.clone();
    related.extend(f.references.cce.iter().cloned());
    let mut compliance_obj = json!({"Status": compliance});
    if !related.is_empty() {
        compliance_obj["RelatedRequirements"] = json!(related);
    }
    if let Some(sh) = &f.references.securityhub {
        compliance_obj["SecurityControlId"] = json!(sh);
    }
    if matches!(f.status, Status::Unknown | Status::Error) {
        compliance_obj["StatusReasons"] = json!([{"ReasonCode": if f.status == Status::Unknown { "CONFIG_ACCESS_DENIED" } else { "INTERNAL_SERVICE_ERROR" }, "Description": trunc(&f.message, 2048)}]);
    }
    let mut resource = json!({
        "Type": asff_resource_type(&f.resource.resource_type),
        "Id": f.resource.arn,
        "Partition": partition,
        "Region": region,
    });
    if !f.resource.tags.is_empty() {
        let tags: BTreeMap<&String, &String> = f
            .resource
            .tags
            .iter()
            .filter(|(k, _)| !k.starts_with("aws:"))
            .take(50)
            .collect();
        resource["Tags"] = json!(tags);
    }
    let mut product_fields = serde_json::Map::new();
    product_fields.insert("assetwarden/CheckId".into(), json!(f.check_id));
    product_fields.insert("assetwarden/Status".into(), json!(f.status.as_str()));
    product_fields.insert(
        "assetwarden/ResourceType".into(),
        json!(f.resource.resource_type),
    );
    for (i, e) in f.evidence.iter().take(10).enumerate() {
        product_fields.insert(format!("assetwarden/Evidence/{i}/Path"), json!(e.path));
        product_fields.insert(
            format!("assetwarden/Evidence/{i}/Value"),
            json!(trunc(&e.value.to_string(), 1024)),
        );
    }
    if let Some(s) = &f.suppression {
        product_fields.insert("assetwarden/Exception".into(), json!(s.exception_id));
        product_fields.insert("assetwarden/ExceptionExpires".into(), json!(s.expires));
    }
    let mut out = json!({
        "SchemaVersion": "2018-10-08",
        "Id": format!("assetwarden/{}", f.id),
        "ProductArn": format!("arn:{partition}:securityhub:{product_region}:{product_account}:product/{product_account}/default"),
        "ProductName": "Assetwarden",
        "CompanyName": "Assetwarden",
        "GeneratorId": format!("assetwarden/{}", f.check_id),
        "AwsAccountId": account,
        "Types": types,
        "CreatedAt": iso(&f.first_seen),
        "FirstObservedAt": iso(&f.first_seen),
        "LastObservedAt": iso(&f.last_seen),
        "UpdatedAt": iso(&f.last_seen),
        "Severity": {"Label": f.severity.asff_label(), "Original": f.severity.as_str()},
        "Title": trunc(&f.title, 256),
        "Description": trunc(&f.message, 1024),
        "Resources": [resource],
        "Compliance": compliance_obj,
        "Workflow": {"Status": workflow},
        "RecordState": "ACTIVE",
        "ProductFields": product_fields,
    });
    if let Some(v) = &f.vulnerability {
        if let Some(t) = out["Types"].as_array_mut() {
            t.push(json!(
                "Software and Configuration Checks/Vulnerabilities/CVE"
            ));
        }
        let mut vuln = json!({
            "Id": v.id,
            "VulnerablePackages": [{
                "Name": v.package,
                "Version": v.installed_version,
                "FixedInVersion": v.fixed_version,
                "PackageManager": v.package_manager,
            }],
            "FixAvailable": if v.fixed_version.is_some() { "YES" } else { "NO" },
        });
        if let Some(score) = v.cvss_score {
            vuln["Cvss"] = json!([{"Version": v.cvss_version, "BaseScore": score, "BaseVector": v.cvss_vector}]);
        }
        if let Some(u) = &v.source_url {
            vuln["ReferenceUrls"] = json!([u]);
        }
        out["Vulnerabilities"] = json!([vuln]);
    }
    if let Some(r) = &f.remediation {
        let mut rec = json!({"Text": trunc(r, 512)});
        if let Some(u) = f.references.urls.first() {
            rec["Url"] = json!(u);
        }
        out["Remediation"] = json!({"Recommendation": rec});
    }
    Ok(out)
}

/// The report's findings as an ASFF array, and the findings that could not be converted.
pub fn asff(report: &ScanReport, opts: &AsffOptions) -> (Value, Vec<String>) {
    let mut items = Vec::new();
    let mut problems = Vec::new();
    for f in &report.findings {
        if f.status == Status::NotApplicable {
            continue;
        }
        match asff_finding(f, opts) {
            Ok(v) => items.push(v),
            Err(e) => problems.push(e),
        }
    }
    (Value::Array(items), problems)
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Informational => "note",
    }
}

fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Informational => "0.0",
    }
}

/// The report as a SARIF 2.1.0 log.
pub fn sarif(report: &ScanReport) -> Value {
    let mut rule_index: BTreeMap<String, usize> = BTreeMap::new();
    let mut rules = Vec::new();
    for f in &report.findings {
        if rule_index.contains_key(&f.check_id) {
            continue;
        }
        rule_index.insert(f.check_id.clone(), rules.len());
        let mut tags: Vec<String> = vec!["security".into()];
        tags.extend(f.references.frameworks.iter().cloned());
        if let Some(sh) = &f.references.securityhub {
            tags.push(format!("securityhub:{sh}"));
        }
        tags.extend(f.references.cis.iter().cloned());
        tags.extend(f.references.cce.iter().cloned());
        let mut rule = json!({
            "id": f.check_id,
            "name": f.check_id.replace(['.', '-'], "_"),
            "shortDescription": {"text": f.title},
            "fullDescription": {"text": f.title},
            "defaultConfiguration": {"level": sarif_level(f.severity)},
            "properties": {"tags": tags, "security-severity": security_severity(f.severity)},
        });
        if let Some(r) = &f.remediation {
            rule["help"] = json!({"text": r});
        }
        if let Some(u) = f.references.urls.first() {
            rule["helpUri"] = json!(u);
        }
        rules.push(rule);
    }
    let results: Vec<Value> = report
        .findings
        .iter()
        .filter(|f| f.status != Status::NotApplicable)
        .map(|f| {
            let (kind, level) = match f.status {
                Status::Pass => ("pass", "none"),
                Status::Fail | Status::Suppressed => ("fail", sarif_level(f.severity)),
                _ => ("review", "note"),
            };
            let mut r = json!({
                "ruleId": f.check_id,
                "ruleIndex": rule_index.get(&f.check_id).copied().unwrap_or(0),
                "kind": kind,
                "level": level,
                "message": {"text": format!("{}: {}", f.resource.name, with_source(f))},
                "locations": [{
                    "logicalLocations": [{
                        "fullyQualifiedName": f.resource.arn,
                        "name": f.resource.name,
                        "kind": "resource",
                    }]
                }],
                "partialFingerprints": {"assetwardenFindingId/v1": f.id},
                "properties": {
                    "status": f.status.as_str(),
                    "severity": f.severity.as_str(),
                    "resourceType": f.resource.resource_type,
                    "accountId": f.resource.account_id,
                    "region": f.resource.region,
                    "evidence": f.evidence,
                },
            });
            if let Some(s) = &f.suppression {
                r["suppressions"] = json!([{
                    "kind": "external",
                    "status": "accepted",
                    "justification": format!("{} (owner {}, expires {}, exception `{}`)", s.reason, s.owner, s.expires, s.exception_id),
                }]);
            }
            r
        })
        .collect();
    let notifications: Vec<Value> = report
        .errors
        .iter()
        .filter(|e| e.kind != "check")
        .map(|e| json!({"level": "error", "message": {"text": format!("{}: {}", e.location, e.message)}}))
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "assetwarden",
                "version": VERSION,
                "semanticVersion": VERSION,
                "informationUri": "https://github.com/assetwarden/assetwarden",
                "rules": rules,
            }},
            "invocations": [{
                "executionSuccessful": true,
                "startTimeUtc": iso(&report.started_at),
                "endTimeUtc": iso(&report.finished_at),
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
        }]
    })
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('\n', " ")
        .replace('<', "&lt;")
}

/// A Markdown summary: counts, the most frequent failures, coverage, errors, tags to apply.
pub fn markdown(report: &ScanReport) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Assetwarden scan: {}\n", md_escape(&report.policy));
    let _ = writeln!(
        o,
        "{} (from {} to {})\n",
        summary_line(report),
        iso(&report.started_at),
        iso(&report.finished_at)
    );
    let _ = writeln!(
        o,
        "## Failures by severity\n\n| severity | failures |\n|---|---:|"
    );
    for s in Severity::ALL.iter().rev() {
        let _ = writeln!(
            o,
            "| {} | {} |",
            s,
            report
                .summary
                .failures_by_severity
                .get(s)
                .copied()
                .unwrap_or(0)
        );
    }
    let mut by_check: BTreeMap<(&str, Severity, &str), u64> = BTreeMap::new();
    for f in report.findings.iter().filter(|f| f.status == Status::Fail) {
        *by_check
            .entry((f.check_id.as_str(), f.severity, f.title.as_str()))
            .or_default() += 1;
    }
    let mut top: Vec<_> = by_check.into_iter().collect();
    top.sort_by(|a, b| b.0.1.cmp(&a.0.1).then(b.1.cmp(&a.1)));
    let _ = writeln!(
        o,
        "\n## Failing checks\n\n| severity | check | title | resources |\n|---|---|---|---:|"
    );
    for ((id, sev, title), n) in top.iter().take(40) {
        let _ = writeln!(o, "| {sev} | `{id}` | {} | {n} |", md_escape(title));
    }
    let _ = writeln!(
        o,
        "\n## Coverage\n\n| resource type | resources |\n|---|---:|"
    );
    for (t, n) in &report.coverage.resources_by_type {
        let _ = writeln!(o, "| `{t}` | {n} |");
    }
    if !report.coverage.unknown_reasons.is_empty() {
        let _ = writeln!(
            o,
            "\n### Not seen (UNKNOWN)\n\n| reason | results |\n|---|---:|"
        );
        for (r, n) in &report.coverage.unknown_reasons {
            let _ = writeln!(o, "| {} | {n} |", md_escape(r));
        }
    }
    if !report.classification.is_empty() {
        let _ = writeln!(o, "\n## Classification (after the tag plan)\n");
        for (k, vals) in &report.classification {
            let parts: Vec<String> = vals
                .iter()
                .map(|(v, n)| format!("{} {n}", md_escape(v)))
                .collect();
            let _ = writeln!(o, "- **{}**: {}", md_escape(k), parts.join(", "));
        }
        let _ = writeln!(
            o,
            "\n{} resources have tags to add or fix.",
            report.summary.resources_to_tag
        );
    }
    if !report.expired_exceptions.is_empty() {
        let _ = writeln!(o, "\n## Expired exceptions\n");
        for e in &report.expired_exceptions {
            let _ = writeln!(
                o,
                "- `{}` (owner {}) expired on {}; {} failure(s) no longer suppressed",
                e.id,
                md_escape(&e.owner),
                e.expires,
                e.would_suppress
            );
        }
    }
    if !report.errors.is_empty() {
        let _ = writeln!(o, "\n## Errors\n");
        for e in report.errors.iter().take(100) {
            let _ = writeln!(
                o,
                "- {} `{}`: {}",
                e.kind,
                md_escape(&e.location),
                md_escape(&e.message)
            );
        }
        if report.errors.len() > 100 {
            let _ = writeln!(o, "- … and {} more", report.errors.len() - 100);
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A finding with every optional part set, its strings given.
    fn full(text: &str, key: &str) -> Finding {
        serde_json::from_value(json!({
            "id": "0123", "check_id": "aws.x", "title": text, "kind": "tag-policy",
            "status": "NOT_APPLICABLE", "severity": "critical",
            "resource": {"arn": text, "resource_type": "AWS::S3::Bucket", "account_id": "1",
                "region": "eu-west-1", "name": "", "tags": {key: text, "B": "", "a\"b": "c\\d"}},
            "message": text,
            "evidence": [{"path": "configuration.x", "value": {"k": [1, 2.5, null, true, text]}},
                {"path": text, "value": null, "source": text}],
            "references": {"securityhub": "S3.1", "cis": ["2.1.1", text], "cce": [text],
                "config_rule": "r", "frameworks": ["cis"], "urls": []},
            "remediation": text,
            "suppression": {"exception_id": "e", "reason": text, "owner": "o", "expires": "2027-01-01"},
            "first_seen": "2026-11-01T00:00:00Z", "last_seen": "2026-11-28T12:34:56.789Z",
            "vulnerability": {"id": "CVE-1", "cvss_score": 9.8, "package": text,
                "installed_version": "1.0"},
        }))
        .unwrap()
    }

    #[test]
    fn the_finding_writer_writes_what_serde_writes() {
        let texts = [
            "plain",
            "",
            "quote \" back \\ slash",
            "tab\there\nnew\u{1}\u{1f}\u{7f}",
            "ünïcödé ✓ 𝄞",
            "</script>",
            "\u{2028}",
        ];
        for t in texts {
            let f = full(t, t);
            assert_eq!(ndjson_line(&f), serde_json::to_string(&f).unwrap(), "{t:?}");
            // And with every optional part absent.
            let mut g = f.clone();
            g.evidence.clear();
            g.remediation = None;
            g.suppression = None;
            g.vulnerability = None;
            g.references = std::sync::Arc::new(Default::default());
            let mut r = (*g.resource).clone();
            r.tags.clear();
            g.resource = std::sync::Arc::new(r);
            assert_eq!(ndjson_line(&g), serde_json::to_string(&g).unwrap(), "{t:?}");
            let mut refs = crate::finding::References::default();
            refs.urls.push(t.into());
            g.references = std::sync::Arc::new(refs);
            assert_eq!(ndjson_line(&g), serde_json::to_string(&g).unwrap(), "{t:?}");
        }
    }

    proptest! {
        #[test]
        fn any_text_is_written_as_serde_writes_it(t in "\\PC*|[\\x00-\\x7f]{0,40}", k in ".{0,8}") {
            let f = full(&t, &k);
            prop_assert_eq!(ndjson_line(&f), serde_json::to_string(&f).unwrap());
        }
    }
}
