//! Criterion benchmarks of the engine on generated inventories (1k and 10k resources by
//! default; `ASSETWARDEN_BENCH_SIZES=1000,100000` for others): parsing and normalisation, the
//! classification and tag plan, the built-in checks, exception matching, and the end-to-end
//! scan of an NDJSON inventory. Run: `cargo bench -p assetwarden-benches`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use assetwarden_benches::{POLICY, inventory};
use assetwarden_core::projection::Projection;
use assetwarden_core::report::ScanSink;
use assetwarden_core::resource::Resource;
use assetwarden_core::source::{InventoryBytes, SourceEvent};
use assetwarden_core::{Engine, Policy, ResourceResult};
use chrono::{TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn sizes() -> Vec<usize> {
    std::env::var("ASSETWARDEN_BENCH_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000])
}

fn engine(policy_text: &str) -> Engine {
    let p =
        Policy::from_str_named(policy_text, "bench", &assetwarden_core::checks::catalog()).unwrap();
    Engine::builder()
        .policy(p)
        .now(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap())
        .build()
        .unwrap()
}

fn resources(bytes: &[u8], projection: Option<Arc<Projection>>) -> Vec<Resource> {
    InventoryBytes::new("bench", bytes.to_vec())
        .projection(projection)
        .events()
        .filter_map(|e| match e {
            SourceEvent::Resource(r) => Some(*r),
            _ => None,
        })
        .collect()
}

/// Counts findings, keeping nothing (what a streaming output does).
#[derive(Default)]
struct Count(u64);
impl ScanSink for Count {
    fn on_result(&mut self, _r: &Resource, result: &ResourceResult) {
        self.0 += result.findings.len() as u64;
    }
}

fn benches(c: &mut Criterion) {
    let with_tags = engine(POLICY);
    let exceptions = engine(&format!(
        "{POLICY}exceptions:\n{}",
        (0..50)
            .map(|i| format!(
                "  - {{id: e{i}, checks: [aws.s3.encryption], resources: ['arn:aws:s3:::bucket-{i}-*'], reason: r, owner: o, expires: 2099-01-01}}\n"
            ))
            .collect::<String>()
    ));
    let head = POLICY[..POLICY.find("classification:").unwrap()]
        .replace("name: bench-12", "name: bench-9");
    let checks_only = engine(&format!(
        "{head}{}",
        &POLICY[POLICY.find("checks:").unwrap()..]
    ));
    for n in sizes() {
        let bytes = match inventory(n, 7) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("skipping the benchmarks at {n}: {e}");
                return;
            }
        };
        let projection = Arc::new(with_tags.projection());
        let parsed = resources(&bytes, None);
        let mut g = c.benchmark_group(format!("engine/{n}"));
        g.throughput(Throughput::Elements(n as u64));
        g.sample_size(10);
        g.bench_function(BenchmarkId::new("parse+normalise", n), |b| {
            b.iter(|| black_box(resources(black_box(&bytes), None)).len())
        });
        g.bench_function(BenchmarkId::new("parse+normalise-projected", n), |b| {
            b.iter(|| black_box(resources(black_box(&bytes), Some(projection.clone()))).len())
        });
        g.bench_function(BenchmarkId::new("builtin-checks", n), |b| {
            b.iter(|| black_box(checks_only.evaluate_batch(&parsed)).len())
        });
        g.bench_function(BenchmarkId::new("classification+checks", n), |b| {
            b.iter(|| black_box(with_tags.evaluate_batch(&parsed)).len())
        });
        g.bench_function(BenchmarkId::new("with-50-exceptions", n), |b| {
            b.iter(|| black_box(exceptions.evaluate_batch(&parsed)).len())
        });
        g.bench_function(BenchmarkId::new("end-to-end-ndjson", n), |b| {
            b.iter(|| {
                let src = InventoryBytes::new("bench", bytes.clone())
                    .projection(Some(projection.clone()));
                let mut sink = Count::default();
                with_tags.scan_iter(src.events(), &mut sink);
                black_box(sink.0)
            })
        });
        g.finish();
    }
}

criterion_group!(engine_benches, benches);
criterion_main!(engine_benches);
