// SPDX-License-Identifier: GPL-2.0-only
// gup.h: get_user_pages and pin_user_pages (mm/gup.c): GUP-fast, slow GUP
// with FAULT_FLAG_UNSHARE, and unpin.
#pragma once

#include "invariants.h"
#include "memory.h"

namespace anonx {

// Models: gup_must_unshare() (include/linux/mm.h, checked against 6.1.192;
// mm/internal.h, checked against 6.12, for v6.2).
// Must a R/O pin of this page first unshare it? Only FOLL_PIN without
// FOLL_WRITE. An anon page: when it is not exclusive (KSM pages never are).
// A non-anon page: never before v6.2, so a R/O long-term pin of a private
// file mapping's page-cache page goes incoherent at the process's next
// write fault (the COW). From v6.2 (84209e87c696) a FOLL_LONGTERM pin of
// one in a COW mapping unshares it (do_wp_page copies it into an exclusive
// anon page); GUP-fast has no VMA (vma == nullptr) to tell a COW mapping
// from a shared one, so there it always falls back to slow GUP.
// In GUP-fast (B5) the smp_rmb pairs with smp_mb__after_atomic() after (A3)
// in page_try_share_anon_rmap: if (B4) saw (A4)'s PTE, (B5) sees (A3).
template <class Env>
ANONX_INLINE bool gup_must_unshare(Env &env, const vm_area_struct *vma, unsigned flags,
                                   typename Env::page_t *page) {
  if ((flags & (FOLL_WRITE | FOLL_PIN)) != FOLL_PIN) return false;
  if (!env.has_anon_exclusive()) return false;  // v5.18: R/O pins never unshare
  if (!PageAnon(page)) {
    if (!env.proto.at_least(generation::v6_2) || !(flags & FOLL_LONGTERM)) return false;
    return !vma || vma->is_cow_mapping();
  }
  if (env.proto.mutant_is(mutant::ro_pin_no_unshare)) return false;
  if (env.proto.at_least(generation::v6_1) && !env.proto.mutant_is(mutant::b8_no_wmb_rmb))
    smp_rmb();  // pairs with smp_mb__after_atomic() after (A3)
  env.at("B5");
  return !PageAnonExclusive(page);
}

// (B3) for GUP-fast. The mutant b7_pin_no_mb drops the smp_mb__after_atomic
// after the pin: the kernel's pin of a small page ends with an unordered
// folio_ref_add, which a weakly ordered CPU may make visible after the (B4)
// loads. x86 cannot (a LOCK ADD is a full barrier), so the mutant is not
// x86-visible; only a scripted interleaving (`reorder`) holds the pin's
// store in the model's store buffer past (B4). Real threads take the pin
// with the same atomic RMW as the correct protocol: a plain load+store here
// would lose concurrent refcount updates, a different bug (page-state
// VM_BUG_ONs) that once passed for a catch of this one.
template <class Env>
ANONX_INLINE typename Env::page_t *gup_fast_grab(Env &env, typename Env::page_t *page,
                                                 unsigned flags) {
  env.at("B3");
  if (env.proto.mutant_is(mutant::b7_pin_no_mb) && env.proto.reorder && (flags & FOLL_PIN) &&
      !PageCompound(page)) {
    const int refs = page->_refcount.load(std::memory_order_relaxed);
    if (refs == 0) return nullptr;
    env.buffer_ref_store(&page->_refcount, refs + GUP_PIN_COUNTING_BIAS);
    return page;
  }
  return try_grab_folio(page, 1, flags);
}

// Undo a grab: gup_put_folio. A transient pin never frees the page
// unless the page was freed under it (then this put frees it).
template <class Env>
ANONX_INLINE void gup_put_folio(Env &env, typename Env::page_t *head, int refs, unsigned flags) {
  env.drain_store_buffer();
  if (gup_put_folio_ref(head, refs, flags)) env.m->mem.free_page(static_cast<int>(env.cpu), head);
}

// Models: gup_pte_range() (mm/gup.c; checked against 6.1.192, and 6.12's
// gup_fast_pte_range). Per generation: no PMD re-check before 6.0, no
// barrier after the pin before 6.1.
// Locking: none: IRQs off (an IRQ-off section), write_protect_seq sampled.
// Steps per PTE: (B1) read the PTE once, (B2) present and, for FOLL_WRITE,
// writable, (B3) pin, smp_mb__after_atomic, (B4) re-read PMD and PTE, (B5) a
// R/O PTE and a R/O pin need an exclusive page. Any bail stops the walk;
// pages already recorded stay pinned.
template <class Env>
long gup_pte_range(Env &env, typename Env::mm_t &mm, pmd_t pmd, unsigned long addr,
                   unsigned long end, unsigned flags, typename Env::page_t **pages, long nr) {
  auto &table = mm.table_of(pmd);
  auto *pmdp = mm.pmd_offset(addr);
  for (; addr < end; addr++) {
    auto *ptep = &table.pte[pte_index(addr)];
    env.at("B1");
    // ptep_get_lockless: READ_ONCE; the accesses to the page it points at are
    // ordered after it by the address dependency (consume), modelled as
    // acquire (a plain MOV on x86; visible to ThreadSanitizer).
    const pte_t pte{ptep->load(std::memory_order_acquire)};
    if constexpr (Env::oracles) {
      if (!table.in_use.load(std::memory_order_relaxed)) {
        report_violation("walk-of-freed-table", -1, "GUP-fast read a freed page table");
        return nr;
      }
    }
    if (!pte_present(pte)) return gup_fast_fell_back(gup_fallback::not_present), nr;  // (B2)
    if ((flags & FOLL_WRITE) && !pte_write(pte))
      return gup_fast_fell_back(gup_fallback::not_writable), nr;
    auto *page = env.pfn_to_page(pte_pfn(pte));
    auto *head = gup_fast_grab(env, page, flags);  // (B3)
    if (!head) return gup_fast_fell_back(gup_fallback::grab_failed), nr;
    // 6.1+ (088b8aa537c2), FOLL_PIN only: a FOLL_GET's add-unless-zero is
    // fully ordered already; the pin's bias add is not.
    if (env.proto.at_least(generation::v6_1) && (flags & FOLL_PIN) &&
        !env.proto.mutant_is(mutant::b7_pin_no_mb))
      smp_mb__after_atomic();  // pairs with smp_mb() before (A2) in page_try_share_anon_rmap
    env.at("B4");
    // The PMD re-check came with 70cbc3cc78a9 (6.0).
    const bool pmd_changed = env.proto.at_least(generation::v6_0) &&
                             !env.proto.mutant_is(mutant::b10_recheck_pte_only) &&
                             pmdp->load(std::memory_order_relaxed) != pmd.v;
    const bool pte_changed = !env.proto.mutant_is(mutant::b7_gup_fast_no_recheck) &&
                             ptep->load(std::memory_order_relaxed) != pte.v;
    if (pmd_changed || pte_changed) {  // (B4)
      ++env.stats->gup_fast_recheck_fail;
      word_changed(pmd_changed ? word_kind::pmd : word_kind::pte);
      gup_fast_fell_back(gup_fallback::entry_changed);
      gup_put_folio(env, head, 1, flags);
      return nr;
    }
    env.at("B4_OK");  // re-check passed; the pin is not yet the caller's
    if (!pte_write(pte) && gup_must_unshare(env, nullptr, flags, page)) {  // (B5)
      gup_fast_fell_back(gup_fallback::must_unshare);
      gup_put_folio(env, head, 1, flags);
      return nr;
    }
    env.drain_store_buffer();
    pages[nr++] = page;
  }
  return nr;
}

// Models: gup_huge_pmd() (mm/gup.c, checked against 6.1.192): the same
// steps on a huge PMD; the pin is taken on the folio (pincount), the unshare
// check on the head. The PMD re-check is the entry itself, in every
// generation; the barrier after the pin from 6.1.
// Simplification: mutant b7_pin_no_mb reorders only the small-page pin.
template <class Env>
long gup_huge_pmd(Env &env, typename Env::mm_t &mm, pmd_t pmd, unsigned long addr,
                  unsigned long end, unsigned flags, typename Env::page_t **pages, long nr) {
  auto *pmdp = mm.pmd_offset(addr);
  if ((flags & FOLL_WRITE) && !pte_write(pmd))  // (B2)
    return gup_fast_fell_back(gup_fallback::not_writable), nr;
  auto *head = env.pfn_to_page(pte_pfn(pmd));
  const long refs = static_cast<long>(end - addr);
  env.at("B3");
  if (!try_grab_folio(head, static_cast<int>(refs), flags))  // (B3)
    return gup_fast_fell_back(gup_fallback::grab_failed), nr;
  if (env.proto.at_least(generation::v6_1) && (flags & FOLL_PIN))
    smp_mb__after_atomic();  // pairs with smp_mb() before (A2)
  env.at("B4");
  if (pmdp->load(std::memory_order_relaxed) != pmd.v) {  // (B4)
    ++env.stats->gup_fast_recheck_fail;
    word_changed(word_kind::pmd);
    gup_fast_fell_back(gup_fallback::entry_changed);
    gup_put_folio(env, head, static_cast<int>(refs), flags);
    return nr;
  }
  if (!pte_write(pmd) && gup_must_unshare(env, nullptr, flags, head)) {  // (B5)
    gup_fast_fell_back(gup_fallback::must_unshare);
    gup_put_folio(env, head, static_cast<int>(refs), flags);
    return nr;
  }
  for (unsigned long a = addr; a < end; a++) pages[nr++] = head + pte_index(a);
  return nr;
}

// Models: unpin_user_pages_lockless() (mm/gup.c, checked against 6.1.192):
// undo a walk after the seqcount moved; no sanity check (those pins were
// never committed).
template <class Env>
void unpin_user_pages_lockless(Env &env, typename Env::page_t **pages, long nr, unsigned flags) {
  for (long i = 0; i < nr; i++) gup_put_folio(env, compound_head(pages[i]), 1, flags);
}

// Models: lockless_pages_from_mm() (mm/gup.c, checked against 6.1.192;
// 6.12's gup_fast() has the same steps).
// Locking: none. Steps: (2) sample write_protect_seq, odd => slow path (step
// (1), MMF_HAS_PINNED, is the caller's); (3) IRQs off; (4) the walk; (5) IRQs
// on; (6) the seqcount moved (a fork ran) => unpin everything, slow path.
template <class Env>
long lockless_pages_from_mm(Env &env, typename Env::mm_t &mm, unsigned long start, long nr_pages,
                            unsigned flags, typename Env::page_t **pages) {
  const bool seq_check =
      (flags & FOLL_PIN) && !env.proto.mutant_is(mutant::b6_gup_fast_no_seqcount);
  unsigned seq = 0;
  if (seq_check) {
    seq = raw_read_seqcount(&mm.write_protect_seq);
    if (seq & 1) return gup_fast_fell_back(gup_fallback::seqcount_odd), 0;
  }
  env.m->cpus.local_irq_disable(env.cpu);
  long nr = 0;
  const unsigned long end = start + static_cast<unsigned long>(nr_pages);
  for (unsigned long addr = start; addr < end;) {
    const unsigned long next = mm.pmd_addr_end(addr, end);
    const pmd_t pmd{mm.pmd_offset(addr)->load(std::memory_order_acquire)};  // pmdp_get_lockless
    const long before = nr;
    if (pmd_trans_huge(pmd))
      nr = gup_huge_pmd(env, mm, pmd, addr, next, flags, pages, nr);
    else if (pmd_table(pmd))
      nr = gup_pte_range(env, mm, pmd, addr, next, flags, pages, nr);
    else
      gup_fast_fell_back(gup_fallback::not_present);
    if (nr - before != static_cast<long>(next - addr)) break;
    addr = next;
  }
  env.m->cpus.local_irq_enable(env.cpu);
  env.at("SEQ");
  if (seq_check && read_seqcount_retry(&mm.write_protect_seq, seq)) {
    ++env.stats->gup_fast_recheck_fail;
    word_changed(word_kind::seqcount);
    gup_fast_fell_back(gup_fallback::seqcount_moved);
    unpin_user_pages_lockless(env, pages, nr, flags);
    return 0;
  }
  return nr;
}

// Models: can_follow_write_pte() (mm/gup.c; checked against 6.1.192): a
// FOLL_WRITE lookup may use a writable PTE, or, with FOLL_FORCE on a private
// mapping without VM_WRITE, a R/O PTE that maps an exclusive anon page (the
// COW already happened; 5535be309971, 6.0-rc3). Before 6.0, and in mutant
// b2: FOLL_COW (set by __get_user_pages after a COW fault) and a dirty PTE
// stand in for "we COWed", which a UFFDIO_CONTINUE of a page-cache page
// (R/O but dirty) satisfies too: CVE-2022-2590.
// Simplification: no VM_SHARED, soft-dirty or uffd-wp terms (the model has
// no shared mappings, soft-dirty tracking or userfaultfd-wp).
template <class Env>
bool can_follow_write_pte(Env &env, pte_t pte, typename Env::page_t *page, unsigned flags,
                          const vm_area_struct &vma) {
  if (pte_write(pte)) return true;
  if (!(flags & FOLL_FORCE)) return false;
  if ((vma.vm_flags & VM_WRITE) || !(vma.vm_flags & VM_MAYWRITE)) return false;
  if (!env.proto.at_least(generation::v6_0) || env.proto.mutant_is(mutant::b2_force_write_dirty))
    return (flags & FOLL_COW) && pte_dirty(pte);
  return PageAnon(page) && env.has_anon_exclusive() && PageAnonExclusive(page);
}

// Models: follow_page_pte() (mm/gup.c, checked against 6.1.192; the huge
// branch is follow_trans_huge_pmd, mm/huge_memory.c). Locking: mmap_lock
// read; takes the PT lock (the PMD lock for a huge PMD).
// Steps: (1) not present: fault; (2) FOLL_WRITE: can_follow_write_pte;
// (3) a R/O pin of a shared page: -EMLINK, unshare fault; (4) a pinned anon
// page must be exclusive (VM_BUG_ON); take the reference. Returns the page with its reference
// taken, or nullptr with *fault_flags set to the fault that would make progress (0: none possible).
template <class Env>
typename Env::page_t *follow_page_pte(Env &env, typename Env::mm_t &mm, const vm_area_struct &vma,
                                      unsigned long addr, unsigned flags, unsigned *fault_flags) {
  *fault_flags = (flags & FOLL_WRITE) ? FAULT_FLAG_WRITE : 0;
  if (flags & FOLL_FORCE) *fault_flags |= FAULT_FLAG_FORCE;
  auto *pmdp = mm.pmd_offset(addr);
  const pmd_t pmd{pmdp->load(std::memory_order_acquire)};
  if (pmd_trans_huge(pmd)) {  // follow_trans_huge_pmd
    lock_guard<spinlock_t> g(mm.page_table_lock);
    if (pmdp->load(std::memory_order_relaxed) != pmd.v) return nullptr;
    auto *head = env.pfn_to_page(pte_pfn(pmd));
    if ((flags & FOLL_WRITE) && !pte_write(pmd)) return nullptr;
    if (!pte_write(pmd) && gup_must_unshare(env, &vma, flags, head)) {
      *fault_flags = FAULT_FLAG_UNSHARE;
      return nullptr;
    }
    auto *page = head + pte_index(addr);
    try_grab_page(page, flags);
    return page;
  }
  if (!pmd_table(pmd)) return nullptr;
  auto &table = mm.table_of(pmd);
  auto *ptep = &table.pte[pte_index(addr)];
  lock_guard<ptl_t> ptl(table.ptl);
  if (pmdp->load(std::memory_order_relaxed) != pmd.v) return nullptr;
  const pte_t pte{ptep->load(std::memory_order_relaxed)};
  if (!pte_present(pte)) return nullptr;  // (1) fault it in
  auto *page = env.pfn_to_page(pte_pfn(pte));
  if ((flags & FOLL_WRITE) && !can_follow_write_pte(env, pte, page, flags, vma))  // (2)
    return nullptr;
  if (!pte_write(pte) && gup_must_unshare(env, &vma, flags, page)) {  // (3) -EMLINK
    *fault_flags = FAULT_FLAG_UNSHARE;
    return nullptr;
  }
  if ((flags & FOLL_PIN) && PageAnon(page) && env.has_anon_exclusive())  // (4)
    VM_BUG_ON_PFN(!PageAnonExclusive(page), page->pfn,
                  "follow_page_pte: pinning a shared anon page");
  try_grab_page(page, flags);  // no barrier: every flag clearer holds this PT lock
  return page;
}

// Models: __get_user_pages() -> faultin_page() (mm/gup.c, checked against
// 6.1.192; before v6.0 the FOLL_COW retry of 5.19): look up each page,
// fault (or unshare) and retry until it is there. Locking: mmap_lock read
// held.
// Simplification: check_vma_flags is reduced to handle_mm_fault's VM_WRITE /
// FOLL_FORCE test; FOLL_LONGTERM pins are not migrated out of movable zones.
template <class Env>
long __get_user_pages(Env &env, typename Env::mm_t &mm, unsigned long start, long nr_pages,
                      unsigned flags, typename Env::page_t **pages) {
  long nr = 0;
  for (unsigned long addr = start; nr < nr_pages; addr++) {
    const vm_area_struct *vma = mm.find_vma(addr);
    if (!vma) break;
    unsigned lookup_flags = flags;
    typename Env::page_t *page = nullptr;
    for (int tries = 0; tries < 64 && !page; tries++) {
      unsigned fault_flags = 0;
      env.at("GUP_LOOKUP");
      page = follow_page_pte(env, mm, *vma, addr, lookup_flags, &fault_flags);
      if (page) break;
      env.at("GUP_FAULT");
      const int r = handle_mm_fault(env, mm, addr, fault_flags);
      if (r & (VM_FAULT_SIGSEGV | VM_FAULT_OOM)) return nr ? nr : -EFAULT;
      // B1 mutant: the pre-4.9 FOLL_COW game: after a COW fault on a R/O
      // mapping, drop FOLL_WRITE and accept whatever page the retry finds
      // (after a concurrent zap: the page-cache page, faulted in R/O).
      if ((fault_flags & FAULT_FLAG_WRITE) && !(vma->vm_flags & VM_WRITE) &&
          env.proto.mutant_is(mutant::b1_force_write_after_cow))
        lookup_flags &= ~FOLL_WRITE;
      // Before 6.0 (and b2): a COW fault happened; the retry may follow a
      // dirty R/O PTE (faultin_page's FOLL_COW, 19be0eaffa3a).
      if ((fault_flags & FAULT_FLAG_WRITE) && !(vma->vm_flags & VM_WRITE) &&
          (!env.proto.at_least(generation::v6_0) ||
           env.proto.mutant_is(mutant::b2_force_write_dirty)))
        lookup_flags |= FOLL_COW;
    }
    if (!page) return nr ? nr : -EAGAIN;
    pages[nr++] = page;
  }
  return nr;
}

// Models: mm_set_has_pinned_flag() (mm/gup.c, checked against 6.1.192):
// MMF_HAS_PINNED, test_bit
// before set_bit, so a pin of an mm already marked stores nothing to the
// shared mm line (292648ac5cf1 "mm: gup: allow FOLL_PIN to scale in SMP"
// reports 46x at 256 threads; bench/has_pinned_bench.cc BM_HasPinned_*).
template <class Mm>
ANONX_INLINE void mm_set_has_pinned_flag(Mm &mm) {
  if (!test_bit(MMF_HAS_PINNED, &mm.flags)) set_bit(MMF_HAS_PINNED, &mm.flags);
}

// Models: internal_get_user_pages_fast() (mm/gup.c, checked against
// 6.1.192): (1) MMF_HAS_PINNED for
// a pin, GUP-fast first, slow GUP (mmap_lock read) for the rest unless
// FOLL_FAST_ONLY. Every call counts as a GUP-fast success or a fallback.
template <class Env>
long internal_get_user_pages_fast(Env &env, typename Env::mm_t &mm, unsigned long start,
                                  long nr_pages, unsigned flags, typename Env::page_t **pages) {
  if (flags & FOLL_PIN) mm_set_has_pinned_flag(mm);  // (1)
  const long nr = lockless_pages_from_mm(env, mm, start, nr_pages, flags, pages);
  if (nr == nr_pages) {
    ++env.stats->gup_fast_success;
    check_committed_pins(env, flags, pages, 0, nr);
    return nr;
  }
  ++env.stats->gup_fast_fallback;
  if (flags & FOLL_FAST_ONLY) return nr;
  ++env.stats->gup_slow;
  mmap_read_guard g(mm.mmap_lock);
  const long rest = __get_user_pages(env, mm, start + static_cast<unsigned long>(nr), nr_pages - nr,
                                     flags, pages + nr);
  if (rest < 0) return nr ? nr : rest;
  check_committed_pins(env, flags, pages, nr, nr + rest);
  return nr + rest;
}

// pin_user_pages_fast() / get_user_pages_fast().
template <class Env>
long pin_user_pages_fast(Env &env, typename Env::mm_t &mm, unsigned long start, long nr_pages,
                         unsigned gup_flags, typename Env::page_t **pages) {
  return internal_get_user_pages_fast(env, mm, start, nr_pages, gup_flags | FOLL_PIN, pages);
}
template <class Env>
long get_user_pages_fast(Env &env, typename Env::mm_t &mm, unsigned long start, long nr_pages,
                         unsigned gup_flags, typename Env::page_t **pages) {
  return internal_get_user_pages_fast(env, mm, start, nr_pages, gup_flags | FOLL_GET, pages);
}

// Models: pin_user_pages() / get_user_pages() (mm/gup.c, checked against
// 6.1.192, via __gup_longterm_locked): slow GUP only.
// Locking: takes mmap_lock read.
template <class Env>
long pin_user_pages(Env &env, typename Env::mm_t &mm, unsigned long start, long nr_pages,
                    unsigned gup_flags, typename Env::page_t **pages) {
  gup_flags |= FOLL_PIN;
  mm_set_has_pinned_flag(mm);
  ++env.stats->gup_slow;
  mmap_read_guard g(mm.mmap_lock);
  const long nr = __get_user_pages(env, mm, start, nr_pages, gup_flags, pages);
  check_committed_pins(env, gup_flags, pages, 0, nr);
  return nr;
}
template <class Env>
long get_user_pages(Env &env, typename Env::mm_t &mm, unsigned long start, long nr_pages,
                    unsigned gup_flags, typename Env::page_t **pages) {
  ++env.stats->gup_slow;
  mmap_read_guard g(mm.mmap_lock);
  return __get_user_pages(env, mm, start, nr_pages, gup_flags | FOLL_GET, pages);
}

// Models: sanity_check_pinned_pages() (mm/gup.c, CONFIG_DEBUG_VM; checked
// against 6.1.192): I1 at unpin. Small page: it must be exclusive; THP: the head or the subpage.
template <class Env>
void sanity_check_pinned_pages(Env &env, typename Env::page_t *page) {
  if (!env.has_anon_exclusive() || !PageAnon(page)) return;
  if (!pinned_page_exclusive(page))
    report_violation("I1", page->pfn, "unpin: pinned page is not exclusive");
}

// Models: unpin_user_page() (mm/gup.c, checked against 6.1.192).
template <class Env>
void unpin_user_page(Env &env, typename Env::page_t *page) {
  if constexpr (Env::oracles) sanity_check_pinned_pages(env, page);
  gup_put_folio(env, compound_head(page), 1, FOLL_PIN);
}
// put_page for a FOLL_GET reference.
template <class Env>
void put_user_page(Env &env, typename Env::page_t *page) {
  env.put_page(page);
}

}  // namespace anonx
