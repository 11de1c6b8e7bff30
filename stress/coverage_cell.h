// SPDX-License-Identifier: GPL-2.0-only
// coverage_cell.h: the coverage model's inside, shared by its files: what a
// state offers the operations (caps), the rows of the state and operation
// tables, and the generated lockstep scenario that runs one cell
// (coverage_instance: its set-up in coverage_setup.cc, its race and oracles in
// coverage_race.cc). The tables: coverage_states.cc (page states),
// coverage_ops.cc (paths, holders, feasibility, cells).
//
// Every iteration starts from new processes: role 0 builds the state with
// its set-up sequence (outside the timed race), both roles run their
// operation, role 0 checks the oracles, releases every reference the cell
// took, audits conservation (the runner, audit.h) and tears the processes
// down.
//
// Data model. mm 0 is the process, mm 1 the child the state forked (if
// any), mm 2 the child a fork path makes. Mm i writes only word i of the
// page under test after a fork; the set-up writes words 0..2 before any
// fork, with tokens of its own; word 3 is the device's (DMA through a pin
// or a FOLL_GET reference). Every token names its writer (mm, role,
// iteration), so an oracle tells a lost write (mm i's own word is not its
// last write) from a leak (mm i reads another mm's post-fork write).
#pragma once

#include <chrono>
#include <cinttypes>
#include <cstring>
#include <map>

#include "coverage.h"

namespace anonx::stress::cov {

// What a state offers the operations (feasibility is computed from these).
enum cap : unsigned {
  C_CHILD = 1u << 0,      // a child (mm 1) maps the page or its swap entry
  C_SMALL = 1u << 1,      // a present small anon page at the address
  C_PMD = 1u << 2,        // a PMD-mapped THP
  C_PTE_THP = 1u << 3,    // a THP subpage mapped by a PTE
  C_SWAPENTRY = 1u << 4,  // a swap entry at the address
  C_SWAPCACHE = 1u << 5,  // the page is in the swap cache
  C_KSM = 1u << 6,        // a KSM page
  C_FILE = 1u << 7,       // a page-cache page, mapped R/O (not anon)
  C_MIGRATION = 1u << 8,  // a migration entry: the page is under migration
  C_FULL_PMD = 1u << 9,   // the small pages of a whole PMD range can be populated
  C_FILE_VMA = 1u << 10,  // the address is in the private file VMA (an anon COW copy there)
};

enum op_id : unsigned {
  // paths
  O_FORK,
  O_SWAPOUT,
  O_MIGRATE,
  O_KSM,
  O_SPLIT,
  O_COLLAPSE,
  O_ZAP,
  O_MUNMAP,
  O_MPROTECT,
  O_EXIT,
  O_MIGRATE_FINISH,
  O_UNSHARE,
  O_WRITE,
  O_READ,
  O_SWAPIN,
  NR_PATHS,
  // reference holders
  H_PIN_FAST_RO = NR_PATHS,
  H_PIN_FAST_RW,
  H_PIN_LONGTERM_RO,
  H_GETREF_ODIRECT,
  H_GETREF_VMSPLICE,
  H_CHILD_READ,
  H_CHILD_WRITE,
  NR_OPS
};

struct op_row {
  cov_axis axis;
  const char *align;  // the labelled step where its race window opens (nullptr: none)
};
extern const op_row kOps[NR_OPS];

struct coverage_instance;

// One page state: a row of coverage_states.cc.
struct state_row {
  cov_axis axis;
  unsigned caps;
  // The set-up sequence after mm 0 has written its words (nullptr: none),
  // with p the page mapped at the state's address then; it clears
  // coverage_instance::reached where a step fails.
  void (*reach)(coverage_instance &c, actor &a, page *p) = nullptr;
  // What verifies the state beyond its caps (nullptr: nothing more).
  bool (*verify)(coverage_instance &c, page *p) = nullptr;
  // Why fork cannot be the path on this state (nullptr: it can).
  const char *fork_reason = nullptr;
};
// Every page state, in the order of the model's cells.
const std::vector<state_row> &states();

// ---- the generated scenario ------------------------------------------------

constexpr unsigned long SMALL_BASE = 0, SMALL_LEN = PTRS_PER_PTE;  // first PMD
constexpr unsigned long THP_BASE = PTRS_PER_PTE, THP_LEN = PTRS_PER_PTE;
constexpr unsigned long FILE_BASE = 2 * PTRS_PER_PTE, FILE_LEN = 8;
constexpr unsigned long A_SMALL = SMALL_BASE + 3, A_THP = THP_BASE + 5, A_FILE = FILE_BASE;
constexpr unsigned kWords = 3;        // data words, one per mm
constexpr unsigned kDmaWord = 3;      // the device's
constexpr unsigned kMms = 3;          // process, the state's child, the fork path's child
constexpr uint64_t kFileTag = 0xF1;   // page-cache contents
constexpr uint64_t kSetupTag = 0x5E;  // written by the set-up, before any fork
constexpr uint64_t kCheckTag = 0xC0;  // the processes' writes after the race
constexpr uint64_t kDevTag = 0xDE;    // DMA

// A token: tag (who), mm, role, iteration.
inline uint64_t token(uint64_t tag, unsigned mm, unsigned role, uint64_t it) {
  return (tag << 56) | (uint64_t{mm} << 52) | (uint64_t{role} << 48) | (it & 0xFFFFFFFFFFFFull);
}
inline unsigned token_mm(uint64_t v) { return static_cast<unsigned>((v >> 52) & 0xF); }
inline uint64_t token_tag(uint64_t v) { return v >> 56; }

// The window log of one role (coverage runs): each labelled step it passed
// in this iteration's step, with the time it got there.
struct label_event {
  const char *label;
  int64_t ns;
};

// What one role did in its step: written by that role only, read by role 0
// after the rendezvous. One line each.
struct alignas(kNoFalseSharing) side {
  page *pin = nullptr;  // a committed pin (FOLL_PIN)
  bool pin_ro = false, pin_longterm = false, pin_anon = false;
  page *ref = nullptr;  // a FOLL_GET reference
  unsigned ref_mm = 0;
  bool ref_write = false;
  uint64_t ref_seen = 0;      // word 0 through the reference when taken (R/O)
  uint64_t wrote[kMms] = {};  // the last token this role wrote into mm i's own word
  bool discard[kMms] = {};    // this role zapped mm i's page (reads may give 0)
  bool gone[kMms] = {};       // this role unmapped mm i's VMA or made it exit
  bool read_bad = false;      // a read in the step saw a value no writer made
  uint64_t read_val = 0;
  unsigned read_mm = 0;
  bool failed = false;  // an access failed (SIGSEGV, or gave up retrying)
  std::vector<label_event> log;
  void clear() {
    pin = ref = nullptr;
    pin_ro = pin_longterm = pin_anon = ref_write = read_bad = failed = false;
    ref_mm = read_mm = 0;
    ref_seen = read_val = 0;
    for (unsigned i = 0; i < kMms; i++) {
      wrote[i] = 0;
      discard[i] = gone[i] = false;
    }
    log.clear();
  }
};

// Records each labelled step a role passes (coverage runs only).
struct window_log final : label_recorder {
  std::vector<label_event> *events = nullptr;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  void record(const char *label) override {
    if (events && events->size() < 64)
      events->push_back({label, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::steady_clock::now() - t0)
                                    .count()});
  }
};

struct coverage_instance final : lockstep_instance {
  machine &m;
  const cov_cell &cell;
  const unsigned caps;
  const unsigned long addr;
  std::unique_ptr<mm_struct> mms[kMms];
  bool child = false;  // mm 1 exists and maps the state
  page *file = nullptr, *kpage = nullptr;
  page *target = nullptr;     // the page under test after the set-up (nullptr: none mapped)
  page *state_pin = nullptr;  // held by the state across the race
  page *state_ref = nullptr;
  page *migrating = nullptr;  // the state's migration, until finished
  uint64_t init[kWords] = {};
  bool reached = false;
  side sides[2];
  window_log logs[2];
  // statistics, role 0
  uint64_t nr_reached = 0, nr_overlapped = 0;
  std::map<std::pair<const char *, const char *>, uint64_t> overlaps;

  coverage_instance(machine &mach, const cov_cell &c)
      : m(mach),
        cell(c),
        caps(states()[c.state].caps),
        addr((caps & (C_PMD | C_PTE_THP))               ? A_THP
             : (caps & (C_FILE | C_FILE_VMA))  ? A_FILE
                                                        : A_SMALL) {
    for (unsigned r = 0; r < 2; r++) logs[r].events = &sides[r].log;
  }

  const char *align_label(unsigned role) const override;
  unsigned jitter(unsigned role) const override;
  label_recorder *recorder(unsigned role) override { return &logs[role & 1]; }

  // The page's VMA, as the set-up mapped it (the racer may be unmapping it).
  std::pair<unsigned long, unsigned long> vma_range() const;

  // ---- accesses ------------------------------------------------------------
  // A CPU access that retries a while (a migration entry makes the fault
  // wait, as migration_entry_wait does).
  static bool access(actor &a, mm_struct &mm, unsigned long at, unsigned word, bool write,
                     uint64_t *v);
  void setup_store(actor &a, mm_struct &mm, unsigned word, uint64_t v);

  // ---- set-up (role 0, between rendezvous) ---------------------------------
  void setup(actor &a) override;
  void owned(std::vector<owned_ref> &out) const override;
  mm_struct &mm0() { return *mms[0]; }
  page *page_now(mm_struct &mm);

  pte_t pte_now(mm_struct &mm) NO_THREAD_SAFETY_ANALYSIS;
  void fork_child(actor &a);
  void begin_migration(actor &a, page *p);
  void finish_migration(actor &a);

  void reach(actor &a);
  void read_back(actor &a);
  // The stable page gets the contents of the page it will merge with (KSM
  // merges only identical pages); nothing maps it between iterations.
  void ksm_prepare(page *p);
  // The state is what its name says.
  bool verify();

  // ---- the race ------------------------------------------------------------
  void step(actor &a) override;

  void write_own(actor &a, side &s, unsigned mm);
  void read_word(actor &a, side &s, unsigned mm, unsigned word);
  void pin(actor &a, side &s, unsigned flags, bool fast);

  void run_op(actor &a, side &s, unsigned op) NO_THREAD_SAFETY_ANALYSIS;

  // ---- the oracles (role 0, after the race) ----------------------------------
  bool gone(unsigned mm) const;
  bool discarded(unsigned mm) const { return sides[0].discard[mm] || sides[1].discard[mm]; }
  bool wrote_in_race(unsigned mm) const { return sides[0].wrote[mm] || sides[1].wrote[mm]; }

  // May mm read v at word w after the race? Its own word: its last write
  // (either role's, the two raced) or, unwritten, the set-up's value; any
  // other word: the set-up's value (a fork snapshot of the parent may hold
  // the parent's write of the race). A zapped page reads 0.
  // What a zapped page reads afterwards: zeroes, or the page cache's
  // contents in a private file mapping.
  uint64_t after_zap(unsigned w) const { return addr == A_FILE ? token(kFileTag, 0, 0, w) : 0; }
  bool allowed(unsigned mm, unsigned w, uint64_t v) const;
  void judge(unsigned mm, unsigned w, uint64_t v, const char *when);

  // The R/O pin's promise: the device sees the process's later writes.
  // Anon pages from 5.19 (the whole point of PG_anon_exclusive; v5.18
  // breaks it); a page-cache page only for FOLL_LONGTERM from 6.2
  // (84209e87c696): before, a R/O pin of one made no such promise.
  bool ro_pin_promised(const actor &a, const side &s) const;

  outcome check(actor &a) override;

  void check_pin(actor &a, page *pg, bool ro, bool promised, bool live, uint64_t later);
  bool check_pin_mapped_at(page *pg);
  // O_DIRECT: the I/O lands through the reference, the process reads it.
  void check_odirect(actor &a, page *ref, bool live);
  void check_ref(actor &a, side &s, bool live0, const uint64_t *later);

  // Drop every reference the cell took; finish the state's migration.
  void release(actor &a);

  // Which labelled steps of the racer fell inside which window of the
  // path: role 1's event at t lies in role 0's window [label, next label).
  bool overlapped_now = false;
  void window_stats();

  void reset(actor &a) override;
  void teardown_mms(actor &a);
  void teardown(actor &a) override;
  void collect(cell_result &res) const override;
};

}  // namespace anonx::stress::cov
