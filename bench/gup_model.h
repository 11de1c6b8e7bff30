// SPDX-License-Identifier: GPL-2.0-only
// gup_model.h: the "model GUP-fast pin+unpin" of gates P1/P1pair, built from
// core/: READ_ONCE of a PTE word, pte_present, try_grab_folio(FOLL_PIN), the
// (B3) smp_mb__after_atomic, the PTE re-check, then gup_put_folio_ref
// (unpin_user_page). No page-table walk, IRQ-off section or seqcount: those
// cost what cpu.h and mm.h cost and are measured elsewhere. Shared by
// gup_model_bench.cc, scaling_bench.cc and has_pinned_bench.cc.
#pragma once

#include <atomic>
#include <memory>

#include "barriers.h"
#include "bench_util.h"
#include "page.h"
#include "pte.h"

namespace anonx::bench {

// A mapped anonymous small page and the PTE mapping it, each on its own
// line pair, as a PTE table lives apart from the memmap.
struct alignas(kNoFalseSharing) model_page {
  page pg;
  alignas(kNoFalseSharing) std::atomic<pteval_t> pte{0};
};

// kMaxSlots mapped pages (refcount 1, mapcount 0, anon, exclusive): slot i is
// thread i's own page; slot 0 doubles as the page every thread shares.
inline model_page *model_pages() {
  static const std::unique_ptr<model_page[]> pages = [] {
    std::unique_ptr<model_page[]> p(new model_page[kMaxSlots]);
    for (int i = 0; i < kMaxSlots; i++) {
      page &pg = p[i].pg;
      pg.pfn = static_cast<uint32_t>(i);
      pg._refcount.store(1, std::memory_order_relaxed);
      pg._mapcount.store(0, std::memory_order_relaxed);
      pg.mapping.store(1UL << 2 | PAGE_MAPPING_ANON, std::memory_order_relaxed);
      pg.flags.store(1UL << PG_anon_exclusive | 1UL << PG_swapbacked | 1UL << PG_uptodate,
                     std::memory_order_relaxed);
      p[i].pte.store(pfn_pte(static_cast<unsigned long>(i), true).v, std::memory_order_release);
    }
    return p;
  }();
  return pages.get();
}

// One GUP-fast pin of the page mapped by *ptep, then its unpin. Returns
// false if the PTE was not present or changed under the pin (never here).
ANONX_INLINE bool model_gup_fast_pin_unpin(std::atomic<pteval_t> *ptep, page *pg) {
  const pte_t pte{ptep->load(std::memory_order_acquire)};  // ptep_get_lockless
  if (unlikely(!pte_present(pte))) return false;
  page *head = try_grab_folio(pg, 1, FOLL_PIN);
  if (unlikely(!head)) return false;
  smp_mb__after_atomic();  // (B3): pin before the PTE re-check; pairs with the unmapper's mb
  if (unlikely(ptep->load(std::memory_order_relaxed) != pte.v)) {
    gup_put_folio_ref(head, 1, FOLL_PIN);
    return false;
  }
  gup_put_folio_ref(head, 1, FOLL_PIN);  // unpin_user_page
  return true;
}

// The bare pair: +1024, -1024 (two locked RMWs), a pin as kernels before
// 5.17 took it (one add-unless-zero of GUP_PIN_COUNTING_BIAS,
// try_grab_compound_head in mm/gup.c, v5.16) and its unpin.
ANONX_INLINE void bare_pin_unpin(page *pg) {
  pg->_refcount.fetch_add(GUP_PIN_COUNTING_BIAS);
  pg->_refcount.fetch_sub(GUP_PIN_COUNTING_BIAS);
}

// The same atomics as the model, inlined with nothing around them: the
// add-unless-zero CAS (+1), the pin bias (+1023) and the unpin (-1024).
// core/page.h's try_grab_folio pins a small page with two RMWs, as 5.17+
// kernels do (try_get_folio, then folio_ref_add(refs * (BIAS - 1))), so the
// model executes three locked RMWs where the bare pair executes two.
ANONX_INLINE void bare_grab_put(page *pg) {
  int v = pg->_refcount.load(std::memory_order_relaxed);
  while (v != 0 && !pg->_refcount.compare_exchange_weak(v, v + 1, std::memory_order_seq_cst,
                                                        std::memory_order_relaxed)) {
  }
  pg->_refcount.fetch_add(GUP_PIN_COUNTING_BIAS - 1, std::memory_order_relaxed);
  benchmark::DoNotOptimize(
      pg->_refcount.fetch_sub(GUP_PIN_COUNTING_BIAS, std::memory_order_acq_rel) ==
      GUP_PIN_COUNTING_BIAS);
}

}  // namespace anonx::bench
