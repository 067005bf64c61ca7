//! E-mail over SMTP with lettre: STARTTLS or TLS, authentication, plain-text and HTML parts.
//! Header injection is impossible: a CR or LF in any address or subject is refused. 4xx replies
//! are retried with backoff; 5xx replies are permanent.

use std::time::Duration;

use assetwarden_core::notify::{DeliveryError, Notification, Notifier};
use assetwarden_core::policy::RouteDoc;
use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::{RetryPolicy, Secret};

/// An SMTP notifier.
pub struct EmailNotifier {
    name: String,
    host: String,
    port: u16,
    tls: String,
    ca_pem: Option<Vec<u8>>,
    credentials: Option<(String, Secret)>,
    from: String,
    to: Vec<String>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for EmailNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailNotifier")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("private_ca", &self.ca_pem.is_some())
            .field("user", &self.credentials.as_ref().map(|c| c.0.as_str()))
            .field("password", &self.credentials.as_ref().map(|_| "***"))
            .finish()
    }
}

fn no_crlf(what: &str, v: &str) -> Result<(), String> {
    if v.contains(['\r', '\n']) {
        Err(format!(
            "{what} holds a line break: refused (header injection)"
        ))
    } else {
        Ok(())
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl EmailNotifier {
    /// A notifier from a policy route; the credentials come from `env`.
    pub fn from_doc(
        doc: &RouteDoc,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<EmailNotifier, String> {
        let smtp = doc.smtp.as_ref().ok_or("no `smtp` given")?;
        let credentials = match (&smtp.username_env, &smtp.password_env) {
            (Some(u), Some(p)) => Some((
                env(u).ok_or_else(|| {
                    format!("environment variable `{u}` (username_env) is not set")
                })?,
                Secret::new(env(p).ok_or_else(|| {
                    format!("environment variable `{p}` (password_env) is not set")
                })?),
            )),
            (None, None) => None,
            _ => return Err("give both `username_env` and `password_env`, or neither".into()),
        };
        let ca_pem = match &smtp.ca_file {
            Some(f) => {
                Some(std::fs::read(f).map_err(|e| format!("cannot read `ca_file` `{f}`: {e}"))?)
            }
            None => None,
        };
        let from = doc.from.clone().ok_or("no `from` given")?;
        no_crlf("`from`", &from)?;
        for t in &doc.to {
            no_crlf("`to`", t)?;
        }
        Ok(EmailNotifier {
            name: doc.name.clone(),
            host: smtp.host.clone(),
            port: smtp.port.unwrap_or(587),
            tls: smtp.tls.clone().unwrap_or_else(|| "starttls".into()),
            ca_pem,
            credentials,
            from,
            to: doc.to.clone(),
            retry: RetryPolicy {
                attempts: 4,
                base: Duration::from_millis(500),
                cap: Duration::from_secs(20),
            },
        })
    }

    /// Sets the retry policy.
    pub fn retry(mut self, r: RetryPolicy) -> Self {
        self.retry = r;
        self
    }

    fn tls_parameters(&self) -> Result<TlsParameters, String> {
        let mut b = TlsParameters::builder(self.host.clone());
        if let Some(pem) = &self.ca_pem {
            let cert = Certificate::from_pem(pem)
                .map_err(|e| format!("`ca_file` is not a PEM certificate: {e}"))?;
            b = b.add_root_certificate(cert);
        }
        b.build()
            .map_err(|e| format!("TLS setup for `{}` failed: {e}", self.host))
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host);
        let b = match self.tls.as_str() {
            // TLS from the first byte (port 465).
            "tls" => b.tls(Tls::Wrapper(self.tls_parameters()?)),
            // Plain text upgraded by STARTTLS, which must succeed: never falls back to plain.
            "starttls" => b.tls(Tls::Required(self.tls_parameters()?)),
            _ => b,
        };
        let mut b = b.port(self.port).timeout(Some(Duration::from_secs(20)));
        if let Some((u, p)) = &self.credentials {
            b = b.credentials(Credentials::new(u.clone(), p.expose().to_string()));
        }
        Ok(b.build())
    }

    fn message(&self, n: &Notification<'_>, to: &[String]) -> Result<Message, String> {
        no_crlf("the subject", &n.subject)?;
        let from: Mailbox = self
            .from
            .parse()
            .map_err(|e| format!("invalid `from` address: {e}"))?;
        let mut b = Message::builder().from(from).subject(n.subject.clone());
        for t in to {
            no_crlf("a recipient", t)?;
            let mb: Mailbox = t
                .parse()
                .map_err(|e| format!("invalid recipient `{}`: {e}", t.escape_debug()))?;
            b = b.to(mb);
        }
        let mut text = format!("{}\n\n", n.subject);
        let mut html = format!(
            "<h2>{}</h2><table border=\"1\" cellpadding=\"4\" style=\"border-collapse:collapse\"><tr><th>severity</th><th>check</th><th>resource</th><th>finding</th></tr>",
            html_escape(&n.subject)
        );
        for f in n.findings {
            text.push_str(&format!(
                "[{}] {} {}\n  {}\n",
                f.severity, f.check_id, f.resource.arn, f.message
            ));
            if let Some(r) = &f.remediation {
                text.push_str(&format!("  fix: {r}\n"));
            }
            html.push_str(&format!(
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                f.severity,
                html_escape(&f.check_id),
                html_escape(&f.resource.arn),
                html_escape(&f.message)
            ));
        }
        html.push_str("</table>");
        if let Some(r) = &n.report {
            text.push_str(r.markdown);
            html = r.html.to_string();
        } else if n.findings.is_empty() {
            text.push_str("(no findings: this is a test message)\n");
        }
        b.multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| format!("cannot build the message: {e}"))
    }

    async fn send(&self, n: &Notification<'_>, to: &[String]) -> Result<(), DeliveryError> {
        let fail = |message: String, retryable: bool| DeliveryError {
            notifier: self.name.clone(),
            message,
            retryable,
        };
        let msg = self.message(n, to).map_err(|m| fail(m, false))?;
        let transport = self.transport().map_err(|m| fail(m, false))?;
        let mut wait = self.retry.base;
        let mut last = String::new();
        for attempt in 1..=self.retry.attempts {
            match transport.send(msg.clone()).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_permanent() => {
                    return Err(fail(
                        format!("the SMTP server refused the message permanently: {e}"),
                        false,
                    ));
                }
                // A certificate that is not trusted now will not be in a second: no retries
                // here, but the message waits in the outbox for the next run.
                // (lettre reports a refused certificate as a connection error.)
                Err(e) if e.is_tls() || e.to_string().contains("certificate") => {
                    return Err(fail(
                        format!(
                            "TLS with `{}:{}` failed (is the certificate trusted? see `ca_file`): {e}",
                            self.host, self.port
                        ),
                        true,
                    ));
                }
                Err(e) => last = e.to_string(),
            }
            if attempt < self.retry.attempts {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(self.retry.cap);
            }
        }
        Err(fail(
            format!("gave up after {} attempts: {last}", self.retry.attempts),
            true,
        ))
    }

    /// Sends to one owner (a digest of their own assets).
    pub async fn notify_to(&self, n: &Notification<'_>, owner: &str) -> Result<(), DeliveryError> {
        let to: Vec<String> = if owner.contains('@') {
            vec![owner.to_string()]
        } else {
            self.to.clone()
        };
        if to.is_empty() {
            return Err(DeliveryError {
                notifier: self.name.clone(),
                message: format!("owner `{owner}` is not an address and the route has no `to`"),
                retryable: false,
            });
        }
        self.send(n, &to).await
    }
}

#[async_trait]
impl Notifier for EmailNotifier {
    fn name(&self) -> &str {
        &self.name
    }
    async fn notify(&self, n: &Notification<'_>) -> Result<(), DeliveryError> {
        self.send(n, &self.to).await
    }
}
