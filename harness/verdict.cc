// SPDX-License-Identifier: GPL-2.0-only
// verdict.cc: the kill matrix's verdicts (verdict.h).
#include "verdict.h"

#include <algorithm>

namespace anonx::harness {

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

kill_verdict judge(const std::vector<std::optional<double>> &per_seed, double budget,
                   bool visible, kill_rule rule) {
  kill_verdict k;
  k.seeds = per_seed.size();
  std::vector<double> costs;
  for (const auto &t : per_seed) {
    if (t) k.killed++;
    if (t || rule == kill_rule::every_seed) costs.push_back(t ? *t : budget);
  }
  k.median = median_of(costs);
  k.max = costs.empty() ? 0 : *std::max_element(costs.begin(), costs.end());
  if (rule == kill_rule::any_search)
    k.verdict = k.killed ? "killed" : "escaped";
  else if (k.killed == k.seeds)
    k.verdict = "killed";
  else if (!visible)
    k.verdict = k.killed ? "killed-partly(not-visible)" : "survived-as-expected";
  else
    k.verdict = "escaped";
  return k;
}

}  // namespace anonx::harness
