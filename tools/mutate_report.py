# SPDX-License-Identifier: GPL-2.0-only
"""mutate_report.py: the anonx-mutate/1 report of tools/mutate.py.

A mutant's record, the report written whole after every mutant, the default
report's name, the mutants argued equivalent (tools/mutants-equivalent.txt),
the merge of shard reports (--merge, and tools/merge_reports.py) and the
printed summaries (--summary, and the table after --run).
"""
import json
import os
import sys

from mutate_sites import TOP

SCHEMA = 'anonx-mutate/1'

EQUIVALENT_FILE = os.path.join('tools', 'mutants-equivalent.txt')
VERDICTS = ('killed-by-tests', 'killed-by-stress', 'survived', 'timeout', 'build-failed',
            'equivalent')


def equivalents():
    """{id: argument} from tools/mutants-equivalent.txt (`ID  REASON`, # comments)."""
    path = os.path.join(TOP, EQUIVALENT_FILE)
    found = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith('#'):
                    mid, _, reason = line.partition(' ')
                    found[mid] = reason.strip()
    return found


def record(site, verdict, detail, build_s, run_s, engine):
    return {'id': site.id, 'file': site.file, 'function': site.function, 'line': site.line,
            'operator': site.operator, 'diff': site.diff, 'verdict': verdict, 'detail': detail,
            'build_s': round(build_s, 2), 'run_s': round(run_s, 2), 'engine': engine}


def write_report(path, report):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(report, f, indent=1)
        f.write('\n')
    os.replace(tmp, path)


def default_report(ctx):
    date = ctx['date'][:10].replace('-', '')
    return os.path.join(TOP, 'results', 'mutate-%s-%s.json' % (date, ctx['git_sha']))


def campaign_summary(path):
    """A report's verdicts, kill rate, throughput, per-file table and survivors."""
    with open(path) as f:
        report = json.load(f)
    ms = report['mutants']
    counts = {}
    for m in ms:
        counts[m['verdict']] = counts.get(m['verdict'], 0) + 1
    counted = [m for m in ms if m['verdict'] != 'equivalent']
    killed = sum(m['verdict'].startswith('killed') for m in counted)
    timeouts = sum(m['verdict'] == 'timeout' for m in counted)
    print('%s: %d mutants: %s' % (os.path.basename(path), len(ms), ', '.join(
        '%s %d' % kv for kv in sorted(counts.items()))))
    print('kill rate over the %d non-equivalent mutants: %.1f%% killed, %.1f%% detected '
          '(killed or timed out)' % (len(counted), 100.0 * killed / max(1, len(counted)),
                                     100.0 * (killed + timeouts) / max(1, len(counted))))
    runs = [m['run_s'] for m in ms if m['verdict'] != 'equivalent']
    builds = [b.get('build_s', 0) for b in report['context'].get('schemata', [])]
    if runs:
        print('run time per mutant: mean %.1f s, median %.1f s, max %.1f s; schemata builds '
              '%s s' % (sum(runs) / len(runs), sorted(runs)[len(runs) // 2], max(runs),
                        ', '.join('%.0f' % b for b in builds) or '-'))
    files = {}
    for m in counted:
        r = files.setdefault(m['file'], [0, 0, 0, 0])
        r[0] += 1
        r[1] += m['verdict'].startswith('killed')
        r[2] += m['verdict'] == 'timeout'
        r[3] += m['verdict'] == 'survived'
    print('%-20s %5s %6s %7s %8s %6s' % ('file', 'sites', 'killed', 'timeout', 'survived',
                                         'rate'))
    for f, (n, k, t, sv) in sorted(files.items()):
        print('%-20s %5d %6d %7d %8d %5.0f%%' % (f, n, k, t, sv, 100.0 * k / n))
    for m in ms:
        if m['verdict'] in ('survived', 'timeout', 'equivalent'):
            print('  %-9s %s' % (m['verdict'][:9], m['id']))


def summary(mutants):
    """Sites, killed, survived and kill rate per file and function (equivalents left out)."""
    rows = {}
    for m in mutants:
        if m['verdict'] == 'equivalent':
            continue
        row = rows.setdefault((m['file'], m['function']), [0, 0, 0])
        row[0] += 1
        row[1] += m['verdict'].startswith('killed')
        row[2] += m['verdict'] == 'survived'
    print('%-18s %-32s %5s %6s %8s %6s' % ('file', 'function', 'sites', 'killed', 'survived',
                                          'rate'))
    for (file, function), (n, killed, survived) in sorted(rows.items()):
        print('%-18s %-32s %5d %6d %8d %5.0f%%' % (file, function, n, killed, survived,
                                                    100.0 * killed / n))


def merge(paths, out):
    """Shard reports into one: the first report's context, every id once."""
    merged, seen = None, {}
    for path in paths:
        with open(path) as f:
            report = json.load(f)
        if report.get('schema') != SCHEMA:
            sys.exit('mutate: %s is not an %s report' % (path, SCHEMA))
        if merged is None:
            merged = {'schema': SCHEMA, 'context': dict(report['context'], shards=[]),
                      'mutants': []}
        merged['context']['shards'].append(os.path.basename(path))
        for m in report['mutants']:
            if m['id'] in seen:
                if seen[m['id']]['verdict'] != m['verdict']:
                    print('mutate: %s: %s in one shard, %s in another; keeping the first' % (
                        m['id'], seen[m['id']]['verdict'], m['verdict']), file=sys.stderr)
                continue
            seen[m['id']] = m
            merged['mutants'].append(m)
    # An id argued equivalent since it ran gets that verdict; what the run
    # found stays beside it.
    argued = equivalents()
    for m in merged['mutants']:
        if m['id'] in argued and m['verdict'] != 'equivalent':
            m['run_verdict'], m['run_detail'] = m['verdict'], m['detail']
            m['verdict'], m['detail'] = 'equivalent', argued[m['id']]
    merged['mutants'].sort(key=lambda m: m['id'])
    write_report(out, merged)
