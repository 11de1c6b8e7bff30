#!/usr/bin/python3
"""mutate.py: mutation sites in core/ from libclang's syntax tree, and their verdicts.

  mutate.py --list [--filter F] [--shard I/N] [--json]
  mutate.py --run [--filter F] [--shard I/N] [--budget S] [--out REPORT] [--resume REPORT]
  mutate.py --merge SHARD.json... --out REPORT

Sites come from one translation unit, core/anonx.h (a header parsed alone
redefines what the umbrella includes), keeping only cursors located in
core/. A site is one small fault; its mutant is the site applied alone:

  delete-flag        a statement call that sets or clears a page flag (or MMF_ bit)
  delete-pin         a statement call that pins or unpins
  delete-count       a statement that changes a refcount, mapcount or pincount
  delete-lock        a statement call that takes or releases a lock
  delete-irq         local_irq_disable/enable, and the wait for IRQ-off sections
  delete-barrier     smp_mb, smp_mb__after_atomic, smp_rmb, smp_wmb
  weaken-order       an explicit std::memory_order one step weaker
                     (seq_cst -> acq_rel|acquire|release -> relaxed)
  negate-cond        the condition of an `if` in a function whose comment says `Models:`
  drop-return        an early `return -EBUSY;` / `return nullptr;`
  drop-recheck       an `if` in a Models: function whose branch only bails out
  cmp-eq             `==` -> `!=` in a refcount/mapcount comparison
  cmp-le             `<=` -> `<` in a refcount/mapcount comparison

An id is FILE:FUNCTION:LINE:OPERATOR, with `#K` (K >= 2) for the K-th site
of the same operator on that line. Ids follow the source: a change to core/
renumbers the lines below it, so a report belongs to its git_sha.

Running a mutant (--run): a worker keeps a copy of the tracked tree and a
meson build directory in build-mutate/wN/, reused across mutants so that
only what the mutated header touches is rebuilt. Each mutant's diff is
written into the copy, the targets below are rebuilt (nice, one job), and
the checks run cheapest first, stopping at the first kill: the barrier
probes of the ordering test, the sequential path tests, the cow.c table, the negative suite, the preset stress
scenarios on the x86 platform and then on rcu (where no flush IPI waits for
GUP-fast, so the barriers of 6.1 carry the protocol), then the coverage
cells. Verdicts: killed-by-tests,
killed-by-stress, survived, timeout, build-failed, equivalent (only ids
argued in results/mutants-equivalent.txt). The unmutated tree is checked
first: a check that fails there would kill every mutant.
"""
import argparse
import dataclasses
import datetime
import difflib
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBCLANG = '/usr/lib/llvm-14/lib/libclang-14.so.1'
PARSE_ARGS = ['-x', 'c++', '-std=c++20', '-I', 'core', '-DANONX_PTL_TTAS', '-DANONX_FRAMES=64']
SCHEMA = 'anonx-mutate/1'
EQUIVALENT_FILE = os.path.join('results', 'mutants-equivalent.txt')
VERDICTS = ('killed-by-tests', 'killed-by-stress', 'survived', 'timeout', 'build-failed',
            'equivalent')

try:  # Debian's python3-clang-14; only finding sites needs it (not --merge)
    import clang.cindex as ci
    K = ci.CursorKind
    FUNCTION_KINDS = {K.FUNCTION_DECL, K.FUNCTION_TEMPLATE, K.CXX_METHOD, K.CONSTRUCTOR,
                      K.DESTRUCTOR}
    STATEMENT_PARENTS = {K.COMPOUND_STMT, K.IF_STMT, K.FOR_STMT, K.WHILE_STMT, K.DO_STMT}
    BAIL_OUT = {K.RETURN_STMT, K.GOTO_STMT, K.CONTINUE_STMT, K.BREAK_STMT}
except ImportError:
    ci = None

# What a deleted statement call does, by its callee (and, for the std::atomic
# members, by the object it is called on).
FLAG_CALLEE = re.compile(r'^(__)?(Set|Clear)Page[A-Z]\w*$|^mm_set_has_pinned_flag$')
FLAG_BITOPS = {'set_bit', 'clear_bit', '__set_bit', '__clear_bit'}
PIN_CALLEES = {'try_grab_page', 'try_grab_folio', 'gup_put_folio', 'gup_put_folio_ref',
               'unpin_user_page', 'unpin_user_pages', 'unpin_user_pages_lockless'}
COUNT_CALLEES = {'get_page', 'put_page', 'put_refs', 'page_ref_add', 'page_ref_sub',
                 'page_ref_freeze', 'page_ref_unfreeze', 'page_add_anon_rmap',
                 'page_add_new_anon_rmap', 'page_remove_rmap', 'page_try_dup_anon_rmap'}
COUNT_FIELDS = re.compile(r'_refcount|_mapcount|compound_mapcount|compound_pincount')
ATOMIC_WRITES = {'store', 'exchange', 'fetch_add', 'fetch_sub', 'fetch_and', 'fetch_or'}
LOCK_CALLEES = {'lock', 'unlock', 'lock_shared', 'unlock_shared', 'down_read', 'up_read',
                'down_write', 'up_write', 'lock_page', 'unlock_page', 'clear_bit_unlock',
                'acquire', 'release'}
IRQ_CALLEES = {'local_irq_disable', 'local_irq_enable', 'wait_for_sections'}
BARRIERS = {'smp_mb', 'smp_mb__after_atomic', 'smp_rmb', 'smp_wmb'}
COUNT_READS = re.compile(r'_refcount|_mapcount|compound_mapcount|compound_pincount|'
                         r'page_ref_count|page_count|page_mapcount|total_mapcount')
EARLY_RETURNS = (['return', '-', 'EBUSY'], ['return', 'nullptr'])

# One step weaker, by the kind of atomic operation the order is given to.
WEAKER = {
    ('memory_order_seq_cst', 'load'): ['memory_order_acquire'],
    ('memory_order_seq_cst', 'store'): ['memory_order_release'],
    ('memory_order_seq_cst', 'rmw'): ['memory_order_acq_rel'],
    ('memory_order_acq_rel', 'rmw'): ['memory_order_acquire', 'memory_order_release'],
    ('memory_order_acquire', 'load'): ['memory_order_relaxed'],
    ('memory_order_acquire', 'rmw'): ['memory_order_relaxed'],
    ('memory_order_release', 'store'): ['memory_order_relaxed'],
    ('memory_order_release', 'rmw'): ['memory_order_relaxed'],
    ('memory_order_seq_cst', 'fence'): ['memory_order_acq_rel'],
    ('memory_order_acq_rel', 'fence'): ['memory_order_acquire', 'memory_order_release'],
    ('memory_order_acquire', 'fence'): ['memory_order_relaxed'],
    ('memory_order_release', 'fence'): ['memory_order_relaxed'],
}


@dataclasses.dataclass
class Site:
    """One mutant: replace bytes [start, end) of `file` with `new`."""
    file: str
    function: str
    line: int
    operator: str
    start: int
    end: int
    new: str
    id: str = ''
    diff: str = ''
    # The schemata engine: bytes [wrap_start, wrap_end) become a branch on
    # the mutant's number, of this kind ('void' call, 'bool' condition,
    # 'expr' of the same type, 'stmt'); an empty kind: rebuild engine only.
    wrap_start: int = 0
    wrap_end: int = 0
    wrap: str = ''
    number: int = 0


# ---- finding sites ----

def callee_of(tokens):
    """The called name of a call's tokens, and the tokens before it (the object).

    The callee is the identifier before the parenthesis that the call's
    last `)` closes, skipping a template argument list: dependent calls in
    uninstantiated templates have no referenced declaration to ask.
    """
    depth = 0
    for i in range(len(tokens) - 1, -1, -1):
        if tokens[i] == ')':
            depth += 1
        elif tokens[i] == '(':
            depth -= 1
            if depth == 0:
                j = i - 1
                if j >= 0 and tokens[j] == '>':
                    angle = 0
                    while j >= 0:
                        angle += {'>': 1, '<': -1}.get(tokens[j], 0)
                        if angle == 0:
                            break
                        j -= 1
                    j -= 1
                return (tokens[j], tokens[:j]) if j >= 0 else (None, [])
    return None, []


def is_early_return(tokens):
    """`return -EBUSY` or `return nullptr` (libclang may add the `;` to the tokens)."""
    return [t for t in tokens if t != ';'] in EARLY_RETURNS


def delete_operator(name, receiver, tokens):
    """The delete-* operator of a statement call, or None."""
    if name in BARRIERS:
        return 'delete-barrier'
    if FLAG_CALLEE.match(name) or (name in FLAG_BITOPS and
                                   any(t.startswith(('PG_', 'MMF_')) for t in tokens)):
        return 'delete-flag'
    if name in PIN_CALLEES:
        return 'delete-pin'
    if name in COUNT_CALLEES or (name in ATOMIC_WRITES and
                                 any(COUNT_FIELDS.fullmatch(t) for t in receiver)):
        return 'delete-count'
    if name in LOCK_CALLEES:
        return 'delete-lock'
    if name in IRQ_CALLEES:
        return 'delete-irq'
    return None


class Finder:
    """Walks the translation unit with each cursor's parent and function."""

    def __init__(self, top):
        self.top = top
        self.core = os.path.join(top, 'core') + os.sep
        self.sources = {}
        self.models = {}
        self.sites = []

    def text(self, path):
        if path not in self.sources:
            with open(path, 'rb') as f:
                self.sources[path] = f.read()
        return self.sources[path]

    def is_models(self, fn):
        """Whether the comment block right above a function says `Models:`."""
        key = (fn.extent.start.file.name, fn.extent.start.line)
        if key not in self.models:
            lines = self.text(key[0]).decode().split('\n')[:key[1] - 1]
            block = []
            while lines and lines[-1].lstrip().startswith('//'):
                block.append(lines.pop())
            self.models[key] = any('Models:' in b for b in block)
        return self.models[key]

    def add(self, cur, fn, operator, start, end, new, wrap=None):
        """A site; `wrap` is (start, end, kind) for the schemata engine."""
        path = cur.extent.start.file.name
        ws, we, kind = wrap or (start, end, '')
        if kind == 'stmt':  # take the `;` that ends the statement with it
            text = self.text(path)
            after = len(text[we:]) - len(text[we:].lstrip())
            if text[we + after:we + after + 1] == b';':
                we += after + 1
        self.sites.append(Site(os.path.relpath(path, self.top), fn.spelling,
                               cur.extent.start.line, operator, start, end, new,
                               wrap_start=ws, wrap_end=we, wrap=kind))

    def run(self, tu):
        self.calls = []  # the calls around the cursor being visited, innermost last
        self.walk(tu.cursor, None, None)

    def walk(self, cur, parent, fn):
        for index, child in enumerate(cur.get_children()):
            loc = child.location.file
            if loc is None or not os.path.abspath(loc.name).startswith(self.core):
                continue
            inner = child if child.kind in FUNCTION_KINDS else fn
            if inner is not None:
                self.visit(child, cur, index, inner)
            call = child.kind == K.CALL_EXPR
            if call:
                self.calls.append(child)
            self.walk(child, cur, inner)
            if call:
                self.calls.pop()

    def visit(self, cur, parent, index, fn):
        tokens = [t.spelling for t in cur.get_tokens()]
        start, end = cur.extent.start.offset, cur.extent.end.offset
        statement = parent.kind in STATEMENT_PARENTS and not (
            parent.kind == K.IF_STMT and index == 0)
        if cur.kind == K.CALL_EXPR and statement:
            name, receiver = callee_of(tokens)
            operator = name and delete_operator(name, receiver, tokens)
            if operator:
                self.add(cur, fn, operator, start, end, '(void)0', (start, end, 'void'))
        if cur.kind == K.CALL_EXPR:
            self.rmw(cur, fn, tokens)
        elif cur.kind == K.DECL_REF_EXPR and cur.spelling.startswith('memory_order_'):
            self.weaken(cur, fn)
        elif cur.kind == K.IF_STMT and self.is_models(fn):
            self.if_statement(cur, fn, tokens)
        elif cur.kind == K.RETURN_STMT and is_early_return(tokens):
            if parent.kind != K.COMPOUND_STMT or not self.last_of_function(cur, fn):
                self.add(cur, fn, 'drop-return', start, end, self.empty_statement(cur),
                         (start, end, 'stmt'))
        elif cur.kind == K.BINARY_OPERATOR and COUNT_READS.search(' '.join(tokens)):
            self.comparison(cur, fn)

    def last_of_function(self, cur, fn):
        body = [c for c in fn.get_children() if c.kind == K.COMPOUND_STMT]
        if not body:
            return False
        statements = list(body[0].get_children())
        return bool(statements) and statements[-1] == cur

    def weaken(self, cur, fn):
        """weaken-order: the order's token, by the operation it is given to."""
        operation = self.operation_of(cur)
        call = self.calls[-1] if self.calls else None
        wrap = call and (call.extent.start.offset, call.extent.end.offset, 'expr')
        for weaker in WEAKER.get((cur.spelling, operation), []):
            token = next(t for t in cur.get_tokens() if t.spelling == cur.spelling)
            self.add(cur, fn, 'weaken-order', token.extent.start.offset,
                     token.extent.end.offset, weaker, wrap)

    def rmw(self, cur, fn, tokens):
        """rmw-load-store: a locked read-modify-write of an atomic becomes a
        load and a store (another CPU's update between them is lost; the B12
        kind of fault). The load and the store keep the read and the write
        halves of the RMW's order. compare_exchange is left alone."""
        m = re.match(r'^(.*)\s*(\.|->)\s*(fetch_add|fetch_sub|fetch_or|fetch_and|fetch_xor|'
                     r'exchange)\s*\((.*)\)$',
                     self.text(cur.extent.start.file.name)[
                         cur.extent.start.offset:cur.extent.end.offset].decode(), re.S)
        if not m:
            return
        obj, arrow, op, args = m.groups()
        parts = split_args(args)
        order = parts[1].strip() if len(parts) > 1 else 'std::memory_order_seq_cst'
        name = order.rsplit(':', 1)[-1]
        if not name.startswith('memory_order_') or re.search(r'\+\+|--|[^=!<>]=[^=]', obj):
            return  # the object is read twice: only where that has no side effect
        load = {'memory_order_release': 'relaxed', 'memory_order_acq_rel': 'acquire'}.get(
            name, name[len('memory_order_'):])
        store = {'memory_order_acquire': 'relaxed', 'memory_order_acq_rel': 'release'}.get(
            name, name[len('memory_order_'):])
        value = {'fetch_add': 'o + (%s)', 'fetch_sub': 'o - (%s)', 'fetch_or': 'o | (%s)',
                 'fetch_and': 'o & (%s)', 'fetch_xor': 'o ^ (%s)',
                 'exchange': '(%s)'}[op] % parts[0].strip()
        target = '(%s)%s' % (obj.strip(), arrow)
        new = ('[&] { auto o = %sload(std::memory_order_%s); %sstore(%s, '
               'std::memory_order_%s); return o; }()' % (target, load, target, value, store))
        start, end = cur.extent.start.offset, cur.extent.end.offset
        self.add(cur, fn, 'rmw-load-store', start, end, new, (start, end, 'expr'))

    def operation_of(self, cur):
        """load, store, rmw or fence: the call the order is an argument of.

        A compare-exchange's second order is its failure order, a load's.
        """
        path = cur.extent.start.file.name
        head = self.text(path)[:cur.extent.start.offset].decode()
        # The innermost call still open at the order: scan back to its '(' at
        # any depth of nested calls in the arguments before the order.
        depth = 0
        for k in range(len(head) - 1, -1, -1):
            c = head[k]
            if c == ')':
                depth += 1
            elif c == '(':
                if depth == 0:
                    break
                depth -= 1
        else:
            return None
        call = re.search(r'(?:\.|->|::)(\w+)\s*$', head[:k])
        if not call:
            return None
        name, before = call.group(1), head[k + 1:]
        if name in ('load', 'store'):
            return name
        if name == 'atomic_thread_fence':
            return 'fence'
        if name.startswith('compare_exchange') and 'memory_order_' in before:
            return 'load'
        return 'rmw'

    def if_statement(self, cur, fn, tokens):
        children = list(cur.get_children())
        cond = children[0]
        if cond.kind.is_declaration():
            return
        constexpr = tokens[1:2] == ['constexpr']  # no runtime branch on its condition
        src = self.text(cond.extent.start.file.name)
        a, b = cond.extent.start.offset, cond.extent.end.offset
        self.add(cond, fn, 'negate-cond', a, b, '!(' + src[a:b].decode() + ')',
                 None if constexpr else (a, b, 'bool'))
        then = children[1]
        body = list(then.get_children()) if then.kind == K.COMPOUND_STMT else [then]
        bails = len(children) == 2 and body and body[-1].kind in BAIL_OUT
        if bails and not is_early_return([t.spelling for t in body[-1].get_tokens()]):
            start, end = cur.extent.start.offset, cur.extent.end.offset
            self.add(cur, fn, 'drop-recheck', start, end, self.empty_statement(cur),
                     (start, end, 'stmt'))

    def empty_statement(self, stmt):
        """What replaces a dropped statement: nothing where its `;` follows, else `;`."""
        after = self.text(stmt.extent.end.file.name)[stmt.extent.end.offset:]
        return '' if after.lstrip().startswith(b';') else ';'

    def comparison(self, cur, fn):
        """cmp-eq / cmp-le: the top-level operator between the two operands."""
        lhs, rhs = list(cur.get_children())[:2]
        wrap = (cur.extent.start.offset, cur.extent.end.offset, 'expr')
        for t in cur.get_tokens():
            off = t.extent.start.offset
            if lhs.extent.end.offset <= off < rhs.extent.start.offset:
                if t.spelling == '==':
                    self.add(cur, fn, 'cmp-eq', off, off + 2, '!=', wrap)
                elif t.spelling == '<=':
                    self.add(cur, fn, 'cmp-le', off, off + 2, '<', wrap)
                return


def split_args(text):
    """A call's argument list, split at its top-level commas."""
    parts, depth, cur = [], 0, ''
    for ch in text:
        if ch in '([{<' and ch != '<':
            depth += 1
        elif ch in ')]}':
            depth -= 1
        if ch == ',' and depth == 0:
            parts.append(cur)
            cur = ''
        else:
            cur += ch
    parts.append(cur)
    return parts


def find_sites(top=TOP):
    """Every site in core/, sorted by file, offset and operator, with ids and diffs."""
    top = os.path.abspath(top)
    if ci is None:
        sys.exit('mutate: finding sites needs libclang\'s Python binding: apt-get install '
                 'python3-clang-14 libclang-14-dev (for /usr/bin/python3)')
    if not ci.Config.loaded:
        ci.Config.set_library_file(LIBCLANG)
    tu = ci.Index.create().parse(os.path.join(top, 'core', 'anonx.h'),
                                 args=[a if a != 'core' else os.path.join(top, 'core')
                                       for a in PARSE_ARGS])
    errors = [d for d in tu.diagnostics if d.severity >= ci.Diagnostic.Error]
    if errors:
        sys.exit('mutate: core/anonx.h does not parse: %s' % errors[0])
    finder = Finder(top)
    finder.run(tu)
    unique = {(s.file, s.start, s.end, s.new): s for s in finder.sites}
    sites = sorted(unique.values(), key=lambda s: (s.file, s.start, s.operator, s.end, s.new))
    seen = {}
    for number, s in enumerate(sites, 1):
        s.number = number
        base = '%s:%s:%d:%s' % (s.file, s.function, s.line, s.operator)
        seen[base] = seen.get(base, 0) + 1
        s.id = base if seen[base] == 1 else '%s#%d' % (base, seen[base])
        s.diff = unified_diff(finder.text(os.path.join(top, s.file)), s)
    return sites


def mutated(text, site):
    return text[:site.start] + site.new.encode() + text[site.end:]


def unified_diff(text, site):
    old = text.decode().splitlines(keepends=True)
    new = mutated(text, site).decode().splitlines(keepends=True)
    return ''.join(difflib.unified_diff(old, new, 'a/' + site.file, 'b/' + site.file))


def select(sites, filters, shard):
    """Sites whose id, file, function or operator is one of `filters`, then shard I of N.

    A shard takes the ids whose hash falls in its slice: the same for every
    run, whatever the other filters, and independent of the site order.
    """
    if filters:
        sites = [s for s in sites if {s.id, s.file, os.path.basename(s.file), s.function,
                                      s.operator} & set(filters)]
    if shard:
        i, n = shard
        sites = [s for s in sites
                 if int(hashlib.sha1(s.id.encode()).hexdigest(), 16) % n == i - 1]
    return sites


# ---- running mutants ----

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
STRESS_STAGES = ['stress-x86', 'stress-rcu', 'coverage']
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
                return 'killed-by-tests', '%s: %s' % (
                    name, failed[0] if failed else 'exit %d' % r.returncode)
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
                                '--duration', str(self.coverage_duration)])]
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
                name, first_violation(report, r.returncode), time.monotonic() - t0)
        finally:
            os.unlink(report)


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


def equivalents():
    """{id: argument} from results/mutants-equivalent.txt (`ID  REASON`, # comments)."""
    path = os.path.join(TOP, EQUIVALENT_FILE)
    found = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith('#'):
                    mid, _, reason = line.partition(' ')
                    found[mid] = reason.strip()
    return found


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


def record(site, verdict, detail, build_s, run_s, engine):
    return {'id': site.id, 'file': site.file, 'function': site.function, 'line': site.line,
            'operator': site.operator, 'diff': site.diff, 'verdict': verdict, 'detail': detail,
            'build_s': round(build_s, 2), 'run_s': round(run_s, 2), 'engine': engine}


def write_report(path, report):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(report, f, indent=1)
        f.write('\n')
    os.replace(tmp, path)


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


# ---- the catalogue's named mutants and their generated twins ----

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


def default_report(ctx):
    date = ctx['date'][:10].replace('-', '')
    return os.path.join(TOP, 'results', 'mutate-%s-%s.json' % (date, ctx['git_sha']))


def campaign_summary(path):
    """A report's verdicts, kill rate, throughput, per-file table and survivors."""
    with open(path) as f:
        report = json.load(f)
    ms = report['mutants']
    counts = {}
    for m in ms:
        counts[m['verdict']] = counts.get(m['verdict'], 0) + 1
    counted = [m for m in ms if m['verdict'] != 'equivalent']
    killed = sum(m['verdict'].startswith('killed') for m in counted)
    timeouts = sum(m['verdict'] == 'timeout' for m in counted)
    print('%s: %d mutants: %s' % (os.path.basename(path), len(ms), ', '.join(
        '%s %d' % kv for kv in sorted(counts.items()))))
    print('kill rate over the %d non-equivalent mutants: %.1f%% killed, %.1f%% detected '
          '(killed or timed out)' % (len(counted), 100.0 * killed / max(1, len(counted)),
                                     100.0 * (killed + timeouts) / max(1, len(counted))))
    runs = [m['run_s'] for m in ms if m['verdict'] != 'equivalent']
    builds = [b.get('build_s', 0) for b in report['context'].get('schemata', [])]
    if runs:
        print('run time per mutant: mean %.1f s, median %.1f s, max %.1f s; schemata builds '
              '%s s' % (sum(runs) / len(runs), sorted(runs)[len(runs) // 2], max(runs),
                        ', '.join('%.0f' % b for b in builds) or '-'))
    files = {}
    for m in counted:
        r = files.setdefault(m['file'], [0, 0, 0, 0])
        r[0] += 1
        r[1] += m['verdict'].startswith('killed')
        r[2] += m['verdict'] == 'timeout'
        r[3] += m['verdict'] == 'survived'
    print('%-20s %5s %6s %7s %8s %6s' % ('file', 'sites', 'killed', 'timeout', 'survived',
                                         'rate'))
    for f, (n, k, t, sv) in sorted(files.items()):
        print('%-20s %5d %6d %7d %8d %5.0f%%' % (f, n, k, t, sv, 100.0 * k / n))
    for m in ms:
        if m['verdict'] in ('survived', 'timeout', 'equivalent'):
            print('  %-9s %s' % (m['verdict'][:9], m['id']))


def summary(mutants):
    """Sites, killed, survived and kill rate per file and function (equivalents left out)."""
    rows = {}
    for m in mutants:
        if m['verdict'] == 'equivalent':
            continue
        row = rows.setdefault((m['file'], m['function']), [0, 0, 0])
        row[0] += 1
        row[1] += m['verdict'].startswith('killed')
        row[2] += m['verdict'] == 'survived'
    print('%-18s %-32s %5s %6s %8s %6s' % ('file', 'function', 'sites', 'killed', 'survived',
                                          'rate'))
    for (file, function), (n, killed, survived) in sorted(rows.items()):
        print('%-18s %-32s %5d %6d %8d %5.0f%%' % (file, function, n, killed, survived,
                                                    100.0 * killed / n))


def merge(paths, out):
    """Shard reports into one: the first report's context, every id once."""
    merged, seen = None, {}
    for path in paths:
        with open(path) as f:
            report = json.load(f)
        if report.get('schema') != SCHEMA:
            sys.exit('mutate: %s is not an %s report' % (path, SCHEMA))
        if merged is None:
            merged = {'schema': SCHEMA, 'context': dict(report['context'], shards=[]),
                      'mutants': []}
        merged['context']['shards'].append(os.path.basename(path))
        for m in report['mutants']:
            if m['id'] in seen:
                if seen[m['id']]['verdict'] != m['verdict']:
                    print('mutate: %s: %s in one shard, %s in another; keeping the first' % (
                        m['id'], seen[m['id']]['verdict'], m['verdict']), file=sys.stderr)
                continue
            seen[m['id']] = m
            merged['mutants'].append(m)
    # An id argued equivalent since it ran gets that verdict; what the run
    # found stays beside it.
    argued = equivalents()
    for m in merged['mutants']:
        if m['id'] in argued and m['verdict'] != 'equivalent':
            m['run_verdict'], m['run_detail'] = m['verdict'], m['detail']
            m['verdict'], m['detail'] = 'equivalent', argued[m['id']]
    merged['mutants'].sort(key=lambda m: m['id'])
    write_report(out, merged)


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
    args = ap.parse_args(argv)
    if args.summary:
        campaign_summary(args.summary)
        return 0
    if args.merge:
        if not args.out:
            ap.error('--merge needs --out')
        merge(args.merge, args.out)
        return 0
    every = find_sites()
    if args.named:
        return named_run(every, args, ['mutate.py'] + argv)
    sites = select(every, args.filter, args.shard)
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
