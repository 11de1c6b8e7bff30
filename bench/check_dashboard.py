#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Meson test (suite 'report'): build the dashboard from bench/fixtures and
check it. Runs `/usr/bin/python3 tools/dashboard.py --results FIXTURES --out
OUT`, then verifies that index.html exists, that every <img src> in it names
a file in OUT (relative, no network), and that every plot the fixtures call
for is linked and present: gates.png, kill_matrix.png, stress_throughput.png,
scaling-<family>.png for each benchmark family of the latest fixture run
that has more than one thread count, and the contention plots when a stress
fixture carries a contention profile (docs/profile.md)."""

import argparse
import glob
import html.parser
import json
import os
import shutil
import subprocess
import sys


class Imgs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs = []

    def handle_starttag(self, tag, attrs):
        if tag == 'img':
            self.srcs.append(dict(attrs).get('src'))


def expected_plots(fixtures, stress):
    runs = []
    for path in sorted(glob.glob(os.path.join(fixtures, 'bench-*.json'))):
        with open(path) as f:
            doc = json.load(f)
        runs.append((str(doc.get('context', {}).get('date', '')), path, doc))
    names = {'gates.png', 'kill_matrix.png', 'stress_throughput.png'}
    # A stress report with a contention profile (docs/profile.md): its plots.
    for path in glob.glob(os.path.join(fixtures, 'stress-*.json')):
        with open(path) as f:
            if 'profile' in json.load(f):
                names |= {'contention_heatmap.png', 'wait_hist.png', 'hold_hist.png',
                          'word_retries.png'}
    # A coverage report: the coverage model's map of each of its platforms.
    for path in glob.glob(os.path.join(fixtures, 'stress-*.json')):
        with open(path) as f:
            doc = json.load(f)
        if doc.get('coverage', {}).get('cells') and stress:
            proto = doc['runs'][0]['protocol']
            names |= {'coverage-%s-%s.png' % (proto, c['platform'])
                      for c in doc['coverage']['cells']}
    if runs:
        latest = sorted(runs)[-1][2]
        threads = {}
        for b in latest['benchmarks']:
            fam = b['run_name'].split('/')[0]
            threads.setdefault(fam, set()).add(b['threads'])
        names |= {'scaling-%s.png' % f for f, t in threads.items() if len(t) > 1}
    return names


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--dashboard', required=True)
    p.add_argument('--fixtures', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--stress', help='anonx-stress, for the coverage model (--list --json)')
    a = p.parse_args()
    shutil.rmtree(a.out, ignore_errors=True)
    r = subprocess.run(['/usr/bin/python3', a.dashboard, '--results', a.fixtures, '--out', a.out]
                       + (['--stress', a.stress] if a.stress else []))
    if r.returncode != 0:
        print('FAIL: dashboard.py exited with %d' % r.returncode)
        return 1
    index = os.path.join(a.out, 'index.html')
    if not os.path.isfile(index):
        print('FAIL: no %s' % index)
        return 1
    parser = Imgs()
    with open(index) as f:
        text = f.read()
    parser.feed(text)
    bad = 0
    for src in parser.srcs:
        if not src or '://' in src or src.startswith('/') or '..' in src.split('/'):
            print('FAIL: <img src=%r> is not a relative path inside the dashboard' % src)
            bad += 1
        elif not os.path.isfile(os.path.join(a.out, src)):
            print('FAIL: <img src=%r> does not exist' % src)
            bad += 1
    for name in sorted(expected_plots(a.fixtures, a.stress)):
        if name not in parser.srcs:
            print('FAIL: plot %s is not linked from index.html' % name)
            bad += 1
        if not os.path.isfile(os.path.join(a.out, name)):
            print('FAIL: plot %s is missing' % name)
            bad += 1
    if a.stress and 'Why the infeasible cells are infeasible' not in text:
        print('FAIL: the coverage section has no table of infeasibility reasons')
        bad += 1
    for needle in ('http://', 'https://', '<script src'):
        if needle in text:
            print('FAIL: index.html references %r (the dashboard must be offline)' % needle)
            bad += 1
    print('%d images checked, %d problems' % (len(parser.srcs), bad))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
