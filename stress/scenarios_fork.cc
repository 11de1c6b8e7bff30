// SPDX-License-Identifier: GPL-2.0-only
// scenarios_fork.cc: the presets around fork and COW: fork against GUP-fast (B6)
// and against a pin (B5), the write fault on a pinned page (B4) and R/O pins
// of a shared page, vmsplice's FOLL_GET in the child (B3).
#include "presets.h"

namespace anonx::stress::presets {
namespace {

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

}  // namespace

std::vector<binding> fork_bindings() {
  using S = harness::scenario_id;
  return {
      {S::fork_vs_gup_fast, make<fork_vs_gup_fast>},
      {S::fork_vs_pin, make<fork_vs_pin>},
      {S::wp_fault_vs_pin, make<wp_fault_vs_pin>},
      {S::vmsplice_cow, make<vmsplice_cow>},
  };
}

}  // namespace anonx::stress::presets
