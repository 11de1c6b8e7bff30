// SPDX-License-Identifier: GPL-2.0-only
// negative_generations_test.cc: the scripts of tests/negative_scenarios.cc
// on every generation: the correct protocol of each, on both platforms,
// shows no violation where the script is valid; v5.19 still shows the bugs
// of its time; and the waits that differ between generations (v5.19's
// clearer for a GUP-fast section, khugepaged's sync IPI from 6.1).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "negative_rig.h"

namespace anonx::test {
namespace {

// Every generation with the flag, on both platforms, mutant none: every
// script valid there (its platform; the generation has the fix) runs
// without a single violation.
void run_generation(generation g) {
  for (const auto pl : kPlatforms)
    for (const auto &s : scenarios()) {
      if ((s.rcu_only && pl != platform::rcu) || g < s.since || g > s.until) continue;
      const outcome o = s.run(script_protocol(s, g, mutant::none, pl));
      const std::string what = std::string(generation_name(g)) + " " + platform_name(pl) + " " +
                               mutant_name(s.m) + "'s script\n";
      EXPECT_EQ(o.sched, "") << what << o.describe();
      EXPECT_TRUE(o.forbidden.empty()) << what << o.describe();
    }
}
TEST(Generations, V5_19_NoViolations) { run_generation(generation::v5_19); }
TEST(Generations, V6_0_NoViolations) { run_generation(generation::v6_0); }
TEST(Generations, V6_1_NoViolations) { run_generation(generation::v6_1); }
TEST(Generations, V6_2_NoViolations) { run_generation(generation::v6_2); }

// The bugs each generation still had, on the scripts of the mutants that
// replay them: 5.19 follows a dirty R/O PTE after a COW (B2,
// CVE-2022-2590), and on RCU-table platforms re-checks the PTE only (B10).
TEST(Generations, V5_19_HasTheBugsOfItsTime) {
  const scenario &b2 = scenario_of(mutant::b2_force_write_dirty);
  const outcome o2 = b2.run(script_protocol(b2, generation::v5_19, mutant::none));
  ASSERT_EQ(o2.sched, "") << o2.describe();
  EXPECT_TRUE(o2.has(b2.expect)) << o2.describe();
  const scenario &b10 = scenario_of(mutant::b10_recheck_pte_only);
  const outcome o10 = b10.run(script_protocol(b10, generation::v5_19, mutant::none));
  ASSERT_EQ(o10.sched, "") << o10.describe();
  EXPECT_TRUE(o10.has(b10.expect)) << o10.describe();
}

// v5.19's clearer waits in (A1) for a GUP-fast section that read the old PTE:
// G reads the PTE, C clears it (async: C may block), C gets 500 ms to reach
// (A2) (timed arrive), then G pins and re-checks. Correct v5.19: C is held
// until G's section ends (the arrive times out), G's (B4) sees the cleared
// PTE and backs off. v519_flush_no_wait: C does not wait (the arrive is met).
outcome v519_wait_demo(runtime_protocol p, page **pinned_out) {
  world w(p);
  page *P = w.anon_page();
  page *pinned = nullptr;
  enum { C, G };
  w.race(
      {"C", "G"},
      {run(G, "B1"), async(C, "A1"), arrive(C, "A2", false, 500ms), run(G, "B3"), run(G, "B4"),
       run(G, "SEQ"), run(C, "A2"), opt(C, "A3"), opt(C, "A4")},
      {[&](stress_env &e) { shrink_page(e, P); }, w.pinner(pinned, FOLL_WRITE | FOLL_FAST_ONLY)});
  *pinned_out = pinned;
  w.pin_aftermath(pinned, 0, true);
  return w.result();
}
TEST(Generations, V5_19_ClearerWaitsForGupFastSection) {
  page *pinned = nullptr;
  const outcome o = v519_wait_demo({generation::v5_19, mutant::none, true}, &pinned);
  ASSERT_EQ(o.sched, "") << o.describe();
  EXPECT_EQ(o.met[2], 0) << "the clearer reached (A2) while GUP-fast was inside its section\n"
                         << o.describe();
  EXPECT_EQ(pinned, nullptr) << "GUP-fast's (B4) must see the cleared PTE";
  EXPECT_TRUE(o.forbidden.empty()) << o.describe();

  const outcome n = v519_wait_demo({generation::v5_19, mutant::v519_flush_no_wait, true}, &pinned);
  ASSERT_EQ(n.sched, "") << n.describe();
  EXPECT_EQ(n.met[2], 1) << "v519_flush_no_wait must not wait for the section\n" << n.describe();
}

// khugepaged's wait for GUP-fast (deviation 1 of the fidelity review): G
// reads the PMD (B1) and stays in its IRQ-off section; C collapses (async:
// C may block) and gets 500 ms to reach its reference check
// (COLLAPSE_COPY, timed arrive); then G pins. On x86 the collapse flush's
// IPI waits for G; on rcu only 6.1's tlb_remove_table_sync_one() does: 6.0
// on rcu goes on (the B10 window, closed there by the PMD re-check alone).
outcome collapse_wait_demo(runtime_protocol p) {
  world w(p);
  w.populated_pmd();
  page *pinned = nullptr;
  enum { G, C };
  w.race({"G", "C"},
         {run(G, "B1"), async(C, "COLLAPSE"), arrive(C, "COLLAPSE_COPY", false, 500ms),
          run(G, "B3"), run(G, "B4"), run(G, "SEQ"), opt(C, "COLLAPSE_COPY")},
         {w.pinner(pinned, FOLL_WRITE | FOLL_FAST_ONLY, 5),
          [&](stress_env &e) { collapse_huge_page(e, w.mm, 0); }});
  w.pin_aftermath(pinned, 5, true);
  return w.result();
}
TEST(Generations, V6_1_CollapseWaitsForGupFastSection) {
  struct {
    generation g;
    platform pl;
    bool waits;
  } cases[] = {{generation::v6_0, platform::x86, true},
               {generation::v6_0, platform::rcu, false},
               {generation::v6_1, platform::rcu, true},
               {generation::v6_2, platform::rcu, true},
               {generation::v6_2, platform::x86, true}};
  for (const auto &c : cases) {
    runtime_protocol p{c.g, mutant::none, true};
    p.plat = c.pl;
    const outcome o = collapse_wait_demo(p);
    const std::string what = std::string(generation_name(c.g)) + " " + platform_name(c.pl);
    ASSERT_EQ(o.sched, "") << what << "\n" << o.describe();
    EXPECT_EQ(o.met[2], c.waits ? 0 : 1)
        << what
        << (c.waits ? ": the collapse reached its reference check while GUP-fast was "
                      "inside its section"
                    : ": the collapse waited for GUP-fast")
        << "\n"
        << o.describe();
    EXPECT_TRUE(o.forbidden.empty()) << what << "\n" << o.describe();
  }
}

}  // namespace
}  // namespace anonx::test
