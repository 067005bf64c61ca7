//! `assetwarden iac check`: the policy on a Terraform plan, before `terraform apply`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use assetwarden_core::output;
use assetwarden_core::terraform::{parse_plan, plan_events};
use serde_json::{Value, json};

use crate::{Format, IacArgs};

/// Where `resource "TYPE" "NAME"` blocks are declared in `.tf` files under a folder.
pub fn declarations(dir: &Path) -> HashMap<(String, String), Vec<(PathBuf, usize)>> {
    let mut out: HashMap<(String, String), Vec<(PathBuf, usize)>> = HashMap::new();
    let Ok(re) = regex_lite_resource() else {
        return out;
    };
    let mut stack = vec![dir.to_path_buf()];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if p.is_dir() {
                if !name.starts_with('.') && name != "node_modules" && name != "target" {
                    stack.push(p);
                }
            } else if name.ends_with(".tf") && files < 10_000 {
                files += 1;
                let Ok(text) = std::fs::read_to_string(&p) else {
                    continue;
                };
                for (i, line) in text.lines().enumerate() {
                    if let Some(c) = re.captures(line) {
                        out.entry((c[1].to_string(), c[2].to_string()))
                            .or_default()
                            .push((p.clone(), i + 1));
                    }
                }
            }
        }
    }
    out
}

fn regex_lite_resource() -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(r#"^\s*resource\s+"([A-Za-z0-9_-]+)"\s+"([A-Za-z0-9_-]+)""#)
}

/// `module.a.module.b[0].aws_s3_bucket.logs["x"]` → (`aws_s3_bucket`, `logs`).
fn type_and_name(address: &str) -> Option<(String, String)> {
    let stripped = {
        let mut out = String::new();
        let mut depth = 0;
        for c in address.chars() {
            match c {
                '[' => depth += 1,
                ']' if depth > 0 => depth -= 1,
                _ if depth == 0 => out.push(c),
                _ => {}
            }
        }
        out
    };
    let parts: Vec<&str> = stripped.split('.').collect();
    let n = parts.len();
    (n >= 2).then(|| (parts[n - 2].to_string(), parts[n - 1].to_string()))
}

/// A path relative to `base` (the working directory, as code scanning expects), with `/`.
fn rel(p: &Path, base: &Path) -> String {
    let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let base = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
    let r = abs
        .strip_prefix(&base)
        .map(Path::to_path_buf)
        .unwrap_or(abs);
    let s = r.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

/// Adds physical locations (the `.tf` file and line declaring each resource, else the plan) to
/// SARIF results, as code-scanning tools require.
fn locate(
    sarif: &mut Value,
    decls: &HashMap<(String, String), Vec<(PathBuf, usize)>>,
    base: &Path,
    plan: &Path,
) {
    let Some(results) = sarif
        .pointer_mut("/runs/0/results")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for r in results {
        let addr = r
            .pointer("/locations/0/logicalLocations/0/fullyQualifiedName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let found = type_and_name(&addr)
            .and_then(|k| decls.get(&k))
            .and_then(|v| v.first());
        let phys = match found {
            Some((file, line)) => {
                json!({"artifactLocation": {"uri": rel(file, base)}, "region": {"startLine": line}})
            }
            None => {
                json!({"artifactLocation": {"uri": rel(plan, base)}, "region": {"startLine": 1}})
            }
        };
        if let Some(loc) = r.pointer_mut("/locations/0").and_then(Value::as_object_mut) {
            loc.insert("physicalLocation".into(), phys);
        }
    }
}

pub fn check(args: IacArgs) -> Result<ExitCode> {
    let policy = crate::load_policy(args.policy.as_deref())?;
    let engine = assetwarden_core::Engine::builder()
        .policy(policy)
        .now(crate::parse_now(args.now.as_deref())?)
        .build()?;
    let mut b = engine.report_builder(true).keep_pass(!args.no_pass);
    for path in &args.plans {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read plan `{}`", path.display()))?;
        let label = path.display().to_string();
        let plan = parse_plan(&bytes, &label).map_err(|e| anyhow!("{e}"))?;
        if let Some(enc) = plan.encoding_note {
            eprintln!("note: `{label}` is {enc}; read as such");
        }
        engine.scan_iter(plan_events(&plan, &label).into_iter(), &mut b);
    }
    let report = engine.finish(b);
    let first_plan = args.plans.first().cloned().unwrap_or_default();
    let base = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let source_dir = args.source_dir.clone().unwrap_or_else(|| {
        first_plan
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."))
    });
    let text = match args.format {
        Format::Table => output::table(&report, crate::table_width()),
        Format::Json => output::json(&report),
        Format::Markdown => output::markdown(&report),
        Format::Ndjson => report
            .findings
            .iter()
            .map(|f| output::ndjson_line(f) + "\n")
            .collect(),
        Format::Asff => {
            let (v, problems) = output::asff(&report, &output::AsffOptions::default());
            for p in problems {
                eprintln!("warning: {p}");
            }
            serde_json::to_string_pretty(&v)?
        }
        Format::Sarif => {
            let mut s = output::sarif(&report);
            let decls = declarations(&source_dir);
            locate(&mut s, &decls, &base, &first_plan);
            serde_json::to_string_pretty(&s)?
        }
    };
    match &args.output {
        Some(p) => std::fs::write(p, text.as_bytes())
            .with_context(|| format!("cannot write `{}`", p.display()))?,
        None => {
            let mut o = std::io::stdout().lock();
            o.write_all(text.as_bytes())?;
            if !text.ends_with('\n') {
                o.write_all(b"\n")?;
            }
        }
    }
    if let Some(p) = &args.summary {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .with_context(|| format!("cannot write `{}`", p.display()))?;
        f.write_all(output::markdown(&report).as_bytes())?;
    }
    if args.format != Format::Table {
        eprintln!("{}", output::summary_line(&report));
    }
    Ok(crate::exit_code(
        &report,
        args.fail_on,
        args.fail_on_unknown,
    ))
}
