//! Direct Describe/Get collection, for where AWS Config is not recording: each service's reply
//! is written in the shape of the API's own JSON (what the AWS CLI prints) and normalised by the
//! core's raw-response reader, so live data and recorded responses take one path.

use assetwarden_core::normalize::{self, RawContext};
use assetwarden_core::resource::Resource;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use futures::StreamExt;
use serde_json::{Map, Value, json};

use crate::util::{ApiFailure, failure};

/// What one collector produced: resources, and per-item errors that did not stop it.
#[derive(Debug, Default)]
pub struct Collected {
    /// The resources.
    pub resources: Vec<Resource>,
    /// Items that could not be turned into resources.
    pub errors: Vec<String>,
}

fn dt(d: Option<&DateTime>) -> Value {
    d.and_then(|d| d.fmt(Format::DateTime).ok())
        .map(Value::String)
        .unwrap_or(Value::Null)
}

fn opt<T: Into<Value>>(v: Option<T>) -> Value {
    v.map(Into::into).unwrap_or(Value::Null)
}

fn s(v: Option<&str>) -> Value {
    opt(v.map(str::to_string))
}

fn kv_tags<'a>(it: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>) -> Value {
    Value::Array(
        it.filter_map(|(k, v)| k.map(|k| json!({"Key": k, "Value": v.unwrap_or("")})))
            .collect(),
    )
}

fn normalise(response: Value, ctx: &RawContext, out: &mut Collected) {
    let (rs, errs) = normalize::raw_response(&response, ctx);
    out.resources.extend(rs);
    out.errors.extend(errs);
}

/// Security groups of one region (`ec2:DescribeSecurityGroups`, all pages).
pub async fn security_groups(
    ec2: &aws_sdk_ec2::Client,
    ctx: &RawContext,
    only: Option<Vec<String>>,
) -> Result<Collected, ApiFailure> {
    let mut out = Collected::default();
    let mut pages = ec2
        .describe_security_groups()
        .set_group_ids(only)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| failure("ec2:DescribeSecurityGroups", &e))?;
        let groups: Vec<Value> = page
            .security_groups()
            .iter()
            .map(|g| {
                json!({
                    "GroupId": g.group_id(),
                    "GroupName": g.group_name(),
                    "OwnerId": g.owner_id(),
                    "VpcId": g.vpc_id(),
                    "Description": g.description(),
                    "SecurityGroupArn": g.security_group_arn(),
                    "IpPermissions": g.ip_permissions().iter().map(ip_permission).collect::<Vec<_>>(),
                    "IpPermissionsEgress": g.ip_permissions_egress().iter().map(ip_permission).collect::<Vec<_>>(),
                    "Tags": kv_tags(g.tags().iter().map(|t| (t.key(), t.value()))),
                })
            })
            .collect();
        normalise(json!({"SecurityGroups": groups}), ctx, &mut out);
    }
    Ok(out)
}

fn ip_permission(p: &aws_sdk_ec2::types::IpPermission) -> Value {
    json!({
        "IpProtocol": p.ip_protocol(),
        "FromPort": p.from_port(),
        "ToPort": p.to_port(),
        "IpRanges": p.ip_ranges().iter().map(|r| json!({"CidrIp": r.cidr_ip(), "Description": r.description()})).collect::<Vec<_>>(),
        "Ipv6Ranges": p.ipv6_ranges().iter().map(|r| json!({"CidrIpv6": r.cidr_ipv6(), "Description": r.description()})).collect::<Vec<_>>(),
        "UserIdGroupPairs": p.user_id_group_pairs().iter().map(|u| json!({"GroupId": u.group_id(), "UserId": u.user_id()})).collect::<Vec<_>>(),
        "PrefixListIds": p.prefix_list_ids().iter().map(|u| json!({"PrefixListId": u.prefix_list_id()})).collect::<Vec<_>>(),
    })
}

/// EBS volumes of one region (`ec2:DescribeVolumes`, all pages).
pub async fn volumes(
    ec2: &aws_sdk_ec2::Client,
    ctx: &RawContext,
    only: Option<Vec<String>>,
) -> Result<Collected, ApiFailure> {
    let mut out = Collected::default();
    let mut pages = ec2
        .describe_volumes()
        .set_volume_ids(only)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| failure("ec2:DescribeVolumes", &e))?;
        let vols: Vec<Value> = page
            .volumes()
            .iter()
            .map(|v| {
                json!({
                    "VolumeId": v.volume_id(),
                    "Size": v.size(),
                    "Encrypted": v.encrypted(),
                    "KmsKeyId": v.kms_key_id(),
                    "State": v.state().map(|s| s.as_str()),
                    "VolumeType": v.volume_type().map(|s| s.as_str()),
                    "AvailabilityZone": v.availability_zone(),
                    "SnapshotId": v.snapshot_id(),
                    "CreateTime": dt(v.create_time()),
                    "Attachments": v.attachments().iter().map(|a| json!({"InstanceId": a.instance_id(), "Device": a.device(), "State": a.state().map(|s| s.as_str())})).collect::<Vec<_>>(),
                    "Tags": kv_tags(v.tags().iter().map(|t| (t.key(), t.value()))),
                })
            })
            .collect();
        normalise(json!({"Volumes": vols}), ctx, &mut out);
    }
    Ok(out)
}

/// RDS DB instances of one region (`rds:DescribeDBInstances`, all pages).
pub async fn db_instances(
    rds: &aws_sdk_rds::Client,
    ctx: &RawContext,
    only: Option<String>,
) -> Result<Collected, ApiFailure> {
    let mut out = Collected::default();
    let mut pages = rds
        .describe_db_instances()
        .set_db_instance_identifier(only)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| failure("rds:DescribeDBInstances", &e))?;
        let dbs: Vec<Value> = page
            .db_instances()
            .iter()
            .map(|d| {
                json!({
                    "DBInstanceIdentifier": d.db_instance_identifier(),
                    "DBInstanceArn": d.db_instance_arn(),
                    "DBInstanceClass": d.db_instance_class(),
                    "DBInstanceStatus": d.db_instance_status(),
                    "Engine": d.engine(),
                    "EngineVersion": d.engine_version(),
                    "StorageEncrypted": d.storage_encrypted(),
                    "KmsKeyId": d.kms_key_id(),
                    "PubliclyAccessible": d.publicly_accessible(),
                    "MultiAZ": d.multi_az(),
                    "BackupRetentionPeriod": d.backup_retention_period(),
                    "DeletionProtection": d.deletion_protection(),
                    "AutoMinorVersionUpgrade": d.auto_minor_version_upgrade(),
                    "IAMDatabaseAuthenticationEnabled": d.iam_database_authentication_enabled(),
                    "CopyTagsToSnapshot": d.copy_tags_to_snapshot(),
                    "MonitoringInterval": d.monitoring_interval(),
                    "EnabledCloudwatchLogsExports": d.enabled_cloudwatch_logs_exports(),
                    "DBClusterIdentifier": d.db_cluster_identifier(),
                    "InstanceCreateTime": dt(d.instance_create_time()),
                    "DBSubnetGroup": d.db_subnet_group().map(|g| json!({"VpcId": g.vpc_id(), "DBSubnetGroupName": g.db_subnet_group_name()})),
                    "VpcSecurityGroups": d.vpc_security_groups().iter().map(|g| json!({"VpcSecurityGroupId": g.vpc_security_group_id(), "Status": g.status()})).collect::<Vec<_>>(),
                    "TagList": kv_tags(d.tag_list().iter().map(|t| (t.key(), t.value()))),
                })
            })
            .collect();
        normalise(json!({"DBInstances": dbs}), ctx, &mut out);
    }
    Ok(out)
}

/// ECR repositories of one region (`ecr:DescribeRepositories`, with each repository's
/// `ecr:GetLifecyclePolicy`). A lifecycle policy that could not be read is marked not observed.
pub async fn repositories(
    ecr: &aws_sdk_ecr::Client,
    ctx: &RawContext,
    only: Option<Vec<String>>,
) -> Result<Collected, ApiFailure> {
    let mut out = Collected::default();
    let mut pages = ecr
        .describe_repositories()
        .set_repository_names(only)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| failure("ecr:DescribeRepositories", &e))?;
        let names: Vec<(String, Option<String>)> = page
            .repositories()
            .iter()
            .map(|r| {
                (
                    r.repository_name().unwrap_or_default().to_string(),
                    r.registry_id().map(str::to_string),
                )
            })
            .collect();
        let lookups = names.into_iter().map(|(name, registry)| {
            let ecr = ecr.clone();
            async move {
                let res = ecr
                    .get_lifecycle_policy()
                    .repository_name(&name)
                    .set_registry_id(registry)
                    .send()
                    .await;
                match res {
                    Ok(o) => Ok(Some(
                        o.lifecycle_policy_text().unwrap_or_default().to_string(),
                    )),
                    Err(e) => {
                        let f = failure("ecr:GetLifecyclePolicy", &e);
                        if f.code == "LifecyclePolicyNotFoundException" {
                            Ok(None)
                        } else {
                            Err(f)
                        }
                    }
                }
            }
        });
        let policies: Vec<_> = futures::stream::iter(lookups).buffered(8).collect().await;
        for (r, pol) in page.repositories().iter().zip(policies) {
            let mut item = json!({
                "repositoryArn": r.repository_arn(),
                "repositoryName": r.repository_name(),
                "registryId": r.registry_id(),
                "repositoryUri": r.repository_uri(),
                "createdAt": dt(r.created_at()),
                "imageTagMutability": r.image_tag_mutability().map(|m| m.as_str()),
                "imageScanningConfiguration": r.image_scanning_configuration().map(|c| json!({"scanOnPush": c.scan_on_push()})),
                "encryptionConfiguration": r.encryption_configuration().map(|c| json!({"encryptionType": c.encryption_type().as_str(), "kmsKey": c.kms_key()})),
            });
            let mut failed = None;
            if let Value::Object(m) = &mut item {
                match pol {
                    Ok(Some(text)) => {
                        m.insert(
                            "lifecyclePolicy".into(),
                            json!({"lifecyclePolicyText": text}),
                        );
                    }
                    Ok(None) => {
                        m.insert("lifecyclePolicy".into(), Value::Null);
                    }
                    Err(f) => failed = Some(f),
                }
            }
            let mut one = Collected::default();
            normalise(json!({"repositories": [item]}), ctx, &mut one);
            if let Some(f) = failed {
                for res in &mut one.resources {
                    res.unobserved
                        .retain(|u| u.path != "configuration.LifecyclePolicy");
                    res.mark_unobserved("configuration.LifecyclePolicy", f.to_string());
                }
            }
            out.resources.extend(one.resources);
            out.errors.extend(one.errors);
        }
    }
    Ok(out)
}

/// Application/network load balancers of one region with their attributes and listeners
/// (`elasticloadbalancing:DescribeLoadBalancers`, `DescribeLoadBalancerAttributes`,
/// `DescribeListeners`).
pub async fn load_balancers(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    ctx: &RawContext,
    only: Option<Vec<String>>,
) -> Result<Collected, ApiFailure> {
    let mut out = Collected::default();
    let mut pages = elb
        .describe_load_balancers()
        .set_load_balancer_arns(only)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| failure("elasticloadbalancing:DescribeLoadBalancers", &e))?;
        for lb in page.load_balancers() {
            let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
            let attrs = elb
                .describe_load_balancer_attributes()
                .load_balancer_arn(&arn)
                .send()
                .await;
            let mut item = json!({
                "LoadBalancerArn": arn,
                "LoadBalancerName": lb.load_balancer_name(),
                "DNSName": lb.dns_name(),
                "Scheme": lb.scheme().map(|x| x.as_str()),
                "Type": lb.r#type().map(|x| x.as_str()),
                "VpcId": lb.vpc_id(),
                "State": lb.state().map(|st| json!({"Code": st.code().map(|c| c.as_str())})),
                "IpAddressType": lb.ip_address_type().map(|x| x.as_str()),
                "SecurityGroups": lb.security_groups(),
                "AvailabilityZones": lb.availability_zones().iter().map(|z| json!({"ZoneName": z.zone_name(), "SubnetId": z.subnet_id()})).collect::<Vec<_>>(),
                "CreatedTime": dt(lb.created_time()),
            });
            let mut attr_failure = None;
            match attrs {
                Ok(a) => {
                    if let Value::Object(m) = &mut item {
                        m.insert(
                            "Attributes".into(),
                            Value::Array(
                                a.attributes()
                                    .iter()
                                    .map(|x| json!({"Key": x.key(), "Value": x.value()}))
                                    .collect(),
                            ),
                        );
                    }
                }
                Err(e) => {
                    attr_failure = Some(failure(
                        "elasticloadbalancing:DescribeLoadBalancerAttributes",
                        &e,
                    ))
                }
            }
            let mut one = Collected::default();
            normalise(json!({"LoadBalancers": [item]}), ctx, &mut one);
            if let Some(f) = attr_failure {
                for r in &mut one.resources {
                    r.unobserved
                        .retain(|u| u.path != "supplementaryConfiguration.LoadBalancerAttributes");
                    r.mark_unobserved(
                        "supplementaryConfiguration.LoadBalancerAttributes",
                        f.to_string(),
                    );
                }
            }
            out.resources.extend(one.resources);
            out.errors.extend(one.errors);
            match elb
                .describe_listeners()
                .load_balancer_arn(&arn)
                .send()
                .await
            {
                Ok(l) => {
                    let listeners: Vec<Value> = l
                        .listeners()
                        .iter()
                        .map(|l| {
                            json!({
                                "ListenerArn": l.listener_arn(),
                                "LoadBalancerArn": l.load_balancer_arn(),
                                "Port": l.port(),
                                "Protocol": l.protocol().map(|p| p.as_str()),
                                "SslPolicy": l.ssl_policy(),
                                "DefaultActions": l.default_actions().iter().map(|a| json!({
                                    "Type": a.r#type().map(|t| t.as_str()),
                                    "TargetGroupArn": a.target_group_arn(),
                                    "RedirectConfig": a.redirect_config().map(|r| json!({"Protocol": r.protocol(), "Port": r.port(), "StatusCode": r.status_code().map(|c| c.as_str())})),
                                })).collect::<Vec<_>>(),
                            })
                        })
                        .collect();
                    normalise(json!({"Listeners": listeners}), ctx, &mut out);
                }
                Err(e) => out.errors.push(format!(
                    "listeners of {arn}: {}",
                    failure("elasticloadbalancing:DescribeListeners", &e)
                )),
            }
        }
    }
    Ok(out)
}

/// S3's bucket regions and listing: `s3:ListBuckets` once for the account.
pub async fn list_buckets(
    s3: &aws_sdk_s3::Client,
) -> Result<Vec<(String, Option<String>, Value)>, ApiFailure> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = s3
            .list_buckets()
            .max_buckets(1000)
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(|e| failure("s3:ListAllMyBuckets", &e))?;
        for b in page.buckets() {
            if let Some(n) = b.name() {
                out.push((
                    n.to_string(),
                    b.bucket_region().map(str::to_string),
                    dt(b.creation_date()),
                ));
            }
        }
        match page.continuation_token() {
            Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

/// A bucket's region when `ListBuckets` did not say (`s3:GetBucketLocation`).
pub async fn bucket_region(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<String, ApiFailure> {
    let o = s3
        .get_bucket_location()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| failure("s3:GetBucketLocation", &e))?;
    Ok(o.location_constraint()
        .map(|c| c.as_str().to_string())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "us-east-1".into()))
}

fn err_reply(f: &ApiFailure) -> Value {
    json!({"Error": {"Code": f.code, "Message": f.message, "Operation": f.operation}})
}

/// One bucket's configuration as a bundle of Get* replies (each call failing on its own is
/// recorded in the bundle, and the normaliser marks that part not observed — or absent, for
/// S3's "no such configuration" codes).
pub async fn bucket(s3: &aws_sdk_s3::Client, name: &str, created: Value) -> Value {
    let enc = async {
        match s3.get_bucket_encryption().bucket(name).send().await {
            Ok(o) => {
                json!({"ServerSideEncryptionConfiguration": {"Rules": o.server_side_encryption_configuration().map(|c| c.rules().iter().map(|r| json!({
                "ApplyServerSideEncryptionByDefault": r.apply_server_side_encryption_by_default().map(|d| json!({"SSEAlgorithm": d.sse_algorithm().as_str(), "KMSMasterKeyID": d.kms_master_key_id()})),
                "BucketKeyEnabled": r.bucket_key_enabled(),
            })).collect::<Vec<_>>()).unwrap_or_default()}})
            }
            Err(e) => err_reply(&failure("s3:GetEncryptionConfiguration", &e)),
        }
    };
    let pab = async {
        match s3.get_public_access_block().bucket(name).send().await {
            Ok(o) => {
                let c = o.public_access_block_configuration();
                json!({"PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": c.and_then(|c| c.block_public_acls()),
                    "IgnorePublicAcls": c.and_then(|c| c.ignore_public_acls()),
                    "BlockPublicPolicy": c.and_then(|c| c.block_public_policy()),
                    "RestrictPublicBuckets": c.and_then(|c| c.restrict_public_buckets()),
                }})
            }
            Err(e) => err_reply(&failure("s3:GetBucketPublicAccessBlock", &e)),
        }
    };
    let status = async {
        match s3.get_bucket_policy_status().bucket(name).send().await {
            Ok(o) => {
                json!({"PolicyStatus": {"IsPublic": o.policy_status().and_then(|p| p.is_public())}})
            }
            Err(e) => err_reply(&failure("s3:GetBucketPolicyStatus", &e)),
        }
    };
    let policy = async {
        match s3.get_bucket_policy().bucket(name).send().await {
            Ok(o) => json!({"Policy": o.policy()}),
            Err(e) => err_reply(&failure("s3:GetBucketPolicy", &e)),
        }
    };
    let ver = async {
        match s3.get_bucket_versioning().bucket(name).send().await {
            Ok(o) => {
                let mut m = Map::new();
                if let Some(st) = o.status() {
                    m.insert("Status".into(), json!(st.as_str()));
                }
                if let Some(md) = o.mfa_delete() {
                    m.insert("MFADelete".into(), json!(md.as_str()));
                }
                Value::Object(m)
            }
            Err(e) => err_reply(&failure("s3:GetBucketVersioning", &e)),
        }
    };
    let log = async {
        match s3.get_bucket_logging().bucket(name).send().await {
            Ok(o) => match o.logging_enabled() {
                Some(l) => {
                    json!({"LoggingEnabled": {"TargetBucket": l.target_bucket(), "TargetPrefix": l.target_prefix()}})
                }
                None => json!({}),
            },
            Err(e) => err_reply(&failure("s3:GetBucketLogging", &e)),
        }
    };
    let acl = async {
        match s3.get_bucket_acl().bucket(name).send().await {
            Ok(o) => json!({
                "Owner": o.owner().map(|w| json!({"ID": w.id(), "DisplayName": w.display_name()})),
                "Grants": o.grants().iter().map(|g| json!({
                    "Grantee": g.grantee().map(|ge| json!({"ID": ge.id(), "DisplayName": ge.display_name(), "URI": ge.uri(), "Type": ge.r#type().as_str()})),
                    "Permission": g.permission().map(|p| p.as_str()),
                })).collect::<Vec<_>>(),
            }),
            Err(e) => err_reply(&failure("s3:GetBucketAcl", &e)),
        }
    };
    let life = async {
        match s3
            .get_bucket_lifecycle_configuration()
            .bucket(name)
            .send()
            .await
        {
            Ok(o) => json!({"Rules": o.rules().iter().map(|r| json!({
                "ID": r.id(),
                "Status": r.status().as_str(),
                "Expiration": r.expiration().map(|e| json!({"Days": e.days(), "ExpiredObjectDeleteMarker": e.expired_object_delete_marker()})),
                "Transitions": r.transitions().iter().map(|t| json!({"Days": t.days(), "StorageClass": t.storage_class().map(|c| c.as_str())})).collect::<Vec<_>>(),
                "NoncurrentVersionExpiration": r.noncurrent_version_expiration().map(|e| json!({"NoncurrentDays": e.noncurrent_days()})),
                "AbortIncompleteMultipartUpload": r.abort_incomplete_multipart_upload().map(|a| json!({"DaysAfterInitiation": a.days_after_initiation()})),
            })).collect::<Vec<_>>()}),
            Err(e) => err_reply(&failure("s3:GetLifecycleConfiguration", &e)),
        }
    };
    let (enc, pab, status, policy, ver, log, acl, life) =
        tokio::join!(enc, pab, status, policy, ver, log, acl, life);
    json!({
        "Bucket": name,
        "CreationDate": created,
        "GetBucketEncryption": enc,
        "GetPublicAccessBlock": pab,
        "GetBucketPolicyStatus": status,
        "GetBucketPolicy": policy,
        "GetBucketVersioning": ver,
        "GetBucketLogging": log,
        "GetBucketAcl": acl,
        "GetBucketLifecycleConfiguration": life,
    })
}

/// Normalises a bucket bundle (region and account from `ctx`).
pub fn bucket_resource(bundle: &Value, ctx: &RawContext) -> Result<Resource, String> {
    let (mut rs, errs) = normalize::raw_response(bundle, ctx);
    match rs.pop() {
        Some(r) => Ok(r),
        None => Err(errs.join("; ")),
    }
}

/// `s` for other modules.
pub(crate) fn str_value(v: Option<&str>) -> Value {
    s(v)
}

/// Reads one resource by ARN, the way the inventory would: the types with a direct collector
/// are described; the others come back with their configuration marked not collected (their
/// tags are read by the caller).
pub async fn fetch_one(
    sdk: &aws_config::SdkConfig,
    arn: &str,
    resource_type: &str,
    ctx: &RawContext,
) -> Result<Option<Resource>, ApiFailure> {
    let region = ctx.region.clone().unwrap_or_else(|| "us-east-1".into());
    let cfg = crate::inventory::regional(sdk, &region);
    let id = assetwarden_core::arn::Arn::parse(arn)
        .map(|a| a.resource_id().to_string())
        .unwrap_or_default();
    let c = match resource_type {
        "AWS::S3::Bucket" => {
            let s3 = crate::inventory::s3_client(sdk, &region);
            let bundle = bucket(&s3, &id, Value::Null).await;
            return Ok(bucket_resource(&bundle, ctx).ok());
        }
        "AWS::EC2::SecurityGroup" => {
            security_groups(&aws_sdk_ec2::Client::new(&cfg), ctx, Some(vec![id])).await?
        }
        "AWS::EC2::Volume" => volumes(&aws_sdk_ec2::Client::new(&cfg), ctx, Some(vec![id])).await?,
        "AWS::RDS::DBInstance" => {
            db_instances(&aws_sdk_rds::Client::new(&cfg), ctx, Some(id)).await?
        }
        "AWS::ECR::Repository" => {
            repositories(&aws_sdk_ecr::Client::new(&cfg), ctx, Some(vec![id])).await?
        }
        "AWS::ElasticLoadBalancingV2::LoadBalancer" => {
            load_balancers(
                &aws_sdk_elasticloadbalancingv2::Client::new(&cfg),
                ctx,
                Some(vec![arn.to_string()]),
            )
            .await?
        }
        "AWS::KMS::Key" => {
            let kms = aws_sdk_kms::Client::new(&cfg);
            let k = kms
                .describe_key()
                .key_id(arn)
                .send()
                .await
                .map_err(|e| failure("kms:DescribeKey", &e))?;
            let Some(m) = k.key_metadata() else {
                return Ok(None);
            };
            let rotation = kms
                .get_key_rotation_status()
                .key_id(arn)
                .send()
                .await
                .map_err(|e| failure("kms:GetKeyRotationStatus", &e))?;
            let doc = json!({
                "KeyMetadata": {
                    "KeyId": m.key_id(), "Arn": m.arn(), "AWSAccountId": m.aws_account_id(),
                    "KeyManager": m.key_manager().map(|x| x.as_str()), "KeySpec": m.key_spec().map(|x| x.as_str()),
                    "KeyState": m.key_state().map(|x| x.as_str()), "KeyUsage": m.key_usage().map(|x| x.as_str()),
                    "Enabled": m.enabled(), "Description": m.description(),
                },
                "KeyRotationEnabled": rotation.key_rotation_enabled(),
            });
            let mut one = Collected::default();
            normalise(doc, ctx, &mut one);
            one
        }
        "AWS::CloudTrail::Trail" => {
            let o = aws_sdk_cloudtrail::Client::new(&cfg)
                .get_trail()
                .name(arn)
                .send()
                .await
                .map_err(|e| failure("cloudtrail:GetTrail", &e))?;
            let Some(t) = o.trail() else {
                return Ok(None);
            };
            let doc = json!({"trailList": [{
                "Name": t.name(), "TrailARN": t.trail_arn(), "HomeRegion": t.home_region(),
                "S3BucketName": t.s3_bucket_name(), "IsMultiRegionTrail": t.is_multi_region_trail(),
                "LogFileValidationEnabled": t.log_file_validation_enabled(), "KmsKeyId": t.kms_key_id(),
                "CloudWatchLogsLogGroupArn": t.cloud_watch_logs_log_group_arn(),
                "IncludeGlobalServiceEvents": t.include_global_service_events(),
            }]});
            let mut one = Collected::default();
            normalise(doc, ctx, &mut one);
            one
        }
        "AWS::IAM::User" => {
            let iam = aws_sdk_iam::Client::new(&crate::inventory::regional(sdk, "us-east-1"));
            let name = id.rsplit('/').next().unwrap_or_default().to_string();
            let u = iam
                .get_user()
                .user_name(&name)
                .send()
                .await
                .map_err(|e| failure("iam:GetUser", &e))?;
            let Some(u) = u.user() else {
                return Ok(None);
            };
            let keys = iam
                .list_access_keys()
                .user_name(&name)
                .send()
                .await
                .map_err(|e| failure("iam:ListAccessKeys", &e))?;
            let keys: Vec<Value> = keys
                .access_key_metadata()
                .iter()
                .map(|k| json!({"AccessKeyId": k.access_key_id(), "Status": k.status().map(|s| s.as_str()), "CreateDate": dt(k.create_date())}))
                .collect();
            let doc = json!({"Users": [{
                "UserName": u.user_name(), "UserId": u.user_id(), "Arn": u.arn(), "Path": u.path(),
                "CreateDate": dt(Some(u.create_date())), "AccessKeyMetadata": keys,
            }]});
            let mut one = Collected::default();
            normalise(doc, ctx, &mut one);
            one
        }
        _ => {
            let mut r = Resource::new(arn, resource_type);
            r.mark_unobserved(
                "configuration",
                format!("not collected: Assetwarden has no direct collector for `{resource_type}`"),
            );
            return Ok(Some(r));
        }
    };
    Ok(c.resources.into_iter().find(|r| r.arn == arn))
}
