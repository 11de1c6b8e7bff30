// SPDX-License-Identifier: GPL-2.0-only
// scenarios_clear.cc: the presets around the clearers of PG_anon_exclusive and
// the words beside it: swap-out, migration and KSM against GUP-fast (B7, B8,
// B9), O_DIRECT against swap (B11), the flags word shared with the LRU bits
// (B12), page-table freeing against a lockless walk.
#include "presets.h"

namespace anonx::stress::presets {
namespace {

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

}  // namespace

std::vector<binding> clearer_bindings() {
  using S = harness::scenario_id;
  return {
      {S::swapout_vs_gup_fast, make<clearer_vs_gup_fast<false>>},
      {S::migrate_vs_gup_fast, make<clearer_vs_gup_fast<true>>},
      {S::ksm_vs_gup_fast, make<ksm_vs_gup_fast>},
      {S::swap_getref_odirect, make<swap_getref_odirect>},
      {S::flags_lock_vs_exclusive, make<flags_lock_vs_exclusive>},
      {S::munmap_vs_gup_fast, make<munmap_vs_gup_fast>},
  };
}

}  // namespace anonx::stress::presets
