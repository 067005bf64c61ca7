//! The two example rules in Rust: an S3 bucket blocks all public access; an RDS instance holding
//! confidential or restricted data is encrypted with a customer-managed KMS key.

pub mod sdk;

use sdk::{Input, Output, Verdict};

const METADATA: &str = include_str!("../../metadata.json");

const S3_FLAGS: [&str; 4] = ["blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets"];
const PAB: &str = "supplementaryConfiguration.PublicAccessBlockConfiguration";

/// Number of paths each rule reads (as declared in metadata.json).
fn reads_of(rule: usize) -> usize {
    if rule == 0 { 4 } else { 4 }
}

fn s3(r: &sdk::Resource<'_>, out: &mut Output) {
    let mut off: Vec<&str> = Vec::new();
    let mut evidence: Vec<(String, Option<&str>)> = Vec::new();
    let mut present = 0;
    for (i, f) in S3_FLAGS.iter().enumerate() {
        if r.raw(i).is_some() {
            present += 1;
        }
        if !r.is_true(i) {
            off.push(f);
        }
        evidence.push((format!("{PAB}.{f}"), r.raw(i)));
    }
    let ev: Vec<(&str, Option<&str>)> = evidence.iter().map(|(p, v)| (p.as_str(), *v)).collect();
    if present == 0 {
        out.push(r.index, Verdict::Fail("the bucket has no public access block".into()), &[(PAB, None)]);
    } else if off.is_empty() {
        out.push(r.index, Verdict::Pass, &ev);
    } else {
        let failing: Vec<(&str, Option<&str>)> =
            ev.iter().filter(|(p, _)| off.iter().any(|f| p.ends_with(f))).copied().collect();
        out.push(r.index, Verdict::Fail(format!("public access is not fully blocked: {} not on", off.join(", "))), &failing);
    }
}

fn rds(r: &sdk::Resource<'_>, levels: &[String], out: &mut Output) {
    let Some(class) = r.string(0) else {
        out.push(r.index, Verdict::NotApplicable("the instance has no DataClassification tag".into()), &[]);
        return;
    };
    if !levels.iter().any(|l| l.eq_ignore_ascii_case(class.trim())) {
        out.push(r.index, Verdict::NotApplicable(format!("the instance holds {class} data")), &[]);
        return;
    }
    if !r.is_true(1) {
        out.push(r.index, Verdict::Fail("the instance's storage is not encrypted".into()), &[("configuration.storageEncrypted", r.raw(1))]);
        return;
    }
    let Some(key) = r.string(2) else {
        out.push(r.index, Verdict::Fail("the instance names no KMS key".into()), &[("configuration.kmsKeyId", None)]);
        return;
    };
    let manager = r.string(3).unwrap_or_default();
    if manager.eq_ignore_ascii_case("AWS") || key.contains("alias/aws/") {
        out.push(r.index, Verdict::Fail("the instance is encrypted with an AWS-managed key".into()), &[("configuration.kmsKeyId", r.raw(2))]);
        return;
    }
    out.push(r.index, Verdict::Pass, &[("configuration.kmsKeyId", r.raw(2))]);
}

#[unsafe(no_mangle)]
pub extern "C" fn aw_alloc(len: i32) -> i32 {
    sdk::alloc(len)
}

#[unsafe(no_mangle)]
pub extern "C" fn aw_metadata() -> i64 {
    sdk::give(METADATA.as_bytes().to_vec())
}

/// # Safety
/// Called by the host with the input it wrote.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aw_evaluate(ptr: i32, len: i32) -> i64 {
    // SAFETY: the host's input.
    let text = unsafe { sdk::input(ptr, len) };
    let mut out = Output::default();
    match Input::parse(text, reads_of) {
        Ok(input) => {
            let levels: Vec<String> = input
                .param_string("levels")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            for r in &input.resources {
                if input.rule == 0 { s3(r, &mut out) } else { rds(r, &levels, &mut out) }
            }
        }
        Err(e) => sdk::log(&format!("bad input: {e}")),
    }
    sdk::give(out.finish().into_bytes())
}
