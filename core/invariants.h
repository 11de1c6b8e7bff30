// SPDX-License-Identifier: GPL-2.0-only
// invariants.h: the oracles I1..I11 (the model's names; the kernel asserts
// most of them as VM_BUG_ONs, e.g. mm/gup.c sanity_check_pinned_pages for
// I1, wp_page_reuse and do_swap_page in mm/memory.c for I3, 6.1):
//  I1  a committed FOLL_PIN on an anon page => the page (THP: head or the
//      subpage) is PageAnonExclusive, from commit until unpin, zap included;
//  I2  no wrong COW: while a pin obtained via address A is held and A is not
//      unmapped, A maps the pinned page whenever present (never a copy, a
//      swap or a migration entry);
//  I3  a present writable PTE/PMD of an anon (sub)page => exclusive;
//  I4  exclusive and mapped => mapped once (mapcount 1);
//  I5  shared (mapcount > 1, or by two mms) => not exclusive, every PTE R/O;
//  I6  KSM pages are never exclusive and never pinned;
//  I7  a page behind swap or migration entries is not exclusive;
//      SWP_EXCLUSIVE / READ_EXCLUSIVE / WRITE entries only for a sole mapping;
//  I8  hugetlb: the flag only on the head page;
//  I9  after a PMD split every subpage carries the head's former flag;
//  I10 a newly allocated page has the flag clear and is not anon;
//  I11 accounting: small page refcount >= 1024 * pins + mappings, large
//      pincount == pins; page_maybe_dma_pinned never false under a pin.
//
// Three kinds of check:
//  (a) inline at commit points: a pin returned to its caller, an unpin, the
//      end of a path step (THP split);
//  (b) the checker: under the PT locks, every entry of an mm;
//  (c) end to end on data: done by the stress scenarios (a DMA write through
//      a pin must be read by the process; parent and child never see each
//      other's post-fork writes).
// Only committed pins count (returned to the GUP caller): GUP-fast's
// transient pins that back off are legitimately on non-exclusive pages.
// A violation is reported to the sink with its invariant's name; nothing
// aborts.
#pragma once

#include <string>

#include "env.h"

namespace anonx {

// The I1 test of a pinned anon page: it is exclusive, or (THP) its head is
// (PMD- vs PTE-mapped is unknown at unpin).
template <class P>
bool pinned_page_exclusive(P *page) {
  P *head = compound_head(page);
  return test_bit(PG_anon_exclusive, &page->flags) ||
         (head != page && test_bit(PG_anon_exclusive, &head->flags));
}

// I1 (pinned => exclusive) and I11 (maybe_dma_pinned never false while a
// committed pin is held), for a committed FOLL_PIN on an anon page.
// THP: the head or the subpage must be exclusive (PMD- vs PTE-mapped is
// unknown at unpin).
template <class Env>
bool check_committed_pin(Env &env, typename Env::page_t *page) {
  bool ok = true;
  if (!page_maybe_dma_pinned(page)) {
    report_violation("I11", page->pfn, "committed pin but !page_maybe_dma_pinned");
    ok = false;
  }
  if (env.has_anon_exclusive() && PageAnon(page)) {
    if (!pinned_page_exclusive(page)) {
      report_violation("I1", page->pfn, "committed pin on a page that is not PageAnonExclusive");
      ok = false;
    }
  }
  return ok;
}

// check_committed_pin for pages[from, to) of a FOLL_PIN GUP call (nothing
// when the environment has no oracles or the call took no pins).
template <class Env>
void check_committed_pins(Env &env, unsigned flags, typename Env::page_t *const *pages, long from,
                          long to) {
  if constexpr (Env::oracles)
    if (flags & FOLL_PIN)
      for (long i = from; i < to; i++) check_committed_pin(env, pages[i]);
}

// I9: after a PMD split every subpage carries the head's former flag.
template <class Env>
void check_split_flags(Env &env, typename Env::page_t *head, bool anon_exclusive) {
  if constexpr (Env::oracles) {
    for (unsigned i = 0; i < HPAGE_PMD_NR; i++)
      if (test_bit(PG_anon_exclusive, &head[i].flags) != anon_exclusive) {
        report_violation("I9", head[i].pfn, "subpage flag differs from the head's after split");
        return;
      }
  } else {
    (void)env, (void)head, (void)anon_exclusive;
  }
}

// I3, I4, I5, I6 for one present entry mapping `page`, checked under the PT
// lock (or PMD lock) that protects it. `huge`: a PMD mapping of a THP.
template <class Env>
void check_present_entry(Env &env, pte_t pte, typename Env::page_t *page, bool huge) {
  if (!PageAnon(page)) return;
  if (!env.has_anon_exclusive()) return;
  const bool excl = test_bit(PG_anon_exclusive, &page->flags);
  if (PageKsm(page)) {
    if (excl) report_violation("I6", page->pfn, "KSM page is exclusive");
    return;
  }
  if (pte_write(pte) && !excl)
    report_violation("I3", page->pfn, "writable PTE, page not exclusive");
  const int mapcount =
      huge ? page[1].compound_mapcount.load(std::memory_order_relaxed) + 1 : page_mapcount(page);
  if (excl && mapcount > 1)
    report_violation("I4", page->pfn, "exclusive page mapped " + std::to_string(mapcount) + "x");
  if (mapcount > 1 && pte_write(pte))
    report_violation("I5", page->pfn, "shared page mapped writable");
}

// The checker: every entry of mm under its lock. I7: a page behind a swap
// or migration entry is not exclusive.
template <class Env>
void check_mm(Env &env, typename Env::mm_t &mm) NO_THREAD_SAFETY_ANALYSIS {
  for (unsigned i = 0; i < kPmdsPerMm; i++) {
    auto *pmdp = &mm.pmd[i];
    mm.page_table_lock.lock();
    const pmd_t pmd{pmdp->load(std::memory_order_relaxed)};
    if (pmd_trans_huge(pmd)) {
      check_present_entry(env, pmd, env.pfn_to_page(pte_pfn(pmd)), true);
      mm.page_table_lock.unlock();
      continue;
    }
    mm.page_table_lock.unlock();
    if (!pmd_table(pmd)) continue;
    auto &table = mm.table_of(pmd);
    lock_guard<ptl_t> g(table.ptl);
    if (pmdp->load(std::memory_order_relaxed) != pmd.v) continue;
    for (unsigned j = 0; j < PTRS_PER_PTE; j++) {
      const pte_t pte{table.pte[j].load(std::memory_order_relaxed)};
      if (pte_present(pte)) {
        check_present_entry(env, pte, env.pfn_to_page(pte_pfn(pte)), false);
      } else if (is_migration_entry(pte) && env.has_anon_exclusive()) {
        auto *page = env.pfn_to_page(swp_offset(pte));
        if (PageAnon(page) && test_bit(PG_anon_exclusive, &page->flags))
          report_violation("I7", page->pfn, "page behind a migration entry is exclusive");
      }
    }
  }
}

}  // namespace anonx
