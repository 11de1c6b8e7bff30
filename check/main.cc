// main.cc: anonx-check, core/ under Relacy, the model checker of the C++
// memory model. Each racing pair (pairs.h) is a Relacy test, searched by the
// random scheduler (--iterations N), the context-bound scheduler
// (--context-bound K, exhaustive within the bound) or the full search
// (--full). The command line mirrors anonx-stress (stress/main.cc): same
// --scenario, --protocol, --mutant, --platform, --seed, --json, --quiet,
// --list, --kill-matrix, and the same exit codes: 0 as expected; 1 a
// forbidden outcome or an escaped mutant; 2 bad usage; 3 internal error.
#include "pairs.h"
// clang-format off
#include <unistd.h>
// clang-format on

#include "cli.h"
#include "json.h"
#include "registry.h"

namespace anonx::check {
namespace {

using harness::json;

const char *kUsage =
    "usage: anonx-check [--list [--json]] [--scenario NAME[,NAME]|all]\n"
    "                   [--protocol v5.18|v5.19|v6.0|v6.1|v6.2] [--platform x86|rcu|x86,rcu]\n"
    "                   [--mutant NAME|none] [--iterations N] [--context-bound K] [--full]\n"
    "                   [--seed N] [--kill-matrix [--seeds K]] [--weaken FILE:LINE] [--sites]\n"
    "                   [--json FILE] [--quiet]\n"
    "Default search: --iterations 100000 on each scenario and --context-bound 2 on those\n"
    "small enough (--list); giving either (or --full) runs only what is given. Default platform: "
    "rcu (no TLB flush waits\n"
    "for GUP-fast: the barriers alone order the pairs).\n";

using cli::bad;
using cli::parse_u64;
using cli::split;
using cli::usage_error;

// ---- scenarios ---------------------------------------------------------------

using runner = pair_result (*)(const rl::test_params &);

// Relacy's output goes through a stream it writes while its own operator
// new is in force (inside the context, a heap block from before is not
// its to free): a FILE-backed stream buffer, which never allocates.
class file_buf final : public std::streambuf {
 public:
  explicit file_buf(FILE *f) : f_(f) {}

 protected:
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) std::fputc(c, f_);
    return c;
  }
  std::streamsize xsputn(const char *s, std::streamsize n) override {
    return static_cast<std::streamsize>(std::fwrite(s, 1, static_cast<size_t>(n), f_));
  }

 private:
  FILE *f_;
};

std::string slurp(FILE *f) {
  std::string s;
  std::fflush(f);
  std::rewind(f);
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, n);
  return s;
}

template <class Pair>
pair_result run_pair(const rl::test_params &base) {
  rl::test_params p = base;
  FILE *out_f = std::tmpfile(), *null_f = std::fopen("/dev/null", "w");
  if (!out_f || !null_f) throw std::runtime_error("cannot open a temporary file");
  file_buf out_b(out_f), null_b(null_f);
  std::ostream out(&out_b), progress(&null_b);
  p.output_stream = &out;
  p.progress_stream = &progress;
  // A persistent pair (pairs.h) is set up here, once, outside Relacy.
  std::unique_ptr<Pair> world;
  if constexpr (Pair::kPersistent) {
    g_backend.live = false;
    world = std::make_unique<Pair>();
    pair_test<Pair>::persistent = world.get();
  }
  const auto t0 = std::chrono::steady_clock::now();
  const bool ok = rl::simulate<pair_test<Pair>>(p);
  g_backend.live = false;  // the persistent world's teardown is no Relacy event
  pair_result r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  uint64_t start = 0;
  if (!base.initial_state.empty()) start = std::strtoull(base.initial_state.c_str(), nullptr, 10);
  r.schedules = p.stop_iteration - start + (ok ? 0 : 1);
  r.failed = !ok;
  if (!ok) {
    r.what = rl::test_result_str(p.test_result);
    r.history = slurp(out_f);
  }
  std::fclose(out_f);
  std::fclose(null_f);
  // After a failure the pair may hold blocks of Relacy's heap (the iteration
  // was abandoned): leave it.
  if (r.failed) (void)world.release();
  return r;
}

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

// The Relacy pair of each scenario that has one, in the order of --list and
// --scenario all; every other scenario of the registry follows with the
// reason it has none.
const std::vector<scenario> &scenarios() {
  using S = harness::scenario_id;
  static const std::pair<S, runner> pairs[] = {
      {S::sb_clear_flag_vs_pin, run_pair<sb_pair>},
      {S::mp_ksm_vs_ro_pin, run_pair<mp_pair>},
      {S::swapout_vs_gup_fast, run_pair<swapout_pair<false>>},
      {S::swapout_vs_gup_fast_ro, run_pair<swapout_pair<true>>},
      {S::ksm_vs_gup_fast, run_pair<ksm_pair>},
      {S::migrate_vs_gup_fast, run_pair<migrate_pair>},
      {S::fork_vs_gup_fast, run_pair<fork_pair<false>>},
      {S::fork_vs_gup_fast_ro, run_pair<fork_pair<true>>},
      {S::fork_vs_gup_fast_haspinned, run_pair<fork_pair<false, true>>},
  };
  static const std::vector<scenario> table = [] {
    std::vector<scenario> t;
    auto add = [&](const harness::scenario_def &d, runner r) {
      const harness::relacy_def &x = d.relacy;
      t.push_back({d.name, d.id, x.shape, x.what, x.oracles, x.bounded, r, x.why_not,
                   x.finding_check, x.finding_platform, x.finding});
    };
    for (const auto &[id, r] : pairs) {
      if (!(harness::def(id).backends & harness::kRelacy))
        throw std::logic_error(std::string("registry: ") + harness::name_of(id) +
                               " is not marked for the Relacy back end");
      add(harness::def(id), r);
    }
    for (const auto &d : harness::registry()) {
      if (d.backends & harness::kRelacy) {
        bool bound = false;
        for (const auto &pr : pairs) bound |= pr.first == d.id;
        if (!bound) throw std::logic_error(std::string("no Relacy pair for ") + d.name);
        continue;
      }
      add(d, nullptr);
    }
    return t;
  }();
  return table;
}

// Does the mutant's catalogue entry target the preset s stands for?
bool names_mutant(const mutant_info &m, const scenario &s) { return harness::targets(m.id, s.id); }

const scenario *find_scenario(const std::string &n) {
  for (const auto &s : scenarios())
    if (n == s.name) return &s;
  return nullptr;
}

// ---- options -------------------------------------------------------------------

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
    else if (a == "--scenario") {
      scen = need(i);
      o.scen_given = true;
    } else if (a == "--protocol") {
      o.proto.gen = cli::parse_protocol(need(i));
      o.protocol_given = true;
    } else if (a == "--platform")
      o.platforms = cli::parse_platforms(need(i));
    else if (a == "--mutant")
      o.mut = cli::parse_mutant(need(i));
    else if (a == "--iterations")
      o.iterations = parse_u64("--iterations", need(i), true);
    else if (a == "--context-bound") {
      const uint64_t k = parse_u64("--context-bound", need(i), false);
      if (k > 8) bad("--context-bound: '" + std::to_string(k) + "' is above 8");
      o.context_bound = static_cast<int>(k);
    } else if (a == "--full")
      o.full = true;
    else if (a == "--seed")
      o.seed = parse_u64("--seed", need(i), false);
    else if (a == "--kill-matrix")
      o.kill_matrix = true;
    else if (a == "--seeds") {
      const uint64_t k = parse_u64("--seeds", need(i), true);
      if (k > 1000) bad("--seeds: '" + std::to_string(k) + "' is above 1000");
      o.seeds = static_cast<unsigned>(k);
    } else if (a == "--sites")
      o.sites = true;
    else if (a == "--weaken") {
      const std::string v = need(i);
      const auto c = v.rfind(':');
      if (c == std::string::npos || c == 0 || v.rfind("core/", 0) != 0)
        bad("--weaken: '" + v + "' is not core/FILE:LINE");
      o.weaken = site_key{v.substr(0, c),
                          static_cast<unsigned>(parse_u64("--weaken", v.substr(c + 1), true))};
    } else if (a == "--quiet")
      o.quiet = true;
    else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else
      bad("unknown option '" + a + "'");
  }
  if (o.mut && !o.protocol_given) o.proto.gen = o.mut->base;
  if (o.mut) o.proto.mut = o.mut->id;
  if (scen == "all") {
    // every scenario that fits the back end; with a mutant, those of its
    // catalogue entry that fit (all that fit when none does)
    for (const auto &s : scenarios()) {
      if (!s.run || s.why_not) continue;
      if (o.mut && !o.scen_given && !names_mutant(*o.mut, s)) continue;
      o.scens.push_back(&s);
    }
    if (o.scens.empty())
      for (const auto &s : scenarios())
        if (s.run && !s.why_not) o.scens.push_back(&s);
  } else {
    for (auto &x : split(scen, ',')) {
      const scenario *s = find_scenario(x);
      if (!s) bad("--scenario: unknown scenario '" + x + "' (see --list)");
      if (!s->run) bad("--scenario: '" + x + "' does not fit the Relacy back end: " + s->why_not);
      o.scens.push_back(s);
    }
  }
  if (o.mut && o.mut->id == mutant::b12_nonatomic_flag && !o.kill_matrix)
    bad("--mutant: 'b12_nonatomic_flag' needs a plain RMW on an atomic word, which the Relacy "
        "back end does not model (see --list)");
  return o;
}

// ---- searches --------------------------------------------------------------------

struct search {
  std::string kind;  // "random", "context-bound", "full"
  uint64_t iterations = 0;
  unsigned bound = 0;
};

std::vector<search> searches_of(const options &o) {
  std::vector<search> v;
  const bool any = o.iterations || o.context_bound >= 0 || o.full;
  if (o.iterations || !any) v.push_back({"random", o.iterations ? o.iterations : 100000, 0});
  if (o.context_bound >= 0 || !any)
    v.push_back(
        {"context-bound", 0, static_cast<unsigned>(o.context_bound >= 0 ? o.context_bound : 2)});
  if (o.full) v.push_back({"full", 0, 0});
  return v;
}

rl::test_params params_of(const search &s, uint64_t seed) {
  rl::test_params p;
  p.execution_depth_limit = 20000;
  if (s.kind == "random") {
    p.search_type = rl::sched_random;
    // The random scheduler seeds each schedule with its iteration number:
    // --seed N starts at N << 32.
    const uint64_t start = seed << 32;
    p.iteration_count = start + s.iterations;
    if (start) p.initial_state = std::to_string(start) + " ";
  } else if (s.kind == "context-bound") {
    p.search_type = rl::sched_bound;
    p.context_bound = s.bound;
  } else {
    p.search_type = rl::sched_full;
  }
  return p;
}

// ---- the trace -------------------------------------------------------------------

// "in long int anonx::gup_pte_range(Env&, ...), core/gup.h(88)" ->
// "gup_pte_range  core/gup.h:88".
std::string short_site(std::string in_part) {
  // source_location names a template's arguments: " [with P = ...]"
  for (size_t k; (k = in_part.find(" [with ")) != std::string::npos;) {
    size_t e = k + 1;
    for (int depth = 0; e < in_part.size(); e++) {
      if (in_part[e] == '[') depth++;
      if (in_part[e] == ']' && --depth == 0) break;
    }
    in_part.erase(k, e - k + 1);
  }
  std::string fn = in_part, where;
  const auto comma = in_part.rfind("), ");
  if (comma != std::string::npos) {
    fn = in_part.substr(0, comma + 1);
    where = in_part.substr(comma + 3);
  }
  const auto paren = fn.find('(');
  std::string name = fn.substr(0, paren);
  const auto sp = name.find_last_of(" :");
  if (sp != std::string::npos) name = name.substr(sp + 1);
  const auto k = where.rfind("core/");
  if (k != std::string::npos) where = where.substr(k);
  const auto lp = where.rfind('(');
  if (lp != std::string::npos && where.back() == ')')
    where = where.substr(0, lp) + ":" + where.substr(lp + 1, where.size() - lp - 2);
  return name + "  " + where;
}

// The failure Relacy names on the history's first line ("USER ASSERT
// FAILED (I1: ...)").
std::string verdict_of(const std::string &hist, const std::string &fallback) {
  std::istringstream in(hist);
  std::string line;
  while (std::getline(in, line))
    if (line.find("FAILED") != std::string::npos || line.find("DETECTED") != std::string::npos ||
        line.find("ACCESS") != std::string::npos || line.find("LIVELOCK") != std::string::npos)
      return line;
  return fallback;
}

// Relacy's history of the failing schedule, with thread numbers as actors
// (C: the clearer, thread 0; G: GUP-fast, thread 1), the raced words by name,
// each event's core/ function and line, and the labelled steps (A1..A4,
// B1..B5) as headings. Relacy's own bookkeeping (memory, set-up markers) and
// its per-thread repetition of the history are left out.
std::string readable_trace(const std::string &hist) {
  std::istringstream in(hist);
  std::ostringstream out;
  std::string line;
  bool in_hist = false;
  // Relacy does not clear its history between the iterations of a replay:
  // keep the failing (last) one.
  std::string tail = hist;
  if (const auto k = hist.rfind("ITERATION END"); k != std::string::npos) {
    const auto head_end = hist.find('\n', hist.find("execution history"));
    const auto from = hist.find('\n', k);
    if (head_end != std::string::npos && from != std::string::npos && from > head_end)
      tail = hist.substr(0, head_end + 1) + hist.substr(from + 1);
  }
  in.str(tail);
  while (std::getline(in, line)) {
    if (line.rfind("execution history", 0) == 0) {
      in_hist = true;
      out << "  " << line << " (C = thread 0, the clearer; G = thread 1, GUP-fast):\n";
      continue;
    }
    if (!in_hist) continue;
    if (line.empty() || line.rfind("thread ", 0) == 0) break;  // per-thread repeats
    if (line.find("memory deallocation") != std::string::npos ||
        line.find("memory allocation") != std::string::npos ||
        line.find("fiber_proc_impl") != std::string::npos)
      continue;
    std::string l = line;
    // "[N] T: " -> "C " / "G "
    const auto rb = l.find("] ");
    if (rb != std::string::npos && rb + 3 < l.size()) {
      const char t = l[rb + 2];
      l = std::string(t == '0' ? "C" : t == '1' ? "G" : "?") + " " + l.substr(rb + 4);
    }
    for (const auto &w : g_word_names) {
      if (!w.addr) break;
      char pat[48];
      std::snprintf(pat, sizeof pat, "<%p>", w.addr);
      const std::string p = pat;
      for (size_t k; (k = l.find(p)) != std::string::npos;) l.replace(k, p.size(), w.name);
    }
    if (const auto k = l.find("==== "); k != std::string::npos) {
      const auto e = l.find(", in", k);
      out << "  --- " << l.substr(k + 5, e == std::string::npos ? std::string::npos : e - k - 5)
          << "\n";
      continue;
    }
    if (const auto k = l.find(", in "); k != std::string::npos)
      l = l.substr(0, k) + "    [" + short_site(l.substr(k + 5)) + "]";
    out << "    " << l << "\n";
  }
  return out.str();
}

// ---- running ------------------------------------------------------------------------

// Whether a cell is a known finding's: the correct protocol fails it (from
// 6.1, whose code the finding is about), so failing with the finding's check
// is no kill of a mutant or a weakened site, and failing with another is.
bool finding_cell(const scenario &s, platform pl, generation gen) {
  return s.finding && pl == s.finding_platform &&
         static_cast<int>(gen) >= static_cast<int>(generation::v6_1);
}

// Whether a failure's verdict names one of the finding's checks: "(I1:".
bool finding_failure(const scenario &s, const std::string &what) {
  for (const auto &c : split(s.finding_check, ','))
    if (what.find("(" + c + ":") != std::string::npos) return true;
  return false;
}

struct cell_result {
  const scenario *s;
  platform plat;
  search srch;
  pair_result r;
  bool finding = false;     // a known finding's cell (scenario::finding)
  bool reproduced = false;  // it failed with the finding's check, as expected
};

cell_result run_cell(const scenario &s, platform pl, const search &sr, const runtime_protocol &pr,
                     uint64_t seed) {
  g_proto = pr;
  g_proto.plat = pl;
  g_proto.reorder = false;  // Relacy reorders; no scripted store buffer
  cell_result c{&s, pl, sr, {}};
  c.r = s.run(params_of(sr, seed));
  if (c.r.failed) c.r.what = verdict_of(c.r.history, c.r.what);
  return c;
}

std::string git_sha() {
#if defined(ANONX_GIT_SHA)
  return ANONX_GIT_SHA;
#else
  return "unknown";
#endif
}

json context_json(const options &o) {
  std::string args;
  for (auto &a : o.argv) args += (args.empty() ? "" : " ") + a;
  return {{"tool", "anonx-check"},
          {"backend", "relacy"},
          {"git_sha", git_sha()},
          {"compiler", __VERSION__},
          {"args", args},
          {"seed", o.seed},
          {"protocol", generation_name(o.proto.gen)},
          {"mutant", o.mut ? o.mut->name : "none"}};
}

json cell_json(const cell_result &c) {
  json j = {{"scenario", c.s->name},
            {"shape", c.s->shape},
            {"platform", platform_name(c.plat)},
            {"search", c.srch.kind}};
  if (c.srch.kind == "random") j["iterations"] = c.srch.iterations;
  if (c.srch.kind == "context-bound") j["context_bound"] = c.srch.bound;
  j["schedules"] = c.r.schedules;
  j["seconds"] = c.r.seconds;
  j["schedules_per_s"] = c.r.seconds > 0 ? c.r.schedules / c.r.seconds : 0.0;
  j["failed"] = c.r.failed;
  if (c.r.failed) {
    j["verdict"] = c.r.what;
    j["schedules_to_detection"] = c.r.schedules;
  }
  if (c.finding) {
    j["known_finding"] = c.s->finding;
    j["finding_reproduced"] = c.reproduced;
    // the run's outcome for this cell: a reproduced finding is not a failure
    j["failed"] = !c.reproduced;
  }
  return j;
}

std::string rerun_line(const options &o, const cell_result &c) {
  std::string l = "anonx-check --scenario " + std::string(c.s->name) + " --platform " +
                  platform_name(c.plat) + " --protocol " + generation_name(o.proto.gen);
  if (o.mut) l += std::string(" --mutant ") + o.mut->name;
  if (c.srch.kind == "random")
    l += " --iterations " + std::to_string(c.srch.iterations) + " --seed " + std::to_string(o.seed);
  else if (c.srch.kind == "context-bound")
    l += " --context-bound " + std::to_string(c.srch.bound);
  else
    l += " --full";
  if (o.weaken) l += " --weaken " + o.weaken->file + ":" + std::to_string(o.weaken->line);
  return l;
}

int run_scenarios(const options &o) {
  std::vector<cell_result> cells;
  bool failed = false;
  unsigned skipped = 0;
  for (const scenario *s : o.scens)
    for (platform pl : o.platforms)
      for (const search &sr : searches_of(o)) {
        if (sr.kind != "random" && !s->bounded) {
          // Built inside Relacy, every free of its set-up is a choice
          // point of the search (pairs.h): a bounded search never ends.
          if (!o.quiet && pl == o.platforms.front())
            std::printf("%-24s %s search skipped: too large, random search only\n", s->name,
                        sr.kind.c_str());
          ++skipped;
          continue;
        }
        cell_result c = run_cell(*s, pl, sr, o.proto, o.seed);
        // A known finding of the correct protocol: expected to fail, with its check.
        const bool finding = finding_cell(*s, pl, o.proto.gen);
        if (finding) {
          c.finding = true;
          c.reproduced = c.r.failed && finding_failure(*s, c.r.what);
        }
        const double rate = c.r.seconds > 0 ? c.r.schedules / c.r.seconds : 0;
        if (!o.quiet || c.r.failed)
          std::printf("%-24s %-4s %-16s %10" PRIu64 " schedules %8.2f s %9.0f/s  %s\n", s->name,
                      platform_name(pl),
                      (sr.kind + (sr.kind == "context-bound" ? "=" + std::to_string(sr.bound)
                                                             : std::string()))
                          .c_str(),
                      c.r.schedules, c.r.seconds, rate,
                      finding      ? (c.reproduced ? "known finding reproduced" : "FAILED")
                      : c.r.failed ? "FAILED"
                                   : "ok");
        if (finding && c.reproduced) {
          std::printf("  %s after %" PRIu64 " schedules: %s\n  trace: %s\n", c.r.what.c_str(),
                      c.r.schedules, s->finding, rerun_line(o, c).c_str());
          if (!o.quiet) std::fputs(readable_trace(c.r.history).c_str(), stdout);
        } else if (finding && !c.r.failed) {
          failed = true;
          std::printf("  the known finding (%s) did not reproduce: update the scenario table\n",
                      s->finding_check);
        } else if (c.r.failed) {
          failed = true;
          std::printf("  %s after %" PRIu64 " schedules\n", c.r.what.c_str(), c.r.schedules);
          std::fputs(readable_trace(c.r.history).c_str(), stdout);
          std::printf("  rerun: %s\n", rerun_line(o, c).c_str());
        }
        std::fflush(stdout);
        cells.push_back(std::move(c));
      }
  if (!o.json_path.empty()) {
    json j = {{"schema", "anonx-check/1"}, {"context", context_json(o)}, {"runs", json::array()}};
    for (auto &c : cells) j["runs"].push_back(cell_json(c));
    cli::write_file(o.json_path, harness::report_text(j));
  }
  std::string plats;
  for (auto p : o.platforms) plats += (plats.empty() ? "" : ",") + std::string(platform_name(p));
  std::printf("End of test: %s (protocol=%s mutant=%s platform=%s cells=%zu skipped=%u)\n",
              failed ? "FAILURE" : "SUCCESS", generation_name(o.proto.gen),
              o.mut ? o.mut->name : "none", plats.c_str(), cells.size(), skipped);
  return failed ? 1 : 0;
}

// Every catalogue mutant against the pairs that stand for the scenarios
// its entry names, on each platform: K random searches (seeds --seed ..
// --seed+K-1, up to --iterations schedules each) per pair, and the schedules
// each took to the first forbidden outcome. Killed: some search failed;
// escaped: none did (exit 1); not run: no pair fits (the reason is given).
int run_kill_matrix(const options &o) {
  json j = {{"schema", "anonx-check-kill-matrix/1"},
            {"context", context_json(o)},
            {"kill_matrix", json::array()}};
  unsigned escaped = 0, killed = 0, not_run = 0;
  const uint64_t iters = o.iterations ? o.iterations : 100000;
  for (const auto &mi : kMutants) {
    std::vector<const scenario *> sc;
    if (mi.id != mutant::b12_nonatomic_flag)
      for (const auto &s : scenarios())
        if (s.run && !s.why_not && names_mutant(mi, s)) sc.push_back(&s);
    json row = {{"mutant", mi.name}, {"base", generation_name(mi.base)}};
    if (sc.empty()) {
      std::string why;
      for (harness::scenario_id id : harness::targets(mi.id)) {
        const std::string x = harness::name_of(id);
        const scenario *s = find_scenario(x);
        why += (why.empty() ? "" : "; ") + x + ": " +
               (s && s->why_not ? s->why_not : "not a Relacy pair");
      }
      ++not_run;
      row["result"] = "not-run";
      row["why"] = why;
      j["kill_matrix"].push_back(row);
      if (!o.quiet) std::printf("%-26s not run: %s\n", mi.name, why.c_str());
      continue;
    }
    runtime_protocol pr;
    pr.gen = o.protocol_given ? o.proto.gen : mi.base;
    pr.mut = mi.id;
    bool kill = false;
    row["cells"] = json::array();
    for (const scenario *s : sc)
      for (platform pl : o.platforms) {
        std::vector<uint64_t> to_detect;
        double secs = 0;
        uint64_t total = 0;
        for (unsigned k = 0; k < o.seeds; k++) {
          cell_result c = run_cell(*s, pl, search{"random", iters, 0}, pr, o.seed + k);
          secs += c.r.seconds;
          total += c.r.schedules;
          // the known finding's failure is the correct protocol's too: no kill
          if (c.r.failed && !(finding_cell(*s, pl, pr.gen) && finding_failure(*s, c.r.what)))
            to_detect.push_back(c.r.schedules);
        }
        std::sort(to_detect.begin(), to_detect.end());
        json cell = {{"scenario", s->name},
                     {"platform", platform_name(pl)},
                     {"seeds", o.seeds},
                     {"killed_seeds", to_detect.size()},
                     {"iterations", iters},
                     {"seconds", secs},
                     {"schedules_per_s", secs > 0 ? total / secs : 0.0},
                     {"schedules_to_detection", to_detect}};
        if (!to_detect.empty()) {
          cell["median_schedules"] = to_detect[to_detect.size() / 2];
          cell["max_schedules"] = to_detect.back();
        }
        row["cells"].push_back(cell);
        kill |= !to_detect.empty();
        if (!o.quiet) {
          if (to_detect.empty())
            std::printf("%-26s %-24s %-4s survived %u x %" PRIu64 " schedules\n", mi.name, s->name,
                        platform_name(pl), o.seeds, iters);
          else
            std::printf("%-26s %-24s %-4s killed %zu/%u, schedules to detection median %" PRIu64
                        " max %" PRIu64 "\n",
                        mi.name, s->name, platform_name(pl), to_detect.size(), o.seeds,
                        to_detect[to_detect.size() / 2], to_detect.back());
        }
        std::fflush(stdout);
      }
    row["result"] = kill ? "killed" : "escaped";
    j["kill_matrix"].push_back(row);
    if (kill)
      ++killed;
    else
      ++escaped;
    if (!kill) std::printf("%-26s ESCAPED\n", mi.name);
  }
  j["killed"] = killed;
  j["escaped"] = escaped;
  j["not_run"] = not_run;
  if (!o.json_path.empty()) cli::write_file(o.json_path, harness::report_text(j));
  std::printf(
      "End of test: %s (kill matrix: killed=%u escaped=%u not-run=%u seeds=%u "
      "iterations=%" PRIu64 ")\n",
      escaped ? "FAILURE" : "SUCCESS", killed, escaped, not_run, o.seeds, iters);
  return escaped ? 1 : 0;
}

int list(const options &o) {
  if (o.list_json) {
    json j = {{"scenarios", json::array()}, {"mutants", json::array()}};
    for (const auto &s : scenarios()) {
      json row = {
          {"name", s.name}, {"fits", s.run != nullptr}, {"in_all", s.run != nullptr && !s.why_not}};
      if (s.run) {
        row["shape"] = s.shape;
        row["description"] = s.description;
        row["oracles"] = s.oracles;
      }
      if (s.why_not) row["why_not"] = s.why_not;
      if (s.finding)
        row["known_finding"] = {{"platform", platform_name(s.finding_platform)},
                                {"check", s.finding_check},
                                {"finding", s.finding}};
      j["scenarios"].push_back(row);
    }
    for (const auto &m : kMutants) j["mutants"].push_back(m.name);
    std::puts(harness::report_text(j).c_str());
    return 0;
  }
  std::puts("Scenarios that fit the Relacy back end (--scenario all):");
  for (const auto &s : scenarios())
    if (s.run && !s.why_not)
      std::printf("  %-26s %-6s %s [%s]%s\n", s.name, s.shape, s.description, s.oracles,
                  s.bounded ? " (bounded and full searches too)" : " (random search only)");
  std::puts("Known findings (the correct protocol fails the cell, as the kernel's code allows;");
  std::puts("the cell must fail with that check, and passing fails the run):");
  for (const auto &s : scenarios())
    if (s.finding)
      std::printf("  %-26s %s, %s: %s\n", s.name, platform_name(s.finding_platform),
                  s.finding_check, s.finding);
  std::puts("Scenarios that fit but are not in --scenario all, and why:");
  for (const auto &s : scenarios())
    if (s.run && s.why_not) std::printf("  %-26s %s\n", s.name, s.why_not);
  std::puts("Scenarios that do not fit, and why:");
  for (const auto &s : scenarios())
    if (!s.run) std::printf("  %-26s %s\n", s.name, s.why_not);
  std::puts("Mutants (--mutant):");
  for (const auto &m : kMutants) std::printf("  %-26s %s\n", m.name, harness::targets_text(m.id).c_str());
  return 0;
}

// The core/ sites (barriers and explicit orders) the pairs reach, with what
// they are: the barrier accounting's list for this back end.
int list_sites(const options &o) {
  g_backend.record_sites = true;
  for (const scenario *s : o.scens)
    for (platform pl : o.platforms) run_cell(*s, pl, search{"random", 2000, 0}, o.proto, o.seed);
  g_backend.record_sites = false;
  std::vector<std::string> lines;
  for (unsigned i = 0; i < g_nr_seen_sites; i++) {
    const auto &x = g_seen_sites[i];
    lines.push_back(trim_core_path(x.file) + ":" + std::to_string(x.line) + " " + x.what + " " +
                    short_site(std::string(x.function) + ", "));
  }
  std::sort(lines.begin(), lines.end());
  for (auto &l : lines) std::puts(l.c_str());
  return 0;
}

}  // namespace
}  // namespace anonx::check

namespace anonx {

// core/barriers.h: the LKMM barrier as its C++ fence (barriers.h says why
// these), or nothing at the weakened site.
void anonx_fence_hook(smp_barrier kind, const std::source_location &site) {
  const char *what = kind == smp_barrier::rmb   ? "smp_rmb"
                     : kind == smp_barrier::wmb ? "smp_wmb"
                     : kind == smp_barrier::mb  ? "smp_mb"
                                                : "smp_mb__after_atomic";
  check::note_site(site, what);
  if (!check::g_backend.live) return;
  if (check::is_weakened(site)) return;
  const rl::memory_order mo = kind == smp_barrier::rmb   ? rl::mo_acquire
                              : kind == smp_barrier::wmb ? rl::mo_release
                                                         : rl::mo_seq_cst;
  rl::atomic_thread_fence(mo, check::info(site));
}

// core/compiler.h ANONX_LOCK_ACQUIRED: a spinlock taken (core/ptl.h). On x86
// the kernel's spin_lock is a LOCK-prefixed RMW, a full barrier for the
// accesses around it: a seq_cst fence. On rcu (arm64's qspinlock: an acquire
// cmpxchg) nothing beyond the acquire, which the lock word (a std:: atomic,
// invisible here) does not carry into the model either: pairs where both
// sides take one lock are left out (--list).
void anonx_lock_hook() {
  if (!check::g_backend.live || check::g_proto.plat != platform::x86) return;
  rl::atomic_thread_fence(rl::mo_seq_cst,
                          rl::debug_info("spin_lock: x86 LOCK-prefixed RMW", "core/ptl.h", 0));
}

// core/compiler.h spin_wait: a waiting fiber yields to the scheduler.
void anonx_spin_hook() {
  if (check::g_backend.live) rl::yield(1, rl::debug_info("spin_wait::pause", "core/compiler.h", 0));
}

}  // namespace anonx

int main(int argc, char **argv) {
  using namespace anonx::check;
  try {
    options o = parse(argc, argv);
    g_backend.weakened = o.weaken;
    if (o.list) return list(o);
    if (o.sites) return list_sites(o);
    if (o.kill_matrix) return run_kill_matrix(o);
    return run_scenarios(o);
  } catch (const usage_error &e) {
    std::fprintf(stderr, "anonx-check: %s\n%s", e.msg.c_str(), kUsage);
    return 2;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "anonx-check: internal error: %s\n", e.what());
    return 3;
  }
}
