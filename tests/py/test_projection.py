"""Projected parsing (only the configuration keys the selected checks read are parsed) must not
change a single finding: `assetwarden scan` with and without `--full-parse` gives the same
NDJSON, on the demo inventory (Config items) and on Describe-shaped records of every type the
side-by-side benchmark uses, with every built-in check and with the benchmark's policy.
"""
import json
import os
import pathlib
import random
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("ASSETWARDEN_BIN", str(ROOT / "target" / "debug" / "assetwarden"))
DEMO = ROOT / "crates" / "cli" / "demo" / "inventory.ndjson"
BENCH_POLICY = ROOT / "benches" / "policies" / "bench-12.yaml"


def describe_shaped(n, seed):
    """Records in a Config envelope whose configuration is Describe-shaped (Pascal case), with
    keys no check reads around the ones they do, compliant or not at random."""
    r = random.Random(seed)
    out = []
    for i in range(n):
        acct, region = "1234567890%02d" % r.randrange(100), r.choice(["eu-west-1", "us-east-1"])
        noise = {"Noise%d" % k: {"Deep": [1, {"x": "y" * r.randrange(5)}]} for k in range(3)}
        kind = i % 7
        tags = {"Owner": "o", "Environment": r.choice(["prod", "qa1"])}
        if r.random() < 0.5:
            tags["DataClassification"] = r.choice(["internal", "secret"])
        if kind == 0:
            name = "b-%d" % i
            conf = {"Name": name, **noise}
            if r.random() < 0.7:
                conf["PublicAccessBlockConfiguration"] = {
                    k: r.random() < 0.8 for k in ("BlockPublicAcls", "IgnorePublicAcls",
                                                  "BlockPublicPolicy", "RestrictPublicBuckets")}
            if r.random() < 0.7:
                conf["ServerSideEncryptionConfiguration"] = {"Rules": [
                    {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
            rec = ("AWS::S3::Bucket", "arn:aws:s3:::%s" % name, conf)
        elif kind == 1:
            gid = "sg-%05d" % i
            perms = [{"IpProtocol": r.choice(["tcp", "-1", "udp"]), "FromPort": p, "ToPort": p,
                      "IpRanges": [{"CidrIp": r.choice(["0.0.0.0/0", "10.0.0.0/8"])}]}
                     for p in r.sample([22, 80, 443, 3389], 2)]
            rec = ("AWS::EC2::SecurityGroup",
                   "arn:aws:ec2:%s:%s:security-group/%s" % (region, acct, gid),
                   {"GroupId": gid, "GroupName": "g%d" % i, "IpPermissions": perms,
                    "IpPermissionsEgress": [], **noise})
        elif kind == 2:
            vid = "vol-%05d" % i
            rec = ("AWS::EC2::Volume", "arn:aws:ec2:%s:%s:volume/%s" % (region, acct, vid),
                   {"VolumeId": vid, "Encrypted": r.random() < 0.6, "Size": 8, **noise})
        elif kind == 3:
            db = "db-%d" % i
            conf = {"DBInstanceIdentifier": db, "PubliclyAccessible": r.random() < 0.3,
                    "StorageEncrypted": r.random() < 0.7, "MultiAZ": r.random() < 0.5,
                    "Engine": "postgres", **noise}
            if r.random() < 0.3:
                conf["DBClusterIdentifier"] = "cl-%d" % i
            rec = ("AWS::RDS::DBInstance", "arn:aws:rds:%s:%s:db:%s" % (region, acct, db), conf)
        elif kind == 4:
            fn = "f%d" % i
            rec = ("AWS::Lambda::Function",
                   "arn:aws:lambda:%s:%s:function:%s" % (region, acct, fn),
                   {"FunctionName": fn, "Runtime": r.choice(["python3.12", "python3.7",
                                                             "nodejs14.x"]), **noise})
        elif kind == 5:
            user = "u%d" % i
            keys = [{"AccessKeyId": "AKIA%d" % k, "Status": r.choice(["Active", "Inactive"]),
                     "CreateDate": r.choice(["2026-01-01T00:00:00Z", "2026-10-01T00:00:00Z"])}
                    for k in range(r.randrange(3))]
            rec = ("AWS::IAM::User", "arn:aws:iam::%s:user/%s" % (acct, user),
                   {"UserName": user, "AccessKeys": keys, **noise})
        else:
            iid = "i-%05d" % i
            rec = ("AWS::EC2::Instance", "arn:aws:ec2:%s:%s:instance/%s" % (region, acct, iid),
                   {"InstanceId": iid, "MetadataOptions": {"HttpTokens": "optional"},
                    "PublicIpAddress": r.choice([None, "1.2.3.4"]), **noise})
        rtype, arn, conf = rec
        # Both key orders: the type before the configuration (one pass) and after (two).
        item = {"arn": arn, "resourceType": rtype, "accountId": acct, "awsRegion": region,
                "tags": tags, "configuration": conf}
        if i % 2:
            item = {"configuration": conf, "tags": tags, "arn": arn, "awsRegion": region,
                    "accountId": acct, "resourceType": rtype}
        out.append(json.dumps(item))
    return "\n".join(out) + "\n"


def scan(inv, policy, *extra):
    args = [BIN, "scan", "-i", str(inv), "-f", "ndjson", "--now", "2026-11-01T00:00:00Z",
            "--include-not-applicable", *extra]
    if policy:
        args += ["-p", str(policy)]
    res = subprocess.run(args, capture_output=True, text=True)
    assert res.returncode in (0, 1), res.stderr
    lines = [json.loads(x) for x in res.stdout.splitlines() if x.strip()]
    return sorted(json.dumps(x, sort_keys=True) for x in lines)


@pytest.mark.parametrize("policy", [None, BENCH_POLICY], ids=["every-builtin", "bench-12"])
@pytest.mark.parametrize("inventory", ["demo", "describe-shaped"])
def test_projection_changes_no_finding(tmp_path, policy, inventory):
    if inventory == "demo":
        inv = DEMO
    else:
        inv = tmp_path / "inv.ndjson"
        inv.write_text(describe_shaped(700, 5))
    full = scan(inv, policy, "--full-parse")
    projected = scan(inv, policy)
    assert len(full) > 200
    statuses = {json.loads(x)["status"] for x in full}
    assert {"PASS", "FAIL"} <= statuses, statuses
    assert projected == full
