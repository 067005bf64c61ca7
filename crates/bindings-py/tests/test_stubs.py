"""The hand-written stubs match the built module, and type-check real use."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]


def test_stubtest(tmp_path):
    res = subprocess.run([sys.executable, "-m", "mypy.stubtest", "assetwarden"], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_example_type_checks(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--ignore-missing-imports", "--cache-dir", str(tmp_path / ".mypy"),
         str(ROOT / "examples" / "python" / "ops_script.py")],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_stubs_catch_misuse(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import assetwarden\nassetwarden.Engine().evaluate([], region=1)\n")
    res = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / ".mypy"), str(bad)], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode != 0 and "region" in res.stdout
