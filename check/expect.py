#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""expect.py: runs anonx-check and checks *why* it exited as it did.

  expect.py --exit 1 --expect I1[,I2] -- anonx-check ARGS...
  expect.py --exit 0 --min-schedules 1000 -- anonx-check ARGS...

The command gets `--json FILE` appended. It must exit with --exit (a crash
is not a catch). With --expect, a failing run's verdict must name one of
the checks (the oracle that fired, not a Relacy-level error such as an
uninitialised access or a livelock). A clean run must have searched at
least --min-schedules schedules in every cell (but a known finding's cell,
which must have reproduced its finding): a search that did not run proves
nothing.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--exit', type=int, required=True)
    ap.add_argument('--expect', default='')
    ap.add_argument('--min-schedules', type=int, default=1)
    ap.add_argument('cmd', nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == '--' else a.cmd
    if not cmd:
        ap.error('no command')
    fd, path = tempfile.mkstemp(prefix='anonx-check-', suffix='.json')
    os.close(fd)
    try:
        rc = subprocess.run(cmd + ['--json', path]).returncode
        if rc != a.exit:
            print(f'expect.py: exit {rc}, expected {a.exit}')
            return 1
        if a.exit not in (0, 1):  # bad usage, internal error: no report
            return 0
        with open(path) as f:
            runs = json.load(f)['runs']
        if not runs:
            print('expect.py: no cell ran')
            return 1
        if a.expect:
            want = a.expect.split(',')
            verdicts = [r.get('verdict', '') for r in runs if r['failed']]
            if not any(any(f'({w}:' in v for w in want) for v in verdicts):
                print(f'expect.py: no failure names {want}: {verdicts}')
                return 1
        else:
            for r in runs:
                if r.get('known_finding'):
                    # a known finding's cell stops at its expected failure
                    if not r.get('finding_reproduced'):
                        print(f"expect.py: {r['scenario']}/{r['platform']}: the known finding "
                              'did not reproduce')
                        return 1
                    continue
                if r['schedules'] < a.min_schedules:
                    print(f"expect.py: {r['scenario']} searched {r['schedules']} schedules")
                    return 1
        return 0
    finally:
        os.unlink(path)


if __name__ == '__main__':
    sys.exit(main())
