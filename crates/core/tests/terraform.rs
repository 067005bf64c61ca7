//! Terraform plans through the same normaliser, policy and checks: real plans from Checkov's
//! and Trivy's test suites (see data/PROVENANCE.jsonl) and small hand-made ones for the edges.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;

use assetwarden_core::checks::catalog;
use assetwarden_core::finding::{Finding, Status};
use assetwarden_core::source::SourceEvent;
use assetwarden_core::terraform::{parse_plan, plan_events};
use assetwarden_core::{Engine, Policy, ScanReport};
use chrono::{TimeZone, Utc};
use serde_json::json;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/terraform")
            .join(name),
    )
    .unwrap()
}

fn scan_bytes(bytes: &[u8], policy: Option<&str>) -> ScanReport {
    let plan = parse_plan(bytes, "plan.json").unwrap();
    let mut b = Engine::builder().now(Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap());
    if let Some(p) = policy {
        b = b.policy(Policy::from_str_named(p, "policy.yaml", &catalog()).unwrap());
    }
    let engine = b.build().unwrap();
    let mut rb = engine.report_builder(true);
    engine.scan_iter(plan_events(&plan, "plan.json").into_iter(), &mut rb);
    engine.finish(rb)
}

fn find<'a>(r: &'a ScanReport, address: &str, check: &str) -> &'a Finding {
    r.findings
        .iter()
        .find(|f| f.resource.arn == address && f.check_id == check)
        .unwrap_or_else(|| {
            panic!(
                "no {check} on {address}: {:?}",
                r.findings
                    .iter()
                    .map(|f| (&f.resource.arn, &f.check_id))
                    .collect::<Vec<_>>()
            )
        })
}

#[test]
fn companions_merge_into_their_bucket() {
    let r = scan_bytes(&data("trivy__plan.json"), None);
    let enc = find(&r, "aws_s3_bucket.planbucket", "aws.s3.encryption");
    assert_eq!(enc.status, Status::Pass);
    assert_eq!(
        enc.evidence[0].source.as_deref(),
        Some("aws_s3_bucket_server_side_encryption_configuration.example.rule"),
        "{:?}",
        enc.evidence
    );
    assert_eq!(
        find(&r, "aws_s3_bucket.planbucket", "aws.s3.versioning").status,
        Status::Pass
    );
    assert_eq!(
        find(&r, "aws_s3_bucket.planbucket", "aws.s3.access-logging").status,
        Status::Pass
    );
    assert_eq!(
        find(&r, "aws_s3_bucket.planbucket", "aws.s3.public-access-block").status,
        Status::Fail
    );
    // The companion is not judged on its own.
    assert!(
        !r.findings
            .iter()
            .any(|f| f.resource.arn.starts_with("aws_s3_bucket_server_side"))
    );
    assert_eq!(
        find(
            &r,
            "aws_security_group.sg",
            "aws.ec2.sg-no-ssh-from-internet"
        )
        .status,
        Status::Pass
    );
    assert_eq!(
        find(
            &r,
            "aws_security_group.sg",
            "aws.ec2.sg-authorized-ports-only"
        )
        .status,
        Status::Pass
    );
}

#[test]
fn module_companions_link_through_references() {
    let r = scan_bytes(
        &data("checkov__parser__plan_module_with_connected_resources__tfplan.json"),
        None,
    );
    let f = find(
        &r,
        "module.s3-bucket.aws_s3_bucket.this[0]",
        "aws.s3.public-access-block",
    );
    assert_eq!(f.status, Status::Pass, "{}", f.message);
    assert!(
        f.evidence[0]
            .source
            .as_deref()
            .unwrap()
            .starts_with("module.s3-bucket.aws_s3_bucket_public_access_block.this[0]")
    );
}

#[test]
fn utf16_plans_read_like_utf8_ones() {
    let a = scan_bytes(
        &data("checkov__parser__plan_encodings__tfplan_mac_utf8.json"),
        None,
    );
    let b = scan_bytes(
        &data("checkov__parser__plan_encodings__tfplan_win_utf16.json"),
        None,
    );
    let s = |r: &ScanReport| {
        r.findings
            .iter()
            .map(|f| (f.check_id.clone(), f.status))
            .collect::<Vec<_>>()
    };
    assert!(!a.findings.is_empty());
    assert_eq!(s(&a), s(&b));
    let p = parse_plan(
        &data("checkov__parser__plan_encodings__tfplan_win_utf16.json"),
        "w.json",
    )
    .unwrap();
    assert_eq!(p.encoding_note, Some("UTF-16LE"));
}

#[test]
fn bad_plans_get_clear_errors() {
    let e = parse_plan(
        &data("checkov__runner__plan__corrupted-tfplan.json"),
        "c.json",
    )
    .unwrap_err();
    assert!(e.0.contains("state"), "{e}");
    let e = parse_plan(
        b"{\"format_version\": \"1.1\", \"resource_changes\": [",
        "t.json",
    )
    .unwrap_err();
    assert!(e.0.starts_with("t.json:1:"), "{e}");
    assert!(e.0.contains("not valid JSON"), "{e}");
    let e = parse_plan(
        b"{\"format_version\": \"3.0\", \"resource_changes\": []}",
        "v.json",
    )
    .unwrap_err();
    assert!(e.0.contains("`3.0` is not supported"), "{e}");
    let mut truncated = data("checkov__parser__plan_encodings__tfplan_win_utf16.json");
    truncated.pop();
    assert!(
        parse_plan(&truncated, "x.json")
            .unwrap_err()
            .0
            .contains("truncated")
    );
}

#[test]
fn terragoat_verdicts_name_addresses_and_attributes() {
    let r = scan_bytes(&data("checkov__runner__plan__tfplan.json"), None);
    let f = find(&r, "aws_db_instance.default", "aws.rds.public-access");
    assert_eq!(f.status, Status::Fail);
    assert_eq!(f.resource.name, "aws_db_instance.default");
    assert_eq!(
        f.evidence[0].source.as_deref(),
        Some("aws_db_instance.default.publicly_accessible")
    );
    assert_eq!(
        find(
            &r,
            "aws_security_group.web-node",
            "aws.ec2.sg-no-ssh-from-internet"
        )
        .status,
        Status::Fail
    );
    assert_eq!(
        find(&r, "aws_s3_bucket.data", "aws.s3.public-read-prohibited").status,
        Status::Fail
    );
    assert_eq!(
        find(&r, "aws_kms_key.logs_key", "aws.kms.key-rotation").status,
        Status::Fail
    );
    assert_eq!(
        find(
            &r,
            "aws_lambda_function.analysis_lambda",
            "aws.lambda.supported-runtime"
        )
        .status,
        Status::Fail
    );
    // Known only after apply: never a pass.
    let ebs = find(
        &r,
        "aws_ebs_volume.web_host_storage",
        "aws.ec2.ebs-encrypted",
    );
    assert_eq!(ebs.status, Status::Unknown);
    assert!(
        ebs.message.contains("known only after apply"),
        "{}",
        ebs.message
    );
}

#[test]
fn iam_policies_from_a_plan() {
    let r = scan_bytes(
        &data("checkov__runner__plan_with_iam_policies__tfplan.json"),
        None,
    );
    let statuses: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.check_id.starts_with("aws.iam."))
        .map(|f| (f.resource.arn.as_str(), f.check_id.as_str(), f.status))
        .collect();
    assert!(
        statuses
            .iter()
            .any(|(a, c, s)| a.starts_with("aws_iam_policy.")
                && *c == "aws.iam.policy-no-admin"
                && *s != Status::Unknown),
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .any(|(a, c, s)| a.starts_with("aws_iam_user.")
                && *c == "aws.iam.user-no-policies"
                && *s == Status::Fail),
        "{statuses:?}"
    );
}

fn plan(changes: serde_json::Value, config: serde_json::Value) -> Vec<u8> {
    json!({"format_version": "1.2", "terraform_version": "1.9.0", "resource_changes": changes, "configuration": config}).to_string().into_bytes()
}

fn rc(
    address: &str,
    rtype: &str,
    actions: &[&str],
    after: serde_json::Value,
    unknown: serde_json::Value,
) -> serde_json::Value {
    let name = address.rsplit('.').next().unwrap();
    json!({"address": address, "mode": "managed", "type": rtype, "name": name, "change": {"actions": actions, "before": null, "after": after, "after_unknown": unknown}})
}

#[test]
fn deletions_are_not_judged_and_replacements_are() {
    let p = plan(
        json!([
            rc(
                "aws_ebs_volume.old",
                "aws_ebs_volume",
                &["delete"],
                json!(null),
                json!({})
            ),
            rc(
                "aws_ebs_volume.new",
                "aws_ebs_volume",
                &["delete", "create"],
                json!({"encrypted": false}),
                json!({})
            ),
        ]),
        json!({}),
    );
    let parsed = parse_plan(&p, "p.json").unwrap();
    let evs = plan_events(&parsed, "p.json");
    assert!(evs.iter().any(
        |e| matches!(e, SourceEvent::Skipped { location, .. } if location == "aws_ebs_volume.old")
    ));
    let r = scan_bytes(&p, None);
    assert!(
        !r.findings
            .iter()
            .any(|f| f.resource.arn == "aws_ebs_volume.old")
    );
    assert_eq!(
        find(&r, "aws_ebs_volume.new", "aws.ec2.ebs-encrypted").status,
        Status::Fail
    );
}

const TAG_POLICY: &str = r#"
version: 1
classification:
  tags:
    - key: Owner
      default: platform@example.com
    - key: Environment
      allowed: [prod, dev]
checks:
  select: [{ids: ["aws.ec2.ebs-encrypted"]}]
"#;

#[test]
fn default_tags_count_and_missing_tags_say_what_they_would_get() {
    let config = json!({"provider_config": {"aws": {"name": "aws", "expressions": {"default_tags": [{"tags": {"constant_value": {"Environment": "prod"}}}]}}}});
    let p = plan(
        json!([rc(
            "aws_ebs_volume.data",
            "aws_ebs_volume",
            &["create"],
            json!({"encrypted": true, "tags": {"Name": "data"}}),
            json!({"tags_all": true})
        )]),
        config,
    );
    let r = scan_bytes(&p, Some(TAG_POLICY));
    assert_eq!(
        find(&r, "aws_ebs_volume.data", "tag-policy.Environment").status,
        Status::Pass
    );
    let owner = find(&r, "aws_ebs_volume.data", "tag-policy.Owner");
    assert_eq!(owner.status, Status::Fail);
    assert!(
        owner
            .message
            .contains("tag `Owner` is missing; the tag plan gives it `platform@example.com`"),
        "{}",
        owner.message
    );
    assert_eq!(
        owner.evidence[0].source.as_deref(),
        Some("aws_ebs_volume.data.tags")
    );
    // Tags computed from a dynamic expression: unknown, never a pass.
    let p = plan(
        json!([rc(
            "aws_ebs_volume.data",
            "aws_ebs_volume",
            &["create"],
            json!({"encrypted": true}),
            json!({"tags": true, "tags_all": true})
        )]),
        json!({}),
    );
    let r = scan_bytes(&p, Some(TAG_POLICY));
    assert_eq!(
        find(&r, "aws_ebs_volume.data", "tag-policy.Environment").status,
        Status::Unknown
    );
}

#[test]
fn unknown_values_are_unknown() {
    let p = plan(
        json!([rc(
            "aws_db_instance.db",
            "aws_db_instance",
            &["create"],
            json!({"publicly_accessible": false}),
            json!({"storage_encrypted": true, "kms_key_id": true})
        )]),
        json!({"root_module": {"resources": [{"address": "aws_db_instance.db", "expressions": {"storage_encrypted": {"references": ["var.encrypt"]}}}]}}),
    );
    let r = scan_bytes(&p, None);
    assert_eq!(
        find(&r, "aws_db_instance.db", "aws.rds.storage-encrypted").status,
        Status::Unknown
    );
    assert_eq!(
        find(&r, "aws_db_instance.db", "aws.rds.public-access").status,
        Status::Pass
    );
}

#[test]
fn new_buckets_get_aws_defaults_for_what_the_configuration_leaves_out() {
    let p = plan(
        json!([rc(
            "aws_s3_bucket.b",
            "aws_s3_bucket",
            &["create"],
            json!({"bucket": "b"}),
            json!({"server_side_encryption_configuration": true, "versioning": true, "acl": true, "policy": true, "logging": true, "lifecycle_rule": true})
        )]),
        json!({"root_module": {"resources": [{"address": "aws_s3_bucket.b", "expressions": {"bucket": {"constant_value": "b"}}}]}}),
    );
    let r = scan_bytes(&p, None);
    assert_eq!(
        find(&r, "aws_s3_bucket.b", "aws.s3.encryption").status,
        Status::Pass
    );
    assert_eq!(
        find(&r, "aws_s3_bucket.b", "aws.s3.versioning").status,
        Status::Fail
    );
    assert_eq!(
        find(&r, "aws_s3_bucket.b", "aws.s3.acl-prohibited").status,
        Status::Pass
    );
    assert_eq!(
        find(&r, "aws_s3_bucket.b", "aws.s3.public-read-prohibited").status,
        Status::Pass
    );
}

#[test]
fn rules_of_an_existing_group_are_judged_on_their_own() {
    let p = plan(
        json!([
            rc(
                "aws_vpc_security_group_ingress_rule.ssh",
                "aws_vpc_security_group_ingress_rule",
                &["create"],
                json!({"security_group_id": "sg-123", "cidr_ipv4": "0.0.0.0/0", "from_port": 22, "to_port": 22, "ip_protocol": "tcp"}),
                json!({})
            ),
            rc(
                "aws_security_group.web",
                "aws_security_group",
                &["create"],
                json!({"name": "web", "ingress": []}),
                json!({"id": true})
            ),
            rc(
                "aws_security_group_rule.rdp",
                "aws_security_group_rule",
                &["create"],
                json!({"type": "ingress", "cidr_blocks": ["0.0.0.0/0"], "from_port": 3389, "to_port": 3389, "protocol": "tcp"}),
                json!({"security_group_id": true})
            ),
        ]),
        json!({"root_module": {"resources": [
            {"address": "aws_security_group_rule.rdp", "expressions": {"security_group_id": {"references": ["aws_security_group.web.id", "aws_security_group.web"]}}},
            {"address": "aws_security_group.web", "expressions": {"name": {"constant_value": "web"}}}
        ]}}),
    );
    let r = scan_bytes(&p, None);
    // Linked by reference: the rule is part of the group.
    assert_eq!(
        find(
            &r,
            "aws_security_group.web",
            "aws.ec2.sg-no-rdp-from-internet"
        )
        .status,
        Status::Fail
    );
    // Target not in the plan: the rule is judged alone, under its own address.
    let f = find(
        &r,
        "aws_vpc_security_group_ingress_rule.ssh",
        "aws.ec2.sg-no-ssh-from-internet",
    );
    assert_eq!(f.status, Status::Fail);
    assert!(
        f.resource.name.contains("not in this plan"),
        "{}",
        f.resource.name
    );
}
