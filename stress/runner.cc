// SPDX-License-Identifier: GPL-2.0-only
// runner.cc: runs one cell: builds the groups (one machine each), starts
// one thread per simulated CPU, drives lockstep iterations or free mode,
// and sums the per-thread statistics at the end.
#include <malloc.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <mutex>
#include <optional>

#include "coverage.h"
#include "stress.h"

namespace anonx::stress {
namespace {

using clk = std::chrono::steady_clock;

struct group {
  std::unique_ptr<machine> m;
  std::unique_ptr<lockstep_instance> inst;
  std::unique_ptr<iteration_handshake> hs;
  std::atomic<bool> stop{false};
  // Outcome histogram, role 0 only: keyed by the name's address and whether
  // a violation was reported in the iteration (no allocation per iteration).
  struct bucket {
    const char *name;
    bool violated;
    grade g;
    uint64_t count;
  };
  std::vector<bucket> outcomes;
  align_point align;
  std::vector<actor *> members;  // by role
  // check()'s reports, held back until role 0 knows the iteration ran
  violation_sink held;
  conservation_audit audit;       // role 0, between iterations
  std::vector<owned_ref> owners;  // its scratch
};

// Did any role's access fail since the last grading? Role 0 reads the
// others' flags after their done (acquire), clears them before its go.
bool group_access_failed(const group &g) {
  for (const actor *m : g.members)
    if (m->access_failed) return true;
  return false;
}

void init_actor(actor &a, const cell_spec &spec, machine *m, unsigned cpu, unsigned role,
                uint64_t salt) {
  a.env.proto = spec.proto;
  a.env.m = m;
  a.env.cpu = cpu;
  a.env.stats = &a.stats;
  a.env.hooks = &a.hooks;
  a.role = role;
  a.r = rng(spec.seed * 1000003 + salt);
  a.hooks.r = rng(spec.seed * 7919 + salt + 17);
  a.hooks.enabled = spec.inject;
  a.hooks.allow_sleep = spec.md == mode::free;
  a.env.fail_seed = spec.seed * 0x9E3779B97F4A7C15ull + salt * 0xBF58476D1CE4E5B9ull + 1;
}

void lockstep_thread(const cell_spec &spec, group &g, actor &a, violation_sink &sink,
                     std::atomic<bool> &cell_stop, clk::time_point t0) {
  this_cpu_report() = {&sink, static_cast<int>(a.env.cpu), 0};
  lockstat *prof = spec.profile ? &a.profile : nullptr;
  set_this_cpu_lockstat(prof);
  // The harness's own waits (the rendezvous) and the steps, timed apart
  // from the paths' waits, in one iteration of kHoldSampleEvery (the step's
  // time scaled up by as much): clock reads on every iteration would cost
  // the fastest cells more than the profile may.
  bool timed = false;
  auto timed_wait = [&timed, prof](auto &&wait) {
    if (!timed) return wait();
    const uint64_t t0 = lockstat_ticks();
    wait();
    prof->rendezvous_wait.record(ticks_to_ns(lockstat_ticks() - t0));
  };
  lockstep_instance &inst = *g.inst;
  if (a.role == 0) inst.setup(a);
  a.hooks.align = &g.align;
  a.hooks.align_label = inst.align_label(a.role);
  a.hooks.align_jitter = inst.align_jitter(a.role);
  a.hooks.role = a.role;
  a.hooks.recorder = inst.recorder(a.role);
  const unsigned jitter = inst.jitter(a.role);  // constant per cell
  const auto deadline = t0 + std::chrono::duration<double>(spec.duration_s);
  const bool tso_reorder =
      spec.proto.mut != mutant::none && visible_on(info(spec.proto.mut), spec.proto.plat);
  uint64_t it = 0;
  uint64_t before = 0;
  for (;;) {
    timed = prof && it % kHoldSampleEvery == 0;
    if (a.role == 0) {
      bool stop = cell_stop.load(std::memory_order_relaxed) || stop_signal();
      if ((it & 31) == 0 && it >= spec.min_iterations && clk::now() >= deadline) stop = true;
      if (spec.iterations && it >= spec.iterations) stop = true;
      before = sink.total();
      if (spec.stop_on_first && before) stop = true;
      if (stop) {
        g.stop.store(true, std::memory_order_relaxed);
        cell_stop.store(true, std::memory_order_relaxed);
      }
      g.hs->go(it + 1);  // release: the reset state and g.stop
    } else {
      timed_wait([&] { g.hs->wait_go(it + 1); });
    }
    if (g.stop.load(std::memory_order_relaxed)) break;
    a.iteration = it;
    const preempt_plan plan = preempt_plan::of(spec.seed, it, spec.preempt);
    a.hooks.begin_step(it + 1, plan);
    // In a scheduled interleaving the two roles no longer overlap in time,
    // so the hardware's store buffer cannot act across the preemption: the
    // model's one-entry x86-TSO store buffer does, for the mutants whose
    // plain store x86 may hold past a later load (x86-visible ones only:
    // weaker reorderings stay out of the stress harness).
    a.env.proto.reorder = a.env.proto.tso_locked_drain = plan.role >= 0 && tso_reorder;
    this_cpu_report().iteration = it;
    spin_for(a.r.below(jitter + 1));
    for (unsigned n = a.r.below(64); n; n--) barrier();  // fine-grained offset
    a.hooks.at("STEP");  // label 0 of every step: a role may be parked before it starts
    const uint64_t step_t0 = timed ? lockstat_ticks() : 0;
    a.env.fail_one_in = spec.fail_alloc;  // the racing step only: set-up, check and reset
    inst.step(a);                         // must not fail (an iteration would not run)
    a.env.fail_one_in = 0;
    if (timed) prof->step_ns += kHoldSampleEvery * ticks_to_ns(lockstat_ticks() - step_t0);
    a.env.drain_store_buffer();  // the step is over: its stores are visible
    a.env.proto.reorder = a.env.proto.tso_locked_drain = false;  // grading, reset: no buffer
    a.count_op();
    a.hooks.end_step();
    if (a.role != 0) {
      g.hs->done(a.role, it + 1);  // release: this step's effects
    } else {
      timed_wait([&] { g.hs->wait_done(it + 1); });
      // The check's reports go to g.held: an iteration whose set-up, step
      // or check could not access the page is INCONCLUSIVE, and what its
      // check saw is no catch. Reports made inside the step (a committed
      // pin's I1) stand either way.
      this_cpu_report().sink = &g.held;
      outcome o = inst.check(a);
      this_cpu_report().sink = &sink;
      const bool ran = !group_access_failed(g);
      if (g.held.total()) {
        if (ran) sink.absorb(g.held);
        g.held.reset();
      }
      // Conservation, at every reset: whatever the step and the check did,
      // the machine's references, pins, frames and slots add up.
      g.owners.clear();
      inst.owned(g.owners);
      g.audit.run(*g.m, g.owners, a.env.has_anon_exclusive());
      const bool violated = sink.total() > before;
      if (violated)
        o.g = grade::forbidden;
      else if (!ran)
        o = {"inconclusive", grade::inconclusive};
      else if (o.g == grade::forbidden)
        report_violation((std::string("forbidden:") + o.name).c_str(), -1, "forbidden outcome");
      // Cleared only when set: an iteration that ran writes no other role's line.
      if (!ran)
        for (actor *m : g.members) m->access_failed = false;
      auto it_b = std::find_if(g.outcomes.begin(), g.outcomes.end(), [&](const group::bucket &b) {
        return b.name == o.name && b.violated == violated;
      });
      if (it_b == g.outcomes.end())
        g.outcomes.push_back({o.name, violated, o.g, 1});
      else
        it_b->count++;
      inst.reset(a);
    }
    ++it;
  }
  if (a.role == 0) inst.teardown(a);
  set_this_cpu_lockstat(nullptr);
}

// A group and its machine, without its actors (run_cell binds them).
std::unique_ptr<group> make_group(const cell_spec &spec, const cell_shape &s, unsigned spin_us) {
  auto g = std::make_unique<group>();
  g->m = std::make_unique<machine>(spec.frames, 2, s.roles, 64, 2048);
  if (s.lockstep) {
    g->inst = spec.sc->cell >= 0
                  ? make_coverage_instance(*g->m, static_cast<unsigned>(spec.sc->cell))
                  : spec.sc->make(*g->m);
    g->hs = std::make_unique<iteration_handshake>(s.roles, spin_us);
    g->align.spin_us = spin_us;
  }
  return g;
}

// The running cells, for running_cells(). A cell registers once its
// threads run and leaves before its actors are freed; the registry's lock
// is taken twice a cell and by the monitor a few times a second, never on
// the hot path.
struct live_cell {
  const cell_spec *spec;
  clk::time_point t0;
  const actor *actors;
  unsigned nthreads;
  const violation_sink *sink;
};
std::mutex live_mu;
std::vector<const live_cell *> live_cells;

struct live_registration {
  explicit live_registration(const live_cell &c) : cell(c) {
    std::lock_guard<std::mutex> g(live_mu);
    live_cells.push_back(&cell);
  }
  ~live_registration() {
    std::lock_guard<std::mutex> g(live_mu);
    live_cells.erase(std::find(live_cells.begin(), live_cells.end(), &cell));
  }
  const live_cell &cell;
};

// The sanitizers' allocators are not malloc's arenas: mallinfo2 would not
// see their blocks.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define ANONX_SANITIZER_HEAP 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define ANONX_SANITIZER_HEAP 1
#endif
#endif
#ifdef ANONX_SANITIZER_HEAP
extern "C" size_t __sanitizer_get_current_allocated_bytes();
size_t heap_in_use() { return __sanitizer_get_current_allocated_bytes(); }
#else
size_t heap_in_use() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}
#endif

}  // namespace

cell_shape shape_of(const cell_spec &spec) {
  cell_shape s;
  s.lockstep = spec.md == mode::lockstep && spec.sc->lockstep();
  s.roles = s.lockstep ? spec.sc->nr_roles : std::max(1u, spec.threads);
  s.groups = s.lockstep ? std::max(1u, spec.threads / s.roles) : 1;
  s.threads = s.groups * s.roles;
  return s;
}

size_t group_bytes(const cell_spec &spec) {
  const size_t before = heap_in_use();
  const auto g = make_group(spec, shape_of(spec), 0);
  const size_t after = heap_in_use();
  return after > before ? after - before : sizeof(group) + sizeof(machine);
}

std::vector<running_cell> running_cells() {
  std::vector<running_cell> out;
  std::lock_guard<std::mutex> g(live_mu);
  const auto now = clk::now();
  for (const live_cell *c : live_cells) {
    running_cell r{c->spec->sc->name,
                   generation_name(c->spec->proto.gen),
                   mutant_name(c->spec->proto.mut),
                   c->nthreads,
                   c->spec->seed,
                   c->spec->duration_s,
                   std::chrono::duration<double>(now - c->t0).count(),
                   0,
                   c->sink->total()};
    for (unsigned i = 0; i < c->nthreads; i++)
      r.ops += c->actors[i].live_ops.load(std::memory_order_relaxed);
    out.push_back(r);
  }
  return out;
}

cell_result run_cell(const cell_spec &spec) {
  cell_result res;
  res.spec = spec;
  if (spec.profile)
    (void)lockstat_ns_per_tick();  // the clock's factor, measured once, not in a path
  const cell_shape shape = shape_of(spec);
  const bool lockstep = shape.lockstep;
  if (!lockstep) res.spec.md = mode::free;
  const unsigned roles = shape.roles;
  const unsigned ngroups = shape.groups;
  const unsigned nthreads = shape.threads;
  const unsigned spin_us = spin_budget_us(cell_cpus(spec.cpus), nthreads);
  res.spec.threads = nthreads;

  std::vector<std::unique_ptr<group>> groups;
  std::unique_ptr<actor[]> actors(new actor[nthreads]);
  for (unsigned gi = 0; gi < ngroups; gi++) {
    auto g = make_group(spec, shape, spin_us);
    for (unsigned r = 0; r < roles; r++) {
      init_actor(actors[gi * roles + r], spec, g->m.get(), r, r, gi * roles + r);
      g->members.push_back(&actors[gi * roles + r]);
    }
    groups.push_back(std::move(g));
  }

  violation_sink sink;
  sink.disable(spec.disabled_checks);
  for (auto &g : groups) g->held.disable(spec.disabled_checks);
  std::atomic<bool> cell_stop{false};
  const auto t0 = clk::now();
  const live_cell me{&spec, t0, actors.get(), nthreads, &sink};
  std::optional<live_registration> registered(std::in_place, me);
  std::vector<std::thread> threads;
  if (lockstep) {
    for (unsigned gi = 0; gi < ngroups; gi++)
      for (unsigned r = 0; r < roles; r++) {
        actor &a = actors[gi * roles + r];
        group &g = *groups[gi];
        threads.emplace_back([&spec, &g, &a, &sink, &cell_stop, t0] {
          lockstep_thread(spec, g, a, sink, cell_stop, t0);
        });
        if (!spec.cpus.empty())
          pin_to_cpu(threads.back().native_handle(),
                     spec.cpus[(gi * roles + r) % spec.cpus.size()]);
      }
  } else {
    std::vector<actor *> list;
    for (unsigned i = 0; i < nthreads; i++) list.push_back(&actors[i]);
    std::thread driver([&] { run_free_group(spec, list, cell_stop, sink); });
    const auto deadline = t0 + std::chrono::duration<double>(spec.duration_s);
    while (clk::now() < deadline && !(spec.stop_on_first && sink.total()) && !stop_signal())
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    cell_stop.store(true, std::memory_order_relaxed);
    driver.join();
  }
  for (auto &t : threads) t.join();
  res.elapsed_s = std::chrono::duration<double>(clk::now() - t0).count();
  registered.reset();
  // Conservation at teardown, in every mode: every mm has exited, so every
  // frame and every swap slot is free again.
  this_cpu_report() = {&sink, -1, 0};
  for (unsigned gi = 0; gi < ngroups; gi++) {
    group &g = *groups[gi];
    if (g.inst) {
      g.inst->collect(res);
      g.inst.reset();  // its owned pages went back in its teardown
    }
    reclaim_orphan_swap_cache(actors[gi * roles].env);
    conservation_audit::audit_empty(*g.m);
  }

  for (unsigned i = 0; i < nthreads; i++) {
    res.per_thread_ops.push_back(actors[i].stats.ops);
    res.totals.add(actors[i].stats);
    res.profile.add(actors[i].profile);
  }
  res.ops = res.totals.ops;
  for (auto &g : groups) {
    for (auto &b : g->outcomes) {  // one outcome per lockstep iteration
      res.iterations += b.count;
      auto &slot = res.outcomes[std::string(b.name) + (b.violated ? "+violation" : "")];
      slot.first += b.count;
      slot.second = b.g;
      if (b.g == grade::inconclusive) res.inconclusive += b.count;
    }
  }
  if (!lockstep) res.iterations = res.ops;
  res.interrupted = stop_signal() && res.elapsed_s < spec.duration_s &&
                    !(spec.stop_on_first && sink.total()) &&
                    !(spec.iterations && res.iterations >= spec.iterations);
  res.violations = sink.records();
  res.violation_count = sink.total();
  for (auto &v : res.violations)
    if (res.time_to_detect_s < 0 || v.time_s < res.time_to_detect_s)
      res.time_to_detect_s = v.time_s;
  return res;
}

}  // namespace anonx::stress
