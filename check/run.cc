// SPDX-License-Identifier: GPL-2.0-only
// run.cc: a run of scenarios: each cell's verdict, the known findings, the JSON
// report and the rerun line of a failing cell.
#include "frontend.h"

namespace anonx::check {

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

std::string git_sha() {
#if defined(ANONX_GIT_SHA)
  return ANONX_GIT_SHA;
#else
  return "unknown";
#endif
}

json context_json(const options &o) {
  return {{"tool", "anonx-check"},
          {"backend", "relacy"},
          {"git_sha", git_sha()},
          {"compiler", __VERSION__},
          {"args", harness::joined(o.argv)},
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
    harness::write_report(o.json_path, j);
  }
  std::string plats;
  for (auto p : o.platforms) plats += (plats.empty() ? "" : ",") + std::string(platform_name(p));
  std::printf("End of test: %s (protocol=%s mutant=%s platform=%s cells=%zu skipped=%u)\n",
              failed ? "FAILURE" : "SUCCESS", generation_name(o.proto.gen),
              o.mut ? o.mut->name : "none", plats.c_str(), cells.size(), skipped);
  return failed ? 1 : 0;
}

}  // namespace anonx::check
