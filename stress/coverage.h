// SPDX-License-Identifier: GPL-2.0-only
// coverage.h: the coverage model of the protocol's state space, as data.
//
// A *cell* is (page state reached by a set-up sequence) x (path) x (racer:
// a reference holder or a second path). Every cell is marked feasible or
// not, with the reason where not; each feasible cell is a generated
// lockstep scenario named after it ("swapcache+getref/swapout/write-fault"):
// role 0 reaches the state, both roles run their operations in lockstep
// with the harness's window alignment and preemption points, and role 0
// checks oracles that need no knowledge of any bug (coverage.cc):
// conservation (audit.h), data coherence for every reference holder and
// every mm, and exclusivity over every mm of the group.
#pragma once

#include <string>
#include <vector>

#include "stress.h"

namespace anonx::stress {

// One row of an axis of the model.
struct cov_axis {
  const char *name;
  const char *description;
};
const std::vector<cov_axis> &coverage_states();
// Paths first, then the reference holders; a racer is any of them.
const std::vector<cov_axis> &coverage_ops();
unsigned coverage_nr_paths();  // coverage_ops()[0, n) are paths

struct cov_cell {
  std::string name;  // state/path/racer
  unsigned state, path, racer;
  bool feasible;
  std::string reason;  // why not, for an infeasible cell
};
// Every cell of the model, feasible or not.
const std::vector<cov_cell> &coverage_cells();
// One lockstep scenario per feasible cell (scenario::cell is its index in
// coverage_cells()).
const std::vector<scenario> &coverage_scenarios();
std::unique_ptr<lockstep_instance> make_coverage_instance(machine &m, unsigned cell);

// Test-only: a hook that leaks one reference on the page under test of the
// next iterations of generated cells (the conservation oracles' liveness
// test), one that makes a FOLL_GET reader see the process's later write and
// one that drops the process's last write (the data oracles' liveness
// tests). Off in every run of the harness.
struct coverage_test_hooks {
  bool leak_ref = false;
  bool reader_sees_later_write = false;
  bool lose_write = false;  // the process's page loses its last write to word 0
};
coverage_test_hooks &coverage_hooks();

}  // namespace anonx::stress
