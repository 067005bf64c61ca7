//! The engine: classification and checks over a stream of resources.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use rayon::prelude::*;
use serde_json::{Map, Value};

use crate::check::{Check, CheckMeta, EvalContext, Outcome};
use crate::checks::builtin_checks;
use crate::classify::{Classification, CreationEvent, TagPolicy};
use crate::error::{Error, Result};
use crate::finding::{
    CheckKind, Evidence, Finding, References, ResourceRef, Severity, Status, Suppression,
    finding_id,
};
use crate::path::AttrPath;
use crate::policy::{Exception, Policy};
use crate::projection::Projection;
use crate::report::{ExpiredException, ReportBuilder, ScanReport, ScanSink};
use crate::resource::Resource;
use crate::rules::{Condition, Truth};
use crate::source::{ResourceSource, SourceEvent};
use crate::tags::Tags;

/// A check as the policy configured it.
struct Prepared {
    check: Arc<dyn Check>,
    severity: Severity,
    params: Map<String, Value>,
    scopes: Vec<Condition>,
    escalate: Vec<(Condition, Severity)>,
    reads: Vec<AttrPath>,
    types: Vec<String>,
    /// The check's references, shared by all its findings.
    references: Arc<References>,
    /// The check's id, shared by its tallied verdicts.
    id: Arc<str>,
}

/// Which verdicts get a full [`Finding`]; the others are only counted
/// ([`ResourceResult::tallied`]). FAIL, UNKNOWN, ERROR and SUPPRESSED always get one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep {
    /// PASS verdicts.
    pub pass: bool,
    /// NOT_APPLICABLE verdicts.
    pub not_applicable: bool,
}

impl Keep {
    /// A finding for every verdict.
    pub const ALL: Keep = Keep {
        pass: true,
        not_applicable: true,
    };

    /// Whether a verdict of `status` gets a finding.
    pub fn keeps(self, status: Status) -> bool {
        match status {
            Status::Pass => self.pass,
            Status::NotApplicable => self.not_applicable,
            _ => true,
        }
    }
}

/// A verdict that was counted instead of turned into a [`Finding`] (see [`Keep`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tallied {
    /// The check's id (`tag-policy.KEY` for a tag-policy verdict).
    pub check_id: Arc<str>,
    /// The verdict: PASS or NOT_APPLICABLE.
    pub status: Status,
}

/// The results for one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceResult {
    /// The classification (when the policy has a scheme).
    pub classification: Option<Classification>,
    /// Findings (tag-policy verdicts and check results).
    pub findings: Vec<Finding>,
    /// The verdicts the caller asked only to count ([`Keep`]), in no particular order; empty
    /// unless a sink asked for that.
    pub tallied: Vec<Tallied>,
    /// Whether any selected check covers this resource's type.
    pub had_checks: bool,
}

/// Evaluates resources against a policy. Build it with [`Engine::builder`].
pub struct Engine {
    checks: Vec<Prepared>,
    by_type: HashMap<String, Vec<usize>>,
    tag_policy: Option<Arc<dyn TagPolicy>>,
    exceptions: Vec<Exception>,
    remediation: Option<crate::remediate::RemediationDoc>,
    now: DateTime<Utc>,
    batch_size: usize,
    policy_name: String,
    policy_source: String,
    /// The references of every tag-policy finding.
    tag_references: Arc<References>,
    /// The ids of the tag-policy checks, by governed key.
    tag_ids: Vec<(String, Arc<str>)>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("checks", &self.checks.len())
            .field("batch_size", &self.batch_size)
            .finish()
    }
}

/// Builds an [`Engine`].
pub struct EngineBuilder {
    policy: Option<Policy>,
    extra: Vec<Arc<dyn Check>>,
    builtins: bool,
    tag_policy: Option<Arc<dyn TagPolicy>>,
    now: Option<DateTime<Utc>>,
    batch_size: usize,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        EngineBuilder {
            policy: None,
            extra: Vec::new(),
            builtins: true,
            tag_policy: None,
            now: None,
            batch_size: 4096,
        }
    }
}

impl EngineBuilder {
    /// The policy (without one: every built-in check with its defaults, no classification).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = Some(policy);
        self
    }
    /// Registers a further check (WASM rules, a company's own Rust checks).
    pub fn check(mut self, check: Arc<dyn Check>) -> Self {
        self.extra.push(check);
        self
    }
    /// Whether the built-in pack is available to the policy (default true).
    pub fn builtins(mut self, yes: bool) -> Self {
        self.builtins = yes;
        self
    }
    /// A tag policy to use instead of the policy's classification scheme.
    pub fn tag_policy(mut self, tp: Arc<dyn TagPolicy>) -> Self {
        self.tag_policy = Some(tp);
        self
    }
    /// The evaluation time (default: now). Fixed for the whole scan.
    pub fn now(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }
    /// Resources evaluated per batch; memory is bounded by it (default 4096).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }

    /// Builds the engine; bad configuration is refused here.
    pub fn build(self) -> Result<Engine> {
        if self.batch_size == 0 {
            return Err(Error::Config("`batch_size` must be at least 1".into()));
        }
        let policy = match self.policy {
            Some(p) => p,
            None => {
                let catalog = crate::checks::catalog();
                Policy::from_str_named("version: 1\n", "<default>", &catalog)?
            }
        };
        if !policy.doc.wasm_rules.is_empty() && !policy.wasm_rules_loaded {
            return Err(Error::Config(format!(
                "the policy `{}` names {} WebAssembly rule module(s) (`wasm_rules`), which this program did not load; it would run without them",
                policy.source_name,
                policy.doc.wasm_rules.len()
            )));
        }
        let mut all: Vec<Arc<dyn Check>> = Vec::new();
        if self.builtins {
            all.extend(builtin_checks());
        }
        all.extend(policy.rules.iter().cloned());
        let mut seen = std::collections::HashSet::new();
        for c in &self.extra {
            if all.iter().any(|x| x.meta().id == c.meta().id) {
                return Err(Error::Config(format!(
                    "check id `{}` is registered twice",
                    c.meta().id
                )));
            }
        }
        all.extend(self.extra.iter().cloned());
        let mut checks = Vec::new();
        for c in all {
            let meta = c.meta();
            if !seen.insert(meta.id.clone()) {
                return Err(Error::Config(format!(
                    "check id `{}` is registered twice",
                    meta.id
                )));
            }
            let registered_extra = self.extra.iter().any(|x| Arc::ptr_eq(x, &c));
            if !(policy.selects(meta) || (registered_extra && policy.selects_extra(meta))) {
                continue;
            }
            let mut params = meta.default_params();
            let mut severity = meta.severity;
            let mut scopes = Vec::new();
            let mut escalate = Vec::new();
            for s in policy.settings_for(&meta.id) {
                if let Some(sev) = s.severity {
                    severity = sev;
                }
                for (k, v) in &s.params {
                    params.insert(k.clone(), v.clone());
                }
                if let Some(sc) = &s.scope {
                    scopes.push(sc.clone());
                }
                escalate.extend(s.escalate.iter().cloned());
            }
            let mut reads = Vec::new();
            for p in &meta.reads {
                match AttrPath::parse(p) {
                    Ok(p) => reads.push(p),
                    Err(e) => {
                        return Err(Error::Config(format!(
                            "check `{}` reads a bad path: {e}",
                            meta.id
                        )));
                    }
                }
            }
            checks.push(Prepared {
                id: Arc::from(meta.id.as_str()),
                references: Arc::new(meta.references.clone()),
                types: meta.resource_types.clone(),
                check: c.clone(),
                severity,
                params,
                scopes,
                escalate,
                reads,
            });
        }
        let mut by_type: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, p) in checks.iter().enumerate() {
            for t in &p.types {
                by_type.entry(t.clone()).or_default().push(i);
            }
        }
        let tag_policy = self.tag_policy.or_else(|| {
            policy
                .classification
                .clone()
                .map(|c| c as Arc<dyn TagPolicy>)
        });
        let tag_ids = tag_policy
            .as_ref()
            .map(|tp| tp.keys())
            .unwrap_or_default()
            .into_iter()
            .map(|k| {
                let id = Arc::from(format!("tag-policy.{k}"));
                (k, id)
            })
            .collect();
        Ok(Engine {
            tag_ids,
            checks,
            by_type,
            tag_policy,
            exceptions: policy.exceptions.clone(),
            remediation: policy.doc.remediation.clone(),
            now: self.now.unwrap_or_else(Utc::now),
            batch_size: self.batch_size,
            policy_source: policy.source_name.clone(),
            tag_references: Arc::new(References {
                frameworks: vec!["classification".into()],
                ..Default::default()
            }),
            policy_name: policy
                .doc
                .name
                .clone()
                .unwrap_or_else(|| policy.source_name.clone()),
        })
    }
}

impl Policy {
    /// Whether a check registered by the caller (not built in, not in the document) runs:
    /// unless excluded, it does.
    pub fn selects_extra(&self, meta: &CheckMeta) -> bool {
        let mut m = meta.clone();
        m.kind = CheckKind::Declarative;
        self.selects(&m)
    }
}

fn resource_ref(r: &Resource, tags: &Tags) -> Arc<ResourceRef> {
    Arc::new(ResourceRef {
        arn: r.arn.clone(),
        resource_type: r.resource_type.clone(),
        account_id: r.account_id.clone(),
        region: r.aws_region.clone(),
        name: r.display_name().to_string(),
        tags: tags.clone(),
    })
}

impl Engine {
    /// A builder.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The metadata of the checks this engine runs.
    pub fn checks(&self) -> Vec<&CheckMeta> {
        self.checks.iter().map(|p| p.check.meta()).collect()
    }

    /// The tag keys the classification governs.
    pub fn governed_keys(&self) -> Vec<String> {
        self.tag_policy
            .as_ref()
            .map(|t| t.keys())
            .unwrap_or_default()
    }

    /// The policy's `remediation` section, if it has one.
    pub fn remediation(&self) -> Option<&crate::remediate::RemediationDoc> {
        self.remediation.as_ref()
    }

    /// The evaluation time.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Evaluates one resource: classification, then every check for its type. Synchronous and
    /// pure, for embedding (a Lambda handler, a Python call, a test).
    pub fn evaluate(&self, r: &Resource) -> ResourceResult {
        self.evaluate_with_event(r, None)
    }

    /// Evaluates a new resource with the event that created it.
    pub fn evaluate_with_event(
        &self,
        r: &Resource,
        event: Option<&CreationEvent>,
    ) -> ResourceResult {
        let classification = self.tag_policy.as_ref().map(|tp| tp.classify(r, event));
        self.evaluate_classified(r, classification, &mut |_| None, Keep::ALL)
    }

    /// Classifies `r` for a scan keeping `keep`: when passing verdicts are only counted (and the
    /// resource's tags were observed, so a passing verdict stays PASS), without their messages
    /// and evidence ([`TagPolicy::classify_counting`]).
    fn classify_for(&self, r: &Resource, keep: Keep) -> Option<Classification> {
        let tp = self.tag_policy.as_ref()?;
        Some(
            if keep.pass || r.unobserved.iter().any(|u| u.path == "tags") {
                tp.classify(r, None)
            } else {
                tp.classify_counting(r, None)
            },
        )
    }

    /// The id of the tag-policy check for `key`.
    fn tag_id(&self, key: &str) -> Arc<str> {
        self.tag_ids
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, id)| id.clone())
            .unwrap_or_else(|| Arc::from(format!("tag-policy.{key}")))
    }

    /// Evaluates a classified resource; `pre` hands over outcomes a batching check already
    /// computed (by the check's index), the others are evaluated here.
    fn evaluate_classified(
        &self,
        r: &Resource,
        classification: Option<Classification>,
        pre: &mut dyn FnMut(usize) -> Option<Outcome>,
        keep: Keep,
    ) -> ResourceResult {
        let tags = classification
            .as_ref()
            .map_or(&r.tags, |c| c.effective_tags(&r.tags));
        // Made with the first finding: a resource that only passes needs none.
        let mut rref: Option<Arc<ResourceRef>> = None;
        let mut findings = Vec::new();
        let mut tallied = Vec::new();
        let tags_unobserved = r
            .unobserved
            .iter()
            .find(|u| u.path == "tags")
            .map(|u| &u.reason);
        if let Some(c) = &classification {
            for v in &c.verdicts {
                if !v.ok && !v.required {
                    continue;
                }
                let status = match (tags_unobserved, v.ok) {
                    (Some(_), _) => Status::Unknown,
                    (None, true) => Status::Pass,
                    (None, false) => Status::Fail,
                };
                if !keep.keeps(status) {
                    tallied.push(Tallied {
                        check_id: self.tag_id(&v.key),
                        status,
                    });
                    continue;
                }
                let check_id = self.tag_id(&v.key);
                let rref = rref.get_or_insert_with(|| resource_ref(r, tags));
                let mut f = self.finding(
                    r,
                    rref,
                    &check_id,
                    &format!("Resources carry a valid `{}` tag", v.key),
                    CheckKind::TagPolicy,
                    if v.ok { Status::Pass } else { Status::Fail },
                    v.severity,
                    v.message.clone(),
                    vec![v.evidence.clone()],
                    self.tag_references.clone(),
                    Some("Apply the tag plan (`assetwarden tag plan`), or set the tag by hand where it cannot be derived.".into()),
                );
                if let Some(reason) = tags_unobserved {
                    f.status = Status::Unknown;
                    f.message = format!("the resource's tags were not observed: {reason}");
                }
                self.apply_exceptions(&mut f, r, tags);
                findings.push(f);
            }
        }
        let idx = self.by_type.get(&r.resource_type);
        let had_checks = idx.is_some_and(|v| !v.is_empty());
        for &i in idx.map(Vec::as_slice).unwrap_or(&[]) {
            let p = &self.checks[i];
            let meta = p.check.meta();
            let (status, message, evidence) = match self.gate(p, r, tags) {
                Some(gated) => gated,
                None => self.run_check(p, r, tags, pre(i), keep.pass),
            };
            if !keep.keeps(status) {
                tallied.push(Tallied {
                    check_id: p.id.clone(),
                    status,
                });
                continue;
            }
            let message = if status == Status::Pass {
                format!("{} (compliant)", meta.title)
            } else {
                message
            };
            let mut severity = p.severity;
            for (c, s) in &p.escalate {
                if c.eval(r, tags) == Truth::True && *s > severity {
                    severity = *s;
                }
            }
            let rref = rref.get_or_insert_with(|| resource_ref(r, tags));
            let mut f = self.finding(
                r,
                rref,
                &meta.id,
                &meta.title,
                meta.kind,
                status,
                severity,
                message,
                evidence,
                p.references.clone(),
                (!meta.remediation.is_empty()).then(|| meta.remediation.clone()),
            );
            self.apply_exceptions(&mut f, r, tags);
            findings.push(f);
        }
        ResourceResult {
            classification,
            findings,
            tallied,
            had_checks,
        }
    }

    /// The verdict a check gets without running: outside its scope, or reading what the source
    /// could not see.
    fn gate(
        &self,
        p: &Prepared,
        r: &Resource,
        tags: &Tags,
    ) -> Option<(Status, String, Vec<Evidence>)> {
        for sc in &p.scopes {
            match sc.eval(r, tags) {
                Truth::True => {}
                Truth::False => {
                    return Some((
                        Status::NotApplicable,
                        "outside the check's scope in the policy".into(),
                        sc.evidence(r, tags),
                    ));
                }
                Truth::Unknown => {
                    return Some((
                        Status::Unknown,
                        "the check's scope reads data the source could not see".into(),
                        sc.evidence(r, tags),
                    ));
                }
            }
        }
        if let Some(u) = p.reads.iter().find_map(|path| r.unobserved_for(path)) {
            return Some((
                Status::Unknown,
                format!("`{}` was not observed: {}", u.path, u.reason),
                vec![Evidence::absent(u.path.clone())],
            ));
        }
        None
    }

    fn run_check(
        &self,
        p: &Prepared,
        r: &Resource,
        tags: &Tags,
        pre: Option<Outcome>,
        explain_pass: bool,
    ) -> (Status, String, Vec<Evidence>) {
        let outcome = match pre {
            Some(o) => Ok(o),
            None => {
                let ctx = EvalContext {
                    params: &p.params,
                    now: self.now,
                    tags,
                    explain_pass,
                };
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| p.check.evaluate(r, &ctx)))
            }
        };
        match outcome {
            // Its message is written when the verdict becomes a finding (most passes of a large
            // scan are only counted).
            Ok(Outcome::Pass { evidence }) => (Status::Pass, String::new(), evidence),
            Ok(Outcome::Fail { reason, evidence }) => (Status::Fail, reason, evidence),
            Ok(Outcome::NotApplicable { reason }) => (Status::NotApplicable, reason, Vec::new()),
            Ok(Outcome::Unknown { reason }) => (Status::Unknown, reason, Vec::new()),
            Ok(Outcome::Error { reason }) => (Status::Error, reason, Vec::new()),
            Err(_) => (
                Status::Error,
                "the check panicked on this resource".into(),
                Vec::new(),
            ),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finding(
        &self,
        r: &Resource,
        rref: &Arc<ResourceRef>,
        check_id: &str,
        title: &str,
        kind: CheckKind,
        status: Status,
        severity: Severity,
        message: String,
        evidence: Vec<Evidence>,
        references: Arc<References>,
        remediation: Option<String>,
    ) -> Finding {
        let mut evidence = evidence;
        if !r.source_paths.is_empty() {
            for e in &mut evidence {
                if e.source.is_none() {
                    e.source = r.source_of(&e.path);
                }
            }
        }
        Finding {
            id: finding_id(check_id, &r.arn),
            check_id: check_id.to_string(),
            title: title.to_string(),
            kind,
            status,
            severity,
            resource: rref.clone(),
            message,
            evidence,
            references,
            remediation,
            suppression: None,
            first_seen: self.now,
            last_seen: self.now,
            vulnerability: None,
        }
    }

    fn apply_exceptions(&self, f: &mut Finding, r: &Resource, tags: &Tags) {
        if f.status != Status::Fail {
            return;
        }
        let today = self.now.date_naive();
        for e in &self.exceptions {
            if !e.matches(&f.check_id, &r.arn, &r.account_id, &r.aws_region, tags) {
                continue;
            }
            if e.expired_on(today) {
                f.message.push_str(&format!(
                    " (exception `{}` expired on {}, so it no longer suppresses this)",
                    e.id, e.expires
                ));
                continue;
            }
            f.status = Status::Suppressed;
            f.suppression = Some(Suppression {
                exception_id: e.id.clone(),
                reason: e.reason.clone(),
                owner: e.owner.clone(),
                expires: e.expires.to_string(),
            });
            return;
        }
    }

    /// UNKNOWN findings for every check that a coverage gap hides.
    pub fn gap_findings(&self, g: &crate::source::CoverageGap) -> Vec<Finding> {
        let scope = format!(
            "{}/{}/{}",
            g.account.as_deref().unwrap_or("*"),
            g.region.as_deref().unwrap_or("*"),
            g.resource_types.join("+")
        );
        let mut out = Vec::new();
        for p in &self.checks {
            let meta = p.check.meta();
            if !(g
                .resource_types
                .iter()
                .any(|t| t == "*" || p.types.contains(t)))
            {
                continue;
            }
            let r = {
                let mut r = Resource::new(
                    scope.clone(),
                    meta.resource_types.first().cloned().unwrap_or_default(),
                );
                r.account_id = g.account.clone().unwrap_or_default();
                r.aws_region = g.region.clone().unwrap_or_default();
                r.resource_id = scope.clone();
                r
            };
            out.push(self.finding(
                &r,
                &resource_ref(&r, &Tags::new()),
                &meta.id,
                &meta.title,
                meta.kind,
                Status::Unknown,
                p.severity,
                format!(
                    "source `{}` could not list these resources: {}",
                    g.source, g.reason
                ),
                Vec::new(),
                p.references.clone(),
                None,
            ));
        }
        out
    }

    /// Evaluates a batch in parallel on all cores.
    pub fn evaluate_batch(&self, batch: &[Resource]) -> Vec<ResourceResult> {
        self.evaluate_batch_keeping(batch, Keep::ALL)
    }

    /// Evaluates a batch in parallel on all cores; the verdicts `keep` leaves out are counted in
    /// [`ResourceResult::tallied`] instead of becoming findings.
    pub fn evaluate_batch_keeping(&self, batch: &[Resource], keep: Keep) -> Vec<ResourceResult> {
        if !self.checks.iter().any(|p| p.check.batch_hint().is_some()) {
            return batch
                .par_iter()
                .map(|r| {
                    let c = self.classify_for(r, keep);
                    self.evaluate_classified(r, c, &mut |_| None, keep)
                })
                .collect();
        }
        let classes: Vec<Option<Classification>> = batch
            .par_iter()
            .map(|r| self.classify_for(r, keep))
            .collect();
        let tags_of = |i: usize| {
            classes[i]
                .as_ref()
                .map_or(&batch[i].tags, |c| c.effective_tags(&batch[i].tags))
        };
        let mut pre: Vec<HashMap<usize, Outcome>> = vec![HashMap::new(); batch.len()];
        for (ci, p) in self.checks.iter().enumerate() {
            let Some(hint) = p.check.batch_hint() else {
                continue;
            };
            let members: Vec<usize> = (0..batch.len())
                .filter(|&i| {
                    p.types.contains(&batch[i].resource_type)
                        && self.gate(p, &batch[i], tags_of(i)).is_none()
                })
                .collect();
            if members.is_empty() {
                continue;
            }
            // Batches of the check's size, but enough of them to keep every core busy.
            let per = hint
                .min(members.len().div_ceil(rayon::current_num_threads()))
                .max(1);
            let outcomes: Vec<Vec<(usize, Outcome)>> = members
                .par_chunks(per)
                .map(|chunk| {
                    let items: Vec<(&Resource, EvalContext<'_>)> = chunk
                        .iter()
                        .map(|&i| {
                            let ctx = EvalContext {
                                params: &p.params,
                                now: self.now,
                                tags: tags_of(i),
                                explain_pass: keep.pass,
                            };
                            (&batch[i], ctx)
                        })
                        .collect();
                    let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        p.check.evaluate_many(&items)
                    }));
                    let reason = match got {
                        Ok(v) if v.len() == chunk.len() => {
                            return chunk.iter().copied().zip(v).collect();
                        }
                        Ok(v) => format!(
                            "the check returned {} outcomes for {} resources",
                            v.len(),
                            chunk.len()
                        ),
                        Err(_) => "the check panicked on this batch".to_string(),
                    };
                    chunk
                        .iter()
                        .map(|&i| {
                            (
                                i,
                                Outcome::Error {
                                    reason: reason.clone(),
                                },
                            )
                        })
                        .collect()
                })
                .collect();
            for (i, o) in outcomes.into_iter().flatten() {
                pre[i].insert(ci, o);
            }
        }
        batch
            .par_iter()
            .zip(classes)
            .zip(pre)
            .map(|((r, c), mut m)| self.evaluate_classified(r, c, &mut |ci| m.remove(&ci), keep))
            .collect()
    }

    fn flush(&self, batch: &mut Vec<Resource>, sink: &mut dyn ScanSink, done: &mut u64) {
        let _span = tracing::debug_span!("evaluate_batch", resources = batch.len()).entered();
        let keep = Keep {
            pass: sink.keeps(Status::Pass),
            not_applicable: sink.keeps(Status::NotApplicable),
        };
        let results = self.evaluate_batch_keeping(batch, keep);
        sink.on_batch(batch, &results);
        *done += batch.len() as u64;
        sink.on_progress(*done);
        // Freeing a batch's resources and findings (millions of small allocations) is work
        // too: on every core, not on the thread that reads the next batch.
        results.into_par_iter().for_each(drop);
        batch.par_drain(..).for_each(drop);
    }

    fn on_event(
        &self,
        ev: SourceEvent,
        batch: &mut Vec<Resource>,
        sink: &mut dyn ScanSink,
        done: &mut u64,
    ) {
        match ev {
            SourceEvent::Resource(r) => {
                batch.push(*r);
                if batch.len() >= self.batch_size {
                    self.flush(batch, sink, done);
                }
            }
            SourceEvent::Gap(g) => {
                let fs = self.gap_findings(&g);
                sink.on_event(&SourceEvent::Gap(g));
                sink.on_findings(&fs);
            }
            other => sink.on_event(&other),
        }
    }

    /// Scans a source, streaming results to `sink`; at most one batch of resources is held.
    #[tracing::instrument(name = "scan", skip_all, fields(source = source.name()))]
    pub async fn scan_with(
        &self,
        source: &dyn ResourceSource,
        sink: &mut (dyn ScanSink + Send),
    ) -> Result<u64> {
        let mut stream = source.open().await?;
        let mut batch = Vec::with_capacity(self.batch_size.min(65536));
        let mut done = 0u64;
        while let Some(ev) = stream.next().await {
            self.on_event(ev, &mut batch, sink, &mut done);
        }
        if !batch.is_empty() {
            self.flush(&mut batch, sink, &mut done);
        }
        Ok(done)
    }

    /// Scans a synchronous iterator of events (an inventory file read without a runtime).
    ///
    /// The events are pulled (read and parsed) on a thread of their own while this one
    /// evaluates the previous batch and hands it to `sink`: reading overlaps evaluation. At most
    /// two chunks of events wait between them, so memory stays bounded by the batch size.
    pub fn scan_iter(
        &self,
        events: impl Iterator<Item = SourceEvent> + Send,
        sink: &mut dyn ScanSink,
    ) -> u64 {
        let span = tracing::info_span!(
            "scan",
            checks = self.checks.len(),
            resources = tracing::field::Empty
        );
        let _guard = span.enter();
        let mut batch = Vec::with_capacity(self.batch_size.min(65536));
        let mut done = 0u64;
        const CHUNK: usize = 1024;
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<SourceEvent>>(2);
            scope.spawn(move || {
                let mut chunk = Vec::with_capacity(CHUNK);
                for ev in events {
                    chunk.push(ev);
                    if chunk.len() >= CHUNK
                        && tx
                            .send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)))
                            .is_err()
                    {
                        return;
                    }
                }
                if !chunk.is_empty() {
                    let _ = tx.send(chunk);
                }
            });
            for chunk in rx {
                for ev in chunk {
                    self.on_event(ev, &mut batch, sink, &mut done);
                }
            }
        });
        if !batch.is_empty() {
            self.flush(&mut batch, sink, &mut done);
        }
        span.record("resources", done);
        tracing::info!(resources = done, "scan finished");
        done
    }

    /// What of a record this engine's checks, scopes and classification scheme read: give it
    /// to a source ([`crate::InventoryFile::projection`]) so that the rest is skipped while
    /// parsing. Resources read that way hold only those parts: use them with this engine only.
    pub fn projection(&self) -> Projection {
        let mut b = Projection::builder();
        match self.tag_policy.as_ref().map(|tp| tp.reads()) {
            None => {}
            Some(None) => {
                b.all(&["*".to_string()]);
            }
            Some(Some(paths)) => {
                for p in &paths {
                    b.read(&["*".to_string()], p);
                }
            }
        }
        for p in &self.checks {
            if p.check.meta().reads.is_empty() {
                b.all(&p.types);
            }
            let mut paths = p.reads.clone();
            for sc in &p.scopes {
                sc.paths(&mut paths);
            }
            for (c, _) in &p.escalate {
                c.paths(&mut paths);
            }
            for path in &paths {
                b.read(&p.types, path);
            }
        }
        b.build()
    }

    /// A report builder set up for this engine.
    pub fn report_builder(&self, keep_findings: bool) -> ReportBuilder {
        ReportBuilder::new(&self.policy_name, Utc::now(), keep_findings)
            .classification_keys(self.governed_keys())
            .policy_source(&self.policy_source)
    }

    /// The policy's expired exceptions, with how many failures of this scan each would have
    /// suppressed.
    pub fn expired_exceptions(&self, report: &ScanReport) -> Vec<ExpiredException> {
        let today = self.now.date_naive();
        self.exceptions
            .iter()
            .filter(|e| e.expired_on(today))
            .map(|e| ExpiredException {
                id: e.id.clone(),
                owner: e.owner.clone(),
                expires: e.expires.to_string(),
                location: e.location.as_ref().map(|l| l.to_string()),
                would_suppress: report
                    .findings
                    .iter()
                    .filter(|f| {
                        f.status == Status::Fail
                            && f.message.contains(&format!("exception `{}` expired", e.id))
                    })
                    .count() as u64,
            })
            .collect()
    }

    /// Scans a source into a full report.
    pub async fn scan(&self, source: &dyn ResourceSource) -> Result<ScanReport> {
        let mut b = self.report_builder(true);
        self.scan_with(source, &mut b).await?;
        Ok(self.finish(b))
    }

    /// Finishes a report built with [`Engine::report_builder`].
    pub fn finish(&self, b: ReportBuilder) -> ScanReport {
        let mut report = b.finish(Vec::new());
        report.expired_exceptions = self.expired_exceptions(&report);
        report
    }
}
