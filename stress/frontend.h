// SPDX-License-Identifier: GPL-2.0-only
// frontend.h: what the files of anonx-stress's command line share: the
// options, the live progress of a run, its jobs, and the functions each file
// gives the others (options.cc parses, report.cc lists and writes reports,
// live.cc runs jobs with progress and checkpoints, run.cc runs scenarios and
// the coverage model, kill_matrix.cc the kill matrix, limits.cc checks the
// machine before any work, main.cc the signals and the exit code).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "cli.h"
#include "coverage.h"
#include "json.h"
#include "profile.h"
#include "stress.h"
#include "verdict.h"
#include "version.h"

namespace anonx::stress::cmd {

// Shared with anonx-check (harness/cli.h): the usage error, integers, lists,
// --protocol / --platform / --mutant, and the temporary-then-rename write.
using cli::bad;
using cli::parse_at_most;
using cli::parse_u64;
using cli::split;
using cli::temp_path;
using cli::usage_error;

extern const char *kStopNote;

struct options {
  bool list = false, list_json = false, kill_matrix = false, quiet = false, stop_on_first = false;
  std::vector<const scenario *> scens;
  std::string scenario_arg = "all";  // --scenario as given, resolved once all are parsed
  runtime_protocol proto;
  bool protocol_given = false;
  std::vector<platform> platforms{platform::x86};  // --platform: each cell runs on each
  const mutant_info *mut = nullptr;
  unsigned threads = 2;
  double duration = 1.0;
  uint64_t iterations = 0;
  uint64_t seed = 1;
  mode md = mode::lockstep;
  int inject = -1;          // -1: the scenario's default
  unsigned preempt = 4;     // lockstep: a preemption point in one iteration in N (0: none)
  unsigned fail_alloc = 0;  // --fail-alloc N: one allocation in N fails (0: none)
  std::vector<int> cpus;
  bool coverage = false;        // --coverage: every feasible cell of the coverage model
  bool duration_given = false;  // --duration (--coverage has its own default)
  bool json_given = false;      // --json, with a FILE or (after --list) without
  std::string json_path;
  unsigned seeds = 5;
  double budget = 10.0;
  unsigned shard_i = 1, shard_n = 1;
  unsigned long frames = ANONX_FRAMES;
  std::vector<std::string> disabled_checks;
  bool frames_given = false;
  double checkpoint = -1;  // seconds between checkpoints of --json; -1: 60 with --json
  std::string checkpoint_arg;
  double stat_interval = -1;  // seconds between stat lines off a terminal; -1: the default (60)
  bool profile = true;        // --profile on|off
  std::string profile_report_path;  // --profile-report FILE: print its profile tables
  json profile_report;              // ... read and checked by resolve()
  std::vector<std::string> argv;
};

std::string fmt_rate(double x);

// What the live monitor needs beyond progress (setup_live fills it from the
// options, run_jobs adds conc).
struct live_state {
  bool line = false;         // a live progress line on stderr (a terminal, not --quiet)
  double stat_interval = 0;  // seconds between plain stat lines; 0: none
  double checkpoint = 0;     // seconds between checkpoints of the JSON report; 0: none
  unsigned conc = 1;         // cells run at once
  std::function<void(const std::vector<cell_result> &, const std::vector<running_cell> &)>
      write_checkpoint;
  std::mutex mu;
  std::vector<cell_result> finished;  // copies, kept only for checkpoints
  void cell_done(const cell_result &r) {
    if (checkpoint <= 0) return;
    std::lock_guard<std::mutex> g(mu);
    finished.push_back(r);
  }
};

struct progress {
  explicit progress(bool q) : tty(isatty(2)), quiet(q) {}
  bool tty = false;
  bool quiet = false;
  size_t total = 0, done = 0;
  uint64_t violations = 0;
  double seconds_left = 0;
  std::mutex mu;
  live_state live;
  void update(const cell_result &r, double cell_seconds) {
    std::lock_guard<std::mutex> g(mu);
    done++;
    violations += r.violation_count;
    seconds_left = std::max(0.0, seconds_left - cell_seconds);
    if (quiet || !tty || live.line) return;
    std::fprintf(stderr,
                 "\r[%zu/%zu] %-25s %-6s %-22s %9s ops/s  %" PRIu64 " violations  ~%.0f s left   ",
                 done, total, r.spec.sc->name, generation_name(r.spec.proto.gen),
                 mutant_name(r.spec.proto.mut),
                 fmt_rate(r.ops / std::max(1e-9, r.elapsed_s)).c_str(), violations, seconds_left);
    if (done == total) std::fprintf(stderr, "\n");
  }
};

// A job: cells run in order until one detects a violation (its time to
// detection then includes the time spent in the cells before it). A
// scenario run is one job a cell; a kill-matrix job is one mutant and one
// seed over its scenarios, or one control cell. expect_s: its expected
// seconds, for the progress line's time left.
struct job {
  std::vector<cell_spec> cells;
  double expect_s = 0;
};

double parse_seconds(const std::string &opt, const std::string &v);
double parse_interval(const std::string &opt, const std::string &v);
void set_platforms(options &o, const std::string &v);

void set_affinity(options &o, const std::string &affinity);
void set_shard(options &o, const std::string &v);
std::string usage();
void check_writable(const std::string &path);
void resolve(options &o);
options parse(int argc, char **argv);
std::string visible_list(const mutant_info &m);
void print_list(bool as_json);
json context(const options &o);
std::string rerun_line(const options &o, const cell_result &r);
json run_json(const cell_result &r);
void write_file(const std::string &path, const json &report);
std::string fmt_rate(double x);
void print_summary(const std::vector<cell_result> &rs);
// The report's contention profile: its total and each cell's.
json profile_total(const std::vector<cell_result> &rs);
void print_profile_tables(const json &report);
std::string fmt_duration(double s);
const char *signal_name(int sig);
std::vector<cell_result> run_jobs(const std::vector<job> &jobs, progress &pg,
                                  const std::vector<int> &affinity, unsigned threads_per_cell);
json report_head(const options &o, bool checkpoint, const std::vector<cell_result> &results);
bool in_shard(const options &o, size_t index);

cell_spec base_cell(const options &o, const scenario *s);
void report_interruption(const std::vector<cell_result> &rs);
const char *end_verdict(int rc);
void write_checkpoint(const options &o, const std::vector<cell_result> &finished,
                      const std::vector<running_cell> &running);
void setup_live(progress &pg, const options &o);
json coverage_table(const options &o, const std::vector<cell_result> &results);
int run_scenarios(const options &o);
std::string first_check(const cell_result &r);
cell_spec km_cell(const options &o, const scenario *s, runtime_protocol p, unsigned k, double secs);
std::vector<cell_result> drop_cut_jobs(std::vector<cell_result> rs);
int run_kill_matrix(const options &o);
long long read_number(const char *path);
double mem_available_bytes();
long long threads_in_use();
std::string fmt_bytes(double b);
void check_limits(const options &o);
void on_stop_signal(int sig);
void install_stop_handlers();
int exit_code(int rc);

}  // namespace anonx::stress::cmd
