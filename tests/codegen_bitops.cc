// SPDX-License-Identifier: GPL-2.0-only
// codegen_bitops.cc: compiled to an object and disassembled by
// check_codegen.sh, never linked. The bit number is a variable, as in the
// kernel's callers, so the compiler cannot fold the mask into an immediate:
// g++ must still lower `fetch_or(m) & m` to `lock bts` and
// `fetch_and(~m) & m` to `lock btr` (core/bitops.h, as arch/x86/include/asm/bitops.h: one
// locked instruction, no CAS loop).
#include <atomic>

#include "bitops.h"

extern "C" bool anonx_codegen_test_and_set_bit(unsigned nr, std::atomic<unsigned long> *addr) {
  return anonx::test_and_set_bit(nr, addr);
}

extern "C" bool anonx_codegen_test_and_clear_bit(unsigned nr, std::atomic<unsigned long> *addr) {
  return anonx::test_and_clear_bit(nr, addr);
}
