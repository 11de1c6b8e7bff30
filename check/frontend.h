// SPDX-License-Identifier: GPL-2.0-only
// frontend.h: what the files of anonx-check share: the scenarios as this back
// end runs them, the options, the searches, a cell's result, and the
// functions each file gives the others (scenarios.cc binds the registry to
// the Relacy pairs and runs a cell, options.cc parses, search.cc sets up the
// searches and reads Relacy's history, run.cc runs scenarios and writes the
// report, kill_matrix.cc the kill matrix, list.cc the listings, main.cc the
// core/ hooks and main()).
#pragma once

#include "pairs.h"
// clang-format off
#include <unistd.h>
// clang-format on

#include <optional>

#include "cli.h"
#include "json.h"
#include "registry.h"
#include "report.h"
#include "verdict.h"

namespace anonx::check {

using harness::json;
using cli::bad;
using cli::parse_u64;
using cli::split;
using cli::usage_error;

using runner = pair_result (*)(const rl::test_params &);

// A scenario of the registry (harness/registry.cc) as this back end runs
// it: its Relacy pair (pairs.h), or why there is none.
struct scenario {
  const char *name;
  harness::scenario_id id;
  const char *shape;  // the pairing it checks
  const char *description;
  const char *oracles;
  bool bounded;         // small enough for the bounded and full searches (a persistent pair)
  runner run;           // nullptr: does not fit the back end
  const char *why_not;  // does not fit; or, with run, why it is not in --scenario all
  // A known finding (harness/registry.h relacy_def): run like any cell, the
  // pair must fail with one of these checks there; passing is a failure of
  // the run (the finding is gone: update the registry), as is failing with
  // another check.
  const char *finding_check = nullptr;
  platform finding_platform = platform::rcu;
  const char *finding = nullptr;
};

struct options {
  bool list = false, list_json = false, kill_matrix = false, quiet = false, full = false;
  bool sites = false;
  std::vector<const scenario *> scens;
  bool scen_given = false;
  runtime_protocol proto;
  bool protocol_given = false;
  std::vector<platform> platforms{platform::rcu};
  const mutant_info *mut = nullptr;
  uint64_t iterations = 0;  // 0: not given
  int context_bound = -1;   // -1: not given
  uint64_t seed = 0;
  unsigned seeds = 3;  // --kill-matrix: random searches per cell, from --seed on
  std::string json_path;
  std::optional<site_key> weaken;
  std::vector<std::string> argv;
};

struct search {
  std::string kind;  // "random", "context-bound", "full"
  uint64_t iterations = 0;
  unsigned bound = 0;
};

struct cell_result {
  const scenario *s;
  platform plat;
  search srch;
  pair_result r;
  bool finding = false;     // a known finding's cell (scenario::finding)
  bool reproduced = false;  // it failed with the finding's check, as expected
};

const std::vector<scenario> &scenarios();
const scenario *find_scenario(const std::string &n);
// Does the mutant's catalogue entry target the preset s stands for?
bool names_mutant(const mutant_info &m, const scenario &s);
cell_result run_cell(const scenario &s, platform pl, const search &sr, const runtime_protocol &pr,
                     uint64_t seed);
options parse(int argc, char **argv);
std::string usage();
std::vector<search> searches_of(const options &o);
rl::test_params params_of(const search &s, uint64_t seed);
std::string short_site(std::string in_part);
std::string verdict_of(const std::string &hist, const std::string &fallback);
std::string readable_trace(const std::string &hist);
bool finding_cell(const scenario &s, platform pl, generation gen);
bool finding_failure(const scenario &s, const std::string &what);
json context_json(const options &o);
json cell_json(const cell_result &c);
std::string rerun_line(const options &o, const cell_result &c);
int run_scenarios(const options &o);
int run_kill_matrix(const options &o);
int list(const options &o);
int list_sites(const options &o);

}  // namespace anonx::check
