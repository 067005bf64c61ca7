"""`assetwarden.Aws` from a Python ops script, against moto's server: the live inventory, tag
plans applied (dry run, then for real), the auto-tag path on a real CloudTrail event, and the
Security Hub export; AWS failures raise `AwsError` with AWS's code."""
import json
import os
import pathlib
import urllib.request

import boto3
import pytest

import assetwarden

ROOT = pathlib.Path(__file__).resolve().parents[3]
EVENT = ROOT / "crates" / "aws" / "tests" / "data" / "cloudtrail" / "event-cloud-trail-create-bucket.json"
POLICY = """version: 1
classification:
  tags:
    - key: owner
      derive:
        - from: event.creator-name
      default: unassigned
"""


@pytest.fixture
def moto(monkeypatch):
    url = os.environ.get("MOTO_URL")
    assert url, "MOTO_URL must point at moto's server (scripts/test.sh starts it)"
    with urllib.request.urlopen(urllib.request.Request(url + "/moto-api/reset", method="POST"), timeout=10) as r:
        r.read()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return url


def client(moto, service, region="us-east-1"):
    return boto3.client(service, endpoint_url=moto, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_scan_plan_apply(moto):
    s3 = client(moto, "s3")
    s3.create_bucket(Bucket="ops-bucket")
    aws = assetwarden.Aws(regions=["us-east-1"], endpoint_url=moto, use_config=False)
    engine = assetwarden.Engine(assetwarden.Policy.from_str(POLICY))
    report = aws.scan(engine)
    pab = [f for f in report.findings() if f.check_id == "aws.s3.public-access-block" and f.resource_arn == "arn:aws:s3:::ops-bucket"]
    assert pab and pab[0].status == "FAIL"
    plans = [p for p in report.tag_plans if p.arn == "arn:aws:s3:::ops-bucket"]
    assert plans and plans[0].tags == {"owner": "unassigned"}
    dry = aws.apply_tags(plans)
    assert dry[0]["outcome"] == "WouldWrite"
    with pytest.raises(Exception):
        s3.get_bucket_tagging(Bucket="ops-bucket")
    done = aws.apply_tags(plans, apply=True)
    assert done[0]["outcome"] == "Written" and done[0]["written"] == {"owner": "unassigned"}
    assert s3.get_bucket_tagging(Bucket="ops-bucket")["TagSet"] == [{"Key": "owner", "Value": "unassigned"}]


def test_handle_event_and_export(moto):
    ev = json.loads(EVENT.read_text())
    name = ev["detail"]["requestParameters"]["bucketName"]
    client(moto, "s3", "us-west-2").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    aws = assetwarden.Aws(regions=["us-west-2"], endpoint_url=moto, region="us-east-1", use_config=False)
    engine = assetwarden.Engine(assetwarden.Policy.from_str(POLICY))
    out = aws.handle_event(ev, engine, apply=True)
    assert out[0]["resources"][0]["write"]["outcome"] == "Written"
    tags = client(moto, "s3", "us-west-2").get_bucket_tagging(Bucket=name)["TagSet"]
    assert tags == [{"Key": "owner", "Value": "root"}]
    client(moto, "securityhub").enable_security_hub()
    res = aws.export_securityhub(aws.scan(engine))
    assert res["imported"] >= 1 and res["failed"] == [] and res["refused"] == []


def test_aws_errors_raise_aws_error(moto):
    aws = assetwarden.Aws(regions=["us-east-1"], endpoint_url="http://127.0.0.1:9", use_config=False)
    with pytest.raises(assetwarden.AwsError):
        aws.scan(assetwarden.Engine())
    with pytest.raises(assetwarden.SourceError, match="eventName"):
        assetwarden.Aws(endpoint_url=moto).handle_event({"hello": 1}, assetwarden.Engine())
