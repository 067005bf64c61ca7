//! Known vulnerabilities (CVE findings from Amazon Inspector v2) and budget overruns, as
//! findings on the assets they concern, beside the configuration checks' findings.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::finding::CheckKind;
use crate::finding::{Evidence, Finding, References, ResourceRef, Severity, Status, finding_id};

/// A vulnerability in one installed package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vulnerability {
    /// The CVE (or vendor) id, e.g. `CVE-2022-40982`.
    pub id: String,
    /// The CVSS base score used (the highest of the versions given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_score: Option<f64>,
    /// Its CVSS version, e.g. `3.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_version: Option<String>,
    /// Its vector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_vector: Option<String>,
    /// The package.
    pub package: String,
    /// The installed version.
    pub installed_version: String,
    /// The version that fixes it, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    /// The package manager (`OS`, `PIP`, `NPM`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_manager: Option<String>,
    /// The advisory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    /// The scanner's own finding (e.g. the Inspector finding ARN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanner_finding: Option<String>,
}

/// The check id of CVE findings.
pub const CVE_CHECK: &str = "inspector.cve";
/// The check id of budget findings.
pub const BUDGET_CHECK: &str = "aws.budgets.threshold";

fn severity_of(label: &str) -> Severity {
    match label.to_ascii_uppercase().as_str() {
        "CRITICAL" => Severity::Critical,
        "HIGH" => Severity::High,
        "MEDIUM" => Severity::Medium,
        "LOW" => Severity::Low,
        _ => Severity::Informational,
    }
}

fn st<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut c = v;
    for p in path {
        c = c.get(*p)?;
    }
    c.as_str().filter(|s| !s.is_empty())
}

/// An asset a vulnerability is attached to.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Its ARN.
    pub arn: String,
    /// Its CloudFormation type.
    pub resource_type: String,
    /// Its account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// Why it is affected (for the message), e.g. `runs image sha256:… of repository web`.
    pub via: Option<String>,
}

/// Where an ECR image runs: ECS services by the image reference their task definition names
/// (`REGISTRY.dkr.ecr.REGION.amazonaws.com/REPO:TAG` or `…/REPO@sha256:…`).
pub type ImageUsers = HashMap<String, Vec<String>>;

/// The assets an Inspector finding concerns: an ECR image → its repository and the ECS services
/// whose task definitions run it; an EC2 instance; a Lambda function.
pub fn targets(finding: &Value, users: &ImageUsers) -> Vec<Target> {
    let account = st(finding, &["awsAccountId"]).unwrap_or("").to_string();
    let mut out = Vec::new();
    for r in finding
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let region = st(r, &["region"])
            .map(str::to_string)
            .or_else(|| {
                st(finding, &["findingArn"]).and_then(|a| a.split(':').nth(3).map(str::to_string))
            })
            .unwrap_or_default();
        let partition = st(finding, &["findingArn"])
            .and_then(|a| a.split(':').nth(1))
            .unwrap_or("aws");
        let id = st(r, &["id"]).unwrap_or("");
        match st(r, &["type"]).unwrap_or("") {
            "AWS_ECR_CONTAINER_IMAGE" => {
                let img = r.pointer("/details/awsEcrContainerImage");
                let repo = img.and_then(|i| st(i, &["repositoryName"]));
                let registry = img.and_then(|i| st(i, &["registry"])).unwrap_or(&account);
                let Some(repo) = repo else { continue };
                let digest = img.and_then(|i| st(i, &["imageHash"])).unwrap_or("");
                let tags: Vec<&str> = img
                    .and_then(|i| i.get("imageTags"))
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let via = format!(
                    "image {}{}",
                    if digest.is_empty() { "?" } else { digest },
                    if tags.is_empty() {
                        String::new()
                    } else {
                        format!(" (tags {})", tags.join(", "))
                    }
                );
                out.push(Target {
                    arn: format!("arn:{partition}:ecr:{region}:{registry}:repository/{repo}"),
                    resource_type: "AWS::ECR::Repository".into(),
                    account: registry.to_string(),
                    region: region.clone(),
                    via: Some(via.clone()),
                });
                let uri = format!("{registry}.dkr.ecr.{region}.amazonaws.com/{repo}");
                let mut refs = vec![format!("{uri}@{digest}")];
                refs.extend(tags.iter().map(|t| format!("{uri}:{t}")));
                if tags.contains(&"latest") {
                    refs.push(uri.clone());
                }
                let mut seen = std::collections::BTreeSet::new();
                for rf in refs {
                    for svc in users.get(&rf).into_iter().flatten() {
                        if seen.insert(svc.clone()) {
                            out.push(Target {
                                arn: svc.clone(),
                                resource_type: "AWS::ECS::Service".into(),
                                account: svc.split(':').nth(4).unwrap_or("").to_string(),
                                region: svc.split(':').nth(3).unwrap_or("").to_string(),
                                via: Some(format!("runs {via} of repository {repo}")),
                            });
                        }
                    }
                }
            }
            "AWS_EC2_INSTANCE" => out.push(Target {
                arn: if id.starts_with("arn:") {
                    id.to_string()
                } else {
                    format!("arn:{partition}:ec2:{region}:{account}:instance/{id}")
                },
                resource_type: "AWS::EC2::Instance".into(),
                account: account.clone(),
                region,
                via: None,
            }),
            "AWS_LAMBDA_FUNCTION" => out.push(Target {
                arn: id.to_string(),
                resource_type: "AWS::Lambda::Function".into(),
                account: account.clone(),
                region,
                via: None,
            }),
            _ => {}
        }
    }
    out
}

/// Findings from one Inspector v2 finding (as `ListFindings` returns it, camelCase): one per
/// vulnerable package and affected asset. Only `PACKAGE_VULNERABILITY` findings that are
/// `ACTIVE` give FAIL; closed and suppressed ones give PASS (so a fixed CVE resolves).
pub fn from_inspector(
    finding: &Value,
    users: &ImageUsers,
    now: DateTime<Utc>,
) -> Result<Vec<Finding>, String> {
    let arn = st(finding, &["findingArn"]).unwrap_or("(no findingArn)");
    if st(finding, &["type"]).is_some_and(|t| t != "PACKAGE_VULNERABILITY") {
        return Ok(Vec::new());
    }
    let details = finding
        .get("packageVulnerabilityDetails")
        .ok_or_else(|| format!("{arn}: no `packageVulnerabilityDetails`"))?;
    let cve = st(details, &["vulnerabilityId"])
        .ok_or_else(|| format!("{arn}: no `vulnerabilityId`"))?
        .to_string();
    // The highest CVSS version given, and its score.
    let mut best: Option<(String, f64, Option<String>)> = None;
    for c in details
        .get("cvss")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(v), Some(s)) = (
            st(c, &["version"]),
            c.get("baseScore").and_then(Value::as_f64),
        ) else {
            continue;
        };
        let better = match &best {
            None => true,
            Some((bv, _, _)) => v > bv.as_str(),
        };
        if better {
            best = Some((
                v.to_string(),
                s,
                st(c, &["scoringVector"]).map(str::to_string),
            ));
        }
    }
    let severity = severity_of(st(finding, &["severity"]).unwrap_or("INFORMATIONAL"));
    let status = match st(finding, &["status"]).unwrap_or("ACTIVE") {
        "ACTIVE" => Status::Fail,
        _ => Status::Pass,
    };
    let first = st(finding, &["firstObservedAt"])
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now);
    let source_url = st(details, &["sourceUrl"]).map(str::to_string);
    let mut urls: Vec<String> = source_url.iter().cloned().collect();
    urls.extend(
        details
            .get("referenceUrls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .take(5)
            .map(str::to_string),
    );
    let packages: Vec<&Value> = details
        .get("vulnerablePackages")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    if packages.is_empty() {
        return Err(format!("{arn}: `{cve}` names no vulnerable package"));
    }
    let targets = targets(finding, users);
    if targets.is_empty() {
        return Err(format!(
            "{arn}: `{cve}` concerns no resource this tool knows"
        ));
    }
    let mut out = Vec::new();
    for (pi, p) in packages.iter().enumerate() {
        let package = st(p, &["name"]).unwrap_or("?").to_string();
        let installed = [st(p, &["epoch"]).filter(|e| *e != "0"), st(p, &["version"])]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(":");
        let installed = match st(p, &["release"]) {
            Some(r) => format!("{installed}-{r}"),
            None => installed,
        };
        let fixed = st(p, &["fixedInVersion"])
            .filter(|f| *f != "NotAvailable")
            .map(str::to_string);
        let vuln = Vulnerability {
            id: cve.clone(),
            cvss_score: best.as_ref().map(|b| b.1),
            cvss_version: best.as_ref().map(|b| b.0.clone()),
            cvss_vector: best.as_ref().and_then(|b| b.2.clone()),
            package: package.clone(),
            installed_version: installed.clone(),
            fixed_version: fixed.clone(),
            package_manager: st(p, &["packageManager"]).map(str::to_string),
            source_url: source_url.clone(),
            scanner_finding: Some(arn.to_string()),
        };
        for t in &targets {
            let check_key = format!("{CVE_CHECK}:{cve}:{package}");
            let score = vuln
                .cvss_score
                .map(|s| format!(" (CVSS {} {s})", vuln.cvss_version.as_deref().unwrap_or("")))
                .unwrap_or_default();
            let message = format!(
                "{cve}{score} in {package} {installed}{}{}",
                match &fixed {
                    Some(f) => format!(", fixed in {f}"),
                    None => ", no fix available yet".to_string(),
                },
                t.via
                    .as_deref()
                    .map(|v| format!("; {v}"))
                    .unwrap_or_default()
            );
            let name = t
                .arn
                .rsplit(['/', ':'])
                .next()
                .unwrap_or(&t.arn)
                .to_string();
            out.push(Finding {
                id: finding_id(&check_key, &t.arn),
                check_id: CVE_CHECK.to_string(),
                title: format!("{cve} in {package}"),
                kind: CheckKind::External,
                status,
                severity,
                resource: Arc::new(ResourceRef {
                    arn: t.arn.clone(),
                    resource_type: t.resource_type.clone(),
                    account_id: t.account.clone(),
                    region: t.region.clone(),
                    name,
                    tags: Default::default(),
                }),
                message,
                evidence: vec![
                    Evidence {
                        path: format!(
                            "packageVulnerabilityDetails.vulnerablePackages[{pi}].version"
                        ),
                        value: json!(installed),
                        source: None,
                    },
                    Evidence {
                        path: format!(
                            "packageVulnerabilityDetails.vulnerablePackages[{pi}].fixedInVersion"
                        ),
                        value: json!(fixed),
                        source: None,
                    },
                ],
                references: std::sync::Arc::new(References {
                    urls: urls.clone(),
                    frameworks: vec!["inspector".into()],
                    ..Default::default()
                }),
                remediation: Some(match &fixed {
                    Some(f) => format!("Update {package} to {f} or later and redeploy."),
                    None => format!(
                        "No fixed version of {package} yet: mitigate, or replace the package."
                    ),
                }),
                suppression: None,
                first_seen: first,
                last_seen: now,
                vulnerability: Some(Box::new(vuln.clone())),
            });
        }
    }
    Ok(out)
}

/// When budgets raise findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetsDoc {
    /// Percentages of the budgeted amount that raise a finding (default 80 and 100).
    #[serde(default = "default_thresholds")]
    pub thresholds: Vec<f64>,
    /// Whether the forecast counts too (default yes): a forecast over a threshold raises it
    /// before the money is spent.
    #[serde(default = "yes")]
    pub forecast: bool,
}

fn default_thresholds() -> Vec<f64> {
    vec![80.0, 100.0]
}
fn yes() -> bool {
    true
}

impl Default for BudgetsDoc {
    fn default() -> Self {
        BudgetsDoc {
            thresholds: default_thresholds(),
            forecast: true,
        }
    }
}

/// One budget's figures (`DescribeBudgets`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetFigures {
    /// The budget's name.
    pub name: String,
    /// The account.
    pub account: String,
    /// The limit.
    pub limit: f64,
    /// The unit (`USD`).
    pub unit: String,
    /// Spent so far this period.
    pub actual: Option<f64>,
    /// Forecast for the period.
    pub forecast: Option<f64>,
}

/// A budget's finding: FAIL at the highest threshold crossed by actual (or forecast) spend,
/// PASS below every threshold, UNKNOWN when AWS gave no spend figures.
pub fn budget_finding(b: &BudgetFigures, doc: &BudgetsDoc, now: DateTime<Utc>) -> Finding {
    let arn = format!("arn:aws:budgets::{}:budget/{}", b.account, b.name);
    let pct = |x: f64| {
        if b.limit > 0.0 {
            x / b.limit * 100.0
        } else {
            0.0
        }
    };
    let mut thresholds = doc.thresholds.clone();
    thresholds.sort_by(|a, b| a.total_cmp(b));
    let actual = b.actual.map(pct);
    let forecast = b.forecast.map(pct).filter(|_| doc.forecast);
    let crossed =
        |p: Option<f64>| p.and_then(|p| thresholds.iter().rev().find(|t| p >= **t).copied());
    let (status, severity, message) = match (crossed(actual), crossed(forecast)) {
        _ if actual.is_none() && forecast.is_none() => (
            Status::Unknown,
            Severity::Medium,
            format!("budget `{}` has no spend figures yet", b.name),
        ),
        (Some(t), _) => (
            Status::Fail,
            if t >= 100.0 {
                Severity::High
            } else {
                Severity::Medium
            },
            format!(
                "actual spend {:.2} {} is {:.0}% of the {:.2} {} budget `{}` (threshold {t}%)",
                b.actual.unwrap_or(0.0),
                b.unit,
                actual.unwrap_or(0.0),
                b.limit,
                b.unit,
                b.name
            ),
        ),
        (None, Some(t)) => (
            Status::Fail,
            if t >= 100.0 {
                Severity::Medium
            } else {
                Severity::Low
            },
            format!(
                "forecast spend {:.2} {} is {:.0}% of the {:.2} {} budget `{}` (threshold {t}%)",
                b.forecast.unwrap_or(0.0),
                b.unit,
                forecast.unwrap_or(0.0),
                b.limit,
                b.unit,
                b.name
            ),
        ),
        (None, None) => (
            Status::Pass,
            Severity::Medium,
            format!(
                "budget `{}`: actual {:.0}%{} of {:.2} {}, under every threshold",
                b.name,
                actual.unwrap_or(0.0),
                forecast
                    .map(|f| format!(", forecast {f:.0}%"))
                    .unwrap_or_default(),
                b.limit,
                b.unit
            ),
        ),
    };
    let mut ev = BTreeMap::new();
    ev.insert("limit", json!(b.limit));
    ev.insert("actual", json!(b.actual));
    ev.insert("forecast", json!(b.forecast));
    ev.insert("unit", json!(b.unit));
    Finding {
        id: finding_id(BUDGET_CHECK, &arn),
        check_id: BUDGET_CHECK.into(),
        title: "Spend stays under the budget's thresholds".into(),
        kind: CheckKind::External,
        status,
        severity,
        resource: Arc::new(ResourceRef {
            arn,
            resource_type: "AWS::Budgets::Budget".into(),
            account_id: b.account.clone(),
            region: "global".into(),
            name: b.name.clone(),
            tags: Default::default(),
        }),
        message,
        evidence: ev
            .into_iter()
            .map(|(k, v)| Evidence {
                path: format!("budget.{k}"),
                value: v,
                source: None,
            })
            .collect(),
        references: std::sync::Arc::new(References {
            frameworks: vec!["assetwarden".into()],
            ..Default::default()
        }),
        remediation: Some(
            "Find what drives the spend (Cost Explorer by service and tag), then stop it or raise the budget on purpose."
                .into(),
        ),
        suppression: None,
        first_seen: now,
        last_seen: now,
        vulnerability: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(actual: Option<f64>, forecast: Option<f64>) -> BudgetFigures {
        BudgetFigures {
            name: "b".into(),
            account: "111111111111".into(),
            limit: 200.0,
            unit: "USD".into(),
            actual,
            forecast,
        }
    }

    #[test]
    fn budget_thresholds() {
        let now = Utc::now();
        let d = BudgetsDoc::default();
        let f = budget_finding(&fig(Some(100.0), Some(150.0)), &d, now);
        assert_eq!((f.status, f.severity), (Status::Pass, Severity::Medium));
        let f = budget_finding(&fig(Some(100.0), Some(170.0)), &d, now);
        assert_eq!((f.status, f.severity), (Status::Fail, Severity::Low));
        assert!(
            f.message.starts_with("forecast spend 170.00 USD is 85%"),
            "{}",
            f.message
        );
        let f = budget_finding(&fig(Some(210.0), Some(250.0)), &d, now);
        assert_eq!((f.status, f.severity), (Status::Fail, Severity::High));
        assert!(f.message.contains("threshold 100%"), "{}", f.message);
        let f = budget_finding(&fig(None, None), &d, now);
        assert_eq!(f.status, Status::Unknown);
        let no_forecast = BudgetsDoc {
            thresholds: vec![90.0],
            forecast: false,
        };
        let f = budget_finding(&fig(Some(100.0), Some(400.0)), &no_forecast, now);
        assert_eq!(f.status, Status::Pass);
        assert_eq!(f.resource.arn, "arn:aws:budgets::111111111111:budget/b");
    }
}
