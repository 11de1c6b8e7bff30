#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""check_liveness.py SOURCE_ROOT BUILD_ROOT: the oracle liveness table of
docs/oracles.md is complete.

Every check name the model and the harness can report (each
report_violation("NAME", ...) and VM_BUG_ON_PFN(..., "NAME") in core/,
harness/ and stress/, the outcome grading's forbidden:<outcome>, the lockup
detector's stall) has a
row in the table "Oracle liveness" of docs/oracles.md, and the test each row names is a
registered meson test (BUILD_ROOT/meson-info/intro-tests.json). The named
test is the one that makes the check fire and asserts its name: a check
with no such test guards nothing, and a suite stays green when it dies.
"""
import glob
import json
import os
import re
import sys

src, build = sys.argv[1], sys.argv[2]
names = set()
for path in [p for d in ('core', 'harness', 'stress') for ext in ('*.h', '*.cc')
             for p in sorted(glob.glob(os.path.join(src, d, ext)))]:
    if os.path.basename(path) == 'violation.h':
        continue  # the definitions, not checks
    text = open(path).read()
    names.update(re.findall(r'report_violation\(\s*"([^"]+)"', text))
    for m in re.finditer(r'VM_BUG_ON_PFN\(', text):
        call = text[m.end():text.find(';', m.end())]
        lits = re.findall(r'"([^"]*)"', call)
        if lits:
            names.add('VM_BUG_ON:' + lits[-1])
    if 'std::string("forbidden:")' in text:
        names.add('forbidden:<outcome>')
    if 'report_stall(what, waited)' in text:  # the lockup detector (core/compiler.h)
        names.add('stall')

TABLE = os.path.join('docs', 'oracles.md')
readme = open(os.path.join(src, TABLE)).read()
sec = readme.split('### Oracle liveness', 1)
if len(sec) < 2:
    print('FAIL: %s has no "### Oracle liveness" table' % TABLE)
    sys.exit(1)
rows = {}
for line in sec[1].split('\n### ')[0].split('\n## ')[0].splitlines():
    m = re.match(r'\|\s*`([^`]+)`\s*\|\s*`([^`]+)`', line)
    if m:
        rows[m.group(1).replace('\\|', '|')] = m.group(2)
with open(os.path.join(build, 'meson-info', 'intro-tests.json')) as f:
    tests = {t['name'] for t in json.load(f)}

fails = []
for n in sorted(names - set(rows)):
    fails.append('check %r has no row in the liveness table of %s' % (n, TABLE))
for n in sorted(set(rows) - names):
    fails.append('the liveness table of %s lists %r, which no code reports' % (TABLE, n))
for n, t in sorted(rows.items()):
    if t not in tests:
        fails.append('check %r: its test %r is not a registered meson test' % (n, t))
for f in fails:
    print('FAIL: ' + f)
if fails:
    sys.exit(1)
print('ok: %d checks, each with a test that makes it fire' % len(names))
