#!/usr/bin/env python3
"""Side-by-side comparison: Assetwarden against its peers, in one run, on one inventory.

Every engine scans the same generated inventory with the same 12 checks (the kit in
`../shared/bench`, see its README) and must report the same violation digest (the sorted set
of (ARN, check) violations, hashed): fast and wrong is not fast.

  assetwarden           the CLI: `assetwarden scan` of the NDJSON file with
                        `benches/policies/bench-12.yaml` (3 classification tags, 9 built-in
                        checks), findings written as NDJSON (failures only), both cores
  assetwarden-full      the same, `--full-parse` (every attribute parsed, no projection)
  assetwarden-eval      evaluation alone: the resources parsed first and held, then only the
                        engine's evaluation timed (benches/src/bin/aw-scan.rs --phases)
  assetwarden-python    the Python binding: `Engine(policy).evaluate(bytes)` on the file
                        (skipped when `import assetwarden` fails in --python)
  c7n                   Cloud Custodian 0.9.53's filter engine, offline (kit: bench_c7n.py)
  python                hand-written Python, orjson, streaming (kit: bench_python.py)
  regorus               the kit's gov.rego with the regorus crate from Rust (benches/src/bin)
  parse-floor           reading and parsing the file with serde_json on both cores, nothing
                        else (benches/src/bin/parse-floor.rs): the floor for "end to end"

Usage:
  python3 benches/compare.py --size 100000 [--seed 42] [--repeat 3] [--engines a,b,...]
  python3 benches/compare.py --inventory FILE.ndjson

It builds what it needs (`cargo build --release -p assetwarden-cli -p assetwarden-benches`),
generates the inventory with the kit's gen.py (cached in --work), installs c7n and orjson in a
venv of its own (--work/venv), and prints a table plus one JSON line per run. The kit is found
at --kit, $ASSETWARDEN_BENCH_KIT, or ../shared/bench beside the repository.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
POLICY = REPO / "benches" / "policies" / "bench-12.yaml"
EVAL_NOW = "2026-11-01T00:00:00Z"

# Assetwarden check id -> the kit's id.
CHECK_IDS = {
    "aws.s3.public-access-block": "S3_PUBLIC_ACCESS_BLOCK",
    "aws.s3.encryption": "S3_DEFAULT_ENCRYPTION",
    "aws.ec2.sg-no-ssh-from-internet": "SG_NO_PUBLIC_SSH",
    "aws.ec2.sg-no-rdp-from-internet": "SG_NO_PUBLIC_RDP",
    "aws.ec2.ebs-encrypted": "EBS_ENCRYPTED",
    "aws.rds.public-access": "RDS_NOT_PUBLIC",
    "aws.rds.storage-encrypted": "RDS_STORAGE_ENCRYPTED",
    "aws.lambda.supported-runtime": "LAMBDA_RUNTIME_SUPPORTED",
    "aws.iam.access-keys-rotated": "IAM_ACCESS_KEY_ROTATED",
}
TAG_KEYS = {"Owner", "Environment", "DataClassification"}
CHECKS_PER_TYPE = {
    "AWS::S3::Bucket": 2, "AWS::EC2::SecurityGroup": 2, "AWS::EC2::Volume": 1,
    "AWS::RDS::DBInstance": 2, "AWS::Lambda::Function": 1, "AWS::IAM::User": 1,
    "AWS::EC2::Instance": 0, "AWS::ECS::Service": 0,
}
ALL_ENGINES = ["parse-floor", "assetwarden", "assetwarden-full", "assetwarden-eval",
               "assetwarden-python", "regorus", "python", "c7n"]


def die(msg):
    sys.stderr.write("compare.py: %s\n" % msg)
    raise SystemExit(2)


def kit_dir(arg):
    for c in [arg, os.environ.get("ASSETWARDEN_BENCH_KIT"), REPO.parent / "shared" / "bench"]:
        if c and (Path(c) / "gen.py").exists():
            return Path(c).resolve()
    die("the benchmark kit (gen.py, bench_c7n.py, gov.rego) is not at --kit, "
        "$ASSETWARDEN_BENCH_KIT or %s" % (REPO.parent / "shared" / "bench"))


def digest(pairs):
    import hashlib
    s = sorted("%s|%s" % p for p in pairs)
    return len(s), hashlib.sha256("\n".join(s).encode()).hexdigest()[:16]


def evaluations(path):
    """The kit's count of applicable (resource, check) pairs: 3 tag checks + the type's."""
    n = ev = 0
    pat = re.compile(rb'"resourceType":\s*"([^"]+)"')
    with open(path, "rb") as f:
        for line in f:
            m = pat.search(line)
            if m:
                n += 1
                ev += 3 + CHECKS_PER_TYPE.get(m.group(1).decode(), 0)
    return n, ev


# Peak RSS: Linux carries a process's high-water mark across fork and exec, so a child of this
# (large, by the end) script would report at least this script's size. Each engine therefore
# runs under a small wrapper process that reaps it with wait4 and reports only its maximum.
WRAP = r"""
import os, subprocess, sys
p = subprocess.Popen(sys.argv[2:])
_, status, ru = os.wait4(p.pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(ru.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def timed(cmd, env=None):
    """Runs cmd; returns (wall seconds, the command's own peak RSS in MB, stdout, stderr)."""
    rss_file = Path(os.environ.get("TMPDIR", "/tmp")) / ("compare-rss-%d" % os.getpid())
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", WRAP, str(rss_file)] + [str(c) for c in cmd],
                       capture_output=True, env=env)
    wall = time.perf_counter() - t
    out, err = p.stdout.decode(), p.stderr.decode()
    if p.returncode != 0:
        die("%s failed (%d):\n%s" % (" ".join(map(str, cmd)), p.returncode, err[-3000:]))
    rss = int(rss_file.read_text()) / 1024.0
    rss_file.unlink()
    return wall, rss, out, err


def result_line(out):
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    die("no RESULT line in:\n" + out[-2000:])


def aw_pairs(findings_path):
    """(arn, kit check id) of every FAIL in an Assetwarden NDJSON findings file; also counts
    UNKNOWN and ERROR, which must be none here."""
    pairs, other = [], {}
    with open(findings_path, "rb") as f:
        for line in f:
            d = json.loads(line)
            st = d.get("status")
            if st != "FAIL":
                other[st] = other.get(st, 0) + 1
                continue
            cid, arn = d["check_id"], d["resource"]["arn"]
            if cid.startswith("tag-policy."):
                key = cid[len("tag-policy."):]
                ev = (d.get("evidence") or [{}])[0]
                if ev.get("value") is None:
                    pairs.append((arn, "TAG_REQUIRED"))
                elif key == "Environment":
                    pairs.append((arn, "TAG_ENV_ALLOWED"))
                elif key == "DataClassification":
                    pairs.append((arn, "TAG_DC_ALLOWED"))
            elif cid in CHECK_IDS:
                pairs.append((arn, CHECK_IDS[cid]))
    return sorted(set(pairs)), other


def findings_digest(path, who):
    """Count and digest of an Assetwarden findings file (removed afterwards); any result other
    than FAIL in it is an error (the benchmark's inventory has nothing unknown)."""
    pairs, other = aw_pairs(path)
    path.unlink()
    if other:
        die("%s reported results other than FAIL: %s" % (who, other))
    return digest(pairs)


def ensure_built(target):
    # One package per command: building them together would unify their dependencies'
    # features and rebuild both.
    for pkg in (["-p", "assetwarden-cli"], ["-p", "assetwarden-benches", "--bins"]):
        print("building: cargo build --release --locked " + " ".join(pkg), flush=True)
        subprocess.run(["cargo", "build", "--release", "--locked"] + pkg, cwd=REPO, check=True)
    return target / "release"


def ensure_venv(work):
    venv = work / "venv"
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    ok = subprocess.run([str(py), "-c", "import c7n, orjson"], capture_output=True).returncode == 0
    if not ok:
        subprocess.run([str(py), "-m", "pip", "install", "-q", "c7n==0.9.53", "orjson"], check=True)
    return py


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, help="generate an inventory of this many resources")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--inventory", help="an existing NDJSON inventory instead")
    ap.add_argument("--kit")
    ap.add_argument("--work", default=os.environ.get("TMPDIR", "/tmp") + "/assetwarden-compare")
    ap.add_argument("--repeat", type=int, default=3, help="runs per engine (median reported)")
    ap.add_argument("--engines", default=",".join(ALL_ENGINES))
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--python", default=sys.executable,
                    help="the interpreter with the assetwarden wheel installed")
    a = ap.parse_args()
    kit = kit_dir(a.kit)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    engines = [e.strip() for e in a.engines.split(",") if e.strip()]
    if "assetwarden-python" in engines and subprocess.run(
            [a.python, "-c", "import assetwarden"], capture_output=True).returncode != 0:
        print("skipping assetwarden-python: `import assetwarden` fails in %s "
              "(pip install the wheel: maturin build --release -m crates/bindings-py/Cargo.toml)"
              % a.python, flush=True)
        engines.remove("assetwarden-python")
    for e in engines:
        if e not in ALL_ENGINES:
            die("unknown engine %s (known: %s)" % (e, ", ".join(ALL_ENGINES)))
    if a.inventory:
        inv = Path(a.inventory).resolve()
    elif a.size:
        inv = work / ("gen-%d-%d.ndjson" % (a.size, a.seed))
        if not inv.exists():
            print("generating %s" % inv, flush=True)
            subprocess.run([sys.executable, str(kit / "gen.py"), str(a.size), str(inv) + ".tmp",
                            "--seed", str(a.seed)], check=True)
            os.replace(str(inv) + ".tmp", inv)
    else:
        die("give --size N or --inventory FILE")
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    rel = target / "release" if a.no_build else ensure_built(target)
    n, evals = evaluations(inv)
    py = ensure_venv(work) if {"c7n", "python"} & set(engines) else None
    size = inv.stat().st_size
    print("inventory: %s (%d resources, %.0f MB, %d resource-check evaluations)"
          % (inv, n, size / 1e6, evals), flush=True)

    def aw(extra):
        out = work / "findings.ndjson"
        cmd = [str(rel / "assetwarden"), "scan", "-i", str(inv), "-p", str(POLICY), "-f",
               "ndjson", "-o", str(out), "--no-pass", "--now", EVAL_NOW] + extra
        wall, rss, _, _ = timed(cmd)
        cnt, dig = findings_digest(out, "assetwarden")
        return {"total_s": wall, "rss_mb": rss, "violations": cnt, "digest": dig}

    def aw_python():
        code = (
            "import json, sys, time, assetwarden as aw\n"
            "eng = aw.Engine(aw.Policy.from_file(sys.argv[2]), now=sys.argv[3])\n"
            "t = time.perf_counter()\n"
            "data = open(sys.argv[1], 'rb').read()\n"
            "fails = [f for f in eng.evaluate(data, include_pass=False)]\n"
            "dt = time.perf_counter() - t\n"
            "with open(sys.argv[4], 'w') as out:\n"
            "    for f in fails:\n"
            "        out.write(json.dumps({'status': f.status, 'check_id': f.check_id,\n"
            "            'resource': {'arn': f.resource_arn}, 'evidence': f.evidence}) + '\\n')\n"
            "print('RESULT ' + json.dumps({'eval_s': dt}))\n"
        )
        out = work / "findings-py.ndjson"
        wall, rss, stdout, _ = timed([a.python, "-c", code, str(inv), str(POLICY), EVAL_NOW,
                                      str(out)])
        result_line(stdout)
        cnt, dig = findings_digest(out, "the Python binding")
        return {"total_s": wall, "rss_mb": rss, "violations": cnt, "digest": dig}

    def aw_eval():
        out = work / "findings-eval.ndjson"
        wall, rss, stdout, _ = timed([str(rel / "aw-scan"), str(inv), str(POLICY), str(out),
                                      "--phases"])
        r = result_line(stdout)
        cnt, dig = findings_digest(out, "aw-scan")
        return {"total_s": wall, "rss_mb": rss, "eval_s": r["eval_s"], "parse_s": r["parse_s"],
                "violations": cnt, "digest": dig}

    def kit_engine(script, variant):
        wall, rss, stdout, _ = timed([str(py), str(kit / script), str(inv), variant])
        r = result_line(stdout)
        ev = r.get("eval_s")
        return {"total_s": wall, "rss_mb": rss, "eval_s": ev, "violations": r["violations"],
                "digest": r["digest"], "variant": variant}

    def regorus():
        wall, rss, stdout, _ = timed([str(rel / "regorus-scan"), str(inv), str(kit / "gov.rego")])
        r = result_line(stdout)
        return {"total_s": wall, "rss_mb": rss, "eval_s": r["eval_s"],
                "violations": r["violations"], "digest": r["digest"]}

    def floor():
        wall, rss, stdout, _ = timed([str(rel / "parse-floor"), str(inv)])
        r = result_line(stdout)
        # Reading and syntax-checking every line on every core; `value_s` (building a
        # serde_json::Value per line) is reported beside it.
        return {"total_s": r["validate_s"], "value_s": r["value_s"], "rss_mb": rss,
                "violations": None, "digest": None}

    runners = {
        "parse-floor": floor,
        "assetwarden": lambda: aw([]),
        "assetwarden-full": lambda: aw(["--full-parse"]),
        "assetwarden-eval": aw_eval,
        "assetwarden-python": aw_python,
        "regorus": regorus,
        "python": lambda: kit_engine("bench_python.py", "orjson-stream"),
        "c7n": lambda: kit_engine("bench_c7n.py", "value-process"),
    }
    results = {}
    for e in engines:
        reps = 1 if e == "c7n" and n > 200_000 else a.repeat
        runs = []
        for i in range(reps):
            r = runners[e]()
            runs.append(r)
            print("RUN " + json.dumps({"engine": e, "run": i + 1, **r}), flush=True)
        med = dict(runs[0])
        for k in ("total_s", "rss_mb", "eval_s"):
            vals = [r[k] for r in runs if r.get(k) is not None]
            if vals:
                med[k] = statistics.median(vals)
        results[e] = med

    digests = {e: r["digest"] for e, r in results.items() if r.get("digest")}
    agree = len(set(digests.values())) <= 1
    print()
    print("%d resources, %d evaluations, %s; machine: %d cores; medians of %d runs"
          % (n, evals, time.strftime("%Y-%m-%d"), os.cpu_count(), a.repeat))
    print("%-20s %12s %12s %16s %10s %12s %18s" % ("engine", "total s", "ms/1k",
                                                  "evals/s (eval)", "peak RSS", "violations",
                                                  "digest"))
    base = results.get("assetwarden", {}).get("total_s")
    for e, r in results.items():
        ev_s = r.get("eval_s")
        eps = ("%.2fM" % (evals / ev_s / 1e6)) if ev_s else "-"
        print("%-20s %12.2f %12.2f %16s %8.0f MB %12s %18s%s" % (
            e, r["total_s"], r["total_s"] / n * 1e6, eps, r["rss_mb"],
            r.get("violations") if r.get("violations") is not None else "-",
            r.get("digest") or "-",
            ("  (%.1fx assetwarden)" % (r["total_s"] / base)) if base and e != "assetwarden" else ""))
    print("digests %s" % ("AGREE" if agree else "DIFFER: %s" % digests))
    if a.json:
        Path(a.json).write_text(json.dumps({"n": n, "evaluations": evals, "inventory": str(inv),
                                            "results": results, "digests_agree": agree}, indent=1))
    if not agree:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
