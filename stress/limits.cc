// SPDX-License-Identifier: GPL-2.0-only
// limits.cc: the machine's limits (memory, threads, CPUs), checked before any work.
#include "frontend.h"

namespace anonx::stress::cmd {

// ---- limits, checked before any work ---------------------------------------

long long read_number(const char *path) {
  std::ifstream f(path);
  long long x = -1;
  return f >> x ? x : -1;
}

double mem_available_bytes() {
  std::ifstream f("/proc/meminfo");
  std::string key, rest;
  long long kib = 0;
  while (f >> key >> kib && std::getline(f, rest))
    if (key == "MemAvailable:") return kib * 1024.0;
  return -1;
}

// Every thread of every process now (the kernel's count, /proc/loadavg's
// fourth field): threads-max and pid_max bound them all, not ours alone.
long long threads_in_use() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c, rt;
  if (!(f >> a >> b >> c >> rt)) return -1;
  const auto slash = rt.find('/');
  return slash == std::string::npos ? -1 : std::atoll(rt.c_str() + slash + 1);
}

std::string fmt_bytes(double b) {
  char s[32];
  if (b >= 1024.0 * 1024 * 1024)
    std::snprintf(s, sizeof s, "%.1f GiB", b / (1024.0 * 1024 * 1024));
  else if (b >= 1024.0 * 1024)
    std::snprintf(s, sizeof s, "%.1f MiB", b / (1024.0 * 1024));
  else
    std::snprintf(s, sizeof s, "%.1f KiB", b / 1024.0);
  return s;
}

// Each group has its own machine (memmap, contents, page tables, swap), so
// memory grows with --threads / roles x --frames: a run that cannot fit is
// refused here, with the estimate, rather than found by the OOM killer.
// The group's bytes are measured (group_bytes builds one), not assumed;
// thread stacks are not counted (virtual, a few KiB of them touched).
void check_limits(const options &o) {
  std::vector<cell_spec> cells;
  if (o.kill_matrix) {
    for (auto &s : scenarios())
      if (s.make) cells.push_back(km_cell(o, &s, o.proto, 0, o.budget));
  } else {
    for (const scenario *s : o.scens) cells.push_back(base_cell(o, s));
  }
  const unsigned per_cell = o.kill_matrix ? 2 : std::max(2u, o.threads);
  const unsigned conc = std::max(1u, cell_cpus(o.cpus) / per_cell);
  std::map<std::pair<const scenario *, unsigned>, size_t> measured;
  double cell_bytes = 0;
  unsigned cell_threads = 0;
  cell_shape worst{};
  size_t worst_group = 0;
  for (auto &c : cells) {
    const cell_shape sh = shape_of(c);
    // The machine is the bulk and depends only on the roles; the lockstep
    // state differs by scenario.
    auto &gb = measured[{sh.lockstep ? c.sc : nullptr, sh.roles}];
    if (!gb) gb = group_bytes(c);
    const double bytes = static_cast<double>(sh.groups) * gb + double(sh.threads) * sizeof(actor);
    if (bytes > cell_bytes) cell_bytes = bytes, worst = sh, worst_group = gb;
    cell_threads = std::max(cell_threads, sh.threads + (sh.lockstep ? 0 : 1));  // free: its driver
  }
  const double need_bytes = conc * cell_bytes;
  // The cells' threads, the arena's workers (the main thread is one), the monitor.
  const long long need_threads = static_cast<long long>(conc) * cell_threads + conc + 1;

  const double avail = mem_available_bytes();
  rlimit rl{};
  const bool nproc_applies = getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
                             geteuid() != 0;  // root is not held to RLIMIT_NPROC
  const long long pid_max = read_number("/proc/sys/kernel/pid_max");
  const long long threads_max = read_number("/proc/sys/kernel/threads-max");
  const long long in_use = std::max(0LL, threads_in_use());
  const bool no_memory = avail >= 0 && need_bytes > avail;
  const bool no_threads = (nproc_applies && need_threads > static_cast<long long>(rl.rlim_cur)) ||
                          (pid_max > 0 && need_threads + in_use > pid_max) ||
                          (threads_max > 0 && need_threads + in_use > threads_max);
  if (no_memory || no_threads) {
    char b[512];
    std::snprintf(
        b, sizeof b,
        "--threads %u%s: the run needs ~%s (%s%u groups x %s measured + %u actors x %s) and %lld "
        "threads; this machine has %s available (MemAvailable), RLIMIT_NPROC %s, pid_max %lld, "
        "threads-max %lld (%lld threads in use)",
        o.threads, o.frames_given ? (" --frames " + std::to_string(o.frames)).c_str() : "",
        fmt_bytes(need_bytes).c_str(),
        conc > 1 ? (std::to_string(conc) + " cells at once x ").c_str() : "", worst.groups,
        fmt_bytes(static_cast<double>(worst_group)).c_str(), worst.threads,
        fmt_bytes(sizeof(actor)).c_str(), need_threads, avail >= 0 ? fmt_bytes(avail).c_str() : "?",
        rl.rlim_cur == RLIM_INFINITY ? "unlimited"
        : nproc_applies              ? std::to_string(rl.rlim_cur).c_str()
                                     : (std::to_string(rl.rlim_cur) + " (not for root)").c_str(),
        pid_max, threads_max, in_use);
    bad(b);
  }
  const unsigned allowed = cpus_allowed();
  if (!o.kill_matrix && o.threads > allowed)
    std::fprintf(stderr,
                 "anonx-stress: warning: --threads %u on %u allowed CPUs: the threads time-share "
                 "them (waits yield), so rates drop and windows meet less often\n",
                 o.threads, allowed);
}

}  // namespace anonx::stress::cmd
