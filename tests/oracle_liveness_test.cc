// SPDX-License-Identifier: GPL-2.0-only
// oracle_liveness_test.cc: every check the model and the harness can report
// is alive: for each, a state that breaks it (made by hand, where no path of
// the correct protocol can reach it) and the check's name in the sink.
// A check that never fires guards nothing, and a suite stays green when one
// dies; these tests turn red instead. The liveness table of docs/oracles.md
// maps every check name to the test that makes it fire (here, in the
// negative suite or in the stress suite); tests/check_liveness.py keeps that
// table complete.
#include <gtest/gtest.h>

#include <string>

#include "anonx.h"
#include "model_rig.h"
#include "stress.h"

namespace anonx {
namespace {

constexpr unsigned kRW = VM_READ | VM_WRITE;
constexpr unsigned long kA = 3;

struct world : testing::model_rig {
  world() : model_rig(generation::v6_2, mutant::none) {}
  mm_struct mm{m};
  bool write(mm_struct &x, unsigned long addr, uint64_t v) {
    return cpu_access(env, x, addr, 0, true, &v);
  }
  // A private anon region [0, 16), the page at kA written: exclusive, writable.
  page *anon_page() {
    mmap_region(env, mm, 0, 16, kRW);
    if (!write(mm, kA, 1)) return nullptr;
    return page_at(mm, kA);
  }
  typename stress_env::template atomic<pteval_t> *ptep(mm_struct &x, unsigned long addr) {
    auto *t = pte_table_of<stress_env>(x, addr);
    return t ? &t->pte[pte_index(addr)] : nullptr;
  }
  page *page_at(mm_struct &x, unsigned long addr) {
    auto *p = ptep(x, addr);
    if (!p) return nullptr;
    const pte_t pte{p->load()};
    return pte_present(pte) ? m.mem.pfn_to_page(pte_pfn(pte)) : nullptr;
  }
  uint64_t fired(const char *check) const { return sink.count(check); }
};

// The flag word edited behind the paths' backs (no sanity check): the
// broken states below.
void raw_set_exclusive(page *p) { set_bit(PG_anon_exclusive, &p->flags); }
void raw_clear_exclusive(page *p) { clear_bit(PG_anon_exclusive, &p->flags); }

TEST(OracleLiveness, I11_CommittedPinNotMaybeDmaPinned) {
  world w;
  page *p = w.anon_page();
  ASSERT_NE(p, nullptr);
  check_committed_pin(w.env, p);  // "committed", but no pin was taken
  EXPECT_EQ(w.fired("I11"), 1u);
  EXPECT_EQ(w.fired("I1"), 0u);
  w.sink.reset();
  exit_mmap(w.env, w.mm);
}

TEST(OracleLiveness, I1_CommittedPinOnSharedPage) {
  world w;
  page *p = w.anon_page();
  ASSERT_NE(p, nullptr);
  page *pin = nullptr;
  ASSERT_EQ(pin_user_pages(w.env, w.mm, kA, 1, FOLL_WRITE | FOLL_LONGTERM, &pin), 1);
  raw_clear_exclusive(p);
  check_committed_pin(w.env, pin);
  EXPECT_EQ(w.fired("I1"), 1u);
  raw_set_exclusive(p);
  w.sink.reset();
  unpin_user_page(w.env, pin);
  exit_mmap(w.env, w.mm);
}

TEST(OracleLiveness, I3_WritablePteOfSharedPage) {
  world w;
  page *p = w.anon_page();
  ASSERT_NE(p, nullptr);
  raw_clear_exclusive(p);
  check_mm(w.env, w.mm);
  EXPECT_EQ(w.fired("I3"), 1u);
  raw_set_exclusive(p);
  w.sink.reset();
  exit_mmap(w.env, w.mm);
}

TEST(OracleLiveness, I4_ExclusivePageMappedTwice) {
  world w;
  mm_struct child(w.m);
  page *p = w.anon_page();
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(dup_mmap(w.env, child, w.mm), 0);  // shared: flag cleared, mapcount 2
  ASSERT_EQ(page_mapcount(p), 2);
  raw_set_exclusive(p);
  check_mm(w.env, w.mm);
  EXPECT_GE(w.fired("I4"), 1u);
  raw_clear_exclusive(p);
  w.sink.reset();
  exit_mmap(w.env, child);
  exit_mmap(w.env, w.mm);
}

TEST(OracleLiveness, I5_SharedPageMappedWritable) {
  world w;
  mm_struct child(w.m);
  page *p = w.anon_page();
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(dup_mmap(w.env, child, w.mm), 0);
  auto *ptep = w.ptep(w.mm, kA);
  const pteval_t ro = ptep->load();
  ptep->store(pte_mkwrite(pte_t{ro}).v);  // a write bit fork forgot to clear
  check_mm(w.env, w.mm);
  EXPECT_EQ(w.fired("I5"), 1u);
  ptep->store(ro);
  w.sink.reset();
  exit_mmap(w.env, child);
  exit_mmap(w.env, w.mm);
}

TEST(OracleLiveness, I6_ExclusiveKsmPage) {
  world w;
  page *p = w.anon_page();
  ASSERT_NE(p, nullptr);
  page *kpage = ksm_new_stable_page(w.env, p->pfn, 1);
  ASSERT_NE(kpage, nullptr);
  ASSERT_TRUE(ksm_merge(w.env, w.mm, kA, kpage));
  raw_set_exclusive(kpage);
  check_mm(w.env, w.mm);
  EXPECT_EQ(w.fired("I6"), 1u);
  raw_clear_exclusive(kpage);
  w.sink.reset();
  exit_mmap(w.env, w.mm);
  w.env.put_page(kpage);
}

TEST(OracleLiveness, I7_ExclusivePageBehindMigrationEntry) {
  world w;
  page *p = w.anon_page();
  ASSERT_NE(p, nullptr);
  auto *ptep = w.ptep(w.mm, kA);
  const pteval_t present = ptep->load();
  ptep->store(swp_entry_to_pte(SWP_MIGRATION_READ, p->pfn).v);  // the flag was not moved
  check_mm(w.env, w.mm);
  EXPECT_EQ(w.fired("I7"), 1u);
  ptep->store(present);
  w.sink.reset();
  exit_mmap(w.env, w.mm);
}

TEST(OracleLiveness, I9_SplitSubpageDiffersFromHead) {
  world w;
  mmap_region(w.env, w.mm, 512, 512, kRW | VM_HUGEPAGE);
  ASSERT_TRUE(w.write(w.mm, 517, 1));
  const pmd_t pmd{w.mm.pmd_offset(517)->load()};
  ASSERT_TRUE(pmd_trans_huge(pmd));
  page *head = w.m.mem.pfn_to_page(pte_pfn(pmd));
  check_split_flags(w.env, head, true);  // only the head carries it before a split
  EXPECT_EQ(w.fired("I9"), 1u);
  w.sink.reset();
  exit_mmap(w.env, w.mm);
}

TEST(OracleLiveness, VmBugOn_WritableNotExclusive) {
  world w;
  page *p = w.anon_page();
  ASSERT_NE(p, nullptr);
  raw_clear_exclusive(p);  // behind a writable PTE: try_to_migrate_one must object
  migrate_page(w.env, p);
  EXPECT_GE(w.fired("VM_BUG_ON:writable but not exclusive (I3)"), 1u);
  w.sink.reset();
  exit_mmap(w.env, w.mm);
}

TEST(OracleLiveness, VmBugOn_SwapPteMapsExclusivePage) {
  world w;
  page *p = w.anon_page();
  ASSERT_NE(p, nullptr);
  get_page(p);  // a FOLL_GET reference keeps it in the swap cache
  ASSERT_TRUE(shrink_page(w.env, p));
  ASSERT_TRUE(PageSwapCache(p));
  raw_set_exclusive(p);  // swap-out must have cleared it
  EXPECT_TRUE(w.write(w.mm, kA, 2));
  EXPECT_EQ(w.fired("VM_BUG_ON:do_swap_page: swap PTE maps an exclusive page (I7)"), 1u);
  w.sink.reset();
  w.env.put_page(p);
  exit_mmap(w.env, w.mm);
}

TEST(OracleLiveness, VmBugOn_ExclusiveButNotFirstMapping) {
  world w;
  page *p = w.anon_page();
  ASSERT_NE(p, nullptr);
  page_add_anon_rmap(w.env, p, RMAP_EXCLUSIVE);  // a second mapping claiming exclusivity
  EXPECT_EQ(w.fired("VM_BUG_ON:page_add_anon_rmap: exclusive but not the first mapping"), 1u);
  page_remove_rmap(p, false);
  w.sink.reset();
  exit_mmap(w.env, w.mm);
}

TEST(OracleLiveness, VmBugOn_FollowPagePteSharedPage) {
  world w;
  mm_struct child(w.m);
  page *p = w.anon_page();
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(dup_mmap(w.env, child, w.mm), 0);
  w.env.proto.mut = mutant::ro_pin_no_unshare;  // pins the shared page as it is
  page *pin = nullptr;
  ASSERT_EQ(pin_user_pages(w.env, w.mm, kA, 1, FOLL_LONGTERM, &pin), 1);
  EXPECT_EQ(w.fired("VM_BUG_ON:follow_page_pte: pinning a shared anon page"), 1u);
  w.env.proto.mut = mutant::none;
  w.sink.reset();
  unpin_user_page(w.env, pin);
  w.sink.reset();
  exit_mmap(w.env, child);
  exit_mmap(w.env, w.mm);
}

// unlock_page of a page whose PG_locked is clear: the kernel's
// VM_BUG_ON_FOLIO in folio_unlock.
TEST(OracleLiveness, VmBugOn_UnlockOfUnlockedPage) {
  world w;
  page *p = w.anon_page();
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(trylock_page(p));
  unlock_page(p);
  EXPECT_EQ(w.fired("VM_BUG_ON:unlock_page of an unlocked page"), 0u) << "a locked page";
  unlock_page(p);
  EXPECT_EQ(w.fired("VM_BUG_ON:unlock_page of an unlocked page"), 1u);
  w.sink.reset();
  exit_mmap(w.env, w.mm);
}

// Every PMD-mapped THP has one deposited PTE table: a split or a zap that
// finds none, and a second deposit on the same PMD, are model bugs.
TEST(OracleLiveness, VmBugOn_ThpWithoutDepositedTable) {
  world w;
  mmap_region(w.env, w.mm, 512, 512, VM_READ | VM_WRITE | VM_HUGEPAGE);
  ASSERT_TRUE(w.write(w.mm, 517, 1));
  ASSERT_TRUE(pmd_trans_huge(pmd_t{w.mm.pmd_offset(517)->load()}));
  long t;
  {
    lock_guard<spinlock_t> g(w.mm.page_table_lock);
    t = pgtable_trans_huge_withdraw(w.mm, 512);
  }
  ASSERT_GE(t, 0);
  w.m.tables.free(static_cast<unsigned long>(t));
  __split_huge_pmd(w.env, w.mm, 517);
  EXPECT_EQ(w.fired("VM_BUG_ON:a PMD-mapped THP without its deposited table"), 1u);
  w.sink.reset();
  exit_mmap(w.env, w.mm);  // zap_deposited_table finds none either
  EXPECT_EQ(w.fired("VM_BUG_ON:a PMD-mapped THP without its deposited table"), 1u);
}
TEST(OracleLiveness, VmBugOn_PmdWithTwoDepositedTables) {
  world w;
  mmap_region(w.env, w.mm, 512, 512, VM_READ | VM_WRITE | VM_HUGEPAGE);
  ASSERT_TRUE(w.write(w.mm, 517, 1));
  const long t = w.m.tables.alloc();
  ASSERT_GE(t, 0);
  long first;
  {
    lock_guard<spinlock_t> g(w.mm.page_table_lock);
    first = w.mm.pmd_huge_pte[1];
    pgtable_trans_huge_deposit(w.mm, 512, t);
    w.mm.pmd_huge_pte[1] = first;  // undo: the model keeps one slot
  }
  EXPECT_EQ(w.fired("VM_BUG_ON:a PMD with two deposited tables"), 1u);
  w.sink.reset();
  w.m.tables.free(static_cast<unsigned long>(t));
  exit_mmap(w.env, w.mm);
}

// The harness's fork isolation check (stress/stress.h), on a fork that
// left one page writable in both processes.
// The page at kA written, then a fork: parent and child share it R/O.
void fork_shared_page(world &w, mm_struct &child) {
  ASSERT_NE(w.anon_page(), nullptr);
  ASSERT_EQ(dup_mmap(w.env, child, w.mm), 0);
}

TEST(OracleLiveness, ForkLeak_ParentAndChildShareAWritablePage) {
  world w;
  mm_struct child(w.m);
  ASSERT_NO_FATAL_FAILURE(fork_shared_page(w, child));
  auto *pp = w.ptep(w.mm, kA);
  auto *cp = w.ptep(child, kA);
  const pteval_t pv = pp->load(), cv = cp->load();
  pp->store(pte_mkwrite(pte_t{pv}).v);
  cp->store(pte_mkwrite(pte_t{cv}).v);
  EXPECT_TRUE(stress::check_fork_isolation(w.env, w.mm, child, kA, 1));
  EXPECT_EQ(w.fired("fork-leak"), 2u);  // both directions
  EXPECT_EQ(w.sink.total(), 2u);
  pp->store(pv);
  cp->store(cv);
  w.sink.reset();
  exit_mmap(w.env, child);
  exit_mmap(w.env, w.mm);
}

// And silent on a correct fork.
TEST(OracleLiveness, ForkLeak_SilentOnACorrectFork) {
  world w;
  mm_struct child(w.m);
  ASSERT_NO_FATAL_FAILURE(fork_shared_page(w, child));
  EXPECT_TRUE(stress::check_fork_isolation(w.env, w.mm, child, kA, 1));
  EXPECT_EQ(w.sink.total(), 0u);
  exit_mmap(w.env, child);
  exit_mmap(w.env, w.mm);
}

}  // namespace
}  // namespace anonx
