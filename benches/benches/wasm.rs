//! WebAssembly rules against the native version of the same rule, at 100k resources: the
//! per-evaluation overhead of the sandbox (a fresh instance per batch, the compact input, the
//! JSON results), with the engine's batching and parallelism.
//!
//! `cargo bench -p assetwarden-benches --bench wasm` measures the committed Rust module; with
//! `ASSETWARDEN_GUESTS` naming the folder `crates/rules-wasm/guests/build.sh` wrote, the C,
//! AssemblyScript, Go and JavaScript modules too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use assetwarden_core::check::Check;
use assetwarden_core::{Engine, Resource};
use assetwarden_rules_wasm::{RuleSpec, Runtime, reference};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

// The allocator the CLI uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const N: usize = 100_000;

fn buckets(n: usize) -> Vec<Resource> {
    assetwarden_benches::s3_buckets(n)
}

fn engine(checks: Vec<Arc<dyn Check>>) -> Engine {
    assetwarden_benches::s3_rule_engine(checks).unwrap()
}

fn wasm(path: &Path) -> Vec<Arc<dyn Check>> {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasm-bench-cache");
    Runtime::with_cache(Some(cache))
        .load(&RuleSpec {
            path: path.to_path_buf(),
            ..Default::default()
        })
        .unwrap()
        .checks()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let rs = buckets(N);
    let mut engines: Vec<(String, Engine)> = vec![
        ("native".into(), engine(reference::checks())),
        (
            "wasm-rust".into(),
            engine(wasm(
                &Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../crates/rules-wasm/guests/rust/acme_rules.wasm"),
            )),
        ),
    ];
    if let Some(dir) = std::env::var_os("ASSETWARDEN_GUESTS") {
        for lang in ["c", "assemblyscript", "go", "js"] {
            let p = Path::new(&dir).join(format!("rules-{lang}.wasm"));
            engines.push((format!("wasm-{lang}"), engine(wasm(&p))));
        }
    }
    // The same verdicts everywhere, or the comparison means nothing.
    let verdicts = |e: &Engine| -> Vec<_> {
        e.evaluate_batch(&rs[..2000])
            .iter()
            .map(|r| (r.findings[0].status, r.findings[0].message.clone()))
            .collect()
    };
    let want = verdicts(&engines[0].1);
    for (name, e) in &engines[1..] {
        assert_eq!(verdicts(e), want, "{name} disagrees with the native rule");
    }
    let mut g = c.benchmark_group("wasm-100k");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    for (name, e) in &engines {
        g.bench_function(name.as_str(), |b| {
            b.iter(|| {
                let mut n = 0;
                for chunk in rs.chunks(4096) {
                    n += e.evaluate_batch(chunk).len();
                }
                assert_eq!(n, N);
            })
        });
    }
    g.finish();
}

/// How long the default fuel budget lasts: a rule that loops forever on one resource, stopped
/// when its fuel (10,000,000 units by default) runs out. The README says "about 10 ms of work".
fn fuel(c: &mut Criterion) {
    let meta = r#"{"abi":1,"rules":[{"id":"bench.loop","title":"loop","severity":"low","resource_types":["AWS::S3::Bucket"],"reads":[]}]}"#;
    let hex: String = meta.bytes().map(|b| format!("\\{b:02x}")).collect();
    let wat = format!(
        r#"(module (memory (export "memory") 1) (data (i32.const 0) "{hex}")
          (func (export "aw_alloc") (param i32) (result i32) (i32.const 4096))
          (func (export "aw_metadata") (result i64) (i64.const {len}))
          (func (export "aw_evaluate") (param i32 i32) (result i64)
            (local $i i64)
            (loop $l (local.set $i (i64.add (local.get $i) (i64.const 1))) (br $l))
            (i64.const 0)))"#,
        len = meta.len()
    );
    let dir = std::env::temp_dir().join(format!("aw-fuel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("loop.wasm");
    std::fs::write(&path, wat::parse_str(&wat).unwrap()).unwrap();
    let checks = wasm(&path);
    let engine = Engine::builder()
        .builtins(false)
        .check(checks[0].clone())
        .build()
        .unwrap();
    let one = buckets(1);
    let mut g = c.benchmark_group("fuel");
    g.sample_size(10);
    g.bench_function("default-budget-exhausted", |b| {
        b.iter(|| {
            let r = engine.evaluate_batch(&one);
            assert_eq!(r[0].findings[0].status, assetwarden_core::Status::Error);
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench, fuel);
criterion_main!(benches);
