// SPDX-License-Identifier: GPL-2.0-only
// pairs.h: the racing pairs of anonx-check, each a Relacy test of two
// threads running the same core/ paths as the stress scenario of the same
// name, with its oracles. Thread 0 is the clearer C ((A1)..(A4)), thread 1
// GUP-fast G ((B1)..(B5)). The set-up runs in the test's constructor, plain
// (relacy_policy.h): a machine of a few frames, one mm, the page under test.
#pragma once

#include "registry.h"
#include "relacy_policy.h"

namespace anonx::check {

// The run-wide protocol (generation, mutant, platform) every pair uses.
inline runtime_protocol g_proto;

// Env hooks: each labelled step becomes a line of Relacy's history.
struct rl_hooks {
  static constexpr bool enabled = true;
  const char *actor = "?";
  void at(const char *label) {
    if (!g_backend.live || !rl::ctx().collecting_history()) return;
    const std::string m = std::string("==== ") + actor + " (" + label + ")";
    rl::ctx().exec_log_msg(rl::debug_info("", "", 0), m.c_str());
  }
};

using check_env = basic_env<runtime_protocol, rl_hooks, rl_atomic>;
using check_machine = basic_machine<rl_atomic>;
using check_mm = basic_mm<rl_atomic>;
using check_page = basic_page<rl_atomic>;

inline constexpr unsigned long A = 3;  // the page under test, as in stress/scenarios.cc

// One machine, one mm with an anon R/W VMA, the two CPUs' envs.
struct pair_world {
  static constexpr bool kPersistent = false;  // see pair_test
  check_machine m{32, 0, 2, 4, 16};
  cpu_stats st[2];
  rl_hooks hooks[2] = {{"C"}, {"G"}};
  check_env env[2];
  violation_sink sink;
  check_mm mm{m};

  pair_world() {
    for (unsigned i = 0; i < 2; i++) {
      env[i].m = &m;
      env[i].cpu = i;
      env[i].stats = &st[i];
      env[i].hooks = &hooks[i];
      env[i].proto = g_proto;
    }
    this_cpu_report().sink = &sink;
    mmap_region(env[0], mm, 0, 64, VM_READ | VM_WRITE);
  }
  ~pair_world() { this_cpu_report().sink = nullptr; }
  pair_world(const pair_world &) = delete;
  pair_world &operator=(const pair_world &) = delete;

  bool write(unsigned long addr, unsigned word, uint64_t v) {
    return cpu_access(env[0], mm, addr, word, true, &v);
  }
  // The pfn mapped at addr (PTE), or -1.
  long mapped_pfn(unsigned long addr) NO_THREAD_SAFETY_ANALYSIS {
    auto *table = pte_table_of<check_env>(mm, addr);
    if (!table) return -1;
    const pte_t pte{table->pte[pte_index(addr)].load(std::memory_order_relaxed)};
    return pte_present(pte) ? static_cast<long>(pte_pfn(pte)) : -1;
  }
  check_page *page_at(unsigned long addr) {
    const long pfn = mapped_pfn(addr);
    return pfn < 0 ? nullptr : env[0].pfn_to_page(static_cast<unsigned long>(pfn));
  }
  // Set-up edit standing for clear_refs (soft-dirty) plus writeback
  // cleaning: the exclusive page stays, its PTE becomes R/O and clean (as
  // stress/scenarios.cc make_pte_ro_clean).
  void make_pte_ro_clean(unsigned long addr) {
    auto *table = pte_table_of<check_env>(mm, addr);
    auto *ptep = &table->pte[pte_index(addr)];
    const pte_t pte{ptep->load(std::memory_order_relaxed)};
    ptep->store(pte_mkclean(pte_wrprotect(pte)).v, std::memory_order_relaxed);
  }
  // Names of the words the pair races on, for the trace.
  void name_words(check_page *p, const char *pname) {
    clear_word_names();
    auto *table = pte_table_of<check_env>(mm, A);
    name_word(table->pte[pte_index(A)].trace_addr(), "", "pte[A]");
    name_word(mm.pmd_offset(A)->trace_addr(), "", "pmd[A]");
    name_word(mm.write_protect_seq.trace_addr(), "", "mm.write_protect_seq");
    name_word(mm.flags.trace_addr(), "", "mm.flags");
    name_word(table->in_use.trace_addr(), "", "pte_table.in_use");
    name_word(p->flags.trace_addr(), pname, ".flags");
    name_word(p->_refcount.trace_addr(), pname, "._refcount");
    name_word(p->_mapcount.trace_addr(), pname, "._mapcount");
    name_word(p->mapping.trace_addr(), pname, ".mapping");
    name_word(p->compound_head.trace_addr(), pname, ".compound_head");
    name_word(p->private_.trace_addr(), pname, ".private");
  }
  // I2 (stress/scenarios.cc check_pin_mapped): a committed pin on p via
  // addr: the process still maps p there.
  void check_pin_mapped(unsigned long addr, check_page *p, const char *what) {
    if (mapped_pfn(addr) != static_cast<long>(p->pfn))
      report_violation("I2", p->pfn,
                       std::string(what) + ": pinned page no longer mapped at its address");
  }
};

// The scenario of a pair (its registry entry names it and says what it
// mirrors): its shape, and a body; `variant` picks the pin kind where a scenario has two.
struct pair_result {
  bool failed = false;
  std::string what;     // Relacy's verdict, with the oracle that failed
  std::string history;  // Relacy's execution history of the failing schedule
  uint64_t schedules = 0;
  double seconds = 0;
};

// ---- swap-out against GUP-fast (B7: the SB pair) ---------------------------

// try_to_unmap_one + page_try_share_anon_rmap (C, via shrink_page) against a
// GUP-fast pin (G). RO: the exclusive page behind a R/O clean PTE and a R/O
// pin (B5 is consulted); else a writable PTE and a R/W pin.
template <bool RO>
struct swapout_pair : pair_world {
  check_page *p = nullptr;
  check_page *pin = nullptr;
  bool cleared = false, pinned = false;
  swapout_pair() {
    write(A, 1, 1);  // faults in: exclusive and writable
    if (RO) make_pte_ro_clean(A);
    p = page_at(A);
    name_words(p, "P");
  }
  void thread(unsigned i) {
    if (i == 0) {
      cleared = shrink_page(env[0], p);
    } else {
      const unsigned flags = (RO ? 0u : FOLL_WRITE) | FOLL_FAST_ONLY | FOLL_LONGTERM;
      pinned = pin_user_pages_fast(env[1], mm, A, 1, flags, &pin) == 1;
    }
  }
  void check() {
    if (pinned) {
      check_pin_mapped(A, pin, harness::name_of(harness::scenario_id::swapout_vs_gup_fast));
      unpin_user_page(env[1], pin);  // sanity_check_pinned_pages: I1 at unpin
    }
  }
};

// ---- KSM against a R/O pin (B8: the MP pair) --------------------------------

// write_protect_page of a R/O clean exclusive page, whose (A4) writes the
// same PTE value back (C, via ksm_merge), against a R/O GUP-fast pin (G).
struct ksm_pair : pair_world {
  check_page *p = nullptr, *kpage = nullptr;
  check_page *pin = nullptr;
  bool merged = false, pinned = false;
  ksm_pair() {
    write(A, 0, 0);
    kpage = ksm_new_stable_page(env[0], page_at(A)->pfn, 1);
    make_pte_ro_clean(A);
    p = page_at(A);
    name_words(p, "P");
  }
  void thread(unsigned i) {
    if (i == 0)
      merged = ksm_merge(env[0], mm, A, kpage);
    else
      pinned = pin_user_pages_fast(env[1], mm, A, 1, FOLL_FAST_ONLY | FOLL_LONGTERM, &pin) == 1;
  }
  void check() {
    if (pinned) {
      check_pin_mapped(A, pin, harness::name_of(harness::scenario_id::ksm_vs_gup_fast));
      unpin_user_page(env[1], pin);
    }
  }
};

// ---- migration against GUP-fast (B9; the SB pair again) ---------------------

// try_to_migrate_one + refcount freeze (C, via migrate_page) against a R/W
// GUP-fast pin (G). A pin of the new page (migrated first, pinned after) is
// fine; a pin of the old page with the old page unmapped is I2.
struct migrate_pair : pair_world {
  check_page *p = nullptr;
  check_page *pin = nullptr;
  bool migrated = false, pinned = false;
  migrate_pair() {
    write(A, 1, 1);
    p = page_at(A);
    name_words(p, "P");
  }
  void thread(unsigned i) {
    if (i == 0)
      migrated = migrate_page(env[0], p);
    else
      pinned = pin_user_pages_fast(env[1], mm, A, 1, FOLL_WRITE | FOLL_FAST_ONLY | FOLL_LONGTERM,
                                   &pin) == 1;
  }
  void check() {
    if (pinned) {
      check_pin_mapped(A, pin, harness::name_of(harness::scenario_id::migrate_vs_gup_fast));
      unpin_user_page(env[1], pin);
    }
  }
};

// ---- fork against GUP-fast (B6: write_protect_seq, pairing 3) ----------------

// dup_mmap (C: write_protect_seq odd, copy_present_pte's pin check and
// write-protect under both PT locks, seq even; the child's PTE table made in
// the set-up) against a GUP-fast pin, R/W, or R/O (RO: fork's write-protect
// and flag clear make the page one a R/O pin must unshare, so GUP-fast backs
// off) (G: seqcount sampled and re-checked around the walk). Fork alone
// takes locks (mmap_lock, the PT locks): G takes none. The oracles of the
// stress scenario: a committed pin is exclusive (I1), still mapped (I2), and
// not shared with the child (I2-shared).
template <bool RO, bool HasPinned = false>
struct fork_pair : pair_world {
  check_page *p = nullptr;
  check_page *pin = nullptr;
  check_mm child{m};
  bool pinned = false;
  fork_pair() {
    write(A, 1, 1);
    p = page_at(A);
    name_words(p, "P");
    // The child's PTE table exists before fork copies (as for a VMA after
    // the first in the same 2 MiB): no allocation, and none of the barriers
    // an allocator may issue, between write_protect_seq and the pin check;
    // and a search short enough to reach GUP-fast inside fork's copy.
    __pte_alloc(env[0], child, A);
    // HasPinned: the process pinned pages before (MMF_HAS_PINNED already
    // set, as for any RDMA or io_uring user after its first pin), so fork's
    // decision rests on the refcount alone.
    if (HasPinned) mm_set_has_pinned_flag(mm);
  }
  void thread(unsigned i) {
    if (i == 0) {
      dup_mmap(env[0], child, mm);
    } else {
      const unsigned flags = (RO ? 0u : FOLL_WRITE) | FOLL_FAST_ONLY;
      pinned = pin_user_pages_fast(env[1], mm, A, 1, flags, &pin) == 1;
      if (!pinned) pin = nullptr;
    }
  }
  void check() NO_THREAD_SAFETY_ANALYSIS {
    if (!pinned) return;
    check_pin_mapped(A, pin, harness::name_of(harness::scenario_id::fork_vs_gup_fast));
    auto *table = pte_table_of<check_env>(child, A);
    const pte_t c{table ? table->pte[pte_index(A)].load(std::memory_order_relaxed) : 0};
    if (pte_present(c) && pte_pfn(c) == pin->pfn)
      report_violation("I2-shared", pin->pfn, "pinned page shared with the child");
    unpin_user_page(env[1], pin);
  }
};

// ---- the SB and MP pairs alone (for the exhaustive bounded searches) ------
//
// The same core/ functions as the paths above, reduced to the labelled steps
// that race: C runs (A1) ptep_clear_flush_a1, page_try_share_anon_rmap
// (smp_mb, (A2), (A3), smp_mb__after_atomic) and (A4) set_pte_at, under the
// PT lock, as try_to_unmap_one and write_protect_page do between their
// bookkeeping; G runs GUP-fast's IRQ-off section and gup_pte_range ((B1)..
// (B5)) and the commit-point oracle. Everything else (isolation, page lock,
// swap slot, MMF_HAS_PINNED) is set up before. Fewer accesses than the whole
// paths, so that a context-bound search is exhaustive in minutes.

// G: local_irq_disable, gup_pte_range for the page at A, local_irq_enable,
// then the oracle internal_get_user_pages_fast runs on a committed pin.
inline bool gup_pte_range_pin(check_env &env, check_mm &mm, unsigned flags, check_page **pin) {
  flags |= FOLL_PIN | FOLL_LONGTERM;
  env.m->cpus.local_irq_disable(env.cpu);
  const pmd_t pmd{mm.pmd_offset(A)->load(std::memory_order_acquire)};
  const long nr = gup_pte_range(env, mm, pmd, A, A + 1, flags, pin, 0);
  env.m->cpus.local_irq_enable(env.cpu);
  check_committed_pins(env, flags, pin, 0, nr);
  return nr == 1;
}

// C: (A1)..(A4) on the PTE at A mapping p; `final` makes (A4)'s entry from
// the cleared one. Returns true when the flag was cleared (the page is now
// shared), false when (A2) saw a pin and the PTE was restored.
template <class Final>
bool clear_flag_steps(check_env &env, check_mm &mm, check_page *p, bool flush,
                      Final final) NO_THREAD_SAFETY_ANALYSIS {
  auto *table = pte_table_of<check_env>(mm, A);
  lock_guard<ptl_t> ptl(table->ptl);
  auto *ptep = &table->pte[pte_index(A)];
  const pte_t orig = ptep_clear_flush_a1(env, ptep, flush);  // (A1)
  if (page_try_share_anon_rmap(env, p)) {                    // (A2), (A3)
    set_pte_at(env, ptep, orig);
    return false;
  }
  env.at("A4");
  set_pte_at(env, ptep, final(orig));  // (A4)
  return true;
}

// SB, clear-flag vs pin: swap-out's steps (the swap PTE, SWP_EXCLUSIVE) on a
// writable exclusive page against a R/W pin. The flush is 5.19's (a forced
// flush for an exclusive page; try_to_unmap_one).
struct sb_pair : pair_world {
  static constexpr bool kPersistent = true;
  check_page *p = nullptr;
  check_page *pin = nullptr;
  bool cleared = false, pinned = false;
  sb_pair() {
    write(A, 1, 1);
    p = page_at(A);
    mm_set_has_pinned_flag(mm);
    name_words(p, "P");
  }
  void thread(unsigned i) {
    if (i == 0)
      cleared = clear_flag_steps(
          env[0], mm, p, !env[0].proto.at_least(generation::v6_1),
          [](pte_t) { return pte_swp_mkexclusive(swp_entry_to_pte(SWP_SWAPFILE, 1)); });
    else
      pinned = gup_pte_range_pin(env[1], mm, FOLL_WRITE, &pin);
  }
  void check() {
    if (pinned) {
      check_pin_mapped(A, pin, "sb: clear-flag vs pin");
      unpin_user_page(env[1], pin);
    }
  }
};

// MP, KSM same-value PTE vs R/O pin: write_protect_page's steps on a R/O
// clean exclusive page ((A1) with ptep_clear_flush, (A4) the same value
// back) against a R/O pin.
struct mp_pair : pair_world {
  static constexpr bool kPersistent = true;
  check_page *p = nullptr;
  check_page *pin = nullptr;
  bool cleared = false, pinned = false;
  mp_pair() {
    write(A, 0, 0);
    make_pte_ro_clean(A);
    p = page_at(A);
    mm_set_has_pinned_flag(mm);
    name_words(p, "P");
  }
  void thread(unsigned i) {
    if (i == 0)
      cleared = clear_flag_steps(env[0], mm, p, true,
                                 [](pte_t e) { return pte_mkclean(pte_wrprotect(e)); });
    else
      pinned = gup_pte_range_pin(env[1], mm, 0, &pin);
  }
  void check() {
    if (pinned) {
      check_pin_mapped(A, pin, "mp: KSM same-value PTE vs R/O pin");
      unpin_user_page(env[1], pin);
    }
  }
};

// The Relacy test of a pair: the set-up is the pair's constructor (plain
// phase), the threads its two sides, after() its oracles. Any violation
// (inline, at G's commit point, or in after()) fails the schedule; the
// test's own sink collects them.
//
// A pair with kPersistent is built once, outside Relacy, by run_pair and
// serves every iteration: its threads touch only atomic words (back to
// their set-up values at the end of each iteration, reset_live_atomics)
// and plain counters. Built inside the test, a pair's set-up frees heap
// blocks, and each free inside a test is a choice point of Relacy's search
// (reuse the block now or later: its use-after-free detection), which
// multiplies a bounded search by 2^19 here.
template <class Pair>
struct pair_test : rl::test_suite<pair_test<Pair>, 2> {
  static inline Pair *persistent = nullptr;
  struct setup_phase {
    setup_phase() { g_backend.live = false; }
  } phase_;
  std::unique_ptr<Pair> own_;
  Pair *pair_;
  violation_sink sink_;

  pair_test() {
    if constexpr (Pair::kPersistent) {
      forget_live_atomics();  // left by an abandoned (failed) iteration, if any
      pair_ = persistent;
    } else {
      g_nr_live = 0;  // an abandoned iteration's words went with its context
      own_.reset(new Pair);
      pair_ = own_.get();
    }
    this_cpu_report().sink = &sink_;
  }
  ~pair_test() {
    reset_live_atomics();
    this_cpu_report().sink = nullptr;
  }

  void before() { g_backend.live = true; }
  void thread(unsigned i) {
    pair_->thread(i);
    fail_on_violation();
  }
  void after() {
    pair_->check();
    fail_on_violation();
  }
  void fail_on_violation() {
    if (sink_.total() == 0) return;
    const auto recs = sink_.records();
    std::string msg = recs.front().check + ": " + recs.front().detail;
    rl::ctx().fail_test(msg.c_str(), rl::test_result_user_assert_failed,
                        rl::debug_info("oracle", "check/pairs.h", 0));
  }
};

}  // namespace anonx::check
