//! S3 buckets, EBS volumes and ECR repositories.

use serde_json::{Value, json};

use super::*;
use crate::finding::Severity::*;

const S3: &[&str] = &["AWS::S3::Bucket"];
const PAB: &str = "supplementaryConfiguration.PublicAccessBlockConfiguration";
const ACL: &str = "supplementaryConfiguration.AccessControlList";
const POLICY: &str = "supplementaryConfiguration.BucketPolicy";

const PAB_FLAGS: [&str; 4] = [
    "blockPublicAcls",
    "ignorePublicAcls",
    "blockPublicPolicy",
    "restrictPublicBuckets",
];

fn pab_flags(r: &Resource) -> Option<Vec<(&'static str, Option<bool>)>> {
    let pab = supp_cow(r, &["PublicAccessBlockConfiguration"])?;
    Some(
        PAB_FLAGS
            .iter()
            .map(|f| (*f, truthy(ci(&pab, f))))
            .collect(),
    )
}

/// Grants in the bucket ACL to everyone or to any authenticated AWS user, with their permission.
fn public_grants(r: &Resource) -> Vec<(String, String)> {
    let Some(acl) = supp(r, &["AccessControlList"]) else {
        return Vec::new();
    };
    let grants = ci(&acl, "grantList")
        .or_else(|| ci(&acl, "Grants"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for g in grants {
        let grantee = ci(&g, "grantee").cloned().unwrap_or(Value::Null);
        let text = match &grantee {
            Value::String(s) => s.clone(),
            Value::Object(_) => ci(&grantee, "uri")
                .or_else(|| ci(&grantee, "identifier"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            _ => String::new(),
        };
        let who = if text.contains("AllUsers") {
            "AllUsers"
        } else if text.contains("AuthenticatedUsers") {
            "AuthenticatedUsers"
        } else {
            continue;
        };
        let perm = ci(&g, "permission")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        out.push((who.to_string(), perm));
    }
    out
}

fn bucket_policy(r: &Resource) -> Option<Value> {
    let bp = supp(r, &["BucketPolicy"])?;
    let text = ci(&bp, "policyText").cloned().unwrap_or(bp);
    policy_doc(&text)
}

fn public_policy_actions(r: &Resource) -> Vec<String> {
    let Some(doc) = bucket_policy(r) else {
        return Vec::new();
    };
    statements(&doc)
        .iter()
        .filter(|s| is_allow(s) && principal_is_public(s) && !has_restricting_condition(s))
        .flat_map(|s| strings(ci(s, "Action")))
        .collect()
}

fn blocked_by_pab(r: &Resource, acl: bool) -> bool {
    let Some(flags) = pab_flags(r) else {
        return false;
    };
    let on = |name: &str| flags.iter().any(|(f, v)| *f == name && *v == Some(true));
    if acl {
        on("ignorePublicAcls")
    } else {
        on("restrictPublicBuckets")
    }
}

fn public_access(r: &Resource, write: bool) -> Outcome {
    let perms: &[&str] = if write {
        &[
            "Write",
            "WRITE",
            "FullControl",
            "FULL_CONTROL",
            "WriteAcp",
            "WRITE_ACP",
        ]
    } else {
        &["Read", "READ", "FullControl", "FULL_CONTROL"]
    };
    let grants: Vec<_> = public_grants(r)
        .into_iter()
        .filter(|(_, p)| perms.contains(&p.as_str()))
        .collect();
    if !grants.is_empty() && !blocked_by_pab(r, true) {
        let (who, p) = &grants[0];
        return Outcome::fail(
            format!("the bucket ACL grants {p} to {who}"),
            ACL,
            json!(
                grants
                    .iter()
                    .map(|(w, p)| format!("{w}:{p}"))
                    .collect::<Vec<_>>()
            ),
        );
    }
    let acts = public_policy_actions(r);
    let hit: Vec<&String> = acts
        .iter()
        .filter(|a| {
            let a = a.to_ascii_lowercase();
            a == "*"
                || a == "s3:*"
                || if write {
                    a.starts_with("s3:put") || a.starts_with("s3:delete") || a.contains("s3:*")
                } else {
                    a.starts_with("s3:get") || a.starts_with("s3:list")
                }
        })
        .collect();
    if !hit.is_empty() && !blocked_by_pab(r, false) {
        return Outcome::fail(
            format!(
                "the bucket policy allows `{}` to everyone without a restricting condition",
                hit[0]
            ),
            POLICY,
            json!(hit),
        );
    }
    Outcome::Pass {
        evidence: vec![
            crate::finding::Evidence::new(ACL, json!(public_grants(r).len())),
            crate::finding::Evidence::new(POLICY, json!(acts)),
        ],
    }
}

pub(super) fn register(v: &mut Vec<Builtin>) {
    v.push(
        def("aws.s3.public-access-block", High, S3, "S3 buckets block all public access at the bucket level")
            .sh("S3.8")
            .cis(&["CIS AWS Foundations Benchmark v1.4.0/2.1.5"])
            .rule("s3-bucket-level-public-access-prohibited")
            .desc("All four S3 Block Public Access settings (BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets) are enabled on the bucket.")
            .fix("Enable all four Block Public Access settings: `aws s3api put-public-access-block --bucket NAME --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true`.")
            .reads(&[PAB])
            .param("excludedPublicBuckets", json!([]), "Bucket names that are public on purpose")
            .eval(|r, ctx| {
                if ctx.param_has("excludedPublicBuckets", &r.resource_id) {
                    return Outcome::na("the bucket is listed in `excludedPublicBuckets`");
                }
                match pab_flags(r) {
                    None => Outcome::fail("the bucket has no Block Public Access configuration", PAB, Value::Null),
                    Some(flags) => {
                        let off: Vec<&str> = flags.iter().filter(|(_, v)| *v != Some(true)).map(|(f, _)| *f).collect();
                        let ev: serde_json::Map<String, Value> = flags.iter().map(|(f, v)| (f.to_string(), json!(v))).collect();
                        if off.is_empty() {
                            Outcome::pass(PAB, Value::Object(ev))
                        } else {
                            Outcome::fail(format!("Block Public Access is off for {}", off.join(", ")), PAB, Value::Object(ev))
                        }
                    }
                }
            }),
    );
    v.push(
        def("aws.s3.public-read-prohibited", Critical, S3, "S3 buckets do not allow public read access")
            .sh("S3.2")
            .rule("s3-bucket-public-read-prohibited")
            .desc("Neither the bucket ACL nor the bucket policy grants read or list access to everyone, unless Block Public Access neutralises it.")
            .fix("Remove the ACL grants to AllUsers/AuthenticatedUsers and the policy statements with `Principal: \"*\"`, and enable Block Public Access.")
            .reads(&[ACL, POLICY, PAB])
            .eval(|r, _| public_access(r, false)),
    );
    v.push(
        def("aws.s3.public-write-prohibited", Critical, S3, "S3 buckets do not allow public write access")
            .sh("S3.3")
            .rule("s3-bucket-public-write-prohibited")
            .fix("Remove the ACL grants of WRITE/FULL_CONTROL to AllUsers/AuthenticatedUsers and policy statements allowing `s3:Put*`/`s3:Delete*` to everyone.")
            .reads(&[ACL, POLICY, PAB])
            .eval(|r, _| public_access(r, true)),
    );
    v.push(
        def("aws.s3.encryption", Medium, S3, "S3 buckets have default server-side encryption configured")
            .sh("S3.4")
            .cis(&["CIS AWS Foundations Benchmark v1.4.0/2.1.1"])
            .rule("s3-bucket-server-side-encryption-enabled")
            .fix("Configure default encryption: `aws s3api put-bucket-encryption` with SSE-S3 (AES256) or SSE-KMS.")
            .reads(&["supplementaryConfiguration.ServerSideEncryptionConfiguration"])
            .eval(|r, _| {
                let p = "supplementaryConfiguration.ServerSideEncryptionConfiguration";
                let rules = supp(r, &["ServerSideEncryptionConfiguration", "rules"]);
                let algs: Vec<String> = rules
                    .as_ref()
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|rule| cpath(rule, &["applyServerSideEncryptionByDefault", "sseAlgorithm"]))
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                if algs.is_empty() {
                    Outcome::fail("the bucket has no default encryption configuration", p, rules.unwrap_or(Value::Null))
                } else {
                    Outcome::pass(&format!("{p}.rules[*].applyServerSideEncryptionByDefault.sseAlgorithm"), json!(algs))
                }
            }),
    );
    v.push(
        def("aws.s3.ssl-requests-only", Medium, S3, "S3 bucket policies deny requests that do not use TLS")
            .sh("S3.5")
            .cis(&["CIS AWS Foundations Benchmark v1.4.0/2.1.2"])
            .rule("s3-bucket-ssl-requests-only")
            .fix("Add a bucket policy statement that denies `s3:*` when `aws:SecureTransport` is `false`.")
            .reads(&[POLICY])
            .eval(|r, _| {
                let Some(doc) = bucket_policy(r) else {
                    return Outcome::fail("the bucket has no policy denying plain HTTP", POLICY, Value::Null);
                };
                let denies = statements(&doc).iter().any(|s| {
                    let deny = ci(s, "Effect").and_then(Value::as_str).is_some_and(|e| e.eq_ignore_ascii_case("deny"));
                    let cond = ci(s, "Condition")
                        .and_then(|c| ci(c, "Bool"))
                        .and_then(|b| ci(b, "aws:SecureTransport"))
                        .map(|v| strings(Some(v)).iter().any(|x| x.eq_ignore_ascii_case("false")) || v == &json!(false))
                        .unwrap_or(false);
                    deny && cond
                });
                if denies {
                    Outcome::pass(POLICY, json!("Deny when aws:SecureTransport is false"))
                } else {
                    Outcome::fail("the bucket policy does not deny requests without TLS", POLICY, doc)
                }
            }),
    );
    v.push(
        def("aws.s3.versioning", Low, S3, "S3 buckets have versioning enabled")
            .sh("S3.14")
            .rule("s3-bucket-versioning-enabled")
            .fix("Enable versioning: `aws s3api put-bucket-versioning --bucket NAME --versioning-configuration Status=Enabled`.")
            .reads(&["supplementaryConfiguration.BucketVersioningConfiguration"])
            .eval(|r, _| {
                let p = "supplementaryConfiguration.BucketVersioningConfiguration.status";
                match supp(r, &["BucketVersioningConfiguration", "status"]) {
                    Some(Value::String(s)) if s.eq_ignore_ascii_case("enabled") => Outcome::pass(p, s),
                    other => Outcome::fail("versioning is not enabled", p, other.unwrap_or(Value::Null)),
                }
            }),
    );
    v.push(
        def("aws.s3.access-logging", Medium, S3, "S3 buckets have server access logging enabled")
            .sh("S3.9")
            .rule("s3-bucket-logging-enabled")
            .fix("Enable server access logging to a dedicated log bucket (`aws s3api put-bucket-logging`).")
            .reads(&["supplementaryConfiguration.BucketLoggingConfiguration"])
            .eval(|r, _| {
                expect_nonempty(supp(r, &["BucketLoggingConfiguration", "destinationBucketName"]), "supplementaryConfiguration.BucketLoggingConfiguration.destinationBucketName", "server access logging is not enabled")
            }),
    );
    v.push(
        def(
            "aws.s3.lifecycle-policy",
            Low,
            S3,
            "S3 buckets have a lifecycle configuration",
        )
        .sh("S3.13")
        .rule("s3-lifecycle-policy-check")
        .fix("Add a lifecycle configuration that expires or transitions objects.")
        .reads(&["supplementaryConfiguration.BucketLifecycleConfiguration"])
        .eval(|r, _| {
            let p = "supplementaryConfiguration.BucketLifecycleConfiguration.rules";
            match supp(r, &["BucketLifecycleConfiguration", "rules"]) {
                Some(Value::Array(a)) if !a.is_empty() => Outcome::pass(p, json!(a.len())),
                other => Outcome::fail(
                    "the bucket has no lifecycle rules",
                    p,
                    other.unwrap_or(Value::Null),
                ),
            }
        }),
    );
    v.push(
        def("aws.s3.acl-prohibited", Medium, S3, "S3 buckets do not use ACLs to grant access to others")
            .sh("S3.12")
            .rule("s3-bucket-acl-prohibited")
            .fix("Set Object Ownership to `BucketOwnerEnforced` to disable ACLs, and grant access with policies.")
            .reads(&[ACL])
            .eval(|r, _| {
                let Some(acl) = supp(r, &["AccessControlList"]) else {
                    return Outcome::pass(ACL, Value::Null);
                };
                let owner = cpath(&acl, &["owner", "id"]).and_then(|v| v.as_str().map(str::to_string));
                let grants = ci(&acl, "grantList").or_else(|| ci(&acl, "Grants")).and_then(Value::as_array).cloned().unwrap_or_default();
                let others: Vec<Value> = grants
                    .into_iter()
                    .filter(|g| {
                        let id = ci(g, "grantee").and_then(|x| ci(x, "id")).and_then(Value::as_str).map(str::to_string);
                        id.is_none() || id != owner
                    })
                    .collect();
                if others.is_empty() {
                    Outcome::pass(ACL, json!("owner only"))
                } else {
                    Outcome::fail(format!("the bucket ACL has {} grant(s) to others than the owner", others.len()), ACL, Value::Array(others))
                }
            }),
    );

    // EBS
    v.push(
        def("aws.ec2.ebs-encrypted", Medium, &["AWS::EC2::Volume"], "EBS volumes are encrypted at rest")
            .sh("EC2.3")
            .rule("encrypted-volumes")
            .fix("Create an encrypted snapshot copy and replace the volume; enable EBS encryption by default in every region.")
            .reads(&["configuration.encrypted"])
            .eval(|r, _| expect_bool(conf(r, &["encrypted"]), "configuration.encrypted", true, "the volume is not encrypted", None)),
    );

    // ECR
    const ECR: &[&str] = &["AWS::ECR::Repository"];
    v.push(
        def(
            "aws.ecr.image-scanning",
            High,
            ECR,
            "ECR repositories scan images on push",
        )
        .sh("ECR.1")
        .rule("ecr-private-image-scanning-enabled")
        .fix("Enable scan on push (or enhanced scanning with Amazon Inspector) for the repository.")
        .reads(&["configuration.ImageScanningConfiguration"])
        .eval(|r, _| {
            expect_bool(
                conf(r, &["ImageScanningConfiguration", "ScanOnPush"]),
                "configuration.ImageScanningConfiguration.ScanOnPush",
                true,
                "images are not scanned on push",
                None,
            )
        }),
    );
    v.push(
        def("aws.ecr.tag-immutability", Medium, ECR, "ECR repositories have tag immutability")
            .sh("ECR.2")
            .rule("ecr-private-tag-immutability-enabled")
            .fix("Set image tag mutability to IMMUTABLE so a tag always names the image that was scanned and deployed.")
            .reads(&["configuration.ImageTagMutability"])
            .eval(|r, _| {
                let p = "configuration.ImageTagMutability";
                match conf(r, &["ImageTagMutability"]) {
                    Some(Value::String(s)) if s.eq_ignore_ascii_case("IMMUTABLE") => Outcome::pass(p, s),
                    other => Outcome::fail("image tags are mutable", p, other.unwrap_or(Value::Null)),
                }
            }),
    );
    v.push(
        def(
            "aws.ecr.lifecycle-policy",
            Medium,
            ECR,
            "ECR repositories have a lifecycle policy",
        )
        .sh("ECR.3")
        .rule("ecr-private-lifecycle-policy-configured")
        .fix("Add a lifecycle policy that expires untagged and old images.")
        .reads(&["configuration.LifecyclePolicy"])
        .eval(|r, _| {
            let p = "configuration.LifecyclePolicy.LifecyclePolicyText";
            match conf(r, &["LifecyclePolicy", "LifecyclePolicyText"]) {
                Some(Value::String(s)) if !s.trim().is_empty() => {
                    Outcome::pass(p, json!("present"))
                }
                other => Outcome::fail(
                    "the repository has no lifecycle policy",
                    p,
                    other.unwrap_or(Value::Null),
                ),
            }
        }),
    );
}
