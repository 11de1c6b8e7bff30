// SPDX-License-Identifier: GPL-2.0-only
// cpu_test.cc: the IRQ-off sections and the IPI wait of core/cpu.h
// (GUP-fast's local_irq_disable against a TLB-flush IPI or a page-table
// free): wait_for_sections never returns while a section that began before
// it is still open, and sections that begin after it started do not hold it.
#include "cpu.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "test_util.h"
#include "time_scale.h"

namespace anonx {
namespace {

using namespace std::chrono_literals;

// CPU 0 opens a section, then sleeps inside it; CPU 1 waits for it. The
// `done` word is plain: only the section's close (release) and the
// waiter's acquire make CPU 1's read race-free, which ThreadSanitizer checks.
TEST(CpuSections, WaitsForOpenSection) {
  for (int round = 0; round < 5; round++) {
    cpu_sections cpus(4);
    std::atomic<bool> opened{false};
    bool done = false;
    std::thread section([&] {
      cpus.local_irq_disable(0);
      opened.store(true, std::memory_order_release);
      std::this_thread::sleep_for(20ms);
      done = true;
      cpus.local_irq_enable(0);
    });
    while (!opened.load(std::memory_order_acquire)) std::this_thread::yield();
    EXPECT_TRUE(cpus.in_section(0));
    cpus.wait_for_sections(1);
    EXPECT_TRUE(done) << "round " << round << ": the IPI returned inside an open section";
    EXPECT_FALSE(cpus.in_section(0));
    section.join();
  }
}

// With nothing open, and for the caller's own section (a CPU does not IPI
// itself), the wait returns at once.
TEST(CpuSections, NoWaitForIdleOrSelf) {
  cpu_sections cpus(3);
  EXPECT_EQ(cpus.nr_cpus(), 3u);
  for (unsigned c = 0; c < 3; c++) EXPECT_FALSE(cpus.in_section(c));
  cpus.wait_for_sections(0);
  cpus.local_irq_disable(2);
  EXPECT_TRUE(cpus.in_section(2));
  EXPECT_FALSE(cpus.in_section(1));
  cpus.wait_for_sections(2);  // self: skipped
  cpus.local_irq_enable(2);
  EXPECT_FALSE(cpus.in_section(2));
  // Closed sections leave nothing behind.
  for (int i = 0; i < 1000; i++) {
    cpus.local_irq_disable(1);
    cpus.local_irq_enable(1);
  }
  cpus.wait_for_sections(0);
  SUCCEED();
}

// CPU 0's section S1 is open when CPU 1 starts waiting; S1 closes and S2
// opens at once and stays open. The wait must return while S2 is still
// open: S2 began after the IPI, so it has seen the page-table write.
TEST(CpuSections, LaterSectionDoesNotBlock) {
  cpu_sections cpus(2);
  std::atomic<int> stage{0};  // 1: S1 open, 2: waiter about to wait, 3: waiter returned
  std::thread section([&] {
    cpus.local_irq_disable(0);  // S1
    stage.store(1);
    while (stage.load() < 2) std::this_thread::yield();
    std::this_thread::sleep_for(50ms);  // the waiter is now spinning on S1
    cpus.local_irq_enable(0);
    cpus.local_irq_disable(0);  // S2, begins after the wait started
    const auto deadline = std::chrono::steady_clock::now() + testing::scaled(10s);
    while (stage.load() < 3 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    cpus.local_irq_enable(0);
  });
  while (stage.load() < 1) std::this_thread::yield();
  stage.store(2);
  cpus.wait_for_sections(1);
  const bool s2_open = cpus.in_section(0);
  stage.store(3);
  section.join();
  EXPECT_TRUE(s2_open) << "the wait was held by a section that began after it";
}

// A CPU that opens and closes sections back to back never starves the
// waiter: many waits all finish (bounded by a watchdog).
TEST(CpuSections, WaitsFinishUnderChurn) {
  cpu_sections cpus(2);
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      cpus.local_irq_disable(0);
      cpus.local_irq_enable(0);
    }
  });
  auto waits = std::async(std::launch::async, [&] {
    for (int i = 0; i < 20000; i++) cpus.wait_for_sections(1);
    return true;
  });
  const bool finished = waits.wait_for(testing::scaled(20s)) == std::future_status::ready;
  stop.store(true);
  churn.join();
  ASSERT_TRUE(finished) << "wait_for_sections did not return under section churn";
  EXPECT_TRUE(waits.get());
}

}  // namespace
}  // namespace anonx
