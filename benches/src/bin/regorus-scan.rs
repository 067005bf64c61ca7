//! The side-by-side kit's Rego policy (`gov.rego`) evaluated with the `regorus` crate from Rust,
//! streaming an NDJSON inventory in batches: the "policy as code" peer of the comparison
//! (`benches/compare.py`). Prints one `RESULT {json}` line in the kit's format.
//!
//! Usage: `regorus-scan INVENTORY.ndjson GOV.rego [--batch N]`

use std::io::{BufRead, BufReader, Write};
use std::time::Instant;

use sha2::{Digest, Sha256};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The kit's parameters (`common.py`): data.params.
const PARAMS: &str = r#"{"params": {
  "required_tags": ["Owner", "Environment", "DataClassification"],
  "allowed_env": ["prod", "staging", "dev", "test", "sandbox"],
  "allowed_dc": ["public", "internal", "confidential", "restricted"],
  "deprecated_runtimes": ["python2.7", "python3.6", "python3.7", "python3.8", "nodejs",
    "nodejs4.3", "nodejs6.10", "nodejs8.10", "nodejs10.x", "nodejs12.x", "nodejs14.x",
    "nodejs16.x", "dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1", "dotnet6",
    "ruby2.5", "ruby2.7", "go1.x", "java8"],
  "key_cutoff": "2026-08-03T00:00:00Z"}}"#;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(inv), Some(rego)) = (args.get(1), args.get(2)) else {
        anyhow::bail!("usage: regorus-scan INVENTORY.ndjson GOV.rego [--batch N]");
    };
    let batch: usize = match args.iter().position(|a| a == "--batch") {
        Some(i) => args
            .get(i + 1)
            .ok_or_else(|| anyhow::anyhow!("--batch needs a number"))?
            .parse()?,
        None => 1000,
    };
    let t0 = Instant::now();
    let mut engine = regorus::Engine::new();
    engine.add_policy(rego.clone(), std::fs::read_to_string(rego)?)?;
    engine.add_data(regorus::Value::from_json_str(PARAMS)?)?;
    let reader = BufReader::with_capacity(1 << 20, std::fs::File::open(inv)?);
    let (mut load_s, mut eval_s) = (0f64, 0f64);
    let mut pairs: Vec<String> = Vec::new();
    let mut n = 0usize;
    let mut buf = String::from("{\"resources\":[");
    let mut in_batch = 0usize;
    let mut run = |buf: &mut String, pairs: &mut Vec<String>| -> anyhow::Result<()> {
        buf.push_str("]}");
        let t = Instant::now();
        let input = regorus::Value::from_json_str(buf)?;
        load_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        engine.set_input(input);
        let out = engine.eval_rule("data.gov.batch_violations".to_string())?;
        let out: serde_json::Value = serde_json::from_str(&out.to_json_str()?)?;
        for p in out.as_array().into_iter().flatten() {
            if let (Some(arn), Some(check)) = (p[0].as_str(), p[1].as_str()) {
                pairs.push(format!("{arn}|{check}"));
            }
        }
        eval_s += t.elapsed().as_secs_f64();
        buf.clear();
        buf.push_str("{\"resources\":[");
        Ok(())
    };
    for line in reader.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        if in_batch > 0 {
            buf.push(',');
        }
        buf.push_str(&line);
        in_batch += 1;
        n += 1;
        if in_batch == batch {
            run(&mut buf, &mut pairs)?;
            in_batch = 0;
        }
    }
    if in_batch > 0 {
        run(&mut buf, &mut pairs)?;
    }
    let total_s = t0.elapsed().as_secs_f64();
    pairs.sort();
    let digest = hex(&Sha256::digest(pairs.join("\n").as_bytes()))[..16].to_string();
    let out = serde_json::json!({
        "engine": "regorus",
        "variant": format!("interpreter, batches of {batch}"),
        "file": std::path::Path::new(inv).file_name().map(|f| f.to_string_lossy().to_string()),
        "n": n,
        "violations": pairs.len(),
        "digest": digest,
        "load_s": load_s,
        "eval_s": eval_s,
        "total_s": total_s,
    });
    let mut so = std::io::stdout().lock();
    writeln!(so, "RESULT {out}")?;
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
