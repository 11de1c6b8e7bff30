// SPDX-License-Identifier: GPL-2.0-only
// coverage_test.cc: the coverage model (stress/coverage.h) run without
// threads. Every feasible cell, its two operations one after the other in
// both orders, is a deterministic test of the same set-up, oracles and
// conservation audit the stress harness races; and every oracle the model
// added (conservation, data) is made to fire once on purpose.
#include "coverage.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "stress.h"

namespace anonx::stress {
namespace {

// One group of two roles on one thread: role 0 sets up, checks and resets,
// as the lockstep runner does, the steps run in a fixed order.
struct sequential_group {
  machine m{4096, 2, 2, 64, 2048};
  actor roles[2];
  violation_sink sink;
  conservation_audit audit;
  std::unique_ptr<lockstep_instance> inst;
  explicit sequential_group(const cov_cell &c, unsigned cell, generation g) {
    for (unsigned r = 0; r < 2; r++) {
      actor &a = roles[r];
      a.env.proto.gen = g;
      a.env.m = &m;
      a.env.cpu = r;
      a.env.stats = &a.stats;
      a.env.hooks = &a.hooks;
      a.role = r;
    }
    (void)c;
    this_cpu_report() = {&sink, 0, 0};
    inst = make_coverage_instance(m, cell);
    inst->setup(roles[0]);
  }
  // One iteration; true when it ran (its set-up reached the state and no
  // access failed).
  bool iterate(uint64_t it, bool racer_first) {
    for (actor &a : roles) a.iteration = it;
    if (racer_first) {
      inst->step(roles[1]);
      inst->step(roles[0]);
    } else {
      inst->step(roles[0]);
      inst->step(roles[1]);
    }
    inst->check(roles[0]);
    std::vector<owned_ref> owners;
    inst->owned(owners);
    audit.run(m, owners, roles[0].env.has_anon_exclusive());
    const bool ran = !roles[0].access_failed && !roles[1].access_failed;
    roles[0].access_failed = roles[1].access_failed = false;
    roles[0].iteration = it + 1;
    inst->reset(roles[0]);
    return ran;
  }
  void finish() {
    inst->teardown(roles[0]);
    inst.reset();
    reclaim_orphan_swap_cache(roles[0].env);
    conservation_audit::audit_empty(m);
  }
  std::set<std::string> fired() const {
    std::set<std::string> out;
    for (auto &r : sink.records()) out.insert(r.check);
    return out;
  }
};

unsigned cell_index(const std::string &name) {
  const auto &cells = coverage_cells();
  for (unsigned i = 0; i < cells.size(); i++)
    if (cells[i].name == name) return i;
  ADD_FAILURE() << "no cell " << name;
  return 0;
}

// Runs every feasible cell sequentially; returns the cells with reports.
std::map<std::string, std::set<std::string>> run_all(generation g, unsigned *ran_cells) {
  std::map<std::string, std::set<std::string>> failed;
  const auto &cells = coverage_cells();
  *ran_cells = 0;
  for (unsigned i = 0; i < cells.size(); i++) {
    if (!cells[i].feasible) continue;
    sequential_group grp(cells[i], i, g);
    bool ran = false;
    for (uint64_t it = 0; it < 4; it++) ran |= grp.iterate(it, it & 1);
    grp.finish();
    *ran_cells += ran;
    if (grp.sink.total()) failed[cells[i].name] = grp.fired();
  }
  return failed;
}

TEST(Coverage, ModelIsData) {
  std::set<std::string> names;
  unsigned feasible = 0;
  for (const auto &c : coverage_cells()) {
    EXPECT_TRUE(names.insert(c.name).second) << "duplicate cell " << c.name;
    EXPECT_EQ(c.feasible, c.reason.empty()) << c.name << ": an infeasible cell gives its reason";
    feasible += c.feasible;
  }
  EXPECT_GE(feasible, 60u);
  EXPECT_EQ(feasible, coverage_scenarios().size());
  for (const auto &s : coverage_scenarios()) EXPECT_EQ(find_scenario(s.name), &s);
}

TEST(Coverage, SequentialCellsCleanV62) {
  unsigned ran = 0;
  const auto failed = run_all(generation::v6_2, &ran);
  for (auto &[cell, checks] : failed)
    ADD_FAILURE() << cell << ": " << *checks.begin() << (checks.size() > 1 ? " ..." : "");
  EXPECT_EQ(ran, coverage_scenarios().size()) << "every feasible cell reaches its state";
}

TEST(Coverage, SequentialCellsCleanV519) {
  unsigned ran = 0;
  const auto failed = run_all(generation::v5_19, &ran);
  for (auto &[cell, checks] : failed)
    ADD_FAILURE() << cell << ": " << *checks.begin() << (checks.size() > 1 ? " ..." : "");
  EXPECT_EQ(ran, coverage_scenarios().size());
}

// v5.18 has no PG_anon_exclusive: a R/O pin goes incoherent when the page
// was shared or gets write-protected (the wrong COW 5.19 fixed), and an
// O_DIRECT read is lost across swap (no SWP_EXCLUSIVE). The sequential
// cells replay both, and nothing else.
TEST(Coverage, SequentialCellsReplayV518Bugs) {
  unsigned ran = 0;
  const auto failed = run_all(generation::v5_18, &ran);
  bool ro_pin = false, odirect = false;
  for (auto &[cell, checks] : failed) {
    for (auto &c : checks)
      EXPECT_TRUE(c == "I2" || c == "I2-data" || c == "I2-odirect") << cell << ": " << c;
    ro_pin |= cell.find("-ro") != std::string::npos && checks.count("I2");
    odirect |= cell.find("getref-odirect") != std::string::npos && checks.count("I2-odirect");
  }
  EXPECT_TRUE(ro_pin);
  EXPECT_TRUE(odirect);
}

// ---- the oracles fire ------------------------------------------------------

struct hooks_guard {
  ~hooks_guard() { coverage_hooks() = {}; }
};

std::set<std::string> run_cell_with_hook(const std::string &name) {
  const unsigned i = cell_index(name);
  sequential_group grp(coverage_cells()[i], i, generation::v6_2);
  for (uint64_t it = 0; it < 2; it++) grp.iterate(it, false);
  coverage_hooks() = {};
  grp.finish();
  return grp.fired();
}

TEST(CoverageOracles, LeakedReferenceIsLeakRef) {
  hooks_guard g;
  coverage_hooks().leak_ref = true;
  const auto fired = run_cell_with_hook("excl/write-fault/read-fault");
  EXPECT_TRUE(fired.count("leak-ref"));
  EXPECT_TRUE(fired.count("leak-frame")) << "the leaked page is never freed";
}

TEST(CoverageOracles, ReaderSeeingALaterWriteIsDataLeak) {
  hooks_guard g;
  coverage_hooks().reader_sees_later_write = true;
  EXPECT_TRUE(run_cell_with_hook("shared/write-fault/getref-vmsplice").count("data-leak"));
}

TEST(CoverageOracles, LostWriteIsDataLost) {
  hooks_guard g;
  coverage_hooks().lose_write = true;
  EXPECT_TRUE(run_cell_with_hook("excl/mprotect/write-fault").count("data-lost"));
}

// The audit alone, on states broken by hand.
struct audit_rig {
  machine m{4096, 2, 2, 64, 2048};
  actor a;
  violation_sink sink;
  conservation_audit audit;
  std::unique_ptr<mm_struct> mm = std::make_unique<mm_struct>(m);
  audit_rig() {
    a.env.proto.gen = generation::v6_2;
    a.env.m = &m;
    a.env.stats = &a.stats;
    this_cpu_report() = {&sink, 0, 0};
    mmap_region(a.env, *mm, 0, PTRS_PER_PTE, VM_READ | VM_WRITE);
    mmap_region(a.env, *mm, PTRS_PER_PTE, PTRS_PER_PTE, VM_READ | VM_WRITE | VM_HUGEPAGE);
  }
  page *touch(unsigned long addr) {
    uint64_t v = 1;
    EXPECT_TRUE(cpu_access(a.env, *mm, addr, 0, true, &v));
    return a.env.pfn_to_page(static_cast<unsigned long>(mapped_pfn(*mm, addr)));
  }
  bool fires(const char *check) {
    audit.run(m, {}, true);
    for (auto &r : sink.records())
      if (r.check == check) return true;
    return false;
  }
  ~audit_rig() { exit_mmap(a.env, *mm); }
};

TEST(CoverageOracles, MissingReferenceIsRefLost) {
  audit_rig r;
  page *p = r.touch(3);
  p->_refcount.fetch_sub(1);
  EXPECT_TRUE(r.fires("ref-lost"));
  p->_refcount.fetch_add(1);
}

TEST(CoverageOracles, PincountWithoutPinIsLeakPin) {
  audit_rig r;
  page *head = compound_head(r.touch(PTRS_PER_PTE + 1));
  ASSERT_TRUE(PageHead(head));
  head[1].compound_pincount.fetch_add(1);
  EXPECT_TRUE(r.fires("leak-pin"));
  head[1].compound_pincount.fetch_sub(1);
}

TEST(CoverageOracles, SwapCountAboveEntriesIsLeakSwap) {
  audit_rig r;
  page *p = r.touch(3);
  ASSERT_TRUE(shrink_page(r.a.env, p));
  const pte_t pte{pte_table_of<stress_env>(*r.mm, 3)->pte[3].load()};
  ASSERT_TRUE(is_swap_entry(pte));
  r.m.swap.swap_duplicate(swp_offset(pte));
  EXPECT_TRUE(r.fires("leak-swap"));
  r.m.swap.swap_free(swp_offset(pte));
}

TEST(CoverageOracles, FreedSlotStillReferencedIsSwapLost) {
  audit_rig r;
  page *p = r.touch(3);
  ASSERT_TRUE(shrink_page(r.a.env, p));
  auto *ptep = &pte_table_of<stress_env>(*r.mm, 3)->pte[3];
  const pte_t pte{ptep->load()};
  ASSERT_TRUE(is_swap_entry(pte));
  r.m.swap.swap_free(swp_offset(pte));  // the slot goes, the entry stays
  EXPECT_TRUE(r.fires("swap-lost"));
  ptep->store(0);
}

TEST(CoverageOracles, UnreachableFrameIsLeakFrame) {
  audit_rig r;
  page *lost = r.a.env.alloc_page(0);
  EXPECT_TRUE(r.fires("leak-frame"));
  r.a.env.put_page(lost);
}

TEST(CoverageOracles, ExclusivePageInTwoMmsIsI4Mm) {
  audit_rig r;
  page *p = r.touch(3);
  mm_struct child(r.m);
  ASSERT_EQ(dup_mmap(r.a.env, child, *r.mm), 0);
  ASSERT_EQ(mapped_pfn(child, 3), static_cast<long>(p->pfn));
  SetPageAnonExclusive(p);  // as a fork that forgot to clear it
  EXPECT_TRUE(r.fires("I4-mm"));
  ClearPageAnonExclusive(p);
  exit_mmap(r.a.env, child);
}

TEST(CoverageOracles, TeardownWithAFrameLeftIsLeakFrame) {
  audit_rig r;
  page *lost = r.a.env.alloc_page(0);
  exit_mmap(r.a.env, *r.mm);
  conservation_audit::audit_empty(r.m);
  bool fired = false;
  for (auto &rec : r.sink.records()) fired |= rec.check == "leak-frame";
  EXPECT_TRUE(fired);
  r.a.env.put_page(lost);
}

}  // namespace
}  // namespace anonx::stress
