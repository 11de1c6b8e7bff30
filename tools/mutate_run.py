# SPDX-License-Identifier: GPL-2.0-only
"""mutate_run.py: building and running the mutants (tools/mutate.py --run).

Running a mutant: a worker keeps a copy of the tracked tree and a meson
build directory, reused across mutants so that only what the mutated header
touches is rebuilt. The schemata engine (build-mutate/schemata) builds once
with every site woven in as a branch on its number; the rebuild engine
(build-mutate/wN) writes each mutant's diff into the copy and rebuilds the
targets below (nice, one job). The checks run cheapest first, stopping at
the first kill: the barrier probes of the ordering test, the sequential path
tests, the cow.c table, the negative suite, anonx-check, the preset stress
scenarios on the x86 platform and then on rcu (where no flush IPI waits for
GUP-fast, so the barriers of 6.1 carry the protocol), then the coverage
cells. Verdicts: killed-by-tests, killed-by-stress, survived, timeout,
build-failed, equivalent (only ids argued in tools/mutants-equivalent.txt).
The unmutated tree is checked first: a check that fails there would kill
every mutant. Shards (--shard I/N, mutate_sites.select) share one schemata
tree on a host; a lock serializes its build.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

from mutate_report import SCHEMA, default_report, equivalents, record, summary, write_report
from mutate_sites import TOP, mutated

# The checks, cheapest first; a run stops at the first kill. Test stages:
# name, target, arguments.
GTEST_STAGES = [
    ('ordering', 'tests/ordering_test', []),  # which barriers a path issues, and where
    ('paths', 'tests/paths_test', []),
    ('cow_table', 'tests/cow_table_test', ['--gtest_filter=Cow/CowTable.*']),
    ('bitops', 'tests/bitops_test', []),
    ('page_flags', 'tests/page_flags_test', []),
    ('page', 'tests/page_test', []),
    ('pte', 'tests/pte_test', []),
    ('swap', 'tests/swap_test', []),
    ('page_alloc', 'tests/page_alloc_test', []),
    ('oracle_liveness', 'tests/oracle_liveness_test', []),
    ('cpu', 'tests/cpu_test', []),
    ('coverage_cells', 'tests/coverage_test', []),  # every feasible cell, both orders
    ('ptl', 'tests/ptl_test', []),
    ('negative', 'tests/negative_test', []),
]
# Relacy (suite `check`): the pairs of anonx-check under the C++ memory
# model, random then context bound 2 on the SB and MP pairs. Run where the
# build has anonx-check (Relacy installed, g++).
CHECK_STAGES = [
    ('check-random', ['--protocol', 'v6.2', '--scenario', 'all', '--platform', 'x86,rcu',
                      '--iterations', '20000']),
    ('check-cb2', ['--protocol', 'v6.2', '--scenario', 'sb_clear_flag_vs_pin,mp_ksm_vs_ro_pin',
                   '--platform', 'x86,rcu', '--context-bound', '2']),
]
# A test binary runs in well under a second (negative_test: 12 s); one that
# has not ended after this long loops forever under its mutant.
TEST_STAGE_CAP_S = 60.0
# anonx-check and anonx-stress stages take 3 to 15 s unmutated.
RUN_STAGE_CAP_S = 90.0
# stress-fail: the presets with one allocation in 8 failing (--fail-alloc,
# core/env.h): the failure paths of faults, fork, reclaim and migration,
# which a run where every allocation succeeds never takes.
STRESS_STAGES = ['stress-x86', 'stress-rcu', 'coverage', 'stress-fail']
STAGES = ([name for name, _, _ in GTEST_STAGES] + [name for name, _ in CHECK_STAGES] +
          STRESS_STAGES)
SCHEMATA_HEADER = """// anonx_schemata.h: written by tools/mutate.py into a schemata tree, never
// into core/. Mutant N's code runs when ANONX_SCHEMATA=N at start-up; with
// no number every branch takes the original code.
#pragma once
#include <cstdlib>
namespace anonx_schemata {
inline long active = 0;
// Before any C++ static constructor (priority 101), so no path runs first.
[[gnu::constructor(101), gnu::used]] static void read_active() {
  const char *e = std::getenv("ANONX_SCHEMATA");
  active = e ? std::atol(e) : 0;
}
}  // namespace anonx_schemata
#define ANONX_MUT(n) (__builtin_expect(::anonx_schemata::active == (n), 0))
"""
KIND_RANK = {'stmt': 0, 'void': 1, 'bool': 2, 'expr': 3}  # the outer first, same range


def schemata_file(text, sites):
    """The file's text with every site in it as a branch on its number, and the
    sites that could not be woven in (a range that crosses another's)."""
    root, stack, crossing, kids = [], [], [], {}
    for s in sorted(sites, key=lambda s: (s.wrap_start, -s.wrap_end, KIND_RANK[s.wrap])):
        while stack and stack[-1].wrap_end <= s.wrap_start:
            stack.pop()
        if stack and s.wrap_end > stack[-1].wrap_end:
            crossing.append(s)
            continue
        (kids.setdefault(stack[-1].number, []) if stack else root).append(s)
        stack.append(s)

    def inner(start, end, children):
        out, at = [], start
        for c in children:
            out.append(text[at:c.wrap_start].decode())
            out.append(render(c))
            at = c.wrap_end
        out.append(text[at:end].decode())
        return ''.join(out)

    def render(s):
        orig = inner(s.wrap_start, s.wrap_end, kids.get(s.number, []))
        mut = (text[s.wrap_start:s.start] + s.new.encode() + text[s.end:s.wrap_end]).decode()
        on = 'ANONX_MUT(%d)' % s.number
        if s.wrap == 'void':
            return '(%s ? (void)0 : (void)(%s))' % (on, orig)
        if s.wrap == 'bool':
            return '(%s ? (%s) : !!(%s))' % (on, mut, orig)
        if s.wrap == 'expr':
            return '(%s ? (%s) : (%s))' % (on, mut, orig)
        return '{ if (!%s) { %s } }' % (on, orig)

    body = inner(0, len(text), root)
    once = body.find('#pragma once\n')
    at = once + len('#pragma once\n') if once >= 0 else 0
    return body[:at] + '#include "anonx_schemata.h"\n' + body[at:], crossing


class Worker:
    """A copy of the tracked tree and its build directory, reused across mutants.

    The rebuild engine (build-mutate/wN) patches one mutant in, rebuilds what
    the header touches and restores it. The schemata engine
    (build-mutate/schemata) builds once with every selected site woven in as
    a branch on its number and runs each mutant with ANONX_SCHEMATA=N: no
    build per mutant; several shards share the tree (a lock serializes the
    build).
    """

    def __init__(self, args, woven=None):
        self.engine = args.engine
        self.root = args.workdir or os.path.join(
            TOP, 'build-mutate', 'schemata' if self.engine == 'schemata' else 'w%d' % args.worker)
        self.src = os.path.join(self.root, 'src')
        self.build = os.path.join(self.root, 'build')
        self.stress_duration = args.stress_duration
        self.coverage_duration = args.coverage_duration
        self.stages = args.checks or STAGES
        self.woven = woven or []
        self.env = dict(os.environ)
        self.jobs = args.jobs
        self.mutant = None  # a named mutant of the catalogue: --mutant to both back ends

    def sync(self):
        """Copy the tracked files that differ (unchanged ones keep their mtime),
        core/ with the sites woven in for the schemata engine. Returns the
        sites that could not be woven in."""
        files = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others',
                                '--exclude-standard'], cwd=TOP, check=True,
                               capture_output=True).stdout.decode().split('\0')
        wanted, crossing = {}, []
        for rel in filter(None, files):
            if not os.path.isfile(os.path.join(TOP, rel)) or rel.startswith('results/'):
                continue  # deleted in the working tree, or a report (the build needs none)
            with open(os.path.join(TOP, rel), 'rb') as f:
                wanted[rel] = f.read()
        if self.engine == 'schemata':
            by_file = {}
            for s in self.woven:
                by_file.setdefault(s.file, []).append(s)
            for rel, sites in by_file.items():
                text, left = schemata_file(wanted[rel], sites)
                wanted[rel] = text.encode()
                crossing += left
            wanted['core/anonx_schemata.h'] = SCHEMATA_HEADER.encode()
        for rel, data in wanted.items():
            dst = os.path.join(self.src, rel)
            if os.path.exists(dst):
                with open(dst, 'rb') as f:
                    if f.read() == data:
                        continue
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, 'wb') as f:
                f.write(data)
            shutil.copymode(os.path.join(TOP, rel) if rel in files else dst, dst)
        if not os.path.exists(os.path.join(self.build, 'build.ninja')):
            subprocess.run(['nice', '-n', '19', 'meson', 'setup', self.build, self.src,
                            '--buildtype=release', '-Doptimization=2', '-Dbench=false'],
                           check=True, stdout=subprocess.DEVNULL)
        return crossing

    def targets(self):
        with open(os.path.join(self.build, 'build.ninja')) as f:
            ninja = f.read()
        wanted = [t for name, t, _ in GTEST_STAGES if name in self.stages]
        if any(s.startswith(('stress', 'coverage')) for s in self.stages):
            wanted.append('stress/anonx-stress')
        if any(s.startswith('check') for s in self.stages) and 'check/anonx-check:' in ninja:
            wanted.append('check/anonx-check')
        return wanted

    def compile(self):
        """(ok, seconds, the first error line)."""
        t0 = time.monotonic()
        r = subprocess.run(['nice', '-n', '19', 'meson', 'compile', '-C', self.build,
                            '-j', str(self.jobs)] + self.targets(),
                           capture_output=True, text=True)
        errors = [l for l in r.stdout.splitlines() if 'error' in l]
        return r.returncode == 0, time.monotonic() - t0, (errors or ['build failed'])[0][:300]

    def prepare(self, site):
        """Make `site` the mutant that runs: its number, or its patch."""
        if self.engine == 'schemata':
            self.env['ANONX_SCHEMATA'] = str(site.number) if site else '0'
        elif site:  # the mutated file written whole (no patch(1) on a bare Debian)
            with open(os.path.join(TOP, site.file), 'rb') as f:
                text = f.read()
            with open(os.path.join(self.src, site.file), 'wb') as f:
                f.write(mutated(text, site))

    def restore(self, site):
        if self.engine == 'schemata':
            self.env['ANONX_SCHEMATA'] = '0'
        else:
            shutil.copy2(os.path.join(TOP, site.file), os.path.join(self.src, site.file))

    def core_headers(self, binary):
        """The core/ headers a test binary's objects include (ninja's deps), or
        None if unknown (then the stage runs for every mutant)."""
        cache = self.__dict__.setdefault('_deps', {})
        if binary not in cache:
            stem = os.path.basename(binary)
            obj = '%s.p/%s.cc.o' % (binary, stem)
            r = subprocess.run(['ninja', '-C', self.build, '-t', 'deps', obj],
                               capture_output=True, text=True)
            heads = {'core/' + os.path.basename(l.strip()) for l in r.stdout.splitlines()
                     if '/core/' in l}
            cache[binary] = heads if r.returncode == 0 and heads else None
        return cache[binary]

    def checks(self, deadline, site=None):
        """Run the stages until the first kill: (verdict, detail). A test
        binary that does not include the mutated file is skipped: it runs the
        unmutated code, so a failure there is the machine's, not the mutant's."""
        for name, binary, args in GTEST_STAGES:
            if name not in self.stages or self.mutant:  # the tests take no --mutant
                continue
            heads = self.core_headers(binary) if site else None
            if heads is not None and site.file not in heads:
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return 'timeout', 'budget spent before ' + name
            try:
                r = subprocess.run(['nice', '-n', '19', os.path.join(self.build, binary),
                                    '--gtest_brief=1'] + args, env=self.env,
                                   capture_output=True, text=True,
                                   timeout=min(left, TEST_STAGE_CAP_S))
            except subprocess.TimeoutExpired:  # a mutant that loops: no need to wait out
                return 'timeout', '%s (no end within %.0f s)' % (name, min(left,
                                                                            TEST_STAGE_CAP_S))
            if r.returncode != 0:
                failed = re.findall(r'^\[  FAILED  \] (\S+)', r.stdout, re.M)
                # A kill must happen twice: a test that fails once under a
                # loaded machine (a thread starved past a deadline) is no kill.
                try:
                    again = subprocess.run(['nice', '-n', '19', os.path.join(self.build, binary),
                                            '--gtest_brief=1'] + args, env=self.env,
                                           capture_output=True, text=True,
                                           timeout=min(max(1.0, deadline - time.monotonic()),
                                                       TEST_STAGE_CAP_S))
                except subprocess.TimeoutExpired:
                    return 'timeout', '%s (failed once, then no end within the cap)' % name
                if again.returncode == 0:
                    print('mutate: %s failed once and passed again: not counted' % name,
                          file=sys.stderr, flush=True)
                    continue
                stall = stall_line(r)
                return 'killed-by-tests', '%s: %s' % (
                    name, stall or (failed[0] if failed else 'exit %d' % r.returncode))
        checker = os.path.join(self.build, 'check', 'anonx-check')
        for name, args in CHECK_STAGES:
            if name not in self.stages or not os.path.exists(checker):
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return 'timeout', 'budget spent before ' + name
            verdict = self.report_run(name, checker, args + self.named_args(),
                                      min(left, RUN_STAGE_CAP_S), 'killed-by-tests')
            if verdict:
                return verdict
        presets = ['--protocol', 'v6.2', '--scenario', 'all',
                   '--duration', str(self.stress_duration)]
        stress = [('stress-x86', presets + ['--platform', 'x86']),
                  ('stress-rcu', presets + ['--platform', 'rcu']),
                  ('coverage', ['--coverage', '--protocol', 'v6.2',
                                '--duration', str(self.coverage_duration)]),
                  ('stress-fail', presets + ['--platform', 'x86', '--fail-alloc', '8'])]
        stresser = os.path.join(self.build, 'stress', 'anonx-stress')
        for name, args in stress:
            if name not in self.stages:
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return 'timeout', 'budget spent before ' + name
            verdict = self.report_run(name, stresser, args + ['--stop-on-first'] +
                                      self.named_args(), min(left, RUN_STAGE_CAP_S),
                                      'killed-by-stress')
            if verdict:
                return verdict
        return 'survived', ''

    def named_args(self):
        return ['--mutant', self.mutant] if self.mutant else []

    def report_run(self, name, binary, args, left, killed):
        """One run of anonx-stress or anonx-check: None, or (verdict, detail)."""
        fd, report = tempfile.mkstemp(prefix='anonx-mutate-', suffix='.json')
        os.close(fd)
        try:
            t0 = time.monotonic()
            try:
                r = subprocess.run(['nice', '-n', '19', binary] + args
                                   + ['--quiet', '--json', report], env=self.env,
                                   capture_output=True, text=True, timeout=left)
            except subprocess.TimeoutExpired:
                return 'timeout', '%s (no end within %.0f s)' % (name, left)
            if r.returncode == 0:
                return None
            if r.returncode == 2:  # bad usage (a named mutant this back end cannot run)
                print('mutate: %s: not applicable: %s' % (name, (r.stdout + r.stderr).strip()
                                                          .splitlines()[:1]),
                      file=sys.stderr, flush=True)
                return None
            return killed, '%s: %s (wall %.2f s)' % (
                name, stall_line(r) or first_violation(report, r.returncode),
                time.monotonic() - t0)
        finally:
            os.unlink(report)


def stall_line(r):
    """The lockup detector's report (core/compiler.h), `stall: ...`, if the
    run ended on one: a deadlock named, not a timeout."""
    m = re.search(r'^anonx: (stall: .*)$', (r.stderr or '') + '\n' + (r.stdout or ''), re.M)
    return m.group(1) if m else None


def first_violation(report, rc):
    """`CHECK in SCENARIO after T s` (anonx-stress) or `VERDICT in SCENARIO/PLATFORM
    after N schedules` (anonx-check) for the run that detected first."""
    try:
        with open(report) as f:
            runs = json.load(f).get('runs', [])
    except (OSError, ValueError):
        return 'exit %d, no report' % rc
    failed = [r for r in runs if r.get('failed')]
    if failed:
        run = min(failed, key=lambda r: r.get('schedules_to_detection') or 0)
        return '%s in %s/%s after %d schedules' % (
            run.get('verdict', '?'), run.get('scenario', '?'), run.get('platform', '?'),
            run.get('schedules_to_detection') or 0)
    hits = [r for r in runs if r.get('violations')]
    if not hits:
        return 'exit %d, no violation reported' % rc
    run = min(hits, key=lambda r: r.get('time_to_detect_s') or 0)
    checks = ','.join(v['invariant'] for v in run['violations'])
    return '%s in %s after %.4f s' % (checks, run.get('scenario', '?'),
                                      run.get('time_to_detect_s') or 0)


def context(argv, args):
    sha = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=TOP,
                         capture_output=True, text=True).stdout.strip() or 'nogit'
    cxx = os.environ.get('CXX', 'c++')
    version = subprocess.run([cxx, '--version'], capture_output=True, text=True).stdout
    stages = args.checks or STAGES
    return {'git_sha': sha, 'compiler': version.splitlines()[0] if version else cxx,
            'host': platform.node(), 'cpus': os.cpu_count(),
            'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
            'argv': argv, 'budget_s': args.budget, 'engine': args.engine,
            'checks': [
                {'stress-x86': 'stress-x86 %g s a scenario' % args.stress_duration,
                 'stress-rcu': 'stress-rcu %g s a scenario' % args.stress_duration,
                 'coverage': 'coverage %g s a cell' % args.coverage_duration}.get(n, n)
                for n in stages]}


class BuildLock:
    """Shards that share a tree build it one at a time (flock on root/lock)."""

    def __init__(self, root):
        os.makedirs(root, exist_ok=True)
        self.path = os.path.join(root, 'lock')

    def __enter__(self):
        import fcntl
        self.f = open(self.path, 'w')
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        self.f.close()


def prepared(worker, args):
    """Sync and build the worker's tree; the sites left out of the schemata."""
    with BuildLock(worker.root):
        left = worker.sync()
        ok, build_s, error = worker.compile()
    if not ok:
        sys.exit('mutate: the %s tree does not build: %s' % (worker.engine, error))
    if not args.no_baseline:
        worker.prepare(None)
        for attempt in range(2):  # a loaded machine may fail a check once
            verdict, detail = worker.checks(time.monotonic() + args.budget)
            if verdict == 'survived':
                break
        if verdict != 'survived':
            sys.exit('mutate: the unmutated %s tree fails its checks (%s: %s)' % (
                worker.engine, verdict, detail))
        print('baseline (%s): the unmutated tree passes every check' % worker.engine,
              flush=True)
    return left, build_s


def run(every, sites, args, argv):
    """Run `sites`. The schemata tree weaves in `every` site, whatever the
    filter and the shard, so that every run of one commit shares one build."""
    if args.resume:
        with open(args.resume) as f:
            report = json.load(f)
        done = {m['id'] for m in report['mutants']}
        sites = [s for s in sites if s.id not in done]
        report['context'].setdefault('resumed', []).append(argv)
    else:
        report = {'schema': SCHEMA, 'context': context(argv, args), 'mutants': []}
    out = args.out or args.resume or default_report(report['context'])
    if not sites:
        print('mutate: no mutant left to run')
        write_report(out, report)
        return
    argued = equivalents()
    woven = [s for s in every if s.wrap] if args.engine == 'schemata' else []
    worker = Worker(args, woven)
    left, build_s = prepared(worker, args)
    unwoven = {s.id for s in left} | {s.id for s in sites if not s.wrap}
    if args.engine == 'schemata':
        report['context'].setdefault('schemata', []).append(
            {'woven': len(woven) - len(left), 'build_s': round(build_s, 1)})
        print('schemata: %d sites woven in, built in %.0f s' % (len(woven) - len(left),
                                                                 build_s), flush=True)
    fallback = None
    for n, site in enumerate(sites, 1):
        if site.id in argued:
            report['mutants'].append(record(site, 'equivalent', argued[site.id], 0, 0, ''))
            continue
        w = worker
        if args.engine == 'schemata' and site.id in unwoven:
            if fallback is None:  # a site the schemata cannot hold: patch and rebuild
                # its own tree per shard: shards patch and rebuild concurrently
                tag = 'rebuild-s%d' % args.shard[0] if args.shard else 'rebuild'
                fallback = Worker(argparse.Namespace(**dict(
                    vars(args), engine='rebuild',
                    workdir=(args.workdir.rstrip('/') + '-' + tag if args.workdir
                             else os.path.join(TOP, 'build-mutate', tag)))))
                prepared(fallback, args)
            w = fallback
        w.prepare(site)
        try:
            ok, build_s, error = w.compile() if w.engine == 'rebuild' else (True, 0.0, '')
            t0 = time.monotonic()
            verdict, detail = (w.checks(t0 + args.budget, site) if ok
                               else ('build-failed', error))
            run_s = time.monotonic() - t0
        finally:
            w.restore(site)
        report['mutants'].append(record(site, verdict, detail, build_s, run_s, w.engine))
        write_report(out, report)
        print('[%d/%d] %s: %s %s (build %.0f s, run %.1f s)' % (
            n, len(sites), site.id, verdict, detail, build_s, run_s), flush=True)
    write_report(out, report)
    summary(report['mutants'])
    print('report: ' + os.path.relpath(out, TOP))
