// model_rig.h: what the path and cow.c tests share: one machine, the env of
// its CPU 0 (no hooks), a violation sink of the test's own, and the free
// frame, THP block and swap slot counts at the start, for the leak checks.
#pragma once

#include "anonx.h"

namespace anonx::testing {

struct nohooks : step_hooks {
  void at(const char *) override {}
};

struct model_rig {
  machine m;
  cpu_stats st;
  nohooks h;
  stress_env env;
  violation_sink sink;
  unsigned long free_small0, free_huge0, free_swap0;

  model_rig(generation g, mutant mu, unsigned long frames = 4096, unsigned long huge_blocks = 2)
      : m(frames, huge_blocks, 4) {
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
