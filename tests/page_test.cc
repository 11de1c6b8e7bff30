// SPDX-License-Identifier: GPL-2.0-only
// page_test.cc: reference, pin and map accounting (include/linux/mm.h, mm/gup.c) on
// small and compound (order-9) pages: try_grab_folio (GUP-fast),
// try_grab_page (slow GUP), gup_put_folio_ref (unpin / put),
// page_maybe_dma_pinned (no false negative while a pin is held; documented
// false positive at 1024 ordinary references), try_get_page on a freed page.
#include "page.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "page_alloc.h"
#include "test_util.h"

namespace anonx {
namespace {

class PageRef : public testing::SinkTest {
 protected:
  void SetUp() override {
    SinkTest::SetUp();
    small = mem.alloc_page(0, 0);
    thp = mem.alloc_page(0, HPAGE_PMD_ORDER);
    ASSERT_NE(small, nullptr);
    ASSERT_NE(thp, nullptr);
    ASSERT_EQ(page_ref_count(small), 1);
    ASSERT_EQ(page_ref_count(thp), 1);
  }
  void TearDown() override {
    EXPECT_EQ(sink.total(), 0u) << "unexpected violation reports";
    SinkTest::TearDown();
  }
  int pincount(const page *head) const { return head[1].compound_pincount.load(); }

  memmap mem{4096, 2};
  page *small = nullptr;
  page *thp = nullptr;
};

TEST_F(PageRef, SmallPinAndGet) {
  EXPECT_FALSE(page_maybe_dma_pinned(small));
  ASSERT_EQ(try_grab_folio(small, 1, FOLL_PIN), small);
  EXPECT_EQ(page_ref_count(small), 1 + GUP_PIN_COUNTING_BIAS);
  EXPECT_TRUE(page_maybe_dma_pinned(small));
  ASSERT_EQ(try_grab_folio(small, 1, FOLL_GET), small);
  EXPECT_EQ(page_ref_count(small), 2 + GUP_PIN_COUNTING_BIAS);
  try_grab_page(small, FOLL_PIN);  // slow GUP: the whole bias at once
  EXPECT_EQ(page_ref_count(small), 2 + 2 * GUP_PIN_COUNTING_BIAS);
  try_grab_page(small, FOLL_GET);
  EXPECT_EQ(page_ref_count(small), 3 + 2 * GUP_PIN_COUNTING_BIAS);
  EXPECT_FALSE(gup_put_folio_ref(small, 2, FOLL_PIN));
  EXPECT_EQ(page_ref_count(small), 3);
  EXPECT_FALSE(page_maybe_dma_pinned(small));
  EXPECT_FALSE(gup_put_folio_ref(small, 2, FOLL_GET));
  EXPECT_EQ(page_ref_count(small), 1);
  EXPECT_EQ(pincount(thp), 0);  // a small page never touches a neighbour
}

// A large folio's pin is exact: refcount += refs, pincount += refs, on the
// head whichever subpage was passed.
TEST_F(PageRef, CompoundPinAndGet) {
  ASSERT_EQ(try_grab_folio(thp + 37, 1, FOLL_PIN), thp);
  EXPECT_EQ(page_ref_count(thp), 2);
  EXPECT_EQ(page_ref_count(thp + 300), 2);
  EXPECT_EQ(pincount(thp), 1);
  EXPECT_TRUE(page_maybe_dma_pinned(thp));
  EXPECT_TRUE(page_maybe_dma_pinned(thp + 511));
  // gup_huge_pmd grabs every subpage at once.
  ASSERT_EQ(try_grab_folio(thp + 1, static_cast<int>(HPAGE_PMD_NR), FOLL_PIN), thp);
  EXPECT_EQ(page_ref_count(thp), 2 + static_cast<int>(HPAGE_PMD_NR));
  EXPECT_EQ(pincount(thp), 1 + static_cast<int>(HPAGE_PMD_NR));
  try_grab_page(thp + 511, FOLL_PIN);
  try_grab_page(thp + 2, FOLL_GET);
  EXPECT_EQ(page_ref_count(thp), 4 + static_cast<int>(HPAGE_PMD_NR));
  EXPECT_EQ(pincount(thp), 2 + static_cast<int>(HPAGE_PMD_NR));
  EXPECT_FALSE(gup_put_folio_ref(thp, static_cast<int>(HPAGE_PMD_NR) + 2, FOLL_PIN));
  EXPECT_EQ(pincount(thp), 0);
  EXPECT_FALSE(page_maybe_dma_pinned(thp));
  EXPECT_FALSE(gup_put_folio_ref(thp, 1, FOLL_GET));
  EXPECT_EQ(page_ref_count(thp), 1);
  for (unsigned i = 0; i < HPAGE_PMD_NR; i++)  // counts live on the head only
    if (i != 1) {
      ASSERT_EQ(thp[i].compound_pincount.load(), 0) << "subpage " << i;
    }
}

// Small pages count pins in the refcount, so 1024 ordinary references
// look pinned (a documented false positive); 1023 in all do not.
TEST_F(PageRef, SmallFalsePositiveAt1024Refs) {
  for (int i = 0; i < GUP_PIN_COUNTING_BIAS - 2; i++)
    ASSERT_EQ(try_grab_folio(small, 1, FOLL_GET), small);
  EXPECT_EQ(page_ref_count(small), GUP_PIN_COUNTING_BIAS - 1);
  EXPECT_FALSE(page_maybe_dma_pinned(small));
  try_grab_page(small, FOLL_GET);
  EXPECT_EQ(page_ref_count(small), GUP_PIN_COUNTING_BIAS);
  EXPECT_TRUE(page_maybe_dma_pinned(small));  // false positive, allowed
  try_grab_page(small, FOLL_GET);
  EXPECT_TRUE(page_maybe_dma_pinned(small));  // 1024 FOLL_GET refs + the owner's
  EXPECT_FALSE(gup_put_folio_ref(small, GUP_PIN_COUNTING_BIAS, FOLL_GET));
  EXPECT_EQ(page_ref_count(small), 1);
}

// A large folio's pincount is exact: no number of references looks pinned.
TEST_F(PageRef, CompoundManyRefsNotPinned) {
  for (int i = 0; i < 4 * GUP_PIN_COUNTING_BIAS; i++) try_grab_page(thp + (i % 512), FOLL_GET);
  EXPECT_FALSE(page_maybe_dma_pinned(thp));
  EXPECT_FALSE(gup_put_folio_ref(thp, 4 * GUP_PIN_COUNTING_BIAS, FOLL_GET));
}

// Random sequences of grabs and puts of both kinds through both paths:
// the counts follow the kernel's formulas and a held pin is always visible (I11).
TEST_F(PageRef, AccountingRandomNoFalseNegative) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  for (page *head : {small, thp}) {
    const bool large = PageHead(head);
    int pins = 0, gets = 0;
    for (int step = 0; step < 20000; step++) {
      page *sub = large ? head + rng() % HPAGE_PMD_NR : head;
      switch (rng() % 6) {
        case 0:
          ASSERT_EQ(try_grab_folio(sub, 1, FOLL_PIN), head);
          pins++;
          break;
        case 1:
          try_grab_page(sub, FOLL_PIN);
          pins++;
          break;
        case 2:
          ASSERT_EQ(try_grab_folio(sub, 1, FOLL_GET), head);
          gets++;
          break;
        case 3:
          try_grab_page(sub, FOLL_GET);
          gets++;
          break;
        case 4:
          if (pins) {
            ASSERT_FALSE(gup_put_folio_ref(head, 1, FOLL_PIN));
            pins--;
          }
          break;
        case 5:
          if (gets) {
            ASSERT_FALSE(gup_put_folio_ref(head, 1, FOLL_GET));
            gets--;
          }
          break;
      }
      const int ref = page_ref_count(head);
      if (large) {
        ASSERT_EQ(ref, 1 + gets + pins) << "step " << step;
        ASSERT_EQ(pincount(head), pins) << "step " << step;
        ASSERT_EQ(page_maybe_dma_pinned(sub), pins > 0) << "step " << step;
      } else {
        ASSERT_EQ(ref, 1 + gets + GUP_PIN_COUNTING_BIAS * pins) << "step " << step;
        if (pins) {
          ASSERT_TRUE(page_maybe_dma_pinned(head)) << "false negative, step " << step;
        }
        ASSERT_EQ(page_maybe_dma_pinned(head), ref >= GUP_PIN_COUNTING_BIAS) << "step " << step;
      }
    }
    while (pins--) gup_put_folio_ref(head, 1, FOLL_PIN);
    while (gets--) gup_put_folio_ref(head, 1, FOLL_GET);
    ASSERT_EQ(page_ref_count(head), 1);
  }
}

// Two CPUs: one pins and unpins (checking its pin is visible), the other
// takes and drops ordinary references. No update is lost, no pin missed.
TEST_F(PageRef, ConcurrentPinsAndGets) {
  for (page *head : {small, thp}) {
    bool pinner_ok = true;
    testing::start_gate gate;
    std::thread pinner([&] {
      gate.arrive_and_wait();
      for (int i = 0; i < 50000 && pinner_ok; i++) {
        if (try_grab_folio(head, 1, FOLL_PIN) != head) pinner_ok = false;
        if (!page_maybe_dma_pinned(head)) pinner_ok = false;
        if (gup_put_folio_ref(head, 1, FOLL_PIN)) pinner_ok = false;
      }
    });
    gate.arrive_and_wait();
    for (int i = 0; i < 50000; i++) {
      ASSERT_EQ(try_grab_folio(head, 1, FOLL_GET), head);
      ASSERT_FALSE(gup_put_folio_ref(head, 1, FOLL_GET));
    }
    pinner.join();
    EXPECT_TRUE(pinner_ok) << (PageHead(head) ? "thp" : "small");
    EXPECT_EQ(page_ref_count(head), 1);
    EXPECT_FALSE(page_maybe_dma_pinned(head));
  }
}

// A page whose refcount reached zero is being freed: add-unless-zero fails,
// and GUP-fast does not resurrect it.
TEST_F(PageRef, TryGetOnFreedPage) {
  ASSERT_TRUE(try_get_page(small));
  EXPECT_EQ(page_ref_count(small), 2);
  mem.put_page(0, small);
  EXPECT_FALSE(PageBuddy(small));
  mem.put_page(0, small);  // last reference: freed
  EXPECT_TRUE(PageBuddy(small));
  EXPECT_EQ(page_ref_count(small), 0);
  EXPECT_FALSE(try_get_page(small));
  EXPECT_EQ(try_grab_folio(small, 1, FOLL_PIN), nullptr);
  EXPECT_EQ(try_grab_folio(small, 1, FOLL_GET), nullptr);
  EXPECT_EQ(page_ref_count(small), 0);
  mem.put_page(0, thp);
  EXPECT_EQ(try_grab_folio(thp + 5, 1, FOLL_PIN), nullptr);
  EXPECT_FALSE(try_get_page(thp + 5));
  EXPECT_EQ(page_ref_count(thp), 0);
  EXPECT_EQ(pincount(thp), 0);
}

// The last put reports "free me"; earlier ones do not.
TEST_F(PageRef, LastPutFrees) {
  ASSERT_EQ(try_grab_folio(small, 1, FOLL_PIN), small);
  EXPECT_FALSE(gup_put_folio_ref(small, 1, FOLL_GET));  // the owner's reference
  EXPECT_TRUE(gup_put_folio_ref(small, 1, FOLL_PIN));   // the pin was the last
  ASSERT_EQ(try_grab_folio(thp, 3, FOLL_PIN), thp);
  EXPECT_FALSE(gup_put_folio_ref(thp, 1, FOLL_GET));
  EXPECT_FALSE(gup_put_folio_ref(thp, 2, FOLL_PIN));
  EXPECT_TRUE(gup_put_folio_ref(thp, 1, FOLL_PIN));
  EXPECT_EQ(pincount(thp), 0);
  small->_refcount.store(1);  // hand both back in a freeable state
  thp->_refcount.store(1);
}

// page_ref_freeze succeeds only on the exact expected count (migration).
TEST_F(PageRef, RefFreeze) {
  get_page(small);
  EXPECT_FALSE(page_ref_freeze(small, 1));
  EXPECT_EQ(page_ref_count(small), 2);
  EXPECT_TRUE(page_ref_freeze(small, 2));
  EXPECT_EQ(page_ref_count(small), 0);
  EXPECT_FALSE(try_get_page(small));  // frozen looks freed to GUP-fast
  page_ref_unfreeze(small, 1);
  EXPECT_TRUE(try_get_page(small));
  EXPECT_FALSE(gup_put_folio_ref(small, 1, FOLL_GET));
}

// _mapcount is biased by -1; a THP's PMD mappings count on every subpage.
TEST_F(PageRef, Mapcount) {
  EXPECT_EQ(page_mapcount(small), 0);
  small->_mapcount.fetch_add(1);
  EXPECT_EQ(page_mapcount(small), 1);
  EXPECT_EQ(total_mapcount(small), 1);
  EXPECT_EQ(total_mapcount(thp), 0);
  thp[1].compound_mapcount.fetch_add(1);  // one PMD mapping
  thp[7]._mapcount.fetch_add(1);          // and one PTE of subpage 7
  EXPECT_EQ(page_mapcount(thp + 7), 2);
  EXPECT_EQ(page_mapcount(thp + 8), 1);
  EXPECT_EQ(total_mapcount(thp), 2);
  small->_mapcount.store(-1);
  thp[1].compound_mapcount.store(-1);
  thp[7]._mapcount.store(-1);
}

}  // namespace
}  // namespace anonx
