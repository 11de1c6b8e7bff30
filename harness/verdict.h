// SPDX-License-Identifier: GPL-2.0-only
// verdict.h: the kill matrix's verdicts, one implementation for every back
// end and for the shard merge (tools/merge_reports.py calls anonx-verdict,
// verdict_main.cc). A mutant on one platform is run with K seeds; each seed
// either detected it, at some cost (seconds of anonx-stress, schedules of
// anonx-check), or survived its budget.
//
// Rules:
//  - every_seed (anonx-stress: a seed is a time-bounded run on real
//    threads): killed when every seed detected it; otherwise, where the
//    mutant is not visible on the platform (core/protocol.h visible_on),
//    killed-partly(not-visible) or survived-as-expected; otherwise escaped.
//    The median and max count a survivor at the budget.
//  - any_search (anonx-check: a seed is a search of the C++ memory model,
//    which shows every reordering the model allows): killed when some seed
//    detected it, escaped otherwise. The median and max are over the seeds
//    that detected it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace anonx::harness {

enum class kill_rule { every_seed, any_search };

struct kill_verdict {
  std::string verdict;  // killed, escaped, killed-partly(not-visible), survived-as-expected
  size_t seeds = 0, killed = 0;
  double median = 0, max = 0;
  bool escaped() const { return verdict == "escaped"; }
};

// per_seed: the cost of each seed to its first detection, nullopt where the
// seed survived.
kill_verdict judge(const std::vector<std::optional<double>> &per_seed, double budget,
                   bool visible, kill_rule rule);

// The median of v (the mean of the two middle values of an even count), 0
// for none.
double median_of(std::vector<double> v);

}  // namespace anonx::harness
