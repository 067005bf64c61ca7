//! Slack and webhook notifiers against a local HTTP receiver that records what it gets and
//! answers as scripted (429 with Retry-After, 500, 200).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assetwarden_core::finding::{CheckKind, Finding, References, ResourceRef, Severity, Status};
use assetwarden_core::notify::{Notification, Notifier};
use assetwarden_core::policy::{QuietHoursDoc, RouteDoc, RouteKind};
use assetwarden_notify::{RetryPolicy, Router, Secret, SlackNotifier, WebhookNotifier, sign};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A request: its first line, its headers, its body.
type Request = (String, Vec<(String, String)>, String);

#[derive(Default)]
struct Recorder {
    requests: Vec<Request>,
}

/// Serves scripted replies (status, extra headers); the last one repeats.
async fn receiver(
    script: Vec<(u16, Vec<(&'static str, &'static str)>)>,
) -> (String, Arc<Mutex<Recorder>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let rec = Arc::new(Mutex::new(Recorder::default()));
    let r2 = rec.clone();
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut tmp = [0u8; 8192];
            // Read headers and the body (Content-Length).
            loop {
                let k = s.read(&mut tmp).await.unwrap_or(0);
                if k == 0 {
                    break;
                }
                buf.extend_from_slice(&tmp[..k]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(i) = text.find("\r\n\r\n") {
                    let len = text[..i]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buf.len() >= i + 4 + len {
                        break;
                    }
                }
            }
            let text = String::from_utf8_lossy(&buf).to_string();
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
            let mut lines = head.lines();
            let first = lines.next().unwrap_or("").to_string();
            let headers = lines
                .filter_map(|l| {
                    l.split_once(':')
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                })
                .collect();
            r2.lock()
                .unwrap()
                .requests
                .push((first, headers, body.to_string()));
            let (status, extra) = script.get(n).or(script.last()).cloned().unwrap();
            n += 1;
            let mut resp =
                format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n");
            for (k, v) in extra {
                resp.push_str(&format!("{k}: {v}\r\n"));
            }
            resp.push_str("\r\nok");
            let _ = s.write_all(resp.as_bytes()).await;
        }
    });
    (url, rec)
}

fn finding(name: &str, sev: Severity, owner: &str) -> Finding {
    let mut tags = assetwarden_core::Tags::new();
    tags.insert("Owner".into(), owner.into());
    Finding {
        id: assetwarden_core::finding::finding_id("aws.s3.public-access-block", name),
        check_id: "aws.s3.public-access-block".into(),
        title: "S3 buckets block all public access".into(),
        kind: CheckKind::Builtin,
        status: Status::Fail,
        severity: sev,
        resource: Arc::new(ResourceRef {
            arn: format!("arn:aws:s3:::{name}"),
            resource_type: "AWS::S3::Bucket".into(),
            account_id: "111111111111".into(),
            region: "eu-west-1".into(),
            name: name.into(),
            tags,
        }),
        message: "Block Public Access is off".into(),
        evidence: vec![],
        references: std::sync::Arc::new(References {
            frameworks: vec!["securityhub-fsbp".into()],
            ..Default::default()
        }),
        remediation: Some("Turn it on".into()),
        suppression: None,
        first_seen: chrono::Utc::now(),
        last_seen: chrono::Utc::now(),
        vulnerability: None,
    }
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        base: Duration::from_millis(20),
        cap: Duration::from_secs(2),
    }
}

#[tokio::test]
async fn slack_honours_retry_after_and_escapes_resource_text() {
    let (url, rec) = receiver(vec![(429, vec![("Retry-After", "1")]), (200, vec![])]).await;
    let n = SlackNotifier::new("slack", Secret::new(url)).retry(fast());
    let fs = [finding(
        "<!channel> @here <http://evil.example|click>",
        Severity::Critical,
        "@channel",
    )];
    let started = Instant::now();
    n.notify(&Notification {
        subject: "new findings".into(),
        findings: &fs,
        summary: None,
        report: None,
    })
    .await
    .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After was not honoured"
    );
    let r = rec.lock().unwrap();
    assert_eq!(r.requests.len(), 2);
    let body: serde_json::Value = serde_json::from_str(&r.requests[1].2).unwrap();
    let text = body["blocks"].to_string();
    assert!(body["blocks"].as_array().unwrap().len() >= 2);
    assert!(
        !text.contains("<!channel>")
            && !text.contains("<http://evil")
            && !text.contains("@here")
            && !text.contains("owner @channel"),
        "{text}"
    );
    assert!(
        text.contains("Turn it on") && text.contains("111111111111") && text.contains("eu-west-1")
    );
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_then_reported_retryable_without_the_url() {
    let (url, rec) = receiver(vec![(500, vec![])]).await;
    let n =
        SlackNotifier::new("slack", Secret::new(format!("{url}?token=SECRET-TOKEN"))).retry(fast());
    let fs = [finding("b", Severity::High, "o")];
    let e = n
        .notify(&Notification {
            subject: "s".into(),
            findings: &fs,
            summary: None,
            report: None,
        })
        .await
        .unwrap_err();
    assert!(e.retryable);
    assert!(
        !e.to_string().contains("SECRET-TOKEN") && !e.to_string().contains("127.0.0.1"),
        "{e}"
    );
    assert_eq!(rec.lock().unwrap().requests.len(), 3);
    // 404 is permanent: one attempt.
    let (url, rec) = receiver(vec![(404, vec![])]).await;
    let e = SlackNotifier::new("slack", Secret::new(url))
        .retry(fast())
        .notify(&Notification {
            subject: "s".into(),
            findings: &fs,
            summary: None,
            report: None,
        })
        .await
        .unwrap_err();
    assert!(!e.retryable);
    assert_eq!(rec.lock().unwrap().requests.len(), 1);
    // Nothing listening: the error does not carry the address either.
    let e = SlackNotifier::new(
        "slack",
        Secret::new("http://127.0.0.1:9/hook?token=SECRET-TOKEN"),
    )
    .retry(fast())
    .notify(&Notification {
        subject: "s".into(),
        findings: &fs,
        summary: None,
        report: None,
    })
    .await
    .unwrap_err();
    assert!(!e.to_string().contains("SECRET-TOKEN"), "{e}");
}

#[tokio::test]
async fn webhooks_are_signed() {
    let (url, rec) = receiver(vec![(200, vec![])]).await;
    let n = WebhookNotifier::new("siem", Secret::new(url), Secret::new("k3y"));
    let fs = [finding("b", Severity::High, "o")];
    n.notify(&Notification {
        subject: "s".into(),
        findings: &fs,
        summary: None,
        report: None,
    })
    .await
    .unwrap();
    let r = rec.lock().unwrap();
    let (_, headers, body) = &r.requests[0];
    let get = |k: &str| {
        headers
            .iter()
            .find(|(h, _)| h == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(
        get("x-assetwarden-signature"),
        sign(b"k3y", &get("x-assetwarden-timestamp"), body)
    );
    assert_ne!(
        get("x-assetwarden-signature"),
        sign(b"other", &get("x-assetwarden-timestamp"), body)
    );
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["findings"][0]["check_id"], "aws.s3.public-access-block");
}

fn route(name: &str) -> RouteDoc {
    RouteDoc {
        name: name.into(),
        kind: RouteKind::Webhook,
        url_env: None,
        secret_env: None,
        smtp: None,
        from: None,
        to: vec![],
        min_severity: None,
        checks: vec![],
        frameworks: vec![],
        digest_by_owner: None,
        quiet_hours: None,
    }
}

#[tokio::test]
async fn routing_filters_digests_and_quiet_hours() {
    let (url, rec) = receiver(vec![(200, vec![])]).await;
    let mut router = Router::default();
    let mut high = route("high-only");
    high.min_severity = Some(Severity::High);
    high.digest_by_owner = Some("Owner".into());
    router.push(
        high,
        Box::new(WebhookNotifier::new(
            "high-only",
            Secret::new(url.clone()),
            Secret::new("k"),
        )),
    );
    let mut night = route("night");
    night.quiet_hours = Some(QuietHoursDoc {
        start: "00:00".into(),
        end: "23:59".into(),
    });
    router.push(
        night,
        Box::new(WebhookNotifier::new(
            "night",
            Secret::new(url),
            Secret::new("k"),
        )),
    );
    let fs = vec![
        finding("a", Severity::High, "alice@example.com"),
        finding("b", Severity::Low, "bob@example.com"),
        finding("c", Severity::Critical, "bob@example.com"),
    ];
    let noon = chrono::DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let out = router.deliver(&fs, "s", noon).await;
    let high: Vec<_> = out.iter().filter(|o| o.route == "high-only").collect();
    assert_eq!(high.len(), 2, "one digest per owner: {out:?}");
    assert!(high.iter().all(|o| o.status == "sent"));
    let night: Vec<_> = out.iter().filter(|o| o.route == "night").collect();
    let deferred = night.iter().find(|o| o.status == "deferred").unwrap();
    assert_eq!(
        deferred.finding_ids.len(),
        2,
        "non-critical findings wait for the end of quiet hours"
    );
    let sent = night.iter().find(|o| o.status == "sent").unwrap();
    assert_eq!(
        sent.finding_ids.len(),
        1,
        "critical findings go out at once"
    );
    assert_eq!(rec.lock().unwrap().requests.len(), 3);
}
