#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""check_profile.py ANONX_STRESS: the contention profile of a stress run.

  - --list --json names every lock class, word kind and GUP-fast fallback
    reason the profiles use;
  - a lockstep run's report has a profile in every cell and in total, in the
    schema of harness/profile.h, naming every class, kind and reason; the
    total adds up the cells; the paths of fork_vs_pin took the PTE table
    lock and mmap_lock; the cell's thread time splits into steps and waits;
  - a free-mode run of several paths has one too, with GUP-fast fallbacks;
    on one thread it shows acquisitions and no contention at all;
  - a coverage run has one in every generated cell;
  - --profile off: no profile in the report, wait% "-" in the summary;
  - --profile-report FILE prints the tables (total, then each cell);
  - bad input, one line naming the problem and exit 2, nothing run:
    --profile maybe, --profile-report of a report without a profile, of a
    profile of another schema, of a file that is not JSON.
Each check names what it saw.
"""
import json
import os
import subprocess
import sys
import tempfile

BIN = sys.argv[1]
failures = []


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        failures.append(what)


def run(args):
    return subprocess.run([BIN] + args, capture_output=True, text=True, timeout=300)


listing = json.loads(run(["--list", "--json"]).stdout)
names = listing.get("profile", {})
classes = [c["name"] for c in names.get("lock_classes", [])]
kinds = names.get("word_kinds", [])
reasons = names.get("gup_fast_fallbacks", [])
check({"ptl", "pmd_lock", "mmap_lock", "page_lock", "zone_lock", "swap_lock"} <= set(classes)
      and all(c.get("kernel_name") for c in names.get("lock_classes", [])),
      f"--list --json names the lock classes: {classes}")
check({"flags", "refcount", "pincount", "mapcount", "pte", "seqcount"} <= set(kinds),
      f"--list --json names the word kinds: {kinds}")
check({"not_present", "entry_changed", "seqcount_moved", "grab_failed"} <= set(reasons),
      f"--list --json names the fallback reasons: {reasons}")


def well_formed(p, where):
    ok = (p.get("schema") == names.get("schema") and set(p.get("locks", {})) == set(classes)
          and set(p.get("words", {})) == set(kinds)
          and set(p.get("gup_fast_fallbacks", {})) == set(reasons)
          and {"count", "waited", "wait"} <= set(p.get("flushes", {}))
          and 0 <= p.get("contended_wait_share", -1) <= 1)
    check(ok, f"{where}: a profile of schema {p.get('schema')} naming every class, kind, reason")


with tempfile.TemporaryDirectory() as tmp:
    rep = os.path.join(tmp, "on.json")
    r = run(["--scenario", "fork_vs_pin,swapout_vs_gup_fast", "--duration", "0.3", "--json", rep])
    d = json.load(open(rep))
    check(r.returncode == 0 and len(d["runs"]) == 2, f"lockstep run: exit {r.returncode}")
    for c in d["runs"]:
        well_formed(c.get("profile", {}), f"cell {c['scenario']}")
    well_formed(d.get("profile", {}), "the report's total")
    fork = d["runs"][0]["profile"]
    check(fork["locks"]["ptl"]["acquisitions"] > 0 and fork["locks"]["mmap_lock"]["acquisitions"] > 0
          and fork["locks"]["ptl"]["hold"]["n"] > 0,
          f"fork_vs_pin took the PTE table lock ({fork['locks']['ptl']['acquisitions']}) and "
          f"mmap_lock ({fork['locks']['mmap_lock']['acquisitions']}), holds timed")
    tot = d["profile"]
    acq = sum(c["profile"]["locks"]["ptl"]["acquisitions"] for c in d["runs"])
    check(tot["locks"]["ptl"]["acquisitions"] == acq,
          f"the total adds up the cells: ptl {tot['locks']['ptl']['acquisitions']} = {acq}")
    th = fork["threads"]
    # Steps: one iteration in 64 timed and scaled, an estimate; the
    # rendezvous histogram: the timed iterations' waits, a sample, which
    # cannot exceed the threads' time (scaled up, a loaded machine's few
    # long waits can: it is not bounded here).
    rdv = th["rendezvous_wait"].get("total_ns", 0) / 1e9
    check(th["step_ns"] > 0 and th["rendezvous_wait"]["n"] > 0
          and th["step_ns"] / 1e9 <= fork["thread_s"] * 1.25 and rdv <= fork["thread_s"],
          f"fork_vs_pin's threads: ~{th['step_ns'] / 1e9:.3f} s in steps, {rdv:.3f} s at the "
          f"rendezvous in the timed iterations, of {fork['thread_s']:.3f} thread-seconds")
    header = [l for l in r.stdout.splitlines() if l.startswith("scenario")]
    rows = [l for l in r.stdout.splitlines() if l.startswith(("fork_vs_pin", "swapout_vs"))]
    check(header and "wait%" in header[0] and all(len(l) <= 120 for l in r.stdout.splitlines()),
          f"summary: a wait% column, every line within 120 columns "
          f"(longest {max(len(l) for l in r.stdout.splitlines())})")
    check(len(rows) == 2 and all(l.split()[7] != "-" for l in rows),
          f"summary rows show the cell's contended-wait share: {[l.split()[7] for l in rows]}")

    free = os.path.join(tmp, "free.json")
    r = run(["--scenario", "mixed", "--duration", "0.3", "--threads", "4", "--json", free])
    p = json.load(open(free))["runs"][0].get("profile", {})
    well_formed(p, "free-mode cell mixed")
    check(sum(p.get("gup_fast_fallbacks", {}).values()) > 0 and p["flushes"]["count"] > 0,
          f"mixed: GUP-fast fallbacks {p.get('gup_fast_fallbacks')}, "
          f"{p.get('flushes', {}).get('count')} flushes")

    # One thread alone: nothing to contend with.
    one = os.path.join(tmp, "one.json")
    r = run(["--scenario", "mixed", "--duration", "0.3", "--threads", "1", "--json", one])
    p = json.load(open(one))["runs"][0].get("profile", {})
    cont = {c: l["contentions"] for c, l in p.get("locks", {}).items() if l["contentions"]}
    acq = sum(l["acquisitions"] for l in p.get("locks", {}).values())
    check(r.returncode == 0 and acq > 0 and not cont and p["flushes"]["waited"] == 0
          and p["contended_wait_ns"] == 0,
          f"mixed on one thread: {acq} acquisitions, contentions {cont or 'none'}, "
          f"{p.get('flushes', {}).get('waited')} flushes waited")

    cov = os.path.join(tmp, "cov.json")
    r = run(["--coverage", "--scenario", "excl/", "--duration", "0.01", "--json", cov, "--quiet"])
    d = json.load(open(cov))
    check(r.returncode == 0 and d["runs"] and all("profile" in c for c in d["runs"])
          and "profile" in d,
          f"coverage run: a profile in each of {len(d['runs'])} cells and in total")

    off = os.path.join(tmp, "off.json")
    r = run(["--scenario", "fork_vs_pin", "--duration", "0.2", "--profile", "off", "--json", off])
    d = json.load(open(off))
    rows = [l for l in r.stdout.splitlines() if l.startswith("fork_vs_pin")]
    check(r.returncode == 0 and "profile" not in d and "profile" not in d["runs"][0]
          and rows and rows[0].split()[7] == "-",
          f"--profile off: no profile in the report, wait% {rows[0].split()[7] if rows else '?'}")

    r = run(["--profile-report", rep])
    check(r.returncode == 0 and r.stdout.startswith("the whole report: contended wait")
          and "lock class" in r.stdout and "fork_vs_pin v6.2 x86 none" in r.stdout
          and "GUP-fast fallbacks:" in r.stdout,
          f"--profile-report: exit {r.returncode}, {len(r.stdout.splitlines())} lines")

    other = os.path.join(tmp, "other.json")
    d = json.load(open(rep))
    d["profile"]["schema"] = 99
    json.dump(d, open(other, "w"))
    notjson = os.path.join(tmp, "not.json")
    open(notjson, "w").write("{ half")
    for args, want in [(["--profile", "maybe"], "'maybe'"),
                       (["--profile-report", off], "has no contention profile"),
                       (["--profile-report", other], "schema 99"),
                       (["--profile-report", notjson], "is not JSON"),
                       (["--profile-report", os.path.join(tmp, "absent.json")], "cannot read")]:
        r = run(args)
        first = r.stderr.splitlines()[0] if r.stderr else ""
        check(r.returncode == 2 and want in first and first.startswith("anonx-stress: ")
              and not r.stdout,
              f"{' '.join(args[:1])} {os.path.basename(args[1])}: exit {r.returncode}: {first}")

sys.exit(1 if failures else 0)
