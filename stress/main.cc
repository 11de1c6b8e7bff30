// main.cc: anonx-stress, the command line of the harness: scenario runs,
// the kill matrix, listing, reports (summary table, JSON, rerun lines).
// Exit: 0 as expected; 1 a forbidden outcome or an escaped mutant; 2 bad
// usage; 3 internal error; 130 / 143 stopped by SIGINT / SIGTERM (the
// report then holds what ran).
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "cli.h"
#include "json.h"
#include "stress.h"
#include "version.h"

namespace anonx::stress {
namespace {

const char *kUsage =
    "usage: anonx-stress [--list [--json]] [--scenario NAME[,NAME]|all] [--protocol "
    "v5.18|v5.19|v6.0|v6.1|v6.2]\n"
    "                    [--platform x86|rcu|x86,rcu]\n"
    "                    [--mutant NAME|none] [--threads N] [--duration SECONDS] [--iterations N]\n"
    "                    [--seed N] [--mode lockstep|free] [--inject off|random] [--preempt N]\n"
    "                    [--affinity none|auto|CPULIST] [--json FILE] [--kill-matrix [--seeds K]\n"
    "                    [--budget SECONDS]] [--shard I/N] [--frames N] [--stop-on-first] "
    "[--quiet]\n"
    "                    [--disable-check NAME[,NAME]] [--checkpoint SECONDS] [--stat-interval "
    "SECONDS]\n"
    "Ctrl-C or SIGTERM stops the run at the next iteration and keeps the summary and the\n"
    "report (exit 130 / 143); a second Ctrl-C exits at once.\n";

using cli::bad;
using cli::parse_u64;
using cli::split;
using cli::usage_error;
using cli::write_file;

struct options {
  bool list = false, list_json = false, kill_matrix = false, quiet = false, stop_on_first = false;
  std::vector<const scenario *> scens;
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
  std::string json_path;
  unsigned seeds = 5;
  double budget = 10.0;
  unsigned shard_i = 1, shard_n = 1;
  unsigned long frames = ANONX_FRAMES;
  std::vector<std::string> disabled_checks;
  bool frames_given = false;
  double checkpoint = -1;     // seconds between checkpoints of --json; -1: 60 with --json
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

options parse(int argc, char **argv) {
  options o;
  for (int i = 0; i < argc; i++) o.argv.push_back(argv[i]);
  std::string scen = "all";
  std::string checkpoint_arg;
  auto need = [&](int &i) -> std::string {
    if (i + 1 >= argc) bad(std::string(argv[i]) + ": missing value");
    return argv[++i];
  };
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    if (a == "--list")
      o.list = true;
    else if (a == "--json" && o.list &&
             (i + 1 >= argc || std::string(argv[i + 1]).rfind("--", 0) == 0))
      o.list_json = true;
    else if (a == "--json")
      o.json_path = need(i);
    else if (a == "--scenario")
      scen = need(i);
    else if (a == "--protocol") {
      o.proto.gen = cli::parse_protocol(need(i));
      o.protocol_given = true;
    } else if (a == "--platform")
      o.platforms = cli::parse_platforms(need(i));
    else if (a == "--mutant")
      o.mut = cli::parse_mutant(need(i));
    else if (a == "--threads")
      o.threads = static_cast<unsigned>(parse_u64("--threads", need(i), true));
    else if (a == "--duration")
      o.duration = parse_seconds("--duration", need(i));
    else if (a == "--iterations")
      o.iterations = parse_u64("--iterations", need(i), true);
    else if (a == "--seed")
      o.seed = parse_u64("--seed", need(i), false);
    else if (a == "--seeds")
      o.seeds = static_cast<unsigned>(parse_u64("--seeds", need(i), true));
    else if (a == "--budget")
      o.budget = parse_seconds("--budget", need(i));
    else if (a == "--frames") {
      o.frames = parse_u64("--frames", need(i), true);
      if (o.frames < 4096) bad("--frames: '" + std::to_string(o.frames) + "' is below 4096");
      o.frames_given = true;
    } else if (a == "--mode") {
      const std::string v = need(i);
      if (v == "lockstep")
        o.md = mode::lockstep;
      else if (v == "free")
        o.md = mode::free;
      else
        bad("--mode: unknown mode '" + v + "' (lockstep, free)");
    } else if (a == "--inject") {
      const std::string v = need(i);
      if (v == "off")
        o.inject = 0;
      else if (v == "random")
        o.inject = 1;
      else
        bad("--inject: unknown value '" + v + "' (off, random)");
    } else if (a == "--preempt") {
      const uint64_t v = parse_u64("--preempt", need(i), false);
      if (v > 1000000) bad("--preempt: '" + std::to_string(v) + "' is above 1000000");
      o.preempt = static_cast<unsigned>(v);
    } else if (a == "--affinity") {
      const std::string affinity = need(i);
      const unsigned ncpu = std::max(1u, std::thread::hardware_concurrency());
      if (affinity == "none") {
      } else if (affinity == "auto") {
        for (unsigned c = 0; c < ncpu; c++) o.cpus.push_back(static_cast<int>(c));
      } else {
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
    } else if (a == "--disable-check") {
      const std::string v = need(i);
      for (auto &c : split(v, ','))
        if (c.empty() || c == "*") bad("--disable-check: '" + v + "' names no check");
      o.disabled_checks = split(v, ',');
    } else if (a == "--kill-matrix")
      o.kill_matrix = true;
    else if (a == "--shard") {
      const std::string v = need(i);
      auto p = split(v, '/');
      if (p.size() != 2) bad("--shard: '" + v + "' is not I/N");
      o.shard_i = static_cast<unsigned>(parse_u64("--shard", p[0], true));
      o.shard_n = static_cast<unsigned>(parse_u64("--shard", p[1], true));
      if (o.shard_i > o.shard_n) bad("--shard: '" + v + "': I must be between 1 and N");
    } else if (a == "--checkpoint") {
      checkpoint_arg = need(i);
      o.checkpoint = parse_interval("--checkpoint", checkpoint_arg);
    } else if (a == "--stat-interval")
      o.stat_interval = parse_interval("--stat-interval", need(i));
    else if (a == "--quiet")
      o.quiet = true;
    else if (a == "--stop-on-first")
      o.stop_on_first = true;
    else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else
      bad("unknown option '" + a + "'");
  }
  if (o.checkpoint > 0 && o.json_path.empty())
    bad("--checkpoint: '" + checkpoint_arg + "' needs --json FILE to write to");
  if (scen == "all") {
    for (auto &s : scenarios()) o.scens.push_back(&s);
  } else {
    for (auto &n : split(scen, ',')) {
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
    j.obj().key("protocols").arr();
    for (auto g : kGenerations) j.val(generation_name(g));
    j.end_arr().key("platforms").arr();
    for (auto pl : kPlatforms) j.val(platform_name(pl));
    j.end_arr().key("mutants").arr();
    for (auto &m : kMutants) {
      j.obj().kv("name", m.name).kv("protocol", generation_name(m.base)).kv("replays", m.replays);
      j.key("visible_on").arr();
      for (auto pl : kPlatforms)
        if (visible_on(m, pl)) j.val(platform_name(pl));
      j.end_arr().key("invariants").arr();
      for (auto &x : split(m.invariants, ' ')) j.val(x);
      j.end_arr().key("scenarios").arr();
      for (auto &x : split(m.scenarios, ' ')) j.val(x);
      j.end_arr().end_obj();
    }
    j.end_arr().key("scenarios").arr();
    for (auto &s : scenarios())
      j.obj()
          .kv("name", s.name)
          .kv("description", s.description)
          .kv("actors", s.actors)
          .kv("oracle", s.oracle)
          .kv("lockstep", s.make != nullptr)
          .end_obj();
    j.end_arr().end_obj();
    std::cout << j.str() << "\n";
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
}

// ---- context, reports ------------------------------------------------------

std::string now_iso() {
  char buf[32];
  std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

void write_context(json &j, const options &o) {
  char host[256] = "unknown";
  gethostname(host, sizeof host - 1);
  std::string argv;
  for (auto &a : o.argv) argv += (argv.empty() ? "" : " ") + a;
  j.key("context")
      .obj()
      .kv("git_sha", ANONX_GIT_SHA)
      .kv("compiler", __VERSION__)
      .kv("build_type", ANONX_BUILD_TYPE)
      .kv("sanitizer", ANONX_SANITIZER)
      .kv("ptl", kPtlName)
      .kv("host", host)
      .kv("cpus", std::thread::hardware_concurrency())
      .kv("cpus_allowed", cpus_allowed())
      .kv("date", now_iso())
      .kv("argv", argv)
      .kv("seed", o.seed)
      .end_obj();
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

void write_run(json &j, const cell_result &r) {
  j.obj()
      .kv("scenario", r.spec.sc->name)
      .kv("protocol", generation_name(r.spec.proto.gen))
      .kv("platform", platform_name(r.spec.proto.plat))
      .kv("mutant", mutant_name(r.spec.proto.mut))
      .kv("mode", mode_name(r.spec.md))
      .kv("inject", r.spec.inject)
      .kv("preempt_one_in", r.spec.preempt)
      .kv("threads", r.spec.threads)
      .kv("seed", r.spec.seed)
      .kv("duration_s", r.elapsed_s)
      .kv("interrupted", r.interrupted)
      .kv("iterations", r.iterations)
      .kv("inconclusive", r.inconclusive)
      .kv("ops", r.ops)
      .kv("ops_per_s", r.elapsed_s > 0 ? r.ops / r.elapsed_s : 0.0)
      .kv("iterations_per_s", r.elapsed_s > 0 ? r.iterations / r.elapsed_s : 0.0);
  j.key("per_thread_ops").arr();
  for (auto x : r.per_thread_ops) j.val(x);
  j.end_arr().key("outcomes").obj();
  for (auto &[name, v] : r.outcomes)
    j.key(name).obj().kv("count", v.first).kv("grade", grade_name(v.second)).end_obj();
  j.end_obj().key("violations").arr();
  for (auto &v : r.violations)
    j.obj()
        .kv("invariant", v.check)
        .kv("count", v.count)
        .key("first")
        .obj()
        .kv("time_s", v.time_s)
        .kv("iteration", v.iteration)
        .kv("thread", v.cpu)
        .kv("pfn", v.pfn)
        .kv("detail", v.detail)
        .end_obj()
        .end_obj();
  j.end_arr();
  if (r.time_to_detect_s >= 0)
    j.kv("time_to_detect_s", r.time_to_detect_s);
  else
    j.key("time_to_detect_s").null();
  const cpu_stats &t = r.totals;
  j.key("gup_fast")
      .obj()
      .kv("attempts", t.gup_fast_success + t.gup_fast_fallback)
      .kv("success", t.gup_fast_success)
      .kv("fallback", t.gup_fast_fallback)
      .kv("recheck_fail", t.gup_fast_recheck_fail)
      .end_obj();
  j.key("paths")
      .obj()
      .kv("faults", t.faults)
      .kv("cow_copies", t.cow_copies)
      .kv("cow_reuse", t.cow_reuse)
      .kv("unshares", t.unshares)
      .kv("share_busy", t.share_busy)
      .kv("swapouts", t.swapouts)
      .kv("swapin_bypass", t.swapin_bypass)
      .kv("swapin_swapcache", t.swapin_swapcache)
      .kv("migrations", t.migrations)
      .kv("gup_slow", t.gup_slow)
      .end_obj();
  j.end_obj();
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

// Whether a signal stopped the run, and which.
void write_stop(json &j) {
  j.kv("interrupted", stop_signal() != 0);
  if (stop_signal()) j.kv("signal", signal_name(stop_signal()));
}

// A checkpoint: the report so far, rewritten (atomically) while the run
// goes on, so a run killed outright (SIGKILL, the OOM killer, a node lost)
// leaves the cells it finished and how far the running ones had got.
void write_checkpoint(const options &o, const std::vector<cell_result> &finished,
                      const std::vector<running_cell> &running);

// The report's head: schema and context, then the runs; the caller writes
// the kill matrix and closes the object.
void begin_report(json &j, const options &o, const std::vector<cell_result> &results) {
  j.obj().kv("schema", "anonx-stress/1").kv("checkpoint", false);
  write_stop(j);
  write_context(j, o);
  j.key("runs").arr();
  for (auto &r : results) write_run(j, r);
  j.end_arr();
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

void write_checkpoint(const options &o, const std::vector<cell_result> &finished,
                      const std::vector<running_cell> &running) {
  json j;
  j.obj().kv("schema", "anonx-stress/1").kv("checkpoint", true).kv("interrupted", false);
  write_context(j, o);
  j.key("runs").arr();
  for (auto &r : finished) write_run(j, r);
  j.end_arr().key("running").arr();
  for (auto &r : running)
    j.obj()
        .kv("scenario", r.scenario)
        .kv("protocol", r.protocol)
        .kv("mutant", r.mutant)
        .kv("threads", r.threads)
        .kv("seed", r.seed)
        .kv("duration_s", r.duration_s)
        .kv("elapsed_s", r.elapsed_s)
        .kv("ops", r.ops)
        .kv("ops_per_s", r.elapsed_s > 0 ? r.ops / r.elapsed_s : 0.0)
        .kv("violations", r.violations)
        .end_obj();
  j.end_arr().key("kill_matrix").arr().end_arr().end_obj();
  write_file(o.json_path, j.str());
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

int run_scenarios(const options &o) {
  std::vector<job> jobs;
  size_t index = 0;
  for (auto pl : o.platforms)
    for (size_t i = 0; i < o.scens.size(); i++, index++)
      if (in_shard(o, index)) {
        cell_spec c = base_cell(o, o.scens[i]);
        c.proto.plat = pl;
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
  if (!o.json_path.empty()) {
    json j;
    begin_report(j, o, results);
    j.key("kill_matrix").arr().end_arr().end_obj();
    write_file(o.json_path, j.str());
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
  json j;
  begin_report(j, o, results);
  j.key("kill_matrix").arr();
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
      j.obj()
          .kv("mutant", m.name)
          .kv("protocol", generation_name(m.base))
          .kv("platform", platform_name(pl))
          .kv("visible", visible_on(m, pl))
          .kv("verdict", verdict)
          .kv("seeds", static_cast<unsigned>(per_seed.size()))
          .kv("killed_seeds", static_cast<unsigned>(killed))
          .kv("median_s", median)
          .kv("max_s", mx)
          .kv("scenario", best.empty() ? std::string(split(m.scenarios, ' ')[0]) : best)
          .kv("killed_by", killed_by);
      j.key("per_seed_s").arr();
      for (double t : per_seed) t < 0 ? j.null() : j.val(t);
      j.end_arr().end_obj();
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
  j.end_arr();
  size_t control_fail = 0;
  for (auto &r : results)
    if (r.spec.proto.mut == mutant::none && r.failed()) {
      control_fail++;
      rc = 1;
      std::printf("FAILED control %s %s %s: %" PRIu64 " violations\n  rerun: %s\n", r.spec.sc->name,
                  generation_name(r.spec.proto.gen), platform_name(r.spec.proto.plat),
                  r.violation_count, rerun_line(o, r).c_str());
    }
  j.end_obj();
  if (!o.json_path.empty()) write_file(o.json_path, j.str());
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
    std::fprintf(stderr, "anonx-stress: %s\n%s", e.msg.c_str(), kUsage);
    return 2;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "anonx-stress: internal error: %s\n", e.what());
    return 3;
  }
}
