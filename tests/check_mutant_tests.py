#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""check_mutant_tests.py STRESS --negative M,M,... --stress M,M,...

Every mutant that `STRESS --list --json` lists has a negative test (a
scripted interleaving in tests/negative_test.cc, registered in
tests/meson.build), and every one visible on a platform (visible_on) a stress test: a mutant added
to core/protocol.h without its tests fails the suite, and so does a test
left for a mutant that no longer exists.
"""
import argparse
import json
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument('stress')
ap.add_argument('--negative', required=True)
ap.add_argument('--stress', dest='stress_tests', required=True)
a = ap.parse_args()
listing = json.loads(subprocess.run([a.stress, '--list', '--json'], check=True,
                                    capture_output=True, text=True).stdout)
mutants = {m['name']: m for m in listing['mutants']}
negative = set(filter(None, a.negative.split(',')))
stress = set(filter(None, a.stress_tests.split(',')))
fails = []
for name, m in sorted(mutants.items()):
    if name not in negative:
        fails.append('%s has no negative test (tests/meson.build negative_mutants)' % name)
    if m['visible_on'] and name not in stress:
        fails.append('%s is visible on %s but has no stress test (tests/meson.build stress_cells)'
                     % (name, ','.join(m['visible_on'])))
for name in sorted((negative | stress) - set(mutants)):
    fails.append('tests/meson.build names %s, which --list does not know' % name)
for f in fails:
    print('FAIL: ' + f)
if fails:
    sys.exit(1)
print('ok: %d mutants, each with its negative test; %d visible on a platform, each with a '
      'stress test' % (len(mutants), sum(1 for m in mutants.values() if m['visible_on'])))
