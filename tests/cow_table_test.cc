// SPDX-License-Identifier: GPL-2.0-only
// cow_table_test.cc: the anonymous-memory table of the kernel selftest
// tools/testing/selftests/mm/cow.c as data.
//
// 14 cases x 2 page kinds (base page; PMD-mapped THP) x 3 generations
// (v5.18, v5.19, v6.2) = 84 parameterized tests. Each case is the selftest's
// user-space sequence replayed on the model: "the pipe" of the vmsplice
// cases is a FOLL_GET reference taken by get_user_pages_fast and read
// directly; the io_uring fixed buffer of cases 7/8 is a
// FOLL_WRITE|FOLL_LONGTERM pin taken by pin_user_pages; the gup_test R/O pins
// of cases 9..14 are FOLL_LONGTERM pins by pin_user_pages (slow) or
// pin_user_pages_fast (fast) without FOLL_WRITE.
//
// Expected results: v5.19 and v6.2 pass everything. v5.18 has no
// PG_anon_exclusive and no unsharing; the cases the kernel failed before 5.19
// are XFAIL with the reason in the table. An XFAIL case that passes FAILS
// (XPASS), so the table cannot go stale. Every case also requires a clean
// violation sink, check_mm() and no leaked frame, swap slot or page table.
//
// The selftest writes the whole buffer (memset); the model writes word 0 of
// one page: the base page, or subpage 5 of the THP (the whole THP is
// populated by the first write, which faults in the PMD).
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <tuple>

#include "anonx.h"
#include "model_rig.h"

namespace anonx {
namespace {

enum class kind { base, thp };
const char *kind_name(kind k) { return k == kind::base ? "base" : "thp"; }

constexpr uint64_t kOld = 0x01d;
constexpr uint64_t kNew = 0x0ff;

// The outcome of one case: did it get to its check (a case whose set-up or
// access failed did not: `ran` false, never a catch), did the selftest's
// check pass, and what it saw.
struct outcome {
  bool ok = false;
  std::string what;
  bool ran = true;
};

// One selftest run: a machine, the process (parent) and maybe a child.
class cow_world : public testing::model_rig {
 public:
  cow_world(kind k, generation g, mutant mu)
      : model_rig(g, mu),
        k_(k),
        start_(k == kind::base ? 0 : 512),
        len_(k == kind::base ? 16 : 512),
        addr_(k == kind::base ? 3 : 512 + 5) {}

  mm_struct parent{m};
  std::unique_ptr<mm_struct> child;

  // mmap + populate (the selftest's memset(mem, 0, size)), here with kOld.
  // THP: the PMD must be huge, as run_with_thp() checks.
  bool setup() {
    mmap_region(env, parent, start_, len_,
                VM_READ | VM_WRITE | (k_ == kind::thp ? unsigned{VM_HUGEPAGE} : 0u));
    if (!write(parent, kOld)) return false;
    if (k_ == kind::thp) return pmd_trans_huge(pmd_t{parent.pmd_offset(addr_)->load()});
    return true;
  }

  bool write(mm_struct &mm, uint64_t v) { return cpu_access(env, mm, addr_, 0, true, &v); }
  uint64_t read(mm_struct &mm) {
    uint64_t v = ~0ULL;
    if (!cpu_access(env, mm, addr_, 0, false, &v)) ADD_FAILURE() << "read fault failed";
    return v;
  }
  uint64_t dma_read(page *p) { return m.mem.read_word(p->pfn, 0); }
  // The (sub)page mapped at the test address in mm, or nullptr.
  page *page_at(mm_struct &mm) {
    const pmd_t pmd{mm.pmd_offset(addr_)->load()};
    if (pmd_trans_huge(pmd)) return m.mem.pfn_to_page(pte_pfn(pmd) + pte_index(addr_));
    if (!pmd_table(pmd)) return nullptr;
    const pte_t pte{mm.table_of(pmd).pte[pte_index(addr_)].load()};
    return pte_present(pte) ? m.mem.pfn_to_page(pte_pfn(pte)) : nullptr;
  }

  bool fork() {
    child = std::make_unique<mm_struct>(m);
    return dup_mmap(env, *child, parent) == 0;
  }
  void exit_child() {
    if (!child) return;
    exit_mmap(env, *child);
    child.reset();
  }
  // mprotect(PROT_READ) + mprotect(PROT_READ|PROT_WRITE) on the whole area
  // (with clear_refs softdirty, the selftest's way to get a R/O PTE).
  bool mprotect_ro_rw(mm_struct &mm) {
    return mprotect(env, mm, start_, start_ + len_, false) == 0 &&
           mprotect(env, mm, start_, start_ + len_, true) == 0;
  }
  // MADV_DONTNEED of the selftest's area: the page, or the whole THP.
  void dontneed(mm_struct &mm) {
    if (k_ == kind::base)
      madvise_dontneed(env, mm, addr_, addr_ + 1);
    else
      madvise_dontneed(env, mm, start_, start_ + len_);
  }
  // vmsplice(): a FOLL_GET reference through GUP-fast (the pipe).
  page *vmsplice(mm_struct &mm) {
    page *pages[1] = {nullptr};
    return get_user_pages_fast(env, mm, addr_, 1, 0, pages) == 1 ? pages[0] : nullptr;
  }
  page *pin(mm_struct &mm, unsigned flags, bool fast) {
    page *pages[1] = {nullptr};
    const long n = fast ? pin_user_pages_fast(env, mm, addr_, 1, flags, pages)
                        : pin_user_pages(env, mm, addr_, 1, flags, pages);
    return n == 1 ? pages[0] : nullptr;
  }

  // Tear down; report anything left over. Called once, after the case.
  std::string finish() {
    std::string bad;
    check_mm(env, parent);
    if (child) check_mm(env, *child);
    exit_child();
    exit_mmap(env, parent);
    for (const auto &r : sink.records())
      bad += "violation " + r.check + " x" + std::to_string(r.count) + " (" + r.detail + "); ";
    if (m.mem.nr_free_small() != free_small0) bad += "small frames leaked; ";
    if (m.mem.nr_free_huge() != free_huge0) bad += "THP blocks leaked; ";
    if (m.swap.nr_free() != free_swap0) bad += "swap slots leaked; ";
    for (unsigned t = 0; t < kTables; t++)
      if (m.tables[t].in_use.load()) bad += "page table " + std::to_string(t) + " leaked; ";
    return bad;
  }

 private:
  kind k_;
  unsigned long start_, len_, addr_;
};

std::string hex(uint64_t v) {
  char b[32];
  std::snprintf(b, sizeof b, "%#llx", static_cast<unsigned long long>(v));
  return b;
}
outcome expect_value(const char *who, uint64_t got, uint64_t want) {
  return {got == want, std::string(who) + " read " + hex(got) + ", want " + hex(want)};
}
outcome broken(const char *what) { return {false, std::string("could not run: ") + what, false}; }

// ---- the cases (cow.c: test_cow_in_parent, test_vmsplice_*, test_iouring_*,
// ---- test_ro_pin_*, test_ro_fast_pin_*) ---------------------------------------

// 1/2: "Basic COW after fork()" [with mprotect() optimization]: the parent
// writes; the child must still read the old data.
outcome basic_cow(cow_world &w, bool do_mprotect) {
  if (!w.fork()) return broken("fork");
  if (do_mprotect && !w.mprotect_ro_rw(w.parent)) return broken("mprotect");
  if (!w.write(w.parent, kNew)) return broken("parent write");
  return expect_value("child", w.read(*w.child), kOld);
}
outcome c01(cow_world &w) { return basic_cow(w, false); }
outcome c02(cow_world &w) { return basic_cow(w, true); }

// 3/4: "vmsplice() + unmap in child" [with mprotect() optimization]
// (CVE-2020-29374): the child vmsplices and unmaps; the parent writes; the
// child's pipe must show the old data.
outcome vmsplice_in_child(cow_world &w, bool do_mprotect) {
  if (!w.fork()) return broken("fork");
  page *pipe = w.vmsplice(*w.child);
  if (!pipe) return broken("vmsplice");
  w.dontneed(*w.child);
  if (do_mprotect && !w.mprotect_ro_rw(w.parent)) return broken("mprotect");
  const bool wrote = w.write(w.parent, kNew);
  const uint64_t got = w.dma_read(pipe);
  put_user_page(w.env, pipe);
  if (!wrote) return broken("parent write");
  return expect_value("pipe", got, kOld);
}
outcome c03(cow_world &w) { return vmsplice_in_child(w, false); }
outcome c04(cow_world &w) { return vmsplice_in_child(w, true); }

// 5/6: "vmsplice() before fork(), unmap in parent after fork()" and
// "vmsplice() + unmap in parent after fork()": the child writes; the
// parent's pipe must show the old data (no leak from child into parent).
outcome vmsplice_in_parent(cow_world &w, bool before_fork) {
  page *pipe = nullptr;
  if (before_fork && !(pipe = w.vmsplice(w.parent))) return broken("vmsplice");
  if (!w.fork()) {
    if (pipe) put_user_page(w.env, pipe);
    return broken("fork");
  }
  if (!before_fork && !(pipe = w.vmsplice(w.parent))) return broken("vmsplice");
  w.dontneed(w.parent);
  const bool wrote = w.write(*w.child, kNew);
  w.exit_child();  // wait()
  const uint64_t got = w.dma_read(pipe);
  put_user_page(w.env, pipe);
  if (!wrote) return broken("child write");
  return expect_value("pipe", got, kOld);
}
outcome c05(cow_world &w) { return vmsplice_in_parent(w, true); }
outcome c06(cow_world &w) { return vmsplice_in_parent(w, false); }

// 7: "R/O-mapping a page registered as iouring fixed buffer": pin R/W
// longterm, make the PTE R/O (mprotect + softdirty), write; the fixed buffer
// (the pin) must see the new data.
outcome c07(cow_world &w) {
  page *buf = w.pin(w.parent, FOLL_WRITE | FOLL_LONGTERM, /*fast=*/false);
  if (!buf) return broken("io_uring_register_buffers");
  const bool prot = w.mprotect_ro_rw(w.parent);
  const bool wrote = prot && w.write(w.parent, kNew);
  const uint64_t got = w.dma_read(buf);
  unpin_user_page(w.env, buf);
  if (!wrote) return broken("mprotect/write");
  return expect_value("fixed buffer", got, kNew);
}

// 8: "fork() with an iouring fixed buffer": the pinned page must not be
// shared with the child: the parent's write lands in the fixed buffer.
outcome c08(cow_world &w) {
  page *buf = w.pin(w.parent, FOLL_WRITE | FOLL_LONGTERM, /*fast=*/false);
  if (!buf) return broken("io_uring_register_buffers");
  const bool forked = w.fork();
  const bool shared = forked && w.page_at(*w.child) == buf;
  const bool wrote = forked && w.write(w.parent, kNew);
  const uint64_t got = w.dma_read(buf);
  unpin_user_page(w.env, buf);
  if (!wrote) return broken("fork/write");
  if (shared) return {false, "the pinned page is mapped by the child"};
  return expect_value("fixed buffer", got, kNew);
}

// 9..14: "R/O GUP [-fast] pin on R/O-mapped {shared, previously-shared,
// exclusive} page": take a R/O longterm pin (gup_test
// PIN_LONGTERM_TEST_START), write through the mapping; the pin must read the
// new data ("Longterm R/O pin is reliable").
enum class ro_pin_test { shared, previously_shared, ro_exclusive };
outcome ro_pin(cow_world &w, ro_pin_test t, bool fast) {
  switch (t) {
    case ro_pin_test::shared:
      if (!w.fork()) return broken("fork");
      break;
    case ro_pin_test::previously_shared:
      if (!w.fork()) return broken("fork");
      w.exit_child();
      break;
    case ro_pin_test::ro_exclusive:
      if (!w.mprotect_ro_rw(w.parent)) return broken("mprotect");
      break;
  }
  page *p = w.pin(w.parent, FOLL_LONGTERM, fast);
  if (!p) return broken("R/O pin");
  const bool wrote = w.write(w.parent, kNew);
  const uint64_t got = w.dma_read(p);
  unpin_user_page(w.env, p);
  w.exit_child();
  if (!wrote) return broken("write");
  return expect_value("R/O pin", got, kNew);
}
outcome c09(cow_world &w) { return ro_pin(w, ro_pin_test::shared, false); }
outcome c10(cow_world &w) { return ro_pin(w, ro_pin_test::shared, true); }
outcome c11(cow_world &w) { return ro_pin(w, ro_pin_test::previously_shared, false); }
outcome c12(cow_world &w) { return ro_pin(w, ro_pin_test::previously_shared, true); }
outcome c13(cow_world &w) { return ro_pin(w, ro_pin_test::ro_exclusive, false); }
outcome c14(cow_world &w) { return ro_pin(w, ro_pin_test::ro_exclusive, true); }

// ---- the table -----------------------------------------------------------------

struct cow_case {
  int id;
  const char *ident;  // for the test name
  const char *title;  // cow.c's ksft_print_msg
  outcome (*run)(cow_world &);
  // Expected failure on v5.18 (both page kinds), with the reason; nullptr:
  // expected to pass on every generation.
  const char *v5_18_xfail;
  // A page kind the model cannot express, with the reason (nullptr: none).
  const char *thp_skip = nullptr;
};

// Why v5.18 fails the R/O pin cases: it has neither PG_anon_exclusive nor
// FAULT_FLAG_UNSHARE (31cc5bc4af70, 6c287605fd56, both 5.19). A R/O pin is
// taken on whatever page the R/O PTE maps, adding 1024 (base) or 1 + pincount
// (THP) to its refcount; the next write fault in do_wp_page (5.9-5.18:
// reuse iff refcount == 1, 09854ba94c6a) or do_huge_pmd_wp_page (5.18,
// c89357e27f20: reuse iff refcount == 1, else split and COW per PTE) sees
// the pin's references and copies: the process writes to the copy and the
// pin keeps the old page.
const cow_case kCases[] = {
    {1, "basic_cow", "Basic COW after fork()", c01, nullptr},
    {2, "basic_cow_mprotect", "Basic COW after fork() with mprotect() optimization", c02, nullptr},
    {3, "vmsplice_unmap_child", "vmsplice() + unmap in child", c03,
     nullptr},  // 5.9+: reuse needs refcount == 1; the pipe's reference forces the copy
    {4, "vmsplice_unmap_child_mprotect", "vmsplice() + unmap in child with mprotect() optimization",
     c04, nullptr},
    {5, "vmsplice_before_fork", "vmsplice() before fork(), unmap in parent after fork()", c05,
     nullptr},
    {6, "vmsplice_unmap_parent", "vmsplice() + unmap in parent after fork()", c06, nullptr},
    {7, "iouring_ro_mapped", "R/O-mapping a page registered as iouring fixed buffer", c07,
     "B4 (5.9-5.18): the fixed buffer's R/W longterm pin is on a page made R/O by mprotect; the "
     "write fault sees refcount 1+1024 (THP: 2) != 1 and copies, the pin loses coherence "
     "(fixed by PG_anon_exclusive, 6c287605fd56, 5.19)"},
    {8, "iouring_fork", "fork() with an iouring fixed buffer", c08,
     nullptr},  // early COW of pinned pages at fork since 5.9 (70e806e4e645); THP: split first
    {9, "ro_pin_shared", "R/O GUP pin on R/O-mapped shared page", c09,
     "no unsharing before 5.19: the R/O pin is taken on the page still shared with the child "
     "(mapcount 2); the parent's write fault copies (refcount != 1), the pin keeps the old page "
     "(FAULT_FLAG_UNSHARE, 31cc5bc4af70)"},
    {10, "ro_fast_pin_shared", "R/O GUP-fast pin on R/O-mapped shared page", c10,
     "as 9: GUP-fast has no (B5) gup_must_unshare check before 5.19 and pins the shared page"},
    {11, "ro_pin_previously_shared", "R/O GUP pin on R/O-mapped previously-shared page", c11,
     "the child exited, the page is mapped once but R/O; without PG_anon_exclusive only "
     "refcount == 1 proves it private, and the pin itself breaks that: the write fault copies "
     "(5.19 unshares on the pin: page_move_anon_rmap marks it exclusive)"},
    {12, "ro_fast_pin_previously_shared", "R/O GUP-fast pin on R/O-mapped previously-shared page",
     c12, "as 11, through GUP-fast"},
    {13, "ro_pin_exclusive", "R/O GUP pin on R/O-mapped exclusive page", c13,
     "B4 for a R/O pin: the page is private but mapped R/O (mprotect); the write fault sees "
     "refcount 1+1024 (THP: 2) and copies; 5.19 reuses it because it is PageAnonExclusive"},
    {14, "ro_fast_pin_exclusive", "R/O GUP-fast pin on R/O-mapped exclusive page", c14,
     "as 13, through GUP-fast"},
};
constexpr unsigned kNrCases = sizeof(kCases) / sizeof(kCases[0]);
static_assert(kNrCases == 14, "cow.c has 14 anonymous test cases");

using param = std::tuple<unsigned, kind, generation>;  // index into kCases

std::string param_name(const ::testing::TestParamInfo<param> &i) {
  const auto &[c, k, g] = i.param;
  char id[8];
  std::snprintf(id, sizeof id, "c%02d", kCases[c].id);
  return std::string(id) + "_" + kCases[c].ident + "_" + kind_name(k) + "_" + testing::gen_ident(g);
}

struct run_result {
  outcome o;
  std::string leftovers;
};
run_result run_case(const cow_case &c, kind k, generation g, mutant mu = mutant::none) {
  cow_world w(k, g, mu);
  run_result r;
  if (!w.setup()) {
    r.o = broken(k == kind::thp ? "THP not PMD-mapped" : "populate");
  } else {
    r.o = c.run(w);
  }
  r.leftovers = w.finish();
  return r;
}

class CowTable : public ::testing::TestWithParam<param> {};

TEST_P(CowTable, Run) {
  const auto &[ci, k, g] = GetParam();
  const cow_case &c = kCases[ci];
  if (k == kind::thp && c.thp_skip) GTEST_SKIP() << c.thp_skip;
  const bool xfail = g == generation::v5_18 && c.v5_18_xfail;
  RecordProperty("cow_case", c.title);
  RecordProperty("expected", xfail ? "XFAIL" : "PASS");
  const run_result r = run_case(c, k, g);
  EXPECT_EQ(r.leftovers, "") << c.title;
  EXPECT_TRUE(r.o.ran) << r.o.what;
  if (xfail) {
    EXPECT_FALSE(r.o.ok) << "XPASS: '" << c.title << "' (" << kind_name(k)
                         << ") passes on v5.18 but the table expects a failure because: "
                         << c.v5_18_xfail << " -- update the table";
    if (!r.o.ok)
      std::printf("[  XFAIL   ] %d %s (%s, v5.18): %s -- %s\n", c.id, c.title, kind_name(k),
                  r.o.what.c_str(), c.v5_18_xfail);
  } else {
    EXPECT_TRUE(r.o.ok) << c.title << ": " << r.o.what;
  }
}

INSTANTIATE_TEST_SUITE_P(Cow, CowTable,
                         ::testing::Combine(::testing::Range(0u, kNrCases),
                                            ::testing::Values(kind::base, kind::thp),
                                            ::testing::ValuesIn(kGenerations)),
                         param_name);

// The table's checks can fail: each replayed historical bug (a mutant of
// the catalogue, core/README.md) on top of v6.2 makes the case that guards against it fail.
struct mutant_probe {
  unsigned id;  // case id
  mutant mu;
};
class CowTableMutants : public ::testing::TestWithParam<std::tuple<mutant_probe, kind>> {};

TEST_P(CowTableMutants, CaseCatchesTheBug) {
  const auto &[probe, k] = GetParam();
  const cow_case &c = kCases[probe.id - 1];
  const run_result r = run_case(c, k, generation::v6_2, probe.mu);
  // A case that could not run (a fault that failed, a pin refused) has not
  // caught anything: the check itself must have failed.
  ASSERT_TRUE(r.o.ran) << mutant_name(probe.mu) << ": '" << c.title << "' " << r.o.what;
  EXPECT_FALSE(r.o.ok) << mutant_name(probe.mu) << " not caught by '" << c.title << "'";
}

std::string probe_name(const ::testing::TestParamInfo<std::tuple<mutant_probe, kind>> &i) {
  const auto &[p, k] = i.param;
  return std::string("c") + std::to_string(p.id) + "_" + mutant_name(p.mu) + "_" + kind_name(k);
}

INSTANTIATE_TEST_SUITE_P(
    Cow, CowTableMutants,
    ::testing::Combine(::testing::Values(mutant_probe{3, mutant::b3_reuse_mapcount1},
                                         mutant_probe{7, mutant::b4_no_exclusive_reuse},
                                         mutant_probe{13, mutant::b4_no_exclusive_reuse},
                                         mutant_probe{8, mutant::b5_fork_ignores_pins},
                                         mutant_probe{9, mutant::ro_pin_no_unshare},
                                         mutant_probe{10, mutant::ro_pin_no_unshare}),
                       ::testing::Values(kind::base, kind::thp)),
    probe_name);

}  // namespace
}  // namespace anonx
