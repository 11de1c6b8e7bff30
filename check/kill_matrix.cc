// SPDX-License-Identifier: GPL-2.0-only
// kill_matrix.cc: the kill matrix: every catalogue mutant against the pairs of the
// scenarios meant to expose it (harness/registry.cc), verdicts from harness/verdict.h.
#include "frontend.h"

namespace anonx::check {

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
        std::vector<std::optional<double>> per_seed;
        std::vector<uint64_t> to_detect;
        double secs = 0;
        uint64_t total = 0;
        for (unsigned k = 0; k < o.seeds; k++) {
          cell_result c = run_cell(*s, pl, search{"random", iters, 0}, pr, o.seed + k);
          secs += c.r.seconds;
          total += c.r.schedules;
          // the known finding's failure is the correct protocol's too: no kill
          const bool caught =
              c.r.failed && !(finding_cell(*s, pl, pr.gen) && finding_failure(*s, c.r.what));
          per_seed.push_back(caught ? std::optional<double>(static_cast<double>(c.r.schedules))
                                  : std::nullopt);
          if (caught) to_detect.push_back(c.r.schedules);
        }
        std::sort(to_detect.begin(), to_detect.end());
        // Relacy shows every reordering its model allows: one search that
        // detects the mutant kills it (harness/verdict.h, any_search).
        const harness::kill_verdict kv =
            harness::judge(per_seed, static_cast<double>(iters), true, harness::kill_rule::any_search);
        json cell = {{"scenario", s->name},
                     {"platform", platform_name(pl)},
                     {"seeds", o.seeds},
                     {"killed_seeds", kv.killed},
                     {"iterations", iters},
                     {"seconds", secs},
                     {"schedules_per_s", secs > 0 ? total / secs : 0.0},
                     {"schedules_to_detection", to_detect},
                     {"verdict", kv.verdict}};
        if (kv.killed) {
          cell["median_schedules"] = kv.median;
          cell["max_schedules"] = kv.max;
        }
        row["cells"].push_back(cell);
        kill |= !kv.escaped();
        if (!o.quiet) {
          if (to_detect.empty())
            std::printf("%-26s %-24s %-4s survived %u x %" PRIu64 " schedules\n", mi.name, s->name,
                        platform_name(pl), o.seeds, iters);
          else
            std::printf("%-26s %-24s %-4s killed %zu/%u, schedules to detection median %" PRIu64
                        " max %" PRIu64 "\n",
                        mi.name, s->name, platform_name(pl), to_detect.size(), o.seeds,
                        static_cast<uint64_t>(kv.median), to_detect.back());
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
  if (!o.json_path.empty()) harness::write_report(o.json_path, j);
  std::printf(
      "End of test: %s (kill matrix: killed=%u escaped=%u not-run=%u seeds=%u "
      "iterations=%" PRIu64 ")\n",
      escaped ? "FAILURE" : "SUCCESS", killed, escaped, not_run, o.seeds, iters);
  return escaped ? 1 : 0;
}

}  // namespace anonx::check
