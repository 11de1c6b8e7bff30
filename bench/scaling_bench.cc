// SPDX-License-Identifier: GPL-2.0-only
// scaling_bench.cc: the 1-to-2-thread scaling canary. Each thread runs the
// same small piece of page work (set_bit PG_referenced, model GUP-fast
// pin+unpin, clear_bit PG_referenced):
//  - Disjoint: on its own page, flags word, refcount and PTE, each on its own
//    128-byte line pair. Gate P4: aggregate throughput at 2 threads / at 1
//    thread >= 1.8; less means hidden sharing in the model or the harness.
//  - SharedPage: all threads on one page (P5, reported: 0.25-0.6x expected;
//    >= 0.9x would mean the threads do not overlap).
#include "bench_util.h"
#include "gup_model.h"

namespace anonx::bench {
namespace {

ANONX_INLINE void page_work(model_page &mp) {
  SetPageReferenced(&mp.pg);
  benchmark::DoNotOptimize(model_gup_fast_pin_unpin(&mp.pte, &mp.pg));
  ClearPageReferenced(&mp.pg);
}

void BM_Scaling_Disjoint(benchmark::State &state) {
  pin_guard pin(state);
  // Slots from the top: pages no other benchmark of this file shares.
  model_page &mp = model_pages()[kMaxSlots - 1 - state.thread_index()];
  for (auto _ : state) page_work(mp);
}
ANONX_CONTENDED(BM_Scaling_Disjoint);

void BM_Scaling_SharedPage(benchmark::State &state) {
  pin_guard pin(state);
  model_page &mp = model_pages()[0];
  for (auto _ : state) page_work(mp);
}
ANONX_CONTENDED(BM_Scaling_SharedPage);

}  // namespace
}  // namespace anonx::bench
