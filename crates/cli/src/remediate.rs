//! `remediate list|plan|apply|rollback`: safe remediation on AWS.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use assetwarden_core::Engine;
use assetwarden_core::remediate::{
    self, ApplyOptions, Approval, Approvals, ChangeRecord, Outcome, Plan, RemediationDoc,
};

use crate::aws::{AwsArgs, sdk_config};
use crate::{InputArgs, load_policy, ops, raw_ctx, run_scan};

#[derive(clap::Subcommand)]
pub(crate) enum RemediateCommand {
    /// The remediations: the checks each fixes, its API calls, IAM actions and undo.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Plan the fixes for the failing findings of a scan (files or `--aws`): before → after per
    /// change, read live from AWS. Nothing is changed.
    Plan {
        #[command(flatten)]
        input: InputArgs,
        /// Where to save the plan (JSON), for review and `remediate apply`.
        #[arg(long, short = 'o', default_value = "remediation-plan.json")]
        out: PathBuf,
        /// Print the plan as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Apply a saved plan: the changes the policy lets run unattended, and those approved with
    /// `--approve`. A change whose resource moved since the plan is refused.
    Apply {
        /// The plan file from `remediate plan`.
        plan: PathBuf,
        /// Approve changes by id (`c1,c3`) or `all`.
        #[arg(long, value_delimiter = ',')]
        approve: Vec<String>,
        /// The policy (its `remediation` section: unattended, never, limits).
        #[arg(long, short = 'p')]
        policy: Option<PathBuf>,
        #[command(flatten)]
        aws: AwsArgs,
        /// Record every change in this state store (and resolve the findings it fixed).
        #[arg(long)]
        state: Option<PathBuf>,
        /// Also write the records (JSON) here: `remediate rollback` can read them back.
        #[arg(long)]
        journal: Option<PathBuf>,
        /// Send the changes made (and the failures) on the policy's notification routes.
        #[arg(long)]
        notify: bool,
        /// Who approved or runs it, for the records (default `cli:$USER`).
        #[arg(long)]
        by: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Roll back the changes a plan applied, to their previous values (a change someone made
    /// since is left alone).
    Rollback {
        /// The plan's id (`rp-…`).
        plan_id: String,
        /// Read the records from this state store (and record the rollback there).
        #[arg(long, required_unless_present = "journal")]
        state: Option<PathBuf>,
        /// Read the records from a journal written by `remediate apply --journal`.
        #[arg(long)]
        journal: Option<PathBuf>,
        #[command(flatten)]
        aws: AwsArgs,
        /// Who runs it, for the records (default `cli:$USER`).
        #[arg(long)]
        by: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn who(by: Option<String>) -> String {
    by.unwrap_or_else(|| {
        format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        )
    })
}

fn doc_of(policy: &assetwarden_core::Policy) -> RemediationDoc {
    policy.doc.remediation.clone().unwrap_or_default()
}

pub(crate) fn run(cmd: RemediateCommand) -> Result<ExitCode> {
    match cmd {
        RemediateCommand::List { json } => {
            if json {
                println!("{}", serde_json::to_string_pretty(remediate::catalog())?);
            } else {
                for s in remediate::catalog() {
                    println!("{}\n  {}", s.id, s.title);
                    println!("  fixes:    {}", s.fixes.join(", "));
                    println!("  calls:    {}", s.api_calls.join(", "));
                    println!("  needs:    {}", s.iam_actions.join(", "));
                    println!("  undo:     {}", s.undo);
                    println!("  not done: {}\n", s.limits);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        RemediateCommand::Plan { input, out, json } => plan(input, &out, json),
        RemediateCommand::Apply {
            plan,
            approve,
            policy,
            aws,
            state,
            journal,
            notify,
            by,
            json,
        } => {
            let policy = load_policy(policy.as_deref())?;
            let text = std::fs::read_to_string(&plan)
                .with_context(|| format!("cannot read the plan `{}`", plan.display()))?;
            let p: Plan = serde_json::from_str(&text).map_err(|e| {
                anyhow!(
                    "{}:{}:{}: not a plan: {e}",
                    plan.display(),
                    e.line(),
                    e.column()
                )
            })?;
            if !p.intact() {
                bail!(
                    "{}: the plan was edited after it was made (its id {} does not match its content {}); make a new plan and review it",
                    plan.display(),
                    p.id,
                    p.digest()
                );
            }
            let approvals = if approve.iter().any(|a| a == "all") {
                Approvals::All
            } else if approve.is_empty() {
                Approvals::UnattendedOnly
            } else {
                let ids: BTreeSet<String> = approve.into_iter().collect();
                if let Some(bad) = ids.iter().find(|i| !p.changes.iter().any(|c| &c.id == *i)) {
                    bail!("--approve {bad}: the plan has no such change");
                }
                Approvals::Ids(ids)
            };
            let doc = doc_of(&policy);
            let mut opts = ApplyOptions::from_doc(&doc, approvals, &who(by));
            if doc.max_changes_per_account_per_day.is_some() {
                match &state {
                    Some(s) if s.exists() => {
                        let since = chrono::Utc::now() - chrono::Duration::hours(24);
                        let recent =
                            assetwarden_state::Store::open(s)?.applied_by_account(since)?;
                        opts = opts.recent(recent);
                    }
                    _ => eprintln!(
                        "note: `max_changes_per_account_per_day` counts earlier runs from the state store; without --state only this run counts"
                    ),
                }
            }
            let engine = Arc::new(Engine::builder().policy(policy.clone()).build()?);
            let rt = ops::runtime()?;
            let records = rt.block_on(async {
                let sdk = sdk_config(&aws).await;
                assetwarden_aws::remediate::apply_plan(&sdk, &p, &doc, &opts, engine)
                    .await
                    .map_err(|f| anyhow!("cannot identify the account: {f}"))
            })?;
            finish(&records, state.as_deref(), journal.as_deref(), json)?;
            if notify {
                notify_changes(&policy, &records)?;
            }
            Ok(exit(&records))
        }
        RemediateCommand::Rollback {
            plan_id,
            state,
            journal,
            aws,
            by,
            json,
        } => {
            let records: Vec<ChangeRecord> = match (&journal, &state) {
                (Some(j), _) => {
                    let text = std::fs::read_to_string(j)
                        .with_context(|| format!("cannot read the journal `{}`", j.display()))?;
                    let all: Vec<ChangeRecord> = serde_json::from_str(&text).map_err(|e| {
                        anyhow!(
                            "{}:{}:{}: not a journal: {e}",
                            j.display(),
                            e.line(),
                            e.column()
                        )
                    })?;
                    all.into_iter().filter(|r| r.plan_id == plan_id).collect()
                }
                (None, Some(s)) => {
                    if !s.exists() {
                        bail!("no state store at `{}`", s.display());
                    }
                    assetwarden_state::Store::open(s)?.remediation_records(&plan_id)?
                }
                (None, None) => bail!("give --state or --journal"),
            };
            if !records.iter().any(|r| r.outcome == Outcome::Applied) {
                bail!("plan {plan_id}: no applied change recorded, nothing to roll back");
            }
            let rt = ops::runtime()?;
            let done = rt.block_on(async {
                let sdk = sdk_config(&aws).await;
                let rems = assetwarden_aws::remediate::remediators(&sdk)
                    .await
                    .map_err(|f| anyhow!("cannot identify the account: {f}"))?;
                anyhow::Ok(remediate::rollback(&records, &rems, &who(by), chrono::Utc::now).await)
            })?;
            finish(&done, state.as_deref(), None, json)?;
            Ok(exit(&done))
        }
    }
}

fn plan(input: InputArgs, out: &Path, json: bool) -> Result<ExitCode> {
    let policy = load_policy(input.policy.as_deref())?;
    let doc = doc_of(&policy);
    let engine = Engine::builder()
        .policy(policy.clone())
        .now(crate::parse_now(input.now.as_deref())?)
        .build()?;
    let ctx = raw_ctx(&input)?;
    let report = run_scan(&engine, &input, &ctx, None, false, false, false)?;
    let rt = ops::runtime()?;
    let plan = rt.block_on(async {
        let sdk = sdk_config(&input.aws).await;
        let rems = assetwarden_aws::remediate::remediators(&sdk)
            .await
            .map_err(|f| anyhow!("cannot identify the account: {f}"))?;
        anyhow::Ok(
            remediate::plan(
                &report.findings,
                &rems,
                &doc,
                &policy.doc.name.clone().unwrap_or_default(),
                chrono::Utc::now(),
            )
            .await,
        )
    })?;
    let text = serde_json::to_string_pretty(&plan)?;
    std::fs::write(out, format!("{text}\n"))
        .with_context(|| format!("cannot write `{}`", out.display()))?;
    if json {
        println!("{text}");
    } else {
        print!("{}", plan_table(&plan));
    }
    let unattended = plan
        .changes
        .iter()
        .filter(|c| c.approval == Approval::Unattended)
        .count();
    eprintln!(
        "plan {}: {} changes ({} unattended, {} need approval), {} findings left alone, {} without an automatic fix; saved to {}",
        plan.id,
        plan.changes.len(),
        unattended,
        plan.changes.len() - unattended,
        plan.skipped.len(),
        plan.without_remediation,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn plan_table(p: &Plan) -> String {
    let mut o = format!(
        "{:<4} {:<40} {:<10} {:<60} CHANGE\n",
        "ID", "REMEDIATION", "APPROVAL", "RESOURCE"
    );
    for c in &p.changes {
        o.push_str(&format!(
            "{:<4} {:<40} {:<10} {:<60} {} -> {}\n",
            c.id,
            c.remediation,
            match c.approval {
                Approval::Unattended => "unattended",
                Approval::Required => "approval",
            },
            c.target.arn,
            c.before,
            c.after
        ));
    }
    for s in &p.skipped {
        o.push_str(&format!(
            "-    {:<40} {:<10} {:<60} {}\n",
            s.check_id, "left", s.arn, s.reason
        ));
    }
    o
}

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Applied => "applied",
        Outcome::Skipped => "skipped",
        Outcome::Refused => "REFUSED",
        Outcome::Failed => "FAILED",
        Outcome::RolledBack => "rolled-back",
    }
}

fn finish(
    records: &[ChangeRecord],
    state: Option<&Path>,
    journal: Option<&Path>,
    json: bool,
) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(records)?);
    } else {
        println!(
            "{:<4} {:<12} {:<40} {:<60} DETAIL",
            "ID", "OUTCOME", "REMEDIATION", "RESOURCE"
        );
        for r in records {
            let via = r
                .runbook
                .as_ref()
                .map(|x| {
                    format!(
                        " [runbook {} execution {}: {}]",
                        x.document, x.execution_id, x.status
                    )
                })
                .unwrap_or_default();
            let detail = match r.outcome {
                Outcome::Applied if r.resolved() => {
                    format!("{} -> {} (resolved)", r.before, r.after)
                }
                Outcome::Applied => format!("{} -> {}; {}", r.before, r.after, r.message),
                Outcome::RolledBack => format!("{} -> {}", r.after, r.before),
                _ => r.message.clone(),
            };
            println!(
                "{:<4} {:<12} {:<40} {:<60} {detail}{via}",
                r.change_id,
                outcome(r.outcome),
                r.remediation,
                r.target.arn
            );
        }
    }
    let n = |o: Outcome| records.iter().filter(|r| r.outcome == o).count();
    eprintln!(
        "{} changes: {} applied ({} resolved), {} rolled back, {} skipped, {} refused, {} failed",
        records.len(),
        n(Outcome::Applied),
        records.iter().filter(|r| r.resolved()).count(),
        n(Outcome::RolledBack),
        n(Outcome::Skipped),
        n(Outcome::Refused),
        n(Outcome::Failed)
    );
    if let Some(j) = journal {
        let mut all: Vec<ChangeRecord> = match std::fs::read_to_string(j) {
            Ok(t) => serde_json::from_str(&t).unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        all.extend(records.iter().cloned());
        std::fs::write(j, serde_json::to_string_pretty(&all)?)
            .with_context(|| format!("cannot write `{}`", j.display()))?;
    }
    if let Some(s) = state {
        let mut store = assetwarden_state::Store::open(s)?;
        let resolved = store.record_remediations(records)?;
        eprintln!(
            "recorded {} remediation results in {} ({} findings resolved)",
            records.len(),
            s.display(),
            resolved
        );
    }
    Ok(())
}

fn exit(records: &[ChangeRecord]) -> ExitCode {
    if records
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Failed | Outcome::Refused))
    {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn notify_changes(policy: &assetwarden_core::Policy, records: &[ChangeRecord]) -> Result<()> {
    let findings: Vec<assetwarden_core::Finding> = records
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                Outcome::Applied | Outcome::Failed | Outcome::Refused | Outcome::RolledBack
            )
        })
        .map(ChangeRecord::to_finding)
        .collect();
    if findings.is_empty() {
        return Ok(());
    }
    ops::notify_findings(
        policy,
        &findings,
        &format!("Assetwarden: {} remediation(s) run", findings.len()),
    )
}
