// SPDX-License-Identifier: GPL-2.0-only
// kill_matrix.cc: the kill matrix: every mutant against the scenarios meant to expose it
// (harness/registry.cc), K seeds each, the verdicts from harness/verdict.h.
#include "frontend.h"

namespace anonx::stress::cmd {

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
        for (harness::scenario_id id : harness::targets(m.id)) {
          const scenario *s = find_scenario(harness::name_of(id));
          if (!s || !s->make) continue;
          used.insert({s->name, m.base});
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
      std::vector<std::optional<double>> seeds;
      for (double t : per_seed) seeds.push_back(t < 0 ? std::nullopt : std::optional<double>(t));
      const kill_verdict kv =
          judge(seeds, o.budget, visible_on(m, pl), kill_rule::every_seed);
      const size_t killed = kv.killed;
      const double median = kv.median, mx = kv.max;
      const std::string &verdict = kv.verdict;
      if (kv.escaped()) rc = 1;
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
                    {"scenario", best.empty() ? harness::name_of(harness::targets(m.id).front()) : best},
                    {"killed_by", killed_by},
                    {"per_seed_s", per_seed_s}});
      if (!o.quiet)
        std::printf("%-26s %-6s %-4s %-8s %-22s %5zu/%-6zu %9.4f %9.4f %-20s %s\n", m.name,
                    generation_name(m.base), platform_name(pl), visible_list(m).c_str(),
                    verdict.c_str(), killed, per_seed.size(), median, mx,
                    killed_by.empty() ? "-" : killed_by.c_str(), targets_text(m.id).c_str());
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

}  // namespace anonx::stress::cmd
