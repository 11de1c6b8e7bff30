// barriers.h: the kernel's SMP barriers, the only place in anonx that may
// issue a fence. Every caller says which barrier it pairs with.
//
// x86-64 (the kernel's choices, perf-anchors A8 and B.2):
//  - smp_mb() is a locked RMW on a stack word (`lock orq $0`), not MFENCE:
//    it orders like MFENCE for ordinary memory and costs one locked RMW
//    (2 ns here) instead of 16 ns. clang 14 lowers a seq_cst fence to MFENCE,
//    so the fence is never used for smp_mb() on x86.
//  - smp_rmb()/smp_wmb() only stop the compiler: TSO already keeps load-load
//    and store-store order. In C++ that is an acquire/release fence, which
//    emits no instruction on x86.
//  - smp_mb__before_atomic()/smp_mb__after_atomic() only stop the compiler:
//    every locked RMW is already a full barrier on x86.
//
// Under ThreadSanitizer (ANONX_TSAN): TSan does not model standalone fences
// (google/sanitizers #1415; g++ -Wtsan rejects them), so every barrier
// becomes an acq_rel RMW on one global word. That is *stronger* than the
// kernel's barrier: two barriers on different CPUs synchronise with each
// other, which can hide a data race that only the fence-free kernel code
// would have. It never invents one. Ordering bugs among atomics (the missing
// smp_mb of B7) are therefore the oracles' job, not TSan's (README,
// "Sanitizer builds").
#pragma once

#include <atomic>

#include "compiler.h"

namespace anonx {

#if defined(ANONX_TSAN)
inline std::atomic<unsigned long> tsan_barrier_word{0};
ANONX_INLINE void tsan_full_barrier() { tsan_barrier_word.fetch_add(0, std::memory_order_acq_rel); }
#endif

// A test that includes core/ with ANONX_BARRIER_PROBE defined records every
// SMP barrier it issues (tests/ordering_test.cc: never stronger than the
// kernel); no other build pays anything.
#if defined(ANONX_BARRIER_PROBE)
void anonx_barrier_probe(const char *kind);
#define ANONX_PROBE_BARRIER(kind) anonx_barrier_probe(kind)
#else
#define ANONX_PROBE_BARRIER(kind) ((void)0)
#endif

// Compiler-only barrier: what barrier() is in the kernel.
ANONX_INLINE void barrier() { asm volatile("" ::: "memory"); }

ANONX_INLINE void smp_mb() {
  ANONX_PROBE_BARRIER("mb");
#if defined(ANONX_TSAN)
  tsan_full_barrier();
#elif defined(__x86_64__)
  // A LOCKed no-op RMW below the stack pointer, as arch/x86 does; the red
  // zone word is or-ed with 0, so its value never changes.
  asm volatile("lock orq $0, -8(%%rsp)" ::: "memory", "cc");
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

ANONX_INLINE void smp_rmb() {
  ANONX_PROBE_BARRIER("rmb");
#if defined(ANONX_TSAN)
  tsan_full_barrier();
#else
  std::atomic_thread_fence(std::memory_order_acquire);
#endif
}

ANONX_INLINE void smp_wmb() {
  ANONX_PROBE_BARRIER("wmb");
#if defined(ANONX_TSAN)
  tsan_full_barrier();
#else
  std::atomic_thread_fence(std::memory_order_release);
#endif
}

ANONX_INLINE void smp_mb__after_atomic() {
  ANONX_PROBE_BARRIER("mb__after_atomic");
#if defined(ANONX_TSAN)
  tsan_full_barrier();
#elif defined(__x86_64__)
  barrier();
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

ANONX_INLINE void smp_mb__before_atomic() { smp_mb__after_atomic(); }

}  // namespace anonx
