// SPDX-License-Identifier: GPL-2.0-only
// report.cc: the listing (--list, --list --json), the JSON report of a run (its
// context, one object per cell, the rerun line of a failing cell) and the summary table.
#include "report.h"

#include "frontend.h"

namespace anonx::stress::cmd {

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
                              {"scenarios", split(targets_text(m.id), ' ')}});
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
    j["profile"] = profile_names_json();
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
                visible_list(m).c_str(), m.invariants, targets_text(m.id).c_str(), "", m.replays);
  std::printf("\nscenarios:\n");
  for (auto &s : scenarios()) std::printf("  %-26s %-20s %s\n", s.name, s.actors, s.description);
  std::printf(
      "\ncoverage model: %zu states x %u paths x %zu racers: %zu cells, %zu feasible (each a "
      "scenario named state/path/racer; --list --json has the table, --coverage runs them)\n",
      coverage_states().size(), coverage_nr_paths(), coverage_ops().size(), coverage_cells().size(),
      coverage_scenarios().size());
}

// ---- context, reports ------------------------------------------------------

json context(const options &o) {
  return {{"git_sha", ANONX_GIT_SHA},
          {"compiler", __VERSION__},
          {"build_type", ANONX_BUILD_TYPE},
          {"sanitizer", ANONX_SANITIZER},
          {"ptl", kPtlName},
          {"host", host_name()},
          {"cpus", std::thread::hardware_concurrency()},
          {"cpus_allowed", cpus_allowed()},
          {"date", now_iso()},
          {"argv", joined(o.argv)},
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
  if (r.spec.fail_alloc) s << " --fail-alloc " << r.spec.fail_alloc;
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
            {"fail_alloc_one_in", r.spec.fail_alloc},
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
                {"allocs_failed", t.allocs_failed},
                {"gup_slow", t.gup_slow}};
  if (r.spec.profile) j["profile"] = profile_json(r.profile, r.elapsed_s * r.spec.threads);
  return j;
}

json profile_total(const std::vector<cell_result> &rs) {
  lockstat total;
  double thread_s = 0;
  for (auto &r : rs) {
    total.add(r.profile);
    thread_s += r.elapsed_s * r.spec.threads;
  }
  return profile_json(total, thread_s);
}

void print_profile_tables(const json &report) {
  std::cout << profile_table(report["profile"], "the whole report");
  for (const auto &r : report.value("runs", json::array())) {
    if (!r.contains("profile") || !profile_problem(r["profile"]).empty()) continue;
    const std::string title =
        r.value("scenario", std::string("?")) + " " + r.value("protocol", std::string("")) + " " +
        r.value("platform", std::string("")) + " " + r.value("mutant", std::string(""));
    std::cout << "\n" << profile_table(r["profile"], title);
  }
}

// Reports are written to a temporary file, then renamed: nothing half-written.
void write_file(const std::string &path, const json &report) { write_report(path, report); }

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

// A count in at most five characters: 987, 5.12k, 50.2k, 195k, 1.27M, 12.3M, 123M.
std::string fmt_short(double x) {
  char b[32];
  if (x < 1e3)
    std::snprintf(b, sizeof b, "%.0f", x);
  else if (x < 1e4)
    std::snprintf(b, sizeof b, "%.2fk", x / 1e3);
  else if (x < 1e5)
    std::snprintf(b, sizeof b, "%.1fk", x / 1e3);
  else if (x < 1e6)
    std::snprintf(b, sizeof b, "%.0fk", x / 1e3);
  else if (x < 1e7)
    std::snprintf(b, sizeof b, "%.2fM", x / 1e6);
  else if (x < 1e8)
    std::snprintf(b, sizeof b, "%.1fM", x / 1e6);
  else
    std::snprintf(b, sizeof b, "%.0fM", x / 1e6);
  return b;
}

// The summary: a row per cell in at most 120 columns, its outcomes on the
// lines below it (every outcome by name, wrapped, never cut). wait% is the
// cell's contended-wait share: the threads' time waiting for locks and for
// flushes, over their time (the contention profile; "-" with --profile off).
void print_summary(const std::vector<cell_result> &rs) {
  constexpr int kWidth = 120;
  std::printf("\n%-25s %-6s %-24s %3s %6s %11s %17s %6s %5s %8s\n", "scenario", "proto", "mutant",
              "thr", "ops/s", "thread ops", "gupf ok/fb/rchk", "wait%", "viol", "ttd_s");
  for (auto &r : rs) {
    uint64_t mn = UINT64_MAX, mx = 0;
    for (auto x : r.per_thread_ops) mn = std::min(mn, x), mx = std::max(mx, x);
    char ttd[32] = "-";
    if (r.time_to_detect_s >= 0) std::snprintf(ttd, sizeof ttd, "%.4f", r.time_to_detect_s);
    char wait[16] = "-";
    const double thread_ns = r.elapsed_s * r.spec.threads * 1e9;
    if (r.spec.profile && thread_ns > 0)
      std::snprintf(wait, sizeof wait, "%.1f",
                    100.0 * static_cast<double>(r.profile.contended_wait_ns()) / thread_ns);
    const std::string mm =
        fmt_short(static_cast<double>(mn)) + "/" + fmt_short(static_cast<double>(mx));
    const std::string g = fmt_short(static_cast<double>(r.totals.gup_fast_success)) + "/" +
                          fmt_short(static_cast<double>(r.totals.gup_fast_fallback)) + "/" +
                          fmt_short(static_cast<double>(r.totals.gup_fast_recheck_fail));
    const std::string name = r.spec.sc->name;
    if (name.size() > 25) std::printf("%s\n", name.c_str());  // a long cell name: its own line
    std::printf("%-25s %-6s %-24s %3u %6s %11s %17s %6s %5" PRIu64 " %8s\n",
                name.size() > 25 ? "" : name.c_str(), generation_name(r.spec.proto.gen),
                mutant_name(r.spec.proto.mut), r.spec.threads,
                fmt_short(r.ops / std::max(1e-9, r.elapsed_s)).c_str(), mm.c_str(), g.c_str(), wait,
                r.violation_count, ttd);
    std::string line = "  outcomes:";
    for (auto &[oname, v] : r.outcomes) {
      const std::string item = " " + oname + "=" + std::to_string(v.first);
      if (static_cast<int>(line.size() + item.size()) > kWidth) {
        std::printf("%s\n", line.c_str());
        line = "           ";
      }
      line += item;
    }
    if (!r.outcomes.empty()) std::printf("%s\n", line.c_str());
  }
}

}  // namespace anonx::stress::cmd
