#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""check_signals.py ANONX_STRESS: a long run stops cleanly and keeps its report.

Runs anonx-stress as a child the way a terminal user or a batch scheduler
stops it, and checks the contract (stress/README.md, "Stopping a run"):
  - SIGINT after 2 s: exit 130 within 2 s of the signal, the summary printed
    and marked INTERRUPTED, the JSON valid with "interrupted": true and the
    cell's actual duration; stat lines meanwhile (not a terminal);
  - SIGTERM: the same with exit 143, and --stat-interval 1 prints a line a
    second;
  - SIGKILL after a checkpoint (--checkpoint 1): the JSON holds the checkpoint;
  - limits before work: --threads 100000 exits 2 at once with the estimate;
    --threads 64 on fewer CPUs runs, with a warning.
Each check names what it saw; the run takes about 10 s.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

BIN = sys.argv[1]
SCENARIO = "fork_vs_pin"
# The wall-clock bounds (how soon after a signal the run exits, how soon a
# limit refuses) are scaled for the build they run in: tests/meson.build's
# setups set ANONX_TIME_SCALE (10 under ThreadSanitizer, 4 under ASan).
try:
    SCALE = max(1.0, float(os.environ.get("ANONX_TIME_SCALE", "1")))
except ValueError:
    SCALE = 1.0
failures = []


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        failures.append(what)


def start(args):
    return subprocess.Popen([BIN] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        return {"error": str(e)}


def stat_lines(err):
    return [l for l in err.splitlines() if l.startswith("anonx-stress: ") and "cells done" in l]


def stop_with(sig, want_rc, wait_s, tmp):
    path = os.path.join(tmp, f"{sig.name}.json")
    p = start(["--scenario", SCENARIO, "--duration", "60", "--json", path, "--stat-interval", "1"])
    time.sleep(wait_s)
    t = time.monotonic()
    p.send_signal(sig)
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    dt = time.monotonic() - t
    name = sig.name
    check(p.returncode == want_rc and dt < 2.0 * SCALE,
          f"{name} after {wait_s} s: exit {p.returncode} (want {want_rc}) {dt:.3f} s after the signal"
          f" (bound {2.0 * SCALE:g} s)")
    check("End of test: INTERRUPTED" in out and any(l.startswith(SCENARIO) for l in out.splitlines()),
          f"{name}: summary row and 'End of test: INTERRUPTED' printed")
    d = load(path)
    runs = d.get("runs", [])
    ok = (d.get("interrupted") is True and d.get("checkpoint") is False and len(runs) == 1
          and runs[0].get("interrupted") is True and 0 < runs[0].get("duration_s", 0) < 60)
    check(ok, f"{name}: {path} has interrupted={d.get('interrupted')} signal={d.get('signal')} "
              f"runs={[(r.get('scenario'), r.get('duration_s')) for r in runs]} {d.get('error', '')}")
    return stat_lines(err)


with tempfile.TemporaryDirectory() as tmp:
    lines = stop_with(signal.SIGINT, 130, 2.0, tmp)
    check(len(lines) >= 1, f"SIGINT run: {len(lines)} stat lines in 2 s off a terminal")

    lines = stop_with(signal.SIGTERM, 143, 3.5, tmp)
    # A line a second: 3 by 3.5 s; a loaded machine may delay the last one.
    secs = [int(l.split()[1]) for l in lines]
    check(len(lines) >= 2 and secs == list(range(1, len(secs) + 1)),
          f"--stat-interval 1: lines at {secs} s in 3.5 s")

    path = os.path.join(tmp, "kill.json")
    p = start(["--scenario", SCENARIO, "--duration", "60", "--json", path, "--checkpoint", "1",
               "--quiet"])
    deadline = time.monotonic() + 8 * SCALE
    while not os.path.exists(path) and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)
    p.send_signal(signal.SIGKILL)
    p.communicate()
    d = load(path)
    running = d.get("running", [])
    check(p.returncode == -signal.SIGKILL and d.get("checkpoint") is True and len(running) == 1
          and running[0].get("elapsed_s", 0) > 0 and running[0].get("ops", 0) > 0,
          f"SIGKILL: exit {p.returncode}, checkpoint={d.get('checkpoint')} running="
          f"{[(r.get('scenario'), r.get('elapsed_s'), r.get('ops')) for r in running]} "
          f"{d.get('error', '')}")

    t = time.monotonic()
    r = subprocess.run([BIN, "--threads", "100000"], capture_output=True, text=True, timeout=60)
    dt = time.monotonic() - t
    first = r.stderr.splitlines()[0] if r.stderr else ""
    check(r.returncode == 2 and dt < 1.0 * SCALE and "100000" in first and "MemAvailable" in first
          and not r.stdout,
          f"--threads 100000: exit {r.returncode} in {dt:.3f} s (bound {1.0 * SCALE:g} s), "
          f"{len(r.stdout)} bytes on stdout: {first}")

    cpus = len(os.sched_getaffinity(0))
    if cpus < 64:
        r = subprocess.run([BIN, "--threads", "64", "--scenario", SCENARIO, "--duration", "0.3",
                            "--quiet"], capture_output=True, text=True, timeout=120)
        warn = [l for l in r.stderr.splitlines() if "warning" in l]
        check(r.returncode == 0 and warn and "--threads 64" in warn[0],
              f"--threads 64 on {cpus} CPUs: exit {r.returncode}, {warn[:1]}")

sys.exit(1 if failures else 0)
