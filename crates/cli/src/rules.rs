//! `assetwarden rules`: WebAssembly rule modules: what one declares, and its test cases.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use assetwarden_rules_wasm::{Limits, RuleSpec, Runtime};

#[derive(clap::Subcommand)]
pub enum RulesCommand {
    /// Print a rule module's sha256, kind, imports, exports and its rules' metadata.
    Info {
        /// The `.wasm` file.
        module: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a rule module on YAML test cases (resource + expected result); exit 1 when any fails.
    Test {
        /// The `.wasm` file.
        module: PathBuf,
        /// The cases file.
        #[arg(long)]
        cases: PathBuf,
        /// The module's expected sha256 (refused when it differs).
        #[arg(long)]
        sha256: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: RulesCommand) -> Result<i32> {
    let rt = Runtime::new();
    match cmd {
        RulesCommand::Info { module, json } => {
            let m = rt
                .load(&RuleSpec {
                    path: module,
                    limits: Limits::default(),
                    ..Default::default()
                })
                .map_err(|e| anyhow!("{e}"))?;
            let info = m.info();
            if json {
                println!("{}", serde_json::to_string_pretty(&info)?);
                return Ok(0);
            }
            println!("module   {}", info.path);
            println!("sha256   {}", info.sha256);
            println!("size     {} bytes", info.size);
            println!(
                "kind     {} (rule ABI {})",
                match info.kind {
                    assetwarden_rules_wasm::ModuleKind::CoreModule => "core module",
                    assetwarden_rules_wasm::ModuleKind::Component => "component",
                },
                info.abi
            );
            println!(
                "imports  {}",
                if info.imports.is_empty() {
                    "(none)".to_string()
                } else {
                    info.imports.join(", ")
                }
            );
            println!("exports  {}", info.exports.join(", "));
            for r in &info.rules {
                let s = |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                println!();
                println!("rule     {}  [{}]", s("id"), s("severity"));
                println!("         {}", s("title"));
                if let Some(t) = r.get("resource_types") {
                    println!("types    {}", join(t));
                }
                if let Some(t) = r.get("reads") {
                    println!("reads    {}", join(t));
                }
                if let Some(refs) = r.get("references").and_then(|v| v.as_object()) {
                    let text: Vec<String> = refs
                        .iter()
                        .map(|(k, v)| {
                            format!(
                                "{k}: {}",
                                v.as_str().map(str::to_string).unwrap_or_else(|| join(v))
                            )
                        })
                        .collect();
                    println!("refs     {}", text.join("; "));
                }
                if let Some(ps) = r.get("params").and_then(|v| v.as_array()) {
                    for p in ps {
                        println!(
                            "param    {} = {}  {}",
                            p.get("name").and_then(|v| v.as_str()).unwrap_or(""),
                            p.get("default").cloned().unwrap_or_default(),
                            p.get("description").and_then(|v| v.as_str()).unwrap_or("")
                        );
                    }
                }
            }
            Ok(0)
        }
        RulesCommand::Test {
            module,
            cases,
            sha256,
            json,
        } => {
            let m = rt
                .load(&RuleSpec {
                    path: module,
                    sha256,
                    limits: Limits::default(),
                    ..Default::default()
                })
                .map_err(|e| anyhow!("{e}"))?;
            let checks = m.checks().map_err(|e| anyhow!("{e}"))?;
            let text = std::fs::read_to_string(&cases)
                .with_context(|| format!("cannot read `{}`", cases.display()))?;
            let results = assetwarden_rules_wasm::cases::run_cases(
                &checks,
                &text,
                &cases.display().to_string(),
            )
            .map_err(|e| anyhow!("{e}"))?;
            let failed = results.iter().filter(|r| !r.ok).count();
            if json {
                println!("{}", serde_json::to_string_pretty(&results)?);
            } else {
                for r in &results {
                    println!(
                        "{}  {}  {}: expected {}, got {} ({})",
                        if r.ok { "ok  " } else { "FAIL" },
                        r.rule,
                        r.name,
                        r.expected,
                        r.got,
                        r.message
                    );
                }
                println!(
                    "{} cases, {} passed, {failed} failed ({})",
                    results.len(),
                    results.len() - failed,
                    m.name()
                );
            }
            Ok(if failed == 0 { 0 } else { 1 })
        }
    }
}

fn join(v: &serde_json::Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| x.to_string())
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}
