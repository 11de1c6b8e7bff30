// SPDX-License-Identifier: GPL-2.0-only
// free.cc: free-running torture (--mode free, and the `mixed` scenario):
// the scenario's actor kinds loop on one address space with think time and
// occasional long holds, each checking what it can inline; a checker scans
// the page tables under their locks. No rendezvous: this mode finds what
// needs long or unusual interleavings, lockstep finds narrow windows fast.
#include "stress.h"

namespace anonx::stress {
namespace {

constexpr unsigned long kAnon = 64;     // VMA0: [0, 64) anon RW
constexpr unsigned long kThp = 512;     // VMA1: one PMD, THP eligible
constexpr unsigned long kUnmap = 1024;  // VMA2: mapped and unmapped again
constexpr unsigned long kUnmapLen = 64;

struct world {
  machine &m;
  mm_struct mm;
  page *kpage = nullptr;
  // Zaps of the address space (MADV_DONTNEED, munmap) started and
  // finished: a pin holder's I2 check holds only if no zap was in progress
  // when it pinned and none started before it checked. Written and read
  // together: one line for both, apart from the rest of the world.
  alignas(kNoFalseSharing) std::atomic<uint64_t> zaps_started{0};
  std::atomic<uint64_t> zaps_finished{0};
  explicit world(machine &mach) : m(mach), mm(mach) {}
  template <class F>
  void zap(F &&f) {
    zaps_started.fetch_add(1, std::memory_order_seq_cst);
    f();
    zaps_finished.fetch_add(1, std::memory_order_seq_cst);
  }
  // A token valid while no zap overlaps: 0 if one is in progress now.
  uint64_t quiet_token() {
    const uint64_t s = zaps_started.load(std::memory_order_seq_cst);
    return zaps_finished.load(std::memory_order_seq_cst) == s ? s + 1 : 0;
  }
  bool still_quiet(uint64_t token) {
    return token && zaps_started.load(std::memory_order_seq_cst) + 1 == token;
  }
};

unsigned long long raw_pte(mm_struct &mm, unsigned long addr) {
  auto *table = pte_table_of<stress_env>(mm, addr);
  return table ? table->pte[pte_index(addr)].load() : 0xffffffffull;
}

unsigned long pick_addr(actor &a, unsigned kinds) {
  const unsigned x = a.r.below(8);
  if (x == 0 && (kinds & (K_SPLIT | K_KHUGEPAGED))) return kThp + a.r.below(PTRS_PER_PTE);
  if (x == 1 && (kinds & K_MUNMAP)) return kUnmap + a.r.below(kUnmapLen);
  return a.r.below(kAnon);
}

void think(actor &a) {
  spin_for(a.r.below(256));
  if (a.r.below(4096) == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
}

void op_process(actor &a, world &w, unsigned kinds) {
  const unsigned long addr = pick_addr(a, kinds);
  const unsigned x = a.r.below(128);
  uint64_t v = a.r.next();
  if (x < 60) {
    cpu_access(a.env, w.mm, addr, a.r.below(3), true, &v);  // words 0..2; word 3 is the DMA's
  } else if (x < 120) {
    cpu_access(a.env, w.mm, addr, a.r.below(kWordsPerPage), false, &v);
  } else if (x < 126) {
    w.zap([&] { madvise_dontneed(a.env, w.mm, addr, addr + 1); });
  } else {
    mprotect(a.env, w.mm, 0, kAnon, false);
    mprotect(a.env, w.mm, 0, kAnon, true);
  }
}

void op_fork(actor &a, world &w) {
  mm_struct child(w.m);
  dup_mmap(a.env, child, w.mm);
  // A failed access (a racing munmap or MADV_DONTNEED) checks nothing.
  check_fork_isolation(a.env, w.mm, child, a.r.below(kAnon), a.r.next() >> 8);
  exit_mmap(a.env, child);
}

void op_pinner(actor &a, world &w, unsigned kinds) {
  const unsigned long addr = pick_addr(a, kinds);
  const unsigned x = a.r.below(8);
  const bool pin = x < 6, write = x & 1, fast = a.r.below(2);
  unsigned flags = (write ? 0u + FOLL_WRITE : 0u) | (pin ? 0u + FOLL_LONGTERM : 0u);
  const uint64_t zs = w.quiet_token();
  page *p = nullptr;
  long n;
  if (pin)
    n = fast ? pin_user_pages_fast(a.env, w.mm, addr, 1, flags, &p)
             : pin_user_pages(a.env, w.mm, addr, 1, flags, &p);
  else
    n = fast ? get_user_pages_fast(a.env, w.mm, addr, 1, flags, &p)
             : get_user_pages(a.env, w.mm, addr, 1, flags, &p);
  if (n != 1) return;
  const uint64_t token = 0xD000000000000000ull | (a.r.next() >> 8);
  if (pin && write) a.env.m->mem.write_word(p->pfn, 3, token);  // the device writes
  think(a);
  if (pin) {
    const long now = mapped_pfn(w.mm, addr);
    if (w.still_quiet(zs) && now != static_cast<long>(p->pfn))
      report_violation(
          "I2", p->pfn,
          "pinned page no longer mapped at its address (addr " + std::to_string(addr) +
              ", now pfn " + std::to_string(now) + (fast ? ", GUP-fast" : ", slow GUP") +
              (write ? ", R/W" : ", R/O") + (PageCompound(p) ? ", THP" : "") + ", pte " +
              std::to_string(raw_pte(w.mm, addr)) + ", refs " + std::to_string(page_ref_count(p)) +
              ", mapcount " + std::to_string(page_mapcount(p)) + ", flags " +
              std::to_string(p->flags.load()) + ")");
    if (write) {
      uint64_t v = 0;
      const bool ok = cpu_access(a.env, w.mm, addr, 3, false, &v);
      if (ok && v != token && w.still_quiet(zs))
        report_violation("I2-data", p->pfn, "DMA write through a pin not seen by the process");
    }
    unpin_user_page(a.env, p);
  } else {
    put_user_page(a.env, p);
  }
}

void op_lru(actor &a, world &w, unsigned kinds) {
  page *p = page_at(a, w.mm, pick_addr(a, kinds));
  if (!p || !try_get_page(p)) return;
  toggle_active_checked(p);
  a.env.put_page(p);
}

void op(actor &a, world &w, unsigned kind, unsigned kinds) {
  switch (kind) {
    case K_PROCESS:
      op_process(a, w, kinds);
      break;
    case K_FORK:
      op_fork(a, w);
      break;
    case K_PINNER:
      op_pinner(a, w, kinds);
      break;
    case K_RECLAIM:
      if (page *p = page_at(a, w.mm, pick_addr(a, kinds))) shrink_page(a.env, p);
      break;
    case K_MIGRATE:
      if (page *p = page_at(a, w.mm, pick_addr(a, kinds))) migrate_page(a.env, p);
      break;
    case K_KSM:
      ksm_merge(a.env, w.mm, a.r.below(kAnon), w.kpage);
      break;
    case K_KHUGEPAGED:
      collapse_huge_page(a.env, w.mm, kThp);
      break;
    case K_SPLIT:
      if (a.r.below(4) == 0) {
        w.zap([&] { madvise_dontneed(a.env, w.mm, kThp, kThp + PTRS_PER_PTE); });
      } else {
        mmap_read_guard g(w.mm.mmap_lock);
        __split_huge_pmd(a.env, w.mm, kThp);
      }
      break;
    case K_MUNMAP: {
      w.zap([&] { do_munmap(a.env, w.mm, kUnmap, kUnmap + kUnmapLen); });
      mmap_region(a.env, w.mm, kUnmap, kUnmapLen, VM_READ | VM_WRITE);
      uint64_t v = 1;
      cpu_access(a.env, w.mm, kUnmap + a.r.below(kUnmapLen), 0, true, &v);
      break;
    }
    case K_LRU:
      op_lru(a, w, kinds);
      break;
    case K_CHECKER:
      check_mm(a.env, w.mm);
      std::this_thread::yield();
      break;
    default:
      break;
  }
}

}  // namespace

void run_free_group(const cell_spec &spec, std::vector<actor *> &actors, std::atomic<bool> &stop,
                    violation_sink &sink) {
  machine &m = *actors[0]->env.m;
  world w(m);
  const unsigned kinds = spec.sc->free_kinds;
  actor &a0 = *actors[0];
  this_cpu_report() = {&sink, 0, 0};
  mmap_region(a0.env, w.mm, 0, kAnon, VM_READ | VM_WRITE);
  if (kinds & (K_SPLIT | K_KHUGEPAGED))
    mmap_region(a0.env, w.mm, kThp, PTRS_PER_PTE, VM_READ | VM_WRITE | VM_HUGEPAGE);
  if (kinds & K_MUNMAP) mmap_region(a0.env, w.mm, kUnmap, kUnmapLen, VM_READ | VM_WRITE);
  uint64_t zero = 0;
  cpu_access(a0.env, w.mm, kAnon - 1, 0, true, &zero);
  if (kinds & K_KSM) w.kpage = ksm_new_stable_page(a0.env, page_at(a0, w.mm, kAnon - 1)->pfn, 7);

  // The pin holders and the process on the first half of the threads, the
  // paths that race with them (fork, reclaim, migration, KSM, ...) on the
  // second half: a pin is never held across a path running on its own CPU.
  std::vector<unsigned> holders, paths;
  for (unsigned k = 1; k <= K_CHECKER; k <<= 1)
    if (kinds & k) (k & (K_PINNER | K_PROCESS | K_LRU | K_CHECKER) ? holders : paths).push_back(k);
  const unsigned n = static_cast<unsigned>(actors.size());
  const unsigned nh = n == 1 ? 1 : std::max(1u, n / 2);
  auto assign = [&](unsigned i) {
    std::vector<unsigned> mine;
    if (n == 1) {
      mine = holders;
      mine.insert(mine.end(), paths.begin(), paths.end());
    } else if (i < nh) {
      for (unsigned j = 0; j < holders.size(); j++)
        if (j % nh == i) mine.push_back(holders[j]);
    } else {
      for (unsigned j = 0; j < paths.size(); j++)
        if (j % (n - nh) == i - nh) mine.push_back(paths[j]);
    }
    if (mine.empty()) mine.push_back(K_PROCESS);
    return mine;
  };
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < n; i++) {
    threads.emplace_back([&, i] {
      actor &a = *actors[i];
      this_cpu_report() = {&sink, static_cast<int>(a.env.cpu), 0};
      set_this_cpu_lockstat(spec.profile ? &a.profile : nullptr);
      a.env.fail_one_in = spec.fail_alloc;
      const std::vector<unsigned> mine = assign(i);
      while (!stop.load(std::memory_order_relaxed)) {
        // One op in kHoldSampleEvery timed, scaled up (runner.cc's steps).
        const bool timed = spec.profile && a.stats.ops % kHoldSampleEvery == 0;
        const uint64_t t0 = timed ? lockstat_ticks() : 0;
        op(a, w, mine[a.r.below(static_cast<unsigned>(mine.size()))], kinds);
        if (timed) a.profile.step_ns += kHoldSampleEvery * ticks_to_ns(lockstat_ticks() - t0);
        a.count_op();
        this_cpu_report().iteration = a.stats.ops;
        if (spec.stop_on_first && sink.total()) break;
      }
      a.env.fail_one_in = 0;  // the teardown below must not fail
      set_this_cpu_lockstat(nullptr);
    });
  }
  for (auto &t : threads) t.join();
  check_mm(a0.env, w.mm);
  exit_mmap(a0.env, w.mm);
  if (w.kpage) a0.env.put_page(w.kpage);
}

}  // namespace anonx::stress
