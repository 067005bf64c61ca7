//! `assetwarden demo`: the bundled web-shop inventory scanned with the example policy.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use assetwarden_core::Engine;
use assetwarden_core::finding::{Severity, Status};
use assetwarden_core::normalize::RawContext;
use assetwarden_core::output::{self, AsffOptions};
use assetwarden_core::policy::EXAMPLE_POLICY;
use assetwarden_core::report::ScanReport;

/// The bundled inventory: 261 AWS Config items of a web shop over two accounts and two regions.
pub const DEMO_INVENTORY: &str = include_str!("../demo/inventory.ndjson");

/// The tag plan as a table (at most `limit` rows).
pub fn plan_table(report: &ScanReport, limit: usize) -> String {
    let mut out = String::new();
    let mut rows = 0;
    for p in &report.tag_plans {
        for c in &p.changes {
            if rows < limit {
                let arn = if p.arn.chars().count() > 70 {
                    format!(
                        "…{}",
                        p.arn
                            .chars()
                            .rev()
                            .take(69)
                            .collect::<Vec<_>>()
                            .into_iter()
                            .rev()
                            .collect::<String>()
                    )
                } else {
                    p.arn.clone()
                };
                out.push_str(&format!(
                    "  {:<4} {:<72} {:<18} {:<24} {}\n",
                    match c.action {
                        assetwarden_core::classify::TagAction::Add => "add",
                        assetwarden_core::classify::TagAction::Fix => "fix",
                    },
                    arn,
                    c.key,
                    match &c.old_value {
                        Some(o) => format!("{o} -> {}", c.new_value),
                        None => c.new_value.clone(),
                    },
                    c.reason
                ));
            }
            rows += 1;
        }
        for r in &p.refused {
            out.push_str(&format!("  refused {}: {r}\n", p.arn));
        }
    }
    if rows > limit {
        out.push_str(&format!(
            "  … and {} more changes (see tag-plan.json)\n",
            rows - limit
        ));
    }
    out.push_str(&format!(
        "{} changes on {} resources; nothing is written by a plan\n",
        rows,
        report
            .tag_plans
            .iter()
            .filter(|p| !p.changes.is_empty())
            .count()
    ));
    out
}

pub fn run(out: &Path) -> Result<ExitCode> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create `{}`", out.display()))?;
    let inv = out.join("inventory.ndjson");
    std::fs::write(&inv, DEMO_INVENTORY)
        .with_context(|| format!("cannot write `{}`", inv.display()))?;
    let pol = out.join("policy.yaml");
    std::fs::write(&pol, EXAMPLE_POLICY)
        .with_context(|| format!("cannot write `{}`", pol.display()))?;
    let policy = crate::load_policy(Some(&pol))?;
    let engine = Engine::builder().policy(policy).build()?;
    let report = crate::run_scan(
        &engine,
        &crate::InputArgs {
            inventory: vec![inv.clone()],
            aws: Default::default(),
            policy: None,
            account: None,
            region: None,
            now: None,
            full_parse: false,
        },
        &RawContext::default(),
        None,
        true,
        false,
        false,
    )?;

    println!(
        "Assetwarden demo: a web shop on AWS (2 accounts, 2 regions), scanned with the example policy\n"
    );
    println!(
        "Inventory: {} resources of {} types, {} checks",
        report.coverage.resources,
        report.coverage.resources_by_type.len(),
        engine.checks().len()
    );

    println!("\n== Classification (after the tag plan) ==");
    for key in ["DataClassification", "Environment", "AssetGrade", "Owner"] {
        if let Some(vals) = report.classification.get(key) {
            let mut v: Vec<_> = vals.iter().collect();
            v.sort_by(|a, b| b.1.cmp(a.1));
            let parts: Vec<String> = v.iter().map(|(k, n)| format!("{k} {n}")).collect();
            println!("  {key:<19} {}", parts.join(", "));
        }
    }

    println!("\n== Tag plan ==");
    print!("{}", plan_table(&report, 15));

    let is_tag =
        |f: &&assetwarden_core::Finding| f.kind == assetwarden_core::finding::CheckKind::TagPolicy;
    let tag_fail: Vec<_> = report
        .findings
        .iter()
        .filter(|f| is_tag(f) && f.status == Status::Fail)
        .collect();
    let fixable = tag_fail
        .iter()
        .filter(|f| f.message.contains("; the tag plan "))
        .count();
    let mut untagged: Vec<&str> = tag_fail.iter().map(|f| f.resource.arn.as_str()).collect();
    untagged.sort();
    untagged.dedup();
    println!(
        "  tag policy: {} missing or invalid tags on {} resources; the plan fixes {}, {} need a person",
        tag_fail.len(),
        untagged.len(),
        fixable,
        tag_fail.len() - fixable
    );

    println!("\n== Configuration findings by severity ==");
    let mut by: BTreeMap<Severity, Vec<&assetwarden_core::Finding>> = BTreeMap::new();
    for f in report
        .findings
        .iter()
        .filter(|f| f.status == Status::Fail && !is_tag(f))
    {
        by.entry(f.severity).or_default().push(f);
    }
    for sev in Severity::ALL.iter().rev() {
        let fs = by.get(sev).map(Vec::as_slice).unwrap_or(&[]);
        println!("  {:<13} {}", sev.as_str(), fs.len());
    }
    println!("\n  Most severe failures:");
    for f in report
        .findings
        .iter()
        .filter(|f| f.status == Status::Fail && !is_tag(f))
        .take(12)
    {
        println!(
            "  {:<8} {:<36} {:<32} {}",
            f.severity.as_str(),
            f.check_id,
            f.resource.name,
            f.message
        );
    }
    let n = |s: Status| report.summary.by_status.get(&s).copied().unwrap_or(0);
    println!(
        "\n  {} passed, {} failed, {} suppressed by exceptions, {} unknown (not seen), {} errors",
        n(Status::Pass),
        n(Status::Fail),
        n(Status::Suppressed),
        n(Status::Unknown),
        n(Status::Error)
    );
    for e in &report.expired_exceptions {
        println!(
            "  expired exception `{}` (owner {}) ended on {}: {} failure(s) are reported again",
            e.id, e.owner, e.expires, e.would_suppress
        );
    }

    let write = |name: &str, text: String| -> Result<()> {
        let p = out.join(name);
        std::fs::write(&p, text).with_context(|| format!("cannot write `{}`", p.display()))
    };
    write("report.json", output::json(&report))?;
    write("summary.md", output::markdown(&report))?;
    write(
        "findings.sarif",
        serde_json::to_string_pretty(&output::sarif(&report))?,
    )?;
    let (asff, _) = output::asff(&report, &AsffOptions::default());
    write("findings.asff.json", serde_json::to_string_pretty(&asff)?)?;
    write(
        "tag-plan.json",
        serde_json::to_string_pretty(&report.tag_plans)?,
    )?;
    let mut nd = String::new();
    for f in &report.findings {
        nd.push_str(&output::ndjson_line(f));
        nd.push('\n');
    }
    write("findings.ndjson", nd)?;
    let shown = std::fs::canonicalize(out).unwrap_or_else(|_| out.to_path_buf());
    println!("\nReports written to {}:", shown.display());
    println!(
        "  report.json  summary.md  findings.sarif  findings.asff.json  findings.ndjson  tag-plan.json"
    );
    println!("  (and the inventory and policy used: inventory.ndjson, policy.yaml)");
    println!(
        "\nNext: assetwarden scan --inventory {} --policy {} --format table",
        inv.display(),
        pol.display()
    );
    Ok(ExitCode::SUCCESS)
}
