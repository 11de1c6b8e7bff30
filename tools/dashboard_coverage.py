# SPDX-License-Identifier: GPL-2.0-only
"""dashboard_coverage.py: the coverage model's map on the dashboard.

The model (stress/coverage.h) is page states x paths x racers; each cell is
feasible or not, with its reason (`anonx-stress --list --json`: the build's
model), and a coverage run (`--coverage`) reports, per feasible cell and
platform, whether the cell reached its state and raced, and its violations.
The map: one figure per (generation, platform) from the latest coverage
report of each, a panel per path, the states down and the racers across,
each cell infeasible (grey), reached and clean (green), not reached
(amber), failed (red) or not run (white); then the infeasibility reasons
with their counts and the cells that failed or were not reached.
"""
import json
import os
import subprocess

# The colours of the map, by a cell's verdict.
VERDICTS = [('infeasible', '#d0d0d0'), ('clean', '#4caf50'), ('not reached', '#ffb300'),
            ('failed', '#d32f2f'), ('not run', '#ffffff')]


def load_model(stress_exe):
    """The build's coverage model: {'states', 'paths', 'racers', 'cells':
    {name: (feasible, reason)}}, or None when the executable is missing or
    fails."""
    if not stress_exe or not os.path.exists(stress_exe):
        return None
    try:
        out = subprocess.run([stress_exe, '--list', '--json'], capture_output=True, text=True,
                             timeout=60, check=True).stdout
        doc = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    m = doc.get('coverage_model', {})
    paths = [a['name'] for a in m.get('paths', [])]
    return {'states': [a['name'] for a in m.get('states', [])],
            'paths': paths,
            'racers': paths + [a['name'] for a in m.get('holders', [])],
            'cells': {c['name']: (bool(c['feasible']), c.get('reason', ''))
                      for c in doc.get('cells', [])}}


def latest_coverage(stresses):
    """{(protocol, platform): (file, {cell: {'reached', 'violations'}}, [failed
    (cell, checks)])} from the latest coverage report of each."""
    out = {}
    for base, doc in stresses:
        cov = doc.get('coverage')
        if not isinstance(cov, dict) or not cov.get('cells'):
            continue
        runs = doc.get('runs', [])
        proto = runs[0].get('protocol', '?') if runs else '?'
        checks = {}
        for r in runs:
            names = sorted({v.get('invariant', '?') for v in r.get('violations', []) or []})
            if names:
                checks[(r.get('scenario'), r.get('platform'))] = names
        per = {}
        for c in cov['cells']:
            per.setdefault(c.get('platform', 'x86'), {})[c['cell']] = c
        for plat, cells in per.items():
            failed = [(n, checks.get((n, plat), [])) for n, c in sorted(cells.items())
                      if c.get('violations')]
            out[(proto, plat)] = (base, cells, failed)
    return out


def verdict(model, cells, name):
    """The index in VERDICTS of a cell; a pair the model has no cell for
    (a path against itself) draws as infeasible."""
    feasible, _ = model['cells'].get(name, (False, ''))
    if not feasible:
        return 0
    c = cells.get(name)
    if c is None:
        return 4
    if c.get('violations'):
        return 3
    return 1 if c.get('reached') else 2


def plot_map(out, key, model, cells):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch
    states, paths, racers = model['states'], model['paths'], model['racers']
    cols = 5
    rows = (len(paths) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.9 * rows + 0.8), squeeze=False)
    cmap = ListedColormap([c for _, c in VERDICTS])
    for i, ax in enumerate(axes.flat):
        if i >= len(paths):
            ax.axis('off')
            continue
        grid = [[verdict(model, cells, '%s/%s/%s' % (s, paths[i], r)) for r in racers]
                for s in states]
        ax.imshow(grid, cmap=cmap, vmin=-0.5, vmax=len(VERDICTS) - 0.5, aspect='auto',
                  interpolation='nearest')
        ax.set_title(paths[i], fontsize=9)
        ax.set_xticks(range(len(racers)))
        ax.set_xticklabels(racers, rotation=90, fontsize=5)
        ax.set_yticks(range(len(states)))
        ax.set_yticklabels(states if i % cols == 0 else [], fontsize=5)
        ax.set_xticks([x - 0.5 for x in range(1, len(racers))], minor=True)
        ax.set_yticks([y - 0.5 for y in range(1, len(states))], minor=True)
        ax.grid(which='minor', color='white', linewidth=0.4)
        ax.tick_params(which='minor', length=0)
    fig.suptitle('coverage map %s %s: states (rows) x racers (columns), a panel per path' % key,
                 fontsize=10, y=0.995)
    fig.legend(handles=[Patch(facecolor=c, edgecolor='#888', label=n) for n, c in VERDICTS],
               loc='upper center', bbox_to_anchor=(0.5, 0.975), ncol=len(VERDICTS), fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    name = 'coverage-%s-%s.png' % key
    fig.savefig(os.path.join(out, name), dpi=90)
    plt.close(fig)
    return name


def coverage_section(stresses, out, model, esc, img, table):
    """The map of each (generation, platform), its counts, the reasons of
    the infeasible cells and the cells that failed or were not reached."""
    parts = ['<h2>Coverage model</h2>']
    runs = latest_coverage(stresses)
    if not runs:
        return parts + ['<p>No coverage run recorded (<code>anonx-stress --coverage</code>).</p>']
    if model is None:
        return parts + ['<p>The coverage model is not available (no build/stress/anonx-stress '
                        'to list it): the map needs it.</p>']
    reasons = {}
    for name, (feasible, why) in model['cells'].items():
        if not feasible:
            reasons[why] = reasons.get(why, 0) + 1
    feasible = sum(1 for f, _ in model['cells'].values() if f)
    parts.append('<p class="note">The model of this build: %d states x %d paths x %d racers, '
                 '%d cells, %d feasible. Each map is the latest coverage report of its '
                 'generation and platform.</p>' % (len(model['states']), len(model['paths']),
                                                  len(model['racers']), len(model['cells']),
                                                  feasible))
    rows = []
    parts.append('<div class="plots">')
    for key in sorted(runs):
        base, cells, failed = runs[key]
        counts = [0] * len(VERDICTS)
        for name in model['cells']:
            counts[verdict(model, cells, name)] += 1
        rows.append(['%s %s' % key, base] + counts)
        parts.append(img(plot_map(out, key, model, cells), 'coverage map %s %s' % key))
    parts.append('</div>')
    parts.append(table(['generation platform', 'report'] + [n for n, _ in VERDICTS], rows))
    problems = []
    for key in sorted(runs):
        base, cells, failed = runs[key]
        for name, checks in failed:
            problems.append(['%s %s' % key, name, 'failed', ', '.join(checks) or '-'])
        for name, c in sorted(cells.items()):
            if not c.get('reached') and not c.get('violations'):
                problems.append(['%s %s' % key, name, 'not reached', '-'])
    if problems:
        parts.append('<p>Cells that failed or did not reach their state:</p>')
        parts.append(table(['generation platform', 'cell', 'verdict', 'checks'], problems[:200]))
    parts.append('<p>Why the infeasible cells are infeasible (stress/coverage_ops.cc):</p>')
    parts.append(table(['reason', 'cells'],
                       sorted(([r, n] for r, n in reasons.items()), key=lambda x: -x[1])))
    return parts
