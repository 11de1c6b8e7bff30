// SPDX-License-Identifier: GPL-2.0-only
// bench_util.h: what every anonx benchmark shares: thread pinning (thread i
// on the i-th CPU of the process's affinity mask, modulo their number), the
// thread counts of a contended benchmark, and padded per-thread slots.
//
// Reporting (Google Benchmark 1.7; bench/README.md): with
// ->UseRealTime() real_time is wall time / iterations summed over threads,
// i.e. the inverse of aggregate throughput; cpu_time is about the per-thread
// latency of one op.
#pragma once

#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "compiler.h"

namespace anonx::bench {

// Highest thread count of a contended benchmark: 8, or every CPU if more.
inline int max_threads() {
  return std::max(8, static_cast<int>(std::thread::hardware_concurrency()));
}

// Most threads any benchmark may run; sizes the per-thread slot arrays.
inline constexpr int kMaxSlots = 1024;

// The CPUs the process may run on, read once before any thread is pinned.
inline const std::vector<int> &allowed_cpus() {
  static const std::vector<int> cpus = [] {
    std::vector<int> v;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
      for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set)) v.push_back(c);
    if (v.empty()) v.push_back(0);
    return v;
  }();
  return cpus;
}

// Pins the calling benchmark thread to CPU thread_index % ncpu for the
// benchmark's lifetime and restores its previous mask on exit (thread 0 is
// Google Benchmark's main thread, which runs every later benchmark too).
class pin_guard {
 public:
  explicit pin_guard(const benchmark::State &state) {
    const std::vector<int> &cpus = allowed_cpus();
    saved_ok_ = pthread_getaffinity_np(pthread_self(), sizeof(saved_), &saved_) == 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpus[static_cast<size_t>(state.thread_index()) % cpus.size()], &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  }
  ~pin_guard() {
    if (saved_ok_) pthread_setaffinity_np(pthread_self(), sizeof(saved_), &saved_);
  }
  pin_guard(const pin_guard &) = delete;
  pin_guard &operator=(const pin_guard &) = delete;

 private:
  cpu_set_t saved_;
  bool saved_ok_ = false;
};

// One object per cache-line pair: written by one thread only.
template <class T>
struct alignas(kNoFalseSharing) padded {
  T v{};
};

}  // namespace anonx::bench

// A contended benchmark: 1, 2, 4, 8 (and up to every CPU) threads, wall-clock
// driven, so real_time is the inverse of aggregate throughput.
#define ANONX_CONTENDED(fn) \
  BENCHMARK(fn)->ThreadRange(1, ::anonx::bench::max_threads())->UseRealTime()
// A single-thread benchmark, reported the same way.
#define ANONX_SINGLE(fn) BENCHMARK(fn)->Threads(1)->UseRealTime()
