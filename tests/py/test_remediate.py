"""Remediation against moto's server with the real SDK for Rust: misconfigured resources are
seeded with boto3, planned, applied, verified with boto3, rolled back and verified again; a
resource changed between plan and apply is refused; the run's limits hold; an injected failure
stops its remediator and is reported. KMS keys, CloudTrail trails and IAM users are not in the
live inventory's direct collectors, so their findings come from Config-shaped records of the
seeded resources, while every read and write of the remediation itself goes to moto."""
import json
import sqlite3

import pytest

import boto3  # noqa: F401  (the helpers below build boto3 clients)

from awsproxy import query_error
from test_aws import ACCOUNT, client, moto, proxy, run  # noqa: F401  (fixtures)
from test_notify import smtp  # noqa: F401  (fixture)

ALL = {
    "aws.s3.block-public-access", "aws.s3.default-encryption", "aws.ec2.revoke-admin-ports-from-internet",
    "aws.ec2.ebs-default-encryption", "aws.rds.disable-public-access", "aws.kms.enable-rotation",
    "aws.cloudtrail.enable-log-validation", "aws.ecr.enable-scan-on-push", "aws.iam.deactivate-old-access-keys",
}


def ecr_as_aws_reads_it(p):
    """The SDK leaves `scanOnPush: false` out (false is the model's default), which ECR reads as
    false; moto 5.2.1 ignores the empty object instead. This restores the API's meaning."""
    def rule(c, n):
        if c.op == "PutImageScanningConfiguration" and c.json().get("imageScanningConfiguration") == {}:
            body = c.json()
            body["imageScanningConfiguration"] = {"scanOnPush": False}
            return ("request", lambda _c: json.dumps(body).encode())
        return None
    p.rules.append(rule)


def seed(url):
    s3 = client(url, "s3")
    for b in ("open-bucket", "trail-logs"):
        s3.create_bucket(Bucket=b)
    s3.create_bucket(Bucket="hands-off")
    s3.put_bucket_tagging(Bucket="hands-off", Tagging={"TagSet": [{"Key": "assetwarden:remediation", "Value": "off"}]})
    s3.create_bucket(Bucket="restricted-data")
    s3.put_bucket_tagging(Bucket="restricted-data", Tagging={"TagSet": [{"Key": "DataClassification", "Value": "restricted"}]})
    ec2 = client(url, "ec2")
    ssh = ec2.create_security_group(GroupName="ssh", Description="x")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=ssh, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    wide = ec2.create_security_group(GroupName="wide", Description="x")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=wide, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ec2.create_volume(AvailabilityZone="us-east-1a", Size=8, Encrypted=False)
    client(url, "rds").create_db_instance(
        DBInstanceIdentifier="orders", DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="app",
        MasterUserPassword="not-a-secret-1", PubliclyAccessible=True)
    client(url, "ecr").create_repository(repositoryName="shop/web", imageScanningConfiguration={"scanOnPush": False})
    key = client(url, "kms").create_key()["KeyMetadata"]
    trail = client(url, "cloudtrail").create_trail(Name="main", S3BucketName="trail-logs")
    iam = client(url, "iam")
    user = iam.create_user(UserName="alice")["User"]
    ak = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    return {"ssh": ssh, "wide": wide, "key": key, "trail": trail["TrailARN"], "user": user["Arn"], "ak": ak}


def config_records(tmp, ids):
    """Config-shaped records of the key, the trail and the user, as a Config recorder would
    deliver them: rotation off, validation off, a key created in 2020."""
    items = [
        {"resourceType": "AWS::KMS::Key", "arn": ids["key"]["Arn"], "resourceId": ids["key"]["KeyId"], "accountId": ACCOUNT,
         "awsRegion": "us-east-1", "tags": {}, "supplementaryConfiguration": {},
         "configuration": {"keyId": ids["key"]["KeyId"], "keyManager": "CUSTOMER", "keySpec": "SYMMETRIC_DEFAULT",
                           "keyState": "Enabled", "keyRotationEnabled": False}},
        {"resourceType": "AWS::CloudTrail::Trail", "arn": ids["trail"], "resourceId": "main", "resourceName": "main",
         "accountId": ACCOUNT, "awsRegion": "us-east-1", "tags": {}, "supplementaryConfiguration": {},
         "configuration": {"name": "main", "trailARN": ids["trail"], "logFileValidationEnabled": False, "isMultiRegionTrail": False}},
        {"resourceType": "AWS::IAM::User", "arn": ids["user"], "resourceId": "AIDAALICE", "resourceName": "alice",
         "accountId": ACCOUNT, "awsRegion": "global", "tags": {},
         "supplementaryConfiguration": {"AccessKeys": [{"accessKeyId": ids["ak"], "status": "Active", "createDate": "2020-01-01T00:00:00Z"}]},
         "configuration": {"userName": "alice", "arn": ids["user"], "userPolicyList": [], "attachedManagedPolicies": []}},
    ]
    p = tmp / "config.ndjson"
    p.write_text("\n".join(json.dumps(i) for i in items) + "\n")
    return p


def live_state(url, ids):
    s3 = client(url, "s3")

    def pab(b):
        try:
            return s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"]
        except s3.exceptions.ClientError:
            return None

    def enc(b):
        try:
            return [r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
                    for r in s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"]]
        except s3.exceptions.ClientError:
            return None
    ec2 = client(url, "ec2")
    perms = ec2.describe_security_groups(GroupIds=[ids["ssh"]])["SecurityGroups"][0]["IpPermissions"]
    return {
        "pab": {b: pab(b) for b in ("open-bucket", "trail-logs", "hands-off", "restricted-data")},
        "enc": enc("open-bucket"),
        "ssh_ports": sorted(p["FromPort"] for p in perms),
        "ebs_default": ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"],
        "rds_public": client(url, "rds").describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0]["PubliclyAccessible"],
        "kms_rotation": client(url, "kms").get_key_rotation_status(KeyId=ids["key"]["KeyId"])["KeyRotationEnabled"],
        "trail_validation": client(url, "cloudtrail").get_trail(Name="main")["Trail"]["LogFileValidationEnabled"],
        "ecr_scan": client(url, "ecr").describe_repositories(repositoryNames=["shop/web"])["repositories"][0]["imageScanningConfiguration"]["scanOnPush"],
        "key_status": client(url, "iam").list_access_keys(UserName="alice")["AccessKeyMetadata"][0]["Status"],
    }


POLICY = """version: 1
remediation:
  max_changes_per_account: 20
  never:
    classifications: [restricted]
"""


def scan_args(config):
    return ["--aws", "--regions", "us-east-1", "--no-config", "-i", str(config)]


def test_plan_apply_verify_and_roll_back(proxy, tmp_path):
    ecr_as_aws_reads_it(proxy)
    ids = seed(proxy.url)
    config = config_records(tmp_path, ids)
    pol = tmp_path / "policy.yaml"
    pol.write_text(POLICY)
    db = tmp_path / "state.db"
    p = run(proxy.url, "scan", *scan_args(config), "-p", pol, "-f", "json", "-o", tmp_path / "scan.json", "--state", db)
    assert p.returncode in (0, 1), p.stderr
    before = live_state(proxy.url, ids)
    assert before["pab"]["open-bucket"] is None and before["rds_public"] and before["ssh_ports"] == [22, 443]

    plan_file = tmp_path / "plan.json"
    p = run(proxy.url, "remediate", "plan", *scan_args(config), "-p", pol, "-o", plan_file, "--json", check=0)
    plan = json.loads(p.stdout)
    assert json.loads(plan_file.read_text()) == plan
    assert {c["remediation"] for c in plan["changes"]} == ALL, plan["changes"]
    assert all(c["approval"] == "required" for c in plan["changes"])
    by_arn = {c["target"]["arn"]: c for c in plan["changes"]}
    assert by_arn[f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders"]["before"] == {"PubliclyAccessible": True}
    assert by_arn[f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders"]["after"] == {"PubliclyAccessible": False}
    assert by_arn[ids["user"]]["after"] == {ids["ak"]: "Inactive"}
    skipped = {s["arn"]: s["reason"] for s in plan["skipped"]}
    assert "assetwarden:remediation=off" in skipped["arn:aws:s3:::hands-off"]
    assert "restricted" in skipped["arn:aws:s3:::restricted-data"]
    wide = f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{ids['wide']}"
    assert "would close other ports" in skipped[wide], skipped[wide]
    assert live_state(proxy.url, ids) == before, "planning changes nothing"

    # Without approval nothing runs.
    p = run(proxy.url, "remediate", "apply", plan_file, "-p", pol, check=0)
    assert "awaiting approval" in p.stdout and "0 applied" in p.stderr
    assert live_state(proxy.url, ids) == before

    journal = tmp_path / "journal.json"
    p = run(proxy.url, "remediate", "apply", plan_file, "-p", pol, "--approve", "all", "--state", db,
            "--journal", journal, "--json", "--by", "alice@example.com", check=0)
    records = json.loads(p.stdout)
    assert {r["outcome"] for r in records} == {"applied"}, [(r["change_id"], r["message"]) for r in records if r["outcome"] != "applied"]
    after = live_state(proxy.url, ids)
    assert after["pab"]["open-bucket"] == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    assert after["pab"]["hands-off"] is None and after["pab"]["restricted-data"] is None, "protected buckets untouched"
    assert after["enc"] == ["AES256"]
    assert after["ssh_ports"] == [443], "only the SSH rule was revoked"
    assert after["ebs_default"] is True and after["rds_public"] is False
    assert after["kms_rotation"] is True and after["trail_validation"] is True and after["ecr_scan"] is True
    assert after["key_status"] == "Inactive"
    # Re-read and re-checked: every finding resolved but the volume's (its fix only protects new volumes).
    unresolved = [r["remediation"] for r in records if not all(r.get("recheck", {}).get(c) == "PASS" for c in r["checks"])]
    assert unresolved == ["aws.ec2.ebs-default-encryption"], unresolved
    assert all(r["triggered_by"] == "alice@example.com" and r["plan_id"] == plan["id"] for r in records)
    with sqlite3.connect(db) as c:
        states = dict(c.execute("SELECT check_id, state FROM findings WHERE arn = ?", (f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders",)))
        assert states["aws.rds.public-access"] == "resolved", states
        vol = c.execute("SELECT state FROM findings WHERE check_id = 'aws.ec2.ebs-encrypted'").fetchone()[0]
        assert vol == "open"
        assert c.execute("SELECT COUNT(*) FROM remediations WHERE plan_id = ? AND outcome = 'applied'", (plan["id"],)).fetchone()[0] == len(records)
    run(proxy.url, "report", "--state", db, "--out", tmp_path / "report", check=0)
    html = (tmp_path / "report" / "report.html").read_text()
    rows = html[html.index('<table id="remediations">'):]
    rows = rows[:rows.index("</table>")]
    assert rows.count("<tr>") == len(records) + 1 and "applied (resolved)" in rows and plan["id"] in rows

    # Roll back from the state store: every previous value is back.
    p = run(proxy.url, "remediate", "rollback", plan["id"], "--state", db, "--json", check=0)
    assert {r["outcome"] for r in json.loads(p.stdout)} == {"rolled_back"}, p.stdout
    assert live_state(proxy.url, ids) == before
    # Nothing is left to roll back from the journal's view either: a second rollback refuses.
    p = run(proxy.url, "remediate", "rollback", plan["id"], "--journal", journal, "--json", check=1)
    assert {r["outcome"] for r in json.loads(p.stdout)} == {"refused"}
    assert live_state(proxy.url, ids) == before


def test_a_resource_changed_since_the_plan_is_refused(moto, tmp_path):
    s3 = client(moto, "s3")
    s3.create_bucket(Bucket="bucket-b1")
    client(moto, "rds").create_db_instance(
        DBInstanceIdentifier="db1", DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="app",
        MasterUserPassword="not-a-secret-1", PubliclyAccessible=True)
    plan_file = tmp_path / "plan.json"
    run(moto, "remediate", "plan", "--aws", "--regions", "us-east-1", "--no-config", "-o", plan_file, check=0)
    # A person sets part of the block by hand in between.
    mine = {"BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": False, "RestrictPublicBuckets": False}
    s3.put_public_access_block(Bucket="bucket-b1", PublicAccessBlockConfiguration=mine)
    p = run(moto, "remediate", "apply", plan_file, "--approve", "all", "--json", check=1)
    recs = json.loads(p.stdout)
    out = {r["target"]["arn"]: r for r in recs}
    refused = [r for r in recs if r["remediation"] == "aws.s3.block-public-access"][0]
    assert refused["outcome"] == "refused" and "changed since the plan" in refused["message"], refused
    assert s3.get_public_access_block(Bucket="bucket-b1")["PublicAccessBlockConfiguration"] == mine
    assert out[f"arn:aws:rds:us-east-1:{ACCOUNT}:db:db1"]["outcome"] == "applied"
    # An edited plan is refused whole.
    plan = json.loads(plan_file.read_text())
    plan["changes"][0]["after"] = plan["changes"][0]["before"]
    plan_file.write_text(json.dumps(plan))
    p = run(moto, "remediate", "apply", plan_file, "--approve", "all", check=2)
    assert "edited after it was made" in p.stderr, p.stderr


def test_unattended_limits_and_notifications(moto, tmp_path, smtp):
    port, inbox = smtp
    s3 = client(moto, "s3")
    for i in range(4):
        s3.create_bucket(Bucket=f"bucket-{i}")
    client(moto, "rds").create_db_instance(
        DBInstanceIdentifier="db1", DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="app",
        MasterUserPassword="not-a-secret-1", PubliclyAccessible=True)
    pol = tmp_path / "policy.yaml"
    pol.write_text(f"""version: 1
checks:
  select: [{{ids: [aws.s3.public-access-block, aws.rds.public-access]}}]
remediation:
  unattended: [aws.s3.block-public-access]
  max_changes_per_run: 2
notifications:
  routes:
    - name: ops
      kind: email
      smtp: {{host: 127.0.0.1, port: {port}, tls: none}}
      from: assetwarden@example.com
      to: [ops@example.com]
""")
    plan_file = tmp_path / "plan.json"
    p = run(moto, "remediate", "plan", "--aws", "--regions", "us-east-1", "--no-config", "-p", pol, "-o", plan_file, "--json", check=0)
    approvals = {c["remediation"]: c["approval"] for c in json.loads(p.stdout)["changes"]}
    assert approvals == {"aws.s3.block-public-access": "unattended", "aws.rds.disable-public-access": "required"}
    # Unattended (no --approve): the S3 changes only, and at most two of them.
    p = run(moto, "remediate", "apply", plan_file, "-p", pol, "--json", "--notify", "--by", "schedule", check=0)
    recs = json.loads(p.stdout)
    applied = [r for r in recs if r["outcome"] == "applied"]
    assert len(applied) == 2 and {r["remediation"] for r in applied} == {"aws.s3.block-public-access"}
    limited = [r for r in recs if "limit of 2 changes" in r.get("message", "")]
    assert len(limited) == 2, recs
    db = [r for r in recs if r["remediation"] == "aws.rds.disable-public-access"][0]
    assert db["outcome"] == "skipped" and "awaiting approval" in db.get("message", "")
    protected = 0
    for i in range(4):
        try:
            s3.get_public_access_block(Bucket=f"bucket-{i}")
        except s3.exceptions.ClientError:
            protected += 1
    assert protected == 2, "exactly two buckets were changed"
    assert client(moto, "rds").describe_db_instances(DBInstanceIdentifier="db1")["DBInstances"][0]["PubliclyAccessible"] is True
    # The changes went to the notifiers.
    assert len(inbox.messages) == 1, p.stderr
    body = inbox.messages[0][1].get_body(preferencelist=("plain",)).get_content()
    assert body.count("remediation.aws.s3.block-public-access") == 2 and body.count("by schedule") == 2, body
    # The per-account limit: one change in the account per run.
    pol.write_text(pol.read_text().replace("max_changes_per_run: 2", "max_changes_per_run: 10\n  max_changes_per_account: 1"))
    run(moto, "remediate", "plan", "--aws", "--regions", "us-east-1", "--no-config", "-p", pol, "-o", plan_file, check=0)
    recs = json.loads(run(moto, "remediate", "apply", plan_file, "-p", pol, "--json", check=0).stdout)
    assert [r["outcome"] for r in recs if r["remediation"] == "aws.s3.block-public-access"] == ["applied", "skipped"], recs
    s3_skipped = [r for r in recs if r["outcome"] == "skipped" and r["remediation"] == "aws.s3.block-public-access"]
    assert f"limit of 1 changes in account {ACCOUNT}" in s3_skipped[0]["message"], s3_skipped
    # The daily limit counts earlier runs from the state store: 1 a day, one already made.
    for i in range(4, 6):
        s3.create_bucket(Bucket=f"bucket-{i}")
    pol.write_text(pol.read_text().replace("max_changes_per_account: 1", "max_changes_per_account_per_day: 1"))
    db = tmp_path / "state.db"
    for expect in (["applied", "skipped", "skipped"], ["skipped", "skipped"]):
        run(moto, "remediate", "plan", "--aws", "--regions", "us-east-1", "--no-config", "-p", pol, "-o", plan_file, check=0)
        recs = json.loads(run(moto, "remediate", "apply", plan_file, "-p", pol, "--json", "--state", db, check=0).stdout)
        s3_recs = [r for r in recs if r["remediation"] == "aws.s3.block-public-access"]
        assert [r["outcome"] for r in s3_recs] == expect, s3_recs
        assert all("changes a day" in r["message"] for r in s3_recs if r["outcome"] == "skipped"), s3_recs


def test_a_failure_stops_the_remediator_and_is_reported(proxy, tmp_path):
    s3 = client(proxy.url, "s3")
    for b in ("a-first", "b-second"):
        s3.create_bucket(Bucket=b)
    client(proxy.url, "ecr").create_repository(repositoryName="web", imageScanningConfiguration={"scanOnPush": False})
    plan_file = tmp_path / "plan.json"
    pol = tmp_path / "policy.yaml"
    pol.write_text("version: 1\nchecks:\n  select: [{ids: [aws.s3.public-access-block, aws.ecr.image-scanning]}]\n")
    run(proxy.url, "remediate", "plan", "--aws", "--regions", "us-east-1", "--no-config", "-p", pol, "-o", plan_file, check=0)
    proxy.rules.append(lambda c, n: (403, {"Content-Type": "application/xml"},
                                     b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>")
                       if c.method == "PUT" and "publicAccessBlock" in c.path else None)
    p = run(proxy.url, "remediate", "apply", plan_file, "-p", pol, "--approve", "all", "--json", check=1)
    recs = json.loads(p.stdout)
    first, second = sorted((r for r in recs if r["remediation"] == "aws.s3.block-public-access"),
                           key=lambda r: int(r["change_id"][1:]))
    assert first["outcome"] == "failed" and "AccessDenied" in first["message"], first
    assert second["outcome"] == "skipped" and "stopped for this run" in second["message"], second
    puts = [c for c in proxy.calls if c.method == "PUT" and "publicAccessBlock" in c.path]
    assert len(puts) == 1, "no blind retry, and no second bucket after the failure"
    # Other remediators go on.
    ecr = [r for r in recs if r["remediation"] == "aws.ecr.enable-scan-on-push"][0]
    assert ecr["outcome"] == "applied"
    assert "1 failed" in p.stderr
    _ = query_error  # (the S3 error above is written by hand: S3 speaks REST-XML)


def test_unknown_remediation_in_the_policy_is_named(tmp_path):
    pol = tmp_path / "policy.yaml"
    pol.write_text("version: 1\nremediation:\n  unattended:\n    - aws.s3.block-public-access\n    - aws.s3.delete-bucket\n")
    p = run("http://127.0.0.1:9", "policy", "check", pol)
    assert p.returncode == 2 and "unknown remediation `aws.s3.delete-bucket`" in p.stderr and ":5:" in p.stderr, p.stderr
    p = run("http://127.0.0.1:9", "remediate", "list", "--json", check=0)
    specs = json.loads(p.stdout)
    assert {s["id"] for s in specs} == ALL
    assert all(s["iam_actions"] and s["api_calls"] and s["undo"] for s in specs)


def test_a_runbook_can_make_the_change_and_its_failure_is_reported(moto, proxy, tmp_path):
    """moto 5.2.1 has no Systems Manager Automation: the proxy answers `StartAutomationExecution`
    and `GetAutomationExecution` in the shapes of the SSM API reference, and does what the
    AWS-DisableS3BucketPublicReadWrite runbook does (all four Block Public Access settings on)
    directly on moto. The read-back and the re-check after the runbook are real."""
    s3 = client(moto, "s3")
    s3.create_bucket(Bucket="via-runbook")
    pol = tmp_path / "policy.yaml"
    pol.write_text("""version: 1
checks:
  select: [{ids: [aws.s3.public-access-block]}]
remediation:
  runbooks:
    aws.s3.block-public-access:
      document: AWS-DisableS3BucketPublicReadWrite
      parameters: {S3BucketName: "{name}", AutomationAssumeRole: "arn:aws:iam::{account}:role/remediation"}
      timeout_seconds: 30
""")
    plan_file = tmp_path / "plan.json"
    p = run(proxy.url, "remediate", "plan", "--aws", "--regions", "us-east-1", "--no-config", "-p", pol, "-o", plan_file, "--json", check=0)
    changes = json.loads(p.stdout)["changes"]
    assert [c["runbook"] for c in changes] == ["AWS-DisableS3BucketPublicReadWrite"]
    assert changes[0]["api_calls"][0] == "ssm:StartAutomationExecution (AWS-DisableS3BucketPublicReadWrite)"
    started = []
    executions = {}

    def ssm(c, n):
        hdr = {"Content-Type": "application/x-amz-json-1.1"}
        if c.op == "StartAutomationExecution":
            body = c.json()
            started.append(body)
            bucket = body["Parameters"]["S3BucketName"][0]
            ok = bucket != "runbook-fails"
            if ok:
                s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
            eid = f"exec-{len(started)}"
            executions[eid] = "Success" if ok else "Failed"
            return (200, hdr, json.dumps({"AutomationExecutionId": eid}).encode())
        if c.op == "GetAutomationExecution":
            eid = c.json()["AutomationExecutionId"]
            polls = sum(1 for x in proxy.calls if x.op == "GetAutomationExecution" and json.loads(x.body)["AutomationExecutionId"] == eid)
            status = "InProgress" if polls == 1 else executions[eid]
            return (200, hdr, json.dumps({"AutomationExecution": {
                "AutomationExecutionId": eid, "DocumentName": "AWS-DisableS3BucketPublicReadWrite",
                "AutomationExecutionStatus": status}}).encode())
        return None
    proxy.rules.append(ssm)
    p = run(proxy.url, "remediate", "apply", plan_file, "-p", pol, "--approve", "all", "--json", check=0,
            ASSETWARDEN_RUNBOOK_POLL_MS="10")
    (good,) = json.loads(p.stdout)
    assert good["outcome"] == "applied" and good["runbook"]["status"] == "Success", good
    assert good.get("recheck") == {"aws.s3.public-access-block": "PASS"}, good
    assert started[0]["DocumentName"] == "AWS-DisableS3BucketPublicReadWrite"
    assert started[0]["Parameters"] == {"S3BucketName": ["via-runbook"],
                                        "AutomationAssumeRole": [f"arn:aws:iam::{ACCOUNT}:role/remediation"]}
    assert not [c for c in proxy.calls if c.method == "PUT" and "publicAccessBlock" in c.path], "the runbook made the change, not the SDK"
    assert len([c for c in proxy.calls if c.op == "GetAutomationExecution"]) == 2, "polled until it ended"

    # A runbook that ends `Failed`: reported as failed, with its execution id; nothing changed.
    s3.create_bucket(Bucket="runbook-fails")
    run(proxy.url, "remediate", "plan", "--aws", "--regions", "us-east-1", "--no-config", "-p", pol, "-o", plan_file, check=0)
    p = run(proxy.url, "remediate", "apply", plan_file, "-p", pol, "--approve", "all", "--json", check=1,
            ASSETWARDEN_RUNBOOK_POLL_MS="10")
    (bad,) = json.loads(p.stdout)
    assert bad["outcome"] == "failed" and "ended `Failed`" in bad["message"], bad
    assert bad["runbook"]["execution_id"] == "exec-2" and bad["runbook"]["status"] == "Failed"
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_public_access_block(Bucket="runbook-fails")
