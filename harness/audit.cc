// SPDX-License-Identifier: GPL-2.0-only
// audit.cc: the conservation oracles (audit.h).
#include "audit.h"

#include <string>

namespace anonx::harness {

namespace {

constexpr unsigned kScanBlock = 8;
static_assert(PTRS_PER_PTE % kScanBlock == 0, "the scan's blocks tile a table");

template <class Word>
bool block_is_none(const Word *w) {
  pteval_t any = 0;
  for (unsigned i = 0; i < kScanBlock; i++) any |= w[i].load(std::memory_order_relaxed);
  return any == 0;
}

}  // namespace

void conservation_audit::touch(unsigned long pfn) {
  if (expect_[pfn] == 0 && mappers_[pfn] == 0) touched_.push_back(static_cast<unsigned>(pfn));
}

// Quiescent: no step runs, so the walk reads every entry without the PT
// locks (the rendezvous orders the steps' stores before it). Cost: one
// pass over the mms' page tables, a lookup per referenced swap slot, the
// device's totals and the free lists' counts: a few microseconds.
void conservation_audit::run(machine &m, const std::vector<owned_ref> &owned,
                             bool exclusive_flag) NO_THREAD_SAFETY_ANALYSIS {
  const unsigned long nr = m.mem.nr_frames();
  if (expect_.size() != nr) {
    expect_.assign(nr, 0);
    mappers_.assign(nr, 0);
  }
  if (swap_refs_.size() != m.swap.nr_slots()) swap_refs_.assign(m.swap.nr_slots(), 0);
  auto add = [&](page *p, int refs) {
    touch(p->pfn);
    expect_[p->pfn] += refs;
  };
  // 1. Mappings: every PTE and huge PMD of every mm of the machine holds a
  //    reference on the head of the page it maps.
  for (mm_struct *mm : m.mms) {
    for (unsigned i = 0; i < kPmdsPerMm; i++) {
      const pmd_t pmd{mm->pmd[i].load(std::memory_order_relaxed)};
      if (pmd_trans_huge(pmd)) {
        page *head = m.mem.pfn_to_page(pte_pfn(pmd));
        add(head, 1);
        mappers_[head->pfn]++;
        continue;
      }
      if (!pmd_table(pmd)) continue;
      auto &table = mm->table_of(pmd);
      for (unsigned j = 0; j < PTRS_PER_PTE; j++) {
        // A block of kScanBlock none entries at once: a table holds a few
        // live entries among 512, and this walk runs every iteration (one
        // OR of eight loads, one branch, where an entry each costs three
        // times the instructions: the scan was a third of role 0's time).
        if (j % kScanBlock == 0 && block_is_none(table.pte + j)) {
          j += kScanBlock - 1;
          continue;
        }
        const pte_t pte{table.pte[j].load(std::memory_order_relaxed)};
        if (pte_present(pte)) {
          page *p = m.mem.pfn_to_page(pte_pfn(pte));
          add(compound_head(p), 1);
          touch(p->pfn);
          mappers_[p->pfn]++;
        } else if (is_swap_entry(pte)) {
          const unsigned long off = swp_offset(pte);
          if (off < swap_refs_.size() && swap_refs_[off]++ == 0)
            slots_.push_back(static_cast<unsigned>(off));
        }
      }
    }
  }
  // 2. Swap: each referenced slot's count against its entries; the counts
  //    of all slots against all entries (a count no entry holds is a leaked
  //    slot); no SWAP_HAS_CACHE without its page.
  long entries = 0;
  for (unsigned off : slots_) {
    const int refs = swap_refs_[off], count = m.swap.swap_count(off);
    entries += refs;
    if (count < refs)
      report_violation("swap-lost", -1,
                       "swap slot " + std::to_string(off) + " count " + std::to_string(count) +
                           " below the " + std::to_string(refs) + " swap entries that refer to it");
    else if (count > refs)
      report_violation("leak-swap", -1,
                       "swap slot " + std::to_string(off) + " count " + std::to_string(count) +
                           ", referred to by " + std::to_string(refs) + " swap entries");
    swap_refs_[off] = 0;
  }
  slots_.clear();
  const auto usage = m.swap.usage();
  if (usage.count > entries)
    report_violation("leak-swap", -1,
                     std::to_string(usage.count - entries) +
                         " swap counts held by no swap entry (a slot that is never freed)");
  if (usage.bare)
    report_violation(
        "leak-swap", -1,
        std::to_string(usage.bare) + " SWAP_HAS_CACHE held with no page and no swap-in under way");
  for (const owned_ref &o : owned) add(compound_head(o.p), o.refs);

  // 3. Each reached page against its owners (a mapped page in the swap
  //    cache: one reference more); frames against what they reach (the
  //    swap cache's unmapped pages counted from the device's totals).
  unsigned long reached_frames = 0;
  long mapped_cached = 0;
  for (unsigned pfn : touched_) {
    page *p = m.mem.pfn_to_page(pfn);
    if (!PageTail(p)) {
      if (PageSwapCache(p)) {
        expect_[pfn]++;
        mapped_cached++;
      }
      const int want = expect_[pfn];
      const int have = page_ref_count(p);
      if (have > want)
        report_violation(
            "leak-ref", pfn,
            "_refcount " + std::to_string(have) + ", its mappings, swap cache and owners hold " +
                std::to_string(want) +
                (have - want >= GUP_PIN_COUNTING_BIAS ? " (a pin was never released)" : ""));
      else if (have < want)
        report_violation("ref-lost", pfn,
                         "_refcount " + std::to_string(have) + " below the " +
                             std::to_string(want) + " its mappings, swap cache and owners hold");
      if (PageHead(p) && p[1].compound_pincount.load(std::memory_order_relaxed) != 0)
        report_violation("leak-pin", pfn, "compound pincount with no pin held");
      if (have > 0 && !PageBuddy(p)) reached_frames += 1ul << compound_order(p);
    }
    if (exclusive_flag && mappers_[pfn] > 1 && PageAnon(p) &&
        test_bit(PG_anon_exclusive, &p->flags))
      report_violation("I4-mm", pfn,
                       "exclusive page mapped " + std::to_string(mappers_[pfn]) +
                           " times across the machine's mms");
    expect_[pfn] = 0;
    mappers_[pfn] = 0;
  }
  touched_.clear();
  if (usage.cached > mapped_cached) reached_frames += usage.cached - mapped_cached;
  const unsigned long free =
      m.mem.nr_free_small(m.cpus.nr_cpus()) + m.mem.nr_free_huge() * HPAGE_PMD_NR;
  const unsigned long allocated = nr - free;
  if (allocated > reached_frames)
    report_violation("leak-frame", -1,
                     std::to_string(allocated - reached_frames) +
                         " frames allocated that no page table, swap slot or owner reaches");
}

void conservation_audit::audit_empty(machine &m) {
  const unsigned long nr = m.mem.nr_frames();
  const unsigned long free = m.mem.nr_free_small() + m.mem.nr_free_huge() * HPAGE_PMD_NR;
  if (free != nr)
    report_violation("leak-frame", -1,
                     std::to_string(nr - free) + " frames still allocated at teardown");
  const unsigned long slots = m.swap.nr_free();
  if (slots + 1 != m.swap.nr_slots())
    report_violation(
        "leak-swap", -1,
        std::to_string(m.swap.nr_slots() - 1 - slots) + " swap slots still in use at teardown");
}

}  // namespace anonx::harness
