// SPDX-License-Identifier: GPL-2.0-only
// paths_ksm_test.cc: KSM (mm/ksm.c write_protect_page, replace_page, 6.1):
// a merged page is mapped R/O and never exclusive (I6), a pinned page is
// not merged.
#include <gtest/gtest.h>

#include "paths_rig.h"

namespace anonx {
namespace {

using namespace paths_rig;

TEST_P(Paths, KsmMergeMapsKsmPageReadOnlyNeverExclusive) {
  world w(GetParam());
  mm_struct mm(w.m);
  mmap_region(w.env, mm, 0, 16, kRW);
  EXPECT_EQ(w.read(mm, kA), 0u);  // a zero page (the model maps a zeroed anon page)
  page *p = w.page_at(mm, kA);
  ASSERT_TRUE(excl(p));
  page *kpage = ksm_new_stable_page(w.env, p->pfn, 1);
  ASSERT_NE(kpage, nullptr);
  ASSERT_TRUE(ksm_merge(w.env, mm, kA, kpage));
  EXPECT_EQ(w.page_at(mm, kA), kpage);
  EXPECT_FALSE(pte_write(w.entry(mm, kA)));
  EXPECT_TRUE(PageKsm(kpage));
  EXPECT_FALSE(excl(kpage)) << "I6";
  EXPECT_TRUE(PageBuddy(p)) << "the merged page is freed";
  check_mm(w.env, mm);
  // A R/O pin of a KSM page first unshares it: KSM pages are never pinned (I6).
  page *pinned = w.pin(mm, kA, FOLL_LONGTERM, /*fast=*/false);
  EXPECT_NE(pinned, kpage);
  EXPECT_TRUE(excl(pinned));
  EXPECT_FALSE(page_maybe_dma_pinned(kpage));
  unpin_user_page(w.env, pinned);
  // A write fault on a KSM page always copies.
  ASSERT_TRUE(w.write(mm, kA + 1, 0));
  page *q = w.page_at(mm, kA + 1);
  page *kpage2 = ksm_new_stable_page(w.env, q->pfn, 2);
  ASSERT_TRUE(ksm_merge(w.env, mm, kA + 1, kpage2));
  ASSERT_TRUE(w.write(mm, kA + 1, 7));
  EXPECT_NE(w.page_at(mm, kA + 1), kpage2);
  EXPECT_TRUE(excl(w.page_at(mm, kA + 1)));
  EXPECT_EQ(page_mapcount(kpage2), 0);
  w.env.put_page(kpage);  // the stable tree's references
  w.env.put_page(kpage2);
  w.finish({&mm});
}

TEST_P(Paths, KsmRefusesPinnedPage) {
  world w(GetParam());
  mm_struct mm(w.m);
  mmap_region(w.env, mm, 0, 16, kRW);
  EXPECT_EQ(w.read(mm, kA), 0u);
  page *p = w.pin(mm, kA, FOLL_LONGTERM, false);  // exclusive: no unshare needed
  ASSERT_EQ(p, w.page_at(mm, kA));
  const pte_t before = w.entry(mm, kA);
  page *kpage = ksm_new_stable_page(w.env, p->pfn, 1);
  EXPECT_FALSE(ksm_merge(w.env, mm, kA, kpage));
  EXPECT_EQ(w.entry(mm, kA).v, before.v) << "PTE restored";
  EXPECT_TRUE(excl(p));
  unpin_user_page(w.env, p);
  w.env.put_page(kpage);
  w.finish({&mm});
}

}  // namespace
}  // namespace anonx
