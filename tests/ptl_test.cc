// SPDX-License-Identifier: GPL-2.0-only
// ptl_test.cc: every lock of core/ptl.h (the selectable PTL implementations
// and the rw_semaphore of mmap_lock) is mutually exclusive: two CPUs
// increment a plain counter inside the lock and it ends exact. Under
// ThreadSanitizer the lock's acquire/release is what orders the plain
// accesses, so a broken lock is also reported as a data race.
#include "ptl.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "test_util.h"

namespace anonx {
namespace {

// Under ThreadSanitizer every access is checked for happens-before, so a
// broken lock shows as a reported race within a few rounds; fewer rounds keep
// the FIFO ticket lock (a handoff per acquisition, ~100x slower under TSan
// on two loaded cores) within the test timeout.
#if defined(ANONX_TSAN)
constexpr int kRounds = 20000;
#else
constexpr int kRounds = 200000;
#endif

// Two threads x kRounds increments of a plain counter under L. The critical
// section is a read, a short spin, then the write, so a lock that lets both
// in loses increments; `owner`, checked on entry, catches an overlap even
// when the increments happen not to collide.
template <class L>
void expect_mutual_exclusion() {
  L lock;
  unsigned long counter = 0;
  int owner = -1;
  std::atomic<bool> overlap{false};
  testing::start_gate gate;
  auto cpu = [&](int id) {
    gate.arrive_and_wait();
    for (int i = 0; i < kRounds; i++) {
      lock.lock();
      if (owner != -1) overlap.store(true, std::memory_order_relaxed);
      owner = id;
      const unsigned long c = counter;
      for (int k = 0; k < 4; k++) cpu_relax();
      counter = c + 1;
      owner = -1;
      lock.unlock();
    }
  };
  std::thread t0(cpu, 0), t1(cpu, 1);
  t0.join();
  t1.join();
  EXPECT_EQ(counter, 2UL * kRounds);
  EXPECT_FALSE(overlap.load());
}

// try_lock fails while the lock is held (by another thread) and succeeds
// once it is released.
template <class L>
void expect_try_lock() {
  L lock;
  if (!lock.try_lock()) {
    ADD_FAILURE() << "try_lock of a free lock failed";
    return;
  }
  // Whether another thread's try_lock succeeds (it unlocks again if so).
  auto try_elsewhere = [&] {
    bool got = false;
    std::thread([&] {
      if (lock.try_lock()) {  // the form the thread-safety analysis follows
        got = true;
        lock.unlock();
      }
    }).join();
    return got;
  };
  EXPECT_FALSE(try_elsewhere());
  lock.unlock();
  EXPECT_TRUE(try_elsewhere());
}

TEST(Ptl, TtasMutualExclusion) { expect_mutual_exclusion<ttas_lock>(); }
TEST(Ptl, TicketMutualExclusion) { expect_mutual_exclusion<ticket_lock>(); }
TEST(Ptl, TbbSpinMutualExclusion) { expect_mutual_exclusion<tbb_spin_lock>(); }
TEST(Ptl, TbbQueuingMutualExclusion) { expect_mutual_exclusion<tbb_queuing_lock>(); }
TEST(Ptl, StdMutexMutualExclusion) { expect_mutual_exclusion<std_mutex_lock>(); }

TEST(Ptl, TryLock) {
  {
    SCOPED_TRACE("ttas");
    expect_try_lock<ttas_lock>();
  }
  {
    SCOPED_TRACE("ticket");
    expect_try_lock<ticket_lock>();
  }
  {
    SCOPED_TRACE("tbb_spin");
    expect_try_lock<tbb_spin_lock>();
  }
  {
    SCOPED_TRACE("tbb_queuing");
    expect_try_lock<tbb_queuing_lock>();
  }
  {
    SCOPED_TRACE("std_mutex");
    expect_try_lock<std_mutex_lock>();
  }
  ttas_lock t;
  ticket_lock k;
  EXPECT_FALSE(t.is_locked());
  EXPECT_FALSE(k.is_locked());
  t.lock();
  k.lock();
  EXPECT_TRUE(t.is_locked());
  EXPECT_TRUE(k.is_locked());
  t.unlock();
  k.unlock();
  EXPECT_FALSE(t.is_locked());
  EXPECT_FALSE(k.is_locked());
}

// fork nests the child's and the parent's PTLs: two queuing locks held at
// once by one thread, released in either order, each still exclusive.
TEST(Ptl, TbbQueuingNested) {
  tbb_queuing_lock a, b;
  unsigned long counter = 0;
  testing::start_gate gate;
  auto cpu = [&](bool reverse_unlock) {
    gate.arrive_and_wait();
    for (int i = 0; i < kRounds / 4; i++) {
      a.lock();
      b.lock();
      counter = counter + 1;
      if (reverse_unlock) {
        a.unlock();
        b.unlock();
      } else {
        b.unlock();
        a.unlock();
      }
    }
  };
  std::thread t0(cpu, false), t1(cpu, true);
  t0.join();
  t1.join();
  EXPECT_EQ(counter, 2UL * (kRounds / 4));
}

// The PTL selected at build time (-Dptl=) is one of the tested ones.
TEST(Ptl, SelectedPtl) {
  expect_mutual_exclusion<ptl_t>();
  spinlock_t zone;
  {
    lock_guard<spinlock_t> g(zone);
    EXPECT_TRUE(zone.is_locked());
  }
  EXPECT_FALSE(zone.is_locked());
}

// mmap_lock: writers exclude each other.
TEST(RwSemaphore, WritersExclusive) {
  rw_semaphore sem;
  unsigned long counter = 0;
  testing::start_gate gate;
  auto cpu = [&] {
    gate.arrive_and_wait();
    for (int i = 0; i < kRounds; i++) {
      mmap_write_guard g(sem);
      counter = counter + 1;
    }
  };
  std::thread t0(cpu), t1(cpu);
  t0.join();
  t1.join();
  EXPECT_EQ(counter, 2UL * kRounds);
}

// mmap_lock: readers never see a writer's half-done update, and readers
// run together (both hold the lock at once at some point).
TEST(RwSemaphore, ReadersExcludeWriter) {
  rw_semaphore sem;
  unsigned long a = 0, b = 0;  // the writer keeps a == b
  std::atomic<bool> torn{false}, stop{false};
  std::thread writer([&] {
    for (int i = 0; i < kRounds / 2; i++) {
      sem.down_write();
      a = a + 1;
      b = b + 1;
      sem.up_write();
    }
    stop.store(true);
  });
  std::thread reader([&] {
    while (!stop.load()) {
      mmap_read_guard g(sem);
      if (a != b) torn.store(true);
    }
  });
  writer.join();
  reader.join();
  EXPECT_FALSE(torn.load());
  EXPECT_EQ(a, static_cast<unsigned long>(kRounds / 2));
  // Shared holders coexist: a second reader gets in while one holds it.
  sem.down_read();
  bool entered = false;
  std::thread([&] {
    sem.down_read();
    entered = true;
    sem.up_read();
  }).join();
  sem.up_read();
  EXPECT_TRUE(entered);
}

}  // namespace
}  // namespace anonx
