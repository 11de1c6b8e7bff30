#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""merge_reports.py A.json B.json ... -o OUT.json: merge the shards of one run.

anonx-stress reports (--shard I/N of a kill matrix, a coverage run, presets):
runs are concatenated, each mutant's kill-matrix row is recomputed from the
per-seed detection times of every shard, the coverage tables are joined
(cells, reached, percent) and the contention profiles added (counts and
histogram buckets summed, harness/profile.h). anonx-mutate/1 reports (tools/mutate.py --shard)
go to tools/mutate.py's merge: every id once. Written to a temporary file,
then renamed. The one merge for both engines (GNU parallel, Slurm). Reports
of another commit, or of another selection (any argument but the shard's
own: --shard, where it writes, its build tree), are refused with one line
and exit 2 before anything is written."""
import argparse
import json
import os
import subprocess
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


def verdict_tool():
    """build/harness/anonx-verdict, or $ANONX_VERDICT."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.environ.get("ANONX_VERDICT", os.path.join(root, "build", "harness", "anonx-verdict"))


def judge(rows):
    """Each row's kill-matrix verdict, from anonx-verdict."""
    if not rows:
        return []
    tool = verdict_tool()
    if not os.access(tool, os.X_OK):
        raise SystemExit(f"merge_reports: '{tool}' is not built: run ./anonx stress --list first")
    out = subprocess.run([tool], input=json.dumps(rows), capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"merge_reports: anonx-verdict: {out.stderr.strip()}")
    return json.loads(out.stdout)


def add_hist(a, b):
    """Two histograms of a contention profile (harness/profile.h) as one."""
    if not b.get("n"):
        return dict(a)
    if not a.get("n"):
        return dict(b)
    la, lb = a.get("log2_ns", []), b.get("log2_ns", [])
    n = a["n"] + b["n"]
    total = a["total_ns"] + b["total_ns"]
    return {"n": n, "total_ns": total, "min_ns": min(a["min_ns"], b["min_ns"]),
            "max_ns": max(a["max_ns"], b["max_ns"]), "mean_ns": total / n,
            "log2_ns": [(la[i] if i < len(la) else 0) + (lb[i] if i < len(lb) else 0)
                        for i in range(max(len(la), len(lb)))]}


def add_profile(a, b):
    """Two reports' total profiles as one: counts and histograms added, the
    call sites joined by function (harness/profile.h's schema)."""
    if a is None:
        return json.loads(json.dumps(b))
    if a.get("schema") != b.get("schema"):
        raise SystemExit(f"merge_reports: profiles of schema {a.get('schema')} and "
                         f"{b.get('schema')} do not merge")
    out = dict(a)
    out["thread_s"] = a["thread_s"] + b["thread_s"]
    out["contended_wait_ns"] = a["contended_wait_ns"] + b["contended_wait_ns"]
    out["contended_wait_share"] = (out["contended_wait_ns"] / (out["thread_s"] * 1e9)
                                   if out["thread_s"] else 0.0)
    for cls, lb in b["locks"].items():
        la = a["locks"].get(cls, {"acquisitions": 0, "contentions": 0, "wait": {"n": 0},
                                  "hold": {"n": 0}, "sites": [], "other_sites": 0})
        sites = {s["fn"]: dict(s) for s in la["sites"]}
        for s in lb["sites"]:
            t = sites.setdefault(s["fn"], {"fn": s["fn"], "contentions": 0, "wait_ns": 0})
            t["contentions"] += s["contentions"]
            t["wait_ns"] += s["wait_ns"]
        out["locks"][cls] = {
            "acquisitions": la["acquisitions"] + lb["acquisitions"],
            "contentions": la["contentions"] + lb["contentions"],
            "wait": add_hist(la["wait"], lb["wait"]), "hold": add_hist(la["hold"], lb["hold"]),
            "sites": sorted(sites.values(), key=lambda s: -s["wait_ns"]),
            "other_sites": la["other_sites"] + lb["other_sites"]}
    for kind, wb in b["words"].items():
        wa = a["words"].get(kind, {})
        out["words"][kind] = {k: wa.get(k, 0) + v for k, v in wb.items()}
    for why, n in b["gup_fast_fallbacks"].items():
        out["gup_fast_fallbacks"][why] = a["gup_fast_fallbacks"].get(why, 0) + n
    fa, fb = a["flushes"], b["flushes"]
    out["flushes"] = {"count": fa["count"] + fb["count"], "waited": fa["waited"] + fb["waited"],
                      "wait": add_hist(fa["wait"], fb["wait"])}
    ta, tb = a["threads"], b["threads"]
    out["threads"] = {"step_ns": ta["step_ns"] + tb["step_ns"],
                      "rendezvous_wait": add_hist(ta["rendezvous_wait"], tb["rendezvous_wait"])}
    return out


# The options by which the shards of one run differ (the slice, where each
# writes, its build tree and jobs), with how many values each takes: every
# other argument must be the same in every shard.
PER_SHARD = {
    "anonx-mutate/1": {"--shard": 1, "--out": 1, "--workdir": 1, "--jobs": 1, "--worker": 1,
                       "--resume": 1, "--no-baseline": 0},
    "anonx-stress/1": {"--shard": 1, "--json": 1, "--checkpoint": 1, "--stat-interval": 1,
                       "--quiet": 0},
}


def selection(context, per_shard):
    """What a report's run selected: its argv without the program and the
    per-shard options."""
    argv = context.get("argv", [])
    args = argv.split() if isinstance(argv, str) else list(argv)
    out, skip = [], 0
    for arg in args[1:]:
        if skip:
            skip -= 1
            continue
        name = arg.split("=", 1)[0]
        if name in per_shard:
            skip = per_shard[name] if "=" not in arg else 0
            continue
        out.append(arg)
    return out


def same_run(docs):
    """None if the reports are shards of one run (one schema, one commit,
    one selection), else the one line that says which is not."""
    first_path, first = docs[0]
    schema = first.get("schema")
    for path, d in docs[1:]:
        if d.get("schema") != schema:
            return f"'{path}' is a {d.get('schema')} report, '{first_path}' {schema}"
    per_shard = PER_SHARD.get(schema, {})
    sha, sel = first["context"].get("git_sha"), selection(first["context"], per_shard)
    for path, d in docs[1:]:
        other = d["context"].get("git_sha")
        if other != sha:
            return f"'{path}' is from commit {other}, '{first_path}' from {sha}: not one run"
        mine = selection(d["context"], per_shard)
        if mine != sel:
            return (f"'{path}' selects '{' '.join(mine)}', '{first_path}' '{' '.join(sel)}': "
                    "not the shards of one run")
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="+")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    docs = []
    for path in a.reports:
        try:
            with open(path) as f:
                docs.append((path, json.load(f)))
        except (OSError, ValueError) as e:
            print(f"merge_reports: cannot read '{path}': {e}", file=sys.stderr)
            return 2
        if not isinstance(docs[-1][1], dict) or not isinstance(docs[-1][1].get("context"), dict):
            print(f"merge_reports: '{path}' is not an anonx report", file=sys.stderr)
            return 2
    # Before anything is written: shards of one run only.
    why = same_run(docs)
    if why:
        print(f"merge_reports: {why}", file=sys.stderr)
        return 2
    schemas = {d.get("schema") for _, d in docs}
    if schemas == {"anonx-mutate/1"}:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import mutate
        mutate.merge(a.reports, a.output)
        return 0
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
        if "profile" in d:
            merged["profile"] = add_profile(merged.get("profile"), d["profile"])
        if "coverage" in d:
            cov = merged.setdefault("coverage", dict(d["coverage"], cells=[]))
            cov["cells"] += d["coverage"]["cells"]
        budget = report_budget(d["context"])
        for k in d.get("kill_matrix", []):
            key = (k["mutant"], k.get("platform", "x86"))
            r = rows.setdefault(key, dict(k, per_seed_s=[], budget_s=0.0))
            r["per_seed_s"] += k["per_seed_s"]
            r["budget_s"] = max(r["budget_s"], budget)
    # The verdicts come from anonx-verdict (harness/verdict.h), the one
    # implementation anonx-stress and anonx-check use.
    keyed = list(rows.items())
    judged = judge([{"rule": "every_seed", "budget": r["budget_s"],
                     "visible": bool(r.get("visible", r.get("x86_visible"))),
                     "per_seed": r["per_seed_s"]} for _, r in keyed])
    for (_, r), v in zip(keyed, judged):
        del r["budget_s"]
        r["seeds"], r["killed_seeds"] = v["seeds"], v["killed_seeds"]
        r["median_s"], r["max_s"] = v["median"], v["max"]
        r["verdict"] = v["verdict"]
        merged["kill_matrix"].append(r)
    if "coverage" in merged:
        cov = merged["coverage"]
        cov["run"] = len(cov["cells"])
        cov["reached"] = sum(1 for c in cov["cells"] if c["reached"])
        cov["percent"] = 100.0 * cov["reached"] / cov["run"] if cov["run"] else 0.0
    tmp = f"{a.output}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(merged, f, indent=1)
    os.replace(tmp, a.output)
    return 1 if any(r["verdict"] == "escaped" for r in merged["kill_matrix"]) else 0


if __name__ == "__main__":
    sys.exit(main())
