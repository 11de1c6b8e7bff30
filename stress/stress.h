// SPDX-License-Identifier: GPL-2.0-only
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
//   FORBIDDEN, as jcstress does), runs the oracles and resets the state
//   (iteration_handshake). Inside a step they meet at their race windows
//   (align_point); one iteration in --preempt N runs a seeded interleaving
//   at labelled steps instead (preempt_plan).
// free: free-running torture: the scenario's actor kinds (process, pinner,
//   reclaim, ...) loop with think time and occasional long holds, checking
//   their invariants inline; a checker scans the page tables.
#pragma once

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "audit.h"
#include "registry.h"
#include "run_env.h"

namespace anonx::stress {

// The harness library (harness/): the registry, the audit, the reports.
using namespace anonx::harness;

enum class mode { lockstep, free };
inline const char *mode_name(mode m) { return m == mode::lockstep ? "lockstep" : "free"; }
// INCONCLUSIVE: the iteration could not get to its racy step or its check
// (a set-up fault or an access failed): neither a pass nor a catch.
enum class grade { acceptable, interesting, forbidden, inconclusive };
inline const char *grade_name(grade g) {
  return g == grade::acceptable    ? "ACCEPTABLE"
         : g == grade::interesting ? "INTERESTING"
         : g == grade::forbidden   ? "FORBIDDEN"
                                   : "INCONCLUSIVE";
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

// The CPUs this process may run on (taskset, cgroups): fewer than "cpus"
// means the threads time-share cores.
inline unsigned cpus_allowed() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return std::thread::hardware_concurrency();
  return static_cast<unsigned>(CPU_COUNT(&set));
}

// The CPUs a cell's threads run on: those allowed, or fewer with
// --affinity (the distinct CPUs of its list). Sizes both the spin budget of
// the cell's waits and how many cells run at once.
inline unsigned cell_cpus(const std::vector<int> &affinity) {
  const unsigned allowed = std::max(1u, cpus_allowed());
  if (affinity.empty()) return allowed;
  return std::min(allowed,
                  static_cast<unsigned>(std::set<int>(affinity.begin(), affinity.end()).size()));
}

// A harness word alone on its cache line, written by one role only.
struct alignas(kNoFalseSharing) line_word {
  std::atomic<uint64_t> v{0};
  uint64_t load(std::memory_order o) const { return v.load(o); }
  void store(uint64_t x, std::memory_order o) { v.store(x, o); }
};

// How long a harness wait spins before it starts yielding, in us: ~10 when
// every thread of a cell has a CPU of its own (the partner arrives within a
// cache-line hand-off; a yield is a 1-2 us system call here), 0 when they
// time-share CPUs (the partner runs only once the waiter yields). run_cell
// picks it per cell (cell_cpus) and hands it to the cell's align point and
// handshake.
inline unsigned spin_budget_us(unsigned cpus, unsigned threads) { return cpus >= threads ? 10 : 0; }

// Pins thread t to CPU cpu (a negative cpu: leaves it where it is).
inline void pin_to_cpu(std::thread::native_handle_type t, int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(t, sizeof(set), &set);
}

// The spin phase of every harness wait: true once here() holds, false when
// the budget of us microseconds is spent.
template <class Pred>
bool spin_phase(Pred here, unsigned us) {
  for (unsigned spins = 0; spins < 256; spins++)
    if (here()) return true;
  if (!us) return false;
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  do {
    for (unsigned spins = 0; spins < 256; spins++)
      if (here()) return true;
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

// Window alignment (lockstep): each role of a scenario may name the
// labelled step where its race window opens ("A1" for a clearer, "B1" for
// GUP-fast). The roles meet there — a second, tighter rendezvous than the
// iteration's — and leave after a small seeded random delay, so the windows
// overlap within nanoseconds and the delay sweeps their relative offset.
// A role that does not reach its label this iteration (it bailed out
// earlier) lets the other go after a bounded wait.
struct align_point {
  // One line per word, each written by one role only.
  line_word arrived[2];
  line_word progress[2];
  unsigned spin_us = 10;  // the cell's spin_budget_us, set before its threads start

  // Every wait here: the spin phase (spin_phase), then up to 32 yields and
  // 200 us of wall time. The yields matter when the partner is not running
  // — an oversubscribed machine, a run pinned to one CPU — where a pure spin
  // would give up before the partner ever got the CPU; there the first yield
  // or two hand the CPU over. The bounds keep a role whose partner is
  // blocked on a lock the waiter holds from stalling the iteration for long.
  // Returns whether the partner got there (false: the wait gave up).
  template <class Pred>
  bool bounded_wait(Pred here) const {
    using clock = std::chrono::steady_clock;
    if (spin_phase(here, spin_us)) return true;
    const auto until = clock::now() + std::chrono::microseconds(200);
    for (unsigned yields = 0; yields < 32; yields++) {
      std::this_thread::yield();
      if (here()) return true;
      if (std::chrono::steady_clock::now() >= until) break;
    }
    return false;
  }
  void meet(unsigned role, uint64_t ticket) {
    arrived[role & 1].store(ticket, std::memory_order_release);
    bounded_wait([&] { return arrived[(role & 1) ^ 1].load(std::memory_order_acquire) >= ticket; });
  }
  // A role whose step ended without reaching its label: the other need not
  // wait for it.
  void leave(unsigned role, uint64_t ticket) {
    if (arrived[role & 1].load(std::memory_order_relaxed) < ticket)
      arrived[role & 1].store(ticket, std::memory_order_release);
  }
  // Preemption points (preempt_plan): progress[role] for iteration ticket t
  // is 4t+1 once the parked role has stopped, 4t+2 once the runner has
  // reached its release point, 4t+3 once the role's step is over.
  void publish(unsigned role, uint64_t value) {
    progress[role & 1].store(value, std::memory_order_release);
  }
  bool wait_progress(unsigned role, uint64_t value) {  // the partner's
    return bounded_wait(
        [&] { return progress[(role & 1) ^ 1].load(std::memory_order_acquire) >= value; });
  }
};

// Preemption points (lockstep, --preempt N): in one iteration in N, chosen
// from the seed and the iteration number alone (so both roles agree without
// talking), the two steps are run in a seeded interleaving instead of in
// parallel: the *parked* role stops at a seeded labelled step of its path,
// the *runner* runs up to a seeded labelled step of its own (or to its end),
// then the parked role runs to the end of its step, then the runner
// finishes:  P[0, a)  R[0, j)  P[a, end)  R[j, end).
// That is what a CPU sees when an interrupt or a vCPU preemption lands
// inside its window, and what PCT-style testers force at their scheduling
// points: windows a few instructions wide, which threads racing in parallel
// overlap only by luck, are hit on purpose, on any number of CPUs (one
// included). The other N-1 iterations race in parallel (align_point). Every
// wait is bounded, so a parked role holding a lock the runner needs costs
// ~200 us, not a deadlock.
struct preempt_plan {
  int role = -1;              // the parked role, -1: no preemption this iteration
  unsigned park_pick = 0;     // seeded; modulo the labels the parked role has seen
  unsigned release_pick = 0;  // seeded; modulo the runner's labels + 1 (the end)
  static preempt_plan of(uint64_t seed, uint64_t iteration, unsigned one_in) {
    preempt_plan p;
    if (!one_in) return p;
    rng r(seed * 0x2545F4914F6CDD1Dull + iteration);
    const uint64_t x = r.next();
    if (x % one_in) return p;
    p.role = static_cast<int>((x >> 32) & 1);
    const uint64_t y = r.next();
    p.park_pick = static_cast<unsigned>(y & 0xFFFFFFFF);
    p.release_pick = static_cast<unsigned>(y >> 32);
    return p;
  }
};

// Records the labelled steps a role passes (coverage runs: which windows
// of the two roles overlapped). Written by its role only.
struct label_recorder {
  virtual ~label_recorder() = default;
  virtual void record(const char *label) = 0;
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
  // preemption points (see preempt_plan)
  uint64_t step_ticket = 0;   // iteration + 1 while a lockstep step runs
  unsigned labels = 0;        // labelled steps passed in this step
  unsigned park_at = ~0u;     // parked role: the label index to stop at
  unsigned release_at = ~0u;  // runner: the label index where it lets the parked role go
  unsigned max_labels = 0;    // the most labels one step of this role has passed
  // Label indices where waits gave up: the role held what the other
  // needed (a spinlock, whose kernel holder cannot be preempted; an
  // IRQ-off section an IPI waits for), or the machine was too busy to run
  // the partner, so the two went on in parallel after the bounded wait
  // (spin phase + up to 200 us). After 4 such give-ups an index is tried
  // only one time in 16: rarely enough to cost little, often enough to keep
  // the interleaving (the give-up itself is one: a flush that waited out a
  // delayed section). The counts halve every 1024 preempted steps, so a
  // burst of outside load is forgotten.
  uint8_t stuck[64] = {};
  unsigned preempted_steps = 0;
  bool skip(unsigned k, unsigned pick) const {
    return k < 64 && stuck[k] >= 4 && (pick >> 28) != 0;
  }
  void mark_stuck(unsigned k) {
    if (k < 64 && stuck[k] < 255) stuck[k]++;
  }
  void decay_stuck() {
    if (++preempted_steps % 1024) return;
    for (auto &c : stuck) c /= 2;
  }
  bool runner = false;     // this iteration, this role waits for the parked one to stop
  bool scheduled = false;  // this iteration runs a preempt_plan (progress words in use)
  void begin_step(uint64_t t, const preempt_plan &p) {
    step_ticket = t;
    labels = 0;
    park_at = release_at = ~0u;
    runner = false;
    scheduled = p.role >= 0;
    if (!scheduled) {
      ticket = t;  // race in parallel: meet at the align label
      return;
    }
    ticket = 0;  // a scheduled interleaving: no meeting
    decay_stuck();
    if (p.role == static_cast<int>(role)) {
      park_at = p.park_pick % std::max(1u, max_labels);
      if (skip(park_at, p.park_pick)) park_at = ~0u;
    } else {
      runner = true;
      release_at = p.release_pick % (max_labels + 1);
      // max_labels: at the end (even if this step passes more labels)
      if (release_at == max_labels || skip(release_at, p.release_pick)) release_at = ~0u;
    }
  }
  void end_step() {
    if (recorder) recorder->record("END");
    if (ticket && align_label) align->leave(role, ticket);
    // The step's end, for a partner waiting on it (parked role: its release;
    // runner: the parked role's stop or end). Only a scheduled iteration
    // waits on progress words: a parallel one writes no extra line.
    if (scheduled) align->publish(role, 4 * step_ticket + 3);
    max_labels = std::max(max_labels, labels);
    ticket = step_ticket = 0;
    park_at = release_at = ~0u;
  }
  label_recorder *recorder = nullptr;  // coverage runs: the role's window log
  void at(const char *label) override {
    if (recorder) recorder->record(label);
    if (step_ticket) {
      const unsigned k = labels++;
      const uint64_t t4 = 4 * step_ticket;
      if (k == park_at) {
        align->publish(role, t4 + 1);             // stopped here
        if (!align->wait_progress(role, t4 + 2))  // until the runner's release (or end)
          mark_stuck(k);
      }
      if (runner && k == 0)  // the runner starts once the parked role has stopped
        align->wait_progress(role, t4 + 1);
      if (k == release_at) {
        align->publish(role, t4 + 2);             // let the parked role go
        if (!align->wait_progress(role, t4 + 3))  // and wait for its end
          mark_stuck(k);
      }
    }
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
  lockstat profile;  // this thread's contention profile (core/lockstat.h)
  inject_hooks hooks;
  rng r{1};
  unsigned role = 0;
  uint64_t iteration = 0;
  // A scenario's access (set-up, step or check) failed since role 0 last
  // graded: the iteration is INCONCLUSIVE. Written by its own thread, read
  // and cleared by role 0 between rendezvous.
  bool access_failed = false;
  // stats.ops as the progress line and checkpoints see it, stored by this
  // actor's thread every kLiveOpsEvery ops: stats are plain memory, so a
  // reader on another thread needs a word of its own (its own line, so the
  // store costs the hot path nothing but the occasional hand-off).
  line_word live_ops;
  static constexpr uint64_t kLiveOpsEvery = 256;
  void count_op() {
    if ((++stats.ops % kLiveOpsEvery) == 0) live_ops.store(stats.ops, std::memory_order_relaxed);
  }
};

// The per-iteration rendezvous of one group, as a coordinator handshake:
// role 0 publishes "go" for an iteration once it has graded and reset the
// last one, and every other role publishes "done" when its step is over.
// Each word is written by one role only and sits on its own line: two
// one-way cache-line transfers an iteration for two roles, where a counting
// barrier passed twice costs about five (each ~240 ns between the vCPUs of
// this machine: the hand-off dominates a lockstep iteration).
class iteration_handshake {
 public:
  iteration_handshake(unsigned n, unsigned spin_us)
      : n_(n), spin_us_(spin_us), done_(new line_word[n]) {}
  void go(uint64_t it) { go_.store(it, std::memory_order_release); }
  void wait_go(uint64_t it) const { wait_for(go_, it); }
  void done(unsigned role, uint64_t it) { done_[role].store(it, std::memory_order_release); }
  void wait_done(uint64_t it) const {
    for (unsigned r = 1; r < n_; r++) wait_for(done_[r], it);
  }

 private:
  // The spin phase (no PAUSE: it costs ~50 ns here, more than the hand-off
  // itself), then yield until it comes (TSan, oversubscription, one CPU).
  void wait_for(const line_word &w, uint64_t it) const {
    auto here = [&] { return w.load(std::memory_order_acquire) >= it; };
    if (spin_phase(here, spin_us_)) return;
    while (!here()) std::this_thread::yield();
  }
  unsigned n_;
  unsigned spin_us_;
  line_word go_;
  std::unique_ptr<line_word[]> done_;
};

// An iteration's outcome: a name (a string literal: the histogram keys on
// its address) and its grade.
struct outcome {
  const char *name;
  grade g = grade::acceptable;
};

// One group's state for a lockstep scenario. setup/check/reset run on role
// 0 only, between rendezvous; step runs on every role concurrently.
struct cell_result;

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
  // The references the scenario holds outside the page tables and the swap
  // cache between iterations (the conservation audit's owners).
  virtual void owned(std::vector<owned_ref> &out) const { (void)out; }
  // Coverage: the role's window log, and what the instance adds to its
  // cell's result once its threads are done.
  virtual label_recorder *recorder(unsigned role) {
    (void)role;
    return nullptr;
  }
  virtual void collect(cell_result &res) const { (void)res; }
};

struct scenario {
  const char *name;
  const char *description;
  const char *actors;   // the lockstep roles, in order
  const char *oracle;   // what is checked
  unsigned nr_roles;    // actors per group in lockstep
  unsigned free_kinds;  // actor kinds in free mode
  bool inject_default;  // window injection on by default (kill matrix)
  std::unique_ptr<lockstep_instance> (*make)(machine &);  // nullptr: free mode only (or a cell)
  int cell = -1;  // a generated scenario: its cell of the coverage model (coverage.h)
  const harness::scenario_def *def = nullptr;  // a preset: its registry entry
  bool lockstep() const { return make || cell >= 0; }
};

const std::vector<scenario> &scenarios();
const scenario *find_scenario(const std::string &name);

struct cell_spec {
  const scenario *sc = nullptr;
  runtime_protocol proto;
  unsigned threads = 2;
  mode md = mode::lockstep;
  bool inject = false;
  unsigned preempt = 4;     // lockstep: one iteration in N has a preemption point; 0: none
  unsigned fail_alloc = 0;  // fault injection: one allocation in N fails (core/env.h); 0: none
  uint64_t seed = 1;
  double duration_s = 1.0;
  uint64_t iterations = 0;      // 0: no limit
  uint64_t min_iterations = 0;  // lockstep: run at least these, whatever the duration
  bool stop_on_first = false;
  std::vector<int> cpus;  // affinity: CPU for thread i (empty: none)
  unsigned long frames = ANONX_FRAMES;
  std::vector<std::string> disabled_checks;  // --disable-check: oracle ablation
  bool profile = true;                       // --profile on|off: the contention profile
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
  uint64_t inconclusive = 0;  // lockstep iterations graded INCONCLUSIVE
  double time_to_detect_s = -1;
  cpu_stats totals;
  lockstat profile;          // the threads' profiles, added up
  bool interrupted = false;  // stopped by a signal before its duration was up
  // generated cells: iterations that reached the state, iterations where
  // the racer passed a labelled step inside one of the path's windows, and
  // how often, per (path label | racer label) pair
  uint64_t reached = 0, overlapped = 0;
  std::map<std::string, uint64_t> overlaps;
  bool failed() const { return violation_count > 0; }
};

// The signal that asked the whole run to stop (SIGINT, SIGTERM), 0 while
// none has. Set from a signal handler, so a lock-free atomic; read by every
// cell's role 0 each iteration and by the free-mode driver (a read of a line
// that is written once costs nothing on the hot path).
inline std::atomic<int> stop_signal_word{0};
static_assert(std::atomic<int>::is_always_lock_free, "the stop flag is set in a signal handler");
inline int stop_signal() { return stop_signal_word.load(std::memory_order_relaxed); }
// Async-signal-safe. False when a stop was already requested.
inline bool request_stop(int sig) {
  int none = 0;
  return stop_signal_word.compare_exchange_strong(none, sig);
}

// A cell while it runs, as the progress line and checkpoints see it: the
// actors' published ops (line_word), so a reader never touches their stats.
struct running_cell {
  const char *scenario, *protocol, *mutant;
  unsigned threads;
  uint64_t seed;
  double duration_s, elapsed_s;
  uint64_t ops, violations;
};
std::vector<running_cell> running_cells();

// How run_cell lays a cell out: groups of roles, one thread per actor.
struct cell_shape {
  bool lockstep;
  unsigned roles, groups, threads;
};
cell_shape shape_of(const cell_spec &spec);
// The heap bytes one group of the cell takes (its machine and scenario
// state), measured by building one; for the limits checked before a run.
size_t group_bytes(const cell_spec &spec);

// The pfn mapped at addr (PTE or huge PMD), or -1 when not present: the
// harness's lookup, its locks outside the contention profile.
inline long mapped_pfn(mm_struct &mm, unsigned long addr) NO_THREAD_SAFETY_ANALYSIS {
  auto *pmdp = mm.pmd_offset(addr);
  {
    unprofiled_guard<spinlock_t> g(mm.page_table_lock);
    const pmd_t pmd{pmdp->load(std::memory_order_relaxed)};
    if (pmd_trans_huge(pmd)) return static_cast<long>(pte_pfn(pmd) + pte_index(addr));
    if (!pmd_table(pmd)) return -1;
  }
  auto *table = pte_table_of<stress_env>(mm, addr);
  if (!table) return -1;
  unprofiled_guard<ptl_t> ptl(table->ptl);
  const pte_t pte{table->pte[pte_index(addr)].load(std::memory_order_relaxed)};
  return pte_present(pte) ? static_cast<long>(pte_pfn(pte)) : -1;
}

inline page *page_at(actor &a, mm_struct &mm, unsigned long addr) {
  const long pfn = mapped_pfn(mm, addr);
  return pfn < 0 ? nullptr : a.env.pfn_to_page(static_cast<unsigned long>(pfn));
}

// The LRU side of B12: PG_active set then cleared on p's flags word, each
// change checked. A non-atomic update of the same word elsewhere (mutant
// b12_nonatomic_flag) shows as a change that did not stick.
inline void toggle_active_checked(page *p) {
  SetPageActive(p);
  if (!PageActive(p)) report_violation("lost-update", p->pfn, "PG_active set was lost");
  ClearPageActive(p);
  if (PageActive(p)) report_violation("lost-update", p->pfn, "PG_active clear was lost");
}

// fork-leak: after a fork, parent and child never see each other's
// writes (words 2 and 3 of the page at addr, tagged with `tag`). Returns
// false when an access faulted (nothing was checked then).
inline bool check_fork_isolation(stress_env &env, mm_struct &parent, mm_struct &child,
                                 unsigned long addr, uint64_t tag) {
  uint64_t x = 0xA000000000000000ull | tag, y = 0xC000000000000000ull | tag, got = 0;
  if (!cpu_access(env, parent, addr, 2, true, &x) || !cpu_access(env, child, addr, 2, false, &got))
    return false;
  if (got == x) report_violation("fork-leak", -1, "child read the parent's post-fork write");
  if (!cpu_access(env, child, addr, 3, true, &y) || !cpu_access(env, parent, addr, 3, false, &got))
    return false;
  if (got == y) report_violation("fork-leak", -1, "parent read the child's post-fork write");
  return true;
}

cell_result run_cell(const cell_spec &spec);

// Free mode, implemented in free.cc.
void run_free_group(const cell_spec &spec, std::vector<actor *> &actors, std::atomic<bool> &stop,
                    violation_sink &sink);

}  // namespace anonx::stress
