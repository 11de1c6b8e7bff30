// SPDX-License-Identifier: GPL-2.0-only
// run_env.h: the environment the harness's back ends run core/'s paths in:
// the protocol chosen at run time (generation, mutant, platform) and
// dynamic hooks at the labelled steps (window injection, alignment,
// preemption points, the scripted step scheduler of tests/).
#pragma once

#include "anonx.h"

namespace anonx {

using stress_env = basic_env<runtime_protocol, step_hooks>;

}  // namespace anonx
