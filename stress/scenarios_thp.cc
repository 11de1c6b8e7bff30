// SPDX-License-Identifier: GPL-2.0-only
// scenarios_thp.cc: the presets around THP and file pages: FOLL_FORCE against
// MADV_DONTNEED on a private file mapping (B1, B2), khugepaged's collapse
// against GUP-fast (B10), a PMD split against a pin.
#include "presets.h"

namespace anonx::stress::presets {
namespace {

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

}  // namespace

std::vector<binding> thp_file_bindings() {
  using S = harness::scenario_id;
  return {
      {S::force_write_vs_zap, make<force_write_vs_zap>},
      {S::thp_collapse_vs_gup_fast, make<thp_collapse_vs_gup_fast>},
      {S::thp_split_vs_pin, make<thp_split_vs_pin>},
  };
}

}  // namespace anonx::stress::presets
