import json
import os
import pathlib
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
DATA = ROOT / "crates" / "core" / "tests" / "data"


@pytest.fixture
def recorded():
    """A recorded boto3 response (Cloud Custodian's placebo files): its `data`."""

    def load(rel: str):
        return json.loads((DATA / rel).read_text())["data"]

    return load


@pytest.fixture
def moto_url():
    url = os.environ.get("MOTO_URL")
    assert url, "MOTO_URL must point at moto's server (scripts/test.sh starts it)"
    req = urllib.request.Request(url + "/moto-api/reset", method="POST")
    urllib.request.urlopen(req, timeout=10).read()
    return url
