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

namespace anonx {

class CAPABILITY("mutex") ttas_lock {
 public:
  void lock() ACQUIRE() {
    for (;;) {
      if (!locked_.exchange(true, std::memory_order_acquire)) {
        ANONX_LOCK_ACQUIRED();
        return;
      }
      for (spin_wait w; locked_.load(std::memory_order_relaxed);) w.pause();
    }
  }
  bool try_lock() TRY_ACQUIRE(true) {
    const bool got = !locked_.load(std::memory_order_relaxed) &&
                     !locked_.exchange(true, std::memory_order_acquire);
    if (got) ANONX_LOCK_ACQUIRED();
    return got;
  }
  void unlock() RELEASE() { locked_.store(false, std::memory_order_release); }
  bool is_locked() const { return locked_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> locked_{false};
};

class CAPABILITY("mutex") ticket_lock {
 public:
  void lock() ACQUIRE() {
    const unsigned me = next_.fetch_add(1, std::memory_order_relaxed);
    for (spin_wait w; owner_.load(std::memory_order_acquire) != me;) w.pause();
    ANONX_LOCK_ACQUIRED();
  }
  bool try_lock() TRY_ACQUIRE(true) {
    unsigned o = owner_.load(std::memory_order_relaxed);
    unsigned n = o;
    return next_.compare_exchange_strong(n, o + 1, std::memory_order_acquire,
                                         std::memory_order_relaxed);
  }
  void unlock() RELEASE() {
    owner_.store(owner_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  bool is_locked() const {
    return owner_.load(std::memory_order_relaxed) != next_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<unsigned> next_{0};
  std::atomic<unsigned> owner_{0};
};

class CAPABILITY("mutex") tbb_spin_lock {
 public:
  void lock() ACQUIRE() { m_.lock(); }
  bool try_lock() TRY_ACQUIRE(true) { return m_.try_lock(); }
  void unlock() RELEASE() { m_.unlock(); }

 private:
  tbb::spin_mutex m_;
};

// tbb::queuing_mutex needs a queue node per acquisition; a CPU holds at most
// a few PTLs at once (fork nests two), so nodes come from a small per-thread
// stack matched by mutex on unlock.
class CAPABILITY("mutex") tbb_queuing_lock {
 public:
  void lock() ACQUIRE() {
    slot &s = free_slot();
    s.owner = this;
    s.node.acquire(m_);
  }
  bool try_lock() TRY_ACQUIRE(true) {
    slot &s = free_slot();
    if (!s.node.try_acquire(m_)) return false;
    s.owner = this;
    return true;
  }
  void unlock() RELEASE() {
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
    const tbb_queuing_lock *owner = nullptr;
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

class CAPABILITY("mutex") std_mutex_lock {
 public:
  void lock() ACQUIRE() { m_.lock(); }
  bool try_lock() TRY_ACQUIRE(true) { return m_.try_lock(); }
  void unlock() RELEASE() { m_.unlock(); }

 private:
  std::mutex m_;
};

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

// RAII holder for any annotated lock (spin_lock/spin_unlock pairs).
template <class L>
class SCOPED_CAPABILITY lock_guard {
 public:
  explicit lock_guard(L &l) ACQUIRE(l) : l_(l) { l_.lock(); }
  ~lock_guard() RELEASE() { l_.unlock(); }
  lock_guard(const lock_guard &) = delete;
  lock_guard &operator=(const lock_guard &) = delete;

 private:
  L &l_;
};

// mmap_lock: a reader-writer semaphore.
class CAPABILITY("rwsem") rw_semaphore {
 public:
  void down_read() ACQUIRE_SHARED() { m_.lock_shared(); }
  void up_read() RELEASE_SHARED() { m_.unlock_shared(); }
  void down_write() ACQUIRE() { m_.lock(); }
  void up_write() RELEASE() { m_.unlock(); }

 private:
  std::shared_mutex m_;
};

class SCOPED_CAPABILITY mmap_read_guard {
 public:
  explicit mmap_read_guard(rw_semaphore &s) ACQUIRE_SHARED(s) : s_(s) { s_.down_read(); }
  ~mmap_read_guard() RELEASE() { s_.up_read(); }

 private:
  rw_semaphore &s_;
};

class SCOPED_CAPABILITY mmap_write_guard {
 public:
  explicit mmap_write_guard(rw_semaphore &s) ACQUIRE(s) : s_(s) { s_.down_write(); }
  ~mmap_write_guard() RELEASE() { s_.up_write(); }

 private:
  rw_semaphore &s_;
};

}  // namespace anonx
