// SPDX-License-Identifier: GPL-2.0-only
// presets.h: what the threaded presets share (scenarios_*.cc): the checked
// accesses, the pin and DMA checks, the set-up edits that stand for a kernel
// mechanism (each names it), the base instances, and the bindings of the
// registry's ids to the instances each file defines.
#pragma once

#include <cinttypes>
#include <memory>
#include <utility>
#include <vector>

#include "stress.h"

namespace anonx::stress::presets {

constexpr unsigned long A = 3;              // the page under test (first PMD)
constexpr unsigned long THP_BASE = 512;     // second PMD: THP scenarios
constexpr unsigned long UNMAP_BASE = 1024;  // third PMD: munmap scenario

// Every access of a scenario is checked: one that faults marks the
// iteration INCONCLUSIVE (the runner grades it; violations its check()
// reports are then dropped), never a lost write or a stale read.
inline bool store(actor &a, mm_struct &mm, unsigned long addr, unsigned word, uint64_t v) {
  if (cpu_access(a.env, mm, addr, word, true, &v)) return true;
  a.access_failed = true;
  return false;
}
inline uint64_t load(actor &a, mm_struct &mm, unsigned long addr, unsigned word) {
  uint64_t v = ~0ull;
  if (!cpu_access(a.env, mm, addr, word, false, &v)) a.access_failed = true;
  return v;
}

// I2: a committed pin on p obtained via addr: the process still maps p there.
inline bool check_pin_mapped(mm_struct &mm, unsigned long addr, page *p, const char *what) {
  if (mapped_pfn(mm, addr) == static_cast<long>(p->pfn)) return true;
  report_violation("I2", p->pfn,
                   std::string(what) + ": pinned page no longer mapped at its address");
  return false;
}

// A DMA write through a pin must be read by the process at that address.
inline bool check_dma_visible(actor &a, mm_struct &mm, unsigned long addr, page *p, unsigned word,
                              uint64_t token) {
  a.env.m->mem.write_word(p->pfn, word, token);
  if (load(a, mm, addr, word) == token || a.access_failed) return true;
  report_violation("I2-data", p->pfn, "DMA write through a pin not seen by the process");
  return false;
}

// A set-up edit of the present PTE at addr, under its PT lock: edit(pte)
// is the new entry. Stands for a kernel mechanism each caller names.
template <class Edit>
inline void edit_present_pte(mm_struct &mm, unsigned long addr, Edit edit) {
  auto *table = pte_table_of<stress_env>(mm, addr);
  if (!table) return;
  unprofiled_guard<ptl_t> ptl(table->ptl);
  auto *ptep = &table->pte[pte_index(addr)];
  const pte_t pte{ptep->load(std::memory_order_relaxed)};
  if (pte_present(pte)) ptep->store(edit(pte).v, std::memory_order_release);
}

// Page-table manipulation standing for clear_refs (soft-dirty) plus
// writeback cleaning: the exclusive page stays, its PTE becomes R/O and clean.
inline void make_pte_ro_clean(mm_struct &mm, unsigned long addr) {
  edit_present_pte(mm, addr, [](pte_t pte) { return pte_mkclean(pte_wrprotect(pte)); });
}

// The swap scenarios race both kinds of swap device: a SWP_SYNCHRONOUS_IO
// one (zram, pmem), where a swap-in of a slot with one swap PTE bypasses the
// swap cache, and a disk, where every swap-in goes through it. Set by role 0
// in reset(), so the kind is fixed for the iteration (the kernel's is fixed
// at swapon); the rendezvous orders it before the other roles' faults.
inline void alternate_swap_device(actor &a, bool synchronous) {
  a.env.m->swap.set_synchronous_io(synchronous);
}

inline outcome pick(bool x, bool y, const char *both, const char *only_x, const char *only_y,
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

template <class T>
std::unique_ptr<lockstep_instance> make(machine &m) {
  return std::make_unique<T>(m);
}

// A registry id and the threaded instance that runs it.
using binding = std::pair<harness::scenario_id, std::unique_ptr<lockstep_instance> (*)(machine &)>;
std::vector<binding> clearer_bindings();   // scenarios_clear.cc
std::vector<binding> fork_bindings();      // scenarios_fork.cc
std::vector<binding> thp_file_bindings();  // scenarios_thp.cc

}  // namespace anonx::stress::presets
