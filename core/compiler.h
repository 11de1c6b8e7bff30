// SPDX-License-Identifier: GPL-2.0-only
// compiler.h: attributes shared by core/: cache-line layout and clang's
// thread-safety capability annotations (checked with -Wthread-safety).
#pragma once

#include <cstddef>
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

// A spin-wait loop's pause. The kernel spins with preemption off, so the
// CPU it waits for is always running; in user space that "CPU" is a thread
// the scheduler may have preempted (an oversubscribed machine, a CI box, a
// run pinned to one core), and a pure spin would burn its whole time slice
// each time. After ~1000 PAUSEs (~50 us here) the waiter yields instead:
// a user-space concession, not kernel behaviour.
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
  ANONX_INLINE void pause() {
#if defined(ANONX_FENCE_HOOK)
    anonx_spin_hook();
    return;
#endif
    if (++spins < 1024)
      cpu_relax();
    else
      yield_cpu();
  }
  static void yield_cpu() { std::this_thread::yield(); }
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
