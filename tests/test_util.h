// SPDX-License-Identifier: GPL-2.0-only
// test_util.h: helpers shared by the core unit tests: a seeded PRNG whose
// seed is printed with every failure, and a fixture that routes violation
// reports (VM_BUG_ON) to a sink of the test's own so counts can be asserted.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include "violation.h"

namespace anonx::testing {

// The seed of a randomised test: ANONX_TEST_SEED if set (to replay a
// failure), else a fixed default so CI runs are reproducible.
inline uint64_t test_seed(uint64_t fallback = 0x5eed'a11c'e5u) {
  if (const char *s = std::getenv("ANONX_TEST_SEED")) return std::strtoull(s, nullptr, 0);
  return fallback;
}

inline std::string seed_trace(uint64_t seed) {
  return "seed=" + std::to_string(seed) + " (rerun with ANONX_TEST_SEED=" + std::to_string(seed) +
         ")";
}

// Every report of the test goes to sink; TearDown restores the default.
class SinkTest : public ::testing::Test {
 protected:
  void SetUp() override { this_cpu_report().sink = &sink; }
  void TearDown() override { this_cpu_report().sink = nullptr; }
  uint64_t count(const char *check) const { return sink.count(std::string("VM_BUG_ON:") + check); }
  violation_sink sink;
};

// Makes two threads start their loops together, so they overlap even on a
// loaded machine where one could finish before the other is scheduled.
class start_gate {
 public:
  void arrive_and_wait(int n = 2) {
    arrived_.fetch_add(1);
    while (arrived_.load() < n) std::this_thread::yield();
  }

 private:
  std::atomic<int> arrived_{0};
};

}  // namespace anonx::testing
