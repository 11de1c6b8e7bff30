// SPDX-License-Identifier: GPL-2.0-only
// negative_scenarios.cc: the scripted interleavings of negative_test, one
// per mutant of ANONX_MUTANTS (core/protocol.h), each the scenario the
// mutant breaks, and their table (tests/negative_rig.h). A scenario returns
// the outcome of one scripted run under the protocol it is given; the
// tests (tests/negative_test.cc, tests/negative_generations_test.cc) say
// which outcome each protocol must show.
#include <string>
#include <vector>

#include "negative_rig.h"

namespace anonx::test {
namespace {

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
// free must wait for the section; the until() entry is met when the table
// was freed while G was still inside. The correct protocol's run gives the
// free a 1 s window (a slower machine only holds it longer); a mutant's
// waits until the table is freed, at most reach_bound().
outcome munmap_vs_gup_fast(runtime_protocol p) {
  world w(p);
  w.anon_page(0, VM_READ | VM_WRITE, PTRS_PER_PTE);  // free_pgtables frees whole tables only
  auto *table = pte_table_of<stress_env>(w.mm, 0);
  enum { G, C };
  w.race({"G", "C"},
         {arrive(G, "B1"), run(C, "GO"), async(C, "FREE_PT"),
          until(
              "page table freed", [table] { return !table->in_use.load(); },
              p.mut == mutant::none ? 1000ms : reach_bound()),
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

}  // namespace

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

}  // namespace anonx::test
