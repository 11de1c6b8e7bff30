#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""check_mutate_sites.py: tools/mutate.py finds its sites in core/ (issue 11).

  check_mutate_sites.py SOURCE_ROOT

At least 200 sites, every id unique, every diff touching the file its id
names, and known sites present: the smp_mb before (A2) of
page_try_share_anon_rmap (in its helper share_check_pinned) and the
smp_mb__after_atomic after (A3). --since (issue 28): a diff's changed
lines select exactly the sites on them, and an unknown revision is one
line and exit 2. Builds nothing; exit 77 (skip) without Debian's
python3-clang-14.
"""
import collections
import os
import subprocess
import sys

try:
    import clang.cindex  # noqa: F401 (only whether it is there)
except ImportError:
    print('SKIP: no clang.cindex for %s (python3-clang-14)' % sys.executable)
    sys.exit(77)

sys.path.insert(0, os.path.join(sys.argv[1], 'tools'))
import mutate  # noqa: E402

KNOWN = [('core/rmap.h', 'share_check_pinned', 'delete-barrier', 'smp_mb();'),
         ('core/rmap.h', 'share_clear_flag', 'delete-barrier', 'smp_mb__after_atomic();')]


DIFF = """diff --git a/core/x.h b/core/x.h
--- a/core/x.h
+++ b/core/x.h
@@ -10,2 +10,3 @@ a
@@ -40 +41 @@ b
@@ -60,2 +61,0 @@ c
--- a/core/gone.h
+++ /dev/null
@@ -1,5 +0,0 @@
"""


def check_since(sites):
    """--since: the diff parser, the selection by line, the bad revision."""
    fails = []
    want = {'core/x.h': {10, 11, 12, 41, 61, 62}}
    got = mutate.changed_lines(DIFF)
    if got != want:
        fails.append('changed_lines: %s, want %s' % (sorted(got.get('core/x.h', [])),
                                                     sorted(want['core/x.h'])))
    root = sys.argv[1]
    known = next((s for s in sites if s.file == 'core/rmap.h' and s.function ==
                  'share_check_pinned' and s.operator == 'delete-barrier'), None)
    if known is None:
        return fails + ['--since: no known site to select']
    with open(os.path.join(root, known.file), 'rb') as f:
        text = f.read()
    line = mutate.site_lines(known, text)[0]
    picked = mutate.changed_sites(sites, {known.file: {line}}, root)
    if known not in picked:
        fails.append('--since: a change of %s:%d does not select %s' % (known.file, line,
                                                                      known.id))
    for s in picked:
        first, last = mutate.site_lines(s, text) if s.file == known.file else (0, -1)
        if s.file != known.file or not first <= line <= last:
            fails.append('--since: %s selected by a change of %s:%d' % (s.id, known.file, line))
    if mutate.changed_sites(sites, {}, root):
        fails.append('--since: no change selects sites')
    r = subprocess.run(['/usr/bin/python3', os.path.join(root, 'tools', 'mutate.py'), '--list',
                        '--since', 'no-such-revision'], capture_output=True, text=True)
    err = r.stderr.strip().splitlines()
    if r.returncode != 2 or len(err) != 1 or 'no-such-revision' not in err[0] or r.stdout:
        fails.append('--since no-such-revision: exit %d, stderr %r, want exit 2 and one line '
                     'naming it' % (r.returncode, r.stderr))
    return fails


def main():
    sites = mutate.find_sites(sys.argv[1])
    fails = []
    if len(sites) < 200:
        fails.append('%d sites, fewer than 200' % len(sites))
    repeated = [i for i, n in collections.Counter(s.id for s in sites).items() if n > 1]
    if repeated:
        fails.append('ids not unique: %s' % ', '.join(repeated[:5]))
    for s in sites:
        if not s.diff.startswith('--- a/%s\n+++ b/%s\n' % (s.file, s.file)):
            fails.append('%s: no diff of %s' % (s.id, s.file))
    for file, function, operator, removed in KNOWN:
        if not any(s.file == file and s.function == function and s.operator == operator and
                   ('-' + removed) in s.diff.replace(' ', '') for s in sites):
            fails.append('no %s site of %s in %s %s' % (operator, removed, file, function))
    fails += check_since(sites)
    twins, stale = mutate.twins_of(sites)
    fails += ['named twin not found: ' + t for t in stale]
    for f in fails:
        print('FAIL: ' + f)
    print('%d sites, twins of %d named mutants, %s' % (len(sites), len(twins),
                                                        'FAILED' if fails else 'ok'))
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
