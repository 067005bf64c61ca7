"""Secrets and policies kept in SSM Parameter Store, read through moto's server: a Slack route
whose URL variable holds `ssm:/...`, a policy given as `--policy ssm:/...`, and the errors."""
import http.server
import json
import os
import pathlib
import subprocess
import threading

import boto3
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("ASSETWARDEN_BIN", str(ROOT / "target" / "debug" / "assetwarden"))


@pytest.fixture
def moto():
    url = os.environ.get("MOTO_URL")
    assert url, "MOTO_URL must point at moto's server (scripts/test.sh starts it)"
    import urllib.request
    with urllib.request.urlopen(urllib.request.Request(url + "/moto-api/reset", method="POST"), timeout=10) as r:
        r.read()
    return url


@pytest.fixture
def receiver():
    got = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            got.append((self.path, json.loads(body)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", got
    srv.shutdown()
    srv.server_close()


def env(moto, **extra):
    e = dict(os.environ, AWS_ENDPOINT_URL=moto, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="eu-west-1")
    e.update(extra)
    return e


def ssm(moto):
    return boto3.client("ssm", endpoint_url=moto, region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing")


POLICY = """version: 1
checks:
  select: [{ids: [aws.ec2.ebs-encrypted]}]
notifications:
  routes:
    - name: security
      kind: slack
      url_env: SLACK_WEBHOOK_URL
"""


def test_secret_from_ssm(tmp_path, moto, receiver):
    url, got = receiver
    ssm(moto).put_parameter(Name="/aw/slack-url", Value=url + "/services/T/B/secret-token", Type="SecureString")
    p = tmp_path / "policy.yaml"
    p.write_text(POLICY)
    res = subprocess.run([BIN, "notify", "test", "--policy", str(p)], capture_output=True, text=True,
                         env=env(moto, SLACK_WEBHOOK_URL="ssm:/aw/slack-url"), timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert len(got) == 1 and got[0][0] == "/services/T/B/secret-token"
    assert "secret-token" not in res.stdout + res.stderr
    res = subprocess.run([BIN, "notify", "test", "--policy", str(p)], capture_output=True, text=True,
                         env=env(moto, SLACK_WEBHOOK_URL="ssm:/aw/missing"), timeout=60)
    assert res.returncode == 2
    assert "SLACK_WEBHOOK_URL" in res.stderr and "ParameterNotFound" in res.stderr, res.stderr


def test_policy_from_ssm(tmp_path, moto):
    client = ssm(moto)
    client.put_parameter(Name="/aw/policy", Value=POLICY, Type="String")
    client.put_parameter(Name="/aw/bad", Value="version: 1\nchecks:\n  settings:\n    - check: nope\n", Type="String")
    inv = tmp_path / "inv.ndjson"
    inv.write_text('{"resourceType":"AWS::EC2::Volume","arn":"arn:aws:ec2:eu-west-1:111111111111:volume/vol-1","tags":{},'
                   '"supplementaryConfiguration":{},"configuration":{"encrypted":false}}\n')
    res = subprocess.run([BIN, "scan", "-i", str(inv), "--policy", "ssm:/aw/policy", "-f", "json"], capture_output=True, text=True, env=env(moto), timeout=60)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert [f["check_id"] for f in report["findings"]] == ["aws.ec2.ebs-encrypted"]
    res = subprocess.run([BIN, "policy", "check", "ssm:/aw/bad"], capture_output=True, text=True, env=env(moto), timeout=60)
    assert res.returncode == 2
    assert "unknown check `nope`" in res.stderr and "ssm:/aw/bad:4:14" in res.stderr, res.stderr


CLASSIFICATION = """tags:
  - key: owner
    default: unassigned
"""
CHECKS = """select: [{ids: [aws.ec2.ebs-encrypted]}]
"""


def test_policy_from_an_ssm_path_with_versions_and_an_empty_page(tmp_path, moto):
    """A policy assembled from the parameters under a path; SSM's best-effort paging can return
    an empty page that still carries a token — the loader must follow it."""
    import sys
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    from awsproxy import Proxy

    client = ssm(moto)
    client.put_parameter(Name="/gov/policy/classification", Value=CLASSIFICATION, Type="String")
    client.put_parameter(Name="/gov/policy/classification", Value=CLASSIFICATION, Type="String", Overwrite=True)
    client.put_parameter(Name="/gov/policy/checks", Value=CHECKS, Type="SecureString")
    proxy = Proxy(moto)
    state = {"empty": False}

    def empty_first(call, n):
        if call.op != "GetParametersByPath":
            return None
        body = call.json()
        if not state["empty"]:
            state["empty"] = True
            return (200, {}, {"Parameters": [], "NextToken": "injected-empty-page"})
        if body.get("NextToken") == "injected-empty-page":
            body.pop("NextToken")
            return ("request", lambda c: json.dumps(body).encode())
        return None

    proxy.rules.append(empty_first)
    inv = tmp_path / "inv.ndjson"
    inv.write_text('{"resourceType":"AWS::EC2::Volume","arn":"arn:aws:ec2:eu-west-1:111111111111:volume/vol-1","tags":{},'
                   '"supplementaryConfiguration":{},"configuration":{"encrypted":false}}\n')
    try:
        res = subprocess.run([BIN, "scan", "-i", str(inv), "--policy", "ssm:/gov/policy/", "-f", "json"],
                             capture_output=True, text=True, env=env(proxy.url), timeout=60)
    finally:
        proxy.close()
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert state["empty"] and len(proxy.ops("GetParametersByPath")) >= 2
    # Both sections were read: the check selection and the classification's tag plan.
    assert {f["check_id"] for f in report["findings"]} == {"aws.ec2.ebs-encrypted", "tag-policy.owner"}
    assert report["tag_plans"][0]["changes"][0]["new_value"] == "unassigned"
    # The versions in use are in the report.
    assert report["policy_source"] == "ssm:/gov/policy/ (checks@1, classification@2)", report["policy_source"]


def test_policy_path_fails_closed(tmp_path, moto):
    client = ssm(moto)
    client.put_parameter(Name="/gov/broken/classification", Value="tags: [unclosed", Type="String")
    res = subprocess.run([BIN, "tag", "plan", "-i", "/dev/null", "--policy", "ssm:/gov/broken/"],
                         capture_output=True, text=True, env=env(moto), timeout=60)
    assert res.returncode == 2
    assert "not YAML" in res.stderr and "ssm:/gov/broken/classification:" in res.stderr, res.stderr
    res = subprocess.run([BIN, "tag", "plan", "-i", "/dev/null", "--policy", "ssm:/gov/nothing-here/"],
                         capture_output=True, text=True, env=env(moto), timeout=60)
    assert res.returncode == 2 and "/gov/nothing-here/" in res.stderr, res.stderr
