// SPDX-License-Identifier: GPL-2.0-only
// coverage_setup.cc: the generated scenario of a coverage cell (coverage_cell.h),
// its accesses and its set-up: new processes, the state reached by its row's
// sequence (coverage_states.cc) and verified.
#include "coverage_cell.h"

namespace anonx::stress::cov {

const char *coverage_instance::align_label(unsigned role) const {
  const char *a = kOps[cell.path].align, *b = kOps[cell.racer].align;
  if (!a || !b) return nullptr;  // both roles meet, or neither waits for the other
  return role == 0 ? a : b;
}

unsigned coverage_instance::jitter(unsigned role) const {
  return align_label(0) ? 0 : (role == 1 ? 64 : 8);
}

// The page's VMA, as the set-up mapped it (the racer may be unmapping it).
std::pair<unsigned long, unsigned long> coverage_instance::vma_range() const {
  if (addr == A_THP) return {THP_BASE, THP_BASE + THP_LEN};
  if (addr == A_FILE) return {FILE_BASE, FILE_BASE + FILE_LEN};
  return {SMALL_BASE, SMALL_BASE + SMALL_LEN};
}

// ---- accesses ------------------------------------------------------------
// A CPU access that retries a while (a migration entry makes the fault
// wait, as migration_entry_wait does).
bool coverage_instance::access(actor &a, mm_struct &mm, unsigned long at, unsigned word, bool write,
                               uint64_t *v) {
  for (unsigned tries = 0; tries < 64; tries++) {
    if (cpu_access(a.env, mm, at, word, write, v)) return true;
    mmap_read_guard g(mm.mmap_lock);
    if (!mm.find_vma(at)) return false;  // SIGSEGV: unmapped
    std::this_thread::yield();
  }
  return false;
}

void coverage_instance::setup_store(actor &a, mm_struct &mm, unsigned word, uint64_t v) {
  if (!access(a, mm, addr, word, true, &v)) reached = false;
}

// ---- set-up (role 0, between rendezvous) ---------------------------------
void coverage_instance::setup(actor &a) {
  file = a.env.alloc_page(0);  // a page-cache page: the cache holds this reference
  for (unsigned i = 0; i < kWordsPerPage; i++) m.mem.words(file->pfn)[i] = token(kFileTag, 0, 0, i);
  kpage = a.env.alloc_page(0);  // the KSM stable page (the stable tree's reference)
  __SetPageSwapBacked(kpage);
  kpage->mapping.store((1ul << 2) | PAGE_MAPPING_KSM, std::memory_order_release);
  reach(a);
}

void coverage_instance::owned(std::vector<owned_ref> &out) const {
  out.push_back({file, 1});
  out.push_back({kpage, 1});
}

page *coverage_instance::page_now(mm_struct &mm) {
  const long pfn = mapped_pfn(mm, addr);
  return pfn < 0 ? nullptr : m.mem.pfn_to_page(static_cast<unsigned long>(pfn));
}

pte_t coverage_instance::pte_now(mm_struct &mm) NO_THREAD_SAFETY_ANALYSIS {
  auto *table = pte_table_of<stress_env>(mm, addr);
  if (!table) return pte_t{0};
  unprofiled_guard<ptl_t> ptl(table->ptl);
  return pte_t{table->pte[pte_index(addr)].load(std::memory_order_relaxed)};
}

void coverage_instance::fork_child(actor &a) {
  if (dup_mmap(a.env, *mms[1], mm0()) == 0)
    child = true;
  else
    reached = false;
}

void coverage_instance::begin_migration(actor &a, page *p) {
  if (!p || !try_get_page(p)) return;
  if (!trylock_page(p)) {
    a.env.put_page(p);
    return;
  }
  if (!rmap_walk(a.env, p, false, [&](mm_struct &, auto *ptep, pte_t) {
        return try_to_migrate_one(a.env, p, ptep);
      })) {
    unlock_page(p);
    a.env.put_page(p);
    return;
  }
  migrating = p;
}

void coverage_instance::finish_migration(actor &a) {
  page *p = migrating;
  if (!p) return;
  rmap_walk(a.env, p, true, [&](mm_struct &, auto *ptep, pte_t entry) {
    return remove_migration_pte(a.env, p, ptep, entry);
  });
  unlock_page(p);
  a.env.put_page(p);
  migrating = nullptr;
}

void coverage_instance::reach(actor &a) {
  for (auto &mm : mms) mm = std::make_unique<mm_struct>(m);
  child = false;
  reached = true;
  target = state_pin = state_ref = nullptr;
  mmap_region(a.env, mm0(), SMALL_BASE, SMALL_LEN, VM_READ | VM_WRITE);
  mmap_region(a.env, mm0(), THP_BASE, THP_LEN, VM_READ | VM_WRITE | VM_HUGEPAGE);
  mmap_region(a.env, mm0(), FILE_BASE, FILE_LEN, VM_READ | VM_WRITE, static_cast<long>(file->pfn));
  const uint64_t it = a.iteration;
  m.swap.set_synchronous_io(it & 1);
  if (caps & C_FILE) {
    uint64_t v;
    if (!access(a, mm0(), addr, 0, false, &v)) reached = false;
    for (unsigned w = 0; w < kWords; w++) init[w] = token(kFileTag, 0, 0, w);
  } else {
    for (unsigned w = 0; w < kWords; w++) {
      init[w] = token(kSetupTag, w, 0, it);
      setup_store(a, mm0(), w, init[w]);
    }
    uint64_t zero = 0;
    if (!access(a, mm0(), addr, kDmaWord, true, &zero)) reached = false;
  }
  if (cell.path == O_COLLAPSE || cell.racer == O_COLLAPSE)
    for (unsigned long x = SMALL_BASE; x < SMALL_BASE + SMALL_LEN; x++) {
      uint64_t v = x;
      if (x != addr && !access(a, mm0(), x, 0, true, &v)) reached = false;
    }
  page *p = page_now(mm0());
  if (states()[cell.state].reach) states()[cell.state].reach(*this, a, p);
  if (cell.path == O_KSM || cell.racer == O_KSM) ksm_prepare(page_now(mm0()));
  reached = reached && verify();
  target = page_now(mm0());
  if (cell.path == O_FORK || cell.racer == O_FORK)
    mms[2]->flags.store(0, std::memory_order_relaxed);
  if (!reached) a.access_failed = true;  // the state was not reached: INCONCLUSIVE
}

void coverage_instance::read_back(actor &a) {
  uint64_t v;
  if (!access(a, mm0(), addr, 0, false, &v)) reached = false;
}

// The stable page gets the contents of the page it will merge with (KSM
// merges only identical pages); nothing maps it between iterations.
void coverage_instance::ksm_prepare(page *p) {
  if (!p || page_mapcount(kpage) > 0) return;
  m.mem.copy_page(kpage->pfn, p->pfn);
}

// The state is what its name says.
bool coverage_instance::verify() {
  page *p = page_now(mm0());
  const pte_t pte = pte_now(mm0());
  const pmd_t pmd{mm0().pmd_offset(addr)->load(std::memory_order_relaxed)};
  if (caps & C_MIGRATION) return migrating && is_migration_entry(pte);
  if (caps & C_SWAPENTRY) return is_swap_entry(pte);
  if (!p) return false;
  if ((caps & C_CHILD) && !is_swap_entry(pte_now(*mms[1])) && mapped_pfn(*mms[1], addr) < 0)
    return false;
  if ((caps & C_SWAPCACHE) && !PageSwapCache(p)) return false;
  // what the state's row adds (a pin or reference it holds, the child's entry)
  if (states()[cell.state].verify && !states()[cell.state].verify(*this, p)) return false;
  if (caps & C_PMD) return pmd_trans_huge(pmd);
  if (caps & C_PTE_THP) return pmd_table(pmd) && PageCompound(p);
  if (caps & C_KSM) return PageKsm(p);
  if (caps & C_FILE) return p == file;
  return PageAnon(p) && !PageCompound(p) && !PageKsm(p);
}

}  // namespace anonx::stress::cov
