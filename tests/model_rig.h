// SPDX-License-Identifier: GPL-2.0-only
// model_rig.h: what the path and cow.c tests share: one machine, the env of
// its CPU 0 (no hooks), a violation sink of the test's own, and the free
// frame, THP block and swap slot counts at the start, for the leak checks;
// and the generations' names as test-name suffixes.
#pragma once

#include <algorithm>
#include <string>

#include "anonx.h"
#include "run_env.h"

namespace anonx::testing {

// generation_name() as a test-name suffix: "v5.19" -> "v5_19".
inline std::string gen_ident(generation g) {
  std::string s = generation_name(g);
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}

struct nohooks : step_hooks {
  void at(const char *) override {}
};

struct model_rig {
  // Page-table pages of the machine; the leak checks look at every one.
  static constexpr unsigned kTables = 64;

  machine m;
  cpu_stats st;
  nohooks h;
  stress_env env;
  violation_sink sink;
  unsigned long free_small0, free_huge0, free_swap0;

  model_rig(generation g, mutant mu, unsigned long frames = 4096, unsigned long huge_blocks = 2)
      : m(frames, huge_blocks, 4, kTables) {
    env.m = &m;
    env.cpu = 0;
    env.stats = &st;
    env.hooks = &h;
    env.proto.gen = g;
    env.proto.mut = mu;
    this_cpu_report().sink = &sink;
    free_small0 = m.mem.nr_free_small();
    free_huge0 = m.mem.nr_free_huge();
    free_swap0 = m.swap.nr_free();
  }
  ~model_rig() { this_cpu_report().sink = nullptr; }
  model_rig(const model_rig &) = delete;
  model_rig &operator=(const model_rig &) = delete;
};

}  // namespace anonx::testing
