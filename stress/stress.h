// stress.h: the harness's types: cells, actors, scenarios, outcomes.
//
// A *cell* is one (scenario, protocol, mutant, threads, mode, seed) run.
// Its threads are split into *groups* of the scenario's actors; each group
// has its own machine (memory, page tables, swap) so groups never share
// protocol state, and every thread is one simulated CPU.
//
// lockstep: the group's actors meet at a rendezvous each iteration, run
//   their racing steps with a seeded random jitter so their windows overlap,
//   meet again, and role 0 grades the outcome (ACCEPTABLE / INTERESTING /
//   FORBIDDEN, as jcstress does), runs the oracles and resets the state.
// free: free-running torture: the scenario's actor kinds (process, pinner,
//   reclaim, ...) loop with think time and occasional long holds, checking
//   their invariants inline; a checker scans the page tables.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "anonx.h"

namespace anonx::stress {

enum class mode { lockstep, free };
enum class grade { acceptable, interesting, forbidden };
inline const char *grade_name(grade g) {
  return g == grade::acceptable    ? "ACCEPTABLE"
         : g == grade::interesting ? "INTERESTING"
                                   : "FORBIDDEN";
}

// xoshiro-style per-thread PRNG (splitmix64 seeding): no shared state.
struct rng {
  uint64_t s;
  explicit rng(uint64_t seed = 1) : s(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull) {}
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  unsigned below(unsigned n) { return n ? static_cast<unsigned>(next() % n) : 0; }
};

inline void spin_for(unsigned n) {
  for (unsigned i = 0; i < n; i++) cpu_relax();
}

// Window alignment (lockstep): each role of a scenario may name the
// labelled step where its race window opens ("A1" for a clearer, "B1" for
// GUP-fast). The roles meet there — a second, tighter rendezvous than the
// iteration's — and leave after a small seeded random delay, so the windows
// overlap within nanoseconds and the delay sweeps their relative offset.
// A role that does not reach its label this iteration (it bailed out
// earlier) lets the other go after a bounded wait.
struct align_point {
  alignas(kNoFalseSharing) std::atomic<uint64_t> arrived[2] = {};
  void meet(unsigned role, uint64_t ticket) {
    arrived[role & 1].store(ticket, std::memory_order_release);
    for (unsigned spins = 0; spins < 4096 + 400; spins++) {  // at most ~20 us
      if (arrived[(role & 1) ^ 1].load(std::memory_order_acquire) >= ticket) return;
      if (spins >= 4096) cpu_relax();
    }
  }
  // A role whose step ended without reaching its label: the other need not
  // wait for it.
  void leave(unsigned role, uint64_t ticket) {
    if (arrived[role & 1].load(std::memory_order_relaxed) < ticket)
      arrived[role & 1].store(ticket, std::memory_order_release);
  }
};

// Window injection: before a labelled step, spin, yield or (free mode)
// sleep, by the thread's seeded PRNG. Off: nothing happens.
struct inject_hooks final : step_hooks {
  rng r{1};
  bool enabled = false;
  bool allow_sleep = false;
  // alignment (see align_point)
  align_point *align = nullptr;
  const char *align_label = nullptr;
  unsigned align_jitter = 0;
  unsigned role = 0;
  uint64_t ticket = 0;  // iteration + 1; 0: already aligned this iteration
  void at(const char *label) override {
    if (ticket && align_label && std::strcmp(label, align_label) == 0) {
      align->meet(role, ticket);
      ticket = 0;
      // A fine-grained delay (a fraction of a nanosecond a step): PAUSE is
      // far too coarse to sweep a window of a few instructions.
      for (unsigned n = r.below(align_jitter + 1); n; n--) barrier();
    }
    if (!enabled) return;
    const uint64_t x = r.next();
    switch (x & 15) {
      case 0:
      case 1:
      case 2:
        spin_for(static_cast<unsigned>((x >> 8) & 255));
        break;
      case 3:
        std::this_thread::yield();
        break;
      case 4:
        if (allow_sleep && ((x >> 8) & 63) == 0)
          std::this_thread::sleep_for(std::chrono::microseconds(50));
        break;
      default:
        break;
    }
  }
};

// One simulated CPU: its env, statistics and PRNG, padded so that no two
// actors share a line.
struct alignas(kNoFalseSharing) actor {
  stress_env env;
  cpu_stats stats;
  inject_hooks hooks;
  rng r{1};
  unsigned role = 0;
  uint64_t ops = 0;
  uint64_t iteration = 0;
};

// A rendezvous for the actors of one group. Spins, then yields (TSan and
// oversubscribed machines).
class spin_barrier {
 public:
  explicit spin_barrier(unsigned n) : n_(n) {}
  void wait() {
    const unsigned g = gen_.load(std::memory_order_acquire);
    if (count_.fetch_add(1, std::memory_order_acq_rel) == n_ - 1) {
      count_.store(0, std::memory_order_relaxed);
      gen_.store(g + 1, std::memory_order_release);
      return;
    }
    // Tight spin first: PAUSE costs ~50 ns on this machine, more than the
    // hand-off itself; then PAUSE; then yield (TSan, oversubscription).
    for (unsigned spins = 0; gen_.load(std::memory_order_acquire) == g; spins++) {
      if (spins < 4096)
        barrier();
      else if (spins < 8192)
        cpu_relax();
      else
        std::this_thread::yield();
    }
  }

 private:
  unsigned n_;
  alignas(kNoFalseSharing) std::atomic<unsigned> count_{0};
  alignas(kNoFalseSharing) std::atomic<unsigned> gen_{0};
};

// An iteration's outcome: a name (a string literal: the histogram keys on
// its address) and its grade.
struct outcome {
  const char *name;
  grade g = grade::acceptable;
};

// One group's state for a lockstep scenario. setup/check/reset run on role
// 0 only, between rendezvous; step runs on every role concurrently.
struct lockstep_instance {
  virtual ~lockstep_instance() = default;
  virtual void setup(actor &a) = 0;
  virtual void step(actor &a) = 0;
  virtual outcome check(actor &a) = 0;
  virtual void reset(actor &a) = 0;
  virtual void teardown(actor &) {}
  // Upper bound of the random spin before a role's step, in PAUSEs (about
  // 50 ns each here): for scenarios whose windows are far apart in time.
  // Aligned scenarios need none.
  virtual unsigned jitter(unsigned role) const {
    (void)role;
    return 0;
  }
  // The labelled step where each role's race window opens (nullptr: none),
  // and the upper bound of the random delay after meeting there.
  virtual const char *align_label(unsigned role) const {
    (void)role;
    return nullptr;
  }
  virtual unsigned align_jitter(unsigned role) const {
    (void)role;
    return 128;
  }
};

// Actor kinds for free mode.
enum actor_kind : unsigned {
  K_PROCESS = 1u << 0,
  K_PINNER = 1u << 1,
  K_RECLAIM = 1u << 2,
  K_MIGRATE = 1u << 3,
  K_KSM = 1u << 4,
  K_KHUGEPAGED = 1u << 5,
  K_SPLIT = 1u << 6,
  K_FORK = 1u << 7,
  K_MUNMAP = 1u << 8,
  K_LRU = 1u << 9,
  K_CHECKER = 1u << 10,
};

struct scenario {
  const char *name;
  const char *description;
  const char *actors;   // the lockstep roles, in order
  const char *oracle;   // what is checked
  unsigned nr_roles;    // actors per group in lockstep
  unsigned free_kinds;  // actor kinds in free mode
  bool inject_default;  // window injection on by default (kill matrix)
  std::unique_ptr<lockstep_instance> (*make)(machine &);  // nullptr: free mode only
};

const std::vector<scenario> &scenarios();
const scenario *find_scenario(const std::string &name);

struct cell_spec {
  const scenario *sc = nullptr;
  runtime_protocol proto;
  unsigned threads = 2;
  mode md = mode::lockstep;
  bool inject = false;
  uint64_t seed = 1;
  double duration_s = 1.0;
  uint64_t iterations = 0;  // 0: no limit
  bool stop_on_first = false;
  std::vector<int> cpus;  // affinity: CPU for thread i (empty: none)
  unsigned long frames = ANONX_FRAMES;
};

struct cell_result {
  cell_spec spec;
  double elapsed_s = 0;
  uint64_t ops = 0;
  uint64_t iterations = 0;
  std::vector<uint64_t> per_thread_ops;
  std::map<std::string, std::pair<uint64_t, grade>> outcomes;
  std::vector<violation_record> violations;
  uint64_t violation_count = 0;
  double time_to_detect_s = -1;
  cpu_stats totals;
  bool failed() const { return violation_count > 0; }
};

// The pfn mapped at addr (PTE or huge PMD), or -1 when not present.
inline long mapped_pfn(mm_struct &mm, unsigned long addr) NO_THREAD_SAFETY_ANALYSIS {
  auto *pmdp = mm.pmd_offset(addr);
  {
    lock_guard<spinlock_t> g(mm.page_table_lock);
    const pmd_t pmd{pmdp->load(std::memory_order_relaxed)};
    if (pmd_trans_huge(pmd)) return static_cast<long>(pte_pfn(pmd) + pte_index(addr));
    if (!pmd_table(pmd)) return -1;
  }
  auto *table = pte_table_of<stress_env>(mm, addr);
  if (!table) return -1;
  lock_guard<ptl_t> ptl(table->ptl);
  const pte_t pte{table->pte[pte_index(addr)].load(std::memory_order_relaxed)};
  return pte_present(pte) ? static_cast<long>(pte_pfn(pte)) : -1;
}

inline page *page_at(actor &a, mm_struct &mm, unsigned long addr) {
  const long pfn = mapped_pfn(mm, addr);
  return pfn < 0 ? nullptr : a.env.pfn_to_page(static_cast<unsigned long>(pfn));
}

cell_result run_cell(const cell_spec &spec);

// Free mode, implemented in free.cc.
void run_free_group(const cell_spec &spec, std::vector<actor *> &actors, std::atomic<bool> &stop,
                    violation_sink &sink);

}  // namespace anonx::stress
