// SPDX-License-Identifier: GPL-2.0-only
// env.h: what a path needs besides its arguments: the protocol (generation
// and mutant), the machine, the CPU it runs on, that CPU's statistics, and
// the window hooks between labelled steps.
//
// Hooks are a compile-time policy: no_hooks (benchmarks) compiles every
// env.at("A1") away; the stress harness and the scripted step scheduler
// pass a hooks object whose at() spins, yields, sleeps or blocks.
#pragma once

#include <cstdint>

#include "mm.h"
#include "protocol.h"

namespace anonx {

// Per-CPU statistics: written only by their own CPU, summed at the end.
// Every GUP-fast call is a gup_fast_success or a gup_fast_fallback (its
// attempts are their sum); gup_fast_fallback: returned fewer pages than
// asked (slow GUP finishes);
// gup_fast_recheck_fail: (B4) or the seqcount re-check failed; share_busy:
// page_try_share_anon_rmap or the fork dup found a pin; swapin_bypass /
// swapin_swapcache: do_swap_page mapped a page read past the swap cache
// (SWP_SYNCHRONOUS_IO, one swap PTE) / a page of the swap cache;
// allocs_failed: allocations the fault injection failed (basic_env).
#define ANONX_CPU_STATS(X) \
  X(ops)                   \
  X(gup_fast_success)      \
  X(gup_fast_fallback)     \
  X(gup_fast_recheck_fail) \
  X(gup_slow)              \
  X(faults)                \
  X(cow_copies)            \
  X(cow_reuse)             \
  X(unshares)              \
  X(share_busy)            \
  X(swapouts)              \
  X(swapin_bypass)         \
  X(swapin_swapcache)      \
  X(migrations)            \
  X(allocs_failed)

struct alignas(kNoFalseSharing) cpu_stats {
#define ANONX_STAT_FIELD(name) uint64_t name = 0;
  ANONX_CPU_STATS(ANONX_STAT_FIELD)
#undef ANONX_STAT_FIELD
  void add(const cpu_stats &o) {
#define ANONX_STAT_ADD(name) name += o.name;
    ANONX_CPU_STATS(ANONX_STAT_ADD)
#undef ANONX_STAT_ADD
  }
};

struct no_hooks {
  static constexpr bool enabled = false;
  void at(const char *) {}
};

// Dynamic hooks for the harness: at() is called before the labelled step.
struct step_hooks {
  static constexpr bool enabled = true;
  virtual ~step_hooks() = default;
  virtual void at(const char *label) = 0;
};

template <class Proto, class Hooks = no_hooks, template <class> class Atomic = std::atomic>
struct basic_env {
  using proto_t = Proto;
  using page_t = basic_page<Atomic>;
  using mm_t = basic_mm<Atomic>;
  using machine_t = basic_machine<Atomic>;
  using table_t = basic_pte_table<Atomic>;
  template <class T>
  using atomic = Atomic<T>;
  // Inline oracles run wherever hooks do (the harness, the tests), never in
  // benchmarks.
  static constexpr bool oracles = Hooks::enabled;

  Proto proto{};
  machine_t *m = nullptr;
  unsigned cpu = 0;
  cpu_stats *stats = nullptr;
  Hooks *hooks = nullptr;

  ANONX_INLINE void at(const char *label) {
    if constexpr (Hooks::enabled) {
      if (hooks) hooks->at(label);
    } else {
      (void)label;
    }
  }
  // A one-entry x86-TSO store buffer (proto.reorder), used by scripted
  // interleavings and by the stress harness's preemption points to show
  // what a missing barrier allows: a mutant's plain store is held here past
  // the loads that follow it, and drained (made visible) at this CPU's next
  // ordered store or locked instruction, or at the end of the step.
  Atomic<pteval_t> *sb_pte = nullptr;
  pteval_t sb_pte_val = 0;
  Atomic<int> *sb_ref = nullptr;
  int sb_ref_val = 0;
  void buffer_pte_store(Atomic<pteval_t> *p, pteval_t v) {
    drain_store_buffer();
    sb_pte = p;
    sb_pte_val = v;
  }
  void buffer_ref_store(Atomic<int> *p, int v) {
    drain_store_buffer();
    sb_ref = p;
    sb_ref_val = v;
  }
  // Before a locked instruction: x86 drains the store buffer there.
  ANONX_INLINE void drain_at_locked_op() {
    if (proto.tso_locked_drain) drain_store_buffer();
  }
  ANONX_INLINE void drain_store_buffer() {
    if (!proto.reorder) return;
    if (sb_pte) sb_pte->store(sb_pte_val, std::memory_order_release);
    if (sb_ref) sb_ref->store(sb_ref_val, std::memory_order_release);
    sb_pte = nullptr;
    sb_ref = nullptr;
  }

  ANONX_INLINE page_t *pfn_to_page(unsigned long pfn) const { return m->mem.pfn_to_page(pfn); }
  ANONX_INLINE void put_page(page_t *p) { m->mem.put_page(static_cast<int>(cpu), p); }
  // Fault injection (the kernel's fail_page_alloc and failslab,
  // mm/fail_page_alloc.c, mm/failslab.c): with fail_one_in set, one
  // allocation in fail_one_in fails, drawn from this CPU's seeded sequence
  // (fail_seed), at the model's three kinds of allocation: a page or THP
  // (alloc_page), a page table (alloc_table) and a swap slot (add_to_swap).
  // Every caller has its failure path; the harness's oracles check that the
  // failed operation leaked nothing and broke nothing (docs/oracles.md).
  unsigned fail_one_in = 0;
  uint64_t fail_seed = 0;
  ANONX_INLINE bool should_fail_alloc() {
    if (likely(!fail_one_in)) return false;
    fail_seed = fail_seed * 6364136223846793005ull + 1442695040888963407ull;
    if ((fail_seed >> 33) % fail_one_in) return false;
    if (stats) ++stats->allocs_failed;
    return true;
  }
  ANONX_INLINE page_t *alloc_page(unsigned order) {
    if (should_fail_alloc()) return nullptr;
    return m->mem.alloc_page(static_cast<int>(cpu), order);
  }
  ANONX_INLINE long alloc_table() { return should_fail_alloc() ? -1 : m->tables.alloc(); }
  ANONX_INLINE bool add_to_swap(page_t *page) {
    return !should_fail_alloc() && m->swap.add_to_swap(page);
  }
  // Does this generation have PG_anon_exclusive?
  ANONX_INLINE bool has_anon_exclusive() const { return proto.at_least(generation::v5_19); }
  // Does a TLB flush wait for GUP-fast's IRQ-off sections? On x86 it is an
  // IPI with wait=1 (native_flush_tlb_multi); with RCU table freeing the
  // flush does not wait (arm64's TLBI is broadcast by hardware).
  ANONX_INLINE bool flush_waits() const { return proto.plat == platform::x86; }
};

template <generation G>
using bench_env = basic_env<fixed_protocol<G>, no_hooks>;

}  // namespace anonx
