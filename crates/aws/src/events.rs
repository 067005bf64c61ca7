//! CloudTrail creation events: which resources an API call created, and who made it.
//!
//! Accepts an EventBridge "AWS API Call via CloudTrail" envelope, a bare CloudTrail record, or
//! a CloudTrail log file (`{"Records": [...]}`). Calls that failed (`errorCode`) created
//! nothing and are ignored.

use assetwarden_core::classify::CreationEvent;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// A resource an event created.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Created {
    /// Its ARN.
    pub arn: String,
    /// Its CloudFormation type.
    pub resource_type: String,
    /// Its region (`global` for IAM, Route 53).
    pub region: String,
    /// Its account.
    pub account: String,
}

/// What one CloudTrail record says.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CreationRecord {
    /// CloudTrail's event id (for deduplicating repeated deliveries).
    pub event_id: Option<String>,
    /// The API call.
    pub event_name: String,
    /// The service, e.g. `ec2.amazonaws.com`.
    pub event_source: String,
    /// The resources created.
    pub created: Vec<Created>,
    /// Who created them, and when.
    pub creator: CreationEvent,
    /// The principal's session name, for assumed roles.
    pub session_name: Option<String>,
    /// The role behind an assumed-role session.
    pub role_arn: Option<String>,
    /// `sourceIdentity` set on the session, if any.
    pub source_identity: Option<String>,
}

/// Why an event was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not JSON, or not a CloudTrail record.
    #[error("{0}")]
    Invalid(String),
}

/// The CloudTrail records inside an event document (envelope, bare record or log file).
pub fn records(doc: &Value) -> Result<Vec<&Value>, EventError> {
    if let Some(rs) = doc.get("Records").and_then(Value::as_array) {
        return Ok(rs.iter().collect());
    }
    if let Some(d) = doc.get("detail").filter(|d| d.is_object()) {
        let dt = doc.get("detail-type").and_then(Value::as_str).unwrap_or("");
        if !dt.is_empty() && !dt.contains("via CloudTrail") {
            return Err(EventError::Invalid(format!(
                "an EventBridge event of type `{dt}`, not a CloudTrail API call"
            )));
        }
        return Ok(vec![d]);
    }
    if doc.get("eventName").is_some() {
        return Ok(vec![doc]);
    }
    Err(EventError::Invalid(
        "neither an EventBridge CloudTrail event, a CloudTrail record nor a CloudTrail log file (no `detail`, `eventName` or `Records`)".into(),
    ))
}

fn st<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

fn partition_of(record: &Value, region: &str) -> String {
    st(record, &["userIdentity", "arn"])
        .and_then(|a| a.split(':').nth(1))
        .filter(|p| p.starts_with("aws"))
        .map(str::to_string)
        .unwrap_or_else(|| crate::util::partition_of(region).to_string())
}

/// Who made the call.
pub fn creator(
    record: &Value,
) -> (
    CreationEvent,
    Option<String>,
    Option<String>,
    Option<String>,
) {
    let ui = record.get("userIdentity").cloned().unwrap_or(Value::Null);
    let kind = st(&ui, &["type"]).unwrap_or("Unknown").to_string();
    let arn = st(&ui, &["arn"]).map(str::to_string);
    let time = st(record, &["eventTime"])
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let event_name = st(record, &["eventName"]).map(str::to_string);
    let source_identity = st(&ui, &["sessionContext", "sourceIdentity"]).map(str::to_string);
    let mut session_name = None;
    let mut role_arn = None;
    let (name, kind) = match kind.as_str() {
        "IAMUser" => (st(&ui, &["userName"]).map(str::to_string), kind),
        "AssumedRole" => {
            session_name = arn
                .as_deref()
                .and_then(|a| a.rsplit('/').next())
                .map(str::to_string);
            role_arn = st(&ui, &["sessionContext", "sessionIssuer", "arn"]).map(str::to_string);
            let role_name = st(&ui, &["sessionContext", "sessionIssuer", "userName"]).unwrap_or("");
            let kind = if role_name.starts_with("AWSReservedSSO_") {
                "SSOUser".to_string()
            } else {
                kind
            };
            (
                source_identity.clone().or_else(|| session_name.clone()),
                kind,
            )
        }
        "FederatedUser" => (
            arn.as_deref()
                .and_then(|a| a.rsplit('/').next())
                .map(str::to_string)
                .or_else(|| {
                    st(&ui, &["sessionContext", "sessionIssuer", "userName"]).map(str::to_string)
                }),
            kind,
        ),
        "Root" => (Some("root".into()), kind),
        "AWSService" => (st(&ui, &["invokedBy"]).map(str::to_string), kind),
        "AWSAccount" => (
            st(&ui, &["accountId"]).map(|a| format!("account {a}")),
            kind,
        ),
        // Identity Center users signing in show as `Unknown` with a user name.
        _ => (st(&ui, &["userName"]).map(str::to_string), kind),
    };
    (
        CreationEvent {
            creator_arn: arn.or_else(|| role_arn.clone()),
            creator_name: name,
            creator_type: Some(kind),
            time,
            event_name,
        },
        session_name,
        role_arn,
        source_identity,
    )
}

/// Reads one CloudTrail record. `Ok(None)`: not a creation this tool handles, or a failed call.
pub fn creation(record: &Value) -> Result<Option<CreationRecord>, EventError> {
    let event_name = st(record, &["eventName"])
        .ok_or_else(|| EventError::Invalid("the record has no `eventName`".into()))?
        .to_string();
    let event_source = st(record, &["eventSource"]).unwrap_or("").to_string();
    if record.get("errorCode").is_some_and(|e| !e.is_null()) {
        return Ok(None);
    }
    let region = st(record, &["awsRegion"])
        .unwrap_or("us-east-1")
        .to_string();
    let account = st(record, &["recipientAccountId"])
        .or_else(|| st(record, &["userIdentity", "accountId"]))
        .unwrap_or("")
        .to_string();
    let p = partition_of(record, &region);
    let req = record
        .get("requestParameters")
        .cloned()
        .unwrap_or(Value::Null);
    let resp = record
        .get("responseElements")
        .cloned()
        .unwrap_or(Value::Null);
    let mut created = Vec::new();
    let mut add = |arn: String, t: &str, global: bool| {
        created.push(Created {
            arn,
            resource_type: t.to_string(),
            region: if global {
                "global".into()
            } else {
                region.clone()
            },
            account: account.clone(),
        })
    };
    let svc = event_source.trim_end_matches(".amazonaws.com");
    let r = &region;
    let a = &account;
    match (svc, event_name.as_str()) {
        ("s3", "CreateBucket") => {
            if let Some(b) = st(&req, &["bucketName"]) {
                add(format!("arn:{p}:s3:::{b}"), "AWS::S3::Bucket", false);
            }
        }
        ("ec2", "RunInstances") => {
            for i in resp
                .pointer("/instancesSet/items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(id) = st(i, &["instanceId"]) {
                    add(
                        format!("arn:{p}:ec2:{r}:{a}:instance/{id}"),
                        "AWS::EC2::Instance",
                        false,
                    );
                }
            }
        }
        ("ec2", "CreateSecurityGroup") => {
            if let Some(id) = st(&resp, &["groupId"]) {
                add(
                    st(&resp, &["securityGroupArn"])
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("arn:{p}:ec2:{r}:{a}:security-group/{id}")),
                    "AWS::EC2::SecurityGroup",
                    false,
                );
            }
        }
        ("ec2", "CreateVolume") => {
            if let Some(id) = st(&resp, &["volumeId"]) {
                add(
                    format!("arn:{p}:ec2:{r}:{a}:volume/{id}"),
                    "AWS::EC2::Volume",
                    false,
                );
            }
        }
        ("ec2", "CreateVpc") => {
            if let Some(id) = st(&resp, &["vpc", "vpcId"]) {
                add(
                    format!("arn:{p}:ec2:{r}:{a}:vpc/{id}"),
                    "AWS::EC2::VPC",
                    false,
                );
            }
        }
        ("ec2", "CreateSubnet") => {
            if let Some(id) = st(&resp, &["subnet", "subnetId"]) {
                add(
                    format!("arn:{p}:ec2:{r}:{a}:subnet/{id}"),
                    "AWS::EC2::Subnet",
                    false,
                );
            }
        }
        ("rds", "CreateDBInstance") => {
            let arn = st(&resp, &["dBInstanceArn"])
                .map(str::to_string)
                .or_else(|| {
                    st(&req, &["dBInstanceIdentifier"])
                        .map(|id| format!("arn:{p}:rds:{r}:{a}:db:{id}"))
                });
            if let Some(arn) = arn {
                add(arn, "AWS::RDS::DBInstance", false);
            }
        }
        ("rds", "CreateDBCluster") => {
            let arn = st(&resp, &["dBClusterArn"])
                .map(str::to_string)
                .or_else(|| {
                    st(&req, &["dBClusterIdentifier"])
                        .map(|id| format!("arn:{p}:rds:{r}:{a}:cluster:{id}"))
                });
            if let Some(arn) = arn {
                add(arn, "AWS::RDS::DBCluster", false);
            }
        }
        ("lambda", n) if n.starts_with("CreateFunction") => {
            let arn = st(&resp, &["functionArn"]).map(str::to_string).or_else(|| {
                st(&req, &["functionName"]).map(|f| {
                    if f.starts_with("arn:") {
                        f.to_string()
                    } else {
                        format!("arn:{p}:lambda:{r}:{a}:function:{f}")
                    }
                })
            });
            if let Some(arn) = arn {
                add(arn, "AWS::Lambda::Function", false);
            }
        }
        ("elasticloadbalancing", "CreateLoadBalancer") => {
            let v2 = resp.get("loadBalancers").and_then(Value::as_array);
            match v2 {
                Some(lbs) => {
                    for lb in lbs {
                        if let Some(arn) = st(lb, &["loadBalancerArn"]) {
                            add(
                                arn.to_string(),
                                "AWS::ElasticLoadBalancingV2::LoadBalancer",
                                false,
                            );
                        }
                    }
                }
                None => {
                    if let Some(n) = st(&req, &["loadBalancerName"]) {
                        add(
                            format!("arn:{p}:elasticloadbalancing:{r}:{a}:loadbalancer/{n}"),
                            "AWS::ElasticLoadBalancing::LoadBalancer",
                            false,
                        );
                    }
                }
            }
        }
        ("ecr", "CreateRepository") => {
            let arn = st(&resp, &["repository", "repositoryArn"])
                .map(str::to_string)
                .or_else(|| {
                    st(&req, &["repositoryName"])
                        .map(|n| format!("arn:{p}:ecr:{r}:{a}:repository/{n}"))
                });
            if let Some(arn) = arn {
                add(arn, "AWS::ECR::Repository", false);
            }
        }
        ("ecs", "CreateCluster") => {
            let arn = st(&resp, &["cluster", "clusterArn"])
                .map(str::to_string)
                .or_else(|| {
                    st(&req, &["clusterName"]).map(|n| format!("arn:{p}:ecs:{r}:{a}:cluster/{n}"))
                });
            if let Some(arn) = arn {
                add(arn, "AWS::ECS::Cluster", false);
            }
        }
        ("ecs", "CreateService") => {
            if let Some(arn) = st(&resp, &["service", "serviceArn"]) {
                add(arn.to_string(), "AWS::ECS::Service", false);
            }
        }
        ("ecs", "RegisterTaskDefinition") => {
            if let Some(arn) = st(&resp, &["taskDefinition", "taskDefinitionArn"]) {
                add(arn.to_string(), "AWS::ECS::TaskDefinition", false);
            }
        }
        ("route53", "CreateHostedZone") => {
            if let Some(id) = st(&resp, &["hostedZone", "id"]) {
                let id = id.trim_start_matches("/hostedzone/");
                add(
                    format!("arn:{p}:route53:::hostedzone/{id}"),
                    "AWS::Route53::HostedZone",
                    true,
                );
            }
        }
        ("dynamodb", "CreateTable") => {
            let arn = st(&resp, &["tableDescription", "tableArn"])
                .map(str::to_string)
                .or_else(|| {
                    st(&req, &["tableName"]).map(|n| format!("arn:{p}:dynamodb:{r}:{a}:table/{n}"))
                });
            if let Some(arn) = arn {
                add(arn, "AWS::DynamoDB::Table", false);
            }
        }
        ("iam", "CreateRole") => {
            let arn = st(&resp, &["role", "arn"])
                .map(str::to_string)
                .or_else(|| st(&req, &["roleName"]).map(|n| format!("arn:{p}:iam::{a}:role/{n}")));
            if let Some(arn) = arn {
                add(arn, "AWS::IAM::Role", true);
            }
        }
        ("iam", "CreateUser") => {
            let arn = st(&resp, &["user", "arn"])
                .map(str::to_string)
                .or_else(|| st(&req, &["userName"]).map(|n| format!("arn:{p}:iam::{a}:user/{n}")));
            if let Some(arn) = arn {
                add(arn, "AWS::IAM::User", true);
            }
        }
        ("kms", "CreateKey") => {
            if let Some(arn) = st(&resp, &["keyMetadata", "arn"]) {
                add(arn.to_string(), "AWS::KMS::Key", false);
            }
        }
        ("cloudtrail", "CreateTrail") => {
            if let Some(arn) = st(&resp, &["trailARN"]) {
                add(arn.to_string(), "AWS::CloudTrail::Trail", false);
            }
        }
        _ => return Ok(None),
    }
    if created.is_empty() {
        return Err(EventError::Invalid(format!(
            "a `{event_name}` record without the created resource's id (requestParameters/responseElements missing)"
        )));
    }
    let (creator, session_name, role_arn, source_identity) = creator(record);
    Ok(Some(CreationRecord {
        event_id: st(record, &["eventID"]).map(str::to_string),
        event_name,
        event_source,
        created,
        creator,
        session_name,
        role_arn,
        source_identity,
    }))
}

/// The creation events this module understands, as (event source, event name) — for the
/// EventBridge rule.
pub const HANDLED: &[(&str, &str)] = &[
    ("s3.amazonaws.com", "CreateBucket"),
    ("ec2.amazonaws.com", "RunInstances"),
    ("ec2.amazonaws.com", "CreateSecurityGroup"),
    ("ec2.amazonaws.com", "CreateVolume"),
    ("ec2.amazonaws.com", "CreateVpc"),
    ("ec2.amazonaws.com", "CreateSubnet"),
    ("rds.amazonaws.com", "CreateDBInstance"),
    ("rds.amazonaws.com", "CreateDBCluster"),
    ("lambda.amazonaws.com", "CreateFunction20150331"),
    ("elasticloadbalancing.amazonaws.com", "CreateLoadBalancer"),
    ("ecr.amazonaws.com", "CreateRepository"),
    ("ecs.amazonaws.com", "CreateCluster"),
    ("ecs.amazonaws.com", "CreateService"),
    ("ecs.amazonaws.com", "RegisterTaskDefinition"),
    ("route53.amazonaws.com", "CreateHostedZone"),
    ("dynamodb.amazonaws.com", "CreateTable"),
    ("iam.amazonaws.com", "CreateRole"),
    ("iam.amazonaws.com", "CreateUser"),
    ("kms.amazonaws.com", "CreateKey"),
    ("cloudtrail.amazonaws.com", "CreateTrail"),
];
