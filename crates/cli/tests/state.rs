//! `scan --state`, `history`, `report` and `serve` through the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_assetwarden"))
}

/// A folder of the test's own, removed when the returned guard drops (even when the test fails).
fn tmp(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("assetwarden-state-{name}-"))
        .tempdir()
        .unwrap()
}

fn inventory(dir: &std::path::Path, name: &str, encrypted: &[bool]) -> PathBuf {
    let p = dir.join(name);
    let text: String = encrypted
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{{\"resourceType\":\"AWS::EC2::Volume\",\"arn\":\"arn:aws:ec2:eu-west-1:111111111111:volume/vol-{i}\",\"accountId\":\"111111111111\",\"awsRegion\":\"eu-west-1\",\"tags\":{{}},\"supplementaryConfiguration\":{{}},\"configuration\":{{\"encrypted\":{e}}}}}\n"))
        .collect();
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn history_report_and_metrics_file() {
    let guard = tmp("flow");
    let d = guard.path();
    let db = d.join("state.db");
    let prom = d.join("aw.prom");
    let a = inventory(d, "a.ndjson", &[false, false, true]);
    let b = inventory(d, "b.ndjson", &[true, false, false]);
    for inv in [&a, &b] {
        let o = bin()
            .args(["scan", "-f", "json", "-o"])
            .arg(d.join("out.json"))
            .arg("-i")
            .arg(inv)
            .arg("--state")
            .arg(&db)
            .arg("--metrics-file")
            .arg(&prom)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = bin()
        .args(["history", "--json", "--state"])
        .arg(&db)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let kinds: Vec<(String, String)> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_string(),
                c["arn"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("new".to_string(), "vol-2".to_string()),
            ("resolved".to_string(), "vol-0".to_string())
        ]
    );
    let o = bin()
        .args(["report", "--state"])
        .arg(&db)
        .arg("--out")
        .arg(d.join("rep"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("2 scans since"));
    let html = std::fs::read_to_string(d.join("rep/report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("id=\"checks\""));
    let m = std::fs::read_to_string(&prom).unwrap();
    assert!(m.contains("assetwarden_noncompliant_resources 2"), "{m}");
    let o = bin()
        .args(["history", "--state"])
        .arg(d.join("missing.db"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no state store"));
}

#[test]
fn serve_exposes_metrics() {
    let guard = tmp("serve");
    let d = guard.path();
    let db = d.join("state.db");
    let a = inventory(d, "a.ndjson", &[false, true]);
    assert!(
        bin()
            .args(["scan", "-f", "json", "-o"])
            .arg(d.join("o.json"))
            .arg("-i")
            .arg(&a)
            .arg("--state")
            .arg(&db)
            .status()
            .unwrap()
            .success()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = bin()
        .args(["serve", "--state"])
        .arg(&db)
        .arg("--metrics-addr")
        .arg(format!("127.0.0.1:{port}"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut body = String::new();
    for _ in 0..100 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            s.read_to_string(&mut body).unwrap();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    let _ = child.wait();
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    assert!(body.contains("text/plain; version=0.0.4"));
    assert!(
        body.contains("assetwarden_noncompliant_resources 1"),
        "{body}"
    );
}

#[test]
fn streaming_output_and_no_pass_still_record_every_verdict() {
    let guard = tmp("ndjson");
    let d = guard.path();
    let db = d.join("state.db");
    let a = inventory(d, "a.ndjson", &[false, true]);
    let b = inventory(d, "b.ndjson", &[true, true]);
    for inv in [&a, &b] {
        let o = bin()
            .args(["scan", "-f", "ndjson", "--no-pass", "-o"])
            .arg(d.join("out.ndjson"))
            .arg("-i")
            .arg(inv)
            .arg("--state")
            .arg(&db)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = bin()
        .args(["history", "--json", "--from", "0", "--state"])
        .arg(&db)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let kinds: Vec<&str> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["new", "resolved"], "{v}");
    // The printed output honoured --no-pass.
    let out = std::fs::read_to_string(d.join("out.ndjson")).unwrap();
    assert!(!out.contains("\"PASS\""), "{out}");
}

#[test]
fn tracing_spans_on_request() {
    let guard = tmp("log");
    let d = guard.path();
    let a = inventory(d, "a.ndjson", &[false]);
    let o = bin()
        .env("ASSETWARDEN_LOG", "info")
        .args(["scan", "-f", "json", "-i"])
        .arg(&a)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("scan finished") && err.contains("resources=1") && err.contains("time.busy"),
        "{err}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "no colours when stderr is not a terminal"
    );
    serde_json::from_slice::<serde_json::Value>(&o.stdout).expect("stdout stays clean JSON");
    let o = bin()
        .args(["scan", "-f", "json", "-i"])
        .arg(&a)
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("scan finished"),
        "silent unless asked"
    );
}
