//! Helpers for the criterion benchmarks: generated inventories and the benchmark policy.

use std::path::{Path, PathBuf};

/// The 12-check benchmark policy (3 tag-policy checks, 9 configuration checks), as the
/// side-by-side kit in `../shared/bench` defines them.
pub const POLICY: &str = include_str!("../policies/bench-12.yaml");

/// The generator: `ASSETWARDEN_BENCH_GEN`, or `../shared/bench/gen.py` beside the repository.
pub fn generator() -> PathBuf {
    std::env::var_os("ASSETWARDEN_BENCH_GEN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench/gen.py"))
}

/// An inventory of `n` resources (NDJSON) from the generator, cached under the target folder;
/// `Err` says why there is none.
pub fn inventory(n: usize, seed: u64) -> Result<Vec<u8>, String> {
    let dir = std::env::temp_dir().join("assetwarden-bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("gen-{n}-{seed}.ndjson"));
    if !path.exists() {
        let gen_py = generator();
        if !gen_py.exists() {
            return Err(format!(
                "the inventory generator is not at {} (set ASSETWARDEN_BENCH_GEN)",
                gen_py.display()
            ));
        }
        let st = std::process::Command::new("python3")
            .arg(&gen_py)
            .arg(n.to_string())
            .arg(&path)
            .arg("--seed")
            .arg(seed.to_string())
            .status()
            .map_err(|e| format!("python3 {}: {e}", gen_py.display()))?;
        if !st.success() {
            return Err(format!("python3 {} failed: {st}", gen_py.display()));
        }
    }
    std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
}

/// `n` S3 buckets for the WASM rule benchmarks: a quarter with no public access block, a
/// quarter with one setting off, the rest with all four on.
pub fn s3_buckets(n: usize) -> Vec<assetwarden_core::Resource> {
    let pab = |policy_blocked: bool| {
        serde_json::json!({"blockPublicAcls": true, "ignorePublicAcls": true,
            "blockPublicPolicy": policy_blocked, "restrictPublicBuckets": true})
    };
    (0..n)
        .map(|i| {
            let mut r = assetwarden_core::Resource::new(
                format!("arn:aws:s3:::bucket-{i:06}"),
                "AWS::S3::Bucket",
            );
            r.configuration = serde_json::json!({"name": format!("bucket-{i:06}")});
            if i % 4 != 0 {
                r.supplementary_configuration
                    .insert("PublicAccessBlockConfiguration".into(), pab(i % 4 != 1));
            }
            r
        })
        .collect()
}

/// The engine the WASM rule benchmarks run: only the S3 rule of `checks` (the inventory is
/// buckets), no built-in checks.
pub fn s3_rule_engine(
    checks: Vec<std::sync::Arc<dyn assetwarden_core::check::Check>>,
) -> anyhow::Result<assetwarden_core::Engine> {
    let mut b = assetwarden_core::Engine::builder().builtins(false);
    for c in checks {
        if c.meta().id == "acme.s3.block-public-access" {
            b = b.check(c);
        }
    }
    Ok(b.build()?)
}
