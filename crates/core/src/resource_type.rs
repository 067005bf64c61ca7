//! Resource types in CloudFormation / AWS Config naming (`AWS::S3::Bucket`).

use crate::arn::Arn;

/// Maps an ARN's service and resource type to its CloudFormation type, for every type the
/// built-in check pack covers (and a few neighbours). `None` when the ARN names a type the
/// mapping does not know.
pub fn cfn_type_of(arn: &Arn) -> Option<&'static str> {
    let rtype = arn.resource_type();
    let id = arn.resource_id();
    Some(match (arn.service(), rtype) {
        ("s3", None) if !id.contains('/') => "AWS::S3::Bucket",
        ("ec2", Some("instance")) => "AWS::EC2::Instance",
        ("ec2", Some("security-group")) => "AWS::EC2::SecurityGroup",
        ("ec2", Some("volume")) => "AWS::EC2::Volume",
        ("ec2", Some("snapshot")) => "AWS::EC2::Snapshot",
        ("ec2", Some("vpc")) => "AWS::EC2::VPC",
        ("ec2", Some("subnet")) => "AWS::EC2::Subnet",
        ("ec2", Some("network-interface")) => "AWS::EC2::NetworkInterface",
        ("ec2", Some("network-acl")) => "AWS::EC2::NetworkAcl",
        ("ec2", Some("elastic-ip")) => "AWS::EC2::EIP",
        ("ec2", Some("launch-template")) => "AWS::EC2::LaunchTemplate",
        ("rds", Some("db")) => "AWS::RDS::DBInstance",
        ("rds", Some("cluster")) => "AWS::RDS::DBCluster",
        ("rds", Some("snapshot")) => "AWS::RDS::DBSnapshot",
        ("rds", Some("cluster-snapshot")) => "AWS::RDS::DBClusterSnapshot",
        ("rds", Some("subgrp")) => "AWS::RDS::DBSubnetGroup",
        ("elasticloadbalancing", Some("loadbalancer"))
            if id.starts_with("app/") || id.starts_with("net/") || id.starts_with("gwy/") =>
        {
            "AWS::ElasticLoadBalancingV2::LoadBalancer"
        }
        ("elasticloadbalancing", Some("loadbalancer")) => "AWS::ElasticLoadBalancing::LoadBalancer",
        ("elasticloadbalancing", Some("listener")) => "AWS::ElasticLoadBalancingV2::Listener",
        ("elasticloadbalancing", Some("targetgroup")) => "AWS::ElasticLoadBalancingV2::TargetGroup",
        ("ecr", Some("repository")) => "AWS::ECR::Repository",
        ("ecs", Some("cluster")) => "AWS::ECS::Cluster",
        ("ecs", Some("service")) => "AWS::ECS::Service",
        ("ecs", Some("task-definition")) => "AWS::ECS::TaskDefinition",
        ("iam", Some("user")) => "AWS::IAM::User",
        ("iam", Some("role")) => "AWS::IAM::Role",
        ("iam", Some("group")) => "AWS::IAM::Group",
        ("iam", Some("policy")) => "AWS::IAM::Policy",
        ("lambda", Some("function")) => "AWS::Lambda::Function",
        ("cloudtrail", Some("trail")) => "AWS::CloudTrail::Trail",
        ("kms", Some("key")) => "AWS::KMS::Key",
        ("kms", Some("alias")) => "AWS::KMS::Alias",
        ("route53", Some("hostedzone")) => "AWS::Route53::HostedZone",
        ("route53", Some("healthcheck")) => "AWS::Route53::HealthCheck",
        ("dynamodb", Some("table")) => "AWS::DynamoDB::Table",
        ("sns", None) => "AWS::SNS::Topic",
        ("sqs", None) => "AWS::SQS::Queue",
        ("logs", Some("log-group")) => "AWS::Logs::LogGroup",
        ("eks", Some("cluster")) => "AWS::EKS::Cluster",
        _ => return None,
    })
}

/// Whether `text` has the shape of a CloudFormation type name (`AWS::Service::Thing`).
pub fn is_cfn_type_name(text: &str) -> bool {
    let mut parts = text.split("::");
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && p.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && p.chars().all(|c| c.is_ascii_alphanumeric())
        })
    };
    ok(parts.next()) && ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_every_covered_type() {
        for (arn, ty) in [
            ("arn:aws:s3:::b", "AWS::S3::Bucket"),
            (
                "arn:aws:ec2:us-east-1:123456789012:instance/i-1",
                "AWS::EC2::Instance",
            ),
            (
                "arn:aws:ec2:us-east-1:123456789012:security-group/sg-1",
                "AWS::EC2::SecurityGroup",
            ),
            (
                "arn:aws:ec2:us-east-1:123456789012:volume/vol-1",
                "AWS::EC2::Volume",
            ),
            (
                "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-1",
                "AWS::EC2::Subnet",
            ),
            (
                "arn:aws:rds:us-east-1:123456789012:db:x",
                "AWS::RDS::DBInstance",
            ),
            (
                "arn:aws:rds:us-east-1:123456789012:cluster:x",
                "AWS::RDS::DBCluster",
            ),
            (
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
                "AWS::ElasticLoadBalancingV2::LoadBalancer",
            ),
            (
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/classic",
                "AWS::ElasticLoadBalancing::LoadBalancer",
            ),
            (
                "arn:aws:ecr:us-east-1:123456789012:repository/web/api",
                "AWS::ECR::Repository",
            ),
            (
                "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
                "AWS::ECS::Cluster",
            ),
            (
                "arn:aws:ecs:us-east-1:123456789012:service/prod/web",
                "AWS::ECS::Service",
            ),
            (
                "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
                "AWS::ECS::TaskDefinition",
            ),
            ("arn:aws:iam::123456789012:user/alice", "AWS::IAM::User"),
            ("arn:aws:iam::123456789012:policy/p", "AWS::IAM::Policy"),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:f",
                "AWS::Lambda::Function",
            ),
            (
                "arn:aws:cloudtrail:us-east-1:123456789012:trail/t",
                "AWS::CloudTrail::Trail",
            ),
            (
                "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                "AWS::KMS::Key",
            ),
            (
                "arn:aws:route53:::hostedzone/Z1D633PJN98FT9",
                "AWS::Route53::HostedZone",
            ),
        ] {
            let a = Arn::parse(arn).unwrap();
            assert_eq!(cfn_type_of(&a), Some(ty), "{arn}");
        }
        let obj = Arn::parse("arn:aws:s3:::b/key.txt").unwrap();
        assert_eq!(cfn_type_of(&obj), None);
    }

    #[test]
    fn cfn_names() {
        assert!(is_cfn_type_name("AWS::S3::Bucket"));
        assert!(is_cfn_type_name(
            "AWS::ElasticLoadBalancingV2::LoadBalancer"
        ));
        assert!(!is_cfn_type_name("AWS::S3"));
        assert!(!is_cfn_type_name("aws_s3_bucket"));
        assert!(!is_cfn_type_name("AWS::S3::Bucket::X"));
    }
}
