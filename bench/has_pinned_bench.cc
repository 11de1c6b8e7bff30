// SPDX-License-Identifier: GPL-2.0-only
// has_pinned_bench.cc: marking an mm as pinned (MMF_HAS_PINNED in
// mm->flags, core/mm.h) on every pin, by many threads sharing one mm:
//  - SetBit:      set_bit unconditionally (the pre-5.13 kernel: one locked
//                 RMW on the shared flags line per pin);
//  - TestThenSet: test_bit, set_bit only if clear (292648ac5cf1 "allow
//                 FOLL_PIN to scale in SMP": after the first pin, a load of
//                 a line every CPU keeps shared).
// HasPinned_* is the flag update alone; HasPinnedPin_* adds the model GUP-fast
// pin+unpin of the thread's own page (gup_model.h), the shape of gup_test
// -j N over private buffers (292648ac5cf1's message reports will-it-scale
// pin_fast at 256 threads about 46 times faster once the flag is read
// before it is written).
#include <memory>

#include "bench_util.h"
#include "gup.h"
#include "gup_model.h"
#include "mm.h"

namespace anonx::bench {
namespace {

// One machine and one mm that every thread shares; its flags word is the
// measured object.
mm_struct &shared_mm() {
  static machine m(1024, 0, 4);
  static mm_struct mm(m);
  return mm;
}

// The pre-fix form (set_bit on every pin) against the model's own
// mm_set_has_pinned_flag (core/gup.h: test_bit first).
ANONX_INLINE void mark_pinned_always(mm_struct &mm) { set_bit(MMF_HAS_PINNED, &mm.flags); }

void BM_HasPinned_SetBit(benchmark::State &state) {
  pin_guard pin(state);
  mm_struct &mm = shared_mm();
  for (auto _ : state) mark_pinned_always(mm);
}
ANONX_CONTENDED(BM_HasPinned_SetBit);

void BM_HasPinned_TestThenSet(benchmark::State &state) {
  pin_guard pin(state);
  mm_struct &mm = shared_mm();
  for (auto _ : state) mm_set_has_pinned_flag(mm);
}
ANONX_CONTENDED(BM_HasPinned_TestThenSet);

void BM_HasPinnedPin_SetBit(benchmark::State &state) {
  pin_guard pin(state);
  mm_struct &mm = shared_mm();
  model_page &mp = model_pages()[state.thread_index()];
  for (auto _ : state) {
    mark_pinned_always(mm);
    benchmark::DoNotOptimize(model_gup_fast_pin_unpin(&mp.pte, &mp.pg));
  }
}
ANONX_CONTENDED(BM_HasPinnedPin_SetBit);

void BM_HasPinnedPin_TestThenSet(benchmark::State &state) {
  pin_guard pin(state);
  mm_struct &mm = shared_mm();
  model_page &mp = model_pages()[state.thread_index()];
  for (auto _ : state) {
    mm_set_has_pinned_flag(mm);
    benchmark::DoNotOptimize(model_gup_fast_pin_unpin(&mp.pte, &mp.pg));
  }
}
ANONX_CONTENDED(BM_HasPinnedPin_TestThenSet);

}  // namespace
}  // namespace anonx::bench
