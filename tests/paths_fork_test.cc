// SPDX-License-Identifier: GPL-2.0-only
// paths_fork_test.cc: fork (kernel/fork.c dup_mmap, mm/memory.c
// copy_present_pte and copy_nonpresent_pte, 6.1): an unpinned exclusive
// page is shared read-only, a pinned one copied for the child (or fork fails
// with -ENOMEM), a VM_DONTCOPY VMA left out, a swap entry loses
// SWP_EXCLUSIVE; B5 (fork ignoring pins) loses the pin.
#include <gtest/gtest.h>

#include <vector>

#include "paths_rig.h"

namespace anonx {
namespace {

using namespace paths_rig;

TEST_P(Paths, ForkOfUnpinnedExclusivePageSharesItReadOnly) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.page_at(mm, kA);
  const unsigned seq = mm.write_protect_seq.load();
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  EXPECT_EQ(mm.write_protect_seq.load(), seq + 2) << "fork brackets the copy with the seqcount";
  EXPECT_FALSE(has_pinned(mm));
  EXPECT_EQ(w.page_at(child, kA), p);
  EXPECT_FALSE(pte_write(w.entry(mm, kA))) << "parent PTE write-protected";
  EXPECT_FALSE(pte_write(w.entry(child, kA)));
  EXPECT_FALSE(excl(p)) << "fork clears PG_anon_exclusive (page_try_dup_anon_rmap)";
  EXPECT_EQ(page_mapcount(p), 2);
  EXPECT_EQ(page_ref_count(p), 2);
  EXPECT_EQ(w.read(child, kA), 42u);
  w.finish({&child, &mm});
}

TEST_P(Paths, ForkOfPinnedPageCopiesForTheChild) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  ASSERT_EQ(p, w.page_at(mm, kA));
  EXPECT_TRUE(has_pinned(mm)) << "FOLL_PIN sets MMF_HAS_PINNED";
  EXPECT_TRUE(page_maybe_dma_pinned(p));
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  // Parent: untouched, writable, exclusive, pinned.
  EXPECT_EQ(w.page_at(mm, kA), p);
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  EXPECT_TRUE(excl(p));
  EXPECT_EQ(page_mapcount(p), 1);
  EXPECT_EQ(page_ref_count(p), 1 + GUP_PIN_COUNTING_BIAS);
  // Child: a fresh exclusive copy, mapped writable.
  page *c = w.page_at(child, kA);
  ASSERT_NE(c, nullptr);
  EXPECT_NE(c, p);
  EXPECT_TRUE(pte_write(w.entry(child, kA)));
  EXPECT_TRUE(excl(c));
  EXPECT_EQ(page_mapcount(c), 1);
  EXPECT_EQ(w.read(child, kA), 42u);
  // Writes stay private and the pin sees the parent's.
  ASSERT_TRUE(w.write(mm, kA, 43));
  EXPECT_EQ(w.dma_read(p), 43u);
  EXPECT_EQ(w.read(child, kA), 42u);
  unpin_user_page(w.env, p);
  w.finish({&child, &mm});
}

// MADV_DONTFORK (VM_DONTCOPY), the pre-5.9 workaround for RDMA buffers: fork
// leaves the VMA out of the child, so a pinned page stays mapped, writable
// and exclusive in the parent alone, with no early copy.
TEST_P(Paths, ForkSkipsDontforkVmaAndLeavesItsPinnedPageAlone) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  ASSERT_NE(p, nullptr);
  const int refs = page_ref_count(p);
  const unsigned long free0 = w.m.mem.nr_free_small();
  for (auto &vma : mm.vmas) vma.vm_flags |= VM_DONTCOPY;  // madvise(MADV_DONTFORK)
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  EXPECT_TRUE(child.vmas.empty()) << "the VMA is not copied";
  EXPECT_FALSE(pte_present(w.entry(child, kA)));
  EXPECT_EQ(w.m.mem.nr_free_small(), free0) << "no early copy for a VMA the child lacks";
  EXPECT_EQ(w.page_at(mm, kA), p);
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  if (w.env.has_anon_exclusive()) {
    EXPECT_TRUE(excl(p));
  }
  EXPECT_EQ(page_mapcount(p), 1);
  EXPECT_EQ(page_ref_count(p), refs);
  unpin_user_page(w.env, p);
  w.finish({&child, &mm});
}

// Early COW of a pinned page needs a page for the child: with none left,
// fork fails with -ENOMEM (copy_present_page), and the parent keeps its
// pinned page as it was.
TEST_P(Paths, ForkOfPinnedPageFailsWithEnomemWhenNoPageIsLeft) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  ASSERT_NE(p, nullptr);
  // The child's page table first (so the copy reaches the PTE), then every
  // free frame held.
  ASSERT_EQ(__pte_alloc(w.env, child, kA), VM_FAULT_OK);
  const std::vector<page *> held = w.hold_free_pages();
  ASSERT_FALSE(held.empty());
  EXPECT_EQ(dup_mmap(w.env, child, mm), -ENOMEM);
  EXPECT_FALSE(pte_present(w.entry(child, kA))) << "no child PTE without a copy";
  EXPECT_EQ(w.page_at(mm, kA), p);
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  EXPECT_EQ(page_mapcount(p), 1);
  w.release(held);
  unpin_user_page(w.env, p);
  w.finish({&child, &mm});
}

// B5 replayed: a fork that ignores pins shares the pinned page; the parent's
// next write then COWs away from it.
TEST_P(Paths, ForkIgnoringPinsLosesThePin) {
  world w(GetParam(), mutant::b5_fork_ignores_pins);
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  EXPECT_EQ(w.page_at(child, kA), p);
  ASSERT_TRUE(w.write(mm, kA, 43));
  EXPECT_NE(w.page_at(mm, kA), p);
  EXPECT_EQ(w.dma_read(p), 42u) << "the pin no longer sees the process's writes";
  unpin_user_page(w.env, p);  // I1 at unpin: the pinned page lost its flag
  EXPECT_GE(w.sink.count("I1"), 1u);
  w.sink.reset();
  w.finish({&child, &mm});
}

TEST_P(Paths, ForkOfSwapEntryDropsSwpExclusive) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  ASSERT_TRUE(shrink_page(w.env, w.page_at(mm, kA)));
  ASSERT_TRUE(pte_swp_exclusive(w.entry(mm, kA)));
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  const pte_t pe = w.entry(mm, kA), ce = w.entry(child, kA);
  EXPECT_TRUE(is_swap_entry(pe));
  EXPECT_FALSE(pte_swp_exclusive(pe)) << "the parent's swap PTE is shared now";
  EXPECT_EQ(ce.v, pe.v);
  EXPECT_EQ(w.m.swap.swap_count(swp_offset(pe)), 2);
  EXPECT_EQ(w.read(child, kA), 42u);
  EXPECT_EQ(w.read(mm, kA), 42u);
  w.finish({&child, &mm});
}

}  // namespace
}  // namespace anonx
