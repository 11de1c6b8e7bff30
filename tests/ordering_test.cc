// SPDX-License-Identifier: GPL-2.0-only
// ordering_test.cc: the model's ordering is never stronger than the
// kernel's (fidelity review, deviation 5). core/ runs here on a recording
// atomic (every store and exchange logs its address and memory order) and
// with ANONX_BARRIER_PROBE (every SMP barrier logs its kind), so a test can
// read off which orders and barriers a path issues, which x86 hardware
// cannot show.
#define ANONX_BARRIER_PROBE 1

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "anonx.h"

namespace {

struct event {
  const void *addr;  // nullptr: a barrier
  std::string what;  // "store", "exchange", or the barrier's kind
  std::memory_order order;
};
thread_local std::vector<event> g_log;

}  // namespace

namespace anonx {

void anonx_barrier_probe(const char *kind) {
  g_log.push_back({nullptr, kind, std::memory_order_seq_cst});
}

namespace {

template <class T>
struct rec_atomic : std::atomic<T> {
  using base = std::atomic<T>;
  using base::base;
  using base::operator=;
  rec_atomic() noexcept : base() {}
  void store(T v, std::memory_order o = std::memory_order_seq_cst) noexcept {
    g_log.push_back({this, "store", o});
    base::store(v, o);
  }
  T exchange(T v, std::memory_order o = std::memory_order_seq_cst) noexcept {
    g_log.push_back({this, "exchange", o});
    return base::exchange(v, o);
  }
};

struct nohooks : step_hooks {
  void at(const char *) override {}
};
using rec_env = basic_env<runtime_protocol, step_hooks, rec_atomic>;
using rec_machine = basic_machine<rec_atomic>;
using rec_mm = basic_mm<rec_atomic>;

struct world {
  explicit world(generation g = generation::v6_2) {
    env.m = &m;
    env.stats = &st;
    env.hooks = &h;
    env.proto.gen = g;
    this_cpu_report().sink = &sink;
  }
  ~world() { this_cpu_report().sink = nullptr; }
  rec_machine m{4096, 2, 2};
  cpu_stats st;
  nohooks h;
  rec_env env;
  violation_sink sink;
  rec_mm mm{m};
  bool write(rec_mm &x, unsigned long addr, uint64_t v) {
    return cpu_access(env, x, addr, 0, true, &v);
  }
  const void *pte_word(rec_mm &x, unsigned long addr) {
    auto *t = pte_table_of<rec_env>(x, addr);
    return t ? &t->pte[pte_index(addr)] : nullptr;
  }
};

// The index of the last store to addr in the log, or -1.
long last_store(const void *addr) {
  for (long i = static_cast<long>(g_log.size()) - 1; i >= 0; i--)
    if (g_log[i].addr == addr && g_log[i].what == "store") return i;
  return -1;
}

#if defined(ANONX_TSAN)
constexpr std::memory_order kExpectedPteOrder = std::memory_order_release;  // rmap.h says why
#else
constexpr std::memory_order kExpectedPteOrder = std::memory_order_relaxed;
#endif

// do_anonymous_page publishes the new page with WRITE_ONCE, after the
// smp_wmb of __SetPageUptodate (not with a store-release).
TEST(Ordering, NewPagePteIsWriteOnceAfterUptodateWmb) {
  world w;
  mmap_region(w.env, w.mm, 0, 16, VM_READ | VM_WRITE);
  g_log.clear();
  ASSERT_TRUE(w.write(w.mm, 3, 1));
  const long i = last_store(w.pte_word(w.mm, 3));
  ASSERT_GE(i, 0) << "no store to the PTE";
  EXPECT_EQ(g_log[i].order, kExpectedPteOrder);
  bool wmb = false;
  for (long j = 0; j < i; j++) wmb |= g_log[j].addr == nullptr && g_log[j].what == "wmb";
  EXPECT_TRUE(wmb) << "no smp_wmb (__SetPageUptodate) before the PTE store";
  exit_mmap(w.env, w.mm);
}

// fork's raw_write_seqcount_begin: the increment, then smp_wmb (the kernel's),
// not smp_mb.
TEST(Ordering, SeqcountBeginIsWmbNotMb) {
  world w;
  rec_mm child(w.m);
  mmap_region(w.env, w.mm, 0, 16, VM_READ | VM_WRITE);
  ASSERT_TRUE(w.write(w.mm, 3, 1));
  g_log.clear();
  ASSERT_EQ(dup_mmap(w.env, child, w.mm), 0);
  long i = -1;
  for (long j = 0; j < static_cast<long>(g_log.size()) && i < 0; j++)
    if (g_log[j].addr == &w.mm.write_protect_seq && g_log[j].what == "store") i = j;
  ASSERT_GE(i, 0) << "fork did not write write_protect_seq";
  long b = i + 1;
  while (b < static_cast<long>(g_log.size()) && g_log[b].addr != nullptr) b++;
  ASSERT_LT(b, static_cast<long>(g_log.size())) << "no barrier after the seqcount increment";
  EXPECT_EQ(g_log[b].what, "wmb");
  exit_mmap(w.env, child);
  exit_mmap(w.env, w.mm);
}

unsigned barriers_in_gup_fast(generation g, unsigned flags) {
  world w(g);
  mmap_region(w.env, w.mm, 0, 16, VM_READ | VM_WRITE);
  EXPECT_TRUE(w.write(w.mm, 3, 1));
  rec_env::page_t *p = nullptr;
  g_log.clear();
  EXPECT_EQ(internal_get_user_pages_fast(w.env, w.mm, 3, 1, flags | FOLL_FAST_ONLY, &p), 1);
  unsigned n = 0;
  for (auto &e : g_log) n += e.addr == nullptr && e.what == "mb__after_atomic";
  if (p) (flags & FOLL_PIN) ? unpin_user_page(w.env, p) : put_user_page(w.env, p);
  exit_mmap(w.env, w.mm);
  return n;
}

// The barrier after GUP-fast's grab came with 088b8aa537c2 (6.1) and only
// for FOLL_PIN: a FOLL_GET's add-unless-zero is fully ordered already.
TEST(Ordering, AfterGrabBarrierForPinsFrom61) {
  EXPECT_EQ(barriers_in_gup_fast(generation::v6_2, FOLL_PIN | FOLL_WRITE), 1u);
  EXPECT_EQ(barriers_in_gup_fast(generation::v6_1, FOLL_PIN | FOLL_WRITE), 1u);
  EXPECT_EQ(barriers_in_gup_fast(generation::v6_0, FOLL_PIN | FOLL_WRITE), 0u);
  EXPECT_EQ(barriers_in_gup_fast(generation::v6_2, FOLL_GET | FOLL_WRITE), 0u);
}

}  // namespace
}  // namespace anonx
