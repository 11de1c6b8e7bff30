// SPDX-License-Identifier: GPL-2.0-only
// ksm.h: KSM merging of one anonymous page into a stable KSM page
// (mm/ksm.c write_protect_page, replace_page).
//
// Simplifications: no scanning and no checksums; the harness names the page
// and the stable page (made by ksm_new_stable_page) it merges into.
#pragma once

#include "vmscan.h"

namespace anonx {

// A stable-tree KSM page with the contents of `src` (the stable tree holds
// one reference). KSM pages are never exclusive (I6).
template <class Env>
typename Env::page_t *ksm_new_stable_page(Env &env, unsigned long src_pfn, unsigned long node) {
  auto *kpage = env.alloc_page(0);
  if (!kpage) return nullptr;
  env.m->mem.copy_page(kpage->pfn, src_pfn);
  __SetPageSwapBacked(kpage);
  kpage->mapping.store((node << 2) | PAGE_MAPPING_KSM, std::memory_order_release);
  return kpage;
}

// Models: write_protect_page() (mm/ksm.c, checked against 6.1.192).
// Locking: page lock held; takes the PT lock.
// Steps: act if the PTE is writable, dirty or the page exclusive: (A1)
// clear and flush; refuse extra references (mapcount + 1 + swapcache !=
// refcount: GUP, O_DIRECT); page_try_share_anon_rmap ((A2), (A3)); (A4) the
// PTE clean and R/O — possibly the *same value* as before, the case that
// needs the MP pairing (mutant B8 in core/protocol.h; 088b8aa537c2).
// Simplifications: two of the kernel's triggers are left out, a protnone
// PTE with the saved write bit (NUMA hinting) and mm_tlb_flush_pending (a
// writable TLB entry may outlive a R/O PTE), since the model has neither;
// a dirty PTE does not set_page_dirty.
template <class Env>
bool write_protect_page(Env &env, typename Env::mm_t &mm, unsigned long addr,
                        typename Env::page_t *page, pte_t *orig_pte) {
  auto *table = pte_table_of<Env>(mm, addr);
  if (!table) return false;
  lock_guard<ptl_t> ptl(table->ptl);
  auto *ptep = &table->pte[pte_index(addr)];
  pte_t pte{ptep->load(std::memory_order_relaxed)};
  if (!pte_present(pte) || pte_pfn(pte) != page->pfn) return false;
  const bool anon_exclusive = env.has_anon_exclusive() && PageAnonExclusive(page);
  if (pte_write(pte) || pte_dirty(pte) || anon_exclusive) {
    const pte_t entry = ptep_clear_flush_a1(env, ptep, true);  // (A1) ptep_clear_flush
    const bool merge_pinned = env.proto.mutant_is(mutant::ksm_merge_pinned);
    const int swapcache = PageSwapCache(page) ? 1 : 0;
    if (!merge_pinned && page_mapcount(page) + 1 + swapcache != page_ref_count(page)) {
      set_pte_at(env, ptep, entry);
      return false;
    }
    const pte_t final_pte = pte_mkclean(pte_wrprotect(entry));
    bool clear_after_a4 = false;
    if (anon_exclusive) {
      if (merge_pinned) {
        share_clear_flag(env, page);  // no (A2): a pinned page loses its flag
      } else if (env.proto.mutant_is(mutant::b8_no_wmb_rmb) && env.proto.reorder) {
        // What the missing smp_wmb allows (scripted only): (A4) becomes
        // visible before (A3).
        if (share_check_pinned(env, page)) {
          set_pte_at(env, ptep, entry);
          return false;
        }
        clear_after_a4 = true;
      } else if (page_try_share_anon_rmap(env, page)) {
        set_pte_at(env, ptep, entry);
        return false;
      }
    }
    env.at("A4");
    set_pte_at(env, ptep, final_pte);                 // (A4)
    if (clear_after_a4) share_clear_flag(env, page);  // b8: (A3) after (A4)
    pte = final_pte;
  }
  *orig_pte = pte;
  return true;
}

// Models: replace_page() (mm/ksm.c, checked against 6.1.192): map the KSM
// page R/O in place of page. Locking: page lock held; takes the PT lock.
// Simplifications: the clear never waits for GUP-fast, where the kernel's
// ptep_clear_flush does on x86 native (the page is no longer exclusive, so
// no flag clearer relies on it); the old page, once unmapped, is not freed
// from the swap cache (folio_free_swap); no use_zero_pages.
template <class Env>
bool replace_page(Env &env, typename Env::mm_t &mm, unsigned long addr, typename Env::page_t *page,
                  typename Env::page_t *kpage, pte_t orig) {
  auto *table = pte_table_of<Env>(mm, addr);
  if (!table) return false;
  lock_guard<ptl_t> ptl(table->ptl);
  auto *ptep = &table->pte[pte_index(addr)];
  if (ptep->load(std::memory_order_relaxed) != orig.v) return false;
  get_page(kpage);
  page_add_anon_rmap(env, kpage, 0);
  ptep->exchange(0, std::memory_order_seq_cst);  // ptep_clear_flush
  word_rmw(word_kind::pte);
  set_pte_at(env, ptep, pfn_pte(kpage->pfn, false));
  page_remove_rmap(page, false);
  env.put_page(page);
  return true;
}

// Models: pages_identical() (mm/ksm.c, checked against 6.1.192; a memcmp
// after the write-protect: the page can no longer change under us unless
// it is written through a pin).
template <class Env>
bool pages_identical(Env &env, typename Env::page_t *a, typename Env::page_t *b) {
  for (unsigned i = 0; i < kWordsPerPage; i++)
    if (env.m->mem.read_word(a->pfn, i) != env.m->mem.read_word(b->pfn, i)) return false;
  return true;
}

// Models: try_to_merge_one_page() for the page mapped at addr (mm/ksm.c,
// checked against 6.1.192). Locking: none held; takes the page lock and the
// PT lock. Simplification: a THP is refused, not split first.
template <class Env>
bool ksm_merge(Env &env, typename Env::mm_t &mm, unsigned long addr, typename Env::page_t *kpage) {
  auto *table = pte_table_of<Env>(mm, addr);
  if (!table) return false;
  typename Env::page_t *page;
  {
    lock_guard<ptl_t> ptl(table->ptl);
    const pte_t pte{table->pte[pte_index(addr)].load(std::memory_order_relaxed)};
    if (!pte_present(pte)) return false;
    page = env.pfn_to_page(pte_pfn(pte));
    if (!PageAnon(page) || PageKsm(page) || PageCompound(page)) return false;
    get_page(page);
  }
  bool ok = false;
  if (trylock_page(page)) {
    pte_t orig;
    ok = write_protect_page(env, mm, addr, page, &orig) && pages_identical(env, page, kpage) &&
         replace_page(env, mm, addr, page, kpage, orig);
    unlock_page(page);
  }
  env.put_page(page);
  return ok;
}

}  // namespace anonx
