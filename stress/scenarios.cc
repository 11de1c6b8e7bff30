// SPDX-License-Identifier: GPL-2.0-only
// scenarios.cc: the threaded implementation of the registry's presets
// (harness/registry.cc names them, says what they race and which mutants
// each is meant to expose). Each lockstep scenario is a litmus test of two
// (or more) kernel paths racing on one page, with its outcomes graded and
// its oracles named.
//
// Roles run their step concurrently after a rendezvous; role 0 then checks
// (oracles, data) and resets the page to the scenario's start state.
// Set-up shortcuts that stand for a kernel mechanism are named where used.
#include <stdexcept>

#include "coverage.h"
#include "presets.h"

namespace anonx::stress {

// The threaded implementation of each preset of the registry that the
// threads back end may run (harness/registry.cc has the rest of each entry).
const std::vector<scenario> &scenarios() {
  using maker = std::unique_ptr<lockstep_instance> (*)(machine &);
  static const std::vector<presets::binding> bindings = [] {
    std::vector<presets::binding> all;
    for (auto part : {presets::clearer_bindings, presets::fork_bindings,
                      presets::thp_file_bindings})
      for (auto &b : part()) all.push_back(b);
    return all;
  }();
  static const std::vector<scenario> table = [] {
    std::vector<scenario> t;
    for (const auto &d : harness::registry()) {
      if (!(d.backends & (harness::kLockstep | harness::kFree))) continue;
      maker mk = nullptr;
      for (const auto &[id, m] : bindings)
        if (id == d.id) mk = m;  // at most one: a second binding is the same id bound twice
      if ((d.backends & harness::kLockstep) && !mk)
        throw std::logic_error(std::string("no threaded instance for ") + d.name);
      t.push_back({d.name, d.description, d.roles, d.oracles, d.nr_roles, d.free_kinds,
                   d.inject_default, mk, -1, &d});
    }
    return t;
  }();
  return table;
}

const scenario *find_scenario(const std::string &name) {
  for (const auto &s : scenarios())
    if (name == s.name) return &s;
  for (const auto &s : coverage_scenarios())
    if (name == s.name) return &s;
  return nullptr;
}

}  // namespace anonx::stress
