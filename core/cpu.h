// SPDX-License-Identifier: GPL-2.0-only
// cpu.h: harness threads as CPUs. Each CPU has a padded section counter for
// its IRQ-off sections (GUP-fast's local_irq_disable); a TLB-flush IPI or a
// page-table free waits for every CPU that is inside one.
//
// Why not liburcu: an IPI waits only for sections open *now* on other CPUs,
// which this counter scheme gives exactly with one locked RMW per section
// and no registration; liburcu's grace periods batch readers across all
// registered threads behind a global mutex and, being uninstrumented, their
// synchronisation is invisible to ThreadSanitizer, which would then report
// every page reused after a grace period (the TSan build must stay clean).
//
// Section protocol (SB, both sides fenced):
//   CPU:     W(seq = odd) ; smp_mb ; R(page tables)       ... W(seq = even, release)
//   flusher: W(page table) ; smp_mb ; R(seq of every CPU) ; wait while odd and unchanged
// So either the flusher sees the section open and waits for it to end, or
// the section reads the flusher's page-table write.
#pragma once

#include <atomic>
#include <memory>

#include "barriers.h"
#include "compiler.h"
#include "lockstat.h"

namespace anonx {

// Atomic: the atomic policy of the machine (core/ is templated on it).
template <template <class> class Atomic = std::atomic>
class basic_cpu_sections {
 public:
  explicit basic_cpu_sections(unsigned nr_cpus) : nr_(nr_cpus), cpus_(new slot[nr_cpus]) {}
  unsigned nr_cpus() const { return nr_; }

  // local_irq_disable(): open a section. The smp_mb pairs with the one in
  // wait_for_sections() (the flusher's write precedes its reads).
  ANONX_INLINE void local_irq_disable(unsigned cpu) {
    slot &s = cpus_[cpu];
    s.seq.store(s.seq.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    smp_mb();
  }
  // local_irq_enable(): close it; release orders the section's reads before
  // the flusher's acquire of the new count.
  ANONX_INLINE void local_irq_enable(unsigned cpu) {
    slot &s = cpus_[cpu];
    s.seq.store(s.seq.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  bool in_section(unsigned cpu) const { return cpus_[cpu].seq.load(std::memory_order_acquire) & 1; }

  // The IPI (flush_tlb_*, tlb_remove_table_sync_one): returns only once
  // every section that was open on another CPU when it was called has
  // closed. smp_mb pairs with local_irq_disable()'s.
  // Profiled (core/lockstat.h): every call is a flush (its IPIs), and one
  // that found a section open is timed until the last one closed.
  void wait_for_sections(unsigned self) {
    lockstat *p = this_cpu_lockstat();
    uint64_t t0 = 0;
    smp_mb();
    for (unsigned c = 0; c < nr_; c++) {
      if (c == self) continue;
      const unsigned long s = cpus_[c].seq.load(std::memory_order_acquire);
      if (!(s & 1)) continue;
      if (p && !t0) t0 = lockstat_ticks();
      for (spin_wait w("the flush IPI: a CPU's IRQ-off section never ended (no local_irq_enable?)");
           cpus_[c].seq.load(std::memory_order_acquire) == s;)
        w.pause();
    }
    if (p) {
      ++p->flushes;
      if (t0) {
        ++p->flushes_waited;
        p->flush_wait.record(ticks_to_ns(lockstat_ticks() - t0));
      }
    }
  }

 private:
  struct alignas(kNoFalseSharing) slot {
    Atomic<unsigned long> seq{0};
  };
  unsigned nr_;
  std::unique_ptr<slot[]> cpus_;
};

using cpu_sections = basic_cpu_sections<>;

}  // namespace anonx
