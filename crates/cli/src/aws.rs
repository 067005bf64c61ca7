//! The AWS side of the command line: `scan --aws`, `tag apply`, `export securityhub`,
//! `event handle`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use assetwarden_aws::autotag::AutoTagger;
use assetwarden_aws::securityhub::SecurityHubExporter;
use assetwarden_aws::{AwsInventory, AwsTagWriter, ConfigMode};
use assetwarden_core::notify::{TagWriteOutcome, TagWriteResult, TagWriter};
use assetwarden_core::source::{ResourceSource, SourceEvent};
use aws_config::BehaviorVersion;
use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use futures::StreamExt;

/// Where AWS is and how to reach it.
#[derive(clap::Args, Clone, Debug, Default)]
pub(crate) struct AwsArgs {
    /// Read the live inventory from AWS (tagging API, AWS Config, Describe calls).
    #[arg(long)]
    pub aws: bool,
    /// Regions to read, comma-separated (default: every region enabled for the account).
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
    /// The AWS profile (default: the standard credential chain).
    #[arg(long, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (a test server such as moto, a VPC endpoint).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Do not use AWS Config; collect configuration with Describe/Get calls only.
    #[arg(long)]
    pub no_config: bool,
    /// Regions read at once.
    #[arg(long, default_value_t = 4)]
    pub region_concurrency: usize,
    /// With --aws: add Amazon Inspector's CVE findings (ECR images, EC2 instances, Lambda
    /// functions), attached to the repositories and to the ECS services running the images.
    #[arg(long)]
    pub inspector: bool,
    /// With --aws: add a finding per AWS Budget, failing at the policy's `budgets` thresholds
    /// (default 80% and 100%, forecast included).
    #[arg(long)]
    pub budgets: bool,
}

/// Inspector and Budgets findings, and the errors met getting them.
pub(crate) fn extra_findings(
    rt: &tokio::runtime::Runtime,
    args: &AwsArgs,
    budgets: Option<assetwarden_core::vuln::BudgetsDoc>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Vec<assetwarden_core::Finding>, Vec<SourceEvent>)> {
    rt.block_on(async {
        let sdk = sdk_config(args).await;
        let mut findings = Vec::new();
        let mut events = Vec::new();
        let regions = if args.regions.is_empty() {
            AwsInventory::new(&sdk, Vec::new())
                .regions()
                .await
                .map_err(|f| anyhow!("{f}"))?
        } else {
            args.regions.clone()
        };
        if args.inspector {
            let c = assetwarden_aws::inspector::cve_findings(&sdk, &regions, now).await;
            findings.extend(c.findings);
            for e in c.errors {
                events.push(SourceEvent::Error {
                    location: "inspector2:ListFindings".into(),
                    message: e,
                });
            }
            for (region, f) in c.failures {
                events.push(SourceEvent::Error {
                    location: format!("aws:{region}: {}", f.operation),
                    message: format!("CVE findings not known here: {f}"),
                });
            }
        }
        if let Some(doc) = budgets {
            let (account, _) = assetwarden_aws::util::caller_account(&sdk)
                .await
                .map_err(|f| anyhow!("{f}"))?;
            match assetwarden_aws::inspector::budget_findings(&sdk, &account, &doc, now).await {
                Ok(fs) => findings.extend(fs),
                Err(f) => events.push(SourceEvent::Error {
                    location: format!("aws: {}", f.operation),
                    message: format!("budgets not known: {f}"),
                }),
            }
        }
        Ok((findings, events))
    })
}

/// Every AWS call this process makes, counted (`assetwarden_aws_api_calls_total`).
static API_METRICS: std::sync::OnceLock<assetwarden_aws::apimetrics::ApiMetrics> =
    std::sync::OnceLock::new();

/// The AWS API calls made so far, by service, region and outcome.
pub(crate) fn api_calls() -> Vec<assetwarden_core::report::ApiCallCount> {
    API_METRICS.get().map(|m| m.counts()).unwrap_or_default()
}

/// The SDK configuration: the standard chain, with retries and timeouts written down rather
/// than left to defaults (standard retry mode, `ASSETWARDEN_AWS_MAX_ATTEMPTS` attempts (default
/// 5); 20 s per attempt, 120 s per operation; 3.1 s to connect).
pub(crate) async fn sdk_config(args: &AwsArgs) -> aws_config::SdkConfig {
    let attempts = std::env::var("ASSETWARDEN_AWS_MAX_ATTEMPTS")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(5)
        .max(1);
    let backoff_ms = std::env::var("ASSETWARDEN_AWS_BACKOFF_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1000);
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(RegionProviderChain::default_provider().or_else("us-east-1"))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(backoff_ms)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(3100))
                .operation_attempt_timeout(Duration::from_secs(20))
                .operation_timeout(Duration::from_secs(120))
                .build(),
        );
    if let Some(p) = &args.profile {
        loader = loader.profile_name(p);
    }
    if let Some(u) = &args.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    API_METRICS
        .get_or_init(Default::default)
        .instrument(&loader.load().await)
}

/// Streams the live inventory into a channel, so the synchronous engine consumes it as it
/// comes and memory stays bounded.
pub(crate) fn live_events(
    rt: &tokio::runtime::Runtime,
    args: &AwsArgs,
) -> Result<std::sync::mpsc::Receiver<SourceEvent>> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<SourceEvent>(1024);
    let args = args.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    rt.spawn(async move {
        let sdk = sdk_config(&args).await;
        let inv = AwsInventory::new(&sdk, args.regions.clone())
            .concurrency(args.region_concurrency)
            .config_mode(if args.no_config {
                ConfigMode::Off
            } else {
                ConfigMode::Auto
            });
        match inv.open().await {
            Ok(mut stream) => {
                let _ = ready_tx.send(Ok(()));
                while let Some(e) = stream.next().await {
                    // The engine runs on another thread; a full channel waits here.
                    let tx = tx.clone();
                    let sent = tokio::task::spawn_blocking(move || tx.send(e).is_ok()).await;
                    if !matches!(sent, Ok(true)) {
                        break;
                    }
                }
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e.to_string()));
            }
        }
    });
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(rx),
        Ok(Err(e)) => Err(anyhow!("{e}")),
        Err(_) => Err(anyhow!("the AWS inventory stopped before it started")),
    }
}

/// `tag apply`'s output table.
pub(crate) fn write_results_table(results: &[TagWriteResult]) -> String {
    let mut out = format!("{:<12} {:<70} DETAIL\n", "OUTCOME", "RESOURCE");
    for r in results {
        let (o, detail) = match &r.outcome {
            TagWriteOutcome::Written => ("written", fmt_tags(&r.written)),
            TagWriteOutcome::WouldWrite => ("would-write", fmt_tags(&r.written)),
            TagWriteOutcome::Unchanged => ("unchanged", String::new()),
            TagWriteOutcome::Refused(why) => ("refused", why.clone()),
            TagWriteOutcome::Failed { message, .. } => ("FAILED", message.clone()),
        };
        let mut detail = detail;
        for d in &r.dropped {
            if !detail.is_empty() {
                detail.push_str("; ");
            }
            detail.push_str("kept ");
            detail.push_str(d);
        }
        out.push_str(&format!("{o:<12} {:<70} {detail}\n", r.arn));
    }
    out
}

fn fmt_tags(t: &assetwarden_core::tags::Tags) -> String {
    t.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `tag apply`: computes the plans (from files or the live inventory) and writes them; a dry
/// run unless `apply`.
pub(crate) fn tag_apply(
    rt: &tokio::runtime::Runtime,
    args: &AwsArgs,
    plans: Vec<assetwarden_core::TagPlan>,
    apply: bool,
    json: bool,
    state: Option<&std::path::Path>,
) -> Result<ExitCode> {
    let results = rt.block_on(async {
        let sdk = sdk_config(args).await;
        AwsTagWriter::new(&sdk).apply(&plans, !apply).await
    });
    if let Some(state) = state {
        let rows = crate::ops::written_tags(
            &plans.iter().collect::<Vec<_>>(),
            &results.iter().collect::<Vec<_>>(),
            "assetwarden tag apply",
        );
        crate::ops::record_tags(state, &rows)?;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        print!("{}", write_results_table(&results));
    }
    let count = |f: fn(&TagWriteOutcome) -> bool| results.iter().filter(|r| f(&r.outcome)).count();
    let failed = count(|o| matches!(o, TagWriteOutcome::Failed { .. }));
    let refused = count(|o| matches!(o, TagWriteOutcome::Refused(_)));
    eprintln!(
        "{} resources: {} written, {} would be written, {} unchanged, {} refused, {} failed{}",
        results.len(),
        count(|o| matches!(o, TagWriteOutcome::Written)),
        count(|o| matches!(o, TagWriteOutcome::WouldWrite)),
        count(|o| matches!(o, TagWriteOutcome::Unchanged)),
        refused,
        failed,
        if apply {
            ""
        } else {
            " (dry run: pass --apply to write)"
        }
    );
    Ok(if failed + refused > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `export securityhub`.
pub(crate) fn export_securityhub(
    rt: &tokio::runtime::Runtime,
    args: &AwsArgs,
    findings: &[assetwarden_core::Finding],
    hub_region: Option<String>,
) -> Result<ExitCode> {
    let report = rt.block_on(async {
        let sdk = sdk_config(args).await;
        let (account, _) = assetwarden_aws::util::caller_account(&sdk)
            .await
            .map_err(|f| anyhow!("cannot identify the account: {f}"))?;
        let region = hub_region
            .or_else(|| sdk.region().map(|r| r.to_string()))
            .unwrap_or_else(|| "us-east-1".into());
        SecurityHubExporter::new(&sdk, &account, &region)
            .export(findings)
            .await
            .map_err(|f| anyhow!("{f}"))
    })?;
    for (id, why) in &report.refused {
        eprintln!("refused: {id}: {why}");
    }
    for (id, code, msg) in &report.failed {
        eprintln!("failed: {id}: {code}: {msg}");
    }
    println!(
        "Security Hub: {} imported, {} archived, {} refused, {} failed, in {} calls",
        report.imported,
        report.archived,
        report.refused.len(),
        report.failed.len(),
        report.calls
    );
    Ok(if report.complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `event handle FILE`.
pub(crate) fn event_handle(
    rt: &tokio::runtime::Runtime,
    args: &AwsArgs,
    file: &PathBuf,
    engine: &assetwarden_core::Engine,
    apply: bool,
    state: Option<&std::path::Path>,
) -> Result<(ExitCode, Vec<assetwarden_aws::autotag::EventOutcome>)> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read event `{}`", file.display()))?;
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "{}:{}:{}: not JSON: {e}",
            file.display(),
            e.line(),
            e.column()
        )
    })?;
    let outcomes = rt.block_on(async {
        let sdk = sdk_config(args).await;
        AutoTagger::new(&sdk).handle(&doc, engine, !apply).await
    });
    let outcomes = outcomes.map_err(|e| anyhow!("{}: {e}", file.display()))?;
    if let Some(state) = state {
        let mut rows = Vec::new();
        for o in &outcomes {
            let r = &o.record;
            let by = format!(
                "event {} {} by {}",
                r.event_name,
                r.event_id.as_deref().unwrap_or("(no id)"),
                r.creator
                    .creator_arn
                    .as_deref()
                    .or(r.creator.creator_name.as_deref())
                    .unwrap_or("(unknown)")
            );
            let plans: Vec<_> = o.resources.iter().filter_map(|x| x.plan.as_ref()).collect();
            let writes: Vec<_> = o
                .resources
                .iter()
                .filter_map(|x| x.write.as_ref())
                .collect();
            rows.extend(crate::ops::written_tags(&plans, &writes, &by));
        }
        crate::ops::record_tags(state, &rows)?;
    }
    if outcomes.is_empty() {
        eprintln!(
            "{}: no resource creation this tool handles (or the call failed): nothing to do",
            file.display()
        );
    }
    let ok = outcomes.iter().all(|o| o.ok());
    if !ok {
        bail_soft(&outcomes);
    }
    Ok((
        if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
        outcomes,
    ))
}

fn bail_soft(outcomes: &[assetwarden_aws::autotag::EventOutcome]) {
    for o in outcomes {
        for r in &o.resources {
            if let Some(e) = &r.error {
                eprintln!("error: {}: {e}", r.arn);
            }
            if let Some(w) = &r.write
                && let TagWriteOutcome::Failed { message, .. } | TagWriteOutcome::Refused(message) =
                    &w.outcome
            {
                eprintln!("error: {}: {message}", r.arn);
            }
        }
    }
}
