"""Assetwarden from Python: classification, tag plans and configuration checks of cloud
resources, run by the same Rust engine as the ``assetwarden`` command.

>>> import assetwarden
>>> engine = assetwarden.Engine(assetwarden.Policy.from_str("version: 1\\n"))
>>> volume = {"VolumeId": "vol-1", "Size": 8, "Encrypted": False}
>>> [f.status for f in engine.evaluate(volume, account="111111111111", region="eu-west-1")
...  if f.check_id == "aws.ec2.ebs-encrypted"]
['FAIL']
"""

from __future__ import annotations

from assetwarden._native import (
    Aws,
    Engine,
    Finding,
    FindingIterator,
    Policy,
    Rule,
    ScanReport,
    TagPlan,
    __version__,
    builtin_checks,
    normalize,
)
from assetwarden.errors import AssetwardenError, AwsError, PolicyError, RuleError, SourceError

__all__ = [
    "AssetwardenError",
    "Aws",
    "AwsError",
    "Engine",
    "Finding",
    "FindingIterator",
    "Policy",
    "PolicyError",
    "Rule",
    "RuleError",
    "ScanReport",
    "SourceError",
    "TagPlan",
    "__version__",
    "builtin_checks",
    "normalize",
]
