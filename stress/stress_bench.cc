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
#include <benchmark/benchmark.h>

#include <thread>

#include "stress.h"

namespace {

using namespace anonx;
using namespace anonx::stress;

constexpr uint64_t kIterations = 20000;

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
    const auto t0 = std::chrono::steady_clock::now();
    std::thread other([&] {
      for (uint64_t it = 1; it <= kIterations; it++) {
        hs.wait_go(it);
        hs.done(1, it);
      }
    });
    for (uint64_t it = 1; it <= kIterations; it++) {
      hs.go(it);
      hs.wait_done(it);
    }
    other.join();
    state.SetIterationTime(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kIterations));
}
BENCHMARK(BM_Rendezvous_Bare)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
