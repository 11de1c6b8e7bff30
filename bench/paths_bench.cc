// SPDX-License-Identifier: GPL-2.0-only
// paths_bench.cc: one kernel path at a time, single thread, on the model's
// real page tables (bench_env<v6.2>: no hooks, no oracles):
//  - PageTryShareAnonRmap_NoPin / _Pinned: (A2)+(A3) with their barriers, on
//    an unpinned page (the flag is cleared by every call; it is set once
//    before the loop and again after it, both untimed) / a pinned one (-EBUSY);
//  - CopyPresentPte_Share / _EarlyCopy: fork of a 512-page VMA, per page:
//    write-protect and share, vs the early copy of pinned pages;
//  - WriteFault_Reuse / _Copy: a write to a R/O PTE of an exclusive page
//    (reuse) vs of a page shared with a child (copy), per 512 pages;
//  - SwapOutIn: shrink_page + the swap-in fault of one page;
//  - ThpSplit: __split_huge_pmd of a PMD-mapped THP, per 512 pages.
#include <memory>

#include "anonx.h"
#include "bench_util.h"

namespace anonx::bench {
namespace {

using env_t = bench_env<generation::v6_2>;

struct rig {
  machine m{8192, 2, 4, 64, 4096};
  mm_struct mm{m};
  cpu_stats stats;
  env_t e;
  explicit rig(unsigned long pages, unsigned flags = VM_READ | VM_WRITE) {
    e.m = &m;
    e.stats = &stats;
    mmap_region(e, mm, 0, pages, flags);
  }
  void touch(unsigned long a, uint64_t v = 1) { cpu_access(e, mm, a, 0, true, &v); }
  page *at(unsigned long a) {
    auto *t = pte_table_of<env_t>(mm, a);
    const pte_t pte{t->pte[pte_index(a)].load(std::memory_order_acquire)};
    return e.pfn_to_page(pte_pfn(pte));
  }
};

// Only the first call clears a set flag; the others clear it again. That is
// the same work: (A3) is an unconditional lock and (clear_bit), and (A2)
// reads the refcount, not the flag. Re-set after the loop: the page ends the
// run exclusive, as it started.
void BM_PageTryShareAnonRmap_NoPin(benchmark::State &state) {
  rig r(8);
  r.touch(3);
  page *p = r.at(3);
  for (auto _ : state) benchmark::DoNotOptimize(page_try_share_anon_rmap(r.e, p));
  SetPageAnonExclusive(p);
}
BENCHMARK(BM_PageTryShareAnonRmap_NoPin);

void BM_PageTryShareAnonRmap_Pinned(benchmark::State &state) {
  rig r(8);
  r.touch(3);
  page *p;
  pin_user_pages_fast(r.e, r.mm, 3, 1, FOLL_WRITE, &p);
  for (auto _ : state) benchmark::DoNotOptimize(page_try_share_anon_rmap(r.e, p));
  unpin_user_page(r.e, p);
}
BENCHMARK(BM_PageTryShareAnonRmap_Pinned);

// The batched benchmarks work on kPages pages per iteration: one untimed
// setup block, then kPages timed operations (items = pages).
constexpr unsigned long kPages = 512;

// The child mm of each fork is made and destroyed untimed: the next one is
// made in the paused block, right after the last one's exit_mmap.
void fork_loop(benchmark::State &state, bool pinned) {
  rig r(kPages);
  for (unsigned long a = 0; a < kPages; a++) r.touch(a);
  std::vector<page *> pins(kPages);
  if (pinned) pin_user_pages(r.e, r.mm, 0, kPages, FOLL_WRITE, pins.data());
  auto child = std::make_unique<mm_struct>(r.m);
  for (auto _ : state) {
    dup_mmap(r.e, *child, r.mm);
    state.PauseTiming();
    exit_mmap(r.e, *child);
    child = std::make_unique<mm_struct>(r.m);
    if (!pinned) mprotect(r.e, r.mm, 0, kPages, true);  // PTEs stay R/O: refault as reuse
    if (!pinned)
      for (unsigned long a = 0; a < kPages; a++) r.touch(a);
    state.ResumeTiming();
  }
  if (pinned)
    for (page *p : pins) unpin_user_page(r.e, p);
  state.SetItemsProcessed(state.iterations() * kPages);
}
void BM_CopyPresentPte_Share(benchmark::State &state) { fork_loop(state, false); }
BENCHMARK(BM_CopyPresentPte_Share);
void BM_CopyPresentPte_EarlyCopy(benchmark::State &state) { fork_loop(state, true); }
BENCHMARK(BM_CopyPresentPte_EarlyCopy);

void BM_WriteFault_Reuse(benchmark::State &state) {
  rig r(kPages);
  for (unsigned long a = 0; a < kPages; a++) r.touch(a);
  for (auto _ : state) {
    state.PauseTiming();
    mprotect(r.e, r.mm, 0, kPages, false);
    mprotect(r.e, r.mm, 0, kPages, true);
    state.ResumeTiming();
    for (unsigned long a = 0; a < kPages; a++) r.touch(a);  // R/O PTE, exclusive page: reuse
  }
  state.SetItemsProcessed(state.iterations() * kPages);
}
BENCHMARK(BM_WriteFault_Reuse);

// Each iteration forks a new child (untimed, after the last one's exit): every
// page is shared with it again, the parent's own pages being the previous
// iteration's copies.
void BM_WriteFault_Copy(benchmark::State &state) {
  rig r(kPages);
  for (unsigned long a = 0; a < kPages; a++) r.touch(a);
  std::unique_ptr<mm_struct> child;
  for (auto _ : state) {
    state.PauseTiming();
    if (child) exit_mmap(r.e, *child);
    child = std::make_unique<mm_struct>(r.m);
    dup_mmap(r.e, *child, r.mm);
    state.ResumeTiming();
    for (unsigned long a = 0; a < kPages; a++) r.touch(a);  // shared with the child: copy
  }
  if (child) exit_mmap(r.e, *child);
  state.SetItemsProcessed(state.iterations() * kPages);
}
BENCHMARK(BM_WriteFault_Copy);

void BM_SwapOutIn(benchmark::State &state) {
  rig r(8);
  r.touch(3);
  for (auto _ : state) {
    shrink_page(r.e, r.at(3));
    r.touch(3);  // swap-in (SWP_EXCLUSIVE: writable at once)
  }
}
BENCHMARK(BM_SwapOutIn);

void BM_ThpSplit(benchmark::State &state) {
  rig r(PTRS_PER_PTE, VM_READ | VM_WRITE | VM_HUGEPAGE);
  for (auto _ : state) {
    state.PauseTiming();
    zap_page_range(r.e, r.mm, 0, PTRS_PER_PTE);
    {
      mmap_write_guard g(r.mm.mmap_lock);
      free_pgtables(r.e, r.mm, 0, PTRS_PER_PTE);
    }
    r.touch(0);  // a huge fault
    state.ResumeTiming();
    mmap_read_guard g(r.mm.mmap_lock);
    __split_huge_pmd(r.e, r.mm, 0);
  }
  state.SetItemsProcessed(state.iterations() * PTRS_PER_PTE);
}
BENCHMARK(BM_ThpSplit);

}  // namespace
}  // namespace anonx::bench
