#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""list_cases.py gtest FILE... | mutants PROTOCOL_H: names read from the
sources at configure time, so that tests/meson.build types no test name the
sources already hold.

  gtest FILE...     every TEST(Suite, Case) and TEST_F(Suite, Case) of the
                    files, as Suite.Case, one a line, in file order;
  mutants FILE      every entry X(name, ...) of the ANONX_MUTANTS X-macro of
                    core/protocol.h, one a line, in catalogue order.

check_registered.sh (the binary's --gtest_list_tests against this list) and
check_mutant_tests.py (the compiled catalogue against it) keep the scan
honest: a case it misses, or a name it invents, fails the suite.
"""
import re
import sys

TEST_RE = re.compile(r'^TEST(?:_F)?\(\s*(\w+)\s*,\s*(\w+)\s*\)', re.M)


def gtest_cases(paths):
    out = []
    for p in paths:
        with open(p) as f:
            out += ['%s.%s' % m.groups() for m in TEST_RE.finditer(f.read())]
    return out


def mutants(path):
    with open(path) as f:
        text = f.read()
    start = text.find('#define ANONX_MUTANTS(X)')
    if start < 0:
        sys.exit('list_cases.py: %s has no ANONX_MUTANTS X-macro' % path)
    body = []
    for line in text[start:].splitlines()[1:]:
        body.append(line)
        if not line.rstrip().endswith('\\'):
            break
    return re.findall(r'^\s*X\(\s*(\w+)\s*,', '\n'.join(body), re.M)


def main(argv):
    if len(argv) < 3 or argv[1] not in ('gtest', 'mutants'):
        sys.stderr.write('usage: list_cases.py gtest FILE... | mutants PROTOCOL_H\n')
        return 2
    names = gtest_cases(argv[2:]) if argv[1] == 'gtest' else mutants(argv[2])
    if not names:
        sys.stderr.write('list_cases.py: no names in %s\n' % ' '.join(argv[2:]))
        return 1
    print('\n'.join(names))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
