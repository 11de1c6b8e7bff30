// SPDX-License-Identifier: GPL-2.0-only
// khugepaged.h: collapse of 512 PTE-mapped small anon pages into one THP
// (mm/khugepaged.c collapse_huge_page).
#pragma once

#include "memory.h"

namespace anonx {

// Models: collapse_huge_page() (mm/khugepaged.c, checked against 6.1.192;
// 6.12 orders the copy and the clears differently, see COLLAPSE_COPY).
// Locking: takes mmap_lock write, then the PMD lock and the PT lock, and
// holds both to the end (the kernel drops the PMD lock after the flush and
// takes the PT lock per entry while copying: a narrower scope the
// sequential steps below do not depend on).
// Steps:
//  ("COLLAPSE") allocate the THP; pmdp_collapse_flush: the PMD goes, and
//    GUP-fast's (B4) PMD re-check fails from here (70cbc3cc78a9);
//    tlb_remove_table_sync_one where the flush does not wait itself;
//  (isolate) __collapse_huge_page_isolate: refuse any page with an
//    unexpected reference (a pin) or a second mapping, and a range with no
//    writable PTE (SCAN_PAGE_RO); on refusal restore the PMD (pmd_populate);
//  ("COLLAPSE_COPY") __collapse_huge_page_copy: per entry copy the page,
//    ptep_clear, page_remove_rmap, free it;
//  (map) the THP, exclusive, writable iff VM_WRITE (maybe_pmd_mkwrite); the
//    old table, now all none, is deposited with it (for a split to withdraw),
//    not freed.
// The model accepts less than the kernel: 512 present small exclusive-
// mapped (mapcount 1) non-KSM pages, no none/zero, shared or swap entries.
// It refuses less in two ways the protocol does not depend on: no
// "nothing young" refusal (SCAN_LACK_REFERENCED_PAGE) and no uffd-wp; and
// it runs under mmap_lock write from the start, with no anon_vma lock and
// no MMU notifiers (the kernel allocates under the read lock, revalidates).
template <class Env>
bool collapse_huge_page(Env &env, typename Env::mm_t &mm,
                        unsigned long addr) NO_THREAD_SAFETY_ANALYSIS {
  const unsigned long haddr = mm.pmd_start(addr);
  auto *pmdp = mm.pmd_offset(haddr);
  mmap_write_guard mg(mm.mmap_lock);
  const vm_area_struct *vma = mm.find_vma(haddr);
  if (!vma || vma->vm_start > haddr || vma->vm_end < haddr + PTRS_PER_PTE) return false;
  const pmd_t pmd{pmdp->load(std::memory_order_acquire)};
  if (!pmd_table(pmd)) return false;
  auto *head = env.alloc_page(HPAGE_PMD_ORDER);
  if (!head) return false;
  auto &table = mm.table_of(pmd);
  lock_guard<spinlock_t> pl(mm.page_table_lock);
  env.at("COLLAPSE");
  pmdp->exchange(0, std::memory_order_seq_cst);  // pmdp_collapse_flush
  word_rmw(word_kind::pmd);
  // A GUP-fast that read the old PMD must be done before the reference
  // check below, or its pin is missed: on x86 the collapse flush is an IPI
  // that waits for it; with RCU table freeing only
  // tlb_remove_table_sync_one() does (2ba99c5e0881, 6.1-rc8). 6.0 and
  // 6.1-rc there rely on GUP-fast's PMD re-check alone (B10).
  if (env.flush_waits() || env.proto.at_least(generation::v6_1))
    env.m->cpus.wait_for_sections(env.cpu);
  lock_guard<ptl_t> ptl(table.ptl);
  bool ok = true, writable = false;
  for (unsigned i = 0; i < PTRS_PER_PTE && ok; i++) {
    const pte_t pte{table.pte[i].load(std::memory_order_relaxed)};
    if (!pte_present(pte)) {
      ok = false;
      break;
    }
    auto *p = env.pfn_to_page(pte_pfn(pte));
    ok = PageAnon(p) && !PageKsm(p) && !PageCompound(p) && page_mapcount(p) == 1 &&
         page_ref_count(p) == 1 + (PageSwapCache(p) ? 1 : 0);
    writable |= pte_write(pte);
  }
  if (!ok || !writable) {                           // !writable: SCAN_PAGE_RO
    pmdp->store(pmd.v, std::memory_order_release);  // pmd_populate of the untouched table
    env.put_page(head);
    return false;
  }
  // The B10 window: the pages passed the reference check and their PTEs
  // are still there, each until its copy below; a GUP-fast that read the
  // PMD before the flush may pin one now and pass a PTE-only re-check.
  // 6.1 clears each entry right after copying its page; 6.12 copies all
  // 512 first and then clears, which only widens that window.
  env.at("COLLAPSE_COPY");
  for (unsigned i = 0; i < PTRS_PER_PTE; i++) {
    const pte_t pte{table.pte[i].load(std::memory_order_relaxed)};
    auto *p = env.pfn_to_page(pte_pfn(pte));
    env.m->mem.copy_page(head->pfn + i, p->pfn);
    // ptep_clear: no ordering of its own (arm64's is a relaxed xchg); the
    // PMD exchange above is what a lockless walker has to notice.
    table.pte[i].exchange(0, std::memory_order_relaxed);
    page_remove_rmap(p, false);
    if (PageSwapCache(p)) {  // free_page_and_swap_cache
      lock_page(p);
      env.m->swap.try_to_free_swap(env.m->mem, env.cpu, p);
      unlock_page(p);
    }
    env.put_page(p);
  }
  page_published();  // __SetPageUptodate: the copies before the PMD
  page_add_new_anon_rmap(env, head, mm, haddr, true);
  pgtable_trans_huge_deposit(mm, haddr, static_cast<long>(pmd_table_index(pmd)));
  // maybe_pmd_mkwrite: the write bit comes from the VMA, not from the PTEs.
  set_pmd_at(pmdp, pfn_pmd(head->pfn, vma->vm_flags & VM_WRITE));
  return true;
}

}  // namespace anonx
