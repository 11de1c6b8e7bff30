// SPDX-License-Identifier: GPL-2.0-only
// swap.h: a swap device: slots holding page contents, swap counts
// (swap_map: references from swap PTEs) and a swap cache (the page that
// currently caches a slot). Models mm/swapfile.c and mm/swap_state.c at the
// granularity the protocol needs.
//
// The device's kind is its SWP_SYNCHRONOUS_IO flag (swap_info_struct
// flags, fixed at swapon): set for zram, pmem, brd, whose reads complete
// synchronously, so that do_swap_page may bypass the swap cache; clear for
// a disk, where every swap-in goes through the swap cache. The machine is
// built with a disk; set_synchronous_io() changes the kind between runs.
//
// Simplifications: one device; the swap cache is a per-slot pointer plus
// the slot's SWAP_HAS_CACHE bit (has_cache); slot allocation and counts are
// under one device lock (the kernel uses per-cluster locks and keeps counts
// and SWAP_HAS_CACHE in the swap_map byte).
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
  static constexpr unsigned long SWP_SYNCHRONOUS_IO = 1ul << 12;  // the kernel's bit

  explicit basic_swap_device(unsigned long nr_slots, unsigned long flags = 0)
      : flags_(flags), nr_slots_(nr_slots), slots_(new slot[nr_slots]) {
    for (unsigned long i = nr_slots; i > 1; i--) free_.push_back(i - 1);  // slot 0 unused
  }

  // si->flags & SWP_SYNCHRONOUS_IO. The kernel reads it with data_race():
  // it is set at swapon and never changes under a fault. Here it may change
  // between two iterations of a harness, which the harness's rendezvous
  // orders; relaxed is all a reader needs.
  bool synchronous_io() const {
    return flags_.load(std::memory_order_relaxed) & SWP_SYNCHRONOUS_IO;
  }
  void set_synchronous_io(bool on) {
    flags_.store(on ? SWP_SYNCHRONOUS_IO : 0, std::memory_order_relaxed);
  }

  // vm_swap_full(): more than half of the slots in use (what
  // mem_cgroup_swap_full() falls back to without a memory cgroup).
  bool vm_swap_full() { return nr_free() * 2 < nr_slots_ - 1; }

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
      slots_[off].has_cache = true;
      slots_[off].count = 0;
      totals_.cached++;
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
    totals_.count++;
  }

  // swap_free: one swap PTE fewer; the slot is freed with its last user.
  void swap_free(unsigned long off) {
    lock_guard<spinlock_t> g(lock_);
    slot &s = slots_[off];
    if (VM_BUG_ON_PFN(s.count <= 0, -1, "swap_free on an unused slot")) return;
    totals_.count--;
    if (--s.count == 0 && !s.has_cache) free_.push_back(off);
  }

  // swapcache_prepare: take SWAP_HAS_CACHE for a swap-in that will read the
  // slot. False if another swap-in holds it or a page caches the slot
  // (-EEXIST), or no swap PTE refers to the slot any more (-ENOENT). While
  // held, the slot is not freed, so it cannot be reused under the reader.
  bool swapcache_prepare(unsigned long off) {
    lock_guard<spinlock_t> g(lock_);
    slot &s = slots_[off];
    if (s.has_cache || s.count == 0) return false;
    s.has_cache = true;
    totals_.bare++;
    return true;
  }

  // swapcache_clear: drop a SWAP_HAS_CACHE that no page took over (the
  // bypass swap-in's); the slot is freed if no swap PTE refers to it.
  void swapcache_clear(unsigned long off) {
    lock_guard<spinlock_t> g(lock_);
    slot &s = slots_[off];
    if (VM_BUG_ON_PFN(!s.has_cache || s.cache, -1, "swapcache_clear without a bare SWAP_HAS_CACHE"))
      return;
    s.has_cache = false;
    totals_.bare--;
    if (s.count == 0) free_.push_back(off);
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

  // add a freshly read page to the swap cache (swap-in through the cache);
  // takes over the SWAP_HAS_CACHE of a swapcache_prepare() if there was one.
  bool add_to_swap_cache(page_t *page, unsigned long off) {
    {
      lock_guard<spinlock_t> g(lock_);
      if (slots_[off].cache) return false;
      if (slots_[off].has_cache) totals_.bare--;  // a swapcache_prepare's, taken over
      slots_[off].cache = page;
      slots_[off].has_cache = true;
      totals_.cached++;
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
      slots_[off].has_cache = false;
      totals_.cached--;
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
  unsigned long nr_slots() const { return nr_slots_; }

  // For the harness's conservation audit, read at a quiescent point (no
  // path runs): the swap counts summed over every slot, the pages in the
  // swap cache, and the SWAP_HAS_CACHEs of swap-ins that have no page yet.
  // Kept under the device lock the paths hold anyway.
  struct totals {
    long count = 0, cached = 0, bare = 0;
  };
  totals usage() {
    lock_guard<spinlock_t> g(lock_);
    return totals_;
  }
  // fn(offset, swap count, SWAP_HAS_CACHE, cached page) for every slot in
  // use (a scan of the whole device: for teardown, not per iteration).
  template <class F>
  void for_each_used_slot(F &&fn) {
    lock_guard<spinlock_t> g(lock_);
    for (unsigned long off = 1; off < nr_slots_; off++)
      if (slots_[off].count || slots_[off].has_cache)
        fn(off, slots_[off].count, slots_[off].has_cache, slots_[off].cache);
  }

 private:
  struct slot {
    int count = 0;
    bool has_cache = false;  // SWAP_HAS_CACHE: cache != nullptr, or a swap-in's prepare
    page_t *cache = nullptr;
    uint64_t data[kWordsPerPage] = {};
  };
  Atomic<unsigned long> flags_;
  const unsigned long nr_slots_;
  spinlock_t lock_{lock_class::swap_lock};
  totals totals_;  // under lock_
  std::unique_ptr<slot[]> slots_;
  std::vector<unsigned long> free_;
};

}  // namespace anonx
