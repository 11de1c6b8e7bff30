# SPDX-License-Identifier: GPL-2.0-only
"""mutate_sites.py: the mutation sites of core/, from libclang's syntax tree.

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
  rmw-load-store     a locked read-modify-write becomes a load and a store
  negate-cond        the condition of an `if` in a function whose comment says `Models:`
  drop-return        an early `return -EBUSY;` / `return nullptr;`
  drop-recheck       an `if` in a Models: function whose branch only bails out
  cmp-eq             `==` -> `!=` in a refcount/mapcount comparison
  cmp-le             `<=` -> `<` in a refcount/mapcount comparison

An id is FILE:FUNCTION:LINE:OPERATOR, with `#K` (K >= 2) for the K-th site
of the same operator on that line. Ids follow the source: a change to core/
renumbers the lines below it, so a report belongs to its git_sha. select()
keeps the sites of --filter and --shard (tools/mutate.py --list, --run);
since() those on lines changed since a git revision (--since).
"""
import dataclasses
import difflib
import hashlib
import os
import re
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBCLANG = '/usr/lib/llvm-14/lib/libclang-14.so.1'
PARSE_ARGS = ['-x', 'c++', '-std=c++20', '-I', 'core', '-DANONX_PTL_TTAS', '-DANONX_FRAMES=64']

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


# ---- --since: the sites a change touched ----

class UnknownRevision(Exception):
    pass


def changed_lines(diff_text):
    """{file: set of line numbers} on the new side of a `git diff
    --unified=0`: the lines added or changed, and for a hunk that only
    deletes, the two lines on either side of the cut."""
    out, cur = {}, None
    for line in diff_text.splitlines():
        if line.startswith('+++ '):
            path = line[4:]
            cur = None if path == '/dev/null' else (path[2:] if path.startswith('b/') else path)
            if cur:
                out.setdefault(cur, set())
        elif line.startswith('@@') and cur:
            m = re.match(r'@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@', line)
            if not m:
                continue
            start = int(m.group(1))
            count = int(m.group(2)) if m.group(2) is not None else 1
            out[cur].update(range(start, start + count) if count else (start, start + 1))
    return out


def site_lines(site, text):
    """The first and last line (1-based) of a site's mutated text
    [start, end) in its file's bytes `text`."""
    return (text.count(b'\n', 0, site.start) + 1,
            text.count(b'\n', 0, max(site.start, site.end - 1)) + 1)


def changed_sites(sites, changed, top=TOP):
    """The sites whose mutated text [start, end) lies on one of `changed`'s
    lines of its file."""
    texts, keep = {}, []
    for s in sites:
        lines = changed.get(s.file)
        if not lines:
            continue
        if s.file not in texts:
            with open(os.path.join(top, s.file), 'rb') as f:
                texts[s.file] = f.read()
        first, last = site_lines(s, texts[s.file])
        if any(n in lines for n in range(first, last + 1)):
            keep.append(s)
    return keep


def resolve_revision(rev, top=TOP):
    """The commit git names `rev`; UnknownRevision if it names none."""
    ok = subprocess.run(['git', '-C', top, 'rev-parse', '--verify', '--quiet',
                         rev + '^{commit}'], capture_output=True, text=True)
    if ok.returncode != 0:
        raise UnknownRevision(rev)
    return ok.stdout.strip()


def since(sites, rev, top=TOP):
    """The sites on lines of core/ that changed between git revision `rev`
    and the working tree (committed or not: what a reviewer of a patch
    series wants checked). UnknownRevision if git does not know `rev`."""
    diff = subprocess.run(['git', '-C', top, 'diff', '--unified=0', '--no-color',
                           '--no-ext-diff', resolve_revision(rev, top), '--', 'core/'],
                          capture_output=True, text=True, check=True).stdout
    return changed_sites(sites, changed_lines(diff), top)
