// SPDX-License-Identifier: GPL-2.0-only
// protocol.h: protocol generations and mutants.
//
// A generation is the protocol as one kernel release runs it; a mutant is
// one named deviation from one generation that replays a historical bug
// (its entry in ANONX_MUTANTS below names the bug and its fix). Paths ask
// `proto.mutant_is(M)`: for the runtime protocol of the stress harness that
// is a byte compare; for fixed_protocol<G> (benchmarks) it is a constant
// false, so the correct protocol pays nothing for the mutant checks.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace anonx {

// Each generation is what that release's mm did (first mainline tag of each
// fix, read off the kernel's history):
enum class generation : uint8_t {
  v5_18,  // before PG_anon_exclusive: reuse iff refcount == 1, early COW of pinned pages at fork
  v5_19,  // the flag (6c287605fd56); clearers of an exclusive page clear and flush: on x86 the
          // flush IPI waits for GUP-fast. FOLL_FORCE follows FOLL_COW + pte_dirty (B2 open).
  v6_0,   // + can_follow_write_pte on exclusivity (5535be309971, 6.0-rc3) and GUP-fast's PMD
          // re-check (70cbc3cc78a9, 6.0); khugepaged sends no sync IPI yet
  v6_1,   // + explicit barriers, no forced flush in swap-out (088b8aa537c2, 6.1-rc1) and
          // khugepaged's tlb_remove_table_sync_one after the PMD flush (2ba99c5e0881, 6.1-rc8)
  v6_2,   // + reliable R/O long-term pins in COW mappings: non-anon pages are unshared
          // (84209e87c696, 6.2-rc1); the default
};
inline constexpr generation kGenerations[] = {generation::v5_18, generation::v5_19,
                                              generation::v6_0, generation::v6_1, generation::v6_2};

inline constexpr const char *generation_name(generation g) {
  switch (g) {
    case generation::v5_18:
      return "v5.18";
    case generation::v5_19:
      return "v5.19";
    case generation::v6_0:
      return "v6.0";
    case generation::v6_1:
      return "v6.1";
    case generation::v6_2:
      return "v6.2";
  }
  return "?";
}
inline bool parse_generation(std::string_view s, generation *g) {
  for (auto x : kGenerations)
    if (s == generation_name(x)) {
      *g = x;
      return true;
    }
  return false;
}

// Who waits for GUP-fast's IRQ-off section. x86 without paravirt: a TLB
// flush is an IPI that waits for it (ptep_clear_flush, pmdp_collapse_flush,
// and page-table freeing after a freed_tables flush). rcu
// (MMU_GATHER_RCU_TABLE_FREE: arm64, powerpc, x86 under paravirt): the flush
// does not wait; page tables are freed after an RCU grace period (which an
// IRQ-off section holds off) and tlb_remove_table_sync_one() is an IPI that
// waits (khugepaged, 6.1+).
enum class platform : uint8_t { x86, rcu };
inline constexpr platform kPlatforms[] = {platform::x86, platform::rcu};
inline constexpr const char *platform_name(platform p) {
  return p == platform::x86 ? "x86" : "rcu";
}
inline bool parse_platform(std::string_view s, platform *p) {
  for (auto x : kPlatforms)
    if (s == platform_name(x)) {
      *p = x;
      return true;
    }
  return false;
}
// A set of platforms, as a mutant's visible_on.
inline constexpr unsigned platform_bit(platform p) { return 1u << static_cast<unsigned>(p); }
inline constexpr unsigned kOnX86 = platform_bit(platform::x86);
inline constexpr unsigned kOnRcu = platform_bit(platform::rcu);
inline constexpr unsigned kOnBoth = kOnX86 | kOnRcu;
inline constexpr unsigned kOnNone = 0;

// X(name, base generation, replays, visible_on, invariants); the scenarios meant
// to expose each are the harness's (harness/registry.cc).
// visible_on: the platforms where the bug is real for the kernel the base
// generation stands for AND real threads on x86 hardware can show it (TSO
// keeps store-store and load-load order, and a locked RMW is a full
// barrier: message-passing reorders and unordered RMWs are out of reach).
// Elsewhere only a scripted interleaving (tests/negative) shows it.
#define ANONX_MUTANTS(X)                                                                           \
  X(b1_force_write_after_cow, v6_2,                                                                \
    "B1 Dirty COW CVE-2016-5195: FOLL_FORCE retry accepts the page it finds, not an exclusive "    \
    "anon copy",                                                                                   \
    kOnBoth, "I2 I5")                                                        \
  X(b2_force_write_dirty, v6_2,                                                                    \
    "B2 CVE-2022-2590: after a COW fault (FOLL_COW) FOLL_FORCE follows a R/O PTE that is dirty, "  \
    "not one mapping an exclusive anon page (5.19's rule; 5535be309971)",                          \
    kOnBoth, "I2 I5")                                                        \
  X(b3_reuse_mapcount1, v6_2,                                                                      \
    "B3 CVE-2020-29374 vmsplice: do_wp_page reuses a page whose mapcount is 1 (FOLL_GET ref "      \
    "ignored)",                                                                                    \
    kOnBoth, "I2")                                                                 \
  X(b4_no_exclusive_reuse, v6_2,                                                                   \
    "B4 wrong COW of a pinned page (5.9-5.18): do_wp_page without the exclusive => reuse "         \
    "shortcut (6c287605fd56)",                                                                     \
    kOnBoth, "I1 I2")                                                           \
  X(b5_fork_ignores_pins, v6_2,                                                                    \
    "B5 pinned page shared by fork (<=5.8): page_try_dup_anon_rmap ignores "                       \
    "page_maybe_dma_pinned (70e806e4e645)",                                                        \
    kOnBoth, "I1 I2")                                                               \
  X(b6_gup_fast_no_seqcount, v6_2,                                                                 \
    "B6 fork vs GUP-fast (5.9-5.10): GUP-fast skips write_protect_seq (57efa1fe5957)", kOnBoth,    \
    "I1 I2")                                                                   \
  X(b7_share_no_mb, v6_2,                                                                          \
    "B7 swap-out vs GUP-fast: page_try_share_anon_rmap without smp_mb and A1 a plain store "       \
    "(088b8aa537c2)",                                                                              \
    kOnRcu, "I1 I2")                    \
  X(b7_gup_fast_no_recheck, v6_2,                                                                  \
    "B7 swap-out vs GUP-fast: GUP-fast without the (B4) PTE re-check", kOnBoth, "I1 I2")                                                     \
  X(b7_pin_no_mb, v6_2,                                                                            \
    "B7 pin side of the SB pair: no smp_mb__after_atomic between the pin and (B4) (weakly "        \
    "ordered CPUs)",                                                                               \
    kOnNone, "I1 I2")                   \
  X(b8_no_wmb_rmb, v6_2,                                                                           \
    "B8 KSM R/O exclusive page, same-value PTE: MP pair without smp_wmb/smp_rmb "                  \
    "(088b8aa537c2)",                                                                              \
    kOnNone, "I1 I6")                                                           \
  X(b9_migrate_clear_early, v6_2,                                                                  \
    "B9 migration clears PG_anon_exclusive before clearing the PTE (6c287605fd56)", kOnBoth,   \
    "I1 I2")                                                                \
  X(b10_recheck_pte_only, v6_0,                                                                    \
    "B10 GUP-fast vs THP collapse: (B4) re-checks the PTE but not the PMD (70cbc3cc78a9); real "   \
    "where the collapse flush does not wait and khugepaged has no sync IPI (6.0, 6.1-rc)",         \
    kOnRcu, "I2")                                                      \
  X(b11_no_swp_exclusive, v6_2,                                                                    \
    "B11 FOLL_GET + swap loses O_DIRECT writes: SWP_EXCLUSIVE not stored (1493a1913e34)", kOnBoth, \
    "I2")                                                                   \
  X(b12_nonatomic_flag, v6_2,                                                                      \
    "B12 non-atomic flag update (__SetPageAnonExclusive) on a live page loses PG_locked/PG_lru",   \
    kOnBoth, "I3 lost-update")                                          \
  X(ro_pin_no_unshare, v6_2, "R/O pin of a shared anon page without unsharing (31cc5bc4af70)",     \
    kOnBoth, "I1 I2")                                          \
  X(thp_split_drops_flag, v6_2, "THP split does not propagate PG_anon_exclusive to the subpages",  \
    kOnBoth, "I1 I9")                                                          \
  X(v519_flush_no_wait, v5_19,                                                                     \
    "v5.19 clear-and-flush without waiting for IRQ-off sections (RCU table free, no IPI)",         \
    kOnNone, "I1 I2")                                                       \
  X(pt_free_no_ipi, v6_2,                                                                          \
    "page-table free without waiting for GUP-fast's IRQ-off section (mm/khugepaged: fix GUP-fast " \
    "interaction by sending IPI, 6.1)",                                                            \
    kOnBoth, "walk-of-freed-table")                                          \
  X(ksm_merge_pinned, v6_2,                                                                        \
    "KSM write_protect_page without the refcount check: merges a pinned page", kOnBoth, "I1 I6")

enum class mutant : uint8_t {
  none,
#define X(n, g, r, v, i) n,
  ANONX_MUTANTS(X)
#undef X
      count
};

struct mutant_info {
  mutant id;
  const char *name;
  generation base;
  const char *replays;
  unsigned visible_on;  // platform_bit()s
  const char *invariants;
};

inline constexpr mutant_info kMutants[] = {
#define X(n, g, r, v, i) {mutant::n, #n, generation::g, r, v, i},
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
inline bool visible_on(const mutant_info &m, platform p) { return m.visible_on & platform_bit(p); }

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
  // points), and only for mutants visible on the cell's platform.
  bool reorder = false;
  // With reorder: do locked instructions drain the buffer too, as on x86
  // (the stress harness, which emulates x86-TSO)? Scripted interleavings
  // leave it false to show what weaker architectures allow, where a
  // spinlock's acquire does not order an earlier store before later loads.
  bool tso_locked_drain = false;
  platform plat = platform::x86;
  bool mutant_is(mutant m) const { return mut == m; }
  bool at_least(generation g) const { return gen >= g; }
};

// A fixed, correct protocol: mutant checks are compile-time false.
template <generation G, platform P = platform::x86>
struct fixed_protocol {
  static constexpr generation gen = G;
  static constexpr platform plat = P;
  static constexpr bool reorder = false;
  static constexpr bool tso_locked_drain = false;
  static constexpr bool mutant_is(mutant) { return false; }
  static constexpr bool at_least(generation g) { return G >= g; }
};

}  // namespace anonx
