#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""check_coverage.py: runs `anonx-stress --coverage` and checks its table.

  check_coverage.py --exit 0 [--expect I2,I2-odirect] -- anonx-stress --coverage ARGS...

The command gets `--json FILE` appended. It must exit with --exit. Every
cell it ran must have reached its state (the coverage table's `reached`;
--min-reached lowers the share). With
--expect, every named check must have fired in some cell (the real bugs a
generation replays).
"""
import argparse
import sys

from expect_check import fired_checks, missing_checks, run_with_report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--exit', type=int, required=True)
    ap.add_argument('--expect', default='')
    ap.add_argument('--min-reached', type=float, default=1.0,
                    help='share of the run cells that must reach their state (default all)')
    ap.add_argument('cmd', nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == '--' else a.cmd
    rc, rep = run_with_report(cmd)
    if rep is None:
        return 1
    fails = []
    if rc != a.exit:
        fails.append('expected exit %d, got %d' % (a.exit, rc))
    cov = rep.get('coverage')
    if not cov:
        fails.append('the report has no coverage table')
    else:
        if cov['run'] == 0:
            fails.append('no cell ran')
        if cov['reached'] < a.min_reached * cov['run']:
            missed = [c['cell'] for c in cov['cells'] if not c['reached']]
            fails.append('%d of %d cells reached their state; not: %s' %
                         (cov['reached'], cov['run'], ' '.join(missed[:10])))
    fired = fired_checks(rep)
    fails += missing_checks(a.expect, fired)
    if cov:
        print('ok: exit %d; %d/%d cells reached; fired: %s' %
              (rc, cov['reached'], cov['run'], ', '.join(sorted(fired)) or 'none'))
    for f in fails:
        print('FAIL: ' + f)
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
