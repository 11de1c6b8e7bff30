// SPDX-License-Identifier: GPL-2.0-only
// page_alloc_test.cc: the allocator (core/page_alloc.h, as mm/page_alloc.c) and I10: a new
// page has every AT_PREP bit clear, refcount 1, not anon; freeing checks
// AT_FREE, clears AT_PREP (and the compound metadata) on the head and every
// tail and returns the block; double frees and bad states are reported; the
// per-CPU caches lose no page.
#include "page_alloc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "test_util.h"

namespace anonx {
namespace {

constexpr unsigned long kFrames = 4096;
constexpr unsigned long kHugeBlocks = 2;
constexpr unsigned long kSmall = kFrames - kHugeBlocks * HPAGE_PMD_NR;

class Alloc : public testing::SinkTest {
 protected:
  memmap mem{kFrames, kHugeBlocks};

  // What I10 and check_new_page require of any page handed out.
  void expect_fresh(const page *p, const char *what) {
    EXPECT_EQ(p->flags.load() & PAGE_FLAGS_CHECK_AT_PREP & ~(1UL << PG_head), 0UL) << what;
    EXPECT_EQ(page_ref_count(p), 1) << what;
    EXPECT_FALSE(PageAnon(p)) << what;
    EXPECT_FALSE(PageBuddy(p)) << what;
    EXPECT_EQ(page_mapcount(p), 0) << what;
    EXPECT_EQ(p->mapping.load(), 0UL) << what;
    EXPECT_EQ(p->private_.load(), 0UL) << what;
  }
  // Dirties a page the way a finished anon life leaves it (flags that
  // AT_FREE allows, anon mapping, swap slot).
  void use_as_anon(page *p) {
    p->mapping.store(9UL << 2 | PAGE_MAPPING_ANON);
    p->private_.store(33);
    SetPageAnonExclusive(p);
    for (unsigned b : {PG_referenced, PG_uptodate, PG_dirty, PG_swapbacked, PG_owner_priv_1,
                       PG_workingset, PG_error, PG_reclaim})
      set_bit(b, &p->flags);
  }
};

TEST_F(Alloc, NewSmallPageIsClean) {
  page *p = mem.alloc_page(0, 0);
  ASSERT_NE(p, nullptr);
  expect_fresh(p, "first allocation");
  EXPECT_FALSE(PageCompound(p));
  // A recycled page is as clean as a never-used one.
  use_as_anon(p);
  const unsigned long pfn = p->pfn;
  mem.put_page(0, p);
  EXPECT_TRUE(PageBuddy(p));
  EXPECT_EQ(p->flags.load() & PAGE_FLAGS_CHECK_AT_PREP, 0UL);
  page *q = mem.alloc_page(0, 0);
  ASSERT_EQ(q->pfn, pfn) << "the per-CPU cache is LIFO";
  expect_fresh(q, "recycled");
  EXPECT_FALSE(test_bit(PG_anon_exclusive, &q->flags));
  EXPECT_EQ(sink.total(), 0u);
}

// PG_hwpoison is the one flag free does not clear (it is not in AT_PREP).
TEST_F(Alloc, HwpoisonSurvivesFree) {
  page *p = mem.alloc_page(0, 0);
  set_bit(PG_hwpoison, &p->flags);
  set_bit(PG_dirty, &p->flags);
  mem.put_page(0, p);
  EXPECT_EQ(p->flags.load(), 1UL << PG_hwpoison);
  EXPECT_EQ(sink.total(), 0u);
}

TEST_F(Alloc, NewCompoundPage) {
  page *h = mem.alloc_page(0, HPAGE_PMD_ORDER);
  ASSERT_NE(h, nullptr);
  expect_fresh(h, "head");
  EXPECT_TRUE(PageHead(h));
  EXPECT_TRUE(PageTransHuge(h));
  EXPECT_EQ(compound_order(h), HPAGE_PMD_ORDER);
  EXPECT_EQ(compound_nr(h), HPAGE_PMD_NR);
  EXPECT_EQ(h->pfn % HPAGE_PMD_NR, 0u) << "THP blocks are naturally aligned";
  for (unsigned i = 1; i < HPAGE_PMD_NR; i++) {
    ASSERT_TRUE(PageTail(h + i)) << i;
    ASSERT_EQ(compound_head(h + i), h) << i;
    ASSERT_EQ(h[i].flags.load(), 0UL) << i;
    ASSERT_EQ(h[i]._mapcount.load(), -1) << i;
  }
  EXPECT_EQ(h[1].compound_pincount.load(), 0);
  EXPECT_EQ(h[1].compound_mapcount.load(), -1);
  EXPECT_EQ(total_mapcount(h), 0);
  EXPECT_EQ(sink.total(), 0u);
}

// free_pages_prepare clears the tails too: flags, compound_head, mapping,
// pincount; the block goes back to the THP list and comes back clean.
TEST_F(Alloc, FreeCompoundClearsTails) {
  const unsigned long huge_before = mem.nr_free_huge();
  page *h = mem.alloc_page(0, HPAGE_PMD_ORDER);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(mem.nr_free_huge(), huge_before - 1);
  h->mapping.store(4UL << 2 | PAGE_MAPPING_ANON);
  for (unsigned i = 0; i < HPAGE_PMD_NR; i += 3) {
    SetPageAnonExclusive(h + i);
    set_bit(PG_dirty, &h[i].flags);
    h[i].private_.store(i + 1);
  }
  ASSERT_EQ(try_grab_folio(h + 9, 3, FOLL_PIN), h);  // pinned and unpinned
  EXPECT_FALSE(gup_put_folio_ref(h, 3, FOLL_PIN));
  mem.put_page(0, h + 200);  // put_page on a tail frees the head
  EXPECT_EQ(mem.nr_free_huge(), huge_before);
  for (unsigned i = 0; i < HPAGE_PMD_NR; i++) {
    ASSERT_EQ(h[i].flags.load() & PAGE_FLAGS_CHECK_AT_PREP, 0UL) << i;
    ASSERT_EQ(h[i].compound_head.load(), 0UL) << i;
    ASSERT_EQ(h[i].mapping.load(), 0UL) << i;
    ASSERT_EQ(h[i].private_.load(), 0UL) << i;
    ASSERT_FALSE(PageTail(h + i)) << i;
  }
  EXPECT_TRUE(PageBuddy(h));
  EXPECT_FALSE(PageHead(h));
  EXPECT_EQ(h[1].compound_pincount.load(), 0);
  EXPECT_EQ(h[1].compound_mapcount.load(), -1);
  page *again = mem.alloc_page(1, HPAGE_PMD_ORDER);
  ASSERT_EQ(again, h);
  expect_fresh(again, "recycled THP");
  for (unsigned i = 1; i < HPAGE_PMD_NR; i++) ASSERT_EQ(compound_head(h + i), h);
  EXPECT_EQ(sink.total(), 0u);
}

TEST_F(Alloc, HugeExhaustion) {
  std::vector<page *> got;
  while (page *h = mem.alloc_page(0, HPAGE_PMD_ORDER)) got.push_back(h);
  EXPECT_EQ(got.size(), kHugeBlocks);
  EXPECT_EQ(mem.nr_free_huge(), 0u);
  for (page *h : got) mem.put_page(0, h);
  EXPECT_EQ(mem.nr_free_huge(), kHugeBlocks);
  EXPECT_EQ(mem.nr_free_small(), kSmall) << "THP blocks never feed the small list";
}

TEST_F(Alloc, DoubleFree) {
  const unsigned long before = mem.nr_free_small();
  page *p = mem.alloc_page(0, 0);
  mem.put_page(0, p);
  EXPECT_EQ(mem.nr_free_small(), before);
  mem.free_page(0, p);
  EXPECT_EQ(count("double free (PageBuddy)"), 1u);
  EXPECT_EQ(mem.nr_free_small(), before) << "a double free must not list the page twice";
  mem.put_page(0, p);
  EXPECT_EQ(count("page refcount underflow"), 1u);
  EXPECT_EQ(mem.nr_free_small(), before);
  page *h = mem.alloc_page(0, HPAGE_PMD_ORDER);
  mem.put_page(0, h);
  mem.free_page(0, h);
  EXPECT_EQ(count("double free (PageBuddy)"), 2u);
  EXPECT_EQ(mem.nr_free_huge(), kHugeBlocks);
  EXPECT_EQ(sink.total(), 3u);
}

TEST_F(Alloc, FreeOfTailPage) {
  page *h = mem.alloc_page(0, HPAGE_PMD_ORDER);
  mem.free_page(0, h + 1);
  EXPECT_EQ(count("free of a tail page"), 1u);
  EXPECT_TRUE(PageTail(h + 1));
  EXPECT_EQ(mem.nr_free_huge(), kHugeBlocks - 1);
}

// AT_FREE: a page still on the LRU (or locked, under writeback, ...) when
// it is freed is in a bad state; the free goes on and clears it.
TEST_F(Alloc, BadStateAtFree) {
  unsigned expected = 0;
  for (unsigned b : {PG_lru, PG_locked, PG_writeback, PG_mlocked, PG_active}) {
    page *p = mem.alloc_page(0, 0);
    set_bit(b, &p->flags);
    mem.put_page(0, p);
    EXPECT_EQ(count("bad page state at free"), ++expected) << "bit " << b;
    EXPECT_EQ(p->flags.load(), 0UL) << "bit " << b;
    EXPECT_TRUE(PageBuddy(p));
  }
  // The bad flag on a tail page is found too.
  page *h = mem.alloc_page(0, HPAGE_PMD_ORDER);
  set_bit(PG_lru, &h[100].flags);
  mem.put_page(0, h);
  EXPECT_EQ(count("bad page state at free"), ++expected);
  // PG_anon_exclusive is allowed: zap leaves it set.
  page *a = mem.alloc_page(0, 0);
  a->mapping.store(1UL << 2 | PAGE_MAPPING_ANON);
  SetPageAnonExclusive(a);
  mem.put_page(0, a);
  EXPECT_EQ(sink.total(), expected);
}

TEST_F(Alloc, MappedAtFree) {
  page *p = mem.alloc_page(0, 0);
  p->_mapcount.store(0);  // one PTE still maps it
  mem.put_page(0, p);
  EXPECT_EQ(count("bad page state at free (mapped)"), 1u);
  EXPECT_TRUE(PageBuddy(p));
}

// check_new_page: a free page that someone wrote to is caught at allocation.
TEST_F(Alloc, BadStateAtAlloc) {
  page *p = mem.alloc_page(0, 0);
  mem.put_page(0, p);
  set_bit(PG_dirty, &p->flags);  // a write after free
  page *q = mem.alloc_page(0, 0);
  ASSERT_EQ(q, p);
  EXPECT_EQ(count("bad page state at alloc"), 1u);
  page *r = mem.alloc_page(0, 0);
  EXPECT_EQ(count("bad page state at alloc"), 1u) << "only the written page is bad";
  mem.put_page(0, r);
}

// Allocate every small page across several CPUs, free them on other CPUs in
// a random order: the per-CPU caches and the global list lose nothing.
TEST_F(Alloc, PcpNoLoss) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  constexpr int kCpus = 7;
  ASSERT_EQ(mem.nr_free_small(), kSmall);
  for (int round = 0; round < 3; round++) {
    std::vector<page *> got;
    std::set<unsigned long> pfns;
    // Round-robin over the CPUs until a whole pass gets nothing: a CPU
    // whose cache is empty fails once the global list is, while others
    // still hold cached pages (no CPU drains another's), so every CPU must
    // come up dry.
    for (bool any = true; any;) {
      any = false;
      for (int cpu = 0; cpu < kCpus; cpu++) {
        page *p = mem.alloc_page(cpu, 0);
        if (!p) continue;
        any = true;
        got.push_back(p);
        ASSERT_TRUE(pfns.insert(p->pfn).second) << "pfn " << p->pfn << " handed out twice";
      }
    }
    ASSERT_EQ(got.size(), kSmall) << "round " << round;
    ASSERT_EQ(mem.nr_free_small(), 0u);
    std::shuffle(got.begin(), got.end(), rng);
    for (page *p : got)
      mem.put_page(static_cast<int>(rng() % kCpus), p);  // mostly not the allocating CPU
    ASSERT_EQ(mem.nr_free_small(), kSmall) << "round " << round;
  }
  EXPECT_EQ(sink.total(), 0u);
}

// The same with two CPUs on two threads allocating and freeing at once
// (each CPU's cache is its own; the zone lock guards the global list).
TEST_F(Alloc, PcpNoLossThreaded) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  auto cpu = [this, seed](int id, bool *ok) {
    this_cpu_report().sink = &sink;
    std::mt19937_64 rng(seed + static_cast<uint64_t>(id));
    std::vector<page *> held;
    for (int i = 0; i < 100000; i++) {
      if (held.size() < 600 && (held.empty() || rng() % 2)) {
        page *p = mem.alloc_page(id, 0);
        if (!p || page_ref_count(p) != 1) *ok = false;
        if (p) held.push_back(p);
      } else {
        const size_t k = rng() % held.size();
        std::swap(held[k], held.back());
        mem.put_page(id, held.back());
        held.pop_back();
      }
    }
    for (page *p : held) mem.put_page(id, p);
  };
  bool ok0 = true, ok1 = true;
  std::thread t0(cpu, 0, &ok0), t1(cpu, 1, &ok1);
  t0.join();
  t1.join();
  EXPECT_TRUE(ok0 && ok1);
  EXPECT_EQ(mem.nr_free_small(), kSmall);
  EXPECT_EQ(sink.total(), 0u);
}

// Page contents: clear_page, copy_page, and relaxed word access.
TEST_F(Alloc, Contents) {
  page *a = mem.alloc_page(0, 0);
  page *b = mem.alloc_page(0, 0);
  for (unsigned i = 0; i < kWordsPerPage; i++) mem.write_word(a->pfn, i, 0x1000 + i);
  mem.copy_page(b->pfn, a->pfn);
  for (unsigned i = 0; i < kWordsPerPage; i++) EXPECT_EQ(mem.read_word(b->pfn, i), 0x1000u + i);
  mem.clear_page(a->pfn);
  for (unsigned i = 0; i < kWordsPerPage; i++) EXPECT_EQ(mem.read_word(a->pfn, i), 0u);
  EXPECT_EQ(mem.read_word(b->pfn, 0), 0x1000u) << "pages do not share words";
  mem.put_page(0, a);
  mem.put_page(0, b);
}

}  // namespace
}  // namespace anonx
