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


def report_budget(context):
    """The --budget of the run that wrote a report (anonx-stress's default,
    10 s, without one): a seed its mutant survived counts for that long in
    the median and max, as anonx-stress counts it."""
    argv = str(context.get("argv", "")).split()
    for flag, value in zip(argv, argv[1:]):
        if flag == "--budget":
            try:
                return float(value)
            except ValueError:
                break
    return 10.0


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
        budget = report_budget(d["context"])
        for k in d.get("kill_matrix", []):
            key = (k["mutant"], k.get("platform", "x86"))
            r = rows.setdefault(key, dict(k, per_seed_s=[], budget_s=0.0))
            r["per_seed_s"] += k["per_seed_s"]
            r["budget_s"] = max(r["budget_s"], budget)
    for name, r in rows.items():
        times = r["per_seed_s"]
        killed = [t for t in times if t is not None]
        filled = sorted(t if t is not None else r["budget_s"] for t in times)
        del r["budget_s"]
        r["seeds"], r["killed_seeds"] = len(times), len(killed)
        r["median_s"] = statistics.median(filled) if filled else 0
        r["max_s"] = filled[-1] if filled else 0
        if len(killed) == len(times):
            r["verdict"] = "killed"
        elif not r.get("visible", r.get("x86_visible")):
            r["verdict"] = "killed-partly(not-visible)" if killed else "survived-as-expected"
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
