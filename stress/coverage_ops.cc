// SPDX-License-Identifier: GPL-2.0-only
// coverage_ops.cc: the operations of the coverage model (coverage.h), a table:
// the paths and the reference holders, each with the labelled step where its
// race window opens; which operations can act on which states (from the
// states' caps) and which pairs can race; the cells (state x path x racer) and
// their generated scenarios.
#include "coverage_cell.h"

namespace anonx::stress::cov {

const op_row kOps[NR_OPS] = {
    {{"fork", "dup_mmap: copy_present_pte / copy_huge_pmd / copy_nonpresent_pte"}, "FORK_DUP"},
    {{"swapout", "shrink_page_list -> try_to_unmap_one (page_try_share_anon_rmap)"}, "A1"},
    {{"migrate", "migrate_pages -> try_to_migrate_one, refcount freeze, remove_migration_ptes"},
     "A1"},
    {{"ksm-merge", "try_to_merge_one_page: write_protect_page, replace_page"}, "A1"},
    {{"split", "__split_huge_pmd"}, "SPLIT"},
    {{"collapse", "khugepaged collapse_huge_page"}, "COLLAPSE"},
    {{"zap", "madvise(MADV_DONTNEED) of the page"}, "ZAP"},
    {{"munmap", "munmap of the page's VMA (zap + free_pgtables)"}, "ZAP"},
    {{"mprotect", "mprotect(PROT_READ) then mprotect(PROT_READ|PROT_WRITE) of the VMA"}, nullptr},
    {{"exit", "the child exits (exit_mmap)"}, "ZAP"},
    {{"migrate-finish", "remove_migration_ptes: the migration of the state's page completes"},
     nullptr},
    {{"unshare-fault", "handle_mm_fault(FAULT_FLAG_UNSHARE): do_wp_page's unshare"}, nullptr},
    {{"write-fault", "the process writes: do_wp_page / do_anonymous_page / do_swap_page"}, nullptr},
    {{"read-fault", "the process reads: do_anonymous_page / do_read_fault"}, nullptr},
    {{"swapin", "the process reads a swap entry: do_swap_page"}, "SWAPIN_LOCK"},
    {{"pin-fast-ro", "pin_user_pages_fast(FOLL_LONGTERM), R/O: unshare on a shared page"}, "B1"},
    {{"pin-fast-rw", "pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM): RDMA, vfio"}, "B1"},
    {{"pin-longterm-ro", "pin_user_pages(FOLL_LONGTERM), R/O, slow GUP: io_uring fixed buffer"},
     "GUP_LOOKUP"},
    {{"getref-odirect", "get_user_pages_fast(FOLL_WRITE): an O_DIRECT read into the page"}, "B1"},
    {{"getref-vmsplice",
      "get_user_pages_fast, R/O: vmsplice into a pipe, by the child when there is one"},
     "B1"},
    {{"child-read", "the child reads the parent's word"}, nullptr},
    {{"child-write", "the child writes its own word"}, nullptr},
};

namespace {

// Why op cannot run on a state (nullptr: it can).
const char *op_infeasible(unsigned op, unsigned caps) {
  const bool present = caps & (C_SMALL | C_PMD | C_PTE_THP | C_KSM | C_FILE);
  switch (op) {  // these act on any state
    case O_FORK:
    case O_ZAP:
    case O_MUNMAP:
    case O_MPROTECT:
    case O_WRITE:
    case H_PIN_FAST_RO:
    case H_PIN_FAST_RW:
    case H_PIN_LONGTERM_RO:
    case H_GETREF_ODIRECT:
    case H_GETREF_VMSPLICE:
      return nullptr;
    default:
      break;
  }
  if (caps & C_MIGRATION)
    return op == O_MIGRATE_FINISH || op == O_READ
               ? nullptr
               : "the page is under migration: nothing maps it for reclaim, KSM, THP or unshare "
                 "to act on";
  switch (op) {
    case O_SWAPOUT:
      if (caps & (C_PMD | C_PTE_THP))
        return "the model's reclaim refuses a THP (the kernel splits it first)";
      if (caps & C_KSM) return "the model's reclaim refuses KSM pages";
      if (caps & C_FILE) return "a page-cache page is not swapped (anon reclaim only)";
      return present ? nullptr : "nothing is mapped to swap out";
    case O_MIGRATE:
      if (caps & (C_PMD | C_PTE_THP)) return "THP migration is not modelled";
      if (caps & C_KSM) return "the model's migration refuses KSM pages";
      if (caps & C_SWAPCACHE) return "the model's migration refuses swap-cache pages";
      if (caps & C_FILE) return "page-cache pages are not migrated by the model";
      return present ? nullptr : "nothing is mapped to migrate";
    case O_KSM:
      if (caps & C_KSM) return "already a KSM page";
      if (caps & (C_PMD | C_PTE_THP)) return "the model's KSM refuses a THP (the kernel splits it)";
      if (caps & C_FILE) return "KSM merges anon pages only";
      return present ? nullptr : "nothing is mapped to merge";
    case O_SPLIT:
      return (caps & C_PMD) ? nullptr : "no PMD-mapped THP to split";
    case O_COLLAPSE:
      return (caps & C_FULL_PMD) ? nullptr
                                 : "the model collapses only a PMD range of exclusive small pages";
    case O_EXIT:
    case H_CHILD_READ:
    case H_CHILD_WRITE:
      return (caps & C_CHILD) ? nullptr : "no child in this state";
    case O_MIGRATE_FINISH:
      return "only a page under migration has a migration to finish";
    case O_UNSHARE:
      return present ? nullptr : "no present page to unshare";
    case O_READ:
      return (caps & C_SWAPENTRY) ? "a read of a swap entry is swapin" : nullptr;
    case O_SWAPIN:
      return (caps & C_SWAPENTRY) ? nullptr : "no swap entry to swap in";
    default:
      return "unknown operation";
  }
}

// Why the pair cannot race on a state (nullptr: it can).
const char *pair_infeasible(unsigned state, unsigned path, unsigned racer, unsigned caps) {
  if (racer < NR_PATHS && racer <= path) return "the pair is the cell with the roles swapped";
  if (path == O_FORK && states()[state].fork_reason) return states()[state].fork_reason;
  if (caps & C_MIGRATION && path != O_MIGRATE_FINISH)
    return "this state's path is migrate-finish; the others race with it as racers";
  if (path == O_FORK && racer == H_GETREF_ODIRECT)
    return "FOLL_GET across fork has no coherence guarantee in the kernel (O_DIRECT and fork: "
           "fixed only by moving O_DIRECT to FOLL_PIN)";
  if (path == O_FORK && (racer == H_CHILD_READ || racer == H_CHILD_WRITE))
    return "the state's child does not race with its parent's fork in a way the model orders";
  if (path == O_EXIT && (racer == H_CHILD_READ || racer == H_CHILD_WRITE))
    return "an exiting mm runs no threads";
  if (path == O_COLLAPSE && racer < NR_PATHS && racer != O_WRITE && racer != O_READ &&
      racer != O_UNSHARE)
    return "khugepaged against another path is left to the presets (collapse takes mmap_lock "
           "write, so they serialize)";
  if ((path == O_MUNMAP || path == O_EXIT) && racer == O_MIGRATE_FINISH) return "never the path";
  return nullptr;
}

// ---- the cells -----------------------------------------------------------

std::vector<cov_cell> build_cells() {
  std::vector<cov_cell> cells;
  for (unsigned s = 0; s < states().size(); s++)
    for (unsigned p = 0; p < NR_PATHS; p++)
      for (unsigned r = 0; r < NR_OPS; r++) {
        if (r < NR_PATHS && r == p) continue;  // a path against itself is not a cell
        cov_cell c;
        c.state = s;
        c.path = p;
        c.racer = r;
        c.name =
            std::string(states()[s].axis.name) + "/" + kOps[p].axis.name + "/" + kOps[r].axis.name;
        const char *why = op_infeasible(p, states()[s].caps);
        if (!why) why = op_infeasible(r, states()[s].caps);
        if (!why) why = pair_infeasible(s, p, r, states()[s].caps);
        c.feasible = why == nullptr;
        if (why) c.reason = why;
        cells.push_back(std::move(c));
      }
  return cells;
}

std::vector<scenario> build_scenarios() {
  std::vector<scenario> out;
  const auto &cells = coverage_cells();
  for (unsigned i = 0; i < cells.size(); i++) {
    if (!cells[i].feasible) continue;
    scenario s{};
    s.name = cells[i].name.c_str();
    s.description = "generated from the coverage model";
    s.actors = "path,racer";
    s.oracle = "conservation data-lost data-leak I1..I7 I2-data I2-odirect";
    s.nr_roles = 2;
    s.free_kinds = 0;
    s.inject_default = false;
    s.make = nullptr;
    s.cell = static_cast<int>(i);
    out.push_back(s);
  }
  return out;
}

}  // namespace
}  // namespace anonx::stress::cov

namespace anonx::stress {

using namespace cov;

const std::vector<cov_axis> &coverage_states() {
  static const std::vector<cov_axis> v = [] {
    std::vector<cov_axis> out;
    for (const auto &s : states()) out.push_back(s.axis);
    return out;
  }();
  return v;
}

const std::vector<cov_axis> &coverage_ops() {
  static const std::vector<cov_axis> v = [] {
    std::vector<cov_axis> out;
    for (const auto &o : kOps) out.push_back(o.axis);
    return out;
  }();
  return v;
}

unsigned coverage_nr_paths() { return NR_PATHS; }

const std::vector<cov_cell> &coverage_cells() {
  static const std::vector<cov_cell> cells = build_cells();
  return cells;
}

const std::vector<scenario> &coverage_scenarios() {
  static const std::vector<scenario> s = build_scenarios();
  return s;
}

std::unique_ptr<lockstep_instance> make_coverage_instance(machine &m, unsigned cell) {
  return std::make_unique<coverage_instance>(m, coverage_cells()[cell]);
}

coverage_test_hooks &coverage_hooks() {
  static coverage_test_hooks h;
  return h;
}

}  // namespace anonx::stress
