// SPDX-License-Identifier: GPL-2.0-only
// paths_generations_test.cc: the generations around the flag. v5.18 has
// no PG_anon_exclusive (reuse iff refcount == 1, early COW of pinned pages
// at fork); v6.2 unshares non-anon pages for R/O long-term pins in COW
// mappings (mm/gup.c gup_must_unshare, 6.2).
#include <gtest/gtest.h>

#include "paths_rig.h"

namespace anonx {
namespace {

using namespace paths_rig;

// ---- v5.18: no PG_anon_exclusive ----------------------------------------------

TEST(PathsV518, NoPageEverCarriesTheFlag) {
  world w(generation::v5_18);
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.page_at(mm, kA);
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  EXPECT_FALSE(excl(p));
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  EXPECT_EQ(w.page_at(child, kA), p);
  EXPECT_FALSE(pte_write(w.entry(mm, kA)));
  ASSERT_TRUE(w.write(mm, kA, 43));  // refcount 2: copy
  EXPECT_NE(w.page_at(mm, kA), p);
  EXPECT_FALSE(excl(w.page_at(mm, kA)));
  ASSERT_TRUE(w.write(child, kA, 44));  // refcount 1: reuse
  EXPECT_EQ(w.page_at(child, kA), p);
  w.finish({&child, &mm});
}

TEST(PathsV518, ForkOfPinnedPageStillCopiesEarly) {
  world w(generation::v5_18);
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  EXPECT_EQ(w.page_at(mm, kA), p);
  EXPECT_TRUE(pte_write(w.entry(mm, kA))) << "70e806e4e645 (5.9): early COW for pinned pages";
  EXPECT_NE(w.page_at(child, kA), p);
  unpin_user_page(w.env, p);
  w.finish({&child, &mm});
}

// B4: a write fault on a pinned page behind a R/O PTE. v5.18 decides by
// refcount (1 + 1024 != 1) and copies: the pin loses coherence. v5.19+ reuse
// the exclusive page.
TEST(PathsV518, WriteFaultOnPinnedReadOnlyPageCopiesBeforeV519ReusesAfter) {
  for (const generation g : {generation::v5_18, generation::v5_19, generation::v6_2}) {
    SCOPED_TRACE(generation_name(g));
    world w(g);
    mm_struct mm(w.m);
    ASSERT_TRUE(w.populate(mm, 42));
    page *p = w.pin(mm, kA, kLongRW);
    ASSERT_EQ(mprotect(w.env, mm, 0, 16, false), 0);
    ASSERT_EQ(mprotect(w.env, mm, 0, 16, true), 0);
    ASSERT_TRUE(w.write(mm, kA, 43));
    if (g == generation::v5_18) {
      EXPECT_NE(w.page_at(mm, kA), p) << "the pre-5.19 wrong COW";
      EXPECT_EQ(w.dma_read(p), 42u);
      EXPECT_EQ(w.st.cow_copies, 1u);
    } else {
      EXPECT_EQ(w.page_at(mm, kA), p);
      EXPECT_EQ(w.dma_read(p), 43u);
      EXPECT_EQ(w.st.cow_reuse, 1u);
    }
    unpin_user_page(w.env, p);
    w.finish({&mm});
  }
}

TEST(PathsV518, SwapOutOfPinnedPageIsRefusedByTheRacyCheck) {
  world w(generation::v5_18);
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  EXPECT_FALSE(shrink_page(w.env, p));
  EXPECT_EQ(w.page_at(mm, kA), p);
  EXPECT_FALSE(PageSwapCache(p)) << "refused before add_to_swap";
  unpin_user_page(w.env, p);
  w.finish({&mm});
}

// ---- v6.2: R/O long-term pins of non-anon pages in COW mappings -----------------

// 84209e87c696 (v6.2): a R/O FOLL_LONGTERM pin of a private file mapping's
// page-cache page unshares it (gup_must_unshare, then do_wp_page copies it
// into an exclusive anon page mapped R/O) and pins the copy: the process's
// later write fault reuses that page, so the device sees the write. Up to
// 6.1 the pin takes the page-cache page; the write fault COWs away from it
// and the pin is left on a page the process no longer maps: the incoherence
// the commit fixes. GUP-fast has no VMA: the v6.2 pin falls back to slow GUP.
// A pin without FOLL_LONGTERM keeps the page-cache page in both.
TEST(PathsV62, ReadOnlyLongtermPinOfPrivateFilePageIsCoherentFromV62) {
  constexpr unsigned long kF = 40;  // a private file mapping [40, 41)
  constexpr uint64_t kFile = 0xf11e;
  for (const generation g : {generation::v6_1, generation::v6_2}) {
    SCOPED_TRACE(generation_name(g));
    const bool v62 = g == generation::v6_2;
    world w(g);
    mm_struct mm(w.m);
    page *file = w.env.alloc_page(0);  // a page-cache page: the cache holds this reference
    ASSERT_NE(file, nullptr);
    w.m.mem.write_word(file->pfn, 0, kFile);
    mmap_region(w.env, mm, kF, 1, kRW, static_cast<long>(file->pfn));
    ASSERT_EQ(w.read(mm, kF), kFile);  // do_read_fault_file: the page-cache page, R/O
    ASSERT_EQ(w.page_at(mm, kF), file);
    ASSERT_FALSE(pte_write(w.entry(mm, kF)));

    page *shortterm = w.pin(mm, kF, 0);
    EXPECT_EQ(shortterm, file) << "no FOLL_LONGTERM: no unshare";
    if (shortterm) unpin_user_page(w.env, shortterm);

    const auto fallbacks = w.st.gup_fast_fallback;
    page *p = w.pin(mm, kF, FOLL_LONGTERM);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(w.st.gup_fast_fallback - fallbacks, v62 ? 1u : 0u)
        << "v6.2: GUP-fast cannot see the VMA and falls back to slow GUP";
    if (v62) {
      EXPECT_NE(p, file) << "unshared: an anon copy, not the page-cache page";
      EXPECT_TRUE(PageAnon(p));
      EXPECT_TRUE(excl(p));
      EXPECT_EQ(w.page_at(mm, kF), p);
      EXPECT_FALSE(pte_write(w.entry(mm, kF))) << "unshare maps the copy R/O";
      EXPECT_EQ(w.st.unshares, 1u);
    } else {
      EXPECT_EQ(p, file) << "6.1: the pin takes the page-cache page";
    }
    EXPECT_EQ(w.dma_read(p), kFile);
    ASSERT_TRUE(w.write(mm, kF, 43));
    if (v62) {
      EXPECT_EQ(w.page_at(mm, kF), p) << "the write fault reuses the exclusive copy";
      EXPECT_EQ(w.dma_read(p), 43u) << "the pin sees the process's write";
    } else {
      EXPECT_NE(w.page_at(mm, kF), p) << "6.1: the write fault COWs away from the pinned page";
      EXPECT_EQ(w.dma_read(p), kFile) << "6.1: the pin went incoherent";
    }
    EXPECT_EQ(w.m.mem.read_word(file->pfn, 0), kFile) << "a private mapping never writes the file";
    unpin_user_page(w.env, p);
    check_mm(w.env, mm);
    exit_mmap(w.env, mm);
    w.env.put_page(file);
    w.finish({&mm});
  }
}

}  // namespace
}  // namespace anonx
