//! The CLI's `scan -f ndjson --no-pass` path without the CLI (and without the AWS SDK it links):
//! a quick binary to profile the engine on a generated inventory. The figures that count come
//! from the CLI itself (`compare.py`).
//!
//! Usage: `aw-scan INVENTORY.ndjson POLICY.yaml OUT.ndjson [--full-parse]`

use std::io::{BufWriter, Write};
use std::sync::Arc;

use assetwarden_core::report::ScanSink;
use assetwarden_core::{Engine, InventoryFile, Keep, Policy, Resource, ResourceResult, Status};
use chrono::{TimeZone, Utc};

const KEEP: Keep = Keep {
    pass: false,
    not_applicable: false,
};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Sink<W: Write> {
    out: W,
    fails: u64,
    results: u64,
}

impl<W: Write> ScanSink for Sink<W> {
    fn on_result(&mut self, _r: &Resource, result: &ResourceResult) {
        self.results += result.tallied.len() as u64;
        for f in &result.findings {
            self.results += 1;
            if KEEP.keeps(f.status) {
                self.fails += 1;
                let _ = writeln!(self.out, "{}", assetwarden_core::output::ndjson_line(f));
            }
        }
    }
    // As the CLI: the batch's lines rendered on every core.
    fn on_batch(&mut self, _rs: &[Resource], results: &[ResourceResult]) {
        for res in results {
            self.results += (res.tallied.len() + res.findings.len()) as u64;
            self.fails += res.findings.iter().filter(|f| KEEP.keeps(f.status)).count() as u64;
        }
        let lines = assetwarden_core::output::ndjson_batch(results, &|f| KEEP.keeps(f.status));
        let _ = self.out.write_all(&lines);
    }
    // As the CLI with `--no-pass`: passing and not-applicable verdicts are only counted.
    fn keeps(&self, status: Status) -> bool {
        KEEP.keeps(status)
    }
}

fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    let (Some(inv), Some(pol), Some(out)) = (a.get(1), a.get(2), a.get(3)) else {
        anyhow::bail!("usage: aw-scan INVENTORY.ndjson POLICY.yaml OUT.ndjson [--full-parse]");
    };
    let full = a.iter().any(|x| x == "--full-parse");
    let phases = a.iter().any(|x| x == "--phases");
    let policy = Policy::from_str_named(
        &std::fs::read_to_string(pol)?,
        pol,
        &assetwarden_core::checks::catalog(),
    )?;
    let engine = Engine::builder()
        .policy(policy)
        .now(
            Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
        )
        .build()?;
    let t = std::time::Instant::now();
    let src = InventoryFile::new(inv).projection((!full).then(|| Arc::new(engine.projection())));
    if phases {
        // Where the time goes: parsing, evaluation, writing, one after the other.
        let rs: Vec<Resource> = src
            .events()?
            .filter_map(|e| match e {
                assetwarden_core::SourceEvent::Resource(r) => Some(*r),
                _ => None,
            })
            .collect();
        let parse_s = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        let results: Vec<ResourceResult> = rs
            .chunks(4096)
            .flat_map(|c| engine.evaluate_batch_keeping(c, KEEP))
            .collect();
        let eval_s = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        let mut sink = Sink {
            out: BufWriter::new(std::fs::File::create(out)?),
            fails: 0,
            results: 0,
        };
        sink.on_batch(&rs, &results);
        sink.out.flush()?;
        let write_s = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        let rs_len = rs.len();
        drop(results);
        drop(rs);
        let drop_s = t.elapsed().as_secs_f64();
        eprintln!(
            "parse+normalise {parse_s:.3} s, evaluate {eval_s:.3} s, write {write_s:.3} s, drop {drop_s:.3} s"
        );
        println!(
            "RESULT {}",
            serde_json::json!({"engine": "aw-scan --phases", "n": rs_len, "results": sink.results,
                "not_passing": sink.fails, "parse_s": parse_s, "eval_s": eval_s,
                "write_s": write_s, "drop_s": drop_s})
        );
        return Ok(());
    }
    let mut sink = Sink {
        out: BufWriter::new(std::fs::File::create(out)?),
        fails: 0,
        results: 0,
    };
    let n = engine.scan_iter(src.events()?, &mut sink);
    sink.out.flush()?;
    eprintln!(
        "{n} resources, {} results, {} not passing, {:.3} s",
        sink.results,
        sink.fails,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
