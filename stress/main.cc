// main.cc: anonx-stress, the command line of the harness: scenario runs,
// the kill matrix, listing, reports (summary table, JSON, rerun lines).
// Exit: 0 as expected; 1 a forbidden outcome or an escaped mutant; 2 bad
// usage; 3 internal error; 130 / 143 stopped by SIGINT / SIGTERM (the
// report then holds what ran).
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
#include "stress.h"
#include "version.h"

namespace anonx::stress {
namespace {

const char *kStopNote =
    "Ctrl-C or SIGTERM stops the run at the next iteration and keeps the summary and the\n"
    "report (exit 130 / 143); a second Ctrl-C exits at once.\n";

// Shared with anonx-check (cli.h): the usage error, integers, lists,
// --protocol / --platform / --mutant, and the temporary-then-rename write.
using cli::bad;
using cli::parse_u64;
using cli::split;
using cli::usage_error;

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
  int inject = -1;       // -1: the scenario's default
  unsigned preempt = 4;  // lockstep: a preemption point in one iteration in N (0: none)
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
  std::vector<std::string> argv;
};

double parse_seconds(const std::string &opt, const std::string &v) {
  char *end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || !(d > 0) || d > 1e6)
    bad(opt + ": '" + v + "' is not a positive number of seconds");
  return d;
}

// An interval: 0 turns the feature off.
double parse_interval(const std::string &opt, const std::string &v) {
  char *end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || !(d >= 0) || d > 1e6)
    bad(opt + ": '" + v + "' is not a number of seconds (0: off)");
  return d;
}

void set_platforms(options &o, const std::string &v) { o.platforms = cli::parse_platforms(v); }

void set_affinity(options &o, const std::string &affinity) {
  const unsigned ncpu = std::max(1u, std::thread::hardware_concurrency());
  o.cpus.clear();
  if (affinity == "none") return;
  if (affinity == "auto") {
    for (unsigned c = 0; c < ncpu; c++) o.cpus.push_back(static_cast<int>(c));
    return;
  }
  for (auto &part : split(affinity, ',')) {
    auto r = split(part, '-');
    if (r.empty() || r.size() > 2) bad("--affinity: bad CPU list '" + affinity + "'");
    const uint64_t lo = parse_u64("--affinity", r[0], false);
    const uint64_t hi = r.size() == 2 ? parse_u64("--affinity", r[1], false) : lo;
    if (hi < lo || hi >= ncpu)
      bad("--affinity: CPU list '" + affinity + "' names a CPU this machine lacks");
    for (uint64_t c = lo; c <= hi; c++) o.cpus.push_back(static_cast<int>(c));
  }
}

void set_shard(options &o, const std::string &v) {
  auto p = split(v, '/');
  if (p.size() != 2) bad("--shard: '" + v + "' is not I/N");
  o.shard_i = static_cast<unsigned>(parse_u64("--shard", p[0], true));
  o.shard_n = static_cast<unsigned>(parse_u64("--shard", p[1], true));
  if (o.shard_i > o.shard_n) bad("--shard: '" + v + "': I must be between 1 and N");
}

// The options, one row each: the name, the value ("" for a flag), the help,
// and what the option does to `options` (at each occurrence, in command-line
// order, so a later one wins; a bad value calls bad()). A new option is a new
// row: the parser, --help and the usage come from this table.
struct option_row {
  const char *name;
  const char *value;
  const char *help;
  void (*set)(options &, const std::string &);
  bool value_optional = false;  // --json: none after --list
};

const option_row kOptions[] = {
    {"--list", "", "list the protocols, platforms, mutants and scenarios, then exit",
     [](options &o, const std::string &) { o.list = true; }},
    {"--json", "FILE",
     "write the JSON report to FILE (a temporary file, then renamed; an unwritable FILE is bad "
     "usage, found before the run); --list --json: the listing as JSON on stdout",
     [](options &o, const std::string &v) { o.json_given = true, o.json_path = v; }, true},
    {"--scenario", "NAME[,NAME]|all", "the scenarios to run (default all; see --list)",
     [](options &o, const std::string &v) { o.scenario_arg = v; }},
    {"--protocol", "v5.18|v5.19|v6.0|v6.1|v6.2", "the protocol generation (default v6.2)",
     [](options &o, const std::string &v) {
       o.proto.gen = cli::parse_protocol(v);
       o.protocol_given = true;
     }},
    {"--platform", "x86|rcu|x86,rcu",
     "who waits for GUP-fast: x86's flush IPI, or RCU table freeing (default x86); a list runs "
     "every cell on each",
     set_platforms},
    {"--mutant", "NAME|none",
     "a named deviation replaying a historical bug, run on its base generation (see --list)",
     [](options &o, const std::string &v) { o.mut = cli::parse_mutant(v); }},
    {"--threads", "N",
     "simulated CPUs per cell; lockstep splits them into groups of the scenario's roles (default "
     "2)",
     [](options &o, const std::string &v) {
       o.threads = static_cast<unsigned>(parse_u64("--threads", v, true));
     }},
    {"--duration", "SECONDS", "seconds per cell (default 1)",
     [](options &o, const std::string &v) {
       o.duration = parse_seconds("--duration", v);
       o.duration_given = true;
     }},
    {"--coverage", "",
     "run every feasible cell of the coverage model (with --scenario: the cells whose names start "
     "with one of its words), print the coverage table (default --duration 0.3 per cell)",
     [](options &o, const std::string &) { o.coverage = true; }},
    {"--iterations", "N", "stop a cell after N iterations (default: by --duration)",
     [](options &o, const std::string &v) { o.iterations = parse_u64("--iterations", v, true); }},
    {"--seed", "N", "the first seed (default 1)",
     [](options &o, const std::string &v) { o.seed = parse_u64("--seed", v, false); }},
    {"--mode", "lockstep|free",
     "rendezvous per iteration with graded outcomes, or free-running torture (default lockstep)",
     [](options &o, const std::string &v) {
       if (v == "lockstep")
         o.md = mode::lockstep;
       else if (v == "free")
         o.md = mode::free;
       else
         bad("--mode: unknown mode '" + v + "' (lockstep, free)");
     }},
    {"--inject", "off|random",
     "seeded spins/yields/sleeps at the labelled steps (default: the scenario's choice)",
     [](options &o, const std::string &v) {
       if (v == "off")
         o.inject = 0;
       else if (v == "random")
         o.inject = 1;
       else
         bad("--inject: unknown value '" + v + "' (off, random)");
     }},
    {"--preempt", "N",
     "lockstep: one iteration in N runs a seeded preemption point instead of the race (default 4; "
     "0: never)",
     [](options &o, const std::string &v) {
       const uint64_t n = parse_u64("--preempt", v, false);
       if (n > 1000000) bad("--preempt: '" + std::to_string(n) + "' is above 1000000");
       o.preempt = static_cast<unsigned>(n);
     }},
    {"--affinity", "none|auto|CPULIST", "pin thread i to a CPU (default none)", set_affinity},
    {"--kill-matrix", "",
     "every mutant against its scenarios, --seeds K seeds, first detection or --budget",
     [](options &o, const std::string &) { o.kill_matrix = true; }},
    {"--seeds", "K", "kill matrix: seeds per mutant (default 5)",
     [](options &o, const std::string &v) {
       o.seeds = static_cast<unsigned>(parse_u64("--seeds", v, true));
     }},
    {"--budget", "SECONDS", "kill matrix: seconds per mutant and seed (default 10)",
     [](options &o, const std::string &v) { o.budget = parse_seconds("--budget", v); }},
    {"--shard", "I/N", "run the I-th of N deterministic slices of the cells (1-based)", set_shard},
    {"--frames", "N", "frames in each group's memmap (at least 4096)",
     [](options &o, const std::string &v) {
       o.frames = parse_u64("--frames", v, true);
       if (o.frames < 4096) bad("--frames: '" + std::to_string(o.frames) + "' is below 4096");
       o.frames_given = true;
     }},
    {"--stop-on-first", "", "stop a cell at its first violation",
     [](options &o, const std::string &) { o.stop_on_first = true; }},
    {"--quiet", "", "no summary table, progress or stat lines",
     [](options &o, const std::string &) { o.quiet = true; }},
    {"--disable-check", "NAME[,NAME]",
     "oracle ablation: drop the reports of these checks (I2-*: a prefix)",
     [](options &o, const std::string &v) {
       for (auto &c : split(v, ','))
         if (c.empty() || c == "*") bad("--disable-check: '" + v + "' names no check");
       o.disabled_checks = split(v, ',');
     }},
    {"--checkpoint", "SECONDS",
     "rewrite the --json report every SECONDS while the run goes on (default 60 with --json; 0: "
     "off)",
     [](options &o, const std::string &v) {
       o.checkpoint_arg = v;
       o.checkpoint = parse_interval("--checkpoint", v);
     }},
    {"--stat-interval", "SECONDS",
     "off a terminal, a plain progress line every SECONDS on stderr (default 60; 0: off)",
     [](options &o, const std::string &v) {
       o.stat_interval = parse_interval("--stat-interval", v);
     }},
};

// The synopsis: every row of kOptions, wrapped.
std::string usage() {
  const std::string indent(19, ' ');
  std::string out = "usage: anonx-stress";
  size_t col = out.size();
  for (const option_row &r : kOptions) {
    const std::string item = std::string(" [") + r.name + (*r.value ? " " : "") + r.value + "]";
    if (col + item.size() > 100) out += "\n" + indent, col = indent.size() - 1;
    out += item;
    col += item.size();
  }
  return out + "\n" + kStopNote;
}

// --help: the synopsis, then CLI11's list of the options with their help.
class help_formatter : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App *, std::string) const override { return usage(); }
};

using cli::temp_path;

// --json FILE is written when the run ends: an unwritable FILE is found now,
// as bad usage, not after a long run whose report would be lost. The
// temporary file is created (and removed) where the report will be.
void check_writable(const std::string &path) {
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    bad("--json: cannot write '" + path + "': " + std::strerror(EISDIR));
  const std::string tmp = temp_path(path);
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) bad("--json: cannot write '" + path + "': " + std::strerror(errno));
  close(fd);
  unlink(tmp.c_str());
}

// What needs every option: --json's two forms, --checkpoint's file, the
// scenarios, --mutant against --protocol.
void resolve(options &o) {
  if (o.json_given && o.json_path.empty()) {
    if (!o.list) bad("--json: missing value");
    o.list_json = true;
  }
  if (o.checkpoint > 0 && o.json_path.empty())
    bad("--checkpoint: '" + o.checkpoint_arg + "' needs --json FILE to write to");
  if (o.coverage) {
    if (o.kill_matrix) bad("--coverage: runs the coverage model, not with --kill-matrix");
    if (!o.duration_given) o.duration = 0.3;
    const auto words =
        o.scenario_arg == "all" ? std::vector<std::string>{""} : split(o.scenario_arg, ',');
    for (auto &s : coverage_scenarios())
      for (auto &w : words)
        if (std::string(s.name).rfind(w, 0) == 0) {
          o.scens.push_back(&s);
          break;
        }
    if (o.scens.empty())
      bad("--scenario: '" + o.scenario_arg + "' names no feasible cell (see --list --json)");
  } else if (o.scenario_arg == "all") {
    for (auto &s : scenarios()) o.scens.push_back(&s);
  } else {
    for (auto &n : split(o.scenario_arg, ',')) {
      const scenario *s = find_scenario(n);
      if (!s) bad("--scenario: unknown scenario '" + n + "' (see --list)");
      o.scens.push_back(s);
    }
  }
  if (o.mut) {
    if (o.protocol_given && o.proto.gen != o.mut->base)
      bad(std::string("--mutant: '") + o.mut->name + "' deviates from " +
          generation_name(o.mut->base) + ", not " + generation_name(o.proto.gen));
    o.proto.gen = o.mut->base;
    o.proto.mut = o.mut->id;
  }
  if (!o.list && !o.json_path.empty()) check_writable(o.json_path);  // --list writes no report
}

// CLI11 parses; its errors become bad() (one line, exit 2), --help exits 0.
options parse(int argc, char **argv) {
  options o;
  for (int i = 0; i < argc; i++) o.argv.push_back(argv[i]);
  CLI::App app{"anonx-stress: the stress harness of the anonymous-page exclusivity protocol",
               "anonx-stress"};
  app.formatter(std::make_shared<help_formatter>());
  app.footer(
      "Exit: 0 as expected; 1 a forbidden outcome or an escaped mutant; 2 bad usage; 3 internal "
      "error;\n130 / 143 stopped by SIGINT / SIGTERM.");
  app.allow_extras();  // reported below, as the original parser named them
  // --help in command-line order, as every option: a bad value before it
  // is bad usage, --help before a bad value prints the help.
  app.set_help_flag();
  app.add_flag_callback(
         "-h,--help", [] { throw CLI::CallForHelp(); }, "print this help and exit")
      ->trigger_on_parse();
  for (const option_row &r : kOptions) {
    CLI::Option *opt = *r.value
                           ? app.add_option_function<std::string>(
                                 r.name, [&o, &r](const std::string &v) { r.set(o, v); }, r.help)
                           : app.add_flag_callback(
                                 r.name, [&o, &r] { r.set(o, ""); }, r.help);
    opt->trigger_on_parse();
    if (*r.value) opt->type_name(r.value);
    if (r.value_optional) opt->expected(0, 1);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &) {
    std::cout << app.help();
    std::exit(0);
  } catch (const CLI::ArgumentMismatch &e) {  // "NAME: 1 required TYPE missing"
    const std::string m = e.what();
    bad(m.substr(0, m.find(':')) + ": missing value");
  } catch (const CLI::ParseError &e) {
    bad(e.what());
  }
  if (!app.remaining().empty()) bad("unknown option '" + app.remaining().front() + "'");
  resolve(o);
  return o;
}

// ---- listing ---------------------------------------------------------------

// A mutant's visible_on as "x86,rcu" ("-": none).
std::string visible_list(const mutant_info &m) {
  std::string v;
  for (auto pl : kPlatforms)
    if (visible_on(m, pl)) v += (v.empty() ? "" : ",") + std::string(platform_name(pl));
  return v.empty() ? "-" : v;
}

void print_list(bool as_json) {
  if (as_json) {
    json j;
    for (auto g : kGenerations) j["protocols"].push_back(generation_name(g));
    for (auto pl : kPlatforms) j["platforms"].push_back(platform_name(pl));
    j["mutants"] = json::array();
    for (auto &m : kMutants) {
      json visible = json::array();
      for (auto pl : kPlatforms)
        if (visible_on(m, pl)) visible.push_back(platform_name(pl));
      j["mutants"].push_back({{"name", m.name},
                              {"protocol", generation_name(m.base)},
                              {"replays", m.replays},
                              {"visible_on", visible},
                              {"invariants", split(m.invariants, ' ')},
                              {"scenarios", split(m.scenarios, ' ')}});
    }
    j["scenarios"] = json::array();
    for (auto &s : scenarios())
      j["scenarios"].push_back({{"name", s.name},
                                {"description", s.description},
                                {"actors", s.actors},
                                {"oracle", s.oracle},
                                {"lockstep", s.make != nullptr}});
    json &cov = j["coverage_model"];
    for (auto &a : coverage_states())
      cov["states"].push_back({{"name", a.name}, {"description", a.description}});
    for (unsigned i = 0; i < coverage_ops().size(); i++)
      cov[i < coverage_nr_paths() ? "paths" : "holders"].push_back(
          {{"name", coverage_ops()[i].name}, {"description", coverage_ops()[i].description}});
    j["cells"] = json::array();
    for (auto &c : coverage_cells())
      j["cells"].push_back({{"name", c.name},
                            {"state", coverage_states()[c.state].name},
                            {"path", coverage_ops()[c.path].name},
                            {"racer", coverage_ops()[c.racer].name},
                            {"feasible", c.feasible},
                            {"reason", c.reason}});
    std::cout << report_text(j) << "\n";
    return;
  }
  std::printf(
      "protocols: v5.18 v5.19 v6.0 v6.1 v6.2 (default v6.2); platforms: x86 rcu "
      "(default x86)\n\nmutants:\n");
  std::printf("  %-26s %-6s %-8s %-16s %s\n", "name", "base", "visible", "invariants",
              "scenarios / replays");
  for (auto &m : kMutants)
    std::printf("  %-26s %-6s %-8s %-16s %s\n  %-26s %s\n", m.name, generation_name(m.base),
                visible_list(m).c_str(), m.invariants, m.scenarios, "", m.replays);
  std::printf("\nscenarios:\n");
  for (auto &s : scenarios()) std::printf("  %-26s %-20s %s\n", s.name, s.actors, s.description);
  std::printf(
      "\ncoverage model: %zu states x %u paths x %zu racers: %zu cells, %zu feasible (each a "
      "scenario named state/path/racer; --list --json has the table, --coverage runs them)\n",
      coverage_states().size(), coverage_nr_paths(), coverage_ops().size(), coverage_cells().size(),
      coverage_scenarios().size());
}

// ---- context, reports ------------------------------------------------------

std::string now_iso() {
  char buf[32];
  std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

json context(const options &o) {
  char host[256] = "unknown";
  gethostname(host, sizeof host - 1);
  std::string argv;
  for (auto &a : o.argv) argv += (argv.empty() ? "" : " ") + a;
  return {{"git_sha", ANONX_GIT_SHA},
          {"compiler", __VERSION__},
          {"build_type", ANONX_BUILD_TYPE},
          {"sanitizer", ANONX_SANITIZER},
          {"ptl", kPtlName},
          {"host", std::string(host)},
          {"cpus", std::thread::hardware_concurrency()},
          {"cpus_allowed", cpus_allowed()},
          {"date", now_iso()},
          {"argv", argv},
          {"seed", o.seed}};
}

std::string rerun_line(const options &o, const cell_result &r) {
  std::ostringstream s;
  s << o.argv[0] << " --scenario " << r.spec.sc->name << " --protocol "
    << generation_name(r.spec.proto.gen) << " --platform " << platform_name(r.spec.proto.plat)
    << " --mutant " << mutant_name(r.spec.proto.mut) << " --threads " << r.spec.threads
    << " --mode " << mode_name(r.spec.md) << " --inject " << (r.spec.inject ? "random" : "off")
    << " --preempt " << r.spec.preempt << " --seed " << r.spec.seed << " --duration "
    << r.spec.duration_s;
  if (!r.spec.disabled_checks.empty()) {
    s << " --disable-check ";
    for (size_t i = 0; i < r.spec.disabled_checks.size(); i++)
      s << (i ? "," : "") << r.spec.disabled_checks[i];
  }
  return s.str();
}

json run_json(const cell_result &r) {
  json j = {{"scenario", r.spec.sc->name},
            {"protocol", generation_name(r.spec.proto.gen)},
            {"platform", platform_name(r.spec.proto.plat)},
            {"mutant", mutant_name(r.spec.proto.mut)},
            {"mode", mode_name(r.spec.md)},
            {"inject", r.spec.inject},
            {"preempt_one_in", r.spec.preempt},
            {"threads", r.spec.threads},
            {"seed", r.spec.seed},
            {"duration_s", r.elapsed_s},
            {"interrupted", r.interrupted},
            {"iterations", r.iterations},
            {"inconclusive", r.inconclusive},
            {"ops", r.ops},
            {"ops_per_s", r.elapsed_s > 0 ? r.ops / r.elapsed_s : 0.0},
            {"iterations_per_s", r.elapsed_s > 0 ? r.iterations / r.elapsed_s : 0.0},
            {"per_thread_ops", r.per_thread_ops},
            {"outcomes", json::object()},
            {"violations", json::array()}};
  for (auto &[name, v] : r.outcomes)
    j["outcomes"][name] = {{"count", v.first}, {"grade", grade_name(v.second)}};
  for (auto &v : r.violations)
    j["violations"].push_back({{"invariant", v.check},
                               {"count", v.count},
                               {"first",
                                {{"time_s", v.time_s},
                                 {"iteration", v.iteration},
                                 {"thread", v.cpu},
                                 {"pfn", v.pfn},
                                 {"detail", v.detail}}}});
  j["time_to_detect_s"] = r.time_to_detect_s >= 0 ? json(r.time_to_detect_s) : json(nullptr);
  if (r.spec.sc->cell >= 0) {  // a generated cell: its coverage
    j["reached"] = r.reached;
    j["overlapped"] = r.overlapped;
    j["overlaps"] = r.overlaps;
  }
  const cpu_stats &t = r.totals;
  j["gup_fast"] = {{"attempts", t.gup_fast_success + t.gup_fast_fallback},
                   {"success", t.gup_fast_success},
                   {"fallback", t.gup_fast_fallback},
                   {"recheck_fail", t.gup_fast_recheck_fail}};
  j["paths"] = {{"faults", t.faults},
                {"cow_copies", t.cow_copies},
                {"cow_reuse", t.cow_reuse},
                {"unshares", t.unshares},
                {"share_busy", t.share_busy},
                {"swapouts", t.swapouts},
                {"swapin_bypass", t.swapin_bypass},
                {"swapin_swapcache", t.swapin_swapcache},
                {"migrations", t.migrations},
                {"gup_slow", t.gup_slow}};
  return j;
}

// Reports are written to a temporary file, then renamed: nothing half-written.
void write_file(const std::string &path, const json &report) {
  cli::write_file(path, report_text(report));
}

std::string fmt_rate(double x) {
  char b[32];
  if (x >= 1e6)
    std::snprintf(b, sizeof b, "%.2fM", x / 1e6);
  else if (x >= 1e3)
    std::snprintf(b, sizeof b, "%.1fk", x / 1e3);
  else
    std::snprintf(b, sizeof b, "%.0f", x);
  return b;
}

void print_summary(const std::vector<cell_result> &rs) {
  std::printf("\n%-25s %-6s %-24s %-4s %9s %8s %15s %17s %-34s %5s %8s\n", "scenario", "proto",
              "mutant", "thr", "ops", "ops/s", "thread min/max", "gupf ok/fb/rchk", "outcomes",
              "viol", "ttd_s");
  for (auto &r : rs) {
    uint64_t mn = UINT64_MAX, mx = 0;
    for (auto x : r.per_thread_ops) mn = std::min(mn, x), mx = std::max(mx, x);
    std::string outs;
    for (auto &[name, v] : r.outcomes) {
      if (!outs.empty()) outs += ' ';
      outs += name + "=" + std::to_string(v.first);
    }
    if (outs.size() > 34) outs = outs.substr(0, 31) + "...";
    char ttd[32] = "-";
    if (r.time_to_detect_s >= 0) std::snprintf(ttd, sizeof ttd, "%.4f", r.time_to_detect_s);
    const std::string mm =
        fmt_rate(static_cast<double>(mn)) + "/" + fmt_rate(static_cast<double>(mx));
    const std::string g = fmt_rate(static_cast<double>(r.totals.gup_fast_success)) + "/" +
                          fmt_rate(static_cast<double>(r.totals.gup_fast_fallback)) + "/" +
                          fmt_rate(static_cast<double>(r.totals.gup_fast_recheck_fail));
    std::printf("%-25s %-6s %-24s %-4u %9s %8s %15s %17s %-34s %5" PRIu64 " %8s\n", r.spec.sc->name,
                generation_name(r.spec.proto.gen), mutant_name(r.spec.proto.mut), r.spec.threads,
                fmt_rate(static_cast<double>(r.ops)).c_str(),
                fmt_rate(r.ops / std::max(1e-9, r.elapsed_s)).c_str(), mm.c_str(), g.c_str(),
                outs.c_str(), r.violation_count, ttd);
  }
}

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

// ---- live runs: progress inside a cell, stat lines, checkpoints ----------

std::string fmt_duration(double s) {
  char b[32];
  const long x = static_cast<long>(s + 0.5);
  if (x < 100)
    std::snprintf(b, sizeof b, "%ld s", x);
  else if (x < 3600)
    std::snprintf(b, sizeof b, "%ldm%02lds", x / 60, x % 60);
  else
    std::snprintf(b, sizeof b, "%ldh%02ldm", x / 3600, x / 60 % 60);
  return b;
}

const char *signal_name(int sig) {
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

// A thread that wakes every 250 ms while run_jobs runs and reads only
// atomics (running_cells) and progress under its lock: the live line on a
// terminal, the stat lines, the checkpoints. The cells' threads never wait
// for it.
class live_monitor {
 public:
  explicit live_monitor(progress &pg) : pg_(pg), t0_(std::chrono::steady_clock::now()) {
    const live_state &l = pg.live;
    if (l.line || l.stat_interval > 0 || l.checkpoint > 0) th_ = std::thread([this] { loop(); });
  }
  ~live_monitor() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    if (th_.joinable()) th_.join();
    if (drawn_) std::fputc('\n', stderr);
  }

 private:
  struct snapshot {
    double t = 0;
    size_t done = 0, total = 0;
    uint64_t violations = 0;
    double left = 0;
    std::vector<running_cell> running;
  };

  snapshot take() const {
    snapshot s;
    s.t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    s.running = running_cells();
    {
      std::lock_guard<std::mutex> g(pg_.mu);
      s.done = pg_.done;
      s.total = pg_.total;
      s.violations = pg_.violations;
      s.left = pg_.seconds_left;
    }
    // The running cells' elapsed time is already behind them.
    for (auto &r : s.running) {
      s.violations += r.violations;
      s.left -= std::min(r.elapsed_s, r.duration_s) / pg_.live.conc;
    }
    s.left = std::max(0.0, s.left);
    return s;
  }

  static double ops_rate(const snapshot &s) {
    double x = 0;
    for (auto &r : s.running) x += r.ops / std::max(1e-3, r.elapsed_s);
    return x;
  }

  // One terminal line, cut to the terminal's width: a line that wraps
  // cannot be redrawn with \r.
  void draw(const snapshot &s) {
    char b[256];
    if (s.running.empty()) {
      std::snprintf(b, sizeof b, "[%zu/%zu] %" PRIu64 " viol  ~%s left", s.done, s.total,
                    s.violations, fmt_duration(s.left).c_str());
    } else {
      const running_cell &r = s.running.front();
      std::snprintf(b, sizeof b, "[%zu/%zu] %s %.0f/%.0f s  %s ops/s  %" PRIu64 " viol  ~%s left",
                    s.done + s.running.size(), s.total, r.scenario, r.elapsed_s, r.duration_s,
                    fmt_rate(ops_rate(s)).c_str(), s.violations, fmt_duration(s.left).c_str());
    }
    std::string line = b;
    winsize ws{};
    if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && line.size() >= ws.ws_col)
      line.resize(ws.ws_col - 1);
    std::fprintf(stderr, "\r%s\33[K", line.c_str());
    std::fflush(stderr);
    drawn_ = true;
  }

  // A plain line a log keeps, as rcutorture's periodic statistics.
  void stat_line(const snapshot &s) {
    std::string cells;
    for (auto &r : s.running) {
      char b[160];
      std::snprintf(b, sizeof b, "%s%s %s %s %.1f/%.0f s", cells.empty() ? "" : ", ", r.scenario,
                    r.protocol, r.mutant, r.elapsed_s, r.duration_s);
      cells += b;
    }
    uint64_t ops = 0;
    for (auto &r : s.running) ops += r.ops;
    std::fprintf(stderr,
                 "%sanonx-stress: %.0f s: %zu/%zu cells done; running: %s; %" PRIu64
                 " ops, %s ops/s; %" PRIu64 " violations; ~%s left\n",
                 drawn_ ? "\r\33[K" : "", s.t, s.done, s.total, cells.empty() ? "-" : cells.c_str(),
                 ops, fmt_rate(ops_rate(s)).c_str(), s.violations, fmt_duration(s.left).c_str());
    std::fflush(stderr);
  }

  void checkpoint(const snapshot &s) {
    std::vector<cell_result> finished;
    {
      std::lock_guard<std::mutex> g(pg_.live.mu);
      finished = pg_.live.finished;
    }
    try {
      pg_.live.write_checkpoint(finished, s.running);
    } catch (const std::exception &e) {
      if (!ckpt_warned_) std::fprintf(stderr, "anonx-stress: warning: checkpoint: %s\n", e.what());
      ckpt_warned_ = true;
    }
  }

  void loop() {
    const live_state &l = pg_.live;
    double next_stat = l.stat_interval, next_ckpt = l.checkpoint;
    std::unique_lock<std::mutex> lk(mu_);
    while (!cv_.wait_for(lk, std::chrono::milliseconds(250), [this] { return stop_; })) {
      const snapshot s = take();
      if (l.stat_interval > 0 && s.t >= next_stat) {
        stat_line(s);
        while (next_stat <= s.t) next_stat += l.stat_interval;
      }
      if (l.line) draw(s);
      // Once stopping, the final report comes within moments.
      if (l.checkpoint > 0 && s.t >= next_ckpt && !stop_signal()) {
        checkpoint(s);
        while (next_ckpt <= s.t) next_ckpt += l.checkpoint;
      }
    }
  }

  progress &pg_;
  const std::chrono::steady_clock::time_point t0_;
  std::thread th_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool drawn_ = false;  // monitor thread, then the destructor after the join
  bool ckpt_warned_ = false;
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

// Runs the jobs, as many at once as the cells' CPUs hold (a task_arena of
// cell_cpus / threads per cell), and returns their cells' results in job
// order.
std::vector<cell_result> run_jobs(const std::vector<job> &jobs, progress &pg,
                                  const std::vector<int> &affinity, unsigned threads_per_cell) {
  const int conc =
      static_cast<int>(std::max(1u, cell_cpus(affinity) / std::max(1u, threads_per_cell)));
  pg.total = jobs.size();
  for (auto &j : jobs) pg.seconds_left += j.expect_s;
  pg.seconds_left /= conc;
  pg.live.conc = static_cast<unsigned>(conc);
  live_monitor monitor(pg);
  std::vector<std::vector<cell_result>> job_results(jobs.size());
  tbb::task_arena arena(conc);
  arena.execute([&] {
    tbb::parallel_for(
        size_t(0), jobs.size(),
        [&](size_t i) {
          double spent = 0;
          for (auto &c : jobs[i].cells) {
            if (stop_signal()) {  // a stopped run starts no cell
              if (!job_results[i].empty()) job_results[i].back().interrupted = true;
              break;
            }
            cell_result r = run_cell(c);
            if (r.violation_count) r.time_to_detect_s += spent;
            spent += r.elapsed_s;
            const bool killed = r.violation_count > 0;
            pg.live.cell_done(r);
            job_results[i].push_back(std::move(r));
            if (killed) break;
          }
          if (job_results[i].empty()) return;
          pg.update(job_results[i].back(), jobs[i].expect_s / conc);
        },
        tbb::simple_partitioner());
  });
  std::vector<cell_result> results;
  for (auto &jr : job_results)
    for (auto &r : jr) results.push_back(std::move(r));
  return results;
}

// A report's head: schema, whether it is a checkpoint, whether a signal
// stopped the run (and which), context, then the runs; the caller adds the
// rest (the running cells, the kill matrix).
json report_head(const options &o, bool checkpoint, const std::vector<cell_result> &results) {
  json j = {{"schema", "anonx-stress/1"},
            {"checkpoint", checkpoint},
            {"interrupted", !checkpoint && stop_signal() != 0}};
  if (!checkpoint && stop_signal()) j["signal"] = signal_name(stop_signal());
  j["context"] = context(o);
  j["runs"] = json::array();
  for (auto &r : results) j["runs"].push_back(run_json(r));
  return j;
}

bool in_shard(const options &o, size_t index) { return index % o.shard_n == o.shard_i - 1; }

cell_spec base_cell(const options &o, const scenario *s) {
  cell_spec c;
  c.sc = s;
  c.proto = o.proto;
  c.threads = o.threads;
  c.md = o.md;
  c.inject = o.inject < 0 ? s->inject_default : o.inject == 1;
  c.preempt = o.preempt;
  c.seed = o.seed;
  c.duration_s = o.duration;
  c.iterations = o.iterations;
  c.cpus = o.cpus;
  c.frames = o.frames;
  c.stop_on_first = o.stop_on_first;
  c.disabled_checks = o.disabled_checks;
  return c;
}

// After a stop, say what the figures cover.
void report_interruption(const std::vector<cell_result> &rs) {
  if (!stop_signal()) return;
  std::string early;
  for (auto &r : rs)
    if (r.interrupted) {
      char b[160];
      std::snprintf(b, sizeof b, "%s%s %s after %.2f of %g s", early.empty() ? "" : ", ",
                    r.spec.sc->name, mutant_name(r.spec.proto.mut), r.elapsed_s, r.spec.duration_s);
      early += b;
    }
  std::printf("INTERRUPTED by %s: %zu cell%s ran%s%s; cells not started were not run\n",
              signal_name(stop_signal()), rs.size(), rs.size() == 1 ? "" : "s",
              early.empty() ? "" : ", stopped early: ", early.c_str());
}

const char *end_verdict(int rc) {
  if (!stop_signal()) return rc ? "FAILURE" : "SUCCESS";
  return rc ? "FAILURE (INTERRUPTED)" : "INTERRUPTED";
}

// A checkpoint: the report so far, rewritten (atomically) while the run
// goes on, so a run killed outright (SIGKILL, the OOM killer, a node lost)
// leaves the cells it finished and how far the running ones had got.
void write_checkpoint(const options &o, const std::vector<cell_result> &finished,
                      const std::vector<running_cell> &running) {
  json j = report_head(o, true, finished);
  j["running"] = json::array();
  for (auto &r : running)
    j["running"].push_back({{"scenario", r.scenario},
                            {"protocol", r.protocol},
                            {"mutant", r.mutant},
                            {"threads", r.threads},
                            {"seed", r.seed},
                            {"duration_s", r.duration_s},
                            {"elapsed_s", r.elapsed_s},
                            {"ops", r.ops},
                            {"ops_per_s", r.elapsed_s > 0 ? r.ops / r.elapsed_s : 0.0},
                            {"violations", r.violations}});
  j["kill_matrix"] = json::array();
  write_file(o.json_path, j);
}

// The live output and checkpoints a run gets from its options.
void setup_live(progress &pg, const options &o) {
  pg.live.line = pg.tty && !o.quiet;
  // Off a terminal, stat lines by default show a long run is alive;
  // --quiet drops them, unless --stat-interval asks for them by name.
  pg.live.stat_interval = o.stat_interval >= 0 ? o.stat_interval : (pg.tty || o.quiet ? 0 : 60);
  pg.live.checkpoint = o.json_path.empty() ? 0 : o.checkpoint >= 0 ? o.checkpoint : 60;
  pg.live.write_checkpoint = [&o](const std::vector<cell_result> &f,
                                  const std::vector<running_cell> &r) {
    write_checkpoint(o, f, r);
  };
}

// --coverage: one row per cell (reached, iterations, rate, how often the
// windows overlapped, violations) and the share of feasible cells reached.
json coverage_table(const options &o, const std::vector<cell_result> &results) {
  size_t reached = 0;
  json cells = json::array();
  if (!o.quiet)
    std::printf("\n%-48s %7s %9s %9s %8s %5s  %s\n", "cell", "reached", "iters", "iter/s",
                "overlap", "viol", "window pairs hit (path|racer)");
  for (auto &r : results) {
    const bool hit = r.reached > 0;
    reached += hit;
    std::string pairs;
    for (auto &[k, n] : r.overlaps) pairs += (pairs.empty() ? "" : " ") + k;
    const double rate = r.elapsed_s > 0 ? r.iterations / r.elapsed_s : 0;
    if (!o.quiet)
      std::printf("%-48s %7s %9" PRIu64 " %9.0f %7.0f%% %5" PRIu64 "  %s\n", r.spec.sc->name,
                  hit ? "yes" : "NO", r.iterations, rate,
                  r.iterations ? 100.0 * r.overlapped / r.iterations : 0.0, r.violation_count,
                  pairs.size() > 60 ? (pairs.substr(0, 57) + "...").c_str() : pairs.c_str());
    cells.push_back({{"cell", r.spec.sc->name},
                     {"platform", platform_name(r.spec.proto.plat)},
                     {"reached", hit},
                     {"reached_iterations", r.reached},
                     {"iterations", r.iterations},
                     {"iterations_per_s", rate},
                     {"overlapped", r.overlapped},
                     {"overlaps", r.overlaps},
                     {"violations", r.violation_count}});
  }
  const size_t feasible = coverage_scenarios().size();
  const double pct = results.empty() ? 0 : 100.0 * reached / results.size();
  std::printf(
      "coverage: %zu of %zu cells run reached their state (%.1f%%); the model has %zu "
      "feasible cells of %zu\n",
      reached, results.size(), pct, feasible, coverage_cells().size());
  return {{"feasible", feasible},  {"cells_total", coverage_cells().size()},
          {"run", results.size()}, {"reached", reached},
          {"percent", pct},        {"cells", cells}};
}

int run_scenarios(const options &o) {
  std::vector<job> jobs;
  size_t index = 0;
  for (auto pl : o.platforms)
    for (size_t i = 0; i < o.scens.size(); i++, index++)
      if (in_shard(o, index)) {
        cell_spec c = base_cell(o, o.scens[i]);
        c.proto.plat = pl;
        // A coverage cell runs a few iterations even when its share of
        // time is gone before its threads start (a loaded machine).
        if (o.coverage) c.min_iterations = 32;
        jobs.push_back({{c}, o.duration});
      }
  progress pg(o.quiet);
  setup_live(pg, o);
  auto results = run_jobs(jobs, pg, o.cpus, std::max(2u, o.threads));
  if (!o.quiet) print_summary(results);
  report_interruption(results);
  int rc = 0;
  for (auto &r : results)
    if (r.failed()) {
      rc = 1;
      std::printf("FAILED %s %s %s mutant=%s: %" PRIu64 " violations (first: %s)\n  rerun: %s\n",
                  r.spec.sc->name, generation_name(r.spec.proto.gen),
                  platform_name(r.spec.proto.plat), mutant_name(r.spec.proto.mut),
                  r.violation_count,
                  r.violations.empty() ? "?" : r.violations.front().check.c_str(),
                  rerun_line(o, r).c_str());
    }
  json cov;
  if (o.coverage) cov = coverage_table(o, results);
  if (!o.json_path.empty()) {
    json j = report_head(o, false, results);
    j["kill_matrix"] = json::array();
    if (o.coverage) j["coverage"] = cov;
    write_file(o.json_path, j);
  }
  std::string plats;
  for (auto pl : o.platforms) plats += (plats.empty() ? "" : ",") + std::string(platform_name(pl));
  std::printf(
      "End of test: %s (protocol=%s platform=%s mutant=%s threads=%u duration=%g mode=%s "
      "seed=%" PRIu64 " cells=%zu)\n",
      end_verdict(rc), generation_name(o.proto.gen), plats.c_str(), mutant_name(o.proto.mut),
      o.threads, o.duration, mode_name(o.md), o.seed, jobs.size());
  return rc;
}

// ---- kill matrix -----------------------------------------------------------

// The check that fired first in a cell ("" when none did).
std::string first_check(const cell_result &r) {
  const violation_record *first = nullptr;
  for (auto &v : r.violations)
    if (!first || v.time_s < first->time_s) first = &v;
  return first ? first->check : std::string();
}

// A kill-matrix cell: scenario s on protocol p in lockstep with seed
// o.seed + k, for at most secs.
cell_spec km_cell(const options &o, const scenario *s, runtime_protocol p, unsigned k,
                  double secs) {
  cell_spec c = base_cell(o, s);
  c.proto = p;
  c.md = mode::lockstep;
  c.threads = s->nr_roles;
  c.seed = o.seed + k;
  c.duration_s = secs;
  return c;
}

// A stopped kill matrix keeps the (mutant, seed) jobs it finished: one cut
// short before a detection has no verdict, and counting it as a survivor
// would call its mutant escaped. Control cells stay, with their duration.
std::vector<cell_result> drop_cut_jobs(std::vector<cell_result> rs) {
  if (!stop_signal()) return rs;
  std::set<std::pair<mutant, uint64_t>> cut;
  for (auto &r : rs)
    if (r.spec.proto.mut != mutant::none && r.interrupted && !r.violation_count)
      cut.insert({r.spec.proto.mut, r.spec.seed});
  std::erase_if(rs, [&](const cell_result &r) {
    return r.spec.proto.mut != mutant::none && cut.count({r.spec.proto.mut, r.spec.seed});
  });
  return rs;
}

// Kill-matrix jobs: one per mutant and seed, its scenarios tried in the
// table's order until one kills it; then the control cells.
int run_kill_matrix(const options &o) {
  std::vector<job> jobs;
  size_t index = 0;
  // Per platform: every mutant, its scenarios; then the controls: the
  // correct base generations of those mutants on the same scenarios.
  std::set<std::pair<std::string, generation>> used;
  for (auto pl : o.platforms)
    for (auto &m : kMutants)
      for (unsigned k = 0; k < o.seeds; k++, index++) {
        job jb{{}, o.budget / 4};
        for (auto &sname : split(m.scenarios, ' ')) {
          const scenario *s = find_scenario(sname);
          if (!s || !s->make) continue;
          used.insert({sname, m.base});
          runtime_protocol p{m.base, m.id, false};
          p.plat = pl;
          cell_spec c = km_cell(o, s, p, k, o.budget);
          c.stop_on_first = true;
          jb.cells.push_back(c);
        }
        if (in_shard(o, index) && !jb.cells.empty()) jobs.push_back(jb);
      }
  const double control = std::min(o.budget, 0.5);
  for (auto pl : o.platforms)
    for (auto &[sname, g] : used)
      for (unsigned k = 0; k < o.seeds; k++, index++) {
        if (!in_shard(o, index)) continue;
        const scenario *s = find_scenario(sname);
        runtime_protocol p{g, mutant::none, false};
        p.plat = pl;
        jobs.push_back({{km_cell(o, s, p, k, control)}, control});
      }
  progress pg(o.quiet);
  setup_live(pg, o);
  // Every kill-matrix cell is a lockstep cell of two roles.
  const std::vector<cell_result> results = drop_cut_jobs(run_jobs(jobs, pg, o.cpus, 2));

  int rc = 0;
  json j = report_head(o, false, results);
  json &km = j["kill_matrix"] = json::array();
  if (!o.quiet)
    std::printf("\n%-26s %-6s %-4s %-8s %-22s %-12s %9s %9s %-20s %s\n", "mutant", "base", "plat",
                "visible", "verdict", "killed", "median_s", "max_s", "killed_by", "scenarios");
  for (auto pl : o.platforms)
    for (auto &m : kMutants) {
      std::vector<double> per_seed;
      std::string best, killed_by;
      double best_t = 1e18;
      bool any_cell = false;
      for (unsigned k = 0; k < o.seeds; k++) {
        double t = -1;
        bool seed_ran = false;  // not in another shard, not cut short by a stop
        for (auto &r : results) {
          if (r.spec.proto.mut != m.id || r.spec.proto.plat != pl || r.spec.seed != o.seed + k)
            continue;
          any_cell = seed_ran = true;
          if (r.violation_count && (t < 0 || r.time_to_detect_s < t)) t = r.time_to_detect_s;
          if (r.violation_count && r.time_to_detect_s < best_t) {
            best_t = r.time_to_detect_s, best = r.spec.sc->name;
            killed_by = first_check(r);
          }
        }
        if (seed_ran) per_seed.push_back(t);
      }
      if (!any_cell) continue;  // all of its cells are in other shards
      const size_t killed =
          std::count_if(per_seed.begin(), per_seed.end(), [](double t) { return t >= 0; });
      std::vector<double> ts;
      for (double t : per_seed) ts.push_back(t < 0 ? o.budget : t);
      std::sort(ts.begin(), ts.end());
      const double median = ts.empty()
                                ? 0
                                : (ts.size() % 2 ? ts[ts.size() / 2]
                                                 : (ts[ts.size() / 2 - 1] + ts[ts.size() / 2]) / 2);
      const double mx = ts.empty() ? 0 : ts.back();
      std::string verdict;
      if (killed == per_seed.size())
        verdict = "killed";
      else if (!visible_on(m, pl))
        verdict = killed ? "killed-partly(not-visible)" : "survived-as-expected";
      else {
        verdict = "escaped";
        rc = 1;
      }
      json per_seed_s = json::array();
      for (double t : per_seed) per_seed_s.push_back(t < 0 ? json(nullptr) : json(t));
      km.push_back({{"mutant", m.name},
                    {"protocol", generation_name(m.base)},
                    {"platform", platform_name(pl)},
                    {"visible", visible_on(m, pl)},
                    {"verdict", verdict},
                    {"seeds", per_seed.size()},
                    {"killed_seeds", killed},
                    {"median_s", median},
                    {"max_s", mx},
                    {"scenario", best.empty() ? split(m.scenarios, ' ')[0] : best},
                    {"killed_by", killed_by},
                    {"per_seed_s", per_seed_s}});
      if (!o.quiet)
        std::printf("%-26s %-6s %-4s %-8s %-22s %5zu/%-6zu %9.4f %9.4f %-20s %s\n", m.name,
                    generation_name(m.base), platform_name(pl), visible_list(m).c_str(),
                    verdict.c_str(), killed, per_seed.size(), median, mx,
                    killed_by.empty() ? "-" : killed_by.c_str(), m.scenarios);
      if (verdict == "escaped")
        for (auto &r : results)
          if (r.spec.proto.mut == m.id && r.spec.proto.plat == pl && !r.violation_count) {
            std::printf("  escaped cell: %s\n", rerun_line(o, r).c_str());
            break;
          }
    }
  size_t control_fail = 0;
  for (auto &r : results)
    if (r.spec.proto.mut == mutant::none && r.failed()) {
      control_fail++;
      rc = 1;
      std::printf("FAILED control %s %s %s: %" PRIu64 " violations\n  rerun: %s\n", r.spec.sc->name,
                  generation_name(r.spec.proto.gen), platform_name(r.spec.proto.plat),
                  r.violation_count, rerun_line(o, r).c_str());
    }
  if (!o.json_path.empty()) write_file(o.json_path, j);
  report_interruption(results);
  std::printf("End of test: %s (kill matrix: seeds=%u budget=%g cells=%zu control failures=%zu)\n",
              end_verdict(rc), o.seeds, o.budget, results.size(), control_fail);
  return rc;
}

// ---- limits, checked before any work ---------------------------------------

long long read_number(const char *path) {
  std::ifstream f(path);
  long long x = -1;
  return f >> x ? x : -1;
}

double mem_available_bytes() {
  std::ifstream f("/proc/meminfo");
  std::string key, rest;
  long long kib = 0;
  while (f >> key >> kib && std::getline(f, rest))
    if (key == "MemAvailable:") return kib * 1024.0;
  return -1;
}

// Every thread of every process now (the kernel's count, /proc/loadavg's
// fourth field): threads-max and pid_max bound them all, not ours alone.
long long threads_in_use() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c, rt;
  if (!(f >> a >> b >> c >> rt)) return -1;
  const auto slash = rt.find('/');
  return slash == std::string::npos ? -1 : std::atoll(rt.c_str() + slash + 1);
}

std::string fmt_bytes(double b) {
  char s[32];
  if (b >= 1024.0 * 1024 * 1024)
    std::snprintf(s, sizeof s, "%.1f GiB", b / (1024.0 * 1024 * 1024));
  else if (b >= 1024.0 * 1024)
    std::snprintf(s, sizeof s, "%.1f MiB", b / (1024.0 * 1024));
  else
    std::snprintf(s, sizeof s, "%.1f KiB", b / 1024.0);
  return s;
}

// Each group has its own machine (memmap, contents, page tables, swap), so
// memory grows with --threads / roles x --frames: a run that cannot fit is
// refused here, with the estimate, rather than found by the OOM killer.
// The group's bytes are measured (group_bytes builds one), not assumed;
// thread stacks are not counted (virtual, a few KiB of them touched).
void check_limits(const options &o) {
  std::vector<cell_spec> cells;
  if (o.kill_matrix) {
    for (auto &s : scenarios())
      if (s.make) cells.push_back(km_cell(o, &s, o.proto, 0, o.budget));
  } else {
    for (const scenario *s : o.scens) cells.push_back(base_cell(o, s));
  }
  const unsigned per_cell = o.kill_matrix ? 2 : std::max(2u, o.threads);
  const unsigned conc = std::max(1u, cell_cpus(o.cpus) / per_cell);
  std::map<std::pair<const scenario *, unsigned>, size_t> measured;
  double cell_bytes = 0;
  unsigned cell_threads = 0;
  cell_shape worst{};
  size_t worst_group = 0;
  for (auto &c : cells) {
    const cell_shape sh = shape_of(c);
    // The machine is the bulk and depends only on the roles; the lockstep
    // state differs by scenario.
    auto &gb = measured[{sh.lockstep ? c.sc : nullptr, sh.roles}];
    if (!gb) gb = group_bytes(c);
    const double bytes = static_cast<double>(sh.groups) * gb + double(sh.threads) * sizeof(actor);
    if (bytes > cell_bytes) cell_bytes = bytes, worst = sh, worst_group = gb;
    cell_threads = std::max(cell_threads, sh.threads + (sh.lockstep ? 0 : 1));  // free: its driver
  }
  const double need_bytes = conc * cell_bytes;
  // The cells' threads, the arena's workers (the main thread is one), the monitor.
  const long long need_threads = static_cast<long long>(conc) * cell_threads + conc + 1;

  const double avail = mem_available_bytes();
  rlimit rl{};
  const bool nproc_applies = getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
                             geteuid() != 0;  // root is not held to RLIMIT_NPROC
  const long long pid_max = read_number("/proc/sys/kernel/pid_max");
  const long long threads_max = read_number("/proc/sys/kernel/threads-max");
  const long long in_use = std::max(0LL, threads_in_use());
  const bool no_memory = avail >= 0 && need_bytes > avail;
  const bool no_threads = (nproc_applies && need_threads > static_cast<long long>(rl.rlim_cur)) ||
                          (pid_max > 0 && need_threads + in_use > pid_max) ||
                          (threads_max > 0 && need_threads + in_use > threads_max);
  if (no_memory || no_threads) {
    char b[512];
    std::snprintf(
        b, sizeof b,
        "--threads %u%s: the run needs ~%s (%s%u groups x %s measured + %u actors x %s) and %lld "
        "threads; this machine has %s available (MemAvailable), RLIMIT_NPROC %s, pid_max %lld, "
        "threads-max %lld (%lld threads in use)",
        o.threads, o.frames_given ? (" --frames " + std::to_string(o.frames)).c_str() : "",
        fmt_bytes(need_bytes).c_str(),
        conc > 1 ? (std::to_string(conc) + " cells at once x ").c_str() : "", worst.groups,
        fmt_bytes(static_cast<double>(worst_group)).c_str(), worst.threads,
        fmt_bytes(sizeof(actor)).c_str(), need_threads, avail >= 0 ? fmt_bytes(avail).c_str() : "?",
        rl.rlim_cur == RLIM_INFINITY ? "unlimited"
        : nproc_applies              ? std::to_string(rl.rlim_cur).c_str()
                                     : (std::to_string(rl.rlim_cur) + " (not for root)").c_str(),
        pid_max, threads_max, in_use);
    bad(b);
  }
  const unsigned allowed = cpus_allowed();
  if (!o.kill_matrix && o.threads > allowed)
    std::fprintf(stderr,
                 "anonx-stress: warning: --threads %u on %u allowed CPUs: the threads time-share "
                 "them (waits yield), so rates drop and windows meet less often\n",
                 o.threads, allowed);
}

// The first SIGINT or SIGTERM stops the run (request_stop: each cell at its
// next iteration, then the summary and the report); a second one exits at
// once. Only async-signal-safe calls here.
void on_stop_signal(int sig) {
  if (!request_stop(sig)) {
    static const char now[] = "\nanonx-stress: stopped again: exiting at once\n";
    (void)!write(2, now, sizeof now - 1);
    _exit(128 + sig);
  }
  static const char msg_int[] =
      "\nanonx-stress: SIGINT: stopping at the next iteration, then the summary and the report "
      "(Ctrl-C again: exit at once)\n";
  static const char msg_term[] =
      "\nanonx-stress: SIGTERM: stopping at the next iteration, then the summary and the "
      "report\n";
  if (sig == SIGINT)
    (void)!write(2, msg_int, sizeof msg_int - 1);
  else
    (void)!write(2, msg_term, sizeof msg_term - 1);
}

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// A stopped run exits 128 + the signal, as a shell reports it, unless it
// found what exit 1 reports before the stop.
int exit_code(int rc) {
  const int sig = stop_signal();
  return sig && rc == 0 ? 128 + sig : rc;
}

}  // namespace
}  // namespace anonx::stress

int main(int argc, char **argv) {
  using namespace anonx::stress;
  try {
    options o = parse(argc, argv);
    if (o.list) {
      print_list(o.list_json);
      return 0;
    }
    check_limits(o);
    install_stop_handlers();
    return exit_code(o.kill_matrix ? run_kill_matrix(o) : run_scenarios(o));
  } catch (const usage_error &e) {
    std::fprintf(stderr, "anonx-stress: %s\n%s", e.msg.c_str(), usage().c_str());
    return 2;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "anonx-stress: internal error: %s\n", e.what());
    return 3;
  }
}
