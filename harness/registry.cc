// SPDX-License-Identifier: GPL-2.0-only
// registry.cc: the scenario registry's table (registry.h). One entry per
// scenario: the presets, each around a known bug (anonx-stress), then the
// Relacy variants of the pairs with a lockless side (anonx-check).
#include "registry.h"

#include <stdexcept>

namespace anonx::harness {
namespace {

constexpr unsigned kThreads = kLockstep | kFree | kTsan;

// Known finding F1 (docs/findings/F1-fork-vs-first-pin.md), the verdict of
// both fork pairs on rcu.
constexpr const char *kFindingF1 =
    "finding F1: on rcu (arm64-like: an acquire-only spin_lock) fork orders "
    "W(write_protect_seq) before its R(MMF_HAS_PINNED) with smp_wmb only, as 6.1 and 6.12 do; "
    "GUP-fast's W(MMF_HAS_PINNED); smp_mb; R(seq) needs a full barrier there (SB pairing 3): "
    "a first pin racing with fork can be shared with the child. The refcount half of the check "
    "is safe (fork_vs_gup_fast_haspinned is clean). On x86 the PT lock's locked RMW is that "
    "barrier and the pair is clean. See docs/findings/F1-fork-vs-first-pin.md";

using S = scenario_id;

std::vector<scenario_def> make_registry() {
  std::vector<scenario_def> t = {
      {S::fork_vs_gup_fast, "fork_vs_gup_fast",
       "fork (copy_present_pte, write_protect_seq) against GUP-fast R/W and R/O pins (B6, "
       "unsharing)",
       "fork,pinner", "I1 I2 I2-shared fork-leak", "exclusive small anon page, written", 2,
       K_PROCESS | K_FORK | K_PINNER | K_CHECKER, true, kThreads | kRelacy, S::fork_vs_gup_fast,
       {"SB",
        "dup_mmap (write_protect_seq, copy_present_pte's pin check and write-protect) against a "
        "R/W GUP-fast pin (B6, pairing 3); fork alone takes locks",
        "I1 I2 I2-shared I11", false, nullptr, "I2-shared,I1", platform::rcu, kFindingF1}},
      {S::fork_vs_pin, "fork_vs_pin",
       "fork of a page pinned R/W longterm while the process writes it (B5)", "fork,process",
       "I1 I2 I2-shared I2-data fork-leak", "exclusive page pinned R/W longterm", 2,
       K_PROCESS | K_FORK | K_PINNER | K_CHECKER, false, kThreads, S::fork_vs_pin,
       {"", "fork of a pinned page", "", false,
        "both sides take mmap_lock and PT locks (no lockless side): nothing for a memory-model "
        "search"}},
      {S::swapout_vs_gup_fast, "swapout_vs_gup_fast",
       "try_to_unmap_one + page_try_share_anon_rmap against GUP-fast, R/W and R/O pins (B7 SB "
       "pair)",
       "reclaim,pinner", "I1 I2 I2-data",
       "exclusive page, writable PTE (odd rounds: R/O clean PTE)", 2,
       K_PROCESS | K_PINNER | K_RECLAIM | K_CHECKER, false, kThreads | kRelacy,
       S::swapout_vs_gup_fast,
       {"SB",
        "try_to_unmap_one + page_try_share_anon_rmap (shrink_page) against a R/W GUP-fast pin of "
        "a writable PTE (B7, pairing 1)",
        "I1 I2 I11", false}},
      {S::migrate_vs_gup_fast, "migrate_vs_gup_fast",
       "try_to_migrate_one + refcount freeze against GUP-fast (B9)", "migration,pinner",
       "I1 I2 I2-data", "exclusive page, writable PTE (odd rounds: R/O clean PTE)", 2,
       K_PROCESS | K_PINNER | K_MIGRATE | K_CHECKER, false, kThreads | kRelacy,
       S::migrate_vs_gup_fast,
       {"SB", "try_to_migrate_one + refcount freeze (migrate_page) against a R/W GUP-fast pin (B9)",
        "I1 I2 I11", false}},
      {S::ksm_vs_gup_fast, "ksm_vs_gup_fast",
       "KSM write_protect_page of a R/O clean exclusive page (same-value PTE) against a R/O "
       "GUP-fast pin (B8 MP pair)",
       "ksm,pinner", "I1 I2 I6", "exclusive page behind a R/O clean PTE", 2,
       K_PROCESS | K_PINNER | K_KSM | K_CHECKER, false, kThreads | kRelacy, S::ksm_vs_gup_fast,
       {"MP",
        "KSM write_protect_page of a R/O clean exclusive page, (A4) the same PTE value, against a "
        "R/O GUP-fast pin (B8, pairing 2)",
        "I1 I2 I11", false}},
      {S::wp_fault_vs_pin, "wp_fault_vs_pin",
       "write fault on a pinned page behind a R/O PTE (B4, cow.c 7); R/O pin of a shared page "
       "racing a write (cow.c 9/10)",
       "process,pinner", "I1 I2 I2-data", "pinned exclusive page behind a R/O PTE; shared page", 2,
       K_PROCESS | K_PINNER | K_FORK | K_CHECKER, false, kThreads, S::wp_fault_vs_pin,
       {"", "write fault vs pin", "", false,
        "both sides are PT-locked paths (slow GUP): no lockless side"}},
      {S::vmsplice_cow, "vmsplice_cow",
       "child takes a FOLL_GET reference (vmsplice) and unmaps; parent writes (B3, CVE-2020-29374)",
       "child,parent", "I2-vmsplice", "page shared after fork", 2,
       K_PROCESS | K_FORK | K_PINNER | K_CHECKER, false, kThreads, S::vmsplice_cow,
       {"", "vmsplice COW", "", false,
        "sequential logic bug (B3), no lockless side: anonx-stress and tests/negative show it"}},
      {S::force_write_vs_zap, "force_write_vs_zap",
       "FOLL_FORCE write to a R/O private file mapping against MADV_DONTNEED (B1 Dirty COW, B2 "
       "CVE-2022-2590)",
       "gup,zap", "I5-file", "page-cache page mapped R/O in a private file mapping", 2,
       K_PROCESS | K_PINNER | K_CHECKER, false, kThreads, S::force_write_vs_zap,
       {"", "FOLL_FORCE vs zap", "", false,
        "PT-locked on both sides (slow GUP, zap): no lockless side"}},
      {S::thp_collapse_vs_gup_fast, "thp_collapse_vs_gup_fast",
       "khugepaged collapse (pmdp_collapse_flush) against GUP-fast walking the old PTE table (B10)",
       "khugepaged,pinner", "I2", "512 small pages mapped by one PTE table", 2,
       K_PROCESS | K_PINNER | K_KHUGEPAGED | K_CHECKER, false, kThreads,
       S::thp_collapse_vs_gup_fast,
       {"", "khugepaged collapse vs GUP-fast", "", false,
        "state too large for a bounded search: a THP is 512 struct pages and a PTE table"}},
      {S::thp_split_vs_pin, "thp_split_vs_pin",
       "PMD split propagating PG_anon_exclusive to every subpage against a GUP-fast pin of a "
       "subpage",
       "split,pinner", "I1 I2 I3 I9", "PMD-mapped exclusive THP", 2,
       K_PROCESS | K_PINNER | K_SPLIT | K_CHECKER, false, kThreads, S::thp_split_vs_pin,
       {"", "THP split vs pin", "", false,
        "state too large for a bounded search: 512 subpage flags"}},
      {S::swap_getref_odirect, "swap_getref_odirect",
       "O_DIRECT (FOLL_GET|FOLL_WRITE) against swap-out and swap-in: SWP_EXCLUSIVE (B11)",
       "reclaim,odirect", "I2-odirect", "exclusive page, swapped out and in", 2,
       K_PROCESS | K_PINNER | K_RECLAIM | K_CHECKER, false, kThreads, S::swap_getref_odirect,
       {"", "O_DIRECT vs swap", "", false,
        "sequential logic bug (B11): three paths in turn, no memory-model question"}},
      {S::flags_lock_vs_exclusive, "flags_lock_vs_exclusive",
       "swap-out/swap-in clearing and setting the flag while LRU bits change on the same flags "
       "word (B12)",
       "reclaim+fault,lru", "lost-update I3", "exclusive page on the LRU", 2,
       K_PROCESS | K_RECLAIM | K_LRU | K_CHECKER, true, kThreads, S::flags_lock_vs_exclusive,
       {"", "B12 non-atomic flag update", "", false,
        "needs a plain RMW on an atomic word (plain_word), which Relacy's atomics do not have"}},
      {S::munmap_vs_gup_fast, "munmap_vs_gup_fast",
       "munmap freeing a page table under GUP-fast's IRQ-off walk", "munmap,pinner",
       "walk-of-freed-table", "a page table with one mapped page", 2,
       K_PROCESS | K_PINNER | K_MUNMAP | K_CHECKER, true, kThreads, S::munmap_vs_gup_fast,
       {"", "munmap vs GUP-fast", "", false,
        "page-table free waits on the IRQ-off section counters: a liveness check, not yet a "
        "Relacy pair"}},
      {S::mixed, "mixed", "every actor at once, free-running torture", "all", "I1..I11, data",
       "every state the actors reach", 0, kAllKinds, true, kFree | kTsan, S::mixed,
       {"", "every actor", "", false, "torture mode: unbounded"}},
      // ---- Relacy variants ----------------------------------------------------
      {S::sb_clear_flag_vs_pin, "sb_clear_flag_vs_pin", "", "", "", "exclusive page, writable PTE",
       2, 0, false, kRelacy, S::swapout_vs_gup_fast,
       {"SB",
        "the SB pair alone: swap-out's (A1)..(A4) (ptep_clear_flush_a1, "
        "page_try_share_anon_rmap, set_pte_at) against gup_pte_range, R/W pin (include/linux/"
        "rmap.h page_try_share_anon_rmap, 6.1)",
        "I1 I2 I11", true}},
      {S::mp_ksm_vs_ro_pin, "mp_ksm_vs_ro_pin", "", "", "",
       "exclusive page behind a R/O clean PTE", 2, 0, false, kRelacy, S::ksm_vs_gup_fast,
       {"MP",
        "the MP pair alone: KSM's (A1)..(A4) on a R/O clean exclusive page, (A4) the same PTE "
        "value, against gup_pte_range, R/O pin (mm/ksm.c write_protect_page, 6.1)",
        "I1 I2 I11", true}},
      {S::swapout_vs_gup_fast_ro, "swapout_vs_gup_fast_ro", "", "", "",
       "exclusive page behind a R/O clean PTE", 2, 0, false, kRelacy, S::swapout_vs_gup_fast,
       {"SB+MP", "the same against a R/O pin of a R/O clean exclusive PTE: (B5) is consulted",
        "I1 I2 I11", false}},
      {S::fork_vs_gup_fast_ro, "fork_vs_gup_fast_ro", "", "", "", "exclusive small anon page", 2,
       0, false, kRelacy, S::fork_vs_gup_fast,
       {"SB",
        "the same against a R/O GUP-fast pin: a page fork has shared must be unshared, so "
        "GUP-fast backs off (B6, pairing 3)",
        "I1 I2 I2-shared I11", false, nullptr, "I2-shared,I1", platform::rcu, kFindingF1}},
      {S::fork_vs_gup_fast_haspinned, "fork_vs_gup_fast_haspinned", "", "", "",
       "exclusive small anon page, MMF_HAS_PINNED set", 2, 0, false, kRelacy, S::fork_vs_gup_fast,
       {"SB",
        "the same R/W pair in a process that has pinned before (MMF_HAS_PINNED set in the "
        "set-up): fork's pin check reads the refcount, the word its get_page and GUP-fast's pin "
        "both modify (B6, pairing 3)",
        "I1 I2 I2-shared I11", false}},
  };
  for (unsigned i = 0; i < t.size(); i++)
    if (static_cast<unsigned>(t[i].id) != i)
      throw std::logic_error(std::string("registry: entry ") + t[i].name + " out of order");
  if (t.size() != static_cast<unsigned>(S::count))
    throw std::logic_error("registry: an id has no entry");
  return t;
}

// Mutant -> the scenarios meant to expose it, in the order the kill matrix
// tries them. Every mutant of the catalogue (core/protocol.h) has a row.
struct target_row {
  mutant m;
  std::vector<scenario_id> scenarios;
};

std::vector<target_row> make_targets() {
  std::vector<target_row> t = {
      {mutant::b1_force_write_after_cow, {S::force_write_vs_zap}},
      {mutant::b2_force_write_dirty, {S::force_write_vs_zap}},
      {mutant::b3_reuse_mapcount1, {S::vmsplice_cow}},
      {mutant::b4_no_exclusive_reuse, {S::wp_fault_vs_pin}},
      {mutant::b5_fork_ignores_pins, {S::fork_vs_pin}},
      {mutant::b6_gup_fast_no_seqcount, {S::fork_vs_gup_fast}},
      {mutant::b7_share_no_mb, {S::ksm_vs_gup_fast, S::migrate_vs_gup_fast, S::swapout_vs_gup_fast}},
      {mutant::b7_gup_fast_no_recheck, {S::swapout_vs_gup_fast, S::migrate_vs_gup_fast}},
      {mutant::b7_pin_no_mb, {S::ksm_vs_gup_fast, S::migrate_vs_gup_fast, S::swapout_vs_gup_fast}},
      {mutant::b8_no_wmb_rmb, {S::ksm_vs_gup_fast}},
      {mutant::b9_migrate_clear_early, {S::migrate_vs_gup_fast}},
      {mutant::b10_recheck_pte_only, {S::thp_collapse_vs_gup_fast}},
      {mutant::b11_no_swp_exclusive, {S::swap_getref_odirect}},
      {mutant::b12_nonatomic_flag, {S::flags_lock_vs_exclusive}},
      {mutant::ro_pin_no_unshare, {S::wp_fault_vs_pin, S::fork_vs_gup_fast}},
      {mutant::thp_split_drops_flag, {S::thp_split_vs_pin}},
      {mutant::v519_flush_no_wait, {S::swapout_vs_gup_fast}},
      {mutant::pt_free_no_ipi, {S::munmap_vs_gup_fast}},
      {mutant::ksm_merge_pinned, {S::ksm_vs_gup_fast}},
  };
  for (unsigned i = 0; i < t.size(); i++)
    if (static_cast<unsigned>(t[i].m) != i + 1)
      throw std::logic_error(std::string("registry: targets of ") + mutant_name(t[i].m) +
                             " out of order");
  if (t.size() != kNrMutants) throw std::logic_error("registry: a mutant has no targets");
  return t;
}

const std::vector<target_row> &target_table() {
  static const std::vector<target_row> t = make_targets();
  return t;
}

}  // namespace

const std::vector<scenario_def> &registry() {
  static const std::vector<scenario_def> t = make_registry();
  return t;
}

const scenario_def *find(const std::string &name) {
  for (const auto &s : registry())
    if (name == s.name) return &s;
  return nullptr;
}

const std::vector<scenario_id> &targets(mutant m) {
  return target_table().at(static_cast<unsigned>(m) - 1).scenarios;
}

std::string targets_text(mutant m) {
  std::string out;
  for (scenario_id s : targets(m)) out += (out.empty() ? "" : " ") + std::string(name_of(s));
  return out;
}

bool targets(mutant m, scenario_id s) {
  const scenario_id preset = def(s).mirrors;
  for (scenario_id x : targets(m))
    if (x == preset) return true;
  return false;
}

std::vector<mutant> mutants_of(scenario_id s) {
  std::vector<mutant> out;
  for (const auto &m : kMutants)
    if (targets(m.id, s)) out.push_back(m.id);
  return out;
}

}  // namespace anonx::harness
