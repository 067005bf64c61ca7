//! The tag writer: applies tag plans with the Resource Groups Tagging API (`TagResources`,
//! at most 20 ARNs a call, the per-ARN `FailedResourcesMap` handled ARN by ARN), and with the
//! services' own calls where that is the better way: S3 `PutBucketTagging` (which replaces the
//! whole set, so the current set is read and merged) and EC2 `CreateTags`.
//!
//! Before any write the current tags are read again: a tag someone set since the plan was made
//! is never overwritten (the change is dropped and reported), and a change already in place is
//! not written twice, so a repeated event causes no second write.

use std::collections::{BTreeMap, HashMap};

use assetwarden_core::arn::Arn;
use assetwarden_core::classify::{TagAction, TagPlan};
use assetwarden_core::notify::{TagWriteOutcome, TagWriteResult, TagWriter};
use assetwarden_core::tags::{Tags, validate_write};
use async_trait::async_trait;

use crate::inventory::{regional, s3_client};
use crate::util::{ApiFailure, Backoff, backoff_from_env, failure, is_throttle, is_transient};

/// How a resource is tagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    /// `tag:TagResources`.
    TaggingApi,
    /// `s3:GetBucketTagging` + `s3:PutBucketTagging`.
    S3,
    /// `ec2:DescribeTags` + `ec2:CreateTags`.
    Ec2,
}

/// The route for an ARN: S3 buckets and EC2 resources natively, the rest by the tagging API.
pub fn route_of(arn: &Arn) -> Route {
    match arn.service() {
        "s3" if !arn.resource().contains('/') => Route::S3,
        "ec2" => Route::Ec2,
        _ => Route::TaggingApi,
    }
}

/// Applies tag plans on AWS.
#[derive(Debug, Clone)]
pub struct AwsTagWriter {
    sdk: aws_config::SdkConfig,
    backoff: Backoff,
}

/// One plan's work in progress.
struct Job {
    index: usize,
    arn: String,
    region: String,
    route: Route,
    plan: TagPlan,
}

impl AwsTagWriter {
    /// A writer on the caller's configuration (backoff from `ASSETWARDEN_AWS_BACKOFF_MS`, else
    /// 1.5 s doubling, six attempts).
    pub fn new(sdk: &aws_config::SdkConfig) -> AwsTagWriter {
        AwsTagWriter {
            sdk: sdk.clone(),
            backoff: backoff_from_env(),
        }
    }
    /// Sets the backoff for throttled ARNs.
    pub fn backoff(mut self, b: Backoff) -> Self {
        self.backoff = b;
        self
    }

    fn region_for(&self, plan: &TagPlan, arn: &Arn) -> String {
        let r = arn.region().unwrap_or("");
        let r = if r.is_empty() {
            plan.region.as_str()
        } else {
            r
        };
        if r.is_empty() || r == "global" {
            self.sdk
                .region()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "us-east-1".into())
        } else {
            r.to_string()
        }
    }

    /// Reads the current tags of ARNs by route; `Err` per ARN when they cannot be read.
    pub(crate) async fn read_current(
        &self,
        region: &str,
        route: Route,
        arns: &[String],
    ) -> HashMap<String, Result<Tags, ApiFailure>> {
        let cfg = regional(&self.sdk, region);
        let mut out = HashMap::new();
        match route {
            Route::TaggingApi => {
                let rgt = aws_sdk_resourcegroupstagging::Client::new(&cfg);
                for chunk in arns.chunks(100) {
                    let mut found: HashMap<String, Tags> = HashMap::new();
                    let mut token: Option<String> = None;
                    let res = loop {
                        match rgt
                            .get_resources()
                            .set_resource_arn_list(Some(chunk.to_vec()))
                            .set_pagination_token(token.clone())
                            .send()
                            .await
                        {
                            Ok(o) => {
                                for m in o.resource_tag_mapping_list() {
                                    if let Some(a) = m.resource_arn() {
                                        found.insert(
                                            a.to_string(),
                                            m.tags()
                                                .iter()
                                                .map(|t| {
                                                    (t.key().to_string(), t.value().to_string())
                                                })
                                                .collect(),
                                        );
                                    }
                                }
                                match o.pagination_token() {
                                    Some(t) if !t.is_empty() => token = Some(t.to_string()),
                                    _ => break Ok(()),
                                }
                            }
                            Err(e) => break Err(failure("tag:GetResources", &e)),
                        }
                    };
                    for a in chunk {
                        out.insert(
                            a.clone(),
                            match &res {
                                Ok(()) => Ok(found.remove(a).unwrap_or_default()),
                                Err(f) => Err(f.clone()),
                            },
                        );
                    }
                }
            }
            Route::Ec2 => {
                let ec2 = aws_sdk_ec2::Client::new(&cfg);
                let ids: Vec<String> = arns
                    .iter()
                    .filter_map(|a| Arn::parse(a).ok().map(|p| p.resource_id().to_string()))
                    .collect();
                for (chunk_ids, chunk_arns) in ids.chunks(200).zip(arns.chunks(200)) {
                    let mut found: HashMap<String, Tags> = HashMap::new();
                    let mut pages = ec2
                        .describe_tags()
                        .filters(
                            aws_sdk_ec2::types::Filter::builder()
                                .name("resource-id")
                                .set_values(Some(chunk_ids.to_vec()))
                                .build(),
                        )
                        .into_paginator()
                        .send();
                    let mut err = None;
                    while let Some(p) = pages.next().await {
                        match p {
                            Ok(p) => {
                                for t in p.tags() {
                                    if let (Some(id), Some(k)) = (t.resource_id(), t.key()) {
                                        found.entry(id.to_string()).or_default().insert(
                                            k.to_string(),
                                            t.value().unwrap_or_default().to_string(),
                                        );
                                    }
                                }
                            }
                            Err(e) => {
                                err = Some(failure("ec2:DescribeTags", &e));
                                break;
                            }
                        }
                    }
                    for (id, a) in chunk_ids.iter().zip(chunk_arns) {
                        out.insert(
                            a.clone(),
                            match &err {
                                None => Ok(found.remove(id).unwrap_or_default()),
                                Some(f) => Err(f.clone()),
                            },
                        );
                    }
                }
            }
            Route::S3 => {
                let s3 = s3_client(&self.sdk, region);
                for a in arns {
                    let name = Arn::parse(a)
                        .map(|p| p.resource().to_string())
                        .unwrap_or_default();
                    let r = match s3.get_bucket_tagging().bucket(&name).send().await {
                        Ok(o) => Ok(o
                            .tag_set()
                            .iter()
                            .map(|t| (t.key().to_string(), t.value().to_string()))
                            .collect()),
                        Err(e) => {
                            let f = failure("s3:GetBucketTagging", &e);
                            if f.code == "NoSuchTagSet" {
                                Ok(Tags::new())
                            } else {
                                Err(f)
                            }
                        }
                    };
                    out.insert(a.clone(), r);
                }
            }
        }
        out
    }

    async fn write_tagging_api(
        &self,
        region: &str,
        tags: &Tags,
        arns: Vec<String>,
    ) -> HashMap<String, Result<(), ApiFailure>> {
        let rgt = aws_sdk_resourcegroupstagging::Client::new(&regional(&self.sdk, region));
        let mut done: HashMap<String, Result<(), ApiFailure>> = HashMap::new();
        let map: HashMap<String, String> =
            tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        for chunk in arns.chunks(20) {
            let mut pending: Vec<String> = chunk.to_vec();
            let mut attempt = 0;
            while !pending.is_empty() {
                attempt += 1;
                let res = rgt
                    .tag_resources()
                    .set_resource_arn_list(Some(pending.clone()))
                    .set_tags(Some(map.clone()))
                    .send()
                    .await;
                let mut retry = Vec::new();
                match res {
                    Ok(o) => {
                        let failed = o.failed_resources_map().cloned().unwrap_or_default();
                        for a in pending.drain(..) {
                            match failed.get(&a) {
                                None => {
                                    done.insert(a, Ok(()));
                                }
                                Some(fi) => {
                                    let code = fi
                                        .error_code()
                                        .map(|c| c.as_str().to_string())
                                        .unwrap_or_else(|| "unknown".into());
                                    let status = fi.status_code();
                                    let f = ApiFailure {
                                        operation: "tag:TagResources".into(),
                                        retryable: is_throttle(&code)
                                            || is_transient(&code)
                                            || status == 429
                                            || status >= 500,
                                        message: fi.error_message().unwrap_or("").to_string(),
                                        code,
                                    };
                                    if f.retryable && attempt < self.backoff.max_attempts {
                                        retry.push(a);
                                    } else {
                                        done.insert(a, Err(f));
                                    }
                                }
                            }
                        }
                    }
                    Err(e) => {
                        let f = failure("tag:TagResources", &e);
                        if f.retryable && attempt < self.backoff.max_attempts {
                            retry = std::mem::take(&mut pending);
                        } else {
                            for a in pending.drain(..) {
                                done.insert(a, Err(f.clone()));
                            }
                        }
                    }
                }
                if !retry.is_empty() {
                    tracing::debug!(attempt, n = retry.len(), "retrying throttled ARNs");
                    tokio::time::sleep(self.backoff.delay(attempt)).await;
                }
                pending = retry;
            }
        }
        done
    }

    async fn write_ec2(
        &self,
        region: &str,
        tags: &Tags,
        arns: Vec<String>,
    ) -> HashMap<String, Result<(), ApiFailure>> {
        let ec2 = aws_sdk_ec2::Client::new(&regional(&self.sdk, region));
        let tag_list: Vec<aws_sdk_ec2::types::Tag> = tags
            .iter()
            .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
            .collect();
        let mut done = HashMap::new();
        let id_of = |a: &str| {
            Arn::parse(a)
                .map(|p| p.resource_id().to_string())
                .unwrap_or_default()
        };
        for chunk in arns.chunks(100) {
            let call = |ids: Vec<String>| {
                ec2.create_tags()
                    .set_resources(Some(ids))
                    .set_tags(Some(tag_list.clone()))
                    .send()
            };
            let ids: Vec<String> = chunk.iter().map(|a| id_of(a)).collect();
            let r = self.retrying("ec2:CreateTags", || call(ids.clone())).await;
            match r {
                Ok(()) => {
                    for a in chunk {
                        done.insert(a.clone(), Ok(()));
                    }
                }
                Err(f) if chunk.len() > 1 && !f.retryable => {
                    // EC2 fails the whole call when one id is gone: tag one by one so the
                    // others are not lost.
                    for a in chunk {
                        let r = self
                            .retrying("ec2:CreateTags", || call(vec![id_of(a)]))
                            .await;
                        done.insert(a.clone(), r);
                    }
                }
                Err(f) => {
                    for a in chunk {
                        done.insert(a.clone(), Err(f.clone()));
                    }
                }
            }
        }
        done
    }

    async fn retrying<F, Fut, T, E, R>(&self, op: &str, mut call: F) -> Result<(), ApiFailure>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<
                Output = Result<T, aws_smithy_runtime_api::client::result::SdkError<E, R>>,
            >,
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match call().await {
                Ok(_) => return Ok(()),
                Err(e) => {
                    let f = failure(op, &e);
                    if f.retryable && attempt < self.backoff.max_attempts {
                        tokio::time::sleep(self.backoff.delay(attempt)).await;
                        continue;
                    }
                    return Err(f);
                }
            }
        }
    }

    async fn write_s3(&self, region: &str, name: &str, full: &Tags) -> Result<(), ApiFailure> {
        let s3 = s3_client(&self.sdk, region);
        let mut set = Vec::new();
        for (k, v) in full {
            match aws_sdk_s3::types::Tag::builder().key(k).value(v).build() {
                Ok(t) => set.push(t),
                Err(e) => {
                    return Err(ApiFailure {
                        operation: "s3:PutBucketTagging".into(),
                        code: "construction".into(),
                        message: e.to_string(),
                        retryable: false,
                    });
                }
            }
        }
        let tagging = aws_sdk_s3::types::Tagging::builder()
            .set_tag_set(Some(set))
            .build()
            .map_err(|e| ApiFailure {
                operation: "s3:PutBucketTagging".into(),
                code: "construction".into(),
                message: e.to_string(),
                retryable: false,
            })?;
        self.retrying("s3:PutBucketTagging", || {
            s3.put_bucket_tagging()
                .bucket(name)
                .tagging(tagging.clone())
                .send()
        })
        .await
    }
}

/// Keeps the changes still right against the current tags; says why the others were dropped.
fn reconcile(plan: &TagPlan, current: &Tags) -> (Tags, Vec<String>) {
    let mut write = Tags::new();
    let mut dropped = Vec::new();
    for c in &plan.changes {
        let now = current.get(&c.key);
        match (c.action, now) {
            (_, Some(v)) if *v == c.new_value => {}
            (TagAction::Add, None) => {
                write.insert(c.key.clone(), c.new_value.clone());
            }
            (TagAction::Add, Some(v)) => dropped.push(format!(
                "{}: now `{v}`, set since the plan was made; not overwritten",
                c.key
            )),
            (TagAction::Fix, now) if now == c.old_value.as_ref() => {
                write.insert(c.key.clone(), c.new_value.clone());
            }
            (TagAction::Fix, now) => dropped.push(format!(
                "{}: now {}, changed since the plan was made; not overwritten",
                c.key,
                now.map(|v| format!("`{v}`"))
                    .unwrap_or_else(|| "absent".into())
            )),
        }
    }
    (write, dropped)
}

#[async_trait]
impl TagWriter for AwsTagWriter {
    fn name(&self) -> &str {
        "aws"
    }

    async fn apply(&self, plans: &[TagPlan], dry_run: bool) -> Vec<TagWriteResult> {
        let mut results: Vec<Option<TagWriteResult>> = vec![None; plans.len()];
        let mut jobs: Vec<Job> = Vec::new();
        for (index, plan) in plans.iter().enumerate() {
            let refuse = |why: String| TagWriteResult {
                arn: plan.arn.clone(),
                outcome: TagWriteOutcome::Refused(why),
                written: Tags::new(),
                dropped: Vec::new(),
            };
            let parsed = match Arn::parse(&plan.arn) {
                Ok(a) => a,
                Err(e) => {
                    results[index] = Some(refuse(e.to_string()));
                    continue;
                }
            };
            if !plan.refused.is_empty() {
                results[index] = Some(refuse(plan.refused.join("; ")));
                continue;
            }
            let bad = validate_write(&Tags::new(), &plan.to_write());
            if !bad.is_empty() {
                results[index] = Some(refuse(
                    bad.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                ));
                continue;
            }
            if plan.is_empty() {
                results[index] = Some(TagWriteResult {
                    arn: plan.arn.clone(),
                    outcome: TagWriteOutcome::Unchanged,
                    written: Tags::new(),
                    dropped: Vec::new(),
                });
                continue;
            }
            jobs.push(Job {
                index,
                arn: plan.arn.clone(),
                region: self.region_for(plan, &parsed),
                route: route_of(&parsed),
                plan: plan.clone(),
            });
        }
        // Read the current tags, by region and route.
        let mut groups: BTreeMap<(String, Route), Vec<usize>> = BTreeMap::new();
        for (j, job) in jobs.iter().enumerate() {
            groups
                .entry((job.region.clone(), job.route))
                .or_default()
                .push(j);
        }
        // (region, route, tags to write) → jobs, so one call carries many ARNs.
        let mut writes: BTreeMap<(String, Route, Tags), Vec<usize>> = BTreeMap::new();
        let mut s3_full: HashMap<usize, Tags> = HashMap::new();
        let mut pending: HashMap<usize, (Tags, Vec<String>)> = HashMap::new();
        for ((region, route), idx) in &groups {
            let arns: Vec<String> = idx.iter().map(|j| jobs[*j].arn.clone()).collect();
            let current = self.read_current(region, *route, &arns).await;
            for j in idx {
                let job = &jobs[*j];
                match current.get(&job.arn) {
                    Some(Ok(now)) => {
                        let (write, dropped) = reconcile(&job.plan, now);
                        let bad = validate_write(now, &write);
                        if !bad.is_empty() {
                            results[job.index] = Some(TagWriteResult {
                                arn: job.arn.clone(),
                                outcome: TagWriteOutcome::Refused(
                                    bad.iter()
                                        .map(ToString::to_string)
                                        .collect::<Vec<_>>()
                                        .join("; "),
                                ),
                                written: Tags::new(),
                                dropped,
                            });
                            continue;
                        }
                        if write.is_empty() {
                            results[job.index] = Some(TagWriteResult {
                                arn: job.arn.clone(),
                                outcome: TagWriteOutcome::Unchanged,
                                written: Tags::new(),
                                dropped,
                            });
                            continue;
                        }
                        if *route == Route::S3 {
                            let mut full = now.clone();
                            full.extend(write.clone());
                            s3_full.insert(*j, full);
                        }
                        writes
                            .entry((region.clone(), *route, write.clone()))
                            .or_default()
                            .push(*j);
                        pending.insert(*j, (write, dropped));
                    }
                    Some(Err(f)) => {
                        // Fail closed: without the current tags we could overwrite a person's.
                        results[job.index] = Some(TagWriteResult {
                            arn: job.arn.clone(),
                            outcome: TagWriteOutcome::Failed {
                                code: f.code.clone(),
                                message: format!("current tags unreadable, nothing written: {f}"),
                            },
                            written: Tags::new(),
                            dropped: Vec::new(),
                        });
                    }
                    None => {
                        results[job.index] = Some(TagWriteResult {
                            arn: job.arn.clone(),
                            outcome: TagWriteOutcome::Failed {
                                code: "internal".into(),
                                message: "current tags not read".into(),
                            },
                            written: Tags::new(),
                            dropped: Vec::new(),
                        });
                    }
                }
            }
        }
        for ((region, route, tags), idx) in writes {
            let outcomes: HashMap<String, Result<(), ApiFailure>> = if dry_run {
                idx.iter().map(|j| (jobs[*j].arn.clone(), Ok(()))).collect()
            } else {
                match route {
                    Route::TaggingApi => {
                        self.write_tagging_api(
                            &region,
                            &tags,
                            idx.iter().map(|j| jobs[*j].arn.clone()).collect(),
                        )
                        .await
                    }
                    Route::Ec2 => {
                        self.write_ec2(
                            &region,
                            &tags,
                            idx.iter().map(|j| jobs[*j].arn.clone()).collect(),
                        )
                        .await
                    }
                    Route::S3 => {
                        let mut m = HashMap::new();
                        for j in &idx {
                            let job = &jobs[*j];
                            let name = Arn::parse(&job.arn)
                                .map(|p| p.resource().to_string())
                                .unwrap_or_default();
                            let full = s3_full.get(j).cloned().unwrap_or_default();
                            m.insert(job.arn.clone(), self.write_s3(&region, &name, &full).await);
                        }
                        m
                    }
                }
            };
            for j in idx {
                let job = &jobs[j];
                let (write, dropped) = pending.remove(&j).unwrap_or_default();
                let outcome = match outcomes.get(&job.arn) {
                    Some(Ok(())) if dry_run => TagWriteOutcome::WouldWrite,
                    Some(Ok(())) => TagWriteOutcome::Written,
                    Some(Err(f)) => TagWriteOutcome::Failed {
                        code: f.code.clone(),
                        message: f.to_string(),
                    },
                    None => TagWriteOutcome::Failed {
                        code: "internal".into(),
                        message: "no outcome recorded".into(),
                    },
                };
                let written = if matches!(outcome, TagWriteOutcome::Failed { .. }) {
                    Tags::new()
                } else {
                    write
                };
                results[job.index] = Some(TagWriteResult {
                    arn: job.arn.clone(),
                    outcome,
                    written,
                    dropped,
                });
            }
        }
        results
            .into_iter()
            .zip(plans)
            .map(|(r, p)| {
                r.unwrap_or_else(|| TagWriteResult {
                    arn: p.arn.clone(),
                    outcome: TagWriteOutcome::Failed {
                        code: "internal".into(),
                        message: "no outcome recorded".into(),
                    },
                    written: Tags::new(),
                    dropped: Vec::new(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use assetwarden_core::classify::TagChange;

    fn plan(changes: Vec<TagChange>) -> TagPlan {
        TagPlan {
            arn: "arn:aws:rds:us-east-1:111111111111:db:d".into(),
            resource_type: "AWS::RDS::DBInstance".into(),
            account_id: "111111111111".into(),
            region: "us-east-1".into(),
            changes,
            refused: vec![],
        }
    }
    fn ch(key: &str, action: TagAction, old: Option<&str>, new: &str) -> TagChange {
        TagChange {
            key: key.into(),
            action,
            old_value: old.map(Into::into),
            new_value: new.into(),
            reason: "test".into(),
        }
    }

    #[test]
    fn a_tag_set_since_the_plan_is_not_overwritten() {
        let p = plan(vec![
            ch("owner", TagAction::Add, None, "team-a"),
            ch("env", TagAction::Add, None, "prod"),
            ch("class", TagAction::Fix, Some("Secret"), "restricted"),
            ch("tier", TagAction::Fix, Some("x"), "web"),
        ]);
        let now: Tags = [
            ("owner".to_string(), "team-b".to_string()),
            ("class".to_string(), "Secret".to_string()),
            ("tier".to_string(), "db".to_string()),
        ]
        .into_iter()
        .collect();
        let (w, d) = reconcile(&p, &now);
        assert_eq!(
            w.into_iter().collect::<Vec<_>>(),
            vec![
                ("class".to_string(), "restricted".to_string()),
                ("env".to_string(), "prod".to_string())
            ]
        );
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].starts_with("owner: now `team-b`"));
        assert!(d[1].starts_with("tier: now `db`"));
    }

    #[test]
    fn a_change_already_in_place_is_not_written_again() {
        let p = plan(vec![ch("owner", TagAction::Add, None, "team-a")]);
        let now: Tags = [("owner".to_string(), "team-a".to_string())]
            .into_iter()
            .collect();
        let (w, d) = reconcile(&p, &now);
        assert!(w.is_empty() && d.is_empty());
    }

    #[tokio::test]
    async fn invalid_tags_are_refused_before_any_call() {
        // No endpoint, no credentials: a call would fail, so a refusal proves none was made.
        let sdk = aws_config::SdkConfig::builder().build();
        let w = AwsTagWriter::new(&sdk);
        let mut p = plan(vec![ch("aws:owner", TagAction::Add, None, "x")]);
        let mut long = plan(vec![ch("k", TagAction::Add, None, &"v".repeat(257))]);
        long.arn = "arn:aws:rds:us-east-1:111111111111:db:e".into();
        p.arn = "arn:aws:rds:us-east-1:111111111111:db:d".into();
        let out = w.apply(&[p, long], false).await;
        for r in &out {
            assert!(
                matches!(&r.outcome, TagWriteOutcome::Refused(why) if !why.is_empty()),
                "{r:?}"
            );
        }
        let empty = w.apply(&[plan(vec![])], false).await;
        assert_eq!(empty[0].outcome, TagWriteOutcome::Unchanged);
    }

    #[test]
    fn routes() {
        let r = |a: &str| route_of(&Arn::parse(a).unwrap());
        assert_eq!(r("arn:aws:s3:::bucket"), Route::S3);
        assert_eq!(
            r("arn:aws:ec2:us-east-1:111111111111:instance/i-1"),
            Route::Ec2
        );
        assert_eq!(
            r("arn:aws:rds:us-east-1:111111111111:db:x"),
            Route::TaggingApi
        );
    }
}
