// SPDX-License-Identifier: GPL-2.0-only
// paths_thp_test.cc: THPs (mm/huge_memory.c do_huge_pmd_anonymous_page,
// __split_huge_pmd, copy_huge_pmd, zap_huge_pmd; mm/khugepaged.c
// collapse_huge_page, 6.1): the flag on the head, its propagation at split
// (I9), fork of a THP, the collapse and its deposited page table.
#include <gtest/gtest.h>

#include <vector>

#include "paths_rig.h"

namespace anonx {
namespace {

using namespace paths_rig;

TEST_P(Paths, HugeFaultMapsPmdWithFlagOnHeadOnly) {
  world w(GetParam());
  mm_struct mm(w.m);
  mmap_region(w.env, mm, kThp, 512, kRW | VM_HUGEPAGE);
  ASSERT_TRUE(w.write(mm, kTa, 42));
  const pmd_t pmd = w.pmd(mm, kTa);
  ASSERT_TRUE(pmd_trans_huge(pmd));
  EXPECT_TRUE(pte_write(pmd));
  page *head = w.m.mem.pfn_to_page(pte_pfn(pmd));
  EXPECT_TRUE(PageTransHuge(head));
  EXPECT_TRUE(excl(head));
  for (unsigned i = 1; i < HPAGE_PMD_NR; i++) ASSERT_FALSE(excl(head + i)) << "subpage " << i;
  EXPECT_EQ(head[1].compound_mapcount.load(), 0) << "one PMD mapping";
  EXPECT_EQ(page_ref_count(head), 1);
  EXPECT_EQ(w.read(mm, kTa), 42u);
  EXPECT_EQ(w.read(mm, kThp + 100), 0u);
  EXPECT_EQ(w.m.mem.nr_free_huge(), w.free_huge0 - 1);
  w.finish({&mm});
}

TEST_P(Paths, SplitPropagatesFlagToAllSubpages) {
  world w(GetParam());
  mm_struct mm(w.m);
  mmap_region(w.env, mm, kThp, 512, kRW | VM_HUGEPAGE);
  ASSERT_TRUE(w.write(mm, kTa, 42));
  page *head = w.thp_head(mm, kTa);
  __split_huge_pmd(w.env, mm, kTa);
  ASSERT_TRUE(pmd_table(w.pmd(mm, kTa)));
  for (unsigned i = 0; i < HPAGE_PMD_NR; i++) {
    const pte_t pte = w.entry(mm, kThp + i);
    ASSERT_TRUE(pte_present(pte)) << i;
    ASSERT_EQ(pte_pfn(pte), head->pfn + i);
    ASSERT_TRUE(pte_write(pte)) << i;
    ASSERT_TRUE(excl(head + i)) << "I9: subpage " << i;
    ASSERT_EQ(page_mapcount(head + i), 1) << i;
  }
  EXPECT_EQ(page_ref_count(head), static_cast<int>(HPAGE_PMD_NR));
  EXPECT_EQ(w.read(mm, kTa), 42u);
  w.finish({&mm});
}

TEST_P(Paths, SplitDroppingTheFlagIsCaughtByI9) {
  world w(GetParam(), mutant::thp_split_drops_flag);
  mm_struct mm(w.m);
  mmap_region(w.env, mm, kThp, 512, kRW | VM_HUGEPAGE);
  ASSERT_TRUE(w.write(mm, kTa, 42));
  __split_huge_pmd(w.env, mm, kTa);
  EXPECT_GE(w.sink.count("I9"), 1u);
  check_mm(w.env, mm);
  EXPECT_GE(w.sink.count("I3"), 1u) << "writable subpage PTEs without the flag";
  exit_mmap(w.env, mm);
  w.sink.reset();
  w.finish({&mm});
}

// copy_huge_pmd needs a page table to deposit for the child: with none
// left, fork fails with -ENOMEM and the parent's THP stays as it was.
TEST_P(Paths, ForkOfThpFailsWithEnomemWhenNoPageTableIsLeft) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  mmap_region(w.env, mm, kThp, 512, kRW | VM_HUGEPAGE);
  ASSERT_TRUE(w.write(mm, kTa, 42));
  ASSERT_TRUE(pmd_trans_huge(w.pmd(mm, kTa)));
  page *head = w.thp_head(mm, kTa);
  const std::vector<long> held = w.hold_free_tables();
  EXPECT_EQ(dup_mmap(w.env, child, mm), -ENOMEM);
  w.release(held);
  EXPECT_TRUE(pmd_none(w.pmd(child, kTa)));
  EXPECT_TRUE(pmd_trans_huge(w.pmd(mm, kTa)));
  EXPECT_TRUE(pte_write(w.pmd(mm, kTa)));
  if (w.env.has_anon_exclusive()) {
    EXPECT_TRUE(excl(head));
  }
  EXPECT_EQ(page_ref_count(head), 1);
  w.finish({&child, &mm});
}

TEST_P(Paths, ForkOfUnpinnedThpSharesThePmd) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  mmap_region(w.env, mm, kThp, 512, kRW | VM_HUGEPAGE);
  ASSERT_TRUE(w.write(mm, kTa, 42));
  page *head = w.thp_head(mm, kTa);
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  ASSERT_TRUE(pmd_trans_huge(w.pmd(mm, kTa)));
  ASSERT_TRUE(pmd_trans_huge(w.pmd(child, kTa)));
  EXPECT_EQ(pte_pfn(w.pmd(child, kTa)), head->pfn);
  EXPECT_FALSE(pte_write(w.pmd(mm, kTa)));
  EXPECT_FALSE(pte_write(w.pmd(child, kTa)));
  EXPECT_FALSE(excl(head));
  EXPECT_EQ(head[1].compound_mapcount.load(), 1) << "two PMD mappings";
  EXPECT_EQ(page_ref_count(head), 2);
  // A write fault on the shared THP splits the writer's PMD and copies the
  // subpage; the other mapping keeps the THP.
  ASSERT_TRUE(w.write(mm, kTa, 43));
  EXPECT_TRUE(pmd_table(w.pmd(mm, kTa)));
  EXPECT_NE(w.page_at(mm, kTa), head + 5);
  EXPECT_EQ(w.page_at(mm, kTa + 1), head + 6);
  EXPECT_FALSE(excl(head + 6)) << "split of a shared PMD: no subpage is exclusive";
  EXPECT_EQ(w.read(child, kTa), 42u);
  w.finish({&child, &mm});
}

TEST_P(Paths, HugeWriteFaultAfterChildExitReusesThePmd) {
  world w(GetParam());
  mm_struct mm(w.m);
  mmap_region(w.env, mm, kThp, 512, kRW | VM_HUGEPAGE);
  ASSERT_TRUE(w.write(mm, kTa, 42));
  page *head = w.thp_head(mm, kTa);
  ASSERT_TRUE(w.fork_and_exit_child(mm));
  ASSERT_FALSE(excl(head));
  ASSERT_TRUE(w.write(mm, kTa, 43));
  const pmd_t pmd = w.pmd(mm, kTa);
  ASSERT_TRUE(pmd_trans_huge(pmd)) << "reused as a whole, no split";
  EXPECT_EQ(pte_pfn(pmd), head->pfn);
  EXPECT_TRUE(pte_write(pmd));
  EXPECT_TRUE(excl(head));
  w.finish({&mm});
}

TEST_P(Paths, ForkOfPinnedThpSplitsAndCopiesThePinnedSubpage) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  mmap_region(w.env, mm, kThp, 512, kRW | VM_HUGEPAGE);
  ASSERT_TRUE(w.write(mm, kTa, 42));
  page *head = w.thp_head(mm, kTa);
  page *p = w.pin(mm, kTa, kLongRW);
  ASSERT_EQ(p, head + 5);
  EXPECT_EQ(head[1].compound_pincount.load(), 1);
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  // Parent: split, every subpage still its own, writable and exclusive.
  ASSERT_TRUE(pmd_table(w.pmd(mm, kTa)));
  EXPECT_EQ(w.page_at(mm, kTa), p);
  EXPECT_TRUE(pte_write(w.entry(mm, kTa)));
  EXPECT_TRUE(excl(p));
  EXPECT_TRUE(excl(head));
  // Child: its own copy of the pinned subpage.
  page *c = w.page_at(child, kTa);
  ASSERT_NE(c, nullptr);
  EXPECT_NE(compound_head(c), head);
  EXPECT_TRUE(excl(c));
  EXPECT_EQ(w.read(child, kTa), 42u);
  // maybe_dma_pinned is folio-wide: every subpage was copied, not only the pinned one.
  EXPECT_NE(compound_head(w.page_at(child, kThp + 100)), head);
  ASSERT_TRUE(w.write(mm, kTa, 43));
  EXPECT_EQ(w.dma_read(p), 43u);
  EXPECT_EQ(w.read(child, kTa), 42u);
  unpin_user_page(w.env, p);
  EXPECT_EQ(head[1].compound_pincount.load(), 0);
  w.finish({&child, &mm});
}

TEST_P(Paths, CollapseRefusesPinnedPageThenMapsNewExclusiveThp) {
  world w(GetParam());
  mm_struct mm(w.m);
  mmap_region(w.env, mm, 0, 512, kRW);  // one whole PMD of small pages
  for (unsigned long a = 0; a < 512; a++) ASSERT_TRUE(w.write(mm, a, 1000 + a));
  const pmd_t before = w.pmd(mm, 0);
  ASSERT_TRUE(pmd_table(before));
  page *p = w.pin(mm, 7, kLongRW);
  EXPECT_FALSE(collapse_huge_page(w.env, mm, 0));
  EXPECT_EQ(w.pmd(mm, 0).v, before.v) << "PMD restored";
  EXPECT_EQ(w.page_at(mm, 7), p);
  EXPECT_TRUE(excl(p));
  EXPECT_EQ(w.m.mem.nr_free_huge(), w.free_huge0) << "the THP allocated for the collapse went back";
  unpin_user_page(w.env, p);
  ASSERT_TRUE(collapse_huge_page(w.env, mm, 0));
  const pmd_t pmd = w.pmd(mm, 0);
  ASSERT_TRUE(pmd_trans_huge(pmd));
  EXPECT_TRUE(pte_write(pmd));
  page *head = w.m.mem.pfn_to_page(pte_pfn(pmd));
  EXPECT_TRUE(excl(head)) << "a new THP is exclusive";
  EXPECT_EQ(head[1].compound_mapcount.load(), 0);
  EXPECT_TRUE(PageBuddy(p)) << "the small pages are freed";
  EXPECT_EQ(w.m.tables[pmd_table_index(before)].in_use.load(), 1) << "old PTE table deposited";
  for (unsigned long a = 0; a < 512; a += 97) EXPECT_EQ(w.read(mm, a), 1000 + a);
  EXPECT_EQ(w.m.mem.nr_free_small(), w.free_small0);
  w.finish({&mm});
}

// The collapse of a whole PMD of written small pages, [0, 512), each
// holding 1000 + its address. Returns the PMD it replaced (a table).
pmd_t collapse_written_range(world &w, mm_struct &mm) {
  mmap_region(w.env, mm, 0, 512, kRW);
  for (unsigned long a = 0; a < 512; a++) EXPECT_TRUE(w.write(mm, a, 1000 + a));
  const pmd_t before = w.pmd(mm, 0);
  EXPECT_TRUE(pmd_table(before));
  return before;
}
unsigned tables_in_use(world &w) {
  unsigned n = 0;
  for (unsigned t = 0; t < world::kTables; t++) n += w.m.tables[t].in_use.load() != 0;
  return n;
}

// 6.1 __collapse_huge_page_copy: ptep_clear of each entry after its copy,
// and collapse_huge_page deposits the emptied table with the THP.
TEST_P(Paths, CollapseClearsTheOldPtesAndDepositsTheTable) {
  world w(GetParam());
  mm_struct mm(w.m);
  const pmd_t before = collapse_written_range(w, mm);
  const unsigned long t = pmd_table_index(before);
  ASSERT_TRUE(collapse_huge_page(w.env, mm, 0));
  ASSERT_TRUE(pmd_trans_huge(w.pmd(mm, 0)));
  EXPECT_EQ(w.m.tables[t].in_use.load(), 1) << "the old table is deposited, not freed";
  EXPECT_EQ(mm.pmd_huge_pte[0], static_cast<long>(t));
  for (unsigned i = 0; i < PTRS_PER_PTE; i++)
    ASSERT_TRUE(pte_none(pte_t{w.m.tables[t].pte[i].load()})) << "old PTE " << i << " not cleared";
  w.finish({&mm});
}

// SCAN_PAGE_RO: __collapse_huge_page_isolate refuses a range in which no
// PTE is writable, whether the VMA lost VM_WRITE (mprotect) or not (every
// PTE write-protected, then VM_WRITE back: nothing written since).
TEST_P(Paths, CollapseRefusesAnAllReadOnlyRange) {
  for (const bool vm_write : {false, true}) {
    SCOPED_TRACE(vm_write ? "VM_WRITE, R/O PTEs" : "no VM_WRITE");
    world w(GetParam());
    mm_struct mm(w.m);
    const pmd_t before = collapse_written_range(w, mm);
    ASSERT_EQ(mprotect(w.env, mm, 0, 512, false), 0);
    if (vm_write) {
      ASSERT_EQ(mprotect(w.env, mm, 0, 512, true), 0);
    }
    page *p = w.page_at(mm, 7);
    EXPECT_FALSE(collapse_huge_page(w.env, mm, 0)) << "SCAN_PAGE_RO";
    EXPECT_EQ(w.pmd(mm, 0).v, before.v) << "PMD restored";
    EXPECT_EQ(w.page_at(mm, 7), p);
    EXPECT_EQ(w.m.mem.nr_free_huge(), w.free_huge0);
    EXPECT_EQ(w.read(mm, 7), 1007u);
    w.finish({&mm});
  }
}

// maybe_pmd_mkwrite: the THP's PMD is writable iff the VMA has VM_WRITE,
// whatever the old PTEs said. One writable PTE among R/O ones in a
// VM_WRITE VMA gives a writable PMD. The converse needs a writable PTE in
// a VMA without VM_WRITE, which the kernel never shows khugepaged (mprotect
// changes both under the mmap write lock); the test clears VM_WRITE by hand,
// the only way to tell "from the VMA" from "from any PTE".
TEST_P(Paths, CollapsedPmdIsWritableIffVmWrite) {
  {
    world w(GetParam());
    mm_struct mm(w.m);
    collapse_written_range(w, mm);
    ASSERT_EQ(mprotect(w.env, mm, 0, 512, false), 0);
    ASSERT_EQ(mprotect(w.env, mm, 0, 512, true), 0);
    ASSERT_TRUE(w.write(mm, 9, 9));  // exclusive: reused, the one writable PTE
    ASSERT_TRUE(pte_write(w.entry(mm, 9)));
    ASSERT_FALSE(pte_write(w.entry(mm, 8)));
    ASSERT_TRUE(collapse_huge_page(w.env, mm, 0));
    EXPECT_TRUE(pte_write(w.pmd(mm, 0))) << "VM_WRITE";
    EXPECT_EQ(w.read(mm, 9), 9u);
    w.finish({&mm});
  }
  {
    world w(GetParam());
    mm_struct mm(w.m);
    collapse_written_range(w, mm);
    ASSERT_TRUE(pte_write(w.entry(mm, 8)));
    mm.find_vma(0)->vm_flags &= ~VM_WRITE;
    ASSERT_TRUE(collapse_huge_page(w.env, mm, 0));
    ASSERT_TRUE(pmd_trans_huge(w.pmd(mm, 0)));
    EXPECT_FALSE(pte_write(w.pmd(mm, 0))) << "writable PTEs, no VM_WRITE: R/O";
    EXPECT_EQ(w.read(mm, 8), 1008u);
    w.finish({&mm});
  }
}

// __split_huge_pmd withdraws the table the collapse deposited: the split
// allocates nothing and the PMD points at the old table again, refilled
// with the THP's subpages.
TEST_P(Paths, SplitAfterCollapseReusesTheDepositedTable) {
  world w(GetParam());
  mm_struct mm(w.m);
  const pmd_t before = collapse_written_range(w, mm);
  ASSERT_TRUE(collapse_huge_page(w.env, mm, 0));
  page *head = w.thp_head(mm, 0);
  const unsigned in_use = tables_in_use(w);
  __split_huge_pmd(w.env, mm, 7);
  const pmd_t after = w.pmd(mm, 0);
  ASSERT_TRUE(pmd_table(after));
  EXPECT_EQ(pmd_table_index(after), pmd_table_index(before)) << "the deposited table";
  EXPECT_EQ(tables_in_use(w), in_use) << "the split allocated a table";
  EXPECT_EQ(mm.pmd_huge_pte[0], -1) << "withdrawn";
  for (unsigned i = 0; i < PTRS_PER_PTE; i++) ASSERT_EQ(w.page_at(mm, i), head + i) << i;
  EXPECT_TRUE(excl(head + 7));
  EXPECT_EQ(w.read(mm, 7), 1007u);
  w.finish({&mm});
}

// The deposited table goes with the THP: zap_huge_pmd frees it (MADV_DONTNEED
// here, exit_mmap in finish() for the huge fault's and fork's), so no table
// leaks after a collapse, a huge fault or a fork of a THP.
TEST_P(Paths, ZapOfAThpFreesItsDepositedTable) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  const pmd_t before = collapse_written_range(w, mm);
  ASSERT_TRUE(collapse_huge_page(w.env, mm, 0));
  madvise_dontneed(w.env, mm, 0, 512);
  EXPECT_TRUE(pmd_none(w.pmd(mm, 0)));
  EXPECT_EQ(w.m.tables[pmd_table_index(before)].in_use.load(), 0) << "deposited table leaked";
  EXPECT_EQ(mm.pmd_huge_pte[0], -1);
  const unsigned in_use = tables_in_use(w);
  mmap_region(w.env, mm, kThp, 512, kRW | VM_HUGEPAGE);
  ASSERT_TRUE(w.write(mm, kTa, 42));
  ASSERT_TRUE(pmd_trans_huge(w.pmd(mm, kTa)));
  EXPECT_EQ(tables_in_use(w), in_use + 1) << "the huge fault deposits a table";
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  ASSERT_TRUE(pmd_trans_huge(w.pmd(child, kTa)));
  EXPECT_EQ(tables_in_use(w), in_use + 2) << "fork deposits one with the child's PMD";
  w.finish({&child, &mm});
}

}  // namespace
}  // namespace anonx
