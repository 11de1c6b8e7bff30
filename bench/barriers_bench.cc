// SPDX-License-Identifier: GPL-2.0-only
// barriers_bench.cc: smp_mb() of core/barriers.h (a locked no-op RMW below
// the stack pointer on x86-64) compared with one locked RMW on a word of the
// thread's own (fetch_or(0), lock or), with MFENCE, with
// std::atomic_thread_fence(seq_cst) (g++: lock or; clang 14: MFENCE) and
// with no barrier at all. Every loop stores to a private word before the
// barrier, because a barrier with no memory op around it can be merged away
// (clang 14 folds back-to-back seq_cst fences into one: such a loop measures
// 0 ns). Single thread: barriers are CPU-local.
// Gate P7 (tools/bench.py): SmpMb_Model / LockedRmw_Bare <= 1.2.
#include <atomic>

#include "barriers.h"
#include "bench_util.h"

namespace anonx::bench {
namespace {

using word_t = std::atomic<unsigned long>;

padded<word_t> g_store_word;  // the memory op between barriers (thread 0 only)
padded<word_t> g_rmw_word;    // the target of the bare locked RMW (thread 0 only)

void BM_SmpMb_Model(benchmark::State &state) {
  pin_guard pin(state);
  unsigned long i = 0;
  for (auto _ : state) {
    g_store_word.v.store(++i, std::memory_order_relaxed);
    smp_mb();
  }
}
ANONX_SINGLE(BM_SmpMb_Model);

void BM_LockedRmw_Bare(benchmark::State &state) {
  pin_guard pin(state);
  unsigned long i = 0;
  for (auto _ : state) {
    g_store_word.v.store(++i, std::memory_order_relaxed);
    g_rmw_word.v.fetch_or(0, std::memory_order_seq_cst);
  }
}
ANONX_SINGLE(BM_LockedRmw_Bare);

void BM_SeqCstFence_Std(benchmark::State &state) {
  pin_guard pin(state);
  unsigned long i = 0;
  for (auto _ : state) {
    g_store_word.v.store(++i, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}
ANONX_SINGLE(BM_SeqCstFence_Std);

#if defined(__x86_64__)
void BM_Mfence_Asm(benchmark::State &state) {
  pin_guard pin(state);
  unsigned long i = 0;
  for (auto _ : state) {
    g_store_word.v.store(++i, std::memory_order_relaxed);
    asm volatile("mfence" ::: "memory");
  }
}
ANONX_SINGLE(BM_Mfence_Asm);
#endif

void BM_NoBarrier_Store(benchmark::State &state) {
  pin_guard pin(state);
  unsigned long i = 0;
  for (auto _ : state) {
    g_store_word.v.store(++i, std::memory_order_relaxed);
    barrier();
  }
}
ANONX_SINGLE(BM_NoBarrier_Store);

}  // namespace
}  // namespace anonx::bench
