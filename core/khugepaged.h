// khugepaged.h: collapse of 512 PTE-mapped small anon pages into one THP
// (mm/khugepaged.c collapse_huge_page), §3.11.
#pragma once

#include "memory.h"

namespace anonx {

// Models: collapse_huge_page() (mm/khugepaged.c, 6.1).
// Locking: takes mmap_lock write, then the PMD lock and the PT lock.
// Steps: allocate the THP; pmdp_collapse_flush (the PMD goes: GUP-fast's
// (B4) PMD re-check fails from here, 70cbc3cc78a9); refuse any page with an
// unexpected reference (a pin) or a second mapping and restore the PMD;
// ("COLLAPSE_COPY") copy; free the small pages; map the THP (exclusive, a new page); free the
// old PTE table after the IPI that waits for GUP-fast walkers.
// The old table's entries are left as they were (the kernel frees the
// table later, it does not clear it): only the PMD re-check can see the
// collapse.
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
  bool writable = false;
  {
    lock_guard<spinlock_t> pl(mm.page_table_lock);
    env.at("COLLAPSE");
    pmdp->exchange(0, std::memory_order_seq_cst);  // pmdp_collapse_flush
    // A GUP-fast that read the old PMD must be done before the reference
    // check below, or its pin is missed: on x86 the collapse flush is an IPI
    // that waits for it; with RCU table freeing only
    // tlb_remove_table_sync_one() does (2ba99c5e0881, 6.1-rc8). 6.0 and
    // 6.1-rc there rely on GUP-fast's PMD re-check alone (B10).
    if (env.flush_waits() || env.proto.at_least(generation::v6_1))
      env.m->cpus.wait_for_sections(env.cpu);
    lock_guard<ptl_t> ptl(table.ptl);
    bool ok = true;
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
    if (!ok) {
      pmdp->store(pmd.v, std::memory_order_release);
      env.put_page(head);
      return false;
    }
    // The B10 window: the pages passed the reference check and are not yet
    // copied; a GUP-fast that read the PMD before the flush may pin one now.
    env.at("COLLAPSE_COPY");
    for (unsigned i = 0; i < PTRS_PER_PTE; i++) {
      const pte_t pte{table.pte[i].load(std::memory_order_relaxed)};
      auto *p = env.pfn_to_page(pte_pfn(pte));
      env.m->mem.copy_page(head->pfn + i, p->pfn);
      page_remove_rmap(p, false);
      if (PageSwapCache(p)) {
        lock_page(p);
        env.m->swap.try_to_free_swap(env.m->mem, env.cpu, p);
        unlock_page(p);
      }
      env.put_page(p);
    }
    page_add_new_anon_rmap(env, head, mm, haddr, true);
    pmdp->store(pfn_pmd(head->pfn, writable || (vma->vm_flags & VM_WRITE)).v,
                std::memory_order_release);
  }
  pte_free_synced(env, pmd);
  return true;
}

}  // namespace anonx
