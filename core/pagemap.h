// SPDX-License-Identifier: GPL-2.0-only
// pagemap.h: the page lock (PG_locked as a bit spinlock) and the mapcount
// helpers shared by the paths.
//
// Simplification: lock_page spins; PG_waiters and the wait queue are not
// modelled (nothing in the protocol depends on sleeping).
#pragma once

#include "page.h"

namespace anonx {

// Models: trylock_page() (include/linux/pagemap.h, checked against 6.1.192:
// folio_trylock). Acquire on success.
template <class P>
ANONX_INLINE bool trylock_page(P *page) {
  return !test_and_set_bit_lock(PG_locked, &compound_head(page)->flags);
}
// Models: lock_page() (include/linux/pagemap.h, checked against 6.1.192;
// spins where folio_lock sleeps).
template <class P>
ANONX_INLINE void lock_page(P *page) {
  for (spin_wait w; !trylock_page(page);) w.pause();  // the kernel sleeps here
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
  clear_bit_unlock(PG_locked, &compound_head(page)->flags);
}

}  // namespace anonx
