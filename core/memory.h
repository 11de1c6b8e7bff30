// SPDX-License-Identifier: GPL-2.0-only
// memory.h: page faults, COW, swap-in and zap (mm/memory.c), and the CPU's
// own loads and stores through the page tables.
//
// Model simplifications (core/README.md, "what is modelled"):
//  - A CPU access (cpu_access) takes the PT lock around "TLB lookup + load/
//    store": it is atomic with respect to every PT-locked path, which is
//    what the kernel gets from the TLB flush a clearer issues before it
//    touches the page. GUP-fast, the lockless path under test, takes no lock.
//  - A read fault on an empty anonymous PTE maps a new zeroed anon page
//    (the kernel maps the shared zero page); file pages exist for private
//    file mappings only (FOLL_FORCE against zap), never written back.
//  - Migration entries are waited on by retrying the fault.
#pragma once

#include "rmap.h"

namespace anonx {

inline constexpr unsigned FAULT_FLAG_WRITE = 1u << 0;
inline constexpr unsigned FAULT_FLAG_UNSHARE = 1u << 10;  // GUP: exclusive page, PTE stays R/O
inline constexpr unsigned FAULT_FLAG_FORCE = 1u << 20;    // model: FOLL_FORCE write fault
inline constexpr int VM_FAULT_OK = 0;
inline constexpr int VM_FAULT_RETRY = 1;
inline constexpr int VM_FAULT_SIGSEGV = 2;
inline constexpr int VM_FAULT_OOM = 4;

// The PTE table mapping addr, or nullptr (PMD none, huge, or migration).
template <class Env>
ANONX_INLINE typename Env::table_t *pte_table_of(typename Env::mm_t &mm, unsigned long addr) {
  const pmd_t pmd{mm.pmd_offset(addr)->load(std::memory_order_acquire)};
  return pmd_table(pmd) ? &mm.table_of(pmd) : nullptr;
}
ANONX_INLINE unsigned pte_index(unsigned long addr) { return addr & (PTRS_PER_PTE - 1); }

template <class Env>
int do_huge_pmd_anonymous_page(Env &env, typename Env::mm_t &mm, const vm_area_struct &vma,
                               unsigned long addr);
template <class Env>
int do_huge_pmd_wp_page(Env &env, typename Env::mm_t &mm, const vm_area_struct &vma,
                        unsigned long addr, unsigned flags);
template <class Env>
void __split_huge_pmd(Env &env, typename Env::mm_t &mm, unsigned long addr);

// Models: __pte_alloc() -> pmd_install() (mm/memory.c, checked against
// 6.1.192). Locking: mmap_lock read; takes the PMD lock to install a new
// table. Simplification: the table is allocated under the PMD lock (the
// kernel allocates first and frees the spare if another fault won).
template <class Env>
int __pte_alloc(Env &env, typename Env::mm_t &mm, unsigned long addr) {
  auto *pmdp = mm.pmd_offset(addr);
  lock_guard<spinlock_t> g(mm.page_table_lock);
  if (!pmd_none(pmd_t{pmdp->load(std::memory_order_relaxed)})) return VM_FAULT_OK;
  const long t = env.alloc_table();
  if (t < 0) return VM_FAULT_OOM;
  pmdp->store(mk_pmd_table(static_cast<unsigned long>(t)).v, std::memory_order_release);
  return VM_FAULT_OK;
}

// Models: do_anonymous_page() (mm/memory.c, checked against 6.1.192).
// Locking: mmap_lock read; PT lock held on entry and on return (the kernel
// allocates before taking it and re-checks pte_none after).
// Steps: allocate and clear a page, page_add_new_anon_rmap (exclusive,
// I10 -> I3), then publish the PTE.
template <class Env>
int do_anonymous_page(Env &env, typename Env::mm_t &mm, const vm_area_struct &vma,
                      unsigned long addr,
                      typename Env::template atomic<pteval_t> *ptep) NO_THREAD_SAFETY_ANALYSIS {
  auto *page = env.alloc_page(0);
  if (!page) return VM_FAULT_OOM;
  env.m->mem.clear_page(page->pfn);
  page_published();  // __SetPageUptodate
  page_add_new_anon_rmap(env, page, mm, addr, false);
  set_pte_at(env, ptep, pfn_pte(page->pfn, vma.vm_flags & VM_WRITE));
  return VM_FAULT_OK;
}

// Models: wp_page_copy() (mm/memory.c, checked against 6.1.192). Locking:
// mmap_lock read; the PT lock is NOT held on entry (do_wp_page dropped it)
// and is taken to commit.
// Steps: allocate and copy, re-take the PT lock, pte_same re-check, clear
// and flush the old PTE, page_add_new_anon_rmap(new) (exclusive), set the
// new PTE (R/O for UNSHARE), only then page_remove_rmap(old).
// old: referenced by the caller, never null (the zero page, which the
// kernel copies from without a struct page, is not modelled). orig maps old
// for a COW; it is none for do_cow_fault, where old is the file page.
// Simplification: the clear of the old PTE never waits for GUP-fast, where
// the kernel's ptep_clear_flush_notify is, on x86 native, an IPI that does;
// the old page is not exclusive here, so no flag clearer relies on it.
template <class Env>
int wp_page_copy(Env &env, typename Env::mm_t &mm, const vm_area_struct &vma, unsigned long addr,
                 typename Env::table_t &table, pte_t orig, typename Env::page_t *old,
                 unsigned flags) {
  auto *ptep = &table.pte[pte_index(addr)];
  auto *page = env.alloc_page(0);
  if (!page) {
    env.put_page(old);
    return VM_FAULT_OOM;
  }
  env.m->mem.copy_page(page->pfn, old->pfn);
  page_published();  // __SetPageUptodate
  lock_guard<ptl_t> ptl(table.ptl);
  if (ptep->load(std::memory_order_relaxed) != orig.v) {  // raced: let the fault retry
    env.put_page(page);
    env.put_page(old);
    return VM_FAULT_OK;
  }
  const bool unshare = flags & FAULT_FLAG_UNSHARE;
  const bool writable = !unshare && (vma.vm_flags & VM_WRITE);
  pte_t entry = pfn_pte(page->pfn, writable);
  if (!unshare) entry = pte_mkdirty(entry);
  ptep->exchange(0, std::memory_order_seq_cst);  // ptep_clear_flush
  word_rmw(word_kind::pte);
  page_add_new_anon_rmap(env, page, mm, addr, false);
  set_pte_at(env, ptep, entry);
  if (!pte_none(orig)) {  // orig mapped old (a COW, not do_cow_fault)
    page_remove_rmap(old, false);
    env.put_page(old);  // the mapping's reference
  }
  env.put_page(old);  // the caller's reference
  ++env.stats->cow_copies;
  return VM_FAULT_OK;
}

// Models: do_wp_page() (mm/memory.c, checked against 6.1.192; 5.9-5.18 for
// v5.18; for v6.2 the unshare of a non-anon page in a COW mapping, checked
// against 6.12), with FAULT_FLAG_UNSHARE (31cc5bc4af70).
// Locking: mmap_lock read; PT lock held on entry; returns with it dropped.
// Steps: (1) exclusive => reuse; (2) cheap checks (KSM, refcount > 3);
// (3) page lock, free the swap cache, refcount == 1 => (4)
// page_move_anon_rmap + reuse; (5) an unshare leaves the now exclusive
// page behind its R/O PTE; (6) anything else is copied (wp_page_copy).
// v5.18: no flag: reuse iff refcount == 1 under the page lock.
// Simplifications: no lru_add_drain and no "refcount > 1 + swapcache"
// shortcut before the trylock (the model has no LRU pagevecs; the
// refcount == 1 test under the page lock decides either way).
template <class Env>
int do_wp_page(Env &env, typename Env::mm_t &mm, const vm_area_struct &vma, unsigned long addr,
               typename Env::table_t &table, pte_t orig, unsigned flags) RELEASE(table.ptl) {
  auto *ptep = &table.pte[pte_index(addr)];
  const bool unshare = flags & FAULT_FLAG_UNSHARE;
  auto *page = env.pfn_to_page(pte_pfn(orig));
  bool reuse = false;
  if (!PageAnon(page)) {  // a file page in a private mapping: copy
    // Unshare (a R/O long-term pin, gup_must_unshare): up to 6.1 there is
    // nothing to do for a non-anon page and the pin takes the page-cache
    // page; from 6.2 (84209e87c696) a COW mapping's page is copied into an
    // exclusive anon page mapped R/O, which the pin takes.
    if (unshare && !(env.proto.at_least(generation::v6_2) && vma.is_cow_mapping())) {
      table.ptl.unlock();
      return VM_FAULT_OK;
    }
    get_page(page);
    table.ptl.unlock();
    if (unshare) ++env.stats->unshares;
    return wp_page_copy(env, mm, vma, addr, table, orig, page, flags);
  }
  if (env.has_anon_exclusive() && PageAnonExclusive(page) &&
      !env.proto.mutant_is(mutant::b4_no_exclusive_reuse)) {
    reuse = true;  // (1)
  } else if (env.proto.mutant_is(mutant::b3_reuse_mapcount1)) {
    // B3: the pre-5.8 rule: a single mapping means a private page, whatever
    // other references (a vmsplice FOLL_GET) exist.
    if (!PageKsm(page) && page_mapcount(page) == 1 && trylock_page(page)) {
      page_move_anon_rmap(env, page, mm);
      unlock_page(page);
      reuse = true;
    }
  } else if (!PageKsm(page) && page_ref_count(page) <= 3 && trylock_page(page)) {  // (2), (3)
    if (PageSwapCache(page)) env.m->swap.try_to_free_swap(env.m->mem, env.cpu, page);
    if (!PageKsm(page) && page_ref_count(page) == 1) {
      page_move_anon_rmap(env, page, mm);  // (4)
      reuse = true;
    }
    unlock_page(page);
  }
  if (reuse) {
    ++env.stats->cow_reuse;
    if (unshare) {  // (5) exclusive behind a still read-only PTE
      ++env.stats->unshares;
      table.ptl.unlock();
      return VM_FAULT_OK;
    }
    // wp_page_reuse: writable (if the VMA is), dirty, young; I3 holds.
    pte_t entry = pte_mkyoung(pte_mkdirty(orig));
    if (vma.vm_flags & VM_WRITE) entry = pte_mkwrite(entry);
    set_pte_at(env, ptep, entry);
    table.ptl.unlock();
    return VM_FAULT_OK;
  }
  get_page(page);  // (6) copy
  table.ptl.unlock();
  if (unshare) ++env.stats->unshares;
  return wp_page_copy(env, mm, vma, addr, table, orig, page, flags);
}

// Models: swapin_readahead() -> read_swap_cache_async() (mm/swap_state.c,
// checked against 6.1.192), for the faulting entry alone (no readahead window, no VMA or cluster
// readahead). Locking: mmap_lock read; no other lock.
// Steps: (R1) swapcache_prepare takes SWAP_HAS_CACHE: the slot stays ours
// (and allocated) while we read it; (R2) a new page, locked before it is
// visible in the swap cache, as __folio_set_locked does; (R3)
// add_to_swap_cache; (R4) read the slot; the read's completion unlocks the
// page (the release that a faulter's lock_page pairs with).
// Returns the page with the caller's reference (the swap cache holds
// another), or nullptr: *oom when no page could be allocated, else another
// swap-in holds SWAP_HAS_CACHE or no swap PTE refers to the slot any more.
// The kernel then re-looks-up and sleeps a tick in a loop; here the fault
// returns and is repeated, which re-looks-up as well.
template <class Env>
typename Env::page_t *swapin_readahead(Env &env, unsigned long off, bool *oom) {
  auto &swap = env.m->swap;
  *oom = false;
  if (!swap.swapcache_prepare(off)) {  // (R1)
    spin_wait::yield_cpu();            // schedule_timeout_uninterruptible(1)
    return nullptr;
  }
  auto *page = env.alloc_page(0);
  if (!page) {
    swap.swapcache_clear(off);
    *oom = true;
    return nullptr;
  }
  __set_bit(PG_locked, &page->flags);  // (R2) not yet visible: a plain store
  // (R3) cannot fail: only a holder of SWAP_HAS_CACHE adds a page to the
  // swap cache, and we hold it.
  swap.add_to_swap_cache(page, off);
  swap.readpage(env.m->mem, off, page);  // (R4)
  unlock_page(page);
  return page;
}

// Models: should_try_to_free_swap() (mm/memory.c, checked against
// 6.1.192). Locking: page lock.
// The swap cache is dropped when swap is more than half full, or when a
// write fault is likely to be the page's only user: its reference and the
// swap cache's (refcount 2), so that do_swap_page can map it exclusive.
// Not modelled: memory cgroups (mem_cgroup_swap_full is vm_swap_full here)
// and mlock (VM_LOCKED, PG_mlocked): the model has neither.
template <class Env>
bool should_try_to_free_swap(Env &env, typename Env::page_t *page, unsigned flags) {
  if (!PageSwapCache(page)) return false;
  if (env.m->swap.vm_swap_full()) return true;
  return (flags & FAULT_FLAG_WRITE) && !PageKsm(page) && page_ref_count(page) == 2;
}

// Models: do_swap_page() (mm/memory.c, checked against 6.1.192,
// mm/memory.c:3775-4129). v5.18 runs the same steps without the flag
// (the 5.18 "streamlined" rule: a bypass page or refcount 1 is reusable).
// Locking: mmap_lock read; takes the page lock, then the PT lock; calls
// do_wp_page with the PT lock held, which drops it.
// Steps: (1) look the slot up in the swap cache; (2) on a miss, bypass the
// swap cache only on a SWP_SYNCHRONOUS_IO device when one swap PTE refers to
// the slot: SWAP_HAS_CACHE pins the slot (a second faulter of the same PTE
// backs off, and the slot cannot be freed and reused under us), and a new
// page is read that never enters the swap cache; (3) otherwise read it into
// the swap cache (swapin_readahead); (4) lock the page and re-check that it
// still caches this slot (folio_free_swap or swapoff may have removed it,
// and the slot may since cache another page), else drop it and let the
// fault repeat; (5) pte_same under the PT lock; (6) a swap PTE never points
// at an exclusive page; (7) exclusive := SWP_EXCLUSIVE, or the bypass page;
// (8) swap_free, and leave the swap cache if should_try_to_free_swap; (9)
// exclusive or refcount == 1 => map exclusive (writable, dirty for a write
// fault); (10) page_add_anon_rmap (the first mapping makes the page anon);
// (11) a write fault that could not map writable goes on in do_wp_page under
// the same PT lock; (12) the bypass drops SWAP_HAS_CACHE after the PT lock.
// Not modelled: KSM copies (ksm_might_need_to_copy; KSM pages are never
// swapped here), SWP_STABLE_WRITES (writepage is synchronous, nothing is
// under writeback), the uptodate/SIGBUS and hwpoison cases, memcg charges,
// soft-dirty and uffd-wp bits, folio_lock_or_retry's retry (lock_page waits).
template <class Env>
int do_swap_page(Env &env, typename Env::mm_t &mm, const vm_area_struct &vma, unsigned long addr,
                 typename Env::table_t &table, pte_t orig,
                 unsigned flags) NO_THREAD_SAFETY_ANALYSIS {
  auto *ptep = &table.pte[pte_index(addr)];
  auto &swap = env.m->swap;
  const unsigned long off = swp_offset(orig);
  bool need_clear_cache = false;
  auto *page = swap.lookup_swap_cache(off);  // (1)
  auto *swapcache = page;
  if (!page) {
    // The count is read racily, as __swap_count does; a stale count only
    // picks the path, and swapcache_prepare decides who reads the slot.
    if (swap.synchronous_io() && swap.swap_count(off) == 1) {  // (2)
      if (!swap.swapcache_prepare(off)) {
        spin_wait::yield_cpu();  // schedule_timeout_uninterruptible(1); the fault repeats
        return VM_FAULT_OK;
      }
      need_clear_cache = true;
      page = env.alloc_page(0);
      if (!page) {
        swap.swapcache_clear(off);
        return VM_FAULT_OOM;
      }
      __SetPageSwapBacked(page);
      swap.readpage(env.m->mem, off, page);  // synchronous; the page is not visible
    } else {
      bool oom;
      page = swapin_readahead(env, off, &oom);  // (3)
      swapcache = page;
      if (!page) return oom ? VM_FAULT_OOM : VM_FAULT_OK;
    }
  }
  env.at("SWAPIN_LOCK");
  lock_page(page);  // (4)
  if (swapcache &&
      (!PageSwapCache(page) || page->private_.load(std::memory_order_relaxed) != off)) {
    unlock_page(page);
    env.put_page(page);
    return VM_FAULT_OK;
  }
  table.ptl.lock();
  if (ptep->load(std::memory_order_relaxed) != orig.v) {  // (5) raced with another swap-in
    table.ptl.unlock();
    unlock_page(page);
    env.put_page(page);
    if (need_clear_cache) swap.swapcache_clear(off);
    return VM_FAULT_OK;
  }
  if (env.has_anon_exclusive())  // (6)
    VM_BUG_ON_PFN(PageAnon(page) && PageAnonExclusive(page), page->pfn,
                  "do_swap_page: swap PTE maps an exclusive page (I7)");
  bool exclusive = false;  // (7) under the PT lock: fork may share the entry until now
  if (!PageKsm(page)) {
    exclusive = env.has_anon_exclusive() && !env.proto.mutant_is(mutant::b11_no_swp_exclusive) &&
                pte_swp_exclusive(orig);
    if (page != swapcache) exclusive = true;  // never exposed in the swap cache
  }
  swap.swap_free(off);  // (8)
  if (should_try_to_free_swap(env, page, flags)) swap.try_to_free_swap(env.m->mem, env.cpu, page);
  bool write = flags & FAULT_FLAG_WRITE;
  pte_t entry = pfn_pte(page->pfn, false);
  unsigned rmap_flags = 0;
  if (!PageKsm(page) && (exclusive || page_ref_count(page) == 1)) {  // (9)
    if (write) {
      entry = pte_mkdirty(entry);
      if (vma.vm_flags & VM_WRITE) entry = pte_mkwrite(entry);  // maybe_mkwrite
      write = false;  // the write fault is done (FOLL_FORCE included)
    }
    rmap_flags |= RMAP_EXCLUSIVE;
  }
  page_add_anon_rmap(env, page, mm, addr, rmap_flags);  // (10)
  if (env.has_anon_exclusive())
    vm_bug_on_writable_not_exclusive(pte_write(entry), page, "do_swap_page");
  set_pte_at(env, ptep, entry);  // our lookup reference becomes the mapping's
  unlock_page(page);
  if (page == swapcache)
    ++env.stats->swapin_swapcache;
  else
    ++env.stats->swapin_bypass;
  int r = VM_FAULT_OK;
  if (write)  // (11)
    r = do_wp_page(env, mm, vma, addr, table, entry, flags);
  else
    table.ptl.unlock();
  if (need_clear_cache) swap.swapcache_clear(off);  // (12)
  return r;
}

// A private file mapping's read fault: map the page-cache page R/O.
// Models: do_read_fault() -> finish_fault() for a MAP_PRIVATE file VMA
// (mm/memory.c, checked against 6.1.192; no fault-around, no page cache
// I/O: the file pages are always there). Locking: PT lock held.
template <class Env>
void do_read_fault_file(Env &env, const vm_area_struct &vma, unsigned long addr,
                        typename Env::template atomic<pteval_t> *ptep) {
  auto *page = env.pfn_to_page(vma_file_pfn(vma, addr));
  get_page(page);
  page->_mapcount.fetch_add(1, std::memory_order_relaxed);  // page_add_file_rmap
  word_rmw(word_kind::mapcount);
  set_pte_at(env, ptep, pfn_pte(page->pfn, false));
}

// Models: handle_mm_fault() -> __handle_mm_fault() -> handle_pte_fault()
// (mm/memory.c, checked against 6.1.192). Locking: mmap_lock read held by
// the caller. Simplifications: a read fault on an empty anon PTE maps a new
// page, not the zero page (nor the huge zero page).
// Returns VM_FAULT_*; VM_FAULT_OK also when the fault raced and should
// simply be retried by re-walking (the caller always re-walks).
template <class Env>
int handle_mm_fault(Env &env, typename Env::mm_t &mm, unsigned long addr, unsigned flags) {
  ++env.stats->faults;
  vm_area_struct *vma = mm.find_vma(addr);
  if (!vma) return VM_FAULT_SIGSEGV;
  const bool write = flags & FAULT_FLAG_WRITE;
  if (write && !(vma->vm_flags & VM_WRITE) &&
      !((flags & FAULT_FLAG_FORCE) && (vma->vm_flags & VM_MAYWRITE)))
    return VM_FAULT_SIGSEGV;
  auto *pmdp = mm.pmd_offset(addr);
  pmd_t pmd{pmdp->load(std::memory_order_acquire)};
  if (pmd_none(pmd)) {
    if ((vma->vm_flags & VM_HUGEPAGE) && vma->vm_start <= mm.pmd_start(addr) &&
        vma->vm_end >= mm.pmd_start(addr) + PTRS_PER_PTE) {
      const int r = do_huge_pmd_anonymous_page(env, mm, *vma, addr);
      if (r != VM_FAULT_OOM) return r;
    }
    return __pte_alloc(env, mm, addr);
  }
  if (pmd_trans_huge(pmd)) {
    if ((flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE)) && !pte_write(pmd))
      return do_huge_pmd_wp_page(env, mm, *vma, addr, flags);
    return VM_FAULT_OK;
  }
  if (!pmd_table(pmd)) return VM_FAULT_RETRY;  // PMD migration entry / invalidated: retry
  auto &table = mm.table_of(pmd);
  auto *ptep = &table.pte[pte_index(addr)];
  table.ptl.lock();
  if (pmdp->load(std::memory_order_relaxed) != pmd.v) {
    table.ptl.unlock();
    return VM_FAULT_OK;
  }
  const pte_t pte{ptep->load(std::memory_order_relaxed)};
  if (pte_none(pte)) {
    int r = VM_FAULT_OK;
    if (vma_is_file(*vma) && write) {  // do_cow_fault: a private anon copy, exclusive
      table.ptl.unlock();
      auto *file_page = env.pfn_to_page(vma_file_pfn(*vma, addr));
      get_page(file_page);
      return wp_page_copy(env, mm, *vma, addr, table, pte, file_page, flags & ~FAULT_FLAG_FORCE);
    }
    if (vma_is_file(*vma))
      do_read_fault_file(env, *vma, addr, ptep);
    else
      r = do_anonymous_page(env, mm, *vma, addr, ptep);
    table.ptl.unlock();
    return r;
  }
  if (is_swap_entry(pte)) {
    table.ptl.unlock();
    return do_swap_page(env, mm, *vma, addr, table, pte, flags);
  }
  if (!pte_present(pte)) {  // migration entry: migration_entry_wait
    table.ptl.unlock();
    return VM_FAULT_RETRY;
  }
  if ((flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE)) && !pte_write(pte))
    return do_wp_page(env, mm, *vma, addr, table, pte, flags);
  if (write) ptep->store(pte_mkyoung(pte_mkdirty(pte)).v, std::memory_order_relaxed);
  table.ptl.unlock();
  return VM_FAULT_OK;
}

// A CPU's load or store at addr (see the header comment): the TLB lookup and
// the access are one PT-locked step; a miss faults (mmap_lock read) and
// retries. Returns false on SIGSEGV.
template <class Env>
bool cpu_access(Env &env, typename Env::mm_t &mm, unsigned long addr, unsigned word, bool write,
                uint64_t *value) {
  for (int tries = 0; tries < 1000; tries++) {
    auto *pmdp = mm.pmd_offset(addr);
    const pmd_t pmd{pmdp->load(std::memory_order_acquire)};
    if (pmd_trans_huge(pmd)) {
      lock_guard<spinlock_t> g(mm.page_table_lock);
      const pmd_t now{pmdp->load(std::memory_order_relaxed)};
      if (now == pmd && (!write || pte_write(pmd))) {
        const unsigned long pfn = pte_pfn(pmd) + pte_index(addr);
        if (write)
          env.m->mem.write_word(pfn, word, *value);
        else
          *value = env.m->mem.read_word(pfn, word);
        return true;
      }
    } else if (pmd_table(pmd)) {
      auto &table = mm.table_of(pmd);
      auto *ptep = &table.pte[pte_index(addr)];
      lock_guard<ptl_t> ptl(table.ptl);
      const pte_t pte{ptep->load(std::memory_order_relaxed)};
      if (pmdp->load(std::memory_order_relaxed) == pmd.v && pte_present(pte) &&
          (!write || pte_write(pte))) {
        if (write)
          env.m->mem.write_word(pte_pfn(pte), word, *value);
        else
          *value = env.m->mem.read_word(pte_pfn(pte), word);
        return true;
      }
    }
    mmap_read_guard g(mm.mmap_lock);
    const int r = handle_mm_fault(env, mm, addr, write ? FAULT_FLAG_WRITE : 0);
    if (r & (VM_FAULT_SIGSEGV | VM_FAULT_OOM)) return false;
  }
  return false;
}

// Models: free_swap_cache() (mm/swap_state.c, checked against 6.1.192),
// which zap applies to every
// page it releases (free_pages_and_swap_cache): an unmapped page still in
// the swap cache, that no swap entry refers to any more, leaves it. Without
// this, a page left in the swap cache by a failed swap-out (a pinned page,
// core/vmscan.h) would never be freed. Locking: PT lock held; the page
// lock is only tried (shrink_page takes the page lock before the PT lock).
template <class Env>
void free_swap_cache(Env &env, typename Env::page_t *page) {
  if (PageSwapCache(page) && page_mapcount(page) == 0 && trylock_page(page)) {
    env.m->swap.try_to_free_swap(env.m->mem, env.cpu, page);
    unlock_page(page);
  }
}

// Models: zap_pte_range() for one PTE (MADV_DONTNEED, munmap, exit;
// mm/memory.c, checked against 6.1.192). Locking: PT lock held. The flag is
// left set (core/rmap.h page_remove_rmap says why).
// Simplifications: the page is released at once, not after the mmu_gather
// TLB flush (a GUP-fast that read the old PTE fails on the zero refcount or
// on its (B4) re-check either way); a swap entry is dropped with swap_free,
// not free_swap_and_cache, so its swap-cache page waits for reclaim.
template <class Env>
void zap_one_pte(Env &env, typename Env::template atomic<pteval_t> *ptep) {
  const pte_t pte{ptep->exchange(0, std::memory_order_seq_cst)};  // ptep_get_and_clear_full
  word_rmw(word_kind::pte);
  if (pte_present(pte)) {
    auto *page = env.pfn_to_page(pte_pfn(pte));
    page_remove_rmap(page, false);
    free_swap_cache(env, page);
    env.put_page(page);
  } else if (is_swap_entry(pte)) {
    env.m->swap.swap_free(swp_offset(pte));
  } else if (is_migration_entry(pte)) {
    // the migration holds the page; remove_migration_ptes finds nothing here
  }
}

template <class Env>
void zap_huge_pmd(Env &env, typename Env::mm_t &mm, unsigned long addr);

// Models: zap_page_range() / zap_page_range_single() (MADV_DONTNEED;
// munmap's unmap_region without free_pgtables; mm/memory.c, checked against
// 6.1.192: zap_pmd_range splits a partly covered huge PMD and zaps a whole
// one).
// Locking: mmap_lock (read for MADV_DONTNEED).
template <class Env>
void zap_page_range(Env &env, typename Env::mm_t &mm, unsigned long start, unsigned long end) {
  env.at("ZAP");
  for (unsigned long addr = start; addr < end;) {
    const unsigned long next = mm.pmd_addr_end(addr, end);
    const pmd_t pmd{mm.pmd_offset(addr)->load(std::memory_order_acquire)};
    if (pmd_trans_huge(pmd)) {
      if (addr == mm.pmd_start(addr) && next - addr == PTRS_PER_PTE) {
        zap_huge_pmd(env, mm, addr);
        addr = next;
        continue;
      }
      __split_huge_pmd(env, mm, addr);
      continue;
    }
    if (pmd_table(pmd)) {
      auto &table = mm.table_of(pmd);
      lock_guard<ptl_t> ptl(table.ptl);
      for (unsigned long a = addr; a < next; a++) zap_one_pte(env, &table.pte[pte_index(a)]);
    }
    addr = next;
  }
}

// Models: tlb_remove_table_sync_one() then pte_free() (mm/mmu_gather.c,
// checked against 6.1.192): a PTE table whose
// PMD is cleared (and flushed) is freed only after the IPI that waits for
// GUP-fast's IRQ-off sections (mutant pt_free_no_ipi skips it). Shared by
// free_pgtables and khugepaged's collapse.
// Locking: mmap_lock write; no PT lock (the table is unreachable).
template <class Env>
void pte_free_synced(Env &env, pmd_t pmd) {
  env.at("FREE_PT");
  if (!env.proto.mutant_is(mutant::pt_free_no_ipi)) env.m->cpus.wait_for_sections(env.cpu);
  env.m->tables.free(pmd_table_index(pmd));
}

// Models: free_pgtables() -> free_pte_range() -> pte_free_tlb() (mm/memory.c,
// checked against 6.1.192), the table freed through pte_free_synced.
// Locking: mmap_lock write; the range's PTEs are already zapped.
// Simplification: the kernel frees through the mmu_gather (x86 native:
// after the freed_tables flush IPI; RCU platforms: after a grace period, or
// the sync IPI when the batch cannot be allocated); one synchronous wait
// gives a GUP-fast walker the same guarantee.
template <class Env>
void free_pgtables(Env &env, typename Env::mm_t &mm, unsigned long start, unsigned long end) {
  for (unsigned long a = mm.pmd_start(start); a < end; a += PTRS_PER_PTE) {
    if (a < start || a + PTRS_PER_PTE > end) continue;
    auto *pmdp = mm.pmd_offset(a);
    pmd_t pmd;
    {
      lock_guard<spinlock_t> g(mm.page_table_lock);
      pmd.v = pmdp->exchange(0, std::memory_order_seq_cst);  // pmd_clear + flush
      word_rmw(word_kind::pmd);
    }
    if (pmd_table(pmd)) pte_free_synced(env, pmd);
  }
}

// Models: do_munmap() for a whole VMA (mm/mmap.c, checked against 6.1.192;
// splitting VMAs is not modelled). Locking: takes mmap_lock write and keeps
// it; munmap(2) downgrades it to read once the VMAs are detached.
template <class Env>
void do_munmap(Env &env, typename Env::mm_t &mm, unsigned long start, unsigned long end) {
  mmap_write_guard g(mm.mmap_lock);
  zap_page_range(env, mm, start, end);
  free_pgtables(env, mm, start, end);
  std::erase_if(mm.vmas,
                [&](const vm_area_struct &v) { return v.vm_start >= start && v.vm_end <= end; });
}

// Models: madvise(MADV_DONTNEED) (mm/madvise.c, checked against 6.1.192).
// Locking: takes mmap_lock read.
template <class Env>
void madvise_dontneed(Env &env, typename Env::mm_t &mm, unsigned long start, unsigned long end) {
  mmap_read_guard g(mm.mmap_lock);
  zap_page_range(env, mm, start, end);
}

// Models: exit_mmap() (mm/mmap.c, checked against 6.1.192): zap everything
// and free the page tables. Locking: takes mmap_lock write for both; 6.1
// zaps under the read lock and takes the write lock for free_pgtables.
template <class Env>
void exit_mmap(Env &env, typename Env::mm_t &mm) {
  mmap_write_guard g(mm.mmap_lock);
  zap_page_range(env, mm, 0, kMmPages);
  free_pgtables(env, mm, 0, kMmPages);
  mm.vmas.clear();
}

// mmap of an anonymous private region (or a private file mapping).
// Locking: takes mmap_lock write.
template <class Env>
vm_area_struct *mmap_region(Env &, typename Env::mm_t &mm, unsigned long start, unsigned long len,
                            unsigned vm_flags, long file_first_pfn = -1) {
  mmap_write_guard g(mm.mmap_lock);
  vm_area_struct v;
  v.vm_start = start;
  v.vm_end = start + len;
  v.vm_flags = vm_flags | VM_MAYWRITE;
  v.file_pfn = file_first_pfn;
  mm.vmas.push_back(v);
  return &mm.vmas.back();
}

}  // namespace anonx

#include "huge_memory.h"
