#!/usr/bin/python3
"""Build the anonx dashboard: an offline HTML page plus PNG plots.

  dashboard.py [--results DIR] [--out DIR]

Reads every JSON file in DIR (default results/):
  bench-*.json   Google Benchmark output from tools/bench.py
  stress-*.json  anonx-stress reports, schema "anonx-stress/1"
and writes OUT (default DIR/dashboard)/index.html with:
  - throughput vs threads of every contended benchmark of the latest bench
    run, against linear scaling (capped at the machine's CPU count);
  - the ratio gates of perf-anchors §C across the recorded runs, by commit;
  - the kill matrix (mutant x scenario, median time to detection);
  - stress throughput per scenario.
The page uses no network assets and links its images by relative path. The
whole directory is built beside OUT and renamed into place. Run with
/usr/bin/python3 (Debian's python3-matplotlib; the Agg backend, no display).
"""

import argparse
import datetime
import glob
import html
import json
import math
import os
import re
import shutil
import sys
import tempfile

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (tools/bench.py: the gate definitions)

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STRESS_SCHEMA = 'anonx-stress/1'
BARRIERS_SCHEMA = 'anonx-barriers/1'
CHECK_SCHEMAS = ('anonx-check/1', 'anonx-check-kill-matrix/1')
DPI = 80


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def warn(msg):
    print('dashboard.py: warning: %s' % msg, file=sys.stderr)


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


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


def mutation_section(results):
    """The latest campaign: kill rate, per file and function, the survivors
    with their diffs; the named mutants against their twins."""
    campaigns, named = load_mutate(results)
    parts = ['<h2>Mutation campaigns (tools/mutate.py)</h2>']
    if not campaigns:
        return parts + ['<p>No mutate-*.json campaign.</p>']
    for base, doc in campaigns[-2:]:
        ms = doc.get('mutants', [])
        counted = [m for m in ms if m.get('verdict') != 'equivalent']
        killed = sum(m.get('verdict', '').startswith('killed') for m in counted)
        parts.append('<h3>%s</h3>' % esc(base))
        verdicts = {}
        for m in ms:
            verdicts[m.get('verdict')] = verdicts.get(m.get('verdict'), 0) + 1
        parts.append('<p>%d mutants: %s. Kill rate over non-equivalent mutants: <b>%.1f%%</b> '
                     '(%d of %d). Checks: %s.</p>' % (
                         len(ms), ', '.join('%s %d' % kv for kv in sorted(verdicts.items())),
                         100.0 * killed / max(1, len(counted)), killed, len(counted),
                         esc(', '.join(doc.get('context', {}).get('checks', [])))))
        rows = {}
        for m in counted:
            r = rows.setdefault((m['file'], m['function']), [0, 0, 0])
            r[0] += 1
            r[1] += m['verdict'].startswith('killed')
            r[2] += m['verdict'] == 'survived'
        parts.append(table(['file', 'function', 'sites', 'killed', 'survived', 'kill rate'],
                           [[f, fn, n, k, sv, '%.0f%%' % (100.0 * k / n)]
                            for (f, fn), (n, k, sv) in sorted(rows.items())]))
        surv = [m for m in ms if m.get('verdict') in ('survived', 'timeout')]
        if surv:
            parts.append('<h4>Survivors and timeouts (%d)</h4>' % len(surv))
            parts.append(table(['id', 'verdict', 'diff'],
                               [[m['id'], m['verdict'],
                                 '<pre>%s</pre>' % esc('\n'.join(
                                     l for l in m.get('diff', '').splitlines()
                                     if l[:1] in '+-' and not l.startswith(('+++', '---'))))]
                                for m in surv], raw_col=2))
    if named:
        base, doc = named[-1]
        parts.append('<h3>Named mutants and their generated twins</h3><p>From %s.</p>' % esc(base))
        parts.append(table(['named mutant', 'verdict', 'twin', 'twin verdict', 'same', 'note'],
                           [[r['named'], r['verdict'], t['id'], t['verdict'],
                             'yes' if t.get('same_verdict') else 'NO', r.get('note', '')]
                            for r in doc.get('named', []) for t in r.get('twins', [])]))
    return parts


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


def families(doc):
    """{family: {threads: median real ns}} for every benchmark of the run."""
    med = bench.median_real_ns(doc)
    threads_of = {}
    for b in doc.get('benchmarks', []):
        name = b.get('run_name') or b.get('name', '')
        if 'threads' in b:
            threads_of[name] = int(b['threads'])
    out = {}
    for name, ns in med.items():
        fam = name.split('/')[0]
        t = threads_of.get(name)
        if t is None:
            m = re.search(r'threads:(\d+)', name)
            t = int(m.group(1)) if m else 1
        if ns > 0:
            out.setdefault(fam, {})[t] = ns
    return out


def plot_name(family):
    return 'scaling-%s.png' % re.sub(r'[^A-Za-z0-9_.-]', '_', family)


# ---------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------


def save(fig, out, name):
    fig.tight_layout()
    fig.savefig(os.path.join(out, name), dpi=DPI)
    plt.close(fig)
    return name


def plot_scaling(out, family, points, ncpu):
    ts = sorted(points)
    thr = [1e3 / points[t] for t in ts]  # Mops/s: 1e9 / ns / 1e6
    fig, ax = plt.subplots(figsize=(4.4, 3.2))
    ax.plot(ts, thr, 'o-', color='tab:blue', label='measured (median)')
    if 1 in points:
        base = 1e3 / points[1]
        ideal = [base * min(t, ncpu) for t in ts]
        ax.plot(ts, ideal, '--', color='grey', label='linear (to %d CPUs)' % ncpu)
    ax.set_xscale('log', base=2)
    ax.set_xticks(ts)
    ax.set_xticklabels([str(t) for t in ts])
    ax.set_xlabel('threads')
    ax.set_ylabel('aggregate Mops/s')
    ax.set_ylim(bottom=0)
    ax.set_title(family, fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return save(fig, out, plot_name(family))


def gate_history(benches):
    """[(label, [gate results])] for every bench run."""
    return [(run_label(b, d), bench.compute_gates(d)) for b, d in benches]


def plot_gates(out, history):
    rows = []  # distinct gates in first-seen order, keyed by id + what
    for _, gates in history:
        for g in gates:
            k = (g['id'], g['what'])
            if k not in rows:
                rows.append(k)
    n = max(1, len(rows))
    fig, axes = plt.subplots(n, 1, figsize=(7.5, 1.7 * n + 0.6), squeeze=False)
    labels = [lab for lab, _ in history]
    xs = list(range(len(labels)))
    for ax, k in zip(axes[:, 0], rows):
        ys, colors, thr, op = [], [], None, ''
        for _, gates in history:
            g = next((g for g in gates if (g['id'], g['what']) == k), None)
            if g is None or g['ratio'] is None:
                ys.append(math.nan)
                colors.append('grey')
                continue
            ys.append(g['ratio'])
            thr, op = g['threshold'], g['op']
            colors.append({'PASS': 'tab:green', 'FAIL': 'tab:red'}.get(g['status'], 'tab:blue'))
        ax.plot(xs, ys, '-', color='lightgrey', zorder=1)
        ax.scatter(xs, ys, c=colors, zorder=2)
        if thr is not None:
            ax.axhline(thr, color='tab:red', linestyle='--', linewidth=1)
        ax.set_title('%s  %s  (%s %s)' % (k[0], k[1], op, thr), fontsize=8, loc='left')
        ax.set_xticks(xs)
        ax.set_xticklabels(labels, fontsize=7, rotation=20, ha='right')
        ax.set_xlim(-0.5, max(0.5, len(xs) - 0.5))
        ax.grid(alpha=0.3)
    if not rows:
        axes[0, 0].text(0.5, 0.5, 'no gates', ha='center', va='center')
    return save(fig, out, 'gates.png')


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


def plot_kill_matrix(out, cells, name, title):
    mutants = sorted({m for m, _ in cells})
    scenarios = sorted({s for _, s in cells})
    vis = {m: True for m in mutants}
    for (m, _), e in cells.items():
        if e.get('visible', e.get('x86_visible')) is False:
            vis[m] = False
    fig, ax = plt.subplots(figsize=(1.2 * len(scenarios) + 3.5, 0.45 * len(mutants) + 1.6))
    grid = [[math.nan] * len(scenarios) for _ in mutants]
    for i, m in enumerate(mutants):
        for j, s in enumerate(scenarios):
            e = cells.get((m, s))
            if e is not None and is_killed(e):
                grid[i][j] = math.log10(max(float(e['median_s']), 1e-6))
    cmap = matplotlib.colormaps['viridis_r'].copy()
    cmap.set_bad('whitesmoke')
    im = ax.imshow(grid, cmap=cmap, aspect='auto')
    for i, m in enumerate(mutants):
        for j, s in enumerate(scenarios):
            e = cells.get((m, s))
            if e is None:
                continue
            text = fmt_s(e.get('median_s')) if is_killed(e) else str(e.get('verdict', '?'))
            ax.text(j, i, text, ha='center', va='center', fontsize=7, color='black',
                    bbox=dict(boxstyle='round,pad=0.15', fc='white', ec='none', alpha=0.7))
    ax.set_xticks(range(len(scenarios)))
    ax.set_xticklabels(scenarios, rotation=30, ha='right', fontsize=8)
    ax.set_yticks(range(len(mutants)))
    ax.set_yticklabels([m + ('' if vis[m] else ' (not visible)') for m in mutants],
                       fontsize=8)
    cb = fig.colorbar(im, ax=ax)
    cb.set_label('log10 median seconds to detection', fontsize=8)
    ax.set_title(title, fontsize=9)
    return save(fig, out, name)


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


def plot_stress(out, rows):
    labels = ['%s\n%s/%s/%st' % (r.get('scenario', '?'), r.get('protocol', '?'),
                                  r.get('mode', '?'), r.get('threads', '?')) for r in rows]
    vals = [float(r['ops_per_s']) / 1e6 for r in rows]
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(rows) + 1.4))
    ax.barh(range(len(rows)), vals, color='tab:blue')
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel('Mops/s (all threads)')
    ax.set_title('stress throughput per scenario (correct protocol)', fontsize=9)
    ax.grid(axis='x', alpha=0.3)
    return save(fig, out, 'stress_throughput.png')


# ---------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------

CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; }
th { background: #f0f0f0; }
td.PASS { background: #d9f2d9; } td.FAIL { background: #f7d4d4; }
td.SKIP, td.INFO { color: #666; }
.plots img { margin: 0.3em; border: 1px solid #eee; }
.note { color: #555; font-size: 0.85em; }
"""


def esc(v):
    return html.escape('' if v is None else str(v))


def table(headers, rows, cls_col=None, raw_col=None):
    """An HTML table; raw_col: a column already escaped (HTML of ours)."""
    h = ['<table><tr>' + ''.join('<th>%s</th>' % esc(x) for x in headers) + '</tr>']
    for r in rows:
        cells = []
        for i, x in enumerate(r):
            cls = ' class="%s"' % esc(x) if cls_col is not None and i == cls_col else ''
            cells.append('<td%s>%s</td>' % (cls, x if i == raw_col else esc(x)))
        h.append('<tr>' + ''.join(cells) + '</tr>')
    h.append('</table>')
    return '\n'.join(h)


def img(name, alt):
    return '<img src="%s" alt="%s">' % (esc(name), esc(alt))


def build(results, out):
    benches, stresses = load_runs(results)
    parts = ['<!DOCTYPE html>', '<html><head><meta charset="utf-8">',
             '<title>anonx dashboard</title>', '<style>%s</style></head><body>' % CSS,
             '<h1>anonx dashboard</h1>',
             '<p class="note">Generated %s from %d bench and %d stress files in %s.</p>' %
             (esc(datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')),
              len(benches), len(stresses), esc(results))]

    # Runs.
    parts.append('<h2>Recorded benchmark runs</h2>')
    if benches:
        rows = []
        for base, doc in benches:
            c = doc.get('context', {})
            gates = bench.compute_gates(doc)
            fails = sum(g['status'] == 'FAIL' for g in gates)
            passes = sum(g['status'] == 'PASS' for g in gates)
            rows.append([base, c.get('date', ''), c.get('host_name', ''),
                         str(c.get('git_sha', ''))[:12], c.get('compiler', ''),
                         c.get('build_type', ''), c.get('ptl', ''),
                         c.get('anonx_mode', ''), c.get('num_cpus', ''),
                         '%d pass, %d fail' % (passes, fails)])
        parts.append(table(['file', 'date', 'host', 'commit', 'compiler', 'build', 'ptl',
                            'mode', 'CPUs', 'gates'], rows))
    else:
        parts.append('<p>No bench-*.json files.</p>')

    # Gates.
    parts.append('<h2>Ratio gates (perf-anchors §C)</h2>')
    if benches:
        base, latest = benches[-1]
        gates = bench.compute_gates(latest)
        parts.append('<p>Latest run: %s</p>' % esc(base))
        parts.append(table(['gate', 'ratio', 'op', 'threshold', 'status', 'what'],
                           [[g['id'], '-' if g['ratio'] is None else '%.3f' % g['ratio'],
                             g['op'], g['threshold'], g['status'], g['what']] for g in gates],
                           cls_col=4))
        parts.append('<p class="note">Each ratio uses medians of one run: real_time at 1 '
                     'thread (time ratios), real_time(1)/real_time(2) (scaling), real_time '
                     'ratio at 2 threads (throughput). Across runs:</p>')
        parts.append('<div class="plots">%s</div>' %
                     img(plot_gates(out, gate_history(benches)), 'gates across runs'))

        # Scaling.
        parts.append('<h2>Throughput vs threads (latest run)</h2>')
        ncpu = int(latest.get('context', {}).get('num_cpus') or os.cpu_count() or 1)
        fams = {f: p for f, p in families(latest).items() if len(p) >= 2}
        if fams:
            parts.append('<p class="note">Aggregate throughput = 1 / median real_time '
                         '(UseRealTime). Dashed: 1-thread throughput times min(threads, %d '
                         'CPUs).</p>' % ncpu)
            parts.append('<div class="plots">')
            for fam in sorted(fams):
                parts.append(img(plot_scaling(out, fam, fams[fam], ncpu), fam))
            parts.append('</div>')
        else:
            parts.append('<p>No contended benchmark (more than one thread count).</p>')
    else:
        parts.append('<p>No bench runs recorded.</p>')

    # Kill matrix.
    parts.append('<h2>Kill matrix</h2>')
    matrices = latest_kill_matrices(stresses)
    for k, (cpus, cells) in enumerate(matrices):
        where = 'CPUs allowed unrecorded' if cpus is None else \
            '%d CPU%s allowed' % (cpus, '' if cpus == 1 else 's')
        name = 'kill_matrix.png' if k == 0 else 'kill_matrix-%scpu.png' % (
            'unknown' if cpus is None else cpus)
        title = 'kill matrix, %s: median time to detection' % where
        parts.append('<h3>%s</h3>' % esc(title))
        parts.append('<div class="plots">%s</div>' %
                     img(plot_kill_matrix(out, cells, name, title), title))
        rows = [[m, s, e.get('visible', e.get('x86_visible')), e.get('verdict'), fmt_s(e.get('median_s')),
                 fmt_s(e.get('max_s')), e.get('seeds'), e['_file']]
                for (m, s), e in sorted(cells.items())]
        parts.append(table(['mutant', 'scenario', 'visible', 'verdict', 'median',
                            'max', 'seeds', 'file'], rows))
    if not matrices:
        parts.append('<p>No kill matrix in any stress-*.json.</p>')

    # Stress throughput.
    parts.append('<h2>Stress throughput</h2>')
    sbase, srows = stress_rows(stresses)
    if srows:
        parts.append('<p>From %s.</p>' % esc(sbase))
        parts.append('<div class="plots">%s</div>' %
                     img(plot_stress(out, srows), 'stress throughput'))
        parts.append(table(['scenario', 'protocol', 'mode', 'threads', 'seed', 'duration s',
                            'ops', 'ops/s'],
                           [[r.get('scenario'), r.get('protocol'), r.get('mode'),
                             r.get('threads'), r.get('seed'), r.get('duration_s'),
                             r.get('ops'), '%.0f' % float(r['ops_per_s'])] for r in srows]))
    else:
        parts.append('<p>No stress runs of the correct protocol recorded.</p>')

    # The weak-memory back end (anonx-check, Relacy).
    barriers, checks = load_extra(results)
    parts.append('<h2>Weak memory: anonx-check (Relacy)</h2>')
    runs = [(b, d) for b, d in checks if d.get('schema') == 'anonx-check/1']
    for base, doc in runs:
        parts.append('<h3>%s</h3><p class="note">%s</p>' %
                     (esc(base), esc(doc.get('context', {}).get('args', ''))))
        parts.append(table(['pair', 'shape', 'platform', 'search', 'schedules', 'seconds',
                            'schedules/s', 'result'],
                           [[r.get('scenario'), r.get('shape'), r.get('platform'),
                             r.get('search') + ('=%s' % r['context_bound']
                                                if 'context_bound' in r else ''),
                             r.get('schedules'), r.get('seconds'),
                             '%.0f' % float(r.get('schedules_per_s') or 0),
                             r.get('verdict') if r.get('failed') else 'ok']
                            for r in doc.get('runs', [])]))
    km = [(b, d) for b, d in checks if d.get('schema') == 'anonx-check-kill-matrix/1']
    if km:
        base, doc = km[-1]
        parts.append('<h3>Kill matrix under Relacy: schedules to detection</h3>')
        parts.append('<p>From %s.</p>' % esc(base))
        rows = []
        for e in doc.get('kill_matrix', []):
            if e.get('result') == 'not-run':
                rows.append([e.get('mutant'), '-', '-', 'not run', '-', '-', e.get('why', '')])
                continue
            for c in e.get('cells', []):
                rows.append([e.get('mutant'), c.get('scenario'), c.get('platform'),
                             e.get('result'), '%s/%s' % (c.get('killed_seeds'), c.get('seeds')),
                             c.get('median_schedules', '-'), c.get('max_schedules', '-')])
        parts.append(table(['mutant', 'pair', 'platform', 'mutant result', 'killed seeds',
                            'median schedules', 'max schedules / why'], rows))
    if barriers:
        base, doc = barriers[-1]
        sm = doc.get('summary', {})
        parts.append('<h3>Barrier accounting: every barrier and memory order of core/</h3>')
        parts.append('<p>From %s: %s sites, killed under Relacy %s, killed on x86 real threads '
                     '(the site weakened in anonx-stress by the schemata engine, or else the mutant that '
                     'removes its barrier) %s, argued %s, open %s.</p>'
                     % (esc(base), sm.get('sites'), sm.get('killed_relacy'), sm.get('killed_x86'),
                        sm.get('argued'), sm.get('open')))

        def relacy_cell(r):
            x = r.get('relacy', {})
            if not x.get('run'):
                return '-'
            if x.get('killed'):
                return 'killed: %s/%s after %s schedules' % (
                    x.get('pair'), x.get('platform'), x.get('schedules_to_detection'))
            return 'survived %s schedules' % x.get('schedules')

        def x86_cell(r):
            x = r.get('x86_real_threads', {})
            if not x.get('measured'):
                return x.get('note', '-')
            if x.get('via') == 'schemata':
                return ('killed in %s: %s' % (fmt_s(x.get('wall_s')), x.get('detail'))
                        ) if x.get('killed') else (
                    'survived %d weakening(s) under %s%s' % (
                        len(x.get('mutants', [])), ' and '.join(x.get('checks') or ['?']),
                        ('; ' + x['argument']) if x.get('argument') else ''))
            return '%s (%s%s)%s' % ('killed' if x.get('killed') else 'survived',
                                    x.get('via_mutant'),
                                    ' on ' + ','.join(x.get('killed_on', []))
                                    if x.get('killed') else '',
                                    ' median %s' % fmt_s(x.get('median_s'))
                                    if x.get('killed') else '')
        rows = [[r.get('site'), r.get('kind'), r.get('function'), r.get('pairs_with'),
                 relacy_cell(r), x86_cell(r), r.get('argument', '')]
                for r in doc.get('sites', []) if r.get('kind') != 'memory_order_relaxed']
        parts.append(table(['site', 'barrier / order', 'function', 'pairs with',
                            'Relacy (weakened)', 'x86 real threads', 'argument'], rows))
        parts.append('<p class="note">%d relaxed sites (nothing weaker) are in the file, not '
                     'shown.</p>' % sum(r.get('kind') == 'memory_order_relaxed'
                                        for r in doc.get('sites', [])))
    if not (runs or km or barriers):
        parts.append('<p>No check-*.json or barriers-*.json.</p>')
    parts += mutation_section(results)

    parts.append('</body></html>')
    with open(os.path.join(out, 'index.html'), 'w') as f:
        f.write('\n'.join(parts) + '\n')


def main(argv):
    p = Parser(prog='dashboard.py', description='Build results/dashboard from results/*.json.')
    p.add_argument('--results', metavar='DIR', default='results',
                   help='directory of bench-*.json and stress-*.json (default: results)')
    p.add_argument('--out', metavar='DIR', help='output directory (default: RESULTS/dashboard)')
    try:
        args = p.parse_args(argv)
    except UsageError as e:
        print('dashboard.py: %s' % e, file=sys.stderr)
        p.print_usage(sys.stderr)
        return 2
    if not os.path.isdir(args.results):
        print("dashboard.py: --results: no such directory '%s'" % args.results, file=sys.stderr)
        p.print_usage(sys.stderr)
        return 2
    out = os.path.abspath(args.out or os.path.join(args.results, 'dashboard'))
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.dashboard-', dir=parent)
    try:
        build(args.results, tmp)
        os.chmod(tmp, 0o755)
        old = None
        if os.path.exists(out):
            old = tempfile.mkdtemp(prefix='.dashboard-old-', dir=parent)
            os.rmdir(old)
            os.rename(out, old)
        os.rename(tmp, out)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print('dashboard.py: wrote %s' % os.path.join(out, 'index.html'))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
