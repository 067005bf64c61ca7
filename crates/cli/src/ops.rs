//! `--state`, `history`, `report` and `serve`: what is built on the state store.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use assetwarden_core::report::ScanReport;
use assetwarden_state::{Store, metrics, report};

/// Records a scan and (optionally) writes the metrics textfile.
pub fn record(
    state: &Path,
    report: &ScanReport,
    label: &str,
    metrics_file: Option<&Path>,
) -> Result<i64> {
    let mut store = Store::open(state)?;
    let started = std::time::Instant::now();
    let (id, t) = store.record(report, label)?;
    eprintln!(
        "recorded scan {id} in {} ({} ms): {} new, {} still open, {} resolved, {} regressed, {} suppressed",
        state.display(),
        started.elapsed().as_millis(),
        t.new,
        t.still_open,
        t.resolved,
        t.regressed,
        t.suppressed
    );
    if let Some(path) = metrics_file {
        let text = metrics::render(&store.snapshot()?);
        let tmp = path.with_extension("prom.tmp");
        std::fs::write(&tmp, text).with_context(|| format!("cannot write `{}`", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    Ok(id)
}
/// The tags a writer wrote, as rows for the state store: the value before comes from the plan.
pub(crate) fn written_tags(
    plans: &[&assetwarden_core::TagPlan],
    results: &[&assetwarden_core::notify::TagWriteResult],
    by: &str,
) -> Vec<assetwarden_state::TagChangeRow> {
    let at = chrono::Utc::now().to_rfc3339();
    let mut rows = Vec::new();
    for r in results {
        if r.outcome != assetwarden_core::notify::TagWriteOutcome::Written {
            continue;
        }
        let plan = plans.iter().find(|p| p.arn == r.arn);
        for (k, v) in r.written.iter() {
            let old = plan
                .and_then(|p| p.changes.iter().find(|c| &c.key == k))
                .and_then(|c| c.old_value.clone());
            rows.push(assetwarden_state::TagChangeRow {
                arn: r.arn.clone(),
                key: k.clone(),
                old_value: old,
                new_value: v.clone(),
                applied_at: at.clone(),
                applied_by: by.to_string(),
            });
        }
    }
    rows
}

/// Records tag changes in the state store.
pub(crate) fn record_tags(state: &Path, rows: &[assetwarden_state::TagChangeRow]) -> Result<()> {
    let mut store = Store::open(state)?;
    store.record_tag_changes(rows)?;
    eprintln!("recorded {} tag changes in {}", rows.len(), state.display());
    Ok(())
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// The policy's routes. A secret variable may hold `ssm:/parameter/name`: the value is then read
/// (decrypted) from SSM Parameter Store with the standard AWS configuration.
fn router(policy: &assetwarden_core::Policy) -> Result<assetwarden_notify::Router> {
    let vars = assetwarden_notify::secret_vars(policy);
    let refs: Vec<(String, String)> = vars
        .into_iter()
        .filter_map(|v| {
            std::env::var(&v)
                .ok()
                .filter(|x| x.starts_with("ssm:"))
                .map(|x| (v, x))
        })
        .collect();
    let mut resolved = std::collections::HashMap::new();
    if !refs.is_empty() {
        let rt = runtime()?;
        let ssm = rt.block_on(async {
            let cfg = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            assetwarden_aws::Ssm::new(&cfg)
        });
        for (var, reference) in refs {
            let value = rt
                .block_on(ssm.resolve(&reference))
                .map_err(|e| anyhow!("cannot read the secret of `{var}`: {e}"))?;
            resolved.insert(var, value);
        }
    }
    let env = |k: &str| resolved.get(k).cloned().or_else(|| std::env::var(k).ok());
    Ok(assetwarden_notify::Router::from_policy(policy, &env)?)
}

/// Announces the scan's new and regressed findings, and what waits in the outbox.
pub fn notify(
    state: &Path,
    scan_id: i64,
    report: &ScanReport,
    policy: &assetwarden_core::Policy,
) -> Result<()> {
    let router = router(policy)?;
    if router.routes.is_empty() {
        eprintln!("note: the policy has no notification routes");
        return Ok(());
    }
    let mut store = Store::open(state)?;
    let mut ids: std::collections::BTreeSet<String> =
        store.announcements(scan_id)?.into_iter().collect();
    ids.extend(store.outbox()?.into_iter().map(|(id, _)| id));
    let findings: Vec<assetwarden_core::Finding> = report
        .findings
        .iter()
        .filter(|f| ids.contains(&f.id) && f.status == assetwarden_core::Status::Fail)
        .cloned()
        .collect();
    if findings.is_empty() {
        eprintln!("nothing new to announce");
        return Ok(());
    }
    let subject = format!(
        "Assetwarden: {} new or regressed finding(s) ({})",
        findings.len(),
        report.policy
    );
    let outcomes = runtime()?.block_on(router.deliver(&findings, &subject, chrono::Utc::now()));
    for o in &outcomes {
        let status = match (o.status.as_str(), o.retryable) {
            ("sent", _) => "sent",
            ("deferred", _) | ("failed", true) => "pending",
            _ => "failed",
        };
        store.record_notification(&o.finding_ids, &o.route, status)?;
        match &o.error {
            Some(e) => eprintln!(
                "route `{}`: {} finding(s) {} ({e}){}",
                o.route,
                o.finding_ids.len(),
                o.status,
                if status == "pending" {
                    "; kept in the outbox"
                } else {
                    ""
                }
            ),
            None => eprintln!(
                "route `{}`: {} finding(s) {}",
                o.route,
                o.finding_ids.len(),
                o.status
            ),
        }
    }
    Ok(())
}

/// `notify test`.
/// Sends findings (e.g. remediation records) on the policy's routes, and says what happened.
pub(crate) fn notify_findings(
    policy: &assetwarden_core::Policy,
    findings: &[assetwarden_core::Finding],
    subject: &str,
) -> Result<()> {
    let router = router(policy)?;
    if router.routes.is_empty() {
        eprintln!("note: the policy has no notification routes");
        return Ok(());
    }
    for o in runtime()?.block_on(router.deliver(findings, subject, chrono::Utc::now())) {
        match &o.error {
            Some(e) => eprintln!(
                "route `{}`: {} message(s) {} ({e})",
                o.route,
                o.finding_ids.len(),
                o.status
            ),
            None => eprintln!(
                "route `{}`: {} message(s) {}",
                o.route,
                o.finding_ids.len(),
                o.status
            ),
        }
    }
    Ok(())
}

pub fn notify_test(policy: &assetwarden_core::Policy) -> Result<ExitCode> {
    let router = router(policy)?;
    if router.routes.is_empty() {
        bail!("the policy has no notification routes");
    }
    let outcomes = runtime()?.block_on(router.test());
    let mut bad = 0;
    for o in &outcomes {
        match &o.error {
            None => println!("route `{}`: test message sent", o.route),
            Some(e) => {
                bad += 1;
                println!("route `{}`: failed: {e}", o.route);
            }
        }
    }
    Ok(if bad > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Arguments of `history`.
#[derive(clap::Args)]
pub struct HistoryArgs {
    /// The state store.
    #[arg(long, env = "ASSETWARDEN_STATE")]
    state: PathBuf,
    /// The earlier scan (default: the one before `--to`).
    #[arg(long)]
    from: Option<i64>,
    /// The later scan (default: the last).
    #[arg(long)]
    to: Option<i64>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn history(args: HistoryArgs) -> Result<ExitCode> {
    if !args.state.exists() {
        bail!(
            "no state store at `{}` (record scans with `assetwarden scan --state`)",
            args.state.display()
        );
    }
    let store = Store::open(&args.state)?;
    let (from, to, changes) = store.history(args.from, args.to)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"from": from, "to": to, "changes": changes})
            )?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("changes after scan {from} up to scan {to}:");
    if changes.is_empty() {
        println!("  nothing changed");
    }
    for c in &changes {
        println!(
            "  scan {:<4} {:<10} {:<9} {:<36} {}",
            c.scan_id, c.kind, c.severity, c.check_id, c.arn
        );
    }
    let count = |k: &str| changes.iter().filter(|c| c.kind == k).count();
    println!(
        "{} new, {} resolved, {} regressed, {} suppressed",
        count("new"),
        count("resolved"),
        count("regressed"),
        count("suppressed")
    );
    Ok(ExitCode::SUCCESS)
}

/// `24h`, `7d`, `90m`, `3600s`.
fn parse_since(s: &str) -> Result<chrono::Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| anyhow!("invalid duration `{s}` (e.g. 24h, 7d, 90m)"))?;
    Ok(match unit {
        "s" => chrono::Duration::seconds(n),
        "m" => chrono::Duration::minutes(n),
        "h" | "" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        _ => bail!("invalid duration `{s}` (e.g. 24h, 7d, 90m)"),
    })
}

/// Arguments of `report`.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// The state store.
    #[arg(long, env = "ASSETWARDEN_STATE")]
    state: PathBuf,
    /// The period: `24h`, `7d`, ...
    #[arg(long, default_value = "24h")]
    since: String,
    /// Folder for `report.html` and `report.md`.
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// The report's title.
    #[arg(long, default_value = "Assetwarden daily report")]
    title: String,
    /// Also send the report on every notification route of this policy.
    #[arg(long)]
    notify: Option<PathBuf>,
}

pub fn report(args: ReportArgs) -> Result<ExitCode> {
    if !args.state.exists() {
        bail!(
            "no state store at `{}` (record scans with `assetwarden scan --state`)",
            args.state.display()
        );
    }
    let since = chrono::Utc::now() - parse_since(&args.since)?;
    let store = Store::open(&args.state)?;
    let p = store.period(since)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create `{}`", args.out.display()))?;
    let html = args.out.join("report.html");
    let md = args.out.join("report.md");
    std::fs::write(&html, report::html(&p, &args.title))
        .with_context(|| format!("cannot write `{}`", html.display()))?;
    std::fs::write(&md, report::markdown(&p, &args.title))
        .with_context(|| format!("cannot write `{}`", md.display()))?;
    let c = |k: &str| p.changes.get(k).copied().unwrap_or(0);
    if let Some(policy) = &args.notify {
        let policy = crate::load_policy(Some(policy))?;
        let router = router(&policy)?;
        let subject = format!(
            "{}: {} new, {} resolved, {} regressed",
            args.title,
            c("new"),
            c("resolved"),
            c("regressed")
        );
        let md_text = report::markdown(&p, &args.title);
        let html_text = report::html(&p, &args.title);
        for o in runtime()?.block_on(router.send_report(&subject, &md_text, &html_text)) {
            match &o.error {
                None => eprintln!("route `{}`: report sent", o.route),
                Some(e) => eprintln!("route `{}`: report not sent: {e}", o.route),
            }
        }
    }
    println!(
        "{} scans since {}: {} new, {} resolved, {} regressed; wrote {} and {}",
        p.scans,
        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        c("new"),
        c("resolved"),
        c("regressed"),
        html.display(),
        md.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The state store whose current state the metrics show.
    #[arg(long, env = "ASSETWARDEN_STATE")]
    state: PathBuf,
    /// Address to serve `/metrics` on.
    #[arg(long, default_value = "127.0.0.1:9477")]
    metrics_addr: String,
}

pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    let listener = std::net::TcpListener::bind(&args.metrics_addr)
        .with_context(|| format!("cannot listen on `{}`", args.metrics_addr))?;
    eprintln!(
        "serving metrics on http://{}/metrics",
        listener.local_addr()?
    );
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
        let mut line = String::new();
        if BufReader::new(&stream).read_line(&mut line).is_err() {
            continue;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/");
        let (status, ctype, body) = match path {
            "/metrics" => match Store::open(&args.state).and_then(|s| s.snapshot()) {
                Ok(snap) => (
                    "200 OK",
                    "text/plain; version=0.0.4; charset=utf-8",
                    metrics::render(&snap),
                ),
                Err(e) => ("500 Internal Server Error", "text/plain", format!("{e}\n")),
            },
            "/healthz" => ("200 OK", "text/plain", "ok\n".to_string()),
            _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
        };
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
