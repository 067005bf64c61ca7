"""Validates what `assetwarden` writes against the schemas it claims to follow.

- SARIF 2.1.0: the demo's findings.sarif against the SARIF 2.1.0 (RTM 5) JSON Schema that
  Microsoft ships in the npm package `@microsoft/jest-sarif` (fetched by scripts/test.sh).
- The policy document: `assetwarden policy schema` (generated from the Rust types) validates
  every shipped example policy, and rejects broken ones.
- ASFF: every exported finding carries every attribute Security Hub's BatchImportFindings
  requires, with the right shapes.
"""
import json
import os
import pathlib
import re
import subprocess

import jsonschema
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("ASSETWARDEN_BIN", str(ROOT / "target" / "debug" / "assetwarden"))
SARIF_SCHEMA = os.environ.get("SARIF_SCHEMA")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    subprocess.run([BIN, "demo", "--out", str(out)], check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def policy_schema():
    res = subprocess.run([BIN, "policy", "schema"], check=True, capture_output=True, text=True)
    return json.loads(res.stdout)


def test_sarif_validates_against_the_official_schema(demo):
    assert SARIF_SCHEMA, "SARIF_SCHEMA must point at the SARIF 2.1.0 schema (scripts/test.sh fetches it)"
    schema = json.loads(pathlib.Path(SARIF_SCHEMA).read_text())
    log = json.loads((demo / "findings.sarif").read_text())
    cls = jsonschema.validators.validator_for(schema)
    errors = sorted(cls(schema).iter_errors(log), key=lambda e: e.path)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:20])
    assert log["version"] == "2.1.0"
    results = log["runs"][0]["results"]
    assert any(r["kind"] == "fail" for r in results)
    assert any("suppressions" in r for r in results)


def test_sarif_schema_catches_a_broken_log(demo):
    schema = json.loads(pathlib.Path(SARIF_SCHEMA).read_text())
    log = json.loads((demo / "findings.sarif").read_text())
    log["runs"][0]["results"][0]["level"] = "catastrophic"
    cls = jsonschema.validators.validator_for(schema)
    assert list(cls(schema).iter_errors(log)), "the schema must reject an invalid level"


class Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 core schema, as Assetwarden reads it: `2027-06-30` is a string, not a date."""


Yaml12Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def example_policies():
    files = [ROOT / "crates" / "core" / "policies" / "example.yaml"]
    files += sorted((ROOT / "examples" / "policies").glob("*.yaml"))
    files += sorted((ROOT / "examples" / "policies").glob("*.json"))
    return files


@pytest.mark.parametrize("path", example_policies(), ids=lambda p: p.name)
def test_shipped_policies_validate(policy_schema, path):
    text = path.read_text()
    doc = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=Yaml12Loader)
    cls = jsonschema.validators.validator_for(policy_schema)
    errors = list(cls(policy_schema).iter_errors(doc))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    # And the engine agrees.
    subprocess.run([BIN, "policy", "check", str(path)], check=True, capture_output=True)


@pytest.mark.parametrize(
    "doc",
    [
        {"version": 1, "checks": {"select": [{"min_severity": "urgent"}]}},
        {"version": 1, "classification": {"tags": [{"required": True}]}},
        {"version": 1, "unknown": 1},
        {"version": 1, "exceptions": [{"id": "x", "checks": ["a"], "reason": "r", "owner": "o"}]},
    ],
)
def test_schema_rejects_broken_policies(policy_schema, doc):
    cls = jsonschema.validators.validator_for(policy_schema)
    assert list(cls(policy_schema).iter_errors(doc))


ASFF_REQUIRED = [
    "AwsAccountId", "CreatedAt", "Description", "GeneratorId", "Id", "ProductArn", "Resources",
    "SchemaVersion", "Severity", "Title", "Types", "UpdatedAt",
]
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def test_asff_has_every_required_attribute(demo):
    findings = json.loads((demo / "findings.asff.json").read_text())
    assert findings
    for f in findings:
        missing = [k for k in ASFF_REQUIRED if k not in f]
        assert not missing, (f["Id"], missing)
        assert f["SchemaVersion"] == "2018-10-08"
        assert re.fullmatch(r"\d{12}", f["AwsAccountId"])
        assert re.fullmatch(r"arn:aws[a-z-]*:securityhub:[a-z0-9-]+:\d{12}:product/\d{12}/default", f["ProductArn"])
        assert ISO.match(f["CreatedAt"]) and ISO.match(f["UpdatedAt"])
        assert f["Severity"]["Label"] in {"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"}
        assert 0 < len(f["Title"]) <= 256 and 0 < len(f["Description"]) <= 1024
        assert 1 <= len(f["Types"]) <= 50
        assert 1 <= len(f["Resources"]) <= 32
        for r in f["Resources"]:
            assert r["Type"] and r["Id"] and r["Partition"] in {"aws", "aws-cn", "aws-us-gov"} and r["Region"]
        assert f["Compliance"]["Status"] in {"PASSED", "FAILED", "WARNING", "NOT_AVAILABLE"}
        assert f["RecordState"] in {"ACTIVE", "ARCHIVED"}
        assert f["Workflow"]["Status"] in {"NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED"}
    ids = [f["Id"] for f in findings]
    assert len(ids) == len(set(ids)), "finding ids must be unique"
