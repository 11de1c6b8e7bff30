#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""expect_check.py: runs one anonx-stress cell and checks *why* it passed.

  expect_check.py --exit 1 --expect I2[,I2-data] -- anonx-stress ARGS...
  expect_check.py --exit 0 --min-iterations 1000 --outcomes pinned,swapped -- anonx-stress ARGS...

The command gets `--json FILE` appended. It must exit with --exit (a crash
is not a catch). With --expect, every named check must be among the
violations the report lists: a mutant test passes only when its own check
fired, not whichever other one did. The other checks that fired are
printed. A clean cell (--exit 0) must have run at least --min-iterations
iterations, reached every outcome in --outcomes, and graded at most
--max-inconclusive of them INCONCLUSIVE: a cell that never got to its racy
step proves nothing.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def run_with_report(cmd):
    """Runs cmd with `--json FILE` appended: (exit code, the report or None)."""
    fd, path = tempfile.mkstemp(prefix='anonx-expect-', suffix='.json')
    os.close(fd)
    try:
        rc = subprocess.run(cmd + ['--json', path]).returncode
        try:
            with open(path) as f:
                return rc, json.load(f)
        except (OSError, ValueError) as e:
            print('FAIL: no valid report (%s): %s' % (e, ' '.join(cmd)))
            return rc, None
    finally:
        os.unlink(path)


def fired_checks(report):
    """{check name: reports} over every run of a report."""
    fired = {}
    for r in report.get('runs', []):
        for v in r['violations']:
            fired[v['invariant']] = fired.get(v['invariant'], 0) + v['count']
    return fired


def missing_checks(expect, fired):
    """A failure line for each check of the comma-separated expect that did not fire."""
    return ['expected check %s did not fire (fired: %s)' %
            (want, ', '.join(sorted(fired)) or 'nothing')
            for want in filter(None, expect.split(',')) if want not in fired]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--exit', type=int, required=True)
    ap.add_argument('--expect', default='')
    ap.add_argument('--min-iterations', type=int, default=0)
    ap.add_argument('--outcomes', default='')
    ap.add_argument('--max-inconclusive', type=float, default=0.01,
                    help='largest fraction of INCONCLUSIVE iterations (default 0.01)')
    ap.add_argument('cmd', nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == '--' else a.cmd
    if not cmd:
        ap.error('no command')
    rc, report = run_with_report(cmd)
    if report is None:
        return 1
    fails = []
    if rc != a.exit:
        fails.append('expected exit %d, got %d' % (a.exit, rc))
    runs = report.get('runs', [])
    fired = fired_checks(report)
    fails += missing_checks(a.expect, fired)
    if not runs:
        fails.append('the report has no runs')
    for r in runs:
        it = r['iterations']
        if it < a.min_iterations:
            fails.append('%s: %d iterations, want at least %d' %
                         (r['scenario'], it, a.min_iterations))
        if it and r.get('inconclusive', 0) > a.max_inconclusive * it:
            fails.append('%s: %d of %d iterations INCONCLUSIVE' %
                         (r['scenario'], r['inconclusive'], it))
        for o in filter(None, a.outcomes.split(',')):
            if r['outcomes'].get(o, {}).get('count', 0) == 0:
                fails.append('%s: outcome %s never reached (reached: %s)' %
                             (r['scenario'], o, ', '.join(sorted(r['outcomes']))))
    if fails:
        for f in fails:
            print('FAIL: ' + f)
        print('  command: ' + ' '.join(cmd))
        return 1
    print('ok: exit %d%s; fired: %s' % (rc, (', expected ' + a.expect) if a.expect else '',
                                         ', '.join('%s x%d' % kv for kv in sorted(fired.items()))
                                         or 'nothing'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
