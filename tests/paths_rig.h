// SPDX-License-Identifier: GPL-2.0-only
// paths_rig.h: what the path tests (tests/paths*_test.cc, one executable,
// paths_test) share: a machine with its CPU 0 env and violation sink
// (model_rig), the addresses and flags the tests use, GUP and access
// helpers, the leak check every test ends with, and the fixture `Paths`,
// parameterised by generation and instantiated once, in paths_test.cc, on
// v5.19 and v6.2 (the two generations with PG_anon_exclusive; they differ
// only in how clearers synchronise with GUP-fast, which a sequential test
// cannot see).
//
// Every test runs on a fresh machine, reports violations (failed VM_BUG_ONs,
// oracles I1..I11) to its own sink and ends with check_mm() on every mm,
// exit_mmap(), and a leak check: the free small/huge frames, swap slots and
// page-table pages are back to their initial counts.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "anonx.h"
#include "model_rig.h"

namespace anonx::paths_rig {

constexpr unsigned long kFrames = 4096;
constexpr unsigned long kHugeBlocks = 2;

constexpr unsigned kRW = VM_READ | VM_WRITE;
constexpr unsigned long kA = 3;          // a base-page address in [0, 16)
constexpr unsigned long kThp = 512;      // a THP-eligible VMA [512, 1024): one PMD
constexpr unsigned long kTa = kThp + 5;  // an address inside it (subpage 5)
constexpr unsigned kLongRW = FOLL_WRITE | FOLL_LONGTERM;

// One machine, its CPU 0 environment and a private violation sink.
struct world : testing::model_rig {
  explicit world(generation g, mutant mu = mutant::none) : model_rig(g, mu, kFrames, kHugeBlocks) {}

  // The entry mapping addr: the huge PMD itself, the PTE, or none.
  pte_t entry(mm_struct &mm, unsigned long addr) {
    const pmd_t pmd{mm.pmd_offset(addr)->load()};
    if (pmd_trans_huge(pmd)) return pmd;
    if (!pmd_table(pmd)) return pte_t{};
    return pte_t{mm.table_of(pmd).pte[pte_index(addr)].load()};
  }
  pmd_t pmd(mm_struct &mm, unsigned long addr) { return pmd_t{mm.pmd_offset(addr)->load()}; }
  // The (sub)page mapped at addr, or nullptr.
  page *page_at(mm_struct &mm, unsigned long addr) {
    const pte_t e = entry(mm, addr);
    if (!pte_present(e)) return nullptr;
    const unsigned long pfn = pmd_trans_huge(e) ? pte_pfn(e) + pte_index(addr) : pte_pfn(e);
    return m.mem.pfn_to_page(pfn);
  }
  // The page the PMD at addr maps: the head of a PMD-mapped THP.
  page *thp_head(mm_struct &mm, unsigned long addr) {
    return m.mem.pfn_to_page(pte_pfn(pmd(mm, addr)));
  }
  bool write(mm_struct &mm, unsigned long addr, uint64_t v) {
    return cpu_access(env, mm, addr, 0, true, &v);
  }
  // The usual start: an anonymous RW region [0, 16) and v written at kA.
  bool populate(mm_struct &mm, uint64_t v) {
    mmap_region(env, mm, 0, 16, kRW);
    return write(mm, kA, v);
  }
  // fork() into a child that exits at once: mm's pages stay mapped by mm
  // alone, no longer exclusive. False if dup_mmap failed.
  bool fork_and_exit_child(mm_struct &mm) {
    mm_struct child(m);
    const bool ok = dup_mmap(env, child, mm) == 0;
    exit_mmap(env, child);
    return ok;
  }
  uint64_t read(mm_struct &mm, unsigned long addr) {
    uint64_t v = ~0ULL;
    EXPECT_TRUE(cpu_access(env, mm, addr, 0, false, &v));
    return v;
  }
  // Out of memory on demand: every free frame (or page table) taken, and
  // given back.
  std::vector<page *> hold_free_pages() {
    std::vector<page *> held;
    while (page *q = env.alloc_page(0)) held.push_back(q);
    return held;
  }
  void release(const std::vector<page *> &held) {
    for (page *q : held) env.put_page(q);
  }
  std::vector<long> hold_free_tables() {
    std::vector<long> held;
    for (long t; (t = m.tables.alloc()) >= 0;) held.push_back(t);
    return held;
  }
  void release(const std::vector<long> &held) {
    for (long t : held) m.tables.free(static_cast<unsigned long>(t));
  }
  // What a device reads through a pin or a FOLL_GET reference.
  uint64_t dma_read(page *p) { return m.mem.read_word(p->pfn, 0); }

  page *pin(mm_struct &mm, unsigned long addr, unsigned flags, bool fast = true) {
    page *pages[1] = {nullptr};
    const long n = fast ? pin_user_pages_fast(env, mm, addr, 1, flags, pages)
                        : pin_user_pages(env, mm, addr, 1, flags, pages);
    EXPECT_EQ(n, 1);
    return n == 1 ? pages[0] : nullptr;
  }
  page *get(mm_struct &mm, unsigned long addr) {
    page *pages[1] = {nullptr};
    const long n = get_user_pages_fast(env, mm, addr, 1, 0, pages);
    EXPECT_EQ(n, 1);
    return n == 1 ? pages[0] : nullptr;
  }

  std::string violations() const {
    std::string s;
    for (const auto &r : sink.records())
      s += r.check + " x" + std::to_string(r.count) + " (pfn " + std::to_string(r.pfn) + ": " +
           r.detail + ")\n";
    return s;
  }

  // check_mm on every mm, exit them all, then: no violation, no leak.
  void finish(std::initializer_list<mm_struct *> mms) {
    for (auto *mm : mms) check_mm(env, *mm);
    for (auto *mm : mms) exit_mmap(env, *mm);
    EXPECT_EQ(sink.total(), 0u) << violations();
    EXPECT_EQ(m.mem.nr_free_small(), free_small0) << "small frames leaked";
    EXPECT_EQ(m.mem.nr_free_huge(), free_huge0) << "THP blocks leaked";
    EXPECT_EQ(m.swap.nr_free(), free_swap0) << "swap slots leaked";
    for (unsigned t = 0; t < kTables; t++)
      EXPECT_EQ(m.tables[t].in_use.load(), 0) << "page table " << t << " leaked";
  }
};

inline bool excl(const page *p) { return test_bit(PG_anon_exclusive, &p->flags); }

// Runs fn once, the first time a path reaches `label`: another CPU's whole
// sequence of paths, run inside the window that label opens. The paths fn
// runs see the label again and pass through.
struct run_once_at : step_hooks {
  const char *label;
  std::function<void()> fn;
  bool fired = false;
  run_once_at(const char *l, std::function<void()> f) : label(l), fn(std::move(f)) {}
  void at(const char *l) override {
    if (fired || std::strcmp(l, label) != 0) return;
    fired = true;
    fn();
  }
};
inline bool has_pinned(const mm_struct &mm) { return test_bit(MMF_HAS_PINNED, &mm.flags); }

class Paths : public ::testing::TestWithParam<generation> {};

}  // namespace anonx::paths_rig
