// SPDX-License-Identifier: GPL-2.0-only
// audit.h: the conservation oracles. They need no knowledge of a bug: at a
// quiescent point of a group (between lockstep iterations, at teardown) the
// machine's references, pins, frames and swap slots must add up to what
// owns them, whichever path lost or leaked one.
//
//  - leak-ref / ref-lost: a page's _refcount above / below its owners: its
//    mappings (each PTE and each huge PMD, in every mm of the machine), the
//    swap cache's reference, and the references the scenario holds outside
//    the page tables (owned_ref: a KSM stable page, a page-cache page).
//  - leak-pin: a compound pincount with no pin held (the scenario has
//    released its pins by then; small pages count pins in _refcount).
//  - leak-swap / swap-lost: a slot's swap count above / below the swap
//    entries that refer to it; a SWAP_HAS_CACHE that no page took over.
//  - leak-frame: allocated frames that no page table, swap slot or owner
//    reaches (a reference leaked on a page nobody maps any more).
//  - I4-mm: an exclusive page mapped more than once, counted by walking
//    every mm of the machine (I4 proper trusts the mapcount).
// At teardown (audit_empty) every frame and every slot must be free again.
#pragma once

#include <vector>

#include "run_env.h"

namespace anonx::harness {

// References a scenario holds outside the page tables and the swap cache.
struct owned_ref {
  page *p;
  int refs;
};

class conservation_audit {
 public:
  // Every check above except the teardown one, for the machine's mms.
  // `exclusive_flag`: the generation has PG_anon_exclusive (I4-mm).
  void run(machine &m, const std::vector<owned_ref> &owned, bool exclusive_flag);
  // Every frame and swap slot free (after every mm has exited).
  static void audit_empty(machine &m);

 private:
  void touch(unsigned long pfn);
  std::vector<int> expect_;        // per frame: the references its owners hold
  std::vector<int> mappers_;       // per frame: PTE or PMD mappings of exactly it
  std::vector<unsigned> touched_;  // frames with a nonzero entry above
  std::vector<int> swap_refs_;     // per slot: swap entries that refer to it
  std::vector<unsigned> slots_;    // slots with a nonzero entry
};

}  // namespace anonx::harness
