// SPDX-License-Identifier: GPL-2.0-only
// swap_test.cc: the swap device of core/swap.h: add_to_swap puts a page in
// the swap cache with a reference; swap_duplicate / swap_free count swap
// PTEs; lookup_swap_cache takes a reference (or fails on a page being
// freed); delete_from_swap_cache and try_to_free_swap drop the cache's
// reference and free the slot with its last user; writepage + readpage move
// contents through the slot.
#include "swap.h"

#include <gtest/gtest.h>

#include <vector>

#include "mm.h"
#include "test_util.h"

namespace anonx {
namespace {

constexpr unsigned long kSlots = 8;  // slot 0 is never used

class Swap : public testing::SinkTest {
 protected:
  void TearDown() override {
    EXPECT_EQ(sink.total(), 0u) << "unexpected violation reports";
    SinkTest::TearDown();
  }
  page *new_anon_page(uint64_t fill) {
    page *p = m.mem.alloc_page(0, 0);
    EXPECT_NE(p, nullptr);
    p->mapping.store(m.next_anon_vma.fetch_add(1) << 2 | PAGE_MAPPING_ANON);
    for (unsigned i = 0; i < kWordsPerPage; i++) m.mem.write_word(p->pfn, i, fill + i);
    return p;
  }
  unsigned long slot_of(const page *p) const { return p->private_.load(); }

  machine m{4096, 1, 2, 4, kSlots};
  basic_swap_device<> &swap = m.swap;
};

TEST_F(Swap, AddToSwap) {
  EXPECT_EQ(swap.nr_free(), kSlots - 1);
  page *p = new_anon_page(100);
  ASSERT_FALSE(PageSwapCache(p));
  ASSERT_TRUE(swap.add_to_swap(p));
  EXPECT_EQ(swap.nr_free(), kSlots - 2);
  EXPECT_TRUE(PageSwapCache(p));
  EXPECT_TRUE(PageSwapBacked(p));
  EXPECT_EQ(page_ref_count(p), 2) << "the swap cache holds a reference";
  const unsigned long off = slot_of(p);
  EXPECT_GE(off, 1u);
  EXPECT_LT(off, kSlots);
  EXPECT_EQ(swap.swap_count(off), 0);
  // Every usable slot is distinct; then the device is full.
  std::vector<page *> more;
  std::vector<bool> seen(kSlots, false);
  seen[off] = true;
  for (unsigned long i = 2; i < kSlots; i++) {
    page *q = new_anon_page(i);
    ASSERT_TRUE(swap.add_to_swap(q)) << i;
    EXPECT_FALSE(seen[slot_of(q)]) << "slot " << slot_of(q) << " given twice";
    seen[slot_of(q)] = true;
    more.push_back(q);
  }
  page *last = new_anon_page(0);
  EXPECT_FALSE(swap.add_to_swap(last));
  EXPECT_FALSE(PageSwapCache(last));
  EXPECT_EQ(page_ref_count(last), 1);
  EXPECT_EQ(swap.nr_free(), 0u);
  for (page *q : more) swap.delete_from_swap_cache(m.mem, 0, q);
  swap.delete_from_swap_cache(m.mem, 0, p);
  EXPECT_EQ(swap.nr_free(), kSlots - 1);
}

// Swap PTEs count on the slot; the slot outlives the cache while counted,
// and is freed with the last of cache and PTEs.
TEST_F(Swap, CountsAndFree) {
  page *p = new_anon_page(7);
  ASSERT_TRUE(swap.add_to_swap(p));
  const unsigned long off = slot_of(p);
  swap.swap_duplicate(off);  // try_to_unmap_one installs a swap PTE
  swap.swap_duplicate(off);  // fork copies it
  EXPECT_EQ(swap.swap_count(off), 2);
  swap.delete_from_swap_cache(m.mem, 0, p);
  EXPECT_FALSE(PageSwapCache(p));
  EXPECT_EQ(slot_of(p), 0u);
  EXPECT_EQ(page_ref_count(p), 1);
  EXPECT_EQ(swap.nr_free(), kSlots - 2) << "still referenced by two swap PTEs";
  EXPECT_EQ(swap.lookup_swap_cache(off), nullptr);
  swap.swap_free(off);
  EXPECT_EQ(swap.nr_free(), kSlots - 2);
  swap.swap_free(off);
  EXPECT_EQ(swap.nr_free(), kSlots - 1);
  EXPECT_EQ(swap.swap_count(off), 0);
}

// swap_free on a slot no PTE refers to is a model bug, and is reported.
TEST_F(Swap, SwapFreeUnusedSlotReported) {
  page *p = new_anon_page(1);
  ASSERT_TRUE(swap.add_to_swap(p));
  swap.swap_free(slot_of(p));
  EXPECT_EQ(sink.count("VM_BUG_ON:swap_free on an unused slot"), 1u);
  sink.reset();  // expected: keep TearDown's check for the rest
}

// lookup_swap_cache takes a reference; a frozen (being freed) page is not
// returned.
TEST_F(Swap, LookupSwapCache) {
  page *p = new_anon_page(5);
  ASSERT_TRUE(swap.add_to_swap(p));
  const unsigned long off = slot_of(p);
  swap.swap_duplicate(off);
  page *found = swap.lookup_swap_cache(off);
  EXPECT_EQ(found, p);
  EXPECT_EQ(page_ref_count(p), 3);
  m.mem.put_page(0, found);
  ASSERT_TRUE(page_ref_freeze(p, 2));
  EXPECT_EQ(swap.lookup_swap_cache(off), nullptr);
  EXPECT_EQ(page_ref_count(p), 0);
  page_ref_unfreeze(p, 2);
  swap.delete_from_swap_cache(m.mem, 0, p);
  EXPECT_EQ(swap.lookup_swap_cache(off), nullptr);
  swap.swap_free(off);
}

// Swap out, drop the page, swap in a fresh page: same contents.
TEST_F(Swap, WriteReadRoundTrip) {
  page *p = new_anon_page(0xfeed0000);
  ASSERT_TRUE(swap.add_to_swap(p));
  const unsigned long off = slot_of(p);
  swap.swap_duplicate(off);
  swap.writepage(m.mem, p);
  swap.delete_from_swap_cache(m.mem, 0, p);
  m.mem.write_word(p->pfn, 0, 0xbad);  // the old frame is scribbled on
  m.mem.put_page(0, p);                // and freed
  page *q = m.mem.alloc_page(1, 0);
  m.mem.clear_page(q->pfn);
  swap.readpage(m.mem, off, q);
  for (unsigned i = 0; i < kWordsPerPage; i++)
    EXPECT_EQ(m.mem.read_word(q->pfn, i), 0xfeed0000u + i);
  ASSERT_TRUE(swap.add_to_swap_cache(q, off));
  EXPECT_TRUE(PageSwapCache(q));
  EXPECT_EQ(slot_of(q), off);
  EXPECT_FALSE(swap.add_to_swap_cache(q, off)) << "a slot caches one page";
  page *found = swap.lookup_swap_cache(off);
  EXPECT_EQ(found, q);
  m.mem.put_page(0, found);
  swap.swap_free(off);  // do_swap_page maps it: the swap PTE is gone
  EXPECT_EQ(swap.nr_free(), kSlots - 2) << "the cache still holds the slot";
  EXPECT_TRUE(swap.try_to_free_swap(m.mem, 1, q));
  EXPECT_EQ(swap.nr_free(), kSlots - 1);
  EXPECT_EQ(page_ref_count(q), 1);
}

// try_to_free_swap leaves the cache only when no swap PTE refers to it.
TEST_F(Swap, TryToFreeSwap) {
  page *p = new_anon_page(3);
  EXPECT_FALSE(swap.try_to_free_swap(m.mem, 0, p)) << "not in the swap cache";
  ASSERT_TRUE(swap.add_to_swap(p));
  const unsigned long off = slot_of(p);
  swap.swap_duplicate(off);
  EXPECT_FALSE(swap.try_to_free_swap(m.mem, 0, p));
  EXPECT_TRUE(PageSwapCache(p));
  EXPECT_EQ(page_ref_count(p), 2);
  swap.swap_free(off);
  EXPECT_TRUE(swap.try_to_free_swap(m.mem, 0, p));
  EXPECT_FALSE(PageSwapCache(p));
  EXPECT_EQ(page_ref_count(p), 1);
  EXPECT_EQ(swap.nr_free(), kSlots - 1);
}

// swapcache_prepare takes SWAP_HAS_CACHE once, only for a slot that swap
// PTEs refer to and no page caches; while held, the slot outlives its last
// swap PTE; swapcache_clear frees it then. The device kind is a flag.
TEST_F(Swap, SwapcachePrepareAndClear) {
  EXPECT_FALSE(swap.synchronous_io()) << "built as a disk";
  swap.set_synchronous_io(true);
  EXPECT_TRUE(swap.synchronous_io());
  page *p = new_anon_page(9);
  ASSERT_TRUE(swap.add_to_swap(p));
  const unsigned long off = slot_of(p);
  swap.swap_duplicate(off);
  EXPECT_FALSE(swap.swapcache_prepare(off)) << "-EEXIST: a page caches the slot";
  swap.delete_from_swap_cache(m.mem, 0, p);
  EXPECT_TRUE(swap.swapcache_prepare(off));
  EXPECT_FALSE(swap.swapcache_prepare(off)) << "-EEXIST: another swap-in holds it";
  page *q = new_anon_page(0);
  EXPECT_FALSE(swap.add_to_swap(q) && slot_of(q) == off) << "a held slot is not free";
  if (PageSwapCache(q)) swap.delete_from_swap_cache(m.mem, 0, q);
  swap.swap_free(off);  // the last swap PTE goes while the swap-in holds the slot
  EXPECT_EQ(swap.nr_free(), kSlots - 2);
  swap.swapcache_clear(off);
  EXPECT_EQ(swap.nr_free(), kSlots - 1);
  EXPECT_FALSE(swap.swapcache_prepare(off)) << "-ENOENT: no swap PTE refers to it";
  m.mem.put_page(0, q);
  m.mem.put_page(0, p);
}

// swapcache_clear with no bare SWAP_HAS_CACHE to drop is a model bug.
TEST_F(Swap, SwapcacheClearUnheldReported) {
  page *p = new_anon_page(2);
  ASSERT_TRUE(swap.add_to_swap(p));
  swap.swapcache_clear(slot_of(p));  // the cache's SWAP_HAS_CACHE, not a prepare's
  EXPECT_EQ(sink.count("VM_BUG_ON:swapcache_clear without a bare SWAP_HAS_CACHE"), 1u);
  sink.reset();
}

}  // namespace
}  // namespace anonx
