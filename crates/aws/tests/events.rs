//! CloudTrail creation events, from the real records in `tests/data/cloudtrail` (see
//! `tests/data/PROVENANCE.jsonl`): which resources, which creator, and what is ignored.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use assetwarden_aws::events::{creation, records};
use serde_json::Value;

fn load(name: &str) -> Value {
    let p = format!(
        "{}/tests/data/cloudtrail/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn one(name: &str) -> assetwarden_aws::events::CreationRecord {
    let doc = load(name);
    let recs = records(&doc).unwrap();
    assert_eq!(recs.len(), 1, "{name}");
    creation(recs[0]).unwrap().unwrap()
}

#[test]
fn create_bucket_by_root_in_an_eventbridge_envelope() {
    let r = one("event-cloud-trail-create-bucket.json");
    assert_eq!(r.created.len(), 1);
    assert_eq!(r.created[0].arn, "arn:aws:s3:::custodian-create-bucket-v4");
    assert_eq!(r.created[0].region, "us-west-2");
    assert_eq!(r.creator.creator_type.as_deref(), Some("Root"));
    assert_eq!(r.creator.creator_name.as_deref(), Some("root"));
    assert_eq!(
        r.event_id.as_deref(),
        Some("c4fa3db1-2303-40e4-bde0-3b7246bdbf0b")
    );
    assert_eq!(
        r.creator.time.map(|t| t.to_rfc3339()),
        Some("2016-06-04T12:19:03+00:00".into())
    );
}

#[test]
fn run_instances_by_an_iam_user_and_by_an_assumed_role() {
    let u = one("event-cloud-trail-run-instance-creator.json");
    assert_eq!(u.creator.creator_type.as_deref(), Some("IAMUser"));
    assert_eq!(u.creator.creator_name.as_deref(), Some("c7nbot"));
    assert_eq!(u.created[0].resource_type, "AWS::EC2::Instance");
    assert!(
        u.created[0].arn.ends_with(":instance/i-0f7c711dc84bedda0"),
        "{}",
        u.created[0].arn
    );

    let a = one("event-cloud-trail-run-instance-creator-assumed.json");
    assert_eq!(a.creator.creator_type.as_deref(), Some("AssumedRole"));
    assert_eq!(a.session_name.as_deref(), Some("Radiant"));
    assert_eq!(a.creator.creator_name.as_deref(), Some("Radiant"));
    assert_eq!(
        a.role_arn.as_deref(),
        Some("arn:aws:iam::03412312600:role/GR_Dev_Developer")
    );
    assert_eq!(
        a.creator.creator_arn.as_deref(),
        Some("arn:aws:sts::03412312600:assumed-role/GR_Dev_Developer/Radiant")
    );

    let root = one("event-cloud-trail-run-instances.json");
    assert_eq!(
        root.created[0].arn,
        "arn:aws:ec2:us-west-1:619193117841:instance/i-784cdacd"
    );
}

#[test]
fn create_db_instance_volume_user_and_table() {
    let db = one("amazon-rds-user-guide__01__CreateDBInstance.json");
    assert_eq!(
        db.created[0].arn,
        "arn:aws:rds:us-east-1:123456789012:db:test-instance"
    );
    assert_eq!(db.creator.creator_name.as_deref(), Some("johndoe"));
    let db2 = one("event-cloud-trail-create-db.json");
    assert_eq!(db2.created[0].resource_type, "AWS::RDS::DBInstance");
    let vol = one("event-cloud-trail-create-volume.json");
    assert!(vol.created[0].arn.ends_with(":volume/vol-97c02b3e"));
    let user = one("aws-cloudtrail-user-guide__04__CreateUser.json");
    assert_eq!(user.created[0].arn, "arn:aws:iam::123456789012:user/Bob");
    assert_eq!(user.created[0].region, "global");
    assert_eq!(user.creator.creator_name.as_deref(), Some("Alice"));
    // A CloudTrail log file with six records: only CreateTable creates something here (DAX's
    // CreateCluster is not ECS's).
    let doc = load(
        "amazon-dynamodb-developer-guide__01__CreateCluster+CreateTable+DeleteTable+DescribeTable+ListTables+UpdateTable.json",
    );
    let created: Vec<_> = records(&doc)
        .unwrap()
        .into_iter()
        .filter_map(|r| creation(r).unwrap())
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].created[0].resource_type, "AWS::DynamoDB::Table");
    assert_eq!(created[0].session_name.as_deref(), Some("bob"));
}

#[test]
fn sso_sessions_and_failed_calls() {
    let doc = load("example-cloudwatch-cloudtrail-assumed-role.json");
    let rec = records(&doc).unwrap()[0];
    // Not a creation this tool handles.
    assert!(creation(rec).unwrap().is_none());
    let (ev, session, _, _) = assetwarden_aws::events::creator(rec);
    assert_eq!(ev.creator_type.as_deref(), Some("SSOUser"));
    assert_eq!(session.as_deref(), Some("me@dev.com"));
    assert_eq!(ev.creator_name.as_deref(), Some("me@dev.com"));

    let mut doc = load("event-cloud-trail-create-bucket.json");
    doc["detail"]["errorCode"] = Value::String("AccessDenied".into());
    assert!(creation(records(&doc).unwrap()[0]).unwrap().is_none());
}

#[test]
fn not_cloudtrail_is_a_clear_error() {
    let e =
        records(&serde_json::json!({"detail-type": "Scheduled Event", "detail": {}})).unwrap_err();
    assert!(e.to_string().contains("Scheduled Event"), "{e}");
    let e = records(&serde_json::json!({"hello": 1})).unwrap_err();
    assert!(e.to_string().contains("eventName"), "{e}");
    let bare_no_id = serde_json::json!({"eventName": "CreateBucket", "eventSource": "s3.amazonaws.com", "awsRegion": "us-east-1"});
    let e = creation(&bare_no_id).unwrap_err();
    assert!(e.to_string().contains("CreateBucket"), "{e}");
}

/// Synthetic records for the creations with no public recording here (shapes from the AWS API
/// references' response elements): each yields the right ARN and type.
#[test]
fn the_other_creations_of_a_web_system() {
    let cases = [
        (
            "ec2.amazonaws.com",
            "CreateSecurityGroup",
            serde_json::json!({"responseElements": {"_return": true, "groupId": "sg-0abc"}}),
            "arn:aws:ec2:eu-west-1:111111111111:security-group/sg-0abc",
            "AWS::EC2::SecurityGroup",
        ),
        (
            "lambda.amazonaws.com",
            "CreateFunction20150331",
            serde_json::json!({"responseElements": {"functionArn": "arn:aws:lambda:eu-west-1:111111111111:function:f"}}),
            "arn:aws:lambda:eu-west-1:111111111111:function:f",
            "AWS::Lambda::Function",
        ),
        (
            "elasticloadbalancing.amazonaws.com",
            "CreateLoadBalancer",
            serde_json::json!({"responseElements": {"loadBalancers": [{"loadBalancerArn": "arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app/web/1"}]}}),
            "arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app/web/1",
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
        ),
        (
            "ecr.amazonaws.com",
            "CreateRepository",
            serde_json::json!({"responseElements": {"repository": {"repositoryArn": "arn:aws:ecr:eu-west-1:111111111111:repository/web"}}}),
            "arn:aws:ecr:eu-west-1:111111111111:repository/web",
            "AWS::ECR::Repository",
        ),
        (
            "ecs.amazonaws.com",
            "CreateCluster",
            serde_json::json!({"responseElements": {"cluster": {"clusterArn": "arn:aws:ecs:eu-west-1:111111111111:cluster/c"}}}),
            "arn:aws:ecs:eu-west-1:111111111111:cluster/c",
            "AWS::ECS::Cluster",
        ),
        (
            "ecs.amazonaws.com",
            "CreateService",
            serde_json::json!({"responseElements": {"service": {"serviceArn": "arn:aws:ecs:eu-west-1:111111111111:service/c/s"}}}),
            "arn:aws:ecs:eu-west-1:111111111111:service/c/s",
            "AWS::ECS::Service",
        ),
        (
            "route53.amazonaws.com",
            "CreateHostedZone",
            serde_json::json!({"responseElements": {"hostedZone": {"id": "/hostedzone/Z123"}}}),
            "arn:aws:route53:::hostedzone/Z123",
            "AWS::Route53::HostedZone",
        ),
        (
            "iam.amazonaws.com",
            "CreateRole",
            serde_json::json!({"responseElements": {"role": {"arn": "arn:aws:iam::111111111111:role/r"}}}),
            "arn:aws:iam::111111111111:role/r",
            "AWS::IAM::Role",
        ),
    ];
    for (src, name, extra, arn, t) in cases {
        let mut rec = serde_json::json!({"eventName": name, "eventSource": src, "awsRegion": "eu-west-1", "recipientAccountId": "111111111111",
            "userIdentity": {"type": "AWSService", "invokedBy": "cloudformation.amazonaws.com"}});
        for (k, v) in extra.as_object().unwrap() {
            rec[k] = v.clone();
        }
        let c = creation(&rec).unwrap().unwrap_or_else(|| panic!("{name}"));
        assert_eq!(c.created[0].arn, arn, "{name}");
        assert_eq!(c.created[0].resource_type, t, "{name}");
        assert_eq!(
            c.creator.creator_name.as_deref(),
            Some("cloudformation.amazonaws.com")
        );
    }
}
