"""WebAssembly rules from Python: `Rule.load`, `Engine(rules=[...])`, policies naming
`wasm_rules`, `Rule.test`, and `RuleError` for what cannot be loaded. Uses the committed Rust
example module (crates/rules-wasm/guests/rust/acme_rules.wasm) and, for JavaScript, the module
scripts/test.sh built into $ASSETWARDEN_GUESTS."""
import hashlib
import os
import pathlib

import pytest

import assetwarden

ROOT = pathlib.Path(__file__).resolve().parents[3]
GUESTS = ROOT / "crates" / "rules-wasm" / "guests"
RUST = GUESTS / "rust" / "acme_rules.wasm"

BUCKET = {
    "resourceType": "AWS::S3::Bucket", "arn": "arn:aws:s3:::py-open", "awsAccountId": "111122223333",
    "awsRegion": "eu-west-1", "configuration": {"name": "py-open"}, "supplementaryConfiguration": {},
    "tags": {},
}
DB = {
    "resourceType": "AWS::RDS::DBInstance", "arn": "arn:aws:rds:eu-west-1:111122223333:db:py-db",
    "awsAccountId": "111122223333", "awsRegion": "eu-west-1",
    "configuration": {"storageEncrypted": False}, "supplementaryConfiguration": {},
    "tags": {"DataClassification": "secret"},
}


def acme(engine, resources):
    return {(f.check_id, f.resource_arn): f for f in engine.evaluate(resources, include_not_applicable=True)
            if f.check_id.startswith("acme.")}


def test_rule_load_and_engine_rules():
    rule = assetwarden.Rule.load(RUST)
    assert rule.ids == ["acme.s3.block-public-access", "acme.rds.confidential-cmk"]
    assert rule.sha256 == hashlib.sha256(RUST.read_bytes()).hexdigest()
    info = rule.info()
    assert info["kind"] == "core_module" and info["imports"] == ["assetwarden::log"]
    got = acme(assetwarden.Engine(rules=[rule]), [BUCKET, DB])
    f = got[("acme.s3.block-public-access", "arn:aws:s3:::py-open")]
    assert f.status == "FAIL" and f.message == "the bucket has no public access block"
    assert f.to_dict()["kind"] == "wasm"
    # `secret` is not one of the default levels ...
    assert got[("acme.rds.confidential-cmk", DB["arn"])].status == "NOT_APPLICABLE"
    # ... unless the parameter says so.
    rule2 = assetwarden.Rule.load(RUST, params={"levels": "secret"})
    got2 = acme(assetwarden.Engine(rules=[rule2]), [DB])
    assert got2[("acme.rds.confidential-cmk", DB["arn"])].status == "FAIL"


def test_policy_wasm_rules_load_relative_to_the_policy_file(tmp_path):
    sha = hashlib.sha256(RUST.read_bytes()).hexdigest()
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "acme.wasm").write_bytes(RUST.read_bytes())
    pol = tmp_path / "policy.yaml"
    pol.write_text(f"""version: 1
wasm_rules:
  - path: rules/acme.wasm
    sha256: {sha}
exceptions:
  - id: ok
    checks: ["acme.s3.block-public-access"]
    resources: ["arn:aws:s3:::py-open"]
    reason: test
    owner: tests
    expires: "2099-01-01"
""")
    engine = assetwarden.Engine(assetwarden.Policy.from_file(pol))
    got = acme(engine, [BUCKET])
    assert got[("acme.s3.block-public-access", "arn:aws:s3:::py-open")].status == "SUPPRESSED"
    pol.write_text(pol.read_text().replace(sha, "f" * 64))
    with pytest.raises(assetwarden.RuleError, match=r"policy.yaml:3:\d+: wasm_rules\[0\] .*sha256 mismatch"):
        assetwarden.Policy.from_file(pol)


def test_rule_errors():
    with pytest.raises(assetwarden.RuleError, match="sha256 mismatch"):
        assetwarden.Rule.load(RUST, sha256="0" * 64)
    with pytest.raises(assetwarden.RuleError, match="unknown parameter `nope`"):
        assetwarden.Rule.load(RUST, params={"nope": 1})
    with pytest.raises(assetwarden.RuleError, match="limit `fuel` must be a positive"):
        assetwarden.Rule.load(RUST, limits={"fuel": 0})
    with pytest.raises(assetwarden.RuleError, match="missing.wasm"):
        assetwarden.Rule.load(GUESTS / "missing.wasm")
    with pytest.raises(assetwarden.RuleError, match="not a WebAssembly module"):
        assetwarden.Rule.load(GUESTS / "cases.yaml")
    assert issubclass(assetwarden.RuleError, assetwarden.AssetwardenError)


def test_rule_test_runs_the_cases():
    results = assetwarden.Rule.load(RUST).test(GUESTS / "cases.yaml")
    assert len(results) >= 13 and all(r["ok"] for r in results)


def test_a_javascript_rule_from_python():
    guests = os.environ.get("ASSETWARDEN_GUESTS")
    assert guests, "ASSETWARDEN_GUESTS must name the built rule modules (scripts/test.sh)"
    rule = assetwarden.Rule.load(pathlib.Path(guests) / "rules-js.wasm")
    assert rule.info()["kind"] == "component"
    got = acme(assetwarden.Engine(rules=[rule]), [BUCKET])
    assert got[("acme.s3.block-public-access", "arn:aws:s3:::py-open")].status == "FAIL"
