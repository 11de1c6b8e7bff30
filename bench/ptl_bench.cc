// SPDX-License-Identifier: GPL-2.0-only
// ptl_bench.cc: every lock of core/ptl.h, lock + one update of the data it
// protects + unlock, on one lock shared by 1, 2, 4, 8 threads (1 thread =
// uncontended; gate P8: the configured PTL / one locked RMW
// (BM_FetchOr_Padded) <= 2.5). mmap_lock (rw_semaphore) read and write.
// Compared with the hand-off floor: BM_PingPong_*, one line passed back and
// forth between two threads, where real_time is one one-way transfer (half a
// round trip). A fair lock (ticket, MCS) cannot hand off faster than that
// (P9); an unfair one (TTAS) appears to, by re-acquiring.
#include <atomic>

#include "bench_util.h"
#include "ptl.h"

namespace anonx::bench {
namespace {

template <class L>
struct alignas(kNoFalseSharing) locked_counter {
  L lock;
  unsigned long data GUARDED_BY(lock) = 0;
};

// A FIFO spinlock (ticket, MCS) with more spinning threads than CPUs hands
// the lock to waiters that are not running: every hand-off waits for the
// scheduler, which the kernel prevents by spinning with preemption off. Such
// a run measures time slices, not the lock, and can take minutes: skipped.
template <class L, bool Fifo>
void run_lock(benchmark::State &state) {
  static locked_counter<L> obj;
  pin_guard pin(state);
  if (Fifo && static_cast<size_t>(state.threads()) > allowed_cpus().size()) {
    state.SkipWithError("FIFO spinlock with more threads than CPUs (scheduler-bound)");
    return;
  }
  for (auto _ : state) {
    lock_guard<L> g(obj.lock);
    obj.data++;
  }
}

void BM_Ptl_Ttas(benchmark::State &s) { run_lock<ttas_lock, false>(s); }
void BM_Ptl_Ticket(benchmark::State &s) { run_lock<ticket_lock, true>(s); }
void BM_Ptl_TbbSpin(benchmark::State &s) { run_lock<tbb_spin_lock, false>(s); }
void BM_Ptl_TbbQueuing(benchmark::State &s) { run_lock<tbb_queuing_lock, true>(s); }
void BM_Ptl_StdMutex(benchmark::State &s) { run_lock<std_mutex_lock, false>(s); }
ANONX_CONTENDED(BM_Ptl_Ttas);
ANONX_CONTENDED(BM_Ptl_Ticket);
ANONX_CONTENDED(BM_Ptl_TbbSpin);
ANONX_CONTENDED(BM_Ptl_TbbQueuing);
ANONX_CONTENDED(BM_Ptl_StdMutex);

struct alignas(kNoFalseSharing) mmap_locked {
  rw_semaphore sem;
  unsigned long data GUARDED_BY(sem) = 0;
};
mmap_locked g_mmap;  // the measured object

void BM_MmapLock_Read(benchmark::State &state) {
  pin_guard pin(state);
  for (auto _ : state) {
    mmap_read_guard g(g_mmap.sem);
    benchmark::DoNotOptimize(g_mmap.data);
  }
}
ANONX_CONTENDED(BM_MmapLock_Read);

void BM_MmapLock_Write(benchmark::State &state) {
  pin_guard pin(state);
  for (auto _ : state) {
    mmap_write_guard g(g_mmap.sem);
    g_mmap.data++;
  }
}
ANONX_CONTENDED(BM_MmapLock_Write);

// Thread t (0 or 1) owns the line when its counter's parity is t; it
// increments it, passing the line to the other. Both threads run the same
// number of iterations, so the count stays even between runs.
template <bool Pause>
void run_ping_pong(benchmark::State &state) {
  static padded<std::atomic<unsigned long>> line;
  pin_guard pin(state);
  if (state.threads() != 2 || allowed_cpus().size() < 2) {
    state.SkipWithError("ping-pong needs exactly 2 threads on 2 CPUs");
    return;
  }
  const unsigned long me = static_cast<unsigned long>(state.thread_index());
  for (auto _ : state) {
    unsigned long v;
    while (((v = line.v.load(std::memory_order_acquire)) & 1) != me)
      if (Pause) cpu_relax();
    line.v.store(v + 1, std::memory_order_release);
  }
}
void BM_PingPong_Pause(benchmark::State &s) { run_ping_pong<true>(s); }
void BM_PingPong_NoPause(benchmark::State &s) { run_ping_pong<false>(s); }
BENCHMARK(BM_PingPong_Pause)->Threads(2)->UseRealTime();
BENCHMARK(BM_PingPong_NoPause)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace anonx::bench
