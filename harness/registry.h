// SPDX-License-Identifier: GPL-2.0-only
// registry.h: the scenario registry. Every scenario anonx races is defined
// here once: its roles, the page state it starts from, the oracles that
// judge it, the mutants it is meant to expose (in the order the kill matrix
// tries them) and the back ends that may run it. The back ends bind their
// implementation to a scenario_id (stress/scenarios.cc: the threaded
// instance; check/pairs.h: the Relacy pair) and take every name, text and
// target list from here, so a scenario's quoted name stands in registry.cc
// alone and adding one is one entry there plus its implementations.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol.h"

namespace anonx::harness {

// The back ends that may run a scenario.
enum backend : unsigned {
  kLockstep = 1u << 0,  // anonx-stress: real threads meeting every iteration
  kFree = 1u << 1,      // anonx-stress --mode free: free-running torture
  kRelacy = 1u << 2,    // anonx-check: the C++ memory model (Relacy)
  kTsan = 1u << 3,      // the threaded back end under ThreadSanitizer (build-tsan/)
};

// Actor kinds of free mode (stress/free.cc): which actors loop in a cell.
enum actor_kind : unsigned {
  K_PROCESS = 1u << 0,
  K_PINNER = 1u << 1,
  K_RECLAIM = 1u << 2,
  K_MIGRATE = 1u << 3,
  K_KSM = 1u << 4,
  K_KHUGEPAGED = 1u << 5,
  K_SPLIT = 1u << 6,
  K_FORK = 1u << 7,
  K_MUNMAP = 1u << 8,
  K_LRU = 1u << 9,
  K_CHECKER = 1u << 10,
};
inline constexpr unsigned kAllKinds = K_PROCESS | K_PINNER | K_RECLAIM | K_MIGRATE | K_KSM |
                                      K_KHUGEPAGED | K_SPLIT | K_FORK | K_MUNMAP | K_LRU |
                                      K_CHECKER;

// Every scenario, in registry order: the presets first (the order of
// anonx-stress --list), then the Relacy variants, each of which stands for
// the preset it `mirrors`.
enum class scenario_id : uint8_t {
  fork_vs_gup_fast,
  fork_vs_pin,
  swapout_vs_gup_fast,
  migrate_vs_gup_fast,
  ksm_vs_gup_fast,
  wp_fault_vs_pin,
  vmsplice_cow,
  force_write_vs_zap,
  thp_collapse_vs_gup_fast,
  thp_split_vs_pin,
  swap_getref_odirect,
  flags_lock_vs_exclusive,
  munmap_vs_gup_fast,
  mixed,
  sb_clear_flag_vs_pin,
  mp_ksm_vs_ro_pin,
  swapout_vs_gup_fast_ro,
  fork_vs_gup_fast_ro,
  fork_vs_gup_fast_haspinned,
  count
};

// What the Relacy back end knows of a scenario.
struct relacy_def {
  const char *shape = "";        // the pairing it checks: SB (store buffering), MP, SB+MP
  const char *what = "";         // the pair, as anonx-check lists it
  const char *oracles = "";      // the checks the pair runs
  bool bounded = false;          // small enough for the bounded and full searches
  const char *why_not = nullptr;  // why it is not run (no pair) or not in --scenario all
  // A known finding: on `finding_platform` the correct protocol fails the
  // pair with one of `finding_check` (comma separated), as the kernel's own
  // code allows; a pass there fails the run (the finding is gone).
  const char *finding_check = nullptr;
  platform finding_platform = platform::rcu;
  const char *finding = nullptr;
};

struct scenario_def {
  scenario_id id;
  const char *name;
  const char *description;  // what races (anonx-stress --list)
  const char *roles;        // the lockstep roles, in order
  const char *oracles;      // what is checked
  const char *start;        // the page state the race starts from
  unsigned nr_roles;        // actors per group in lockstep (0: free mode only)
  unsigned free_kinds;      // actor kinds in free mode
  bool inject_default;      // window injection on by default (kill matrix)
  unsigned backends;        // backend bits
  scenario_id mirrors;      // the preset it stands for (itself for a preset)
  relacy_def relacy;
};

// Every scenario, indexed by scenario_id.
const std::vector<scenario_def> &registry();
inline const scenario_def &def(scenario_id id) { return registry()[static_cast<unsigned>(id)]; }
inline const char *name_of(scenario_id id) { return def(id).name; }
const scenario_def *find(const std::string &name);

// The scenarios meant to expose mutant m, in the order the kill matrix tries
// them (the first that kills it wins), and as one space-separated line.
const std::vector<scenario_id> &targets(mutant m);
std::string targets_text(mutant m);
// Does m target scenario s, or the preset s mirrors?
bool targets(mutant m, scenario_id s);
// The mutants meant to be exposed by scenario s (or by what it mirrors).
std::vector<mutant> mutants_of(scenario_id s);

}  // namespace anonx::harness
