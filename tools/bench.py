#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Run anonx's Google Benchmark suites, record the run, print the ratio gates.

  bench.py --build DIR [--quick] [--filter REGEX]
  bench.py --compare A.json B.json

A run writes results/bench-<YYYYMMDD>-<host>-<short sha>.json (a temporary
file, then a rename; -quick / -filtered is appended to runs that are not
full, -2, -3 ... to a name already taken). The JSON is Google Benchmark's:
one row per repetition of every benchmark, then its mean, median, stddev and
cv; its `context` extended with git_sha, git_short, git_dirty, compiler,
build_type, optimization, ptl, sanitizer and anonx_mode. A full run has
UTEST_REPETITIONS (9) repetitions, the fewest for which Google Benchmark's
compare.py trusts its Mann-Whitney U test (--compare); --quick has 3. Then
the ratio gates P1..P9, PROF and S1 are printed (bench/README.md lists them), each from
the medians of this one run, one line each:

  <id> <ratio> <threshold> PASS|FAIL|SKIP|INFO  <what>

Exit status: 0 every gate passed (or was skipped), 1 a gate failed or the run
failed, 2 bad usage. Python 3 standard library only; run with /usr/bin/python3.
"""

import argparse
import datetime
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPARE_PY = '/usr/share/benchmark/compare.py'
BENCH_EXE = os.path.join('bench', 'anonx-bench')
# The stress harness's own costs (stress/stress_bench.cc), with the contention
# profile's hooks built in: gates PROF and S1.
STRESS_BENCH_EXE = os.path.join('stress', 'anonx-bench-stress')

# compare.py (gbench/report.py, UTEST_OPTIMAL_REPETITIONS) calls a U test on
# fewer repetitions than this unreliable. A full run records this many, one
# row each; --quick stays a short smoke run.
UTEST_REPETITIONS = 9
FULL = {'repetitions': UTEST_REPETITIONS, 'min_time': 0.1}
QUICK = {'repetitions': 3, 'min_time': 0.05}

# PTL implementation (meson -Dptl) -> its benchmark in bench/ptl_bench.cc.
PTL_BENCH = {
    'ttas': 'BM_Ptl_Ttas',
    'ticket': 'BM_Ptl_Ticket',
    'tbb_spin': 'BM_Ptl_TbbSpin',
    'tbb_queuing': 'BM_Ptl_TbbQueuing',
    'std_mutex': 'BM_Ptl_StdMutex',
}

# ---------------------------------------------------------------------------
# Gates P1..P9 (bench/README.md). Every ratio comes from the medians of one
# run: the 'median' aggregate of each benchmark's repetitions.
#   time:       real_time(num) / real_time(den), both at 1 thread; <= threshold
#   scaling:    aggregate throughput at 2 threads / at 1 thread of one
#               benchmark = real_time(1 thread) / real_time(2 threads)
#   throughput: aggregate throughput of num / of den, both at 2 threads
#               = real_time(den) / real_time(num)
# kind 'gate' can fail the run; 'info' is printed and plotted only.
# ---------------------------------------------------------------------------


# How each gate kind picks its two medians (real_time: lower is faster).
RATIO_KINDS = {
    'time': ('num', 1, 'den', 1, False),        # num / den, 1 thread
    'scaling': ('num', 1, 'num', 2, False),     # time 1 thread / time 2 threads
    'throughput': ('num', 2, 'den', 2, True),   # throughput num / den, 2 threads
    'handoff': ('num', 2, 'den', 2, False),     # num / den, 2 threads
}


def gate_specs(context):
    """The gates that apply to a run with this context."""
    compiler = str(context.get('compiler', ''))
    clang = compiler.startswith('clang')
    ptl = str(context.get('ptl', 'ttas'))
    ptl_bench = PTL_BENCH.get(ptl, 'BM_Ptl_Ttas')
    # clang before 16 emits a cmpxchg loop, not lock bts, for a fetch_or whose
    # result is tested with a variable bit (BM_TestAndSetBit_Padded vs
    # BM_AsmBts_Padded in bench/bitops_bench.cc show the cost).
    tas_threshold = 1.5 if clang else 1.25
    return [
        dict(id='P1', level='gate', kind='time', op='<=', threshold=1.1,
             num='BM_GupFastPin_OwnPage', den='BM_BareGrabPut_OwnPage',
             what='model GUP-fast pin+unpin / the same atomics bare (CAS+1, +1023, -1024)'),
        dict(id='P1pair', level='info', kind='time', op='<=', threshold=1.5,
             num='BM_GupFastPin_OwnPage', den='BM_BarePinUnpin_OwnPage',
             what='model GUP-fast pin+unpin / bare fetch_add(1024)+fetch_sub(1024) '
                  '(3 locked RMWs vs 2)'),
        dict(id='P2', level='gate', kind='time', op='<=', threshold=1.1,
             num='BM_SetBit_Padded', den='BM_FetchOr_Padded',
             what='set_bit / fetch_or (lock or)'),
        dict(id='P2', level='gate', kind='time', op='<=', threshold=1.1,
             num='BM_ClearBit_Padded', den='BM_FetchAnd_Padded',
             what='clear_bit / fetch_and (lock and)'),
        dict(id='P2', level='gate', kind='time', op='<=', threshold=tas_threshold,
             num='BM_TestAndSetBit_Padded', den='BM_FetchOr_Padded',
             what='test_and_set_bit / fetch_or (lock or)'),
        dict(id='P2', level='gate', kind='time', op='<=', threshold=tas_threshold,
             num='BM_TestAndClearBit_Padded', den='BM_FetchAnd_Padded',
             what='test_and_clear_bit / fetch_and (lock and)'),
        dict(id='P4', level='gate', kind='scaling', op='>=', threshold=1.8,
             num='BM_Scaling_Disjoint',
             what='disjoint padded pages: throughput 2 threads / 1 thread'),
        dict(id='P5', level='info', kind='scaling', op='<=', threshold=0.9,
             num='BM_Scaling_SharedPage',
             what='one shared page: throughput 2 threads / 1 thread (expect 0.25-0.6)'),
        dict(id='P6', level='gate', kind='throughput', op='<=', threshold=0.6,
             num='BM_SetBit_FalseSharing', den='BM_SetBit_Padded',
             what='set_bit, 2 threads: throughput on one line / on padded lines'),
        dict(id='P7', level='gate', kind='time', op='<=', threshold=1.2,
             num='BM_SmpMb_Model', den='BM_LockedRmw_Bare',
             what='smp_mb / one locked RMW (store before each)'),
        dict(id='P8', level='gate', kind='time', op='<=', threshold=2.5,
             num=ptl_bench, den='BM_FetchOr_Padded',
             what='PTL (%s) lock+unlock / one locked RMW' % ptl),
        dict(id='P9', level='info', kind='handoff', op='>=', threshold=1.0,
             num='BM_Ptl_Ticket', den='BM_PingPong_Pause',
             what='ticket lock, 2 threads: time per op / one-way line hand-off'),
    ] + [
        # The stress harness's ratios: counter 'ratio' of a BM_Paired_*
        # benchmark, its two sides alternating inside each iteration
        # (stress/stress_bench.cc), the median over the repetitions.
        dict(id='PROF', level='gate', kind='counter', op='>=', threshold=0.95,
             num='BM_Paired_Profile/scenario:%d/free:%d/manual_time' % (sc, free),
             what='%s %s %s/s: contention profile on / off'
                  % ('free-mode' if free else 'lockstep', name,
                     'operations' if free else 'iterations'))
        for free in (0, 1) for sc, name in enumerate(('swap-out vs GUP-fast', 'fork vs pin'))
    ] + [
        dict(id='S1', level='gate', kind='counter', op='>=', threshold=0.35,
             num='BM_Paired_Ceiling/runner_only:0/manual_time',
             what='lockstep swapout_vs_gup_fast iterations/s / the bare two-thread rendezvous'),
        dict(id='S1runner', level='info', kind='counter', op='>=', threshold=0.35,
             num='BM_Paired_Ceiling/runner_only:1/manual_time',
             what='the lockstep runner with nothing to race / the bare rendezvous (its own '
                  'ceiling)'),
    ]


def _ns(entry):
    unit = entry.get('time_unit', 'ns')
    scale = {'ns': 1.0, 'us': 1e3, 'ms': 1e6, 's': 1e9}.get(unit, 1.0)
    return float(entry['real_time']) * scale


def median_real_ns(doc):
    """{run_name: median real_time in ns}: the 'median' aggregate if the run
    has one, else the median of its iteration entries."""
    medians, samples = {}, {}
    for b in doc.get('benchmarks', []):
        if b.get('error_occurred'):
            continue
        name = b.get('run_name') or b.get('name', '')
        if b.get('run_type') == 'aggregate':
            if b.get('aggregate_name') == 'median':
                medians[name] = _ns(b)
        else:
            samples.setdefault(name, []).append(_ns(b))
    for name, v in samples.items():
        medians.setdefault(name, statistics.median(v))
    return medians


def run_name(bench, threads):
    return '%s/real_time/threads:%d' % (bench, threads)


def median_counter(doc, counter):
    """{run_name: median of a user counter}: the 'median' aggregate, else
    the median of the iteration rows."""
    medians, samples = {}, {}
    for b in doc.get('benchmarks', []):
        if counter not in b or b.get('error_occurred'):
            continue
        name = b.get('run_name', b['name'])
        if b.get('run_type') == 'aggregate':
            if b.get('aggregate_name') == 'median':
                medians[name] = float(b[counter])
        else:
            samples.setdefault(name, []).append(float(b[counter]))
    for name, v in samples.items():
        medians.setdefault(name, statistics.median(v))
    return medians


def median_items(doc):
    """{run_name: median items_per_second} (median_counter)."""
    return median_counter(doc, 'items_per_second')


def compute_gates(doc):
    """The gate results of one Google Benchmark JSON document, in order:
    [{id, level, ratio (or None), threshold, op, status, what}]."""
    med = median_real_ns(doc)
    items = median_items(doc)
    ratios = median_counter(doc, 'ratio')
    out = []
    for g in gate_specs(doc.get('context', {})):
        ratio = None
        if g['kind'] == 'items':  # items/s of num over items/s of den
            a, b = items.get(g['num']), items.get(g['den'])
            ratio = a / b if a and b else None
        elif g['kind'] == 'counter':  # the benchmark's own ratio of its two sides
            ratio = ratios.get(g['num'])
        else:
            # (numerator key, its threads, denominator key, its threads, inverted)
            nk, nt, dk, dt, inv = RATIO_KINDS[g['kind']]
            a, b = med.get(run_name(g[nk], nt)), med.get(run_name(g[dk], dt))
            if a and b:
                ratio = b / a if inv else a / b
        if ratio is None:
            status = 'SKIP'
        elif g['level'] == 'info':
            status = 'INFO'
        else:
            ok = ratio <= g['threshold'] if g['op'] == '<=' else ratio >= g['threshold']
            status = 'PASS' if ok else 'FAIL'
        out.append(dict(id=g['id'], level=g['level'], ratio=ratio, threshold=g['threshold'],
                        op=g['op'], status=status, what=g['what']))
    return out


def format_gate(r):
    ratio = '-' if r['ratio'] is None else '%.3f' % r['ratio']
    return '%s %s %s %s  %s %s' % (r['id'], ratio, r['threshold'], r['status'], r['op'],
                                   r['what'])


# ---------------------------------------------------------------------------
# Usage
# ---------------------------------------------------------------------------


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def make_parser():
    p = Parser(prog='bench.py', description='Run, record and gate the anonx benchmarks.',
               add_help=True)
    p.add_argument('--build', metavar='DIR', default='build',
                   help='configured meson build directory (default: build)')
    p.add_argument('--quick', action='store_true',
                   help='%d repetitions of %g s each, not %d of %g s (a smoke run, well '
                        'under 2 minutes)' % (QUICK['repetitions'], QUICK['min_time'],
                                              FULL['repetitions'], FULL['min_time']))
    p.add_argument('--filter', metavar='REGEX',
                   help='only benchmarks matching REGEX (--benchmark_filter)')
    p.add_argument('--compare', nargs=2, metavar=('A.json', 'B.json'),
                   help='compare two recorded runs with Google Benchmark\'s compare.py')
    p.add_argument('--results', metavar='DIR', default=os.path.join(TOP, 'results'),
                   help='where runs are recorded (default: results/ of the repository)')
    return p


def die_usage(parser, message):
    print('bench.py: %s' % message, file=sys.stderr)
    parser.print_usage(sys.stderr)
    sys.exit(2)


# ---------------------------------------------------------------------------
# Context
# ---------------------------------------------------------------------------


def git(*args):
    try:
        return subprocess.run(['git', '-C', TOP] + list(args), check=True, text=True,
                              capture_output=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ''


def meson_options(build):
    try:
        out = subprocess.run(['meson', 'introspect', '--buildoptions', build], check=True,
                             text=True, capture_output=True).stdout
        return {o['name']: o['value'] for o in json.loads(out)}
    except (OSError, subprocess.CalledProcessError, ValueError, KeyError, TypeError):
        return {}


def anonx_context(exe):
    out = subprocess.run([exe, '--anonx_context'], check=True, text=True,
                         capture_output=True).stdout
    ctx = {}
    for line in out.splitlines():
        k, sep, v = line.partition('=')
        if sep:
            ctx[k.strip()] = v.strip()
    return ctx


def busy_seconds():
    """CPU-seconds the whole machine has spent busy since boot (/proc/stat)."""
    try:
        with open('/proc/stat') as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return (sum(v[:8]) - idle) / os.sysconf('SC_CLK_TCK')
    except (OSError, ValueError, IndexError):
        return None


def host_name():
    h = socket.gethostname().split('.')[0] or 'host'
    return re.sub(r'[^A-Za-z0-9_]', '_', h)


# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------


def repetition_rows(doc):
    """The fewest per-repetition rows any benchmark of doc has (0: the run was
    recorded with its aggregates only, as bench.py did before it kept them)."""
    rows = {}
    for b in doc.get('benchmarks', []):
        if b.get('run_type', 'iteration') == 'iteration' and not b.get('error_occurred'):
            name = b.get('name', '')
            rows[name] = rows.get(name, 0) + 1
    return min(rows.values()) if rows else 0


def cmd_compare(parser, a, b):
    docs = []
    for f in (a, b):
        if not os.path.isfile(f):
            die_usage(parser, "--compare: no such file '%s'" % f)
        try:
            with open(f) as fh:
                docs.append(json.load(fh))
        except ValueError:
            die_usage(parser, "--compare: '%s' is not JSON" % f)
        if not isinstance(docs[-1], dict):
            die_usage(parser, "--compare: '%s' is not a Google Benchmark JSON file" % f)
    for f, doc in zip((a, b), docs):
        n = repetition_rows(doc)
        if n < 2:
            print("bench.py: note: %s has %s: compare.py compares it without a U test"
                  % (f, 'one repetition' if n == 1 else
                     'no per-repetition rows (aggregates only)'), file=sys.stderr)
        elif n < UTEST_REPETITIONS:
            print("bench.py: note: %s has %d repetitions; compare.py's U test wants %d "
                  "(a full run): its p-values are marked unreliable" % (f, n, UTEST_REPETITIONS),
                  file=sys.stderr)
    if not os.path.isfile(COMPARE_PY):
        print('bench.py: %s is missing: install Debian libbenchmark-tools' % COMPARE_PY,
              file=sys.stderr)
        return 1
    probe = subprocess.run([sys.executable, '-c', 'import scipy.stats, numpy'],
                           capture_output=True)
    if probe.returncode != 0:
        print('bench.py: compare.py needs scipy and numpy: install Debian python3-scipy',
              file=sys.stderr)
        return 1
    color = [] if sys.stdout.isatty() else ['--no-color']
    return subprocess.run([sys.executable, COMPARE_PY] + color + ['benchmarks', a, b]).returncode


def unique_path(path):
    if not os.path.exists(path):
        return path
    stem, ext = os.path.splitext(path)
    n = 2
    while os.path.exists('%s-%d%s' % (stem, n, ext)):
        n += 1
    return '%s-%d%s' % (stem, n, ext)


def write_json_atomic(path, doc):
    d = os.path.dirname(path) or '.'
    fd, tmp = tempfile.mkstemp(prefix='.bench-', suffix='.json.tmp', dir=d)
    try:
        with os.fdopen(fd, 'w') as f:
            # Google Benchmark's layout, one benchmark entry per line: small
            # and still diffable.
            rest = {k: v for k, v in doc.items() if k != 'benchmarks'}
            f.write('{\n')
            for k, v in rest.items():
                f.write('%s: %s,\n' % (json.dumps(k), json.dumps(v, indent=1)))
            f.write('"benchmarks": [\n')
            entries = doc.get('benchmarks', [])
            for i, b in enumerate(entries):
                f.write(json.dumps(b, separators=(',', ':')))
                f.write(',\n' if i + 1 < len(entries) else '\n')
            f.write(']\n}\n')
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def cmd_run(parser, args):
    build = args.build
    if not os.path.isfile(os.path.join(build, 'build.ninja')):
        die_usage(parser, "--build: '%s' is not a configured meson build directory "
                  "(./anonx bench sets up build/)" % build)
    if args.filter is not None:
        try:
            re.compile(args.filter)
        except re.error as e:
            die_usage(parser, "--filter: bad regular expression '%s' (%s)" % (args.filter, e))
    opts = meson_options(build)
    if opts and opts.get('bench') is False:
        die_usage(parser, "--build: '%s' was configured with -Dbench=false" % build)

    # Bring the executable up to date with the tree whose commit we record.
    rc = subprocess.run(['meson', 'compile', '-C', build, 'anonx-bench', 'anonx-bench-stress'],
                        stdout=sys.stderr).returncode
    exe = os.path.join(build, BENCH_EXE)
    stress_exe = os.path.join(build, STRESS_BENCH_EXE)
    if rc != 0 or not os.access(exe, os.X_OK):
        print('bench.py: building %s failed' % exe, file=sys.stderr)
        return 1

    mode = 'quick' if args.quick else ('filtered' if args.filter else 'full')
    p = QUICK if args.quick else FULL
    os.makedirs(args.results, exist_ok=True)
    date = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%d')
    short = git('rev-parse', '--short', 'HEAD') or 'nogit'
    suffix = '' if mode == 'full' else '-' + mode
    final = unique_path(os.path.join(args.results,
                                     'bench-%s-%s-%s%s.json' % (date, host_name(), short,
                                                                suffix)))

    load1 = os.getloadavg()[0]
    ncpu = os.cpu_count() or 1
    if load1 > 0.5 * ncpu:
        print('bench.py: warning: load average %.2f on %d CPUs; timings will be noisy'
              % (load1, ncpu), file=sys.stderr)

    fd, raw = tempfile.mkstemp(prefix='.bench-raw-', suffix='.json.tmp', dir=args.results)
    os.close(fd)
    try:
        cmd = [exe,
               '--benchmark_out=' + raw,
               '--benchmark_out_format=json',
               '--benchmark_repetitions=%d' % p['repetitions'],
               '--benchmark_min_time=%g' % p['min_time'],
               # The console shows the aggregates only; the JSON keeps every
               # repetition's row too, which compare.py's U test needs.
               '--benchmark_display_aggregates_only=true',
               # Repetitions of all benchmarks in random order: a burst of
               # outside load spreads over many medians instead of ruining one.
               '--benchmark_enable_random_interleaving=true']
        if args.filter is not None:
            cmd.append('--benchmark_filter=' + args.filter)
        print('bench.py: ' + ' '.join(cmd), file=sys.stderr)
        busy0, t0, kids0 = busy_seconds(), time.monotonic(), os.times()
        rc = subprocess.run(cmd).returncode
        if rc != 0:
            print('bench.py: anonx-bench exited with %d' % rc, file=sys.stderr)
            return 1
        with open(raw) as f:
            doc = json.load(f)
        # The harness's costs, same repetitions, one document: its rows join
        # anonx-bench's (each of its iterations runs a whole cell).
        scmd = [stress_exe if a == exe else a for a in cmd
                if not a.startswith('--benchmark_min_time')]
        listed = subprocess.run([stress_exe, '--benchmark_list_tests'] +
                                [a for a in scmd if a.startswith('--benchmark_filter')],
                                capture_output=True, text=True).stdout.split()
        if listed:  # --filter may leave none of them
            print('bench.py: ' + ' '.join(scmd), file=sys.stderr)
            rc = subprocess.run(scmd).returncode
            if rc != 0:
                print('bench.py: anonx-bench-stress exited with %d' % rc, file=sys.stderr)
                return 1
            with open(raw) as f:
                doc['benchmarks'] += json.load(f).get('benchmarks', [])
        busy1, t1, kids1 = busy_seconds(), time.monotonic(), os.times()
    finally:
        if os.path.exists(raw):
            os.unlink(raw)
    if not doc.get('benchmarks'):
        print('bench.py: no benchmark matched', file=sys.stderr)
        return 1

    ctx = doc.setdefault('context', {})
    binctx = anonx_context(exe)
    ctx.update(binctx)
    ctx['git_sha'] = git('rev-parse', 'HEAD') or 'nogit'
    ctx['git_short'] = short
    ctx['git_dirty'] = bool(git('status', '--porcelain', '--untracked-files=no'))
    ctx['anonx_mode'] = mode
    ctx['anonx_repetitions'] = p['repetitions']
    ctx['anonx_min_time_s'] = p['min_time']
    ctx['anonx_wall_s'] = round(t1 - t0, 1)
    # CPU time of other processes during the run: the machine's busy time
    # minus anonx-bench's own. Contended benchmarks are meaningless under load.
    external = None
    if busy0 is not None and busy1 is not None:
        own = (kids1.children_user + kids1.children_system -
               kids0.children_user - kids0.children_system)
        external = max(0.0, (busy1 - busy0) - own)
        ctx['anonx_external_cpu_s'] = round(external, 1)
    if opts:
        ctx['meson_buildtype'] = opts.get('buildtype')
        ctx['meson_optimization'] = opts.get('optimization')
        ctx['meson_ptl'] = opts.get('ptl')
        ctx['meson_b_sanitize'] = opts.get('b_sanitize')
        if opts.get('ptl') and opts.get('ptl') != binctx.get('ptl'):
            print('bench.py: warning: meson says ptl=%s, the binary says %s'
                  % (opts.get('ptl'), binctx.get('ptl')), file=sys.stderr)
    write_json_atomic(final, doc)
    print('bench.py: recorded %s' % os.path.relpath(final))

    if external is not None:
        share = external / max(1e-9, (t1 - t0) * ncpu)
        print('bench.py: other processes used %.1f CPU-s during the %.0f s run (%.0f%% of the '
              'machine)%s' % (external, t1 - t0, 100 * share,
                               '; the gates are unreliable' if share > 0.05 else ''))
    failed = False
    print('gates (median real_time of this run; ratio threshold status):')
    for r in compute_gates(doc):
        print(format_gate(r))
        failed |= r['status'] == 'FAIL'
    return 1 if failed else 0


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)  # runs the finally blocks: no stray temporaries


def main(argv):
    signal.signal(signal.SIGTERM, on_signal)
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as e:
        die_usage(parser, str(e))
    if args.compare:
        return cmd_compare(parser, *args.compare)
    return cmd_run(parser, args)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
