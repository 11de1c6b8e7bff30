// negative_test.cc: every mutant of ANONX_MUTANTS (core/protocol.h) replayed
// as a scripted interleaving (tests/step_scheduler.h) of the scenario it
// breaks, with the forbidden outcome asserted; the same script on the
// correct protocol (mutant none, same generation) must show none.
//
// Forbidden outcomes are the sink's named violations (I1, I9, I3,
// walk-of-freed-table, VM_BUG_ON:...) plus what the test checks itself:
//   I2                    a committed pin whose address no longer maps the page
//   data:dma-lost         a device write through a pin/ref the process never reads
//   data:pin-stale        a R/O pin that does not see the process's write
//   data:file-modified    a FOLL_FORCE write reached the page cache
//   data:pipe-sees-parent-write  vmsplice'd page changed by the parent after fork
//   data:lost-PG_referenced      a concurrent atomic flag update lost (B12)
//   table-freed-under-gup-fast   a page table freed inside a GUP-fast section
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include "anonx.h"
#include "step_scheduler.h"

namespace anonx::test {
namespace {

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

// ---- scenarios ---------------------------------------------------------------
// Each returns the outcome of one scripted run under protocol p. Scripts name
// actors by index; opt() marks steps the correct protocol does not reach.

// force_write_vs_zap (B1, B2): a FOLL_FORCE|FOLL_WRITE slow GUP (the
// /proc/self/mem write) on a R/O private file mapping: lookup, COW fault,
// then the COW'd anon copy is zapped (MADV_DONTNEED) before the retry. B1:
// the retry accepts the page-cache page it then faults in. B2
// (CVE-2022-2590): UFFDIO_CONTINUE maps the page-cache page again, R/O but
// dirty, and the retry (FOLL_COW set by the COW fault) follows it.
outcome force_write(runtime_protocol p, bool uffd_continue) {
  world w(p);
  auto e0 = w.main();
  page *file = w.m.mem.alloc_page(3, 0);  // a page-cache page (mapping 0: not anon)
  w.m.mem.write_word(file->pfn, 0, kFile);
  mmap_region(e0, w.mm, 0, 1, VM_READ, file->pfn);
  (void)w.read(w.mm, 0, 0);  // map it R/O
  enum { T, Z };
  std::vector<step> script = {run(T, "GUP_LOOKUP"), run(T, "GUP_FAULT"), run(Z, "ZAP"),
                              run(T, "GUP_LOOKUP")};
  w.race({"T", "Z"}, script,
         {[&](stress_env &e) {
            page *pg = nullptr;
            if (get_user_pages(e, w.mm, 0, 1, FOLL_FORCE | FOLL_WRITE, &pg) == 1) {
              w.m.mem.write_word(pg->pfn, 0, kEvil);  // the write through /proc/self/mem
              put_user_page(e, pg);
            }
          },
          [&](stress_env &e) {
            e.at("ZAP");
            madvise_dontneed(e, w.mm, 0, 1);
            if (uffd_continue) {  // UFFDIO_CONTINUE: the page-cache page, R/O but dirty
              (void)w.read(w.mm, 0, 0);
              auto *t = pte_table_of<stress_env>(w.mm, 0);
              lock_guard<ptl_t> g(t->ptl);
              auto *ptep = &t->pte[0];
              ptep->store(pte_mkdirty(pte_t{ptep->load(std::memory_order_relaxed)}).v,
                          std::memory_order_relaxed);
            }
          }});
  if (w.m.mem.read_word(file->pfn, 0) != kFile) w.oracle.push_back("data:file-modified");
  return w.result();
}

// vmsplice_cow (B3): fork shares P; the child vmsplice()s it (FOLL_GET) and
// unmaps it; the parent writes. The pipe must keep the old data.
outcome vmsplice_cow(runtime_protocol p) {
  world w(p);
  w.anon_page();
  page *spliced = nullptr;
  enum { F, V, W };
  w.race({"F", "V", "W"}, {run(F, "FORK"), run(V, "VMSPLICE"), run(V, "UNMAP"), run(W, "WRITE")},
         {[&](stress_env &e) { dup_mmap(e, w.child, w.mm); },
          [&](stress_env &e) {
            e.at("VMSPLICE");
            page *pg = nullptr;
            if (get_user_pages_fast(e, w.child, 0, 1, 0, &pg) == 1) spliced = pg;
            e.at("UNMAP");
            madvise_dontneed(e, w.child, 0, 16);
          },
          w.writer()});
  if (!spliced) {
    w.oracle.push_back("setup:vmsplice-got-no-page");
  } else {
    if (w.m.mem.read_word(spliced->pfn, 0) != kOld)
      w.oracle.push_back("data:pipe-sees-parent-write");
    auto e = w.main();
    put_user_page(e, spliced);
  }
  return w.result();
}

// wp_fault_vs_pin (B4): a long-term RW pin; the page becomes R/O while still
// exclusive (mprotect); the next write fault must reuse it, not copy.
outcome wp_fault_vs_pin(runtime_protocol p) {
  world w(p);
  w.anon_page();
  page *pinned = nullptr;
  enum { G, M, W };
  w.race({"G", "M", "W"}, {run(G, "SEQ"), run(M, "MPROTECT"), run(W, "WRITE")},
         {w.pinner(pinned, FOLL_WRITE | FOLL_LONGTERM | FOLL_FAST_ONLY),
          [&](stress_env &e) {
            e.at("MPROTECT");
            mprotect(e, w.mm, 0, 16, false);
            mprotect(e, w.mm, 0, 16, true);
          },
          w.writer()});
  if (!pinned) w.oracle.push_back("setup:no-pin");
  w.pin_aftermath(pinned, 0, true);
  return w.result();
}

// fork_vs_pin (B5): the parent pins P, forks, writes.
outcome fork_vs_pin(runtime_protocol p) {
  world w(p);
  w.anon_page();
  page *pinned = nullptr;
  enum { G, F, W };
  w.race({"G", "F", "W"}, {run(G, "SEQ"), run(F, "FORK"), run(W, "WRITE")},
         {w.pinner(pinned, FOLL_WRITE | FOLL_LONGTERM | FOLL_FAST_ONLY),
          [&](stress_env &e) { dup_mmap(e, w.child, w.mm); }, w.writer()});
  if (!pinned) w.oracle.push_back("setup:no-pin");
  if (w.read(w.child, 0, 0) != kOld) w.oracle.push_back("data:child-sees-parent-write");
  w.pin_aftermath(pinned, 0, true);
  return w.result();
}

// fork_vs_gup_fast (B6): GUP-fast samples write_protect_seq before fork,
// then runs (B1)..(B4) between fork's FORK_DUP (the flag goes, "not
// pinned") and FORK_WRPROTECT; its seqcount re-check must fail.
outcome fork_vs_gup_fast(runtime_protocol p) {
  world w(p);
  w.anon_page();
  set_bit(MMF_HAS_PINNED, &w.mm.flags);  // the process has pinned before
  page *pinned = nullptr;
  enum { G, F };
  w.race({"G", "F"},
         {run(G, "GO"), arrive(G, "B1"), run(F, "FORK"), run(F, "FORK_DUP"), run(G, "B1"),
          run(G, "B3"), run(G, "B4"), run(G, "SEQ"), run(F, "FORK_WRPROTECT")},
         {w.pinner(pinned, FOLL_WRITE | FOLL_FAST_ONLY, 0, "GO"),
          [&](stress_env &e) { dup_mmap(e, w.child, w.mm); }});
  w.write(w.mm, 0, 0, kNew);  // the parent writes after fork
  if (w.read(w.child, 0, 0) != kOld) w.oracle.push_back("data:child-sees-parent-write");
  w.pin_aftermath(pinned, 0, true);
  return w.result();
}

// swapout_vs_gup_fast (B7 x3, v5.19): C = shrink_page (try_to_unmap_one),
// G = GUP-fast pin. The SB pair (A1; mb; A2) vs (B3; mb; B4): one of them
// must see the other.
enum class swap_script { share_no_mb, no_recheck, pin_no_mb, v519 };
outcome swapout_vs_gup_fast(runtime_protocol p, swap_script which) {
  world w(p);
  page *P = w.anon_page();
  const bool ro = which == swap_script::pin_no_mb;  // R/O pin of a R/O exclusive page
  if (ro) {
    auto e = w.main();
    mprotect(e, w.mm, 0, 16, false);
  }
  page *pinned = nullptr;
  enum { C, G };
  std::vector<step> script;
  switch (which) {
    case swap_script::share_no_mb:  // (A1) buffered past (A2)
      script = {run(C, "A1"), run(C, "A2"), run(G, "B1"), opt(G, "B3"),
                opt(G, "B4"), run(C, "A3"), run(C, "A4"), run(G, "SEQ")};
      break;
    case swap_script::no_recheck:  // G read the PTE before (A1), pins after (A2)
      script = {run(G, "B1"), run(C, "A1"), run(C, "A2"), run(G, "B3"),
                run(G, "B4"), run(C, "A3"), run(C, "A4"), run(G, "SEQ")};
      break;
    case swap_script::pin_no_mb:  // (B3) buffered past (B4) and (A2)
      script = {arrive(C, "A1"), run(G, "B1"), run(G, "B3"), run(G, "B4"), run(C, "A1"),
                run(C, "A2"),    run(G, "B5"), opt(C, "A3"), opt(C, "A4"), run(G, "SEQ")};
      break;
    case swap_script::v519:  // G starts its IRQ-off section after (A1)
      script = {run(C, "A1"), run(G, "GO"), run(G, "B1"), run(C, "A2"), opt(G, "B3"),
                opt(G, "B4"), run(C, "A3"), run(C, "A4"), run(G, "SEQ")};
      break;
  }
  w.race({"C", "G"}, script,
         {[&](stress_env &e) { shrink_page(e, P); },
          w.pinner(pinned, (ro ? 0u : FOLL_WRITE) | FOLL_FAST_ONLY, 0, "GO")});
  w.pin_aftermath(pinned, 0, !ro);
  return w.result();
}

// ksm_vs_gup_fast, same-value PTE (B8): a R/O, clean, exclusive page; KSM's
// (A4) writes back the identical PTE, so only the MP pair (A3; wmb; A4) vs
// (B4; rmb; B5) keeps GUP-fast from pinning it. C is ksm_merge with a label
// between write_protect_page and replace_page.
bool ksm_merge_labelled(stress_env &e, mm_struct &mm, unsigned long addr, page *P, page *kpage) {
  get_page(P);
  bool ok = false;
  if (trylock_page(P)) {
    pte_t orig;
    const bool wp = write_protect_page(e, mm, addr, P, &orig);
    e.at("WP_DONE");
    ok = wp && replace_page(e, mm, addr, P, kpage, orig);
    unlock_page(P);
  }
  e.put_page(P);
  return ok;
}
outcome ksm_vs_gup_fast_same_pte(runtime_protocol p) {
  world w(p);
  page *P = w.anon_page(0, VM_READ);  // read fault: R/O, clean, exclusive
  auto e0 = w.main();
  page *kpage = ksm_new_stable_page(e0, P->pfn, 1);
  page *pinned = nullptr;
  enum { G, C };
  w.race({"G", "C"},
         {run(G, "B1"), run(C, "A1"), run(C, "A2"), run(G, "B3"), opt(C, "A3"), run(C, "A4"),
          run(G, "B4"), run(G, "B5"), opt(C, "A3"), run(G, "SEQ"), run(C, "WP_DONE")},
         {w.pinner(pinned, FOLL_FAST_ONLY),
          [&](stress_env &e) { ksm_merge_labelled(e, w.mm, 0, P, kpage); }});
  w.pin_aftermath(pinned, 0, false);
  return w.result();
}

// ksm_vs_gup_fast, pinned page: G pins P (its (B4) passes before KSM's
// (A1)); write_protect_page must refuse the extra reference.
outcome ksm_merge_pinned(runtime_protocol p) {
  world w(p);
  page *P = w.anon_page();
  auto e0 = w.main();
  page *kpage = ksm_new_stable_page(e0, P->pfn, 1);
  page *pinned = nullptr;
  enum { G, C };
  w.race({"G", "C"},
         {run(G, "B1"), run(G, "B3"), run(G, "B4"), run(C, "A1"), opt(C, "A3"), opt(C, "A4"),
          run(G, "SEQ")},
         {w.pinner(pinned, FOLL_WRITE | FOLL_FAST_ONLY),
          [&](stress_env &e) { ksm_merge(e, w.mm, 0, kpage); }});
  if (!pinned) w.oracle.push_back("setup:no-pin");
  w.pin_aftermath(pinned, 0, true);
  return w.result();
}

// migrate_vs_gup_fast (B9): migration clears the flag before (A1); G pins in
// between (its (B4) sees the old PTE).
outcome migrate_vs_gup_fast(runtime_protocol p) {
  world w(p);
  page *P = w.anon_page();
  page *pinned = nullptr;
  enum { C, G };
  w.race(
      {"C", "G"},
      {opt(C, "A3"), run(G, "B1"), run(G, "B3"), run(G, "B4"), run(G, "SEQ"), run(C, "A1"),
       opt(C, "A2"), opt(C, "A4")},
      {[&](stress_env &e) { migrate_page(e, P); }, w.pinner(pinned, FOLL_WRITE | FOLL_FAST_ONLY)});
  if (!pinned) w.oracle.push_back("setup:no-pin");
  w.pin_aftermath(pinned, 0, true);
  return w.result();
}

// thp_collapse_vs_gup_fast (B10): G read the PMD (a PTE table) and the PTE;
// khugepaged flushes the PMD and checks the references; G pins in the window
// before the copy (COLLAPSE_COPY); its (B4) must see the PMD change.
outcome collapse_vs_gup_fast(runtime_protocol p) {
  world w(p);
  w.populated_pmd();
  page *pinned = nullptr;
  enum { G, C };
  w.race({"G", "C"},
         {run(G, "B1"), run(C, "COLLAPSE"), run(G, "B3"), run(G, "B4"), run(G, "SEQ"),
          run(C, "COLLAPSE_COPY")},
         {w.pinner(pinned, FOLL_WRITE | FOLL_FAST_ONLY, 5), [&](stress_env &e) {
            if (!collapse_huge_page(e, w.mm, 0)) w.oracle.push_back("setup:collapse-failed");
          }});
  w.pin_aftermath(pinned, 5, true);
  return w.result();
}

// swap_getref_odirect (B11): an O_DIRECT read holds a FOLL_GET|FOLL_WRITE
// reference; swap-out succeeds (no pin); the process writes (swap-in); the
// device's write must land in the page the process maps.
outcome swap_getref_odirect(runtime_protocol p) {
  world w(p);
  page *P = w.anon_page();
  page *ref = nullptr;
  enum { G, C, W };
  w.race({"G", "C", "W"}, {run(G, "SEQ"), run(C, "A1"), run(C, "A4"), run(W, "WRITE")},
         {[&](stress_env &e) {
            page *pg = nullptr;
            if (get_user_pages_fast(e, w.mm, 0, 1, FOLL_WRITE | FOLL_FAST_ONLY, &pg) == 1) ref = pg;
          },
          [&](stress_env &e) { shrink_page(e, P); }, w.writer()});
  if (!ref) {
    w.oracle.push_back("setup:no-ref");
  } else {
    w.m.mem.write_word(ref->pfn, 1, kDma);  // the O_DIRECT read completes
    if (w.read(w.mm, 0, 1) != kDma) w.oracle.push_back("data:dma-lost");
    auto e = w.main();
    put_user_page(e, ref);
  }
  return w.result();
}

// flags_lock_vs_exclusive (B12): swap-out's (A3) clears the flag while
// another CPU sets PG_referenced (mark_page_accessed) on the same word.
outcome flags_vs_exclusive(runtime_protocol p) {
  world w(p);
  page *P = w.anon_page();
  get_page(P);  // keep it allocated for the final check
  enum { C, L };
  w.race({"C", "L"}, {arrive(C, "B12_RMW", true), run(L, "SET"), opt(C, "B12_RMW")},
         {[&](stress_env &e) { shrink_page(e, P); },
          [&](stress_env &e) {
            e.at("SET");
            SetPageReferenced(P);
          }});
  if (!PageReferenced(P)) w.oracle.push_back("data:lost-PG_referenced");
  auto e = w.main();
  e.put_page(P);
  return w.result();
}

// R/O pin of a shared anon page (fork_vs_gup_fast, wp_fault_vs_pin): after
// fork, a R/O pin must unshare first; then the parent's write must be seen
// through the pin.
outcome ro_pin_after_fork(runtime_protocol p) {
  world w(p);
  w.anon_page();
  page *pinned = nullptr;
  enum { F, G, W };
  w.race({"F", "G", "W"},
         {run(F, "FORK"), run(G, "GO"), opt(G, "B5"), run(G, "SEQ"), run(W, "WRITE")},
         {[&](stress_env &e) { dup_mmap(e, w.child, w.mm); }, w.pinner(pinned, 0, 0, "GO"),
          w.writer()});
  if (!pinned) {
    w.oracle.push_back("setup:no-pin");
  } else if (w.m.mem.read_word(pinned->pfn, 0) != kNew) {
    w.oracle.push_back("data:pin-stale");
  }
  if (w.read(w.child, 0, 0) != kOld) w.oracle.push_back("data:child-sees-parent-write");
  w.pin_aftermath(pinned, 0, false);
  return w.result();
}

// thp_split_vs_pin: a RW pin of a subpage of a PMD-mapped THP; the PMD is
// split; every subpage must inherit the head's flag (I9).
outcome thp_split_vs_pin(runtime_protocol p) {
  world w(p);
  auto e0 = w.main();
  mmap_region(e0, w.mm, 0, PTRS_PER_PTE, VM_READ | VM_WRITE | VM_HUGEPAGE);
  w.write(w.mm, 0, 0, kOld);
  if (!pmd_trans_huge(pmd_t{w.mm.pmd_offset(0)->load()})) w.oracle.push_back("setup:no-thp");
  page *pinned = nullptr;
  enum { G, S };
  w.race({"G", "S"}, {run(G, "SEQ"), run(S, "SPLIT")},
         {w.pinner(pinned, FOLL_WRITE | FOLL_FAST_ONLY, 5), [&](stress_env &e) {
            mmap_read_guard g(w.mm.mmap_lock);
            __split_huge_pmd(e, w.mm, 0);
          }});
  if (!pinned) w.oracle.push_back("setup:no-pin");
  w.pin_aftermath(pinned, 5, true);
  return w.result();
}

// munmap_vs_gup_fast: G has read the PMD (a PTE table) and is about to read
// the PTE inside its IRQ-off section; munmap zaps and frees the table. The
// free must wait for the section (the until() entry gives it 1 s; met means
// the table was freed while G was still inside).
outcome munmap_vs_gup_fast(runtime_protocol p) {
  world w(p);
  w.anon_page(0, VM_READ | VM_WRITE, PTRS_PER_PTE);  // free_pgtables frees whole tables only
  auto *table = pte_table_of<stress_env>(w.mm, 0);
  enum { G, C };
  w.race({"G", "C"},
         {arrive(G, "B1"), run(C, "GO"), async(C, "FREE_PT"),
          until(
              "page table freed", [table] { return !table->in_use.load(); }, 1000ms),
          run(G, "B1")},
         {[&](stress_env &e) {
            page *pg = nullptr;
            if (pin_user_pages_fast(e, w.mm, 0, 1, FOLL_WRITE | FOLL_FAST_ONLY, &pg) == 1) {
              auto e3 = w.main();
              unpin_user_page(e3, pg);
            }
          },
          [&](stress_env &e) {
            e.at("GO");
            do_munmap(e, w.mm, 0, PTRS_PER_PTE);
          }});
  if (w.met.size() > 3 && w.met[3] == 1) w.oracle.push_back("table-freed-under-gup-fast");
  return w.result();
}

// ---- the mutant table ----------------------------------------------------------

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

const std::vector<scenario> &scenarios() {
  static const std::vector<scenario> s = {
      {mutant::b1_force_write_after_cow, "data:file-modified",
       [](runtime_protocol p) { return force_write(p, false); }, false},
      {mutant::b2_force_write_dirty, "data:file-modified",
       [](runtime_protocol p) { return force_write(p, true); }, false, generation::v6_0},
      {mutant::b3_reuse_mapcount1, "data:pipe-sees-parent-write", vmsplice_cow, false},
      {mutant::b4_no_exclusive_reuse, "I2", wp_fault_vs_pin, false},
      {mutant::b5_fork_ignores_pins, "I2", fork_vs_pin, false},
      {mutant::b6_gup_fast_no_seqcount, "I1", fork_vs_gup_fast, false},
      {mutant::b7_share_no_mb, "I1",
       [](runtime_protocol p) { return swapout_vs_gup_fast(p, swap_script::share_no_mb); }, true},
      {mutant::b7_gup_fast_no_recheck, "I1",
       [](runtime_protocol p) { return swapout_vs_gup_fast(p, swap_script::no_recheck); }, true},
      {mutant::b7_pin_no_mb, "I1",
       [](runtime_protocol p) { return swapout_vs_gup_fast(p, swap_script::pin_no_mb); }, true},
      {mutant::b8_no_wmb_rmb, "I1", ksm_vs_gup_fast_same_pte, true},
      {mutant::b9_migrate_clear_early, "I1", migrate_vs_gup_fast, false},
      {mutant::b10_recheck_pte_only, "I2", collapse_vs_gup_fast, true, generation::v6_0,
       generation::v6_0},
      {mutant::b11_no_swp_exclusive, "data:dma-lost", swap_getref_odirect, false},
      {mutant::b12_nonatomic_flag, "data:lost-PG_referenced", flags_vs_exclusive, false},
      {mutant::ro_pin_no_unshare, "I1", ro_pin_after_fork, false},
      {mutant::thp_split_drops_flag, "I9", thp_split_vs_pin, false},
      {mutant::v519_flush_no_wait, "I1",
       [](runtime_protocol p) { return swapout_vs_gup_fast(p, swap_script::v519); }, false},
      {mutant::pt_free_no_ipi, "walk-of-freed-table", munmap_vs_gup_fast, false},
      {mutant::ksm_merge_pinned, "I1", ksm_merge_pinned, false},
  };
  return s;
}

const scenario &scenario_of(mutant m) {
  for (auto &s : scenarios())
    if (s.m == m) return s;
  static scenario none{};
  return none;
}

TEST(NegativeTable, EveryMutantHasAScenario) {
  ASSERT_EQ(scenarios().size(), kNrMutants);
  for (const auto &mi : kMutants) EXPECT_TRUE(scenario_of(mi.id).run) << mi.name;
}

// The protocol a script runs under: reorderings on, on rcu where the script
// holds a GUP-fast section across a flush.
runtime_protocol script_protocol(const scenario &s, generation g, mutant m,
                                 platform pl = platform::x86) {
  runtime_protocol p{g, m, true};
  p.plat = s.rcu_only ? platform::rcu : pl;
  return p;
}

class Negative : public ::testing::TestWithParam<mutant> {};

// The mutant, on its base generation, with the scripted reorderings: the
// forbidden outcome must be observed.
TEST_P(Negative, Caught) {
  const mutant m = GetParam();
#ifdef ANONX_TSAN
  if (m == mutant::b12_nonatomic_flag)
    GTEST_SKIP() << "b12's plain read-modify-write of page->flags is a deliberate data race "
                    "that ThreadSanitizer reports; a separate TSan-only test covers it";
#endif
  const scenario &s = scenario_of(m);
  ASSERT_TRUE(s.run);
  const outcome o = s.run(script_protocol(s, info(m).base, m));
  if (getenv("NEGATIVE_VERBOSE")) std::cout << o.describe();
  ASSERT_EQ(o.sched, "") << o.describe();
  EXPECT_TRUE(o.has(s.expect)) << mutant_name(m) << " must show " << s.expect << "\n"
                               << o.describe();
}

// The same script on the correct protocol of the same generation: nothing
// forbidden, no violation of any kind.
TEST_P(Negative, CorrectIsSafe) {
  const mutant m = GetParam();
  const scenario &s = scenario_of(m);
  ASSERT_TRUE(s.run);
  const outcome o = s.run(script_protocol(s, info(m).base, mutant::none));
  if (getenv("NEGATIVE_VERBOSE")) std::cout << o.describe();
  ASSERT_EQ(o.sched, "") << o.describe();
  EXPECT_TRUE(o.forbidden.empty()) << o.describe();
}

std::vector<mutant> all_mutants() {
  std::vector<mutant> v;
  for (const auto &mi : kMutants) v.push_back(mi.id);
  return v;
}

INSTANTIATE_TEST_SUITE_P(All, Negative, ::testing::ValuesIn(all_mutants()),
                         [](const ::testing::TestParamInfo<mutant> &i) {
                           return std::string(mutant_name(i.param));
                         });

// ---- generations ---------------------------------------------------------------

// Every generation with the flag, on both platforms, mutant none: every
// script valid there (its platform; the generation has the fix) runs
// without a single violation.
void run_generation(generation g) {
  for (const auto pl : kPlatforms)
    for (const auto &s : scenarios()) {
      if ((s.rcu_only && pl != platform::rcu) || g < s.since || g > s.until) continue;
      const outcome o = s.run(script_protocol(s, g, mutant::none, pl));
      const std::string what = std::string(generation_name(g)) + " " + platform_name(pl) + " " +
                               mutant_name(s.m) + "'s script\n";
      EXPECT_EQ(o.sched, "") << what << o.describe();
      EXPECT_TRUE(o.forbidden.empty()) << what << o.describe();
    }
}
TEST(Generations, V5_19_NoViolations) { run_generation(generation::v5_19); }
TEST(Generations, V6_0_NoViolations) { run_generation(generation::v6_0); }
TEST(Generations, V6_1_NoViolations) { run_generation(generation::v6_1); }
TEST(Generations, V6_2_NoViolations) { run_generation(generation::v6_2); }

// The bugs each generation still had, on the scripts of the mutants that
// replay them: 5.19 follows a dirty R/O PTE after a COW (B2,
// CVE-2022-2590), and on RCU-table platforms re-checks the PTE only (B10).
TEST(Generations, V5_19_HasTheBugsOfItsTime) {
  const scenario &b2 = scenario_of(mutant::b2_force_write_dirty);
  const outcome o2 = b2.run(script_protocol(b2, generation::v5_19, mutant::none));
  ASSERT_EQ(o2.sched, "") << o2.describe();
  EXPECT_TRUE(o2.has(b2.expect)) << o2.describe();
  const scenario &b10 = scenario_of(mutant::b10_recheck_pte_only);
  const outcome o10 = b10.run(script_protocol(b10, generation::v5_19, mutant::none));
  ASSERT_EQ(o10.sched, "") << o10.describe();
  EXPECT_TRUE(o10.has(b10.expect)) << o10.describe();
}

// v5.19's clearer waits in (A1) for a GUP-fast section that read the old PTE:
// G reads the PTE, C clears it (async: C may block), C gets 500 ms to reach
// (A2) (timed arrive), then G pins and re-checks. Correct v5.19: C is held
// until G's section ends (the arrive times out), G's (B4) sees the cleared
// PTE and backs off. v519_flush_no_wait: C does not wait (the arrive is met).
outcome v519_wait_demo(runtime_protocol p, page **pinned_out) {
  world w(p);
  page *P = w.anon_page();
  page *pinned = nullptr;
  enum { C, G };
  w.race(
      {"C", "G"},
      {run(G, "B1"), async(C, "A1"), arrive(C, "A2", false, 500ms), run(G, "B3"), run(G, "B4"),
       run(G, "SEQ"), run(C, "A2"), opt(C, "A3"), opt(C, "A4")},
      {[&](stress_env &e) { shrink_page(e, P); }, w.pinner(pinned, FOLL_WRITE | FOLL_FAST_ONLY)});
  *pinned_out = pinned;
  w.pin_aftermath(pinned, 0, true);
  return w.result();
}
TEST(Generations, V5_19_ClearerWaitsForGupFastSection) {
  page *pinned = nullptr;
  const outcome o = v519_wait_demo({generation::v5_19, mutant::none, true}, &pinned);
  ASSERT_EQ(o.sched, "") << o.describe();
  EXPECT_EQ(o.met[2], 0) << "the clearer reached (A2) while GUP-fast was inside its section\n"
                         << o.describe();
  EXPECT_EQ(pinned, nullptr) << "GUP-fast's (B4) must see the cleared PTE";
  EXPECT_TRUE(o.forbidden.empty()) << o.describe();

  const outcome n = v519_wait_demo({generation::v5_19, mutant::v519_flush_no_wait, true}, &pinned);
  ASSERT_EQ(n.sched, "") << n.describe();
  EXPECT_EQ(n.met[2], 1) << "v519_flush_no_wait must not wait for the section\n" << n.describe();
}

// khugepaged's wait for GUP-fast (deviation 1 of the fidelity review): G
// reads the PMD (B1) and stays in its IRQ-off section; C collapses (async:
// C may block) and gets 500 ms to reach its reference check
// (COLLAPSE_COPY, timed arrive); then G pins. On x86 the collapse flush's
// IPI waits for G; on rcu only 6.1's tlb_remove_table_sync_one() does: 6.0
// on rcu goes on (the B10 window, closed there by the PMD re-check alone).
outcome collapse_wait_demo(runtime_protocol p) {
  world w(p);
  w.populated_pmd();
  page *pinned = nullptr;
  enum { G, C };
  w.race({"G", "C"},
         {run(G, "B1"), async(C, "COLLAPSE"), arrive(C, "COLLAPSE_COPY", false, 500ms),
          run(G, "B3"), run(G, "B4"), run(G, "SEQ"), opt(C, "COLLAPSE_COPY")},
         {w.pinner(pinned, FOLL_WRITE | FOLL_FAST_ONLY, 5),
          [&](stress_env &e) { collapse_huge_page(e, w.mm, 0); }});
  w.pin_aftermath(pinned, 5, true);
  return w.result();
}
TEST(Generations, V6_1_CollapseWaitsForGupFastSection) {
  struct {
    generation g;
    platform pl;
    bool waits;
  } cases[] = {{generation::v6_0, platform::x86, true},
               {generation::v6_0, platform::rcu, false},
               {generation::v6_1, platform::rcu, true},
               {generation::v6_2, platform::rcu, true},
               {generation::v6_2, platform::x86, true}};
  for (const auto &c : cases) {
    runtime_protocol p{c.g, mutant::none, true};
    p.plat = c.pl;
    const outcome o = collapse_wait_demo(p);
    const std::string what = std::string(generation_name(c.g)) + " " + platform_name(c.pl);
    ASSERT_EQ(o.sched, "") << what << "\n" << o.describe();
    EXPECT_EQ(o.met[2], c.waits ? 0 : 1)
        << what
        << (c.waits ? ": the collapse reached its reference check while GUP-fast was "
                      "inside its section"
                    : ": the collapse waited for GUP-fast")
        << "\n"
        << o.describe();
    EXPECT_TRUE(o.forbidden.empty()) << what << "\n" << o.describe();
  }
}

// ---- the scheduler itself ------------------------------------------------------

TEST(StepScheduler, EnforcesTheScriptOrder) {
  std::vector<std::string> order;
  std::mutex mu;
  step_scheduler s({"A", "B"}, {run(1, "x"), run(0, "x"), run(1, "y"), run(0, "y")});
  violation_sink sink;
  auto body = [&](int me) {
    return [&, me] {
      for (const char *l : {"x", "y"}) {
        s.at(me, l);
        std::lock_guard<std::mutex> g(mu);
        order.push_back(std::string(me ? "B" : "A") + l);
      }
    };
  };
  run_actors(s, sink, {body(0), body(1)});
  EXPECT_EQ(s.verdict(), "");
  EXPECT_EQ(order, (std::vector<std::string>{"Bx", "Ax", "By", "Ay"}));
}

TEST(StepScheduler, ReportsADeviation) {
  step_scheduler s({"A"}, {run(0, "y"), run(0, "x")});
  violation_sink sink;
  run_actors(s, sink, {[&] {
               s.at(0, "x");
               s.at(0, "y");
             }});
  EXPECT_NE(s.verdict().find("A reached x but the script expects A:y"), std::string::npos)
      << s.verdict();
}

TEST(StepScheduler, ReportsATimeoutInsteadOfHanging) {
  // B's step spins until A has passed z, but the script wants B's step done
  // before A's z: a deadlock the timeout must break and name.
  std::atomic<bool> go{false};
  step_scheduler s({"A", "B"}, {run(1, "x"), run(0, "z")}, 200ms);
  violation_sink sink;
  run_actors(s, sink,
             {[&] {
                s.at(0, "z");
                go = true;
              },
              [&] {
                s.at(1, "x");
                for (int i = 0; i < 10000 && !go; i++) std::this_thread::sleep_for(1ms);
              }});
  EXPECT_NE(s.verdict().find("timeout"), std::string::npos) << s.verdict();
  EXPECT_NE(s.verdict().find("A blocked at z"), std::string::npos) << s.verdict();
}

TEST(StepScheduler, RequiredEntryOfAFinishedActorFails) {
  step_scheduler s({"A"}, {run(0, "never")});
  violation_sink sink;
  run_actors(s, sink, {[] {}});
  EXPECT_NE(s.verdict().find("finished before reaching A:never"), std::string::npos) << s.verdict();
}

}  // namespace
}  // namespace anonx::test
