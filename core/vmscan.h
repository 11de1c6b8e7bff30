// SPDX-License-Identifier: GPL-2.0-only
// vmscan.h: swap-out of one anonymous page (mm/vmscan.c shrink_page_list,
// mm/rmap.c try_to_unmap / try_to_unmap_one), and the rmap walk.
//
// Simplifications: reclaim is asked for one page by the harness (no LRU
// scanning); THP are not swapped (the kernel would split them first).
#pragma once

#include <vector>

#include "memory.h"

namespace anonx {

// Models: rmap_walk_anon() (mm/rmap.c, checked against 6.1.192; the model
// walks every mm at the page's address, not the anon_vma interval tree):
// visit every PTE, in every mm, that maps `page`
// (or, with migration = true, holds a migration entry for it), with that
// PT lock held. fn returns false to stop the walk. Locking: page lock.
template <class Env, class F>
bool rmap_walk(Env &env, typename Env::page_t *page, bool migration,
               F &&fn) NO_THREAD_SAFETY_ANALYSIS {
  auto *head = compound_head(page);
  const unsigned long addr = head->index.load(std::memory_order_relaxed) + (page - head);
  lock_guard<spinlock_t> g(env.m->mm_list_lock);
  for (auto *mm : env.m->mms) {
    auto *table = pte_table_of<Env>(*mm, addr);
    if (!table) continue;
    lock_guard<ptl_t> ptl(table->ptl);
    auto *ptep = &table->pte[pte_index(addr)];
    const pte_t pte{ptep->load(std::memory_order_relaxed)};
    const bool match = migration ? (is_migration_entry(pte) && swp_offset(pte) == page->pfn)
                                 : (pte_present(pte) && pte_pfn(pte) == page->pfn);
    if (match && !fn(*mm, ptep, pte)) return false;
  }
  return true;
}

// Models: try_to_unmap_one() for an anon page going to swap (mm/rmap.c,
// checked against 6.1.192; before 6.1 as 5.19, whose flush was forced for
// exclusive pages).
// Locking: page lock; PT lock held (rmap walk); the page is in the swap cache.
// Steps: anon_exclusive := the flag; (A1) clear (before 6.1, and flush: on
// x86 the IPI waits for GUP-fast); dirty; swap_duplicate; if anon_exclusive:
// page_try_share_anon_rmap ((A2) pinned -> restore the PTE and fail; (A3));
// (A4) the swap PTE, SWP_EXCLUSIVE if it was exclusive; drop the rmap and
// the mapping's reference.
// Simplification: from 6.1 the flush is always deferred (should_defer_flush
// true), the case that relies on the barriers alone; the kernel's
// non-deferred ptep_clear_flush (a reclaimer alone on the mm, and arm64 6.1,
// which has no batched flush) would on x86 also wait for GUP-fast. No
// MADV_FREE (lazyfree) pages.
template <class Env>
bool try_to_unmap_one(Env &env, typename Env::page_t *page,
                      typename Env::template atomic<pteval_t> *ptep) {
  const unsigned long slot = page->private_.load(std::memory_order_relaxed);
  const bool anon_exclusive = env.has_anon_exclusive() && PageAnonExclusive(page);
  // Before 6.1 an exclusive page forced the flush; from 6.1 reclaim
  // batches it (should_defer_flush) and the barriers order (A1)/(A2).
  const bool flush = anon_exclusive && !env.proto.at_least(generation::v6_1);
  const pte_t pteval = ptep_clear_flush_a1(env, ptep, flush);  // (A1)
  // SetPageDirty and swap_duplicate's spinlock are locked instructions: on
  // x86 they drain this CPU's store buffer, so (A1) is visible before (A2)
  // here even without the smp_mb (weaker architectures give no such order).
  env.drain_at_locked_op();
  if (pte_dirty(pteval)) SetPageDirty(page);
  env.m->swap.swap_duplicate(slot);
  if (anon_exclusive && page_try_share_anon_rmap(env, page)) {  // (A2), (A3)
    env.m->swap.swap_free(slot);
    set_pte_at(env, ptep, pteval);  // restore: still mapped, still exclusive
    return false;
  }
  pte_t swp = swp_entry_to_pte(SWP_SWAPFILE, slot);
  if (anon_exclusive && !env.proto.mutant_is(mutant::b11_no_swp_exclusive))
    swp = pte_swp_mkexclusive(swp);
  env.at("A4");
  set_pte_at(env, ptep, swp);  // (A4)
  page_remove_rmap(page, false);
  env.put_page(page);
  return true;
}

// Models: shrink_page_list() for one anon page: isolate, lock, add to swap,
// try_to_unmap, write out, and leave the swap cache when nobody else holds a
// reference (__remove_mapping). Checked against 6.1.192 mm/vmscan.c.
// Locking: none held; takes the page lock and the PT locks. Returns true
// when the page was unmapped everywhere.
// Simplifications: from 5.19 neither of the kernel's
// folio_maybe_dma_pinned() early outs (before add_to_swap, and after the
// unmap) is taken, so a pinned page always reaches (A2); __remove_mapping's
// refcount freeze is a compare (a swap-in that raced keeps its reference
// and re-checks PageSwapCache under the page lock).
template <class Env>
bool shrink_page(Env &env, typename Env::page_t *page) {
  if (PageCompound(page) || !try_get_page(page)) return false;  // isolate
  if (!trylock_page(page)) {
    env.put_page(page);
    return false;
  }
  bool ok = PageAnon(page) && !PageKsm(page);
  // v5.18 relied on this racy check alone (feb889fb40fa); later it is an
  // optimisation and (A2) is the reliable test.
  if (ok && !env.has_anon_exclusive() && page_maybe_dma_pinned(page)) ok = false;
  if (ok && !PageSwapCache(page)) ok = env.add_to_swap(page);
  if (ok)
    ok = rmap_walk(env, page, false, [&](typename Env::mm_t &, auto *ptep, pte_t) {
      return try_to_unmap_one(env, page, ptep);
    });
  if (ok && page_mapcount(page) == 0) {
    env.m->swap.writepage(env.m->mem, page);
    if (page_ref_count(page) == 2)  // our isolation reference + the swap cache's
      env.m->swap.delete_from_swap_cache(env.m->mem, env.cpu, page);
    ++env.stats->swapouts;
  } else {
    ok = false;
  }
  unlock_page(page);
  env.put_page(page);
  return ok;
}

// Models: shrink_folio_list() / __remove_mapping() (mm/vmscan.c, 6.1)
// reclaiming a clean swap-cache page that nothing maps and nobody else
// holds, for every such page of the machine: what kswapd does to the pages
// a zap leaves in the swap cache (zap drops a swap entry with swap_free; the
// page waits for reclaim). Locking: none held; a page that is mapped, has
// another reference or is locked is left, as trylock_page fails there.
// Stronger than the kernel: it runs at a quiescent point of the caller's
// choosing, never concurrently with a path.
template <class Env>
void reclaim_orphan_swap_cache(Env &env) {
  std::vector<typename Env::page_t *> orphans;
  env.m->swap.for_each_used_slot([&](unsigned long, int count, bool, typename Env::page_t *cache) {
    if (cache && count == 0) orphans.push_back(cache);
  });
  for (auto *p : orphans) {
    if (page_mapcount(p) != 0 || page_ref_count(p) != 1 || !trylock_page(p)) continue;
    get_page(p);  // isolation: the page is freed below, unlocked
    env.m->swap.delete_from_swap_cache(env.m->mem, static_cast<int>(env.cpu), p);
    unlock_page(p);
    env.put_page(p);
  }
}

}  // namespace anonx
