#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""barrier_sites.py: the barrier accounting of core/ (issue #13).

  tools/barrier_sites.py [--check build/check/anonx-check] [--iterations N]
                         [--killmatrix results/stress-...-killmatrix.json] [--out FILE]

Every SMP barrier call and every explicit std::memory_order in core/ is a
site (file:line). For each site, weakened in turn (a barrier removed, an
order one step weaker: seq_cst -> acq_rel/acquire/release, acq_rel ->
acquire, acquire/release/consume -> relaxed), anonx-check searches every
pair that fits it (v6.2, --scenario all --platform x86,rcu, random search,
--iterations schedules per cell) and records the first forbidden outcome:
killed under Relacy (pair, platform, schedules to detection), or survived.
A survivor is searched again on v5.19 with --platform x86, the SB pairs,
where the flush IPI (the IRQ-off section counters) is the synchronisation.
Relaxed orders have nothing weaker: they are listed with that argument.
Sites no pair reaches are coverage gaps of the Relacy back end.

The x86 real-thread column: each site weakened in the real-thread harness on
x86 hardware, from one or more reports of tools/mutate.py's schemata engine
(--x86 REPORT, repeatable; `mutate.py --run --filter delete-barrier --filter
weaken-order --checks stress-x86,coverage`, and the same with `--checks
stress-rcu`): the barrier deleted or the order one step weaker (every
alternative), built into anonx-stress, and the checks of that report run
against it (the presets on platform x86, where the flush waits for GUP-fast,
or on platform rcu, where it does not; the coverage cells): killed (the
check, the invariant and the wall time to detection) or survived. A site the
reports lack falls back to the catalogue mutant that removes exactly its
barrier (guarded by `!mutant_is(mutant::X)`), from the latest stress kill
matrix (--killmatrix); else "not measured".

Writes results/barriers-<date>-<sha>.json (temporary file, then renamed).
"""
import argparse
import datetime
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

BARRIER = re.compile(r'\b(smp_mb__after_atomic|smp_mb__before_atomic|smp_mb|smp_rmb|smp_wmb)\(\)')
ORDER = re.compile(r'std::memory_order_(relaxed|consume|acquire|release|acq_rel|seq_cst)\b')
MUTANT_GUARD = re.compile(r'!\s*env\.proto\.mutant_is\(mutant::(\w+)\)')
PAIRS = re.compile(r'pairs with (.*)')
FUNC = re.compile(r'^(?:template <[^>]*>\s*)?(?:ANONX_\w+\s+)?[\w:<>,\s\*&]+?\b(\w+)\s*\([^;]*$')


def code_part(line):
    k = line.find('//')
    return line if k < 0 else line[:k]


def enclosing_function(lines, i):
    """The function a line is in: the nearest line above it, at file or
    class-member indentation, that opens a declaration with a call-like
    head."""
    for j in range(i, -1, -1):
        line = code_part(lines[j])
        head = line.strip()
        indent = len(line) - len(line.lstrip())
        if indent > 2 or '(' not in head:
            continue
        if head.startswith(('#', 'template', 'return', 'if', 'for', 'while', '}', 'case',
                            'static_assert', 'X(')):
            continue
        before = head.split('(')[0]
        if any(t in before for t in ('.', '->', '=', '!', '"')) or head.endswith(';') or \
                len(before.split()) < 2:
            continue
        m = re.search(r'(~?\w+)\s*$', before)
        if m and m.group(1) not in ('defined', 'alignas', 'decltype'):
            return m.group(1)
    return '?'


def pairs_with(lines, i):
    for j in range(i, max(-1, i - 4), -1):
        m = PAIRS.search(lines[j])
        if m:
            return m.group(1).strip().rstrip('.')
    return ''


def mutant_guard(lines, i):
    for j in range(i, max(-1, i - 3), -1):
        m = MUTANT_GUARD.search(lines[j])
        if m:
            return m.group(1)
    return None


def build_branch(lines, i):
    """'tsan' or 'non-x86' when line i is compiled only in the ThreadSanitizer
    build or off x86 (an #if ANONX_TSAN branch, or the #else after an #elif
    defined(__x86_64__)); else None."""
    stack = []  # per open #if: the condition of the branch we are in
    for line in lines[:i]:
        t = line.strip()
        if t.startswith('#if'):
            stack.append(t)
        elif t.startswith('#elif') and stack:
            stack[-1] = t
        elif t.startswith('#else') and stack:
            stack[-1] = '#else after ' + stack[-1]
        elif t.startswith('#endif') and stack:
            stack.pop()
    for cond in stack:
        if cond.startswith('#if') and 'ANONX_TSAN' in cond and '!' not in cond:
            return 'tsan'
        if cond.startswith('#else after') and '__x86_64__' in cond:
            return 'non-x86'
    return None


def enumerate_sites(core):
    """Every barrier call and explicit order of core/*.h. A site of
    core/barriers.h (the barriers' own definitions, what smp_rmb() and the
    rest issue on real threads) is marked `definition`; one compiled only
    under TSan or off x86 is marked `build_only`."""
    sites = []
    for path in sorted(glob.glob(os.path.join(core, '*.h'))):
        name = 'core/' + os.path.basename(path)
        with open(path) as f:
            lines = f.read().split('\n')
        for i, line in enumerate(lines):
            code = code_part(line)
            found = [{'kind': m.group(1), 'mutant': mutant_guard(lines, i)}
                     for m in BARRIER.finditer(code)]
            found += [{'kind': 'memory_order_' + m.group(1), 'mutant': None}
                      for m in ORDER.finditer(code)]
            for site in found:
                site.update({'site': '%s:%d' % (name, i + 1), 'file': name, 'line': i + 1,
                             'function': enclosing_function(lines, i),
                             'pairs_with': pairs_with(lines, i)})
                if name == 'core/barriers.h':
                    site['definition'] = True
                branch = build_branch(lines, i)
                if branch:
                    site['build_only'] = branch
                sites.append(site)
    return sites


BRANCH_NOTE = {
    'tsan': 'compiled only in the ThreadSanitizer build, where a barrier becomes an order '
            'TSan can see (core/barriers.h): not in the x86 release build that the stress checks '
            'run, nor in anonx-check',
    'non-x86': 'compiled only off x86 (the portable fence where x86 uses a LOCK-prefixed '
               'instruction or a compiler barrier): not in this machine\'s builds',
}


def reached_sites(check):
    out = subprocess.run([check, '--sites', '--scenario', 'all', '--platform', 'x86,rcu'],
                         check=True, capture_output=True, text=True).stdout
    reached = {}
    for line in out.splitlines():
        loc, _, what = line.partition(' ')
        f, _, n = loc.rpartition(':')
        reached.setdefault(f, {})[int(n)] = what
    return reached


def reached_line(reached, site, source):
    """The line Relacy saw for this site: the call's own line, or the line
    a multi-line call starts on (up to 3 lines above, with no statement
    ending in between)."""
    lines = reached.get(site['file'], {})
    text = source[site['file']]
    for n in range(site['line'], site['line'] - 4, -1):
        if n < site['line'] and ';' in code_part(text[n - 1]):
            return None
        if n in lines:
            return n
    return None


# The pairs where 5.19's synchronisation is the flush IPI (x86: it waits for
# GUP-fast's IRQ-off section) and not the barriers: the SB pairs. (5.19's MP
# pair fails under the C++ model even with the IPI: it relied on TSO.)
V519_ARGS = ['--protocol', 'v5.19', '--platform', 'x86',
             '--scenario', 'sb_clear_flag_vs_pin,swapout_vs_gup_fast,swapout_vs_gup_fast_ro']
V62_ARGS = ['--protocol', 'v6.2', '--scenario', 'all', '--platform', 'x86,rcu']


def run_weakened(check, file, line, iterations, args=V62_ARGS):
    fd, path = tempfile.mkstemp(prefix='anonx-barrier-', suffix='.json')
    os.close(fd)
    try:
        rc = subprocess.run([check] + args + ['--iterations', str(iterations), '--weaken',
                                              '%s:%d' % (file, line), '--quiet', '--json', path],
                            capture_output=True, text=True).returncode
        with open(path) as f:
            runs = json.load(f)['runs']
    finally:
        os.unlink(path)
    if rc not in (0, 1):
        raise RuntimeError('anonx-check exited %d for %s:%d' % (rc, file, line))
    # A cell of a known finding that reproduced is not failed; one that did
    # not reproduce is failed without a verdict: neither is a kill.
    killed = [r for r in runs if r['failed'] and r.get('verdict')]
    total = sum(r['schedules'] for r in runs)
    secs = sum(r['seconds'] for r in runs)
    if not killed:
        return {'killed': False, 'schedules': total, 'seconds': round(secs, 3),
                'cells': len(runs)}
    best = min(killed, key=lambda r: r['schedules'])
    return {'killed': True, 'pair': best['scenario'], 'platform': best['platform'],
            'schedules_to_detection': best['schedules'], 'verdict': best.get('verdict', ''),
            'killed_cells': ['%s/%s' % (r['scenario'], r['platform']) for r in killed],
            'cells': len(runs)}


def x86_column(site, killmatrix, weakened=None):
    """The real-thread harness on x86 hardware: the site weakened by
    mutate.py's schemata engine, or else the catalogue mutant that removes
    exactly this barrier: its kill-matrix verdict on each platform (x86:
    the flush waits for GUP-fast; rcu: it does not)."""
    runs = (weakened or {}).get((site['file'], site['line']), [])
    runs = [m for m in runs if (m['operator'] == 'delete-barrier') ==
            (not site['kind'].startswith('memory_order_'))]
    if runs:
        killed = sorted((m for m in runs if m['verdict'].startswith('killed')),
                        key=lambda m: m['run_s'])
        col = {'measured': True, 'via': 'schemata', 'killed': bool(killed),
               'checks': sorted({m['checks'] for m in runs}),
               'mutants': [{'id': m['id'], 'checks': m['checks'],
                            'diff': m['diff'].splitlines()[-1] if m['diff'] else '',
                            'verdict': m['verdict'], 'detail': m['detail'],
                            'run_s': m['run_s']} for m in runs]}
        if killed:
            col['detail'] = killed[0]['detail']
            col['wall_s'] = killed[0]['run_s']
        return col
    m = site.get('mutant')
    if not m:
        return {'measured': False,
                'note': 'not measured: in no schemata report given (--x86) and guarded by no '
                        'catalogue mutant'}
    cells = [e for e in killmatrix if e.get('mutant') == m]
    if not cells:
        return {'measured': False, 'mutant': m, 'note': 'mutant %s not in the kill matrix' % m}
    col = {'measured': True, 'via_mutant': m, 'platforms': {}}
    for e in cells:
        col['platforms'][e.get('platform', 'x86')] = e.get('verdict')
    killed = [e for e in cells if e.get('verdict') == 'killed']
    col['killed'] = bool(killed)
    if killed:
        col['median_s'] = min(e['median_s'] for e in killed)
        col['killed_on'] = sorted({e.get('platform', 'x86') for e in killed})
    return col


# Why a site weakened in anonx-stress survives on x86 hardware. x86 keeps
# every order but store->load (TSO), and the C++ orders lower to the same
# instructions whatever their strength (loads and non-seq_cst stores: MOV;
# every RMW: LOCK-prefixed; acquire and release fences: nothing), so only a
# deleted full barrier between a store and a later load can show there, and
# a weakened order changes only what the compiler may move.
X86_FULL_BARRIER = {
    ('core/rmap.h', 'share_check_pinned'):
        'x86: (A1)\'s ptep_get_and_clear is an XCHG, itself a full barrier, between the PTE '
        'clear and the pin check (arm64\'s is xchg_relaxed: Relacy\'s column)',
    ('core/cpu.h', 'wait_for_sections'):
        'x86: every caller clears the PTE or PMD with an XCHG (a full barrier) just before '
        '(ptep_get_and_clear, pmdp_collapse_flush, free_pgtables)',
    ('core/cpu.h', 'local_irq_disable'):
        'x86 may hold the section-open store past GUP-fast\'s PMD and PTE loads (store->load): '
        'a real window, a store buffer\'s drain time, that the stress presets did not hit in '
        'their run; from 6.1 the flag path\'s barriers and (B4) back it up, on v5.19 the IPI '
        'needs it (Relacy\'s v5.19 search)',
}
X86_COMPILER_ONLY = ('x86: a compiler barrier only (TSO keeps load->load and store->store '
                     'order, and the RMW before smp_mb__after_atomic is LOCK-prefixed): '
                     'deleted, no instruction\'s order changes on the hardware')
X86_SAME_INSN = ('x86: the weakened order lowers to the same instruction (MOV for loads and '
                 'non-seq_cst stores, LOCK-prefixed for every RMW, nothing for acquire and '
                 'release fences): only the compiler\'s freedom changes, and the stress '
                 'checks did not show a move')


def x86_argument(site, col):
    """Why the x86 column survived, or None (killed, or not measured)."""
    if not col.get('measured') or col.get('killed'):
        return None
    if site['kind'].startswith('memory_order_'):
        return X86_SAME_INSN
    if site['kind'] == 'smp_mb':
        return X86_FULL_BARRIER.get((site['file'], site['function']),
                                    'x86: survived the stress checks; no argument recorded')
    return X86_COMPILER_ONLY


# Why a weakened site survives, where the reason is known: (file, function,
# kind) -> argument. Anything else that survives gets the generic one.
ARGUMENTS = {
    ('core/rmap.h', 'ptep_clear_flush_a1', 'memory_order_seq_cst'):
        'unneeded from 6.1: (A1) is ordered before (A2) by the smp_mb() of '
        'page_try_share_anon_rmap, which the pairs run (arm64 clears with xchg_relaxed)',
    ('core/page.h', 'page_ref_add_unless', 'memory_order_seq_cst'):
        'unneeded for the pin from 6.1: smp_mb__after_atomic() orders the pin before (B4); '
        'FOLL_GET (which relies on this order) is in no pair',
    ('core/page.h', 'page_ref_freeze', 'memory_order_seq_cst'):
        'the frozen count and a GUP-fast add_unless are RMWs of one word: coherence orders '
        'them; nothing else is ordered through it in the migrate pair',
    ('core/gup.h', 'gup_pte_range', 'memory_order_acquire'):
        'coverage gap: the address dependency of (B1) orders reads of a page published '
        'concurrently; every pair publishes its page in set-up',
    ('core/gup.h', 'lockless_pages_from_mm', 'memory_order_acquire'):
        'coverage gap: the PMD is published in set-up in every pair',
    ('core/memory.h', 'pte_table_of', 'memory_order_acquire'):
        'coverage gap: the PMD is published in set-up in every pair',
    ('core/memory.h', 'handle_mm_fault', 'memory_order_acquire'):
        'coverage gap: faults run in set-up and after(), never concurrently',
    ('core/memory.h', 'cpu_access', 'memory_order_acquire'):
        'coverage gap: CPU accesses run in set-up and after(), never concurrently',
    ('core/memory.h', '__pte_alloc', 'memory_order_release'):
        'coverage gap: page tables are allocated in set-up',
    ('core/mm.h', 'alloc', 'memory_order_release'):
        'coverage gap: page tables are allocated in set-up',
    ('core/mm.h', 'raw_read_seqcount', 'smp_rmb'):
        'subsumed in the model: the smp_mb of local_irq_disable (cpu.h, the IRQ-off section '
        'that an IPI waits for) follows it before any PTE read. On arm64 disabling IRQs '
        'orders no memory access, so in the kernel this rmb is what orders R(seq) before the '
        'walk: a limit of the model (core/README.md, What is modelled, and what is not: '
        'CPUs), not of the kernel',
    ('core/mm.h', 'read_seqcount_retry', 'smp_rmb'):
        'unneeded for the fork pairs from 6.1: smp_mb__after_atomic after the pin (gup.h) '
        'orders the pin and (B4) before R(seq), which is the SB pairing with fork; a '
        'write-protect that (B1) or (B4) sees makes GUP-fast back off on its own (the PTE '
        'comparison, or gup_must_unshare\'s flag test for a R/O pin)',
    ('core/mm.h', 'raw_write_seqcount_end', 'smp_wmb'):
        'coverage gap of the search: it orders fork\'s write-protect before the even count, '
        'for a GUP-fast that samples the count after fork; in the fork pairs GUP-fast\'s ~30 '
        'events end inside fork\'s ~100 (its copy of the PTE table) in nearly every random '
        'schedule, and a trial pair in which G waited for fork (a relaxed flag; not kept) '
        'found no stale PTE read either: Relacy bounds staleness (3 stores of history; after '
        'a yield, nothing older than what the thread had seen). LKMM needs it',
    ('core/fork.h', 'copy_present_pte', 'memory_order_seq_cst'):
        'unneeded: fork is ordered against GUP-fast by write_protect_seq, not by the '
        'write-protect itself (arm64\'s ptep_set_wrprotect is a cmpxchg_relaxed loop; '
        'x86\'s clear_bit is LOCK-prefixed)',
    ('core/rmap.h', 'page_published', 'smp_wmb'):
        'coverage gap: no pair publishes a new page (fault, COW) while GUP-fast walks',
    ('core/bitops.h', 'test_and_set_bit_lock', 'memory_order_acquire'):
        'the page lock is taken by one side only in every pair',
    ('core/bitops.h', 'clear_bit_unlock', 'memory_order_release'):
        'the page lock is taken by one side only in every pair',
    ('core/page.h', 'page_ref_sub_and_test', 'memory_order_acq_rel'):
        'coverage gap: no pair frees the page (the last reference is dropped in no thread)',
    ('core/page_alloc.h', 'put_refs', 'memory_order_acq_rel'):
        'coverage gap: no pair frees the page (the last reference is dropped in no thread)',
    ('core/ksm.h', 'ksm_new_stable_page', 'memory_order_release'):
        'coverage gap: the KSM page is made in set-up',
    ('core/ksm.h', 'replace_page', 'memory_order_seq_cst'):
        'the page is no longer exclusive when replace_page clears its PTE: no flag clearer '
        'relies on this order (ksm.h says so)',
}

# Sites of a file that no Relacy pair runs, with the reason.
FILE_ARGUMENTS = {
    'core/ptl.h':
        'not run under Relacy: the PT lock\'s word is core/ptl.h\'s std::atomic, not the back '
        'end\'s, so Relacy sees neither its accesses nor their order (the fibers give mutual '
        'exclusion exactly; the platform\'s lock ordering is the ANONX_LOCK_ACQUIRED hook: a '
        'full barrier on x86, nothing beyond acquire on rcu); in every pair one side alone '
        'takes a PT lock',
}

UNREACHED = ('not reached by any Relacy pair: a coverage gap of the back end (the path is '
             'not in a pair that fits it, see anonx-check --list)')
DEFINITION = ('the definition of a barrier on real threads (core/barriers.h): weakening it '
              'weakens every call site of that kind at once, which the x86 column measures; '
              'under Relacy the fence comes from the back end\'s hook for each call site '
              '(check/relacy_policy.h), and each call site is a row of its own, weakened '
              'alone')
RELAXED = 'relaxed: no weaker order; it orders nothing, so there is nothing to remove'


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--check', default='build/check/anonx-check')
    ap.add_argument('--core', default='core')
    ap.add_argument('--iterations', type=int, default=20000)
    ap.add_argument('--killmatrix', default='')
    ap.add_argument('--x86', action='append', default=[], metavar='MUTATE_REPORT',
                    help='the x86 column from this anonx-mutate/1 report (sites weakened in '
                         'anonx-stress by the schemata engine); repeatable')
    ap.add_argument('--out', default='')
    ap.add_argument('--reuse', default='',
                    help='take the Relacy results of an earlier barriers-*.json from the same '
                         'anonx-check binary (only the arguments and the x86 column are redone)')
    a = ap.parse_args(argv)

    sha = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True,
                         text=True).stdout.strip() or 'unknown'
    date = datetime.date.today().strftime('%Y%m%d')
    out = a.out or 'results/barriers-%s-%s.json' % (date, sha)
    killmatrix = []
    km_file = a.killmatrix or (sorted(glob.glob('results/stress-*-killmatrix.json')) or [''])[-1]
    if km_file:
        with open(km_file) as f:
            killmatrix = json.load(f).get('kill_matrix', [])

    weakened = {}
    for report in a.x86:
        with open(report) as f:
            doc = json.load(f)
        checks = ','.join(c.split(' ')[0] for c in doc['context'].get('checks', []))
        for m in doc['mutants']:
            if m['operator'] in ('delete-barrier', 'weaken-order'):
                weakened.setdefault((m['file'], m['line']), []).append(dict(m, checks=checks))
    sites = enumerate_sites(a.core)
    source = {}
    for s in sites:
        if s['file'] not in source:
            with open(os.path.join(a.core, os.path.basename(s['file']))) as f:
                source[s['file']] = f.read().split('\n')
    reached = reached_sites(a.check)
    rows = []
    cache = {}
    if a.reuse:
        with open(a.reuse) as f:
            for r in json.load(f)['sites']:
                x = dict(r.get('relacy', {}))
                if not x.pop('run', False):
                    continue
                line = x.pop('weakened_line')
                proto = x.get('protocol', '')
                if proto.startswith('v5.19'):  # a v6.2 survivor killed on v5.19
                    cache[(r['file'], line, 'v5.19')] = dict(x)
                    cache[(r['file'], line)] = {'killed': False}
                else:
                    cache[(r['file'], line)] = x
    for s in sites:
        row = dict(s)
        n = reached_line(reached, s, source)
        row['reached'] = n is not None
        row['x86_real_threads'] = x86_column(s, killmatrix, weakened)
        if s.get('build_only') and not row['x86_real_threads'].get('measured'):
            row['x86_real_threads'] = {'measured': False, 'note': BRANCH_NOTE[s['build_only']]}
        xa = x86_argument(s, row['x86_real_threads'])
        if xa:
            row['x86_real_threads']['argument'] = xa
        if s.get('definition'):
            row['relacy'] = {'run': False}
            row['argument'] = DEFINITION + (
                '' if row['x86_real_threads'].get('measured') else
                '; this line is not compiled on x86 real threads (the TSan or the non-x86 '
                'branch), so neither back end runs it')
        elif s['kind'] == 'memory_order_relaxed':
            row['relacy'] = {'run': False}
            row['argument'] = RELAXED
        elif n is None:
            row['relacy'] = {'run': False}
            row['argument'] = (BRANCH_NOTE[s['build_only']] if s.get('build_only') else
                               FILE_ARGUMENTS.get(s['file'], UNREACHED))
        else:
            key = (s['file'], n)
            if key not in cache:
                cache[key] = run_weakened(a.check, s['file'], n, a.iterations)
            r = cache[key]
            if not r['killed']:
                # Unneeded on v6.2: is it 5.19's IPI synchronisation?
                k519 = key + ('v5.19',)
                if k519 not in cache:
                    cache[k519] = run_weakened(a.check, s['file'], n, a.iterations, V519_ARGS)
                if cache[k519]['killed']:
                    r = dict(cache[k519], protocol='v5.19 (x86: the flush IPI)')
            row['relacy'] = dict(r, run=True, weakened_line=n)
            if not r['killed']:
                row['argument'] = ARGUMENTS.get((s['file'], s['function'], s['kind'])) or (
                    'survived %d schedules over %d cells weakened: unneeded for the pairs that '
                    'reach it (or a coverage gap of those pairs)' % (r['schedules'], r['cells']))
        killed = row['relacy'].get('killed') or row['x86_real_threads'].get('killed')
        row['verdict'] = 'killed' if killed else ('argued' if row.get('argument') else 'open')
        rows.append(row)
        print('%-24s %-26s %-24s %s' % (s['site'], s['kind'], s['function'], row['verdict']),
              flush=True)

    doc = {'schema': 'anonx-barriers/1',
           'context': {'git_sha': sha, 'date': datetime.datetime.now(
               datetime.timezone.utc).isoformat(timespec='seconds'),
               'check': a.check, 'iterations': a.iterations, 'killmatrix': km_file,
               'x86_report': a.x86,
               'search': 'random: ' + ' '.join(V62_ARGS) + '; survivors again with ' +
               ' '.join(V519_ARGS)},
           'summary': {'sites': len(rows),
                       'killed_relacy': sum(bool(r['relacy'].get('killed')) for r in rows),
                       'killed_x86': sum(bool(r['x86_real_threads'].get('killed'))
                                         for r in rows),
                       'argued': sum(r['verdict'] == 'argued' for r in rows),
                       'open': sum(r['verdict'] == 'open' for r in rows)},
           'sites': rows}
    tmp = out + '.tmp.%d' % os.getpid()
    with open(tmp, 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')
    os.rename(tmp, out)
    print('barrier_sites.py: wrote %s (%s)' % (out, doc['summary']))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
