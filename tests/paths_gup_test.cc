// SPDX-License-Identifier: GPL-2.0-only
// paths_gup_test.cc: GUP-fast (mm/gup.c lockless_pages_from_mm,
// gup_pte_range) and slow GUP (mm/gup.c __get_user_pages, follow_page_pte,
// check_vma_flags) on their own, 6.1: which path pins, where a range stops,
// what a fault that finds no memory leaves.
#include <gtest/gtest.h>

#include <vector>

#include "paths_rig.h"

namespace anonx {
namespace {

using namespace paths_rig;

TEST_P(Paths, GupFastWritePinOnWritablePteNeedsNoFallback) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  EXPECT_EQ(p, w.page_at(mm, kA));
  EXPECT_EQ(w.st.gup_fast_success, 1u);
  EXPECT_EQ(w.st.gup_slow, 0u);
  EXPECT_EQ(page_ref_count(p), 1 + GUP_PIN_COUNTING_BIAS);
  unpin_user_page(w.env, p);
  EXPECT_EQ(page_ref_count(p), 1);
  EXPECT_FALSE(page_maybe_dma_pinned(p));
  w.finish({&mm});
}

// GUP over an address no VMA covers pins nothing (the kernel: -EFAULT).
TEST_P(Paths, PinOfAnAddressWithNoVmaPinsNothing) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *pages[1] = {nullptr};
  EXPECT_LE(pin_user_pages_fast(w.env, mm, 100, 1, kLongRW, pages), 0);
  EXPECT_EQ(pages[0], nullptr);
  w.finish({&mm});
}

// A range GUP-fast covers only in part: GUP-fast pins the faulted-in page,
// the slow path faults the next one in and pins it; the caller gets both,
// each the page mapped at its address.
TEST_P(Paths, PinOfTwoPagesFaultsTheSecondInOnTheSlowPath) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  ASSERT_FALSE(pte_present(w.entry(mm, kA + 1)));
  page *pages[2] = {nullptr, nullptr};
  ASSERT_EQ(pin_user_pages_fast(w.env, mm, kA, 2, kLongRW, pages), 2);
  EXPECT_EQ(pages[0], w.page_at(mm, kA));
  EXPECT_EQ(pages[1], w.page_at(mm, kA + 1));
  for (page *p : pages) {
    EXPECT_TRUE(page_maybe_dma_pinned(p));
    unpin_user_page(w.env, p);
  }
  w.finish({&mm});
}

// With no free page the fault behind the second page fails (VM_FAULT_OOM):
// GUP returns the one page it pinned before it, and maps nothing more.
TEST_P(Paths, PinStopsAtAPageItCannotFaultIn) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  const std::vector<page *> held = w.hold_free_pages();
  page *pages[2] = {nullptr, nullptr};
  EXPECT_EQ(pin_user_pages_fast(w.env, mm, kA, 2, kLongRW, pages), 1);
  EXPECT_EQ(pages[0], w.page_at(mm, kA));
  EXPECT_FALSE(pte_present(w.entry(mm, kA + 1)));
  EXPECT_FALSE(w.write(mm, kA + 2, 7)) << "an anonymous fault with no free page fails (OOM)";
  EXPECT_FALSE(pte_present(w.entry(mm, kA + 2)));
  w.release(held);
  if (pages[0]) unpin_user_page(w.env, pages[0]);
  w.finish({&mm});
}

// A write pin of a read-only mapping needs FOLL_FORCE: without it GUP
// fails (the kernel's check_vma_flags: -EFAULT), even for the exclusive
// anon page that a FOLL_FORCE write could follow.
TEST_P(Paths, WritePinOfReadOnlyMappingNeedsFollForce) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  ASSERT_EQ(mprotect(w.env, mm, 0, 16, false), 0);
  ASSERT_FALSE(pte_write(w.entry(mm, kA)));
  page *pages[1] = {nullptr};
  EXPECT_LE(pin_user_pages(w.env, mm, kA, 1, FOLL_WRITE, pages), 0);
  EXPECT_EQ(pages[0], nullptr);
  w.finish({&mm});
}

// write_protect_seq only makes GUP-fast back off while a fork copies: after
// a fork has finished, a FOLL_FAST_ONLY pin of a new exclusive page works.
TEST_P(Paths, GupFastPinsAgainOnceAForkHasFinished) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  ASSERT_TRUE(w.fork_and_exit_child(mm));
  ASSERT_TRUE(w.write(mm, kA + 1, 43));  // a new page, mapped writable
  page *pages[1] = {nullptr};
  EXPECT_EQ(pin_user_pages_fast(w.env, mm, kA + 1, 1, FOLL_WRITE | FOLL_FAST_ONLY, pages), 1);
  EXPECT_EQ(pages[0], w.page_at(mm, kA + 1));
  if (pages[0]) unpin_user_page(w.env, pages[0]);
  w.finish({&mm});
}

// GUP-fast walks PMD by PMD: a range across a PMD boundary is pinned whole
// by GUP-fast alone (FOLL_FAST_ONLY), each page the one at its address;
// with a hole before the boundary it stops at the hole, pinning nothing
// past it.
TEST_P(Paths, GupFastAcrossAPmdBoundaryStopsAtTheFirstHole) {
  world w(GetParam());
  mm_struct mm(w.m);
  constexpr unsigned long kStart = PTRS_PER_PTE - 4;  // 4 pages before the boundary, 4 after
  mmap_region(w.env, mm, kStart - 4, 16, kRW);
  for (unsigned long a = kStart; a < kStart + 8; a++) ASSERT_TRUE(w.write(mm, a, a));
  page *pages[8] = {};
  ASSERT_EQ(pin_user_pages_fast(w.env, mm, kStart, 8, FOLL_WRITE | FOLL_FAST_ONLY, pages), 8);
  for (unsigned i = 0; i < 8; i++) {
    EXPECT_EQ(pages[i], w.page_at(mm, kStart + i)) << i;
    unpin_user_page(w.env, pages[i]);
  }
  madvise_dontneed(w.env, mm, kStart + 3, kStart + 4);  // the last page before the boundary
  page *part[8] = {};
  EXPECT_EQ(pin_user_pages_fast(w.env, mm, kStart, 8, FOLL_WRITE | FOLL_FAST_ONLY, part), 3);
  for (unsigned i = 0; i < 8; i++) {
    if (i < 3) {
      EXPECT_EQ(part[i], w.page_at(mm, kStart + i)) << i;
      if (part[i]) unpin_user_page(w.env, part[i]);
    } else {
      EXPECT_EQ(part[i], nullptr) << i;
    }
  }
  w.finish({&mm});
}

// Faults that need memory and find none fail (VM_FAULT_OOM) and change
// nothing: a first touch that needs a page table, and a COW that needs a
// page for the copy.
TEST_P(Paths, FaultsThatFindNoMemoryFailAndChangeNothing) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  mmap_region(w.env, mm, 2 * PTRS_PER_PTE, 16, kRW);  // a PMD range with no table yet
  const std::vector<long> tables = w.hold_free_tables();
  EXPECT_FALSE(w.write(mm, 2 * PTRS_PER_PTE, 7)) << "no page table left";
  EXPECT_TRUE(pmd_none(w.pmd(mm, 2 * PTRS_PER_PTE)));
  w.release(tables);
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  page *p = w.page_at(mm, kA);
  const std::vector<page *> held = w.hold_free_pages();
  EXPECT_FALSE(w.write(mm, kA, 43)) << "no page for the COW copy";
  EXPECT_EQ(w.page_at(mm, kA), p);
  EXPECT_FALSE(pte_write(w.entry(mm, kA)));
  w.release(held);
  EXPECT_EQ(w.read(mm, kA), 42u);
  EXPECT_EQ(w.read(child, kA), 42u);
  w.finish({&child, &mm});
}

TEST_P(Paths, SlowGupWritePinFaultsInAndReturnsExclusivePage) {
  world w(GetParam());
  mm_struct mm(w.m);
  mmap_region(w.env, mm, 0, 16, kRW);
  page *p = w.pin(mm, kA, kLongRW, /*fast=*/false);  // nothing mapped yet
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p, w.page_at(mm, kA));
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  EXPECT_TRUE(excl(p));
  EXPECT_TRUE(has_pinned(mm));
  unpin_user_page(w.env, p);
  w.finish({&mm});
}

}  // namespace
}  // namespace anonx
