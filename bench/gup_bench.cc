// gup_bench.cc: the real GUP paths of core/gup.h (bench_env<v6.2>: no hooks,
// no oracles, mutant checks compiled out) on real page tables:
//  - GupFast_PinUnpin_OwnPage / _SharedPage: pin_user_pages_fast + unpin of
//    an exclusive writable page, each thread its own page vs all on one page
//    (every thread's own mm when OwnPage; one mm when SharedPage);
//  - GupSlow_PinUnpin_OwnPage: pin_user_pages (mmap_lock read + PT lock);
//  - GupFast_RoPin_Exclusive vs GupSlow_RoPin_Unshare: a R/O pin of an
//    exclusive page (GUP-fast succeeds) vs of a page shared with a child
//    (GUP-fast backs off at (B5), slow GUP unshares: a copy), 1 thread;
//  - GupFast_PinUnpin_WithClearer: threads pin one page while thread 0
//    keeps trying to swap it out (page_try_share_anon_rmap fails on the pin,
//    or succeeds between pins and the pinners fault it back).
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
  // Google Benchmark ends every thread's loop together; thread 0 frees last.
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
  teardown(state);
}
BENCHMARK(BM_GupFast_RoPin_Exclusive);

// Each iteration: fork (untimed) so the page is shared, then the timed R/O
// pin that must unshare (GUP-fast backs off at (B5); slow GUP copies).
void BM_GupSlow_RoPin_Unshare(benchmark::State &state) {
  world &w = setup(state, 8);
  env_t e = w.env(0);
  page *p;
  for (auto _ : state) {
    state.PauseTiming();
    mm_struct child(*w.m);
    dup_mmap(e, child, *w.mm);
    state.ResumeTiming();
    if (pin_user_pages_fast(e, *w.mm, 3, 1, 0, &p) == 1) unpin_user_page(e, p);
    state.PauseTiming();
    exit_mmap(e, child);
    state.ResumeTiming();
  }
  teardown(state);
}
BENCHMARK(BM_GupSlow_RoPin_Unshare);

// Thread 0 keeps swapping the page out; the others pin and unpin it (GUP-fast,
// slow GUP when it is swapped: swap-in).
void BM_GupFast_PinUnpin_WithClearer(benchmark::State &state) {
  pin_guard pg(state);
  world &w = setup(state, 8);
  env_t e = w.env(static_cast<unsigned>(state.thread_index()));
  page *p;
  for (auto _ : state) {
    if (state.thread_index() == 0 && state.threads() > 1) {
      const pte_t pte{pte_table_of<env_t>(*w.mm, 3)->pte[3].load(std::memory_order_acquire)};
      if (pte_present(pte)) shrink_page(e, e.pfn_to_page(pte_pfn(pte)));
    } else if (pin_user_pages_fast(e, *w.mm, 3, 1, FOLL_WRITE, &p) == 1) {
      unpin_user_page(e, p);
    }
  }
  teardown(state);
}
BENCHMARK(BM_GupFast_PinUnpin_WithClearer)->ThreadRange(2, max_threads())->UseRealTime();

}  // namespace
}  // namespace anonx::bench
