//! `bootstrap`: Assetwarden as an AWS Lambda function (custom runtime, `provided.al2023`).
//!
//! - An EventBridge "AWS API Call via CloudTrail" event (or a bare CloudTrail record, or a
//!   CloudTrail log file) runs the auto-tag path: tags from the classification scheme on the
//!   resources it created, then the checks on them, failures to the notifiers.
//! - A "Scheduled Event" runs a full scan of the configured regions and exports the findings to
//!   Security Hub (archiving this tool's findings that pass now).
//!
//! Configured from the environment:
//! - `ASSETWARDEN_POLICY_PARAMETER` (required): the SSM parameter holding the policy, or a path
//!   ending in `/` whose parameters are its sections. Read on every invocation, so a policy
//!   change applies at once; if it cannot be read whole, the invocation fails and nothing is
//!   tagged (fail closed).
//! - `ASSETWARDEN_REGIONS`: regions to scan, comma-separated (default: the function's region).
//! - `ASSETWARDEN_DRY_RUN=true`: compute tags but write nothing.
//! - `ASSETWARDEN_EXPORT_SECURITYHUB` (default `true`), `ASSETWARDEN_INSPECTOR`,
//!   `ASSETWARDEN_BUDGETS`, `ASSETWARDEN_NOTIFY_SCHEDULED` (default `false`).
//! - `ASSETWARDEN_REMEDIATE=true`: after a scheduled scan, and on the resources a creation
//!   event made, apply the remediations the policy's `remediation.unattended` lists (within its
//!   limits and protections; nothing needing approval ever runs here), and send what changed to
//!   the notification routes. Default `false`.
//! - The notification routes' variables named in the policy (`url_env`, `secret_env`, SMTP
//!   credentials); a value `ssm:/name` is read (decrypted) from Parameter Store.

use std::collections::HashMap;
use std::sync::Arc;

use assetwarden_aws::autotag::AutoTagger;
use assetwarden_aws::securityhub::SecurityHubExporter;
use assetwarden_aws::{AwsInventory, Ssm};
use assetwarden_core::source::{ResourceSource, SourceEvent};
use assetwarden_core::{Engine, Finding, Policy, ScanSink, Status};
use futures::StreamExt;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

struct Settings {
    policy_parameter: String,
    regions: Vec<String>,
    dry_run: bool,
    export_securityhub: bool,
    inspector: bool,
    budgets: bool,
    notify_scheduled: bool,
    remediate: bool,
}

fn flag(name: &str, default: bool) -> bool {
    match std::env::var(name) {
        Ok(v) => matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"),
        Err(_) => default,
    }
}

impl Settings {
    fn from_env(sdk: &aws_config::SdkConfig) -> Result<Settings, String> {
        let policy_parameter = std::env::var("ASSETWARDEN_POLICY_PARAMETER")
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or(
                "ASSETWARDEN_POLICY_PARAMETER is not set (the SSM parameter holding the policy)",
            )?;
        let regions: Vec<String> = std::env::var("ASSETWARDEN_REGIONS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect();
        let regions = if regions.is_empty() {
            vec![
                sdk.region()
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "us-east-1".into()),
            ]
        } else {
            regions
        };
        Ok(Settings {
            policy_parameter,
            regions,
            dry_run: flag("ASSETWARDEN_DRY_RUN", false),
            export_securityhub: flag("ASSETWARDEN_EXPORT_SECURITYHUB", true),
            inspector: flag("ASSETWARDEN_INSPECTOR", false),
            budgets: flag("ASSETWARDEN_BUDGETS", false),
            notify_scheduled: flag("ASSETWARDEN_NOTIFY_SCHEDULED", false),
            remediate: flag("ASSETWARDEN_REMEDIATE", false),
        })
    }
}

struct App {
    sdk: aws_config::SdkConfig,
    api: assetwarden_aws::apimetrics::ApiMetrics,
    settings: Settings,
    tagger: AutoTagger,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ASSETWARDEN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .without_time()
        .with_ansi(false)
        .init();
    let api = assetwarden_aws::apimetrics::ApiMetrics::new();
    let sdk =
        api.instrument(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await);
    let settings = Settings::from_env(&sdk)?;
    let app = Arc::new(App {
        tagger: AutoTagger::new(&sdk),
        sdk,
        api,
        settings,
    });
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| {
        let app = app.clone();
        async move { handle(&app, ev.payload).await }
    }))
    .await
}

async fn handle(app: &App, payload: Value) -> Result<Value, Error> {
    // Count this invocation's calls only (the container outlives one invocation).
    let _ = app.api.take();
    // Fail closed: no policy, no tagging.
    let policy = Ssm::new(&app.sdk)
        .policy(&app.settings.policy_parameter)
        .await
        .map_err(|e| format!("policy unreadable, nothing done: {e}"))?;
    match payload.get("detail-type").and_then(Value::as_str) {
        Some("Scheduled Event") => scheduled(app, policy).await,
        _ => autotag(app, policy, &payload).await,
    }
}

async fn autotag(app: &App, policy: Policy, payload: &Value) -> Result<Value, Error> {
    let router = router(app, &policy).await?;
    let engine = Arc::new(Engine::builder().policy(policy).build()?);
    let outcomes = app
        .tagger
        .handle(payload, &engine, app.settings.dry_run)
        .await
        .map_err(|e| e.to_string())?;
    let failures: Vec<Finding> = outcomes
        .iter()
        .flat_map(|o| o.resources.iter())
        .flat_map(|r| r.findings.iter())
        .filter(|f| f.status == Status::Fail)
        .cloned()
        .collect();
    let mut notified = Vec::new();
    if !failures.is_empty() && !router.routes.is_empty() {
        let subject = format!(
            "Assetwarden: {} failing check(s) on newly created resources",
            failures.len()
        );
        for o in router
            .deliver(&failures, &subject, chrono::Utc::now())
            .await
        {
            notified.push(json!({"route": o.route, "status": o.status, "findings": o.finding_ids.len(), "error": o.error}));
        }
    }
    let remediation = if app.settings.remediate && !app.settings.dry_run {
        remediate_unattended(app, &engine, &failures, &router, "lambda:creation-event").await?
    } else {
        Value::Null
    };
    let ok = outcomes.iter().all(|o| o.ok());
    let summary = json!({
        "mode": "auto-tag",
        "remediation": remediation,
        "dry_run": app.settings.dry_run,
        "outcomes": outcomes,
        "notified": notified,
    });
    if !ok {
        // A write that failed must not look like success: the invocation fails (EventBridge
        // retries it, then sends it to the dead-letter queue), and the outcome is logged.
        tracing::error!(summary = %summary, "auto-tagging incomplete");
        return Err("auto-tagging incomplete: see the log for which resources".into());
    }
    Ok(summary)
}

async fn scheduled(app: &App, policy: Policy) -> Result<Value, Error> {
    let budgets = policy.doc.budgets.clone().unwrap_or_default();
    let router = router(app, &policy).await?;
    let engine = Arc::new(Engine::builder().policy(policy).build()?);
    let engine2 = engine.clone();
    let inv = AwsInventory::new(&app.sdk, app.settings.regions.clone());
    let events: Vec<SourceEvent> = inv.open().await.map_err(|e| e.to_string())?.collect().await;
    let mut extra: Vec<Finding> = Vec::new();
    let mut extra_events: Vec<SourceEvent> = Vec::new();
    let now = engine.now();
    if app.settings.inspector {
        let c =
            assetwarden_aws::inspector::cve_findings(&app.sdk, &app.settings.regions, now).await;
        extra.extend(c.findings);
        extra_events.extend(c.failures.into_iter().map(|(r, f)| SourceEvent::Error {
            location: format!("aws:{r}: {}", f.operation),
            message: f.to_string(),
        }));
    }
    let (account, _) = inv.identity().await.map_err(|f| f.to_string())?.clone();
    if app.settings.budgets {
        match assetwarden_aws::inspector::budget_findings(&app.sdk, &account, &budgets, now).await {
            Ok(fs) => extra.extend(fs),
            Err(f) => extra_events.push(SourceEvent::Error {
                location: format!("aws: {}", f.operation),
                message: f.to_string(),
            }),
        }
    }
    let report = tokio::task::spawn_blocking(move || {
        let mut b = engine.report_builder(true).keep_pass(true);
        engine.scan_iter(events.into_iter(), &mut b);
        for e in &extra_events {
            b.on_event(e);
        }
        b.on_findings(&extra);
        engine.finish(b)
    })
    .await?;
    let mut export = Value::Null;
    if app.settings.export_securityhub {
        let region = app
            .sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into());
        let r = SecurityHubExporter::new(&app.sdk, &account, &region)
            .export(&report.findings)
            .await
            .map_err(|f| f.to_string())?;
        export = serde_json::to_value(&r)?;
        if !r.complete() {
            tracing::error!(export = %export, "Security Hub export incomplete");
        }
    }
    let failures: Vec<Finding> = report
        .findings
        .iter()
        .filter(|f| f.status == Status::Fail)
        .cloned()
        .collect();
    let mut notified = Vec::new();
    if app.settings.notify_scheduled && !router.routes.is_empty() && !failures.is_empty() {
        let subject = format!("Assetwarden: {} failing check(s)", failures.len());
        for o in router
            .deliver(&failures, &subject, chrono::Utc::now())
            .await
        {
            notified.push(json!({"route": o.route, "status": o.status, "error": o.error}));
        }
    }
    let remediation = if app.settings.remediate {
        remediate_unattended(app, &engine2, &failures, &router, "lambda:schedule").await?
    } else {
        Value::Null
    };
    let api_calls = app.api.take();
    let failed: u64 = api_calls
        .iter()
        .filter(|c| c.outcome != "ok")
        .map(|c| c.calls)
        .sum();
    if failed > 0 {
        tracing::warn!(calls = %serde_json::to_string(&api_calls)?, "AWS API calls throttled or failed");
    }
    Ok(json!({
        "mode": "scheduled",
        "api_calls": api_calls,
        "remediation": remediation,
        "summary": assetwarden_core::output::summary_line(&report),
        "policy_source": report.policy_source,
        "errors": report.errors.len(),
        "securityhub": export,
        "notified": notified,
    }))
}

/// Plans the fixes for `failures` and applies those the policy lets run unattended; what changed
/// (and what failed) goes to the routes. Returns the plan's id and the records.
async fn remediate_unattended(
    app: &App,
    engine: &Arc<Engine>,
    failures: &[Finding],
    router: &assetwarden_notify::Router,
    by: &str,
) -> Result<Value, Error> {
    use assetwarden_core::remediate::{self, ApplyOptions, Approvals, Outcome};
    let doc = engine_policy_doc(engine);
    if doc.unattended.is_empty() || failures.is_empty() {
        return Ok(json!({"plan": null, "records": []}));
    }
    let rems = assetwarden_aws::remediate::remediators(&app.sdk)
        .await
        .map_err(|f| f.to_string())?;
    let plan = remediate::plan(failures, &rems, &doc, "lambda", chrono::Utc::now()).await;
    let opts = ApplyOptions::from_doc(&doc, Approvals::UnattendedOnly, by);
    let records: Vec<_> =
        assetwarden_aws::remediate::apply_plan(&app.sdk, &plan, &doc, &opts, engine.clone())
            .await
            .map_err(|f| f.to_string())?
            .into_iter()
            .filter(|r| r.outcome != Outcome::Skipped || r.message.contains("limit"))
            .collect();
    let changed: Vec<Finding> = records
        .iter()
        .filter(|r| r.outcome != Outcome::Skipped)
        .map(|r| r.to_finding())
        .collect();
    if !changed.is_empty() && !router.routes.is_empty() {
        let subject = format!("Assetwarden: {} remediation(s) run ({by})", changed.len());
        router.deliver(&changed, &subject, chrono::Utc::now()).await;
    }
    if records.iter().any(|r| r.outcome == Outcome::Failed) {
        tracing::error!(records = %serde_json::to_string(&records)?, "a remediation failed");
    }
    Ok(json!({"plan": plan.id, "records": records, "skipped": plan.skipped}))
}

fn engine_policy_doc(engine: &Engine) -> assetwarden_core::remediate::RemediationDoc {
    engine.remediation().cloned().unwrap_or_default()
}

/// The policy's routes, with `ssm:/name` secret values read from Parameter Store.
async fn router(app: &App, policy: &Policy) -> Result<assetwarden_notify::Router, Error> {
    let vars = assetwarden_notify::secret_vars(policy);
    let ssm = Ssm::new(&app.sdk);
    let mut resolved: HashMap<String, String> = HashMap::new();
    for v in vars {
        if let Ok(val) = std::env::var(&v) {
            let val = ssm
                .resolve(&val)
                .await
                .map_err(|e| format!("cannot read the secret of `{v}`: {e}"))?;
            resolved.insert(v, val);
        }
    }
    let env = |k: &str| resolved.get(k).cloned();
    Ok(assetwarden_notify::Router::from_policy(policy, &env)?)
}
