// SPDX-License-Identifier: GPL-2.0-only
// coverage_race.cc: the generated scenario of a coverage cell (coverage_cell.h),
// the race (each role's operation) and the oracles that need no knowledge of
// any bug: data, reference holders, exclusivity, and the window statistics.
#include "coverage_cell.h"

namespace anonx::stress::cov {

// ---- the race ------------------------------------------------------------
void coverage_instance::step(actor &a) {
  side &s = sides[a.role & 1];
  const unsigned op = a.role == 0 ? cell.path : cell.racer;
  run_op(a, s, op);
}

void coverage_instance::write_own(actor &a, side &s, unsigned mm) {
  uint64_t v = token(0x10 + a.role, mm, a.role, a.iteration);
  if (access(a, *mms[mm], addr, mm, true, &v))
    s.wrote[mm] = v;
  else
    s.failed = true;
}

void coverage_instance::read_word(actor &a, side &s, unsigned mm, unsigned word) {
  uint64_t v = 0;
  if (!access(a, *mms[mm], addr, word, false, &v)) {
    s.failed = true;
    return;
  }
  s.read_val = v;
  s.read_mm = mm;
}

void coverage_instance::pin(actor &a, side &s, unsigned flags, bool fast) {
  page *pg = nullptr;
  const long n = fast ? pin_user_pages_fast(a.env, mm0(), addr, 1, flags, &pg)
                      : pin_user_pages(a.env, mm0(), addr, 1, flags, &pg);
  if (n != 1) return;
  s.pin = pg;
  s.pin_ro = !(flags & FOLL_WRITE);
  s.pin_longterm = flags & FOLL_LONGTERM;
  s.pin_anon = PageAnon(pg);
}

void coverage_instance::run_op(actor &a, side &s, unsigned op) NO_THREAD_SAFETY_ANALYSIS {
  stress_env &env = a.env;
  switch (op) {
    case O_FORK:
      // A fork that failed (-ENOMEM: an allocation failed, --fail-alloc)
      // never runs its child: copy_mm's failure path (kernel/fork.c,
      // mmput) tears the half-built mm down, and nothing of it is checked.
      if (dup_mmap(env, *mms[2], mm0()) != 0) {
        exit_mmap(env, *mms[2]);
        s.gone[2] = true;
      }
      break;
    case O_SWAPOUT:
      if (target) shrink_page(env, target);
      break;
    case O_MIGRATE:
      if (target) migrate_page(env, target);
      break;
    case O_KSM:
      ksm_merge(env, mm0(), addr, kpage);
      break;
    case O_SPLIT: {
      mmap_read_guard g(mm0().mmap_lock);
      __split_huge_pmd(env, mm0(), addr);
      break;
    }
    case O_COLLAPSE:
      collapse_huge_page(env, mm0(), addr);
      break;
    case O_ZAP:
      madvise_dontneed(env, mm0(), addr, addr + 1);
      s.discard[0] = true;
      break;
    case O_MUNMAP: {
      const auto [start, end] = vma_range();
      s.gone[0] = true;
      do_munmap(env, mm0(), start, end);
      break;
    }
    case O_MPROTECT: {
      const auto [start, end] = vma_range();
      mprotect(env, mm0(), start, end, false);
      mprotect(env, mm0(), start, end, true);
      break;
    }
    case O_EXIT:
      s.gone[1] = true;
      exit_mmap(env, *mms[1]);
      break;
    case O_MIGRATE_FINISH:
      finish_migration(a);
      break;
    case O_UNSHARE: {
      mmap_read_guard g(mm0().mmap_lock);
      handle_mm_fault(env, mm0(), addr, FAULT_FLAG_UNSHARE);
      break;
    }
    case O_WRITE:
      write_own(a, s, 0);
      break;
    case O_READ:
    case O_SWAPIN:
      read_word(a, s, 0, 0);
      break;
    case H_PIN_FAST_RO:
      pin(a, s, FOLL_LONGTERM, true);
      break;
    case H_PIN_FAST_RW:
      pin(a, s, FOLL_WRITE | FOLL_LONGTERM, true);
      break;
    case H_PIN_LONGTERM_RO:
      pin(a, s, FOLL_LONGTERM, false);
      break;
    case H_GETREF_ODIRECT:
    case H_GETREF_VMSPLICE: {
      const bool write = op == H_GETREF_ODIRECT;
      const unsigned mm = (!write && child) ? 1 : 0;
      page *pg = nullptr;
      if (get_user_pages_fast(env, *mms[mm], addr, 1, write ? unsigned{FOLL_WRITE} : 0u, &pg) != 1)
        break;
      s.ref = pg;
      s.ref_mm = mm;
      s.ref_write = write;
      s.ref_seen = m.mem.read_word(pg->pfn, 0);
      break;
    }
    case H_CHILD_READ:
      read_word(a, s, 1, 0);
      break;
    case H_CHILD_WRITE:
      write_own(a, s, 1);
      break;
    default:
      break;
  }
}

// ---- the oracles (role 0, after the race) ----------------------------------
bool coverage_instance::gone(unsigned mm) const {
  if (mm == 1 && !child) return true;
  if (mm == 2 && cell.path != O_FORK && cell.racer != O_FORK) return true;
  return sides[0].gone[mm] || sides[1].gone[mm];
}

bool coverage_instance::allowed(unsigned mm, unsigned w, uint64_t v) const {
  if (discarded(mm) && v == after_zap(w)) return true;
  if (mm == 2 && discarded(0) && v == after_zap(w)) return true;  // forked from a zapped page
  if (w == mm) {
    if (!wrote_in_race(mm)) return v == init[w];
    return v == sides[0].wrote[mm] || v == sides[1].wrote[mm];
  }
  if (v == init[w]) return true;
  return mm == 2 && w == 0 && (v == sides[0].wrote[0] || v == sides[1].wrote[0]);
}

void coverage_instance::judge(unsigned mm, unsigned w, uint64_t v, const char *when) {
  if (allowed(mm, w, v)) return;
  char detail[192];
  std::snprintf(detail, sizeof detail, "%s: mm %u word %u reads %016" PRIx64, when, mm, w, v);
  const bool foreign =
      token_mm(v) != mm && token_tag(v) != kSetupTag && token_tag(v) != kFileTag && v;
  if (w != mm && foreign)
    report_violation("data-leak", -1, std::string(detail) + " (another mm's write after the fork)");
  else
    report_violation("data-lost", -1,
                     std::string(detail) + " (not the last value this mm wrote there)");
}

// The R/O pin's promise: the device sees the process's later writes.
// Anon pages from 5.19 (the whole point of PG_anon_exclusive; v5.18
// breaks it); a page-cache page only for FOLL_LONGTERM from 6.2
// (84209e87c696): before, a R/O pin of one made no such promise.
bool coverage_instance::ro_pin_promised(const actor &a, const side &s) const {
  return s.pin_anon || (s.pin_longterm && a.env.proto.at_least(generation::v6_2));
}

outcome coverage_instance::check(actor &a) {
  if (!reached) {
    release(a);
    return {"unreached", grade::inconclusive};
  }
  nr_reached++;
  window_stats();
  for (const side &s : sides)
    if (s.failed && !gone(0) && !gone(1)) a.access_failed = true;
  if (coverage_hooks().lose_write)
    if (page *p = page_now(mm0())) m.mem.write_word(p->pfn, 0, init[0]);
  // 1. Each live mm reads every data word: its own last write, never
  //    another mm's post-fork write. And what the race's reads saw.
  for (unsigned r = 0; r < 2; r++) {
    const side &s = sides[r];
    const unsigned op = r == 0 ? cell.path : cell.racer;
    if ((op == O_READ || op == O_SWAPIN || op == H_CHILD_READ) && !s.failed) {
      // During the race: the set-up's value, the racing write, or 0 (zap).
      const uint64_t v = s.read_val;
      const bool ok = v == init[0] || v == sides[0].wrote[s.read_mm] ||
                      v == sides[1].wrote[s.read_mm] || (v == after_zap(0) && discarded(s.read_mm));
      if (!ok) judge(s.read_mm, 0, v, "read during the race");
    }
  }
  for (unsigned mm = 0; mm < kMms; mm++) {
    if (gone(mm)) continue;
    for (unsigned w = 0; w < kWords; w++) {
      uint64_t v = 0;
      if (!access(a, *mms[mm], addr, w, false, &v)) {
        if (!(mm == 2 && gone(0))) a.access_failed = true;  // forked after the munmap
        break;
      }
      judge(mm, w, v, "after the race");
    }
    check_mm(a.env, *mms[mm]);  // I3..I7 over every entry of every mm
  }
  // 2. The processes go on writing: each live mm writes its own word.
  uint64_t later[kMms] = {};
  for (unsigned mm = 0; mm < kMms; mm++) {
    if (gone(mm)) continue;
    later[mm] = token(kCheckTag, mm, 0, a.iteration);
    uint64_t v = later[mm];
    if (!access(a, *mms[mm], addr, mm, true, &v)) {
      later[mm] = 0;
      a.access_failed = true;
    }
  }
  if (coverage_hooks().reader_sees_later_write && later[0])
    for (const side &s : sides)
      if (s.ref) m.mem.write_word(s.ref->pfn, 0, later[0]);
  // 3. Every reference holder against what the processes did.
  const bool live0 = !gone(0) && !discarded(0);
  for (side &s : sides) {
    if (s.pin) check_pin(a, s.pin, s.pin_ro, ro_pin_promised(a, s), live0, later[0]);
    if (s.ref) check_ref(a, s, live0, later);
  }
  if (state_pin) check_pin(a, state_pin, false, true, live0, later[0]);
  if (state_ref) check_odirect(a, state_ref, live0);
  for (unsigned w = 0; w < kWordsPerPage; w++)
    if (m.mem.read_word(file->pfn, w) != token(kFileTag, 0, 0, w)) {
      report_violation("I5-file", file->pfn, "a write reached the page-cache page");
      m.mem.words(file->pfn)[w] = token(kFileTag, 0, 0, w);
    }
  release(a);
  if (coverage_hooks().leak_ref && target && page_ref_count(target) > 0) get_page(target);
  return {overlapped_now ? "raced" : "ran", grade::acceptable};
}

void coverage_instance::check_pin(actor &a, page *pg, bool ro, bool promised, bool live,
                                  uint64_t later) {
  if (!live || !promised) return;
  if (!check_pin_mapped_at(pg)) return;
  if (ro) {
    if (later && m.mem.read_word(pg->pfn, 0) != later)
      report_violation("I2-data", pg->pfn, "R/O pin does not observe the process's write");
    return;
  }
  const uint64_t dma = token(kDevTag, 0, 0, a.iteration);
  m.mem.write_word(pg->pfn, kDmaWord, dma);
  uint64_t v = 0;
  if (access(a, mm0(), addr, kDmaWord, false, &v) && v != dma)
    report_violation("I2-data", pg->pfn, "DMA write through a pin not seen by the process");
}

bool coverage_instance::check_pin_mapped_at(page *pg) {
  if (mapped_pfn(mm0(), addr) == static_cast<long>(pg->pfn)) return true;
  report_violation("I2", pg->pfn, "pinned page no longer mapped at its address");
  return false;
}

// O_DIRECT: the I/O lands through the reference, the process reads it.
void coverage_instance::check_odirect(actor &a, page *ref, bool live) {
  if (!live) return;
  const uint64_t dma = token(kDevTag, 0, 1, a.iteration);
  m.mem.write_word(ref->pfn, kDmaWord, dma);
  uint64_t v = 0;
  if (access(a, mm0(), addr, kDmaWord, false, &v) && v != dma)
    report_violation("I2-odirect", ref->pfn, "O_DIRECT write lost: the process maps another page");
}

void coverage_instance::check_ref(actor &a, side &s, bool live0, const uint64_t *later) {
  if (s.ref_write) {
    check_odirect(a, s.ref, live0);
    return;
  }
  // A pipe's reference: it reads what its mm had written when it was
  // taken, or that mm's own later writes; never another mm's.
  const uint64_t v = m.mem.read_word(s.ref->pfn, 0);
  for (unsigned mm = 0; mm < kMms; mm++)
    if (mm != s.ref_mm && later[mm] && v == later[mm])
      report_violation("data-leak", s.ref->pfn,
                       "a FOLL_GET reader of mm " + std::to_string(s.ref_mm) + " reads mm " +
                           std::to_string(mm) + "'s write after the reference");
  if (s.ref_mm != 0 && v != s.ref_seen)
    report_violation("data-leak", s.ref->pfn,
                     "a FOLL_GET reader of the child does not read what the child had");
}

// Drop every reference the cell took; finish the state's migration.
void coverage_instance::release(actor &a) {
  for (side &s : sides) {
    if (s.pin) unpin_user_page(a.env, s.pin);
    if (s.ref) put_user_page(a.env, s.ref);
    s.pin = s.ref = nullptr;
  }
  if (state_pin) unpin_user_page(a.env, state_pin);
  if (state_ref) put_user_page(a.env, state_ref);
  state_pin = state_ref = nullptr;
  finish_migration(a);
}

void coverage_instance::window_stats() {
  overlapped_now = false;
  const auto &p = sides[0].log, &r = sides[1].log;
  if (p.empty() || r.empty()) return;
  for (size_t i = 0; i < p.size(); i++) {
    const int64_t from = p[i].ns, to = i + 1 < p.size() ? p[i + 1].ns : p[i].ns;
    for (const label_event &e : r)
      if (e.ns >= from && e.ns <= to) {
        overlaps[{p[i].label, e.label}]++;
        overlapped_now = true;
      }
  }
  if (overlapped_now) nr_overlapped++;
}

void coverage_instance::reset(actor &a) {
  teardown_mms(a);
  for (side &s : sides) s.clear();
  reach(a);
}

void coverage_instance::teardown_mms(actor &a) {
  finish_migration(a);
  for (auto &mm : mms)
    if (mm) {
      exit_mmap(a.env, *mm);
      mm.reset();
    }
  reclaim_orphan_swap_cache(a.env);
}

void coverage_instance::teardown(actor &a) {
  release(a);
  teardown_mms(a);
  a.env.put_page(file);
  a.env.put_page(kpage);
}

void coverage_instance::collect(cell_result &res) const {
  res.reached += nr_reached;
  res.overlapped += nr_overlapped;
  for (const auto &[k, n] : overlaps) res.overlaps[std::string(k.first) + "|" + k.second] += n;
}

}  // namespace anonx::stress::cov
