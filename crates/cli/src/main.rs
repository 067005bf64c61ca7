//! `assetwarden`: the command line.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use assetwarden_core::check::CheckMeta;
use assetwarden_core::checks::catalog;
use assetwarden_core::engine::{Keep, ResourceResult};
use assetwarden_core::finding::{Severity, Status};
use assetwarden_core::normalize::RawContext;
use assetwarden_core::output::{self, AsffOptions};
use assetwarden_core::policy::{self, Policy};
use assetwarden_core::report::{ReportBuilder, ScanReport, ScanSink};
use assetwarden_core::resource::Resource;
use assetwarden_core::source::{InventoryFile, SourceEvent};
use assetwarden_core::{Engine, Finding};
use clap::{Parser, Subcommand, ValueEnum};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod aws;
mod demo;
mod iac;
mod ops;
mod remediate;
mod rules;
mod telemetry;

/// Asset governance for cloud estates: classify and tag resources, check their configuration,
/// and say what could not be seen.
#[derive(Parser)]
#[command(name = "assetwarden", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan a bundled web-shop inventory with the example policy (no AWS account needed).
    Demo {
        /// Folder for the report files.
        #[arg(long, default_value = "assetwarden-demo")]
        out: PathBuf,
    },
    /// Scan inventory files against a policy.
    Scan(ScanArgs),
    /// Tag plans: what the classification scheme would add or fix.
    Tag {
        #[command(subcommand)]
        command: TagCommand,
    },
    /// Check a policy file, or print its JSON Schema.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Infrastructure as code: judge a Terraform plan before it is applied.
    Iac {
        #[command(subcommand)]
        command: IacCommand,
    },
    /// What changed between two recorded scans (needs `--state`).
    History(ops::HistoryArgs),
    /// The daily report: HTML (charts as inline SVG) and Markdown, from the state store.
    Report(ops::ReportArgs),
    /// Serve Prometheus metrics from the state store.
    Serve(ops::ServeArgs),
    /// Notifications: send a test message on every route of a policy.
    Notify {
        #[command(subcommand)]
        command: NotifyCommand,
    },
    /// Export findings to other systems.
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// CloudTrail events: the auto-tag path.
    Event {
        #[command(subcommand)]
        command: EventCommand,
    },
    /// Remediation: plan, apply and roll back the fixes for findings that have a safe one.
    Remediate {
        #[command(subcommand)]
        command: remediate::RemediateCommand,
    },
    /// The built-in checks.
    Checks {
        #[command(subcommand)]
        command: ChecksCommand,
    },
    /// Custom rules as WebAssembly modules: inspect one, run its test cases.
    Rules {
        #[command(subcommand)]
        command: rules::RulesCommand,
    },
}

#[derive(Subcommand)]
enum TagCommand {
    /// Print the tag plan for an inventory (nothing is written).
    Plan {
        #[command(flatten)]
        input: InputArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = PlanFormat::Table)]
        format: PlanFormat,
    },
    /// Apply the tag plan on AWS: a dry run unless `--apply`. Current tags are read again first;
    /// a tag someone set since is never overwritten.
    Apply {
        #[command(flatten)]
        input: InputArgs,
        /// Write the tags (default: only say what would be written).
        #[arg(long)]
        apply: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = PlanFormat::Table)]
        format: PlanFormat,
        /// Record the tags written in this state store (SQLite): shown by `report` and in the
        /// metrics.
        #[arg(long)]
        state: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ExportCommand {
    /// Import the findings into AWS Security Hub (ASFF, `BatchImportFindings`); findings of this
    /// tool that pass now are archived.
    Securityhub {
        #[command(flatten)]
        input: InputArgs,
        /// The Security Hub region to import into (default: the configured region).
        #[arg(long)]
        hub_region: Option<String>,
    },
}

#[derive(Subcommand)]
enum EventCommand {
    /// Run the auto-tag path on a CloudTrail event file (EventBridge envelope, bare record, or
    /// CloudTrail log file): tags from the classification scheme, then the checks. A dry run
    /// unless `--apply`.
    Handle {
        /// The event file (JSON).
        file: PathBuf,
        /// The policy file or `ssm:/name`.
        #[arg(long, short = 'p')]
        policy: Option<PathBuf>,
        #[command(flatten)]
        aws: aws::AwsArgs,
        /// Write the tags.
        #[arg(long)]
        apply: bool,
        /// Record the tags written in this state store (SQLite).
        #[arg(long)]
        state: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum NotifyCommand {
    /// Send a test message on each route of the policy's `notifications`.
    Test {
        /// The policy file.
        #[arg(long, short = 'p')]
        policy: PathBuf,
    },
}

#[derive(Subcommand)]
enum IacCommand {
    /// Check a Terraform plan (`terraform show -json PLANFILE > plan.json`) against a policy.
    Check(IacArgs),
}

/// Arguments of `iac check`.
#[derive(clap::Args)]
pub(crate) struct IacArgs {
    /// Plans as JSON (`terraform show -json PLANFILE`; UTF-8, or UTF-16 with a byte-order mark).
    #[arg(required = true, num_args = 1..)]
    pub plans: Vec<PathBuf>,
    /// The policy file (default: every built-in check with its defaults, no classification).
    #[arg(long, short = 'p')]
    pub policy: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the output to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Also append a Markdown summary to this file (e.g. `$GITHUB_STEP_SUMMARY`).
    #[arg(long)]
    pub summary: Option<PathBuf>,
    /// Where the `.tf` files are, to point SARIF results at their lines (default: the plan's folder).
    #[arg(long)]
    pub source_dir: Option<PathBuf>,
    /// Exit with status 1 when a failure of at least this severity is found.
    #[arg(long, value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
    /// With --fail-on: count UNKNOWN (known only after apply) and ERROR results too.
    #[arg(long)]
    pub fail_on_unknown: bool,
    /// Leave PASS results out of the output.
    #[arg(long)]
    pub no_pass: bool,
    /// Evaluation time (RFC 3339); default now.
    #[arg(long)]
    pub now: Option<String>,
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate policy files; every problem is listed with its file, line and column.
    Check {
        /// The policy files (YAML or JSON).
        #[arg(required = true, num_args = 1..)]
        files: Vec<PathBuf>,
    },
    /// Print the policy document's JSON Schema.
    Schema,
}

#[derive(Subcommand)]
enum ChecksCommand {
    /// List the built-in checks: id, title, severity, references, resource types.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        /// Only checks of this framework (`cis-aws`, `securityhub-fsbp`, `assetwarden`).
        #[arg(long)]
        framework: Option<String>,
    },
}

#[derive(Copy, Clone, ValueEnum, PartialEq)]
enum ListFormat {
    Table,
    Json,
}

#[derive(Copy, Clone, ValueEnum, PartialEq)]
enum PlanFormat {
    Table,
    Json,
}

#[derive(Copy, Clone, ValueEnum, PartialEq, Debug)]
pub(crate) enum Format {
    Table,
    Json,
    Ndjson,
    Asff,
    Sarif,
    Markdown,
}

#[derive(clap::Args)]
pub(crate) struct InputArgs {
    /// Inventory files: JSON arrays or NDJSON of AWS Config items, or raw API responses.
    #[arg(
        long = "inventory",
        short = 'i',
        required_unless_present = "aws",
        num_args = 1
    )]
    inventory: Vec<PathBuf>,
    #[command(flatten)]
    aws: aws::AwsArgs,
    /// The policy file, or `ssm:/parameter/name` for one kept in SSM Parameter Store (default:
    /// every built-in check with its defaults, no classification).
    #[arg(long, short = 'p')]
    policy: Option<PathBuf>,
    /// Account for raw API responses that do not name one.
    #[arg(long)]
    account: Option<String>,
    /// Region for raw API responses that do not name one.
    #[arg(long)]
    region: Option<String>,
    /// Evaluation time (RFC 3339); default now.
    #[arg(long)]
    now: Option<String>,
    /// Parse every attribute of every record. By default only the configuration keys that the
    /// selected checks, scopes and classification read are parsed (the verdicts are the same;
    /// this is for comparison and troubleshooting).
    #[arg(long)]
    full_parse: bool,
}

#[derive(clap::Args)]
struct ScanArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the output to this file instead of standard output.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
    /// Exit with status 1 when a failure of at least this severity is found (for CI gates).
    #[arg(long, value_parser = parse_severity)]
    fail_on: Option<Severity>,
    /// With --fail-on: count UNKNOWN and ERROR results of that severity as failures too.
    #[arg(long)]
    fail_on_unknown: bool,
    /// Include NOT_APPLICABLE results in JSON, NDJSON and SARIF output.
    #[arg(long)]
    include_not_applicable: bool,
    /// Leave PASS results out of JSON, NDJSON and SARIF output.
    #[arg(long)]
    no_pass: bool,
    /// Resources evaluated per batch (memory is bounded by it).
    #[arg(long, default_value_t = 4096)]
    batch_size: usize,
    /// Record the scan in this state store (SQLite): history, transitions, metrics.
    #[arg(long, env = "ASSETWARDEN_STATE")]
    state: Option<PathBuf>,
    /// Write Prometheus metrics to this file (node_exporter's textfile collector); needs `--state`.
    #[arg(long, requires = "state")]
    metrics_file: Option<PathBuf>,
    /// Announce new and regressed findings on the policy's notification routes; needs `--state`
    /// (which remembers what was already announced, and keeps an outbox of what could not be).
    #[arg(long, requires = "state")]
    notify: bool,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _telemetry = telemetry::init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let mut msg = format!("error: {e}");
            for cause in e.chain().skip(1) {
                msg.push_str(&format!("\n  caused by: {cause}"));
            }
            eprintln!("{msg}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Demo { out } => demo::run(&out),
        Command::Scan(args) => scan(args),
        Command::Iac {
            command: IacCommand::Check(args),
        } => iac::check(args),
        Command::History(args) => ops::history(args),
        Command::Report(args) => ops::report(args),
        Command::Serve(args) => ops::serve(args),
        Command::Notify {
            command: NotifyCommand::Test { policy },
        } => ops::notify_test(&load_policy(Some(&policy))?),
        Command::Tag {
            command: TagCommand::Plan { input, format },
        } => tag_plan(input, format),
        Command::Remediate { command } => remediate::run(command),
        Command::Tag {
            command:
                TagCommand::Apply {
                    input,
                    apply,
                    format,
                    state,
                },
        } => {
            let engine = build_engine(&input, 4096)?;
            if engine.governed_keys().is_empty() {
                bail!("the policy has no classification scheme, so there is nothing to tag");
            }
            let ctx = raw_ctx(&input)?;
            let report = run_scan(&engine, &input, &ctx, None, false, false, false)?;
            if report.errors.iter().any(|e| e.kind == "input") {
                bail!(
                    "some records could not be read; nothing is tagged from an incomplete inventory"
                );
            }
            let rt = ops::runtime()?;
            aws::tag_apply(
                &rt,
                &input.aws,
                report.tag_plans,
                apply,
                format == PlanFormat::Json,
                state.as_deref(),
            )
        }
        Command::Export {
            command: ExportCommand::Securityhub { input, hub_region },
        } => {
            let engine = build_engine(&input, 4096)?;
            let ctx = raw_ctx(&input)?;
            let report = run_scan(&engine, &input, &ctx, None, true, false, true)?;
            let rt = ops::runtime()?;
            aws::export_securityhub(&rt, &input.aws, &report.findings, hub_region)
        }
        Command::Event {
            command:
                EventCommand::Handle {
                    file,
                    policy,
                    aws: aws_args,
                    apply,
                    state,
                },
        } => {
            let policy = load_policy(policy.as_deref())?;
            let engine = Engine::builder().policy(policy).build()?;
            let rt = ops::runtime()?;
            let (code, outcomes) =
                aws::event_handle(&rt, &aws_args, &file, &engine, apply, state.as_deref())?;
            println!("{}", serde_json::to_string_pretty(&outcomes)?);
            Ok(code)
        }
        Command::Policy {
            command: PolicyCommand::Check { files },
        } => {
            let mut bad = 0;
            for file in &files {
                match load_policy(Some(file)).and_then(|p| {
                    let n_tags = p
                        .classification
                        .as_ref()
                        .map(|c| c.rules.len())
                        .unwrap_or(0);
                    let (rules, exceptions) = (p.rules.len(), p.exceptions.len());
                    let engine = Engine::builder().policy(p).build()?;
                    Ok((engine.checks().len(), rules, n_tags, exceptions))
                }) {
                    Ok((checks, rules, tags, exceptions)) => println!(
                        "{}: valid ({checks} checks selected, {rules} declarative rules, {tags} governed tags, {exceptions} exceptions)",
                        file.display()
                    ),
                    Err(e) => {
                        bad += 1;
                        eprintln!("error: {e}");
                    }
                }
            }
            Ok(if bad > 0 {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Policy {
            command: PolicyCommand::Schema,
        } => {
            println!("{}", serde_json::to_string_pretty(&policy::json_schema())?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules { command } => Ok(ExitCode::from(rules::run(command)? as u8)),
        Command::Checks {
            command: ChecksCommand::List { format, framework },
        } => {
            let mut cat = catalog();
            if let Some(f) = &framework {
                cat.retain(|m| m.references.frameworks.contains(f));
                if cat.is_empty() {
                    bail!("no check belongs to framework `{f}`");
                }
            }
            match format {
                ListFormat::Json => println!("{}", serde_json::to_string_pretty(&cat)?),
                ListFormat::Table => print!("{}", checks_table(&cat)),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn checks_table(cat: &[CheckMeta]) -> String {
    let mut out = format!(
        "{:<36} {:<9} {:<14} {:<48} {:<42} TITLE\n",
        "ID", "SEVERITY", "SECURITY HUB", "CIS", "RESOURCE TYPES"
    );
    for m in cat {
        let cis: Vec<String> = m
            .references
            .cis
            .iter()
            .map(|c| c.replace("CIS AWS Foundations Benchmark ", ""))
            .collect();
        out.push_str(&format!(
            "{:<36} {:<9} {:<14} {:<48} {:<42} {}\n",
            m.id,
            m.severity.as_str(),
            m.references.securityhub.as_deref().unwrap_or("-"),
            if cis.is_empty() {
                "-".to_string()
            } else {
                cis.join(", ")
            },
            m.resource_types.join(", "),
            m.title
        ));
    }
    out.push_str(&format!("\n{} checks\n", cat.len()));
    out
}

/// Loads a policy (the bundled example when `path` is `None`).
pub(crate) fn load_policy(path: Option<&Path>) -> Result<Policy> {
    let cat = catalog();
    match path {
        Some(p) if p.to_str().is_some_and(|s| s.starts_with("ssm:")) => {
            let name = p
                .to_str()
                .unwrap_or_default()
                .trim_start_matches("ssm:")
                .to_string();
            ops::runtime()?
                .block_on(async {
                    let cfg =
                        aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                    assetwarden_aws::Ssm::new(&cfg).policy(&name).await
                })
                .map_err(|e| anyhow!("{e}"))
        }
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read policy `{}`", p.display()))?;
            // The WebAssembly rules the policy names are loaded with it.
            let rt = assetwarden_rules_wasm::Runtime::new();
            assetwarden_rules_wasm::load_policy(&rt, &text, &p.display().to_string(), Some(p), &cat)
                .map_err(|e| anyhow!("{e}"))
        }
        // No policy: every built-in check with its defaults, no classification, no exceptions.
        None => Policy::from_str_named(
            "version: 1\nname: built-in checks\n",
            "<built-in defaults>",
            &cat,
        )
        .map_err(|e| anyhow!("{e}")),
    }
}

/// The table's width: the terminal's, or unlimited when the output is a file or a pipe.
pub(crate) fn table_width() -> usize {
    if std::io::stdout().is_terminal() {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(160)
    } else {
        usize::MAX / 4
    }
}

pub(crate) fn parse_now(now: Option<&str>) -> Result<chrono::DateTime<chrono::Utc>> {
    match now {
        None => Ok(chrono::Utc::now()),
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&chrono::Utc))
            .map_err(|e| {
                anyhow!("invalid `--now` `{s}`: {e} (expected RFC 3339, e.g. 2026-11-27T00:00:00Z)")
            }),
    }
}

fn build_engine(input: &InputArgs, batch_size: usize) -> Result<Engine> {
    let policy = load_policy(input.policy.as_deref())?;
    Ok(Engine::builder()
        .policy(policy)
        .now(parse_now(input.now.as_deref())?)
        .batch_size(batch_size)
        .build()?)
}

fn raw_ctx(input: &InputArgs) -> Result<RawContext> {
    if let Some(a) = &input.account
        && (a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
    {
        bail!("`--account` `{a}` is not a 12-digit account id");
    }
    Ok(RawContext {
        account: input.account.clone(),
        region: input.region.clone(),
        partition: None,
    })
}

/// A sink that tallies into a report, writes NDJSON lines as they come, reports input errors
/// on stderr, and drives the progress bar.
struct CliSink<'a> {
    report: ReportBuilder,
    ndjson: Option<&'a mut dyn Write>,
    /// Which PASS / NOT_APPLICABLE findings are written to `ndjson`.
    streamed: Keep,
    progress: Option<indicatif::ProgressBar>,
    write_error: Option<std::io::Error>,
}

impl ScanSink for CliSink<'_> {
    fn on_result(&mut self, r: &Resource, res: &ResourceResult) {
        self.report.on_result(r, res);
        self.stream(&res.findings);
    }
    // As `on_result` for each, with the batch's NDJSON lines rendered on every core.
    fn on_batch(&mut self, resources: &[Resource], results: &[ResourceResult]) {
        for (r, res) in resources.iter().zip(results) {
            self.report.on_result(r, res);
        }
        let Some(w) = self.ndjson.as_mut() else {
            return;
        };
        if self.write_error.is_some() {
            return;
        }
        let streamed = self.streamed;
        let lines = output::ndjson_batch(results, &|f| streamed.keeps(f.status));
        if let Err(e) = w.write_all(&lines) {
            self.write_error = Some(e);
        }
    }
    fn on_event(&mut self, e: &SourceEvent) {
        if let SourceEvent::Error { location, message } = e {
            let line = format!("error: {location}: {message}");
            match &self.progress {
                Some(p) => p.println(line),
                None => eprintln!("{line}"),
            }
        }
        self.report.on_event(e);
    }
    fn on_findings(&mut self, fs: &[Finding]) {
        self.report.on_findings(fs);
        self.stream(fs);
    }
    fn on_progress(&mut self, done: u64) {
        if let Some(p) = &self.progress {
            p.set_position(done);
        }
    }
    fn keeps(&self, status: Status) -> bool {
        (self.ndjson.is_some() && self.streamed.keeps(status)) || self.report.keeps(status)
    }
}

impl CliSink<'_> {
    fn stream(&mut self, fs: &[Finding]) {
        let Some(w) = self.ndjson.as_mut() else {
            return;
        };
        for f in fs {
            if self.streamed.keeps(f.status)
                && self.write_error.is_none()
                && let Err(e) = writeln!(w, "{}", output::ndjson_line(f))
            {
                self.write_error = Some(e);
            }
        }
    }
}

fn progress_bar() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let p = indicatif::ProgressBar::new_spinner();
    p.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {pos} resources scanned ({per_sec}) {elapsed}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    p.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(p)
}

/// Runs a scan over every inventory file.
pub(crate) fn run_scan(
    engine: &Engine,
    input: &InputArgs,
    ctx: &RawContext,
    ndjson: Option<&mut dyn Write>,
    keep_pass: bool,
    keep_na: bool,
    force_keep: bool,
) -> Result<ScanReport> {
    // A state store needs every verdict (a PASS resolves a failure), whatever is printed.
    let keep = ndjson.is_none() || force_keep;
    let mut sink = CliSink {
        report: engine
            .report_builder(keep)
            .keep_pass(keep_pass || force_keep)
            .keep_not_applicable(keep_na),
        ndjson,
        streamed: Keep {
            pass: keep_pass,
            not_applicable: keep_na,
        },
        progress: progress_bar(),
        write_error: None,
    };
    let projection = (!input.full_parse).then(|| std::sync::Arc::new(engine.projection()));
    for f in &input.inventory {
        let src = InventoryFile::new(f)
            .raw_context(ctx.clone())
            .projection(projection.clone());
        let events = src.events().map_err(|e| anyhow!("{e}"))?;
        engine.scan_iter(events, &mut sink);
    }
    if input.aws.aws {
        let rt = ops::runtime()?;
        let rx = aws::live_events(&rt, &input.aws)?;
        engine.scan_iter(rx.into_iter(), &mut sink);
        if input.aws.inspector || input.aws.budgets {
            let budgets = if input.aws.budgets {
                Some(
                    load_policy(input.policy.as_deref())?
                        .doc
                        .budgets
                        .unwrap_or_default(),
                )
            } else {
                None
            };
            let (findings, events) = aws::extra_findings(&rt, &input.aws, budgets, engine.now())?;
            for e in &events {
                sink.on_event(e);
            }
            sink.on_findings(&findings);
        }
    }
    if let Some(p) = &sink.progress {
        p.finish_and_clear();
    }
    if let Some(e) = sink.write_error {
        return Err(anyhow!("cannot write the output: {e}"));
    }
    let mut report = engine.finish(sink.report);
    report.api_calls = aws::api_calls();
    Ok(report)
}

fn scan(args: ScanArgs) -> Result<ExitCode> {
    let engine = build_engine(&args.input, args.batch_size)?;
    let ctx = raw_ctx(&args.input)?;
    let mut file_out: Option<std::fs::File> = match &args.output {
        Some(p) => Some(
            std::fs::File::create(p).with_context(|| format!("cannot create `{}`", p.display()))?,
        ),
        None => None,
    };
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let report = if args.format == Format::Ndjson {
        let w: &mut dyn Write = match file_out.as_mut() {
            Some(f) => f,
            None => &mut lock,
        };
        let mut bw = std::io::BufWriter::new(w);
        let r = run_scan(
            &engine,
            &args.input,
            &ctx,
            Some(&mut bw),
            !args.no_pass,
            args.include_not_applicable,
            args.state.is_some(),
        )?;
        bw.flush()?;
        r
    } else {
        run_scan(
            &engine,
            &args.input,
            &ctx,
            None,
            !args.no_pass,
            args.include_not_applicable,
            args.state.is_some(),
        )?
    };
    let mut report = report;
    if let Some(state) = &args.state {
        let mut labels: Vec<String> = args
            .input
            .inventory
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        if args.input.aws.aws {
            labels.push(if args.input.aws.regions.is_empty() {
                "aws".to_string()
            } else {
                format!("aws:{}", args.input.aws.regions.join(","))
            });
        }
        let label = labels.join(", ");
        let scan_id = ops::record(state, &report, &label, args.metrics_file.as_deref())?;
        if args.notify {
            let policy = load_policy(args.input.policy.as_deref())?;
            ops::notify(state, scan_id, &report, &policy)?;
        }
        if args.no_pass {
            report
                .findings
                .retain(|f| f.status != assetwarden_core::Status::Pass);
        }
    }
    let text = match args.format {
        Format::Ndjson => None,
        Format::Table => Some(output::table(&report, table_width())),
        Format::Json => Some(output::json(&report)),
        Format::Markdown => Some(output::markdown(&report)),
        Format::Sarif => Some(serde_json::to_string_pretty(&output::sarif(&report))?),
        Format::Asff => {
            let (v, problems) = output::asff(&report, &AsffOptions::default());
            for p in problems {
                eprintln!("warning: {p}");
            }
            Some(serde_json::to_string_pretty(&v)?)
        }
    };
    if let Some(t) = text {
        match file_out.as_mut() {
            Some(f) => {
                f.write_all(t.as_bytes())?;
                if !t.ends_with('\n') {
                    f.write_all(b"\n")?;
                }
            }
            None => {
                lock.write_all(t.as_bytes())?;
                if !t.ends_with('\n') {
                    lock.write_all(b"\n")?;
                }
            }
        }
    }
    if args.format != Format::Table {
        eprintln!("{}", output::summary_line(&report));
    }
    for e in &report.expired_exceptions {
        eprintln!(
            "warning: exception `{}` (owner {}) expired on {}{}; it no longer suppresses anything",
            e.id,
            e.owner,
            e.expires,
            e.location
                .as_deref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default()
        );
    }
    Ok(exit_code(&report, args.fail_on, args.fail_on_unknown))
}

pub(crate) fn exit_code(
    report: &ScanReport,
    fail_on: Option<Severity>,
    unknown_too: bool,
) -> ExitCode {
    if let Some(min) = fail_on {
        let breach = report
            .summary
            .failures_by_severity
            .iter()
            .any(|(s, n)| *s >= min && *n > 0)
            || (unknown_too
                && report.findings.iter().any(|f| {
                    matches!(f.status, Status::Unknown | Status::Error) && f.severity >= min
                }));
        if breach {
            eprintln!("failing: findings of severity {min} or higher");
            return ExitCode::from(1);
        }
    }
    if report.errors.iter().any(|e| e.kind == "input") {
        eprintln!("some records could not be read (see the errors above)");
        return ExitCode::from(3);
    }
    ExitCode::SUCCESS
}

fn tag_plan(input: InputArgs, format: PlanFormat) -> Result<ExitCode> {
    let engine = build_engine(&input, 4096)?;
    if engine.governed_keys().is_empty() {
        bail!("the policy has no classification scheme, so there is no tag plan");
    }
    let ctx = raw_ctx(&input)?;
    let report = run_scan(&engine, &input, &ctx, None, false, false, false)?;
    match format {
        PlanFormat::Json => println!("{}", serde_json::to_string_pretty(&report.tag_plans)?),
        PlanFormat::Table => print!("{}", demo::plan_table(&report, usize::MAX)),
    }
    Ok(if report.errors.iter().any(|e| e.kind == "input") {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}
