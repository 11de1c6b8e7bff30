// SPDX-License-Identifier: GPL-2.0-only
// relacy_policy.h: core/ under Relacy (Debian relacy-dev), the model checker
// of the C++ memory model: the atomic policy rl_atomic<T>, the barrier and
// spin-wait hooks of core/barriers.h and core/compiler.h, and the env hooks
// that write the labelled steps (A1..A4, B1..B5) into Relacy's history.
//
// Include order: every standard header and core/ first, then
// <relacy/relacy.hpp>, then #undef the macros it defines over standard
// names (memory_order_*, new, delete, malloc, free, assert, errno, ...; a
// standard header such as <atomic> included after them does not compile,
// and relacy_std.hpp conflicts with libstdc++ 12). This header does exactly
// that and must be the first anonx header a check/ file includes; core/
// must be compiled with ANONX_FENCE_HOOK (check/meson.build).
//
// rl_atomic<T> is lazy. core/ builds a machine (memmap, PTE tables of 512
// entries, swap slots) of which a racing pair touches a few dozen words; an
// rl::atomic per word, constructed and initialised by a Relacy store on
// every iteration, would cost more than the search. So:
//  - set-up phase (the test's constructor and before(), one fiber, no
//    concurrency): the wrapper is a plain T;
//  - live phase (the threads and after()): the first access of a word
//    constructs its rl::atomic in place and gives it the set-up value the
//    way Relacy initialises its own atomics (rl_init_value: a history record
//    that happens before every thread), then every access is a Relacy event
//    named by the core/ line that made it (std::source_location).
// Relacy keeps the last 3 stores of each atomic (atomic_history_size), so a
// load reads one of those (one back at most in the bounded searches).
// Also: every heap allocation inside a test is Relacy's and must be freed
// by the end of the iteration (a fixed table names the raced words), and
// check/meson.build turns off sized deallocation (Relacy replaces only the
// unsized operator delete).
#pragma once

#if !defined(ANONX_FENCE_HOOK)
#error "check/ compiles core/ with ANONX_FENCE_HOOK (see check/meson.build)"
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <set>
#include <source_location>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "anonx.h"

// clang-format off
#include <relacy/relacy.hpp>
// clang-format on
#undef memory_order_relaxed
#undef memory_order_consume
#undef memory_order_acquire
#undef memory_order_release
#undef memory_order_acq_rel
#undef memory_order_seq_cst
#undef new
#undef delete
#undef malloc
#undef calloc
#undef realloc
#undef free
#undef assert
#undef errno
#define errno (*__errno_location())

namespace anonx::check {

// A named site of core/: a barrier or an explicit memory order, by its line.
struct site_key {
  std::string file;  // as the compiler names it, trimmed to core/...
  unsigned line = 0;
  friend bool operator<(const site_key &a, const site_key &b) {
    return a.line != b.line ? a.line < b.line : a.file < b.file;
  }
  friend bool operator==(const site_key &a, const site_key &b) {
    return a.line == b.line && a.file == b.file;
  }
};

inline std::string trim_core_path(const char *f) {
  std::string s = f;
  const auto k = s.rfind("core/");
  return k == std::string::npos ? s : s.substr(k);
}

// The back end's run-wide state. Set before rl::simulate and constant while
// it runs (Relacy replays a failing iteration and needs determinism), except
// `live`, which each iteration sets the same way.
struct backend_state {
  bool live = false;  // the threads (and after()) run: accesses are Relacy events
  // A site weakened for the barrier accounting (--weaken FILE:LINE): a
  // barrier there is removed, an order there is one step weaker.
  std::optional<site_key> weakened;
  // Record the sites reached (--sites)?
  bool record_sites = false;
};

// The sites reached, for --sites: a fixed table (they are noted inside the
// test, where every heap allocation is Relacy's); source_location's names
// are string literals.
struct seen_site {
  const char *file;
  const char *function;
  unsigned line;
  const char *what;
};
inline seen_site g_seen_sites[4096];
inline unsigned g_nr_seen_sites = 0;
inline backend_state g_backend;

inline bool is_weakened(const std::source_location &loc) {
  if (!g_backend.weakened) return false;
  return g_backend.weakened->line == loc.line() &&
         trim_core_path(loc.file_name()) == g_backend.weakened->file;
}

inline void note_site(const std::source_location &loc, const char *what) {
  if (!g_backend.record_sites) return;
  for (unsigned i = 0; i < g_nr_seen_sites; i++)
    if (g_seen_sites[i].line == loc.line() && g_seen_sites[i].what == what &&
        std::strcmp(g_seen_sites[i].file, loc.file_name()) == 0)
      return;
  if (g_nr_seen_sites < std::size(g_seen_sites))
    g_seen_sites[g_nr_seen_sites++] = {loc.file_name(), loc.function_name(), loc.line(), what};
}

// The Relacy debug_info of a core/ line. Relacy keeps the pointers: the
// function and file names of a source_location are string literals.
inline rl::debug_info info(const std::source_location &loc) {
  return rl::debug_info(loc.function_name(), loc.file_name(), loc.line());
}

// std::memory_order -> Relacy's, one step weaker at the weakened site:
// seq_cst -> acq_rel (RMW) / acquire (load) / release (store); acq_rel ->
// acquire (RMW: the release half goes); acquire, release, consume -> relaxed.
enum class access { load, store, rmw };
inline rl::memory_order to_rl(std::memory_order mo, access a, const std::source_location &loc) {
  if (is_weakened(loc)) {
    switch (mo) {
      case std::memory_order_seq_cst:
        mo = a == access::rmw    ? std::memory_order_acq_rel
             : a == access::load ? std::memory_order_acquire
                                 : std::memory_order_release;
        break;
      case std::memory_order_acq_rel:
        mo = std::memory_order_acquire;
        break;
      default:
        mo = std::memory_order_relaxed;
        break;
    }
  }
  switch (mo) {
    case std::memory_order_relaxed:
      return rl::mo_relaxed;
    case std::memory_order_consume:
      return rl::mo_consume;
    case std::memory_order_acquire:
      return rl::mo_acquire;
    case std::memory_order_release:
      return rl::mo_release;
    case std::memory_order_acq_rel:
      return rl::mo_acq_rel;
    default:
      return rl::mo_seq_cst;
  }
}
// A CAS's failure order may not be stronger than its (weakened) success order.
inline rl::memory_order cas_failure(rl::memory_order success, rl::memory_order failure) {
  if (success == rl::mo_relaxed || success == rl::mo_release) return rl::mo_relaxed;
  if (failure == rl::mo_seq_cst && success != rl::mo_seq_cst) return rl::mo_acquire;
  return failure;
}

// Names of the words a scenario races on (the address Relacy prints ->
// name), for the trace. Filled inside the test, where every heap
// allocation is Relacy's and must be freed by the end of the iteration: a
// fixed table, no allocation.
struct word_name {
  const void *addr = nullptr;
  char name[40] = {};
};
inline word_name g_word_names[24];
inline void clear_word_names() {
  for (auto &w : g_word_names) w = word_name{};
}
inline void name_word(const void *addr, const char *prefix, const char *name) {
  for (auto &w : g_word_names)
    if (!w.addr) {
      w.addr = addr;
      std::snprintf(w.name, sizeof w.name, "%s%s", prefix, name);
      return;
    }
}

// ---- the set-up value of a word, as Relacy's own initialisation ----------
//
// A word's set-up value must happen before every thread: Relacy's
// generic_atomic<T, true> gets that from atomic_init() (a history record
// with timestamp 0, which every load may read and none reads past), but
// only for T(). rl_atomic writes its own value into that record. The
// members it needs are private; the explicit instantiation of a template
// taking pointers to them is allowed to name them ([temp.spec]/6), which is
// the standard way to reach them without editing Relacy.
template <class Tag, typename Tag::type M>
struct rl_member_access {
  friend typename Tag::type member(Tag) { return M; }
};
#define ANONX_RL_MEMBER(tag, T, mtype, name)            \
  struct tag {                                          \
    using type = mtype rl::generic_atomic<T, false>::*; \
    friend type member(tag);                            \
  };                                                    \
  template struct rl_member_access<tag, &rl::generic_atomic<T, false>::name>;
#define ANONX_RL_MEMBERS(T, id)                                                               \
  ANONX_RL_MEMBER(impl_of_##id, T, rl::atomic_data *, impl_)                                  \
  ANONX_RL_MEMBER(last_index_of_##id, T, unsigned, last_index_)                               \
  ANONX_RL_MEMBER(initialized_of_##id, T, bool, initialized_)                                 \
  ANONX_RL_MEMBER(value_of_##id, T, T, value_)                                                \
  struct history_of_##id {                                                                    \
    using type = T (rl::generic_atomic<T, false>::*)[rl::atomic_history_size];                \
    friend type member(history_of_##id);                                                      \
  };                                                                                          \
  template struct rl_member_access<history_of_##id, &rl::generic_atomic<T, false>::history_>; \
  inline void rl_init_value(rl::generic_atomic<T, false> &a, T v) {                           \
    const unsigned idx = rl::ctx().threadx_->atomic_init(a.*member(impl_of_##id{}));          \
    a.*member(last_index_of_##id{}) = idx;                                                    \
    (a.*member(history_of_##id{}))[idx] = v;                                                  \
    a.*member(value_of_##id{}) = v;                                                           \
    a.*member(initialized_of_##id{}) = true;                                                  \
  }
// The types core/ makes atomic.
ANONX_RL_MEMBERS(unsigned long, ulong)
ANONX_RL_MEMBERS(int, int)
ANONX_RL_MEMBERS(unsigned, uint)
#undef ANONX_RL_MEMBERS
#undef ANONX_RL_MEMBER

// The words made Relacy atomics in this iteration: the test's destructor
// turns them back into plain set-up values (reset_live_atomics), so that a
// machine built once, outside Relacy, serves every iteration (pairs.h).
inline void (*g_live_resets[4096])(void *, bool destroy);
inline void *g_live_words[4096];
inline unsigned g_nr_live = 0;
inline void reset_live_atomics() {
  for (unsigned i = 0; i < g_nr_live; i++) g_live_resets[i](g_live_words[i], true);
  g_nr_live = 0;
}
// After an iteration Relacy abandoned (a failure; its context and its
// atomics' data are gone): forget the words' atomics without destroying
// them. Only for words that outlive the iteration (a persistent pair).
inline void forget_live_atomics() {
  for (unsigned i = 0; i < g_nr_live; i++) g_live_resets[i](g_live_words[i], false);
  g_nr_live = 0;
}

template <class T>
class rl_atomic {
 public:
  using loc_t = std::source_location;
  rl_atomic() noexcept : init_() {}
  rl_atomic(T v) noexcept : init_(v) {}  // NOLINT: as std::atomic's
  rl_atomic(const rl_atomic &) = delete;
  rl_atomic &operator=(const rl_atomic &) = delete;
  ~rl_atomic() { unmaterialize(true); }
  // Back to the plain set-up value (the end of an iteration); !destroy: the
  // iteration was abandoned with its Relacy context.
  void unmaterialize(bool destroy) const {
    if (a_ && destroy) a_->~atomic();
    a_ = nullptr;
  }

  T load(std::memory_order mo = std::memory_order_seq_cst,
         const loc_t &loc = loc_t::current()) const {
    note_site(loc, "load");
    if (!g_backend.live) return init_;
    return get(loc).load(to_rl(mo, access::load, loc), info(loc));
  }
  void store(T v, std::memory_order mo = std::memory_order_seq_cst,
             const loc_t &loc = loc_t::current()) {
    note_site(loc, "store");
    if (!g_backend.live) {
      init_ = v;
      return;
    }
    get(loc).store(v, to_rl(mo, access::store, loc), info(loc));
  }
  T exchange(T v, std::memory_order mo = std::memory_order_seq_cst,
             const loc_t &loc = loc_t::current()) {
    note_site(loc, "exchange");
    if (!g_backend.live) return std::exchange(init_, v);
    return get(loc).exchange(v, to_rl(mo, access::rmw, loc), info(loc));
  }
#define ANONX_RL_RMW(name, op)                                       \
  T name(T v, std::memory_order mo = std::memory_order_seq_cst,      \
         const loc_t &loc = loc_t::current()) {                      \
    note_site(loc, #name);                                           \
    if (!g_backend.live) {                                           \
      const T old = init_;                                           \
      init_ = static_cast<T>(old op v);                              \
      return old;                                                    \
    }                                                                \
    return get(loc).name(v, to_rl(mo, access::rmw, loc), info(loc)); \
  }
  ANONX_RL_RMW(fetch_add, +)
  ANONX_RL_RMW(fetch_sub, -)
  ANONX_RL_RMW(fetch_or, |)
  ANONX_RL_RMW(fetch_and, &)
  ANONX_RL_RMW(fetch_xor, ^)
#undef ANONX_RL_RMW

  bool compare_exchange_strong(T &expected, T desired, std::memory_order success,
                               std::memory_order failure, const loc_t &loc = loc_t::current()) {
    return cas<false>(expected, desired, success, failure, loc);
  }
  bool compare_exchange_weak(T &expected, T desired, std::memory_order success,
                             std::memory_order failure, const loc_t &loc = loc_t::current()) {
    return cas<true>(expected, desired, success, failure, loc);
  }
  bool compare_exchange_strong(T &expected, T desired,
                               std::memory_order mo = std::memory_order_seq_cst,
                               const loc_t &loc = loc_t::current()) {
    return cas<false>(expected, desired, mo,
                      mo == std::memory_order_acq_rel   ? std::memory_order_acquire
                      : mo == std::memory_order_release ? std::memory_order_relaxed
                                                        : mo,
                      loc);
  }
  bool compare_exchange_weak(T &expected, T desired,
                             std::memory_order mo = std::memory_order_seq_cst,
                             const loc_t &loc = loc_t::current()) {
    return cas<true>(expected, desired, mo,
                     mo == std::memory_order_acq_rel   ? std::memory_order_acquire
                     : mo == std::memory_order_release ? std::memory_order_relaxed
                                                       : mo,
                     loc);
  }

  // core/bitops.h plain_word(): Relacy's plain memory is rl::var, not the
  // atomic's storage, so a deliberately plain RMW (mutant b12) has no word
  // to touch here; anonx-check does not run b12 (--list says why).
  unsigned long *plain_word() {
    std::fprintf(stderr, "anonx-check: internal error: plain access to an rl_atomic (b12)\n");
    std::abort();
  }

  // The address Relacy's history prints for this word (its rl::atomic).
  const void *trace_addr() const { return buf_; }

  // The value a word holds, outside the search (set-up, reports).
  T debug_value() const { return a_ ? a_->debug_value() : init_; }

 private:
  template <bool Weak>
  bool cas(T &expected, T desired, std::memory_order success, std::memory_order failure,
           const loc_t &loc) {
    note_site(loc, "cmpxchg");
    if (!g_backend.live) {
      if (init_ == expected) {
        init_ = desired;
        return true;
      }
      expected = init_;
      return false;
    }
    const rl::memory_order s = to_rl(success, access::rmw, loc);
    const rl::memory_order f = cas_failure(s, to_rl(failure, access::load, loc));
    auto &a = get(loc);
    const rl::debug_info di = info(loc);
    if constexpr (Weak)
      return a.compare_exchange_weak(expected, desired, s, di, f, di);
    else
      return a.compare_exchange_strong(expected, desired, s, di, f, di);
  }
  rl::atomic<T> &get(const loc_t &loc) const {
    if (!a_) {
      (void)loc;
      a_ = new (buf_) rl::atomic<T>();
      rl_init_value(*a_, init_);  // happens before every thread (see above)
      if (g_nr_live == std::size(g_live_words)) {
        std::fprintf(stderr, "anonx-check: internal error: more than %zu raced words\n",
                     std::size(g_live_words));
        std::abort();
      }
      g_live_words[g_nr_live] = const_cast<rl_atomic *>(this);
      g_live_resets[g_nr_live++] = [](void *w, bool destroy) {
        static_cast<rl_atomic *>(w)->unmaterialize(destroy);
      };
    }
    return *a_;
  }

  mutable T init_;
  mutable rl::atomic<T> *a_ = nullptr;
  alignas(rl::atomic<T>) mutable unsigned char buf_[sizeof(rl::atomic<T>)];
};

}  // namespace anonx::check
