# SPDX-License-Identifier: GPL-2.0-only
"""mutate_named.py: the catalogue's named mutants against their generated twins.

tools/mutate.py --named runs each named mutant of core/protocol.h through
the back ends' checks (--mutant) and each of its twins (generated sites that
make the same fault) through every check, or takes the twin's verdict from a
campaign report (--from), and reports whether the two agree
(anonx-mutate-named/1). twins_of() also serves tests/check_mutate_sites.py:
a pattern that matches no site is a stale table.
"""
import json
import os
import sys
import time

from mutate_report import record, write_report
from mutate_run import Worker, context, prepared
from mutate_sites import TOP

# A named mutant (core/protocol.h) and the generated sites that make the same
# fault, found by file, function, operator and a piece of the line the site
# removes; the note says where the twin is wider than the named mutant.
# Named mutants left out have no operator that makes their fault.
NAMED_TWINS = [
    ('b5_fork_ignores_pins', [('core/rmap.h', 'page_try_dup_anon_rmap', 'drop-return',
                               'return -EBUSY', -1)],
     'the -EBUSY of the exclusive branch (v5.19+); the named mutant answers "not pinned"'),
    ('b6_gup_fast_no_seqcount', [('core/gup.h', 'lockless_pages_from_mm', 'drop-recheck',
                                  'read_seqcount_retry', 0)], ''),
    ('b7_share_no_mb', [('core/rmap.h', 'share_check_pinned', 'delete-barrier', 'smp_mb()', 0)],
     'the barrier only; the named mutant also makes (A1) a plain store'),
    ('b7_gup_fast_no_recheck', [('core/gup.h', 'gup_pte_range', 'drop-recheck',
                                 'pmd_changed || pte_changed', 0)],
     'wider: drops the PMD re-check with the PTE one'),
    ('b7_pin_no_mb', [('core/gup.h', 'gup_pte_range', 'delete-barrier',
                       'smp_mb__after_atomic', 0)], ''),
    ('b8_no_wmb_rmb', [('core/gup.h', 'gup_must_unshare', 'delete-barrier', 'smp_rmb', 0),
                       ('core/rmap.h', 'share_clear_flag', 'delete-barrier',
                        'smp_mb__after_atomic', 0)],
     'one twin per side of the MP pair; the named mutant drops both'),
    ('b11_no_swp_exclusive', [('core/vmscan.h', None, 'negate-cond', 'b11_no_swp_exclusive', 0)],
     'wider: the negated condition also marks shared pages SWP_EXCLUSIVE'),
    ('b12_nonatomic_flag', [('core/bitops.h', 'set_bit', 'rmw-load-store', '', 0),
                            ('core/bitops.h', 'clear_bit', 'rmw-load-store', '', 0)],
     'wider: every set_bit/clear_bit of the model, not only PG_anon_exclusive'),
    ('ksm_merge_pinned', [('core/ksm.h', 'write_protect_page', 'drop-recheck',
                           'page_ref_count', 0)], ''),
    ('pt_free_no_ipi', [('core/memory.h', 'pte_free_synced', 'delete-irq',
                         'wait_for_sections', 0)], ''),
    ('thp_split_drops_flag', [('core/huge_memory.h', '__split_huge_pmd', 'delete-flag',
                               'SetPageAnonExclusive', 0)],
     'wider: the head page loses the flag too'),
]
NO_TWIN = {
    'b1_force_write_after_cow': 'a changed FOLL_FORCE rule, not a deletion or negation',
    'b2_force_write_dirty': 'a changed FOLL_FORCE rule (dirty instead of exclusive)',
    'b3_reuse_mapcount1': 'an added reuse rule (mapcount 1), not a deletion',
    'b4_no_exclusive_reuse': 'negating the reuse condition also reuses shared pages: '
                             'not the same fault',
    'b9_migrate_clear_early': 'a reordering of (A1) and (A3); no operator moves statements',
    'b10_recheck_pte_only': 'a 6.0 generation mutant; the campaign runs v6.2',
    'ro_pin_no_unshare': 'an added early return; no operator adds code',
    'v519_flush_no_wait': 'a 5.19 generation mutant (its flush is 5.19\'s); the campaign '
                          'runs v6.2',
}


def removed_lines(site):
    return [l[1:] for l in site.diff.splitlines() if l.startswith('-') and
            not l.startswith('---')]


def twins_of(sites):
    """{named: [site, ...]}, and the patterns that matched no site (a stale table)."""
    found, stale = {}, []
    for named, patterns, _ in NAMED_TWINS:
        for file, function, operator, piece, pick in patterns:
            hits = [s for s in sites if s.file == file and s.operator == operator and
                    (function is None or s.function == function) and
                    any(piece in l for l in removed_lines(s))]
            if hits:
                found.setdefault(named, []).append(hits[pick])
            else:
                stale.append('%s: %s %s %s %r' % (named, file, function, operator, piece))
    return found, stale


def detected(verdict):
    """Killed, or timed out: a mutant that makes a check loop is caught too
    (the check never ends), as mutation tools count a timeout."""
    return verdict.startswith('killed') or verdict == 'timeout'


def named_run(every, args, argv):
    """Each named mutant through the back ends' checks (--mutant), each twin
    through every check (or its verdict from --from), and whether they agree."""
    twins, stale = twins_of(every)
    if stale:
        sys.exit('mutate: named twins not found (update NAMED_TWINS): ' + '; '.join(stale))
    known = {}
    for path in args.from_report or []:
        with open(path) as f:
            known.update({m['id']: m for m in json.load(f)['mutants']})
    worker = Worker(args, [s for s in every if s.wrap])
    prepared(worker, args)
    rows = []
    for named, _, note in NAMED_TWINS:
        worker.prepare(None)
        worker.mutant = named
        t0 = time.monotonic()
        verdict, detail = worker.checks(t0 + args.budget)
        worker.mutant = None
        row = {'named': named, 'verdict': verdict, 'detail': detail,
               'run_s': round(time.monotonic() - t0, 2), 'note': note, 'twins': []}
        for site in twins[named]:
            if site.id in known:
                m = dict(known[site.id], source='campaign report')
            else:
                worker.prepare(site)
                t1 = time.monotonic()
                v, d = worker.checks(t1 + args.budget, site)
                worker.restore(site)
                m = record(site, v, d, 0, time.monotonic() - t1, worker.engine)
                m['source'] = 'run now'
            m['same_verdict'] = detected(m['verdict']) == detected(verdict)
            row['twins'].append(m)
        rows.append(row)
        for m in row['twins']:
            print('%-24s %-16s %-56s %-16s %s' % (named, verdict, m['id'], m['verdict'],
                                                  'same' if m['same_verdict'] else 'DIFFERENT'),
                  flush=True)
    report = {'schema': 'anonx-mutate-named/1', 'context': context(argv, args), 'named': rows,
              'no_twin': NO_TWIN}
    out = args.out or os.path.join(TOP, 'results', 'mutate-named-%s-%s.json' % (
        report['context']['date'][:10].replace('-', ''), report['context']['git_sha']))
    write_report(out, report)
    same = sum(m['same_verdict'] for r in rows for m in r['twins'])
    total = sum(len(r['twins']) for r in rows)
    print('named mutants with twins: %d; twins with the same verdict (detected or not): %d/%d; '
          'no twin: %d' % (len(rows), same, total, len(NO_TWIN)))
    print('report: ' + os.path.relpath(out, TOP))
    return 0 if same == total else 1
