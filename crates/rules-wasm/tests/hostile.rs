//! Hostile and broken modules, written in WAT and compiled at test time: each is refused at load
//! or yields an ERROR for the resources it fails on, with the reason, while the scan's other
//! results stay intact.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;

use assetwarden_core::check::Check;
use assetwarden_core::finding::Status;
use assetwarden_core::{Engine, Resource};
use assetwarden_rules_wasm::{Limits, RuleModule, RuleSpec, Runtime};

const META: &str = r#"{"abi":1,"rules":[{"id":"test.hostile","title":"Hostile test rule","severity":"high","resource_types":["AWS::S3::Bucket"],"reads":["resourceId"]}]}"#;
const PASS_ONE: &str = r#"[{"i":0,"status":"pass"}]"#;

fn wat_bytes(s: &[u8]) -> String {
    s.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// A rule module whose `aw_evaluate` runs `body`, then returns `out`; `extra` adds functions,
/// imports or globals.
fn rule_wat(meta: &str, body: &str, out: &[u8], extra: &str) -> String {
    format!(
        r#"(module
  {extra}
  (memory (export "memory") 2)
  (data (i32.const 1024) "{meta}")
  (data (i32.const 8192) "{out}")
  (func (export "aw_alloc") (param $n i32) (result i32)
    (local $old i32)
    (local.set $old (memory.grow (i32.add (i32.shr_u (local.get $n) (i32.const 16)) (i32.const 1))))
    (i32.mul (local.get $old) (i32.const 65536)))
  (func (export "aw_metadata") (result i64)
    (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const {mlen})))
  (func (export "aw_evaluate") (param $p i32) (param $n i32) (result i64)
    {body}
    (i64.or (i64.shl (i64.const 8192) (i64.const 32)) (i64.const {olen}))))"#,
        meta = wat_bytes(meta.as_bytes()),
        mlen = meta.len(),
        out = wat_bytes(out),
        olen = out.len(),
    )
}

struct Fixture {
    dir: tempfile::TempDir,
    rt: Runtime,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let rt = Runtime::with_cache(Some(dir.path().join("cache")));
        Fixture { dir, rt }
    }

    fn write(&self, name: &str, wat: &str) -> PathBuf {
        let bytes = wat::parse_str(wat).unwrap();
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// The module at `path`, loaded with the default limits.
    fn module(&self, path: PathBuf) -> Arc<RuleModule> {
        self.rt
            .load(&RuleSpec {
                path,
                ..Default::default()
            })
            .unwrap()
    }

    fn load(&self, name: &str, wat: &str) -> Result<Vec<Arc<dyn Check>>, String> {
        self.load_with(name, wat, Limits::default())
    }

    fn load_with(
        &self,
        name: &str,
        wat: &str,
        limits: Limits,
    ) -> Result<Vec<Arc<dyn Check>>, String> {
        let path = self.write(name, wat);
        let spec = RuleSpec {
            path,
            limits,
            ..Default::default()
        };
        self.rt
            .load(&spec)
            .and_then(|m| m.checks())
            .map_err(|e| e.to_string())
    }
}

fn refused(r: Result<Vec<Arc<dyn Check>>, String>) -> String {
    match r {
        Ok(_) => panic!("the module was loaded"),
        Err(e) => e,
    }
}

fn buckets() -> Vec<Resource> {
    ["good-1", "bad!bucket", "good-2"]
        .iter()
        .map(|n| Resource::new(format!("arn:aws:s3:::{n}"), "AWS::S3::Bucket"))
        .collect()
}

/// Scans three buckets with the built-in checks plus `checks`; returns the hostile rule's
/// (status, message) per bucket, and asserts the built-in checks' results are those of a scan
/// without the hostile rule.
fn scan(checks: Vec<Arc<dyn Check>>) -> Vec<(Status, String)> {
    let plain = Engine::builder().build().unwrap();
    let mut b = Engine::builder();
    for c in checks {
        b = b.check(c);
    }
    let engine = b.build().unwrap();
    let rs = buckets();
    let with = engine.evaluate_batch(&rs);
    let without = plain.evaluate_batch(&rs);
    let mut out = Vec::new();
    for (w, wo) in with.iter().zip(&without) {
        let others: Vec<_> = w
            .findings
            .iter()
            .filter(|f| f.check_id != "test.hostile")
            .map(|f| (f.check_id.clone(), f.status))
            .collect();
        let expected: Vec<_> = wo
            .findings
            .iter()
            .map(|f| (f.check_id.clone(), f.status))
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(others, expected, "the other checks' results changed");
        let f = w
            .findings
            .iter()
            .find(|f| f.check_id == "test.hostile")
            .unwrap();
        out.push((f.status, f.message.clone()));
    }
    out
}

/// `body` runs only when the input contains `!` (the second bucket's ARN), so the batch fails,
/// is rerun one resource at a time, and only that bucket gets the ERROR.
fn on_bang(body: &str) -> String {
    format!(
        r#"(local $i i32)
    (block $done (loop $scan
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (if (i32.eq (i32.load8_u (i32.add (local.get $p) (local.get $i))) (i32.const 33))
        (then {body}))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $scan)))"#
    )
}

/// A module that runs `body` (with `extra` definitions) on the `!` resource only, loaded with
/// `limits`: that resource gets an ERROR saying `reason`, the others pass.
fn bang_errors(name: &str, body: &str, extra: &str, limits: Limits, reason: &str) {
    let fx = Fixture::new();
    let wat = rule_wat(META, &on_bang(body), PASS_ONE.as_bytes(), extra);
    let checks = fx.load_with(name, &wat, limits).unwrap();
    assert_only_bang_errors(&scan(checks), reason);
}

fn assert_only_bang_errors(results: &[(Status, String)], reason: &str) {
    assert_eq!(results[0].0, Status::Pass, "{results:?}");
    assert_eq!(results[2].0, Status::Pass, "{results:?}");
    assert_eq!(results[1].0, Status::Error, "{results:?}");
    assert!(
        results[1].1.contains(reason),
        "`{}` does not say `{reason}`",
        results[1].1
    );
}

#[test]
fn a_well_behaved_rule_passes_and_its_batch_is_split_only_when_needed() {
    let fx = Fixture::new();
    let checks = fx
        .load("ok.wasm", &rule_wat(META, "", PASS_ONE.as_bytes(), ""))
        .unwrap();
    let r = scan(checks);
    // The static output answers only resource 0: the batch of three is invalid, every single
    // call valid.
    assert!(r.iter().all(|(s, _)| *s == Status::Pass), "{r:?}");
}

#[test]
fn an_infinite_loop_runs_out_of_fuel() {
    let limits = Limits {
        fuel: 1_000_000,
        ..Limits::default()
    };
    bang_errors(
        "loop.wasm",
        "(loop $forever (br $forever))",
        "",
        limits,
        "out of fuel",
    );
}

#[test]
fn a_memory_bomb_hits_the_memory_cap() {
    let limits = Limits {
        memory_bytes: 4 << 20,
        ..Limits::default()
    };
    let grow = "(loop $grow (br_if $grow (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) unreachable";
    bang_errors("bomb.wasm", grow, "", limits, "memory limit");
}

#[test]
fn a_huge_initial_memory_is_refused_at_load() {
    let fx = Fixture::new();
    let wat = rule_wat(META, "", PASS_ONE.as_bytes(), "").replace(
        r#"(memory (export "memory") 2)"#,
        r#"(memory (export "memory") 2048)"#,
    );
    let e = refused(fx.load("big-memory.wasm", &wat));
    assert!(e.contains("memory limit"), "{e}");
    assert!(e.contains("big-memory.wasm"), "{e}");
}

#[test]
fn deep_recursion_overflows_the_stack() {
    let down =
        "(func $down (param i32) (result i32) (call $down (i32.add (local.get 0) (i32.const 1))))";
    let body = "(drop (call $down (i32.const 0)))";
    bang_errors("deep.wasm", body, down, Limits::default(), "stack overflow");
}

#[test]
fn a_trap_is_an_error_for_that_resource() {
    bang_errors("trap.wasm", "unreachable", "", Limits::default(), "trapped");
}

#[test]
fn huge_output_is_capped() {
    // Claims 200 MiB of output at offset 0.
    let body = "(return (i64.const 209715200))";
    bang_errors("huge.wasm", body, "", Limits::default(), "over the cap");
}

#[test]
fn output_outside_memory_is_refused() {
    let body = "(return (i64.or (i64.shl (i64.const 1000000000) (i64.const 32)) (i64.const 10)))";
    bang_errors(
        "outside.wasm",
        body,
        "",
        Limits::default(),
        "outside its memory",
    );
}

/// A module answering every call with `output`: every resource gets an ERROR saying `reason`.
fn all_error(name: &str, output: &[u8], reason: &str) {
    let fx = Fixture::new();
    let checks = fx.load(name, &rule_wat(META, "", output, "")).unwrap();
    let r = scan(checks);
    assert!(
        r.iter()
            .all(|(s, m)| *s == Status::Error && m.contains(reason)),
        "{r:?}"
    );
}

#[test]
fn invalid_utf8_output_is_an_error() {
    all_error("utf8.wasm", b"[\xff\xfe]", "not UTF-8");
}

#[test]
fn invalid_json_output_is_an_error() {
    all_error("json.wasm", b"[{\"i\":0,", "not a valid result list");
    let unknown = br#"[{"i":0,"status":"maybe"}]"#;
    all_error("status.wasm", unknown, "unknown status `maybe`");
}

#[test]
fn an_unknown_import_is_refused_by_name() {
    let fx = Fixture::new();
    let wat = rule_wat(
        META,
        "",
        PASS_ONE.as_bytes(),
        r#"(import "env" "http_get" (func (param i32 i32) (result i32)))"#,
    );
    let e = refused(fx.load("import.wasm", &wat));
    assert!(e.contains("`env::http_get`"), "{e}");
    assert!(e.contains("does not provide"), "{e}");
    // A WASI function outside the stubs (sockets) is refused the same way.
    let wat = rule_wat(
        META,
        "",
        PASS_ONE.as_bytes(),
        r#"(import "wasi_snapshot_preview1" "sock_accept" (func (param i32 i32 i32) (result i32)))"#,
    );
    let e = refused(fx.load("sock.wasm", &wat));
    assert!(e.contains("`wasi_snapshot_preview1::sock_accept`"), "{e}");
}

#[test]
fn an_oversized_module_is_refused_before_compiling() {
    let fx = Fixture::new();
    let wat = rule_wat(META, "", PASS_ONE.as_bytes(), "").replace(
        r#"(data (i32.const 8192)"#,
        &format!(
            r#"(data (i32.const 70000) "{}") (data (i32.const 8192)"#,
            "\\00".repeat(1_200_000)
        ),
    );
    let wat = wat.replace(
        r#"(memory (export "memory") 2)"#,
        r#"(memory (export "memory") 40)"#,
    );
    let e = refused(fx.load_with(
        "oversized.wasm",
        &wat,
        Limits {
            module_bytes: 1 << 20,
            ..Limits::default()
        },
    ));
    assert!(e.contains("refused before compiling"), "{e}");
    assert!(e.contains("module_mib"), "{e}");
}

#[test]
fn a_module_exporting_nothing_expected_is_refused() {
    let fx = Fixture::new();
    let e = refused(fx.load("empty.wasm", r#"(module (func (export "main")))"#));
    assert!(e.contains("not an Assetwarden rule module"), "{e}");
    assert!(e.contains("[main]"), "{e}");
    let e = refused(fx.load("wrong-sig.wasm", &rule_wat(META, "", PASS_ONE.as_bytes(), "").replace(
        r#"(func (export "aw_metadata") (result i64)
    (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const"#,
        r#"(func (export "aw_metadata") (result i64) (i64.const 0) return (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const"#,
    )));
    assert!(e.contains("`metadata`"), "{e}");
    let std::result::Result::Err(e) = Fixture::new().rt.load(&RuleSpec {
        path: fx.dir.path().join("missing.wasm"),
        ..Default::default()
    }) else {
        unreachable!()
    };
    assert!(e.to_string().contains("missing.wasm"), "{e}");
}

#[test]
fn bad_metadata_is_refused_with_the_reason() {
    let fx = Fixture::new();
    for (name, meta, reason) in [
        (
            "meta.wasm",
            "{\"abi\":1,".to_string(),
            "not valid rule metadata",
        ),
        (
            "abi2.wasm",
            META.replace("\"abi\":1", "\"abi\":2"),
            "rule ABI 2",
        ),
        (
            "path.wasm",
            META.replace("resourceId", "configuration..x"),
            "rule `test.hostile`: reads a bad path",
        ),
    ] {
        let e = refused(fx.load(name, &rule_wat(&meta, "", PASS_ONE.as_bytes(), "")));
        assert!(e.contains(reason), "{e}");
    }
}

#[test]
fn the_digest_is_checked() {
    let fx = Fixture::new();
    let path = fx.write("pinned.wasm", &rule_wat(META, "", PASS_ONE.as_bytes(), ""));
    let bytes = std::fs::read(&path).unwrap();
    use sha2::Digest;
    let sha: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let ok = fx.rt.load(&RuleSpec {
        path: path.clone(),
        sha256: Some(sha.to_uppercase()),
        ..Default::default()
    });
    assert!(ok.is_ok());
    let e = fx
        .rt
        .load(&RuleSpec {
            path,
            sha256: Some("0".repeat(64)),
            origin: Some("policy.yaml: wasm_rules[0]".into()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("sha256 mismatch"), "{e}");
    assert!(e.contains(&sha), "{e}");
    assert!(e.starts_with("policy.yaml: wasm_rules[0] ("), "{e}");
}

#[test]
fn wasi_stubs_grant_nothing_and_output_is_logged_within_bounds() {
    let fx = Fixture::new();
    // Writes "hello" to stdout many times, tries to open a file, reads the clock, and fails
    // the resource when path_open did not answer ENOTCAPABLE (76) or the clock reads real time.
    let out_fail = br#"[{"i":0,"status":"fail","reason":"stub granted something"}]"#;
    let body = r#"
      (local $k i32)
      (i32.store (i32.const 100) (i32.const 200))
      (i32.store (i32.const 104) (i32.const 5))
      (i32.store8 (i32.const 200) (i32.const 104))
      (i32.store8 (i32.const 201) (i32.const 101))
      (i32.store8 (i32.const 202) (i32.const 108))
      (i32.store8 (i32.const 203) (i32.const 108))
      (i32.store8 (i32.const 204) (i32.const 111))
      (block $d (loop $l
        (br_if $d (i32.ge_u (local.get $k) (i32.const 10000)))
        (drop (call $fd_write (i32.const 1) (i32.const 100) (i32.const 1) (i32.const 300)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $l)))
      (if (i32.ne (call $path_open (i32.const 3) (i32.const 0) (i32.const 200) (i32.const 5) (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 400)) (i32.const 76))
        (then (return (i64.or (i64.shl (i64.const 12288) (i64.const 32)) (i64.const OUTFAIL)))))
      (drop (call $clock (i32.const 0) (i64.const 0) (i32.const 500)))
      (if (i64.gt_u (i64.load (i32.const 500)) (i64.const 1000000000000))
        (then (return (i64.or (i64.shl (i64.const 12288) (i64.const 32)) (i64.const OUTFAIL)))))
    "#
    .replace("OUTFAIL", &out_fail.len().to_string());
    let extra = format!(
        r#"(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (data (i32.const 12288) "{}")"#,
        wat_bytes(out_fail)
    );
    let wat = rule_wat(META, &body, PASS_ONE.as_bytes(), &extra);
    let checks = fx.load("wasi.wasm", &wat).unwrap();
    let r = scan(checks);
    assert!(r.iter().all(|(s, _)| *s == Status::Pass), "{r:?}");
}

#[test]
fn no_state_survives_from_one_call_to_the_next() {
    let fx = Fixture::new();
    // A global counter: the first call in an instance passes, any later one fails.
    let fail = br#"[{"i":0,"status":"fail","reason":"state survived"}]"#;
    let extra = format!(
        r#"(global $calls (mut i32) (i32.const 0)) (data (i32.const 12288) "{}")"#,
        wat_bytes(fail)
    );
    let body = format!(
        r#"(global.set $calls (i32.add (global.get $calls) (i32.const 1)))
      (if (i32.gt_u (global.get $calls) (i32.const 1))
        (then (return (i64.or (i64.shl (i64.const 12288) (i64.const 32)) (i64.const {})))))"#,
        fail.len()
    );
    let checks = fx
        .load(
            "state.wasm",
            &rule_wat(META, &body, PASS_ONE.as_bytes(), &extra),
        )
        .unwrap();
    for _ in 0..3 {
        let r = scan(checks.clone());
        assert!(r.iter().all(|(s, _)| *s == Status::Pass), "{r:?}");
    }
}

#[test]
fn no_memory_survives_from_one_call_to_the_next() {
    // A mark in memory: the first call in an instance passes, any later one fails. Pooled
    // instances reuse their memory's slot: it must come back as the module left it at start.
    let fx = Fixture::new();
    let fail = br#"[{"i":0,"status":"fail","reason":"memory survived"}]"#;
    let extra = format!(r#"(data (i32.const 12288) "{}")"#, wat_bytes(fail));
    let body = format!(
        r#"(if (i32.load (i32.const 16384))
        (then (return (i64.or (i64.shl (i64.const 12288) (i64.const 32)) (i64.const {})))))
      (i32.store (i32.const 16384) (i32.const 1))"#,
        fail.len()
    );
    let path = fx.write(
        "memory-state.wasm",
        &rule_wat(META, &body, PASS_ONE.as_bytes(), &extra),
    );
    let module = fx.module(path);
    assert!(module.pooled());
    for _ in 0..3 {
        let r = scan(module.checks().unwrap());
        assert!(r.iter().all(|(s, _)| *s == Status::Pass), "{r:?}");
    }
}

#[test]
fn a_module_the_pool_cannot_hold_runs_in_a_fresh_mapping() {
    let fx = Fixture::new();
    let path = fx.write(
        "two-tables.wasm",
        &rule_wat(
            META,
            "",
            PASS_ONE.as_bytes(),
            "(table 1 funcref) (table 1 funcref)",
        ),
    );
    let module = fx.module(path);
    assert!(!module.pooled());
    let r = scan(module.checks().unwrap());
    assert!(r.iter().all(|(s, _)| *s == Status::Pass), "{r:?}");
}

#[test]
fn pooling_can_be_turned_off() {
    let fx = Fixture::new();
    let path = fx.write("plain.wasm", &rule_wat(META, "", PASS_ONE.as_bytes(), ""));
    let spec = RuleSpec {
        path,
        ..Default::default()
    };
    assert!(fx.rt.load(&spec).unwrap().pooled());
    let off = Runtime::with_cache(None).pooling(false);
    let module = off.load(&spec).unwrap();
    assert!(!module.pooled());
    let r = scan(module.checks().unwrap());
    assert!(r.iter().all(|(s, _)| *s == Status::Pass), "{r:?}");
}

#[test]
fn more_threads_than_pool_slots_wait_for_one_instead_of_failing() {
    // Each call spins a while, so that many instances are alive at once: far more threads than
    // the pool has slots (at least 16, twice the cores) call at the same time.
    let fx = Fixture::new();
    let body = r#"(local $i i32)
      (loop $spin
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $spin (i32.lt_u (local.get $i) (i32.const 200000))))"#;
    let wat = rule_wat(META, "", PASS_ONE.as_bytes(), "").replace(
        "(func (export \"aw_evaluate\") (param $p i32) (param $n i32) (result i64)",
        &format!(
            "(func (export \"aw_evaluate\") (param $p i32) (param $n i32) (result i64) {body}"
        ),
    );
    let path = fx.write("spin.wasm", &wat);
    let module = fx.module(path);
    assert!(module.pooled());
    let check = module.checks().unwrap().pop().unwrap();
    let r = Resource::new("arn:aws:s3:::spin", "AWS::S3::Bucket");
    let (params, tags) = (serde_json::Map::new(), assetwarden_core::tags::Tags::new());
    let statuses: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..96)
            .map(|_| {
                s.spawn(|| {
                    let ctx = assetwarden_core::check::EvalContext {
                        params: &params,
                        now: chrono::Utc::now(),
                        tags: &tags,
                        explain_pass: false,
                    };
                    (0..4)
                        .map(|_| format!("{:?}", check.evaluate(&r, &ctx)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(statuses.len(), 96 * 4);
    let bad: Vec<&String> = statuses.iter().filter(|s| !s.starts_with("Pass")).collect();
    assert!(
        bad.is_empty(),
        "{} calls did not pass: {:?}",
        bad.len(),
        bad.first()
    );
}

#[test]
fn compiled_modules_are_cached_on_disk() {
    let fx = Fixture::new();
    let path = fx.write("cached.wasm", &rule_wat(META, "", PASS_ONE.as_bytes(), ""));
    let spec = RuleSpec {
        path,
        ..Default::default()
    };
    let first = fx.rt.load(&spec).unwrap();
    assert!(!first.from_cache);
    let files: Vec<_> = std::fs::read_dir(fx.dir.path().join("cache"))
        .unwrap()
        .collect();
    assert_eq!(files.len(), 1);
    let rt2 = Runtime::with_cache(Some(fx.dir.path().join("cache")));
    let second = rt2.load(&spec).unwrap();
    assert!(second.from_cache);
    assert_eq!(scan(second.checks().unwrap())[0].0, Status::Pass);
    drop(second);
    // A corrupt cache entry is ignored: compiled again.
    for f in std::fs::read_dir(fx.dir.path().join("cache")).unwrap() {
        std::fs::write(f.unwrap().path(), b"junk").unwrap();
    }
    let rt3 = Runtime::with_cache(Some(fx.dir.path().join("cache")));
    let third = rt3.load(&spec).unwrap();
    assert!(!third.from_cache);
}

#[test]
fn parameters_are_checked_against_the_declaration() {
    let fx = Fixture::new();
    let meta = META.replace(
        r#""reads":["resourceId"]"#,
        r#""reads":["resourceId"],"params":[{"name":"levels","default":"confidential,restricted"}]"#,
    );
    let path = fx.write("params.wasm", &rule_wat(&meta, "", PASS_ONE.as_bytes(), ""));
    let load = |name: &str, value: serde_json::Value| {
        let mut params = serde_json::Map::new();
        params.insert(name.into(), value);
        fx.rt.load(&RuleSpec {
            path: path.clone(),
            params,
            ..Default::default()
        })
    };
    let e = load("level", serde_json::json!("x"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown parameter `level`"), "{e}");
    assert!(e.contains("`levels`"), "{e}");
    let e = load("levels", serde_json::json!(3))
        .unwrap_err()
        .to_string();
    assert!(e.contains("must be a string"), "{e}");
    let m = load("levels", serde_json::json!("secret")).unwrap();
    let checks = m.checks().unwrap();
    assert_eq!(
        checks[0].meta().params[0].default,
        serde_json::json!("secret")
    );
}
