"""The daily report rendered in headless Chromium, the metrics checked by promtool, and the
Grafana dashboard reading only metrics that exist."""
import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("ASSETWARDEN_BIN", str(ROOT / "target" / "debug" / "assetwarden"))
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--hide-scrollbars"]


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    d = tmp_path_factory.mktemp("state")
    subprocess.run([BIN, "demo", "--out", str(d / "demo")], check=True, capture_output=True)
    inv = d / "demo" / "inventory.ndjson"
    fixed = d / "fixed.ndjson"
    fixed.write_text(inv.read_text().replace('"encrypted":false', '"encrypted":true'))
    db = d / "state.db"
    for i in (inv, fixed):
        subprocess.run([BIN, "scan", "-i", str(i), "-p", str(d / "demo" / "policy.yaml"), "-f", "json", "-o", str(d / "o.json"),
                        "--state", str(db), "--metrics-file", str(d / "aw.prom")], check=True, capture_output=True)
    subprocess.run([BIN, "report", "--state", str(db), "--out", str(d / "report")], check=True, capture_output=True)
    return d


def test_report_renders_with_charts_and_tables(state, tmp_path):
    assert CHROMIUM, "chromium must be installed (scripts/test.sh installs it)"
    page = (state / "report" / "report.html").resolve()
    url = page.as_uri()
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile1'}", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    for fig in ["trend", "changes", "frameworks", "by-class", "by-owner", "by-type"]:
        assert f'id="{fig}"' in html, fig
    assert len(re.findall(r"<rect", html)) > 20
    rows = re.findall(r'<table id="checks">.*?</table>', html, re.S)[0].count("<tr>")
    assert rows > 20, rows
    assert "resolved" in html and "<svg" in html
    shot = tmp_path / "report.png"
    res = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile2'}", "--window-size=1280,2400",
                          f"--screenshot={shot}", url], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    img = Image.open(shot).convert("RGB")
    assert img.size == (1280, 2400)
    px = list(img.getdata())
    non_white = sum(1 for p in px if p != (255, 255, 255)) / len(px)
    assert non_white > 0.03, non_white
    # The severity colours of the trend chart are on screen.
    def near(c, target, tol=40):
        return all(abs(a - b) <= tol for a, b in zip(c, target))
    assert any(near(p, (0xf5, 0x7c, 0x00)) for p in px[::7]), "no medium-severity bar visible"
    assert any(near(p, (0x38, 0x8e, 0x3c)) for p in px[::7]), "no classification bar visible"


def test_promtool_accepts_the_metrics(state):
    promtool = shutil.which("promtool")
    assert promtool, "promtool must be installed (scripts/test.sh installs Debian's prometheus)"
    text = (state / "aw.prom").read_text()
    res = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "assetwarden_resources{" in text and "assetwarden_findings{" in text
    bad = "# HELP x y\n# TYPE x gauge\nx{a=\"b\" 1\n"
    assert subprocess.run([promtool, "check", "metrics"], input=bad, capture_output=True, text=True).returncode != 0


def test_grafana_dashboard_uses_existing_metrics(state):
    dash = json.loads((ROOT / "integrations" / "grafana" / "assetwarden-dashboard.json").read_text())
    text = (state / "aw.prom").read_text()
    names = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    titles = {p["title"] for p in dash["panels"] if p["type"] == "row"}
    assert {"Overview", "Compliance", "Tagging", "Findings trend"} <= titles
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert exprs
    for e in exprs:
        used = set(re.findall(r"\bassetwarden_[a-z_]+", e))
        assert used and used <= names, (e, used - names)
