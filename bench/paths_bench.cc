// paths_bench.cc: one kernel path at a time, single thread, on the model's
// real page tables (bench_env<v6.2>: no hooks, no oracles):
//  - PageTryShareAnonRmap_NoPin / _Pinned: (A2)+(A3) with their barriers, on
//    an exclusive page (the flag is set again untimed) / a pinned one (-EBUSY);
//  - CopyPresentPte_Share / _EarlyCopy: fork of a 512-page VMA, per page:
//    write-protect and share, vs the early copy of pinned pages;
//  - WriteFault_Reuse / _Copy: a write to a R/O PTE of an exclusive page
//    (reuse) vs of a page shared with a child (copy);
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

void BM_PageTryShareAnonRmap_NoPin(benchmark::State &state) {
  rig r(8);
  r.touch(3);
  page *p = r.at(3);
  for (auto _ : state) {
    benchmark::DoNotOptimize(page_try_share_anon_rmap(r.e, p));
    SetPageAnonExclusive(p);
  }
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

void fork_loop(benchmark::State &state, bool pinned) {
  constexpr unsigned long kPages = 512;
  rig r(kPages);
  for (unsigned long a = 0; a < kPages; a++) r.touch(a);
  std::vector<page *> pins(kPages);
  if (pinned) pin_user_pages(r.e, r.mm, 0, kPages, FOLL_WRITE, pins.data());
  for (auto _ : state) {
    mm_struct child(r.m);
    dup_mmap(r.e, child, r.mm);
    state.PauseTiming();
    exit_mmap(r.e, child);
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
  rig r(8);
  r.touch(3);
  for (auto _ : state) {
    state.PauseTiming();
    mprotect(r.e, r.mm, 0, 8, false);
    mprotect(r.e, r.mm, 0, 8, true);
    state.ResumeTiming();
    r.touch(3);  // R/O PTE, exclusive page: reuse
  }
}
BENCHMARK(BM_WriteFault_Reuse);

void BM_WriteFault_Copy(benchmark::State &state) {
  rig r(8);
  r.touch(3);
  for (auto _ : state) {
    state.PauseTiming();
    auto child = std::make_unique<mm_struct>(r.m);
    dup_mmap(r.e, *child, r.mm);
    state.ResumeTiming();
    r.touch(3);  // shared with the child: copy
    state.PauseTiming();
    exit_mmap(r.e, *child);
    child.reset();
    state.ResumeTiming();
  }
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
