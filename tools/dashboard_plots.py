# SPDX-License-Identifier: GPL-2.0-only
"""dashboard_plots.py: the dashboard's PNG plots (matplotlib, the Agg backend).

Throughput against threads of a benchmark family, the ratio gates across
runs, a kill-matrix grid, the stress throughput per scenario. Each plot is
written into the output directory and returns its file name.
"""
import math
import os
import re

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from dashboard_data import fmt_s, is_killed  # noqa: E402

DPI = 80


def plot_name(family):
    return 'scaling-%s.png' % re.sub(r'[^A-Za-z0-9_.-]', '_', family)


def save(fig, out, name):
    fig.tight_layout()
    fig.savefig(os.path.join(out, name), dpi=DPI)
    plt.close(fig)
    return name


def plot_scaling(out, family, points, ncpu, wait=None):
    """Throughput against threads; with `wait` ({threads: share}), the share
    of the threads' time spent waiting (the contention profile) on a second
    axis."""
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
    ax.legend(fontsize=7, loc='upper left')
    ax.grid(alpha=0.3)
    if wait:
        ax2 = ax.twinx()
        wt = sorted(wait)
        ax2.plot(wt, [100 * wait[t] for t in wt], 's:', color='tab:red', label='wait %')
        ax2.set_ylabel('time waiting, %', color='tab:red')
        ax2.set_ylim(0, 100)
        ax2.legend(fontsize=7, loc='upper right')
    return save(fig, out, plot_name(family))


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


def plot_contention_heatmap(out, labels, classes, waits):
    """Contended wait per lock class (columns) per cell (rows), log10 ns;
    an empty square: no contention."""
    fig, ax = plt.subplots(figsize=(1.0 * len(classes) + 3.5, 0.32 * len(labels) + 1.6))
    grid = [[math.log10(w) if w > 0 else float('nan') for w in row] for row in waits]
    im = ax.imshow(grid, aspect='auto', cmap='magma_r')
    ax.set_xticks(range(len(classes)))
    ax.set_xticklabels(classes, rotation=45, ha='right', fontsize=7)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=7)
    lo, hi = im.get_clim()
    for i, row in enumerate(waits):
        for j, w in enumerate(row):
            if w > 0:  # white on the darker half of the scale
                dark = hi > lo and (grid[i][j] - lo) / (hi - lo) > 0.5
                ax.text(j, i, fmt_s(w / 1e9), ha='center', va='center', fontsize=6,
                        color='white' if dark else 'black')
    cb = fig.colorbar(im, ax=ax)
    cb.set_label('log10 contended wait, ns', fontsize=8)
    ax.set_title('contended wait per lock class (and flush) and cell', fontsize=9)
    return save(fig, out, 'contention_heatmap.png')


def plot_time_hists(out, name, title, hists):
    """log2-ns histograms ({label: [counts]}) as step curves on log axes."""
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    for label, counts in hists.items():
        xs = [2 ** b for b in range(len(counts))]
        ax.step(xs, [c if c else float('nan') for c in counts], where='post', label=label)
    ax.set_xscale('log', base=2)
    ax.set_yscale('log')
    ax.set_xlabel('nanoseconds (log2 buckets)')
    ax.set_ylabel('count')
    ax.grid(alpha=0.3)
    if hists:
        ax.legend(fontsize=7)
    ax.set_title(title, fontsize=9)
    return save(fig, out, name)


def plot_word_retries(out, words):
    """Per atomic word kind: retries, failures and re-check changes per 1000 RMWs."""
    kinds = [k for k, w in words.items() if w.get('rmw') or w.get('changed')]
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    width = 0.27
    for n, (key, color) in enumerate((('retries', 'tab:orange'), ('failures', 'tab:red'),
                                      ('changed', 'tab:blue'))):
        vals = [1000.0 * words[k].get(key, 0) / max(1, words[k].get('rmw', 0)) for k in kinds]
        ax.bar([i + (n - 1) * width for i in range(len(kinds))], vals, width, label=key,
               color=color)
    ax.set_xticks(range(len(kinds)))
    ax.set_xticklabels(kinds, fontsize=8)
    ax.set_ylabel('per 1000 RMWs')
    ax.legend(fontsize=7)
    ax.grid(axis='y', alpha=0.3)
    ax.set_title('atomic words: retries, failures, GUP-fast re-check changes', fontsize=9)
    return save(fig, out, 'word_retries.png')
