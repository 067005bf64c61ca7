"""The ops-script example against moto's server: boto3 lists, the engine judges, the tag plan
is applied and read back with boto3."""
import os
import pathlib
import subprocess
import sys

import boto3

ROOT = pathlib.Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "python" / "ops_script.py"
POLICY = ROOT / "examples" / "python" / "policy.yaml"


def seed(url):
    s3 = boto3.client("s3", endpoint_url=url, region_name="eu-west-1")
    ec2 = boto3.client("ec2", endpoint_url=url, region_name="eu-west-1")
    loc = {"LocationConstraint": "eu-west-1"}
    s3.create_bucket(Bucket="prod-open-data", CreateBucketConfiguration=loc)
    s3.create_bucket(Bucket="dev-locked", CreateBucketConfiguration=loc)
    s3.put_public_access_block(Bucket="dev-locked", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_bucket_versioning(Bucket="dev-locked", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_tagging(Bucket="dev-locked", Tagging={"TagSet": [{"Key": "Team", "Value": "data"}]})
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    sg = ec2.create_security_group(GroupName="prod-bastion", Description="bastion", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.micro")
    return s3, ec2, sg


def run(url, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="eu-west-1")
    return subprocess.run([sys.executable, str(EXAMPLE), "--policy", str(POLICY), "--endpoint-url", url, *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_example_reports_and_applies_the_tag_plan(moto_url, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    s3, ec2, sg = seed(moto_url)
    dry = run(moto_url)
    assert dry.returncode == 0, dry.stderr
    out = dry.stdout
    assert "aws.ec2.sg-no-ssh-from-internet" in out and "prod-bastion" in out
    assert "aws.s3.public-access-block" in out and "prod-open-data" in out
    assert "dry run: nothing written" in out
    # Nothing was written by the dry run.
    assert s3.get_bucket_tagging(Bucket="dev-locked")["TagSet"] == [{"Key": "Team", "Value": "data"}]
    applied = run(moto_url, "--apply")
    assert applied.returncode == 0, applied.stderr
    assert "applied to" in applied.stdout
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket="dev-locked")["TagSet"]}
    assert tags == {"Team": "data", "Environment": "dev", "Owner": "platform@example.com"}, tags
    prod = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket="prod-open-data")["TagSet"]}
    assert prod["Environment"] == "prod"
    sg_tags = {t["Key"]: t["Value"] for t in ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0].get("Tags", [])}
    assert sg_tags["Environment"] == "prod" and sg_tags["Owner"] == "platform@example.com"
    # Run again: the plan is now empty for what was tagged.
    again = run(moto_url)
    assert "prod-open-data Environment" not in again.stdout
