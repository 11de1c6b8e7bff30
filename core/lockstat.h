// SPDX-License-Identifier: GPL-2.0-only
// lockstat.h: the contention profile of one CPU, what the kernel's
// CONFIG_LOCK_STAT keeps in /proc/lock_stat (kernel/locking/lockdep.c:
// lock_contended() and lock_acquired() time the wait, __lock_release() the
// hold; per lock class: contentions, acquisitions, wait and hold min / max /
// total, the call sites that contended) plus what the protocol's lockless
// side adds: read-modify-write retries on a page's words, GUP-fast's
// re-checks and fallbacks by reason, and the time a TLB flush waited for
// GUP-fast's IRQ-off sections.
//
// One profile per CPU (harness thread), reached through a thread_local
// pointer that is null when profiling is off (benchmarks, the tests, Relacy:
// a null check, nothing written). A CPU writes only its own profile; the
// harness adds them up at the end, so no shared line is written for it.
//
// Stronger than the kernel: a lock class here is the lock's role (every PTE
// table's lock is one class, as lockdep's ptlock class is one key); the
// kernel also keys classes by subclass for nesting, which the model does
// not need. The page lock (PG_locked) is a class too, as folio_lock's
// waits show in lock_stat on PREEMPT_RT only.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "compiler.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace anonx {

// Lock classes: identifier, the kernel's name for the lock, what it guards.
#define ANONX_LOCK_CLASSES(X)                                                          \
  X(ptl, "ptlock", "a PTE table's split page-table lock (pte_offset_map_lock)")        \
  X(pmd_lock, "&mm->page_table_lock", "the PMD lock of a huge PMD (pmd_lock)")         \
  X(mmap_lock, "&mm->mmap_lock", "the address space's rw_semaphore")                   \
  X(page_lock, "PG_locked", "the page (folio) lock bit (folio_lock)")                  \
  X(zone_lock, "&zone->lock", "the buddy allocator's zone lock")                       \
  X(swap_lock, "&si->lock", "the swap device's slot map and swap-cache state")         \
  X(pgtable_lock, "&zone->lock (page tables)", "the page-table page pool (pte_alloc)") \
  X(rmap_lock, "&anon_vma->rwsem", "the rmap walk's list of mms (anon_vma)")

enum class lock_class : uint8_t {
#define ANONX_LOCK_CLASS_ENUM(id, name, what) id,
  ANONX_LOCK_CLASSES(ANONX_LOCK_CLASS_ENUM)
#undef ANONX_LOCK_CLASS_ENUM
      count
};
inline constexpr unsigned kNrLockClasses = static_cast<unsigned>(lock_class::count);

struct lock_class_info {
  const char *id, *kernel_name, *what;
};
inline constexpr lock_class_info kLockClasses[] = {
#define ANONX_LOCK_CLASS_INFO(id, name, what) {#id, name, what},
    ANONX_LOCK_CLASSES(ANONX_LOCK_CLASS_INFO)
#undef ANONX_LOCK_CLASS_INFO
};

// The atomic words of the protocol whose read-modify-writes can retry or
// fail, and what GUP-fast re-checks.
#define ANONX_WORD_KINDS(X) \
  X(flags)                  \
  X(refcount)               \
  X(pincount)               \
  X(mapcount)               \
  X(pte)                    \
  X(pmd)                    \
  X(seqcount)

enum class word_kind : uint8_t {
#define ANONX_WORD_KIND_ENUM(id) id,
  ANONX_WORD_KINDS(ANONX_WORD_KIND_ENUM)
#undef ANONX_WORD_KIND_ENUM
      count
};
inline constexpr unsigned kNrWordKinds = static_cast<unsigned>(word_kind::count);
inline constexpr const char *kWordKindNames[] = {
#define ANONX_WORD_KIND_NAME(id) #id,
    ANONX_WORD_KINDS(ANONX_WORD_KIND_NAME)
#undef ANONX_WORD_KIND_NAME
};

// Why a GUP-fast walk handed over to slow GUP (mm/gup.c gup_fast_pte_range,
// gup_fast_pmd_leaf, gup_fast: each `goto pte_unmap` / `return 0`).
#define ANONX_GUP_FAST_FALLBACKS(X)                                     \
  X(not_present, "the PTE or PMD maps nothing")                         \
  X(not_writable, "FOLL_WRITE on a R/O entry")                          \
  X(grab_failed, "the reference could not be taken (try_grab_folio)")   \
  X(entry_changed, "the re-check saw the PTE or PMD change")            \
  X(must_unshare, "a R/O pin of a page that may be shared (unshare)")   \
  X(seqcount_odd, "write_protect_seq odd at the start (a fork copies)") \
  X(seqcount_moved, "write_protect_seq moved during the walk (a fork)")

enum class gup_fallback : uint8_t {
#define ANONX_GUP_FALLBACK_ENUM(id, what) id,
  ANONX_GUP_FAST_FALLBACKS(ANONX_GUP_FALLBACK_ENUM)
#undef ANONX_GUP_FALLBACK_ENUM
      count
};
inline constexpr unsigned kNrGupFallbacks = static_cast<unsigned>(gup_fallback::count);
inline constexpr const char *kGupFallbackNames[] = {
#define ANONX_GUP_FALLBACK_NAME(id, what) #id,
    ANONX_GUP_FAST_FALLBACKS(ANONX_GUP_FALLBACK_NAME)
#undef ANONX_GUP_FALLBACK_NAME
};

// The clock: the TSC on x86-64 (a few ns a read), steady_clock elsewhere;
// ticks become nanoseconds with a factor measured once per process.
inline uint64_t lockstat_ticks() {
#if defined(__x86_64__)
  return __rdtsc();
#else
  return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}
inline double lockstat_ns_per_tick();

// log2 buckets of nanoseconds: bucket b holds [2^b, 2^(b+1)) ns (0: < 2 ns).
inline constexpr unsigned kLogBuckets = 40;

struct time_hist {
  uint64_t n = 0, total_ns = 0, min_ns = UINT64_MAX, max_ns = 0;
  uint64_t bucket[kLogBuckets] = {};
  void record(uint64_t ns) {
    ++n;
    total_ns += ns;
    if (ns < min_ns) min_ns = ns;
    if (ns > max_ns) max_ns = ns;
    const unsigned b = ns < 2 ? 0 : 63 - static_cast<unsigned>(__builtin_clzll(ns));
    ++bucket[b < kLogBuckets ? b : kLogBuckets - 1];
  }
  void add(const time_hist &o) {
    n += o.n;
    total_ns += o.total_ns;
    if (o.min_ns < min_ns) min_ns = o.min_ns;
    if (o.max_ns > max_ns) max_ns = o.max_ns;
    for (unsigned b = 0; b < kLogBuckets; b++) bucket[b] += o.bucket[b];
  }
};

// A call site that contended: the model function that waited (the lock
// call's __builtin_FUNCTION(), named as the kernel function it models).
struct contention_site {
  const char *fn = nullptr;
  uint64_t contentions = 0, wait_ns = 0;
};
inline constexpr unsigned kSitesPerClass = 8;

struct lock_class_stats {
  uint64_t acquisitions = 0, contentions = 0;
  time_hist wait, hold;
  contention_site sites[kSitesPerClass];
  uint64_t other_site_contentions = 0;  // sites beyond kSitesPerClass
  // The same function's name may stand at two addresses (two translation
  // units): a site is its name.
  static bool same(const char *a, const char *b) { return a == b || std::strcmp(a, b) == 0; }
  void contended_at(const char *fn, uint64_t ns) {
    for (auto &s : sites) {
      if (!s.fn || same(s.fn, fn)) {
        s.fn = fn;
        ++s.contentions;
        s.wait_ns += ns;
        return;
      }
    }
    ++other_site_contentions;
  }
  void add(const lock_class_stats &o) {
    acquisitions += o.acquisitions;
    contentions += o.contentions;
    wait.add(o.wait);
    hold.add(o.hold);
    other_site_contentions += o.other_site_contentions;
    for (const auto &s : o.sites) {
      if (!s.fn) continue;
      bool placed = false;
      for (auto &t : sites) {
        if (!t.fn) t.fn = s.fn;
        if (same(t.fn, s.fn)) {
          t.contentions += s.contentions;
          t.wait_ns += s.wait_ns;
          placed = true;
          break;
        }
      }
      if (!placed) other_site_contentions += s.contentions;
    }
  }
};

struct word_stats {
  uint64_t rmw = 0;       // read-modify-writes (and compare-exchanges) issued
  uint64_t retries = 0;   // compare-exchange loops that went round again
  uint64_t failures = 0;  // conditional updates that gave up (add-unless, freeze, trylock)
  uint64_t changed = 0;   // GUP-fast re-checks that saw the word change
  void add(const word_stats &o) {
    rmw += o.rmw;
    retries += o.retries;
    failures += o.failures;
    changed += o.changed;
  }
};

struct lockstat {
  lock_class_stats locks[kNrLockClasses];
  word_stats words[kNrWordKinds];
  uint64_t gup_fallbacks[kNrGupFallbacks] = {};
  uint64_t flushes = 0, flushes_waited = 0;  // IPIs sent; those that found a section open
  time_hist flush_wait;                      // how long each flush waited for sections
  time_hist rendezvous_wait;                 // the harness's own handshake (lockstep)
  uint64_t step_ns = 0;                      // time in the scenario's steps

  // The locks this CPU holds now, with the tick each was taken at
  // (lockdep's held_locks): a CPU nests a few at most. A contended
  // acquisition keeps its wait here too (since, by whom), recorded with the
  // hold once the lock is released: the histograms' work stays out of the
  // critical section, which a waiter on another CPU would otherwise wait
  // out.
  struct held {
    const void *lock;
    uint64_t t;
    lock_class c;
    uint64_t wait_t0;  // 0: taken uncontended
    const char *fn;    // the waiter (contended only)
  };
  static constexpr unsigned kMaxHeld = 8;
  held held_[kMaxHeld];
  unsigned nr_held_ = 0;

  void add(const lockstat &o) {
    for (unsigned c = 0; c < kNrLockClasses; c++) locks[c].add(o.locks[c]);
    for (unsigned w = 0; w < kNrWordKinds; w++) words[w].add(o.words[w]);
    for (unsigned f = 0; f < kNrGupFallbacks; f++) gup_fallbacks[f] += o.gup_fallbacks[f];
    flushes += o.flushes;
    flushes_waited += o.flushes_waited;
    flush_wait.add(o.flush_wait);
    rendezvous_wait.add(o.rendezvous_wait);
    step_ns += o.step_ns;
  }
  uint64_t contended_wait_ns() const {
    uint64_t t = 0;
    for (const auto &l : locks) t += l.wait.total_ns;
    return t + flush_wait.total_ns;
  }
};

// This CPU's profile, or nullptr (profiling off). Builds that must not pay
// even the null check (the benchmarks: ANONX_NO_LOCKSTAT; Relacy, whose
// fibers share one thread: ANONX_FENCE_HOOK) compile the hooks away.
#if defined(ANONX_NO_LOCKSTAT) || defined(ANONX_FENCE_HOOK)
inline constexpr bool kLockstatBuilt = false;
inline constexpr lockstat *this_cpu_lockstat() { return nullptr; }
inline void set_this_cpu_lockstat(lockstat *) {}
#else
inline constexpr bool kLockstatBuilt = true;
inline lockstat *&this_cpu_lockstat_slot() {
  thread_local lockstat *p = nullptr;
  return p;
}
inline lockstat *this_cpu_lockstat() { return this_cpu_lockstat_slot(); }
inline void set_this_cpu_lockstat(lockstat *p) { this_cpu_lockstat_slot() = p; }
#endif

inline uint64_t ticks_to_ns(uint64_t ticks) {
  return static_cast<uint64_t>(static_cast<double>(ticks) * lockstat_ns_per_tick());
}

// The lock/unlock hooks of core/ptl.h and core/pagemap.h. A lock is taken
// with a try first: a failed try is a contention (lock_contended), timed
// until the lock is held (lock_acquired).
// Holds are timed for every contended acquisition and for one uncontended
// acquisition in kHoldSampleEvery of a class on a CPU (the first among
// them): two clock reads per lock and unlock would cost the runs more than
// the profile may (docs/profile.md). t: the tick the lock was got at, or 0.
inline constexpr uint64_t kHoldSampleEvery = 64;
// t: the tick the lock was got at, or 0; a contended acquisition also
// passes the tick its wait began (t0) and the waiting function.
inline void lockstat_contended(lockstat *p, lock_class c, const char *fn, uint64_t t0,
                               uint64_t t1) {
  auto &s = p->locks[static_cast<unsigned>(c)];
  const uint64_t ns = ticks_to_ns(t1 - t0);
  s.wait.record(ns);
  s.contended_at(fn, ns);
}
inline void lockstat_acquired(lockstat *p, const void *lock, lock_class c, uint64_t t = 0,
                              uint64_t t0 = 0, const char *fn = nullptr) {
  auto &s = p->locks[static_cast<unsigned>(c)];
  if (!t && s.acquisitions++ % kHoldSampleEvery) return;
  if (t) ++s.acquisitions;
  if (t0) ++s.contentions;
  if (p->nr_held_ < lockstat::kMaxHeld)
    p->held_[p->nr_held_++] = {lock, t ? t : lockstat_ticks(), c, t0, fn};
  else if (t0)  // nested too deep to keep: the wait now, no hold
    lockstat_contended(p, c, fn, t0, t);
}
// Release, in two halves around the raw unlock: lockstat_release reads the
// clock and takes the lock's entry off the CPU's list (before the unlock),
// lockstat_record adds its hold, and its wait if it was contended, to the
// histograms (after it).
struct lockstat_hold {
  lockstat *p = nullptr;  // nullptr: nothing to record
  lockstat::held h;
  uint64_t t_release;
};
inline lockstat_hold lockstat_release(const void *lock) {
  lockstat *p = this_cpu_lockstat();
  if (!p || !p->nr_held_) return {};
  for (unsigned i = p->nr_held_; i-- > 0;) {
    if (p->held_[i].lock != lock) continue;
    const lockstat_hold out{p, p->held_[i], lockstat_ticks()};
    p->held_[i] = p->held_[--p->nr_held_];
    return out;
  }
  return {};
}
inline void lockstat_record(const lockstat_hold &r) {
  if (!r.p) return;
  auto &s = r.p->locks[static_cast<unsigned>(r.h.c)];
  if (r.h.wait_t0) lockstat_contended(r.p, r.h.c, r.h.fn, r.h.wait_t0, r.h.t);
  s.hold.record(ticks_to_ns(r.t_release - r.h.t));
}
// Every profiled unlock: the release's two halves around `raw_unlock`.
template <class Unlock>
ANONX_INLINE void lockstat_unlock(const void *lock, Unlock raw_unlock) {
  const lockstat_hold h = lockstat_release(lock);
  raw_unlock();
  lockstat_record(h);
}
inline void word_rmw(word_kind w, uint64_t retries = 0, bool failed = false) {
  if (lockstat *p = this_cpu_lockstat()) {
    auto &s = p->words[static_cast<unsigned>(w)];
    ++s.rmw;
    s.retries += retries;
    s.failures += failed;
  }
}
inline void word_changed(word_kind w) {
  if (lockstat *p = this_cpu_lockstat()) ++p->words[static_cast<unsigned>(w)].changed;
}
inline void gup_fast_fell_back(gup_fallback why) {
  if (lockstat *p = this_cpu_lockstat()) ++p->gup_fallbacks[static_cast<unsigned>(why)];
}

// The nanoseconds per tick, measured once: the TSC against steady_clock over
// 2 ms (a process that profiles pays it once).
inline double lockstat_ns_per_tick() {
#if defined(__x86_64__)
  static const double f = [] {
    using clk = std::chrono::steady_clock;
    const auto c0 = clk::now();
    const uint64_t t0 = __rdtsc();
    while (clk::now() - c0 < std::chrono::milliseconds(2)) {
    }
    const uint64_t t1 = __rdtsc();
    const double ns = std::chrono::duration<double, std::nano>(clk::now() - c0).count();
    return t1 > t0 ? ns / static_cast<double>(t1 - t0) : 1.0;
  }();
  return f;
#else
  static const double f =
      1e9 * std::chrono::steady_clock::period::num / std::chrono::steady_clock::period::den;
  return f;
#endif
}

}  // namespace anonx
