// SPDX-License-Identifier: GPL-2.0-only
// scenarios.cc: the threaded implementation of the registry's presets
// (harness/registry.cc names them, says what they race and which mutants
// each is meant to expose). Each lockstep scenario is a litmus test of two
// (or more) kernel paths racing on one page, with its outcomes graded and
// its oracles named.
//
// Roles run their step concurrently after a rendezvous; role 0 then checks
// (oracles, data) and resets the page to the scenario's start state.
// Set-up shortcuts that stand for a kernel mechanism are named where used.
#include <cinttypes>
#include <stdexcept>

#include "coverage.h"
#include "stress.h"

namespace anonx::stress {
namespace {

constexpr unsigned long A = 3;              // the page under test (first PMD)
constexpr unsigned long THP_BASE = 512;     // second PMD: THP scenarios
constexpr unsigned long UNMAP_BASE = 1024;  // third PMD: munmap scenario

// Every access of a scenario is checked: one that faults marks the
// iteration INCONCLUSIVE (the runner grades it; violations its check()
// reports are then dropped), never a lost write or a stale read.
bool store(actor &a, mm_struct &mm, unsigned long addr, unsigned word, uint64_t v) {
  if (cpu_access(a.env, mm, addr, word, true, &v)) return true;
  a.access_failed = true;
  return false;
}
uint64_t load(actor &a, mm_struct &mm, unsigned long addr, unsigned word) {
  uint64_t v = ~0ull;
  if (!cpu_access(a.env, mm, addr, word, false, &v)) a.access_failed = true;
  return v;
}

// I2: a committed pin on p obtained via addr: the process still maps p there.
bool check_pin_mapped(mm_struct &mm, unsigned long addr, page *p, const char *what) {
  if (mapped_pfn(mm, addr) == static_cast<long>(p->pfn)) return true;
  report_violation("I2", p->pfn,
                   std::string(what) + ": pinned page no longer mapped at its address");
  return false;
}

// A DMA write through a pin must be read by the process at that address.
bool check_dma_visible(actor &a, mm_struct &mm, unsigned long addr, page *p, unsigned word,
                       uint64_t token) {
  a.env.m->mem.write_word(p->pfn, word, token);
  if (load(a, mm, addr, word) == token || a.access_failed) return true;
  report_violation("I2-data", p->pfn, "DMA write through a pin not seen by the process");
  return false;
}

// A set-up edit of the present PTE at addr, under its PT lock: edit(pte)
// is the new entry. Stands for a kernel mechanism each caller names.
template <class Edit>
void edit_present_pte(mm_struct &mm, unsigned long addr, Edit edit) {
  auto *table = pte_table_of<stress_env>(mm, addr);
  if (!table) return;
  lock_guard<ptl_t> ptl(table->ptl);
  auto *ptep = &table->pte[pte_index(addr)];
  const pte_t pte{ptep->load(std::memory_order_relaxed)};
  if (pte_present(pte)) ptep->store(edit(pte).v, std::memory_order_release);
}

// Page-table manipulation standing for clear_refs (soft-dirty) plus
// writeback cleaning: the exclusive page stays, its PTE becomes R/O and clean.
void make_pte_ro_clean(mm_struct &mm, unsigned long addr) {
  edit_present_pte(mm, addr, [](pte_t pte) { return pte_mkclean(pte_wrprotect(pte)); });
}

// The swap scenarios race both kinds of swap device: a SWP_SYNCHRONOUS_IO
// one (zram, pmem), where a swap-in of a slot with one swap PTE bypasses the
// swap cache, and a disk, where every swap-in goes through it. Set by role 0
// in reset(), so the kind is fixed for the iteration (the kernel's is fixed
// at swapon); the rendezvous orders it before the other roles' faults.
void alternate_swap_device(actor &a, bool synchronous) {
  a.env.m->swap.set_synchronous_io(synchronous);
}

outcome pick(bool x, bool y, const char *both, const char *only_x, const char *only_y,
             const char *none, grade both_grade = grade::forbidden) {
  if (x && y) return {both, both_grade};
  if (x) return {only_x, grade::acceptable};
  if (y) return {only_y, grade::acceptable};
  return {none, grade::interesting};
}

// Base: a scenario's machine and its one mm, torn down with the mm.
struct mm_instance : lockstep_instance {
  machine &m;
  mm_struct mm;
  explicit mm_instance(machine &mach) : m(mach), mm(mach) {}
  void teardown(actor &a) override { exit_mmap(a.env, mm); }
};

// Base: one mm with an anon RW VMA over the first PMD, page A written.
struct one_page : mm_instance {
  page *p = nullptr;
  using mm_instance::mm_instance;
  void setup(actor &a) override {
    mmap_region(a.env, mm, 0, 64, VM_READ | VM_WRITE);
    one_page::reset(a);  // not the derived reset: setup() of each scenario prepares the rest
  }
  void reset(actor &a) override {
    store(a, mm, A, 1, a.iteration);  // faults in or swaps in; exclusive and writable
    p = page_at(a, mm, A);
    if (!p) a.access_failed = true;
  }
};

// ---- swap-out and migration against GUP-fast (B7, B9) ----------------------

template <bool Migrate>
struct clearer_vs_gup_fast final : one_page {
  using one_page::one_page;
  const char *align_label(unsigned role) const override { return role == 0 ? "A1" : "B1"; }
  // Odd rounds: the exclusive page behind a R/O clean PTE and a R/O pin, so
  // that nothing locked sits between the clearer's (A1) and (A2)
  // (SetPageDirty is a locked RMW, a full barrier on x86).
  // Swap-out: the device kind alternates every two rounds, so that both
  // kinds meet both pin kinds.
  void reset(actor &a) override {
    if (!Migrate) alternate_swap_device(a, a.iteration & 2);
    one_page::reset(a);
    if (a.iteration & 1) make_pte_ro_clean(mm, A);
  }
  bool cleared = false, pinned = false;
  page *pin = nullptr;
  void step(actor &a) override {
    if (a.role == 0) {
      cleared = p && (Migrate ? migrate_page(a.env, p) : shrink_page(a.env, p));
    } else {
      // R/W and R/O pins alternate; GUP-fast only (the slow path would
      // simply fault the page back).
      const unsigned flags = ((a.iteration & 1) ? 0u : FOLL_WRITE) | FOLL_FAST_ONLY | FOLL_LONGTERM;
      pinned = pin_user_pages_fast(a.env, mm, A, 1, flags, &pin) == 1;
    }
  }
  outcome check(actor &a) override {
    // A pin of the page that replaced p (migrated first, pinned after) is
    // fine; a pin of p itself with p unmapped is the forbidden outcome.
    const bool old = pinned && pin == p;
    if (pinned) {
      check_pin_mapped(mm, A, pin, harness::name_of(Migrate ? harness::scenario_id::migrate_vs_gup_fast : harness::scenario_id::swapout_vs_gup_fast));
      check_dma_visible(a, mm, A, pin, 0, a.iteration);
      unpin_user_page(a.env, pin);
    }
    if (pinned && cleared && !old)
      return {Migrate ? "migrated-then-pinned-new" : "swapped-then-pinned-new", grade::acceptable};
    return pick(pinned, cleared, "pinned+unmapped", "pinned", Migrate ? "migrated" : "swapped",
                "both-backed-off");
  }
};

// ---- KSM against a R/O pin (B8: same-value PTE, MP pair) -------------------

struct ksm_vs_gup_fast final : one_page {
  const char *align_label(unsigned role) const override { return role == 0 ? "A1" : "B1"; }
  page *kpage = nullptr;
  bool merged = false, pinned = false;
  page *pin = nullptr;
  using one_page::one_page;
  void setup(actor &a) override {
    mmap_region(a.env, mm, 0, 64, VM_READ | VM_WRITE);
    store(a, mm, A, 0, 0);
    kpage = ksm_new_stable_page(a.env, page_at(a, mm, A)->pfn, 1);
    reset(a);
  }
  void reset(actor &a) override {
    store(a, mm, A, 0, 0);  // from the KSM page: a COW copy, exclusive
    make_pte_ro_clean(mm, A);
    p = page_at(a, mm, A);
  }
  void step(actor &a) override {
    if (a.role == 0)
      merged = ksm_merge(a.env, mm, A, kpage);
    else
      pinned = pin_user_pages_fast(a.env, mm, A, 1, FOLL_FAST_ONLY | FOLL_LONGTERM, &pin) == 1;
  }
  outcome check(actor &a) override {
    if (pinned) {
      check_pin_mapped(mm, A, pin, harness::name_of(harness::scenario_id::ksm_vs_gup_fast));
      unpin_user_page(a.env, pin);
    }
    return pick(pinned, merged, "pinned+merged", "pinned", "merged", "both-backed-off");
  }
  void owned(std::vector<owned_ref> &out) const override { out.push_back({kpage, 1}); }
  void teardown(actor &a) override {
    one_page::teardown(a);
    a.env.put_page(kpage);
  }
};

// ---- fork against GUP-fast (B6, R/O pins: unsharing) -----------------------

struct fork_base : one_page {
  std::unique_ptr<mm_struct> child;
  page *pin = nullptr;  // a scenario's pin; one still held at teardown is released
  using one_page::one_page;
  void new_child(actor &a) {
    if (child) exit_mmap(a.env, *child);
    child = std::make_unique<mm_struct>(m);
  }
  // Each round starts from: a fresh child mm, the page written (exclusive,
  // writable), then the scenario's own preparation.
  virtual void prepare(actor &) {}
  void setup(actor &a) override {
    one_page::setup(a);
    new_child(a);
    prepare(a);
  }
  void reset(actor &a) override {
    new_child(a);
    one_page::reset(a);
    prepare(a);
  }
  void check_isolation(actor &a) {
    if (!check_fork_isolation(a.env, mm, *child, A, a.iteration)) a.access_failed = true;
  }
  void teardown(actor &a) override {
    if (pin) unpin_user_page(a.env, pin);
    if (child) exit_mmap(a.env, *child);
    one_page::teardown(a);
  }
};

struct fork_vs_gup_fast final : fork_base {
  using fork_base::fork_base;
  bool pinned = false;
  const char *align_label(unsigned role) const override { return role == 0 ? "FORK_DUP" : "B1"; }
  void step(actor &a) override {
    if (a.role == 0) {
      dup_mmap(a.env, *child, mm);
    } else {
      const unsigned flags = ((a.iteration & 1) ? 0u : FOLL_WRITE) | FOLL_FAST_ONLY;
      pinned = pin_user_pages_fast(a.env, mm, A, 1, flags, &pin) == 1;
      // A walk undone after the seqcount moved has written pages[0]: not a pin.
      if (!pinned) pin = nullptr;
    }
  }
  outcome check(actor &a) override {
    bool shared = false;
    if (pinned) {
      check_pin_mapped(mm, A, pin, harness::name_of(harness::scenario_id::fork_vs_gup_fast));
      shared = mapped_pfn(*child, A) == static_cast<long>(pin->pfn);
      if (shared) report_violation("I2-shared", pin->pfn, "pinned page shared with the child");
      unpin_user_page(a.env, pin);
      pin = nullptr;
    }
    check_isolation(a);
    if (pinned && shared) return {"pinned+shared", grade::forbidden};
    return {pinned ? "pinned" : "not-pinned", grade::acceptable};
  }
};

// ---- fork with a pinned page (B5) ------------------------------------------

struct fork_vs_pin final : fork_base {
  using fork_base::fork_base;
  void prepare(actor &a) override {
    if (pin_user_pages(a.env, mm, A, 1, FOLL_WRITE | FOLL_LONGTERM, &pin) != 1) pin = nullptr;
  }
  void step(actor &a) override {
    if (a.role == 0)
      dup_mmap(a.env, *child, mm);
    else
      store(a, mm, A, 1, a.iteration);  // the process keeps writing: COW if fork shared it
  }
  outcome check(actor &a) override {
    bool shared = false;
    if (pin) {
      check_pin_mapped(mm, A, pin, harness::name_of(harness::scenario_id::fork_vs_pin));
      shared = mapped_pfn(*child, A) == static_cast<long>(pin->pfn);
      if (shared) report_violation("I2-shared", pin->pfn, "pinned page shared with the child");
      check_dma_visible(a, mm, A, pin, 0, a.iteration);
      unpin_user_page(a.env, pin);
      pin = nullptr;
    }
    check_isolation(a);
    return shared ? outcome{"child-shares-pinned", grade::forbidden}
                  : outcome{"child-got-copy", grade::acceptable};
  }
};

// ---- write fault on a pinned page behind a R/O PTE (B4), R/O pins ----------

struct wp_fault_vs_pin final : fork_base {
  using fork_base::fork_base;
  bool ro_round = false;
  // Even rounds: a R/W longterm pin (io_uring fixed buffer), then
  // mprotect(R/O)+mprotect(R/W): the PTE is R/O, the page exclusive and
  // pinned (cow.c case 7). Odd rounds: the page is shared with a child and a
  // R/O pin races with the parent's write (cow.c cases 9/10).
  void prepare(actor &a) override {
    ro_round = a.iteration & 1;
    if (!ro_round) {
      if (pin_user_pages(a.env, mm, A, 1, FOLL_WRITE | FOLL_LONGTERM, &pin) != 1) pin = nullptr;
      mprotect(a.env, mm, 0, 64, false);
      mprotect(a.env, mm, 0, 64, true);
    } else {
      pin = nullptr;
      dup_mmap(a.env, *child, mm);
    }
  }
  // The R/O pin must sometimes come before the parent's write fault (a
  // pin of the still-shared page) and sometimes after it.
  unsigned jitter(unsigned role) const override { return role == 1 ? 64 : 0; }
  void step(actor &a) override {
    if (a.role == 0) {
      store(a, mm, A, 1, 0x5000000000000000ull | a.iteration);
    } else if (ro_round) {
      if (pin_user_pages_fast(a.env, mm, A, 1, FOLL_LONGTERM, &pin) != 1) pin = nullptr;
    }
  }
  outcome check(actor &a) override {
    bool coherent = true;
    if (pin) {
      coherent = check_pin_mapped(mm, A, pin, harness::name_of(harness::scenario_id::wp_fault_vs_pin));
      if (ro_round) {  // the device reads what the process wrote
        if (a.env.m->mem.read_word(pin->pfn, 1) != (0x5000000000000000ull | a.iteration)) {
          report_violation("I2-data", pin->pfn, "R/O pin does not observe the process's write");
          coherent = false;
        }
      } else {
        coherent &= check_dma_visible(a, mm, A, pin, 0, a.iteration);
      }
      unpin_user_page(a.env, pin);
      pin = nullptr;
    }
    if (!coherent) return {ro_round ? "ro-pin-wrong-cow" : "wrong-cow", grade::forbidden};
    return {ro_round ? "ro-pin-coherent" : "pin-coherent", grade::acceptable};
  }
};

// ---- vmsplice: FOLL_GET in the child, parent writes (B3) -------------------

struct vmsplice_cow final : fork_base {
  using fork_base::fork_base;
  page *ref = nullptr;
  uint64_t old = 0;
  void prepare(actor &a) override {
    old = 0x01D0000000000000ull | a.iteration;
    store(a, mm, A, 0, old);
    dup_mmap(a.env, *child, mm);
  }
  unsigned jitter(unsigned role) const override { return role == 1 ? 64 : 0; }
  void step(actor &a) override {
    if (a.role == 0) {  // the child: vmsplice (FOLL_GET, R/O), then unmap
      if (get_user_pages_fast(a.env, *child, A, 1, 0, &ref) != 1) ref = nullptr;
      madvise_dontneed(a.env, *child, A, A + 1);
    } else {  // the parent writes
      store(a, mm, A, 0, 0x0EE0000000000000ull | a.iteration);
    }
  }
  outcome check(actor &a) override {
    bool leak = false;
    if (ref) {
      leak = a.env.m->mem.read_word(ref->pfn, 0) != old;
      if (leak)
        report_violation("I2-vmsplice", ref->pfn, "the child's pipe reads the parent's new data");
      put_user_page(a.env, ref);
      ref = nullptr;
    }
    return leak ? outcome{"pipe-sees-parent-write", grade::forbidden}
                : outcome{"pipe-sees-old-data", grade::acceptable};
  }
};

// ---- FOLL_FORCE write against MADV_DONTNEED (B1 Dirty COW, B2) -------------

struct force_write_vs_zap final : mm_instance {
  const char *align_label(unsigned role) const override { return role == 0 ? "GUP_FAULT" : "ZAP"; }
  unsigned align_jitter(unsigned role) const override { return role == 1 ? 4096 : 16; }
  page *file = nullptr;
  static constexpr uint64_t kFile = 0xF11E0000F11E0000ull;
  bool wrote = false;
  using mm_instance::mm_instance;
  void setup(actor &a) override {
    file = a.env.alloc_page(0);  // a page-cache page: not anon, the cache holds a reference
    for (unsigned i = 0; i < kWordsPerPage; i++) m.mem.words(file->pfn)[i] = kFile;
    mmap_region(a.env, mm, 0, 1, VM_READ, static_cast<long>(file->pfn));
    reset(a);
  }
  void reset(actor &a) override {
    madvise_dontneed(a.env, mm, 0, 1);
    load(a, mm, 0, 0);    // read fault: the page-cache page, R/O
    if (a.iteration & 1)  // UFFDIO_CONTINUE installs a R/O but *dirty* PTE (CVE-2022-2590)
      edit_present_pte(mm, 0, [](pte_t pte) { return pte_mkdirty(pte); });
  }
  void step(actor &a) override {
    if (a.role == 0) {  // write(/proc/self/mem): FOLL_FORCE|FOLL_WRITE on a R/O private mapping
      page *p = nullptr;
      wrote = get_user_pages(a.env, mm, 0, 1, FOLL_FORCE | FOLL_WRITE, &p) == 1;
      if (wrote) {
        a.env.m->mem.write_word(p->pfn, 0, 0xBAD0000000000000ull | a.iteration);
        put_user_page(a.env, p);
      }
    } else {
      madvise_dontneed(a.env, mm, 0, 1);
      if (a.iteration & 1) {  // UFFDIO_CONTINUE: the page-cache page again, R/O but dirty
        load(a, mm, 0, 0);
        edit_present_pte(mm, 0, [](pte_t pte) { return pte_mkdirty(pte); });
      }
    }
  }
  outcome check(actor &a) override {
    (void)a;
    if (m.mem.read_word(file->pfn, 0) != kFile) {
      report_violation("I5-file", file->pfn, "FOLL_FORCE write reached the page-cache page");
      m.mem.words(file->pfn)[0] = kFile;
      return {"file-modified", grade::forbidden};
    }
    return {wrote ? "wrote-private-copy" : "no-write", grade::acceptable};
  }
  void owned(std::vector<owned_ref> &out) const override { out.push_back({file, 1}); }
  void teardown(actor &a) override {
    mm_instance::teardown(a);
    a.env.put_page(file);
  }
};

// ---- THP collapse against GUP-fast (B10) -----------------------------------

struct thp_collapse_vs_gup_fast final : mm_instance {
  const char *align_label(unsigned role) const override { return role == 0 ? "COLLAPSE" : "B1"; }
  bool collapsed = false, pinned = false;
  page *pin = nullptr;
  static constexpr unsigned long T = THP_BASE + 7;
  using mm_instance::mm_instance;
  void setup(actor &a) override {
    mmap_region(a.env, mm, THP_BASE, PTRS_PER_PTE, VM_READ | VM_WRITE);
    populate(a);
  }
  void populate(actor &a) {
    for (unsigned long x = THP_BASE; x < THP_BASE + PTRS_PER_PTE; x++) store(a, mm, x, 0, x);
  }
  void step(actor &a) override {
    if (a.role == 0)
      collapsed = collapse_huge_page(a.env, mm, T);
    else
      pinned = pin_user_pages_fast(a.env, mm, T, 1, FOLL_WRITE | FOLL_FAST_ONLY, &pin) == 1;
  }
  outcome check(actor &a) override {
    const bool old = pinned && !PageCompound(pin);  // the small page, not the new THP
    if (pinned) {
      check_pin_mapped(mm, T, pin, harness::name_of(harness::scenario_id::thp_collapse_vs_gup_fast));
      unpin_user_page(a.env, pin);
    }
    if (pinned && collapsed && !old) return {"collapsed-then-pinned-thp", grade::acceptable};
    return pick(pinned, collapsed, "pinned+collapsed", "pinned", "collapsed", "both-backed-off");
  }
  void reset(actor &a) override {
    if (collapsed) {
      zap_page_range(a.env, mm, THP_BASE, THP_BASE + PTRS_PER_PTE);
      populate(a);
    }
  }
};

// ---- THP split against a pin -------------------------------------------------

struct thp_split_vs_pin final : mm_instance {
  const char *align_label(unsigned role) const override { return role == 0 ? "SPLIT" : "B1"; }
  bool pinned = false;
  page *pin = nullptr;
  static constexpr unsigned long T = THP_BASE + 5;
  using mm_instance::mm_instance;
  void setup(actor &a) override {
    mmap_region(a.env, mm, THP_BASE, PTRS_PER_PTE, VM_READ | VM_WRITE | VM_HUGEPAGE);
    store(a, mm, T, 0, 1);
  }
  void step(actor &a) override {
    if (a.role == 0) {
      mmap_read_guard g(mm.mmap_lock);
      __split_huge_pmd(a.env, mm, T);
    } else {
      pinned = pin_user_pages_fast(a.env, mm, T, 1, FOLL_WRITE | FOLL_FAST_ONLY, &pin) == 1;
    }
  }
  outcome check(actor &a) override {
    check_mm(a.env, mm);  // I3: every writable subpage PTE maps an exclusive subpage
    if (pinned) {
      check_pin_mapped(mm, T, pin, harness::name_of(harness::scenario_id::thp_split_vs_pin));
      check_dma_visible(a, mm, T, pin, 0, a.iteration);
      unpin_user_page(a.env, pin);
    }
    return {pinned ? "pinned" : "not-pinned", grade::acceptable};
  }
  void reset(actor &a) override {
    zap_page_range(a.env, mm, THP_BASE, THP_BASE + PTRS_PER_PTE);
    free_pgtables_locked(a);
    store(a, mm, T, 0, a.iteration);
  }
  void free_pgtables_locked(actor &a) {
    mmap_write_guard g(mm.mmap_lock);
    free_pgtables(a.env, mm, THP_BASE, THP_BASE + PTRS_PER_PTE);
  }
};

// ---- O_DIRECT (FOLL_GET) against swap-out (B11) ----------------------------

struct swap_getref_odirect final : one_page {
  using one_page::one_page;
  page *ref = nullptr;
  bool swapped = false;
  void reset(actor &a) override {
    alternate_swap_device(a, a.iteration & 1);
    one_page::reset(a);
  }
  void step(actor &a) override {
    if (a.role == 0) {
      swapped = p && shrink_page(a.env, p);
    } else if (get_user_pages_fast(a.env, mm, A, 1, FOLL_WRITE, &ref) != 1) {
      ref = nullptr;  // an O_DIRECT read into A: the device will write the page
    }
  }
  outcome check(actor &a) override {
    store(a, mm, A, 1, a.iteration);  // the process touches the buffer meanwhile
    if (!ref) return {swapped ? "swapped-no-io" : "no-io", grade::acceptable};
    const uint64_t token = 0x0D10000000000000ull | a.iteration;
    a.env.m->mem.write_word(ref->pfn, 0, token);  // the I/O completes
    put_user_page(a.env, ref);
    ref = nullptr;
    if (load(a, mm, A, 0) != token) {
      report_violation("I2-odirect", -1, "O_DIRECT write lost: the process maps another page");
      return {"io-lost", grade::forbidden};
    }
    return {swapped ? "swapped-io-kept" : "io-kept", grade::acceptable};
  }
};

// ---- page-lock/LRU bits against the flag on one word (B12) -----------------

struct flags_lock_vs_exclusive final : one_page {
  using one_page::one_page;
  std::atomic<bool> done{false};
  page *held = nullptr;
  void setup(actor &a) override {
    one_page::setup(a);
    hold(a);
  }
  void hold(actor &a) {  // the LRU's own reference on the page it manipulates
    if (held == p) return;
    if (held) a.env.put_page(held);
    held = p;
    get_page(held);
  }
  void step(actor &a) override {
    if (a.role == 0) {  // reclaim, then the process faults it back: the flag goes and comes
      if (p) shrink_page(a.env, p);
      store(a, mm, A, 1, a.iteration);
      done.store(true, std::memory_order_release);
    } else {  // LRU/activation bits on the same flags word, each checked
      while (!done.load(std::memory_order_acquire)) {
        toggle_active_checked(held);
        ++a.stats.ops;
      }
    }
  }
  outcome check(actor &a) override {
    check_mm(a.env, mm);
    return {"checked", grade::acceptable};
  }
  void reset(actor &a) override {
    done.store(false, std::memory_order_relaxed);
    alternate_swap_device(a, a.iteration & 1);
    one_page::reset(a);
    hold(a);
  }
  void owned(std::vector<owned_ref> &out) const override {
    if (held) out.push_back({held, 1});  // the LRU's reference
  }
  void teardown(actor &a) override {
    if (held) a.env.put_page(held);
    one_page::teardown(a);
  }
};

// ---- munmap (page-table freeing) against a lockless walker -----------------

struct munmap_vs_gup_fast final : mm_instance {
  const char *align_label(unsigned role) const override { return role == 0 ? "FREE_PT" : "B1"; }
  bool pinned = false;
  page *pin = nullptr;
  static constexpr unsigned long U = UNMAP_BASE + 9;
  using mm_instance::mm_instance;
  void setup(actor &a) override { reset(a); }
  void reset(actor &a) override {
    if (!mm.find_vma(U)) mmap_region(a.env, mm, UNMAP_BASE, PTRS_PER_PTE, VM_READ | VM_WRITE);
    store(a, mm, U, 0, a.iteration);
  }
  void step(actor &a) override {
    if (a.role == 0)
      do_munmap(a.env, mm, UNMAP_BASE, UNMAP_BASE + PTRS_PER_PTE);
    else
      pinned = pin_user_pages_fast(a.env, mm, U, 1, FOLL_WRITE | FOLL_FAST_ONLY, &pin) == 1;
  }
  outcome check(actor &a) override {
    if (pinned) unpin_user_page(a.env, pin);  // a pin may outlive munmap
    return {pinned ? "pinned-then-unmapped" : "unmapped-first", grade::acceptable};
  }
};

template <class T>
std::unique_ptr<lockstep_instance> make(machine &m) {
  return std::make_unique<T>(m);
}

}  // namespace

// The threaded implementation of each preset of the registry that the
// threads back end may run (harness/registry.cc has the rest of each entry).
const std::vector<scenario> &scenarios() {
  using S = harness::scenario_id;
  using maker = std::unique_ptr<lockstep_instance> (*)(machine &);
  static const std::pair<S, maker> bindings[] = {
      {S::fork_vs_gup_fast, make<fork_vs_gup_fast>},
      {S::fork_vs_pin, make<fork_vs_pin>},
      {S::swapout_vs_gup_fast, make<clearer_vs_gup_fast<false>>},
      {S::migrate_vs_gup_fast, make<clearer_vs_gup_fast<true>>},
      {S::ksm_vs_gup_fast, make<ksm_vs_gup_fast>},
      {S::wp_fault_vs_pin, make<wp_fault_vs_pin>},
      {S::vmsplice_cow, make<vmsplice_cow>},
      {S::force_write_vs_zap, make<force_write_vs_zap>},
      {S::thp_collapse_vs_gup_fast, make<thp_collapse_vs_gup_fast>},
      {S::thp_split_vs_pin, make<thp_split_vs_pin>},
      {S::swap_getref_odirect, make<swap_getref_odirect>},
      {S::flags_lock_vs_exclusive, make<flags_lock_vs_exclusive>},
      {S::munmap_vs_gup_fast, make<munmap_vs_gup_fast>},
  };
  static const std::vector<scenario> table = [] {
    std::vector<scenario> t;
    for (const auto &d : harness::registry()) {
      if (!(d.backends & (harness::kLockstep | harness::kFree))) continue;
      maker mk = nullptr;
      for (const auto &[id, m] : bindings)
        if (id == d.id) mk = m;
      if ((d.backends & harness::kLockstep) && !mk)
        throw std::logic_error(std::string("no threaded instance for ") + d.name);
      t.push_back({d.name, d.description, d.roles, d.oracles, d.nr_roles, d.free_kinds,
                   d.inject_default, mk, -1, &d});
    }
    return t;
  }();
  return table;
}

const scenario *find_scenario(const std::string &name) {
  for (const auto &s : scenarios())
    if (name == s.name) return &s;
  for (const auto &s : coverage_scenarios())
    if (name == s.name) return &s;
  return nullptr;
}

}  // namespace anonx::stress
