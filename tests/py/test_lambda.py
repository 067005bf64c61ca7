"""The Lambda function's `bootstrap` binary, run as Lambda runs it: against the Lambda Runtime
API (served here by a small local implementation of its four endpoints), with moto's server for
AWS. Also: the SAM template passes cfn-lint, and its EventBridge rule matches exactly the
creation events the code handles."""
import http.server
import json
import os
import pathlib
import re
import subprocess
import threading
import time
import urllib.request

import boto3
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BOOTSTRAP = os.environ.get("ASSETWARDEN_LAMBDA_BIN", str(ROOT / "target" / "debug" / "bootstrap"))
EVENTS = ROOT / "crates" / "aws" / "tests" / "data" / "cloudtrail"
TEMPLATE = ROOT / "deploy" / "lambda" / "template.yaml"

ACCOUNT = "123456789012"

POLICY = """version: 1
name: lambda test
classification:
  tags:
    - key: owner
      derive:
        - from: event.creator-name
      default: unassigned
checks:
  select: [{ids: [aws.s3.public-access-block, aws.ec2.sg-no-ssh-from-internet]}]
"""


class RuntimeApi:
    """The Lambda Runtime API: `next` hands out queued events; `response` and `error` record
    what the function answered."""

    def __init__(self, events):
        self.queue = list(events)
        self.results = {}
        self.init_error = None
        self.lock = threading.Lock()
        api = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/2018-06-01/runtime/invocation/next":
                    self.send_response(404)
                    self.end_headers()
                    return
                while True:
                    with api.lock:
                        item = api.queue.pop(0) if api.queue else None
                    if item is not None:
                        break
                    time.sleep(0.05)
                rid, ev = item
                body = json.dumps(ev).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", rid)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 300000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:assetwarden")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0) or 0))
                m = re.match(r"^/2018-06-01/runtime/invocation/([^/]+)/(response|error)$", self.path)
                with api.lock:
                    if m:
                        api.results[m.group(1)] = (m.group(2), json.loads(body or b"null"))
                    elif self.path.endswith("/init/error"):
                        api.init_error = body.decode()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def wait(self, ids, timeout=120):
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                if all(i in self.results for i in ids):
                    return {i: self.results[i] for i in ids}
            time.sleep(0.1)
        raise AssertionError(f"no answer for {[i for i in ids if i not in self.results]}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def moto():
    url = os.environ.get("MOTO_URL")
    assert url, "MOTO_URL must point at moto's server (scripts/test.sh starts it)"
    with urllib.request.urlopen(urllib.request.Request(url + "/moto-api/reset", method="POST"), timeout=10) as r:
        r.read()
    return url


def client(moto, service, region="us-east-1"):
    return boto3.client(service, endpoint_url=moto, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def run_function(moto, events, **env_extra):
    api = RuntimeApi(events)
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=api.address, AWS_LAMBDA_FUNCTION_NAME="assetwarden",
               AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024", AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
               AWS_LAMBDA_LOG_STREAM_NAME="test", AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/assetwarden",
               AWS_REGION="us-east-1", AWS_ENDPOINT_URL=moto, AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", ASSETWARDEN_POLICY_PARAMETER="/assetwarden/policy",
               ASSETWARDEN_AWS_BACKOFF_MS="5")
    env.pop("AWS_PROFILE", None)
    env.update(env_extra)
    proc = subprocess.Popen([BOOTSTRAP], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        results = api.wait([rid for rid, _ in events])
    finally:
        proc.kill()
        log = proc.communicate(timeout=10)[0]
        api.close()
    return results, log


def test_creation_event_is_tagged_and_checked(moto):
    client(moto, "ssm").put_parameter(Name="/assetwarden/policy", Value=POLICY, Type="String")
    ev = json.loads((EVENTS / "event-cloud-trail-create-bucket.json").read_text())
    name = ev["detail"]["requestParameters"]["bucketName"]
    s3 = client(moto, "s3", "us-west-2")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    results, log = run_function(moto, [("req-1", ev), ("req-2", ev)])
    kind, out = results["req-1"]
    assert kind == "response", (out, log)
    res = out["outcomes"][0]["resources"][0]
    assert res["write"]["outcome"] == "Written"
    assert any(f["check_id"] == "aws.s3.public-access-block" and f["status"] == "FAIL" for f in res["findings"])
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=name)["TagSet"]}
    assert tags == {"owner": "root"}
    # The same event delivered again to the warm function: recognised, nothing written.
    kind, out = results["req-2"]
    assert kind == "response" and out["outcomes"][0]["duplicate"] is True, out


def test_scheduled_event_scans_and_exports_to_security_hub(moto):
    client(moto, "ssm").put_parameter(Name="/assetwarden/policy", Value=POLICY, Type="String")
    client(moto, "securityhub").enable_security_hub()
    ec2 = client(moto, "ec2")
    g = ec2.create_security_group(GroupName="open", Description="x")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=g, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    sched = json.loads((ROOT / "tests" / "py" / "data" / "scheduled-event.json").read_text())
    results, log = run_function(moto, [("s-1", sched)])
    kind, out = results["s-1"]
    assert kind == "response", (out, log)
    assert out["mode"] == "scheduled" and out["policy_source"] == "ssm:/assetwarden/policy@1"
    assert out["securityhub"]["imported"] >= 1 and out["securityhub"]["failed"] == []
    # This run's AWS calls, counted by service and outcome (the SSM read of the policy included).
    calls = {(c["service"], c["outcome"]): c["calls"] for c in out["api_calls"]}
    assert calls.get(("ssm", "ok"), 0) >= 1 and calls.get(("ec2", "ok"), 0) >= 1, calls
    assert calls.get(("securityhub", "ok"), 0) >= 1, calls
    hub = client(moto, "securityhub").get_findings(MaxResults=100)["Findings"]
    assert any(f["Resources"][0]["Id"].endswith(g) and f["GeneratorId"] == "assetwarden/aws.ec2.sg-no-ssh-from-internet" for f in hub)


def test_unreadable_policy_fails_closed(moto):
    ev = json.loads((EVENTS / "event-cloud-trail-create-bucket.json").read_text())
    name = ev["detail"]["requestParameters"]["bucketName"]
    s3 = client(moto, "s3", "us-west-2")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    results, log = run_function(moto, [("req-1", ev)])
    kind, out = results["req-1"]
    assert kind == "error" and "policy unreadable" in json.dumps(out), out
    with pytest.raises(Exception):
        s3.get_bucket_tagging(Bucket=name)


def test_template_passes_cfn_lint_and_matches_the_handled_events():
    venv_bin = pathlib.Path(os.sys.executable).parent
    p = subprocess.run([str(venv_bin / "cfn-lint"), str(TEMPLATE)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    src = (ROOT / "crates" / "aws" / "src" / "events.rs").read_text()
    handled = re.findall(r'\("([a-z0-9.]+)\.amazonaws\.com", "([A-Za-z0-9]+)"\)', src[src.index("pub const HANDLED"):])
    text = TEMPLATE.read_text()
    rule = text[text.index("eventName:"):text.index("errorCode:")]
    names = set(re.findall(r"- ([A-Za-z0-9]+)", rule))
    assert names == {n for _, n in handled}
    for svc, _ in handled:
        assert f"- aws.{svc}\n" in text, svc
    # The remediation role grants exactly what the remediations say they need.
    specs = json.loads(subprocess.run([os.environ.get("ASSETWARDEN_BIN", str(ROOT / "target" / "debug" / "assetwarden")),
                                       "remediate", "list", "--json"], capture_output=True, text=True, check=True).stdout)
    needed = {a for s in specs for a in s["iam_actions"]}
    block = text[text.index("Sid: Remediate"):text.index("Outputs:")]
    granted = set(re.findall(r"- ([a-z0-9]+:[A-Za-z0-9]+)", block))
    assert granted == needed, (granted ^ needed)


def test_unattended_remediation_after_a_scheduled_scan_and_on_a_creation_event(moto):
    policy = POLICY + """remediation:
  unattended: [aws.ec2.revoke-admin-ports-from-internet, aws.s3.block-public-access]
"""
    client(moto, "ssm").put_parameter(Name="/assetwarden/policy", Value=policy, Type="String")
    ec2 = client(moto, "ec2")
    g = ec2.create_security_group(GroupName="open", Description="x")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=g, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    kept = client(moto, "rds")
    kept.create_db_instance(DBInstanceIdentifier="public-db", DBInstanceClass="db.t3.micro", Engine="postgres",
                            MasterUsername="app", MasterUserPassword="not-a-secret-1", PubliclyAccessible=True)
    sched = json.loads((ROOT / "tests" / "py" / "data" / "scheduled-event.json").read_text())
    results, log = run_function(moto, [("s-1", sched)], ASSETWARDEN_REMEDIATE="true", ASSETWARDEN_EXPORT_SECURITYHUB="false")
    kind, out = results["s-1"]
    assert kind == "response", (out, log)
    recs = out["remediation"]["records"]
    sg = [r for r in recs if r["remediation"] == "aws.ec2.revoke-admin-ports-from-internet"]
    assert len(sg) == 1 and sg[0]["outcome"] == "applied" and sg[0]["triggered_by"] == "lambda:schedule", recs
    perms = ec2.describe_security_groups(GroupIds=[g])["SecurityGroups"][0]["IpPermissions"]
    assert perms == [], perms
    # Not in the policy's unattended list: never touched from here.
    assert kept.describe_db_instances(DBInstanceIdentifier="public-db")["DBInstances"][0]["PubliclyAccessible"] is True
    assert not any(r["remediation"] == "aws.rds.disable-public-access" for r in recs)

    # A creation event: the new bucket is tagged, checked, and its public access blocked.
    ev = json.loads((EVENTS / "event-cloud-trail-create-bucket.json").read_text())
    name = ev["detail"]["requestParameters"]["bucketName"]
    s3 = client(moto, "s3", "us-west-2")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    results, log = run_function(moto, [("e-1", ev)], ASSETWARDEN_REMEDIATE="true")
    kind, out = results["e-1"]
    assert kind == "response", (out, log)
    # The recorded event is from account 619193117841, these credentials are moto's
    # 123456789012: no remediation may write across accounts.
    assert out["remediation"]["records"] == []
    assert any("these credentials are for 123456789012" in s["reason"] for s in out["remediation"]["skipped"]), out["remediation"]
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchPublicAccessBlockConfiguration"):
        s3.get_public_access_block(Bucket=name)
    # The same event in the credentials' own account.
    ev = json.loads(json.dumps(ev).replace("619193117841", ACCOUNT))
    results, log = run_function(moto, [("e-2", ev)], ASSETWARDEN_REMEDIATE="true")
    kind, out = results["e-2"]
    assert kind == "response", (out, log)
    recs = out["remediation"]["records"]
    assert [(r["remediation"], r["outcome"], r["triggered_by"]) for r in recs] == [
        ("aws.s3.block-public-access", "applied", "lambda:creation-event")], recs
    assert s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True
