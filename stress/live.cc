// SPDX-License-Identifier: GPL-2.0-only
// live.cc: running jobs with live output: the progress line on a terminal, plain
// stat lines off one, checkpoints of the JSON report, the verdict line after a stop.
#include "frontend.h"

namespace anonx::stress::cmd {

// ---- live runs: progress inside a cell, stat lines, checkpoints ----------

std::string fmt_duration(double s) {
  char b[32];
  const long x = static_cast<long>(s + 0.5);
  if (x < 100)
    std::snprintf(b, sizeof b, "%ld s", x);
  else if (x < 3600)
    std::snprintf(b, sizeof b, "%ldm%02lds", x / 60, x % 60);
  else
    std::snprintf(b, sizeof b, "%ldh%02ldm", x / 3600, x / 60 % 60);
  return b;
}

const char *signal_name(int sig) {
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

// A thread that wakes every 250 ms while run_jobs runs and reads only
// atomics (running_cells) and progress under its lock: the live line on a
// terminal, the stat lines, the checkpoints. The cells' threads never wait
// for it.
class live_monitor {
 public:
  explicit live_monitor(progress &pg) : pg_(pg), t0_(std::chrono::steady_clock::now()) {
    const live_state &l = pg.live;
    if (l.line || l.stat_interval > 0 || l.checkpoint > 0) th_ = std::thread([this] { loop(); });
  }
  ~live_monitor() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    if (th_.joinable()) th_.join();
    if (drawn_) std::fputc('\n', stderr);
  }

 private:
  struct snapshot {
    double t = 0;
    size_t done = 0, total = 0;
    uint64_t violations = 0;
    double left = 0;
    std::vector<running_cell> running;
  };

  snapshot take() const {
    snapshot s;
    s.t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    s.running = running_cells();
    {
      std::lock_guard<std::mutex> g(pg_.mu);
      s.done = pg_.done;
      s.total = pg_.total;
      s.violations = pg_.violations;
      s.left = pg_.seconds_left;
    }
    // The running cells' elapsed time is already behind them.
    for (auto &r : s.running) {
      s.violations += r.violations;
      s.left -= std::min(r.elapsed_s, r.duration_s) / pg_.live.conc;
    }
    s.left = std::max(0.0, s.left);
    return s;
  }

  static double ops_rate(const snapshot &s) {
    double x = 0;
    for (auto &r : s.running) x += r.ops / std::max(1e-3, r.elapsed_s);
    return x;
  }

  // One terminal line, cut to the terminal's width: a line that wraps
  // cannot be redrawn with \r.
  void draw(const snapshot &s) {
    char b[256];
    if (s.running.empty()) {
      std::snprintf(b, sizeof b, "[%zu/%zu] %" PRIu64 " viol  ~%s left", s.done, s.total,
                    s.violations, fmt_duration(s.left).c_str());
    } else {
      const running_cell &r = s.running.front();
      std::snprintf(b, sizeof b, "[%zu/%zu] %s %.0f/%.0f s  %s ops/s  %" PRIu64 " viol  ~%s left",
                    s.done + s.running.size(), s.total, r.scenario, r.elapsed_s, r.duration_s,
                    fmt_rate(ops_rate(s)).c_str(), s.violations, fmt_duration(s.left).c_str());
    }
    std::string line = b;
    winsize ws{};
    if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && line.size() >= ws.ws_col)
      line.resize(ws.ws_col - 1);
    std::fprintf(stderr, "\r%s\33[K", line.c_str());
    std::fflush(stderr);
    drawn_ = true;
  }

  // A plain line a log keeps, as rcutorture's periodic statistics.
  void stat_line(const snapshot &s) {
    std::string cells;
    for (auto &r : s.running) {
      char b[160];
      std::snprintf(b, sizeof b, "%s%s %s %s %.1f/%.0f s", cells.empty() ? "" : ", ", r.scenario,
                    r.protocol, r.mutant, r.elapsed_s, r.duration_s);
      cells += b;
    }
    uint64_t ops = 0;
    for (auto &r : s.running) ops += r.ops;
    std::fprintf(stderr,
                 "%sanonx-stress: %.0f s: %zu/%zu cells done; running: %s; %" PRIu64
                 " ops, %s ops/s; %" PRIu64 " violations; ~%s left\n",
                 drawn_ ? "\r\33[K" : "", s.t, s.done, s.total, cells.empty() ? "-" : cells.c_str(),
                 ops, fmt_rate(ops_rate(s)).c_str(), s.violations, fmt_duration(s.left).c_str());
    std::fflush(stderr);
  }

  void checkpoint(const snapshot &s) {
    std::vector<cell_result> finished;
    {
      std::lock_guard<std::mutex> g(pg_.live.mu);
      finished = pg_.live.finished;
    }
    try {
      pg_.live.write_checkpoint(finished, s.running);
    } catch (const std::exception &e) {
      if (!ckpt_warned_) std::fprintf(stderr, "anonx-stress: warning: checkpoint: %s\n", e.what());
      ckpt_warned_ = true;
    }
  }

  void loop() {
    const live_state &l = pg_.live;
    double next_stat = l.stat_interval, next_ckpt = l.checkpoint;
    std::unique_lock<std::mutex> lk(mu_);
    while (!cv_.wait_for(lk, std::chrono::milliseconds(250), [this] { return stop_; })) {
      const snapshot s = take();
      if (l.stat_interval > 0 && s.t >= next_stat) {
        stat_line(s);
        while (next_stat <= s.t) next_stat += l.stat_interval;
      }
      if (l.line) draw(s);
      // Once stopping, the final report comes within moments.
      if (l.checkpoint > 0 && s.t >= next_ckpt && !stop_signal()) {
        checkpoint(s);
        while (next_ckpt <= s.t) next_ckpt += l.checkpoint;
      }
    }
  }

  progress &pg_;
  const std::chrono::steady_clock::time_point t0_;
  std::thread th_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool drawn_ = false;  // monitor thread, then the destructor after the join
  bool ckpt_warned_ = false;
};

// Runs the jobs, as many at once as the cells' CPUs hold (a task_arena of
// cell_cpus / threads per cell), and returns their cells' results in job
// order.
std::vector<cell_result> run_jobs(const std::vector<job> &jobs, progress &pg,
                                  const std::vector<int> &affinity, unsigned threads_per_cell) {
  const int conc =
      static_cast<int>(std::max(1u, cell_cpus(affinity) / std::max(1u, threads_per_cell)));
  pg.total = jobs.size();
  for (auto &j : jobs) pg.seconds_left += j.expect_s;
  pg.seconds_left /= conc;
  pg.live.conc = static_cast<unsigned>(conc);
  live_monitor monitor(pg);
  std::vector<std::vector<cell_result>> job_results(jobs.size());
  tbb::task_arena arena(conc);
  arena.execute([&] {
    tbb::parallel_for(
        size_t(0), jobs.size(),
        [&](size_t i) {
          double spent = 0;
          for (auto &c : jobs[i].cells) {
            if (stop_signal()) {  // a stopped run starts no cell
              if (!job_results[i].empty()) job_results[i].back().interrupted = true;
              break;
            }
            cell_result r = run_cell(c);
            if (r.violation_count) r.time_to_detect_s += spent;
            spent += r.elapsed_s;
            const bool killed = r.violation_count > 0;
            pg.live.cell_done(r);
            job_results[i].push_back(std::move(r));
            if (killed) break;
          }
          if (job_results[i].empty()) return;
          pg.update(job_results[i].back(), jobs[i].expect_s / conc);
        },
        tbb::simple_partitioner());
  });
  std::vector<cell_result> results;
  for (auto &jr : job_results)
    for (auto &r : jr) results.push_back(std::move(r));
  return results;
}

// A report's head: schema, whether it is a checkpoint, whether a signal
// stopped the run (and which), context, then the runs; the caller adds the
// rest (the running cells, the kill matrix).
json report_head(const options &o, bool checkpoint, const std::vector<cell_result> &results) {
  json j = {{"schema", "anonx-stress/1"},
            {"checkpoint", checkpoint},
            {"interrupted", !checkpoint && stop_signal() != 0}};
  if (!checkpoint && stop_signal()) j["signal"] = signal_name(stop_signal());
  j["context"] = context(o);
  j["runs"] = json::array();
  for (auto &r : results) j["runs"].push_back(run_json(r));
  if (o.profile) j["profile"] = profile_total(results);
  return j;
}

bool in_shard(const options &o, size_t index) { return index % o.shard_n == o.shard_i - 1; }

cell_spec base_cell(const options &o, const scenario *s) {
  cell_spec c;
  c.sc = s;
  c.proto = o.proto;
  c.threads = o.threads;
  c.md = o.md;
  c.inject = o.inject < 0 ? s->inject_default : o.inject == 1;
  c.preempt = o.preempt;
  c.fail_alloc = o.fail_alloc;
  c.seed = o.seed;
  c.duration_s = o.duration;
  c.iterations = o.iterations;
  c.cpus = o.cpus;
  c.frames = o.frames;
  c.stop_on_first = o.stop_on_first;
  c.disabled_checks = o.disabled_checks;
  c.profile = o.profile;
  return c;
}

// After a stop, say what the figures cover.
void report_interruption(const std::vector<cell_result> &rs) {
  if (!stop_signal()) return;
  std::string early;
  for (auto &r : rs)
    if (r.interrupted) {
      char b[160];
      std::snprintf(b, sizeof b, "%s%s %s after %.2f of %g s", early.empty() ? "" : ", ",
                    r.spec.sc->name, mutant_name(r.spec.proto.mut), r.elapsed_s, r.spec.duration_s);
      early += b;
    }
  std::printf("INTERRUPTED by %s: %zu cell%s ran%s%s; cells not started were not run\n",
              signal_name(stop_signal()), rs.size(), rs.size() == 1 ? "" : "s",
              early.empty() ? "" : ", stopped early: ", early.c_str());
}

const char *end_verdict(int rc) {
  if (!stop_signal()) return rc ? "FAILURE" : "SUCCESS";
  return rc ? "FAILURE (INTERRUPTED)" : "INTERRUPTED";
}

// A checkpoint: the report so far, rewritten (atomically) while the run
// goes on, so a run killed outright (SIGKILL, the OOM killer, a node lost)
// leaves the cells it finished and how far the running ones had got.
void write_checkpoint(const options &o, const std::vector<cell_result> &finished,
                      const std::vector<running_cell> &running) {
  json j = report_head(o, true, finished);
  j["running"] = json::array();
  for (auto &r : running)
    j["running"].push_back({{"scenario", r.scenario},
                            {"protocol", r.protocol},
                            {"mutant", r.mutant},
                            {"threads", r.threads},
                            {"seed", r.seed},
                            {"duration_s", r.duration_s},
                            {"elapsed_s", r.elapsed_s},
                            {"ops", r.ops},
                            {"ops_per_s", r.elapsed_s > 0 ? r.ops / r.elapsed_s : 0.0},
                            {"violations", r.violations}});
  j["kill_matrix"] = json::array();
  write_file(o.json_path, j);
}

// The live output and checkpoints a run gets from its options.
void setup_live(progress &pg, const options &o) {
  pg.live.line = pg.tty && !o.quiet;
  // Off a terminal, stat lines by default show a long run is alive;
  // --quiet drops them, unless --stat-interval asks for them by name.
  pg.live.stat_interval = o.stat_interval >= 0 ? o.stat_interval : (pg.tty || o.quiet ? 0 : 60);
  pg.live.checkpoint = o.json_path.empty() ? 0 : o.checkpoint >= 0 ? o.checkpoint : 60;
  pg.live.write_checkpoint = [&o](const std::vector<cell_result> &f,
                                  const std::vector<running_cell> &r) {
    write_checkpoint(o, f, r);
  };
}

}  // namespace anonx::stress::cmd
