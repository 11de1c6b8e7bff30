// SPDX-License-Identifier: GPL-2.0-only
// coverage_states.cc: the page states of the coverage model (coverage.h), a
// table. One row is a whole state: its name and description, what it offers
// the operations (caps: which paths and holders can act on it, from which
// the cells' feasibility is computed, coverage_ops.cc), the set-up sequence
// that reaches it from an exclusive written page, what verifies it was
// reached, and why fork may not be its path. A new page state is a new row.
//
// Every set-up starts from new processes: mm 0 maps the small-page, THP and
// file VMAs and writes its words at the state's address (a read for a file
// page); the row's reach() then runs outside the timed race on role 0.
#include "coverage_cell.h"

namespace anonx::stress::cov {
namespace {

using inst = coverage_instance;

void swap_out(inst &c, actor &a, page *p) {
  if (!p || !shrink_page(a.env, p)) c.reached = false;
}

const std::vector<state_row> kStates = {
    {{"excl", "exclusive small anon page, written (PageAnonExclusive, writable PTE)"},
     C_SMALL | C_FULL_PMD},
    {{"shared", "small page shared after fork: both mms map it R/O, flag clear"},
     C_SMALL | C_CHILD,
     [](inst &c, actor &a, page *) { c.fork_child(a); }},
    {{"reused", "previously shared page, now mapped once (the child exited): R/O, flag clear"},
     C_SMALL,
     [](inst &c, actor &a, page *) {
       c.fork_child(a);
       exit_mmap(a.env, *c.mms[1]);
       c.child = false;
     }},
    {{"swapcache", "mapped page in the swap cache (swapped out, read back through the cache)"},
     C_SMALL | C_SWAPCACHE,
     [](inst &c, actor &a, page *p) {
       c.m.swap.set_synchronous_io(false);  // swap-in through the cache
       swap_out(c, a, p);
       c.read_back(a);
     }},
    {{"swapcache+getref",
      "mapped page in the swap cache (read back through it), an O_DIRECT FOLL_GET reference "
      "held"},
     C_SMALL | C_SWAPCACHE,
     [](inst &c, actor &a, page *p) {
       c.m.swap.set_synchronous_io(false);
       swap_out(c, a, p);
       c.read_back(a);
       if (get_user_pages_fast(a.env, c.mm0(), c.addr, 1, FOLL_WRITE, &c.state_ref) != 1)
         c.state_ref = nullptr;
     },
     [](inst &c, page *p) { return c.state_ref == p; },
     "the state's FOLL_GET is held across fork, which the kernel does not keep coherent "
     "(O_DIRECT and fork: fixed only by moving O_DIRECT to FOLL_PIN)"},
    {{"swapcache+pin",
      "mapped page in the swap cache, pinned R/W longterm (swap-out backed off at (A2))"},
     C_SMALL | C_SWAPCACHE,
     [](inst &c, actor &a, page *p) {
       if (pin_user_pages(a.env, c.mm0(), c.addr, 1, FOLL_WRITE | FOLL_LONGTERM, &c.state_pin) !=
           1)
         c.state_pin = nullptr;
       if (p) shrink_page(a.env, p);  // backs off at (A2), the page stays in the cache
     },
     [](inst &c, page *) { return c.state_pin != nullptr; }},
    {{"swapcache+forked",
      "swapped out, then forked (swap count 2), then read back by the parent through the "
      "swap cache: the child still has the swap entry"},
     C_SMALL | C_SWAPCACHE | C_CHILD,
     [](inst &c, actor &a, page *p) {
       c.m.swap.set_synchronous_io(false);
       swap_out(c, a, p);
       c.fork_child(a);
       c.read_back(a);
     },
     [](inst &c, page *) { return is_swap_entry(c.pte_now(*c.mms[1])); }},
    {{"swapped", "swapped-out entry with SWP_EXCLUSIVE, page freed"}, C_SWAPENTRY, swap_out},
    {{"swapped-shared", "swapped out after fork: both mms hold the entry, no SWP_EXCLUSIVE"},
     C_SWAPENTRY | C_CHILD,
     [](inst &c, actor &a, page *p) {
       c.fork_child(a);
       swap_out(c, a, p);
     }},
    {{"thp", "PMD-mapped THP, exclusive"}, C_PMD},
    {{"thp-shared", "PMD-mapped THP shared after fork"}, C_PMD | C_CHILD,
     [](inst &c, actor &a, page *) { c.fork_child(a); }},
    {{"thp-pinned", "PMD-mapped THP with a subpage pinned R/W longterm"}, C_PMD,
     [](inst &c, actor &a, page *) {
       if (pin_user_pages(a.env, c.mm0(), c.addr, 1, FOLL_WRITE | FOLL_LONGTERM, &c.state_pin) !=
           1)
         c.state_pin = nullptr;
     },
     [](inst &c, page *) { return c.state_pin != nullptr; }},
    {{"pte-thp", "THP split into PTEs, fully mapped"}, C_PTE_THP,
     [](inst &c, actor &a, page *) {
       mmap_read_guard g(c.mm0().mmap_lock);
       __split_huge_pmd(a.env, c.mm0(), c.addr);
     }},
    {{"pte-thp-partial", "THP split into PTEs, half of it zapped"}, C_PTE_THP,
     [](inst &c, actor &a, page *) {
       {
         mmap_read_guard g(c.mm0().mmap_lock);
         __split_huge_pmd(a.env, c.mm0(), c.addr);
       }
       madvise_dontneed(a.env, c.mm0(), THP_BASE + THP_LEN / 2, THP_BASE + THP_LEN);
     }},
    {{"ksm", "KSM page merged into the process"}, C_KSM,
     [](inst &c, actor &a, page *p) {
       c.ksm_prepare(p);
       if (!ksm_merge(a.env, c.mm0(), c.addr, c.kpage)) c.reached = false;
     }},
    {{"file", "private file mapping: the page-cache page mapped R/O"}, C_FILE},
    // the set-up's writes made the anon copy
    {{"file-cow", "the anon COW copy of a private file page, written"}, C_SMALL | C_FILE_VMA},
    {{"migrating", "page under migration: a migration entry, page locked and isolated"},
     C_MIGRATION, [](inst &c, actor &a, page *p) { c.begin_migration(a, p); }},
};

}  // namespace

const std::vector<state_row> &states() { return kStates; }

}  // namespace anonx::stress::cov
