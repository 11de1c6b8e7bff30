// SPDX-License-Identifier: GPL-2.0-only
// verdict_main.cc: anonx-verdict, the kill-matrix verdicts (verdict.h) for
// tools that are not C++ (tools/merge_reports.py, which joins the per-seed
// results of a kill matrix's shards). Reads a JSON array on stdin, one
// object per mutant and platform:
//   {"rule": "every_seed"|"any_search", "budget": B, "visible": true|false,
//    "per_seed": [cost or null, ...]}
// and writes the same array with each object's verdict added:
//   {"verdict": ..., "seeds": K, "killed_seeds": N, "median": M, "max": X}.
// Exit: 0; 2 when the input is not such an array (one line naming why).
#include <cstdio>
#include <iostream>
#include <iterator>

#include "json.h"
#include "verdict.h"

int main() {
  using namespace anonx::harness;
  try {
    const std::string in{std::istreambuf_iterator<char>(std::cin), {}};
    json rows = json::parse(in);
    if (!rows.is_array()) throw std::runtime_error("input is not a JSON array");
    json out = json::array();
    for (const auto &r : rows) {
      const std::string rule = r.at("rule").get<std::string>();
      if (rule != "every_seed" && rule != "any_search")
        throw std::runtime_error("unknown rule '" + rule + "'");
      std::vector<std::optional<double>> per_seed;
      for (const auto &t : r.at("per_seed"))
        per_seed.push_back(t.is_null() ? std::nullopt : std::optional<double>(t.get<double>()));
      const kill_verdict k =
          judge(per_seed, r.value("budget", 0.0), r.value("visible", true),
                rule == "every_seed" ? kill_rule::every_seed : kill_rule::any_search);
      out.push_back({{"verdict", k.verdict},
                     {"seeds", k.seeds},
                     {"killed_seeds", k.killed},
                     {"median", k.median},
                     {"max", k.max}});
    }
    std::cout << out.dump() << "\n";
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "anonx-verdict: %s\n", e.what());
    return 2;
  }
}
