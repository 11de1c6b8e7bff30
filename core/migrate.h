// SPDX-License-Identifier: GPL-2.0-only
// migrate.h: migration of one anonymous small page (mm/rmap.c
// try_to_migrate_one, mm/migrate.c migrate_page_move_mapping /
// remove_migration_pte).
//
// Simplifications: one page at a time, asked for by the harness; THP
// migration is not modelled.
#pragma once

#include "vmscan.h"

namespace anonx {

// Models: try_to_migrate_one() (mm/rmap.c, checked against 6.1.192; the
// same steps since 5.19).
// Locking: page lock; PT lock held (rmap walk).
// Steps: anon_exclusive := the flag; (A1) clear and flush; if anon_exclusive,
// page_try_share_anon_rmap ((A2) pinned -> restore, fail; (A3)); (A4) the
// migration entry: WRITE for a writable PTE, READ_EXCLUSIVE for an exclusive
// R/O one, else READ. The flag now lives in the entry type (I7).
// Mutant b9: the flag is cleared (without a pin check) before (A1), as the
// pre-5.19 "mark shared without invalidate + sync" did.
template <class Env>
bool try_to_migrate_one(Env &env, typename Env::page_t *page,
                        typename Env::template atomic<pteval_t> *ptep) {
  const bool anon_exclusive = env.has_anon_exclusive() && PageAnonExclusive(page);
  if (anon_exclusive && env.proto.mutant_is(mutant::b9_migrate_clear_early)) {
    env.at("A3");
    ClearPageAnonExclusive(page);
  }
  const pte_t pteval = ptep_clear_flush_a1(env, ptep, true);  // (A1) ptep_clear_flush
  if (env.has_anon_exclusive() && !anon_exclusive)
    vm_bug_on_writable_not_exclusive(pte_write(pteval), page, "try_to_migrate_one");
  if (pte_dirty(pteval)) {
    env.drain_at_locked_op();  // a locked RMW drains x86's store buffer
    SetPageDirty(page);
  }
  if (anon_exclusive && !env.proto.mutant_is(mutant::b9_migrate_clear_early) &&
      page_try_share_anon_rmap(env, page)) {  // (A2), (A3)
    set_pte_at(env, ptep, pteval);
    return false;
  }
  unsigned type = SWP_MIGRATION_READ;
  if (pte_write(pteval))
    type = SWP_MIGRATION_WRITE;
  else if (anon_exclusive)
    type = SWP_MIGRATION_READ_EXCLUSIVE;
  env.at("A4");
  set_pte_at(env, ptep, swp_entry_to_pte(type, page->pfn));  // (A4)
  page_remove_rmap(page, false);
  env.put_page(page);
  return true;
}

// Models: remove_migration_pte() (mm/migrate.c, checked against 6.1.192):
// map `page` where a migration entry for `old` is. Anon and not plain READ
// => RMAP_EXCLUSIVE; WRITE => writable (the kernel: maybe_mkwrite, i.e. only
// if the VMA still has VM_WRITE). Locking: PT lock held (rmap walk).
template <class Env>
bool remove_migration_pte(Env &env, typename Env::page_t *page,
                          typename Env::template atomic<pteval_t> *ptep, pte_t entry) {
  get_page(page);
  const bool write = is_writable_migration_entry(entry);
  const unsigned flags = swp_type_of(entry) != SWP_MIGRATION_READ ? RMAP_EXCLUSIVE : 0;
  page_add_anon_rmap(env, page, flags);
  if (env.has_anon_exclusive())
    vm_bug_on_writable_not_exclusive(write, page, "remove_migration_pte");
  set_pte_at(env, ptep, pfn_pte(page->pfn, write));
  return true;
}

// Models: migrate_pages() for one anon page: isolate, lock, try_to_migrate,
// freeze the refcount at the expected value (any extra reference, such as
// a GUP-fast grab or a FOLL_GET, fails it), copy, and remove the migration
// entries onto the new page (or back onto the old one on failure).
// PG_anon_exclusive is not copied (folio_migrate_flags): the entries carry it.
// Checked against 6.1.192 mm/migrate.c (unmap_and_move, migrate_folio).
// Locking: none held; takes the page lock and the PT locks.
// Simplification: swap-cache pages are refused (the kernel migrates them,
// the swap cache's reference included in the expected count).
template <class Env>
bool migrate_page(Env &env, typename Env::page_t *page) {
  if (PageCompound(page) || !try_get_page(page)) return false;  // isolate_lru_page
  if (!trylock_page(page)) {
    env.put_page(page);
    return false;
  }
  bool ok = PageAnon(page) && !PageKsm(page) && !PageSwapCache(page);
  if (ok)
    ok = rmap_walk(env, page, false, [&](typename Env::mm_t &, auto *ptep, pte_t) {
      return try_to_migrate_one(env, page, ptep);
    });
  typename Env::page_t *target = page;
  if (ok && page_mapcount(page) == 0 && page_ref_freeze(page, 1)) {
    auto *newpage = env.alloc_page(0);
    if (newpage) {
      env.m->mem.copy_page(newpage->pfn, page->pfn);
      page_published();  // folio_migrate_flags: folio_mark_uptodate
      newpage->mapping.store(page->mapping.load(std::memory_order_relaxed),
                             std::memory_order_relaxed);
      newpage->index.store(page->index.load(std::memory_order_relaxed), std::memory_order_relaxed);
      __SetPageSwapBacked(newpage);
      lock_page(newpage);
      target = newpage;
      ++env.stats->migrations;
    } else {
      page_ref_unfreeze(page, 1);
    }
  }
  rmap_walk(env, page, true, [&](typename Env::mm_t &, auto *ptep, pte_t entry) {
    return remove_migration_pte(env, target, ptep, entry);
  });
  if (target != page) {  // the old page: frozen at 0, unmapped, nobody can see it
    unlock_page(page);   // unmapped (mapcount checked above) and unlocked: free_page's checks hold
    env.m->mem.free_page(static_cast<int>(env.cpu), page);
    unlock_page(target);
    env.put_page(target);  // alloc's reference; the mappings hold theirs
    return true;
  }
  unlock_page(page);
  env.put_page(page);
  return false;
}

}  // namespace anonx
