// SPDX-License-Identifier: GPL-2.0-only
// gup_model_bench.cc: the model GUP-fast pin+unpin (gup_model.h: PTE load,
// present check, try_grab_folio(FOLL_PIN), smp_mb__after_atomic, PTE
// re-check, gup_put_folio_ref) compared with bare atomics on the same
// refcount:
//  - BarePinUnpin: fetch_add(1024) + fetch_sub(1024), a pre-5.17 pin and
//    its unpin (two locked RMWs; gup_model.h);
//  - BareGrabPut: the model's own three RMWs (CAS +1, +1023, -1024) with
//    nothing around them.
// Gate P1 (1 thread, OwnPage): model / BareGrabPut <= 1.1 (harness code in
// the op path); model / BarePinUnpin is printed beside it (P1pair, info):
// about 1.5 by construction, three locked RMWs against two.
//  - OwnPage: thread i pins its own page (more threads: disjoint scaling).
//  - SharedPage: every thread pins the same page (P5: contention on one
//    refcount, as the kernel selftest gup_test -j N on one buffer,
//    tools/testing/selftests/vm/gup_test.c in v6.2).
#include "gup_model.h"

namespace anonx::bench {
namespace {

void BM_GupFastPin_OwnPage(benchmark::State &state) {
  pin_guard pin(state);
  model_page &mp = model_pages()[state.thread_index()];
  for (auto _ : state) benchmark::DoNotOptimize(model_gup_fast_pin_unpin(&mp.pte, &mp.pg));
}
ANONX_CONTENDED(BM_GupFastPin_OwnPage);

void BM_GupFastPin_SharedPage(benchmark::State &state) {
  pin_guard pin(state);
  model_page &mp = model_pages()[0];
  for (auto _ : state) benchmark::DoNotOptimize(model_gup_fast_pin_unpin(&mp.pte, &mp.pg));
}
ANONX_CONTENDED(BM_GupFastPin_SharedPage);

void BM_BarePinUnpin_OwnPage(benchmark::State &state) {
  pin_guard pin(state);
  model_page &mp = model_pages()[state.thread_index()];
  for (auto _ : state) bare_pin_unpin(&mp.pg);
}
ANONX_CONTENDED(BM_BarePinUnpin_OwnPage);

void BM_BarePinUnpin_SharedPage(benchmark::State &state) {
  pin_guard pin(state);
  model_page &mp = model_pages()[0];
  for (auto _ : state) bare_pin_unpin(&mp.pg);
}
ANONX_CONTENDED(BM_BarePinUnpin_SharedPage);

void BM_BareGrabPut_OwnPage(benchmark::State &state) {
  pin_guard pin(state);
  model_page &mp = model_pages()[state.thread_index()];
  for (auto _ : state) bare_grab_put(&mp.pg);
}
ANONX_CONTENDED(BM_BareGrabPut_OwnPage);

void BM_BareGrabPut_SharedPage(benchmark::State &state) {
  pin_guard pin(state);
  model_page &mp = model_pages()[0];
  for (auto _ : state) bare_grab_put(&mp.pg);
}
ANONX_CONTENDED(BM_BareGrabPut_SharedPage);

}  // namespace
}  // namespace anonx::bench
