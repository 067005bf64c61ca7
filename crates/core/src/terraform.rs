//! Terraform plans (`terraform show -json`, format versions 0.1 to 1.2) as a resource source.
//!
//! Every managed `aws_*` resource that will exist after the apply (create, update, replace,
//! no-op) becomes a [`Resource`] in AWS Config's shape, so the same tag policy and checks judge
//! it. Its `arn` and `resourceName` are the Terraform address (`module.web.aws_s3_bucket.logs`);
//! evidence names the Terraform attribute. Values known only after the apply
//! (`after_unknown`) are *not observed*, so the checks reading them say UNKNOWN, never PASS.
//! Resources being deleted are skipped. Companion resources (`aws_s3_bucket_public_access_block`,
//! `aws_security_group_rule`, `aws_lambda_permission`, ...) are merged into the resource they
//! configure, found through the plan's configuration references or a known attribute value;
//! one whose target is not in the plan is judged on its own, with the rest not observed.
//! Tags are `tags_all` (after the provider's `default_tags`); when that is unknown, `tags` plus
//! the provider's constant `default_tags`.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

use crate::resource::{Resource, Unobserved};
use crate::source::SourceEvent;
use crate::tags::Tags;

/// Why a plan could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

/// Decodes a plan's bytes: UTF-8 (with or without a byte-order mark) or UTF-16 with a BOM
/// (what PowerShell's `>` writes). Returns the text and a note when it was not plain UTF-8.
pub fn decode(bytes: &[u8]) -> Result<(String, Option<&'static str>), PlanError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        let le = bytes[0] == 0xFF;
        let body = &bytes[2..];
        if !body.len().is_multiple_of(2) {
            return Err(PlanError(
                "the file is UTF-16 but has an odd number of bytes: it is truncated".into(),
            ));
        }
        let units: Vec<u16> = body
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        let text = String::from_utf16(&units)
            .map_err(|_| PlanError("the file is not valid UTF-16".into()))?;
        return Ok((text, Some(if le { "UTF-16LE" } else { "UTF-16BE" })));
    }
    let body = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    match std::str::from_utf8(body) {
        Ok(s) => Ok((s.to_string(), None)),
        Err(e) => Err(PlanError(format!(
            "the file is neither UTF-8 nor UTF-16 with a byte-order mark (invalid byte at offset {})",
            e.valid_up_to() + (bytes.len() - body.len())
        ))),
    }
}

/// A parsed plan.
#[derive(Debug)]
pub struct Plan {
    /// `format_version`.
    pub format_version: String,
    /// `terraform_version`, when given.
    pub terraform_version: Option<String>,
    doc: Value,
    /// A note on the encoding, when it was not UTF-8.
    pub encoding_note: Option<&'static str>,
}

/// Parses and validates a plan.
pub fn parse_plan(bytes: &[u8], label: &str) -> Result<Plan, PlanError> {
    let (text, encoding_note) = decode(bytes).map_err(|e| PlanError(format!("{label}: {e}")))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| {
        PlanError(format!(
            "{label}:{}:{}: not valid JSON: {}",
            e.line(),
            e.column(),
            e.to_string().split(" at line ").next().unwrap_or("")
        ))
    })?;
    let Some(obj) = doc.as_object() else {
        return Err(PlanError(format!(
            "{label}: a plan is a JSON object (`terraform show -json PLANFILE`)"
        )));
    };
    let fv = match obj.get("format_version").and_then(Value::as_str) {
        Some(v) => v,
        // Trimmed plans (test fixtures, hand-made excerpts) may leave the version out.
        None if obj.contains_key("resource_changes") || obj.contains_key("planned_values") => "1.0",
        None => {
            return Err(PlanError(format!(
                "{label}: no `format_version` and no `resource_changes`: this is not the output of `terraform show -json PLANFILE`"
            )));
        }
    };
    let major = fv.split('.').next().and_then(|m| m.parse::<u32>().ok());
    if !matches!(major, Some(0) | Some(1)) {
        return Err(PlanError(format!(
            "{label}: plan format version `{fv}` is not supported (0.1 to 1.x are)"
        )));
    }
    if !obj.contains_key("resource_changes") && !obj.contains_key("planned_values") {
        let what = if obj.contains_key("values") {
            "this is a state (`terraform show -json` without a plan file), not a plan"
        } else {
            "it has neither `resource_changes` nor `planned_values`"
        };
        return Err(PlanError(format!("{label}: {what}")));
    }
    if let Some(rc) = obj.get("resource_changes")
        && !rc.is_array()
    {
        return Err(PlanError(format!(
            "{label}: `resource_changes` is not a list"
        )));
    }
    Ok(Plan {
        format_version: fv.to_string(),
        terraform_version: obj
            .get("terraform_version")
            .and_then(Value::as_str)
            .map(str::to_string),
        doc,
        encoding_note,
    })
}

/// A value of a planned resource.
enum TfVal<'a> {
    Known(&'a Value),
    Unknown,
    Absent,
}

/// One resource change, with its `after` and `after_unknown`.
struct Change<'a> {
    address: String,
    module: String,
    rtype: String,
    name: String,
    index: Option<Value>,
    after: &'a Value,
    unknown: &'a Value,
    actions: Vec<String>,
    /// The resource's expressions in the plan's configuration, when found.
    expressions: Option<Value>,
    /// Read from `planned_values` (no `after_unknown`): an absent attribute may be unknown.
    absent_is_unknown: bool,
}

impl<'a> Change<'a> {
    /// Whether the plan creates this resource and leaves `attr` to AWS: not set in the
    /// configuration, computed by the provider (known only after apply). AWS's defaults for a
    /// new resource then apply.
    fn left_to_aws(&self, attr: &str) -> bool {
        self.actions.iter().any(|a| a == "create")
            && !self.absent_is_unknown
            && matches!(self.get(&[attr]), TfVal::Unknown)
            && self
                .expressions
                .as_ref()
                .is_some_and(|e| e.get(attr).is_none())
    }

    fn get(&self, path: &[&str]) -> TfVal<'a> {
        let mut v = self.after;
        let mut u = self.unknown;
        for p in path {
            if u == &Value::Bool(true) {
                return TfVal::Unknown;
            }
            let (nv, nu) = match (v, p.parse::<usize>()) {
                (Value::Array(a), Ok(i)) => (a.get(i), u.as_array().and_then(|x| x.get(i))),
                (Value::Object(m), _) => (m.get(*p), u.as_object().and_then(|x| x.get(*p))),
                _ => (None, u.get(*p)),
            };
            match nv {
                Some(x) => {
                    v = x;
                    u = nu.unwrap_or(&Value::Bool(false));
                }
                None => {
                    return if nu == Some(&Value::Bool(true)) || self.absent_is_unknown {
                        TfVal::Unknown
                    } else {
                        TfVal::Absent
                    };
                }
            }
        }
        if u == &Value::Bool(true) {
            TfVal::Unknown
        } else if v.is_null() {
            TfVal::Absent
        } else {
            TfVal::Known(v)
        }
    }
    fn str(&self, path: &[&str]) -> Option<String> {
        match self.get(path) {
            TfVal::Known(Value::String(s)) => Some(s.clone()),
            _ => None,
        }
    }
}

/// Builds one resource's configuration, remembering where each attribute came from.
struct Builder {
    config: Map<String, Value>,
    supp: Map<String, Value>,
    unobserved: Vec<Unobserved>,
    sources: Vec<(String, String)>,
}

fn set_path(root: &mut Map<String, Value>, keys: &[&str], v: Value) {
    let Some((first, rest)) = keys.split_first() else {
        return;
    };
    if rest.is_empty() {
        root.insert(first.to_string(), v);
        return;
    }
    let e = root
        .entry(first.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !e.is_object() {
        *e = Value::Object(Map::new());
    }
    if let Value::Object(m) = e {
        set_path(m, rest, v);
    }
}

impl Builder {
    fn new() -> Builder {
        Builder {
            config: Map::new(),
            supp: Map::new(),
            unobserved: Vec::new(),
            sources: Vec::new(),
        }
    }

    /// Sets `path` (`configuration.x.y` or `supplementaryConfiguration.X.y`) from the
    /// resource's attribute `tf` (block indexes as `0`), transformed by `f`.
    fn put(&mut self, path: &str, c: &Change<'_>, tf: &[&str], f: impl Fn(&Value) -> Value) {
        let src = format!(
            "{}.{}",
            c.address,
            tf.iter()
                .filter(|s| s.parse::<usize>().is_err())
                .cloned()
                .collect::<Vec<_>>()
                .join(".")
        );
        match c.get(tf) {
            TfVal::Known(v) => {
                self.set(path, f(v));
                self.sources.push((path.to_string(), src));
            }
            TfVal::Unknown => {
                self.unobserved.push(Unobserved {
                    path: path.to_string(),
                    reason: format!("`{src}` is known only after apply"),
                });
                self.sources.push((path.to_string(), src));
            }
            TfVal::Absent => self
                .sources
                .push((path.to_string(), format!("{src} (not set)"))),
        }
    }

    fn same(&mut self, path: &str, c: &Change<'_>, tf: &[&str]) {
        self.put(path, c, tf, Value::clone);
    }

    fn set(&mut self, path: &str, v: Value) {
        let keys: Vec<&str> = path.split('.').collect();
        match keys.split_first() {
            Some((&"configuration", rest)) => set_path(&mut self.config, rest, v),
            Some((&"supplementaryConfiguration", rest)) => set_path(&mut self.supp, rest, v),
            _ => {}
        }
    }

    fn unobserved(&mut self, path: &str, reason: String) {
        self.unobserved.push(Unobserved {
            path: path.to_string(),
            reason,
        });
    }
}

/// Terraform type → CloudFormation type, for the types mapped into Config's shape or judged
/// by the tag policy.
pub fn cfn_type_of_terraform(t: &str) -> Option<&'static str> {
    Some(match t {
        "aws_s3_bucket" => "AWS::S3::Bucket",
        "aws_security_group" => "AWS::EC2::SecurityGroup",
        "aws_ebs_volume" => "AWS::EC2::Volume",
        "aws_instance" => "AWS::EC2::Instance",
        "aws_subnet" => "AWS::EC2::Subnet",
        "aws_vpc" => "AWS::EC2::VPC",
        "aws_db_instance" => "AWS::RDS::DBInstance",
        "aws_rds_cluster" => "AWS::RDS::DBCluster",
        "aws_lb" | "aws_alb" => "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "aws_lb_listener" | "aws_alb_listener" => "AWS::ElasticLoadBalancingV2::Listener",
        "aws_elb" => "AWS::ElasticLoadBalancing::LoadBalancer",
        "aws_ecr_repository" => "AWS::ECR::Repository",
        "aws_ecs_cluster" => "AWS::ECS::Cluster",
        "aws_ecs_service" => "AWS::ECS::Service",
        "aws_ecs_task_definition" => "AWS::ECS::TaskDefinition",
        "aws_lambda_function" => "AWS::Lambda::Function",
        "aws_iam_user" => "AWS::IAM::User",
        "aws_iam_role" => "AWS::IAM::Role",
        "aws_iam_group" => "AWS::IAM::Group",
        "aws_iam_policy" => "AWS::IAM::Policy",
        "aws_cloudtrail" => "AWS::CloudTrail::Trail",
        "aws_kms_key" => "AWS::KMS::Key",
        "aws_route53_zone" => "AWS::Route53::HostedZone",
        "aws_dynamodb_table" => "AWS::DynamoDB::Table",
        "aws_sns_topic" => "AWS::SNS::Topic",
        "aws_sqs_queue" => "AWS::SQS::Queue",
        "aws_eks_cluster" => "AWS::EKS::Cluster",
        "aws_cloudwatch_log_group" => "AWS::Logs::LogGroup",
        _ => return None,
    })
}

/// Companion type → (its attribute naming the target, the target's type, the target's
/// attributes whose known value may equal it).
fn companion(t: &str) -> Option<(&'static str, &'static str, &'static [&'static str])> {
    Some(match t {
        "aws_s3_bucket_public_access_block"
        | "aws_s3_bucket_server_side_encryption_configuration"
        | "aws_s3_bucket_versioning"
        | "aws_s3_bucket_logging"
        | "aws_s3_bucket_policy"
        | "aws_s3_bucket_acl"
        | "aws_s3_bucket_lifecycle_configuration"
        | "aws_s3_bucket_ownership_controls" => ("bucket", "aws_s3_bucket", &["bucket", "id"]),
        "aws_security_group_rule"
        | "aws_vpc_security_group_ingress_rule"
        | "aws_vpc_security_group_egress_rule" => {
            ("security_group_id", "aws_security_group", &["id"])
        }
        "aws_ecr_lifecycle_policy" => ("repository", "aws_ecr_repository", &["name"]),
        "aws_lambda_permission" => (
            "function_name",
            "aws_lambda_function",
            &["function_name", "arn"],
        ),
        "aws_route53_query_log" => ("zone_id", "aws_route53_zone", &["zone_id"]),
        "aws_iam_user_policy_attachment" | "aws_iam_user_policy" | "aws_iam_access_key" => {
            ("user", "aws_iam_user", &["name"])
        }
        _ => return None,
    })
}

/// Strips instance keys: `module.a[0].aws_x.y["k"]` → `module.a.aws_x.y`.
fn strip_indexes(addr: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    let mut in_str = false;
    for c in addr.chars() {
        match c {
            '"' if depth > 0 => in_str = !in_str,
            '[' if !in_str => depth += 1,
            ']' if !in_str && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The plan's configuration: expressions by (module path without indexes, resource address).
fn config_expressions(doc: &Value) -> HashMap<String, Value> {
    fn walk(module: &Value, prefix: &str, out: &mut HashMap<String, Value>) {
        for r in module
            .get("resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(addr), Some(ex)) = (
                r.get("address").and_then(Value::as_str),
                r.get("expressions"),
            ) {
                let key = if prefix.is_empty() {
                    addr.to_string()
                } else {
                    format!("{prefix}.{addr}")
                };
                out.insert(key, ex.clone());
            }
        }
        if let Some(calls) = module.get("module_calls").and_then(Value::as_object) {
            for (name, call) in calls {
                if let Some(m) = call.get("module") {
                    let p = if prefix.is_empty() {
                        format!("module.{name}")
                    } else {
                        format!("{prefix}.module.{name}")
                    };
                    walk(m, &p, out);
                }
            }
        }
    }
    let mut out = HashMap::new();
    if let Some(root) = doc.get("configuration").and_then(|c| c.get("root_module")) {
        walk(root, "", &mut out);
    }
    out
}

/// The provider's constant `default_tags`, when the configuration states them.
fn default_tags(doc: &Value) -> (Tags, bool) {
    let mut tags = Tags::new();
    let mut dynamic = false;
    if let Some(pc) = doc
        .get("configuration")
        .and_then(|c| c.get("provider_config"))
        .and_then(Value::as_object)
    {
        for (k, p) in pc {
            if !(k == "aws" || k.starts_with("aws.")) {
                continue;
            }
            for dt in p
                .get("expressions")
                .and_then(|e| e.get("default_tags"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(t) = dt.get("tags") {
                    match t.get("constant_value").and_then(Value::as_object) {
                        Some(m) => {
                            for (k, v) in m {
                                tags.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
                            }
                        }
                        None => dynamic = true,
                    }
                }
            }
        }
    }
    (tags, dynamic)
}

fn bool_str(v: &Value) -> Value {
    match v {
        Value::Bool(b) => Value::String(b.to_string()),
        other => other.clone(),
    }
}

/// Reads a plan into source events: resources, skipped deletions, and errors.
pub fn plan_events(plan: &Plan, label: &str) -> Vec<SourceEvent> {
    let doc = &plan.doc;
    let mut out = Vec::new();
    let exprs = config_expressions(doc);
    let (defaults, dynamic_defaults) = default_tags(doc);
    let empty = Value::Object(Map::new());
    let mut changes: Vec<Change<'_>> = Vec::new();
    for (i, rc) in doc
        .get("resource_changes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let loc = format!("{label} resource_changes[{i}]");
        let Some(address) = rc.get("address").and_then(Value::as_str) else {
            out.push(SourceEvent::Error {
                location: loc,
                message: "a resource change without `address`".into(),
            });
            continue;
        };
        if rc.get("mode").and_then(Value::as_str) == Some("data") {
            continue;
        }
        let rtype = rc
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let actions: Vec<String> = rc
            .get("change")
            .and_then(|c| c.get("actions"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if actions == ["delete"] {
            out.push(SourceEvent::Skipped {
                location: address.to_string(),
                reason: "being deleted by the plan".into(),
            });
            continue;
        }
        if actions == ["read"] || actions.is_empty() {
            continue;
        }
        if !rtype.starts_with("aws_") {
            out.push(SourceEvent::Skipped {
                location: address.to_string(),
                reason: format!("`{rtype}` is not an AWS resource"),
            });
            continue;
        }
        let change = rc.get("change").unwrap_or(&empty);
        let after = change
            .get("after")
            .filter(|a| a.is_object())
            .unwrap_or(&empty);
        let unknown = change.get("after_unknown").unwrap_or(&empty);
        changes.push(Change {
            address: address.to_string(),
            module: rc
                .get("module_address")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            rtype,
            name: rc
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            index: rc.get("index").cloned(),
            after,
            unknown,
            actions,
            expressions: exprs.get(&strip_indexes(address)).cloned(),
            absent_is_unknown: false,
        });
    }
    // A plan without `resource_changes` (a trimmed one): read `planned_values`, where what is
    // not known yet is simply left out.
    if doc.get("resource_changes").is_none() {
        fn walk<'v>(m: &'v Value, out: &mut Vec<&'v Value>) {
            out.extend(
                m.get("resources")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            );
            for c in m
                .get("child_modules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                walk(c, out);
            }
        }
        let mut rs = Vec::new();
        if let Some(root) = doc.get("planned_values").and_then(|p| p.get("root_module")) {
            walk(root, &mut rs);
        }
        for r in rs {
            let Some(address) = r.get("address").and_then(Value::as_str) else {
                continue;
            };
            let rtype = r
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if r.get("mode").and_then(Value::as_str) == Some("data") || !rtype.starts_with("aws_") {
                continue;
            }
            let module = address
                .rsplitn(3, '.')
                .nth(2)
                .unwrap_or_default()
                .to_string();
            changes.push(Change {
                address: address.to_string(),
                module,
                rtype,
                name: r
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                index: r.get("index").cloned(),
                after: r.get("values").filter(|v| v.is_object()).unwrap_or(&empty),
                unknown: &empty,
                actions: vec!["create".into()],
                expressions: exprs.get(&strip_indexes(address)).cloned(),
                absent_is_unknown: true,
            });
        }
    }
    // Link companions to their targets.
    let mut attached: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut orphans: Vec<usize> = Vec::new();
    for (ci, c) in changes.iter().enumerate() {
        let Some((attr, target_type, target_attrs)) = companion(&c.rtype) else {
            continue;
        };
        let mut target: Option<usize> = None;
        // By reference in the configuration.
        let key = strip_indexes(&c.address);
        if let Some(ex) = exprs.get(&key) {
            let refs = ex
                .get(attr)
                .and_then(|a| a.get("references"))
                .and_then(Value::as_array);
            for r in refs.into_iter().flatten().filter_map(Value::as_str) {
                let parts: Vec<&str> = r.split('.').collect();
                if parts.len() >= 2 && parts[0] == target_type {
                    let name = strip_indexes(parts[1]);
                    let cands: Vec<usize> = changes
                        .iter()
                        .enumerate()
                        .filter(|(_, t)| {
                            t.rtype == target_type
                                && t.name == name
                                && strip_indexes(&t.module) == strip_indexes(&c.module)
                        })
                        .map(|(i, _)| i)
                        .collect();
                    target = cands
                        .iter()
                        .copied()
                        .find(|i| changes[*i].index == c.index && changes[*i].module == c.module)
                        .or(cands.first().copied());
                    if target.is_some() {
                        break;
                    }
                }
            }
        }
        // By a known value.
        if target.is_none()
            && let TfVal::Known(v) = c.get(&[attr])
        {
            target = changes.iter().position(|t| {
                t.rtype == target_type
                    && target_attrs
                        .iter()
                        .any(|a| matches!(t.get(&[a]), TfVal::Known(x) if x == v))
            });
        }
        match target {
            Some(t) => attached.entry(t).or_default().push(ci),
            None => orphans.push(ci),
        }
    }
    let companions: std::collections::HashSet<usize> = changes
        .iter()
        .enumerate()
        .filter(|(_, c)| companion(&c.rtype).is_some())
        .map(|(i, _)| i)
        .collect();
    for (i, c) in changes.iter().enumerate() {
        if companions.contains(&i) {
            continue;
        }
        let comps: Vec<&Change<'_>> = attached
            .get(&i)
            .map(|v| v.iter().map(|j| &changes[*j]).collect())
            .unwrap_or_default();
        out.push(SourceEvent::Resource(Box::new(build_resource(
            c,
            &comps,
            &defaults,
            dynamic_defaults,
            label,
            false,
        ))));
    }
    // Companions whose target is not in the plan: judged on their own.
    let mut by_target: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for ci in orphans {
        let c = &changes[ci];
        let Some((attr, _, _)) = companion(&c.rtype) else {
            continue;
        };
        let key = match c.get(&[attr]) {
            TfVal::Known(Value::String(s)) => format!(
                "{}:{s}",
                c.rtype.split('_').take(3).collect::<Vec<_>>().join("_")
            ),
            _ => c.address.clone(),
        };
        by_target.entry(key).or_default().push(ci);
    }
    for (_, cs) in by_target {
        let first = &changes[cs[0]];
        let comps: Vec<&Change<'_>> = cs.iter().map(|j| &changes[*j]).collect();
        let Some((attr, target_type, _)) = companion(&first.rtype) else {
            continue;
        };
        let target_name = first.str(&[attr]);
        let pseudo = Change {
            address: first.address.clone(),
            module: first.module.clone(),
            rtype: target_type.to_string(),
            name: first.name.clone(),
            index: first.index.clone(),
            after: &empty,
            unknown: &empty,
            actions: first.actions.clone(),
            expressions: None,
            absent_is_unknown: false,
        };
        let mut r = build_resource(&pseudo, &comps, &defaults, dynamic_defaults, label, true);
        if let Some(n) = target_name {
            r.resource_id = n.clone();
            r.resource_name = Some(format!("{} (for `{n}`, not in this plan)", first.address));
        }
        out.push(SourceEvent::Resource(Box::new(r)));
    }
    out
}

fn tags_of(
    c: &Change<'_>,
    defaults: &Tags,
    dynamic_defaults: bool,
    b: &mut Builder,
) -> (Tags, bool) {
    match c.get(&["tags_all"]) {
        TfVal::Known(v) => {
            b.sources
                .push(("tags".into(), format!("{}.tags_all", c.address)));
            return (crate::normalize::tags_from(Some(v)), true);
        }
        TfVal::Unknown | TfVal::Absent => {}
    }
    let mut t = defaults.clone();
    let known = match c.get(&["tags"]) {
        TfVal::Known(v) => {
            t.extend(crate::normalize::tags_from(Some(v)));
            true
        }
        TfVal::Absent => true,
        TfVal::Unknown => false,
    };
    b.sources
        .push(("tags".into(), format!("{}.tags", c.address)));
    (t, known && !dynamic_defaults)
}

fn build_resource(
    c: &Change<'_>,
    comps: &[&Change<'_>],
    defaults: &Tags,
    dynamic_defaults: bool,
    label: &str,
    orphan: bool,
) -> Resource {
    let rtype = cfn_type_of_terraform(&c.rtype)
        .map(str::to_string)
        .unwrap_or_else(|| format!("Terraform::{}", c.rtype));
    let mut b = Builder::new();
    map_type(c, comps, &mut b, orphan);
    let mut r = Resource::new(c.address.clone(), rtype);
    r.resource_id = c.address.clone();
    r.resource_name = Some(c.address.clone());
    r.account_id = String::new();
    r.aws_region = c.str(&["region"]).unwrap_or_default();
    let (tags, known) = if orphan {
        (Tags::new(), false)
    } else {
        tags_of(c, defaults, dynamic_defaults, &mut b)
    };
    r.tags = tags;
    if !known {
        b.unobserved(
            "tags",
            if orphan {
                "the tagged resource is not in this plan".into()
            } else {
                format!("`{}.tags_all` is known only after apply", c.address)
            },
        );
    }
    r.configuration = Value::Object(b.config);
    r.supplementary_configuration = b.supp;
    r.unobserved = b.unobserved;
    r.source_paths = b.sources;
    r.origin = Some(format!("{label} {}", c.address));
    if c.actions.iter().any(|a| a == "delete") {
        r.origin = Some(format!("{label} {} (replaced)", c.address));
    }
    r
}

fn acl_grants(acl: &str) -> Value {
    let mut g = vec![json!({"grantee": {"id": "owner"}, "permission": "FullControl"})];
    match acl {
        "public-read" => g.push(json!({"grantee": "AllUsers", "permission": "Read"})),
        "public-read-write" => {
            g.push(json!({"grantee": "AllUsers", "permission": "Read"}));
            g.push(json!({"grantee": "AllUsers", "permission": "Write"}));
        }
        "authenticated-read" => {
            g.push(json!({"grantee": "AuthenticatedUsers", "permission": "Read"}))
        }
        _ => {}
    }
    json!({"grantList": g, "owner": {"id": "owner"}})
}

fn sg_rule(
    protocol: &Value,
    from: Option<&Value>,
    to: Option<&Value>,
    v4: Vec<Value>,
    v6: Vec<Value>,
) -> Value {
    let proto = match protocol {
        Value::String(s) if s == "all" || s == "-1" => "-1".to_string(),
        Value::String(s) => s.to_lowercase(),
        Value::Number(n) => n.to_string(),
        _ => "-1".into(),
    };
    json!({
        "ipProtocol": proto,
        "fromPort": from.cloned().unwrap_or(Value::Null),
        "toPort": to.cloned().unwrap_or(Value::Null),
        "ipRanges": v4.clone(),
        "ipv4Ranges": v4.iter().map(|c| json!({"cidrIp": c})).collect::<Vec<_>>(),
        "ipv6Ranges": v6.iter().map(|c| json!({"cidrIpv6": c})).collect::<Vec<_>>(),
    })
}

fn list_of(v: Option<&Value>) -> Vec<Value> {
    v.and_then(Value::as_array).cloned().unwrap_or_default()
}

fn map_type(c: &Change<'_>, comps: &[&Change<'_>], b: &mut Builder, orphan: bool) {
    let comp = |t: &str| comps.iter().find(|x| x.rtype == t).copied();
    match c.rtype.as_str() {
        "aws_s3_bucket" => {
            b.same("configuration.name", c, &["bucket"]);
            let pab = comp("aws_s3_bucket_public_access_block");
            match pab {
                Some(p) => {
                    for (k, tf) in [
                        ("blockPublicAcls", "block_public_acls"),
                        ("ignorePublicAcls", "ignore_public_acls"),
                        ("blockPublicPolicy", "block_public_policy"),
                        ("restrictPublicBuckets", "restrict_public_buckets"),
                    ] {
                        b.same(
                            &format!(
                                "supplementaryConfiguration.PublicAccessBlockConfiguration.{k}"
                            ),
                            p,
                            &[tf],
                        );
                    }
                }
                None if orphan => b.unobserved(
                    "supplementaryConfiguration.PublicAccessBlockConfiguration",
                    "not in this plan".into(),
                ),
                None => b.sources.push((
                    "supplementaryConfiguration.PublicAccessBlockConfiguration".into(),
                    format!("no aws_s3_bucket_public_access_block for {}", c.address),
                )),
            }
            // Encryption: the companion, else the inline block (computed since provider v4).
            if let Some(e) = comp("aws_s3_bucket_server_side_encryption_configuration") {
                b.put("supplementaryConfiguration.ServerSideEncryptionConfiguration.rules", e, &["rule"], |rules| {
                    Value::Array(list_of(Some(rules)).iter().map(|r| json!({
                        "applyServerSideEncryptionByDefault": {
                            "sseAlgorithm": r.pointer("/apply_server_side_encryption_by_default/0/sse_algorithm"),
                            "kmsMasterKeyID": r.pointer("/apply_server_side_encryption_by_default/0/kms_master_key_id"),
                        },
                        "bucketKeyEnabled": r.get("bucket_key_enabled"),
                    })).collect())
                });
            } else if orphan {
                b.unobserved(
                    "supplementaryConfiguration.ServerSideEncryptionConfiguration",
                    "not in this plan".into(),
                );
            } else if c.left_to_aws("server_side_encryption_configuration") {
                // Since January 2023 AWS encrypts every new bucket with SSE-S3.
                b.set(
                    "supplementaryConfiguration.ServerSideEncryptionConfiguration.rules",
                    json!([{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]),
                );
                b.sources.push((
                    "supplementaryConfiguration.ServerSideEncryptionConfiguration".into(),
                    format!(
                        "{} (not set: AWS encrypts new buckets with SSE-S3)",
                        c.address
                    ),
                ));
            } else {
                b.put("supplementaryConfiguration.ServerSideEncryptionConfiguration.rules", c, &["server_side_encryption_configuration", "0", "rule"], |rules| {
                    Value::Array(list_of(Some(rules)).iter().map(|r| json!({
                        "applyServerSideEncryptionByDefault": {"sseAlgorithm": r.pointer("/apply_server_side_encryption_by_default/0/sse_algorithm")},
                    })).collect())
                });
            }
            if let Some(v) = comp("aws_s3_bucket_versioning") {
                b.same(
                    "supplementaryConfiguration.BucketVersioningConfiguration.status",
                    v,
                    &["versioning_configuration", "0", "status"],
                );
            } else if orphan {
                b.unobserved(
                    "supplementaryConfiguration.BucketVersioningConfiguration",
                    "not in this plan".into(),
                );
            } else if c.left_to_aws("versioning") {
                b.set(
                    "supplementaryConfiguration.BucketVersioningConfiguration.status",
                    json!("Off"),
                );
                b.sources.push((
                    "supplementaryConfiguration.BucketVersioningConfiguration".into(),
                    format!("{} (versioning not set)", c.address),
                ));
            } else {
                b.put(
                    "supplementaryConfiguration.BucketVersioningConfiguration.status",
                    c,
                    &["versioning", "0", "enabled"],
                    |v| json!(if v == &json!(true) { "Enabled" } else { "Off" }),
                );
            }
            if let Some(l) = comp("aws_s3_bucket_logging") {
                b.same(
                    "supplementaryConfiguration.BucketLoggingConfiguration.destinationBucketName",
                    l,
                    &["target_bucket"],
                );
            } else if orphan {
                b.unobserved(
                    "supplementaryConfiguration.BucketLoggingConfiguration",
                    "not in this plan".into(),
                );
            } else if c.left_to_aws("logging") {
                b.sources.push((
                    "supplementaryConfiguration.BucketLoggingConfiguration".into(),
                    format!("{} (logging not set)", c.address),
                ));
            } else {
                b.same(
                    "supplementaryConfiguration.BucketLoggingConfiguration.destinationBucketName",
                    c,
                    &["logging", "0", "target_bucket"],
                );
            }
            if let Some(p) = comp("aws_s3_bucket_policy") {
                b.same(
                    "supplementaryConfiguration.BucketPolicy.policyText",
                    p,
                    &["policy"],
                );
            } else if orphan {
                b.unobserved(
                    "supplementaryConfiguration.BucketPolicy",
                    "not in this plan".into(),
                );
            } else if c.left_to_aws("policy") {
                b.sources.push((
                    "supplementaryConfiguration.BucketPolicy".into(),
                    format!("{} (no policy set)", c.address),
                ));
            } else {
                b.same(
                    "supplementaryConfiguration.BucketPolicy.policyText",
                    c,
                    &["policy"],
                );
            }
            if let Some(a) = comp("aws_s3_bucket_acl") {
                b.put(
                    "supplementaryConfiguration.AccessControlList",
                    a,
                    &["acl"],
                    |v| acl_grants(v.as_str().unwrap_or("private")),
                );
            } else if orphan {
                b.unobserved(
                    "supplementaryConfiguration.AccessControlList",
                    "not in this plan".into(),
                );
            } else if c.left_to_aws("acl") {
                b.set(
                    "supplementaryConfiguration.AccessControlList",
                    acl_grants("private"),
                );
                b.sources.push((
                    "supplementaryConfiguration.AccessControlList".into(),
                    format!("{} (acl not set: private)", c.address),
                ));
            } else {
                b.put(
                    "supplementaryConfiguration.AccessControlList",
                    c,
                    &["acl"],
                    |v| acl_grants(v.as_str().unwrap_or("private")),
                );
            }
            if let Some(l) = comp("aws_s3_bucket_lifecycle_configuration") {
                b.same(
                    "supplementaryConfiguration.BucketLifecycleConfiguration.rules",
                    l,
                    &["rule"],
                );
            } else if orphan {
                b.unobserved(
                    "supplementaryConfiguration.BucketLifecycleConfiguration",
                    "not in this plan".into(),
                );
            } else if c.left_to_aws("lifecycle_rule") {
                b.sources.push((
                    "supplementaryConfiguration.BucketLifecycleConfiguration".into(),
                    format!("{} (no lifecycle rules set)", c.address),
                ));
            } else {
                b.put(
                    "supplementaryConfiguration.BucketLifecycleConfiguration.rules",
                    c,
                    &["lifecycle_rule"],
                    |v| {
                        if list_of(Some(v)).is_empty() {
                            Value::Null
                        } else {
                            v.clone()
                        }
                    },
                );
            }
        }
        "aws_security_group"
        | "aws_security_group_rule"
        | "aws_vpc_security_group_ingress_rule"
        | "aws_vpc_security_group_egress_rule" => {
            b.same("configuration.groupName", c, &["name"]);
            let mut ingress = Vec::new();
            let mut egress = Vec::new();
            let mut unknown_rules = false;
            if c.rtype == "aws_security_group" {
                for (key, dst) in [("ingress", &mut ingress), ("egress", &mut egress)] {
                    match c.get(&[key]) {
                        TfVal::Known(Value::Array(rules)) => {
                            for r in rules {
                                dst.push(sg_rule(
                                    r.get("protocol").unwrap_or(&Value::Null),
                                    r.get("from_port"),
                                    r.get("to_port"),
                                    list_of(r.get("cidr_blocks")),
                                    list_of(r.get("ipv6_cidr_blocks")),
                                ));
                            }
                            b.sources.push((
                                format!(
                                    "configuration.ipPermissions{}",
                                    if key == "egress" { "Egress" } else { "" }
                                ),
                                format!("{}.{key}", c.address),
                            ));
                        }
                        TfVal::Unknown if key == "ingress" && !c.left_to_aws("ingress") => {
                            unknown_rules = true
                        }
                        _ => {}
                    }
                }
            }
            let mut rule_comps: Vec<&Change<'_>> = comps.to_vec();
            if c.rtype != "aws_security_group" && rule_comps.is_empty() {
                rule_comps.push(c);
            }
            for r in rule_comps {
                let is_ingress = match r.rtype.as_str() {
                    "aws_security_group_rule" => r.str(&["type"]).as_deref() != Some("egress"),
                    "aws_vpc_security_group_ingress_rule" => true,
                    _ => false,
                };
                let (v4, v6) = match r.rtype.as_str() {
                    "aws_security_group_rule" => (
                        list_of(r.after.get("cidr_blocks")),
                        list_of(r.after.get("ipv6_cidr_blocks")),
                    ),
                    _ => (
                        r.after
                            .get("cidr_ipv4")
                            .cloned()
                            .into_iter()
                            .filter(|v| !v.is_null())
                            .collect(),
                        r.after
                            .get("cidr_ipv6")
                            .cloned()
                            .into_iter()
                            .filter(|v| !v.is_null())
                            .collect(),
                    ),
                };
                let proto = r
                    .after
                    .get("protocol")
                    .or_else(|| r.after.get("ip_protocol"))
                    .cloned()
                    .unwrap_or(Value::Null);
                let rule = sg_rule(
                    &proto,
                    r.after.get("from_port"),
                    r.after.get("to_port"),
                    v4,
                    v6,
                );
                for k in [
                    "cidr_blocks",
                    "cidr_ipv4",
                    "ipv6_cidr_blocks",
                    "cidr_ipv6",
                    "from_port",
                    "to_port",
                ] {
                    if matches!(r.get(&[k]), TfVal::Unknown) {
                        unknown_rules = true;
                    }
                }
                b.sources
                    .push(("configuration.ipPermissions".into(), r.address.clone()));
                if is_ingress {
                    ingress.push(rule)
                } else {
                    egress.push(rule)
                }
            }
            b.set("configuration.ipPermissions", Value::Array(ingress));
            b.set("configuration.ipPermissionsEgress", Value::Array(egress));
            if unknown_rules {
                b.unobserved(
                    "configuration.ipPermissions",
                    format!("`{}` has ingress rules known only after apply", c.address),
                );
            }
            if orphan || c.rtype != "aws_security_group" {
                b.unobserved(
                    "configuration.groupName",
                    "the security group is not in this plan".into(),
                );
            }
        }
        "aws_ebs_volume" => b.same("configuration.encrypted", c, &["encrypted"]),
        "aws_instance" => {
            b.same("configuration.instanceType", c, &["instance_type"]);
            b.same(
                "configuration.metadataOptions.httpTokens",
                c,
                &["metadata_options", "0", "http_tokens"],
            );
            b.put(
                "configuration.publicIpAddress",
                c,
                &["associate_public_ip_address"],
                |v| {
                    if v == &json!(true) {
                        json!("(assigned at launch)")
                    } else {
                        Value::Null
                    }
                },
            );
            b.put("configuration.vpcId", c, &["subnet_id"], |_| {
                json!("(the subnet's VPC)")
            });
            b.set("configuration.state", json!({"name": "pending"}));
        }
        "aws_subnet" => b.same(
            "configuration.mapPublicIpOnLaunch",
            c,
            &["map_public_ip_on_launch"],
        ),
        "aws_db_instance" | "aws_rds_cluster" => {
            for (k, tf) in [
                ("publiclyAccessible", "publicly_accessible"),
                ("storageEncrypted", "storage_encrypted"),
                ("kmsKeyId", "kms_key_id"),
                ("multiAZ", "multi_az"),
                ("deletionProtection", "deletion_protection"),
                ("backupRetentionPeriod", "backup_retention_period"),
                ("autoMinorVersionUpgrade", "auto_minor_version_upgrade"),
                (
                    "iAMDatabaseAuthenticationEnabled",
                    "iam_database_authentication_enabled",
                ),
                ("monitoringInterval", "monitoring_interval"),
                ("copyTagsToSnapshot", "copy_tags_to_snapshot"),
                ("engine", "engine"),
            ] {
                b.same(&format!("configuration.{k}"), c, &[tf]);
            }
            if c.rtype == "aws_rds_cluster" {
                b.put("configuration.multiAZ", c, &["availability_zones"], |v| {
                    json!(list_of(Some(v)).len() > 1)
                });
            }
            b.same(
                "configuration.dBClusterIdentifier",
                c,
                &["cluster_identifier"],
            );
        }
        "aws_lb" | "aws_alb" => {
            b.put(
                "configuration.type",
                c,
                &["load_balancer_type"],
                Value::clone,
            );
            if c.after
                .get("load_balancer_type")
                .is_none_or(|v| v.is_null())
                && !matches!(c.get(&["load_balancer_type"]), TfVal::Unknown)
            {
                b.set("configuration.type", json!("application"));
            }
            b.put("configuration.availabilityZones", c, &["subnets"], |v| {
                Value::Array(
                    list_of(Some(v))
                        .iter()
                        .map(|s| json!({"subnetId": s}))
                        .collect(),
                )
            });
            if let TfVal::Known(Value::Array(m)) = c.get(&["subnet_mapping"])
                && !m.is_empty()
            {
                b.set(
                    "configuration.availabilityZones",
                    Value::Array(
                        m.iter()
                            .map(|s| json!({"subnetId": s.get("subnet_id")}))
                            .collect(),
                    ),
                );
            }
            let mut attrs = Vec::new();
            let mut unknown = Vec::new();
            for (key, tf) in [
                (
                    "access_logs.s3.enabled",
                    &["access_logs", "0", "enabled"][..],
                ),
                (
                    "deletion_protection.enabled",
                    &["enable_deletion_protection"][..],
                ),
                (
                    "routing.http.drop_invalid_header_fields.enabled",
                    &["drop_invalid_header_fields"][..],
                ),
                (
                    "routing.http.desync_mitigation_mode",
                    &["desync_mitigation_mode"][..],
                ),
            ] {
                match c.get(tf) {
                    TfVal::Known(v) => attrs.push(json!({"key": key, "value": bool_str(v)})),
                    TfVal::Unknown => unknown.push(key),
                    TfVal::Absent => {}
                }
            }
            b.set(
                "supplementaryConfiguration.LoadBalancerAttributes",
                Value::Array(attrs),
            );
            b.sources.push((
                "supplementaryConfiguration.LoadBalancerAttributes".into(),
                c.address.clone(),
            ));
            if !unknown.is_empty() {
                b.unobserved(
                    "supplementaryConfiguration.LoadBalancerAttributes",
                    format!("{} known only after apply", unknown.join(", ")),
                );
            }
        }
        "aws_lb_listener" | "aws_alb_listener" => {
            b.same("configuration.Protocol", c, &["protocol"]);
            b.same("configuration.Port", c, &["port"]);
            b.put(
                "configuration.DefaultActions",
                c,
                &["default_action"],
                |v| {
                    Value::Array(list_of(Some(v)).iter().map(|a| json!({
                    "Type": a.get("type"),
                    "RedirectConfig": {"Protocol": a.pointer("/redirect/0/protocol")},
                })).collect())
                },
            );
        }
        "aws_ecr_repository" => {
            b.same("configuration.RepositoryName", c, &["name"]);
            b.same(
                "configuration.ImageScanningConfiguration.ScanOnPush",
                c,
                &["image_scanning_configuration", "0", "scan_on_push"],
            );
            b.same(
                "configuration.ImageTagMutability",
                c,
                &["image_tag_mutability"],
            );
            if let Some(l) = comp("aws_ecr_lifecycle_policy") {
                b.same(
                    "configuration.LifecyclePolicy.LifecyclePolicyText",
                    l,
                    &["policy"],
                );
            }
        }
        "aws_ecs_cluster" => {
            b.put("configuration.ClusterSettings", c, &["setting"], |v| {
                Value::Array(
                    list_of(Some(v))
                        .iter()
                        .map(|s| json!({"Name": s.get("name"), "Value": s.get("value")}))
                        .collect(),
                )
            });
        }
        "aws_ecs_service" => {
            b.same("configuration.LaunchType", c, &["launch_type"]);
            b.same("configuration.PlatformVersion", c, &["platform_version"]);
            b.put(
                "configuration.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp",
                c,
                &["network_configuration", "0", "assign_public_ip"],
                |v| {
                    json!(if v == &json!(true) {
                        "ENABLED"
                    } else {
                        "DISABLED"
                    })
                },
            );
        }
        "aws_ecs_task_definition" => {
            b.same("configuration.PidMode", c, &["pid_mode"]);
            b.put(
                "configuration.ContainerDefinitions",
                c,
                &["container_definitions"],
                |v| {
                    let parsed: Value = v
                        .as_str()
                        .and_then(|s| serde_json::from_str(s).ok())
                        .unwrap_or(Value::Array(vec![]));
                    crate::normalize::pascal(&parsed)
                },
            );
        }
        "aws_lambda_function" => {
            b.same("configuration.functionName", c, &["function_name"]);
            b.same("configuration.runtime", c, &["runtime"]);
            b.same(
                "configuration.vpcConfig.subnetIds",
                c,
                &["vpc_config", "0", "subnet_ids"],
            );
            b.put(
                "configuration.environment.variables",
                c,
                &["environment", "0", "variables"],
                Value::clone,
            );
            let perms: Vec<&&Change<'_>> = comps
                .iter()
                .filter(|x| x.rtype == "aws_lambda_permission")
                .collect();
            if !perms.is_empty() {
                let stmts: Vec<Value> = perms
                    .iter()
                    .map(|p| {
                        let principal = p.after.get("principal").cloned().unwrap_or(Value::Null);
                        let mut cond = Map::new();
                        if let Some(a) = p.after.get("source_arn").filter(|v| !v.is_null()) {
                            cond.insert("ArnLike".into(), json!({"AWS:SourceArn": a}));
                        }
                        if let Some(a) = p.after.get("source_account").filter(|v| !v.is_null()) {
                            cond.insert("StringEquals".into(), json!({"AWS:SourceAccount": a}));
                        }
                        let mut s = json!({"Effect": "Allow", "Action": p.after.get("action"), "Principal": if principal == json!("*") { json!("*") } else { json!({"Service": principal}) }});
                        if !cond.is_empty() {
                            s["Condition"] = Value::Object(cond);
                        }
                        s
                    })
                    .collect();
                b.set(
                    "supplementaryConfiguration.Policy",
                    Value::String(json!({"Version": "2012-10-17", "Statement": stmts}).to_string()),
                );
                b.sources.push((
                    "supplementaryConfiguration.Policy".into(),
                    perms
                        .iter()
                        .map(|p| p.address.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                ));
            }
        }
        "aws_iam_policy" => {
            b.put(
                "configuration.policyVersionList",
                c,
                &["policy"],
                |v| json!([{"document": v, "versionId": "v1", "isDefaultVersion": true}]),
            );
            b.same("configuration.policyName", c, &["name"]);
        }
        "aws_iam_user" => {
            b.same("configuration.userName", c, &["name"]);
            let attached: Vec<Value> = comps
                .iter()
                .filter(|x| x.rtype == "aws_iam_user_policy_attachment")
                .map(|x| json!({"policyName": x.after.get("policy_arn").and_then(Value::as_str).map(|a| a.rsplit('/').next().unwrap_or(a)), "policyArn": x.after.get("policy_arn")}))
                .collect();
            let inline: Vec<Value> = comps
                .iter()
                .filter(|x| x.rtype == "aws_iam_user_policy")
                .map(|x| json!({"policyName": x.after.get("name").cloned().unwrap_or(json!(x.address)), "policyDocument": x.after.get("policy")}))
                .collect();
            b.set(
                "configuration.attachedManagedPolicies",
                Value::Array(attached),
            );
            b.set("configuration.userPolicyList", Value::Array(inline));
            let keys: Vec<Value> = comps
                .iter()
                .filter(|x| x.rtype == "aws_iam_access_key")
                .map(|x| json!({"accessKeyId": x.address, "status": x.after.get("status").cloned().unwrap_or(json!("Active")), "createDate": chrono::Utc::now().to_rfc3339()}))
                .collect();
            b.set("supplementaryConfiguration.AccessKeys", Value::Array(keys));
            b.unobserved(
                "supplementaryConfiguration.MFADevices",
                "MFA devices are not managed by this plan".into(),
            );
        }
        "aws_cloudtrail" => {
            b.same("configuration.kmsKeyId", c, &["kms_key_id"]);
            b.same(
                "configuration.logFileValidationEnabled",
                c,
                &["enable_log_file_validation"],
            );
            b.same(
                "configuration.cloudWatchLogsLogGroupArn",
                c,
                &["cloud_watch_logs_group_arn"],
            );
            b.same(
                "configuration.isMultiRegionTrail",
                c,
                &["is_multi_region_trail"],
            );
        }
        "aws_kms_key" => {
            b.set("configuration.keyManager", json!("CUSTOMER"));
            b.set("configuration.keyState", json!("Enabled"));
            b.same("configuration.keySpec", c, &["customer_master_key_spec"]);
            b.same(
                "configuration.keyRotationEnabled",
                c,
                &["enable_key_rotation"],
            );
            if c.after
                .get("enable_key_rotation")
                .is_none_or(|v| v.is_null())
                && !matches!(c.get(&["enable_key_rotation"]), TfVal::Unknown)
            {
                b.set("configuration.keyRotationEnabled", json!(false));
            }
        }
        "aws_route53_zone" => {
            b.same("configuration.Name", c, &["name"]);
            b.put("configuration.VPCs", c, &["vpc"], Value::clone);
            if let Some(q) = comp("aws_route53_query_log") {
                b.same(
                    "configuration.QueryLoggingConfig.CloudWatchLogsLogGroupArn",
                    q,
                    &["cloudwatch_log_group_arn"],
                );
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf16_and_refuses_garbage() {
        let text = "{\"format_version\": \"1.1\", \"resource_changes\": []}";
        let mut b = vec![0xFF, 0xFE];
        for u in text.encode_utf16() {
            b.extend_from_slice(&u.to_le_bytes());
        }
        let p = parse_plan(&b, "p.json").unwrap();
        assert_eq!(p.encoding_note, Some("UTF-16LE"));
        assert!(
            parse_plan(&[0x80, 0x81], "p.json")
                .unwrap_err()
                .0
                .contains("neither UTF-8 nor UTF-16")
        );
        assert!(
            parse_plan(b"{\"format_version\": \"1.0\", \"values\": {}}", "p.json")
                .unwrap_err()
                .0
                .contains("state")
        );
        assert!(
            parse_plan(b"[1]", "p.json")
                .unwrap_err()
                .0
                .contains("JSON object")
        );
        assert!(
            parse_plan(b"{\"a\": ", "p.json")
                .unwrap_err()
                .0
                .starts_with("p.json:1:")
        );
    }

    #[test]
    fn strips_instance_keys() {
        assert_eq!(
            strip_indexes("module.a[0].aws_s3_bucket.b[\"x[1]\"]"),
            "module.a.aws_s3_bucket.b"
        );
    }
}
