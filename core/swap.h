// swap.h: a swap device: slots holding page contents, swap counts
// (swap_map: references from swap PTEs) and a swap cache (the page that
// currently caches a slot). Models mm/swapfile.c and mm/swap_state.c at the
// granularity the protocol needs.
//
// Simplifications: one device; the swap cache is a per-slot pointer; slot
// allocation and counts are under one device lock (the kernel uses
// per-cluster locks and the SWAP_HAS_CACHE bit in swap_map).
#pragma once

#include <memory>
#include <vector>

#include "page_alloc.h"
#include "pte.h"

namespace anonx {

template <template <class> class Atomic = std::atomic>
class basic_swap_device {
 public:
  using page_t = basic_page<Atomic>;
  explicit basic_swap_device(unsigned long nr_slots) : slots_(new slot[nr_slots]) {
    for (unsigned long i = nr_slots; i > 1; i--) free_.push_back(i - 1);  // slot 0 unused
  }

  // add_to_swap: allocate a slot and put the (locked) page into the swap
  // cache; the cache holds one reference. False when swap is full.
  bool add_to_swap(page_t *page) {
    unsigned long off;
    {
      lock_guard<spinlock_t> g(lock_);
      if (free_.empty()) return false;
      off = free_.back();
      free_.pop_back();
      slots_[off].cache = page;
      slots_[off].count = 0;
    }
    get_page(page);
    page->private_.store(off, std::memory_order_relaxed);
    SetPageSwapBacked(page);
    SetPageSwapCache(page);
    return true;
  }

  // swap_duplicate: one more swap PTE refers to the slot.
  void swap_duplicate(unsigned long off) {
    lock_guard<spinlock_t> g(lock_);
    slots_[off].count++;
  }

  // swap_free: one swap PTE fewer; the slot is freed with its last user.
  void swap_free(unsigned long off) {
    lock_guard<spinlock_t> g(lock_);
    slot &s = slots_[off];
    VM_BUG_ON_PFN(s.count <= 0, -1, "swap_free on an unused slot");
    if (--s.count == 0 && !s.cache) free_.push_back(off);
  }

  int swap_count(unsigned long off) {
    lock_guard<spinlock_t> g(lock_);
    return slots_[off].count;
  }

  // swap_writepage: the page's contents to its slot (the page is locked and
  // unmapped, or mapped read-only).
  void writepage(basic_memmap<Atomic> &mem, page_t *page) {
    const unsigned long off = page->private_.load(std::memory_order_relaxed);
    for (unsigned i = 0; i < kWordsPerPage; i++) slots_[off].data[i] = mem.read_word(page->pfn, i);
  }
  // swap_readpage into a new, unpublished page.
  void readpage(basic_memmap<Atomic> &mem, unsigned long off, page_t *page) {
    for (unsigned i = 0; i < kWordsPerPage; i++) mem.words(page->pfn)[i] = slots_[off].data[i];
  }

  // lookup_swap_cache: the cached page with a reference, or nullptr.
  page_t *lookup_swap_cache(unsigned long off) {
    lock_guard<spinlock_t> g(lock_);
    page_t *p = slots_[off].cache;
    if (p && !try_get_page(p)) p = nullptr;
    return p;
  }

  // add a freshly read page to the swap cache (swap-in through the cache).
  bool add_to_swap_cache(page_t *page, unsigned long off) {
    {
      lock_guard<spinlock_t> g(lock_);
      if (slots_[off].cache) return false;
      slots_[off].cache = page;
    }
    get_page(page);
    page->private_.store(off, std::memory_order_relaxed);
    SetPageSwapBacked(page);
    SetPageSwapCache(page);
    return true;
  }

  // delete_from_swap_cache (page locked): drops the cache's reference.
  void delete_from_swap_cache(basic_memmap<Atomic> &mem, int cpu, page_t *page) {
    const unsigned long off = page->private_.load(std::memory_order_relaxed);
    {
      lock_guard<spinlock_t> g(lock_);
      slots_[off].cache = nullptr;
      if (slots_[off].count == 0) free_.push_back(off);
    }
    ClearPageSwapCache(page);
    page->private_.store(0, std::memory_order_relaxed);
    mem.put_page(cpu, page);
  }

  // try_to_free_swap (page locked): leave the swap cache if no swap PTE
  // still refers to the slot.
  bool try_to_free_swap(basic_memmap<Atomic> &mem, int cpu, page_t *page) {
    if (!PageSwapCache(page)) return false;
    if (swap_count(page->private_.load(std::memory_order_relaxed)) != 0) return false;
    delete_from_swap_cache(mem, cpu, page);
    return true;
  }

  unsigned long nr_free() {
    lock_guard<spinlock_t> g(lock_);
    return free_.size();
  }

 private:
  struct slot {
    int count = 0;
    page_t *cache = nullptr;
    uint64_t data[kWordsPerPage] = {};
  };
  spinlock_t lock_;
  std::unique_ptr<slot[]> slots_;
  std::vector<unsigned long> free_;
};

}  // namespace anonx
