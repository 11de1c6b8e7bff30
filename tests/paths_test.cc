// paths_test.cc: the sequential semantics of every path of kernel-protocol §3,
// one test per rule: what the page tables, PG_anon_exclusive, the refcount,
// mapcount and pincount look like after each path ran alone.
//
// Every test runs on a fresh machine, reports violations (failed VM_BUG_ONs,
// oracles I1..I11) to its own sink and ends with check_mm() on every mm,
// exit_mmap(), and a leak check: the free small/huge frames, swap slots and
// page-table pages are back to their initial counts.
//
// Tests of the PG_anon_exclusive protocol run on v5.19 and v6.2 (the two
// generations that have the flag; they differ only in how clearers
// synchronise with GUP-fast, which a sequential test cannot see). v5.18
// (no flag) has its own tests at the end. A few tests run a mutant to show
// that the check they rely on can fail.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "anonx.h"
#include "model_rig.h"

namespace anonx {
namespace {

using testing::model_rig;

constexpr unsigned long kFrames = 4096;
constexpr unsigned long kHugeBlocks = 2;

constexpr unsigned kRW = VM_READ | VM_WRITE;
constexpr unsigned long kA = 3;          // a base-page address in [0, 16)
constexpr unsigned long kThp = 512;      // a THP-eligible VMA [512, 1024): one PMD
constexpr unsigned long kTa = kThp + 5;  // an address inside it (subpage 5)
constexpr unsigned kLongRW = FOLL_WRITE | FOLL_LONGTERM;

// One machine, its CPU 0 environment and a private violation sink.
struct world : model_rig {
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

bool excl(const page *p) { return test_bit(PG_anon_exclusive, &p->flags); }

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
bool has_pinned(const mm_struct &mm) { return test_bit(MMF_HAS_PINNED, &mm.flags); }

class Paths : public ::testing::TestWithParam<generation> {};

// ---- §3.1 new anonymous page ------------------------------------------------

TEST_P(Paths, AnonFaultMapsNewExclusivePageWritable) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  const pte_t pte = w.entry(mm, kA);
  ASSERT_TRUE(pte_present(pte));
  EXPECT_TRUE(pte_write(pte));
  page *p = w.page_at(mm, kA);
  EXPECT_TRUE(PageAnon(p));
  EXPECT_FALSE(PageCompound(p));
  EXPECT_TRUE(excl(p));
  EXPECT_EQ(page_mapcount(p), 1);
  EXPECT_EQ(page_ref_count(p), 1);
  EXPECT_EQ(w.read(mm, kA), 42u);
  w.finish({&mm});
}

// ---- §3.4 fork ---------------------------------------------------------------

TEST_P(Paths, ForkOfUnpinnedExclusivePageSharesItReadOnly) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.page_at(mm, kA);
  const unsigned seq = mm.write_protect_seq.load();
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  EXPECT_EQ(mm.write_protect_seq.load(), seq + 2) << "fork brackets the copy with the seqcount";
  EXPECT_FALSE(has_pinned(mm));
  EXPECT_EQ(w.page_at(child, kA), p);
  EXPECT_FALSE(pte_write(w.entry(mm, kA))) << "parent PTE write-protected";
  EXPECT_FALSE(pte_write(w.entry(child, kA)));
  EXPECT_FALSE(excl(p)) << "fork clears PG_anon_exclusive (page_try_dup_anon_rmap)";
  EXPECT_EQ(page_mapcount(p), 2);
  EXPECT_EQ(page_ref_count(p), 2);
  EXPECT_EQ(w.read(child, kA), 42u);
  w.finish({&child, &mm});
}

TEST_P(Paths, ForkOfPinnedPageCopiesForTheChild) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  ASSERT_EQ(p, w.page_at(mm, kA));
  EXPECT_TRUE(has_pinned(mm)) << "FOLL_PIN sets MMF_HAS_PINNED";
  EXPECT_TRUE(page_maybe_dma_pinned(p));
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  // Parent: untouched, writable, exclusive, pinned.
  EXPECT_EQ(w.page_at(mm, kA), p);
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  EXPECT_TRUE(excl(p));
  EXPECT_EQ(page_mapcount(p), 1);
  EXPECT_EQ(page_ref_count(p), 1 + GUP_PIN_COUNTING_BIAS);
  // Child: a fresh exclusive copy, mapped writable.
  page *c = w.page_at(child, kA);
  ASSERT_NE(c, nullptr);
  EXPECT_NE(c, p);
  EXPECT_TRUE(pte_write(w.entry(child, kA)));
  EXPECT_TRUE(excl(c));
  EXPECT_EQ(page_mapcount(c), 1);
  EXPECT_EQ(w.read(child, kA), 42u);
  // Writes stay private and the pin sees the parent's.
  ASSERT_TRUE(w.write(mm, kA, 43));
  EXPECT_EQ(w.dma_read(p), 43u);
  EXPECT_EQ(w.read(child, kA), 42u);
  unpin_user_page(w.env, p);
  w.finish({&child, &mm});
}

// MADV_DONTFORK (VM_DONTCOPY), the pre-5.9 workaround for RDMA buffers: fork
// leaves the VMA out of the child, so a pinned page stays mapped, writable
// and exclusive in the parent alone, with no early copy.
TEST_P(Paths, ForkSkipsDontforkVmaAndLeavesItsPinnedPageAlone) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  ASSERT_NE(p, nullptr);
  const int refs = page_ref_count(p);
  const unsigned long free0 = w.m.mem.nr_free_small();
  for (auto &vma : mm.vmas) vma.vm_flags |= VM_DONTCOPY;  // madvise(MADV_DONTFORK)
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  EXPECT_TRUE(child.vmas.empty()) << "the VMA is not copied";
  EXPECT_FALSE(pte_present(w.entry(child, kA)));
  EXPECT_EQ(w.m.mem.nr_free_small(), free0) << "no early copy for a VMA the child lacks";
  EXPECT_EQ(w.page_at(mm, kA), p);
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  if (w.env.has_anon_exclusive()) {
    EXPECT_TRUE(excl(p));
  }
  EXPECT_EQ(page_mapcount(p), 1);
  EXPECT_EQ(page_ref_count(p), refs);
  unpin_user_page(w.env, p);
  w.finish({&child, &mm});
}

// Early COW of a pinned page needs a page for the child: with none left,
// fork fails with -ENOMEM (copy_present_page), and the parent keeps its
// pinned page as it was.
TEST_P(Paths, ForkOfPinnedPageFailsWithEnomemWhenNoPageIsLeft) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  ASSERT_NE(p, nullptr);
  // The child's page table first (so the copy reaches the PTE), then every
  // free frame held.
  ASSERT_EQ(__pte_alloc(w.env, child, kA), VM_FAULT_OK);
  const std::vector<page *> held = w.hold_free_pages();
  ASSERT_FALSE(held.empty());
  EXPECT_EQ(dup_mmap(w.env, child, mm), -ENOMEM);
  EXPECT_FALSE(pte_present(w.entry(child, kA))) << "no child PTE without a copy";
  EXPECT_EQ(w.page_at(mm, kA), p);
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  EXPECT_EQ(page_mapcount(p), 1);
  w.release(held);
  unpin_user_page(w.env, p);
  w.finish({&child, &mm});
}

// B5 replayed: a fork that ignores pins shares the pinned page; the parent's
// next write then COWs away from it.
TEST_P(Paths, ForkIgnoringPinsLosesThePin) {
  world w(GetParam(), mutant::b5_fork_ignores_pins);
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  EXPECT_EQ(w.page_at(child, kA), p);
  ASSERT_TRUE(w.write(mm, kA, 43));
  EXPECT_NE(w.page_at(mm, kA), p);
  EXPECT_EQ(w.dma_read(p), 42u) << "the pin no longer sees the process's writes";
  unpin_user_page(w.env, p);  // I1 at unpin: the pinned page lost its flag
  EXPECT_GE(w.sink.count("I1"), 1u);
  w.sink.reset();
  w.finish({&child, &mm});
}

TEST_P(Paths, ForkOfSwapEntryDropsSwpExclusive) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  ASSERT_TRUE(shrink_page(w.env, w.page_at(mm, kA)));
  ASSERT_TRUE(pte_swp_exclusive(w.entry(mm, kA)));
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  const pte_t pe = w.entry(mm, kA), ce = w.entry(child, kA);
  EXPECT_TRUE(is_swap_entry(pe));
  EXPECT_FALSE(pte_swp_exclusive(pe)) << "the parent's swap PTE is shared now";
  EXPECT_EQ(ce.v, pe.v);
  EXPECT_EQ(w.m.swap.swap_count(swp_offset(pe)), 2);
  EXPECT_EQ(w.read(child, kA), 42u);
  EXPECT_EQ(w.read(mm, kA), 42u);
  w.finish({&child, &mm});
}

// ---- §3.5 write fault --------------------------------------------------------

TEST_P(Paths, WriteFaultOnExclusiveReadOnlyPageReusesIt) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.page_at(mm, kA);
  ASSERT_EQ(mprotect(w.env, mm, 0, 16, false), 0);
  EXPECT_FALSE(pte_write(w.entry(mm, kA)));
  EXPECT_TRUE(excl(p)) << "mprotect keeps the page exclusive";
  ASSERT_EQ(mprotect(w.env, mm, 0, 16, true), 0);
  EXPECT_FALSE(pte_write(w.entry(mm, kA))) << "mprotect(RW) changes only the VMA";
  ASSERT_TRUE(w.write(mm, kA, 43));
  EXPECT_EQ(w.page_at(mm, kA), p);
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  EXPECT_TRUE(excl(p));
  EXPECT_EQ(w.st.cow_reuse, 1u);
  EXPECT_EQ(w.st.cow_copies, 0u);
  EXPECT_EQ(w.read(mm, kA), 43u);
  w.finish({&mm});
}

TEST_P(Paths, WriteFaultOnSharedPageCopies) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.page_at(mm, kA);
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  ASSERT_TRUE(w.write(mm, kA, 43));
  page *np = w.page_at(mm, kA);
  ASSERT_NE(np, nullptr);
  EXPECT_NE(np, p) << "a shared page is copied";
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  EXPECT_TRUE(excl(np));
  EXPECT_EQ(page_mapcount(np), 1);
  EXPECT_EQ(w.st.cow_copies, 1u);
  // The old page stays with the child, R/O, not exclusive.
  EXPECT_EQ(w.page_at(child, kA), p);
  EXPECT_FALSE(pte_write(w.entry(child, kA)));
  EXPECT_FALSE(excl(p));
  EXPECT_EQ(page_mapcount(p), 1);
  EXPECT_EQ(page_ref_count(p), 1);
  EXPECT_EQ(w.read(child, kA), 42u);
  // The child is now the only user: its write fault reuses the page and
  // page_move_anon_rmap hands it to the child's anon_vma.
  ASSERT_TRUE(w.write(child, kA, 44));
  EXPECT_EQ(w.page_at(child, kA), p);
  EXPECT_TRUE(excl(p));
  EXPECT_EQ(p->mapping.load(), anon_mapping<stress_env>(child));
  EXPECT_EQ(w.read(mm, kA), 43u);
  w.finish({&child, &mm});
}

TEST_P(Paths, WriteFaultAfterChildExitReusesViaPageMoveAnonRmap) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.page_at(mm, kA);
  ASSERT_TRUE(w.fork_and_exit_child(mm));
  EXPECT_FALSE(excl(p)) << "the flag does not come back by itself";
  EXPECT_EQ(page_ref_count(p), 1);
  EXPECT_FALSE(pte_write(w.entry(mm, kA)));
  ASSERT_TRUE(w.write(mm, kA, 43));
  EXPECT_EQ(w.page_at(mm, kA), p) << "refcount 1: reuse, no copy";
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  EXPECT_TRUE(excl(p)) << "page_move_anon_rmap sets the flag";
  EXPECT_EQ(p->mapping.load(), anon_mapping<stress_env>(mm));
  EXPECT_EQ(w.st.cow_copies, 0u);
  EXPECT_EQ(w.st.cow_reuse, 1u);
  w.finish({&mm});
}

// B3 replayed: "mapcount == 1 => reuse" ignores a FOLL_GET reference
// (vmsplice): the reference holder then reads the new data.
TEST_P(Paths, ReuseOnMapcountOneLeaksThroughGetReference) {
  for (const bool mutant_on : {false, true}) {
    SCOPED_TRACE(mutant_on ? "b3_reuse_mapcount1" : "correct");
    world w(GetParam(), mutant_on ? mutant::b3_reuse_mapcount1 : mutant::none);
    mm_struct mm(w.m);
    ASSERT_TRUE(w.populate(mm, 42));
    {
      mm_struct child(w.m);
      ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
      page *ref = w.get(child, kA);  // vmsplice in the child
      exit_mmap(w.env, child);
      ASSERT_TRUE(w.write(mm, kA, 43));
      EXPECT_EQ(w.dma_read(ref), mutant_on ? 43u : 42u);
      put_user_page(w.env, ref);
    }
    w.finish({&mm});
  }
}

// ---- §3.6 unshare fault ------------------------------------------------------

TEST_P(Paths, UnshareOfPreviouslySharedPageMarksItExclusiveBehindReadOnlyPte) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.page_at(mm, kA);
  ASSERT_TRUE(w.fork_and_exit_child(mm));
  ASSERT_FALSE(excl(p));
  page *pinned = w.pin(mm, kA, FOLL_LONGTERM, /*fast=*/false);  // R/O pin, slow GUP
  EXPECT_EQ(pinned, p) << "refcount 1: the same page is made exclusive";
  EXPECT_EQ(w.page_at(mm, kA), p);
  EXPECT_FALSE(pte_write(w.entry(mm, kA))) << "unshare leaves the PTE read-only";
  EXPECT_TRUE(excl(p));
  EXPECT_EQ(w.st.unshares, 1u);
  EXPECT_EQ(w.st.cow_copies, 0u);
  ASSERT_TRUE(w.write(mm, kA, 43));
  EXPECT_EQ(w.dma_read(pinned), 43u);
  unpin_user_page(w.env, pinned);
  w.finish({&mm});
}

TEST_P(Paths, UnshareOfSharedPageCopiesBehindReadOnlyPte) {
  for (const bool fast : {false, true}) {
    SCOPED_TRACE(fast ? "pin_user_pages_fast" : "pin_user_pages");
    world w(GetParam());
    mm_struct mm(w.m), child(w.m);
    ASSERT_TRUE(w.populate(mm, 42));
    page *p = w.page_at(mm, kA);
    ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
    page *pinned = w.pin(mm, kA, FOLL_LONGTERM, fast);
    ASSERT_NE(pinned, nullptr);
    EXPECT_NE(pinned, p) << "shared: unsharing copies";
    EXPECT_EQ(w.page_at(mm, kA), pinned);
    EXPECT_FALSE(pte_write(w.entry(mm, kA))) << "unshare leaves the PTE read-only";
    EXPECT_TRUE(excl(pinned));
    EXPECT_FALSE(excl(p));
    EXPECT_EQ(w.page_at(child, kA), p);
    EXPECT_EQ(page_mapcount(p), 1);
    EXPECT_EQ(w.dma_read(pinned), 42u);
    if (fast) {
      EXPECT_EQ(w.st.gup_fast_fallback, 1u) << "GUP-fast (B5) bails to slow GUP";
    }
    ASSERT_TRUE(w.write(mm, kA, 43));
    EXPECT_EQ(w.page_at(mm, kA), pinned) << "exclusive: the write reuses the pinned page";
    EXPECT_EQ(w.dma_read(pinned), 43u);
    EXPECT_EQ(w.read(child, kA), 42u);
    unpin_user_page(w.env, pinned);
    w.finish({&child, &mm});
  }
}

// The R/O pin without unsharing (mutant ro_pin_no_unshare) is what the
// oracles catch: a committed pin on a shared page (I1).
TEST_P(Paths, ReadOnlyPinWithoutUnshareIsCaught) {
  world w(GetParam(), mutant::ro_pin_no_unshare);
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.page_at(mm, kA);
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  page *pinned = w.pin(mm, kA, FOLL_LONGTERM, false);
  EXPECT_EQ(pinned, p);
  EXPECT_GE(
      w.sink.count("I1") + w.sink.count("VM_BUG_ON:follow_page_pte: pinning a shared anon page"),
      1u);
  ASSERT_TRUE(w.write(mm, kA, 43));
  EXPECT_EQ(w.dma_read(pinned), 42u) << "the pin lost coherence";
  unpin_user_page(w.env, pinned);
  w.sink.reset();
  w.finish({&child, &mm});
}

// ---- §3.2 / §3.3 GUP ---------------------------------------------------------

TEST_P(Paths, GupFastWritePinOnWritablePteNeedsNoFallback) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  EXPECT_EQ(p, w.page_at(mm, kA));
  EXPECT_EQ(w.st.gup_fast_success, 1u);
  EXPECT_EQ(w.st.gup_slow, 0u);
  EXPECT_EQ(page_ref_count(p), 1 + GUP_PIN_COUNTING_BIAS);
  unpin_user_page(w.env, p);
  EXPECT_EQ(page_ref_count(p), 1);
  EXPECT_FALSE(page_maybe_dma_pinned(p));
  w.finish({&mm});
}

// GUP over an address no VMA covers pins nothing (the kernel: -EFAULT).
TEST_P(Paths, PinOfAnAddressWithNoVmaPinsNothing) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *pages[1] = {nullptr};
  EXPECT_LE(pin_user_pages_fast(w.env, mm, 100, 1, kLongRW, pages), 0);
  EXPECT_EQ(pages[0], nullptr);
  w.finish({&mm});
}

// A range GUP-fast covers only in part: GUP-fast pins the faulted-in page,
// the slow path faults the next one in and pins it; the caller gets both,
// each the page mapped at its address.
TEST_P(Paths, PinOfTwoPagesFaultsTheSecondInOnTheSlowPath) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  ASSERT_FALSE(pte_present(w.entry(mm, kA + 1)));
  page *pages[2] = {nullptr, nullptr};
  ASSERT_EQ(pin_user_pages_fast(w.env, mm, kA, 2, kLongRW, pages), 2);
  EXPECT_EQ(pages[0], w.page_at(mm, kA));
  EXPECT_EQ(pages[1], w.page_at(mm, kA + 1));
  for (page *p : pages) {
    EXPECT_TRUE(page_maybe_dma_pinned(p));
    unpin_user_page(w.env, p);
  }
  w.finish({&mm});
}

// With no free page the fault behind the second page fails (VM_FAULT_OOM):
// GUP returns the one page it pinned before it, and maps nothing more.
TEST_P(Paths, PinStopsAtAPageItCannotFaultIn) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  const std::vector<page *> held = w.hold_free_pages();
  page *pages[2] = {nullptr, nullptr};
  EXPECT_EQ(pin_user_pages_fast(w.env, mm, kA, 2, kLongRW, pages), 1);
  EXPECT_EQ(pages[0], w.page_at(mm, kA));
  EXPECT_FALSE(pte_present(w.entry(mm, kA + 1)));
  EXPECT_FALSE(w.write(mm, kA + 2, 7)) << "an anonymous fault with no free page fails (OOM)";
  EXPECT_FALSE(pte_present(w.entry(mm, kA + 2)));
  w.release(held);
  if (pages[0]) unpin_user_page(w.env, pages[0]);
  w.finish({&mm});
}

// A write pin of a read-only mapping needs FOLL_FORCE: without it GUP
// fails (the kernel's check_vma_flags: -EFAULT), even for the exclusive
// anon page that a FOLL_FORCE write could follow.
TEST_P(Paths, WritePinOfReadOnlyMappingNeedsFollForce) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  ASSERT_EQ(mprotect(w.env, mm, 0, 16, false), 0);
  ASSERT_FALSE(pte_write(w.entry(mm, kA)));
  page *pages[1] = {nullptr};
  EXPECT_LE(pin_user_pages(w.env, mm, kA, 1, FOLL_WRITE, pages), 0);
  EXPECT_EQ(pages[0], nullptr);
  w.finish({&mm});
}

// write_protect_seq only makes GUP-fast back off while a fork copies: after
// a fork has finished, a FOLL_FAST_ONLY pin of a new exclusive page works.
TEST_P(Paths, GupFastPinsAgainOnceAForkHasFinished) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  ASSERT_TRUE(w.fork_and_exit_child(mm));
  ASSERT_TRUE(w.write(mm, kA + 1, 43));  // a new page, mapped writable
  page *pages[1] = {nullptr};
  EXPECT_EQ(pin_user_pages_fast(w.env, mm, kA + 1, 1, FOLL_WRITE | FOLL_FAST_ONLY, pages), 1);
  EXPECT_EQ(pages[0], w.page_at(mm, kA + 1));
  if (pages[0]) unpin_user_page(w.env, pages[0]);
  w.finish({&mm});
}

// GUP-fast walks PMD by PMD: a range across a PMD boundary is pinned whole
// by GUP-fast alone (FOLL_FAST_ONLY), each page the one at its address;
// with a hole before the boundary it stops at the hole, pinning nothing
// past it.
TEST_P(Paths, GupFastAcrossAPmdBoundaryStopsAtTheFirstHole) {
  world w(GetParam());
  mm_struct mm(w.m);
  constexpr unsigned long kStart = PTRS_PER_PTE - 4;  // 4 pages before the boundary, 4 after
  mmap_region(w.env, mm, kStart - 4, 16, kRW);
  for (unsigned long a = kStart; a < kStart + 8; a++) ASSERT_TRUE(w.write(mm, a, a));
  page *pages[8] = {};
  ASSERT_EQ(pin_user_pages_fast(w.env, mm, kStart, 8, FOLL_WRITE | FOLL_FAST_ONLY, pages), 8);
  for (unsigned i = 0; i < 8; i++) {
    EXPECT_EQ(pages[i], w.page_at(mm, kStart + i)) << i;
    unpin_user_page(w.env, pages[i]);
  }
  madvise_dontneed(w.env, mm, kStart + 3, kStart + 4);  // the last page before the boundary
  page *part[8] = {};
  EXPECT_EQ(pin_user_pages_fast(w.env, mm, kStart, 8, FOLL_WRITE | FOLL_FAST_ONLY, part), 3);
  for (unsigned i = 0; i < 8; i++) {
    if (i < 3) {
      EXPECT_EQ(part[i], w.page_at(mm, kStart + i)) << i;
      if (part[i]) unpin_user_page(w.env, part[i]);
    } else {
      EXPECT_EQ(part[i], nullptr) << i;
    }
  }
  w.finish({&mm});
}

// Faults that need memory and find none fail (VM_FAULT_OOM) and change
// nothing: a first touch that needs a page table, and a COW that needs a
// page for the copy.
TEST_P(Paths, FaultsThatFindNoMemoryFailAndChangeNothing) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  mmap_region(w.env, mm, 2 * PTRS_PER_PTE, 16, kRW);  // a PMD range with no table yet
  const std::vector<long> tables = w.hold_free_tables();
  EXPECT_FALSE(w.write(mm, 2 * PTRS_PER_PTE, 7)) << "no page table left";
  EXPECT_TRUE(pmd_none(w.pmd(mm, 2 * PTRS_PER_PTE)));
  w.release(tables);
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  page *p = w.page_at(mm, kA);
  const std::vector<page *> held = w.hold_free_pages();
  EXPECT_FALSE(w.write(mm, kA, 43)) << "no page for the COW copy";
  EXPECT_EQ(w.page_at(mm, kA), p);
  EXPECT_FALSE(pte_write(w.entry(mm, kA)));
  w.release(held);
  EXPECT_EQ(w.read(mm, kA), 42u);
  EXPECT_EQ(w.read(child, kA), 42u);
  w.finish({&child, &mm});
}

TEST_P(Paths, SlowGupWritePinFaultsInAndReturnsExclusivePage) {
  world w(GetParam());
  mm_struct mm(w.m);
  mmap_region(w.env, mm, 0, 16, kRW);
  page *p = w.pin(mm, kA, kLongRW, /*fast=*/false);  // nothing mapped yet
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p, w.page_at(mm, kA));
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  EXPECT_TRUE(excl(p));
  EXPECT_TRUE(has_pinned(mm));
  unpin_user_page(w.env, p);
  w.finish({&mm});
}

// ---- §3.7 / §3.8 swap --------------------------------------------------------

TEST_P(Paths, SwapOutOfUnpinnedPageInstallsSwpExclusiveAndSwapInMapsExclusive) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.page_at(mm, kA);
  ASSERT_TRUE(shrink_page(w.env, p));
  const pte_t swp = w.entry(mm, kA);
  EXPECT_TRUE(is_swap_entry(swp));
  EXPECT_TRUE(pte_swp_exclusive(swp));
  EXPECT_TRUE(PageBuddy(p)) << "written out and freed";
  EXPECT_EQ(w.st.swapouts, 1u);
  EXPECT_EQ(w.read(mm, kA), 42u);  // swap-in (read fault)
  page *np = w.page_at(mm, kA);
  ASSERT_NE(np, nullptr);
  EXPECT_TRUE(excl(np));
  EXPECT_FALSE(pte_write(w.entry(mm, kA))) << "a read fault maps R/O";
  ASSERT_TRUE(w.write(mm, kA, 43));
  EXPECT_EQ(w.page_at(mm, kA), np) << "exclusive: the write reuses it";
  EXPECT_EQ(w.st.cow_copies, 0u);
  w.finish({&mm});
}

// Swap-in from the swap cache (a FOLL_GET reference kept the page there):
// exclusivity can only come from SWP_EXCLUSIVE (B11, 1493a1913e34). With the
// bit ignored (mutant) the write after swap-in COWs away from the O_DIRECT
// reference.
TEST_P(Paths, SwapInFromSwapCacheIsExclusiveOnlyThroughSwpExclusive) {
  for (const bool mutant_on : {false, true}) {
    SCOPED_TRACE(mutant_on ? "b11_no_swp_exclusive" : "correct");
    world w(GetParam(), mutant_on ? mutant::b11_no_swp_exclusive : mutant::none);
    mm_struct mm(w.m);
    ASSERT_TRUE(w.populate(mm, 42));
    page *p = w.get(mm, kA);  // O_DIRECT read target: FOLL_GET|FOLL_WRITE-like reference
    ASSERT_TRUE(shrink_page(w.env, p));
    const pte_t swp = w.entry(mm, kA);
    ASSERT_TRUE(is_swap_entry(swp));
    EXPECT_EQ(pte_swp_exclusive(swp), !mutant_on);
    EXPECT_TRUE(PageSwapCache(p)) << "the extra reference keeps it in the swap cache";
    EXPECT_EQ(w.read(mm, kA), 42u);
    EXPECT_EQ(w.page_at(mm, kA), p) << "swap-in from the swap cache";
    EXPECT_EQ(excl(p), !mutant_on);
    ASSERT_TRUE(w.write(mm, kA, 43));
    EXPECT_EQ(w.page_at(mm, kA) == p, !mutant_on);
    EXPECT_EQ(w.dma_read(p), mutant_on ? 42u : 43u);
    put_user_page(w.env, p);
    w.finish({&mm});
  }
}

TEST_P(Paths, SwapOutOfPinnedPageFailsAndRestoresThePte) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  const pte_t before = w.entry(mm, kA);
  EXPECT_FALSE(shrink_page(w.env, p));
  EXPECT_EQ(w.entry(mm, kA).v, before.v) << "(A2) saw the pin: PTE restored";
  EXPECT_TRUE(excl(p));
  EXPECT_EQ(page_mapcount(p), 1);
  EXPECT_EQ(w.st.share_busy, 1u);
  EXPECT_EQ(w.st.swapouts, 0u);
  ASSERT_TRUE(w.write(mm, kA, 43));
  EXPECT_EQ(w.dma_read(p), 43u);
  unpin_user_page(w.env, p);
  // Unpinned, the page (still in the swap cache) can go now.
  EXPECT_TRUE(PageSwapCache(p));
  ASSERT_TRUE(shrink_page(w.env, p));
  EXPECT_TRUE(pte_swp_exclusive(w.entry(mm, kA)));
  EXPECT_EQ(w.read(mm, kA), 43u);
  EXPECT_TRUE(excl(w.page_at(mm, kA)));
  w.finish({&mm});
}

// A page left in the swap cache by a failed swap-out leaves it when zap
// unmaps it (free_swap_cache), else nothing would free it.
TEST_P(Paths, ZapFreesPageLeftInSwapCacheByFailedSwapOut) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  ASSERT_FALSE(shrink_page(w.env, p));
  ASSERT_TRUE(PageSwapCache(p));
  unpin_user_page(w.env, p);
  madvise_dontneed(w.env, mm, kA, kA + 1);
  EXPECT_TRUE(PageBuddy(p));
  EXPECT_EQ(w.m.swap.nr_free(), w.free_swap0);
  w.finish({&mm});
}

TEST_P(Paths, SwapOutAfterForkHasNoSwpExclusive) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.page_at(mm, kA);
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  ASSERT_TRUE(shrink_page(w.env, p));
  const pte_t pe = w.entry(mm, kA), ce = w.entry(child, kA);
  EXPECT_TRUE(is_swap_entry(pe));
  EXPECT_TRUE(is_swap_entry(ce));
  EXPECT_FALSE(pte_swp_exclusive(pe));
  EXPECT_FALSE(pte_swp_exclusive(ce));
  EXPECT_EQ(swp_offset(pe), swp_offset(ce));
  EXPECT_EQ(w.m.swap.swap_count(swp_offset(pe)), 2);
  EXPECT_EQ(w.read(mm, kA), 42u);
  EXPECT_EQ(w.read(child, kA), 42u);
  w.finish({&child, &mm});
}

// ---- §3.8 swap-in and the swap device's kind (6.1 do_swap_page) -----------

// (a) A SWP_SYNCHRONOUS_IO device (zram, pmem) and one swap PTE: swap-in
// reads a new page past the swap cache and maps it exclusive. While it
// holds SWAP_HAS_CACHE (swapcache_prepare), a second fault on the same swap
// PTE maps nothing and the slot stays allocated: without that, the second
// faulter could map the slot, free it, and a swap-out reuse it for the same
// PTE value, and the first would map its stale copy (pte_same passes).
TEST_P(Paths, SyncDeviceSwapInBypassesSwapCacheAndHoldsTheSlot) {
  world w(GetParam());
  w.m.swap.set_synchronous_io(true);
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  ASSERT_TRUE(shrink_page(w.env, w.page_at(mm, kA)));
  const pte_t orig = w.entry(mm, kA);
  ASSERT_TRUE(is_swap_entry(orig));
  const unsigned long slot = swp_offset(orig);
  ASSERT_EQ(w.m.swap.swap_count(slot), 1);
  int second = -1;
  pte_t after_second{};
  run_once_at hook("SWAPIN_LOCK", [&] {
    second = handle_mm_fault(w.env, mm, kA, FAULT_FLAG_WRITE);  // another thread, same PTE
    after_second = w.entry(mm, kA);
  });
  w.env.hooks = &hook;
  // The fault of the thread under test (its mmap_lock is not taken: the
  // other thread's paths run nested, on this thread).
  EXPECT_EQ(handle_mm_fault(w.env, mm, kA, 0), VM_FAULT_OK);
  w.env.hooks = &w.h;
  ASSERT_TRUE(hook.fired) << "do_swap_page has no SWAPIN_LOCK window";
  EXPECT_EQ(second, VM_FAULT_OK);
  EXPECT_EQ(after_second.v, orig.v) << "the second faulter mapped the slot while it was held";
  page *np = w.page_at(mm, kA);
  ASSERT_NE(np, nullptr);
  EXPECT_FALSE(PageSwapCache(np)) << "bypassed the swap cache";
  EXPECT_TRUE(PageAnon(np));
  EXPECT_TRUE(excl(np));
  EXPECT_FALSE(pte_write(w.entry(mm, kA))) << "a read fault maps R/O";
  EXPECT_EQ(page_ref_count(np), 1);
  EXPECT_EQ(w.m.swap.nr_free(), w.free_swap0) << "slot freed with SWAP_HAS_CACHE dropped";
  EXPECT_EQ(w.st.swapin_bypass, 1u);
  EXPECT_EQ(w.st.swapin_swapcache, 0u);
  EXPECT_EQ(w.read(mm, kA), 42u);
  w.finish({&mm});
}

// (b) A disk (no SWP_SYNCHRONOUS_IO): swap-in goes through the swap cache.
// A read fault leaves the page there (it keeps its slot); a write fault
// drops the swap cache when the fault and the cache hold the only two
// references (should_try_to_free_swap), and not when a third (an O_DIRECT
// FOLL_GET) is held.
TEST_P(Paths, DiskSwapInKeepsSwapCacheUnlessWriteFaultIsSoleUser) {
  world w(GetParam());
  ASSERT_FALSE(w.m.swap.synchronous_io()) << "the machine is built with a disk";
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  ASSERT_TRUE(shrink_page(w.env, w.page_at(mm, kA)));
  // Read fault: in the swap cache, exclusive through SWP_EXCLUSIVE, R/O.
  EXPECT_EQ(w.read(mm, kA), 42u);
  page *np = w.page_at(mm, kA);
  ASSERT_NE(np, nullptr);
  EXPECT_TRUE(PageSwapCache(np)) << "a read fault keeps the swap cache";
  EXPECT_TRUE(excl(np));
  EXPECT_FALSE(pte_write(w.entry(mm, kA)));
  EXPECT_EQ(page_ref_count(np), 2) << "the mapping's and the swap cache's";
  EXPECT_EQ(w.m.swap.nr_free(), w.free_swap0 - 1) << "the swap cache holds the slot";
  EXPECT_EQ(w.st.swapin_swapcache, 1u);
  EXPECT_EQ(w.st.swapin_bypass, 0u);
  // Swap out again (already in the swap cache), then a write fault: the
  // fault's reference + the cache's == 2, so the cache is dropped.
  ASSERT_TRUE(shrink_page(w.env, np));
  ASSERT_TRUE(w.write(mm, kA, 43));
  page *wp = w.page_at(mm, kA);
  ASSERT_NE(wp, nullptr);
  EXPECT_FALSE(PageSwapCache(wp)) << "write fault, refcount 2: the swap cache is freed";
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  EXPECT_TRUE(excl(wp));
  EXPECT_EQ(page_ref_count(wp), 1);
  EXPECT_EQ(w.m.swap.nr_free(), w.free_swap0);
  // A write fault with an O_DIRECT reference (refcount 3) keeps the cache;
  // SWP_EXCLUSIVE still maps it writable, in place.
  page *ref = w.get(mm, kA);
  ASSERT_TRUE(shrink_page(w.env, ref));
  ASSERT_TRUE(PageSwapCache(ref));
  ASSERT_TRUE(w.write(mm, kA, 44));
  EXPECT_EQ(w.page_at(mm, kA), ref);
  EXPECT_TRUE(PageSwapCache(ref)) << "refcount 3: should_try_to_free_swap is false";
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  EXPECT_EQ(w.dma_read(ref), 44u);
  EXPECT_EQ(w.st.cow_copies, 0u);
  put_user_page(w.env, ref);
  w.finish({&mm});
}

// (c) After fork the slot has two swap PTEs: even a synchronous device
// reads it into the swap cache, and both mms map that one page R/O, not
// exclusive. A write fault of the parent then copies in the same fault:
// do_swap_page hands over to do_wp_page under its PT lock.
TEST_P(Paths, SharedSwapEntryGoesThroughSwapCacheEvenOnSyncDevice) {
  for (const bool write_first : {false, true}) {
    SCOPED_TRACE(write_first ? "parent write-faults first" : "both read-fault");
    world w(GetParam());
    w.m.swap.set_synchronous_io(true);
    mm_struct mm(w.m), child(w.m);
    ASSERT_TRUE(w.populate(mm, 42));
    ASSERT_TRUE(shrink_page(w.env, w.page_at(mm, kA)));
    ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
    const unsigned long slot = swp_offset(w.entry(mm, kA));
    ASSERT_EQ(w.m.swap.swap_count(slot), 2);
    if (write_first) {
      // One fault: the page is read into the swap cache, mapped R/O (not
      // exclusive: refcount 2, the cache's and ours, and the child's swap
      // PTE keeps the slot), then copied by do_wp_page.
      EXPECT_EQ(handle_mm_fault(w.env, mm, kA, FAULT_FLAG_WRITE), VM_FAULT_OK);
      const pte_t pe = w.entry(mm, kA);
      ASSERT_TRUE(pte_present(pe));
      EXPECT_TRUE(pte_write(pe)) << "the write fault finished in do_wp_page, no re-fault";
      page *copy = w.page_at(mm, kA);
      EXPECT_FALSE(PageSwapCache(copy));
      EXPECT_TRUE(excl(copy));
      EXPECT_EQ(w.st.cow_copies, 1u);
      EXPECT_EQ(w.st.swapin_swapcache, 1u);
      EXPECT_EQ(w.m.swap.swap_count(slot), 1);
      EXPECT_EQ(w.read(child, kA), 42u);
      page *cp = w.page_at(child, kA);
      ASSERT_NE(cp, nullptr);
      EXPECT_NE(cp, copy);
      EXPECT_TRUE(PageSwapCache(cp)) << "the child maps the swap-cache page";
      EXPECT_FALSE(excl(cp));
    } else {
      EXPECT_EQ(w.read(mm, kA), 42u);
      EXPECT_EQ(w.read(child, kA), 42u);
      page *pp = w.page_at(mm, kA);
      ASSERT_NE(pp, nullptr);
      EXPECT_EQ(w.page_at(child, kA), pp) << "one swap-cache page for both";
      EXPECT_TRUE(PageSwapCache(pp));
      EXPECT_FALSE(excl(pp));
      EXPECT_EQ(page_mapcount(pp), 2);
      EXPECT_FALSE(pte_write(w.entry(mm, kA)));
      EXPECT_FALSE(pte_write(w.entry(child, kA)));
      EXPECT_EQ(w.st.swapin_bypass, 0u);
      EXPECT_EQ(w.st.swapin_swapcache, 2u);
    }
    w.finish({&child, &mm});
  }
}

// (d) The page found (here: read) in the swap cache leaves it before the
// fault locks it, and the slot is reused: another thread maps the page,
// zaps it (free_swap_cache frees the slot), writes a new page to the same
// address and reclaim swaps it out to the same slot, so the PTE is again
// the same swap entry. The fault must see, under the page lock, that its
// page no longer caches the slot, and repeat; pte_same alone would map the
// stale page.
TEST_P(Paths, SwapInRechecksSwapCacheAfterLockingThePage) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  ASSERT_TRUE(shrink_page(w.env, w.page_at(mm, kA)));
  const pte_t orig = w.entry(mm, kA);
  ASSERT_TRUE(is_swap_entry(orig));
  run_once_at hook("SWAPIN_LOCK", [&] {
    ASSERT_TRUE(w.write(mm, kA, 43));
    madvise_dontneed(w.env, mm, kA, kA + 1);
    ASSERT_TRUE(w.write(mm, kA, 44));
    ASSERT_TRUE(shrink_page(w.env, w.page_at(mm, kA)));
  });
  w.env.hooks = &hook;
  EXPECT_EQ(handle_mm_fault(w.env, mm, kA, 0), VM_FAULT_OK);
  w.env.hooks = &w.h;
  ASSERT_TRUE(hook.fired) << "do_swap_page has no SWAPIN_LOCK window";
  EXPECT_EQ(w.entry(mm, kA).v, orig.v)
      << "the fault mapped a page that no longer caches the slot (the slot is reused)";
  EXPECT_EQ(w.st.swapin_swapcache, 1u) << "only the other thread's swap-in mapped a page";
  EXPECT_EQ(w.read(mm, kA), 44u) << "the repeated fault reads the slot's new contents";
  w.finish({&mm});
}

// ---- §3.9 migration ----------------------------------------------------------

TEST_P(Paths, MigrationOfUnpinnedPageMovesItAndKeepsExclusivity) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.page_at(mm, kA);
  ASSERT_TRUE(migrate_page(w.env, p));
  page *np = w.page_at(mm, kA);
  ASSERT_NE(np, nullptr);
  EXPECT_NE(np, p);
  EXPECT_TRUE(pte_write(w.entry(mm, kA))) << "WRITE migration entry -> writable";
  EXPECT_TRUE(excl(np));
  EXPECT_EQ(page_mapcount(np), 1);
  EXPECT_EQ(page_ref_count(np), 1);
  EXPECT_TRUE(PageBuddy(p)) << "the old page is freed";
  EXPECT_EQ(w.read(mm, kA), 42u);
  EXPECT_EQ(w.st.migrations, 1u);
  w.finish({&mm});
}

TEST_P(Paths, MigrationOfReadOnlyExclusivePageKeepsExclusivity) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  ASSERT_EQ(mprotect(w.env, mm, 0, 16, false), 0);
  page *p = w.page_at(mm, kA);
  ASSERT_TRUE(migrate_page(w.env, p));
  page *np = w.page_at(mm, kA);
  ASSERT_NE(np, p);
  EXPECT_FALSE(pte_write(w.entry(mm, kA)));
  EXPECT_TRUE(excl(np)) << "READ_EXCLUSIVE migration entry";
  ASSERT_EQ(mprotect(w.env, mm, 0, 16, true), 0);
  ASSERT_TRUE(w.write(mm, kA, 43));
  EXPECT_EQ(w.page_at(mm, kA), np);
  w.finish({&mm});
}

TEST_P(Paths, MigrationOfSharedPageKeepsItShared) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  page *p = w.page_at(mm, kA);
  ASSERT_TRUE(migrate_page(w.env, p));
  page *np = w.page_at(mm, kA);
  ASSERT_NE(np, p);
  EXPECT_EQ(w.page_at(child, kA), np);
  EXPECT_FALSE(excl(np)) << "READ migration entries";
  EXPECT_EQ(page_mapcount(np), 2);
  EXPECT_FALSE(pte_write(w.entry(mm, kA)));
  EXPECT_FALSE(pte_write(w.entry(child, kA)));
  w.finish({&child, &mm});
}

TEST_P(Paths, MigrationOfPinnedPageFails) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  EXPECT_FALSE(migrate_page(w.env, p));
  EXPECT_EQ(w.page_at(mm, kA), p);
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  EXPECT_TRUE(excl(p));
  EXPECT_EQ(w.st.migrations, 0u);
  unpin_user_page(w.env, p);
  w.finish({&mm});
}

// ---- §3.10 KSM ---------------------------------------------------------------

TEST_P(Paths, KsmMergeMapsKsmPageReadOnlyNeverExclusive) {
  world w(GetParam());
  mm_struct mm(w.m);
  mmap_region(w.env, mm, 0, 16, kRW);
  EXPECT_EQ(w.read(mm, kA), 0u);  // a zero page (the model maps a zeroed anon page)
  page *p = w.page_at(mm, kA);
  ASSERT_TRUE(excl(p));
  page *kpage = ksm_new_stable_page(w.env, p->pfn, 1);
  ASSERT_NE(kpage, nullptr);
  ASSERT_TRUE(ksm_merge(w.env, mm, kA, kpage));
  EXPECT_EQ(w.page_at(mm, kA), kpage);
  EXPECT_FALSE(pte_write(w.entry(mm, kA)));
  EXPECT_TRUE(PageKsm(kpage));
  EXPECT_FALSE(excl(kpage)) << "I6";
  EXPECT_TRUE(PageBuddy(p)) << "the merged page is freed";
  check_mm(w.env, mm);
  // A R/O pin of a KSM page first unshares it: KSM pages are never pinned (I6).
  page *pinned = w.pin(mm, kA, FOLL_LONGTERM, /*fast=*/false);
  EXPECT_NE(pinned, kpage);
  EXPECT_TRUE(excl(pinned));
  EXPECT_FALSE(page_maybe_dma_pinned(kpage));
  unpin_user_page(w.env, pinned);
  // A write fault on a KSM page always copies.
  ASSERT_TRUE(w.write(mm, kA + 1, 0));
  page *q = w.page_at(mm, kA + 1);
  page *kpage2 = ksm_new_stable_page(w.env, q->pfn, 2);
  ASSERT_TRUE(ksm_merge(w.env, mm, kA + 1, kpage2));
  ASSERT_TRUE(w.write(mm, kA + 1, 7));
  EXPECT_NE(w.page_at(mm, kA + 1), kpage2);
  EXPECT_TRUE(excl(w.page_at(mm, kA + 1)));
  EXPECT_EQ(page_mapcount(kpage2), 0);
  w.env.put_page(kpage);  // the stable tree's references
  w.env.put_page(kpage2);
  w.finish({&mm});
}

TEST_P(Paths, KsmRefusesPinnedPage) {
  world w(GetParam());
  mm_struct mm(w.m);
  mmap_region(w.env, mm, 0, 16, kRW);
  EXPECT_EQ(w.read(mm, kA), 0u);
  page *p = w.pin(mm, kA, FOLL_LONGTERM, false);  // exclusive: no unshare needed
  ASSERT_EQ(p, w.page_at(mm, kA));
  const pte_t before = w.entry(mm, kA);
  page *kpage = ksm_new_stable_page(w.env, p->pfn, 1);
  EXPECT_FALSE(ksm_merge(w.env, mm, kA, kpage));
  EXPECT_EQ(w.entry(mm, kA).v, before.v) << "PTE restored";
  EXPECT_TRUE(excl(p));
  unpin_user_page(w.env, p);
  w.env.put_page(kpage);
  w.finish({&mm});
}

// ---- §3.11 THP ---------------------------------------------------------------

TEST_P(Paths, HugeFaultMapsPmdWithFlagOnHeadOnly) {
  world w(GetParam());
  mm_struct mm(w.m);
  mmap_region(w.env, mm, kThp, 512, kRW | VM_HUGEPAGE);
  ASSERT_TRUE(w.write(mm, kTa, 42));
  const pmd_t pmd = w.pmd(mm, kTa);
  ASSERT_TRUE(pmd_trans_huge(pmd));
  EXPECT_TRUE(pte_write(pmd));
  page *head = w.m.mem.pfn_to_page(pte_pfn(pmd));
  EXPECT_TRUE(PageTransHuge(head));
  EXPECT_TRUE(excl(head));
  for (unsigned i = 1; i < HPAGE_PMD_NR; i++) ASSERT_FALSE(excl(head + i)) << "subpage " << i;
  EXPECT_EQ(head[1].compound_mapcount.load(), 0) << "one PMD mapping";
  EXPECT_EQ(page_ref_count(head), 1);
  EXPECT_EQ(w.read(mm, kTa), 42u);
  EXPECT_EQ(w.read(mm, kThp + 100), 0u);
  EXPECT_EQ(w.m.mem.nr_free_huge(), w.free_huge0 - 1);
  w.finish({&mm});
}

TEST_P(Paths, SplitPropagatesFlagToAllSubpages) {
  world w(GetParam());
  mm_struct mm(w.m);
  mmap_region(w.env, mm, kThp, 512, kRW | VM_HUGEPAGE);
  ASSERT_TRUE(w.write(mm, kTa, 42));
  page *head = w.thp_head(mm, kTa);
  __split_huge_pmd(w.env, mm, kTa);
  ASSERT_TRUE(pmd_table(w.pmd(mm, kTa)));
  for (unsigned i = 0; i < HPAGE_PMD_NR; i++) {
    const pte_t pte = w.entry(mm, kThp + i);
    ASSERT_TRUE(pte_present(pte)) << i;
    ASSERT_EQ(pte_pfn(pte), head->pfn + i);
    ASSERT_TRUE(pte_write(pte)) << i;
    ASSERT_TRUE(excl(head + i)) << "I9: subpage " << i;
    ASSERT_EQ(page_mapcount(head + i), 1) << i;
  }
  EXPECT_EQ(page_ref_count(head), static_cast<int>(HPAGE_PMD_NR));
  EXPECT_EQ(w.read(mm, kTa), 42u);
  w.finish({&mm});
}

TEST_P(Paths, SplitDroppingTheFlagIsCaughtByI9) {
  world w(GetParam(), mutant::thp_split_drops_flag);
  mm_struct mm(w.m);
  mmap_region(w.env, mm, kThp, 512, kRW | VM_HUGEPAGE);
  ASSERT_TRUE(w.write(mm, kTa, 42));
  __split_huge_pmd(w.env, mm, kTa);
  EXPECT_GE(w.sink.count("I9"), 1u);
  check_mm(w.env, mm);
  EXPECT_GE(w.sink.count("I3"), 1u) << "writable subpage PTEs without the flag";
  exit_mmap(w.env, mm);
  w.sink.reset();
  w.finish({&mm});
}

// copy_huge_pmd needs a page table to deposit for the child: with none
// left, fork fails with -ENOMEM and the parent's THP stays as it was.
TEST_P(Paths, ForkOfThpFailsWithEnomemWhenNoPageTableIsLeft) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  mmap_region(w.env, mm, kThp, 512, kRW | VM_HUGEPAGE);
  ASSERT_TRUE(w.write(mm, kTa, 42));
  ASSERT_TRUE(pmd_trans_huge(w.pmd(mm, kTa)));
  page *head = w.thp_head(mm, kTa);
  const std::vector<long> held = w.hold_free_tables();
  EXPECT_EQ(dup_mmap(w.env, child, mm), -ENOMEM);
  w.release(held);
  EXPECT_TRUE(pmd_none(w.pmd(child, kTa)));
  EXPECT_TRUE(pmd_trans_huge(w.pmd(mm, kTa)));
  EXPECT_TRUE(pte_write(w.pmd(mm, kTa)));
  if (w.env.has_anon_exclusive()) {
    EXPECT_TRUE(excl(head));
  }
  EXPECT_EQ(page_ref_count(head), 1);
  w.finish({&child, &mm});
}

TEST_P(Paths, ForkOfUnpinnedThpSharesThePmd) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  mmap_region(w.env, mm, kThp, 512, kRW | VM_HUGEPAGE);
  ASSERT_TRUE(w.write(mm, kTa, 42));
  page *head = w.thp_head(mm, kTa);
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  ASSERT_TRUE(pmd_trans_huge(w.pmd(mm, kTa)));
  ASSERT_TRUE(pmd_trans_huge(w.pmd(child, kTa)));
  EXPECT_EQ(pte_pfn(w.pmd(child, kTa)), head->pfn);
  EXPECT_FALSE(pte_write(w.pmd(mm, kTa)));
  EXPECT_FALSE(pte_write(w.pmd(child, kTa)));
  EXPECT_FALSE(excl(head));
  EXPECT_EQ(head[1].compound_mapcount.load(), 1) << "two PMD mappings";
  EXPECT_EQ(page_ref_count(head), 2);
  // A write fault on the shared THP splits the writer's PMD and copies the
  // subpage; the other mapping keeps the THP.
  ASSERT_TRUE(w.write(mm, kTa, 43));
  EXPECT_TRUE(pmd_table(w.pmd(mm, kTa)));
  EXPECT_NE(w.page_at(mm, kTa), head + 5);
  EXPECT_EQ(w.page_at(mm, kTa + 1), head + 6);
  EXPECT_FALSE(excl(head + 6)) << "split of a shared PMD: no subpage is exclusive";
  EXPECT_EQ(w.read(child, kTa), 42u);
  w.finish({&child, &mm});
}

TEST_P(Paths, HugeWriteFaultAfterChildExitReusesThePmd) {
  world w(GetParam());
  mm_struct mm(w.m);
  mmap_region(w.env, mm, kThp, 512, kRW | VM_HUGEPAGE);
  ASSERT_TRUE(w.write(mm, kTa, 42));
  page *head = w.thp_head(mm, kTa);
  ASSERT_TRUE(w.fork_and_exit_child(mm));
  ASSERT_FALSE(excl(head));
  ASSERT_TRUE(w.write(mm, kTa, 43));
  const pmd_t pmd = w.pmd(mm, kTa);
  ASSERT_TRUE(pmd_trans_huge(pmd)) << "reused as a whole, no split";
  EXPECT_EQ(pte_pfn(pmd), head->pfn);
  EXPECT_TRUE(pte_write(pmd));
  EXPECT_TRUE(excl(head));
  w.finish({&mm});
}

TEST_P(Paths, ForkOfPinnedThpSplitsAndCopiesThePinnedSubpage) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  mmap_region(w.env, mm, kThp, 512, kRW | VM_HUGEPAGE);
  ASSERT_TRUE(w.write(mm, kTa, 42));
  page *head = w.thp_head(mm, kTa);
  page *p = w.pin(mm, kTa, kLongRW);
  ASSERT_EQ(p, head + 5);
  EXPECT_EQ(head[1].compound_pincount.load(), 1);
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  // Parent: split, every subpage still its own, writable and exclusive.
  ASSERT_TRUE(pmd_table(w.pmd(mm, kTa)));
  EXPECT_EQ(w.page_at(mm, kTa), p);
  EXPECT_TRUE(pte_write(w.entry(mm, kTa)));
  EXPECT_TRUE(excl(p));
  EXPECT_TRUE(excl(head));
  // Child: its own copy of the pinned subpage.
  page *c = w.page_at(child, kTa);
  ASSERT_NE(c, nullptr);
  EXPECT_NE(compound_head(c), head);
  EXPECT_TRUE(excl(c));
  EXPECT_EQ(w.read(child, kTa), 42u);
  // maybe_dma_pinned is folio-wide: every subpage was copied, not only the pinned one.
  EXPECT_NE(compound_head(w.page_at(child, kThp + 100)), head);
  ASSERT_TRUE(w.write(mm, kTa, 43));
  EXPECT_EQ(w.dma_read(p), 43u);
  EXPECT_EQ(w.read(child, kTa), 42u);
  unpin_user_page(w.env, p);
  EXPECT_EQ(head[1].compound_pincount.load(), 0);
  w.finish({&child, &mm});
}

TEST_P(Paths, CollapseRefusesPinnedPageThenMapsNewExclusiveThp) {
  world w(GetParam());
  mm_struct mm(w.m);
  mmap_region(w.env, mm, 0, 512, kRW);  // one whole PMD of small pages
  for (unsigned long a = 0; a < 512; a++) ASSERT_TRUE(w.write(mm, a, 1000 + a));
  const pmd_t before = w.pmd(mm, 0);
  ASSERT_TRUE(pmd_table(before));
  page *p = w.pin(mm, 7, kLongRW);
  EXPECT_FALSE(collapse_huge_page(w.env, mm, 0));
  EXPECT_EQ(w.pmd(mm, 0).v, before.v) << "PMD restored";
  EXPECT_EQ(w.page_at(mm, 7), p);
  EXPECT_TRUE(excl(p));
  EXPECT_EQ(w.m.mem.nr_free_huge(), w.free_huge0) << "the THP allocated for the collapse went back";
  unpin_user_page(w.env, p);
  ASSERT_TRUE(collapse_huge_page(w.env, mm, 0));
  const pmd_t pmd = w.pmd(mm, 0);
  ASSERT_TRUE(pmd_trans_huge(pmd));
  EXPECT_TRUE(pte_write(pmd));
  page *head = w.m.mem.pfn_to_page(pte_pfn(pmd));
  EXPECT_TRUE(excl(head)) << "a new THP is exclusive";
  EXPECT_EQ(head[1].compound_mapcount.load(), 0);
  EXPECT_TRUE(PageBuddy(p)) << "the small pages are freed";
  EXPECT_EQ(w.m.tables[pmd_table_index(before)].in_use.load(), 1) << "old PTE table deposited";
  for (unsigned long a = 0; a < 512; a += 97) EXPECT_EQ(w.read(mm, a), 1000 + a);
  EXPECT_EQ(w.m.mem.nr_free_small(), w.free_small0);
  w.finish({&mm});
}

// The collapse of a whole PMD of written small pages, [0, 512), each
// holding 1000 + its address. Returns the PMD it replaced (a table).
pmd_t collapse_written_range(world &w, mm_struct &mm) {
  mmap_region(w.env, mm, 0, 512, kRW);
  for (unsigned long a = 0; a < 512; a++) EXPECT_TRUE(w.write(mm, a, 1000 + a));
  const pmd_t before = w.pmd(mm, 0);
  EXPECT_TRUE(pmd_table(before));
  return before;
}
unsigned tables_in_use(world &w) {
  unsigned n = 0;
  for (unsigned t = 0; t < world::kTables; t++) n += w.m.tables[t].in_use.load() != 0;
  return n;
}

// 6.1 __collapse_huge_page_copy: ptep_clear of each entry after its copy,
// and collapse_huge_page deposits the emptied table with the THP.
TEST_P(Paths, CollapseClearsTheOldPtesAndDepositsTheTable) {
  world w(GetParam());
  mm_struct mm(w.m);
  const pmd_t before = collapse_written_range(w, mm);
  const unsigned long t = pmd_table_index(before);
  ASSERT_TRUE(collapse_huge_page(w.env, mm, 0));
  ASSERT_TRUE(pmd_trans_huge(w.pmd(mm, 0)));
  EXPECT_EQ(w.m.tables[t].in_use.load(), 1) << "the old table is deposited, not freed";
  EXPECT_EQ(mm.pmd_huge_pte[0], static_cast<long>(t));
  for (unsigned i = 0; i < PTRS_PER_PTE; i++)
    ASSERT_TRUE(pte_none(pte_t{w.m.tables[t].pte[i].load()})) << "old PTE " << i << " not cleared";
  w.finish({&mm});
}

// SCAN_PAGE_RO: __collapse_huge_page_isolate refuses a range in which no
// PTE is writable, whether the VMA lost VM_WRITE (mprotect) or not (every
// PTE write-protected, then VM_WRITE back: nothing written since).
TEST_P(Paths, CollapseRefusesAnAllReadOnlyRange) {
  for (const bool vm_write : {false, true}) {
    SCOPED_TRACE(vm_write ? "VM_WRITE, R/O PTEs" : "no VM_WRITE");
    world w(GetParam());
    mm_struct mm(w.m);
    const pmd_t before = collapse_written_range(w, mm);
    ASSERT_EQ(mprotect(w.env, mm, 0, 512, false), 0);
    if (vm_write) {
      ASSERT_EQ(mprotect(w.env, mm, 0, 512, true), 0);
    }
    page *p = w.page_at(mm, 7);
    EXPECT_FALSE(collapse_huge_page(w.env, mm, 0)) << "SCAN_PAGE_RO";
    EXPECT_EQ(w.pmd(mm, 0).v, before.v) << "PMD restored";
    EXPECT_EQ(w.page_at(mm, 7), p);
    EXPECT_EQ(w.m.mem.nr_free_huge(), w.free_huge0);
    EXPECT_EQ(w.read(mm, 7), 1007u);
    w.finish({&mm});
  }
}

// maybe_pmd_mkwrite: the THP's PMD is writable iff the VMA has VM_WRITE,
// whatever the old PTEs said. One writable PTE among R/O ones in a
// VM_WRITE VMA gives a writable PMD. The converse needs a writable PTE in
// a VMA without VM_WRITE, which the kernel never shows khugepaged (mprotect
// changes both under the mmap write lock); the test clears VM_WRITE by hand,
// the only way to tell "from the VMA" from "from any PTE".
TEST_P(Paths, CollapsedPmdIsWritableIffVmWrite) {
  {
    world w(GetParam());
    mm_struct mm(w.m);
    collapse_written_range(w, mm);
    ASSERT_EQ(mprotect(w.env, mm, 0, 512, false), 0);
    ASSERT_EQ(mprotect(w.env, mm, 0, 512, true), 0);
    ASSERT_TRUE(w.write(mm, 9, 9));  // exclusive: reused, the one writable PTE
    ASSERT_TRUE(pte_write(w.entry(mm, 9)));
    ASSERT_FALSE(pte_write(w.entry(mm, 8)));
    ASSERT_TRUE(collapse_huge_page(w.env, mm, 0));
    EXPECT_TRUE(pte_write(w.pmd(mm, 0))) << "VM_WRITE";
    EXPECT_EQ(w.read(mm, 9), 9u);
    w.finish({&mm});
  }
  {
    world w(GetParam());
    mm_struct mm(w.m);
    collapse_written_range(w, mm);
    ASSERT_TRUE(pte_write(w.entry(mm, 8)));
    mm.find_vma(0)->vm_flags &= ~VM_WRITE;
    ASSERT_TRUE(collapse_huge_page(w.env, mm, 0));
    ASSERT_TRUE(pmd_trans_huge(w.pmd(mm, 0)));
    EXPECT_FALSE(pte_write(w.pmd(mm, 0))) << "writable PTEs, no VM_WRITE: R/O";
    EXPECT_EQ(w.read(mm, 8), 1008u);
    w.finish({&mm});
  }
}

// __split_huge_pmd withdraws the table the collapse deposited: the split
// allocates nothing and the PMD points at the old table again, refilled
// with the THP's subpages.
TEST_P(Paths, SplitAfterCollapseReusesTheDepositedTable) {
  world w(GetParam());
  mm_struct mm(w.m);
  const pmd_t before = collapse_written_range(w, mm);
  ASSERT_TRUE(collapse_huge_page(w.env, mm, 0));
  page *head = w.thp_head(mm, 0);
  const unsigned in_use = tables_in_use(w);
  __split_huge_pmd(w.env, mm, 7);
  const pmd_t after = w.pmd(mm, 0);
  ASSERT_TRUE(pmd_table(after));
  EXPECT_EQ(pmd_table_index(after), pmd_table_index(before)) << "the deposited table";
  EXPECT_EQ(tables_in_use(w), in_use) << "the split allocated a table";
  EXPECT_EQ(mm.pmd_huge_pte[0], -1) << "withdrawn";
  for (unsigned i = 0; i < PTRS_PER_PTE; i++) ASSERT_EQ(w.page_at(mm, i), head + i) << i;
  EXPECT_TRUE(excl(head + 7));
  EXPECT_EQ(w.read(mm, 7), 1007u);
  w.finish({&mm});
}

// The deposited table goes with the THP: zap_huge_pmd frees it (MADV_DONTNEED
// here, exit_mmap in finish() for the huge fault's and fork's), so no table
// leaks after a collapse, a huge fault or a fork of a THP.
TEST_P(Paths, ZapOfAThpFreesItsDepositedTable) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  const pmd_t before = collapse_written_range(w, mm);
  ASSERT_TRUE(collapse_huge_page(w.env, mm, 0));
  madvise_dontneed(w.env, mm, 0, 512);
  EXPECT_TRUE(pmd_none(w.pmd(mm, 0)));
  EXPECT_EQ(w.m.tables[pmd_table_index(before)].in_use.load(), 0) << "deposited table leaked";
  EXPECT_EQ(mm.pmd_huge_pte[0], -1);
  const unsigned in_use = tables_in_use(w);
  mmap_region(w.env, mm, kThp, 512, kRW | VM_HUGEPAGE);
  ASSERT_TRUE(w.write(mm, kTa, 42));
  ASSERT_TRUE(pmd_trans_huge(w.pmd(mm, kTa)));
  EXPECT_EQ(tables_in_use(w), in_use + 1) << "the huge fault deposits a table";
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  ASSERT_TRUE(pmd_trans_huge(w.pmd(child, kTa)));
  EXPECT_EQ(tables_in_use(w), in_use + 2) << "fork deposits one with the child's PMD";
  w.finish({&child, &mm});
}

// ---- §3.12 zap and free ------------------------------------------------------

TEST_P(Paths, ZapLeavesFlagOnPinnedPageAndUnpinFreesIt) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  madvise_dontneed(w.env, mm, kA, kA + 1);
  EXPECT_TRUE(pte_none(w.entry(mm, kA)));
  EXPECT_TRUE(excl(p)) << "zap leaves PG_anon_exclusive set";
  EXPECT_EQ(page_mapcount(p), 0);
  EXPECT_EQ(page_ref_count(p), GUP_PIN_COUNTING_BIAS);
  EXPECT_EQ(w.dma_read(p), 42u);
  unpin_user_page(w.env, p);  // sanity_check_pinned_pages passes: no I1
  EXPECT_EQ(w.sink.total(), 0u) << w.violations();
  EXPECT_TRUE(PageBuddy(p));
  EXPECT_FALSE(PageAnon(p)) << "free resets mapping";
  EXPECT_FALSE(excl(p)) << "free clears the flag (AT_PREP)";
  w.finish({&mm});
}

TEST_P(Paths, MunmapFreesPagesAndPageTables) {
  world w(GetParam());
  mm_struct mm(w.m);
  mmap_region(w.env, mm, 0, 512, kRW);  // the table is freed only for a whole PMD
  ASSERT_TRUE(w.write(mm, kA, 42));
  ASSERT_TRUE(w.write(mm, 300, 43));
  const pmd_t pmd = w.pmd(mm, kA);
  ASSERT_TRUE(pmd_table(pmd));
  page *p = w.page_at(mm, kA);
  do_munmap(w.env, mm, 0, 512);
  EXPECT_TRUE(pmd_none(w.pmd(mm, kA)));
  EXPECT_EQ(w.m.tables[pmd_table_index(pmd)].in_use.load(), 0);
  EXPECT_EQ(mm.find_vma(kA), nullptr);
  EXPECT_TRUE(PageBuddy(p));
  EXPECT_EQ(w.m.mem.nr_free_small(), w.free_small0);
  uint64_t v = 1;
  EXPECT_FALSE(cpu_access(w.env, mm, kA, 0, true, &v)) << "SIGSEGV after munmap";
  w.finish({&mm});
}

INSTANTIATE_TEST_SUITE_P(Gen, Paths, ::testing::Values(generation::v5_19, generation::v6_2),
                         [](const ::testing::TestParamInfo<generation> &i) {
                           return testing::gen_ident(i.param);
                         });

// ---- v5.18: no PG_anon_exclusive ----------------------------------------------

TEST(PathsV518, NoPageEverCarriesTheFlag) {
  world w(generation::v5_18);
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.page_at(mm, kA);
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  EXPECT_FALSE(excl(p));
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  EXPECT_EQ(w.page_at(child, kA), p);
  EXPECT_FALSE(pte_write(w.entry(mm, kA)));
  ASSERT_TRUE(w.write(mm, kA, 43));  // refcount 2: copy
  EXPECT_NE(w.page_at(mm, kA), p);
  EXPECT_FALSE(excl(w.page_at(mm, kA)));
  ASSERT_TRUE(w.write(child, kA, 44));  // refcount 1: reuse
  EXPECT_EQ(w.page_at(child, kA), p);
  w.finish({&child, &mm});
}

TEST(PathsV518, ForkOfPinnedPageStillCopiesEarly) {
  world w(generation::v5_18);
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  EXPECT_EQ(w.page_at(mm, kA), p);
  EXPECT_TRUE(pte_write(w.entry(mm, kA))) << "70e806e4e645 (5.9): early COW for pinned pages";
  EXPECT_NE(w.page_at(child, kA), p);
  unpin_user_page(w.env, p);
  w.finish({&child, &mm});
}

// B4: a write fault on a pinned page behind a R/O PTE. v5.18 decides by
// refcount (1 + 1024 != 1) and copies: the pin loses coherence. v5.19+ reuse
// the exclusive page.
TEST(PathsV518, WriteFaultOnPinnedReadOnlyPageCopiesBeforeV519ReusesAfter) {
  for (const generation g : {generation::v5_18, generation::v5_19, generation::v6_2}) {
    SCOPED_TRACE(generation_name(g));
    world w(g);
    mm_struct mm(w.m);
    ASSERT_TRUE(w.populate(mm, 42));
    page *p = w.pin(mm, kA, kLongRW);
    ASSERT_EQ(mprotect(w.env, mm, 0, 16, false), 0);
    ASSERT_EQ(mprotect(w.env, mm, 0, 16, true), 0);
    ASSERT_TRUE(w.write(mm, kA, 43));
    if (g == generation::v5_18) {
      EXPECT_NE(w.page_at(mm, kA), p) << "the pre-5.19 wrong COW";
      EXPECT_EQ(w.dma_read(p), 42u);
      EXPECT_EQ(w.st.cow_copies, 1u);
    } else {
      EXPECT_EQ(w.page_at(mm, kA), p);
      EXPECT_EQ(w.dma_read(p), 43u);
      EXPECT_EQ(w.st.cow_reuse, 1u);
    }
    unpin_user_page(w.env, p);
    w.finish({&mm});
  }
}

TEST(PathsV518, SwapOutOfPinnedPageIsRefusedByTheRacyCheck) {
  world w(generation::v5_18);
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  EXPECT_FALSE(shrink_page(w.env, p));
  EXPECT_EQ(w.page_at(mm, kA), p);
  EXPECT_FALSE(PageSwapCache(p)) << "refused before add_to_swap";
  unpin_user_page(w.env, p);
  w.finish({&mm});
}

// ---- v6.2: R/O long-term pins of non-anon pages in COW mappings -----------------

// 84209e87c696 (v6.2): a R/O FOLL_LONGTERM pin of a private file mapping's
// page-cache page unshares it (gup_must_unshare, then do_wp_page copies it
// into an exclusive anon page mapped R/O) and pins the copy: the process's
// later write fault reuses that page, so the device sees the write. Up to
// 6.1 the pin takes the page-cache page; the write fault COWs away from it
// and the pin is left on a page the process no longer maps: the incoherence
// the commit fixes. GUP-fast has no VMA: the v6.2 pin falls back to slow GUP.
// A pin without FOLL_LONGTERM keeps the page-cache page in both.
TEST(PathsV62, ReadOnlyLongtermPinOfPrivateFilePageIsCoherentFromV62) {
  constexpr unsigned long kF = 40;  // a private file mapping [40, 41)
  constexpr uint64_t kFile = 0xf11e;
  for (const generation g : {generation::v6_1, generation::v6_2}) {
    SCOPED_TRACE(generation_name(g));
    const bool v62 = g == generation::v6_2;
    world w(g);
    mm_struct mm(w.m);
    page *file = w.env.alloc_page(0);  // a page-cache page: the cache holds this reference
    ASSERT_NE(file, nullptr);
    w.m.mem.write_word(file->pfn, 0, kFile);
    mmap_region(w.env, mm, kF, 1, kRW, static_cast<long>(file->pfn));
    ASSERT_EQ(w.read(mm, kF), kFile);  // do_read_fault_file: the page-cache page, R/O
    ASSERT_EQ(w.page_at(mm, kF), file);
    ASSERT_FALSE(pte_write(w.entry(mm, kF)));

    page *shortterm = w.pin(mm, kF, 0);
    EXPECT_EQ(shortterm, file) << "no FOLL_LONGTERM: no unshare";
    if (shortterm) unpin_user_page(w.env, shortterm);

    const auto fallbacks = w.st.gup_fast_fallback;
    page *p = w.pin(mm, kF, FOLL_LONGTERM);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(w.st.gup_fast_fallback - fallbacks, v62 ? 1u : 0u)
        << "v6.2: GUP-fast cannot see the VMA and falls back to slow GUP";
    if (v62) {
      EXPECT_NE(p, file) << "unshared: an anon copy, not the page-cache page";
      EXPECT_TRUE(PageAnon(p));
      EXPECT_TRUE(excl(p));
      EXPECT_EQ(w.page_at(mm, kF), p);
      EXPECT_FALSE(pte_write(w.entry(mm, kF))) << "unshare maps the copy R/O";
      EXPECT_EQ(w.st.unshares, 1u);
    } else {
      EXPECT_EQ(p, file) << "6.1: the pin takes the page-cache page";
    }
    EXPECT_EQ(w.dma_read(p), kFile);
    ASSERT_TRUE(w.write(mm, kF, 43));
    if (v62) {
      EXPECT_EQ(w.page_at(mm, kF), p) << "the write fault reuses the exclusive copy";
      EXPECT_EQ(w.dma_read(p), 43u) << "the pin sees the process's write";
    } else {
      EXPECT_NE(w.page_at(mm, kF), p) << "6.1: the write fault COWs away from the pinned page";
      EXPECT_EQ(w.dma_read(p), kFile) << "6.1: the pin went incoherent";
    }
    EXPECT_EQ(w.m.mem.read_word(file->pfn, 0), kFile) << "a private mapping never writes the file";
    unpin_user_page(w.env, p);
    check_mm(w.env, mm);
    exit_mmap(w.env, mm);
    w.env.put_page(file);
    w.finish({&mm});
  }
}

}  // namespace
}  // namespace anonx
