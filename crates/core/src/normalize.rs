//! Normalisers: AWS Config configuration items in all their published shapes, and raw
//! Describe/Get/List API responses (boto3 or AWS CLI output), into [`Resource`]s of one shape.
//!
//! # Configuration items
//! Accepted per record: an item as `BatchGetResourceConfig`, `GetResourceConfigHistory`,
//! `SelectResourceConfig` (its `Results` strings), a Config rule invocation event
//! (`invokingEvent`), or a Config-like envelope whose `configuration` holds the Describe API's
//! shape (Pascal case), which is converted. `configuration` and `supplementaryConfiguration`
//! values held as JSON strings (as Config often stores them, sometimes twice encoded) are parsed.
//! An item in a configuration item is taken as complete: an absent attribute is absent.
//!
//! # Raw API responses
//! A record holding a Describe/List response is recognised by its top-level key
//! (`SecurityGroups`, `Reservations`, `Volumes`, `Subnets`, `DBInstances`, `DBClusters`,
//! `LoadBalancers`, `LoadBalancerDescriptions`, `Listeners`, `repositories`, `Functions`,
//! `trailList`, `KeyMetadata`, `Users`, `User`, `HostedZones`, `services`, `clusters`,
//! `taskDefinition`, `Buckets`). Per-resource follow-up calls are merged into each item under
//! their response's key (`Attributes` for `DescribeLoadBalancerAttributes`, `AccessKeys` and
//! `MFADevices` for IAM users, `KeyRotationEnabled` for KMS, `Policy` for Lambda,
//! `LifecyclePolicy` for ECR). An S3 bucket is a record `{"Bucket": NAME, "GetBucketAcl": {...},
//! "GetPublicAccessBlock": {...}, ...}`; an operation's error response
//! (`{"Error": {"Code": ...}}`, or a recorded `{"status_code": 404, "data": ...}`) of the
//! "not configured" kind means absent, any other error (AccessDenied, ...) means *not observed*.
//! What a raw record does not carry is marked not observed, so checks that need it say UNKNOWN.

use serde_json::{Map, Value, json};

use crate::arn::Arn;
use crate::resource::Resource;
use crate::resource_type::cfn_type_of;
use crate::tags::Tags;

/// Defaults for what raw responses do not carry.
#[derive(Debug, Clone, Default)]
pub struct RawContext {
    /// Account id to use when a response does not name one.
    pub account: Option<String>,
    /// Region to use when a response does not name one.
    pub region: Option<String>,
    /// Partition (default `aws`).
    pub partition: Option<String>,
}

/// What one record turned into.
#[derive(Debug)]
pub enum Normalised {
    /// Resources (a raw List response holds many).
    Resources(Vec<Resource>),
    /// A deleted resource's item: nothing to scan.
    Deleted(String),
}

/// Whether a key is in Pascal case (the Describe APIs' style).
fn pascal_key(k: &str) -> bool {
    k.chars().next().is_some_and(|c| c.is_ascii_uppercase())
}

/// Keys whose values are maps of user data (their keys are left alone).
pub(crate) const DATA_MAPS: &[&str] = &["Variables", "Tags", "tags", "variables"];

/// Lower-camel-cases every key the way AWS Config does (first character only).
pub fn camel(v: &Value) -> Value {
    case_keys(v, |k| {
        let mut c = k.chars();
        match c.next() {
            Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
            None => String::new(),
        }
    })
}

/// Pascal-cases every key (CloudFormation registry style, as Config records ECR/ECS/Route 53).
pub fn pascal(v: &Value) -> Value {
    case_keys(v, |k| {
        let mut c = k.chars();
        match c.next() {
            Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
            None => String::new(),
        }
    })
}

/// [`camel`] by value: keys are rewritten, values moved rather than copied.
pub(crate) fn camel_owned(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, x)| {
                    let x2 = if DATA_MAPS.contains(&k.as_str()) && x.is_object() {
                        x
                    } else {
                        camel_owned(x)
                    };
                    (camel_key(k), x2)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(camel_owned).collect()),
        other => other,
    }
}

/// A key with its first character lower-cased, as [`camel`] writes it.
pub(crate) fn camel_key(k: String) -> String {
    let mut c = k.chars();
    match c.next() {
        Some(f) if f.is_ascii_lowercase() || !f.is_alphabetic() => k,
        // The key's own buffer, its first byte lower-cased: no copy.
        Some(f) if f.is_ascii_uppercase() => {
            let mut k = k;
            if let Some(first) = k.get_mut(..1) {
                first.make_ascii_lowercase();
            }
            k
        }
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn case_keys(v: &Value, f: fn(&str) -> String) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let x2 = if DATA_MAPS.contains(&k.as_str()) && x.is_object() {
                        x.clone()
                    } else {
                        case_keys(x, f)
                    };
                    (f(k), x2)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| case_keys(x, f)).collect()),
        other => other.clone(),
    }
}

/// Tags from a dict, a list of `{Key, Value}` / `{key, value}`, or a `TagSet`.
pub fn tags_from(v: Option<&Value>) -> Tags {
    let mut t = Tags::new();
    match v {
        Some(Value::Object(m)) => {
            if let Some(set) = m.get("TagSet").or_else(|| m.get("tagSet")) {
                return tags_from(Some(set));
            }
            for (k, x) in m {
                t.insert(k.clone(), tag_text(x.clone()));
            }
        }
        Some(Value::Array(a)) => {
            for x in a {
                let k = x
                    .get("Key")
                    .or_else(|| x.get("key"))
                    .and_then(Value::as_str);
                let val = x.get("Value").or_else(|| x.get("value"));
                if let Some(k) = k {
                    let s = match val {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Null) | None => String::new(),
                        Some(o) => o.to_string(),
                    };
                    t.insert(k.to_string(), s);
                }
            }
        }
        Some(Value::String(s)) => {
            if let Ok(v) = serde_json::from_str::<Value>(s) {
                return tags_from(Some(&v));
            }
        }
        _ => {}
    }
    t
}

fn parse_embedded(v: &Value) -> Value {
    crate::checks::parse_embedded(v)
}

/// [`parse_embedded`] by value: a document that is not a string is returned as it is.
fn embedded_owned(v: Value) -> Value {
    match v {
        Value::String(_) => parse_embedded(&v),
        other => other,
    }
}

/// The string fields of a configuration item's envelope, in the order of [`Envelope`]'s slots.
pub(crate) const ENVELOPE_KEYS: [&str; 8] = [
    "arn",
    "resourceType",
    "resourceId",
    "accountId",
    "awsRegion",
    "resourceName",
    "configurationItemCaptureTime",
    "resourceCreationTime",
];
const E_ARN: usize = 0;
const E_TYPE: usize = 1;
const E_ID: usize = 2;
const E_ACCOUNT: usize = 3;
const E_REGION: usize = 4;
const E_NAME: usize = 5;
const E_CAPTURED: usize = 6;
const E_CREATED: usize = 7;

/// The string fields of an item's envelope ([`ENVELOPE_KEYS`]), read by the projected parser
/// into slots instead of a map: no key is allocated, inserted, looked up and removed again.
/// A slot holds the field's last value when that value is a string; a field whose last value
/// is anything else stays in the item's map, as a full parse would leave it.
///
/// The item's `tags`, when they are a map of strings (as AWS Config writes them), are read
/// straight into the resource's tag map the same way.
#[derive(Debug, Default)]
pub(crate) struct Envelope {
    slots: [Option<String>; ENVELOPE_KEYS.len()],
    tags: Option<Tags>,
    /// Whether the parser already camel-cased the configuration's keys, as the conversion of a
    /// Describe-shaped configuration would ([`crate::projection`]).
    pub(crate) camel_config: bool,
}

impl Envelope {
    /// The slot of a key, if it is one of [`ENVELOPE_KEYS`].
    pub(crate) fn slot_of(key: &str) -> Option<usize> {
        ENVELOPE_KEYS.iter().position(|k| *k == key)
    }

    pub(crate) fn set(&mut self, slot: usize, value: Option<String>) {
        if let Some(s) = self.slots.get_mut(slot) {
            *s = value;
        }
    }

    pub(crate) fn get(&self, slot: usize) -> Option<&str> {
        self.slots.get(slot).and_then(|s| s.as_deref())
    }

    /// The item's `resourceType`, when it is a string (the map may hold any other value).
    pub(crate) fn resource_type(&self) -> Option<&str> {
        self.get(E_TYPE)
    }

    pub(crate) fn set_tags(&mut self, tags: Option<Tags>) {
        self.tags = tags;
    }

    /// Whether the item's `tags` were read into the envelope.
    pub(crate) fn has_tags(&self) -> bool {
        self.tags.is_some()
    }

    /// The field of `slot`, else the first of `keys` in the map that holds a string.
    fn take(&mut self, slot: usize, m: &mut Map<String, Value>, keys: &[&str]) -> Option<String> {
        self.slots
            .get_mut(slot)
            .and_then(Option::take)
            .or_else(|| take_str(m, keys))
    }

    /// Puts the fields back into the map: the record as a full parse reads it.
    pub(crate) fn restore(self, m: &mut Map<String, Value>) {
        for (k, v) in ENVELOPE_KEYS.iter().zip(self.slots) {
            if let Some(s) = v {
                m.insert((*k).to_string(), Value::String(s));
            }
        }
        if let Some(tags) = self.tags {
            let tags = tags.into_iter().map(|(k, v)| (k, Value::String(v)));
            m.insert("tags".to_string(), Value::Object(tags.collect()));
        }
    }
}

/// Removes and returns the first of `keys` that holds a string (others are left in place).
fn take_str(m: &mut Map<String, Value>, keys: &[&str]) -> Option<String> {
    let k = keys
        .iter()
        .find(|k| matches!(m.get(**k), Some(Value::String(_))))?;
    match m.remove(*k) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// The ARN a configuration names itself by (`Arn`, `arn`, `ARN`), when it is a valid one.
fn inner_arn(m: &Map<String, Value>) -> Option<String> {
    let c = m.get("configuration")?;
    let parsed;
    let c = if c.is_string() {
        parsed = parse_embedded(c);
        &parsed
    } else {
        c
    };
    ["Arn", "arn", "ARN"]
        .iter()
        .find_map(|k| c.get(*k).and_then(Value::as_str))
        .filter(|a| Arn::parse(a).is_ok())
        .map(str::to_string)
}

/// A tag's value as text: a string as it is, `null` empty, anything else as JSON.
fn tag_text(x: Value) -> String {
    match x {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// [`tags_from`] taking the value: a map's keys and values are moved, not copied.
fn tags_from_owned(v: Option<Value>) -> Tags {
    match v {
        Some(Value::Object(m)) if !m.contains_key("TagSet") && !m.contains_key("tagSet") => {
            m.into_iter().map(|(k, x)| (k, tag_text(x))).collect()
        }
        other => tags_from(other.as_ref()),
    }
}

fn str_field<'a>(m: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| m.get(*k).and_then(Value::as_str))
}

/// Types AWS Config records in the CloudFormation registry's Pascal case.
pub(crate) fn pascal_type(t: &str) -> bool {
    matches!(
        t,
        "AWS::ECR::Repository"
            | "AWS::ECS::Cluster"
            | "AWS::ECS::Service"
            | "AWS::ECS::TaskDefinition"
            | "AWS::Route53::HostedZone"
            | "AWS::ElasticLoadBalancingV2::Listener"
    )
}

/// Normalises one configuration item (an object). Unwraps the wrappers Config uses.
pub fn config_item(v: &Value) -> Result<Normalised, String> {
    config_item_shaped(v.clone(), None)
}

/// [`config_item`] for an item whose `configuration` was projected while parsing
/// ([`crate::projection`]): `describe_shaped` says whether the full configuration object had most
/// of its keys in Pascal case (the kept keys alone may say otherwise).
/// The item is taken by value: its documents are moved into the resource, not copied.
pub fn config_item_shaped(v: Value, describe_shaped: Option<bool>) -> Result<Normalised, String> {
    match v {
        Value::Object(m) => config_item_parts(Envelope::default(), m, describe_shaped),
        other => Err(format!("expected an object, found {}", kind(&other))),
    }
}

/// [`config_item_shaped`] of an item whose envelope strings were read into `env` (the rest is
/// `m`): the same resource as the item whole.
pub(crate) fn config_item_parts(
    mut env: Envelope,
    mut m: Map<String, Value>,
    describe_shaped: Option<bool>,
) -> Result<Normalised, String> {
    if let Some(ie) = m.get("invokingEvent") {
        let ev = parse_embedded(ie);
        let Some(item) = ev.get("configurationItem") else {
            let kind = ev
                .get("messageType")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            return Err(format!(
                "this AWS Config rule event (`{kind}`) carries no configuration item"
            ));
        };
        return config_item(item);
    }
    if let Some(item) = m.get("configurationItem") {
        return config_item(item);
    }
    // The item's strings are moved out of it, not copied.
    // SelectResourceConfig returns only the selected fields: the ARN may be inside the configuration.
    let arn_text = env
        .take(E_ARN, &mut m, &["arn", "ARN"])
        .or_else(|| inner_arn(&m));
    let rtype = env.take(E_TYPE, &mut m, &["resourceType"]).or_else(|| {
        arn_text
            .as_deref()
            .and_then(|a| Arn::parse(a).ok())
            .and_then(|a| cfn_type_of(&a).map(str::to_string))
    });
    let Some(rtype) = rtype else {
        if m.contains_key("detail-type") || m.contains_key("eventName") {
            return Err("this is an EventBridge/CloudTrail event, not a configuration item".into());
        }
        return Err(match &arn_text {
            Some(a) => format!("no `resourceType`, and the ARN `{a}` is not of a type Assetwarden knows"),
            None => "the record has no `resourceType` and no `arn` (expected an AWS Config configuration item or a Describe/List API response)".into(),
        });
    };
    if let Some(status) = str_field(&m, &["configurationItemStatus"])
        && (status == "ResourceDeleted" || status == "ResourceDeletedNotRecorded")
    {
        return Ok(Normalised::Deleted(arn_text.unwrap_or_default()));
    }
    let resource_id = env.take(E_ID, &mut m, &["resourceId"]);
    let arn = match (arn_text, &resource_id) {
        (Some(a), _) => a,
        (None, Some(id)) => format!("{rtype}/{id}"),
        (None, None) => return Err("the item has neither `arn` nor `resourceId`".into()),
    };
    let account = env.take(E_ACCOUNT, &mut m, &["accountId", "awsAccountId"]);
    let region = env.take(E_REGION, &mut m, &["awsRegion"]);
    let mut r = match (resource_id, account, region) {
        // The item names all three: no need to read them from the ARN.
        (Some(id), Some(account), Some(region)) => {
            Resource::with_identity(arn, rtype, id, account, region)
        }
        (id, account, region) => {
            let mut r = Resource::new(arn, rtype);
            if let Some(id) = id {
                r.resource_id = id;
            }
            if let Some(a) = account {
                r.account_id = a;
            }
            if let Some(reg) = region {
                r.aws_region = reg;
            }
            r
        }
    };
    r.resource_name = env.take(E_NAME, &mut m, &["resourceName"]);
    r.configuration_item_capture_time =
        env.take(E_CAPTURED, &mut m, &["configurationItemCaptureTime"]);
    r.resource_creation_time = env.take(E_CREATED, &mut m, &["resourceCreationTime"]);
    let mut config = m
        .remove("configuration")
        .map(embedded_owned)
        .unwrap_or(Value::Null);
    let has_supp = m.contains_key("supplementaryConfiguration");
    let mut supp: Map<String, Value> =
        match m.remove("supplementaryConfiguration").map(embedded_owned) {
            Some(Value::Object(s)) => s.into_iter().map(|(k, v)| (k, embedded_owned(v))).collect(),
            _ => Map::new(),
        };
    // Tags: the item's map, else the configuration's or supplementary tag list.
    let has_tags = env.tags.is_some() || m.contains_key("tags");
    r.tags = match env.tags.take() {
        Some(tags) => tags,
        None => tags_from_owned(m.remove("tags")),
    };
    if r.tags.is_empty() && !has_tags {
        let from_conf = config
            .get("tags")
            .or_else(|| config.get("Tags"))
            .or_else(|| config.get("tagList"))
            .or_else(|| config.get("TagList"));
        let from = from_conf.or_else(|| supp.get("Tags"));
        if from.is_none() {
            // BatchGetResourceConfig items and narrow SelectResourceConfig queries carry no tags:
            // the tag policy cannot judge them.
            r.mark_unobserved(
                "tags",
                "the record carries no tags (`tags` not in the item)",
            );
        }
        r.tags = tags_from(from);
    }
    let shape_of = |config: &Value| {
        describe_shaped.unwrap_or_else(|| {
            config.as_object().is_some_and(|c| {
                !c.is_empty() && c.keys().filter(|k| pascal_key(k)).count() * 2 > c.len()
            })
        })
    };
    let describe_shaped_conf = shape_of(&config);
    if !has_supp && !describe_shaped_conf && !pascal_type(&r.resource_type) {
        r.mark_unobserved(
            "supplementaryConfiguration",
            "the record carries no `supplementaryConfiguration` (select it in the query)",
        );
    }
    if let Some(Value::Array(us)) = m.get("unobserved") {
        for u in us {
            if let (Some(p), Some(why)) = (
                u.get("path").and_then(Value::as_str),
                u.get("reason").and_then(Value::as_str),
            ) {
                r.mark_unobserved(p, why);
            }
        }
    }
    if config.is_null() {
        r.mark_unobserved("configuration", "the item carries no configuration");
    } else if config.is_object() {
        // A Describe-shaped configuration in a Config envelope: convert.
        let describe_shaped = describe_shaped_conf;
        if pascal_type(&r.resource_type) {
            if !describe_shaped {
                config = pascal(&config);
            }
        } else if describe_shaped {
            let conv = from_describe_keyed(
                &r.resource_type,
                std::mem::take(&mut config),
                true,
                env.camel_config,
            );
            config = conv.configuration;
            for (k, v) in conv.supplementary {
                supp.entry(k).or_insert(v);
            }
            r.unobserved.extend(conv.unobserved);
        }
    }
    if r.resource_name.is_none() {
        r.resource_name = [
            "name",
            "Name",
            "functionName",
            "groupName",
            "dBInstanceIdentifier",
            "userName",
            "RepositoryName",
            "ServiceName",
            "ClusterName",
            "trailName",
        ]
        .iter()
        .find_map(|k| config.get(*k).and_then(Value::as_str).map(str::to_string));
    }
    r.configuration = config;
    r.supplementary_configuration = supp;
    Ok(Normalised::Resources(vec![r]))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A Describe-shaped document converted to AWS Config's shape.
pub struct Converted {
    /// `configuration`.
    pub configuration: Value,
    /// `supplementaryConfiguration`.
    pub supplementary: Map<String, Value>,
    /// What the document did not carry.
    pub unobserved: Vec<crate::resource::Unobserved>,
}

fn unobs(path: &str, reason: &str) -> crate::resource::Unobserved {
    crate::resource::Unobserved {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

/// S3 error codes that mean "this bucket has no such configuration".
const S3_NOT_CONFIGURED: &[&str] = &[
    "NoSuchPublicAccessBlockConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchBucketPolicy",
    "NoSuchLifecycleConfiguration",
    "NoSuchTagSet",
    "OwnershipControlsNotFoundError",
    "NoSuchWebsiteConfiguration",
    "NoSuchCORSConfiguration",
    "ReplicationConfigurationNotFoundError",
];

/// A response that may be recorded (`{"status_code", "data"}`) or an error.
enum Reply {
    Ok(Value),
    Absent,
    Failed(String),
}

fn reply(v: &Value) -> Reply {
    let data = match (v.get("status_code"), v.get("data")) {
        (Some(_), Some(d)) => d,
        _ => v,
    };
    if let Some(err) = data.get("Error") {
        let code = err
            .get("Code")
            .and_then(Value::as_str)
            .unwrap_or("unknown error");
        if S3_NOT_CONFIGURED.contains(&code) {
            return Reply::Absent;
        }
        // A live call's failure carries `Operation` (and a message): name both.
        if let Some(op) = err.get("Operation").and_then(Value::as_str) {
            let msg = err.get("Message").and_then(Value::as_str).unwrap_or("");
            return Reply::Failed(if msg.is_empty() {
                format!("{code} [{op}]")
            } else {
                format!("{code} [{op}]: {msg}")
            });
        }
        return Reply::Failed(code.to_string());
    }
    let mut d = data.clone();
    if let Value::Object(m) = &mut d {
        m.remove("ResponseMetadata");
    }
    Reply::Ok(d)
}

fn s3_part<'a>(doc: &'a Value, names: &[&str]) -> Option<(&'static str, &'a Value)> {
    for n in names {
        if let Some(v) = doc.get(*n) {
            // `'static` label for messages: the first name is the operation.
            let label: &'static str = match names[0] {
                "GetBucketAcl" => "s3:GetBucketAcl",
                "GetBucketPolicy" => "s3:GetBucketPolicy",
                "GetBucketVersioning" => "s3:GetBucketVersioning",
                "GetBucketLogging" => "s3:GetBucketLogging",
                "GetBucketEncryption" => "s3:GetEncryptionConfiguration",
                "GetPublicAccessBlock" => "s3:GetBucketPublicAccessBlock",
                "GetBucketLifecycleConfiguration" => "s3:GetLifecycleConfiguration",
                "GetBucketOwnershipControls" => "s3:GetBucketOwnershipControls",
                "GetBucketTagging" => "s3:GetBucketTagging",
                "GetBucketPolicyStatus" => "s3:GetBucketPolicyStatus",
                _ => "s3",
            };
            return Some((label, v));
        }
    }
    None
}

// The keys under which an S3 bucket document carries each reply (the operation first).
const S3_ACL: &[&str] = &["GetBucketAcl", "s3.GetBucketAcl", "Acl"];
const S3_POLICY: &[&str] = &["GetBucketPolicy", "s3.GetBucketPolicy", "Policy"];
const S3_VERSIONING: &[&str] = &[
    "GetBucketVersioning",
    "s3.GetBucketVersioning",
    "Versioning",
];
const S3_LOGGING: &[&str] = &["GetBucketLogging", "s3.GetBucketLogging", "Logging"];
const S3_ENCRYPTION: &[&str] = &[
    "GetBucketEncryption",
    "s3.GetBucketEncryption",
    "ServerSideEncryptionConfiguration",
    "Encryption",
];
const S3_PUBLIC_ACCESS_BLOCK: &[&str] = &[
    "GetPublicAccessBlock",
    "s3.GetPublicAccessBlock",
    "PublicAccessBlockConfiguration",
    "PublicAccessBlock",
];
const S3_LIFECYCLE: &[&str] = &[
    "GetBucketLifecycleConfiguration",
    "s3.GetBucketLifecycleConfiguration",
    "Lifecycle",
    "LifecycleConfiguration",
];
const S3_OWNERSHIP: &[&str] = &[
    "GetBucketOwnershipControls",
    "s3.GetBucketOwnershipControls",
    "OwnershipControls",
];
const S3_POLICY_STATUS: &[&str] = &["GetBucketPolicyStatus", "s3.GetBucketPolicyStatus"];

/// Where the attributes of a converted S3 bucket come from in its document: for each attribute
/// (`supplementaryConfiguration.KEY` or `configuration.KEY`), the document keys it is made of.
/// [`crate::projection`] keeps those keys of a bucket document when a check reads the attribute.
pub(crate) const S3_SOURCES: &[(&str, &[&str])] = &[
    ("supplementaryConfiguration.AccessControlList", S3_ACL),
    ("supplementaryConfiguration.BucketPolicy", S3_POLICY),
    (
        "supplementaryConfiguration.BucketVersioningConfiguration",
        S3_VERSIONING,
    ),
    (
        "supplementaryConfiguration.BucketLoggingConfiguration",
        S3_LOGGING,
    ),
    (
        "supplementaryConfiguration.ServerSideEncryptionConfiguration",
        S3_ENCRYPTION,
    ),
    (
        "supplementaryConfiguration.PublicAccessBlockConfiguration",
        S3_PUBLIC_ACCESS_BLOCK,
    ),
    (
        "supplementaryConfiguration.BucketLifecycleConfiguration",
        S3_LIFECYCLE,
    ),
    (
        "supplementaryConfiguration.BucketOwnershipControls",
        S3_OWNERSHIP,
    ),
    (
        "supplementaryConfiguration.BucketPolicyStatus",
        S3_POLICY_STATUS,
    ),
    ("configuration.owner", S3_ACL),
    ("configuration.name", &["Name", "Bucket"]),
    ("configuration.creationDate", &["CreationDate"]),
];

/// Converts an S3 bucket document (Describe-shaped envelope or a bundle of Get* replies).
fn s3_convert(doc: &Value, complete: bool) -> (Converted, Tags, Option<String>) {
    let mut supp = Map::new();
    let mut unobserved = Vec::new();
    let mut tags = Tags::new();
    let mut region = None;
    let name = doc
        .get("Name")
        .or_else(|| doc.get("Bucket"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut handle =
        |names: &[&str], key: &str, f: &mut dyn FnMut(&Value) -> Option<Value>| match s3_part(
            doc, names,
        ) {
            None => {
                if !complete {
                    unobserved.push(unobs(
                        &format!("supplementaryConfiguration.{key}"),
                        &format!("not collected (no `{}` reply)", names[0]),
                    ));
                }
            }
            Some((label, v)) => match reply(v) {
                Reply::Absent => {}
                Reply::Failed(code) => unobserved.push(unobs(
                    &format!("supplementaryConfiguration.{key}"),
                    &format!("{code} from `{label}`"),
                )),
                Reply::Ok(d) => {
                    if let Some(x) = f(&d) {
                        supp.insert(key.to_string(), x);
                    }
                }
            },
        };
    handle(S3_ACL, "AccessControlList", &mut |d| {
        let grants: Vec<Value> = d
            .get("Grants")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|g| {
                let ge = g.get("Grantee").cloned().unwrap_or(Value::Null);
                json!({
                    "grantee": {"id": ge.get("ID"), "displayName": ge.get("DisplayName"), "uri": ge.get("URI"), "type": ge.get("Type")},
                    "permission": g.get("Permission"),
                })
            })
            .collect();
        let owner = d.get("Owner").cloned().unwrap_or(Value::Null);
        Some(
            json!({"grantList": grants, "owner": {"id": owner.get("ID"), "displayName": owner.get("DisplayName")}}),
        )
    });
    handle(S3_POLICY, "BucketPolicy", &mut |d| {
        let text = match d {
            Value::Object(m) => m.get("Policy").cloned().unwrap_or(Value::Null),
            other => other.clone(),
        };
        let text = match text {
            Value::Object(_) | Value::Array(_) => Value::String(text.to_string()),
            t => t,
        };
        Some(json!({"policyText": text}))
    });
    handle(S3_VERSIONING, "BucketVersioningConfiguration", &mut |d| {
        Some(json!({
            "status": d.get("Status").cloned().unwrap_or(json!("Off")),
            "isMfaDeleteEnabled": d.get("MFADelete").map(|m| json!(m == "Enabled")),
        }))
    });
    handle(S3_LOGGING, "BucketLoggingConfiguration", &mut |d| {
        let le = d.get("LoggingEnabled");
        Some(json!({
            "destinationBucketName": le.and_then(|l| l.get("TargetBucket")),
            "logFilePrefix": le.and_then(|l| l.get("TargetPrefix")),
        }))
    });
    handle(
        S3_ENCRYPTION,
        "ServerSideEncryptionConfiguration",
        &mut |d| {
            let sse = d.get("ServerSideEncryptionConfiguration").unwrap_or(d);
            let rules: Vec<Value> = sse
                .get("Rules")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|r| {
                    let a = r.get("ApplyServerSideEncryptionByDefault");
                    json!({
                        "applyServerSideEncryptionByDefault": {
                            "sseAlgorithm": a.and_then(|a| a.get("SSEAlgorithm")),
                            "kmsMasterKeyID": a.and_then(|a| a.get("KMSMasterKeyID")),
                        },
                        "bucketKeyEnabled": r.get("BucketKeyEnabled"),
                    })
                })
                .collect();
            Some(json!({"rules": rules}))
        },
    );
    handle(
        S3_PUBLIC_ACCESS_BLOCK,
        "PublicAccessBlockConfiguration",
        &mut |d| {
            let p = d.get("PublicAccessBlockConfiguration").unwrap_or(d);
            Some(json!({
                "blockPublicAcls": p.get("BlockPublicAcls"),
                "ignorePublicAcls": p.get("IgnorePublicAcls"),
                "blockPublicPolicy": p.get("BlockPublicPolicy"),
                "restrictPublicBuckets": p.get("RestrictPublicBuckets"),
            }))
        },
    );
    handle(S3_LIFECYCLE, "BucketLifecycleConfiguration", &mut |d| {
        Some(json!({"rules": camel(d.get("Rules").unwrap_or(&json!([])))}))
    });
    handle(S3_OWNERSHIP, "BucketOwnershipControls", &mut |d| {
        let oc = d.get("OwnershipControls").unwrap_or(d);
        Some(json!({"ownershipControls": camel(oc)}))
    });
    if let Some((_, v)) = s3_part(doc, S3_POLICY_STATUS) {
        match reply(v) {
            Reply::Ok(d) => {
                let st = d.get("PolicyStatus").unwrap_or(&d);
                supp.insert(
                    "BucketPolicyStatus".into(),
                    json!({"isPublic": st.get("IsPublic")}),
                );
            }
            Reply::Absent => {}
            Reply::Failed(code) => unobserved.push(unobs(
                "supplementaryConfiguration.BucketPolicyStatus",
                &format!("{code} from `s3:GetBucketPolicyStatus`"),
            )),
        }
    }
    if let Some((_, v)) = s3_part(doc, &["GetBucketTagging", "s3.GetBucketTagging", "Tagging"]) {
        match reply(v) {
            Reply::Ok(d) => tags = tags_from(d.get("TagSet").or(Some(&d))),
            Reply::Absent => {}
            Reply::Failed(code) => {
                unobserved.push(unobs("tags", &format!("{code} from `s3:GetBucketTagging`")))
            }
        }
    }
    if let Some((_, v)) = s3_part(
        doc,
        &["GetBucketLocation", "s3.GetBucketLocation", "Location"],
    ) && let Reply::Ok(d) = reply(v)
    {
        region = Some(
            d.get("LocationConstraint")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or("us-east-1")
                .to_string(),
        );
    }
    let configuration = json!({
        "name": name,
        "creationDate": doc.get("CreationDate"),
        "owner": doc.get("GetBucketAcl").or_else(|| doc.get("Acl")).and_then(reply_value).and_then(|a| a.get("Owner").map(camel)),
    });
    (
        Converted {
            configuration,
            supplementary: supp,
            unobserved,
        },
        tags,
        region,
    )
}

fn reply_value(v: &Value) -> Option<Value> {
    match reply(v) {
        Reply::Ok(d) => Some(d),
        _ => None,
    }
}

/// Converts one Describe-shaped item of `rtype` to AWS Config's shape. With `complete == false`
/// (a raw response), what the item does not carry is marked not observed.
pub fn from_describe(rtype: &str, item: &Value, complete: bool) -> Converted {
    from_describe_owned(rtype, item.clone(), complete)
}

/// [`from_describe`], taking the item by value (its parts are moved, not copied).
pub fn from_describe_owned(rtype: &str, item: Value, complete: bool) -> Converted {
    from_describe_keyed(rtype, item, complete, false)
}

/// [`from_describe_owned`] of an item whose keys are camel-cased already (`camel_done`).
fn from_describe_keyed(rtype: &str, item: Value, complete: bool, camel_done: bool) -> Converted {
    let mut supp = Map::new();
    let mut unobserved = Vec::new();
    if rtype == "AWS::S3::Bucket" {
        return s3_convert(&item, complete).0;
    }
    if pascal_type(rtype) {
        let mut c = pascal(&item);
        if let Value::Object(m) = &mut c {
            if rtype == "AWS::ECS::Cluster"
                && let Some(s) = m.remove("Settings")
            {
                m.insert("ClusterSettings".into(), s);
            }
            if rtype == "AWS::ECR::Repository" && !m.contains_key("LifecyclePolicy") && !complete {
                unobserved.push(unobs(
                    "configuration.LifecyclePolicy",
                    "not collected (no `GetLifecyclePolicy` reply merged as `LifecyclePolicy`)",
                ));
            }
            m.remove("Tags");
        }
        return Converted {
            configuration: c,
            supplementary: supp,
            unobserved,
        };
    }
    let mut c = if camel_done { item } else { camel_owned(item) };
    if let Value::Object(m) = &mut c {
        m.remove("tags");
        m.remove("tagList");
        match rtype {
            "AWS::ElasticLoadBalancingV2::LoadBalancer" => {
                match m.remove("attributes") {
                    Some(a) => {
                        supp.insert("LoadBalancerAttributes".into(), a);
                    }
                    None if !complete => unobserved.push(unobs(
                        "supplementaryConfiguration.LoadBalancerAttributes",
                        "not collected (no `DescribeLoadBalancerAttributes` reply merged as `Attributes`)",
                    )),
                    None => {}
                }
            }
            "AWS::IAM::User" => {
                // `AccessKeyMetadata` (ListAccessKeys' own name) first, so that its presence
                // counts before the absence of the other spelling is noted.
                for (from, to, op) in [
                    ("accessKeyMetadata", "AccessKeys", "ListAccessKeys"),
                    ("accessKeys", "AccessKeys", "ListAccessKeys"),
                    ("mFADevices", "MFADevices", "ListMFADevices"),
                ] {
                    if let Some(v) = m.remove(from) {
                        supp.insert(to.into(), v);
                    } else if !complete && !supp.contains_key(to) && from != "accessKeyMetadata" {
                        unobserved.push(unobs(
                            &format!("supplementaryConfiguration.{to}"),
                            &format!("not collected (no `{op}` reply merged as `{}`)", pascal_first(from)),
                        ));
                    }
                }
                if !m.contains_key("attachedManagedPolicies") && !complete {
                    unobserved.push(unobs("configuration.attachedManagedPolicies", "not collected (no `ListAttachedUserPolicies` reply merged as `AttachedManagedPolicies`)"));
                }
                if let Some(v) = m.remove("userPolicies") {
                    m.insert("userPolicyList".into(), v);
                } else if !m.contains_key("userPolicyList") && !complete {
                    unobserved.push(unobs("configuration.userPolicyList", "not collected (no `ListUserPolicies` reply merged as `UserPolicyList`)"));
                }
            }
            "AWS::Lambda::Function" => {
                if let Some(p) = m.remove("policy") {
                    supp.insert("Policy".into(), p);
                } else if !complete {
                    unobserved.push(unobs("supplementaryConfiguration.Policy", "not collected (no `GetPolicy` reply merged as `Policy`)"));
                }
            }
            "AWS::KMS::Key"
                if !m.contains_key("keyRotationEnabled") && !complete => {
                    unobserved.push(unobs("configuration.keyRotationEnabled", "not collected (no `GetKeyRotationStatus` reply merged as `KeyRotationEnabled`)"));
                }
            _ => {}
        }
    }
    Converted {
        configuration: c,
        supplementary: supp,
        unobserved,
    }
}

fn pascal_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn build(
    ctx: &RawContext,
    rtype: &str,
    arn: Option<String>,
    fallback: impl FnOnce(&str, &str, &str) -> String,
    item: &Value,
    account_hint: Option<&str>,
) -> Result<Resource, String> {
    let partition = ctx.partition.clone().unwrap_or_else(|| "aws".into());
    let parsed = arn.as_deref().and_then(|a| Arn::parse(a).ok());
    let account = parsed
        .as_ref()
        .and_then(|a| a.account().map(str::to_string))
        .or_else(|| account_hint.map(str::to_string))
        .or_else(|| ctx.account.clone())
        .unwrap_or_default();
    let region = parsed
        .as_ref()
        .and_then(|a| a.region().map(str::to_string))
        .or_else(|| ctx.region.clone());
    let arn = match arn {
        Some(a) => a,
        None => {
            let Some(region) = region.clone() else {
                return Err(format!(
                    "the response does not say its region; give one (`--region`) to name this {rtype}"
                ));
            };
            if account.is_empty() {
                return Err(format!(
                    "the response does not say its account; give one (`--account`) to name this {rtype}"
                ));
            }
            fallback(&partition, &region, &account)
        }
    };
    let conv = from_describe(rtype, item, false);
    let mut r = Resource::new(arn, rtype);
    r.account_id = account;
    if let Some(reg) = region {
        r.aws_region = reg;
    }
    r.tags = tags_from(
        item.get("Tags")
            .or_else(|| item.get("TagList"))
            .or_else(|| item.get("tags")),
    );
    r.configuration = conv.configuration;
    r.supplementary_configuration = conv.supplementary;
    r.unobserved = conv.unobserved;
    if !(item.get("Tags").is_some() || item.get("TagList").is_some() || item.get("tags").is_some())
    {
        // Many List/Describe calls do not return tags (ListFunctions, DescribeLoadBalancers, ...).
        if !matches!(
            rtype,
            "AWS::EC2::SecurityGroup"
                | "AWS::EC2::Instance"
                | "AWS::EC2::Volume"
                | "AWS::EC2::Subnet"
        ) {
            r.mark_unobserved("tags", "the response carries no tags");
        }
    }
    Ok(r)
}

fn arr<'a>(v: &'a Value, key: &str) -> Vec<&'a Value> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Wraps a bare Describe/List *item* (what boto3 scripts hold after indexing a response, e.g.
/// `ec2.describe_security_groups()["SecurityGroups"][0]`) into its response shape, recognised
/// by its keys.
pub fn wrap_raw_item(v: &Value) -> Option<Value> {
    let m = v.as_object()?;
    let has = |k: &str| m.contains_key(k);
    let key = if has("GroupId") && has("IpPermissions") {
        "SecurityGroups"
    } else if has("InstanceId") && (has("ImageId") || has("InstanceType")) {
        return Some(json!({"Reservations": [{"Instances": [v], "OwnerId": m.get("OwnerId")}]}));
    } else if has("VolumeId") && has("Size") {
        "Volumes"
    } else if has("SubnetId") && has("CidrBlock") {
        "Subnets"
    } else if has("DBInstanceIdentifier") {
        "DBInstances"
    } else if has("DBClusterIdentifier") && has("Engine") {
        "DBClusters"
    } else if has("ListenerArn") {
        "Listeners"
    } else if has("LoadBalancerArn") {
        "LoadBalancers"
    } else if has("LoadBalancerName") && has("ListenerDescriptions") {
        "LoadBalancerDescriptions"
    } else if has("repositoryArn") {
        "repositories"
    } else if has("FunctionArn") && has("FunctionName") {
        "Functions"
    } else if has("TrailARN") {
        "trailList"
    } else if has("KeyId") && has("KeyManager") {
        return Some(json!({"KeyMetadata": v}));
    } else if has("UserName") && has("UserId") {
        "Users"
    } else if has("CallerReference") && has("Id") {
        "HostedZones"
    } else if has("serviceArn") {
        "services"
    } else if has("clusterArn") && has("clusterName") {
        "clusters"
    } else if has("taskDefinitionArn") {
        return Some(json!({"taskDefinition": v}));
    } else if has("Name") && has("CreationDate") && m.len() <= 4 {
        "Buckets"
    } else {
        return None;
    };
    Some(json!({ key: [v] }))
}

/// The top-level keys of the raw API responses this module understands.
pub(crate) const RAW_RESPONSE_KEYS: &[&str] = &[
    "SecurityGroups",
    "Reservations",
    "Volumes",
    "Subnets",
    "DBInstances",
    "DBClusters",
    "LoadBalancers",
    "LoadBalancerDescriptions",
    "Listeners",
    "repositories",
    "Functions",
    "trailList",
    "KeyMetadata",
    "Users",
    "User",
    "HostedZones",
    "services",
    "clusters",
    "taskDefinition",
    "Buckets",
    "Bucket",
    "Configuration",
];

/// Whether a record looks like a raw API response this module understands.
pub fn is_raw_response(v: &Value) -> bool {
    let data = match (v.get("status_code"), v.get("data")) {
        (Some(_), Some(d)) => d,
        _ => v,
    };
    // A record has a few keys, the list many: look its keys up in the list, not the reverse.
    data.as_object()
        .is_some_and(|m| m.keys().any(|k| RAW_RESPONSE_KEYS.contains(&k.as_str())))
}

/// Normalises a raw Describe/Get/List response. Items that cannot be named are returned as
/// errors beside the resources that could.
pub fn raw_response(v: &Value, ctx: &RawContext) -> (Vec<Resource>, Vec<String>) {
    let data = match (v.get("status_code"), v.get("data")) {
        (Some(_), Some(d)) => d,
        _ => v,
    };
    let fixed = fix_datetimes(data);
    let data = &fixed;
    let mut out = Vec::new();
    let mut errs = Vec::new();
    let mut push = |r: Result<Resource, String>| match r {
        Ok(r) => out.push(r),
        Err(e) => errs.push(e),
    };
    for sg in arr(data, "SecurityGroups") {
        let id = s(sg, "GroupId").unwrap_or_default();
        let owner = s(sg, "OwnerId");
        push(
            build(
                ctx,
                "AWS::EC2::SecurityGroup",
                s(sg, "SecurityGroupArn"),
                |p, r, a| format!("arn:{p}:ec2:{r}:{a}:security-group/{id}"),
                sg,
                owner.as_deref(),
            )
            .map(named(sg, "GroupName")),
        );
    }
    for res in arr(data, "Reservations") {
        let owner = s(res, "OwnerId");
        for i in arr(res, "Instances") {
            let state = i
                .get("State")
                .and_then(|s| s.get("Name"))
                .and_then(Value::as_str);
            if matches!(state, Some("terminated") | Some("shutting-down")) {
                continue;
            }
            let id = s(i, "InstanceId").unwrap_or_default();
            push(
                build(
                    ctx,
                    "AWS::EC2::Instance",
                    None,
                    |p, r, a| format!("arn:{p}:ec2:{r}:{a}:instance/{id}"),
                    i,
                    owner.as_deref(),
                )
                .map(name_tag),
            );
        }
    }
    for vol in arr(data, "Volumes") {
        let id = s(vol, "VolumeId").unwrap_or_default();
        push(
            build(
                ctx,
                "AWS::EC2::Volume",
                None,
                |p, r, a| format!("arn:{p}:ec2:{r}:{a}:volume/{id}"),
                vol,
                None,
            )
            .map(name_tag),
        );
    }
    for sn in arr(data, "Subnets") {
        let id = s(sn, "SubnetId").unwrap_or_default();
        push(
            build(
                ctx,
                "AWS::EC2::Subnet",
                s(sn, "SubnetArn"),
                |p, r, a| format!("arn:{p}:ec2:{r}:{a}:subnet/{id}"),
                sn,
                s(sn, "OwnerId").as_deref(),
            )
            .map(name_tag),
        );
    }
    for db in arr(data, "DBInstances") {
        push(
            build(
                ctx,
                "AWS::RDS::DBInstance",
                s(db, "DBInstanceArn"),
                |p, r, a| {
                    format!(
                        "arn:{p}:rds:{r}:{a}:db:{}",
                        s(db, "DBInstanceIdentifier").unwrap_or_default()
                    )
                },
                db,
                None,
            )
            .map(named(db, "DBInstanceIdentifier")),
        );
    }
    for db in arr(data, "DBClusters") {
        push(
            build(
                ctx,
                "AWS::RDS::DBCluster",
                s(db, "DBClusterArn"),
                |p, r, a| {
                    format!(
                        "arn:{p}:rds:{r}:{a}:cluster:{}",
                        s(db, "DBClusterIdentifier").unwrap_or_default()
                    )
                },
                db,
                None,
            )
            .map(named(db, "DBClusterIdentifier")),
        );
    }
    for lb in arr(data, "LoadBalancers") {
        push(
            build(
                ctx,
                "AWS::ElasticLoadBalancingV2::LoadBalancer",
                s(lb, "LoadBalancerArn"),
                |p, r, a| {
                    format!(
                        "arn:{p}:elasticloadbalancing:{r}:{a}:loadbalancer/app/{}",
                        s(lb, "LoadBalancerName").unwrap_or_default()
                    )
                },
                lb,
                None,
            )
            .map(named(lb, "LoadBalancerName")),
        );
    }
    for lb in arr(data, "LoadBalancerDescriptions") {
        let name = s(lb, "LoadBalancerName").unwrap_or_default();
        push(
            build(
                ctx,
                "AWS::ElasticLoadBalancing::LoadBalancer",
                None,
                |p, r, a| format!("arn:{p}:elasticloadbalancing:{r}:{a}:loadbalancer/{name}"),
                lb,
                None,
            )
            .map(named(lb, "LoadBalancerName")),
        );
    }
    for l in arr(data, "Listeners") {
        push(build(
            ctx,
            "AWS::ElasticLoadBalancingV2::Listener",
            s(l, "ListenerArn"),
            |_, _, _| String::new(),
            l,
            None,
        ));
    }
    for repo in arr(data, "repositories") {
        push(
            build(
                ctx,
                "AWS::ECR::Repository",
                s(repo, "repositoryArn"),
                |p, r, a| {
                    format!(
                        "arn:{p}:ecr:{r}:{a}:repository/{}",
                        s(repo, "repositoryName").unwrap_or_default()
                    )
                },
                repo,
                s(repo, "registryId").as_deref(),
            )
            .map(named(repo, "repositoryName")),
        );
    }
    for f in arr(data, "Functions") {
        push(
            build(
                ctx,
                "AWS::Lambda::Function",
                s(f, "FunctionArn"),
                |_, _, _| String::new(),
                f,
                None,
            )
            .map(named(f, "FunctionName")),
        );
    }
    if let Some(f) = data
        .get("Configuration")
        .filter(|c| c.get("FunctionArn").is_some())
    {
        let mut item = f.clone();
        if let (Value::Object(m), Some(t)) = (&mut item, data.get("Tags")) {
            m.insert("Tags".into(), t.clone());
        }
        push(
            build(
                ctx,
                "AWS::Lambda::Function",
                s(f, "FunctionArn"),
                |_, _, _| String::new(),
                &item,
                None,
            )
            .map(named(f, "FunctionName")),
        );
    }
    for t in arr(data, "trailList") {
        push(
            build(
                ctx,
                "AWS::CloudTrail::Trail",
                s(t, "TrailARN"),
                |p, r, a| {
                    format!(
                        "arn:{p}:cloudtrail:{r}:{a}:trail/{}",
                        s(t, "Name").unwrap_or_default()
                    )
                },
                t,
                None,
            )
            .map(named(t, "Name")),
        );
    }
    if let Some(k) = data.get("KeyMetadata") {
        let mut item = k.clone();
        if let (Value::Object(m), Some(rot)) = (&mut item, data.get("KeyRotationEnabled")) {
            m.insert("KeyRotationEnabled".into(), rot.clone());
        }
        push(build(
            ctx,
            "AWS::KMS::Key",
            s(k, "Arn"),
            |p, r, a| {
                format!(
                    "arn:{p}:kms:{r}:{a}:key/{}",
                    s(k, "KeyId").unwrap_or_default()
                )
            },
            &item,
            s(k, "AWSAccountId").as_deref(),
        ));
    }
    let mut users: Vec<&Value> = arr(data, "Users");
    if let Some(u) = data.get("User") {
        users.push(u);
    }
    for u in users {
        let mut r = build(
            ctx,
            "AWS::IAM::User",
            s(u, "Arn"),
            |p, _, a| {
                format!(
                    "arn:{p}:iam::{a}:user/{}",
                    s(u, "UserName").unwrap_or_default()
                )
            },
            u,
            None,
        );
        if let Ok(res) = &mut r {
            res.aws_region = "global".into();
        }
        push(r.map(named(u, "UserName")));
    }
    for z in arr(data, "HostedZones") {
        let id = s(z, "Id").unwrap_or_default();
        let id = id.trim_start_matches("/hostedzone/").to_string();
        let mut r = build(
            ctx,
            "AWS::Route53::HostedZone",
            Some(format!(
                "arn:{}:route53:::hostedzone/{id}",
                ctx.partition.clone().unwrap_or_else(|| "aws".into())
            )),
            |_, _, _| String::new(),
            z,
            None,
        );
        if let Ok(res) = &mut r {
            res.aws_region = "global".into();
            if res.account_id.is_empty() {
                res.account_id = ctx.account.clone().unwrap_or_default();
            }
            if let Value::Object(m) = &mut res.configuration {
                let private = z.get("Config").and_then(|c| c.get("PrivateZone")).cloned();
                m.insert("HostedZoneConfig".into(), json!({"PrivateZone": private}));
                if !m.contains_key("QueryLoggingConfig") {
                    res.unobserved.push(unobs("configuration.QueryLoggingConfig", "not collected (no `ListQueryLoggingConfigs` reply merged as `QueryLoggingConfig`)"));
                }
            }
        }
        push(r.map(named(z, "Name")));
    }
    for svc in arr(data, "services") {
        push(
            build(
                ctx,
                "AWS::ECS::Service",
                s(svc, "serviceArn"),
                |_, _, _| String::new(),
                svc,
                None,
            )
            .map(named(svc, "serviceName")),
        );
    }
    for c in arr(data, "clusters") {
        push(
            build(
                ctx,
                "AWS::ECS::Cluster",
                s(c, "clusterArn"),
                |_, _, _| String::new(),
                c,
                None,
            )
            .map(named(c, "clusterName")),
        );
    }
    if let Some(td) = data.get("taskDefinition") {
        push(
            build(
                ctx,
                "AWS::ECS::TaskDefinition",
                s(td, "taskDefinitionArn"),
                |_, _, _| String::new(),
                td,
                None,
            )
            .map(named(td, "family")),
        );
    }
    for b in arr(data, "Buckets") {
        let name = s(b, "Name").unwrap_or_default();
        let mut doc = b.clone();
        if let Value::Object(m) = &mut doc {
            m.insert("Bucket".into(), json!(name));
        }
        push(s3_bucket(&doc, ctx));
    }
    if data.get("Bucket").is_some() {
        push(s3_bucket(data, ctx));
    }
    (out, errs)
}

/// Recorded boto3 responses write datetimes as `{"__class__": "datetime", "year": ...}`:
/// turn them into RFC 3339 strings.
pub fn fix_datetimes(v: &Value) -> Value {
    match v {
        Value::Object(m) if m.get("__class__").and_then(Value::as_str) == Some("datetime") => {
            let n = |k: &str| m.get(k).and_then(Value::as_u64).unwrap_or(0);
            Value::String(format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                n("year"),
                n("month"),
                n("day"),
                n("hour"),
                n("minute"),
                n("second")
            ))
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), fix_datetimes(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(fix_datetimes).collect()),
        other => other.clone(),
    }
}

fn s3_bucket(doc: &Value, ctx: &RawContext) -> Result<Resource, String> {
    let name = doc
        .get("Bucket")
        .or_else(|| doc.get("Name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if name.is_empty() {
        return Err("an S3 bucket record needs `Bucket` (its name)".into());
    }
    let (conv, tags, region) = s3_convert(doc, false);
    let partition = ctx.partition.clone().unwrap_or_else(|| "aws".into());
    let mut r = Resource::new(format!("arn:{partition}:s3:::{name}"), "AWS::S3::Bucket");
    r.account_id = ctx.account.clone().unwrap_or_default();
    r.aws_region = region
        .or_else(|| ctx.region.clone())
        .unwrap_or_else(|| "global".into());
    r.resource_name = Some(name);
    r.tags = tags;
    r.configuration = conv.configuration;
    r.supplementary_configuration = conv.supplementary;
    r.unobserved = conv.unobserved;
    if doc.get("GetBucketTagging").is_none()
        && doc.get("s3.GetBucketTagging").is_none()
        && doc.get("Tagging").is_none()
    {
        r.mark_unobserved("tags", "not collected (no `GetBucketTagging` reply)");
    }
    Ok(r)
}

fn named(item: &Value, key: &str) -> impl FnOnce(Resource) -> Resource {
    let n = s(item, key);
    move |mut r| {
        if r.resource_name.is_none() {
            r.resource_name = n;
        }
        r
    }
}

fn name_tag(mut r: Resource) -> Resource {
    if r.resource_name.is_none() {
        r.resource_name = r.tags.get("Name").cloned();
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_leaves_data_maps_alone() {
        let v = json!({"Environment": {"Variables": {"LOG_LEVEL": "x"}}, "IpPermissions": [{"FromPort": 1}]});
        let c = camel(&v);
        assert_eq!(
            c,
            json!({"environment": {"variables": {"LOG_LEVEL": "x"}}, "ipPermissions": [{"fromPort": 1}]})
        );
    }

    #[test]
    fn config_item_with_string_configuration() {
        let v = json!({"resourceType": "AWS::S3::Bucket", "arn": "arn:aws:s3:::b", "resourceId": "b", "awsRegion": "us-east-1", "accountId": "123456789012",
            "configuration": "{\"name\":\"b\"}", "supplementaryConfiguration": {"BucketPolicy": "{\"policyText\":null}"}, "tags": {"A": "1"}});
        let Normalised::Resources(rs) = config_item(&v).unwrap() else {
            panic!()
        };
        let r = &rs[0];
        assert_eq!(r.configuration, json!({"name": "b"}));
        assert_eq!(
            r.supplementary_configuration["BucketPolicy"],
            json!({"policyText": null})
        );
        assert_eq!(r.tags.get("A").map(String::as_str), Some("1"));
        assert_eq!(r.resource_name.as_deref(), Some("b"));
    }

    #[test]
    fn raw_bucket_bundle_marks_what_is_missing_or_denied() {
        let v = json!({"Bucket": "b", "GetBucketEncryption": {"status_code": 404, "data": {"Error": {"Code": "ServerSideEncryptionConfigurationNotFoundError"}}},
                       "GetPublicAccessBlock": {"Error": {"Code": "AccessDenied"}}});
        let (rs, errs) = raw_response(&v, &RawContext::default());
        assert!(errs.is_empty());
        let r = &rs[0];
        assert!(
            !r.supplementary_configuration
                .contains_key("ServerSideEncryptionConfiguration")
        );
        assert!(
            r.unobserved
                .iter()
                .any(|u| u.path.ends_with("PublicAccessBlockConfiguration")
                    && u.reason.contains("AccessDenied"))
        );
        assert!(
            r.unobserved
                .iter()
                .any(|u| u.path.ends_with("BucketPolicy"))
        );
        assert!(
            !r.unobserved
                .iter()
                .any(|u| u.path.ends_with("ServerSideEncryptionConfiguration"))
        );
    }

    #[test]
    fn raw_needs_region_when_no_arn() {
        let v = json!({"Volumes": [{"VolumeId": "vol-1", "Encrypted": false}]});
        let (rs, errs) = raw_response(&v, &RawContext::default());
        assert!(rs.is_empty());
        assert!(errs[0].contains("--region"));
        let ctx = RawContext {
            account: Some("123456789012".into()),
            region: Some("eu-west-1".into()),
            partition: None,
        };
        let (rs, _) = raw_response(&v, &ctx);
        assert_eq!(rs[0].arn, "arn:aws:ec2:eu-west-1:123456789012:volume/vol-1");
        assert_eq!(rs[0].configuration["encrypted"], json!(false));
    }
}
