// SPDX-License-Identifier: GPL-2.0-only
// paths_swap_test.cc: swap-out (mm/vmscan.c shrink_page_list, mm/rmap.c
// try_to_unmap_one) and swap-in (mm/memory.c do_swap_page), 6.1:
// SWP_EXCLUSIVE, a pinned page refused, the swap cache's part, and the
// swap device's kind (SWP_SYNCHRONOUS_IO bypasses the swap cache).
#include <gtest/gtest.h>

#include "paths_rig.h"

namespace anonx {
namespace {

using namespace paths_rig;

// ---- swap-out and swap-in (mm/rmap.c try_to_unmap_one, do_swap_page, 6.1) ---

TEST_P(Paths, SwapOutOfUnpinnedPageInstallsSwpExclusiveAndSwapInMapsExclusive) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.page_at(mm, kA);
  ASSERT_TRUE(shrink_page(w.env, p));
  const pte_t swp = w.entry(mm, kA);
  EXPECT_TRUE(is_swap_entry(swp));
  EXPECT_TRUE(pte_swp_exclusive(swp));
  EXPECT_TRUE(PageBuddy(p)) << "written out and freed";
  EXPECT_EQ(w.st.swapouts, 1u);
  EXPECT_EQ(w.read(mm, kA), 42u);  // swap-in (read fault)
  page *np = w.page_at(mm, kA);
  ASSERT_NE(np, nullptr);
  EXPECT_TRUE(excl(np));
  EXPECT_FALSE(pte_write(w.entry(mm, kA))) << "a read fault maps R/O";
  ASSERT_TRUE(w.write(mm, kA, 43));
  EXPECT_EQ(w.page_at(mm, kA), np) << "exclusive: the write reuses it";
  EXPECT_EQ(w.st.cow_copies, 0u);
  w.finish({&mm});
}

// Swap-in from the swap cache (a FOLL_GET reference kept the page there):
// exclusivity can only come from SWP_EXCLUSIVE (B11, 1493a1913e34). With the
// bit ignored (mutant) the write after swap-in COWs away from the O_DIRECT
// reference.
TEST_P(Paths, SwapInFromSwapCacheIsExclusiveOnlyThroughSwpExclusive) {
  for (const bool mutant_on : {false, true}) {
    SCOPED_TRACE(mutant_on ? "b11_no_swp_exclusive" : "correct");
    world w(GetParam(), mutant_on ? mutant::b11_no_swp_exclusive : mutant::none);
    mm_struct mm(w.m);
    ASSERT_TRUE(w.populate(mm, 42));
    page *p = w.get(mm, kA);  // O_DIRECT read target: FOLL_GET|FOLL_WRITE-like reference
    ASSERT_TRUE(shrink_page(w.env, p));
    const pte_t swp = w.entry(mm, kA);
    ASSERT_TRUE(is_swap_entry(swp));
    EXPECT_EQ(pte_swp_exclusive(swp), !mutant_on);
    EXPECT_TRUE(PageSwapCache(p)) << "the extra reference keeps it in the swap cache";
    EXPECT_EQ(w.read(mm, kA), 42u);
    EXPECT_EQ(w.page_at(mm, kA), p) << "swap-in from the swap cache";
    EXPECT_EQ(excl(p), !mutant_on);
    ASSERT_TRUE(w.write(mm, kA, 43));
    EXPECT_EQ(w.page_at(mm, kA) == p, !mutant_on);
    EXPECT_EQ(w.dma_read(p), mutant_on ? 42u : 43u);
    put_user_page(w.env, p);
    w.finish({&mm});
  }
}

TEST_P(Paths, SwapOutOfPinnedPageFailsAndRestoresThePte) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  const pte_t before = w.entry(mm, kA);
  EXPECT_FALSE(shrink_page(w.env, p));
  EXPECT_EQ(w.entry(mm, kA).v, before.v) << "(A2) saw the pin: PTE restored";
  EXPECT_TRUE(excl(p));
  EXPECT_EQ(page_mapcount(p), 1);
  EXPECT_EQ(w.st.share_busy, 1u);
  EXPECT_EQ(w.st.swapouts, 0u);
  ASSERT_TRUE(w.write(mm, kA, 43));
  EXPECT_EQ(w.dma_read(p), 43u);
  unpin_user_page(w.env, p);
  // Unpinned, the page (still in the swap cache) can go now.
  EXPECT_TRUE(PageSwapCache(p));
  ASSERT_TRUE(shrink_page(w.env, p));
  EXPECT_TRUE(pte_swp_exclusive(w.entry(mm, kA)));
  EXPECT_EQ(w.read(mm, kA), 43u);
  EXPECT_TRUE(excl(w.page_at(mm, kA)));
  w.finish({&mm});
}

// A page left in the swap cache by a failed swap-out leaves it when zap
// unmaps it (free_swap_cache), else nothing would free it.
TEST_P(Paths, ZapFreesPageLeftInSwapCacheByFailedSwapOut) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  ASSERT_FALSE(shrink_page(w.env, p));
  ASSERT_TRUE(PageSwapCache(p));
  unpin_user_page(w.env, p);
  madvise_dontneed(w.env, mm, kA, kA + 1);
  EXPECT_TRUE(PageBuddy(p));
  EXPECT_EQ(w.m.swap.nr_free(), w.free_swap0);
  w.finish({&mm});
}

TEST_P(Paths, SwapOutAfterForkHasNoSwpExclusive) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.page_at(mm, kA);
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  ASSERT_TRUE(shrink_page(w.env, p));
  const pte_t pe = w.entry(mm, kA), ce = w.entry(child, kA);
  EXPECT_TRUE(is_swap_entry(pe));
  EXPECT_TRUE(is_swap_entry(ce));
  EXPECT_FALSE(pte_swp_exclusive(pe));
  EXPECT_FALSE(pte_swp_exclusive(ce));
  EXPECT_EQ(swp_offset(pe), swp_offset(ce));
  EXPECT_EQ(w.m.swap.swap_count(swp_offset(pe)), 2);
  EXPECT_EQ(w.read(mm, kA), 42u);
  EXPECT_EQ(w.read(child, kA), 42u);
  w.finish({&child, &mm});
}

// ---- swap-in and the swap device's kind (mm/memory.c do_swap_page, 6.1) -----

// (a) A SWP_SYNCHRONOUS_IO device (zram, pmem) and one swap PTE: swap-in
// reads a new page past the swap cache and maps it exclusive. While it
// holds SWAP_HAS_CACHE (swapcache_prepare), a second fault on the same swap
// PTE maps nothing and the slot stays allocated: without that, the second
// faulter could map the slot, free it, and a swap-out reuse it for the same
// PTE value, and the first would map its stale copy (pte_same passes).
TEST_P(Paths, SyncDeviceSwapInBypassesSwapCacheAndHoldsTheSlot) {
  world w(GetParam());
  w.m.swap.set_synchronous_io(true);
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  ASSERT_TRUE(shrink_page(w.env, w.page_at(mm, kA)));
  const pte_t orig = w.entry(mm, kA);
  ASSERT_TRUE(is_swap_entry(orig));
  const unsigned long slot = swp_offset(orig);
  ASSERT_EQ(w.m.swap.swap_count(slot), 1);
  int second = -1;
  pte_t after_second{};
  run_once_at hook("SWAPIN_LOCK", [&] {
    second = handle_mm_fault(w.env, mm, kA, FAULT_FLAG_WRITE);  // another thread, same PTE
    after_second = w.entry(mm, kA);
  });
  w.env.hooks = &hook;
  // The fault of the thread under test (its mmap_lock is not taken: the
  // other thread's paths run nested, on this thread).
  EXPECT_EQ(handle_mm_fault(w.env, mm, kA, 0), VM_FAULT_OK);
  w.env.hooks = &w.h;
  ASSERT_TRUE(hook.fired) << "do_swap_page has no SWAPIN_LOCK window";
  EXPECT_EQ(second, VM_FAULT_OK);
  EXPECT_EQ(after_second.v, orig.v) << "the second faulter mapped the slot while it was held";
  page *np = w.page_at(mm, kA);
  ASSERT_NE(np, nullptr);
  EXPECT_FALSE(PageSwapCache(np)) << "bypassed the swap cache";
  EXPECT_TRUE(PageAnon(np));
  EXPECT_TRUE(excl(np));
  EXPECT_FALSE(pte_write(w.entry(mm, kA))) << "a read fault maps R/O";
  EXPECT_EQ(page_ref_count(np), 1);
  EXPECT_EQ(w.m.swap.nr_free(), w.free_swap0) << "slot freed with SWAP_HAS_CACHE dropped";
  EXPECT_EQ(w.st.swapin_bypass, 1u);
  EXPECT_EQ(w.st.swapin_swapcache, 0u);
  EXPECT_EQ(w.read(mm, kA), 42u);
  w.finish({&mm});
}

// (b) A disk (no SWP_SYNCHRONOUS_IO): swap-in goes through the swap cache.
// A read fault leaves the page there (it keeps its slot); a write fault
// drops the swap cache when the fault and the cache hold the only two
// references (should_try_to_free_swap), and not when a third (an O_DIRECT
// FOLL_GET) is held.
TEST_P(Paths, DiskSwapInKeepsSwapCacheUnlessWriteFaultIsSoleUser) {
  world w(GetParam());
  ASSERT_FALSE(w.m.swap.synchronous_io()) << "the machine is built with a disk";
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  ASSERT_TRUE(shrink_page(w.env, w.page_at(mm, kA)));
  // Read fault: in the swap cache, exclusive through SWP_EXCLUSIVE, R/O.
  EXPECT_EQ(w.read(mm, kA), 42u);
  page *np = w.page_at(mm, kA);
  ASSERT_NE(np, nullptr);
  EXPECT_TRUE(PageSwapCache(np)) << "a read fault keeps the swap cache";
  EXPECT_TRUE(excl(np));
  EXPECT_FALSE(pte_write(w.entry(mm, kA)));
  EXPECT_EQ(page_ref_count(np), 2) << "the mapping's and the swap cache's";
  EXPECT_EQ(w.m.swap.nr_free(), w.free_swap0 - 1) << "the swap cache holds the slot";
  EXPECT_EQ(w.st.swapin_swapcache, 1u);
  EXPECT_EQ(w.st.swapin_bypass, 0u);
  // Swap out again (already in the swap cache), then a write fault: the
  // fault's reference + the cache's == 2, so the cache is dropped.
  ASSERT_TRUE(shrink_page(w.env, np));
  ASSERT_TRUE(w.write(mm, kA, 43));
  page *wp = w.page_at(mm, kA);
  ASSERT_NE(wp, nullptr);
  EXPECT_FALSE(PageSwapCache(wp)) << "write fault, refcount 2: the swap cache is freed";
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  EXPECT_TRUE(excl(wp));
  EXPECT_EQ(page_ref_count(wp), 1);
  EXPECT_EQ(w.m.swap.nr_free(), w.free_swap0);
  // A write fault with an O_DIRECT reference (refcount 3) keeps the cache;
  // SWP_EXCLUSIVE still maps it writable, in place.
  page *ref = w.get(mm, kA);
  ASSERT_TRUE(shrink_page(w.env, ref));
  ASSERT_TRUE(PageSwapCache(ref));
  ASSERT_TRUE(w.write(mm, kA, 44));
  EXPECT_EQ(w.page_at(mm, kA), ref);
  EXPECT_TRUE(PageSwapCache(ref)) << "refcount 3: should_try_to_free_swap is false";
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  EXPECT_EQ(w.dma_read(ref), 44u);
  EXPECT_EQ(w.st.cow_copies, 0u);
  put_user_page(w.env, ref);
  w.finish({&mm});
}

// (c) After fork the slot has two swap PTEs: even a synchronous device
// reads it into the swap cache, and both mms map that one page R/O, not
// exclusive. A write fault of the parent then copies in the same fault:
// do_swap_page hands over to do_wp_page under its PT lock.
TEST_P(Paths, SharedSwapEntryGoesThroughSwapCacheEvenOnSyncDevice) {
  for (const bool write_first : {false, true}) {
    SCOPED_TRACE(write_first ? "parent write-faults first" : "both read-fault");
    world w(GetParam());
    w.m.swap.set_synchronous_io(true);
    mm_struct mm(w.m), child(w.m);
    ASSERT_TRUE(w.populate(mm, 42));
    ASSERT_TRUE(shrink_page(w.env, w.page_at(mm, kA)));
    ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
    const unsigned long slot = swp_offset(w.entry(mm, kA));
    ASSERT_EQ(w.m.swap.swap_count(slot), 2);
    if (write_first) {
      // One fault: the page is read into the swap cache, mapped R/O (not
      // exclusive: refcount 2, the cache's and ours, and the child's swap
      // PTE keeps the slot), then copied by do_wp_page.
      EXPECT_EQ(handle_mm_fault(w.env, mm, kA, FAULT_FLAG_WRITE), VM_FAULT_OK);
      const pte_t pe = w.entry(mm, kA);
      ASSERT_TRUE(pte_present(pe));
      EXPECT_TRUE(pte_write(pe)) << "the write fault finished in do_wp_page, no re-fault";
      page *copy = w.page_at(mm, kA);
      EXPECT_FALSE(PageSwapCache(copy));
      EXPECT_TRUE(excl(copy));
      EXPECT_EQ(w.st.cow_copies, 1u);
      EXPECT_EQ(w.st.swapin_swapcache, 1u);
      EXPECT_EQ(w.m.swap.swap_count(slot), 1);
      EXPECT_EQ(w.read(child, kA), 42u);
      page *cp = w.page_at(child, kA);
      ASSERT_NE(cp, nullptr);
      EXPECT_NE(cp, copy);
      EXPECT_TRUE(PageSwapCache(cp)) << "the child maps the swap-cache page";
      EXPECT_FALSE(excl(cp));
    } else {
      EXPECT_EQ(w.read(mm, kA), 42u);
      EXPECT_EQ(w.read(child, kA), 42u);
      page *pp = w.page_at(mm, kA);
      ASSERT_NE(pp, nullptr);
      EXPECT_EQ(w.page_at(child, kA), pp) << "one swap-cache page for both";
      EXPECT_TRUE(PageSwapCache(pp));
      EXPECT_FALSE(excl(pp));
      EXPECT_EQ(page_mapcount(pp), 2);
      EXPECT_FALSE(pte_write(w.entry(mm, kA)));
      EXPECT_FALSE(pte_write(w.entry(child, kA)));
      EXPECT_EQ(w.st.swapin_bypass, 0u);
      EXPECT_EQ(w.st.swapin_swapcache, 2u);
    }
    w.finish({&child, &mm});
  }
}

// (d) The page found (here: read) in the swap cache leaves it before the
// fault locks it, and the slot is reused: another thread maps the page,
// zaps it (free_swap_cache frees the slot), writes a new page to the same
// address and reclaim swaps it out to the same slot, so the PTE is again
// the same swap entry. The fault must see, under the page lock, that its
// page no longer caches the slot, and repeat; pte_same alone would map the
// stale page.
TEST_P(Paths, SwapInRechecksSwapCacheAfterLockingThePage) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  ASSERT_TRUE(shrink_page(w.env, w.page_at(mm, kA)));
  const pte_t orig = w.entry(mm, kA);
  ASSERT_TRUE(is_swap_entry(orig));
  run_once_at hook("SWAPIN_LOCK", [&] {
    ASSERT_TRUE(w.write(mm, kA, 43));
    madvise_dontneed(w.env, mm, kA, kA + 1);
    ASSERT_TRUE(w.write(mm, kA, 44));
    ASSERT_TRUE(shrink_page(w.env, w.page_at(mm, kA)));
  });
  w.env.hooks = &hook;
  EXPECT_EQ(handle_mm_fault(w.env, mm, kA, 0), VM_FAULT_OK);
  w.env.hooks = &w.h;
  ASSERT_TRUE(hook.fired) << "do_swap_page has no SWAPIN_LOCK window";
  EXPECT_EQ(w.entry(mm, kA).v, orig.v)
      << "the fault mapped a page that no longer caches the slot (the slot is reused)";
  EXPECT_EQ(w.st.swapin_swapcache, 1u) << "only the other thread's swap-in mapped a page";
  EXPECT_EQ(w.read(mm, kA), 44u) << "the repeated fault reads the slot's new contents";
  w.finish({&mm});
}

}  // namespace
}  // namespace anonx
