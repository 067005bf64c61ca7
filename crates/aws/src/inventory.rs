//! Live inventory: the Resource Groups Tagging API for tags (and for resources nothing else
//! collects), AWS Config for configuration where it records, and direct Describe/Get calls
//! where it does not. Every failure ends up in the coverage ledger as a gap or a not-observed
//! part of a resource, so the checks it affects report UNKNOWN, never PASS.

use std::collections::{BTreeSet, HashMap, HashSet};

use assetwarden_core::arn::Arn;
use assetwarden_core::normalize::{self, Normalised, RawContext};
use assetwarden_core::resource::Resource;
use assetwarden_core::resource_type::cfn_type_of;
use assetwarden_core::source::{CoverageGap, ResourceSource, SourceEvent};
use assetwarden_core::tags::Tags;
use async_trait::async_trait;
use aws_config::Region;
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::{Map, Value, json};
use tokio::sync::OnceCell;

use crate::enrich::{self, Collected};
use crate::util::{ApiFailure, caller_account, failure};

/// Types collected directly (without Config), and the IAM action that lists them.
pub const DIRECT_TYPES: &[(&str, &str)] = &[
    ("AWS::S3::Bucket", "s3:ListAllMyBuckets"),
    ("AWS::EC2::SecurityGroup", "ec2:DescribeSecurityGroups"),
    ("AWS::EC2::Volume", "ec2:DescribeVolumes"),
    ("AWS::RDS::DBInstance", "rds:DescribeDBInstances"),
    ("AWS::ECR::Repository", "ecr:DescribeRepositories"),
    (
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "elasticloadbalancing:DescribeLoadBalancers",
    ),
];

/// Whether AWS Config is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConfigMode {
    /// Use Config for the types its recorder records; collect the rest directly.
    #[default]
    Auto,
    /// Never call Config.
    Off,
}

/// The live inventory of one account over a set of regions.
#[derive(Debug)]
pub struct AwsInventory {
    sdk: aws_config::SdkConfig,
    regions: Vec<String>,
    concurrency: usize,
    config_mode: ConfigMode,
    /// Types the checks cover: a failure to list them is a gap.
    covered_types: BTreeSet<String>,
    name: String,
    identity: OnceCell<(String, String)>,
}

impl AwsInventory {
    /// An inventory on the caller's configuration. `regions` empty: every region enabled for
    /// the account (`ec2:DescribeRegions`).
    pub fn new(sdk: &aws_config::SdkConfig, regions: Vec<String>) -> AwsInventory {
        let covered_types = assetwarden_core::checks::catalog()
            .into_iter()
            .flat_map(|m| m.resource_types)
            .collect();
        AwsInventory {
            sdk: sdk.clone(),
            name: if regions.is_empty() {
                "aws".into()
            } else {
                format!("aws:{}", regions.join(","))
            },
            regions,
            concurrency: 4,
            config_mode: ConfigMode::Auto,
            covered_types,
            identity: OnceCell::new(),
        }
    }
    /// How many regions are read at once (default 4).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }
    /// Whether to use AWS Config.
    pub fn config_mode(mut self, m: ConfigMode) -> Self {
        self.config_mode = m;
        self
    }
    /// Types whose absence from the collection is a gap (default: those of the built-in checks).
    pub fn covered_types(mut self, t: impl IntoIterator<Item = String>) -> Self {
        self.covered_types = t.into_iter().collect();
        self
    }

    /// The account and partition of the credentials.
    pub async fn identity(&self) -> Result<&(String, String), ApiFailure> {
        self.identity
            .get_or_try_init(|| caller_account(&self.sdk))
            .await
    }

    /// The regions to read: those given, else the enabled ones.
    pub async fn regions(&self) -> Result<Vec<String>, ApiFailure> {
        if !self.regions.is_empty() {
            return Ok(self.regions.clone());
        }
        let ec2 = aws_sdk_ec2::Client::new(&self.sdk);
        let out = ec2
            .describe_regions()
            .send()
            .await
            .map_err(|e| failure("ec2:DescribeRegions", &e))?;
        let mut r: Vec<String> = out
            .regions()
            .iter()
            .filter_map(|r| r.region_name().map(str::to_string))
            .collect();
        r.sort();
        Ok(r)
    }

    async fn scan_region(
        &self,
        region: String,
        ctx: RawContext,
        buckets: Vec<(String, Value)>,
        s3_listed: bool,
    ) -> Vec<SourceEvent> {
        let cfg = regional(&self.sdk, &region);
        let mut events = Vec::new();
        let rgt = aws_sdk_resourcegroupstagging::Client::new(&cfg);
        let tags_fut = tag_map(&rgt);
        let config_fut = async {
            match self.config_mode {
                ConfigMode::Off => Ok((Vec::new(), HashSet::new(), Vec::new())),
                ConfigMode::Auto => {
                    config_items(&aws_sdk_config::Client::new(&cfg), &self.covered_types).await
                }
            }
        };
        let (tags, config) = tokio::join!(tags_fut, config_fut);
        let (config_resources, recorded, config_errors) = match config {
            Ok(c) => c,
            Err(f) => {
                // Config unreadable: collect directly what can be, and say what cannot.
                let lost: Vec<String> = self
                    .covered_types
                    .iter()
                    .filter(|t| !DIRECT_TYPES.iter().any(|(d, _)| d == t))
                    .cloned()
                    .collect();
                tracing::warn!(region = %region, error = %f, "AWS Config unreadable");
                if !lost.is_empty() {
                    events.push(SourceEvent::Gap(CoverageGap {
                        source: self.name.clone(),
                        resource_types: lost,
                        account: ctx.account.clone(),
                        region: Some(region.clone()),
                        reason: format!("AWS Config unreadable ({f}); never-tagged resources of these types cannot be found"),
                    }));
                }
                (Vec::new(), HashSet::new(), Vec::new())
            }
        };
        for e in config_errors {
            events.push(SourceEvent::Error {
                location: format!("aws:{region}: AWS Config"),
                message: e,
            });
        }
        let wanted = |t: &str| !recorded.contains(t);
        let ec2 = aws_sdk_ec2::Client::new(&cfg);
        let rds = aws_sdk_rds::Client::new(&cfg);
        let ecr = aws_sdk_ecr::Client::new(&cfg);
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&cfg);
        let s3 = s3_client(&self.sdk, &region);
        let skip = || async { Ok::<Collected, ApiFailure>(Collected::default()) };
        let (sg, vol, db, repo, lb, bk) = tokio::join!(
            async {
                if wanted("AWS::EC2::SecurityGroup") {
                    enrich::security_groups(&ec2, &ctx, None).await
                } else {
                    skip().await
                }
            },
            async {
                if wanted("AWS::EC2::Volume") {
                    enrich::volumes(&ec2, &ctx, None).await
                } else {
                    skip().await
                }
            },
            async {
                if wanted("AWS::RDS::DBInstance") {
                    enrich::db_instances(&rds, &ctx, None).await
                } else {
                    skip().await
                }
            },
            async {
                if wanted("AWS::ECR::Repository") {
                    enrich::repositories(&ecr, &ctx, None).await
                } else {
                    skip().await
                }
            },
            async {
                if wanted("AWS::ElasticLoadBalancingV2::LoadBalancer") {
                    enrich::load_balancers(&elb, &ctx, None).await
                } else {
                    skip().await
                }
            },
            async {
                if wanted("AWS::S3::Bucket") && s3_listed {
                    let bundles =
                        futures::stream::iter(buckets.clone().into_iter().map(|(n, c)| {
                            let s3 = s3.clone();
                            async move { enrich::bucket(&s3, &n, c).await }
                        }))
                        .buffer_unordered(8)
                        .collect::<Vec<_>>()
                        .await;
                    let mut out = Collected::default();
                    for b in bundles {
                        match enrich::bucket_resource(&b, &ctx) {
                            Ok(r) => out.resources.push(r),
                            Err(e) => out.errors.push(e),
                        }
                    }
                    Ok(out)
                } else {
                    skip().await
                }
            },
        );
        let mut collected: HashMap<String, Resource> = HashMap::new();
        let mut direct_ok: HashSet<&str> = HashSet::new();
        let mut direct_failed: HashMap<&str, String> = HashMap::new();
        for r in config_resources {
            collected.insert(r.arn.clone(), r);
        }
        for ((t, op), res) in DIRECT_TYPES.iter().zip([bk, sg, vol, db, repo, lb]) {
            if !wanted(t) {
                continue;
            }
            match res {
                Ok(c) => {
                    if *t != "AWS::S3::Bucket" || s3_listed {
                        direct_ok.insert(t);
                    }
                    for e in c.errors {
                        events.push(SourceEvent::Error {
                            location: format!("aws:{region}: {op}"),
                            message: e,
                        });
                    }
                    for r in c.resources {
                        collected.insert(r.arn.clone(), r);
                    }
                }
                Err(f) => {
                    direct_failed.insert(t, f.to_string());
                    let mut types = vec![t.to_string()];
                    if *t == "AWS::ElasticLoadBalancingV2::LoadBalancer" {
                        types.push("AWS::ElasticLoadBalancingV2::Listener".into());
                    }
                    events.push(SourceEvent::Gap(CoverageGap {
                        source: self.name.clone(),
                        resource_types: types,
                        account: ctx.account.clone(),
                        region: Some(region.clone()),
                        reason: f.to_string(),
                    }));
                }
            }
        }
        if direct_ok.contains("AWS::ElasticLoadBalancingV2::LoadBalancer") {
            direct_ok.insert("AWS::ElasticLoadBalancingV2::Listener");
        }
        // Merge the tags; resources only the tagging API knows are kept with their tags and
        // their configuration marked not collected.
        match tags {
            Ok(mut map) => {
                for (arn, r) in collected.iter_mut() {
                    let had_tags = !r.unobserved.iter().any(|u| u.path == "tags");
                    match map.remove(arn) {
                        Some(t) => r.tags = t,
                        None if had_tags && !r.tags.is_empty() => {}
                        None => r.tags = Tags::new(),
                    }
                    r.unobserved.retain(|u| u.path != "tags");
                }
                for (arn, t) in map {
                    let Ok(parsed) = Arn::parse(&arn) else {
                        events.push(SourceEvent::Error {
                            location: format!("aws:{region}: tag:GetResources"),
                            message: format!("`{arn}` is not an ARN"),
                        });
                        continue;
                    };
                    let Some(rtype) = cfn_type_of(&parsed) else {
                        events.push(SourceEvent::Skipped {
                            location: arn.clone(),
                            reason: "a resource type no check covers".into(),
                        });
                        continue;
                    };
                    if rtype == "AWS::S3::Bucket" && !s3_listed {
                        // The bucket listing failed: its gap is already reported.
                    }
                    let mut r = Resource::new(arn.clone(), rtype);
                    r.tags = t;
                    let why = if let Some(f) = direct_failed.get(rtype) {
                        format!(
                            "found by the tagging API, but its configuration could not be read: {f}"
                        )
                    } else if recorded.contains(rtype) || direct_ok.contains(rtype) {
                        "found by the tagging API but not by AWS Config or the direct listing (deleted meanwhile?)".to_string()
                    } else {
                        format!(
                            "not collected: AWS Config does not record `{rtype}` here and Assetwarden has no direct collector for it"
                        )
                    };
                    r.mark_unobserved("configuration", why);
                    r.origin = Some(format!("aws:{region}: tag:GetResources"));
                    collected.insert(arn, r);
                }
            }
            Err(f) => {
                for r in collected.values_mut() {
                    if r.unobserved.iter().any(|u| u.path == "tags") {
                        continue;
                    }
                    // Describe calls that return tags (EC2, RDS) still count; the others did
                    // not read tags at all.
                    if matches!(
                        r.resource_type.as_str(),
                        "AWS::EC2::SecurityGroup" | "AWS::EC2::Volume" | "AWS::RDS::DBInstance"
                    ) && direct_ok.contains(r.resource_type.as_str())
                    {
                        continue;
                    }
                    r.mark_unobserved("tags", f.to_string());
                }
                let missing: Vec<String> = self
                    .covered_types
                    .iter()
                    .filter(|t| !recorded.contains(t.as_str()) && !direct_ok.contains(t.as_str()))
                    .cloned()
                    .collect();
                if !missing.is_empty() {
                    events.push(SourceEvent::Gap(CoverageGap {
                        source: self.name.clone(),
                        resource_types: missing,
                        account: ctx.account.clone(),
                        region: Some(region.clone()),
                        reason: f.to_string(),
                    }));
                }
            }
        }
        let mut rs: Vec<Resource> = collected.into_values().collect();
        rs.sort_by(|a, b| a.arn.cmp(&b.arn));
        events.extend(rs.into_iter().map(|r| SourceEvent::Resource(Box::new(r))));
        events
    }
}

/// A copy of the configuration pointed at one region.
pub fn regional(sdk: &aws_config::SdkConfig, region: &str) -> aws_config::SdkConfig {
    sdk.to_builder()
        .region(Region::new(region.to_string()))
        .build()
}

/// An S3 client for a region; path-style addressing when an endpoint URL is set (moto, MinIO).
pub fn s3_client(sdk: &aws_config::SdkConfig, region: &str) -> aws_sdk_s3::Client {
    let mut b = aws_sdk_s3::config::Builder::from(sdk).region(Region::new(region.to_string()));
    if sdk.endpoint_url().is_some() {
        b = b.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(b.build())
}

/// All tagged resources of a region (`tag:GetResources`, 100 a page, every page). An expired
/// pagination token restarts the listing (at most three times) instead of returning part of it.
pub async fn tag_map(
    rgt: &aws_sdk_resourcegroupstagging::Client,
) -> Result<HashMap<String, Tags>, ApiFailure> {
    let mut restarts = 0;
    'listing: loop {
        let mut map = HashMap::new();
        let mut token: Option<String> = None;
        loop {
            let res = rgt
                .get_resources()
                .resources_per_page(100)
                .set_pagination_token(token.clone())
                .send()
                .await;
            match res {
                Ok(o) => {
                    for m in o.resource_tag_mapping_list() {
                        if let Some(arn) = m.resource_arn() {
                            let tags: Tags = m
                                .tags()
                                .iter()
                                .map(|t| (t.key().to_string(), t.value().to_string()))
                                .collect();
                            map.insert(arn.to_string(), tags);
                        }
                    }
                    match o.pagination_token() {
                        Some(t) if !t.is_empty() => token = Some(t.to_string()),
                        _ => return Ok(map),
                    }
                }
                Err(e) => {
                    let f = failure("tag:GetResources", &e);
                    if f.code == "PaginationTokenExpiredException" && restarts < 3 {
                        restarts += 1;
                        tracing::warn!(
                            restarts,
                            "tagging API pagination token expired; listing again"
                        );
                        continue 'listing;
                    }
                    return Err(f);
                }
            }
        }
    }
}

type ConfigOutcome = (Vec<Resource>, HashSet<String>, Vec<String>);

/// Configuration items of the recorded types among `covered` (`config:ListDiscoveredResources`,
/// `config:BatchGetResourceConfig`, re-requesting unprocessed keys). Returns the resources, the
/// types Config records here, and per-item errors.
pub async fn config_items(
    cfg: &aws_sdk_config::Client,
    covered: &BTreeSet<String>,
) -> Result<ConfigOutcome, ApiFailure> {
    let status = cfg
        .describe_configuration_recorder_status()
        .send()
        .await
        .map_err(|e| failure("config:DescribeConfigurationRecorderStatus", &e))?;
    if !status
        .configuration_recorders_status()
        .iter()
        .any(|s| s.recording())
    {
        return Ok((Vec::new(), HashSet::new(), Vec::new()));
    }
    let recorders = cfg
        .describe_configuration_recorders()
        .send()
        .await
        .map_err(|e| failure("config:DescribeConfigurationRecorders", &e))?;
    let mut recorded: HashSet<String> = HashSet::new();
    for r in recorders.configuration_recorders() {
        match r.recording_group() {
            Some(g) if g.all_supported() => {
                recorded.extend(covered.iter().cloned());
            }
            Some(g) => recorded.extend(
                g.resource_types()
                    .iter()
                    .map(|t| t.as_str().to_string())
                    .filter(|t| covered.contains(t)),
            ),
            None => recorded.extend(covered.iter().cloned()),
        }
    }
    let mut keys = Vec::new();
    for t in &recorded {
        let mut token: Option<String> = None;
        loop {
            let page = cfg
                .list_discovered_resources()
                .resource_type(aws_sdk_config::types::ResourceType::from(t.as_str()))
                .limit(100)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| failure("config:ListDiscoveredResources", &e))?;
            for id in page.resource_identifiers() {
                if id.resource_deletion_time().is_some() {
                    continue;
                }
                if let (Some(rt), Some(rid)) = (id.resource_type(), id.resource_id()) {
                    keys.push((rt.clone(), rid.to_string()));
                }
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
    }
    let mut resources = Vec::new();
    let mut errors = Vec::new();
    for chunk in keys.chunks(100) {
        let mut pending: Vec<aws_sdk_config::types::ResourceKey> = chunk
            .iter()
            .filter_map(|(t, id)| {
                aws_sdk_config::types::ResourceKey::builder()
                    .resource_type(t.clone())
                    .resource_id(id)
                    .build()
                    .ok()
            })
            .collect();
        let backoff = crate::util::backoff_from_env();
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            let out = cfg
                .batch_get_resource_config()
                .set_resource_keys(Some(pending.clone()))
                .send()
                .await
                .map_err(|e| failure("config:BatchGetResourceConfig", &e))?;
            for item in out.base_configuration_items() {
                match normalize::config_item(&config_item_json(item)) {
                    Ok(Normalised::Resources(rs)) => resources.extend(rs),
                    Ok(_) => {}
                    Err(e) => errors.push(format!(
                        "{}: {e}",
                        item.arn().or(item.resource_id()).unwrap_or("?")
                    )),
                }
            }
            pending = out.unprocessed_resource_keys().to_vec();
            if !pending.is_empty() {
                if attempt >= backoff.max_attempts {
                    for k in &pending {
                        errors.push(format!(
                            "{} `{}`: still unprocessed by config:BatchGetResourceConfig after {attempt} attempts",
                            k.resource_type().as_str(),
                            k.resource_id()
                        ));
                    }
                    break;
                }
                tokio::time::sleep(backoff.delay(attempt)).await;
            }
        }
    }
    Ok((resources, recorded, errors))
}

fn config_item_json(i: &aws_sdk_config::types::BaseConfigurationItem) -> Value {
    let s = enrich::str_value;
    let date = |d: Option<&aws_smithy_types::DateTime>| {
        d.and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
            .map(Value::String)
            .unwrap_or(Value::Null)
    };
    let supp: Map<String, Value> = i
        .supplementary_configuration()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "version": s(i.version()),
        "accountId": s(i.account_id()),
        "configurationItemCaptureTime": date(i.configuration_item_capture_time()),
        "configurationItemStatus": i.configuration_item_status().map(|x| x.as_str()),
        "configurationStateId": s(i.configuration_state_id()),
        "arn": s(i.arn()),
        "resourceType": i.resource_type().map(|x| x.as_str()),
        "resourceId": s(i.resource_id()),
        "resourceName": s(i.resource_name()),
        "awsRegion": s(i.aws_region()),
        "availabilityZone": s(i.availability_zone()),
        "resourceCreationTime": date(i.resource_creation_time()),
        "configuration": s(i.configuration()),
        "supplementaryConfiguration": supp,
    })
}

#[async_trait]
impl ResourceSource for AwsInventory {
    fn name(&self) -> &str {
        &self.name
    }

    async fn open(&self) -> assetwarden_core::Result<BoxStream<'_, SourceEvent>> {
        let src = |f: ApiFailure| assetwarden_core::Error::Source {
            source_name: self.name.clone(),
            message: f.to_string(),
            retryable: f.retryable,
        };
        let (account, partition) = self.identity().await.map_err(src)?.clone();
        let regions = self.regions().await.map_err(src)?;
        let mut head = Vec::new();
        // S3 lists every bucket of the account at once; each bucket is read in its region.
        let home = regions
            .first()
            .cloned()
            .unwrap_or_else(|| "us-east-1".into());
        let s3 = s3_client(&self.sdk, &home);
        let mut by_region: HashMap<String, Vec<(String, Value)>> = HashMap::new();
        let s3_listed = match enrich::list_buckets(&s3).await {
            Ok(list) => {
                for (name, region, created) in list {
                    let region = match region {
                        Some(r) => r,
                        None => match enrich::bucket_region(&s3, &name).await {
                            Ok(r) => r,
                            Err(f) => {
                                head.push(SourceEvent::Error {
                                    location: format!("arn:{partition}:s3:::{name}"),
                                    message: f.to_string(),
                                });
                                continue;
                            }
                        },
                    };
                    by_region.entry(region).or_default().push((name, created));
                }
                true
            }
            Err(f) => {
                head.push(SourceEvent::Gap(CoverageGap {
                    source: self.name.clone(),
                    resource_types: vec!["AWS::S3::Bucket".into()],
                    account: Some(account.clone()),
                    region: None,
                    reason: f.to_string(),
                }));
                false
            }
        };
        let mut tasks = Vec::new();
        for region in regions {
            let ctx = RawContext {
                account: Some(account.clone()),
                region: Some(region.clone()),
                partition: Some(partition.clone()),
            };
            let buckets = by_region.remove(&region).unwrap_or_default();
            tasks.push(self.scan_region(region, ctx, buckets, s3_listed));
        }
        let regional = futures::stream::iter(tasks)
            .buffer_unordered(self.concurrency)
            .map(futures::stream::iter)
            .flatten();
        let stream = futures::stream::iter(head).chain(regional).boxed();
        Ok(stream)
    }
}
