#!/usr/bin/python3
"""merge_reports.py A.json B.json ... -o OUT.json: merge anonx-stress reports
(for example the shards of one run, --shard I/N): runs are concatenated and
each mutant's kill-matrix row is recomputed from the per-seed detection times
of every shard. Written to a temporary file, then renamed."""
import argparse
import json
import os
import statistics
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="+")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    merged = {"schema": "anonx-stress/1", "context": None, "runs": [], "kill_matrix": []}
    rows = {}
    for path in a.reports:
        try:
            with open(path) as f:
                d = json.load(f)
        except (OSError, ValueError) as e:
            print(f"merge_reports: cannot read '{path}': {e}", file=sys.stderr)
            return 2
        if d.get("schema") != "anonx-stress/1":
            print(f"merge_reports: '{path}' is not an anonx-stress/1 report", file=sys.stderr)
            return 2
        merged["context"] = merged["context"] or d["context"]
        merged.setdefault("sources", []).append({"file": path, "context": d["context"]})
        merged["runs"] += d["runs"]
        for k in d.get("kill_matrix", []):
            r = rows.setdefault(k["mutant"], dict(k, per_seed_s=[]))
            r["per_seed_s"] += k["per_seed_s"]
    budget = max([x for k in rows.values() for x in k["per_seed_s"] if x is not None] + [0.0])
    for name, r in rows.items():
        times = r["per_seed_s"]
        killed = [t for t in times if t is not None]
        filled = sorted(t if t is not None else max(budget, r.get("max_s", 0)) for t in times)
        r["seeds"], r["killed_seeds"] = len(times), len(killed)
        r["median_s"] = statistics.median(filled) if filled else 0
        r["max_s"] = filled[-1] if filled else 0
        if len(killed) == len(times):
            r["verdict"] = "killed"
        elif not r["x86_visible"]:
            r["verdict"] = "killed-partly(not-x86)" if killed else "survived-as-expected"
        else:
            r["verdict"] = "escaped"
        merged["kill_matrix"].append(r)
    tmp = f"{a.output}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(merged, f, indent=1)
    os.replace(tmp, a.output)
    return 1 if any(r["verdict"] == "escaped" for r in merged["kill_matrix"]) else 0


if __name__ == "__main__":
    sys.exit(main())
