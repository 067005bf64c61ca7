"""The Python API: policies and their errors, evaluation of every input form, findings,
reports, tag plans, the exception tree."""
import json
import pathlib

import pytest

import assetwarden
from assetwarden import AssetwardenError, Engine, Policy, PolicyError, SourceError

POLICY = """version: 1
name: py test
classification:
  tags:
    - key: Environment
      allowed: [prod, dev]
      derive:
        - from: account
          map: {"111111111111": prod}
checks:
  select:
    - ids: ["aws.ec2.*", "aws.rds.*", "aws.s3.*"]
"""


def test_policy_from_file_str_dict(tmp_path):
    p = tmp_path / "policy.yaml"
    p.write_text(POLICY)
    assert Policy.from_file(p).name == "py test"
    assert Policy.from_str(POLICY).governed_tags == ["Environment"]
    d = {"version": 1, "checks": {"select": [{"frameworks": ["cis-aws"]}]}}
    assert Policy.from_dict(d, name="dict").name == "dict"


def test_policy_errors_have_file_line_column(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("version: 1\nchecks:\n  settings:\n    - check: aws.s3.nope\n      severity: high\n")
    with pytest.raises(PolicyError) as e:
        Policy.from_file(p)
    assert e.value.file == str(p)
    assert (e.value.line, e.value.column) == (4, 14)
    assert "unknown check `aws.s3.nope`" in str(e.value)
    assert isinstance(e.value, AssetwardenError)
    with pytest.raises(PolicyError) as e:
        Policy.from_str("version: 1\nchecks: [\n", name="inline.yaml")
    assert e.value.file == "inline.yaml" and e.value.line is not None
    with pytest.raises(PolicyError) as e:
        Policy.from_dict({"version": 1, "rules": [{"id": "x"}]})
    assert "missing key" in str(e.value)
    with pytest.raises(PolicyError):
        Policy.from_file(tmp_path / "missing.yaml")


def test_recorded_boto3_responses(recorded):
    engine = Engine(Policy.from_str(POLICY))
    sgs = recorded("aws-api/ec2.DescribeSecurityGroups/test_security_group_self_reference__ec2.DescribeSecurityGroups_2.json")
    findings = list(engine.evaluate(sgs, region="us-east-1"))
    ssh = [f for f in findings if f.check_id == "aws.ec2.sg-no-ssh-from-internet" and f.resource_arn.endswith("sg-0026997c")]
    assert len(ssh) == 1 and ssh[0].status == "FAIL"
    assert ssh[0].evidence[0]["path"] == "configuration.ipPermissions"
    rds = recorded("aws-api/rds.DescribeDBInstances/test_rds_auto_patch_with_window__rds.DescribeDBInstances_2.json")
    pub = [f for f in engine.evaluate(rds) if f.check_id == "aws.rds.public-access"]
    assert pub[0].status == "FAIL" and pub[0].severity == "critical"
    # One item of a response, as scripts hold it after indexing.
    item = rds["DBInstances"][0]
    assert [f.status for f in engine.evaluate(item) if f.check_id == "aws.rds.public-access"] == ["FAIL"]


def test_config_items_json_bytes_and_iterables():
    engine = Engine()
    item = {"resourceType": "AWS::EC2::Volume", "arn": "arn:aws:ec2:eu-west-1:111111111111:volume/vol-1",
            "accountId": "111111111111", "awsRegion": "eu-west-1", "configuration": {"encrypted": False},
            "supplementaryConfiguration": {}, "tags": {}}
    as_dict = [f.to_dict() for f in engine.evaluate(item)]
    as_bytes = [f.to_dict() for f in engine.evaluate(json.dumps(item).encode())]
    as_str = [f.to_dict() for f in engine.evaluate(json.dumps(item) + "\n" + json.dumps(item))]
    as_gen = [f.to_dict() for f in engine.evaluate(x for x in [item, json.dumps(item)])]
    assert as_dict == as_bytes
    assert len(as_str) == len(as_gen) == 2 * len(as_dict)
    assert as_dict[0]["status"] == "FAIL"


def test_finding_attributes_and_asff():
    engine = Engine(Policy.from_str(POLICY), now="2026-11-27T00:00:00Z")
    f = next(x for x in engine.evaluate({"VolumeId": "vol-9", "Size": 8, "Encrypted": False}, account="111111111111", region="eu-west-1") if x.check_id == "aws.ec2.ebs-encrypted")
    assert f.check_id == "aws.ec2.ebs-encrypted"
    assert f.status == "FAIL" and f.severity == "medium"
    assert f.resource_arn == "arn:aws:ec2:eu-west-1:111111111111:volume/vol-9"
    assert f.resource_type == "AWS::EC2::Volume" and f.account_id == "111111111111" and f.region == "eu-west-1"
    assert f.tags == {"Environment": "prod"}
    assert f.references["securityhub"] == "EC2.3"
    assert len(f.id) == 32
    d = f.to_dict()
    assert d["id"] == f.id and d["resource"]["arn"] == f.resource_arn
    asff = f.to_asff()
    assert asff["SchemaVersion"] == "2018-10-08" and asff["Compliance"]["Status"] == "FAILED"
    assert asff["AwsAccountId"] == "111111111111"


def test_scan_report_lists_bad_records_instead_of_raising():
    engine = Engine(Policy.from_str(POLICY))
    good = {"VolumeId": "vol-1", "Size": 8, "Encrypted": True}
    report = engine.scan([good, {"nothing": "here"}], account="111111111111", region="eu-west-1")
    assert report.coverage["resources"] == 1
    assert report.errors[0]["kind"] == "input" and "resources[1]" in report.errors[0]["location"]
    assert report.summary["by_status"]["PASS"] >= 1
    assert any(f.check_id == "aws.ec2.ebs-encrypted" for f in report.findings())
    sarif = json.loads(report.render("sarif"))
    assert sarif["version"] == "2.1.0"
    with pytest.raises(AssetwardenError):
        report.render("pdf")
    plans = report.tag_plans
    assert plans and plans[0].tags == {"Environment": "prod"}
    assert plans[0].to_dict()["changes"][0]["reason"].startswith("derived from account")


def test_evaluate_raises_source_error_naming_the_record():
    engine = Engine()
    with pytest.raises(SourceError) as e:
        list(engine.evaluate([{"VolumeId": "vol-1", "Size": 8}, {"what": 1}], account="111111111111", region="eu-west-1"))
    assert "resources[1]" in str(e.value)
    with pytest.raises(TypeError):
        engine.evaluate(42)  # type: ignore[arg-type]


def test_results_are_lazy_iterators():
    engine = Engine()
    pulled = []

    def gen():
        for i in range(10_000):
            pulled.append(i)
            yield {"VolumeId": f"vol-{i}", "Size": 8, "Encrypted": i % 2 == 0}

    it = engine.evaluate(gen(), account="111111111111", region="eu-west-1", include_pass=False)
    first = next(it)
    assert first.status == "FAIL"
    assert len(pulled) < 10_000, "evaluate() must not read the whole input for the first finding"
    assert sum(1 for _ in it) + 1 == 5_000


def test_no_panic_exception_ever(tmp_path):
    engine = Engine()
    deep: dict = {}
    cur = deep
    for _ in range(400):
        cur["x"] = {}
        cur = cur["x"]
    with pytest.raises((TypeError, AssetwardenError)):
        list(engine.evaluate({"resourceType": "AWS::S3::Bucket", "arn": "arn:aws:s3:::b", "configuration": deep}))
    for weird in [b"\xff\xfe\x00", "{", "[1, 2", "null", '{"resourceType": 5}']:
        report = engine.scan(weird)
        assert report.errors, weird


def test_builtin_checks_and_normalize():
    checks = assetwarden.builtin_checks()
    assert len(checks) >= 40 and all("id" in c for c in checks)
    res = assetwarden.normalize({"SecurityGroups": [{"GroupId": "sg-1", "OwnerId": "111111111111", "IpPermissions": []}]}, region="eu-west-1")
    assert res[0]["resourceType"] == "AWS::EC2::SecurityGroup"
    assert res[0]["arn"] == "arn:aws:ec2:eu-west-1:111111111111:security-group/sg-1"
