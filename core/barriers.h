// SPDX-License-Identifier: GPL-2.0-only
// barriers.h: the kernel's SMP barriers, the only place in anonx that may
// issue a fence. Every caller says which barrier it pairs with.
//
// x86-64 (the kernel's choices: arch/x86/include/asm/barrier.h __smp_mb,
// 6.1, after 450cbdd0125c "locking/x86: Use LOCK ADD for smp_mb() instead
// of MFENCE"; the costs below are bench/barriers_bench.cc BM_SmpMb_Model
// against BM_Mfence_Asm):
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
// smp_mb of B7) are therefore the oracles' job, not TSan's
// (tests/README.md, "Sanitizer builds").
//
// Under the Relacy back end (check/, ANONX_FENCE_HOOK): every barrier calls
// anonx_fence_hook() with its kind and its site (the caller's line), and the
// back end issues the C++11 fence that gives the barrier's LKMM ordering
// (tools/memory-model) in the model checker:
//  - smp_mb(), smp_mb__before_atomic(), smp_mb__after_atomic(): a seq_cst
//    fence. Two of them order an SB pair (W ; mb ; R on both sides), which
//    is all core/ asks of them.
//  - smp_rmb(): an acquire fence; smp_wmb(): a release fence: the weakest
//    C++ fences that order load->load and store->store. In C++ they order
//    only through a pairing (a release fence, a store another CPU's load
//    reads, an acquire fence after that load), which is how core/ pairs
//    them ((A3) wmb (A4) with (B4) rmb (B5)); LKMM's order what every CPU
//    observes, with or without a pairing. Each is also stronger than the
//    kernel's: both order earlier loads before later stores.
// What the C++ model cannot express, and how core/ stands in for it there:
//  - address dependencies (READ_ONCE of a PTE, then a load of the page it
//    maps): memory_order_consume, which compilers promote to acquire; core/
//    loads the PTE with acquire (GUP-fast (B1), pte_table_of). Stronger than
//    the kernel: it orders every later access, not only the dependent ones.
//  - control dependencies (LKMM orders a load before a store that depends on
//    it through a branch, e.g. (A2) before (A3)): C++ has none, so the model
//    may make (A3) visible before (A2) reads. That only makes GUP-fast back
//    off earlier (a weaker model than LKMM here can add outcomes, never hide
//    one the kernel allows).
//  - fully ordered value-returning RMWs (test_and_set_bit, atomic_add_unless,
//    xchg): seq_cst RMWs, which in C++ do not order the relaxed accesses
//    around them the way LKMM's implied smp_mb() on both sides does. Weaker
//    than the kernel: a back end may report an outcome LKMM forbids (a false
//    alarm), never miss one it allows.
//  - spinlocks (the PTL, page_table_lock, the zone lock) and mmap_lock are
//    std:: primitives invisible to the back end: it runs only pairs where at
//    most one side takes them (check/ --list says which pairs are left out).
#pragma once

#include <atomic>

#include "compiler.h"

#if defined(ANONX_FENCE_HOOK)
#include <source_location>
#endif

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

// The Relacy back end's hook (see above); no other build declares it.
enum class smp_barrier : unsigned char { mb, rmb, wmb, mb__after_atomic, mb__before_atomic };
#if defined(ANONX_FENCE_HOOK)
void anonx_fence_hook(smp_barrier kind, const std::source_location &site);
#define ANONX_BARRIER_SITE const std::source_location &site = std::source_location::current()
#define ANONX_FENCE_HOOK_CALL(kind) \
  do {                              \
    anonx_fence_hook((kind), site); \
    return;                         \
  } while (0)
#else
#define ANONX_BARRIER_SITE
#define ANONX_FENCE_HOOK_CALL(kind) ((void)0)
#endif

// Compiler-only barrier: what barrier() is in the kernel.
ANONX_INLINE void barrier() { asm volatile("" ::: "memory"); }

ANONX_INLINE void smp_mb(ANONX_BARRIER_SITE) {
  ANONX_PROBE_BARRIER("mb");
  ANONX_FENCE_HOOK_CALL(smp_barrier::mb);
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

ANONX_INLINE void smp_rmb(ANONX_BARRIER_SITE) {
  ANONX_PROBE_BARRIER("rmb");
  ANONX_FENCE_HOOK_CALL(smp_barrier::rmb);
#if defined(ANONX_TSAN)
  tsan_full_barrier();
#else
  std::atomic_thread_fence(std::memory_order_acquire);
#endif
}

ANONX_INLINE void smp_wmb(ANONX_BARRIER_SITE) {
  ANONX_PROBE_BARRIER("wmb");
  ANONX_FENCE_HOOK_CALL(smp_barrier::wmb);
#if defined(ANONX_TSAN)
  tsan_full_barrier();
#else
  std::atomic_thread_fence(std::memory_order_release);
#endif
}

ANONX_INLINE void smp_mb__after_atomic(ANONX_BARRIER_SITE) {
  ANONX_PROBE_BARRIER("mb__after_atomic");
  ANONX_FENCE_HOOK_CALL(smp_barrier::mb__after_atomic);
#if defined(ANONX_TSAN)
  tsan_full_barrier();
#elif defined(__x86_64__)
  barrier();
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

ANONX_INLINE void smp_mb__before_atomic(ANONX_BARRIER_SITE) {
  ANONX_FENCE_HOOK_CALL(smp_barrier::mb__before_atomic);
  smp_mb__after_atomic();
}

}  // namespace anonx
