// SPDX-License-Identifier: GPL-2.0-only
// negative_rig.h: what the scripted interleavings of the negative_test
// executable share (tests/negative*_test.cc, tests/negative_scenarios.cc,
// tests/step_scheduler_test.cc): a machine with a process and a child, the
// actors' envs, the race runner over tests/step_scheduler.h, the oracles a
// test checks itself, and the table of scenarios, one per mutant of
// ANONX_MUTANTS (core/protocol.h).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "anonx.h"
#include "run_env.h"
#include "step_scheduler.h"
#include "time_scale.h"

namespace anonx::test {

constexpr uint64_t kOld = 0x01d, kNew = 0x9e3, kDma = 0xd3a, kFile = 0xf11e, kEvil = 0xbad;

struct outcome {
  std::string sched;                   // the scheduler's verdict ("" = script ran to its end)
  std::string log;                     // grants and skips, for failure messages
  std::vector<std::string> forbidden;  // sink checks + the test's own oracles
  std::vector<int> met;                // per script entry: until / timed arrive results
  bool has(const std::string &k) const {
    return std::find(forbidden.begin(), forbidden.end(), k) != forbidden.end();
  }
  std::string describe() const {
    std::string s = "forbidden:";
    for (auto &f : forbidden) s += " " + f;
    if (!sched.empty()) s += "\n" + sched;
    return s + "\nschedule:\n" + log;
  }
};

// One machine, a process (mm) and a child for fork; the main thread is CPU 3,
// actors are CPUs 0..2.
struct world {
  runtime_protocol proto;
  machine m{4096, 2, 4};
  mm_struct mm{m};
  mm_struct child{m};
  violation_sink sink;
  cpu_stats stats[4];
  std::vector<std::string> oracle;
  std::vector<int> met;
  std::string sched, log;

  explicit world(runtime_protocol p) : proto(p) { this_cpu_report().sink = &sink; }
  ~world() { this_cpu_report().sink = nullptr; }
  world(const world &) = delete;
  world &operator=(const world &) = delete;

  stress_env env(unsigned cpu, step_hooks *h = nullptr) {
    stress_env e;
    e.proto = proto;
    e.m = &m;
    e.cpu = cpu;
    e.stats = &stats[cpu];
    e.hooks = h;
    return e;
  }
  stress_env main() { return env(3); }

  // The page mapped at addr (PTE or huge PMD), or nullptr.
  page *mapped_page(mm_struct &x, unsigned long addr) {
    const pmd_t pmd{x.pmd_offset(addr)->load(std::memory_order_acquire)};
    if (pmd_trans_huge(pmd)) return m.mem.pfn_to_page(pte_pfn(pmd) + pte_index(addr));
    if (!pmd_table(pmd)) return nullptr;
    auto &t = x.table_of(pmd);
    lock_guard<ptl_t> g(t.ptl);
    const pte_t pte{t.pte[pte_index(addr)].load(std::memory_order_relaxed)};
    return pte_present(pte) ? m.mem.pfn_to_page(pte_pfn(pte)) : nullptr;
  }
  // An anonymous private region [0, len) and its page at addr, written with
  // kOld (or read-faulted when the VMA is read-only).
  page *anon_page(unsigned long addr = 0, unsigned flags = VM_READ | VM_WRITE,
                  unsigned long len = 16) {
    auto e = main();
    mmap_region(e, mm, 0, len, flags);
    uint64_t v = kOld;
    if (!cpu_access(e, mm, addr, 0, (flags & VM_WRITE) != 0, &v))
      could_not_run("populate fault", addr);
    page *p = mapped_page(mm, addr);
    if (!p) could_not_run("populate: nothing mapped", addr);
    return p;
  }
  // Every access is checked: one that faults is not a lost write or a
  // stale read (a catch) but a script that could not run (a failure).
  uint64_t read(mm_struct &x, unsigned long addr, unsigned word) {
    auto e = main();
    uint64_t v = 0;
    if (!cpu_access(e, x, addr, word, false, &v)) could_not_run("read fault", addr);
    return v;
  }
  void write(mm_struct &x, unsigned long addr, unsigned word, uint64_t v) {
    auto e = main();
    if (!cpu_access(e, x, addr, word, true, &v)) could_not_run("write fault", addr);
  }
  // A whole PMD of written anon pages at [0, PTRS_PER_PTE): what khugepaged
  // collapses.
  void populated_pmd() {
    auto e = main();
    mmap_region(e, mm, 0, PTRS_PER_PTE, VM_READ | VM_WRITE);
    for (unsigned long a = 0; a < PTRS_PER_PTE; a++) write(mm, a, 0, a + 1);
  }
  // Accesses run on the actors' threads too.
  std::mutex broken_mu;
  std::string broken;
  void could_not_run(const char *what, unsigned long addr) {
    std::lock_guard<std::mutex> g(broken_mu);
    broken += std::string("could not run: ") + what + " at " + std::to_string(addr) + "\n";
  }

  // An actor's body: what it does on its own env.
  using body = std::function<void(stress_env &)>;

  // The GUP-fast pin actor: [label, then] pin_user_pages_fast of the page at
  // addr with flags; on success the page goes to out.
  body pinner(page *&out, unsigned flags, unsigned long addr = 0, const char *label = nullptr) {
    return [this, &out, flags, addr, label](stress_env &e) {
      if (label) e.at(label);
      page *pg = nullptr;
      if (pin_user_pages_fast(e, mm, addr, 1, flags, &pg) == 1) out = pg;
    };
  }
  // The process's write actor: WRITE, then kNew written at address 0 of mm.
  body writer() {
    return [this](stress_env &e) {
      e.at("WRITE");
      uint64_t v = kNew;
      if (!cpu_access(e, mm, 0, 0, true, &v)) could_not_run("the process's write", 0);
    };
  }

  // Runs the actors under the script; bodies[i] is actor i (CPU i).
  void race(std::vector<std::string> names, std::vector<step> script, std::vector<body> bodies) {
    const size_t n = script.size();
    step_scheduler s(std::move(names), std::move(script));
    std::vector<std::unique_ptr<actor_hooks>> hooks;
    std::vector<stress_env> envs;
    for (size_t i = 0; i < bodies.size(); i++) {
      hooks.push_back(std::make_unique<actor_hooks>(s, static_cast<int>(i)));
      envs.push_back(env(static_cast<unsigned>(i), hooks.back().get()));
    }
    std::vector<std::function<void()>> run;
    for (size_t i = 0; i < bodies.size(); i++)
      run.push_back([&, i] {
        bodies[i](envs[i]);
        envs[i].drain_store_buffer();
      });
    run_actors(s, sink, std::move(run));
    sched = s.verdict();
    log = s.log();
    for (size_t i = 0; i < n; i++) met.push_back(s.met(i));
  }

  // After the race: a committed pin must still be mapped where it was taken
  // (I2), a device write through it must reach the process (RW pins), and
  // unpin checks I1.
  void pin_aftermath(page *pinned, unsigned long addr, bool rw) {
    if (!pinned) return;
    if (mapped_page(mm, addr) != pinned) oracle.push_back("I2");
    if (rw) {
      m.mem.write_word(pinned->pfn, 1, kDma);
      if (read(mm, addr, 1) != kDma) oracle.push_back("data:dma-lost");
    }
    auto e = main();
    unpin_user_page(e, pinned);
  }

  outcome result() {
    auto e = main();
    check_mm(e, mm);
    check_mm(e, child);
    outcome o;
    o.sched = sched + broken;  // a script that could not run is never a catch
    o.log = log;
    o.met = met;
    for (auto &r : sink.records()) o.forbidden.push_back(r.check);
    for (auto &x : oracle) o.forbidden.push_back(x);
    return o;
  }
};

// How long a timed script entry (a timed arrive, an until) waits for an
// event the run expects, a mutant's actor reaching the step the correct
// protocol holds back: the event ends the wait, so only a run that fails
// waits it out. Below the scheduler's timeout, which scales alike.
inline std::chrono::milliseconds reach_bound() { return ::anonx::testing::scaled(2000ms); }

// ---- the mutant table (tests/negative_scenarios.cc) ------------------------------

struct scenario {
  mutant m;
  const char *expect;  // the forbidden outcome the mutant must show
  std::function<outcome(runtime_protocol)> run;
  // The script holds a GUP-fast IRQ-off section open across a clearer's
  // flush (or khugepaged's collapse): valid where that flush does not wait,
  // platform rcu; on x86 the flush IPI would wait for the section.
  bool rcu_only;
  // The first generation whose correct protocol passes the script: the bug
  // was open before (b2: 5.19's FOLL_COW rule; b10: no PMD re-check before
  // 6.0, on rcu).
  generation since = generation::v5_19;
  // The last generation where the script can run: from 6.1 khugepaged's
  // sync IPI waits for the section b10's script holds open across the
  // collapse (Generations.V6_1_CollapseWaitsForGupFastSection).
  generation until = generation::v6_2;
};

// Every mutant's scenario, in ANONX_MUTANTS order.
const std::vector<scenario> &scenarios();
// The scenario of m (one whose run is empty if m has none).
const scenario &scenario_of(mutant m);

// The protocol a script runs under: reorderings on, on rcu where the script
// holds a GUP-fast section across a flush.
inline runtime_protocol script_protocol(const scenario &s, generation g, mutant m,
                                        platform pl = platform::x86) {
  runtime_protocol p{g, m, true};
  p.plat = s.rcu_only ? platform::rcu : pl;
  return p;
}

}  // namespace anonx::test
