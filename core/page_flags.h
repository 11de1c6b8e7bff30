// SPDX-License-Identifier: GPL-2.0-only
// page_flags.h: the page->flags word (include/linux/page-flags.h, 5.19/6.1).
// Bit numbers follow `enum pageflags` (0..21 are configuration independent),
// with the 5.19 aliases; the PF_ policies decide which struct page of a
// compound page a flag lives on; the PageAnonExclusive family carries the
// 5.19 sanity checks, reported to the violation sink instead of BUG().
#pragma once

#include "bitops.h"
#include "violation.h"

namespace anonx {

enum pageflags : unsigned {
  PG_locked = 0,
  PG_referenced = 1,
  PG_uptodate = 2,
  PG_dirty = 3,
  PG_lru = 4,
  PG_active = 5,
  PG_workingset = 6,
  PG_waiters = 7,  // same byte as PG_locked (unlock uses a byte op)
  PG_error = 8,
  PG_slab = 9,
  PG_owner_priv_1 = 10,
  PG_arch_1 = 11,
  PG_reserved = 12,
  PG_private = 13,
  PG_private_2 = 14,
  PG_writeback = 15,
  PG_head = 16,
  PG_mappedtodisk = 17,
  PG_reclaim = 18,
  PG_swapbacked = 19,
  PG_unevictable = 20,
  PG_mlocked = 21,
  PG_hwpoison = 22,  // config dependent in the kernel; fixed here
  __NR_PAGEFLAGS,

  // Aliases (5.19).
  PG_checked = PG_owner_priv_1,
  PG_swapcache = PG_owner_priv_1,       // meaningful only with PG_swapbacked
  PG_pinned = PG_owner_priv_1,          // Xen
  PG_reported = PG_uptodate,            // buddy only
  PG_double_map = PG_workingset,        // THP, first tail page (removed in 6.2)
  PG_has_hwpoisoned = PG_error,         // THP, first tail page; moved here in 5.19
  PG_anon_exclusive = PG_mappedtodisk,  // anon pages only (78fbe906cc90)
  PG_readahead = PG_reclaim,
  PG_isolated = PG_reclaim,
};

// Flags that must already be clear when a page is freed (mm/page_alloc.c).
// PG_anon_exclusive is not among them: zap leaves it set on purpose.
inline constexpr unsigned long PAGE_FLAGS_CHECK_AT_FREE =
    1UL << PG_lru | 1UL << PG_locked | 1UL << PG_private | 1UL << PG_private_2 |
    1UL << PG_writeback | 1UL << PG_reserved | 1UL << PG_slab | 1UL << PG_active |
    1UL << PG_unevictable | 1UL << PG_mlocked;

// Flags cleared on free and required clear at allocation: every flag but
// PG_hwpoison.
inline constexpr unsigned long PAGE_FLAGS_CHECK_AT_PREP =
    ((1UL << __NR_PAGEFLAGS) - 1) & ~(1UL << PG_hwpoison);

inline constexpr unsigned long PAGE_POISON_FLAGS = ~0UL;

// How PageFoo(page) picks the struct page whose flags it touches (the PF_*
// policies of include/linux/page-flags.h, 5.19).
enum class pf_policy { ANY, HEAD, ONLY_HEAD, NO_TAIL, NO_COMPOUND, SECOND };

}  // namespace anonx
