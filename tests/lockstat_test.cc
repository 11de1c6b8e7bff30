// SPDX-License-Identifier: GPL-2.0-only
// lockstat_test.cc: the contention profile (core/lockstat.h) sees what
// happened. A CPU that holds one PTE table's lock for a long time while
// another's slow GUP needs it: the profile names the lock class (ptl), a
// wait at least as long as the holder kept the lock after the waiter
// started, the waiting model function (follow_page_pte) and the hold; the
// same paths on one CPU alone: acquisitions and no contention at all. And
// with no profile on the CPU nothing is recorded.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "model_rig.h"

namespace anonx {
namespace {

using namespace std::chrono_literals;
using testing::model_rig;

constexpr unsigned kRW = VM_READ | VM_WRITE;

const lock_class_stats &cls(const lockstat &p, lock_class c) {
  return p.locks[static_cast<unsigned>(c)];
}

// The table of the PTE that maps addr.
basic_pte_table<> &table_at(mm_struct &mm, unsigned long addr) {
  return mm.table_of(pmd_t{mm.pmd_offset(addr)->load()});
}

TEST(Lockstat, LongHoldOfAPteTableLockIsNamedWithItsWaiter) {
  model_rig r(generation::v6_2, mutant::none);
  mm_struct mm(r.m);
  mmap_region(r.env, mm, 0, 16, kRW);
  uint64_t v = 7;
  ASSERT_TRUE(cpu_access(r.env, mm, 3, 0, true, &v));
  auto &t = table_at(mm, 3);

  // The holder (CPU 1) keeps the lock kHold after the waiter is about to
  // take it; the waiter (CPU 0, slow GUP) then finds it held.
  constexpr auto kHold = 30ms;
  lockstat holder_prof, waiter_prof;
  std::atomic<int> stage{0};  // 1: lock held, 2: the waiter is about to ask
  std::thread holder([&] {
    set_this_cpu_lockstat(&holder_prof);
    {
      lock_guard<ptl_t> g(t.ptl);
      stage.store(1);
      while (stage.load() < 2) std::this_thread::yield();
      std::this_thread::sleep_for(kHold);
    }
    set_this_cpu_lockstat(nullptr);
  });
  while (stage.load() < 1) std::this_thread::yield();
  set_this_cpu_lockstat(&waiter_prof);
  page *pg = nullptr;
  stage.store(2);
  const long n = get_user_pages(r.env, mm, 3, 1, 0, &pg);
  set_this_cpu_lockstat(nullptr);
  holder.join();
  ASSERT_EQ(n, 1);
  put_user_page(r.env, pg);

  const auto &w = cls(waiter_prof, lock_class::ptl);
  EXPECT_EQ(w.contentions, 1u);
  EXPECT_GE(w.acquisitions, 1u);
  EXPECT_GE(w.wait.max_ns, static_cast<uint64_t>(std::chrono::nanoseconds(kHold).count()))
      << "the wait covers at least the hold after the waiter asked";
  ASSERT_NE(w.sites[0].fn, nullptr);
  EXPECT_EQ(site_name(w.sites[0].fn), "follow_page_pte");
  EXPECT_EQ(w.sites[0].contentions, 1u);
  EXPECT_EQ(w.sites[1].fn, nullptr) << "one waiting site";
  // The other classes the slow GUP took (mmap_lock) did not contend.
  for (unsigned c = 0; c < kNrLockClasses; c++) {
    if (c != static_cast<unsigned>(lock_class::ptl)) {
      EXPECT_EQ(waiter_prof.locks[c].contentions, 0u) << kLockClasses[c].id;
    }
  }
  EXPECT_GE(cls(waiter_prof, lock_class::mmap_lock).acquisitions, 1u);
  // The holder's side: one acquisition, held at least as long.
  const auto &h = cls(holder_prof, lock_class::ptl);
  EXPECT_EQ(h.acquisitions, 1u);
  EXPECT_EQ(h.contentions, 0u);
  EXPECT_GE(h.hold.max_ns, static_cast<uint64_t>(std::chrono::nanoseconds(kHold).count()));
  exit_mmap(r.env, mm);
}

// One CPU alone runs faults, a fork, pins and unpins, a swap-out: every lock
// it takes is free, so the profile counts acquisitions and holds and no
// contention, no flush wait.
TEST(Lockstat, PathsOnOneCpuShowNoContention) {
  model_rig r(generation::v6_2, mutant::none);
  lockstat prof;
  set_this_cpu_lockstat(&prof);
  mm_struct mm(r.m), child(r.m);
  mmap_region(r.env, mm, 0, 16, kRW);
  for (unsigned long a = 0; a < 16; a++) {
    uint64_t v = a;
    ASSERT_TRUE(cpu_access(r.env, mm, a, 0, true, &v));
  }
  page *pg = nullptr;
  ASSERT_EQ(pin_user_pages_fast(r.env, mm, 2, 1, FOLL_WRITE | FOLL_LONGTERM, &pg), 1);
  ASSERT_EQ(dup_mmap(r.env, child, mm), 0);
  unpin_user_page(r.env, pg);
  uint64_t v = 9;
  ASSERT_TRUE(cpu_access(r.env, child, 5, 0, true, &v));  // a COW fault in the child
  exit_mmap(r.env, child);
  exit_mmap(r.env, mm);
  set_this_cpu_lockstat(nullptr);

  uint64_t acq = 0;
  for (unsigned c = 0; c < kNrLockClasses; c++) {
    EXPECT_EQ(prof.locks[c].contentions, 0u) << kLockClasses[c].id;
    EXPECT_EQ(prof.locks[c].wait.n, 0u) << kLockClasses[c].id;
    // Holds sampled: one in kHoldSampleEvery, the first included.
    EXPECT_EQ(prof.locks[c].hold.n,
              (prof.locks[c].acquisitions + kHoldSampleEvery - 1) / kHoldSampleEvery)
        << kLockClasses[c].id;
    acq += prof.locks[c].acquisitions;
  }
  EXPECT_GT(cls(prof, lock_class::ptl).acquisitions, 0u);
  EXPECT_GT(cls(prof, lock_class::mmap_lock).acquisitions, 0u);
  EXPECT_GT(acq, 20u);
  EXPECT_EQ(prof.flushes_waited, 0u);
  EXPECT_EQ(prof.flush_wait.n, 0u);
  EXPECT_GT(prof.words[static_cast<unsigned>(word_kind::refcount)].rmw, 0u);
  EXPECT_GT(prof.words[static_cast<unsigned>(word_kind::flags)].rmw, 0u);
  EXPECT_EQ(prof.nr_held_, 0u) << "every lock taken was released";
}

// A profile that was set and then taken off the CPU: the same paths record
// nothing in it.
TEST(Lockstat, OffRecordsNothing) {
  model_rig r(generation::v6_2, mutant::none);
  lockstat prof;
  set_this_cpu_lockstat(&prof);
  set_this_cpu_lockstat(nullptr);
  EXPECT_EQ(this_cpu_lockstat(), nullptr);
  mm_struct mm(r.m);
  mmap_region(r.env, mm, 0, 16, kRW);
  uint64_t v = 1;
  ASSERT_TRUE(cpu_access(r.env, mm, 1, 0, true, &v));
  page *pg = nullptr;
  ASSERT_EQ(get_user_pages(r.env, mm, 1, 1, 0, &pg), 1);
  put_user_page(r.env, pg);
  exit_mmap(r.env, mm);
  for (unsigned c = 0; c < kNrLockClasses; c++)
    EXPECT_EQ(prof.locks[c].acquisitions, 0u) << kLockClasses[c].id;
  for (unsigned w = 0; w < kNrWordKinds; w++) EXPECT_EQ(prof.words[w].rmw, 0u) << kWordKindNames[w];
  EXPECT_EQ(prof.flushes, 0u);
}

// Histograms: log2 buckets of nanoseconds, min / max / total; two add up.
TEST(Lockstat, HistogramBucketsAndMerge) {
  time_hist a, b;
  a.record(1);
  a.record(1000);  // [512, 1024): bucket 9
  b.record(1024);  // bucket 10
  EXPECT_EQ(a.bucket[0], 1u);
  EXPECT_EQ(a.bucket[9], 1u);
  EXPECT_EQ(b.bucket[10], 1u);
  a.add(b);
  EXPECT_EQ(a.n, 3u);
  EXPECT_EQ(a.total_ns, 2025u);
  EXPECT_EQ(a.min_ns, 1u);
  EXPECT_EQ(a.max_ns, 1024u);
  lock_class_stats x, y;
  x.contended_at("copy_pte_range", 10);
  y.contended_at("copy_pte_range", 5);
  y.contended_at("zap_pte_range", 7);
  x.add(y);
  EXPECT_STREQ(x.sites[0].fn, "copy_pte_range");
  EXPECT_EQ(x.sites[0].contentions, 2u);
  EXPECT_EQ(x.sites[0].wait_ns, 15u);
  EXPECT_STREQ(x.sites[1].fn, "zap_pte_range");
}

// The lockup detector (core/compiler.h): a wait past ANONX_STALL_S ends
// the process with one line naming what stalled. A PT lock taken twice by
// one CPU (a deleted unlock) names the lock class, the waiter and the
// function that took it; a flush waiting on a CPU that never re-enabled
// IRQs names the flush.
void take_twice() {
  ::setenv("ANONX_STALL_S", "0.2", 1);
  ptl_t ptl{lock_class::ptl};
  ptl.lock();
  ptl.lock();  // never returns
}
TEST(Stall, APtlNeverReleasedIsNamedWithItsHolder) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(take_twice(), ::testing::ExitedWithCode(1),
              "anonx: stall: lock ptl wanted by take_twice, taken last by take_twice, waited");
}
void flush_past_irq_off() {
  ::setenv("ANONX_STALL_S", "0.2", 1);
  cpu_sections cpus(2);
  cpus.local_irq_disable(1);  // CPU 1's section never ends
  cpus.wait_for_sections(0);  // never returns
}
TEST(Stall, AFlushWaitingOnIrqsOffIsNamed) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(flush_past_irq_off(), ::testing::ExitedWithCode(1),
              "anonx: stall: the flush IPI: a CPU's IRQ-off section never ended");
}
// And a wait that ends within the bound is no stall: a holder that keeps
// the lock for a fifth of ANONX_STALL_S, its waiter yielding meanwhile.
TEST(Stall, AWaitThatEndsIsNoStall) {
  ::setenv("ANONX_STALL_S", "0.5", 1);
  ptl_t ptl{lock_class::ptl};
  ptl.lock();
  std::atomic<bool> got{false};
  std::thread t([&] {
    ptl.lock();
    got = true;
    ptl.unlock();
  });
  std::this_thread::sleep_for(100ms);
  ptl.unlock();
  t.join();
  ::unsetenv("ANONX_STALL_S");
  EXPECT_TRUE(got);
}

}  // namespace
}  // namespace anonx
