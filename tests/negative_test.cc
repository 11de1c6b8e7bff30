// SPDX-License-Identifier: GPL-2.0-only
// negative_test.cc: every mutant of ANONX_MUTANTS (core/protocol.h) replayed
// as a scripted interleaving (tests/step_scheduler.h) of the scenario it
// breaks (tests/negative_scenarios.cc), with the forbidden outcome
// asserted; the same script on the correct protocol (mutant none, same
// generation) must show none. The executable's other files:
// tests/negative_generations_test.cc (every generation's correct protocol
// on every script, and the waits that differ between generations) and
// tests/step_scheduler_test.cc (the scheduler itself).
//
// Forbidden outcomes are the sink's named violations (I1, I9, I3,
// walk-of-freed-table, VM_BUG_ON:...) plus what the test checks itself:
//   I2                    a committed pin whose address no longer maps the page
//   data:dma-lost         a device write through a pin/ref the process never reads
//   data:pin-stale        a R/O pin that does not see the process's write
//   data:file-modified    a FOLL_FORCE write reached the page cache
//   data:pipe-sees-parent-write  vmsplice'd page changed by the parent after fork
//   data:lost-PG_referenced      a concurrent atomic flag update lost (B12)
//   table-freed-under-gup-fast   a page table freed inside a GUP-fast section
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "negative_rig.h"

namespace anonx::test {
namespace {

TEST(NegativeTable, EveryMutantHasAScenario) {
  ASSERT_EQ(scenarios().size(), kNrMutants);
  for (const auto &mi : kMutants) EXPECT_TRUE(scenario_of(mi.id).run) << mi.name;
}

class Negative : public ::testing::TestWithParam<mutant> {};

// The mutant, on its base generation, with the scripted reorderings: the
// forbidden outcome must be observed.
TEST_P(Negative, Caught) {
  const mutant m = GetParam();
#ifdef ANONX_TSAN
  if (m == mutant::b12_nonatomic_flag)
    GTEST_SKIP() << "b12's plain read-modify-write of page->flags is a deliberate data race "
                    "that ThreadSanitizer reports; a separate TSan-only test covers it";
#endif
  const scenario &s = scenario_of(m);
  ASSERT_TRUE(s.run);
  const outcome o = s.run(script_protocol(s, info(m).base, m));
  if (getenv("NEGATIVE_VERBOSE")) std::cout << o.describe();
  ASSERT_EQ(o.sched, "") << o.describe();
  EXPECT_TRUE(o.has(s.expect)) << mutant_name(m) << " must show " << s.expect << "\n"
                               << o.describe();
}

// The same script on the correct protocol of the same generation: nothing
// forbidden, no violation of any kind.
TEST_P(Negative, CorrectIsSafe) {
  const mutant m = GetParam();
  const scenario &s = scenario_of(m);
  ASSERT_TRUE(s.run);
  const outcome o = s.run(script_protocol(s, info(m).base, mutant::none));
  if (getenv("NEGATIVE_VERBOSE")) std::cout << o.describe();
  ASSERT_EQ(o.sched, "") << o.describe();
  EXPECT_TRUE(o.forbidden.empty()) << o.describe();
}

std::vector<mutant> all_mutants() {
  std::vector<mutant> v;
  for (const auto &mi : kMutants) v.push_back(mi.id);
  return v;
}

INSTANTIATE_TEST_SUITE_P(All, Negative, ::testing::ValuesIn(all_mutants()),
                         [](const ::testing::TestParamInfo<mutant> &i) {
                           return std::string(mutant_name(i.param));
                         });

}  // namespace
}  // namespace anonx::test
