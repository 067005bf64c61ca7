//! Event-driven auto-tagging: a CloudTrail creation event in, tags written and the new
//! resource checked at once.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use assetwarden_core::Engine;
use assetwarden_core::classify::TagPlan;
use assetwarden_core::finding::Finding;
use assetwarden_core::normalize::RawContext;
use assetwarden_core::notify::{TagWriteOutcome, TagWriteResult, TagWriter};
use assetwarden_core::resource::Resource;
use serde_json::Value;

use crate::events::{self, CreationRecord, EventError};
use crate::tagging::AwsTagWriter;

/// What happened to one created resource.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ResourceOutcome {
    /// The resource.
    pub arn: String,
    /// Its type.
    pub resource_type: String,
    /// The tag plan from the classification scheme.
    pub plan: Option<TagPlan>,
    /// What the writer did.
    pub write: Option<TagWriteResult>,
    /// The checks' findings on the resource as it now is.
    pub findings: Vec<Finding>,
    /// Why it could not be read, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What one CloudTrail record led to.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EventOutcome {
    /// The record.
    pub record: CreationRecord,
    /// A repeated delivery of an event already handled here: nothing was done.
    pub duplicate: bool,
    /// Per created resource.
    pub resources: Vec<ResourceOutcome>,
}

impl EventOutcome {
    /// Whether every write that was needed succeeded (or, in a dry run, would be attempted).
    pub fn ok(&self) -> bool {
        self.resources.iter().all(|r| {
            r.error.is_none()
                && r.write.as_ref().is_none_or(|w| {
                    matches!(
                        w.outcome,
                        TagWriteOutcome::Written
                            | TagWriteOutcome::WouldWrite
                            | TagWriteOutcome::Unchanged
                    )
                })
        })
    }
}

/// Handles creation events: derives tags from the classification scheme, writes them, and
/// evaluates the checks on the new resources. Remembers the last 4096 event ids, so a repeated
/// delivery to a warm Lambda does nothing; across cold starts the writer's read-before-write
/// makes a repeat a no-op (`Unchanged`).
pub struct AutoTagger {
    sdk: aws_config::SdkConfig,
    writer: AwsTagWriter,
    seen: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl std::fmt::Debug for AutoTagger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutoTagger").finish_non_exhaustive()
    }
}

const SEEN_CAP: usize = 4096;

impl AutoTagger {
    /// A tagger on the caller's configuration.
    pub fn new(sdk: &aws_config::SdkConfig) -> AutoTagger {
        AutoTagger {
            sdk: sdk.clone(),
            writer: AwsTagWriter::new(sdk),
            seen: Mutex::new((HashSet::new(), VecDeque::new())),
        }
    }
    /// Uses this writer (e.g. with a faster backoff).
    pub fn writer(mut self, w: AwsTagWriter) -> Self {
        self.writer = w;
        self
    }

    fn first_time(&self, id: &str) -> bool {
        let Ok(mut g) = self.seen.lock() else {
            return true;
        };
        let (set, order) = &mut *g;
        if set.contains(id) {
            return false;
        }
        set.insert(id.to_string());
        order.push_back(id.to_string());
        if order.len() > SEEN_CAP
            && let Some(old) = order.pop_front()
        {
            set.remove(&old);
        }
        true
    }

    /// Handles an event document (EventBridge envelope, bare record or log file). Records that
    /// are not creations this tool knows, or failed calls, yield nothing.
    pub async fn handle(
        &self,
        doc: &Value,
        engine: &Engine,
        dry_run: bool,
    ) -> Result<Vec<EventOutcome>, EventError> {
        let mut out = Vec::new();
        for rec in events::records(doc)? {
            let Some(record) = events::creation(rec)? else {
                continue;
            };
            if let Some(id) = &record.event_id
                && !self.first_time(id)
            {
                out.push(EventOutcome {
                    record,
                    duplicate: true,
                    resources: Vec::new(),
                });
                continue;
            }
            let mut resources = Vec::new();
            for c in &record.created {
                resources.push(self.one(c, &record, engine, dry_run).await);
            }
            out.push(EventOutcome {
                record,
                duplicate: false,
                resources,
            });
        }
        Ok(out)
    }

    async fn one(
        &self,
        c: &events::Created,
        record: &CreationRecord,
        engine: &Engine,
        dry_run: bool,
    ) -> ResourceOutcome {
        let partition = assetwarden_core::arn::Arn::parse(&c.arn)
            .map(|a| a.partition().to_string())
            .unwrap_or_else(|_| "aws".into());
        let region = if c.region == "global" {
            self.sdk
                .region()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "us-east-1".into())
        } else {
            c.region.clone()
        };
        let ctx = RawContext {
            account: Some(c.account.clone()).filter(|a| !a.is_empty()),
            region: Some(region.clone()),
            partition: Some(partition),
        };
        let mut outcome = ResourceOutcome {
            arn: c.arn.clone(),
            resource_type: c.resource_type.clone(),
            plan: None,
            write: None,
            findings: Vec::new(),
            error: None,
        };
        let fetched = crate::enrich::fetch_one(&self.sdk, &c.arn, &c.resource_type, &ctx).await;
        let mut r = match fetched {
            Ok(Some(r)) => r,
            Ok(None) => {
                let mut r = Resource::new(c.arn.clone(), c.resource_type.clone());
                r.mark_unobserved(
                    "configuration",
                    "not found by its Describe call yet (just created; eventual consistency)",
                );
                r
            }
            Err(f) => {
                let mut r = Resource::new(c.arn.clone(), c.resource_type.clone());
                r.mark_unobserved("configuration", f.to_string());
                r
            }
        };
        if c.region == "global" {
            r.aws_region = "global".into();
        }
        if r.account_id.is_empty() {
            r.account_id = c.account.clone();
        }
        match self.writer.current_tags(&c.arn, &region).await {
            Ok(t) => {
                r.tags = t;
                r.unobserved.retain(|u| u.path != "tags");
            }
            Err(f) => {
                // Fail closed: without the current tags nothing is written.
                outcome.error = Some(format!("current tags unreadable: {f}"));
                outcome.findings = engine.evaluate(&r).findings;
                return outcome;
            }
        }
        let result = engine.evaluate_with_event(&r, Some(&record.creator));
        let Some(class) = result.classification else {
            outcome.findings = result.findings;
            return outcome;
        };
        let plan = class.plan.clone();
        let write = self
            .writer
            .apply(std::slice::from_ref(&plan), dry_run)
            .await
            .into_iter()
            .next();
        outcome.plan = Some(plan);
        outcome.findings = result.findings;
        outcome.write = write;
        outcome
    }
}

impl AwsTagWriter {
    /// The tags a resource carries now, read the way the writer reads them before a write.
    pub async fn current_tags(
        &self,
        arn: &str,
        region: &str,
    ) -> Result<assetwarden_core::tags::Tags, crate::util::ApiFailure> {
        let parsed =
            assetwarden_core::arn::Arn::parse(arn).map_err(|e| crate::util::ApiFailure {
                operation: "parse".into(),
                code: "InvalidArn".into(),
                message: e.to_string(),
                retryable: false,
            })?;
        let route = crate::tagging::route_of(&parsed);
        let mut m = self.read_current(region, route, &[arn.to_string()]).await;
        m.remove(arn).unwrap_or_else(|| Ok(Default::default()))
    }
}
