// SPDX-License-Identifier: GPL-2.0-only
// gup_bench.cc: the real GUP paths of core/gup.h (bench_env<v6.2>: no hooks,
// no oracles, mutant checks compiled out) on real page tables:
//  - GupFast_PinUnpin_OwnPage / _SharedPage: pin_user_pages_fast + unpin of
//    an exclusive writable page, each thread its own page vs all on one page
//    (all threads share one mm: OwnPage gives thread i the page at i * 8);
//  - GupSlow_PinUnpin_OwnPage: pin_user_pages (mmap_lock read + PT lock);
//  - GupFast_RoPin_Exclusive vs GupSlow_RoPin_Unshare: a R/O pin of an
//    exclusive page (GUP-fast succeeds) vs of a page shared with a child
//    (GUP-fast backs off at (B5), slow GUP unshares: a copy, per 512 pages),
//    1 thread;
//  - GupFast_PinUnpin_WithClearer: threads pin one page while thread 0
//    keeps trying to swap it out (page_try_share_anon_rmap fails on the pin,
//    or succeeds between pins and the pinners fault it back); items are the
//    pinners' pin+unpin pairs only.
//
// The world every benchmark works in (a machine, one mm, its VMA mapped and
// every page faulted in, writable and exclusive) is built by the benchmark's
// Setup callback and freed by its Teardown callback (Google Benchmark 1.7:
// both run once per run, on the main thread, before the run's threads start
// and after they have all joined, whatever the thread count). So no thread
// waits for another to build it, and it is never freed under a thread still
// in the benchmark function. Nothing of it is timed.
#include <memory>

#include "anonx.h"
#include "bench_util.h"

namespace anonx::bench {
namespace {

using env_t = bench_env<generation::v6_2>;

struct world {
  std::unique_ptr<machine> m;
  std::unique_ptr<mm_struct> mm;
  cpu_stats stats[kMaxSlots];
  world() {
    m = std::make_unique<machine>(8192, 1, kMaxSlots, 64, 4096);
    mm = std::make_unique<mm_struct>(*m);
  }
  env_t env(unsigned cpu) {
    env_t e;
    e.m = m.get();
    e.cpu = cpu;
    e.stats = &stats[cpu % kMaxSlots];
    return e;
  }
};

// The world of the run in progress. Written only by Setup and Teardown, while
// no benchmark thread exists; the threads Google Benchmark then starts only
// read the pointer.
std::unique_ptr<world> g_world;

// A new world: pages [0, pages) mapped read/write and each written once from
// CPU 0 (an exclusive, writable, present anonymous page at every address).
void make_world(unsigned long pages) {
  g_world = std::make_unique<world>();
  env_t e = g_world->env(0);
  mmap_region(e, *g_world->mm, 0, pages, VM_READ | VM_WRITE);
  for (unsigned long a = 0; a < pages; a++) {
    uint64_t v = a;
    cpu_access(e, *g_world->mm, a, 0, true, &v);
  }
}

// Setup callbacks (void(const benchmark::State &)). The state they get is
// thread 0's with the run's thread count.
// 8 pages per thread: thread i's own page is i * 8.
void setup_per_thread(const benchmark::State &state) {
  make_world(static_cast<unsigned long>(state.threads()) * 8);
}
// A fixed number of pages, whatever the thread count.
template <unsigned long Pages>
void setup_pages(const benchmark::State &) {
  make_world(Pages);
}
// Teardown callback: every thread has joined; free the run's world.
void teardown_world(const benchmark::State &) { g_world.reset(); }

void pin_loop(benchmark::State &state, bool shared, bool fast) {
  pin_guard pg(state);
  world &w = *g_world;
  env_t e = w.env(static_cast<unsigned>(state.thread_index()));
  const unsigned long addr = shared ? 0 : static_cast<unsigned long>(state.thread_index()) * 8;
  page *p;
  for (auto _ : state) {
    const long n = fast ? pin_user_pages_fast(e, *w.mm, addr, 1, FOLL_WRITE, &p)
                        : pin_user_pages(e, *w.mm, addr, 1, FOLL_WRITE, &p);
    if (n == 1) unpin_user_page(e, p);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_GupFast_PinUnpin_OwnPage(benchmark::State &state) { pin_loop(state, false, true); }
ANONX_CONTENDED(BM_GupFast_PinUnpin_OwnPage)->Setup(setup_per_thread)->Teardown(teardown_world);
void BM_GupFast_PinUnpin_SharedPage(benchmark::State &state) { pin_loop(state, true, true); }
ANONX_CONTENDED(BM_GupFast_PinUnpin_SharedPage)->Setup(setup_per_thread)->Teardown(teardown_world);
void BM_GupSlow_PinUnpin_OwnPage(benchmark::State &state) { pin_loop(state, false, false); }
ANONX_CONTENDED(BM_GupSlow_PinUnpin_OwnPage)->Setup(setup_per_thread)->Teardown(teardown_world);

void BM_GupFast_RoPin_Exclusive(benchmark::State &state) {
  world &w = *g_world;
  env_t e = w.env(0);
  page *p;
  for (auto _ : state) {
    if (pin_user_pages_fast(e, *w.mm, 3, 1, 0, &p) == 1) unpin_user_page(e, p);
  }
  state.SetItemsProcessed(state.iterations());  // comparable with _Unshare's items
}
BENCHMARK(BM_GupFast_RoPin_Exclusive)->Setup(setup_pages<8>)->Teardown(teardown_world);

// Each iteration: a new child is forked (untimed, after the last one's exit)
// so all kUnsharePages pages are shared, then the timed R/O pins that must
// unshare them (GUP-fast backs off at (B5); slow GUP copies), one pin+unpin
// per page. The parent's pages are the previous iteration's copies. The
// child is part of what an iteration does, so it stays in the benchmark
// function; only the parent's world comes from Setup.
constexpr unsigned long kUnsharePages = 512;
void BM_GupSlow_RoPin_Unshare(benchmark::State &state) {
  world &w = *g_world;
  env_t e = w.env(0);
  page *p;
  std::unique_ptr<mm_struct> child;
  for (auto _ : state) {
    state.PauseTiming();
    if (child) exit_mmap(e, *child);
    child = std::make_unique<mm_struct>(*w.m);
    dup_mmap(e, *child, *w.mm);
    state.ResumeTiming();
    for (unsigned long a = 0; a < kUnsharePages; a++)
      if (pin_user_pages_fast(e, *w.mm, a, 1, 0, &p) == 1) unpin_user_page(e, p);
  }
  if (child) exit_mmap(e, *child);
  state.SetItemsProcessed(state.iterations() * kUnsharePages);
}
BENCHMARK(BM_GupSlow_RoPin_Unshare)->Setup(setup_pages<kUnsharePages>)->Teardown(teardown_world);

// Thread 0 keeps swapping the page out; the others pin and unpin it (GUP-fast,
// slow GUP when it is swapped: swap-in). Registered from 2 threads up, so
// there is always a pinner. Only the pinners' iterations are items.
void BM_GupFast_PinUnpin_WithClearer(benchmark::State &state) {
  pin_guard pg(state);
  world &w = *g_world;
  env_t e = w.env(static_cast<unsigned>(state.thread_index()));
  if (state.thread_index() == 0) {
    for (auto _ : state) {
      const pte_t pte{pte_table_of<env_t>(*w.mm, 3)->pte[3].load(std::memory_order_acquire)};
      if (pte_present(pte)) shrink_page(e, e.pfn_to_page(pte_pfn(pte)));
    }
    state.SetItemsProcessed(0);
  } else {
    page *p;
    for (auto _ : state)
      if (pin_user_pages_fast(e, *w.mm, 3, 1, FOLL_WRITE, &p) == 1) unpin_user_page(e, p);
    state.SetItemsProcessed(state.iterations());
  }
}
BENCHMARK(BM_GupFast_PinUnpin_WithClearer)
    ->ThreadRange(2, max_threads())
    ->UseRealTime()
    ->Setup(setup_pages<8>)
    ->Teardown(teardown_world);

}  // namespace
}  // namespace anonx::bench
