"""The AWS adapters against moto's server, with the real SDK for Rust in the `assetwarden`
binary: seeded with boto3, verified with boto3. A fault-injection proxy (tests/py/awsproxy.py)
sits in front of moto where a test needs throttling, AccessDenied, expired tokens or per-item
failures inside a 200 answer."""
import copy
import json
import os
import pathlib
import shutil
import subprocess
import urllib.request

import boto3
import pytest

from awsproxy import Proxy, awsquery_error, json_error, query_error

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("ASSETWARDEN_BIN", str(ROOT / "target" / "debug" / "assetwarden"))
SHARED = ROOT / "crates" / "aws" / "tests" / "data"
ACCOUNT = "123456789012"

POLICY = """version: 1
name: aws adapter tests
classification:
  tags:
    - key: owner
      derive:
        - from: event.creator-name
      default: unassigned
    - key: data-class
      allowed: [public, internal, confidential]
      derive:
        - when: {path: resourceType, eq: AWS::RDS::DBInstance}
          value: confidential
      default: internal
    - key: created-by
      required: false
      derive:
        - from: event.creator
"""


@pytest.fixture
def moto():
    url = os.environ.get("MOTO_URL")
    assert url, "MOTO_URL must point at moto's server (scripts/test.sh starts it)"
    with urllib.request.urlopen(urllib.request.Request(url + "/moto-api/reset", method="POST"), timeout=10) as r:
        r.read()
    return url


@pytest.fixture
def proxy(moto):
    p = Proxy(moto)
    yield p
    p.close()


@pytest.fixture
def policy(tmp_path):
    p = tmp_path / "policy.yaml"
    p.write_text(POLICY)
    return p


def client(moto, service, region="us-east-1"):
    return boto3.client(service, endpoint_url=moto, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def run(endpoint, *args, check=None, **extra_env):
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1",
               ASSETWARDEN_AWS_BACKOFF_MS="5", ASSETWARDEN_AWS_MAX_ATTEMPTS="3")
    env.pop("AWS_PROFILE", None)
    env.update(extra_env)
    p = subprocess.run([BIN, *args], capture_output=True, text=True, env=env, timeout=600)
    if check is not None:
        assert p.returncode == check, f"exit {p.returncode}\nstdout:\n{p.stdout[-4000:]}\nstderr:\n{p.stderr[-4000:]}"
    return p


def scan_json(endpoint, *extra, regions="us-east-1", check=None):
    p = run(endpoint, "scan", "--aws", "--regions", regions, "-f", "json", *extra)
    assert p.returncode in (0, 1, 3), p.stderr
    if check is not None:
        assert p.returncode == check, p.stderr
    return json.loads(p.stdout), p


def by(report, check_id, arn_part):
    return [f for f in report["findings"] if f["check_id"] == check_id and arn_part in f["resource"]["arn"]]


def config_wire_times(call, status, body):
    """moto 5.2.1 writes BatchGetResourceConfig's timestamps as `2026-11-27 09:41:10+00:00`
    strings; the API (and so the SDK for Rust, which rejects moto's form) sends epoch seconds.
    This rewrites moto's answer into the API's wire format; the rest is moto's."""
    import datetime
    doc = json.loads(body or b"{}")
    for item in doc.get("baseConfigurationItems", []):
        for k in ("configurationItemCaptureTime", "resourceCreationTime", "configurationItemDeliveryTime"):
            v = item.get(k)
            if isinstance(v, str):
                item[k] = datetime.datetime.fromisoformat(v).timestamp()
    return status, json.dumps(doc).encode()


def seed_estate(moto):
    """A small estate: a public, unencrypted bucket and a locked-down one; a security group
    open to the world on SSH (never tagged) and a closed one; an unencrypted volume; a public,
    unencrypted RDS instance; an ECR repository without scan on push."""
    s3 = client(moto, "s3")
    s3.create_bucket(Bucket="shop-public-assets")
    s3.put_bucket_tagging(Bucket="shop-public-assets", Tagging={"TagSet": [{"Key": "owner", "Value": "web"}]})
    s3.create_bucket(Bucket="shop-locked")
    s3.put_public_access_block(Bucket="shop-locked", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_bucket_encryption(Bucket="shop-locked", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/shop"}}]})
    s3.put_bucket_versioning(Bucket="shop-locked", VersioningConfiguration={"Status": "Enabled"})
    ec2 = client(moto, "ec2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    open_sg = ec2.create_security_group(GroupName="ssh-open", Description="ssh from anywhere", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=open_sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    closed_sg = ec2.create_security_group(GroupName="closed", Description="nothing in", VpcId=vpc,
                                          TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": "owner", "Value": "net"}]}])["GroupId"]
    vol = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8, Encrypted=False)["VolumeId"]
    rds = client(moto, "rds")
    rds.create_db_instance(DBInstanceIdentifier="orders", DBInstanceClass="db.t3.micro", Engine="postgres",
                           MasterUsername="app", MasterUserPassword="not-a-secret-1", PubliclyAccessible=True,
                           StorageEncrypted=False, Tags=[{"Key": "owner", "Value": "orders-team"}])
    ecr = client(moto, "ecr")
    ecr.create_repository(repositoryName="shop/web", imageScanningConfiguration={"scanOnPush": False})
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    elb = client(moto, "elbv2")
    lb = elb.create_load_balancer(Name="shop-web", Subnets=subnets, Scheme="internet-facing", Type="application")["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
    listener = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                                   DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])["Listeners"][0]["ListenerArn"]
    return {"open_sg": open_sg, "closed_sg": closed_sg, "volume": vol, "lb": lb, "listener": listener}


def test_live_inventory_finds_and_checks_what_was_seeded(moto):
    ids = seed_estate(moto)
    report, p = scan_json(moto, "--no-config")
    arns = {f["resource"]["arn"] for f in report["findings"]}
    # The never-tagged security group is found (GetResources alone would miss it).
    assert f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{ids['open_sg']}" in arns
    assert f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/{ids['volume']}" in arns
    assert "arn:aws:s3:::shop-locked" in arns
    assert f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders" in arns
    # Configuration checks judged the live configuration.
    ssh = by(report, "aws.ec2.sg-no-ssh-from-internet", ids["open_sg"])
    assert ssh and ssh[0]["status"] == "FAIL", ssh
    assert by(report, "aws.ec2.sg-no-ssh-from-internet", ids["closed_sg"])[0]["status"] == "PASS"
    assert by(report, "aws.ec2.ebs-encrypted", ids["volume"])[0]["status"] == "FAIL"
    assert by(report, "aws.rds.public-access", "db:orders")[0]["status"] == "FAIL"
    assert by(report, "aws.rds.storage-encrypted", "db:orders")[0]["status"] == "FAIL"
    pab = {f["resource"]["arn"]: f["status"] for f in report["findings"] if f["check_id"] == "aws.s3.public-access-block"}
    assert pab["arn:aws:s3:::shop-locked"] == "PASS" and pab["arn:aws:s3:::shop-public-assets"] == "FAIL", pab
    enc = {f["resource"]["arn"]: f["status"] for f in report["findings"] if f["check_id"] == "aws.s3.encryption"}
    assert enc["arn:aws:s3:::shop-locked"] == "PASS" and enc["arn:aws:s3:::shop-public-assets"] == "FAIL", enc
    assert by(report, "aws.ecr.image-scanning", "repository/shop/web")[0]["status"] == "FAIL"
    # The load balancer with its attributes, and its listener (plain HTTP).
    assert ids["lb"] in arns and ids["listener"] in arns
    lb_findings = [f for f in report["findings"] if f["resource"]["arn"] == ids["lb"] and f["status"] != "NOT_APPLICABLE"]
    assert lb_findings and all(f["status"] in ("PASS", "FAIL") for f in lb_findings), lb_findings
    assert [f for f in report["findings"] if f["resource"]["arn"] == ids["listener"] and f["status"] == "FAIL"]
    # moto 5.2.1 answers GetBucketVersioning with a root element real S3 does not use
    # (`GetBucketVersioningResponse`); the SDK refuses it, and the scan says UNKNOWN, not PASS.
    # The versioning check on real S3 replies is covered by the recorded-response cases.
    ver = by(report, "aws.s3.versioning", "shop-locked")[0]
    assert ver["status"] == "UNKNOWN" and "s3:GetBucketVersioning" in ver["message"], ver
    # Tags come from the tagging API (S3) and from the Describe calls (EC2, RDS).
    tags = {f["resource"]["arn"]: f["resource"].get("tags", {}) for f in report["findings"]}
    assert tags["arn:aws:s3:::shop-public-assets"] == {"owner": "web"}
    assert tags[f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders"] == {"owner": "orders-team"}
    assert not [e for e in report["errors"]], report["errors"]


def test_only_the_regions_asked_for_are_read(moto):
    client(moto, "ec2", "eu-west-1").create_security_group(GroupName="eu-only", Description="eu")
    report, _ = scan_json(moto, "--no-config", regions="us-east-1")
    assert not [f for f in report["findings"] if ":eu-west-1:" in f["resource"]["arn"]]
    report, _ = scan_json(moto, "--no-config", regions="us-east-1,eu-west-1")
    assert [f for f in report["findings"] if ":eu-west-1:" in f["resource"]["arn"]]


def test_config_is_used_where_it_records_and_describe_calls_elsewhere(moto):
    s3 = client(moto, "s3")
    s3.create_bucket(Bucket="recorded-by-config")
    cfg = client(moto, "config")
    cfg.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": f"arn:aws:iam::{ACCOUNT}:role/config",
        "recordingGroup": {"allSupported": False, "includeGlobalResourceTypes": False, "resourceTypes": ["AWS::S3::Bucket"]}})
    s3.create_bucket(Bucket="config-delivery")
    cfg.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "config-delivery"})
    cfg.start_configuration_recorder(ConfigurationRecorderName="default")
    ec2 = client(moto, "ec2")
    sg = ec2.create_security_group(GroupName="described", Description="not recorded by config")["GroupId"]
    proxy = Proxy(moto)
    proxy.rules.append(lambda c, n: ("rewrite", config_wire_times) if c.op == "BatchGetResourceConfig" else None)
    try:
        report, _ = scan_json(proxy.url)
    finally:
        proxy.close()
    assert not report["errors"], report["errors"]
    arns = {f["resource"]["arn"] for f in report["findings"]}
    assert "arn:aws:s3:::recorded-by-config" in arns
    assert any(sg in a for a in arns)
    # Buckets came from Config (BatchGetResourceConfig), so S3's Get* calls were not made;
    # security groups came from DescribeSecurityGroups.
    assert proxy.ops("BatchGetResourceConfig"), [c.op for c in proxy.calls]
    assert not [c for c in proxy.calls if c.path.startswith("/recorded-by-config?")], "bucket read directly although Config records it"
    assert proxy.ops("DescribeSecurityGroups")


def test_config_unreadable_falls_back_to_direct_calls_and_says_what_is_lost(moto):
    """Without the rewrite, moto's timestamps make BatchGetResourceConfig unreadable to the
    SDK: the scan collects S3 directly and reports what only Config could have found."""
    s3 = client(moto, "s3")
    s3.create_bucket(Bucket="recorded-by-config")
    cfg = client(moto, "config")
    cfg.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": f"arn:aws:iam::{ACCOUNT}:role/config", "recordingGroup": {"allSupported": True}})
    cfg.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "recorded-by-config"})
    cfg.start_configuration_recorder(ConfigurationRecorderName="default")
    report, _ = scan_json(moto)
    assert "arn:aws:s3:::recorded-by-config" in {f["resource"]["arn"] for f in report["findings"]}
    gap = [e for e in report["errors"] if "AWS Config unreadable" in e["message"]]
    assert gap and "AWS::IAM::User" in gap[0]["message"] and "config:BatchGetResourceConfig" in gap[0]["message"]
    unknown = [f for f in report["findings"] if f["status"] == "UNKNOWN" and f["resource"]["resource_type"] == "AWS::IAM::User"]
    assert unknown, "checks on the types only Config could list must be UNKNOWN"


def test_access_denied_makes_the_affected_checks_unknown_never_pass(proxy):
    seed_estate(proxy.url)
    proxy.rules.append(lambda c, n: query_error(403, "UnauthorizedOperation", "You are not authorized")
                       if c.op == "DescribeSecurityGroups" else None)
    report, p = scan_json(proxy.url, "--no-config")
    sg = [f for f in report["findings"] if f["check_id"].startswith("aws.ec2.sg-")]
    assert sg, "the gap must show as findings"
    assert {f["status"] for f in sg} == {"UNKNOWN"}, {f["status"] for f in sg}
    assert all("UnauthorizedOperation" in f["message"] and "ec2:DescribeSecurityGroups" in f["message"] for f in sg), sg[0]["message"]
    # Everything else was still read and judged.
    assert by(report, "aws.ec2.ebs-encrypted", "volume/")[0]["status"] == "FAIL"


def test_a_bucket_call_denied_marks_only_that_part_unknown(proxy):
    s3 = client(proxy.url, "s3")
    s3.create_bucket(Bucket="half-visible")
    proxy.rules.append(lambda c, n: (403, {"Content-Type": "application/xml"},
                                      b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>")
                       if c.method == "GET" and "publicAccessBlock" in c.path else None)
    report, _ = scan_json(proxy.url, "--no-config")
    f = by(report, "aws.s3.public-access-block", "half-visible")[0]
    assert f["status"] == "UNKNOWN" and "AccessDenied" in f["message"], f
    # The other parts of the bucket were read and judged.
    assert by(report, "aws.s3.encryption", "half-visible")[0]["status"] == "FAIL"


def test_throttling_is_retried_within_bounds(proxy, tmp_path):
    seed_estate(proxy.url)
    proxy.rules.append(lambda c, n: json_error(400, "ThrottlingException", "Rate exceeded")
                       if c.op == "GetResources" and n < 2 else None)
    d = tmp_path
    report, p = scan_json(proxy.url, "--no-config", "--state", str(d / "s.db"), "--metrics-file", str(d / "aw.prom"))
    assert len(proxy.ops("GetResources")) == 3
    tags = {f["resource"]["arn"]: f["resource"].get("tags", {}) for f in report["findings"]}
    assert tags["arn:aws:s3:::shop-public-assets"] == {"owner": "web"}
    # Every attempt is counted, by service, region and outcome: the two throttled ones too.
    calls = {(c["service"], c["region"], c["outcome"]): c["calls"] for c in report["api_calls"]}
    assert calls[("tagging", "us-east-1", "throttled")] == 2, calls
    assert calls[("tagging", "us-east-1", "ok")] >= 1, calls
    assert calls[("ec2", "us-east-1", "ok")] >= 2, calls
    assert calls.get(("s3", "us-east-1", "client_error"), 0) >= 1, "moto answers 404 for absent bucket parts"
    prom = (d / "aw.prom").read_text()
    assert 'assetwarden_aws_api_calls_total{service="tagging",region="us-east-1",outcome="throttled"} 2' in prom, prom
    promtool = shutil.which("promtool")
    assert promtool, "promtool must be installed (scripts/test.sh installs Debian's prometheus)"
    res = subprocess.run([promtool, "check", "metrics"], input=prom, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    # A second scan adds to the counter.
    scan_json(proxy.url, "--no-config", "--state", str(d / "s.db"), "--metrics-file", str(d / "aw.prom"))
    assert 'assetwarden_aws_api_calls_total{service="tagging",region="us-east-1",outcome="throttled"} 2' in (d / "aw.prom").read_text()
    ok_before = calls[("tagging", "us-east-1", "ok")]
    assert f'assetwarden_aws_api_calls_total{{service="tagging",region="us-east-1",outcome="ok"}} {ok_before * 2}' in (d / "aw.prom").read_text()


def test_throttling_that_never_ends_is_reported_not_hidden(proxy):
    seed_estate(proxy.url)
    proxy.rules.append(lambda c, n: json_error(400, "ThrottlingException", "Rate exceeded")
                       if c.op == "GetResources" else None)
    report, p = scan_json(proxy.url, "--no-config")
    assert len(proxy.ops("GetResources")) == 3, "max attempts is 3 in this test"
    # Tags could not be read: tag-policy verdicts are not PASS for buckets (whose tags come
    # only from the tagging API).
    bucket = [f for f in report["findings"] if f["resource"]["arn"] == "arn:aws:s3:::shop-public-assets"]
    assert bucket
    tagf = [f for f in bucket if f["check_id"].startswith("tag-policy")]
    assert all(f["status"] != "PASS" for f in tagf) if tagf else True
    assert any("ThrottlingException" in (g.get("reason", "") + json.dumps(g)) for g in report.get("coverage", {}).get("gaps", [])) or \
        any("ThrottlingException" in f["message"] for f in report["findings"]), "the failure must be reported"


def test_an_expired_pagination_token_restarts_the_region(proxy):
    ec2 = client(proxy.url, "ec2")
    for i in range(130):
        ec2.create_security_group(GroupName=f"g{i}", Description="x",
                                  TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": "n", "Value": str(i)}]}])
    state = {"expired": False}

    def expire_once(c, n):
        if c.op == "GetResources" and c.json().get("PaginationToken") and not state["expired"]:
            state["expired"] = True
            return json_error(400, "PaginationTokenExpiredException", "token expired")
        return None

    proxy.rules.append(expire_once)
    report, _ = scan_json(proxy.url, "--no-config")
    calls = proxy.ops("GetResources")
    assert state["expired"]
    firsts = [c for c in calls if not c.json().get("PaginationToken")]
    assert len(firsts) == 2, "the listing must start again from the first page"
    assert all(c.json().get("ResourcesPerPage") == 100 for c in calls)
    tagged = {f["resource"]["arn"] for f in report["findings"] if f["resource"].get("tags", {}).get("n")}
    assert len(tagged) == 130


def rds_arn(name):
    return f"arn:aws:rds:us-east-1:{ACCOUNT}:db:{name}"


def test_tag_apply_is_a_dry_run_then_writes_and_never_overwrites_a_persons_tag(moto, policy):
    s3 = client(moto, "s3")
    s3.create_bucket(Bucket="untagged-bucket")
    s3.put_bucket_tagging(Bucket="untagged-bucket", Tagging={"TagSet": [{"Key": "cost-center", "Value": "42"}]})
    ec2 = client(moto, "ec2")
    sg = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
    rds = client(moto, "rds")
    rds.create_db_instance(DBInstanceIdentifier="ledger", DBInstanceClass="db.t3.micro", Engine="postgres",
                           MasterUsername="app", MasterUserPassword="not-a-secret-1",
                           Tags=[{"Key": "owner", "Value": "finance"}])
    p = run(moto, "tag", "apply", "--aws", "--regions", "us-east-1", "--no-config", "-p", str(policy), "--format", "json", check=0)
    results = {r["arn"]: r for r in json.loads(p.stdout)}
    assert results["arn:aws:s3:::untagged-bucket"]["outcome"] == "WouldWrite"
    assert "dry run" in p.stderr
    assert client(moto, "s3").get_bucket_tagging(Bucket="untagged-bucket")["TagSet"] == [{"Key": "cost-center", "Value": "42"}]

    # Between plan and write, a person sets `owner` on the security group.
    db = policy.parent / "state.db"
    p = run(moto, "tag", "apply", "--aws", "--regions", "us-east-1", "--no-config", "-p", str(policy), "--apply", "--format", "json",
            "--state", str(db), check=0)
    results = {r["arn"]: r for r in json.loads(p.stdout)}
    s3tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket="untagged-bucket")["TagSet"]}
    assert s3tags == {"cost-center": "42", "owner": "unassigned", "data-class": "internal"}, s3tags
    sgtags = {t["Key"]: t["Value"] for t in ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0].get("Tags", [])}
    assert sgtags == {"owner": "unassigned", "data-class": "internal"}, sgtags
    dbtags = {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=rds_arn("ledger"))["TagList"]}
    assert dbtags == {"owner": "finance", "data-class": "confidential"}, dbtags
    assert results[rds_arn("ledger")]["outcome"] == "Written"
    # Every tag written is in the state store (with the value before), and the report shows it.
    import sqlite3
    with sqlite3.connect(db) as c:
        rows = set(c.execute("SELECT arn, key, old_value, new_value, applied_by FROM tag_changes"))
    assert ("arn:aws:s3:::untagged-bucket", "owner", None, "unassigned", "assetwarden tag apply") in rows, rows
    assert (rds_arn("ledger"), "data-class", None, "confidential", "assetwarden tag apply") in rows, rows
    assert not any(r[0] == rds_arn("ledger") and r[1] == "owner" for r in rows), "a tag not written is not recorded"
    written = sum(len(r.get("written", {})) for r in results.values() if r["outcome"] == "Written")
    assert len(rows) == written, (len(rows), written)
    run(moto, "report", "--state", str(db), "--out", str(policy.parent / "report"), check=0)
    html = (policy.parent / "report" / "report.html").read_text()
    assert f"{written} tag changes in the period" in html and "arn:aws:s3:::untagged-bucket" in html
    md = (policy.parent / "report" / "report.md").read_text()
    assert "| arn:aws:s3:::untagged-bucket | owner | (unset) | unassigned | assetwarden tag apply |" in md, md

    # Run again: nothing left to write.
    # Run again: the plan is empty, nothing is written.
    p = run(moto, "tag", "apply", "--aws", "--regions", "us-east-1", "--no-config", "-p", str(policy), "--apply", "--format", "json", check=0)
    assert {r["outcome"] for r in json.loads(p.stdout)} <= {"Unchanged"}
    assert " 0 written" in p.stderr, p.stderr


def test_tag_resources_batches_of_20_and_per_arn_failures(proxy, policy):
    rds = client(proxy.url, "rds")
    for i in range(25):
        rds.create_db_instance(DBInstanceIdentifier=f"db{i:02d}", DBInstanceClass="db.t3.micro", Engine="postgres",
                               MasterUsername="app", MasterUserPassword="not-a-secret-1")
    throttled, broken = rds_arn("db03"), rds_arn("db07")
    state = {"throttled_once": False}

    def partial(call, status, body):
        doc = json.loads(body or b"{}")
        arns = call.json().get("ResourceARNList", [])
        failed = {}
        if throttled in arns and not state["throttled_once"]:
            state["throttled_once"] = True
            failed[throttled] = {"StatusCode": 400, "ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}
        if broken in arns:
            failed[broken] = {"StatusCode": 400, "ErrorCode": "InvalidParameterException", "ErrorMessage": "cannot tag this one"}
        doc["FailedResourcesMap"] = failed
        return status, json.dumps(doc).encode()

    proxy.rules.append(lambda c, n: ("rewrite", partial) if c.op == "TagResources" else None)
    p = run(proxy.url, "tag", "apply", "--aws", "--regions", "us-east-1", "--no-config", "-p", str(policy), "--apply", "--format", "json")
    assert p.returncode == 1, p.stderr
    results = {r["arn"]: r for r in json.loads(p.stdout)}
    calls = proxy.ops("TagResources")
    assert all(len(c.json()["ResourceARNList"]) <= 20 for c in calls)
    sent = [a for c in calls for a in c.json()["ResourceARNList"]]
    # Every ARN sent once, except the throttled one (retried) and the broken one (permanent,
    # not retried).
    assert sent.count(throttled) == 2
    assert sent.count(broken) == 1
    assert all(sent.count(rds_arn(f"db{i:02d}")) == 1 for i in range(25) if rds_arn(f"db{i:02d}") not in (throttled,))
    assert results[throttled]["outcome"] == "Written"
    assert results[broken]["outcome"]["Failed"]["code"] == "InvalidParameterException"
    assert sum(1 for a, r in results.items() if ":db:" in a and r["outcome"] == "Written") == 24


def load_event(name):
    return json.loads((SHARED / "cloudtrail" / name).read_text())


def test_event_handle_tags_a_new_bucket_once_and_checks_it(proxy, policy, tmp_path):
    # The real CreateBucket event (root user, us-west-2); the bucket is created in moto first.
    ev = load_event("event-cloud-trail-create-bucket.json")
    name = ev["detail"]["requestParameters"]["bucketName"]
    client(proxy.url, "s3", "us-west-2").create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    f = tmp_path / "event.json"
    f.write_text(json.dumps(ev))
    db = tmp_path / "state.db"
    p = run(proxy.url, "event", "handle", str(f), "-p", str(policy), "--apply", "--state", str(db), check=0)
    out = json.loads(p.stdout)
    assert out[0]["record"]["creator"]["creator_type"] == "Root"
    res = out[0]["resources"][0]
    assert res["arn"] == f"arn:aws:s3:::{name}" and res["write"]["outcome"] == "Written"
    tags = {t["Key"]: t["Value"] for t in client(proxy.url, "s3", "us-west-2").get_bucket_tagging(Bucket=name)["TagSet"]}
    assert tags == {"owner": "root", "data-class": "internal", "created-by": "arn:aws:iam::619193117841:root"}, tags
    import sqlite3
    with sqlite3.connect(db) as c:
        rows = sorted(c.execute("SELECT key, new_value, applied_by FROM tag_changes WHERE arn = ?", (f"arn:aws:s3:::{name}",)))
    assert [r[:2] for r in rows] == sorted(tags.items()), rows
    assert all(r[2].startswith(f"event CreateBucket {ev['detail']['eventID']} by arn:aws:iam::619193117841:root") for r in rows), rows
    # The checks ran on the new bucket at once.
    assert any(x["check_id"] == "aws.s3.public-access-block" and x["status"] == "FAIL" for x in res["findings"])
    # A repeated delivery (a new process, as a cold Lambda would be) writes nothing.
    p = run(proxy.url, "event", "handle", str(f), "-p", str(policy), "--apply", check=0)
    assert json.loads(p.stdout)[0]["resources"][0]["write"]["outcome"] == "Unchanged"
    assert len(proxy.ops("PutBucketTagging")) == 1


def test_event_handle_run_instances_by_an_assumed_role(moto, policy, tmp_path):
    # The real RunInstances record by an assumed role; its instance id is replaced by one moto
    # launched (moto cannot launch an instance with a given id).
    rec = load_event("event-cloud-trail-run-instance-creator-assumed.json")
    ec2 = client(moto, "ec2")
    iid = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    rec = copy.deepcopy(rec)
    rec["responseElements"]["instancesSet"]["items"][0]["instanceId"] = iid
    f = tmp_path / "record.json"
    f.write_text(json.dumps(rec))
    p = run(moto, "event", "handle", str(f), "-p", str(policy), "--apply", check=0)
    out = json.loads(p.stdout)[0]
    assert out["record"]["session_name"] == "Radiant"
    assert out["record"]["role_arn"] == "arn:aws:iam::03412312600:role/GR_Dev_Developer"
    tags = {t["Key"]: t["Value"] for t in ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [iid]}])["Tags"]}
    assert tags["owner"] == "Radiant"
    assert tags["created-by"] == "arn:aws:sts::03412312600:assumed-role/GR_Dev_Developer/Radiant"


def test_a_failed_call_creates_nothing(moto, policy, tmp_path):
    ev = load_event("event-cloud-trail-create-bucket.json")
    ev["detail"]["errorCode"] = "AccessDenied"
    f = tmp_path / "event.json"
    f.write_text(json.dumps(ev))
    p = run(moto, "event", "handle", str(f), "-p", str(policy), "--apply", check=0)
    assert json.loads(p.stdout) == []
    assert "nothing to do" in p.stderr


def securityhub(moto):
    sh = client(moto, "securityhub")
    sh.enable_security_hub()
    return sh


def test_security_hub_export_then_archive_only_our_own(moto):
    sh = securityhub(moto)
    s3 = client(moto, "s3")
    s3.create_bucket(Bucket="exported-bucket")
    # Another product's finding, which must never be archived.
    foreign = {
        "SchemaVersion": "2018-10-08", "Id": "other-tool/1", "ProductArn": f"arn:aws:securityhub:us-east-1:{ACCOUNT}:product/{ACCOUNT}/other",
        "GeneratorId": "other-tool", "AwsAccountId": ACCOUNT, "Types": ["Software and Configuration Checks"],
        "CreatedAt": "2026-01-01T00:00:00Z", "UpdatedAt": "2026-01-01T00:00:00Z", "Severity": {"Label": "LOW"},
        "Title": "t", "Description": "d", "Resources": [{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::exported-bucket"}]}
    sh.batch_import_findings(Findings=[foreign])
    p = run(moto, "export", "securityhub", "--aws", "--regions", "us-east-1", "--no-config", check=0)
    found = sh.get_findings(MaxResults=100)["Findings"]
    ours = [f for f in found if f["Id"].startswith("assetwarden/")]
    pab = [f for f in ours if f["GeneratorId"] == "assetwarden/aws.s3.public-access-block"]
    assert pab and pab[0]["Compliance"]["Status"] == "FAILED" and pab[0]["RecordState"] == "ACTIVE"
    first_updated = pab[0]["UpdatedAt"]
    # Fix the bucket; export again: the finding is archived as PASSED with a newer UpdatedAt.
    s3.put_public_access_block(Bucket="exported-bucket", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    p = run(moto, "export", "securityhub", "--aws", "--regions", "us-east-1", "--no-config", check=0)
    assert "archived" in p.stdout and " 0 archived" not in p.stdout, p.stdout
    found = {f["Id"]: f for f in sh.get_findings(MaxResults=100)["Findings"]}
    again = found[pab[0]["Id"]]
    assert again["RecordState"] == "ARCHIVED" and again["Compliance"]["Status"] == "PASSED"
    assert again["UpdatedAt"] > first_updated
    assert found["other-tool/1"].get("RecordState", "ACTIVE") == "ACTIVE"
    assert found["other-tool/1"]["UpdatedAt"] == "2026-01-01T00:00:00Z"


def test_security_hub_batches_limits_and_failed_findings(proxy):
    securityhub(proxy.url)
    ec2 = client(proxy.url, "ec2")
    for i in range(40):
        g = ec2.create_security_group(GroupName=f"sg{i}", Description="x")["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=g, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    state = {"retried": set()}

    def partial(call, status, body):
        ids = [f["Id"] for f in call.json()["Findings"]]
        failed = []
        for i in ids[:1]:
            if i not in state["retried"]:
                state["retried"].add(i)
                failed.append({"Id": i, "ErrorCode": "InternalException", "ErrorMessage": "try again"})
        bad = [i for i in ids if i.endswith("0") and i not in state["retried"]][:1]
        failed += [{"Id": i, "ErrorCode": "InvalidInput", "ErrorMessage": "refused by the test"} for i in bad]
        doc = json.loads(body)
        doc["FailedFindings"] = failed
        doc["FailedCount"] = len(failed)
        return status, json.dumps(doc).encode()

    proxy.rules.append(lambda c, n: ("rewrite", partial) if c.op == "BatchImportFindings" else None)
    p = run(proxy.url, "export", "securityhub", "--aws", "--regions", "us-east-1", "--no-config")
    calls = proxy.ops("BatchImportFindings")
    sizes = [len(c.json()["Findings"]) for c in calls]
    assert max(sizes) <= 100 and sum(sizes) > 100, sizes
    assert all(len(c.body) <= 6 * 1024 * 1024 for c in calls)
    retried = state["retried"]
    for i in retried:
        assert sum(1 for c in calls for f in c.json()["Findings"] if f["Id"] == i) == 2
    assert p.returncode == 1 and "InvalidInput" in p.stderr


def ecr_image_finding():
    """An Inspector v2 ECR-image finding in ListFindings' shape (the API reference's fields; no
    public recording of one exists here, the recorded findings are all EC2)."""
    return {
        "awsAccountId": ACCOUNT, "findingArn": f"arn:aws:inspector2:us-east-1:{ACCOUNT}:finding/0123456789abcdef",
        "type": "PACKAGE_VULNERABILITY", "severity": "CRITICAL", "status": "ACTIVE", "title": "CVE-2021-44228 - log4j-core",
        "description": "Log4Shell", "firstObservedAt": 1793491200, "lastObservedAt": 1795651200,
        "fixAvailable": "YES", "inspectorScore": 10.0,
        "packageVulnerabilityDetails": {
            "vulnerabilityId": "CVE-2021-44228", "source": "NVD", "sourceUrl": "https://nvd.nist.gov/vuln/detail/CVE-2021-44228",
            "cvss": [{"baseScore": 9.3, "scoringVector": "AV:N/AC:M/Au:N/C:C/I:C/A:C", "version": "2.0", "source": "NVD"},
                     {"baseScore": 10.0, "scoringVector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "version": "3.1", "source": "NVD"}],
            "referenceUrls": ["https://logging.apache.org/log4j/2.x/security.html"],
            "vulnerablePackages": [{"name": "log4j-core", "version": "2.14.1", "fixedInVersion": "2.15.0", "packageManager": "JAR", "epoch": 0}]},
        "resources": [{"type": "AWS_ECR_CONTAINER_IMAGE", "region": "us-east-1", "partition": "aws",
                       "id": f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/shop/web/sha256:abc123",
                       "details": {"awsEcrContainerImage": {"registry": ACCOUNT, "repositoryName": "shop/web",
                                                            "imageHash": "sha256:abc123", "imageTags": ["v1", "latest"]}}}],
    }


def recorded_ec2_finding():
    """A real Inspector v2 EC2 finding (Cloud Custodian's recording), with its datetimes as the
    epoch seconds the REST-JSON wire format carries."""
    doc = json.loads((SHARED / "inspector2" / "test_inspector2_finding__inspector2.ListFindings_1.json").read_text())
    f = copy.deepcopy(doc["data"]["findings"][3])

    def iso(v):
        if isinstance(v, dict) and v.get("__class__") == "datetime":
            import datetime
            return datetime.datetime(v["year"], v["month"], v["day"], v["hour"], v["minute"], v["second"],
                                     tzinfo=datetime.timezone.utc).timestamp()
        if isinstance(v, dict):
            return {k: iso(x) for k, x in v.items()}
        if isinstance(v, list):
            return [iso(x) for x in v]
        return v
    return iso(f)


def test_inspector_cves_attach_to_repositories_ecs_services_and_instances(moto):
    ecr = client(moto, "ecr")
    ecr.create_repository(repositoryName="shop/web")
    ecs = client(moto, "ecs")
    ecs.create_cluster(clusterName="shop")
    td = ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "web", "image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/shop/web:v1", "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
    svc = ecs.create_service(cluster="shop", serviceName="web", taskDefinition=td, desiredCount=1)["service"]["serviceArn"]
    ecs.register_task_definition(family="other", containerDefinitions=[{"name": "o", "image": "nginx:1.25", "memory": 128}])
    ec2f = recorded_ec2_finding()
    req = urllib.request.Request(moto + "/moto-api/static/inspector2/findings-results", method="POST",
                                 data=json.dumps({"results": [[ecr_image_finding(), ec2f]], "region": "us-east-1"}).encode(),
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
    report, p = scan_json(moto, "--no-config", "--inspector")
    cves = [f for f in report["findings"] if f["check_id"] == "inspector.cve"]
    log4j = {f["resource"]["arn"]: f for f in cves if f["vulnerability"]["id"] == "CVE-2021-44228"}
    assert set(log4j) == {f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/shop/web", svc}, list(log4j)
    f = log4j[svc]
    assert f["status"] == "FAIL" and f["severity"] == "critical"
    v = f["vulnerability"]
    assert (v["cvss_score"], v["cvss_version"], v["package"], v["installed_version"], v["fixed_version"]) == (10.0, "3.1", "log4j-core", "2.14.1", "2.15.0")
    assert "runs image sha256:abc123" in f["message"]
    # The recorded EC2 finding lands on its instance, one finding per vulnerable package.
    ec2_cve = [f for f in cves if ":instance/" in f["resource"]["arn"]]
    assert ec2_cve and ec2_cve[0]["vulnerability"]["id"] == ec2f["packageVulnerabilityDetails"]["vulnerabilityId"]
    assert ec2_cve[0]["resource"]["arn"] == f"arn:aws:ec2:eu-central-1:644160558196:instance/{ec2f['resources'][0]['id']}" or \
        ec2_cve[0]["resource"]["arn"].endswith(ec2f["resources"][0]["id"])
    # In the Security Hub export too, with the ASFF Vulnerabilities block.
    securityhub(moto)
    run(moto, "export", "securityhub", "--aws", "--regions", "us-east-1", "--no-config", "--inspector", check=0)
    shf = [x for x in client(moto, "securityhub").get_findings(MaxResults=100)["Findings"]
           if x["GeneratorId"] == "assetwarden/inspector.cve" and x["Resources"][0]["Id"] == svc]
    assert shf and shf[0]["Vulnerabilities"][0]["Id"] == "CVE-2021-44228"
    assert shf[0]["Vulnerabilities"][0]["VulnerablePackages"][0]["FixedInVersion"] == "2.15.0"
    assert shf[0]["Vulnerabilities"][0]["Cvss"][0]["BaseScore"] == 10.0


def test_inspector_unreachable_is_reported(proxy):
    proxy.rules.append(lambda c, n: json_error(403, "AccessDeniedException", "not enabled")
                       if c.op == "ListFindings" else None)
    report, p = scan_json(proxy.url, "--no-config", "--inspector")
    assert any("CVE findings not known" in e["message"] for e in report["errors"]), report["errors"]


def test_budgets_cross_thresholds(moto, tmp_path):
    b = client(moto, "budgets")
    for name, actual, forecast in [("ok", "10", "20"), ("forecast-over", "50", "130"), ("actual-over", "85", "90")]:
        b.create_budget(AccountId=ACCOUNT, Budget={
            "BudgetName": name, "BudgetLimit": {"Amount": "100", "Unit": "USD"}, "TimeUnit": "MONTHLY", "BudgetType": "COST",
            "CalculatedSpend": {"ActualSpend": {"Amount": actual, "Unit": "USD"}, "ForecastedSpend": {"Amount": forecast, "Unit": "USD"}}})
    pol = tmp_path / "p.yaml"
    pol.write_text("version: 1\nbudgets:\n  thresholds: [80, 100]\n")
    report, _ = scan_json(moto, "--no-config", "--budgets", "-p", str(pol))
    got = {f["resource"]["name"]: (f["status"], f["severity"]) for f in report["findings"] if f["check_id"] == "aws.budgets.threshold"}
    assert got == {"ok": ("PASS", "medium"), "forecast-over": ("FAIL", "medium"), "actual-over": ("FAIL", "medium")}, got
    # Recorded in the state store, the budgets show in the daily report with their figures.
    db = tmp_path / "state.db"
    scan_json(moto, "--no-config", "--budgets", "-p", str(pol), "--state", str(db))
    run(moto, "report", "--state", str(db), "--out", str(tmp_path / "report"), check=0)
    html = (tmp_path / "report" / "report.html").read_text()
    table = html[html.index('<table id="budgets">'):]
    table = table[:table.index("</table>")]
    assert table.count("<tr>") == 4, table
    assert ">actual-over</td>" in table and "85.00 USD (85%)" in table and "130.00 USD (130%)" in table, table
    assert 'id="budget-chart"' in html and html.count('class="budget-actual"') == 3
    # Rendered by Chromium, the budget chart is there with a bar per budget.
    from test_report import CHROMIUM, FLAGS
    assert CHROMIUM, "chromium must be installed (scripts/test.sh installs it)"
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                          (tmp_path / "report" / "report.html").resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    chart = dom.stdout[dom.stdout.index('id="budget-chart"'):]
    chart = chart[:chart.index("</svg>")]
    assert chart.count('class="budget-actual"') == 3 and chart.count('class="budget-forecast"') == 3, chart
    md = (tmp_path / "report" / "report.md").read_text()
    assert "| forecast-over | 123456789012 | 100.00 USD | 50.00 USD (50%) | 130.00 USD (130%) | FAIL |" in md, md
    pol.write_text("version: 1\nbudgets:\n  thresholds: [50]\n  forecast: false\n")
    report, _ = scan_json(moto, "--no-config", "--budgets", "-p", str(pol))
    got = {f["resource"]["name"]: f["status"] for f in report["findings"] if f["check_id"] == "aws.budgets.threshold"}
    assert got == {"ok": "PASS", "forecast-over": "FAIL", "actual-over": "FAIL"}, got


def test_server_errors_are_retried_and_a_failed_write_call_is_reported_per_arn(proxy, policy):
    seed_estate(proxy.url)
    # Two 503s on DescribeVolumes: the SDK's retries (3 attempts here) absorb them.
    proxy.rules.append(lambda c, n: query_error(503, "Unavailable", "try later")
                       if c.op == "DescribeVolumes" and n < 2 else None)
    report, _ = scan_json(proxy.url, "--no-config")
    assert len(proxy.ops("DescribeVolumes")) == 3
    assert by(report, "aws.ec2.ebs-encrypted", "volume/")[0]["status"] == "FAIL"
    # TagResources answering 500 on every attempt: each ARN is reported failed, none written.
    proxy.rules.append(lambda c, n: json_error(500, "InternalServiceException", "boom")
                       if c.op == "TagResources" else None)
    p = run(proxy.url, "tag", "apply", "--aws", "--regions", "us-east-1", "--no-config", "-p", str(policy), "--apply", "--format", "json")
    assert p.returncode == 1
    results = {r["arn"]: r for r in json.loads(p.stdout)}
    db = results[rds_arn("orders")]
    assert db["outcome"]["Failed"]["code"] == "InternalServiceException", db
    # Bounded: for each batch, our own retries (6 attempts) times the SDK's (3) at most.
    per_batch = {}
    for c in proxy.ops("TagResources"):
        key = tuple(c.json()["ResourceARNList"])
        per_batch[key] = per_batch.get(key, 0) + 1
    assert per_batch and all(1 < n <= 18 for n in per_batch.values()), per_batch


def test_config_unprocessed_keys_are_asked_again(moto):
    s3 = client(moto, "s3")
    for b in ("cfg-a", "cfg-b", "cfg-c"):
        s3.create_bucket(Bucket=b)
    cfg = client(moto, "config")
    cfg.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": f"arn:aws:iam::{ACCOUNT}:role/config",
        "recordingGroup": {"allSupported": False, "includeGlobalResourceTypes": False, "resourceTypes": ["AWS::S3::Bucket"]}})
    cfg.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "cfg-a"})
    cfg.start_configuration_recorder(ConfigurationRecorderName="default")
    proxy = Proxy(moto)
    state = {"held": None}

    def hold_one(call, status, body):
        status, body = config_wire_times(call, status, body)
        doc = json.loads(body)
        items = doc.get("baseConfigurationItems", [])
        if state["held"] is None and len(items) > 1:
            held = items.pop()
            state["held"] = held["resourceId"]
            doc["unprocessedResourceKeys"] = [{"resourceType": held["resourceType"], "resourceId": held["resourceId"]}]
        return status, json.dumps(doc).encode()

    proxy.rules.append(lambda c, n: ("rewrite", hold_one) if c.op == "BatchGetResourceConfig" else None)
    try:
        report, _ = scan_json(proxy.url)
        calls = proxy.ops("BatchGetResourceConfig")
    finally:
        proxy.close()
    assert state["held"], "the proxy must have held one key back"
    assert len(calls) == 2
    assert [k["resourceId"] for k in calls[1].json()["resourceKeys"]] == [state["held"]]
    arns = {f["resource"]["arn"] for f in report["findings"]}
    assert {"arn:aws:s3:::cfg-a", "arn:aws:s3:::cfg-b", "arn:aws:s3:::cfg-c"} <= arns
