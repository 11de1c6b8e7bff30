# SPDX-License-Identifier: GPL-2.0-only
"""dashboard_data.py: the dashboard's data, read from results/*.json.

Which file is which (bench-*, stress-*, check-*, barriers-*, mutate-*), the
runs sorted by date, each benchmark family's median real time by thread
count (tools/bench.py's medians), the ratio gates of each run, the latest
kill-matrix cell by CPU count, the stress throughput rows, and the time
format the plots and tables share.
"""
import glob
import json
import os
import re
import statistics
import sys

import bench  # tools/bench.py: the medians and the gate definitions

STRESS_SCHEMA = 'anonx-stress/1'
BARRIERS_SCHEMA = 'anonx-barriers/1'
CHECK_SCHEMAS = ('anonx-check/1', 'anonx-check-kill-matrix/1')


def warn(msg):
    print('dashboard.py: warning: %s' % msg, file=sys.stderr)


def json_files(results):
    """(file name, JSON object) for every results/*.json that parses to an
    object; the others are skipped with a warning."""
    for path in sorted(glob.glob(os.path.join(results, '*.json'))):
        base = os.path.basename(path)
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            warn('skipping %s: %s' % (base, e))
            continue
        if not isinstance(doc, dict):
            warn('skipping %s: not a JSON object' % base)
            continue
        yield base, doc


def load_extra(results):
    """The weak-memory back end's files: barriers-*.json (the barrier
    accounting) and check-*.json (anonx-check runs and kill matrices)."""
    barriers, checks = [], []
    for base, doc in json_files(results):
        if not base.startswith(('barriers-', 'check-', 'mutate-')):
            continue
        if base.startswith('mutate-'):
            continue  # load_mutate
        if doc.get('schema') == BARRIERS_SCHEMA:
            barriers.append((base, doc))
        elif doc.get('schema') in CHECK_SCHEMAS:
            checks.append((base, doc))
    return barriers, checks


def load_mutate(results):
    """Mutation campaigns (anonx-mutate/1) and named-twin reports, oldest first."""
    campaigns, named = [], []
    for base, doc in json_files(results):
        if not base.startswith('mutate-'):
            continue
        if base.startswith('mutate-barriers-'):
            continue  # the barrier table's x86 column (barriers-*.json), not a campaign
        if doc.get('schema') == 'anonx-mutate/1' and 'sample' not in base:
            campaigns.append((base, doc))
        elif doc.get('schema') == 'anonx-mutate-named/1':
            named.append((base, doc))
    key = lambda r: (str(r[1].get('context', {}).get('date', '')), r[0])  # noqa: E731
    return sorted(campaigns, key=key), sorted(named, key=key)


def load_runs(results):
    benches, stresses = [], []
    for base, doc in json_files(results):
        if base.startswith(('barriers-', 'check-', 'mutate-')):
            continue  # load_extra, load_mutate
        if base.startswith('bench-') and isinstance(doc.get('benchmarks'), list):
            benches.append((base, doc))
        elif base.startswith('stress-') and doc.get('schema') == STRESS_SCHEMA:
            stresses.append((base, doc))
        else:
            warn('skipping %s: neither a bench-*.json nor a %s stress-*.json' %
                 (base, STRESS_SCHEMA))
    key = lambda r: (str(r[1].get('context', {}).get('date', '')), r[0])  # noqa: E731
    benches.sort(key=key)
    stresses.sort(key=key)
    return benches, stresses


def run_label(base, doc):
    ctx = doc.get('context', {})
    sha = str(ctx.get('git_short') or ctx.get('git_sha', '?'))[:9]
    date = str(ctx.get('date', ''))[:10]
    mode = ctx.get('anonx_mode', 'full')
    tag = '' if mode in ('full', None) else ' (%s)' % mode
    dirty = '+' if ctx.get('git_dirty') else ''
    return '%s%s %s%s' % (sha, dirty, date, tag)


def run_threads(name, default=1):
    """The thread count a benchmark's run name carries (threads:N), else
    `default`."""
    m = re.search(r'threads:(\d+)', name)
    return int(m.group(1)) if m else default


def families(doc):
    """{family: {threads: median real ns}} for every benchmark of the run.
    A family that times whole cells (BM_ScaleFree_*: a free-mode cell at
    threads:N, items its operations) gives ns per operation instead, from
    its items/s: its throughput is then the cell's, as for the others."""
    med = bench.median_real_ns(doc)
    for name, per_s in bench.median_items(doc).items():
        if name.startswith('BM_ScaleFree_') and per_s > 0:
            med[name] = 1e9 / per_s
    threads_of = {}
    for b in doc.get('benchmarks', []):
        name = b.get('run_name') or b.get('name', '')
        if 'threads' in b:
            threads_of[name] = int(b['threads'])
    out = {}
    for name, ns in med.items():
        fam = name.split('/')[0]
        t = run_threads(name, threads_of.get(name, 1))
        if ns > 0:
            out.setdefault(fam, {})[t] = ns
    return out


def family_counter(doc, counter):
    """{family: {threads: median of a user counter}} (the stress scaling
    benchmarks' wait_share), for the benchmarks that report it."""
    vals = {}
    for b in doc.get('benchmarks', []):
        if b.get('run_type') == 'aggregate' or counter not in b:
            continue
        name = b.get('run_name') or b.get('name', '')
        t = run_threads(name, int(b.get('threads', 1)))
        vals.setdefault(name.split('/')[0], {}).setdefault(t, []).append(float(b[counter]))
    return {f: {t: statistics.median(v) for t, v in ts.items()} for f, ts in vals.items()}


def gate_history(benches):
    """[(label, [gate results])] for every bench run."""
    return [(run_label(b, d), bench.compute_gates(d)) for b, d in benches]


def latest_kill_matrices(stresses):
    """[(cpus, {(mutant, scenario): entry})]: the most recent entry for each
    cell, one matrix per number of CPUs the run was allowed (context
    cpus_allowed), most CPUs first. A run pinned to one CPU answers another
    question (time-shared threads) than a run with a CPU per thread, so
    neither hides the other. Files older than cpus_allowed (None) were
    unpinned runs: they join the matrix with the most CPUs, where a newer
    entry for the same cell replaces theirs."""
    def allowed(doc):
        cpus = doc.get('context', {}).get('cpus_allowed')
        return cpus if isinstance(cpus, int) else None

    most = max((c for c in (allowed(d) for _, d in stresses) if c is not None), default=None)
    by_cpus = {}
    for base, doc in stresses:
        cpus = allowed(doc)
        cpus = most if cpus is None else cpus
        for e in doc.get('kill_matrix') or []:
            if not isinstance(e, dict) or 'mutant' not in e:
                continue
            cells = by_cpus.setdefault(cpus, {})
            mutant = str(e['mutant']) + ('@' + e['platform'] if e.get('platform') else '')
            cells[(mutant, str(e.get('scenario', '?')))] = dict(e, _file=base)
    return sorted(by_cpus.items(), key=lambda kv: -1 if kv[0] is None else -kv[0])


def fmt_s(v):
    if v is None:
        return '-'
    v = float(v)
    if v < 1e-3:
        return '%.0fus' % (v * 1e6)
    if v < 1:
        return '%.0fms' % (v * 1e3)
    return '%.1fs' % v


def is_killed(e):
    return str(e.get('verdict', '')).lower() in ('killed', 'detected', 'kill') and \
        e.get('median_s') is not None


def stress_rows(stresses):
    """Throughput rows of the latest stress report: the correct protocol only
    (runs with a mutant measure how fast a bug is found, not speed)."""
    if not stresses:
        return None, []
    base, doc = stresses[-1]
    rows = []
    for r in doc.get('runs') or []:
        if not isinstance(r, dict) or r.get('ops_per_s') is None:
            continue
        if str(r.get('mutant') or 'none').lower() not in ('none', ''):
            continue
        rows.append(r)
    return base, rows
