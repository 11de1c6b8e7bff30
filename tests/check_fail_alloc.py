#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""check_fail_alloc.py ANONX_STRESS: the fault-injection axis (issue 28).

anonx-stress --fail-alloc N fails one allocation in N (a page, a page table,
a swap slot; core/env.h) in the racing steps of lockstep cells and in
every operation of free mode. On the correct protocol v6.2: the presets in
lockstep, the mixed scenario in free mode and a slice of the coverage
model each end SUCCESS with no violation, every report records the rate,
and allocations did fail (a run whose injection never fired tests no
failure path). Bad input is one line and exit 2. About 15 s.
"""
import json
import os
import subprocess
import sys
import tempfile

stress = sys.argv[1]
fails = []


def run(args, what):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, 'r.json')
        r = subprocess.run([stress] + args + ['--quiet', '--json', out], capture_output=True,
                           text=True, timeout=600)
        if r.returncode != 0:
            fails.append('%s: exit %d: %s' % (what, r.returncode, (r.stdout + r.stderr)[-400:]))
            return []
        return json.load(open(out))['runs']


checked = {}
for what, args in (
        ('presets, lockstep', ['--scenario', 'all', '--protocol', 'v6.2', '--platform', 'x86,rcu',
                               '--duration', '0.3', '--fail-alloc', '8']),
        ('mixed, free mode', ['--scenario', 'mixed', '--mode', 'free', '--duration', '1',
                              '--fail-alloc', '8']),
        ('coverage cells', ['--coverage', '--scenario', 'excl/,swapped/,thp/', '--duration', '0.02',
                            '--fail-alloc', '8'])):
    runs = run(args, what)
    failed = sum(r['paths'].get('allocs_failed', 0) for r in runs)
    viol = [(r['scenario'], v['invariant']) for r in runs for v in r['violations']]
    if runs and any(r.get('fail_alloc_one_in') != 8 for r in runs):
        fails.append('%s: a report without fail_alloc_one_in 8' % what)
    if runs and failed == 0:
        fails.append('%s: no allocation failed in %d cells' % (what, len(runs)))
    if viol:
        fails.append('%s: violations %s' % (what, viol[:5]))
    checked[what] = (len(runs), failed)

r = subprocess.run([stress, '--fail-alloc', 'often'], capture_output=True, text=True)
err = r.stderr.strip().splitlines()
if r.returncode != 2 or not err or 'often' not in err[0]:
    fails.append("--fail-alloc often: exit %d, %r (want exit 2 naming the value)" % (
        r.returncode, r.stderr[:200]))
for f in fails:
    print('FAIL: ' + f)
print('fault injection: %s: %s' % (', '.join('%s %d cells, %d allocations failed' % (w, n, f)
                                            for w, (n, f) in checked.items()),
                                   'FAILED' if fails else 'ok'))
sys.exit(1 if fails else 0)
