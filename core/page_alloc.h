// SPDX-License-Identifier: GPL-2.0-only
// page_alloc.h: the memmap (type-stable frames), page contents, and the page
// allocator: per-CPU caches over a global free list for order-0 pages, a
// free list of order-9 blocks for THP, with the flag checks of
// mm/page_alloc.c free_pages_prepare and check_new_page (6.1).
//
// Contents: each frame has kWordsPerPage words of plain memory beside the
// memmap. Accesses through a mapping (the process) or a pin (DMA) are relaxed
// std::atomic_ref operations: the CPU and a device race legitimately on the
// same page, as in the kernel. A page being prepared before publication
// (clear_page, the destination of a copy) is written with plain stores; its
// publication (the PTE store under the PT lock) orders those stores for
// every later reader. A DMA through a reference that is no longer held races
// with that plain initialisation of a recycled frame, which ThreadSanitizer
// reports (tests/tsan_dma_unpinned.cc).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "page.h"
#include "ptl.h"

namespace anonx {

inline constexpr unsigned kWordsPerPage = 4;
inline constexpr unsigned kMaxCpus = 256;
inline constexpr unsigned kPcpBatch = 16;
inline constexpr unsigned kPcpHigh = 64;
// page_type of a free buddy page, kept in _mapcount (PageBuddy).
inline constexpr int PAGE_BUDDY_MAPCOUNT_VALUE = -128;

template <class P>
ANONX_INLINE bool PageBuddy(const P *p) {
  return p->_mapcount.load(std::memory_order_relaxed) == PAGE_BUDDY_MAPCOUNT_VALUE;
}

template <template <class> class Atomic = std::atomic>
class basic_memmap {
 public:
  using page_t = basic_page<Atomic>;

  // nr_frames frames, of which the first huge_blocks * 512 are kept as
  // order-9 blocks for THP and the rest are order-0 pages.
  basic_memmap(unsigned long nr_frames, unsigned long huge_blocks)
      : nr_(nr_frames),
        pages_(new page_t[nr_frames]),
        contents_(new uint64_t[nr_frames * kWordsPerPage]()),
        pcp_(new pcp[kMaxCpus]) {
    if (huge_blocks * HPAGE_PMD_NR > nr_frames / 2) huge_blocks = nr_frames / 2 / HPAGE_PMD_NR;
    for (unsigned long i = 0; i < nr_frames; i++) {
      pages_[i].pfn = static_cast<uint32_t>(i);
      pages_[i]._mapcount.store(PAGE_BUDDY_MAPCOUNT_VALUE, std::memory_order_relaxed);
    }
    const unsigned long huge_end = huge_blocks * HPAGE_PMD_NR;
    for (unsigned long b = 0; b < huge_blocks; b++) free_huge_.push_back(b * HPAGE_PMD_NR);
    for (unsigned long i = nr_frames; i > huge_end; i--) free_small_.push_back(i - 1);
  }

  unsigned long nr_frames() const { return nr_; }
  page_t *pfn_to_page(unsigned long pfn) { return &pages_[pfn]; }
  const page_t *pfn_to_page(unsigned long pfn) const { return &pages_[pfn]; }
  static unsigned long page_to_pfn(const page_t *p) { return p->pfn; }

  // ---- contents -----------------------------------------------------------
  uint64_t *words(unsigned long pfn) { return &contents_[pfn * kWordsPerPage]; }
  // A CPU or DMA access through a mapping or a pin.
  uint64_t read_word(unsigned long pfn, unsigned i) {
    return std::atomic_ref<uint64_t>(words(pfn)[i]).load(std::memory_order_relaxed);
  }
  void write_word(unsigned long pfn, unsigned i, uint64_t v) {
    std::atomic_ref<uint64_t>(words(pfn)[i]).store(v, std::memory_order_relaxed);
  }
  // copy_user_highpage: the source may be live (read as a CPU would), the
  // destination is not yet published (plain stores).
  void copy_page(unsigned long dst, unsigned long src) {
    for (unsigned i = 0; i < kWordsPerPage; i++) words(dst)[i] = read_word(src, i);
  }
  void clear_page(unsigned long pfn) {
    for (unsigned i = 0; i < kWordsPerPage; i++) words(pfn)[i] = 0;
  }

  // ---- allocation ----------------------------------------------------------
  // alloc_pages(order 0 or 9): refcount 1, every AT_PREP bit clear, not anon
  // (I10). nullptr when memory is exhausted.
  page_t *alloc_page(int cpu, unsigned order) {
    page_t *p = order == 0 ? alloc_small(cpu) : alloc_huge();
    if (!p) return nullptr;
    check_new_page(p);
    if (order) prep_compound_page(p, order);
    p->_refcount.store(1, std::memory_order_relaxed);
    return p;
  }

  // __free_pages after the last reference: free_pages_prepare checks
  // AT_FREE, clears AT_PREP on the head and every tail and resets mapping.
  void free_page(int cpu, page_t *head) {
    if (VM_BUG_ON_PFN(PageBuddy(head), head->pfn, "double free (PageBuddy)")) return;
    if (VM_BUG_ON_PFN(PageTail(head), head->pfn, "free of a tail page")) return;
    const unsigned order = compound_order(head);
    const unsigned long nr = 1UL << order;
    for (unsigned long i = 0; i < nr; i++) {
      page_t *p = head + i;
      const unsigned long f = p->flags.load(std::memory_order_relaxed);
      VM_BUG_ON_PFN(f & PAGE_FLAGS_CHECK_AT_FREE, p->pfn, "bad page state at free");
      VM_BUG_ON_PFN(p->_mapcount.load(std::memory_order_relaxed) != -1, p->pfn,
                    "bad page state at free (mapped)");
      p->flags.store(f & ~PAGE_FLAGS_CHECK_AT_PREP, std::memory_order_relaxed);
      p->mapping.store(0, std::memory_order_relaxed);
      p->private_.store(0, std::memory_order_relaxed);
      p->compound_head.store(0, std::memory_order_relaxed);
      p->_mapcount.store(i == 0 ? PAGE_BUDDY_MAPCOUNT_VALUE : -1, std::memory_order_relaxed);
    }
    if (order) {
      head[1].compound_pincount.store(0, std::memory_order_relaxed);
      head[1].compound_mapcount.store(-1, std::memory_order_relaxed);
      head->compound_order = 0;
      lock_guard<spinlock_t> g(zone_lock_);
      free_huge_.push_back(head->pfn);
      return;
    }
    free_small(cpu, head);
  }

  // put_page: drop one reference, free on the last.
  void put_page(int cpu, page_t *p) { put_refs(cpu, compound_head(p), 1); }
  void put_refs(int cpu, page_t *head, int nr) {
    const int old = head->_refcount.fetch_sub(nr, std::memory_order_acq_rel);
    if (VM_BUG_ON_PFN(old < nr, head->pfn, "page refcount underflow")) return;
    if (old == nr) free_page(cpu, head);
  }

  // Pages on the free lists and per-CPU caches (for leak checks in tests).
  // nr_cpus: only CPUs below it have used their per-CPU caches.
  unsigned long nr_free_small(unsigned nr_cpus = kMaxCpus) {
    lock_guard<spinlock_t> g(zone_lock_);
    unsigned long n = free_small_.size();
    for (unsigned c = 0; c < std::min(nr_cpus, kMaxCpus); c++) n += pcp_[c].count;
    return n;
  }
  unsigned long nr_free_huge() {
    lock_guard<spinlock_t> g(zone_lock_);
    return free_huge_.size();
  }

 private:
  struct alignas(kNoFalseSharing) pcp {
    uint32_t pfns[kPcpHigh];
    unsigned count = 0;
  };

  void check_new_page(page_t *p) {
    const bool bad = (p->flags.load(std::memory_order_relaxed) & PAGE_FLAGS_CHECK_AT_PREP) ||
                     p->_refcount.load(std::memory_order_relaxed) != 0 ||
                     p->mapping.load(std::memory_order_relaxed) != 0;
    VM_BUG_ON_PFN(bad, p->pfn, "bad page state at alloc");
    p->_mapcount.store(-1, std::memory_order_relaxed);
  }

  void prep_compound_page(page_t *head, unsigned order) {
    __set_bit(PG_head, &head->flags);
    head->compound_order = static_cast<uint8_t>(order);
    for (unsigned long i = 1; i < (1UL << order); i++) {
      head[i].compound_head.store(reinterpret_cast<unsigned long>(head) + 1,
                                  std::memory_order_relaxed);
      head[i]._mapcount.store(-1, std::memory_order_relaxed);
    }
    head[1].compound_pincount.store(0, std::memory_order_relaxed);
    head[1].compound_mapcount.store(-1, std::memory_order_relaxed);
  }

  page_t *alloc_small(int cpu) {
    pcp &c = pcp_[static_cast<unsigned>(cpu) % kMaxCpus];
    if (c.count == 0) {
      lock_guard<spinlock_t> g(zone_lock_);
      while (c.count < kPcpBatch && !free_small_.empty()) {
        c.pfns[c.count++] = free_small_.back();
        free_small_.pop_back();
      }
    }
    if (c.count == 0) return nullptr;
    return &pages_[c.pfns[--c.count]];
  }

  void free_small(int cpu, page_t *p) {
    pcp &c = pcp_[static_cast<unsigned>(cpu) % kMaxCpus];
    c.pfns[c.count++] = p->pfn;
    if (c.count == kPcpHigh) {
      lock_guard<spinlock_t> g(zone_lock_);
      while (c.count > kPcpHigh - kPcpBatch) free_small_.push_back(c.pfns[--c.count]);
    }
  }

  page_t *alloc_huge() {
    lock_guard<spinlock_t> g(zone_lock_);
    if (free_huge_.empty()) return nullptr;
    page_t *p = &pages_[free_huge_.back()];
    free_huge_.pop_back();
    return p;
  }

  unsigned long nr_;
  std::unique_ptr<page_t[]> pages_;
  std::unique_ptr<uint64_t[]> contents_;
  std::unique_ptr<pcp[]> pcp_;
  spinlock_t zone_lock_{lock_class::zone_lock};
  std::vector<unsigned long> free_small_;
  std::vector<unsigned long> free_huge_;
};

using memmap = basic_memmap<>;

}  // namespace anonx
