// SPDX-License-Identifier: GPL-2.0-only
// ptl.h: lock implementations for the split page-table lock (PTL), the PMD
// lock, the zone lock and mmap_lock, each carrying clang thread-safety
// capability annotations (-Wthread-safety).
//
// The PTL implementation is selectable at build time (meson -Dptl=...):
//  ttas        test-and-test-and-set spinlock (one xchg; unfair)
//  ticket      ticket lock (FIFO; the kernel's lock before qspinlock)
//  tbb_spin    tbb::spin_mutex
//  tbb_queuing tbb::queuing_mutex, an MCS queue lock (qspinlock's slow path)
//  std_mutex   std::mutex (futex; sleeps)
// Every implementation is tested for mutual exclusion regardless of the choice.
#pragma once

#include <tbb/queuing_mutex.h>
#include <tbb/spin_mutex.h>

#include <atomic>
#include <mutex>
#include <shared_mutex>

#include "compiler.h"
#include "lockstat.h"

namespace anonx {

// The raw locks: raw_lock(on_wait) calls on_wait() once, when its first
// attempt finds the lock taken and it is about to wait (lock_contended's
// place), so that profiling costs the uncontended path no extra access to
// the lock's line.
struct no_wait {
  void operator()() const {}
};

class ttas_raw {
 public:
  template <class F = no_wait>
  void raw_lock(F on_wait = {}) {
    for (bool waited = false;; waited = true) {
      if (!locked_.exchange(true, std::memory_order_acquire)) {
        ANONX_LOCK_ACQUIRED();
        return;
      }
      if (!waited) on_wait();
      for (spin_wait w; locked_.load(std::memory_order_relaxed);) w.pause();
    }
  }
  bool raw_try_lock() {
    const bool got = !locked_.load(std::memory_order_relaxed) &&
                     !locked_.exchange(true, std::memory_order_acquire);
    if (got) ANONX_LOCK_ACQUIRED();
    return got;
  }
  void raw_unlock() { locked_.store(false, std::memory_order_release); }
  bool is_locked() const { return locked_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> locked_{false};
};

class ticket_raw {
 public:
  template <class F = no_wait>
  void raw_lock(F on_wait = {}) {
    const unsigned me = next_.fetch_add(1, std::memory_order_relaxed);
    if (owner_.load(std::memory_order_acquire) != me) {
      on_wait();
      for (spin_wait w; owner_.load(std::memory_order_acquire) != me;) w.pause();
    }
    ANONX_LOCK_ACQUIRED();
  }
  bool raw_try_lock() {
    unsigned o = owner_.load(std::memory_order_relaxed);
    unsigned n = o;
    return next_.compare_exchange_strong(n, o + 1, std::memory_order_acquire,
                                         std::memory_order_relaxed);
  }
  void raw_unlock() {
    owner_.store(owner_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  bool is_locked() const {
    return owner_.load(std::memory_order_relaxed) != next_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<unsigned> next_{0};
  std::atomic<unsigned> owner_{0};
};

// A mutex with its own try_lock (tbb::spin_mutex, std::mutex): a failed try
// is the wait.
template <class M>
class mutex_raw {
 public:
  template <class F = no_wait>
  void raw_lock(F on_wait = {}) {
    if (m_.try_lock()) return;
    on_wait();
    m_.lock();
  }
  bool raw_try_lock() { return m_.try_lock(); }
  void raw_unlock() { m_.unlock(); }

 private:
  M m_;
};
using tbb_spin_raw = mutex_raw<tbb::spin_mutex>;
using std_mutex_raw = mutex_raw<std::mutex>;

// tbb::queuing_mutex needs a queue node per acquisition; a CPU holds at most
// a few PTLs at once (fork nests two), so nodes come from a small per-thread
// stack matched by mutex on unlock.
class tbb_queuing_raw {
 public:
  template <class F = no_wait>
  void raw_lock(F on_wait = {}) {
    slot &s = free_slot();
    s.owner = this;
    if (s.node.try_acquire(m_)) return;
    on_wait();
    s.node.acquire(m_);
  }
  bool raw_try_lock() {
    slot &s = free_slot();
    if (!s.node.try_acquire(m_)) return false;
    s.owner = this;
    return true;
  }
  void raw_unlock() {
    for (slot &s : slots())
      if (s.owner == this) {
        s.owner = nullptr;
        s.node.release();
        return;
      }
  }

 private:
  struct slot {
    tbb::queuing_mutex::scoped_lock node;
    const tbb_queuing_raw *owner = nullptr;
  };
  static slot (&slots())[4] {
    thread_local slot s[4];
    return s;
  }
  static slot &free_slot() {
    for (slot &s : slots())
      if (!s.owner) return s;
    __builtin_trap();  // more than 4 nested queuing locks: a model bug
  }
  tbb::queuing_mutex m_;
};

// profiled<Raw>: a lock of class `cls` with the lock_stat hooks of
// core/lockstat.h (kernel/locking/lockdep.c lock_contended, lock_acquired,
// lock_release under CONFIG_LOCK_STAT). With profiling off (no profile on
// this CPU) lock() is the raw lock; on, a first attempt that finds the lock
// taken is a contention, timed until the lock is held, and charged to the
// function that asked (`fn`, the caller's name). The hold is timed to unlock().
template <class Raw>
class CAPABILITY("mutex") profiled : Raw {
 public:
  explicit profiled(lock_class c = lock_class::ptl) : cls_(c) {}
  void lock(const char *fn = __builtin_FUNCTION()) ACQUIRE() {
    lockstat *p = this_cpu_lockstat();
    if (!p) return lock_unprofiled(fn);
    uint64_t t0 = 0;
    Raw::raw_lock([&t0, this, fn] {
      t0 = lockstat_ticks();
      note_wait(fn);
    });
    took(fn);
    if (!t0) return lockstat_acquired(p, this, cls_);
    lockstat_acquired(p, this, cls_, lockstat_ticks(), t0, fn);
  }
  bool try_lock(const char *fn = __builtin_FUNCTION()) TRY_ACQUIRE(true) {
    if (!Raw::raw_try_lock()) return false;
    took(fn);
    if (lockstat *p = this_cpu_lockstat()) lockstat_acquired(p, this, cls_);
    return true;
  }
  void unlock() RELEASE() {
    lockstat_unlock(this, [this] { Raw::raw_unlock(); });
  }
  // The harness's own look at what the lock guards (its lookups, its set-up
  // writes: no path of the model's) takes the raw lock, outside the
  // profile, which describes the model's paths only.
  void lock_unprofiled(const char *fn = __builtin_FUNCTION()) ACQUIRE() {
    Raw::raw_lock([this, fn] { note_wait(fn); });
    took(fn);
  }
  void unlock_unprofiled() RELEASE() { Raw::raw_unlock(); }
  bool is_locked() const requires requires(const Raw &r) { r.is_locked(); }
  { return Raw::is_locked(); }
  lock_class cls() const { return cls_; }

 private:
  // For the lockup detector (core/compiler.h): the function that took the
  // lock last (a relaxed store to the lock's own line, once it is held),
  // and, on a contended acquisition only, what this CPU now waits for. The
  // builds without the profile's hooks (the benchmarks: P8 times the bare
  // PTL) leave both out: their lockup report names no lock.
  void took(const char *fn) {
    if constexpr (kLockstatBuilt) owner_.store(fn, std::memory_order_relaxed);
  }
  void note_wait(const char *fn) {
    if constexpr (kLockstatBuilt) this_cpu_wait() = {kLockClasses[unsigned(cls_)].id, fn, &owner_};
  }
  lock_class cls_;
  std::atomic<const char *> owner_{nullptr};
};

using ttas_lock = profiled<ttas_raw>;
using ticket_lock = profiled<ticket_raw>;
using tbb_spin_lock = profiled<tbb_spin_raw>;
using tbb_queuing_lock = profiled<tbb_queuing_raw>;
using std_mutex_lock = profiled<std_mutex_raw>;

#if defined(ANONX_PTL_TICKET)
using ptl_t = ticket_lock;
inline constexpr const char *kPtlName = "ticket";
#elif defined(ANONX_PTL_TBB_SPIN)
using ptl_t = tbb_spin_lock;
inline constexpr const char *kPtlName = "tbb_spin";
#elif defined(ANONX_PTL_TBB_QUEUING)
using ptl_t = tbb_queuing_lock;
inline constexpr const char *kPtlName = "tbb_queuing";
#elif defined(ANONX_PTL_STD_MUTEX)
using ptl_t = std_mutex_lock;
inline constexpr const char *kPtlName = "std_mutex";
#else
using ptl_t = ttas_lock;
inline constexpr const char *kPtlName = "ttas";
#endif

// spinlock_t for the zone lock and the per-mm PMD lock (page_table_lock).
using spinlock_t = ttas_lock;

// RAII holder for any annotated lock (spin_lock/spin_unlock pairs):
// lock_guard for the model's paths, unprofiled_guard for the harness's own
// accesses (profiled<Raw>::lock_unprofiled).
template <class L, bool Profiled>
class SCOPED_CAPABILITY basic_lock_guard {
 public:
  explicit basic_lock_guard(L &l, const char *fn = __builtin_FUNCTION()) ACQUIRE(l) : l_(l) {
    if constexpr (Profiled)
      l_.lock(fn);
    else
      l_.lock_unprofiled(fn);
  }
  ~basic_lock_guard() RELEASE() {
    if constexpr (Profiled)
      l_.unlock();
    else
      l_.unlock_unprofiled();
  }
  basic_lock_guard(const basic_lock_guard &) = delete;
  basic_lock_guard &operator=(const basic_lock_guard &) = delete;

 private:
  L &l_;
};
template <class L>
using lock_guard = basic_lock_guard<L, true>;
template <class L>
using unprofiled_guard = basic_lock_guard<L, false>;

// mmap_lock: a reader-writer semaphore.
// Profiled as the spinlocks above (lock_class::mmap_lock): readers and
// writers alike; a reader's hold is timed by the reader.
class CAPABILITY("rwsem") rw_semaphore {
 public:
  void down_read(const char *fn = __builtin_FUNCTION()) ACQUIRE_SHARED() {
    acquire(
        fn, [this] { return m_.try_lock_shared(); }, [this] { m_.lock_shared(); });
  }
  void up_read() RELEASE_SHARED() {
    lockstat_unlock(this, [this] { m_.unlock_shared(); });
  }
  void down_write(const char *fn = __builtin_FUNCTION()) ACQUIRE() {
    acquire(
        fn, [this] { return m_.try_lock(); }, [this] { m_.lock(); });
  }
  void up_write() RELEASE() {
    lockstat_unlock(this, [this] { m_.unlock(); });
  }

 private:
  // One way of taking m_ (shared or exclusive) with the lock_stat hooks: a
  // failed try is a contention, timed until take() returns.
  template <class Try, class Take>
  void acquire(const char *fn, Try try_take, Take take) {
    lockstat *p = this_cpu_lockstat();
    if (!p) return take();
    if (try_take()) return lockstat_acquired(p, this, lock_class::mmap_lock);
    const uint64_t t0 = lockstat_ticks();
    take();
    lockstat_acquired(p, this, lock_class::mmap_lock, lockstat_ticks(), t0, fn);
  }
  std::shared_mutex m_;
};

class SCOPED_CAPABILITY mmap_read_guard {
 public:
  explicit mmap_read_guard(rw_semaphore &s, const char *fn = __builtin_FUNCTION()) ACQUIRE_SHARED(s)
      : s_(s) {
    s_.down_read(fn);
  }
  ~mmap_read_guard() RELEASE() { s_.up_read(); }

 private:
  rw_semaphore &s_;
};

class SCOPED_CAPABILITY mmap_write_guard {
 public:
  explicit mmap_write_guard(rw_semaphore &s, const char *fn = __builtin_FUNCTION()) ACQUIRE(s)
      : s_(s) {
    s_.down_write(fn);
  }
  ~mmap_write_guard() RELEASE() { s_.up_write(); }

 private:
  rw_semaphore &s_;
};

}  // namespace anonx
