// SPDX-License-Identifier: GPL-2.0-only
// mm.h: the address space (mm_struct) and the machine it runs on.
//
//  - page tables: one PMD level of kPmdsPerMm entries, each none, a huge
//    leaf (THP) or a pointer to a PTE table of 512 entries with its own
//    split PT lock; the PMD entries share mm->page_table_lock (the kernel
//    has split PMD locks too; one is enough for one PMD level).
//  - every PMD-mapped THP has a PTE table deposited with it (as in the
//    kernel), which a split withdraws instead of allocating.
//  - mmap_lock (rwsem), write_protect_seq (seqcount, written by fork with
//    mmap_lock held for write), the mm flags word with MMF_HAS_PINNED.
//  - VMAs: anonymous private mappings, page granular addresses (an address
//    is a virtual page number).
//  - PTE tables come from a type-stable pool, so a lockless walker that
//    races with munmap reads a freed table (poisoned and marked free), never
//    unmapped memory: the oracle reports such a walk.
#pragma once

#include <algorithm>
#include <atomic>
#include <memory>
#include <vector>

#include "cpu.h"
#include "page_alloc.h"
#include "pte.h"
#include "ptl.h"
#include "swap.h"

namespace anonx {

inline constexpr unsigned kPmdsPerMm = 4;
inline constexpr unsigned long kMmPages = kPmdsPerMm * PTRS_PER_PTE;
inline constexpr unsigned MMF_HAS_PINNED = 28;  // include/linux/sched/coredump.h
inline constexpr pteval_t kPoisonPte = 0xdead000000000000ull | SWP_TYPE_MASK;

enum vm_flags : unsigned {
  VM_READ = 0x1,
  VM_WRITE = 0x2,
  VM_MAYWRITE = 0x20,
  VM_DONTCOPY = 0x20000,
  VM_HUGEPAGE = 0x20000000,
};

struct vm_area_struct {
  unsigned long vm_start = 0, vm_end = 0;  // [start, end) in pages
  unsigned vm_flags = 0;
  long file_pfn = -1;  // private file mapping: pfn of the first page-cache page, else -1
  bool is_cow_mapping() const { return (vm_flags & VM_MAYWRITE) != 0; }  // private, may write
};

inline bool vma_is_file(const vm_area_struct &v) { return v.file_pfn >= 0; }
inline unsigned long vma_file_pfn(const vm_area_struct &v, unsigned long addr) {
  return static_cast<unsigned long>(v.file_pfn) + (addr - v.vm_start);
}

template <template <class> class Atomic = std::atomic>
struct alignas(kNoFalseSharing) basic_pte_table {
  ptl_t ptl;
  Atomic<int> in_use{0};
  alignas(kCacheLine) Atomic<pteval_t> pte[PTRS_PER_PTE];
};

template <template <class> class Atomic = std::atomic>
class basic_table_pool {
 public:
  using table_t = basic_pte_table<Atomic>;
  explicit basic_table_pool(unsigned n) : tables_(new table_t[n]) {
    for (unsigned i = n; i > 0; i--) free_.push_back(i - 1);
  }
  // pte_alloc_one: a zeroed table, or -1.
  long alloc() {
    unsigned long t;
    {
      lock_guard<spinlock_t> g(lock_);
      if (free_.empty()) return -1;
      t = free_.back();
      free_.pop_back();
    }
    for (auto &e : tables_[t].pte) e.store(0, std::memory_order_relaxed);
    tables_[t].in_use.store(1, std::memory_order_release);
    return static_cast<long>(t);
  }
  // pte_free, after the IRQ-off sections that might walk it are gone:
  // poison, mark free.
  void free(unsigned long t) {
    tables_[t].in_use.store(0, std::memory_order_relaxed);
    for (auto &e : tables_[t].pte) e.store(kPoisonPte, std::memory_order_relaxed);
    lock_guard<spinlock_t> g(lock_);
    free_.push_back(t);
  }
  table_t &operator[](unsigned long t) { return tables_[t]; }

 private:
  spinlock_t lock_{lock_class::pgtable_lock};
  std::unique_ptr<table_t[]> tables_;
  std::vector<unsigned long> free_;
};

template <template <class> class Atomic = std::atomic>
struct basic_mm;

// The machine: memory, page-table pages, swap, and the CPUs' IRQ-off
// sections. One per stress cell (cells do not share memory).
template <template <class> class Atomic = std::atomic>
struct basic_machine {
  basic_machine(unsigned long frames, unsigned long huge_blocks, unsigned nr_cpus,
                unsigned nr_tables = 64, unsigned long swap_slots = 1024)
      : mem(frames, huge_blocks), tables(nr_tables), swap(swap_slots), cpus(nr_cpus) {}
  basic_memmap<Atomic> mem;
  basic_table_pool<Atomic> tables;
  basic_swap_device<Atomic> swap;
  basic_cpu_sections<Atomic> cpus;
  Atomic<unsigned long> next_anon_vma{1};
  // Every mm, for the rmap walk (the anon_vma tree of the kernel: a walk
  // visits every mm at the page's address and keeps those that map it).
  spinlock_t mm_list_lock{lock_class::rmap_lock};
  std::vector<basic_mm<Atomic> *> mms;
};

template <template <class> class Atomic>
struct basic_mm {
  using table_t = basic_pte_table<Atomic>;

  explicit basic_mm(basic_machine<Atomic> &m)
      : machine(m), anon_vma(m.next_anon_vma.fetch_add(1, std::memory_order_relaxed)) {
    lock_guard<spinlock_t> g(m.mm_list_lock);
    m.mms.push_back(this);
  }
  ~basic_mm() {
    lock_guard<spinlock_t> g(machine.mm_list_lock);
    std::erase(machine.mms, this);
  }
  basic_mm(const basic_mm &) = delete;
  basic_mm &operator=(const basic_mm &) = delete;

  basic_machine<Atomic> &machine;
  rw_semaphore mmap_lock;
  alignas(kNoFalseSharing) Atomic<unsigned> write_protect_seq{0};
  alignas(kNoFalseSharing) Atomic<unsigned long> flags{0};
  alignas(kNoFalseSharing) spinlock_t page_table_lock{lock_class::pmd_lock};
  Atomic<pteval_t> pmd[kPmdsPerMm] = {};
  // pmd_huge_pte: per PMD entry, the PTE table deposited with the THP it
  // maps (pgtable_trans_huge_deposit), or -1. A split withdraws it, a zap
  // frees it. Under page_table_lock (the PMD lock).
  long pmd_huge_pte[kPmdsPerMm] = {-1, -1, -1, -1};
  static_assert(kPmdsPerMm == 4, "pmd_huge_pte's initializer");
  std::vector<vm_area_struct> vmas;  // under mmap_lock
  unsigned long anon_vma;            // identity for page->mapping

  // find_vma (mmap_lock held).
  vm_area_struct *find_vma(unsigned long addr) {
    for (auto &v : vmas)
      if (addr >= v.vm_start && addr < v.vm_end) return &v;
    return nullptr;
  }

  Atomic<pteval_t> *pmd_offset(unsigned long addr) { return &pmd[addr / PTRS_PER_PTE]; }
  table_t &table_of(pmd_t pmd) { return machine.tables[pmd_table_index(pmd)]; }
  unsigned long pmd_start(unsigned long addr) const { return addr & ~(PTRS_PER_PTE - 1ul); }
  // pmd_addr_end: the end of [addr, end) within addr's page table.
  unsigned long pmd_addr_end(unsigned long addr, unsigned long end) const {
    return std::min(end, pmd_start(addr) + PTRS_PER_PTE);
  }
};

using machine = basic_machine<>;
using mm_struct = basic_mm<>;

// ---- seqcount (include/linux/seqlock.h) -----------------------------------

// raw_write_seqcount_begin: the count becomes odd, then smp_wmb, as the
// kernel (include/linux/seqlock.h; checked against 6.1.192). The pin check
// that follows is a store->load pairing with GUP-fast's W(pin) ; mb ;
// R(seq) (mm/gup.c lockless_pages_from_mm, 6.1): smp_wmb does not order
// it. On x86 the PT lock fork takes next is a locked RMW, a full barrier,
// and gives the order, as in the kernel; whether an acquire-only lock
// (arm64's qspinlock) does is the weak-memory back end's question, not
// settled by a stronger barrier here.
template <class A>
ANONX_INLINE void raw_write_seqcount_begin(A *seq) {
  seq->store(seq->load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  smp_wmb();  // pairs with the smp_rmb() of raw_read_seqcount / read_seqcount_retry
}
// raw_write_seqcount_end: the count becomes even; smp_wmb orders fork's
// writes before it (pairs with read_seqcount_retry's smp_rmb).
template <class A>
ANONX_INLINE void raw_write_seqcount_end(A *seq) {
  smp_wmb();
  seq->store(seq->load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}
// raw_read_seqcount: load, then smp_rmb (pairs with the writer's smp_wmb).
template <class A>
ANONX_INLINE unsigned raw_read_seqcount(const A *seq) {
  const unsigned s = seq->load(std::memory_order_relaxed);
  smp_rmb();
  return s;
}
// read_seqcount_retry: smp_rmb, then true if the count moved.
template <class A>
ANONX_INLINE bool read_seqcount_retry(const A *seq, unsigned start) {
  smp_rmb();
  return seq->load(std::memory_order_relaxed) != start;
}

}  // namespace anonx
