#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""mutate.py: mutation sites in core/ from libclang's syntax tree, and their verdicts.

  mutate.py --list [--filter F] [--since REV] [--shard I/N] [--json]
  mutate.py --run [--filter F] [--since REV] [--shard I/N] [--budget S] [--out REPORT]
            [--resume REPORT]
  mutate.py --since REV [...]   (--run over the sites changed since REV)
  mutate.py --merge SHARD.json... --out REPORT
  mutate.py --summary REPORT
  mutate.py --named [--from REPORT]

The command line. The work is done by the modules beside it:
  mutate_sites.py   the sites of core/ (libclang), their ids and diffs, --filter, --shard
  mutate_run.py     the schemata and rebuild engines, the checks, the baseline (--run)
  mutate_named.py   the catalogue's named mutants against their twins (--named)
  mutate_report.py  the anonx-mutate/1 report, the equivalents, --merge, --summary
Their names stay importable from here: `import mutate` then mutate.find_sites,
mutate.twins_of, mutate.merge (tests/check_mutate_sites.py,
tools/merge_reports.py).
"""
import argparse
import dataclasses
import json
import re
import sys

from mutate_named import NAMED_TWINS, NO_TWIN, named_run, twins_of
from mutate_report import (EQUIVALENT_FILE, SCHEMA, VERDICTS, campaign_summary, equivalents,
                           merge, summary)
from mutate_run import STAGES, Worker, run
from mutate_sites import (TOP, Site, UnknownRevision, changed_lines, changed_sites, find_sites,
                          resolve_revision, select, since, site_lines)

# What callers reach through `import mutate`.
__all__ = ['EQUIVALENT_FILE', 'NAMED_TWINS', 'NO_TWIN', 'SCHEMA', 'STAGES', 'TOP', 'VERDICTS',
           'Site', 'Worker', 'campaign_summary', 'equivalents', 'find_sites', 'main', 'merge',
           'named_run', 'run', 'select', 'since', 'changed_lines', 'changed_sites', 'site_lines',
           'summary', 'twins_of']


def parse_shard(text):
    m = re.fullmatch(r'(\d+)/(\d+)', text)
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise argparse.ArgumentTypeError("'%s' is not I/N with 1 <= I <= N" % text)
    return int(m.group(1)), int(m.group(2))


def parse_checks(text):
    names = text.split(',')
    bad = [n for n in names if n not in STAGES]
    if bad:
        raise argparse.ArgumentTypeError("'%s' is not a check (%s)" % (bad[0], ','.join(STAGES)))
    return names


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument('--list', action='store_true', help='print the sites (id, operator)')
    mode.add_argument('--run', action='store_true', help='build and check the selected mutants')
    mode.add_argument('--merge', nargs='+', metavar='REPORT', help='merge shard reports into --out')
    mode.add_argument('--summary', metavar='REPORT',
                      help="a report's verdicts, kill rate, run times, per-file table, survivors")
    mode.add_argument('--named', action='store_true',
                      help="the catalogue's named mutants against their generated twins")
    ap.add_argument('--filter', action='append', default=[],
                    metavar='FILE|FUNCTION|OPERATOR|ID',
                    help='keep the sites of this file (core/rmap.h or rmap.h), function, '
                         'operator or id; repeatable (any one matches)')
    ap.add_argument('--since', metavar='REV',
                    help='keep the sites on lines of core/ changed since git revision REV '
                         '(the working tree against REV: a patch series under review)')
    ap.add_argument('--shard', type=parse_shard, metavar='I/N',
                    help='the I-th of N deterministic slices of the ids (1-based)')
    ap.add_argument('--json', action='store_true', help='--list: one JSON array with the diffs')
    ap.add_argument('--budget', type=float, default=120.0, metavar='S',
                    help='seconds of checks per mutant, build excluded (default 120)')
    ap.add_argument('--out', help='the report (default results/mutate-<date>-<sha>.json)')
    ap.add_argument('--resume', metavar='REPORT', help='skip the ids already in REPORT, append')
    ap.add_argument('--worker', type=int, default=0, metavar='N',
                    help='use build-mutate/wN (one per concurrent run)')
    ap.add_argument('--stress-duration', type=float, default=0.5, metavar='S',
                    help='seconds per preset scenario (default 0.5)')
    ap.add_argument('--coverage-duration', type=float, default=0.01, metavar='S',
                    help='seconds per coverage cell (default 0.01)')
    ap.add_argument('--engine', choices=('schemata', 'rebuild'), default='schemata',
                    help='schemata: one build with every selected site as a branch on '
                         'ANONX_SCHEMATA (default); rebuild: patch and rebuild per mutant')
    ap.add_argument('--workdir', metavar='DIR',
                    help='the tree to build in (default build-mutate/schemata or /wN)')
    ap.add_argument('--checks', type=parse_checks, metavar='NAME[,NAME]',
                    help='run only these checks (default all: %s)' % ','.join(STAGES))
    ap.add_argument('--jobs', type=int, default=2, metavar='N',
                    help='build jobs (default 2)')
    ap.add_argument('--from', dest='from_report', action='append', metavar='REPORT',
                    help='--named: take the twins\' verdicts from this campaign report')
    ap.add_argument('--no-baseline', action='store_true',
                    help='do not check the unmutated tree first')
    # `--since REV` alone runs the changed sites (./anonx mutate --since HEAD~3).
    modes = ('--list', '--run', '--merge', '--summary', '--named')
    if any(a == '--since' or a.startswith('--since=') for a in argv) and \
            not any(a in modes for a in argv):
        argv = ['--run'] + list(argv)
    args = ap.parse_args(argv)
    if args.summary:
        campaign_summary(args.summary)
        return 0
    if args.merge:
        if not args.out:
            ap.error('--merge needs --out')
        merge(args.merge, args.out)
        return 0
    if args.since and (args.named or args.merge or args.summary):
        ap.error('--since selects sites for --list and --run only')
    if args.since:  # before any work
        try:
            resolve_revision(args.since)
        except UnknownRevision:
            print("mutate.py: --since: unknown revision '%s'" % args.since, file=sys.stderr)
            return 2
    every = find_sites()
    if args.named:
        return named_run(every, args, ['mutate.py'] + argv)
    sites = every
    if args.since:
        sites = since(every, args.since)
        print('mutate.py: --since %s: %d of %d sites on changed lines of core/'
              % (args.since, len(sites), len(every)), file=sys.stderr)
    sites = select(sites, args.filter, args.shard)
    if args.run and args.since and not sites:
        print('mutate.py: no site of core/ changed since %s: nothing to run' % args.since,
              file=sys.stderr)
        return 0
    if args.list:
        if args.json:
            json.dump([dataclasses.asdict(s) for s in sites], sys.stdout, indent=1)
            print()
        else:
            for s in sites:
                print('%-72s %s' % (s.id, s.operator))
        return 0
    run(every, sites, args, ['mutate.py'] + argv)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
