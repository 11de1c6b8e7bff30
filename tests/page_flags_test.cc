// SPDX-License-Identifier: GPL-2.0-only
// page_flags_test.cc: the flag word (core/page_flags.h, as
// include/linux/page-flags.h): bit numbers and aliases against the kernel's
// enum pageflags, the AT_FREE/AT_PREP masks (mm/page_alloc.c's
// PAGE_FLAGS_CHECK_AT_FREE/PREP), the PF_ policies and the
// PageAnonExclusive family's sanity checks, which report to the violation
// sink instead of BUG().
#include <gtest/gtest.h>

#include "page.h"
#include "page_alloc.h"
#include "test_util.h"

namespace anonx {
namespace {

// enum pageflags, bit 0 upward (5.19-6.1); 0..21 are configuration independent.
TEST(PageFlags, BitNumbers) {
  EXPECT_EQ(PG_locked, 0u);
  EXPECT_EQ(PG_referenced, 1u);
  EXPECT_EQ(PG_uptodate, 2u);
  EXPECT_EQ(PG_dirty, 3u);
  EXPECT_EQ(PG_lru, 4u);
  EXPECT_EQ(PG_active, 5u);
  EXPECT_EQ(PG_workingset, 6u);
  EXPECT_EQ(PG_waiters, 7u);  // same byte as PG_locked
  EXPECT_EQ(PG_error, 8u);
  EXPECT_EQ(PG_slab, 9u);
  EXPECT_EQ(PG_owner_priv_1, 10u);
  EXPECT_EQ(PG_arch_1, 11u);
  EXPECT_EQ(PG_reserved, 12u);
  EXPECT_EQ(PG_private, 13u);
  EXPECT_EQ(PG_private_2, 14u);
  EXPECT_EQ(PG_writeback, 15u);
  EXPECT_EQ(PG_head, 16u);
  EXPECT_EQ(PG_mappedtodisk, 17u);
  EXPECT_EQ(PG_reclaim, 18u);
  EXPECT_EQ(PG_swapbacked, 19u);
  EXPECT_EQ(PG_unevictable, 20u);
  EXPECT_EQ(PG_mlocked, 21u);
  EXPECT_GE(PG_hwpoison, 22u);  // config dependent, above the fixed ones
  EXPECT_LE(static_cast<unsigned>(__NR_PAGEFLAGS), kBitsPerLong);
}

// The enum's aliases, including the two the 5.19 series introduced or moved.
TEST(PageFlags, Aliases) {
  EXPECT_EQ(PG_anon_exclusive, PG_mappedtodisk);
  EXPECT_EQ(PG_anon_exclusive, 17u);
  EXPECT_EQ(PG_has_hwpoisoned, PG_error);  // moved off PG_mappedtodisk by 5.19
  EXPECT_EQ(PG_has_hwpoisoned, 8u);
  EXPECT_EQ(PG_swapcache, PG_owner_priv_1);
  EXPECT_EQ(PG_swapcache, 10u);
  EXPECT_EQ(PG_checked, PG_owner_priv_1);
  EXPECT_EQ(PG_pinned, PG_owner_priv_1);
  EXPECT_EQ(PG_reported, PG_uptodate);
  EXPECT_EQ(PG_double_map, PG_workingset);
  EXPECT_EQ(PG_readahead, PG_reclaim);
  EXPECT_EQ(PG_isolated, PG_reclaim);
}

// AT_FREE lists exactly the must-be-clear flags and not
// PG_anon_exclusive (zap leaves it set); AT_PREP is every flag but
// PG_hwpoison.
TEST(PageFlags, FreeAndPrepMasks) {
  unsigned long at_free = 0;
  for (unsigned b : {PG_lru, PG_locked, PG_private, PG_private_2, PG_writeback, PG_reserved,
                     PG_slab, PG_active, PG_unevictable, PG_mlocked})
    at_free |= 1UL << b;
  EXPECT_EQ(PAGE_FLAGS_CHECK_AT_FREE, at_free);
  EXPECT_EQ(PAGE_FLAGS_CHECK_AT_FREE & (1UL << PG_anon_exclusive), 0UL);
  for (unsigned b = 0; b < __NR_PAGEFLAGS; b++) {
    const bool in_prep = PAGE_FLAGS_CHECK_AT_PREP & (1UL << b);
    EXPECT_EQ(in_prep, b != PG_hwpoison) << "bit " << b;
  }
  EXPECT_EQ(PAGE_FLAGS_CHECK_AT_PREP >> __NR_PAGEFLAGS, 0UL);  // no zone/node bits
}

// A memmap with one THP (order 9) and one small page, reports to a sink.
class PagePolicy : public testing::SinkTest {
 protected:
  void SetUp() override {
    SinkTest::SetUp();
    thp = mem.alloc_page(0, HPAGE_PMD_ORDER);
    small = mem.alloc_page(0, 0);
    ASSERT_NE(thp, nullptr);
    ASSERT_NE(small, nullptr);
    ASSERT_TRUE(PageHead(thp));
    ASSERT_TRUE(PageTail(thp + 3));
    ASSERT_EQ(sink.total(), 0u);
  }
  void make_anon(page *head, unsigned long anon_vma = 7) {
    head->mapping.store(anon_vma << 2 | PAGE_MAPPING_ANON);
  }
  unsigned long raw(const page *p) const { return p->flags.load(); }

  memmap mem{4096, 2};
  page *thp = nullptr;
  page *small = nullptr;
};

// PF_NO_TAIL: modifying on a tail reports and redirects to the head; a read
// on a tail redirects silently.
TEST_F(PagePolicy, NoTailModifiedOnTail) {
  SetPageLocked(thp + 3);
  EXPECT_EQ(count("PF_NO_TAIL modified on a tail page"), 1u);
  EXPECT_TRUE(test_bit(PG_locked, &thp->flags));
  EXPECT_FALSE(test_bit(PG_locked, &thp[3].flags));
  EXPECT_TRUE(PageLocked(thp + 3));  // read: redirect, no report
  EXPECT_TRUE(PageLocked(thp));
  EXPECT_EQ(sink.total(), 1u);
  ClearPageUptodate(thp + 511);
  __SetPageSwapBacked(thp + 1);
  EXPECT_EQ(count("PF_NO_TAIL modified on a tail page"), 3u);
  // On the head and on a small page it is silent.
  SetPageUptodate(thp);
  SetPageUptodate(small);
  ClearPageLocked(thp);
  EXPECT_EQ(sink.total(), 3u);
}

// PF_HEAD: reads and writes on a tail go to the head, no report.
TEST_F(PagePolicy, HeadRedirectsFromTail) {
  SetPageDirty(thp + 42);
  SetPageLRU(thp + 511);
  EXPECT_EQ(raw(thp + 42), 0UL);
  EXPECT_TRUE(test_bit(PG_dirty, &thp->flags));
  EXPECT_TRUE(test_bit(PG_lru, &thp->flags));
  EXPECT_TRUE(PageDirty(thp + 100));
  ClearPageDirty(thp + 1);
  ClearPageLRU(thp + 2);
  EXPECT_FALSE(PageDirty(thp));
  EXPECT_FALSE(PageLRU(thp));
  EXPECT_EQ(sink.total(), 0u);
}

// PF_ONLY_HEAD: any access on a tail reports.
TEST_F(PagePolicy, OnlyHeadOnTail) {
  (void)PageWaiters(thp + 5);
  EXPECT_EQ(count("PF_ONLY_HEAD on a tail page"), 1u);
  SetPageWaiters(thp + 5);
  EXPECT_EQ(count("PF_ONLY_HEAD on a tail page"), 2u);
  SetPageWaiters(thp);
  SetPageWaiters(small);
  EXPECT_TRUE(PageWaiters(small));
  EXPECT_EQ(sink.total(), 2u);
}

// PF_NO_COMPOUND: modifying on a head or a tail reports; reading does not.
TEST_F(PagePolicy, NoCompoundOnCompound) {
  SetPageReserved(thp);
  SetPageReserved(thp + 9);
  EXPECT_EQ(count("PF_NO_COMPOUND on a compound page"), 2u);
  (void)PageReserved(thp);
  EXPECT_EQ(sink.total(), 2u);
  SetPageReserved(small);
  EXPECT_TRUE(PageReserved(small));
  ClearPageReserved(small);
  EXPECT_EQ(sink.total(), 2u);
  ClearPageReserved(thp);  // leave the THP freeable
  ClearPageReserved(thp + 9);
}

// PF_SECOND: PG_has_hwpoisoned lives in page[1] and needs the head.
TEST_F(PagePolicy, SecondOnHeadAndNonHead) {
  SetPageHasHWPoisoned(thp);
  EXPECT_EQ(sink.total(), 0u);
  EXPECT_TRUE(test_bit(PG_has_hwpoisoned, &thp[1].flags));
  EXPECT_FALSE(test_bit(PG_has_hwpoisoned, &thp->flags));
  EXPECT_FALSE(PageError(thp));  // same bit, other struct page
  EXPECT_TRUE(PageHasHWPoisoned(thp));
  (void)PageHasHWPoisoned(small);
  EXPECT_EQ(count("PF_SECOND on a non-head page"), 1u);
  (void)PageHasHWPoisoned(thp + 1);
  EXPECT_EQ(count("PF_SECOND on a non-head page"), 2u);
  ClearPageHasHWPoisoned(thp);
  EXPECT_FALSE(test_bit(PG_has_hwpoisoned, &thp[1].flags));
}

// Every policy asserts the struct page is not poisoned (flags all ones).
TEST_F(PagePolicy, PoisonedPage) {
  page poisoned;
  poisoned.flags.store(PAGE_POISON_FLAGS);
  (void)PageLocked(&poisoned);    // PF_NO_TAIL
  (void)PageDirty(&poisoned);     // PF_HEAD
  (void)PageReserved(&poisoned);  // PF_NO_COMPOUND
  (void)PageWaiters(&poisoned);   // PF_ONLY_HEAD
  EXPECT_EQ(count("PagePoisoned"), 4u);
  EXPECT_FALSE(PagePoisoned(small));
  (void)PageLocked(small);
  EXPECT_EQ(count("PagePoisoned"), 4u);
}

// The anon-exclusive helpers use PF_ANY, which also asserts the
// struct page is not poisoned (kernel: PF_ANY(page, 1) = PF_POISONED_CHECK).
TEST_F(PagePolicy, AnonExclusiveOnPoisoned) {
  page poisoned;
  poisoned.flags.store(PAGE_POISON_FLAGS);
  poisoned.mapping.store(3UL << 2 | PAGE_MAPPING_ANON);  // anon, so only poison fires
  (void)PageAnonExclusive(&poisoned);
  SetPageAnonExclusive(&poisoned);
  ClearPageAnonExclusive(&poisoned);
  poisoned.flags.store(PAGE_POISON_FLAGS);  // the clear above changed one bit
  __ClearPageAnonExclusive(&poisoned);
  EXPECT_EQ(count("PagePoisoned"), 4u);
  EXPECT_EQ(sink.total(), 4u);
}

// PageAnonExclusive asserts PageAnon (the head's mapping).
TEST_F(PagePolicy, AnonExclusiveOnNonAnon) {
  EXPECT_FALSE(PageAnonExclusive(small));
  EXPECT_EQ(count("PageAnonExclusive(!PageAnon)"), 1u);
  SetPageAnonExclusive(small);
  EXPECT_EQ(count("SetPageAnonExclusive(!anon || KSM)"), 1u);
  ClearPageAnonExclusive(small);
  EXPECT_EQ(count("ClearPageAnonExclusive(!anon || KSM)"), 1u);
  __ClearPageAnonExclusive(small);
  EXPECT_EQ(count("__ClearPageAnonExclusive(!PageAnon)"), 1u);
  make_anon(small);
  (void)PageAnonExclusive(small);
  SetPageAnonExclusive(small);
  EXPECT_EQ(sink.total(), 4u);
  EXPECT_TRUE(PageAnonExclusive(small));
}

// KSM pages are never exclusive (I6): Set/Clear assert !KSM; the free-path
// non-atomic clear does not.
TEST_F(PagePolicy, AnonExclusiveOnKsm) {
  small->mapping.store(5UL << 2 | PAGE_MAPPING_KSM);
  ASSERT_TRUE(PageAnon(small));
  ASSERT_TRUE(PageKsm(small));
  SetPageAnonExclusive(small);
  EXPECT_EQ(count("SetPageAnonExclusive(!anon || KSM)"), 1u);
  ClearPageAnonExclusive(small);
  EXPECT_EQ(count("ClearPageAnonExclusive(!anon || KSM)"), 1u);
  (void)PageAnonExclusive(small);
  __ClearPageAnonExclusive(small);
  EXPECT_EQ(sink.total(), 2u);
}

// PF_ANY: the flag is per subpage; anon-ness comes from the head.
TEST_F(PagePolicy, AnonExclusivePerSubpage) {
  make_anon(thp);
  ASSERT_TRUE(PageAnon(thp + 77));
  SetPageAnonExclusive(thp + 77);
  EXPECT_TRUE(PageAnonExclusive(thp + 77));
  EXPECT_FALSE(PageAnonExclusive(thp));
  EXPECT_FALSE(PageAnonExclusive(thp + 76));
  EXPECT_TRUE(test_bit(PG_anon_exclusive, &thp[77].flags));
  ClearPageAnonExclusive(thp + 77);
  EXPECT_FALSE(PageAnonExclusive(thp + 77));
  EXPECT_EQ(sink.total(), 0u);
}

// PG_anon_exclusive is PG_mappedtodisk: the two names see one bit.
TEST_F(PagePolicy, AnonExclusiveIsMappedToDisk) {
  make_anon(small);
  SetPageMappedToDisk(small);
  EXPECT_TRUE(PageAnonExclusive(small));
  ClearPageAnonExclusive(small);
  EXPECT_FALSE(PageMappedToDisk(small));
  EXPECT_EQ(raw(small), 0UL);
  EXPECT_EQ(sink.total(), 0u);
}

// PG_swapcache aliases PG_owner_priv_1: it means "in swap cache" only on a
// swap-backed page.
TEST_F(PagePolicy, SwapCacheNeedsSwapBacked) {
  SetPageSwapCache(small);
  EXPECT_TRUE(test_bit(PG_owner_priv_1, &small->flags));
  EXPECT_FALSE(PageSwapCache(small));
  SetPageSwapBacked(small);
  EXPECT_TRUE(PageSwapCache(small));
  // On a THP the head's flags decide, for every subpage.
  SetPageSwapBacked(thp);
  SetPageSwapCache(thp);
  EXPECT_TRUE(PageSwapCache(thp + 300));
  SetPageSwapCache(thp + 300);
  EXPECT_EQ(count("PF_NO_TAIL modified on a tail page"), 1u);
}

}  // namespace
}  // namespace anonx
