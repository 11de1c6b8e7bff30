// SPDX-License-Identifier: GPL-2.0-only
// paths_write_fault_test.cc: the write fault and the unshare fault
// (mm/memory.c do_wp_page, FAULT_FLAG_UNSHARE from GUP, 6.1): reuse of an
// exclusive page, copy of a shared one, reuse after the child exits
// (page_move_anon_rmap), and the unshare a R/O pin needs; B3 and
// ro_pin_no_unshare replayed.
#include <gtest/gtest.h>

#include "paths_rig.h"

namespace anonx {
namespace {

using namespace paths_rig;

// ---- write fault (mm/memory.c do_wp_page, 6.1) ------------------------------

TEST_P(Paths, WriteFaultOnExclusiveReadOnlyPageReusesIt) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.page_at(mm, kA);
  ASSERT_EQ(mprotect(w.env, mm, 0, 16, false), 0);
  EXPECT_FALSE(pte_write(w.entry(mm, kA)));
  EXPECT_TRUE(excl(p)) << "mprotect keeps the page exclusive";
  ASSERT_EQ(mprotect(w.env, mm, 0, 16, true), 0);
  EXPECT_FALSE(pte_write(w.entry(mm, kA))) << "mprotect(RW) changes only the VMA";
  ASSERT_TRUE(w.write(mm, kA, 43));
  EXPECT_EQ(w.page_at(mm, kA), p);
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  EXPECT_TRUE(excl(p));
  EXPECT_EQ(w.st.cow_reuse, 1u);
  EXPECT_EQ(w.st.cow_copies, 0u);
  EXPECT_EQ(w.read(mm, kA), 43u);
  w.finish({&mm});
}

TEST_P(Paths, WriteFaultOnSharedPageCopies) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.page_at(mm, kA);
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  ASSERT_TRUE(w.write(mm, kA, 43));
  page *np = w.page_at(mm, kA);
  ASSERT_NE(np, nullptr);
  EXPECT_NE(np, p) << "a shared page is copied";
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  EXPECT_TRUE(excl(np));
  EXPECT_EQ(page_mapcount(np), 1);
  EXPECT_EQ(w.st.cow_copies, 1u);
  // The old page stays with the child, R/O, not exclusive.
  EXPECT_EQ(w.page_at(child, kA), p);
  EXPECT_FALSE(pte_write(w.entry(child, kA)));
  EXPECT_FALSE(excl(p));
  EXPECT_EQ(page_mapcount(p), 1);
  EXPECT_EQ(page_ref_count(p), 1);
  EXPECT_EQ(w.read(child, kA), 42u);
  // The child is now the only user: its write fault reuses the page and
  // page_move_anon_rmap hands it to the child's anon_vma.
  ASSERT_TRUE(w.write(child, kA, 44));
  EXPECT_EQ(w.page_at(child, kA), p);
  EXPECT_TRUE(excl(p));
  EXPECT_EQ(p->mapping.load(), anon_mapping<stress_env>(child));
  EXPECT_EQ(w.read(mm, kA), 43u);
  w.finish({&child, &mm});
}

TEST_P(Paths, WriteFaultAfterChildExitReusesViaPageMoveAnonRmap) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.page_at(mm, kA);
  ASSERT_TRUE(w.fork_and_exit_child(mm));
  EXPECT_FALSE(excl(p)) << "the flag does not come back by itself";
  EXPECT_EQ(page_ref_count(p), 1);
  EXPECT_FALSE(pte_write(w.entry(mm, kA)));
  ASSERT_TRUE(w.write(mm, kA, 43));
  EXPECT_EQ(w.page_at(mm, kA), p) << "refcount 1: reuse, no copy";
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  EXPECT_TRUE(excl(p)) << "page_move_anon_rmap sets the flag";
  EXPECT_EQ(p->mapping.load(), anon_mapping<stress_env>(mm));
  EXPECT_EQ(w.st.cow_copies, 0u);
  EXPECT_EQ(w.st.cow_reuse, 1u);
  w.finish({&mm});
}

// B3 replayed: "mapcount == 1 => reuse" ignores a FOLL_GET reference
// (vmsplice): the reference holder then reads the new data.
TEST_P(Paths, ReuseOnMapcountOneLeaksThroughGetReference) {
  for (const bool mutant_on : {false, true}) {
    SCOPED_TRACE(mutant_on ? "b3_reuse_mapcount1" : "correct");
    world w(GetParam(), mutant_on ? mutant::b3_reuse_mapcount1 : mutant::none);
    mm_struct mm(w.m);
    ASSERT_TRUE(w.populate(mm, 42));
    {
      mm_struct child(w.m);
      ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
      page *ref = w.get(child, kA);  // vmsplice in the child
      exit_mmap(w.env, child);
      ASSERT_TRUE(w.write(mm, kA, 43));
      EXPECT_EQ(w.dma_read(ref), mutant_on ? 43u : 42u);
      put_user_page(w.env, ref);
    }
    w.finish({&mm});
  }
}

// ---- unshare fault (mm/memory.c do_wp_page, FAULT_FLAG_UNSHARE, 6.1) --------

TEST_P(Paths, UnshareOfPreviouslySharedPageMarksItExclusiveBehindReadOnlyPte) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.page_at(mm, kA);
  ASSERT_TRUE(w.fork_and_exit_child(mm));
  ASSERT_FALSE(excl(p));
  page *pinned = w.pin(mm, kA, FOLL_LONGTERM, /*fast=*/false);  // R/O pin, slow GUP
  EXPECT_EQ(pinned, p) << "refcount 1: the same page is made exclusive";
  EXPECT_EQ(w.page_at(mm, kA), p);
  EXPECT_FALSE(pte_write(w.entry(mm, kA))) << "unshare leaves the PTE read-only";
  EXPECT_TRUE(excl(p));
  EXPECT_EQ(w.st.unshares, 1u);
  EXPECT_EQ(w.st.cow_copies, 0u);
  ASSERT_TRUE(w.write(mm, kA, 43));
  EXPECT_EQ(w.dma_read(pinned), 43u);
  unpin_user_page(w.env, pinned);
  w.finish({&mm});
}

TEST_P(Paths, UnshareOfSharedPageCopiesBehindReadOnlyPte) {
  for (const bool fast : {false, true}) {
    SCOPED_TRACE(fast ? "pin_user_pages_fast" : "pin_user_pages");
    world w(GetParam());
    mm_struct mm(w.m), child(w.m);
    ASSERT_TRUE(w.populate(mm, 42));
    page *p = w.page_at(mm, kA);
    ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
    page *pinned = w.pin(mm, kA, FOLL_LONGTERM, fast);
    ASSERT_NE(pinned, nullptr);
    EXPECT_NE(pinned, p) << "shared: unsharing copies";
    EXPECT_EQ(w.page_at(mm, kA), pinned);
    EXPECT_FALSE(pte_write(w.entry(mm, kA))) << "unshare leaves the PTE read-only";
    EXPECT_TRUE(excl(pinned));
    EXPECT_FALSE(excl(p));
    EXPECT_EQ(w.page_at(child, kA), p);
    EXPECT_EQ(page_mapcount(p), 1);
    EXPECT_EQ(w.dma_read(pinned), 42u);
    if (fast) {
      EXPECT_EQ(w.st.gup_fast_fallback, 1u) << "GUP-fast (B5) bails to slow GUP";
    }
    ASSERT_TRUE(w.write(mm, kA, 43));
    EXPECT_EQ(w.page_at(mm, kA), pinned) << "exclusive: the write reuses the pinned page";
    EXPECT_EQ(w.dma_read(pinned), 43u);
    EXPECT_EQ(w.read(child, kA), 42u);
    unpin_user_page(w.env, pinned);
    w.finish({&child, &mm});
  }
}

// The R/O pin without unsharing (mutant ro_pin_no_unshare) is what the
// oracles catch: a committed pin on a shared page (I1).
TEST_P(Paths, ReadOnlyPinWithoutUnshareIsCaught) {
  world w(GetParam(), mutant::ro_pin_no_unshare);
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.page_at(mm, kA);
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  page *pinned = w.pin(mm, kA, FOLL_LONGTERM, false);
  EXPECT_EQ(pinned, p);
  EXPECT_GE(
      w.sink.count("I1") + w.sink.count("VM_BUG_ON:follow_page_pte: pinning a shared anon page"),
      1u);
  ASSERT_TRUE(w.write(mm, kA, 43));
  EXPECT_EQ(w.dma_read(pinned), 42u) << "the pin lost coherence";
  unpin_user_page(w.env, pinned);
  w.sink.reset();
  w.finish({&child, &mm});
}

}  // namespace
}  // namespace anonx
