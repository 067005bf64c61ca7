//! The remediations of the core's catalogue on the AWS SDK for Rust, and the re-check after a
//! change (the resource read again and judged by the engine).
//!
//! Each remediator reads the one value it changes as a small JSON document, and writes a
//! document of the same shape: the desired one on apply, the one read before on rollback. Every
//! read refuses a target in another account than the caller's, so credentials for one account
//! can never change another's resources by a finding's ARN.

use std::collections::BTreeMap;
use std::sync::Arc;

use assetwarden_core::finding::{Finding, Status};
use assetwarden_core::normalize::RawContext;
use assetwarden_core::remediate::{
    Recheck, RemediationError, RemediationSpec, Remediator, Target, catalog,
};
use assetwarden_core::{Arn, Engine};
use async_trait::async_trait;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::{Value, json};

use crate::inventory::{regional, s3_client};
use crate::util::failure;

fn err<E, R>(
    op: &str,
    e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> RemediationError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let f = failure(op, e);
    RemediationError::new(f.code, format!("`{}`: {}", f.operation, f.message))
}

fn spec(id: &str) -> &'static RemediationSpec {
    // The ids below are the catalogue's; a missing one is a programming error caught by the
    // unit test `every_catalogue_entry_is_implemented`, and falls back to the first entry.
    catalog()
        .iter()
        .find(|s| s.id == id)
        .unwrap_or(&catalog()[0])
}

/// The last part of an ARN's resource (`db:orders` → `orders`, `user/ops/alice` → `alice`).
fn resource_name(arn: &str) -> String {
    Arn::parse(arn)
        .map(|a| a.resource_id().to_string())
        .unwrap_or_else(|_| arn.to_string())
        .rsplit(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_string()
}

struct Ctx {
    sdk: aws_config::SdkConfig,
    account: String,
}

impl Ctx {
    fn check_account(&self, t: &Target) -> Result<(), RemediationError> {
        if !t.account_id.is_empty() && t.account_id != self.account {
            return Err(RemediationError::new(
                "other-account",
                format!(
                    "{} is in account {}, these credentials are for {}: run with that account's credentials",
                    t.arn, t.account_id, self.account
                ),
            ));
        }
        Ok(())
    }
    fn region(&self, t: &Target) -> String {
        if t.region.is_empty() || t.region == "global" {
            "us-east-1".into()
        } else {
            t.region.clone()
        }
    }
    fn cfg(&self, t: &Target) -> aws_config::SdkConfig {
        regional(&self.sdk, &self.region(t))
    }
}

/// Every remediation of the catalogue, for the caller's account.
pub async fn remediators(
    sdk: &aws_config::SdkConfig,
) -> Result<Vec<Arc<dyn Remediator>>, crate::util::ApiFailure> {
    let (account, _) = crate::util::caller_account(sdk).await?;
    let c = Arc::new(Ctx {
        sdk: sdk.clone(),
        account,
    });
    Ok(vec![
        Arc::new(S3PublicAccessBlock(c.clone())),
        Arc::new(S3Encryption(c.clone())),
        Arc::new(SgAdminPorts(c.clone())),
        Arc::new(EbsDefaultEncryption(c.clone())),
        Arc::new(RdsPublic(c.clone())),
        Arc::new(KmsRotation(c.clone())),
        Arc::new(TrailValidation(c.clone())),
        Arc::new(EcrScanOnPush(c.clone())),
        Arc::new(IamOldKeys(c)),
    ])
}

/// A boolean to set to `want`.
fn flag(current: &Value, key: &str, want: bool) -> Option<Value> {
    (current.get(key) != Some(&json!(want))).then(|| json!({ key: want }))
}

fn want_bool(v: &Value, key: &str) -> Result<bool, RemediationError> {
    v.get(key).and_then(Value::as_bool).ok_or_else(|| {
        RemediationError::new(
            "invalid",
            format!("the value to write has no boolean `{key}`: {v}"),
        )
    })
}

// ---- S3 Block Public Access ----

struct S3PublicAccessBlock(Arc<Ctx>);

const PAB_KEYS: [&str; 4] = [
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
];

#[async_trait]
impl Remediator for S3PublicAccessBlock {
    fn spec(&self) -> &'static RemediationSpec {
        spec("aws.s3.block-public-access")
    }
    async fn read(&self, t: &Target) -> Result<Value, RemediationError> {
        self.0.check_account(t)?;
        let s3 = s3_client(&self.0.sdk, &self.0.region(t));
        match s3
            .get_public_access_block()
            .bucket(resource_name(&t.arn))
            .send()
            .await
        {
            Ok(o) => {
                let c = o.public_access_block_configuration();
                Ok(json!({
                    "BlockPublicAcls": c.and_then(|c| c.block_public_acls()).unwrap_or(false),
                    "IgnorePublicAcls": c.and_then(|c| c.ignore_public_acls()).unwrap_or(false),
                    "BlockPublicPolicy": c.and_then(|c| c.block_public_policy()).unwrap_or(false),
                    "RestrictPublicBuckets": c.and_then(|c| c.restrict_public_buckets()).unwrap_or(false),
                }))
            }
            Err(e) => {
                let f = err("s3:GetPublicAccessBlock", &e);
                if f.code == "NoSuchPublicAccessBlockConfiguration" {
                    Ok(Value::Null)
                } else {
                    Err(f)
                }
            }
        }
    }
    fn desired(&self, current: &Value, _: &[&Finding]) -> Result<Option<Value>, String> {
        let all: serde_json::Map<String, Value> = PAB_KEYS
            .iter()
            .map(|k| (k.to_string(), json!(true)))
            .collect();
        let all = Value::Object(all);
        Ok((current != &all).then_some(all))
    }
    async fn write(&self, t: &Target, v: &Value) -> Result<(), RemediationError> {
        self.0.check_account(t)?;
        let s3 = s3_client(&self.0.sdk, &self.0.region(t));
        let bucket = resource_name(&t.arn);
        if v.is_null() {
            return s3
                .delete_public_access_block()
                .bucket(bucket)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| err("s3:DeletePublicAccessBlock", &e));
        }
        let b = |k: &str| want_bool(v, k);
        let cfg = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(b("BlockPublicAcls")?)
            .ignore_public_acls(b("IgnorePublicAcls")?)
            .block_public_policy(b("BlockPublicPolicy")?)
            .restrict_public_buckets(b("RestrictPublicBuckets")?)
            .build();
        s3.put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(cfg)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| err("s3:PutPublicAccessBlock", &e))
    }
}

// ---- S3 default encryption ----

struct S3Encryption(Arc<Ctx>);

#[async_trait]
impl Remediator for S3Encryption {
    fn spec(&self) -> &'static RemediationSpec {
        spec("aws.s3.default-encryption")
    }
    async fn read(&self, t: &Target) -> Result<Value, RemediationError> {
        self.0.check_account(t)?;
        let s3 = s3_client(&self.0.sdk, &self.0.region(t));
        match s3
            .get_bucket_encryption()
            .bucket(resource_name(&t.arn))
            .send()
            .await
        {
            Ok(o) => {
                let rules: Vec<Value> = o
                    .server_side_encryption_configuration()
                    .map(|c| c.rules())
                    .unwrap_or_default()
                    .iter()
                    .map(|r| {
                        let d = r.apply_server_side_encryption_by_default();
                        json!({
                            "SSEAlgorithm": d.map(|d| d.sse_algorithm().as_str()),
                            "KMSMasterKeyID": d.and_then(|d| d.kms_master_key_id()),
                            "BucketKeyEnabled": r.bucket_key_enabled().unwrap_or(false),
                        })
                    })
                    .collect();
                Ok(if rules.is_empty() {
                    Value::Null
                } else {
                    json!({ "Rules": rules })
                })
            }
            Err(e) => {
                let f = err("s3:GetBucketEncryption", &e);
                if f.code == "ServerSideEncryptionConfigurationNotFoundError" {
                    Ok(Value::Null)
                } else {
                    Err(f)
                }
            }
        }
    }
    fn desired(&self, current: &Value, _: &[&Finding]) -> Result<Option<Value>, String> {
        if current.is_null() {
            Ok(Some(
                json!({"Rules": [{"SSEAlgorithm": "AES256", "KMSMasterKeyID": null, "BucketKeyEnabled": false}]}),
            ))
        } else {
            Ok(None)
        }
    }
    async fn write(&self, t: &Target, v: &Value) -> Result<(), RemediationError> {
        use aws_sdk_s3::types::{
            ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
            ServerSideEncryptionRule,
        };
        self.0.check_account(t)?;
        let s3 = s3_client(&self.0.sdk, &self.0.region(t));
        let bucket = resource_name(&t.arn);
        if v.is_null() {
            return s3
                .delete_bucket_encryption()
                .bucket(bucket)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| err("s3:DeleteBucketEncryption", &e));
        }
        let invalid = |m: String| RemediationError::new("invalid", m);
        let mut cfg = ServerSideEncryptionConfiguration::builder();
        for r in v
            .get("Rules")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            let alg = r
                .get("SSEAlgorithm")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(format!("a rule without `SSEAlgorithm`: {r}")))?;
            let d = ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::from(alg))
                .set_kms_master_key_id(
                    r.get("KMSMasterKeyID")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                )
                .build()
                .map_err(|e| invalid(e.to_string()))?;
            cfg = cfg.rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(d)
                    .set_bucket_key_enabled(r.get("BucketKeyEnabled").and_then(Value::as_bool))
                    .build(),
            );
        }
        s3.put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(cfg.build().map_err(|e| invalid(e.to_string()))?)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| err("s3:PutBucketEncryption", &e))
    }
}

// ---- Security groups: SSH and RDP from the internet ----

struct SgAdminPorts(Arc<Ctx>);

const INTERNET: [&str; 2] = ["0.0.0.0/0", "::/0"];

fn admin_port(check: &str) -> Option<i32> {
    match check {
        "aws.ec2.sg-no-ssh-from-internet" => Some(22),
        "aws.ec2.sg-no-rdp-from-internet" => Some(3389),
        _ => None,
    }
}

#[async_trait]
impl Remediator for SgAdminPorts {
    fn spec(&self) -> &'static RemediationSpec {
        spec("aws.ec2.revoke-admin-ports-from-internet")
    }
    /// `{"open": [exact tcp/22 or tcp/3389 rules from the internet], "wide": [wider rules that
    /// reach 22 or 3389 from the internet, described]}`.
    async fn read(&self, t: &Target) -> Result<Value, RemediationError> {
        self.0.check_account(t)?;
        let ec2 = aws_sdk_ec2::Client::new(&self.0.cfg(t));
        let o = ec2
            .describe_security_groups()
            .group_ids(resource_name(&t.arn))
            .send()
            .await
            .map_err(|e| err("ec2:DescribeSecurityGroups", &e))?;
        let Some(g) = o.security_groups().first() else {
            return Err(RemediationError::new(
                "not-found",
                format!("{} does not exist", t.arn),
            ));
        };
        let mut open = Vec::new();
        let mut wide = Vec::new();
        for p in g.ip_permissions() {
            let proto = p.ip_protocol().unwrap_or_default();
            let (from, to) = (p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1));
            let cidrs: Vec<String> = p
                .ip_ranges()
                .iter()
                .filter_map(|r| r.cidr_ip().map(str::to_string))
                .chain(
                    p.ipv6_ranges()
                        .iter()
                        .filter_map(|r| r.cidr_ipv6().map(str::to_string)),
                )
                .filter(|c| INTERNET.contains(&c.as_str()))
                .collect();
            for c in cidrs {
                for port in [22, 3389] {
                    let all = proto == "-1";
                    let reaches =
                        all || ((proto == "tcp" || proto == "6") && from <= port && port <= to);
                    if !reaches {
                        continue;
                    }
                    if !all && from == port && to == port {
                        open.push(json!({"port": port, "cidr": c}));
                    } else {
                        wide.push(json!({"port": port, "cidr": c, "rule": format!("{proto} {from}-{to}")}));
                    }
                }
            }
        }
        Ok(json!({"open": open, "wide": wide}))
    }
    fn desired(&self, current: &Value, findings: &[&Finding]) -> Result<Option<Value>, String> {
        let ports: Vec<i32> = findings
            .iter()
            .filter_map(|f| admin_port(&f.check_id))
            .collect();
        let open = current
            .get("open")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let keep: Vec<Value> = open
            .iter()
            .filter(|r| {
                !r.get("port")
                    .and_then(Value::as_i64)
                    .is_some_and(|p| ports.contains(&(p as i32)))
            })
            .cloned()
            .collect();
        if keep.len() == open.len() {
            let wide = current
                .get("wide")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if wide.is_empty() {
                return Ok(None);
            }
            return Err(format!(
                "the internet reaches the port through wider rules only ({}); revoking them would close other ports",
                wide.iter()
                    .filter_map(|w| w.get("rule").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(Some(
            json!({"open": keep, "wide": current.get("wide").cloned().unwrap_or(json!([]))}),
        ))
    }
    async fn write(&self, t: &Target, v: &Value) -> Result<(), RemediationError> {
        use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range};
        let current = self.read(t).await?;
        let list = |x: &Value| {
            x.get("open")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let (now, want) = (list(&current), list(v));
        let perm = |r: &Value| {
            let port = r.get("port").and_then(Value::as_i64).unwrap_or(-1) as i32;
            let cidr = r
                .get("cidr")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let b = IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(port)
                .to_port(port);
            if cidr.contains(':') {
                b.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).build())
                    .build()
            } else {
                b.ip_ranges(IpRange::builder().cidr_ip(cidr).build())
                    .build()
            }
        };
        let ec2 = aws_sdk_ec2::Client::new(&self.0.cfg(t));
        let id = resource_name(&t.arn);
        let revoke: Vec<IpPermission> =
            now.iter().filter(|r| !want.contains(r)).map(perm).collect();
        if !revoke.is_empty() {
            ec2.revoke_security_group_ingress()
                .group_id(&id)
                .set_ip_permissions(Some(revoke))
                .send()
                .await
                .map_err(|e| err("ec2:RevokeSecurityGroupIngress", &e))?;
        }
        let grant: Vec<IpPermission> = want.iter().filter(|r| !now.contains(r)).map(perm).collect();
        if !grant.is_empty() {
            ec2.authorize_security_group_ingress()
                .group_id(&id)
                .set_ip_permissions(Some(grant))
                .send()
                .await
                .map_err(|e| err("ec2:AuthorizeSecurityGroupIngress", &e))?;
        }
        Ok(())
    }
}

// ---- EBS encryption by default (account and region) ----

struct EbsDefaultEncryption(Arc<Ctx>);

#[async_trait]
impl Remediator for EbsDefaultEncryption {
    fn spec(&self) -> &'static RemediationSpec {
        spec("aws.ec2.ebs-default-encryption")
    }
    fn target(&self, f: &Finding) -> Target {
        let r = &f.resource;
        Target {
            arn: format!(
                "arn:aws:ec2:{}:{}:ebs-encryption-by-default",
                r.region, r.account_id
            ),
            resource_type: "AWS::EC2::EBSEncryptionByDefault".into(),
            account_id: r.account_id.clone(),
            region: r.region.clone(),
            name: format!("EBS encryption by default in {}", r.region),
        }
    }
    async fn read(&self, t: &Target) -> Result<Value, RemediationError> {
        self.0.check_account(t)?;
        let o = aws_sdk_ec2::Client::new(&self.0.cfg(t))
            .get_ebs_encryption_by_default()
            .send()
            .await
            .map_err(|e| err("ec2:GetEbsEncryptionByDefault", &e))?;
        Ok(json!({"EbsEncryptionByDefault": o.ebs_encryption_by_default().unwrap_or(false)}))
    }
    fn desired(&self, current: &Value, _: &[&Finding]) -> Result<Option<Value>, String> {
        Ok(flag(current, "EbsEncryptionByDefault", true))
    }
    async fn write(&self, t: &Target, v: &Value) -> Result<(), RemediationError> {
        self.0.check_account(t)?;
        let ec2 = aws_sdk_ec2::Client::new(&self.0.cfg(t));
        if want_bool(v, "EbsEncryptionByDefault")? {
            ec2.enable_ebs_encryption_by_default()
                .send()
                .await
                .map(|_| ())
                .map_err(|e| err("ec2:EnableEbsEncryptionByDefault", &e))
        } else {
            ec2.disable_ebs_encryption_by_default()
                .send()
                .await
                .map(|_| ())
                .map_err(|e| err("ec2:DisableEbsEncryptionByDefault", &e))
        }
    }
}

// ---- RDS PubliclyAccessible ----

struct RdsPublic(Arc<Ctx>);

#[async_trait]
impl Remediator for RdsPublic {
    fn spec(&self) -> &'static RemediationSpec {
        spec("aws.rds.disable-public-access")
    }
    async fn read(&self, t: &Target) -> Result<Value, RemediationError> {
        self.0.check_account(t)?;
        let o = aws_sdk_rds::Client::new(&self.0.cfg(t))
            .describe_db_instances()
            .db_instance_identifier(resource_name(&t.arn))
            .send()
            .await
            .map_err(|e| err("rds:DescribeDBInstances", &e))?;
        let db = o.db_instances().first().ok_or_else(|| {
            RemediationError::new("not-found", format!("{} does not exist", t.arn))
        })?;
        Ok(json!({"PubliclyAccessible": db.publicly_accessible().unwrap_or(false)}))
    }
    fn desired(&self, current: &Value, _: &[&Finding]) -> Result<Option<Value>, String> {
        Ok(flag(current, "PubliclyAccessible", false))
    }
    async fn write(&self, t: &Target, v: &Value) -> Result<(), RemediationError> {
        self.0.check_account(t)?;
        aws_sdk_rds::Client::new(&self.0.cfg(t))
            .modify_db_instance()
            .db_instance_identifier(resource_name(&t.arn))
            .publicly_accessible(want_bool(v, "PubliclyAccessible")?)
            .apply_immediately(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| err("rds:ModifyDBInstance", &e))
    }
}

// ---- KMS key rotation ----

struct KmsRotation(Arc<Ctx>);

#[async_trait]
impl Remediator for KmsRotation {
    fn spec(&self) -> &'static RemediationSpec {
        spec("aws.kms.enable-rotation")
    }
    async fn read(&self, t: &Target) -> Result<Value, RemediationError> {
        self.0.check_account(t)?;
        let o = aws_sdk_kms::Client::new(&self.0.cfg(t))
            .get_key_rotation_status()
            .key_id(&t.arn)
            .send()
            .await
            .map_err(|e| err("kms:GetKeyRotationStatus", &e))?;
        Ok(json!({"KeyRotationEnabled": o.key_rotation_enabled()}))
    }
    fn desired(&self, current: &Value, _: &[&Finding]) -> Result<Option<Value>, String> {
        Ok(flag(current, "KeyRotationEnabled", true))
    }
    async fn write(&self, t: &Target, v: &Value) -> Result<(), RemediationError> {
        self.0.check_account(t)?;
        let kms = aws_sdk_kms::Client::new(&self.0.cfg(t));
        if want_bool(v, "KeyRotationEnabled")? {
            kms.enable_key_rotation()
                .key_id(&t.arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| err("kms:EnableKeyRotation", &e))
        } else {
            kms.disable_key_rotation()
                .key_id(&t.arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| err("kms:DisableKeyRotation", &e))
        }
    }
}

// ---- CloudTrail log file validation ----

struct TrailValidation(Arc<Ctx>);

#[async_trait]
impl Remediator for TrailValidation {
    fn spec(&self) -> &'static RemediationSpec {
        spec("aws.cloudtrail.enable-log-validation")
    }
    async fn read(&self, t: &Target) -> Result<Value, RemediationError> {
        self.0.check_account(t)?;
        let o = aws_sdk_cloudtrail::Client::new(&self.0.cfg(t))
            .get_trail()
            .name(&t.arn)
            .send()
            .await
            .map_err(|e| err("cloudtrail:GetTrail", &e))?;
        let trail = o.trail().ok_or_else(|| {
            RemediationError::new("not-found", format!("{} does not exist", t.arn))
        })?;
        Ok(
            json!({"LogFileValidationEnabled": trail.log_file_validation_enabled().unwrap_or(false)}),
        )
    }
    fn desired(&self, current: &Value, _: &[&Finding]) -> Result<Option<Value>, String> {
        Ok(flag(current, "LogFileValidationEnabled", true))
    }
    async fn write(&self, t: &Target, v: &Value) -> Result<(), RemediationError> {
        self.0.check_account(t)?;
        aws_sdk_cloudtrail::Client::new(&self.0.cfg(t))
            .update_trail()
            .name(&t.arn)
            .enable_log_file_validation(want_bool(v, "LogFileValidationEnabled")?)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| err("cloudtrail:UpdateTrail", &e))
    }
}

// ---- ECR scan on push ----

struct EcrScanOnPush(Arc<Ctx>);

fn repo_name(arn: &str) -> String {
    // arn:aws:ecr:REGION:ACCOUNT:repository/NAME/WITH/SLASHES
    arn.split_once(":repository/")
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| resource_name(arn))
}

#[async_trait]
impl Remediator for EcrScanOnPush {
    fn spec(&self) -> &'static RemediationSpec {
        spec("aws.ecr.enable-scan-on-push")
    }
    async fn read(&self, t: &Target) -> Result<Value, RemediationError> {
        self.0.check_account(t)?;
        let o = aws_sdk_ecr::Client::new(&self.0.cfg(t))
            .describe_repositories()
            .repository_names(repo_name(&t.arn))
            .send()
            .await
            .map_err(|e| err("ecr:DescribeRepositories", &e))?;
        let r = o.repositories().first().ok_or_else(|| {
            RemediationError::new("not-found", format!("{} does not exist", t.arn))
        })?;
        Ok(
            json!({"scanOnPush": r.image_scanning_configuration().map(|c| c.scan_on_push()).unwrap_or(false)}),
        )
    }
    fn desired(&self, current: &Value, _: &[&Finding]) -> Result<Option<Value>, String> {
        Ok(flag(current, "scanOnPush", true))
    }
    async fn write(&self, t: &Target, v: &Value) -> Result<(), RemediationError> {
        self.0.check_account(t)?;
        aws_sdk_ecr::Client::new(&self.0.cfg(t))
            .put_image_scanning_configuration()
            .repository_name(repo_name(&t.arn))
            .image_scanning_configuration(
                aws_sdk_ecr::types::ImageScanningConfiguration::builder()
                    .scan_on_push(want_bool(v, "scanOnPush")?)
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| err("ecr:PutImageScanningConfiguration", &e))
    }
}

// ---- IAM access keys past the policy's age ----

struct IamOldKeys(Arc<Ctx>);

#[async_trait]
impl Remediator for IamOldKeys {
    fn spec(&self) -> &'static RemediationSpec {
        spec("aws.iam.deactivate-old-access-keys")
    }
    /// `{ACCESS_KEY_ID: "Active" | "Inactive"}` for every key of the user.
    async fn read(&self, t: &Target) -> Result<Value, RemediationError> {
        self.0.check_account(t)?;
        let o = aws_sdk_iam::Client::new(&self.0.cfg(t))
            .list_access_keys()
            .user_name(resource_name(&t.arn))
            .send()
            .await
            .map_err(|e| err("iam:ListAccessKeys", &e))?;
        let keys: serde_json::Map<String, Value> = o
            .access_key_metadata()
            .iter()
            .filter_map(|k| {
                Some((
                    k.access_key_id()?.to_string(),
                    json!(k.status().map(|s| s.as_str()).unwrap_or("Unknown")),
                ))
            })
            .collect();
        Ok(Value::Object(keys))
    }
    /// The keys the check found too old (its evidence) become `Inactive`; the others stay.
    fn desired(&self, current: &Value, findings: &[&Finding]) -> Result<Option<Value>, String> {
        let old: Vec<String> = findings
            .iter()
            .flat_map(|f| f.evidence.iter())
            .filter_map(|e| e.value.as_array())
            .flatten()
            .filter_map(|k| {
                k.get("accessKeyId")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        if old.is_empty() {
            return Err("the finding does not name the old keys".into());
        }
        let mut after = current.clone();
        let mut changed = false;
        if let Value::Object(m) = &mut after {
            for k in &old {
                if m.get(k) == Some(&json!("Active")) {
                    m.insert(k.clone(), json!("Inactive"));
                    changed = true;
                }
            }
        }
        Ok(changed.then_some(after))
    }
    async fn write(&self, t: &Target, v: &Value) -> Result<(), RemediationError> {
        use aws_sdk_iam::types::StatusType;
        let current = self.read(t).await?;
        let iam = aws_sdk_iam::Client::new(&self.0.cfg(t));
        let user = resource_name(&t.arn);
        for (key, status) in v.as_object().into_iter().flatten() {
            if current.get(key) == Some(status) {
                continue;
            }
            let s = match status.as_str() {
                Some("Active") => StatusType::Active,
                Some("Inactive") => StatusType::Inactive,
                _ => {
                    return Err(RemediationError::new(
                        "invalid",
                        format!("access key {key}: status {status} is neither Active nor Inactive"),
                    ));
                }
            };
            iam.update_access_key()
                .user_name(&user)
                .access_key_id(key)
                .status(s)
                .send()
                .await
                .map_err(|e| err("iam:UpdateAccessKey", &e))?;
        }
        Ok(())
    }
}

/// Re-checks a resource after a change: reads it again with the same collectors as a scan and
/// evaluates the checks with the engine.
pub struct AwsRecheck {
    sdk: aws_config::SdkConfig,
    engine: Arc<Engine>,
}

impl AwsRecheck {
    /// A re-checker with the scan's engine (its policy's checks and parameters).
    pub fn new(sdk: &aws_config::SdkConfig, engine: Arc<Engine>) -> Self {
        AwsRecheck {
            sdk: sdk.clone(),
            engine,
        }
    }
}

#[async_trait]
impl Recheck for AwsRecheck {
    async fn recheck(&self, t: &Target, checks: &[String]) -> BTreeMap<String, Status> {
        let mut out = BTreeMap::new();
        let ctx = RawContext {
            account: Some(t.account_id.clone()),
            region: Some(t.region.clone()),
            partition: None,
        };
        let Ok(Some(r)) = crate::enrich::fetch_one(&self.sdk, &t.arn, &t.resource_type, &ctx).await
        else {
            return out;
        };
        for f in self.engine.evaluate(&r).findings {
            if checks.contains(&f.check_id) {
                out.insert(f.check_id.clone(), f.status);
            }
        }
        out
    }
}

/// Runs Systems Manager Automation runbooks: `StartAutomationExecution` in the target's region,
/// then `GetAutomationExecution` until the execution ends or the runbook's timeout passes.
pub struct SsmRunbooks {
    sdk: aws_config::SdkConfig,
    poll: std::time::Duration,
}

impl SsmRunbooks {
    /// A runner; it polls every 2 s (`ASSETWARDEN_RUNBOOK_POLL_MS` to change it).
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        let ms = std::env::var("ASSETWARDEN_RUNBOOK_POLL_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(2000);
        SsmRunbooks {
            sdk: sdk.clone(),
            poll: std::time::Duration::from_millis(ms),
        }
    }
}

/// Automation statuses after which nothing more happens.
const FINAL: &[&str] = &[
    "Success",
    "Failed",
    "TimedOut",
    "Cancelled",
    "CompletedWithSuccess",
    "CompletedWithFailure",
    "Rejected",
    "Exited",
];

#[async_trait]
impl assetwarden_core::remediate::RunbookRunner for SsmRunbooks {
    async fn run(
        &self,
        t: &Target,
        rb: &assetwarden_core::remediate::RunbookDoc,
    ) -> Result<assetwarden_core::remediate::RunbookRun, RemediationError> {
        let region = if t.region.is_empty() || t.region == "global" {
            "us-east-1"
        } else {
            &t.region
        };
        let ssm = aws_sdk_ssm::Client::new(&regional(&self.sdk, region));
        let params: std::collections::HashMap<String, Vec<String>> = rb
            .parameters_for(t)
            .into_iter()
            .map(|(k, v)| (k, vec![v]))
            .collect();
        let started = ssm
            .start_automation_execution()
            .document_name(&rb.document)
            .set_parameters(Some(params))
            .send()
            .await
            .map_err(|e| err("ssm:StartAutomationExecution", &e))?;
        let id = started
            .automation_execution_id()
            .unwrap_or_default()
            .to_string();
        let deadline = std::time::Instant::now()
            + std::time::Duration::from_secs(rb.timeout_seconds.unwrap_or(300));
        loop {
            let o = ssm
                .get_automation_execution()
                .automation_execution_id(&id)
                .send()
                .await
                .map_err(|e| err("ssm:GetAutomationExecution", &e))?;
            let status = o
                .automation_execution()
                .and_then(|x| x.automation_execution_status())
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "Unknown".into());
            if FINAL.contains(&status.as_str()) {
                return Ok(assetwarden_core::remediate::RunbookRun {
                    document: rb.document.clone(),
                    execution_id: id,
                    status: if status == "CompletedWithSuccess" {
                        "Success".into()
                    } else {
                        status
                    },
                });
            }
            if std::time::Instant::now() >= deadline {
                return Ok(assetwarden_core::remediate::RunbookRun {
                    document: rb.document.clone(),
                    execution_id: id,
                    status: format!("Waiting (still {status} after the timeout)"),
                });
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}

/// Applies a plan on AWS with every part in place: the catalogue's remediators for the caller's
/// account, the re-check with `engine`, and the runbook runner.
pub async fn apply_plan(
    sdk: &aws_config::SdkConfig,
    plan: &assetwarden_core::remediate::Plan,
    doc: &assetwarden_core::remediate::RemediationDoc,
    opts: &assetwarden_core::remediate::ApplyOptions,
    engine: Arc<Engine>,
) -> Result<Vec<assetwarden_core::remediate::ChangeRecord>, crate::util::ApiFailure> {
    let rems = remediators(sdk).await?;
    let recheck = AwsRecheck::new(sdk, engine);
    let runner = SsmRunbooks::new(sdk);
    Ok(assetwarden_core::remediate::apply(
        plan,
        &rems,
        doc,
        opts,
        &recheck,
        Some(&runner),
        chrono::Utc::now,
    )
    .await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogue_entry_is_implemented() {
        for s in catalog() {
            assert_eq!(spec(s.id).id, s.id);
        }
        let ids = [
            "aws.s3.block-public-access",
            "aws.s3.default-encryption",
            "aws.ec2.revoke-admin-ports-from-internet",
            "aws.ec2.ebs-default-encryption",
            "aws.rds.disable-public-access",
            "aws.kms.enable-rotation",
            "aws.cloudtrail.enable-log-validation",
            "aws.ecr.enable-scan-on-push",
            "aws.iam.deactivate-old-access-keys",
        ];
        let known: Vec<&str> = catalog().iter().map(|s| s.id).collect();
        assert_eq!(known, ids);
    }

    #[test]
    fn names_from_arns() {
        assert_eq!(resource_name("arn:aws:s3:::my-bucket"), "my-bucket");
        assert_eq!(resource_name("arn:aws:rds:us-east-1:1:db:orders"), "orders");
        assert_eq!(resource_name("arn:aws:iam::1:user/ops/alice"), "alice");
        assert_eq!(
            resource_name("arn:aws:ec2:us-east-1:1:security-group/sg-1"),
            "sg-1"
        );
        assert_eq!(
            repo_name("arn:aws:ecr:us-east-1:1:repository/shop/web"),
            "shop/web"
        );
    }
}
