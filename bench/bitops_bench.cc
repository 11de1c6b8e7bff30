// SPDX-License-Identifier: GPL-2.0-only
// bitops_bench.cc: the kernel bit operations of core/bitops.h (set_bit,
// clear_bit, test_and_set_bit, test_and_clear_bit) compared with the bare
// instructions they must compile to: fetch_or / fetch_and with the result
// unused (lock or / lock and), an explicit compare_exchange_weak loop, and
// inline-asm `lock bts` (x86-64 only).
//
// Thread t works on bit t % 64 (a run-time bit number, as page flags are) of:
//  - SameWord:      one word shared by every thread (true sharing);
//  - FalseSharing:  word t % 8 of one 64-byte line (false sharing);
//  - Padded:        its own word on its own 128-byte line pair.
// Gates (tools/bench.py, 1 thread, Padded): P2 set_bit / fetch_or and
// clear_bit / fetch_and <= 1.1, test_and_set_bit / fetch_or <= 1.25 (g++).
// At 2 threads: P6 FalseSharing / Padded aggregate throughput <= 0.6.
#include <atomic>

#include "bench_util.h"
#include "bitops.h"

namespace anonx::bench {
namespace {

using word_t = std::atomic<unsigned long>;

enum class layout { same_word, false_sharing, padded };

struct alignas(kNoFalseSharing) one_line {
  word_t w[kCacheLine / sizeof(word_t)];
};

template <layout L>
word_t *word_for(int t) {
  static_assert(sizeof(one_line) == kNoFalseSharing);
  if constexpr (L == layout::same_word) {
    static padded<word_t> shared;
    return &shared.v;
  } else if constexpr (L == layout::false_sharing) {
    static one_line line;
    return &line.w[t % (kCacheLine / sizeof(word_t))];
  } else {
    static padded<word_t> own[kMaxSlots];
    return &own[t].v;
  }
}

// ---- the operations -------------------------------------------------------

struct op_set_bit {
  static ANONX_INLINE void apply(unsigned nr, word_t *w) { set_bit(nr, w); }
};
struct op_clear_bit {
  static ANONX_INLINE void apply(unsigned nr, word_t *w) { clear_bit(nr, w); }
};
struct op_test_and_set_bit {
  static ANONX_INLINE void apply(unsigned nr, word_t *w) {
    benchmark::DoNotOptimize(test_and_set_bit(nr, w));
  }
};
struct op_test_and_clear_bit {
  static ANONX_INLINE void apply(unsigned nr, word_t *w) {
    benchmark::DoNotOptimize(test_and_clear_bit(nr, w));
  }
};
// Bare: lock or, result unused.
struct op_fetch_or {
  static ANONX_INLINE void apply(unsigned nr, word_t *w) {
    w->fetch_or(1UL << nr, std::memory_order_relaxed);
  }
};
// Bare: lock and, result unused.
struct op_fetch_and {
  static ANONX_INLINE void apply(unsigned nr, word_t *w) {
    w->fetch_and(~(1UL << nr), std::memory_order_relaxed);
  }
};
// A test-and-set written as a CAS loop (what clang 14 emits for fetch_or & m).
struct op_cas_loop {
  static ANONX_INLINE void apply(unsigned nr, word_t *w) {
    const unsigned long m = 1UL << nr;
    unsigned long old = w->load(std::memory_order_relaxed);
    while (!w->compare_exchange_weak(old, old | m, std::memory_order_seq_cst,
                                     std::memory_order_relaxed)) {
    }
    benchmark::DoNotOptimize((old & m) != 0);
  }
};
// A test-and-set as the kernel's x86 asm: lock bts; setc.
struct op_asm_bts {
  static ANONX_INLINE void apply(unsigned nr, word_t *w) {
#if defined(__x86_64__)
    bool old;
    asm volatile("lock btsq %2, %0\n\tsetc %1"
                 : "+m"(*reinterpret_cast<unsigned long *>(w)), "=q"(old)
                 : "r"(static_cast<unsigned long>(nr))
                 : "memory", "cc");
    benchmark::DoNotOptimize(old);
#else
    benchmark::DoNotOptimize(test_and_set_bit(nr, w));
#endif
  }
};

template <class Op, layout L>
void run_bitop(benchmark::State &state) {
  pin_guard pin(state);
  const unsigned nr = static_cast<unsigned>(state.thread_index()) % kBitsPerLong;
  word_t *w = word_for<L>(state.thread_index());
  for (auto _ : state) Op::apply(nr, w);
}

#define ANONX_BITOP(Name, Op)                                                                     \
  void BM_##Name##_SameWord(benchmark::State &s) { run_bitop<Op, layout::same_word>(s); }         \
  void BM_##Name##_FalseSharing(benchmark::State &s) { run_bitop<Op, layout::false_sharing>(s); } \
  void BM_##Name##_Padded(benchmark::State &s) { run_bitop<Op, layout::padded>(s); }              \
  ANONX_CONTENDED(BM_##Name##_SameWord);                                                          \
  ANONX_CONTENDED(BM_##Name##_FalseSharing);                                                      \
  ANONX_CONTENDED(BM_##Name##_Padded)

// Model (core/bitops.h).
ANONX_BITOP(SetBit, op_set_bit);
ANONX_BITOP(ClearBit, op_clear_bit);
ANONX_BITOP(TestAndSetBit, op_test_and_set_bit);
ANONX_BITOP(TestAndClearBit, op_test_and_clear_bit);
// Bare.
ANONX_BITOP(FetchOr, op_fetch_or);
ANONX_BITOP(FetchAnd, op_fetch_and);
ANONX_BITOP(CasLoop, op_cas_loop);
ANONX_BITOP(AsmBts, op_asm_bts);

}  // namespace
}  // namespace anonx::bench
