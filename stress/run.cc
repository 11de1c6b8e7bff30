// SPDX-License-Identifier: GPL-2.0-only
// run.cc: a run of scenarios or of the coverage model's cells, and the coverage table.
#include "frontend.h"

namespace anonx::stress::cmd {

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

}  // namespace anonx::stress::cmd
