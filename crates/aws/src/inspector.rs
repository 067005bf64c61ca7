//! Known vulnerabilities from Amazon Inspector v2 (`ListFindings`) on ECR images, EC2 instances
//! and Lambda functions, attached to the assets (an image to its repository and to the ECS
//! services whose task definitions run it), and AWS Budgets against the policy's thresholds.

use std::collections::HashMap;

use assetwarden_core::finding::Finding;
use assetwarden_core::vuln::{self, BudgetFigures, BudgetsDoc, ImageUsers};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde_json::{Value, json};

use crate::inventory::regional;
use crate::util::{ApiFailure, failure};

fn dt(d: Option<&DateTime>) -> Value {
    d.and_then(|d| d.fmt(Format::DateTime).ok())
        .map(Value::String)
        .unwrap_or(Value::Null)
}

/// One Inspector finding in the API's JSON shape (what `ListFindings` returns), so live and
/// recorded findings take one path.
pub fn finding_json(f: &aws_sdk_inspector2::types::Finding) -> Value {
    let details = f.package_vulnerability_details().map(|d| {
        json!({
            "vulnerabilityId": d.vulnerability_id(),
            "source": d.source(),
            "sourceUrl": d.source_url(),
            "vendorSeverity": d.vendor_severity(),
            "referenceUrls": d.reference_urls(),
            "cvss": d.cvss().iter().map(|c| json!({
                "baseScore": c.base_score(), "scoringVector": c.scoring_vector(),
                "version": c.version(), "source": c.source(),
            })).collect::<Vec<_>>(),
            "vulnerablePackages": d.vulnerable_packages().iter().map(|p| json!({
                "name": p.name(), "version": p.version(), "epoch": p.epoch(),
                "release": p.release(), "arch": p.arch(),
                "packageManager": p.package_manager().map(|m| m.as_str()),
                "fixedInVersion": p.fixed_in_version(), "filePath": p.file_path(),
            })).collect::<Vec<_>>(),
        })
    });
    let resources: Vec<Value> = f
        .resources()
        .iter()
        .map(|r| {
            let ecr = r
                .details()
                .and_then(|d| d.aws_ecr_container_image())
                .map(|i| {
                    json!({"awsEcrContainerImage": {
                        "repositoryName": i.repository_name(), "registry": i.registry(),
                        "imageHash": i.image_hash(), "imageTags": i.image_tags(),
                    }})
                });
            json!({
                "type": r.r#type().as_str(),
                "id": r.id(),
                "region": r.region(),
                "partition": r.partition(),
                "details": ecr,
            })
        })
        .collect();
    json!({
        "findingArn": f.finding_arn(),
        "awsAccountId": f.aws_account_id(),
        "type": f.r#type().as_str(),
        "title": f.title(),
        "severity": f.severity().as_str(),
        "status": f.status().as_str(),
        "firstObservedAt": dt(Some(f.first_observed_at())),
        "lastObservedAt": dt(Some(f.last_observed_at())),
        "fixAvailable": f.fix_available().map(|x| x.as_str()),
        "inspectorScore": f.inspector_score(),
        "packageVulnerabilityDetails": details,
        "resources": resources,
    })
}

/// Every package-vulnerability finding of a region (`inspector2:ListFindings`, every page).
pub async fn list_findings(
    sdk: &aws_config::SdkConfig,
    region: &str,
) -> Result<Vec<Value>, ApiFailure> {
    let client = aws_sdk_inspector2::Client::new(&regional(sdk, region));
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_findings()
            .max_results(100)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| failure("inspector2:ListFindings", &e))?;
        out.extend(page.findings().iter().map(finding_json));
        match page.next_token() {
            Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

/// Which ECS services run which images (`ecs:ListClusters`, `ListServices`,
/// `DescribeServices`, `DescribeTaskDefinition`).
pub async fn image_users(
    sdk: &aws_config::SdkConfig,
    region: &str,
) -> Result<ImageUsers, ApiFailure> {
    let ecs = aws_sdk_ecs::Client::new(&regional(sdk, region));
    let mut users: ImageUsers = HashMap::new();
    let mut clusters = Vec::new();
    let mut pages = ecs.list_clusters().into_paginator().send();
    while let Some(p) = pages.next().await {
        let p = p.map_err(|e| failure("ecs:ListClusters", &e))?;
        clusters.extend(p.cluster_arns().iter().cloned());
    }
    let mut task_images: HashMap<String, Vec<String>> = HashMap::new();
    for c in clusters {
        let mut services = Vec::new();
        let mut pages = ecs.list_services().cluster(&c).into_paginator().send();
        while let Some(p) = pages.next().await {
            let p = p.map_err(|e| failure("ecs:ListServices", &e))?;
            services.extend(p.service_arns().iter().cloned());
        }
        for chunk in services.chunks(10) {
            let d = ecs
                .describe_services()
                .cluster(&c)
                .set_services(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| failure("ecs:DescribeServices", &e))?;
            for s in d.services() {
                let (Some(arn), Some(td)) = (s.service_arn(), s.task_definition()) else {
                    continue;
                };
                if !task_images.contains_key(td) {
                    let t = ecs
                        .describe_task_definition()
                        .task_definition(td)
                        .send()
                        .await
                        .map_err(|e| failure("ecs:DescribeTaskDefinition", &e))?;
                    let images = t
                        .task_definition()
                        .map(|t| {
                            t.container_definitions()
                                .iter()
                                .filter_map(|c| c.image().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    task_images.insert(td.to_string(), images);
                }
                for img in task_images.get(td).into_iter().flatten() {
                    users.entry(img.clone()).or_default().push(arn.to_string());
                }
            }
        }
    }
    Ok(users)
}

/// What the vulnerability collection produced.
#[derive(Debug, Default)]
pub struct Collected {
    /// The findings.
    pub findings: Vec<Finding>,
    /// Inspector findings that could not be used, with why.
    pub errors: Vec<String>,
    /// Calls that failed (the region's CVE findings are then not known).
    pub failures: Vec<(String, ApiFailure)>,
}

/// CVE findings for a set of regions.
pub async fn cve_findings(
    sdk: &aws_config::SdkConfig,
    regions: &[String],
    now: chrono::DateTime<chrono::Utc>,
) -> Collected {
    let mut out = Collected::default();
    for region in regions {
        let users = match image_users(sdk, region).await {
            Ok(u) => u,
            Err(f) => {
                // Without the ECS map the repositories still get their findings.
                out.failures.push((region.clone(), f));
                ImageUsers::new()
            }
        };
        match list_findings(sdk, region).await {
            Ok(list) => {
                for f in &list {
                    match vuln::from_inspector(f, &users, now) {
                        Ok(fs) => out.findings.extend(fs),
                        Err(e) => out.errors.push(e),
                    }
                }
            }
            Err(f) => out.failures.push((region.clone(), f)),
        }
    }
    out
}

/// Every budget of the account (`budgets:ViewBudget`, i.e. `DescribeBudgets`) as a finding.
pub async fn budget_findings(
    sdk: &aws_config::SdkConfig,
    account: &str,
    doc: &BudgetsDoc,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Finding>, ApiFailure> {
    // Budgets is a global service answered in us-east-1.
    let client = aws_sdk_budgets::Client::new(&regional(sdk, "us-east-1"));
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .describe_budgets()
            .account_id(account)
            .max_results(100)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| failure("budgets:ViewBudget", &e))?;
        for b in page.budgets() {
            let num = |s: Option<&aws_sdk_budgets::types::Spend>| {
                s.and_then(|s| s.amount().parse::<f64>().ok())
            };
            let spend = b.calculated_spend();
            let fig = BudgetFigures {
                name: b.budget_name().to_string(),
                account: account.to_string(),
                limit: num(b.budget_limit()).unwrap_or(0.0),
                unit: b
                    .budget_limit()
                    .map(|l| l.unit().to_string())
                    .unwrap_or_else(|| "USD".into()),
                actual: num(spend.and_then(|s| s.actual_spend())),
                forecast: num(spend.and_then(|s| s.forecasted_spend())),
            };
            out.push(vuln::budget_finding(&fig, doc, now));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}
