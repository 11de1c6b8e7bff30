// SPDX-License-Identifier: GPL-2.0-only
// stress_bench.cc: the stress harness's own costs, in anonx-bench-stress (a
// second benchmark executable, beside anonx-bench: it runs this back end's
// cells, built with the contention profile's hooks, which bench/ leaves
// out of core/).
//
//  BM_Lockstep/<scenario>/profile:{0,1}: one lockstep cell of the scenario
//    on v6.2 for a fixed number of iterations, the contention profile off
//    and on; items are iterations (absolute rates, for the record).
//  BM_Rendezvous_Bare: the lockstep runner's handshake alone (role 0
//    publishes "go", role 1 answers "done", no protocol work): the ceiling
//    a lockstep cell can reach.
//  BM_Paired_*: the gated ratios, each measured inside one benchmark
//    iteration from alternating runs of its two sides (below): counter
//    "ratio". Gate PROF: profile on over off, lockstep and free mode (at
//    least 0.95). Gate S1: lockstep swapout_vs_gup_fast (profile on, as
//    runs are) over the bare rendezvous (at least 0.35).
//  BM_Scale_*: throughput and contention against threads (below).
#include <benchmark/benchmark.h>
#include <pthread.h>

#include <algorithm>
#include <string>
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

// A cell of scenario i on v6.2: lockstep for kIterations iterations on two
// CPUs, or free mode for kFreeSeconds.
constexpr double kFreeSeconds = 0.05;
cell_spec bench_cell(int64_t i, bool profile, mode md = mode::lockstep) {
  cell_spec spec;
  spec.sc = find_scenario(name_of(kScenarios[i]));
  spec.proto.gen = generation::v6_2;
  spec.md = md;
  spec.profile = profile;
  if (md == mode::lockstep) {
    spec.iterations = kIterations;
    spec.duration_s = 3600;  // the iterations end it
    spec.cpus = two_cpus();
  } else {
    spec.duration_s = kFreeSeconds;
  }
  return spec;
}

void BM_Lockstep(benchmark::State &state) {
  const char *name = name_of(kScenarios[state.range(0)]);
  const cell_spec spec = bench_cell(state.range(0), state.range(1) != 0);
  if (!spec.sc) return state.SkipWithError("no such scenario");
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
// threads, with nothing between a "go" and its "done": seconds for n.
double bare_rendezvous(uint64_t n) {
  const unsigned spin_us = spin_budget_us(std::thread::hardware_concurrency(), 2);
  iteration_handshake hs(2, spin_us);
  const std::vector<int> cpus = two_cpus();
  cpu_set_t was;
  pthread_getaffinity_np(pthread_self(), sizeof was, &was);
  if (!cpus.empty()) pin_to_cpu(pthread_self(), cpus[0]);
  const auto t0 = std::chrono::steady_clock::now();
  std::thread other([&] {
    for (uint64_t it = 1; it <= n; it++) {
      hs.wait_go(it);
      hs.done(1, it);
    }
  });
  if (!cpus.empty()) pin_to_cpu(other.native_handle(), cpus[1]);
  for (uint64_t it = 1; it <= n; it++) {
    hs.go(it);
    hs.wait_done(it);
  }
  other.join();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  pthread_setaffinity_np(pthread_self(), sizeof was, &was);
  return s;
}

void BM_Rendezvous_Bare(benchmark::State &state) {
  for (auto _ : state) state.SetIterationTime(bare_rendezvous(kIterations));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kIterations));
}
BENCHMARK(BM_Rendezvous_Bare)->UseManualTime()->Unit(benchmark::kMillisecond);

// ---- the gated ratios: two sides, alternating in one benchmark iteration --
// The speed of this machine's two vCPUs moves by 2 to 5x within minutes
// (the one-way line hand-off between them: 60 to 300 ns), so two sides
// measured in separate benchmarks, seconds apart, give a ratio that is
// mostly drift. Here the sides alternate in ABBA order, `rounds` runs
// each, and the ratio is of their summed rates: a drift that is linear over
// the iteration falls on both alike. Free mode takes more, shorter runs:
// its operations per second spread by +-25 % from one 0.1 s run to the next
// with nothing changed (how many of the pages reclaim finds mapped is a
// race of its own), where a lockstep cell's iterations spread by a few %.
constexpr unsigned kPairRounds = 4;
constexpr unsigned kPairRoundsFree = 12;

struct side {
  uint64_t items = 0;
  double seconds = 0;
  double rate() const { return seconds > 0 ? static_cast<double>(items) / seconds : 0; }
};

// a(), b(): one run each, {items, seconds}. Every benchmark iteration runs
// `rounds` of each in ABBA order; counter "ratio" is the median over the
// iterations of b's rate over a's.
template <class A, class B>
void run_pairs(benchmark::State &state, unsigned rounds, A &&a, B &&b) {
  std::vector<double> ratios;
  for (auto _ : state) {
    side sa, sb;
    auto add = [](side &s, std::pair<uint64_t, double> r) {
      s.items += r.first;
      s.seconds += r.second;
    };
    for (unsigned r = 0; r < 2 * rounds; r++) {
      if ((r % 4 == 0) || (r % 4 == 3))
        add(sa, a());
      else
        add(sb, b());
    }
    state.SetIterationTime(sa.seconds + sb.seconds);
    state.counters["side_a_per_s"] = sa.rate();
    state.counters["side_b_per_s"] = sb.rate();
    ratios.push_back(sa.rate() > 0 ? sb.rate() / sa.rate() : 0);
  }
  std::sort(ratios.begin(), ratios.end());
  state.counters["ratio"] = ratios.empty() ? 0 : ratios[ratios.size() / 2];
}

// One cell's {items, seconds}: lockstep iterations, free-mode operations;
// an error (a violation on the correct protocol) in *bad.
std::pair<uint64_t, double> cell_side(const cell_spec &spec, bool *bad) {
  const cell_result r = run_cell(spec);
  if (r.violation_count) *bad = true;
  return {spec.md == mode::lockstep ? r.iterations : r.ops, r.elapsed_s};
}

// PROF: the contention profile off (side a) and on (side b), one scenario,
// lockstep or free mode.
void BM_Paired_Profile(benchmark::State &state) {
  const mode md = state.range(1) ? mode::free : mode::lockstep;
  const cell_spec off = bench_cell(state.range(0), false, md);
  const cell_spec on = bench_cell(state.range(0), true, md);
  if (!off.sc) return state.SkipWithError("no such scenario");
  bool bad = false;
  run_pairs(
      state, md == mode::free ? kPairRoundsFree : kPairRounds, [&] { return cell_side(off, &bad); },
      [&] { return cell_side(on, &bad); });
  if (bad) return state.SkipWithError("a violation on the correct protocol");
  state.SetLabel(std::string(name_of(kScenarios[state.range(0)])) + " " + mode_name(md));
}
BENCHMARK(BM_Paired_Profile)
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->ArgNames({"scenario", "free"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// The lockstep runner with nothing to race: an instance whose set-up,
// steps, check and reset do nothing (no mm, so the audit walks no table).
// Its rate against the bare rendezvous is the runner's own ceiling (the
// preemption plans, the hooks' labels, the grading and the audit of an
// empty machine); what S1 loses beyond it is the scenario's work.
struct empty_instance final : lockstep_instance {
  void setup(actor &) override {}
  void step(actor &a) override { a.hooks.at("A1"); }
  outcome check(actor &) override { return {"ran"}; }
  void reset(actor &) override {}
};
const scenario kEmpty{"runner-only",
                      "the lockstep runner, no protocol work",
                      "a b",
                      "none",
                      2,
                      0,
                      false,
                      [](machine &) -> std::unique_ptr<lockstep_instance> {
                        return std::make_unique<empty_instance>();
                      }};

// S1: the bare rendezvous (side a) and a lockstep swapout_vs_gup_fast cell
// with the profile on (side b), kIterations each; range(0) 1: the empty
// instance above instead (information, no gate).
void BM_Paired_Ceiling(benchmark::State &state) {
  cell_spec cell = bench_cell(0, true);
  if (state.range(0)) cell.sc = &kEmpty;
  if (!cell.sc) return state.SkipWithError("no such scenario");
  bool bad = false;
  run_pairs(
      state, kPairRounds,
      [] {
        return std::pair<uint64_t, double>{kIterations, bare_rendezvous(kIterations)};
      },
      [&] { return cell_side(cell, &bad); });
  if (bad) return state.SkipWithError("a violation on the correct protocol");
  state.SetLabel(cell.sc->name);
}
BENCHMARK(BM_Paired_Ceiling)
    ->ArgName("runner_only")
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

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
// and BM_ScaleFree_* (below): fork against pins, swap-out against GUP-fast.

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

// The racing paths against each other, will-it-scale style: a free-mode
// cell of the scenario (stress/free.cc: the pin holders and the process on
// the first half of the threads, the racing path on the other half) at
// threads:N for kScaleSeconds. Items are the cell's operations, over all
// threads; wait_share, the share of the threads' time waiting for locks and
// flushes (the cell's profile).
//  ScaleFree_ForkVsPin: fork (dup_mmap, copy_pte_range) against GUP pins
//    and the process's writes;
//  ScaleFree_SwapoutVsGupFast: reclaim (shrink_page) against GUP-fast.
constexpr double kScaleSeconds = 0.1;
template <int Scenario>
void BM_ScaleFree(benchmark::State &state) {
  cell_spec spec = bench_cell(Scenario, true, mode::free);
  if (!spec.sc) return state.SkipWithError("no such scenario");
  spec.threads = static_cast<unsigned>(state.range(0));
  spec.duration_s = kScaleSeconds;
  uint64_t ops = 0;
  double wait = 0, seconds = 0;
  for (auto _ : state) {
    const cell_result r = run_cell(spec);
    if (r.violation_count) return state.SkipWithError("a violation on the correct protocol");
    ops += r.ops;
    seconds += r.elapsed_s;
    wait += static_cast<double>(r.profile.contended_wait_ns()) * 1e-9;
    state.SetIterationTime(r.elapsed_s);
  }
  state.SetItemsProcessed(static_cast<int64_t>(ops));
  state.counters["wait_share"] = seconds > 0 ? wait / (seconds * spec.threads) : 0.0;
  state.SetLabel(name_of(kScenarios[Scenario]));
}
void thread_counts(benchmark::internal::Benchmark *b) {
  for (int t = 1; t <= max_threads(); t *= 2) b->ArgName("threads")->Arg(t);
  if ((max_threads() & (max_threads() - 1)) != 0) b->Arg(max_threads());
}
#define ANONX_SCALE_FREE(name, scenario)                                \
  void name(benchmark::State &state) { BM_ScaleFree<scenario>(state); } \
  BENCHMARK(name)->Apply(thread_counts)->UseManualTime()->Unit(benchmark::kMillisecond)
ANONX_SCALE_FREE(BM_ScaleFree_SwapoutVsGupFast, 0);
ANONX_SCALE_FREE(BM_ScaleFree_ForkVsPin, 1);

}  // namespace

BENCHMARK_MAIN();
