#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""check_merge_reports.py: tools/merge_reports.py merges the shards of one
run and refuses anything else (issue 28).

  check_merge_reports.py SOURCE_ROOT

Synthetic reports of both schemas in a temporary directory: two shards of
one run merge (every id once, every cell once); a shard of another commit,
or of another selection (a --filter, a --protocol), is refused with one
line that names the file, exit 2, and the output (one written before)
left as it was. Builds nothing; about a second.
"""
import json
import os
import subprocess
import sys
import tempfile

MERGE = os.path.join(sys.argv[1], 'tools', 'merge_reports.py')


def mutate_report(sha, shard, filters, ids):
    argv = ['mutate.py', '--run', '--shard', '%d/2' % shard, '--out', 'm%d.json' % shard,
            '--workdir', '/tmp/w%d' % shard] + [x for f in filters for x in ('--filter', f)]
    return {'schema': 'anonx-mutate/1', 'context': {'git_sha': sha, 'argv': argv},
            'mutants': [{'id': i, 'verdict': 'survived', 'detail': ''} for i in ids]}


def stress_report(sha, shard, protocol, cells):
    argv = ('anonx-stress --shard %d/2 --json s%d.json --coverage --protocol %s --quiet'
            % (shard, shard, protocol))
    return {'schema': 'anonx-stress/1', 'context': {'git_sha': sha, 'argv': argv},
            'runs': [], 'kill_matrix': [],
            'coverage': {'feasible': 4, 'cells_total': 4, 'run': len(cells),
                         'reached': len(cells), 'percent': 100,
                         'cells': [{'cell': c, 'platform': 'x86', 'reached': True,
                                    'violations': 0} for c in cells]}}


def main():
    fails = []
    with tempfile.TemporaryDirectory() as d:
        def write(name, doc):
            path = os.path.join(d, name)
            with open(path, 'w') as f:
                json.dump(doc, f)
            return path

        def merge(inputs, out):
            r = subprocess.run([sys.executable, MERGE] + inputs + ['-o', out],
                               capture_output=True, text=True)
            return r.returncode, r.stderr.strip().splitlines()

        m1 = write('m1.json', mutate_report('aaaaaaa', 1, ['gup.h'], ['a', 'b']))
        m2 = write('m2.json', mutate_report('aaaaaaa', 2, ['gup.h'], ['c']))
        out = os.path.join(d, 'merged.json')
        rc, err = merge([m1, m2], out)
        ids = [m['id'] for m in json.load(open(out))['mutants']] if rc == 0 else []
        if rc != 0 or ids != ['a', 'b', 'c']:
            fails.append('two shards of one campaign: exit %d, ids %s, %s' % (rc, ids, err))
        s1 = write('s1.json', stress_report('bbbbbbb', 1, 'v6.2', ['x/fork/pin', 'y/fork/pin']))
        s2 = write('s2.json', stress_report('bbbbbbb', 2, 'v6.2', ['z/fork/pin']))
        sout = os.path.join(d, 'smerged.json')
        rc, err = merge([s1, s2], sout)
        cov = json.load(open(sout))['coverage'] if rc == 0 else {}
        if rc != 0 or cov.get('run') != 3:
            fails.append('two shards of one coverage run: exit %d, %s cells, %s' % (
                rc, cov.get('run'), err))

        bad = [
            ('a campaign shard of another commit',
             [m1, write('m3.json', mutate_report('ccccccc', 2, ['gup.h'], ['c']))], 'm3.json'),
            ('a campaign shard of another --filter',
             [m1, write('m4.json', mutate_report('aaaaaaa', 2, ['rmap.h'], ['c']))], 'm4.json'),
            ('a coverage shard of another commit',
             [s1, write('s3.json', stress_report('ddddddd', 2, 'v6.2', ['z/fork/pin']))],
             's3.json'),
            ('a coverage shard of another --protocol',
             [s1, write('s4.json', stress_report('bbbbbbb', 2, 'v6.1', ['z/fork/pin']))],
             's4.json'),
            ('a campaign and a coverage shard', [m1, s2], 's2.json'),
        ]
        for what, inputs, named in bad:
            with open(out, 'rb') as f:
                before = f.read()
            rc, err = merge(inputs, out)
            with open(out, 'rb') as f:
                after = f.read()
            if rc != 2 or len(err) != 1 or named not in err[0]:
                fails.append('%s: exit %d, stderr %s (want exit 2 and one line naming %s)' % (
                    what, rc, err, named))
            if after != before:
                fails.append('%s: the output was overwritten' % what)
            if any(n.startswith('merged.json.tmp') for n in os.listdir(d)):
                fails.append('%s: a temporary file was left' % what)
    for f in fails:
        print('FAIL: ' + f)
    print('merge_reports: 2 merges, %d refusals: %s' % (len(bad), 'FAILED' if fails else 'ok'))
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
