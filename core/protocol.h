// protocol.h: protocol generations and mutants.
//
// A generation is the protocol as one kernel release runs it; a mutant is
// one named deviation from one generation that replays a historical bug
// (kernel-protocol §6). Paths ask `proto.mutant_is(M)`: for the runtime
// protocol of the stress harness that is a byte compare; for
// fixed_protocol<G> (benchmarks) it is a constant false, so the correct
// protocol pays nothing for the mutant checks.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace anonx {

enum class generation : uint8_t {
  v5_18,  // before PG_anon_exclusive: reuse iff refcount == 1, early COW of pinned pages at fork
  v5_19,  // the flag; GUP-fast synchronised with clear-and-flush by the TLB-flush IPI
  v6_2,   // explicit barriers (088b8aa537c2); the default
};

inline constexpr const char *generation_name(generation g) {
  switch (g) {
    case generation::v5_18:
      return "v5.18";
    case generation::v5_19:
      return "v5.19";
    case generation::v6_2:
      return "v6.2";
  }
  return "?";
}
inline bool parse_generation(std::string_view s, generation *g) {
  for (auto x : {generation::v5_18, generation::v5_19, generation::v6_2})
    if (s == generation_name(x)) {
      *g = x;
      return true;
    }
  return false;
}

// X(name, base generation, replays, x86-visible, invariants, scenarios)
#define ANONX_MUTANTS(X)                                                                           \
  X(b1_force_write_after_cow, v6_2,                                                                \
    "B1 Dirty COW CVE-2016-5195: FOLL_FORCE retry accepts the page it finds, not an exclusive "    \
    "anon copy",                                                                                   \
    true, "I2 I5", "force_write_vs_zap")                                                           \
  X(b2_force_write_dirty, v6_2,                                                                    \
    "B2 CVE-2022-2590: FOLL_FORCE writes through a R/O PTE that is dirty, not one mapping an "     \
    "exclusive anon page (5535be309971)",                                                          \
    true, "I2 I5", "force_write_vs_zap")                                                           \
  X(b3_reuse_mapcount1, v6_2,                                                                      \
    "B3 CVE-2020-29374 vmsplice: do_wp_page reuses a page whose mapcount is 1 (FOLL_GET ref "      \
    "ignored)",                                                                                    \
    true, "I2", "vmsplice_cow")                                                                    \
  X(b4_no_exclusive_reuse, v6_2,                                                                   \
    "B4 wrong COW of a pinned page (5.9-5.18): do_wp_page without the exclusive => reuse "         \
    "shortcut (6c287605fd56)",                                                                     \
    true, "I1 I2", "wp_fault_vs_pin")                                                              \
  X(b5_fork_ignores_pins, v6_2,                                                                    \
    "B5 pinned page shared by fork (<=5.8): page_try_dup_anon_rmap ignores "                       \
    "page_maybe_dma_pinned (70e806e4e645)",                                                        \
    true, "I1 I2", "fork_vs_pin")                                                                  \
  X(b6_gup_fast_no_seqcount, v6_2,                                                                 \
    "B6 fork vs GUP-fast (5.9-5.10): GUP-fast skips write_protect_seq (57efa1fe5957)", true,       \
    "I1 I2", "fork_vs_gup_fast")                                                                   \
  X(b7_share_no_mb, v6_2,                                                                          \
    "B7 swap-out vs GUP-fast: page_try_share_anon_rmap without smp_mb and A1 a plain store "       \
    "(088b8aa537c2)",                                                                              \
    true, "I1 I2", "ksm_vs_gup_fast migrate_vs_gup_fast swapout_vs_gup_fast")                      \
  X(b7_gup_fast_no_recheck, v6_2,                                                                  \
    "B7 swap-out vs GUP-fast: GUP-fast without the (B4) PTE re-check", true, "I1 I2",              \
    "swapout_vs_gup_fast migrate_vs_gup_fast")                                                     \
  X(b7_pin_no_mb, v6_2,                                                                            \
    "B7 pin side of the SB pair: no smp_mb__after_atomic between the pin and (B4) (weakly "        \
    "ordered CPUs)",                                                                               \
    false, "I1 I2", "ksm_vs_gup_fast migrate_vs_gup_fast swapout_vs_gup_fast")                     \
  X(b8_no_wmb_rmb, v6_2,                                                                           \
    "B8 KSM R/O exclusive page, same-value PTE: MP pair without smp_wmb/smp_rmb "                  \
    "(088b8aa537c2)",                                                                              \
    false, "I1 I6", "ksm_vs_gup_fast")                                                             \
  X(b9_migrate_clear_early, v6_2,                                                                  \
    "B9 migration clears PG_anon_exclusive before clearing the PTE (6c287605fd56 §II)", true,      \
    "I1 I2", "migrate_vs_gup_fast")                                                                \
  X(b10_recheck_pte_only, v6_2,                                                                    \
    "B10 GUP-fast vs THP collapse: (B4) re-checks the PTE but not the PMD (70cbc3cc78a9)", true,   \
    "I2", "thp_collapse_vs_gup_fast")                                                              \
  X(b11_no_swp_exclusive, v6_2,                                                                    \
    "B11 FOLL_GET + swap loses O_DIRECT writes: SWP_EXCLUSIVE not stored (1493a1913e34)", true,    \
    "I2", "swap_getref_odirect")                                                                   \
  X(b12_nonatomic_flag, v6_2,                                                                      \
    "B12 non-atomic flag update (__SetPageAnonExclusive) on a live page loses PG_locked/PG_lru",   \
    true, "I3 lost-update", "flags_lock_vs_exclusive")                                             \
  X(ro_pin_no_unshare, v6_2, "R/O pin of a shared anon page without unsharing (31cc5bc4af70)",     \
    true, "I1 I2", "wp_fault_vs_pin fork_vs_gup_fast")                                             \
  X(thp_split_drops_flag, v6_2, "THP split does not propagate PG_anon_exclusive to the subpages",  \
    true, "I1 I9", "thp_split_vs_pin")                                                             \
  X(v519_flush_no_wait, v5_19,                                                                     \
    "v5.19 clear-and-flush without waiting for IRQ-off sections (RCU table free, no IPI)", false,  \
    "I1 I2", "swapout_vs_gup_fast")                                                                \
  X(pt_free_no_ipi, v6_2,                                                                          \
    "page-table free without waiting for GUP-fast's IRQ-off section (mm/khugepaged: fix GUP-fast " \
    "interaction by sending IPI, 6.1)",                                                            \
    true, "walk-of-freed-table", "munmap_vs_gup_fast")                                             \
  X(ksm_merge_pinned, v6_2,                                                                        \
    "KSM write_protect_page without the refcount check: merges a pinned page", true, "I1 I6",      \
    "ksm_vs_gup_fast")

enum class mutant : uint8_t {
  none,
#define X(n, g, r, v, i, s) n,
  ANONX_MUTANTS(X)
#undef X
      count
};

struct mutant_info {
  mutant id;
  const char *name;
  generation base;
  const char *replays;
  bool x86_visible;
  const char *invariants;
  const char *scenarios;  // space separated
};

inline constexpr mutant_info kMutants[] = {
#define X(n, g, r, v, i, s) {mutant::n, #n, generation::g, r, v, i, s},
    ANONX_MUTANTS(X)
#undef X
};
inline constexpr unsigned kNrMutants = sizeof(kMutants) / sizeof(kMutants[0]);

inline const mutant_info *find_mutant(std::string_view name) {
  for (const auto &m : kMutants)
    if (name == m.name) return &m;
  return nullptr;
}
inline const mutant_info &info(mutant m) { return kMutants[static_cast<unsigned>(m) - 1]; }
inline const char *mutant_name(mutant m) { return m == mutant::none ? "none" : info(m).name; }

// The protocol the stress harness runs: chosen at run time.
struct runtime_protocol {
  generation gen = generation::v6_2;
  mutant mut = mutant::none;
  // Scripted interleavings (tests/negative) cannot reorder memory accesses:
  // where a mutant drops a barrier, `reorder` makes the mutant perform the
  // reordering the hardware would be allowed to (A2 before A1, B5 before
  // B4), so the step scheduler can show its consequence. Real threads racing
  // in parallel leave it false and let the hardware reorder; the stress
  // harness sets it only in its scheduled interleavings (preemption
  // points), and only for x86-visible mutants.
  bool reorder = false;
  // With reorder: do locked instructions drain the buffer too, as on x86
  // (the stress harness, which emulates x86-TSO)? Scripted interleavings
  // leave it false to show what weaker architectures allow, where a
  // spinlock's acquire does not order an earlier store before later loads.
  bool tso_locked_drain = false;
  bool mutant_is(mutant m) const { return mut == m; }
  bool at_least(generation g) const { return gen >= g; }
};

// A fixed, correct protocol: mutant checks are compile-time false.
template <generation G>
struct fixed_protocol {
  static constexpr generation gen = G;
  static constexpr bool reorder = false;
  static constexpr bool tso_locked_drain = false;
  static constexpr bool mutant_is(mutant) { return false; }
  static constexpr bool at_least(generation g) { return G >= g; }
};

}  // namespace anonx
