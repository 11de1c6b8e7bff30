// SPDX-License-Identifier: GPL-2.0-only
// main.cc: anonx-check, core/ under Relacy, the model checker of the C++
// memory model. Each racing pair (pairs.h) is a Relacy test, searched by the
// random scheduler (--iterations N), the context-bound scheduler
// (--context-bound K, exhaustive within the bound) or the full search
// (--full). The command line mirrors anonx-stress (stress/main.cc): same
// --scenario, --protocol, --mutant, --platform, --seed, --json, --quiet,
// --list, --kill-matrix, and the same exit codes: 0 as expected; 1 a
// forbidden outcome or an escaped mutant; 2 bad usage; 3 internal error.
#include "frontend.h"

namespace anonx {

// core/barriers.h: the LKMM barrier as its C++ fence (barriers.h says why
// these), or nothing at the weakened site.
void anonx_fence_hook(smp_barrier kind, const std::source_location &site) {
  const char *what = kind == smp_barrier::rmb   ? "smp_rmb"
                     : kind == smp_barrier::wmb ? "smp_wmb"
                     : kind == smp_barrier::mb  ? "smp_mb"
                                                : "smp_mb__after_atomic";
  check::note_site(site, what);
  if (!check::g_backend.live) return;
  if (check::is_weakened(site)) return;
  const rl::memory_order mo = kind == smp_barrier::rmb   ? rl::mo_acquire
                              : kind == smp_barrier::wmb ? rl::mo_release
                                                         : rl::mo_seq_cst;
  rl::atomic_thread_fence(mo, check::info(site));
}

// core/compiler.h ANONX_LOCK_ACQUIRED: a spinlock taken (core/ptl.h). On x86
// the kernel's spin_lock is a LOCK-prefixed RMW, a full barrier for the
// accesses around it: a seq_cst fence. On rcu (arm64's qspinlock: an acquire
// cmpxchg) nothing beyond the acquire, which the lock word (a std:: atomic,
// invisible here) does not carry into the model either: pairs where both
// sides take one lock are left out (--list).
void anonx_lock_hook() {
  if (!check::g_backend.live || check::g_proto.plat != platform::x86) return;
  rl::atomic_thread_fence(rl::mo_seq_cst,
                          rl::debug_info("spin_lock: x86 LOCK-prefixed RMW", "core/ptl.h", 0));
}

// core/compiler.h spin_wait: a waiting fiber yields to the scheduler.
void anonx_spin_hook() {
  if (check::g_backend.live) rl::yield(1, rl::debug_info("spin_wait::pause", "core/compiler.h", 0));
}

}  // namespace anonx

int main(int argc, char **argv) {
  using namespace anonx::check;
  try {
    options o = parse(argc, argv);
    g_backend.weakened = o.weaken;
    if (o.list) return list(o);
    if (o.sites) return list_sites(o);
    if (o.kill_matrix) return run_kill_matrix(o);
    return run_scenarios(o);
  } catch (const usage_error &e) {
    std::fprintf(stderr, "anonx-check: %s\n%s", e.msg.c_str(), usage().c_str());
    return 2;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "anonx-check: internal error: %s\n", e.what());
    return 3;
  }
}
