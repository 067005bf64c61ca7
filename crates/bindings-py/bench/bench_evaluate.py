#!/usr/bin/env python3
"""Python evaluation paths against the pure-Rust one, on the same inventory.

    python bench_evaluate.py INVENTORY.ndjson [--cli PATH_TO_assetwarden] [--repeat 3]

INVENTORY is NDJSON (e.g. from ../shared/bench/gen.py 100000 inv.ndjson). Prints, as medians of
`--repeat` runs, milliseconds per 1,000 resources for:
  walk      a pure-Python walk over the dicts (the object traversal any dict path must pay)
  dicts     engine.evaluate(list of dicts), consuming every finding
  bytes     engine.evaluate(the file's bytes): parsed in Rust
  cli       `assetwarden scan -f ndjson` on the file (no Python at all)
Loading the file into dicts (json.loads) is excluded from every figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time

import assetwarden


def walk(o: object) -> int:
    if isinstance(o, dict):
        return 1 + sum(walk(v) for v in o.values()) + len(o)
    if isinstance(o, list):
        return 1 + sum(walk(v) for v in o)
    return 1


def timed(f) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("inventory")
    p.add_argument("--cli")
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    raw = open(a.inventory, "rb").read()
    dicts = [json.loads(line) for line in raw.splitlines() if line.strip()]
    n = len(dicts)
    engine = assetwarden.Engine(now="2026-11-01T00:00:00Z")
    results: dict[str, list[float]] = {"walk": [], "dicts": [], "bytes": [], "cli": []}
    counts = {}
    for _ in range(a.repeat):
        results["walk"].append(timed(lambda: sum(walk(d) for d in dicts)))
        results["dicts"].append(timed(lambda: counts.__setitem__("dicts", sum(1 for _ in engine.evaluate(dicts)))))
        results["bytes"].append(timed(lambda: counts.__setitem__("bytes", sum(1 for _ in engine.evaluate(raw)))))
        if a.cli:
            results["cli"].append(timed(lambda: subprocess.run([a.cli, "scan", "-i", a.inventory, "-f", "ndjson", "-o", "/dev/null", "--now", "2026-11-01T00:00:00Z"], check=True, capture_output=True)))
    assert counts["dicts"] == counts["bytes"], counts
    out = {"resources": n, "findings": counts["dicts"]}
    for k, v in results.items():
        if v:
            out[f"{k}_ms_per_1k"] = round(statistics.median(v) * 1000 / (n / 1000), 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
