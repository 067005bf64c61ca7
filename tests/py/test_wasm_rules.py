"""WebAssembly rules through the CLI, for every language scripts/test.sh built from source
(crates/rules-wasm/guests/build.sh into $ASSETWARDEN_GUESTS):

- `assetwarden rules test` passes the conformance cases for each module, and fails on a case
  that does not hold;
- `assetwarden rules info --json` reports the digest, the kind and the imports;
- a policy naming the modules by path and sha256 scans an inventory: the rules' findings come out
  like any other check's (exceptions, parameters from the policy, SARIF), and a digest mismatch
  refuses the policy with file, line and column.
"""
import hashlib
import json
import os
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("ASSETWARDEN_BIN", str(ROOT / "target" / "debug" / "assetwarden"))
GUESTS = os.environ.get("ASSETWARDEN_GUESTS")
CASES = ROOT / "crates" / "rules-wasm" / "guests" / "cases.yaml"
LANGS = ["rust", "c", "go", "assemblyscript", "js"]


def module(lang):
    assert GUESTS, "ASSETWARDEN_GUESTS must name the folder of built rule modules (scripts/test.sh)"
    p = pathlib.Path(GUESTS) / f"rules-{lang}.wasm"
    assert p.is_file(), p
    return p


def run(*args, check=False):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, check=check)


@pytest.mark.parametrize("lang", LANGS)
def test_every_language_passes_the_conformance_cases(lang):
    res = run("rules", "test", module(lang), "--cases", CASES, "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    results = json.loads(res.stdout)
    assert len(results) >= 13
    assert all(r["ok"] for r in results)
    statuses = {r["got"] for r in results}
    assert statuses == {"pass", "fail", "not_applicable", "unknown"}


def test_a_case_that_does_not_hold_fails_the_command(tmp_path):
    cases = tmp_path / "cases.yaml"
    cases.write_text(CASES.read_text().replace("expect: pass", "expect: fail", 1))
    res = run("rules", "test", module("c"), "--cases", cases)
    assert res.returncode == 1
    assert "FAIL  acme.s3.block-public-access  all four public access settings on" in res.stdout


@pytest.mark.parametrize("lang,kind,imports", [
    ("c", "core_module", ["assetwarden::log"]),
    ("assemblyscript", "core_module", ["assetwarden::log"]),
    ("js", "component", ["assetwarden:rule/host@1.0.0"]),
])
def test_rules_info_reports_digest_kind_and_imports(lang, kind, imports):
    p = module(lang)
    info = json.loads(run("rules", "info", p, "--json", check=True).stdout)
    assert info["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()
    assert info["kind"] == kind
    assert info["imports"] == imports
    assert [r["id"] for r in info["rules"]] == ["acme.s3.block-public-access", "acme.rds.confidential-cmk"]
    rds = info["rules"][1]
    assert rds["params"] == [{"name": "levels", "default": "confidential,restricted",
                              "description": "Classifications (comma-separated, any case) the rule applies to"}]
    assert rds["references"]["securityhub"] == "RDS.3"


def test_go_imports_only_wasi_stubs():
    info = json.loads(run("rules", "info", module("go"), "--json", check=True).stdout)
    assert "_initialize" in info["exports"]
    assert all(i.startswith("wasi_snapshot_preview1::") or i == "assetwarden::log" for i in info["imports"])


def item(rtype, arn, config, supp=None, tags=None):
    return {"resourceType": rtype, "arn": arn, "awsAccountId": "111122223333", "awsRegion": "eu-west-1",
            "configuration": config, "supplementaryConfiguration": supp or {}, "tags": tags or {}}


INVENTORY = [
    item("AWS::S3::Bucket", "arn:aws:s3:::open-bucket", {"name": "open-bucket"}),
    item("AWS::S3::Bucket", "arn:aws:s3:::closed-bucket", {"name": "closed-bucket"},
         {"PublicAccessBlockConfiguration": {f: True for f in
          ["blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets"]}}),
    item("AWS::S3::Bucket", "arn:aws:s3:::accepted-bucket", {"name": "accepted-bucket"}),
    item("AWS::RDS::DBInstance", "arn:aws:rds:eu-west-1:111122223333:db:orders",
         {"storageEncrypted": True, "kmsKeyId": "arn:aws:kms:eu-west-1:111122223333:alias/aws/rds"},
         tags={"DataClassification": "confidential"}),
    item("AWS::RDS::DBInstance", "arn:aws:rds:eu-west-1:111122223333:db:secrets",
         {"storageEncrypted": False}, tags={"DataClassification": "secret"}),
]


def policy(tmp_path, mod, sha, extra=""):
    rel = os.path.relpath(mod, tmp_path)
    text = f"""version: 1
name: wasm rules
checks:
  select:
    - ids: ["aws.s3.public-access-block"]
  settings:
    - check: acme.rds.confidential-cmk
      severity: critical
wasm_rules:
  - path: {rel}
    sha256: {sha}
    params:
      levels: "confidential,restricted,secret"
    limits:
      fuel: 5000000
      memory_mib: 32
exceptions:
  - id: legacy-bucket
    checks: ["acme.s3.*"]
    resources: ["arn:aws:s3:::accepted-bucket"]
    reason: Served as a public website until the CDN move
    owner: web-team
    expires: "2099-01-01"
{extra}"""
    p = tmp_path / "policy.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("lang", ["c", "js"])
def test_a_policy_loads_rules_by_path_and_digest_and_they_behave_like_any_check(tmp_path, lang):
    mod = module(lang)
    sha = hashlib.sha256(mod.read_bytes()).hexdigest()
    inv = tmp_path / "inventory.ndjson"
    inv.write_text("\n".join(json.dumps(i) for i in INVENTORY) + "\n")
    pol = policy(tmp_path, mod, sha)
    res = run("scan", "-i", inv, "-p", pol, "-f", "json", "--now", "2026-11-27T00:00:00Z")
    assert res.returncode == 0, res.stderr
    findings = json.loads(res.stdout)["findings"]
    got = {(f["check_id"], f["resource"]["arn"].split(":")[-1]): f for f in findings
           if f["check_id"].startswith("acme.")}
    assert got[("acme.s3.block-public-access", "open-bucket")]["status"] == "FAIL"
    assert got[("acme.s3.block-public-access", "open-bucket")]["message"] == "the bucket has no public access block"
    assert got[("acme.s3.block-public-access", "closed-bucket")]["status"] == "PASS"
    accepted = got[("acme.s3.block-public-access", "accepted-bucket")]
    assert accepted["status"] == "SUPPRESSED"
    assert accepted["suppression"]["exception_id"] == "legacy-bucket"
    orders = got[("acme.rds.confidential-cmk", "db:orders")] if ("acme.rds.confidential-cmk", "db:orders") in got \
        else got[("acme.rds.confidential-cmk", "orders")]
    assert orders["status"] == "FAIL" and orders["severity"] == "critical"
    assert orders["kind"] == "wasm"
    assert orders["evidence"][0]["path"] == "configuration.kmsKeyId"
    secrets = [f for (c, r), f in got.items() if c == "acme.rds.confidential-cmk" and r.endswith("secrets")][0]
    # `secret` is in scope only through the policy's parameter.
    assert secrets["status"] == "FAIL" and secrets["message"] == "the instance's storage is not encrypted"
    # The built-in check the policy selected ran beside them.
    assert any(f["check_id"] == "aws.s3.public-access-block" for f in findings)
    # SARIF carries the rules too.
    sarif = json.loads(run("scan", "-i", inv, "-p", pol, "-f", "sarif", check=True).stdout)
    rule_ids = {r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert {"acme.s3.block-public-access", "acme.rds.confidential-cmk"} <= rule_ids


def test_a_digest_mismatch_refuses_the_policy_with_its_place(tmp_path):
    mod = module("c")
    pol = policy(tmp_path, mod, "0" * 64)
    inv = tmp_path / "inventory.ndjson"
    inv.write_text(json.dumps(INVENTORY[0]) + "\n")
    res = run("scan", "-i", inv, "-p", pol)
    assert res.returncode != 0
    assert re.search(re.escape(str(pol)) + r":10:\d+: wasm_rules\[0\] \(", res.stderr), res.stderr
    assert "sha256 mismatch" in res.stderr
    assert hashlib.sha256(mod.read_bytes()).hexdigest() in res.stderr


def test_policy_errors_in_wasm_rules_are_located(tmp_path):
    mod = module("c")
    sha = hashlib.sha256(mod.read_bytes()).hexdigest()
    pol = policy(tmp_path, mod, sha).read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(pol.replace("      memory_mib: 32", "      memory_mib: 0"))
    res = run("policy", "check", bad)
    assert res.returncode != 0
    assert "limit `memory_mib` must be a positive whole number" in res.stderr, res.stderr
    bad.write_text(pol.replace(f"sha256: {sha}", "sha256: abc"))
    res = run("policy", "check", bad)
    assert res.returncode != 0 and "is not a sha256" in res.stderr and ":11:" in res.stderr, res.stderr
    bad.write_text(pol.replace("levels:", "level:"))
    res = run("policy", "check", bad)
    assert res.returncode != 0 and "unknown parameter `level`" in res.stderr, res.stderr
