// SPDX-License-Identifier: GPL-2.0-only
// violation.h: where failed sanity checks (VM_BUG_ON) and invariant
// violations go. The kernel would BUG(); a stress harness must count them and
// keep running, so each is reported to a sink with its check's name, the
// page (pfn) and the reporting CPU. Reports are rare (they are failures), so
// the sink may use shared atomics; nothing on a hot path writes it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace anonx {

struct violation_record {
  std::string check;   // "I1", "VM_BUG_ON:PageAnonExclusive(!PageAnon)", ...
  std::string detail;  // free text: pfn, addr, what was seen
  long pfn = -1;
  int cpu = -1;
  uint64_t iteration = 0;
  double time_s = 0;
  uint64_t count = 0;
};

class violation_sink {
 public:
  violation_sink() : start_(std::chrono::steady_clock::now()) {}

  void report(const char *check, long pfn, int cpu, uint64_t iteration, std::string detail) {
    if (is_disabled(check)) return;
    total_.fetch_add(1, std::memory_order_relaxed);
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::lock_guard<std::mutex> g(mu_);
    for (auto &r : records_) {
      if (r.check == check) {
        ++r.count;
        return;
      }
    }
    records_.push_back({check, std::move(detail), pfn, cpu, iteration, t, 1});
  }

  uint64_t total() const { return total_.load(std::memory_order_relaxed); }

  // Oracle ablation (anonx-stress --disable-check): reports of these checks
  // are dropped, to show which check catches a bug when another is gone. A
  // name ending in '*' is a prefix. Set before any thread reports.
  void disable(std::vector<std::string> checks) { disabled_ = std::move(checks); }
  bool is_disabled(const char *check) const {
    for (const auto &d : disabled_) {
      if (!d.empty() && d.back() == '*' ? std::strncmp(check, d.c_str(), d.size() - 1) == 0
                                        : d == check)
        return true;
    }
    return false;
  }

  // Reports another sink's records here, as if reported now (a harness
  // that held a check's reports back until it knew they count).
  void absorb(const violation_sink &o) {
    for (const auto &r : o.records())
      for (uint64_t i = 0; i < r.count; i++)
        report(r.check.c_str(), r.pfn, r.cpu, r.iteration, r.detail);
  }

  uint64_t count(const std::string &check) const {
    std::lock_guard<std::mutex> g(mu_);
    for (auto &r : records_)
      if (r.check == check) return r.count;
    return 0;
  }

  std::vector<violation_record> records() const {
    std::lock_guard<std::mutex> g(mu_);
    return records_;
  }

  void reset() {
    std::lock_guard<std::mutex> g(mu_);
    records_.clear();
    total_.store(0, std::memory_order_relaxed);
    start_ = std::chrono::steady_clock::now();
  }

 private:
  mutable std::mutex mu_;
  std::vector<violation_record> records_;
  std::vector<std::string> disabled_;
  std::atomic<uint64_t> total_{0};
  std::chrono::steady_clock::time_point start_;
};

// The sink the current thread reports to, and the thread's CPU number and
// iteration (set by the harness; tests use the default sink).
struct report_context {
  violation_sink *sink = nullptr;
  int cpu = 0;
  uint64_t iteration = 0;
};

inline violation_sink &default_sink() {
  static violation_sink s;
  return s;
}

inline report_context &this_cpu_report() {
  thread_local report_context ctx;
  return ctx;
}

inline void report_violation(const char *check, long pfn, std::string detail = {}) {
  report_context &c = this_cpu_report();
  violation_sink *s = c.sink ? c.sink : &default_sink();
  s->report(check, pfn, c.cpu, c.iteration, std::move(detail));
}

}  // namespace anonx

// VM_BUG_ON_PAGE(cond, pfn, name): the kernel's debug assertion, reported not
// fatal. Evaluates to cond so callers may bail out.
#define VM_BUG_ON_PFN(cond, pfn, name) \
  (unlikely(cond) ? (::anonx::report_violation("VM_BUG_ON:" name, (pfn)), true) : false)
