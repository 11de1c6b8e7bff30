#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Build the anonx dashboard: an offline HTML page plus PNG plots.

  dashboard.py [--results DIR] [--out DIR] [--stress EXE]

Reads every JSON file in DIR (default results/):
  bench-*.json   Google Benchmark output from tools/bench.py
  stress-*.json  anonx-stress reports, schema "anonx-stress/1"
  check-*.json, barriers-*.json, mutate-*.json  anonx-check, the barrier
                 accounting and the mutation campaigns
and writes OUT (default build/dashboard of the source tree, which git
ignores)/index.html with:
  - throughput vs threads of every contended benchmark of the latest bench
    run, against linear scaling (capped at the machine's CPU count), and for
    the stress scaling suite the share of time waiting;
  - the ratio gates P1..P9 of bench/README.md across the recorded runs, by
    commit;
  - the kill matrix (mutant x scenario, median time to detection);
  - stress throughput per scenario;
  - the contention profile of the latest stress report that has one
    (docs/profile.md): a heatmap of contended wait per lock class (and
    flush) per cell, wait and hold histograms, retry rates per word kind;
  - the coverage model's map per generation and platform (the latest
    coverage report of each): every cell infeasible with its reason,
    reached and clean, not reached, or failed with its checks; the model
    comes from EXE --list --json (default build/stress/anonx-stress);
  - the weak-memory back end and the mutation campaigns, as tables.
The page uses no network assets and links its images by relative path. The
whole directory is built beside OUT and renamed into place. Run with
/usr/bin/python3 (Debian's python3-matplotlib; the Agg backend, no display).
Reading: dashboard_data.py; plots: dashboard_plots.py; the page:
dashboard_html.py.
"""

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dashboard_coverage import load_model  # noqa: E402
from dashboard_html import build  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(TOP, 'build', 'dashboard')  # ignored by git
DEFAULT_STRESS = os.path.join(TOP, 'build', 'stress', 'anonx-stress')


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def main(argv):
    p = Parser(prog='dashboard.py', description='Build build/dashboard from results/*.json.')
    p.add_argument('--results', metavar='DIR', default='results',
                   help='directory of bench-*.json and stress-*.json (default: results)')
    p.add_argument('--out', metavar='DIR', help='output directory (default: build/dashboard)')
    p.add_argument('--stress', metavar='EXE', default=DEFAULT_STRESS,
                   help='anonx-stress, whose --list --json gives the coverage model '
                        '(default: build/stress/anonx-stress)')
    try:
        args = p.parse_args(argv)
    except UsageError as e:
        print('dashboard.py: %s' % e, file=sys.stderr)
        p.print_usage(sys.stderr)
        return 2
    if not os.path.isdir(args.results):
        print("dashboard.py: --results: no such directory '%s'" % args.results, file=sys.stderr)
        p.print_usage(sys.stderr)
        return 2
    out = os.path.abspath(args.out or DEFAULT_OUT)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.dashboard-', dir=parent)
    try:
        build(args.results, tmp, load_model(args.stress))
        os.chmod(tmp, 0o755)
        old = None
        if os.path.exists(out):
            old = tempfile.mkdtemp(prefix='.dashboard-old-', dir=parent)
            os.rmdir(old)
            os.rename(out, old)
        os.rename(tmp, out)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print('dashboard.py: wrote %s' % os.path.join(out, 'index.html'))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
