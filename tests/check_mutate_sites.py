#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""check_mutate_sites.py: tools/mutate.py finds its sites in core/ (issue 11).

  check_mutate_sites.py SOURCE_ROOT

At least 200 sites, every id unique, every diff touching the file its id
names, and known sites present: the smp_mb before (A2) of
page_try_share_anon_rmap (in its helper share_check_pinned) and the
smp_mb__after_atomic after (A3). Builds nothing; exit 77 (skip) without
Debian's python3-clang-14.
"""
import collections
import os
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
    twins, stale = mutate.twins_of(sites)
    fails += ['named twin not found: ' + t for t in stale]
    for f in fails:
        print('FAIL: ' + f)
    print('%d sites, twins of %d named mutants, %s' % (len(sites), len(twins),
                                                        'FAILED' if fails else 'ok'))
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
