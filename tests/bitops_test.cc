// SPDX-License-Identifier: GPL-2.0-only
// bitops_test.cc: every bitop of core/bitops.h against a plain sequential
// model (the Concurrency Kit habit): random 2-word bitmaps, random bit
// numbers across both words, comparing the returned bit and both resulting
// words. Plus two concurrent checks: atomic RMWs never lose an update, and
// test_and_set_bit_lock/clear_bit_unlock form a lock (acquire/release).
#include "bitops.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <random>
#include <thread>

#include "test_util.h"

namespace anonx {
namespace {

constexpr int kIterations = 20000;
constexpr unsigned kBitmapBits = 2 * kBitsPerLong;

// The sequential model of one bitop: mutates words[] and returns the bit's
// old value (or, for ops returning nothing, false).
using model_fn = bool (*)(unsigned nr, unsigned long *words);
// The operation under test on the atomic bitmap; returns what it returns.
using op_fn = bool (*)(unsigned nr, std::atomic<unsigned long> *words);

bool model_old(unsigned nr, const unsigned long *w) {
  return (w[nr / kBitsPerLong] >> (nr % kBitsPerLong)) & 1;
}

// Runs op and model side by side over random words and bit numbers.
void check_against_model(op_fn op, model_fn model, bool returns_value) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kIterations; i++) {
    unsigned long plain[2] = {rng(), rng()};
    // Sparse and dense words too, so both bit values are well exercised.
    if (i % 4 == 1) plain[0] = plain[1] = 0;
    if (i % 4 == 2) plain[0] = plain[1] = ~0UL;
    std::atomic<unsigned long> words[2];
    words[0].store(plain[0]);
    words[1].store(plain[1]);
    const unsigned nr = static_cast<unsigned>(rng() % kBitmapBits);
    const bool got = op(nr, words);
    const bool want = model(nr, plain);
    if (returns_value) {
      ASSERT_EQ(got, want) << "iteration " << i << " nr " << nr;
    }
    ASSERT_EQ(words[0].load(), plain[0]) << "iteration " << i << " nr " << nr;
    ASSERT_EQ(words[1].load(), plain[1]) << "iteration " << i << " nr " << nr;
  }
}

bool m_set(unsigned nr, unsigned long *w) {
  const bool old = model_old(nr, w);
  w[nr / kBitsPerLong] |= 1UL << (nr % kBitsPerLong);
  return old;
}
bool m_clear(unsigned nr, unsigned long *w) {
  const bool old = model_old(nr, w);
  w[nr / kBitsPerLong] &= ~(1UL << (nr % kBitsPerLong));
  return old;
}
bool m_change(unsigned nr, unsigned long *w) {
  const bool old = model_old(nr, w);
  w[nr / kBitsPerLong] ^= 1UL << (nr % kBitsPerLong);
  return old;
}
bool m_test(unsigned nr, unsigned long *w) { return model_old(nr, w); }

TEST(Bitops, SetBit) {
  check_against_model(
      [](unsigned nr, std::atomic<unsigned long> *w) { return set_bit(nr, w), false; }, m_set,
      false);
}
TEST(Bitops, ClearBit) {
  check_against_model(
      [](unsigned nr, std::atomic<unsigned long> *w) { return clear_bit(nr, w), false; }, m_clear,
      false);
}
TEST(Bitops, ChangeBit) {
  check_against_model(
      [](unsigned nr, std::atomic<unsigned long> *w) { return change_bit(nr, w), false; }, m_change,
      false);
}
TEST(Bitops, TestBit) {
  check_against_model(
      [](unsigned nr, std::atomic<unsigned long> *w) {
        return test_bit(nr, static_cast<const std::atomic<unsigned long> *>(w));
      },
      m_test, true);
}
TEST(Bitops, TestAndSetBit) {
  check_against_model(
      [](unsigned nr, std::atomic<unsigned long> *w) { return test_and_set_bit(nr, w); }, m_set,
      true);
}
TEST(Bitops, TestAndClearBit) {
  check_against_model(
      [](unsigned nr, std::atomic<unsigned long> *w) { return test_and_clear_bit(nr, w); }, m_clear,
      true);
}
TEST(Bitops, TestAndChangeBit) {
  check_against_model(
      [](unsigned nr, std::atomic<unsigned long> *w) { return test_and_change_bit(nr, w); },
      m_change, true);
}
TEST(Bitops, NonAtomicSetBit) {
  check_against_model(
      [](unsigned nr, std::atomic<unsigned long> *w) { return __set_bit(nr, w), false; }, m_set,
      false);
}
TEST(Bitops, NonAtomicClearBit) {
  check_against_model(
      [](unsigned nr, std::atomic<unsigned long> *w) { return __clear_bit(nr, w), false; }, m_clear,
      false);
}
TEST(Bitops, TestAndSetBitLock) {
  check_against_model(
      [](unsigned nr, std::atomic<unsigned long> *w) { return test_and_set_bit_lock(nr, w); },
      m_set, true);
}
TEST(Bitops, ClearBitUnlock) {
  check_against_model(
      [](unsigned nr, std::atomic<unsigned long> *w) { return clear_bit_unlock(nr, w), false; },
      m_clear, false);
}

// Two CPUs set and clear their own disjoint bits of one shared word with the
// atomic RMWs: an RMW that is not atomic loses the other CPU's updates.
TEST(Bitops, ConcurrentRmwLosesNoUpdate) {
  std::atomic<unsigned long> word{0};
  constexpr int kRounds = 100000;
  testing::start_gate gate;
  auto cpu = [&word, &gate](unsigned base) {
    gate.arrive_and_wait();
    for (int i = 0; i < kRounds; i++) {
      const unsigned nr = base + static_cast<unsigned>(i % 32);
      set_bit(nr, &word);
      if (!test_and_clear_bit(nr, &word)) return false;   // our own bit vanished
      change_bit(nr, &word);                              // 0 -> 1
      if (!test_and_change_bit(nr, &word)) return false;  // 1 -> 0
    }
    return true;
  };
  bool ok0 = false, ok1 = false;
  std::thread t0([&] { ok0 = cpu(0); });
  std::thread t1([&] { ok1 = cpu(32); });
  t0.join();
  t1.join();
  EXPECT_TRUE(ok0);
  EXPECT_TRUE(ok1);
  EXPECT_EQ(word.load(), 0UL);
}

// test_and_set_bit_lock / clear_bit_unlock as a bit spinlock (trylock_page /
// unlock_page) guarding a plain counter in another word: the count ends
// exact, and under ThreadSanitizer the acquire/release pairing is checked.
TEST(Bitops, BitLockMutualExclusion) {
  std::atomic<unsigned long> flags{0};
  unsigned long counter = 0;  // plain: protected by bit PG_locked (0) of flags
  constexpr int kRounds = 100000;
  testing::start_gate gate;
  auto cpu = [&] {
    gate.arrive_and_wait();
    for (int i = 0; i < kRounds; i++) {
      while (test_and_set_bit_lock(0, &flags)) cpu_relax();
      counter = counter + 1;
      clear_bit_unlock(0, &flags);
    }
  };
  std::thread t0(cpu), t1(cpu);
  t0.join();
  t1.join();
  EXPECT_EQ(counter, 2UL * kRounds);
  EXPECT_FALSE(test_bit(0, &flags));
}

}  // namespace
}  // namespace anonx
