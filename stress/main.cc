// main.cc: anonx-stress, the command line of the harness: scenario runs,
// the kill matrix, listing, reports (summary table, JSON, rerun lines).
// Exit: 0 as expected; 1 a forbidden outcome or an escaped mutant; 2 bad
// usage; 3 internal error.
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>

#include "json.h"
#include "stress.h"
#include "version.h"

namespace anonx::stress {
namespace {

const char *kUsage =
    "usage: anonx-stress [--list [--json]] [--scenario NAME[,NAME]|all] [--protocol "
    "v5.18|v5.19|v6.2]\n"
    "                    [--mutant NAME|none] [--threads N] [--duration SECONDS] [--iterations N]\n"
    "                    [--seed N] [--mode lockstep|free] [--inject off|random] [--preempt N]\n"
    "                    [--affinity none|auto|CPULIST] [--json FILE] [--kill-matrix [--seeds K]\n"
    "                    [--budget SECONDS]] [--shard I/N] [--frames N] [--stop-on-first] "
    "[--quiet]\n"
    "                    [--disable-check NAME[,NAME]]\n";

struct usage_error {
  std::string msg;
};

[[noreturn]] void bad(const std::string &msg) { throw usage_error{msg}; }

struct options {
  bool list = false, list_json = false, kill_matrix = false, quiet = false, stop_on_first = false;
  std::vector<const scenario *> scens;
  runtime_protocol proto;
  bool protocol_given = false;
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
  std::vector<std::string> argv;
};

uint64_t parse_u64(const std::string &opt, const std::string &v, bool positive) {
  char *end = nullptr;
  errno = 0;
  if (v.empty() || v[0] == '-')
    bad(opt + ": '" + v + "' is not a " + (positive ? "positive " : "") + "integer");
  const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
  if (errno || *end || (positive && x == 0))
    bad(opt + ": '" + v + "' is not a " + (positive ? "positive " : "") + "integer");
  return x;
}

double parse_seconds(const std::string &opt, const std::string &v) {
  char *end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || !(d > 0) || d > 1e6)
    bad(opt + ": '" + v + "' is not a positive number of seconds");
  return d;
}

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string x;
  while (std::getline(ss, x, sep)) out.push_back(x);
  return out;
}

options parse(int argc, char **argv) {
  options o;
  for (int i = 0; i < argc; i++) o.argv.push_back(argv[i]);
  std::string scen = "all";
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
      const std::string v = need(i);
      if (!parse_generation(v, &o.proto.gen))
        bad("--protocol: unknown protocol '" + v + "' (v5.18, v5.19, v6.2)");
      o.protocol_given = true;
    } else if (a == "--mutant") {
      const std::string v = need(i);
      if (v != "none") {
        o.mut = find_mutant(v);
        if (!o.mut) bad("--mutant: unknown mutant '" + v + "' (see --list)");
      }
    } else if (a == "--threads")
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
    } else if (a == "--quiet")
      o.quiet = true;
    else if (a == "--stop-on-first")
      o.stop_on_first = true;
    else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else
      bad("unknown option '" + a + "'");
  }
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

void print_list(bool as_json) {
  if (as_json) {
    json j;
    j.obj().key("protocols").arr();
    for (auto g : {generation::v5_18, generation::v5_19, generation::v6_2})
      j.val(generation_name(g));
    j.end_arr().key("mutants").arr();
    for (auto &m : kMutants) {
      j.obj().kv("name", m.name).kv("protocol", generation_name(m.base)).kv("replays", m.replays);
      j.kv("x86_visible", m.x86_visible).key("invariants").arr();
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
  std::printf("protocols: v5.18 v5.19 v6.2 (default v6.2)\n\nmutants:\n");
  std::printf("  %-26s %-6s %-4s %-16s %s\n", "name", "base", "x86", "invariants",
              "scenarios / replays");
  for (auto &m : kMutants)
    std::printf("  %-26s %-6s %-4s %-16s %s\n  %-26s %s\n", m.name, generation_name(m.base),
                m.x86_visible ? "yes" : "no", m.invariants, m.scenarios, "", m.replays);
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
    << generation_name(r.spec.proto.gen) << " --mutant " << mutant_name(r.spec.proto.mut)
    << " --threads " << r.spec.threads << " --mode " << mode_name(r.spec.md) << " --inject "
    << (r.spec.inject ? "random" : "off") << " --preempt " << r.spec.preempt << " --seed "
    << r.spec.seed << " --duration " << r.spec.duration_s;
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
      .kv("mutant", mutant_name(r.spec.proto.mut))
      .kv("mode", mode_name(r.spec.md))
      .kv("inject", r.spec.inject)
      .kv("preempt_one_in", r.spec.preempt)
      .kv("threads", r.spec.threads)
      .kv("seed", r.spec.seed)
      .kv("duration_s", r.elapsed_s)
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
      .kv("migrations", t.migrations)
      .kv("gup_slow", t.gup_slow)
      .end_obj();
  j.end_obj();
}

// Reports are written to a temporary file, then renamed: nothing half-written.
void write_file(const std::string &path, const std::string &text) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream f(tmp);
    if (!f) throw std::runtime_error("cannot write " + tmp);
    f << text << "\n";
    if (!f) throw std::runtime_error("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot rename to " + path);
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

struct progress {
  explicit progress(bool q) : tty(isatty(2)), quiet(q) {}
  bool tty = false;
  bool quiet = false;
  size_t total = 0, done = 0;
  uint64_t violations = 0;
  double seconds_left = 0;
  std::mutex mu;
  void update(const cell_result &r, double cell_seconds) {
    std::lock_guard<std::mutex> g(mu);
    done++;
    violations += r.violation_count;
    seconds_left = std::max(0.0, seconds_left - cell_seconds);
    if (quiet || !tty) return;
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
  std::vector<std::vector<cell_result>> job_results(jobs.size());
  tbb::task_arena arena(conc);
  arena.execute([&] {
    tbb::parallel_for(
        size_t(0), jobs.size(),
        [&](size_t i) {
          double spent = 0;
          for (auto &c : jobs[i].cells) {
            cell_result r = run_cell(c);
            if (r.violation_count) r.time_to_detect_s += spent;
            spent += r.elapsed_s;
            const bool killed = r.violation_count > 0;
            job_results[i].push_back(std::move(r));
            if (killed) break;
          }
          pg.update(job_results[i].back(), jobs[i].expect_s / conc);
        },
        tbb::simple_partitioner());
  });
  std::vector<cell_result> results;
  for (auto &jr : job_results)
    for (auto &r : jr) results.push_back(std::move(r));
  return results;
}

// The report's head: schema and context, then the runs; the caller writes
// the kill matrix and closes the object.
void begin_report(json &j, const options &o, const std::vector<cell_result> &results) {
  j.obj().kv("schema", "anonx-stress/1");
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

int run_scenarios(const options &o) {
  std::vector<job> jobs;
  for (size_t i = 0; i < o.scens.size(); i++)
    if (in_shard(o, i)) jobs.push_back({{base_cell(o, o.scens[i])}, o.duration});
  progress pg(o.quiet);
  auto results = run_jobs(jobs, pg, o.cpus, std::max(2u, o.threads));
  if (!o.quiet) print_summary(results);
  int rc = 0;
  for (auto &r : results)
    if (r.failed()) {
      rc = 1;
      std::printf("FAILED %s %s mutant=%s: %" PRIu64 " violations (first: %s)\n  rerun: %s\n",
                  r.spec.sc->name, generation_name(r.spec.proto.gen), mutant_name(r.spec.proto.mut),
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
  std::printf("End of test: %s (protocol=%s mutant=%s threads=%u duration=%g mode=%s seed=%" PRIu64
              " cells=%zu)\n",
              rc ? "FAILURE" : "SUCCESS", generation_name(o.proto.gen), mutant_name(o.proto.mut),
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

// Kill-matrix jobs: one per mutant and seed, its scenarios tried in the
// table's order until one kills it; then the control cells.
int run_kill_matrix(const options &o) {
  std::vector<job> jobs;
  std::set<std::string> used;
  size_t index = 0;
  for (auto &m : kMutants)
    for (unsigned k = 0; k < o.seeds; k++, index++) {
      job jb{{}, o.budget / 4};
      for (auto &sname : split(m.scenarios, ' ')) {
        const scenario *s = find_scenario(sname);
        if (!s || !s->make) continue;
        used.insert(sname);
        cell_spec c = km_cell(o, s, runtime_protocol{m.base, m.id, false}, k, o.budget);
        c.stop_on_first = true;
        jb.cells.push_back(c);
      }
      if (in_shard(o, index) && !jb.cells.empty()) jobs.push_back(jb);
    }
  // The correct generations on the same cells: zero forbidden outcomes.
  const double control = std::min(o.budget, 0.5);
  for (auto &sname : used)
    for (auto g : {generation::v5_19, generation::v6_2})
      for (unsigned k = 0; k < o.seeds; k++, index++) {
        if (!in_shard(o, index)) continue;
        const scenario *s = find_scenario(sname);
        jobs.push_back(
            {{km_cell(o, s, runtime_protocol{g, mutant::none, false}, k, control)}, control});
      }
  progress pg(o.quiet);
  // Every kill-matrix cell is a lockstep cell of two roles.
  const std::vector<cell_result> results = run_jobs(jobs, pg, o.cpus, 2);

  int rc = 0;
  json j;
  begin_report(j, o, results);
  j.key("kill_matrix").arr();
  if (!o.quiet)
    std::printf("\n%-26s %-6s %-4s %-22s %-12s %9s %9s %-20s %s\n", "mutant", "base", "x86",
                "verdict", "killed", "median_s", "max_s", "killed_by", "scenarios");
  for (auto &m : kMutants) {
    std::vector<double> per_seed;
    std::string best, killed_by;
    double best_t = 1e18;
    bool any_cell = false;
    for (unsigned k = 0; k < o.seeds; k++) {
      double t = -1;
      for (auto &r : results) {
        if (r.spec.proto.mut != m.id || r.spec.seed != o.seed + k) continue;
        any_cell = true;
        if (r.violation_count && (t < 0 || r.time_to_detect_s < t)) t = r.time_to_detect_s;
        if (r.violation_count && r.time_to_detect_s < best_t) {
          best_t = r.time_to_detect_s, best = r.spec.sc->name;
          killed_by = first_check(r);
        }
      }
      per_seed.push_back(t);
    }
    if (!any_cell) continue;  // all of its cells are in other shards
    const size_t killed =
        std::count_if(per_seed.begin(), per_seed.end(), [](double t) { return t >= 0; });
    std::vector<double> ts;
    for (double t : per_seed) ts.push_back(t < 0 ? o.budget : t);
    std::sort(ts.begin(), ts.end());
    const double median =
        ts.empty()
            ? 0
            : (ts.size() % 2 ? ts[ts.size() / 2] : (ts[ts.size() / 2 - 1] + ts[ts.size() / 2]) / 2);
    const double mx = ts.empty() ? 0 : ts.back();
    std::string verdict;
    if (killed == per_seed.size())
      verdict = "killed";
    else if (!m.x86_visible)
      verdict = killed ? "killed-partly(not-x86)" : "survived-as-expected";
    else {
      verdict = "escaped";
      rc = 1;
    }
    j.obj()
        .kv("mutant", m.name)
        .kv("protocol", generation_name(m.base))
        .kv("x86_visible", m.x86_visible)
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
      std::printf("%-26s %-6s %-4s %-22s %5zu/%-6zu %9.4f %9.4f %-20s %s\n", m.name,
                  generation_name(m.base), m.x86_visible ? "yes" : "no", verdict.c_str(), killed,
                  per_seed.size(), median, mx, killed_by.empty() ? "-" : killed_by.c_str(),
                  m.scenarios);
    if (verdict == "escaped")
      for (auto &r : results)
        if (r.spec.proto.mut == m.id && !r.violation_count) {
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
      std::printf("FAILED control %s %s: %" PRIu64 " violations\n  rerun: %s\n", r.spec.sc->name,
                  generation_name(r.spec.proto.gen), r.violation_count, rerun_line(o, r).c_str());
    }
  j.end_obj();
  if (!o.json_path.empty()) write_file(o.json_path, j.str());
  std::printf("End of test: %s (kill matrix: seeds=%u budget=%g cells=%zu control failures=%zu)\n",
              rc ? "FAILURE" : "SUCCESS", o.seeds, o.budget, results.size(), control_fail);
  return rc;
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
    return o.kill_matrix ? run_kill_matrix(o) : run_scenarios(o);
  } catch (const usage_error &e) {
    std::fprintf(stderr, "anonx-stress: %s\n%s", e.msg.c_str(), kUsage);
    return 2;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "anonx-stress: internal error: %s\n", e.what());
    return 3;
  }
}
