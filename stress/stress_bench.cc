// SPDX-License-Identifier: GPL-2.0-only
// stress_bench.cc: the stress harness's own costs, in anonx-bench-stress (a
// second benchmark executable, beside anonx-bench: it runs this back end's
// cells, built with the contention profile's hooks, which bench/ leaves
// out of core/).
//
//  BM_Lockstep/<scenario>/profile:{0,1}: one lockstep cell of the scenario
//    on v6.2 for a fixed number of iterations, the contention profile off
//    and on; items are iterations. Gate PROF: on over off (at least 0.95).
//  BM_Rendezvous_Bare: the lockstep runner's handshake alone (role 0
//    publishes "go", role 1 answers "done", no protocol work): the ceiling
//    a lockstep cell can reach. Gate S1: BM_Lockstep swapout_vs_gup_fast
//    (profile on, as runs are) over it (at least 0.35).
//  BM_Scale_*: throughput and contention against threads (below).
#include <benchmark/benchmark.h>
#include <pthread.h>

#include <thread>
#include <vector>

#include "stress.h"

namespace {

using namespace anonx;
using namespace anonx::stress;

constexpr uint64_t kIterations = 20000;

// Both timed pairs (a lockstep cell, the bare handshake) run on CPUs 0 and
// 1 where there are two: left to the scheduler, the two threads sometimes
// share a CPU and hand over by yielding, which moves a median by 5x.
std::vector<int> two_cpus() {
  return std::thread::hardware_concurrency() >= 2 ? std::vector<int>{0, 1} : std::vector<int>{};
}

// The cells timed, by their registry ids (harness/registry.h).
const scenario_id kScenarios[] = {scenario_id::swapout_vs_gup_fast, scenario_id::fork_vs_pin};

void BM_Lockstep(benchmark::State &state) {
  const char *name = name_of(kScenarios[state.range(0)]);
  cell_spec spec;
  spec.sc = find_scenario(name);
  if (!spec.sc) return state.SkipWithError("no such scenario");
  spec.proto.gen = generation::v6_2;
  spec.iterations = kIterations;
  spec.duration_s = 3600;  // the iterations end it
  spec.profile = state.range(1) != 0;
  spec.cpus = two_cpus();
  uint64_t iterations = 0;
  for (auto _ : state) {
    const cell_result r = run_cell(spec);
    iterations += r.iterations;
    state.SetIterationTime(r.elapsed_s);
    if (r.violation_count) state.SkipWithError("a violation on the correct protocol");
  }
  state.SetItemsProcessed(static_cast<int64_t>(iterations));
  state.SetLabel(name);
}
BENCHMARK(BM_Lockstep)
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->ArgNames({"scenario", "profile"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// The handshake of iteration_handshake, as the runner uses it between two
// threads, with nothing between a "go" and its "done".
void BM_Rendezvous_Bare(benchmark::State &state) {
  const unsigned spin_us = spin_budget_us(std::thread::hardware_concurrency(), 2);
  for (auto _ : state) {
    iteration_handshake hs(2, spin_us);
    const std::vector<int> cpus = two_cpus();
    cpu_set_t was;
    pthread_getaffinity_np(pthread_self(), sizeof was, &was);
    if (!cpus.empty()) pin_to_cpu(pthread_self(), cpus[0]);
    const auto t0 = std::chrono::steady_clock::now();
    std::thread other([&] {
      for (uint64_t it = 1; it <= kIterations; it++) {
        hs.wait_go(it);
        hs.done(1, it);
      }
    });
    if (!cpus.empty()) pin_to_cpu(other.native_handle(), cpus[1]);
    for (uint64_t it = 1; it <= kIterations; it++) {
      hs.go(it);
      hs.wait_done(it);
    }
    other.join();
    pthread_setaffinity_np(pthread_self(), sizeof was, &was);
    state.SetIterationTime(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kIterations));
}
BENCHMARK(BM_Rendezvous_Bare)->UseManualTime()->Unit(benchmark::kMillisecond);

// ---- scaling: throughput and contention against threads ----------------
// will-it-scale's shape: every thread runs one path on the same machine and
// mm, at 1, 2, 4, ... threads up to the CPUs, each thread with its own
// contention profile (its counters: wait_share, the share of the thread's
// time spent waiting for locks and flushes; cas_retries, the refcount's
// compare-exchange retries per operation). BM_Scale_<path>_<pages>:
//  GupFast_Private / GupFast_Shared: GUP-fast pin+unpin of the thread's own
//    page / of one page all threads share (the refcount's cache line);
//  PinSlow_Shared: slow GUP (pin_user_pages: mmap_lock, the PTE table
//    lock) of one shared page.

struct scale_world {
  std::unique_ptr<machine> m;
  std::unique_ptr<mm_struct> mm;
};
scale_world &world_of() {
  static scale_world w;
  return w;
}
constexpr unsigned long kScalePages = 64;

stress_env scale_env(unsigned cpu, cpu_stats *st) {
  stress_env e;
  e.proto.gen = generation::v6_2;
  e.m = world_of().m.get();
  e.cpu = cpu;
  e.stats = st;
  return e;
}

void scale_setup(const benchmark::State &state) {
  auto &w = world_of();
  w.m = std::make_unique<machine>(4096, 2, static_cast<unsigned>(state.threads()) + 1, 64);
  w.mm = std::make_unique<mm_struct>(*w.m);
  cpu_stats st;
  stress_env e = scale_env(static_cast<unsigned>(state.threads()), &st);
  mmap_region(e, *w.mm, 0, kScalePages, VM_READ | VM_WRITE);
  for (unsigned long a = 0; a < kScalePages; a++) {
    uint64_t v = a;
    cpu_access(e, *w.mm, a, 0, true, &v);
  }
}
void scale_teardown(const benchmark::State &state) {
  auto &w = world_of();
  cpu_stats st;
  stress_env e = scale_env(static_cast<unsigned>(state.threads()), &st);
  exit_mmap(e, *w.mm);
  w.mm.reset();
  w.m.reset();
}

template <bool Fast, bool Shared>
void BM_Scale(benchmark::State &state) {
  auto &w = world_of();
  cpu_stats st;
  lockstat prof;
  const unsigned cpu = static_cast<unsigned>(state.thread_index());
  stress_env e = scale_env(cpu, &st);
  const unsigned long addr = Shared ? 0 : cpu % kScalePages;
  set_this_cpu_lockstat(&prof);
  (void)lockstat_ns_per_tick();
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    page *pg = nullptr;
    const long n = Fast ? pin_user_pages_fast(e, *w.mm, addr, 1, FOLL_WRITE, &pg)
                        : pin_user_pages(e, *w.mm, addr, 1, FOLL_WRITE, &pg);
    if (n == 1) unpin_user_page(e, pg);
  }
  const double ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  set_this_cpu_lockstat(nullptr);
  state.counters["wait_share"] =
      benchmark::Counter(ns > 0 ? static_cast<double>(prof.contended_wait_ns()) / ns : 0.0,
                         benchmark::Counter::kAvgThreads);
  state.counters["cas_retries"] = benchmark::Counter(
      static_cast<double>(prof.words[static_cast<unsigned>(word_kind::refcount)].retries),
      benchmark::Counter::kAvgIterations);
}

int max_threads() {
  const int n = static_cast<int>(std::thread::hardware_concurrency());
  return n < 2 ? 2 : n;
}

#define ANONX_SCALE(name, fast, shared)                                 \
  void name(benchmark::State &state) { BM_Scale<fast, shared>(state); } \
  BENCHMARK(name)                                                       \
      ->Setup(scale_setup)                                              \
      ->Teardown(scale_teardown)                                        \
      ->ThreadRange(1, max_threads())                                   \
      ->UseRealTime()
ANONX_SCALE(BM_Scale_GupFast_Private, true, false);
ANONX_SCALE(BM_Scale_GupFast_Shared, true, true);
ANONX_SCALE(BM_Scale_PinSlow_Shared, false, true);

}  // namespace

BENCHMARK_MAIN();
