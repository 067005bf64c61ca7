//! Notifiers on the core's `Notifier` trait: Slack incoming webhooks (Block Kit), e-mail over
//! SMTP (lettre) and JSON webhooks signed with HMAC-SHA256; and the router that decides, from
//! the policy's `notifications` routes, who hears about which findings.
//!
//! Secrets (webhook URLs, HMAC keys, SMTP passwords) come from the environment, are held in
//! [`Secret`], and never appear in `Debug` output, logs or error messages.

use std::time::Duration;

use assetwarden_core::finding::{Finding, Severity};
use assetwarden_core::notify::{DeliveryError, Notification, Notifier};
use assetwarden_core::policy::{Policy, RouteDoc, RouteKind};
use async_trait::async_trait;
use chrono::{DateTime, NaiveTime, Utc};
use hmac::{Hmac, Mac};
use regex::Regex;
use serde_json::{Value, json};
use sha2::Sha256;

mod email;
pub use email::EmailNotifier;

/// A secret value: shown as `***` by `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(v: impl Into<String>) -> Secret {
        Secret(v.into())
    }
    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Escapes text that comes from resources (names, tags) for Slack's mrkdwn: no `<!channel>`,
/// `<@user>` or `<url|link>` can be formed, and a bare `@channel`/`@here` is broken up.
pub fn slack_escape(s: &str) -> String {
    let s = s
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    // A zero-width space after `@` keeps `@channel`, `@here` and `@everyone` from mentioning.
    s.replace('@', "@\u{200B}")
}

/// How a transient failure is retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all.
    pub attempts: u32,
    /// First backoff.
    pub base: Duration,
    /// Longest wait, including a server's `Retry-After`.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// POSTs `body` to a secret URL with retries: 429 honours `Retry-After` (capped), 5xx and
/// network errors back off; other 4xx are permanent. Errors never name the URL.
async fn post_json(
    name: &str,
    http: &reqwest::Client,
    url: &Secret,
    body: String,
    headers: Vec<(String, String)>,
    retry: RetryPolicy,
) -> Result<(), DeliveryError> {
    let mut wait = retry.base;
    let mut last = String::new();
    for attempt in 1..=retry.attempts {
        let mut req = http
            .post(url.expose())
            .header("content-type", "application/json")
            .body(body.clone());
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                if status.is_success() {
                    return Ok(());
                }
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                last = format!("HTTP {}", status.as_u16());
                if status.as_u16() == 429 {
                    wait = retry_after.unwrap_or(wait).min(retry.cap);
                } else if status.is_client_error() {
                    return Err(DeliveryError {
                        notifier: name.to_string(),
                        message: format!("the endpoint refused the message ({last})"),
                        retryable: false,
                    });
                }
            }
            Err(e) => last = e.without_url().to_string(),
        }
        if attempt < retry.attempts {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(retry.cap);
        }
    }
    Err(DeliveryError {
        notifier: name.to_string(),
        message: format!("gave up after {} attempts ({last})", retry.attempts),
        retryable: true,
    })
}

fn severity_emoji(s: Severity) -> &'static str {
    match s {
        Severity::Critical => ":red_circle:",
        Severity::High => ":large_orange_circle:",
        Severity::Medium => ":large_yellow_circle:",
        Severity::Low => ":white_circle:",
        Severity::Informational => ":information_source:",
    }
}

/// The Block Kit message for a notification.
pub fn slack_blocks(n: &Notification<'_>, owner_tag: &str) -> Value {
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": n.subject.chars().take(150).collect::<String>()}}),
    ];
    for f in n.findings.iter().take(40) {
        let r = &f.resource;
        let owner = r
            .tags
            .get(owner_tag)
            .map(|o| slack_escape(o))
            .unwrap_or_else(|| "_no owner_".into());
        let mut text = format!(
            "{} *{}* · {}\n*{}* `{}`\n{} · {} · owner {}\n{}",
            severity_emoji(f.severity),
            f.severity.as_str().to_uppercase(),
            slack_escape(&f.title),
            slack_escape(&r.name),
            slack_escape(&r.arn),
            slack_escape(&r.account_id),
            slack_escape(&r.region),
            owner,
            slack_escape(&f.message)
        );
        if let Some(fix) = &f.remediation {
            text.push_str(&format!("\n_Fix:_ {}", slack_escape(fix)));
        }
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text.chars().take(2900).collect::<String>()}}));
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("`{}` · finding `{}`", slack_escape(&f.check_id), f.id)}]}));
    }
    if n.findings.len() > 40 {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("… and {} more", n.findings.len() - 40)}}));
    }
    if let Some(r) = &n.report {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("```{}```", slack_escape(r.markdown).chars().take(2800).collect::<String>())}}));
    }
    json!({"text": n.subject, "blocks": blocks})
}

/// A Slack incoming webhook.
#[derive(Debug)]
pub struct SlackNotifier {
    name: String,
    url: Secret,
    http: reqwest::Client,
    retry: RetryPolicy,
    owner_tag: String,
}

impl SlackNotifier {
    /// A notifier posting to `url`.
    pub fn new(name: impl Into<String>, url: Secret) -> SlackNotifier {
        SlackNotifier {
            name: name.into(),
            url,
            http: client(),
            retry: RetryPolicy::default(),
            owner_tag: "Owner".into(),
        }
    }
    /// Sets the retry policy.
    pub fn retry(mut self, r: RetryPolicy) -> Self {
        self.retry = r;
        self
    }
}

#[async_trait]
impl Notifier for SlackNotifier {
    fn name(&self) -> &str {
        &self.name
    }
    async fn notify(&self, n: &Notification<'_>) -> Result<(), DeliveryError> {
        let body = slack_blocks(n, &self.owner_tag).to_string();
        post_json(
            &self.name,
            &self.http,
            &self.url,
            body,
            Vec::new(),
            self.retry,
        )
        .await
    }
}

/// A JSON webhook; the body is signed: `X-Assetwarden-Signature: sha256=HEX` over
/// `TIMESTAMP.BODY` with `X-Assetwarden-Timestamp: TIMESTAMP`.
#[derive(Debug)]
pub struct WebhookNotifier {
    name: String,
    url: Secret,
    key: Secret,
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl WebhookNotifier {
    /// A notifier posting to `url`, signing with `key`.
    pub fn new(name: impl Into<String>, url: Secret, key: Secret) -> WebhookNotifier {
        WebhookNotifier {
            name: name.into(),
            url,
            key,
            http: client(),
            retry: RetryPolicy::default(),
        }
    }
    /// Sets the retry policy.
    pub fn retry(mut self, r: RetryPolicy) -> Self {
        self.retry = r;
        self
    }
}

/// The signature of a webhook body.
pub fn sign(key: &[u8], timestamp: &str, body: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let out = mac.finalize().into_bytes();
    let mut s = String::from("sha256=");
    for b in out {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[async_trait]
impl Notifier for WebhookNotifier {
    fn name(&self) -> &str {
        &self.name
    }
    async fn notify(&self, n: &Notification<'_>) -> Result<(), DeliveryError> {
        let body =
            json!({"subject": n.subject, "findings": n.findings, "summary": n.summary}).to_string();
        let ts = Utc::now().timestamp().to_string();
        let sig = sign(self.key.expose().as_bytes(), &ts, &body);
        post_json(
            &self.name,
            &self.http,
            &self.url,
            body,
            vec![
                ("x-assetwarden-timestamp".into(), ts),
                ("x-assetwarden-signature".into(), sig),
            ],
            self.retry,
        )
        .await
    }
}

/// Why a route could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route `{route}`: {message}")]
pub struct RouteError {
    /// The route.
    pub route: String,
    /// What is wrong (never a secret's value).
    pub message: String,
}

enum Sender {
    Email(Box<EmailNotifier>),
    Other(Box<dyn Notifier>),
}

impl Sender {
    async fn send(&self, n: &Notification<'_>, owner: Option<&str>) -> Result<(), DeliveryError> {
        match (self, owner) {
            (Sender::Email(e), Some(o)) => e.notify_to(n, o).await,
            (Sender::Email(e), None) => e.notify(n).await,
            (Sender::Other(x), _) => x.notify(n).await,
        }
    }
}

/// A configured route: its notifier and its filters.
pub struct Route {
    /// The policy's route.
    pub doc: RouteDoc,
    sender: Sender,
    checks: Vec<Regex>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("name", &self.doc.name)
            .field("kind", &self.doc.kind)
            .finish()
    }
}

/// What happened to one route's delivery.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    /// The route.
    pub route: String,
    /// The findings it covered.
    pub finding_ids: Vec<String>,
    /// `sent`, `deferred` (quiet hours) or `failed`.
    pub status: String,
    /// Why it failed.
    pub error: Option<String>,
    /// Whether a failure may succeed later (kept in the outbox).
    pub retryable: bool,
}

fn in_quiet_hours(doc: &RouteDoc, now: DateTime<Utc>) -> bool {
    let Some(q) = &doc.quiet_hours else {
        return false;
    };
    let (Ok(a), Ok(b)) = (
        NaiveTime::parse_from_str(&q.start, "%H:%M"),
        NaiveTime::parse_from_str(&q.end, "%H:%M"),
    ) else {
        return false;
    };
    let t = now.time();
    if a <= b {
        t >= a && t < b
    } else {
        t >= a || t < b
    }
}

impl Route {
    /// Whether the route takes this finding.
    pub fn matches(&self, f: &Finding) -> bool {
        self.doc.min_severity.is_none_or(|m| f.severity >= m)
            && (self.checks.is_empty() || self.checks.iter().any(|r| r.is_match(&f.check_id)))
            && (self.doc.frameworks.is_empty()
                || self
                    .doc
                    .frameworks
                    .iter()
                    .any(|fw| f.references.frameworks.contains(fw)))
    }
}

/// The routes of a policy.
#[derive(Debug, Default)]
pub struct Router {
    /// The routes.
    pub routes: Vec<Route>,
}

/// The environment variables the policy's routes read secrets from (webhook URLs, signing
/// secrets, SMTP credentials), so a caller can resolve `ssm:/name` references first.
pub fn secret_vars(policy: &Policy) -> Vec<String> {
    let mut vars: Vec<String> = Vec::new();
    for r in policy
        .doc
        .notifications
        .iter()
        .flat_map(|n| n.routes.iter())
    {
        vars.extend(r.url_env.iter().cloned());
        vars.extend(r.secret_env.iter().cloned());
        if let Some(s) = &r.smtp {
            vars.extend(s.username_env.iter().cloned());
            vars.extend(s.password_env.iter().cloned());
        }
    }
    vars
}

impl Router {
    /// Builds the routes of `policy`, reading secrets through `env` (the process environment in
    /// the CLI). A missing secret is an error naming the variable, never its value.
    pub fn from_policy(
        policy: &Policy,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Router, RouteError> {
        let mut routes = Vec::new();
        for doc in policy
            .doc
            .notifications
            .iter()
            .flat_map(|n| n.routes.iter())
        {
            let need = |var: &Option<String>, what: &str| -> Result<Secret, RouteError> {
                let var = var.as_deref().ok_or_else(|| RouteError {
                    route: doc.name.clone(),
                    message: format!("no `{what}` given"),
                })?;
                env(var)
                    .filter(|v| !v.is_empty())
                    .map(Secret::new)
                    .ok_or_else(|| RouteError {
                        route: doc.name.clone(),
                        message: format!("environment variable `{var}` ({what}) is not set"),
                    })
            };
            let sender = match doc.kind {
                RouteKind::Slack => Sender::Other(Box::new(SlackNotifier::new(
                    doc.name.clone(),
                    need(&doc.url_env, "url_env")?,
                ))),
                RouteKind::Webhook => Sender::Other(Box::new(WebhookNotifier::new(
                    doc.name.clone(),
                    need(&doc.url_env, "url_env")?,
                    need(&doc.secret_env, "secret_env")?,
                ))),
                RouteKind::Email => Sender::Email(Box::new(
                    EmailNotifier::from_doc(doc, env).map_err(|m| RouteError {
                        route: doc.name.clone(),
                        message: m,
                    })?,
                )),
            };
            let checks = doc
                .checks
                .iter()
                .filter_map(|g| assetwarden_core::rules::glob_to_regex(g).ok())
                .collect();
            routes.push(Route {
                doc: doc.clone(),
                sender,
                checks,
            });
        }
        Ok(Router { routes })
    }

    /// Adds a route built in code (tests, embedders).
    pub fn push(&mut self, doc: RouteDoc, notifier: Box<dyn Notifier>) {
        let checks = doc
            .checks
            .iter()
            .filter_map(|g| assetwarden_core::rules::glob_to_regex(g).ok())
            .collect();
        self.routes.push(Route {
            doc,
            sender: Sender::Other(notifier),
            checks,
        });
    }

    /// Announces `findings` (the new and regressed ones, and those waiting in the outbox) on
    /// every matching route. Quiet hours defer all but critical findings.
    pub async fn deliver(
        &self,
        findings: &[Finding],
        subject: &str,
        now: DateTime<Utc>,
    ) -> Vec<Outcome> {
        let mut out = Vec::new();
        for route in &self.routes {
            let mut mine: Vec<Finding> = findings
                .iter()
                .filter(|f| route.matches(f))
                .cloned()
                .collect();
            if mine.is_empty() {
                continue;
            }
            if in_quiet_hours(&route.doc, now) {
                let (now_send, later): (Vec<Finding>, Vec<Finding>) = mine
                    .into_iter()
                    .partition(|f| f.severity == Severity::Critical);
                if !later.is_empty() {
                    out.push(Outcome {
                        route: route.doc.name.clone(),
                        finding_ids: later.iter().map(|f| f.id.clone()).collect(),
                        status: "deferred".into(),
                        error: None,
                        retryable: true,
                    });
                }
                mine = now_send;
                if mine.is_empty() {
                    continue;
                }
            }
            // One digest per owner, or one message.
            let groups: Vec<(Option<String>, Vec<Finding>)> = match &route.doc.digest_by_owner {
                Some(tag) => {
                    let mut by: std::collections::BTreeMap<Option<String>, Vec<Finding>> =
                        Default::default();
                    for f in mine {
                        by.entry(f.resource.tags.get(tag).cloned())
                            .or_default()
                            .push(f);
                    }
                    by.into_iter().collect()
                }
                None => vec![(None, mine)],
            };
            for (owner, fs) in groups {
                let subject = match &owner {
                    Some(o) => format!("{subject} — your assets ({o})"),
                    None => subject.to_string(),
                };
                let n = Notification {
                    subject,
                    findings: &fs,
                    summary: None,
                    report: None,
                };
                let ids = fs.iter().map(|f| f.id.clone()).collect();
                let result = route.sender.send(&n, owner.as_deref()).await;
                out.push(match result {
                    Ok(()) => Outcome {
                        route: route.doc.name.clone(),
                        finding_ids: ids,
                        status: "sent".into(),
                        error: None,
                        retryable: false,
                    },
                    Err(e) => Outcome {
                        route: route.doc.name.clone(),
                        finding_ids: ids,
                        status: "failed".into(),
                        error: Some(e.to_string()),
                        retryable: e.retryable,
                    },
                });
            }
        }
        out
    }

    /// Sends a report (the daily report) on every route, whatever its filters.
    pub async fn send_report(&self, subject: &str, markdown: &str, html: &str) -> Vec<Outcome> {
        let mut out = Vec::new();
        for route in &self.routes {
            let n = Notification {
                subject: subject.to_string(),
                findings: &[],
                summary: None,
                report: Some(assetwarden_core::notify::ReportBody { markdown, html }),
            };
            let r = route.sender.send(&n, None).await;
            out.push(Outcome {
                route: route.doc.name.clone(),
                finding_ids: vec![],
                status: if r.is_ok() {
                    "sent".into()
                } else {
                    "failed".into()
                },
                error: r.as_ref().err().map(|e| e.to_string()),
                retryable: r.err().is_some_and(|e| e.retryable),
            });
        }
        out
    }

    /// Sends a test message on every route.
    pub async fn test(&self) -> Vec<Outcome> {
        let mut out = Vec::new();
        for route in &self.routes {
            let n = Notification {
                subject: format!("Assetwarden test message for route `{}`", route.doc.name),
                findings: &[],
                summary: None,
                report: None,
            };
            let r = route.sender.send(&n, None).await;
            out.push(match r {
                Ok(()) => Outcome {
                    route: route.doc.name.clone(),
                    finding_ids: vec![],
                    status: "sent".into(),
                    error: None,
                    retryable: false,
                },
                Err(e) => Outcome {
                    route: route.doc.name.clone(),
                    finding_ids: vec![],
                    status: "failed".into(),
                    error: Some(e.to_string()),
                    retryable: e.retryable,
                },
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show() {
        let s = Secret::new("https://hooks.slack.com/services/T000/B000/XXXX");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        let n = SlackNotifier::new("r", s);
        assert!(!format!("{n:?}").contains("hooks.slack.com"));
    }

    #[test]
    fn slack_text_cannot_mention_or_link() {
        let e = slack_escape("<!channel> @here <http://evil|click> & co");
        assert!(!e.contains('<') && !e.contains('>'));
        assert!(!e.contains("@here"));
        assert!(e.contains("&amp; co"));
    }

    #[test]
    fn signatures_are_hmac_sha256() {
        // Checked against Python's hmac module over "TIMESTAMP.BODY".
        let s = sign(b"Jefe", "what do ya want ", "for nothing?");
        assert_eq!(
            s,
            "sha256=83fb3421ec48dc8ee8cd58e1f03bb1f80ae0110c64a82771c98a0cea22cecdd2"
        );
    }
}
