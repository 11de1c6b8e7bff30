// huge_memory.h: PMD-mapped anonymous THP (mm/huge_memory.c): the huge
// fault, the huge write/unshare fault, the PMD split that hands the flag
// from the head to every subpage (I9), zap and fork of a huge PMD.
//
// Simplifications: only the PMD split is modelled; the folio stays large
// and PTE-mapped afterwards (__split_huge_page, which splits the compound
// page itself, is not). THP swap-out, migration and KSM are not modelled.
// Included at the end of memory.h.
#pragma once

#include "invariants.h"
#include "memory.h"

namespace anonx {

// Models: do_huge_pmd_anonymous_page(). Locking: mmap_lock read; takes the
// PMD lock. Steps: allocate an order-9 page, clear it; under the PMD lock,
// pmd_none re-check, page_add_new_anon_rmap(compound): the flag goes on the
// head only; publish.
template <class Env>
int do_huge_pmd_anonymous_page(Env &env, typename Env::mm_t &mm, const vm_area_struct &vma,
                               unsigned long addr) {
  auto *head = env.alloc_page(HPAGE_PMD_ORDER);
  if (!head) return VM_FAULT_OOM;
  for (unsigned i = 0; i < HPAGE_PMD_NR; i++) env.m->mem.clear_page(head->pfn + i);
  page_published();  // __folio_mark_uptodate
  auto *pmdp = mm.pmd_offset(addr);
  lock_guard<spinlock_t> g(mm.page_table_lock);
  if (!pmd_none(pmd_t{pmdp->load(std::memory_order_relaxed)})) {  // another fault won
    env.put_page(head);
    return VM_FAULT_OK;
  }
  page_add_new_anon_rmap(env, head, mm, mm.pmd_start(addr), true);
  set_pmd_at(pmdp, pfn_pmd(head->pfn, vma.vm_flags & VM_WRITE));
  return VM_FAULT_OK;
}

// Models: __split_huge_pmd_locked() for a present anon PMD (no freeze).
// Locking: mmap_lock (read or write); takes the PMD lock.
// Steps: invalidate the PMD (GUP-fast's (B4) PMD re-check fails from here),
// read anon_exclusive from the head, build a PTE table where every subpage
// inherits the write bit and, if anon_exclusive, PG_anon_exclusive
// (mutant thp_split_drops_flag: only the head keeps it), then publish it.
template <class Env>
void __split_huge_pmd(Env &env, typename Env::mm_t &mm, unsigned long addr) {
  auto *pmdp = mm.pmd_offset(addr);
  const long t = env.m->tables.alloc();
  if (t < 0) return;
  lock_guard<spinlock_t> g(mm.page_table_lock);
  const pmd_t pmd{pmdp->load(std::memory_order_relaxed)};
  if (!pmd_trans_huge(pmd)) {
    env.m->tables.free(static_cast<unsigned long>(t));
    return;
  }
  auto *head = env.pfn_to_page(pte_pfn(pmd));
  env.at("SPLIT");
  pmdp->exchange(0, std::memory_order_seq_cst);  // pmdp_invalidate
  const bool anon_exclusive = env.has_anon_exclusive() && PageAnonExclusive(head);
  auto &table = env.m->tables[static_cast<unsigned long>(t)];
  for (unsigned i = 0; i < HPAGE_PMD_NR; i++) {
    auto *sub = head + i;
    if (anon_exclusive && !(env.proto.mutant_is(mutant::thp_split_drops_flag) && i != 0))
      SetPageAnonExclusive(sub);
    sub->_mapcount.fetch_add(1, std::memory_order_relaxed);
    pte_t e = pfn_pte(head->pfn + i, pte_write(pmd));
    if (!pte_dirty(pmd)) e = pte_mkclean(e);
    table.pte[i].store(e.v, std::memory_order_relaxed);
  }
  head->_refcount.fetch_add(HPAGE_PMD_NR - 1, std::memory_order_relaxed);  // one per PTE
  head[1].compound_mapcount.fetch_sub(1, std::memory_order_relaxed);
  check_split_flags(env, head, anon_exclusive);  // I9, inline
  pmdp->store(mk_pmd_table(static_cast<unsigned long>(t)).v, std::memory_order_release);
}

// Models: do_huge_pmd_wp_page() (§3.5, THP). Locking: mmap_lock read;
// takes the PMD lock. Exclusive => reuse; else refcount == 1 and one
// mapping => page_move_anon_rmap + reuse; else split and let the PTE fault
// path copy per subpage.
template <class Env>
int do_huge_pmd_wp_page(Env &env, typename Env::mm_t &mm, const vm_area_struct &vma,
                        unsigned long addr, unsigned flags) {
  auto *pmdp = mm.pmd_offset(addr);
  {
    lock_guard<spinlock_t> g(mm.page_table_lock);
    const pmd_t pmd{pmdp->load(std::memory_order_relaxed)};
    if (!pmd_trans_huge(pmd) || pte_write(pmd)) return VM_FAULT_OK;
    auto *head = env.pfn_to_page(pte_pfn(pmd));
    bool reuse = env.has_anon_exclusive() && PageAnonExclusive(head) &&
                 !env.proto.mutant_is(mutant::b4_no_exclusive_reuse);
    if (!reuse && trylock_page(head)) {
      if (page_ref_count(head) == 1 && total_mapcount(head) == 1) {
        page_move_anon_rmap(env, head, mm);
        reuse = true;
      }
      unlock_page(head);
    }
    if (reuse) {
      if (!(flags & FAULT_FLAG_UNSHARE)) {
        pmd_t e = pte_mkyoung(pte_mkdirty(pmd));
        if (vma.vm_flags & VM_WRITE) e = pte_mkwrite(e);
        pmdp->store(e.v, std::memory_order_release);
      }
      return VM_FAULT_OK;
    }
  }
  __split_huge_pmd(env, mm, addr);
  return VM_FAULT_OK;
}

// Models: zap_huge_pmd(). Locking: mmap_lock; takes the PMD lock.
template <class Env>
void zap_huge_pmd(Env &env, typename Env::mm_t &mm, unsigned long addr) {
  auto *pmdp = mm.pmd_offset(addr);
  lock_guard<spinlock_t> g(mm.page_table_lock);
  const pmd_t pmd{pmdp->exchange(0, std::memory_order_seq_cst)};
  if (!pmd_trans_huge(pmd)) return;
  auto *head = env.pfn_to_page(pte_pfn(pmd));
  page_remove_rmap(head, true);
  env.put_page(head);
}

// Models: copy_huge_pmd() (fork, §3.4). Locking: both mmap_locks write;
// takes both PMD locks. Returns -EAGAIN after splitting the parent's PMD
// when the THP may be pinned: the caller then copies it per PTE, deciding
// per subpage.
template <class Env>
int copy_huge_pmd(Env &env, typename Env::mm_t &dst, typename Env::mm_t &src, unsigned long addr) {
  auto *spmdp = src.pmd_offset(addr);
  auto *dpmdp = dst.pmd_offset(addr);
  {
    lock_guard<spinlock_t> gs(src.page_table_lock);
    lock_guard<spinlock_t> gd(dst.page_table_lock);
    const pmd_t pmd{spmdp->load(std::memory_order_relaxed)};
    if (!pmd_trans_huge(pmd)) return -EAGAIN;
    auto *head = env.pfn_to_page(pte_pfn(pmd));
    get_page(head);
    if (page_try_dup_anon_rmap(env, src, head, true) == 0) {
      if (pte_write(pmd)) spmdp->fetch_and(~_PAGE_RW, std::memory_order_seq_cst);
      dpmdp->store(pte_mkold(pte_wrprotect(pmd)).v, std::memory_order_release);
      return 0;
    }
    env.put_page(head);
  }
  __split_huge_pmd(env, src, addr);
  return -EAGAIN;
}

}  // namespace anonx
