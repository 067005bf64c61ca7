//! Async roles at the edges: notifiers and tag writers. Implementations live in other crates
//! (Slack, SMTP and webhooks; the AWS tagging APIs).

use async_trait::async_trait;
use serde::Serialize;

use crate::classify::TagPlan;
use crate::finding::Finding;
use crate::report::Summary;
use crate::tags::Tags;

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{notifier}: {message}")]
pub struct DeliveryError {
    /// The notifier's name.
    pub notifier: String,
    /// What went wrong (never a secret: no webhook URL, no password).
    pub message: String,
    /// Whether trying again later may succeed.
    pub retryable: bool,
}

impl DeliveryError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

/// What a notifier is asked to send.
#[derive(Debug, Clone, Serialize)]
pub struct Notification<'a> {
    /// A subject line.
    pub subject: String,
    /// The findings to announce.
    pub findings: &'a [Finding],
    /// Counts of the scan they come from.
    pub summary: Option<&'a Summary>,
    /// A report to send (the daily report): Markdown for text channels, HTML for e-mail.
    pub report: Option<ReportBody<'a>>,
}

/// A rendered report carried by a notification.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ReportBody<'a> {
    /// Markdown.
    pub markdown: &'a str,
    /// A self-contained HTML page.
    #[serde(skip)]
    pub html: &'a str,
}

/// Sends findings and reports to people or systems. Delivery is retried with backoff by the
/// implementation; a permanent failure is returned, never swallowed.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// A name for reports (`slack:#security`), never holding a secret.
    fn name(&self) -> &str;
    /// Delivers one notification.
    async fn notify(&self, n: &Notification<'_>) -> Result<(), DeliveryError>;
}

/// The outcome of writing one resource's tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum TagWriteOutcome {
    /// Written.
    Written,
    /// Dry run: would have been written.
    WouldWrite,
    /// Refused before any call (invalid tags, a type that cannot be tagged).
    Refused(String),
    /// Nothing to write: the resource already carries the tags (e.g. a repeated event), or
    /// every change was dropped because someone set the tag since the plan was made.
    Unchanged,
    /// The API refused it.
    Failed {
        /// The API's error code.
        code: String,
        /// Its message.
        message: String,
    },
}

/// The result for one plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagWriteResult {
    /// The resource.
    pub arn: String,
    /// What happened.
    pub outcome: TagWriteOutcome,
    /// Tags written (or, in a dry run, that would be).
    #[serde(skip_serializing_if = "Tags::is_empty")]
    pub written: Tags,
    /// Changes dropped at write time, with why (`owner: now `team-b`, set since the plan`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<String>,
}

/// Applies tag plans. Dry-run by default; tags are validated locally before any call.
#[async_trait]
pub trait TagWriter: Send + Sync {
    /// A name for reports.
    fn name(&self) -> &str;
    /// Applies the plans (or, with `dry_run`, reports what it would do), one result per plan.
    async fn apply(&self, plans: &[TagPlan], dry_run: bool) -> Vec<TagWriteResult>;
}
