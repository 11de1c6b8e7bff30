// SPDX-License-Identifier: GPL-2.0-only
// page.h: struct page (include/linux/mm_types.h, 6.1): 64 bytes like the
// kernel's, with flags, _refcount, _mapcount, mapping (anon and KSM bits),
// the compound head, and the compound pincount/mapcount of the first tail
// page.
// Frames live in a type-stable memmap (page_alloc.h) and are never returned
// to the OS, so a lockless reader may touch a freed frame, as in the kernel.
//
// Model convenience: each page knows its own pfn (set once at memmap init,
// read-only after); the kernel derives it from the page's address.
#pragma once

#include <atomic>
#include <cstdint>

#include "lockstat.h"
#include "page_flags.h"

namespace anonx {

inline constexpr int GUP_PIN_COUNTING_BIAS = 1 << 10;
inline constexpr unsigned HPAGE_PMD_ORDER = 9;
inline constexpr unsigned HPAGE_PMD_NR = 1u << HPAGE_PMD_ORDER;

// page->mapping low bits (include/linux/page-flags.h).
inline constexpr unsigned long PAGE_MAPPING_ANON = 0x1;
inline constexpr unsigned long PAGE_MAPPING_MOVABLE = 0x2;
inline constexpr unsigned long PAGE_MAPPING_KSM = PAGE_MAPPING_ANON | PAGE_MAPPING_MOVABLE;
inline constexpr unsigned long PAGE_MAPPING_FLAGS = PAGE_MAPPING_KSM;

// GUP flags (include/linux/mm.h), the subset the model uses.
enum gup_flags : unsigned {
  FOLL_WRITE = 0x01,
  FOLL_GET = 0x04,
  FOLL_FORCE = 0x10,
  FOLL_COW = 0x4000,  // before 6.0: set by faultin_page after a COW fault
  FOLL_LONGTERM = 0x100,
  FOLL_FAST_ONLY = 0x80000,
  FOLL_PIN = 0x40000,
};

template <template <class> class Atomic = std::atomic>
struct alignas(64) basic_page {
  Atomic<unsigned long> flags{0};
  // Tail pages: address of the head + 1 (bit 0 marks a tail); else 0.
  Atomic<unsigned long> compound_head{0};
  // Anon: anon_vma identity << 2 | PAGE_MAPPING_ANON; KSM: stable node << 2 | 3.
  Atomic<unsigned long> mapping{0};
  Atomic<unsigned long> index{0};
  // Swapcache pages: the swap slot (page_private).
  Atomic<unsigned long> private_{0};
  Atomic<int> _refcount{0};
  Atomic<int> _mapcount{-1};  // biased by -1: the first mapping is -1 -> 0
  // Meaningful on the first tail page of a compound page (page[1]).
  Atomic<int> compound_pincount{0};
  Atomic<int> compound_mapcount{-1};
  uint32_t pfn = 0;
  uint8_t compound_order = 0;  // on the head
};

using page = basic_page<>;
static_assert(sizeof(page) == 64, "struct page is 64 bytes, as in the kernel");

// ---- compound pages -------------------------------------------------------

template <class P>
ANONX_INLINE P *compound_head(P *p) {
  const unsigned long h = p->compound_head.load(std::memory_order_relaxed);
  return (h & 1) ? reinterpret_cast<P *>(h - 1) : p;
}
template <class P>
ANONX_INLINE bool PageTail(const P *p) {
  return p->compound_head.load(std::memory_order_relaxed) & 1;
}
template <class P>
ANONX_INLINE bool PageHead(const P *p) {
  return test_bit(PG_head, &p->flags);
}
template <class P>
ANONX_INLINE bool PageCompound(const P *p) {
  return PageHead(p) || PageTail(p);
}
template <class P>
ANONX_INLINE unsigned compound_order(const P *head) {
  return PageHead(head) ? head->compound_order : 0;
}
template <class P>
ANONX_INLINE unsigned long compound_nr(const P *head) {
  return 1UL << compound_order(head);
}
template <class P>
ANONX_INLINE bool PageTransHuge(const P *p) {
  return PageHead(p) && p->compound_order == HPAGE_PMD_ORDER;
}

// ---- the PF_ policies -----------------------------------------------------

template <class P>
ANONX_INLINE bool PagePoisoned(const P *p) {
  return p->flags.load(std::memory_order_relaxed) == PAGE_POISON_FLAGS;
}

// The page whose flag word a PF_ policy reads or modifies, checking the
// policy's assertions (VM_BUG_ON_PGFLAGS) on the way.
template <pf_policy Policy, class P>
ANONX_INLINE P *pf_page(P *p, bool modify) {
  VM_BUG_ON_PFN(PagePoisoned(p), p->pfn, "PagePoisoned");
  switch (Policy) {
    case pf_policy::ANY:
      return p;
    case pf_policy::HEAD:
      return compound_head(p);
    case pf_policy::ONLY_HEAD:
      VM_BUG_ON_PFN(PageTail(p), p->pfn, "PF_ONLY_HEAD on a tail page");
      return p;
    case pf_policy::NO_TAIL:
      if (modify) VM_BUG_ON_PFN(PageTail(p), p->pfn, "PF_NO_TAIL modified on a tail page");
      return compound_head(p);
    case pf_policy::NO_COMPOUND:
      if (modify) VM_BUG_ON_PFN(PageCompound(p), p->pfn, "PF_NO_COMPOUND on a compound page");
      return p;
    case pf_policy::SECOND:
      VM_BUG_ON_PFN(!PageHead(p), p->pfn, "PF_SECOND on a non-head page");
      return p + 1;
  }
  return p;
}

// PAGEFLAG(Uname, lname, policy): PageX, SetPageX, ClearPageX (atomic) and
// __SetPageX, __ClearPageX (non-atomic: unpublished or dying pages only).
#define ANONX_PAGEFLAG(uname, lname, policy)                                                    \
  template <class P>                                                                            \
  ANONX_INLINE bool Page##uname(const P *p) {                                                   \
    return test_bit(PG_##lname, &pf_page<pf_policy::policy>(const_cast<P *>(p), false)->flags); \
  }                                                                                             \
  template <class P>                                                                            \
  ANONX_INLINE void SetPage##uname(P *p) {                                                      \
    set_bit(PG_##lname, &pf_page<pf_policy::policy>(p, true)->flags);                           \
  }                                                                                             \
  template <class P>                                                                            \
  ANONX_INLINE void ClearPage##uname(P *p) {                                                    \
    clear_bit(PG_##lname, &pf_page<pf_policy::policy>(p, true)->flags);                         \
  }                                                                                             \
  template <class P>                                                                            \
  ANONX_INLINE void __SetPage##uname(P *p) {                                                    \
    __set_bit(PG_##lname, &pf_page<pf_policy::policy>(p, true)->flags);                         \
  }                                                                                             \
  template <class P>                                                                            \
  ANONX_INLINE void __ClearPage##uname(P *p) {                                                  \
    __clear_bit(PG_##lname, &pf_page<pf_policy::policy>(p, true)->flags);                       \
  }

ANONX_PAGEFLAG(Locked, locked, NO_TAIL)
ANONX_PAGEFLAG(Referenced, referenced, HEAD)
ANONX_PAGEFLAG(Uptodate, uptodate, NO_TAIL)
ANONX_PAGEFLAG(Dirty, dirty, HEAD)
ANONX_PAGEFLAG(LRU, lru, HEAD)
ANONX_PAGEFLAG(Active, active, HEAD)
ANONX_PAGEFLAG(Waiters, waiters, ONLY_HEAD)
ANONX_PAGEFLAG(Error, error, NO_TAIL)
ANONX_PAGEFLAG(Writeback, writeback, NO_TAIL)
ANONX_PAGEFLAG(MappedToDisk, mappedtodisk, NO_TAIL)
ANONX_PAGEFLAG(SwapBacked, swapbacked, NO_TAIL)
ANONX_PAGEFLAG(Unevictable, unevictable, HEAD)
ANONX_PAGEFLAG(Mlocked, mlocked, NO_TAIL)
ANONX_PAGEFLAG(HasHWPoisoned, has_hwpoisoned, SECOND)
ANONX_PAGEFLAG(Reserved, reserved, NO_COMPOUND)
ANONX_PAGEFLAG(Slab, slab, NO_TAIL)
#undef ANONX_PAGEFLAG

// PG_swapcache aliases PG_owner_priv_1, so it means "in swap cache" only on a
// swap-backed page (PF_NO_TAIL).
template <class P>
ANONX_INLINE bool PageSwapCache(const P *p) {
  const P *h = compound_head(const_cast<P *>(p));
  return PageSwapBacked(h) && test_bit(PG_swapcache, &h->flags);
}
template <class P>
ANONX_INLINE void SetPageSwapCache(P *p) {
  set_bit(PG_swapcache, &pf_page<pf_policy::NO_TAIL>(p, true)->flags);
}
template <class P>
ANONX_INLINE void ClearPageSwapCache(P *p) {
  clear_bit(PG_swapcache, &pf_page<pf_policy::NO_TAIL>(p, true)->flags);
}

// ---- anon and KSM ---------------------------------------------------------

template <class P>
ANONX_INLINE bool PageAnon(const P *p) {
  return compound_head(const_cast<P *>(p))->mapping.load(std::memory_order_relaxed) &
         PAGE_MAPPING_ANON;
}
template <class P>
ANONX_INLINE bool PageKsm(const P *p) {
  return (compound_head(const_cast<P *>(p))->mapping.load(std::memory_order_relaxed) &
          PAGE_MAPPING_FLAGS) == PAGE_MAPPING_KSM;
}

// ---- PG_anon_exclusive: PF_ANY, per subpage --------------------------------
// (include/linux/page-flags.h PageAnonExclusive and its set/clear, 5.19)

// Reads the flag of exactly this (sub)page (PF_ANY, which also asserts the
// struct page is not poisoned); asserts the page is anon.
template <class P>
ANONX_INLINE bool PageAnonExclusive(const P *p) {
  VM_BUG_ON_PFN(!PageAnon(p), p->pfn, "PageAnonExclusive(!PageAnon)");
  return test_bit(PG_anon_exclusive, &pf_page<pf_policy::ANY>(const_cast<P *>(p), false)->flags);
}
// Atomic set (unordered); asserts anon and not KSM: KSM pages are never
// exclusive (I6).
template <class P>
ANONX_INLINE void SetPageAnonExclusive(P *p) {
  VM_BUG_ON_PFN(!PageAnon(p) || PageKsm(p), p->pfn, "SetPageAnonExclusive(!anon || KSM)");
  set_bit(PG_anon_exclusive, &pf_page<pf_policy::ANY>(p, true)->flags);
}
// Atomic clear (unordered); same checks.
template <class P>
ANONX_INLINE void ClearPageAnonExclusive(P *p) {
  VM_BUG_ON_PFN(!PageAnon(p) || PageKsm(p), p->pfn, "ClearPageAnonExclusive(!anon || KSM)");
  clear_bit(PG_anon_exclusive, &pf_page<pf_policy::ANY>(p, true)->flags);
}
// Non-atomic clear, free paths only (nobody else can see the page).
template <class P>
ANONX_INLINE void __ClearPageAnonExclusive(P *p) {
  VM_BUG_ON_PFN(!PageAnon(p), p->pfn, "__ClearPageAnonExclusive(!PageAnon)");
  __clear_bit(PG_anon_exclusive, &pf_page<pf_policy::ANY>(p, true)->flags);
}

// The sanity check of each path that installs a writable entry for an anon
// page (do_swap_page, try_to_migrate_one, remove_migration_pte): writable
// implies exclusive (I3). One check, one name; `site` goes in the detail.
template <class P>
ANONX_INLINE void vm_bug_on_writable_not_exclusive(bool writable, P *p, const char *site) {
  if (unlikely(writable && !test_bit(PG_anon_exclusive, &p->flags)))
    ::anonx::report_violation("VM_BUG_ON:writable but not exclusive (I3)", p->pfn, site);
}

// ---- refcount, mapcount, pins ---------------------------------------------
// (include/linux/page_ref.h; include/linux/mm.h page_mapcount,
// page_maybe_dma_pinned; mm/gup.c try_grab_folio, gup_put_folio; 6.1)

template <class P>
ANONX_INLINE int page_ref_count(const P *p) {
  return compound_head(const_cast<P *>(p))->_refcount.load(std::memory_order_relaxed);
}
// get_page: the caller already holds a reference (or the PT lock over a
// mapping PTE), so a plain increment is safe. Unordered, as atomic_inc.
template <class P>
ANONX_INLINE void get_page(P *p) {
  compound_head(p)->_refcount.fetch_add(1, std::memory_order_relaxed);
  word_rmw(word_kind::refcount);
}
// Drops nr references; true when the count hit zero (the caller frees).
// Fully ordered, as atomic_sub_and_test: every access to the page before the
// put happens before the free.
template <class P>
ANONX_INLINE bool page_ref_sub_and_test(P *head, int nr) {
  word_rmw(word_kind::refcount);
  return head->_refcount.fetch_sub(nr, std::memory_order_acq_rel) == nr;
}
// atomic_add_unless(&_refcount, nr, u): fails on a page being freed (u = 0).
// Fully ordered on success, as the kernel's value-returning atomics.
// Profiled: the compare-exchange loop's retries, and a give-up (u seen).
template <class P>
ANONX_INLINE bool page_ref_add_unless(P *head, int nr, int u) {
  int v = head->_refcount.load(std::memory_order_relaxed);
  uint64_t retries = 0;
  for (;; ++retries) {
    if (v == u) {
      word_rmw(word_kind::refcount, retries, true);
      return false;
    }
    if (head->_refcount.compare_exchange_weak(v, v + nr, std::memory_order_seq_cst,
                                              std::memory_order_relaxed))
      break;
  }
  word_rmw(word_kind::refcount, retries);
  return true;
}
// try_get_page / folio_try_get: add-unless-zero.
template <class P>
ANONX_INLINE bool try_get_page(P *p) {
  return page_ref_add_unless(compound_head(p), 1, 0);
}
// page_ref_freeze: count -> 0 only if it is exactly `count` (migration).
template <class P>
ANONX_INLINE bool page_ref_freeze(P *head, int count) {
  int expected = count;
  const bool frozen = head->_refcount.compare_exchange_strong(
      expected, 0, std::memory_order_seq_cst, std::memory_order_relaxed);
  word_rmw(word_kind::refcount, 0, !frozen);
  return frozen;
}
template <class P>
ANONX_INLINE void page_ref_unfreeze(P *head, int count) {
  head->_refcount.store(count, std::memory_order_release);
}

// page_mapcount(subpage): own PTE mappings plus the compound (PMD) mappings.
template <class P>
ANONX_INLINE int page_mapcount(const P *p) {
  int n = p->_mapcount.load(std::memory_order_relaxed) + 1;
  const P *h = compound_head(const_cast<P *>(p));
  if (PageTransHuge(h)) n += h[1].compound_mapcount.load(std::memory_order_relaxed) + 1;
  return n;
}
// total_mapcount of a THP, or page_mapcount of a small page.
template <class P>
ANONX_INLINE int total_mapcount(const P *head) {
  if (!PageTransHuge(head)) return page_mapcount(head);
  int n = head[1].compound_mapcount.load(std::memory_order_relaxed) + 1;
  for (unsigned i = 0; i < HPAGE_PMD_NR; i++)
    n += head[i]._mapcount.load(std::memory_order_relaxed) + 1;
  return n;
}

// folio_maybe_dma_pinned: large -> exact pincount > 0; small -> refcount >=
// 1024. False positives are allowed; a false negative is not, once the pin's
// increment is visible (I11).
template <class P>
ANONX_INLINE bool page_maybe_dma_pinned(const P *p) {
  const P *h = compound_head(const_cast<P *>(p));
  if (PageHead(h)) return h[1].compound_pincount.load(std::memory_order_relaxed) > 0;
  return static_cast<unsigned>(h->_refcount.load(std::memory_order_relaxed)) >=
         static_cast<unsigned>(GUP_PIN_COUNTING_BIAS);
}

// try_grab_folio (mm/gup.c): take `refs` references of kind FOLL_GET or
// FOLL_PIN on a page found without locks. Step 1 is add-unless-zero (fails
// on a page being freed); step 2 re-checks the head (a concurrent split);
// step 3 adds the pin bias (small: +1023 more; large: pincount += refs).
// Returns the head, or nullptr. The caller orders the pin before its PTE
// re-check with smp_mb__after_atomic() (6.1+, FOLL_PIN only).
// Simplification: on a concurrent split the kernel's try_get_folio retries
// on the new head; here the grab fails and GUP-fast falls back.
template <class P>
P *try_grab_folio(P *p, int refs, unsigned flags) {
  P *head = compound_head(p);
  if (!page_ref_add_unless(head, refs, 0)) return nullptr;
  if (unlikely(compound_head(p) != head)) {  // split under us: retry is the caller's
    head->_refcount.fetch_sub(refs, std::memory_order_acq_rel);
    return nullptr;
  }
  if (flags & FOLL_PIN) {
    if (PageHead(head)) {
      head[1].compound_pincount.fetch_add(refs, std::memory_order_relaxed);
      word_rmw(word_kind::pincount);
    } else {
      head->_refcount.fetch_add(refs * (GUP_PIN_COUNTING_BIAS - 1), std::memory_order_relaxed);
      word_rmw(word_kind::refcount);
    }
  }
  return head;
}

// try_grab_page (slow GUP, PT lock held: the page cannot go away): +1, or
// the pin bias.
template <class P>
void try_grab_page(P *p, unsigned flags) {
  P *head = compound_head(p);
  if (flags & FOLL_PIN) {
    if (PageHead(head)) {
      head->_refcount.fetch_add(1, std::memory_order_relaxed);
      head[1].compound_pincount.fetch_add(1, std::memory_order_relaxed);
    } else {
      head->_refcount.fetch_add(GUP_PIN_COUNTING_BIAS, std::memory_order_relaxed);
    }
  } else {
    head->_refcount.fetch_add(1, std::memory_order_relaxed);
  }
}

// The reference count a gup_put_folio of `refs` drops, after the pincount
// update for large folios. True when the page must be freed.
template <class P>
bool gup_put_folio_ref(P *head, int refs, unsigned flags) {
  if (flags & FOLL_PIN) {
    if (PageHead(head)) {
      head[1].compound_pincount.fetch_sub(refs, std::memory_order_relaxed);
      word_rmw(word_kind::pincount);
    } else {
      refs *= GUP_PIN_COUNTING_BIAS;
    }
  }
  return page_ref_sub_and_test(head, refs);
}

}  // namespace anonx
