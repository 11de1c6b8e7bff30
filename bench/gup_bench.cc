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

// One world per benchmark run, made by thread 0 while the others wait.
std::unique_ptr<world> g_world;
std::atomic<int> g_ready{0};

world &setup(benchmark::State &state, unsigned long pages) {
  if (state.thread_index() == 0) {
    g_world = std::make_unique<world>();
    env_t e = g_world->env(0);
    mmap_region(e, *g_world->mm, 0, pages, VM_READ | VM_WRITE);
    for (unsigned long a = 0; a < pages; a++) {
      uint64_t v = a;
      cpu_access(e, *g_world->mm, a, 0, true, &v);
    }
    g_ready.fetch_add(1, std::memory_order_release);
  } else {
    while (g_ready.load(std::memory_order_acquire) == 0) cpu_relax();
  }
  return *g_world;
}
void teardown(benchmark::State &state) {
  // Google Benchmark ends every thread's loop together, so every thread is
  // past setup(): thread 0 re-arms g_ready for the next run. It frees
  // nothing: the world stays until the next setup() replaces it.
  if (state.thread_index() == 0) g_ready.store(0, std::memory_order_relaxed);
}

void pin_loop(benchmark::State &state, bool shared, bool fast) {
  pin_guard pg(state);
  world &w = setup(state, static_cast<unsigned long>(state.threads()) * 8);
  env_t e = w.env(static_cast<unsigned>(state.thread_index()));
  const unsigned long addr = shared ? 0 : static_cast<unsigned long>(state.thread_index()) * 8;
  page *p;
  for (auto _ : state) {
    const long n = fast ? pin_user_pages_fast(e, *w.mm, addr, 1, FOLL_WRITE, &p)
                        : pin_user_pages(e, *w.mm, addr, 1, FOLL_WRITE, &p);
    if (n == 1) unpin_user_page(e, p);
  }
  state.SetItemsProcessed(state.iterations());
  teardown(state);
}

void BM_GupFast_PinUnpin_OwnPage(benchmark::State &state) { pin_loop(state, false, true); }
ANONX_CONTENDED(BM_GupFast_PinUnpin_OwnPage);
void BM_GupFast_PinUnpin_SharedPage(benchmark::State &state) { pin_loop(state, true, true); }
ANONX_CONTENDED(BM_GupFast_PinUnpin_SharedPage);
void BM_GupSlow_PinUnpin_OwnPage(benchmark::State &state) { pin_loop(state, false, false); }
ANONX_CONTENDED(BM_GupSlow_PinUnpin_OwnPage);

void BM_GupFast_RoPin_Exclusive(benchmark::State &state) {
  world &w = setup(state, 8);
  env_t e = w.env(0);
  page *p;
  for (auto _ : state) {
    if (pin_user_pages_fast(e, *w.mm, 3, 1, 0, &p) == 1) unpin_user_page(e, p);
  }
  state.SetItemsProcessed(state.iterations());  // comparable with _Unshare's items
  teardown(state);
}
BENCHMARK(BM_GupFast_RoPin_Exclusive);

// Each iteration: a new child is forked (untimed, after the last one's exit)
// so all kUnsharePages pages are shared, then the timed R/O pins that must
// unshare them (GUP-fast backs off at (B5); slow GUP copies), one pin+unpin
// per page. The parent's pages are the previous iteration's copies.
constexpr unsigned long kUnsharePages = 512;
void BM_GupSlow_RoPin_Unshare(benchmark::State &state) {
  world &w = setup(state, kUnsharePages);
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
  teardown(state);
}
BENCHMARK(BM_GupSlow_RoPin_Unshare);

// Thread 0 keeps swapping the page out; the others pin and unpin it (GUP-fast,
// slow GUP when it is swapped: swap-in). Registered from 2 threads up, so
// there is always a pinner. Only the pinners' iterations are items.
void BM_GupFast_PinUnpin_WithClearer(benchmark::State &state) {
  pin_guard pg(state);
  world &w = setup(state, 8);
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
  teardown(state);
}
BENCHMARK(BM_GupFast_PinUnpin_WithClearer)->ThreadRange(2, max_threads())->UseRealTime();

}  // namespace
}  // namespace anonx::bench
