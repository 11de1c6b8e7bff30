// SPDX-License-Identifier: GPL-2.0-only
// compiler.h: attributes shared by core/: cache-line layout and clang's
// thread-safety capability annotations (checked with -Wthread-safety).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <thread>

namespace anonx {

// Zen 4 lines are 64 bytes; 128 also defeats the adjacent-line prefetcher,
// so independently written objects are 128-aligned.
inline constexpr std::size_t kCacheLine = 64;
inline constexpr std::size_t kNoFalseSharing = 128;

#define ANONX_INLINE inline __attribute__((always_inline))
#define ANONX_NOINLINE __attribute__((noinline))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

// Spin-wait hint (PAUSE on x86): what cpu_relax() is in the kernel.
ANONX_INLINE void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// A function's name without the template arguments g++ adds to
// __builtin_FUNCTION() ("follow_page_pte<anonx::basic_env<...> >"): the
// contention profile's call sites and the lockup report name functions so.
inline std::string_view site_name(const char *fn) {
  std::string_view v(fn);
  return v.substr(0, std::min(v.find('<'), v.find('(')));
}

// The lockup detector (the kernel's kernel/watchdog.c soft-lockup and
// kernel/hung_task.c reports): a wait that has gone on for stall_seconds()
// ends the process with one line naming what it waited for, who wanted it
// and, for a lock, the function that took it last. A lock never released
// or IRQs never re-enabled (a deleted unlock, a lost local_irq_enable) is
// then a named failure, `stall`, not a hang a runner must time out. The
// model waits seconds nowhere: the bound (ANONX_STALL_S, default 10,
// times ANONX_TIME_SCALE for the sanitizer builds) is a backstop, far
// above any hold or IRQ-off section of a correct run.
//
// What a CPU waits for now: written on a wait's slow path only (a lock
// found taken: core/ptl.h), never on the fast path.
struct wait_note {
  const char *what = nullptr;                         // the lock class, ...
  const char *waiter = nullptr;                       // the function that waits
  const std::atomic<const char *> *holder = nullptr;  // who took the lock last
};
inline wait_note &this_cpu_wait() {
  static thread_local wait_note w;
  return w;
}
inline double stall_seconds() {
  const char *s = std::getenv("ANONX_STALL_S");
  const char *k = std::getenv("ANONX_TIME_SCALE");
  const double base = s && std::atof(s) > 0 ? std::atof(s) : 10.0;
  return base * (k && std::atof(k) >= 1 ? std::atof(k) : 1.0);
}
[[noreturn]] ANONX_NOINLINE inline void report_stall(const char *what, double waited) {
  const wait_note &n = this_cpu_wait();
  if (what) {
    std::fprintf(stderr, "anonx: stall: %s, waited %.1f s\n", what, waited);
  } else {
    const char *holder = n.holder ? n.holder->load(std::memory_order_relaxed) : nullptr;
    const std::string_view w = site_name(n.waiter ? n.waiter : "?");
    const std::string_view h = site_name(holder ? holder : "?");
    std::fprintf(stderr,
                 "anonx: stall: lock %s wanted by %.*s, taken last by %.*s, waited %.1f s (a "
                 "lock never released?)\n",
                 n.what ? n.what : "?", static_cast<int>(w.size()), w.data(),
                 static_cast<int>(h.size()), h.data(), waited);
  }
  std::fflush(stderr);
  std::_Exit(1);
}

// A spin-wait loop's pause. The kernel spins with preemption off, so the
// CPU it waits for is always running; in user space that "CPU" is a thread
// the scheduler may have preempted (an oversubscribed machine, a CI box, a
// run pinned to one core), and a pure spin would burn its whole time slice
// each time. After ~1000 PAUSEs (~50 us here) the waiter yields instead:
// a user-space concession, not kernel behaviour. Every 1024 yields it
// looks at the clock, for the lockup detector above. `what` names the
// wait; a lock's spin leaves it null and the CPU's wait_note speaks.
// Under the Relacy back end (ANONX_FENCE_HOOK) a pause is a yield to its
// scheduler: the CPU waited for is a fiber that must run for the wait to end.
#if defined(ANONX_FENCE_HOOK)
void anonx_spin_hook();
#endif
// A spinlock acquired (core/ptl.h). The kernel's spin_lock is a locked RMW on
// x86, a full barrier for the accesses around it, and an acquire RMW on
// arm64 (qspinlock's cmpxchg_acquire): the Relacy back end issues the
// fence that is each platform's (check/main.cc); elsewhere nothing.
#if defined(ANONX_FENCE_HOOK)
void anonx_lock_hook();
#define ANONX_LOCK_ACQUIRED() anonx_lock_hook()
#else
#define ANONX_LOCK_ACQUIRED() ((void)0)
#endif

struct spin_wait {
  unsigned spins = 0;
  const char *what = nullptr;
  std::chrono::steady_clock::time_point since{};
  spin_wait() = default;
  explicit spin_wait(const char *w) : what(w) {}
  ANONX_INLINE void pause() {
#if defined(ANONX_FENCE_HOOK)
    anonx_spin_hook();
    return;
#endif
    if (++spins < 1024) {
      cpu_relax();
      return;
    }
    yield_cpu();
    if ((spins & 1023) == 0) check_stall();
  }
  static void yield_cpu() { std::this_thread::yield(); }
  ANONX_NOINLINE void check_stall() {
    const auto now = std::chrono::steady_clock::now();
    if (since == std::chrono::steady_clock::time_point{}) {
      since = now;
      return;
    }
    const double waited = std::chrono::duration<double>(now - since).count();
    if (waited >= stall_seconds()) report_stall(what, waited);
  }
};

}  // namespace anonx

#if defined(__clang__)
#define ANONX_TSA(x) __attribute__((x))
#else
#define ANONX_TSA(x)
#endif
#define CAPABILITY(x) ANONX_TSA(capability(x))
#define SCOPED_CAPABILITY ANONX_TSA(scoped_lockable)
#define GUARDED_BY(x) ANONX_TSA(guarded_by(x))
#define REQUIRES(...) ANONX_TSA(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) ANONX_TSA(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) ANONX_TSA(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) ANONX_TSA(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) ANONX_TSA(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) ANONX_TSA(release_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) ANONX_TSA(try_acquire_capability(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS ANONX_TSA(no_thread_safety_analysis)
