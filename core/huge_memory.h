// SPDX-License-Identifier: GPL-2.0-only
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

// Models: pgtable_trans_huge_deposit() / pgtable_trans_huge_withdraw()
// (mm/pgtable-generic.c, checked against 6.1.192): the PTE table kept with a
// PMD-mapped THP, so that a split never has to allocate (it cannot fail).
// The kernel keeps a list per PMD table page; the model one slot per PMD
// entry (one THP per entry, so one table). Locking: the PMD lock.
template <class Mm>
void pgtable_trans_huge_deposit(Mm &mm, unsigned long addr, long t) REQUIRES(mm.page_table_lock) {
  long &slot = mm.pmd_huge_pte[addr / PTRS_PER_PTE];
  VM_BUG_ON_PFN(slot >= 0, static_cast<unsigned long>(t), "a PMD with two deposited tables");
  slot = t;
}
template <class Mm>
long pgtable_trans_huge_withdraw(Mm &mm, unsigned long addr) REQUIRES(mm.page_table_lock) {
  long &slot = mm.pmd_huge_pte[addr / PTRS_PER_PTE];
  const long t = slot;
  slot = -1;
  return t;
}

// Models: zap_deposited_table() (mm/huge_memory.c, checked against
// 6.1.192): withdraw and pte_free.
// The table is freed at once, with no wait for GUP-fast: it has not been
// reachable from the PMD since the THP was mapped (a collapse waited, or
// relied on the PMD re-check, when it unhooked it). Locking: the PMD lock.
template <class Env>
void zap_deposited_table(Env &env, typename Env::mm_t &mm, unsigned long addr)
    REQUIRES(mm.page_table_lock) {
  const long t = pgtable_trans_huge_withdraw(mm, addr);
  VM_BUG_ON_PFN(t < 0, addr, "a PMD-mapped THP without its deposited table");
  if (t >= 0) env.m->tables.free(static_cast<unsigned long>(t));
}

// Models: do_huge_pmd_anonymous_page() -> __do_huge_pmd_anonymous_page()
// (mm/huge_memory.c, checked against 6.1.192). Locking: mmap_lock read;
// takes the PMD lock. Steps: allocate an order-9 page and a PTE table
// (pte_alloc_one), clear the page; under the PMD lock, pmd_none re-check,
// page_add_new_anon_rmap(compound): the flag goes on the head only; deposit
// the table; publish.
template <class Env>
int do_huge_pmd_anonymous_page(Env &env, typename Env::mm_t &mm, const vm_area_struct &vma,
                               unsigned long addr) {
  auto *head = env.alloc_page(HPAGE_PMD_ORDER);
  if (!head) return VM_FAULT_OOM;
  const long pgtable = env.alloc_table();
  if (pgtable < 0) {
    env.put_page(head);
    return VM_FAULT_OOM;
  }
  for (unsigned i = 0; i < HPAGE_PMD_NR; i++) env.m->mem.clear_page(head->pfn + i);
  page_published();  // __folio_mark_uptodate
  auto *pmdp = mm.pmd_offset(addr);
  lock_guard<spinlock_t> g(mm.page_table_lock);
  if (!pmd_none(pmd_t{pmdp->load(std::memory_order_relaxed)})) {  // another fault won
    env.m->tables.free(static_cast<unsigned long>(pgtable));      // never reachable
    env.put_page(head);
    return VM_FAULT_OK;
  }
  page_add_new_anon_rmap(env, head, mm, mm.pmd_start(addr), true);
  pgtable_trans_huge_deposit(mm, addr, pgtable);
  set_pmd_at(pmdp, pfn_pmd(head->pfn, vma.vm_flags & VM_WRITE));
  return VM_FAULT_OK;
}

// Models: __split_huge_pmd_locked() for a present anon PMD (no freeze;
// checked against 6.1.192 mm/huge_memory.c).
// Locking: mmap_lock (read or write); takes the PMD lock.
// Steps: invalidate the PMD (GUP-fast's (B4) PMD re-check fails from here),
// read anon_exclusive from the head, withdraw the deposited PTE table and
// fill it: every subpage inherits the write bit and, if anon_exclusive,
// PG_anon_exclusive (mutant thp_split_drops_flag: only the head keeps it);
// then publish it. After a collapse the withdrawn table is the old one,
// its entries none since the collapse cleared them.
template <class Env>
void __split_huge_pmd(Env &env, typename Env::mm_t &mm, unsigned long addr) {
  auto *pmdp = mm.pmd_offset(addr);
  lock_guard<spinlock_t> g(mm.page_table_lock);
  const pmd_t pmd{pmdp->load(std::memory_order_relaxed)};
  if (!pmd_trans_huge(pmd)) return;
  auto *head = env.pfn_to_page(pte_pfn(pmd));
  env.at("SPLIT");
  pmdp->exchange(0, std::memory_order_seq_cst);  // pmdp_invalidate
  word_rmw(word_kind::pmd);
  const bool anon_exclusive = env.has_anon_exclusive() && PageAnonExclusive(head);
  const long t = pgtable_trans_huge_withdraw(mm, addr);
  VM_BUG_ON_PFN(t < 0, head->pfn, "a PMD-mapped THP without its deposited table");
  if (t < 0) {  // a model bug, reported above: leave the THP mapped
    pmdp->store(pmd.v, std::memory_order_release);
    return;
  }
  auto &table = env.m->tables[static_cast<unsigned long>(t)];
  for (unsigned i = 0; i < HPAGE_PMD_NR; i++) {
    auto *sub = head + i;
    if (anon_exclusive && !(env.proto.mutant_is(mutant::thp_split_drops_flag) && i != 0))
      SetPageAnonExclusive(sub);
    sub->_mapcount.fetch_add(1, std::memory_order_relaxed);
    word_rmw(word_kind::mapcount);
    pte_t e = pfn_pte(head->pfn + i, pte_write(pmd));
    if (!pte_dirty(pmd)) e = pte_mkclean(e);
    table.pte[i].store(e.v, std::memory_order_relaxed);
  }
  head->_refcount.fetch_add(HPAGE_PMD_NR - 1, std::memory_order_relaxed);  // one per PTE
  head[1].compound_mapcount.fetch_sub(1, std::memory_order_relaxed);
  word_rmw(word_kind::mapcount);
  check_split_flags(env, head, anon_exclusive);  // I9, inline
  // pmd_populate after the kernel's smp_wmb: the release orders the entries
  // before the table (pairs with GUP-fast's acquire of the PMD).
  pmdp->store(mk_pmd_table(static_cast<unsigned long>(t)).v, std::memory_order_release);
}

// Models: do_huge_pmd_wp_page() (THP write fault; mm/huge_memory.c, checked
// against 6.1.192). Locking: mmap_lock read; takes the PMD lock. Exclusive
// => reuse; else refcount == 1 and one mapping => page_move_anon_rmap +
// reuse; else split and let the PTE fault path copy per subpage.
// Simplification: a contended page lock splits at once; the kernel drops
// the PMD lock, sleeps in lock_page, re-checks pmd_same and the flag.
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

// Models: zap_huge_pmd() (mm/huge_memory.c, checked against 6.1.192).
// Locking: mmap_lock; takes the PMD lock. Steps: clear the PMD, free the
// deposited table (zap_deposited_table), drop the rmap and the reference.
template <class Env>
void zap_huge_pmd(Env &env, typename Env::mm_t &mm, unsigned long addr) {
  auto *pmdp = mm.pmd_offset(addr);
  lock_guard<spinlock_t> g(mm.page_table_lock);
  const pmd_t pmd{pmdp->exchange(0, std::memory_order_seq_cst)};
  word_rmw(word_kind::pmd);
  if (!pmd_trans_huge(pmd)) return;
  zap_deposited_table(env, mm, addr);
  auto *head = env.pfn_to_page(pte_pfn(pmd));
  page_remove_rmap(head, true);
  env.put_page(head);
}

// Models: copy_huge_pmd() (fork; checked against 6.1.192
// mm/huge_memory.c). Locking: both mmap_locks write; takes both PMD locks.
// Steps: allocate the child's PTE table (pte_alloc_one; none: -ENOMEM);
// share the THP and deposit the table with the child's PMD; or, when the
// THP may be pinned, free the table, split the parent's PMD and return
// -EAGAIN: the caller then copies it per PTE, deciding per subpage.
template <class Env>
int copy_huge_pmd(Env &env, typename Env::mm_t &dst, typename Env::mm_t &src, unsigned long addr) {
  auto *spmdp = src.pmd_offset(addr);
  auto *dpmdp = dst.pmd_offset(addr);
  const long pgtable = env.alloc_table();
  if (pgtable < 0) return -ENOMEM;
  {
    lock_guard<spinlock_t> gs(src.page_table_lock);
    lock_guard<spinlock_t> gd(dst.page_table_lock);
    const pmd_t pmd{spmdp->load(std::memory_order_relaxed)};
    if (!pmd_trans_huge(pmd)) {
      env.m->tables.free(static_cast<unsigned long>(pgtable));
      return -EAGAIN;
    }
    auto *head = env.pfn_to_page(pte_pfn(pmd));
    get_page(head);
    if (page_try_dup_anon_rmap(env, src, head, true) == 0) {
      pgtable_trans_huge_deposit(dst, addr, pgtable);
      if (pte_write(pmd)) spmdp->fetch_and(~_PAGE_RW, std::memory_order_seq_cst);
      dpmdp->store(pte_mkold(pte_wrprotect(pmd)).v, std::memory_order_release);
      return 0;
    }
    env.put_page(head);
    env.m->tables.free(static_cast<unsigned long>(pgtable));  // never reachable
  }
  __split_huge_pmd(env, src, addr);
  return -EAGAIN;
}

}  // namespace anonx
