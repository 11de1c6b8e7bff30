// SPDX-License-Identifier: GPL-2.0-only
// rmap.h: the anon rmap helpers that set, test and clear PG_anon_exclusive
// (include/linux/rmap.h, mm/rmap.c), and the (A1) step shared by every path
// that clears the flag. Step labels, used across core/ and check/ for the
// accesses that the barriers of 088b8aa537c2 order:
//   clearer C: (A1) clear the PTE, (A2) read the pin count, (A3) clear the
//              flag, (A4) write the final PTE
//   GUP-fast G: (B1) read the PTE, (B2) check it, (B3) pin, (B4) re-read
//              PMD and PTE, (B5) read the flag
#pragma once

#include <cerrno>

#include "env.h"
#include "pagemap.h"

namespace anonx {

inline constexpr unsigned RMAP_EXCLUSIVE = 1u << 0;

template <class Env>
ANONX_INLINE unsigned long anon_mapping(const typename Env::mm_t &mm) {
  return (mm.anon_vma << 2) | PAGE_MAPPING_ANON;
}

// Mutant b12_nonatomic_flag: what __SetPageAnonExclusive/__ClearPage...
// do, on a live page: a plain load, a window ("B12_RMW"), a plain store
// that writes back whatever PG_locked/PG_lru/... bits it loaded.
template <class Env>
ANONX_NOINLINE void nonatomic_flag_update(Env &env, typename Env::page_t *page, unsigned long set,
                                          unsigned long clear) {
  unsigned long *word = plain_word(&page->flags, 0);
  const unsigned long old = *word;
  env.at("B12_RMW");
  *word = (old | set) & ~clear;
}

// Models: __page_set_anon_rmap() via page_add_new_anon_rmap() (mm/rmap.c,
// checked against 6.1.192).
// Locking: PT lock (or PMD lock) held; the page is new and not yet
// published, so plain order suffices: the set_pte_at() that publishes it is
// the release.
// Steps: mapping, index, first mapcount, then PG_anon_exclusive (THP: on the
// head only, I9), all before the PTE exists.
template <class Env>
void page_add_new_anon_rmap(Env &env, typename Env::page_t *page, typename Env::mm_t &mm,
                            unsigned long addr, bool compound) {
  __SetPageSwapBacked(page);
  page->mapping.store(anon_mapping<Env>(mm), std::memory_order_relaxed);
  page->index.store(addr, std::memory_order_relaxed);
  if (compound)
    page[1].compound_mapcount.store(0, std::memory_order_relaxed);
  else
    page->_mapcount.store(0, std::memory_order_relaxed);
  if (env.has_anon_exclusive()) SetPageAnonExclusive(page);
}

// RMAP_EXCLUSIVE of page_add_anon_rmap: only the first mapping may claim it.
template <class Env>
void set_anon_exclusive_first(Env &env, typename Env::page_t *page, bool first, unsigned flags) {
  if (env.has_anon_exclusive() && (flags & RMAP_EXCLUSIVE)) {
    VM_BUG_ON_PFN(!first, page->pfn, "page_add_anon_rmap: exclusive but not the first mapping");
    if (env.proto.mutant_is(mutant::b12_nonatomic_flag))
      nonatomic_flag_update(env, page, BIT_MASK(PG_anon_exclusive), 0);  // B12
    else
      SetPageAnonExclusive(page);
  }
}

// Models: page_add_anon_rmap(page, vma, addr, flags) (mm/rmap.c, checked
// against 6.1.192). Locking: PT lock held (the kernel also wants the page
// lock, which KSM and migration hold). A non-first mapping must never be
// exclusive. Simplification: of the kernel's two VM_BUG_ONs only
// "RMAP_EXCLUSIVE but not first" is checked, not "not first but already
// PageAnonExclusive".
// PTE mappings only (no RMAP_COMPOUND): the PMD-mapping callers, THP swap-in
// and THP migration, are not modelled.
template <class Env>
void page_add_anon_rmap(Env &env, typename Env::page_t *page, unsigned flags) {
  const bool first = page->_mapcount.fetch_add(1, std::memory_order_relaxed) == -1;
  word_rmw(word_kind::mapcount);
  set_anon_exclusive_first(env, page, first, flags);
}

// The same, for a page that may not be anon yet (a swap-in's page, read from
// the slot: do_swap_page, 6.1). Its first mapping makes it anon, as
// __page_set_anon_rmap does; the kernel picks the root anon_vma for a
// non-exclusive page, which the model (one anon_vma per mm, rmap walks by
// address) cannot tell apart. Locking: PT lock and page lock held.
template <class Env>
void page_add_anon_rmap(Env &env, typename Env::page_t *page, typename Env::mm_t &mm,
                        unsigned long addr, unsigned flags) {
  const bool first = page->_mapcount.fetch_add(1, std::memory_order_relaxed) == -1;
  word_rmw(word_kind::mapcount);
  if (first && !PageAnon(page)) {
    page->mapping.store(anon_mapping<Env>(mm), std::memory_order_relaxed);
    page->index.store(addr, std::memory_order_relaxed);
  }
  set_anon_exclusive_first(env, page, first, flags);
}

// Models: page_remove_rmap() (mm/rmap.c, checked against 6.1.192).
// Locking: PT lock held. The flag
// is left alone: zap leaves it set so that unpin's sanity check still holds
// (mm/gup.c sanity_check_pinned_pages, 6.1).
template <class P>
void page_remove_rmap(P *page, bool compound) {
  if (compound)
    compound_head(page)[1].compound_mapcount.fetch_sub(1, std::memory_order_relaxed);
  else
    page->_mapcount.fetch_sub(1, std::memory_order_relaxed);
  word_rmw(word_kind::mapcount);
}

// Models: page_needs_cow_for_dma() (include/linux/mm.h, checked against
// 6.1.192). Locking: fork, with write_protect_seq odd (the kernel asserts
// it; the model does not).
template <class Env>
ANONX_INLINE bool page_needs_cow_for_dma(Env &env, typename Env::mm_t &src,
                                         typename Env::page_t *page) {
  if (env.proto.mutant_is(mutant::b5_fork_ignores_pins)) return false;
  if (!test_bit(MMF_HAS_PINNED, &src.flags)) return false;
  return page_maybe_dma_pinned(page);
}

// Models: page_try_dup_anon_rmap() (include/linux/rmap.h, checked against
// 6.1.192; unchanged since 5.19).
// Locking: fork: mmap_lock (write) and both PT locks held,
// write_protect_seq odd. Returns -EBUSY when the page may be pinned: the
// child must get a copy (copy_present_page).
// v5.18 (no flag): the early-copy decision alone (70e806e4e645).
template <class Env>
int page_try_dup_anon_rmap(Env &env, typename Env::mm_t &src, typename Env::page_t *page,
                           bool compound) {
  if (!env.has_anon_exclusive()) {
    if (page_needs_cow_for_dma(env, src, page)) return -EBUSY;
  } else if (PageAnonExclusive(page)) {
    if (page_needs_cow_for_dma(env, src, page)) return -EBUSY;
    ClearPageAnonExclusive(page);
  }
  if (compound)
    page[1].compound_mapcount.fetch_add(1, std::memory_order_relaxed);
  else
    page->_mapcount.fetch_add(1, std::memory_order_relaxed);
  word_rmw(word_kind::mapcount);
  return 0;
}

// (A2): may the page be pinned? Models the first half of
// page_try_share_anon_rmap().
template <class Env>
ANONX_INLINE bool share_check_pinned(Env &env, typename Env::page_t *page) {
  if (env.proto.at_least(generation::v6_1) && !env.proto.mutant_is(mutant::b7_share_no_mb))
    smp_mb();  // pairs with smp_mb__after_atomic() after (B3) in gup_fast_pte_range
  env.at("A2");
  return page_maybe_dma_pinned(page);
}

// (A3): the flag goes. The barrier orders (A3) before (A4) for the MP pair.
template <class Env>
ANONX_INLINE void share_clear_flag(Env &env, typename Env::page_t *page) {
  env.at("A3");
  if (env.proto.mutant_is(mutant::b12_nonatomic_flag))
    nonatomic_flag_update(env, page, 0, BIT_MASK(PG_anon_exclusive));  // B12
  else
    ClearPageAnonExclusive(page);
  if (env.proto.at_least(generation::v6_1) && !env.proto.mutant_is(mutant::b8_no_wmb_rmb))
    smp_mb__after_atomic();  // pairs with smp_rmb() in gup_must_unshare (B5)
}

// Models: page_try_share_anon_rmap() (include/linux/rmap.h; checked against
// 6.1.192, where the barriers came with 088b8aa537c2, 6.1-rc1).
// Locking: PT lock held; (A1) already done by the caller (the PTE is clear
// or invalid, so GUP-fast's (B4) re-check fails from here on).
// Steps: smp_mb, (A2) pinned? -> -EBUSY, (A3) clear the flag,
// smp_mb__after_atomic. 5.19 had neither barrier: the caller's TLB-flush
// IPI waited for GUP-fast instead.
template <class Env>
int page_try_share_anon_rmap(Env &env, typename Env::page_t *page) {
  if (share_check_pinned(env, page)) {
    ++env.stats->share_busy;
    return -EBUSY;
  }
  share_clear_flag(env, page);
  return 0;
}

// Models: page_move_anon_rmap() (mm/rmap.c, checked against 6.1.192): the
// mapping on the head, the flag on the page given. Locking: page lock and PT lock
// held, refcount == 1: this mapping is the only user, so the page becomes
// this mm's and exclusive.
template <class Env>
void page_move_anon_rmap(Env &env, typename Env::page_t *page, typename Env::mm_t &mm) {
  compound_head(page)->mapping.store(anon_mapping<Env>(mm), std::memory_order_relaxed);
  if (env.has_anon_exclusive()) SetPageAnonExclusive(page);
}

// (A1) of every clearer: clear the PTE; `flush`: and flush the TLB now
// (ptep_clear_flush: migration, KSM; swap-out of an exclusive page before
// 6.1, which forced the flush: "when having to clear PageAnonExclusive(),
// we always have to flush"). On x86 that flush is an IPI that waits for
// every GUP-fast inside its IRQ-off section: 5.19's synchronisation. From
// 6.1 swap-out may defer the flush (ptep_get_and_clear, TTU_BATCH_FLUSH)
// and relies on the smp_mb in share_check_pinned(); with RCU table freeing
// no flush waits. The clear is an exchange (XCHG on x86; xchg_relaxed on
// arm64, whose ordering then comes from the flush's DSB or the smp_mb).
// Mutant b7_share_no_mb clears with a plain store, which x86 may hold in the
// store buffer past (A2) (as arm64's relaxed xchg may be). In a scripted
// interleaving (proto.reorder) that store, and v519_flush_no_wait's, is
// buffered until the next store (A4).
// Simplification: v519_flush_no_wait's buffered (A1) is a reorder that no
// 5.19 kernel had: where the flush does not wait (arm64) its DSB still
// orders (A1) before (A2) whenever the PTE was valid; arm64 5.19's real gap
// was on the GUP side, the unordered pin (b7_pin_no_mb).
template <class Env>
pte_t ptep_clear_flush_a1(Env &env, typename Env::template atomic<pteval_t> *ptep, bool flush) {
  env.at("A1");
  const bool plain = env.proto.mutant_is(mutant::b7_share_no_mb);
  const bool no_wait = env.proto.mutant_is(mutant::v519_flush_no_wait);
  pte_t old;
  if (env.proto.reorder && (plain || no_wait)) {
    old.v = ptep->load(std::memory_order_relaxed);
    env.buffer_pte_store(ptep, 0);
    return old;
  }
  if (plain) {
    old.v = ptep->load(std::memory_order_relaxed);
    ptep->store(0, std::memory_order_relaxed);  // a MOV: no store-load ordering
  } else {
    old.v = ptep->exchange(0, std::memory_order_seq_cst);  // ptep_get_and_clear: XCHG
    word_rmw(word_kind::pte);
  }
  if (flush && env.flush_waits() && !no_wait) env.m->cpus.wait_for_sections(env.cpu);
  return old;
}

// The order of set_pte_at's store: WRITE_ONCE, as native_set_pte and
// arm64's set_pte for user PTEs. What a new page's PTE publishes is ordered
// by the smp_wmb() of __SetPageUptodate before it (page_published), where
// the kernel has one. Under ThreadSanitizer, which does not see fences
// (barriers.h), a release store stands for that fence-plus-store.
#if defined(ANONX_TSAN)
inline constexpr std::memory_order kPteStoreOrder = std::memory_order_release;
#else
inline constexpr std::memory_order kPteStoreOrder = std::memory_order_relaxed;
#endif

// set_pte_at (PT lock held). Drains a buffered (A1).
template <class Env>
ANONX_INLINE void set_pte_at(Env &env, typename Env::template atomic<pteval_t> *ptep, pte_t pte) {
  env.drain_store_buffer();
  ptep->store(pte.v, kPteStoreOrder);
}
// set_pmd_at (PMD lock held): the same for a huge PMD.
template <class A>
ANONX_INLINE void set_pmd_at(A *pmdp, pmd_t pmd) {
  pmdp->store(pmd.v, kPteStoreOrder);
}

// __SetPageUptodate()'s smp_wmb(): a new page's contents (cleared, copied)
// are visible before the entry that maps it (pairs with the address
// dependency of GUP-fast's and the CPU's PTE read). The PG_uptodate bit
// itself is not modelled.
ANONX_INLINE void page_published() { smp_wmb(); }

}  // namespace anonx
