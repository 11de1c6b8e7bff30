// SPDX-License-Identifier: GPL-2.0-only
// fork.h: fork's copy of an address space (kernel/fork.c dup_mmap,
// mm/memory.c copy_page_range / copy_pte_range / copy_present_pte).
#pragma once

#include "memory.h"

namespace anonx {

// Models: copy_present_page() (mm/memory.c, checked against 6.1.192): the
// child gets a fresh copy of a page that may be pinned (early COW,
// 70e806e4e645); the parent's PTE and page stay as they are (writable,
// exclusive, pinned).
// Locking: both PT locks held (the allocation cannot sleep in the model;
// the kernel drops both locks, preallocates and retries the PTE: -EAGAIN).
template <class Env>
int copy_present_page(Env &env, typename Env::mm_t &dst, const vm_area_struct &vma,
                      unsigned long addr, typename Env::template atomic<pteval_t> *dst_ptep,
                      typename Env::page_t *src_page) {
  auto *page = env.alloc_page(0);
  if (!page) return -ENOMEM;
  env.m->mem.copy_page(page->pfn, src_page->pfn);
  page_published();  // __SetPageUptodate
  page_add_new_anon_rmap(env, page, dst, addr, false);
  set_pte_at(env, dst_ptep, pte_mkdirty(pfn_pte(page->pfn, vma.vm_flags & VM_WRITE)));
  return 0;
}

// Models: copy_present_pte() (mm/memory.c, checked against 6.1.192; the
// same order since 5.19).
// Locking: parent mmap_lock write, child and parent PT locks held,
// write_protect_seq odd.
// Steps: get_page, page_try_dup_anon_rmap (clears the flag, or -EBUSY when
// the page may be pinned: early copy), then write-protect parent and child.
template <class Env>
int copy_present_pte(Env &env, typename Env::mm_t &dst, typename Env::mm_t &src,
                     const vm_area_struct &vma, unsigned long addr,
                     typename Env::template atomic<pteval_t> *dst_ptep,
                     typename Env::template atomic<pteval_t> *src_ptep, pte_t pte) {
  auto *page = env.pfn_to_page(pte_pfn(pte));
  if (PageAnon(page)) {
    get_page(page);
    env.at("FORK_DUP");
    if (page_try_dup_anon_rmap(env, src, page, false)) {
      env.put_page(page);
      return copy_present_page(env, dst, vma, addr, dst_ptep, page);
    }
  } else {
    get_page(page);
    page->_mapcount.fetch_add(1, std::memory_order_relaxed);  // page_dup_file_rmap
    word_rmw(word_kind::mapcount);
  }
  env.at("FORK_WRPROTECT");
  if (vma.is_cow_mapping() && pte_write(pte)) {
    src_ptep->fetch_and(~_PAGE_RW, std::memory_order_seq_cst);  // ptep_set_wrprotect
    word_rmw(word_kind::pte);
    pte = pte_wrprotect(pte);
  }
  dst_ptep->store(pte_mkold(pte).v, std::memory_order_relaxed);
  return 0;
}

// Models: copy_nonpresent_pte() (mm/memory.c, checked against 6.1.192):
// swap entries are duplicated and lose SWP_EXCLUSIVE in the parent (now
// shared); migration WRITE/READ_EXCLUSIVE entries become READ in both (I7).
// Simplification: the kernel downgrades a migration entry only in a COW
// mapping; every modelled mapping that holds anon pages is one.
template <class Env>
void copy_nonpresent_pte(Env &env, typename Env::template atomic<pteval_t> *dst_ptep,
                         typename Env::template atomic<pteval_t> *src_ptep, pte_t pte) {
  if (is_swap_entry(pte)) {
    env.m->swap.swap_duplicate(swp_offset(pte));
    if (pte_swp_exclusive(pte)) {
      pte = pte_swp_clear_exclusive(pte);
      src_ptep->store(pte.v, std::memory_order_relaxed);
    }
  } else if (is_migration_entry(pte) && swp_type_of(pte) != SWP_MIGRATION_READ) {
    pte = swp_entry_to_pte(SWP_MIGRATION_READ, swp_offset(pte));
    src_ptep->store(pte.v, std::memory_order_relaxed);
  }
  dst_ptep->store(pte.v, std::memory_order_relaxed);
}

// Models: copy_pte_range() for one PMD (mm/memory.c, checked against
// 6.1.192). Locking: both mmap_locks write; takes the child's and the
// parent's PT locks (nested).
template <class Env>
int copy_pte_range(Env &env, typename Env::mm_t &dst, typename Env::mm_t &src,
                   const vm_area_struct &vma, unsigned long start, unsigned long end) {
  auto *dpmdp = dst.pmd_offset(start);
  if (pmd_none(pmd_t{dpmdp->load(std::memory_order_relaxed)}) &&
      __pte_alloc(env, dst, start) != VM_FAULT_OK)
    return -ENOMEM;
  auto &stable = src.table_of(pmd_t{src.pmd_offset(start)->load(std::memory_order_relaxed)});
  auto &dtable = dst.table_of(pmd_t{dpmdp->load(std::memory_order_relaxed)});
  lock_guard<ptl_t> dl(dtable.ptl);
  lock_guard<ptl_t> sl(stable.ptl);
  for (unsigned long addr = start; addr < end; addr++) {
    auto *sp = &stable.pte[pte_index(addr)];
    auto *dp = &dtable.pte[pte_index(addr)];
    const pte_t pte{sp->load(std::memory_order_relaxed)};
    if (pte_none(pte)) continue;
    if (!pte_present(pte)) {
      copy_nonpresent_pte(env, dp, sp, pte);
      continue;
    }
    if (copy_present_pte(env, dst, src, vma, addr, dp, sp, pte)) return -ENOMEM;
  }
  return 0;
}

// Models: copy_page_range() (mm/memory.c, checked against 6.1.192) for one
// VMA. Simplification: every VMA is copied (the kernel skips, through
// vma_needs_copy, VMAs the child can fault in again).
// Locking: both mmap_locks write. Steps: write_protect_seq odd (GUP-fast
// backs off or its retry check fails), copy each PMD (huge: copy_huge_pmd,
// which may split and fall back to PTEs), write_protect_seq even.
template <class Env>
int copy_page_range(Env &env, typename Env::mm_t &dst, typename Env::mm_t &src,
                    const vm_area_struct &vma) {
  const bool cow = vma.is_cow_mapping();
  if (cow) raw_write_seqcount_begin(&src.write_protect_seq);  // pairs with GUP-fast's (2)/(6)
  int ret = 0;
  for (unsigned long addr = vma.vm_start; addr < vma.vm_end && !ret;) {
    const unsigned long next = src.pmd_addr_end(addr, vma.vm_end);
    const pmd_t pmd{src.pmd_offset(addr)->load(std::memory_order_relaxed)};
    if (pmd_trans_huge(pmd)) {
      const int r = copy_huge_pmd(env, dst, src, addr);
      if (r != -EAGAIN) {  // copied, or no table for the child (-ENOMEM)
        ret = r;
        addr = next;
        continue;
      }
    }
    if (pmd_table(pmd_t{src.pmd_offset(addr)->load(std::memory_order_relaxed)}))
      ret = copy_pte_range(env, dst, src, vma, addr, next);
    addr = next;
  }
  if (cow) raw_write_seqcount_end(&src.write_protect_seq);
  return ret;
}

// Models: dup_mmap() (kernel/fork.c, checked against 6.1.192). Locking:
// takes the parent's and the (new) child's mmap_lock for write. VM_DONTCOPY
// VMAs are skipped. Simplification: no flush_tlb_mm(oldmm) at the end: the
// model has no TLB to shoot down, and GUP-fast relies on write_protect_seq,
// not on that flush's IPI (which on x86 would also wait for it).
template <class Env>
int dup_mmap(Env &env, typename Env::mm_t &child, typename Env::mm_t &parent) {
  mmap_write_guard pg(parent.mmap_lock);
  mmap_write_guard cg(child.mmap_lock);
  env.at("FORK");
  int ret = 0;
  for (const auto &vma : parent.vmas) {
    if (vma.vm_flags & VM_DONTCOPY) continue;
    child.vmas.push_back(vma);
    if (!ret) ret = copy_page_range(env, child, parent, vma);
  }
  return ret;
}

}  // namespace anonx
