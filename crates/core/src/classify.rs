//! The classification scheme (tag policy): from a resource and, when it is new, the event that
//! created it, to a tag plan and tag-policy verdicts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::finding::{Evidence, Severity};
use crate::path::AttrPath;
use crate::policy::{DeriveFrom, Transform};
use crate::resource::{Resolved, Resource};
use crate::rules::{Condition, Truth};
use crate::tags::{Tags, validate_write};

/// Who created a resource and when, from its CloudTrail event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreationEvent {
    /// The creating identity's ARN.
    pub creator_arn: Option<String>,
    /// A short name: user name, role session name, SSO user name, `root`, service name.
    pub creator_name: Option<String>,
    /// `IAMUser`, `AssumedRole`, `FederatedUser`, `Root`, `AWSService`, ...
    pub creator_type: Option<String>,
    /// The event time.
    pub time: Option<DateTime<Utc>>,
    /// The API call, e.g. `RunInstances`.
    pub event_name: Option<String>,
}

/// What a tag-plan entry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TagAction {
    /// Add a missing tag.
    Add,
    /// Replace a value (only where the scheme says `overwrite: true`, or the value is invalid
    /// and the scheme can compute the right one with `overwrite`).
    Fix,
}

/// One change the plan makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagChange {
    /// The key.
    pub key: String,
    /// Add or fix.
    pub action: TagAction,
    /// The current value, for a fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_value: Option<String>,
    /// The value to write.
    pub new_value: String,
    /// Why, for people: `derived from account 111111111111`, `default`.
    pub reason: String,
}

/// The tag changes for one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagPlan {
    /// The resource.
    pub arn: String,
    /// Its type.
    pub resource_type: String,
    /// Its account.
    pub account_id: String,
    /// Its region.
    pub region: String,
    /// The changes.
    pub changes: Vec<TagChange>,
    /// Changes refused because the result would break AWS's tag rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
}

impl TagPlan {
    /// The tags to write.
    pub fn to_write(&self) -> Tags {
        self.changes
            .iter()
            .map(|c| (c.key.clone(), c.new_value.clone()))
            .collect()
    }
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// The verdict on one governed tag.
#[derive(Debug, Clone, PartialEq)]
pub struct TagVerdict {
    /// The key.
    pub key: String,
    /// Whether the resource carries a valid value now.
    pub ok: bool,
    /// Whether the tag is required (a missing optional tag is not a failure).
    pub required: bool,
    /// What was found.
    pub message: String,
    /// The tag's current value.
    pub evidence: Evidence,
    /// Severity of a failure.
    pub severity: Severity,
}

/// The result of classifying one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// The tag plan.
    pub plan: TagPlan,
    /// The tags the resource carries once the plan is applied, when the plan changes them;
    /// `None` when they are the resource's own ([`Classification::effective_tags`]). Most
    /// resources of a scan need no change, and their tag map is then not copied.
    pub changed_tags: Option<Tags>,
    /// One verdict per governed tag in scope.
    pub verdicts: Vec<TagVerdict>,
}

impl Classification {
    /// The tags the resource carries once the plan is applied: the changed tags, or `current`
    /// (the classified resource's own) when the plan changes none.
    pub fn effective_tags<'a>(&'a self, current: &'a Tags) -> &'a Tags {
        self.changed_tags.as_ref().unwrap_or(current)
    }
}

/// The classification side of a policy: implemented by [`ClassificationScheme`], and by
/// anything else that can compute a tag plan for a resource. Synchronous and pure.
pub trait TagPolicy: Send + Sync {
    /// Classifies one resource; `event` is its creation event when known.
    fn classify(&self, resource: &Resource, event: Option<&CreationEvent>) -> Classification;
    /// The tag keys it governs.
    fn keys(&self) -> Vec<String>;
    /// The attribute paths it reads beyond the resource's identity and tags, or `None` when it
    /// cannot say (then every attribute is parsed for it; see [`crate::projection`]).
    fn reads(&self) -> Option<Vec<AttrPath>> {
        None
    }
    /// [`TagPolicy::classify`] for a scan that only counts passing verdicts: the same plan
    /// changes, effective tags and verdicts (key, `ok`, `required`, severity), but a verdict
    /// that is `ok` may carry no message and a null evidence, and a plan without changes or
    /// refusals no identity (ARN, type, account, region). The default is
    /// [`TagPolicy::classify`].
    fn classify_counting(
        &self,
        resource: &Resource,
        event: Option<&CreationEvent>,
    ) -> Classification {
        self.classify(resource, event)
    }
}

/// Where a derivation reads.
#[derive(Debug, Clone)]
pub enum DeriveSource {
    /// An attribute of the resource or event.
    Attr(DeriveFrom),
    /// A tag.
    Tag(String),
    /// An attribute path.
    Path(AttrPath),
    /// The maximum of numeric tags.
    MaxOf(Vec<String>),
    /// No source: `value` is a literal.
    Literal,
}

/// A compiled derivation.
#[derive(Debug, Clone)]
pub struct CompiledDerive {
    /// Source.
    pub source: DeriveSource,
    /// Condition.
    pub when: Option<Condition>,
    /// Extraction.
    pub regex: Option<Regex>,
    /// Lookup table.
    pub map: Option<BTreeMap<String, String>>,
    /// Literal or template.
    pub value: Option<String>,
    /// Case.
    pub transform: Option<Transform>,
}

/// A compiled tag rule.
#[derive(Debug, Clone)]
pub struct CompiledTagRule {
    /// The key.
    pub key: String,
    /// Required?
    pub required: bool,
    /// Type patterns (empty: all).
    pub types: Vec<Regex>,
    /// Allowed values (empty: any).
    pub allowed: Vec<String>,
    /// Whole-value pattern.
    pub pattern: Option<Regex>,
    /// Derivations.
    pub derive: Vec<CompiledDerive>,
    /// Default.
    pub default: Option<String>,
    /// Overwrite a person's value?
    pub overwrite: bool,
    /// Severity of a violation.
    pub severity: Severity,
}

impl CompiledTagRule {
    fn applies_to(&self, resource_type: &str) -> bool {
        self.types.is_empty() || self.types.iter().any(|r| r.is_match(resource_type))
    }
    fn allows(&self, v: &str) -> bool {
        (self.allowed.is_empty() || self.allowed.iter().any(|a| a == v))
            && self.pattern.as_ref().is_none_or(|r| r.is_match(v))
    }
    fn describe_allowed(&self) -> String {
        let mut parts = Vec::new();
        if !self.allowed.is_empty() {
            parts.push(format!("one of {}", self.allowed.join(", ")));
        }
        if let Some(p) = &self.pattern {
            parts.push(format!("matching `{}`", p.as_str()));
        }
        parts.join(" and ")
    }
}

/// The classification scheme compiled from a policy.
#[derive(Debug, Clone, Default)]
pub struct ClassificationScheme {
    /// Tag rules in order.
    pub rules: Vec<CompiledTagRule>,
}

fn attr(r: &Resource, ev: Option<&CreationEvent>, f: DeriveFrom) -> Option<(String, String)> {
    let (v, what) = match f {
        DeriveFrom::Account => (
            Some(r.account_id.clone()).filter(|s| !s.is_empty()),
            "account",
        ),
        DeriveFrom::Region => (Some(r.aws_region.clone()), "region"),
        DeriveFrom::Name => (Some(r.display_name().to_string()), "name"),
        DeriveFrom::Type => (Some(r.resource_type.clone()), "type"),
        DeriveFrom::Id => (Some(r.resource_id.clone()), "id"),
        DeriveFrom::Arn => (Some(r.arn.clone()), "ARN"),
        DeriveFrom::EventCreator => (ev.and_then(|e| e.creator_arn.clone()), "creator"),
        DeriveFrom::EventCreatorName => (ev.and_then(|e| e.creator_name.clone()), "creator"),
        DeriveFrom::EventCreatorType => (ev.and_then(|e| e.creator_type.clone()), "creator type"),
        DeriveFrom::EventTime => (
            ev.and_then(|e| e.time)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            "creation time",
        ),
        DeriveFrom::EventDate => (
            ev.and_then(|e| e.time)
                .map(|t| t.format("%Y-%m-%d").to_string()),
            "creation date",
        ),
    };
    v.map(|v| {
        let why = format!("{what} `{v}`");
        (v, why)
    })
}

impl CompiledDerive {
    fn apply(
        &self,
        r: &Resource,
        ev: Option<&CreationEvent>,
        planned: &Tags,
    ) -> Option<(String, String)> {
        if let Some(w) = &self.when
            && w.eval(r, planned) != Truth::True
        {
            return None;
        }
        let (src, why) = match &self.source {
            DeriveSource::Attr(f) => attr(r, ev, *f)?,
            DeriveSource::Tag(k) => {
                let v = planned.get(k)?.clone();
                let why = format!("tag `{k}` = `{v}`");
                (v, why)
            }
            DeriveSource::Path(p) => match r.resolve_with(p, planned) {
                Resolved::Values(v) => {
                    let first = v.first()?;
                    let s = match first.to_json() {
                        serde_json::Value::String(s) => s,
                        serde_json::Value::Null => return None,
                        other => other.to_string(),
                    };
                    let why = format!("`{}` = `{s}`", p.as_str());
                    (s, why)
                }
                Resolved::Unobserved(_) => return None,
            },
            DeriveSource::MaxOf(keys) => {
                let mut best: Option<i64> = None;
                for k in keys {
                    let n: i64 = planned.get(k)?.trim().parse().ok()?;
                    best = Some(best.map_or(n, |b| b.max(n)));
                }
                let b = best?;
                (
                    b.to_string(),
                    format!("highest of {} = {b}", keys.join("/")),
                )
            }
            DeriveSource::Literal => {
                let v = self.value.clone()?;
                return Some((self.finish(v), "fixed value".into()));
            }
        };
        let mut value = src.clone();
        if let Some(re) = &self.regex {
            let caps = re.captures(&src)?;
            value = match &self.value {
                Some(t) => {
                    let mut out = String::new();
                    caps.expand(t, &mut out);
                    out
                }
                None => caps
                    .get(1)
                    .or_else(|| caps.get(0))
                    .map(|m| m.as_str().to_string())
                    .unwrap_or_default(),
            };
        } else if self.map.is_none()
            && let Some(v) = &self.value
        {
            value = v.clone();
        }
        if let Some(map) = &self.map {
            value = map.get(&value).or_else(|| map.get("*"))?.clone();
        }
        if value.is_empty() {
            return None;
        }
        Some((self.finish(value), format!("derived from {why}")))
    }

    fn finish(&self, v: String) -> String {
        match self.transform {
            Some(Transform::Lower) => v.to_lowercase(),
            Some(Transform::Upper) => v.to_uppercase(),
            None => v,
        }
    }
}

impl TagPolicy for ClassificationScheme {
    fn keys(&self) -> Vec<String> {
        self.rules.iter().map(|r| r.key.clone()).collect()
    }

    fn reads(&self) -> Option<Vec<AttrPath>> {
        let mut out = Vec::new();
        for d in self.rules.iter().flat_map(|r| &r.derive) {
            if let DeriveSource::Path(p) = &d.source
                && !out.contains(p)
            {
                out.push(p.clone());
            }
            if let Some(w) = &d.when {
                w.paths(&mut out);
            }
        }
        Some(out)
    }

    fn classify(&self, r: &Resource, ev: Option<&CreationEvent>) -> Classification {
        self.classify_as(r, ev, true)
    }

    fn classify_counting(&self, r: &Resource, ev: Option<&CreationEvent>) -> Classification {
        self.classify_as(r, ev, false)
    }
}

impl ClassificationScheme {
    /// Classifies `r`; without `explain`, passing verdicts get no message or evidence and an
    /// empty plan no identity ([`TagPolicy::classify_counting`]).
    fn classify_as(
        &self,
        r: &Resource,
        ev: Option<&CreationEvent>,
        explain: bool,
    ) -> Classification {
        // Copied from the resource's tags at the first change only.
        let mut changed: Option<Tags> = None;
        let mut changes = Vec::new();
        let mut verdicts = Vec::new();
        for rule in self.rules.iter().filter(|t| t.applies_to(&r.resource_type)) {
            let current = r.tags.get(&rule.key);
            let planned = changed.as_ref().unwrap_or(&r.tags);
            // Derived only when a verdict needs it (a valid tag the scheme does not overwrite
            // needs no proposal).
            let proposal = || {
                rule.derive
                    .iter()
                    .find_map(|d| d.apply(r, ev, planned))
                    .filter(|(v, _)| rule.allows(v))
                    .or_else(|| {
                        rule.default
                            .clone()
                            .map(|d| (d, "default of the classification scheme".to_string()))
                    })
            };
            let evidence = |current: Option<&String>| {
                Evidence::new(
                    format!("tags.{}", rule.key),
                    current
                        .cloned()
                        .map(serde_json::Value::String)
                        .unwrap_or(serde_json::Value::Null),
                )
            };
            let mut set: Option<String> = None;
            match current {
                Some(cur) if rule.allows(cur) => {
                    if rule.overwrite
                        && let Some((v, why)) = proposal().filter(|(v, _)| v != cur)
                    {
                        changes.push(TagChange {
                            key: rule.key.clone(),
                            action: TagAction::Fix,
                            old_value: Some(cur.clone()),
                            new_value: v.clone(),
                            reason: format!("{why} (the scheme overwrites this tag)"),
                        });
                        set = Some(v);
                    }
                    let (message, evidence) = if explain {
                        (
                            format!("tag `{}` is `{cur}`", rule.key),
                            evidence(Some(cur)),
                        )
                    } else {
                        (
                            String::new(),
                            Evidence::new(String::new(), serde_json::Value::Null),
                        )
                    };
                    verdicts.push(TagVerdict {
                        key: rule.key.clone(),
                        ok: true,
                        required: rule.required,
                        message,
                        evidence,
                        severity: rule.severity,
                    });
                }
                Some(cur) => {
                    let mut message = format!(
                        "tag `{}` is `{cur}`, which is not allowed (expected {})",
                        rule.key,
                        rule.describe_allowed()
                    );
                    match proposal() {
                        Some((v, why)) if rule.overwrite => {
                            message.push_str(&format!("; the tag plan sets it to `{v}`"));
                            changes.push(TagChange {
                                key: rule.key.clone(),
                                action: TagAction::Fix,
                                old_value: Some(cur.clone()),
                                new_value: v.clone(),
                                reason: why,
                            });
                            set = Some(v);
                        }
                        _ => message.push_str(
                            "; a person must fix it (the scheme does not overwrite this tag)",
                        ),
                    }
                    verdicts.push(TagVerdict {
                        key: rule.key.clone(),
                        ok: false,
                        required: true,
                        message,
                        evidence: evidence(Some(cur)),
                        severity: rule.severity,
                    });
                }
                None => {
                    let mut message = format!("tag `{}` is missing", rule.key);
                    match proposal() {
                        Some((v, why)) => {
                            message.push_str(&format!("; the tag plan gives it `{v}` ({why})"));
                            changes.push(TagChange {
                                key: rule.key.clone(),
                                action: TagAction::Add,
                                old_value: None,
                                new_value: v.clone(),
                                reason: why,
                            });
                            set = Some(v);
                        }
                        None => {
                            message.push_str("; nothing to derive it from, a person must set it")
                        }
                    }
                    verdicts.push(TagVerdict {
                        key: rule.key.clone(),
                        ok: false,
                        required: rule.required,
                        message,
                        evidence: evidence(None),
                        severity: rule.severity,
                    });
                }
            }
            if let Some(v) = set {
                changed
                    .get_or_insert_with(|| r.tags.clone())
                    .insert(rule.key.clone(), v);
            }
        }
        // Validate what would be written against AWS's rules; refuse what breaks them.
        // Nothing to write breaks nothing, unless the resource already carries more user tags
        // than AWS allows (counted as the whole set's violation, as before any change).
        let mut refused = Vec::new();
        let violations = if changes.is_empty() && r.tags.len() <= crate::tags::MAX_TAGS {
            Vec::new()
        } else {
            let to_write: Tags = changes
                .iter()
                .map(|c| (c.key.clone(), c.new_value.clone()))
                .collect();
            validate_write(&r.tags, &to_write)
        };
        if !violations.is_empty() {
            for v in &violations {
                refused.push(v.to_string());
            }
            let bad_keys: Vec<&str> = violations.iter().map(|v| v.key.as_str()).collect();
            let whole_set = bad_keys.iter().any(|k| k.is_empty());
            changes.retain(|c| !whole_set && !bad_keys.contains(&c.key.as_str()));
            changed = (!changes.is_empty()).then(|| {
                let mut planned = r.tags.clone();
                for c in &changes {
                    planned.insert(c.key.clone(), c.new_value.clone());
                }
                planned
            });
            // Say so in the verdicts that promised a change the plan no longer makes.
            for v in verdicts.iter_mut().filter(|v| !v.ok) {
                if !changes.iter().any(|c| c.key == v.key)
                    && let Some(why) = violations
                        .iter()
                        .find(|x| x.key == v.key || x.key.is_empty())
                {
                    if let Some(i) = v.message.find("; the tag plan ") {
                        v.message.truncate(i);
                    }
                    v.message
                        .push_str(&format!("; the planned value was refused ({why})"));
                }
            }
        }
        // A plan with nothing in it names no resource when counting: no report lists it.
        let named = explain || !changes.is_empty() || !refused.is_empty();
        let identity = |s: &String| if named { s.clone() } else { String::new() };
        Classification {
            plan: TagPlan {
                arn: identity(&r.arn),
                resource_type: identity(&r.resource_type),
                account_id: identity(&r.account_id),
                region: identity(&r.aws_region),
                changes,
                refused,
            },
            changed_tags: changed,
            verdicts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;

    fn scheme(y: &str) -> ClassificationScheme {
        let p = Policy::from_str_named(y, "t.yaml", &[]).unwrap();
        (*p.classification.unwrap()).clone()
    }

    const Y: &str = r#"
version: 1
classification:
  tags:
    - key: Environment
      allowed: [prod, staging, dev]
      derive:
        - from: account
          map: {"111111111111": prod, "222222222222": dev}
        - from: name
          regex: '^(prod|staging|dev)-'
    - key: Owner
      derive:
        - from: event.creator-name
      default: unassigned
    - key: DataClassification
      allowed: [public, internal, confidential, restricted]
      default: internal
    - key: Confidentiality
      allowed: ["1", "2", "3"]
      derive:
        - from_tag: DataClassification
          map: {public: "1", internal: "2", confidential: "3", restricted: "3"}
    - key: AssetGrade
      overwrite: true
      derive:
        - max_of: [Confidentiality]
          map: {"3": A, "2": B, "1": C}
"#;

    #[test]
    fn derives_defaults_and_grades() {
        let s = scheme(Y);
        let mut r = Resource::new("arn:aws:s3:::staging-logs", "AWS::S3::Bucket");
        r.account_id = "333333333333".into();
        r.tags
            .insert("DataClassification".into(), "confidential".into());
        r.tags.insert("AssetGrade".into(), "C".into());
        let ev = CreationEvent {
            creator_name: Some("alice".into()),
            ..Default::default()
        };
        let c = s.classify(&r, Some(&ev));
        let w = c.plan.to_write();
        assert_eq!(w.get("Environment").map(String::as_str), Some("staging"));
        assert_eq!(w.get("Owner").map(String::as_str), Some("alice"));
        assert_eq!(w.get("Confidentiality").map(String::as_str), Some("3"));
        assert_eq!(w.get("AssetGrade").map(String::as_str), Some("A"));
        assert!(
            !w.contains_key("DataClassification"),
            "a person's value is kept"
        );
        let fix = c
            .plan
            .changes
            .iter()
            .find(|c| c.key == "AssetGrade")
            .unwrap();
        assert_eq!(fix.action, TagAction::Fix);
        assert_eq!(fix.old_value.as_deref(), Some("C"));
        assert_eq!(
            c.effective_tags(&r.tags)
                .get("AssetGrade")
                .map(String::as_str),
            Some("A")
        );
    }

    /// A bucket of account 111111111111 whose five governed tags are all valid, and that the
    /// scheme `Y` leaves as it is.
    fn all_valid() -> Resource {
        let mut r = Resource::new("arn:aws:s3:::prod-a", "AWS::S3::Bucket");
        r.account_id = "111111111111".into();
        for (k, v) in [
            ("Environment", "prod"),
            ("Owner", "ops"),
            ("DataClassification", "public"),
            ("Confidentiality", "1"),
            ("AssetGrade", "C"),
        ] {
            r.tags.insert(k.into(), v.into());
        }
        r
    }

    #[test]
    fn counting_gives_the_same_plan_tags_and_verdicts_without_explaining_passes() {
        let s = scheme(Y);
        let mut cases = Vec::new();
        // All valid, nothing to change: every verdict passes, the plan is empty.
        let mut r = all_valid();
        cases.push(r.clone());
        // Overwritten although valid, missing, not allowed.
        r.tags.insert("AssetGrade".into(), "A".into());
        r.tags.remove("Owner");
        r.tags.insert("Environment".into(), "Production".into());
        cases.push(r);
        cases.push(Resource::new("arn:aws:s3:::dev-b", "AWS::S3::Bucket"));
        let mut plans_named = 0;
        for r in &cases {
            let (full, lean) = (s.classify(r, None), s.classify_counting(r, None));
            assert_eq!(full.changed_tags, lean.changed_tags);
            assert_eq!(full.effective_tags(&r.tags), lean.effective_tags(&r.tags));
            assert_eq!(full.plan.changes, lean.plan.changes);
            assert_eq!(full.plan.refused, lean.plan.refused);
            assert_eq!(full.verdicts.len(), lean.verdicts.len());
            for (a, b) in full.verdicts.iter().zip(&lean.verdicts) {
                assert_eq!(
                    (&a.key, a.ok, a.required, a.severity),
                    (&b.key, b.ok, b.required, b.severity)
                );
                if a.ok {
                    assert!(!a.message.is_empty() && b.message.is_empty());
                } else {
                    assert_eq!((&a.message, &a.evidence), (&b.message, &b.evidence));
                }
            }
            // A plan that changes something still names its resource.
            if lean.plan.changes.is_empty() {
                assert!(lean.plan.arn.is_empty());
            } else {
                assert_eq!(lean.plan, full.plan);
                plans_named += 1;
            }
        }
        assert_eq!(plans_named, 2);
        assert!(s.classify(&cases[0], None).verdicts.iter().all(|v| v.ok));
    }

    #[test]
    fn the_tag_map_is_copied_only_when_the_plan_changes_it() {
        let s = scheme(Y);
        let mut r = all_valid();
        for c in [s.classify(&r, None), s.classify_counting(&r, None)] {
            assert!(c.plan.changes.is_empty());
            assert_eq!(c.changed_tags, None);
            assert_eq!(c.effective_tags(&r.tags), &r.tags);
        }
        // A change: the effective tags are the resource's with the change applied.
        r.tags.remove("Owner");
        r.tags.insert("AssetGrade".into(), "A".into());
        let c = s.classify_counting(&r, None);
        assert!(!c.plan.changes.is_empty());
        let mut want = r.tags.clone();
        for ch in &c.plan.changes {
            want.insert(ch.key.clone(), ch.new_value.clone());
        }
        assert_eq!(c.changed_tags.as_ref(), Some(&want));
        assert_eq!(c.effective_tags(&r.tags), &want);
        assert_ne!(c.effective_tags(&r.tags), &r.tags);
        // Every change refused: nothing changes (`invalid_values_are_refused_before_writing`).
    }

    #[test]
    fn a_resource_over_the_tag_limit_is_refused_even_without_a_change() {
        let s = scheme(Y);
        let mut r = all_valid();
        for i in 0..crate::tags::MAX_TAGS {
            r.tags.insert(format!("extra-{i}"), "x".into());
        }
        for c in [s.classify(&r, None), s.classify_counting(&r, None)] {
            assert!(c.plan.changes.is_empty());
            assert_eq!(c.plan.refused.len(), 1, "{:?}", c.plan.refused);
            assert!(
                c.plan.refused[0].contains("user tags"),
                "{:?}",
                c.plan.refused
            );
        }
    }

    #[test]
    fn never_overwrites_without_permission() {
        let s = scheme(Y);
        let mut r = Resource::new("arn:aws:s3:::prod-x", "AWS::S3::Bucket");
        r.account_id = "111111111111".into();
        r.tags.insert("Environment".into(), "Production".into());
        let c = s.classify(&r, None);
        assert!(!c.plan.changes.iter().any(|c| c.key == "Environment"));
        let v = c.verdicts.iter().find(|v| v.key == "Environment").unwrap();
        assert!(!v.ok);
        assert!(v.message.contains("not allowed"), "{}", v.message);
        assert!(v.message.contains("a person must fix it"), "{}", v.message);
    }

    #[test]
    fn invalid_values_are_refused_before_writing() {
        let s = scheme(
            "version: 1\nclassification:\n  tags:\n    - key: Owner\n      derive:\n        - from: event.creator-name\n",
        );
        let r = Resource::new("arn:aws:s3:::b", "AWS::S3::Bucket");
        let ev = CreationEvent {
            creator_name: Some("bad;name".into()),
            ..Default::default()
        };
        let c = s.classify(&r, Some(&ev));
        assert!(c.plan.changes.is_empty());
        assert_eq!(c.changed_tags, None, "a refused change changes no tag");
        assert!(c.plan.refused[0].contains("`;`"), "{:?}", c.plan.refused);
        assert!(
            c.verdicts[0].message.contains("refused"),
            "{}",
            c.verdicts[0].message
        );
        assert!(
            !c.verdicts[0].message.contains("the tag plan gives"),
            "{}",
            c.verdicts[0].message
        );
    }
}
