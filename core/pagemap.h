// SPDX-License-Identifier: GPL-2.0-only
// pagemap.h: the page lock (PG_locked as a bit spinlock) and the mapcount
// helpers shared by the paths.
//
// Simplification: lock_page spins; PG_waiters and the wait queue are not
// modelled (nothing in the protocol depends on sleeping).
#pragma once

#include "lockstat.h"
#include "page.h"

namespace anonx {

// Models: trylock_page() (include/linux/pagemap.h, checked against 6.1.192:
// folio_trylock). Acquire on success.
// Profiled as lock class page_lock (core/lockstat.h): a success is an
// acquisition, a failure a failed RMW of the flags word.
template <class P>
ANONX_INLINE bool trylock_page(P *page) {
  P *head = compound_head(page);
  const bool got = !test_and_set_bit_lock(PG_locked, &head->flags);
  if (lockstat *p = this_cpu_lockstat()) {
    if (got)
      lockstat_acquired(p, head, lock_class::page_lock);
    else
      ++p->words[static_cast<unsigned>(word_kind::flags)].failures;
  }
  return got;
}
// Models: lock_page() (include/linux/pagemap.h, checked against 6.1.192;
// spins where folio_lock sleeps).
// A failed first try is a contention of the page lock, charged to `fn`.
template <class P>
ANONX_INLINE void lock_page(P *page, const char *fn = __builtin_FUNCTION()) {
  P *head = compound_head(page);
  lockstat *p = this_cpu_lockstat();
  if (!p) {
    for (spin_wait w("page lock (PG_locked) never unlocked?");
         test_and_set_bit_lock(PG_locked, &head->flags);)
      w.pause();  // sleeps
    return;
  }
  if (test_and_set_bit_lock(PG_locked, &head->flags)) {
    const uint64_t t0 = lockstat_ticks();
    for (spin_wait w("page lock (PG_locked) never unlocked?");
         test_and_set_bit_lock(PG_locked, &head->flags);)
      w.pause();
    return lockstat_acquired(p, head, lock_class::page_lock, lockstat_ticks(), t0, fn);
  }
  lockstat_acquired(p, head, lock_class::page_lock);
}
// Models: unlock_page() (mm/filemap.c folio_unlock, checked against
// 6.1.192; no waiter wake-up): release, pairs with trylock_page's acquire.
// The kernel's VM_BUG_ON_FOLIO(!folio_test_locked(folio)) is an oracle: a
// path that unlocks a page it did not lock (or lost its lock bit to a plain
// flag update) is caught here.
template <class P>
ANONX_INLINE void unlock_page(P *page) {
  VM_BUG_ON_PFN(!test_bit(PG_locked, &compound_head(page)->flags), page->pfn,
                "unlock_page of an unlocked page");
  P *head = compound_head(page);
  lockstat_unlock(head, [head] { clear_bit_unlock(PG_locked, &head->flags); });
}

}  // namespace anonx
