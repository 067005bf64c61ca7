//! The resource: one asset, in the shape of an AWS Config configuration item.

use serde_json::{Map, Value};

use crate::arn::Arn;
use crate::path::{AttrPath, Segment, walk};
use crate::tags::Tags;

/// Part of a resource's configuration that its source could not see, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Unobserved {
    /// A path prefix, e.g. `supplementaryConfiguration.PublicAccessBlockConfiguration`, or
    /// `configuration` when nothing of the configuration was collected.
    pub path: String,
    /// Why, e.g. ``AccessDenied from `s3:GetBucketPublicAccessBlock` ``.
    pub reason: String,
}

/// One cloud resource. Every source normalises into this shape, so a check written once works
/// on live AWS, a Config snapshot, a Terraform plan and a Python dict.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// The ARN (or, for resources without one, a stable identifier in ARN form).
    pub arn: String,
    /// CloudFormation type name, e.g. `AWS::S3::Bucket`.
    pub resource_type: String,
    /// The service's id for the resource (`sg-…`, a bucket name, ...).
    pub resource_id: String,
    /// A human name, when the resource has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// The owning account (12 digits), or empty when unknown.
    pub account_id: String,
    /// The region, or `global`.
    pub aws_region: String,
    /// The tags the resource carries now.
    pub tags: Tags,
    /// The configuration document (AWS Config's `configuration`), `null` when not collected.
    pub configuration: Value,
    /// AWS Config's `supplementaryConfiguration`: extra documents keyed by name.
    pub supplementary_configuration: Map<String, Value>,
    /// When the source captured this state (RFC 3339), if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration_item_capture_time: Option<String>,
    /// When the resource was created (RFC 3339), if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_creation_time: Option<String>,
    /// Parts the source could not see: checks reading them report UNKNOWN.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unobserved: Vec<Unobserved>,
    /// Where the resource came from (e.g. `inventory.ndjson:12`), for messages.
    #[serde(skip)]
    pub origin: Option<String>,
    /// Where attributes came from in the source document, as (attribute path prefix, source
    /// attribute) pairs, e.g. (`configuration.storageEncrypted`,
    /// `aws_db_instance.main.storage_encrypted`) for a Terraform plan. Evidence names them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_paths: Vec<(String, String)>,
}

/// A value reached by a path: a JSON value of the configuration, or a string of the item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val<'a> {
    /// A JSON value.
    Json(&'a Value),
    /// A string field of the item or a tag value.
    Str(&'a str),
    /// The whole tag set.
    Tags(&'a Tags),
}

impl<'a> Val<'a> {
    /// The value as a string, when it is one.
    pub fn as_str(&self) -> Option<&'a str> {
        match self {
            Val::Str(s) => Some(s),
            Val::Json(Value::String(s)) => Some(s),
            _ => None,
        }
    }
    /// As JSON (owned), for evidence.
    pub fn to_json(&self) -> Value {
        match self {
            Val::Json(v) => (*v).clone(),
            Val::Str(s) => Value::String((*s).to_string()),
            Val::Tags(t) => serde_json::to_value(t).unwrap_or(Value::Null),
        }
    }
}

/// The result of resolving a path.
#[derive(Debug)]
pub enum Resolved<'a> {
    /// The values reached (empty when the attribute is absent).
    Values(Vec<Val<'a>>),
    /// The path reads something the source could not see.
    Unobserved(&'a Unobserved),
}

impl Resource {
    /// A resource with the given identity and nothing else.
    pub fn new(arn: impl Into<String>, resource_type: impl Into<String>) -> Resource {
        let arn = arn.into();
        let (resource_id, account_id, aws_region) = Arn::parse(&arn)
            .map(|a| {
                (
                    a.resource_id().to_string(),
                    a.account().unwrap_or_default().to_string(),
                    a.region().unwrap_or("global").to_string(),
                )
            })
            .unwrap_or_default();
        Resource::with_identity(
            arn,
            resource_type.into(),
            resource_id,
            account_id,
            aws_region,
        )
    }

    /// A resource whose id, account and region are known (not read from the ARN).
    pub(crate) fn with_identity(
        arn: String,
        resource_type: String,
        resource_id: String,
        account_id: String,
        aws_region: String,
    ) -> Resource {
        Resource {
            arn,
            resource_type,
            resource_id,
            resource_name: None,
            account_id,
            aws_region,
            tags: Tags::new(),
            configuration: Value::Object(Map::new()),
            supplementary_configuration: Map::new(),
            configuration_item_capture_time: None,
            resource_creation_time: None,
            unobserved: Vec::new(),
            origin: None,
            source_paths: Vec::new(),
        }
    }

    /// The name to show people: the resource name, else the id.
    pub fn display_name(&self) -> &str {
        self.resource_name.as_deref().unwrap_or(&self.resource_id)
    }

    /// Records that the source could not see `path`.
    pub fn mark_unobserved(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.unobserved.push(Unobserved {
            path: path.into(),
            reason: reason.into(),
        });
    }

    /// The first unobserved part that `path` reads, if any.
    pub fn unobserved_for(&self, path: &AttrPath) -> Option<&Unobserved> {
        self.unobserved.iter().find(|u| path.overlaps(&u.path))
    }

    /// Resolves `path` with `tags` standing for the resource's tags (the engine passes the tags
    /// the resource will carry once its tag plan is applied when evaluating classification scopes).
    pub fn resolve_with<'a>(&'a self, path: &AttrPath, tags: &'a Tags) -> Resolved<'a> {
        if let Some(u) = self.unobserved_for(path) {
            return Resolved::Unobserved(u);
        }
        let segs = path.segments();
        let Some(Segment::Key(root)) = segs.first() else {
            return Resolved::Values(Vec::new());
        };
        let rest = &segs[1..];
        let scalar = |s: &'a str| {
            if rest.is_empty() {
                vec![Val::Str(s)]
            } else {
                Vec::new()
            }
        };
        let vals = match root.as_str() {
            "arn" => scalar(&self.arn),
            "resourceType" => scalar(&self.resource_type),
            "resourceId" => scalar(&self.resource_id),
            "resourceName" => match &self.resource_name {
                Some(n) => scalar(n),
                None => Vec::new(),
            },
            "accountId" => scalar(&self.account_id),
            "awsRegion" => scalar(&self.aws_region),
            "tags" => match rest {
                [] => vec![Val::Tags(tags)],
                [Segment::Key(k)] => tags.get(k).map(|v| vec![Val::Str(v)]).unwrap_or_default(),
                [Segment::Any] => tags.values().map(|v| Val::Str(v)).collect(),
                _ => Vec::new(),
            },
            "configuration" => {
                let mut out = Vec::new();
                walk(&self.configuration, rest, &mut out);
                out.into_iter().map(Val::Json).collect()
            }
            "supplementaryConfiguration" => {
                let mut out = Vec::new();
                match rest.split_first() {
                    None => {}
                    Some((Segment::Key(k), tail)) => {
                        if let Some(v) = self.supplementary_configuration.get(k) {
                            walk(v, tail, &mut out);
                        }
                    }
                    Some((Segment::Any, tail)) => {
                        for v in self.supplementary_configuration.values() {
                            walk(v, tail, &mut out);
                        }
                    }
                    Some(_) => {}
                }
                out.into_iter().map(Val::Json).collect()
            }
            _ => Vec::new(),
        };
        Resolved::Values(vals)
    }

    /// Resolves `path` against the resource's own tags.
    pub fn resolve<'a>(&'a self, path: &AttrPath) -> Resolved<'a> {
        self.resolve_with(path, &self.tags)
    }

    /// A configuration value by a dotted key path (no wildcards), for checks written in Rust.
    pub fn config(&self, keys: &[&str]) -> Option<&Value> {
        let mut v = &self.configuration;
        for k in keys {
            v = v.get(k)?;
        }
        Some(v)
    }

    /// A supplementary configuration value by key path.
    pub fn supplementary(&self, keys: &[&str]) -> Option<&Value> {
        let (first, rest) = keys.split_first()?;
        let mut v = self.supplementary_configuration.get(*first)?;
        for k in rest {
            v = v.get(k)?;
        }
        Some(v)
    }

    /// The source attribute an evidence path came from (the longest matching prefix).
    pub fn source_of(&self, path: &str) -> Option<String> {
        self.source_paths
            .iter()
            .filter(|(p, _)| {
                path == p
                    || (path.starts_with(p.as_str())
                        && matches!(path.as_bytes().get(p.len()), Some(b'.') | Some(b'[')))
            })
            .max_by_key(|(p, _)| p.len())
            .map(|(_, src)| src.clone())
            .or_else(|| {
                // Evidence about a whole document whose parts came from the source.
                let mut parts: Vec<&str> = self
                    .source_paths
                    .iter()
                    .filter(|(p, _)| {
                        p.starts_with(path)
                            && matches!(p.as_bytes().get(path.len()), Some(b'.') | Some(b'['))
                    })
                    .map(|(_, s)| s.as_str())
                    .collect();
                parts.dedup();
                (!parts.is_empty()).then(|| parts.join(", "))
            })
    }

    /// The first unobserved entry at or under/over a path given as text.
    pub fn unobserved_text(&self, path: &str) -> Option<&Unobserved> {
        let p = AttrPath::parse(path).ok()?;
        self.unobserved_for(&p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resolves_roots_and_marks() {
        let mut r = Resource::new("arn:aws:s3:::b", "AWS::S3::Bucket");
        assert_eq!(r.resource_id, "b");
        assert_eq!(r.aws_region, "global");
        r.tags.insert("Owner".into(), "alice".into());
        r.configuration = json!({"name": "b"});
        r.supplementary_configuration
            .insert("X".into(), json!({"a": [1, 2]}));
        let p = AttrPath::parse("supplementaryConfiguration.X.a[*]").unwrap();
        match r.resolve(&p) {
            Resolved::Values(v) => assert_eq!(v.len(), 2),
            other => panic!("{other:?}"),
        }
        let p = AttrPath::parse("tags.Owner").unwrap();
        match r.resolve(&p) {
            Resolved::Values(v) => assert_eq!(v[0].as_str(), Some("alice")),
            other => panic!("{other:?}"),
        }
        r.mark_unobserved("supplementaryConfiguration.X", "AccessDenied");
        let p = AttrPath::parse("supplementaryConfiguration.X.a").unwrap();
        assert!(matches!(r.resolve(&p), Resolved::Unobserved(_)));
    }
}
