# SPDX-License-Identifier: GPL-2.0-only
"""dashboard_html.py: the dashboard's page, index.html, section by section.

The recorded bench runs, the ratio gates (bench/README.md) with their plot
across runs, throughput against threads, the kill matrices, the stress
throughput, the contention profile, the coverage model's map, the weak-memory back end (anonx-check runs, its kill matrix, the
barrier accounting of check/README.md) and the mutation campaigns. Tables
escape every value; images are linked by relative path, nothing is fetched.
"""
import datetime
import html
import os

import bench  # tools/bench.py: the gate definitions
from dashboard_data import (families, family_counter, fmt_s, gate_history, latest_kill_matrices, load_extra,
                            load_mutate, load_runs, stress_rows)
from dashboard_coverage import coverage_section
from dashboard_plots import (plot_contention_heatmap, plot_gates, plot_kill_matrix, plot_scaling,
                             plot_stress, plot_time_hists, plot_word_retries)

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


def build(results, out, model=None):
    """model: the build's coverage model (dashboard_coverage.load_model)."""
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
    parts.append('<h2>Ratio gates (bench/README.md)</h2>')
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
            waits = family_counter(latest, 'wait_share')
            for fam in sorted(fams):
                parts.append(img(plot_scaling(out, fam, fams[fam], ncpu, waits.get(fam)), fam))
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

    parts += contention_section(stresses, out)
    parts += coverage_section(stresses, out, model, esc, img, table)
    parts += weak_memory_section(results)
    parts += mutation_section(results)

    # For a browser (bench/check_dashboard_browser.py, or a person): once the
    # page has loaded, <body data-images> says how many images decoded and
    # which did not. Inline, so the page still fetches nothing.
    parts.append('<script>window.addEventListener("load", function () {'
                 'var bad = [], n = 0; for (var i of document.images) {'
                 'if (i.complete && i.naturalWidth > 0) n++; else bad.push(i.getAttribute("src")); }'
                 'document.body.dataset.images = n + " decoded" + (bad.length ? "; broken: " + '
                 'bad.join(" ") : ""); });</script>')
    parts.append('</body></html>')
    with open(os.path.join(out, 'index.html'), 'w') as f:
        f.write('\n'.join(parts) + '\n')


def weak_memory_section(results):
    """The weak-memory back end (anonx-check, Relacy): its runs, its kill matrix
    and the barrier accounting."""
    parts = []
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
    return parts


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


def contention_section(stresses, out):
    """The contention profile (docs/profile.md) of the latest stress report
    that has one: the heatmap of contended wait per lock class per cell,
    the wait and hold histograms of the classes that waited most, the retry
    rates per word kind, and the top contended classes as a table."""
    parts = ['<h2>Contention</h2>']
    latest = None
    for base, doc in stresses:
        if isinstance(doc.get('profile'), dict) and doc['profile'].get('schema') == 1:
            latest = (base, doc)
    if not latest:
        return parts + ['<p>No stress report with a contention profile.</p>']
    base, doc = latest
    total = doc['profile']
    classes = list(total.get('locks', {}))
    cells = [r for r in doc.get('runs', []) if isinstance(r.get('profile'), dict)][:60]
    labels = ['%s %s %s' % (r.get('scenario'), r.get('platform', ''),
                            '' if r.get('mutant') in (None, 'none') else r['mutant'])
              for r in cells]
    # The last column: flushes waiting for GUP-fast's IRQ-off sections.
    waits = [[r['profile']['locks'].get(c, {}).get('wait', {}).get('total_ns', 0)
              for c in classes] + [r['profile'].get('flushes', {}).get('wait', {})
                                   .get('total_ns', 0)] for r in cells]
    parts.append('<p>From %s: contended wait %s, %.2f%% of %.3g thread-seconds.</p>' % (
        esc(base), esc(fmt_s(total.get('contended_wait_ns', 0) / 1e9)),
        100 * total.get('contended_wait_share', 0), total.get('thread_s', 0)))
    top = sorted(classes, key=lambda c: -total['locks'][c].get('wait', {}).get('total_ns', 0))[:4]
    hists = {c: total['locks'][c]['wait'].get('log2_ns', []) for c in top
             if total['locks'][c]['wait'].get('n')}
    holds = {c: total['locks'][c]['hold'].get('log2_ns', []) for c in top
             if total['locks'][c]['hold'].get('n')}
    parts.append('<div class="plots">%s%s%s%s</div>' % (
        img(plot_contention_heatmap(out, labels, classes + ['flush (IRQ-off)'], waits),
            'contention heatmap'),
        img(plot_time_hists(out, 'wait_hist.png', 'lock wait times (top classes)', hists),
            'wait histograms'),
        img(plot_time_hists(out, 'hold_hist.png', 'lock hold times (top classes, sampled)',
                            holds), 'hold histograms'),
        img(plot_word_retries(out, total.get('words', {})), 'word retries')))
    rows = []
    for c in top:
        l = total['locks'][c]
        sites = ', '.join(s['fn'] for s in l.get('sites', [])[:3])
        rows.append([c, l.get('contentions'), l.get('acquisitions'),
                     fmt_s(l['wait'].get('total_ns', 0) / 1e9),
                     fmt_s(l['wait'].get('max_ns', 0) / 1e9), sites])
    parts.append(table(['lock class', 'contentions', 'acquisitions', 'total wait', 'max wait',
                        'waiting functions'], rows))
    return parts
