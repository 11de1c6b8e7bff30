// SPDX-License-Identifier: GPL-2.0-only
// options.cc: the command line of anonx-stress, parsed by CLI11: every option with its
// help, its values checked before any work (a bad one is one line and exit 2).
#include "cli_app.h"
#include "frontend.h"

namespace anonx::stress::cmd {

const char *kStopNote =
    "Ctrl-C or SIGTERM stops the run at the next iteration and keeps the summary and the\n"
    "report (exit 130 / 143); a second Ctrl-C exits at once.\n";

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

// Every option, in its group, in the order of the synopsis. A new option is
// one declaration here: CLI11 makes --help and the synopsis from these.
std::unique_ptr<CLI::App> make_app(options &o) {
  auto owned = std::make_unique<CLI::App>(
      "anonx-stress: the stress harness of the anonymous-page exclusivity protocol",
      "anonx-stress");
  CLI::App &app = *owned;
  cli::init_app(app);
  app.footer(
      "Exit: 0 as expected; 1 a forbidden outcome or an escaped mutant; 2 bad usage; 3 internal "
      "error;\n130 / 143 stopped by SIGINT / SIGTERM.");
  using cli::flag;
  using cli::value;
  using str = const std::string &;
  const char *sel = "What to run", *run = "How each cell runs", *km = "Kill matrix",
             *longrun = "Long runs and scale-out", *out = "Output";
  flag(app, "--list", "list the protocols, platforms, mutants and scenarios, then exit", out,
       [&o] { o.list = true; });
  value(app, "--json", "FILE",
        "write the JSON report to FILE (a temporary file, then renamed; an unwritable FILE is bad "
        "usage, found before the run); --list --json: the listing as JSON on stdout",
        out, [&o](str v) { o.json_given = true, o.json_path = v; })
      ->expected(0, 1);
  value(app, "--scenario", "NAME[,NAME]|all", "the scenarios to run (default all; see --list)", sel,
        [&o](str v) { o.scenario_arg = v; });
  value(app, "--protocol", "v5.18|v5.19|v6.0|v6.1|v6.2", "the protocol generation (default v6.2)",
        sel, [&o](str v) {
          o.proto.gen = cli::parse_protocol(v);
          o.protocol_given = true;
        });
  value(app, "--platform", "x86|rcu|x86,rcu",
        "who waits for GUP-fast: x86's flush IPI, or RCU table freeing (default x86); a list runs "
        "every cell on each",
        sel, [&o](str v) { set_platforms(o, v); });
  value(app, "--mutant", "NAME|none",
        "a named deviation replaying a historical bug, run on its base generation (see --list)",
        sel, [&o](str v) { o.mut = cli::parse_mutant(v); });
  value(app, "--threads", "N",
        "simulated CPUs per cell; lockstep splits them into groups of the scenario's roles "
        "(default 2)",
        run, [&o](str v) { o.threads = static_cast<unsigned>(parse_u64("--threads", v, true)); });
  value(app, "--duration", "SECONDS", "seconds per cell (default 1)", run, [&o](str v) {
    o.duration = parse_seconds("--duration", v);
    o.duration_given = true;
  });
  flag(app, "--coverage",
       "run every feasible cell of the coverage model (with --scenario: the cells whose names "
       "start with one of its words), print the coverage table (default --duration 0.3 per cell)",
       sel, [&o] { o.coverage = true; });
  value(app, "--iterations", "N", "stop a cell after N iterations (default: by --duration)", run,
        [&o](str v) { o.iterations = parse_u64("--iterations", v, true); });
  value(app, "--seed", "N", "the first seed (default 1)", run,
        [&o](str v) { o.seed = parse_u64("--seed", v, false); });
  value(app, "--mode", "lockstep|free",
        "rendezvous per iteration with graded outcomes, or free-running torture (default "
        "lockstep)",
        run, [&o](str v) {
          if (v == "lockstep")
            o.md = mode::lockstep;
          else if (v == "free")
            o.md = mode::free;
          else
            bad("--mode: unknown mode '" + v + "' (lockstep, free)");
        });
  value(app, "--inject", "off|random",
        "seeded spins/yields/sleeps at the labelled steps (default: the scenario's choice)", run,
        [&o](str v) {
          if (v == "off")
            o.inject = 0;
          else if (v == "random")
            o.inject = 1;
          else
            bad("--inject: unknown value '" + v + "' (off, random)");
        });
  value(app, "--preempt", "N",
        "lockstep: one iteration in N runs a seeded preemption point instead of the race "
        "(default 4; 0: never)",
        run, [&o](str v) { o.preempt = parse_at_most("--preempt", v, 1000000); });
  value(app, "--fail-alloc", "N",
        "fault injection (fail_page_alloc): one allocation in N of a page, a page table or a "
        "swap slot fails, seeded; lockstep: in the racing steps only (default 0: none)",
        run, [&o](str v) { o.fail_alloc = parse_at_most("--fail-alloc", v, 1000000000); });
  value(app, "--affinity", "none|auto|CPULIST", "pin thread i to a CPU (default none)", run,
        [&o](str v) { set_affinity(o, v); });
  flag(app, "--kill-matrix",
       "every mutant against its scenarios, --seeds K seeds, first detection or --budget", km,
       [&o] { o.kill_matrix = true; });
  value(app, "--seeds", "K", "kill matrix: seeds per mutant (default 5)", km,
        [&o](str v) { o.seeds = static_cast<unsigned>(parse_u64("--seeds", v, true)); });
  value(app, "--budget", "SECONDS", "kill matrix: seconds per mutant and seed (default 10)", km,
        [&o](str v) { o.budget = parse_seconds("--budget", v); });
  value(app, "--shard", "I/N", "run the I-th of N deterministic slices of the cells (1-based)",
        longrun, [&o](str v) { set_shard(o, v); });
  value(app, "--frames", "N", "frames in each group's memmap (at least 4096)", run, [&o](str v) {
    o.frames = parse_u64("--frames", v, true);
    if (o.frames < 4096) bad("--frames: '" + std::to_string(o.frames) + "' is below 4096");
    o.frames_given = true;
  });
  flag(app, "--stop-on-first", "stop a cell at its first violation", run,
       [&o] { o.stop_on_first = true; });
  flag(app, "--quiet", "no summary table, progress or stat lines", out, [&o] { o.quiet = true; });
  value(app, "--disable-check", "NAME[,NAME]",
        "oracle ablation: drop the reports of these checks (I2-*: a prefix)", run, [&o](str v) {
          for (auto &c : split(v, ','))
            if (c.empty() || c == "*") bad("--disable-check: '" + v + "' names no check");
          o.disabled_checks = split(v, ',');
        });
  value(app, "--profile", "on|off",
        "the contention profile: lock waits and holds, atomic retries, flush waits, GUP-fast "
        "fallbacks, in the report and the summary (default on)",
        run, [&o](str v) {
          if (v == "on" || v == "off")
            o.profile = v == "on";
          else
            bad("--profile: unknown value '" + v + "' (on, off)");
        });
  value(app, "--profile-report", "FILE",
        "print the contention profile tables of a JSON report (the total and each cell), run "
        "nothing",
        out, [&o](str v) { o.profile_report_path = v; });
  value(app, "--checkpoint", "SECONDS",
        "rewrite the --json report every SECONDS while the run goes on (default 60 with --json; "
        "0: off)",
        longrun, [&o](str v) {
          o.checkpoint_arg = v;
          o.checkpoint = parse_interval("--checkpoint", v);
        });
  value(app, "--stat-interval", "SECONDS",
        "off a terminal, a plain progress line every SECONDS on stderr (default 60; 0: off)",
        longrun, [&o](str v) { o.stat_interval = parse_interval("--stat-interval", v); });
  return owned;
}

// --help: the synopsis, then CLI11's list of the options by group.
class help_formatter : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App *, std::string) const override { return usage(); }
};

// The synopsis, from the options' declarations.
std::string usage() {
  options o;
  return cli::synopsis(*make_app(o), "anonx-stress") + kStopNote;
}

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

// --profile-report FILE: a report this build reads, with a profile in the
// schema it knows, or bad usage naming what is wrong (nothing is run).
void load_profile_report(options &o) {
  const std::string &f = o.profile_report_path;
  std::ifstream in(f);
  if (!in) bad("--profile-report: cannot read '" + f + "': " + std::strerror(errno));
  try {
    o.profile_report = json::parse(in);
  } catch (const std::exception &e) {
    bad("--profile-report: '" + f + "' is not JSON (" + e.what() + ")");
  }
  const json &r = o.profile_report;
  if (!r.is_object() || !r.contains("profile"))
    bad("--profile-report: '" + f +
        "' has no contention profile (a report of --profile off, "
        "or of an older anonx-stress)");
  const std::string why = profile_problem(r["profile"]);
  if (!why.empty()) bad("--profile-report: '" + f + "': " + why);
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
  if (!o.profile_report_path.empty()) load_profile_report(o);
}

// CLI11 parses; its errors become bad() (one line, exit 2), --help exits 0.
options parse(int argc, char **argv) {
  options o;
  for (int i = 0; i < argc; i++) o.argv.push_back(argv[i]);
  const auto app = make_app(o);
  app->formatter(std::make_shared<help_formatter>());
  cli::parse_app(*app, argc, argv);
  resolve(o);
  return o;
}

}  // namespace anonx::stress::cmd
