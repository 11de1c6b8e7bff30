// SPDX-License-Identifier: GPL-2.0-only
// mprotect.h: mprotect of a whole VMA (mm/mprotect.c change_pte_range).
// Making a range read-only write-protects every present PTE (the page stays
// exclusive: this is how a pinned page ends up behind a R/O PTE, B4);
// making it writable again changes only the VMA: a later write fault
// reuses the exclusive page. Writable migration entries become
// READ_EXCLUSIVE (anon) when write-protected.
// Locking: takes mmap_lock write, then each PT lock.
#pragma once

#include "memory.h"

namespace anonx {

template <class Env>
int mprotect(Env &env, typename Env::mm_t &mm, unsigned long start, unsigned long end,
             bool writable) {
  mmap_write_guard g(mm.mmap_lock);
  vm_area_struct *vma = mm.find_vma(start);
  if (!vma || vma->vm_start != start || vma->vm_end != end) return -EINVAL;
  if (writable)
    vma->vm_flags |= VM_WRITE;
  else
    vma->vm_flags &= ~VM_WRITE;
  if (writable) return 0;
  for (unsigned long addr = start; addr < end;) {
    const unsigned long next = mm.pmd_addr_end(addr, end);
    auto *pmdp = mm.pmd_offset(addr);
    const pmd_t pmd{pmdp->load(std::memory_order_acquire)};
    if (pmd_trans_huge(pmd)) {
      lock_guard<spinlock_t> pl(mm.page_table_lock);
      pmdp->fetch_and(~_PAGE_RW, std::memory_order_seq_cst);
      word_rmw(word_kind::pmd);
    } else if (pmd_table(pmd)) {
      auto &table = mm.table_of(pmd);
      lock_guard<ptl_t> ptl(table.ptl);
      for (unsigned long a = addr; a < next; a++) {
        auto *ptep = &table.pte[pte_index(a)];
        const pte_t pte{ptep->load(std::memory_order_relaxed)};
        if (pte_present(pte))
          ptep->store(pte_wrprotect(pte).v, std::memory_order_relaxed);
        else if (is_writable_migration_entry(pte))
          ptep->store(swp_entry_to_pte(SWP_MIGRATION_READ_EXCLUSIVE, swp_offset(pte)).v,
                      std::memory_order_relaxed);
      }
    }
    addr = next;
  }
  (void)env;
  return 0;
}

}  // namespace anonx
