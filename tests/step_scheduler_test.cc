// SPDX-License-Identifier: GPL-2.0-only
// step_scheduler_test.cc: tests/step_scheduler.h itself (part of the
// negative_test executable): the script's order is enforced, a deviation
// and a deadlock are reported by name, and a required entry of an actor
// that finished fails the run.
#include "step_scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "anonx.h"

namespace anonx::test {
namespace {

TEST(StepScheduler, EnforcesTheScriptOrder) {
  std::vector<std::string> order;
  std::mutex mu;
  step_scheduler s({"A", "B"}, {run(1, "x"), run(0, "x"), run(1, "y"), run(0, "y")});
  violation_sink sink;
  auto body = [&](int me) {
    return [&, me] {
      for (const char *l : {"x", "y"}) {
        s.at(me, l);
        std::lock_guard<std::mutex> g(mu);
        order.push_back(std::string(me ? "B" : "A") + l);
      }
    };
  };
  run_actors(s, sink, {body(0), body(1)});
  EXPECT_EQ(s.verdict(), "");
  EXPECT_EQ(order, (std::vector<std::string>{"Bx", "Ax", "By", "Ay"}));
}

TEST(StepScheduler, ReportsADeviation) {
  step_scheduler s({"A"}, {run(0, "y"), run(0, "x")});
  violation_sink sink;
  run_actors(s, sink, {[&] {
               s.at(0, "x");
               s.at(0, "y");
             }});
  EXPECT_NE(s.verdict().find("A reached x but the script expects A:y"), std::string::npos)
      << s.verdict();
}

TEST(StepScheduler, ReportsATimeoutInsteadOfHanging) {
  // B's step spins until A has passed z, but the script wants B's step done
  // before A's z: a deadlock the timeout must break and name.
  std::atomic<bool> go{false};
  step_scheduler s({"A", "B"}, {run(1, "x"), run(0, "z")}, 200ms);
  violation_sink sink;
  run_actors(s, sink,
             {[&] {
                s.at(0, "z");
                go = true;
              },
              [&] {
                s.at(1, "x");
                for (int i = 0; i < 10000 && !go; i++) std::this_thread::sleep_for(1ms);
              }});
  EXPECT_NE(s.verdict().find("timeout"), std::string::npos) << s.verdict();
  EXPECT_NE(s.verdict().find("A blocked at z"), std::string::npos) << s.verdict();
}

TEST(StepScheduler, RequiredEntryOfAFinishedActorFails) {
  step_scheduler s({"A"}, {run(0, "never")});
  violation_sink sink;
  run_actors(s, sink, {[] {}});
  EXPECT_NE(s.verdict().find("finished before reaching A:never"), std::string::npos) << s.verdict();
}

}  // namespace
}  // namespace anonx::test
