#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# check_codegen.sh OBJECT COMPILER_ID [OBJDUMP]: requires the x86 locked bit
# instructions for test_and_set_bit / test_and_clear_bit in OBJECT (built
# from codegen_bitops.cc at -O2). Exit 77 (skip) where the check does not
# apply: clang lowers these to a `lock cmpxchg` loop, and only x86 has them.
set -euo pipefail

obj=$1
compiler=$2
objdump=${3:-objdump}

if [ "$compiler" = clang ]; then
  echo "SKIP: clang lowers fetch_or(m) & m to a lock cmpxchg loop, not lock bts (g++ only)"
  exit 77
fi
case "$(uname -m)" in
  x86_64 | i?86) ;;
  *)
    echo "SKIP: lock bts/btr are x86 instructions ($(uname -m))"
    exit 77
    ;;
esac

asm=$("$objdump" -d --no-show-raw-insn "$obj")
status=0
for fn in test_and_set_bit:bts test_and_clear_bit:btr; do
  name=anonx_codegen_${fn%%:*}
  insn=${fn##*:}
  # The function's body: from its label to the next blank line.
  body=$(printf '%s\n' "$asm" | sed -n "/<$name>:/,/^\$/p")
  if [ -z "$body" ]; then
    echo "FAIL: $name not found in $obj"
    status=1
  elif printf '%s\n' "$body" | grep -Eq "lock +$insn"; then
    echo "ok: $name uses lock $insn"
  else
    echo "FAIL: $name does not use lock $insn:"
    printf '%s\n' "$body"
    status=1
  fi
done
exit $status
