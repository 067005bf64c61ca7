//! The floor under any end-to-end scan: read an NDJSON file and parse every line with
//! serde_json, on every core, doing nothing else. Two figures: `value_s` builds a
//! `serde_json::Value` per line (what a generic engine holds), `validate_s` only checks the
//! syntax (`IgnoredAny`, the least any JSON reader can do). Prints one `RESULT {json}` line.
//!
//! Usage: `parse-floor INVENTORY.ndjson`

use std::io::{Read, Write};
use std::time::Instant;

use rayon::prelude::*;
use serde::de::IgnoredAny;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Reads the file in blocks of whole lines and hands each block's lines to `f` in parallel.
fn each_block(path: &str, f: &(dyn Fn(&[u8]) -> usize + Sync)) -> anyhow::Result<(usize, f64)> {
    let t = Instant::now();
    let mut file = std::fs::File::open(path)?;
    let mut carry: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 8 << 20];
    let mut n = 0usize;
    loop {
        let got = file.read(&mut buf)?;
        if got == 0 {
            break;
        }
        carry.extend_from_slice(&buf[..got]);
        let Some(last) = carry.iter().rposition(|&b| b == b'\n') else {
            continue;
        };
        let block: Vec<u8> = carry.drain(..=last).collect();
        n += block
            .par_split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(f)
            .sum::<usize>();
    }
    if !carry.is_empty() {
        n += f(&carry);
    }
    Ok((n, t.elapsed().as_secs_f64()))
}

fn main() -> anyhow::Result<()> {
    let Some(path) = std::env::args().nth(1) else {
        anyhow::bail!("usage: parse-floor INVENTORY.ndjson");
    };
    let t = Instant::now();
    let mut bytes = Vec::new();
    std::fs::File::open(&path)?.read_to_end(&mut bytes)?;
    let read_s = t.elapsed().as_secs_f64();
    drop(bytes);
    let (n, validate_s) = each_block(&path, &|l| {
        usize::from(serde_json::from_slice::<IgnoredAny>(l).is_ok())
    })?;
    let (n2, value_s) = each_block(&path, &|l| {
        usize::from(serde_json::from_slice::<serde_json::Value>(l).is_ok())
    })?;
    let out = serde_json::json!({
        "engine": "parse-floor",
        "threads": rayon::current_num_threads(),
        "n": n,
        "parsed_as_value": n2,
        "read_s": read_s,
        "validate_s": validate_s,
        "value_s": value_s,
    });
    writeln!(std::io::stdout().lock(), "RESULT {out}")?;
    Ok(())
}
