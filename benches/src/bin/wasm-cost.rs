//! What a WebAssembly rule costs per evaluation in CPU time, beside the same rule in Rust: the
//! engine evaluates 100,000 generated buckets (batches of 4,096, both cores) `ITERATIONS` times
//! with the native rule (`assetwarden_rules_wasm::reference`) and with each module named, and
//! prints wall time and CPU time (user and system) per resource for each. CPU time is steadier
//! than wall time on a shared machine, and shows what the sandbox costs the kernel.
//!
//! Each module runs twice: with pooled instances (the default) and with a fresh mapping per call
//! (`Runtime::pooling(false)`).
//!
//! Usage: `wasm-cost ITERATIONS MODULE.wasm...`; prints one `RESULT {json}` line per rule.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use assetwarden_benches::{s3_buckets, s3_rule_engine};
use assetwarden_rules_wasm::{RuleSpec, Runtime, reference};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const N: usize = 100_000;

/// This process's user and system CPU time in seconds (`/proc/self/stat`, in clock ticks of
/// 1/100 s: Linux's `USER_HZ` on every architecture it runs this on).
fn cpu_times() -> anyhow::Result<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The fields after the command name (which may hold spaces), from the state on.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow::anyhow!("unexpected /proc/self/stat: {stat}"))?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> anyhow::Result<f64> {
        let v: f64 = f
            .get(i)
            .ok_or_else(|| anyhow::anyhow!("/proc/self/stat has no field {i}"))?
            .parse()?;
        Ok(v / 100.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the state.
    Ok((tick(11)?, tick(12)?))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((iters, modules)) = args.split_first() else {
        anyhow::bail!("usage: wasm-cost ITERATIONS MODULE.wasm...");
    };
    let iters: usize = iters.parse()?;
    let cache = std::env::temp_dir().join("assetwarden-wasm-cost-cache");
    let mut rules = vec![("native".to_string(), reference::checks())];
    // Each module twice: with pooled instances (the default) and with a fresh mapping per call.
    for pooling in [true, false] {
        let rt = Runtime::with_cache(Some(cache.clone())).pooling(pooling);
        for m in modules {
            let spec = RuleSpec {
                path: PathBuf::from(m),
                ..Default::default()
            };
            let module = rt.load(&spec)?;
            let how = if module.pooled() {
                "pooled"
            } else {
                "fresh mapping"
            };
            rules.push((format!("{m} ({how})"), module.checks()?));
        }
    }
    let rs = s3_buckets(N);
    let mut out = std::io::stdout().lock();
    for (name, checks) in rules {
        let engine = s3_rule_engine(checks)?;
        // One batch first: compiled code warm, pools filled.
        std::hint::black_box(engine.evaluate_batch(&rs[..4096]));
        let (u0, s0) = cpu_times()?;
        let t = Instant::now();
        for _ in 0..iters {
            for chunk in rs.chunks(4096) {
                std::hint::black_box(engine.evaluate_batch(chunk));
            }
        }
        let wall = t.elapsed().as_secs_f64();
        let (u1, s1) = cpu_times()?;
        let per = |s: f64| s / (iters * N) as f64 * 1e6;
        writeln!(
            out,
            "RESULT {}",
            serde_json::json!({"rule": name, "resources": iters * N,
                "wall_us": per(wall), "cpu_us": per(u1 - u0 + s1 - s0),
                "user_us": per(u1 - u0), "system_us": per(s1 - s0)})
        )?;
    }
    Ok(())
}
