// SPDX-License-Identifier: GPL-2.0-only
// list.cc: --list (text and JSON) and --sites, the core/ sites the pairs reach.
#include "frontend.h"

namespace anonx::check {

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

}  // namespace anonx::check
