// coverage.cc: the coverage model (coverage.h): its axes and feasibility as
// data, and the generated lockstep scenario that runs one cell.
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
#include "coverage.h"

#include <cinttypes>
#include <cstring>

namespace anonx::stress {
namespace {

// ---- the axes ----------------------------------------------------------

enum state_id : unsigned {
  S_EXCL,
  S_SHARED,
  S_REUSED,
  S_SWAPCACHE,
  S_SWAPCACHE_GETREF,
  S_SWAPCACHE_PIN,
  S_SWAPCACHE_FORKED,
  S_SWAPPED,
  S_SWAPPED_SHARED,
  S_THP,
  S_THP_SHARED,
  S_THP_PINNED,
  S_PTE_THP,
  S_PTE_THP_PARTIAL,
  S_KSM,
  S_FILE,
  S_FILE_COW,
  S_MIGRATING,
  NR_STATES
};

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
};

struct state_row {
  cov_axis axis;
  unsigned caps;
};

const state_row kStates[NR_STATES] = {
    {{"excl", "exclusive small anon page, written (PageAnonExclusive, writable PTE)"},
     C_SMALL | C_FULL_PMD},
    {{"shared", "small page shared after fork: both mms map it R/O, flag clear"},
     C_SMALL | C_CHILD},
    {{"reused", "previously shared page, now mapped once (the child exited): R/O, flag clear"},
     C_SMALL},
    {{"swapcache", "mapped page in the swap cache (swapped out, read back through the cache)"},
     C_SMALL | C_SWAPCACHE},
    {{"swapcache+getref",
      "mapped page in the swap cache (read back through it), an O_DIRECT FOLL_GET reference "
      "held"},
     C_SMALL | C_SWAPCACHE},
    {{"swapcache+pin",
      "mapped page in the swap cache, pinned R/W longterm (swap-out backed off at (A2))"},
     C_SMALL | C_SWAPCACHE},
    {{"swapcache+forked",
      "swapped out, then forked (swap count 2), then read back by the parent through the "
      "swap cache: the child still has the swap entry"},
     C_SMALL | C_SWAPCACHE | C_CHILD},
    {{"swapped", "swapped-out entry with SWP_EXCLUSIVE, page freed"}, C_SWAPENTRY},
    {{"swapped-shared", "swapped out after fork: both mms hold the entry, no SWP_EXCLUSIVE"},
     C_SWAPENTRY | C_CHILD},
    {{"thp", "PMD-mapped THP, exclusive"}, C_PMD},
    {{"thp-shared", "PMD-mapped THP shared after fork"}, C_PMD | C_CHILD},
    {{"thp-pinned", "PMD-mapped THP with a subpage pinned R/W longterm"}, C_PMD},
    {{"pte-thp", "THP split into PTEs, fully mapped"}, C_PTE_THP},
    {{"pte-thp-partial", "THP split into PTEs, half of it zapped"}, C_PTE_THP},
    {{"ksm", "KSM page merged into the process"}, C_KSM},
    {{"file", "private file mapping: the page-cache page mapped R/O"}, C_FILE},
    {{"file-cow", "the anon COW copy of a private file page, written"}, C_SMALL},
    {{"migrating", "page under migration: a migration entry, page locked and isolated"},
     C_MIGRATION},
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

const op_row kOps[NR_OPS] = {
    {{"fork", "dup_mmap: copy_present_pte / copy_huge_pmd / copy_nonpresent_pte"}, "FORK_DUP"},
    {{"swapout", "shrink_page_list -> try_to_unmap_one (page_try_share_anon_rmap)"}, "A1"},
    {{"migrate", "migrate_pages -> try_to_migrate_one, refcount freeze, remove_migration_ptes"},
     "A1"},
    {{"ksm-merge", "try_to_merge_one_page: write_protect_page, replace_page"}, "A1"},
    {{"split", "__split_huge_pmd"}, "SPLIT"},
    {{"collapse", "khugepaged collapse_huge_page"}, "COLLAPSE"},
    {{"zap", "madvise(MADV_DONTNEED) of the page"}, "ZAP"},
    {{"munmap", "munmap of the page's VMA (zap + free_pgtables)"}, "ZAP"},
    {{"mprotect", "mprotect(PROT_READ) then mprotect(PROT_READ|PROT_WRITE) of the VMA"}, nullptr},
    {{"exit", "the child exits (exit_mmap)"}, "ZAP"},
    {{"migrate-finish", "remove_migration_ptes: the migration of the state's page completes"},
     nullptr},
    {{"unshare-fault", "handle_mm_fault(FAULT_FLAG_UNSHARE): do_wp_page's unshare"}, nullptr},
    {{"write-fault", "the process writes: do_wp_page / do_anonymous_page / do_swap_page"}, nullptr},
    {{"read-fault", "the process reads: do_anonymous_page / do_read_fault"}, nullptr},
    {{"swapin", "the process reads a swap entry: do_swap_page"}, "SWAPIN_LOCK"},
    {{"pin-fast-ro", "pin_user_pages_fast(FOLL_LONGTERM), R/O: unshare on a shared page"}, "B1"},
    {{"pin-fast-rw", "pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM): RDMA, vfio"}, "B1"},
    {{"pin-longterm-ro", "pin_user_pages(FOLL_LONGTERM), R/O, slow GUP: io_uring fixed buffer"},
     "GUP_LOOKUP"},
    {{"getref-odirect", "get_user_pages_fast(FOLL_WRITE): an O_DIRECT read into the page"}, "B1"},
    {{"getref-vmsplice",
      "get_user_pages_fast, R/O: vmsplice into a pipe, by the child when there is one"},
     "B1"},
    {{"child-read", "the child reads the parent's word"}, nullptr},
    {{"child-write", "the child writes its own word"}, nullptr},
};

// Why op cannot run on a state (nullptr: it can).
const char *op_infeasible(unsigned op, unsigned caps) {
  const bool present = caps & (C_SMALL | C_PMD | C_PTE_THP | C_KSM | C_FILE);
  switch (op) {  // these act on any state
    case O_FORK:
    case O_ZAP:
    case O_MUNMAP:
    case O_MPROTECT:
    case O_WRITE:
    case H_PIN_FAST_RO:
    case H_PIN_FAST_RW:
    case H_PIN_LONGTERM_RO:
    case H_GETREF_ODIRECT:
    case H_GETREF_VMSPLICE:
      return nullptr;
    default:
      break;
  }
  if (caps & C_MIGRATION)
    return op == O_MIGRATE_FINISH || op == O_READ
               ? nullptr
               : "the page is under migration: nothing maps it for reclaim, KSM, THP or unshare "
                 "to act on";
  switch (op) {
    case O_SWAPOUT:
      if (caps & (C_PMD | C_PTE_THP))
        return "the model's reclaim refuses a THP (the kernel splits it first)";
      if (caps & C_KSM) return "the model's reclaim refuses KSM pages";
      if (caps & C_FILE) return "a page-cache page is not swapped (anon reclaim only)";
      return present ? nullptr : "nothing is mapped to swap out";
    case O_MIGRATE:
      if (caps & (C_PMD | C_PTE_THP)) return "THP migration is not modelled";
      if (caps & C_KSM) return "the model's migration refuses KSM pages";
      if (caps & C_SWAPCACHE) return "the model's migration refuses swap-cache pages";
      if (caps & C_FILE) return "page-cache pages are not migrated by the model";
      return present ? nullptr : "nothing is mapped to migrate";
    case O_KSM:
      if (caps & C_KSM) return "already a KSM page";
      if (caps & (C_PMD | C_PTE_THP)) return "the model's KSM refuses a THP (the kernel splits it)";
      if (caps & C_FILE) return "KSM merges anon pages only";
      return present ? nullptr : "nothing is mapped to merge";
    case O_SPLIT:
      return (caps & C_PMD) ? nullptr : "no PMD-mapped THP to split";
    case O_COLLAPSE:
      return (caps & C_FULL_PMD) ? nullptr
                                 : "the model collapses only a PMD range of exclusive small pages";
    case O_EXIT:
    case H_CHILD_READ:
    case H_CHILD_WRITE:
      return (caps & C_CHILD) ? nullptr : "no child in this state";
    case O_MIGRATE_FINISH:
      return "only a page under migration has a migration to finish";
    case O_UNSHARE:
      return present ? nullptr : "no present page to unshare";
    case O_READ:
      return (caps & C_SWAPENTRY) ? "a read of a swap entry is swapin" : nullptr;
    case O_SWAPIN:
      return (caps & C_SWAPENTRY) ? nullptr : "no swap entry to swap in";
    default:
      return "unknown operation";
  }
}

// Why the pair cannot race on a state (nullptr: it can).
const char *pair_infeasible(unsigned state, unsigned path, unsigned racer, unsigned caps) {
  if (racer < NR_PATHS && racer <= path) return "the pair is the cell with the roles swapped";
  if (path == O_FORK && state == S_SWAPCACHE_GETREF)
    return "the state's FOLL_GET is held across fork, which the kernel does not keep coherent "
           "(O_DIRECT and fork: fixed only by moving O_DIRECT to FOLL_PIN)";
  if (caps & C_MIGRATION && path != O_MIGRATE_FINISH)
    return "this state's path is migrate-finish; the others race with it as racers";
  if (path == O_FORK && racer == H_GETREF_ODIRECT)
    return "FOLL_GET across fork has no coherence guarantee in the kernel (O_DIRECT and fork: "
           "fixed only by moving O_DIRECT to FOLL_PIN)";
  if (path == O_FORK && (racer == H_CHILD_READ || racer == H_CHILD_WRITE))
    return "the state's child does not race with its parent's fork in a way the model orders";
  if (path == O_EXIT && (racer == H_CHILD_READ || racer == H_CHILD_WRITE))
    return "an exiting mm runs no threads";
  if (path == O_COLLAPSE && racer < NR_PATHS && racer != O_WRITE && racer != O_READ &&
      racer != O_UNSHARE)
    return "khugepaged against another path is left to the presets (collapse takes mmap_lock "
           "write, so they serialize)";
  if ((path == O_MUNMAP || path == O_EXIT) && racer == O_MIGRATE_FINISH) return "never the path";
  return nullptr;
}

// ---- the cells -----------------------------------------------------------

std::vector<cov_cell> build_cells() {
  std::vector<cov_cell> cells;
  for (unsigned s = 0; s < NR_STATES; s++)
    for (unsigned p = 0; p < NR_PATHS; p++)
      for (unsigned r = 0; r < NR_OPS; r++) {
        if (r < NR_PATHS && r == p) continue;  // a path against itself is not a cell
        cov_cell c;
        c.state = s;
        c.path = p;
        c.racer = r;
        c.name =
            std::string(kStates[s].axis.name) + "/" + kOps[p].axis.name + "/" + kOps[r].axis.name;
        const char *why = op_infeasible(p, kStates[s].caps);
        if (!why) why = op_infeasible(r, kStates[s].caps);
        if (!why) why = pair_infeasible(s, p, r, kStates[s].caps);
        c.feasible = why == nullptr;
        if (why) c.reason = why;
        cells.push_back(std::move(c));
      }
  return cells;
}

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
uint64_t token(uint64_t tag, unsigned mm, unsigned role, uint64_t it) {
  return (tag << 56) | (uint64_t{mm} << 52) | (uint64_t{role} << 48) | (it & 0xFFFFFFFFFFFFull);
}
unsigned token_mm(uint64_t v) { return static_cast<unsigned>((v >> 52) & 0xF); }
uint64_t token_tag(uint64_t v) { return v >> 56; }

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
        caps(kStates[c.state].caps),
        addr((caps & (C_PMD | C_PTE_THP))               ? A_THP
             : (caps & C_FILE) || c.state == S_FILE_COW ? A_FILE
                                                        : A_SMALL) {
    for (unsigned r = 0; r < 2; r++) logs[r].events = &sides[r].log;
  }

  const char *align_label(unsigned role) const override {
    const char *a = kOps[cell.path].align, *b = kOps[cell.racer].align;
    if (!a || !b) return nullptr;  // both roles meet, or neither waits for the other
    return role == 0 ? a : b;
  }
  unsigned jitter(unsigned role) const override {
    return align_label(0) ? 0 : (role == 1 ? 64 : 8);
  }
  label_recorder *recorder(unsigned role) override { return &logs[role & 1]; }

  // The page's VMA, as the set-up mapped it (the racer may be unmapping it).
  std::pair<unsigned long, unsigned long> vma_range() const {
    if (addr == A_THP) return {THP_BASE, THP_BASE + THP_LEN};
    if (addr == A_FILE) return {FILE_BASE, FILE_BASE + FILE_LEN};
    return {SMALL_BASE, SMALL_BASE + SMALL_LEN};
  }

  // ---- accesses ------------------------------------------------------------
  // A CPU access that retries a while (a migration entry makes the fault
  // wait, as migration_entry_wait does).
  static bool access(actor &a, mm_struct &mm, unsigned long at, unsigned word, bool write,
                     uint64_t *v) {
    for (unsigned tries = 0; tries < 64; tries++) {
      if (cpu_access(a.env, mm, at, word, write, v)) return true;
      mmap_read_guard g(mm.mmap_lock);
      if (!mm.find_vma(at)) return false;  // SIGSEGV: unmapped
      std::this_thread::yield();
    }
    return false;
  }
  void setup_store(actor &a, mm_struct &mm, unsigned word, uint64_t v) {
    if (!access(a, mm, addr, word, true, &v)) reached = false;
  }

  // ---- set-up (role 0, between rendezvous) ---------------------------------
  void setup(actor &a) override {
    file = a.env.alloc_page(0);  // a page-cache page: the cache holds this reference
    for (unsigned i = 0; i < kWordsPerPage; i++)
      m.mem.words(file->pfn)[i] = token(kFileTag, 0, 0, i);
    kpage = a.env.alloc_page(0);  // the KSM stable page (the stable tree's reference)
    __SetPageSwapBacked(kpage);
    kpage->mapping.store((1ul << 2) | PAGE_MAPPING_KSM, std::memory_order_release);
    reach(a);
  }
  void owned(std::vector<owned_ref> &out) const override {
    out.push_back({file, 1});
    out.push_back({kpage, 1});
  }
  mm_struct &mm0() { return *mms[0]; }
  page *page_now(mm_struct &mm) {
    const long pfn = mapped_pfn(mm, addr);
    return pfn < 0 ? nullptr : m.mem.pfn_to_page(static_cast<unsigned long>(pfn));
  }

  pte_t pte_now(mm_struct &mm) NO_THREAD_SAFETY_ANALYSIS {
    auto *table = pte_table_of<stress_env>(mm, addr);
    if (!table) return pte_t{0};
    lock_guard<ptl_t> ptl(table->ptl);
    return pte_t{table->pte[pte_index(addr)].load(std::memory_order_relaxed)};
  }
  void fork_child(actor &a) {
    if (dup_mmap(a.env, *mms[1], mm0()) == 0)
      child = true;
    else
      reached = false;
  }
  void begin_migration(actor &a, page *p) {
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
  void finish_migration(actor &a) {
    page *p = migrating;
    if (!p) return;
    rmap_walk(a.env, p, true, [&](mm_struct &, auto *ptep, pte_t entry) {
      return remove_migration_pte(a.env, p, ptep, entry);
    });
    unlock_page(p);
    a.env.put_page(p);
    migrating = nullptr;
  }

  void reach(actor &a) {
    for (auto &mm : mms) mm = std::make_unique<mm_struct>(m);
    child = false;
    reached = true;
    target = state_pin = state_ref = nullptr;
    mmap_region(a.env, mm0(), SMALL_BASE, SMALL_LEN, VM_READ | VM_WRITE);
    mmap_region(a.env, mm0(), THP_BASE, THP_LEN, VM_READ | VM_WRITE | VM_HUGEPAGE);
    mmap_region(a.env, mm0(), FILE_BASE, FILE_LEN, VM_READ | VM_WRITE,
                static_cast<long>(file->pfn));
    const uint64_t it = a.iteration;
    m.swap.set_synchronous_io(it & 1);
    if (cell.state == S_FILE) {
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
    switch (cell.state) {
      case S_SHARED:
      case S_THP_SHARED:
        fork_child(a);
        break;
      case S_REUSED:
        fork_child(a);
        exit_mmap(a.env, *mms[1]);
        child = false;
        break;
      case S_SWAPCACHE:
        m.swap.set_synchronous_io(false);  // swap-in through the cache
        if (!p || !shrink_page(a.env, p)) reached = false;
        read_back(a);
        break;
      case S_SWAPCACHE_GETREF:
        m.swap.set_synchronous_io(false);
        if (!p || !shrink_page(a.env, p)) reached = false;
        read_back(a);
        if (get_user_pages_fast(a.env, mm0(), addr, 1, FOLL_WRITE, &state_ref) != 1)
          state_ref = nullptr;
        break;
      case S_SWAPCACHE_PIN:
        if (pin_user_pages(a.env, mm0(), addr, 1, FOLL_WRITE | FOLL_LONGTERM, &state_pin) != 1)
          state_pin = nullptr;
        if (p) shrink_page(a.env, p);  // backs off at (A2), the page stays in the cache
        break;
      case S_SWAPCACHE_FORKED:
        m.swap.set_synchronous_io(false);
        if (!p || !shrink_page(a.env, p)) reached = false;
        fork_child(a);
        read_back(a);
        break;
      case S_SWAPPED:
        if (!p || !shrink_page(a.env, p)) reached = false;
        break;
      case S_SWAPPED_SHARED:
        fork_child(a);
        if (!p || !shrink_page(a.env, p)) reached = false;
        break;
      case S_THP_PINNED:
        if (pin_user_pages(a.env, mm0(), addr, 1, FOLL_WRITE | FOLL_LONGTERM, &state_pin) != 1)
          state_pin = nullptr;
        break;
      case S_PTE_THP:
      case S_PTE_THP_PARTIAL: {
        {
          mmap_read_guard g(mm0().mmap_lock);
          __split_huge_pmd(a.env, mm0(), addr);
        }
        if (cell.state == S_PTE_THP_PARTIAL)
          madvise_dontneed(a.env, mm0(), THP_BASE + THP_LEN / 2, THP_BASE + THP_LEN);
        break;
      }
      case S_KSM:
        ksm_prepare(p);
        if (!ksm_merge(a.env, mm0(), addr, kpage)) reached = false;
        break;
      case S_FILE_COW:
        break;  // the set-up's writes made the anon copy
      case S_MIGRATING:
        begin_migration(a, p);
        break;
      default:
        break;
    }
    if (cell.path == O_KSM || cell.racer == O_KSM) ksm_prepare(page_now(mm0()));
    reached = reached && verify();
    target = page_now(mm0());
    if (cell.path == O_FORK || cell.racer == O_FORK)
      mms[2]->flags.store(0, std::memory_order_relaxed);
    if (!reached) a.access_failed = true;  // the state was not reached: INCONCLUSIVE
  }
  void read_back(actor &a) {
    uint64_t v;
    if (!access(a, mm0(), addr, 0, false, &v)) reached = false;
  }
  // The stable page gets the contents of the page it will merge with (KSM
  // merges only identical pages); nothing maps it between iterations.
  void ksm_prepare(page *p) {
    if (!p || page_mapcount(kpage) > 0) return;
    m.mem.copy_page(kpage->pfn, p->pfn);
  }
  // The state is what its name says.
  bool verify() {
    page *p = page_now(mm0());
    const pte_t pte = pte_now(mm0());
    const pmd_t pmd{mm0().pmd_offset(addr)->load(std::memory_order_relaxed)};
    if (caps & C_MIGRATION) return migrating && is_migration_entry(pte);
    if (caps & C_SWAPENTRY) return is_swap_entry(pte);
    if (!p) return false;
    if ((caps & C_CHILD) && !is_swap_entry(pte_now(*mms[1])) && mapped_pfn(*mms[1], addr) < 0)
      return false;
    if (caps & C_SWAPCACHE) {
      if (!PageSwapCache(p)) return false;
      if (cell.state == S_SWAPCACHE_PIN && !state_pin) return false;
      if (cell.state == S_SWAPCACHE_GETREF && state_ref != p) return false;
      if (cell.state == S_SWAPCACHE_FORKED && !is_swap_entry(pte_now(*mms[1]))) return false;
    }
    if (caps & C_PMD) return pmd_trans_huge(pmd) && (cell.state != S_THP_PINNED || state_pin);
    if (caps & C_PTE_THP) return pmd_table(pmd) && PageCompound(p);
    if (caps & C_KSM) return PageKsm(p);
    if (caps & C_FILE) return p == file;
    return PageAnon(p) && !PageCompound(p) && !PageKsm(p);
  }

  // ---- the race ------------------------------------------------------------
  void step(actor &a) override {
    side &s = sides[a.role & 1];
    const unsigned op = a.role == 0 ? cell.path : cell.racer;
    run_op(a, s, op);
  }

  void write_own(actor &a, side &s, unsigned mm) {
    uint64_t v = token(0x10 + a.role, mm, a.role, a.iteration);
    if (access(a, *mms[mm], addr, mm, true, &v))
      s.wrote[mm] = v;
    else
      s.failed = true;
  }
  void read_word(actor &a, side &s, unsigned mm, unsigned word) {
    uint64_t v = 0;
    if (!access(a, *mms[mm], addr, word, false, &v)) {
      s.failed = true;
      return;
    }
    s.read_val = v;
    s.read_mm = mm;
  }
  void pin(actor &a, side &s, unsigned flags, bool fast) {
    page *pg = nullptr;
    const long n = fast ? pin_user_pages_fast(a.env, mm0(), addr, 1, flags, &pg)
                        : pin_user_pages(a.env, mm0(), addr, 1, flags, &pg);
    if (n != 1) return;
    s.pin = pg;
    s.pin_ro = !(flags & FOLL_WRITE);
    s.pin_longterm = flags & FOLL_LONGTERM;
    s.pin_anon = PageAnon(pg);
  }

  void run_op(actor &a, side &s, unsigned op) NO_THREAD_SAFETY_ANALYSIS {
    stress_env &env = a.env;
    switch (op) {
      case O_FORK:
        dup_mmap(env, *mms[2], mm0());
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
        if (get_user_pages_fast(env, *mms[mm], addr, 1, write ? unsigned{FOLL_WRITE} : 0u, &pg) !=
            1)
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
  bool gone(unsigned mm) const {
    if (mm == 1 && !child) return true;
    if (mm == 2 && cell.path != O_FORK && cell.racer != O_FORK) return true;
    return sides[0].gone[mm] || sides[1].gone[mm];
  }
  bool discarded(unsigned mm) const { return sides[0].discard[mm] || sides[1].discard[mm]; }
  bool wrote_in_race(unsigned mm) const { return sides[0].wrote[mm] || sides[1].wrote[mm]; }

  // May mm read v at word w after the race? Its own word: its last write
  // (either role's, the two raced) or, unwritten, the set-up's value; any
  // other word: the set-up's value (a fork snapshot of the parent may hold
  // the parent's write of the race). A zapped page reads 0.
  // What a zapped page reads afterwards: zeroes, or the page cache's
  // contents in a private file mapping.
  uint64_t after_zap(unsigned w) const { return addr == A_FILE ? token(kFileTag, 0, 0, w) : 0; }
  bool allowed(unsigned mm, unsigned w, uint64_t v) const {
    if (discarded(mm) && v == after_zap(w)) return true;
    if (mm == 2 && discarded(0) && v == after_zap(w)) return true;  // forked from a zapped page
    if (w == mm) {
      if (!wrote_in_race(mm)) return v == init[w];
      return v == sides[0].wrote[mm] || v == sides[1].wrote[mm];
    }
    if (v == init[w]) return true;
    return mm == 2 && w == 0 && (v == sides[0].wrote[0] || v == sides[1].wrote[0]);
  }
  void judge(unsigned mm, unsigned w, uint64_t v, const char *when) {
    if (allowed(mm, w, v)) return;
    char detail[192];
    std::snprintf(detail, sizeof detail, "%s: mm %u word %u reads %016" PRIx64, when, mm, w, v);
    const bool foreign =
        token_mm(v) != mm && token_tag(v) != kSetupTag && token_tag(v) != kFileTag && v;
    if (w != mm && foreign)
      report_violation("data-leak", -1,
                       std::string(detail) + " (another mm's write after the fork)");
    else
      report_violation("data-lost", -1,
                       std::string(detail) + " (not the last value this mm wrote there)");
  }

  // The R/O pin's promise: the device sees the process's later writes.
  // Anon pages from 5.19 (the whole point of PG_anon_exclusive; v5.18
  // breaks it); a page-cache page only for FOLL_LONGTERM from 6.2
  // (84209e87c696): before, a R/O pin of one made no such promise.
  bool ro_pin_promised(const actor &a, const side &s) const {
    return s.pin_anon || (s.pin_longterm && a.env.proto.at_least(generation::v6_2));
  }

  outcome check(actor &a) override {
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
                        v == sides[1].wrote[s.read_mm] ||
                        (v == after_zap(0) && discarded(s.read_mm));
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

  void check_pin(actor &a, page *pg, bool ro, bool promised, bool live, uint64_t later) {
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
  bool check_pin_mapped_at(page *pg) {
    if (mapped_pfn(mm0(), addr) == static_cast<long>(pg->pfn)) return true;
    report_violation("I2", pg->pfn, "pinned page no longer mapped at its address");
    return false;
  }
  // O_DIRECT: the I/O lands through the reference, the process reads it.
  void check_odirect(actor &a, page *ref, bool live) {
    if (!live) return;
    const uint64_t dma = token(kDevTag, 0, 1, a.iteration);
    m.mem.write_word(ref->pfn, kDmaWord, dma);
    uint64_t v = 0;
    if (access(a, mm0(), addr, kDmaWord, false, &v) && v != dma)
      report_violation("I2-odirect", ref->pfn,
                       "O_DIRECT write lost: the process maps another page");
  }
  void check_ref(actor &a, side &s, bool live0, const uint64_t *later) {
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
  void release(actor &a) {
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

  // Which labelled steps of the racer fell inside which window of the
  // path: role 1's event at t lies in role 0's window [label, next label).
  bool overlapped_now = false;
  void window_stats() {
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

  void reset(actor &a) override {
    teardown_mms(a);
    for (side &s : sides) s.clear();
    reach(a);
  }
  void teardown_mms(actor &a) {
    finish_migration(a);
    for (auto &mm : mms)
      if (mm) {
        exit_mmap(a.env, *mm);
        mm.reset();
      }
    reclaim_orphan_swap_cache(a.env);
  }
  void teardown(actor &a) override {
    release(a);
    teardown_mms(a);
    a.env.put_page(file);
    a.env.put_page(kpage);
  }
  void collect(cell_result &res) const override {
    res.reached += nr_reached;
    res.overlapped += nr_overlapped;
    for (const auto &[k, n] : overlaps) res.overlaps[std::string(k.first) + "|" + k.second] += n;
  }
};

std::vector<scenario> build_scenarios() {
  std::vector<scenario> out;
  const auto &cells = coverage_cells();
  for (unsigned i = 0; i < cells.size(); i++) {
    if (!cells[i].feasible) continue;
    scenario s{};
    s.name = cells[i].name.c_str();
    s.description = "generated from the coverage model";
    s.actors = "path,racer";
    s.oracle = "conservation data-lost data-leak I1..I7 I2-data I2-odirect";
    s.nr_roles = 2;
    s.free_kinds = 0;
    s.inject_default = false;
    s.make = nullptr;
    s.cell = static_cast<int>(i);
    out.push_back(s);
  }
  return out;
}

}  // namespace

const std::vector<cov_axis> &coverage_states() {
  static const std::vector<cov_axis> v = [] {
    std::vector<cov_axis> out;
    for (const auto &s : kStates) out.push_back(s.axis);
    return out;
  }();
  return v;
}

const std::vector<cov_axis> &coverage_ops() {
  static const std::vector<cov_axis> v = [] {
    std::vector<cov_axis> out;
    for (const auto &o : kOps) out.push_back(o.axis);
    return out;
  }();
  return v;
}

unsigned coverage_nr_paths() { return NR_PATHS; }

const std::vector<cov_cell> &coverage_cells() {
  static const std::vector<cov_cell> cells = build_cells();
  return cells;
}

const std::vector<scenario> &coverage_scenarios() {
  static const std::vector<scenario> s = build_scenarios();
  return s;
}

std::unique_ptr<lockstep_instance> make_coverage_instance(machine &m, unsigned cell) {
  return std::make_unique<coverage_instance>(m, coverage_cells()[cell]);
}

coverage_test_hooks &coverage_hooks() {
  static coverage_test_hooks h;
  return h;
}

}  // namespace anonx::stress
